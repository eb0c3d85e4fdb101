/*
 * test_crash_ingest.c - crash safety of node_ingest_many under kill -9.
 *
 * node_ingest_many ingests n envelopes in batches of per_txn, one LMDB write
 * transaction per batch, preparing the next batch on a second thread while one
 * commits, with MDB_NOMETASYNC set for the call (a batch's meta page is
 * flushed by the next commit) and one mdb_env_sync at the end. Its contract:
 * when it returns 0 everything it ingested is durable; a crash during a call
 * may lose only batches not yet reported; the store always reopens consistent.
 *
 * Setup: a source node writes N envelopes (default 8000, TX_CRASH_INGEST_ENVS)
 * into its community's general scope, each one LWW set of ("crash",
 * "r<i % 500>").v (so records are overwritten again and again, each write
 * superseding the last) and one add of 1 to the counter ("crash", "total").n.
 * Its log is exported in memory (envelope bytes and hashes, index seq - 1),
 * with its state and log digests. A target node receives the scope key
 * (node_key_wrap / node_key_import), so ingest decrypts and applies.
 *
 * Each round forks a child that opens the target (after the fork, durable
 * flags 0), finds the source origin's head there and ingests the rest of the
 * source's log through node_ingest_many in chunks of 1..4000 envelopes (small
 * ones likelier, mean about 1000) with per_txn 1..700 and at most MAX_COMMITS
 * batches per call, a quarter of the children with TONGXIN_VERIFY_THREADS=1
 * (no pipeline thread). Before each call it sends BEGIN(first, last, per_txn)
 * through a pipe, and DONE(first, last, per_txn) only after the call returned
 * 0 with every envelope accepted; one write(2) of 24 bytes each (atomic on a
 * pipe). When everything is in, it exits 0. The parent kills it with SIGKILL
 * after a random number of DONEs (0..8; 0 kills it while it opens the store
 * or in its first call) and a random delay: none (a quarter of the rounds),
 * 0..3 ms (a quarter: the start of a call) or 0..40 ms (half: a call runs for
 * about 5..300 ms, so this lands after some of its batches committed, where
 * a meta page may still wait for the next commit's flush). It reaps the
 * child, drains the pipe and reopens the target. Checks:
 *   - LOST INGEST: the head of the source origin is at least the largest
 *     acknowledged seq, and never below a head seen after an earlier kill;
 *   - batch atomicity: with a call in flight (BEGIN without DONE) the head is
 *     first - 1 + k * per_txn or last (whole batches committed, in order);
 *     with none in flight it equals the last acknowledged seq exactly
 *     (nothing is committed outside a call);
 *   - the log holds seq 1..head of the source origin, each byte for byte the
 *     source's envelope (and its hash), readable; node_stats: head envelopes,
 *     nothing held;
 *   - the state is exactly the source's state after envelope `head`: every
 *     record r<j> holds the value of the last envelope <= head that wrote it,
 *     as its only LWW entry, with that envelope's dot, records not yet
 *     written are absent, and the counter equals head (each envelope applied
 *     exactly once, in the transaction that appended it);
 *   - node_verify passes (every signature and chain link).
 * When a child gets through everything (it is not killed in time, or killed
 * only in node_close after its last DONE: not counted as a kill) the same
 * checks run except node_verify (the log is compared byte for byte instead),
 * the target must equal the source (node_digest and node_digest_log) and a
 * fresh target is started. After the kills (default 25, TX_CRASH_INGEST_KILLS)
 * the parent ingests the rest itself through node_ingest_many and checks the
 * target, digests included. TX_CRASH_INGEST_SEED replays the random choices
 * (the instant of each kill depends on the scheduler);
 * TX_CRASH_INGEST_VERBOSE=1 prints each round.
 *
 * What fails which check:
 *   - returning 0 before the last batch is committed, or dropping it: LOST
 *     INGEST (head < acknowledged), or the child's next call finds a gap
 *     (envelopes held, not accepted) and the child exits 7 (both seen with a
 *     scratch copy of node/ingest.c that reports the last batch of a call
 *     without committing it, and with a child that sends DONE before the call);
 *   - a batch committed in several transactions, or batches committed out of
 *     order: the batch-boundary check (seen with a scratch node/ingest.c that
 *     commits every batch as two halves: it fails at the first or second kill
 *     with a call in flight);
 *   - log append and apply in different transactions, a prepared batch applied
 *     in the wrong transaction or twice: the record/counter check, the log
 *     comparison, and the final digests;
 *   - a torn or inconsistent store: node_open or node_verify fails.
 * A kill -9 loses no page the kernel already holds, so this test cannot see
 * a missing flush (a meta page never synced, MDB_NOMETASYNC left set after the
 * call, the final mdb_env_sync left out: a scratch node/ingest.c doing the last
 * two passes): that needs a power cut, not a process kill.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "txnode.h"

#define COMMUNITY      "crashin"
#define NREC           500   /* records the source overwrites in turn */
#define DEF_ENVS       8000  /* envelopes in the source's log */
#define WRITE_BATCH    250   /* envelopes per node_write_batch of the source */
#define MAX_CHUNK      4000  /* envelopes per node_ingest_many call, at most */
#define MAX_PER_TXN    700   /* per_txn, at most */
#define MAX_COMMITS    100   /* batches per call, at most (per_txn 1 means 100) */
#define MAX_ACKS       8     /* DONEs before the kill, at most */
#define SHORT_DELAY_US 3000  /* extra delay before the kill: short ... */
#define LONG_DELAY_US  40000 /* ... or long enough to pass a commit or more */
#define DEF_KILLS      25
#define ACK_TIMEOUT_MS 60000 /* no message for this long: a hang */

