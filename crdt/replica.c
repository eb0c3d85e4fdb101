/*
 * replica.c - an in-memory replica: records, a version vector and a hold queue.
 *
 * It is the reference for what the LMDB store does on disk, small enough to run
 * tens of thousands of randomised histories a second, and the node model of the
 * simulator. Envelopes are applied per origin in sequence order and only after
 * their dependencies; anything early waits in the queue.
 */
#include <stdio.h>
#include <string.h>

#include "crdt.h"

struct rec {
    char *key; /* scope \0 type \0 id, the same order as the store's keys */
    size_t klen;
    struct crdt_record r;
};

struct vv {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t head;
};

struct pending {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq, hlc;
    struct crdt_dep *deps;
    uint32_t ndeps;
    char scope[CRDT_MAX_SCOPE + 1];
    uint8_t *body;
    size_t body_len;
};

struct crdt_replica {
    struct rec *recs;
    size_t nrecs;
    struct vv *vv;
    size_t nvv;
    struct pending *q;
    size_t nq;
};

struct crdt_replica *crdt_replica_new(void)
{
    return tx_calloc(1, sizeof(struct crdt_replica));
}

static void pending_release(struct pending *p)
{
    tx_free(p->deps);
    tx_free(p->body);
}

void crdt_replica_free(struct crdt_replica *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrecs; i++) {
        tx_free(r->recs[i].key);
        crdt_record_release(&r->recs[i].r);
    }
    for (size_t i = 0; i < r->nq; i++)
        pending_release(&r->q[i]);
    tx_free(r->recs);
    tx_free(r->vv);
    tx_free(r->q);
    tx_free(r);
}

static struct vv *vv_find(const struct crdt_replica *r, const uint8_t *origin, size_t *pos)
{
    size_t lo = 0, hi = r->nvv;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(r->vv[mid].origin, origin, CRDT_KEY_BYTES);

