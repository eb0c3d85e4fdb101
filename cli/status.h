/* status.h - the status document shared by tongxind and tongxin. */
#ifndef TONGXIN_CLI_STATUS_H
#define TONGXIN_CLI_STATUS_H

#include "out.h"

/* Build the status JSON (docs/cli.md): u may be NULL (offline). */
json_t *cli_status_json(struct node_store *s, struct net_uv *u, const char *listen,
                        uint64_t started_ms, uint64_t now_ms);
/* Render it as text tables. */
void cli_status_print(json_t *st, FILE *out);

/* ---- the control socket: DIR/control.sock, frames of u32be length + msgpack ---- */
#define CLI_CONTROL_SOCK "control.sock"
#define CLI_CONTROL_MAX  (4u << 20)

/* Connect to the daemon of dir; TX_ENOTFOUND when none is running. */
int cli_ctl_connect(const char *dir, int *fd);
/* Send one request and read its reply (*resp is the caller's, free()). */
int cli_ctl_call(int fd, const uint8_t *req, size_t len, uint8_t **resp, size_t *rlen);
/* A request with no arguments beyond strings: ["method", args...]; returns the
 * reply's code and, when the payload is a string, a copy of it (free()). */
int cli_ctl_simple(const char *dir, const char *const *words, size_t n, char **text);
/* ["put", scope, changes, raw]: one envelope written by the daemon, which
 * pushes it to its peers. *handled is 0 (and TX_ENOTFOUND returned) when no
 * daemon runs; otherwise the daemon's code, with res (may be NULL) filled on
 * success. Strings of ch are borrowed for the call. */
int cli_ctl_put(const char *dir, const char *scope, const struct node_change *ch, size_t n, int raw,
                struct node_write_result *res, int *handled);

/* A put request's arguments, as the daemon decodes them from its socket
 * (bytes from any local process: untrusted; fuzz_control). */
struct cli_put_req {
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t n;                       /* 1 to CRDT_MAX_OPS changes */
    struct node_change *ch;           /* owned; values borrow from the request bytes */
    char (*strs)[3][CRDT_MAX_ID + 1]; /* owned: type, id, field of each change */
    int raw;
};
/* Append the arguments after "put" to w: scope, [[type, id, field, code,
 * value]...], raw. */
void cli_put_encode(struct tx_mpw *w, const char *scope, const struct node_change *ch, size_t n,
                    int raw);
/* Decode those arguments from r (every one read, nothing after them): TX_OK,
 * TX_EPROTO (malformed, over a limit), TX_ENOMEM. q is released on error and
 * must be released with cli_put_release after success. */
int cli_put_decode(struct tx_mpr *r, struct cli_put_req *q);
void cli_put_release(struct cli_put_req *q);

#endif
