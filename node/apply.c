/*
 * apply.c - the records cache of one write transaction, appending accepted
 * envelopes to the log, applying readable bodies, and rebuilding a scope.
 *
 * Records are read and decoded once per transaction, changed in memory by every
 * envelope of the batch that touches them, and encoded and written once at the
 * end: a catch-up batch that updates one record a thousand times costs one
 * LMDB put, not a thousand.
 */
#include <string.h>

#include "internal.h"

struct rc_entry {
    char *key;
    size_t klen;
    uint64_t hash;
    struct crdt_record rec;
    int dirty;
};

struct node__reccache {
    struct rc_entry *t;
    size_t cap, n;
};

#define RC_FLUSH_AT 20000 /* entries kept before a rebuild flushes */

static uint64_t fnv(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 1099511628211ull;
    return h;
}

struct node__reccache *node__reccache_new(void)
{
    struct node__reccache *rc = tx_calloc(1, sizeof(*rc));

    if (!rc)
        return NULL;
    rc->cap = 64;
    rc->t = tx_calloc(rc->cap, sizeof(*rc->t));
    if (!rc->t) {
        tx_free(rc);
        return NULL;
    }
    return rc;
}

static void rc_clear(struct node__reccache *rc)
{
    for (size_t i = 0; i < rc->cap; i++) {
        if (!rc->t[i].key)
            continue;
        tx_free(rc->t[i].key);
        crdt_record_release(&rc->t[i].rec);
        memset(&rc->t[i], 0, sizeof(rc->t[i]));
    }
    rc->n = 0;
}

void node__reccache_free(struct node__reccache *rc)
{
    if (!rc)
        return;
    rc_clear(rc);
    tx_free(rc->t);
    tx_free(rc);
}

static int rc_grow(struct node__reccache *rc)
{
    size_t ncap = rc->cap * 2;
    struct rc_entry *nt = tx_calloc(ncap, sizeof(*nt));

    if (!nt)
        return TX_ENOMEM;
    for (size_t i = 0; i < rc->cap; i++) {
        size_t j;

        if (!rc->t[i].key)
            continue;
        for (j = rc->t[i].hash & (ncap - 1); nt[j].key; j = (j + 1) & (ncap - 1))
            ;
        nt[j] = rc->t[i];
    }
    tx_free(rc->t);
    rc->t = nt;
    rc->cap = ncap;
    return TX_OK;
}

int node__reccache_get(struct node_store *s, MDB_txn *txn, struct node__reccache *rc,
                       const char *scope, const char *type, size_t tl, const char *id, size_t il,
                       struct crdt_record **out)
{
    char key[CRDT_MAX_SCOPE + CRDT_MAX_TYPE + CRDT_MAX_ID + 2];
    size_t klen, j;
    uint64_t h;
    MDB_val k, v;
    int rc_, err;

    if ((err = node__record_key(key, sizeof(key), &klen, scope, strlen(scope), type, tl, id, il)))
        return err;
    h = fnv(key, klen);
    for (j = h & (rc->cap - 1); rc->t[j].key; j = (j + 1) & (rc->cap - 1))
        if (rc->t[j].hash == h && rc->t[j].klen == klen && memcmp(rc->t[j].key, key, klen) == 0) {
            *out = &rc->t[j].rec;
            rc->t[j].dirty = 1;
            return TX_OK;
        }
    if ((rc->n + 1) * 10 > rc->cap * 7) {
        if ((err = rc_grow(rc)))
            return err;
        for (j = h & (rc->cap - 1); rc->t[j].key; j = (j + 1) & (rc->cap - 1))
            ;
    }
    rc->t[j].key = tx_malloc(klen);
    if (!rc->t[j].key)
        return TX_ENOMEM;
    memcpy(rc->t[j].key, key, klen);
    rc->t[j].klen = klen;
    rc->t[j].hash = h;
    rc->t[j].dirty = 1;
    crdt_record_init(&rc->t[j].rec);
    rc->n++;
    k.mv_size = klen;
    k.mv_data = key;
    rc_ = mdb_get(txn, s->dbi[DB_RECORDS], &k, &v);
    if (rc_ == 0) {
        err = crdt_record_decode(&rc->t[j].rec, v.mv_data, v.mv_size);
        if (err)
            return err == TX_ENOMEM ? err : TX_ECORRUPT;
    } else if (rc_ != MDB_NOTFOUND) {
        return node__mdb_err(rc_);
    }
    *out = &rc->t[j].rec;
    return TX_OK;
}

