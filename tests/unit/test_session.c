/*
 * test_session.c - the sync session engine (net/session.c) in memory.
 *
 * Every node is a real store in a scratch directory (LMDB without fsync), in
 * development mode (node_dev_trust); every connection is a pair of real
 * sessions configured from node_identity; the test moves the bytes between
 * them by hand (net_session_take_output / net_session_feed) on a virtual clock,
 * so it can drop, repeat, reorder, cut, forge and withhold any of them.
 *
 * - handshake: both sides open, learn each other's id and name; writes made
 *   before and after the handshake reach the other side (log digests equal).
 * - live writes: a write made while a session is open is streamed by
 *   net_session_pump even when the peer lacked nothing when the session
 *   opened (both logs empty; a reconnect between nodes in sync); what a side
 *   received from its peer is not sent back to it.
 * - wrong network key: the responder refuses the first message and sends
 *   nothing at all (its static key and certificate stay private).
 * - untrusted peer (either side): refused with TX_EAUTH, "refused" in the reason.
 * - frame caps: a length header over the cap of the phase closes the session
 *   with TX_ETOOBIG as soon as its 4 bytes are in; an empty frame too.
 * - tampering after the handshake: random bytes, a replayed frame, two frames
 *   reordered, a flipped bit: TX_EAUTH; a stream cut in a frame then EOF: a
 *   cut. The other session is unaffected until the error frame reaches it.
 * - goodbye: a clean close by the peer; EOF: a cut.
 * - flow control: a sender with thousands of envelopes never has more than
 *   `window` ENVELOPES messages outstanding; a sender that ignores the
 *   receiver's window is still served (flow control is the sender's); a
 *   vector that predates messages in flight resends nothing.
 * - forged envelopes: malformed ones, or ones with a flipped signature byte
 *   (at the frontier, alone or in a run, or re-sent over envelopes the
 *   receiver holds) close the session with TX_ESIG and apply nothing; the
 *   genuine envelopes still get in afterwards.
 * - equivocation: two copies of one node write different envelopes at seq 2;
 *   a third node syncing with both freezes that origin and keeps evidence.
 * - ping round trip, idle timeout and handshake timeout.
 * - a peer driven by hand (the handshake done with the internal noise
 *   functions) gets PONG for PING, a VECTOR reply and the envelopes it lacks;
 *   credit it was never owed or an unknown message type close the session
 *   with TX_EPROTO and an ERROR; its GOODBYE or ERROR close it as the peer's.
 * - small-order ephemeral keys in either handshake message (with a valid
 *   network-key tag, computed here with the internal noise functions) are
 *   refused with TX_EAUTH and no output.
 *
 * TX_SESSION_SEED replays the random bytes used for garbage frames.
 */
#include "txnode.h"

#include "../../net/internal.h"

#define PUB "public"

static uint64_t g_seed;
static uint64_t g_now = 1764300000000ull; /* the sessions' virtual clock, ms */

/* ---- nodes ---- */

struct peer {
    char dir[TXN_PATH];
    struct node_store *st;
    uint8_t id[CRDT_KEY_BYTES];
    struct net_config cfg;
    uint8_t *cert;
    char name[32];
};

static void log_cb(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= NET_LOG_WARN && getenv("TX_SESSION_VERBOSE"))
        print_message("%s\n", msg);
}

static void peer_open(struct peer *p)
{
    const uint8_t *sk = NULL;
    size_t cert_len = 0;
    int rc = node_open(p->dir, NODE_OPEN_NOSYNC, NULL, &p->st);

    if (rc)
        fail_msg("node_open %s: %s", p->dir, tx_errname(rc));
    txn_id(p->st, p->id);
    memset(&p->cfg, 0, sizeof(p->cfg));
    assert_int_equal(node_identity(p->st, &sk, p->cfg.psk, &p->cert, &cert_len), TX_OK);
    assert_null(p->cert); /* development mode */
    p->cfg.sk = sk;
    p->cfg.pk = p->id;
    p->cfg.cert = p->cert;
    p->cfg.cert_len = cert_len;
    p->cfg.name = p->name;
    p->cfg.store = node_net_ops();
    p->cfg.store_ctx = p->st;
    p->cfg.log = log_cb;
}

static void peer_new(struct peer *p, const char *name)
{
    struct node_init_opts o = {"c1", NODE_ROLE_OFFICE, NULL};
    int rc;

    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    txn_tmpdir(p->dir, sizeof(p->dir), name);
    if ((rc = node_init(p->dir, &o, NULL)))
        fail_msg("node_init %s: %s", p->dir, tx_errname(rc));
    peer_open(p);
}

static void peer_close(struct peer *p)
{
    node_close(p->st);
    p->st = NULL;
    tx_free(p->cert);
    p->cert = NULL;
}

static void peer_free(struct peer *p)
{
    if (p->st)
        peer_close(p);
    txn_rmrf(p->dir);
}

/* p accepts connections from exactly these nodes (none when both are NULL). */
static void trust(struct peer *p, const struct peer *a, const struct peer *b)
{
    uint8_t ids[2][CRDT_KEY_BYTES];
    size_t n = 0;

    if (a)
        memcpy(ids[n++], a->id, CRDT_KEY_BYTES);
    if (b)
        memcpy(ids[n++], b->id, CRDT_KEY_BYTES);
    assert_int_equal(node_dev_trust(p->st, (const uint8_t(*)[CRDT_KEY_BYTES])ids, n), TX_OK);
}

/* The usual start of a test: the counting allocator reset, peers alpha and
 * beta that trust each other. pair_free ends it and checks nothing leaked. */
static void pair_new(struct peer *a, struct peer *b)
{
    txt_alloc_install();
    peer_new(a, "alpha");
    peer_new(b, "beta");
    trust(a, b, NULL);
    trust(b, a, NULL);
}

static void pair_free(struct peer *a, struct peer *b)
{
    peer_free(a);
    peer_free(b);
    txt_assert_no_leak();
}

static void put(struct peer *p, const char *id, const char *value)
{
    txn_put(p->st, PUB, "case", id, "title", value);
}

static void assert_same_log(struct peer *a, struct peer *b)
{
    uint8_t da[CRDT_HASH_BYTES], db[CRDT_HASH_BYTES];

    assert_int_equal(node_digest_log(a->st, da), TX_OK);
    assert_int_equal(node_digest_log(b->st, db), TX_OK);
    assert_memory_equal(da, db, CRDT_HASH_BYTES);
}

static int same_log(struct peer *a, struct peer *b)
{
    uint8_t da[CRDT_HASH_BYTES], db[CRDT_HASH_BYTES];

    assert_int_equal(node_digest_log(a->st, da), TX_OK);
    assert_int_equal(node_digest_log(b->st, db), TX_OK);
    return memcmp(da, db, CRDT_HASH_BYTES) == 0;
}

/* ---- connections ---- */

/* s[0] is the initiator (a), s[1] the responder (b). */
struct link {
    struct net_session *s[2];
    unsigned ev[2]; /* events seen so far */
    int rc[2];      /* last non-zero result of a feed */
};

static const struct net_session_info *info(const struct link *l, int side)
{
    return net_session_info(l->s[side]);
}

static void link_new(struct link *l, const struct peer *a, const struct peer *b)
{
    memset(l, 0, sizeof(*l));
    assert_int_equal(net_session_new(&a->cfg, 1, g_now, &l->s[0]), TX_OK);
    assert_int_equal(net_session_new(&b->cfg, 0, g_now, &l->s[1]), TX_OK);
}

static void link_free(struct link *l)
{
    net_session_free(l->s[0]);
    net_session_free(l->s[1]);
    memset(l, 0, sizeof(*l));
}

static void collect_events(struct link *l)
{
    l->ev[0] |= net_session_events(l->s[0]);
    l->ev[1] |= net_session_events(l->s[1]);
}

static void feed(struct link *l, int to, const uint8_t *b, size_t len)
{
    int rc = net_session_feed(l->s[to], b, len, g_now);

    if (rc)
        l->rc[to] = rc;
    collect_events(l);
}

/* Move what side `from` has written to the other side. Returns 1 if there was
 * anything. */
static int xfer(struct link *l, int from)
{
    size_t len;
    uint8_t *b = net_session_take_output(l->s[from], &len);

    if (!b)
        return 0;
    net_session_written(l->s[from], len);
    if (info(l, !from)->state != NET_CLOSED)
        feed(l, !from, b, len);
    tx_free(b);
    return 1;
}

