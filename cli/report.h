/* report.h - the hub's reports (report.c) and exports. */
#ifndef TONGXIN_CLI_REPORT_H
#define TONGXIN_CLI_REPORT_H

#include <unistd.h>

#include "out.h"

enum { REPORT_TABLE = 0, REPORT_JSON, REPORT_CSV, REPORT_JSONL };

/* Compute report `name` (coverage, cases, visits, rosters, elections,
 * freshness) over the records of s, for one community or all, and print it in
 * fmt to out. TX_ENOTFOUND for an unknown report. */
int cli_report(struct node_store *s, const char *name, const char *community, int fmt, FILE *out);

#endif
