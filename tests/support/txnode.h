/*
 * txnode.h - helpers for tests of the node store: scratch data directories,
 * init/open helpers, collecting a store's log envelopes as byte buffers,
 * digests, reading a node's secret seed from its key file and signing
 * hand-built envelopes with it, and searching files for bytes. Header-only;
 * include after txtest.h (it includes it itself).
 *
 * Scratch directories live under $TX_TEST_TMP (set by CTest to a folder of the
 * build directory) or /tmp, and are removed by txn_rmrf when a test ends well.
 * The helpers assert (cmocka) instead of returning errors.
 */
#ifndef TONGXIN_TXNODE_H
#define TONGXIN_TXNODE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "txtest.h"

#include "node.h"

#define TXN_PATH 1024

/* ---- files and directories ---- */

static inline void txn_mkdir_p(const char *path)
{
    char p[TXN_PATH];

    assert_true(strlen(path) < sizeof(p));
    strcpy(p, path);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0755) && errno != EEXIST)
            fail_msg("mkdir %s: %s", p, strerror(errno));
        *q = '/';
    }
    if (mkdir(p, 0755) && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
}

/* A new empty directory $TX_TEST_TMP/<tag>-XXXXXX (or under /tmp). */
static inline void txn_tmpdir(char *out, size_t cap, const char *tag)
{
    const char *base = getenv("TX_TEST_TMP");

    if (!base || !*base)
        base = "/tmp";
    txn_mkdir_p(base);
    assert_true((size_t)snprintf(out, cap, "%s/%s-XXXXXX", base, tag) < cap);
    if (!mkdtemp(out))
        fail_msg("mkdtemp %s: %s", out, strerror(errno));
}

static inline void txn_path(char *out, size_t cap, const char *dir, const char *name)
{
    assert_true((size_t)snprintf(out, cap, "%s/%s", dir, name) < cap);
}

