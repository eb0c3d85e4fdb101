/*
 * uvnet.c - the libuv adapter: TCP listen and dial, reconnect with exponential
 * backoff and jitter, one session per connection, timers, clean shutdown.
 *
 * Lifetimes (libuv rules): a connection's uv_tcp_t is embedded in struct uvconn
 * and the struct is freed only in the handle's close callback. A session is
 * never freed from inside its own call chain: a closed connection is marked and
 * its handle closed after the callback returns (after its last frame - an error
 * or a goodbye - has been flushed with uv_shutdown). Each write request carries
 * its own buffer and frees it in its callback, whatever the status.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "internal.h"

#define TICK_MS 500
#define READBUF 65536

struct uvpeer;

struct uvconn {
    uv_tcp_t tcp;
    uv_shutdown_t shut;
    struct net_uv *u;
    struct net_session *s;
    struct uvpeer *peer; /* the configured peer it was dialed for, or NULL */
    char addr[64];
    int closing;  /* handle close requested */
    int shutting; /* shutdown requested */
    int counted;  /* an open-session peer record was created */
    struct uvconn *next;
};

struct uvpeer {
    char addr[64];
    int configured;
    int state;
    uint64_t since, next_dial;
    uint32_t failures;
    struct uvconn *conn;
    uv_connect_t req;
    uv_getaddrinfo_t gai;
    int resolving, connecting;
    uint8_t node[32];
    int have_node;
    int have_last;
    int removed; /* the operator removed it: no longer listed */
    struct net_session_info last;
    struct uvpeer *next;
};

struct net_uv {
    uv_loop_t *loop;
    struct net_uv_config cfg;
    uv_tcp_t listener;
    int listening, port;
    uv_timer_t timer;
    struct uvconn *conns;
    struct uvpeer *peers;
    struct net_uv_stats stats;
    int stopping;
    int handles; /* open handles: listener, timer, connections */
    struct net_refusal refused[NET_UV_REFUSALS];
    size_t nrefused, refused_next;
    void (*done)(void *ctx);
    void *done_ctx;
    uint8_t readbuf[READBUF];
};

static uint64_t now_ms(struct net_uv *u)
{
    return u->cfg.now_ms ? u->cfg.now_ms(u->cfg.now_ctx) : uv_now(u->loop);
}

