/*
 * test_crash.c - crash safety of durable writes under kill -9.
 *
 * The parent creates a node, then over and over forks a child that opens the
 * store (after the fork: no fork with an open LMDB environment) and writes
 * without pause: single envelopes through node_write and group commits through
 * node_write_batch. Each envelope sets a fresh record ("crash", "r<round>-<k>")
 * field "v" to a value derived from (seed, round, k) and adds 1 to the counter
 * ("crash", "total") field "n". Only after node_write / node_write_batch
 * returned 0 does the child report (origin, seq, envelope hash, round, k) to
 * the parent through a pipe, one write(2) of at most PIPE_BUF bytes per call.
 *
 * The parent waits for a random number of acknowledgements (0..200; 0 kills
 * the child while it opens the store), sometimes adds a random delay of up to
 * 1 ms to move the kill point within a commit, kills the child with SIGKILL,
 * reaps it, drains the acknowledgements still in the pipe, and reopens the
 * store. Then every acknowledged write must be there:
 *   - the origin's head is at least the largest acknowledged seq, and no seq is
 *     ever acknowledged twice (that would mean an acknowledged write was lost
 *     and its seq reused);
 *   - the log holds seq 1..head of the origin, and each acknowledged seq holds
 *     exactly the acknowledged envelope (same hash);
 *   - each acknowledged record reads back with node_get with its value, written
 *     by that origin at that seq;
 *   - the counter equals the head (append and apply committed together);
 *   - node_verify passes; a new write after the reopen works (and is checked
 *     like the child's).
 *
 * TX_CRASH_KILLS sets the number of kills (default 60), TX_CRASH_SEED replays
 * the random choices (which writes, batch sizes, when to kill; the exact
 * instant of each kill depends on the scheduler). A new store is started every
 * STORE_KILLS kills so that checking stays linear in long soak runs.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node.h"
#include "txtest.h"

#define MAX_BATCH      32      /* envelopes in one group commit */
#define MAX_TARGET     200     /* acknowledgements before the kill, at most */
#define STORE_KILLS    100     /* kills per store before a fresh one is made */
#define CHILD_MAX      1000000 /* writes a child makes if never killed */
#define ACK_TIMEOUT_MS 60000   /* no acknowledgement for this long: a hang */
#define PARENT_K       UINT32_MAX
#define COMMUNITY      "crash"

/* One acknowledged envelope, as sent through the pipe. */
struct ack {
    uint8_t origin[CRDT_KEY_BYTES];
    uint8_t hash[CRDT_HASH_BYTES];
    uint64_t seq;
    uint32_t round;
    uint32_t k; /* index of the write within its child; PARENT_K for the parent */
};

_Static_assert(MAX_BATCH * sizeof(struct ack) <= PIPE_BUF, "one batch, one atomic pipe write");

/* What the parent knows about the seqs of the current store. */
struct slot {
    uint8_t hash[CRDT_HASH_BYTES];
    uint32_t round, k;
    uint8_t acked;
};

struct crash {
    uint64_t seed;
    char dir[PATH_MAX];
    char scope[CRDT_MAX_SCOPE + 1];
    uint8_t origin[CRDT_KEY_BYTES];
    struct slot *slots; /* indexed by seq */
    size_t nslots;
    uint64_t max_acked;
    struct ack *round_acks; /* acknowledged in this round */
    size_t nround, capround;
    uint64_t acked_total; /* over the whole run */
    uint64_t kills, verifies;
    uint64_t unacked; /* committed, but the child died before reporting them */
    uint64_t kills_unacked;
};

/* ---- values derived from (seed, round, k), so the parent can recompute them ---- */

static void record_id(uint32_t round, uint32_t k, char *out, size_t cap)
{
    if (k == PARENT_K)
        snprintf(out, cap, "r%u-p", round);
    else
        snprintf(out, cap, "r%u-%u", round, k);
}

static size_t record_value(uint64_t seed, uint32_t round, uint32_t k, char *out /* >= 129 */)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    struct txt_rng r = {seed ^ ((uint64_t)round << 32) ^ k};
    size_t n = 8 + (size_t)txt_below(&r, 120);

    for (size_t i = 0; i < n; i++)
        out[i] = al[txt_below(&r, sizeof(al) - 1)];
    out[n] = '\0';
    return n;
}

