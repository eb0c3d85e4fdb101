/*
 * test_ingest.c - verified ingest into the LMDB store (node_ingest).
 *
 * Envelopes come from real stores (node_write) or are hand-built and signed with
 * a node's seed read from its node.key (txnode.h), so a test can make validly
 * signed envelopes that break the rules: a wrong prev hash, a second envelope
 * for a stored (origin, seq). Each case checks the report's reason counts, the
 * lifetime counters of node_stats, that node_verify still passes and that the
 * digests did not move when nothing valid was added.
 *
 * Randomised cases print their seed; TX_INGEST_SEED replays one.
 */
#include <stdarg.h>

#include "txnode.h"

#define PUB "public"

static uint64_t g_seed;

/* ---- helpers ---- */

static void print_rep(const char *what, const struct node_ingest_report *r)
{
    print_message("%s: accepted %llu duplicate %llu held %llu released %llu unreadable %llu "
                  "rejected %llu equivocations %llu |",
                  what, (unsigned long long)r->accepted, (unsigned long long)r->duplicate,
                  (unsigned long long)r->held, (unsigned long long)r->released,
                  (unsigned long long)r->unreadable, (unsigned long long)r->rejected,
                  (unsigned long long)r->equivocations);
    for (int i = 1; i < NODE_R_COUNT; i++)
        if (r->by_reason[i])
            print_message(" %s=%llu", node_reason_name(i), (unsigned long long)r->by_reason[i]);
    print_message("\n");
}

static int is_held_reason(int r)
{
    return r == NODE_R_HELD_GAP || r == NODE_R_HELD_DEPS || r == NODE_R_HELD_UNVERIFIED ||
           r == NODE_R_HELD_SKEW;
}

/* Check a report exactly: accepted, duplicate, held, then (reason, count)
 * pairs ended by 0. Every reason not named must be 0; rejected must be the sum
 * of the non-held reasons. */
static void expect_rep(const struct node_ingest_report *r, int acc, int dup, int held, ...)
{
    uint64_t want[NODE_R_COUNT] = {0}, rej = 0;
    va_list ap;
    int reason, ok;

    va_start(ap, held);
    while ((reason = va_arg(ap, int)) != 0) {
        int n = va_arg(ap, int);

        assert_true(reason > 0 && reason < NODE_R_COUNT);
        want[reason] = (uint64_t)n;
        if (!is_held_reason(reason))
            rej += (uint64_t)n;
    }
    va_end(ap);
    ok = r->accepted == (uint64_t)acc && r->duplicate == (uint64_t)dup &&
         r->held == (uint64_t)held && r->rejected == rej;
    for (int i = 0; i < NODE_R_COUNT; i++)
        if (r->by_reason[i] != want[i])
            ok = 0;
    if (!ok) {
        print_rep("got", r);
        print_message("want: accepted %d duplicate %d held %d rejected %llu\n", acc, dup, held,
                      (unsigned long long)rej);
        fail_msg("ingest report differs");
    }
}

struct writer {
    char dir[TXN_PATH];
    struct node_store *s;
    uint8_t id[CRDT_KEY_BYTES];
};

static void writer_new(struct writer *w, const char *tag)
{
    w->s = txn_node_new(w->dir, sizeof(w->dir), tag, "c1");
    txn_id(w->s, w->id);
}

static void writer_close(struct writer *w)
{
    node_close(w->s);
    w->s = NULL;
    txn_rmrf(w->dir);
}

/* One public write: rec/x f = value, counter n += k, tag "t<k>" added. */
static void write_pub(struct writer *w, const char *value, int k)
{
    char tag[16];
    struct node_change c[3];

    snprintf(tag, sizeof(tag), "t%d", k);
    c[0] = txn_ch_str("rec", "x", "f", value);
    memset(&c[1], 0, sizeof(c[1]));
    c[1].type = "rec";
    c[1].id = "x";
    c[1].field = "n";
    c[1].code = CRDT_OP_CTR_ADD;
    c[1].value.type = CRDT_INT;
    c[1].value.i = k;
    memset(&c[2], 0, sizeof(c[2]));
    c[2].type = "rec";
    c[2].id = "x";
    c[2].field = "tags";
    c[2].code = CRDT_OP_SET_ADD;
    c[2].value.type = CRDT_STR;
    c[2].value.s = tag;
    c[2].value.len = (uint32_t)strlen(tag);
    assert_int_equal(node_write(w->s, PUB, c, 3, NULL), TX_OK);
}

/* n public writes "v1".."vn"; then the writer's own log into v (index seq-1). */
static void write_n(struct writer *w, int n, struct txn_envs *v)
{
    for (int i = 1; i <= n; i++) {
        char val[16];

        snprintf(val, sizeof(val), "v%d", i);
        write_pub(w, val, i);
    }
    if (v) {
        txn_envs_free(v);
        txn_envs_collect(w->s, w->id, v);
        assert_int_equal(v->n, (size_t)n);
    }
}

static void expect_f(struct node_store *s, const char *want)
{
    char got[64];
    int rc = txn_get_str(s, PUB, "rec", "x", "f", got, sizeof(got));

    if (!want) {
        assert_int_equal(rc, TX_ENOTFOUND);
        return;
    }
    assert_int_equal(rc, TX_OK);
    assert_string_equal(got, want);
}

static uint8_t *dup_flip(const uint8_t *b, size_t len, size_t pos, uint8_t mask)
{
    uint8_t *c = malloc(len);

    assert_non_null(c);
    memcpy(c, b, len);
    c[pos] ^= mask;
    return c;
}

static void expect_unchanged(struct node_store *s, const struct txn_digests *before)
{
    struct txn_digests now;

    txn_digests(s, &now);
    txn_assert_digests_equal(&now, before);
    txn_assert_verify(s);
}

static void expect_same_as(struct node_store *s, struct node_store *ref)
{
    struct txn_digests a, b;

    txn_digests(s, &a);
    txn_digests(ref, &b);
    txn_assert_digests_equal(&a, &b);
    txn_assert_verify(s);
}

/* ---- forged signature ---- */

