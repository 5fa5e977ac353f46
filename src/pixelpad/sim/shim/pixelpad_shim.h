/* Layout of the page shared between the Python controller (pixelpad.sim.clock) and the clock shim.
 *
 * Every field is naturally aligned and at a fixed offset: the controller reads and writes it with
 * struct offsets mirrored in clock.py (SHM_LAYOUT); change both together and bump PP_VERSION.
 */
#ifndef PIXELPAD_SHIM_H
#define PIXELPAD_SHIM_H

#include <stdint.h>

#define PP_MAGIC 0x50584c50u /* "PLXP" */
#define PP_VERSION 2u
#define PP_MAX_SLOTS 256
#define PP_PAD_AXES 6
#define PP_SHM_SIZE 16384

/* One game thread that has entered one of the shim's waits. A parked thread leaves only when the
 * controller sets `release` (futex word): the controller releases due threads one at a time, in
 * (deadline, ticket) order, so threads that wake at the same virtual instant run in a fixed order. */
struct pp_slot {
    int32_t tid;          /* 0: free */
    uint32_t parked;      /* 1 while the thread waits inside the shim */
    uint32_t seen_seq;    /* the advance counter when it parked */
    uint32_t kind;        /* PP_WAIT_DEADLINE or PP_WAIT_ADVANCE (a spinning thread: any advance) */
    int64_t deadline_ns;  /* virtual deadline of a PP_WAIT_DEADLINE wait */
    uint32_t release;     /* futex word: 0 while parked, set to 1 by the controller */
    uint32_t ticket;      /* order in which threads parked: breaks ties between equal deadlines */
};

#define PP_WAIT_DEADLINE 0u
#define PP_WAIT_ADVANCE 1u

struct pp_shared {
    uint32_t magic;             /* 0 */
    uint32_t version;           /* 4 */
    uint32_t seq;               /* 8: futex word, bumped by the controller on every advance */
    int32_t controller_pid;     /* 12: the game falls back to real time when it dies */
    int64_t now_ns;             /* 16: virtual nanoseconds since the start */
    uint64_t frames_presented;  /* 24: buffer swaps / render presents seen */
    uint32_t busy_limit;        /* 32: unchanged clock reads before a spinning thread is parked */
    uint32_t pad_attached;      /* 36: 1 once the SDL virtual controller is attached */
    uint32_t pad_buttons;       /* 40: bit i = SDL_GameControllerButton i */
    int16_t pad_axes[PP_PAD_AXES]; /* 44: SDL_GameControllerAxis order */
    uint32_t pad_updates;       /* 56: times the game's SDL read the virtual controller */
    uint32_t fallback;          /* 60: 1 once the shim fell back to real time */
    uint64_t seed;              /* 64: seeds getrandom() */
    uint32_t tickets;           /* 72: park counter handing out slot tickets */
    uint8_t reserved[52];       /* 76 */
    struct pp_slot slots[PP_MAX_SLOTS]; /* 128 */
};

#endif