/* Take side's output without delivering it (the caller frees it). */
static uint8_t *take(struct link *l, int side, size_t *len)
{
    uint8_t *b = net_session_take_output(l->s[side], len);

    if (b)
        net_session_written(l->s[side], *len);
    collect_events(l);
    return b;
}

static void drop_output(struct link *l, int side)
{
    size_t len;

    tx_free(take(l, side, &len));
}

/* Move bytes both ways until neither side has anything to say. */
static void settle(struct link *l)
{
    for (int i = 0; i < 200000; i++) {
        int moved = xfer(l, 0);

        moved |= xfer(l, 1);
        collect_events(l);
        if (!moved)
            return;
    }
    fail_msg("the sessions never went quiet");
}

static void assert_open(const struct link *l)
{
    const struct net_session_info *i = info(l, 0), *r = info(l, 1);

    if (i->state != NET_OPEN || r->state != NET_OPEN)
        fail_msg("not open: initiator state %d (%s%s: %s; %llu envelopes in, %llu out), "
                 "responder state %d (%s%s: %s; %llu in, %llu out)",
                 i->state, tx_errname(i->close_code), i->close_by_peer ? " from peer" : "",
                 i->close_reason, (unsigned long long)i->env_in, (unsigned long long)i->env_out,
                 r->state, tx_errname(r->close_code), r->close_by_peer ? " from peer" : "",
                 r->close_reason, (unsigned long long)r->env_in, (unsigned long long)r->env_out);
}

/* A connected, settled pair. */
static void link_open(struct link *l, const struct peer *a, const struct peer *b)
{
    link_new(l, a, b);
    settle(l);
    assert_open(l);
}

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

/* Split an output buffer into frames: offsets (of the header) and total sizes.
 * Returns the number of frames; asserts the buffer is exactly whole frames. */
static size_t frames(const uint8_t *b, size_t len, size_t *off, size_t *size, size_t max)
{
    size_t n = 0, o = 0;

    while (o < len) {
        uint32_t fl;

        assert_true(len - o >= 4);
        fl = get32(b + o);
        assert_true(fl > 0 && len - o - 4 >= fl);
        assert_true(n < max);
        off[n] = o;
        size[n] = 4 + (size_t)fl;
        n++;
        o += 4 + (size_t)fl;
    }
    return n;
}

static void assert_closed(const struct link *l, int side, int kind, int code, int by_peer)
{
    const struct net_session_info *i = info(l, side);

    if (i->state != NET_CLOSED || i->close_kind != kind || i->close_code != code ||
        i->close_by_peer != by_peer)
        fail_msg("%s: state %d kind %d code %s by_peer %d (%s); wanted kind %d code %s "
                 "by_peer %d",
                 side ? "responder" : "initiator", i->state, i->close_kind,
                 tx_errname(i->close_code), i->close_by_peer, i->close_reason, kind,
                 tx_errname(code), by_peer);
    assert_true(l->ev[side] & NET_EV_CLOSED);
}

/* ---- handshake and sync ---- */

static void test_handshake_and_sync(void **state)
{
    struct peer a, b;
    struct link l;
    char got[64];

    (void)state;
    pair_new(&a, &b);
    put(&a, "a1", "written by alpha before");
    put(&a, "a2", "written by alpha before, too");
    put(&b, "b1", "written by beta before");

    link_new(&l, &a, &b);
    /* The initiator speaks first; the responder says nothing until spoken to. */
    assert_int_equal(info(&l, 0)->state, NET_HANDSHAKE);
    assert_int_equal(info(&l, 1)->state, NET_HANDSHAKE);
    assert_int_equal(info(&l, 0)->initiator, 1);
    assert_int_equal(info(&l, 1)->initiator, 0);
    assert_int_equal(xfer(&l, 1), 0);
    settle(&l);
    assert_open(&l);
    assert_true(l.ev[0] & NET_EV_OPEN);
    assert_true(l.ev[1] & NET_EV_OPEN);
    assert_false((l.ev[0] | l.ev[1]) & NET_EV_CLOSED);
    assert_memory_equal(info(&l, 0)->peer, b.id, CRDT_KEY_BYTES);
    assert_memory_equal(info(&l, 1)->peer, a.id, CRDT_KEY_BYTES);
    assert_string_equal(info(&l, 0)->peer_name, "beta");
    assert_string_equal(info(&l, 1)->peer_name, "alpha");
    /* What each side knows the other holds (from its vector, and raised as
     * envelopes went out). */
    assert_int_equal(net_known_get(net_session_known(l.s[0]), b.id), 1);
    assert_int_equal(net_known_get(net_session_known(l.s[1]), a.id), 2);
    /* What each held before reached the other. */
    assert_same_log(&a, &b);
    assert_int_equal(txn_get_str(a.st, PUB, "case", "b1", "title", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "written by beta before");
    assert_int_equal(txn_get_str(b.st, PUB, "case", "a2", "title", got, sizeof(got)), TX_OK);
    assert_int_equal(info(&l, 0)->env_out, 2);
    assert_int_equal(info(&l, 1)->env_in, 2);
    assert_int_equal(info(&l, 1)->env_out, 1);
    assert_true(info(&l, 0)->caught_up);
    assert_true(info(&l, 1)->caught_up);
    assert_true(l.ev[1] & NET_EV_LOG_ADVANCED);

    /* Writes while the session is open: pump, and they travel. */
    put(&a, "a3", "written by alpha during");
    assert_int_equal(net_session_pump(l.s[0], g_now), TX_OK);
    put(&b, "b2", "written by beta during");
    assert_int_equal(net_session_pump(l.s[1], g_now), TX_OK);
    settle(&l);
    assert_open(&l);
    assert_same_log(&a, &b);
    assert_int_equal(txn_get_str(b.st, PUB, "case", "a3", "title", got, sizeof(got)), TX_OK);
    assert_int_equal(txn_get_str(a.st, PUB, "case", "b2", "title", got, sizeof(got)), TX_OK);
    txn_assert_verify(a.st);
    txn_assert_verify(b.st);
    link_free(&l);

    pair_free(&a, &b);
}

/* Nodes with nothing to send each other when the session opens (both empty,
 * or already in sync from an earlier session): a write afterwards must still
 * be streamed when the writer pumps, without waiting for a periodic vector. */
static void live_write(struct link *l, struct peer *a, struct peer *b, const char *id,
                       const char *what)
{
    char got[64];

    put(a, id, "live");
    assert_int_equal(net_session_pump(l->s[0], g_now), TX_OK);
    settle(l);
    assert_open(l);
    if (txn_get_str(b->st, PUB, "case", id, "title", got, sizeof(got)) != TX_OK || !same_log(a, b))
        fail_msg("a write made after the session opened (%s) was not streamed by "
                 "net_session_pump: env_out %llu, caught_up %d",
                 what, (unsigned long long)info(l, 0)->env_out, info(l, 0)->caught_up);
}

static void test_live_writes_fresh(void **state)
{
    struct peer a, b;
    struct link l;

    (void)state;
    pair_new(&a, &b);
    link_open(&l, &a, &b);
    live_write(&l, &a, &b, "a1", "both logs empty when it opened");
    link_free(&l);
    pair_free(&a, &b);
}

static void test_live_writes_reconnect(void **state)
{
    struct peer a, b;
    struct link l;

    (void)state;
    pair_new(&a, &b);
    put(&a, "a1", "before");
    put(&b, "b1", "before");
    link_open(&l, &a, &b);
    assert_same_log(&a, &b);
    link_free(&l);
    /* Reconnect: nothing to send either way when it opens. */
    link_open(&l, &a, &b);
    assert_int_equal(info(&l, 0)->env_out, 0);
    live_write(&l, &a, &b, "a2", "a reconnect between nodes in sync");
    link_free(&l);
    pair_free(&a, &b);
}

/* Envelopes a side received from its peer are not sent back to it. */
static void test_no_echo(void **state)
{
    struct peer a, b;
    struct link l;

    (void)state;
    pair_new(&a, &b);
    put(&a, "a1", "before");
    put(&b, "b1", "before");
    link_open(&l, &a, &b);
    /* a writes; b gets it; then b writes and pumps. */
    put(&a, "a2", "during");
    assert_int_equal(net_session_pump(l.s[0], g_now), TX_OK);
    settle(&l);
    assert_int_equal(info(&l, 1)->env_in, 2);
    put(&b, "b2", "during");
    assert_int_equal(net_session_pump(l.s[1], g_now), TX_OK);
    settle(&l);
    assert_open(&l);
    assert_same_log(&a, &b);
    if (info(&l, 1)->env_out != 2 || info(&l, 0)->env_in != 2)
        fail_msg("beta sent %llu envelopes for its own 2 (alpha received %llu): what it got "
                 "from alpha went back to alpha",
                 (unsigned long long)info(&l, 1)->env_out, (unsigned long long)info(&l, 0)->env_in);
    assert_int_equal(info(&l, 0)->env_out, 2);
    link_free(&l);
    pair_free(&a, &b);
}

/* ---- refusals ---- */

static void test_wrong_network_key(void **state)
{
    struct peer a, b;

    (void)state;
    pair_new(&a, &b);
    for (int side = 0; side < 2; side++) {
        struct net_config ca = a.cfg, cb = b.cfg;
        struct link l;
        size_t len;
        uint8_t *out;

        /* One side holds another network key. */
        if (side == 0)
            ca.psk[7] ^= 0x40;
        else
            cb.psk[31] ^= 1;
        memset(&l, 0, sizeof(l));
        assert_int_equal(net_session_new(&ca, 1, g_now, &l.s[0]), TX_OK);
        assert_int_equal(net_session_new(&cb, 0, g_now, &l.s[1]), TX_OK);
        assert_int_equal(xfer(&l, 0), 1);
        assert_int_equal(l.rc[1], TX_EAUTH);
        assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
        /* Nothing at all goes back: no ephemeral key, no static key, no hello. */
        out = net_session_take_output(l.s[1], &len);
        assert_null(out);
        assert_int_equal(len, 0);
        assert_int_equal(info(&l, 1)->bytes_out, 0);
        assert_int_equal(info(&l, 0)->state, NET_HANDSHAKE);
        /* Later bytes are refused as from a closed session. */
        assert_int_equal(net_session_feed(l.s[1], (const uint8_t *)"\0\0\0\1x", 5, g_now),
                         TX_ECLOSED);
        link_free(&l);
    }
    pair_free(&a, &b);
}

static void test_untrusted_peer(void **state)
{
    struct peer a, b;
    struct link l;

    (void)state;
    txt_alloc_install();
    peer_new(&a, "alpha");
    peer_new(&b, "beta");

    /* The responder does not know the initiator: it refuses after the final
     * handshake message and tells it why (encrypted). */
    trust(&a, &b, NULL);
    trust(&b, NULL, NULL);
    link_new(&l, &a, &b);
    settle(&l);
    assert_int_equal(l.rc[1], TX_EAUTH);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
    assert_non_null(strstr(info(&l, 1)->close_reason, "refused"));
    assert_false(l.ev[1] & NET_EV_OPEN);
    assert_int_equal(info(&l, 1)->env_out, 0);
    /* The initiator hears the refusal from its peer. */
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_EAUTH, 1);
    assert_non_null(strstr(info(&l, 0)->close_reason, "refused"));
    assert_int_equal(info(&l, 0)->env_in, 0);
    link_free(&l);

    /* The initiator does not know the responder: it refuses on the second
     * message and sends nothing more (no static key of its own). */
    trust(&a, NULL, NULL);
    trust(&b, &a, NULL);
    link_new(&l, &a, &b);
    assert_int_equal(xfer(&l, 0), 1);
    assert_int_equal(xfer(&l, 1), 1);
    assert_int_equal(l.rc[0], TX_EAUTH);
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_EAUTH, 0);
    assert_non_null(strstr(info(&l, 0)->close_reason, "refused"));
    assert_int_equal(xfer(&l, 0), 0);
    assert_int_equal(info(&l, 1)->state, NET_HANDSHAKE);
    net_session_eof(l.s[1], 0, "connection closed");
    collect_events(&l);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ECLOSED, 0);
    link_free(&l);

    pair_free(&a, &b);
}