static void ulog(struct net_uv *u, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ulog(struct net_uv *u, int level, const char *fmt, ...)
{
    char line[400];
    va_list ap;

    if (!u->cfg.session.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    u->cfg.session.log(u->cfg.session.log_ctx, level, line);
}

static void maybe_done(struct net_uv *u)
{
    if (u->stopping && u->handles == 0 && u->done) {
        void (*done)(void *) = u->done;

        u->done = NULL;
        done(u->done_ctx);
    }
}

static int parse_addr(const char *addr, char *host, size_t hcap, int *port)
{
    const char *colon = strrchr(addr, ':');
    size_t hl;
    char *end;
    long p;

    if (!colon)
        return TX_EINVAL;
    hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
        addr++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hcap)
        return TX_EINVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return TX_EINVAL;
    *port = (int)p;
    return TX_OK;
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
    struct uvconn *c = h->data;
    struct net_uv *u = c->u;
    struct uvconn **pp;

    for (pp = &u->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    net_session_free(c->s);
    tx_free(c);
    u->handles--;
    maybe_done(u);
}

static void backoff(struct net_uv *u, struct uvpeer *p)
{
    uint64_t delay = u->cfg.backoff_min_ms;
    uint32_t jitter;

    for (uint32_t i = 0; i < p->failures && delay < u->cfg.backoff_max_ms; i++)
        delay *= 2;
    if (delay > u->cfg.backoff_max_ms)
        delay = u->cfg.backoff_max_ms;
    /* +-25% jitter, so offices that lost the hub together do not redial together */
    jitter = (uint32_t)(delay / 2);
    delay = delay - delay / 4 + (jitter ? randombytes_uniform(jitter + 1) : 0);
    p->failures++;
    p->state = NET_PEER_BACKOFF;
    p->since = now_ms(u);
    p->next_dial = p->since + delay;
}

static void conn_close(struct uvconn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->peer && c->peer->conn == c) {
        struct uvpeer *p = c->peer;
        const struct net_session_info *si = net_session_info(c->s);

        p->conn = NULL;
        p->last = *si;
        p->have_last = 1;
        /* Backoff starts over only after a session that really worked: one
         * the peer refused or cut right after the handshake counts as a
         * failure, so a refused node does not redial every second. */
        if (si->opened_ms && si->close_kind != NET_CLOSE_ERROR &&
            now_ms(c->u) - si->opened_ms >= 30000)
            p->failures = 0;
        if (p->configured && !c->u->stopping)
            backoff(c->u, p);
        else
            p->state = NET_PEER_DOWN;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct uvconn *c = req->data;

    (void)status;
    conn_close(c);
}

struct wreq {
    uv_write_t req;
    struct uvconn *c;
    size_t len;
    uint8_t *buf;
};

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;

    if (!w->c->closing)
        net_session_written(w->c->s, w->len);
    if (status < 0 && !w->c->closing && !w->c->shutting)
        net_session_eof(w->c->s, TX_EIO, uv_strerror(status));
    tx_free(w->buf);
    tx_free(w);
}

static void flush(struct uvconn *c)
{
    size_t len;
    uint8_t *b;

    if (c->closing || c->shutting)
        return;
    while ((b = net_session_take_output(c->s, &len))) {
        struct wreq *w = tx_calloc(1, sizeof(*w));
        uv_buf_t ub;

        if (!w) {
            tx_free(b);
            net_session_eof(c->s, TX_ENOMEM, "out of memory");
            return;
        }
        w->c = c;
        w->len = len;
        w->buf = b;
        ub = uv_buf_init((char *)b, (unsigned)len);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, on_write) < 0) {
            net_session_written(c->s, len);
            tx_free(b);
            tx_free(w);
            net_session_eof(c->s, TX_EIO, "write failed");
            return;
        }
    }
}

static struct uvpeer *peer_find_node(struct net_uv *u, const uint8_t *node)
{
    for (struct uvpeer *p = u->peers; p; p = p->next)
        if (p->have_node && memcmp(p->node, node, 32) == 0)
            return p;
    return NULL;
}

static void pump_all(struct net_uv *u, struct uvconn *except)
{
    uint64_t now = now_ms(u);

    for (struct uvconn *c = u->conns; c; c = c->next)
        if (c != except && !c->closing && !c->shutting &&
            net_session_info(c->s)->state == NET_OPEN) {
            net_session_pump(c->s, now);
            flush(c);
        }
}

static void on_opened(struct uvconn *c)
{
    struct net_uv *u = c->u;
    const struct net_session_info *si = net_session_info(c->s);
    struct uvpeer *p;

    u->stats.handshakes_ok++;
    /* Two connections between the same pair (both dialed): keep the one the
     * node with the smaller id initiated; both ends choose the same one. */
    for (struct uvconn *o = u->conns; o; o = o->next) {
        const struct net_session_info *oi;
        int mine_wins;

        if (o == c || o->closing || o->shutting)
            continue;
        oi = net_session_info(o->s);
        if (oi->state != NET_OPEN || memcmp(oi->peer, si->peer, 32) != 0)
            continue;
        {
            int self_smaller = memcmp(u->cfg.session.pk, si->peer, 32) < 0;

            /* c survives if its initiator is the smaller node */
            mine_wins = si->initiator == self_smaller;
        }
        net_session_close(mine_wins ? o->s : c->s, 0, "duplicate connection");
        flush(mine_wins ? o : c);
        if (!mine_wins)
            return;
    }
    /* Remember which configured peer this node is. */
    p = c->peer;
    if (!p)
        p = peer_find_node(u, si->peer);
    if (!p) {
        /* an inbound peer: a record of its own for status */
        p = tx_calloc(1, sizeof(*p));
        if (!p)
            return;
        snprintf(p->addr, sizeof(p->addr), "%s", c->addr);
        p->next = u->peers;
        u->peers = p;
    }
    memcpy(p->node, si->peer, 32);
    p->have_node = 1;
    if (p->conn && p->conn != c && !p->conn->closing) {
        /* already connected through another connection */
    } else {
        p->conn = c;
        c->peer = p;
    }
    p->state = NET_PEER_CONNECTED;
    p->since = now_ms(u);
}

