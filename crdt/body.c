/*
 * body.c - identifiers, values, dots, ops and bodies, with their codecs side by side.
 *
 *   value  := nil | bool | int | str | bin            (canonical msgpack scalar)
 *   dot    := [origin: bin 32, seq: uint, idx: uint]
 *   op     := [type: str, id: str, field: str, code: uint, value, sup: [dot...]]
 *   body   := [op...]
 */
#include <string.h>

#include "crdt.h"
#include "internal.h"

int crdt_dot_cmp(const struct crdt_dot *a, const struct crdt_dot *b)
{
    int c = memcmp(a->origin, b->origin, CRDT_KEY_BYTES);

    if (c)
        return c < 0 ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    if (a->idx != b->idx)
        return a->idx < b->idx ? -1 : 1;
    return 0;
}

const char *crdt_kind_name(int kind)
{
    switch (kind) {
    case CRDT_LWW: return "lww";
    case CRDT_COUNTER: return "counter";
    case CRDT_SET: return "set";
    case CRDT_STATUS: return "status";
    default: return NULL;
    }
}

int crdt_op_kind(int code)
{
    switch (code) {
    case CRDT_OP_LWW_SET: return CRDT_LWW;
    case CRDT_OP_CTR_ADD: return CRDT_COUNTER;
    case CRDT_OP_SET_ADD:
    case CRDT_OP_SET_REM: return CRDT_SET;
    case CRDT_OP_STATUS_SET: return CRDT_STATUS;
    default: return 0;
    }
}

static int is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int crdt_check_type(const char *s, size_t n)
{
    if (n == 0 || n > CRDT_MAX_TYPE || !is_lower(s[0]))
        return TX_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '_')
            return TX_EINVAL;
    return TX_OK;
}

int crdt_check_field(const char *s, size_t n)
{
    if (n == 0 || n > CRDT_MAX_FIELD || !is_lower(s[0]))
        return TX_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '_' && s[i] != '.')
            return TX_EINVAL;
    return TX_OK;
}

int crdt_check_scope(const char *s, size_t n)
{
    if (n == 0 || n > CRDT_MAX_SCOPE || !is_lower(s[0]))
        return TX_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (!is_lower(s[i]) && !is_digit(s[i]) && (!s[i] || !strchr("_.:/-", s[i])))
            return TX_EINVAL;
    return TX_OK;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF), no C0/DEL controls. */
int tx__utf8_check(const char *str, size_t n, int allow_newline)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        uint32_t cp;
        int len;

        if (c < 0x80) {
            if ((c < 0x20 && !(allow_newline && (c == '\n' || c == '\t'))) || c == 0x7f)
                return TX_EINVAL;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return TX_EINVAL;
        }
        if (n - i < (size_t)len)
            return TX_EINVAL;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return TX_EINVAL;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return TX_EINVAL;
        i += (size_t)len;
    }
    return TX_OK;
}

int crdt_check_id(const char *s, size_t n)
{
    if (n == 0 || n > CRDT_MAX_ID)
        return TX_EINVAL;
    return tx__utf8_check(s, n, 0);
}

int crdt_op_check(const struct crdt_op *op)
{
    int kind = crdt_op_kind(op->code);

    if (crdt_check_type(op->type, op->type_len) || crdt_check_id(op->id, op->id_len) ||
        crdt_check_field(op->field, op->field_len))
        return TX_EINVAL;
    if (!kind)
        return TX_EKIND;
    if (op->nsup > CRDT_MAX_SUP)
        return TX_ETOOBIG;
    switch (op->code) {
    case CRDT_OP_LWW_SET:
        if (op->value.type > CRDT_BIN)
            return TX_EKIND;
        if ((op->value.type == CRDT_STR || op->value.type == CRDT_BIN) &&
            op->value.len > CRDT_MAX_STR)
            return TX_ETOOBIG;
        if (op->value.type == CRDT_STR && tx__utf8_check(op->value.s, op->value.len, 1))
            return TX_EINVAL;
        if (op->value.type == CRDT_BOOL && op->value.i != 0 && op->value.i != 1)
            return TX_EINVAL;
        break;
    case CRDT_OP_CTR_ADD:
        if (op->value.type != CRDT_INT || op->nsup)
            return TX_EKIND;
        break;
    case CRDT_OP_SET_ADD:
    case CRDT_OP_SET_REM:
        if (op->value.type != CRDT_STR)
            return TX_EKIND;
        if (op->value.len > CRDT_MAX_ELEM)
            return TX_ETOOBIG;
        if (tx__utf8_check(op->value.s, op->value.len, 0))
            return TX_EINVAL;
        break;
    case CRDT_OP_STATUS_SET:
        if (op->value.type != CRDT_INT || op->value.i < 0 || op->nsup)
            return TX_EKIND;
        break;
    }
    return TX_OK;
}

/* ---- value and dot codecs (shared with record.c) ---- */

void crdt_value_encode(const struct crdt_value *v, struct tx_mpw *w)
{
    switch (v->type) {
    case CRDT_NIL: tx_mpw_nil(w); break;
    case CRDT_BOOL: tx_mpw_bool(w, v->i != 0); break;
    case CRDT_INT: tx_mpw_int(w, v->i); break;
    case CRDT_STR: tx_mpw_str(w, v->s, v->len); break;
    case CRDT_BIN: tx_mpw_bin(w, v->s, v->len); break;
    default:
        if (!w->err)
            w->err = TX_EINVAL;
    }
}