/* ---- frame caps ---- */

static void header(uint8_t h[4], uint32_t len)
{
    put32(h, len);
}

static void test_oversized_frame(void **state)
{
    struct peer a, b;
    struct link l;
    uint8_t h[4];
    size_t len;

    (void)state;
    pair_new(&a, &b);

    /* Before the handshake: the cap is NET_MAX_FRAME_PRE, checked on the
     * header alone. */
    link_new(&l, &a, &b);
    header(h, NET_MAX_FRAME_PRE);
    feed(&l, 1, h, 4);
    assert_int_equal(l.rc[1], 0);
    assert_int_equal(info(&l, 1)->state, NET_HANDSHAKE);
    link_free(&l);

    link_new(&l, &a, &b);
    header(h, NET_MAX_FRAME_PRE + 1);
    assert_int_equal(net_session_feed(l.s[1], h, 4, g_now), TX_ETOOBIG);
    collect_events(&l);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ETOOBIG, 0);
    assert_null(net_session_take_output(l.s[1], &len));
    link_free(&l);

    /* Byte by byte: closed on the fourth. The initiator too. */
    link_new(&l, &a, &b);
    drop_output(&l, 0);
    header(h, 0xffffffffu);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(net_session_feed(l.s[0], h + i, 1, g_now), TX_OK);
        assert_int_equal(info(&l, 0)->state, NET_HANDSHAKE);
    }
    assert_int_equal(net_session_feed(l.s[0], h + 3, 1, g_now), TX_ETOOBIG);
    collect_events(&l);
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_ETOOBIG, 0);
    link_free(&l);

    /* An empty frame. */
    link_new(&l, &a, &b);
    header(h, 0);
    assert_int_equal(net_session_feed(l.s[1], h, 4, g_now), TX_ETOOBIG);
    collect_events(&l);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ETOOBIG, 0);
    link_free(&l);

    /* After the handshake the cap is NET_MAX_FRAME: exactly that waits for the
     * body; one more is refused at once, and the peer is told. */
    link_open(&l, &a, &b);
    header(h, NET_MAX_FRAME);
    feed(&l, 1, h, 4);
    assert_int_equal(l.rc[1], 0);
    assert_int_equal(info(&l, 1)->state, NET_OPEN);
    net_session_eof(l.s[1], 0, "eof");
    collect_events(&l);
    assert_closed(&l, 1, NET_CLOSE_CUT, TX_ECLOSED, 0);
    link_free(&l);

    link_open(&l, &a, &b);
    header(h, NET_MAX_FRAME + 1);
    assert_int_equal(net_session_feed(l.s[1], h, 4, g_now), TX_ETOOBIG);
    collect_events(&l);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ETOOBIG, 0);
    assert_int_equal(info(&l, 0)->state, NET_OPEN);
    assert_int_equal(xfer(&l, 1), 1);
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_ETOOBIG, 1);
    link_free(&l);

    pair_free(&a, &b);
}

/* ---- tampered streams ---- */

/* Have side 0 produce n frames (VECTOR messages) and return them in one
 * buffer, with each frame's offset and size. */
static uint8_t *make_frames(struct link *l, int n, size_t *len, size_t *off, size_t *size)
{
    uint8_t *b;

    for (int i = 0; i < n; i++)
        assert_int_equal(net_session_sync(l->s[0], g_now), TX_OK);
    b = take(l, 0, len);
    assert_non_null(b);
    assert_int_equal(frames(b, *len, off, size, 8), (size_t)n);
    return b;
}

