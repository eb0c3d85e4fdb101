/*
 * ingest.c - verified ingest of a batch of envelopes in one write transaction.
 *
 * Per origin, the batch's envelopes (and any held earlier) are sorted by seq and
 * linked through their prev hashes to the stored head. A contiguous run needs a
 * single Ed25519 verification: the last envelope's signature covers its own
 * bytes, which include the hash of the one before, and so on back to the stored
 * head (docs/envelope.md has the argument). If that signature fails, the run is
 * checked backwards to the last envelope that verifies on its own; everything
 * after it is held, unverified, until a later verified envelope covers it.
 *
 * Verified envelopes are appended when their predecessor is stored and their
 * causal dependencies are; the rest wait in the hold queue and are released by
 * later batches. An envelope with a stored (origin, seq) but another hash whose
 * signature verifies is an equivocation: it is kept as evidence, the origin is
 * frozen, and nothing more of it is applied.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

enum { C_NEW = 0, C_DONE = 1 };

struct cand {
    const uint8_t *bytes;
    size_t len;
    uint8_t *owned; /* copy when loaded from the hold queue */
    struct crdt_env env;
    uint8_t hash[CRDT_HASH_BYTES];
    uint8_t state;
    uint8_t verified; /* covered by a verified signature */
    uint8_t sig;      /* 0 unknown, 1 verifies, 2 does not (pure: kept across retries) */
    uint8_t from_held;
    uint8_t reason; /* hold reason when held */
    uint8_t bad;    /* refused at decode: stays refused when a run is redone */
    uint8_t pre;    /* opened holds the body, opened ahead (pipelined ingest) */
    struct node__opened opened;
};

struct orig {
    uint8_t origin[CRDT_KEY_BYTES];
    struct origin_row row;
    int exists, dirty;
    struct cand **c; /* this run's candidates, sorted by seq then hash */
    size_t nc, cap;
    size_t next; /* first candidate not yet appended */
};

struct ingest_ctx {
    struct cand *in; /* decoded batch, fixed across retries */
    size_t nin;
    struct node_ingest_report pre; /* decode-phase counts */
    struct node_ingest_report *rep;
    /* per-run state */
    struct orig *o;
    size_t no, ocap;
    struct cand **heldc; /* candidates loaded from the hold queue (owned) */
    size_t nheld, heldcap;
    struct node__txstate ts;
    struct node__reccache *rc;
    uint64_t appended;
    int release_only;
    struct node_trust overlay; /* certificates and revocations carried by the batch */
};

const char *node_reason_name(int reason)
{
    switch (reason) {
#define NODE__RNAME(name, num, lname, msg)                                                         \
    case num: return lname;
        NODE_REASON_MAP(NODE__RNAME)
#undef NODE__RNAME
    default: return NULL;
    }
}

const char *node_reason_msg(int reason)
{
    switch (reason) {
#define NODE__RMSG(name, num, lname, msg)                                                          \
    case num: return msg;
        NODE_REASON_MAP(NODE__RMSG)
#undef NODE__RMSG
    default: return NULL;
    }
}

static int is_held_reason(int r)
{
    return r == NODE_R_HELD_GAP || r == NODE_R_HELD_DEPS || r == NODE_R_HELD_UNVERIFIED ||
           r == NODE_R_HELD_SKEW;
}

static void reject(struct ingest_ctx *c, struct cand *x, int reason)
{
    x->state = C_DONE;
    if (!x->from_held) {
        c->rep->by_reason[reason]++;
        c->rep->rejected++;
    }
}

static struct orig *orig_find(struct ingest_ctx *c, const uint8_t *origin)
{
    size_t lo = 0, hi = c->no;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int k = memcmp(c->o[mid].origin, origin, CRDT_KEY_BYTES);

        if (!k)
            return &c->o[mid];
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Find or load an origin into the per-run cache (kept sorted). */
static int orig_get(struct node_store *s, MDB_txn *txn, struct ingest_ctx *c, const uint8_t *origin,
                    struct orig **out)
{
    struct orig *x = orig_find(c, origin);
    size_t pos = 0;
    int err;

