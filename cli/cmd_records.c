/* cmd_records.c - tongxin records put|get|list|history, conflicts list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cli.h"
#include "status.h"

static const char put_help[] =
    "usage: tongxin records put TYPE ID FIELD=VALUE... [--community ID] [--scope SCOPE]\n"
    "                           [--private] [--raw] [--json]\n"
    "\n"
    "Write one envelope with every change given; returns after the durable commit.\n"
    "The record schema (tongxin schema) decides each field's kind and value type and\n"
    "the scope: personal data (household, visit, ballot, pairing) goes to the\n"
    "community's private scope by itself. A change that does not fit writes nothing.\n"
    "  FIELD=VALUE   set a register (text, integer, YYYY-MM-DD, true/false, an enum\n"
    "                name or a record id, as the field says; null clears it)\n"
    "  FIELD+=N      add N to a counter      FIELD-=N   subtract\n"
    "  FIELD+=V      add V to a set          FIELD-=V   remove V from a set\n"
    "  FIELD^=STATE  advance a status (its states are in the schema);\n"
    "                FIELD^=reopen starts a new round at the first state\n"
    "  --community C the community the record belongs to (hubs; offices write their own)\n"
    "  --scope S     an explicit scope (e.g. public)\n"
    "  --raw         no schema: any type and field (development); += makes a counter\n"
    "                for an integer, a set otherwise\n"
    "Prints the new envelope's origin and seq.\n"
    "example: tongxin records put case c-001 title=\"楼道灯不亮\" category=facilities \\\n"
    "           platform=discussion_point status^=assigned\n";

static const char get_help[] =
    "usage: tongxin records get TYPE ID [--scope SCOPE] [--json]\n"
    "\n"
    "Read a record. JSON: {\"type\",\"id\",\"scope\",\"fields\":{...},\"conflicts\":{...}}\n"
    "example: tongxin records get household h-0001 --json\n";

static const char list_help[] = "usage: tongxin records list [TYPE] [--json]\n"
                                "\n"
                                "List records (all, or one type).\n"
                                "example: tongxin records list case\n";

static const char history_help[] = "usage: tongxin records history TYPE ID [--json]\n"
                                   "\n"
                                   "The envelopes that changed a record, in arrival order.\n"
                                   "example: tongxin records history case c-001\n";

/* ---- value parsing ---- */

static int parse_int(const char *s, int64_t *v)
{
    char *end;
    long long x;

    if (!*s || (!(*s >= '0' && *s <= '9') && *s != '-'))
        return 0;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || *end || end == s || (s[0] == '-' && s[1] == '\0'))
        return 0;
    *v = x;
    return 1;
}

static void parse_value(const char *s, struct crdt_value *v)
{
    size_t n = strlen(s);

    memset(v, 0, sizeof(*v));
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        v->type = CRDT_STR;
        v->s = s + 1;
        v->len = (uint32_t)(n - 2);
    } else if (parse_int(s, &v->i)) {
        v->type = CRDT_INT;
    } else if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        v->type = CRDT_BOOL;
        v->i = s[0] == 't';
    } else if (strcmp(s, "null") == 0) {
        v->type = CRDT_NIL;
    } else {
        v->type = CRDT_STR;
        v->s = s;
        v->len = (uint32_t)n;
    }
}

static char fieldbuf[64][CRDT_MAX_FIELD + 1];

