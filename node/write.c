/*
 * write.c - local writes: one envelope per write, built, signed, appended and
 * applied in one durable LMDB transaction.
 *
 * The node, not the caller, decides what each op supersedes: every value of the
 * field that this node currently sees. That is the rule that makes a write that
 * "has seen" concurrent values resolve their conflict, and it is why the
 * supersede list must come from the same transaction that appends the envelope.
 */
#include <string.h>

#include "internal.h"

struct write_ctx {
    const char *scope;
    uint32_t epoch;
    const struct node_change *changes;
    const size_t *sizes;
    size_t nwrites;
    struct node_write_result *res;
};

static int dots_of(const struct crdt_field *f, const struct node_change *c, struct crdt_dot **out,
                   uint32_t *n)
{
    struct crdt_dot *d = NULL;
    uint32_t cnt = 0;

    *out = NULL;
    *n = 0;
    if (!f)
        return TX_OK;
    if (f->kind == CRDT_LWW) {
        cnt = f->u.lww.n;
        if (cnt && !(d = tx_calloc(cnt, sizeof(*d))))
            return TX_ENOMEM;
        for (uint32_t i = 0; i < cnt; i++)
            d[i] = f->u.lww.e[i].dot;
    } else if (f->kind == CRDT_SET) {
        for (uint32_t i = 0; i < f->u.set.n; i++) {
            const struct crdt_set_elem *el = &f->u.set.e[i];

            if (el->len != c->value.len || memcmp(el->s, c->value.s, el->len) != 0)
                continue;
            cnt = el->ndots;
            if (cnt && !(d = tx_calloc(cnt, sizeof(*d))))
                return TX_ENOMEM;
            memcpy(d, el->dots, cnt * sizeof(*d));
        }
    }
    if (cnt > CRDT_MAX_SUP) {
        tx_free(d);
        return TX_ETOOBIG;
    }
    *out = d;
    *n = cnt;
    return TX_OK;
}

/* Turn one change into an op against the current state and apply it there. */
static int build_op(struct node_store *s, MDB_txn *txn, struct node__reccache *rc,
                    const char *scope, const struct node_change *c, const struct crdt_dot *dot,
                    uint64_t hlc, struct crdt_op *op)
{
    int kind = crdt_op_kind(c->code);
    struct crdt_record *rec;
    const struct crdt_field *f;
    int err;

    memset(op, 0, sizeof(*op));
    if (!c->type || !c->id || !c->field || !kind)
        return TX_EINVAL;
    op->type = c->type;
    op->type_len = (uint32_t)strlen(c->type);
    op->id = c->id;
    op->id_len = (uint32_t)strlen(c->id);
    op->field = c->field;
    op->field_len = (uint32_t)strlen(c->field);
    op->code = (uint8_t)c->code;
    op->value = c->value;
    if ((err = crdt_op_check(op)))
        return err;
    if ((err = node__reccache_get(s, txn, rc, scope, op->type, op->type_len, op->id, op->id_len,
                                  &rec)))
        return err;
    f = crdt_record_field(rec, op->field, op->field_len, kind);
    switch (c->code) {
    case CRDT_OP_STATUS_SET:
        if (f && (uint64_t)c->value.i < f->u.status)
            return TX_EBACKWARD;
        break;
    case CRDT_OP_SET_REM:
        if (!f || !crdt_set_has(f, c->value.s, c->value.len))
            return TX_ENOTFOUND;
        break;
    default: break;
    }
    if ((err = dots_of(f, c, &op->sup, &op->nsup)))
        return err;
    return crdt_record_apply(rec, op, dot, hlc);
}

