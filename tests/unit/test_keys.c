/*
 * test_keys.c - secrets on disk.
 *
 * - node.key is created 0600 (node.pub 0644, the data directory 0700) and a
 *   node.key that others may read makes node_open fail with TX_EINVAL.
 * - No file of a data directory other than node.key (nor a bundle, nor a
 *   wrapped key) holds the node seed, its secret keys, or a scope key in the
 *   clear. The test recovers the scope key itself by opening a key wrapped for a
 *   node whose seed it read, and checks that key really decrypts the scope.
 * - A marker string written into a general-scope record is not in the writer's
 *   envelopes, nor in a bundle, nor anywhere in the data directory of a node
 *   that imported the bundle without the key; it appears in that node's records
 *   once the key is imported. A private-scope marker stays hidden from a node
 *   that got only the general key.
 */
#include "txnode.h"

#define PUB "public"

static mode_t mode_of(const char *dir, const char *name)
{
    char path[TXN_PATH];
    struct stat st;

    if (name)
        txn_path(path, sizeof(path), dir, name);
    else
        snprintf(path, sizeof(path), "%s", dir);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void set_mode(const char *dir, const char *name, mode_t m)
{
    char path[TXN_PATH];

    txn_path(path, sizeof(path), dir, name);
    assert_int_equal(chmod(path, m), 0);
}

static void test_key_file_modes(void **state)
{
    char base[TXN_PATH], dir[TXN_PATH], hex[NODE_ID_HEX + 2], path[TXN_PATH];
    struct node_store *s;
    uint8_t id[CRDT_KEY_BYTES], pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES];
    struct node_init_opts o = {"c1", NODE_ROLE_OFFICE, NULL};
    uint8_t *buf;
    size_t n;
    mode_t old = umask(0); /* the modes must not depend on a careful umask */
    (void)state;

    /* node_init creates the directory itself. */
    txn_tmpdir(base, sizeof(base), "keymode");
    txn_path(dir, sizeof(dir), base, "node");
    assert_int_equal(node_init(dir, &o, NULL), TX_OK);
    umask(old);
    s = txn_open(dir);
    assert_int_equal(mode_of(dir, "node.key"), 0600);
    assert_int_equal(mode_of(dir, "node.pub"), 0644);
    assert_int_equal(mode_of(dir, NULL), 0700);
    assert_int_equal(mode_of(dir, "db") & 077, 0);
    assert_int_equal(mode_of(dir, "db/data.mdb") & 077, 0);
    /* The key file is the documented format, and node.pub is its public half. */
    txn_path(path, sizeof(path), dir, "node.key");
    buf = txn_read_file(path, &n);
    assert_int_equal(n, strlen("TONGXIN NODE SECRET KEY v1\n") + 64 + 1);
    assert_int_equal(buf[n - 1], '\n');
    sodium_memzero(buf, n);
    free(buf);
    txn_load_keypair(dir, pk, sk);
    txn_id(s, id);
    assert_memory_equal(pk, id, CRDT_KEY_BYTES);
    node_hex(id, CRDT_KEY_BYTES, hex);
    strcat(hex, "\n");
    txn_path(path, sizeof(path), dir, "node.pub");
    buf = txn_read_file(path, &n);
    assert_int_equal(n, strlen(hex));
    assert_memory_equal(buf, hex, n);
    free(buf);
    sodium_memzero(sk, sizeof(sk));
    /* A second init does not overwrite the key. */
    node_close(s);
    assert_int_equal(node_init(dir, &o, NULL), TX_EEXIST);
    s = txn_open(dir);
    txn_id(s, id);
    assert_memory_equal(pk, id, CRDT_KEY_BYTES);

    node_close(s);
    txn_rmrf(base);
}

static void test_key_file_readable_by_others(void **state)
{
    char dir[TXN_PATH];
    struct node_store *s = txn_node_new(dir, sizeof(dir), "keyperm", "c1"), *t = NULL;
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0666, 0610, 0601};
    static const mode_t good[] = {0600, 0400};
    (void)state;

    txn_put(s, PUB, "rec", "x", "f", "v");
    node_close(s);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_mode(dir, "node.key", bad[i]);
        if (node_open(dir, 0, NULL, &t) != TX_EINVAL)
            fail_msg("node_open with node.key mode %04o did not fail with EINVAL", bad[i]);
        assert_null(t);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        set_mode(dir, "node.key", good[i]);
        assert_int_equal(node_open(dir, 0, NULL, &t), TX_OK);
        txn_put(t, PUB, "rec", "x", "f", "w");
        node_close(t);
        t = NULL;
    }
    set_mode(dir, "node.key", 0600);
    txn_rmrf(dir);
}

