/* A tiny SDL2 game for the simulator tests. Each frame it draws, as rows of 8x8 black/white bit
 * cells at the top of the window, numbers the tests read back from the screen:
 *   row 0: frames drawn          row 1: ticks of a 7 ms SDL_Delay timer thread
 *   row 2: virtual controller buttons pressed (SDL_GameControllerButton bits)
 *   row 3: arrow keys held (up, down, left, right, space = bits 0..4)
 *   row 4: SDL_GetTicks()        row 5: rand() seeded with time(NULL)
 *   row 6: mouse x               row 7: mouse buttons (SDL_GetMouseState mask)
 * Below, a square moves with the arrow keys / left stick, and the background changes over time. */
#include <SDL2/SDL.h>
#include <stdlib.h>
#include <time.h>

static SDL_atomic_t timer_ticks;

static int timer_thread(void *arg) {
    (void)arg;
    for (;;) {
        SDL_Delay(7);
        SDL_AtomicAdd(&timer_ticks, 1);
    }
    return 0;
}

static void draw_bits(SDL_Renderer *r, int row, Uint32 value) {
    for (int bit = 0; bit < 20; bit++) {
        int on = (value >> bit) & 1u;
        SDL_SetRenderDrawColor(r, on ? 255 : 0, on ? 255 : 0, on ? 255 : 0, 255);
        SDL_Rect cell = {bit * 8, row * 8, 8, 8};
        SDL_RenderFillRect(r, &cell);
    }
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_GAMECONTROLLER | SDL_INIT_TIMER) != 0) return 1;
    SDL_Window *win = SDL_CreateWindow("sdl_probe", 0, 0, 160, 120, 0);
    SDL_Renderer *ren = SDL_CreateRenderer(win, -1, SDL_RENDERER_SOFTWARE);
    if (!win || !ren) return 2;
    srand((unsigned)time(NULL));
    SDL_CreateThread(timer_thread, "timer", NULL);
    SDL_GameController *pad = NULL;
    Uint32 frames = 0;
    float x = 80, y = 80;
    for (;;) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev)) {
            if (ev.type == SDL_QUIT) return 0;
            if (ev.type == SDL_CONTROLLERDEVICEADDED && !pad) pad = SDL_GameControllerOpen(ev.cdevice.which);
        }
        const Uint8 *keys = SDL_GetKeyboardState(NULL);
        Uint32 keybits = keys[SDL_SCANCODE_UP] | keys[SDL_SCANCODE_DOWN] << 1 | keys[SDL_SCANCODE_LEFT] << 2 |
                         keys[SDL_SCANCODE_RIGHT] << 3 | keys[SDL_SCANCODE_SPACE] << 4;
        Uint32 padbits = 0;
        float sx = 0, sy = 0;
        if (pad) {
            for (int b = 0; b < SDL_CONTROLLER_BUTTON_MAX; b++)
                padbits |= (Uint32)SDL_GameControllerGetButton(pad, (SDL_GameControllerButton)b) << b;
            sx = SDL_GameControllerGetAxis(pad, SDL_CONTROLLER_AXIS_LEFTX) / 32767.0f;
            sy = SDL_GameControllerGetAxis(pad, SDL_CONTROLLER_AXIS_LEFTY) / 32767.0f;
        }
        x += 2 * (sx + (float)keys[SDL_SCANCODE_RIGHT] - (float)keys[SDL_SCANCODE_LEFT]);
        y += 2 * (sy + (float)keys[SDL_SCANCODE_DOWN] - (float)keys[SDL_SCANCODE_UP]);
        Uint32 ticks = SDL_GetTicks();
        SDL_SetRenderDrawColor(ren, (Uint8)(ticks / 10), 40, 90, 255);
        SDL_RenderClear(ren);
        SDL_SetRenderDrawColor(ren, 250, 200, 0, 255);
        SDL_Rect square = {(int)x - 6, (int)y - 6, 12, 12};
        SDL_RenderFillRect(ren, &square);
        frames++;
        draw_bits(ren, 0, frames);
        draw_bits(ren, 1, (Uint32)SDL_AtomicGet(&timer_ticks));
        draw_bits(ren, 2, padbits);
        draw_bits(ren, 3, keybits);
        draw_bits(ren, 4, ticks);
        draw_bits(ren, 5, (Uint32)rand());
        int mx = 0;
        Uint32 mouse = SDL_GetMouseState(&mx, NULL);
        draw_bits(ren, 6, (Uint32)mx);
        draw_bits(ren, 7, mouse);
        SDL_RenderPresent(ren);
        SDL_Delay(10);
    }
}
