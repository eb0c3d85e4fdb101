/*
 * fuzz_mp.c - the bounded msgpack reader (tx_mpr_*) over arbitrary bytes.
 *
 * The input is read as a sequence of top-level objects in two independent ways,
 * for depth limits 0, 1, 8 and 63:
 *  - a walker that peeks at each object and reads it with the typed reader peek
 *    names (containers by header, elements one by one, an explicit stack);
 *  - tx_mpr_skip, one top-level object per call.
 * Oracles:
 *  - both accept the same number of objects and stop at the same offset;
 *  - every value the walker read, written back with tx_mpw_*, reproduces the
 *    bytes consumed exactly (the reader only accepts canonical encodings, and
 *    the writer only produces them); a writer with a smaller cap fails with
 *    TX_ETOOBIG instead, and its error is sticky;
 *  - at each object, every typed reader tried on a copy of the cursor agrees
 *    with peek, honours its maximum, and stays inside the buffer.
 * The reader never allocates, so a leak here would be in the writer.
 */
#include "fuzz.h"

/* Maxima tried on every header: the boundaries of the fix, 8- and 16-bit forms. */
static const uint32_t maxima[] = {0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, UINT32_MAX};
#define NMAXIMA (sizeof(maxima) / sizeof(maxima[0]))

static void in_bounds(const struct tx_mpr *r, const uint8_t *data, size_t size)
{
    FZ_CHECK(r->p >= data && r->p <= data + size && r->end == data + size);
}

/* Scalars: the typed reader works exactly when peek names its type. */
static void probe_scalars(const struct tx_mpr *r0, int t, const uint8_t *data, size_t size)
{
    struct tx_mpr r, ri;
    uint64_t u = 0;
    int64_t i = 0;
    int flag = 0, err, err_u;

    r = *r0;
    err = tx_mpr_nil(&r);
    FZ_CHECK((err == TX_OK) == (t == TX_MP_NIL));
    FZ_CHECK(err || r.p == r0->p + 1);
    r = *r0;
    err = tx_mpr_bool(&r, &flag);
    FZ_CHECK((err == TX_OK) == (t == TX_MP_BOOL));
    FZ_CHECK(err || ((flag == 0 || flag == 1) && r.p == r0->p + 1));
    r = *r0;
    err_u = tx_mpr_uint(&r, &u);
    FZ_CHECK(err_u != TX_OK || t == TX_MP_UINT);
    in_bounds(&r, data, size);
    ri = *r0;
    err = tx_mpr_int(&ri, &i);
    FZ_CHECK(err != TX_OK || t == TX_MP_UINT || t == TX_MP_INT);
    in_bounds(&ri, data, size);
    if (err == TX_OK && t == TX_MP_INT)
        FZ_CHECK(i < 0);
    if (err_u == TX_OK) {
        /* A uint that fits int64 reads the same through tx_mpr_int. */
        if (u <= INT64_MAX)
            FZ_CHECK(err == TX_OK && (uint64_t)i == u && ri.p == r.p);
        else
            FZ_CHECK(err != TX_OK);
    }
    r = *r0;
    FZ_CHECK(tx_mpr_done(&r) == (tx_mpr_left(&r) ? TX_ETRAILING : TX_OK));
}

/* Containers: maxima are honoured and counts never exceed the bytes left. */
static void probe_containers(const struct tx_mpr *r0, int t)
{
    struct tx_mpr r;
    uint32_t n, m;
    int err, err_map;

    r = *r0;
    err = tx_mpr_array(&r, &n, UINT32_MAX);
    FZ_CHECK(err != TX_OK || (t == TX_MP_ARRAY && n <= tx_mpr_left(&r)));
    if (err == TX_OK) {
        for (size_t k = 0; k < NMAXIMA; k++) {
            r = *r0;
            err = tx_mpr_array(&r, &m, maxima[k]);
            FZ_CHECK(n <= maxima[k] ? err == TX_OK && m == n : err == TX_ETOOBIG);
        }
        r = *r0;
        FZ_CHECK(tx_mpr_array_n(&r, n) == TX_OK);
        r = *r0;
        FZ_CHECK(n == UINT32_MAX || tx_mpr_array_n(&r, n + 1) != TX_OK);
    }
    r = *r0;
    err_map = tx_mpr_map(&r, &n, UINT32_MAX);
    FZ_CHECK(err_map != TX_OK || (t == TX_MP_MAP && (uint64_t)n * 2 <= tx_mpr_left(&r)));
    if (err_map == TX_OK) {
        for (size_t k = 0; k < NMAXIMA; k++) {
            r = *r0;
            err = tx_mpr_map(&r, &m, maxima[k]);
            FZ_CHECK(n <= maxima[k] ? err == TX_OK && m == n : err == TX_ETOOBIG);
        }
    }
}

