/*
 * bench_sync.c - Tongxin's network benchmarks: real tongxind daemons on
 * loopback, judged against limits measured in the same run.
 *
 *   (l) limits: Ed25519 verifications/s on one core (crypto_sign_verify_detached
 *       of a 51-byte message, as in bench_store; best of 14 samples, all taken
 *       while no daemon runs), and the latency of LMDB's durable commit of one
 *       put in the scratch directory (200 at the start, 200 at the end; median).
 *   (s) initial sync: a district with two enrolled offices A and B of one
 *       community; A writes N envelopes (default 1,000,000) with
 *       node_write_batch, 1,000 per commit, each one LWW change (the title of a
 *       new `case` record, scope general:bench, so encrypted and readable by B).
 *       Limit of the receiver: A's log ingested in this process into a third
 *       office with node_ingest, in the batches a session sends (batch_envelopes
 *       and the 256 KiB batch limit), durable. Then tongxind runs on A (--listen)
 *       and on B (--peer A). Measured: the wall time from B's start until B's
 *       log holds every envelope of A (B's store polled read-only every 2 ms),
 *       envelopes/s against the verify rate (target >= 0.60x) and against the
 *       in-process ingest, the bytes B received on the wire per envelope (B's
 *       status, peers[].bytes_in), both daemons' CPU time and peak RSS (VmHWM,
 *       read just before they are stopped), the bytes B wrote, and B's store
 *       afterwards (every record applied, nothing held).
 *   (p) propagation latency: three fresh offices in a chain, A <- B <- C (B dials
 *       A, C dials B), daemons otherwise idle. W writes (default 200) on A, each
 *       a "put" on A's control socket (one persistent connection, the CLI's
 *       protocol), 20 ms apart; each is timed from the request until C's store
 *       (polled read-only with node_get, 0.2 ms sleeps) holds the record, and
 *       until B's does. After each, the limits in the same moment: one durable
 *       LMDB commit and one node_write of the same change into a store of this
 *       process. p50/p90/p99/max (target p99 < 50 ms) against 3 node_writes.
 *
 * Usage: bench_sync [--json | --json=FILE] [--dir DIR] [--only sp]
 *                   [--daemon PATH] [--batch N] [--keep]
 *   --json       print the figures as one JSON object instead of the table
 *   --json=FILE  print the table and also write the JSON object to FILE
 *   --dir DIR    scratch directory (default $TX_BENCH_TMP, $TMPDIR or /tmp); the
 *                stores live on its disk. Its path must leave room for the
 *                control socket (DIR/sync-PID/lat-c/control.sock < 100 bytes)
 *   --only sp    run only these sections: s (initial sync), p (propagation);
 *                the limits always run. Letters of other programs (bench_store's
 *                b, c, d, m) are ignored; with none of s and p nothing else runs
 *   --daemon P   the tongxind binary (default $TONGXIND_BIN, else ../cli/tongxind
 *                next to this program)
 *   --batch N    a variant: [sync] batch_envelopes = N (1-4096) in both sync
 *                daemons' tongxind.conf (and the same batches in process)
 *   --keep       leave the scratch directory (stores and daemon logs)
 * TX_BENCH_SCALE (default 1) multiplies N (at least 1,000) and W (at least 20).
 * Ports: every daemon listens on 127.0.0.1 port 0 (a free port the kernel
 * picks) and the bench reads the port from the daemon's status, so parallel
 * runs cannot collide. Daemons get SIGTERM on every exit path of the bench
 * (and PR_SET_PDEATHSIG should the bench itself be killed); the scratch
 * directory is removed unless --keep. Progress goes to stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "status.h"

#define WRITE_BATCH  1000    /* envelopes per node_write_batch commit on A */
#define SYNC_N       1000000 /* envelopes of the initial sync, at scale 1 */
#define LAT_N        200     /* writes of the latency run, at scale 1 */
#define LAT_GAP_MS   20      /* idle time between two latency writes */
#define POLL_SYNC_NS 2000000L
#define POLL_LAT_NS  200000L
#define STALL_S      60.0 /* no progress for this long: sync stalled (> vector_interval) */
#define BIG_MAP      ((size_t)4 << 30)
#define MAX_MAP      ((size_t)1 << 40)
#define COMMUNITY    "bench"
#define MAX_DAEMONS  8

/* ---- results ---- */

static char g_daemon[PATH_MAX];
static int g_keep;
static int g_batch; /* [sync] batch_envelopes for the initial sync; 0: the default */
static volatile sig_atomic_t g_interrupted;

/* ---- small helpers ---- */

static void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};

    nanosleep(&ts, NULL);
}

static void check_interrupt(void)
{
    if (g_interrupted)
        die("interrupted", "stopping the daemons and removing the scratch directory");
}

/* A store no longer needed (kept with --keep). */
static void drop_dir(const char *p)
{
    if (!g_keep)
        rm_rf(p);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double p)
{
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

/* Bytes a directory tree occupies on disk. */
static double du(const char *p)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    double sum = 0;

    if (lstat(p, &st))
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (double)st.st_blocks * 512.0;
    if (!(d = opendir(p)))
        return 0;
    while ((de = readdir(d))) {
        char sub[PATH_MAX];

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", p, de->d_name) < sizeof(sub))
            sum += du(sub);
    }
    closedir(d);
    return sum;
}

/* ---- /proc of a daemon ---- */

/* A "Name:   N kB" line of /proc/PID/status, in bytes (0 if absent). */
static double proc_kb(pid_t pid, const char *field)
{
    char p[64], line[256];
    size_t fl = strlen(field);
    double v = 0;
    FILE *f;

    snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
    if (!(f = fopen(p, "r")))
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtod(line + fl + 1, NULL) * 1024.0;
    fclose(f);
    return v;
}

/* A "name: N" line of /proc/PID/io (bytes passed to write(2) and the like). */
static double proc_io(pid_t pid, const char *field)
{
    char p[64], line[128];
    size_t fl = strlen(field);
    double v = 0;
    FILE *f;

    snprintf(p, sizeof(p), "/proc/%d/io", (int)pid);
    if (!(f = fopen(p, "r")))
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtod(line + fl + 1, NULL);
    fclose(f);
    return v;
}