    if (x) {
        *out = x;
        return TX_OK;
    }
    while (pos < c->no && memcmp(c->o[pos].origin, origin, CRDT_KEY_BYTES) < 0)
        pos++;
    if (c->no == c->ocap) {
        size_t ncap = c->ocap ? c->ocap * 2 : 16;
        struct orig *no = tx_reallocarray(c->o, ncap, sizeof(*no));

        if (!no)
            return TX_ENOMEM;
        c->o = no;
        c->ocap = ncap;
    }
    memmove(&c->o[pos + 1], &c->o[pos], (c->no - pos) * sizeof(*c->o));
    x = &c->o[pos];
    memset(x, 0, sizeof(*x));
    memcpy(x->origin, origin, CRDT_KEY_BYTES);
    c->no++;
    err = node__origin_get(s, txn, origin, 0, &x->row);
    if (err == TX_OK)
        x->exists = 1;
    else if (err != TX_ENOTFOUND)
        return err;
    *out = x;
    return TX_OK;
}

static int orig_add(struct orig *o, struct cand *x)
{
    if (o->nc == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 8;
        struct cand **nc = tx_reallocarray(o->c, ncap, sizeof(*nc));

        if (!nc)
            return TX_ENOMEM;
        o->c = nc;
        o->cap = ncap;
    }
    o->c[o->nc++] = x;
    return TX_OK;
}

/* Make sure an origin has a stored row (and index) before anything of it is
 * stored. */
static int orig_ensure(struct node_store *s, MDB_txn *txn, struct orig *o)
{
    int err;

    if (o->exists)
        return TX_OK;
    if ((err = node__origin_get(s, txn, o->origin, 1, &o->row)))
        return err;
    o->exists = 1;
    return TX_OK;
}

static void heldkey(uint8_t *k, uint32_t idx, uint64_t seq)
{
    node__put_u32(k, idx);
    node__put_u64(k + 4, seq);
}

static int held_put(struct node_store *s, MDB_txn *txn, struct orig *o, struct cand *x)
{
    uint8_t k[12];
    MDB_val key = {12, k}, val;
    int rc, err;

    if ((err = orig_ensure(s, txn, o)))
        return err;
    heldkey(k, o->row.idx, x->env.seq);
    val.mv_size = x->len + 2;
    if ((rc = mdb_put(txn, s->dbi[DB_HELD], &key, &val, MDB_RESERVE)))
        return node__mdb_err(rc);
    ((uint8_t *)val.mv_data)[0] = x->reason;
    ((uint8_t *)val.mv_data)[1] = x->verified;
    memcpy((uint8_t *)val.mv_data + 2, x->bytes, x->len);
    return TX_OK;
}

static int evidence_put(struct node_store *s, MDB_txn *txn, struct orig *o, struct cand *x)
{
    uint8_t k[12 + CRDT_HASH_BYTES];
    MDB_val key = {sizeof(k), k}, val = {x->len, (void *)x->bytes};
    int rc, err;

    if ((err = orig_ensure(s, txn, o)))
        return err;
    heldkey(k, o->row.idx, x->env.seq);
    memcpy(k + 12, x->hash, CRDT_HASH_BYTES);
    rc = mdb_put(txn, s->dbi[DB_EVIDENCE], &key, &val, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? TX_OK : node__mdb_err(rc);
}

/* x->sig caches the verdict (the pre-pass may have filled it). */
static int sig_ok(struct cand *x)
{
    if (!x->sig)
        x->sig = node__sign_verify(x->bytes, x->len, x->env.origin) == TX_OK ? 1 : 2;
    return x->sig == 1;
}

static void freeze(struct node_store *s, struct ingest_ctx *c, struct orig *o)
{
    char hex[NODE_ID_HEX + 1];

    if (o->row.flags & NODE_ORIGIN_FROZEN)
        return;
    o->row.flags |= NODE_ORIGIN_FROZEN;
    o->dirty = 1;
    c->rep->equivocations++;
    node_hex(o->origin, CRDT_KEY_BYTES, hex);
    node__log(s, NODE_LOG_WARN, "ingest: equivocation by %s: origin frozen", hex);
}

/* Load the held envelopes of an origin into the run (deleting them from the
 * queue: whatever is still held at the end is written back). */
static int load_held(struct node_store *s, MDB_txn *txn, struct ingest_ctx *c, struct orig *o,
                     size_t limit)
{
    uint8_t k[12];
    MDB_val key = {12, k}, val;
    MDB_cursor *cur;
    int rc, err = TX_OK;
    size_t n = 0;

    if (!o->exists)
        return TX_OK;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_HELD], &cur)))
        return node__mdb_err(rc);
    /* From the start of the origin: stale entries at or below the head are
     * found as duplicates and dropped. */
    heldkey(k, o->row.idx, 0);
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && n < limit && key.mv_size == 12 && node__get_u32(key.mv_data) == o->row.idx) {
        struct cand *x;

        if (val.mv_size < 3) {
            err = TX_ECORRUPT;
            break;
        }
        if (c->nheld == c->heldcap) {
            size_t ncap = c->heldcap ? c->heldcap * 2 : 16;
            struct cand **nh = tx_reallocarray(c->heldc, ncap, sizeof(*nh));

            if (!nh) {
                err = TX_ENOMEM;
                break;
            }
            c->heldc = nh;
            c->heldcap = ncap;
        }
        if (!(x = tx_calloc(1, sizeof(*x)))) {
            err = TX_ENOMEM;
            break;
        }
        c->heldc[c->nheld++] = x;
        x->from_held = 1;
        x->reason = ((const uint8_t *)val.mv_data)[0];
        x->verified = ((const uint8_t *)val.mv_data)[1];
        x->len = val.mv_size - 2;
        if (!(x->owned = tx_malloc(x->len))) {
            err = TX_ENOMEM;
            break;
        }
        memcpy(x->owned, (const uint8_t *)val.mv_data + 2, x->len);
        x->bytes = x->owned;
        if (crdt_env_decode(&x->env, x->bytes, x->len) ||
            crdt_env_hash(x->bytes, x->len, x->hash) ||
            memcmp(x->env.origin, o->origin, CRDT_KEY_BYTES) != 0) {
            x->state = C_DONE; /* stored garbage: drop it */
        } else if ((err = orig_add(o, x))) {
            break;
        }
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        n++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    return err;
}

static int ocand_cmp(const void *a, const void *b)
{
    const struct cand *x = *(const struct cand *const *)a, *y = *(const struct cand *const *)b;

    if (x->env.seq != y->env.seq)
        return x->env.seq < y->env.seq ? -1 : 1;
    return memcmp(x->hash, y->hash, CRDT_HASH_BYTES);
}