int crdt_value_decode(struct tx_mpr *r, struct crdt_value *v)
{
    int t = tx_mpr_peek(r);
    int b;

    memset(v, 0, sizeof(*v));
    switch (t) {
    case TX_MP_NIL: v->type = CRDT_NIL; return tx_mpr_nil(r);
    case TX_MP_BOOL:
        v->type = CRDT_BOOL;
        if (tx_mpr_bool(r, &b))
            return TX_ETYPE;
        v->i = b;
        return TX_OK;
    case TX_MP_UINT:
    case TX_MP_INT: v->type = CRDT_INT; return tx_mpr_int(r, &v->i);
    case TX_MP_STR: v->type = CRDT_STR; return tx_mpr_str(r, &v->s, &v->len, CRDT_MAX_STR);
    case TX_MP_BIN:
        v->type = CRDT_BIN;
        return tx_mpr_bin(r, (const uint8_t **)&v->s, &v->len, CRDT_MAX_STR);
    default: return t < 0 ? t : TX_ETYPE;
    }
}

void tx__dot_encode(const struct crdt_dot *d, struct tx_mpw *w)
{
    tx_mpw_array(w, 3);
    tx_mpw_bin(w, d->origin, CRDT_KEY_BYTES);
    tx_mpw_uint(w, d->seq);
    tx_mpw_uint(w, d->idx);
}

int tx__dot_decode(struct tx_mpr *r, struct crdt_dot *d)
{
    uint64_t idx;
    int err;

    if ((err = tx_mpr_array_n(r, 3)) || (err = tx_mpr_bin_fixed(r, d->origin, CRDT_KEY_BYTES)) ||
        (err = tx_mpr_uint(r, &d->seq)) || (err = tx_mpr_uint(r, &idx)))
        return err;
    if (d->seq == 0 || idx >= CRDT_MAX_OPS)
        return TX_EINVAL;
    d->idx = (uint32_t)idx;
    return TX_OK;
}

/* ---- body codec ---- */

int crdt_body_encode(const struct crdt_body *b, struct tx_mpw *w)
{
    int err;

    if (b->nops == 0 || b->nops > CRDT_MAX_OPS)
        return TX_EINVAL;
    tx_mpw_array(w, b->nops);
    for (uint32_t i = 0; i < b->nops; i++) {
        const struct crdt_op *op = &b->ops[i];

        if ((err = crdt_op_check(op)))
            return err;
        tx_mpw_array(w, 6);
        tx_mpw_str(w, op->type, op->type_len);
        tx_mpw_str(w, op->id, op->id_len);
        tx_mpw_str(w, op->field, op->field_len);
        tx_mpw_uint(w, op->code);
        crdt_value_encode(&op->value, w);
        tx_mpw_array(w, op->nsup);
        for (uint32_t k = 0; k < op->nsup; k++)
            tx__dot_encode(&op->sup[k], w);
    }
    return tx_mpw_finish(w);
}

static int op_decode(struct tx_mpr *r, struct crdt_op *op)
{
    uint64_t code;
    uint32_t nsup;
    int err;

    if ((err = tx_mpr_array_n(r, 6)) ||
        (err = tx_mpr_str(r, &op->type, &op->type_len, CRDT_MAX_TYPE)) ||
        (err = tx_mpr_str(r, &op->id, &op->id_len, CRDT_MAX_ID)) ||
        (err = tx_mpr_str(r, &op->field, &op->field_len, CRDT_MAX_FIELD)) ||
        (err = tx_mpr_uint(r, &code)) || (err = crdt_value_decode(r, &op->value)) ||
        (err = tx_mpr_array(r, &nsup, CRDT_MAX_SUP)))
        return err;
    if (code > 255)
        return TX_EKIND;
    op->code = (uint8_t)code;
    if (nsup) {
        /* A dot takes at least 36 bytes: refuse counts the input cannot hold. */
        if ((size_t)nsup * 36 > tx_mpr_left(r))
            return TX_ETRUNC;
        op->sup = tx_calloc(nsup, sizeof(*op->sup));
        if (!op->sup)
            return TX_ENOMEM;
    }
    op->nsup = nsup;
    for (uint32_t k = 0; k < nsup; k++)
        if ((err = tx__dot_decode(r, &op->sup[k])))
            return err;
    return crdt_op_check(op);
}

int crdt_body_decode(struct crdt_body *b, const void *buf, size_t len)
{
    struct tx_mpr r;
    uint32_t n;
    int err;

    memset(b, 0, sizeof(*b));
    if (len > CRDT_MAX_BODY)
        return TX_ETOOBIG;
    tx_mpr_init(&r, buf, len);
    if ((err = tx_mpr_array(&r, &n, CRDT_MAX_OPS)))
        return err;
    if (n == 0)
        return TX_EBODY;
    /* An op takes at least 10 bytes (6-array, 3 strs of >= 1 byte, code, value,
     * sup): count and bytes agree before we allocate for them. */
    if ((size_t)n * 10 > tx_mpr_left(&r))
        return TX_ETRUNC;
    b->ops = tx_calloc(n, sizeof(*b->ops));
    if (!b->ops)
        return TX_ENOMEM;
    b->nops = n;
    for (uint32_t i = 0; i < n; i++)
        if ((err = op_decode(&r, &b->ops[i])))
            return err;
    return tx_mpr_done(&r);
}

void crdt_body_release(struct crdt_body *b)
{
    if (b->ops)
        for (uint32_t i = 0; i < b->nops; i++)
            tx_free(b->ops[i].sup);
    tx_free(b->ops);
    memset(b, 0, sizeof(*b));
}
