/*
 * crdt.h - Tongxin's data layer: errors, allocation, bounded msgpack, the hybrid
 * logical clock, field kinds, records, bodies, envelopes and the state digest.
 *
 * Contract for the whole module
 * - No I/O: nothing here touches files, sockets, clocks or threads. Time comes in
 *   as an argument (milliseconds since the Unix epoch); randomness is not used.
 * - Errors: every function that can fail returns int, 0 (TX_OK) on success and a
 *   negative TX_E* code on failure; tx_strerror() names it. On failure, output
 *   arguments are left in a state that their _release function accepts.
 * - Memory: all allocation goes through tx_malloc/tx_realloc/tx_free, which call
 *   the hook installed with tx_mem_set(). Allocation failure returns TX_ENOMEM.
 * - Ownership: a pointer documented as "borrowed" points into a buffer the caller
 *   passed in and lives exactly as long as that buffer; everything else returned
 *   through an output struct is owned by that struct and freed by its _release.
 * - Threading: no global state except the allocator hook, which must be installed
 *   before any other call. Distinct objects may be used from distinct threads.
 * - Untrusted input: every decoder here accepts arbitrary bytes. Declared lengths
 *   and counts are checked against the bytes that remain and against per-field
 *   maxima before anything is allocated; only the canonical (shortest) msgpack
 *   encoding of each value is accepted, so a decoded object has exactly one byte
 *   representation (this keeps signatures and hashes free of malleability).
 */
#ifndef TONGXIN_CRDT_H
#define TONGXIN_CRDT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * The project-wide error list: XX(NAME, number, message). Numbers sit in
 * -20000..-20999, clear of libuv's negative errno range (> -4096) and of LMDB's
 * MDB_* codes (-30799..-30780). Numbers are stable: they appear in bundles'
 * rejection counts, in JSON output and in docs/errors.md. Append, never renumber.
 */
#define TX_ERRNO_MAP(XX)                                                                           \
    XX(ENOMEM, -20001, "out of memory")                                                            \
    XX(EINVAL, -20002, "invalid argument")                                                         \
    XX(ETRUNC, -20003, "input truncated")                                                          \
    XX(ETYPE, -20004, "wrong type in encoded data")                                                \
    XX(ETOOBIG, -20005, "length or count over its limit")                                          \
    XX(EDEPTH, -20006, "nesting too deep")                                                         \
    XX(ETRAILING, -20007, "trailing bytes after the encoded object")                               \
    XX(ENONCANON, -20008, "non-canonical encoding")                                                \
    XX(EVERSION, -20009, "unsupported format version")                                             \
    XX(ESKEW, -20010, "timestamp too far ahead of local clock")                                    \
    XX(EOVERFLOW, -20011, "numeric overflow")                                                      \
    XX(ENOTFOUND, -20012, "not found")                                                             \
    XX(EEXIST, -20013, "already exists")                                                           \
    XX(ESIG, -20014, "signature does not verify")                                                  \
    XX(ECHAIN, -20015, "hash chain broken")                                                        \
    XX(EGAP, -20016, "sequence gap")                                                               \
    XX(EDUP, -20017, "duplicate")                                                                  \
    XX(EEQUIV, -20018, "equivocation: two envelopes with one origin and sequence")                 \
    XX(EFROZEN, -20019, "origin is frozen")                                                        \
    XX(ECAUSAL, -20020, "causal dependencies not satisfied")                                       \
    XX(EHELD, -20021, "held until its dependencies arrive")                                        \
    XX(ECRYPTO, -20022, "decryption or key operation failed")                                      \
    XX(ENOKEY, -20023, "no key to read this scope")                                                \
    XX(EBODY, -20024, "envelope body invalid")                                                     \
    XX(EKIND, -20025, "operation does not fit the field kind")                                     \
    XX(EBACKWARD, -20026, "status cannot move backwards without a re-open")                        \
    XX(EIO, -20027, "input/output error")                                                          \
    XX(ESTORE, -20028, "storage error")                                                            \
    XX(EMAPFULL, -20029, "storage map full")                                                       \
    XX(ECORRUPT, -20030, "stored data corrupt")                                                    \
    XX(ELOCKED, -20031, "data directory in use by another process")                                \
    XX(ENOTINIT, -20032, "data directory not initialised")                                         \
    XX(ECERT, -20033, "certificate invalid")                                                       \
    XX(EREVOKED, -20034, "node revoked")                                                           \
    XX(ESCOPE, -20035, "origin may not write this scope")                                          \
    XX(EDISTRICT, -20036, "belongs to another district")                                           \
    XX(EEXPIRED, -20037, "certificate expired")                                                    \
    XX(EPROTO, -20038, "protocol violation")                                                       \
    XX(EAUTH, -20039, "authentication failed")                                                     \
    XX(ECLOSED, -20040, "session closed")                                                          \
    XX(ETIMEDOUT, -20041, "timed out")                                                             \
    XX(ECANCELED, -20042, "operation canceled")                                                    \
    XX(ECONFIG, -20043, "configuration invalid")                                                   \
    XX(ESCHEMA, -20044, "record does not match the schema")                                        \
    XX(EBUSY, -20045, "resource busy")                                                             \
    XX(ECHECKSUM, -20046, "checksum mismatch")                                                     \
    XX(EUNSUPPORTED, -20047, "not supported")