/* A change as the schema says the field must be written. */
static int parse_schema(const struct node_type_def *t, char op, const char *val,
                        const struct crdt_record *existing, struct node_change *ch)
{
    const struct node_field_def *f = node_schema_field(t, ch->field);
    static const char *const how[] = {"", "FIELD=VALUE", "FIELD+=N or FIELD-=N",
                                      "FIELD+=V or FIELD-=V", "FIELD^=STATE"};
    int want = op == '=' ? CRDT_LWW : op == '^' ? CRDT_STATUS : 0;

    if (!f)
        return cli_usage("type %s has no field '%s' (tongxin schema %s lists them)", t->name,
                         ch->field, t->name);
    if ((want && f->kind != want) || (!want && f->kind != CRDT_COUNTER && f->kind != CRDT_SET))
        return cli_usage("field %s is a %s: write it as %s", ch->field, crdt_kind_name(f->kind),
                         how[f->kind]);
    if (f->kind == CRDT_LWW) {
        ch->code = CRDT_OP_LWW_SET;
        memset(&ch->value, 0, sizeof(ch->value));
        if (strcmp(val, "null") == 0) {
            ch->value.type = CRDT_NIL;
        } else if (f->vtype == NODE_V_INT) {
            ch->value.type = CRDT_INT;
            if (!parse_int(val, &ch->value.i))
                return cli_usage("field %s: expected an integer, got '%s'", ch->field, val);
        } else if (f->vtype == NODE_V_BOOL) {
            if (strcmp(val, "true") && strcmp(val, "false"))
                return cli_usage("field %s: expected true or false, got '%s'", ch->field, val);
            ch->value.type = CRDT_BOOL;
            ch->value.i = val[0] == 't';
        } else {
            ch->value.type = CRDT_STR;
            ch->value.s = val;
            ch->value.len = (uint32_t)strlen(val);
        }
        return CLI_OK;
    }
    if (f->kind == CRDT_COUNTER) {
        int64_t n;

        if (!parse_int(val, &n) || (op == '-' && n == INT64_MIN))
            return cli_usage("field %s is a counter: '%s' is not an integer", ch->field, val);
        ch->code = CRDT_OP_CTR_ADD;
        ch->value.type = CRDT_INT;
        ch->value.i = op == '+' ? n : -n;
        return CLI_OK;
    }
    if (f->kind == CRDT_SET) {
        ch->code = op == '+' ? CRDT_OP_SET_ADD : CRDT_OP_SET_REM;
        ch->value.type = CRDT_STR;
        ch->value.s = val;
        ch->value.len = (uint32_t)strlen(val);
        return CLI_OK;
    }
    {
        /* status: a state name, or reopen */
        const struct crdt_field *cur =
            crdt_record_field(existing, ch->field, strlen(ch->field), CRDT_STATUS);
        uint64_t now = cur ? cur->u.status : 0;
        int rank;

        ch->code = CRDT_OP_STATUS_SET;
        ch->value.type = CRDT_INT;
        if (strcmp(val, "reopen") == 0) {
            if (!cur)
                return cli_usage("%s: nothing to re-open", ch->field);
            ch->value.i = (int64_t)(((now >> 8) + 1) << 8);
            return CLI_OK;
        }
        rank = node_schema_enum(f, val, strlen(val));
        if (rank < 0) {
            char list[300];
            size_t off = 0;

            for (int k = 0; f->enums[k] && off < sizeof(list) - 40; k++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s, ", f->enums[k]);
            return cli_usage("%s: unknown state '%s' (%sreopen)", ch->field, val, list);
        }
        ch->value.i = (int64_t)((now >> 8) << 8 | (uint64_t)rank);
        return CLI_OK;
    }
}

/* Parse one FIELD<op>VALUE argument into a change. existing: the record as
 * stored (may have no fields) to decide += / -= kinds and status rounds. */
static int parse_change(const char *arg, int i, const struct crdt_record *existing,
                        const struct node_type_def *t, struct node_change *ch)
{
    const char *p = arg;
    size_t flen;
    char op;
    const char *val;

    while (*p && *p != '=' && *p != '+' && *p != '-' && *p != '^')
        p++;
    flen = (size_t)(p - arg);
    if (!*p || flen == 0 || flen > CRDT_MAX_FIELD)
        return cli_usage("expected FIELD=VALUE, FIELD+=V, FIELD-=V or FIELD^=STATE, got '%s'", arg);
    if (*p == '=') {
        op = '=';
        val = p + 1;
    } else if (p[1] == '=') {
        op = *p;
        val = p + 2;
    } else {
        return cli_usage("expected FIELD=VALUE, FIELD+=V, FIELD-=V or FIELD^=STATE, got '%s'", arg);
    }
    memcpy(fieldbuf[i], arg, flen);
    fieldbuf[i][flen] = '\0';
    if (crdt_check_field(fieldbuf[i], flen))
        return cli_usage("field name '%s': lowercase letters, digits, '_' and '.', starting "
                         "with a letter",
                         fieldbuf[i]);
    ch->field = fieldbuf[i];
    if (t)
        return parse_schema(t, op, val, existing, ch);
    if (op == '=') {
        ch->code = CRDT_OP_LWW_SET;
        parse_value(val, &ch->value);
        return CLI_OK;
    }
    if (op == '^') {
        const struct crdt_field *f = crdt_record_field(existing, ch->field, flen, CRDT_STATUS);
        uint64_t cur = f ? f->u.status : 0;
        int rank;

        ch->code = CRDT_OP_STATUS_SET;
        ch->value.type = CRDT_INT;
        if (strcmp(val, "reopen") == 0) {
            if (!f)
                return cli_usage("%s: nothing to re-open", ch->field);
            ch->value.i = (int64_t)(((cur >> 8) + 1) << 8);
            return CLI_OK;
        }
        rank = cli_status_rank(val);
        if (rank < 0)
            return cli_usage("%s: unknown state '%s' (open, assigned, in_progress, resolved, "
                             "closed, reopen)",
                             ch->field, val);
        ch->value.i = (int64_t)((cur >> 8) << 8 | (uint64_t)rank);
        return CLI_OK;
    }
    /* += and -=: counter or set, by what the field already is. */
    {
        int64_t n;
        int is_int = parse_int(val, &n);
        int kind = crdt_record_field(existing, ch->field, flen, CRDT_COUNTER) ? CRDT_COUNTER
                   : crdt_record_field(existing, ch->field, flen, CRDT_SET)   ? CRDT_SET
                   : is_int                                                   ? CRDT_COUNTER
                                                                              : CRDT_SET;

        if (kind == CRDT_COUNTER) {
            if (!is_int)
                return cli_usage("%s is a counter: '%s' is not an integer", ch->field, val);
            if (op == '-' && n == INT64_MIN)
                return cli_usage("%s: value out of range", ch->field);
            ch->code = CRDT_OP_CTR_ADD;
            ch->value.type = CRDT_INT;
            ch->value.i = op == '+' ? n : -n;
        } else {
            ch->code = op == '+' ? CRDT_OP_SET_ADD : CRDT_OP_SET_REM;
            ch->value.type = CRDT_STR;
            ch->value.s = val;
            ch->value.len = (uint32_t)strlen(val);
        }
    }
    return CLI_OK;
}

static int records_put(struct cli *c, int argc, char **argv)
{
    char *pos[66];
    int npos = 0, priv = 0, json = 0, raw = 0, rc, err, handled;
    const char *scope_opt = NULL, *comm_opt = NULL;
    const struct cli_opt opts[] = {
        {"--private", 0, NULL, &priv},       {"--scope", 1, &scope_opt, NULL},
        {"--community", 1, &comm_opt, NULL}, {"--raw", 0, NULL, &raw},
        {"--json", 0, NULL, &json},          {NULL, 0, NULL, NULL}};
    const struct node_type_def *t = NULL;
    char why[512];
    struct node_change ch[64];
    struct node_store *s;
    struct node_info info;
    struct node_record existing;
    struct node_write_result res;
    char scope[CRDT_MAX_SCOPE + 1], hex[NODE_ID_HEX + 1];

    if (cli_wants_help(argc, argv)) {
        fputs(put_help, stdout);
        return CLI_OK;
    }
    if ((rc = cli_parse(argc, argv, opts, pos, 66, &npos)))
        return rc;
    if (npos < 3)
        return cli_usage("records put needs TYPE ID and at least one FIELD=VALUE");
    if (crdt_check_type(pos[0], strlen(pos[0])))
        return cli_usage("type '%s': lowercase letters, digits and '_', starting with a letter",
                         pos[0]);
    if (crdt_check_id(pos[1], strlen(pos[1])))
        return cli_usage("id '%s': 1 to %d bytes of UTF-8 text without control characters", pos[1],
                         CRDT_MAX_ID);
    if (priv && scope_opt)
        return cli_usage("--private and --scope exclude each other");
    if (!raw && !(t = node_schema_type(pos[0])))
        return cli_usage("unknown record type '%s' (tongxin schema lists the types; --raw "
                         "writes without the schema)",
                         pos[0]);
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    node_info(s, &info);
    if (comm_opt && info.role == NODE_ROLE_OFFICE && strcmp(comm_opt, info.community) != 0) {
        node_close(s);
        return cli_usage("an office writes its own community (%s)", info.community);
    }
    if (scope_opt)
        snprintf(scope, sizeof(scope), "%s", scope_opt);
    else if (priv)
        rc = node_scope_private(comm_opt ? comm_opt : info.community, scope);
    else if (t)
        rc = node_schema_scope(pos[0], comm_opt ? comm_opt : info.community, scope);
    else
        rc = node_scope_general(comm_opt ? comm_opt : info.community, scope);
    if (rc) {
        node_close(s);
        return cli_usage("community '%s' is not a valid community id", comm_opt);
    }
    if (crdt_check_scope(scope, strlen(scope))) {
        node_close(s);
        return cli_usage("scope '%s' is not a valid scope name", scope);
    }
    err = node_get(s, scope, pos[0], pos[1], &existing);
    if (err && err != TX_ENOTFOUND) {
        node_close(s);
        return cli_fail(err, "read %s %s", pos[0], pos[1]);
    }
    for (int i = 2; i < npos; i++) {
        memset(&ch[i - 2], 0, sizeof(ch[i - 2]));
        ch[i - 2].type = pos[0];
        ch[i - 2].id = pos[1];
        if ((rc = parse_change(pos[i], i - 2, &existing.rec, t, &ch[i - 2]))) {
            node_record_release(&existing);
            node_close(s);
            return rc;
        }
    }
    node_record_release(&existing);
    node_close(s);
    if (t && (node_schema_check(ch, (size_t)(npos - 2), why, sizeof(why)) ||
              node_schema_check_scope(ch, (size_t)(npos - 2), scope, why, sizeof(why)))) {
        fprintf(stderr, "tongxin: %s %s: %s; nothing written\n", pos[0], pos[1], why);
        return CLI_USAGE;
    }
    /* Through the daemon when one runs (it pushes the write to its peers at
     * once); otherwise straight into the store. */
    err = cli_ctl_put(c->dir, scope, ch, (size_t)(npos - 2), raw, &res, &handled);
    if (!handled) {
        if ((rc = cli_open(c, 0, &s)))
            return rc;
        err = node_write(s, scope, ch, (size_t)(npos - 2), &res);
        node_close(s);
    }
    if (err == TX_EBACKWARD)
        return cli_fail(err, "%s %s: a status moves forward only (use FIELD^=reopen)", pos[0],
                        pos[1]);
    if (err == TX_ENOTFOUND)
        return cli_fail(err, "%s %s: removing an element that is not in the set", pos[0], pos[1]);
    if (err == TX_ESCHEMA)
        return cli_fail(err, "%s %s: refused by the daemon's schema check", pos[0], pos[1]);
    if (err)
        return cli_fail(err, "write %s %s", pos[0], pos[1]);
    node_hex(res.origin, CRDT_KEY_BYTES, hex);
    if (json) {
        json_t *o = json_object();

        json_object_set_new(o, "origin", json_string(hex));
        json_object_set_new(o, "seq", json_integer((json_int_t)res.seq));
        json_object_set_new(o, "scope", json_string(scope));
        cli_json_print(o);
    } else {
        printf("%s %llu\n", hex, (unsigned long long)res.seq);
    }
    return CLI_OK;
}

/* A status value's name: from the schema when the field is known there. */
static const char *status_label(const char *type, const char *field, uint64_t st, char *buf,
                                size_t cap)
{
    const struct node_field_def *f = node_schema_field(node_schema_type(type), field);
    uint64_t rank = st & 0xff;

    if (f && f->kind == CRDT_STATUS && f->enums) {
        for (uint64_t k = 0; f->enums[k]; k++)
            if (k == rank) {
                snprintf(buf, cap, "%s", f->enums[k]);
                return buf;
            }
    }
    return cli_status_name(st, buf, cap);
}

/* JSON of a record: fields (winners), conflicts (all concurrent values). */
static json_t *record_json(const struct node_record *r)
{
    json_t *o = json_object(), *fields = json_object(), *conf = json_object(), *rounds = NULL;
    char buf[64];

    json_object_set_new(o, "type", json_string(r->type));
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "scope", json_string(r->scope));
    for (uint32_t i = 0; i < r->rec.n; i++) {
        const struct crdt_field *f = &r->rec.f[i];
        char key[CRDT_MAX_FIELD + 16];
        json_t *v = NULL;

        /* A name used with two kinds (possible without a schema) shows the
         * second as name#kind. */
        if (i && strcmp(r->rec.f[i - 1].name, f->name) == 0)
            snprintf(key, sizeof(key), "%s#%s", f->name, crdt_kind_name(f->kind));
        else
            snprintf(key, sizeof(key), "%s", f->name);
        switch (f->kind) {
        case CRDT_LWW: {
            const struct crdt_lww_entry *w = crdt_lww_winner(f);

            v = w ? cli_json_value(&w->v) : json_null();
            if (crdt_lww_conflict(f)) {
                json_t *arr = json_array();

                json_array_append_new(arr, cli_json_value(&w->v));
                for (uint32_t k = 0; k < f->u.lww.n; k++)
                    if (&f->u.lww.e[k] != w)
                        json_array_append_new(arr, cli_json_value(&f->u.lww.e[k].v));
                json_object_set_new(conf, key, arr);
            }
            break;
        }
        case CRDT_COUNTER: v = json_integer((json_int_t)f->u.counter); break;
        case CRDT_SET:
            v = json_array();
            for (uint32_t k = 0; k < f->u.set.n; k++)
                json_array_append_new(v, json_stringn(f->u.set.e[k].s, f->u.set.e[k].len));
            break;
        case CRDT_STATUS:
            v = json_string(status_label(r->type, f->name, f->u.status, buf, sizeof(buf)));
            if (f->u.status >> 8) {
                if (!rounds)
                    rounds = json_object();
                /* rounds count from 1 (the first, before any re-open) */
                json_object_set_new(rounds, key, json_integer((json_int_t)(f->u.status >> 8) + 1));
            }
            break;
        }
        json_object_set_new(fields, key, v ? v : json_null());
    }
    json_object_set_new(o, "fields", fields);
    json_object_set_new(o, "conflicts", conf);
    if (rounds)
        json_object_set_new(o, "rounds", rounds);
    return o;
}

