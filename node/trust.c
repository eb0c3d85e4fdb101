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
int node__trust_scan_body(struct node_trust *t, const uint8_t *district, const struct crdt_body *b)
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

/* ---- the public log ----
 *
 * Certificates, revocations and key wraps are facts signed by the district root:
 * whatever became of the records that carried them (a later write may supersede
 * a register value), each one ever received counts. So the trust table and the
 * key wraps come from the public scope's envelopes, not from its records. */

struct wrapfound {
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    uint8_t reader[32], sealed[80];
};

struct pubscan {
    struct node_store *s;
    struct node_trust t;
    struct wrapfound *w; /* wraps for this node, root-verified */
    size_t nw;
};

/* The key wraps of one body: five fields of one keywrap record per wrap. */
static int scan_wraps(struct pubscan *ps, const struct crdt_body *b)
{
    for (uint32_t i = 0; i < b->nops; i++) {
        const struct crdt_op *op = &b->ops[i];
        const struct crdt_value *reader = NULL, *scope = NULL, *epoch = NULL, *sealed = NULL,
                                *sig = NULL;
        struct wrapfound wf;

        if (op->type_len != 7 || memcmp(op->type, "keywrap", 7) || op->code != CRDT_OP_LWW_SET)
            continue;
        /* gather this record's fields from this body */
        for (uint32_t k = i; k < b->nops; k++) {
            const struct crdt_op *o2 = &b->ops[k];

            if (o2->type_len != 7 || memcmp(o2->type, "keywrap", 7) || o2->id_len != op->id_len ||
                memcmp(o2->id, op->id, op->id_len) || o2->code != CRDT_OP_LWW_SET)
                continue;
#define FIELD_IS(n) (o2->field_len == sizeof(n) - 1 && !memcmp(o2->field, n, sizeof(n) - 1))
            if (FIELD_IS("reader"))
                reader = &o2->value;
            else if (FIELD_IS("scope"))
                scope = &o2->value;
            else if (FIELD_IS("epoch"))
                epoch = &o2->value;
            else if (FIELD_IS("wrapped"))
                sealed = &o2->value;
            else if (FIELD_IS("sig"))
                sig = &o2->value;
#undef FIELD_IS
        }
        if (!reader || !scope || !epoch || !sealed || !sig || reader->type != CRDT_BIN ||
            reader->len != 32 || scope->type != CRDT_STR || scope->len > CRDT_MAX_SCOPE ||
            epoch->type != CRDT_INT || epoch->i <= 0 || epoch->i > UINT32_MAX ||
            sealed->type != CRDT_BIN || sealed->len != 80 || sig->type != CRDT_BIN ||
            sig->len != 64)
            continue;
        if (memcmp(reader->s, ps->s->pk, 32) != 0)
            continue; /* for another node */
        memcpy(wf.scope, scope->s, scope->len);
        wf.scope[scope->len] = '\0';
        wf.epoch = (uint32_t)epoch->i;
        memcpy(wf.reader, reader->s, 32);
        memcpy(wf.sealed, sealed->s, 80);
        if (crdt_check_scope(wf.scope, scope->len) ||
            node__wrap_verify(ps->s->district, wf.scope, wf.epoch, wf.reader, wf.sealed,
                              (const uint8_t *)sig->s)) {
            node__log(ps->s, NODE_LOG_WARN,
                      "keys: a key wrap for %s epoch %u is not signed by "
                      "the district: ignored",
                      wf.scope, wf.epoch);
            continue;
        }
        {
            struct wrapfound *nw = tx_reallocarray(ps->w, ps->nw + 1, sizeof(*nw));

            if (!nw)
                return TX_ENOMEM;
            ps->w = nw;
            ps->w[ps->nw++] = wf;
        }
        /* later fields of this record were consumed above; duplicates are harmless */
    }
    return TX_OK;
}

static int scan_public(struct node_store *s, struct pubscan *ps, int wraps)
{
    static const char prefix[] = NODE_PUBLIC_SCOPE; /* and its \0 */
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int err, rc;

    if ((err = node__read_cursor(s, DB_SCOPELOG, &txn, &cur)))
        return err;
    k.mv_size = sizeof(prefix);
    k.mv_data = (void *)prefix;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == sizeof(prefix) + 8 && !memcmp(k.mv_data, prefix, sizeof(prefix));
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        MDB_val lk = {12, v.mv_data}, ev;
        struct crdt_env e;
        struct crdt_body b;

        if (v.mv_size != 12 || mdb_get(txn, s->dbi[DB_LOG], &lk, &ev) ||
            node__log_split(&ev, NULL) || crdt_env_decode(&e, ev.mv_data, ev.mv_size))
            continue;
        memset(&b, 0, sizeof(b)); /* released whether or not it was decoded */
        if (e.epoch == 0 && crdt_body_decode(&b, e.body, e.body_len) == TX_OK) {
            err = node__trust_scan_body(&ps->t, s->district, &b);
            if (!err && wraps)
                err = scan_wraps(ps, &b);
        }
        crdt_body_release(&b);
        crdt_env_release(&e);
        if (err)
            break;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    return err;
}

