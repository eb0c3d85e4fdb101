/*
 * bench_store.c - Tongxin's store benchmarks and the building-block limits they
 * are judged against, all measured in one run, on one core, in a scratch
 * directory on the disk under test.
 *
 *   (a) limit: Ed25519 verifications/s (crypto_sign_verify_detached of a
 *       51-byte message: what node__sign_verify checks, a context string and a
 *       BLAKE2b-256), sampled 11 times through the run, the best sample taken;
 *       sign, BLAKE2b-256 and XChaCha20-Poly1305 of 256 bytes for context.
 *   (b) limit: LMDB alone with a normal (synced) environment: puts in
 *       transactions of 10,000 with sequential keys (MDB_APPEND) and with random
 *       keys; the durable commit of a single put; and, for comparison, of one put
 *       in each of 3 and of 6 named databases.
 *   (c) node_write (one envelope per durable commit) against the single-put
 *       commit, measured one commit of each kind in turn so that the disk's
 *       slow phases hit each alike; node_write_batch of 100 envelopes, new
 *       records in key order and updates of random existing records.
 *   (d) node_ingest, 1,000 envelopes per call, of envelopes written by real
 *       source stores (node_write_batch) and exported with node_log_each, into
 *       fresh stores, against (a)'s verify rate:
 *         catch-up     20 origins x 5,000, grouped by origin: each call is one
 *                      run of 1,000 consecutive envelopes (one signature);
 *                      also as one node_ingest_many call in batches of 1,000
 *                      (what bundle import does), with its second thread and
 *                      on one thread (TONGXIN_VERIFY_THREADS=1);
 *         round-robin  the same envelopes interleaved over the 20 origins: each
 *                      call holds 20 runs of 50;
 *         one/origin   1,000 origins x 20, interleaved so that each call holds
 *                      exactly one envelope of every origin (one signature per
 *                      envelope: the verify-bound case).
 *       Scope "general:bench" (encrypted; source 0 creates the key and shares it
 *       with node_key_wrap / node_key_import, so every sink decrypts and
 *       applies) and scope "public" (plaintext) for the 20-origin runs.
 *   Each (c)/(d) figure also reports CPU time (user + kernel) and the bytes the
 *   process wrote (/proc/self/io wchar) per commit or per envelope.
 *
 * Every store gets a 1 GiB map at open (node_set_map_limits), so no map growth
 * (and redone transaction) falls inside a timed section.
 *
 * Usage: bench_store [--json | --json=FILE] [--dir DIR] [--only bcdm]
 *   --json       print the figures as one JSON object instead of the table
 *   --json=FILE  print the table and also write the JSON object to FILE
 *   --dir DIR    scratch directory (default $TX_BENCH_TMP, $TMPDIR or /tmp); the
 *                disk under it is what the LMDB figures measure
 *   --only bcdm  run only these sections (d: the 20-origin ingest runs, m: the
 *                1000-origin one); (a) always runs: the others need it
 * TX_BENCH_SCALE (default 1) multiplies every count but the 1,000 origins of the
 * one-per-origin case. Progress goes to stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "node.h"

#define LMDB_BATCH   10000 /* puts per transaction in the batched LMDB figures */
#define LMDB_VALUE   256   /* bytes per LMDB value: about one envelope */
#define WRITE_BATCH  100   /* envelopes per node_write_batch commit */
#define INGEST_BATCH 1000  /* envelopes per node_ingest call */
#define MANY_ORIGINS 1000  /* origins of the one-envelope-per-origin interleaving */
#define RECORDS_PER  1000  /* records each source origin updates */
#define BIG_MAP      ((size_t)1 << 30)
#define MAX_MAP      ((size_t)1 << 40)

/* ---- results ---- */

static const struct result *find(const char *key)
{
    for (int i = 0; i < nresults; i++)
        if (strcmp(results[i].key, key) == 0)
            return &results[i];
    return NULL;
}

/* ---- small helpers ---- */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p)
        die("calloc", "out of memory");
    return p;
}

/* Bytes this process passed to write(2)-like calls (/proc/self/io wchar): what
 * LMDB writes per commit, pages and meta included. */
