/*
 * env.c - the envelope codec.
 *
 *   envelope := [version: 1, origin: bin 32, seq: uint >= 1, prev: bin 32,
 *                hlc: uint, deps: [[origin: bin 32, seq: uint >= 1]...],
 *                scope: str, epoch: uint, nonce: bin 24, body: bin, sig: bin 64]
 *
 * The signature is the final element, so it always occupies the last 66 bytes
 * (c4 40 + 64) and the signed bytes are exactly the prefix before it. Decoding is
 * strict and canonical, so one envelope has one encoding and one hash.
 */
#include <sodium.h>
#include <string.h>

#include "crdt.h"

void crdt_env_init(struct crdt_env *e)
{
    memset(e, 0, sizeof(*e));
    e->version = CRDT_ENV_VERSION;
}

void crdt_env_release(struct crdt_env *e)
{
    tx_free(e->deps);
    e->deps = NULL;
    e->ndeps = 0;
}

static int is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Rules shared by encoder and decoder. */
static int env_check(const struct crdt_env *e)
{
    if (e->version != CRDT_ENV_VERSION)
        return TX_EVERSION;
    if (e->seq == 0 || (e->seq == 1) != is_zero(e->prev, CRDT_HASH_BYTES))
        return TX_EINVAL;
    if (e->ndeps > CRDT_MAX_DEPS)
        return TX_ETOOBIG;
    for (uint32_t i = 0; i < e->ndeps; i++) {
        if (e->deps[i].seq == 0 || memcmp(e->deps[i].origin, e->origin, CRDT_KEY_BYTES) == 0)
            return TX_EINVAL;
        if (i && memcmp(e->deps[i - 1].origin, e->deps[i].origin, CRDT_KEY_BYTES) >= 0)
            return TX_EINVAL;
    }
    if (crdt_check_scope(e->scope, e->scope_len))
        return TX_EINVAL;
    if (e->epoch == 0 && !is_zero(e->nonce, CRDT_NONCE_BYTES))
        return TX_EINVAL;
    if (e->body_len == 0)
        return TX_EINVAL;
    if (e->body_len > CRDT_MAX_BODY)
        return TX_ETOOBIG;
    return TX_OK;
}

int crdt_env_encode(const struct crdt_env *e, struct tx_mpw *w)
{
    int err = env_check(e);

    if (err)
        return err;
    tx_mpw_array(w, 11);
    tx_mpw_uint(w, e->version);
    tx_mpw_bin(w, e->origin, CRDT_KEY_BYTES);
    tx_mpw_uint(w, e->seq);
    tx_mpw_bin(w, e->prev, CRDT_HASH_BYTES);
    tx_mpw_uint(w, e->hlc);
    tx_mpw_array(w, e->ndeps);
    for (uint32_t i = 0; i < e->ndeps; i++) {
        tx_mpw_array(w, 2);
        tx_mpw_bin(w, e->deps[i].origin, CRDT_KEY_BYTES);
        tx_mpw_uint(w, e->deps[i].seq);
    }
    tx_mpw_str(w, e->scope, e->scope_len);
    tx_mpw_uint(w, e->epoch);
    tx_mpw_bin(w, e->nonce, CRDT_NONCE_BYTES);
    tx_mpw_bin(w, e->body, e->body_len);
    tx_mpw_bin(w, e->sig, CRDT_SIG_BYTES);
    if (!w->err && w->len > CRDT_MAX_ENVELOPE)
        w->err = TX_ETOOBIG;
    return tx_mpw_finish(w);
}

