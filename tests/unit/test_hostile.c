/*
 * test_hostile.c - hostile peers against a real tongxind over TCP.
 *
 * A hub daemon runs in a district. One after another, peers connect and
 * misbehave: wrong network key, a certificate from another district, an
 * oversized frame, garbage after the handshake, a replayed frame, a forged
 * envelope. Each must be disconnected - that peer only - with its reason in the
 * daemon's log and in `tongxin status`; afterwards a legitimate office still
 * connects and its write reaches the hub.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "txtest.h"
#include <sodium.h>

#include "node.h"

static char root[512];
static int port;
static pid_t hub_pid, by_pid;
static char hub_dir[600], hub_log[600], by_dir[600];
static char by_since[64]; /* the bystander's session to the hub: since_ms before the attacks */
static uint8_t d1_netkey[32];

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sh(const char *cmd)
{
    assert_int_equal(system(cmd), 0);
}

/* Create and enrol a node of district ddir. */
static void make_node(const char *dir, const char *ddir, const char *community, int role)
{
    struct node_init_opts io = {community, role, NULL};
    struct node_store *s;
    struct node_district *d;
    struct node_info info;
    uint8_t *blob;
    size_t len;

    assert_int_equal(node_init(dir, &io, NULL), TX_OK);
    assert_int_equal(node_open(dir, 0, NULL, &s), TX_OK);
    node_info(s, &info);
    assert_int_equal(node_district_open(ddir, NULL, &d), TX_OK);
    assert_int_equal(node_district_issue(d, info.id, community, role, NULL, 30, &blob, &len),
                     TX_OK);
    node_district_close(d);
    assert_int_equal(node_enrol_install(s, blob, len), TX_OK);
    tx_free(blob);
    node_close(s);
}

static int tcp_connect(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void write_all(int fd, const uint8_t *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the daemon may close first: that is what we test */
        b += w;
        n -= (size_t)w;
    }
}

/* Move bytes until the session is open (want_open) or closed, or the daemon
 * closes the socket; returns 1 if the socket was closed by the daemon. */
static int drive(int fd, struct net_session *s, int want_open, uint64_t ms)
{
    uint64_t end = mono_ms() + ms;
    uint8_t buf[65536];

    while (mono_ms() < end) {
        size_t len;
        uint8_t *out = net_session_take_output(s, &len);
        struct pollfd p = {fd, POLLIN, 0};

        if (out) {
            write_all(fd, out, len);
            net_session_written(s, len);
            tx_free(out);
        }
        net_session_events(s);
        if (want_open && net_session_info(s)->state == NET_OPEN)
            return 0;
        if (poll(&p, 1, 50) > 0) {
            ssize_t r = read(fd, buf, sizeof(buf));

            if (r <= 0)
                return 1;
            net_session_feed(s, buf, (size_t)r, wall_ms());
        }
        net_session_tick(s, wall_ms());
    }
    return 0;
}

/* Wait for the daemon to close the connection (EOF); *got (may be NULL)
 * counts the bytes it sent before that. 0 if it did not close in time. */
static int closed_by_daemon(int fd, uint64_t ms, size_t *got)
{
    uint64_t end = mono_ms() + ms;
    uint8_t buf[4096];

    if (got)
        *got = 0;
    while (mono_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};

        if (poll(&p, 1, 50) > 0) {
            ssize_t r = read(fd, buf, sizeof(buf));

            if (r <= 0)
                return 1;
            if (got)
                *got += (size_t)r;
        }
    }
    return 0;
}

/* A store with nothing but, optionally, one envelope to push. */
struct fake {
    const uint8_t *push[4];
    size_t push_len[4];
    size_t npush;
    int pushed;
};

static int f_vector(void *ctx, struct net_vec_entry **v, size_t *n)
{
    (void)ctx;
    *v = NULL;
    *n = 0;
    return TX_OK;
}
static int f_start(void *ctx, const struct net_known *k, uint64_t *pos)
{
    (void)ctx;
    (void)k;
    *pos = 0;
    return TX_OK;
}
static int f_read(void *ctx, uint64_t *pos, struct net_known *k, size_t me, size_t mb,
                  struct tx_mpw *w, size_t *count)
{
    struct fake *f = ctx;