enum tx_errno {
    TX_OK = 0,
#define TX__ERRENUM(name, num, msg) TX_##name = (num),
    TX_ERRNO_MAP(TX__ERRENUM)
#undef TX__ERRENUM
};

/* The message for an error code; never NULL (unknown codes give a generic string).
 * The string is static. */
const char *tx_strerror(int err);
/* The symbolic name ("ESIG") of an error code; "OK" for 0, "EUNKNOWN" otherwise. */
const char *tx_errname(int err);

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

/* An allocator table; ctx is passed back to each function. realloc(ctx, NULL, n)
 * must behave as malloc and free(ctx, NULL) must be a no-op. */
struct tx_mem {
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
};

/* Install an allocator (NULL restores the C library's). Call before anything else
 * allocates: memory must be freed by the allocator that gave it. Installing is
 * not thread-safe; the allocator's functions must be, because node ingest
 * allocates on more than one thread (node_ingest_many's preparation). */
void tx_mem_set(const struct tx_mem *mem);
/* Allocate size bytes; NULL on failure (size 0 allocates 1 byte). */
void *tx_malloc(size_t size);
/* Allocate n*size zeroed bytes; NULL on failure or when n*size overflows. */
void *tx_calloc(size_t n, size_t size);
/* Resize to n*size bytes; NULL (with ptr untouched) on failure or overflow. */
void *tx_reallocarray(void *ptr, size_t n, size_t size);
/* Free ptr (NULL allowed). */
void tx_free(void *ptr);
/* Copy n bytes into a new NUL-terminated allocation; NULL on failure. */
char *tx_strndup(const char *s, size_t n);

/* ------------------------------------------------------------------------ */
/* Bounded msgpack reader and writer                                         */
/* ------------------------------------------------------------------------ */

/* Type tags returned by tx_mpr_peek. */
enum tx_mp_type {
    TX_MP_NIL = 1,
    TX_MP_BOOL,
    TX_MP_UINT,
    TX_MP_INT, /* negative integer */
    TX_MP_STR,
    TX_MP_BIN,
    TX_MP_ARRAY,
    TX_MP_MAP,
    TX_MP_OTHER /* float, ext, reserved byte: never accepted by Tongxin's formats */
};

/* A cursor over borrowed bytes. It never allocates. Every read checks that the
 * bytes it needs are present and that the encoding is the canonical one; a count
 * read from a container header must not exceed the bytes remaining (each element
 * takes at least one byte) nor the caller's maximum. */
struct tx_mpr {
    const uint8_t *p;
    const uint8_t *end;
};

void tx_mpr_init(struct tx_mpr *r, const void *buf, size_t len);
/* Bytes not yet consumed. */
size_t tx_mpr_left(const struct tx_mpr *r);
/* TX_OK when every byte was consumed, TX_ETRAILING otherwise. */
int tx_mpr_done(const struct tx_mpr *r);
/* The type of the next object without consuming it; TX_ETRUNC when no byte is left
 * (returned negative) . */
