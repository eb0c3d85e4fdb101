/*
 * fuzz_frame.c - the session engine (net/session.c, net/noise.c) fed arbitrary
 * bytes, in every state, split at arbitrary points across net_session_feed
 * calls, with clock ticks in between.
 *
 * Two fixed identities (Ed25519 keys from fixed seeds), a fixed network key,
 * fixed ephemeral randomness and a trivial in-memory store (no LMDB; one fake
 * head whose "envelopes" are plain bytes) make every handshake deterministic.
 * The harness plays the peer with the internal noise functions, so it holds
 * the transport keys: it can encrypt what the fuzzer wrote as real frames and
 * decrypt everything the session sends. The transcripts (our first and third
 * message, the session's replies, our keys) are computed once, on the first
 * input; each input then replays them to bring a fresh session to the wanted
 * state (a session does not survive a bad frame, so none is kept).
 *
 * Input: byte 0 picks the mode, byte 1 seeds the chunking and ticks, the rest
 * is the payload.
 *   0  fresh responder, payload as raw bytes
 *   1  fresh initiator (its first message sent), payload raw
 *   2  responder after our first message, payload raw
 *   3  open responder, payload raw (frames it cannot decrypt)
 *   4  open responder, payload as records [ctl u8, len u16be, plaintext]:
 *      each plaintext is encrypted as the next frame; ctl asks for a tick
 *      first, or for the frame to be sent twice, bit-flipped or unencrypted
 *   5  fresh initiator; payload [len u16be, hello, records...]: our second
 *      message carries the fuzzed hello; once open, the records follow
 *   6  responder after our first message; the same with our third message
 *   7  open initiator, payload as records
 *
 * Oracles:
 *  - a feed or tick that returns an error leaves the session closed; a closed
 *    session refuses more bytes with TX_ECLOSED and raised NET_EV_CLOSED;
 *  - everything the session writes is whole frames within the phase's cap;
 *    once we hold the keys every frame decrypts in order and decodes as a
 *    message; ERROR/GOODBYE only as the last thing it says, and only closed;
 *  - a responder says nothing at all unless the first frame carried a valid
 *    network-key tag (checked independently);
 *  - with a fuzzed hello the session opens exactly when the hello is a valid
 *    one of the harness's node (version 1, its node id);
 *  - a replayed, bit-flipped or unencrypted frame closes an open session;
 *  - no crash, leak (replay.c counts allocations) or hang.
 */
#include "fuzz.h"

#include "../../net/internal.h"

#define T0        UINT64_C(1764300000000)
#define MAX_HELLO 3900 /* our hello in a handshake message stays under the 4 KiB cap */

enum {
    M_RESP_RAW,
    M_INIT_RAW,
    M_RESP_M1_RAW,
    M_OPEN_RAW,
    M_OPEN_MSGS,
    M_INIT_HELLO,
    M_RESP_HELLO,
    M_OPEN_INIT_MSGS,
    M_COUNT
};

/* ---- identities, store ---- */

static uint8_t s_pk[32], s_sk[64]; /* the session under test */
static uint8_t p_pk[32], p_sk[64]; /* the harness, its peer */
static uint8_t psk[NET_PSK_BYTES];
static const uint8_t fake_origin[CRDT_KEY_BYTES] = {0xf0, 0x0d};
static const char fake_env[] = "not an envelope, but bytes the store holds";

static int st_vector(void *ctx, struct net_vec_entry **v, size_t *n)
{
    (void)ctx;
    *n = 0;
    if (!(*v = tx_calloc(1, sizeof(**v))))
        return TX_ENOMEM;
    memcpy((*v)->origin, fake_origin, CRDT_KEY_BYTES);
    (*v)->seq = 3;
    crdt_env_hash(fake_env, sizeof(fake_env), (*v)->hash);
    *n = 1;
    return TX_OK;
}

static int st_start(void *ctx, const struct net_known *known, uint64_t *pos)
{
    (void)ctx;
    (void)known;
    *pos = UINT64_MAX;
    return TX_OK;
}

