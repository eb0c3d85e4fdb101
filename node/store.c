/*
 * store.c - data directory, identity, the LMDB environment and its transaction
 * discipline.
 *
 * LMDB rules encoded here once (pitfalls.md): every named database is opened at
 * start in one transaction; mdb_reader_check runs at open; after MDB_MAP_FULL
 * the whole write transaction is poisoned, so it is aborted, the map grown with
 * no transaction open, and the transaction redone from the start; a failed
 * mdb_txn_commit has already freed the handle; a write is acknowledged only
 * after the commit returned 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static const char *const db_names[DB_COUNT] = {
    "meta",    "origins", "origidx",  "log",  "arrival", "scopelog",
    "records", "held",    "evidence", "keys", "peers",   "stats",
};

#define KEY_FILE_HEADER "TONGXIN NODE SECRET KEY v1\n"
#define DEFAULT_MAP     ((size_t)64 << 20)
#define DEFAULT_MAP_MAX ((size_t)1 << 40)

/* ---- small helpers ---- */

void node__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void node__put_u64(uint8_t *p, uint64_t v)
{
    node__put_u32(p, (uint32_t)(v >> 32));
    node__put_u32(p + 4, (uint32_t)v);
}

uint32_t node__get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t node__get_u64(const uint8_t *p)
{
    return ((uint64_t)node__get_u32(p) << 32) | node__get_u32(p + 4);
}

void node_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int node_unhex(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return TX_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return TX_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return TX_OK;
}

const char *node_role_name(int role)
{
    switch (role) {
    case NODE_ROLE_OFFICE: return "office";
    case NODE_ROLE_HUB: return "hub";
    case NODE_ROLE_RELAY: return "relay";
    default: return NULL;
    }
}

int node_role_parse(const char *s)
{
    for (int r = NODE_ROLE_OFFICE; r <= NODE_ROLE_RELAY; r++)
        if (s && strcmp(s, node_role_name(r)) == 0)
            return r;
    return 0;
}

static int check_community(const char *c)
{
    size_t n = c ? strlen(c) : 0;

    if (n == 0 || n > NODE_MAX_COMMUNITY)
        return TX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '_' ||
              c[i] == '-'))
            return TX_EINVAL;
    return TX_OK;
}

int node_scope_general(const char *community, char *scope)
{
    if (check_community(community))
        return TX_EINVAL;
    snprintf(scope, CRDT_MAX_SCOPE + 1, "general:%s", community);
    return TX_OK;
}

int node_scope_private(const char *community, char *scope)
{
    if (check_community(community))
        return TX_EINVAL;
    snprintf(scope, CRDT_MAX_SCOPE + 1, "private:%s", community);
    return TX_OK;
}

int node__mdb_err(int rc)
{
    switch (rc) {
    case 0: return TX_OK;
    case MDB_NOTFOUND: return TX_ENOTFOUND;
    case MDB_MAP_FULL: return TX_EMAPFULL;
    case MDB_READERS_FULL: return TX_EBUSY;
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID: return TX_ECORRUPT;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND: return TX_ECORRUPT;
    case ENOMEM: return TX_ENOMEM;
    case EIO:
    case ENOSPC: return TX_EIO;
    case EACCES:
    case EAGAIN: return TX_EBUSY;
    default: return TX_ESTORE;
    }
}

static uint64_t real_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t node__now(struct node_store *s)
{
    return s->os.now_ms ? s->os.now_ms(s->os.ctx) : real_now();
}

void node__random(struct node_store *s, void *buf, size_t n)
{
    if (s->os.random)
        s->os.random(s->os.ctx, buf, n);
    else
        randombytes_buf(buf, n);
}

void node__log(struct node_store *s, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (!s->os.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->os.log(s->os.ctx, level, line);
}

/* ---- files ---- */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = tx_malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc;

    if (fd < 0)
        return TX_EIO;
    rc = fsync(fd);
    close(fd);
    return rc ? TX_EIO : TX_OK;
}