static void test_forged_signature(void **state)
{
    struct writer a, b;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    struct node_stats st;
    uint8_t *f1, *f2;
    const uint8_t *pair[2];
    size_t lens[2];
    (void)state;

    txt_alloc_install();
    writer_new(&a, "forge-a");
    writer_new(&b, "forge-b");
    write_n(&a, 2, &ea);
    /* One bit of the signature flipped. */
    f1 = dup_flip(ea.b[0], ea.len[0], ea.len[0] - 1 - (size_t)(g_seed % 64), 0x10);
    f2 = dup_flip(ea.b[1], ea.len[1], ea.len[1] - 64, 0x01);

    /* A lone forged first envelope cannot be told from one whose signature is
     * still to be covered: it is held, unverified, and nothing is applied. */
    txn_digests(b.s, &d0);
    assert_int_equal(txn_ingest_one(b.s, f1, ea.len[0], &rep), TX_OK);
    expect_rep(&rep, 0, 0, 1, NODE_R_HELD_UNVERIFIED, 1, 0);
    expect_unchanged(b.s, &d0);
    expect_f(b.s, NULL);
    st = txn_stats(b.s);
    assert_int_equal(st.held, 1);
    assert_int_equal(st.envelopes, 0);

    /* The genuine one arrives: accepted, and the forged copy is dropped. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    st = txn_stats(b.s);
    assert_int_equal(st.held, 0);
    assert_int_equal(st.envelopes, 1);
    expect_f(b.s, "v1");

    /* The forged copy of a stored envelope: a bad signature, rejected. */
    txn_digests(b.s, &d0);
    assert_int_equal(txn_ingest_one(b.s, f1, ea.len[0], &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_BADSIG, 1, 0);
    assert_int_equal(rep.equivocations, 0);
    expect_unchanged(b.s, &d0);
    st = txn_stats(b.s);
    assert_int_equal(st.rejected[NODE_R_BADSIG], 1);
    assert_int_equal(st.frozen, 0);
    assert_int_equal(st.evidence, 0);

    /* Forged and genuine of the next seq in one batch, forged first. */
    pair[0] = f2;
    lens[0] = ea.len[1];
    pair[1] = ea.b[1];
    lens[1] = ea.len[1];
    assert_int_equal(node_ingest(b.s, pair, lens, 2, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, NODE_R_BADSIG, 1, 0);
    assert_int_equal(rep.equivocations, 0);
    expect_same_as(b.s, a.s);
    st = txn_stats(b.s);
    assert_int_equal(st.rejected[NODE_R_BADSIG], 2);
    assert_int_equal(st.frozen, 0);
    assert_int_equal(st.held, 0);

    free(f1);
    free(f2);
    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- broken chain ---- */

static void test_broken_chain(void **state)
{
    struct writer a, b, c;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    struct node_stats st;
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES], bogus[CRDT_HASH_BYTES];
    struct crdt_op op = txn_op_lww("rec", "x", "f", "forked");
    uint8_t *bad2, *bad3;
    size_t l2, l3;
    const uint8_t *batch[2];
    size_t lens[2];
    (void)state;

    txt_alloc_install();
    writer_new(&a, "chain-a");
    writer_new(&b, "chain-b");
    writer_new(&c, "chain-c");
    write_n(&a, 2, &ea);
    txn_load_keypair(a.dir, pk, sk);
    assert_memory_equal(pk, a.id, CRDT_KEY_BYTES);
    memset(bogus, 0xa5, sizeof(bogus));
    /* Validly signed by a, but linked to nothing a wrote. */
    bad2 = txn_env_build(sk, 2, bogus, CRDT_HLC_MAKE(txn_now_ms(), 1), NULL, 0, &op, 1, &l2);
    bad3 = txn_env_build(sk, 3, bogus, CRDT_HLC_MAKE(txn_now_ms(), 2), NULL, 0, &op, 1, &l3);

    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    txn_digests(b.s, &d0);
    assert_int_equal(txn_ingest_one(b.s, bad2, l2, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_BADCHAIN, 1, 0);
    assert_int_equal(rep.equivocations, 0);
    expect_unchanged(b.s, &d0);
    st = txn_stats(b.s);
    assert_int_equal(st.rejected[NODE_R_BADCHAIN], 1);
    assert_int_equal(st.frozen, 0);
    expect_f(b.s, "v1");

    /* Beyond a gap the link cannot be checked yet: held; once seq 2 arrives
     * seq 3 does not link and is dropped, the genuine seq 2 applied. */
    assert_int_equal(txn_ingest_one(b.s, bad3, l3, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 1, NODE_R_HELD_GAP, 1, 0);
    assert_int_equal(txn_stats(b.s).held, 1);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){1}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    assert_int_equal(rep.released, 0);
    st = txn_stats(b.s);
    assert_int_equal(st.held, 0);
    assert_int_equal(st.envelopes, 2);
    expect_f(b.s, "v2");
    expect_same_as(b.s, a.s);

    /* In one batch: a verified run, then a validly signed broken link. */
    batch[0] = ea.b[0];
    lens[0] = ea.len[0];
    batch[1] = bad2;
    lens[1] = l2;
    assert_int_equal(node_ingest(c.s, batch, lens, 2, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, NODE_R_BADCHAIN, 1, 0);
    assert_int_equal(txn_stats(c.s).held, 0);
    expect_f(c.s, "v1");
    txn_assert_verify(c.s);

    free(bad2);
    free(bad3);
    sodium_memzero(sk, sizeof(sk));
    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    writer_close(&c);
    txt_assert_no_leak();
}

/* ---- gap ---- */

static void test_gap(void **state)
{
    struct writer a, b, c;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    struct node_origin_info oi;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "gap-a");
    writer_new(&b, "gap-b");
    writer_new(&c, "gap-c");
    write_n(&a, 3, &ea);

    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    expect_f(b.s, "v1");
    txn_digests(b.s, &d0);

    /* seq 3 before 2: held for the gap, nothing applied. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){2}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 1, NODE_R_HELD_GAP, 1, 0);
    expect_unchanged(b.s, &d0);
    expect_f(b.s, "v1");
    assert_int_equal(txn_stats(b.s).held, 1);
    assert_int_equal(node_held_for_time(b.s), 0); /* held for the gap, not the clock */
    assert_true(txn_origin(b.s, a.id, &oi));
    assert_int_equal(oi.head, 1);
    assert_int_equal(oi.held, 1);

    /* seq 2 arrives: both applied, in order. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){1}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    assert_int_equal(rep.released, 1);
    assert_int_equal(txn_stats(b.s).held, 0);
    assert_true(txn_origin(b.s, a.id, &oi));
    assert_int_equal(oi.head, 3);
    assert_int_equal(oi.held, 0);
    expect_f(b.s, "v3");
    expect_same_as(b.s, a.s);

    /* An unknown origin, first envelope last. */
    assert_int_equal(txn_ingest_idx(c.s, &ea, (size_t[]){2, 1}, 2, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 2, NODE_R_HELD_GAP, 2, 0);
    expect_f(c.s, NULL);
    assert_int_equal(txn_stats(c.s).held, 2);
    /* Reopening keeps the hold queue. */
    txn_reopen(&c.s, c.dir);
    assert_int_equal(txn_stats(c.s).held, 2);
    assert_int_equal(txn_ingest_idx(c.s, &ea, (size_t[]){0}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    assert_int_equal(rep.released, 2);
    assert_int_equal(txn_stats(c.s).held, 0);
    expect_same_as(c.s, a.s);

    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    writer_close(&c);
    txt_assert_no_leak();
}

/* The hold queue is bounded: what does not fit is refused (HELD_FULL), not
 * stored, and gets in when offered again once there is room. */
static void test_hold_queue_full(void **state)
{
    struct writer a, b;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct node_origin_info oi;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "full-a");
    writer_new(&b, "full-b");
    write_n(&a, 8, &ea);
    assert_int_equal(node_set_max_held(b.s, 0), TX_EINVAL);
    assert_int_equal(node_set_max_held(b.s, 3), TX_OK);

    /* seqs 3..7 (a gap at 1-2): three fit, two are refused. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){2, 3, 4, 5, 6}, 5, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 3, NODE_R_HELD_GAP, 3, NODE_R_HELD_FULL, 2, 0);
    assert_int_equal(txn_stats(b.s).held, 3);
    expect_f(b.s, NULL);
    /* Full: the next one is refused too, and nothing else changes. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){7}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_HELD_FULL, 1, 0);
    assert_int_equal(txn_stats(b.s).held, 3);
    /* The gap fills: the held ones are released, the refused ones still
     * missing (their successors wait in the freed room). */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0, 1}, 2, &rep), TX_OK);
    assert_int_equal(rep.accepted, 2);
    assert_int_equal(rep.released, 3);
    assert_true(txn_origin(b.s, a.id, &oi));
    assert_int_equal(oi.head, 5);
    /* Offered again, the refused ones get in. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){5, 6, 7}, 3, &rep), TX_OK);
    expect_rep(&rep, 3, 0, 0, 0);
    assert_int_equal(txn_stats(b.s).held, 0);
    expect_same_as(b.s, a.s);
    assert_int_equal(txn_stats(b.s).rejected[NODE_R_HELD_FULL], 3);

    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- duplicates and replays ---- */

static void test_duplicate(void **state)
{
    struct writer a, b, c;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "dup-a");
    writer_new(&b, "dup-b");
    writer_new(&c, "dup-c");
    write_n(&a, 3, &ea);

    /* Twice in one batch. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0, 0}, 2, &rep), TX_OK);
    expect_rep(&rep, 1, 1, 0, 0);
    assert_int_equal(txn_stats(b.s).envelopes, 1);
    /* Again in a later batch. */
    txn_digests(b.s, &d0);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 1, 0, 0);
    expect_unchanged(b.s, &d0);
    /* Mixed: new ones twice, an old one once. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){2, 1, 2, 0, 1}, 5, &rep), TX_OK);
    expect_rep(&rep, 2, 3, 0, 0);
    assert_int_equal(txn_stats(b.s).envelopes, 3);
    expect_same_as(b.s, a.s);

    /* A duplicate of a held envelope: still one in the queue. */
    assert_int_equal(txn_ingest_idx(c.s, &ea, (size_t[]){2}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 1, NODE_R_HELD_GAP, 1, 0);
    assert_int_equal(txn_ingest_idx(c.s, &ea, (size_t[]){2}, 1, &rep), TX_OK);
    assert_int_equal(rep.accepted, 0);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(rep.held + rep.duplicate, 1);
    assert_int_equal(txn_stats(c.s).held, 1);
    assert_int_equal(txn_ingest_idx(c.s, &ea, (size_t[]){0, 1}, 2, &rep), TX_OK);
    assert_int_equal(rep.accepted, 2);
    assert_int_equal(rep.released, 1);
    assert_int_equal(txn_stats(c.s).held, 0);
    expect_same_as(c.s, a.s);

    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    writer_close(&c);
    txt_assert_no_leak();
}

static void test_replay_old(void **state)
{
    struct writer a, b;
    struct txn_envs ea = {0}, eb = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "replay-a");
    writer_new(&b, "replay-b");
    write_n(&a, 5, &ea);
    assert_int_equal(txn_ingest_idx(b.s, &ea, NULL, 5, &rep), TX_OK);
    expect_rep(&rep, 5, 0, 0, 0);
    expect_f(b.s, "v5");
    write_pub(&b, "mine", 100);
    txn_envs_collect(b.s, b.id, &eb);
    assert_int_equal(eb.n, 1);

    /* An old envelope replayed after newer ones: no effect at all. */
    txn_digests(b.s, &d0);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){1}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 1, 0, 0);
    expect_unchanged(b.s, &d0);
    expect_f(b.s, "mine");
    /* The whole history replayed, shuffled, after a restart; and the node's own
     * envelope fed back to it. */
    txn_reopen(&b.s, b.dir);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){4, 0, 3, 1, 2}, 5, &rep), TX_OK);
    expect_rep(&rep, 0, 5, 0, 0);
    assert_int_equal(txn_ingest_idx(b.s, &eb, NULL, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 1, 0, 0);
    expect_unchanged(b.s, &d0);
    expect_f(b.s, "mine");

    txn_envs_free(&ea);
    txn_envs_free(&eb);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- reordering and causal dependencies ---- */

static void test_reordered_batch(void **state)
{
    struct writer a, b;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "order-a");
    writer_new(&b, "order-b");
    write_n(&a, 5, &ea);
    /* seq 5,3,4,1,2 */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){4, 2, 3, 0, 1}, 5, &rep), TX_OK);
    expect_rep(&rep, 5, 0, 0, 0);
    assert_int_equal(rep.released, 0);
    assert_int_equal(txn_stats(b.s).held, 0);
    expect_f(b.s, "v5");
    expect_same_as(b.s, a.s);

    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

