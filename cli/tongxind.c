/*
 * tongxind - the node daemon: one libuv loop that listens, dials its peers,
 * syncs, and serves the control socket the CLI uses.
 *
 *   tongxind [-D DIR] [--listen HOST:PORT] [--peer HOST:PORT ...] [--config FILE]
 *            [--log-level error|warn|info|debug]
 *
 * One instance per data directory (DIR/tongxind.lock). SIGTERM/SIGINT drain and
 * exit 0; SIGHUP reloads the peer list (config file + DIR/peers + --peer).
 * Logs: one line per event on stderr, "TIME LEVEL message".
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "status.h"

#define MAX_PEERS 256

static const char usage[] =
    "usage: tongxind [-D DIR] [--listen HOST:PORT] [--peer HOST:PORT ...] [--config FILE]\n"
    "                [--log-level error|warn|info|debug]\n"
    "\n"
    "Run a Tongxin node: listen for peers, dial the configured ones, sync, and serve\n"
    "the control socket DIR/control.sock for the tongxin CLI.\n"
    "  -D DIR         data directory (default: $TONGXIN_DIR, XDG data dir)\n"
    "  --listen A     address to accept peers on (e.g. 0.0.0.0:7411)\n"
    "  --peer A       a peer to dial (repeatable); also [peers] in the config\n"
    "  --config FILE  INI configuration (default: DIR/tongxind.conf if present)\n"
    "  --log-level L  error, warn, info (default) or debug\n"
    "Signals: SIGTERM/SIGINT drain and exit; SIGHUP reloads the peer list.\n"
    "example: tongxind -D /var/lib/tongxin --listen 0.0.0.0:7411 --peer hub.example:7411\n";

struct conf {
    char listen[64];
    int log_level;
    char *peers[MAX_PEERS];
    size_t npeers;
    uint32_t ping_s, idle_s, vector_s, batch, window;
    uint32_t max_held, map_max_mib; /* [store]; 0 = the store's default */
    uint8_t (*trusted)[32];
    size_t ntrusted;
    const char *file;
};

struct daemon {
    uv_loop_t loop;
    const char *dir;
    struct node_store *st;
    struct net_uv *net;
    struct conf conf, cli_conf;
    uv_signal_t sigterm, sigint, sighup;
    uv_pipe_t ctl;
    uv_timer_t housekeeping;
    uint8_t *cert;
    size_t cert_len;
    uint64_t started;
    int stopping;
    int lockfd;
    char listen_desc[64];
    char name[NODE_MAX_NAME + 1];
};