/* ---- secrets in files ---- */

/* Open a key blob wrapped for the node whose data directory is dir, with that
 * node's own secret (as read from its node.key): the 32-byte scope key. */
static void unwrap_as(const char *dir, const uint8_t *blob, size_t len, const char *want_scope,
                      uint8_t key[32])
{
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t xpk[crypto_box_PUBLICKEYBYTES], xsk[crypto_box_SECRETKEYBYTES], reader[32];
    uint8_t sealed[crypto_box_SEALBYTES + 32];
    struct tx_mpr r;
    uint64_t v, epoch;
    const char *sc;
    uint32_t sl;

    tx_mpr_init(&r, blob, len);
    assert_int_equal(tx_mpr_array_n(&r, 5), TX_OK);
    assert_int_equal(tx_mpr_uint(&r, &v), TX_OK);
    assert_int_equal(v, 1);
    assert_int_equal(tx_mpr_str(&r, &sc, &sl, CRDT_MAX_SCOPE), TX_OK);
    assert_int_equal(sl, strlen(want_scope));
    assert_memory_equal(sc, want_scope, sl);
    assert_int_equal(tx_mpr_uint(&r, &epoch), TX_OK);
    assert_true(epoch >= 1 && epoch <= UINT32_MAX);
    assert_int_equal(tx_mpr_bin_fixed(&r, reader, 32), TX_OK);
    assert_int_equal(tx_mpr_bin_fixed(&r, sealed, sizeof(sealed)), TX_OK);
    assert_int_equal(tx_mpr_done(&r), TX_OK);
    txn_load_keypair(dir, pk, sk);
    assert_memory_equal(reader, pk, 32);
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, pk), 0);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, sk), 0);
    assert_int_equal(crypto_box_seal_open(key, sealed, sizeof(sealed), xpk, xsk), 0);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(xsk, sizeof(xsk));
}

/* Decrypt an envelope's body with a scope key, as docs/data-model.md says. */
static int open_body(const uint8_t *env, size_t len, const uint8_t key[32], uint8_t *pt, size_t cap,
                     size_t *ptlen)
{
    struct crdt_env e;
    uint8_t ad[48 + CRDT_MAX_SCOPE];
    unsigned long long n;
    int rc;

    assert_int_equal(crdt_env_decode(&e, env, len), TX_OK);
    assert_true(e.body_len <= cap + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    memcpy(ad, "TXB1", 4);
    memcpy(ad + 4, e.origin, CRDT_KEY_BYTES);
    for (int i = 0; i < 8; i++)
        ad[36 + i] = (uint8_t)(e.seq >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        ad[44 + i] = (uint8_t)(e.epoch >> (24 - 8 * i));
    memcpy(ad + 48, e.scope, e.scope_len);
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &n, NULL, e.body, e.body_len, ad,
                                                    48 + e.scope_len, e.nonce, key);
    *ptlen = (size_t)n;
    crdt_env_release(&e);
    return rc;
}

struct secret {
    const char *what;
    uint8_t b[64];
    size_t n;
};

static void add_secret(struct secret *s, size_t *n, const char *what, const void *b, size_t len)
{
    s[*n].what = what;
    memcpy(s[*n].b, b, len);
    s[*n].n = len;
    (*n)++;
}

/* The seed (raw and hex), the Ed25519 secret key and the X25519 secret of the
 * node in dir. */
static void node_secrets(const char *dir, struct secret *s, size_t *n)
{
    uint8_t seed[32], pk[32], sk[64], xsk[32];
    char hex[65];

    txn_load_seed(dir, seed);
    txn_load_keypair(dir, pk, sk);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, sk), 0);
    node_hex(seed, 32, hex);
    add_secret(s, n, "node seed", seed, 32);
    add_secret(s, n, "node seed (hex)", hex, 64);
    add_secret(s, n, "Ed25519 secret key", sk, 64);
    add_secret(s, n, "X25519 secret key", xsk, 32);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(xsk, sizeof(xsk));
}

static void expect_absent(const char *dir, const struct secret *s, size_t n)
{
    char where[TXN_PATH];

    for (size_t i = 0; i < n; i++)
        if (txn_dir_contains(dir, "node.key", s[i].b, s[i].n, where, sizeof(where)))
            fail_msg("%s found in %s", s[i].what, where);
}