/* After feeding or ticking a session: write, react to events. */
static void after(struct uvconn *c)
{
    struct net_uv *u = c->u;
    unsigned ev = net_session_events(c->s);

    flush(c);
    if (ev & NET_EV_OPEN)
        on_opened(c);
    if (ev & NET_EV_LOG_ADVANCED) {
        if (u->cfg.on_ingest)
            u->cfg.on_ingest(u->cfg.ingest_ctx);
        pump_all(u, c);
    }
    if (ev & NET_EV_CLOSED) {
        const struct net_session_info *si = net_session_info(c->s);

        if (si->close_kind == NET_CLOSE_ERROR && !(u->stopping && !si->close_by_peer)) {
            struct net_refusal *r = &u->refused[u->refused_next];

            if (si->opened_ms)
                u->stats.protocol_errors++;
            else
                u->stats.handshakes_failed++;
            memset(r, 0, sizeof(*r));
            snprintf(r->addr, sizeof(r->addr), "%s", c->addr);
            r->at_ms = now_ms(u);
            r->code = si->close_code;
            r->during_handshake = !si->opened_ms;
            snprintf(r->reason, sizeof(r->reason), "%s%.140s",
                     si->close_by_peer ? "peer said: " : "", si->close_reason);
            u->refused_next = (u->refused_next + 1) % NET_UV_REFUSALS;
            if (u->nrefused < NET_UV_REFUSALS)
                u->nrefused++;
        }
        flush(c);
        if (!c->shutting && !c->closing) {
            c->shutting = 1;
            c->shut.data = c;
            if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
                conn_close(c);
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct uvconn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)c->u->readbuf, READBUF);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct uvconn *c = st->data;

    if (c->closing || c->shutting)
        return;
    if (nread > 0) {
        net_session_feed(c->s, (const uint8_t *)buf->base, (size_t)nread, now_ms(c->u));
    } else if (nread < 0) {
        net_session_eof(c->s, nread == UV_EOF ? TX_ECLOSED : TX_EIO,
                        nread == UV_EOF ? "connection closed by peer" : uv_strerror((int)nread));
    }
    after(c);
}

static struct uvconn *conn_new(struct net_uv *u, int initiator, struct uvpeer *p)
{
    struct uvconn *c = tx_calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->u = u;
    c->peer = p;
    if (uv_tcp_init(u->loop, &c->tcp) < 0) {
        tx_free(c);
        return NULL;
    }
    c->tcp.data = c;
    u->handles++;
    c->next = u->conns;
    u->conns = c;
    if (net_session_new(&u->cfg.session, initiator, now_ms(u), &c->s)) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return NULL;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    return c;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct uvpeer *p = req->data;
    struct uvconn *c = p->conn;
    struct net_uv *u = c ? c->u : NULL;

    p->connecting = 0;
    if (!c)
        return;
    if (status < 0 || c->closing) {
        if (!c->closing) {
            net_session_eof(c->s, TX_EIO, uv_strerror(status));
            ulog(u, NET_LOG_INFO, "net: dial %s failed: %s", p->addr, uv_strerror(status));
            conn_close(c);
        }
        return;
    }
    u->stats.dialed++;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        net_session_eof(c->s, TX_EIO, "read failed");
        conn_close(c);
        return;
    }
    after(c); /* sends the first handshake message */
}

