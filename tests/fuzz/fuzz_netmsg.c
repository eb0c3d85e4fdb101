/*
 * fuzz_netmsg.c - the session's message decoders over arbitrary bytes:
 * net__msg_decode (the plaintext of every frame after the handshake) and
 * net__hello_decode (the handshake payload). Both run on every input.
 *
 * Oracles on every accepted message:
 *  - the documented bounds hold (type 1..8, at most NET_MAX_VECTOR vector
 *    entries, NET_MAX_BATCH envelopes of at most CRDT_MAX_ENVELOPE bytes each
 *    pointing into the input, NET_MAX_GET gets, credit <= 1024, a reason that
 *    is NUL-terminated, at most 159 bytes and free of control characters);
 *  - decode then re-encode gives the input byte for byte, with the session's
 *    own encoders (net__msg_vector, _credit, _get, _ping, _error) and, for
 *    ENVELOPES, the framing session.c writes inline; for ERROR/GOODBYE only
 *    when the reason needs no repair (at most 150 bytes, no control
 *    characters) - otherwise the repaired message must decode to the same
 *    values (the reason cut to 150 bytes) and re-encode to itself.
 * On a refused message nothing stays allocated (the replay driver's counting
 * allocator checks) and the error is TX_EPROTO or TX_ENOMEM.
 *
 * Oracles on an accepted hello: node and certificate bounds, the name
 * NUL-terminated without control characters; net__hello_encode gives the
 * input back when the name needed no repair.
 */
#include "fuzz.h"

#include "../../net/internal.h"

/* The raw reason string of an ERROR/GOODBYE message already decoded once. */
static int raw_reason(const uint8_t *data, size_t size, const char **s, uint32_t *n)
{
    struct tx_mpr r;
    uint64_t type;
    int64_t code;

    tx_mpr_init(&r, data, size);
    if (tx_mpr_array_n(&r, 3) || tx_mpr_uint(&r, &type) || tx_mpr_int(&r, &code) ||
        tx_mpr_str(&r, s, n, 1024))
        return -1;
    return 0;
}

static int clean_text(const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return 0;
    return 1;
}

static void check_reason(const struct net_msg *m)
{
    size_t n = strnlen(m->reason, sizeof(m->reason));

    FZ_CHECK(n < sizeof(m->reason));
    FZ_CHECK(clean_text(m->reason, (uint32_t)n));
}

/* Encode m with the session's encoders (ENVELOPES as session.c frames it). */
static void encode(const struct net_msg *m, struct tx_mpw *w)
{
    switch (m->type) {
    case NET_MSG_VECTOR: net__msg_vector(w, m->vec, m->nvec, m->vec_reply); break;
    case NET_MSG_ENVELOPES:
        tx_mpw_array(w, 2);
        tx_mpw_uint(w, NET_MSG_ENVELOPES);
        tx_mpw_array(w, m->nenv);
        for (uint32_t i = 0; i < m->nenv; i++)
            tx_mpw_bin(w, m->envs[i], m->lens[i]);
        break;
    case NET_MSG_CREDIT: net__msg_credit(w, m->credit); break;
    case NET_MSG_GET: net__msg_get(w, m->get, m->nget); break;
    case NET_MSG_PING:
    case NET_MSG_PONG: net__msg_ping(w, m->type == NET_MSG_PONG, m->ping_id, m->ping_time); break;
    case NET_MSG_ERROR:
    case NET_MSG_GOODBYE: net__msg_error(w, m->type == NET_MSG_GOODBYE, m->code, m->reason); break;
    default: FZ_CHECK(!"decode accepted an unknown type");
    }
}

/* b is a's repaired re-encoding decoded: the same, but the reason may be cut
 * to the 150 bytes the encoder sends. */
static int same_msg(const struct net_msg *a, const struct net_msg *b)
{
    size_t n = strlen(b->reason);

    return a->type == b->type && a->code == b->code && n <= 150 &&
           strncmp(a->reason, b->reason, n) == 0 && (n == 150 || a->reason[n] == '\0');
}

