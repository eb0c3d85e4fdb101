/*
 * test_trust.c - district trust: certificates, scopes, revocation, rotation,
 * key material on disk (docs/security.md sections 3-6).
 *
 * - test_relay_cannot_read: a district with a hub and offices A, B (community
 *   b) and A2 (a second node of community a). A's general and private records
 *   carry a unique marker and reach the hub only through B, by bundles
 *   (A -> B -> hub), then hub -> A2. The hub and A2 read them; B stores and
 *   verifies them but reads nothing, and the marker is nowhere in B's data
 *   directory (it is in the hub's: records are stored in the clear there).
 * - test_forged_certificate: an unknown origin whose public envelope carries a
 *   real certificate with one byte flipped stays UNTRUSTED (nothing of it is
 *   kept); the same envelope with the genuine certificate is accepted.
 * - test_other_district: a node of a second district is refused as DISTRICT.
 * - test_expired_certificate: a node enrolled for one day writes once in time
 *   and once with its clock three days ahead; the hub (clock ahead too) takes
 *   the first and refuses the second as EXPIRED, and lists the certificate as
 *   expired by its clock (valid again when the clock is set back).
 * - test_scope_violation: office A, given B's general key, writes into
 *   general:b; the hub and B refuse that envelope as SCOPE and keep B's own.
 * - test_revocation_rotation: A2 writes three envelopes; A receives all of
 *   them, the hub only the first; the hub's store gets a revocation with the
 *   cut at that first one. The later envelopes are then REVOKED at the hub, and
 *   A drops them once the revocation reaches it (head back at the cut, their
 *   records gone, same log digest as the hub). The revocation rotates
 *   general:a and private:a to epoch 2: A's next private write uses epoch 2, the
 *   hub reads it, A2 (which learns of its own revocation) cannot, and its
 *   marker is not in A2's directory. The hub's certificate list shows A2
 *   revoked at the cut.
 *   The rotated envelope opens with none of the keys A2 held (derived here
 *   from the district's scope master) and with the epoch-2 key.
 * - test_revocation_same_batch: the revocation and the post-cut envelopes in
 *   one batch (post-cut first): REVOKED all the same.
 * - test_revocation_clears_held: post-cut envelopes waiting in a node's hold
 *   queue leave it when the revocation arrives (docs/storage.md, Revocation
 *   cuts), whether the node truncates the origin or holds nothing beyond the
 *   cut.
 * - test_revocation_dependent_writes: an office that wrote over the thief's
 *   post-cut values still converges with the hub afterwards: a dependency
 *   beyond a revocation cut counts as met (node/ingest.c), so its envelopes do
 *   not wait for the revoked one.
 * - test_key_hygiene: secret files are 0600; no node file but node.key holds
 *   the node's seed; the district root seed, network key and scope master are
 *   in no node's directory; a world-readable node.key or district secret is
 *   refused.
 * - test_keywrap_not_root_signed: a relay publishes a well-formed key wrap of
 *   a key it chose, sealed to office A for private:a epoch 2, with a root
 *   signature lifted from another wrap. A does not install it (also after a
 *   restart) and writes under epoch 1; the genuine rotation later gives A the
 *   district's epoch-2 key, which the attacker's key does not open.
 * - test_trust_records_overwritten: a relay overwrites the records cert/<A>
 *   and revocation/<A2> (later writes that supersede them). The victim's
 *   records show the relay's values, but its trust table comes from the
 *   public log: A stays certified, A2 revoked at its cut with its later
 *   envelopes REVOKED, also after a restart.
 * - test_enrolment_tampered: an enrolment file whose sealed network key, or
 *   one key wrap, was replaced by a box sealing the carrier's key is refused
 *   (TX_ECERT) with nothing adopted; the file as issued installs.
 *
 * Every rejection is checked twice: in the ingest report and in the store's
 * lifetime counters (node_stats). TX_TRUST_SEED replays the random markers.
 */
#include "txnode.h"

#define PUB    NODE_PUBLIC_SCOPE
#define DAY_MS 86400000ull

static struct txt_rng g_rng;

/* ---- a district on a controllable clock ---- */

struct clock {
    uint64_t offset_ms;
};

static uint64_t clock_now(void *ctx)
{
    return txn_now_ms() + ((const struct clock *)ctx)->offset_ms;
}

struct fx {
    char base[TXN_PATH], ddir[TXN_PATH], bundle[TXN_PATH];
    struct clock clk;
    struct node_os os;
    struct node_district *d;
};

struct member {
    const char *name;
    char dir[TXN_PATH];
    struct node_store *s;
    uint8_t id[CRDT_KEY_BYTES];
    char hex[NODE_ID_HEX + 1];
};

static void fx_init(struct fx *f, const char *tag)
{
    memset(f, 0, sizeof(*f));
    txn_tmpdir(f->base, sizeof(f->base), tag);
    txn_path(f->ddir, sizeof(f->ddir), f->base, "district");
    txn_path(f->bundle, sizeof(f->bundle), f->base, "carry.bundle");
    f->os.now_ms = clock_now;
    f->os.ctx = &f->clk;
    assert_int_equal(node_district_init(f->ddir, NULL), TX_OK);
    assert_int_equal(node_district_open(f->ddir, &f->os, &f->d), TX_OK);
}

static void fx_done(struct fx *f)
{
    node_district_close(f->d);
    f->d = NULL;
    txn_rmrf(f->base);
}

static struct node_store *open_node(struct fx *f, const char *dir)
{
    struct node_store *s = NULL;
    int rc = node_open(dir, NODE_OPEN_NOSYNC, &f->os, &s);

    if (rc)
        fail_msg("node_open %s: %s", dir, tx_errname(rc));
    return s;
}

/* A new node in base/name (not enrolled). */
static void member_init(struct fx *f, struct member *m, const char *name, const char *community,
                        int role)
{
    struct node_init_opts o = {community, role, name};

    memset(m, 0, sizeof(*m));
    m->name = name;
    txn_path(m->dir, sizeof(m->dir), f->base, name);
    assert_int_equal(node_init(m->dir, &o, NULL), TX_OK);
    m->s = open_node(f, m->dir);
    txn_id(m->s, m->id);
    node_hex(m->id, CRDT_KEY_BYTES, m->hex);
}

/* Enrol m (made by member_init) in district d by an enrolment file. */
static void member_enrol(struct node_district *d, struct member *m, const char *name,
                         const char *community, int role, uint32_t days)
{
    uint8_t *blob = NULL, dist[CRDT_KEY_BYTES], want[CRDT_KEY_BYTES];
    size_t len = 0;
    int rc;

    assert_int_equal(node_district_of(m->s, dist), TX_ENOTFOUND);
    assert_int_equal(node_district_issue(d, m->id, community, role, name, days, &blob, &len),
                     TX_OK);
    rc = node_enrol_install(m->s, blob, len);
    if (rc)
        fail_msg("node_enrol_install %s: %s", name, tx_errname(rc));
    tx_free(blob);
    assert_int_equal(node_district_of(m->s, dist), TX_OK);
    node_district_id(d, want);
    assert_memory_equal(dist, want, CRDT_KEY_BYTES);
}

/* A new node of district d, enrolled by an enrolment file. */
static void member_new(struct fx *f, struct node_district *d, struct member *m, const char *name,
                       const char *community, int role, uint32_t days)
{
    member_init(f, m, name, community, role);
    member_enrol(d, m, name, community, role, days);
}

static void member_close(struct member *m)
{
    node_close(m->s);
    m->s = NULL;
}

static void member_reopen(struct fx *f, struct member *m)
{
    node_close(m->s);
    m->s = open_node(f, m->dir);
}

/* Carry everything `from` holds to `to` in a bundle file (the USB stick). */
static struct node_ingest_report carry(struct fx *f, struct member *from, struct member *to)
{
    struct node_bundle_report rep;
    uint64_t count = 0;
    int rc;

    assert_int_equal(node_bundle_export(from->s, f->bundle, NULL, &count), TX_OK);
    rc = node_bundle_import(to->s, f->bundle, &rep);
    if (rc)
        fail_msg("bundle %s -> %s: %s", from->dir, to->dir, tx_errname(rc));
    assert_int_equal(rep.envelopes, count);
    unlink(f->bundle);
    return rep.ingest;
}

/* ---- expectations ---- */

static void dump_report(const char *what, const struct node_ingest_report *r)
{
    print_message("%s: accepted %llu duplicate %llu held %llu released %llu unreadable %llu "
                  "rejected %llu\n",
                  what, (unsigned long long)r->accepted, (unsigned long long)r->duplicate,
                  (unsigned long long)r->held, (unsigned long long)r->released,
                  (unsigned long long)r->unreadable, (unsigned long long)r->rejected);
    for (int i = 1; i < NODE_R_COUNT; i++)
        if (r->by_reason[i])
            print_message("  %s: %llu\n", node_reason_name(i), (unsigned long long)r->by_reason[i]);
}

/* Exactly `accepted` appended and `n` rejected, all for `reason`. */
static void expect_report(const char *what, const struct node_ingest_report *r, uint64_t accepted,
                          int reason, uint64_t n)
{
    int ok = r->accepted == accepted && r->rejected == n && r->held == 0;

    for (int i = 1; i < NODE_R_COUNT; i++)
        if (r->by_reason[i] != (i == reason ? n : 0))
            ok = 0;
    if (!ok) {
        dump_report(what, r);
        fail_msg("%s: expected %llu accepted and %llu rejected as %s", what,
                 (unsigned long long)accepted, (unsigned long long)n,
                 reason ? node_reason_name(reason) : "-");
    }
}

/* The lifetime rejection counters grew by n for reason and not otherwise. */
static void expect_counted(const char *what, const struct node_stats *before,
                           const struct node_stats *after, int reason, uint64_t n)
{
    for (int i = 1; i < NODE_R_COUNT; i++) {
        uint64_t d = after->rejected[i] - before->rejected[i], want = i == reason ? n : 0;

        if (d != want)
            fail_msg("%s: lifetime count of %s grew by %llu, expected %llu", what,
                     node_reason_name(i), (unsigned long long)d, (unsigned long long)want);
    }
}

static void make_marker(char *out, size_t cap, const char *prefix)
{
    uint8_t r[16];
    char hex[33];

    for (size_t i = 0; i < sizeof(r); i += 8) {
        uint64_t v = txt_next(&g_rng);

        memcpy(r + i, &v, 8);
    }
    txt_hex(r, sizeof(r), hex);
    assert_true((size_t)snprintf(out, cap, "MARKER-%s-%s", prefix, hex) < cap);
}

static void expect_str(struct member *m, const char *scope, const char *type, const char *id,
                       const char *want)
{
    char got[256];
    int rc = txn_get_str(m->s, scope, type, id, "note", got, sizeof(got));

    if (rc)
        fail_msg("%s: %s/%s not readable: %s", m->dir, type, id, tx_errname(rc));
    assert_string_equal(got, want);
}

