/* report.h - the hub's reports (report.c) and exports. */
#ifndef TONGXIN_CLI_REPORT_H
#define TONGXIN_CLI_REPORT_H

#include <unistd.h>

#include "out.h"

enum { REPORT_TABLE = 0, REPORT_JSON, REPORT_CSV, REPORT_JSONL };

/* Compute report `name` (coverage, cases, visits, rosters, elections,
 * freshness) over the records of s, for one community or all, and print it in
 * fmt to out. live (borrowed, may be NULL) is the running daemon's status JSON
 * (`tongxin status --json`): freshness then adds what only the daemon knows
 * (direct peers' last contact, envelopes connected peers hold beyond ours).
 * TX_ENOTFOUND for an unknown report. */
int cli_report(struct node_store *s, const char *name, const char *community, json_t *live, int fmt,
               FILE *out);

#endif
