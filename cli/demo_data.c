/*
 * demo_data.c - the realistic data set: a district of four communities whose
 * sizes follow the Linchuan report (shared/seed): 120 property companies of
 * which 5 have a party organisation, 155 owners' committees of which 16 do;
 * 2,089 problems resolved through consultation platforms; the Sunshine City
 * estate (阳光城小区) with 103 buildings, 231 units and 2,763 households, its
 * 3 + 103 + 231 = 337 three leaders, door-knocking at every household, 800+
 * posters and 670+ ads removed and its second owners' committee election; 400+
 * visits to elderly residents living alone with 239 errands; 230+ problems
 * solved by child-companion mothers; 10 red-steward teams of 162 people.
 *
 * Everything is deterministic from the seed: the same seed gives the same
 * records (and the totals above, whatever the seed). tests/scripts check the
 * reports against DEMO_* totals below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

struct estate_cfg {
    const char *code, *name;
    int buildings, households;
    int detailed; /* buildings, units, households, leaders, door-knocking */
};

struct comm_cfg {
    const char *id, *name;
    int companies, comp_single, comp_joint;
    int committees, comm_single, comm_joint;
    int resolved, open, meetings, inspections, registered;
    struct estate_cfg estates[2];
    int nestates;
    int elderly_households, elderly_visits, errands; /* 敲门行动 for the elderly */
    int child_pairs, child_problems;                 /* 童伴妈妈 */
    int red_teams, red_people;                       /* 红管家 */
    int election;                                    /* 上户选举 in the first estate */
};

static const struct comm_cfg communities[] = {
    {"xidajie",
     "西大街社区",
     30,
     1,
     0,
     38,
     2,
     2,
     540,
     60,
     48,
     20,
     96,
     {{"xdj1", "西大街一号院", 12, 480, 0}, {"yfy", "颐福苑", 8, 310, 0}},
     2,
     60,
     DEMO_ELDERLY_VISITS,
     DEMO_ERRANDS,
     40,
     DEMO_CHILD_PROBLEMS,
     0,
     0,
     0},
    {"fulin",
     "抚临社区",
     35,
     1,
     1,
     45,
     2,
     3,
     612,
     71,
     52,
     24,
     120,
     {{"ygc", "阳光城小区", DEMO_YGC_BUILDINGS, DEMO_YGC_HOUSEHOLDS, 1},
      {"flhy", "抚临花园", 24, 860, 0}},
     2,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     1},
    {"bojin", "铂金水岸社区",
     28,      1,
     0,       36,
     1,       2,
     480,     55,
     40,      18,
     80,      {{"bjsa", "铂金水岸", 30, 1200, 0}, {"", "", 0, 0, 0}},
     1,       0,
     0,       0,
     0,       0,
     0,       0,
     0},
    {"gongyuan",
     "公园社区",
     27,
     0,
     1,
     36,
     1,
     3,
     457,
     49,
     36,
     16,
     90,
     {{"gyyp", "公园懿品小区", 22, 920, 0}, {"gy1959", "公元1959小区", 16, 640, 0}},
     2,
     0,
     0,
     0,
     0,
     0,
     DEMO_RED_TEAMS,
     DEMO_RED_PEOPLE,
     0},
};

/* ---- deterministic randomness and names ---- */

struct gen {
    uint64_t rng;
    demo_emit_fn emit;
    void *ctx;
    int err;
    const struct comm_cfg *c;
    /* two batches, general and private: changes with their strings in an
     * arena; `cur` is the one being filled */
    struct batch {
        struct node_change ch[DEMO_BATCH];
        size_t n;
        char arena[DEMO_BATCH * 96];
        size_t used;
        char scope[CRDT_MAX_SCOPE + 1];
    } b[2], *cur;
    uint64_t records, changes;
    int errand_slot; /* which elderly visit this is, to spread the errands */
};