static void expect_absent(struct member *m, const char *type, const char *id)
{
    struct node_record r;
    int rc = node_get(m->s, NULL, type, id, &r);

    if (rc == TX_OK)
        node_record_release(&r);
    if (rc != TX_ENOTFOUND)
        fail_msg("%s: %s/%s: expected ENOTFOUND, got %s", m->dir, type, id, tx_errname(rc));
}

static uint64_t head_of(struct member *m, const uint8_t *origin, uint32_t *flags)
{
    struct node_origin_info o;

    if (!txn_origin(m->s, origin, &o))
        return 0;
    if (flags)
        *flags = o.flags;
    return o.head;
}

static void expect_dir_lacks(const char *dir, const void *needle, size_t n, const char *what)
{
    char where[TXN_PATH];

    if (txn_dir_contains(dir, NULL, needle, n, where, sizeof(where)))
        fail_msg("%s found in %s", what, where);
}

/* ---- 1. a relay office verifies but cannot read ---- */

static void test_relay_cannot_read(void **state)
{
    struct fx f;
    struct member hub, a, b, a2;
    char ga[CRDT_MAX_SCOPE + 1], pa[CRDT_MAX_SCOPE + 1], gm[96], pm[96];
    struct node_ingest_report rep;
    struct node_record r;
    (void)state;

    fx_init(&f, "trust-relay");
    /* The hub first, so every office's keys are wrapped for it. */
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &b, "office-b", "b", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    assert_int_equal(node_scope_private("a", pa), TX_OK);
    make_marker(gm, sizeof(gm), "G");
    make_marker(pm, sizeof(pm), "P");
    txn_put(a.s, ga, "case", "g1", "note", gm);
    txn_put(a.s, pa, "person", "p1", "note", pm);

    /* A -> B: B stores A's three envelopes (enrolment, general, private) and
     * reads neither record. */
    rep = carry(&f, &a, &b);
    expect_report("A -> B", &rep, 3, 0, 0);
    assert_int_equal(rep.unreadable, 2);
    assert_int_equal(head_of(&b, a.id, NULL), 3);
    /* B -> hub: A's envelopes reach the hub only through B. */
    rep = carry(&f, &b, &hub);
    expect_report("B -> hub", &rep, 4, 0, 0);
    /* hub -> A2 */
    rep = carry(&f, &hub, &a2);
    expect_report("hub -> A2", &rep, 5, 0, 0);

    expect_str(&hub, ga, "case", "g1", gm);
    expect_str(&hub, pa, "person", "p1", pm);
    expect_str(&a2, ga, "case", "g1", gm);
    expect_str(&a2, pa, "person", "p1", pm);
    /* B verifies, but does not read. */
    assert_int_equal(node_get(b.s, NULL, "case", "g1", &r), TX_ENOTFOUND);
    node_record_release(&r);
    assert_int_equal(node_get(b.s, NULL, "person", "p1", &r), TX_ENOTFOUND);
    node_record_release(&r);
    assert_int_equal(node_get(b.s, ga, "case", "g1", &r), TX_ENOTFOUND);
    node_record_release(&r);
    txn_assert_verify(b.s);
    txn_assert_verify(hub.s);
    txn_assert_verify(a2.s);

    member_close(&b);
    member_close(&hub);
    /* Control: the search finds what B does hold (A's id is in its envelopes). */
    assert_true(txn_dir_contains(b.dir, "node.key", a.id, CRDT_KEY_BYTES, NULL, 0));
    expect_dir_lacks(b.dir, gm, strlen(gm), "general-scope marker of A at relay B");
    expect_dir_lacks(b.dir, pm, strlen(pm), "private-scope marker of A at relay B");
    /* The hub reads the scopes, and records are stored in the clear after
     * decryption (docs/security.md section 8, item 6): expected to be there. */
    assert_true(txn_dir_contains(hub.dir, NULL, gm, strlen(gm), NULL, 0));
    assert_true(txn_dir_contains(hub.dir, NULL, pm, strlen(pm), NULL, 0));

    member_close(&a);
    member_close(&a2);
    fx_done(&f);
}

/* ---- 2. rejections ---- */

/* A public-scope envelope of sk's origin carrying cert/<hex> = cert and one
 * ordinary record. */
static uint8_t *cert_envelope(const uint8_t *sk, const char *hex, const uint8_t *cert,
                              size_t certlen, size_t *len)
{
    struct crdt_op ops[2];

    memset(&ops[0], 0, sizeof(ops[0]));
    ops[0].type = "cert";
    ops[0].type_len = 4;
    ops[0].id = hex;
    ops[0].id_len = (uint32_t)strlen(hex);
    ops[0].field = "cert";
    ops[0].field_len = 4;
    ops[0].code = CRDT_OP_LWW_SET;
    ops[0].value.type = CRDT_BIN;
    ops[0].value.s = (const char *)cert;
    ops[0].value.len = (uint32_t)certlen;
    ops[1] = txn_op_lww("case", "forged", "note", "written by an outsider");
    return txn_env_build(sk, 1, NULL, CRDT_HLC_MAKE(txn_now_ms(), 0), NULL, 0, ops, 2, len);
}

static void test_forged_certificate(void **state)
{
    struct fx f;
    struct member hub, x;
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES], *blob = NULL, *cert, *env;
    uint8_t forged[2048];
    char path[TXN_PATH], name[NODE_ID_HEX + 16];
    size_t blen = 0, certlen, envlen;
    struct node_ingest_report rep;
    struct node_stats before, after;
    struct node_cert_info ci;
    struct node_cert c;
    (void)state;

    fx_init(&f, "trust-forged");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    /* x is issued a real certificate, but never installs it: the test takes
     * the certificate from the registry and puts it in x's envelope itself. */
    member_init(&f, &x, "outsider", "x", NODE_ROLE_OFFICE);
    assert_int_equal(
        node_district_issue(f.d, x.id, "x", NODE_ROLE_OFFICE, "outsider", 30, &blob, &blen), TX_OK);
    tx_free(blob);
    snprintf(name, sizeof(name), "registry/%s.cert", x.hex);
    txn_path(path, sizeof(path), f.ddir, name);
    cert = txn_read_file(path, &certlen);
    assert_true(certlen > 100 && certlen <= sizeof(forged));
    assert_int_equal(node_cert_decode(cert, certlen, &c), TX_OK);
    assert_memory_equal(c.node, x.id, CRDT_KEY_BYTES);
    txn_load_keypair(x.dir, pk, sk);
    assert_memory_equal(pk, x.id, CRDT_KEY_BYTES);

    /* Flip one byte of the root signature, then one of the signed bytes (in
     * the expiry time): neither certificate verifies, and x stays unknown. */
    for (int k = 0; k < 2; k++) {
        size_t at = k == 0 ? certlen - 1 : certlen - CRDT_ENV_SIG_TAIL - 2;

        memcpy(forged, cert, certlen);
        forged[at] ^= 0x01;
        assert_int_equal(node_cert_decode(forged, certlen, &c), TX_ECERT);
        env = cert_envelope(sk, x.hex, forged, certlen, &envlen);
        before = txn_stats(hub.s);
        assert_int_equal(txn_ingest_one(hub.s, env, envlen, &rep), TX_OK);
        after = txn_stats(hub.s);
        expect_report(k == 0 ? "forged signature" : "forged expiry", &rep, 0, NODE_R_UNTRUSTED, 1);
        expect_counted("forged certificate", &before, &after, NODE_R_UNTRUSTED, 1);
        assert_false(txn_origin(hub.s, x.id, NULL));
        assert_int_equal(node_cert_lookup(hub.s, x.id, &ci), TX_ENOTFOUND);
        assert_int_equal(after.held, 0);
        free(env);
    }
    /* An origin with no certificate at all: UNTRUSTED as well. */
    {
        struct crdt_op op = txn_op_lww("case", "plain", "note", "no certificate");

        env = txn_env_build(sk, 1, NULL, CRDT_HLC_MAKE(txn_now_ms(), 0), NULL, 0, &op, 1, &envlen);
        before = txn_stats(hub.s);
        assert_int_equal(txn_ingest_one(hub.s, env, envlen, &rep), TX_OK);
        after = txn_stats(hub.s);
        expect_report("no certificate", &rep, 0, NODE_R_UNTRUSTED, 1);
        expect_counted("no certificate", &before, &after, NODE_R_UNTRUSTED, 1);
        free(env);
    }
    /* Control: the genuine certificate makes the same envelope acceptable. */
    env = cert_envelope(sk, x.hex, cert, certlen, &envlen);
    before = txn_stats(hub.s);
    assert_int_equal(txn_ingest_one(hub.s, env, envlen, &rep), TX_OK);
    after = txn_stats(hub.s);
    expect_report("genuine certificate", &rep, 1, 0, 0);
    expect_counted("genuine certificate", &before, &after, 0, 0);
    assert_int_equal(node_cert_lookup(hub.s, x.id, &ci), TX_OK);
    assert_int_equal(ci.state, NODE_CERT_VALID);
    assert_memory_equal(ci.cert.node, x.id, CRDT_KEY_BYTES);
    expect_str(&hub, PUB, "case", "forged", "written by an outsider");
    free(env);

    sodium_memzero(sk, sizeof(sk));
    free(cert);
    member_close(&x);
    member_close(&hub);
    fx_done(&f);
}

static void test_other_district(void **state)
{
    struct fx f;
    struct member hub, x;
    struct node_district *d2 = NULL;
    char d2dir[TXN_PATH];
    struct txn_envs v = {0};
    struct node_ingest_report rep;
    struct node_stats before, after;
    struct node_cert_info ci;
    (void)state;

    fx_init(&f, "trust-district");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    txn_path(d2dir, sizeof(d2dir), f.base, "district2");
    assert_int_equal(node_district_init(d2dir, NULL), TX_OK);
    assert_int_equal(node_district_open(d2dir, &f.os, &d2), TX_OK);
    /* Same community name, same role: only the district differs. */
    member_new(&f, d2, &x, "foreign", "a", NODE_ROLE_OFFICE, 30);
    txn_put(x.s, PUB, "case", "x1", "note", "from another district");
    txn_envs_collect(x.s, x.id, &v);
    assert_int_equal(v.n, 2); /* the first carries x's own certificate */

    before = txn_stats(hub.s);
    assert_int_equal(txn_ingest_idx(hub.s, &v, NULL, v.n, &rep), TX_OK);
    after = txn_stats(hub.s);
    expect_report("other district", &rep, 0, NODE_R_DISTRICT, 2);
    expect_counted("other district", &before, &after, NODE_R_DISTRICT, 2);
    assert_false(txn_origin(hub.s, x.id, NULL));
    assert_int_equal(node_cert_lookup(hub.s, x.id, &ci), TX_ENOTFOUND);
    expect_absent(&hub, "case", "x1");

    txn_envs_free(&v);
    node_district_close(d2);
    member_close(&x);
    member_close(&hub);
    fx_done(&f);
}