static void test_secrets_not_stored(void **state)
{
    char adir[TXN_PATH], bdir[TXN_PATH], general[CRDT_MAX_SCOPE + 1], path[TXN_PATH];
    struct node_store *a = txn_node_new(adir, sizeof(adir), "secret-a", "c1");
    struct node_store *b = txn_node_new(bdir, sizeof(bdir), "secret-b", "c1");
    uint8_t aid[CRDT_KEY_BYTES], bid[CRDT_KEY_BYTES], key[32], *blob = NULL, pt[4096];
    size_t blen = 0, ptlen;
    struct secret sec[16];
    size_t nsec = 0;
    struct txn_envs ea = {0};
    struct node_bundle_report rep;
    uint64_t count;
    (void)state;

    txn_id(a, aid);
    txn_id(b, bid);
    txn_general(a, general);
    txn_put(a, general, "case", "c1", "name", "general text");
    txn_put(a, PUB, "case", "c2", "name", "public text");
    txn_put(b, PUB, "case", "c3", "name", "b's text");
    assert_int_equal(node_key_wrap(a, general, bid, &blob, &blen), TX_OK);
    unwrap_as(bdir, blob, blen, general, key);
    assert_int_equal(node_key_import(b, blob, blen, NULL), TX_OK);
    txn_put(b, general, "case", "c4", "name", "b in general");
    txn_path(path, sizeof(path), adir, "a.bundle");
    assert_int_equal(node_bundle_export(a, path, NULL, &count), TX_OK);
    assert_int_equal(node_bundle_import(b, path, &rep), TX_OK);
    assert_int_equal(rep.ingest.accepted, 2);

    /* The recovered key is the real one: it opens a's general envelope. */
    txn_envs_collect(a, aid, &ea);
    assert_int_equal(ea.n, 2);
    assert_int_equal(open_body(ea.b[0], ea.len[0], key, pt, sizeof(pt), &ptlen), 0);
    assert_true(txn_mem_contains(pt, ptlen, "general text", 12));

    node_secrets(adir, sec, &nsec);
    node_secrets(bdir, sec, &nsec);
    add_secret(sec, &nsec, "scope key", key, 32);
    node_close(a);
    node_close(b);
    /* Control: the search finds what is there (envelopes carry the origin). */
    assert_true(txn_dir_contains(adir, "node.key", aid, CRDT_KEY_BYTES, NULL, 0));
    assert_true(txn_dir_contains(bdir, "node.key", aid, CRDT_KEY_BYTES, NULL, 0));
    expect_absent(adir, sec, nsec);
    expect_absent(bdir, sec, nsec);
    for (size_t i = 0; i < nsec; i++)
        assert_false(txn_mem_contains(blob, blen, sec[i].b, sec[i].n));
    /* node.key holds a's seed (hex) and nothing of b. */
    txn_path(path, sizeof(path), adir, "node.key");
    assert_true(txn_file_contains(path, sec[1].b, sec[1].n));
    assert_false(txn_file_contains(path, sec[5].b, sec[5].n));

    sodium_memzero(key, sizeof(key));
    sodium_memzero(sec, sizeof(sec));
    tx_free(blob);
    txn_envs_free(&ea);
    txn_rmrf(adir);
    txn_rmrf(bdir);
}

/* ---- plaintext of encrypted scopes ---- */

struct log_look {
    const char *marker;
    int entries, readable, bodies, marker_in_bytes;
};

static int log_cb(const struct node_log_entry *e, void *ctx)
{
    struct log_look *l = ctx;

    l->entries++;
    l->readable += e->readable;
    l->bodies += e->body != NULL;
    l->marker_in_bytes += txn_mem_contains(e->bytes, e->size, l->marker, strlen(l->marker));
    return 0;
}

struct rec_look {
    const char *marker;
    int found;
};

static int rec_cb(const struct node_record *r, void *ctx)
{
    struct rec_look *l = ctx;

    for (uint32_t i = 0; i < r->rec.n; i++) {
        const struct crdt_field *f = &r->rec.f[i];

        if (f->kind != CRDT_LWW)
            continue;
        for (uint32_t k = 0; k < f->u.lww.n; k++)
            if (f->u.lww.e[k].v.type == CRDT_STR && f->u.lww.e[k].v.len == strlen(l->marker) &&
                memcmp(f->u.lww.e[k].v.s, l->marker, f->u.lww.e[k].v.len) == 0)
                l->found++;
    }
    return 0;
}