static void test_tampered_streams(void **state)
{
    struct txt_rng rng = {g_seed};
    struct peer a, b;
    struct link l;
    size_t len, off[8], size[8];
    uint8_t *f;

    (void)state;
    pair_new(&a, &b);
    put(&a, "a1", "x");

    /* Random bytes as a frame. */
    for (int round = 0; round < 20; round++) {
        uint8_t junk[4 + 300];
        uint32_t n = 1 + (uint32_t)txt_below(&rng, 300);

        link_open(&l, &a, &b);
        header(junk, n);
        for (uint32_t i = 0; i < n; i++)
            junk[4 + i] = (uint8_t)txt_next(&rng);
        feed(&l, 1, junk, 4 + n);
        assert_closed(&l, 1, NET_CLOSE_ERROR, n < NOISE_TAG ? TX_EPROTO : TX_EAUTH, 0);
        /* The other side is fine until the error frame reaches it. */
        assert_int_equal(info(&l, 0)->state, NET_OPEN);
        assert_int_equal(xfer(&l, 1), 1);
        assert_closed(&l, 0, NET_CLOSE_ERROR, n < NOISE_TAG ? TX_EPROTO : TX_EAUTH, 1);
        link_free(&l);
    }

    /* A replayed frame. */
    link_open(&l, &a, &b);
    f = make_frames(&l, 1, &len, off, size);
    feed(&l, 1, f, len);
    assert_int_equal(l.rc[1], 0);
    assert_int_equal(info(&l, 1)->state, NET_OPEN);
    feed(&l, 1, f, len);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
    assert_non_null(strstr(info(&l, 1)->close_reason, "authentication"));
    assert_int_equal(info(&l, 0)->state, NET_OPEN);
    tx_free(f);
    link_free(&l);

    /* Two frames in the wrong order. */
    link_open(&l, &a, &b);
    f = make_frames(&l, 2, &len, off, size);
    feed(&l, 1, f + off[1], size[1]);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
    assert_int_equal(info(&l, 0)->state, NET_OPEN);
    tx_free(f);
    link_free(&l);

    /* A dropped frame: the first and third of three. */
    link_open(&l, &a, &b);
    f = make_frames(&l, 3, &len, off, size);
    feed(&l, 1, f + off[0], size[0]);
    assert_int_equal(l.rc[1], 0);
    feed(&l, 1, f + off[2], size[2]);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
    tx_free(f);
    link_free(&l);

    /* One flipped bit anywhere in the ciphertext or tag. */
    for (int round = 0; round < 10; round++) {
        link_open(&l, &a, &b);
        f = make_frames(&l, 1, &len, off, size);
        f[4 + txt_below(&rng, len - 4)] ^= (uint8_t)(1u << txt_below(&rng, 8));
        feed(&l, 1, f, len);
        assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
        tx_free(f);
        link_free(&l);
    }

    /* Frames split at every byte boundary still work (a control for the
     * above: the failures are not about the chunking). */
    link_open(&l, &a, &b);
    f = make_frames(&l, 3, &len, off, size);
    for (size_t i = 0; i < len; i++)
        feed(&l, 1, f + i, 1);
    assert_int_equal(l.rc[1], 0);
    assert_int_equal(info(&l, 1)->state, NET_OPEN);
    tx_free(f);
    settle(&l);
    assert_open(&l);
    link_free(&l);

    /* Cut inside a frame, then the transport ends: a cut, not an error. */
    link_open(&l, &a, &b);
    f = make_frames(&l, 1, &len, off, size);
    feed(&l, 1, f, len / 2);
    assert_int_equal(l.rc[1], 0);
    assert_int_equal(info(&l, 1)->state, NET_OPEN);
    net_session_eof(l.s[1], 0, "connection reset");
    collect_events(&l);
    assert_closed(&l, 1, NET_CLOSE_CUT, TX_ECLOSED, 0);
    assert_string_equal(info(&l, 1)->close_reason, "connection reset");
    assert_null(net_session_take_output(l.s[1], &len));
    assert_int_equal(info(&l, 0)->state, NET_OPEN);
    tx_free(f);
    link_free(&l);

    pair_free(&a, &b);
}

static void test_clean_close(void **state)
{
    struct peer a, b;
    struct link l;
    size_t len;

    (void)state;
    pair_new(&a, &b);

    link_open(&l, &a, &b);
    net_session_close(l.s[0], 0, "shutting down");
    collect_events(&l);
    assert_closed(&l, 0, NET_CLOSE_CLEAN, 0, 0);
    assert_int_equal(info(&l, 1)->state, NET_OPEN);
    assert_int_equal(xfer(&l, 0), 1); /* the goodbye */
    assert_closed(&l, 1, NET_CLOSE_CLEAN, 0, 1);
    assert_string_equal(info(&l, 1)->close_reason, "shutting down");
    assert_int_equal(l.rc[1], 0);
    assert_int_equal(net_session_feed(l.s[1], (const uint8_t *)"\0\0\0\1x", 5, g_now), TX_ECLOSED);
    link_free(&l);

    /* The responder says goodbye. */
    link_open(&l, &a, &b);
    net_session_close(l.s[1], 0, "bye");
    collect_events(&l);
    assert_closed(&l, 1, NET_CLOSE_CLEAN, 0, 0);
    assert_int_equal(xfer(&l, 1), 1);
    assert_closed(&l, 0, NET_CLOSE_CLEAN, 0, 1);
    link_free(&l);

    /* The transport ends without a goodbye: a cut, and nothing is sent. */
    link_open(&l, &a, &b);
    net_session_eof(l.s[0], 0, "gone");
    collect_events(&l);
    assert_closed(&l, 0, NET_CLOSE_CUT, TX_ECLOSED, 0);
    assert_null(net_session_take_output(l.s[0], &len));
    assert_int_equal(info(&l, 1)->state, NET_OPEN);
    link_free(&l);

    pair_free(&a, &b);
}

/* ---- flow control ---- */

#define MANY 3000

static void write_many(struct peer *p, size_t n)
{
    struct node_change *ch = calloc(n, sizeof(*ch));
    size_t *sizes = calloc(n, sizeof(*sizes));
    char(*ids)[16] = calloc(n, 16);

    assert_non_null(ch);
    assert_non_null(sizes);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], 16, "r%u", (unsigned)(i % 100000));
        ch[i] = txn_ch_str("case", ids[i], "title", "many");
        sizes[i] = 1;
    }
    assert_int_equal(node_write_batch(p->st, PUB, ch, sizes, n, NULL), TX_OK);
    free(ch);
    free(sizes);
    free(ids);
}

/* Handshake step by step until the initiator has the responder's vector (and
 * starts streaming). */
static void handshake_steps(struct link *l)
{
    assert_int_equal(xfer(l, 0), 1); /* msg1 */
    assert_int_equal(xfer(l, 1), 1); /* msg2 */
    assert_int_equal(info(l, 0)->state, NET_OPEN);
    assert_int_equal(xfer(l, 0), 1); /* msg3 + the initiator's VECTOR */
    assert_int_equal(info(l, 1)->state, NET_OPEN);
    assert_int_equal(xfer(l, 1), 1); /* the responder's VECTOR */
}

/* Frames waiting to be delivered, in order. */
struct queue {
    uint8_t *b;
    size_t len, head;
};

static void q_push(struct queue *q, const uint8_t *b, size_t len)
{
    q->b = realloc(q->b, q->len + len);
    assert_non_null(q->b);
    memcpy(q->b + q->len, b, len);
    q->len += len;
}

/* The next frame (pointer into the queue) or NULL. */
static const uint8_t *q_pop(struct queue *q, size_t *len)
{
    const uint8_t *f;

    if (q->head == q->len)
        return NULL;
    assert_true(q->len - q->head >= 4);
    f = q->b + q->head;
    *len = 4 + (size_t)get32(f);
    assert_true(q->len - q->head >= *len);
    q->head += *len;
    return f;
}

