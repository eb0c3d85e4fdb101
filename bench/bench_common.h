/*
 * bench_common.h - what bench_store and bench_sync share: the table of
 * results (printed as a table and as JSON), the run's scale, scratch directory
 * and load averages, and small helpers. Single-threaded; every function that
 * fails exits the process (die) with the program's name.
 */
#ifndef TONGXIN_BENCH_COMMON_H
#define TONGXIN_BENCH_COMMON_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "node.h"

struct result {
    char key[48];
    char label[80];
    double value;
    char unit[16];
    double ratio; /* < 0: none */
    char of[40];  /* what the ratio is to */
    char target[24];
    int met;           /* -1: no target */
    int per_verify;    /* ratio to the verify rate, settled at the end of the run */
    double need_ratio; /* the target, for per_verify rows (< 0: none) */
};

extern struct result results[64];
extern int nresults;
extern const char *bench_name;     /* "bench_store", "bench_sync": prefixes messages */
extern double g_scale;             /* TX_BENCH_SCALE */
extern char load0[64], load1[64];  /* load average before and after */
extern char g_tmp[PATH_MAX - 128]; /* the scratch directory */
extern double g_verify_best;       /* best Ed25519 verify sample, /s */
extern int g_verify_n;             /* samples taken */

/* Append a row (dropped silently past 64). ratio < 0: none; met -1: no target. */
void add(const char *key, const char *label, double value, const char *unit, double ratio,
         const char *of, const char *target, int met);
double now_s(void); /* monotonic seconds */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *what, const char *why) __attribute__((noreturn));
void check(int err, const char *what);              /* die on a TX_E* error */
void check_mdb(int rc, const char *what);           /* die on an LMDB error */
size_t scaled(size_t n, size_t min);                /* n * g_scale, at least min */
void path(char *out, size_t cap, const char *name); /* g_tmp/name */
void rm_rf(const char *p);
void loadavg(char *out); /* "1.00 0.50 0.25" from /proc/loadavg, or "" */
/* k samples of about 0.25 s (× scale below 1) of Ed25519 verify of a 51-byte
 * message, keeping the best in g_verify_best. */
void verify_samples(int k);
/* node_log_each callback: acc[0] += bytes, acc[1] += 1. */
int env_size(const struct node_log_entry *e, void *ctx);
/* The rows as a table (of_w, target_w: column widths) and as one JSON object. */
void print_table(FILE *f, int of_w, int target_w);
void print_json(FILE *f);

#endif