static void test_causal_deps(void **state)
{
    struct writer a, b, c, d;
    struct txn_envs ea = {0}, eb = {0}, both = {0};
    struct node_ingest_report rep;
    struct crdt_env e;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "deps-a");
    writer_new(&b, "deps-b");
    writer_new(&c, "deps-c");
    writer_new(&d, "deps-d");
    write_n(&a, 1, &ea);
    assert_int_equal(txn_ingest_idx(b.s, &ea, NULL, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    /* b overwrites the field a wrote: its envelope depends on a's. */
    txn_put(b.s, PUB, "rec", "x", "f", "from-b");
    txn_envs_collect(b.s, b.id, &eb);
    assert_int_equal(eb.n, 1);
    assert_int_equal(crdt_env_decode(&e, eb.b[0], eb.len[0]), TX_OK);
    assert_int_equal(e.ndeps, 1);
    assert_memory_equal(e.deps[0].origin, a.id, CRDT_KEY_BYTES);
    assert_int_equal(e.deps[0].seq, 1);
    crdt_env_release(&e);

    /* The dependent envelope first: held for its dependency. */
    assert_int_equal(txn_ingest_idx(c.s, &eb, NULL, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 1, NODE_R_HELD_DEPS, 1, 0);
    expect_f(c.s, NULL);
    assert_int_equal(txn_stats(c.s).held, 1);
    assert_int_equal(txn_stats(c.s).envelopes, 0);
    /* The dependency arrives: both applied, b's value wins. */
    assert_int_equal(txn_ingest_idx(c.s, &ea, NULL, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    assert_int_equal(rep.released, 1);
    assert_int_equal(txn_stats(c.s).held, 0);
    expect_f(c.s, "from-b");
    expect_same_as(c.s, b.s);

    /* Both in one batch, dependent first. */
    txn_envs_push(&both, eb.b[0], eb.len[0]);
    txn_envs_push(&both, ea.b[0], ea.len[0]);
    assert_int_equal(txn_ingest_idx(d.s, &both, NULL, 2, &rep), TX_OK);
    expect_rep(&rep, 2, 0, 0, 0);
    expect_f(d.s, "from-b");
    expect_same_as(d.s, b.s);

    txn_envs_free(&ea);
    txn_envs_free(&eb);
    txn_envs_free(&both);
    writer_close(&a);
    writer_close(&b);
    writer_close(&c);
    writer_close(&d);
    txt_assert_no_leak();
}

/* ---- equivocation ---- */

static void expect_frozen(struct node_store *s, const uint8_t *origin, int frozen)
{
    struct node_origin_info oi;

    assert_true(txn_origin(s, origin, &oi));
    assert_int_equal((oi.flags & NODE_ORIGIN_FROZEN) != 0, frozen);
}

static void test_equivocation_signed(void **state)
{
    struct writer a, b, c;
    struct txn_envs ea = {0}, all = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    struct node_stats st;
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES], h1[CRDT_HASH_BYTES];
    struct crdt_op op = txn_op_lww("rec", "x", "f", "evil");
    uint8_t *alt2;
    size_t l2;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "equiv-a");
    writer_new(&b, "equiv-b");
    writer_new(&c, "equiv-c");
    write_n(&a, 2, &ea);
    txn_load_keypair(a.dir, pk, sk);
    txn_env_hash(ea.b[0], ea.len[0], h1);
    /* A second, validly signed seq 2 that links to seq 1. */
    alt2 = txn_env_build(sk, 2, h1, CRDT_HLC_MAKE(txn_now_ms(), 7), NULL, 0, &op, 1, &l2);

    assert_int_equal(txn_ingest_idx(b.s, &ea, NULL, 2, &rep), TX_OK);
    expect_rep(&rep, 2, 0, 0, 0);
    expect_frozen(b.s, a.id, 0);
    txn_digests(b.s, &d0);

    assert_int_equal(txn_ingest_one(b.s, alt2, l2, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_EQUIVOCATION, 1, 0);
    assert_int_equal(rep.equivocations, 1);
    expect_frozen(b.s, a.id, 1);
    st = txn_stats(b.s);
    assert_int_equal(st.frozen, 1);
    assert_int_equal(st.evidence, 1);
    assert_int_equal(st.rejected[NODE_R_EQUIVOCATION], 1);
    assert_int_equal(st.envelopes, 2);
    expect_unchanged(b.s, &d0);
    expect_f(b.s, "v2");

    /* Later envelopes of the frozen origin are refused. */
    write_n(&a, 1, NULL);
    txn_envs_free(&ea);
    txn_envs_collect(a.s, a.id, &ea);
    assert_int_equal(ea.n, 3);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){2}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_FROZEN, 1, 0);
    assert_int_equal(rep.equivocations, 0);
    assert_int_equal(txn_ingest_one(b.s, alt2, l2, &rep), TX_OK);
    assert_int_equal(rep.accepted, 0);
    assert_int_equal(rep.equivocations, 0);
    assert_int_equal(rep.by_reason[NODE_R_FROZEN] + rep.by_reason[NODE_R_EQUIVOCATION], 1);
    expect_unchanged(b.s, &d0);
    /* Frozen for good: across a restart too; b itself still writes. */
    txn_reopen(&b.s, b.dir);
    expect_frozen(b.s, a.id, 1);
    st = txn_stats(b.s);
    assert_int_equal(st.frozen, 1);
    assert_true(st.rejected[NODE_R_FROZEN] >= 1);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){2}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_FROZEN, 1, 0);
    expect_unchanged(b.s, &d0);
    txn_put(b.s, PUB, "other", "y", "f", "still writing");
    expect_frozen(b.s, b.id, 0);
    txn_assert_verify(b.s);

    /* Both versions in one batch into a fresh node: one equivocation, both
     * versions kept as evidence, the origin frozen before anything of it is
     * applied - seq 1 included, which came in the same batch (a node that
     * had applied seq 1 earlier keeps it: envelope.md section 7). */
    txn_envs_push(&all, ea.b[0], ea.len[0]);
    txn_envs_push(&all, ea.b[1], ea.len[1]);
    txn_envs_push(&all, alt2, l2);
    assert_int_equal(txn_ingest_idx(c.s, &all, NULL, all.n, &rep), TX_OK);
    assert_int_equal(rep.equivocations, 1);
    expect_rep(&rep, 0, 0, 0, NODE_R_EQUIVOCATION, 2, NODE_R_FROZEN, 1, 0);
    expect_frozen(c.s, a.id, 1);
    expect_f(c.s, NULL);
    txn_assert_verify(c.s);

    free(alt2);
    sodium_memzero(sk, sizeof(sk));
    txn_envs_free(&ea);
    txn_envs_free(&all);
    writer_close(&a);
    writer_close(&b);
    writer_close(&c);
    txt_assert_no_leak();
}