static int st_read(void *ctx, uint64_t *pos, struct net_known *known, size_t max_envs,
                   size_t max_bytes, struct tx_mpw *w, size_t *count)
{
    (void)ctx;
    (void)pos;
    (void)known;
    (void)max_envs;
    (void)max_bytes;
    *count = 0;
    return tx_mpw_finish(w);
}

static int st_ingest(void *ctx, const uint8_t *const *envs, const size_t *lens, size_t n,
                     struct net_ingest_result *res)
{
    (void)ctx;
    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < n; i++) {
        struct crdt_env e;
        int err = crdt_env_decode(&e, envs[i], lens[i]);

        if (err == TX_ENOMEM)
            return err;
        if (err)
            res->forged++;
        else if (e.seq & 1)
            res->accepted++;
        else
            res->held++;
        crdt_env_release(&e);
    }
    return TX_OK;
}

static int st_get(void *ctx, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq, uint8_t **env,
                  size_t *len)
{
    (void)ctx;
    *env = NULL;
    if (memcmp(origin, fake_origin, CRDT_KEY_BYTES) != 0 || seq == 0 || seq > 3)
        return TX_ENOTFOUND;
    if (!(*env = tx_malloc(sizeof(fake_env))))
        return TX_ENOMEM;
    memcpy(*env, fake_env, sizeof(fake_env));
    *len = sizeof(fake_env);
    return TX_OK;
}

static int st_check_peer(void *ctx, const uint8_t node[CRDT_KEY_BYTES], const uint8_t *cert,
                         size_t cert_len, char *name)
{
    (void)ctx;
    (void)cert;
    (void)cert_len;
    (void)name;
    return memcmp(node, p_pk, CRDT_KEY_BYTES) == 0 ? TX_OK : TX_EAUTH;
}

static const struct net_store_ops store = {
    st_vector, st_start, st_read, st_ingest, st_get, st_check_peer,
};

static void fixed_random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    memset(buf, 0x5e, n);
}

static struct net_config cfg;

/* ---- transcripts (computed once) ---- */

static int ready;
/* Responder under test: our msg1 and msg3 frames, its msg2 frame, our keys
 * once it is open, and our state after its msg2 (for a fuzzed msg3). */
static uint8_t r_m1[4 + 64], r_m2[4 + 512], r_m3[4 + 512];
static size_t r_m1_len, r_m2_len, r_m3_len;
static struct noise_cipher r_tx, r_rx;
static struct noise_hs r_after_m2;
/* Initiator under test: its msg1 frame, our msg2 frame, our keys, and our
 * state after reading its msg1 (for a fuzzed msg2). */
static uint8_t i_m1[4 + 64], i_m2[4 + 512];
static size_t i_m1_len, i_m2_len;
static struct noise_cipher i_tx, i_rx;
static struct noise_hs i_after_m1;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int our_hello(struct tx_mpw *w)
{
    struct net_hello h;

    memset(&h, 0, sizeof(h));
    h.version = NET_PROTOCOL_VERSION;
    memcpy(h.node, p_pk, CRDT_KEY_BYTES);
    h.cert = (const uint8_t *)"";
    snprintf(h.name, sizeof(h.name), "fuzz peer");
    tx_mpw_init(w, 1024);
    return net__hello_encode(&h, w);
}

/* Take all of s's output into buf (cap bytes); returns its length or 0. */
static size_t take_into(struct net_session *s, uint8_t *buf, size_t cap)
{
    size_t len;
    uint8_t *b = net_session_take_output(s, &len);

    if (!b)
        return 0;
    net_session_written(s, len);
    if (len > cap) {
        tx_free(b);
        return 0;
    }
    memcpy(buf, b, len);
    tx_free(b);
    return len;
}