int tx_mpr_peek(const struct tx_mpr *r);
int tx_mpr_nil(struct tx_mpr *r);
int tx_mpr_bool(struct tx_mpr *r, int *v);
int tx_mpr_uint(struct tx_mpr *r, uint64_t *v);
/* Accepts a canonical non-negative (uint) or negative (int) integer in int64 range. */
int tx_mpr_int(struct tx_mpr *r, int64_t *v);
/* Array header; *n is the element count, at most max (TX_ETOOBIG otherwise). */
int tx_mpr_array(struct tx_mpr *r, uint32_t *n, uint32_t max);
/* Expect an array of exactly n elements. */
int tx_mpr_array_n(struct tx_mpr *r, uint32_t n);
int tx_mpr_map(struct tx_mpr *r, uint32_t *n, uint32_t max);
/* A str of at most max bytes; *s is borrowed and NOT NUL-terminated. */
int tx_mpr_str(struct tx_mpr *r, const char **s, uint32_t *n, uint32_t max);
/* A bin of at most max bytes; *b is borrowed. */
int tx_mpr_bin(struct tx_mpr *r, const uint8_t **b, uint32_t *n, uint32_t max);
/* A bin of exactly n bytes, copied into out. */
int tx_mpr_bin_fixed(struct tx_mpr *r, void *out, uint32_t n);
/* Skip one object of any type, nesting at most max_depth containers deep. */
int tx_mpr_skip(struct tx_mpr *r, int max_depth);

/* A writer into a growable buffer with a hard cap. Errors are sticky: after the
 * first failure (allocation or cap) every later call does nothing, and
 * tx_mpw_finish returns the first error. Output is always canonical msgpack
 * (msgpack-c chooses the shortest form; every msgpack_pack_* return is checked). */
struct tx_mpw {
    uint8_t *buf; /* owned; may be taken by the caller after tx_mpw_finish */
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len */
    int err;
    void *pk; /* internal msgpack_packer */
    uint8_t pk_mem[32];
};

/* Initialise with a maximum output size; no allocation until the first write. */
void tx_mpw_init(struct tx_mpw *w, size_t max);
/* Free the buffer (unless taken) and reset. */
void tx_mpw_release(struct tx_mpw *w);
/* The sticky error, TX_OK if all writes succeeded. */
int tx_mpw_finish(const struct tx_mpw *w);
/* Hand the buffer to the caller (who frees it with tx_free); the writer is reset. */
uint8_t *tx_mpw_take(struct tx_mpw *w, size_t *len);
void tx_mpw_nil(struct tx_mpw *w);
void tx_mpw_bool(struct tx_mpw *w, int v);
void tx_mpw_uint(struct tx_mpw *w, uint64_t v);
void tx_mpw_int(struct tx_mpw *w, int64_t v);
void tx_mpw_array(struct tx_mpw *w, uint32_t n);
void tx_mpw_map(struct tx_mpw *w, uint32_t n);
void tx_mpw_str(struct tx_mpw *w, const char *s, size_t n);
void tx_mpw_bin(struct tx_mpw *w, const void *b, size_t n);
/* Append bytes that are already canonical msgpack (e.g. a stored sub-object). */
void tx_mpw_raw(struct tx_mpw *w, const void *b, size_t n);

/* ------------------------------------------------------------------------ */
/* Hybrid logical clock                                                      */
/* ------------------------------------------------------------------------ */

/* A timestamp is (ms << 16) | counter: 48 bits of milliseconds since the Unix
 * epoch (good until year 10889) and a 16-bit logical counter. */
#define CRDT_HLC_MS(t)           ((t) >> 16)
#define CRDT_HLC_CTR(t)          ((t)&0xffffu)
#define CRDT_HLC_MAKE(ms, c)     (((uint64_t)(ms) << 16) | ((uint64_t)(c)&0xffffu))
#define CRDT_HLC_MAX_MS          ((UINT64_C(1) << 48) - 1)
#define CRDT_HLC_DEFAULT_SKEW_MS (300 * 1000)