int node__reccache_flush(struct node_store *s, MDB_txn *txn, struct node__reccache *rc)
{
    struct tx_mpw w;
    int err = TX_OK;

    tx_mpw_init(&w, (size_t)64 << 20);
    for (size_t i = 0; i < rc->cap && !err; i++) {
        struct rc_entry *e = &rc->t[i];
        MDB_val k, v;

        if (!e->key || !e->dirty)
            continue;
        k.mv_size = e->klen;
        k.mv_data = e->key;
        if (e->rec.n == 0) {
            int rc_ = mdb_del(txn, s->dbi[DB_RECORDS], &k, NULL);
            err = rc_ == MDB_NOTFOUND ? TX_OK : node__mdb_err(rc_);
            continue;
        }
        w.len = 0;
        if ((err = crdt_record_encode(&e->rec, &w)))
            break;
        v.mv_size = w.len;
        v.mv_data = w.buf;
        err = node__mdb_err(mdb_put(txn, s->dbi[DB_RECORDS], &k, &v, 0));
        e->dirty = 0;
    }
    tx_mpw_release(&w);
    if (!err)
        rc_clear(rc);
    return err;
}

int node__apply_body(struct node_store *s, MDB_txn *txn, struct node__reccache *rc,
                     const struct crdt_env *e, const struct crdt_body *b)
{
    int err = crdt_body_check_causal(b, e);

    if (err)
        return TX_EBODY;
    for (uint32_t i = 0; i < b->nops; i++) {
        const struct crdt_op *op = &b->ops[i];
        struct crdt_record *rec;
        struct crdt_dot dot;

        if ((err = node__reccache_get(s, txn, rc, e->scope, op->type, op->type_len, op->id,
                                      op->id_len, &rec)))
            return err;
        memcpy(dot.origin, e->origin, CRDT_KEY_BYTES);
        dot.seq = e->seq;
        dot.idx = i;
        if ((err = crdt_record_apply(rec, op, &dot, e->hlc)))
            return err;
    }
    return TX_OK;
}

uint64_t node__next_arrival(struct node_store *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t next = 1;

    /* The arrival index is appended in order: the next number follows its last
     * key (no counter to write with every envelope). */
    if (mdb_cursor_open(txn, s->dbi[DB_ARRIVAL], &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
            next = node__get_u64(k.mv_data) + 1;
        mdb_cursor_close(cur);
    }
    return next;
}

int node__txstate_load(struct node_store *s, MDB_txn *txn, struct node__txstate *ts)
{
    struct origin_row own;

    memset(ts, 0, sizeof(*ts));
    ts->now = node__now(s);
    ts->next_arrival = node__next_arrival(s, txn);
    {
        MDB_cursor *cur;
        MDB_val k, v;

        if (mdb_cursor_open(txn, s->dbi[DB_LOG], &cur) == 0) {
            if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 12) {
                memcpy(ts->log_last, k.mv_data, 12);
                ts->log_last_ok = 1;
            }
            mdb_cursor_close(cur);
        }
    }
    /* The clock never goes below this node's own last envelope, even when
     * another process wrote since we last looked. */
    if (s->have_sk && node__origin_get(s, txn, s->pk, 0, &own) == TX_OK) {
        ts->own = own; /* node_write starts from it: read once per transaction */
        ts->own_ok = 1;
        if (own.head_hlc > s->hlc.last)
            s->hlc.last = own.head_hlc;
    }
    return TX_OK;
}