static void dial_addr(struct net_uv *u, struct uvpeer *p, const struct sockaddr *sa)
{
    struct uvconn *c = conn_new(u, 1, p);

    if (!c) {
        backoff(u, p);
        return;
    }
    snprintf(c->addr, sizeof(c->addr), "%s", p->addr);
    p->conn = c;
    p->req.data = p;
    p->connecting = 1;
    if (uv_tcp_connect(&p->req, &c->tcp, sa, on_connect) < 0) {
        p->connecting = 0;
        net_session_eof(c->s, TX_EIO, "connect failed");
        conn_close(c);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct uvpeer *p = req->data;
    struct net_uv *u = (struct net_uv *)req->loop->data;

    p->resolving = 0;
    if (!u || u->stopping || !p->configured) {
        uv_freeaddrinfo(res);
        return;
    }
    if (status < 0 || !res) {
        ulog(u, NET_LOG_WARN, "net: cannot resolve %s: %s", p->addr, uv_strerror(status));
        backoff(u, p);
    } else {
        dial_addr(u, p, res->ai_addr);
    }
    uv_freeaddrinfo(res);
}

static void dial(struct net_uv *u, struct uvpeer *p)
{
    char host[64], port_s[8];
    int port;
    struct sockaddr_storage ss;

    if (parse_addr(p->addr, host, sizeof(host), &port)) {
        backoff(u, p);
        return;
    }
    p->state = NET_PEER_CONNECTING;
    p->since = now_ms(u);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        dial_addr(u, p, (struct sockaddr *)&ss);
        return;
    }
    snprintf(port_s, sizeof(port_s), "%d", port);
    p->gai.data = p;
    p->resolving = 1;
    if (uv_getaddrinfo(u->loop, &p->gai, on_resolved, host, port_s, NULL) < 0) {
        p->resolving = 0;
        backoff(u, p);
    }
}

static void on_accept(uv_stream_t *server, int status)
{
    struct net_uv *u = server->data;
    struct uvconn *c;
    struct sockaddr_storage ss;
    int sl = sizeof(ss);

    if (status < 0 || u->stopping)
        return;
    if (!(c = conn_new(u, 0, NULL)))
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    u->stats.accepted++;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[48];
        int port = 0;

        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(c->addr, sizeof(c->addr), "%s:%d", ip, port);
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

static void on_tick(uv_timer_t *t)
{
    struct net_uv *u = t->data;
    uint64_t now = now_ms(u);

    for (struct uvconn *c = u->conns; c; c = c->next) {
        if (c->closing || c->shutting)
            continue;
        net_session_tick(c->s, now);
        after(c);
    }
    for (struct uvpeer *p = u->peers; p; p = p->next) {
        if (!p->configured || p->conn || p->resolving || p->connecting)
            continue;
        /* connected already through an inbound connection? */
        if (p->have_node) {
            int up = 0;

            for (struct uvconn *c = u->conns; c; c = c->next)
                if (!c->closing && !c->shutting && net_session_info(c->s)->state == NET_OPEN &&
                    memcmp(net_session_info(c->s)->peer, p->node, 32) == 0)
                    up = 1;
            if (up) {
                p->state = NET_PEER_CONNECTED;
                continue;
            }
        }
        if (p->state == NET_PEER_CONNECTED)
            backoff(u, p);
        if (p->state == NET_PEER_DOWN || (p->state == NET_PEER_BACKOFF && now >= p->next_dial))
            dial(u, p);
    }
}

int net_uv_start(uv_loop_t *loop, const struct net_uv_config *cfg, struct net_uv **out)
{
    struct net_uv *u = tx_calloc(1, sizeof(*u));
    int rc;

    *out = NULL;
    if (!u)
        return TX_ENOMEM;
    u->loop = loop;
    loop->data = u;
    u->cfg = *cfg;
    if (!u->cfg.backoff_min_ms)
        u->cfg.backoff_min_ms = 1000;
    if (!u->cfg.backoff_max_ms)
        u->cfg.backoff_max_ms = 60000;
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    u->handles++;
    uv_timer_start(&u->timer, on_tick, TICK_MS, TICK_MS);
    if (cfg->listen) {
        char host[64];
        int port;
        struct sockaddr_storage ss;
        int sl = sizeof(ss);

        if (parse_addr(cfg->listen, host, sizeof(host), &port) ||
            (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
             uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss))) {
            ulog(u, NET_LOG_ERROR, "net: listen address %s: not host:port with a numeric host",
                 cfg->listen);
            uv_close((uv_handle_t *)&u->timer, NULL);
            tx_free(u);
            return TX_ECONFIG;
        }
        uv_tcp_init(loop, &u->listener);
        u->listener.data = u;
        u->handles++;
        u->listening = 1;
        if ((rc = uv_tcp_bind(&u->listener, (struct sockaddr *)&ss, 0)) < 0 ||
            (rc = uv_listen((uv_stream_t *)&u->listener, 128, on_accept)) < 0) {
            ulog(u, NET_LOG_ERROR, "net: cannot listen on %s: %s", cfg->listen, uv_strerror(rc));
            *out = u;
            return TX_EIO;
        }
        if (uv_tcp_getsockname(&u->listener, (struct sockaddr *)&ss, &sl) == 0)
            u->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
        ulog(u, NET_LOG_INFO, "net: listening on %s (port %d)", cfg->listen, u->port);
    }
    *out = u;
    return TX_OK;
}