int node__trust_reload(struct node_store *s)
{
    struct pubscan ps;
    int err;

    if (!s->in_district)
        return TX_OK;
    memset(&ps, 0, sizeof(ps));
    ps.s = s;
    if ((err = scan_public(s, &ps, 0))) {
        node__trust_clear(&ps.t);
        return err;
    }
    node__trust_clear(&s->trust);
    s->trust = ps.t;
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
int node__trust_known(struct node_store *s, const struct node_trust *overlay, const uint8_t *origin,
                      int *reason)
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

/* The newest arrival number in the public scope (0 if none). */
static uint64_t public_last(struct node_store *s)
{
    static const char after[] = "public\x01"; /* sorts after every public\0... key */
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {sizeof(after) - 1, (void *)after}, v;
    uint64_t last = 0;
    int rc;

    if (node__read_txn(s, &txn))
        return 0;
    if (mdb_cursor_open(txn, s->dbi[DB_SCOPELOG], &cur) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        rc =
            rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == sizeof(NODE_PUBLIC_SCOPE) + 8 &&
            !memcmp(k.mv_data, NODE_PUBLIC_SCOPE, sizeof(NODE_PUBLIC_SCOPE)))
            last = node__get_u64((const uint8_t *)k.mv_data + sizeof(NODE_PUBLIC_SCOPE));
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return last;
}

int node_refresh(struct node_store *s, int *changed)
{
    int err = TX_OK, ch = 0;

    if (changed)
        *changed = 0;
    if (s->have_sk) {
        /* keys another process installed: load them, and rebuild their scopes
         * (envelopes may have arrived here while we could not read them) */
        size_t before = s->nkeys;
        char(*scopes)[CRDT_MAX_SCOPE + 1] = NULL;
        size_t n = 0;
        MDB_txn *txn;

        if ((err = node__read_txn(s, &txn)))
            return err;
        err = node__keys_load(s, txn);
        mdb_txn_abort(txn);
        if (err)
            return err;
        if (s->nkeys > before && (scopes = tx_calloc(s->nkeys - before, sizeof(*scopes)))) {
            for (size_t i = before; i < s->nkeys; i++) {
                size_t j;

                for (j = 0; j < n; j++)
                    if (!strcmp(scopes[j], s->keys[i].scope))
                        break;
                if (j == n)
                    snprintf(scopes[n++], CRDT_MAX_SCOPE + 1, "%s", s->keys[i].scope);
            }
            for (size_t j = 0; j < n; j++)
                node__log(s, NODE_LOG_INFO, "keys: %s became readable: rebuilding", scopes[j]);
            err = node__rebuild_scopes(s, (const char(*)[CRDT_MAX_SCOPE + 1]) scopes, n);
            tx_free(scopes);
            ch = 1;
        }
    }
    if (!err && s->in_district && public_last(s) != s->public_seen) {
        err = node__system_process(s);
        ch = 1;
    }
    if (changed)
        *changed = ch;
    return err;
}

int node__system_process(struct node_store *s)
{
    struct pubscan ps;
    uint64_t seen;
    int err;

    if (!s->in_district)
        return TX_OK;
    seen = public_last(s); /* recorded only once everything below succeeded */
    memset(&ps, 0, sizeof(ps));
    ps.s = s;
    if ((err = scan_public(s, &ps, !s->readonly && s->have_sk))) {
        node__trust_clear(&ps.t);
        tx_free(ps.w);
        return err;
    }
    node__trust_clear(&s->trust);
    s->trust = ps.t;
    /* Key wraps addressed to this node and signed by the root: the new keys
     * are installed with their scopes rebuilt, in one transaction (one pass
     * over the log for all of them). */
    {
        struct node__newkey *nk = ps.nw ? tx_calloc(ps.nw, sizeof(*nk)) : NULL;
        size_t n = 0;

        if (ps.nw && !nk)
            err = TX_ENOMEM;
        for (size_t i = 0; i < ps.nw && !err; i++) {
            struct wrapfound *w = &ps.w[i];

            if (node__scope_key(s, w->scope, w->epoch) ||
                crypto_box_seal_open(nk[n].key, w->sealed, 80, s->xpk, s->xsk) != 0)
                continue; /* held, or not for our key after all */
            snprintf(nk[n].scope, sizeof(nk[n].scope), "%s", w->scope);
            nk[n++].epoch = w->epoch;
        }
        if (!err && n)
            err = node__keys_install_rebuild(s, nk, n);
        for (size_t i = 0; i < n && !err; i++)
            if (nk[i].install)
                node__log(s, NODE_LOG_INFO, "keys: received %s epoch %u", nk[i].scope, nk[i].epoch);
        if (nk)
            sodium_memzero(nk, ps.nw * sizeof(*nk));
        tx_free(nk);
    }
    tx_free(ps.w);
    if (err)
        return err;
    if (s->readonly || !s->have_sk) {
        s->public_seen = seen;
        return TX_OK;
    }
    /* Revocations whose cut is below what we hold: drop the envelopes after the
     * cut and rebuild what they touched. */
    for (size_t i = 0; i < s->trust.n && !err; i++) {
        const struct trust_entry *te = &s->trust.e[i];

        if (te->revoked && node__origin_head(s, te->node) > te->cut)
            err = node__truncate_origin(s, te->node, te->cut);
        else if (te->revoked)
            err = node__mark_revoked(s, te->node, te->cut);
    }
    if (!err)
        s->public_seen = seen; /* a failure is retried by the next node_refresh */
    return err;
}

/* ---- enrolment ---- */

void node__wrap_digest(const char *scope, uint32_t epoch, const uint8_t reader[32],
                       const uint8_t sealed[80], uint8_t out[32])
{
    crypto_generichash_state st;
    uint8_t eb[4];

    node__put_u32(eb, epoch);
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)scope, strlen(scope) + 1);
    crypto_generichash_update(&st, eb, 4);
    crypto_generichash_update(&st, reader, 32);
    crypto_generichash_update(&st, sealed, 80);
    crypto_generichash_final(&st, out, 32);
}