/* The two changes of one envelope. Strings are borrowed from id and val. */
static void make_changes(struct node_change *ch, const char *id, const char *val, size_t vlen)
{
    memset(ch, 0, 2 * sizeof(*ch));
    ch[0].type = "crash";
    ch[0].id = id;
    ch[0].field = "v";
    ch[0].code = CRDT_OP_LWW_SET;
    ch[0].value.type = CRDT_STR;
    ch[0].value.s = val;
    ch[0].value.len = (uint32_t)vlen;
    ch[1].type = "crash";
    ch[1].id = "total";
    ch[1].field = "n";
    ch[1].code = CRDT_OP_CTR_ADD;
    ch[1].value.type = CRDT_INT;
    ch[1].value.i = 1;
}

/* ---- the child ---- */

static void child_fail(const char *what, int err, int code)
{
    fprintf(stderr, "crash child: %s: %s\n", what, tx_strerror(err));
    _exit(code);
}

/* Never returns. Killed by the parent, normally. */
static void child_main(const struct crash *c, uint32_t round, uint64_t cseed, int fd)
{
    struct txt_rng r = {cseed};
    struct node_store *s;
    int err;

    if ((err = node_open(c->dir, 0, NULL, &s)))
        child_fail("node_open", err, 3);
    for (uint32_t k = 0; k < CHILD_MAX;) {
        struct node_change ch[2 * MAX_BATCH];
        size_t sizes[MAX_BATCH], vlen;
        char ids[MAX_BATCH][32], vals[MAX_BATCH][130];
        struct node_write_result res[MAX_BATCH];
        struct ack acks[MAX_BATCH];
        size_t nb = txt_below(&r, 10) < 6 ? 1 : 2 + (size_t)txt_below(&r, MAX_BATCH - 1);

        for (size_t i = 0; i < nb; i++) {
            record_id(round, k + (uint32_t)i, ids[i], sizeof(ids[i]));
            vlen = record_value(c->seed, round, k + (uint32_t)i, vals[i]);
            make_changes(&ch[2 * i], ids[i], vals[i], vlen);
            sizes[i] = 2;
        }
        if (nb == 1)
            err = node_write(s, c->scope, ch, 2, res);
        else
            err = node_write_batch(s, c->scope, ch, sizes, nb, res);
        if (err)
            child_fail(nb == 1 ? "node_write" : "node_write_batch", err, 4);
        /* Acknowledge only now: the commit returned 0. */
        for (size_t i = 0; i < nb; i++) {
            memcpy(acks[i].origin, res[i].origin, CRDT_KEY_BYTES);
            memcpy(acks[i].hash, res[i].hash, CRDT_HASH_BYTES);
            acks[i].seq = res[i].seq;
            acks[i].round = round;
            acks[i].k = k + (uint32_t)i;
        }
        if (txt_write_all(fd, acks, nb * sizeof(acks[0])))
            _exit(5);
        k += (uint32_t)nb;
    }
    node_close(s);
    _exit(6); /* the parent should have killed us long ago */
}

