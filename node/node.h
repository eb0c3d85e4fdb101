/*
 * node.h - the node: identity, the LMDB store of signed per-origin logs,
 * local writes, verified ingest, bundles and the read side used by the CLI.
 *
 * Contract for the whole module
 * - Errors: int return, 0 on success, a negative TX_E* code (crdt.h) on failure.
 *   LMDB, libsodium and errno codes are translated here and never leak out.
 * - Durability: a function that writes returns 0 only after the LMDB transaction
 *   committed durably (fsync'd); on any error nothing of that call is stored.
 * - Threading: a struct node_store is used by one thread at a time. Several
 *   processes may open one data directory (LMDB coordinates them); read-only
 *   opens never block a writer. node_ingest may, inside one call, verify
 *   signatures on short-lived worker threads (one per core, at most 8, only
 *   for batches with 32 or more runs); they touch nothing but that call's own
 *   buffers and are joined before it returns, so callers see no threads.
 * - Ownership: every pointer returned through an output argument is owned by
 *   the caller and freed with the matching _release/_free function unless the
 *   comment says "borrowed", in which case it lives until the next call on the
 *   same store (or the end of the callback it was passed to).
 * - Untrusted input: envelopes and bundles may be arbitrary bytes; bad input is
 *   reported (a reason per envelope, counted in the store) and never corrupts
 *   what is stored.
 */
#ifndef TONGXIN_NODE_H
#define TONGXIN_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NODE_SCHEMA_VERSION 2
#define NODE_ID_HEX         (2 * CRDT_KEY_BYTES)
#define NODE_SHORT_ID       8 /* hex digits shown for a short node id */
#define NODE_MAX_COMMUNITY  32
#define NODE_MAX_NAME       128
#define NODE_PUBLIC_SCOPE   "public"

/* Injected operating-system services, so tests and the simulator can fake them.
 * Any member may be NULL: the real clock, libsodium's randombytes and no logging
 * are used instead. */
enum node_log_level { NODE_LOG_ERROR = 0, NODE_LOG_WARN, NODE_LOG_INFO, NODE_LOG_DEBUG };

struct node_os {
    uint64_t (*now_ms)(void *ctx);                      /* wall clock, ms since epoch */
    void (*random)(void *ctx, void *buf, size_t n);     /* cryptographic randomness */
    void (*log)(void *ctx, int level, const char *msg); /* one line, no newline */
    void *ctx;
};

enum node_role { NODE_ROLE_OFFICE = 1, NODE_ROLE_HUB = 2, NODE_ROLE_RELAY = 3 };
/* "office", "hub", "relay"; NULL for an unknown role. */
const char *node_role_name(int role);
/* The role for a name, 0 if unknown. */
int node_role_parse(const char *s);

/* Scope names: "public" (district-public, plaintext), "general:<community>" and
 * "private:<community>". Writes `scope` (at least CRDT_MAX_SCOPE + 1 bytes). */
int node_scope_general(const char *community, char *scope);
int node_scope_private(const char *community, char *scope);

/* Hex helpers: node ids are the Ed25519 public key in lowercase hex. */
void node_hex(const uint8_t *b, size_t n, char *out /* 2n+1 */);
int node_unhex(const char *hex, uint8_t *out, size_t n); /* exact length; TX_EINVAL */

/* ------------------------------------------------------------------------ */
/* Opening a store                                                           */
/* ------------------------------------------------------------------------ */

struct node_store;

struct node_init_opts {
    const char *community; /* [a-z0-9_-], at most NODE_MAX_COMMUNITY bytes */
    int role;              /* enum node_role */
    const char *name;      /* optional display name (UTF-8), NULL for none */
};

/* Create a new data directory: the directory itself (mode 0700) if missing, the
 * node key pair (node.key mode 0600, node.pub), and the LMDB store with its meta.
 * TX_EEXIST if dir already holds a node. */
int node_init(const char *dir, const struct node_init_opts *opts, const struct node_os *os);

enum node_open_flags {
    NODE_OPEN_READONLY = 1, /* read-only transactions only */
    NODE_OPEN_NOSYNC = 2,   /* no fsync at commit: tests and the simulator only,
                               never for data that must survive a power loss */
};