static uint64_t rnd(struct gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int below(struct gen *g, int n)
{
    return n > 0 ? (int)(rnd(g) % (uint64_t)n) : 0;
}

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴",
                                       "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "罗"};
static const char *const given[] = {"敏", "强", "华",   "伟",   "芳",   "娟",   "军",   "磊",
                                    "静", "丽", "洋",   "勇",   "艳",   "杰",   "涛",   "明",
                                    "超", "霞", "建国", "秀英", "桂兰", "志强", "海燕", "晓东"};

static void name(struct gen *g, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", surnames[below(g, 18)], given[below(g, 24)]);
}

/* A date of the past year: 2025-12-01 .. 2026-11-27. */
static void date(struct gen *g, char *out, size_t cap)
{
    static const int mdays[] = {31, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 27};
    int m = below(g, 12), d = 1 + below(g, mdays[m]);

    snprintf(out, cap, "%04d-%02d-%02d", m == 0 ? 2025 : 2026, m == 0 ? 12 : m, d);
}

/* ---- the batch ---- */

static void flush_batch(struct gen *g, struct batch *b)
{
    if (g->err || !b->n)
        return;
    g->err = g->emit(g->ctx, b->scope, b->ch, b->n);
    g->changes += b->n;
    b->n = 0;
    b->used = 0;
}

static void flush(struct gen *g)
{
    flush_batch(g, &g->b[0]);
    flush_batch(g, &g->b[1]);
}

static const char *keep(struct gen *g, const char *s)
{
    struct batch *b = g->cur;
    size_t n = strlen(s) + 1;
    char *p;

    if (b->used + n > sizeof(b->arena))
        return NULL;
    p = b->arena + b->used;
    memcpy(p, s, n);
    b->used += n;
    return p;
}

struct rec {
    struct gen *g;
    const char *type, *id;
    char scope[CRDT_MAX_SCOPE + 1];
};

/* Start a record: a new batch when the scope changes or room runs out. */
static void rec_begin(struct gen *g, struct rec *r, const char *type, const char *id)
{
    char scope[CRDT_MAX_SCOPE + 1];
    const struct node_type_def *t = node_schema_type(type);

    node_schema_scope(type, g->c->id, scope);
    g->cur = &g->b[t && t->private_scope];
    if (g->cur->n + 24 > DEMO_BATCH || g->cur->used + 24 * 96 > sizeof(g->cur->arena))
        flush_batch(g, g->cur);
    snprintf(g->cur->scope, sizeof(g->cur->scope), "%s", scope);
    r->g = g;
    r->type = keep(g, type);
    r->id = keep(g, id);
    g->records++;
}

static struct node_change *add(struct rec *r, const char *field, int code)
{
    struct gen *g = r->g;
    struct node_change *c;

    if (g->cur->n >= DEMO_BATCH || !r->type || !r->id) {
        g->err = TX_ETOOBIG;
        return NULL;
    }
    c = &g->cur->ch[g->cur->n++];
    memset(c, 0, sizeof(*c));
    c->type = r->type;
    c->id = r->id;
    c->field = field;
    c->code = code;
    return c;
}

static void set_str(struct rec *r, const char *field, const char *v)
{
    struct node_change *c = add(r, field, CRDT_OP_LWW_SET);
    const char *k = keep(r->g, v);

    if (!c || !k) {
        r->g->err = TX_ETOOBIG;
        return;
    }
    c->value.type = CRDT_STR;
    c->value.s = k;
    c->value.len = (uint32_t)strlen(k);
}

static void set_int(struct rec *r, const char *field, int64_t v)
{
    struct node_change *c = add(r, field, CRDT_OP_LWW_SET);

    if (c) {
        c->value.type = CRDT_INT;
        c->value.i = v;
    }
}

static void set_bool(struct rec *r, const char *field, int v)
{
    struct node_change *c = add(r, field, CRDT_OP_LWW_SET);

    if (c) {
        c->value.type = CRDT_BOOL;
        c->value.i = v != 0;
    }
}

static void counter(struct rec *r, const char *field, int64_t v)
{
    struct node_change *c;

    if (!v)
        return;
    if ((c = add(r, field, CRDT_OP_CTR_ADD))) {
        c->value.type = CRDT_INT;
        c->value.i = v;
    }
}

static void set_add(struct rec *r, const char *field, const char *v)
{
    struct node_change *c = add(r, field, CRDT_OP_SET_ADD);
    const char *k = keep(r->g, v);

    if (!c || !k) {
        r->g->err = TX_ETOOBIG;
        return;
    }
    c->value.type = CRDT_STR;
    c->value.s = k;
    c->value.len = (uint32_t)strlen(k);
}

static void status(struct rec *r, const char *field, int round, int rank)
{
    struct node_change *c = add(r, field, CRDT_OP_STATUS_SET);

    if (c) {
        c->value.type = CRDT_INT;
        c->value.i = round * 256 + rank;
    }
}

/* ---- the pieces ---- */

static void gen_community(struct gen *g)
{
    struct rec r;
    char buf[64];

    rec_begin(g, &r, "community", g->c->id);
    set_str(&r, "name", g->c->name);
    set_str(&r, "district", "临川区");
    for (int i = 1; i <= 3; i++) {
        snprintf(buf, sizeof(buf), "%s-grid-%d", g->c->id, i);
        set_add(&r, "grids", buf);
    }
    set_str(&r, "contact", "0794-8200000");
}

static void gen_orgs(struct gen *g)
{
    struct rec r;
    char id[64], nm[128];

    for (int i = 0; i < g->c->companies; i++) {
        const char *party = i < g->c->comp_single                      ? "single_built"
                            : i < g->c->comp_single + g->c->comp_joint ? "joint_built"
                                                                       : "none";

        snprintf(id, sizeof(id), "%s-pc-%03d", g->c->id, i + 1);
        snprintf(nm, sizeof(nm), "%s第%d物业服务有限公司", g->c->name, i + 1);
        rec_begin(g, &r, "org", id);
        set_str(&r, "kind", "property_company");
        set_str(&r, "name", nm);
        set_str(&r, "party_org", party);
        if (strcmp(party, "none")) {
            date(g, nm, sizeof(nm));
            set_str(&r, "party_org_date", nm);
        }
        set_int(&r, "members", 8 + below(g, 40));
        if (i < g->c->nestates) {
            snprintf(nm, sizeof(nm), "%s-%s", g->c->id, g->c->estates[i].code);
            set_add(&r, "estates", nm);
        }
    }
    for (int i = 0; i < g->c->committees; i++) {
        const char *party = i < g->c->comm_single                      ? "single_built"
                            : i < g->c->comm_single + g->c->comm_joint ? "joint_built"
                                                                       : "none";

        snprintf(id, sizeof(id), "%s-oc-%03d", g->c->id, i + 1);
        snprintf(nm, sizeof(nm), "%s业主委员会%d", g->c->name, i + 1);
        rec_begin(g, &r, "org", id);
        set_str(&r, "kind", "owners_committee");
        set_str(&r, "name", nm);
        set_str(&r, "party_org", party);
        set_int(&r, "members", 5 + below(g, 5));
    }
}

static void gen_roles(struct gen *g, const char *estate, const char *role, const char *skind,
                      const char *sref, int n, const char *team)
{
    struct rec r;
    char id[96], nm[32];

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s-%s-%s-%d", estate, role, sref ? sref : "x", i + 1);
        rec_begin(g, &r, "role", id);
        name(g, nm, sizeof(nm));
        set_str(&r, "person", nm);
        set_str(&r, "role", role);
        set_str(&r, "scope_kind", skind);
        if (sref)
            set_str(&r, "scope_ref", sref);
        set_str(&r, "estate", estate);
        if (team)
            set_str(&r, "team", team);
    }
}

