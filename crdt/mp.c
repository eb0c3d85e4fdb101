/*
 * mp.c - the bounded msgpack reader and writer every codec uses.
 *
 * The reader is a cursor over borrowed bytes and never allocates: msgpack-c's
 * object unpacker allocates from declared container sizes (a 5-byte header can
 * ask for 16.7 million objects), so untrusted bytes never go near it. Every read
 * insists on the canonical encoding msgpack-c's packer produces (the shortest
 * form; non-negative integers as unsigned), which makes encodings unique.
 *
 * The writer wraps msgpack-c's packer around a growable buffer with a hard cap.
 */
#include <msgpack.h>
#include <string.h>

#include "crdt.h"

_Static_assert(sizeof(msgpack_packer) <= sizeof(((struct tx_mpw *)0)->pk_mem),
               "pk_mem too small for msgpack_packer");

void tx_mpr_init(struct tx_mpr *r, const void *buf, size_t len)
{
    r->p = buf;
    r->end = buf ? r->p + len : r->p;
}

size_t tx_mpr_left(const struct tx_mpr *r)
{
    return (size_t)(r->end - r->p);
}

int tx_mpr_done(const struct tx_mpr *r)
{
    return r->p == r->end ? TX_OK : TX_ETRAILING;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int tx_mpr_peek(const struct tx_mpr *r)
{
    uint8_t c;

    if (r->p >= r->end)
        return TX_ETRUNC;
    c = *r->p;
    if (c <= 0x7f || c == 0xcc || c == 0xcd || c == 0xce || c == 0xcf)
        return TX_MP_UINT;
    if (c >= 0xe0 || c == 0xd0 || c == 0xd1 || c == 0xd2 || c == 0xd3)
        return TX_MP_INT;
    if ((c & 0xe0) == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb)
        return TX_MP_STR;
    if (c == 0xc4 || c == 0xc5 || c == 0xc6)
        return TX_MP_BIN;
    if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd)
        return TX_MP_ARRAY;
    if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf)
        return TX_MP_MAP;
    if (c == 0xc0)
        return TX_MP_NIL;
    if (c == 0xc2 || c == 0xc3)
        return TX_MP_BOOL;
    return TX_MP_OTHER;
}

/* Take n bytes after the marker byte; TX_ETRUNC if they are not there. */
static int need(const struct tx_mpr *r, size_t n)
{
    return tx_mpr_left(r) >= n ? TX_OK : TX_ETRUNC;
}

int tx_mpr_nil(struct tx_mpr *r)
{
    if (r->p >= r->end)
        return TX_ETRUNC;
    if (*r->p != 0xc0)
        return TX_ETYPE;
    r->p++;
    return TX_OK;
}

int tx_mpr_bool(struct tx_mpr *r, int *v)
{
    if (r->p >= r->end)
        return TX_ETRUNC;
    if (*r->p != 0xc2 && *r->p != 0xc3)
        return TX_ETYPE;
    *v = *r->p == 0xc3;
    r->p++;
    return TX_OK;
}

int tx_mpr_uint(struct tx_mpr *r, uint64_t *v)
{
    uint8_t c;
    int n;
    uint64_t x;

    if (r->p >= r->end)
        return TX_ETRUNC;
    c = *r->p;
    if (c <= 0x7f) {
        *v = c;
        r->p++;
        return TX_OK;
    }
    switch (c) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    default: return TX_ETYPE;
    }
    if (need(r, 1 + (size_t)n))
        return TX_ETRUNC;
    x = be(r->p + 1, n);
    /* Canonical: the value must not fit the next smaller form. */
    if ((n == 1 && x <= 0x7f) || (n == 2 && x <= 0xff) || (n == 4 && x <= 0xffff) ||
        (n == 8 && x <= 0xffffffffu))
        return TX_ENONCANON;
    *v = x;
    r->p += 1 + n;
    return TX_OK;
}

int tx_mpr_int(struct tx_mpr *r, int64_t *v)
{
    uint8_t c;
    int n;
    int64_t x;
    int err;

    if (r->p >= r->end)
        return TX_ETRUNC;
    c = *r->p;
    if (tx_mpr_peek(r) == TX_MP_UINT) {
        struct tx_mpr save = *r;
        uint64_t u;

        if ((err = tx_mpr_uint(r, &u)))
            return err;
        if (u > INT64_MAX) {
            *r = save;
            return TX_EOVERFLOW;
        }
        *v = (int64_t)u;
        return TX_OK;
    }
    if (c >= 0xe0) {
        *v = (int8_t)c;
        r->p++;
        return TX_OK;
    }
    switch (c) {
    case 0xd0: n = 1; break;
    case 0xd1: n = 2; break;
    case 0xd2: n = 4; break;
    case 0xd3: n = 8; break;
    default: return TX_ETYPE;
    }
    if (need(r, 1 + (size_t)n))
        return TX_ETRUNC;
    switch (n) {
    case 1: x = (int8_t)r->p[1]; break;
    case 2: x = (int16_t)be(r->p + 1, 2); break;
    case 4: x = (int32_t)be(r->p + 1, 4); break;
    default: x = (int64_t)be(r->p + 1, 8); break;
    }
    /* Canonical: signed forms only for negatives that need them. */
    if (x >= -32 || (n == 2 && x >= INT8_MIN) || (n == 4 && x >= INT16_MIN) ||
        (n == 8 && x >= INT32_MIN))
        return TX_ENONCANON;
    *v = x;
    r->p += 1 + n;
    return TX_OK;
}

