/*
 * sim.c - many nodes in one process over a simulated network on a virtual clock.
 *
 * Every node is a real store (LMDB, without fsync) and every connection a pair
 * of real net sessions; only the wire is simulated: per-direction FIFO delivery
 * with random delay, and injected faults - a dropped, duplicated or reordered
 * chunk (which the sessions must detect and drop the connection for), link
 * partitions that come and go, and reconnects after a backoff. Nodes write
 * random records during the run; after the last partition heals, every node
 * must reach the same log digest (and, for the public scope every node reads,
 * the same state digest) within a bounded simulated time.
 *
 *   sim [--nodes N] [--seed S] [--writes W] [--max-seconds T] [--quiet]
 *   TX_SIM_SEED replays a seed.
 *
 * Prints: sim: N nodes, seed S, converged in T simulated seconds, M messages, B bytes
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

static uint64_t rng_s;
static uint64_t rnd(void)
{
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}
static int chance(double p)
{
    return (double)(rnd() >> 11) / 9007199254740992.0 < p;
}

static uint64_t vnow = 1764300000000ull; /* virtual ms */

/* ---- events ---- */

enum { EV_PACKET, EV_TICK, EV_WRITE, EV_PARTITION, EV_CHECK };

struct event {
    uint64_t t;
    uint64_t order;
    int type;
    int link, dir, gen;
    uint8_t *data;
    size_t len;
};

static struct event *heap;
static size_t nheap, capheap;
static uint64_t ev_order;

static void push(struct event e)
{
    size_t i;

    if (nheap == capheap) {
        capheap = capheap ? capheap * 2 : 1024;
        heap = realloc(heap, capheap * sizeof(*heap));
    }
    e.order = ev_order++;
    i = nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;

        if (heap[p].t < e.t || (heap[p].t == e.t && heap[p].order < e.order))
            break;
        heap[i] = heap[p];
        i = p;
    }
    heap[i] = e;
}

static struct event pop(void)
{
    struct event top = heap[0], last = heap[--nheap];
    size_t i = 0;

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct event *mv = &last;

        if (l < nheap && (heap[l].t < mv->t || (heap[l].t == mv->t && heap[l].order < mv->order))) {
            m = l;
            mv = &heap[l];
        }
        if (r < nheap && (heap[r].t < mv->t || (heap[r].t == mv->t && heap[r].order < mv->order)))
            m = r;
        if (m == i)
            break;
        heap[i] = heap[m];
        i = m;
    }
    if (nheap)
        heap[i] = last;
    return top;
}

/* ---- nodes and links ---- */

struct node {
    struct node_store *st;
    uint8_t id[32];
    struct net_config cfg;
    uint8_t *cert;
    uint64_t rng;
    int group; /* partition side */
};

struct link {
    int a, b;
    int gen;
    struct net_session *s[2]; /* s[0] at a (initiator), s[1] at b */
    uint64_t last_delivery[2];
    uint64_t next_connect;
    int failures;
};

static struct node *nodes;
static int nnodes;
static struct link *links;
static int nlinks;
static int partitioned;
static uint64_t messages, bytes, faults, sessions_opened;
static int quiet;

static uint64_t clock_cb(void *ctx)
{
    (void)ctx;
    return vnow;
}

static void random_cb(void *ctx, void *buf, size_t n)
{
    struct node *nd = ctx;
    uint8_t *b = buf;

    for (size_t i = 0; i < n; i++) {
        uint64_t z = (nd->rng += 0x9e3779b97f4a7c15ull);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        b[i] = (uint8_t)(z ^ (z >> 31));
    }
}

static void log_cb(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (!quiet && level <= NET_LOG_WARN && getenv("TX_SIM_VERBOSE"))
        fprintf(stderr, "[%llu] %s\n", (unsigned long long)vnow, msg);
}

static int link_up(const struct link *l)
{
    return !partitioned || nodes[l->a].group == nodes[l->b].group;
}

