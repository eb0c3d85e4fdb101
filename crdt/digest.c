/* digest.c - the stable state digest (BLAKE2b-256 over canonical records). */
#include <sodium.h>
#include <string.h>

#include "crdt.h"

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(((struct crdt_digest *)0)->st),
               "digest state too small");

static crypto_generichash_state *st(struct crdt_digest *d)
{
    return (crypto_generichash_state *)(void *)d->st;
}

int crdt_digest_init(struct crdt_digest *d)
{
    d->count = 0;
    if (crypto_generichash_init(st(d), NULL, 0, CRDT_HASH_BYTES) != 0)
        return TX_ECRYPTO;
    return TX_OK;
}

int crdt_digest_add(struct crdt_digest *d, const char *scope, size_t scope_len, const char *type,
                    size_t type_len, const char *id, size_t id_len, const void *state,
                    size_t state_len)
{
    struct tx_mpw w;
    int err;

    /* The key as a canonical msgpack array, then the state (self-delimiting):
     * the concatenation parses one way only, so distinct states hash apart. */
    tx_mpw_init(&w, 1024);
    tx_mpw_array(&w, 3);
    tx_mpw_str(&w, scope, scope_len);
    tx_mpw_str(&w, type, type_len);
    tx_mpw_str(&w, id, id_len);
    err = tx_mpw_finish(&w);
    if (!err && (crypto_generichash_update(st(d), w.buf, w.len) != 0 ||
                 crypto_generichash_update(st(d), state, state_len) != 0))
        err = TX_ECRYPTO;
    tx_mpw_release(&w);
    if (!err)
        d->count++;
    return err;
}

int crdt_digest_final(struct crdt_digest *d, uint8_t out[CRDT_HASH_BYTES])
{
    if (crypto_generichash_final(st(d), out, CRDT_HASH_BYTES) != 0)
        return TX_ECRYPTO;
    return TX_OK;
}