enum { MSG_BEGIN = 1, MSG_DONE = 2 };

/* One message from the child. */
struct msg {
    uint32_t kind;
    uint32_t per_txn;
    uint64_t first, last; /* seqs of the source origin the call covers */
};

_Static_assert(sizeof(struct msg) <= PIPE_BUF, "one message, one atomic pipe write");

struct ctx {
    uint64_t seed;
    size_t n; /* envelopes of the source */
    char srcdir[TXN_PATH];
    char scope[CRDT_MAX_SCOPE + 1];
    uint8_t origin[CRDT_KEY_BYTES];
    struct txn_envs envs;             /* index seq - 1 */
    uint8_t (*hash)[CRDT_HASH_BYTES]; /* index seq - 1 */
    struct txn_digests dig;

    /* The current target. */
    char dir[TXN_PATH];
    uint64_t head;      /* head seen at the last check */
    uint64_t max_acked; /* largest seq acknowledged (DONE) */
    /* The messages of the current round. */
    uint64_t expect_first; /* first seq of the next BEGIN */
    struct msg pending;    /* the call in flight; kind 0 if none */

    /* Counters over the run. */
    uint64_t kills, rounds, completions, targets, acks, acked_envs, verifies;
    uint64_t mid_call;      /* kills with a call in flight */
    uint64_t partial;       /* ... that had committed some but not all of its batches */
    uint64_t unacked_kills; /* kills leaving committed envelopes unacknowledged */
    uint64_t unacked_envs;
    uint64_t max_head_killed;
    uint64_t late_kills; /* kills after the child's last call: counted as completions */
};

/* ---- the source's content, derived from (seed, i) ---- */

static size_t value_of(uint64_t seed, size_t i, char *out /* >= 160 */)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    struct txt_rng r = {seed ^ (0x5bd1e995ull * (uint64_t)(i + 1))};
    int len = snprintf(out, 32, "v%zu-", i);
    size_t n = (size_t)len + (size_t)txt_below(&r, 100);

    for (size_t k = (size_t)len; k < n; k++)
        out[k] = al[txt_below(&r, sizeof(al) - 1)];
    out[n] = '\0';
    return n;
}