static int write_one(struct node_store *s, MDB_txn *txn, struct write_ctx *c,
                     struct node__txstate *ts, struct node__reccache *rc, struct origin_row *o,
                     const struct node_change *changes, size_t n, struct node_write_result *res)
{
    struct crdt_op *ops = NULL;
    struct crdt_dot *all = NULL;
    uint32_t nall = 0;
    struct crdt_body body;
    struct crdt_env e;
    struct tx_mpw w;
    uint8_t *ct = NULL, hash[CRDT_HASH_BYTES];
    size_t ctlen = 0;
    int err, readable;

    tx_mpw_init(&w, CRDT_MAX_BODY);
    crdt_env_init(&e);
    if (n == 0 || n > CRDT_MAX_OPS)
        return TX_EINVAL;
    if (!(ops = tx_calloc(n, sizeof(*ops)))) {
        err = TX_ENOMEM;
        goto out;
    }
    memcpy(e.origin, s->pk, CRDT_KEY_BYTES);
    e.seq = o->head + 1;
    if (o->head)
        memcpy(e.prev, o->head_hash, CRDT_HASH_BYTES);
    if ((err = crdt_hlc_now(&s->hlc, ts->now, &e.hlc)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct crdt_dot dot;

        memcpy(dot.origin, s->pk, CRDT_KEY_BYTES);
        dot.seq = e.seq;
        dot.idx = (uint32_t)i;
        if ((err = build_op(s, txn, rc, c->scope, &changes[i], &dot, e.hlc, &ops[i])))
            goto out;
        nall += ops[i].nsup;
    }
    /* deps: for each other origin whose ops we supersede, the largest seq. */
    if (nall) {
        uint32_t k = 0;

        if (!(all = tx_calloc(nall, sizeof(*all))) ||
            !(e.deps = tx_calloc(nall, sizeof(*e.deps)))) {
            err = TX_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < ops[i].nsup; j++)
                all[k++] = ops[i].sup[j];
        if ((err = crdt_deps_from_dots(s->pk, all, nall, e.deps, &e.ndeps)))
            goto out;
    }
    body.ops = ops;
    body.nops = (uint32_t)n;
    if ((err = crdt_body_encode(&body, &w)))
        goto out;
    snprintf(e.scope, sizeof(e.scope), "%s", c->scope);
    e.scope_len = (uint32_t)strlen(e.scope);
    e.epoch = c->epoch;
    if ((err = node__body_seal(s, &e, w.buf, w.len, &ct, &ctlen)))
        goto out;
    e.body = ct;
    e.body_len = (uint32_t)ctlen;
    tx_mpw_release(&w);
    tx_mpw_init(&w, CRDT_MAX_ENVELOPE);
    if ((err = crdt_env_encode(&e, &w)) || (err = node__sign(s, w.buf, w.len)) ||
        (err = crdt_env_hash(w.buf, w.len, hash)))
        goto out;
    if ((err = node__append(s, txn, ts, rc, o, &e, w.buf, w.len, hash, 0, NULL, &readable)))
        goto out;
    if (res) {
        memcpy(res->origin, s->pk, CRDT_KEY_BYTES);
        res->seq = e.seq;
        res->hlc = e.hlc;
        memcpy(res->hash, hash, CRDT_HASH_BYTES);
    }
out:
    if (ops)
        for (size_t i = 0; i < n; i++)
            tx_free(ops[i].sup);
    tx_free(ops);
    tx_free(all);
    tx_free(ct);
    crdt_env_release(&e);
    tx_mpw_release(&w);
    return err;
}

static int write_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct write_ctx *c = vctx;
    struct node__reccache *rc = node__reccache_new();
    struct node__txstate ts;
    struct origin_row o;
    size_t off = 0;
    int err;

    if (!rc)
        return TX_ENOMEM;
    if ((err = node__txstate_load(s, txn, &ts)))
        goto out;
    if (ts.own_ok)
        o = ts.own;
    else if ((err = node__origin_get(s, txn, s->pk, 1, &o)))
        goto out;
    if (o.flags & (NODE_ORIGIN_FROZEN | NODE_ORIGIN_REVOKED)) {
        err = o.flags & NODE_ORIGIN_FROZEN ? TX_EFROZEN : TX_EREVOKED;
        goto out;
    }
    for (size_t i = 0; i < c->nwrites; i++) {
        if ((err = write_one(s, txn, c, &ts, rc, &o, c->changes + off, c->sizes[i],
                             c->res ? &c->res[i] : NULL)))
            goto out;
        off += c->sizes[i];
    }
    /* The row itself is written once (flag SELF); after that its head follows
     * the log (node__origin_load), so a write touches log, arrival and records
     * only. */
    if (!(o.flags & NODE_ORIGIN_SELF)) {
        o.flags |= NODE_ORIGIN_SELF;
        if ((err = node__origin_put(s, txn, s->pk, &o)))
            goto out;
    }
    if ((err = node__reccache_flush(s, txn, rc)))
        goto out;
    err = node__txstate_save(s, txn, &ts);
out:
    node__reccache_free(rc);
    return err;
}

int node_write_batch(struct node_store *s, const char *scope, const struct node_change *changes,
                     const size_t *sizes, size_t nwrites, struct node_write_result *res)
{
    struct write_ctx c;
    int err;

    if (!s->have_sk || s->readonly)
        return TX_EINVAL;
    if (!scope || crdt_check_scope(scope, strlen(scope)) || !changes || !sizes || !nwrites)
        return TX_EINVAL;
    memset(&c, 0, sizeof(c));
    c.scope = scope;
    if ((err = node__scope_ensure_key(s, scope, &c.epoch)))
        return err;
    c.changes = changes;
    c.sizes = sizes;
    c.nwrites = nwrites;
    c.res = res;
    err = node__write_txn(s, write_fn, &c);
    /* Public records may be certificates, revocations or key wraps. */
    if (!err && c.epoch == 0 && s->in_district)
        err = node__system_process(s);
    return err;
}

int node_write(struct node_store *s, const char *scope, const struct node_change *changes, size_t n,
               struct node_write_result *res)
{
    return node_write_batch(s, scope, changes, &n, 1, res);
}
