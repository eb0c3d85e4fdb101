/*
 * fuzz_record.c - stored record state (crdt_record_decode) and crdt_record_apply.
 *
 * 1. The whole input as a stored state: when accepted, the record satisfies the
 *    documented invariants and crdt_record_encode reproduces the input exactly.
 * 2. The input split in two halves: when the first half is a body, its ops are
 *    applied (dot = (0x07.., 1, index), fixed HLC) to a fresh record and, when the
 *    second half is a stored state, to that record too. After each apply the op's
 *    effect is visible; a failed apply leaves the record unchanged; at the end the
 *    invariants hold and encode -> decode -> encode gives the same bytes.
 */
#include "fuzz.h"

#define FZ_HLC CRDT_HLC_MAKE(UINT64_C(1700000000000), 7)
/* Snapshot the record around this many applies per body (cost is quadratic). */
#define FZ_SNAPSHOT_OPS 16

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c)
        return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static void check_invariants(const struct crdt_record *r)
{
    for (uint32_t i = 0; i < r->n; i++) {
        const struct crdt_field *f = &r->f[i];

        FZ_CHECK(crdt_check_field(f->name, f->name_len) == TX_OK);
        FZ_CHECK(f->name[f->name_len] == '\0');
        FZ_CHECK(crdt_kind_name(f->kind) != NULL);
        FZ_CHECK(crdt_record_field(r, f->name, f->name_len, f->kind) == f);
        if (i) {
            int c = bytes_cmp(r->f[i - 1].name, r->f[i - 1].name_len, f->name, f->name_len);

            FZ_CHECK(c < 0 || (c == 0 && r->f[i - 1].kind < f->kind));
        }
        if (f->kind == CRDT_LWW) {
            FZ_CHECK((f->u.lww.n == 0) == (crdt_lww_winner(f) == NULL));
            for (uint32_t k = 1; k < f->u.lww.n; k++)
                FZ_CHECK(crdt_dot_cmp(&f->u.lww.e[k - 1].dot, &f->u.lww.e[k].dot) < 0);
        } else if (f->kind == CRDT_SET) {
            for (uint32_t k = 0; k < f->u.set.n; k++) {
                const struct crdt_set_elem *el = &f->u.set.e[k];

                FZ_CHECK(el->ndots > 0 && el->s[el->len] == '\0');
                FZ_CHECK(crdt_set_has(f, el->s, el->len));
                if (k) {
                    const struct crdt_set_elem *prev = &f->u.set.e[k - 1];

                    FZ_CHECK(bytes_cmp(prev->s, prev->len, el->s, el->len) < 0);
                }
                for (uint32_t j = 1; j < el->ndots; j++)
                    FZ_CHECK(crdt_dot_cmp(&el->dots[j - 1], &el->dots[j]) < 0);
            }
        }
    }
}

/* Encode r into w (initialised here); TX_ENOMEM is passed back, anything else
 * but success fails the run. */
static int encode(const struct crdt_record *r, struct tx_mpw *w)
{
    int err;

    tx_mpw_init(w, FZ_MAX_OUT);
    err = crdt_record_encode(r, w);
    FZ_CHECK(err == TX_OK || err == TX_ENOMEM);
    return err;
}

/* encode -> decode -> encode is stable. */
static void check_roundtrip(const struct crdt_record *r)
{
    struct tx_mpw w1, w2;
    struct crdt_record d;
    int err;

    if (encode(r, &w1) == TX_OK) {
        crdt_record_init(&d);
        err = crdt_record_decode(&d, w1.buf, w1.len);
        if (err != TX_ENOMEM) {
            FZ_CHECK(err == TX_OK);
            FZ_CHECK(d.n == r->n);
            if (encode(&d, &w2) == TX_OK)
                FZ_CHECK(fz_same(&w2, w1.buf, w1.len));
            tx_mpw_release(&w2);
        }
        crdt_record_release(&d);
    }
    tx_mpw_release(&w1);
}