static uint64_t wchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    uint64_t v = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "wchar:", 6) == 0)
            v = strtoull(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time, CPU time and bytes written over the measured sections. */
struct meter {
    double wall, cpu;
    uint64_t bytes;
    double w0, c0;
    uint64_t b0;
};

static void meter_start(struct meter *m)
{
    m->b0 = wchar();
    m->c0 = cpu_s();
    m->w0 = now_s();
}

static void meter_stop(struct meter *m)
{
    m->wall += now_s() - m->w0;
    m->cpu += cpu_s() - m->c0;
    m->bytes += wchar() - m->b0;
}

/* ---- (a) crypto limits ---- */

/* The verify rate is "the limit" the ingest figures are judged against. A
 * single core of a shared machine is sometimes busy with something else, so it
 * is sampled several times during the run (0.25 s each, at the start, before
 * and after the ingest runs) and the best sample is the limit: conservative
 * for the ratios. */

/* Settle the verify rate and every ratio to it. */
static void verify_settle(void)
{
    char label[80];

    snprintf(label, sizeof(label), "Ed25519 verify (51-byte msg), best of %d", g_verify_n);
    for (int i = 0; i < nresults; i++) {
        struct result *r = &results[i];

        if (strcmp(r->key, "verify_per_s") == 0) {
            r->value = g_verify_best;
            snprintf(r->label, sizeof(r->label), "%s", label);
        }
        if (!r->per_verify)
            continue;
        r->ratio = r->value / g_verify_best;
        if (r->need_ratio >= 0)
            r->met = r->ratio >= r->need_ratio;
    }
}

static void bench_crypto(void)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES], msg[51], buf[256], out[256 + 16], h[32];
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned long long clen;
    double t0, t, min = 0.5 * (g_scale < 1 ? g_scale : 1);
    uint64_t n = 0;
    volatile int bad = 0;

    progress("(a) Ed25519 verify, BLAKE2b, XChaCha20-Poly1305");
    verify_samples(5);
    add("verify_per_s", "Ed25519 verify (51-byte msg)", g_verify_best, "/s", -1, NULL, NULL, -1);
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof(msg));
    t0 = now_s();
    do {
        for (int i = 0; i < 500; i++)
            crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
        n += 500;
        t = now_s() - t0;
    } while (t < min);
    add("sign_per_s", "Ed25519 sign (51-byte msg)", (double)n / t, "/s", -1, NULL, NULL, -1);
    randombytes_buf(buf, sizeof(buf));
    n = 0;
    t0 = now_s();
    do {
        for (int i = 0; i < 5000; i++) {
            crypto_generichash(h, sizeof(h), buf, sizeof(buf), NULL, 0);
            buf[0] ^= h[0];
        }
        n += 5000;
        t = now_s() - t0;
    } while (t < min / 4);
    add("blake2b_256B_per_s", "BLAKE2b-256 of 256 bytes", (double)n / t, "/s", -1, NULL, NULL, -1);
    randombytes_buf(key, sizeof(key));
    randombytes_buf(nonce, sizeof(nonce));
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, buf, sizeof(buf), NULL, 0, NULL, nonce,
                                               key);
    n = 0;
    t0 = now_s();
    do {
        for (int i = 0; i < 2000; i++) {
            unsigned long long plen;

            bad |= crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &plen, NULL, out, clen, NULL, 0,
                                                              nonce, key);
        }
        n += 2000;
        t = now_s() - t0;
    } while (t < min / 4);
    if (bad)
        die("decrypt", "did not authenticate");
    add("xchacha_open_256B_per_s", "XChaCha20-Poly1305 open of 256 bytes", (double)n / t, "/s", -1,
        NULL, NULL, -1);
}

/* ---- (b) LMDB limits ---- */

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* n puts in transactions of LMDB_BATCH; returns seconds (commits included). */
static double lmdb_batched(MDB_env *env, MDB_dbi dbi, size_t n, int random_keys)
{
    uint8_t k[12] = {0}, v[LMDB_VALUE];
    MDB_val key = {sizeof(k), k}, val = {sizeof(v), v};
    MDB_txn *txn = NULL;
    double t0 = now_s();

    randombytes_buf(v, sizeof(v));
    for (size_t i = 0; i < n; i++) {
        if (!txn)
            check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        if (random_keys)
            randombytes_buf(k, sizeof(k));
        else
            be64(k + 4, i + 1);
        v[0] = (uint8_t)i;
        check_mdb(mdb_put(txn, dbi, &key, &val, random_keys ? 0 : MDB_APPEND), "mdb_put");
        if ((i + 1) % LMDB_BATCH == 0 || i + 1 == n) {
            check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
            txn = NULL;
        }
    }
    return now_s() - t0;
}