int node__txstate_save(struct node_store *s, MDB_txn *txn, const struct node__txstate *ts)
{
    return node__stat_add(s, txn, NODE_R_BADBODY, ts->badbody);
}

static void logkey(uint8_t *k, uint32_t idx, uint64_t seq)
{
    node__put_u32(k, idx);
    node__put_u64(k + 4, seq);
}

/* Decrypt, decode and apply e when this node can read it. pre, when not NULL,
 * is the body opened and decoded ahead of the transaction (pipelined ingest);
 * it is used unless it found no key (a key may have been installed since) or
 * ran out of memory. Returns TX_OK, or an error of the store; a body that is
 * bad is counted and skipped. */
static int apply_readable(struct node_store *s, MDB_txn *txn, struct node__txstate *ts,
                          struct node__reccache *rc, const struct crdt_env *e,
                          const struct node__opened *pre, int *readable)
{
    uint8_t *pt = NULL;
    size_t ptlen;
    struct crdt_body b;
    const struct crdt_body *body = &b;
    int err, own = 1;

    if (pre && pre->open_err != TX_ENOKEY && pre->open_err != TX_ENOMEM &&
        pre->dec_err != TX_ENOMEM) {
        err = pre->open_err;
        own = 0;
    } else {
        err = node__body_open(s, e, &pt, &ptlen);
    }
    *readable = err != TX_ENOKEY;
    if (err == TX_ENOKEY)
        return TX_OK;
    if (err == TX_ENOMEM)
        return err;
    if (err) {
        ts->badbody++;
        return TX_OK;
    }
    if (own) {
        err = crdt_body_decode(&b, pt, ptlen);
    } else {
        err = pre->dec_err;
        body = &pre->body;
    }
    if (!err)
        err = node__apply_body(s, txn, rc, e, body);
    if (!err && e->epoch == 0)
        ts->system_dirty = 1; /* public records: certificates, revocations, key wraps */
    if (own) {
        crdt_body_release(&b);
        tx_free(pt);
    }
    if (err == TX_ENOMEM || err == TX_ESTORE || err == TX_EMAPFULL || err == TX_EIO ||
        err == TX_ECORRUPT)
        return err;
    if (err) {
        /* Signed by its origin, but not a valid body: every reader skips it the
         * same way, so replicas still agree. */
        char hex[NODE_SHORT_ID + 1];

        node_hex(e->origin, NODE_SHORT_ID / 2, hex);
        node__log(s, NODE_LOG_WARN, "ingest: %s#%llu body skipped: %s", hex,
                  (unsigned long long)e->seq, tx_strerror(err));
        ts->badbody++;
    }
    return TX_OK;
}

int node__open_ahead(struct node_store *s, const struct crdt_env *e, struct node__opened *o)
{
    memset(o, 0, sizeof(*o));
    o->open_err = node__body_open(s, e, &o->pt, &o->ptlen);
    if (!o->open_err)
        o->dec_err = crdt_body_decode(&o->body, o->pt, o->ptlen);
    return o->open_err == TX_ENOMEM || o->dec_err == TX_ENOMEM ? TX_ENOMEM : TX_OK;
}

void node__opened_release(struct node__opened *o)
{
    if (!o->open_err)
        crdt_body_release(&o->body);
    tx_free(o->pt);
    memset(o, 0, sizeof(*o));
}

