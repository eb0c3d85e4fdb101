/*
 * test_mapfull.c - the LMDB map size limit (node_set_map_limits).
 *
 * - A tiny map (256 KiB growing to at most 1 MiB) is written until a write
 *   fails with TX_EMAPFULL: the failed write leaves nothing behind, every
 *   acknowledged write is there after a reopen, and verify passes.
 * - Ingest into a full map fails as a whole; smaller batches are each all or
 *   nothing.
 * - With a larger maximum the map grows (node_stats map_size) and writes and
 *   ingests continue; a transaction redone after growing applies exactly once.
 */
#include "txnode.h"

#define PUB    "public"
#define KIB    ((size_t)1024)
#define VALLEN 2000

static void value_for(int i, char *buf)
{
    int n = snprintf(buf, VALLEN + 1, "row %05d ", i);

    memset(buf + n, 'a' + i % 26, (size_t)(VALLEN - n));
    buf[VALLEN] = '\0';
}

static void id_for(int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "r%05d", i);
}

/* Record i: a 2000-byte value and a counter bump on a shared record. */
static int write_row(struct node_store *s, int i)
{
    char val[VALLEN + 1], id[16];
    struct node_change ch[2];

    value_for(i, val);
    id_for(i, id, sizeof(id));
    ch[0] = txn_ch_str("row", id, "v", val);
    memset(&ch[1], 0, sizeof(ch[1]));
    ch[1].type = "total";
    ch[1].id = "all";
    ch[1].field = "n";
    ch[1].code = CRDT_OP_CTR_ADD;
    ch[1].value.type = CRDT_INT;
    ch[1].value.i = 1;
    return node_write(s, PUB, ch, 2, NULL);
}

/* Rows first..first+count-1 as count envelopes of one transaction. */
static int write_rows_batch(struct node_store *s, int first, int count)
{
    struct node_change *ch = calloc((size_t)count * 2, sizeof(*ch));
    size_t *sizes = calloc((size_t)count, sizeof(*sizes));
    char(*vals)[VALLEN + 1] = calloc((size_t)count, sizeof(*vals));
    char(*ids)[16] = calloc((size_t)count, sizeof(*ids));
    int rc;

    assert_non_null(ch);
    assert_non_null(sizes);
    assert_non_null(vals);
    assert_non_null(ids);
    for (int i = 0; i < count; i++) {
        value_for(first + i, vals[i]);
        id_for(first + i, ids[i], sizeof(ids[i]));
        ch[2 * i] = txn_ch_str("row", ids[i], "v", vals[i]);
        ch[2 * i + 1].type = "total";
        ch[2 * i + 1].id = "all";
        ch[2 * i + 1].field = "n";
        ch[2 * i + 1].code = CRDT_OP_CTR_ADD;
        ch[2 * i + 1].value.type = CRDT_INT;
        ch[2 * i + 1].value.i = 1;
        sizes[i] = 2;
    }
    rc = node_write_batch(s, PUB, ch, sizes, (size_t)count, NULL);
    free(ch);
    free(sizes);
    free(vals);
    free(ids);
    return rc;
}

static int64_t total(struct node_store *s)
{
    struct node_record r;
    const struct crdt_field *f;
    int64_t v = -1;

    if (node_get(s, PUB, "total", "all", &r) == TX_OK) {
        f = crdt_record_field(&r.rec, "n", 1, CRDT_COUNTER);
        v = f ? f->u.counter : -1;
    }
    node_record_release(&r);
    return v;
}

static void expect_rows(struct node_store *s, int n)
{
    char val[VALLEN + 1], got[VALLEN + 1], id[16];

    for (int i = 0; i < n; i++) {
        value_for(i, val);
        id_for(i, id, sizeof(id));
        assert_int_equal(txn_get_str(s, PUB, "row", id, "v", got, sizeof(got)), TX_OK);
        assert_string_equal(got, val);
    }
    id_for(n, id, sizeof(id));
    assert_int_equal(txn_get_str(s, PUB, "row", id, "v", got, sizeof(got)), TX_ENOTFOUND);
    assert_int_equal(total(s), n);
    assert_int_equal(txn_stats(s).envelopes, (uint64_t)n);
}