/* An estate: its record; when detailed, every building, unit, household, the
 * three leaders and a door-knocking visit at every household. */
static void gen_estate(struct gen *g, const struct estate_cfg *e)
{
    struct rec r;
    char eid[64], id[128], ref[128], d[24], nm[32];
    int units_total = 0, hh = 0;

    snprintf(eid, sizeof(eid), "%s-%s", g->c->id, e->code);
    rec_begin(g, &r, "estate", eid);
    set_str(&r, "name", e->name);
    snprintf(ref, sizeof(ref), "%s-grid-1", g->c->id);
    set_str(&r, "grid", ref);
    set_int(&r, "buildings", e->buildings);
    set_int(&r, "households", e->households);
    snprintf(ref, sizeof(ref), "%s-pc-001", g->c->id);
    set_str(&r, "property_company", ref);
    snprintf(ref, sizeof(ref), "%s-oc-001", g->c->id);
    set_str(&r, "owners_committee", ref);
    if (!e->detailed)
        return;
    /* 3 grid leaders (网格长), one building leader per building, one unit
     * leader per unit */
    for (int gidx = 1; gidx <= DEMO_YGC_GRID_LEADERS; gidx++) {
        snprintf(ref, sizeof(ref), "%s-grid-%d", g->c->id, gidx);
        gen_roles(g, eid, "grid_leader", "grid", ref, 1, NULL);
    }
    for (int b = 1; b <= e->buildings; b++) {
        /* 25 buildings of 3 units and 78 of 2: 231 units */
        int units = b <= 25 ? 3 : 2;

        snprintf(id, sizeof(id), "%s-b%03d", eid, b);
        rec_begin(g, &r, "building", id);
        set_str(&r, "estate", eid);
        snprintf(nm, sizeof(nm), "%d栋", b);
        set_str(&r, "number", nm);
        set_int(&r, "units", units);
        gen_roles(g, eid, "building_leader", "building", id, 1, NULL);
        for (int u = 1; u <= units; u++) {
            char uid[160];
            /* 2,763 households over 231 units: 222 units of 12, 9 of 11 */
            int n = units_total < 222 ? 12 : 11;

            units_total++;
            snprintf(uid, sizeof(uid), "%s-u%d", id, u);
            rec_begin(g, &r, "unit", uid);
            set_str(&r, "building", id);
            snprintf(nm, sizeof(nm), "%d单元", u);
            set_str(&r, "number", nm);
            set_int(&r, "households", n);
            gen_roles(g, eid, "unit_leader", "unit", uid, 1, NULL);
            for (int k = 1; k <= n && hh < e->households; k++, hh++) {
                char hid[192], vid[200];

                snprintf(hid, sizeof(hid), "hh-%s-%03d-%d-%02d", e->code, b, u, k);
                rec_begin(g, &r, "household", hid);
                snprintf(ref, sizeof(ref), "%s%d栋%d单元%d%02d室", e->name, b, u, 1 + (k - 1) / 2,
                         1 + (k - 1) % 2);
                set_str(&r, "address", ref);
                set_str(&r, "estate", eid);
                set_str(&r, "unit", uid);
                set_int(&r, "members", 1 + below(g, 5));
                if (below(g, 20) == 0)
                    set_add(&r, "flags", "elderly_alone");
                if (below(g, 25) == 0)
                    set_add(&r, "flags", "party_member");
                /* 敲门行动: every household's opinion asked */
                snprintf(vid, sizeof(vid), "v-knock-%s", hid + 3);
                rec_begin(g, &r, "visit", vid);
                set_str(&r, "household", hid);
                name(g, nm, sizeof(nm));
                set_str(&r, "visitor", nm);
                date(g, d, sizeof(d));
                set_str(&r, "date", d);
                set_str(&r, "kind", "door_knock");
                if (below(g, 4) == 0)
                    set_add(&r, "needs", below(g, 2) ? "road_repair" : "parking");
            }
        }
    }
    /* 家园行动: posters (牛皮癣) and small ads cleared over twelve days */
    for (int day = 0; day < 12; day++) {
        snprintf(id, sizeof(id), "%s-home-%02d", eid, day + 1);
        rec_begin(g, &r, "campaign", id);
        set_str(&r, "kind", "home_environment");
        snprintf(d, sizeof(d), "2026-%02d-15", day < 11 ? day + 1 : 11);
        set_str(&r, "date", d);
        set_str(&r, "estate", eid);
        counter(&r, "posters_removed", DEMO_POSTERS / 12 + (day < DEMO_POSTERS % 12));
        counter(&r, "ads_removed", DEMO_ADS / 12 + (day < DEMO_ADS % 12));
    }
    snprintf(id, sizeof(id), "%s-knock", eid);
    rec_begin(g, &r, "campaign", id);
    set_str(&r, "kind", "door_knock");
    set_str(&r, "date", "2026-06-01");
    set_str(&r, "estate", eid);
    counter(&r, "households_reached", e->households);
}