/* The same identity in two data directories (cp -a after the first write), each
 * writing its own seq 2. */
static void test_equivocation_copied_dir(void **state)
{
    struct writer a, b;
    char base[TXN_PATH], dir2[TXN_PATH];
    struct node_store *a2;
    struct txn_envs ea = {0}, ea2 = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "copy-a");
    writer_new(&b, "copy-b");
    write_n(&a, 1, NULL);
    node_close(a.s);
    txn_tmpdir(base, sizeof(base), "copy-a2");
    txn_path(dir2, sizeof(dir2), base, "node");
    txn_copy_dir(a.dir, dir2);
    a.s = txn_open(a.dir);
    a2 = txn_open(dir2);
    txn_put(a.s, PUB, "rec", "x", "f", "left");
    txn_put(a2, PUB, "rec", "x", "f", "right");
    txn_put(a2, PUB, "rec", "x", "f", "right again");
    txn_envs_collect(a.s, a.id, &ea);
    txn_envs_collect(a2, a.id, &ea2);
    assert_int_equal(ea.n, 2);
    assert_int_equal(ea2.n, 3);
    assert_memory_equal(ea.b[0], ea2.b[0], ea.len[0]);

    assert_int_equal(txn_ingest_idx(b.s, &ea, NULL, 2, &rep), TX_OK);
    expect_rep(&rep, 2, 0, 0, 0);
    txn_digests(b.s, &d0);
    assert_int_equal(txn_ingest_idx(b.s, &ea2, (size_t[]){1}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_EQUIVOCATION, 1, 0);
    assert_int_equal(rep.equivocations, 1);
    expect_frozen(b.s, a.id, 1);
    assert_int_equal(txn_stats(b.s).evidence, 1);
    expect_unchanged(b.s, &d0);
    expect_f(b.s, "left");
    /* The copy's seq 3 (which links to its own seq 2) is refused as frozen. */
    assert_int_equal(txn_ingest_idx(b.s, &ea2, (size_t[]){2}, 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_FROZEN, 1, 0);
    expect_unchanged(b.s, &d0);

    node_close(a2);
    txn_rmrf(base);
    txn_envs_free(&ea);
    txn_envs_free(&ea2);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- bad bytes ---- */

static void test_oversized(void **state)
{
    struct writer a, b;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    struct node_stats st0, st;
    uint8_t *big = calloc(1, CRDT_MAX_ENVELOPE + 2), zero[64] = {0};
    uint8_t *body = calloc(1, CRDT_MAX_BODY + 1);
    struct tx_mpw w;
    const uint8_t *batch[3];
    size_t lens[3];
    (void)state;

    txt_alloc_install();
    assert_non_null(big);
    assert_non_null(body);
    writer_new(&a, "big-a");
    writer_new(&b, "big-b");
    write_n(&a, 2, &ea);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0}, 1, &rep), TX_OK);
    txn_digests(b.s, &d0);
    st0 = txn_stats(b.s);

    /* One byte over the limit: a valid envelope's bytes padded out. */
    memcpy(big, ea.b[1], ea.len[1]);
    assert_int_equal(txn_ingest_one(b.s, big, CRDT_MAX_ENVELOPE + 1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_OVERSIZED, 1, 0);
    /* Within the envelope limit, but with a body over CRDT_MAX_BODY. */
    tx_mpw_init(&w, CRDT_MAX_ENVELOPE);
    tx_mpw_array(&w, 11);
    tx_mpw_uint(&w, CRDT_ENV_VERSION);
    tx_mpw_bin(&w, a.id, CRDT_KEY_BYTES);
    tx_mpw_uint(&w, 2);
    tx_mpw_bin(&w, ea.b[0], CRDT_HASH_BYTES); /* any non-zero prev */
    tx_mpw_uint(&w, CRDT_HLC_MAKE(txn_now_ms(), 0));
    tx_mpw_array(&w, 0);
    tx_mpw_str(&w, PUB, strlen(PUB));
    tx_mpw_uint(&w, 0);
    tx_mpw_bin(&w, zero, CRDT_NONCE_BYTES);
    tx_mpw_bin(&w, body, CRDT_MAX_BODY + 1);
    tx_mpw_bin(&w, zero, CRDT_SIG_BYTES);
    assert_int_equal(tx_mpw_finish(&w), TX_OK);
    assert_true(w.len <= CRDT_MAX_ENVELOPE);
    batch[0] = w.buf;
    lens[0] = w.len;
    batch[1] = big;
    lens[1] = CRDT_MAX_ENVELOPE + 2;
    batch[2] = ea.b[1];
    lens[2] = ea.len[1];
    assert_int_equal(node_ingest(b.s, batch, lens, 3, &rep), TX_OK);
    /* The valid one in the same batch still goes in. */
    expect_rep(&rep, 1, 0, 0, NODE_R_OVERSIZED, 2, 0);
    tx_mpw_release(&w);
    st = txn_stats(b.s);
    assert_int_equal(st.rejected[NODE_R_OVERSIZED], st0.rejected[NODE_R_OVERSIZED] + 3);
    assert_int_equal(st.envelopes, 2);
    expect_same_as(b.s, a.s);

    free(big);
    free(body);
    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* Lifetime counters move by exactly what the reports said. */
static void add_rep(uint64_t *sum, const struct node_ingest_report *r)
{
    for (int i = 0; i < NODE_R_COUNT; i++)
        sum[i] += r->by_reason[i];
}

static void test_garbage(void **state)
{
    struct txt_rng rng = {g_seed ^ 0x6761726261676521ull};
    struct writer a, b;
    struct txn_envs ea = {0}, junk = {0};
    struct node_ingest_report rep;
    struct txn_digests d0;
    struct node_stats st0, st;
    uint64_t sum[NODE_R_COUNT] = {0};
    static const uint8_t bomb[] = {0xdd, 0x00, 0xff, 0xff, 0xff};
    static const uint8_t bombs[][8] = {
        {0xdc, 0xff, 0xff},                         /* array16, 65535 elements */
        {0xdf, 0x7f, 0xff, 0xff, 0xff},             /* map32 */
        {0x9b, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff}, /* bin32 of 4 GiB for the origin */
        {0x9b, 0x01, 0xc4, 0x20},                   /* origin cut short */
    };
    static const size_t bomb_len[] = {3, 5, 7, 4};
    (void)state;

    txt_alloc_install();
    writer_new(&a, "junk-a");
    writer_new(&b, "junk-b");
    write_n(&a, 3, &ea);
    assert_int_equal(txn_ingest_idx(b.s, &ea, NULL, 3, &rep), TX_OK);
    expect_rep(&rep, 3, 0, 0, 0);
    txn_digests(b.s, &d0);
    st0 = txn_stats(b.s);

    /* The msgpack bomb: malformed, and nothing allocated for 16M elements. */
    txt_alloc_reset_peak();
    assert_int_equal(txn_ingest_one(b.s, bomb, sizeof(bomb), &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_MALFORMED, 1, 0);
    assert_true(txt_peak() < (1u << 20));
    add_rep(sum, &rep);
    for (size_t i = 0; i < sizeof(bomb_len) / sizeof(bomb_len[0]); i++) {
        assert_int_equal(txn_ingest_one(b.s, bombs[i], bomb_len[i], &rep), TX_OK);
        assert_int_equal(rep.rejected, 1);
        assert_int_equal(rep.by_reason[NODE_R_MALFORMED] + rep.by_reason[NODE_R_OVERSIZED], 1);
        add_rep(sum, &rep);
    }

    /* Every truncation of a valid envelope, in one batch. */
    for (size_t l = 0; l < ea.len[2]; l++)
        txn_envs_push(&junk, ea.b[2], l);
    assert_int_equal(txn_ingest_idx(b.s, &junk, NULL, junk.n, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 0, NODE_R_MALFORMED, (int)junk.n, 0);
    add_rep(sum, &rep);
    txn_envs_free(&junk);

    /* Random buffers, some starting like an envelope. */
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 50; i++) {
            uint8_t buf[700];
            size_t len = (size_t)txt_below(&rng, sizeof(buf) + 1), pre = 0;

            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)txt_next(&rng);
            if (txt_below(&rng, 2) && len > 40) {
                pre = txt_below(&rng, 40);
                memcpy(buf, ea.b[txt_below(&rng, 3)], pre);
            }
            txn_envs_push(&junk, buf, len);
        }
        assert_int_equal(txn_ingest_idx(b.s, &junk, NULL, junk.n, &rep), TX_OK);
        assert_int_equal(rep.accepted, 0);
        assert_int_equal(rep.equivocations, 0);
        assert_int_equal(rep.rejected + rep.held + rep.duplicate, junk.n);
        add_rep(sum, &rep);
        txn_envs_free(&junk);
    }

    /* Single-byte mutations of genuine envelopes: never accepted, never an
     * equivocation (nothing unsigned may freeze an origin). */
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 40; i++) {
            size_t k = txt_below(&rng, 3);
            uint8_t *m = dup_flip(ea.b[k], ea.len[k], txt_below(&rng, ea.len[k]),
                                  (uint8_t)(1 + txt_below(&rng, 255)));

            txn_envs_push(&junk, m, ea.len[k]);
            free(m);
        }
        assert_int_equal(txn_ingest_idx(b.s, &junk, NULL, junk.n, &rep), TX_OK);
        if (rep.accepted || rep.equivocations)
            print_rep("mutations", &rep);
        assert_int_equal(rep.accepted, 0);
        assert_int_equal(rep.equivocations, 0);
        assert_int_equal(rep.rejected + rep.held + rep.duplicate, junk.n);
        add_rep(sum, &rep);
        txn_envs_free(&junk);
    }

    expect_unchanged(b.s, &d0);
    expect_frozen(b.s, a.id, 0);
    st = txn_stats(b.s);
    assert_int_equal(st.frozen, 0);
    assert_int_equal(st.evidence, 0);
    assert_int_equal(st.envelopes, 3);
    for (int r = 1; r < NODE_R_COUNT; r++)
        if (!is_held_reason(r))
            assert_int_equal(st.rejected[r], st0.rejected[r] + sum[r]);
    assert_true(st.rejected[NODE_R_MALFORMED] > st0.rejected[NODE_R_MALFORMED]);

    /* Whatever junk sits in the hold queue does not stop the real next one. */
    write_n(&a, 1, NULL);
    txn_envs_free(&ea);
    txn_envs_collect(a.s, a.id, &ea);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){3}, 1, &rep), TX_OK);
    assert_int_equal(rep.accepted, 1);
    expect_same_as(b.s, a.s);

    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- a signed envelope whose body is bad ---- */