static void test_mapfull_stops(void **state)
{
    char dir[TXN_PATH];
    struct node_store *s = txn_node_new(dir, sizeof(dir), "mapfull", "c1");
    struct txn_digests last, now;
    struct node_stats st;
    int acked = 0, rc = TX_OK;
    (void)state;

    assert_int_equal(node_set_map_limits(s, 256 * KIB, 1024 * KIB), TX_OK);
    assert_int_equal(txn_stats(s).map_size, 256 * KIB);
    txn_digests(s, &last);
    while (acked < 5000) {
        rc = write_row(s, acked);
        if (rc)
            break;
        acked++;
        txn_digests(s, &last);
    }
    assert_int_equal(rc, TX_EMAPFULL);
    assert_true(acked > 50);
    st = txn_stats(s);
    assert_int_equal(st.map_size, 1024 * KIB);
    print_message("mapfull: %d writes acknowledged in a 1 MiB map (%zu bytes used)\n", acked,
                  st.map_used);

    /* The failed write left nothing: not in the log, not in the records. */
    txn_digests(s, &now);
    txn_assert_digests_equal(&now, &last);
    expect_rows(s, acked);
    txn_assert_verify(s);
    /* Still full when tried again; still nothing. */
    assert_int_equal(write_row(s, acked), TX_EMAPFULL);
    txn_digests(s, &now);
    txn_assert_digests_equal(&now, &last);

    /* Every acknowledged write survives a reopen, with the same small limits. */
    txn_reopen(&s, dir);
    assert_int_equal(node_set_map_limits(s, 256 * KIB, 1024 * KIB), TX_OK);
    expect_rows(s, acked);
    txn_digests(s, &now);
    txn_assert_digests_equal(&now, &last);
    txn_assert_verify(s);
    assert_int_equal(write_row(s, acked), TX_EMAPFULL);

    /* With the default limits the store takes more, and stays consistent. */
    txn_reopen(&s, dir);
    assert_int_equal(write_row(s, acked), TX_OK);
    expect_rows(s, acked + 1);
    txn_assert_verify(s);

    node_close(s);
    txn_rmrf(dir);
}

static void test_mapfull_ingest(void **state)
{
    char adir[TXN_PATH], bdir[TXN_PATH];
    struct node_store *a = txn_node_new(adir, sizeof(adir), "mapfull-a", "c1");
    struct node_store *b = txn_node_new(bdir, sizeof(bdir), "mapfull-b", "c1");
    uint8_t aid[CRDT_KEY_BYTES];
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct txn_digests d0, d;
    uint64_t stored = 0;
    int rc, failed = 0;
    (void)state;

    txn_id(a, aid);
    assert_int_equal(write_rows_batch(a, 0, 400), TX_OK);
    txn_envs_collect(a, aid, &ea);
    assert_int_equal(ea.n, 400);

    assert_int_equal(node_set_map_limits(b, 256 * KIB, 512 * KIB), TX_OK);
    txn_digests(b, &d0);
    /* All at once does not fit: nothing of the batch is stored. */
    rc = txn_ingest_idx(b, &ea, NULL, ea.n, &rep);
    assert_int_equal(rc, TX_EMAPFULL);
    txn_digests(b, &d);
    txn_assert_digests_equal(&d, &d0);
    assert_int_equal(txn_stats(b).envelopes, 0);
    assert_int_equal(txn_stats(b).held, 0);
    txn_assert_verify(b);

    /* Batches of 25 in order: each goes in whole, until one does not fit and
     * goes in not at all. */
    for (size_t off = 0; off < ea.n && !failed; off += 25) {
        size_t idx[25];

        for (size_t k = 0; k < 25; k++)
            idx[k] = off + k;
        rc = txn_ingest_idx(b, &ea, idx, 25, &rep);
        if (rc == TX_OK) {
            assert_int_equal(rep.accepted, 25);
            stored += 25;
        } else {
            assert_int_equal(rc, TX_EMAPFULL);
            failed = 1;
        }
        assert_int_equal(txn_stats(b).envelopes, stored);
        assert_int_equal(txn_stats(b).held, 0);
    }
    assert_true(failed);
    assert_true(stored > 0 && stored < ea.n);
    assert_int_equal(total(b), (int64_t)stored);
    txn_assert_verify(b);

    /* Reopened with room, the rest goes in and b equals a. */
    txn_reopen(&b, bdir);
    rc = txn_ingest_idx(b, &ea, NULL, ea.n, &rep);
    assert_int_equal(rc, TX_OK);
    assert_int_equal(rep.accepted, ea.n - stored);
    assert_int_equal(rep.duplicate, stored);
    txn_digests(a, &d0);
    txn_digests(b, &d);
    txn_assert_digests_equal(&d, &d0);
    txn_assert_verify(b);

    txn_envs_free(&ea);
    node_close(a);
    node_close(b);
    txn_rmrf(adir);
    txn_rmrf(bdir);
}

