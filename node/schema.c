/*
 * schema.c - the governance record types (docs/records.md is generated from
 * these tables: `tongxin schema --markdown`).
 *
 * Every field has a CRDT kind, a value type and a meaning; every type has a
 * scope class (general, or private for personal data: households, visits,
 * pairings, ballots). Writes are checked against this before anything is
 * written. Evolution rules: new types and fields may be added; a field's kind,
 * value type and a type's scope class never change (old envelopes would mean
 * something else); enum values may be added, never removed or renumbered.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define F(name, zh, kind, vt, enums, ref, doc)                                                     \
    {                                                                                              \
        name, zh, kind, vt, enums, ref, doc                                                        \
    }
#define LWW    CRDT_LWW
#define CTR    CRDT_COUNTER
#define SET    CRDT_SET
#define STATUS CRDT_STATUS

static const char *const org_kinds[] = {"property_company", "owners_committee", "party_branch",
                                        "social_org",       "co_building_unit", NULL};
static const char *const party_states[] = {"none", "single_built", "joint_built", NULL};
static const char *const household_flags[] = {
    "elderly_alone", "left_behind_child", "disabled", "low_income",
    "party_member",  "new_employment",    NULL};
static const char *const role_kinds[] = {"grid_leader",     "building_leader",   "unit_leader",
                                         "red_steward",     "registered_member", "volunteer",
                                         "child_companion", "grid_worker",       NULL};
static const char *const role_scopes[] = {"community", "grid", "estate", "building", "unit", NULL};
static const char *const visit_kinds[] = {"door_knock", "care", "listening_day", "follow_up", NULL};
static const char *const case_categories[] = {
    "environment", "property",   "safety", "facilities", "neighbour", "elderly_care",
    "children",    "employment", "errand", "other",      NULL};
static const char *const platforms[] = {
    "discussion_point", "residents_council", "dialogue_meeting", "office_window", "grid", NULL};
static const char *const case_states[] = {"open",     "assigned", "in_progress",
                                          "resolved", "closed",   NULL};
static const char *const election_states[] = {"preparing", "voting", "counting", "closed", NULL};
static const char *const hazards[] = {"fire",    "electrical", "gas", "structure",
                                      "traffic", "other",      NULL};
static const char *const campaign_kinds[] = {
    "door_knock", "home_environment", "listening_day", "health_week", "other", NULL};
static const char *const pairing_kinds[] = {"child_companion", "elderly_care", NULL};

static const struct node_field_def community_f[] = {
    F("name", "名称", LWW, NODE_V_STRING, NULL, NULL, "community name"),
    F("district", "所属区", LWW, NODE_V_STRING, NULL, NULL, "district it belongs to"),
    F("grids", "网格", SET, NODE_V_STRING, NULL, NULL, "grids the community is divided into"),
    F("contact", "联系方式", LWW, NODE_V_STRING, NULL, NULL, "office contact"),
};
static const struct node_field_def org_f[] = {
    F("kind", "类别", LWW, NODE_V_ENUM, org_kinds, NULL,
      "property-service company, owners' committee, party branch, social organisation, "
      "co-building unit"),
    F("name", "名称", LWW, NODE_V_STRING, NULL, NULL, "organisation name"),
    F("estates", "服务小区", SET, NODE_V_REF, NULL, "estate", "estates it serves"),
    F("party_org", "党组织建设", LWW, NODE_V_ENUM, party_states, NULL,
      "party organisation: none, single-built (单建) or joint-built (联建)"),
    F("party_org_date", "党组织建立日期", LWW, NODE_V_DATE, NULL, NULL,
      "when the party organisation was set up"),
    F("members", "人数", LWW, NODE_V_INT, NULL, NULL, "members or staff"),
};
static const struct node_field_def estate_f[] = {
    F("name", "小区名称", LWW, NODE_V_STRING, NULL, NULL, "estate name"),
    F("grid", "网格", LWW, NODE_V_STRING, NULL, NULL, "grid the estate lies in"),
    F("buildings", "楼栋数", LWW, NODE_V_INT, NULL, NULL, "number of buildings"),
    F("households", "户数", LWW, NODE_V_INT, NULL, NULL, "number of households"),
    F("property_company", "物业服务企业", LWW, NODE_V_REF, NULL, "org", "its property company"),
    F("owners_committee", "业主委员会", LWW, NODE_V_REF, NULL, "org", "its owners' committee"),
};
static const struct node_field_def building_f[] = {
    F("estate", "所属小区", LWW, NODE_V_REF, NULL, "estate", "estate"),
    F("number", "楼栋号", LWW, NODE_V_STRING, NULL, NULL, "building number"),
    F("units", "单元数", LWW, NODE_V_INT, NULL, NULL, "stairwell units"),
    F("households", "户数", LWW, NODE_V_INT, NULL, NULL, "households"),
};
static const struct node_field_def unit_f[] = {
    F("building", "所属楼栋", LWW, NODE_V_REF, NULL, "building", "building"),
    F("number", "单元号", LWW, NODE_V_STRING, NULL, NULL, "unit number"),
    F("households", "户数", LWW, NODE_V_INT, NULL, NULL, "households"),
};
static const struct node_field_def household_f[] = {
    F("address", "住址", LWW, NODE_V_STRING, NULL, NULL, "address within the estate"),
    F("estate", "所属小区", LWW, NODE_V_REF, NULL, "estate", "estate"),
    F("unit", "所属单元", LWW, NODE_V_REF, NULL, "unit", "unit"),
    F("members", "人口", LWW, NODE_V_INT, NULL, NULL, "people living there"),
    F("flags", "标记", SET, NODE_V_ENUM, household_flags, NULL,
      "elderly living alone (独居老人), left-behind child (留守儿童), ..."),
    F("contact", "联系人", LWW, NODE_V_STRING, NULL, NULL, "contact person and phone"),
    F("notes", "备注", LWW, NODE_V_STRING, NULL, NULL, "notes"),
};
static const struct node_field_def role_f[] = {
    F("person", "姓名", LWW, NODE_V_STRING, NULL, NULL, "who holds the role"),
    F("role", "角色", LWW, NODE_V_ENUM, role_kinds, NULL,
      "grid leader (网格长), building leader (楼栋长), unit leader (单元长), red steward (红管家), "
      "registered in-service party member (在职党员报到), volunteer, child-companion mother "
      "(童伴妈妈), grid worker"),
    F("scope_kind", "负责范围", LWW, NODE_V_ENUM, role_scopes, NULL, "what the role covers"),
    F("scope_ref", "范围编号", LWW, NODE_V_STRING, NULL, NULL,
      "id of the grid, estate, building or unit"),
    F("estate", "所属小区", LWW, NODE_V_REF, NULL, "estate", "estate"),
    F("team", "队伍", LWW, NODE_V_STRING, NULL, NULL, "team (e.g. a red-steward team)"),
    F("pledge", "承诺", LWW, NODE_V_STRING, NULL, NULL, "pledged service"),
};
static const struct node_field_def visit_f[] = {
    F("household", "走访户", LWW, NODE_V_REF, NULL, "household", "household visited"),
    F("visitor", "走访人", LWW, NODE_V_STRING, NULL, NULL, "who visited"),
    F("date", "日期", LWW, NODE_V_DATE, NULL, NULL, "visit date"),
    F("kind", "类别", LWW, NODE_V_ENUM, visit_kinds, NULL,
      "door-knocking (敲门行动), care visit, listening day (倾听日), follow-up"),
    F("notes", "走访记录", LWW, NODE_V_STRING, NULL, NULL, "notes"),
    F("needs", "需求", SET, NODE_V_STRING, NULL, NULL, "needs found"),
    F("errands", "帮办代办", CTR, NODE_V_INT, NULL, NULL, "errands run on the resident's behalf"),
};
static const struct node_field_def case_f[] = {
    F("title", "问题", LWW, NODE_V_STRING, NULL, NULL, "the problem raised"),
    F("category", "类别", LWW, NODE_V_ENUM, case_categories, NULL, "category"),
    F("platform", "议事平台", LWW, NODE_V_ENUM, platforms, NULL,
      "where it is handled: discussion point (议事小站), residents' council (居民理事会), "
      "dialogue meeting (恳谈会), office window, grid"),
    F("raised_at", "提出日期", LWW, NODE_V_DATE, NULL, NULL, "date raised"),
    F("status", "状态", STATUS, NODE_V_ENUM, case_states, NULL,
      "open → assigned → in progress → resolved → closed; a re-open starts a new round"),
    F("assignee", "承办人", LWW, NODE_V_STRING, NULL, NULL, "who handles it"),
    F("resolution", "办理结果", LWW, NODE_V_STRING, NULL, NULL, "how it was resolved"),
    F("estate", "所属小区", LWW, NODE_V_REF, NULL, "estate", "estate"),
    F("meeting", "议事会议", LWW, NODE_V_REF, NULL, "meeting", "meeting that took it up"),
};
static const struct node_field_def meeting_f[] = {
    F("platform", "议事平台", LWW, NODE_V_ENUM, platforms, NULL, "consultation platform"),
    F("date", "日期", LWW, NODE_V_DATE, NULL, NULL, "date"),
    F("topic", "议题", LWW, NODE_V_STRING, NULL, NULL, "topic"),
    F("attendance", "参会人数", LWW, NODE_V_INT, NULL, NULL, "people attending"),
    F("decisions", "议定事项", LWW, NODE_V_STRING, NULL, NULL, "what was decided"),
    F("cases", "议题问题", SET, NODE_V_REF, NULL, "case", "cases it took up"),
};
static const struct node_field_def election_f[] = {
    F("title", "选举名称", LWW, NODE_V_STRING, NULL, NULL,
      "e.g. second owners' committee election"),
    F("estate", "小区", LWW, NODE_V_REF, NULL, "estate", "estate"),
    F("committee", "业主委员会", LWW, NODE_V_REF, NULL, "org", "the committee being elected"),
    F("date", "投票日期", LWW, NODE_V_DATE, NULL, NULL, "voting day"),
    F("eligible", "应投户数", LWW, NODE_V_INT, NULL, NULL, "households entitled to vote"),
    F("candidates", "候选人", SET, NODE_V_STRING, NULL, NULL, "candidates or lists"),
    F("status", "状态", STATUS, NODE_V_ENUM, election_states, NULL,
      "preparing → voting → counting → closed"),
    F("committee_node", "选举委员会节点", LWW, NODE_V_STRING, NULL, NULL,
      "node id (64 hex digits) of the election committee's node; when a hub sets it, that "
      "node's final=true on the result counts like a hub's"),
};
static const struct node_field_def ballot_f[] = {
    F("election", "选举", LWW, NODE_V_REF, NULL, "election",
      "election (the id is ELECTION:HOUSEHOLD)"),
    F("household", "投票户", LWW, NODE_V_REF, NULL, "household", "household"),
    F("choice", "选择", LWW, NODE_V_STRING, NULL, NULL,
      "the household's choice; two offices recording different choices show as a conflict"),
    F("collected_by", "上户收票人", LWW, NODE_V_STRING, NULL, NULL,
      "who collected it door to door"),
    F("date", "日期", LWW, NODE_V_DATE, NULL, NULL, "date"),
};
static const struct node_field_def result_f[] = {
    F("election", "选举", LWW, NODE_V_REF, NULL, "election", "election (the id is the election's)"),
    F("tally", "计票结果", LWW, NODE_V_STRING, NULL, NULL, "choice:count,... as counted"),
    F("turnout", "投票户数", LWW, NODE_V_INT, NULL, NULL, "ballots counted"),
    F("final", "最终确认", LWW, NODE_V_BOOL, NULL, NULL,
      "true when signed off; final only if written by a hub (or the committee's node)"),
};
static const struct node_field_def inspection_f[] = {
    F("place", "地点", LWW, NODE_V_STRING, NULL, NULL, "place inspected"),
    F("estate", "小区", LWW, NODE_V_REF, NULL, "estate", "estate"),
    F("hazard", "隐患类别", LWW, NODE_V_ENUM, hazards, NULL, "fire, electrical, gas, ..."),
    F("finding", "发现问题", LWW, NODE_V_STRING, NULL, NULL, "what was found"),
    F("fixed", "已整改", LWW, NODE_V_BOOL, NULL, NULL, "fixed or not"),
    F("date", "日期", LWW, NODE_V_DATE, NULL, NULL, "date"),
};
static const struct node_field_def campaign_f[] = {
    F("kind", "活动类别", LWW, NODE_V_ENUM, campaign_kinds, NULL,
      "door-knocking (敲门行动), home environment (家园行动), listening day (倾听日), ..."),
    F("date", "日期", LWW, NODE_V_DATE, NULL, NULL, "date"),
    F("estate", "小区", LWW, NODE_V_REF, NULL, "estate", "estate"),
    F("posters_removed", "清理牛皮癣", CTR, NODE_V_INT, NULL, NULL, "illegal posters removed"),
    F("ads_removed", "清除小广告", CTR, NODE_V_INT, NULL, NULL, "small ads removed"),
    F("households_reached", "走访户数", CTR, NODE_V_INT, NULL, NULL, "households reached"),
    F("errands", "帮办代办", CTR, NODE_V_INT, NULL, NULL, "errands run"),
};
static const struct node_field_def pairing_f[] = {
    F("volunteer", "志愿者", LWW, NODE_V_STRING, NULL, NULL,
      "volunteer (e.g. a child-companion mother)"),
    F("household", "结对户", LWW, NODE_V_REF, NULL, "household", "household of the child or elder"),
    F("kind", "类别", LWW, NODE_V_ENUM, pairing_kinds, NULL, "child companion or elderly care"),
    F("contacts", "每日联系", CTR, NODE_V_INT, NULL, NULL, "daily contacts"),
    F("home_visits", "每周家访", CTR, NODE_V_INT, NULL, NULL, "weekly home visits"),
    F("outings", "每月游玩", CTR, NODE_V_INT, NULL, NULL, "monthly outings"),
    F("problems_solved", "解决问题", CTR, NODE_V_INT, NULL, NULL, "problems solved"),
};

#define T(name, zh, priv, arr, doc)                                                                \
    {                                                                                              \
        name, zh, priv, arr, sizeof(arr) / sizeof(arr[0]), doc                                     \
    }

static const struct node_type_def types[] = {
    T("community", "社区", 0, community_f, "a community office's own record"),
    T("org", "组织", 0, org_f,
      "property companies, owners' committees, party branches...: the coverage ledger (工作台账)"),
    T("estate", "小区", 0, estate_f, "a residential estate"),
    T("building", "楼栋", 0, building_f, "a building of an estate"),
    T("unit", "单元", 0, unit_f, "a stairwell unit of a building"),
    T("household", "户", 1, household_f, "a household (personal data)"),
    T("role", "角色", 0, role_f, "a person holding a role: the three leaders (三长), stewards..."),
    T("visit", "走访", 1, visit_f, "a door-knocking or care visit (personal data)"),
    T("case", "问题", 0, case_f, "a problem raised by residents"),
    T("meeting", "议事", 0, meeting_f, "a consultation on a platform"),
    T("election", "选举", 0, election_f, "an owners' committee election"),
    T("ballot", "选票", 1, ballot_f, "one household's ballot (personal data)"),
    T("result", "选举结果", 0, result_f, "an election's tally, final when a hub signs it"),
    T("inspection", "隐患排查", 0, inspection_f, "a hazard inspection"),
    T("campaign", "活动", 0, campaign_f, "a campaign day with its counters"),
    T("pairing", "结对", 1, pairing_f, "a volunteer paired with a child or elder (personal data)"),
};

const struct node_type_def *node_schema_types(size_t *n)
{
    *n = sizeof(types) / sizeof(types[0]);
    return types;
}

const struct node_type_def *node_schema_type(const char *name)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

const struct node_field_def *node_schema_field(const struct node_type_def *t, const char *name)
{
    for (size_t i = 0; t && i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

int node_schema_enum(const struct node_field_def *f, const char *s, size_t n)
{
    for (int i = 0; f->enums && f->enums[i]; i++)
        if (strlen(f->enums[i]) == n && memcmp(f->enums[i], s, n) == 0)
            return i;
    return -1;
}

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return TX_ESCHEMA;
}

static int is_date(const char *s, size_t n)
{
    int y, m, d;

    if (n != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    {
        static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        if (d > days[m - 1] || (m == 2 && d == 29 && !leap))
            return 0;
    }
    return 1;
}

const char *node_vtype_name(int vt)
{
    switch (vt) {
    case NODE_V_STRING: return "string";
    case NODE_V_INT: return "integer";
    case NODE_V_DATE: return "date";
    case NODE_V_ENUM: return "enum";
    case NODE_V_REF: return "reference";
    case NODE_V_BOOL: return "boolean";
    default: return "?";
    }
}

int node_schema_check(const struct node_change *ch, size_t n, char *err, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        const struct node_change *c = &ch[i];
        const struct node_type_def *t = node_schema_type(c->type);
        const struct node_field_def *f;
        const struct crdt_value *v = &c->value;
        int kind = crdt_op_kind(c->code);

        if (!t)
            return fail(err, cap, "unknown record type '%s'", c->type);
        f = node_schema_field(t, c->field);
        if (!f)
            return fail(err, cap, "type %s has no field '%s'", c->type, c->field);
        if (kind != f->kind) {
            static const char *const how[] = {"", "FIELD=VALUE", "FIELD+=N / FIELD-=N",
                                              "FIELD+=V / FIELD-=V", "FIELD^=STATE"};
            return fail(err, cap, "field %s is a %s: write it as %s", c->field,
                        crdt_kind_name(f->kind), how[f->kind]);
        }
        switch (f->kind) {
        case CRDT_COUNTER: continue; /* an integer delta, checked by the codec */
        case CRDT_STATUS: {
            uint64_t rank = (uint64_t)v->i & 0xff;
            int nstates = 0;

            while (f->enums[nstates])
                nstates++;
            if (v->type != CRDT_INT || v->i < 0 || rank >= (uint64_t)nstates)
                return fail(err, cap, "field %s: not a state of this status", c->field);
            continue;
        }
        default: break;
        }
        /* lww register values and set elements */
        if (v->type == CRDT_NIL && f->kind == CRDT_LWW)
            continue; /* clearing a field is always allowed */
        switch (f->vtype) {
        case NODE_V_STRING:
            if (v->type != CRDT_STR)
                return fail(err, cap, "field %s: expected text", c->field);
            break;
        case NODE_V_INT:
            if (v->type != CRDT_INT)
                return fail(err, cap, "field %s: expected an integer", c->field);
            if (v->i < 0)
                return fail(err, cap, "field %s: expected a count (0 or more)", c->field);
            break;
        case NODE_V_BOOL:
            if (v->type != CRDT_BOOL)
                return fail(err, cap, "field %s: expected true or false", c->field);
            break;
        case NODE_V_DATE:
            if (v->type != CRDT_STR || !is_date(v->s, v->len))
                return fail(err, cap, "field %s: expected a date YYYY-MM-DD", c->field);
            break;
        case NODE_V_ENUM:
            if (v->type != CRDT_STR || node_schema_enum(f, v->s, v->len) < 0) {
                char list[400];
                size_t off = 0;

                for (int k = 0; f->enums[k] && off < sizeof(list) - 40; k++)
                    off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", k ? ", " : "",
                                            f->enums[k]);
                return fail(err, cap, "field %s: not one of %s", c->field, list);
            }
            break;
        case NODE_V_REF:
            if (v->type != CRDT_STR || crdt_check_id(v->s, v->len))
                return fail(err, cap, "field %s: expected the id of a %s", c->field, f->ref);
            break;
        }
    }
    /* Ballots: one per household per election, so the id is ELECTION:HOUSEHOLD
     * and two offices recording one household's ballot meet in one record. */
    for (size_t i = 0; i < n; i++) {
        const struct node_change *c = &ch[i];

        if (strcmp(c->type, "ballot") != 0)
            continue;
        if (!strchr(c->id, ':'))
            return fail(err, cap, "ballot id '%s' must be ELECTION:HOUSEHOLD", c->id);
        if ((!strcmp(c->field, "election") || !strcmp(c->field, "household")) &&
            c->value.type == CRDT_STR) {
            const char *colon = strchr(c->id, ':');
            size_t el = (size_t)(colon - c->id);
            int is_el = !strcmp(c->field, "election");
            const char *part = is_el ? c->id : colon + 1;
            size_t pl = is_el ? el : strlen(colon + 1);

            if (c->value.len != pl || memcmp(c->value.s, part, pl) != 0)
                return fail(err, cap, "ballot %s: field %s must match the id", c->id, c->field);
        }
    }
    /* An election's committee node is a node id. */
    for (size_t i = 0; i < n; i++) {
        const struct node_change *c = &ch[i];
        uint8_t id[CRDT_KEY_BYTES];
        char hex[NODE_ID_HEX + 1];

        if (strcmp(c->type, "election") || strcmp(c->field, "committee_node") ||
            c->value.type != CRDT_STR)
            continue;
        if (c->value.len != NODE_ID_HEX)
            return fail(err, cap, "field committee_node: expected a node id (64 hex digits)");
        memcpy(hex, c->value.s, NODE_ID_HEX);
        hex[NODE_ID_HEX] = '\0';
        if (node_unhex(hex, id, CRDT_KEY_BYTES))
            return fail(err, cap, "field committee_node: expected a node id (64 hex digits)");
    }
    return TX_OK;
}

int node_schema_check_scope(const struct node_change *ch, size_t n, const char *scope, char *err,
                            size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        const struct node_type_def *t = node_schema_type(ch[i].type);

        if (t && t->private_scope && strncmp(scope, "private:", 8) != 0)
            return fail(err, cap,
                        "%s holds personal data: it is written to a private scope "
                        "(private:COMMUNITY), not %s",
                        t->name, scope);
    }
    return TX_OK;
}

int node_schema_scope(const char *type, const char *community, char *scope)
{
    const struct node_type_def *t = node_schema_type(type);

    if (!t)
        return TX_ESCHEMA;
    return t->private_scope ? node_scope_private(community, scope)
                            : node_scope_general(community, scope);
}