static void bench_lmdb(void)
{
    char dir[PATH_MAX];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi seq, rnd, one;
    size_t nseq = scaled(200000, LMDB_BATCH), nrnd = scaled(200000, LMDB_BATCH);
    double t;

    progress("(b) LMDB: %zu sequential, %zu random puts in txns of %d", nseq, nrnd, LMDB_BATCH);
    path(dir, sizeof(dir), "lmdb");
    rm_rf(dir);
    if (mkdir(dir, 0700))
        die(dir, strerror(errno));
    check_mdb(mdb_env_create(&env), "mdb_env_create");
    check_mdb(mdb_env_set_mapsize(env, (size_t)8 << 30), "mdb_env_set_mapsize");
    check_mdb(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs");
    /* A normal environment: every commit is synced (no MDB_NOSYNC/NOMETASYNC). */
    check_mdb(mdb_env_open(env, dir, MDB_NOTLS, 0600), "mdb_env_open");
    check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    check_mdb(mdb_dbi_open(txn, "seq", MDB_CREATE, &seq), "mdb_dbi_open");
    check_mdb(mdb_dbi_open(txn, "rnd", MDB_CREATE, &rnd), "mdb_dbi_open");
    check_mdb(mdb_dbi_open(txn, "one", MDB_CREATE, &one), "mdb_dbi_open");
    check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");

    t = lmdb_batched(env, seq, nseq, 0);
    add("lmdb_seq_put_per_s", "LMDB put, sequential keys, 10k/txn", (double)nseq / t, "/s", -1,
        NULL, NULL, -1);
    t = lmdb_batched(env, rnd, nrnd, 1);
    add("lmdb_rand_put_per_s", "LMDB put, random keys, 10k/txn", (double)nrnd / t, "/s",
        (double)nrnd / t / find("lmdb_seq_put_per_s")->value, "sequential keys", NULL, -1);
    add("lmdb_rand_commit_ms", "  ms per 10k random-key txn",
        t * 1000.0 / (double)(nrnd / LMDB_BATCH), "ms", -1, NULL, NULL, -1);

    mdb_env_close(env);
    rm_rf(dir);
}

/* ---- nodes ---- */

static void node_new(const char *name, uint8_t id[CRDT_KEY_BYTES])
{
    struct node_init_opts o = {"bench", NODE_ROLE_OFFICE, NULL};
    char dir[PATH_MAX];
    struct node_store *s;
    struct node_info info;

    path(dir, sizeof(dir), name);
    rm_rf(dir);
    check(node_init(dir, &o, NULL), "node_init");
    if (id) {
        check(node_open(dir, 0, NULL, &s), "node_open");
        node_info(s, &info);
        memcpy(id, info.id, CRDT_KEY_BYTES);
        node_close(s);
    }
}

static struct node_store *node_at(const char *name)
{
    char dir[PATH_MAX];
    struct node_store *s;

    path(dir, sizeof(dir), name);
    check(node_open(dir, 0, NULL, &s), "node_open");
    /* A large map from the start: no map growth (and redone transaction)
     * inside a timed section. */
    check(node_set_map_limits(s, BIG_MAP, MAX_MAP), "node_set_map_limits");
    return s;
}

static void node_drop(struct node_store *s, const char *name)
{
    char dir[PATH_MAX];

    node_close(s);
    path(dir, sizeof(dir), name);
    rm_rf(dir);
}

/* One change: a name on a case record. */
static void change(struct node_change *c, const char *id, const char *val)
{
    memset(c, 0, sizeof(*c));
    c->type = "case";
    c->id = id;
    c->field = "name";
    c->code = CRDT_OP_LWW_SET;
    c->value.type = CRDT_STR;
    c->value.s = val;
    c->value.len = (uint32_t)strlen(val);
}

/* ---- (c) local writes ---- */

/* A put of LMDB_VALUE bytes in each of ndb named databases, one durable commit. */
static void lmdb_commit(MDB_env *env, const MDB_dbi *dbi, int ndb, uint64_t i)
{
    uint8_t k[12] = {0}, v[LMDB_VALUE];
    MDB_val key = {sizeof(k), k}, val = {sizeof(v), v};
    MDB_txn *txn;

    memset(v, (int)i, sizeof(v));
    be64(k + 4, i);
    check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    for (int d = 0; d < ndb; d++)
        check_mdb(mdb_put(txn, dbi[d], &key, &val, MDB_APPEND), "mdb_put");
    check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
}

/* Durable commits, measured in alternating blocks so that a slow phase of the
 * disk hits each kind alike: LMDB's single-put commit (the limit); LMDB's
 * commit of one put in each of 3 and of 6 named databases (node_write's page
 * pattern is 6: log, arrival, scope log, record, origin and meta, each a B-tree
 * whose root the main database records, so every one adds pages to the commit);
 * and node_write of one envelope. */
static void bench_commits(struct node_store *s, const char *scope, uint32_t *next)
{
    enum { ROUNDS = 10, KINDS = 4 };
    static const int ndb[KINDS - 1] = {1, 3, 6}, first[KINDS - 1] = {0, 1, 4};
    size_t per = scaled(3000, 300) / ROUNDS;
    char dir[PATH_MAX], id[24], val[48];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi[10]; /* db0: 1-db figure; db1..3: 3-db; db4..9: 6-db */
    struct node_change ch;
    struct meter m[KINDS];
    double commit, n, r;
    uint64_t seq[KINDS] = {0};

    memset(m, 0, sizeof(m));
    progress("(b,c) durable commits: %zu each of LMDB 1-db, 3-db, 6-db and node_write, "
             "interleaved",
             per * ROUNDS);
    path(dir, sizeof(dir), "lmdb-commit");
    rm_rf(dir);
    if (mkdir(dir, 0700))
        die(dir, strerror(errno));
    check_mdb(mdb_env_create(&env), "mdb_env_create");
    check_mdb(mdb_env_set_mapsize(env, BIG_MAP), "mdb_env_set_mapsize");
    check_mdb(mdb_env_set_maxdbs(env, 12), "mdb_env_set_maxdbs");
    /* A normal environment: every commit is synced (no MDB_NOSYNC/NOMETASYNC). */
    check_mdb(mdb_env_open(env, dir, MDB_NOTLS, 0600), "mdb_env_open");
    check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    for (int d = 0; d < 10; d++) {
        char name[8];

        snprintf(name, sizeof(name), "db%d", d);
        check_mdb(mdb_dbi_open(txn, name, MDB_CREATE, &dbi[d]), "mdb_dbi_open");
    }
    check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
    /* One commit of each kind in turn (the order rotating), each timed on its
     * own: a slow phase of the disk or a busy core hits every kind alike. */
    for (size_t i = 0; i < per * ROUNDS; i++) {
        for (int j = 0; j < KINDS; j++) {
            int k = (int)((i + (size_t)j) % KINDS);
            double w0 = now_s(), c0 = cpu_s();

            if (k < KINDS - 1) {
                lmdb_commit(env, dbi + first[k], ndb[k], ++seq[k]);
            } else {
                snprintf(id, sizeof(id), "c%07u", *next);
                snprintf(val, sizeof(val), "Name %u of a person, district bench", *next);
                (*next)++;
                change(&ch, id, val);
                check(node_write(s, scope, &ch, 1, NULL), "node_write");
            }
            m[k].wall += now_s() - w0;
            m[k].cpu += cpu_s() - c0;
        }
    }
    /* Bytes per commit, from /proc/self/io over a block of each kind. */
    for (int k = 0; k < KINDS; k++) {
        struct meter b;

        memset(&b, 0, sizeof(b));
        meter_start(&b);
        for (size_t i = 0; i < 50; i++) {
            if (k < KINDS - 1) {
                lmdb_commit(env, dbi + first[k], ndb[k], ++seq[k]);
            } else {
                snprintf(id, sizeof(id), "c%07u", *next);
                snprintf(val, sizeof(val), "Name %u of a person, district bench", *next);
                (*next)++;
                change(&ch, id, val);
                check(node_write(s, scope, &ch, 1, NULL), "node_write");
            }
        }
        meter_stop(&b);
        m[k].bytes = b.bytes * per * ROUNDS / 50;
    }
    mdb_env_close(env);
    rm_rf(dir);
    n = (double)(per * ROUNDS);
    commit = n / m[0].wall;
    add("lmdb_single_commit_per_s", "LMDB durable commit of 1 put (fsync)", commit, "/s", -1, NULL,
        NULL, -1);
    add("lmdb_single_commit_us", "  us per commit", 1e6 / commit, "us", -1, NULL, NULL, -1);
    add("lmdb_single_commit_cpu_us", "  CPU us per commit (user+kernel)", m[0].cpu * 1e6 / n, "us",
        -1, NULL, NULL, -1);
    add("lmdb_single_commit_bytes", "  bytes written per commit", (double)m[0].bytes / n, "B", -1,
        NULL, NULL, -1);
    add("lmdb_3db_commit_per_s", "LMDB durable commit, 1 put in each of 3 dbs", n / m[1].wall, "/s",
        n / m[1].wall / commit, "LMDB single-put commit", NULL, -1);
    add("lmdb_3db_commit_bytes", "  bytes written per commit", (double)m[1].bytes / n, "B", -1,
        NULL, NULL, -1);
    add("lmdb_3db_commit_cpu_us", "  CPU us per commit (user+kernel)", m[1].cpu * 1e6 / n, "us", -1,
        NULL, NULL, -1);
    add("lmdb_6db_commit_per_s", "LMDB durable commit, 1 put in each of 6 dbs", n / m[2].wall, "/s",
        n / m[2].wall / commit, "LMDB single-put commit", NULL, -1);
    add("lmdb_6db_commit_bytes", "  bytes written per commit", (double)m[2].bytes / n, "B", -1,
        NULL, NULL, -1);
    add("lmdb_6db_commit_cpu_us", "  CPU us per commit (user+kernel)", m[2].cpu * 1e6 / n, "us", -1,
        NULL, NULL, -1);
    r = n / m[3].wall / commit;
    add("write_single_per_s", "node_write, 1 envelope per commit", n / m[3].wall, "/s", r,
        "LMDB single-put commit", ">= 0.90", r >= 0.90);
    /* a local write changes 3 trees (log, arrival, records; schema 2) */
    add("write_single_vs_3db", "  node_write against LMDB's 3-db commit", n / m[3].wall, "/s",
        m[1].wall / m[3].wall, "LMDB 3-db commit", NULL, -1);
    add("write_single_cpu_us", "  CPU us per node_write (user+kernel)", m[3].cpu * 1e6 / n, "us",
        -1, NULL, NULL, -1);
    add("write_single_bytes", "  bytes written per commit", (double)m[3].bytes / n, "B", -1, NULL,
        NULL, -1);
}

static void bench_writes(void)
{
    size_t nbatch = scaled(200, 10);
    struct node_store *s;
    struct node_change *ch = xcalloc(WRITE_BATCH, sizeof(*ch));
    size_t sizes[WRITE_BATCH];
    char(*ids)[24] = xcalloc(WRITE_BATCH, sizeof(*ids));
    char(*vals)[48] = xcalloc(WRITE_BATCH, sizeof(*vals));
    char scope[CRDT_MAX_SCOPE + 1];
    double t0, t, commit, sz[2] = {0, 0};
    uint32_t next = 0;
    uint64_t r;

    node_new("writer", NULL);
    s = node_at("writer");
    check(node_scope_general("bench", scope), "scope");
    /* Warm up: the first write also creates the scope key. */
    for (int i = 0; i < 10; i++, next++) {
        snprintf(ids[0], sizeof(ids[0]), "c%07u", next);
        snprintf(vals[0], sizeof(vals[0]), "Name %u of a person, district bench", next);
        change(&ch[0], ids[0], vals[0]);
        check(node_write(s, scope, ch, 1, NULL), "node_write");
    }
    bench_commits(s, scope, &next);
    commit = find("lmdb_single_commit_per_s")->value;
    progress("(c) node_write_batch: %zu commits of %d new records, %zu of %d updates", nbatch,
             WRITE_BATCH, nbatch, WRITE_BATCH);
    for (size_t i = 0; i < WRITE_BATCH; i++)
        sizes[i] = 1;
    /* New records, in key order. */
    t0 = now_s();
    for (size_t b = 0; b < nbatch; b++) {
        for (size_t i = 0; i < WRITE_BATCH; i++, next++) {
            snprintf(ids[i], sizeof(ids[i]), "c%07u", next);
            snprintf(vals[i], sizeof(vals[i]), "Name %u of a person, district bench", next);
            change(&ch[i], ids[i], vals[i]);
        }
        check(node_write_batch(s, scope, ch, sizes, WRITE_BATCH, NULL), "node_write_batch");
    }
    t = now_s() - t0;
    add("write_batch_env_per_s", "node_write_batch, 100 env/commit: envelopes",
        (double)(nbatch * WRITE_BATCH) / t, "/s", (double)(nbatch * WRITE_BATCH) / t / commit,
        "LMDB single-put commit", ">= 0.90", (double)(nbatch * WRITE_BATCH) / t / commit >= 0.90);
    add("write_batch_commit_per_s", "  its commits", (double)nbatch / t, "/s",
        (double)nbatch / t / commit, "LMDB single-put commit", NULL, -1);
    /* Updates of random existing records: a leaf page per record. */
    r = 0x9e3779b97f4a7c15ull;
    t0 = now_s();
    for (size_t b = 0; b < nbatch; b++) {
        for (size_t i = 0; i < WRITE_BATCH; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            snprintf(ids[i], sizeof(ids[i]), "c%07u", (unsigned)((r >> 33) % next));
            snprintf(vals[i], sizeof(vals[i]), "Renamed %zu/%zu", b, i);
            change(&ch[i], ids[i], vals[i]);
        }
        check(node_write_batch(s, scope, ch, sizes, WRITE_BATCH, NULL), "node_write_batch");
    }
    t = now_s() - t0;
    add("write_batch_update_env_per_s", "  same, updating random existing records",
        (double)(nbatch * WRITE_BATCH) / t, "/s",
        (double)(nbatch * WRITE_BATCH) / t / find("write_batch_env_per_s")->value,
        "new records in key order", NULL, -1);
    check(node_log_each(s, NULL, 0, env_size, sz), "node_log_each");
    add("envelope_bytes", "mean envelope size (1 LWW op, encrypted)", sz[0] / sz[1], "B", -1, NULL,
        NULL, -1);
    node_drop(s, "writer");
    free(ch);
    free(ids);
    free(vals);
}

/* ---- (d) ingest ---- */

struct blob {
    uint8_t *b;
    size_t n;
};

struct olog {
    struct blob *e; /* seq order */
    size_t n, cap;
};

static int collect(const struct node_log_entry *e, void *ctx)
{
    struct olog *l = ctx;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        struct blob *ne = realloc(l->e, cap * sizeof(*ne));

        if (!ne)
            die("realloc", "out of memory");
        l->e = ne;
        l->cap = cap;
    }
    l->e[l->n].b = malloc(e->size);
    if (!l->e[l->n].b)
        die("malloc", "out of memory");
    memcpy(l->e[l->n].b, e->bytes, e->size);
    l->e[l->n].n = e->size;
    l->n++;
    return 0;
}

