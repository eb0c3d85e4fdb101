/*
 * status.c - `tongxin status`: one JSON document built from the store (and,
 * inside the daemon, from the live sessions), and its rendering as tables.
 * The daemon builds it and sends it over the control socket; without a daemon
 * the CLI builds it from the store and marks it offline.
 */
#include <stdlib.h>
#include <string.h>

#include "status.h"

static const char *peer_state(int st)
{
    switch (st) {
    case NET_PEER_CONNECTING: return "connecting";
    case NET_PEER_CONNECTED: return "connected";
    case NET_PEER_BACKOFF: return "backing off";
    default: return "down";
    }
}

static const char *close_kind(int k)
{
    switch (k) {
    case NET_CLOSE_CLEAN: return "goodbye";
    case NET_CLOSE_CUT: return "cut";
    case NET_CLOSE_ERROR: return "error";
    default: return "none";
    }
}

struct origin_acc {
    json_t *arr;
    struct net_uv *u;
    struct node_store *s;
};

struct peer_acc {
    json_t *arr;
    const struct node_origin_info *o; /* when filling per-origin lags */
    json_t *lags;
    struct net_vec_entry *vec; /* our vector, for behind/ahead totals */
    size_t nvec;
};

static int lag_cb(const struct net_peer_info *p, void *vctx)
{
    struct peer_acc *pa = vctx;
    char hex[NODE_ID_HEX + 1];
    uint64_t k;

    if (!p->known || p->s.state != NET_OPEN)
        return 0;
    k = net_known_get(p->known, pa->o->origin);
    node_hex(p->s.peer, CRDT_KEY_BYTES, hex);
    hex[NODE_SHORT_ID] = '\0';
    json_object_set_new(pa->lags, hex,
                        json_integer(k >= pa->o->head ? (json_int_t)(k - pa->o->head)
                                                      : -(json_int_t)(pa->o->head - k)));
    return 0;
}

static int origin_cb(const struct node_origin_info *o, void *vctx)
{
    struct origin_acc *oa = vctx;
    json_t *j = json_object();
    char hex[NODE_ID_HEX + 1];

    node_hex(o->origin, CRDT_KEY_BYTES, hex);
    json_object_set_new(j, "origin", json_string(hex));
    {
        struct node_cert_info ci;

        if (node_cert_lookup(oa->s, o->origin, &ci) == TX_OK) {
            json_object_set_new(j, "name", json_string(ci.cert.name));
            json_object_set_new(j, "community", json_string(ci.cert.community));
        }
    }
    json_object_set_new(j, "head", json_integer((json_int_t)o->head));
    json_object_set_new(j, "held", json_integer((json_int_t)o->held));
    json_object_set_new(j, "last_received_ms", json_integer((json_int_t)o->received_ms));
    json_object_set_new(j, "frozen", json_boolean(o->flags & NODE_ORIGIN_FROZEN));
    json_object_set_new(j, "revoked", json_boolean(o->flags & NODE_ORIGIN_REVOKED));
    json_object_set_new(j, "self", json_boolean(o->flags & NODE_ORIGIN_SELF));
    if (oa->u) {
        /* per connected peer: its seq minus ours (negative: it is behind) */
        struct peer_acc pa;

        memset(&pa, 0, sizeof(pa));
        pa.o = o;
        pa.lags = json_object();
        net_uv_peers_each(oa->u, lag_cb, &pa);
        json_object_set_new(j, "peers", pa.lags);
    }
    json_array_append_new(oa->arr, j);
    return 0;
}

