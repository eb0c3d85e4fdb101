/*
 * keys.c - scope keys, body encryption and envelope signatures.
 *
 * A scope key is 32 bytes per (scope, epoch): derived by the district
 * administrator (district.c), or random outside a district. It is never stored in the
 * clear: the keys database holds it sealed (crypto_box_seal) to this node's own
 * X25519 key, and the unsealed copies live in sodium_malloc'd memory while the
 * store is open. Sharing a key with another reader is the same operation with
 * the reader's key: a "wrapped key" blob (docs/security.md).
 */
#include <string.h>

#include "internal.h"

#define SEALED_BYTES (crypto_box_SEALBYTES + crypto_aead_xchacha20poly1305_ietf_KEYBYTES)

static void keys_key(const char *scope, uint32_t epoch, uint8_t *buf, size_t *len)
{
    size_t sl = strlen(scope);

    memcpy(buf, scope, sl);
    buf[sl] = '\0';
    node__put_u32(buf + sl + 1, epoch);
    *len = sl + 5;
}

static int cache_add(struct node_store *s, const char *scope, uint32_t epoch, const uint8_t *key)
{
    struct scope_key *nk;
    uint8_t *k;

    if (node__scope_key(s, scope, epoch))
        return TX_OK;
    k = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!k)
        return TX_ENOMEM;
    nk = tx_reallocarray(s->keys, s->nkeys + 1, sizeof(*nk));
    if (!nk) {
        sodium_free(k);
        return TX_ENOMEM;
    }
    memcpy(k, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    s->keys = nk;
    memset(&nk[s->nkeys], 0, sizeof(*nk));
    snprintf(nk[s->nkeys].scope, sizeof(nk[s->nkeys].scope), "%s", scope);
    nk[s->nkeys].epoch = epoch;
    nk[s->nkeys].key = k;
    s->nkeys++;
    return TX_OK;
}

static void cache_remove(struct node_store *s, const char *scope, uint32_t epoch)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (s->keys[i].epoch == epoch && strcmp(s->keys[i].scope, scope) == 0) {
            sodium_free(s->keys[i].key);
            s->keys[i] = s->keys[--s->nkeys];
            return;
        }
}

void node__keys_free(struct node_store *s)
{
    for (size_t i = 0; i < s->nkeys; i++)
        sodium_free(s->keys[i].key);
    tx_free(s->keys);
    s->keys = NULL;
    s->nkeys = 0;
    tx_free(s->badkeys);
    s->badkeys = NULL;
    s->nbadkeys = 0;
}

/* Stored keys that did not unseal: warned about once, not tried again by
 * every refresh (the daemon's, every 2 s) - until the stored value changes
 * (a `keys import` that repairs it). */
static int bad_key_known(struct node_store *s, const char *scope, uint32_t epoch,
                         const uint8_t *sealed)
{
    for (size_t i = 0; i < s->nbadkeys; i++)
        if (s->badkeys[i].epoch == epoch && strcmp(s->badkeys[i].scope, scope) == 0)
            return memcmp(s->badkeys[i].sealed, sealed, sizeof(s->badkeys[i].sealed)) == 0;
    return 0;
}

static void bad_key_add(struct node_store *s, const char *scope, uint32_t epoch,
                        const uint8_t *sealed)
{
    void *nb;
    size_t i;

    for (i = 0; i < s->nbadkeys; i++)
        if (s->badkeys[i].epoch == epoch && strcmp(s->badkeys[i].scope, scope) == 0)
            break;
    if (i == s->nbadkeys) {
        if (!(nb = tx_reallocarray(s->badkeys, s->nbadkeys + 1, sizeof(*s->badkeys))))
            return; /* best effort: it is then tried and reported again */
        s->badkeys = nb;
        s->nbadkeys++;
        snprintf(s->badkeys[i].scope, sizeof(s->badkeys[i].scope), "%s", scope);
        s->badkeys[i].epoch = epoch;
    }
    memcpy(s->badkeys[i].sealed, sealed, sizeof(s->badkeys[i].sealed));
}

