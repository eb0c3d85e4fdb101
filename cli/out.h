/*
 * out.h - output helpers shared by tongxin and tongxind: aligned tables on a
 * terminal (CJK text measured by display width), tab-separated when piped, JSON
 * through jansson, colour only on a terminal and never under NO_COLOR.
 */
#ifndef TONGXIN_CLI_OUT_H
#define TONGXIN_CLI_OUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "node.h"

/* Exit codes (docs/cli.md). */
enum {
    CLI_OK = 0,
    CLI_FAIL = 1,      /* the operation failed */
    CLI_USAGE = 2,     /* bad command line */
    CLI_NOINIT = 3,    /* no node in the data directory */
    CLI_NOTFOUND = 4,  /* the thing asked for does not exist */
    CLI_INTEGRITY = 5, /* verification failed, bundle corrupt */
    CLI_BUSY = 6,      /* data directory locked or daemon unreachable */
};

/* Map a TX_E* code to an exit code. */
int cli_exit_code(int err);

/* Display width of UTF-8 text in terminal columns (East Asian wide = 2). */
size_t cli_width(const char *s);

struct cli_table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major, nrows+1 rows (row 0: headers) */
};

void cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers);
/* Add a row of ncols strings (copied; NULL prints as "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Aligned columns with a header on a terminal; tab-separated, no header, when
 * out is not a terminal. TONGXIN_TABLES=aligned|tsv forces either. */
void cli_table_print(struct cli_table *t, FILE *out);
void cli_table_release(struct cli_table *t);

/* A listing: an aligned/TSV table, or with --json an array of objects. Set
 * json (the --json flag) before cli_list_begin; callbacks add rows with
 * cli_list_row or objects with cli_list_add (taking the reference), as json
 * says. cli_list_end prints it when err is 0, releases it always, and returns
 * err. */
struct cli_list {
    int json;
    json_t *arr;
    struct cli_table t;
};
void cli_list_begin(struct cli_list *l, size_t ncols, const char *const *hdr);
void cli_list_row(struct cli_list *l, const char *const *cells);
void cli_list_add(struct cli_list *l, json_t *o);
int cli_list_end(struct cli_list *l, int err);

/* Whether to colour output to this stream. */
int cli_color(FILE *f);

/* Now, in ms since the epoch; TONGXIN_NOW_MS overrides it (golden tests). */
uint64_t cli_now_ms(void);
/* ISO 8601 UTC of a millisecond timestamp into buf (at least 32 bytes). */
const char *cli_time(uint64_t ms, char *buf, size_t cap);
/* A human age ("3s", "5m", "2h", "4d") of now - then. */
const char *cli_age(uint64_t now_ms, uint64_t then_ms, char *buf, size_t cap);

/* Print a JSON value (compact, UTF-8) and a newline; takes the reference. */
void cli_json_print(json_t *v);
/* JSON for a crdt value. */
json_t *cli_json_value(const struct crdt_value *v);
/* Text for a crdt value (caller's buffer). */
const char *cli_value_text(const struct crdt_value *v, char *buf, size_t cap);

/* Default status state names (until a schema names them). */
const char *cli_status_name(uint64_t status, char *buf, size_t cap);
/* Parse a status state name into its rank; -1 if unknown. */
int cli_status_rank(const char *name);

/* One RFC 4180 field: quoted (quotes doubled) when it holds , " CR or LF. */
void cli_csv_cell(FILE *f, const char *v);

#endif