struct crdt_hlc {
    uint64_t last;        /* the largest timestamp issued or merged */
    uint64_t max_skew_ms; /* remote timestamps further ahead than this are refused */
    uint64_t carries;     /* times the counter overflowed into the milliseconds */
};

/* Start a clock at last (0 for a new node; the stored value after a restart). */
void crdt_hlc_init(struct crdt_hlc *h, uint64_t last, uint64_t max_skew_ms);
/* Issue a timestamp for a local event at wall time now_ms. It is strictly larger
 * than every timestamp issued or merged before. When the counter would overflow
 * the clock carries into the next millisecond (counted in h->carries). Returns
 * TX_EOVERFLOW, issuing nothing, if that would put the clock more than
 * max_skew_ms ahead of now_ms (peers would refuse it) or past 48 bits. */
int crdt_hlc_now(struct crdt_hlc *h, uint64_t now_ms, uint64_t *out);
/* Merge a remote timestamp seen at wall time now_ms. If remote is more than
 * max_skew_ms ahead of now_ms, returns TX_ESKEW and leaves the clock unchanged: the
 * caller holds the data that carried it. Otherwise the clock moves past remote. */
int crdt_hlc_recv(struct crdt_hlc *h, uint64_t now_ms, uint64_t remote);

/* ------------------------------------------------------------------------ */
/* Values, dots, ops                                                         */
/* ------------------------------------------------------------------------ */

#define CRDT_KEY_BYTES    32 /* Ed25519 public key: a node id, an origin */
#define CRDT_HASH_BYTES   32 /* BLAKE2b-256 */
#define CRDT_SIG_BYTES    64
#define CRDT_NONCE_BYTES  24
#define CRDT_MAX_TYPE     32           /* bytes in a record type name */
#define CRDT_MAX_ID       128          /* bytes in a record id */
#define CRDT_MAX_FIELD    64           /* bytes in a field name */
#define CRDT_MAX_SCOPE    64           /* bytes in a scope name */
#define CRDT_MAX_STR      16384        /* bytes in a string or bin value */
#define CRDT_MAX_ELEM     512          /* bytes in a set element */
#define CRDT_MAX_OPS      1024         /* ops in one body */
#define CRDT_MAX_SUP      256          /* dots one op may supersede */
#define CRDT_MAX_DEPS     256          /* causal dependencies of one envelope */
#define CRDT_MAX_ENVELOPE (256 * 1024) /* encoded envelope, all fields */
#define CRDT_MAX_BODY     (CRDT_MAX_ENVELOPE - 1024)
/* Stored record state is bounded by its own size (a count never exceeds the
 * bytes left); these caps only stop absurd counts in a corrupted file. Apply
 * never refuses an op for size: refusing would make replicas diverge. */
#define CRDT_MAX_FIELDS  (1u << 24) /* fields (name, kind) in one stored record */
#define CRDT_MAX_ENTRIES (1u << 24) /* stored concurrent values, dots of an element */
#define CRDT_MAX_ELEMS   (1u << 24) /* stored elements in one set */

enum crdt_vtype { CRDT_NIL = 0, CRDT_BOOL = 1, CRDT_INT = 2, CRDT_STR = 3, CRDT_BIN = 4 };

/* A scalar value. In ops decoded from a body, s is borrowed from the body buffer;
 * in a crdt_record, s is owned by the record. s is not NUL-terminated. */
struct crdt_value {
    uint8_t type; /* enum crdt_vtype */
    int64_t i;    /* CRDT_BOOL (0/1) and CRDT_INT */
    const char *s;
    uint32_t len;
};

/* A dot names one op: the origin that wrote it, the sequence number of the
 * envelope it came in, and its index in that envelope's body. */
struct crdt_dot {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq;
    uint32_t idx;
};

/* Total order on dots: origin bytes, then seq, then idx. */
int crdt_dot_cmp(const struct crdt_dot *a, const struct crdt_dot *b);

/* Field kinds; the number is part of every encoding. */
enum crdt_kind { CRDT_LWW = 1, CRDT_COUNTER = 2, CRDT_SET = 3, CRDT_STATUS = 4 };
/* "lww", "counter", "set", "status"; NULL for an unknown kind. */
const char *crdt_kind_name(int kind);