/* A set of sources writing one scope, and the sinks that will read it. */
struct dataset {
    const char *tag;   /* "gen" or "pub" */
    const char *scope; /* "general:bench" or "public" */
    int encrypted;
    int nsrc;
    size_t per;
    struct olog *logs;
};

/* Source i writes `per` envelopes (100 per commit), each setting the name of
 * one of its RECORDS_PER records, and its log is exported. With a key blob the
 * source first imports the shared scope key. */
static void source_write(struct dataset *d, int i, const uint8_t *blob, size_t bloblen,
                         struct node_store *open_src)
{
    char name[64], hex[9];
    struct node_store *s = open_src;
    struct node_info info;
    size_t batch = d->per < WRITE_BATCH ? d->per : WRITE_BATCH, done = 0;
    struct node_change ch[WRITE_BATCH];
    size_t sizes[WRITE_BATCH];
    char ids[WRITE_BATCH][32], vals[WRITE_BATCH][48];

    snprintf(name, sizeof(name), "src-%s-%d", d->tag, i);
    if (!s) {
        s = node_at(name);
        if (blob)
            check(node_key_import(s, blob, bloblen, NULL), "node_key_import");
    }
    node_info(s, &info);
    node_hex(info.id, 4, hex);
    for (size_t b = 0; b < WRITE_BATCH; b++)
        sizes[b] = 1;
    /* open_src (the key owner) already wrote its first envelope. */
    if (open_src)
        done = 1;
    while (done < d->per) {
        size_t n = d->per - done < batch ? d->per - done : batch;

        for (size_t b = 0; b < n; b++) {
            size_t q = done + b;

            snprintf(ids[b], sizeof(ids[b]), "%s-%u", hex, (unsigned)((q * 7919u) % RECORDS_PER));
            snprintf(vals[b], sizeof(vals[b]), "Name %zu written by %s", q, hex);
            change(&ch[b], ids[b], vals[b]);
        }
        check(node_write_batch(s, d->scope, ch, sizes, n, NULL), "node_write_batch");
        done += n;
    }
    memset(&d->logs[i], 0, sizeof(d->logs[i]));
    check(node_log_each(s, NULL, 0, collect, &d->logs[i]), "node_log_each");
    if (d->logs[i].n != d->per)
        die("source", "log length differs from what was written");
    node_drop(s, name);
}