int crdt_env_decode(struct crdt_env *e, const void *buf, size_t len)
{
    struct tx_mpr r;
    uint64_t v;
    uint32_t n;
    const char *s;
    const uint8_t *b;
    int err;

    crdt_env_init(e);
    if (len > CRDT_MAX_ENVELOPE)
        return TX_ETOOBIG;
    tx_mpr_init(&r, buf, len);
    if ((err = tx_mpr_array_n(&r, 11)) || (err = tx_mpr_uint(&r, &v)))
        goto fail;
    if (v != CRDT_ENV_VERSION) {
        err = TX_EVERSION;
        goto fail;
    }
    e->version = (uint8_t)v;
    if ((err = tx_mpr_bin_fixed(&r, e->origin, CRDT_KEY_BYTES)) ||
        (err = tx_mpr_uint(&r, &e->seq)) ||
        (err = tx_mpr_bin_fixed(&r, e->prev, CRDT_HASH_BYTES)) ||
        (err = tx_mpr_uint(&r, &e->hlc)) || (err = tx_mpr_array(&r, &n, CRDT_MAX_DEPS)))
        goto fail;
    if (n) {
        /* A dep takes at least 36 bytes. */
        if ((size_t)n * 36 > tx_mpr_left(&r)) {
            err = TX_ETRUNC;
            goto fail;
        }
        if (!(e->deps = tx_calloc(n, sizeof(*e->deps)))) {
            err = TX_ENOMEM;
            goto fail;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if ((err = tx_mpr_array_n(&r, 2)) ||
            (err = tx_mpr_bin_fixed(&r, e->deps[i].origin, CRDT_KEY_BYTES)) ||
            (err = tx_mpr_uint(&r, &e->deps[i].seq)))
            goto fail;
        e->ndeps = i + 1;
    }
    if ((err = tx_mpr_str(&r, &s, &n, CRDT_MAX_SCOPE)))
        goto fail;
    memcpy(e->scope, s, n);
    e->scope[n] = '\0';
    e->scope_len = n;
    if ((err = tx_mpr_uint(&r, &v)))
        goto fail;
    if (v > UINT32_MAX) {
        err = TX_EINVAL;
        goto fail;
    }
    e->epoch = (uint32_t)v;
    if ((err = tx_mpr_bin_fixed(&r, e->nonce, CRDT_NONCE_BYTES)) ||
        (err = tx_mpr_bin(&r, &b, &n, CRDT_MAX_BODY)))
        goto fail;
    e->body = b;
    e->body_len = n;
    if ((err = tx_mpr_bin_fixed(&r, e->sig, CRDT_SIG_BYTES)) || (err = tx_mpr_done(&r)))
        goto fail;
    if ((err = env_check(e)))
        goto fail;
    return TX_OK;
fail:
    crdt_env_release(e);
    return err;
}

int crdt_env_peek(const void *buf, size_t len, uint8_t origin[CRDT_KEY_BYTES], uint64_t *seq)
{
    struct tx_mpr r;
    uint64_t v;
    int err;

    tx_mpr_init(&r, buf, len);
    if ((err = tx_mpr_array_n(&r, 11)) || (err = tx_mpr_uint(&r, &v)) ||
        (err = tx_mpr_bin_fixed(&r, origin, CRDT_KEY_BYTES)) || (err = tx_mpr_uint(&r, seq)))
        return err;
    return v == CRDT_ENV_VERSION ? TX_OK : TX_EVERSION;
}

int crdt_env_hash(const void *buf, size_t len, uint8_t out[CRDT_HASH_BYTES])
{
    if (crypto_generichash(out, CRDT_HASH_BYTES, buf, len, NULL, 0) != 0)
        return TX_ECRYPTO;
    return TX_OK;
}

int crdt_body_check_causal(const struct crdt_body *b, const struct crdt_env *e)
{
    for (uint32_t i = 0; i < b->nops; i++) {
        const struct crdt_op *op = &b->ops[i];

        for (uint32_t k = 0; k < op->nsup; k++) {
            const struct crdt_dot *d = &op->sup[k];
            int ok = 0;

            if (memcmp(d->origin, e->origin, CRDT_KEY_BYTES) == 0) {
                /* The origin's own earlier op: the chain orders earlier envelopes,
                 * the body's order earlier ops of this one. */
                ok = d->seq < e->seq || (d->seq == e->seq && d->idx < i);
            } else {
                for (uint32_t j = 0; j < e->ndeps; j++)
                    if (memcmp(e->deps[j].origin, d->origin, CRDT_KEY_BYTES) == 0) {
                        ok = d->seq <= e->deps[j].seq;
                        break;
                    }
            }
            if (!ok)
                return TX_ECAUSAL;
        }
    }
    return TX_OK;
}

int crdt_deps_from_dots(const uint8_t self[CRDT_KEY_BYTES], const struct crdt_dot *dots,
                        uint32_t ndots, struct crdt_dep *deps, uint32_t *ndeps)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < ndots; i++) {
        uint32_t j, pos;

        if (memcmp(dots[i].origin, self, CRDT_KEY_BYTES) == 0)
            continue;
        for (j = 0; j < n; j++)
            if (memcmp(deps[j].origin, dots[i].origin, CRDT_KEY_BYTES) == 0)
                break;
        if (j < n) {
            if (dots[i].seq > deps[j].seq)
                deps[j].seq = dots[i].seq;
            continue;
        }
        for (pos = 0; pos < n && memcmp(deps[pos].origin, dots[i].origin, CRDT_KEY_BYTES) < 0;
             pos++)
            ;
        memmove(&deps[pos + 1], &deps[pos], (n - pos) * sizeof(*deps));
        memcpy(deps[pos].origin, dots[i].origin, CRDT_KEY_BYTES);
        deps[pos].seq = dots[i].seq;
        n++;
    }
    if (n > CRDT_MAX_DEPS)
        return TX_ETOOBIG;
    *ndeps = n;
    return TX_OK;
}
