/*
 * trust.c - certificates, revocations and key wraps on the node side.
 *
 * Once a node is enrolled (meta "district" holds the root key), ingest accepts
 * an envelope only from an origin with a valid certificate of this district, for
 * a scope its role may write, with a seq within any revocation cut and an HLC
 * within the certificate's validity. Certificates, revocations and key wraps are
 * ordinary records of the public scope:
 *   cert/<node hex>         field "cert":       the root-signed certificate (bin)
 *   revocation/<node hex>   field "revocation": the root-signed revocation (bin)
 *   keywrap/<reader16>:<scope>:<epoch>  fields reader, scope, epoch, wrapped
 * Because their content is signed by the root (or sealed to its reader), it does
 * not matter who carries them: they spread with sync and bundles like any record.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define CERT_CTX "tongxin-cert-v1"
#define REV_CTX  "tongxin-revocation-v1"

/* ---- codecs ---- */

static int verify_tail(const uint8_t *buf, size_t len, const char *ctx, const uint8_t *pk)
{
    uint8_t msg[64];
    size_t cl = strlen(ctx);

    if (len <= CRDT_ENV_SIG_TAIL)
        return TX_ECERT;
    memcpy(msg, ctx, cl);
    crypto_generichash(msg + cl, 32, buf, len - CRDT_ENV_SIG_TAIL, NULL, 0);
    return crypto_sign_verify_detached(buf + len - 64, msg, cl + 32, pk) == 0 ? TX_OK : TX_ECERT;
}

int node_cert_decode(const uint8_t *buf, size_t len, struct node_cert *c)
{
    struct tx_mpr r;
    uint64_t v, role;
    const char *s;
    uint32_t n;
    uint8_t sig[64];

    memset(c, 0, sizeof(*c));
    if (len > 2048)
        return TX_ECERT;
    tx_mpr_init(&r, buf, len);
    if (tx_mpr_array_n(&r, 9) || tx_mpr_uint(&r, &v) || v != 1 ||
        tx_mpr_bin_fixed(&r, c->district, 32) || tx_mpr_bin_fixed(&r, c->node, 32))
        return TX_ECERT;
    if (tx_mpr_str(&r, &s, &n, NODE_MAX_NAME))
        return TX_ECERT;
    memcpy(c->name, s, n);
    c->name[n] = '\0';
    if (tx_mpr_str(&r, &s, &n, NODE_MAX_COMMUNITY))
        return TX_ECERT;
    memcpy(c->community, s, n);
    c->community[n] = '\0';
    if (tx_mpr_uint(&r, &role) || !node_role_name((int)role) || role > 3 ||
        tx_mpr_uint(&r, &c->issued_ms) || tx_mpr_uint(&r, &c->expires_ms) ||
        tx_mpr_bin_fixed(&r, sig, 64) || tx_mpr_done(&r))
        return TX_ECERT;
    c->role = (int)role;
    {
        char scope[CRDT_MAX_SCOPE + 1];

        if (node_scope_general(c->community, scope))
            return TX_ECERT;
    }
    return verify_tail(buf, len, CERT_CTX, c->district);
}

int node_revocation_decode(const uint8_t *buf, size_t len, struct node_revocation *rv)
{
    struct tx_mpr r;
    uint64_t v;
    const char *s;
    uint32_t n;
    uint8_t sig[64];

    memset(rv, 0, sizeof(*rv));
    if (len > 2048)
        return TX_ECERT;
    tx_mpr_init(&r, buf, len);
    if (tx_mpr_array_n(&r, 7) || tx_mpr_uint(&r, &v) || v != 1 ||
        tx_mpr_bin_fixed(&r, rv->district, 32) || tx_mpr_bin_fixed(&r, rv->node, 32) ||
        tx_mpr_uint(&r, &rv->cut) || tx_mpr_str(&r, &s, &n, 256))
        return TX_ECERT;
    memcpy(rv->reason, s, n);
    rv->reason[n] = '\0';
    if (tx_mpr_uint(&r, &rv->issued_ms) || tx_mpr_bin_fixed(&r, sig, 64) || tx_mpr_done(&r))
        return TX_ECERT;
    return verify_tail(buf, len, REV_CTX, rv->district);
}

/* ---- the in-memory trust table ---- */