    (void)k;
    (void)me;
    (void)mb;
    (void)pos;
    *count = 0;
    if (f->npush && !f->pushed) {
        for (size_t i = 0; i < f->npush; i++)
            tx_mpw_bin(w, f->push[i], f->push_len[i]);
        f->pushed = 1;
        *count = f->npush;
    }
    return tx_mpw_finish(w);
}
static int f_ingest(void *ctx, const uint8_t *const *e, const size_t *l, size_t n,
                    struct net_ingest_result *r)
{
    (void)ctx;
    (void)e;
    (void)l;
    (void)n;
    memset(r, 0, sizeof(*r));
    return TX_OK;
}
static int f_get(void *ctx, const uint8_t *o, uint64_t seq, uint8_t **env, size_t *len)
{
    (void)ctx;
    (void)o;
    (void)seq;
    (void)env;
    (void)len;
    return TX_ENOTFOUND;
}
static int f_check(void *ctx, const uint8_t *node, const uint8_t *c, size_t cl, char *name)
{
    (void)ctx;
    (void)node;
    (void)c;
    (void)cl;
    (void)name;
    return TX_OK;
}
static const struct net_store_ops fake_ops = {f_vector, f_start, f_read, f_ingest, f_get, f_check};

struct attacker {
    struct node_store *st;
    struct net_config cfg;
    uint8_t *cert;
    struct node_info info;
    struct fake fake;
};

static void attacker_open(struct attacker *a, const char *dir)
{
    const uint8_t *sk;
    size_t cl;

    memset(a, 0, sizeof(*a));
    assert_int_equal(node_open(dir, 0, NULL, &a->st), TX_OK);
    node_info(a->st, &a->info);
    assert_int_equal(node_identity(a->st, &sk, a->cfg.psk, &a->cert, &cl), TX_OK);
    a->cfg.sk = sk;
    a->cfg.pk = a->info.id;
    a->cfg.cert = a->cert;
    a->cfg.cert_len = cl;
    a->cfg.name = "attacker";
    a->cfg.store = &fake_ops;
    a->cfg.store_ctx = &a->fake;
}

static void attacker_close(struct attacker *a)
{
    tx_free(a->cert);
    node_close(a->st);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return b;
}

static char *status_json_of(const char *dir)
{
    char cmd[1400], path[700];

    snprintf(path, sizeof(path), "%s/status.json", root);
    snprintf(cmd, sizeof(cmd), "\"%s\" -D \"%s\" status --json > \"%s\"", getenv("TONGXIN_BIN"),
             dir, path);
    sh(cmd);
    return read_text(path);
}

static char *status_json(void)
{
    return status_json_of(hub_dir);
}

/* The bystander's peer entry: "since_ms":N of a connected session, copied into
 * out; 0 if it is not connected. */
static int bystander_session(char *out, size_t cap)
{
    char *st = status_json_of(by_dir), *p = strstr(st, "\"peers\":"), *q;
    int ok = 0;

    if (p && (q = strstr(p, "\"since_ms\":")) && strstr(p, "\"state\":\"connected\"")) {
        size_t n = strspn(q + 11, "0123456789");

        snprintf(out, cap, "%.*s", (int)n, q + 11);
        ok = n > 0;
    }
    free(st);
    return ok;
}