static void print_record(const struct node_record *r)
{
    char buf[256];

    printf("%s %s  (%s)\n", r->type, r->id, r->scope);
    for (uint32_t i = 0; i < r->rec.n; i++) {
        const struct crdt_field *f = &r->rec.f[i];

        printf("  %-20s ", f->name);
        switch (f->kind) {
        case CRDT_LWW: {
            const struct crdt_lww_entry *w = crdt_lww_winner(f);

            printf("%s", w ? cli_value_text(&w->v, buf, sizeof(buf)) : "null");
            if (crdt_lww_conflict(f)) {
                printf("   [conflict: ");
                for (uint32_t k = 0; k < f->u.lww.n; k++)
                    printf("%s%s", k ? " | " : "",
                           cli_value_text(&f->u.lww.e[k].v, buf, sizeof(buf)));
                printf("]");
            }
            break;
        }
        case CRDT_COUNTER: printf("%lld", (long long)f->u.counter); break;
        case CRDT_SET:
            printf("{");
            for (uint32_t k = 0; k < f->u.set.n; k++)
                printf("%s%s", k ? ", " : "", f->u.set.e[k].s);
            printf("}");
            break;
        case CRDT_STATUS:
            printf("%s", status_label(r->type, f->name, f->u.status, buf, sizeof(buf)));
            if (f->u.status >> 8)
                printf(" (round %llu)", (unsigned long long)(f->u.status >> 8) + 1);
            break;
        }
        printf("\n");
    }
}