static void test_expired_certificate(void **state)
{
    struct fx f;
    struct member hub, e;
    char ge[CRDT_MAX_SCOPE + 1];
    struct txn_envs v = {0};
    struct node_ingest_report rep;
    struct node_stats before, after;
    struct node_cert_info ci;
    (void)state;

    fx_init(&f, "trust-expired");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &e, "office-e", "e", NODE_ROLE_OFFICE, 1); /* one day */
    assert_int_equal(node_scope_general("e", ge), TX_OK);
    txn_put(e.s, ge, "case", "in-time", "note", "written while valid");
    /* Three days later (both clocks: the hub must not hold the envelope as
     * skewed), e writes again with its expired certificate. */
    f.clk.offset_ms = 3 * DAY_MS;
    txn_put(e.s, ge, "case", "late", "note", "written after expiry");
    txn_envs_collect(e.s, e.id, &v);
    assert_int_equal(v.n, 3);

    before = txn_stats(hub.s);
    assert_int_equal(txn_ingest_idx(hub.s, &v, NULL, v.n, &rep), TX_OK);
    after = txn_stats(hub.s);
    expect_report("expired certificate", &rep, 2, NODE_R_EXPIRED, 1);
    expect_counted("expired certificate", &before, &after, NODE_R_EXPIRED, 1);
    /* What was written in time stays valid and readable. */
    expect_str(&hub, ge, "case", "in-time", "written while valid");
    expect_absent(&hub, "case", "late");
    assert_int_equal(head_of(&hub, e.id, NULL), 2);

    /* 5. The certificate list by the hub's clock. */
    assert_int_equal(node_cert_lookup(hub.s, e.id, &ci), TX_OK);
    assert_int_equal(ci.state, NODE_CERT_EXPIRED);
    assert_string_equal(ci.cert.community, "e");
    assert_int_equal(ci.cert.role, NODE_ROLE_OFFICE);
    assert_int_equal(node_cert_lookup(hub.s, hub.id, &ci), TX_OK);
    assert_int_equal(ci.state, NODE_CERT_VALID);
    f.clk.offset_ms = 0;
    assert_int_equal(node_cert_lookup(hub.s, e.id, &ci), TX_OK);
    assert_int_equal(ci.state, NODE_CERT_VALID);

    txn_envs_free(&v);
    member_close(&e);
    member_close(&hub);
    fx_done(&f);
}

static void test_scope_violation(void **state)
{
    struct fx f;
    struct member hub, a, b;
    char ga[CRDT_MAX_SCOPE + 1], gb[CRDT_MAX_SCOPE + 1];
    struct txn_envs v = {0};
    struct node_ingest_report rep;
    struct node_stats before, after;
    (void)state;

    fx_init(&f, "trust-scope");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_init(&f, &a, "office-a", "a", NODE_ROLE_OFFICE);
    member_new(&f, f.d, &b, "office-b", "b", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    assert_int_equal(node_scope_general("b", gb), TX_OK);
    /* A got B's general key (a wrapped-key blob) before it was enrolled (once
     * enrolled, a node imports no key blobs): its own node accepts its writes
     * into general:b. */
    txn_share_key(b.s, a.s, gb);
    member_enrol(f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    {
        uint8_t *blob;
        size_t blen;

        assert_int_equal(node_key_wrap(b.s, gb, a.id, &blob, &blen), TX_OK);
        assert_int_equal(node_key_import(a.s, blob, blen, NULL), TX_EDISTRICT);
        tx_free(blob);
    }
    txn_put(a.s, ga, "case", "own", "note", "a in its own scope");
    txn_put(a.s, gb, "case", "intrude", "note", "a writes into b's scope");
    txn_put(b.s, gb, "case", "b-own", "note", "b in its own scope");
    expect_str(&a, gb, "case", "intrude", "a writes into b's scope");

    rep = carry(&f, &b, &hub);
    expect_report("B -> hub", &rep, 2, 0, 0);
    txn_envs_collect(a.s, a.id, &v);
    assert_int_equal(v.n, 3);
    before = txn_stats(hub.s);
    assert_int_equal(txn_ingest_idx(hub.s, &v, NULL, v.n, &rep), TX_OK);
    after = txn_stats(hub.s);
    expect_report("A into general:b at the hub", &rep, 2, NODE_R_SCOPE, 1);
    expect_counted("A into general:b at the hub", &before, &after, NODE_R_SCOPE, 1);
    expect_str(&hub, ga, "case", "own", "a in its own scope");
    expect_str(&hub, gb, "case", "b-own", "b in its own scope");
    expect_absent(&hub, "case", "intrude");
    assert_int_equal(head_of(&hub, a.id, NULL), 2);

    /* Every enrolled node enforces it, B included. */
    before = txn_stats(b.s);
    assert_int_equal(txn_ingest_idx(b.s, &v, NULL, v.n, &rep), TX_OK);
    after = txn_stats(b.s);
    expect_report("A into general:b at B", &rep, 2, NODE_R_SCOPE, 1);
    expect_counted("A into general:b at B", &before, &after, NODE_R_SCOPE, 1);
    expect_absent(&b, "case", "intrude");
    expect_str(&b, gb, "case", "b-own", "b in its own scope");

    txn_envs_free(&v);
    member_close(&a);
    member_close(&b);
    member_close(&hub);
    fx_done(&f);
}

/* ---- 2 (revocation cut), 3 (rotation), 5 (certificate list) ---- */

struct key_look {
    const char *scope;
    uint32_t epoch;
    int found, readable;
};

static int key_cb(const struct node_key_info *k, void *ctx)
{
    struct key_look *l = ctx;

    if (k->epoch == l->epoch && strcmp(k->scope, l->scope) == 0) {
        l->found++;
        l->readable = k->readable;
    }
    return 0;
}

static struct key_look key_state(struct member *m, const char *scope, uint32_t epoch)
{
    struct key_look l = {scope, epoch, 0, 0};

    assert_int_equal(node_keys_each(m->s, key_cb, &l), TX_OK);
    return l;
}

struct cert_look {
    struct node_cert_info c[16];
    size_t n;
};

static int cert_cb(const struct node_cert_info *c, void *ctx)
{
    struct cert_look *l = ctx;

    assert_true(l->n < 16);
    l->c[l->n++] = *c;
    return 0;
}

static const struct node_cert_info *cert_of(const struct cert_look *l, const struct member *m)
{
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->c[i].cert.node, m->id, CRDT_KEY_BYTES) == 0)
            return &l->c[i];
    fail_msg("no certificate listed for %s", m->dir);
    return NULL;
}

static void expect_cert(const struct cert_look *l, const struct member *m, int role,
                        const char *community, int state)
{
    const struct node_cert_info *c = cert_of(l, m);

    assert_int_equal(c->cert.role, role);
    assert_string_equal(c->cert.community, community);
    if (c->state != state)
        fail_msg("%s: certificate state %d, expected %d", m->dir, c->state, state);
}

struct last_env {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
};

static int last_cb(const struct node_log_entry *e, void *ctx)
{
    struct last_env *l = ctx;

    if (e->seq == l->seq) {
        l->bytes = malloc(e->size);
        assert_non_null(l->bytes);
        memcpy(l->bytes, e->bytes, e->size);
        l->len = e->size;
    }
    return 0;
}

/* A district secret file: header line, 64 hex digits. */
static void read_district_secret(const char *ddir, const char *name, uint8_t out[32], char hex[65])
{
    char path[TXN_PATH];
    uint8_t *buf;
    size_t n;
    const char *nl;

    txn_path(path, sizeof(path), ddir, name);
    buf = txn_read_file(path, &n);
    nl = memchr(buf, '\n', n);
    assert_non_null(nl);
    assert_true((size_t)((const uint8_t *)nl - buf) + 1 + 64 <= n);
    memcpy(hex, nl + 1, 64);
    hex[64] = '\0';
    assert_int_equal(node_unhex(hex, out, 32), TX_OK);
    sodium_memzero(buf, n);
    free(buf);
}

/* key(scope, epoch) as the district derives it from its scope master
 * (docs/security.md "Scope keys"). */
static void derive_scope_key(const uint8_t master[32], const char *scope, uint32_t epoch,
                             uint8_t out[32])
{
    static const char ctx[] = "tongxin-scope-key-v1";
    crypto_generichash_state st;
    uint8_t eb[4] = {(uint8_t)(epoch >> 24), (uint8_t)(epoch >> 16), (uint8_t)(epoch >> 8),
                     (uint8_t)epoch};

    assert_int_equal(crypto_generichash_init(&st, master, 32, 32), 0);
    crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof(ctx)); /* with its NUL */
    crypto_generichash_update(&st, (const uint8_t *)scope, strlen(scope) + 1);
    crypto_generichash_update(&st, eb, 4);
    crypto_generichash_final(&st, out, 32);
}

/* Open an envelope's body with a given key (docs/envelope.md section 4): 0 on
 * success, with the plaintext in pt. */
static int open_with(const struct crdt_env *e, const uint8_t key[32], uint8_t *pt, size_t cap,
                     size_t *ptlen)
{
    uint8_t ad[48 + CRDT_MAX_SCOPE];
    unsigned long long n = 0;

    memcpy(ad, "TXB1", 4);
    memcpy(ad + 4, e->origin, CRDT_KEY_BYTES);
    for (int i = 0; i < 8; i++)
        ad[36 + i] = (uint8_t)(e->seq >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        ad[44 + i] = (uint8_t)(e->epoch >> (24 - 8 * i));
    memcpy(ad + 48, e->scope, e->scope_len);
    if (e->body_len < crypto_aead_xchacha20poly1305_ietf_ABYTES || e->body_len > cap)
        return -1;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &n, NULL, e->body, e->body_len, ad,
                                                   48 + e->scope_len, e->nonce, key) != 0)
        return -1;
    *ptlen = (size_t)n;
    return 0;
}

/* The encoded envelope seq of origin in m's log (malloc'd). */
static uint8_t *env_of(struct member *m, const uint8_t *origin, uint64_t seq, size_t *len)
{
    struct last_env le;

    memset(&le, 0, sizeof(le));
    le.seq = seq;
    assert_int_equal(node_log_each(m->s, origin, 0, last_cb, &le), TX_OK);
    if (!le.bytes)
        fail_msg("%s: no envelope seq %llu", m->name, (unsigned long long)seq);
    *len = le.len;
    return le.bytes;
}

struct held_keys {
    char scope[8][CRDT_MAX_SCOPE + 1];
    uint32_t epoch[8];
    size_t n;
};

static int held_cb(const struct node_key_info *k, void *ctx)
{
    struct held_keys *h = ctx;

    if (!k->readable || k->epoch == 0)
        return 0;
    assert_true(h->n < 8);
    snprintf(h->scope[h->n], sizeof(h->scope[h->n]), "%s", k->scope);
    h->epoch[h->n++] = k->epoch;
    return 0;
}