/* Read a length-bearing header: fix forms carry the length in the low bits of
 * the marker (fixmask), the others in 1, 2 or 4 following bytes (markers m8, m16,
 * m32; m8 0 when the type has no 8-bit form). min8 is the smallest length the
 * 8-bit form may carry canonically; the 16-bit form needs more than what the
 * shorter forms hold, the 32-bit form more than 0xffff. */
static int hdr(struct tx_mpr *r, uint32_t *n, uint8_t fixbase, uint8_t fixmask, uint8_t m8,
               uint8_t m16, uint8_t m32, uint32_t min8)
{
    uint8_t c;
    int len;
    uint32_t x;
    uint32_t min16 = m8 ? 0x100 : (uint32_t)fixmask + 1;

    if (r->p >= r->end)
        return TX_ETRUNC;
    c = *r->p;
    if (fixmask && (c & (uint8_t)~fixmask) == fixbase) {
        *n = c & fixmask;
        r->p++;
        return TX_OK;
    }
    if (m8 && c == m8)
        len = 1;
    else if (c == m16)
        len = 2;
    else if (c == m32)
        len = 4;
    else
        return TX_ETYPE;
    if (need(r, 1 + (size_t)len))
        return TX_ETRUNC;
    x = (uint32_t)be(r->p + 1, len);
    if ((len == 1 && x < min8) || (len == 2 && x < min16) || (len == 4 && x <= 0xffffu))
        return TX_ENONCANON;
    *n = x;
    r->p += 1 + len;
    return TX_OK;
}

int tx_mpr_array(struct tx_mpr *r, uint32_t *n, uint32_t max)
{
    const uint8_t *save = r->p;
    int err = hdr(r, n, 0x90, 0x0f, 0, 0xdc, 0xdd, 0);

    if (err)
        return err;
    /* Every element takes at least one byte: a count larger than what is left is
     * a lie, refused before anyone allocates for it. */
    if (*n > max || *n > tx_mpr_left(r)) {
        r->p = save;
        return *n > tx_mpr_left(r) && *n <= max ? TX_ETRUNC : TX_ETOOBIG;
    }
    return TX_OK;
}

int tx_mpr_array_n(struct tx_mpr *r, uint32_t n)
{
    uint32_t got;
    int err = tx_mpr_array(r, &got, n);

    if (err)
        return err == TX_ETOOBIG ? TX_ETYPE : err;
    return got == n ? TX_OK : TX_ETYPE;
}

int tx_mpr_map(struct tx_mpr *r, uint32_t *n, uint32_t max)
{
    const uint8_t *save = r->p;
    int err = hdr(r, n, 0x80, 0x0f, 0, 0xde, 0xdf, 0);

    if (err)
        return err;
    if (*n > max || (uint64_t)*n * 2 > tx_mpr_left(r)) {
        r->p = save;
        return (uint64_t)*n * 2 > tx_mpr_left(r) && *n <= max ? TX_ETRUNC : TX_ETOOBIG;
    }
    return TX_OK;
}

static int bytes(struct tx_mpr *r, const uint8_t **b, uint32_t *n, uint32_t max, int str)
{
    const uint8_t *save = r->p;
    int err =
        str ? hdr(r, n, 0xa0, 0x1f, 0xd9, 0xda, 0xdb, 32) : hdr(r, n, 0, 0, 0xc4, 0xc5, 0xc6, 0);

    if (err)
        return err;
    if (*n > max) {
        r->p = save;
        return TX_ETOOBIG;
    }
    if (*n > tx_mpr_left(r)) {
        r->p = save;
        return TX_ETRUNC;
    }
    *b = r->p;
    r->p += *n;
    return TX_OK;
}

int tx_mpr_str(struct tx_mpr *r, const char **s, uint32_t *n, uint32_t max)
{
    return bytes(r, (const uint8_t **)s, n, max, 1);
}

int tx_mpr_bin(struct tx_mpr *r, const uint8_t **b, uint32_t *n, uint32_t max)
{
    return bytes(r, b, n, max, 0);
}

int tx_mpr_bin_fixed(struct tx_mpr *r, void *out, uint32_t n)
{
    const uint8_t *save = r->p;
    const uint8_t *b;
    uint32_t got;
    int err = tx_mpr_bin(r, &b, &got, n);

    if (err)
        return err == TX_ETOOBIG ? TX_ETYPE : err;
    if (got != n) {
        r->p = save;
        return TX_ETYPE;
    }
    memcpy(out, b, n);
    return TX_OK;
}