static void test_bad_body(void **state)
{
    struct writer a, b;
    struct node_ingest_report rep;
    struct node_stats st0, st;
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES], h[CRDT_HASH_BYTES];
    static const uint8_t not_a_body[] = {0xc0};
    struct crdt_op op = txn_op_lww("rec", "x", "f", "after");
    struct crdt_dot foreign;
    uint8_t *e1, *e2, *e3;
    size_t l1, l2, l3;
    struct txn_envs ea = {0};
    (void)state;

    txt_alloc_install();
    writer_new(&a, "body-a");
    writer_new(&b, "body-b");
    txn_load_keypair(a.dir, pk, sk);
    st0 = txn_stats(b.s);
    /* seq 1: a body that does not decode; seq 2: an op superseding a dot of an
     * origin it does not depend on (not causal); seq 3: a good one. */
    e1 = txn_env_build_raw(sk, 1, NULL, CRDT_HLC_MAKE(txn_now_ms(), 1), NULL, 0, not_a_body,
                           sizeof(not_a_body), &l1);
    txn_env_hash(e1, l1, h);
    memset(&foreign, 0x42, sizeof(foreign));
    foreign.seq = 1;
    foreign.idx = 0;
    op.sup = &foreign;
    op.nsup = 1;
    e2 = txn_env_build(sk, 2, h, CRDT_HLC_MAKE(txn_now_ms(), 2), NULL, 0, &op, 1, &l2);
    txn_env_hash(e2, l2, h);
    op.sup = NULL;
    op.nsup = 0;
    e3 = txn_env_build(sk, 3, h, CRDT_HLC_MAKE(txn_now_ms(), 3), NULL, 0, &op, 1, &l3);
    txn_envs_push(&ea, e1, l1);
    txn_envs_push(&ea, e2, l2);
    txn_envs_push(&ea, e3, l3);

    /* Bad bodies are skipped, the envelopes still take their place. */
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){0, 1}, 2, &rep), TX_OK);
    expect_rep(&rep, 2, 0, 0, 0);
    st = txn_stats(b.s);
    assert_int_equal(st.envelopes, 2);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.rejected[NODE_R_BADBODY], st0.rejected[NODE_R_BADBODY] + 2);
    expect_f(b.s, NULL);
    txn_assert_verify(b.s);
    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){2}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    expect_f(b.s, "after");
    assert_int_equal(txn_stats(b.s).rejected[NODE_R_BADBODY], st0.rejected[NODE_R_BADBODY] + 2);

    free(e1);
    free(e2);
    free(e3);
    sodium_memzero(sk, sizeof(sk));
    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- an origin that signs badly inside a run ---- */