/* mkdir -p: parents 0755 as the umask allows, the directory itself 0700. */
int node__mkdir_p(const char *dir)
{
    char *p = tx_strndup(dir, strlen(dir));
    int err = TX_OK;

    if (!p)
        return TX_ENOMEM;
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0755) && errno != EEXIST)
            err = TX_EIO;
        *q = '/';
        if (err)
            break;
    }
    if (!err && mkdir(p, 0700) && errno != EEXIST)
        err = TX_EIO;
    tx_free(p);
    return err;
}

/* Write a file that must not exist yet, with mode, durably. */
static int write_new_file(const char *path, int mode, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    const uint8_t *p = buf;

    if (fd < 0)
        return errno == EEXIST ? TX_EEXIST : TX_EIO;
    while (len) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(path);
            return TX_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) || fsync(fd)) {
        close(fd);
        unlink(path);
        return TX_EIO;
    }
    close(fd);
    return TX_OK;
}

/* Read the secret key file: refuse one that others can read (like ssh does). */
static int read_secret(const char *dir, unsigned char *seed)
{
    char *path = path_join(dir, "node.key");
    char buf[256];
    ssize_t n;
    struct stat st;
    int fd, err = TX_OK;

    if (!path)
        return TX_ENOMEM;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    tx_free(path);
    if (fd < 0)
        return errno == ENOENT ? TX_ENOTINIT : TX_EIO;
    if (fstat(fd, &st) || (st.st_mode & 077)) {
        close(fd);
        return TX_EINVAL;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return TX_EIO;
    buf[n] = '\0';
    if (strncmp(buf, KEY_FILE_HEADER, strlen(KEY_FILE_HEADER)) != 0 ||
        n < (ssize_t)(strlen(KEY_FILE_HEADER) + 64)) {
        err = TX_ECORRUPT;
    } else {
        char *hex = buf + strlen(KEY_FILE_HEADER);

        hex[64] = '\0';
        err = node_unhex(hex, seed, crypto_sign_SEEDBYTES) ? TX_ECORRUPT : TX_OK;
    }
    sodium_memzero(buf, sizeof(buf));
    return err;
}

/* ---- opening the environment ---- */

static int env_open(const char *dir, int readonly, int nosync, size_t mapsize, MDB_env **out)
{
    char *dbdir = path_join(dir, "db");
    MDB_env *env = NULL;
    int rc, dead;

    if (!dbdir)
        return TX_ENOMEM;
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, DB_COUNT + 4)) ||
        (rc = mdb_env_set_maxreaders(env, 254)) ||
        (!readonly && (rc = mdb_env_set_mapsize(env, mapsize))))
        goto fail;
    rc = mdb_env_open(
        env, dbdir,
        (readonly ? MDB_RDONLY : 0) | (nosync ? MDB_NOSYNC : 0) | MDB_NOTLS | MDB_NORDAHEAD, 0600);
    if (rc)
        goto fail;
    /* Readers killed by kill -9 keep their slots until this clears them. */
    mdb_reader_check(env, &dead);
    tx_free(dbdir);
    *out = env;
    return TX_OK;
fail:
    if (env)
        mdb_env_close(env);
    tx_free(dbdir);
    return rc == ENOENT ? TX_ENOTINIT : node__mdb_err(rc);
}

static int open_dbs(struct node_store *s, int create)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, create ? 0 : MDB_RDONLY, &txn);

    if (rc)
        return node__mdb_err(rc);
    for (int i = 0; i < DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, db_names[i], create ? MDB_CREATE : 0, &s->dbi[i]);
        if (rc) {
            mdb_txn_abort(txn);
            return rc == MDB_NOTFOUND ? TX_ENOTINIT : node__mdb_err(rc);
        }
    }
    rc = mdb_txn_commit(txn);
    return node__mdb_err(rc);
}

static int meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};

    return node__mdb_err(mdb_get(txn, dbi, &k, v));
}

static int meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

    return node__mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