/* User + system CPU seconds of a process (/proc/PID/stat fields 14 and 15). */
static double proc_cpu(pid_t pid)
{
    char p[64], buf[1024], *s;
    unsigned long ut = 0, st = 0;
    size_t n;
    FILE *f;

    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(p, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!(s = strrchr(buf, ')')))
        return 0;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) */
    if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- daemons ---- */

struct daemon {
    char name[16];
    char dir[PATH_MAX];
    char log[PATH_MAX];
    pid_t pid; /* 0: not running */
    int port;
    double started; /* now_s() at fork */
};

static struct daemon *g_daemons[MAX_DAEMONS];
static int g_ndaemons;

static void log_tail(const struct daemon *d, int lines)
{
    char buf[65536];
    FILE *f = fopen(d->log, "r");
    size_t n;
    int seen = 0;
    char *p;

    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    if (ftell(f) > (long)sizeof(buf) - 1)
        fseek(f, -(long)sizeof(buf) + 1, SEEK_END);
    else
        fseek(f, 0, SEEK_SET);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = buf + n;
    if (p > buf && p[-1] == '\n')
        p--;
    while (p > buf && !(p[-1] == '\n' && ++seen == lines))
        p--;
    fprintf(stderr, "--- last lines of %s (%s):\n%s", d->name, d->log, p);
}

static void daemon_dead(struct daemon *d, int status)
{
    d->pid = 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "bench_sync: daemon %s was killed by signal %d\n", d->name,
                WTERMSIG(status));
    else
        fprintf(stderr, "bench_sync: daemon %s exited with status %d\n", d->name,
                WEXITSTATUS(status));
    log_tail(d, 20);
    die(d->name, "daemon ended unexpectedly");
}

/* Still running? Dies (with the log's tail) when it is not. */
static void daemon_alive(struct daemon *d)
{
    int status;

    if (d->pid && waitpid(d->pid, &status, WNOHANG) == d->pid)
        daemon_dead(d, status);
}

/* SIGTERM, then wait up to `limit` s for a clean exit; SIGKILL after that.
 * Returns the exit status (0: stopped cleanly), -1 if it had to be killed. */
