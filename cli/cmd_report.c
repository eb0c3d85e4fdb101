/* cmd_report.c - tongxin report, tongxin export, tongxin demo load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "demo.h"
#include "report.h"
#include "status.h"

static int parse_fmt(const char *o, int allow_jsonl)
{
    if (!o || !strcmp(o, "table"))
        return REPORT_TABLE;
    if (!strcmp(o, "json"))
        return REPORT_JSON;
    if (!strcmp(o, "csv"))
        return REPORT_CSV;
    if (allow_jsonl && !strcmp(o, "jsonl"))
        return REPORT_JSONL;
    return -1;
}

int cmd_report(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin report NAME [--community ID] [-o table|json|csv]\n"
        "\n"
        "Reports computed from the records this node holds (on the hub: every\n"
        "community's), per community and for the district, each community row with\n"
        "the time of its newest data and how far behind now that is:\n"
        "  coverage    party-organisation coverage of property companies and owners'\n"
        "              committees, single-built vs joint-built\n"
        "  cases       problems raised, resolved, open; by category and platform\n"
        "  visits      visits, households reached, visits to elderly living alone, errands\n"
        "  rosters     grid, building and unit leaders, red stewards, registered members\n"
        "              per estate\n"
        "  elections   turnout and tally per election; ballots recorded differently\n"
        "  freshness   per community node: newest envelope, last contact, held, conflicts,\n"
        "              envelopes behind (with the daemon's view of its peers when it runs)\n"
        "--json is -o json.\n"
        "example: tongxin report coverage -o csv > coverage.csv\n";
    const char *comm = NULL, *o = NULL;
    int json = 0, npos, rc, err, fmt;
    const struct cli_opt opts[] = {{"--community", 1, &comm, NULL},
                                   {"-o", 1, &o, NULL},
                                   {"--json", 0, NULL, &json},
                                   {NULL, 0, NULL, NULL}};
    char *pos[1];
    struct node_store *s;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos)))
        return rc;
    if (npos != 1)
        return cli_usage("report needs a NAME: coverage, cases, visits, rosters, elections, "
                         "freshness");
    if ((fmt = json ? REPORT_JSON : parse_fmt(o, 0)) < 0)
        return cli_usage("-o: table, json or csv");
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    {
        /* freshness uses what the daemon knows, when it runs */
        const char *w[] = {"status"};
        char *text = NULL;
        json_t *live = NULL;

        if (!strcmp(pos[0], "freshness") && cli_ctl_simple(c->dir, w, 1, &text) == TX_OK && text) {
            json_error_t je;

            live = json_loads(text, 0, &je);
        }
        free(text);
        err = cli_report(s, pos[0], comm, live, fmt, stdout);
        json_decref(live);
    }
    node_close(s);
    if (err == TX_ENOTFOUND)
        return cli_usage("unknown report '%s': coverage, cases, visits, rosters, elections, "
                         "freshness",
                         pos[0]);
    if (err)
        return cli_fail(err, "report %s", pos[0]);
    return CLI_OK;
}

/* ---- export ---- */

struct export_ctx {
    const struct node_type_def *t;
    int fmt;
    FILE *out;
    json_t *arr;
    uint64_t n;
};

/* One field as text: the register's winner, the counter, the set joined by
 * ';', the status's state name. */
static void field_text(const struct node_field_def *fd, const struct crdt_record *r, char *buf,
                       size_t cap, int *conflict)
{
    const struct crdt_field *f = crdt_record_field(r, fd->name, strlen(fd->name), fd->kind);

    buf[0] = '\0';
    if (!f)
        return;
    switch (f->kind) {
    case CRDT_LWW: {
        const struct crdt_lww_entry *w = crdt_lww_winner(f);

        if (w && w->v.type != CRDT_NIL)
            cli_value_text(&w->v, buf, cap);
        if (crdt_lww_conflict(f))
            *conflict = 1;
        break;
    }
    case CRDT_COUNTER: snprintf(buf, cap, "%lld", (long long)f->u.counter); break;
    case CRDT_SET: {
        size_t off = 0;

        for (uint32_t k = 0; k < f->u.set.n && off + 2 < cap; k++) {
            int n = snprintf(buf + off, cap - off, "%s%s", k ? ";" : "", f->u.set.e[k].s);

            off += n > 0 ? (size_t)n : 0;
        }
        break;
    }
    case CRDT_STATUS: {
        uint64_t rank = f->u.status & 0xff;

        for (uint64_t k = 0; fd->enums && fd->enums[k]; k++)
            if (k == rank)
                snprintf(buf, cap, "%s", fd->enums[k]);
        break;
    }
    }
}