/* Open a data directory. TX_ENOTINIT if it holds no node, TX_EVERSION if its
 * storage schema is newer than this build. The store owns everything it opens;
 * close it with node_close. */
int node_open(const char *dir, int flags, const struct node_os *os, struct node_store **out);
void node_close(struct node_store *s);

/* Map size control for tests (tiny maps) and operators. The store grows the map
 * by doubling up to max_bytes when a write hits MDB_MAP_FULL, then fails with
 * TX_EMAPFULL. Call right after node_open. */
int node_set_map_limits(struct node_store *s, size_t initial_bytes, size_t max_bytes);

/* Capacity of the hold queue (envelopes waiting for a gap, dependencies or
 * their time), default 1 000 000. A new envelope that would need a place when
 * the queue is full is refused with NODE_R_HELD_FULL (counted, not stored; the
 * sender offers it again later). Lowering it below what is held drops nothing.
 * TX_EINVAL for 0. Call right after node_open; not thread-safe. */
int node_set_max_held(struct node_store *s, uint64_t max_envelopes);

struct node_info {
    uint8_t id[CRDT_KEY_BYTES];
    char community[NODE_MAX_COMMUNITY + 1];
    char name[NODE_MAX_NAME + 1];
    int role;
    uint32_t schema;
};

/* Identity and settings of this node. */
int node_info(struct node_store *s, struct node_info *info);

/* ------------------------------------------------------------------------ */
/* Local writes                                                              */
/* ------------------------------------------------------------------------ */

/* One intended change. The node fills in what it supersedes from the current
 * state (every current value of an LWW field; the element's dots for a set), so
 * callers only say what they want. Strings are borrowed for the call. */
struct node_change {
    const char *type;
    const char *id;
    const char *field;
    int code;                /* enum crdt_opcode */
    struct crdt_value value; /* s borrowed */
};

struct node_write_result {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq;
    uint64_t hlc;
    uint8_t hash[CRDT_HASH_BYTES];
};

/* Write one envelope with these changes into scope (all changes in one
 * envelope, one durable LMDB transaction: append, apply, advance the head).
 * Errors: TX_EINVAL (bad names or values), TX_EKIND (wrong value for the op),
 * TX_EBACKWARD (a status moving backwards), TX_ENOTFOUND (removing an element
 * that is not in the set), TX_EMAPFULL, TX_ESTORE, TX_EIO. Nothing is written
 * on error. */
int node_write(struct node_store *s, const char *scope, const struct node_change *changes, size_t n,
               struct node_write_result *res);

/* Write several envelopes (nwrites groups of changes) in one transaction: the
 * group commit used by batched local writers and the benchmarks. sizes[i] is
 * the number of changes of the i-th envelope. res may be NULL or hold nwrites. */
int node_write_batch(struct node_store *s, const char *scope, const struct node_change *changes,
                     const size_t *sizes, size_t nwrites, struct node_write_result *res);

/* ------------------------------------------------------------------------ */
/* Ingest                                                                    */
/* ------------------------------------------------------------------------ */

/* Why an envelope was not applied; the numbers are stable (bundles print them). */
#define NODE_REASON_MAP(XX)                                                                        \
    XX(MALFORMED, 1, "malformed", "malformed envelope")                                            \
    XX(OVERSIZED, 2, "oversized", "envelope over the size limit")                                  \
    XX(BADSIG, 3, "badsig", "signature does not verify")                                           \
    XX(BADCHAIN, 4, "badchain", "previous-hash does not match the chain")                          \
    XX(EQUIVOCATION, 5, "equivocation", "equivocation: same origin and seq, different envelope")   \
    XX(FROZEN, 6, "frozen", "origin frozen after equivocation")                                    \
    XX(HELD_GAP, 7, "held_gap", "held: earlier envelopes of the origin missing")                   \
    XX(HELD_DEPS, 8, "held_deps", "held: causal dependencies missing")                             \
    XX(HELD_UNVERIFIED, 9, "held_unverified", "held: not yet covered by a verified signature")     \
    XX(HELD_SKEW, 10, "held_skew", "held: timestamp too far in the future")                        \
    XX(BADBODY, 11, "badbody", "body does not decrypt or decode; ops skipped")                     \
    XX(HELD_FULL, 12, "held_full", "hold queue full")                                              \
    XX(UNTRUSTED, 13, "untrusted", "origin not trusted")                                           \
    XX(SCOPE, 14, "scope", "origin may not write this scope")                                      \
    XX(REVOKED, 15, "revoked", "origin revoked at or before this seq")                             \
    XX(DISTRICT, 16, "district", "from another district")                                          \
    XX(EXPIRED, 17, "expired", "written outside the origin's certificate validity")