static int collect_cb(const struct node_log_entry *e, void *vctx)
{
    struct ctx *c = vctx;

    assert_int_equal(e->seq, c->envs.n + 1);
    txn_envs_push(&c->envs, e->bytes, e->size);
    memcpy(c->hash[e->seq - 1], e->hash, CRDT_HASH_BYTES);
    return 0;
}

static void make_source(struct ctx *c)
{
    struct node_init_opts o = {COMMUNITY, NODE_ROLE_OFFICE, NULL};
    struct node_store *s;
    struct node_change *ch = calloc(2 * WRITE_BATCH, sizeof(*ch));
    size_t sizes[WRITE_BATCH];
    char(*ids)[16] = calloc(WRITE_BATCH, sizeof(*ids));
    char(*vals)[160] = calloc(WRITE_BATCH, sizeof(*vals));
    struct node_stats st;

    assert_non_null(ch);
    assert_non_null(ids);
    assert_non_null(vals);
    txn_tmpdir(c->srcdir, sizeof(c->srcdir), "crash-ingest-src");
    assert_int_equal(node_init(c->srcdir, &o, NULL), TX_OK);
    assert_int_equal(node_open(c->srcdir, NODE_OPEN_NOSYNC, NULL, &s), TX_OK);
    txn_id(s, c->origin);
    assert_int_equal(node_scope_general(COMMUNITY, c->scope), TX_OK);
    for (size_t i = 0; i < c->n;) {
        size_t nb = c->n - i < WRITE_BATCH ? c->n - i : WRITE_BATCH;

        for (size_t k = 0; k < nb; k++) {
            size_t vlen = value_of(c->seed, i + k, vals[k]);

            snprintf(ids[k], sizeof(ids[k]), "r%zu", (i + k) % NREC);
            ch[2 * k] = txn_ch_str("crash", ids[k], "v", vals[k]);
            ch[2 * k].value.len = (uint32_t)vlen;
            memset(&ch[2 * k + 1], 0, sizeof(ch[0]));
            ch[2 * k + 1].type = "crash";
            ch[2 * k + 1].id = "total";
            ch[2 * k + 1].field = "n";
            ch[2 * k + 1].code = CRDT_OP_CTR_ADD;
            ch[2 * k + 1].value.type = CRDT_INT;
            ch[2 * k + 1].value.i = 1;
            sizes[k] = 2;
        }
        assert_int_equal(node_write_batch(s, c->scope, ch, sizes, nb, NULL), TX_OK);
        i += nb;
    }
    /* The source's log is its own envelopes, nothing else. */
    assert_int_equal(node_stats(s, &st), TX_OK);
    assert_int_equal(st.envelopes, c->n);
    c->hash = calloc(c->n, sizeof(*c->hash));
    assert_non_null(c->hash);
    assert_int_equal(node_log_each(s, c->origin, 0, collect_cb, c), TX_OK);
    assert_int_equal(c->envs.n, c->n);
    txn_digests(s, &c->dig);
    node_close(s);
    free(ch);
    free(ids);
    free(vals);
}

/* A fresh target holding the scope key. Both stores are closed again before
 * any fork. */
static void new_target(struct ctx *c)
{
    struct node_store *t = txn_node_new(c->dir, sizeof(c->dir), "crash-ingest", COMMUNITY);
    struct node_store *s;

    assert_int_equal(node_open(c->srcdir, NODE_OPEN_NOSYNC, NULL, &s), TX_OK);
    txn_share_key(s, t, c->scope);
    node_close(s);
    node_close(t);
    c->head = 0;
    c->max_acked = 0;
    c->targets++;
}

/* ---- the child ---- */

struct head_find {
    const uint8_t *origin;
    uint64_t head;
};

