/* out.c - tables, widths, times and JSON for the command-line tools. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "out.h"

int cli_exit_code(int err)
{
    switch (err) {
    case TX_OK: return CLI_OK;
    case TX_ENOTINIT: return CLI_NOINIT;
    case TX_ENOTFOUND: return CLI_NOTFOUND;
    case TX_ECORRUPT:
    case TX_ECHECKSUM:
    case TX_ETRUNC:
    case TX_ESIG:
    case TX_ECHAIN: return CLI_INTEGRITY;
    case TX_ELOCKED:
    case TX_EBUSY: return CLI_BUSY;
    case TX_EINVAL:
    case TX_EKIND:
    case TX_EBACKWARD:
    case TX_ESCHEMA: return CLI_USAGE;
    default: return CLI_FAIL;
    }
}

/* Wide (2-column) code points: East Asian Wide and Fullwidth ranges. */
static int cp_width(uint32_t c)
{
    if (c == 0)
        return 0;
    if (c < 0x20 || (c >= 0x7f && c < 0xa0))
        return 0;
    if ((c >= 0x0300 && c <= 0x036f) || c == 0x200b || (c >= 0xfe00 && c <= 0xfe0f))
        return 0; /* combining marks, zero-width */
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) ||
        (c >= 0x3041 && c <= 0x33ff) || (c >= 0x3400 && c <= 0x4dbf) ||
        (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
        (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
        (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
        (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
        (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

size_t cli_width(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t w = 0;

    while (*s) {
        uint32_t c;
        int n;

        if (*s < 0x80) {
            c = *s;
            n = 1;
        } else if ((*s & 0xe0) == 0xc0) {
            c = *s & 0x1f;
            n = 2;
        } else if ((*s & 0xf0) == 0xe0) {
            c = *s & 0x0f;
            n = 3;
        } else if ((*s & 0xf8) == 0xf0) {
            c = *s & 0x07;
            n = 4;
        } else {
            w++;
            s++;
            continue;
        }
        for (int i = 1; i < n; i++) {
            if ((s[i] & 0xc0) != 0x80) {
                n = i;
                break;
            }
            c = (c << 6) | (s[i] & 0x3f);
        }
        w += (size_t)cp_width(c);
        s += n;
    }
    return w;
}

static void table_row(struct cli_table *t, size_t row, const char *const *cells)
{
    if ((row + 1) * t->ncols > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : t->ncols * 16;
        char **nc = realloc(t->cells, ncap * sizeof(*nc));

        if (!nc) {
            fprintf(stderr, "tongxin: out of memory\n");
            exit(CLI_FAIL);
        }
        t->cells = nc;
        t->cap = ncap;
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[row * t->ncols + i] = strdup(cells[i] ? cells[i] : "-");
}

void cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    table_row(t, 0, headers);
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    table_row(t, t->nrows + 1, cells);
    t->nrows++;
}

/* Aligned tables on a terminal, tab-separated otherwise; TONGXIN_TABLES=aligned
 * or =tsv overrides the guess (scripts, tests). */
static int aligned(FILE *out)
{
    const char *o = getenv("TONGXIN_TABLES");

    if (o && !strcmp(o, "aligned"))
        return 1;
    if (o && !strcmp(o, "tsv"))
        return 0;
    return isatty(fileno(out));
}

void cli_table_print(struct cli_table *t, FILE *out)
{
    int tty = aligned(out);
    size_t *w = calloc(t->ncols, sizeof(*w));
    size_t first = tty ? 0 : 1;

    if (!w)
        return;
    for (size_t r = 0; r <= t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t cw = cli_width(t->cells[r * t->ncols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    for (size_t r = first; r <= t->nrows; r++) {
        int bold = tty && r == 0 && cli_color(out);

        if (bold)
            fputs("\033[1m", out);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];

            fputs(cell, out);
            if (c + 1 == t->ncols)
                break;
            if (tty) {
                for (size_t p = cli_width(cell); p < w[c] + 2; p++)
                    fputc(' ', out);
            } else {
                fputc('\t', out);
            }
        }
        if (bold)
            fputs("\033[0m", out);
        fputc('\n', out);
    }
    free(w);
}

void cli_table_release(struct cli_table *t)
{
    for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

int cli_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");

    if (nc && *nc)
        return 0;
    return isatty(fileno(f));
}

uint64_t cli_now_ms(void)
{
    const char *o = getenv("TONGXIN_NOW_MS");
    struct timespec ts;

    if (o && *o)
        return strtoull(o, NULL, 10);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *cli_time(uint64_t ms, char *buf, size_t cap)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;

    if (!ms) {
        snprintf(buf, cap, "-");
        return buf;
    }
    gmtime_r(&sec, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
    return buf;
}

const char *cli_age(uint64_t now_ms, uint64_t then_ms, char *buf, size_t cap)
{
    uint64_t d;

    if (!then_ms) {
        snprintf(buf, cap, "never");
        return buf;
    }
    d = now_ms > then_ms ? (now_ms - then_ms) / 1000 : 0;
    if (d < 120)
        snprintf(buf, cap, "%llus", (unsigned long long)d);
    else if (d < 7200)
        snprintf(buf, cap, "%llum", (unsigned long long)(d / 60));
    else if (d < 172800)
        snprintf(buf, cap, "%lluh", (unsigned long long)(d / 3600));
    else
        snprintf(buf, cap, "%llud", (unsigned long long)(d / 86400));
    return buf;
}

void cli_json_print(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));

    if (s) {
        puts(s);
        free(s);
    }
    json_decref(v);
}

json_t *cli_json_value(const struct crdt_value *v)
{
    switch (v->type) {
    case CRDT_NIL: return json_null();
    case CRDT_BOOL: return json_boolean(v->i);
    case CRDT_INT: return json_integer((json_int_t)v->i);
    case CRDT_STR: return json_stringn(v->s, v->len);
    case CRDT_BIN: {
        char *hex = malloc(2 * (size_t)v->len + 1);
        json_t *j;

        if (!hex)
            return json_null();
        node_hex((const uint8_t *)v->s, v->len, hex);
        j = json_string(hex);
        free(hex);
        return j;
    }
    default: return json_null();
    }
}

const char *cli_value_text(const struct crdt_value *v, char *buf, size_t cap)
{
    switch (v->type) {
    case CRDT_NIL: snprintf(buf, cap, "null"); break;
    case CRDT_BOOL: snprintf(buf, cap, "%s", v->i ? "true" : "false"); break;
    case CRDT_INT: snprintf(buf, cap, "%lld", (long long)v->i); break;
    case CRDT_STR: snprintf(buf, cap, "%.*s", (int)v->len, v->s); break;
    case CRDT_BIN: snprintf(buf, cap, "<%u bytes>", (unsigned)v->len); break;
    default: snprintf(buf, cap, "?");
    }
    return buf;
}

static const char *const status_names[] = {"open", "assigned", "in_progress", "resolved", "closed"};

const char *cli_status_name(uint64_t status, char *buf, size_t cap)
{
    uint64_t rank = status & 0xff, round = status >> 8;

    if (rank < sizeof(status_names) / sizeof(status_names[0]))
        snprintf(buf, cap, "%s", status_names[rank]);
    else
        snprintf(buf, cap, "state%llu", (unsigned long long)rank);
    (void)round;
    return buf;
}

int cli_status_rank(const char *name)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (strcmp(name, status_names[i]) == 0)
            return (int)i;
    return -1;
}

void cli_csv_cell(FILE *f, const char *v)
{
    if (strpbrk(v, ",\"\r\n")) {
        fputc('"', f);
        for (; *v; v++) {
            if (*v == '"')
                fputc('"', f);
            fputc(*v, f);
        }
        fputc('"', f);
    } else {
        fputs(v, f);
    }
}

void cli_list_begin(struct cli_list *l, size_t ncols, const char *const *hdr)
{
    if (l->json)
        l->arr = json_array();
    else
        cli_table_init(&l->t, ncols, hdr);
}

void cli_list_row(struct cli_list *l, const char *const *cells)
{
    cli_table_add(&l->t, cells);
}

void cli_list_add(struct cli_list *l, json_t *o)
{
    json_array_append_new(l->arr, o);
}

int cli_list_end(struct cli_list *l, int err)
{
    if (l->json) {
        if (err)
            json_decref(l->arr);
        else
            cli_json_print(l->arr); /* takes the reference */
        l->arr = NULL;
        return err;
    }
    if (!err)
        cli_table_print(&l->t, stdout);
    cli_table_release(&l->t);
    return err;
}