/* str and bin: the payload is inside the buffer and within the maximum. */
static void probe_bytes(const struct tx_mpr *r0, int t, const uint8_t *data, size_t size)
{
    struct tx_mpr r;
    const char *s;
    const uint8_t *b;
    uint32_t n, m;
    int err;

    r = *r0;
    err = tx_mpr_str(&r, &s, &n, UINT32_MAX);
    FZ_CHECK(err != TX_OK || t == TX_MP_STR);
    if (err == TX_OK) {
        FZ_CHECK((const uint8_t *)s > r0->p && (const uint8_t *)s + n == r.p);
        in_bounds(&r, data, size);
        for (size_t k = 0; k < NMAXIMA; k++) {
            r = *r0;
            err = tx_mpr_str(&r, &s, &m, maxima[k]);
            FZ_CHECK(n <= maxima[k] ? err == TX_OK && m == n : err != TX_OK);
        }
    }
    r = *r0;
    err = tx_mpr_bin(&r, &b, &n, UINT32_MAX);
    FZ_CHECK(err != TX_OK || t == TX_MP_BIN);
    if (err == TX_OK) {
        uint8_t *copy = malloc(n ? n : 1);

        FZ_CHECK(b > r0->p && b + n == r.p);
        in_bounds(&r, data, size);
        for (size_t k = 0; k < NMAXIMA; k++) {
            r = *r0;
            err = tx_mpr_bin(&r, &b, &m, maxima[k]);
            FZ_CHECK(n <= maxima[k] ? err == TX_OK && m == n : err != TX_OK);
        }
        if (copy) {
            r = *r0;
            FZ_CHECK(tx_mpr_bin_fixed(&r, copy, n) == TX_OK && memcmp(copy, b, n) == 0);
            r = *r0;
            FZ_CHECK(n == 0 || tx_mpr_bin_fixed(&r, copy, n - 1) != TX_OK);
            free(copy);
        }
    }
}

static void probe(const struct tx_mpr *r0, const uint8_t *data, size_t size)
{
    struct tx_mpr r = *r0;
    int t = tx_mpr_peek(r0);
    int err;

    if (t < 0) {
        FZ_CHECK(t == TX_ETRUNC && tx_mpr_left(r0) == 0);
        return;
    }
    FZ_CHECK(t >= TX_MP_NIL && t <= TX_MP_OTHER);
    probe_scalars(r0, t, data, size);
    probe_containers(r0, t);
    probe_bytes(r0, t, data, size);
    /* Depth 0 admits exactly the scalars. */
    err = tx_mpr_skip(&r, 0);
    in_bounds(&r, data, size);
    if (t == TX_MP_ARRAY || t == TX_MP_MAP || t == TX_MP_OTHER)
        FZ_CHECK(err != TX_OK);
}

/* Both writers get every value; wcap has a cap of half the input. */
struct out {
    struct tx_mpw w, wcap;
};

/* Read one object at r with the typed reader peek names, writing it back to o.
 * Returns TX_OK and the header's element count (objects to follow) in *more, or
 * an error with r where it was. */
static int read_item(struct tx_mpr *r, struct out *o, int *t_out, uint64_t *more)
{
    const uint8_t *p0 = r->p;
    struct tx_mpw *ws[2] = {&o->w, &o->wcap};
    const char *s = NULL;
    const uint8_t *b = NULL;
    uint32_t n = 0;
    uint64_t u = 0;
    int64_t i = 0;
    int flag = 0, err;
    int t = tx_mpr_peek(r);

    *t_out = t;
    *more = 0;
    switch (t) {
    case TX_MP_NIL: err = tx_mpr_nil(r); break;
    case TX_MP_BOOL: err = tx_mpr_bool(r, &flag); break;
    case TX_MP_UINT: err = tx_mpr_uint(r, &u); break;
    case TX_MP_INT: err = tx_mpr_int(r, &i); break;
    case TX_MP_STR: err = tx_mpr_str(r, &s, &n, UINT32_MAX); break;
    case TX_MP_BIN: err = tx_mpr_bin(r, &b, &n, UINT32_MAX); break;
    case TX_MP_ARRAY: err = tx_mpr_array(r, &n, UINT32_MAX); break;
    case TX_MP_MAP: err = tx_mpr_map(r, &n, UINT32_MAX); break;
    default: err = t < 0 ? t : TX_ETYPE;
    }
    if (err) {
        r->p = p0;
        return err;
    }
    FZ_CHECK(r->p > p0 && r->p <= r->end);
    for (int k = 0; k < 2; k++) {
        struct tx_mpw *w = ws[k];

        switch (t) {
        case TX_MP_NIL: tx_mpw_nil(w); break;
        case TX_MP_BOOL: tx_mpw_bool(w, flag); break;
        case TX_MP_UINT: tx_mpw_uint(w, u); break;
        case TX_MP_INT: tx_mpw_int(w, i); break;
        case TX_MP_STR: tx_mpw_str(w, s, n); break;
        case TX_MP_BIN: tx_mpw_bin(w, b, n); break;
        case TX_MP_ARRAY: tx_mpw_array(w, n); break;
        case TX_MP_MAP: tx_mpw_map(w, n); break;
        }
    }
    if (t == TX_MP_ARRAY)
        *more = n;
    else if (t == TX_MP_MAP)
        *more = (uint64_t)n * 2;
    return TX_OK;
}