static int head_cb(const struct node_origin_info *o, void *vctx)
{
    struct head_find *h = vctx;

    if (memcmp(o->origin, h->origin, CRDT_KEY_BYTES) == 0)
        h->head = o->head;
    return 0;
}

static void child_fail(const char *what, int err, int code)
{
    fprintf(stderr, "crash-ingest child: %s: %s\n", what, tx_strerror(err));
    _exit(code);
}

/* Never returns: killed by the parent, or exit 0 when everything is in. */
static void child_main(const struct ctx *c, uint64_t cseed, int fd)
{
    struct txt_rng r = {cseed};
    struct head_find h = {c->origin, 0};
    struct node_store *s;
    size_t next;
    int err;

    if (txt_below(&r, 4) == 0)
        setenv("TONGXIN_VERIFY_THREADS", "1", 1);
    if ((err = node_open(c->dir, 0, NULL, &s)))
        child_fail("node_open", err, 3);
    if ((err = node_origins_each(s, head_cb, &h)))
        child_fail("node_origins_each", err, 4);
    for (next = (size_t)h.head; next < c->n;) {
        size_t per = 1 + (size_t)txt_below(&r, MAX_PER_TXN);
        /* 1..MAX_CHUNK, small chunks more likely (mean about MAX_CHUNK / 4), so
         * that a child usually needs more calls than it is allowed to finish. */
        size_t k = 1 + (size_t)txt_below(&r, 1 + txt_below(&r, MAX_CHUNK));
        struct node_ingest_report rep;
        struct msg m;

        if (k > per * MAX_COMMITS)
            k = per * MAX_COMMITS;
        if (k > c->n - next)
            k = c->n - next;
        m = (struct msg){MSG_BEGIN, (uint32_t)per, next + 1, next + k};
        if (txt_write_all(fd, &m, sizeof(m)))
            _exit(5);
        err = node_ingest_many(s, c->envs.b + next, c->envs.len + next, k, per, &rep);
        if (err)
            child_fail("node_ingest_many", err, 6);
        if (rep.accepted != k || rep.duplicate || rep.held || rep.released || rep.unreadable ||
            rep.rejected || rep.badbody) {
            fprintf(stderr,
                    "crash-ingest child: seqs %zu..%zu: accepted %llu duplicate %llu held %llu "
                    "released %llu unreadable %llu rejected %llu badbody %llu\n",
                    next + 1, next + k, (unsigned long long)rep.accepted,
                    (unsigned long long)rep.duplicate, (unsigned long long)rep.held,
                    (unsigned long long)rep.released, (unsigned long long)rep.unreadable,
                    (unsigned long long)rep.rejected, (unsigned long long)rep.badbody);
            _exit(7);
        }
        /* Acknowledge only now: the call returned 0. */
        m.kind = MSG_DONE;
        if (txt_write_all(fd, &m, sizeof(m)))
            _exit(5);
        next += k;
    }
    node_close(s);
    _exit(0);
}

/* ---- the parent ---- */

static const char *child_status(int status)
{
    if (!WIFEXITED(status))
        return "killed by another signal";
    switch (WEXITSTATUS(status)) {
    case 3: return "node_open failed";
    case 4: return "node_origins_each failed";
    case 5: return "pipe write failed";
    case 6: return "node_ingest_many failed";
    case 7: return "a call did not accept every envelope (see its stderr)";
    default: return "unexpected exit";
    }
}