static int log_level = 2;
static struct daemon *the_daemon;

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void dlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void dlog(int level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char when[40];
    va_list ap;

    if (level > log_level)
        return;
    cli_time(wall_ms(), when, sizeof(when));
    fprintf(stderr, "%s %-5s ", when, names[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void on_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    dlog(level, "%s", msg);
}

/* systemd readiness, written by hand: a datagram to $NOTIFY_SOCKET. */
static void sd_notify_msg(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t len;
    int fd;

    if (!path || !*path || (path[0] != '/' && path[0] != '@'))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        dlog(1, "systemd: notify failed: %s", strerror(errno));
    close(fd);
}

/* ---- configuration ---- */

static int parse_level(const char *s)
{
    if (!strcmp(s, "error"))
        return 0;
    if (!strcmp(s, "warn"))
        return 1;
    if (!strcmp(s, "info"))
        return 2;
    if (!strcmp(s, "debug"))
        return 3;
    return -1;
}

/* HOST:PORT with a port of 1..65535 ([v6]:port too). */
static int valid_addr(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    char *end;
    long port;

    if (!colon || colon == addr || strlen(addr) >= 64)
        return 0;
    port = strtol(colon + 1, &end, 10);
    return *end == '\0' && colon[1] && port > 0 && port <= 65535;
}

static int add_peer(struct conf *c, const char *addr)
{
    char *copy;

    for (size_t i = 0; i < c->npeers; i++)
        if (!strcmp(c->peers[i], addr))
            return 1;
    if (c->npeers >= MAX_PEERS || !valid_addr(addr) || !(copy = strdup(addr)))
        return 0;
    c->peers[c->npeers++] = copy;
    return 1;
}

static int parse_seconds(const char *v, uint32_t *out)
{
    char *end;
    long x = strtol(v, &end, 10);

    if (*end || x <= 0 || x > 86400)
        return 0;
    *out = (uint32_t)x;
    return 1;
}

/* A plain decimal integer in [lo, hi]. */
static int parse_range(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long long x;

    if (*v < '0' || *v > '9')
        return 0;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (*end || errno || x < lo || x > hi)
        return 0;
    *out = (uint32_t)x;
    return 1;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct conf *c = user;

    if (!strcmp(section, "node")) {
        if (!strcmp(name, "listen"))
            return snprintf(c->listen, sizeof(c->listen), "%s", value) < (int)sizeof(c->listen);
        if (!strcmp(name, "log_level"))
            return (c->log_level = parse_level(value)) >= 0;
    } else if (!strcmp(section, "peers")) {
        if (!strcmp(name, "peer"))
            return add_peer(c, value);
    } else if (!strcmp(section, "sync")) {
        if (!strcmp(name, "ping_interval"))
            return parse_seconds(value, &c->ping_s);
        if (!strcmp(name, "idle_timeout"))
            return parse_seconds(value, &c->idle_s);
        if (!strcmp(name, "vector_interval"))
            return parse_seconds(value, &c->vector_s);
        if (!strcmp(name, "batch_envelopes"))
            return parse_seconds(value, &c->batch) && c->batch <= 4096;
        if (!strcmp(name, "window"))
            return parse_seconds(value, &c->window) && c->window <= 64;
    } else if (!strcmp(section, "store")) {
        if (!strcmp(name, "max_held"))
            return parse_range(value, 1000, 100000000, &c->max_held);
        if (!strcmp(name, "map_max_mib"))
            return parse_range(value, 64, 16u << 20, &c->map_max_mib);
    } else if (!strcmp(section, "dev")) {
        if (!strcmp(name, "trust")) {
            uint8_t(*nt)[32] = realloc(c->trusted, (c->ntrusted + 1) * 32);

            if (!nt)
                return 0;
            c->trusted = nt;
            return node_unhex(value, c->trusted[c->ntrusted++], 32) == TX_OK;
        }
    }
    return 0; /* unknown section or key: an error with its line number */
}

static void conf_release(struct conf *c)
{
    for (size_t i = 0; i < c->npeers; i++)
        free(c->peers[i]);
    free(c->trusted);
    memset(c, 0, sizeof(*c));
    c->log_level = -1;
}

/* Load the INI file (if any) into c; a bad line is an error with its number. */
static int conf_load(const char *file, int must_exist, struct conf *c)
{
    int line;

    if (!file)
        return 0;
    if (access(file, R_OK) != 0) {
        /* absent is fine for the default file; present but unreadable is not */
        if (!must_exist && access(file, F_OK) != 0)
            return 0;
        fprintf(stderr, "tongxind: config %s: %s\n", file, strerror(errno));
        return -1;
    }
    line = ini_parse(file, on_ini, c);
    if (line != 0) {
        if (line > 0)
            fprintf(stderr, "tongxind: config %s line %d: unknown or invalid setting\n", file,
                    line);
        else
            fprintf(stderr, "tongxind: config %s: cannot read\n", file);
        return -1;
    }
    return 0;
}

/* DIR/peers: peers added at run time (`tongxin peers add`), one per line. */
static void peers_file_load(const char *dir, struct conf *c)
{
    char path[4200], line[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/peers", dir);
    if (!(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != '#')
            add_peer(c, line);
    }
    fclose(f);
}

static int peers_file_edit(const char *dir, const char *addr, int add)
{
    char path[4200], tmp[4300], line[128];
    FILE *in, *out;
    int found = 0;

    snprintf(path, sizeof(path), "%s/peers", dir);
    snprintf(tmp, sizeof(tmp), "%s/peers.tmp", dir);
    if (!(out = fopen(tmp, "w")))
        return TX_EIO;
    if ((in = fopen(path, "r"))) {
        while (fgets(line, sizeof(line), in)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (!strcmp(line, addr)) {
                found = 1;
                if (!add)
                    continue;
            }
            if (line[0])
                fprintf(out, "%s\n", line);
        }
        fclose(in);
    }
    if (add && !found)
        fprintf(out, "%s\n", addr);
    if (fflush(out) || fsync(fileno(out)) || fclose(out) || rename(tmp, path))
        return TX_EIO;
    return TX_OK;
}

static void apply_peers(struct daemon *d)
{
    struct conf merged;
    const char *list[MAX_PEERS];

    memset(&merged, 0, sizeof(merged));
    merged.log_level = -1;
    if (d->conf.file && conf_load(d->conf.file, 0, &merged))
        dlog(0, "daemon: %s could not be read: peers from it are left out", d->conf.file);
    peers_file_load(d->dir, &merged);
    for (size_t i = 0; i < d->cli_conf.npeers; i++)
        add_peer(&merged, d->cli_conf.peers[i]);
    for (size_t i = 0; i < merged.npeers; i++)
        list[i] = merged.peers[i];
    net_uv_peers_set(d->net, list, merged.npeers);
    dlog(2, "daemon: %zu peer(s) configured", merged.npeers);
    conf_release(&merged);
}

/* ---- control socket ---- */

struct ctlconn {
    uv_pipe_t pipe;
    struct daemon *d;
    uint8_t *buf;
    size_t len, cap;
};

struct ctlwrite {
    uv_write_t req;
    uint8_t *buf;
};

static void on_ctl_closed(uv_handle_t *h)
{
    struct ctlconn *c = h->data;

    free(c->buf);
    free(c);
}

static void on_ctl_written(uv_write_t *req, int status)
{
    struct ctlwrite *w = (struct ctlwrite *)req;

    (void)status;
    free(w->buf);
    free(w);
}

static void ctl_reply(struct ctlconn *c, struct tx_mpw *w)
{
    struct ctlwrite *wr;
    uv_buf_t b;

    if (tx_mpw_finish(w) || !(wr = calloc(1, sizeof(*wr))) || !(wr->buf = malloc(w->len + 4))) {
        tx_mpw_release(w);
        uv_close((uv_handle_t *)&c->pipe, on_ctl_closed);
        return;
    }
    wr->buf[0] = (uint8_t)(w->len >> 24);
    wr->buf[1] = (uint8_t)(w->len >> 16);
    wr->buf[2] = (uint8_t)(w->len >> 8);
    wr->buf[3] = (uint8_t)w->len;
    memcpy(wr->buf + 4, w->buf, w->len);
    b = uv_buf_init((char *)wr->buf, (unsigned)(w->len + 4));
    tx_mpw_release(w);
    if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &b, 1, on_ctl_written) < 0) {
        free(wr->buf);
        free(wr);
    }
}

static void reply_code(struct ctlconn *c, int code, const char *text)
{
    struct tx_mpw w;

    tx_mpw_init(&w, CLI_CONTROL_MAX);
    tx_mpw_array(&w, 2);
    tx_mpw_int(&w, code);
    if (text)
        tx_mpw_str(&w, text, strlen(text));
    else
        tx_mpw_nil(&w);
    ctl_reply(c, &w);
}

static void reply_json(struct ctlconn *c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    reply_code(c, s ? TX_OK : TX_ENOMEM, s);
    free(s);
}

static int peers_list_cb(const struct net_peer_info *p, void *ctx)
{
    json_t *arr = ctx, *o = json_object();
    char hex[NODE_ID_HEX + 1];

    json_object_set_new(o, "addr", json_string(p->addr));
    json_object_set_new(o, "configured", json_boolean(p->configured));
    json_object_set_new(o, "state", json_integer(p->state));
    if (p->have_session && p->s.opened_ms) {
        node_hex(p->s.peer, CRDT_KEY_BYTES, hex);
        json_object_set_new(o, "node", json_string(hex));
        json_object_set_new(o, "name", json_string(p->s.peer_name));
    }
    json_array_append_new(arr, o);
    return 0;
}

/* ["put", scope, [[type, id, field, code, value]...]] */
static void ctl_put(struct ctlconn *c, struct tx_mpr *r)
{
    struct daemon *d = c->d;
    struct cli_put_req q;
    struct node_write_result res;
    struct tx_mpw w;
    char why[512];
    int err = cli_put_decode(r, &q);

    if (err) {
        reply_code(c, err, err == TX_EPROTO ? "malformed request" : tx_strerror(err));
        return;
    }
    if (!q.raw && (node_schema_check(q.ch, q.n, why, sizeof(why)) ||
                   node_schema_check_scope(q.ch, q.n, q.scope, why, sizeof(why)))) {
        cli_put_release(&q);
        reply_code(c, TX_ESCHEMA, why);
        return;
    }
    err = node_write(d->st, q.scope, q.ch, q.n, &res);
    if (!err) {
        char hex[NODE_SHORT_ID + 1];

        node_hex(res.origin, NODE_SHORT_ID / 2, hex);
        dlog(3, "write: %s#%llu in %s", hex, (unsigned long long)res.seq, q.scope);
        net_uv_local_write(d->net);
        tx_mpw_init(&w, 1024);
        tx_mpw_array(&w, 2);
        tx_mpw_int(&w, 0);
        tx_mpw_array(&w, 2);
        tx_mpw_bin(&w, res.origin, 32);
        tx_mpw_uint(&w, res.seq);
        ctl_reply(c, &w);
    }
    cli_put_release(&q);
    if (err)
        reply_code(c, err, tx_strerror(err));
}

static void ctl_request(struct ctlconn *c, const uint8_t *b, size_t len)
{
    struct daemon *d = c->d;
    struct tx_mpr r;
    uint32_t n;
    const char *m;
    uint32_t ml;

    tx_mpr_init(&r, b, len);
    if (tx_mpr_array(&r, &n, 16) || n < 1 || tx_mpr_str(&r, &m, &ml, 32)) {
        reply_code(c, TX_EPROTO, "malformed request");
        return;
    }
    if (ml == 3 && !memcmp(m, "put", 3) && (n == 3 || n == 4)) {
        ctl_put(c, &r);
    } else if (ml == 6 && !memcmp(m, "status", 6)) {
        reply_json(c, cli_status_json(d->st, d->net, d->listen_desc, d->started, wall_ms()));
    } else if (ml == 4 && !memcmp(m, "sync", 4)) {
        node_release_held(d->st, NULL);
        net_uv_sync_now(d->net);
        reply_code(c, TX_OK, NULL);
    } else if (ml == 5 && !memcmp(m, "peers", 5) && n >= 2) {
        const char *verb, *addr = NULL;
        uint32_t vl, al = 0;
        char a[64];

        if (tx_mpr_str(&r, &verb, &vl, 16) || (n == 3 && tx_mpr_str(&r, &addr, &al, 63))) {
            reply_code(c, TX_EPROTO, "malformed request");
            return;
        }
        if (addr) {
            memcpy(a, addr, al);
            a[al] = '\0';
        }
        if (vl == 4 && !memcmp(verb, "list", 4)) {
            json_t *arr = json_array();

            net_uv_peers_each(d->net, peers_list_cb, arr);
            reply_json(c, arr);
        } else if (vl == 3 && !memcmp(verb, "add", 3) && addr) {
            int err = net_uv_peer_add(d->net, a);

            if (!err || err == TX_EEXIST)
                err = peers_file_edit(d->dir, a, 1);
            if (!err)
                dlog(2, "daemon: peer %s added", a);
            reply_code(c, err, err ? tx_strerror(err) : NULL);
        } else if (vl == 6 && !memcmp(verb, "remove", 6) && addr) {
            int err = net_uv_peer_remove(d->net, a);

            if (!err)
                err = peers_file_edit(d->dir, a, 0);
            reply_code(c, err, err ? tx_strerror(err) : NULL);
        } else {
            reply_code(c, TX_EPROTO, "unknown peers command");
        }
    } else {
        reply_code(c, TX_EPROTO, "unknown request");
    }
}

static void on_ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ctlconn *c = h->data;

    (void)suggested;
    if (c->cap - c->len < 4096) {
        size_t ncap = c->cap ? c->cap * 2 : 8192;
        uint8_t *nb = ncap <= CLI_CONTROL_MAX + 8 ? realloc(c->buf, ncap) : NULL;

        if (nb) {
            c->buf = nb;
            c->cap = ncap;
        }
    }
    *buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_ctl_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct ctlconn *c = st->data;

    (void)buf;
    if (nread < 0) {
        uv_close((uv_handle_t *)&c->pipe, on_ctl_closed);
        return;
    }
    c->len += (size_t)nread;
    while (c->len >= 4) {
        uint32_t n = ((uint32_t)c->buf[0] << 24) | ((uint32_t)c->buf[1] << 16) |
                     ((uint32_t)c->buf[2] << 8) | c->buf[3];

        if (n > CLI_CONTROL_MAX) {
            uv_close((uv_handle_t *)&c->pipe, on_ctl_closed);
            return;
        }
        if (c->len < 4 + (size_t)n)
            return;
        ctl_request(c, c->buf + 4, n);
        memmove(c->buf, c->buf + 4 + n, c->len - 4 - n);
        c->len -= 4 + n;
    }
}