int node__append(struct node_store *s, MDB_txn *txn, struct node__txstate *ts,
                 struct node__reccache *rc, struct origin_row *o, const struct crdt_env *e,
                 const uint8_t *bytes, size_t len, const uint8_t hash[CRDT_HASH_BYTES], int apply,
                 const struct node__opened *pre, int *readable)
{
    uint8_t lk[12], ak[8], sk[CRDT_MAX_SCOPE + 9];
    MDB_val k = {12, lk}, v = {len + LOG_PREFIX, NULL};
    int rc_, err, last;

    logkey(lk, o->idx, e->seq);
    node__put_u64(ak, ts->next_arrival);
    /* Past the last key (an origin with the highest index, as in a catch-up
     * from one peer) LMDB can append; in the middle of the tree it splits a
     * full page in two. The store is empty, or its last key was read at the
     * start of the transaction and follows every append since. */
    last = !ts->log_last_ok || memcmp(lk, ts->log_last, 12) > 0;
    if ((rc_ = mdb_put(txn, s->dbi[DB_LOG], &k, &v,
                       MDB_NOOVERWRITE | MDB_RESERVE | (last ? MDB_APPEND : 0))))
        return rc_ == MDB_KEYEXIST ? TX_ECORRUPT : node__mdb_err(rc_);
    if (last) {
        memcpy(ts->log_last, lk, 12);
        ts->log_last_ok = 1;
    }
    memcpy(v.mv_data, ak, LOG_PREFIX);
    memcpy((uint8_t *)v.mv_data + LOG_PREFIX, bytes, len);
    k.mv_size = 8;
    k.mv_data = ak;
    v.mv_size = 12;
    v.mv_data = lk;
    if ((rc_ = mdb_put(txn, s->dbi[DB_ARRIVAL], &k, &v, MDB_APPEND)))
        return node__mdb_err(rc_);
    if (node__scope_is_public(e->scope, e->scope_len)) {
        /* Only the public scope has an index of its own: the trust tables are
         * built from it on every refresh. Other scopes are replayed from
         * arrival (rebuilds are rare), which spares every write a B-tree. */
        memcpy(sk, e->scope, e->scope_len);
        sk[e->scope_len] = '\0';
        memcpy(sk + e->scope_len + 1, ak, 8);
        k.mv_size = e->scope_len + 9;
        k.mv_data = sk;
        if ((rc_ = mdb_put(txn, s->dbi[DB_SCOPELOG], &k, &v, 0)))
            return node__mdb_err(rc_);
    }
    ts->next_arrival++;
    o->head = e->seq;
    memcpy(o->head_hash, hash, CRDT_HASH_BYTES);
    o->head_hlc = e->hlc;
    o->received_ms = ts->now;
    crdt_hlc_recv(&s->hlc, ts->now, e->hlc);
    *readable = e->epoch == 0 || node__scope_key(s, e->scope, e->epoch) != NULL;
    if (!apply)
        return TX_OK;
    err = apply_readable(s, txn, ts, rc, e, pre, readable);
    return err;
}

/* ---- rebuilding a scope ---- */

int node__scope_is_public(const char *scope, size_t len)
{
    return len == sizeof(NODE_PUBLIC_SCOPE) - 1 && memcmp(scope, NODE_PUBLIC_SCOPE, len) == 0;
}

static int scope_in(const char (*scopes)[CRDT_MAX_SCOPE + 1], size_t n, const char *scope,
                    size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(scopes[i]) == len && memcmp(scopes[i], scope, len) == 0)
            return 1;
    return 0;
}

/* Delete every record of scope. After mdb_cursor_del the cursor already stands
 * on the next entry, and MDB_NEXT returns that entry. */
static int drop_records(struct node_store *s, MDB_txn *txn, const char *scope)
{
    size_t sl = strlen(scope);
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi[DB_RECORDS], &cur)))
        return node__mdb_err(rc);
    k.mv_size = sl + 1;
    k.mv_data = (void *)scope; /* with its \0 */
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size > sl && memcmp(k.mv_data, scope, sl + 1) == 0) {
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc && rc != MDB_NOTFOUND ? node__mdb_err(rc) : TX_OK;
}

