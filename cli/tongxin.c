/*
 * tongxin - the operator's command-line tool.
 *
 *   tongxin [-D DIR] COMMAND [ARGS...]
 *
 * Read commands open the store read-only (they work beside a running daemon);
 * writes take LMDB's writer lock. Errors go to stderr as one line; exit codes
 * are in docs/cli.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: tongxin [-D DIR] COMMAND [ARGS...]\n"
    "\n"
    "Offline-first sync node for community governance records.\n"
    "\n"
    "Commands:\n"
    "  init --community ID --role office|hub|relay [--name NAME] [--district DIR]\n"
    "                                       create a node (and enrol it)\n"
    "  id [--json]                          print this node's id\n"
    "  records put TYPE ID FIELD=VALUE...   write a record (durable on return)\n"
    "  records get TYPE ID [--json]         read a record\n"
    "  records list [TYPE] [--json]         list records\n"
    "  records history TYPE ID [--json]     envelopes that changed a record\n"
    "  conflicts list [--json]              fields with concurrent values\n"
    "  log [--origin ID] [--json]           stored envelopes\n"
    "  digest [--log]                       state digest (or log digest)\n"
    "  verify                               re-check every signature and chain\n"
    "  bundle export FILE [--for NODE_ID]   write envelopes to a file\n"
    "  bundle import FILE [--json]          read envelopes from a file\n"
    "  keys list|export|import              scope keys\n"
    "  status [--json]                      node, peers, origins and sync state\n"
    "  peers add|remove HOST:PORT, peers list   the daemon's peers\n"
    "  sync now                             exchange vectors with every peer now\n"
    "  schema [TYPE] [--json|--markdown]    the record types and fields\n"
    "  report NAME [-o table|json|csv]      coverage, cases, visits, rosters, elections,\n"
    "                                       freshness\n"
    "  export TYPE [-o json|jsonl|csv]      records for spreadsheets\n"
    "  demo load [--seed S]                 load the realistic data set\n"
    "  district init --out DIR              create a district (root key, network key)\n"
    "  cert issue|install                   enrol a node in the district\n"
    "  certs list [--json]                  nodes known, role, validity\n"
    "  revoke --district DIR NODE_ID ...    cut a node off and rotate its keys\n"
    "\n"
    "Options:\n"
    "  -D DIR       data directory (default: $TONGXIN_DIR, else\n"
    "               $XDG_DATA_HOME/tongxin or ~/.local/share/tongxin)\n"
    "  -h, --help   help; COMMAND --help for a command's help\n"
    "  --version    print the version\n";

int cli_fail(int err, const char *fmt, ...)
{
    va_list ap;

    fputs("tongxin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", tx_strerror(err));
    return cli_exit_code(err);
}

int cli_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("tongxin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see tongxin --help)\n", stderr);
    return CLI_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, char **pos, int maxpos, int *npos)
{
    int only_pos = 0;

    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const struct cli_opt *o;
        const char *eq;
        size_t nlen;

        if (only_pos || a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9')) {
            if (*npos >= maxpos)
                return cli_usage("unexpected argument '%s'", a);
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        eq = strchr(a, '=');
        nlen = eq ? (size_t)(eq - a) : strlen(a);
        for (o = opts; o && o->name; o++)
            if (strlen(o->name) == nlen && strncmp(o->name, a, nlen) == 0)
                break;
        if (!o || !o->name)
            return cli_usage("unknown option '%.*s'", (int)nlen, a);
        if (o->has_arg) {
            if (eq) {
                *o->val = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return cli_usage("option '%s' needs a value", o->name);
                *o->val = argv[++i];
            }
        } else {
            if (eq)
                return cli_usage("option '%s' takes no value", o->name);
            *o->flag = 1;
        }
    }
    return CLI_OK;
}

int cli_open(struct cli *c, int readonly, struct node_store **s)
{
    int err = node_open(c->dir, readonly ? NODE_OPEN_READONLY : 0, NULL, s);

    if (err == TX_ENOTINIT)
        return cli_fail(err, "%s", c->dir), CLI_NOINIT;
    if (err == TX_EINVAL)
        return cli_fail(err, "%s/node.key must be readable by its owner only (chmod 600)", c->dir);
    if (err)
        return cli_fail(err, "open %s", c->dir);
    return CLI_OK;
}

static char dirbuf[4096];

static const char *default_dir(void)
{
    const char *d = getenv("TONGXIN_DIR");
    const char *x = getenv("XDG_DATA_HOME");
    const char *h = getenv("HOME");

    if (d && *d)
        return d;
    if (x && *x)
        snprintf(dirbuf, sizeof(dirbuf), "%s/tongxin", x);
    else
        snprintf(dirbuf, sizeof(dirbuf), "%s/.local/share/tongxin", h && *h ? h : ".");
    return dirbuf;
}

struct command {
    const char *name;
    int (*fn)(struct cli *c, int argc, char **argv);
};

static const struct command commands[] = {
    {"init", cmd_init},
    {"id", cmd_id},
    {"records", cmd_records},
    {"conflicts", cmd_conflicts},
    {"log", cmd_log},
    {"digest", cmd_digest},
    {"verify", cmd_verify},
    {"bundle", cmd_bundle},
    {"keys", cmd_keys},
    {"status", cmd_status},
    {"district", cmd_district},
    {"cert", cmd_cert},
    {"certs", cmd_certs},
    {"revoke", cmd_revoke},
    {"peers", cmd_peers},
    {"sync", cmd_sync},
    {"schema", cmd_schema},
    {"report", cmd_report},
    {"export", cmd_export},
    {"demo", cmd_demo},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    struct cli c = {NULL, "tongxin"};
    int i = 1;

    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-D") == 0) {
            if (i + 1 >= argc)
                return cli_usage("-D needs a directory");
            c.dir = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "-D", 2) == 0) {
            c.dir = argv[i] + 2;
            i++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("tongxin %s (protocol %d, storage schema %d)\n", TONGXIN_VERSION,
                   net_protocol_version(), NODE_SCHEMA_VERSION);
            return CLI_OK;
        } else {
            return cli_usage("unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (!c.dir)
        c.dir = default_dir();
    for (const struct command *cmd = commands; cmd->name; cmd++)
        if (strcmp(argv[i], cmd->name) == 0)
            return cmd->fn(&c, argc - i - 1, argv + i + 1);
    return cli_usage("unknown command '%s'", argv[i]);
}