static int daemon_stop(struct daemon *d, double limit)
{
    double end = now_s() + limit;
    int status = 0;

    if (!d->pid)
        return 0;
    kill(d->pid, SIGTERM);
    for (;;) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);

        if (r == d->pid || (r < 0 && errno == ECHILD))
            break;
        if (now_s() > end) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &status, 0);
            d->pid = 0;
            return -1;
        }
        sleep_ns(5000000L);
    }
    d->pid = 0;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static void cleanup(void)
{
    for (int i = 0; i < g_ndaemons; i++)
        if (g_daemons[i]->pid)
            daemon_stop(g_daemons[i], 10.0);
    if (g_tmp[0] && !g_keep)
        rm_rf(g_tmp);
    else if (g_tmp[0])
        progress("kept %s", g_tmp);
}

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static void daemon_start(struct daemon *d, const char *peer)
{
    char peerbuf[64];
    const char *argv[12];
    int n = 0;
    pid_t pid, parent = getpid();
    sigset_t block, old;

    argv[n++] = g_daemon;
    argv[n++] = "-D";
    argv[n++] = d->dir;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    if (peer) {
        snprintf(peerbuf, sizeof(peerbuf), "%s", peer);
        argv[n++] = "--peer";
        argv[n++] = peerbuf;
    }
    argv[n] = NULL;
    check_interrupt();
    fflush(NULL);
    /* Until the child has reset its handlers, a SIGTERM sent to it (cleanup
     * right after an interrupt) would run this program's handler in the child
     * and be lost: keep the signals blocked across fork. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    d->started = now_s();
    pid = fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        die("fork", strerror(errno));
    }
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* The daemon must not outlive a bench killed with SIGKILL. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        if (fd >= 0)
            dup2(fd, 2);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
        }
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execv(g_daemon, (char *const *)argv);
        _exit(127);
    }
    d->pid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* One request on the control socket of d: the reply's code, and its payload
 * string (free()) when it is one. */
static int daemon_call(struct daemon *d, const char *method, char **text)
{
    const char *words[1] = {method};

    return cli_ctl_simple(d->dir, words, 1, text);
}

static json_t *daemon_status(struct daemon *d)
{
    char *text = NULL;
    json_t *j;
    int err = daemon_call(d, "status", &text);

    if (err || !text) {
        free(text);
        daemon_alive(d);
        die(d->name, err ? tx_strerror(err) : "status: no document");
    }
    j = json_loads(text, 0, NULL);
    free(text);
    if (!j)
        die(d->name, "status: not JSON");
    return j;
}

/* Wait until the control socket answers; then read the listening port. */
static void daemon_ready(struct daemon *d, double limit)
{
    double end = now_s() + limit;
    const char *listen, *p;
    json_t *st;
    int fd;

    for (;;) {
        check_interrupt();
        daemon_alive(d);
        if (cli_ctl_connect(d->dir, &fd) == TX_OK) {
            close(fd);
            break;
        }
        if (now_s() > end) {
            log_tail(d, 20);
            die(d->name, "the daemon did not open its control socket in time");
        }
        sleep_ns(2000000L);
    }
    st = daemon_status(d);
    listen = json_string_value(json_object_get(st, "listen"));
    if (!listen || !(p = strstr(listen, "(port ")) || (d->port = atoi(p + 6)) <= 0)
        die(d->name, "status: no listening port");
    json_decref(st);
}

static struct daemon *daemon_new(const char *name)
{
    struct daemon *d = calloc(1, sizeof(*d));
    char sock[PATH_MAX];

    if (!d)
        die("calloc", "out of memory");
    if (g_ndaemons == MAX_DAEMONS)
        die("daemon", "too many daemons");
    snprintf(d->name, sizeof(d->name), "%s", name);
    path(d->dir, sizeof(d->dir), name);
    if ((size_t)snprintf(d->log, sizeof(d->log), "%s.log", d->dir) >= sizeof(d->log))
        die("path", "scratch directory name too long");
    /* The control socket path must fit a sockaddr_un. */
    if ((size_t)snprintf(sock, sizeof(sock), "%s/%s", d->dir, CLI_CONTROL_SOCK) >= 100)
        die(sock, "path too long for a Unix socket: use a shorter --dir / TX_BENCH_TMP");
    g_daemons[g_ndaemons++] = d;
    return d;
}

/* An office of COMMUNITY, enrolled in the district. */
static void office_make(struct node_district *dist, const struct daemon *d,
                        uint8_t id[CRDT_KEY_BYTES])
{
    struct node_init_opts o = {COMMUNITY, NODE_ROLE_OFFICE, NULL};
    struct node_store *s;
    struct node_info info;
    uint8_t *blob = NULL;
    size_t len = 0;

    o.name = d->name;
    rm_rf(d->dir);
    check(node_init(d->dir, &o, NULL), "node_init");
    check(node_open(d->dir, 0, NULL, &s), "node_open");
    node_info(s, &info);
    check(node_district_issue(dist, info.id, COMMUNITY, NODE_ROLE_OFFICE, d->name, 30, &blob, &len),
          "node_district_issue");
    check(node_enrol_install(s, blob, len), "node_enrol_install");
    tx_free(blob);
    if (id)
        memcpy(id, info.id, CRDT_KEY_BYTES);
    node_close(s);
}

/* The head seq of one origin in s (0 if absent). */
struct head_q {
    const uint8_t *origin;
    uint64_t head, held;
};

static int head_cb(const struct node_origin_info *o, void *ctx)
{
    struct head_q *q = ctx;

    if (memcmp(o->origin, q->origin, CRDT_KEY_BYTES) == 0) {
        q->head = o->head;
        q->held = o->held;
        return 1;
    }
    return 0;
}

static uint64_t head_of(struct node_store *s, const uint8_t *origin)
{
    struct head_q q = {origin, 0, 0};
    int err = node_origins_each(s, head_cb, &q);

    if (err < 0)
        check(err, "node_origins_each");
    return q.head;
}

/* The first peer of a status document, its number field k (0 if absent). */
static double peer_num(json_t *st, const char *k)
{
    json_t *p = json_array_get(json_object_get(st, "peers"), 0);

    return p ? (double)json_integer_value(json_object_get(p, k)) : 0;
}

static double net_num(json_t *st, const char *k)
{
    return (double)json_integer_value(json_object_get(json_object_get(st, "net"), k));
}

/* ---- (l) limits ---- */

static double g_commit_t[400]; /* LMDB durable single-put commits, seconds */
static int g_commit_n;
static double g_commit_us; /* their median */

/* 200 durable commits of one put; sampled at the start and again after the
 * latency run, the median of all is the limit (the disk's pace drifts). */
static void commit_latency(void)
{
    enum { N = 200 };
    char dir[PATH_MAX];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    double t[N];
    uint8_t k[8], v[256];
    MDB_val key = {sizeof(k), k}, val = {sizeof(v), v};

    path(dir, sizeof(dir), "lmdb");
    rm_rf(dir);
    if (mkdir(dir, 0700))
        die(dir, strerror(errno));
    check_mdb(mdb_env_create(&env), "mdb_env_create");
    check_mdb(mdb_env_set_mapsize(env, (size_t)64 << 20), "mdb_env_set_mapsize");
    /* A normal environment: every commit is synced. */
    check_mdb(mdb_env_open(env, dir, MDB_NOTLS, 0600), "mdb_env_open");
    check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    check_mdb(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
    check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
    randombytes_buf(v, sizeof(v));
    for (int i = 0; i < N; i++) {
        double t0 = now_s();

        for (int b = 0; b < 8; b++)
            k[b] = (uint8_t)((uint64_t)i >> (56 - 8 * b));
        check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        check_mdb(mdb_put(txn, dbi, &key, &val, MDB_APPEND), "mdb_put");
        check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
        t[i] = now_s() - t0;
    }
    mdb_env_close(env);
    rm_rf(dir);
    for (int i = 0; i < N && g_commit_n < (int)(sizeof(g_commit_t) / sizeof(g_commit_t[0])); i++)
        g_commit_t[g_commit_n++] = t[i];
    qsort(g_commit_t, (size_t)g_commit_n, sizeof(double), cmp_double);
    g_commit_us = pct(g_commit_t, (size_t)g_commit_n, 50) * 1e6;
}

/* ---- (s) initial sync ---- */

struct sync_fig {
    size_t n;              /* envelopes written on A */
    uint64_t a_head;       /* A's head: what B must hold */
    double write_per_s;    /* node_write_batch on A */
    double env_bytes;      /* mean stored envelope */
    double wall, first;    /* B start -> all of A's envelopes; -> the first */
    double b_in, b_out;    /* B's session: wire bytes in and out */
    double b_env_in;       /* envelopes B received (duplicates included) */
    double a_cpu, b_cpu;   /* daemon CPU seconds */
    double a_hwm, b_hwm;   /* VmHWM, bytes */
    double a_anon, b_anon; /* RssAnon at the end */
    double a_du, b_du;     /* store sizes on disk */
    double handshakes, failures;
    double half;      /* B start -> half of A's envelopes */
    double ref_per_s; /* in-process node_ingest of A's log, the daemon's batches */
    double b_wchar;   /* bytes B wrote (LMDB pages and meta) */
};

static void sync_write(struct daemon *a, size_t n, struct sync_fig *f)
{
    struct node_change *ch = calloc(WRITE_BATCH, sizeof(*ch));
    char(*ids)[16] = calloc(WRITE_BATCH, 16);
    char(*vals)[64] = calloc(WRITE_BATCH, 64);
    size_t sizes[WRITE_BATCH], done = 0;
    char scope[CRDT_MAX_SCOPE + 1];
    struct node_store *s;
    struct node_info info;
    double t0, acc[2] = {0, 0};

    if (!ch || !ids || !vals)
        die("calloc", "out of memory");
    check(node_scope_general(COMMUNITY, scope), "scope");
    check(node_open(a->dir, 0, NULL, &s), "node_open");
    check(node_set_map_limits(s, BIG_MAP, MAX_MAP), "node_set_map_limits");
    node_info(s, &info);
    for (size_t i = 0; i < WRITE_BATCH; i++)
        sizes[i] = 1;
    t0 = now_s();
    while (done < n) {
        size_t k = n - done < WRITE_BATCH ? n - done : WRITE_BATCH;

        check_interrupt();
        for (size_t i = 0; i < k; i++) {
            snprintf(ids[i], 16, "c%07zu", done + i);
            snprintf(vals[i], 64, "Problem %zu raised by residents, bench", done + i);
            memset(&ch[i], 0, sizeof(ch[i]));
            ch[i].type = "case";
            ch[i].id = ids[i];
            ch[i].field = "title";
            ch[i].code = CRDT_OP_LWW_SET;
            ch[i].value.type = CRDT_STR;
            ch[i].value.s = vals[i];
            ch[i].value.len = (uint32_t)strlen(vals[i]);
        }
        check(node_write_batch(s, scope, ch, sizes, k, NULL), "node_write_batch");
        done += k;
        if (done % 200000 == 0 && done < n)
            progress("    %zu envelopes written (%.0f/s)", done, (double)done / (now_s() - t0));
    }
    f->write_per_s = (double)n / (now_s() - t0);
    f->a_head = head_of(s, info.id);
    check(node_log_each(s, info.id, 0, env_size, acc), "node_log_each");
    f->env_bytes = acc[1] > 0 ? acc[0] / acc[1] : 0;
    node_close(s);
    free(ch);
    free(ids);
    free(vals);
}

/* The limit of the receiving side, in process: A's log exported with
 * node_log_each and ingested into a fresh office of the community with
 * node_ingest, in calls of what one ENVELOPES message carries (batch_envelopes,
 * default 1024, and at most 256 KiB of envelopes + 5 bytes each), durable
 * commits; only the node_ingest calls are timed. */
struct ref_ctx {
    struct node_store *dst;
    uint8_t *buf;
    size_t used, n, batch, offs[4096], lens[4096];
    double t;
    uint64_t calls;
    struct node_ingest_report sum;
};

static void ref_flush(struct ref_ctx *r)
{
    const uint8_t *envs[4096];
    struct node_ingest_report rep;
    double t0;

    if (!r->n)
        return;
    for (size_t i = 0; i < r->n; i++)
        envs[i] = r->buf + r->offs[i];
    t0 = now_s();
    check(node_ingest(r->dst, envs, r->lens, r->n, &rep), "node_ingest");
    r->t += now_s() - t0;
    r->calls++;
    r->sum.accepted += rep.accepted;
    r->sum.rejected += rep.rejected;
    r->sum.held += rep.held;
    r->sum.unreadable += rep.unreadable;
    r->sum.badbody += rep.badbody;
    r->n = r->used = 0;
}

#define REF_BYTES ((size_t)256 << 10) /* the session's batch byte limit */

static int ref_cb(const struct node_log_entry *e, void *ctx)
{
    struct ref_ctx *r = ctx;

    if (r->n && (r->n == r->batch || r->used + e->size + 5 * (r->n + 1) > REF_BYTES))
        ref_flush(r);
    memcpy(r->buf + r->used, e->bytes, e->size);
    r->offs[r->n] = r->used;
    r->lens[r->n++] = e->size;
    r->used += e->size;
    return g_interrupted;
}

static double ingest_reference(struct node_district *dist, struct daemon *a, uint64_t total)
{
    struct daemon ref;
    struct node_store *src;
    struct ref_ctx *r = calloc(1, sizeof(*r));
    int err;

    if (!r || !(r->buf = malloc(REF_BYTES + CRDT_MAX_ENVELOPE)))
        die("malloc", "out of memory");
    memset(&ref, 0, sizeof(ref));
    snprintf(ref.name, sizeof(ref.name), "sync-ref");
    path(ref.dir, sizeof(ref.dir), "sync-ref");
    office_make(dist, &ref, NULL);
    check(node_open(ref.dir, 0, NULL, &r->dst), "node_open");
    check(node_set_map_limits(r->dst, BIG_MAP, MAX_MAP), "node_set_map_limits");
    check(node_open(a->dir, NODE_OPEN_READONLY, NULL, &src), "node_open A read-only");
    r->batch = g_batch ? (size_t)g_batch : 1024; /* the session default (net/session.c) */
    err = node_log_each(src, NULL, 0, ref_cb, r);
    check_interrupt(); /* ref_cb stops the walk on an interrupt */
    check(err, "node_log_each");
    ref_flush(r);
    node_close(src);
    node_close(r->dst);
    if (r->sum.accepted != total || r->sum.rejected || r->sum.held || r->sum.unreadable ||
        r->sum.badbody) {
        fprintf(stderr,
                "bench_sync: reference ingest: accepted %llu of %llu, rejected %llu, held %llu, "
                "unreadable %llu, badbody %llu\n",
                (unsigned long long)r->sum.accepted, (unsigned long long)total,
                (unsigned long long)r->sum.rejected, (unsigned long long)r->sum.held,
                (unsigned long long)r->sum.unreadable, (unsigned long long)r->sum.badbody);
        die("reference ingest", "not every envelope was accepted and readable");
    }
    progress("    in process: %llu envelopes in %llu node_ingest calls, %.0f/s",
             (unsigned long long)total, (unsigned long long)r->calls, (double)total / r->t);
    drop_dir(ref.dir);
    {
        double rate = (double)total / r->t;

        free(r->buf);
        free(r);
        return rate;
    }
}

static void bench_sync(struct node_district *dist, struct sync_fig *f)
{
    struct daemon *a = daemon_new("sync-a"), *b = daemon_new("sync-b");
    uint8_t a_id[CRDT_KEY_BYTES];
    char peer[64], scope[CRDT_MAX_SCOPE + 1];
    struct node_store *rb;
    struct node_stats st;
    struct node_record rec;
    json_t *sb;
    double t0, last_change, next_report;
    uint64_t head = 0, seen = 0;
    int rca, rcb;

    memset(f, 0, sizeof(*f));
    f->n = scaled(SYNC_N, 1000);
    check(node_scope_general(COMMUNITY, scope), "scope");
    office_make(dist, a, a_id);
    office_make(dist, b, NULL);
    progress("(s) initial sync: writing %zu envelopes on A, %d per commit", f->n, WRITE_BATCH);
    sync_write(a, f->n, f);
    progress("    written at %.0f envelopes/s; A's head %llu; mean envelope %.0f B", f->write_per_s,
             (unsigned long long)f->a_head, f->env_bytes);
    f->a_du = du(a->dir);
    progress("    limit of the receiver: A's log ingested in process");
    f->ref_per_s = ingest_reference(dist, a, f->a_head);
    if (g_batch) {
        /* A variant: larger ENVELOPES messages (one ingest transaction each). */
        char conf[PATH_MAX + 32];
        FILE *cf;

        for (int k = 0; k < 2; k++) {
            snprintf(conf, sizeof(conf), "%s/tongxind.conf", (k ? b : a)->dir);
            if (!(cf = fopen(conf, "w")))
                die(conf, strerror(errno));
            fprintf(cf, "[sync]\nbatch_envelopes = %d\n", g_batch);
            fclose(cf);
        }
        progress("    [sync] batch_envelopes = %d on both daemons", g_batch);
    }
    verify_samples(3); /* no daemon running */

    daemon_start(a, NULL);
    daemon_ready(a, 60);
    check(node_open(b->dir, NODE_OPEN_READONLY, NULL, &rb), "node_open B read-only");
    snprintf(peer, sizeof(peer), "127.0.0.1:%d", a->port);
    progress("    A listens on port %d; starting B (--peer %s)", a->port, peer);
    t0 = now_s();
    daemon_start(b, peer);
    last_change = next_report = t0;
    for (;;) {
        double t;

        check_interrupt();
        head = head_of(rb, a_id);
        t = now_s();
        if (head != seen) {
            if (!seen)
                f->first = t - t0;
            if (seen < f->a_head / 2 && head >= f->a_head / 2)
                f->half = t - t0;
            seen = head;
            last_change = t;
        }
        if (head >= f->a_head)
            break;
        if (t >= next_report) {
            daemon_alive(a);
            daemon_alive(b);
            if (t > t0)
                progress("    B holds %llu of %llu (%.0f/s)", (unsigned long long)head,
                         (unsigned long long)f->a_head, (double)head / (t - t0));
            next_report = t + 5.0;
        }
        if (t - last_change > STALL_S) {
            log_tail(a, 15);
            log_tail(b, 15);
            fprintf(stderr, "bench_sync: B holds %llu of A's %llu envelopes\n",
                    (unsigned long long)head, (unsigned long long)f->a_head);
            die("initial sync", "no progress for 60 s: sync stalled");
        }
        sleep_ns(POLL_SYNC_NS);
    }
    f->wall = now_s() - t0;
    progress("    B holds all %llu envelopes of A after %.2f s", (unsigned long long)f->a_head,
             f->wall);
    /* The figures of the daemons, just before they stop. */
    sb = daemon_status(b);
    f->b_in = peer_num(sb, "bytes_in");
    f->b_out = peer_num(sb, "bytes_out");
    f->b_env_in = peer_num(sb, "envelopes_in");
    f->failures = peer_num(sb, "failures");
    f->handshakes = net_num(sb, "handshakes_ok");
    json_decref(sb);
    f->a_cpu = proc_cpu(a->pid);
    f->b_cpu = proc_cpu(b->pid);
    f->a_hwm = proc_kb(a->pid, "VmHWM");
    f->b_hwm = proc_kb(b->pid, "VmHWM");
    f->a_anon = proc_kb(a->pid, "RssAnon");
    f->b_wchar = proc_io(b->pid, "wchar");
    f->b_anon = proc_kb(b->pid, "RssAnon");
    rcb = daemon_stop(b, 30);
    rca = daemon_stop(a, 30);
    if (rca || rcb) {
        log_tail(a, 10);
        log_tail(b, 10);
        die("initial sync", "a daemon did not stop cleanly (exit status above)");
    }
    /* B applied what it received: every record readable, nothing held. */
    check(node_stats(rb, &st), "node_stats");
    if (st.held || st.records < f->n) {
        fprintf(stderr, "bench_sync: B: %llu records, %llu held, %llu envelopes\n",
                (unsigned long long)st.records, (unsigned long long)st.held,
                (unsigned long long)st.envelopes);
        die("initial sync", "B did not apply everything it received");
    }
    {
        char last[16];

        snprintf(last, sizeof(last), "c%07zu", f->n - 1);
        check(node_get(rb, scope, "case", last, &rec), "node_get on B");
        node_record_release(&rec);
    }
    node_close(rb);
    f->b_du = du(b->dir);
    drop_dir(a->dir);
    drop_dir(b->dir);
}

/* ---- (p) propagation latency ---- */

struct lat_fig {
    size_t n;
    double *lat, *ack, *atb; /* sorted, seconds: at C, acknowledged, at B */
    double *nw, *commit;     /* interleaved limits: node_write in process, LMDB commit */
    size_t lost;             /* writes that did not reach C within 60 s */
    double a_cpu, b_cpu, c_cpu;
};

/* ["put", scope, [["case", id, "title", LWW_SET, value]]] on an open control
 * connection; returns the reply's code. */
static int ctl_put(int fd, const char *scope, const char *id, const char *val)
{
    struct tx_mpw w;
    struct tx_mpr r;
    uint8_t *resp = NULL;
    size_t rlen = 0;
    int64_t code = TX_EPROTO;
    int err;

    tx_mpw_init(&w, 4096);
    tx_mpw_array(&w, 3);
    tx_mpw_str(&w, "put", 3);
    tx_mpw_str(&w, scope, strlen(scope));
    tx_mpw_array(&w, 1);
    tx_mpw_array(&w, 5);
    tx_mpw_str(&w, "case", 4);
    tx_mpw_str(&w, id, strlen(id));
    tx_mpw_str(&w, "title", 5);
    tx_mpw_uint(&w, CRDT_OP_LWW_SET);
    tx_mpw_str(&w, val, strlen(val));
    err = tx_mpw_finish(&w);
    if (!err)
        err = cli_ctl_call(fd, w.buf, w.len, &resp, &rlen);
    tx_mpw_release(&w);
    if (err)
        return err;
    tx_mpr_init(&r, resp, rlen);
    if (tx_mpr_array_n(&r, 2) || tx_mpr_int(&r, &code))
        code = TX_EPROTO;
    free(resp);
    return (int)code;
}

/* Is the record readable in s? */
static int has_record(struct node_store *s, const char *scope, const char *id)
{
    struct node_record rec;
    int err = node_get(s, scope, "case", id, &rec);

    if (err == TX_OK) {
        node_record_release(&rec);
        return 1;
    }
    if (err != TX_ENOTFOUND)
        check(err, "node_get");
    return 0;
}

/* Poll B (may be NULL) and C until the record is readable on C: seconds since
 * t0, or -1 after limit; *at_b gets the time it was first seen on B (at the
 * latest when seen on C). */
static double wait_record(struct node_store *b, struct node_store *c, const char *scope,
                          const char *id, double t0, double limit, double *at_b)
{
    *at_b = -1;
    for (;;) {
        double t;

        if (b && *at_b < 0 && has_record(b, scope, id))
            *at_b = now_s() - t0;
        if (has_record(c, scope, id)) {
            t = now_s() - t0;
            if (*at_b < 0)
                *at_b = t;
            return t;
        }
        if (now_s() - t0 > limit)
            return -1;
        check_interrupt();
        sleep_ns(POLL_LAT_NS);
    }
}

static void bench_latency(struct node_district *dist, struct lat_fig *f)
{
    struct daemon *a = daemon_new("lat-a"), *b = daemon_new("lat-b"), *c = daemon_new("lat-c");
    char peer[64], scope[CRDT_MAX_SCOPE + 1], id[32], val[64];
    struct node_store *rb, *rc, *ws;
    struct daemon w;
    char ldir[PATH_MAX];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    double cpu0[3], at_b;
    int fd, st[3];

    memset(f, 0, sizeof(*f));
    f->n = scaled(LAT_N, 20);
    f->lat = calloc(f->n, sizeof(double));
    f->ack = calloc(f->n, sizeof(double));
    f->atb = calloc(f->n, sizeof(double));
    f->nw = calloc(f->n, sizeof(double));
    f->commit = calloc(f->n, sizeof(double));
    if (!f->lat || !f->ack || !f->atb || !f->nw || !f->commit)
        die("calloc", "out of memory");
    check(node_scope_general(COMMUNITY, scope), "scope");
    office_make(dist, a, NULL);
    office_make(dist, b, NULL);
    office_make(dist, c, NULL);
    /* The limits, measured write by write in between: a durable node_write of
     * the same change into a store of this process (no daemon), and LMDB's
     * durable commit of one put. The disk's pace drifts; these see the same. */
    memset(&w, 0, sizeof(w));
    snprintf(w.name, sizeof(w.name), "lat-w");
    path(w.dir, sizeof(w.dir), "lat-w");
    office_make(dist, &w, NULL);
    check(node_open(w.dir, 0, NULL, &ws), "node_open");
    path(ldir, sizeof(ldir), "lmdb-lat");
    rm_rf(ldir);
    if (mkdir(ldir, 0700))
        die(ldir, strerror(errno));
    check_mdb(mdb_env_create(&env), "mdb_env_create");
    check_mdb(mdb_env_set_mapsize(env, (size_t)64 << 20), "mdb_env_set_mapsize");
    check_mdb(mdb_env_open(env, ldir, MDB_NOTLS, 0600), "mdb_env_open");
    check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    check_mdb(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
    check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
    progress("(p) propagation A -> B -> C (C dials B, B dials A): %zu writes on A, %d ms apart",
             f->n, LAT_GAP_MS);
    daemon_start(a, NULL);
    daemon_ready(a, 60);
    snprintf(peer, sizeof(peer), "127.0.0.1:%d", a->port);
    daemon_start(b, peer);
    daemon_ready(b, 60);
    snprintf(peer, sizeof(peer), "127.0.0.1:%d", b->port);
    daemon_start(c, peer);
    daemon_ready(c, 60);
    check(node_open(b->dir, NODE_OPEN_READONLY, NULL, &rb), "node_open B read-only");
    check(node_open(c->dir, NODE_OPEN_READONLY, NULL, &rc), "node_open C read-only");
    check(cli_ctl_connect(a->dir, &fd), "control socket of A");
    /* Warm up: the sessions open and the enrolment envelopes spread. */
    check(ctl_put(fd, scope, "warm-up", "first write"), "put on A");
    if (wait_record(NULL, rc, scope, "warm-up", now_s(), 60, &at_b) < 0) {
        log_tail(a, 10);
        log_tail(b, 10);
        log_tail(c, 10);
        die("latency", "the warm-up write did not reach C in 60 s");
    }
    sleep_ns(500000000L);
    cpu0[0] = proc_cpu(a->pid);
    cpu0[1] = proc_cpu(b->pid);
    cpu0[2] = proc_cpu(c->pid);
    for (size_t i = 0; i < f->n; i++) {
        double t0, t;
        int err;

        check_interrupt();
        snprintf(id, sizeof(id), "lat-%05zu", i);
        snprintf(val, sizeof(val), "Problem %zu, written on A", i);
        t0 = now_s();
        err = ctl_put(fd, scope, id, val);
        t = now_s();
        if (err) {
            daemon_alive(a);
            die("put on A", tx_strerror(err));
        }
        f->ack[i] = t - t0;
        f->lat[i] = wait_record(rb, rc, scope, id, t0, 60, &f->atb[i]);
        if (f->lat[i] < 0) {
            f->lost++;
            f->lat[i] = f->atb[i] = 60;
            progress("    write %zu did not reach C within 60 s", i);
            daemon_alive(b);
            daemon_alive(c);
        }
        {
            struct node_change ch;
            uint8_t k[8], v[256];
            MDB_val key = {sizeof(k), k}, mval = {sizeof(v), v};

            memset(v, (int)i, sizeof(v));
            for (int j = 0; j < 8; j++)
                k[j] = (uint8_t)((uint64_t)i >> (56 - 8 * j));
            t0 = now_s();
            check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
            check_mdb(mdb_put(txn, dbi, &key, &mval, MDB_APPEND), "mdb_put");
            check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
            f->commit[i] = now_s() - t0;
            memset(&ch, 0, sizeof(ch));
            ch.type = "case";
            ch.id = id;
            ch.field = "title";
            ch.code = CRDT_OP_LWW_SET;
            ch.value.type = CRDT_STR;
            ch.value.s = val;
            ch.value.len = (uint32_t)strlen(val);
            t0 = now_s();
            check(node_write(ws, scope, &ch, 1, NULL), "node_write");
            f->nw[i] = now_s() - t0;
        }
        sleep_ns(LAT_GAP_MS * 1000000L);
    }
    mdb_env_close(env);
    node_close(ws);
    rm_rf(ldir);
    drop_dir(w.dir);
    close(fd);
    f->a_cpu = proc_cpu(a->pid) - cpu0[0];
    f->b_cpu = proc_cpu(b->pid) - cpu0[1];
    f->c_cpu = proc_cpu(c->pid) - cpu0[2];
    st[2] = daemon_stop(c, 30);
    st[1] = daemon_stop(b, 30);
    st[0] = daemon_stop(a, 30);
    node_close(rb);
    node_close(rc);
    if (st[0] || st[1] || st[2]) {
        log_tail(a, 10);
        log_tail(b, 10);
        log_tail(c, 10);
        die("latency", "a daemon did not stop cleanly");
    }
    if (f->lost)
        progress("    %zu of %zu writes did not reach C within 60 s (counted as 60 s)", f->lost,
                 f->n);
    qsort(f->lat, f->n, sizeof(double), cmp_double);
    qsort(f->ack, f->n, sizeof(double), cmp_double);
    qsort(f->atb, f->n, sizeof(double), cmp_double);
    qsort(f->nw, f->n, sizeof(double), cmp_double);
    qsort(f->commit, f->n, sizeof(double), cmp_double);
    drop_dir(a->dir);
    drop_dir(b->dir);
    drop_dir(c->dir);
}

/* ---- output ---- */

/* Every row, once every limit sample is in. */
static void settle(const struct sync_fig *s, const struct lat_fig *l)
{
    double v = g_verify_best, r, mib = 1024.0 * 1024.0;
    char label[80];

    snprintf(label, sizeof(label), "Ed25519 verify (51-byte msg), best of %d", g_verify_n);
    add("verify_per_s", label, v, "/s", -1, NULL, NULL, -1);
    if (s)
        add("ingest_ref_per_s", "node_ingest in process, A's log, batches as sent", s->ref_per_s,
            "/s", s->ref_per_s / v, "Ed25519 verify", NULL, -1);
    snprintf(label, sizeof(label), "LMDB durable commit of 1 put, median of %d", g_commit_n);
    add("lmdb_commit_us", label, g_commit_us, "us", -1, NULL, NULL, -1);
    if (s) {
        double n = (double)s->a_head;

        add("sync_envelopes", "(s) envelopes of A synced to B", n, "", -1, NULL, NULL, -1);
        add("sync_write_per_s", "  written on A: node_write_batch, 1000/commit", s->write_per_s,
            "/s", s->write_per_s / v, "Ed25519 verify", NULL, -1);
        add("sync_wall_s", "  wall time, B's start to B holding all", s->wall, "s", -1, NULL, NULL,
            -1);
        add("sync_first_s", "  of which start + handshake (first envelope)", s->first, "s",
            s->first / s->wall, "of wall time", NULL, -1);
        r = n / s->wall;
        add("sync_env_per_s", "initial sync, envelopes/s", r, "/s", r / v, "Ed25519 verify",
            ">= 0.60x", r / v >= 0.60);
        add("sync_vs_ingest", "  against in-process ingest of the same batches", r, "/s",
            r / s->ref_per_s, "node_ingest in process", NULL, -1);
        add("sync_second_half", "  rate over the second half of the envelopes",
            (n - n / 2) / (s->wall - s->half), "/s",
            (n - n / 2) / (s->wall - s->half) / ((n / 2) / s->half), "rate over the first half",
            NULL, -1);
        add("sync_b_cpu_us", "  B (receiver) CPU us per envelope", s->b_cpu * 1e6 / n, "us",
            s->b_cpu / s->wall, "of wall time", NULL, -1);
        add("sync_a_cpu_us", "  A (sender) CPU us per envelope", s->a_cpu * 1e6 / n, "us",
            s->a_cpu / s->wall, "of wall time", NULL, -1);
        add("sync_b_wchar", "  B: bytes written to its store per envelope", s->b_wchar / n, "B", -1,
            NULL, NULL, -1);
        add("sync_wire_in_per_env", "  bytes on the wire A->B per envelope", s->b_in / n, "B",
            s->b_in / n / s->env_bytes, "mean stored envelope", NULL, -1);
        add("sync_wire_out_per_env", "  bytes on the wire B->A per envelope", s->b_out / n, "B", -1,
            NULL, NULL, -1);
        add("sync_env_bytes", "  mean stored envelope (1 LWW op, encrypted)", s->env_bytes, "B", -1,
            NULL, NULL, -1);
        add("sync_env_received", "  envelopes B received (duplicates included)", s->b_env_in, "",
            s->b_env_in / n, "A's envelopes", NULL, -1);
        add("sync_sessions", "  sessions B opened (handshakes)", s->handshakes, "", -1, NULL, NULL,
            -1);
        add("sync_a_hwm_mib", "  peak RSS of A (VmHWM)", s->a_hwm / mib, "MiB", s->a_hwm / s->a_du,
            "A's store on disk", NULL, -1);
        add("sync_a_anon_mib", "    of which anonymous (RssAnon at the end)", s->a_anon / mib,
            "MiB", -1, NULL, NULL, -1);
        add("sync_b_hwm_mib", "  peak RSS of B (VmHWM)", s->b_hwm / mib, "MiB", s->b_hwm / s->b_du,
            "B's store on disk", NULL, -1);
        add("sync_b_anon_mib", "    of which anonymous (RssAnon at the end)", s->b_anon / mib,
            "MiB", -1, NULL, NULL, -1);
        add("sync_a_store_mib", "  A's store on disk", s->a_du / mib, "MiB", -1, NULL, NULL, -1);
    }
    if (l) {
        double c = pct(l->nw, l->n, 50) * 1e3, p50 = pct(l->lat, l->n, 50) * 1e3,
               p99 = pct(l->lat, l->n, 99) * 1e3, ack = pct(l->ack, l->n, 50) * 1e3,
               lc = pct(l->commit, l->n, 50) * 1e3;

        add("lat_writes", "(p) writes on A, propagated A -> B -> C", (double)l->n, "", -1, NULL,
            NULL, -1);
        add("lat_lmdb_commit_p50_ms", "  limit: LMDB durable commit, interleaved, p50", lc, "ms",
            -1, NULL, NULL, -1);
        add("lat_node_write_p50_ms", "  limit: node_write in process, interleaved, p50", c, "ms",
            c / lc, "LMDB durable commit", NULL, -1);
        add("lat_node_write_p99_ms", "  limit: node_write in process, interleaved, p99",
            pct(l->nw, l->n, 99) * 1e3, "ms", -1, NULL, NULL, -1);
        add("lat_ack_p50_ms", "  put acknowledged by A, p50", ack, "ms", ack / c,
            "node_write in process", NULL, -1);
        add("lat_ack_p99_ms", "  put acknowledged by A, p99", pct(l->ack, l->n, 99) * 1e3, "ms",
            pct(l->ack, l->n, 99) * 1e3 / c, "node_write in process", NULL, -1);
        add("lat_b_p50_ms", "  readable on B (one hop), p50", pct(l->atb, l->n, 50) * 1e3, "ms",
            pct(l->atb, l->n, 50) * 1e3 / (2 * c), "2 node_writes", NULL, -1);
        add("lat_b_p99_ms", "  readable on B (one hop), p99", pct(l->atb, l->n, 99) * 1e3, "ms",
            pct(l->atb, l->n, 99) * 1e3 / (2 * c), "2 node_writes", NULL, -1);
        add("lat_p50_ms", "propagation to C, p50", p50, "ms", p50 / (3 * c), "3 node_writes", NULL,
            -1);
        add("lat_p90_ms", "  p90", pct(l->lat, l->n, 90) * 1e3, "ms",
            pct(l->lat, l->n, 90) * 1e3 / (3 * c), "3 node_writes", NULL, -1);
        add("lat_p99_ms", "propagation to C, p99", p99, "ms", p99 / (3 * c), "3 node_writes",
            "< 50 ms", p99 < 50.0);
        add("lat_max_ms", "  max", l->lat[l->n - 1] * 1e3, "ms", -1, NULL, NULL, -1);
        add("lat_lost", "  writes not on C within 60 s", (double)l->lost, "", -1, NULL, "0",
            l->lost == 0);
        add("lat_cpu_us", "  CPU us per write, A + B + C daemons",
            (l->a_cpu + l->b_cpu + l->c_cpu) * 1e6 / (double)l->n, "us", -1, NULL, NULL, -1);
    }
}

static void default_daemon(const char *argv0)
{
    const char *e = getenv("TONGXIND_BIN");
    char exe[PATH_MAX], *slash;
    ssize_t n;

    if (e && *e) {
        snprintf(g_daemon, sizeof(g_daemon), "%s", e);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0)
        exe[n] = '\0';
    else
        snprintf(exe, sizeof(exe), "%s", argv0);
    /* BUILD/bench/bench_sync -> BUILD/cli/tongxind */
    if ((slash = strrchr(exe, '/')))
        *slash = '\0';
    else
        snprintf(exe, sizeof(exe), ".");
    snprintf(g_daemon, sizeof(g_daemon), "%.*s/../cli/tongxind", (int)(sizeof(g_daemon) - 20), exe);
}

int main(int argc, char **argv)
{
    const char *json_file = NULL, *dir = NULL, *only = NULL, *sc = getenv("TX_BENCH_SCALE");
    int json_only = 0, do_sync, do_lat;
    double t0 = now_s();
    struct node_district *dist;
    struct sync_fig sf;
    struct lat_fig lf;
    struct sigaction sa;
    char ddir[PATH_MAX];

    bench_name = "bench_sync";
    g_daemon[0] = '\0';
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json_only = 1;
        } else if (strncmp(argv[i], "--json=", 7) == 0) {
            json_file = argv[i] + 7;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--daemon") == 0 && i + 1 < argc) {
            snprintf(g_daemon, sizeof(g_daemon), "%s", argv[++i]);
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            g_batch = atoi(argv[++i]);
            if (g_batch < 1 || g_batch > 4096) {
                fprintf(stderr, "bench_sync: --batch: 1 to 4096 envelopes\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--keep") == 0) {
            g_keep = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--json | --json=FILE] [--dir DIR] [--only sp] [--daemon PATH] "
                    "[--batch N] [--keep]\n",
                    argv[0]);
            return 2;
        }
    }
    do_sync = !only || strchr(only, 's');
    do_lat = !only || strchr(only, 'p');
    if (!do_sync && !do_lat) {
        FILE *f = json_file ? fopen(json_file, "w") : NULL;

        progress("--only %s: no network section (s, p) selected; nothing to do", only);
        if (json_only)
            print_json(stdout);
        if (f) {
            print_json(f); /* no results: the file of an earlier run is not left behind */
            fclose(f);
        }
        return 0;
    }
    if (!g_daemon[0])
        default_daemon(argv[0]);
    if (access(g_daemon, X_OK) != 0) {
        fprintf(stderr, "bench_sync: no tongxind at %s (build it, or give --daemon PATH)\n",
                g_daemon);
        return 2;
    }
    if (!dir)
        dir = getenv("TX_BENCH_TMP");
    if (!dir)
        dir = getenv("TMPDIR");
    if (!dir)
        dir = "/tmp";
    if (sc && *sc && strtod(sc, NULL) > 0)
        g_scale = strtod(sc, NULL);
    if (sodium_init() < 0)
        die("sodium_init", "failed");
    mkdir(dir, 0755);
    if ((size_t)snprintf(g_tmp, sizeof(g_tmp), "%s/sync-%d", dir, (int)getpid()) >= sizeof(g_tmp))
        die(dir, "name too long");
    rm_rf(g_tmp);
    if (mkdir(g_tmp, 0700))
        die(g_tmp, strerror(errno));
    atexit(cleanup);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: sleeps end early */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    progress("scratch directory %s, scale %g, daemon %s", g_tmp, g_scale, g_daemon);

    loadavg(load0);
    progress("(l) Ed25519 verify rate, LMDB durable commit latency");
    verify_samples(5);
    commit_latency();
    path(ddir, sizeof(ddir), "district");
    check(node_district_init(ddir, NULL), "node_district_init");
    check(node_district_open(ddir, NULL, &dist), "node_district_open");
    if (do_sync)
        bench_sync(dist, &sf);
    verify_samples(3);
    if (do_lat)
        bench_latency(dist, &lf);
    commit_latency();
    verify_samples(3);
    node_district_close(dist);
    loadavg(load1);
    settle(do_sync ? &sf : NULL, do_lat ? &lf : NULL);

    if (json_only) {
        print_json(stdout);
    } else {
        print_table(stdout, 26, 12);
        if (json_file) {
            FILE *f = fopen(json_file, "w");

            if (!f)
                die(json_file, strerror(errno));
            print_json(f);
            fclose(f);
        }
    }
    if (do_lat) {
        free(lf.lat);
        free(lf.ack);
        free(lf.atb);
        free(lf.nw);
        free(lf.commit);
    }
    progress("done in %.1f s", now_s() - t0);
    return 0;
}