int node__rebuild_scopes_txn(struct node_store *s, MDB_txn *txn,
                             const char (*scopes)[CRDT_MAX_SCOPE + 1], size_t n)
{
    struct node__reccache *rc;
    struct node__txstate ts;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc_ = 0, err;

    if (n == 0)
        return TX_OK;
    if (!(rc = node__reccache_new()))
        return TX_ENOMEM;
    if ((err = node__txstate_load(s, txn, &ts)))
        goto out;
    /* 1. Drop every record of the scopes. */
    for (size_t i = 0; i < n && !err; i++)
        err = drop_records(s, txn, scopes[i]);
    if (err)
        goto out;
    /* 2. Replay the scopes' envelopes in arrival order (a causal order): one
     * pass over the whole log, whatever the number of scopes. */
    if ((rc_ = mdb_cursor_open(txn, s->dbi[DB_ARRIVAL], &cur))) {
        err = node__mdb_err(rc_);
        goto out;
    }
    for (rc_ = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc_ == 0;
         rc_ = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        MDB_val lk = {12, v.mv_data}, env;
        struct crdt_env e;
        int readable;

        if (v.mv_size != 12) {
            err = TX_ECORRUPT;
            break;
        }
        if ((rc_ = mdb_get(txn, s->dbi[DB_LOG], &lk, &env))) {
            err = node__mdb_err(rc_);
            break;
        }
        if ((err = node__log_split(&env, NULL)))
            break;
        if ((err = crdt_env_decode(&e, env.mv_data, env.mv_size))) {
            err = TX_ECORRUPT;
            break;
        }
        if (scope_in(scopes, n, e.scope, e.scope_len))
            err = apply_readable(s, txn, &ts, rc, &e, NULL, &readable);
        crdt_env_release(&e);
        if (err)
            break;
        if (rc->n > RC_FLUSH_AT && (err = node__reccache_flush(s, txn, rc)))
            break;
    }
    if (!err && rc_ && rc_ != MDB_NOTFOUND)
        err = node__mdb_err(rc_);
    if (!err)
        err = node__reccache_flush(s, txn, rc);
out:
    if (cur)
        mdb_cursor_close(cur);
    node__reccache_free(rc);
    return err;
}

int node__rebuild_scope_txn(struct node_store *s, MDB_txn *txn, const char *scope)
{
    char one[1][CRDT_MAX_SCOPE + 1];

    if (strlen(scope) > CRDT_MAX_SCOPE)
        return TX_EINVAL;
    snprintf(one[0], sizeof(one[0]), "%s", scope);
    return node__rebuild_scopes_txn(s, txn, (const char(*)[CRDT_MAX_SCOPE + 1]) one, 1);
}

static int rebuild_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    return node__rebuild_scope_txn(s, txn, vctx);
}

struct scopes_ctx {
    const char (*scopes)[CRDT_MAX_SCOPE + 1];
    size_t n;
};

static int rebuild_many_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct scopes_ctx *c = vctx;

    return node__rebuild_scopes_txn(s, txn, c->scopes, c->n);
}

int node__rebuild_scopes(struct node_store *s, const char (*scopes)[CRDT_MAX_SCOPE + 1], size_t n)
{
    struct scopes_ctx c = {scopes, n};

    return n ? node__write_txn(s, rebuild_many_fn, &c) : TX_OK;
}

int node__rebuild_scope(struct node_store *s, const char *scope)
{
    return node__write_txn(s, rebuild_fn, (void *)scope);
}

/* ---- revocation cuts ---- */

uint64_t node__origin_head(struct node_store *s, const uint8_t *origin)
{
    MDB_txn *txn;
    struct origin_row o;
    uint64_t head = 0;

    if (node__read_txn(s, &txn))
        return 0;
    if (node__origin_get(s, txn, origin, 0, &o) == TX_OK)
        head = o.head;
    mdb_txn_abort(txn);
    return head;
}

struct cut_ctx {
    const uint8_t *origin;
    uint64_t cut;
};