static int peer_cb(const struct net_peer_info *p, void *vctx)
{
    struct peer_acc *pa = vctx;
    json_t *j = json_object();
    char hex[NODE_ID_HEX + 1];
    uint64_t behind = 0, ahead = 0;

    json_object_set_new(j, "addr", json_string(p->addr));
    json_object_set_new(j, "configured", json_boolean(p->configured));
    json_object_set_new(j, "state", json_string(peer_state(p->state)));
    json_object_set_new(j, "since_ms", json_integer((json_int_t)p->since_ms));
    if (p->state == NET_PEER_BACKOFF)
        json_object_set_new(j, "next_dial_ms", json_integer((json_int_t)p->next_dial_ms));
    json_object_set_new(j, "failures", json_integer(p->failures));
    if (p->have_session) {
        const struct net_session_info *s = &p->s;

        if (s->opened_ms) {
            node_hex(s->peer, CRDT_KEY_BYTES, hex);
            json_object_set_new(j, "node", json_string(hex));
            json_object_set_new(j, "name", json_string(s->peer_name));
        }
        json_object_set_new(j, "last_contact_ms", json_integer((json_int_t)s->last_rx_ms));
        json_object_set_new(j, "envelopes_in", json_integer((json_int_t)s->env_in));
        json_object_set_new(j, "envelopes_out", json_integer((json_int_t)s->env_out));
        json_object_set_new(j, "bytes_in", json_integer((json_int_t)s->bytes_in));
        json_object_set_new(j, "bytes_out", json_integer((json_int_t)s->bytes_out));
        json_object_set_new(j, "rtt_ms", json_integer((json_int_t)s->rtt_ms));
        if (s->state == NET_CLOSED) {
            json_t *c = json_object();

            json_object_set_new(c, "kind", json_string(close_kind(s->close_kind)));
            json_object_set_new(c, "code", json_string(tx_errname(s->close_code)));
            json_object_set_new(c, "reason", json_string(s->close_reason));
            json_object_set_new(c, "by_peer", json_boolean(s->close_by_peer));
            json_object_set_new(j, "last_close", c);
        }
    }
    if (p->known && p->s.state == NET_OPEN) {
        for (size_t i = 0; i < pa->nvec; i++) {
            uint64_t k = net_known_get(p->known, pa->vec[i].origin);

            if (k < pa->vec[i].seq)
                behind += pa->vec[i].seq - k;
            else
                ahead += k - pa->vec[i].seq;
        }
        for (size_t i = 0; i < p->known->n; i++) {
            int mine = 0;

            for (size_t k = 0; k < pa->nvec && !mine; k++)
                mine = memcmp(pa->vec[k].origin, p->known->e[i].origin, 32) == 0;
            if (!mine)
                ahead += p->known->e[i].seq;
        }
        json_object_set_new(j, "behind", json_integer((json_int_t)behind));
        json_object_set_new(j, "ahead", json_integer((json_int_t)ahead));
        json_object_set_new(j, "caught_up", json_boolean(p->s.caught_up));
    }
    json_array_append_new(pa->arr, j);
    return 0;
}

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

/* This node first, then by community, name and id: the order people read. */
static int origin_before(json_t *a, json_t *b)
{
    int sa = json_is_true(json_object_get(a, "self")),
        sb = json_is_true(json_object_get(b, "self"));
    int c;

    if (sa != sb)
        return sa > sb;
    if ((c = strcmp(sget(a, "community"), sget(b, "community"))))
        return c < 0;
    if ((c = strcmp(sget(a, "name"), sget(b, "name"))))
        return c < 0;
    return strcmp(sget(a, "origin"), sget(b, "origin")) < 0;
}

static void sort_origins(json_t *arr)
{
    size_t n = json_array_size(arr);

    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0; k--) {
            json_t *x = json_array_get(arr, k - 1), *y = json_array_get(arr, k);

            if (!origin_before(y, x))
                break;
            json_incref(x);
            json_array_set(arr, k - 1, y);
            json_array_set_new(arr, k, x);
        }
}