static void test_marker_plaintext(void **state)
{
    char adir[TXN_PATH], cdir[TXN_PATH], general[CRDT_MAX_SCOPE + 1], priv[CRDT_MAX_SCOPE + 1];
    char path[TXN_PATH], marker[64], pmarker[64], where[TXN_PATH], got[64], hex[33];
    struct node_store *a = txn_node_new(adir, sizeof(adir), "marker-a", "c1");
    struct node_store *c = txn_node_new(cdir, sizeof(cdir), "marker-c", "c1");
    uint8_t cid[CRDT_KEY_BYTES], rnd[16];
    struct node_bundle_report rep;
    struct log_look ll;
    struct rec_look rl;
    uint64_t count;
    (void)state;

    randombytes_buf(rnd, sizeof(rnd));
    node_hex(rnd, sizeof(rnd), hex);
    snprintf(marker, sizeof(marker), "TX-MARKER-%s", hex);
    snprintf(pmarker, sizeof(pmarker), "TX-PRIVATE-%s", hex);
    txn_id(c, cid);
    txn_general(a, general);
    assert_int_equal(node_scope_private("c1", priv), TX_OK);
    txn_put(a, general, "case", "m1", "note", marker);
    txn_put(a, priv, "case", "m2", "note", pmarker);
    txn_put(a, PUB, "case", "m3", "note", "public note");
    assert_int_equal(txn_get_str(a, general, "case", "m1", "note", got, sizeof(got)), TX_OK);
    assert_string_equal(got, marker);

    /* Not in the writer's envelopes, nor in the bundle. */
    memset(&ll, 0, sizeof(ll));
    ll.marker = marker;
    assert_int_equal(node_log_each(a, NULL, 0, log_cb, &ll), TX_OK);
    assert_int_equal(ll.entries, 3);
    assert_int_equal(ll.marker_in_bytes, 0);
    txn_path(path, sizeof(path), adir, "a.bundle");
    assert_int_equal(node_bundle_export(a, path, NULL, &count), TX_OK);
    assert_int_equal(count, 3);
    assert_false(txn_file_contains(path, marker, strlen(marker)));
    assert_false(txn_file_contains(path, pmarker, strlen(pmarker)));

    /* c stores the envelopes but cannot read them: no plaintext anywhere. */
    assert_int_equal(node_bundle_import(c, path, &rep), TX_OK);
    assert_int_equal(rep.ingest.accepted, 3);
    assert_int_equal(rep.ingest.unreadable, 2);
    assert_int_equal(txn_get_str(c, NULL, "case", "m1", "note", got, sizeof(got)), TX_ENOTFOUND);
    memset(&ll, 0, sizeof(ll));
    ll.marker = marker;
    assert_int_equal(node_log_each(c, NULL, 1, log_cb, &ll), TX_OK);
    assert_int_equal(ll.entries, 3);
    assert_int_equal(ll.readable, 1);
    assert_int_equal(ll.bodies, 1);
    node_close(c);
    /* Control: the public body travels in the clear, so the search finds it. */
    assert_true(txn_dir_contains(cdir, NULL, "public note", 11, NULL, 0));
    if (txn_dir_contains(cdir, NULL, marker, strlen(marker), where, sizeof(where)))
        fail_msg("general-scope plaintext found in %s of a node without the key", where);
    if (txn_dir_contains(cdir, NULL, pmarker, strlen(pmarker), where, sizeof(where)))
        fail_msg("private-scope plaintext found in %s of a node without the key", where);
    c = txn_open(cdir);

    /* With the general key the record appears; the private one stays hidden. */
    txn_share_key(a, c, general);
    assert_int_equal(txn_get_str(c, general, "case", "m1", "note", got, sizeof(got)), TX_OK);
    assert_string_equal(got, marker);
    memset(&rl, 0, sizeof(rl));
    rl.marker = marker;
    assert_int_equal(node_records_each(c, "case", rec_cb, &rl), TX_OK);
    assert_int_equal(rl.found, 1);
    assert_int_equal(txn_get_str(c, NULL, "case", "m2", "note", got, sizeof(got)), TX_ENOTFOUND);
    memset(&rl, 0, sizeof(rl));
    rl.marker = pmarker;
    assert_int_equal(node_records_each(c, NULL, rec_cb, &rl), TX_OK);
    assert_int_equal(rl.found, 0);
    node_close(c);
    if (txn_dir_contains(cdir, NULL, pmarker, strlen(pmarker), where, sizeof(where)))
        fail_msg("private-scope plaintext found in %s of a node with only the general key", where);
    c = txn_open(cdir);
    txn_assert_verify(c);

    node_close(a);
    node_close(c);
    txn_rmrf(adir);
    txn_rmrf(cdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_file_modes),
        cmocka_unit_test(test_key_file_readable_by_others),
        cmocka_unit_test(test_secrets_not_stored),
        cmocka_unit_test(test_marker_plaintext),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