static int setup(void **state)
{
    const char *tmp = getenv("TX_TEST_TMP");
    char cmd[2000], d1[700], d2[700], ddir[800];
    struct node_district *d;
    uint64_t end;

    (void)state;
    mkdir(tmp && *tmp ? tmp : "/tmp", 0755);
    snprintf(root, sizeof(root), "%s/hostile.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(root));
    snprintf(d1, sizeof(d1), "%s/district1", root);
    snprintf(d2, sizeof(d2), "%s/district2", root);
    assert_int_equal(node_district_init(d1, NULL), TX_OK);
    assert_int_equal(node_district_init(d2, NULL), TX_OK);
    /* the district's network key, as an insider who leaked it would have it */
    {
        FILE *f;
        char line[200];

        snprintf(ddir, sizeof(ddir), "%s/network.key", d1);
        f = fopen(ddir, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof(line), f));
        assert_non_null(fgets(line, sizeof(line), f));
        fclose(f);
        line[64] = '\0';
        assert_int_equal(node_unhex(line, d1_netkey, 32), TX_OK);
    }
    assert_int_equal(node_district_open(d1, NULL, &d), TX_OK);
    node_district_close(d);
    snprintf(hub_dir, sizeof(hub_dir), "%s/hub", root);
    make_node(hub_dir, d1, "district", NODE_ROLE_HUB);
    snprintf(ddir, sizeof(ddir), "%s/office", root);
    make_node(ddir, d1, "xidajie", NODE_ROLE_OFFICE);
    snprintf(ddir, sizeof(ddir), "%s/insider", root);
    make_node(ddir, d1, "fulin", NODE_ROLE_OFFICE);
    snprintf(ddir, sizeof(ddir), "%s/foreign", root);
    make_node(ddir, d2, "elsewhere", NODE_ROLE_OFFICE);
    snprintf(ddir, sizeof(ddir), "%s/outsider", root);
    {
        struct node_init_opts io = {"nowhere", NODE_ROLE_OFFICE, NULL};
        assert_int_equal(node_init(ddir, &io, NULL), TX_OK);
    }
    /* the hub daemon */
    port = 40000 + (int)(getpid() % 20000);
    snprintf(hub_log, sizeof(hub_log), "%s/hub.log", root);
    hub_pid = fork();
    assert_true(hub_pid >= 0);
    if (hub_pid == 0) {
        char listen[64];
        int fd = open(hub_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        dup2(fd, 2);
        execl(getenv("TONGXIND_BIN"), "tongxind", "-D", hub_dir, "--listen", listen, (char *)NULL);
        _exit(127);
    }
    /* wait for readiness: the control socket answers */
    end = mono_ms() + 20000;
    snprintf(cmd, sizeof(cmd),
             "\"%s\" -D \"%s\" status --json 2>/dev/null | grep -q '\"online\":true'",
             getenv("TONGXIN_BIN"), hub_dir);
    while (system(cmd) != 0) {
        assert_true(mono_ms() < end);
        usleep(50000);
    }
    /* an honest office, connected through all the attacks: they must not
     * disturb its session */
    snprintf(by_dir, sizeof(by_dir), "%s/bystander", root);
    make_node(by_dir, d1, "gongyuan", NODE_ROLE_OFFICE);
    by_pid = fork();
    assert_true(by_pid >= 0);
    if (by_pid == 0) {
        char peer[64], log[700];
        int fd;

        snprintf(log, sizeof(log), "%s/bystander.log", root);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        snprintf(peer, sizeof(peer), "127.0.0.1:%d", port);
        dup2(fd, 2);
        execl(getenv("TONGXIND_BIN"), "tongxind", "-D", by_dir, "--peer", peer, (char *)NULL);
        _exit(127);
    }
    end = mono_ms() + 20000;
    while (!bystander_session(by_since, sizeof(by_since))) {
        assert_true(mono_ms() < end);
        usleep(50000);
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[700];
    int st;

    (void)state;
    if (by_pid > 0) {
        kill(by_pid, SIGTERM);
        waitpid(by_pid, &st, 0);
    }
    if (hub_pid > 0) {
        kill(hub_pid, SIGTERM);
        waitpid(hub_pid, &st, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return 0;
}

/* Where the hub log stood when the current attack began: expect_log looks
 * only at what came after, so one attack's line cannot satisfy another's. */
static size_t log_mark;

static void mark_log(void)
{
    char *log = read_text(hub_log);

    log_mark = strlen(log);
    free(log);
}

static void expect_log(const char *needle)
{
    uint64_t end = mono_ms() + 5000;

    for (;;) {
        char *log = read_text(hub_log);
        int found = strlen(log) >= log_mark && strstr(log + log_mark, needle) != NULL;

        free(log);
        if (found)
            return;
        if (mono_ms() > end) {
            fprintf(stderr, "hub log lacks '%s'\n", needle);
            fail();
        }
        usleep(20000);
    }
}

static void test_wrong_network_key(void **state)
{
    struct attacker a;
    struct net_session *s;
    char dir[700];
    int fd;

    (void)state;
    mark_log();
    snprintf(dir, sizeof(dir), "%s/outsider", root);
    attacker_open(&a, dir);
    randombytes_buf(a.cfg.psk, 32); /* not the district's */
    assert_int_equal(net_session_new(&a.cfg, 1, wall_ms(), &s), TX_OK);
    fd = tcp_connect();
    /* the hub answers nothing (no DH, no certificate) and hangs up */
    assert_int_equal(drive(fd, s, 0, 5000), 1);
    assert_true(net_session_info(s)->bytes_in == 0);
    close(fd);
    net_session_free(s);
    attacker_close(&a);
    expect_log("wrong network key");
}

static void test_foreign_certificate(void **state)
{
    struct attacker a;
    struct net_session *s;
    char dir[700];
    int fd;

    (void)state;
    mark_log();
    snprintf(dir, sizeof(dir), "%s/foreign", root);
    attacker_open(&a, dir);
    memcpy(a.cfg.psk, d1_netkey, 32); /* a leaked network key, a foreign certificate */
    assert_int_equal(net_session_new(&a.cfg, 1, wall_ms(), &s), TX_OK);
    fd = tcp_connect();
    drive(fd, s, 0, 3000);
    assert_int_equal(net_session_info(s)->state, NET_CLOSED);
    assert_true(net_session_info(s)->close_by_peer);
    assert_int_equal(net_session_info(s)->close_code, TX_EDISTRICT);
    close(fd);
    net_session_free(s);
    attacker_close(&a);
    expect_log("peer refused: belongs to another district");
}

static void test_oversized_frame(void **state)
{
    static const uint8_t huge[4] = {0x7f, 0xff, 0xff, 0xff};
    size_t got;
    int fd;

    (void)state;
    mark_log();
    fd = tcp_connect();
    write_all(fd, huge, 4); /* only the header: the cap must act before the body */
    assert_true(closed_by_daemon(fd, 5000, &got));
    assert_int_equal(got, 0); /* nothing said before the handshake */
    close(fd);
    expect_log("frame over the size limit");
}

/* Open a session as the insider (a valid certificate), then misbehave. */
static int insider_open(struct attacker *a, struct net_session **s)
{
    char dir[700];
    int fd;

    snprintf(dir, sizeof(dir), "%s/insider", root);
    attacker_open(a, dir);
    assert_int_equal(net_session_new(&a->cfg, 1, wall_ms(), s), TX_OK);
    fd = tcp_connect();
    drive(fd, *s, 1, 5000);
    assert_int_equal(net_session_info(*s)->state, NET_OPEN);
    return fd;
}

static void test_garbage_after_handshake(void **state)
{
    struct attacker a;
    struct net_session *s;
    uint8_t frame[4 + 100];
    int fd;

    (void)state;
    mark_log();
    fd = insider_open(&a, &s);
    frame[0] = frame[1] = frame[2] = 0;
    frame[3] = 100;
    randombytes_buf(frame + 4, 100);
    write_all(fd, frame, sizeof(frame));
    assert_true(closed_by_daemon(fd, 5000, NULL));
    close(fd);
    net_session_free(s);
    attacker_close(&a);
    expect_log("frame failed authentication");
}

static void test_replayed_frame(void **state)
{
    struct attacker a;
    struct net_session *s;
    uint8_t *out;
    size_t len;
    int fd;

    (void)state;
    mark_log();
    fd = insider_open(&a, &s);
    /* one more authentic frame (a sync request), sent twice */
    net_session_sync(s, wall_ms());
    out = net_session_take_output(s, &len);
    assert_non_null(out);
    write_all(fd, out, len);
    write_all(fd, out, len);
    tx_free(out);
    assert_true(closed_by_daemon(fd, 5000, NULL));
    close(fd);
    net_session_free(s);
    attacker_close(&a);
    expect_log("frame failed authentication (tampered, replayed or reordered)");
}

static void test_forged_envelope(void **state)
{
    struct attacker a;
    struct net_session *s;
    struct node_store *o;
    struct node_change ch;
    struct node_write_result res;
    char dir[700];
    uint8_t *cert_env = NULL, *env = NULL;
    size_t cert_len = 0, len = 0;
    int fd;

    (void)state;
    mark_log();
    /* The insider's own chain: its first envelope (its certificate, genuine)
     * and a second one with a signature byte flipped. */
    snprintf(dir, sizeof(dir), "%s/insider", root);
    assert_int_equal(node_open(dir, 0, NULL, &o), TX_OK);
    memset(&ch, 0, sizeof(ch));
    ch.type = "note";
    ch.id = "forged";
    ch.field = "text";
    ch.code = CRDT_OP_LWW_SET;
    ch.value.type = CRDT_STR;
    ch.value.s = "forged?";
    ch.value.len = 7;
    assert_int_equal(node_write(o, NODE_PUBLIC_SCOPE, &ch, 1, &res), TX_OK);
    assert_int_equal(res.seq, 2);
    assert_int_equal(node_net_ops()->get(o, res.origin, 1, &cert_env, &cert_len), TX_OK);
    assert_int_equal(node_net_ops()->get(o, res.origin, 2, &env, &len), TX_OK);
    node_close(o);
    env[len - 1] ^= 0x55;
    fd = insider_open(&a, &s);
    a.fake.push[0] = cert_env;
    a.fake.push_len[0] = cert_len;
    a.fake.push[1] = env;
    a.fake.push_len[1] = len;
    a.fake.npush = 2;
    net_session_pump(s, wall_ms());
    drive(fd, s, 0, 5000);
    assert_int_equal(net_session_info(s)->state, NET_CLOSED);
    assert_int_equal(net_session_info(s)->close_code, TX_ESIG);
    close(fd);
    net_session_free(s);
    attacker_close(&a);
    tx_free(cert_env);
    tx_free(env);
    expect_log("forged or malformed envelope");
}

/* After all that: the daemon runs, status names the refusals, and a legitimate
 * office still syncs. */
static void test_still_serving(void **state)
{
    struct node_store *o;
    struct net_config cfg;
    struct net_session *s;
    struct node_info info;
    uint8_t *cert;
    size_t cl;
    const uint8_t *sk;
    char dir[700], *st;
    int fd, wst;
    uint64_t end;

    (void)state;
    assert_int_equal(waitpid(hub_pid, &wst, WNOHANG), 0); /* still running */
    st = status_json();
    assert_non_null(strstr(st, "\"refused\":"));
    assert_non_null(strstr(st, "wrong network key"));
    assert_non_null(strstr(st, "belongs to another district"));
    assert_non_null(strstr(st, "frame over the size limit"));
    assert_non_null(strstr(st, "frame failed authentication"));
    assert_non_null(strstr(st, "forged or malformed"));
    free(st);
    /* The bystander kept its one session through every attack, and it still
     * carries writes. */
    {
        char since[64];

        assert_int_equal(waitpid(by_pid, &wst, WNOHANG), 0);
        assert_true(bystander_session(since, sizeof(since)));
        if (strcmp(since, by_since) != 0)
            fail_msg("the bystander's session was replaced during the attacks (since %s, was %s)",
                     since, by_since);
        snprintf(dir, sizeof(dir),
                 "\"%s\" -D \"%s\" records put case by-1 --scope public "
                 "title=still >/dev/null",
                 getenv("TONGXIN_BIN"), by_dir);
        sh(dir);
        end = mono_ms() + 10000;
        for (;;) {
            struct node_store *h;
            struct node_record r;
            int found;

            assert_int_equal(node_open(hub_dir, NODE_OPEN_READONLY, NULL, &h), TX_OK);
            found = node_get(h, NODE_PUBLIC_SCOPE, "case", "by-1", &r) == TX_OK;
            if (found)
                node_record_release(&r);
            node_close(h);
            if (found)
                break;
            assert_true(mono_ms() < end);
            usleep(20000);
        }
    }
    /* the office writes, then connects for real */
    snprintf(dir, sizeof(dir), "%s/office", root);
    assert_int_equal(node_open(dir, 0, NULL, &o), TX_OK);
    node_info(o, &info);
    {
        struct node_change ch;

        memset(&ch, 0, sizeof(ch));
        ch.type = "note";
        ch.id = "n1";
        ch.field = "text";
        ch.code = CRDT_OP_LWW_SET;
        ch.value.type = CRDT_STR;
        ch.value.s = "still served";
        ch.value.len = 12;
        assert_int_equal(node_write(o, NODE_PUBLIC_SCOPE, &ch, 1, NULL), TX_OK);
    }
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(node_identity(o, &sk, cfg.psk, &cert, &cl), TX_OK);
    cfg.sk = sk;
    cfg.pk = info.id;
    cfg.cert = cert;
    cfg.cert_len = cl;
    cfg.store = node_net_ops();
    cfg.store_ctx = o;
    assert_int_equal(net_session_new(&cfg, 1, wall_ms(), &s), TX_OK);
    fd = tcp_connect();
    end = mono_ms() + 10000;
    drive(fd, s, 1, 5000);
    assert_int_equal(net_session_info(s)->state, NET_OPEN);
    /* stream until the hub holds the office's record */
    for (;;) {
        struct node_store *h;
        struct node_record r;
        int found;

        drive(fd, s, 0, 100);
        assert_int_equal(node_open(hub_dir, NODE_OPEN_READONLY, NULL, &h), TX_OK);
        found = node_get(h, NODE_PUBLIC_SCOPE, "note", "n1", &r) == TX_OK;
        if (found)
            node_record_release(&r);
        node_close(h);
        if (found)
            break;
        assert_true(mono_ms() < end);
    }
    net_session_close(s, 0, "done");
    drive(fd, s, 0, 100);
    close(fd);
    net_session_free(s);
    tx_free(cert);
    node_close(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_network_key), cmocka_unit_test(test_foreign_certificate),
        cmocka_unit_test(test_oversized_frame),   cmocka_unit_test(test_garbage_after_handshake),
        cmocka_unit_test(test_replayed_frame),    cmocka_unit_test(test_forged_envelope),
        cmocka_unit_test(test_still_serving),
    };
    if (!getenv("TONGXIND_BIN") || !getenv("TONGXIN_BIN")) {
        fprintf(stderr, "test_hostile: needs TONGXIN_BIN and TONGXIND_BIN\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