static int records_get(struct cli *c, int argc, char **argv)
{
    char *pos[2];
    int npos = 0, json = 0, rc, err;
    const char *scope = NULL;
    const struct cli_opt opts[] = {
        {"--json", 0, NULL, &json}, {"--scope", 1, &scope, NULL}, {NULL, 0, NULL, NULL}};
    struct node_store *s;
    struct node_record r;

    if (cli_wants_help(argc, argv)) {
        fputs(get_help, stdout);
        return CLI_OK;
    }
    if ((rc = cli_parse(argc, argv, opts, pos, 2, &npos)))
        return rc;
    if (npos != 2)
        return cli_usage("records get needs TYPE and ID");
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    err = node_get(s, scope, pos[0], pos[1], &r);
    node_close(s);
    if (err == TX_ENOTFOUND) {
        fprintf(stderr, "tongxin: %s %s: not found (or not readable on this node)\n", pos[0],
                pos[1]);
        return CLI_NOTFOUND;
    }
    if (err)
        return cli_fail(err, "read %s %s", pos[0], pos[1]);
    if (json)
        cli_json_print(record_json(&r));
    else
        print_record(&r);
    node_record_release(&r);
    return CLI_OK;
}

static int list_cb(const struct node_record *r, void *vctx)
{
    struct cli_list *lc = vctx;
    char nf[16], nc[16];
    uint32_t conflicts = 0;

    if (lc->json) {
        cli_list_add(lc, record_json(r));
        return 0;
    }
    for (uint32_t i = 0; i < r->rec.n; i++)
        if (crdt_lww_conflict(&r->rec.f[i]))
            conflicts++;
    snprintf(nf, sizeof(nf), "%u", r->rec.n);
    snprintf(nc, sizeof(nc), "%u", conflicts);
    {
        const char *row[] = {r->type, r->id, r->scope, nf, nc};
        cli_list_row(lc, row);
    }
    return 0;
}

