/*
 * noise.c - the handshake: Noise_XXpsk0_25519_ChaChaPoly_SHA256 (Noise spec rev
 * 34), built from libsodium 1.0.18 primitives (X25519, ChaCha20-Poly1305-IETF,
 * SHA-256, HMAC-SHA-256 for HKDF).
 *
 *   -> psk, e
 *   <- e, ee, s, es
 *   -> s, se
 *
 * psk0 mixes the district network key in before anything is sent: the first
 * message's empty payload is encrypted under a key only holders of the network
 * key can derive, so a responder checks that tag before doing any
 * Diffie-Hellman, and an outsider never learns a certificate. Static keys are
 * the X25519 forms of the nodes' Ed25519 keys; every DH result is checked
 * (crypto_scalarmult refuses low-order points with an all-zero result).
 */
#include <string.h>

#include "internal.h"

static void hmac(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen, const uint8_t *b,
                 size_t blen, uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, klen);
    if (alen)
        crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen)
        crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

/* HKDF(ck, ikm) -> up to three 32-byte outputs. */
static void hkdf(const uint8_t ck[32], const uint8_t *ikm, size_t ilen, uint8_t *o1, uint8_t *o2,
                 uint8_t *o3)
{
    uint8_t temp[32], one = 1, two = 2, three = 3;

    hmac(ck, 32, ikm, ilen, NULL, 0, temp);
    hmac(temp, 32, &one, 1, NULL, 0, o1);
    hmac(temp, 32, o1, 32, &two, 1, o2);
    if (o3)
        hmac(temp, 32, o2, 32, &three, 1, o3);
    sodium_memzero(temp, sizeof(temp));
}

static void mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, 32);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, hs->h);
}

static void mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
    uint8_t k[32];

    hkdf(hs->ck, ikm, len, hs->ck, k, NULL);
    memcpy(hs->c.k, k, 32);
    hs->c.n = 0;
    hs->c.has_k = 1;
    sodium_memzero(k, sizeof(k));
}

static void mix_key_and_hash(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
    uint8_t th[32], tk[32];

    hkdf(hs->ck, ikm, len, hs->ck, th, tk);
    mix_hash(hs, th, 32);
    memcpy(hs->c.k, tk, 32);
    hs->c.n = 0;
    hs->c.has_k = 1;
    sodium_memzero(tk, sizeof(tk));
}

static void nonce(uint64_t n, uint8_t out[12])
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i));
}

static int enc(struct noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *pt,
               size_t len, uint8_t *out)
{
    uint8_t nb[12];
    unsigned long long clen;

    if (c->n == UINT64_MAX)
        return TX_EOVERFLOW;
    nonce(c->n, nb);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, ad, adlen, NULL, nb, c->k);
    c->n++;
    return TX_OK;
}

static int dec(struct noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *ct,
               size_t len, uint8_t *out)
{
    uint8_t nb[12];
    unsigned long long plen;

    if (len < NOISE_TAG || c->n == UINT64_MAX)
        return TX_EAUTH;
    nonce(c->n, nb);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, ct, len, ad, adlen, nb, c->k) !=
        0)
        return TX_EAUTH;
    c->n++;
    return TX_OK;
}

static int enc_hash(struct noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
    int err = enc(&hs->c, hs->h, 32, pt, len, out);

    if (!err)
        mix_hash(hs, out, len + NOISE_TAG);
    return err;
}

static int dec_hash(struct noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out)
{
    uint8_t h[32];
    int err;

    memcpy(h, hs->h, 32);
    err = dec(&hs->c, h, 32, ct, len, out);
    if (!err)
        mix_hash(hs, ct, len);
    return err;
}

static int dh(const uint8_t *sk, const uint8_t *pk, uint8_t out[32])
{
    /* -1 on an all-zero result: a low-order point. */
    return crypto_scalarmult(out, sk, pk) == 0 ? TX_OK : TX_EAUTH;
}

int net__noise_init(struct noise_hs *hs, int initiator, const uint8_t *ed_sk, const uint8_t psk[32],
                    const uint8_t e_seed[32])
{
    memset(hs, 0, sizeof(*hs));
    hs->initiator = initiator;
    /* The name is longer than 32 bytes: h = SHA-256(name). */
    crypto_hash_sha256(hs->h, (const uint8_t *)NOISE_NAME, strlen(NOISE_NAME));
    memcpy(hs->ck, hs->h, 32);
    mix_hash(hs, (const uint8_t *)NET_PROLOGUE, strlen(NET_PROLOGUE));
    if (crypto_sign_ed25519_sk_to_curve25519(hs->s_sk, ed_sk) != 0 ||
        crypto_scalarmult_base(hs->s_pk, hs->s_sk) != 0)
        return TX_ECRYPTO;
    /* Ephemeral key from the caller's randomness (tests and the simulator
     * replay it). */
    crypto_hash_sha256(hs->e_sk, e_seed, 32);
    if (crypto_scalarmult_base(hs->e_pk, hs->e_sk) != 0)
        return TX_ECRYPTO;
    mix_key_and_hash(hs, psk, 32);
    return TX_OK;
}