int node__meta_get_u64(struct node_store *s, MDB_txn *txn, const char *key, uint64_t *v)
{
    MDB_val val;
    int err = meta_get(txn, s->dbi[DB_META], key, &val);

    if (err == TX_ENOTFOUND) {
        *v = 0;
        return TX_OK;
    }
    if (err)
        return err;
    if (val.mv_size != 8)
        return TX_ECORRUPT;
    *v = node__get_u64(val.mv_data);
    return TX_OK;
}

int node__meta_put_u64(struct node_store *s, MDB_txn *txn, const char *key, uint64_t v)
{
    uint8_t b[8];

    node__put_u64(b, v);
    return meta_put(txn, s->dbi[DB_META], key, b, 8);
}

int node__stat_add(struct node_store *s, MDB_txn *txn, int reason, uint64_t n)
{
    uint8_t kb[4], vb[8];
    MDB_val k = {4, kb}, v;
    uint64_t cur = 0;
    int rc;

    if (!n)
        return TX_OK;
    node__put_u32(kb, (uint32_t)reason);
    rc = mdb_get(txn, s->dbi[DB_STATS], &k, &v);
    if (rc == 0 && v.mv_size == 8)
        cur = node__get_u64(v.mv_data);
    else if (rc && rc != MDB_NOTFOUND)
        return node__mdb_err(rc);
    node__put_u64(vb, cur + n);
    v.mv_size = 8;
    v.mv_data = vb;
    return node__mdb_err(mdb_put(txn, s->dbi[DB_STATS], &k, &v, 0));
}

static int load_info(struct node_store *s, MDB_txn *txn)
{
    MDB_val v;
    int err;

    memset(&s->info, 0, sizeof(s->info));
    if ((err = meta_get(txn, s->dbi[DB_META], "schema", &v)))
        return err == TX_ENOTFOUND ? TX_ENOTINIT : err;
    if (v.mv_size != 4)
        return TX_ECORRUPT;
    s->info.schema = node__get_u32(v.mv_data);
    if (s->info.schema > NODE_SCHEMA_VERSION)
        return TX_EVERSION;
    if ((err = meta_get(txn, s->dbi[DB_META], "node_id", &v)))
        return err == TX_ENOTFOUND ? TX_ECORRUPT : err;
    if (v.mv_size != CRDT_KEY_BYTES)
        return TX_ECORRUPT;
    memcpy(s->info.id, v.mv_data, CRDT_KEY_BYTES);
    if ((err = meta_get(txn, s->dbi[DB_META], "community", &v)) || v.mv_size > NODE_MAX_COMMUNITY)
        return err ? err : TX_ECORRUPT;
    memcpy(s->info.community, v.mv_data, v.mv_size);
    if ((err = meta_get(txn, s->dbi[DB_META], "role", &v)) || v.mv_size != 1)
        return err ? err : TX_ECORRUPT;
    s->info.role = *(const uint8_t *)v.mv_data;
    err = meta_get(txn, s->dbi[DB_META], "name", &v);
    if (err == TX_OK && v.mv_size <= NODE_MAX_NAME)
        memcpy(s->info.name, v.mv_data, v.mv_size);
    else if (err != TX_ENOTFOUND)
        return err ? err : TX_ECORRUPT;
    {
        uint64_t last;
        MDB_cursor *cur;
        MDB_val ok, ov;

        /* The clock resumes above every stored envelope's timestamp: this
         * node's own and every remote one it merged. */
        if ((err = node__meta_get_u64(s, txn, "hlc", &last)))
            return err;
        if (mdb_cursor_open(txn, s->dbi[DB_ORIGINS], &cur) == 0) {
            int rc;

            for (rc = mdb_cursor_get(cur, &ok, &ov, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(cur, &ok, &ov, MDB_NEXT)) {
                struct origin_row o;

                if (node__origin_load(s, txn, ov.mv_data, ov.mv_size, &o) == 0 && o.head_hlc > last)
                    last = o.head_hlc;
            }
            mdb_cursor_close(cur);
        }
        crdt_hlc_init(&s->hlc, last, CRDT_HLC_DEFAULT_SKEW_MS);
    }
    return TX_OK;
}

static int load_identity(struct node_store *s)
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    int err = read_secret(s->dir, seed);

    if (err)
        return err;
    s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    s->xsk = sodium_malloc(crypto_scalarmult_curve25519_BYTES);
    if (!s->sk || !s->xsk) {
        sodium_memzero(seed, sizeof(seed));
        return TX_ENOMEM;
    }
    crypto_sign_seed_keypair(s->pk, s->sk, seed);
    sodium_memzero(seed, sizeof(seed));
    if (sodium_memcmp(s->pk, s->info.id, CRDT_KEY_BYTES) != 0)
        return TX_ECORRUPT; /* node.key does not belong to this store */
    if (crypto_sign_ed25519_sk_to_curve25519(s->xsk, s->sk) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(s->xpk, s->pk) != 0)
        return TX_ECRYPTO;
    s->have_sk = 1;
    return TX_OK;
}