/* The key-wrap records of one epoch in a store's public scope. */
struct wrap_look {
    uint32_t epoch;
    uint8_t reader[16][CRDT_KEY_BYTES];
    char scope[16][CRDT_MAX_SCOPE + 1];
    size_t n;
};

static int wrap_look_cb(const struct node_record *r, void *ctx)
{
    struct wrap_look *l = ctx;
    const struct crdt_lww_entry *rd, *sc, *ep;

    if (strcmp(r->scope, PUB) != 0)
        return 0;
    rd = crdt_lww_winner(crdt_record_field(&r->rec, "reader", 6, CRDT_LWW));
    sc = crdt_lww_winner(crdt_record_field(&r->rec, "scope", 5, CRDT_LWW));
    ep = crdt_lww_winner(crdt_record_field(&r->rec, "epoch", 5, CRDT_LWW));
    assert_non_null(rd);
    assert_non_null(sc);
    assert_non_null(ep);
    if (ep->v.type != CRDT_INT || (uint32_t)ep->v.i != l->epoch)
        return 0;
    assert_true(l->n < 16);
    assert_int_equal(rd->v.type, CRDT_BIN);
    assert_int_equal(rd->v.len, CRDT_KEY_BYTES);
    assert_int_equal(sc->v.type, CRDT_STR);
    memcpy(l->reader[l->n], rd->v.s, CRDT_KEY_BYTES);
    snprintf(l->scope[l->n], sizeof(l->scope[l->n]), "%.*s", (int)sc->v.len, sc->v.s);
    l->n++;
    return 0;
}

static int wrap_has(const struct wrap_look *l, const struct member *m, const char *scope)
{
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->reader[i], m->id, CRDT_KEY_BYTES) == 0 && strcmp(l->scope[i], scope) == 0)
            return 1;
    return 0;
}

static void test_revocation_rotation(void **state)
{
    struct fx f;
    struct member hub, a, b, a2;
    char ga[CRDT_MAX_SCOPE + 1], pa[CRDT_MAX_SCOPE + 1], pm[96], pm2[96];
    struct node_ingest_report rep;
    struct node_stats before, after;
    struct txn_envs v = {0};
    struct node_cert_info ci;
    struct cert_look cl;
    struct key_look kl;
    struct node_write_result wr;
    struct node_change ch;
    struct last_env le;
    struct crdt_env env;
    struct held_keys a2keys;
    uint8_t dh[CRDT_HASH_BYTES], da[CRDT_HASH_BYTES], master[32], key[32], pt[4096];
    char mhex[65];
    size_t ptlen;
    uint32_t flags = 0;
    static const size_t first2[] = {0, 1};
    (void)state;

    fx_init(&f, "trust-revoke");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &b, "office-b", "b", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    assert_int_equal(node_scope_private("a", pa), TX_OK);
    make_marker(pm, sizeof(pm), "P");
    txn_put(a.s, pa, "person", "p1", "note", pm);
    rep = carry(&f, &a, &b);
    rep = carry(&f, &b, &hub);
    expect_report("B -> hub", &rep, 3, 0, 0);
    rep = carry(&f, &hub, &a2);
    expect_str(&a2, pa, "person", "p1", pm);
    /* The keys A2 holds: epoch 1 of its community's two scopes, nothing else. */
    memset(&a2keys, 0, sizeof(a2keys));
    assert_int_equal(node_keys_each(a2.s, held_cb, &a2keys), TX_OK);
    assert_int_equal(a2keys.n, 2);
    for (size_t i = 0; i < a2keys.n; i++) {
        assert_int_equal(a2keys.epoch[i], 1);
        assert_true(strcmp(a2keys.scope[i], ga) == 0 || strcmp(a2keys.scope[i], pa) == 0);
    }

    /* A2 writes three envelopes (seq 2, 3, 4; seq 1 is its enrolment). */
    txn_put(a2.s, ga, "case", "r1", "note", "before the cut");
    {
        /* seq 3 also overwrites r1: the cut must bring the old value back */
        struct node_change two[2] = {txn_ch_str("case", "r2", "note", "after the cut"),
                                     txn_ch_str("case", "r1", "note", "overwritten after the cut")};

        assert_int_equal(node_write(a2.s, ga, two, 2, NULL), TX_OK);
    }
    txn_put(a2.s, ga, "case", "r3", "note", "after the cut too");
    txn_envs_collect(a2.s, a2.id, &v);
    assert_int_equal(v.n, 4);
    /* A hears all of them before anyone knows of a revocation. */
    rep = carry(&f, &a2, &a);
    assert_int_equal(rep.rejected, 0);
    expect_str(&a, ga, "case", "r3", "after the cut too");
    expect_str(&a, ga, "case", "r1", "overwritten after the cut");
    assert_int_equal(head_of(&a, a2.id, NULL), 4);
    /* The hub has A2's enrolment and first write only. */
    assert_int_equal(txn_ingest_idx(hub.s, &v, first2, 2, &rep), TX_OK);
    expect_report("A2's first write at the hub", &rep, 2, 0, 0);

    /* A2's laptop is stolen: revoke it with the cut at that first write. */
    assert_int_equal(node_district_revoke(f.d, hub.s, a2.id, 2, "stolen"), TX_OK);
    assert_int_equal(node_cert_lookup(hub.s, a2.id, &ci), TX_OK);
    assert_int_equal(ci.state, NODE_CERT_REVOKED);
    assert_int_equal(ci.revoked_cut, 2);
    /* The revocation envelope rotated exactly A2's scopes to epoch 2, wrapped
     * for the remaining readers (A and the hub), not for A2 nor B. */
    {
        struct wrap_look wl;

        memset(&wl, 0, sizeof(wl));
        wl.epoch = 2;
        assert_int_equal(node_records_each(hub.s, "keywrap", wrap_look_cb, &wl), TX_OK);
        assert_int_equal(wl.n, 4);
        assert_true(wrap_has(&wl, &a, ga) && wrap_has(&wl, &a, pa));
        assert_true(wrap_has(&wl, &hub, ga) && wrap_has(&wl, &hub, pa));
    }
    before = txn_stats(hub.s);
    assert_int_equal(txn_ingest_idx(hub.s, &v, NULL, v.n, &rep), TX_OK);
    after = txn_stats(hub.s);
    expect_report("A2 after the cut at the hub", &rep, 0, NODE_R_REVOKED, 2);
    assert_int_equal(rep.duplicate, 2);
    expect_counted("A2 after the cut at the hub", &before, &after, NODE_R_REVOKED, 2);
    expect_str(&hub, ga, "case", "r1", "before the cut");
    expect_absent(&hub, "case", "r2");
    expect_absent(&hub, "case", "r3");
    assert_int_equal(head_of(&hub, a2.id, NULL), 2);

    /* A learns of the revocation: it drops what it held beyond the cut. */
    rep = carry(&f, &hub, &a);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(head_of(&a, a2.id, &flags), 2);
    assert_true(flags & NODE_ORIGIN_REVOKED);
    {
        /* the truncated head keeps its envelope's time */
        struct node_origin_info oa, oh;

        assert_true(txn_origin(a.s, a2.id, &oa));
        assert_true(txn_origin(hub.s, a2.id, &oh));
        assert_true(oa.head_hlc != 0);
        assert_true(oa.head_hlc == oh.head_hlc);
        assert_memory_equal(oa.head_hash, oh.head_hash, CRDT_HASH_BYTES);
    }
    expect_str(&a, ga, "case", "r1", "before the cut");
    expect_absent(&a, "case", "r2");
    txn_assert_verify(a.s);
    assert_int_equal(node_digest_log(hub.s, dh), TX_OK);
    assert_int_equal(node_digest_log(a.s, da), TX_OK);
    assert_memory_equal(dh, da, CRDT_HASH_BYTES);
    /* Offered again, the dropped envelopes are refused at A too. */
    before = txn_stats(a.s);
    assert_int_equal(txn_ingest_idx(a.s, &v, NULL, v.n, &rep), TX_OK);
    after = txn_stats(a.s);
    expect_report("A2 after the cut at A", &rep, 0, NODE_R_REVOKED, 2);
    expect_counted("A2 after the cut at A", &before, &after, NODE_R_REVOKED, 2);

    /* 3. Rotation: the revocation envelope carried epoch 2 of general:a and
     * private:a for A (and the hub); A writes private:a under epoch 2. */
    kl = key_state(&a, pa, 2);
    assert_int_equal(kl.found, 1);
    assert_int_equal(kl.readable, 1);
    kl = key_state(&a, ga, 2);
    assert_int_equal(kl.readable, 1);
    make_marker(pm2, sizeof(pm2), "NEW");
    ch = txn_ch_str("person", "p2", "note", pm2);
    assert_int_equal(node_write(a.s, pa, &ch, 1, &wr), TX_OK);
    memset(&le, 0, sizeof(le));
    le.seq = wr.seq;
    assert_int_equal(node_log_each(a.s, a.id, 0, last_cb, &le), TX_OK);
    assert_non_null(le.bytes);
    crdt_env_init(&env);
    assert_int_equal(crdt_env_decode(&env, le.bytes, le.len), TX_OK);
    assert_string_equal(env.scope, pa);
    assert_int_equal(env.epoch, 2);
    assert_false(txn_mem_contains(le.bytes, le.len, pm2, strlen(pm2)));
    /* No key A2 ever held opens it; the new epoch's key does. Keys are
     * derived from the district's scope master as the administrator does;
     * an epoch-1 envelope shows the derived keys are the ones A2 was given. */
    read_district_secret(f.ddir, "scopes.key", master, mhex);
    {
        size_t l1;
        uint8_t *p1 = env_of(&a, a.id, 2, &l1); /* A's private record p1, epoch 1 */
        struct crdt_env e1;

        crdt_env_init(&e1);
        assert_int_equal(crdt_env_decode(&e1, p1, l1), TX_OK);
        assert_int_equal(e1.epoch, 1);
        derive_scope_key(master, pa, 1, key);
        assert_int_equal(open_with(&e1, key, pt, sizeof(pt), &ptlen), 0);
        assert_true(txn_mem_contains(pt, ptlen, pm, strlen(pm)));
        crdt_env_release(&e1);
        free(p1);
    }
    for (size_t i = 0; i < a2keys.n; i++) {
        derive_scope_key(master, a2keys.scope[i], a2keys.epoch[i], key);
        if (open_with(&env, key, pt, sizeof(pt), &ptlen) == 0)
            fail_msg("A2's key %s epoch %u opens the post-rotation envelope", a2keys.scope[i],
                     a2keys.epoch[i]);
    }
    derive_scope_key(master, pa, 2, key);
    assert_int_equal(open_with(&env, key, pt, sizeof(pt), &ptlen), 0);
    assert_true(txn_mem_contains(pt, ptlen, pm2, strlen(pm2)));
    sodium_memzero(master, sizeof(master));
    sodium_memzero(mhex, sizeof(mhex));
    sodium_memzero(key, sizeof(key));
    crdt_env_release(&env);
    free(le.bytes);
    /* Control: the hub holds epoch 2 and reads it. */
    rep = carry(&f, &a, &hub);
    assert_int_equal(rep.rejected, 0);
    expect_str(&hub, pa, "person", "p2", pm2);

    /* A2 gets everything the hub has, its own revocation included. */
    rep = carry(&f, &hub, &a2);
    assert_int_equal(rep.rejected, 0);
    expect_absent(&a2, "person", "p2");
    expect_str(&a2, pa, "person", "p1", pm); /* what it could read stays exposed */
    kl = key_state(&a2, pa, 2);
    assert_int_equal(kl.found, 1);
    assert_int_equal(kl.readable, 0);
    kl = key_state(&a2, pa, 1);
    assert_int_equal(kl.readable, 1);
    kl = key_state(&a2, ga, 2);
    assert_int_equal(kl.readable, 0);
    {
        struct held_keys now;

        memset(&now, 0, sizeof(now));
        assert_int_equal(node_keys_each(a2.s, held_cb, &now), TX_OK);
        assert_int_equal(now.n, a2keys.n); /* still only the epoch-1 keys */
    }
    /* It knows it is revoked: its own log ends at the cut and it cannot write. */
    assert_int_equal(head_of(&a2, a2.id, &flags), 2);
    assert_true(flags & NODE_ORIGIN_REVOKED);
    ch = txn_ch_str("case", "r4", "note", "after revocation");
    assert_int_equal(node_write(a2.s, ga, &ch, 1, NULL), TX_EREVOKED);
    assert_int_equal(node_digest_log(hub.s, dh), TX_OK);
    assert_int_equal(node_digest_log(a2.s, da), TX_OK);
    assert_memory_equal(dh, da, CRDT_HASH_BYTES);
    txn_assert_verify(a2.s);
    member_close(&a2);
    expect_dir_lacks(a2.dir, pm2, strlen(pm2), "post-rotation private marker at revoked A2");
    assert_true(txn_dir_contains(a2.dir, NULL, pm, strlen(pm), NULL, 0)); /* control */
    a2.s = open_node(&f, a2.dir);

    /* 5. The hub's certificate list. */
    memset(&cl, 0, sizeof(cl));
    assert_int_equal(node_certs_each(hub.s, cert_cb, &cl), TX_OK);
    assert_int_equal(cl.n, 4);
    expect_cert(&cl, &hub, NODE_ROLE_HUB, "district", NODE_CERT_VALID);
    expect_cert(&cl, &a, NODE_ROLE_OFFICE, "a", NODE_CERT_VALID);
    expect_cert(&cl, &b, NODE_ROLE_OFFICE, "b", NODE_CERT_VALID);
    expect_cert(&cl, &a2, NODE_ROLE_OFFICE, "a", NODE_CERT_REVOKED);
    assert_int_equal(cert_of(&cl, &a2)->revoked_cut, 2);
    assert_string_equal(cert_of(&cl, &a2)->cert.name, "office-a2");
    /* The list survives a restart (it is rebuilt from the stored records). */
    member_reopen(&f, &hub);
    memset(&cl, 0, sizeof(cl));
    assert_int_equal(node_certs_each(hub.s, cert_cb, &cl), TX_OK);
    assert_int_equal(cl.n, 4);
    expect_cert(&cl, &a2, NODE_ROLE_OFFICE, "a", NODE_CERT_REVOKED);

    txn_envs_free(&v);
    member_close(&hub);
    member_close(&a);
    member_close(&b);
    member_close(&a2);
    fx_done(&f);
}