static void gen_election(struct gen *g, const struct estate_cfg *e)
{
    struct rec r;
    char eid[64], id[256], hid[192], nm[32], d[24];
    static const char *const choices[] = {"list_a", "list_b", "abstain"};
    int counts[3] = {DEMO_BALLOTS_A, DEMO_BALLOTS_B, DEMO_BALLOTS_ABSTAIN}, n = 0;

    snprintf(eid, sizeof(eid), "%s-%s", g->c->id, e->code);
    rec_begin(g, &r, "election", DEMO_ELECTION);
    set_str(&r, "title", "阳光城小区第二届业主委员会选举");
    set_str(&r, "estate", eid);
    snprintf(id, sizeof(id), "%s-oc-001", g->c->id);
    set_str(&r, "committee", id);
    set_str(&r, "date", "2026-09-20");
    set_int(&r, "eligible", e->households);
    set_add(&r, "candidates", "list_a");
    set_add(&r, "candidates", "list_b");
    status(&r, "status", 0, 2); /* counting */
    /* 上户选举: ballots collected door to door, two by two; every fifth
     * household was not at home */
    {
        int idx = 0, units_seen = 0;

        for (int b = 1; b <= e->buildings && n < DEMO_BALLOTS; b++)
            for (int u = 1; u <= (b <= 25 ? 3 : 2) && n < DEMO_BALLOTS; u++, units_seen++)
                for (int k = 1; k <= (units_seen < 222 ? 12 : 11) && n < DEMO_BALLOTS; k++, idx++) {
                    int c = n < counts[0] ? 0 : n < counts[0] + counts[1] ? 1 : 2;

                    if (idx % 5 == 4)
                        continue;
                    snprintf(hid, sizeof(hid), "hh-%s-%03d-%d-%02d", e->code, b, u, k);
                    snprintf(id, sizeof(id), "%s:%s", DEMO_ELECTION, hid);
                    rec_begin(g, &r, "ballot", id);
                    set_str(&r, "election", DEMO_ELECTION);
                    set_str(&r, "household", hid);
                    set_str(&r, "choice", choices[c]);
                    name(g, nm, sizeof(nm));
                    set_str(&r, "collected_by", nm);
                    snprintf(d, sizeof(d), "2026-09-%02d", 18 + below(g, 3));
                    set_str(&r, "date", d);
                    n++;
                }
    }
}

