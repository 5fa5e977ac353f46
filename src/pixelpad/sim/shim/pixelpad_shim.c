/* pixelpad clock shim: loaded with LD_PRELOAD into an unmodified game, it puts the game's clocks
 * under the control of pixelpad.sim.clock.
 *
 * - Clocks (clock_gettime, gettimeofday, time, timespec_get) read a virtual time kept in a shared
 *   page that only the controller advances. Monotonic and wall clocks start at fixed values, so
 *   games that seed from time() replay identically. CPU-time clocks pass through.
 * - Sleeps (nanosleep, clock_nanosleep, usleep, sleep, fd-less poll/select) park the thread on a
 *   futex until virtual time reaches their deadline.
 * - Timed waits (poll/ppoll/select/epoll_wait with fds, pthread_cond_timedwait/clockwait,
 *   sem_timedwait) wait for their event in short real slices and time out in virtual time.
 * - A thread that reads an unchanged clock more than busy_limit times is spinning: it is parked
 *   until the next advance.
 * - While parked, a thread publishes (parked, seen_seq, deadline) in its slot: the controller
 *   knows it is idle, and in exact mode which deadline to advance to next.
 * - Buffer swaps / render presents are counted and SDL games get a virtual game controller: see
 *   pixelpad_sdl.c.
 * - If the controller dies, the game falls back to real time instead of hanging.
 * Without PIXELPAD_SHM in the environment every hook passes straight through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pixelpad_shim.h"
#include "pixelpad_internal.h"

#define NS 1000000000LL
#define MONO_BASE_NS (1000LL * NS)        /* monotonic clocks read 1000 s at the start */
#define WALL_BASE_NS (1700000000LL * NS)  /* wall clock reads 2023-11-14T22:13:20Z at the start */
#define SLICE_NS 2000000LL                /* real wait slice of the timed waits */
#define LIVENESS_NS 250000000LL           /* how often a parked thread checks the controller */

PP_HIDDEN struct pp_shared *g;
static int g_state; /* 0 unknown, 1 active, 2 inactive, 3 initialising */
PP_HIDDEN int g_want_pad;
static __thread int t_slot = -1;
static __thread uint32_t t_last_seq, t_reads;
static pthread_key_t slot_key;
static int local_fallback;
static int64_t fb_virtual, fb_real;