json_t *cli_status_json(struct node_store *s, struct net_uv *u, const char *listen,
                        uint64_t started_ms, uint64_t now_ms)
{
    json_t *o = json_object(), *rej = json_object(), *peers = json_array();
    struct node_info info;
    struct node_stats st;
    struct origin_acc oa;
    char hex[NODE_ID_HEX + 1];
    uint8_t dist[CRDT_KEY_BYTES];

    node_info(s, &info);
    node_stats(s, &st);
    node_hex(info.id, CRDT_KEY_BYTES, hex);
    json_object_set_new(o, "id", json_string(hex));
    json_object_set_new(o, "name", json_string(info.name));
    json_object_set_new(o, "community", json_string(info.community));
    json_object_set_new(o, "role", json_string(node_role_name(info.role)));
    if (node_district_of(s, dist) == TX_OK) {
        node_hex(dist, CRDT_KEY_BYTES, hex);
        json_object_set_new(o, "district", json_string(hex));
    } else {
        json_object_set_new(o, "district", json_null());
    }
    json_object_set_new(o, "online", json_boolean(u != NULL));
    json_object_set_new(o, "now_ms", json_integer((json_int_t)now_ms));
    if (u) {
        struct peer_acc pa;
        struct net_uv_stats ns;
        json_t *nj = json_object();
        const struct net_store_ops *ops = node_net_ops();

        json_object_set_new(o, "listen", listen ? json_string(listen) : json_null());
        json_object_set_new(o, "started_ms", json_integer((json_int_t)started_ms));
        memset(&pa, 0, sizeof(pa));
        pa.arr = peers;
        ops->vector(s, &pa.vec, &pa.nvec);
        net_uv_peers_each(u, peer_cb, &pa);
        tx_free(pa.vec);
        net_uv_stats(u, &ns);
        json_object_set_new(nj, "accepted", json_integer((json_int_t)ns.accepted));
        json_object_set_new(nj, "dialed", json_integer((json_int_t)ns.dialed));
        json_object_set_new(nj, "handshakes_ok", json_integer((json_int_t)ns.handshakes_ok));
        json_object_set_new(nj, "handshakes_failed",
                            json_integer((json_int_t)ns.handshakes_failed));
        json_object_set_new(nj, "protocol_errors", json_integer((json_int_t)ns.protocol_errors));
        json_object_set_new(o, "net", nj);
        {
            const struct net_refusal *rl;
            size_t nr;
            json_t *ra = json_array();

            net_uv_refusals(u, &rl, &nr);
            for (size_t i = 0; i < nr; i++) {
                json_t *r = json_object();

                json_object_set_new(r, "addr", json_string(rl[i].addr));
                json_object_set_new(r, "at_ms", json_integer((json_int_t)rl[i].at_ms));
                json_object_set_new(r, "code", json_string(tx_errname(rl[i].code)));
                json_object_set_new(r, "during_handshake", json_boolean(rl[i].during_handshake));
                json_object_set_new(r, "reason", json_string(rl[i].reason));
                json_array_append_new(ra, r);
            }
            json_object_set_new(o, "refused", ra);
        }
    }
    json_object_set_new(o, "peers", peers);
    oa.arr = json_array();
    oa.u = u;
    oa.s = s;
    node_origins_each(s, origin_cb, &oa);
    sort_origins(oa.arr);
    json_object_set_new(o, "origins", oa.arr);
    json_object_set_new(o, "envelopes", json_integer((json_int_t)st.envelopes));
    json_object_set_new(o, "records", json_integer((json_int_t)st.records));
    json_object_set_new(o, "held", json_integer((json_int_t)st.held));
    json_object_set_new(o, "quarantined", json_integer((json_int_t)st.evidence));
    json_object_set_new(o, "frozen", json_integer((json_int_t)st.frozen));
    for (int i = 1; i < NODE_R_COUNT; i++)
        if (st.rejected[i])
            json_object_set_new(rej, node_reason_name(i), json_integer((json_int_t)st.rejected[i]));
    json_object_set_new(o, "rejected", rej);
    return o;
}

static const char *jstr(json_t *o, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : def;
}