static void gen_cases(struct gen *g)
{
    static const char *const cats[] = {"environment", "property",     "safety",   "facilities",
                                       "neighbour",   "elderly_care", "children", "employment",
                                       "errand",      "other"};
    static const char *const consult[] = {"discussion_point", "residents_council",
                                          "dialogue_meeting"};
    static const char *const other[] = {"office_window", "grid"};
    static const char *const titles[] = {"楼道灯不亮",   "电梯故障",    "垃圾清运不及时", "停车难",
                                         "路面破损",     "噪音扰民",    "绿化带被占",     "漏水",
                                         "消防通道堵塞", "健身器材损坏"};
    struct rec r;
    char id[64], d[24], nm[32];

    for (int i = 0; i < g->c->resolved + g->c->open; i++) {
        int resolved = i < g->c->resolved;

        snprintf(id, sizeof(id), "%s-case-%04d", g->c->id, i + 1);
        rec_begin(g, &r, "case", id);
        set_str(&r, "title", titles[below(g, 10)]);
        set_str(&r, "category", cats[below(g, 10)]);
        set_str(&r, "platform", resolved ? consult[below(g, 3)] : other[below(g, 2)]);
        date(g, d, sizeof(d));
        set_str(&r, "raised_at", d);
        name(g, nm, sizeof(nm));
        set_str(&r, "assignee", nm);
        if (resolved) {
            status(&r, "status", 0, below(g, 2) ? 3 : 4); /* resolved or closed */
            set_str(&r, "resolution", "协商解决");
        } else {
            status(&r, "status", 0, below(g, 3)); /* open, assigned, in progress */
        }
        if (g->c->nestates) {
            snprintf(d, sizeof(d), "%.15s", g->c->estates[0].code);
            snprintf(id, sizeof(id), "%s-%s", g->c->id, d);
            set_str(&r, "estate", id);
        }
    }
}