const uint8_t *node__scope_key(struct node_store *s, const char *scope, uint32_t epoch)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (s->keys[i].epoch == epoch && strcmp(s->keys[i].scope, scope) == 0)
            return s->keys[i].key;
    return NULL;
}

uint32_t node__scope_epoch(struct node_store *s, const char *scope)
{
    uint32_t best = 0;

    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].scope, scope) == 0 && s->keys[i].epoch > best)
            best = s->keys[i].epoch;
    return best;
}

int node__keys_load(struct node_store *s, MDB_txn *txn)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->dbi[DB_KEYS], &c), err = TX_OK;
    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];

    if (rc)
        return node__mdb_err(rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const char *ks = k.mv_data;
        size_t sl = k.mv_size >= 5 ? k.mv_size - 5 : 0;
        char scope[CRDT_MAX_SCOPE + 1];

        if (k.mv_size < 6 || sl > CRDT_MAX_SCOPE || ks[sl] != '\0' || v.mv_size != SEALED_BYTES) {
            err = TX_ECORRUPT;
            break;
        }
        memcpy(scope, ks, sl);
        scope[sl] = '\0';
        if (node__scope_key(s, scope, node__get_u32((const uint8_t *)ks + sl + 1)))
            continue; /* cached: no X25519 to unseal it again (node_refresh) */
        if (bad_key_known(s, scope, node__get_u32((const uint8_t *)ks + sl + 1), v.mv_data))
            continue; /* failed before: neither tried nor reported again */
        if (crypto_box_seal_open(key, v.mv_data, v.mv_size, s->xpk, s->xsk) != 0) {
            /* Sealed to another key: this store's key file was replaced. */
            bad_key_add(s, scope, node__get_u32((const uint8_t *)ks + sl + 1), v.mv_data);
            node__log(s, NODE_LOG_WARN, "keys: cannot unseal key for %s epoch %u", scope,
                      node__get_u32((const uint8_t *)ks + sl + 1));
            continue;
        }
        err = cache_add(s, scope, node__get_u32((const uint8_t *)ks + sl + 1), key);
        sodium_memzero(key, sizeof(key));
        if (err)
            break;
    }
    mdb_cursor_close(c);
    if (!err && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    return err;
}

struct create_ctx {
    const char *scope;
    uint32_t epoch;
    uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
};

static int store_key_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct create_ctx *c = vctx;
    uint8_t kb[CRDT_MAX_SCOPE + 5], sealed[SEALED_BYTES];
    size_t klen;
    MDB_val k, v = {SEALED_BYTES, sealed};

    keys_key(c->scope, c->epoch, kb, &klen);
    k.mv_size = klen;
    k.mv_data = kb;
    if (crypto_box_seal(sealed, c->key, sizeof(c->key), s->xpk) != 0)
        return TX_ECRYPTO;
    return node__mdb_err(mdb_put(txn, s->dbi[DB_KEYS], &k, &v, 0));
}

/* Ensure this node holds a key for scope; outside a district, create one (under
 * a random epoch) if it has none. */
int node__scope_ensure_key(struct node_store *s, const char *scope, uint32_t *epoch)
{
    struct create_ctx c;
    int err;

    if (strcmp(scope, NODE_PUBLIC_SCOPE) == 0) {
        *epoch = 0;
        return TX_OK;
    }
    *epoch = node__scope_epoch(s, scope);
    if (*epoch)
        return TX_OK;
    /* In a district, scope keys come from the administrator (enrolment, key
     * wraps); a node inventing its own would split a scope's readers. */
    if (!s->have_sk || s->in_district)
        return TX_ENOKEY;
    /* Outside a district every node makes its own key: give it a random epoch
     * in the upper half of the range, so two nodes' keys never share an epoch
     * number (readers could not tell them apart) and district epochs (small,
     * counted up by the administrator) never collide with them. */
    c.scope = scope;
    node__random(s, &c.epoch, sizeof(c.epoch));
    c.epoch |= 0x80000000u;
    node__random(s, c.key, sizeof(c.key));
    err = node__write_txn(s, store_key_fn, &c);
    if (!err)
        err = cache_add(s, scope, c.epoch, c.key);
    sodium_memzero(c.key, sizeof(c.key));
    if (!err)
        *epoch = c.epoch;
    return err;
}