static struct trust_entry *tfind(struct node_trust *t, const uint8_t *node)
{
    for (size_t i = 0; i < t->n; i++)
        if (memcmp(t->e[i].node, node, 32) == 0)
            return &t->e[i];
    return NULL;
}

static struct trust_entry *tget(struct node_trust *t, const uint8_t *node)
{
    struct trust_entry *e = tfind(t, node), *ne;

    if (e)
        return e;
    ne = tx_reallocarray(t->e, t->n + 1, sizeof(*ne));
    if (!ne)
        return NULL;
    t->e = ne;
    e = &ne[t->n++];
    memset(e, 0, sizeof(*e));
    memcpy(e->node, node, 32);
    return e;
}

void node__trust_clear(struct node_trust *t)
{
    tx_free(t->e);
    t->e = NULL;
    t->n = 0;
}

/* Learn a certificate (any district: a foreign one marks its node foreign). */
int node__trust_add_cert(struct node_trust *t, const uint8_t *district, const uint8_t *buf,
                         size_t len)
{
    struct node_cert c;
    struct trust_entry *e;

    if (node_cert_decode(buf, len, &c))
        return TX_ECERT;
    if (!(e = tget(t, c.node)))
        return TX_ENOMEM;
    if (memcmp(c.district, district, 32) != 0) {
        e->foreign = 1;
        return TX_OK;
    }
    /* Several certificates for one node (renewals): keep the one that expires
     * last, so the choice does not depend on the order they arrive in. */
    if (!e->have_cert || c.expires_ms > e->cert.expires_ms ||
        (c.expires_ms == e->cert.expires_ms && c.issued_ms > e->cert.issued_ms))
        e->cert = c;
    e->have_cert = 1;
    return TX_OK;
}

int node__trust_add_revocation(struct node_trust *t, const uint8_t *district, const uint8_t *buf,
                               size_t len)
{
    struct node_revocation rv;
    struct trust_entry *e;

    if (node_revocation_decode(buf, len, &rv) || memcmp(rv.district, district, 32) != 0)
        return TX_ECERT;
    if (!(e = tget(t, rv.node)))
        return TX_ENOMEM;
    /* The smallest cut of all revocations wins: order-independent. */
    if (!e->revoked || rv.cut < e->cut)
        e->cut = rv.cut;
    e->revoked = 1;
    return TX_OK;
}

/* Feed the system ops of one public body into a trust table. */
int node__trust_scan_body(struct node_trust *t, const uint8_t *district,
                          const struct crdt_body *b)
{
    for (uint32_t i = 0; i < b->nops; i++) {
        const struct crdt_op *op = &b->ops[i];

        if (op->code != CRDT_OP_LWW_SET || op->value.type != CRDT_BIN)
            continue;
        if (op->type_len == 4 && memcmp(op->type, "cert", 4) == 0 && op->field_len == 4 &&
            memcmp(op->field, "cert", 4) == 0) {
            if (node__trust_add_cert(t, district, (const uint8_t *)op->value.s, op->value.len) ==
                TX_ENOMEM)
                return TX_ENOMEM;
        } else if (op->type_len == 10 && memcmp(op->type, "revocation", 10) == 0) {
            if (node__trust_add_revocation(t, district, (const uint8_t *)op->value.s,
                                           op->value.len) == TX_ENOMEM)
                return TX_ENOMEM;
        }
    }
    return TX_OK;
}

static int field_bins(const struct crdt_record *rec, const char *field, struct node_trust *t,
                      const uint8_t *district, int revocation)
{
    const struct crdt_field *f = crdt_record_field(rec, field, strlen(field), CRDT_LWW);

    if (!f)
        return TX_OK;
    /* Every concurrent value counts: certificates and revocations are facts,
     * not opinions, whatever register value wins. */
    for (uint32_t i = 0; i < f->u.lww.n; i++) {
        const struct crdt_value *v = &f->u.lww.e[i].v;
        int err;

        if (v->type != CRDT_BIN)
            continue;
        err = revocation ? node__trust_add_revocation(t, district, (const uint8_t *)v->s, v->len)
                         : node__trust_add_cert(t, district, (const uint8_t *)v->s, v->len);
        if (err == TX_ENOMEM)
            return err;
    }
    return TX_OK;
}

