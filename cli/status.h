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

#endif