static void take_msg(struct ctx *c, const struct msg *m)
{
    if (m->kind == MSG_BEGIN) {
        if (c->pending.kind)
            fail_msg("BEGIN %llu..%llu while %llu..%llu is in flight", (unsigned long long)m->first,
                     (unsigned long long)m->last, (unsigned long long)c->pending.first,
                     (unsigned long long)c->pending.last);
        if (m->first != c->expect_first || m->last < m->first || m->last > c->n || m->per_txn < 1 ||
            m->per_txn > MAX_PER_TXN)
            fail_msg("bad BEGIN %llu..%llu per %u (expected first %llu); target at %s",
                     (unsigned long long)m->first, (unsigned long long)m->last, m->per_txn,
                     (unsigned long long)c->expect_first, c->dir);
        c->pending = *m;
    } else if (m->kind == MSG_DONE) {
        if (c->pending.kind != MSG_BEGIN || c->pending.first != m->first ||
            c->pending.last != m->last || c->pending.per_txn != m->per_txn)
            fail_msg("DONE %llu..%llu without its BEGIN", (unsigned long long)m->first,
                     (unsigned long long)m->last);
        memset(&c->pending, 0, sizeof(c->pending));
        c->max_acked = m->last;
        c->expect_first = m->last + 1;
        c->acks++;
        c->acked_envs += m->last - m->first + 1;
    } else {
        fail_msg("unknown message kind %u", m->kind);
    }
}

struct msg_read {
    struct ctx *c;
    uint64_t want, got;
};

static int msg_take(const void *rec, void *vctx)
{
    struct msg_read *r = vctx;
    struct msg m;

    memcpy(&m, rec, sizeof(m));
    take_msg(r->c, &m);
    r->got += m.kind == MSG_DONE;
    return r->want && r->got >= r->want;
}

/* Read messages until `want` DONEs arrived (*eof = 0) or end of file (*eof = 1);
 * want == 0: to end of file. A partial message at end of file is ignored (the
 * child died inside write(2), which does not happen for 24 bytes on a pipe). */
static void read_msgs(struct ctx *c, int fd, pid_t pid, uint64_t want, int *eof)
{
    static struct txt_pipe pipe_in;
    struct msg_read r = {c, want, 0};
    char where[PATH_MAX + 16];

    snprintf(where, sizeof(where), "target at %s", c->dir);
    *eof =
        txt_pipe_read(&pipe_in, fd, pid, sizeof(struct msg), ACK_TIMEOUT_MS, where, msg_take, &r);
}

struct log_check {
    const struct ctx *c;
    uint64_t next;
    int bad;
};

