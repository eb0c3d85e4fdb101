/*
 * record.c - the state of one record and how ops change it.
 *
 * A record is a sorted list of fields keyed by (name, kind). Why each kind
 * converges (docs/data-model.md has the longer argument):
 *  - lww: the state is the set of dots not superseded by any applied op. An op
 *    removes the dots it names and adds its own. Under causal delivery every
 *    superseded dot arrives before the op that supersedes it, so the result is
 *    {all applied dots} minus {all superseded dots}: a set expression that does
 *    not depend on order.
 *  - counter: the sum of all deltas; addition modulo 2^64 commutes.
 *  - set: per element, the same dot arithmetic as lww; present iff a dot remains.
 *  - status: the maximum of round*256 + rank; max is a semilattice join.
 * Exactly-once delivery is the caller's job (envelope sequence numbers); applying
 * an op whose dot is already present is nevertheless a no-op.
 */
#include <string.h>

#include "crdt.h"
#include "internal.h"

void crdt_record_init(struct crdt_record *r)
{
    memset(r, 0, sizeof(*r));
}

static void value_release(struct crdt_value *v)
{
    if (v->type == CRDT_STR || v->type == CRDT_BIN)
        tx_free((void *)v->s);
    memset(v, 0, sizeof(*v));
}

static int value_copy(struct crdt_value *dst, const struct crdt_value *src)
{
    *dst = *src;
    if (src->type == CRDT_STR || src->type == CRDT_BIN) {
        char *s = tx_strndup(src->s ? src->s : "", src->len);

        if (!s)
            return TX_ENOMEM;
        dst->s = s;
    } else {
        dst->s = NULL;
        dst->len = 0;
    }
    return TX_OK;
}

static void field_release(struct crdt_field *f)
{
    switch (f->kind) {
    case CRDT_LWW:
        for (uint32_t i = 0; i < f->u.lww.n; i++)
            value_release(&f->u.lww.e[i].v);
        tx_free(f->u.lww.e);
        break;
    case CRDT_SET:
        for (uint32_t i = 0; i < f->u.set.n; i++) {
            tx_free(f->u.set.e[i].s);
            tx_free(f->u.set.e[i].dots);
        }
        tx_free(f->u.set.e);
        break;
    default: break;
    }
    tx_free(f->name);
}