/* Op codes. What each must carry:
 *  LWW_SET    value: any scalar; sup: every dot of the register the writer saw
 *             (all of them, so a write that saw every concurrent value replaces them)
 *  CTR_ADD    value: CRDT_INT delta (may be negative); sup: empty
 *  SET_ADD    value: CRDT_STR element; sup: the element's dots the writer saw
 *             (optional compaction: they are replaced by this op's dot)
 *  SET_REM    value: CRDT_STR element; sup: the element's dots the writer saw;
 *             concurrent adds (dots not in sup) survive: add wins
 *  STATUS_SET value: CRDT_INT, round*256 + rank (rank < 256); sup: empty. The
 *             register keeps the maximum; a re-open is round+1, rank 0.
 */
enum crdt_opcode {
    CRDT_OP_LWW_SET = 1,
    CRDT_OP_CTR_ADD = 2,
    CRDT_OP_SET_ADD = 3,
    CRDT_OP_SET_REM = 4,
    CRDT_OP_STATUS_SET = 5,
};
/* The field kind an op code acts on; 0 for an unknown code. */
int crdt_op_kind(int code);

/* One op of a body. Strings are borrowed from the decoded buffer (or from the
 * caller when building a body to encode). sup is owned by the crdt_body when
 * decoded; when encoding, the caller owns it. */
struct crdt_op {
    const char *type;
    uint32_t type_len;
    const char *id;
    uint32_t id_len;
    const char *field;
    uint32_t field_len;
    uint8_t code; /* enum crdt_opcode */
    struct crdt_value value;
    struct crdt_dot *sup;
    uint32_t nsup;
};

/* A body: the ops of one local write, all in one scope. The dot of ops[i] is
 * (envelope origin, envelope seq, i). */
struct crdt_body {
    struct crdt_op *ops;
    uint32_t nops;
};

/* Check an identifier: type names are [a-z0-9_], field names [a-z0-9_.], both
 * starting with a letter; scopes [a-z0-9_.:/-] starting with a letter; ids are
 * non-empty UTF-8 without control characters. Return TX_EINVAL. */
int crdt_check_type(const char *s, size_t n);
int crdt_check_field(const char *s, size_t n);
int crdt_check_id(const char *s, size_t n);
int crdt_check_scope(const char *s, size_t n);
/* Check that an op is well formed on its own (names, code, value type, sizes). */
int crdt_op_check(const struct crdt_op *op);

/* Encode a body as canonical msgpack into w. */
int crdt_body_encode(const struct crdt_body *b, struct tx_mpw *w);
/* Decode a body from buf. On success the ops borrow strings from buf, which must
 * outlive b; release with crdt_body_release whatever the result. */
int crdt_body_decode(struct crdt_body *b, const void *buf, size_t len);
/* One value as bodies and records carry it: nil, bool, int, str or bin (the
 * msgpack type is the value's type). Encode appends to w (an unknown type sets
 * w's error to TX_EINVAL). Decode reads one from r; strings and bins borrow
 * from r's buffer and are at most CRDT_MAX_STR bytes; TX_ETYPE for another
 * msgpack type, or the reader's error. */
void crdt_value_encode(const struct crdt_value *v, struct tx_mpw *w);
int crdt_value_decode(struct tx_mpr *r, struct crdt_value *v);
void crdt_body_release(struct crdt_body *b);

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

struct crdt_lww_entry {
    struct crdt_dot dot;
    uint64_t hlc;
    struct crdt_value v; /* owned */
};

struct crdt_set_elem {
    char *s; /* owned, NUL-terminated for convenience */
    uint32_t len;
    struct crdt_dot *dots; /* owned, sorted; element present iff ndots > 0 */
    uint32_t ndots;
};

/* The state of one field. Fields are identified by (name, kind): ops of
 * different kinds on one name (possible only without a schema) live side by side
 * and never interfere. */