enum node_reason {
#define NODE__REASON(name, num, lname, msg) NODE_R_##name = (num),
    NODE_REASON_MAP(NODE__REASON)
#undef NODE__REASON
        NODE_R_COUNT = 18
};

/* "malformed", ... (lowercase symbolic name, as in JSON output) and the
 * message; NULL if unknown. */
const char *node_reason_name(int reason);
const char *node_reason_msg(int reason);

struct node_ingest_report {
    uint64_t accepted;   /* appended to the log (applied if readable) */
    uint64_t duplicate;  /* already stored (or twice in the batch) */
    uint64_t held;       /* envelopes of this batch newly put in the hold queue */
    uint64_t released;   /* previously held envelopes applied by this batch */
    uint64_t unreadable; /* accepted but not readable here (kept for relaying) */
    uint64_t rejected;   /* sum of by_reason for rejection reasons */
    uint64_t badbody;    /* accepted, but the body did not decrypt or decode: ops skipped */
    uint64_t by_reason[NODE_R_COUNT];
    uint64_t equivocations;
};

/* Ingest a batch of encoded envelopes from anywhere (peer, bundle, test), in one
 * write transaction: decode and size-check, check hash chains, verify
 * signatures (one per contiguous run of an origin), drop duplicates, hold what
 * is early, record equivocations, decrypt where readable, apply, advance heads.
 * Returns 0 when the batch was processed (individual envelopes may still have
 * been rejected: see rep); an error only when the store itself failed, in which
 * case nothing of the batch is stored. */
int node_ingest(struct node_store *s, const uint8_t *const *envs, const size_t *lens, size_t n,
                struct node_ingest_report *rep);

/* Ingest n envelopes in consecutive batches of per_txn, one write transaction
 * each, with the same results as calling node_ingest on each batch in turn
 * (counts are summed into rep; an envelope held by one batch and released by a
 * later one counts in held and in released). Faster for long runs (catch-up,
 * bundle import): while one batch's transaction commits, a second thread
 * prepares the next one (decoding, hashing, signature checks, decryption), so
 * the wait for the disk is not idle, and a batch's commit flushes its pages
 * but leaves its meta page to the next commit's flush (LMDB's MDB_NOMETASYNC,
 * which keeps the store consistent; set for the call only); the call ends
 * with a flush of its own. So, as with node_ingest, everything is durable when
 * it returns; a crash during the call may lose the batch committed last.
 * Batches committed before an error stay committed; the error is returned.
 * Not for use while another thread of this process writes through s. per_txn = 0 or a read-only
 * store: TX_EINVAL. envs, lens: borrowed for the call. Threading: as node_ingest, and the
 * allocation hook (tx_mem_set) must be thread-safe, as libc's is; with TONGXIN_VERIFY_THREADS=1
 * everything runs on the calling thread. */
int node_ingest_many(struct node_store *s, const uint8_t *const *envs, const size_t *lens, size_t n,
                     size_t per_txn, struct node_ingest_report *rep);

/* Add every count of b to sum (reports of several calls). */
void node_ingest_report_add(struct node_ingest_report *sum, const struct node_ingest_report *b);

/* Try again to apply held envelopes (e.g. after the wall clock caught up with a
 * skewed timestamp). Cheap when nothing is held. */
int node_release_held(struct node_store *s, struct node_ingest_report *rep);
/* 1 if the hold queue holds an envelope held for its time (HELD_SKEW) whose
 * time has come (its HLC is within the allowed skew of the store's clock now),
 * the only hold that the clock alone can end (the others end when an ingest
 * brings what they wait for, which releases them itself, or when trust
 * changes); 0 if none; a negative TX_E* on error. Read-only: it walks the hold
 * queue in one read transaction and remembers the earliest such time with the
 * commit it saw, so later calls with no commit in between (by any process)
 * read nothing. tongxind's housekeeping (every 2 s) calls it to skip
 * node_release_held's write transaction when trust did not change and nothing
 * is due. */
