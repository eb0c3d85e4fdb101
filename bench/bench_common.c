/* bench_common.c - see bench_common.h. */
#include <dirent.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

struct result results[64];
int nresults;
const char *bench_name = "bench";
double g_scale = 1.0;
char load0[64], load1[64];
char g_tmp[PATH_MAX - 128];
double g_verify_best;
int g_verify_n;

void add(const char *key, const char *label, double value, const char *unit, double ratio,
         const char *of, const char *target, int met)
{
    struct result *r;

    if (nresults == (int)(sizeof(results) / sizeof(results[0])))
        return;
    r = &results[nresults++];
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(r->label, sizeof(r->label), "%s", label);
    r->value = value;
    snprintf(r->unit, sizeof(r->unit), "%s", unit);
    r->ratio = ratio;
    snprintf(r->of, sizeof(r->of), "%s", of ? of : "");
    snprintf(r->target, sizeof(r->target), "%s", target ? target : "");
    r->met = met;
    r->per_verify = 0;
    r->need_ratio = -1;
}

double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void die(const char *what, const char *why)
{
    fprintf(stderr, "%s: %s: %s\n", bench_name, what, why);
    exit(1); /* bench_sync's atexit stops its daemons and removes its scratch */
}

void check(int err, const char *what)
{
    if (err)
        die(what, tx_strerror(err));
}

void check_mdb(int rc, const char *what)
{
    if (rc)
        die(what, mdb_strerror(rc));
}

size_t scaled(size_t n, size_t min)
{
    double v = (double)n * g_scale;

    return v < (double)min ? min : (size_t)v;
}

void path(char *out, size_t cap, const char *name)
{
    if ((size_t)snprintf(out, cap, "%s/%s", g_tmp, name) >= cap)
        die("path", "scratch directory name too long");
}

void rm_rf(const char *p)
{
    DIR *d = opendir(p);
    struct dirent *de;

    if (!d) {
        unlink(p);
        return;
    }
    while ((de = readdir(d))) {
        char sub[PATH_MAX];

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", p, de->d_name) < sizeof(sub))
            rm_rf(sub);
    }
    closedir(d);
    rmdir(p);
}

void loadavg(char *out)
{
    FILE *f = fopen("/proc/loadavg", "r");

    out[0] = '\0';
    if (f) {
        double l[3];

        if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) == 3)
            snprintf(out, 64, "%.2f %.2f %.2f", l[0], l[1], l[2]);
        fclose(f);
    }
}

void verify_samples(int k)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES], msg[51];
    double len = 0.25 * (g_scale < 1 ? g_scale : 1);
    int bad = 0;

    if (len < 0.05)
        len = 0.05;
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof(msg));
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    for (int j = 0; j < k; j++) {
        double t0 = now_s(), t;
        uint64_t n = 0;

        do {
            for (int i = 0; i < 200; i++)
                bad |= crypto_sign_verify_detached(sig, msg, sizeof(msg), pk);
            n += 200;
            t = now_s() - t0;
        } while (t < len);
        if ((double)n / t > g_verify_best)
            g_verify_best = (double)n / t;
        g_verify_n++;
    }
    if (bad)
        die("verify", "signature did not verify");
}

int env_size(const struct node_log_entry *e, void *ctx)
{
    double *acc = ctx;

    acc[0] += (double)e->size;
    acc[1] += 1;
    return 0;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void print_json(FILE *f)
{
    fprintf(f, "{\"scale\": %g, \"tmp\": ", g_scale);
    json_str(f, g_tmp);
    fprintf(f, ", \"loadavg_before\": ");
    json_str(f, load0);
    fprintf(f, ", \"loadavg_after\": ");
    json_str(f, load1);
    fprintf(f, ", \"results\": {");
    for (int i = 0; i < nresults; i++) {
        const struct result *r = &results[i];

        fprintf(f, "%s\n  ", i ? "," : "");
        json_str(f, r->key);
        fprintf(f, ": {\"label\": ");
        json_str(f, r->label);
        fprintf(f, ", \"value\": %.6g, \"unit\": ", r->value);
        json_str(f, r->unit);
        if (r->ratio >= 0) {
            fprintf(f, ", \"ratio\": %.4g, \"ratio_of\": ", r->ratio);
            json_str(f, r->of);
        }
        if (r->met >= 0) {
            fprintf(f, ", \"target\": ");
            json_str(f, r->target);
            fprintf(f, ", \"met\": %s", r->met ? "true" : "false");
        }
        fputc('}', f);
    }
    fprintf(f, "\n}}\n");
}

void print_table(FILE *f, int of_w, int target_w)
{
    fprintf(f, "%s: scale %g; load average before: %s; after: %s\n", bench_name, g_scale, load0,
            load1);
    fprintf(f, "%-52s %12s %-4s %9s  %-*s %-*s %s\n", "figure", "value", "", "ratio", of_w, "of",
            target_w, "target", "met");
    for (int i = 0; i < nresults; i++) {
        const struct result *r = &results[i];
        char ratio[16] = "";

        if (r->ratio >= 0)
            snprintf(ratio, sizeof(ratio), "%.2fx", r->ratio);
        fprintf(f, "%-52s %12.*f %-4s %9s  %-*s %-*s %s\n", r->label,
                r->value < 100 && r->unit[0] ? 2 : 0, r->value, r->unit, ratio, of_w, r->of,
                target_w, r->target,
                r->met < 0 ? ""
                : r->met   ? "yes"
                           : "NO");
    }
}
