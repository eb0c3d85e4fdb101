/*
 * session.c - one sync session as a state machine: frames in, frames out.
 *
 * Frames are a u32be length and that many bytes; the length is checked against
 * the cap of the current phase (4 KiB before the handshake completes, 1 MiB
 * after) before a byte of the body is buffered. After the handshake every frame
 * is a ChaCha20-Poly1305 ciphertext under the session key with an implicit
 * counter nonce, so a replayed, reordered or dropped frame fails to decrypt and
 * ends the session. Streaming is credit-based: a sender has `window` ENVELOPES
 * messages outstanding at most; the receiver returns one credit per message it
 * has ingested, so neither side buffers without bound.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define DEF_HANDSHAKE_MS 10000
#define DEF_PING_MS      15000
#define DEF_IDLE_MS      60000
#define DEF_VECTOR_MS    30000
#define DEF_BATCH_ENVS   1024
#define DEF_BATCH_BYTES  (256 * 1024)
#define DEF_WINDOW       4
#define DEF_MAX_OUTBUF   (2u << 20)

struct net_session {
    struct net_config cfg;
    int initiator;
    int hs_step; /* initiator: 1 sent msg1; responder: 0 want msg1, 2 sent msg2 */
    struct noise_hs hs;
    struct noise_cipher tx, rx;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
    size_t inflight;
    unsigned events;
    struct net_session_info info;
    struct net_known known;
    uint64_t pos;
    int have_peer_vec;
    uint64_t outstanding;         /* ENVELOPES messages sent and not yet credited back */
    struct crdt_dep evidence[64]; /* equivocation evidence already sent */
    size_t nevidence;
    uint64_t started_ms, last_ping_ms, last_vector_ms, ping_id, ping_sent_ms;
    int ping_outstanding;
};

