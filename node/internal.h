/* internal.h - node/ internals shared between its files; not a public header. */
#ifndef TONGXIN_NODE_INTERNAL_H
#define TONGXIN_NODE_INTERNAL_H

#include <lmdb.h>
#include <sodium.h>

#include "node.h"

/* Named databases, opened once at start in one transaction (docs/storage.md). */
enum {
    DB_META = 0, /* str key -> value */
    DB_ORIGINS,  /* origin(32) -> struct origin_row (72 bytes) */
    DB_ORIGIDX,  /* idx u32be -> origin(32) */
    DB_LOG,      /* idx u32be, seq u64be -> arrival u64be, envelope */
    DB_ARRIVAL,  /* arrival u64be -> idx u32be, seq u64be */
    DB_SCOPELOG, /* "public" \0 arrival u64be -> idx u32be, seq u64be (schema 2: public only) */
    DB_RECORDS,  /* scope \0 type \0 id -> canonical record state */
    DB_HELD,     /* idx u32be, seq u64be -> reason u8, verified u8, envelope */
    DB_EVIDENCE, /* idx u32be, seq u64be, hash(32) -> envelope */
    DB_KEYS,     /* scope \0 epoch u32be -> sealed scope key */
    DB_PEERS,    /* node id(32) -> msgpack [updated_ms, [[origin, seq]...]] */
    DB_STATS,    /* reason u32be -> count u64be */
    DB_COUNT
};

#define ORIGIN_ROW_BYTES 72
/* Unverified envelopes (the tail of a run whose last signature failed) held per
 * origin and batch; the rest is refused as HELD_FULL and comes again later. */
#define NODE_MAX_UNVERIFIED 256

/* A log value is the arrival number (u64be) followed by the envelope bytes. */
#define LOG_PREFIX 8
/* Point v at the envelope bytes of a log value; arrival may be NULL. */
static inline int node__log_split(MDB_val *v, uint64_t *arrival)
{
    const uint8_t *p = v->mv_data;

    if (v->mv_size <= LOG_PREFIX)
        return -20030; /* TX_ECORRUPT */
    if (arrival)
        *arrival = ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40) |
                   ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
                   ((uint64_t)p[6] << 8) | p[7];
    v->mv_data = (uint8_t *)v->mv_data + LOG_PREFIX;
    v->mv_size -= LOG_PREFIX;
    return 0;
}

struct origin_row {
    uint32_t idx;
    uint32_t flags;
    uint64_t head;
    uint8_t head_hash[CRDT_HASH_BYTES];
    uint64_t head_hlc;
    uint64_t received_ms;
    uint64_t cut; /* revocation cut (0: none) */
};

struct scope_key {
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    uint8_t *key; /* sodium_malloc'd, 32 bytes */
};

struct trust_entry {
    uint8_t node[CRDT_KEY_BYTES];
    struct node_cert cert;
    int have_cert;
    int foreign; /* a certificate of another district was seen for it */
    int revoked;
    uint64_t cut;
};

struct node_trust {
    struct trust_entry *e;
    size_t n;
};

struct node_store {
    char *dir;
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    /* node_held_for_time's last scan: the commit it saw, and the earliest
     * time (ms) a SKEW-held envelope becomes acceptable (UINT64_MAX: none) */
    size_t held_scan_txnid;
    uint64_t held_due_ms;
    int readonly;
    struct node_os os;
    struct node_info info;
    /* identity: secret key in guarded memory */
    unsigned char *sk;  /* crypto_sign_SECRETKEYBYTES, sodium_malloc */
    unsigned char *xsk; /* X25519 secret, sodium_malloc */
    uint8_t pk[CRDT_KEY_BYTES];
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    int have_sk;
    struct crdt_hlc hlc;
    /* readable scope keys */
    struct scope_key *keys;
    size_t nkeys;
    /* stored keys that did not unseal (warned once, not tried again while the
     * stored value stays the same) */
    struct {
        char scope[CRDT_MAX_SCOPE + 1];
        uint32_t epoch;
        uint8_t sealed[80];
    } * badkeys;
    size_t nbadkeys;
    size_t map_size, map_max;
    uint64_t max_held;
    /* district membership and what it trusts */
    int in_district;
    uint8_t district[CRDT_KEY_BYTES];
    struct node_trust trust;
    uint64_t public_seen; /* last public-scope arrival the trust table has seen */
    /* development mode (no district): node ids allowed to connect */
    uint8_t (*dev_trusted)[CRDT_KEY_BYTES];
    size_t ndev;
};