static void test_map_grows(void **state)
{
    char adir[TXN_PATH];
    struct node_store *a = txn_node_new(adir, sizeof(adir), "mapgrow-a", "c1");
    struct node_stats st;
    size_t before;
    int n = 0;
    (void)state;

    assert_int_equal(node_set_map_limits(a, 256 * KIB, 32 * 1024 * KIB), TX_OK);
    /* One by one, well past the initial size. */
    for (; n < 150; n++)
        assert_int_equal(write_row(a, n), TX_OK);
    st = txn_stats(a);
    assert_true(st.map_size > 256 * KIB);
    assert_true(st.map_size <= 32 * 1024 * KIB);
    /* One transaction of 300 envelopes that must grow the map midway: redone
     * from the start, applied exactly once (the counter counts envelopes). */
    before = st.map_size;
    assert_int_equal(write_rows_batch(a, n, 300), TX_OK);
    n += 300;
    st = txn_stats(a);
    assert_true(st.map_size > before);
    expect_rows(a, n);
    txn_assert_verify(a);
    print_message("mapgrow: %d writes, map grown from 256 KiB to %zu KiB\n", n, st.map_size / KIB);
    txn_reopen(&a, adir);
    expect_rows(a, n);
    txn_assert_verify(a);

    node_close(a);
    txn_rmrf(adir);
}

/* A writer with n rows (default map limits), its log collected. */
static struct node_store *writer_rows(char *dir, size_t cap, int n, struct txn_envs *ea)
{
    struct node_store *a = txn_node_new(dir, cap, "mapgrow-w", "c1");
    uint8_t aid[CRDT_KEY_BYTES];

    txn_id(a, aid);
    assert_int_equal(write_rows_batch(a, 0, n), TX_OK);
    txn_envs_collect(a, aid, ea);
    assert_int_equal(ea->n, (size_t)n);
    return a;
}

static void expect_took_all(struct node_store *b, struct node_store *a, int n,
                            const struct node_ingest_report *rep, const char *what)
{
    struct txn_digests da, db;
    struct node_stats st = txn_stats(b);

    if (rep->accepted != (uint64_t)n || st.envelopes != (uint64_t)n || st.held != 0)
        fail_msg("%s that grew the map (to %zu KiB): accepted %llu held %llu duplicate %llu; "
                 "store has %llu of %d envelopes, %llu held",
                 what, st.map_size / KIB, (unsigned long long)rep->accepted,
                 (unsigned long long)rep->held, (unsigned long long)rep->duplicate,
                 (unsigned long long)st.envelopes, n, (unsigned long long)st.held);
    assert_true(st.map_size > 256 * KIB);
    expect_rows(b, n);
    txn_digests(a, &da);
    txn_digests(b, &db);
    txn_assert_digests_equal(&db, &da);
    txn_assert_verify(b);
}

/* One ingest batch that has to grow the map midway: the transaction is redone
 * from the start and every envelope is stored exactly once. */
static void test_map_grows_ingest(void **state)
{
    char adir[TXN_PATH], bdir[TXN_PATH];
    struct txn_envs ea = {0};
    struct node_store *a = writer_rows(adir, sizeof(adir), 400, &ea);
    struct node_store *b = txn_node_new(bdir, sizeof(bdir), "mapgrow-b", "c1");
    struct node_ingest_report rep;
    (void)state;

    assert_int_equal(node_set_map_limits(b, 256 * KIB, 32 * 1024 * KIB), TX_OK);
    assert_int_equal(txn_ingest_idx(b, &ea, NULL, ea.n, &rep), TX_OK);
    expect_took_all(b, a, 400, &rep, "ingest");

    txn_envs_free(&ea);
    node_close(a);
    node_close(b);
    txn_rmrf(adir);
    txn_rmrf(bdir);
}

/* The same through a bundle (which ingests in batches of 1000). */
static void test_map_grows_bundle(void **state)
{
    char adir[TXN_PATH], bdir[TXN_PATH], path[TXN_PATH];
    struct txn_envs ea = {0};
    struct node_store *a = writer_rows(adir, sizeof(adir), 400, &ea);
    struct node_store *b = txn_node_new(bdir, sizeof(bdir), "mapgrow-b", "c1");
    struct node_bundle_report rep;
    uint64_t count;
    (void)state;

    txn_path(path, sizeof(path), adir, "all.bundle");
    assert_int_equal(node_bundle_export(a, path, NULL, &count), TX_OK);
    assert_int_equal(count, 400);
    assert_int_equal(node_set_map_limits(b, 256 * KIB, 32 * 1024 * KIB), TX_OK);
    assert_int_equal(node_bundle_import(b, path, &rep), TX_OK);
    expect_took_all(b, a, 400, &rep.ingest, "bundle import");

    txn_envs_free(&ea);
    node_close(a);
    node_close(b);
    txn_rmrf(adir);
    txn_rmrf(bdir);
}