static void gen_meetings(struct gen *g)
{
    static const char *const consult[] = {"discussion_point", "residents_council",
                                          "dialogue_meeting"};
    static const char *const topics[] = {"小区主干道改造", "物业服务质量", "停车位规划",
                                         "加装电梯",       "垃圾分类",     "业委会换届"};
    struct rec r;
    char id[64], d[24], c[64];

    for (int i = 0; i < g->c->meetings; i++) {
        snprintf(id, sizeof(id), "%s-mtg-%03d", g->c->id, i + 1);
        rec_begin(g, &r, "meeting", id);
        set_str(&r, "platform", consult[below(g, 3)]);
        date(g, d, sizeof(d));
        set_str(&r, "date", d);
        set_str(&r, "topic", topics[below(g, 6)]);
        set_int(&r, "attendance", 8 + below(g, 40));
        set_str(&r, "decisions", "形成决议并公示");
        for (int k = 0; k < 3; k++) {
            snprintf(c, sizeof(c), "%s-case-%04d", g->c->id, 1 + below(g, g->c->resolved));
            set_add(&r, "cases", c);
        }
    }
}

static void gen_inspections(struct gen *g)
{
    static const char *const hz[] = {"fire", "electrical", "gas", "structure", "traffic", "other"};
    struct rec r;
    char id[64], d[24];

    for (int i = 0; i < g->c->inspections; i++) {
        snprintf(id, sizeof(id), "%s-insp-%03d", g->c->id, i + 1);
        rec_begin(g, &r, "inspection", id);
        set_str(&r, "place", "楼道及地下车库");
        set_str(&r, "hazard", hz[below(g, 6)]);
        set_str(&r, "finding", "杂物堆放，已督促清理");
        set_bool(&r, "fixed", below(g, 5) != 0);
        date(g, d, sizeof(d));
        set_str(&r, "date", d);
    }
}

/* 敲门行动 for elderly residents living alone: visits and errands (帮办代办);
 * 童伴妈妈: volunteers paired with left-behind children. */