/* ---- helpers (store.c) ---- */
int node__mdb_err(int rc);
uint64_t node__now(struct node_store *s);
void node__random(struct node_store *s, void *buf, size_t n);
void node__log(struct node_store *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run fn inside a write transaction and commit durably. On MDB_MAP_FULL the
 * transaction is aborted, the map grown and fn run again from the start (fn must
 * keep no state outside the transaction, or restore it when called again). */
typedef int (*node__txn_fn)(struct node_store *s, MDB_txn *txn, void *ctx);
int node__write_txn(struct node_store *s, node__txn_fn fn, void *ctx);
/* Begin a read-only transaction (handles MDB_MAP_RESIZED). */
int node__read_txn(struct node_store *s, MDB_txn **txn);
/* A read transaction and a cursor on one of its databases (DB_*); on error
 * neither is left open. Close the cursor, then abort the transaction. */
int node__read_cursor(struct node_store *s, int db, MDB_txn **txn, MDB_cursor **cur);

void node__put_u32(uint8_t *p, uint32_t v);
void node__put_u64(uint8_t *p, uint64_t v);
uint32_t node__get_u32(const uint8_t *p);
uint64_t node__get_u64(const uint8_t *p);

/* origins */
void node__origin_encode(const struct origin_row *o, uint8_t out[ORIGIN_ROW_BYTES]);
int node__origin_decode(const void *buf, size_t len, struct origin_row *o);
/* Decode a stored row; for this node's own origin (flag SELF) bring the head
 * fields up to the last envelope of its chain in the log (schema 2: local
 * writes do not rewrite the row). */
int node__origin_load(struct node_store *s, MDB_txn *txn, const void *buf, size_t len,
                      struct origin_row *o);
/* Look up an origin row; with create, allocate an index for an unknown origin. */
int node__origin_get(struct node_store *s, MDB_txn *txn, const uint8_t *origin, int create,
                     struct origin_row *o);
int node__origin_put(struct node_store *s, MDB_txn *txn, const uint8_t *origin,
                     const struct origin_row *o);
int node__origin_by_idx(struct node_store *s, MDB_txn *txn, uint32_t idx, uint8_t *origin);

/* meta */
int node__meta_get_u64(struct node_store *s, MDB_txn *txn, const char *key, uint64_t *v);
int node__meta_put_u64(struct node_store *s, MDB_txn *txn, const char *key, uint64_t v);
int node__stat_add(struct node_store *s, MDB_txn *txn, int reason, uint64_t n);

/* Record keys: scope \0 type \0 id. */
int node__record_key(char *buf, size_t cap, size_t *len, const char *scope, size_t sl,
                     const char *type, size_t tl, const char *id, size_t il);
int node__record_key_split(const void *key, size_t len, struct node_record *r);

/* keys (keys.c) */
const uint8_t *node__scope_key(struct node_store *s, const char *scope, uint32_t epoch);
/* The newest epoch this node holds for scope (0 if none). */
uint32_t node__scope_epoch(struct node_store *s, const char *scope);
/* Create the first key of a scope inside txn (kept in memory only on commit). */
int node__scope_key_create(struct node_store *s, MDB_txn *txn, const char *scope, uint32_t *epoch);
int node__keys_load(struct node_store *s, MDB_txn *txn);
/* Ensure this node holds a key for scope (creating epoch 1 in its own
 * transaction when it holds none); epoch 0 for the public scope. */
int node__scope_ensure_key(struct node_store *s, const char *scope, uint32_t *epoch);
int node__key_unwrap(struct node_store *s, const uint8_t *blob, size_t len, char *scope,
                     uint32_t *epoch, uint8_t key[32]);
/* Store a key sealed to self and keep it in memory; TX_EEXIST if held already. */
int node__key_install(struct node_store *s, const char *scope, uint32_t epoch,
                      const uint8_t key[32]);
/* Store a key and rebuild its scope's records, in one transaction (a key held
 * already is stored again and the scope rebuilt: a retry completes). */
int node__key_install_rebuild(struct node_store *s, const char *scope, uint32_t epoch,
                              const uint8_t key[32]);
/* Rebuild every record of scope from the log (after a key arrives). */
int node__rebuild_scope(struct node_store *s, const char *scope);
/* Several scopes in one write transaction and one pass over the log. */
int node__rebuild_scopes(struct node_store *s, const char (*scopes)[CRDT_MAX_SCOPE + 1], size_t n);
/* Keys to install (node__keys_install_rebuild); install is set by it. */
struct node__newkey {
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    uint8_t key[32];
    int install;
};
/* Store and load every key of k not held yet (each (scope, epoch) once) and
 * rebuild their scopes, all in one transaction with one pass over the log.
 * Nothing is installed on error. The caller wipes the keys. */
int node__keys_install_rebuild(struct node_store *s, struct node__newkey *k, size_t n);
void node__keys_free(struct node_store *s);

/* crypto of envelope bodies (keys.c) */
void node__body_ad(const struct crdt_env *e, uint8_t *ad, size_t *adlen);
/* Decrypt e's body into a new buffer (caller frees with tx_free). TX_ENOKEY when
 * this node cannot read the scope, TX_ECRYPTO when it does not authenticate. For
 * epoch 0 the body is copied as it is. */
int node__body_open(struct node_store *s, const struct crdt_env *e, uint8_t **pt, size_t *ptlen);
int node__sign_verify(const uint8_t *env, size_t len, const uint8_t origin[CRDT_KEY_BYTES]);
/* Sign an encoded envelope in place (its last 64 bytes). */
int node__sign(struct node_store *s, uint8_t *env, size_t len);
/* Encrypt a body for e (fills e->nonce); epoch 0 copies it. */
int node__body_seal(struct node_store *s, struct crdt_env *e, const uint8_t *pt, size_t ptlen,
                    uint8_t **ct, size_t *ctlen);

/* Apply a decoded, readable envelope body to the records of its scope within txn
 * (records cache in ingest.c). */
struct node__reccache;
int node__apply_body(struct node_store *s, MDB_txn *txn, struct node__reccache *rc,
                     const struct crdt_env *e, const struct crdt_body *b);
struct node__reccache *node__reccache_new(void);
int node__reccache_flush(struct node_store *s, MDB_txn *txn, struct node__reccache *rc);
void node__reccache_free(struct node__reccache *rc);
/* Load a record through the cache (creating an empty one if absent). */
int node__reccache_get(struct node_store *s, MDB_txn *txn, struct node__reccache *rc,
                       const char *scope, const char *type, size_t tl, const char *id, size_t il,
                       struct crdt_record **out);

/* Append an accepted envelope to the log (log, arrival, scopelog) and move the
 * origin's head; decrypt and apply it when readable. */
struct node__txstate {
    uint64_t next_arrival; /* loaded at the start of the transaction */
    uint64_t now;
    uint64_t badbody;
    int system_dirty; /* a public-scope body was applied: certs, keys may change */
    /* The last key of the log: an append beyond it uses MDB_APPEND, which
     * fills pages instead of splitting them in half. */
    uint8_t log_last[12];
    int log_last_ok;
    /* this node's own origin row as loaded (head from the log), when it has one */
    struct origin_row own;
    int own_ok;
};
int node__txstate_load(struct node_store *s, MDB_txn *txn, struct node__txstate *ts);
/* The arrival number the next appended envelope gets. */
uint64_t node__next_arrival(struct node_store *s, MDB_txn *txn);
int node__txstate_save(struct node_store *s, MDB_txn *txn, const struct node__txstate *ts);
/* A body opened (decrypted) and decoded before its transaction, by the
 * pipelined ingest's preparation thread. Pure: it reads only the scope keys. */
struct node__opened {
    int open_err; /* node__body_open's result (TX_ENOKEY: no key then) */
    int dec_err;  /* crdt_body_decode's, when open_err is TX_OK */
    uint8_t *pt;  /* the plaintext the body borrows from */
    size_t ptlen;
    struct crdt_body body; /* valid when both errors are TX_OK */
};
/* Fill o for e; returns TX_ENOMEM only when allocation failed (o is then still
 * safe to release, and the transaction opens the body itself). */
int node__open_ahead(struct node_store *s, const struct crdt_env *e, struct node__opened *o);
void node__opened_release(struct node__opened *o);
/* apply: 0 for local writes (already applied while building the envelope).
 * pre: the body opened ahead (or NULL: opened here). */
int node__append(struct node_store *s, MDB_txn *txn, struct node__txstate *ts,
                 struct node__reccache *rc, struct origin_row *o, const struct crdt_env *e,
                 const uint8_t *bytes, size_t len, const uint8_t hash[CRDT_HASH_BYTES], int apply,
                 const struct node__opened *pre, int *readable);

/* trust (trust.c) */
void node__trust_clear(struct node_trust *t);
int node__trust_add_cert(struct node_trust *t, const uint8_t *district, const uint8_t *buf,
                         size_t len);
int node__trust_add_revocation(struct node_trust *t, const uint8_t *district, const uint8_t *buf,
                               size_t len);
int node__trust_scan_body(struct node_trust *t, const uint8_t *district, const struct crdt_body *b);
int node__trust_reload(struct node_store *s);
/* 0 or the NODE_R_* reason to reject e (overlay: certificates seen in the batch). */
int node__trust_check(struct node_store *s, const struct node_trust *overlay,
                      const struct crdt_env *e);
int node__trust_known(struct node_store *s, const struct node_trust *overlay, const uint8_t *origin,
                      int *reason);
/* After a commit that applied public records: reload trust, install key wraps
 * addressed to this node (rebuilding their scopes), enforce revocation cuts. */
int node__system_process(struct node_store *s);
/* A key wrap as published: 5 changes (reader, scope, epoch, wrapped, sig). */
/* Write changes to the public scope in one transaction, as envelopes of at
 * most 1000 changes, never splitting one record's changes between two
 * envelopes (readers take a key wrap only when all its fields arrive
 * together). All or nothing; one trust pass afterwards. */
int node__publish_public(struct node_store *s, const struct node_change *ch, size_t nch);
uint32_t node__keywrap_changes(struct node_change *ch, char *idbuf, const char *scope,
                               uint32_t epoch, const uint8_t *reader, const uint8_t *sealed,
                               const uint8_t *sig);
/* The district root's signature over a key wrap, and over an enrolment's sealed
 * network key: only the administrator makes scope keys and network keys. */
void node__wrap_digest(const char *scope, uint32_t epoch, const uint8_t reader[32],
                       const uint8_t sealed[80], uint8_t out[32]);
int node__wrap_verify(const uint8_t district[32], const char *scope, uint32_t epoch,
                      const uint8_t reader[32], const uint8_t sealed[80], const uint8_t sig[64]);
void node__netkey_digest(const uint8_t node[32], const uint8_t sealed[80], uint8_t out[32]);
#define NODE_WRAP_CTX   "tongxin-keywrap-v1"
#define NODE_NETKEY_CTX "tongxin-netkey-v1"

/* revocation on disk (apply.c) */
uint64_t node__origin_head(struct node_store *s, const uint8_t *origin);
int node__truncate_origin(struct node_store *s, const uint8_t *origin, uint64_t cut);
int node__mark_revoked(struct node_store *s, const uint8_t *origin, uint64_t cut);
int node__rebuild_scope_txn(struct node_store *s, MDB_txn *txn, const char *scope);
/* Rebuild n scopes in one pass over the log (arrival order), inside txn. */
int node__rebuild_scopes_txn(struct node_store *s, MDB_txn *txn,
                             const char (*scopes)[CRDT_MAX_SCOPE + 1], size_t n);
/* Whether scope (len bytes, no \0 needed) is the public scope. */
int node__scope_is_public(const char *scope, size_t len);

/* mkdir -p: parents 0755, the directory itself 0700. */
int node__mkdir_p(const char *dir);

#define NODE_SIG_CONTEXT "tongxin-envelope-v1"

#endif