static int export_cb(const struct node_record *r, void *vctx)
{
    struct export_ctx *x = vctx;
    char buf[CRDT_MAX_STR + 1];
    char conflicts[512] = "";
    size_t coff = 0;

    x->n++;
    if (x->fmt == REPORT_CSV) {
        cli_csv_cell(x->out, r->scope);
        fputc(',', x->out);
        cli_csv_cell(x->out, r->id);
        for (size_t i = 0; i < x->t->nfields; i++) {
            int conflict = 0;

            field_text(&x->t->fields[i], &r->rec, buf, sizeof(buf), &conflict);
            fputc(',', x->out);
            cli_csv_cell(x->out, buf);
            if (conflict && coff < sizeof(conflicts) - 70)
                coff += (size_t)snprintf(conflicts + coff, sizeof(conflicts) - coff, "%s%s",
                                         coff ? ";" : "", x->t->fields[i].name);
        }
        fputc(',', x->out);
        cli_csv_cell(x->out, conflicts);
        fputs("\r\n", x->out);
        return 0;
    }
    {
        json_t *o = json_object(), *fields = json_object(), *conf = json_array();

        json_object_set_new(o, "type", json_string(r->type));
        json_object_set_new(o, "id", json_string(r->id));
        json_object_set_new(o, "scope", json_string(r->scope));
        for (size_t i = 0; i < x->t->nfields; i++) {
            const struct node_field_def *fd = &x->t->fields[i];
            const struct crdt_field *f =
                crdt_record_field(&r->rec, fd->name, strlen(fd->name), fd->kind);
            int conflict = 0;

            if (!f)
                continue;
            if (f->kind == CRDT_LWW) {
                const struct crdt_lww_entry *w = crdt_lww_winner(f);

                json_object_set_new(fields, fd->name, w ? cli_json_value(&w->v) : json_null());
                if (crdt_lww_conflict(f))
                    json_array_append_new(conf, json_string(fd->name));
            } else if (f->kind == CRDT_COUNTER) {
                json_object_set_new(fields, fd->name, json_integer((json_int_t)f->u.counter));
            } else if (f->kind == CRDT_SET) {
                json_t *a = json_array();

                for (uint32_t k = 0; k < f->u.set.n; k++)
                    json_array_append_new(a, json_string(f->u.set.e[k].s));
                json_object_set_new(fields, fd->name, a);
            } else {
                field_text(fd, &r->rec, buf, sizeof(buf), &conflict);
                json_object_set_new(fields, fd->name, json_string(buf));
            }
        }
        json_object_set_new(o, "fields", fields);
        json_object_set_new(o, "conflicts", conf);
        if (x->fmt == REPORT_JSONL) {
            char *s = json_dumps(o, JSON_COMPACT);

            if (s) {
                fputs(s, x->out);
                fputc('\n', x->out);
                free(s);
            }
            json_decref(o);
        } else {
            json_array_append_new(x->arr, o);
        }
    }
    return 0;
}

int cmd_export(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin export TYPE [-o json|jsonl|csv] [-O FILE]\n"
        "\n"
        "Every record of TYPE this node reads, for spreadsheets and scripts. CSV is RFC\n"
        "4180 in UTF-8 (CRLF line ends): scope, id, one column per schema field (a\n"
        "register's winning value, a counter's sum, a set joined by ';', a status's\n"
        "state) and a last column naming the fields in conflict. -o defaults to csv.\n"
        "example: tongxin export case -o csv -O cases.csv\n";
    const char *o = NULL, *file = NULL;
    const struct cli_opt opts[] = {
        {"-o", 1, &o, NULL}, {"-O", 1, &file, NULL}, {NULL, 0, NULL, NULL}};
    struct export_ctx x;
    char *pos[1];
    int npos, rc, err;
    struct node_store *s;

    memset(&x, 0, sizeof(x));
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos)))
        return rc;
    if (npos != 1)
        return cli_usage("export needs a TYPE (tongxin schema lists them)");
    if (!(x.t = node_schema_type(pos[0])))
        return cli_usage("unknown record type '%s'", pos[0]);
    if ((x.fmt = o ? parse_fmt(o, 1) : REPORT_CSV) < 0 || x.fmt == REPORT_TABLE)
        return cli_usage("-o: json, jsonl or csv");
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    x.out = stdout;
    if (file && !(x.out = fopen(file, "w"))) {
        node_close(s);
        fprintf(stderr, "tongxin: export: %s: %s\n", file, strerror(errno));
        return CLI_FAIL;
    }
    if (x.fmt == REPORT_CSV) {
        fputs("scope,id", x.out);
        for (size_t i = 0; i < x.t->nfields; i++)
            fprintf(x.out, ",%s", x.t->fields[i].name);
        fputs(",conflicts\r\n", x.out);
    } else if (x.fmt == REPORT_JSON) {
        x.arr = json_array();
    }
    err = node_records_each(s, pos[0], export_cb, &x);
    node_close(s);
    if (!err && x.fmt == REPORT_JSON) {
        char *js = json_dumps(x.arr, JSON_COMPACT);

        if (js) {
            fputs(js, x.out);
            fputc('\n', x.out);
            free(js);
        }
    }
    json_decref(x.arr);
    if (file && fclose(x.out) && !err)
        err = TX_EIO;
    if (err)
        return cli_fail(err, "export %s", pos[0]);
    if (file)
        fprintf(stderr, "tongxin: exported %llu %s records to %s\n", (unsigned long long)x.n,
                pos[0], file);
    return CLI_OK;
}

