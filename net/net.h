/*
 * net.h - the sync protocol: a sans-I/O session engine (framing, a Noise XXpsk0
 * handshake, encrypted transport, vector exchange, credit-based streaming) and
 * a libuv adapter that runs sessions over TCP with reconnects.
 *
 * Contract for the whole module
 * - Errors: 0 or a negative TX_E* code (crdt.h). libuv and libsodium codes are
 *   translated here.
 * - The session engine does no I/O: bytes and clock ticks go in, bytes and
 *   events come out, and it reads and writes envelopes only through the store
 *   interface (struct net_store_ops) its owner supplies. The simulator and the
 *   libuv adapter drive the same engine.
 * - Threading: a session, and the adapter, belong to one thread (the loop's).
 * - Ownership: every pointer in a config is borrowed and must outlive the
 *   session or adapter that was given it; buffers returned as "taken" belong to
 *   the caller (tx_free).
 * - Untrusted input: everything from the peer is bounded before it is buffered
 *   (frame caps), authenticated before it is parsed, and parsed with the
 *   bounded reader. A violation closes that one session with an error frame.
 * docs/protocol.md describes every byte.
 */
#ifndef TONGXIN_NET_H
#define TONGXIN_NET_H

#include <stddef.h>
#include <stdint.h>

#include "crdt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NET_PROTOCOL_VERSION 1
#define NET_PROLOGUE         "tongxin/1"
#define NET_MAX_FRAME_PRE    4096       /* bytes, before the handshake completes */
#define NET_MAX_FRAME        (1u << 20) /* bytes, after */
#define NET_PSK_BYTES        32
#define NET_MAX_CERT         2048
#define NET_MAX_NAME         128

/* The protocol version this build speaks. */
int net_protocol_version(void);

/* ------------------------------------------------------------------------ */
/* What a peer is known to hold                                              */
/* ------------------------------------------------------------------------ */

struct net_vec_entry {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq;                  /* head seq */
    uint8_t hash[CRDT_HASH_BYTES]; /* hash of the envelope at seq */
};

/* origin -> seq, sorted; grown as envelopes are sent. */
struct net_known {
    struct net_vec_entry *e;
    size_t n, cap;
};

void net_known_init(struct net_known *k);
void net_known_release(struct net_known *k);
/* The seq the peer is known to hold for origin (0 if none). */
uint64_t net_known_get(const struct net_known *k, const uint8_t origin[CRDT_KEY_BYTES]);
/* Raise (or with force, set) the seq known for origin. */
int net_known_set(struct net_known *k, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq,
                  int force);

/* ------------------------------------------------------------------------ */
/* The store, as the engine sees it (implemented by node/)                   */
/* ------------------------------------------------------------------------ */

struct net_ingest_result {
    uint64_t accepted, duplicate, held, rejected, equivocations;
    /* Rejections only a forger or a broken peer causes (bad signature,
     * malformed or oversized envelopes): the session is dropped for them.
     * Others (untrusted origin, revoked, frozen) can reach an honest relay. */
    uint64_t forged;
    int first_reason; /* a NODE_R_* code of the first rejection, for the log */
};

struct net_store_ops {
    /* The local vector: every origin with its head seq and head hash. *v is
     * the caller's (tx_free). */
    int (*vector)(void *ctx, struct net_vec_entry **v, size_t *n);
    /* The arrival position to stream from for a peer that holds `known`: the
     * smallest arrival of an envelope it lacks (UINT64_MAX when it lacks none). */
    int (*start)(void *ctx, const struct net_known *known, uint64_t *pos);
    /* Encode into w (as consecutive msgpack bin objects) up to max_envs
     * envelopes / max_bytes bytes with arrival >= *pos that the peer lacks by
     * `known`, in arrival order, raising `known` for each. *pos moves past the
     * last arrival examined; *count gets the number encoded. */
    int (*read)(void *ctx, uint64_t *pos, struct net_known *known, size_t max_envs,
                size_t max_bytes, struct tx_mpw *w, size_t *count);
    /* Ingest a batch (borrowed buffers), as node_ingest. */
    int (*ingest)(void *ctx, const uint8_t *const *envs, const size_t *lens, size_t n,
                  struct net_ingest_result *res);
    /* The stored envelope of (origin, seq), for equivocation evidence; *env is
     * the caller's (tx_free). TX_ENOTFOUND if absent. */
    int (*get)(void *ctx, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq, uint8_t **env,
               size_t *len);
    /* Decide whether a peer that proved node may talk to us: its certificate
     * (may be empty outside a district) against the district root, revocations
     * and the clock. Returns 0 or TX_ECERT, TX_EREVOKED, TX_EDISTRICT,
     * TX_EEXPIRED, TX_EAUTH. name (NET_MAX_NAME + 1 bytes) may receive the
     * certified name. */
    int (*check_peer)(void *ctx, const uint8_t node[CRDT_KEY_BYTES], const uint8_t *cert,
                      size_t cert_len, char *name);
};

