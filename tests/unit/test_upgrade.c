/*
 * test_upgrade.c - a store written by an older schema is upgraded on open.
 *
 * Schema 1 indexed every envelope in `scopelog` under its scope; schema 2
 * keeps only the public scope there. The test makes a schema-2 store look
 * like schema 1 (scopelog entries for every scope, meta schema = 1) with LMDB
 * directly, then checks:
 * - a read-only open reads it as it is (schema 1, nothing changed);
 * - a writable open upgrades it in one transaction: schema 2, only the public
 *   entries left in scopelog, the same records, digests and log;
 * - the upgraded store rebuilds scopes from arrival (a key imported later
 *   makes the other node's envelopes readable) and keeps writing;
 * - a store of a newer schema is refused with TX_EVERSION, unchanged.
 * And the schema-2 layout of a local write: it changes `log`, `arrival` and
 * `records` only (not `origins`, `scopelog` or `meta`), while every reader
 * still sees the own origin's head, its hash and time, also after a reopen and
 * in a read-only open.
 */
#include <lmdb.h>

#include "txnode.h"

#define PUB "public"

struct raw {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, scopelog, arrival, log, origins, records;
};

static void raw_open(struct raw *r, const char *dir)
{
    char path[TXN_PATH];

    txn_path(path, sizeof(path), dir, "db");
    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 32), 0);
    assert_int_equal(mdb_env_open(r->env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "meta", 0, &r->meta), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "scopelog", 0, &r->scopelog), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "arrival", 0, &r->arrival), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "log", 0, &r->log), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "origins", 0, &r->origins), 0);
    assert_int_equal(mdb_dbi_open(r->txn, "records", 0, &r->records), 0);
}

static void raw_close(struct raw *r, int commit)
{
    if (commit)
        assert_int_equal(mdb_txn_commit(r->txn), 0);
    else
        mdb_txn_abort(r->txn);
    mdb_env_close(r->env);
}