#define REAL(name) static __typeof__(&name) real_##name
#define GET(name)                                                                          \
    ({                                                                                     \
        __typeof__(&name) f_ = __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE);            \
        if (!f_) {                                                                         \
            f_ = (__typeof__(&name))dlsym(RTLD_NEXT, #name);                               \
            __atomic_store_n(&real_##name, f_, __ATOMIC_RELEASE);                          \
        }                                                                                  \
        f_;                                                                                \
    })
REAL(clock_gettime);
REAL(nanosleep);
REAL(clock_nanosleep);
REAL(poll);
REAL(ppoll);
REAL(select);
REAL(epoll_wait);
REAL(epoll_pwait);
REAL(pthread_cond_timedwait);
REAL(pthread_cond_clockwait);
REAL(sem_timedwait);

/* ---------------------------------------------------------------- set-up */

static void free_slot(void *value) {
    int idx = (int)(intptr_t)value - 1;
    if (g && idx >= 0 && idx < PP_MAX_SLOTS) {
        __atomic_store_n(&g->slots[idx].parked, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&g->slots[idx].tid, 0, __ATOMIC_RELEASE);
    }
}

static void after_fork_child(void) { t_slot = -1; }

static void init(void) {
    int expected = 0;
    if (!__atomic_compare_exchange_n(&g_state, &expected, 3, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
    const char *path = getenv("PIXELPAD_SHM");
    int state = 2;
    if (path && *path) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            void *p = mmap(NULL, PP_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
            if (p != MAP_FAILED && ((struct pp_shared *)p)->magic == PP_MAGIC &&
                ((struct pp_shared *)p)->version == PP_VERSION) {
                g = p;
                state = 1;
                pthread_key_create(&slot_key, free_slot);
                pthread_atfork(NULL, NULL, after_fork_child);
                const char *pad = getenv("PIXELPAD_PAD");
                g_want_pad = pad && *pad == '1';
            }
        }
    }
    __atomic_store_n(&g_state, state, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void pp_constructor(void) { init(); }

PP_HIDDEN int active(void) {
    int s = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
    if (s == 0) {
        init();
        s = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
    }
    return s == 1;
}

/* ---------------------------------------------------------------- time */

static int64_t real_mono_ns(void) {
    struct timespec ts;
    if (GET(clock_gettime)) GET(clock_gettime)(CLOCK_MONOTONIC, &ts);
    else syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * NS + ts.tv_nsec;
}

static int in_fallback(void) {
    if (__atomic_load_n(&local_fallback, __ATOMIC_ACQUIRE)) return 1;
    if (!__atomic_load_n(&g->fallback, __ATOMIC_ACQUIRE)) return 0;
    fb_virtual = __atomic_load_n(&g->now_ns, __ATOMIC_ACQUIRE);
    fb_real = real_mono_ns();
    __atomic_store_n(&local_fallback, 1, __ATOMIC_RELEASE);
    return 1;
}

static void check_controller(void) {
    int saved = errno;
    if (kill(g->controller_pid, 0) == -1 && errno == ESRCH) __atomic_store_n(&g->fallback, 1, __ATOMIC_RELEASE);
    errno = saved;
}

static int64_t vnow(void) {
    if (in_fallback()) return fb_virtual + (real_mono_ns() - fb_real);
    return __atomic_load_n(&g->now_ns, __ATOMIC_ACQUIRE);
}

static int virtual_clock(clockid_t clk) {
    switch (clk) {
    case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE: case CLOCK_REALTIME_ALARM: case CLOCK_TAI:
    case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME: case CLOCK_BOOTTIME_ALARM:
        return 1;
    default:
        return 0; /* CPU-time clocks and anything unknown pass through */
    }
}

static int64_t clock_base(clockid_t clk) {
    switch (clk) {
    case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE: case CLOCK_REALTIME_ALARM: return WALL_BASE_NS;
    case CLOCK_TAI: return WALL_BASE_NS + 37 * NS;
    default: return MONO_BASE_NS;
    }
}

static inline struct timespec to_ts(int64_t ns) {
    struct timespec ts = {ns / NS, ns % NS};
    return ts;
}

static inline int64_t from_ts(const struct timespec *ts) { return ts->tv_sec * NS + ts->tv_nsec; }

/* ---------------------------------------------------------------- parking */

static struct pp_slot *my_slot(void) {
    if (t_slot >= 0) return &g->slots[t_slot];
    int32_t tid = (int32_t)syscall(SYS_gettid);
    for (int i = 0; i < PP_MAX_SLOTS; i++) {
        int32_t expected = 0;
        if (__atomic_compare_exchange_n(&g->slots[i].tid, &expected, tid, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            t_slot = i;
            pthread_setspecific(slot_key, (void *)(intptr_t)(i + 1));
            return &g->slots[i];
        }
    }
    return NULL; /* out of slots: the controller then judges this thread from /proc alone */
}

static void real_sleep_ns(int64_t ns) {
    if (ns <= 0) return;
    struct timespec ts = to_ts(ns);
    while (GET(nanosleep)(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Publish that this thread now waits (for `deadline`, or for any advance). */
static void mark(struct pp_slot *s, uint32_t kind, int64_t deadline) {
    s->kind = kind;
    s->deadline_ns = deadline;
    s->seen_seq = __atomic_load_n(&g->seq, __ATOMIC_ACQUIRE);
    s->ticket = __atomic_add_fetch(&g->tickets, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&s->release, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->parked, 1, __ATOMIC_RELEASE);
}

static inline void unmark(struct pp_slot *s) {
    if (s) __atomic_store_n(&s->parked, 0, __ATOMIC_RELEASE);
}

/* Wait until the controller releases this slot; 0 if it died meanwhile (then: real time). */
static int await_release(struct pp_slot *s) {
    while (!__atomic_load_n(&s->release, __ATOMIC_ACQUIRE)) {
        if (in_fallback()) return 0;
        struct timespec to = to_ts(LIVENESS_NS);
        long r = syscall(SYS_futex, &s->release, FUTEX_WAIT, 0, &to, NULL, 0);
        if (r == -1 && errno == ETIMEDOUT) check_controller();
    }
    return 1;
}

/* Without a slot (more threads than slots): wait on the advance counter instead, unordered. */
static void park_unordered(int64_t deadline, uint32_t kind) {
    uint32_t first = __atomic_load_n(&g->seq, __ATOMIC_ACQUIRE);
    for (;;) {
        uint32_t seq = __atomic_load_n(&g->seq, __ATOMIC_ACQUIRE);
        if (in_fallback() || (kind == PP_WAIT_ADVANCE ? seq != first : vnow() >= deadline)) return;
        struct timespec to = to_ts(LIVENESS_NS);
        long r = syscall(SYS_futex, &g->seq, FUTEX_WAIT, seq, &to, NULL, 0);
        if (r == -1 && errno == ETIMEDOUT) check_controller();
    }
}

/* Park until virtual time reaches deadline (PP_WAIT_DEADLINE) or the next advance (PP_WAIT_ADVANCE).
 * A deadline already reached returns at once: the thread is running anyway, and virtual time does
 * not move while it runs, so this is as deterministic as sleeping. */
static void park(int64_t deadline, uint32_t kind) {
    int saved = errno;
    if (kind == PP_WAIT_DEADLINE && vnow() >= deadline) return;
    struct pp_slot *s = my_slot();
    if (in_fallback()) {
        if (kind == PP_WAIT_DEADLINE) real_sleep_ns(deadline - vnow());
    } else if (!s) {
        park_unordered(deadline, kind);
    } else {
        mark(s, kind, deadline);
        if (!await_release(s) && kind == PP_WAIT_DEADLINE) real_sleep_ns(deadline - vnow());
        unmark(s);
    }
    errno = saved;
}

/* A clock read: a thread that keeps reading the same virtual time is spinning; park it. */
static void note_clock_read(void) {
    uint32_t seq = __atomic_load_n(&g->seq, __ATOMIC_ACQUIRE);
    if (seq != t_last_seq) {
        t_last_seq = seq;
        t_reads = 0;
        return;
    }
    uint32_t limit = g->busy_limit;
    if (limit && ++t_reads > limit && !in_fallback()) {
        t_reads = 0;
        park(0, PP_WAIT_ADVANCE);
    }
}

/* Shared loop of the timed waits: `wait_slice` waits for the event for at most slice_ real
 * nanoseconds and is true when it happened (result_ is then the call's result). Once the virtual
 * deadline has passed, the thread still waits for its release so timeouts fire in a fixed order. */
#define TIMED_WAIT(deadline, timed_out_value, wait_slice)                                         \
    do {                                                                                          \
        if ((deadline) <= vnow()) return timed_out_value;                                         \
        struct pp_slot *s_ = in_fallback() ? NULL : my_slot();                                    \
        if (s_) mark(s_, PP_WAIT_DEADLINE, deadline);                                             \
        for (;;) {                                                                                \
            int fb_ = in_fallback();                                                              \
            int64_t left_ = (deadline) - vnow();                                                  \
            if (left_ <= 0) {                                                                     \
                if (s_ && !fb_) await_release(s_);                                                \
                unmark(s_);                                                                       \
                return timed_out_value;                                                           \
            }                                                                                     \
            int64_t slice_ = fb_ ? left_ : SLICE_NS;                                              \
            if (wait_slice) {                                                                     \
                unmark(s_);                                                                       \
                return result_;                                                                   \
            }                                                                                     \
        }                                                                                         \
    } while (0)

/* ---------------------------------------------------------------- clocks */

int clock_gettime(clockid_t clk, struct timespec *tp) {
    if (!active() || !virtual_clock(clk)) {
        if (GET(clock_gettime)) return GET(clock_gettime)(clk, tp);
        return (int)syscall(SYS_clock_gettime, clk, tp);
    }
    note_clock_read();
    *tp = to_ts(clock_base(clk) + vnow());
    return 0;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    if (tz) memset(tz, 0, sizeof(int) * 2);
    return 0;
}

time_t time(time_t *t) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t) *t = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC) return 0;
    clock_gettime(CLOCK_REALTIME, ts);
    return base;
}

/* ---------------------------------------------------------------- sleeps */

int nanosleep(const struct timespec *req, struct timespec *rem) {
    if (!active()) return GET(nanosleep)(req, rem);
    if (!req || req->tv_nsec < 0 || req->tv_nsec >= NS) {
        errno = EINVAL;
        return -1;
    }
    park(vnow() + from_ts(req), PP_WAIT_DEADLINE);
    if (rem) rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem) {
    if (!active() || !virtual_clock(clk)) return GET(clock_nanosleep)(clk, flags, req, rem);
    if (!req || req->tv_nsec < 0 || req->tv_nsec >= NS) return EINVAL;
    int64_t deadline = (flags & TIMER_ABSTIME) ? from_ts(req) - clock_base(clk) : vnow() + from_ts(req);
    park(deadline, PP_WAIT_DEADLINE);
    if (rem && !(flags & TIMER_ABSTIME)) rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}

int usleep(useconds_t us) {
    struct timespec ts = to_ts((int64_t)us * 1000);
    return nanosleep(&ts, NULL);
}

unsigned int sleep(unsigned int seconds) {
    struct timespec ts = to_ts((int64_t)seconds * NS);
    nanosleep(&ts, NULL);
    return 0;
}

/* ---------------------------------------------------------------- timed waits */

static int any_fd(struct pollfd *fds, nfds_t n) {
    for (nfds_t i = 0; i < n; i++)
        if (fds[i].fd >= 0) return 1;
    return 0;
}

int poll(struct pollfd *fds, nfds_t n, int timeout) {
    if (!active() || timeout == 0) return GET(poll)(fds, n, timeout);
    if (!any_fd(fds, n)) {
        if (timeout < 0) return GET(poll)(fds, n, timeout);
        park(vnow() + (int64_t)timeout * 1000000, PP_WAIT_DEADLINE);
        return 0;
    }
    if (timeout < 0) return GET(poll)(fds, n, timeout);
    int64_t deadline = vnow() + (int64_t)timeout * 1000000;
    int result_;
    TIMED_WAIT(deadline, 0,
               ((result_ = GET(poll)(fds, n, (int)((slice_ + 999999) / 1000000))) != 0));
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask) {
    if (!active() || !tmo || (tmo->tv_sec == 0 && tmo->tv_nsec == 0)) return GET(ppoll)(fds, n, tmo, mask);
    if (!any_fd(fds, n)) {
        park(vnow() + from_ts(tmo), PP_WAIT_DEADLINE);
        return 0;
    }
    int64_t deadline = vnow() + from_ts(tmo);
    int result_;
    struct timespec sl;
    TIMED_WAIT(deadline, 0, (sl = to_ts(slice_), (result_ = GET(ppoll)(fds, n, &sl, mask)) != 0));
}

static int select_timed_out(fd_set *r, fd_set *w, fd_set *e) {
    if (r) memset(r, 0, sizeof(*r));
    if (w) memset(w, 0, sizeof(*w));
    if (e) memset(e, 0, sizeof(*e));
    return 0;
}

static int select_slice(int nfds, fd_set *r, fd_set *w, fd_set *e, const fd_set *r0, const fd_set *w0,
                        const fd_set *e0, int64_t slice) {
    if (r) *r = *r0;
    if (w) *w = *w0;
    if (e) *e = *e0;
    struct timeval tv = {slice / NS, (slice % NS) / 1000};
    return GET(select)(nfds, r, w, e, &tv);
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tmo) {
    if (!active() || !tmo || (tmo->tv_sec == 0 && tmo->tv_usec == 0)) return GET(select)(nfds, r, w, e, tmo);
    int64_t deadline = vnow() + (int64_t)tmo->tv_sec * NS + (int64_t)tmo->tv_usec * 1000;
    if (nfds == 0 || (!r && !w && !e)) {
        park(deadline, PP_WAIT_DEADLINE);
        tmo->tv_sec = tmo->tv_usec = 0;
        return 0;
    }
    fd_set r0, w0, e0;
    if (r) r0 = *r;
    if (w) w0 = *w;
    if (e) e0 = *e;
    int result_;
    TIMED_WAIT(deadline, select_timed_out(r, w, e),
               ((result_ = select_slice(nfds, r, w, e, &r0, &w0, &e0, slice_)) != 0));
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout) {
    if (!active() || timeout <= 0) return GET(epoll_wait)(epfd, ev, max, timeout);
    int64_t deadline = vnow() + (int64_t)timeout * 1000000;
    int result_;
    TIMED_WAIT(deadline, 0,
               ((result_ = GET(epoll_wait)(epfd, ev, max, (int)((slice_ + 999999) / 1000000))) != 0));
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
    if (!active() || timeout <= 0) return GET(epoll_pwait)(epfd, ev, max, timeout, mask);
    int64_t deadline = vnow() + (int64_t)timeout * 1000000;
    int result_;
    TIMED_WAIT(deadline, 0,
               ((result_ = GET(epoll_pwait)(epfd, ev, max, (int)((slice_ + 999999) / 1000000), mask)) != 0));
}

/* glibc keeps the condition variable's clock in bit 1 of __wrefs (set: CLOCK_MONOTONIC). */
static clockid_t cond_clock(pthread_cond_t *c) {
    return (c->__data.__wrefs & 2) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

static struct timespec real_deadline(clockid_t clk, int64_t slice) {
    struct timespec now;
    GET(clock_gettime)(clk, &now);
    return to_ts(from_ts(&now) + slice);
}

static int cond_wait_virtual(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk, const struct timespec *abs) {
    int64_t deadline = from_ts(abs) - clock_base(clk);
    int result_;
    struct timespec dl;
    TIMED_WAIT(deadline, ETIMEDOUT,
               (dl = real_deadline(clk, slice_),
                (result_ = GET(pthread_cond_clockwait)(c, m, clk, &dl)) != ETIMEDOUT));
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abs) {
    if (!active() || !abs) return GET(pthread_cond_timedwait)(c, m, abs);
    return cond_wait_virtual(c, m, cond_clock(c), abs);
}

int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk, const struct timespec *abs) {
    if (!active() || !abs || !virtual_clock(clk)) return GET(pthread_cond_clockwait)(c, m, clk, abs);
    return cond_wait_virtual(c, m, clk, abs);
}

int sem_timedwait(sem_t *sem, const struct timespec *abs) {
    if (!active() || !abs) return GET(sem_timedwait)(sem, abs);
    int64_t deadline = from_ts(abs) - WALL_BASE_NS;
    int result_;
    struct timespec dl;
    TIMED_WAIT(deadline, (errno = ETIMEDOUT, -1),
               (dl = real_deadline(CLOCK_REALTIME, slice_), result_ = GET(sem_timedwait)(sem, &dl),
                !(result_ == -1 && errno == ETIMEDOUT)));
}

/* ---------------------------------------------------------------- randomness */

static uint64_t rng_state;

static uint64_t splitmix64(void) {
    uint64_t z = __atomic_add_fetch(&rng_state, 0x9E3779B97F4A7C15ull, __ATOMIC_RELAXED);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags) {
    if (!active()) return syscall(SYS_getrandom, buf, len, flags);
    if (!rng_state) __atomic_store_n(&rng_state, g->seed | 1, __ATOMIC_RELAXED);
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix64();
        memcpy(p + i, &v, len - i < 8 ? len - i : 8);
    }
    return (ssize_t)len;
}

int getentropy(void *buf, size_t len) {
    if (len > 256) {
        errno = EIO;
        return -1;
    }
    return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}