/* Make the sources of d and the sinks (node names) that will read it. For an
 * encrypted scope, source 0 creates the scope key with its first write and
 * wraps it for every other source and every sink. */
static void dataset_make(struct dataset *d, const char *const *sinks, int nsinks,
                         uint8_t **sink_blob, size_t *sink_bloblen)
{
    uint8_t(*ids)[CRDT_KEY_BYTES] = xcalloc((size_t)d->nsrc, CRDT_KEY_BYTES);
    struct blob *blobs = xcalloc((size_t)d->nsrc, sizeof(*blobs));
    uint8_t sink_id[CRDT_KEY_BYTES];
    struct node_store *owner = NULL;
    char name[64];
    double t0 = now_s();

    d->logs = xcalloc((size_t)d->nsrc, sizeof(*d->logs));
    for (int i = 0; i < d->nsrc; i++) {
        snprintf(name, sizeof(name), "src-%s-%d", d->tag, i);
        node_new(name, ids[i]);
    }
    if (d->encrypted) {
        struct node_change c;

        snprintf(name, sizeof(name), "src-%s-0", d->tag);
        owner = node_at(name);
        change(&c, "first", "first");
        check(node_write(owner, d->scope, &c, 1, NULL), "node_write");
    }
    for (int j = 0; j < nsinks; j++) {
        node_new(sinks[j], sink_id);
        sink_blob[j] = NULL;
        sink_bloblen[j] = 0;
        if (owner)
            check(node_key_wrap(owner, d->scope, sink_id, &sink_blob[j], &sink_bloblen[j]),
                  "node_key_wrap");
    }
    /* Wrap for every source before source 0 (the owner) is written and closed. */
    for (int i = 1; owner && i < d->nsrc; i++)
        check(node_key_wrap(owner, d->scope, ids[i], &blobs[i].b, &blobs[i].n), "node_key_wrap");
    for (int i = 0; i < d->nsrc; i++) {
        source_write(d, i, blobs[i].b, blobs[i].n, i == 0 ? owner : NULL);
        tx_free(blobs[i].b);
    }
    free(blobs);
    progress("    %d sources x %zu envelopes (%s) written and exported in %.1f s", d->nsrc, d->per,
             d->scope, now_s() - t0);
    free(ids);
}