/* ---- demo load ---- */

struct load_ctx {
    const char *dir;
    struct node_store *st; /* direct, when no daemon runs */
    uint64_t envelopes;
};

static int load_emit(void *vctx, const char *scope, const struct node_change *ch, size_t n)
{
    struct load_ctx *l = vctx;
    char why[512];
    int err = node_schema_check(ch, n, why, sizeof(why));

    if (err) {
        fprintf(stderr, "tongxin: demo load: %s\n", why);
        return err;
    }
    l->envelopes++;
    if (l->st)
        return node_write(l->st, scope, ch, n, NULL);
    {
        int handled;

        return cli_ctl_put(l->dir, scope, ch, n, 0, NULL, &handled);
    }
}

int cmd_demo(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin demo load [--seed S] [--community ID]\n"
        "\n"
        "Write this node's community's part of the realistic data set: a district of four\n"
        "communities (xidajie 西大街社区, fulin 抚临社区, bojin 铂金水岸社区, gongyuan\n"
        "公园社区) sized by the Linchuan report: 120 property companies (5 with a party\n"
        "organisation), 155 owners' committees (16), 2,089 problems resolved through\n"
        "consultation platforms, Sunshine City estate with 103 buildings and 2,763\n"
        "households and its 337 three leaders, a year of visits, cases and meetings.\n"
        "Deterministic from the seed. Goes through the daemon when one runs.\n"
        "--community: a hub may load a community's data itself.\n";
    const char *seed_s = NULL, *comm = NULL;
    const struct cli_opt opts[] = {
        {"--seed", 1, &seed_s, NULL}, {"--community", 1, &comm, NULL}, {NULL, 0, NULL, NULL}};
    struct load_ctx l;
    struct demo_stats st;
    struct node_info info;
    struct node_store *s;
    uint64_t seed = 1;
    char *pos[1];
    int npos, rc, err, fd;

    memset(&l, 0, sizeof(l));
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if (argc < 1 || strcmp(argv[0], "load") != 0)
        return cli_usage("demo load [--seed S] [--community ID]");
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 0, &npos)))
        return rc;
    if (seed_s) {
        char *end;

        errno = 0;
        seed = strtoull(seed_s, &end, 0);
        if (*seed_s < '0' || *seed_s > '9' || errno || *end)
            return cli_usage("--seed needs a number");
    }
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    node_info(s, &info);
    node_close(s);
    if (!comm)
        comm = info.community;
    if (info.role == NODE_ROLE_OFFICE && strcmp(comm, info.community))
        return cli_usage("an office loads its own community (%s)", info.community);
    if (!demo_community_name(comm))
        return cli_usage("the data set has communities xidajie, fulin, bojin and gongyuan, "
                         "not '%s'",
                         comm);
    l.dir = c->dir;
    if (cli_ctl_connect(c->dir, &fd) == TX_OK) {
        close(fd);
    } else if ((rc = cli_open(c, 0, &l.st))) {
        return rc;
    }
    err = demo_generate(comm, seed, load_emit, &l, &st);
    if (l.st)
        node_close(l.st);
    if (err)
        return cli_fail(err, "demo load");
    printf("loaded %llu records (%llu changes in %llu envelopes) for %s %s\n",
           (unsigned long long)st.records, (unsigned long long)st.changes,
           (unsigned long long)l.envelopes, comm, demo_community_name(comm));
    return CLI_OK;
}