int net_uv_port(struct net_uv *u)
{
    return u->port;
}

int net_uv_peer_add(struct net_uv *u, const char *addr)
{
    char host[64];
    int port;
    struct uvpeer *p;

    if (!addr || strlen(addr) >= sizeof(p->addr) || parse_addr(addr, host, sizeof(host), &port))
        return TX_EINVAL;
    for (p = u->peers; p; p = p->next)
        if (strcmp(p->addr, addr) == 0 && p->configured)
            return TX_EEXIST;
    if (!(p = tx_calloc(1, sizeof(*p))))
        return TX_ENOMEM;
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    p->configured = 1;
    p->state = NET_PEER_DOWN;
    p->since = now_ms(u);
    p->removed = 0;
    p->next = u->peers;
    u->peers = p;
    if (!u->stopping)
        dial(u, p);
    return TX_OK;
}

int net_uv_peer_remove(struct net_uv *u, const char *addr)
{
    for (struct uvpeer *p = u->peers; p; p = p->next) {
        if (!p->configured || strcmp(p->addr, addr) != 0)
            continue;
        p->configured = 0;
        p->removed = 1;
        p->state = NET_PEER_DOWN;
        if (p->conn && !p->conn->closing) {
            net_session_close(p->conn->s, 0, "peer removed");
            after(p->conn);
        }
        return TX_OK;
    }
    return TX_ENOTFOUND;
}

int net_uv_peers_set(struct net_uv *u, const char *const *addrs, size_t n)
{
    int err = TX_OK;

    for (struct uvpeer *p = u->peers; p; p = p->next) {
        int keep = 0;

        for (size_t i = 0; i < n; i++)
            if (p->configured && strcmp(p->addr, addrs[i]) == 0)
                keep = 1;
        if (p->configured && !keep)
            net_uv_peer_remove(u, p->addr);
    }
    for (size_t i = 0; i < n; i++) {
        int e = net_uv_peer_add(u, addrs[i]);

        if (e && e != TX_EEXIST)
            err = e;
    }
    return err;
}

void net_uv_local_write(struct net_uv *u)
{
    pump_all(u, NULL);
}