/* The origin signs seq 1 badly and seq 2 well, chaining seq 2 to the bad
 * bytes: ingest accepts both (the second signature authenticates the first's
 * exact bytes); node_verify calls that sound, node_verify_ex still names it. */
static void problem_count(const char *what, void *ctx)
{
    int *n = ctx;

    if (strstr(what, "own signature does not verify") && strstr(what, "#1:"))
        (*n)++;
    else
        fail_msg("unexpected verify line: %s", what);
}

static void test_verify_covered_badsig(void **state)
{
    struct writer a, b;
    struct node_ingest_report rep;
    struct node_verify_report vr;
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES], h[CRDT_HASH_BYTES];
    struct crdt_op op1 = txn_op_lww("rec", "x", "f", "one"),
                   op2 = txn_op_lww("rec", "x", "f", "two");
    uint8_t *e1, *e2;
    size_t l1, l2;
    struct txn_envs ea = {0};
    int lines = 0;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "cover-a");
    writer_new(&b, "cover-b");
    txn_load_keypair(a.dir, pk, sk);
    e1 = txn_env_build(sk, 1, NULL, CRDT_HLC_MAKE(txn_now_ms(), 1), NULL, 0, &op1, 1, &l1);
    e1[l1 - 5] ^= 0x20; /* inside the signature */
    txn_env_hash(e1, l1, h);
    e2 = txn_env_build(sk, 2, h, CRDT_HLC_MAKE(txn_now_ms(), 2), NULL, 0, &op2, 1, &l2);
    txn_envs_push(&ea, e1, l1);
    txn_envs_push(&ea, e2, l2);
    assert_int_equal(txn_ingest_idx(b.s, &ea, NULL, 2, &rep), TX_OK);
    expect_rep(&rep, 2, 0, 0, 0);
    expect_f(b.s, "two");
    assert_int_equal(node_verify(b.s, NULL, NULL), TX_OK);
    assert_int_equal(node_verify_ex(b.s, problem_count, &lines, &vr), TX_OK);
    assert_int_equal(vr.corrupt, 0);
    assert_int_equal(vr.covered_badsig, 1);
    assert_int_equal(lines, 1);

    free(e1);
    free(e2);
    sodium_memzero(sk, sizeof(sk));
    txn_envs_free(&ea);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- one signature per run ---- */