int node_held_for_time(struct node_store *s);

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

/* A record as read: its state decoded (owned), its key. */
struct node_record {
    char scope[CRDT_MAX_SCOPE + 1];
    char type[CRDT_MAX_TYPE + 1];
    char id[CRDT_MAX_ID + 1];
    struct crdt_record rec;
};

void node_record_release(struct node_record *r);

/* Find a record by type and id in any scope this node reads (scope NULL) or in
 * one scope. TX_ENOTFOUND if absent. When several scopes hold the same (type,
 * id) the first in scope order is returned. */
int node_get(struct node_store *s, const char *scope, const char *type, const char *id,
             struct node_record *out);

/* Iterate over records (all, or one type when type is non-NULL), in key order.
 * The callback gets a borrowed record; return non-zero from it to stop (that
 * value is returned). */
typedef int (*node_record_cb)(const struct node_record *r, void *ctx);
int node_records_each(struct node_store *s, const char *type, node_record_cb cb, void *ctx);

/* The state digest over every record stored here (crdt_digest rules), and the
 * log digest: BLAKE2b-256 over (origin, seq, envelope hash) of every stored log
 * envelope in (origin, seq) order - equal on nodes holding the same envelopes. */
int node_digest(struct node_store *s, uint8_t out[CRDT_HASH_BYTES]);
int node_digest_log(struct node_store *s, uint8_t out[CRDT_HASH_BYTES]);

/* One stored envelope, as listed by `tongxin log`. */
struct node_log_entry {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq;
    uint64_t hlc;
    uint64_t arrival;
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    int readable;
    uint8_t hash[CRDT_HASH_BYTES];
    size_t size;
    const uint8_t *bytes;         /* borrowed: the encoded envelope */
    const struct crdt_body *body; /* borrowed: decrypted body, NULL if unreadable */
};

typedef int (*node_log_cb)(const struct node_log_entry *e, void *ctx);
/* Stored envelopes in arrival order (a causal order), all or one origin's. With
 * decrypt set, readable bodies are decrypted and decoded for the callback. */
int node_log_each(struct node_store *s, const uint8_t *origin, int decrypt, node_log_cb cb,
                  void *ctx);

/* Per-origin state, as `tongxin status` and sync need it. */
struct node_origin_info {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t head;
    uint8_t head_hash[CRDT_HASH_BYTES];
    uint64_t head_hlc;
    uint64_t received_ms; /* local time the head was stored */
    uint32_t flags;       /* NODE_ORIGIN_* */
    uint64_t held;        /* envelopes of this origin in the hold queue */
};

#define NODE_ORIGIN_FROZEN  1u
#define NODE_ORIGIN_REVOKED 2u
#define NODE_ORIGIN_SELF    4u

typedef int (*node_origin_cb)(const struct node_origin_info *o, void *ctx);
int node_origins_each(struct node_store *s, node_origin_cb cb, void *ctx);

/* Counters kept in the store. */
struct node_stats {
    uint64_t envelopes; /* in the log */
    uint64_t records;
    uint64_t held;
    uint64_t evidence; /* equivocation evidence envelopes */
    uint64_t frozen;   /* frozen origins */
    uint64_t origins;
    uint64_t rejected[NODE_R_COUNT]; /* lifetime counts per reason */
    size_t map_size, map_used;
};
int node_stats(struct node_store *s, struct node_stats *st);

/* Re-check every stored signature and hash chain. Calls cb (may be NULL) for
 * each problem with a one-line description; returns 0 if all hold, TX_ECORRUPT
 * (after checking everything) if any does not; TX_ENOMEM (reporting nothing
 * further) when memory runs out, which says nothing about the store. */
typedef void (*node_problem_cb)(const char *what, void *ctx);
int node_verify(struct node_store *s, node_problem_cb cb, void *ctx);

/* node_verify, also reporting envelopes whose own signature fails although a
 * later signature of the chain authenticates them (ingest accepts those: see
 * docs/envelope.md section 8). They are counted in rep->covered_badsig and
 * passed to cb as one line per run; they do not make the result TX_ECORRUPT,
 * since what is stored is exactly what the origin signed. rep (may be NULL)
 * is filled even on TX_ECORRUPT. */