static void test_credit_window(void **state)
{
    struct peer a, b;
    struct link l;
    const uint32_t windows[2] = {4, 1};

    (void)state;
    pair_new(&a, &b);
    write_many(&a, MANY);

    for (int w = 0; w < 2; w++) {
        const uint32_t window = windows[w];
        uint64_t sent = 0, credited = 0, max_out = 0;
        struct queue credits = {0};

        if (w) {
            /* A fresh receiver. */
            peer_free(&b);
            peer_new(&b, "beta");
            trust(&b, &a, NULL);
            trust(&a, &b, NULL);
        }
        a.cfg.batch_envs = 8;
        a.cfg.window = b.cfg.window = window;
        link_new(&l, &a, &b);
        handshake_steps(&l);
        for (int round = 0;; round++) {
            size_t alen, blen, off[64], size[64], n;
            uint8_t *ab, *bb;
            const uint8_t *cf;

            assert_true(round < 100000);
            /* The sender, pumped again and again, stops at the window. */
            for (int i = 0; i < 3; i++)
                assert_int_equal(net_session_pump(l.s[0], g_now), TX_OK);
            if ((ab = take(&l, 0, &alen))) {
                n = frames(ab, alen, off, size, 64);
                sent += n;
                if (sent - credited > max_out)
                    max_out = sent - credited;
                if (sent - credited > window)
                    fail_msg("window %u: %llu ENVELOPES messages outstanding", window,
                             (unsigned long long)(sent - credited));
                feed(&l, 1, ab, alen);
                tx_free(ab);
                assert_int_equal(l.rc[1], 0);
                /* One CREDIT per message, held back for now. */
                bb = take(&l, 1, &blen);
                assert_non_null(bb);
                assert_int_equal(frames(bb, blen, off, size, 64), n);
                q_push(&credits, bb, blen);
                tx_free(bb);
            }
            /* Deliver one credit; with none left, the stream is done. */
            if (!(cf = q_pop(&credits, &blen)))
                break;
            feed(&l, 0, cf, blen);
            assert_int_equal(l.rc[0], 0);
            credited++;
        }
        free(credits.b);
        assert_open(&l);
        assert_int_equal(max_out, window);
        assert_int_equal(sent, credited);
        assert_int_equal(sent, (MANY + 7) / 8);
        assert_int_equal(info(&l, 1)->env_in, MANY);
        assert_true(info(&l, 0)->caught_up);
        assert_same_log(&a, &b);
        link_free(&l);
    }
    txn_assert_verify(b.st);
    pair_free(&a, &b);
}

/* A vector that left the peer before our in-flight messages arrived there
 * must not make us send them again; once everything is credited, a vector
 * that still lacks something (the peer refused or holds it) does. */
static void test_stale_vector(void **state)
{
    struct peer a, b;
    struct link l;
    size_t alen, blen;
    uint8_t *ab, *bb;

    (void)state;
    pair_new(&a, &b);
    write_many(&a, 8);
    a.cfg.batch_envs = 8;
    a.cfg.window = 4;
    link_open(&l, &a, &b); /* b holds a's first 8 */
    assert_int_equal(info(&l, 1)->env_in, 8);
    write_many(&a, 64);
    assert_int_equal(net_session_pump(l.s[0], g_now), TX_OK);
    ab = take(&l, 0, &alen); /* four batches in flight */
    assert_non_null(ab);
    /* b asks again, still knowing nothing of a's envelopes */
    assert_int_equal(net_session_sync(l.s[1], g_now), TX_OK);
    bb = take(&l, 1, &blen);
    assert_non_null(bb);
    feed(&l, 0, bb, blen);
    tx_free(bb);
    /* a answers with its vector only: nothing streamed again */
    bb = take(&l, 0, &blen);
    if (bb) {
        size_t off[64], size[64];

        assert_int_equal(frames(bb, blen, off, size, 64), 1);
    }
    feed(&l, 1, ab, alen);
    tx_free(ab);
    if (bb) {
        feed(&l, 1, bb, blen);
        tx_free(bb);
    }
    settle(&l);
    assert_open(&l);
    assert_same_log(&a, &b);
    /* every envelope crossed once */
    assert_int_equal(info(&l, 1)->env_in, 72);
    assert_int_equal(info(&l, 0)->env_out, 72);
    link_free(&l);
    pair_free(&a, &b);
}

/* Flow control is the sender's (docs/protocol.md section 6.5): a sender that
 * ignores the receiver's window is served - every message ingested, every one
 * credited back - since the receiver ingests each frame before reading the
 * next and so buffers one frame at most whatever the sender does. */
static void test_credit_ignored(void **state)
{
    struct peer a, b;
    struct link l;
    size_t alen, aoff[64], asize[64], na;
    uint8_t *ab;

    (void)state;
    pair_new(&a, &b);
    write_many(&a, 400);
    a.cfg.batch_envs = 8;
    a.cfg.window = 16; /* ignores b's window */
    b.cfg.window = 4;
    link_new(&l, &a, &b);
    handshake_steps(&l);
    ab = take(&l, 0, &alen);
    assert_non_null(ab);
    na = frames(ab, alen, aoff, asize, 64);
    assert_int_equal(na, 16);
    /* All sixteen arrive before any credit could have reached the sender. */
    feed(&l, 1, ab, alen);
    tx_free(ab);
    assert_open(&l);
    assert_int_equal(info(&l, 1)->env_in, 16 * 8);
    /* Every message is credited back exactly once: more would end a's
     * session ("credit for messages never sent"), fewer would stall it. */
    settle(&l);
    assert_open(&l);
    assert_same_log(&a, &b);
    link_free(&l);
    pair_free(&a, &b);
}

/* ---- forged envelopes ---- */

/* A store wrapper for the sender that damages every envelope it streams. */
enum { T_FLIP_SIG = 1, T_TRUNCATE = 2 };

struct tamper {
    struct node_store *st;
    int how;
    int resend; /* stream everything again, whatever the peer holds */
};

static int tw_vector(void *ctx, struct net_vec_entry **v, size_t *n)
{
    struct tamper *t = ctx;

    return node_net_ops()->vector(t->st, v, n);
}

static int tw_start(void *ctx, const struct net_known *known, uint64_t *pos)
{
    struct tamper *t = ctx;
    struct net_known none;
    int rc;

    if (!t->resend)
        return node_net_ops()->start(t->st, known, pos);
    net_known_init(&none);
    rc = node_net_ops()->start(t->st, &none, pos);
    net_known_release(&none);
    return rc;
}

static int tw_read(void *ctx, uint64_t *pos, struct net_known *known, size_t max_envs,
                   size_t max_bytes, struct tx_mpw *w, size_t *count)
{
    struct tamper *t = ctx;
    struct net_known none;
    struct tx_mpw tmp;
    struct tx_mpr r;
    int rc;

    net_known_init(&none);
    tx_mpw_init(&tmp, NET_MAX_FRAME);
    rc = node_net_ops()->read(t->st, pos, t->resend ? &none : known, max_envs, max_bytes, &tmp,
                              count);
    net_known_release(&none);
    if (rc || !*count) {
        tx_mpw_release(&tmp);
        return rc;
    }
    tx_mpr_init(&r, tmp.buf, tmp.len);
    for (size_t i = 0; i < *count; i++) {
        const uint8_t *e;
        uint32_t n;
        uint8_t *copy;

        assert_int_equal(tx_mpr_bin(&r, &e, &n, CRDT_MAX_ENVELOPE), TX_OK);
        copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, e, n);
        if (t->how == T_FLIP_SIG)
            copy[n - 1] ^= 0x01; /* the signature's last byte */
        tx_mpw_bin(w, copy, t->how == T_TRUNCATE ? n - 1 : n);
        free(copy);
    }
    tx_mpw_release(&tmp);
    return tx_mpw_finish(w);
}

static int tw_ingest(void *ctx, const uint8_t *const *envs, const size_t *lens, size_t n,
                     struct net_ingest_result *res)
{
    struct tamper *t = ctx;

    return node_net_ops()->ingest(t->st, envs, lens, n, res);
}

static int tw_get(void *ctx, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq, uint8_t **env,
                  size_t *len)
{
    struct tamper *t = ctx;

    return node_net_ops()->get(t->st, origin, seq, env, len);
}

static int tw_check_peer(void *ctx, const uint8_t node[CRDT_KEY_BYTES], const uint8_t *cert,
                         size_t cert_len, char *name)
{
    struct tamper *t = ctx;

    return node_net_ops()->check_peer(t->st, node, cert, cert_len, name);
}

static const struct net_store_ops tamper_ops = {
    tw_vector, tw_start, tw_read, tw_ingest, tw_get, tw_check_peer,
};

/* Connect a (sending through a tamper wrapper) to b and let it run. */
static void run_tampered(struct link *l, struct peer *a, struct peer *b, struct tamper *t)
{
    struct peer forger = *a;

    t->st = a->st;
    forger.cfg.store = &tamper_ops;
    forger.cfg.store_ctx = t;
    link_new(l, &forger, b);
    settle(l);
}