struct crdt_field {
    char *name; /* owned, NUL-terminated */
    uint32_t name_len;
    uint8_t kind;
    union {
        struct {
            struct crdt_lww_entry *e; /* sorted by dot */
            uint32_t n;
        } lww;
        int64_t counter; /* sum of every delta, wrapping modulo 2^64 */
        struct {
            struct crdt_set_elem *e; /* sorted by bytes; elements with no dots removed */
            uint32_t n;
        } set;
        uint64_t status; /* round*256 + rank, the maximum seen */
    } u;
};

struct crdt_record {
    struct crdt_field *f; /* sorted by (name bytes, kind) */
    uint32_t n;
};

void crdt_record_init(struct crdt_record *r);
void crdt_record_release(struct crdt_record *r);
/* Apply one op with the given dot and HLC. The caller guarantees causal
 * delivery: every dot in op->sup belongs to an op already applied here (or
 * superseded already). Under that guarantee apply is commutative for
 * concurrent ops and the record never depends on delivery order. Returns
 * TX_EKIND for a malformed op; the record is unchanged on any error. */
int crdt_record_apply(struct crdt_record *r, const struct crdt_op *op, const struct crdt_dot *dot,
                      uint64_t hlc);
/* Find a field; NULL if absent. The pointer is valid until the record changes. */
const struct crdt_field *crdt_record_field(const struct crdt_record *r, const char *name,
                                           size_t name_len, int kind);
/* The winning entry of an LWW field: the largest (hlc, origin, seq, idx). */
const struct crdt_lww_entry *crdt_lww_winner(const struct crdt_field *f);
/* Whether an LWW field is in conflict: it holds concurrent values that differ
 * (concurrent writes of one value are kept, but nobody needs to decide). */
int crdt_lww_conflict(const struct crdt_field *f);
/* Whether a set field contains element s. */
int crdt_set_has(const struct crdt_field *f, const char *s, size_t n);