struct node_verify_report {
    uint64_t corrupt;        /* problems that make the result TX_ECORRUPT */
    uint64_t covered_badsig; /* envelopes signed badly, covered by a later signature */
};
int node_verify_ex(struct node_store *s, node_problem_cb cb, void *ctx,
                   struct node_verify_report *rep);

/* ------------------------------------------------------------------------ */
/* Bundles                                                                   */
/* ------------------------------------------------------------------------ */

struct node_bundle_report {
    uint64_t envelopes; /* in the bundle */
    struct node_ingest_report ingest;
};

/* Write every stored envelope (for_peer NULL) or only those the given peer lacks
 * according to its last known vector, in causal order, to path (written to a
 * temporary file, fsync'd and renamed). *count gets the number written. */
int node_bundle_export(struct node_store *s, const char *path, const uint8_t *for_peer,
                       uint64_t *count);
/* Check the whole bundle (format, checksum) first; a truncated or corrupted file
 * is refused (TX_ECHECKSUM, TX_ETRUNC, TX_EVERSION, TX_ECORRUPT) with nothing
 * applied. Then ingest its envelopes through node_ingest in batches. */
int node_bundle_import(struct node_store *s, const char *path, struct node_bundle_report *rep);

/* ------------------------------------------------------------------------ */
/* Scope keys                                                                */
/* ------------------------------------------------------------------------ */

/* Wrap this node's newest key of scope for another node (its Ed25519 node id):
 * a small blob only that node can open. *blob is the caller's (tx_free). */
int node_key_wrap(struct node_store *s, const char *scope, const uint8_t reader[CRDT_KEY_BYTES],
                  uint8_t **blob, size_t *len);
/* Open a wrapped key addressed to this node, keep it, and rebuild that scope's
 * records from the log (envelopes stored while unreadable become readable).
 * scope (CRDT_MAX_SCOPE + 1 bytes, may be NULL) receives the scope name.
 * TX_ENOKEY if the blob is for another node, TX_EEXIST if already held,
 * TX_EDISTRICT on a node enrolled in a district: there scope keys come only
 * from key wraps signed by the district root (a blob carries no signature, so
 * importing one would let whoever made it choose the node's key). */
int node_key_import(struct node_store *s, const uint8_t *blob, size_t len, char *scope);

struct node_key_info {
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    int readable; /* this node holds the key */
};
typedef int (*node_key_cb)(const struct node_key_info *k, void *ctx);
/* Every (scope, epoch) this node has seen in its log or holds a key for. */
int node_keys_each(struct node_store *s, node_key_cb cb, void *ctx);

/* ------------------------------------------------------------------------ */
/* District trust (docs/security.md)                                         */
/* ------------------------------------------------------------------------ */

/* A certificate: the district root's signature over a node's key and role.
 *   cert := [1, district: bin 32, node: bin 32, name: str, community: str,
 *            role: uint, issued_ms: uint, expires_ms: uint, sig: bin 64]
 * sig = Ed25519(root, "tongxin-cert-v1" || BLAKE2b-256(bytes before sig)). */
struct node_cert {
    uint8_t district[CRDT_KEY_BYTES];
    uint8_t node[CRDT_KEY_BYTES];
    char name[NODE_MAX_NAME + 1];
    char community[NODE_MAX_COMMUNITY + 1];
    int role;
    uint64_t issued_ms, expires_ms;
};

/* Decode a certificate and check its signature against the district key it
 * names (callers compare cert->district with their own district). */
int node_cert_decode(const uint8_t *buf, size_t len, struct node_cert *cert);

/* A revocation: [1, district, node, cut: uint, reason: str, issued_ms, sig],
 * signed by the root with context "tongxin-revocation-v1". Envelopes of node
 * with seq > cut are invalid everywhere. */
struct node_revocation {
    uint8_t district[CRDT_KEY_BYTES];
    uint8_t node[CRDT_KEY_BYTES];
    uint64_t cut;
    char reason[257];
    uint64_t issued_ms;
};
int node_revocation_decode(const uint8_t *buf, size_t len, struct node_revocation *rv);