/* A2 writes r1..r3 in ga (its seq 2..4; seq 1 is its enrolment) into v; the
 * hub holds only seq 1 and 2 when A2 is revoked with the cut at 2. */
static void a2_revoked_after_first(struct fx *f, struct member *hub, struct member *a2,
                                   const char *ga, struct txn_envs *v)
{
    static const size_t first2[] = {0, 1};
    struct node_ingest_report rep;

    for (int i = 0; i < 3; i++) {
        char id[8];

        snprintf(id, sizeof(id), "r%d", i + 1);
        txn_put(a2->s, ga, "case", id, "note", "written by a2");
    }
    txn_envs_collect(a2->s, a2->id, v);
    assert_int_equal(v->n, 4);
    assert_int_equal(txn_ingest_idx(hub->s, v, first2, 2, &rep), TX_OK);
    expect_report("A2's first write at the hub", &rep, 2, 0, 0);
    assert_int_equal(node_district_revoke(f->d, hub->s, a2->id, 2, "stolen"), TX_OK);
}

/* The revocation and the envelopes it cuts off arrive in one batch, the
 * post-cut ones first: the batch's own revocation already counts. */
static void test_revocation_same_batch(void **state)
{
    struct fx f;
    struct member hub, b, a2;
    char ga[CRDT_MAX_SCOPE + 1];
    struct txn_envs v = {0};
    struct node_ingest_report rep;
    struct node_stats before, after;
    (void)state;

    fx_init(&f, "trust-batch");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &b, "office-b", "b", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    a2_revoked_after_first(&f, &hub, &a2, ga, &v);
    /* B: A2's four envelopes, then the hub's log (enrolment, revocation). */
    txn_envs_collect(hub.s, hub.id, &v);
    assert_int_equal(v.n, 6);
    before = txn_stats(b.s);
    assert_int_equal(txn_ingest_idx(b.s, &v, NULL, v.n, &rep), TX_OK);
    after = txn_stats(b.s);
    expect_report("revocation in the same batch", &rep, 4, NODE_R_REVOKED, 2);
    expect_counted("revocation in the same batch", &before, &after, NODE_R_REVOKED, 2);
    assert_int_equal(head_of(&b, a2.id, NULL), 2);
    assert_int_equal(after.held, 0);

    txn_envs_free(&v);
    member_close(&hub);
    member_close(&b);
    member_close(&a2);
    fx_done(&f);
}

/* Nodes holding envelopes beyond the cut in their hold queue (they came out of
 * order) drop them too when the revocation arrives: "the origin's log,
 * arrival, scopelog and held entries with seq > c are deleted"
 * (docs/storage.md, Revocation cuts; docs/security.md section 6). B holds
 * nothing beyond the cut in its log (head = cut) but seq 4 in its queue; C
 * holds seq 3 in its log and seq 5 in its queue. */
static void test_revocation_clears_held(void **state)
{
    struct fx f;
    struct member hub, b, c, a2;
    char ga[CRDT_MAX_SCOPE + 1], problems[512] = "";
    struct txn_envs v = {0};
    struct node_ingest_report rep;
    struct node_origin_info oi;
    uint32_t flags = 0;
    static const size_t first2[] = {0, 1}, to_b[] = {0, 1, 3}, to_c[] = {0, 1, 2, 4};
    (void)state;

    fx_init(&f, "trust-held");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &b, "office-b", "b", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &c, "office-c", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    for (int i = 0; i < 4; i++) {
        char id[8];

        snprintf(id, sizeof(id), "r%d", i + 1);
        txn_put(a2.s, ga, "case", id, "note", "written by a2");
    }
    txn_envs_collect(a2.s, a2.id, &v);
    assert_int_equal(v.n, 5);
    assert_int_equal(txn_ingest_idx(b.s, &v, to_b, 3, &rep), TX_OK);
    assert_int_equal(rep.accepted, 2);
    assert_int_equal(rep.held, 1);
    assert_int_equal(txn_ingest_idx(c.s, &v, to_c, 4, &rep), TX_OK);
    assert_int_equal(rep.accepted, 3);
    assert_int_equal(rep.held, 1);
    expect_str(&c, ga, "case", "r2", "written by a2");
    assert_int_equal(txn_ingest_idx(hub.s, &v, first2, 2, &rep), TX_OK);
    expect_report("A2's first write at the hub", &rep, 2, 0, 0);
    assert_int_equal(node_district_revoke(f.d, hub.s, a2.id, 2, "stolen"), TX_OK);

    rep = carry(&f, &hub, &b);
    assert_int_equal(rep.rejected, 0);
    rep = carry(&f, &hub, &c);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(head_of(&b, a2.id, &flags), 2);
    assert_true(flags & NODE_ORIGIN_REVOKED);
    assert_int_equal(head_of(&c, a2.id, &flags), 2);
    assert_true(flags & NODE_ORIGIN_REVOKED);
    expect_absent(&c, "case", "r2");
    assert_true(txn_origin(b.s, a2.id, &oi));
    if (oi.held || txn_stats(b.s).held)
        snprintf(problems + strlen(problems), sizeof(problems) - strlen(problems),
                 " B (head = cut) still holds %llu envelope(s) of A2 beyond the cut;",
                 (unsigned long long)oi.held);
    assert_true(txn_origin(c.s, a2.id, &oi));
    if (oi.held || txn_stats(c.s).held)
        snprintf(problems + strlen(problems), sizeof(problems) - strlen(problems),
                 " C (truncated) still holds %llu envelope(s) of A2 beyond the cut;",
                 (unsigned long long)oi.held);
    if (*problems)
        fail_msg("hold queue not cleared by the revocation:%s", problems);

    txn_envs_free(&v);
    member_close(&hub);
    member_close(&b);
    member_close(&c);
    member_close(&a2);
    fx_done(&f);
}

/* An honest office that saw the thief's post-cut envelopes and wrote over their
 * values (its envelope depends on A2's seq 3) must still converge with the hub
 * after the revocation: the requirement that nodes end with equal logs. The
 * hub can never receive A2's seq 3 (REVOKED), and A drops it, so A's dependent
 * envelope - and every later one of A's chain - must not wait for it forever. */