static int records_list(struct cli *c, int argc, char **argv)
{
    char *pos[1];
    int npos = 0, rc, err;
    struct cli_list lc;
    const struct cli_opt opts[] = {{"--json", 0, NULL, &lc.json}, {NULL, 0, NULL, NULL}};
    static const char *const hdr[] = {"TYPE", "ID", "SCOPE", "FIELDS", "CONFLICTS"};
    struct node_store *s;

    memset(&lc, 0, sizeof(lc));
    if (cli_wants_help(argc, argv)) {
        fputs(list_help, stdout);
        return CLI_OK;
    }
    if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos)))
        return rc;
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    cli_list_begin(&lc, 5, hdr);
    err = node_records_each(s, npos ? pos[0] : NULL, list_cb, &lc);
    node_close(s);
    if (cli_list_end(&lc, err))
        return cli_fail(err, "list records");
    return CLI_OK;
}

struct hist_ctx {
    const char *type, *id;
    struct cli_list l;
};

static const char *opname(int code)
{
    switch (code) {
    case CRDT_OP_LWW_SET: return "set";
    case CRDT_OP_CTR_ADD: return "add";
    case CRDT_OP_SET_ADD: return "insert";
    case CRDT_OP_SET_REM: return "remove";
    case CRDT_OP_STATUS_SET: return "advance";
    default: return "?";
    }
}