static void test_run_last_sig_broken(void **state)
{
    struct writer a, b;
    struct txn_envs ea = {0}, forged = {0};
    struct node_ingest_report rep;
    struct node_origin_info oi;
    struct node_change ch[50];
    size_t sizes[50];
    char vals[50][16];
    uint8_t *bad;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "run-a");
    writer_new(&b, "run-b");
    for (int i = 0; i < 50; i++) {
        snprintf(vals[i], sizeof(vals[i]), "v%d", i + 1);
        ch[i] = txn_ch_str("rec", "x", "f", vals[i]);
        sizes[i] = 1;
    }
    assert_int_equal(node_write_batch(a.s, PUB, ch, sizes, 50, NULL), TX_OK);
    txn_envs_collect(a.s, a.id, &ea);
    assert_int_equal(ea.n, 50);
    for (size_t i = 0; i < 49; i++)
        txn_envs_push(&forged, ea.b[i], ea.len[i]);
    bad = dup_flip(ea.b[49], ea.len[49], ea.len[49] - 1 - (size_t)(g_seed % 64), 0x80);
    txn_envs_push(&forged, bad, ea.len[49]);
    free(bad);

    assert_int_equal(txn_ingest_idx(b.s, &forged, NULL, 50, &rep), TX_OK);
    expect_rep(&rep, 49, 0, 1, NODE_R_HELD_UNVERIFIED, 1, 0);
    assert_int_equal(txn_stats(b.s).held, 1);
    assert_true(txn_origin(b.s, a.id, &oi));
    assert_int_equal(oi.head, 49);
    expect_f(b.s, "v49");
    txn_assert_verify(b.s);

    assert_int_equal(txn_ingest_idx(b.s, &ea, (size_t[]){49}, 1, &rep), TX_OK);
    expect_rep(&rep, 1, 0, 0, 0);
    assert_int_equal(txn_stats(b.s).held, 0);
    expect_f(b.s, "v50");
    expect_same_as(b.s, a.s);

    txn_envs_free(&ea);
    txn_envs_free(&forged);
    writer_close(&a);
    writer_close(&b);
    txt_assert_no_leak();
}

/* ---- clock skew ---- */

static uint64_t fake_now(void *ctx)
{
    return *(uint64_t *)ctx;
}