/* Phase 1 for one origin: duplicates, equivocations, chain links, signatures. */
static int check_origin(struct node_store *s, MDB_txn *txn, struct ingest_ctx *c, struct orig *o)
{
    size_t i, w = 0;
    int err;

    qsort(o->c, o->nc, sizeof(*o->c), ocand_cmp);
    /* Identical copies (batch and hold queue): keep one. */
    for (i = 0; i < o->nc; i++) {
        struct cand *x = o->c[i];

        if (x->state == C_DONE)
            continue;
        if (w && o->c[w - 1]->env.seq == x->env.seq &&
            memcmp(o->c[w - 1]->hash, x->hash, CRDT_HASH_BYTES) == 0) {
            struct cand *keep = o->c[w - 1];

            /* Prefer the held copy: it may already be known verified. */
            if (x->from_held && !keep->from_held) {
                o->c[w - 1] = x;
                x = keep;
            }
            if (!x->from_held)
                c->rep->duplicate++;
            x->state = C_DONE;
            continue;
        }
        o->c[w++] = x;
    }
    o->nc = w;
    {
        /* In a district, nothing of an origin without a certificate is kept:
         * holding it would let anyone fill the hold queue. */
        int why;

        if (!node__trust_known(s, &c->overlay, o->origin, &why)) {
            for (i = 0; i < o->nc; i++)
                reject(c, o->c[i], why);
            o->nc = 0;
            return TX_OK;
        }
    }
    /* Envelopes at or below the head: duplicates or equivocations. */
    for (i = 0; i < o->nc && o->c[i]->env.seq <= o->row.head; i++) {
        struct cand *x = o->c[i];
        uint8_t k[12];
        MDB_val key = {12, k}, val;
        int rc;

        heldkey(k, o->row.idx, x->env.seq);
        rc = mdb_get(txn, s->dbi[DB_LOG], &key, &val);
        if (rc)
            return rc == MDB_NOTFOUND ? TX_ECORRUPT : node__mdb_err(rc);
        if ((err = node__log_split(&val, NULL)))
            return err;
        /* the same bytes: a duplicate (no need to hash the stored copy) */
        if (val.mv_size == x->len && memcmp(val.mv_data, x->bytes, x->len) == 0) {
            x->state = C_DONE;
            if (!x->from_held)
                c->rep->duplicate++;
        } else if (o->row.flags & NODE_ORIGIN_FROZEN) {
            reject(c, x, NODE_R_FROZEN);
        } else if (sig_ok(x)) {
            if ((err = evidence_put(s, txn, o, x)))
                return err;
            reject(c, x, NODE_R_EQUIVOCATION);
            freeze(s, c, o);
        } else {
            reject(c, x, NODE_R_BADSIG);
        }
    }
    if (o->row.flags & NODE_ORIGIN_FROZEN) {
        for (; i < o->nc; i++)
            reject(c, o->c[i], NODE_R_FROZEN);
        o->nc = 0;
        return TX_OK;
    }
    /* Two different envelopes for one future seq: only verified ones count. */
    {
        size_t j, k2;

        for (j = i; j < o->nc; j = k2) {
            size_t good = 0;

            for (k2 = j + 1; k2 < o->nc && o->c[k2]->env.seq == o->c[j]->env.seq; k2++)
                ;
            if (k2 - j == 1)
                continue;
            for (size_t m = j; m < k2; m++) {
                if (sig_ok(o->c[m])) {
                    o->c[m]->verified = 1;
                    good++;
                } else {
                    reject(c, o->c[m], NODE_R_BADSIG);
                }
            }
            if (good > 1) {
                for (size_t m = j; m < k2; m++)
                    if (o->c[m]->state != C_DONE) {
                        if ((err = evidence_put(s, txn, o, o->c[m])))
                            return err;
                        reject(c, o->c[m], NODE_R_EQUIVOCATION);
                    }
                freeze(s, c, o);
            }
        }
        if (o->row.flags & NODE_ORIGIN_FROZEN) {
            for (; i < o->nc; i++)
                if (o->c[i]->state != C_DONE)
                    reject(c, o->c[i], NODE_R_FROZEN);
            o->nc = 0;
            return TX_OK;
        }
    }
    /* Compact away what is done, then walk the chain from the head. */
    w = 0;
    for (size_t m = 0; m < o->nc; m++)
        if (o->c[m]->state != C_DONE)
            o->c[w++] = o->c[m];
    o->nc = w;
    {
        uint64_t seq = o->row.head + 1;
        const uint8_t *prev = o->row.head_hash;
        uint8_t zero[CRDT_HASH_BYTES] = {0};
        size_t run = 0, last_verified = 0, m;
        int have_verified = 0;

        if (o->row.head == 0)
            prev = zero;
        for (m = 0; m < o->nc; m++) {
            struct cand *x = o->c[m];

            if (x->env.seq != seq)
                break;
            if (memcmp(x->env.prev, prev, CRDT_HASH_BYTES) != 0) {
                /* Does not link to what precedes it. If what precedes is stored
                 * (or will verify), this envelope is broken. */
                if (run == 0) {
                    reject(c, x, NODE_R_BADCHAIN);
                    o->c[m] = NULL;
                }
                break;
            }
            if (x->verified) {
                last_verified = m;
                have_verified = 1;
            }
            prev = x->hash;
            seq++;
            run++;
        }
        /* One signature for the run: the last; on failure, walk backwards, but
         * never below a prefix already known to be covered. */
        if (run) {
            size_t good = have_verified ? last_verified + 1 : 0;

            for (size_t r = run; r > good; r--)
                if (sig_ok(o->c[r - 1])) {
                    good = r;
                    break;
                }
            for (size_t r = 0; r < run; r++) {
                o->c[r]->verified = r < good;
                if (r >= good)
                    o->c[r]->reason = NODE_R_HELD_UNVERIFIED;
            }
            /* A broken link right after a verified run is a broken chain. */
            if (m < o->nc && o->c[m] && o->c[m]->env.seq == seq && good == run) {
                reject(c, o->c[m], NODE_R_BADCHAIN);
                o->c[m] = NULL;
            }
        }
        /* Whatever comes after the run waits for the gap to fill - if its own
         * signature holds: the hold queue keeps nothing anyone could forge. */
        for (size_t r = run; r < o->nc; r++) {
            struct cand *x = o->c[r];

            if (!x || x->state == C_DONE || x->verified)
                continue;
            if (!sig_ok(x)) {
                reject(c, x, NODE_R_BADSIG);
                continue;
            }
            x->verified = 1;
            x->reason = NODE_R_HELD_GAP;
        }
        /* A run's unverified tail (its last signature failed) may wait for a
         * later envelope to cover it, but only so much of it. */
        {
            size_t unv = 0;

            for (size_t r = 0; r < run; r++)
                if (o->c[r] && o->c[r]->state != C_DONE && !o->c[r]->verified &&
                    ++unv > NODE_MAX_UNVERIFIED)
                    reject(c, o->c[r], NODE_R_HELD_FULL);
        }
        w = 0;
        for (size_t r = 0; r < o->nc; r++)
            if (o->c[r] && o->c[r]->state != C_DONE)
                o->c[w++] = o->c[r];
        o->nc = w;
    }
    return TX_OK;
}

