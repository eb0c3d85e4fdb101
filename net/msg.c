/*
 * msg.c - the messages inside an open session, each a msgpack array whose first
 * element is its type (docs/protocol.md):
 *
 *   VECTOR    [1, [[origin: bin 32, seq: uint, hash: bin 32]...], reply: bool]
 *   ENVELOPES [2, [envelope: bin...]]
 *   CREDIT    [3, n: uint]
 *   GET       [4, [[origin: bin 32, seq: uint]...]]
 *   PING      [5, id: uint, time_ms: uint]      PONG [6, id, time_ms]
 *   ERROR     [7, code: int, reason: str]       GOODBYE [8, code: int, reason: str]
 *
 * and the handshake payload (hello): [version: uint, node: bin 32, cert: bin,
 * name: str]. One decode function, all-or-nothing, per message.
 */
#include <string.h>

#include "internal.h"

int net__hello_encode(const struct net_hello *h, struct tx_mpw *w)
{
    tx_mpw_array(w, 4);
    tx_mpw_uint(w, h->version);
    tx_mpw_bin(w, h->node, CRDT_KEY_BYTES);
    tx_mpw_bin(w, h->cert, h->cert_len);
    tx_mpw_str(w, h->name, strlen(h->name));
    return tx_mpw_finish(w);
}

int net__hello_decode(const uint8_t *buf, size_t len, struct net_hello *h)
{
    struct tx_mpr r;
    const char *s;
    uint32_t n;

    memset(h, 0, sizeof(*h));
    tx_mpr_init(&r, buf, len);
    if (tx_mpr_array_n(&r, 4) || tx_mpr_uint(&r, &h->version) ||
        tx_mpr_bin_fixed(&r, h->node, CRDT_KEY_BYTES) ||
        tx_mpr_bin(&r, &h->cert, &h->cert_len, NET_MAX_CERT) ||
        tx_mpr_str(&r, &s, &n, NET_MAX_NAME) || tx_mpr_done(&r))
        return TX_EPROTO;
    memcpy(h->name, s, n);
    h->name[n] = '\0';
    for (uint32_t i = 0; i < n; i++)
        if ((unsigned char)h->name[i] < 0x20)
            h->name[i] = '?';
    return TX_OK;
}

void net__msg_release(struct net_msg *m)
{
    tx_free(m->vec);
    tx_free(m->envs);
    tx_free(m->lens);
    m->vec = NULL;
    m->envs = NULL;
    m->lens = NULL;
}

static int decode_reason(struct tx_mpr *r, struct net_msg *m)
{
    const char *s;
    uint32_t n;

    if (tx_mpr_int(r, &m->code) || tx_mpr_str(r, &s, &n, 1024))
        return TX_EPROTO;
    if (n >= sizeof(m->reason))
        n = sizeof(m->reason) - 1;
    memcpy(m->reason, s, n);
    m->reason[n] = '\0';
    for (uint32_t i = 0; i < n; i++)
        if ((unsigned char)m->reason[i] < 0x20)
            m->reason[i] = '?';
    return TX_OK;
}