void node__body_ad(const struct crdt_env *e, uint8_t *ad, size_t *adlen)
{
    memcpy(ad, "TXB1", 4);
    memcpy(ad + 4, e->origin, CRDT_KEY_BYTES);
    node__put_u64(ad + 36, e->seq);
    node__put_u32(ad + 44, e->epoch);
    memcpy(ad + 48, e->scope, e->scope_len);
    *adlen = 48 + e->scope_len;
}

int node__body_open(struct node_store *s, const struct crdt_env *e, uint8_t **pt, size_t *ptlen)
{
    uint8_t ad[48 + CRDT_MAX_SCOPE];
    size_t adlen;
    unsigned long long n;
    const uint8_t *key;
    uint8_t *out;

    *pt = NULL;
    *ptlen = 0;
    if (e->epoch == 0) {
        if (strcmp(e->scope, NODE_PUBLIC_SCOPE) != 0)
            return TX_ECRYPTO; /* only the public scope travels in the clear */
        out = tx_malloc(e->body_len);
        if (!out)
            return TX_ENOMEM;
        memcpy(out, e->body, e->body_len);
        *pt = out;
        *ptlen = e->body_len;
        return TX_OK;
    }
    key = node__scope_key(s, e->scope, e->epoch);
    if (!key)
        return TX_ENOKEY;
    if (e->body_len < crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return TX_ECRYPTO;
    out = tx_malloc(e->body_len);
    if (!out)
        return TX_ENOMEM;
    node__body_ad(e, ad, &adlen);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &n, NULL, e->body, e->body_len, ad, adlen,
                                                   e->nonce, key) != 0) {
        tx_free(out);
        return TX_ECRYPTO;
    }
    *pt = out;
    *ptlen = (size_t)n;
    return TX_OK;
}

/* The signed message: a context string and the BLAKE2b-256 of the envelope's
 * signed bytes (everything before the signature element). */
static int sig_message(const uint8_t *env, size_t len, uint8_t *msg, size_t *mlen)
{
    size_t cl = strlen(NODE_SIG_CONTEXT);

    if (len <= CRDT_ENV_SIG_TAIL)
        return TX_EINVAL;
    memcpy(msg, NODE_SIG_CONTEXT, cl);
    if (crypto_generichash(msg + cl, CRDT_HASH_BYTES, env, len - CRDT_ENV_SIG_TAIL, NULL, 0))
        return TX_ECRYPTO;
    *mlen = cl + CRDT_HASH_BYTES;
    return TX_OK;
}

int node__sign_verify(const uint8_t *env, size_t len, const uint8_t origin[CRDT_KEY_BYTES])
{
    uint8_t msg[64];
    size_t mlen;
    int err = sig_message(env, len, msg, &mlen);

    if (err)
        return err;
    return crypto_sign_verify_detached(env + len - CRDT_SIG_BYTES, msg, mlen, origin) == 0
               ? TX_OK
               : TX_ESIG;
}

int node__sign(struct node_store *s, uint8_t *env, size_t len)
{
    uint8_t msg[64];
    size_t mlen;
    int err = sig_message(env, len, msg, &mlen);

    if (err)
        return err;
    if (!s->have_sk)
        return TX_ENOKEY;
    crypto_sign_detached(env + len - CRDT_SIG_BYTES, NULL, msg, mlen, s->sk);
    return TX_OK;
}