/* Are e's dependencies stored? */
static int deps_ok(struct node_store *s, MDB_txn *txn, struct ingest_ctx *c,
                   const struct crdt_env *e, int *ok)
{
    *ok = 1;
    for (uint32_t i = 0; i < e->ndeps; i++) {
        struct orig *d = orig_find(c, e->deps[i].origin);
        struct origin_row row;
        const struct origin_row *r = &row;

        if (d) {
            r = &d->row;
        } else {
            int err = node__origin_get(s, txn, e->deps[i].origin, 0, &row);

            if (err == TX_ENOTFOUND) {
                *ok = 0;
                return TX_OK;
            }
            if (err)
                return err;
        }
        if (r->head >= e->deps[i].seq)
            continue;
        /* A dependency beyond a revocation cut never arrives: an honest node
         * that overwrote a revoked node's later values must not be cut off for
         * it. What that envelope superseded simply is not there to remove. */
        if ((r->flags & NODE_ORIGIN_REVOKED) && e->deps[i].seq > r->cut && r->head >= r->cut)
            continue;
        *ok = 0;
        return TX_OK;
    }
    return TX_OK;
}

static int skewed(struct node_store *s, struct ingest_ctx *c, const struct crdt_env *e)
{
    return CRDT_HLC_MS(e->hlc) > c->ts.now + s->hlc.max_skew_ms;
}

/* Phase 2: append verified envelopes whose predecessor and deps are stored,
 * repeating over all origins until nothing more can go. */
static int apply_ready(struct node_store *s, MDB_txn *txn, struct ingest_ctx *c)
{
    int progress = 1, err;

    while (progress) {
        progress = 0;
        for (size_t i = 0; i < c->no; i++) {
            struct orig *o = &c->o[i];

            while (o->next < o->nc) {
                struct cand *x = o->c[o->next];
                int ok, readable;

                if (!x->verified || x->env.seq != o->row.head + 1)
                    break;
                if (memcmp(x->env.prev, o->row.head_hash, CRDT_HASH_BYTES) != 0 && o->row.head != 0)
                    break;
                if ((err = deps_ok(s, txn, c, &x->env, &ok)))
                    return err;
                if (!ok) {
                    x->reason = NODE_R_HELD_DEPS;
                    break;
                }
                if (skewed(s, c, &x->env)) {
                    x->reason = NODE_R_HELD_SKEW;
                    break;
                }
                {
                    int why = node__trust_check(s, &c->overlay, &x->env);

                    if (why) {
                        /* The chain stops here for every honest node: refuse
                         * the rest of this origin's run too. */
                        for (size_t j = o->next; j < o->nc; j++)
                            if (o->c[j]->state != C_DONE)
                                reject(c, o->c[j], why);
                        o->next = o->nc;
                        break;
                    }
                }
                if ((err = orig_ensure(s, txn, o)) ||
                    (err = node__append(s, txn, &c->ts, c->rc, &o->row, &x->env, x->bytes, x->len,
                                        x->hash, 1, x->pre ? &x->opened : NULL, &readable)))
                    return err;
                o->dirty = 1;
                x->state = C_DONE;
                if (x->from_held)
                    c->rep->released++;
                else
                    c->rep->accepted++;
                if (!readable && !x->from_held)
                    c->rep->unreadable++;
                c->appended++;
                o->next++;
                progress = 1;
            }
        }
    }
    return TX_OK;
}