static void send_out(struct link *l, int side)
{
    size_t len;
    uint8_t *b;

    while (l->s[side] && (b = net_session_take_output(l->s[side], &len))) {
        struct event e;
        uint64_t t = vnow + 1 + below(40);
        int dir = side; /* dir: 0 = a->b */

        net_session_written(l->s[side], len);
        if (!link_up(l)) {
            tx_free(b);
            continue; /* the wire is cut: bytes vanish */
        }
        if (t < l->last_delivery[dir])
            t = l->last_delivery[dir]; /* TCP keeps order */
        /* Faults: a dropped, duplicated or reordered chunk. */
        if (chance(0.002)) {
            faults++;
            tx_free(b);
            continue;
        }
        if (chance(0.001) && l->last_delivery[dir] > vnow) {
            faults++;
            t = vnow; /* overtakes what is in flight */
        } else {
            l->last_delivery[dir] = t;
        }
        memset(&e, 0, sizeof(e));
        e.t = t;
        e.type = EV_PACKET;
        e.link = (int)(l - links);
        e.dir = dir;
        e.gen = l->gen;
        e.data = b;
        e.len = len;
        if (chance(0.001)) {
            struct event d = e;

            faults++;
            d.data = tx_malloc(len);
            memcpy(d.data, b, len);
            d.t = t + 1;
            push(d);
        }
        push(e);
    }
}

static void teardown(struct link *l)
{
    for (int i = 0; i < 2; i++) {
        net_session_free(l->s[i]);
        l->s[i] = NULL;
    }
    l->gen++;
    l->failures++;
    l->next_connect = vnow + 500 + below(1000u << (l->failures < 5 ? l->failures : 5));
}

static void pump_node(int n, struct link *except)
{
    for (int i = 0; i < nlinks; i++) {
        struct link *l = &links[i];

        if (l == except)
            continue;
        for (int side = 0; side < 2; side++)
            if (l->s[side] && (side ? l->b : l->a) == n) {
                net_session_pump(l->s[side], vnow);
                send_out(l, side);
            }
    }
}

/* After feeding/ticking one side: move bytes, react to events. */
static void settle(struct link *l, int side)
{
    for (int round = 0; round < 4 && l->s[0]; round++) {
        for (int sd = 0; sd < 2 && l->s[0]; sd++) {
            unsigned ev;

            if (!l->s[sd])
                continue;
            send_out(l, sd);
            ev = net_session_events(l->s[sd]);
            if (ev & NET_EV_OPEN)
                sessions_opened++;
            if (ev & NET_EV_LOG_ADVANCED) {
                node_release_held(nodes[sd ? l->b : l->a].st, NULL);
                pump_node(sd ? l->b : l->a, l);
            }
            if (ev & NET_EV_CLOSED) {
                /* The other end sees the connection go. */
                send_out(l, sd);
                teardown(l);
                return;
            }
        }
    }
    (void)side;
}

static void connect_link(struct link *l)
{
    struct node *A = &nodes[l->a], *B = &nodes[l->b];

    if (net_session_new(&A->cfg, 1, vnow, &l->s[0]) ||
        net_session_new(&B->cfg, 0, vnow, &l->s[1])) {
        fprintf(stderr, "sim: cannot create sessions\n");
        exit(1);
    }
    l->last_delivery[0] = l->last_delivery[1] = vnow;
    send_out(l, 0);
}

static void do_write(int n)
{
    static const char *const fields[] = {"title", "assignee", "note"};
    static const char *const vals[] = {"漏水", "wang", "li", "zhao", "elevator"};
    struct node_change ch[2];
    char id[32];
    int err;

    memset(ch, 0, sizeof(ch));
    snprintf(id, sizeof(id), "r%llu", (unsigned long long)below(20));
    ch[0].type = "case";
    ch[0].id = id;
    ch[0].field = fields[below(3)];
    ch[0].code = CRDT_OP_LWW_SET;
    ch[0].value.type = CRDT_STR;
    ch[0].value.s = vals[below(5)];
    ch[0].value.len = (uint32_t)strlen(ch[0].value.s);
    ch[1].type = "case";
    ch[1].id = id;
    ch[1].field = "visits";
    ch[1].code = CRDT_OP_CTR_ADD;
    ch[1].value.type = CRDT_INT;
    ch[1].value.i = 1 + (int64_t)below(3);
    err = node_write(nodes[n].st, NODE_PUBLIC_SCOPE, ch, 2, NULL);
    if (err) {
        fprintf(stderr, "sim: write failed: %s\n", tx_strerror(err));
        exit(1);
    }
    pump_node(n, NULL);
}