void node_close(struct node_store *s)
{
    if (!s)
        return;
    node__keys_free(s);
    node__trust_clear(&s->trust);
    tx_free(s->dev_trusted);
    if (s->env)
        mdb_env_close(s->env);
    if (s->sk)
        sodium_free(s->sk);
    if (s->xsk)
        sodium_free(s->xsk);
    tx_free(s->dir);
    tx_free(s);
}

static int store_new(const char *dir, const struct node_os *os, struct node_store **out)
{
    struct node_store *s;

    if (sodium_init() < 0)
        return TX_ECRYPTO;
    s = tx_calloc(1, sizeof(*s));
    if (!s)
        return TX_ENOMEM;
    s->dir = tx_strndup(dir, strlen(dir));
    if (!s->dir) {
        tx_free(s);
        return TX_ENOMEM;
    }
    if (os)
        s->os = *os;
    s->map_size = DEFAULT_MAP;
    s->map_max = DEFAULT_MAP_MAX;
    s->max_held = 1000000;
    *out = s;
    return TX_OK;
}

int node_set_max_held(struct node_store *s, uint64_t max_envelopes)
{
    if (!s || max_envelopes == 0)
        return TX_EINVAL;
    s->max_held = max_envelopes;
    return TX_OK;
}

/* Schema 1 -> 2: the scopelog keeps only the public scope (other scopes are
 * rebuilt from arrival). Every other entry is deleted in place (no copy of
 * what stays); in one transaction, so a crash leaves either layout whole. */
static int migrate_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    static const char prefix[] = NODE_PUBLIC_SCOPE; /* and its \0 */
    uint8_t schema[4];
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, err;

    (void)vctx;
    if ((err = meta_get(txn, s->dbi[DB_META], "schema", &k)))
        return err;
    if (k.mv_size != 4)
        return TX_ECORRUPT;
    if (node__get_u32(k.mv_data) >= 2)
        return TX_OK; /* another process migrated it meanwhile */
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_SCOPELOG], &cur)))
        return node__mdb_err(rc);
    /* After mdb_cursor_del the cursor already stands on the next entry, and
     * MDB_NEXT returns that entry (as in drop_records). */
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        int pub = k.mv_size == sizeof(prefix) + 8 && memcmp(k.mv_data, prefix, sizeof(prefix)) == 0;

        if (pub) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return node__mdb_err(rc);
    node__put_u32(schema, 2);
    return meta_put(txn, s->dbi[DB_META], "schema", schema, 4);
}

