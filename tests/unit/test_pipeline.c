/*
 * test_pipeline.c - node_ingest_many gives what node_ingest per batch gives.
 *
 * Three offices of one community write into the general scope (readable by
 * the receivers), the private scope (not shared: stored unreadable) and the
 * public scope, syncing with each other now and then so that later writes
 * supersede and depend on other origins' envelopes. Their envelopes, shuffled
 * by runs so that some arrive before their predecessors or dependencies (held,
 * then released by a later batch), are ingested by two fresh stores: one with
 * node_ingest_many in batches of k, one with node_ingest on the same batches.
 * Both must end with the same records, log, hold queue and lifetime counters,
 * and the summed reports must be equal field by field. The same again with
 * TONGXIN_VERIFY_THREADS=1 (no second thread). A bad envelope, a duplicate and
 * an oversized one in the stream are counted the same way.
 *
 * Randomised: TX_PIPELINE_SEED replays a run (the seed is printed).
 */
#include "txnode.h"

#define PUB "public"

static struct txt_rng g_rng;

struct offices {
    char dir[3][TXN_PATH];
    struct node_store *s[3];
    char general[CRDT_MAX_SCOPE + 1], private_[CRDT_MAX_SCOPE + 1];
};

static void write_history(struct offices *o, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        int w = (int)txt_below(&g_rng, 3), n = 1 + (int)txt_below(&g_rng, 6);

        for (int i = 0; i < n; i++) {
            char id[16], val[32];
            const char *scope = o->general;
            const char *type = "case";

            snprintf(id, sizeof(id), "r%llu", (unsigned long long)txt_below(&g_rng, 12));
            snprintf(val, sizeof(val), "v%d-%d-%d", r, w, i);
            switch (txt_below(&g_rng, 8)) {
            case 0:
                scope = o->private_;
                type = "person";
                break;
            case 1:
                scope = PUB;
                type = "notice";
                break;
            default: break;
            }
            txn_put(o->s[w], scope, type, id, "note", val);
        }
        if (txt_below(&g_rng, 3) == 0) {
            int a = (int)txt_below(&g_rng, 3), b = (int)txt_below(&g_rng, 3);

            if (a != b)
                txn_sync_all(o->s[a], o->s[b]);
        }
    }
}

static struct node_store *receiver(const char *tag, char *dir, size_t cap, struct offices *o)
{
    struct node_store *s = txn_node_new(dir, cap, tag, "c1");

    txn_share_key(o->s[0], s, o->general); /* the general key, not the private one */
    return s;
}

static void expect_reports_equal(const struct node_ingest_report *a,
                                 const struct node_ingest_report *b)
{
    assert_int_equal(a->accepted, b->accepted);
    assert_int_equal(a->duplicate, b->duplicate);
    assert_int_equal(a->held, b->held);
    assert_int_equal(a->released, b->released);
    assert_int_equal(a->unreadable, b->unreadable);
    assert_int_equal(a->rejected, b->rejected);
    assert_int_equal(a->badbody, b->badbody);
    assert_int_equal(a->equivocations, b->equivocations);
    for (int r = 0; r < NODE_R_COUNT; r++)
        assert_int_equal(a->by_reason[r], b->by_reason[r]);
}

static void expect_stats_equal(struct node_store *x, struct node_store *y)
{
    struct node_stats a = txn_stats(x), b = txn_stats(y);

    assert_int_equal(a.envelopes, b.envelopes);
    assert_int_equal(a.records, b.records);
    assert_int_equal(a.held, b.held);
    assert_int_equal(a.origins, b.origins);
    for (int r = 0; r < NODE_R_COUNT; r++)
        assert_int_equal(a.rejected[r], b.rejected[r]);
}

/* The stream: every office's log, runs of up to 8 envelopes shuffled; a
 * corrupted copy, a duplicate and an oversized blob put in somewhere. */