/* A digest of every key and value of a database, and its entry count. */
static size_t raw_digest(struct raw *r, MDB_dbi dbi, uint8_t out[32])
{
    crypto_generichash_state st;
    MDB_cursor *c;
    MDB_val k, v;
    size_t n = 0;

    crypto_generichash_init(&st, NULL, 0, 32);
    assert_int_equal(mdb_cursor_open(r->txn, dbi, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint8_t len[8] = {(uint8_t)k.mv_size, (uint8_t)(k.mv_size >> 8), (uint8_t)v.mv_size,
                          (uint8_t)(v.mv_size >> 8), (uint8_t)(v.mv_size >> 16)};

        crypto_generichash_update(&st, len, sizeof(len));
        crypto_generichash_update(&st, k.mv_data, k.mv_size);
        crypto_generichash_update(&st, v.mv_data, v.mv_size);
        n++;
    }
    mdb_cursor_close(c);
    crypto_generichash_final(&st, out, 32);
    return n;
}

struct snap {
    uint8_t d[6][32];
    size_t n[6];
};

static void raw_snap(const char *dir, struct snap *sn)
{
    struct raw r;

    raw_open(&r, dir);
    sn->n[0] = raw_digest(&r, r.meta, sn->d[0]);
    sn->n[1] = raw_digest(&r, r.scopelog, sn->d[1]);
    sn->n[2] = raw_digest(&r, r.origins, sn->d[2]);
    sn->n[3] = raw_digest(&r, r.log, sn->d[3]);
    sn->n[4] = raw_digest(&r, r.arrival, sn->d[4]);
    sn->n[5] = raw_digest(&r, r.records, sn->d[5]);
    raw_close(&r, 0);
}

static void raw_set_schema(struct raw *r, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    MDB_val k = {6, "schema"}, d = {4, b};

    assert_int_equal(mdb_put(r->txn, r->meta, &k, &d, 0), 0);
}

/* Entries of scopelog: all, and those under the public prefix. */
static void raw_count(struct raw *r, size_t *all, size_t *pub)
{
    MDB_cursor *c;
    MDB_val k, v;

    *all = *pub = 0;
    assert_int_equal(mdb_cursor_open(r->txn, r->scopelog, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        (*all)++;
        if (k.mv_size == sizeof(PUB) + 8 && memcmp(k.mv_data, PUB, sizeof(PUB)) == 0)
            (*pub)++;
    }
    mdb_cursor_close(c);
}

/* What schema 1 wrote: a scopelog entry scope \0 arrival -> idx, seq for every
 * envelope. Returns the number added. */
static size_t raw_index_all(struct raw *r)
{
    MDB_cursor *c;
    MDB_val k, v;
    size_t n = 0;

    assert_int_equal(mdb_cursor_open(r->txn, r->arrival, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        MDB_val lk = {12, v.mv_data}, env, sk, sv = {12, v.mv_data};
        struct crdt_env e;
        uint8_t key[CRDT_MAX_SCOPE + 9];

        assert_int_equal(k.mv_size, 8);
        assert_int_equal(mdb_get(r->txn, r->log, &lk, &env), 0);
        assert_int_equal(crdt_env_decode(&e, (uint8_t *)env.mv_data + 8, env.mv_size - 8), TX_OK);
        memcpy(key, e.scope, e.scope_len);
        key[e.scope_len] = 0;
        memcpy(key + e.scope_len + 1, k.mv_data, 8);
        sk.mv_size = e.scope_len + 9;
        sk.mv_data = key;
        crdt_env_release(&e);
        assert_int_equal(mdb_put(r->txn, r->scopelog, &sk, &sv, 0), 0);
        n++;
    }
    mdb_cursor_close(c);
    return n;
}

static void test_schema1_upgraded(void **state)
{
    char da[TXN_PATH], db[TXN_PATH], general[CRDT_MAX_SCOPE + 1], got[64];
    struct node_store *a = txn_node_new(da, sizeof(da), "upg-a", "c1"), *b, *ro;
    struct node_info info;
    struct txn_digests before, after;
    struct raw r;
    size_t all, pub, added;
    (void)state;

    txn_general(a, general);
    for (int i = 0; i < 400; i++) { /* several pages of scopelog */
        char id[16];

        snprintf(id, sizeof(id), "c%d", i);
        txn_put(a, general, "case", id, "title", "leaking pipe");
        if (i % 5 == 0)
            txn_put(a, PUB, "notice", id, "text", "meeting on Friday");
    }
    /* b holds a's envelopes without the general key: unreadable until a key arrives */
    b = txn_node_new(db, sizeof(db), "upg-b", "c1");
    txn_sync_all(a, b);
    node_close(b);
    txn_digests(a, &before);
    node_close(a);

    /* Make both stores look like schema 1. */
    raw_open(&r, da);
    raw_count(&r, &all, &pub);
    assert_int_equal(all, 80); /* schema 2 indexed only the public envelopes */
    assert_int_equal(pub, 80);
    added = raw_index_all(&r);
    assert_int_equal(added, 480);
    raw_set_schema(&r, 1);
    raw_close(&r, 1);
    raw_open(&r, db);
    raw_index_all(&r);
    raw_set_schema(&r, 1);
    raw_close(&r, 1);

    /* Read-only: read as it is. */
    assert_int_equal(node_open(da, NODE_OPEN_READONLY, NULL, &ro), TX_OK);
    assert_int_equal(node_info(ro, &info), TX_OK);
    assert_int_equal(info.schema, 1);
    assert_int_equal(txn_get_str(ro, general, "case", "c7", "title", got, sizeof(got)), TX_OK);
    node_close(ro);
    raw_open(&r, da);
    raw_count(&r, &all, &pub);
    raw_close(&r, 0);
    assert_int_equal(all, 480); /* the public ones were indexed already (same keys) */

    /* Writable: upgraded. */
    a = txn_open(da);
    assert_int_equal(node_info(a, &info), TX_OK);
    assert_int_equal(info.schema, NODE_SCHEMA_VERSION);
    txn_digests(a, &after);
    assert_true(txn_digests_equal(&before, &after));
    assert_int_equal(txn_get_str(a, PUB, "notice", "c15", "text", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "meeting on Friday");
    node_close(a);
    raw_open(&r, da);
    raw_count(&r, &all, &pub);
    raw_close(&r, 0);
    assert_int_equal(all, 80);
    assert_int_equal(pub, 80);

    /* The upgraded b rebuilds the general scope from arrival when the key comes. */
    a = txn_open(da);
    b = txn_open(db);
    assert_int_equal(txn_get_str(b, general, "case", "c3", "title", got, sizeof(got)),
                     TX_ENOTFOUND);
    txn_share_key(a, b, general);
    assert_int_equal(txn_get_str(b, general, "case", "c3", "title", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "leaking pipe");
    txn_put(a, general, "case", "c3", "title", "fixed");
    txn_sync_all(a, b);
    assert_int_equal(txn_get_str(b, general, "case", "c3", "title", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "fixed");
    txn_digests(a, &before);
    txn_digests(b, &after);
    assert_true(txn_digests_equal(&before, &after));
    node_close(a);
    node_close(b);
    raw_open(&r, db);
    raw_count(&r, &all, &pub);
    raw_close(&r, 0);
    assert_int_equal(all, pub);
    assert_int_equal(pub, 80);
}

static void test_newer_schema_refused(void **state)
{
    char d[TXN_PATH], got[64];
    struct node_store *s = txn_node_new(d, sizeof(d), "upg-new", "c1");
    struct node_store *x = NULL;
    struct raw r;
    (void)state;

    txn_put(s, PUB, "notice", "n1", "text", "kept");
    node_close(s);
    raw_open(&r, d);
    raw_set_schema(&r, NODE_SCHEMA_VERSION + 1);
    raw_close(&r, 1);
    assert_int_equal(node_open(d, 0, NULL, &x), TX_EVERSION);
    assert_null(x);
    assert_int_equal(node_open(d, NODE_OPEN_READONLY, NULL, &x), TX_EVERSION);
    raw_open(&r, d);
    raw_set_schema(&r, NODE_SCHEMA_VERSION);
    raw_close(&r, 1);
    s = txn_open(d);
    assert_int_equal(txn_get_str(s, PUB, "notice", "n1", "text", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "kept");
    node_close(s);
}

static void check_own(struct node_store *s, const struct node_write_result *w)
{
    struct node_origin_info oi;
    uint8_t id[CRDT_KEY_BYTES];

    txn_id(s, id);
    assert_true(txn_origin(s, id, &oi));
    assert_int_equal(oi.head, w->seq);
    assert_memory_equal(oi.head_hash, w->hash, CRDT_HASH_BYTES);
    assert_int_equal(oi.head_hlc, w->hlc);
    assert_int_equal(oi.received_ms, CRDT_HLC_MS(w->hlc));
    assert_true(oi.flags & NODE_ORIGIN_SELF);
}

static void test_write_touches_three_trees(void **state)
{
    char d[TXN_PATH], general[CRDT_MAX_SCOPE + 1];
    struct node_store *s = txn_node_new(d, sizeof(d), "upg-layout", "c1"), *ro;
    struct node_change c;
    struct node_write_result w;
    struct snap a, b;
    (void)state;

    txn_general(s, general);
    txn_put(s, general, "case", "k1", "title", "first"); /* creates the scope key */
    txn_put(s, PUB, "notice", "n1", "text", "public one");
    node_close(s);
    raw_snap(d, &a);
    s = txn_open(d);
    for (int i = 0; i < 3; i++) {
        c = txn_ch_str("case", i ? "k2" : "k1", "title", i ? "another" : "second");
        assert_int_equal(node_write(s, general, &c, 1, &w), TX_OK);
        check_own(s, &w);
    }
    node_close(s);
    raw_snap(d, &b);
    for (int i = 0; i < 3; i++) { /* meta, scopelog, origins: untouched */
        assert_int_equal(a.n[i], b.n[i]);
        assert_memory_equal(a.d[i], b.d[i], 32);
    }
    assert_int_equal(b.n[3], a.n[3] + 3); /* log */
    assert_int_equal(b.n[4], a.n[4] + 3); /* arrival */
    assert_int_equal(b.n[5], a.n[5] + 1); /* records: k2 is new */
    /* The head is still everyone's to see, from the log. */
    s = txn_open(d);
    check_own(s, &w);
    node_close(s);
    assert_int_equal(node_open(d, NODE_OPEN_READONLY, NULL, &ro), TX_OK);
    check_own(ro, &w);
    node_close(ro);
    /* A public write also indexes it in scopelog, and nothing else changes there. */
    s = txn_open(d);
    c = txn_ch_str("notice", "n2", "text", "another public one");
    assert_int_equal(node_write(s, PUB, &c, 1, &w), TX_OK);
    check_own(s, &w);
    node_close(s);
    raw_snap(d, &a);
    assert_int_equal(a.n[1], b.n[1] + 1);
    assert_int_equal(a.n[2], b.n[2]);
    assert_memory_equal(a.d[2], b.d[2], 32);
}

/* A stored scope key that does not unseal (sealed to another key: the key file
 * was replaced) is reported once, not at every refresh. */
static int unseal_warnings;

static void count_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    if (strstr(msg, "cannot unseal"))
        unseal_warnings++;
}

static int key_cb(const struct node_key_info *k, void *ctx)
{
    const struct node_key_info *want = ctx;

    if (k->epoch == want->epoch && strcmp(k->scope, want->scope) == 0 && k->readable)
        ((struct node_key_info *)ctx)->readable = 2;
    return 0;
}

/* Whether s holds (scope, epoch) readable. */
static int key_held(struct node_store *s, const char *scope, uint32_t epoch)
{
    struct node_key_info want;

    memset(&want, 0, sizeof(want));
    snprintf(want.scope, sizeof(want.scope), "%s", scope);
    want.epoch = epoch;
    assert_int_equal(node_keys_each(s, key_cb, &want), TX_OK);
    return want.readable == 2;
}

static void test_bad_key_warned_once(void **state)
{
    char d[TXN_PATH], general[CRDT_MAX_SCOPE + 1];
    struct node_store *s = txn_node_new(d, sizeof(d), "upg-badkey", "c1");
    struct node_os os = {NULL, NULL, count_log, NULL};
    struct raw r;
    MDB_dbi keys;
    MDB_val k = {20, "general:c1\0\0\0\0\x07"}, v;
    uint8_t junk[80];
    int changed;
    (void)state;

    txn_general(s, general);
    assert_string_equal(general, "general:c1");
    node_close(s);
    raw_open(&r, d);
    assert_int_equal(mdb_dbi_open(r.txn, "keys", 0, &keys), 0);
    k.mv_size = strlen(general) + 5;
    memset(junk, 0x5a, sizeof(junk));
    v.mv_size = sizeof(junk);
    v.mv_data = junk;
    assert_int_equal(mdb_put(r.txn, keys, &k, &v, 0), 0);
    raw_close(&r, 1);
    unseal_warnings = 0;
    assert_int_equal(node_open(d, 0, &os, &s), TX_OK);
    assert_int_equal(unseal_warnings, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(node_refresh(s, &changed), TX_OK);
    assert_int_equal(unseal_warnings, 1);
    assert_false(key_held(s, general, 7));
    /* Repaired beside the running process (another key sealed to this node,
     * as `keys import` stores it): the next refresh loads it, silently. */
    {
        uint8_t id[CRDT_KEY_BYTES], xpk[32], key[32];

        txn_id(s, id);
        assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, id), 0);
        randombytes_buf(key, sizeof(key));
        assert_int_equal(crypto_box_seal(junk, key, sizeof(key), xpk), 0);
        raw_open(&r, d);
        assert_int_equal(mdb_dbi_open(r.txn, "keys", 0, &keys), 0);
        assert_int_equal(mdb_put(r.txn, keys, &k, &v, 0), 0);
        raw_close(&r, 1);
    }
    assert_int_equal(node_refresh(s, &changed), TX_OK);
    assert_int_equal(unseal_warnings, 1);
    assert_true(key_held(s, general, 7));
    node_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema1_upgraded),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_write_touches_three_trees),
        cmocka_unit_test(test_bad_key_warned_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