static void test_forged_envelope(void **state)
{
    struct peer a, b;
    struct link l;
    struct tamper t;
    struct node_stats st;
    uint8_t before[CRDT_HASH_BYTES], after[CRDT_HASH_BYTES];
    struct node_origin_info oi;

    (void)state;
    pair_new(&a, &b);
    put(&a, "a1", "one");
    put(&a, "a2", "two");
    put(&a, "a3", "three");

    /* Malformed envelopes (one byte short): dropped as forged, nothing stored. */
    memset(&t, 0, sizeof(t));
    t.how = T_TRUNCATE;
    run_tampered(&l, &a, &b, &t);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ESIG, 0);
    assert_non_null(strstr(info(&l, 1)->close_reason, "forged"));
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_ESIG, 1);
    assert_false(txn_origin(b.st, a.id, NULL));
    link_free(&l);

    /* A stream whose signatures are all broken, at the frontier: forged. */
    memset(&t, 0, sizeof(t));
    t.how = T_FLIP_SIG;
    run_tampered(&l, &a, &b, &t);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ESIG, 0);
    assert_non_null(strstr(info(&l, 1)->close_reason, "sent 3 forged"));
    assert_false(txn_origin(b.st, a.id, &oi) && oi.head);
    txn_assert_verify(b.st);
    link_free(&l);

    /* The genuine envelopes still get in (whatever the forgery left in the
     * hold queue is displaced). */
    link_open(&l, &a, &b);
    assert_same_log(&a, &b);
    link_free(&l);
    st = txn_stats(b.st);
    assert_int_equal(st.held, 0);
    assert_int_equal(st.frozen, 0);
    txn_assert_verify(b.st);

    /* Envelopes the receiver already holds, sent again with a flipped
     * signature byte (another hash, no valid signature): forged. */
    assert_int_equal(node_digest_log(b.st, before), TX_OK);
    memset(&t, 0, sizeof(t));
    t.how = T_FLIP_SIG;
    t.resend = 1;
    run_tampered(&l, &a, &b, &t);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ESIG, 0);
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_ESIG, 1);
    link_free(&l);
    assert_int_equal(node_digest_log(b.st, after), TX_OK);
    assert_memory_equal(before, after, CRDT_HASH_BYTES);
    st = txn_stats(b.st);
    assert_int_equal(st.frozen, 0);
    assert_int_equal(st.evidence, 0);
    assert_true(st.rejected[NODE_R_BADSIG] >= 3);
    txn_assert_verify(b.st);

    /* One envelope alone at the frontier with a flipped signature byte
     * (nothing after it could cover it): from a peer, a forgery. Nothing of it
     * is applied, and the genuine envelope later gets in. */
    put(&a, "a4", "four");
    memset(&t, 0, sizeof(t));
    t.how = T_FLIP_SIG;
    run_tampered(&l, &a, &b, &t);
    assert_int_equal(info(&l, 1)->env_in, 1);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ESIG, 0);
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_ESIG, 1);
    assert_int_equal(node_digest_log(b.st, after), TX_OK);
    assert_memory_equal(before, after, CRDT_HASH_BYTES);
    assert_true(txn_origin(b.st, a.id, &oi));
    assert_int_equal(oi.head, 3);
    txn_assert_verify(b.st);
    link_free(&l);
    link_open(&l, &a, &b);
    assert_same_log(&a, &b);
    link_free(&l);
    st = txn_stats(b.st);
    assert_int_equal(st.held, 0);
    assert_int_equal(st.frozen, 0);
    txn_assert_verify(b.st);

    pair_free(&a, &b);
}

/* ---- equivocation ---- */

static void test_equivocation_evidence(void **state)
{
    struct peer x1, x2, c;
    struct link l;
    struct node_origin_info oi;
    struct node_stats st;

    (void)state;
    txt_alloc_install();
    peer_new(&x1, "x");
    put(&x1, "r1", "seq one");
    peer_close(&x1);
    /* A restored backup: the same node key, the same seq 1. */
    memset(&x2, 0, sizeof(x2));
    snprintf(x2.name, sizeof(x2.name), "x-copy");
    assert_true((size_t)snprintf(x2.dir, sizeof(x2.dir), "%s-copy", x1.dir) < sizeof(x2.dir));
    txn_copy_dir(x1.dir, x2.dir);
    peer_open(&x1);
    peer_open(&x2);
    assert_memory_equal(x1.id, x2.id, CRDT_KEY_BYTES);
    /* Each copy writes its own seq 2. */
    put(&x1, "r2", "seq two, first version");
    put(&x2, "r2", "seq two, second version");
    assert_false(same_log(&x1, &x2));

    peer_new(&c, "third");
    trust(&c, &x1, NULL); /* one id for both copies */
    trust(&x1, &c, NULL);
    trust(&x2, &c, NULL);

    link_open(&l, &c, &x1);
    assert_same_log(&c, &x1);
    link_free(&l);
    assert_true(txn_origin(c.st, x1.id, &oi));
    assert_int_equal(oi.head, 2);
    assert_false(oi.flags & NODE_ORIGIN_FROZEN);

    /* The other copy: the heads differ at seq 2; evidence crosses. */
    link_new(&l, &c, &x2);
    settle(&l);
    link_free(&l);
    assert_true(txn_origin(c.st, x1.id, &oi));
    if (!(oi.flags & NODE_ORIGIN_FROZEN))
        fail_msg("the third node did not freeze an origin that wrote two versions of seq 2");
    st = txn_stats(c.st);
    assert_int_equal(st.frozen, 1);
    assert_true(st.evidence >= 1);
    assert_int_equal(oi.head, 2);
    txn_assert_verify(c.st);
    /* The copy learnt it too (evidence against itself). */
    assert_true(txn_origin(x2.st, x2.id, &oi));
    assert_true(oi.flags & NODE_ORIGIN_FROZEN);

    peer_free(&x1);
    peer_free(&x2);
    peer_free(&c);
    txt_assert_no_leak();
}

/* ---- timers ---- */

static void test_ping_and_timeouts(void **state)
{
    struct peer a, b;
    struct link l;
    uint64_t t0 = g_now, last;
    size_t len;
    uint8_t *out;

    (void)state;
    pair_new(&a, &b);
    a.cfg.ping_interval_ms = b.cfg.ping_interval_ms = 1000;
    a.cfg.idle_timeout_ms = b.cfg.idle_timeout_ms = 5000;
    a.cfg.vector_interval_ms = b.cfg.vector_interval_ms = 1000000000;
    link_open(&l, &a, &b);
    assert_int_equal(info(&l, 0)->rtt_ms, 0);

    /* Not yet. */
    assert_int_equal(net_session_tick(l.s[0], t0 + 999), TX_OK);
    assert_null(net_session_take_output(l.s[0], &len));
    /* A ping; the pong comes back 30 ms later. */
    assert_int_equal(net_session_tick(l.s[0], t0 + 1000), TX_OK);
    g_now = t0 + 1010;
    assert_int_equal(xfer(&l, 0), 1);
    g_now = t0 + 1030;
    assert_int_equal(xfer(&l, 1), 1);
    assert_int_equal(info(&l, 0)->rtt_ms, 30);
    assert_int_equal(info(&l, 0)->last_rx_ms, t0 + 1030);
    assert_open(&l);

    /* Silence from b: at exactly the idle timeout a is still open; a
     * millisecond later it gives up, and says so. */
    last = info(&l, 0)->last_rx_ms;
    assert_int_equal(net_session_tick(l.s[0], last + 5000), TX_OK);
    assert_int_equal(info(&l, 0)->state, NET_OPEN);
    assert_int_equal(xfer(&l, 0), 1); /* a ping that b gets ... */
    drop_output(&l, 1);               /* ... but whose pong is lost */
    assert_int_equal(net_session_tick(l.s[0], last + 5001), TX_ETIMEDOUT);
    collect_events(&l);
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_ETIMEDOUT, 0);
    assert_non_null(strstr(info(&l, 0)->close_reason, "idle"));
    out = net_session_take_output(l.s[0], &len);
    assert_non_null(out);
    net_session_written(l.s[0], len);
    feed(&l, 1, out, len);
    tx_free(out);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_ETIMEDOUT, 1);
    link_free(&l);

    /* A handshake that never completes. */
    g_now = t0;
    link_new(&l, &a, &b);
    assert_int_equal(net_session_tick(l.s[0], t0 + 10000), TX_OK);
    assert_int_equal(info(&l, 0)->state, NET_HANDSHAKE);
    assert_int_equal(net_session_tick(l.s[0], t0 + 10001), TX_ETIMEDOUT);
    collect_events(&l);
    assert_closed(&l, 0, NET_CLOSE_ERROR, TX_ETIMEDOUT, 0);
    link_free(&l);

    g_now = t0;
    pair_free(&a, &b);
}