static void test_revocation_dependent_writes(void **state)
{
    struct fx f;
    struct member hub, a, a2;
    char ga[CRDT_MAX_SCOPE + 1], got[64], problems[512] = "";
    struct txn_envs v = {0};
    struct node_ingest_report rep;
    struct node_write_result wr;
    uint8_t dh[CRDT_HASH_BYTES], da[CRDT_HASH_BYTES];
    static const size_t first2[] = {0, 1};
    (void)state;

    fx_init(&f, "trust-dep");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    txn_put(a2.s, ga, "case", "r1", "note", "genuine");            /* seq 2 */
    txn_put(a2.s, ga, "case", "r1", "note", "written by a thief"); /* seq 3 */
    txn_envs_collect(a2.s, a2.id, &v);
    assert_int_equal(v.n, 3);
    rep = carry(&f, &a2, &a);
    assert_int_equal(rep.rejected, 0);
    expect_str(&a, ga, "case", "r1", "written by a thief");
    /* A corrects the value (superseding A2's seq 3), then writes on. */
    txn_put(a.s, ga, "case", "r1", "note", "corrected by a");
    {
        struct node_change ch = txn_ch_str("case", "r9", "note", "unrelated later write");

        assert_int_equal(node_write(a.s, ga, &ch, 1, &wr), TX_OK);
    }
    assert_int_equal(txn_ingest_idx(hub.s, &v, first2, 2, &rep), TX_OK);
    expect_report("A2's first write at the hub", &rep, 2, 0, 0);
    assert_int_equal(node_district_revoke(f.d, hub.s, a2.id, 2, "stolen"), TX_OK);
    for (int round = 0; round < 2; round++) {
        rep = carry(&f, &a, &hub);
        if (round == 0)
            dump_report("A -> hub after the revocation", &rep);
        rep = carry(&f, &hub, &a);
    }
    assert_int_equal(head_of(&a, a2.id, NULL), 2);
    if (head_of(&hub, a.id, NULL) != wr.seq)
        snprintf(problems + strlen(problems), sizeof(problems) - strlen(problems),
                 " the hub has A up to seq %llu of %llu (%llu envelope(s) held);",
                 (unsigned long long)head_of(&hub, a.id, NULL), (unsigned long long)wr.seq,
                 (unsigned long long)txn_stats(hub.s).held);
    if (txn_get_str(hub.s, ga, "case", "r9", "note", got, sizeof(got)) != TX_OK)
        snprintf(problems + strlen(problems), sizeof(problems) - strlen(problems),
                 " the hub lacks A's unrelated later record;");
    assert_int_equal(node_digest_log(hub.s, dh), TX_OK);
    assert_int_equal(node_digest_log(a.s, da), TX_OK);
    if (memcmp(dh, da, CRDT_HASH_BYTES) != 0)
        snprintf(problems + strlen(problems), sizeof(problems) - strlen(problems),
                 " log digests of A and the hub differ;");
    if (*problems)
        fail_msg("no convergence after the revocation:%s", problems);

    txn_envs_free(&v);
    member_close(&hub);
    member_close(&a);
    member_close(&a2);
    fx_done(&f);
}

/* ---- 6. what an insider or a carrier cannot forge or erase ---- */

/* The five changes of a keywrap record, as enrolment and revocation publish
 * them (docs/security.md "Key wraps"). */
static void keywrap_changes(struct node_change ch[5], const char *id, const uint8_t reader[32],
                            const char *scope, uint32_t epoch, const uint8_t sealed[80],
                            const uint8_t sig[64])
{
    static const char *const fields[5] = {"reader", "scope", "epoch", "wrapped", "sig"};

    for (int i = 0; i < 5; i++) {
        memset(&ch[i], 0, sizeof(ch[i]));
        ch[i].type = "keywrap";
        ch[i].id = id;
        ch[i].field = fields[i];
        ch[i].code = CRDT_OP_LWW_SET;
    }
    ch[0].value.type = CRDT_BIN;
    ch[0].value.s = (const char *)reader;
    ch[0].value.len = CRDT_KEY_BYTES;
    ch[1].value.type = CRDT_STR;
    ch[1].value.s = scope;
    ch[1].value.len = (uint32_t)strlen(scope);
    ch[2].value.type = CRDT_INT;
    ch[2].value.i = epoch;
    ch[3].value.type = CRDT_BIN;
    ch[3].value.s = (const char *)sealed;
    ch[3].value.len = 80;
    ch[4].value.type = CRDT_BIN;
    ch[4].value.s = (const char *)sig;
    ch[4].value.len = 64;
}

/* The winning value of an LWW field of a public record, copied. */
struct winner {
    int type;
    uint8_t b[2048];
    size_t len;
};

static void lww_winner(struct member *m, const char *type, const char *id, const char *field,
                       struct winner *out)
{
    struct node_record r;
    const struct crdt_field *f;
    const struct crdt_lww_entry *w;
    int rc = node_get(m->s, PUB, type, id, &r);

    if (rc)
        fail_msg("%s: %s/%s: %s", m->name, type, id, tx_errname(rc));
    f = crdt_record_field(&r.rec, field, strlen(field), CRDT_LWW);
    w = f ? crdt_lww_winner(f) : NULL;
    if (!w)
        fail_msg("%s: %s/%s has no field %s", m->name, type, id, field);
    memset(out, 0, sizeof(*out));
    out->type = w->v.type;
    if (w->v.type == CRDT_STR || w->v.type == CRDT_BIN) {
        assert_true(w->v.len <= sizeof(out->b));
        memcpy(out->b, w->v.s, w->v.len);
        out->len = w->v.len;
    }
    node_record_release(&r);
}

/* The scope key epoch of one of m's envelopes, and whether key opens it. */
static uint32_t env_epoch(struct member *m, uint64_t seq, const uint8_t key[32], int *opens,
                          const char *marker)
{
    size_t len, ptlen;
    uint8_t *bytes = env_of(m, m->id, seq, &len), pt[4096];
    struct crdt_env e;
    uint32_t epoch;

    crdt_env_init(&e);
    assert_int_equal(crdt_env_decode(&e, bytes, len), TX_OK);
    epoch = e.epoch;
    *opens = open_with(&e, key, pt, sizeof(pt), &ptlen) == 0;
    if (*opens && marker)
        assert_true(txn_mem_contains(pt, ptlen, marker, strlen(marker)));
    sodium_memzero(pt, sizeof(pt));
    crdt_env_release(&e);
    free(bytes);
    return epoch;
}

/* An enrolled node of any role - here a relay - publishes a keywrap record
 * addressing office A for private:a epoch 2, sealing a key of its own choice
 * to A. Every field is well formed and its sig is a genuine root signature
 * lifted from A's epoch-1 wrap. A applies the record, but a wrap counts only
 * if the root signed it: A does not install the key and keeps writing under
 * epoch 1 (also after a restart, when the store catches up on wraps). The
 * forged epoch-2 wrap does not pre-empt the genuine one either: after the
 * administrator's rotation A writes under the derived epoch-2 key, which the
 * attacker's key does not open. */
static void test_keywrap_not_root_signed(void **state)
{
    struct fx f;
    struct member hub, a, a2, m;
    char pa[CRDT_MAX_SCOPE + 1], real_id[CRDT_MAX_ID + 1], fake_id[CRDT_MAX_ID + 1], pm[96],
        mhex[65];
    uint8_t evil[32], sealed[80], sig[64], xpk[32], xsk[32], pk[32], sk[64], opened[32], master[32],
        key[32];
    struct node_change ch[5], pc;
    struct node_ingest_report rep;
    struct node_write_result wr;
    struct key_look kl;
    struct winner w;
    int opens;
    (void)state;

    fx_init(&f, "trust-wrapinject");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &m, "relay-m", "m", NODE_ROLE_RELAY, 30);
    assert_int_equal(node_scope_private("a", pa), TX_OK);

    /* The attacker's wrap: a sealed box needs only A's id. */
    randombytes_buf(evil, sizeof(evil));
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, a.id), 0);
    assert_int_equal(crypto_box_seal(sealed, evil, sizeof(evil), xpk), 0);
    snprintf(real_id, sizeof(real_id), "%.16s:%s:1", a.hex, pa);
    lww_winner(&a, "keywrap", real_id, "sig", &w);
    assert_int_equal(w.type, CRDT_BIN);
    assert_int_equal(w.len, 64);
    memcpy(sig, w.b, 64);
    snprintf(fake_id, sizeof(fake_id), "%.16s:%s:2", a.hex, pa);
    keywrap_changes(ch, fake_id, a.id, pa, 2, sealed, sig);
    assert_int_equal(node_write(m.s, PUB, ch, 5, NULL), TX_OK);

    /* The relay's enrolment and its wrap reach A. */
    rep = carry(&f, &m, &a);
    expect_report("relay's key wrap at A", &rep, 2, 0, 0);
    /* Control: A holds the record whole, and its sealed box opens to the
     * attacker's key with A's secret - only the root signature is missing. */
    lww_winner(&a, "keywrap", fake_id, "reader", &w);
    assert_int_equal(w.type, CRDT_BIN);
    assert_memory_equal(w.b, a.id, CRDT_KEY_BYTES);
    lww_winner(&a, "keywrap", fake_id, "wrapped", &w);
    assert_int_equal(w.len, 80);
    assert_memory_equal(w.b, sealed, 80);
    lww_winner(&a, "keywrap", fake_id, "sig", &w);
    assert_memory_equal(w.b, sig, 64);
    txn_load_keypair(a.dir, pk, sk);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, sk), 0);
    assert_int_equal(crypto_box_seal_open(opened, sealed, sizeof(sealed), xpk, xsk), 0);
    assert_memory_equal(opened, evil, 32);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(xsk, sizeof(xsk));
    sodium_memzero(opened, sizeof(opened));

    /* A does not take the key, and writes private:a under epoch 1. */
    kl = key_state(&a, pa, 2);
    if (kl.found)
        fail_msg("A installed a key wrap the district root did not sign (readable %d)",
                 kl.readable);
    make_marker(pm, sizeof(pm), "P");
    pc = txn_ch_str("person", "p1", "note", pm);
    assert_int_equal(node_write(a.s, pa, &pc, 1, &wr), TX_OK);
    assert_int_equal(env_epoch(&a, wr.seq, evil, &opens, NULL), 1);
    assert_false(opens);
    member_reopen(&f, &a);
    kl = key_state(&a, pa, 2);
    assert_int_equal(kl.found, 0);

    /* The genuine rotation (A2 revoked at the hub) brings the district's
     * epoch-2 key, and A writes under it. */
    assert_int_equal(node_district_revoke(f.d, hub.s, a2.id, 1, "rotate"), TX_OK);
    rep = carry(&f, &hub, &a);
    expect_report("rotation at A", &rep, 2, 0, 0);
    kl = key_state(&a, pa, 2);
    assert_int_equal(kl.found, 1);
    assert_int_equal(kl.readable, 1);
    make_marker(pm, sizeof(pm), "P2");
    pc = txn_ch_str("person", "p2", "note", pm);
    assert_int_equal(node_write(a.s, pa, &pc, 1, &wr), TX_OK);
    assert_int_equal(env_epoch(&a, wr.seq, evil, &opens, NULL), 2);
    if (opens)
        fail_msg("A's epoch-2 envelope opens with the attacker's key");
    read_district_secret(f.ddir, "scopes.key", master, mhex);
    derive_scope_key(master, pa, 2, key);
    assert_int_equal(env_epoch(&a, wr.seq, key, &opens, pm), 2);
    assert_true(opens);
    sodium_memzero(master, sizeof(master));
    sodium_memzero(mhex, sizeof(mhex));
    sodium_memzero(key, sizeof(key));
    sodium_memzero(evil, sizeof(evil));

    member_close(&hub);
    member_close(&a);
    member_close(&a2);
    member_close(&m);
    fx_done(&f);
}