int node__body_seal(struct node_store *s, struct crdt_env *e, const uint8_t *pt, size_t ptlen,
                    uint8_t **ct, size_t *ctlen)
{
    uint8_t ad[48 + CRDT_MAX_SCOPE];
    size_t adlen;
    unsigned long long n;
    const uint8_t *key;
    uint8_t *out;

    if (e->epoch == 0) {
        memset(e->nonce, 0, sizeof(e->nonce));
        out = tx_malloc(ptlen);
        if (!out)
            return TX_ENOMEM;
        memcpy(out, pt, ptlen);
        *ct = out;
        *ctlen = ptlen;
        return TX_OK;
    }
    key = node__scope_key(s, e->scope, e->epoch);
    if (!key)
        return TX_ENOKEY;
    out = tx_malloc(ptlen + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    if (!out)
        return TX_ENOMEM;
    node__random(s, e->nonce, sizeof(e->nonce));
    node__body_ad(e, ad, &adlen);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &n, pt, ptlen, ad, adlen, NULL, e->nonce, key);
    *ct = out;
    *ctlen = (size_t)n;
    return TX_OK;
}

/* ---- wrapped keys: sharing a scope key with another reader ----
 *   blob := [1, scope: str, epoch: uint, reader: bin 32, sealed: bin 80]
 */
int node_key_wrap(struct node_store *s, const char *scope, const uint8_t reader[CRDT_KEY_BYTES],
                  uint8_t **blob, size_t *len)
{
    uint32_t epoch = node__scope_epoch(s, scope);
    const uint8_t *key = epoch ? node__scope_key(s, scope, epoch) : NULL;
    uint8_t xpk[crypto_box_PUBLICKEYBYTES], sealed[SEALED_BYTES];
    struct tx_mpw w;
    int err;

    if (!key)
        return TX_ENOKEY;
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, reader) != 0)
        return TX_ECRYPTO; /* small-order or invalid point */
    if (crypto_box_seal(sealed, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, xpk) != 0)
        return TX_ECRYPTO;
    tx_mpw_init(&w, 512);
    tx_mpw_array(&w, 5);
    tx_mpw_uint(&w, 1);
    tx_mpw_str(&w, scope, strlen(scope));
    tx_mpw_uint(&w, epoch);
    tx_mpw_bin(&w, reader, CRDT_KEY_BYTES);
    tx_mpw_bin(&w, sealed, sizeof(sealed));
    if ((err = tx_mpw_finish(&w))) {
        tx_mpw_release(&w);
        return err;
    }
    *blob = tx_mpw_take(&w, len);
    return TX_OK;
}

int node__key_unwrap(struct node_store *s, const uint8_t *blob, size_t len, char *scope,
                     uint32_t *epoch, uint8_t key[32])
{
    struct tx_mpr r;
    uint64_t v, ep;
    const char *sc;
    uint32_t sl;
    uint8_t reader[CRDT_KEY_BYTES], sealed[SEALED_BYTES];
    int err;

    tx_mpr_init(&r, blob, len);
    if ((err = tx_mpr_array_n(&r, 5)) || (err = tx_mpr_uint(&r, &v)) ||
        (err = tx_mpr_str(&r, &sc, &sl, CRDT_MAX_SCOPE)) || (err = tx_mpr_uint(&r, &ep)) ||
        (err = tx_mpr_bin_fixed(&r, reader, CRDT_KEY_BYTES)) ||
        (err = tx_mpr_bin_fixed(&r, sealed, SEALED_BYTES)) || (err = tx_mpr_done(&r)))
        return err;
    if (v != 1)
        return TX_EVERSION;
    if (crdt_check_scope(sc, sl) || ep == 0 || ep > UINT32_MAX)
        return TX_EINVAL;
    if (!s->have_sk || sodium_memcmp(reader, s->pk, CRDT_KEY_BYTES) != 0)
        return TX_ENOKEY; /* wrapped for another node */
    if (crypto_box_seal_open(key, sealed, sizeof(sealed), s->xpk, s->xsk) != 0)
        return TX_ECRYPTO;
    memcpy(scope, sc, sl);
    scope[sl] = '\0';
    *epoch = (uint32_t)ep;
    return TX_OK;
}

struct install_ctx {
    struct create_ctx c;
    int rebuild;
};