/* Origins not in the batch may have held envelopes that became ready. Load the
 * first held envelope of every origin whose next seq is held, into the run. */
static int load_ready_held(struct node_store *s, MDB_txn *txn, struct ingest_ctx *c, int *loaded)
{
    MDB_cursor *cur;
    uint8_t k[12];
    MDB_val key, val;
    int rc, err = TX_OK;

    *loaded = 0;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_HELD], &cur)))
        return node__mdb_err(rc);
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (rc == 0) {
        uint32_t idx;
        uint8_t origin[CRDT_KEY_BYTES];
        struct orig *o;

        if (key.mv_size != 12) {
            err = TX_ECORRUPT;
            break;
        }
        idx = node__get_u32(key.mv_data);
        if ((err = node__origin_by_idx(s, txn, idx, origin)))
            break;
        o = orig_find(c, origin);
        if (!o) {
            uint64_t seq = node__get_u64((const uint8_t *)key.mv_data + 4);

            if ((err = orig_get(s, txn, c, origin, &o)))
                break;
            if (seq <= o->row.head + 1 && !(o->row.flags & NODE_ORIGIN_FROZEN)) {
                mdb_cursor_close(cur);
                cur = NULL;
                if ((err = load_held(s, txn, c, o, 4096)) || (err = check_origin(s, txn, c, o)))
                    return err;
                *loaded = 1;
                /* The cursor was closed; start again after this origin. */
                if ((rc = mdb_cursor_open(txn, s->dbi[DB_HELD], &cur)))
                    return node__mdb_err(rc);
            }
        }
        heldkey(k, idx + 1, 0);
        key.mv_size = 12;
        key.mv_data = k;
        if (idx == UINT32_MAX)
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    return err;
}

/* Certificates and revocations travelling in this batch's public envelopes count
 * for the batch: an office's first envelope carries its own certificate. */
static int scan_overlay(struct node_store *s, struct ingest_ctx *c)
{
    node__trust_clear(&c->overlay);
    if (!s->in_district)
        return TX_OK;
    for (size_t i = 0; i < c->no; i++)
        for (size_t j = 0; j < c->o[i].nc; j++) {
            const struct crdt_env *e = &c->o[i].c[j]->env;
            struct crdt_body b;
            int err;

            if (e->epoch != 0 || strcmp(e->scope, NODE_PUBLIC_SCOPE) != 0)
                continue;
            if (crdt_body_decode(&b, e->body, e->body_len) == TX_OK)
                err = node__trust_scan_body(&c->overlay, s->district, &b);
            else
                err = TX_OK;
            crdt_body_release(&b);
            if (err)
                return err;
        }
    return TX_OK;
}

static void run_reset(struct ingest_ctx *c)
{
    node__trust_clear(&c->overlay);
    for (size_t i = 0; i < c->no; i++)
        tx_free(c->o[i].c);
    tx_free(c->o);
    c->o = NULL;
    c->no = c->ocap = 0;
    for (size_t i = 0; i < c->nheld; i++) {
        crdt_env_release(&c->heldc[i]->env);
        tx_free(c->heldc[i]->owned);
        tx_free(c->heldc[i]);
    }
    tx_free(c->heldc);
    c->heldc = NULL;
    c->nheld = c->heldcap = 0;
    node__reccache_free(c->rc);
    c->rc = NULL;
}

static int ingest_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct ingest_ctx *c = vctx;
    MDB_stat st;
    int err, loaded;
    uint64_t held_now = 0;

    run_reset(c);
    *c->rep = c->pre;
    c->appended = 0;
    if (!(c->rc = node__reccache_new()))
        return TX_ENOMEM;
    if ((err = node__txstate_load(s, txn, &c->ts)))
        return err;
    for (size_t i = 0; i < c->nin; i++) {
        struct cand *x = &c->in[i];
        struct orig *o;

        /* A run redone after the map grew starts from the decoded batch again. */
        x->state = x->bad ? C_DONE : C_NEW;
        if (x->state == C_DONE)
            continue;
        x->verified = 0;
        x->reason = 0;
        if ((err = orig_get(s, txn, c, x->env.origin, &o)))
            return err;
    }
    /* Candidates per origin: the batch's, then whatever that origin has held. */
    for (size_t i = 0; i < c->nin; i++) {
        struct cand *x = &c->in[i];

        if (x->state != C_DONE && (err = orig_add(orig_find(c, x->env.origin), x)))
            return err;
    }
    for (size_t i = 0; i < c->no; i++)
        if ((err = load_held(s, txn, c, &c->o[i], 4096)))
            return err;
    if ((err = scan_overlay(s, c)))
        return err;
    for (size_t i = 0; i < c->no; i++)
        if ((err = check_origin(s, txn, c, &c->o[i])))
            return err;
    if ((err = apply_ready(s, txn, c)))
        return err;
    /* Released dependencies may free envelopes of other origins. */
    if (mdb_stat(txn, s->dbi[DB_HELD], &st) == 0 && st.ms_entries &&
        (c->appended || c->release_only)) {
        do {
            uint64_t before = c->appended;

            if ((err = load_ready_held(s, txn, c, &loaded)))
                return err;
            if ((err = apply_ready(s, txn, c)))
                return err;
            if (c->appended == before)
                break;
        } while (loaded);
    }
    /* Write back what still waits. */
    if (mdb_stat(txn, s->dbi[DB_HELD], &st) == 0)
        held_now = st.ms_entries;
    for (size_t i = 0; i < c->no; i++) {
        struct orig *o = &c->o[i];

        for (size_t j = o->next; j < o->nc; j++) {
            struct cand *x = o->c[j];

            if (x->state == C_DONE)
                continue;
            if (!is_held_reason(x->reason))
                x->reason = x->verified ? NODE_R_HELD_DEPS : NODE_R_HELD_GAP;
            if (!x->from_held && held_now >= s->max_held) {
                reject(c, x, NODE_R_HELD_FULL);
                continue;
            }
            if ((err = held_put(s, txn, o, x)))
                return err;
            held_now++;
            if (!x->from_held) {
                c->rep->held++;
                c->rep->by_reason[x->reason]++;
            }
        }
        if (o->dirty && o->exists && (err = node__origin_put(s, txn, o->origin, &o->row)))
            return err;
    }
    if ((err = node__reccache_flush(s, txn, c->rc)))
        return err;
    c->rep->badbody = c->ts.badbody;
    for (int r = 1; r < NODE_R_COUNT; r++)
        if (!is_held_reason(r) && (err = node__stat_add(s, txn, r, c->rep->by_reason[r])))
            return err;
    return node__txstate_save(s, txn, &c->ts);
}