static void on_ctl_connection(uv_stream_t *server, int status)
{
    struct daemon *d = server->data;
    struct ctlconn *c;

    if (status < 0 || d->stopping || !(c = calloc(1, sizeof(*c))))
        return;
    c->d = d;
    uv_pipe_init(&d->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
        uv_read_start((uv_stream_t *)&c->pipe, on_ctl_alloc, on_ctl_read) < 0)
        uv_close((uv_handle_t *)&c->pipe, on_ctl_closed);
}

/* ---- lifecycle ---- */

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_NAMED_PIPE && h->data && h->data != the_daemon ? on_ctl_closed
                                                                                 : NULL);
}

static void on_net_stopped(void *ctx)
{
    struct daemon *d = ctx;

    uv_walk(&d->loop, close_walk, NULL);
}

static void shutdown_daemon(struct daemon *d, const char *why)
{
    char path[4200];

    if (d->stopping)
        return;
    d->stopping = 1;
    dlog(2, "daemon: %s: draining", why);
    sd_notify_msg("STOPPING=1");
    snprintf(path, sizeof(path), "%s/%s", d->dir, CLI_CONTROL_SOCK);
    unlink(path);
    uv_timer_stop(&d->housekeeping);
    net_uv_stop(d->net, on_net_stopped, d);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct daemon *d = h->data;

    if (sig == SIGHUP) {
        dlog(2, "daemon: SIGHUP: reloading the peer list");
        apply_peers(d);
        return;
    }
    shutdown_daemon(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int revoked_cb(const struct node_cert_info *ci, void *ctx)
{
    struct daemon *d = ctx;

    if (ci->state == NODE_CERT_REVOKED)
        net_uv_close_node(d->net, ci->cert.node, TX_EREVOKED, "certificate revoked");
    return 0;
}

static void on_housekeeping(uv_timer_t *t)
{
    struct daemon *d = t->data;
    struct node_ingest_report r;
    int changed = 0, err;

    /* What another process changed here (cert install, keys import, revoke,
     * bundle import beside the daemon), then held envelopes whose time came. */
    if ((err = node_refresh(d->st, &changed)))
        dlog(1, "daemon: refresh: %s", tx_strerror(err));
    if (changed)
        node_certs_each(d->st, revoked_cb, d);
    /* A write transaction only when the clock can have freed something, or
     * trust changed (a revocation cut meets held dependencies). */
    if ((changed || node_held_for_time(d->st) == 1) && node_release_held(d->st, &r) == TX_OK &&
        r.released)
        changed = 1;
    if (changed)
        net_uv_local_write(d->net);
}

static void on_ingested(void *ctx)
{
    struct daemon *d = ctx;

    /* A revocation may just have arrived: drop that node's sessions. */
    node_certs_each(d->st, revoked_cb, d);
}

static uint64_t loop_now(void *ctx)
{
    (void)ctx;
    return wall_ms();
}

static const char *default_dir(char *buf, size_t cap)
{
    const char *dd = getenv("TONGXIN_DIR");
    const char *x = getenv("XDG_DATA_HOME");
    const char *h = getenv("HOME");

    if (dd && *dd)
        return dd;
    if (x && *x)
        snprintf(buf, cap, "%s/tongxin", x);
    else
        snprintf(buf, cap, "%s/.local/share/tongxin", h && *h ? h : ".");
    return buf;
}

int main(int argc, char **argv)
{
    static struct daemon d;
    static char dirbuf[4096], confbuf[4200];
    const char *config = NULL;
    struct net_uv_config nc;
    const uint8_t *sk;
    struct node_info info;
    char path[4200];
    int err, rc;

    memset(&d, 0, sizeof(d));
    the_daemon = &d;
    d.cli_conf.log_level = -1;
    d.conf.log_level = -1;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("tongxind %s (protocol %d)\n", TONGXIN_VERSION, net_protocol_version());
            return 0;
        } else if (i + 1 < argc && !strcmp(a, "-D")) {
            d.dir = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--listen")) {
            snprintf(d.cli_conf.listen, sizeof(d.cli_conf.listen), "%s", argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--peer")) {
            if (!add_peer(&d.cli_conf, argv[++i])) {
                fprintf(stderr, "tongxind: --peer %s: expected HOST:PORT\n", argv[i]);
                return 2;
            }
        } else if (i + 1 < argc && !strcmp(a, "--config")) {
            config = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--log-level")) {
            if ((d.cli_conf.log_level = parse_level(argv[++i])) < 0) {
                fprintf(stderr, "tongxind: --log-level: error, warn, info or debug\n");
                return 2;
            }
        } else {
            fprintf(stderr, "tongxind: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!d.dir)
        d.dir = default_dir(dirbuf, sizeof(dirbuf));
    {
        /* Without --config, DIR/tongxind.conf: read if present, and looked for
         * again on SIGHUP. */
        int must = config != NULL;

        if (!config) {
            snprintf(confbuf, sizeof(confbuf), "%s/tongxind.conf", d.dir);
            config = confbuf;
        }
        d.conf.file = config;
        if (conf_load(config, must, &d.conf))
            return 2;
    }
    /* flags override the file */
    if (d.cli_conf.listen[0])
        snprintf(d.conf.listen, sizeof(d.conf.listen), "%s", d.cli_conf.listen);
    if (d.cli_conf.log_level >= 0)
        d.conf.log_level = d.cli_conf.log_level;
    log_level = d.conf.log_level >= 0 ? d.conf.log_level : 2;
    /* No node here: say so before leaving a lock file behind. */
    snprintf(path, sizeof(path), "%s/node.pub", d.dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "tongxind: %s holds no node (tongxin -D %s init ...)\n", d.dir, d.dir);
        return 3;
    }
    /* One daemon per data directory. */
    snprintf(path, sizeof(path), "%s/tongxind.lock", d.dir);
    d.lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d.lockfd < 0) {
        fprintf(stderr, "tongxind: %s: %s\n", path, strerror(errno));
        return errno == ENOENT ? 3 : 1;
    }
    if (flock(d.lockfd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "tongxind: another tongxind is running on %s\n", d.dir);
        return 6;
    }
    if (ftruncate(d.lockfd, 0) == 0) {
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

        if (write(d.lockfd, pid, (size_t)n) != n)
            dlog(1, "daemon: cannot record pid in %s", path);
    }
    {
        static const struct node_os os = {NULL, NULL, on_log, NULL};

        if ((err = node_open(d.dir, 0, &os, &d.st))) {
            if (err == TX_EINVAL)
                fprintf(stderr,
                        "tongxind: %s/node.key must be readable by its owner only "
                        "(chmod 600)\n",
                        d.dir);
            else
                fprintf(stderr, "tongxind: open %s: %s\n", d.dir, tx_strerror(err));
            return err == TX_ENOTINIT ? 3 : err == TX_EINVAL ? 2 : 1;
        }
    }
    if (d.conf.max_held && (err = node_set_max_held(d.st, d.conf.max_held)) == TX_OK)
        dlog(2, "store: hold queue limited to %u envelopes", (unsigned)d.conf.max_held);
    if (d.conf.map_max_mib) {
        size_t max = (size_t)d.conf.map_max_mib << 20;

        if ((err =
                 node_set_map_limits(d.st, max < ((size_t)64 << 20) ? max : (size_t)64 << 20, max)))
            dlog(1, "store: map_max_mib %u not applied: %s", (unsigned)d.conf.map_max_mib,
                 tx_strerror(err));
    }
    node_info(d.st, &info);
    snprintf(d.name, sizeof(d.name), "%s", info.name);
    if (d.conf.ntrusted)
        node_dev_trust(d.st, (const uint8_t(*)[32])d.conf.trusted, d.conf.ntrusted);
    memset(&nc, 0, sizeof(nc));
    if ((err = node_identity(d.st, &sk, nc.session.psk, &d.cert, &d.cert_len))) {
        fprintf(stderr, "tongxind: identity: %s\n", tx_strerror(err));
        return 1;
    }
    if (!d.cert)
        dlog(1, "daemon: not enrolled in a district: development mode (only [dev] trust "
                "node ids may connect)");
    nc.session.sk = sk;
    nc.session.pk = info.id;
    nc.session.cert = d.cert;
    nc.session.cert_len = d.cert_len;
    nc.session.name = d.name;
    nc.session.store = node_net_ops();
    nc.session.store_ctx = d.st;
    nc.session.ping_interval_ms = d.conf.ping_s * 1000;
    nc.session.idle_timeout_ms = d.conf.idle_s * 1000;
    nc.session.vector_interval_ms = d.conf.vector_s * 1000;
    nc.session.batch_envs = d.conf.batch;
    nc.session.window = d.conf.window;
    nc.session.log = on_log;
    nc.listen = d.conf.listen[0] ? d.conf.listen : NULL;
    nc.now_ms = loop_now;
    nc.on_ingest = on_ingested;
    nc.ingest_ctx = &d;
    snprintf(d.listen_desc, sizeof(d.listen_desc), "%s", nc.listen ? nc.listen : "-");
    uv_loop_init(&d.loop);
    if ((err = net_uv_start(&d.loop, &nc, &d.net))) {
        fprintf(stderr, "tongxind: %s\n",
                err == TX_ECONFIG ? "listen address must be HOST:PORT with a numeric host"
                                  : "cannot listen (address in use?)");
        return err == TX_ECONFIG ? 2 : 1;
    }
    if (nc.listen && net_uv_port(d.net))
        snprintf(d.listen_desc, sizeof(d.listen_desc), "%.40s (port %d)", nc.listen,
                 net_uv_port(d.net));
    apply_peers(&d);
    /* The control socket: in the data directory, owner only. */
    snprintf(path, sizeof(path), "%s/%s", d.dir, CLI_CONTROL_SOCK);
    unlink(path); /* a stale socket of a killed daemon: the lock says none runs */
    uv_pipe_init(&d.loop, &d.ctl, 0);
    d.ctl.data = &d;
    if ((rc = uv_pipe_bind(&d.ctl, path)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&d.ctl, 16, on_ctl_connection)) < 0) {
        fprintf(stderr, "tongxind: control socket %s: %s\n", path, uv_strerror(rc));
        return 1;
    }
    chmod(path, 0600);
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sighup);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sighup, on_signal, SIGHUP);
    uv_timer_init(&d.loop, &d.housekeeping);
    d.housekeeping.data = &d;
    uv_timer_start(&d.housekeeping, on_housekeeping, 2000, 2000);
    d.started = wall_ms();
    {
        char hex[NODE_ID_HEX + 1];

        node_hex(info.id, CRDT_KEY_BYTES, hex);
        dlog(2, "daemon: node %.8s (%s, %s of %s) running on %s", hex,
             d.name[0] ? d.name : "no name", node_role_name(info.role), info.community, d.dir);
    }
    sd_notify_msg("READY=1");
    uv_run(&d.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&d.loop);
    if (rc)
        dlog(1, "daemon: loop closed with handles left: %s", uv_strerror(rc));
    net_uv_free(d.net);
    node_close(d.st);
    tx_free(d.cert);
    conf_release(&d.conf);
    conf_release(&d.cli_conf);
    close(d.lockfd); /* the lock file stays: unlinking it would race a starting daemon */
    if (rc)
        dlog(0, "daemon: stopped, but handles were left open");
    else
        dlog(2, "daemon: stopped cleanly");
    return rc ? 1 : 0;
}