struct reload_ctx {
    struct node_store *s;
    struct node_trust t;
};

static int reload_cb(const struct node_record *r, void *vctx)
{
    struct reload_ctx *c = vctx;

    if (strcmp(r->scope, NODE_PUBLIC_SCOPE) != 0)
        return 0;
    if (strcmp(r->type, "cert") == 0)
        return field_bins(&r->rec, "cert", &c->t, c->s->district, 0);
    if (strcmp(r->type, "revocation") == 0)
        return field_bins(&r->rec, "revocation", &c->t, c->s->district, 1);
    return 0;
}

int node__trust_reload(struct node_store *s)
{
    struct reload_ctx c;
    int err;

    if (!s->in_district)
        return TX_OK;
    memset(&c, 0, sizeof(c));
    c.s = s;
    err = node__records_range(s, NODE_PUBLIC_SCOPE, "cert", reload_cb, &c);
    if (!err)
        err = node__records_range(s, NODE_PUBLIC_SCOPE, "revocation", reload_cb, &c);
    if (err) {
        node__trust_clear(&c.t);
        return err;
    }
    node__trust_clear(&s->trust);
    s->trust = c.t;
    return TX_OK;
}

/* The trust decision for one envelope: 0, or the NODE_R_* reason to reject. */
int node__trust_check(struct node_store *s, const struct node_trust *overlay,
                      const struct crdt_env *e)
{
    const struct trust_entry *te = NULL, *ov = NULL;
    const struct node_cert *c = NULL;
    uint64_t cut = 0, ms;
    int revoked = 0;

    if (!s->in_district || memcmp(e->origin, s->pk, 32) == 0)
        return 0;
    te = tfind(&s->trust, e->origin);
    if (overlay)
        ov = tfind((struct node_trust *)overlay, e->origin);
    if (te && te->have_cert)
        c = &te->cert;
    if (ov && ov->have_cert && (!c || ov->cert.expires_ms > c->expires_ms))
        c = &ov->cert;
    if (te && te->revoked) {
        revoked = 1;
        cut = te->cut;
    }
    if (ov && ov->revoked && (!revoked || ov->cut < cut)) {
        revoked = 1;
        cut = ov->cut;
    }
    if (!c)
        return (te && te->foreign) || (ov && ov->foreign) ? NODE_R_DISTRICT : NODE_R_UNTRUSTED;
    if (revoked && e->seq > cut)
        return NODE_R_REVOKED;
    ms = CRDT_HLC_MS(e->hlc);
    if (ms > c->expires_ms || ms + s->hlc.max_skew_ms < c->issued_ms)
        return NODE_R_EXPIRED;
    if (c->role == NODE_ROLE_HUB || strcmp(e->scope, NODE_PUBLIC_SCOPE) == 0)
        return 0;
    if (c->role == NODE_ROLE_OFFICE) {
        char g[CRDT_MAX_SCOPE + 1], p[CRDT_MAX_SCOPE + 1];

        node_scope_general(c->community, g);
        node_scope_private(c->community, p);
        if (strcmp(e->scope, g) == 0 || strcmp(e->scope, p) == 0)
            return 0;
    }
    return NODE_R_SCOPE;
}

/* Whether an origin is known at all (certificate here or in the overlay). */
int node__trust_known(struct node_store *s, const struct node_trust *overlay,
                      const uint8_t *origin, int *reason)
{
    const struct trust_entry *te, *ov = NULL;

    *reason = 0;
    if (!s->in_district || memcmp(origin, s->pk, 32) == 0)
        return 1;
    te = tfind(&s->trust, origin);
    if (overlay)
        ov = tfind((struct node_trust *)overlay, origin);
    if ((te && te->have_cert) || (ov && ov->have_cert))
        return 1;
    *reason = (te && te->foreign) || (ov && ov->foreign) ? NODE_R_DISTRICT : NODE_R_UNTRUSTED;
    return 0;
}

/* ---- after a commit that touched system records ---- */

struct wrap_ctx {
    struct node_store *s;
    char (*scopes)[CRDT_MAX_SCOPE + 1];
    size_t nscopes;
    int err;
};