static int log_cb(const struct node_log_entry *e, void *vctx)
{
    struct log_check *lc = vctx;

    if (e->seq != lc->next || e->seq > lc->c->n) {
        print_error("log: expected seq %llu, found %llu\n", (unsigned long long)lc->next,
                    (unsigned long long)e->seq);
        lc->bad = 1;
        return 1;
    }
    if (memcmp(e->hash, lc->c->hash[e->seq - 1], CRDT_HASH_BYTES) != 0 ||
        e->size != lc->c->envs.len[e->seq - 1] ||
        memcmp(e->bytes, lc->c->envs.b[e->seq - 1], e->size) != 0) {
        print_error("log: seq %llu holds another envelope than the source's\n",
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

/* The state is the source's after its first `head` envelopes. */
static void check_state(struct ctx *c, struct node_store *t, uint64_t head)
{
    struct node_record rec;
    const struct crdt_field *f;
    char id[16], want[160];
    int err;

    for (size_t j = 0; j < NREC; j++) {
        const struct crdt_lww_entry *w;
        size_t i, wlen;

        snprintf(id, sizeof(id), "r%zu", j);
        err = node_get(t, c->scope, "crash", id, &rec);
        if (j >= head) {
            if (err != TX_ENOTFOUND)
                fail_msg("record %s present (%s) although head is %llu; target at %s", id,
                         tx_errname(err), (unsigned long long)head, c->dir);
            if (!err)
                node_record_release(&rec);
            continue;
        }
        if (err)
            fail_msg("record %s: %s at head %llu; target at %s", id, tx_errname(err),
                     (unsigned long long)head, c->dir);
        i = j + NREC * (size_t)((head - 1 - j) / NREC); /* last envelope <= head writing it */
        wlen = value_of(c->seed, i, want);
        f = crdt_record_field(&rec.rec, "v", 1, CRDT_LWW);
        w = f ? crdt_lww_winner(f) : NULL;
        if (!w || f->u.lww.n != 1 || w->v.type != CRDT_STR || w->v.len != wlen ||
            memcmp(w->v.s, want, wlen) != 0 || w->dot.seq != i + 1 ||
            memcmp(w->dot.origin, c->origin, CRDT_KEY_BYTES) != 0) {
            node_record_release(&rec);
            fail_msg("record %s at head %llu does not hold envelope %zu's value alone (%u "
                     "entries, winner seq %llu); target at %s",
                     id, (unsigned long long)head, i + 1, f ? f->u.lww.n : 0,
                     w ? (unsigned long long)w->dot.seq : 0ULL, c->dir);
        }
        node_record_release(&rec);
    }
    err = node_get(t, c->scope, "crash", "total", &rec);
    if (!head) {
        if (err != TX_ENOTFOUND)
            fail_msg("counter present (%s) at head 0; target at %s", tx_errname(err), c->dir);
        if (!err)
            node_record_release(&rec);
        return;
    }
    if (err)
        fail_msg("counter: %s at head %llu; target at %s", tx_errname(err),
                 (unsigned long long)head, c->dir);
    f = crdt_record_field(&rec.rec, "n", 1, CRDT_COUNTER);
    if (!f || (uint64_t)f->u.counter != head) {
        long long got = f ? (long long)f->u.counter : -1LL;

        node_record_release(&rec);
        fail_msg("counter %lld != head %llu: an envelope applied twice, or not in the "
                 "transaction that appended it; target at %s",
                 got, (unsigned long long)head, c->dir);
    }
    node_record_release(&rec);
}

static void problem(const char *what, void *vctx)
{
    (void)vctx;
    print_error("verify: %s\n", what);
}

/* Reopen the target and check it; returns its head. `what` names the event. */
static uint64_t check_target(struct ctx *c, const char *what, int verify)
{
    struct node_store *t;
    struct head_find h = {c->origin, 0};
    struct log_check lc = {c, 1, 0};
    struct node_stats st;
    int err;

    if ((err = node_open(c->dir, 0, NULL, &t)))
        fail_msg("reopen after %s: %s; target at %s", what, tx_errname(err), c->dir);
    assert_int_equal(node_origins_each(t, head_cb, &h), TX_OK);
    if (h.head < c->max_acked)
        fail_msg("LOST INGEST: head %llu after %s, but seqs up to %llu were acknowledged; "
                 "target at %s",
                 (unsigned long long)h.head, what, (unsigned long long)c->max_acked, c->dir);
    if (h.head < c->head)
        fail_msg("LOST INGEST: head %llu after %s, but it was %llu after the previous round; "
                 "target at %s",
                 (unsigned long long)h.head, what, (unsigned long long)c->head, c->dir);
    if (c->pending.kind) {
        const struct msg *m = &c->pending;
        uint64_t base = m->first - 1;

        c->mid_call++;
        if (h.head < base || h.head > m->last ||
            (h.head != m->last && (h.head - base) % m->per_txn != 0))
            fail_msg("head %llu after %s is not a batch boundary of the call in flight "
                     "(%llu..%llu, per_txn %u): a batch committed in parts; target at %s",
                     (unsigned long long)h.head, what, (unsigned long long)m->first,
                     (unsigned long long)m->last, m->per_txn, c->dir);
        if (h.head > base && h.head < m->last)
            c->partial++;
    } else if (h.head != c->expect_first - 1) {
        fail_msg("head %llu after %s with no call in flight, but %llu acknowledged: %s; "
                 "target at %s",
                 (unsigned long long)h.head, what, (unsigned long long)(c->expect_first - 1),
                 h.head < c->expect_first - 1 ? "LOST INGEST" : "committed outside a call", c->dir);
    }
    if (h.head > c->max_acked) {
        c->unacked_kills++;
        c->unacked_envs += h.head - c->max_acked;
    }
    err = node_log_each(t, c->origin, 0, log_cb, &lc);
    if (err == TX_ENOTFOUND && h.head == 0)
        err = TX_OK; /* the origin is not known yet */
    if (err || lc.bad || lc.next != h.head + 1)
        fail_msg("log of the source origin broken after %s (%s, %llu of %llu envelopes); "
                 "target at %s",
                 what, tx_errname(err), (unsigned long long)(lc.next - 1),
                 (unsigned long long)h.head, c->dir);
    assert_int_equal(node_stats(t, &st), TX_OK);
    if (st.envelopes != h.head || st.held != 0)
        fail_msg("stats after %s: %llu envelopes, %llu held, head %llu; target at %s", what,
                 (unsigned long long)st.envelopes, (unsigned long long)st.held,
                 (unsigned long long)h.head, c->dir);
    check_state(c, t, h.head);
    if (verify) {
        if ((err = node_verify(t, problem, NULL)))
            fail_msg("node_verify after %s: %s; target at %s", what, tx_errname(err), c->dir);
        c->verifies++;
    }
    if (h.head == c->n) {
        struct txn_digests d;

        txn_digests(t, &d);
        if (!txn_digests_equal(&d, &c->dig))
            fail_msg("digests of the complete target differ from the source's after %s; target "
                     "at %s",
                     what, c->dir);
    }
    node_close(t);
    if (getenv("TX_CRASH_INGEST_VERBOSE"))
        printf("  -> head %llu\n", (unsigned long long)h.head);
    c->head = h.head;
    c->max_acked = h.head; /* what is stored now must stay, acknowledged or not */
    return h.head;
}

static void test_crash_ingest_kill9(void **state)
{
    const char *ks = getenv("TX_CRASH_INGEST_KILLS"), *ns = getenv("TX_CRASH_INGEST_ENVS");
    long kills = ks && *ks ? strtol(ks, NULL, 10) : DEF_KILLS;
    long nenv = ns && *ns ? strtol(ns, NULL, 10) : DEF_ENVS;
    struct ctx *c = calloc(1, sizeof(*c));
    struct txt_rng rng;
    uint64_t t0 = txt_mono_ms(), t_src;
    (void)state;

    assert_non_null(c);
    if (kills <= 0)
        kills = DEF_KILLS;
    if (nenv <= 0)
        nenv = DEF_ENVS;
    c->n = (size_t)nenv;
    c->seed = txt_seed("TX_CRASH_INGEST_SEED", "crash-ingest");
    rng.s = c->seed;
    signal(SIGPIPE, SIG_IGN);
    make_source(c);
    t_src = txt_mono_ms();
    new_target(c);
    while (c->kills < (uint64_t)kills) {
        uint64_t target = txt_below(&rng, MAX_ACKS + 1), cseed = txt_next(&rng);
        /* No delay (a quarter), 0..3 ms (a quarter), 0..40 ms (half). */
        uint64_t dclass = txt_below(&rng, 4), delay_us = 0;
        int fds[2], status, eof = 0, killed;
        char what[64];
        pid_t pid;

        if (dclass)
            delay_us = txt_below(&rng, (dclass == 1 ? SHORT_DELAY_US : LONG_DELAY_US) + 1);
        c->rounds++;
        c->expect_first = c->head + 1;
        memset(&c->pending, 0, sizeof(c->pending));
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(c, cseed, fds[1]);
        }
        close(fds[1]);
        if (target)
            read_msgs(c, fds[0], pid, target, &eof);
        if (!eof) {
            if (delay_us) {
                struct timespec ts = {0, (long)delay_us * 1000};

                nanosleep(&ts, NULL);
            }
            kill(pid, SIGKILL);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* Messages already in the pipe were sent before the kill. */
        read_msgs(c, fds[0], pid, 0, &eof);
        close(fds[0]);
        killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            fail_msg("child ended otherwise than by our SIGKILL (status 0x%x: %s, round %llu); "
                     "target at %s",
                     (unsigned)status, child_status(status), (unsigned long long)c->rounds, c->dir);
        if (!killed && (c->pending.kind || c->max_acked != c->n))
            fail_msg("child exited 0 with seqs up to %llu of %zu acknowledged; target at %s",
                     (unsigned long long)c->max_acked, c->n, c->dir);
        if (killed && !c->pending.kind && c->max_acked == c->n) {
            /* Killed after its last call (in node_close): a completion. */
            killed = 0;
            c->late_kills++;
        }
        if (killed) {
            c->kills++;
            snprintf(what, sizeof(what), "kill %llu", (unsigned long long)c->kills);
        } else {
            c->completions++;
            snprintf(what, sizeof(what), "completion %llu", (unsigned long long)c->completions);
        }
        if (getenv("TX_CRASH_INGEST_VERBOSE"))
            printf("round %llu: %s target %llu delay %llu us: pending %llu..%llu/%u head before "
                   "%llu acked %llu\n",
                   (unsigned long long)c->rounds, what, (unsigned long long)target,
                   (unsigned long long)delay_us, (unsigned long long)c->pending.first,
                   (unsigned long long)c->pending.last, c->pending.per_txn,
                   (unsigned long long)c->head, (unsigned long long)c->max_acked);
        check_target(c, what, killed);
        if (killed && c->head > c->max_head_killed)
            c->max_head_killed = c->head;
        if (c->head == c->n) {
            if (killed) /* killed after its last batch committed, before its DONE */
                c->completions++;
            txn_rmrf(c->dir);
            new_target(c);
        }
    }
    /* The rest, in this process. */
    {
        struct node_store *t = txn_open(c->dir);
        struct node_ingest_report rep;
        size_t from = (size_t)c->head, k = c->n - from;
        size_t per = 1 + (size_t)txt_below(&rng, MAX_PER_TXN);
        int err;

        err = node_ingest_many(t, c->envs.b + from, c->envs.len + from, k, per, &rep);
        if (err)
            fail_msg("final node_ingest_many: %s; target at %s", tx_errname(err), c->dir);
        assert_int_equal(rep.accepted, k);
        assert_int_equal(rep.rejected + rep.held + rep.duplicate + rep.badbody + rep.unreadable, 0);
        node_close(t);
        memset(&c->pending, 0, sizeof(c->pending));
        c->max_acked = c->n;
        c->expect_first = c->n + 1;
        assert_int_equal(check_target(c, "the final ingest", 1), c->n);
        txn_rmrf(c->dir);
    }
    printf("crash-ingest: %llu kills in %llu rounds: %llu during open or between calls, %llu in a "
           "call (%llu of them after some of its batches committed), %llu leaving %llu committed "
           "envelopes unacknowledged; %llu acknowledged calls (%llu envelopes); highest head at a "
           "kill %llu of %zu; %llu targets, %llu completed by a child (%llu of them killed in "
           "node_close); %llu verifies; seed %llu; source %.1f s, total %.1f s\n",
           (unsigned long long)c->kills, (unsigned long long)c->rounds,
           (unsigned long long)(c->kills - c->mid_call), (unsigned long long)c->mid_call,
           (unsigned long long)c->partial, (unsigned long long)c->unacked_kills,
           (unsigned long long)c->unacked_envs, (unsigned long long)c->acks,
           (unsigned long long)c->acked_envs, (unsigned long long)c->max_head_killed, c->n,
           (unsigned long long)c->targets, (unsigned long long)c->completions,
           (unsigned long long)c->late_kills, (unsigned long long)c->verifies,
           (unsigned long long)c->seed, (double)(t_src - t0) / 1000.0,
           (double)(txt_mono_ms() - t0) / 1000.0);
    txn_rmrf(c->srcdir);
    txn_envs_free(&c->envs);
    free(c->hash);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_ingest_kill9),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