static int setup_responder(void)
{
    struct noise_hs hs;
    struct net_session *s = NULL;
    uint8_t seed[32], pbuf[NET_MAX_FRAME_PRE], out[NET_MAX_FRAME_PRE];
    struct tx_mpw w;
    size_t n, plen;
    int err;

    memset(seed, 0x61, sizeof(seed));
    if (net__noise_init(&hs, 1, p_sk, psk, seed) || net__noise_msg1_write(&hs, r_m1 + 4, &n))
        return -1;
    put32(r_m1, (uint32_t)n);
    r_m1_len = 4 + n;
    if (net_session_new(&cfg, 0, T0, &s))
        return -1;
    err = net_session_feed(s, r_m1, r_m1_len, T0);
    r_m2_len = take_into(s, r_m2, sizeof(r_m2));
    if (err || r_m2_len < 4 || get32(r_m2) != r_m2_len - 4 ||
        net__noise_msg2_read(&hs, r_m2 + 4, r_m2_len - 4, pbuf, &plen))
        goto fail;
    r_after_m2 = hs;
    if (our_hello(&w) || net__noise_msg3_write(&hs, w.buf, w.len, r_m3 + 4, &n)) {
        tx_mpw_release(&w);
        goto fail;
    }
    tx_mpw_release(&w);
    put32(r_m3, (uint32_t)n);
    r_m3_len = 4 + n;
    net__noise_split(&hs, &r_tx, &r_rx);
    if (net_session_feed(s, r_m3, r_m3_len, T0) || net_session_info(s)->state != NET_OPEN)
        goto fail;
    take_into(s, out, sizeof(out));
    net_session_free(s);
    return 0;
fail:
    net_session_free(s);
    return -1;
}

static int setup_initiator(void)
{
    struct noise_hs hs;
    struct net_session *s = NULL;
    uint8_t seed[32], pbuf[NET_MAX_FRAME_PRE], out[NET_MAX_FRAME_PRE];
    struct tx_mpw w;
    size_t n, plen, olen;
    uint32_t fl;

    if (net_session_new(&cfg, 1, T0, &s))
        return -1;
    i_m1_len = take_into(s, i_m1, sizeof(i_m1));
    memset(seed, 0x62, sizeof(seed));
    if (i_m1_len < 4 || net__noise_init(&hs, 0, p_sk, psk, seed) ||
        net__noise_msg1_read(&hs, i_m1 + 4, i_m1_len - 4))
        goto fail;
    i_after_m1 = hs;
    if (our_hello(&w) || net__noise_msg2_write(&hs, w.buf, w.len, i_m2 + 4, &n)) {
        tx_mpw_release(&w);
        goto fail;
    }
    tx_mpw_release(&w);
    put32(i_m2, (uint32_t)n);
    i_m2_len = 4 + n;
    if (net_session_feed(s, i_m2, i_m2_len, T0) || net_session_info(s)->state != NET_OPEN)
        goto fail;
    /* Its msg3 first in what it wrote. */
    olen = take_into(s, out, sizeof(out));
    if (olen < 4 || (fl = get32(out)) > olen - 4 ||
        net__noise_msg3_read(&hs, out + 4, fl, pbuf, &plen))
        goto fail;
    net__noise_split(&hs, &i_tx, &i_rx);
    net_session_free(s);
    return 0;
fail:
    net_session_free(s);
    return -1;
}

static int setup(void)
{
    uint8_t seed[32];

    if (ready)
        return 0;
    if (sodium_init() < 0)
        return -1;
    memset(seed, 0x11, sizeof(seed));
    crypto_sign_seed_keypair(s_pk, s_sk, seed);
    memset(seed, 0x22, sizeof(seed));
    crypto_sign_seed_keypair(p_pk, p_sk, seed);
    memset(psk, 0x33, sizeof(psk));
    memset(&cfg, 0, sizeof(cfg));
    cfg.sk = s_sk;
    cfg.pk = s_pk;
    memcpy(cfg.psk, psk, sizeof(psk));
    cfg.name = "session under test";
    cfg.store = &store;
    cfg.random = fixed_random;
    /* Short timers and a small window, so ticks reach every branch. */
    cfg.handshake_timeout_ms = 5000;
    cfg.ping_interval_ms = 1000;
    cfg.idle_timeout_ms = 8000;
    cfg.vector_interval_ms = 3000;
    cfg.window = 2;
    cfg.batch_envs = 4;
    cfg.max_outbuf = 64 * 1024;
    if (setup_responder() || setup_initiator())
        return -1;
    ready = 1;
    return 0;
}