static int wrap_cb(const struct node_record *r, void *vctx)
{
    struct wrap_ctx *c = vctx;
    const struct crdt_field *fr, *fs, *fe, *fw;
    const struct crdt_lww_entry *er, *es, *ee, *ew;
    uint8_t key[32];
    char scope[CRDT_MAX_SCOPE + 1];

    if (strcmp(r->scope, NODE_PUBLIC_SCOPE) != 0 || strcmp(r->type, "keywrap") != 0)
        return 0;
    fr = crdt_record_field(&r->rec, "reader", 6, CRDT_LWW);
    fs = crdt_record_field(&r->rec, "scope", 5, CRDT_LWW);
    fe = crdt_record_field(&r->rec, "epoch", 5, CRDT_LWW);
    fw = crdt_record_field(&r->rec, "wrapped", 7, CRDT_LWW);
    er = crdt_lww_winner(fr);
    es = crdt_lww_winner(fs);
    ee = crdt_lww_winner(fe);
    ew = crdt_lww_winner(fw);
    if (!er || !es || !ee || !ew || er->v.type != CRDT_BIN || er->v.len != 32 ||
        es->v.type != CRDT_STR || es->v.len > CRDT_MAX_SCOPE || ee->v.type != CRDT_INT ||
        ee->v.i <= 0 || ee->v.i > UINT32_MAX || ew->v.type != CRDT_BIN || ew->v.len != 80)
        return 0;
    if (memcmp(er->v.s, c->s->pk, 32) != 0)
        return 0;
    memcpy(scope, es->v.s, es->v.len);
    scope[es->v.len] = '\0';
    if (crdt_check_scope(scope, es->v.len) || node__scope_key(c->s, scope, (uint32_t)ee->v.i))
        return 0;
    if (crypto_box_seal_open(key, (const uint8_t *)ew->v.s, 80, c->s->xpk, c->s->xsk) != 0)
        return 0; /* not for our key after all */
    c->err = node__key_install_rebuild(c->s, scope, (uint32_t)ee->v.i, key);
    sodium_memzero(key, sizeof(key));
    if (c->err == TX_EEXIST)
        c->err = TX_OK;
    if (c->err)
        return 1;
    {
        char(*ns)[CRDT_MAX_SCOPE + 1] = tx_reallocarray(c->scopes, c->nscopes + 1, sizeof(*ns));

        if (!ns) {
            c->err = TX_ENOMEM;
            return 1;
        }
        c->scopes = ns;
        snprintf(ns[c->nscopes++], CRDT_MAX_SCOPE + 1, "%s", scope);
    }
    node__log(c->s, NODE_LOG_INFO, "keys: received %s epoch %lld", scope, (long long)ee->v.i);
    return 0;
}

int node__system_process(struct node_store *s)
{
    struct wrap_ctx wc;
    int err;

    if (!s->in_district || s->readonly || !s->have_sk)
        return node__trust_reload(s);
    if ((err = node__trust_reload(s)))
        return err;
    /* Key wraps addressed to this node. */
    memset(&wc, 0, sizeof(wc));
    wc.s = s;
    err = node__records_range(s, NODE_PUBLIC_SCOPE, "keywrap", wrap_cb, &wc);
    if (!err)
        err = wc.err;
    tx_free(wc.scopes); /* each was rebuilt with its key, in one transaction */
    if (err)
        return err;
    /* Revocations whose cut is below what we hold: drop the envelopes after the
     * cut and rebuild what they touched. */
    for (size_t i = 0; i < s->trust.n && !err; i++) {
        const struct trust_entry *te = &s->trust.e[i];

        if (te->revoked && node__origin_head(s, te->node) > te->cut)
            err = node__truncate_origin(s, te->node, te->cut);
        else if (te->revoked)
            err = node__mark_revoked(s, te->node, te->cut);
    }
    return err;
}

/* ---- enrolment ---- */

