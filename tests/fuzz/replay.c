/*
 * replay.c - a portable main() for the fuzz targets, used when not building with
 * libFuzzer: the same LLVMFuzzerTestOneInput runs briefly inside the normal test
 * suite under any compiler.
 *
 *   fuzz_body_replay CORPUS_DIR [N]   every file in CORPUS_DIR, then N (default
 *                                     20000) mutations of them
 *   fuzz_body_replay FILE [N]         one input (a crash to reproduce), then N
 *                                     (default 0) mutations of it
 *
 * Mutations are deterministic: a fixed seed, printed, and taken from TX_FUZZ_SEED
 * when set, so any failure replays exactly. They are bit flips, byte sets and
 * arithmetic, insertions, deletions, truncations, splices of two corpus entries,
 * duplicated chunks, runs of 0x91 (deep nesting) and msgpack headers that claim
 * huge counts (dd 00 ff ff ff, ...) or use non-canonical forms.
 *
 * Each input is copied to an allocation of exactly its size (so sanitizers see
 * any over-read) and run under an alarm (TX_FUZZ_TIMEOUT seconds, default 10).
 * All of crdt/'s allocations go through a counting allocator: a call must free
 * everything it allocated and must not allocate more than 256 bytes per input
 * byte (plus 1 MiB). Every eighth mutated input runs a second time with one of
 * its allocations failing, to walk the TX_ENOMEM paths.
 *
 * On any failure (oracle abort, signal, sanitizer report, timeout, leak) the
 * input is printed in hex on stderr and written to
 * fuzz-replay-crash-TARGET.bin in the current directory.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef TX_FUZZ_TARGET
#define TX_FUZZ_TARGET "fuzz"
#endif

#define FZ_MAX_INPUT    (64 * 1024)
#define DEFAULT_RUNS    20000
#define DEFAULT_SEED    UINT64_C(1415071322) /* "TXFZ" */
#define DEFAULT_TIMEOUT 10
#define FZ_MAX_FILES    4096

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif

/* Sanitizer runtimes call this back before they exit on an error; absent (NULL)
 * in a plain build. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static const char target[] = TX_FUZZ_TARGET;

/* ---- counting allocator that can fail the Nth allocation ---- */

static struct {
    uint64_t calls;   /* allocations since the input started */
    uint64_t fail_at; /* 1-based allocation to fail; 0 = none */
    size_t live_blocks, live_bytes, peak_bytes;
} al;
static pthread_mutex_t al_lock = PTHREAD_MUTEX_INITIALIZER;

#define HDR 16 /* keeps max_align_t alignment */

static void *al_realloc(void *ctx, void *ptr, size_t n)
{
    unsigned char *p = ptr ? (unsigned char *)ptr - HDR : NULL;
    size_t old = 0;

    (void)ctx;
    /* thread-safe, as tx_mem_set requires: ingest allocates on its
     * preparation thread */
    pthread_mutex_lock(&al_lock);
    al.calls++;
    if ((al.fail_at && al.calls == al.fail_at) || n > SIZE_MAX - HDR) {
        pthread_mutex_unlock(&al_lock);
        return NULL;
    }
    if (p)
        memcpy(&old, p, sizeof(old));
    p = realloc(p, n + HDR);
    if (!p) {
        pthread_mutex_unlock(&al_lock);
        return NULL;
    }
    memcpy(p, &n, sizeof(n));
    if (!ptr)
        al.live_blocks++;
    al.live_bytes = al.live_bytes - old + n;
    if (al.live_bytes > al.peak_bytes)
        al.peak_bytes = al.live_bytes;
    pthread_mutex_unlock(&al_lock);
    return p + HDR;
}

static void *al_malloc(void *ctx, size_t n)
{
    return al_realloc(ctx, NULL, n);
}

static void al_free(void *ctx, void *ptr)
{
    unsigned char *p = ptr;
    size_t n;

    (void)ctx;
    if (!p)
        return;
    memcpy(&n, p - HDR, sizeof(n));
    pthread_mutex_lock(&al_lock);
    al.live_blocks--;
    al.live_bytes -= n;
    pthread_mutex_unlock(&al_lock);
    free(p - HDR);
}