/* A key import whose scope rebuild does not fit the map. The API promises
 * that on error nothing of the call is stored; whatever happens, once there is
 * room again the node must end up reading every envelope of the scope it holds
 * (a retried import, or the first one having succeeded after all). */
static void test_key_import_mapfull(void **state)
{
    char adir[TXN_PATH], ddir[TXN_PATH], rdir[TXN_PATH], general[CRDT_MAX_SCOPE + 1];
    struct node_store *a = txn_node_new(adir, sizeof(adir), "keyfull-a", "c1");
    struct node_store *d = txn_node_new(ddir, sizeof(ddir), "keyfull-d", "c1");
    struct node_store *r = txn_node_new(rdir, sizeof(rdir), "keyfull-r", "c1");
    uint8_t aid[CRDT_KEY_BYTES], did[CRDT_KEY_BYTES], *blob = NULL;
    size_t blen = 0, stored = 0;
    struct txn_envs ea = {0};
    struct node_ingest_report rep;
    struct txn_digests dd, dr;
    int rc, rc2;
    (void)state;

    txn_id(a, aid);
    txn_id(d, did);
    txn_general(a, general);
    for (int i = 0; i < 150; i++) {
        char val[VALLEN + 1], id[16];

        value_for(i, val);
        id_for(i, id, sizeof(id));
        txn_put(a, general, "row", id, "v", val);
    }
    txn_envs_collect(a, aid, &ea);
    assert_int_equal(node_key_wrap(a, general, did, &blob, &blen), TX_OK);

    /* d stores envelopes it cannot read in a small fixed-size map (no growth,
     * so no transaction is redone): they fit, their records (built when the
     * key arrives) do not. */
    assert_int_equal(node_set_map_limits(d, 1024 * KIB, 1024 * KIB), TX_OK);
    for (size_t off = 0; off < ea.n; off += 5) {
        size_t idx[5], k = ea.n - off < 5 ? ea.n - off : 5;

        for (size_t j = 0; j < k; j++)
            idx[j] = off + j;
        rc = txn_ingest_idx(d, &ea, idx, k, &rep);
        if (rc == TX_EMAPFULL)
            break;
        assert_int_equal(rc, TX_OK);
        assert_int_equal(rep.accepted, k);
        assert_int_equal(rep.unreadable, k);
        stored += k;
    }
    assert_true(stored > 0);
    assert_int_equal(txn_stats(d).envelopes, stored);
    /* A reference that reads the same envelopes. */
    txn_share_key(a, r, general);
    assert_int_equal(txn_ingest_idx(r, &ea, NULL, stored, &rep), TX_OK);
    assert_int_equal(rep.accepted, stored);

    rc = node_key_import(d, blob, blen, NULL);
    print_message("keyfull: %zu unreadable envelopes stored; key import in the full map: %s\n",
                  stored, tx_errname(rc));
    /* the rebuild does not fit: the key is not kept either (all or nothing) */
    assert_int_equal(rc, TX_EMAPFULL);
    txn_reopen(&d, ddir); /* default limits: room again */
    rc2 = node_key_import(d, blob, blen, NULL);
    assert_int_equal(rc2, TX_OK);
    txn_digests(d, &dd);
    txn_digests(r, &dr);
    if (memcmp(dd.state, dr.state, CRDT_HASH_BYTES) != 0)
        fail_msg("after a key import that failed with %s and a retry that returned %s, the "
                 "node holds %llu records of %zu: the scope was never rebuilt",
                 tx_errname(rc), tx_errname(rc2), (unsigned long long)txn_stats(d).records, stored);
    txn_assert_digests_equal(&dd, &dr);
    txn_assert_verify(d);

    tx_free(blob);
    txn_envs_free(&ea);
    node_close(a);
    node_close(d);
    node_close(r);
    txn_rmrf(adir);
    txn_rmrf(ddir);
    txn_rmrf(rdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapfull_stops),    cmocka_unit_test(test_mapfull_ingest),
        cmocka_unit_test(test_map_grows),        cmocka_unit_test(test_map_grows_ingest),
        cmocka_unit_test(test_map_grows_bundle), cmocka_unit_test(test_key_import_mapfull),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