uint32_t node__keywrap_changes(struct node_change *ch, char *idbuf, const char *scope,
                               uint32_t epoch, const uint8_t *reader, const uint8_t *sealed)
{
    char hex[NODE_ID_HEX + 1];

    node_hex(reader, 32, hex);
    snprintf(idbuf, CRDT_MAX_ID + 1, "%.16s:%s:%u", hex, scope, epoch);
    for (int i = 0; i < 4; i++) {
        memset(&ch[i], 0, sizeof(ch[i]));
        ch[i].type = "keywrap";
        ch[i].id = idbuf;
        ch[i].code = CRDT_OP_LWW_SET;
    }
    ch[0].field = "reader";
    ch[0].value.type = CRDT_BIN;
    ch[0].value.s = (const char *)reader;
    ch[0].value.len = 32;
    ch[1].field = "scope";
    ch[1].value.type = CRDT_STR;
    ch[1].value.s = scope;
    ch[1].value.len = (uint32_t)strlen(scope);
    ch[2].field = "epoch";
    ch[2].value.type = CRDT_INT;
    ch[2].value.i = epoch;
    ch[3].field = "wrapped";
    ch[3].value.type = CRDT_BIN;
    ch[3].value.s = (const char *)sealed;
    ch[3].value.len = 80;
    return 4;
}

struct enrol_ctx {
    const uint8_t *district;
    const uint8_t *netsealed;
    const uint8_t *cert;
    size_t certlen;
};

static int enrol_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct enrol_ctx *c = vctx;
    MDB_val k, v;
    int rc;

    k.mv_size = 8;
    k.mv_data = "district";
    v.mv_size = 32;
    v.mv_data = (void *)c->district;
    if ((rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0)))
        return node__mdb_err(rc);
    k.mv_size = 6;
    k.mv_data = "netkey";
    v.mv_size = 80;
    v.mv_data = (void *)c->netsealed;
    if ((rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0)))
        return node__mdb_err(rc);
    k.mv_size = 4;
    k.mv_data = "cert";
    v.mv_size = c->certlen;
    v.mv_data = (void *)c->cert;
    return node__mdb_err(mdb_put(txn, s->dbi[DB_META], &k, &v, 0));
}

struct wrap {
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    uint8_t reader[32];
    uint8_t sealed[80];
    char id[CRDT_MAX_ID + 1];
};

int node_enrol_install(struct node_store *s, const uint8_t *blob, size_t len)
{
    struct tx_mpr r;
    uint64_t ver;
    const uint8_t *cert, *netsealed;
    uint32_t certlen, nlen, nw;
    struct node_cert c;
    struct enrol_ctx ec;
    uint8_t net[32];
    struct wrap *w = NULL;
    struct node_change *ch = NULL;
    char hex[NODE_ID_HEX + 1];
    size_t nch = 0;
    int err;

    if (s->readonly || !s->have_sk)
        return TX_EINVAL;
    if (len < 8 || memcmp(blob, "TXENROL1", 8) != 0)
        return TX_ECORRUPT;
    tx_mpr_init(&r, blob + 8, len - 8);
    if (tx_mpr_array_n(&r, 4) || tx_mpr_uint(&r, &ver) || ver != 1 ||
        tx_mpr_bin(&r, &cert, &certlen, 2048) || tx_mpr_bin(&r, &netsealed, &nlen, 80) ||
        nlen != 80 || tx_mpr_array(&r, &nw, 250))
        return TX_ECORRUPT;
    if ((err = node_cert_decode(cert, certlen, &c)))
        return err;
    if (memcmp(c.node, s->pk, 32) != 0)
        return TX_ECERT; /* issued for another node */
    if (s->in_district && memcmp(c.district, s->district, 32) != 0)
        return TX_EDISTRICT;
    if (crypto_box_seal_open(net, netsealed, 80, s->xpk, s->xsk) != 0)
        return TX_ECRYPTO;
    sodium_memzero(net, sizeof(net));
    w = tx_calloc((size_t)nw + 1, sizeof(*w));
    ch = tx_calloc(1 + 4 * (size_t)nw, sizeof(*ch));
    if (!w || !ch) {
        err = TX_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < nw; i++) {
        const char *sc;
        uint32_t sl;
        uint64_t ep;

        if (tx_mpr_array_n(&r, 4) || tx_mpr_str(&r, &sc, &sl, CRDT_MAX_SCOPE) ||
            tx_mpr_uint(&r, &ep) || tx_mpr_bin_fixed(&r, w[i].reader, 32) ||
            tx_mpr_bin_fixed(&r, w[i].sealed, 80) || ep == 0 || ep > UINT32_MAX ||
            crdt_check_scope(sc, sl)) {
            err = TX_ECORRUPT;
            goto out;
        }
        memcpy(w[i].scope, sc, sl);
        w[i].scope[sl] = '\0';
        w[i].epoch = (uint32_t)ep;
    }
    if (tx_mpr_done(&r)) {
        err = TX_ECORRUPT;
        goto out;
    }
    /* Adopt the district, then the keys addressed to this node. */
    ec.district = c.district;
    ec.netsealed = netsealed;
    ec.cert = cert;
    ec.certlen = certlen;
    if ((err = node__write_txn(s, enrol_fn, &ec)))
        goto out;
    memcpy(s->district, c.district, 32);
    s->in_district = 1;
    for (uint32_t i = 0; i < nw; i++) {
        uint8_t key[32];

        if (memcmp(w[i].reader, s->pk, 32) != 0)
            continue;
        if (crypto_box_seal_open(key, w[i].sealed, 80, s->xpk, s->xsk) != 0) {
            err = TX_ECRYPTO;
            goto out;
        }
        err = node__key_install(s, w[i].scope, w[i].epoch, key);
        sodium_memzero(key, sizeof(key));
        if (err && err != TX_EEXIST)
            goto out;
    }
    /* Publish the certificate and the wraps (for hubs, and for this node's
     * other copies) as public records: one envelope. */
    node_hex(s->pk, 32, hex);
    ch[0].type = "cert";
    ch[0].id = hex;
    ch[0].field = "cert";
    ch[0].code = CRDT_OP_LWW_SET;
    ch[0].value.type = CRDT_BIN;
    ch[0].value.s = (const char *)cert;
    ch[0].value.len = certlen;
    nch = 1;
    for (uint32_t i = 0; i < nw; i++)
        nch += node__keywrap_changes(&ch[nch], w[i].id, w[i].scope, w[i].epoch, w[i].reader,
                                     w[i].sealed);
    if ((err = node_write(s, NODE_PUBLIC_SCOPE, ch, nch, NULL)))
        goto out;
    err = node__trust_reload(s);
    node__log(s, NODE_LOG_INFO, "district: enrolled as %s of %s", node_role_name(c.role),
              c.community);
out:
    tx_free(w);
    tx_free(ch);
    return err;
}