int node_open(const char *dir, int flags, const struct node_os *os, struct node_store **out)
{
    struct node_store *s = NULL;
    MDB_txn *txn = NULL;
    MDB_envinfo ei;
    int err;

    *out = NULL;
    if ((err = store_new(dir, os, &s)))
        return err;
    s->readonly = (flags & NODE_OPEN_READONLY) != 0;
    if ((err = env_open(dir, s->readonly, (flags & NODE_OPEN_NOSYNC) != 0, s->map_size, &s->env)) ||
        (err = open_dbs(s, 0)))
        goto fail;
    if (mdb_env_info(s->env, &ei) == 0 && ei.me_mapsize > s->map_size)
        s->map_size = ei.me_mapsize;
    if ((err = node__read_txn(s, &txn)) || (err = load_info(s, txn)))
        goto fail;
    /* The identity is needed to write and to read private scopes. A read-only
     * open by another user (no access to node.key) still reads records. */
    err = load_identity(s);
    if (err && !(s->readonly && (err == TX_EIO || err == TX_ENOTINIT)))
        goto fail;
    if (s->have_sk && (err = node__keys_load(s, txn)))
        goto fail;
    {
        MDB_val k = {8, "district"}, v;
        int rc = mdb_get(txn, s->dbi[DB_META], &k, &v);

        if (rc == 0 && v.mv_size == CRDT_KEY_BYTES) {
            memcpy(s->district, v.mv_data, CRDT_KEY_BYTES);
            s->in_district = 1;
        } else if (rc != MDB_NOTFOUND) {
            err = rc ? node__mdb_err(rc) : TX_ECORRUPT;
            goto fail;
        }
    }
    mdb_txn_abort(txn);
    txn = NULL;
    if (!s->readonly && s->info.schema < NODE_SCHEMA_VERSION) {
        node__log(s, NODE_LOG_INFO, "store: upgrading schema %u to %u", s->info.schema,
                  NODE_SCHEMA_VERSION);
        if ((err = node__write_txn(s, migrate_fn, NULL)))
            goto fail;
        s->info.schema = NODE_SCHEMA_VERSION;
    }
    /* Trust table; a crash between a commit and its key installs is caught up. */
    if ((err = node__system_process(s)))
        goto fail;
    *out = s;
    return TX_OK;
fail:
    if (txn)
        mdb_txn_abort(txn);
    node_close(s);
    return err;
}

struct init_ctx {
    const struct node_init_opts *opts;
    const uint8_t *pk;
};

static int init_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct init_ctx *c = vctx;
    uint8_t schema[4], role = (uint8_t)c->opts->role;
    struct origin_row o;
    int err;

    node__put_u32(schema, NODE_SCHEMA_VERSION);
    if ((err = meta_put(txn, s->dbi[DB_META], "schema", schema, 4)) ||
        (err = meta_put(txn, s->dbi[DB_META], "node_id", c->pk, CRDT_KEY_BYTES)) ||
        (err = meta_put(txn, s->dbi[DB_META], "community", c->opts->community,
                        strlen(c->opts->community))) ||
        (err = meta_put(txn, s->dbi[DB_META], "role", &role, 1)))
        return err;
    if (c->opts->name &&
        (err = meta_put(txn, s->dbi[DB_META], "name", c->opts->name, strlen(c->opts->name))))
        return err;
    /* This node is origin index 0. */
    if ((err = node__origin_get(s, txn, c->pk, 1, &o)))
        return err;
    o.flags |= NODE_ORIGIN_SELF;
    return node__origin_put(s, txn, c->pk, &o);
}