/* The administrator's district directory (kept offline): root.key, root.pub,
 * network.key, scopes.key (all secrets mode 0600) and registry/ of what was
 * issued. */
struct node_district;

/* Create a district directory. TX_EEXIST if it holds one. */
int node_district_init(const char *dir, const struct node_os *os);
int node_district_open(const char *dir, const struct node_os *os, struct node_district **out);
void node_district_close(struct node_district *d);
/* The district id (root public key). */
void node_district_id(const struct node_district *d, uint8_t out[CRDT_KEY_BYTES]);

/* Issue a certificate for node_id and an enrolment file for it: the certificate,
 * the network key and the scope keys the node may read, each sealed to the node
 * (so the file may travel by any channel), plus this community's keys wrapped
 * for every hub. The issue is recorded in the registry. *blob is the caller's
 * (tx_free). */
int node_district_issue(struct node_district *d, const uint8_t node_id[CRDT_KEY_BYTES],
                        const char *community, int role, const char *name, uint32_t days,
                        uint8_t **blob, size_t *len);

/* Revoke node_id after seq `cut` (NODE_CUT_HEAD: after the last envelope of it
 * that s holds; TX_ENOTFOUND then if s holds none, so that a revocation never
 * drops everything by accident - give 0 explicitly for that): writes a
 * root-signed revocation and, for every scope the node could read, a new key
 * epoch wrapped for every remaining reader, as public records into s.
 * TX_EINVAL when node_id is s's own node: the revocation's envelopes would come
 * after the cut of their own origin and be dropped everywhere, so a node is
 * revoked through another node's store (the hub's, or any enrolled one). */
#define NODE_CUT_HEAD UINT64_MAX
int node_district_revoke(struct node_district *d, struct node_store *s,
                         const uint8_t node_id[CRDT_KEY_BYTES], uint64_t cut, const char *reason);

/* Install an enrolment file on this node: checks that the certificate is for
 * this node, that the network key and every key wrap are signed by the
 * district root, keeps the district id, network key (sealed) and certificate,
 * installs the scope keys addressed to this node (rebuilding their scopes),
 * then publishes the certificate and every key wrap of the file as public
 * records. The file may hold a key wrap per scope and reader (every hub, every
 * office of a community), so this takes as many envelopes as needed, each of
 * at most 1000 changes and never splitting a wrap (5 changes): the certificate
 * and up to 199 wraps in the first, up to 200 wraps in each further one, all
 * written in one transaction. From then on ingest through this handle
 * enforces the district's trust rules; another process that has the store
 * open (a running tongxind) keeps the district state, network key and
 * certificate it read at node_open until it reopens the store (node_refresh
 * does not pick up an enrolment). */
int node_enrol_install(struct node_store *s, const uint8_t *blob, size_t len);

/* Whether this node belongs to a district (and its id). */
int node_district_of(struct node_store *s, uint8_t out[CRDT_KEY_BYTES]);
/* The network key (for the handshake); TX_ENOTFOUND outside a district. */
int node_network_key(struct node_store *s, uint8_t out[32]);

enum node_cert_state { NODE_CERT_VALID = 1, NODE_CERT_EXPIRED, NODE_CERT_REVOKED };
struct node_cert_info {
    struct node_cert cert;
    int state;            /* enum node_cert_state, at the time of the call */
    uint64_t revoked_cut; /* when revoked */
};
typedef int (*node_cert_cb)(const struct node_cert_info *c, void *ctx);
/* Every certificate this node knows (one per node: the latest issued). */
int node_certs_each(struct node_store *s, node_cert_cb cb, void *ctx);
/* The certificate state of one node (TX_ENOTFOUND if unknown). */
int node_cert_lookup(struct node_store *s, const uint8_t node_id[CRDT_KEY_BYTES],
                     struct node_cert_info *out);

/* ------------------------------------------------------------------------ */
/* Sync                                                                      */
/* ------------------------------------------------------------------------ */

/* The store interface for net/ sessions; their store_ctx is the node_store. */
const struct net_store_ops *node_net_ops(void);
/* What a session needs from this node: the Ed25519 secret key (borrowed from
 * the store, guarded memory), the network key, and the certificate (*cert is
 * the caller's, tx_free; NULL outside a district, where the network key is a
 * fixed development value and only node ids given to node_dev_trust may
 * connect). */