static int install_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct install_ctx *ic = vctx;
    int err = store_key_fn(s, txn, &ic->c);

    if (err || !ic->rebuild)
        return err;
    /* The rebuild must see the key: add it for the transaction's duration. */
    if ((err = cache_add(s, ic->c.scope, ic->c.epoch, ic->c.key)))
        return err;
    err = node__rebuild_scope_txn(s, txn, ic->c.scope);
    return err;
}

int node__key_install_rebuild(struct node_store *s, const char *scope, uint32_t epoch,
                              const uint8_t key[32])
{
    struct install_ctx ic;
    int had = node__scope_key(s, scope, epoch) != NULL, err;

    ic.c.scope = scope;
    ic.c.epoch = epoch;
    ic.rebuild = 1;
    memcpy(ic.c.key, key, sizeof(ic.c.key));
    err = node__write_txn(s, install_fn, &ic);
    if (err && !had)
        cache_remove(s, scope, epoch); /* the transaction did not happen */
    sodium_memzero(ic.c.key, sizeof(ic.c.key));
    return err;
}

struct many_ctx {
    struct node__newkey *k;
    size_t n;
};

static int install_many_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct many_ctx *mc = vctx;
    char(*scopes)[CRDT_MAX_SCOPE + 1] = tx_calloc(mc->n ? mc->n : 1, sizeof(*scopes));
    size_t ns = 0;
    int err = scopes ? TX_OK : TX_ENOMEM;

    for (size_t i = 0; i < mc->n && !err; i++) {
        struct node__newkey *k = &mc->k[i];
        struct create_ctx c;
        size_t j;

        if (!k->install)
            continue;
        c.scope = k->scope;
        c.epoch = k->epoch;
        memcpy(c.key, k->key, sizeof(c.key));
        /* stored (again, on a redone transaction) and made usable to the rebuild */
        err = store_key_fn(s, txn, &c);
        if (!err)
            err = cache_add(s, k->scope, k->epoch, k->key);
        sodium_memzero(c.key, sizeof(c.key));
        for (j = 0; j < ns && strcmp(scopes[j], k->scope) != 0; j++)
            ;
        if (!err && j == ns)
            snprintf(scopes[ns++], CRDT_MAX_SCOPE + 1, "%s", k->scope);
    }
    /* one pass over the log for all of them */
    if (!err)
        err = node__rebuild_scopes_txn(s, txn, (const char(*)[CRDT_MAX_SCOPE + 1]) scopes, ns);
    tx_free(scopes);
    return err;
}

int node__keys_install_rebuild(struct node_store *s, struct node__newkey *k, size_t n)
{
    struct many_ctx mc = {k, n};
    size_t todo = 0;
    int err;

    /* Install what is not held yet, each (scope, epoch) once. */
    for (size_t i = 0; i < n; i++) {
        k[i].install = !node__scope_key(s, k[i].scope, k[i].epoch);
        for (size_t j = 0; j < i && k[i].install; j++)
            if (k[j].install && k[j].epoch == k[i].epoch && !strcmp(k[j].scope, k[i].scope))
                k[i].install = 0;
        todo += k[i].install;
    }
    if (!todo)
        return TX_OK;
    err = node__write_txn(s, install_many_fn, &mc);
    if (err) /* the transaction did not happen */
        for (size_t i = 0; i < n; i++)
            if (k[i].install)
                cache_remove(s, k[i].scope, k[i].epoch);
    return err;
}

int node__key_install(struct node_store *s, const char *scope, uint32_t epoch,
                      const uint8_t key[32])
{
    struct create_ctx c;
    int err;

    if (node__scope_key(s, scope, epoch))
        return TX_EEXIST;
    c.scope = scope;
    c.epoch = epoch;
    memcpy(c.key, key, sizeof(c.key));
    err = node__write_txn(s, store_key_fn, &c);
    if (!err)
        err = cache_add(s, scope, epoch, c.key);
    sodium_memzero(c.key, sizeof(c.key));
    return err;
}