static void dataset_free(struct dataset *d)
{
    for (int i = 0; i < d->nsrc; i++) {
        for (size_t k = 0; k < d->logs[i].n; k++)
            free(d->logs[i].e[k].b);
        free(d->logs[i].e);
    }
    free(d->logs);
}

enum order { CATCHUP, INTERLEAVED };

/* Ingest all of d into the sink, INGEST_BATCH per call, in the given order.
 * Returns envelopes/s over the node_ingest calls. */
/* Ingest all of d into the sink, INGEST_BATCH per call, in the given order;
 * the meter covers the node_ingest calls only. */
static void ingest_run(struct dataset *d, const char *sink, const uint8_t *blob, size_t bloblen,
                       enum order order, int pipelined, struct meter *m)
{
    size_t total = (size_t)d->nsrc * d->per, k = 0;
    const uint8_t **envs = xcalloc(total, sizeof(*envs));
    size_t *lens = xcalloc(total, sizeof(*lens));
    struct node_store *s = node_at(sink);
    struct node_ingest_report rep, sum;
    struct node_stats st;

    memset(m, 0, sizeof(*m));
    if (blob)
        check(node_key_import(s, blob, bloblen, NULL), "node_key_import");
    if (order == CATCHUP) {
        for (int o = 0; o < d->nsrc; o++)
            for (size_t q = 0; q < d->per; q++, k++) {
                envs[k] = d->logs[o].e[q].b;
                lens[k] = d->logs[o].e[q].n;
            }
    } else {
        for (size_t q = 0; q < d->per; q++)
            for (int o = 0; o < d->nsrc; o++, k++) {
                envs[k] = d->logs[o].e[q].b;
                lens[k] = d->logs[o].e[q].n;
            }
    }
    memset(&sum, 0, sizeof(sum));
    if (pipelined) {
        /* node_ingest_many: the same batches, the next prepared while one
         * commits (what bundle import uses) */
        meter_start(m);
        check(node_ingest_many(s, envs, lens, total, INGEST_BATCH, &sum), "node_ingest_many");
        meter_stop(m);
        sum.accepted += sum.released; /* held by one batch, released by a later one */
    }
    for (size_t off = 0; !pipelined && off < total; off += INGEST_BATCH) {
        size_t n = total - off < INGEST_BATCH ? total - off : INGEST_BATCH;

        meter_start(m);
        check(node_ingest(s, envs + off, lens + off, n, &rep), "node_ingest");
        meter_stop(m);
        node_ingest_report_add(&sum, &rep);
    }
    check(node_stats(s, &st), "node_stats");
    if (sum.accepted != total || sum.rejected || sum.unreadable || sum.duplicate || st.held ||
        st.envelopes != total) {
        fprintf(stderr,
                "bench_store: ingest into %s: accepted %llu of %zu, rejected %llu, unreadable "
                "%llu, duplicate %llu, held %llu\n",
                sink, (unsigned long long)sum.accepted, total, (unsigned long long)sum.rejected,
                (unsigned long long)sum.unreadable, (unsigned long long)sum.duplicate,
                (unsigned long long)st.held);
        exit(1);
    }
    node_drop(s, sink);
    free(envs);
    free(lens);
}