/* What a victim's trust table says of A (certified) and A2 (revoked at 2). */
static void expect_trust_intact(struct member *v, const struct member *a, const struct member *a2,
                                const char *when)
{
    struct node_cert_info ci;
    uint32_t flags = 0;
    int rc = node_cert_lookup(v->s, a->id, &ci);

    if (rc != TX_OK || ci.state != NODE_CERT_VALID)
        fail_msg("%s, %s: %s's certificate %s (state %d)", when, v->name, a->name,
                 rc ? "forgotten" : "not valid", rc ? -1 : ci.state);
    assert_memory_equal(ci.cert.node, a->id, CRDT_KEY_BYTES);
    rc = node_cert_lookup(v->s, a2->id, &ci);
    if (rc != TX_OK || ci.state != NODE_CERT_REVOKED)
        fail_msg("%s, %s: %s's revocation forgotten (%s, state %d)", when, v->name, a2->name,
                 tx_errname(rc), rc ? -1 : ci.state);
    assert_int_equal(ci.revoked_cut, 2);
    assert_int_equal(head_of(v, a2->id, &flags), 2);
    assert_true(flags & NODE_ORIGIN_REVOKED);
}

/* An enrolled node - a relay - overwrites the public records that carry A's
 * certificate and A2's revocation: same record ids and fields, written after
 * it received them (so its values supersede them and win the records), with
 * bytes that are no certificate and a string that is no revocation. The
 * victim B applies the overwrite - its records show the relay's values - but
 * its trust table comes from the public scope's envelopes, not the records:
 * A's certificate still counts (A's new envelope is accepted), A2 stays
 * revoked at its cut (its envelopes beyond it are still REVOKED), also after
 * a restart. */
static void test_trust_records_overwritten(void **state)
{
    struct fx f;
    struct member hub, a, a2, b, m;
    char ga[CRDT_MAX_SCOPE + 1];
    struct txn_envs v = {0}, va = {0};
    struct node_ingest_report rep;
    struct node_stats before, after;
    struct node_change ch[2];
    struct winner w;
    uint8_t junk[16];
    (void)state;

    fx_init(&f, "trust-overwrite");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &b, "office-b", "b", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &m, "relay-m", "m", NODE_ROLE_RELAY, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    a2_revoked_after_first(&f, &hub, &a2, ga, &v);
    rep = carry(&f, &a, &hub);
    assert_int_equal(rep.rejected, 0);
    rep = carry(&f, &hub, &b);
    assert_int_equal(rep.rejected, 0);
    rep = carry(&f, &hub, &m);
    assert_int_equal(rep.rejected, 0);
    expect_trust_intact(&b, &a, &a2, "before the overwrite");

    /* The relay overwrites cert/<A> and revocation/<A2>. */
    randombytes_buf(junk, sizeof(junk));
    memset(&ch[0], 0, sizeof(ch[0]));
    ch[0].type = "cert";
    ch[0].id = a.hex;
    ch[0].field = "cert";
    ch[0].code = CRDT_OP_LWW_SET;
    ch[0].value.type = CRDT_BIN;
    ch[0].value.s = (const char *)junk;
    ch[0].value.len = sizeof(junk);
    ch[1] = txn_ch_str("revocation", a2.hex, "revocation", "withdrawn");
    assert_int_equal(node_write(m.s, PUB, ch, 2, NULL), TX_OK);
    rep = carry(&f, &m, &b);
    expect_report("relay's overwrite at B", &rep, 2, 0, 0);
    /* Control: the overwrite won both records at B. */
    lww_winner(&b, "cert", a.hex, "cert", &w);
    assert_int_equal(w.type, CRDT_BIN);
    assert_int_equal(w.len, sizeof(junk));
    assert_memory_equal(w.b, junk, sizeof(junk));
    lww_winner(&b, "revocation", a2.hex, "revocation", &w);
    assert_int_equal(w.type, CRDT_STR);

    for (int round = 0; round < 2; round++) {
        const char *when = round ? "after a restart" : "after the overwrite";

        expect_trust_intact(&b, &a, &a2, when);
        /* Enforced, not just listed: A2 beyond the cut is refused, A's new
         * envelope is accepted. */
        before = txn_stats(b.s);
        assert_int_equal(txn_ingest_idx(b.s, &v, NULL, v.n, &rep), TX_OK);
        after = txn_stats(b.s);
        expect_report(when, &rep, 0, NODE_R_REVOKED, 2);
        expect_counted(when, &before, &after, NODE_R_REVOKED, 2);
        txn_put(a.s, ga, "case", round ? "a2nd" : "a1st", "note", "written by a");
        txn_envs_collect(a.s, a.id, &va);
        assert_int_equal(txn_ingest_idx(b.s, &va, NULL, va.n, &rep), TX_OK);
        expect_report(when, &rep, 1, 0, 0);
        txn_envs_free(&va);
        member_reopen(&f, &b);
    }

    txn_envs_free(&v);
    member_close(&hub);
    member_close(&a);
    member_close(&a2);
    member_close(&b);
    member_close(&m);
    fx_done(&f);
}

/* An enrolment file altered by whoever carries it: its sealed network key, or
 * its first key wrap (A's own general:x epoch 1), replaced by a box sealing a
 * key the carrier chose to the node (which needs only the node's id). Both
 * are refused with TX_ECERT before anything is stored: the node stays outside
 * the district, with no network key, no scope key and nothing published. The
 * file as issued then installs, with the district's network key. */
static void test_enrolment_tampered(void **state)
{
    struct fx f;
    struct member hub, x;
    uint8_t *blob = NULL, *cert, *bad, evil[32], xpk[32], net[32], dnet[32], dist[32];
    char path[TXN_PATH], name[NODE_ID_HEX + 16], gx[CRDT_MAX_SCOPE + 1], nhex[65];
    size_t blen = 0, certlen, certend, wrapsealed, p, slen;
    struct key_look kl;
    int rc;
    (void)state;

    fx_init(&f, "trust-enrol");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_init(&f, &x, "office-x", "x", NODE_ROLE_OFFICE);
    assert_int_equal(node_scope_general("x", gx), TX_OK);
    assert_int_equal(
        node_district_issue(f.d, x.id, "x", NODE_ROLE_OFFICE, "office-x", 30, &blob, &blen), TX_OK);
    snprintf(name, sizeof(name), "registry/%s.cert", x.hex);
    txn_path(path, sizeof(path), f.ddir, name);
    cert = txn_read_file(path, &certlen);

    /* "TXENROL1" [1, cert, netkey: bin 80, netsig: bin 64, [[scope, epoch,
     * reader, sealed, sig]...]] (docs/security.md "The enrolment file"). */
    assert_true(blen > 8 + 2 + certlen + 82 + 66 + 1);
    assert_memory_equal(blob, "TXENROL1", 8);
    assert_int_equal(blob[8], 0x95);
    assert_int_equal(blob[9], 0x01);
    for (p = 10; p + certlen <= blen && memcmp(blob + p, cert, certlen) != 0; p++)
        ;
    assert_true(p == 12 || p == 13); /* after its bin 8 or bin 16 header */
    certend = p + certlen;
    assert_int_equal(blob[certend], 0xc4);
    assert_int_equal(blob[certend + 1], 80);
    assert_int_equal(blob[certend + 82], 0xc4);
    assert_int_equal(blob[certend + 83], 64);
    p = certend + 148;
    assert_int_equal(blob[p], 0x94); /* 4 wraps: x's two scopes for x, and for the hub */
    assert_int_equal(blob[++p], 0x95);
    slen = blob[++p] & 0x1f;
    assert_int_equal(blob[p] & 0xe0, 0xa0);
    assert_int_equal(slen, strlen(gx));
    assert_memory_equal(blob + p + 1, gx, slen);
    p += 1 + slen;
    assert_int_equal(blob[p++], 0x01);
    assert_int_equal(blob[p], 0xc4);
    assert_int_equal(blob[p + 1], 32);
    assert_memory_equal(blob + p + 2, x.id, CRDT_KEY_BYTES);
    p += 34;
    assert_int_equal(blob[p], 0xc4);
    assert_int_equal(blob[p + 1], 80);
    wrapsealed = p + 2;

    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, x.id), 0);
    randombytes_buf(evil, sizeof(evil));
    for (int k = 0; k < 2; k++) {
        const char *what = k == 0 ? "sealed network key replaced" : "key wrap replaced";

        bad = malloc(blen);
        assert_non_null(bad);
        memcpy(bad, blob, blen);
        assert_int_equal(
            crypto_box_seal(bad + (k == 0 ? certend + 2 : wrapsealed), evil, sizeof(evil), xpk), 0);
        rc = node_enrol_install(x.s, bad, blen);
        free(bad);
        if (rc != TX_ECERT)
            fail_msg("%s: node_enrol_install gave %s, expected TX_ECERT", what, tx_errname(rc));
        assert_int_equal(node_district_of(x.s, dist), TX_ENOTFOUND);
        assert_int_equal(node_network_key(x.s, net), TX_ENOTFOUND);
        kl = key_state(&x, gx, 1);
        assert_int_equal(kl.found, 0);
        assert_int_equal(head_of(&x, x.id, NULL), 0);
    }
    /* Control: the file as issued. */
    assert_int_equal(node_enrol_install(x.s, blob, blen), TX_OK);
    assert_int_equal(node_network_key(x.s, net), TX_OK);
    read_district_secret(f.ddir, "network.key", dnet, nhex);
    assert_memory_equal(net, dnet, 32);
    kl = key_state(&x, gx, 1);
    assert_int_equal(kl.readable, 1);
    sodium_memzero(net, sizeof(net));
    sodium_memzero(dnet, sizeof(dnet));
    sodium_memzero(nhex, sizeof(nhex));
    sodium_memzero(evil, sizeof(evil));

    tx_free(blob);
    free(cert);
    member_close(&hub);
    member_close(&x);
    fx_done(&f);
}

/* ---- 4. key material on disk ---- */