static int hist_cb(const struct node_log_entry *e, void *vctx)
{
    struct hist_ctx *h = vctx;
    char hex[NODE_ID_HEX + 1], when[40], seq[24], vbuf[128], line[1024];
    size_t tl = strlen(h->type), il = strlen(h->id);
    json_t *ops = NULL;
    size_t off = 0;
    int hit = 0;

    if (!e->body)
        return 0;
    line[0] = '\0';
    for (uint32_t i = 0; i < e->body->nops; i++) {
        const struct crdt_op *op = &e->body->ops[i];

        if (op->type_len != tl || op->id_len != il || memcmp(op->type, h->type, tl) ||
            memcmp(op->id, h->id, il))
            continue;
        hit = 1;
        cli_value_text(&op->value, vbuf, sizeof(vbuf));
        if (h->l.json) {
            json_t *o = json_object();

            if (!ops)
                ops = json_array();
            json_object_set_new(o, "field", json_stringn(op->field, op->field_len));
            json_object_set_new(o, "op", json_string(opname(op->code)));
            json_object_set_new(o, "value", cli_json_value(&op->value));
            json_array_append_new(ops, o);
        } else if (off < sizeof(line)) {
            int n = snprintf(line + off, sizeof(line) - off, "%s%.*s %s %s", off ? "; " : "",
                             (int)op->field_len, op->field, opname(op->code), vbuf);
            off += n > 0 ? (size_t)n : 0;
        }
    }
    if (!hit)
        return 0;
    node_hex(e->origin, CRDT_KEY_BYTES, hex);
    cli_time(CRDT_HLC_MS(e->hlc), when, sizeof(when));
    if (h->l.json) {
        json_t *o = json_object();

        json_object_set_new(o, "origin", json_string(hex));
        json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
        json_object_set_new(o, "hlc", json_integer((json_int_t)e->hlc));
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "scope", json_string(e->scope));
        json_object_set_new(o, "ops", ops);
        cli_list_add(&h->l, o);
    } else {
        hex[NODE_SHORT_ID] = '\0';
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->seq);
        {
            const char *row[] = {when, hex, seq, line};
            cli_list_row(&h->l, row);
        }
    }
    return 0;
}