static int has_dot(const struct crdt_field *f, const struct crdt_dot *dot)
{
    for (uint32_t k = 0; k < f->u.lww.n; k++)
        if (crdt_dot_cmp(&f->u.lww.e[k].dot, dot) == 0)
            return 1;
    return 0;
}

static void apply_one(struct crdt_record *r, const struct crdt_op *op, uint32_t idx, int snapshot)
{
    struct crdt_dot dot;
    struct tx_mpw before, after;
    const struct crdt_field *f;
    int kind = crdt_op_kind(op->code);
    int64_t ctr = 0;
    int have_before = 0;
    int err;

    memset(&dot, 0, sizeof(dot));
    memset(dot.origin, 0x07, sizeof(dot.origin));
    dot.seq = 1;
    dot.idx = idx;
    f = crdt_record_field(r, op->field, op->field_len, kind);
    if (f && kind == CRDT_COUNTER)
        ctr = f->u.counter;
    if (snapshot)
        have_before = encode(r, &before) == TX_OK;

    err = crdt_record_apply(r, op, &dot, FZ_HLC);
    if (err != TX_OK) {
        /* A decoded op is well formed: only allocation may fail, and then the
         * record is documented unchanged. */
        FZ_CHECK(err == TX_ENOMEM);
        if (have_before && encode(r, &after) == TX_OK)
            FZ_CHECK(fz_same(&after, before.buf, before.len));
        if (have_before)
            tx_mpw_release(&after);
    } else {
        f = crdt_record_field(r, op->field, op->field_len, kind);
        FZ_CHECK(f != NULL);
        switch (op->code) {
        case CRDT_OP_LWW_SET: FZ_CHECK(has_dot(f, &dot)); break;
        case CRDT_OP_CTR_ADD:
            FZ_CHECK(f->u.counter == (int64_t)((uint64_t)ctr + (uint64_t)op->value.i));
            break;
        case CRDT_OP_SET_ADD: FZ_CHECK(crdt_set_has(f, op->value.s, op->value.len)); break;
        case CRDT_OP_STATUS_SET: FZ_CHECK(f->u.status >= (uint64_t)op->value.i); break;
        default: break;
        }
    }
    if (snapshot)
        tx_mpw_release(&before);
}

static void apply_body(struct crdt_record *r, const struct crdt_body *b)
{
    for (uint32_t i = 0; i < b->nops; i++)
        apply_one(r, &b->ops[i], i, i < FZ_SNAPSHOT_OPS);
    check_invariants(r);
    if (r->n <= CRDT_MAX_FIELDS)
        check_roundtrip(r);
}

/* Part 1: the whole input is a stored state. */
static void whole(const uint8_t *data, size_t size)
{
    struct crdt_record r;
    struct tx_mpw w;
    int err;

    crdt_record_init(&r);
    err = crdt_record_decode(&r, data, size);
    if (err == TX_OK) {
        check_invariants(&r);
        if (encode(&r, &w) == TX_OK)
            FZ_CHECK(fz_same(&w, data, size));
        tx_mpw_release(&w);
    } else {
        FZ_CHECK(err < 0);
    }
    crdt_record_release(&r);
}

/* Part 2: first half a body, second half (optionally) a stored state. Each half
 * is copied to its own allocation so an over-read of one half is caught. */
static void halves(const uint8_t *data, size_t size)
{
    size_t half = size / 2;
    uint8_t *a, *b = NULL;
    struct crdt_body body;
    struct crdt_record r;

    if (half == 0 || !(a = malloc(half)))
        return;
    memcpy(a, data, half);
    if (crdt_body_decode(&body, a, half) == TX_OK) {
        crdt_record_init(&r);
        apply_body(&r, &body);
        crdt_record_release(&r);

        if ((b = malloc(size - half)) != NULL) {
            memcpy(b, data + half, size - half);
            crdt_record_init(&r);
            if (crdt_record_decode(&r, b, size - half) == TX_OK)
                apply_body(&r, &body);
            crdt_record_release(&r);
        }
    }
    crdt_body_release(&body);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    whole(data, size);
    halves(data, size);
    return 0;
}