int node_init(const char *dir, const struct node_init_opts *opts, const struct node_os *os)
{
    unsigned char seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t pk[CRDT_KEY_BYTES];
    char keytext[sizeof(KEY_FILE_HEADER) + 2 * crypto_sign_SEEDBYTES + 2];
    char pubtext[NODE_ID_HEX + 2];
    struct node_store *s = NULL;
    char *p = NULL;
    struct init_ctx ctx;
    int err;

    if (!opts || check_community(opts->community) || !node_role_name(opts->role) ||
        (opts->name &&
         (strlen(opts->name) > NODE_MAX_NAME || crdt_check_id(opts->name, strlen(opts->name)))))
        return TX_EINVAL;
    if ((err = store_new(dir, os, &s)))
        return err;
    if ((err = node__mkdir_p(dir)))
        goto out;
    if (!(p = path_join(dir, "db"))) {
        err = TX_ENOMEM;
        goto out;
    }
    if (mkdir(p, 0700) && errno != EEXIST) {
        err = TX_EIO;
        goto out;
    }
    tx_free(p);
    p = path_join(dir, "node.key");
    if (!p) {
        err = TX_ENOMEM;
        goto out;
    }
    if (access(p, F_OK) == 0) {
        err = TX_EEXIST;
        goto out;
    }
    node__random(s, seed, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    memcpy(keytext, KEY_FILE_HEADER, strlen(KEY_FILE_HEADER));
    node_hex(seed, sizeof(seed), keytext + strlen(KEY_FILE_HEADER));
    strcat(keytext, "\n");
    err = write_new_file(p, 0600, keytext, strlen(keytext));
    sodium_memzero(keytext, sizeof(keytext));
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    if (err)
        goto out;
    tx_free(p);
    p = path_join(dir, "node.pub");
    node_hex(pk, sizeof(pk), pubtext);
    strcat(pubtext, "\n");
    if (!p || (err = write_new_file(p, 0644, pubtext, strlen(pubtext))))
        goto out_key;
    if ((err = env_open(dir, 0, 0, s->map_size, &s->env)) || (err = open_dbs(s, 1)))
        goto out_key;
    ctx.opts = opts;
    ctx.pk = pk;
    if ((err = node__write_txn(s, init_fn, &ctx)))
        goto out_key;
    err = fsync_dir(dir);
    goto out;
out_key:
    /* Leave no half-made node behind. */
    tx_free(p);
    p = path_join(dir, "node.key");
    if (p)
        unlink(p);
    tx_free(p);
    p = path_join(dir, "node.pub");
    if (p)
        unlink(p);
out:
    tx_free(p);
    node_close(s);
    return err;
}

int node_set_map_limits(struct node_store *s, size_t initial_bytes, size_t max_bytes)
{
    int rc;

    if (s->readonly || initial_bytes == 0 || max_bytes < initial_bytes)
        return TX_EINVAL;
    rc = mdb_env_set_mapsize(s->env, initial_bytes);
    if (rc)
        return node__mdb_err(rc);
    {
        MDB_envinfo ei;

        /* LMDB never shrinks below what the file already uses. */
        s->map_size = mdb_env_info(s->env, &ei) == 0 ? ei.me_mapsize : initial_bytes;
    }
    s->map_max = max_bytes;
    return TX_OK;
}

int node_info(struct node_store *s, struct node_info *info)
{
    *info = s->info;
    return TX_OK;
}

/* ---- transactions ---- */

int node__read_txn(struct node_store *s, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);

    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry. */
        mdb_env_set_mapsize(s->env, 0);
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    }
    if (rc == MDB_READERS_FULL) {
        int dead;

        mdb_reader_check(s->env, &dead);
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    }
    return node__mdb_err(rc);
}

int node__read_cursor(struct node_store *s, int db, MDB_txn **txn, MDB_cursor **cur)
{
    int err = node__read_txn(s, txn), rc;

    if (err)
        return err;
    if ((rc = mdb_cursor_open(*txn, s->dbi[db], cur))) {
        mdb_txn_abort(*txn);
        *txn = NULL;
        return node__mdb_err(rc);
    }
    return TX_OK;
}

static int grow_map(struct node_store *s)
{
    size_t next;
    int rc;

    {
        MDB_envinfo ei;

        /* Another process may have grown the map since we last looked. */
        if (mdb_env_info(s->env, &ei) == 0 && ei.me_mapsize > s->map_size)
            s->map_size = ei.me_mapsize;
    }
    if (s->map_size >= s->map_max)
        return TX_EMAPFULL;
    next = s->map_size > s->map_max / 2 ? s->map_max : s->map_size * 2;
    rc = mdb_env_set_mapsize(s->env, next);
    if (rc)
        return node__mdb_err(rc);
    node__log(s, NODE_LOG_INFO, "store: map grown from %zu to %zu bytes", s->map_size, next);
    s->map_size = next;
    return TX_OK;
}

