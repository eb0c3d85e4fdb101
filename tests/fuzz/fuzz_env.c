/*
 * fuzz_env.c - crdt_env_decode over arbitrary bytes.
 *
 * Oracles on every accepted input:
 *  - the header obeys the documented shape (version, seq, deps sorted, unique and
 *    not self, scope a NUL-terminated name with no NUL inside, body borrowed
 *    from the input);
 *  - the signature is the last 66 bytes (c4 40 + 64), as signing relies on;
 *  - crdt_env_encode reproduces the input byte for byte, and re-encoding with a
 *    different sig changes only the last 64 bytes;
 *  - crdt_env_hash succeeds;
 *  - crdt_env_peek (the quick header read on the network path) agrees with the
 *    decoder: on every accepted input it gives the same origin and seq; on
 *    any input it either fails cleanly or reads within the input.
 *  - with epoch 0 the body is plaintext: it goes through crdt_body_decode and,
 *    when accepted, crdt_body_check_causal against this very header.
 */
#include "fuzz.h"

static void check_plain_body(const struct crdt_env *e)
{
    struct crdt_body b;
    int err = crdt_body_decode(&b, e->body, e->body_len);

    if (err == TX_OK) {
        for (uint32_t i = 0; i < b.nops; i++)
            FZ_CHECK(crdt_op_check(&b.ops[i]) == TX_OK);
        err = crdt_body_check_causal(&b, e);
        FZ_CHECK(err == TX_OK || err == TX_ECAUSAL);
    }
    crdt_body_release(&b);
}

static void check_header(const struct crdt_env *e, const uint8_t *data, size_t size)
{
    static const uint8_t zero[CRDT_HASH_BYTES];

    FZ_CHECK(e->version == CRDT_ENV_VERSION);
    FZ_CHECK(e->seq >= 1);
    FZ_CHECK((e->seq == 1) == (memcmp(e->prev, zero, CRDT_HASH_BYTES) == 0));
    FZ_CHECK(e->ndeps <= CRDT_MAX_DEPS && (e->ndeps == 0 || e->deps != NULL));
    for (uint32_t i = 0; i < e->ndeps; i++) {
        FZ_CHECK(e->deps[i].seq >= 1);
        FZ_CHECK(memcmp(e->deps[i].origin, e->origin, CRDT_KEY_BYTES) != 0);
        if (i)
            FZ_CHECK(memcmp(e->deps[i - 1].origin, e->deps[i].origin, CRDT_KEY_BYTES) < 0);
    }
    /* scope is documented NUL-terminated: a NUL inside would make the C string
     * name a different scope than the signed bytes do. */
    FZ_CHECK(e->scope_len >= 1 && e->scope_len <= CRDT_MAX_SCOPE);
    FZ_CHECK(e->scope[e->scope_len] == '\0');
    FZ_CHECK(memchr(e->scope, '\0', e->scope_len) == NULL);
    FZ_CHECK(crdt_check_scope(e->scope, e->scope_len) == TX_OK);
    FZ_CHECK(e->body_len >= 1 && e->body_len <= CRDT_MAX_BODY);
    FZ_CHECK(e->body >= data && e->body + e->body_len <= data + size);
    /* The signature element closes the encoding. */
    FZ_CHECK(size >= CRDT_ENV_SIG_TAIL);
    FZ_CHECK(data[size - CRDT_ENV_SIG_TAIL] == 0xc4 && data[size - CRDT_ENV_SIG_TAIL + 1] == 0x40);
    FZ_CHECK(memcmp(data + size - CRDT_SIG_BYTES, e->sig, CRDT_SIG_BYTES) == 0);
}

static void check_reencode(struct crdt_env *e, const uint8_t *data, size_t size)
{
    struct tx_mpw w;
    int err;

    tx_mpw_init(&w, FZ_MAX_OUT);
    err = crdt_env_encode(e, &w);
    if (err != TX_ENOMEM) {
        FZ_CHECK(err == TX_OK);
        FZ_CHECK(fz_same(&w, data, size));
    }
    tx_mpw_release(&w);

    /* Signing encodes with any sig and patches the tail: only the last 64 bytes
     * may depend on sig. */
    for (int i = 0; i < CRDT_SIG_BYTES; i++)
        e->sig[i] ^= 0xa5;
    err = crdt_env_encode(e, &w);
    if (err != TX_ENOMEM) {
        FZ_CHECK(err == TX_OK);
        FZ_CHECK(w.len == size);
        FZ_CHECK(memcmp(w.buf, data, size - CRDT_SIG_BYTES) == 0);
        FZ_CHECK(memcmp(w.buf + size - CRDT_SIG_BYTES, data + size - CRDT_SIG_BYTES,
                        CRDT_SIG_BYTES) != 0);
    }
    for (int i = 0; i < CRDT_SIG_BYTES; i++)
        e->sig[i] ^= 0xa5;
    tx_mpw_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct crdt_env e;
    uint8_t h[CRDT_HASH_BYTES], porigin[CRDT_KEY_BYTES];
    uint64_t pseq = 0;
    int err, perr;

    perr = crdt_env_peek(data, size, porigin, &pseq);
    FZ_CHECK(perr == TX_OK || perr < 0);
    err = crdt_env_decode(&e, data, size);
    if (err == TX_OK) {
        check_header(&e, data, size);
        check_reencode(&e, data, size);
        FZ_CHECK(crdt_env_hash(data, size, h) == TX_OK);
        FZ_CHECK(perr == TX_OK);
        FZ_CHECK(memcmp(porigin, e.origin, CRDT_KEY_BYTES) == 0 && pseq == e.seq);
        if (e.epoch == 0)
            check_plain_body(&e);
    } else {
        FZ_CHECK(err < 0);
    }
    crdt_env_release(&e);
    return 0;
}