void net_uv_close_node(struct net_uv *u, const uint8_t node[CRDT_KEY_BYTES], int code,
                       const char *reason)
{
    for (struct uvconn *c = u->conns; c; c = c->next) {
        const struct net_session_info *si;

        if (c->closing || c->shutting)
            continue;
        si = net_session_info(c->s);
        if (si->state != NET_OPEN || memcmp(si->peer, node, CRDT_KEY_BYTES))
            continue;
        ulog(u, NET_LOG_WARN, "net: closing the session with a revoked node");
        /* first stream what it lacks - the revocation itself among it - so
         * that the node learns of it and stops writing */
        net_session_pump(c->s, now_ms(u));
        net_session_close(c->s, code, reason);
        after(c);
    }
}

void net_uv_sync_now(struct net_uv *u)
{
    uint64_t now = now_ms(u);

    for (struct uvconn *c = u->conns; c; c = c->next)
        if (!c->closing && !c->shutting) {
            net_session_sync(c->s, now);
            flush(c);
        }
    for (struct uvpeer *p = u->peers; p; p = p->next)
        if (p->configured && p->state == NET_PEER_BACKOFF) {
            p->next_dial = now;
            p->failures = 0;
        }
    on_tick(&u->timer);
}

int net_uv_peers_each(struct net_uv *u, net_peer_cb cb, void *ctx)
{
    for (struct uvpeer *p = u->peers; p; p = p->next) {
        struct net_peer_info pi;
        int err;

        if (!p->configured && !p->conn && (!p->have_last || p->removed))
            continue;
        memset(&pi, 0, sizeof(pi));
        snprintf(pi.addr, sizeof(pi.addr), "%s", p->addr);
        pi.configured = p->configured;
        pi.state = p->state;
        pi.since_ms = p->since;
        pi.next_dial_ms = p->next_dial;
        pi.failures = p->failures;
        if (p->conn && !p->conn->closing) {
            pi.have_session = 1;
            pi.s = *net_session_info(p->conn->s);
            pi.known = net_session_known(p->conn->s);
        } else if (p->have_last) {
            pi.have_session = 1;
            pi.s = p->last;
        }
        if (!p->configured && !p->conn)
            pi.state = NET_PEER_DOWN;
        if ((err = cb(&pi, ctx)))
            return err;
    }
    return TX_OK;
}

void net_uv_refusals(struct net_uv *u, const struct net_refusal **list, size_t *n)
{
    /* Rotate so the oldest comes first. */
    static struct net_refusal out[NET_UV_REFUSALS];
    size_t start = u->nrefused < NET_UV_REFUSALS ? 0 : u->refused_next;

    for (size_t i = 0; i < u->nrefused; i++)
        out[i] = u->refused[(start + i) % NET_UV_REFUSALS];
    *list = out;
    *n = u->nrefused;
}

void net_uv_stats(struct net_uv *u, struct net_uv_stats *st)
{
    *st = u->stats;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct net_uv *u = h->data;

    u->handles--;
    maybe_done(u);
}

void net_uv_stop(struct net_uv *u, void (*done)(void *ctx), void *ctx)
{
    u->stopping = 1;
    u->done = done;
    u->done_ctx = ctx;
    for (struct uvconn *c = u->conns; c; c = c->next) {
        if (c->closing || c->shutting)
            continue;
        if (net_session_info(c->s)->state != NET_CLOSED)
            net_session_close(c->s, 0, "node shutting down");
        after(c);
        if (!c->shutting)
            conn_close(c);
    }
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, on_handle_closed);
    if (u->listening) {
        u->listening = 0;
        uv_close((uv_handle_t *)&u->listener, on_handle_closed);
    }
    maybe_done(u);
}

void net_uv_free(struct net_uv *u)
{
    struct uvpeer *p = u ? u->peers : NULL;

    while (p) {
        struct uvpeer *n = p->next;

        tx_free(p);
        p = n;
    }
    tx_free(u);
}