/* --- Signature pre-pass ----------------------------------------------------
 *
 * The transaction verifies the last envelope of every run it finds. When a
 * batch holds many runs (many origins, as on a hub receiving from every
 * office), those verifications dominate; they are pure, so they are done before
 * the transaction, spread over the machine's cores. The pre-pass guesses the
 * run ends from the batch alone (an envelope whose successor of the same origin
 * is not in the batch, linked by prev hash); a wrong guess costs only a wasted
 * or a later verification, never a wrong verdict, because `sig` is just a
 * cache of node__sign_verify's answer. */

enum { PREVERIFY_MIN = 32, PREVERIFY_MAX_THREADS = 8 };

struct prev_job {
    struct cand **v;
    size_t n;
    size_t stride, first;
};

static void *preverify_worker(void *arg)
{
    struct prev_job *j = arg;

    for (size_t i = j->first; i < j->n; i += j->stride) {
        struct cand *x = j->v[i];

        x->sig = node__sign_verify(x->bytes, x->len, x->env.origin) == TX_OK ? 1 : 2;
    }
    return NULL;
}

static int cmp_cand_origin_seq(const void *a, const void *b)
{
    const struct cand *x = *(const struct cand *const *)a, *y = *(const struct cand *const *)b;
    int d = memcmp(x->env.origin, y->env.origin, CRDT_KEY_BYTES);

    if (d)
        return d;
    if (x->env.seq != y->env.seq)
        return x->env.seq < y->env.seq ? -1 : 1;
    return memcmp(x->hash, y->hash, CRDT_HASH_BYTES);
}

/* One per online core, at most 8; TONGXIN_VERIFY_THREADS=N overrides (1 turns
 * the pre-pass off: the benchmarks measure both). */
static unsigned preverify_threads(void)
{
    const char *env = getenv("TONGXIN_VERIFY_THREADS");
    long n = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    return n > PREVERIFY_MAX_THREADS ? PREVERIFY_MAX_THREADS : (unsigned)n;
}

/* Verifies the probable run ends of the batch on all cores. Best effort: on
 * any resource shortage it returns and the transaction verifies as before. */
static void preverify(struct ingest_ctx *c)
{
    struct cand **v, **ends;
    size_t nv = 0, ne = 0;
    unsigned nt = preverify_threads();
    pthread_t th[PREVERIFY_MAX_THREADS];
    struct prev_job jobs[PREVERIFY_MAX_THREADS];
    unsigned started = 0;

    if (nt < 2 || c->nin < PREVERIFY_MIN)
        return;
    if (!(v = tx_calloc(c->nin, sizeof(*v))))
        return;
    for (size_t i = 0; i < c->nin; i++)
        if (c->in[i].state != C_DONE)
            v[nv++] = &c->in[i];
    qsort(v, nv, sizeof(*v), cmp_cand_origin_seq);
    ends = v; /* compacted in place: ne <= i */
    for (size_t i = 0; i < nv; i++) {
        struct cand *x = v[i], *y = i + 1 < nv ? v[i + 1] : NULL;
        int linked = y && memcmp(x->env.origin, y->env.origin, CRDT_KEY_BYTES) == 0 &&
                     y->env.seq == x->env.seq + 1 &&
                     memcmp(y->env.prev, x->hash, CRDT_HASH_BYTES) == 0;

        if (!linked)
            ends[ne++] = x;
    }
    if (ne < PREVERIFY_MIN) {
        tx_free(v);
        return;
    }
    if (nt > ne / (PREVERIFY_MIN / 2))
        nt = (unsigned)(ne / (PREVERIFY_MIN / 2));
    for (unsigned t = 0; t < nt; t++)
        jobs[t] = (struct prev_job){.v = ends, .n = ne, .stride = nt, .first = t};
    for (unsigned t = 1; t < nt; t++) {
        if (pthread_create(&th[t], NULL, preverify_worker, &jobs[t]) != 0)
            break;
        started = t;
    }
    /* This thread takes job 0 and any job whose thread did not start. */
    preverify_worker(&jobs[0]);
    for (unsigned t = started + 1; t < nt; t++)
        preverify_worker(&jobs[t]);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    tx_free(v);
}