static uint64_t jint(json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));

    return v > 0 ? (uint64_t)v : 0;
}

static const char *human_bytes(uint64_t b, char *buf, size_t cap)
{
    if (b < 10000)
        snprintf(buf, cap, "%llu", (unsigned long long)b);
    else if (b < 10000000)
        snprintf(buf, cap, "%lluk", (unsigned long long)(b / 1024));
    else
        snprintf(buf, cap, "%lluM", (unsigned long long)(b >> 20));
    return buf;
}

void cli_status_print(json_t *st, FILE *out)
{
    uint64_t now = jint(st, "now_ms");
    json_t *peers = json_object_get(st, "peers"), *origins = json_object_get(st, "origins");
    int online = json_is_true(json_object_get(st, "online"));
    char age[32], buf[64], buf2[64];
    struct cli_table t;
    size_t i;
    json_t *p;

    fprintf(out, "node      %s\n", jstr(st, "id", "?"));
    fprintf(out, "name      %s\n", jstr(st, "name", "")[0] ? jstr(st, "name", "") : "-");
    fprintf(out, "community %s\n", jstr(st, "community", "?"));
    fprintf(out, "role      %s\n", jstr(st, "role", "?"));
    if (online)
        fprintf(out, "daemon    online, listening on %s, up %s\n", jstr(st, "listen", "-"),
                cli_age(now, jint(st, "started_ms"), age, sizeof(age)));
    else
        fprintf(out, "daemon    offline (read from the store)\n");
    fprintf(out,
            "store     %llu envelopes, %llu records, %llu held, %llu quarantined, %llu frozen\n",
            (unsigned long long)jint(st, "envelopes"), (unsigned long long)jint(st, "records"),
            (unsigned long long)jint(st, "held"), (unsigned long long)jint(st, "quarantined"),
            (unsigned long long)jint(st, "frozen"));
    {
        json_t *rej = json_object_get(st, "rejected");
        const char *k;
        json_t *v;
        int first = 1;

        json_object_foreach(rej, k, v)
        {
            fprintf(out, "%s%s %lld", first ? "rejected  " : ", ", k,
                    (long long)json_integer_value(v));
            first = 0;
        }
        if (!first)
            fprintf(out, "\n");
    }
    if (online) {
        static const char *const hdr[] = {"PEER",   "NODE",   "NAME",    "STATE", "SINCE",
                                          "LAST",   "ENV IN", "ENV OUT", "BYTES", "RTT",
                                          "BEHIND", "AHEAD",  "NOTE"};

        fprintf(out, "\n");
        cli_table_init(&t, 13, hdr);
        json_array_foreach(peers, i, p)
        {
            char since[16], last[16], ein[24], eout[24], rtt[32], beh[24], ahd[24], note[200] = "";
            const char *node = jstr(p, "node", "-");
            json_t *lc = json_object_get(p, "last_close");
            char shortn[NODE_SHORT_ID + 1];

            snprintf(shortn, sizeof(shortn), "%s", node);
            cli_age(now, jint(p, "since_ms"), since, sizeof(since));
            cli_age(now, jint(p, "last_contact_ms"), last, sizeof(last));
            snprintf(ein, sizeof(ein), "%llu", (unsigned long long)jint(p, "envelopes_in"));
            snprintf(eout, sizeof(eout), "%llu", (unsigned long long)jint(p, "envelopes_out"));
            snprintf(buf2, sizeof(buf2), "%s/%s",
                     human_bytes(jint(p, "bytes_in"), buf, sizeof(buf)),
                     human_bytes(jint(p, "bytes_out"), age, sizeof(age)));
            snprintf(rtt, sizeof(rtt), "%llums", (unsigned long long)jint(p, "rtt_ms"));
            snprintf(beh, sizeof(beh), "%llu", (unsigned long long)jint(p, "behind"));
            snprintf(ahd, sizeof(ahd), "%llu", (unsigned long long)jint(p, "ahead"));
            if (lc && strcmp(jstr(p, "state", ""), "connected") != 0)
                snprintf(note, sizeof(note), "last: %s%s: %s", jstr(lc, "kind", ""),
                         json_is_true(json_object_get(lc, "by_peer")) ? " by peer" : "",
                         jstr(lc, "reason", ""));
            {
                int conn = strcmp(jstr(p, "state", ""), "connected") == 0;
                const char *row[] = {jstr(p, "addr", "-"),
                                     shortn,
                                     jstr(p, "name", "")[0] ? jstr(p, "name", "") : "-",
                                     jstr(p, "state", "-"),
                                     since,
                                     last,
                                     ein,
                                     eout,
                                     buf2,
                                     conn ? rtt : "-",
                                     conn ? beh : "-",
                                     conn ? ahd : "-",
                                     note[0] ? note : "-"};
                cli_table_add(&t, row);
            }
        }
        cli_table_print(&t, out);
        cli_table_release(&t);
        if (json_array_size(json_object_get(st, "refused"))) {
            static const char *const rh[] = {"REFUSED FROM", "WHEN", "CODE", "REASON"};

            fprintf(out, "\n");
            cli_table_init(&t, 4, rh);
            json_array_foreach(json_object_get(st, "refused"), i, p)
            {
                const char *row[] = {jstr(p, "addr", "-"),
                                     cli_age(now, jint(p, "at_ms"), age, sizeof(age)),
                                     jstr(p, "code", "-"), jstr(p, "reason", "-")};
                cli_table_add(&t, row);
            }
            cli_table_print(&t, out);
            cli_table_release(&t);
        }
    }
    {
        static const char *const hdr[] = {
            "ORIGIN", "NAME", "HEAD", "HELD", "LAST", "FLAGS", "PEERS (+ahead/-behind)"};

        fprintf(out, "\n");
        cli_table_init(&t, 7, hdr);
        json_array_foreach(origins, i, p)
        {
            char head[24], held[24], flags[48], lags[512] = "";
            char shortn[NODE_SHORT_ID + 1];
            json_t *pl = json_object_get(p, "peers");
            const char *k;
            json_t *v;
            size_t off = 0;

            snprintf(shortn, sizeof(shortn), "%s", jstr(p, "origin", "?"));
            snprintf(head, sizeof(head), "%llu", (unsigned long long)jint(p, "head"));
            snprintf(held, sizeof(held), "%llu", (unsigned long long)jint(p, "held"));
            snprintf(flags, sizeof(flags), "%s%s%s",
                     json_is_true(json_object_get(p, "self")) ? "self " : "",
                     json_is_true(json_object_get(p, "frozen")) ? "frozen " : "",
                     json_is_true(json_object_get(p, "revoked")) ? "revoked" : "");
            json_object_foreach(pl, k, v)
            {
                json_int_t d = json_integer_value(v);
                int n = snprintf(lags + off, sizeof(lags) - off, "%s%s:%s%lld", off ? " " : "", k,
                                 d > 0    ? "+"
                                 : d == 0 ? "="
                                          : "",
                                 d == 0 ? 0LL : (long long)d);

                if (d == 0)
                    n = snprintf(lags + off, sizeof(lags) - off, "%s%s:=", off ? " " : "", k);
                if (n > 0 && (size_t)n < sizeof(lags) - off)
                    off += (size_t)n;
            }
            {
                const char *row[] = {shortn,
                                     jstr(p, "name", "")[0] ? jstr(p, "name", "") : "-",
                                     head,
                                     held,
                                     cli_age(now, jint(p, "last_received_ms"), age, sizeof(age)),
                                     flags[0] ? flags : "-",
                                     lags[0] ? lags : "-"};
                cli_table_add(&t, row);
            }
        }
        cli_table_print(&t, out);
        cli_table_release(&t);
    }
}