/* Drop every held envelope of origin idx with seq > cut. */
static int drop_held(struct node_store *s, MDB_txn *txn, uint32_t idx, uint64_t cut)
{
    MDB_cursor *cur;
    uint8_t k[12];
    MDB_val key = {12, k}, val;
    int rc = mdb_cursor_open(txn, s->dbi[DB_HELD], &cur);

    if (rc)
        return node__mdb_err(rc);
    node__put_u32(k, idx);
    node__put_u64(k + 4, cut + 1);
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && key.mv_size == 12 && node__get_u32(key.mv_data) == idx) {
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? TX_OK : node__mdb_err(rc);
}

/* The scopes a revocation cut touches. */
struct scopelist {
    char (*s)[CRDT_MAX_SCOPE + 1];
    size_t n, cap;
};

static int scopelist_add(struct scopelist *l, const char *s, size_t sl)
{
    if (scope_in((const char(*)[CRDT_MAX_SCOPE + 1]) l->s, l->n, s, sl))
        return TX_OK;
    if (sl > CRDT_MAX_SCOPE)
        return TX_ECORRUPT;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char(*ns)[CRDT_MAX_SCOPE + 1] = tx_reallocarray(l->s, cap, sizeof(*ns));

        if (!ns)
            return TX_ENOMEM;
        l->s = ns;
        l->cap = cap;
    }
    memcpy(l->s[l->n], s, sl);
    l->s[l->n++][sl] = '\0';
    return TX_OK;
}

static int del_key(MDB_txn *txn, MDB_dbi dbi, void *key, size_t len)
{
    MDB_val k = {len, key};
    int rc = mdb_del(txn, dbi, &k, NULL);

    return rc && rc != MDB_NOTFOUND ? node__mdb_err(rc) : TX_OK;
}

/* Delete the stored envelope (idx, seq) with its arrival entry (and public
 * index entry), remembering its scope; a held one too. */
static int drop_envelope(struct node_store *s, MDB_txn *txn, uint32_t idx, uint64_t seq,
                         struct scopelist *scopes)
{
    uint8_t lk[12], sk[sizeof(NODE_PUBLIC_SCOPE) + 8];
    MDB_val k = {12, lk}, v;
    uint64_t arrival;
    struct crdt_env e;
    int rc, err;

    node__put_u32(lk, idx);
    node__put_u64(lk + 4, seq);
    if ((err = del_key(txn, s->dbi[DB_HELD], lk, 12)))
        return err;
    rc = mdb_get(txn, s->dbi[DB_LOG], &k, &v);
    if (rc == MDB_NOTFOUND)
        return TX_OK;
    if (rc)
        return node__mdb_err(rc);
    if ((err = node__log_split(&v, &arrival)))
        return err;
    if (crdt_env_decode(&e, v.mv_data, v.mv_size))
        return TX_ECORRUPT;
    err = scopelist_add(scopes, e.scope, e.scope_len);
    if (!err && node__scope_is_public(e.scope, e.scope_len)) {
        memcpy(sk, NODE_PUBLIC_SCOPE, sizeof(NODE_PUBLIC_SCOPE)); /* with its \0 */
        node__put_u64(sk + sizeof(NODE_PUBLIC_SCOPE), arrival);
        err = del_key(txn, s->dbi[DB_SCOPELOG], sk, sizeof(sk));
    }
    crdt_env_release(&e);
    if (!err) {
        uint8_t ak[8];

        node__put_u64(ak, arrival);
        err = del_key(txn, s->dbi[DB_ARRIVAL], ak, 8);
    }
    return err ? err : del_key(txn, s->dbi[DB_LOG], lk, 12);
}