/* Canonical encoding of a record's state (the form stored and digested). */
int crdt_record_encode(const struct crdt_record *r, struct tx_mpw *w);
/* Decode a stored state; r must be initialised; released by the caller. */
int crdt_record_decode(struct crdt_record *r, const void *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* State digest                                                              */
/* ------------------------------------------------------------------------ */

/* The state digest is BLAKE2b-256 over, for each record in ascending key order,
 * the canonical msgpack [scope, type, id] followed by the canonical state
 * encoding. Feed records in key order (crdt_record_key_cmp). */
struct crdt_digest {
    _Alignas(64) uint8_t st[384]; /* crypto_generichash_state, kept opaque here */
    uint64_t count;
};

int crdt_digest_init(struct crdt_digest *d);
/* Add one record given its encoded state. */
int crdt_digest_add(struct crdt_digest *d, const char *scope, size_t scope_len, const char *type,
                    size_t type_len, const char *id, size_t id_len, const void *state,
                    size_t state_len);
int crdt_digest_final(struct crdt_digest *d, uint8_t out[CRDT_HASH_BYTES]);

/* ------------------------------------------------------------------------ */
/* Envelopes                                                                 */
/* ------------------------------------------------------------------------ */

#define CRDT_ENV_VERSION 1

struct crdt_dep {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq;
};

/* The header and payload of one envelope. Encoded as a msgpack array of 11:
 *   [version, origin, seq, prev, hlc, deps, scope, epoch, nonce, body, sig]
 * deps is an array of [origin, seq] sorted by origin, unique, never the
 * envelope's own origin. epoch 0 marks a plaintext body (the district-public
 * scope); otherwise body is XChaCha20-Poly1305 ciphertext under the scope key of
 * that epoch. sig is the last 66 bytes of the encoding (bin8 of 64); the signed
 * bytes are everything before it. See docs/envelope.md. */
struct crdt_env {
    uint8_t version;
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq;                  /* >= 1 */
    uint8_t prev[CRDT_HASH_BYTES]; /* all zero when seq == 1 */
    uint64_t hlc;
    struct crdt_dep *deps; /* owned after decode; caller's when encoding */
    uint32_t ndeps;
    char scope[CRDT_MAX_SCOPE + 1]; /* NUL-terminated */
    uint32_t scope_len;
    uint32_t epoch;
    uint8_t nonce[CRDT_NONCE_BYTES];
    const uint8_t *body; /* borrowed from the decoded buffer / the caller */
    uint32_t body_len;
    uint8_t sig[CRDT_SIG_BYTES];
};

/* Bytes of the signature element at the end of an encoded envelope. */
#define CRDT_ENV_SIG_TAIL (2 + CRDT_SIG_BYTES)

void crdt_env_init(struct crdt_env *e);
void crdt_env_release(struct crdt_env *e);
/* Encode an envelope (sig included as it stands; to sign, encode with any sig,
 * sign the first len - CRDT_ENV_SIG_TAIL bytes, and patch the last 64 bytes). */
int crdt_env_encode(const struct crdt_env *e, struct tx_mpw *w);
/* Decode and check the shape of an envelope: sizes, canonical form, seq >= 1,
 * prev zero iff seq == 1, deps sorted/unique/not self. No crypto here. body
 * borrows from buf. */
int crdt_env_decode(struct crdt_env *e, const void *buf, size_t len);
/* Read only the origin and seq of an encoded envelope (no other checks): what a
 * session needs to know that its peer holds it. */
int crdt_env_peek(const void *buf, size_t len, uint8_t origin[CRDT_KEY_BYTES], uint64_t *seq);
/* The envelope hash: BLAKE2b-256 of the whole encoding (signature included). */
int crdt_env_hash(const void *buf, size_t len, uint8_t out[CRDT_HASH_BYTES]);
/* Check that a decoded body agrees with its envelope's header: every superseded
 * dot is the origin's own earlier op (an earlier envelope, or an earlier op of
 * this body) or covered by deps. TX_ECAUSAL otherwise. */
int crdt_body_check_causal(const struct crdt_body *b, const struct crdt_env *e);

/* ------------------------------------------------------------------------ */
/* In-memory replica (used by the convergence harness and the simulator)     */
/* ------------------------------------------------------------------------ */

/* A replica keeps records in memory, a version vector of applied envelopes per
 * origin, and a queue of envelopes held for missing dependencies. It does no
 * crypto: envelopes reach it already authenticated and decrypted. */
struct crdt_replica;

struct crdt_replica *crdt_replica_new(void);
void crdt_replica_free(struct crdt_replica *r);
/* Highest contiguous seq applied from origin (0 if none). */
uint64_t crdt_replica_head(const struct crdt_replica *r, const uint8_t origin[CRDT_KEY_BYTES]);
/* Deliver one envelope (header fields + plaintext body bytes, copied). Returns
 * TX_OK if applied (and anything it released), TX_EDUP if already applied or
 * queued, TX_EHELD if queued for a missing predecessor or dependency, or a decode
 * error (nothing changed). */
int crdt_replica_deliver(struct crdt_replica *r, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq,
                         uint64_t hlc, const struct crdt_dep *deps, uint32_t ndeps,
                         const char *scope, const void *body, size_t body_len);
/* Number of envelopes waiting in the queue. */
size_t crdt_replica_held(const struct crdt_replica *r);
/* Look up a record (NULL if absent); valid until the next deliver. */
const struct crdt_record *crdt_replica_get(const struct crdt_replica *r, const char *scope,
                                           const char *type, const char *id);
/* State digest over every record. */
int crdt_replica_digest(const struct crdt_replica *r, uint8_t out[CRDT_HASH_BYTES]);
/* Conflicts: a canonical text listing every LWW field with more than one value,
 * one line each: "scope type id field v1|v2|...". Caller frees with tx_free. */
int crdt_replica_conflicts(const struct crdt_replica *r, char **out, size_t *len);
/* Build the deps for a local write that supersedes the given dots: for every
 * origin other than self, the largest seq among them. deps must hold nsup slots;
 * *ndeps receives the count (sorted by origin). */
int crdt_deps_from_dots(const uint8_t self[CRDT_KEY_BYTES], const struct crdt_dot *dots,
                        uint32_t ndots, struct crdt_dep *deps, uint32_t *ndeps);

#ifdef __cplusplus
}
#endif
#endif /* TONGXIN_CRDT_H */