/* ---- deterministic PRNG (splitmix64) ---- */

static uint64_t rng;

static uint64_t rnd64(void)
{
    uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform-enough in [0, n); 0 when n is 0. */
static size_t rnd(size_t n)
{
    return n ? (size_t)(rnd64() % n) : 0;
}

/* ---- failure reports (async-signal-safe: write(2) only) ---- */

static uint64_t seed;
static const uint8_t *cur_data;
static size_t cur_size;
static uint64_t cur_index;
static uint64_t cur_fail_at;

static void put(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    while (n) {
        ssize_t k = write(2, s, n);

        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static void put_u64(uint64_t v)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;

    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(buf + i);
}

static void save_input(void)
{
    char path[128] = "fuzz-replay-crash-";
    size_t n = 0, k = 0;
    int fd;

    while (path[n])
        n++;
    while (target[k] && n < sizeof(path) - 5)
        path[n++] = target[k++];
    memcpy(path + n, ".bin", 5);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    for (size_t off = 0; off < cur_size;) {
        ssize_t w = write(fd, cur_data + off, cur_size - off);

        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    put("fuzz-replay: input saved to ");
    put(path);
    put("\n");
}

static void dump_input(const char *why)
{
    static const char hex[] = "0123456789abcdef";
    char line[2 * 32 + 2];

    put("fuzz-replay: ");
    put(target);
    put(": ");
    put(why);
    if (!cur_data) {
        put(" outside any input\n");
        return;
    }
    put(" on input #");
    put_u64(cur_index);
    put(" (seed ");
    put_u64(seed);
    put("; replay: TX_FUZZ_SEED=");
    put_u64(seed);
    if (cur_fail_at) {
        put(", allocation ");
        put_u64(cur_fail_at);
        put(" failing");
    }
    put("), ");
    put_u64(cur_size);
    put(" bytes:\n");
    for (size_t off = 0; off < cur_size; off += 32) {
        size_t n = 0;

        for (size_t i = off; i < cur_size && i < off + 32; i++) {
            line[n++] = hex[cur_data[i] >> 4];
            line[n++] = hex[cur_data[i] & 15];
        }
        line[n++] = '\n';
        line[n] = '\0';
        put(line);
    }
    save_input();
}

static void on_signal(int sig)
{
    dump_input(sig == SIGALRM   ? "timeout"
               : sig == SIGABRT ? "abort (a failed oracle, see above)"
                                : "fatal signal");
    if (sig == SIGALRM)
        _exit(70);
    /* SA_RESETHAND restored the default action: die of the same signal. */
    raise(sig);
}

static void on_sanitizer_death(void)
{
    dump_input("sanitizer error");
}

static void install_handlers(void)
{
#ifdef FZ_ASAN
    /* AddressSanitizer reports segfaults better itself. */
    static const int sigs[] = {SIGABRT, SIGILL, SIGFPE, SIGALRM};
#else
    static const int sigs[] = {SIGABRT, SIGILL, SIGFPE, SIGALRM, SIGSEGV, SIGBUS};
#endif
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(on_sanitizer_death);
}

/* ---- running one input ---- */

static unsigned timeout_s = DEFAULT_TIMEOUT;

/* Run the target on a private copy of data, failing allocation fail_at (0 for
 * none). Returns the number of allocations the input made. */
static uint64_t run_one(const uint8_t *data, size_t size, uint64_t index, uint64_t fail_at)
{
    static uint8_t empty[1];
    uint8_t *copy = size ? malloc(size) : NULL;
    size_t base_blocks = al.live_blocks, base_bytes = al.live_bytes;
    uint64_t calls;

    if (size && !copy) {
        fprintf(stderr, "fuzz-replay: out of memory\n");
        exit(2);
    }
    if (size)
        memcpy(copy, data, size);
    cur_data = copy ? copy : empty;
    cur_size = size;
    cur_index = index;
    cur_fail_at = fail_at;
    al.calls = 0;
    al.fail_at = fail_at;
    al.peak_bytes = al.live_bytes;

    alarm(timeout_s);
    LLVMFuzzerTestOneInput(cur_data, size);
    alarm(0);

    calls = al.calls;
    al.fail_at = 0;
    if (al.live_blocks != base_blocks) {
        dump_input("memory leak");
        fprintf(stderr, "fuzz-replay: %zu block(s), %zu byte(s) still allocated\n",
                al.live_blocks - base_blocks, al.live_bytes - base_bytes);
        exit(1);
    }
    if (al.peak_bytes - base_bytes > (size_t)256 * size + ((size_t)1 << 20)) {
        dump_input("allocation out of proportion to the input");
        fprintf(stderr, "fuzz-replay: peak %zu bytes for a %zu-byte input\n",
                al.peak_bytes - base_bytes, size);
        exit(1);
    }
    cur_data = NULL;
    free(copy);
    return calls;
}

/* ---- mutations ---- */

struct entry {
    char *name;
    uint8_t *data;
    size_t len;
};

struct token {
    uint8_t len;
    uint8_t b[9];
};

/* Headers that claim huge counts or lengths, non-canonical and boundary forms,
 * and the fixed-size bins the formats use. */
static const struct token tokens[] = {
    {5, {0xdd, 0x00, 0xff, 0xff, 0xff}},
    {5, {0xdd, 0xff, 0xff, 0xff, 0xff}},
    {3, {0xdc, 0xff, 0xff}},
    {5, {0xdf, 0x00, 0xff, 0xff, 0xff}},
    {5, {0xdf, 0xff, 0xff, 0xff, 0xff}},
    {3, {0xde, 0xff, 0xff}},
    {5, {0xc6, 0x00, 0xff, 0xff, 0xff}},
    {5, {0xc6, 0xff, 0xff, 0xff, 0xff}},
    {3, {0xc5, 0xff, 0xff}},
    {5, {0xdb, 0x00, 0xff, 0xff, 0xff}},
    {3, {0xda, 0xff, 0xff}},
    {2, {0xd9, 0xff}},
    {2, {0xc4, 0xff}},
    {1, {0x9f}},
    {1, {0x8f}},
    {1, {0xbf}},
    {5, {0xdd, 0x00, 0x00, 0x00, 0x01}},
    {3, {0xdc, 0x00, 0x0f}},
    {2, {0xd9, 0x01}},
    {3, {0xc5, 0x00, 0x20}},
    {2, {0xc4, 0x20}},
    {2, {0xc4, 0x40}},
    {2, {0xc4, 0x18}},
    {2, {0xcc, 0x05}},
    {3, {0xcd, 0x00, 0xff}},
    {5, {0xce, 0x00, 0x00, 0xff, 0xff}},
    {5, {0xce, 0xff, 0xff, 0xff, 0xff}},
    {9, {0xcf, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff}},
    {9, {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {9, {0xcf, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {9, {0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {9, {0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00}},
    {2, {0xd0, 0xe0}},
    {2, {0xd0, 0x80}},
    {3, {0xd1, 0xff, 0x80}},
    {5, {0xca, 0x00, 0x00, 0x00, 0x00}},
    {2, {0xd4, 0x00}},
    {1, {0xc1}},
    {1, {0xc0}},
    {1, {0xc3}},
    {1, {0x00}},
    {1, {0x7f}},
    {1, {0xe0}},
    {1, {0xff}},
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

static const uint8_t interesting[] = {0x00, 0x01, 0x05, 0x0f, 0x10, 0x1f, 0x20, 0x7f, 0x80,
                                      0x90, 0x91, 0x96, 0x9b, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                                      0xc2, 0xc3, 0xc4, 0xcc, 0xcf, 0xd0, 0xd3, 0xd9, 0xdc,
                                      0xdd, 0xde, 0xdf, 0xe0, 0xfe, 0xff};

/* Insert k bytes (src, or zeros when NULL) at pos; returns the new length. */
static size_t insert(uint8_t *buf, size_t len, size_t pos, const uint8_t *src, size_t k)
{
    if (k > FZ_MAX_INPUT - len)
        k = FZ_MAX_INPUT - len;
    memmove(buf + pos + k, buf + pos, len - pos);
    if (src)
        memcpy(buf + pos, src, k);
    else
        memset(buf + pos, 0, k);
    return len + k;
}

static size_t mutate_once(uint8_t *buf, size_t len, const struct entry *ents, size_t nents)
{
    size_t pos = rnd(len), k;
    uint8_t tmp[512];

    switch (rnd(14)) {
    case 0:
        if (len)
            buf[pos] ^= (uint8_t)(1u << rnd(8));
        return len;
    case 1:
        if (len)
            buf[pos] = (uint8_t)rnd(256);
        return len;
    case 2:
        if (len)
            buf[pos] = interesting[rnd(sizeof(interesting))];
        return len;
    case 3:
        if (len)
            buf[pos] = (uint8_t)(buf[pos] + rnd(33) - 16);
        return len;
    case 4: /* insert 1-4 random bytes */
        k = 1 + rnd(4);
        for (size_t i = 0; i < k; i++)
            tmp[i] = (uint8_t)rnd(256);
        return insert(buf, len, rnd(len + 1), tmp, k);
    case 5: /* delete up to 16 bytes */
        if (!len)
            return len;
        k = 1 + rnd(len - pos < 16 ? len - pos : 16);
        memmove(buf + pos, buf + pos + k, len - pos - k);
        return len - k;
    case 6:
        /* truncate */
        return rnd(len + 1);
    case 7: { /* splice: our prefix, another entry's suffix */
        const struct entry *o = &ents[rnd(nents)];
        size_t cut = rnd(len + 1), from = rnd(o->len + 1);

        k = o->len - from;
        if (k > FZ_MAX_INPUT - cut)
            k = FZ_MAX_INPUT - cut;
        memcpy(buf + cut, o->data + from, k);
        return cut + k;
    }
    case 8: /* insert a token */
    case 9: {
        const struct token *t = &tokens[rnd(NTOKENS)];

        return insert(buf, len, rnd(len + 1), t->b, t->len);
    }
    case 10: { /* overwrite with a token */
        const struct token *t = &tokens[rnd(NTOKENS)];

        if (pos + t->len > FZ_MAX_INPUT)
            return len;
        if (pos + t->len > len)
            len = pos + t->len;
        memcpy(buf + pos, t->b, t->len);
        return len;
    }
    case 11: /* duplicate a chunk elsewhere */
        if (!len)
            return len;
        k = 1 + rnd(len - pos < sizeof(tmp) ? len - pos : sizeof(tmp));
        memcpy(tmp, buf + pos, k);
        return insert(buf, len, rnd(len + 1), tmp, k);
    case 12: /* deep nesting: a run of fixarray-of-1 headers */
        k = 1 + rnd(2) * rnd(300);
        memset(tmp, 0x91, k < sizeof(tmp) ? k : sizeof(tmp));
        return insert(buf, len, rnd(len + 1), tmp, k < sizeof(tmp) ? k : sizeof(tmp));
    default: { /* replace the whole input by a token (a bare header) or zeros */
        const struct token *t = &tokens[rnd(NTOKENS)];

        if (rnd(2)) {
            memcpy(buf, t->b, t->len);
            return t->len;
        }
        return insert(buf, 0, 0, NULL, rnd(8));
    }
    }
}

static size_t mutate(uint8_t *buf, size_t len, const struct entry *ents, size_t nents)
{
    size_t rounds = rnd(16) ? 1 + rnd(4) : 8 + rnd(8);

    for (size_t i = 0; i < rounds; i++)
        len = mutate_once(buf, len, ents, nents);
    return len;
}

/* ---- corpus ---- */

static int load_file(const char *path, const char *name, struct entry *e)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f) {
        fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    e->data = malloc(FZ_MAX_INPUT);
    e->name = malloc(strlen(name) + 1);
    if (!e->data || !e->name) {
        fclose(f);
        fprintf(stderr, "fuzz-replay: out of memory\n");
        return -1;
    }
    strcpy(e->name, name);
    n = fread(e->data, 1, FZ_MAX_INPUT, f);
    if (ferror(f)) {
        fprintf(stderr, "fuzz-replay: %s: read error\n", path);
        fclose(f);
        return -1;
    }
    if (n == FZ_MAX_INPUT && fgetc(f) != EOF)
        fprintf(stderr, "fuzz-replay: %s: only the first %d bytes are used\n", path, FZ_MAX_INPUT);
    fclose(f);
    e->len = n;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every regular, non-hidden file of dir, in name order (deterministic). */
static size_t load_dir(const char *dir, struct entry *ents)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[FZ_MAX_FILES];
    size_t n = 0, loaded = 0;

    if (!d) {
        fprintf(stderr, "fuzz-replay: %s: %s\n", dir, strerror(errno));
        exit(2);
    }
    while ((de = readdir(d)) != NULL && n < FZ_MAX_FILES) {
        if (de->d_name[0] == '.')
            continue;
        names[n] = malloc(strlen(de->d_name) + 1);
        if (!names[n])
            break;
        strcpy(names[n++], de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < sizeof(path) &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            load_file(path, names[i], &ents[loaded]) == 0)
            loaded++;
        free(names[i]);
    }
    return loaded;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct tx_mem mem = {al_malloc, al_realloc, al_free, NULL};
    static struct entry ents[FZ_MAX_FILES];
    static uint8_t buf[FZ_MAX_INPUT];
    const char *env;
    struct stat st;
    size_t nents;
    uint64_t runs, v, inputs = 0, faulted = 0;
    struct timespec t0, t1;
    int is_dir;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE [MUTATIONS]\n", argv[0]);
        return 2;
    }
    if (stat(argv[1], &st) != 0) {
        fprintf(stderr, "fuzz-replay: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    is_dir = S_ISDIR(st.st_mode);
    runs = is_dir ? DEFAULT_RUNS : 0;
    if (argc == 3 && parse_u64(argv[2], &runs)) {
        fprintf(stderr, "fuzz-replay: bad mutation count '%s'\n", argv[2]);
        return 2;
    }
    seed = DEFAULT_SEED;
    if ((env = getenv("TX_FUZZ_SEED")) && *env && parse_u64(env, &seed)) {
        fprintf(stderr, "fuzz-replay: bad TX_FUZZ_SEED '%s'\n", env);
        return 2;
    }
    if ((env = getenv("TX_FUZZ_TIMEOUT")) && *env) {
        if (parse_u64(env, &v) || v == 0 || v > 86400) {
            fprintf(stderr, "fuzz-replay: bad TX_FUZZ_TIMEOUT '%s'\n", env);
            return 2;
        }
        timeout_s = (unsigned)v;
    }
    rng = seed;
    /* Before crdt/ allocates anything. */
    tx_mem_set(&mem);
    install_handlers();
    printf("fuzz-replay: %s seed %" PRIu64 " (set TX_FUZZ_SEED to change)\n", target, seed);
    fflush(stdout);

    if (is_dir) {
        nents = load_dir(argv[1], ents);
    } else {
        const char *base = strrchr(argv[1], '/');

        nents = load_file(argv[1], base ? base + 1 : argv[1], &ents[0]) == 0;
    }
    if (nents == 0) {
        fprintf(stderr, "fuzz-replay: no inputs in %s\n", argv[1]);
        return 2;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < nents; i++)
        run_one(ents[i].data, ents[i].len, inputs++, 0);
    for (uint64_t i = 0; i < runs; i++) {
        const struct entry *e = &ents[rnd(nents)];
        size_t len;
        uint64_t calls;

        memcpy(buf, e->data, e->len);
        len = mutate(buf, e->len, ents, nents);
        calls = run_one(buf, len, inputs++, 0);
        if (i % 8 == 7 && calls) {
            run_one(buf, len, inputs - 1, 1 + rnd(calls));
            faulted++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    printf("fuzz-replay: %s %zu corpus file(s), %" PRIu64 " mutation(s), %" PRIu64
           " rerun(s) with a failing allocation, %.2f s\n",
           target, nents, runs, faulted,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    printf("fuzz-replay: %s %" PRIu64 " inputs, seed %" PRIu64 ", ok\n", target, inputs, seed);
    for (size_t i = 0; i < nents; i++) {
        free(ents[i].name);
        free(ents[i].data);
    }
    return 0;
}