static void slog(struct net_session *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void slog(struct net_session *s, int level, const char *fmt, ...)
{
    char line[400], hex[9] = "?";
    va_list ap;
    int n;

    if (!s->cfg.log)
        return;
    if (s->info.state == NET_OPEN || s->info.peer[0] || s->info.peer[1]) {
        static const char hx[] = "0123456789abcdef";

        for (int i = 0; i < 4; i++) {
            hex[2 * i] = hx[s->info.peer[i] >> 4];
            hex[2 * i + 1] = hx[s->info.peer[i] & 15];
        }
        hex[8] = '\0';
    }
    n = snprintf(line, sizeof(line), "net: peer %s: ", hex);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    s->cfg.log(s->cfg.log_ctx, level, line);
}

static int out_reserve(struct net_session *s, size_t n)
{
    if (s->out_len + n > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 4096;
        uint8_t *nb;

        while (cap < s->out_len + n)
            cap *= 2;
        nb = tx_reallocarray(s->out, cap, 1);
        if (!nb)
            return TX_ENOMEM;
        s->out = nb;
        s->out_cap = cap;
    }
    return TX_OK;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A handshake frame: plaintext noise message. */
static int send_raw(struct net_session *s, const uint8_t *b, size_t n)
{
    int err = out_reserve(s, 4 + n);

    if (err)
        return err;
    put32(s->out + s->out_len, (uint32_t)n);
    memcpy(s->out + s->out_len + 4, b, n);
    s->out_len += 4 + n;
    s->info.bytes_out += 4 + n;
    return TX_OK;
}

/* An encrypted frame carrying one message. */
static int send_msg(struct net_session *s, const uint8_t *msg, size_t n)
{
    int err;

    if (n + NOISE_TAG > NET_MAX_FRAME)
        return TX_ETOOBIG;
    if ((err = out_reserve(s, 4 + n + NOISE_TAG)))
        return err;
    put32(s->out + s->out_len, (uint32_t)(n + NOISE_TAG));
    if ((err = net__cipher_encrypt(&s->tx, msg, n, s->out + s->out_len + 4)))
        return err;
    s->out_len += 4 + n + NOISE_TAG;
    s->info.bytes_out += 4 + n + NOISE_TAG;
    s->info.msgs_out++;
    return TX_OK;
}

static int send_w(struct net_session *s, struct tx_mpw *w)
{
    int err = tx_mpw_finish(w);

    if (!err)
        err = send_msg(s, w->buf, w->len);
    tx_mpw_release(w);
    return err;
}

static void set_closed(struct net_session *s, int kind, int code, const char *reason, int by_peer)
{
    if (s->info.state == NET_CLOSED)
        return;
    s->info.state = NET_CLOSED;
    s->info.close_kind = kind;
    s->info.close_code = code;
    s->info.close_by_peer = by_peer;
    snprintf(s->info.close_reason, sizeof(s->info.close_reason), "%s", reason ? reason : "");
    s->events |= NET_EV_CLOSED;
    net__noise_wipe(&s->hs);
    slog(s, kind == NET_CLOSE_ERROR ? NET_LOG_WARN : NET_LOG_INFO, "closed (%s%s): %s",
         kind == NET_CLOSE_CLEAN ? "goodbye"
         : kind == NET_CLOSE_CUT ? "cut"
                                 : "error",
         by_peer ? " from peer" : "", s->info.close_reason);
}

/* A violation: tell the peer why (when we can), then close. */
static int fail(struct net_session *s, int code, const char *reason)
{
    if (s->info.state == NET_OPEN) {
        struct tx_mpw w;

        tx_mpw_init(&w, 1024);
        net__msg_error(&w, 0, code, reason);
        send_w(s, &w);
    }
    set_closed(s, NET_CLOSE_ERROR, code, reason, 0);
    return code;
}

int net_protocol_version(void)
{
    return NET_PROTOCOL_VERSION;
}

/* ---- known vectors ---- */

void net_known_init(struct net_known *k)
{
    memset(k, 0, sizeof(*k));
}

void net_known_release(struct net_known *k)
{
    tx_free(k->e);
    memset(k, 0, sizeof(*k));
}

static size_t known_pos(const struct net_known *k, const uint8_t *origin, int *found)
{
    size_t lo = 0, hi = k->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(k->e[mid].origin, origin, CRDT_KEY_BYTES);

        if (!c) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

uint64_t net_known_get(const struct net_known *k, const uint8_t origin[CRDT_KEY_BYTES])
{
    int found;
    size_t i = known_pos(k, origin, &found);

    return found ? k->e[i].seq : 0;
}

int net_known_set(struct net_known *k, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq,
                  int force)
{
    int found;
    size_t i = known_pos(k, origin, &found);

    if (found) {
        if (force || seq > k->e[i].seq)
            k->e[i].seq = seq;
        return TX_OK;
    }
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        struct net_vec_entry *ne = tx_reallocarray(k->e, cap, sizeof(*ne));

        if (!ne)
            return TX_ENOMEM;
        k->e = ne;
        k->cap = cap;
    }
    memmove(&k->e[i + 1], &k->e[i], (k->n - i) * sizeof(*k->e));
    memset(&k->e[i], 0, sizeof(*k->e));
    memcpy(k->e[i].origin, origin, CRDT_KEY_BYTES);
    k->e[i].seq = seq;
    k->n++;
    return TX_OK;
}

/* ---- lifecycle ---- */

int net_session_new(const struct net_config *cfg, int initiator, uint64_t now_ms,
                    struct net_session **out)
{
    struct net_session *s;
    uint8_t seed[32], msg1[64];
    size_t len;
    int err;

    *out = NULL;
    if (!cfg || !cfg->sk || !cfg->pk || !cfg->store)
        return TX_EINVAL;
    if (!(s = tx_calloc(1, sizeof(*s))))
        return TX_ENOMEM;
    s->cfg = *cfg;
    if (!s->cfg.handshake_timeout_ms)
        s->cfg.handshake_timeout_ms = DEF_HANDSHAKE_MS;
    if (!s->cfg.ping_interval_ms)
        s->cfg.ping_interval_ms = DEF_PING_MS;
    if (!s->cfg.idle_timeout_ms)
        s->cfg.idle_timeout_ms = DEF_IDLE_MS;
    if (!s->cfg.vector_interval_ms)
        s->cfg.vector_interval_ms = DEF_VECTOR_MS;
    if (!s->cfg.batch_envs)
        s->cfg.batch_envs = DEF_BATCH_ENVS;
    if (!s->cfg.batch_bytes)
        s->cfg.batch_bytes = DEF_BATCH_BYTES;
    if (!s->cfg.window)
        s->cfg.window = DEF_WINDOW;
    if (!s->cfg.max_outbuf)
        s->cfg.max_outbuf = DEF_MAX_OUTBUF;
    s->initiator = initiator;
    s->info.initiator = initiator;
    s->info.state = NET_HANDSHAKE;
    s->started_ms = now_ms;
    s->info.last_rx_ms = now_ms;
    net_known_init(&s->known);
    if (s->cfg.random)
        s->cfg.random(s->cfg.random_ctx, seed, sizeof(seed));
    else
        randombytes_buf(seed, sizeof(seed));
    err = net__noise_init(&s->hs, initiator, cfg->sk, cfg->psk, seed);
    sodium_memzero(seed, sizeof(seed));
    if (!err && initiator) {
        err = net__noise_msg1_write(&s->hs, msg1, &len);
        if (!err)
            err = send_raw(s, msg1, len);
        s->hs_step = 1;
    }
    if (err) {
        net_session_free(s);
        return err;
    }
    *out = s;
    return TX_OK;
}

void net_session_free(struct net_session *s)
{
    if (!s)
        return;
    net__noise_wipe(&s->hs);
    sodium_memzero(&s->tx, sizeof(s->tx));
    sodium_memzero(&s->rx, sizeof(s->rx));
    net_known_release(&s->known);
    tx_free(s->in);
    tx_free(s->out);
    tx_free(s);
}

uint8_t *net_session_take_output(struct net_session *s, size_t *len)
{
    uint8_t *b = s->out;

    *len = s->out_len;
    if (!s->out_len)
        return NULL;
    s->inflight += s->out_len;
    s->out = NULL;
    s->out_len = s->out_cap = 0;
    return b;
}

void net_session_written(struct net_session *s, size_t len)
{
    s->inflight = len > s->inflight ? 0 : s->inflight - len;
}

unsigned net_session_events(struct net_session *s)
{
    unsigned e = s->events;

    s->events = 0;
    return e;
}

const struct net_session_info *net_session_info(const struct net_session *s)
{
    return &s->info;
}

const struct net_known *net_session_known(const struct net_session *s)
{
    return &s->known;
}

void net_session_close(struct net_session *s, int code, const char *reason)
{
    if (s->info.state == NET_OPEN) {
        struct tx_mpw w;

        tx_mpw_init(&w, 1024);
        net__msg_error(&w, 1, code, reason);
        send_w(s, &w);
        set_closed(s, NET_CLOSE_CLEAN, code, reason, 0);
        return;
    }
    set_closed(s, NET_CLOSE_ERROR, code ? code : TX_ECANCELED, reason, 0);
}

void net_session_eof(struct net_session *s, int code, const char *reason)
{
    if (s->info.state == NET_OPEN)
        set_closed(s, NET_CLOSE_CUT, code ? code : TX_ECLOSED, reason, 0);
    else
        set_closed(s, NET_CLOSE_ERROR, code ? code : TX_ECLOSED, reason, 0);
}

/* ---- sync ---- */

static int send_vector(struct net_session *s, int reply, uint64_t now)
{
    struct net_vec_entry *v = NULL;
    size_t n = 0;
    struct tx_mpw w;
    int err = s->cfg.store->vector(s->cfg.store_ctx, &v, &n);

    if (err)
        return err;
    tx_mpw_init(&w, NET_MAX_FRAME - 64);
    net__msg_vector(&w, v, n, reply);
    tx_free(v);
    s->last_vector_ms = now;
    return send_w(s, &w);
}

/* Send one ENVELOPES message of the count envelopes encoded in body (released
 * here); nothing when count is 0. The peer credits every ENVELOPES message,
 * streamed, evidence or GET answer, so a queued one counts as outstanding. */
static int send_envelopes(struct net_session *s, struct tx_mpw *body, uint32_t count)
{
    struct tx_mpw w;
    int err = tx_mpw_finish(body);

    if (!err && count) {
        tx_mpw_init(&w, NET_MAX_FRAME - 64);
        tx_mpw_array(&w, 2);
        tx_mpw_uint(&w, NET_MSG_ENVELOPES);
        tx_mpw_array(&w, count);
        tx_mpw_raw(&w, body->buf, body->len);
        if (!(err = send_w(s, &w))) {
            s->outstanding++;
            s->info.env_out += count;
        }
    }
    tx_mpw_release(body);
    return err;
}

int net_session_pump(struct net_session *s, uint64_t now_ms)
{
    (void)now_ms;
    if (s->info.state != NET_OPEN || !s->have_peer_vec)
        return TX_OK;
    while (s->outstanding < s->cfg.window && s->out_len + s->inflight < s->cfg.max_outbuf) {
        struct tx_mpw body;
        size_t count = 0;
        int err;

        tx_mpw_init(&body, NET_MAX_FRAME - 1024);
        err = s->cfg.store->read(s->cfg.store_ctx, &s->pos, &s->known, s->cfg.batch_envs,
                                 s->cfg.batch_bytes, &body, &count);
        if (err) {
            tx_mpw_release(&body);
            return fail(s, err, "store read failed");
        }
        if (count == 0) {
            tx_mpw_release(&body);
            s->info.caught_up = 1;
            break;
        }
        s->info.caught_up = 0;
        if ((err = send_envelopes(s, &body, (uint32_t)count)))
            return fail(s, err, "send failed");
    }
    return TX_OK;
}

int net_session_sync(struct net_session *s, uint64_t now_ms)
{
    if (s->info.state != NET_OPEN)
        return TX_OK;
    return send_vector(s, 1, now_ms);
}

/* Compare the peer's vector with our log: where it holds a different envelope
 * at a seq we hold too, send ours, so its ingest records the equivocation (and
 * it sends us its own for the same reason). */
static int check_heads(struct net_session *s, const struct net_msg *m)
{
    struct net_vec_entry *v = NULL;
    size_t n = 0;
    int err = s->cfg.store->vector(s->cfg.store_ctx, &v, &n);
    uint32_t count = 0;
    struct tx_mpw body;

    if (err)
        return err;
    tx_mpw_init(&body, NET_MAX_FRAME / 2);
    for (uint32_t i = 0; i < m->nvec && count < 64; i++) {
        const struct net_vec_entry *pe = &m->vec[i];
        size_t lo = 0, hi = n;
        const struct net_vec_entry *me = NULL;

        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = memcmp(v[mid].origin, pe->origin, 32);

            if (!c) {
                me = &v[mid];
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!me || pe->seq == 0 || me->seq < pe->seq)
            continue;
        if (me->seq == pe->seq) {
            if (memcmp(me->hash, pe->hash, 32) == 0)
                continue;
        }
        {
            /* evidence goes once per session */
            size_t k;

            for (k = 0; k < s->nevidence; k++)
                if (s->evidence[k].seq == pe->seq && !memcmp(s->evidence[k].origin, pe->origin, 32))
                    break;
            if (k < s->nevidence)
                continue;
        }
        {
            uint8_t *env = NULL, h[32];
            size_t len = 0;

            if (s->cfg.store->get(s->cfg.store_ctx, pe->origin, pe->seq, &env, &len))
                continue;
            crdt_env_hash(env, len, h);
            if (memcmp(h, pe->hash, 32) != 0 && body.len + len < NET_MAX_FRAME / 2 - 64) {
                tx_mpw_bin(&body, env, len);
                count++;
                if (s->nevidence < sizeof(s->evidence) / sizeof(s->evidence[0])) {
                    memcpy(s->evidence[s->nevidence].origin, pe->origin, 32);
                    s->evidence[s->nevidence++].seq = pe->seq;
                }
                slog(s, NET_LOG_WARN, "heads differ at one seq: sending evidence");
            }
            tx_free(env);
        }
    }
    tx_free(v);
    return send_envelopes(s, &body, count);
}

static int on_message(struct net_session *s, const uint8_t *buf, size_t len, uint64_t now)
{
    struct net_msg m;
    int err = net__msg_decode(buf, len, &m);

    if (err)
        return fail(s, err == TX_ENOMEM ? err : TX_EPROTO, "malformed message");
    s->info.msgs_in++;
    /* Replies are queued whatever the backlog; a peer that keeps asking and
     * never reads would grow it without bound. Streaming stops at max_outbuf,
     * so a backlog four times that is the peer's doing. */
    if (s->out_len + s->inflight > 4 * (size_t)s->cfg.max_outbuf) {
        net__msg_release(&m);
        return fail(s, TX_EPROTO, "peer does not read its replies");
    }
    switch (m.type) {
    case NET_MSG_VECTOR: {
        /* The vector may lower what we believe the peer holds (an envelope
         * it refused or still holds, to be offered again) - but only when
         * every ENVELOPES message we sent is credited: the peer credits after
         * ingesting, so its vector then reflects all of them. With messages
         * in flight it predates them, and lowering would resend them. */
        int lower = s->outstanding == 0;

        for (uint32_t i = 0; i < m.nvec && !err; i++)
            err = net_known_set(&s->known, m.vec[i].origin, m.vec[i].seq, lower);
        if (!err)
            err = check_heads(s, &m);
        if (!err)
            err = s->cfg.store->start(s->cfg.store_ctx, &s->known, &s->pos);
        if (!err && !s->have_peer_vec)
            s->have_peer_vec = 1;
        if (!err && m.vec_reply)
            err = send_vector(s, 0, now);
        net__msg_release(&m);
        if (err)
            return fail(s, err, "vector handling failed");
        return net_session_pump(s, now);
    }
    case NET_MSG_ENVELOPES: {
        struct net_ingest_result res;

        /* The peer holds what it sends: never send it back. (Flow control is
         * the sender's: this side ingests each message before reading the next,
         * so what it buffers is bounded by the frame cap.) */
        for (uint32_t i = 0; i < m.nenv; i++) {
            uint8_t origin[CRDT_KEY_BYTES];
            uint64_t seq;

            if (crdt_env_peek(m.envs[i], m.lens[i], origin, &seq) == TX_OK &&
                net_known_set(&s->known, origin, seq, 0)) {
                net__msg_release(&m);
                return fail(s, TX_ENOMEM, "out of memory");
            }
        }
        memset(&res, 0, sizeof(res));
        err = m.nenv ? s->cfg.store->ingest(s->cfg.store_ctx, m.envs, m.lens, m.nenv, &res) : TX_OK;
        s->info.env_in += m.nenv;
        net__msg_release(&m);
        if (err)
            return fail(s, err, "ingest failed here");
        if (res.accepted)
            s->events |= NET_EV_LOG_ADVANCED;
        if (res.forged) {
            char why[96];

            snprintf(why, sizeof(why), "sent %llu forged or malformed envelope(s)",
                     (unsigned long long)res.forged);
            return fail(s, TX_ESIG, why);
        }
        {
            struct tx_mpw w;

            tx_mpw_init(&w, 64);
            net__msg_credit(&w, 1);
            return send_w(s, &w);
        }
    }
    case NET_MSG_CREDIT:
        if (m.credit > s->outstanding)
            return fail(s, TX_EPROTO, "credit for messages never sent");
        s->outstanding -= m.credit;
        return net_session_pump(s, now);
    case NET_MSG_GET: {
        struct tx_mpw body;
        uint32_t count = 0;

        tx_mpw_init(&body, NET_MAX_FRAME / 2);
        for (uint32_t i = 0; i < m.nget; i++) {
            uint8_t *env = NULL;
            size_t l = 0;

            if (s->cfg.store->get(s->cfg.store_ctx, m.get[i].origin, m.get[i].seq, &env, &l))
                continue;
            if (body.len + l > NET_MAX_FRAME / 2 - 64) {
                tx_free(env); /* the rest comes with the next request */
                break;
            }
            tx_mpw_bin(&body, env, l);
            tx_free(env);
            count++;
        }
        err = send_envelopes(s, &body, count);
        return err ? fail(s, err, "reply failed") : TX_OK;
    }
    case NET_MSG_PING: {
        struct tx_mpw w;

        tx_mpw_init(&w, 64);
        net__msg_ping(&w, 1, m.ping_id, m.ping_time);
        return send_w(s, &w);
    }
    case NET_MSG_PONG:
        if (s->ping_outstanding && m.ping_id == s->ping_id) {
            s->info.rtt_ms = now >= s->ping_sent_ms ? now - s->ping_sent_ms : 0;
            s->ping_outstanding = 0;
        }
        return TX_OK;
    case NET_MSG_ERROR: set_closed(s, NET_CLOSE_ERROR, (int)m.code, m.reason, 1); return TX_OK;
    case NET_MSG_GOODBYE:
        set_closed(s, NET_CLOSE_CLEAN, (int)m.code, m.reason[0] ? m.reason : "goodbye", 1);
        return TX_OK;
    }
    net__msg_release(&m);
    return fail(s, TX_EPROTO, "unknown message type");
}

/* ---- handshake ---- */

static int hello_payload(struct net_session *s, struct tx_mpw *w)
{
    struct net_hello h;

    memset(&h, 0, sizeof(h));
    h.version = NET_PROTOCOL_VERSION;
    memcpy(h.node, s->cfg.pk, CRDT_KEY_BYTES);
    h.cert = s->cfg.cert;
    h.cert_len = (uint32_t)s->cfg.cert_len;
    snprintf(h.name, sizeof(h.name), "%s", s->cfg.name ? s->cfg.name : "");
    return net__hello_encode(&h, w);
}

/* The peer proved its static key; check that key is its node id's, and that
 * the district lets it in. */
static int accept_peer(struct net_session *s, const uint8_t *payload, size_t plen)
{
    struct net_hello h;
    uint8_t x[32];
    int err;

    if (net__hello_decode(payload, plen, &h))
        return fail(s, TX_EPROTO, "malformed hello");
    if (h.version != NET_PROTOCOL_VERSION)
        return fail(s, TX_EVERSION, "protocol version differs");
    if (crypto_sign_ed25519_pk_to_curve25519(x, h.node) != 0 || sodium_memcmp(x, s->hs.rs, 32) != 0)
        return fail(s, TX_EAUTH, "static key is not the node id's");
    if (memcmp(h.node, s->cfg.pk, 32) == 0)
        return fail(s, TX_EAUTH, "connected to itself");
    memcpy(s->info.peer, h.node, 32);
    snprintf(s->info.peer_name, sizeof(s->info.peer_name), "%s", h.name);
    err = s->cfg.store->check_peer(s->cfg.store_ctx, h.node, h.cert, h.cert_len, s->info.peer_name);
    if (err) {
        char why[96];

        snprintf(why, sizeof(why), "peer refused: %s", tx_strerror(err));
        return fail(s, err, why);
    }
    return TX_OK;
}

static int open_session(struct net_session *s, uint64_t now)
{
    net__noise_split(&s->hs, &s->tx, &s->rx);
    net__noise_wipe(&s->hs);
    s->info.state = NET_OPEN;
    s->info.opened_ms = now;
    s->last_ping_ms = now;
    s->events |= NET_EV_OPEN;
    slog(s, NET_LOG_INFO, "open (%s)", s->info.peer_name[0] ? s->info.peer_name : "no name");
    return send_vector(s, 0, now);
}

static int on_handshake(struct net_session *s, const uint8_t *b, size_t len, uint64_t now)
{
    uint8_t out[NET_MAX_FRAME_PRE], pbuf[NET_MAX_FRAME_PRE];
    size_t olen, plen;
    struct tx_mpw w;
    int err;

    if (!s->initiator && s->hs_step == 0) {
        /* Tag check only: without the network key this fails before any DH. */
        if (net__noise_msg1_read(&s->hs, b, len)) {
            set_closed(s, NET_CLOSE_ERROR, TX_EAUTH, "handshake refused: wrong network key", 0);
            return TX_EAUTH;
        }
        tx_mpw_init(&w, NET_MAX_CERT + 512);
        if ((err = hello_payload(s, &w)) ||
            (err = net__noise_msg2_write(&s->hs, w.buf, w.len, out, &olen)) ||
            (err = send_raw(s, out, olen))) {
            tx_mpw_release(&w);
            set_closed(s, NET_CLOSE_ERROR, err, "handshake failed", 0);
            return err;
        }
        tx_mpw_release(&w);
        s->hs_step = 2;
        return TX_OK;
    }
    if (s->initiator && s->hs_step == 1) {
        if (len > sizeof(pbuf) || net__noise_msg2_read(&s->hs, b, len, pbuf, &plen)) {
            set_closed(s, NET_CLOSE_ERROR, TX_EAUTH,
                       "handshake refused: wrong network key or forged reply", 0);
            return TX_EAUTH;
        }
        if ((err = accept_peer(s, pbuf, plen)))
            return err;
        tx_mpw_init(&w, NET_MAX_CERT + 512);
        if ((err = hello_payload(s, &w)) ||
            (err = net__noise_msg3_write(&s->hs, w.buf, w.len, out, &olen)) ||
            (err = send_raw(s, out, olen))) {
            tx_mpw_release(&w);
            set_closed(s, NET_CLOSE_ERROR, err, "handshake failed", 0);
            return err;
        }
        tx_mpw_release(&w);
        return open_session(s, now);
    }
    if (!s->initiator && s->hs_step == 2) {
        if (len > sizeof(pbuf) || net__noise_msg3_read(&s->hs, b, len, pbuf, &plen)) {
            set_closed(s, NET_CLOSE_ERROR, TX_EAUTH, "handshake failed: bad final message", 0);
            return TX_EAUTH;
        }
        /* Keys first, so a refusal reaches the peer encrypted. */
        {
            struct noise_hs keep = s->hs;

            net__noise_split(&keep, &s->tx, &s->rx);
            net__noise_wipe(&keep);
        }
        s->info.state = NET_OPEN; /* provisionally, to send an error frame */
        if ((err = accept_peer(s, pbuf, plen)))
            return err;
        s->info.state = NET_HANDSHAKE;
        return open_session(s, now);
    }
    set_closed(s, NET_CLOSE_ERROR, TX_EPROTO, "unexpected handshake message", 0);
    return TX_EPROTO;
}

/* ---- input ---- */

/* b is the frame body in the input buffer; transport frames are decrypted
 * in place (ChaCha20-Poly1305 allows it), so a session keeps no second
 * frame-sized buffer. */
static int on_frame(struct net_session *s, uint8_t *b, size_t len, uint64_t now)
{
    int err;

    if (s->info.state == NET_HANDSHAKE)
        return on_handshake(s, b, len, now);
    if (len < NOISE_TAG)
        return fail(s, TX_EPROTO, "short frame");
    if ((err = net__cipher_decrypt(&s->rx, b, len, b)))
        return fail(s, TX_EAUTH, "frame failed authentication (tampered, replayed or reordered)");
    return on_message(s, b, len - NOISE_TAG, now);
}

int net_session_feed(struct net_session *s, const uint8_t *data, size_t len, uint64_t now_ms)
{
    size_t off = 0;

    if (s->info.state == NET_CLOSED)
        return TX_ECLOSED;
    s->info.bytes_in += len;
    s->info.last_rx_ms = now_ms;
    while (off < len && s->info.state != NET_CLOSED) {
        size_t cap = s->info.state == NET_HANDSHAKE ? NET_MAX_FRAME_PRE : NET_MAX_FRAME;
        size_t need, take;
        uint32_t flen;

        /* Collect the 4-byte header, check it, then collect exactly the body. */
        if (s->in_len < 4) {
            take = 4 - s->in_len;
            if (take > len - off)
                take = len - off;
            if (!s->in && !(s->in = tx_malloc(4 + 64))) {
                return fail(s, TX_ENOMEM, "out of memory");
            }
            if (!s->in_cap)
                s->in_cap = 4 + 64;
            memcpy(s->in + s->in_len, data + off, take);
            s->in_len += take;
            off += take;
            if (s->in_len < 4)
                break;
        }
        flen = ((uint32_t)s->in[0] << 24) | ((uint32_t)s->in[1] << 16) | ((uint32_t)s->in[2] << 8) |
               s->in[3];
        if (flen > cap || flen == 0)
            return fail(s, TX_ETOOBIG, flen ? "frame over the size limit" : "empty frame");
        need = 4 + (size_t)flen;
        if (s->in_cap < need) {
            uint8_t *nb = tx_reallocarray(s->in, need, 1);

            if (!nb)
                return fail(s, TX_ENOMEM, "out of memory");
            s->in = nb;
            s->in_cap = need;
        }
        take = need - s->in_len;
        if (take > len - off)
            take = len - off;
        memcpy(s->in + s->in_len, data + off, take);
        s->in_len += take;
        off += take;
        if (s->in_len < need)
            break;
        s->in_len = 0;
        {
            int err = on_frame(s, s->in + 4, flen, now_ms);

            if (err && s->info.state == NET_CLOSED)
                return err;
        }
        /* A frame buffer grown for a large frame is given back. */
        if (s->in_cap > 65536) {
            tx_free(s->in);
            s->in = NULL;
            s->in_cap = 0;
        }
    }
    return s->info.state == NET_CLOSED && s->info.close_kind == NET_CLOSE_ERROR &&
                   !s->info.close_by_peer
               ? s->info.close_code
               : TX_OK;
}

int net_session_tick(struct net_session *s, uint64_t now)
{
    if (s->info.state == NET_CLOSED)
        return TX_OK;
    if (s->info.state == NET_HANDSHAKE) {
        if (now - s->started_ms > s->cfg.handshake_timeout_ms) {
            set_closed(s, NET_CLOSE_ERROR, TX_ETIMEDOUT, "handshake timed out", 0);
            return TX_ETIMEDOUT;
        }
        return TX_OK;
    }
    if (now > s->info.last_rx_ms && now - s->info.last_rx_ms > s->cfg.idle_timeout_ms)
        return fail(s, TX_ETIMEDOUT, "idle timeout: no traffic from peer");
    if (!s->ping_outstanding && now - s->last_ping_ms >= s->cfg.ping_interval_ms) {
        struct tx_mpw w;

        s->ping_id++;
        s->ping_sent_ms = now;
        s->last_ping_ms = now;
        s->ping_outstanding = 1;
        tx_mpw_init(&w, 64);
        net__msg_ping(&w, 0, s->ping_id, now);
        if (send_w(s, &w))
            return fail(s, TX_ENOMEM, "send failed");
    } else if (s->ping_outstanding && now - s->ping_sent_ms >= s->cfg.ping_interval_ms) {
        /* No pong within an interval: ask again (the idle timeout decides). */
        s->ping_outstanding = 0;
    }
    if (now - s->last_vector_ms >= s->cfg.vector_interval_ms && send_vector(s, 0, now))
        return fail(s, TX_ENOMEM, "send failed");
    return net_session_pump(s, now);
}