static int converged(uint8_t out[32])
{
    uint8_t d0[32], d[32], s0[32], s[32];

    for (int i = 0; i < nnodes; i++) {
        if (node_digest_log(nodes[i].st, d) || node_digest(nodes[i].st, s))
            return 0;
        if (i == 0) {
            memcpy(d0, d, 32);
            memcpy(s0, s, 32);
        } else if (memcmp(d0, d, 32) || memcmp(s0, s, 32)) {
            return 0;
        }
    }
    memcpy(out, d0, 32);
    return 1;
}

static void rmrf(const char *dir)
{
    char cmd[4200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "sim: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    int writes = 200;
    uint64_t seed = 0, max_seconds = 600, t_heal, t_done = 0;
    const char *env = getenv("TX_SIM_SEED");
    char base[4096];
    const char *tmp = getenv("TX_TEST_TMP");
    uint8_t digest[32];
    int rc = 0;

    nnodes = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
            nnodes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--writes") && i + 1 < argc)
            writes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
            max_seconds = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
    }
    if (env && *env)
        seed = strtoull(env, NULL, 0);
    if (!seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    rng_s = seed;
    printf("sim: seed %llu (replay with TX_SIM_SEED=%llu)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    fflush(stdout);
    if (nnodes < 2)
        nnodes = 2;
    snprintf(base, sizeof(base), "%s/sim-%llu-%d", tmp && *tmp ? tmp : "/tmp",
             (unsigned long long)seed, (int)getpid());
    mkdir(tmp && *tmp ? tmp : "/tmp", 0755);
    nodes = calloc((size_t)nnodes, sizeof(*nodes));
    /* Nodes: development mode, every node trusting every other. */
    for (int i = 0; i < nnodes; i++) {
        char dir[4300];
        struct node_init_opts io = {"sim", NODE_ROLE_OFFICE, NULL};
        struct node_os os = {clock_cb, random_cb, log_cb, &nodes[i]};
        struct node_info info;

        nodes[i].rng = seed ^ (0x1234567ull * (uint64_t)(i + 1));
        snprintf(dir, sizeof(dir), "%s/n%03d", base, i);
        if (node_init(dir, &io, &os) || node_open(dir, NODE_OPEN_NOSYNC, &os, &nodes[i].st)) {
            fprintf(stderr, "sim: cannot create node %d in %s\n", i, dir);
            return 1;
        }
        node_set_map_limits(nodes[i].st, (size_t)8 << 20, (size_t)1 << 30);
        node_info(nodes[i].st, &info);
        memcpy(nodes[i].id, info.id, 32);
    }
    {
        uint8_t(*ids)[32] = calloc((size_t)nnodes, 32);

        for (int i = 0; i < nnodes; i++)
            memcpy(ids[i], nodes[i].id, 32);
        for (int i = 0; i < nnodes; i++) {
            struct net_config *c = &nodes[i].cfg;
            const uint8_t *sk;
            size_t cl;

            node_dev_trust(nodes[i].st, (const uint8_t(*)[32])ids, (size_t)nnodes);
            memset(c, 0, sizeof(*c));
            node_identity(nodes[i].st, &sk, c->psk, &nodes[i].cert, &cl);
            c->sk = sk;
            c->pk = nodes[i].id;
            c->store = node_net_ops();
            c->store_ctx = nodes[i].st;
            c->log = log_cb;
            c->random = random_cb;
            c->random_ctx = &nodes[i];
            c->ping_interval_ms = 5000;
            c->idle_timeout_ms = 15000;
            c->vector_interval_ms = 10000;
            c->batch_envs = 64;
        }
        free(ids);
    }
    /* Topology: a ring plus two random chords per node. */
    links = calloc((size_t)nnodes * 3, sizeof(*links));
    for (int i = 0; i < nnodes; i++) {
        links[nlinks].a = i;
        links[nlinks++].b = (i + 1) % nnodes;
        for (int k = 0; k < 2 && nnodes > 3; k++) {
            int j = (int)below((uint64_t)nnodes);

            if (j == i || j == (i + 1) % nnodes || (j + 1) % nnodes == i)
                continue;
            links[nlinks].a = i < j ? i : j;
            links[nlinks++].b = i < j ? j : i;
        }
    }
    for (int i = 0; i < nlinks; i++)
        links[i].next_connect = vnow + below(2000);
    /* Writes spread over the first 120 s; partitions come and go until 150 s. */
    for (int w = 0; w < writes; w++) {
        struct event e = {0};

        e.t = vnow + below(150000);
        e.type = EV_WRITE;
        e.link = (int)below((uint64_t)nnodes);
        push(e);
    }
    for (uint64_t t = 10000; t < 100000; t += 10000 + below(20000)) {
        struct event e = {0};

        e.t = vnow + t;
        e.type = EV_PARTITION;
        push(e);
    }
    {
        /* A last partition that writes continue through, healed at t_heal. */
        struct event e = {0};

        e.t = vnow + 110000;
        e.type = EV_PARTITION;
        e.dir = 2;
        push(e);
    }
    t_heal = vnow + 150000;
    {
        struct event e = {0};

        e.t = t_heal;
        e.type = EV_PARTITION;
        e.dir = 1; /* final heal */
        push(e);
    }
    {
        struct event e = {0};

        e.t = vnow + 500;
        e.type = EV_TICK;
        push(e);
    }
    {
        struct event e = {0};

        e.t = t_heal + 250;
        e.type = EV_CHECK;
        push(e);
    }
    while (nheap) {
        struct event e = pop();

        vnow = e.t;
        if (vnow > t_heal + max_seconds * 1000) {
            fprintf(stderr,
                    "sim: did not converge within %llu simulated seconds after the "
                    "last heal (seed %llu)\n",
                    (unsigned long long)max_seconds, (unsigned long long)seed);
            rc = 1;
            break;
        }
        switch (e.type) {
        case EV_PACKET: {
            struct link *l = &links[e.link];
            int to = e.dir ? 0 : 1;

            if (e.gen == l->gen && l->s[to]) {
                messages++;
                bytes += e.len;
                net_session_feed(l->s[to], e.data, e.len, vnow);
                settle(l, to);
            }
            tx_free(e.data);
            break;
        }
        case EV_TICK:
            for (int i = 0; i < nlinks; i++) {
                struct link *l = &links[i];

                if (!l->s[0] && link_up(l) && vnow >= l->next_connect) {
                    connect_link(l);
                    continue;
                }
                if (l->s[0] && !link_up(l)) {
                    /* the partition cut it: both ends time out eventually; the
                     * sim shortcuts to what they would see */
                    net_session_eof(l->s[0], TX_ECLOSED, "partition");
                    net_session_eof(l->s[1], TX_ECLOSED, "partition");
                    teardown(l);
                    l->failures = 0;
                    continue;
                }
                for (int sd = 0; sd < 2 && l->s[0]; sd++) {
                    net_session_tick(l->s[sd], vnow);
                    settle(l, sd);
                }
            }
            if (!t_done) {
                struct event n = {0};

                n.t = vnow + 500;
                n.type = EV_TICK;
                push(n);
            }
            break;
        case EV_WRITE: do_write(e.link); break;
        case EV_PARTITION:
            if (e.dir == 1 || (partitioned && e.dir != 2)) {
                partitioned = 0;
            } else {
                partitioned = 1;
                for (int i = 0; i < nnodes; i++)
                    nodes[i].group = (int)below(2);
            }
            for (int i = 0; i < nlinks; i++)
                links[i].failures = 0;
            break;
        case EV_CHECK:
            if (converged(digest)) {
                t_done = vnow;
                break;
            }
            {
                struct event n = {0};

                n.t = vnow + 250;
                n.type = EV_CHECK;
                push(n);
            }
            break;
        }
        if (t_done)
            break;
    }
    if (t_done) {
        char hex[65];

        node_hex(digest, 32, hex);
        printf("sim: %d nodes, seed %llu, converged in %.1f simulated seconds, %llu messages, "
               "%llu bytes\n",
               nnodes, (unsigned long long)seed, (double)(t_done - t_heal) / 1000.0,
               (unsigned long long)messages, (unsigned long long)bytes);
        printf("sim: %llu faults injected, %llu sessions opened, log digest %.16s\n",
               (unsigned long long)faults, (unsigned long long)sessions_opened, hex);
    } else {
        rc = 1;
    }
    while (nheap) {
        struct event e = pop();

        tx_free(e.data);
    }
    for (int i = 0; i < nlinks; i++)
        for (int k = 0; k < 2; k++)
            net_session_free(links[i].s[k]);
    for (int i = 0; i < nnodes; i++) {
        node_close(nodes[i].st);
        tx_free(nodes[i].cert);
    }
    free(nodes);
    free(links);
    free(heap);
    rmrf(base);
    return rc;
}