int node_identity(struct node_store *s, const uint8_t **sk, uint8_t psk[32], uint8_t **cert,
                  size_t *cert_len);
/* Development mode only: the node ids allowed to connect (copied). */
int node_dev_trust(struct node_store *s, const uint8_t (*ids)[CRDT_KEY_BYTES], size_t n);

/* ------------------------------------------------------------------------ */
/* The record schema (docs/records.md)                                       */
/* ------------------------------------------------------------------------ */

#define NODE_RECORDS_SCHEMA 1 /* version of the record schema below */

enum node_vtype {
    NODE_V_STRING = 1,
    NODE_V_INT,  /* non-negative integer (counts) */
    NODE_V_DATE, /* "YYYY-MM-DD" */
    NODE_V_ENUM, /* one of the field's names */
    NODE_V_REF,  /* the id of a record of type `ref` */
    NODE_V_BOOL,
};

struct node_field_def {
    const char *name;
    const char *zh;           /* the Chinese term */
    int kind;                 /* CRDT_LWW, CRDT_COUNTER, CRDT_SET, CRDT_STATUS */
    int vtype;                /* enum node_vtype (of the value or the elements) */
    const char *const *enums; /* NULL-terminated names: enums, and a status's states */
    const char *ref;          /* referenced type for NODE_V_REF */
    const char *doc;
};

struct node_type_def {
    const char *name;
    const char *zh;
    int private_scope; /* personal data: the community's private scope */
    const struct node_field_def *fields;
    size_t nfields;
    const char *doc;
};

/* The types (static; n receives the count), one type, one field (NULL if none). */
const struct node_type_def *node_schema_types(size_t *n);
const struct node_type_def *node_schema_type(const char *name);
const struct node_field_def *node_schema_field(const struct node_type_def *t, const char *name);
/* Index of an enum (or status state) name; -1 if not one. */
int node_schema_enum(const struct node_field_def *f, const char *s, size_t n);
const char *node_vtype_name(int vt);
/* Check changes against the schema: known type and field, the op fits the
 * field's kind, the value its type (enum in range, a date, ...), ballot ids.
 * TX_ESCHEMA with a message naming the field in err (may be NULL). A status
 * moving backwards is refused by node_write (TX_EBACKWARD). */
int node_schema_check(const struct node_change *ch, size_t n, char *err, size_t cap);
/* The scope a record of type goes to for community: general or private. */
int node_schema_scope(const char *type, const char *community, char *scope);
/* Personal data stays private: TX_ESCHEMA (message in err, may be NULL) if any
 * change is to a type of the private class and scope is not a private scope.
 * Types of the general class may be written to any scope. */
int node_schema_check_scope(const struct node_change *ch, size_t n, const char *scope, char *err,
                            size_t cap);

/* Catch up with what another process changed in this data directory (the CLI's
 * keys import, revoke, bundle import beside a running daemon). Every call
 * opens a read transaction, walks the stored scope keys (unsealing only those
 * not yet in memory, one X25519 operation each; a key that does not unseal is
 * logged once and tried again only when its stored value changes) and looks
 * up the newest arrival of the public scope: no write, no pass over the log
 * when nothing changed. Keys new here are loaded and the scopes they open
 * rebuilt, in one transaction and one pass over the log.
 * When the public scope's newest arrival is not the one last processed, the
 * whole trust pass runs (node__system_process): the trust table is rebuilt
 * from every public envelope, key wraps addressed to this node are installed
 * (their scopes rebuilt), and revocation cuts are applied (truncating and
 * rebuilding what they touch). *changed (may be NULL) is set when keys were loaded or the
 * trust pass ran, even if the new public envelopes changed nothing. Of an
 * enrolment by another process only the scope keys are picked up: whether the
 * store is in a district is read at node_open (no trust pass runs outside a
 * district), and the network key and certificate a caller took from
 * node_identity stay as they were. */
int node_refresh(struct node_store *s, int *changed);

/* Remember what a peer is known to hold (from its bundle or a sync session). */
int node_peer_vector_set(struct node_store *s, const uint8_t peer[CRDT_KEY_BYTES],
                         const struct crdt_dep *vec, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif /* TONGXIN_NODE_H */