/* ---- a peer speaking any message ---- */

/* The test as node a, through the internal noise functions, against b's
 * responder session: after a real handshake it can send any message. */
struct rawpeer {
    struct net_session *s; /* b's */
    struct noise_cipher tx, rx;
};

static void raw_open(struct rawpeer *p, const struct peer *a, const struct peer *b)
{
    struct noise_hs hs;
    struct net_hello h;
    struct tx_mpw w;
    uint8_t seed[32], m[4 + 512], pbuf[NET_MAX_FRAME_PRE], *out;
    size_t n = 0, plen, len;

    memset(p, 0, sizeof(*p));
    assert_int_equal(net_session_new(&b->cfg, 0, g_now, &p->s), TX_OK);
    memset(seed, 0x71, sizeof(seed));
    assert_int_equal(net__noise_init(&hs, 1, a->cfg.sk, a->cfg.psk, seed), TX_OK);
    assert_int_equal(net__noise_msg1_write(&hs, m + 4, &n), TX_OK);
    put32(m, (uint32_t)n);
    assert_int_equal(net_session_feed(p->s, m, 4 + n, g_now), TX_OK);
    out = net_session_take_output(p->s, &len);
    assert_non_null(out);
    net_session_written(p->s, len);
    assert_int_equal(get32(out), len - 4);
    assert_int_equal(net__noise_msg2_read(&hs, out + 4, len - 4, pbuf, &plen), TX_OK);
    tx_free(out);
    memset(&h, 0, sizeof(h));
    h.version = NET_PROTOCOL_VERSION;
    memcpy(h.node, a->id, CRDT_KEY_BYTES);
    h.cert = (const uint8_t *)"";
    snprintf(h.name, sizeof(h.name), "raw");
    tx_mpw_init(&w, 1024);
    assert_int_equal(net__hello_encode(&h, &w), TX_OK);
    assert_int_equal(net__noise_msg3_write(&hs, w.buf, w.len, m + 4, &n), TX_OK);
    tx_mpw_release(&w);
    put32(m, (uint32_t)n);
    net__noise_split(&hs, &p->tx, &p->rx);
    net__noise_wipe(&hs);
    assert_int_equal(net_session_feed(p->s, m, 4 + n, g_now), TX_OK);
    assert_int_equal(net_session_info(p->s)->state, NET_OPEN);
}

/* Send one message (msgpack bytes) as the next frame; the feed's result. */
static int raw_send(struct rawpeer *p, struct tx_mpw *w)
{
    uint8_t *f;
    int rc;

    assert_int_equal(tx_mpw_finish(w), TX_OK);
    f = malloc(4 + w->len + NOISE_TAG);
    assert_non_null(f);
    put32(f, (uint32_t)(w->len + NOISE_TAG));
    assert_int_equal(net__cipher_encrypt(&p->tx, w->buf, w->len, f + 4), TX_OK);
    rc = net_session_feed(p->s, f, 4 + w->len + NOISE_TAG, g_now);
    free(f);
    tx_mpw_release(w);
    return rc;
}

/* Decrypt what b said: the types of its messages (at most max), and the
 * first message of type `want` into *m if m is not NULL (release it). */
static size_t raw_read(struct rawpeer *p, int *types, size_t max, int want, struct net_msg *m)
{
    size_t len, n = 0, off = 0;
    uint8_t *out = net_session_take_output(p->s, &len);
    uint8_t *pt;
    int got = 0;

    if (!out)
        return 0;
    net_session_written(p->s, len);
    pt = malloc(NET_MAX_FRAME);
    assert_non_null(pt);
    while (off < len) {
        uint32_t fl = get32(out + off);
        struct net_msg msg;

        assert_true(fl >= NOISE_TAG && fl <= len - off - 4);
        assert_int_equal(net__cipher_decrypt(&p->rx, out + off + 4, fl, pt), TX_OK);
        assert_int_equal(net__msg_decode(pt, fl - NOISE_TAG, &msg), TX_OK);
        assert_true(n < max);
        types[n++] = msg.type;
        if (m && !got && msg.type == want) {
            *m = msg;
            got = 1;
            /* borrowed pointers are not used by the callers */
            m->envs = NULL;
            m->lens = NULL;
            tx_free(msg.envs);
            tx_free(msg.lens);
        } else {
            net__msg_release(&msg);
        }
        off += 4 + (size_t)fl;
    }
    free(pt);
    tx_free(out);
    if (m && !got)
        fail_msg("no message of type %d", want);
    return n;
}

static void test_peer_messages(void **state)
{
    struct peer a, b;
    struct rawpeer p;
    struct tx_mpw w;
    struct net_msg m;
    int types[16];
    const struct net_session_info *i;

    (void)state;
    pair_new(&a, &b);
    put(&b, "b1", "x");

    /* The session opens to the handshake done by hand and says VECTOR. */
    raw_open(&p, &a, &b);
    assert_int_equal(raw_read(&p, types, 16, NET_MSG_VECTOR, &m), 1);
    assert_int_equal(m.nvec, 1);
    assert_int_equal(m.vec_reply, 0);
    net__msg_release(&m);
    /* PING -> PONG with the same id and time. */
    tx_mpw_init(&w, 64);
    net__msg_ping(&w, 0, 77, 123456);
    assert_int_equal(raw_send(&p, &w), TX_OK);
    assert_int_equal(raw_read(&p, types, 16, NET_MSG_PONG, &m), 1);
    assert_int_equal(m.ping_id, 77);
    assert_int_equal(m.ping_time, 123456);
    /* VECTOR asking for a reply: the reply, and b's envelope streamed. */
    tx_mpw_init(&w, 64);
    net__msg_vector(&w, NULL, 0, 1);
    assert_int_equal(raw_send(&p, &w), TX_OK);
    assert_int_equal(raw_read(&p, types, 16, NET_MSG_ENVELOPES, &m), 2);
    assert_int_equal(m.nenv, 1);
    assert_true(types[0] == NET_MSG_VECTOR || types[1] == NET_MSG_VECTOR);
    /* Credit far beyond anything sent: a protocol violation. */
    tx_mpw_init(&w, 64);
    net__msg_credit(&w, 1024);
    assert_int_equal(raw_send(&p, &w), TX_EPROTO);
    i = net_session_info(p.s);
    assert_int_equal(i->state, NET_CLOSED);
    assert_int_equal(i->close_code, TX_EPROTO);
    assert_int_equal(raw_read(&p, types, 16, NET_MSG_ERROR, &m), 1);
    assert_int_equal(m.code, TX_EPROTO);
    net_session_free(p.s);

    /* An unknown message type. */
    raw_open(&p, &a, &b);
    raw_read(&p, types, 16, NET_MSG_VECTOR, NULL);
    tx_mpw_init(&w, 64);
    tx_mpw_array(&w, 2);
    tx_mpw_uint(&w, 42);
    tx_mpw_uint(&w, 0);
    assert_int_equal(raw_send(&p, &w), TX_EPROTO);
    assert_int_equal(net_session_info(p.s)->close_kind, NET_CLOSE_ERROR);
    assert_non_null(strstr(net_session_info(p.s)->close_reason, "malformed"));
    net_session_free(p.s);

    /* The peer's GOODBYE and ERROR close the session as the peer's, and
     * nothing is said back. */
    raw_open(&p, &a, &b);
    raw_read(&p, types, 16, NET_MSG_VECTOR, NULL);
    tx_mpw_init(&w, 64);
    net__msg_error(&w, 1, 0, "see you");
    assert_int_equal(raw_send(&p, &w), TX_OK);
    i = net_session_info(p.s);
    assert_int_equal(i->close_kind, NET_CLOSE_CLEAN);
    assert_int_equal(i->close_by_peer, 1);
    assert_string_equal(i->close_reason, "see you");
    assert_int_equal(raw_read(&p, types, 16, 0, NULL), 0);
    net_session_free(p.s);
    raw_open(&p, &a, &b);
    raw_read(&p, types, 16, NET_MSG_VECTOR, NULL);
    tx_mpw_init(&w, 64);
    net__msg_error(&w, 0, TX_ECERT, "bad cert\n\x1b[2J");
    assert_int_equal(raw_send(&p, &w), TX_OK);
    i = net_session_info(p.s);
    assert_int_equal(i->close_kind, NET_CLOSE_ERROR);
    assert_int_equal(i->close_code, TX_ECERT);
    assert_int_equal(i->close_by_peer, 1);
    assert_string_equal(i->close_reason, "bad cert??[2J"); /* control characters replaced */
    assert_int_equal(raw_read(&p, types, 16, 0, NULL), 0);
    net_session_free(p.s);

    pair_free(&a, &b);
}

