/*
 * report.c - the district hub's reports, computed from synced records:
 * coverage, cases, visits, rosters, elections, freshness. Each is per community
 * and for the district, each community row with how fresh its data is (the
 * newest envelope from that community's nodes, and the lag behind now).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

/* ---- sections: a titled table that prints as table, JSON or CSV ---- */

#define MAXCOLS 24

/* num[] per column: 0 text, 1 number, 2 number shown only in JSON and CSV (the
 * machine-readable twin of a human cell, e.g. lag_s beside LAG). */

struct sect {
    const char *title, *key;
    size_t ncols;
    const char *cols[MAXCOLS], *jkeys[MAXCOLS];
    int num[MAXCOLS];
    char **cells;
    size_t nrows, cap;
};

static void sect_init(struct sect *s, const char *title, const char *key, size_t n,
                      const char *const *cols, const char *const *jkeys, const int *num)
{
    memset(s, 0, sizeof(*s));
    s->title = title;
    s->key = key;
    s->ncols = n;
    for (size_t i = 0; i < n; i++) {
        s->cols[i] = cols[i];
        s->jkeys[i] = jkeys[i];
        s->num[i] = num[i];
    }
}

static void sect_row(struct sect *s, const char *const *cells)
{
    if ((s->nrows + 1) * s->ncols > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : s->ncols * 16;
        char **nc = realloc(s->cells, cap * sizeof(*nc));

        if (!nc)
            abort();
        s->cells = nc;
        s->cap = cap;
    }
    for (size_t i = 0; i < s->ncols; i++)
        s->cells[s->nrows * s->ncols + i] = strdup(cells[i] ? cells[i] : "");
    s->nrows++;
}

static void sect_release(struct sect *s)
{
    for (size_t i = 0; i < s->nrows * s->ncols; i++)
        free(s->cells[i]);
    free(s->cells);
}