/* ---- the parent ---- */

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;

    if (d) {
        while ((de = readdir(d))) {
            char sub[PATH_MAX];

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < sizeof(sub))
                rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Take one acknowledgement: a seq acknowledged twice means a write that was
 * acknowledged was lost and its seq handed out again. */
static void take_ack(struct crash *c, const struct ack *a)
{
    char hex[NODE_ID_HEX + 1];

    if (memcmp(a->origin, c->origin, CRDT_KEY_BYTES) != 0) {
        node_hex(a->origin, CRDT_KEY_BYTES, hex);
        fail_msg("round %u: acknowledgement from unknown origin %s", a->round, hex);
    }
    if (a->seq == 0)
        fail_msg("round %u: acknowledged seq 0", a->round);
    if (a->seq >= c->nslots) {
        size_t n = c->nslots ? c->nslots : 1024;
        struct slot *ns;

        while (n <= a->seq)
            n *= 2;
        ns = realloc(c->slots, n * sizeof(*ns));
        assert_non_null(ns);
        memset(ns + c->nslots, 0, (n - c->nslots) * sizeof(*ns));
        c->slots = ns;
        c->nslots = n;
    }
    if (c->slots[a->seq].acked)
        fail_msg("LOST WRITE: seq %llu acknowledged in round %u (k %u) and again in round %u "
                 "(k %u): the first acknowledged envelope was lost; store kept at %s",
                 (unsigned long long)a->seq, c->slots[a->seq].round, c->slots[a->seq].k, a->round,
                 a->k, c->dir);
    memcpy(c->slots[a->seq].hash, a->hash, CRDT_HASH_BYTES);
    c->slots[a->seq].round = a->round;
    c->slots[a->seq].k = a->k;
    c->slots[a->seq].acked = 1;
    if (a->seq > c->max_acked)
        c->max_acked = a->seq;
    if (c->nround == c->capround) {
        size_t n = c->capround ? 2 * c->capround : 256;
        struct ack *na = realloc(c->round_acks, n * sizeof(*na));

        assert_non_null(na);
        c->round_acks = na;
        c->capround = n;
    }
    c->round_acks[c->nround++] = *a;
    c->acked_total++;
}

struct ack_read {
    struct crash *c;
    uint64_t want, got;
};

static int ack_take(const void *rec, void *ctx)
{
    struct ack_read *r = ctx;
    struct ack a;

    memcpy(&a, rec, sizeof(a));
    take_ack(r->c, &a);
    r->got++;
    return r->want && r->got >= r->want;
}

/* Read acknowledgements from fd. With want > 0, stop once `want` have arrived
 * (*eof = 0) or at end of file (*eof = 1); with want == 0 read to end of file.
 * Partial records left at end of file are ignored: the child died inside its
 * report, and nothing says that write was acknowledged. */
static uint64_t read_acks(struct crash *c, int fd, pid_t pid, uint64_t want, int *eof)
{
    static struct txt_pipe pipe_in;
    struct ack_read r = {c, want, 0};
    char where[PATH_MAX + 16];

    snprintf(where, sizeof(where), "store at %s", c->dir);
    *eof =
        txt_pipe_read(&pipe_in, fd, pid, sizeof(struct ack), ACK_TIMEOUT_MS, where, ack_take, &r);
    return r.got;
}

static int count_self(const struct node_origin_info *o, void *ctx)
{
    struct node_origin_info *out = ctx;

    if (o->flags & NODE_ORIGIN_SELF)
        *out = *o;
    return 0;
}

struct log_check {
    struct crash *c;
    uint64_t next;
    int bad;
};

static int check_log_entry(const struct node_log_entry *e, void *ctx)
{
    struct log_check *lc = ctx;
    struct crash *c = lc->c;

    if (e->seq != lc->next) {
        print_error("log: expected seq %llu, found %llu\n", (unsigned long long)lc->next,
                    (unsigned long long)e->seq);
        lc->bad = 1;
        return 1;
    }
    if (e->seq < c->nslots && c->slots[e->seq].acked &&
        memcmp(e->hash, c->slots[e->seq].hash, CRDT_HASH_BYTES) != 0) {
        print_error("log: seq %llu holds another envelope than the one acknowledged\n",
                    (unsigned long long)e->seq);
        lc->bad = 1;
        return 1;
    }
    if (!e->readable) {
        print_error("log: seq %llu not readable\n", (unsigned long long)e->seq);
        lc->bad = 1;
        return 1;
    }
    lc->next++;
    return 0;
}

/* The record of one acknowledged write holds its value, written at its seq. */
static void check_record(struct crash *c, struct node_store *s, const struct ack *a)
{
    char id[32], want[130];
    size_t wlen = record_value(c->seed, a->round, a->k, want);
    struct node_record rec;
    const struct crdt_field *f;
    const struct crdt_lww_entry *w;
    int err;

    record_id(a->round, a->k, id, sizeof(id));
    err = node_get(s, c->scope, "crash", id, &rec);
    if (err)
        fail_msg("LOST WRITE: record %s (seq %llu, acknowledged) unreadable: %s; store at %s", id,
                 (unsigned long long)a->seq, tx_strerror(err), c->dir);
    f = crdt_record_field(&rec.rec, "v", 1, CRDT_LWW);
    w = f ? crdt_lww_winner(f) : NULL;
    if (!w || f->u.lww.n != 1 || w->v.type != CRDT_STR || w->v.len != wlen ||
        memcmp(w->v.s, want, wlen) != 0 || w->dot.seq != a->seq ||
        memcmp(w->dot.origin, a->origin, CRDT_KEY_BYTES) != 0) {
        node_record_release(&rec);
        fail_msg("record %s (seq %llu) does not hold the acknowledged value; store at %s", id,
                 (unsigned long long)a->seq, c->dir);
    }
    node_record_release(&rec);
}

static void problem(const char *what, void *ctx)
{
    (void)ctx;
    print_error("verify: %s\n", what);
}

/* Reopen after a kill and check everything acknowledged so far in this store
 * (the records of this round's acknowledgements, or of all with all_records). */
static void check_store(struct crash *c, uint32_t round, int verify, int all_records)
{
    struct node_store *s;
    struct node_origin_info self;
    struct log_check lc = {c, 1, 0};
    struct node_record tot;
    struct node_stats st;
    const struct crdt_field *f;
    struct node_change ch[2];
    struct node_write_result res;
    struct ack pa;
    char id[32], val[130];
    size_t vlen;
    int err;

    if ((err = node_open(c->dir, 0, NULL, &s)))
        fail_msg("reopen after kill %llu: %s; store at %s", (unsigned long long)c->kills,
                 tx_strerror(err), c->dir);
    memset(&self, 0, sizeof(self));
    assert_int_equal(node_origins_each(s, count_self, &self), 0);
    if (memcmp(self.origin, c->origin, CRDT_KEY_BYTES) != 0)
        fail_msg("own origin missing after reopen; store at %s", c->dir);
    if (self.head < c->max_acked)
        fail_msg("LOST WRITE: head %llu after kill %llu, but seq %llu was acknowledged; store "
                 "at %s",
                 (unsigned long long)self.head, (unsigned long long)c->kills,
                 (unsigned long long)c->max_acked, c->dir);
    if (self.head > c->max_acked) {
        c->unacked += self.head - c->max_acked;
        c->kills_unacked++;
    }
    err = node_log_each(s, c->origin, 0, check_log_entry, &lc);
    if (err || lc.bad || lc.next != self.head + 1)
        fail_msg("log of the origin broken after kill %llu (%s, %llu of %llu envelopes); store "
                 "at %s",
                 (unsigned long long)c->kills, tx_strerror(err), (unsigned long long)(lc.next - 1),
                 (unsigned long long)self.head, c->dir);
    assert_int_equal(node_stats(s, &st), 0);
    assert_int_equal(st.envelopes, self.head);
    assert_int_equal(st.held, 0);
    if (all_records) {
        for (uint64_t q = 1; q < c->nslots && q <= c->max_acked; q++) {
            struct ack a;

            if (!c->slots[q].acked)
                continue;
            memcpy(a.origin, c->origin, CRDT_KEY_BYTES);
            a.seq = q;
            a.round = c->slots[q].round;
            a.k = c->slots[q].k;
            check_record(c, s, &a);
        }
    } else {
        for (size_t i = 0; i < c->nround; i++)
            check_record(c, s, &c->round_acks[i]);
    }
    /* Every envelope adds 1: the counter is the head iff each envelope was
     * applied in the transaction that appended it. */
    if (self.head) {
        assert_int_equal(node_get(s, c->scope, "crash", "total", &tot), 0);
        f = crdt_record_field(&tot.rec, "n", 1, CRDT_COUNTER);
        if (!f || (uint64_t)f->u.counter != self.head)
            fail_msg("counter %lld != head %llu after kill %llu: append and apply split; store "
                     "at %s",
                     f ? (long long)f->u.counter : -1LL, (unsigned long long)self.head,
                     (unsigned long long)c->kills, c->dir);
        node_record_release(&tot);
    }
    if (verify) {
        err = node_verify(s, problem, NULL);
        if (err)
            fail_msg("node_verify after kill %llu: %s; store at %s", (unsigned long long)c->kills,
                     tx_strerror(err), c->dir);
        c->verifies++;
    }
    /* A new write after the reopen works, and is acknowledged like the child's. */
    record_id(round, PARENT_K, id, sizeof(id));
    vlen = record_value(c->seed, round, PARENT_K, val);
    make_changes(ch, id, val, vlen);
    if ((err = node_write(s, c->scope, ch, 2, &res)))
        fail_msg("write after reopen (kill %llu): %s; store at %s", (unsigned long long)c->kills,
                 tx_strerror(err), c->dir);
    if (res.seq != self.head + 1)
        fail_msg("write after reopen got seq %llu, head was %llu", (unsigned long long)res.seq,
                 (unsigned long long)self.head);
    memcpy(pa.origin, res.origin, CRDT_KEY_BYTES);
    memcpy(pa.hash, res.hash, CRDT_HASH_BYTES);
    pa.seq = res.seq;
    pa.round = round;
    pa.k = PARENT_K;
    take_ack(c, &pa);
    check_record(c, s, &pa);
    node_close(s);
}

static void new_store(struct crash *c, const char *base, unsigned n)
{
    struct node_init_opts o = {COMMUNITY, NODE_ROLE_OFFICE, NULL};
    struct node_store *s;
    struct node_info info;
    int len = snprintf(c->dir, sizeof(c->dir), "%s/crash-%d-%u", base, (int)getpid(), n);

    assert_true(len > 0 && (size_t)len < sizeof(c->dir));
    rm_rf(c->dir);
    assert_int_equal(node_init(c->dir, &o, NULL), 0);
    assert_int_equal(node_open(c->dir, 0, NULL, &s), 0);
    assert_int_equal(node_info(s, &info), 0);
    memcpy(c->origin, info.id, CRDT_KEY_BYTES);
    node_close(s); /* closed before any fork */
    free(c->slots);
    c->slots = NULL;
    c->nslots = 0;
    c->max_acked = 0;
}

static void test_crash_kill9(void **state)
{
    const char *ks = getenv("TX_CRASH_KILLS");
    const char *tmp = getenv("TX_TEST_TMP");
    long kills = ks && *ks ? strtol(ks, NULL, 10) : 60;
    struct crash *c = calloc(1, sizeof(*c));
    struct txt_rng rng;
    uint64_t t0 = txt_mono_ms();
    char base[PATH_MAX];
    unsigned stores = 0;
    (void)state;

    assert_non_null(c);
    if (kills <= 0)
        kills = 60;
    c->seed = txt_seed("TX_CRASH_SEED", "crash");
    rng.s = c->seed;
    snprintf(base, sizeof(base), "%s", tmp && *tmp ? tmp : "/tmp");
    mkdir(base, 0755);
    assert_int_equal(node_scope_general(COMMUNITY, c->scope), 0);
    signal(SIGPIPE, SIG_IGN);
    for (long kill_no = 0; kill_no < kills; kill_no++) {
        uint32_t round = (uint32_t)kill_no;
        long in_store = kill_no % STORE_KILLS;
        int last_in_store = in_store == STORE_KILLS - 1 || kill_no == kills - 1;
        uint64_t target, cseed = txt_next(&rng), jitter_us;
        int fds[2], status, eof;
        pid_t pid;

        if (in_store == 0)
            new_store(c, base, stores++);
        /* 5% die while opening the store; the rest after 1..200 acknowledgements. */
        target = txt_below(&rng, 20) == 0 ? 0 : 1 + txt_below(&rng, MAX_TARGET);
        jitter_us = txt_below(&rng, 2) ? txt_below(&rng, 1000) : 0;
        c->nround = 0;
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(c, round, cseed, fds[1]);
        }
        close(fds[1]);
        if (target) {
            read_acks(c, fds[0], pid, target, &eof);
            if (eof) {
                waitpid(pid, &status, 0);
                fail_msg("child exited before it was killed (status 0x%x, round %u); store at %s",
                         (unsigned)status, round, c->dir);
            }
        }
        if (jitter_us) {
            struct timespec ts = {0, (long)jitter_us * 1000};

            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* Acknowledgements already in the pipe were made before the kill. */
        read_acks(c, fds[0], pid, 0, &eof);
        close(fds[0]);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("child ended otherwise than by our SIGKILL (status 0x%x, round %u); store "
                     "at %s",
                     (unsigned)status, round, c->dir);
        c->kills++;
        /* node_verify re-checks every signature: every kill while the store is
         * small, every 5th later, always at the end of a store. */
        check_store(c, round, c->max_acked <= 5000 || in_store % 5 == 0 || last_in_store,
                    last_in_store);
        if (last_in_store)
            rm_rf(c->dir);
    }
    printf("crash: %llu kills, %llu acknowledged writes, seed %llu, all present "
           "(%u stores, %llu verifies; %llu kills fell between a commit and its report, leaving "
           "%llu envelopes committed but unacknowledged; %.1f s)\n",
           (unsigned long long)c->kills, (unsigned long long)c->acked_total,
           (unsigned long long)c->seed, stores, (unsigned long long)c->verifies,
           (unsigned long long)c->kills_unacked, (unsigned long long)c->unacked,
           (double)(txt_mono_ms() - t0) / 1000.0);
    free(c->slots);
    free(c->round_acks);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_kill9),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