/* Replies are queued whatever the backlog; a peer that keeps asking and never
 * reads is dropped once its unread output passes 4 x max_outbuf. */
static void test_reply_backlog(void **state)
{
    struct peer a, b;
    struct rawpeer p;
    struct tx_mpw w;
    int types[64], rc = TX_OK;
    size_t sent = 0;
    const struct net_session_info *i;

    (void)state;
    pair_new(&a, &b);
    b.cfg.max_outbuf = 4096;

    /* A peer that reads what it is answered is never dropped. */
    raw_open(&p, &a, &b);
    raw_read(&p, types, 64, NET_MSG_VECTOR, NULL);
    for (size_t k = 0; k < 2000; k++) {
        tx_mpw_init(&w, 64);
        net__msg_ping(&w, 0, k, 1);
        assert_int_equal(raw_send(&p, &w), TX_OK);
        if (k % 32 == 31)
            assert_true(raw_read(&p, types, 64, NET_MSG_PONG, NULL) == 32);
    }
    assert_int_equal(net_session_info(p.s)->state, NET_OPEN);
    net_session_free(p.s);

    /* One that never reads is. */
    raw_open(&p, &a, &b);
    for (; sent < 20000 && rc == TX_OK; sent++) {
        tx_mpw_init(&w, 64);
        net__msg_ping(&w, 0, sent, 1);
        rc = raw_send(&p, &w);
    }
    assert_int_equal(rc, TX_EPROTO);
    i = net_session_info(p.s);
    assert_int_equal(i->state, NET_CLOSED);
    assert_non_null(strstr(i->close_reason, "does not read"));
    /* Dropped at about 4 x 4096 bytes of PONGs (each under 64 bytes framed),
     * not long after. */
    assert_true(sent > 4 * 4096 / 64);
    assert_true(sent < 2 * 4 * 4096 / 16);
    net_session_free(p.s);

    pair_free(&a, &b);
}

/* ---- small-order ephemeral keys ---- */

/* Curve25519 points of small order (libsodium's list, and with the unused top
 * bit set). */
static const uint8_t small_order[][32] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x80},
};

/* A first handshake message from p's side with ephemeral key e (NULL: the
 * real one), tagged under psk as the protocol requires; framed into out.
 * *hs is left in the initiator's state after it. */
static size_t craft_msg1(struct noise_hs *hs, const struct peer *p, const uint8_t *psk,
                         const uint8_t *e, uint8_t out[4 + 64])
{
    uint8_t seed[32];
    size_t len = 0;

    memset(seed, 0x5a, sizeof(seed));
    assert_int_equal(net__noise_init(hs, 1, p->cfg.sk, psk, seed), TX_OK);
    if (e)
        memcpy(hs->e_pk, e, 32);
    assert_int_equal(net__noise_msg1_write(hs, out + 4, &len), TX_OK);
    assert_int_equal(len, 32 + NOISE_TAG);
    put32(out, (uint32_t)len);
    return 4 + len;
}

static void test_low_order_point(void **state)
{
    struct peer a, b;
    struct link l;
    uint8_t m1[4 + 64];
    size_t n, len;
    struct noise_hs hs;

    (void)state;
    pair_new(&a, &b);

    /* Control: the crafted message with a proper ephemeral key is accepted. */
    link_new(&l, &a, &b);
    n = craft_msg1(&hs, &a, a.cfg.psk, NULL, m1);
    feed(&l, 1, m1, n);
    assert_int_equal(l.rc[1], 0);
    assert_int_equal(info(&l, 1)->state, NET_HANDSHAKE);
    drop_output(&l, 1);
    link_free(&l);

    /* Small-order ephemeral keys with a valid tag: past the psk check, then
     * refused at the first Diffie-Hellman, with nothing sent. */
    for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
        link_new(&l, &a, &b);
        n = craft_msg1(&hs, &a, a.cfg.psk, small_order[i], m1);
        feed(&l, 1, m1, n);
        if (l.rc[1] != TX_EAUTH)
            fail_msg("small-order point %zu: feed gave %s, state %d", i, tx_errname(l.rc[1]),
                     info(&l, 1)->state);
        assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
        assert_null(net_session_take_output(l.s[1], &len));
        link_free(&l);
    }

    /* All zeros without a valid tag: refused as a wrong network key. */
    link_new(&l, &a, &b);
    memset(m1, 0, sizeof(m1));
    put32(m1, 32 + NOISE_TAG);
    feed(&l, 1, m1, 4 + 32 + NOISE_TAG);
    assert_closed(&l, 1, NET_CLOSE_ERROR, TX_EAUTH, 0);
    assert_null(net_session_take_output(l.s[1], &len));
    link_free(&l);

    /* The second message with a small-order ephemeral key, built by a
     * responder that knows the network key: the initiator refuses it and
     * sends no third message. With the real key the same message opens. */
    for (int bad = 0; bad < 2; bad++) {
        struct noise_hs r;
        struct net_hello h;
        struct tx_mpw w;
        uint8_t seed[32], m2[4 + 512];
        uint8_t *im1;
        size_t im1_len;

        link_new(&l, &a, &b);
        im1 = take(&l, 0, &im1_len);
        assert_non_null(im1);
        memset(seed, 0x33, sizeof(seed));
        assert_int_equal(net__noise_init(&r, 0, b.cfg.sk, b.cfg.psk, seed), TX_OK);
        assert_int_equal(net__noise_msg1_read(&r, im1 + 4, im1_len - 4), TX_OK);
        tx_free(im1);
        if (bad)
            memset(r.e_pk, 0, 32);
        memset(&h, 0, sizeof(h));
        h.version = NET_PROTOCOL_VERSION;
        memcpy(h.node, b.id, CRDT_KEY_BYTES);
        h.cert = (const uint8_t *)"";
        tx_mpw_init(&w, 1024);
        assert_int_equal(net__hello_encode(&h, &w), TX_OK);
        assert_int_equal(net__noise_msg2_write(&r, w.buf, w.len, m2 + 4, &n), TX_OK);
        tx_mpw_release(&w);
        net__noise_wipe(&r);
        put32(m2, (uint32_t)n);
        feed(&l, 0, m2, 4 + n);
        if (bad) {
            assert_closed(&l, 0, NET_CLOSE_ERROR, TX_EAUTH, 0);
            assert_null(net_session_take_output(l.s[0], &len));
        } else {
            assert_int_equal(l.rc[0], 0);
            assert_int_equal(info(&l, 0)->state, NET_OPEN);
            assert_memory_equal(info(&l, 0)->peer, b.id, CRDT_KEY_BYTES);
        }
        link_free(&l);
    }
    net__noise_wipe(&hs);
    pair_free(&a, &b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_sync),    cmocka_unit_test(test_live_writes_fresh),
        cmocka_unit_test(test_live_writes_reconnect), cmocka_unit_test(test_no_echo),
        cmocka_unit_test(test_wrong_network_key),     cmocka_unit_test(test_untrusted_peer),
        cmocka_unit_test(test_oversized_frame),       cmocka_unit_test(test_tampered_streams),
        cmocka_unit_test(test_clean_close),           cmocka_unit_test(test_credit_window),
        cmocka_unit_test(test_credit_ignored),        cmocka_unit_test(test_stale_vector),
        cmocka_unit_test(test_forged_envelope),       cmocka_unit_test(test_equivocation_evidence),
        cmocka_unit_test(test_ping_and_timeouts),     cmocka_unit_test(test_peer_messages),
        cmocka_unit_test(test_low_order_point),       cmocka_unit_test(test_reply_backlog),
    };

    txt_alloc_install();
    assert_true(sodium_init() >= 0);
    g_seed = txt_seed("TX_SESSION_SEED", "session");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