enum target { T_NONE, T_CATCHUP, T_VERIFY70 };

/* The figure (envelopes/s against the verify rate) and its details. */
static void ingest_add(const char *key, const char *label, const struct meter *m, size_t total,
                       enum target target)
{
    double verify = g_verify_best, r = (double)total / m->wall;
    char k2[48];

    if (target == T_CATCHUP)
        add(key, label, r, "/s", r / verify, "Ed25519 verify", ">= 200k/s (8x)", r >= 200000.0);
    else if (target == T_VERIFY70)
        add(key, label, r, "/s", r / verify, "Ed25519 verify", ">= 0.70x", r / verify >= 0.70);
    else
        add(key, label, r, "/s", r / verify, "Ed25519 verify", NULL, -1);
    results[nresults - 1].per_verify = 1;
    if (target == T_VERIFY70)
        results[nresults - 1].need_ratio = 0.70;
    snprintf(k2, sizeof(k2), "%s_cpu_us", key);
    add(k2, "  CPU us per envelope", m->cpu * 1e6 / (double)total, "us", m->cpu / m->wall,
        "of wall time", NULL, -1);
    snprintf(k2, sizeof(k2), "%s_bytes", key);
    add(k2, "  bytes written per envelope", (double)m->bytes / (double)total, "B", -1, NULL, NULL,
        -1);
    progress("    %s: %.0f envelopes/s", label, r);
}

static void ingest_figures(struct dataset *d, const char *tag, const uint8_t *const *blobs,
                           const size_t *bloblens, const char *const *sinks)
{
    char key[48], label[80];
    struct meter m;
    size_t total = (size_t)d->nsrc * d->per;

    ingest_run(d, sinks[0], blobs[0], bloblens[0], CATCHUP, 0, &m);
    snprintf(key, sizeof(key), "ingest_catchup_%s", tag);
    snprintf(label, sizeof(label), "ingest catch-up, %s (runs of 1000)", d->scope);
    ingest_add(key, label, &m, total, T_CATCHUP);
    ingest_run(d, sinks[2], blobs[2], bloblens[2], CATCHUP, 1, &m);
    snprintf(key, sizeof(key), "ingest_catchup_many_%s", tag);
    snprintf(label, sizeof(label), "  same, node_ingest_many (2 threads), %s", d->scope);
    ingest_add(key, label, &m, total, T_CATCHUP);
    /* the same on one thread: no preparation ahead, the meta flush deferred */
    setenv("TONGXIN_VERIFY_THREADS", "1", 1);
    ingest_run(d, sinks[3], blobs[3], bloblens[3], CATCHUP, 1, &m);
    unsetenv("TONGXIN_VERIFY_THREADS");
    snprintf(key, sizeof(key), "ingest_catchup_many1_%s", tag);
    snprintf(label, sizeof(label), "  same, node_ingest_many on one thread, %s", d->scope);
    ingest_add(key, label, &m, total, T_CATCHUP);
    ingest_run(d, sinks[1], blobs[1], bloblens[1], INTERLEAVED, 0, &m);
    snprintf(key, sizeof(key), "ingest_interleaved%d_%s", d->nsrc, tag);
    snprintf(label, sizeof(label), "ingest %d origins round-robin, %s", d->nsrc, d->scope);
    ingest_add(key, label, &m, total, T_NONE);
}