/* rm -rf path (best effort; used for cleanup). */
static inline void txn_rmrf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &st))
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    if ((d = opendir(path))) {
        while ((de = readdir(d))) {
            char sub[TXN_PATH];

            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < sizeof(sub))
                txn_rmrf(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* cp -a src dst (dst must not exist). */
static inline void txn_copy_dir(const char *src, const char *dst)
{
    char cmd[3 * TXN_PATH];

    assert_true((size_t)snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", src, dst) < sizeof(cmd));
    assert_int_equal(system(cmd), 0);
}

/* The whole file in a malloc'd buffer (NUL-terminated for convenience). */
static inline uint8_t *txn_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (!f)
        fail_msg("open %s: %s", path, strerror(errno));
    do {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
    } while (r > 0);
    assert_int_equal(ferror(f), 0);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static inline void txn_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f)
        fail_msg("create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline int txn_mem_contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    if (m == 0 || m > n)
        return m == 0;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == *(const uint8_t *)needle && memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static inline int txn_file_contains(const char *path, const void *needle, size_t m)
{
    size_t n;
    uint8_t *buf = txn_read_file(path, &n);
    int found = txn_mem_contains(buf, n, needle, m);

    free(buf);
    return found;
}

/* Search every regular file under dir (recursively) for needle, skipping files
 * whose name equals skip (may be NULL). Returns 1 and names the first file in
 * where (may be NULL) when found. */
static inline int txn_dir_contains(const char *dir, const char *skip, const void *needle, size_t m,
                                   char *where, size_t wcap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;

    if (!d)
        fail_msg("opendir %s: %s", dir, strerror(errno));
    while (!found && (de = readdir(d))) {
        char sub[TXN_PATH];
        struct stat st;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (skip && !strcmp(de->d_name, skip))
            continue;
        txn_path(sub, sizeof(sub), dir, de->d_name);
        assert_int_equal(lstat(sub, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            found = txn_dir_contains(sub, skip, needle, m, where, wcap);
        } else if (S_ISREG(st.st_mode) && txn_file_contains(sub, needle, m)) {
            found = 1;
            if (where)
                snprintf(where, wcap, "%s", sub);
        }
    }
    closedir(d);
    return found;
}

/* ---- nodes ---- */

/* Create a node in a new scratch directory (written to dir) and open it. */
static inline struct node_store *txn_node_new(char *dir, size_t cap, const char *tag,
                                              const char *community)
{
    struct node_init_opts o = {community, NODE_ROLE_OFFICE, NULL};
    struct node_store *s = NULL;
    int rc;

    txn_tmpdir(dir, cap, tag);
    rc = node_init(dir, &o, NULL);
    if (rc)
        fail_msg("node_init %s: %s", dir, tx_errname(rc));
    rc = node_open(dir, 0, NULL, &s);
    if (rc)
        fail_msg("node_open %s: %s", dir, tx_errname(rc));
    return s;
}

static inline struct node_store *txn_open(const char *dir)
{
    struct node_store *s = NULL;
    int rc = node_open(dir, 0, NULL, &s);

    if (rc)
        fail_msg("node_open %s: %s", dir, tx_errname(rc));
    return s;
}

static inline void txn_reopen(struct node_store **s, const char *dir)
{
    node_close(*s);
    *s = txn_open(dir);
}

static inline void txn_id(struct node_store *s, uint8_t id[CRDT_KEY_BYTES])
{
    struct node_info info;

    assert_int_equal(node_info(s, &info), TX_OK);
    memcpy(id, info.id, CRDT_KEY_BYTES);
}

/* The general scope of the node's community. */
static inline void txn_general(struct node_store *s, char scope[CRDT_MAX_SCOPE + 1])
{
    struct node_info info;

    assert_int_equal(node_info(s, &info), TX_OK);
    assert_int_equal(node_scope_general(info.community, scope), TX_OK);
}

/* ---- digests, stats, verification ---- */

struct txn_digests {
    uint8_t state[CRDT_HASH_BYTES];
    uint8_t log[CRDT_HASH_BYTES];
};

static inline void txn_digests(struct node_store *s, struct txn_digests *d)
{
    assert_int_equal(node_digest(s, d->state), TX_OK);
    assert_int_equal(node_digest_log(s, d->log), TX_OK);
}

static inline int txn_digests_equal(const struct txn_digests *a, const struct txn_digests *b)
{
    return memcmp(a->state, b->state, CRDT_HASH_BYTES) == 0 &&
           memcmp(a->log, b->log, CRDT_HASH_BYTES) == 0;
}

#define txn_assert_digests_equal(a, b)                                                             \
    do {                                                                                           \
        assert_memory_equal((a)->state, (b)->state, CRDT_HASH_BYTES);                              \
        assert_memory_equal((a)->log, (b)->log, CRDT_HASH_BYTES);                                  \
    } while (0)

static inline void txn__problem(const char *what, void *ctx)
{
    (void)ctx;
    print_message("verify: %s\n", what);
}

#define txn_assert_verify(s) assert_int_equal(node_verify((s), txn__problem, NULL), TX_OK)

static inline struct node_stats txn_stats(struct node_store *s)
{
    struct node_stats st;

    assert_int_equal(node_stats(s, &st), TX_OK);
    return st;
}

/* An origin's row as node_origins_each reports it; returns 0 if unknown. */
struct txn__origin_find {
    const uint8_t *origin;
    struct node_origin_info info;
    int found;
};

static inline int txn__origin_cb(const struct node_origin_info *o, void *ctx)
{
    struct txn__origin_find *f = ctx;

    if (memcmp(o->origin, f->origin, CRDT_KEY_BYTES) == 0) {
        f->info = *o;
        f->found = 1;
    }
    return 0;
}

static inline int txn_origin(struct node_store *s, const uint8_t *origin,
                             struct node_origin_info *out)
{
    struct txn__origin_find f;

    memset(&f, 0, sizeof(f));
    f.origin = origin;
    assert_int_equal(node_origins_each(s, txn__origin_cb, &f), TX_OK);
    if (out)
        *out = f.info;
    return f.found;
}

/* ---- envelopes as byte buffers ---- */

struct txn_envs {
    const uint8_t **b; /* each malloc'd */
    size_t *len;
    size_t n, cap;
};

static inline void txn_envs_push(struct txn_envs *v, const void *bytes, size_t len)
{
    uint8_t *copy;

    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->b = realloc((void *)v->b, v->cap * sizeof(*v->b));
        v->len = realloc(v->len, v->cap * sizeof(*v->len));
        assert_non_null(v->b);
        assert_non_null(v->len);
    }
    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, bytes, len);
    v->b[v->n] = copy;
    v->len[v->n] = len;
    v->n++;
}

static inline void txn_envs_free(struct txn_envs *v)
{
    for (size_t i = 0; i < v->n; i++)
        free((void *)v->b[i]);
    free((void *)v->b);
    free(v->len);
    memset(v, 0, sizeof(*v));
}

static inline int txn__collect_cb(const struct node_log_entry *e, void *ctx)
{
    txn_envs_push(ctx, e->bytes, e->size);
    return 0;
}

/* Append the store's log envelopes to v: one origin's in seq order (index seq-1
 * when v was empty), or all in arrival order when origin is NULL. */
static inline void txn_envs_collect(struct node_store *s, const uint8_t *origin, struct txn_envs *v)
{
    assert_int_equal(node_log_each(s, origin, 0, txn__collect_cb, v), TX_OK);
}

/* Ingest a list of envelopes given as indexes into v (idx NULL: all of v). */
static inline int txn_ingest_idx(struct node_store *s, const struct txn_envs *v, const size_t *idx,
                                 size_t n, struct node_ingest_report *rep)
{
    const uint8_t **b = malloc((n ? n : 1) * sizeof(*b));
    size_t *l = malloc((n ? n : 1) * sizeof(*l));
    int rc;

    assert_non_null(b);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++) {
        size_t k = idx ? idx[i] : i;

        assert_true(k < v->n);
        b[i] = v->b[k];
        l[i] = v->len[k];
    }
    rc = node_ingest(s, b, l, n, rep);
    free((void *)b);
    free(l);
    return rc;
}

static inline int txn_ingest_one(struct node_store *s, const void *bytes, size_t len,
                                 struct node_ingest_report *rep)
{
    const uint8_t *b = bytes;

    return node_ingest(s, &b, &len, 1, rep);
}

/* Ingest and assert the batch was processed. */
static inline struct node_ingest_report txn_ingest_ok(struct node_store *s, const uint8_t *const *b,
                                                      const size_t *l, size_t n)
{
    struct node_ingest_report rep;
    int rc = node_ingest(s, b, l, n, &rep);

    if (rc)
        fail_msg("node_ingest: %s", tx_errname(rc));
    return rep;
}

/* Every envelope of from's log into to, in one batch (arrival order). */
static inline struct node_ingest_report txn_sync_all(struct node_store *from, struct node_store *to)
{
    struct txn_envs v = {0};
    struct node_ingest_report rep;

    txn_envs_collect(from, NULL, &v);
    assert_int_equal(txn_ingest_idx(to, &v, NULL, v.n, &rep), TX_OK);
    txn_envs_free(&v);
    return rep;
}

/* ---- identities and hand-signed envelopes ---- */

/* The 32-byte Ed25519 seed of the node whose data directory is dir. */
static inline void txn_load_seed(const char *dir, uint8_t seed[crypto_sign_SEEDBYTES])
{
    static const char hdr[] = "TONGXIN NODE SECRET KEY v1\n";
    char path[TXN_PATH], hex[2 * crypto_sign_SEEDBYTES + 1];
    size_t n;
    uint8_t *buf;

    txn_path(path, sizeof(path), dir, "node.key");
    buf = txn_read_file(path, &n);
    assert_true(n >= strlen(hdr) + 2 * crypto_sign_SEEDBYTES);
    assert_memory_equal(buf, hdr, strlen(hdr));
    memcpy(hex, buf + strlen(hdr), 2 * crypto_sign_SEEDBYTES);
    hex[2 * crypto_sign_SEEDBYTES] = '\0';
    assert_int_equal(node_unhex(hex, seed, crypto_sign_SEEDBYTES), TX_OK);
    sodium_memzero(buf, n);
    free(buf);
}

/* The node's key pair: pk is its node id, sk = seed || pk. */
static inline void txn_load_keypair(const char *dir, uint8_t pk[crypto_sign_PUBLICKEYBYTES],
                                    uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
    uint8_t seed[crypto_sign_SEEDBYTES];

    assert_true(sodium_init() >= 0);
    txn_load_seed(dir, seed);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    sodium_memzero(seed, sizeof(seed));
}

/* Sign an encoded envelope in place: msg = "tongxin-envelope-v1" ||
 * BLAKE2b-256(all bytes but the last 66); the signature is the last 64 bytes. */
static inline void txn_sign(const uint8_t sk[crypto_sign_SECRETKEYBYTES], uint8_t *env, size_t len)
{
    static const char ctx[] = "tongxin-envelope-v1";
    uint8_t msg[sizeof(ctx) - 1 + CRDT_HASH_BYTES];

    assert_true(len > CRDT_ENV_SIG_TAIL);
    memcpy(msg, ctx, sizeof(ctx) - 1);
    assert_int_equal(crypto_generichash(msg + sizeof(ctx) - 1, CRDT_HASH_BYTES, env,
                                        len - CRDT_ENV_SIG_TAIL, NULL, 0),
                     0);
    assert_int_equal(crypto_sign_detached(env + len - CRDT_SIG_BYTES, NULL, msg, sizeof(msg), sk),
                     0);
}

static inline uint64_t txn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A string LWW op for a hand-built body (strings borrowed). */
static inline struct crdt_op txn_op_lww(const char *type, const char *id, const char *field,
                                        const char *value)
{
    struct crdt_op op;

    memset(&op, 0, sizeof(op));
    op.type = type;
    op.type_len = (uint32_t)strlen(type);
    op.id = id;
    op.id_len = (uint32_t)strlen(id);
    op.field = field;
    op.field_len = (uint32_t)strlen(field);
    op.code = CRDT_OP_LWW_SET;
    op.value.type = CRDT_STR;
    op.value.s = value;
    op.value.len = (uint32_t)strlen(value);
    return op;
}

/* Build and sign a public-scope envelope (epoch 0, zero nonce) whose body is
 * the given bytes, for the key pair sk (origin = its public half). prev NULL
 * means all zero. Returns a malloc'd buffer. */
static inline uint8_t *txn_env_build_raw(const uint8_t sk[crypto_sign_SECRETKEYBYTES], uint64_t seq,
                                         const uint8_t *prev, uint64_t hlc,
                                         const struct crdt_dep *deps, uint32_t ndeps,
                                         const uint8_t *body, size_t body_len, size_t *len)
{
    struct crdt_env e;
    struct tx_mpw ew;
    uint8_t *out;

    crdt_env_init(&e);
    memcpy(e.origin, sk + crypto_sign_SEEDBYTES, CRDT_KEY_BYTES);
    e.seq = seq;
    if (prev)
        memcpy(e.prev, prev, CRDT_HASH_BYTES);
    e.hlc = hlc;
    e.deps = (struct crdt_dep *)deps;
    e.ndeps = ndeps;
    strcpy(e.scope, NODE_PUBLIC_SCOPE);
    e.scope_len = (uint32_t)strlen(NODE_PUBLIC_SCOPE);
    e.epoch = 0;
    e.body = body;
    e.body_len = (uint32_t)body_len;
    tx_mpw_init(&ew, CRDT_MAX_ENVELOPE);
    assert_int_equal(crdt_env_encode(&e, &ew), TX_OK);
    out = malloc(ew.len);
    assert_non_null(out);
    memcpy(out, ew.buf, ew.len);
    *len = ew.len;
    tx_mpw_release(&ew);
    txn_sign(sk, out, *len);
    return out;
}

/* The same with a body encoded from ops (crdt_body_encode). */
static inline uint8_t *txn_env_build(const uint8_t sk[crypto_sign_SECRETKEYBYTES], uint64_t seq,
                                     const uint8_t *prev, uint64_t hlc, const struct crdt_dep *deps,
                                     uint32_t ndeps, const struct crdt_op *ops, uint32_t nops,
                                     size_t *len)
{
    struct crdt_body b;
    struct tx_mpw bw;
    uint8_t *out;

    b.ops = (struct crdt_op *)ops;
    b.nops = nops;
    tx_mpw_init(&bw, CRDT_MAX_BODY);
    assert_int_equal(crdt_body_encode(&b, &bw), TX_OK);
    out = txn_env_build_raw(sk, seq, prev, hlc, deps, ndeps, bw.buf, bw.len, len);
    tx_mpw_release(&bw);
    return out;
}

static inline void txn_env_hash(const uint8_t *env, size_t len, uint8_t out[CRDT_HASH_BYTES])
{
    assert_int_equal(crdt_env_hash(env, len, out), TX_OK);
}

/* ---- local writes and reads ---- */

static inline struct node_change txn_ch_str(const char *type, const char *id, const char *field,
                                            const char *value)
{
    struct node_change c;

    memset(&c, 0, sizeof(c));
    c.type = type;
    c.id = id;
    c.field = field;
    c.code = CRDT_OP_LWW_SET;
    c.value.type = CRDT_STR;
    c.value.s = value;
    c.value.len = (uint32_t)strlen(value);
    return c;
}

/* Set one string field; asserts success. */
static inline void txn_put(struct node_store *s, const char *scope, const char *type,
                           const char *id, const char *field, const char *value)
{
    struct node_change c = txn_ch_str(type, id, field, value);
    int rc = node_write(s, scope, &c, 1, NULL);

    if (rc)
        fail_msg("node_write %s %s/%s.%s: %s", scope, type, id, field, tx_errname(rc));
}

/* The winning string of an LWW field into out (NUL-terminated). Returns
 * TX_ENOTFOUND when the record or field is missing. */
static inline int txn_get_str(struct node_store *s, const char *scope, const char *type,
                              const char *id, const char *field, char *out, size_t cap)
{
    struct node_record r;
    const struct crdt_field *f;
    const struct crdt_lww_entry *w;
    int rc = node_get(s, scope, type, id, &r);

    if (rc) {
        node_record_release(&r);
        return rc;
    }
    f = crdt_record_field(&r.rec, field, strlen(field), CRDT_LWW);
    w = f ? crdt_lww_winner(f) : NULL;
    if (!w || w->v.type != CRDT_STR) {
        node_record_release(&r);
        return TX_ENOTFOUND;
    }
    assert_true(w->v.len < cap);
    memcpy(out, w->v.s, w->v.len);
    out[w->v.len] = '\0';
    node_record_release(&r);
    return TX_OK;
}

/* Wrap from's newest key of scope for to and import it there. */
static inline void txn_share_key(struct node_store *from, struct node_store *to, const char *scope)
{
    uint8_t id[CRDT_KEY_BYTES], *blob = NULL;
    size_t len = 0;
    char got[CRDT_MAX_SCOPE + 1];

    txn_id(to, id);
    assert_int_equal(node_key_wrap(from, scope, id, &blob, &len), TX_OK);
    assert_int_equal(node_key_import(to, blob, len, got), TX_OK);
    assert_string_equal(got, scope);
    tx_free(blob);
}

#endif