static void test_skew_held_then_released(void **state)
{
    struct writer a;
    char dir[TXN_PATH];
    uint64_t clock_ms = txn_now_ms();
    struct node_os os = {fake_now, NULL, NULL, &clock_ms};
    struct node_init_opts o = {"c1", NODE_ROLE_OFFICE, NULL};
    struct node_store *b;
    struct node_ingest_report rep;
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES];
    struct crdt_op op = txn_op_lww("rec", "x", "f", "future");
    uint8_t *e1;
    size_t l1;
    (void)state;

    txt_alloc_install();
    writer_new(&a, "skew-a");
    txn_load_keypair(a.dir, pk, sk);
    e1 = txn_env_build(sk, 1, NULL, CRDT_HLC_MAKE(clock_ms + 3600 * 1000, 0), NULL, 0, &op, 1, &l1);
    txn_tmpdir(dir, sizeof(dir), "skew-b");
    assert_int_equal(node_init(dir, &o, &os), TX_OK);
    assert_int_equal(node_open(dir, 0, &os, &b), TX_OK);

    assert_int_equal(txn_ingest_one(b, e1, l1, &rep), TX_OK);
    expect_rep(&rep, 0, 0, 1, NODE_R_HELD_SKEW, 1, 0);
    expect_f(b, NULL);
    assert_int_equal(node_release_held(b, &rep), TX_OK);
    assert_int_equal(rep.released, 0);
    assert_int_equal(txn_stats(b).held, 1);
    /* Held for its time, which has not come: nothing to release yet. */
    assert_int_equal(node_held_for_time(b), 0);
    {
        /* Due the moment its HLC is within the allowed skew of the clock; the
         * answer follows the clock with no commit in between. */
        uint64_t start = clock_ms;

        clock_ms = start + 3600 * 1000 - CRDT_HLC_DEFAULT_SKEW_MS - 1;
        assert_int_equal(node_held_for_time(b), 0);
        clock_ms++;
        assert_int_equal(node_held_for_time(b), 1);
        clock_ms = start;
        assert_int_equal(node_release_held(b, &rep), TX_OK);
        assert_int_equal(rep.released, 0);
    }
    /* The clock catches up. */
    clock_ms += 2 * 3600 * 1000;
    assert_int_equal(node_held_for_time(b), 1);
    assert_int_equal(node_release_held(b, &rep), TX_OK);
    assert_int_equal(rep.released, 1);
    assert_int_equal(txn_stats(b).held, 0);
    assert_int_equal(node_held_for_time(b), 0);
    expect_f(b, "future");
    txn_assert_verify(b);

    free(e1);
    sodium_memzero(sk, sizeof(sk));
    node_close(b);
    txn_rmrf(dir);
    writer_close(&a);
    txt_assert_no_leak();
}

/* ---- randomised: two origins with dependencies, shuffled batches ---- */

static void test_random_batches(void **state)
{
    struct txt_rng rng = {g_seed};
    struct writer a, c, b, r;
    struct writer *w[2] = {&a, &c};
    struct txn_envs all = {0}, mix = {0};
    struct node_ingest_report rep;
    uint64_t applied = 0;
    size_t *order, n;
    static const char *const ids[] = {"x", "y", "z"};
    (void)state;

    txt_alloc_install();
    writer_new(&a, "rand-a");
    writer_new(&c, "rand-c");
    writer_new(&b, "rand-b");
    writer_new(&r, "rand-r");
    /* Interleaved writes with partial syncs: later writes supersede values of
     * the other origin and so carry dependencies. */
    for (int step = 0; step < 40; step++) {
        struct writer *x = w[txt_below(&rng, 2)];
        const char *id = ids[txt_below(&rng, 3)];
        char val[32];
        struct node_change ch[2];

        if (txt_below(&rng, 3) == 0) {
            struct writer *y = x == &a ? &c : &a;

            (void)txn_sync_all(y->s, x->s);
        }
        snprintf(val, sizeof(val), "s%d", step);
        ch[0] = txn_ch_str("rec", id, "f", val);
        memset(&ch[1], 0, sizeof(ch[1]));
        ch[1].type = "rec";
        ch[1].id = id;
        ch[1].field = "n";
        ch[1].code = CRDT_OP_CTR_ADD;
        ch[1].value.type = CRDT_INT;
        ch[1].value.i = step;
        assert_int_equal(node_write(x->s, PUB, ch, 1 + txt_below(&rng, 2), NULL), TX_OK);
    }
    txn_envs_collect(a.s, a.id, &all);
    txn_envs_collect(c.s, c.id, &all);
    /* Reference: everything in one batch. */
    assert_int_equal(txn_ingest_idx(r.s, &all, NULL, all.n, &rep), TX_OK);
    expect_rep(&rep, (int)all.n, 0, 0, 0);

    /* Every envelope, some twice, some preceded or followed by a forged copy. */
    for (size_t i = 0; i < all.n; i++) {
        int extra = (int)txt_below(&rng, 8);

        txn_envs_push(&mix, all.b[i], all.len[i]);
        if (extra == 0)
            txn_envs_push(&mix, all.b[i], all.len[i]);
        if (extra == 1) {
            uint8_t *f = dup_flip(all.b[i], all.len[i],
                                  all.len[i] - 1 - txt_below(&rng, CRDT_SIG_BYTES), 0x04);
            txn_envs_push(&mix, f, all.len[i]);
            free(f);
        }
    }
    n = mix.n;
    order = malloc(n * sizeof(*order));
    assert_non_null(order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = txt_below(&rng, i + 1), t = order[i];

        order[i] = order[j];
        order[j] = t;
    }
    for (size_t off = 0; off < n;) {
        size_t k = 1 + txt_below(&rng, 8);

        if (k > n - off)
            k = n - off;
        assert_int_equal(txn_ingest_idx(b.s, &mix, order + off, k, &rep), TX_OK);
        assert_int_equal(rep.equivocations, 0);
        assert_int_equal(rep.by_reason[NODE_R_BADCHAIN], 0);
        applied += rep.accepted + rep.released;
        off += k;
    }
    assert_int_equal(applied, all.n);
    assert_int_equal(txn_stats(b.s).held, 0);
    assert_int_equal(txn_stats(b.s).frozen, 0);
    expect_same_as(b.s, r.s);
    print_message("ingest: %zu envelopes from 2 origins, %zu shuffled items, seed %llu, "
                  "digests equal\n",
                  all.n, n, (unsigned long long)g_seed);

    free(order);
    txn_envs_free(&all);
    txn_envs_free(&mix);
    writer_close(&a);
    writer_close(&b);
    writer_close(&c);
    writer_close(&r);
    txt_assert_no_leak();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_signature),
        cmocka_unit_test(test_broken_chain),
        cmocka_unit_test(test_hold_queue_full),
        cmocka_unit_test(test_verify_covered_badsig),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_replay_old),
        cmocka_unit_test(test_reordered_batch),
        cmocka_unit_test(test_causal_deps),
        cmocka_unit_test(test_equivocation_signed),
        cmocka_unit_test(test_equivocation_copied_dir),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_bad_body),
        cmocka_unit_test(test_run_last_sig_broken),
        cmocka_unit_test(test_skew_held_then_released),
        cmocka_unit_test(test_random_batches),
    };

    txt_alloc_install();
    g_seed = txt_seed("TX_INGEST_SEED", "ingest");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
