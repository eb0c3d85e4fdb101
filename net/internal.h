/* internal.h - net/ internals shared between its files; not a public header. */
#ifndef TONGXIN_NET_INTERNAL_H
#define TONGXIN_NET_INTERNAL_H

#include <sodium.h>

#include "net.h"

/* ---- Noise_XXpsk0_25519_ChaChaPoly_SHA256 (noise.c) ---- */

#define NOISE_NAME "Noise_XXpsk0_25519_ChaChaPoly_SHA256"
#define NOISE_TAG  16

struct noise_cipher {
    uint8_t k[32];
    uint64_t n;
    int has_k;
};

struct noise_hs {
    uint8_t ck[32], h[32];
    struct noise_cipher c;
    uint8_t e_sk[32], e_pk[32];
    uint8_t s_sk[32], s_pk[32]; /* X25519, from the node's Ed25519 key */
    uint8_t re[32], rs[32];
    int initiator;
};

/* Start a handshake: protocol name, prologue, then the psk (psk0). e_seed
 * (32 bytes) seeds the ephemeral key. */
int net__noise_init(struct noise_hs *hs, int initiator, const uint8_t *ed_sk, const uint8_t psk[32],
                    const uint8_t e_seed[32]);
void net__noise_wipe(struct noise_hs *hs);
/* -> psk, e. out: 32 + 16 bytes. */
int net__noise_msg1_write(struct noise_hs *hs, uint8_t *out, size_t *len);
/* Verifies the psk-keyed tag before any Diffie-Hellman: outsiders cost nothing. */
int net__noise_msg1_read(struct noise_hs *hs, const uint8_t *in, size_t len);
/* <- e, ee, s, es + payload. out must hold 32 + 48 + plen + 16. */
int net__noise_msg2_write(struct noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
                          size_t *len);
/* On success *payload (plen) points into pbuf (at least len bytes). */
int net__noise_msg2_read(struct noise_hs *hs, const uint8_t *in, size_t len, uint8_t *pbuf,
                         size_t *plen);
/* -> s, se + payload. */
int net__noise_msg3_write(struct noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
                          size_t *len);
int net__noise_msg3_read(struct noise_hs *hs, const uint8_t *in, size_t len, uint8_t *pbuf,
                         size_t *plen);
/* Transport keys: send and receive, as this side sees them. */
void net__noise_split(struct noise_hs *hs, struct noise_cipher *send, struct noise_cipher *recv);
/* Transport encryption; a receive of anything but the next nonce fails. */
int net__cipher_encrypt(struct noise_cipher *c, const uint8_t *pt, size_t len, uint8_t *out);
int net__cipher_decrypt(struct noise_cipher *c, const uint8_t *ct, size_t len, uint8_t *out);

/* ---- wire messages (msg.c) ---- */

enum net_msg_type {
    NET_MSG_VECTOR = 1,
    NET_MSG_ENVELOPES = 2,
    NET_MSG_CREDIT = 3,
    NET_MSG_GET = 4,
    NET_MSG_PING = 5,
    NET_MSG_PONG = 6,
    NET_MSG_ERROR = 7,
    NET_MSG_GOODBYE = 8,
};

#define NET_MAX_VECTOR 100000 /* origins in one vector */
#define NET_MAX_BATCH  4096   /* envelopes in one ENVELOPES message */
#define NET_MAX_GET    64

struct net_hello {
    uint64_t version;
    uint8_t node[CRDT_KEY_BYTES];
    const uint8_t *cert; /* borrowed */
    uint32_t cert_len;
    char name[NET_MAX_NAME + 1];
};

int net__hello_encode(const struct net_hello *h, struct tx_mpw *w);
int net__hello_decode(const uint8_t *buf, size_t len, struct net_hello *h);

/* A decoded message; pointers borrow from the decrypted frame. */
struct net_msg {
    int type;
    /* VECTOR */
    struct net_vec_entry *vec; /* owned: release with net__msg_release */
    uint32_t nvec;
    int vec_reply; /* 1 if the sender wants our vector back */
    /* ENVELOPES */
    const uint8_t **envs; /* owned array of borrowed pointers */
    size_t *lens;
    uint32_t nenv;
    /* CREDIT */
    uint64_t credit;
    /* GET */
    struct crdt_dep get[NET_MAX_GET];
    uint32_t nget;
    /* PING / PONG */
    uint64_t ping_id, ping_time;
    /* ERROR / GOODBYE */
    int64_t code;
    char reason[160];
};

int net__msg_decode(const uint8_t *buf, size_t len, struct net_msg *m);
void net__msg_release(struct net_msg *m);
void net__msg_vector(struct tx_mpw *w, const struct net_vec_entry *v, size_t n, int reply);
void net__msg_credit(struct tx_mpw *w, uint64_t n);
void net__msg_get(struct tx_mpw *w, const struct crdt_dep *d, size_t n);
void net__msg_ping(struct tx_mpw *w, int pong, uint64_t id, uint64_t t);
void net__msg_error(struct tx_mpw *w, int goodbye, int64_t code, const char *reason);

#endif