static json_t *sect_json(const struct sect *s)
{
    json_t *arr = json_array();

    for (size_t r = 0; r < s->nrows; r++) {
        json_t *o = json_object();

        for (size_t c = 0; c < s->ncols; c++) {
            const char *v = s->cells[r * s->ncols + c];

            if (s->num[c] && v[0] && strcmp(v, "-") != 0) {
                char *end;
                double d = strtod(v, &end);

                if (*end == '%')
                    json_object_set_new(o, s->jkeys[c], json_real(d));
                else if (strchr(v, '.'))
                    json_object_set_new(o, s->jkeys[c], json_real(d));
                else
                    json_object_set_new(o, s->jkeys[c], json_integer(strtoll(v, NULL, 10)));
            } else {
                json_object_set_new(o, s->jkeys[c], strcmp(v, "-") ? json_string(v) : json_null());
            }
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static void sect_csv(const struct sect *s, FILE *f, int with_section)
{
    if (with_section)
        fputs("section,", f);
    for (size_t c = 0; c < s->ncols; c++) {
        cli_csv_cell(f, s->jkeys[c]);
        fputs(c + 1 < s->ncols ? "," : "\r\n", f);
    }
    for (size_t r = 0; r < s->nrows; r++) {
        if (with_section) {
            cli_csv_cell(f, s->key);
            fputc(',', f);
        }
        for (size_t c = 0; c < s->ncols; c++) {
            cli_csv_cell(f, s->cells[r * s->ncols + c]);
            fputs(c + 1 < s->ncols ? "," : "\r\n", f);
        }
    }
}

static void sect_table(const struct sect *s, FILE *f, int title)
{
    struct cli_table t;

    if (title && isatty(fileno(f)))
        fprintf(f, "%s\n", s->title);
    const char *hdr[MAXCOLS], *row[MAXCOLS];
    size_t nv = 0;

    for (size_t c = 0; c < s->ncols; c++)
        if (s->num[c] != 2)
            hdr[nv++] = s->cols[c];
    cli_table_init(&t, nv, hdr);
    for (size_t r = 0; r < s->nrows; r++) {
        size_t k = 0;

        for (size_t c = 0; c < s->ncols; c++)
            if (s->num[c] != 2)
                row[k++] = s->cells[r * s->ncols + c];
        cli_table_add(&t, row);
    }
    cli_table_print(&t, f);
    cli_table_release(&t);
}

/* ---- gathering ---- */

struct comm {
    char id[NODE_MAX_COMMUNITY + 1];
    char name[NODE_MAX_NAME + 1];
    uint64_t last_ms; /* newest envelope HLC time from this community's nodes */
    /* coverage */
    uint64_t pc, pc_single, pc_joint, oc, oc_single, oc_joint;
    /* cases */
    uint64_t raised, resolved, open, via_platform;
    /* visits */
    uint64_t visits, elderly_visits, errands, knock_visits;
    uint64_t households_reached;
    /* conflicts */
    uint64_t conflicts;
};

struct strset { /* a small open-addressing set of strings */
    char **k;
    size_t cap, n;
};

static uint64_t h64(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int set_has(const struct strset *s, const char *k)
{
    if (!s->cap)
        return 0;
    for (size_t i = h64(k) & (s->cap - 1); s->k[i]; i = (i + 1) & (s->cap - 1))
        if (!strcmp(s->k[i], k))
            return 1;
    return 0;
}

static int set_add(struct strset *s, const char *k)
{
    size_t i;

    if (set_has(s, k))
        return 0;
    if ((s->n + 1) * 2 > s->cap) {
        struct strset ns = {NULL, s->cap ? s->cap * 2 : 64, 0};

        ns.k = calloc(ns.cap, sizeof(*ns.k));
        if (!ns.k)
            abort();
        for (size_t j = 0; j < s->cap; j++)
            if (s->k[j]) {
                for (i = h64(s->k[j]) & (ns.cap - 1); ns.k[i]; i = (i + 1) & (ns.cap - 1))
                    ;
                ns.k[i] = s->k[j];
                ns.n++;
            }
        free(s->k);
        *s = ns;
    }
    for (i = h64(k) & (s->cap - 1); s->k[i]; i = (i + 1) & (s->cap - 1))
        ;
    s->k[i] = strdup(k);
    s->n++;
    return 1;
}

static void set_free(struct strset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->k[i]);
    free(s->k);
    memset(s, 0, sizeof(*s));
}

#define NCAT  10
#define NPLAT 5

struct estate_roll {
    char id[CRDT_MAX_ID + 1], name[160], comm[NODE_MAX_COMMUNITY + 1];
    uint64_t grid, building, unit, steward, member, other;
};

struct election {
    char id[CRDT_MAX_ID + 1], title[256], comm[NODE_MAX_COMMUNITY + 1];
    int64_t eligible;
    uint64_t ballots, conflicts;
    char tally[512];
    struct {
        char choice[64];
        uint64_t n;
    } choices[16];
    size_t nchoices;
    int final;
    char final_by[NODE_MAX_NAME + 32];
    char result_tally[256];
    char committee_node[NODE_ID_HEX + 1];     /* election.committee_node */
    uint8_t committee_setter[CRDT_KEY_BYTES]; /* who wrote committee_node */
    uint8_t final_writer[CRDT_KEY_BYTES];     /* who wrote the winning final=true */
    int have_final_writer;
};

struct ctx {
    struct node_store *st;
    const char *only; /* --community */
    struct comm c[64];
    size_t nc;
    uint64_t cat[NCAT][2], plat[NPLAT][2]; /* [resolved, open] */
    struct strset elderly[64], reached[64];
    struct {
        char comm[NODE_MAX_COMMUNITY + 1];
        char household[CRDT_MAX_ID + 1];
    } * care;
    size_t ncare, capcare;
    struct estate_roll *er;
    size_t ner;
    struct election *el;
    size_t nel;
    struct sect conflicting; /* elections: ballots recorded differently */
    uint64_t now;
};

static const char *const catnames[NCAT] = {"environment", "property",     "safety",   "facilities",
                                           "neighbour",   "elderly_care", "children", "employment",
                                           "errand",      "other"};
static const char *const platnames[NPLAT] = {"discussion_point", "residents_council",
                                             "dialogue_meeting", "office_window", "grid"};

static struct comm *comm_get(struct ctx *x, const char *id)
{
    for (size_t i = 0; i < x->nc; i++)
        if (!strcmp(x->c[i].id, id))
            return &x->c[i];
    if (x->nc == sizeof(x->c) / sizeof(x->c[0]))
        return NULL;
    memset(&x->c[x->nc], 0, sizeof(x->c[0]));
    snprintf(x->c[x->nc].id, sizeof(x->c[0].id), "%s", id);
    return &x->c[x->nc++];
}

static const char *lww_str(const struct crdt_record *r, const char *f, char *buf, size_t cap)
{
    const struct crdt_lww_entry *w = crdt_lww_winner(crdt_record_field(r, f, strlen(f), CRDT_LWW));

    if (!w || (w->v.type != CRDT_STR))
        return NULL;
    snprintf(buf, cap, "%.*s", (int)w->v.len, w->v.s);
    return buf;
}

static int64_t lww_int(const struct crdt_record *r, const char *f)
{
    const struct crdt_lww_entry *w = crdt_lww_winner(crdt_record_field(r, f, strlen(f), CRDT_LWW));

    return w && w->v.type == CRDT_INT ? w->v.i : 0;
}

static int64_t counter(const struct crdt_record *r, const char *f)
{
    const struct crdt_field *fl = crdt_record_field(r, f, strlen(f), CRDT_COUNTER);

    return fl ? fl->u.counter : 0;
}

static int idx_of(const char *const *names, int n, const char *v)
{
    for (int i = 0; v && i < n; i++)
        if (!strcmp(names[i], v))
            return i;
    return -1;
}

static struct estate_roll *roll_get(struct ctx *x, const char *id, const char *comm)
{
    for (size_t i = 0; i < x->ner; i++)
        if (!strcmp(x->er[i].id, id))
            return &x->er[i];
    x->er = realloc(x->er, (x->ner + 1) * sizeof(*x->er));
    if (!x->er)
        abort();
    memset(&x->er[x->ner], 0, sizeof(*x->er));
    snprintf(x->er[x->ner].id, sizeof(x->er->id), "%s", id);
    snprintf(x->er[x->ner].comm, sizeof(x->er->comm), "%s", comm);
    return &x->er[x->ner++];
}

static struct election *el_get(struct ctx *x, const char *id, const char *comm)
{
    for (size_t i = 0; i < x->nel; i++)
        if (!strcmp(x->el[i].id, id))
            return &x->el[i];
    x->el = realloc(x->el, (x->nel + 1) * sizeof(*x->el));
    if (!x->el)
        abort();
    memset(&x->el[x->nel], 0, sizeof(*x->el));
    snprintf(x->el[x->nel].id, sizeof(x->el->id), "%s", id);
    if (comm)
        snprintf(x->el[x->nel].comm, sizeof(x->el->comm), "%s", comm);
    return &x->el[x->nel++];
}

static int gather(const struct node_record *nr, void *vctx)
{
    struct ctx *x = vctx;
    const struct crdt_record *r = &nr->rec;
    const char *colon = strchr(nr->scope, ':');
    const char *cid = colon ? colon + 1 : NULL;
    struct comm *c;
    char b1[256], b2[256];
    size_t ci;

    if (!cid || (x->only && strcmp(x->only, cid)))
        return 0;
    if (!(c = comm_get(x, cid)))
        return 0;
    ci = (size_t)(c - x->c);
    for (uint32_t i = 0; i < r->n; i++)
        if (crdt_lww_conflict(&r->f[i]))
            c->conflicts++;
    if (!strcmp(nr->type, "community")) {
        if (lww_str(r, "name", b1, sizeof(b1)))
            snprintf(c->name, sizeof(c->name), "%.120s", b1);
    } else if (!strcmp(nr->type, "org")) {
        const char *kind = lww_str(r, "kind", b1, sizeof(b1));
        const char *party = lww_str(r, "party_org", b2, sizeof(b2));
        int single = party && !strcmp(party, "single_built");
        int joint = party && !strcmp(party, "joint_built");

        if (kind && !strcmp(kind, "property_company")) {
            c->pc++;
            c->pc_single += (uint64_t)single;
            c->pc_joint += (uint64_t)joint;
        } else if (kind && !strcmp(kind, "owners_committee")) {
            c->oc++;
            c->oc_single += (uint64_t)single;
            c->oc_joint += (uint64_t)joint;
        }
    } else if (!strcmp(nr->type, "case")) {
        const struct crdt_field *st = crdt_record_field(r, "status", 6, CRDT_STATUS);
        int resolved = st && (st->u.status & 0xff) >= 3;
        int cat = idx_of(catnames, NCAT, lww_str(r, "category", b1, sizeof(b1)));
        int plat = idx_of(platnames, NPLAT, lww_str(r, "platform", b2, sizeof(b2)));

        c->raised++;
        if (resolved)
            c->resolved++;
        else
            c->open++;
        if (resolved && plat >= 0 && plat <= 2)
            c->via_platform++;
        if (cat >= 0)
            x->cat[cat][resolved ? 0 : 1]++;
        if (plat >= 0)
            x->plat[plat][resolved ? 0 : 1]++;
    } else if (!strcmp(nr->type, "household")) {
        const struct crdt_field *fl = crdt_record_field(r, "flags", 5, CRDT_SET);

        if (fl && crdt_set_has(fl, "elderly_alone", 13))
            set_add(&x->elderly[ci], nr->id);
    } else if (!strcmp(nr->type, "visit")) {
        const char *hh = lww_str(r, "household", b1, sizeof(b1));
        const char *kind = lww_str(r, "kind", b2, sizeof(b2));

        c->visits++;
        c->errands += (uint64_t)counter(r, "errands");
        if (kind && !strcmp(kind, "door_knock"))
            c->knock_visits++;
        if (hh) {
            if (set_add(&x->reached[ci], hh))
                c->households_reached++;
            if (x->ncare == x->capcare) {
                x->capcare = x->capcare ? x->capcare * 2 : 1024;
                x->care = realloc(x->care, x->capcare * sizeof(*x->care));
                if (!x->care)
                    abort();
            }
            snprintf(x->care[x->ncare].comm, sizeof(x->care->comm), "%s", cid);
            snprintf(x->care[x->ncare].household, sizeof(x->care->household), "%s", hh);
            x->ncare++;
        }
    } else if (!strcmp(nr->type, "estate")) {
        struct estate_roll *e = roll_get(x, nr->id, cid);

        if (lww_str(r, "name", b1, sizeof(b1)))
            snprintf(e->name, sizeof(e->name), "%.150s", b1);
    } else if (!strcmp(nr->type, "role")) {
        const char *role = lww_str(r, "role", b1, sizeof(b1));
        const char *est = lww_str(r, "estate", b2, sizeof(b2));
        struct estate_roll *e = roll_get(x, est ? est : cid, cid);

        if (!role)
            return 0;
        if (!strcmp(role, "grid_leader"))
            e->grid++;
        else if (!strcmp(role, "building_leader"))
            e->building++;
        else if (!strcmp(role, "unit_leader"))
            e->unit++;
        else if (!strcmp(role, "red_steward"))
            e->steward++;
        else if (!strcmp(role, "registered_member"))
            e->member++;
        else
            e->other++;
    } else if (!strcmp(nr->type, "election")) {
        struct election *e = el_get(x, nr->id, cid);

        if (lww_str(r, "title", b1, sizeof(b1)))
            snprintf(e->title, sizeof(e->title), "%s", b1);
        {
            /* only a hub names the committee's node */
            const struct crdt_lww_entry *cw =
                crdt_lww_winner(crdt_record_field(r, "committee_node", 14, CRDT_LWW));

            if (cw && cw->v.type == CRDT_STR && cw->v.len == NODE_ID_HEX) {
                memcpy(e->committee_node, cw->v.s, NODE_ID_HEX);
                e->committee_node[NODE_ID_HEX] = '\0';
                memcpy(e->committee_setter, cw->dot.origin, CRDT_KEY_BYTES);
            }
        }
        e->eligible = lww_int(r, "eligible");
    } else if (!strcmp(nr->type, "ballot")) {
        const struct crdt_field *ch = crdt_record_field(r, "choice", 6, CRDT_LWW);
        const struct crdt_lww_entry *w = crdt_lww_winner(ch);
        const char *colon2 = strchr(nr->id, ':');
        char eid[CRDT_MAX_ID + 1];
        struct election *e;

        if (!colon2 || !w)
            return 0;
        snprintf(eid, sizeof(eid), "%.*s", (int)(colon2 - nr->id), nr->id);
        e = el_get(x, eid, NULL);
        e->ballots++;
        if (crdt_lww_conflict(ch)) {
            /* recorded differently by two offices: listed, never counted */
            char vals[256];
            size_t off = 0;
            const char *row[3];

            e->conflicts++;
            vals[0] = '\0';
            for (uint32_t k = 0; k < ch->u.lww.n && off < sizeof(vals) - 2; k++) {
                int n = snprintf(vals + off, sizeof(vals) - off, "%s%.*s", k ? " | " : "",
                                 (int)ch->u.lww.e[k].v.len, ch->u.lww.e[k].v.s);

                off += n > 0 ? (size_t)n : 0;
            }
            row[0] = eid;
            row[1] = colon2 + 1;
            row[2] = vals;
            sect_row(&x->conflicting, row);
            return 0;
        }
        if (w->v.type == CRDT_STR) {
            size_t k;

            for (k = 0; k < e->nchoices; k++)
                if (strlen(e->choices[k].choice) == w->v.len &&
                    !memcmp(e->choices[k].choice, w->v.s, w->v.len))
                    break;
            if (k == e->nchoices && k < 16) {
                snprintf(e->choices[k].choice, sizeof(e->choices[k].choice), "%.*s", (int)w->v.len,
                         w->v.s);
                e->nchoices++;
            }
            if (k < 16)
                e->choices[k].n++;
        }
    } else if (!strcmp(nr->type, "result")) {
        /* final only when the winning `final` value was written by a hub */
        const struct crdt_lww_entry *w =
            crdt_lww_winner(crdt_record_field(r, "final", 5, CRDT_LWW));
        struct election *e = el_get(x, nr->id, cid);

        if (lww_str(r, "tally", b1, sizeof(b1)))
            snprintf(e->result_tally, sizeof(e->result_tally), "%s", b1);
        if (w && w->v.type == CRDT_BOOL && w->v.i) {
            /* decided once every election record is read (finish_elections) */
            memcpy(e->final_writer, w->dot.origin, CRDT_KEY_BYTES);
            e->have_final_writer = 1;
        }
    }
    return 0;
}

/* A result is final when its winning final=true was written by a hub, or by
 * the node that a hub named in the election record as its committee's
 * (committee_node); each with a certificate that is not revoked. */
static int is_hub(struct node_store *s, const uint8_t id[CRDT_KEY_BYTES])
{
    struct node_cert_info ci;

    return node_cert_lookup(s, id, &ci) == TX_OK && ci.cert.role == NODE_ROLE_HUB &&
           ci.state != NODE_CERT_REVOKED;
}

static void finish_elections(struct ctx *x)
{
    for (size_t i = 0; i < x->nel; i++) {
        struct election *e = &x->el[i];
        struct node_cert_info ci;
        char hex[NODE_ID_HEX + 1];

        if (!e->have_final_writer || node_cert_lookup(x->st, e->final_writer, &ci) != TX_OK ||
            ci.state == NODE_CERT_REVOKED)
            continue;
        node_hex(e->final_writer, CRDT_KEY_BYTES, hex);
        if (ci.cert.role == NODE_ROLE_HUB) {
            e->final = 1;
            snprintf(e->final_by, sizeof(e->final_by), "%s",
                     ci.cert.name[0] ? ci.cert.name : "hub");
        } else if (e->committee_node[0] && !strcmp(e->committee_node, hex) &&
                   is_hub(x->st, e->committee_setter)) {
            e->final = 1;
            snprintf(e->final_by, sizeof(e->final_by), "%.*s, the committee's node", NODE_MAX_NAME,
                     ci.cert.name[0] ? ci.cert.name : "node");
        }
    }
}

struct fresh_node {
    uint8_t id[CRDT_KEY_BYTES];
    char name[NODE_MAX_NAME + 1], comm[NODE_MAX_COMMUNITY + 1];
    int role;
    uint64_t head, head_ms, received_ms, held;
    int have_origin;
    /* from the running daemon (NULL live: none) */
    uint64_t peer_ahead; /* most any connected peer holds beyond our head */
    uint64_t contact_ms; /* last byte from it, when it is a direct peer */
};

struct fresh {
    struct fresh_node n[256];
    size_t nn;
};

static int fresh_cert(const struct node_cert_info *ci, void *vctx)
{
    struct fresh *f = vctx;

    if (f->nn < 256) {
        memset(&f->n[f->nn], 0, sizeof(f->n[0]));
        memcpy(f->n[f->nn].id, ci->cert.node, CRDT_KEY_BYTES);
        snprintf(f->n[f->nn].name, sizeof(f->n[0].name), "%s", ci->cert.name);
        snprintf(f->n[f->nn].comm, sizeof(f->n[0].comm), "%s", ci->cert.community);
        f->n[f->nn].role = ci->cert.role;
        f->nn++;
    }
    return 0;
}

static int fresh_origin(const struct node_origin_info *o, void *vctx)
{
    struct fresh *f = vctx;

    for (size_t i = 0; i < f->nn; i++)
        if (!memcmp(f->n[i].id, o->origin, CRDT_KEY_BYTES)) {
            f->n[i].head = o->head;
            f->n[i].head_ms = CRDT_HLC_MS(o->head_hlc);
            f->n[i].received_ms = o->received_ms;
            f->n[i].held = o->held;
            f->n[i].have_origin = 1;
        }
    return 0;
}

static const char *pct(uint64_t a, uint64_t b, char *buf, size_t cap)
{
    if (!b)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1f%%", 100.0 * (double)a / (double)b);
    return buf;
}

static const char *u64s(uint64_t v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%llu", (unsigned long long)v);
    return buf;
}

/* "last" and "lag" cells of a community row (b[10], b[11]), and their
 * machine-readable twins last_data_ms and lag_s (b[12], b[13]): "-" when the
 * community has sent nothing. */
static void freshness_cells(const struct ctx *x, const struct comm *c, char b[][64])
{
    if (!c || !c->last_ms) {
        snprintf(b[10], 64, "-");
        snprintf(b[11], 64, "-");
        snprintf(b[12], 64, "-");
        snprintf(b[13], 64, "-");
        return;
    }
    cli_time(c->last_ms, b[10], 64);
    cli_age(x->now, c->last_ms, b[11], 64);
    snprintf(b[12], 64, "%llu", (unsigned long long)c->last_ms);
    snprintf(b[13], 64, "%llu",
             (unsigned long long)(x->now > c->last_ms ? (x->now - c->last_ms) / 1000 : 0));
}

static const struct comm *comm_find(const struct ctx *x, const char *id)
{
    for (size_t i = 0; i < x->nc; i++)
        if (!strcmp(x->c[i].id, id))
            return &x->c[i];
    return NULL;
}

/* What the running daemon knows: for each origin, how far the connected peers
 * are ahead of us; for each direct peer, its last contact. */
static void fresh_live(struct fresh *f, json_t *live)
{
    json_t *origins = live ? json_object_get(live, "origins") : NULL;
    json_t *peers = live ? json_object_get(live, "peers") : NULL;
    size_t i;
    json_t *o;

    for (size_t k = 0; k < f->nn; k++) {
        char hex[NODE_ID_HEX + 1];

        node_hex(f->n[k].id, CRDT_KEY_BYTES, hex);
        json_array_foreach(origins, i, o)
        {
            const char *oh = json_string_value(json_object_get(o, "origin"));
            const char *pk;
            json_t *v;

            if (!oh || strcmp(oh, hex))
                continue;
            json_object_foreach(json_object_get(o, "peers"), pk, v)
            {
                json_int_t d = json_integer_value(v);

                if (d > 0 && (uint64_t)d > f->n[k].peer_ahead)
                    f->n[k].peer_ahead = (uint64_t)d;
            }
        }
        json_array_foreach(peers, i, o)
        {
            const char *ph = json_string_value(json_object_get(o, "node"));
            json_int_t lc = json_integer_value(json_object_get(o, "last_contact_ms"));

            if (ph && !strcmp(ph, hex) && lc > 0 && (uint64_t)lc > f->n[k].contact_ms)
                f->n[k].contact_ms = (uint64_t)lc;
        }
    }
}

int cli_report(struct node_store *s, const char *name, const char *community, json_t *live, int fmt,
               FILE *out)
{
    struct ctx *x = calloc(1, sizeof(*x));
    struct sect sections[4];
    size_t nsect = 0;
    struct fresh *fr = calloc(1, sizeof(*fr));
    char b[16][64];
    int err;

    if (!x || !fr)
        abort();
    x->now = cli_now_ms();
    x->st = s;
    x->only = community;
    {
        static const char *const cols[] = {"ELECTION", "HOUSEHOLD", "RECORDED CHOICES"};
        static const char *const jk[] = {"election", "household", "choices"};
        static const int nm[] = {0, 0, 0};

        sect_init(&x->conflicting, "Ballots recorded differently (not counted)",
                  "conflicting_ballots", 3, cols, jk, nm);
    }
    err = node_records_each(s, NULL, gather, x);
    if (err)
        goto out;
    /* freshness: the newest envelope of each community's nodes */
    node_certs_each(s, fresh_cert, fr);
    node_origins_each(s, fresh_origin, fr);
    fresh_live(fr, live);
    finish_elections(x);
    for (size_t i = 0; i < fr->nn; i++) {
        struct comm *c;

        if (fr->n[i].role == NODE_ROLE_HUB || (community && strcmp(community, fr->n[i].comm)))
            continue;
        c = comm_get(x, fr->n[i].comm);
        if (c && fr->n[i].head_ms > c->last_ms)
            c->last_ms = fr->n[i].head_ms;
    }
    /* elderly visits: visits to households flagged elderly_alone */
    for (size_t i = 0; i < x->ncare; i++)
        for (size_t k = 0; k < x->nc; k++)
            if (!strcmp(x->c[k].id, x->care[i].comm) &&
                set_has(&x->elderly[k], x->care[i].household))
                x->c[k].elderly_visits++;
    /* sort communities by id for stable output */
    for (size_t i = 1; i < x->nc; i++)
        for (size_t k = i; k > 0 && strcmp(x->c[k - 1].id, x->c[k].id) > 0; k--) {
            struct comm t = x->c[k - 1];
            struct strset e = x->elderly[k - 1], rr = x->reached[k - 1];

            x->c[k - 1] = x->c[k];
            x->c[k] = t;
            x->elderly[k - 1] = x->elderly[k];
            x->elderly[k] = e;
            x->reached[k - 1] = x->reached[k];
            x->reached[k] = rr;
        }

    if (!strcmp(name, "coverage")) {
        static const char *const cols[] = {"COMMUNITY",  "NAME",   "COMPANIES", "WITH PARTY",
                                           "SINGLE",     "JOINT",  "COVERAGE",  "COMMITTEES",
                                           "WITH PARTY", "SINGLE", "JOINT",     "COVERAGE",
                                           "LAST DATA",  "LAG",    "",          ""};
        static const char *const jk[] = {"community",
                                         "name",
                                         "property_companies",
                                         "companies_with_party",
                                         "companies_single",
                                         "companies_joint",
                                         "companies_coverage",
                                         "owners_committees",
                                         "committees_with_party",
                                         "committees_single",
                                         "committees_joint",
                                         "committees_coverage",
                                         "last_data",
                                         "lag",
                                         "last_data_ms",
                                         "lag_s"};
        static const int nm[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 2, 2};
        struct comm tot;

        memset(&tot, 0, sizeof(tot));
        sect_init(&sections[nsect], "Party-organisation coverage (党组织覆盖)", "coverage", 16,
                  cols, jk, nm);
        for (size_t i = 0; i < x->nc; i++) {
            const struct comm *c = &x->c[i];
            const char *row[16];

            freshness_cells(x, c, b);
            row[0] = c->id;
            row[1] = c->name[0] ? c->name : "-";
            row[2] = u64s(c->pc, b[0], 64);
            row[3] = u64s(c->pc_single + c->pc_joint, b[1], 64);
            row[4] = u64s(c->pc_single, b[2], 64);
            row[5] = u64s(c->pc_joint, b[3], 64);
            row[6] = pct(c->pc_single + c->pc_joint, c->pc, b[4], 64);
            row[7] = u64s(c->oc, b[5], 64);
            row[8] = u64s(c->oc_single + c->oc_joint, b[6], 64);
            row[9] = u64s(c->oc_single, b[7], 64);
            row[10] = u64s(c->oc_joint, b[8], 64);
            row[11] = pct(c->oc_single + c->oc_joint, c->oc, b[9], 64);
            row[12] = b[10];
            row[13] = b[11];
            row[14] = b[12];
            row[15] = b[13];
            sect_row(&sections[nsect], row);
            tot.pc += c->pc;
            tot.pc_single += c->pc_single;
            tot.pc_joint += c->pc_joint;
            tot.oc += c->oc;
            tot.oc_single += c->oc_single;
            tot.oc_joint += c->oc_joint;
        }
        if (!community) {
            const char *row[16] = {"district", "全区"};

            row[2] = u64s(tot.pc, b[0], 64);
            row[3] = u64s(tot.pc_single + tot.pc_joint, b[1], 64);
            row[4] = u64s(tot.pc_single, b[2], 64);
            row[5] = u64s(tot.pc_joint, b[3], 64);
            row[6] = pct(tot.pc_single + tot.pc_joint, tot.pc, b[4], 64);
            row[7] = u64s(tot.oc, b[5], 64);
            row[8] = u64s(tot.oc_single + tot.oc_joint, b[6], 64);
            row[9] = u64s(tot.oc_single, b[7], 64);
            row[10] = u64s(tot.oc_joint, b[8], 64);
            row[11] = pct(tot.oc_single + tot.oc_joint, tot.oc, b[9], 64);
            row[12] = "-";
            row[13] = "-";
            row[14] = "-";
            row[15] = "-";
            sect_row(&sections[nsect], row);
        }
        nsect++;
    } else if (!strcmp(name, "cases")) {
        static const char *const cols[] = {
            "COMMUNITY",     "NAME",      "RAISED", "RESOLVED", "OPEN",
            "VIA PLATFORMS", "LAST DATA", "LAG",    "",         ""};
        static const char *const jk[] = {
            "community", "name", "raised",       "resolved", "open", "resolved_via_platforms",
            "last_data", "lag",  "last_data_ms", "lag_s"};
        static const int nm[] = {0, 0, 1, 1, 1, 1, 0, 0, 2, 2};
        static const char *const c2[] = {"CATEGORY", "RESOLVED", "OPEN"};
        static const char *const j2[] = {"category", "resolved", "open"};
        static const char *const c3[] = {"PLATFORM", "RESOLVED", "OPEN"};
        static const char *const j3[] = {"platform", "resolved", "open"};
        static const int n2[] = {0, 1, 1};
        struct comm tot;

        memset(&tot, 0, sizeof(tot));
        sect_init(&sections[nsect], "Residents' problems (问题诉求)", "cases", 10, cols, jk, nm);
        for (size_t i = 0; i < x->nc; i++) {
            const struct comm *c = &x->c[i];
            const char *row[10];

            freshness_cells(x, c, b);
            row[0] = c->id;
            row[1] = c->name[0] ? c->name : "-";
            row[2] = u64s(c->raised, b[0], 64);
            row[3] = u64s(c->resolved, b[1], 64);
            row[4] = u64s(c->open, b[2], 64);
            row[5] = u64s(c->via_platform, b[3], 64);
            row[6] = b[10];
            row[7] = b[11];
            row[8] = b[12];
            row[9] = b[13];
            sect_row(&sections[nsect], row);
            tot.raised += c->raised;
            tot.resolved += c->resolved;
            tot.open += c->open;
            tot.via_platform += c->via_platform;
        }
        if (!community) {
            const char *row[10] = {"district", "全区"};

            row[2] = u64s(tot.raised, b[0], 64);
            row[3] = u64s(tot.resolved, b[1], 64);
            row[4] = u64s(tot.open, b[2], 64);
            row[5] = u64s(tot.via_platform, b[3], 64);
            row[6] = row[7] = row[8] = row[9] = "-";
            sect_row(&sections[nsect], row);
        }
        nsect++;
        sect_init(&sections[nsect], "By category", "by_category", 3, c2, j2, n2);
        for (int i = 0; i < NCAT; i++) {
            const char *row[] = {catnames[i], u64s(x->cat[i][0], b[0], 64),
                                 u64s(x->cat[i][1], b[1], 64)};
            sect_row(&sections[nsect], row);
        }
        nsect++;
        sect_init(&sections[nsect], "By platform", "by_platform", 3, c3, j3, n2);
        for (int i = 0; i < NPLAT; i++) {
            const char *row[] = {platnames[i], u64s(x->plat[i][0], b[0], 64),
                                 u64s(x->plat[i][1], b[1], 64)};
            sect_row(&sections[nsect], row);
        }
        nsect++;
    } else if (!strcmp(name, "visits")) {
        static const char *const cols[] = {"COMMUNITY",
                                           "NAME",
                                           "VISITS",
                                           "DOOR-KNOCKING",
                                           "HOUSEHOLDS REACHED",
                                           "ELDERLY ALONE VISITS",
                                           "ERRANDS",
                                           "LAST DATA",
                                           "LAG",
                                           "",
                                           ""};
        static const char *const jk[] = {"community",
                                         "name",
                                         "visits",
                                         "door_knocking",
                                         "households_reached",
                                         "elderly_alone_visits",
                                         "errands",
                                         "last_data",
                                         "lag",
                                         "last_data_ms",
                                         "lag_s"};
        static const int nm[] = {0, 0, 1, 1, 1, 1, 1, 0, 0, 2, 2};
        struct comm tot;

        memset(&tot, 0, sizeof(tot));
        sect_init(&sections[nsect], "Visits (走访, 敲门行动)", "visits", 11, cols, jk, nm);
        for (size_t i = 0; i < x->nc; i++) {
            const struct comm *c = &x->c[i];
            const char *row[11];

            freshness_cells(x, c, b);
            row[0] = c->id;
            row[1] = c->name[0] ? c->name : "-";
            row[2] = u64s(c->visits, b[0], 64);
            row[3] = u64s(c->knock_visits, b[1], 64);
            row[4] = u64s(c->households_reached, b[2], 64);
            row[5] = u64s(c->elderly_visits, b[3], 64);
            row[6] = u64s(c->errands, b[4], 64);
            row[7] = b[10];
            row[8] = b[11];
            row[9] = b[12];
            row[10] = b[13];
            sect_row(&sections[nsect], row);
            tot.visits += c->visits;
            tot.knock_visits += c->knock_visits;
            tot.households_reached += c->households_reached;
            tot.elderly_visits += c->elderly_visits;
            tot.errands += c->errands;
        }
        if (!community) {
            const char *row[11] = {"district", "全区"};

            row[9] = row[10] = "-";
            row[2] = u64s(tot.visits, b[0], 64);
            row[3] = u64s(tot.knock_visits, b[1], 64);
            row[4] = u64s(tot.households_reached, b[2], 64);
            row[5] = u64s(tot.elderly_visits, b[3], 64);
            row[6] = u64s(tot.errands, b[4], 64);
            row[7] = "-";
            row[8] = "-";
            sect_row(&sections[nsect], row);
        }
        nsect++;
    } else if (!strcmp(name, "rosters")) {
        static const char *const cols[] = {"ESTATE",
                                           "NAME",
                                           "COMMUNITY",
                                           "GRID LEADERS",
                                           "BUILDING LEADERS",
                                           "UNIT LEADERS",
                                           "THREE LEADERS",
                                           "RED STEWARDS",
                                           "REGISTERED MEMBERS",
                                           "LAST DATA",
                                           "LAG",
                                           "",
                                           ""};
        static const char *const jk[] = {"estate",
                                         "name",
                                         "community",
                                         "grid_leaders",
                                         "building_leaders",
                                         "unit_leaders",
                                         "three_leaders",
                                         "red_stewards",
                                         "registered_members",
                                         "last_data",
                                         "lag",
                                         "last_data_ms",
                                         "lag_s"};
        static const int nm[] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 2, 2};
        struct estate_roll tot;

        memset(&tot, 0, sizeof(tot));
        sect_init(&sections[nsect], "Rosters (三长, 红管家, 在职党员报到)", "rosters", 13, cols, jk,
                  nm);
        /* by estate id, stable */
        for (size_t i = 1; i < x->ner; i++)
            for (size_t k = i; k > 0 && strcmp(x->er[k - 1].id, x->er[k].id) > 0; k--) {
                struct estate_roll t = x->er[k - 1];

                x->er[k - 1] = x->er[k];
                x->er[k] = t;
            }
        for (size_t i = 0; i < x->ner; i++) {
            const struct estate_roll *e = &x->er[i];
            const char *row[13];

            if (!(e->grid + e->building + e->unit + e->steward + e->member + e->other))
                continue;
            freshness_cells(x, comm_find(x, e->comm), b);
            row[9] = b[10];
            row[10] = b[11];
            row[11] = b[12];
            row[12] = b[13];
            row[0] = e->id;
            row[1] = e->name[0] ? e->name : "-";
            row[2] = e->comm;
            row[3] = u64s(e->grid, b[0], 64);
            row[4] = u64s(e->building, b[1], 64);
            row[5] = u64s(e->unit, b[2], 64);
            row[6] = u64s(e->grid + e->building + e->unit, b[3], 64);
            row[7] = u64s(e->steward, b[4], 64);
            row[8] = u64s(e->member, b[5], 64);
            sect_row(&sections[nsect], row);
            tot.grid += e->grid;
            tot.building += e->building;
            tot.unit += e->unit;
            tot.steward += e->steward;
            tot.member += e->member;
        }
        if (!community) {
            const char *row[13] = {"district", "全区", "-"};

            row[9] = row[10] = row[11] = row[12] = "-";

            row[3] = u64s(tot.grid, b[0], 64);
            row[4] = u64s(tot.building, b[1], 64);
            row[5] = u64s(tot.unit, b[2], 64);
            row[6] = u64s(tot.grid + tot.building + tot.unit, b[3], 64);
            row[7] = u64s(tot.steward, b[4], 64);
            row[8] = u64s(tot.member, b[5], 64);
            sect_row(&sections[nsect], row);
        }
        nsect++;
    } else if (!strcmp(name, "elections")) {
        static const char *const cols[] = {
            "ELECTION", "TITLE", "COMMUNITY", "ELIGIBLE",  "BALLOTS", "COUNTED", "CONFLICTING",
            "TURNOUT",  "TALLY", "FINAL",     "LAST DATA", "LAG",     "",        ""};
        static const char *const jk[] = {
            "election", "title", "community", "eligible",  "ballots", "counted",      "conflicting",
            "turnout",  "tally", "final",     "last_data", "lag",     "last_data_ms", "lag_s"};
        static const int nm[] = {0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2};

        sect_init(&sections[nsect], "Owners' committee elections (业委会选举)", "elections", 14,
                  cols, jk, nm);
        for (size_t i = 0; i < x->nel; i++) {
            struct election *e = &x->el[i];
            char tally[512] = "", fin[200];
            size_t off = 0;
            const char *row[14];

            if (!e->comm[0] && !e->ballots)
                continue;
            freshness_cells(x, e->comm[0] ? comm_find(x, e->comm) : NULL, b);
            row[5] = u64s(e->ballots - e->conflicts, b[4], 64);
            row[10] = b[10];
            row[11] = b[11];
            row[12] = b[12];
            row[13] = b[13];
            /* choices sorted by name for a stable tally */
            for (size_t a = 1; a < e->nchoices; a++)
                for (size_t k = a;
                     k > 0 && strcmp(e->choices[k - 1].choice, e->choices[k].choice) > 0; k--) {
                    char tc[64];
                    uint64_t tn = e->choices[k - 1].n;

                    memcpy(tc, e->choices[k - 1].choice, sizeof(tc));
                    e->choices[k - 1] = e->choices[k];
                    memcpy(e->choices[k].choice, tc, sizeof(tc));
                    e->choices[k].n = tn;
                }
            for (size_t k = 0; k < e->nchoices && off < sizeof(tally) - 2; k++) {
                int n = snprintf(tally + off, sizeof(tally) - off, "%s%s:%llu", k ? "," : "",
                                 e->choices[k].choice, (unsigned long long)e->choices[k].n);

                off += n > 0 ? (size_t)n : 0;
            }
            if (e->final)
                snprintf(fin, sizeof(fin), "yes (signed by %s)", e->final_by);
            else
                snprintf(fin, sizeof(fin), "no");
            row[0] = e->id;
            row[1] = e->title[0] ? e->title : "-";
            row[2] = e->comm[0] ? e->comm : "-";
            row[3] = e->eligible ? u64s((uint64_t)e->eligible, b[0], 64) : "-";
            row[4] = u64s(e->ballots, b[1], 64);
            row[7] = pct(e->ballots, (uint64_t)e->eligible, b[2], 64);
            row[8] = tally[0] ? tally : "-";
            row[6] = u64s(e->conflicts, b[3], 64);
            row[9] = fin;
            sect_row(&sections[nsect], row);
        }
        nsect++;
        sections[nsect++] = x->conflicting;
        memset(&x->conflicting, 0, sizeof(x->conflicting));
    } else if (!strcmp(name, "freshness")) {
        static const char *const cols[] = {"NODE",
                                           "NAME",
                                           "COMMUNITY",
                                           "ROLE",
                                           "HEAD",
                                           "LAST ENVELOPE",
                                           "LAST CONTACT",
                                           "HELD",
                                           "CONFLICTS OPEN",
                                           "BEHIND",
                                           "",
                                           "",
                                           ""};
        static const char *const jk[] = {"node",
                                         "name",
                                         "community",
                                         "role",
                                         "head",
                                         "last_envelope",
                                         "last_contact",
                                         "held",
                                         "conflicts_open",
                                         "behind",
                                         "last_contact_ms",
                                         "direct",
                                         "last_envelope_ms"};
        static const int nm[] = {0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 2, 2, 2};

        sect_init(&sections[nsect], "Freshness per community node", "freshness", 13, cols, jk, nm);
        for (size_t i = 0; i < fr->nn; i++) {
            struct fresh_node *n = &fr->n[i];
            char hex[NODE_ID_HEX + 1];
            const struct comm *c = NULL;
            const char *row[13];
            uint64_t contact = n->contact_ms ? n->contact_ms : n->received_ms;

            if (community && strcmp(community, n->comm))
                continue;
            for (size_t k = 0; k < x->nc; k++)
                if (!strcmp(x->c[k].id, n->comm))
                    c = &x->c[k];
            node_hex(n->id, CRDT_KEY_BYTES, hex);
            hex[NODE_SHORT_ID] = '\0';
            row[0] = hex;
            row[1] = n->name[0] ? n->name : "-";
            row[2] = n->comm;
            row[3] = node_role_name(n->role);
            row[4] = u64s(n->head, b[0], 64);
            row[5] = n->head_ms ? cli_time(n->head_ms, b[1], 64) : "-";
            /* a direct peer's last byte; else the last envelope that reached us */
            if (!contact)
                snprintf(b[2], 64, "never");
            else if (n->contact_ms)
                cli_age(x->now, contact, b[2], 64);
            else {
                char age[48];

                snprintf(b[2], 64, "%s (relayed)", cli_age(x->now, contact, age, sizeof(age)));
            }
            row[6] = b[2];
            row[7] = u64s(n->held, b[3], 64);
            row[8] = u64s(c ? c->conflicts : 0, b[4], 64);
            /* envelopes of that node known to exist and not applied here */
            row[9] = u64s(n->peer_ahead > n->held ? n->peer_ahead : n->held, b[5], 64);
            row[10] = contact ? u64s(contact, b[6], 64) : "-";
            row[11] = n->contact_ms ? "1" : "0";
            row[12] = n->head_ms ? u64s(n->head_ms, b[7], 64) : "-";
            sect_row(&sections[nsect], row);
        }
        nsect++;
    } else {
        err = TX_ENOTFOUND;
        goto out;
    }
    /* print */
    if (fmt == REPORT_JSON) {
        json_t *o = json_object();

        json_object_set_new(o, "report", json_string(name));
        json_object_set_new(o, "generated_ms", json_integer((json_int_t)x->now));
        json_object_set_new(o, "community", community ? json_string(community) : json_null());
        for (size_t i = 0; i < nsect; i++)
            json_object_set_new(o, i == 0 ? "rows" : sections[i].key, sect_json(&sections[i]));
        cli_json_print(o);
    } else if (fmt == REPORT_CSV) {
        for (size_t i = 0; i < nsect; i++) {
            if (i)
                fputs("\r\n", out);
            sect_csv(&sections[i], out, nsect > 1);
        }
    } else {
        for (size_t i = 0; i < nsect; i++) {
            if (i)
                fputc('\n', out);
            sect_table(&sections[i], out, 1);
        }
    }
out:
    for (size_t i = 0; i < nsect; i++)
        sect_release(&sections[i]);
    sect_release(&x->conflicting);
    for (size_t i = 0; i < 64; i++) {
        set_free(&x->elderly[i]);
        set_free(&x->reached[i]);
    }
    free(x->care);
    free(x->er);
    free(x->el);
    free(x);
    free(fr);
    return err;
}