int tx_mpr_skip(struct tx_mpr *r, int max_depth)
{
    /* Iterative: a count of objects still to skip per level, no recursion. */
    uint64_t pending = 1;
    int depth = 0;
    uint64_t stack[64];
    int err;

    if (max_depth > 63)
        max_depth = 63;
    while (pending || depth) {
        const char *s;
        const uint8_t *b;
        uint32_t n;
        uint64_t u;
        int64_t i;
        int flag;
        int t;

        if (!pending) {
            pending = stack[--depth];
            continue;
        }
        pending--;
        t = tx_mpr_peek(r);
        if (t < 0)
            return t;
        switch (t) {
        case TX_MP_NIL: err = tx_mpr_nil(r); break;
        case TX_MP_BOOL: err = tx_mpr_bool(r, &flag); break;
        case TX_MP_UINT: err = tx_mpr_uint(r, &u); break;
        case TX_MP_INT: err = tx_mpr_int(r, &i); break;
        case TX_MP_STR: err = tx_mpr_str(r, &s, &n, UINT32_MAX); break;
        case TX_MP_BIN: err = tx_mpr_bin(r, &b, &n, UINT32_MAX); break;
        case TX_MP_ARRAY:
        case TX_MP_MAP:
            err =
                t == TX_MP_ARRAY ? tx_mpr_array(r, &n, UINT32_MAX) : tx_mpr_map(r, &n, UINT32_MAX);
            if (err)
                return err;
            if (depth >= max_depth)
                return TX_EDEPTH;
            stack[depth++] = pending;
            pending = t == TX_MP_ARRAY ? n : (uint64_t)n * 2;
            break;
        default: return TX_ETYPE;
        }
        if (err)
            return err;
    }
    return TX_OK;
}

/* ---- writer ---- */

static int on_write(void *data, const char *buf, size_t len)
{
    struct tx_mpw *w = data;

    if (w->err)
        return -1;
    if (len > w->max - w->len) {
        w->err = TX_ETOOBIG;
        return -1;
    }
    if (w->len + len > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        uint8_t *nb;

        while (cap < w->len + len)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > w->max)
            cap = w->max;
        nb = tx_reallocarray(w->buf, cap, 1);
        if (!nb) {
            w->err = TX_ENOMEM;
            return -1;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, buf, len);
    w->len += len;
    return 0;
}

void tx_mpw_init(struct tx_mpw *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
    w->pk = w->pk_mem;
    msgpack_packer_init((msgpack_packer *)w->pk, w, on_write);
}

void tx_mpw_release(struct tx_mpw *w)
{
    size_t max = w->max;

    tx_free(w->buf);
    tx_mpw_init(w, max);
}

int tx_mpw_finish(const struct tx_mpw *w)
{
    return w->err;
}

uint8_t *tx_mpw_take(struct tx_mpw *w, size_t *len)
{
    uint8_t *b = w->buf;
    size_t max = w->max;

    *len = w->len;
    tx_mpw_init(w, max);
    return b;
}

/* The packer's struct may have moved with the writer: re-point it each call. */
static msgpack_packer *pk(struct tx_mpw *w)
{
    msgpack_packer *p = (msgpack_packer *)w->pk_mem;

    p->data = w;
    return p;
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if (!w->err && (call) != 0 && !w->err)                                                     \
            w->err = TX_EINVAL;                                                                    \
    } while (0)

void tx_mpw_nil(struct tx_mpw *w)
{
    CHECK(msgpack_pack_nil(pk(w)));
}

void tx_mpw_bool(struct tx_mpw *w, int v)
{
    CHECK(v ? msgpack_pack_true(pk(w)) : msgpack_pack_false(pk(w)));
}

void tx_mpw_uint(struct tx_mpw *w, uint64_t v)
{
    CHECK(msgpack_pack_uint64(pk(w), v));
}

void tx_mpw_int(struct tx_mpw *w, int64_t v)
{
    CHECK(msgpack_pack_int64(pk(w), v));
}

void tx_mpw_array(struct tx_mpw *w, uint32_t n)
{
    CHECK(msgpack_pack_array(pk(w), n));
}

void tx_mpw_map(struct tx_mpw *w, uint32_t n)
{
    CHECK(msgpack_pack_map(pk(w), n));
}

void tx_mpw_str(struct tx_mpw *w, const char *s, size_t n)
{
    if (n > UINT32_MAX) {
        if (!w->err)
            w->err = TX_ETOOBIG;
        return;
    }
    CHECK(msgpack_pack_str(pk(w), n));
    if (n)
        CHECK(msgpack_pack_str_body(pk(w), s, n));
}

void tx_mpw_bin(struct tx_mpw *w, const void *b, size_t n)
{
    if (n > UINT32_MAX) {
        if (!w->err)
            w->err = TX_ETOOBIG;
        return;
    }
    CHECK(msgpack_pack_bin(pk(w), n));
    if (n)
        CHECK(msgpack_pack_bin_body(pk(w), b, n));
}

void tx_mpw_raw(struct tx_mpw *w, const void *b, size_t n)
{
    if (n && !w->err)
        on_write(w, b, n);
}