static void check_msg(struct net_msg *m, const uint8_t *data, size_t size)
{
    struct tx_mpw w;
    int exact = 1, err;

    FZ_CHECK(m->type >= NET_MSG_VECTOR && m->type <= NET_MSG_GOODBYE);
    switch (m->type) {
    case NET_MSG_VECTOR:
        FZ_CHECK(m->nvec <= NET_MAX_VECTOR);
        FZ_CHECK(m->nvec == 0 || m->vec != NULL);
        FZ_CHECK(m->vec_reply == 0 || m->vec_reply == 1);
        break;
    case NET_MSG_ENVELOPES:
        FZ_CHECK(m->nenv <= NET_MAX_BATCH);
        FZ_CHECK(m->nenv == 0 || (m->envs != NULL && m->lens != NULL));
        for (uint32_t i = 0; i < m->nenv; i++) {
            FZ_CHECK(m->lens[i] <= CRDT_MAX_ENVELOPE);
            FZ_CHECK(m->envs[i] >= data && m->envs[i] + m->lens[i] <= data + size);
        }
        break;
    case NET_MSG_CREDIT: FZ_CHECK(m->credit <= 1024); break;
    case NET_MSG_GET: FZ_CHECK(m->nget <= NET_MAX_GET); break;
    case NET_MSG_ERROR:
    case NET_MSG_GOODBYE: {
        const char *s;
        uint32_t n;

        check_reason(m);
        FZ_CHECK(raw_reason(data, size, &s, &n) == 0);
        exact = n <= 150 && clean_text(s, n);
        break;
    }
    default: break;
    }
    tx_mpw_init(&w, FZ_MAX_OUT);
    encode(m, &w);
    err = tx_mpw_finish(&w);
    if (err == TX_ENOMEM) {
        tx_mpw_release(&w);
        return;
    }
    FZ_CHECK(err == TX_OK);
    if (exact) {
        FZ_CHECK(fz_same(&w, data, size));
    } else {
        /* The repaired message is a fixed point. */
        struct net_msg m2;
        struct tx_mpw w2;

        err = net__msg_decode(w.buf, w.len, &m2);
        if (err != TX_ENOMEM) {
            FZ_CHECK(err == TX_OK);
            FZ_CHECK(same_msg(m, &m2));
            tx_mpw_init(&w2, FZ_MAX_OUT);
            encode(&m2, &w2);
            if (tx_mpw_finish(&w2) == TX_OK)
                FZ_CHECK(w2.len == w.len && memcmp(w2.buf, w.buf, w.len) == 0);
            tx_mpw_release(&w2);
            net__msg_release(&m2);
        }
    }
    tx_mpw_release(&w);
}

static void check_hello(const struct net_hello *h, const uint8_t *data, size_t size)
{
    struct tx_mpw w;
    size_t n = strnlen(h->name, sizeof(h->name));
    struct tx_mpr r;
    const char *raw;
    uint32_t rn;
    uint64_t v;
    uint8_t node[CRDT_KEY_BYTES];
    const uint8_t *cert;
    uint32_t cl;
    int err;

    FZ_CHECK(n <= NET_MAX_NAME);
    FZ_CHECK(clean_text(h->name, (uint32_t)n));
    FZ_CHECK(h->cert_len <= NET_MAX_CERT);
    FZ_CHECK(h->cert_len == 0 || (h->cert >= data && h->cert + h->cert_len <= data + size));
    /* The raw name, to know whether it needed repair. */
    tx_mpr_init(&r, data, size);
    FZ_CHECK(tx_mpr_array_n(&r, 4) == TX_OK && tx_mpr_uint(&r, &v) == TX_OK &&
             tx_mpr_bin_fixed(&r, node, CRDT_KEY_BYTES) == TX_OK &&
             tx_mpr_bin(&r, &cert, &cl, NET_MAX_CERT) == TX_OK &&
             tx_mpr_str(&r, &raw, &rn, NET_MAX_NAME) == TX_OK);
    FZ_CHECK(v == h->version && memcmp(node, h->node, CRDT_KEY_BYTES) == 0 && rn == n);
    tx_mpw_init(&w, FZ_MAX_OUT);
    err = net__hello_encode(h, &w);
    if (err != TX_ENOMEM) {
        FZ_CHECK(err == TX_OK);
        if (clean_text(raw, rn))
            FZ_CHECK(fz_same(&w, data, size));
    }
    tx_mpw_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct net_msg m;
    struct net_hello h;
    int err;

    err = net__msg_decode(data, size, &m);
    if (err == TX_OK) {
        check_msg(&m, data, size);
    } else {
        FZ_CHECK(err == TX_EPROTO || err == TX_ENOMEM);
        /* Nothing kept on failure. */
        FZ_CHECK(m.vec == NULL && m.envs == NULL && m.lens == NULL);
    }
    net__msg_release(&m);

    err = net__hello_decode(data, size, &h);
    if (err == TX_OK)
        check_hello(&h, data, size);
    else
        FZ_CHECK(err == TX_EPROTO);
    return 0;
}