/* ---- one run ---- */

struct run {
    struct net_session *s;
    uint64_t now, rng;
    unsigned events;
    int keys;                   /* rx holds the session's send key */
    struct noise_cipher tx, rx; /* ours */
    int quiet;                  /* the session must say nothing */
    int said_last;              /* it sent ERROR or GOODBYE */
    int enomem;                 /* an allocation failed somewhere: relax */
    size_t cap;                 /* frame cap of what it writes */
    size_t size;                /* of the whole input */
};

static uint64_t next(struct run *r)
{
    uint64_t z = (r->rng += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void check_message(struct run *r, const uint8_t *pt, size_t len)
{
    struct net_msg m;
    int err = net__msg_decode(pt, len, &m);

    if (err == TX_ENOMEM) {
        r->enomem = 1;
        return;
    }
    FZ_CHECK(err == TX_OK);
    FZ_CHECK(!r->said_last); /* nothing after ERROR or GOODBYE */
    if (m.type == NET_MSG_ERROR || m.type == NET_MSG_GOODBYE) {
        r->said_last = 1;
        FZ_CHECK(net_session_info(r->s)->state == NET_CLOSED);
    }
    net__msg_release(&m);
}

/* Plaintext of one frame (harness memory, outside the counted allocator). */
static uint8_t ptbuf[NET_MAX_FRAME];

/* Frames the session wrote: whole, within the cap, and once we hold the keys
 * authentic, in order, and well-formed messages. */
static void check_frames(struct run *r, const uint8_t *b, size_t len)
{
    size_t off = 0;

    while (off < len) {
        uint32_t fl;

        FZ_CHECK(len - off >= 4);
        fl = get32(b + off);
        FZ_CHECK(fl > 0 && fl <= r->cap && fl <= len - off - 4);
        if (r->keys) {
            FZ_CHECK(fl >= NOISE_TAG);
            FZ_CHECK(net__cipher_decrypt(&r->rx, b + off + 4, fl, ptbuf) == TX_OK);
            check_message(r, ptbuf, fl - NOISE_TAG);
        }
        off += 4 + (size_t)fl;
    }
}

/* Take what the session wrote and check it. */
static void drain(struct run *r)
{
    size_t len;
    uint8_t *b = net_session_take_output(r->s, &len);

    r->events |= net_session_events(r->s);
    if (!b)
        return;
    FZ_CHECK(!r->quiet);
    if (next(r) & 3)
        net_session_written(r->s, len); /* sometimes the transport lags */
    check_frames(r, b, len);
    tx_free(b);
}

static void after_call(struct run *r, int was_closed, int rc)
{
    const struct net_session_info *i = net_session_info(r->s);

    FZ_CHECK(rc <= 0);
    if (rc)
        FZ_CHECK(i->state == NET_CLOSED);
    if (rc == TX_ENOMEM || (i->state == NET_CLOSED && i->close_code == TX_ENOMEM))
        r->enomem = 1;
    if (was_closed)
        FZ_CHECK(i->state == NET_CLOSED);
    drain(r);
    if (i->state == NET_CLOSED) {
        FZ_CHECK(r->events & NET_EV_CLOSED);
        FZ_CHECK(i->close_kind >= NET_CLOSE_CLEAN && i->close_kind <= NET_CLOSE_ERROR);
    }
}

static void tick(struct run *r, uint64_t dt)
{
    int was = net_session_info(r->s)->state == NET_CLOSED;
    int rc;

    r->now += dt;
    rc = net_session_tick(r->s, r->now);
    after_call(r, was, rc);
}

/* Feed bytes in random chunks, with ticks, pumps and syncs in between. */
static void feed(struct run *r, const uint8_t *b, size_t n)
{
    size_t off = 0;

    while (off < n) {
        uint64_t x = next(r);
        size_t k;
        int was = net_session_info(r->s)->state == NET_CLOSED, rc;

        switch (x & 3) {
        case 0: k = 1; break;
        case 1: k = 1 + (size_t)((x >> 8) % 16); break;
        case 2: k = 1 + (size_t)((x >> 8) % 512); break;
        default: k = n - off; break;
        }
        if (k > n - off)
            k = n - off;
        rc = net_session_feed(r->s, b + off, k, r->now);
        if (was)
            FZ_CHECK(rc == TX_ECLOSED);
        after_call(r, was, rc);
        off += k;
        switch ((x >> 20) & 31) {
        case 0:
        case 1: tick(r, (x >> 26) % 2000); break;
        case 2: tick(r, (x >> 26) % 12000); break;
        case 3:
            was = net_session_info(r->s)->state == NET_CLOSED;
            after_call(r, was, net_session_pump(r->s, r->now));
            break;
        case 4:
            was = net_session_info(r->s)->state == NET_CLOSED;
            rc = net_session_sync(r->s, r->now);
            /* A vector asked for locally may fail for want of memory and
             * leave the session as it was. */
            if (rc && net_session_info(r->s)->state != NET_CLOSED) {
                FZ_CHECK(rc == TX_ENOMEM);
                rc = 0;
            }
            after_call(r, was, rc);
            break;
        default: break;
        }
    }
}

/* The end of a run: a goodbye, a cut or nothing; then free. */
static void finish(struct run *r)
{
    uint64_t x = next(r);
    int open = net_session_info(r->s)->state == NET_OPEN;

    if (x % 3 == 0) {
        net_session_close(r->s, 0, "fuzz done");
        FZ_CHECK(net_session_info(r->s)->state == NET_CLOSED);
        FZ_CHECK(!open || net_session_info(r->s)->close_kind == NET_CLOSE_CLEAN);
        after_call(r, 0, 0);
#ifndef TX_FUZZ_TARGET
        /* An open session says goodbye, as its last frame. (Under replay.c an
         * injected allocation failure may silently cost the goodbye.) */
        if (open && r->keys && !r->enomem)
            FZ_CHECK(r->said_last);
#endif
    } else if (x % 3 == 1) {
        size_t len;
        uint8_t *b;

        drain(r);
        net_session_eof(r->s, 0, "fuzz eof");
        FZ_CHECK(net_session_info(r->s)->state == NET_CLOSED);
        FZ_CHECK(!open || net_session_info(r->s)->close_kind == NET_CLOSE_CUT);
        b = net_session_take_output(r->s, &len);
        FZ_CHECK(b == NULL); /* a cut sends nothing */
    }
    drain(r);
    net_session_free(r->s);
    r->s = NULL;
}

/* Feed a whole handshake frame, unsplit, and drain. */
static int replay(struct run *r, const uint8_t *b, size_t n)
{
    int rc = net_session_feed(r->s, b, n, r->now);

    if (rc) {
        /* Only an allocation failure can stop a replayed transcript. */
        FZ_CHECK(rc == TX_ENOMEM);
        r->enomem = 1;
    }
    return rc;
}

/* Records: [ctl, len u16be, plaintext]... encrypted with r->tx into frames,
 * fed as one stream. */
static void feed_records(struct run *r, const uint8_t *p, size_t n)
{
    uint8_t *stream = NULL; /* harness memory: plain malloc */
    size_t len = 0, cap = 0, must_close_at = 0;

    while (n > 0) {
        uint8_t ctl = p[0];
        size_t l = 0, copies = 1, need;
        int corrupt = 0, raw = 0;

        if (n >= 3)
            l = ((size_t)p[1] << 8) | p[2];
        p += n >= 3 ? 3 : n;
        n -= n >= 3 ? 3 : n;
        if (l > n)
            l = n;
        switch (ctl & 15) {
        case 13: raw = 1; break;
        case 14: copies = 2; break;
        case 15: corrupt = 1; break;
        default: break;
        }
        if (ctl & 16) {
            /* Ticks cannot interleave a single stream: feed what is built so
             * far, then tick. */
            if (len)
                feed(r, stream, len);
            len = 0;
            if (must_close_at) {
                FZ_CHECK(net_session_info(r->s)->state == NET_CLOSED);
                must_close_at = 0;
            }
            tick(r, (uint64_t)(ctl >> 5) * 1500);
        }
        need = copies * (4 + l + NOISE_TAG);
        if (len + need > cap) {
            size_t ncap = cap ? cap : 4096;
            uint8_t *nb;

            while (ncap < len + need)
                ncap *= 2;
            if (!(nb = realloc(stream, ncap)))
                abort();
            stream = nb;
            cap = ncap;
        }
        if (raw) {
            put32(stream + len, (uint32_t)(l ? l : 1));
            if (l)
                memcpy(stream + len + 4, p, l);
            else
                stream[len + 4] = 0;
            len += 4 + (l ? l : 1);
        } else {
            uint8_t *f = stream + len;

            put32(f, (uint32_t)(l + NOISE_TAG));
            FZ_CHECK(net__cipher_encrypt(&r->tx, p, l, f + 4) == TX_OK);
            if (corrupt)
                f[4 + (size_t)(ctl >> 4) % (l + NOISE_TAG)] ^= (uint8_t)(1u << (ctl & 7));
            len += 4 + l + NOISE_TAG;
            if (copies == 2) {
                memcpy(stream + len, f, 4 + l + NOISE_TAG);
                len += 4 + l + NOISE_TAG;
            }
        }
        if ((raw || corrupt || copies == 2) && !must_close_at)
            must_close_at = len;
        p += l;
        n -= l;
    }
    if (len) {
        if (must_close_at) {
            /* Up to the bad frame, then the rest: the session must be closed
             * by then (it may have closed earlier for another reason). */
            feed(r, stream, must_close_at);
            if (!r->enomem)
                FZ_CHECK(net_session_info(r->s)->state == NET_CLOSED);
            feed(r, stream + must_close_at, len - must_close_at);
        } else {
            feed(r, stream, len);
        }
    }
    free(stream);
}

/* The responder's first frame: does it carry a valid network-key tag? */
static int valid_msg1(const uint8_t *b, size_t n)
{
    struct noise_hs hs;
    uint8_t seed[32] = {0};
    int ok;

    if (n < 4 || get32(b) != 32 + NOISE_TAG || n < 4 + 32 + NOISE_TAG)
        return 0;
    if (net__noise_init(&hs, 0, s_sk, psk, seed))
        return 0;
    ok = net__noise_msg1_read(&hs, b + 4, 32 + NOISE_TAG) == TX_OK;
    net__noise_wipe(&hs);
    return ok;
}

/* Does this hello let the harness's node in? */
static int hello_admits(const uint8_t *h, size_t n)
{
    struct net_hello hello;

    return net__hello_decode(h, n, &hello) == TX_OK && hello.version == NET_PROTOCOL_VERSION &&
           memcmp(hello.node, p_pk, CRDT_KEY_BYTES) == 0;
}

static int new_session(struct run *r, int initiator)
{
    if (net_session_new(&cfg, initiator, r->now, &r->s))
        return -1;
    r->cap = NET_MAX_FRAME_PRE;
    return 0;
}

static void run_raw(struct run *r, int mode, const uint8_t *p, size_t n)
{
    uint8_t first[4 + 64];
    size_t len;

    if (new_session(r, mode == M_INIT_RAW))
        return;
    if (mode == M_INIT_RAW) {
        len = take_into(r->s, first, sizeof(first));
        FZ_CHECK(len == i_m1_len && memcmp(first, i_m1, len) == 0);
    } else if (mode == M_RESP_M1_RAW) {
        uint8_t m2[sizeof(r_m2)];

        if (replay(r, r_m1, r_m1_len))
            goto out;
        len = take_into(r->s, m2, sizeof(m2));
        FZ_CHECK(len == r_m2_len && memcmp(m2, r_m2, len) == 0);
    } else {
        /* An outsider learns nothing: no reply unless the first frame is a
         * real first message under the network key. */
        r->quiet = !valid_msg1(p, n);
    }
    /* It may open later in raw modes: frames up to the open cap are fine. */
    r->cap = NET_MAX_FRAME;
    feed(r, p, n);
out:
    finish(r);
}

/* A session opened by replaying a transcript, then records. */
static void run_open(struct run *r, int initiator, const uint8_t *p, size_t n, int raw)
{
    uint8_t m2[sizeof(r_m2)];
    size_t len;

    if (new_session(r, initiator))
        return;
    if (initiator) {
        len = take_into(r->s, m2, sizeof(m2));
        FZ_CHECK(len == i_m1_len && memcmp(m2, i_m1, len) == 0);
        if (replay(r, i_m2, i_m2_len))
            goto out;
        /* Its msg3 (checked at setup), then its VECTOR and the rest. */
        r->keys = 1;
        r->tx = i_tx;
        r->rx = i_rx;
        r->cap = NET_MAX_FRAME;
        {
            uint8_t *b = net_session_take_output(r->s, &len);
            uint32_t fl;

            FZ_CHECK(b != NULL);
            net_session_written(r->s, len);
            FZ_CHECK(len >= 4 && (fl = get32(b)) <= len - 4);
            check_frames(r, b + 4 + fl, len - 4 - fl);
            tx_free(b);
        }
    } else {
        if (replay(r, r_m1, r_m1_len))
            goto out;
        len = take_into(r->s, m2, sizeof(m2));
        if (!r->enomem)
            FZ_CHECK(len == r_m2_len && memcmp(m2, r_m2, len) == 0);
        r->keys = 1;
        r->tx = r_tx;
        r->rx = r_rx;
        if (replay(r, r_m3, r_m3_len))
            goto out;
    }
    FZ_CHECK(net_session_info(r->s)->state == NET_OPEN);
    r->cap = NET_MAX_FRAME;
    drain(r);
    if (raw)
        feed(r, p, n);
    else
        feed_records(r, p, n);
out:
    finish(r);
}

/* A handshake message of ours carrying the fuzzed hello. */
static void run_hello(struct run *r, int initiator, const uint8_t *p, size_t n)
{
    uint8_t *msg = NULL, first[4 + 64];
    size_t hl = 0, len, mlen;
    struct noise_hs hs;
    int admit, err;

    if (n >= 2)
        hl = ((size_t)p[0] << 8) | p[1];
    p += n >= 2 ? 2 : n;
    n -= n >= 2 ? 2 : n;
    if (hl > n)
        hl = n;
    if (hl > MAX_HELLO)
        hl = MAX_HELLO;
    admit = hello_admits(p, hl);
    if (new_session(r, initiator))
        return;
    if (!(msg = malloc(4 + 80 + hl + NOISE_TAG)))
        abort();
    if (initiator) {
        len = take_into(r->s, first, sizeof(first));
        FZ_CHECK(len == i_m1_len && memcmp(first, i_m1, len) == 0);
        hs = i_after_m1;
        FZ_CHECK(net__noise_msg2_write(&hs, p, hl, msg + 4, &mlen) == TX_OK);
    } else {
        if (replay(r, r_m1, r_m1_len))
            goto out;
        uint8_t m2[sizeof(r_m2)];

        len = take_into(r->s, m2, sizeof(m2));
        FZ_CHECK(len == r_m2_len && memcmp(m2, r_m2, len) == 0);
        hs = r_after_m2;
        FZ_CHECK(net__noise_msg3_write(&hs, p, hl, msg + 4, &mlen) == TX_OK);
        /* Keys now: a refusal comes encrypted. */
        net__noise_split(&hs, &r->tx, &r->rx);
        r->keys = 1;
        r->cap = NET_MAX_FRAME;
    }
    put32(msg, (uint32_t)mlen);
    err = net_session_feed(r->s, msg, 4 + mlen, r->now);
    if (initiator) {
        /* Its msg3 (our side of the handshake finishes with it), then
         * encrypted frames. */
        uint8_t *b = net_session_take_output(r->s, &len), pbuf[NET_MAX_FRAME_PRE];
        size_t plen;
        uint32_t fl;

        r->events |= net_session_events(r->s);
        if (b) {
            net_session_written(r->s, len);
            FZ_CHECK(err == TX_OK && net_session_info(r->s)->state == NET_OPEN);
            FZ_CHECK(len >= 4 && (fl = get32(b)) <= len - 4);
            FZ_CHECK(net__noise_msg3_read(&hs, b + 4, fl, pbuf, &plen) == TX_OK);
            net__noise_split(&hs, &r->tx, &r->rx);
            r->keys = 1;
            r->cap = NET_MAX_FRAME;
            check_frames(r, b + 4 + fl, len - 4 - fl);
            tx_free(b);
        }
    } else {
        after_call(r, 0, err);
    }
    if (err == TX_ENOMEM || net_session_info(r->s)->close_code == TX_ENOMEM)
        r->enomem = 1;
    if (!r->enomem)
        FZ_CHECK((net_session_info(r->s)->state == NET_OPEN) == admit);
    if (net_session_info(r->s)->state == NET_OPEN)
        feed_records(r, p + hl, n - hl);
out:
    free(msg);
    if (r->s)
        finish(r);
}

#ifdef TX_FUZZ_TARGET
/* Under replay.c, whose allocator refuses more than 1 MiB + 256 bytes per
 * input byte: a header after the handshake makes the session reserve the
 * frame's whole body at once (up to NET_MAX_FRAME), by design. Raw streams (which reach the open
 * state when they carry a transcript) that claim more than the input could pay for there are left
 * to libFuzzer; headers within the handshake cap cost little. */
static int affordable(const uint8_t *p, size_t n, size_t size)
{
    size_t off = 0;

    while (n - off >= 4) {
        uint32_t fl = get32(p + off);

        if (fl > NET_MAX_FRAME_PRE && fl <= NET_MAX_FRAME && fl > 128 * size)
            return 0;
        if (fl > n - off - 4)
            break;
        off += 4 + (size_t)fl;
    }
    return 1;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r;
    int mode;

    if (size < 2 || setup())
        return 0;
    memset(&r, 0, sizeof(r));
    mode = data[0] % M_COUNT;
    r.rng = data[1] * UINT64_C(0x100000001b3) + size;
    r.now = T0;
    r.size = size;
#ifdef TX_FUZZ_TARGET
    if (mode <= M_OPEN_RAW && !affordable(data + 2, size - 2, size))
        return 0;
#endif
    switch (mode) {
    case M_RESP_RAW:
    case M_INIT_RAW:
    case M_RESP_M1_RAW: run_raw(&r, mode, data + 2, size - 2); break;
    case M_OPEN_RAW: run_open(&r, 0, data + 2, size - 2, 1); break;
    case M_OPEN_MSGS: run_open(&r, 0, data + 2, size - 2, 0); break;
    case M_OPEN_INIT_MSGS: run_open(&r, 1, data + 2, size - 2, 0); break;
    case M_INIT_HELLO: run_hello(&r, 1, data + 2, size - 2); break;
    case M_RESP_HELLO: run_hello(&r, 0, data + 2, size - 2); break;
    default: break;
    }
    return 0;
}