static int records_history(struct cli *c, int argc, char **argv)
{
    char *pos[2];
    int npos = 0, rc, err;
    struct hist_ctx h;
    const struct cli_opt opts[] = {{"--json", 0, NULL, &h.l.json}, {NULL, 0, NULL, NULL}};
    static const char *const hdr[] = {"TIME", "ORIGIN", "SEQ", "CHANGES"};
    struct node_store *s;

    memset(&h, 0, sizeof(h));
    if (cli_wants_help(argc, argv)) {
        fputs(history_help, stdout);
        return CLI_OK;
    }
    if ((rc = cli_parse(argc, argv, opts, pos, 2, &npos)))
        return rc;
    if (npos != 2)
        return cli_usage("records history needs TYPE and ID");
    h.type = pos[0];
    h.id = pos[1];
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    cli_list_begin(&h.l, 4, hdr);
    err = node_log_each(s, NULL, 1, hist_cb, &h);
    node_close(s);
    if (cli_list_end(&h.l, err))
        return cli_fail(err, "history %s %s", pos[0], pos[1]);
    return CLI_OK;
}

int cmd_records(struct cli *c, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fputs("usage: tongxin records put|get|list|history ...\n"
              "  (tongxin records put --help for each)\n",
              argc < 1 ? stderr : stdout);
        return argc < 1 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[0], "put") == 0)
        return records_put(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "get") == 0)
        return records_get(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "list") == 0)
        return records_list(c, argc - 1, argv + 1);
    if (strcmp(argv[0], "history") == 0)
        return records_history(c, argc - 1, argv + 1);
    return cli_usage("unknown records command '%s'", argv[0]);
}

/* ---- conflicts ---- */

static int conf_cb(const struct node_record *r, void *vctx)
{
    struct cli_list *cc = vctx;
    char buf[256];

    for (uint32_t i = 0; i < r->rec.n; i++) {
        const struct crdt_field *f = &r->rec.f[i];
        char vals[1024];
        size_t off = 0;

        if (!crdt_lww_conflict(f))
            continue;
        if (cc->json) {
            json_t *o = json_object(), *a = json_array();

            json_object_set_new(o, "scope", json_string(r->scope));
            json_object_set_new(o, "type", json_string(r->type));
            json_object_set_new(o, "id", json_string(r->id));
            json_object_set_new(o, "field", json_string(f->name));
            for (uint32_t k = 0; k < f->u.lww.n; k++)
                json_array_append_new(a, cli_json_value(&f->u.lww.e[k].v));
            json_object_set_new(o, "values", a);
            json_object_set_new(o, "winner", cli_json_value(&crdt_lww_winner(f)->v));
            cli_list_add(cc, o);
            continue;
        }
        vals[0] = '\0';
        for (uint32_t k = 0; k < f->u.lww.n && off < sizeof(vals); k++) {
            int n = snprintf(vals + off, sizeof(vals) - off, "%s%s", k ? " | " : "",
                             cli_value_text(&f->u.lww.e[k].v, buf, sizeof(buf)));
            off += n > 0 ? (size_t)n : 0;
        }
        {
            const char *row[] = {r->type, r->id, f->name, vals, r->scope};
            cli_list_row(cc, row);
        }
    }
    return 0;
}

int cmd_conflicts(struct cli *c, int argc, char **argv)
{
    char *pos[1];
    int npos = 0, rc, err;
    struct cli_list cc;
    const struct cli_opt opts[] = {{"--json", 0, NULL, &cc.json}, {NULL, 0, NULL, NULL}};
    static const char *const hdr[] = {"TYPE", "ID", "FIELD", "VALUES", "SCOPE"};
    struct node_store *s;

    memset(&cc, 0, sizeof(cc));
    if (cli_wants_help(argc, argv) || argc < 1 || strcmp(argv[0], "list") != 0) {
        int help = cli_wants_help(argc, argv);

        fputs("usage: tongxin conflicts list [--json]\n\nFields holding concurrent values "
              "(a later write that has seen them resolves them).\n",
              help ? stdout : stderr);
        return help ? CLI_OK : CLI_USAGE;
    }
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 0, &npos)))
        return rc;
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    cli_list_begin(&cc, 5, hdr);
    err = node_records_each(s, NULL, conf_cb, &cc);
    node_close(s);
    if (cli_list_end(&cc, err))
        return cli_fail(err, "conflicts");
    return CLI_OK;
}