void crdt_record_release(struct crdt_record *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        field_release(&r->f[i]);
    tx_free(r->f);
    memset(r, 0, sizeof(*r));
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static int field_cmp(const struct crdt_field *f, const char *name, size_t n, int kind)
{
    int c = bytes_cmp(f->name, f->name_len, name, n);

    if (c)
        return c;
    return f->kind < kind ? -1 : f->kind > kind ? 1 : 0;
}

/* Binary search: index of the match, or of the insertion point with *found 0. */
static uint32_t field_find(const struct crdt_record *r, const char *name, size_t n, int kind,
                           int *found)
{
    uint32_t lo = 0, hi = r->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = field_cmp(&r->f[mid], name, n, kind);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

const struct crdt_field *crdt_record_field(const struct crdt_record *r, const char *name,
                                           size_t name_len, int kind)
{
    int found;
    uint32_t i = field_find(r, name, name_len, kind, &found);

    return found ? &r->f[i] : NULL;
}

/* Insert a new empty field at position i. */
static int field_insert(struct crdt_record *r, uint32_t i, const char *name, size_t n, int kind)
{
    struct crdt_field *nf;
    char *nm = tx_strndup(name, n);

    if (!nm)
        return TX_ENOMEM;
    nf = tx_reallocarray(r->f, r->n + 1, sizeof(*r->f));
    if (!nf) {
        tx_free(nm);
        return TX_ENOMEM;
    }
    r->f = nf;
    memmove(&r->f[i + 1], &r->f[i], (r->n - i) * sizeof(*r->f));
    memset(&r->f[i], 0, sizeof(*r->f));
    r->f[i].name = nm;
    r->f[i].name_len = (uint32_t)n;
    r->f[i].kind = (uint8_t)kind;
    r->n++;
    return TX_OK;
}

static int dot_in(const struct crdt_dot *d, const struct crdt_dot *set, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (crdt_dot_cmp(d, &set[i]) == 0)
            return 1;
    return 0;
}

static int lww_apply(struct crdt_field *f, const struct crdt_op *op, const struct crdt_dot *dot,
                     uint64_t hlc)
{
    struct crdt_lww_entry *e = f->u.lww.e;
    uint32_t n = f->u.lww.n, w = 0, pos;
    struct crdt_value v;
    struct crdt_lww_entry *ne;

    for (uint32_t i = 0; i < n; i++)
        if (crdt_dot_cmp(&e[i].dot, dot) == 0)
            return TX_OK; /* already applied */
    if (value_copy(&v, &op->value))
        return TX_ENOMEM;
    ne = tx_reallocarray(e, n + 1, sizeof(*e));
    if (!ne) {
        value_release(&v);
        return TX_ENOMEM;
    }
    e = f->u.lww.e = ne;
    /* Drop superseded entries, compacting in place. */
    for (uint32_t i = 0; i < n; i++) {
        if (dot_in(&e[i].dot, op->sup, op->nsup))
            value_release(&e[i].v);
        else
            e[w++] = e[i];
    }
    n = w;
    for (pos = 0; pos < n && crdt_dot_cmp(&e[pos].dot, dot) < 0; pos++)
        ;
    memmove(&e[pos + 1], &e[pos], (n - pos) * sizeof(*e));
    e[pos].dot = *dot;
    e[pos].hlc = hlc;
    e[pos].v = v;
    f->u.lww.n = n + 1;
    return TX_OK;
}

static uint32_t elem_find(const struct crdt_field *f, const char *s, size_t n, int *found)
{
    uint32_t lo = 0, hi = f->u.set.n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = bytes_cmp(f->u.set.e[mid].s, f->u.set.e[mid].len, s, n);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

int crdt_set_has(const struct crdt_field *f, const char *s, size_t n)
{
    int found;

    if (f->kind != CRDT_SET)
        return 0;
    elem_find(f, s, n, &found);
    return found;
}

static void elem_remove(struct crdt_field *f, uint32_t i)
{
    tx_free(f->u.set.e[i].s);
    tx_free(f->u.set.e[i].dots);
    memmove(&f->u.set.e[i], &f->u.set.e[i + 1], (f->u.set.n - i - 1) * sizeof(*f->u.set.e));
    f->u.set.n--;
}

static int set_apply(struct crdt_field *f, const struct crdt_op *op, const struct crdt_dot *dot)
{
    int found;
    uint32_t i = elem_find(f, op->value.s, op->value.len, &found);
    struct crdt_set_elem *el;
    uint32_t w = 0, pos;

    if (!found) {
        struct crdt_set_elem *ne;
        char *s;

        if (op->code == CRDT_OP_SET_REM)
            return TX_OK; /* nothing observed, nothing to remove */
        s = tx_strndup(op->value.s, op->value.len);
        if (!s)
            return TX_ENOMEM;
        ne = tx_reallocarray(f->u.set.e, f->u.set.n + 1, sizeof(*ne));
        if (!ne) {
            tx_free(s);
            return TX_ENOMEM;
        }
        f->u.set.e = ne;
        memmove(&ne[i + 1], &ne[i], (f->u.set.n - i) * sizeof(*ne));
        memset(&ne[i], 0, sizeof(*ne));
        ne[i].s = s;
        ne[i].len = op->value.len;
        f->u.set.n++;
    }
    el = &f->u.set.e[i];
    if (op->code == CRDT_OP_SET_ADD) {
        struct crdt_dot *nd;

        if (dot_in(dot, el->dots, el->ndots))
            return TX_OK;
        nd = tx_reallocarray(el->dots, el->ndots + 1, sizeof(*nd));
        if (!nd) {
            if (el->ndots == 0)
                elem_remove(f, i);
            return TX_ENOMEM;
        }
        el->dots = nd;
    }
    for (uint32_t k = 0; k < el->ndots; k++)
        if (!dot_in(&el->dots[k], op->sup, op->nsup))
            el->dots[w++] = el->dots[k];
    el->ndots = w;
    if (op->code == CRDT_OP_SET_ADD) {
        for (pos = 0; pos < el->ndots && crdt_dot_cmp(&el->dots[pos], dot) < 0; pos++)
            ;
        memmove(&el->dots[pos + 1], &el->dots[pos], (el->ndots - pos) * sizeof(*dot));
        el->dots[pos] = *dot;
        el->ndots++;
    }
    if (el->ndots == 0)
        elem_remove(f, i);
    return TX_OK;
}

int crdt_record_apply(struct crdt_record *r, const struct crdt_op *op, const struct crdt_dot *dot,
                      uint64_t hlc)
{
    int kind = crdt_op_kind(op->code);
    int found, err;
    uint32_t i;
    struct crdt_field *f;

    if ((err = crdt_op_check(op)))
        return err == TX_EKIND ? TX_EKIND : err;
    i = field_find(r, op->field, op->field_len, kind, &found);
    if (!found && (err = field_insert(r, i, op->field, op->field_len, kind)))
        return err;
    f = &r->f[i];
    switch (op->code) {
    case CRDT_OP_LWW_SET: err = lww_apply(f, op, dot, hlc); break;
    case CRDT_OP_CTR_ADD:
        f->u.counter = (int64_t)((uint64_t)f->u.counter + (uint64_t)op->value.i);
        err = TX_OK;
        break;
    case CRDT_OP_SET_ADD:
    case CRDT_OP_SET_REM: err = set_apply(f, op, dot); break;
    case CRDT_OP_STATUS_SET:
        if ((uint64_t)op->value.i > f->u.status)
            f->u.status = (uint64_t)op->value.i;
        err = TX_OK;
        break;
    default: err = TX_EKIND;
    }
    if (err && !found) {
        /* Allocation failed on a fresh field: take it out again. */
        field_release(f);
        memmove(&r->f[i], &r->f[i + 1], (r->n - i - 1) * sizeof(*r->f));
        r->n--;
    }
    return err;
}

static int value_eq(const struct crdt_value *a, const struct crdt_value *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == CRDT_STR || a->type == CRDT_BIN)
        return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
    return a->i == b->i;
}

int crdt_lww_conflict(const struct crdt_field *f)
{
    if (!f || f->kind != CRDT_LWW)
        return 0;
    for (uint32_t i = 1; i < f->u.lww.n; i++)
        if (!value_eq(&f->u.lww.e[0].v, &f->u.lww.e[i].v))
            return 1;
    return 0;
}

const struct crdt_lww_entry *crdt_lww_winner(const struct crdt_field *f)
{
    const struct crdt_lww_entry *best = NULL;

    if (!f || f->kind != CRDT_LWW)
        return NULL;
    for (uint32_t i = 0; i < f->u.lww.n; i++) {
        const struct crdt_lww_entry *e = &f->u.lww.e[i];

        if (!best || e->hlc > best->hlc ||
            (e->hlc == best->hlc && crdt_dot_cmp(&e->dot, &best->dot) > 0))
            best = e;
    }
    return best;
}

/* ---- canonical state codec ----
 *   record := [field...]                       sorted by (name, kind)
 *   field  := [name: str, kind: uint, state]
 *   state  := lww:     [[dot, hlc: uint, value]...]   sorted by dot
 *             counter: int
 *             set:     [[elem: str, [dot...]]...]     sorted by elem; dots sorted
 *             status:  uint
 */
int crdt_record_encode(const struct crdt_record *r, struct tx_mpw *w)
{
    tx_mpw_array(w, r->n);
    for (uint32_t i = 0; i < r->n; i++) {
        const struct crdt_field *f = &r->f[i];

        tx_mpw_array(w, 3);
        tx_mpw_str(w, f->name, f->name_len);
        tx_mpw_uint(w, f->kind);
        switch (f->kind) {
        case CRDT_LWW:
            tx_mpw_array(w, f->u.lww.n);
            for (uint32_t k = 0; k < f->u.lww.n; k++) {
                tx_mpw_array(w, 3);
                tx__dot_encode(&f->u.lww.e[k].dot, w);
                tx_mpw_uint(w, f->u.lww.e[k].hlc);
                crdt_value_encode(&f->u.lww.e[k].v, w);
            }
            break;
        case CRDT_COUNTER: tx_mpw_int(w, f->u.counter); break;
        case CRDT_SET:
            tx_mpw_array(w, f->u.set.n);
            for (uint32_t k = 0; k < f->u.set.n; k++) {
                const struct crdt_set_elem *el = &f->u.set.e[k];

                tx_mpw_array(w, 2);
                tx_mpw_str(w, el->s, el->len);
                tx_mpw_array(w, el->ndots);
                for (uint32_t j = 0; j < el->ndots; j++)
                    tx__dot_encode(&el->dots[j], w);
            }
            break;
        case CRDT_STATUS: tx_mpw_uint(w, f->u.status); break;
        default:
            if (!w->err)
                w->err = TX_EKIND;
        }
    }
    return tx_mpw_finish(w);
}

static int field_decode(struct tx_mpr *r, struct crdt_field *f)
{
    const char *name;
    uint32_t n;
    uint64_t kind;
    int err;

    if ((err = tx_mpr_array_n(r, 3)) || (err = tx_mpr_str(r, &name, &n, CRDT_MAX_FIELD)) ||
        (err = tx_mpr_uint(r, &kind)))
        return err;
    if (crdt_check_field(name, n) || !crdt_kind_name((int)kind) || kind > 255)
        return TX_ECORRUPT;
    f->name = tx_strndup(name, n);
    if (!f->name)
        return TX_ENOMEM;
    f->name_len = n;
    f->kind = (uint8_t)kind;
    switch (f->kind) {
    case CRDT_LWW:
        if ((err = tx_mpr_array(r, &n, CRDT_MAX_ENTRIES)))
            return err;
        if (n && !(f->u.lww.e = tx_calloc(n, sizeof(*f->u.lww.e))))
            return TX_ENOMEM;
        for (uint32_t k = 0; k < n; k++) {
            struct crdt_lww_entry *e = &f->u.lww.e[k];
            struct crdt_value v;

            if ((err = tx_mpr_array_n(r, 3)) || (err = tx__dot_decode(r, &e->dot)) ||
                (err = tx_mpr_uint(r, &e->hlc)) || (err = crdt_value_decode(r, &v)))
                return err;
            if ((err = value_copy(&e->v, &v)))
                return err;
            f->u.lww.n = k + 1;
            if (k && crdt_dot_cmp(&f->u.lww.e[k - 1].dot, &e->dot) >= 0)
                return TX_ECORRUPT;
        }
        return TX_OK;
    case CRDT_COUNTER: return tx_mpr_int(r, &f->u.counter);
    case CRDT_SET:
        if ((err = tx_mpr_array(r, &n, CRDT_MAX_ELEMS)))
            return err;
        if (n && !(f->u.set.e = tx_calloc(n, sizeof(*f->u.set.e))))
            return TX_ENOMEM;
        for (uint32_t k = 0; k < n; k++) {
            struct crdt_set_elem *el = &f->u.set.e[k];
            const char *s;
            uint32_t sl, nd;

            if ((err = tx_mpr_array_n(r, 2)) || (err = tx_mpr_str(r, &s, &sl, CRDT_MAX_ELEM)) ||
                (err = tx_mpr_array(r, &nd, CRDT_MAX_ENTRIES)))
                return err;
            if (!(el->s = tx_strndup(s, sl)))
                return TX_ENOMEM;
            el->len = sl;
            f->u.set.n = k + 1;
            if (nd == 0 || (k && bytes_cmp(f->u.set.e[k - 1].s, f->u.set.e[k - 1].len, s, sl) >= 0))
                return TX_ECORRUPT;
            if (!(el->dots = tx_calloc(nd, sizeof(*el->dots))))
                return TX_ENOMEM;
            for (uint32_t j = 0; j < nd; j++) {
                if ((err = tx__dot_decode(r, &el->dots[j])))
                    return err;
                el->ndots = j + 1;
                if (j && crdt_dot_cmp(&el->dots[j - 1], &el->dots[j]) >= 0)
                    return TX_ECORRUPT;
            }
        }
        return TX_OK;
    case CRDT_STATUS: return tx_mpr_uint(r, &f->u.status);
    }
    return TX_ECORRUPT;
}

int crdt_record_decode(struct crdt_record *r, const void *buf, size_t len)
{
    struct tx_mpr rd;
    uint32_t n;
    int err;

    crdt_record_release(r);
    tx_mpr_init(&rd, buf, len);
    if ((err = tx_mpr_array(&rd, &n, CRDT_MAX_FIELDS)))
        goto fail;
    if (n && !(r->f = tx_calloc(n, sizeof(*r->f)))) {
        err = TX_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        r->n = i + 1;
        if ((err = field_decode(&rd, &r->f[i])))
            goto fail;
        if (i && field_cmp(&r->f[i - 1], r->f[i].name, r->f[i].name_len, r->f[i].kind) >= 0) {
            err = TX_ECORRUPT;
            goto fail;
        }
    }
    if ((err = tx_mpr_done(&rd)))
        goto fail;
    return TX_OK;
fail:
    crdt_record_release(r);
    return err;
}
