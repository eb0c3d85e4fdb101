/*
 * txtest.h - shared helpers for Tongxin's tests: a counting allocator that can
 * fail the Nth allocation, a seeded PRNG whose seed is printed and can be
 * replayed from the environment, and small byte helpers. Header-only.
 */
#ifndef TONGXIN_TXTEST_H
#define TONGXIN_TXTEST_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crdt.h"

/* ---- counting allocator ---- */

struct txt_alloc {
    size_t live_bytes, peak_bytes, live_blocks;
    size_t base_bytes, base_blocks; /* live at the last txt_alloc_install */
    uint64_t calls;
    uint64_t fail_at; /* fail the Nth allocation (1-based); 0 = never */
};

static struct txt_alloc txt_a;
/* The allocation hook must be thread-safe: ingest prepares batches and checks
 * signatures on other threads. */
static pthread_mutex_t txt_lock = PTHREAD_MUTEX_INITIALIZER;

/* Each block carries its size in a 16-byte header (keeps max_align_t alignment). */
static void *txt_malloc(void *ctx, size_t n)
{
    unsigned char *p = NULL;
    (void)ctx;
    pthread_mutex_lock(&txt_lock);
    txt_a.calls++;
    if (!(txt_a.fail_at && txt_a.calls == txt_a.fail_at) && (p = malloc(n + 16))) {
        memcpy(p, &n, sizeof(n));
        txt_a.live_bytes += n;
        txt_a.live_blocks++;
        if (txt_a.live_bytes > txt_a.peak_bytes)
            txt_a.peak_bytes = txt_a.live_bytes;
        p += 16;
    }
    pthread_mutex_unlock(&txt_lock);
    return p;
}

static void txt_free(void *ctx, void *ptr)
{
    unsigned char *p = ptr;
    size_t n;
    (void)ctx;
    if (!p)
        return;
    memcpy(&n, p - 16, sizeof(n));
    pthread_mutex_lock(&txt_lock);
    txt_a.live_bytes -= n;
    txt_a.live_blocks--;
    pthread_mutex_unlock(&txt_lock);
    free(p - 16);
}

static void *txt_realloc(void *ctx, void *ptr, size_t n)
{
    void *np;
    size_t old = 0;
    if (!ptr)
        return txt_malloc(ctx, n);
    memcpy(&old, (unsigned char *)ptr - 16, sizeof(old));
    np = txt_malloc(ctx, n);
    if (!np)
        return NULL;
    memcpy(np, ptr, old < n ? old : n);
    txt_free(ctx, ptr);
    return np;
}

static const struct tx_mem txt_mem = {txt_malloc, txt_realloc, txt_free, NULL};

/* Install the counting allocator and reset its counters. Once installed it stays
 * installed for the life of the test program (memory must be freed by the
 * allocator that gave it, even when a failed assertion skips a test's cleanup);
 * txt_alloc_done only stops injecting failures. */
static inline void txt_alloc_install(void)
{
    size_t live = txt_a.live_bytes, blocks = txt_a.live_blocks;

    memset(&txt_a, 0, sizeof(txt_a));
    txt_a.live_bytes = live;
    txt_a.peak_bytes = live;
    txt_a.live_blocks = blocks;
    txt_a.base_bytes = live;
    txt_a.base_blocks = blocks;
    tx_mem_set(&txt_mem);
}

/* Bytes allocated at the peak since the last install, beyond what was live then. */
#define txt_peak() (txt_a.peak_bytes - txt_a.base_bytes)
/* Nothing allocated since the last install is still live. */
#define txt_assert_no_leak() assert_int_equal(txt_a.live_blocks, txt_a.base_blocks)

static inline void txt_alloc_done(void)
{
    txt_a.fail_at = 0;
}

static inline void txt_alloc_reset_peak(void)
{
    txt_a.peak_bytes = txt_a.live_bytes;
}

/* ---- processes ---- */

/* Write all n bytes to fd (retrying on EINTR); 0, or -1 on error. */
static inline int txt_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;

    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Fixed-size records a child process writes to a pipe (the kill -9 tests). */
struct txt_pipe {
    uint8_t buf[4096];
    size_t have; /* bytes of an unread record kept between calls */
};

/* Read records of rsz bytes (at most sizeof(p->buf)) from fd, giving each to
 * take(rec, ctx), until take returns nonzero (returns 0) or end of file
 * (returns 1; a partial record left there is dropped: the child died inside
 * its write). When nothing arrives for timeout_ms the child pid is killed and
 * the test fails, naming where. */
static inline int txt_pipe_read(struct txt_pipe *p, int fd, pid_t pid, size_t rsz, int timeout_ms,
                                const char *where, int (*take)(const void *rec, void *ctx),
                                void *ctx)
{
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        ssize_t n;
        int pr;

        while (p->have >= rsz) {
            uint8_t rec[sizeof(p->buf)];
            int stop;

            memcpy(rec, p->buf, rsz);
            memmove(p->buf, p->buf + rsz, p->have - rsz);
            p->have -= rsz;
            if ((stop = take(rec, ctx)))
                return 0;
        }
        pr = poll(&pf, 1, timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("child %d sent nothing for %d ms (hang?); %s", (int)pid, timeout_ms, where);
        }
        n = read(fd, p->buf + p->have, sizeof(p->buf) - p->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_msg("read from the child's pipe: %s", strerror(errno));
        if (n == 0) {
            p->have = 0;
            return 1;
        }
        p->have += (size_t)n;
    }
}

/* Monotonic milliseconds (timeouts in tests that wait for a child). */
static inline uint64_t txt_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- seeded PRNG (splitmix64) ---- */

struct txt_rng {
    uint64_t s;
};

static inline uint64_t txt_next(struct txt_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint64_t txt_below(struct txt_rng *r, uint64_t n)
{
    return n ? txt_next(r) % n : 0;
}

/* The seed for a randomised test: $env if set (to replay a failure), otherwise
 * derived from the time and pid. Printed either way. */
static inline uint64_t txt_seed(const char *env, const char *what)
{
    const char *s = getenv(env);
    uint64_t seed;

    if (s && *s) {
        seed = strtoull(s, NULL, 0);
    } else {
        struct txt_rng r = {(uint64_t)time(NULL) ^ ((uint64_t)clock() << 20) ^
                            ((uint64_t)(uintptr_t)&r << 7)};
        seed = txt_next(&r);
    }
    printf("%s: seed %llu (replay with %s=%llu)\n", what, (unsigned long long)seed, env,
           (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

static inline void txt_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

#endif