int node__write_txn(struct node_store *s, node__txn_fn fn, void *ctx)
{
    struct crdt_hlc saved = s->hlc;

    if (s->readonly)
        return TX_EINVAL;
    for (int attempt = 0; attempt < 64; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn), err;

        if (rc == MDB_MAP_RESIZED) {
            mdb_env_set_mapsize(s->env, 0);
            rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        }
        if (rc)
            return node__mdb_err(rc);
        err = fn(s, txn, ctx);
        if (err) {
            mdb_txn_abort(txn);
        } else {
            /* A failed commit has already freed txn. */
            rc = mdb_txn_commit(txn);
            err = node__mdb_err(rc);
        }
        if (err != TX_EMAPFULL) {
            if (err)
                s->hlc = saved;
            return err;
        }
        /* Poisoned by MAP_FULL: nothing was stored; grow and redo it all. */
        s->hlc = saved;
        if ((err = grow_map(s)))
            return err;
    }
    return TX_EMAPFULL;
}

/* ---- origins ---- */

void node__origin_encode(const struct origin_row *o, uint8_t out[ORIGIN_ROW_BYTES])
{
    node__put_u32(out, o->idx);
    node__put_u32(out + 4, o->flags);
    node__put_u64(out + 8, o->head);
    memcpy(out + 16, o->head_hash, CRDT_HASH_BYTES);
    node__put_u64(out + 48, o->head_hlc);
    node__put_u64(out + 56, o->received_ms);
    node__put_u64(out + 64, o->cut);
}

int node__origin_decode(const void *buf, size_t len, struct origin_row *o)
{
    const uint8_t *p = buf;

    if (len != ORIGIN_ROW_BYTES)
        return TX_ECORRUPT;
    o->idx = node__get_u32(p);
    o->flags = node__get_u32(p + 4);
    o->head = node__get_u64(p + 8);
    memcpy(o->head_hash, p + 16, CRDT_HASH_BYTES);
    o->head_hlc = node__get_u64(p + 48);
    o->received_ms = node__get_u64(p + 56);
    o->cut = node__get_u64(p + 64);
    return TX_OK;
}

/* Schema 2: a local write does not rewrite this node's own origin row (one
 * B-tree less per durable write); the head of its own chain is the last log
 * entry of its index, and the row's head fields are brought up to it here. */