int net__msg_decode(const uint8_t *buf, size_t len, struct net_msg *m)
{
    struct tx_mpr r;
    uint32_t n, arity;
    uint64_t type;
    int err = TX_EPROTO;

    memset(m, 0, sizeof(*m));
    tx_mpr_init(&r, buf, len);
    if (tx_mpr_array(&r, &arity, 8) || arity < 1 || tx_mpr_uint(&r, &type))
        return TX_EPROTO;
    m->type = (int)type;
    switch (type) {
    case NET_MSG_VECTOR: {
        int reply;

        if (arity != 3 || tx_mpr_array(&r, &n, NET_MAX_VECTOR))
            goto fail;
        /* an entry takes at least 70 bytes */
        if ((size_t)n * 70 > tx_mpr_left(&r))
            goto fail;
        if (n && !(m->vec = tx_calloc(n, sizeof(*m->vec)))) {
            err = TX_ENOMEM;
            goto fail;
        }
        m->nvec = n;
        for (uint32_t i = 0; i < n; i++)
            if (tx_mpr_array_n(&r, 3) || tx_mpr_bin_fixed(&r, m->vec[i].origin, 32) ||
                tx_mpr_uint(&r, &m->vec[i].seq) || tx_mpr_bin_fixed(&r, m->vec[i].hash, 32))
                goto fail;
        if (tx_mpr_bool(&r, &reply))
            goto fail;
        m->vec_reply = reply;
        break;
    }
    case NET_MSG_ENVELOPES:
        if (arity != 2 || tx_mpr_array(&r, &n, NET_MAX_BATCH))
            goto fail;
        if ((size_t)n * 2 > tx_mpr_left(&r))
            goto fail;
        if (n && (!(m->envs = tx_calloc(n, sizeof(*m->envs))) ||
                  !(m->lens = tx_calloc(n, sizeof(*m->lens))))) {
            err = TX_ENOMEM;
            goto fail;
        }
        m->nenv = n;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *b;
            uint32_t bl;

            if (tx_mpr_bin(&r, &b, &bl, CRDT_MAX_ENVELOPE))
                goto fail;
            m->envs[i] = b;
            m->lens[i] = bl;
        }
        break;
    case NET_MSG_CREDIT:
        if (arity != 2 || tx_mpr_uint(&r, &m->credit) || m->credit > 1024)
            goto fail;
        break;
    case NET_MSG_GET:
        if (arity != 2 || tx_mpr_array(&r, &n, NET_MAX_GET))
            goto fail;
        m->nget = n;
        for (uint32_t i = 0; i < n; i++)
            if (tx_mpr_array_n(&r, 2) || tx_mpr_bin_fixed(&r, m->get[i].origin, 32) ||
                tx_mpr_uint(&r, &m->get[i].seq))
                goto fail;
        break;
    case NET_MSG_PING:
    case NET_MSG_PONG:
        if (arity != 3 || tx_mpr_uint(&r, &m->ping_id) || tx_mpr_uint(&r, &m->ping_time))
            goto fail;
        break;
    case NET_MSG_ERROR:
    case NET_MSG_GOODBYE:
        if (arity != 3 || decode_reason(&r, m))
            goto fail;
        break;
    default: goto fail;
    }
    if (tx_mpr_done(&r))
        goto fail;
    return TX_OK;
fail:
    net__msg_release(m);
    return err;
}

void net__msg_vector(struct tx_mpw *w, const struct net_vec_entry *v, size_t n, int reply)
{
    tx_mpw_array(w, 3);
    tx_mpw_uint(w, NET_MSG_VECTOR);
    tx_mpw_array(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        tx_mpw_array(w, 3);
        tx_mpw_bin(w, v[i].origin, 32);
        tx_mpw_uint(w, v[i].seq);
        tx_mpw_bin(w, v[i].hash, 32);
    }
    tx_mpw_bool(w, reply);
}

void net__msg_credit(struct tx_mpw *w, uint64_t n)
{
    tx_mpw_array(w, 2);
    tx_mpw_uint(w, NET_MSG_CREDIT);
    tx_mpw_uint(w, n);
}

void net__msg_get(struct tx_mpw *w, const struct crdt_dep *d, size_t n)
{
    tx_mpw_array(w, 2);
    tx_mpw_uint(w, NET_MSG_GET);
    tx_mpw_array(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        tx_mpw_array(w, 2);
        tx_mpw_bin(w, d[i].origin, 32);
        tx_mpw_uint(w, d[i].seq);
    }
}

void net__msg_ping(struct tx_mpw *w, int pong, uint64_t id, uint64_t t)
{
    tx_mpw_array(w, 3);
    tx_mpw_uint(w, pong ? NET_MSG_PONG : NET_MSG_PING);
    tx_mpw_uint(w, id);
    tx_mpw_uint(w, t);
}

void net__msg_error(struct tx_mpw *w, int goodbye, int64_t code, const char *reason)
{
    size_t n = strlen(reason);

    tx_mpw_array(w, 3);
    tx_mpw_uint(w, goodbye ? NET_MSG_GOODBYE : NET_MSG_ERROR);
    tx_mpw_int(w, code);
    tx_mpw_str(w, reason, n > 150 ? 150 : n);
}