static void bench_ingest(int twenty, int many_origins)
{
    int nsrc = 20;
    size_t per = scaled(5000, 200), many_per = scaled(20, 2);
    static const char *const gsinks[] = {"sink-gen-c", "sink-gen-i", "sink-gen-p", "sink-gen-1"};
    static const char *const psinks[] = {"sink-pub-c", "sink-pub-i", "sink-pub-p", "sink-pub-1"};
    static const char *const msinks[] = {"sink-many"};
    uint8_t *blobs[4];
    size_t lens[4];
    struct dataset gen = {"gen", "general:bench", 1, nsrc, per, NULL};
    struct dataset pub = {"pub", NODE_PUBLIC_SCOPE, 0, nsrc, per, NULL};
    struct dataset many = {"many", "general:bench", 1, MANY_ORIGINS, many_per, NULL};
    struct meter m;

    if (twenty) {
        progress("(d) ingest: %d origins x %zu envelopes, %d per node_ingest call", nsrc, per,
                 INGEST_BATCH);
        dataset_make(&gen, gsinks, 4, blobs, lens);
        ingest_figures(&gen, "general", (const uint8_t *const *)blobs, lens, gsinks);
        for (int i = 0; i < 4; i++)
            tx_free(blobs[i]);
        dataset_free(&gen);

        dataset_make(&pub, psinks, 4, blobs, lens);
        ingest_figures(&pub, "public", (const uint8_t *const *)blobs, lens, psinks);
        dataset_free(&pub);
    }
    if (!many_origins)
        return;

    progress("(d) ingest: %d origins x %zu envelopes, one envelope per origin per call",
             MANY_ORIGINS, many_per);
    dataset_make(&many, msinks, 1, blobs, lens);
    ingest_run(&many, msinks[0], blobs[0], lens[0], INTERLEAVED, 0, &m);
    ingest_add("ingest_one_per_origin_general", "ingest 1000 origins, 1 env each per call, general",
               &m, (size_t)many.nsrc * many.per, T_VERIFY70);
    tx_free(blobs[0]);
    dataset_free(&many);
}

/* ---- output ---- */

int main(int argc, char **argv)
{
    const char *json_file = NULL, *dir = NULL, *only = NULL, *sc = getenv("TX_BENCH_SCALE");
    int json_only = 0;
    double t0 = now_s();

    bench_name = "bench_store";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json_only = 1;
        } else if (strncmp(argv[i], "--json=", 7) == 0) {
            json_file = argv[i] + 7;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--json | --json=FILE] [--dir DIR] [--only bcdm]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!dir)
        dir = getenv("TX_BENCH_TMP");
    if (!dir)
        dir = getenv("TMPDIR");
    if (!dir)
        dir = "/tmp";
    if (sc && *sc && strtod(sc, NULL) > 0)
        g_scale = strtod(sc, NULL);
    if (sodium_init() < 0)
        die("sodium_init", "failed");
    mkdir(dir, 0755);
    if ((size_t)snprintf(g_tmp, sizeof(g_tmp), "%s/bench-%d", dir, (int)getpid()) >= sizeof(g_tmp))
        die(dir, "name too long");
    rm_rf(g_tmp);
    if (mkdir(g_tmp, 0700))
        die(g_tmp, strerror(errno));
    progress("scratch directory %s, scale %g", g_tmp, g_scale);

    loadavg(load0);
    bench_crypto();
    if (!only || strchr(only, 'b'))
        bench_lmdb();
    if (!only || strchr(only, 'c'))
        bench_writes();
    if (!only || strchr(only, 'd') || strchr(only, 'm')) {
        verify_samples(3);
        bench_ingest(!only || strchr(only, 'd'), !only || strchr(only, 'm'));
        verify_samples(3);
    }
    verify_settle();
    loadavg(load1);

    rm_rf(g_tmp);
    if (json_only) {
        print_json(stdout);
    } else {
        print_table(stdout, 24, 15);
        if (json_file) {
            FILE *f = fopen(json_file, "w");

            if (!f)
                die(json_file, strerror(errno));
            print_json(f);
            fclose(f);
        }
    }
    progress("done in %.1f s", now_s() - t0);
    return 0;
}