static mode_t mode_of(const char *dir, const char *name)
{
    char path[TXN_PATH];
    struct stat st;

    txn_path(path, sizeof(path), dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void set_mode(const char *dir, const char *name, mode_t m)
{
    char path[TXN_PATH];

    txn_path(path, sizeof(path), dir, name);
    assert_int_equal(chmod(path, m), 0);
}

/* Envelopes that arrived before a node was enrolled (a bundle carried ahead
 * of its certificate) become readable when the enrolment brings the key. */
static void test_enrol_after_import(void **state)
{
    struct fx f;
    struct member a, b;
    char ga[CRDT_MAX_SCOPE + 1];
    struct node_ingest_report rep;
    (void)state;

    fx_init(&f, "trust-late-enrol");
    member_new(&f, f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    txn_put(a.s, ga, "case", "c1", "note", "written before b was enrolled");
    member_init(&f, &b, "office-a2", "a", NODE_ROLE_OFFICE);
    rep = carry(&f, &a, &b);
    assert_true(rep.unreadable > 0);
    expect_absent(&b, "case", "c1");
    member_enrol(f.d, &b, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    expect_str(&b, ga, "case", "c1", "written before b was enrolled");
    member_reopen(&f, &b);
    expect_str(&b, ga, "case", "c1", "written before b was enrolled");
    member_close(&a);
    member_close(&b);
    fx_done(&f);
}

/* A revocation in a district of many communities publishes more than 1000
 * changes, so more than one envelope: no key wrap may be split between two of
 * them (readers take a wrap only when its fields arrive together), or the
 * offices whose wrap fell on a boundary never get their new key. */
enum { MANY = 52 }; /* 4 wraps per community: 208 wraps, 1041 changes */

static void test_revocation_many_communities(void **state)
{
    struct fx f;
    struct member hub, hub2, *off = calloc(MANY, sizeof(*off));
    char name[MANY][16], comm[MANY][16];
    (void)state;

    assert_non_null(off);
    fx_init(&f, "trust-many");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &hub2, "hub2", "district", NODE_ROLE_HUB, 30);
    for (int i = 0; i < MANY; i++) {
        snprintf(name[i], sizeof(name[i]), "office-%02d", i);
        snprintf(comm[i], sizeof(comm[i]), "c%02d", i);
        member_new(&f, f.d, &off[i], name[i], comm[i], NODE_ROLE_OFFICE, 30);
    }
    /* never through the node's own store: its revocation would lie beyond its cut */
    assert_int_equal(node_district_revoke(f.d, hub2.s, hub2.id, 1, "decommissioned"), TX_EINVAL);
    {
        uint64_t before = head_of(&hub, hub.id, NULL);

        assert_int_equal(node_district_revoke(f.d, hub.s, hub2.id, 1, "decommissioned"), TX_OK);
        /* the point of the test: the revocation needed more than one envelope */
        assert_true(head_of(&hub, hub.id, NULL) >= before + 2);
    }
    for (int i = 0; i < MANY; i++) {
        struct held_keys k;
        char g[CRDT_MAX_SCOPE + 1], p[CRDT_MAX_SCOPE + 1];
        int have_g = 0, have_p = 0;

        (void)carry(&f, &hub, &off[i]);
        memset(&k, 0, sizeof(k));
        assert_int_equal(node_keys_each(off[i].s, held_cb, &k), TX_OK);
        assert_int_equal(node_scope_general(comm[i], g), TX_OK);
        assert_int_equal(node_scope_private(comm[i], p), TX_OK);
        for (size_t j = 0; j < k.n; j++) {
            have_g |= k.epoch[j] == 2 && !strcmp(k.scope[j], g);
            have_p |= k.epoch[j] == 2 && !strcmp(k.scope[j], p);
        }
        if (!have_g || !have_p)
            fail_msg("office of %s did not get epoch 2 of%s%s after the revocation", comm[i],
                     have_g ? "" : " its general scope", have_p ? "" : " its private scope");
        member_close(&off[i]);
    }
    member_close(&hub);
    member_close(&hub2);
    free(off);
    fx_done(&f);
}

static void test_key_hygiene(void **state)
{
    struct fx f;
    struct member m[4];
    static const char *const secrets[] = {"root.key", "network.key", "scopes.key"};
    char ga[CRDT_MAX_SCOPE + 1], pa[CRDT_MAX_SCOPE + 1], path[TXN_PATH];
    uint8_t seed[32], dsec[3][32];
    char hex[65], dhex[3][65];
    struct node_store *s = NULL;
    struct node_district *d = NULL;
    (void)state;

    fx_init(&f, "trust-hygiene");
    member_new(&f, f.d, &m[0], "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &m[1], "office-a", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &m[2], "office-b", "b", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &m[3], "office-a2", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    assert_int_equal(node_scope_private("a", pa), TX_OK);
    /* Give every store some of everything: records, foreign envelopes, key
     * wraps of two epochs, a revocation. */
    txn_put(m[1].s, ga, "case", "g1", "note", "general");
    txn_put(m[1].s, pa, "person", "p1", "note", "private");
    txn_put(m[3].s, ga, "case", "g2", "note", "from a2");
    carry(&f, &m[1], &m[2]);
    carry(&f, &m[3], &m[2]);
    carry(&f, &m[2], &m[0]);
    assert_int_equal(node_district_revoke(f.d, m[0].s, m[3].id, NODE_CUT_HEAD, "decommissioned"),
                     TX_OK);
    carry(&f, &m[0], &m[1]);
    carry(&f, &m[0], &m[2]);
    carry(&f, &m[0], &m[3]);
    {
        uint8_t nk[32], nk2[32];

        /* every enrolled node holds the network key (sealed in its store) */
        assert_int_equal(node_network_key(m[0].s, nk), TX_OK);
        assert_int_equal(node_network_key(m[1].s, nk2), TX_OK);
        assert_memory_equal(nk, nk2, 32);
        sodium_memzero(nk, sizeof(nk));
        sodium_memzero(nk2, sizeof(nk2));
    }
    for (int i = 0; i < 4; i++)
        member_close(&m[i]);
    node_district_close(f.d);
    f.d = NULL;

    /* Modes. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(mode_of(m[i].dir, "node.key"), 0600);
    for (int k = 0; k < 3; k++)
        if (mode_of(f.ddir, secrets[k]) != 0600)
            fail_msg("%s has mode %04o", secrets[k], mode_of(f.ddir, secrets[k]));

    /* The district secrets, and each node's seed. */
    for (int k = 0; k < 3; k++) {
        read_district_secret(f.ddir, secrets[k], dsec[k], dhex[k]);
        for (int i = 0; i < 4; i++) {
            char what[128];

            snprintf(what, sizeof(what), "district %s (raw) in %s", secrets[k], m[i].name);
            expect_dir_lacks(m[i].dir, dsec[k], 32, what);
            snprintf(what, sizeof(what), "district %s (hex) in %s", secrets[k], m[i].name);
            expect_dir_lacks(m[i].dir, dhex[k], 64, what);
        }
    }
    /* The network key read from the file is the one the nodes use. */
    {
        struct node_store *h = open_node(&f, m[0].dir);
        uint8_t nk[32];

        assert_int_equal(node_network_key(h, nk), TX_OK);
        assert_memory_equal(nk, dsec[1], 32);
        sodium_memzero(nk, sizeof(nk));
        node_close(h);
    }
    for (int i = 0; i < 4; i++) {
        txn_load_seed(m[i].dir, seed);
        node_hex(seed, 32, hex);
        txn_path(path, sizeof(path), m[i].dir, "node.key");
        assert_true(txn_file_contains(path, hex, 64)); /* control */
        for (int j = 0; j < 4; j++) {
            char where[TXN_PATH];

            if (txn_dir_contains(m[j].dir, "node.key", seed, 32, where, sizeof(where)))
                fail_msg("seed of %s (raw) found in %s", m[i].dir, where);
            if (txn_dir_contains(m[j].dir, "node.key", hex, 64, where, sizeof(where)))
                fail_msg("seed of %s (hex) found in %s", m[i].dir, where);
        }
    }
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(hex, sizeof(hex));
    sodium_memzero(dsec, sizeof(dsec));
    sodium_memzero(dhex, sizeof(dhex));

    /* Readable by others: refused. */
    set_mode(m[1].dir, "node.key", 0644);
    assert_int_equal(node_open(m[1].dir, 0, NULL, &s), TX_EINVAL);
    assert_null(s);
    set_mode(m[1].dir, "node.key", 0600);
    s = open_node(&f, m[1].dir);
    node_close(s);
    for (int k = 0; k < 3; k++) {
        set_mode(f.ddir, secrets[k], k == 0 ? 0644 : 0640);
        if (node_district_open(f.ddir, NULL, &d) != TX_EINVAL)
            fail_msg("district opened with %s readable by others", secrets[k]);
        assert_null(d);
        set_mode(f.ddir, secrets[k], 0600);
    }
    assert_int_equal(node_district_open(f.ddir, NULL, &d), TX_OK);
    node_district_close(d);

    fx_done(&f);
}

/* node_ingest_many prepares batch k+1 (decrypting it) while batch k commits.
 * When batch k carries a key wrap for this node, the key is installed only
 * after that commit: batch k+1 was prepared without it and must be opened
 * again in its transaction, or it would be stored as unreadable. */
static int epoch_cb(const struct node_log_entry *e, void *ctx)
{
    uint32_t *epoch = ctx;

    *epoch = e->epoch; /* the last one wins */
    return 0;
}

static void test_pipeline_key_mid_stream(void **state)
{
    struct fx f;
    struct member hub, a, a2;
    char ga[CRDT_MAX_SCOPE + 1];
    struct txn_envs v = {0};
    struct node_ingest_report rep;
    struct key_look kl;
    uint32_t epoch = 0;
    int rc;
    (void)state;

    fx_init(&f, "trust-pipe");
    member_new(&f, f.d, &hub, "hub", "district", NODE_ROLE_HUB, 30);
    member_new(&f, f.d, &a, "office-a", "a", NODE_ROLE_OFFICE, 30);
    member_new(&f, f.d, &a2, "office-a2", "a", NODE_ROLE_OFFICE, 30);
    assert_int_equal(node_scope_general("a", ga), TX_OK);
    txn_put(a.s, ga, "case", "r0", "note", "epoch one");
    carry(&f, &a, &hub);
    /* Revoking A2 rotates general:a to epoch 2, wrapped for A and the hub. */
    assert_int_equal(node_district_revoke(f.d, hub.s, a2.id, 0, "left"), TX_OK);
    txn_put(hub.s, ga, "case", "r1", "note", "epoch two");
    assert_int_equal(node_log_each(hub.s, hub.id, 0, epoch_cb, &epoch), TX_OK);
    assert_int_equal(epoch, 2);
    kl = key_state(&a, ga, 2);
    assert_false(kl.found);
    /* The hub's log to A, one envelope per transaction, pipelined. */
    txn_envs_collect(hub.s, NULL, &v);
    rc = node_ingest_many(a.s, v.b, v.len, v.n, 1, &rep);
    if (rc)
        fail_msg("node_ingest_many: %s", tx_errname(rc));
    kl = key_state(&a, ga, 2);
    assert_true(kl.found);
    assert_int_equal(rep.unreadable, 0);
    expect_str(&a, ga, "case", "r1", "epoch two");
    expect_str(&a, ga, "case", "r0", "epoch one");
    txn_envs_free(&v);
    member_close(&hub);
    member_close(&a);
    member_close(&a2);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_cannot_read),
        cmocka_unit_test(test_forged_certificate),
        cmocka_unit_test(test_other_district),
        cmocka_unit_test(test_expired_certificate),
        cmocka_unit_test(test_scope_violation),
        cmocka_unit_test(test_revocation_rotation),
        cmocka_unit_test(test_revocation_same_batch),
        cmocka_unit_test(test_revocation_clears_held),
        cmocka_unit_test(test_enrol_after_import),
        cmocka_unit_test(test_revocation_many_communities),
        cmocka_unit_test(test_key_hygiene),
        cmocka_unit_test(test_revocation_dependent_writes),
        cmocka_unit_test(test_keywrap_not_root_signed),
        cmocka_unit_test(test_trust_records_overwritten),
        cmocka_unit_test(test_enrolment_tampered),
        cmocka_unit_test(test_pipeline_key_mid_stream),
    };

    g_rng.s = txt_seed("TX_TRUST_SEED", "test_trust");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
