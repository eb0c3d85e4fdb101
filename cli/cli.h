/* cli.h - what the tongxin commands share: options, the data directory, errors. */
#ifndef TONGXIN_CLI_H
#define TONGXIN_CLI_H

#include "out.h"

struct cli {
    const char *dir; /* data directory (-D, $TONGXIN_DIR, XDG) */
    const char *prog;
};

struct cli_opt {
    const char *name; /* "--json", "-o" */
    int has_arg;
    const char **val; /* set for options with an argument */
    int *flag;        /* set to 1 for flags */
};

/* Parse argv (after the command words) against opts; positional arguments are
 * collected into pos (at most maxpos). Prints a usage error and returns
 * CLI_USAGE on an unknown option or a missing argument. */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, char **pos, int maxpos, int *npos);
/* One-line error on stderr: "tongxin: what: message". Returns the exit code. */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Open the store (read-only or read-write), with clear errors. */
int cli_open(struct cli *c, int readonly, struct node_store **s);
/* Whether argv asks for help. */
int cli_wants_help(int argc, char **argv);

/* Commands: argv[0] is the first word after the command's own words. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_id(struct cli *c, int argc, char **argv);
int cmd_records(struct cli *c, int argc, char **argv);
int cmd_conflicts(struct cli *c, int argc, char **argv);
int cmd_log(struct cli *c, int argc, char **argv);
int cmd_digest(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_bundle(struct cli *c, int argc, char **argv);
int cmd_keys(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_district(struct cli *c, int argc, char **argv);
int cmd_cert(struct cli *c, int argc, char **argv);
int cmd_certs(struct cli *c, int argc, char **argv);
int cmd_revoke(struct cli *c, int argc, char **argv);
int cmd_peers(struct cli *c, int argc, char **argv);
int cmd_sync(struct cli *c, int argc, char **argv);
int cmd_schema(struct cli *c, int argc, char **argv);
int cmd_report(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_demo(struct cli *c, int argc, char **argv);
/* Issue an enrolment file (prints its own errors; returns an exit code). */
int cli_issue(const char *ddir, const uint8_t node[CRDT_KEY_BYTES], const char *community, int role,
              const char *name, uint32_t days, uint8_t **blob, size_t *len);

#endif