int node_district_of(struct node_store *s, uint8_t out[CRDT_KEY_BYTES])
{
    if (!s->in_district)
        return TX_ENOTFOUND;
    memcpy(out, s->district, 32);
    return TX_OK;
}

int node_network_key(struct node_store *s, uint8_t out[32])
{
    MDB_txn *txn;
    MDB_val k = {6, "netkey"}, v;
    int err, rc;

    if (!s->in_district || !s->have_sk)
        return TX_ENOTFOUND;
    if ((err = node__read_txn(s, &txn)))
        return err;
    rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == 0 && (v.mv_size != 80 ||
                    crypto_box_seal_open(out, v.mv_data, 80, s->xpk, s->xsk) != 0))
        err = TX_ECRYPTO;
    else
        err = node__mdb_err(rc);
    mdb_txn_abort(txn);
    return err;
}

static void cert_info(struct node_store *s, const struct trust_entry *te, uint64_t now,
                      struct node_cert_info *ci)
{
    memset(ci, 0, sizeof(*ci));
    ci->cert = te->cert;
    ci->revoked_cut = te->cut;
    ci->state = te->revoked ? NODE_CERT_REVOKED
                : now > te->cert.expires_ms ? NODE_CERT_EXPIRED
                                            : NODE_CERT_VALID;
    (void)s;
}

int node_certs_each(struct node_store *s, node_cert_cb cb, void *ctx)
{
    uint64_t now = node__now(s);
    int err = TX_OK;

    for (size_t i = 0; i < s->trust.n && !err; i++) {
        struct node_cert_info ci;

        if (!s->trust.e[i].have_cert)
            continue;
        cert_info(s, &s->trust.e[i], now, &ci);
        err = cb(&ci, ctx);
    }
    return err;
}

int node_cert_lookup(struct node_store *s, const uint8_t node_id[CRDT_KEY_BYTES],
                     struct node_cert_info *out)
{
    const struct trust_entry *te = tfind(&s->trust, node_id);

    if (!te || !te->have_cert)
        return TX_ENOTFOUND;
    cert_info(s, te, node__now(s), out);
    return TX_OK;
}