/* ------------------------------------------------------------------------ */
/* Sessions (sans-I/O)                                                       */
/* ------------------------------------------------------------------------ */

enum net_log_level { NET_LOG_ERROR = 0, NET_LOG_WARN, NET_LOG_INFO, NET_LOG_DEBUG };

struct net_config {
    const uint8_t *sk;          /* Ed25519 secret key (64 bytes), borrowed */
    const uint8_t *pk;          /* this node's id (32 bytes) */
    uint8_t psk[NET_PSK_BYTES]; /* the district network key */
    const uint8_t *cert;        /* this node's certificate (may be NULL) */
    size_t cert_len;
    const char *name; /* display name sent to peers (may be NULL) */
    const struct net_store_ops *store;
    void *store_ctx;
    /* Timers (ms) and limits; 0 takes the default. */
    uint32_t handshake_timeout_ms; /* 10 s */
    uint32_t ping_interval_ms;     /* 15 s */
    uint32_t idle_timeout_ms;      /* 60 s */
    uint32_t vector_interval_ms;   /* 30 s */
    uint32_t batch_envs;           /* 1024 envelopes per message (and batch_bytes) */
    uint32_t batch_bytes;          /* 256 KiB per message */
    uint32_t window;               /* 4 messages in flight */
    size_t max_outbuf;             /* 2 MiB of unwritten output before streaming pauses */
    void (*log)(void *ctx, int level, const char *msg);
    void *log_ctx;
    /* Randomness for ephemeral keys (NULL: libsodium's). */
    void (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
};

enum net_state {
    NET_HANDSHAKE = 1, /* before mutual authentication */
    NET_OPEN,          /* authenticated: syncing */
    NET_CLOSED,        /* done; see net_session_info */
};

/* Why a session ended. */
enum net_close {
    NET_CLOSE_NONE = 0,
    NET_CLOSE_CLEAN, /* authenticated goodbye, either side */
    NET_CLOSE_CUT,   /* the transport ended without a goodbye */
    NET_CLOSE_ERROR, /* a protocol or authentication failure (ours or theirs) */
};

/* Events a session raises, collected until taken. */
#define NET_EV_OPEN         1u /* handshake completed */
#define NET_EV_CLOSED       2u /* the session ended: close the transport */
#define NET_EV_LOG_ADVANCED 4u /* envelopes were ingested: pump the other sessions */

struct net_session_info {
    int state;
    int initiator;
    uint8_t peer[CRDT_KEY_BYTES]; /* valid once open */
    char peer_name[NET_MAX_NAME + 1];
    uint64_t opened_ms, last_rx_ms;
    uint64_t env_in, env_out, bytes_in, bytes_out, msgs_in, msgs_out;
    uint64_t rtt_ms; /* last ping round trip, 0 before the first */
    int caught_up;   /* we sent everything the peer lacked, as far as we know */
    int close_kind;  /* enum net_close */
    int close_code;  /* TX_E* */
    char close_reason[160];
    int close_by_peer; /* the peer sent the error/goodbye */
};

struct net_session;

/* Create a session for one connection. The initiator speaks first (its first
 * handshake message is ready as output at once). */
int net_session_new(const struct net_config *cfg, int initiator, uint64_t now_ms,
                    struct net_session **out);
void net_session_free(struct net_session *s);
/* Bytes from the transport. Returns 0, or the error that closed the session
 * (the output then holds an error frame to send before closing). */
int net_session_feed(struct net_session *s, const uint8_t *data, size_t len, uint64_t now_ms);
/* Clock tick: handshake timeout, pings, idle timeout, periodic vectors. */
int net_session_tick(struct net_session *s, uint64_t now_ms);
/* New local envelopes may exist: stream what the peer lacks (within credit and
 * output limits). */
int net_session_pump(struct net_session *s, uint64_t now_ms);
/* Ask for an immediate vector exchange (`tongxin sync now`). */
int net_session_sync(struct net_session *s, uint64_t now_ms);
/* Close: an authenticated goodbye when open; then NET_EV_CLOSED. */
void net_session_close(struct net_session *s, int code, const char *reason);
/* The transport ended (EOF or error) before a goodbye: records a cut. */
void net_session_eof(struct net_session *s, int code, const char *reason);
/* Take the output produced so far (NULL when none); the caller frees it with
 * tx_free once written, and reports the write with net_session_written. */
uint8_t *net_session_take_output(struct net_session *s, size_t *len);
void net_session_written(struct net_session *s, size_t len);
/* Take (and clear) the pending NET_EV_* events. */
unsigned net_session_events(struct net_session *s);
const struct net_session_info *net_session_info(const struct net_session *s);
/* What the peer is known to hold (valid when open). */
const struct net_known *net_session_known(const struct net_session *s);

/* ------------------------------------------------------------------------ */
/* The libuv adapter                                                         */
/* ------------------------------------------------------------------------ */

struct net_uv;
struct uv_loop_s;

enum net_peer_state {
    NET_PEER_DOWN = 0,   /* not connected, not trying (inbound only, or removed) */
    NET_PEER_CONNECTING, /* dialing or handshaking */
    NET_PEER_CONNECTED,  /* open session */
    NET_PEER_BACKOFF,    /* waiting to redial */
};

/* One peer as the operator sees it: a configured address, an inbound
 * connection, or both (once the handshake names the node). */
struct net_peer_info {
    char addr[64];         /* "host:port" dialed, or the remote address */
    int configured;        /* from the configuration (dialed) */
    int state;             /* enum net_peer_state */
    uint64_t since_ms;     /* in this state since */
    uint64_t next_dial_ms; /* when backing off */
    uint32_t failures;     /* consecutive failed attempts */
    int have_session;
    struct net_session_info s;     /* the current or last session */
    const struct net_known *known; /* what an open session's peer holds (borrowed for
                                      the callback; NULL when not connected) */
};

struct net_uv_config {
    struct net_config session; /* copied into every session */
    const char *listen;        /* "host:port" or NULL */
    uint32_t backoff_min_ms;   /* 1 s */
    uint32_t backoff_max_ms;   /* 60 s */
    uint64_t (*now_ms)(void *ctx);
    void *now_ctx;
    /* Called after a session ingested envelopes (e.g. to release held ones). */
    void (*on_ingest)(void *ctx);
    void *ingest_ctx;
};

/* Start listening (if configured). TX_EIO when the address cannot be bound. */
int net_uv_start(struct uv_loop_s *loop, const struct net_uv_config *cfg, struct net_uv **out);
/* Add / remove a dialed peer ("host:port"). */
int net_uv_peer_add(struct net_uv *u, const char *addr);
int net_uv_peer_remove(struct net_uv *u, const char *addr);
/* Replace the dialed peers by this list (SIGHUP). */
int net_uv_peers_set(struct net_uv *u, const char *const *addrs, size_t n);
/* New local envelopes: pump every open session. */
void net_uv_local_write(struct net_uv *u);
/* Close (with an error naming reason) every session with this node: its
 * certificate was revoked. What the session can stream first (the revocation
 * among it) is sent before the close. */
void net_uv_close_node(struct net_uv *u, const uint8_t node[CRDT_KEY_BYTES], int code,
                       const char *reason);
/* Exchange vectors with every peer now, and dial every backing-off peer now. */
void net_uv_sync_now(struct net_uv *u);
typedef int (*net_peer_cb)(const struct net_peer_info *p, void *ctx);
int net_uv_peers_each(struct net_uv *u, net_peer_cb cb, void *ctx);
/* Connections that ended before or because of authentication, most recent
 * last (a ring of NET_UV_REFUSALS): what an operator needs to see a hostile or
 * misconfigured peer in `tongxin status`. */
#define NET_UV_REFUSALS 16
struct net_refusal {
    char addr[64];
    uint64_t at_ms;
    int code; /* TX_E* */
    int during_handshake;
    char reason[160];
};
/* *list points into the adapter (valid until the loop runs again). */
void net_uv_refusals(struct net_uv *u, const struct net_refusal **list, size_t *n);

/* Counters of the adapter: connections accepted, refused, protocol errors. */
struct net_uv_stats {
    uint64_t accepted, dialed, handshakes_ok, handshakes_failed, protocol_errors;
};
void net_uv_stats(struct net_uv *u, struct net_uv_stats *st);
/* Say goodbye to every peer, stop listening and dialing, close every handle;
 * done(ctx) runs once all handles are closed. */
void net_uv_stop(struct net_uv *u, void (*done)(void *ctx), void *ctx);
/* The bound listening port (for ":0"). */
int net_uv_port(struct net_uv *u);
/* Free the adapter after the loop has finished (after net_uv_stop's done). */
void net_uv_free(struct net_uv *u);

#ifdef __cplusplus
}
#endif
#endif