void node__netkey_digest(const uint8_t node[32], const uint8_t sealed[80], uint8_t out[32])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, node, 32);
    crypto_generichash_update(&st, sealed, 80);
    crypto_generichash_final(&st, out, 32);
}

static int root_verify(const uint8_t district[32], const char *ctx, const uint8_t digest[32],
                       const uint8_t sig[64])
{
    uint8_t msg[64];
    size_t cl = strlen(ctx);

    memcpy(msg, ctx, cl);
    memcpy(msg + cl, digest, 32);
    return crypto_sign_verify_detached(sig, msg, cl + 32, district) == 0 ? TX_OK : TX_ECERT;
}

int node__wrap_verify(const uint8_t district[32], const char *scope, uint32_t epoch,
                      const uint8_t reader[32], const uint8_t sealed[80], const uint8_t sig[64])
{
    uint8_t dg[32];

    node__wrap_digest(scope, epoch, reader, sealed, dg);
    return root_verify(district, NODE_WRAP_CTX, dg, sig);
}

uint32_t node__keywrap_changes(struct node_change *ch, char *idbuf, const char *scope,
                               uint32_t epoch, const uint8_t *reader, const uint8_t *sealed,
                               const uint8_t *sig)
{
    char hex[NODE_ID_HEX + 1];

    node_hex(reader, 32, hex);
    snprintf(idbuf, CRDT_MAX_ID + 1, "%.16s:%s:%u", hex, scope, epoch);
    for (int i = 0; i < 5; i++) {
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
    ch[4].field = "sig";
    ch[4].value.type = CRDT_BIN;
    ch[4].value.s = (const char *)sig;
    ch[4].value.len = 64;
    return 5;
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
    uint8_t sig[64];
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
    uint8_t net[32], netsig[64];
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
    if (tx_mpr_array_n(&r, 5) || tx_mpr_uint(&r, &ver) || ver != 1 ||
        tx_mpr_bin(&r, &cert, &certlen, 2048) || tx_mpr_bin(&r, &netsealed, &nlen, 80) ||
        nlen != 80 || tx_mpr_bin_fixed(&r, netsig, 64) || tx_mpr_array(&r, &nw, 65536))
        return TX_ECORRUPT;
    /* an entry takes at least 180 bytes (reader 34, sealed 82, sig 66, ...):
     * a count the file cannot hold allocates nothing */
    if (nw > tx_mpr_left(&r) / 180)
        return TX_ECORRUPT;
    if ((err = node_cert_decode(cert, certlen, &c)))
        return err;
    {
        /* the network key is the administrator's, not whoever carried the file */
        uint8_t dg[32];

        node__netkey_digest(c.node, netsealed, dg);
        if (root_verify(c.district, NODE_NETKEY_CTX, dg, netsig))
            return TX_ECERT;
    }
    if (memcmp(c.node, s->pk, 32) != 0)
        return TX_ECERT; /* issued for another node */
    if (s->in_district && memcmp(c.district, s->district, 32) != 0)
        return TX_EDISTRICT;
    if (crypto_box_seal_open(net, netsealed, 80, s->xpk, s->xsk) != 0)
        return TX_ECRYPTO;
    sodium_memzero(net, sizeof(net));
    w = tx_calloc((size_t)nw + 1, sizeof(*w));
    ch = tx_calloc(1 + 5 * (size_t)nw, sizeof(*ch));
    if (!w || !ch) {
        err = TX_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < nw; i++) {
        const char *sc;
        uint32_t sl;
        uint64_t ep;

        if (tx_mpr_array_n(&r, 5) || tx_mpr_str(&r, &sc, &sl, CRDT_MAX_SCOPE) ||
            tx_mpr_uint(&r, &ep) || tx_mpr_bin_fixed(&r, w[i].reader, 32) ||
            tx_mpr_bin_fixed(&r, w[i].sealed, 80) || tx_mpr_bin_fixed(&r, w[i].sig, 64) ||
            ep == 0 || ep > UINT32_MAX || crdt_check_scope(sc, sl)) {
            err = TX_ECORRUPT;
            goto out;
        }
        memcpy(w[i].scope, sc, sl);
        w[i].scope[sl] = '\0';
        w[i].epoch = (uint32_t)ep;
        if (node__wrap_verify(c.district, w[i].scope, w[i].epoch, w[i].reader, w[i].sealed,
                              w[i].sig)) {
            err = TX_ECERT; /* a wrap the administrator did not sign */
            goto out;
        }
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
    /* with a rebuild: envelopes of those scopes may be stored already (a
     * bundle imported before the enrolment); one transaction, one pass over
     * the log; a key held already, or wrapped twice for this node, once */
    {
        struct node__newkey *nk = tx_calloc((size_t)nw + 1, sizeof(*nk));
        size_t n = 0;

        if (!nk) {
            err = TX_ENOMEM;
            goto out;
        }
        for (uint32_t i = 0; i < nw && !err; i++) {
            if (memcmp(w[i].reader, s->pk, 32) != 0)
                continue;
            if (crypto_box_seal_open(nk[n].key, w[i].sealed, 80, s->xpk, s->xsk) != 0) {
                err = TX_ECRYPTO;
                break;
            }
            snprintf(nk[n].scope, sizeof(nk[n].scope), "%s", w[i].scope);
            nk[n++].epoch = w[i].epoch;
        }
        if (!err)
            err = node__keys_install_rebuild(s, nk, n);
        sodium_memzero(nk, ((size_t)nw + 1) * sizeof(*nk));
        tx_free(nk);
        if (err)
            goto out;
    }
    /* Publish the certificate and the wraps (for hubs, and for this node's
     * other copies) as public records. */
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
                                     w[i].sealed, w[i].sig);
    if (!err)
        err = node__publish_public(s, ch, nch);
    if (err)
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
    if (rc == 0 &&
        (v.mv_size != 80 || crypto_box_seal_open(out, v.mv_data, 80, s->xpk, s->xsk) != 0))
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
    ci->state = te->revoked                 ? NODE_CERT_REVOKED
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

static int same_record(const struct node_change *a, const struct node_change *b)
{
    return strcmp(a->type, b->type) == 0 && strcmp(a->id, b->id) == 0;
}

int node__publish_public(struct node_store *s, const struct node_change *ch, size_t nch)
{
    size_t *sizes = tx_calloc(nch + 1, sizeof(*sizes)), n = 0;
    int err;

    if (!sizes)
        return TX_ENOMEM;
    for (size_t off = 0; off < nch;) {
        size_t take = nch - off > 1000 ? 1000 : nch - off;

        if (off + take < nch) {
            size_t t = take;

            while (t > 0 && same_record(&ch[off + t], &ch[off + t - 1]))
                t--;
            if (t > 0) /* else one record of over 1000 changes: split it */
                take = t;
        }
        sizes[n++] = take;
        off += take;
    }
    /* one transaction: published whole or not at all, one trust pass */
    err = node_write_batch(s, NODE_PUBLIC_SCOPE, ch, sizes, n, NULL);
    tx_free(sizes);
    return err;
}
