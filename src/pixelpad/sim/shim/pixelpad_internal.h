/* What pixelpad_shim.c shares with pixelpad_sdl.c; hidden from the game's symbol lookup. */
#ifndef PIXELPAD_INTERNAL_H
#define PIXELPAD_INTERNAL_H

#include "pixelpad_shim.h"

#define PP_HIDDEN __attribute__((visibility("hidden")))

PP_HIDDEN extern struct pp_shared *g; /* the shared page, once active() */
PP_HIDDEN extern int g_want_pad;      /* PIXELPAD_PAD=1: attach the virtual controller */
PP_HIDDEN int active(void);           /* 1 when a controller page is mapped */

#endif