static void gen_care(struct gen *g)
{
    struct rec r;
    char hid[64], id[96], nm[32], d[24];
    int visits = g->c->elderly_visits, errands = g->c->errands;

    for (int i = 0; i < g->c->elderly_households; i++) {
        int nv = visits / g->c->elderly_households + (i < visits % g->c->elderly_households);

        snprintf(hid, sizeof(hid), "hh-eld-%s-%03d", g->c->id, i + 1);
        rec_begin(g, &r, "household", hid);
        snprintf(id, sizeof(id), "%s %d号楼", g->c->estates[i % g->c->nestates].name, 1 + i / 4);
        set_str(&r, "address", id);
        set_int(&r, "members", 1);
        set_add(&r, "flags", "elderly_alone");
        for (int v = 0; v < nv; v++) {
            /* spread the errands over the visits: 239 in all */
            int j = g->errand_slot++;
            int e = (errands * (j + 1)) / visits - (errands * j) / visits;

            snprintf(id, sizeof(id), "v-care-%s-%03d-%02d", g->c->id, i + 1, v + 1);
            rec_begin(g, &r, "visit", id);
            set_str(&r, "household", hid);
            name(g, nm, sizeof(nm));
            set_str(&r, "visitor", nm);
            date(g, d, sizeof(d));
            set_str(&r, "date", d);
            set_str(&r, "kind", "care");
            counter(&r, "errands", e);
        }
    }
    for (int i = 0; i < g->c->child_pairs; i++) {
        int solved = g->c->child_problems / g->c->child_pairs +
                     (i < g->c->child_problems % g->c->child_pairs);

        snprintf(hid, sizeof(hid), "hh-child-%s-%03d", g->c->id, i + 1);
        rec_begin(g, &r, "household", hid);
        set_str(&r, "address", "留守儿童家庭");
        set_int(&r, "members", 2 + below(g, 3));
        set_add(&r, "flags", "left_behind_child");
        snprintf(id, sizeof(id), "pair-%s-%03d", g->c->id, i + 1);
        rec_begin(g, &r, "pairing", id);
        name(g, nm, sizeof(nm));
        set_str(&r, "volunteer", nm);
        set_str(&r, "household", hid);
        set_str(&r, "kind", "child_companion");
        counter(&r, "contacts", 300 + below(g, 60));
        counter(&r, "home_visits", 48 + below(g, 4));
        counter(&r, "outings", 12);
        counter(&r, "problems_solved", solved);
    }
}

static void gen_stewards(struct gen *g)
{
    char eid[64], team[64];

    if (!g->c->red_teams)
        return;
    snprintf(eid, sizeof(eid), "%s-%s", g->c->id, g->c->estates[0].code);
    for (int t = 0; t < g->c->red_teams; t++) {
        int n = g->c->red_people / g->c->red_teams + (t < g->c->red_people % g->c->red_teams);

        snprintf(team, sizeof(team), "红管家第%d队", t + 1);
        snprintf(eid, sizeof(eid), "%s-%s", g->c->id, g->c->estates[0].code);
        {
            char tag[80];

            snprintf(tag, sizeof(tag), "t%d", t + 1);
            gen_roles(g, eid, "red_steward", "estate", tag, n, team);
        }
    }
}

int demo_generate(const char *community, uint64_t seed, demo_emit_fn emit, void *ctx,
                  struct demo_stats *st)
{
    struct gen *g;
    const struct comm_cfg *c = NULL;
    int err;

    for (size_t i = 0; i < sizeof(communities) / sizeof(communities[0]); i++)
        if (strcmp(communities[i].id, community) == 0)
            c = &communities[i];
    if (!c)
        return TX_ENOTFOUND;
    if (!(g = calloc(1, sizeof(*g))))
        return TX_ENOMEM;
    g->c = c;
    g->emit = emit;
    g->ctx = ctx;
    g->rng = seed ^ 0x5eed5eedull;
    for (const char *p = community; *p; p++)
        g->rng = g->rng * 131 + (uint8_t)*p;
    gen_community(g);
    gen_orgs(g);
    for (int i = 0; i < c->nestates && !g->err; i++)
        gen_estate(g, &c->estates[i]);
    if (c->election)
        gen_election(g, &c->estates[0]);
    gen_roles(g, c->id, "registered_member", "community", c->id, c->registered, NULL);
    gen_stewards(g);
    gen_care(g);
    gen_cases(g);
    gen_meetings(g);
    gen_inspections(g);
    flush(g);
    err = g->err;
    if (st) {
        st->records = g->records;
        st->changes = g->changes;
    }
    free(g);
    return err;
}

const char *demo_community_name(const char *community)
{
    for (size_t i = 0; i < sizeof(communities) / sizeof(communities[0]); i++)
        if (strcmp(communities[i].id, community) == 0)
            return communities[i].name;
    return NULL;
}