static void make_stream(struct offices *o, struct txn_envs *out)
{
    struct txn_envs all = {0};
    size_t *order, n, runs = 0, *start;
    uint8_t *bad, big[CRDT_MAX_ENVELOPE + 1];

    for (int i = 0; i < 3; i++)
        txn_envs_collect(o->s[i], NULL, &all); /* overlaps: duplicates too */
    n = all.n;
    start = calloc(n + 1, sizeof(*start));
    order = calloc(n + 1, sizeof(*order));
    assert_non_null(start);
    assert_non_null(order);
    for (size_t i = 0; i < n; i += 1 + txt_below(&g_rng, 8))
        start[runs++] = i;
    start[runs] = n;
    for (size_t i = 0; i < runs; i++)
        order[i] = i;
    for (size_t i = runs; i > 1; i--) {
        size_t j = txt_below(&g_rng, i), t = order[i - 1];

        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < runs; i++)
        for (size_t k = start[order[i]]; k < start[order[i] + 1]; k++) {
            txn_envs_push(out, all.b[k], all.len[k]);
            if (k == n / 2) {
                bad = malloc(all.len[k]);
                assert_non_null(bad);
                memcpy(bad, all.b[k], all.len[k]);
                bad[all.len[k] / 2] ^= 0x40;
                txn_envs_push(out, bad, all.len[k]);
                free(bad);
                txn_envs_push(out, all.b[k], all.len[k]);
            }
        }
    memset(big, 0x91, sizeof(big));
    txn_envs_push(out, big, sizeof(big));
    free(start);
    free(order);
    txn_envs_free(&all);
}

static void run_once(struct offices *o, const struct txn_envs *v, size_t k, const char *tag)
{
    char dx[TXN_PATH], dy[TXN_PATH];
    struct node_store *x = receiver(tag, dx, sizeof(dx), o);
    struct node_store *y = receiver(tag, dy, sizeof(dy), o);
    struct node_ingest_report rx, ry, r;
    struct txn_digests gx, gy;
    int rc;

    memset(&ry, 0, sizeof(ry));
    rc = node_ingest_many(x, v->b, v->len, v->n, k, &rx);
    if (rc)
        fail_msg("node_ingest_many: %s", tx_errname(rc));
    for (size_t off = 0; off < v->n; off += k) {
        size_t m = v->n - off < k ? v->n - off : k;

        assert_int_equal(node_ingest(y, v->b + off, v->len + off, m, &r), TX_OK);
        node_ingest_report_add(&ry, &r);
    }
    print_message("k %zu: accepted %llu duplicate %llu held %llu released %llu unreadable %llu "
                  "rejected %llu\n",
                  k, (unsigned long long)rx.accepted, (unsigned long long)rx.duplicate,
                  (unsigned long long)rx.held, (unsigned long long)rx.released,
                  (unsigned long long)rx.unreadable, (unsigned long long)rx.rejected);
    expect_reports_equal(&rx, &ry);
    assert_true(rx.accepted > 0);
    {
        /* the general scope is read, the private one (no key) is not */
        char got[64];

        assert_int_equal(txn_get_str(x, o->general, "case", "r0", "note", got, sizeof(got)), TX_OK);
        assert_int_equal(txn_get_str(x, o->private_, "person", "p0", "note", got, sizeof(got)),
                         TX_ENOTFOUND);
    }
    assert_int_equal(rx.by_reason[NODE_R_OVERSIZED], 1);
    assert_true(rx.rejected >= 2);
    txn_digests(x, &gx);
    txn_digests(y, &gy);
    txn_assert_digests_equal(&gx, &gy);
    expect_stats_equal(x, y);
    txn_assert_verify(x);
    node_close(x);
    node_close(y);
    txn_rmrf(dx);
    txn_rmrf(dy);
}

static void test_many_equals_batches(void **state)
{
    struct offices o;
    struct txn_envs v = {0};
    static const size_t ks[] = {1, 7, 64, 1000};
    (void)state;

    g_rng.s = txt_seed("TX_PIPELINE_SEED", "test_pipeline");
    memset(&o, 0, sizeof(o));
    for (int i = 0; i < 3; i++) {
        char tag[16];

        snprintf(tag, sizeof(tag), "pipe-src%d", i);
        o.s[i] = txn_node_new(o.dir[i], sizeof(o.dir[i]), tag, "c1");
    }
    txn_general(o.s[0], o.general);
    assert_int_equal(node_scope_private("c1", o.private_), TX_OK);
    txn_put(o.s[0], o.general, "case", "r0", "note", "first"); /* creates the keys */
    txn_put(o.s[0], o.private_, "person", "p0", "note", "first");
    for (int i = 1; i < 3; i++) {
        txn_share_key(o.s[0], o.s[i], o.general);
        txn_share_key(o.s[0], o.s[i], o.private_);
    }
    write_history(&o, 60);
    make_stream(&o, &v);
    print_message("stream of %zu envelopes\n", v.n);
    setenv("TONGXIN_VERIFY_THREADS", "2", 1); /* the second thread, on any machine */
    for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
        run_once(&o, &v, ks[i], "pipe-rx");
    /* One thread: preparation after each commit, same results. */
    setenv("TONGXIN_VERIFY_THREADS", "1", 1);
    run_once(&o, &v, 7, "pipe-rx1");
    unsetenv("TONGXIN_VERIFY_THREADS");
    {
        char d[TXN_PATH];
        struct node_store *x = receiver("pipe-inval", d, sizeof(d), &o);
        struct node_ingest_report r;

        assert_int_equal(node_ingest_many(x, v.b, v.len, v.n, 0, &r), TX_EINVAL);
        assert_int_equal(node_ingest_many(x, NULL, NULL, 0, 10, &r), TX_OK);
        assert_int_equal(r.accepted, 0);
        node_close(x);
        txn_rmrf(d);
    }
    txn_envs_free(&v);
    for (int i = 0; i < 3; i++) {
        node_close(o.s[i]);
        txn_rmrf(o.dir[i]);
    }
}