static int own_head(struct node_store *s, MDB_txn *txn, struct origin_row *o)
{
    uint8_t lk[12];
    MDB_cursor *cur;
    MDB_val k = {12, lk}, v;
    int rc, err = TX_OK;

    if ((rc = mdb_cursor_open(txn, s->dbi[DB_LOG], &cur)))
        return node__mdb_err(rc);
    if (o->idx < UINT32_MAX) {
        node__put_u32(lk, o->idx + 1);
        node__put_u64(lk + 4, 0);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        rc = rc == 0              ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
             : rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
                                  : rc;
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (rc == 0 && k.mv_size == 12 && node__get_u32(k.mv_data) == o->idx &&
        node__get_u64((const uint8_t *)k.mv_data + 4) > o->head) {
        struct crdt_env e;

        if (node__log_split(&v, NULL) || crdt_env_decode(&e, v.mv_data, v.mv_size)) {
            err = TX_ECORRUPT;
        } else {
            o->head = e.seq;
            o->head_hlc = e.hlc;
            o->received_ms = CRDT_HLC_MS(e.hlc); /* written here: its own clock */
            crdt_env_hash(v.mv_data, v.mv_size, o->head_hash);
            crdt_env_release(&e);
        }
    } else if (rc && rc != MDB_NOTFOUND) {
        err = node__mdb_err(rc);
    }
    mdb_cursor_close(cur);
    return err;
}

int node__origin_load(struct node_store *s, MDB_txn *txn, const void *buf, size_t len,
                      struct origin_row *o)
{
    int err = node__origin_decode(buf, len, o);

    return err || !(o->flags & NODE_ORIGIN_SELF) ? err : own_head(s, txn, o);
}

int node__origin_get(struct node_store *s, MDB_txn *txn, const uint8_t *origin, int create,
                     struct origin_row *o)
{
    MDB_val k = {CRDT_KEY_BYTES, (void *)origin}, v;
    int rc = mdb_get(txn, s->dbi[DB_ORIGINS], &k, &v);
    uint64_t next;
    uint8_t ib[4];
    int err;

    if (rc == 0)
        return node__origin_load(s, txn, v.mv_data, v.mv_size, o);
    if (rc != MDB_NOTFOUND || !create)
        return node__mdb_err(rc);
    if ((err = node__meta_get_u64(s, txn, "next_origin", &next)))
        return err;
    if (next > UINT32_MAX)
        return TX_ETOOBIG;
    memset(o, 0, sizeof(*o));
    o->idx = (uint32_t)next;
    node__put_u32(ib, o->idx);
    k.mv_size = 4;
    k.mv_data = ib;
    v.mv_size = CRDT_KEY_BYTES;
    v.mv_data = (void *)origin;
    if ((rc = mdb_put(txn, s->dbi[DB_ORIGIDX], &k, &v, MDB_NOOVERWRITE)))
        return node__mdb_err(rc);
    if ((err = node__meta_put_u64(s, txn, "next_origin", next + 1)))
        return err;
    return node__origin_put(s, txn, origin, o);
}

int node__origin_put(struct node_store *s, MDB_txn *txn, const uint8_t *origin,
                     const struct origin_row *o)
{
    uint8_t buf[ORIGIN_ROW_BYTES];
    MDB_val k = {CRDT_KEY_BYTES, (void *)origin}, v = {ORIGIN_ROW_BYTES, buf};

    node__origin_encode(o, buf);
    return node__mdb_err(mdb_put(txn, s->dbi[DB_ORIGINS], &k, &v, 0));
}

int node__origin_by_idx(struct node_store *s, MDB_txn *txn, uint32_t idx, uint8_t *origin)
{
    uint8_t ib[4];
    MDB_val k = {4, ib}, v;
    int rc;

    node__put_u32(ib, idx);
    rc = mdb_get(txn, s->dbi[DB_ORIGIDX], &k, &v);
    if (rc)
        return node__mdb_err(rc);
    if (v.mv_size != CRDT_KEY_BYTES)
        return TX_ECORRUPT;
    memcpy(origin, v.mv_data, CRDT_KEY_BYTES);
    return TX_OK;
}

/* ---- record keys ---- */

int node__record_key(char *buf, size_t cap, size_t *len, const char *scope, size_t sl,
                     const char *type, size_t tl, const char *id, size_t il)
{
    if (sl + tl + il + 2 > cap)
        return TX_ETOOBIG;
    memcpy(buf, scope, sl);
    buf[sl] = '\0';
    memcpy(buf + sl + 1, type, tl);
    buf[sl + 1 + tl] = '\0';
    memcpy(buf + sl + tl + 2, id, il);
    *len = sl + tl + il + 2;
    return TX_OK;
}

int node__record_key_split(const void *key, size_t len, struct node_record *r)
{
    const char *k = key, *end = k + len;
    const char *z1 = memchr(k, '\0', len), *z2;
    size_t sl, tl, il;

    if (!z1)
        return TX_ECORRUPT;
    z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1));
    if (!z2)
        return TX_ECORRUPT;
    sl = (size_t)(z1 - k);
    tl = (size_t)(z2 - z1 - 1);
    il = (size_t)(end - z2 - 1);
    if (sl > CRDT_MAX_SCOPE || tl > CRDT_MAX_TYPE || il > CRDT_MAX_ID)
        return TX_ECORRUPT;
    memcpy(r->scope, k, sl);
    r->scope[sl] = '\0';
    memcpy(r->type, z1 + 1, tl);
    r->type[tl] = '\0';
    memcpy(r->id, z2 + 1, il);
    r->id[il] = '\0';
    return TX_OK;
}