void net__noise_wipe(struct noise_hs *hs)
{
    sodium_memzero(hs, sizeof(*hs));
}

int net__noise_msg1_write(struct noise_hs *hs, uint8_t *out, size_t *len)
{
    int err;

    memcpy(out, hs->e_pk, 32);
    mix_hash(hs, hs->e_pk, 32);
    mix_key(hs, hs->e_pk, 32); /* psk mode: e also mixes the key */
    if ((err = enc_hash(hs, NULL, 0, out + 32)))
        return err;
    *len = 32 + NOISE_TAG;
    return TX_OK;
}

int net__noise_msg1_read(struct noise_hs *hs, const uint8_t *in, size_t len)
{
    uint8_t none[1];

    if (len != 32 + NOISE_TAG)
        return TX_EAUTH;
    memcpy(hs->re, in, 32);
    mix_hash(hs, hs->re, 32);
    mix_key(hs, hs->re, 32);
    return dec_hash(hs, in + 32, NOISE_TAG, none);
}

int net__noise_msg2_write(struct noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
                          size_t *len)
{
    uint8_t shared[32];
    int err;

    memcpy(out, hs->e_pk, 32);
    mix_hash(hs, hs->e_pk, 32);
    mix_key(hs, hs->e_pk, 32);
    if ((err = dh(hs->e_sk, hs->re, shared))) /* ee */
        return err;
    mix_key(hs, shared, 32);
    if ((err = enc_hash(hs, hs->s_pk, 32, out + 32))) /* s */
        return err;
    if ((err = dh(hs->s_sk, hs->re, shared))) /* es (responder: s with re) */
        return err;
    mix_key(hs, shared, 32);
    sodium_memzero(shared, sizeof(shared));
    if ((err = enc_hash(hs, payload, plen, out + 32 + 48)))
        return err;
    *len = 32 + 48 + plen + NOISE_TAG;
    return TX_OK;
}

int net__noise_msg2_read(struct noise_hs *hs, const uint8_t *in, size_t len, uint8_t *pbuf,
                         size_t *plen)
{
    uint8_t shared[32];
    int err;

    if (len < 32 + 48 + NOISE_TAG)
        return TX_EAUTH;
    memcpy(hs->re, in, 32);
    mix_hash(hs, hs->re, 32);
    mix_key(hs, hs->re, 32);
    if ((err = dh(hs->e_sk, hs->re, shared))) /* ee */
        return err;
    mix_key(hs, shared, 32);
    if ((err = dec_hash(hs, in + 32, 48, hs->rs))) /* s */
        return err;
    if ((err = dh(hs->e_sk, hs->rs, shared))) /* es (initiator: e with rs) */
        return err;
    mix_key(hs, shared, 32);
    sodium_memzero(shared, sizeof(shared));
    if ((err = dec_hash(hs, in + 80, len - 80, pbuf)))
        return err;
    *plen = len - 80 - NOISE_TAG;
    return TX_OK;
}

int net__noise_msg3_write(struct noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
                          size_t *len)
{
    uint8_t shared[32];
    int err;

    if ((err = enc_hash(hs, hs->s_pk, 32, out))) /* s */
        return err;
    if ((err = dh(hs->s_sk, hs->re, shared))) /* se (initiator: s with re) */
        return err;
    mix_key(hs, shared, 32);
    sodium_memzero(shared, sizeof(shared));
    if ((err = enc_hash(hs, payload, plen, out + 48)))
        return err;
    *len = 48 + plen + NOISE_TAG;
    return TX_OK;
}

int net__noise_msg3_read(struct noise_hs *hs, const uint8_t *in, size_t len, uint8_t *pbuf,
                         size_t *plen)
{
    uint8_t shared[32];
    int err;

    if (len < 48 + NOISE_TAG)
        return TX_EAUTH;
    if ((err = dec_hash(hs, in, 48, hs->rs))) /* s */
        return err;
    if ((err = dh(hs->e_sk, hs->rs, shared))) /* se (responder: e with rs) */
        return err;
    mix_key(hs, shared, 32);
    sodium_memzero(shared, sizeof(shared));
    if ((err = dec_hash(hs, in + 48, len - 48, pbuf)))
        return err;
    *plen = len - 48 - NOISE_TAG;
    return TX_OK;
}

void net__noise_split(struct noise_hs *hs, struct noise_cipher *send, struct noise_cipher *recv)
{
    uint8_t k1[32], k2[32];

    hkdf(hs->ck, NULL, 0, k1, k2, NULL);
    memset(send, 0, sizeof(*send));
    memset(recv, 0, sizeof(*recv));
    memcpy(send->k, hs->initiator ? k1 : k2, 32);
    memcpy(recv->k, hs->initiator ? k2 : k1, 32);
    send->has_k = recv->has_k = 1;
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
}

int net__cipher_encrypt(struct noise_cipher *c, const uint8_t *pt, size_t len, uint8_t *out)
{
    return enc(c, NULL, 0, pt, len, out);
}

int net__cipher_decrypt(struct noise_cipher *c, const uint8_t *ct, size_t len, uint8_t *out)
{
    return dec(c, NULL, 0, ct, len, out);
}