/* Allocation failures at every point of node_ingest and node_ingest_many
 * (with the preparation thread): the call returns TX_ENOMEM or TX_OK, never
 * crashes, leaks nothing, and the store stays consistent and completes. */
static void test_alloc_failures(void **state)
{
    char da[TXN_PATH], db[TXN_PATH], general[CRDT_MAX_SCOPE + 1];
    struct node_store *a = txn_node_new(da, sizeof(da), "pipe-oom-a", "c1"), *b;
    struct txn_envs v = {0};
    struct txn_digests ga, gb;
    (void)state;

    txn_general(a, general);
    for (int i = 0; i < 40; i++) {
        char id[16];

        snprintf(id, sizeof(id), "r%d", i % 9);
        txn_put(a, general, "case", id, "note", i % 2 ? "odd" : "even");
    }
    txn_envs_collect(a, NULL, &v);
    setenv("TONGXIN_VERIFY_THREADS", "2", 1); /* the second thread, on any machine */
    for (int many = 0; many < 2; many++) {
        int done = 0;
        uint64_t n;

        /* a fresh receiver each time, so that every allocation of a full
         * ingest is failed once */
        for (n = 1; !done && n < 100000; n++) {
            struct node_ingest_report r;
            int rc;

            b = txn_node_new(db, sizeof(db), many ? "pipe-oom-m" : "pipe-oom-1", "c1");
            txn_share_key(a, b, general);
            txt_alloc_install();
            txt_a.fail_at = n;
            rc = many ? node_ingest_many(b, v.b, v.len, v.n, 7, &r)
                      : node_ingest(b, v.b, v.len, v.n, &r);
            done = txt_a.calls < n; /* nothing failed: the call ran through */
            txt_alloc_done();
            if (rc != TX_OK && rc != TX_ENOMEM)
                fail_msg("fail_at %llu: %s", (unsigned long long)n, tx_errname(rc));
            txt_assert_no_leak();
            if (done) {
                assert_int_equal(rc, TX_OK);
                txn_digests(a, &ga);
                txn_digests(b, &gb);
                txn_assert_digests_equal(&ga, &gb);
            }
            txn_assert_verify(b);
            node_close(b);
            txn_rmrf(db);
        }
        print_message("%s: every one of %llu allocations failed once\n",
                      many ? "node_ingest_many" : "node_ingest", (unsigned long long)(n - 2));
        assert_true(done);
    }
    unsetenv("TONGXIN_VERIFY_THREADS");
    txn_envs_free(&v);
    node_close(a);
    txn_rmrf(da);
}

/* Every count is summed (the pipeline's report and the test's own sums above
 * rely on it). */
static void test_report_add(void **state)
{
    struct node_ingest_report a, b;
    uint64_t *pa = (uint64_t *)&a, *pb = (uint64_t *)&b;
    size_t n = sizeof(a) / sizeof(uint64_t);
    (void)state;

    assert_int_equal(sizeof(a) % sizeof(uint64_t), 0); /* counters only */
    for (size_t i = 0; i < n; i++) {
        pa[i] = 1000 + i;
        pb[i] = 7 * i + 1;
    }
    node_ingest_report_add(&a, &b);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pa[i], 1000 + i + 7 * i + 1);
}

int main(void)
{
    txt_alloc_install(); /* before anything allocates: the ENOMEM sweep uses it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_add),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_many_equals_batches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