/* The pure part of a batch, before its transaction: decode, size checks,
 * hashes, the signature pre-pass and, with open_bodies, decryption and body
 * decoding. Touches only c and reads the scope keys, so the pipeline runs it on
 * a second thread while the previous batch's transaction commits. */
static int prepare(struct node_store *s, struct ingest_ctx *c, const uint8_t *const *envs,
                   const size_t *lens, size_t n, int open_bodies)
{
    int err;

    if (n && !(c->in = tx_calloc(n, sizeof(*c->in))))
        return TX_ENOMEM;
    c->nin = n; /* batch_release walks exactly what was allocated */
    /* Decoded outside the transaction, and kept if the transaction is redone
     * after the map grows. */
    for (size_t i = 0; i < n; i++) {
        struct cand *x = &c->in[i];

        x->bytes = envs[i];
        x->len = lens[i];
        if (lens[i] > CRDT_MAX_ENVELOPE) {
            x->state = C_DONE;
            x->bad = 1;
            c->pre.by_reason[NODE_R_OVERSIZED]++;
            c->pre.rejected++;
            continue;
        }
        err = crdt_env_decode(&x->env, envs[i], lens[i]);
        if (err == TX_ENOMEM)
            return err;
        if (err) {
            x->state = C_DONE;
            x->bad = 1;
            c->pre.by_reason[err == TX_ETOOBIG ? NODE_R_OVERSIZED : NODE_R_MALFORMED]++;
            c->pre.rejected++;
            continue;
        }
        if ((err = crdt_env_hash(envs[i], lens[i], x->hash)))
            return err;
    }
    preverify(c);
    for (size_t i = 0; open_bodies && i < n; i++) {
        struct cand *x = &c->in[i];

        if (x->bad)
            continue;
        x->pre = 1; /* even on ENOMEM: the transaction then opens it itself */
        node__open_ahead(s, &x->env, &x->opened);
    }
    return TX_OK;
}

static void batch_release(struct ingest_ctx *c)
{
    run_reset(c);
    for (size_t i = 0; i < c->nin; i++) {
        if (c->in[i].pre)
            node__opened_release(&c->in[i].opened);
        crdt_env_release(&c->in[i].env);
    }
    tx_free(c->in);
    {
        struct node_ingest_report *rep = c->rep;

        memset(c, 0, sizeof(*c)); /* reused by the pipeline for a later batch */
        c->rep = rep;
    }
}

/* After a batch's transaction: what its public records changed (trust, keys:
 * this changes s->keys, so no preparation may run meanwhile). */
static int after_batch(struct node_store *s, struct ingest_ctx *c, int err)
{
    if (!err && c->ts.system_dirty && s->in_district)
        err = node__system_process(s);
    if (!err && c->rep->equivocations)
        node__log(s, NODE_LOG_WARN, "ingest: %llu equivocation(s) recorded",
                  (unsigned long long)c->rep->equivocations);
    return err;
}

void node_ingest_report_add(struct node_ingest_report *a, const struct node_ingest_report *b)
{
    a->accepted += b->accepted;
    a->duplicate += b->duplicate;
    a->held += b->held;
    a->released += b->released;
    a->unreadable += b->unreadable;
    a->rejected += b->rejected;
    a->badbody += b->badbody;
    a->equivocations += b->equivocations;
    for (int i = 0; i < NODE_R_COUNT; i++)
        a->by_reason[i] += b->by_reason[i];
}

int node_ingest(struct node_store *s, const uint8_t *const *envs, const size_t *lens, size_t n,
                struct node_ingest_report *rep)
{
    struct ingest_ctx c;
    struct node_ingest_report dummy;
    int err;

    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof(*rep));
    if (s->readonly)
        return TX_EINVAL;
    memset(&c, 0, sizeof(c));
    c.rep = rep;
    /* Bodies are opened inside the transaction, only for what is appended: a
     * batch from gossip is often mostly duplicates. */
    if (!(err = prepare(s, &c, envs, lens, n, 0)))
        err = after_batch(s, &c, node__write_txn(s, ingest_fn, &c));
    batch_release(&c);
    return err;
}

/* --- Pipelined ingest of many batches ---------------------------------------
 *
 * One batch's transaction and the preparation of the next are independent: the
 * preparation is pure (it reads the envelopes and the scope keys), the
 * transaction reads and writes the store. So while batch k's transaction runs
 * and, above all, waits for its commit to reach the disk, a second thread
 * prepares batch k+1, decryption and body decoding included. The results are
 * those of calling node_ingest on each batch in turn: keys installed by batch
 * k's public records (after its commit) are seen by batch k+1, because a body
 * prepared without a key is opened again inside the transaction. */

struct prep_job {
    struct node_store *s;
    struct ingest_ctx *c;
    const uint8_t *const *envs;
    const size_t *lens;
    size_t n;
    int err;
};