static int truncate_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct cut_ctx *c = vctx;
    struct origin_row o;
    struct scopelist scopes = {NULL, 0, 0};
    uint8_t lk[12];
    MDB_val k = {12, lk}, v;
    int err, rc;

    if ((err = node__origin_get(s, txn, c->origin, 0, &o)))
        return err;
    /* The envelopes after the cut, the indexes pointing at them, and the
     * scopes they touched. */
    for (uint64_t seq = c->cut + 1; seq <= o.head && !err; seq++)
        err = drop_envelope(s, txn, o.idx, seq, &scopes);
    if (err)
        goto out;
    memset(o.head_hash, 0, sizeof(o.head_hash));
    o.head_hlc = 0;
    if (c->cut) {
        node__put_u32(lk, o.idx);
        node__put_u64(lk + 4, c->cut);
        if ((rc = mdb_get(txn, s->dbi[DB_LOG], &k, &v))) {
            err = node__mdb_err(rc);
            goto out;
        }
        if ((err = node__log_split(&v, NULL)))
            goto out;
        crdt_env_hash(v.mv_data, v.mv_size, o.head_hash);
        {
            /* the head's time: the last kept envelope's HLC */
            struct crdt_env e;

            if (crdt_env_decode(&e, v.mv_data, v.mv_size) == TX_OK) {
                o.head_hlc = e.hlc;
                crdt_env_release(&e);
            }
        }
    }
    o.head = c->cut;
    o.cut = c->cut;
    o.flags |= NODE_ORIGIN_REVOKED;
    if ((err = node__origin_put(s, txn, c->origin, &o)) || (err = drop_held(s, txn, o.idx, c->cut)))
        goto out;
    err = node__rebuild_scopes_txn(s, txn, (const char(*)[CRDT_MAX_SCOPE + 1]) scopes.s, scopes.n);
out:
    tx_free(scopes.s);
    return err;
}

int node__truncate_origin(struct node_store *s, const uint8_t *origin, uint64_t cut)
{
    struct cut_ctx c = {origin, cut};
    char hex[NODE_SHORT_ID + 1];

    node_hex(origin, NODE_SHORT_ID / 2, hex);
    node__log(s, NODE_LOG_WARN, "trust: %s revoked after seq %llu: dropping later envelopes", hex,
              (unsigned long long)cut);
    return node__write_txn(s, truncate_fn, &c);
}

static int mark_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct cut_ctx *c = vctx;
    struct origin_row o;
    int err = node__origin_get(s, txn, c->origin, 1, &o);

    if (err)
        return err;
    if ((o.flags & NODE_ORIGIN_REVOKED) && o.cut == c->cut)
        return drop_held(s, txn, o.idx, c->cut);
    o.flags |= NODE_ORIGIN_REVOKED;
    o.cut = c->cut;
    if ((err = node__origin_put(s, txn, c->origin, &o)))
        return err;
    return drop_held(s, txn, o.idx, c->cut);
}

int node__mark_revoked(struct node_store *s, const uint8_t *origin, uint64_t cut)
{
    struct cut_ctx c = {origin, cut};
    MDB_txn *txn;
    struct origin_row o;
    int err, same = 0;

    /* Most calls find it marked already: look before taking the writer lock. */
    if ((err = node__read_txn(s, &txn)))
        return err;
    if (node__origin_get(s, txn, origin, 0, &o) == TX_OK && (o.flags & NODE_ORIGIN_REVOKED) &&
        o.cut == cut) {
        /* nothing to do unless something beyond the cut is still held */
        MDB_cursor *cur;
        uint8_t k[12];
        MDB_val key = {12, k}, val;

        same = 1;
        node__put_u32(k, o.idx);
        node__put_u64(k + 4, cut + 1);
        if (mdb_cursor_open(txn, s->dbi[DB_HELD], &cur) == 0) {
            if (mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) == 0 && key.mv_size == 12 &&
                node__get_u32(key.mv_data) == o.idx)
                same = 0;
            mdb_cursor_close(cur);
        }
    }
    mdb_txn_abort(txn);
    return same ? TX_OK : node__write_txn(s, mark_fn, &c);
}