/* One top-level object, nesting at most max_depth (<= 63) containers deep. */
static int walk_one(struct tx_mpr *r, struct out *o, int max_depth, int probing,
                    const uint8_t *data, size_t size)
{
    uint64_t stack[64];
    uint64_t pending = 1, more;
    int depth = 0;
    int t, err;

    while (pending || depth) {
        if (!pending) {
            pending = stack[--depth];
            continue;
        }
        pending--;
        if (probing)
            probe(r, data, size);
        if ((err = read_item(r, o, &t, &more)))
            return err;
        if (t == TX_MP_ARRAY || t == TX_MP_MAP) {
            if (depth >= max_depth)
                return TX_EDEPTH;
            stack[depth++] = pending;
            pending = more;
        }
    }
    return TX_OK;
}

static void walk_and_skip(const uint8_t *data, size_t size, int max_depth, int probing)
{
    struct tx_mpr r, rs;
    struct out o;
    size_t cap = size / 2;
    size_t nw = 0, ns = 0, used;
    const uint8_t *endw = data, *ends = data;
    int errw, errc;

    tx_mpw_init(&o.w, size);
    tx_mpw_init(&o.wcap, cap);
    tx_mpr_init(&r, data, size);
    while (tx_mpr_left(&r) && walk_one(&r, &o, max_depth, probing, data, size) == TX_OK) {
        nw++;
        endw = r.p;
    }
    in_bounds(&r, data, size);

    /* What the walker read, written back, is what it consumed. */
    used = (size_t)(r.p - data);
    errw = tx_mpw_finish(&o.w);
    if (errw != TX_ENOMEM) {
        FZ_CHECK(errw == TX_OK);
        FZ_CHECK(fz_same(&o.w, data, used));
    }
    errc = tx_mpw_finish(&o.wcap);
    if (errc != TX_ENOMEM) {
        if (used <= cap)
            FZ_CHECK(errc == TX_OK && fz_same(&o.wcap, data, used));
        else
            FZ_CHECK(errc == TX_ETOOBIG && o.wcap.len <= cap);
    }
    tx_mpw_release(&o.w);
    tx_mpw_release(&o.wcap);

    tx_mpr_init(&rs, data, size);
    while (tx_mpr_left(&rs)) {
        const uint8_t *p0 = rs.p;
        int err = tx_mpr_skip(&rs, max_depth);

        in_bounds(&rs, data, size);
        if (err) {
            FZ_CHECK(err < 0);
            break;
        }
        FZ_CHECK(rs.p > p0);
        ns++;
        ends = rs.p;
    }
    FZ_CHECK(nw == ns && endw == ends);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int depths[] = {0, 1, 8, 63};
    static const int wild[] = {-1, 64, INT32_MAX};
    struct tx_mpr r;

    tx_mpr_init(&r, data, 0);
    FZ_CHECK(tx_mpr_left(&r) == 0 && tx_mpr_peek(&r) == TX_ETRUNC && tx_mpr_done(&r) == TX_OK);

    for (size_t k = 0; k < sizeof(depths) / sizeof(depths[0]); k++)
        walk_and_skip(data, size, depths[k], depths[k] == 63);
    /* Depth limits past the reader's own stack: only safety is checked. */
    for (size_t k = 0; k < sizeof(wild) / sizeof(wild[0]); k++) {
        tx_mpr_init(&r, data, size);
        while (tx_mpr_left(&r) && tx_mpr_skip(&r, wild[k]) == TX_OK)
            ;
        in_bounds(&r, data, size);
    }
    return 0;
}