static void *prep_worker(void *arg)
{
    struct prep_job *j = arg;

    j->err = prepare(j->s, j->c, j->envs, j->lens, j->n, 1);
    return NULL;
}

int node_ingest_many(struct node_store *s, const uint8_t *const *envs, const size_t *lens, size_t n,
                     size_t per_txn, struct node_ingest_report *rep)
{
    struct ingest_ctx c[2];
    struct node_ingest_report r[2], dummy;
    struct prep_job job;
    size_t off = 0;
    unsigned int envflags = 0;
    int err = TX_OK, threads = preverify_threads() > 1, deferred = 0;

    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof(*rep));
    if (s->readonly || per_txn == 0)
        return TX_EINVAL;
    memset(c, 0, sizeof(c));
    c[0].rep = &r[0];
    c[1].rep = &r[1];
    /* Each batch's commit flushes its pages, but its meta page is written
     * without a flush of its own (MDB_NOMETASYNC): the next commit's flush
     * carries it, and the call ends with one more (mdb_env_sync). LMDB keeps
     * the store consistent this way; a crash during the call can lose the
     * batch committed last, which the call has not reported yet. */
    mdb_env_get_flags(s->env, &envflags);
    if (!(envflags & (MDB_NOSYNC | MDB_NOMETASYNC)) && n > per_txn)
        deferred = mdb_env_set_flags(s->env, MDB_NOMETASYNC, 1) == 0;
    job = (struct prep_job){s, &c[0], envs, lens, n < per_txn ? n : per_txn, 0};
    prep_worker(&job);
    err = job.err;
    for (unsigned k = 0; !err && off < n; k ^= 1) {
        struct ingest_ctx *cur = &c[k], *nxt = &c[k ^ 1];
        size_t len = cur->nin, noff = off + len, nlen = n - noff < per_txn ? n - noff : per_txn;
        pthread_t th;
        int started = 0;

        memset(&r[k ^ 1], 0, sizeof(r[k ^ 1]));
        job = (struct prep_job){s, nxt, envs + noff, lens + noff, nlen, 0};
        if (nlen && threads)
            started = pthread_create(&th, NULL, prep_worker, &job) == 0;
        memset(&r[k], 0, sizeof(r[k]));
        /* The transaction does not change the scope keys, which is all the
         * preparation reads of s; the trust and key updates wait for it. */
        err = node__write_txn(s, ingest_fn, cur);
        if (started)
            pthread_join(th, NULL);
        if (!err)
            node_ingest_report_add(rep, &r[k]); /* an aborted batch stored nothing */
        err = after_batch(s, cur, err);
        batch_release(cur);
        if (!err && nlen && !started)
            prep_worker(&job); /* one thread: after the commit, as node_ingest would */
        if (!err)
            err = job.err;
        off = noff;
    }
    batch_release(&c[0]);
    batch_release(&c[1]);
    if (deferred) {
        int rc;

        mdb_env_set_flags(s->env, MDB_NOMETASYNC, 0);
        if ((rc = mdb_env_sync(s->env, 1)) && !err)
            err = node__mdb_err(rc);
    }
    return err;
}

int node_release_held(struct node_store *s, struct node_ingest_report *rep)
{
    struct ingest_ctx c;
    struct node_ingest_report dummy;
    MDB_txn *txn;
    MDB_stat st;
    int err;

    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof(*rep));
    if ((err = node__read_txn(s, &txn)))
        return err;
    err = mdb_stat(txn, s->dbi[DB_HELD], &st) ? TX_ESTORE : TX_OK;
    mdb_txn_abort(txn);
    if (err || st.ms_entries == 0)
        return err;
    memset(&c, 0, sizeof(c));
    c.rep = rep;
    c.release_only = 1;
    err = node__write_txn(s, ingest_fn, &c);
    if (!err && c.ts.system_dirty && s->in_district)
        err = node__system_process(s);
    run_reset(&c);
    return err;
}

int node_held_for_time(struct node_store *s)
{
    MDB_envinfo ei;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t due = UINT64_MAX;
    size_t seen;
    int err, rc;

    /* Nothing was committed since the last scan: its answer still holds. */
    if (mdb_env_info(s->env, &ei) == 0 && s->held_scan_txnid &&
        ei.me_last_txnid == s->held_scan_txnid)
        return s->held_due_ms <= node__now(s);
    if ((err = node__read_cursor(s, DB_HELD, &txn, &cur)))
        return err;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct crdt_env e;
        uint64_t ms;

        if (v.mv_size <= 2 || ((const uint8_t *)v.mv_data)[0] != NODE_R_HELD_SKEW)
            continue;
        if (crdt_env_decode(&e, (const uint8_t *)v.mv_data + 2, v.mv_size - 2)) {
            due = 0; /* let the release pass deal with it */
            continue;
        }
        /* acceptable once its time is within the skew allowed (ingest's rule) */
        ms = CRDT_HLC_MS(e.hlc);
        ms = ms > s->hlc.max_skew_ms ? ms - s->hlc.max_skew_ms : 0;
        if (ms < due)
            due = ms;
        crdt_env_release(&e);
    }
    mdb_cursor_close(cur);
    seen = mdb_txn_id(txn); /* the commit this snapshot shows */
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND)
        return node__mdb_err(rc);
    s->held_due_ms = due;
    s->held_scan_txnid = seen;
    return due <= node__now(s);
}