        if (c == 0)
            return &r->vv[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

uint64_t crdt_replica_head(const struct crdt_replica *r, const uint8_t origin[CRDT_KEY_BYTES])
{
    struct vv *v = vv_find(r, origin, NULL);

    return v ? v->head : 0;
}

static int vv_set(struct crdt_replica *r, const uint8_t *origin, uint64_t head)
{
    size_t pos = 0;
    struct vv *v = vv_find(r, origin, &pos);
    struct vv *nv;

    if (v) {
        v->head = head;
        return TX_OK;
    }
    nv = tx_reallocarray(r->vv, r->nvv + 1, sizeof(*nv));
    if (!nv)
        return TX_ENOMEM;
    r->vv = nv;
    memmove(&nv[pos + 1], &nv[pos], (r->nvv - pos) * sizeof(*nv));
    memcpy(nv[pos].origin, origin, CRDT_KEY_BYTES);
    nv[pos].head = head;
    r->nvv++;
    return TX_OK;
}

static int key_make(char *buf, size_t cap, size_t *len, const char *scope, size_t sl,
                    const char *type, size_t tl, const char *id, size_t il)
{
    if (sl + tl + il + 2 > cap)
        return TX_ETOOBIG;
    memcpy(buf, scope, sl);
    buf[sl] = '\0';
    memcpy(buf + sl + 1, type, tl);
    buf[sl + 1 + tl] = '\0';
    memcpy(buf + sl + tl + 2, id, il);
    *len = sl + tl + il + 2;
    return TX_OK;
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static struct rec *rec_find(const struct crdt_replica *r, const char *key, size_t klen, size_t *pos)
{
    size_t lo = 0, hi = r->nrecs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(r->recs[mid].key, r->recs[mid].klen, key, klen);

        if (c == 0)
            return &r->recs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return NULL;
}

static struct rec *rec_get(struct crdt_replica *r, const char *key, size_t klen)
{
    size_t pos;
    struct rec *x = rec_find(r, key, klen, &pos);
    struct rec *nr;

    if (x)
        return x;
    nr = tx_reallocarray(r->recs, r->nrecs + 1, sizeof(*nr));
    if (!nr)
        return NULL;
    r->recs = nr;
    memmove(&nr[pos + 1], &nr[pos], (r->nrecs - pos) * sizeof(*nr));
    memset(&nr[pos], 0, sizeof(*nr));
    nr[pos].key = tx_malloc(klen);
    if (!nr[pos].key) {
        memmove(&nr[pos], &nr[pos + 1], (r->nrecs - pos) * sizeof(*nr));
        return NULL;
    }
    memcpy(nr[pos].key, key, klen);
    nr[pos].klen = klen;
    crdt_record_init(&nr[pos].r);
    r->nrecs++;
    return &nr[pos];
}

const struct crdt_record *crdt_replica_get(const struct crdt_replica *r, const char *scope,
                                           const char *type, const char *id)
{
    char key[CRDT_MAX_SCOPE + CRDT_MAX_TYPE + CRDT_MAX_ID + 2];
    size_t klen, pos;
    struct rec *x;

    if (key_make(key, sizeof(key), &klen, scope, strlen(scope), type, strlen(type), id, strlen(id)))
        return NULL;
    x = rec_find(r, key, klen, &pos);
    return x ? &x->r : NULL;
}

static int ready(const struct crdt_replica *r, const struct pending *p)
{
    if (p->seq != crdt_replica_head(r, p->origin) + 1)
        return 0;
    for (uint32_t i = 0; i < p->ndeps; i++)
        if (crdt_replica_head(r, p->deps[i].origin) < p->deps[i].seq)
            return 0;
    return 1;
}

/* Apply a ready envelope: decode, check the body against the header's deps, apply
 * every op, advance the head. A body that fails its checks is skipped (but its
 * place in the chain is taken), the same decision at every replica. */
static int apply(struct crdt_replica *r, const struct pending *p)
{
    struct crdt_body b;
    struct crdt_env hdr;
    int err;

    memset(&hdr, 0, sizeof(hdr));
    memcpy(hdr.origin, p->origin, CRDT_KEY_BYTES);
    hdr.seq = p->seq;
    hdr.deps = p->deps;
    hdr.ndeps = p->ndeps;
    err = crdt_body_decode(&b, p->body, p->body_len);
    if (!err)
        err = crdt_body_check_causal(&b, &hdr);
    for (uint32_t i = 0; !err && i < b.nops; i++) {
        const struct crdt_op *op = &b.ops[i];
        char key[CRDT_MAX_SCOPE + CRDT_MAX_TYPE + CRDT_MAX_ID + 2];
        size_t klen;
        struct crdt_dot dot;
        struct rec *x;

        if ((err = key_make(key, sizeof(key), &klen, p->scope, strlen(p->scope), op->type,
                            op->type_len, op->id, op->id_len)))
            break;
        if (!(x = rec_get(r, key, klen))) {
            err = TX_ENOMEM;
            break;
        }
        memcpy(dot.origin, p->origin, CRDT_KEY_BYTES);
        dot.seq = p->seq;
        dot.idx = i;
        err = crdt_record_apply(&x->r, op, &dot, p->hlc);
    }
    crdt_body_release(&b);
    if (err == TX_ENOMEM)
        return err;
    if (vv_set(r, p->origin, p->seq))
        return TX_ENOMEM;
    return err ? TX_EBODY : TX_OK;
}

/* Apply whatever in the queue became ready, until nothing does. */
static int drain(struct crdt_replica *r)
{
    int progress = 1, err = TX_OK;

    while (progress) {
        progress = 0;
        for (size_t i = 0; i < r->nq; i++) {
            if (!ready(r, &r->q[i]))
                continue;
            err = apply(r, &r->q[i]);
            pending_release(&r->q[i]);
            r->q[i] = r->q[--r->nq];
            if (err == TX_ENOMEM)
                return err;
            progress = 1;
            break;
        }
    }
    return TX_OK;
}

int crdt_replica_deliver(struct crdt_replica *r, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq,
                         uint64_t hlc, const struct crdt_dep *deps, uint32_t ndeps,
                         const char *scope, const void *body, size_t body_len)
{
    struct pending p, *nq;
    size_t sl = strlen(scope);
    int err;

    if (seq == 0 || ndeps > CRDT_MAX_DEPS || crdt_check_scope(scope, sl))
        return TX_EINVAL;
    if (seq <= crdt_replica_head(r, origin))
        return TX_EDUP;
    for (size_t i = 0; i < r->nq; i++)
        if (r->q[i].seq == seq && memcmp(r->q[i].origin, origin, CRDT_KEY_BYTES) == 0)
            return TX_EDUP;
    memset(&p, 0, sizeof(p));
    memcpy(p.origin, origin, CRDT_KEY_BYTES);
    p.seq = seq;
    p.hlc = hlc;
    memcpy(p.scope, scope, sl + 1);
    p.ndeps = ndeps;
    if ((ndeps && !(p.deps = tx_calloc(ndeps, sizeof(*deps)))) || !(p.body = tx_malloc(body_len))) {
        pending_release(&p);
        return TX_ENOMEM;
    }
    if (ndeps)
        memcpy(p.deps, deps, ndeps * sizeof(*deps));
    memcpy(p.body, body, body_len);
    p.body_len = body_len;
    if (ready(r, &p)) {
        err = apply(r, &p);
        pending_release(&p);
        if (err == TX_ENOMEM)
            return err;
        if (drain(r))
            return TX_ENOMEM;
        return err;
    }
    nq = tx_reallocarray(r->q, r->nq + 1, sizeof(*nq));
    if (!nq) {
        pending_release(&p);
        return TX_ENOMEM;
    }
    r->q = nq;
    r->q[r->nq++] = p;
    return TX_EHELD;
}

size_t crdt_replica_held(const struct crdt_replica *r)
{
    return r->nq;
}

int crdt_replica_digest(const struct crdt_replica *r, uint8_t out[CRDT_HASH_BYTES])
{
    struct crdt_digest d;
    int err = crdt_digest_init(&d);

    for (size_t i = 0; !err && i < r->nrecs; i++) {
        const struct rec *x = &r->recs[i];
        const char *type = x->key + strlen(x->key) + 1;
        const char *id = type + strlen(type) + 1;
        struct tx_mpw w;

        tx_mpw_init(&w, 64u << 20);
        err = crdt_record_encode(&x->r, &w);
        if (!err)
            err = crdt_digest_add(&d, x->key, strlen(x->key), type, strlen(type), id,
                                  x->klen - (size_t)(id - x->key), w.buf, w.len);
        tx_mpw_release(&w);
    }
    if (!err)
        err = crdt_digest_final(&d, out);
    return err;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 256) + n;
        char *nb = tx_reallocarray(*buf, nc, 1);

        if (!nb)
            return TX_ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return TX_OK;
}

int crdt_replica_conflicts(const struct crdt_replica *r, char **out, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int err = append(&buf, &n, &cap, "", 0);

    for (size_t i = 0; !err && i < r->nrecs; i++) {
        const struct rec *x = &r->recs[i];

        for (uint32_t k = 0; !err && k < x->r.n; k++) {
            const struct crdt_field *f = &x->r.f[k];
            char tmp[64];

            if (f->kind != CRDT_LWW || f->u.lww.n < 2)
                continue;
            for (size_t j = 0; !err && j < x->klen; j++)
                err = append(&buf, &n, &cap, x->key[j] ? &x->key[j] : " ", 1);
            err = err ? err : append(&buf, &n, &cap, " ", 1);
            err = err ? err : append(&buf, &n, &cap, f->name, f->name_len);
            for (uint32_t j = 0; !err && j < f->u.lww.n; j++) {
                const struct crdt_value *v = &f->u.lww.e[j].v;

                err = append(&buf, &n, &cap, j ? "|" : " ", 1);
                if (err)
                    break;
                if (v->type == CRDT_STR || v->type == CRDT_BIN)
                    err = append(&buf, &n, &cap, v->s, v->len);
                else {
                    int m = snprintf(tmp, sizeof(tmp), "%d:%lld", v->type, (long long)v->i);
                    err = append(&buf, &n, &cap, tmp, (size_t)m);
                }
            }
            err = err ? err : append(&buf, &n, &cap, "\n", 1);
        }
    }
    if (err) {
        tx_free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return TX_OK;
}
