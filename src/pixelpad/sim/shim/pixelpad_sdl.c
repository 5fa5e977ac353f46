/* The SDL side of the clock shim: a virtual game controller attached right after SDL_Init, fed from
 * the shared page on the game's own thread, and the count of presented frames. Built into the same
 * library as pixelpad_shim.c. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include "pixelpad_shim.h"
#include "pixelpad_internal.h"

/* ---------------------------------------------------------------- SDL 2 */
/* The few SDL 2 declarations used here (ABI-stable since SDL 2.24), so no SDL headers are needed. */
#define PP_SDL_INIT_JOYSTICK 0x200u
#define PP_SDL_INIT_GAMECONTROLLER 0x2000u
#define PP_SDL_JOYSTICK_TYPE_GAMECONTROLLER 1
#define PP_PAD_BUTTONS 15

typedef struct {
    uint16_t version, type, naxes, nbuttons, nhats, vendor_id, product_id, padding;
    uint32_t button_mask, axis_mask;
    const char *name;
    void *userdata;
    void (*Update)(void *userdata);
    void (*SetPlayerIndex)(void *userdata, int player_index);
    int (*Rumble)(void *userdata, uint16_t low, uint16_t high);
    int (*RumbleTriggers)(void *userdata, uint16_t left, uint16_t right);
    int (*SetLED)(void *userdata, uint8_t r, uint8_t g, uint8_t b);
    int (*SendEffect)(void *userdata, const void *data, int size);
} pp_virtual_joystick_desc;

static int32_t pad_instance = -1;

/* SDL symbols: the next definition after the shim, or SDL loaded privately (RTLD_LOCAL, e.g. by a
 * Python extension), which the global scope does not see. */
static void *sdl_sym(const char *name) {
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        void *h = dlopen("libSDL2-2.0.so.0", RTLD_LAZY | RTLD_NOLOAD);
        if (h) p = dlsym(h, name);
    }
    return p;
}

/* Called by SDL on the game's thread each time it polls joysticks: copy the controller's pad state. */
static void pad_update(void *userdata) {
    (void)userdata;
    static void *(*from_id)(int32_t);
    static int (*set_axis)(void *, int, int16_t);
    static int (*set_button)(void *, int, uint8_t);
    if (!from_id) {
        from_id = (void *(*)(int32_t))sdl_sym("SDL_JoystickFromInstanceID");
        set_axis = (int (*)(void *, int, int16_t))sdl_sym("SDL_JoystickSetVirtualAxis");
        set_button = (int (*)(void *, int, uint8_t))sdl_sym("SDL_JoystickSetVirtualButton");
    }
    void *js = from_id ? from_id(pad_instance) : NULL;
    if (!js || !set_axis || !set_button) return;
    uint32_t buttons = __atomic_load_n(&g->pad_buttons, __ATOMIC_ACQUIRE);
    for (int a = 0; a < PP_PAD_AXES; a++) set_axis(js, a, g->pad_axes[a]);
    for (int b = 0; b < PP_PAD_BUTTONS; b++) set_button(js, b, (buttons >> b) & 1u);
    __atomic_add_fetch(&g->pad_updates, 1, __ATOMIC_RELEASE);
}

static void attach_pad(void) {
    int (*num)(void) = (int (*)(void))sdl_sym("SDL_NumJoysticks");
    int (*is_virtual)(int) = (int (*)(int))sdl_sym("SDL_JoystickIsVirtual");
    int (*attach)(const pp_virtual_joystick_desc *) =
        (int (*)(const pp_virtual_joystick_desc *))sdl_sym("SDL_JoystickAttachVirtualEx");
    int32_t (*instance)(int) = (int32_t(*)(int))sdl_sym("SDL_JoystickGetDeviceInstanceID");
    if (!num || !is_virtual || !attach || !instance) return; /* SDL older than 2.24 */
    for (int i = 0, n = num(); i < n; i++)
        if (is_virtual(i)) return;
    pp_virtual_joystick_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.version = 1;
    desc.type = PP_SDL_JOYSTICK_TYPE_GAMECONTROLLER;
    desc.naxes = PP_PAD_AXES;
    desc.nbuttons = PP_PAD_BUTTONS;
    desc.button_mask = (1u << PP_PAD_BUTTONS) - 1;
    desc.axis_mask = (1u << PP_PAD_AXES) - 1;
    desc.name = "pixelpad virtual controller";
    desc.Update = pad_update;
    int index = attach(&desc);
    if (index < 0) return;
    pad_instance = instance(index);
    __atomic_store_n(&g->pad_attached, 1, __ATOMIC_RELEASE);
}

static void after_sdl_init(int result, uint32_t flags) {
    if (result == 0 && active() && g_want_pad && (flags & (PP_SDL_INIT_JOYSTICK | PP_SDL_INIT_GAMECONTROLLER)))
        attach_pad();
}

int SDL_Init(uint32_t flags) {
    static int (*real)(uint32_t);
    if (!real) real = (int (*)(uint32_t))sdl_sym("SDL_Init");
    int r = real(flags);
    after_sdl_init(r, flags);
    return r;
}

int SDL_InitSubSystem(uint32_t flags) {
    static int (*real)(uint32_t);
    if (!real) real = (int (*)(uint32_t))sdl_sym("SDL_InitSubSystem");
    int r = real(flags);
    after_sdl_init(r, flags);
    return r;
}

/* ---------------------------------------------------------------- presented frames
 * SDL 2 (GL swap, renderer present, window surface update), GLX and EGL swaps. SDL calls GLX/EGL
 * through pointers it looked up itself, so an SDL frame is not counted twice. */

static inline void count_frame(void) {
    if (active()) __atomic_add_fetch(&g->frames_presented, 1, __ATOMIC_RELEASE);
}

void SDL_GL_SwapWindow(void *window) {
    static void (*real)(void *);
    if (!real) real = (void (*)(void *))sdl_sym("SDL_GL_SwapWindow");
    real(window);
    count_frame();
}

void SDL_RenderPresent(void *renderer) {
    static void (*real)(void *);
    if (!real) real = (void (*)(void *))sdl_sym("SDL_RenderPresent");
    real(renderer);
    count_frame();
}

void glXSwapBuffers(void *display, unsigned long drawable) {
    static void (*real)(void *, unsigned long);
    if (!real) real = (void (*)(void *, unsigned long))dlsym(RTLD_NEXT, "glXSwapBuffers");
    real(display, drawable);
    count_frame();
}

int SDL_UpdateWindowSurface(void *window) {
    static int (*real)(void *);
    if (!real) real = (int (*)(void *))sdl_sym("SDL_UpdateWindowSurface");
    int r = real(window);
    count_frame();
    return r;
}

int SDL_UpdateWindowSurfaceRects(void *window, const void *rects, int n) {
    static int (*real)(void *, const void *, int);
    if (!real) real = (int (*)(void *, const void *, int))sdl_sym("SDL_UpdateWindowSurfaceRects");
    int r = real(window, rects, n);
    count_frame();
    return r;
}

unsigned int eglSwapBuffers(void *display, void *surface) {
    static unsigned int (*real)(void *, void *);
    if (!real) real = (unsigned int (*)(void *, void *))dlsym(RTLD_NEXT, "eglSwapBuffers");
    unsigned int r = real(display, surface);
    count_frame();
    return r;
}
