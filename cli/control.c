/* control.c - the CLI side of the daemon's control socket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "status.h"

int cli_ctl_connect(const char *dir, int *fd)
{
    struct sockaddr_un sa;
    struct timeval tv = {60, 0};
    int s;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, CLI_CONTROL_SOCK) >=
        sizeof(sa.sun_path))
        return TX_ETOOBIG;
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return TX_EIO;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;

        close(s);
        return e == ENOENT || e == ECONNREFUSED ? TX_ENOTFOUND : TX_EIO;
    }
    *fd = s;
    return TX_OK;
}

static int full_write(int fd, const uint8_t *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return TX_EIO;
        b += w;
        n -= (size_t)w;
    }
    return TX_OK;
}

static int full_read(int fd, uint8_t *b, size_t n)
{
    while (n) {
        ssize_t r = read(fd, b, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return TX_ETIMEDOUT;
        if (r <= 0)
            return TX_ECLOSED;
        b += r;
        n -= (size_t)r;
    }
    return TX_OK;
}

int cli_ctl_call(int fd, const uint8_t *req, size_t len, uint8_t **resp, size_t *rlen)
{
    uint8_t hdr[4];
    uint32_t n;
    int err;

    *resp = NULL;
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
    if ((err = full_write(fd, hdr, 4)) || (err = full_write(fd, req, len)) ||
        (err = full_read(fd, hdr, 4)))
        return err;
    n = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
    if (n > CLI_CONTROL_MAX)
        return TX_ETOOBIG;
    if (!(*resp = malloc(n ? n : 1)))
        return TX_ENOMEM;
    if ((err = full_read(fd, *resp, n))) {
        free(*resp);
        *resp = NULL;
        return err;
    }
    *rlen = n;
    return TX_OK;
}

/* Send the request in w (released here) on fd (closed here), read the reply's
 * [code, payload] header: *code, and r standing on the payload of *resp
 * (the caller frees it). On error *resp is NULL. */
static int ctl_roundtrip(int fd, struct tx_mpw *w, uint8_t **resp, struct tx_mpr *r, int64_t *code)
{
    size_t rlen = 0;
    int err = tx_mpw_finish(w);

    *resp = NULL;
    if (!err)
        err = cli_ctl_call(fd, w->buf, w->len, resp, &rlen);
    tx_mpw_release(w);
    close(fd);
    if (err)
        return err;
    tx_mpr_init(r, *resp, rlen);
    if (tx_mpr_array_n(r, 2) || tx_mpr_int(r, code)) {
        free(*resp);
        *resp = NULL;
        return TX_EPROTO;
    }
    return TX_OK;
}

int cli_ctl_simple(const char *dir, const char *const *words, size_t n, char **text)
{
    struct tx_mpw w;
    struct tx_mpr r;
    uint8_t *resp;
    int fd, err;
    int64_t code;

    *text = NULL;
    if ((err = cli_ctl_connect(dir, &fd)))
        return err;
    tx_mpw_init(&w, 65536);
    tx_mpw_array(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        tx_mpw_str(&w, words[i], strlen(words[i]));
    if ((err = ctl_roundtrip(fd, &w, &resp, &r, &code)))
        return err;
    if (tx_mpr_peek(&r) == TX_MP_STR) {
        const char *s;
        uint32_t sl;

        if (tx_mpr_str(&r, &s, &sl, CLI_CONTROL_MAX) == TX_OK && (*text = malloc(sl + 1))) {
            memcpy(*text, s, sl);
            (*text)[sl] = '\0';
        }
    }
    free(resp);
    return (int)code;
}

int cli_ctl_put(const char *dir, const char *scope, const struct node_change *ch, size_t n, int raw,
                struct node_write_result *res, int *handled)
{
    struct tx_mpw w;
    struct tx_mpr r;
    uint8_t *resp;
    int fd, err;
    int64_t code;

    *handled = 0;
    if ((err = cli_ctl_connect(dir, &fd)))
        return err;
    *handled = 1;
    tx_mpw_init(&w, CLI_CONTROL_MAX);
    tx_mpw_array(&w, 4);
    tx_mpw_str(&w, "put", 3);
    cli_put_encode(&w, scope, ch, n, raw);
    if ((err = ctl_roundtrip(fd, &w, &resp, &r, &code)))
        return err == TX_ENOTFOUND ? TX_EIO : err;
    if (code == 0 && res &&
        (tx_mpr_array_n(&r, 2) || tx_mpr_bin_fixed(&r, res->origin, 32) ||
         tx_mpr_uint(&r, &res->seq)))
        code = TX_EPROTO;
    free(resp);
    return (int)code;
}

void cli_put_encode(struct tx_mpw *w, const char *scope, const struct node_change *ch, size_t n,
                    int raw)
{
    tx_mpw_str(w, scope, strlen(scope));
    tx_mpw_array(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        tx_mpw_array(w, 5);
        tx_mpw_str(w, ch[i].type, strlen(ch[i].type));
        tx_mpw_str(w, ch[i].id, strlen(ch[i].id));
        tx_mpw_str(w, ch[i].field, strlen(ch[i].field));
        tx_mpw_uint(w, (uint64_t)ch[i].code);
        crdt_value_encode(&ch[i].value, w);
    }
    tx_mpw_bool(w, raw);
}

void cli_put_release(struct cli_put_req *q)
{
    free(q->ch);
    free(q->strs);
    q->ch = NULL;
    q->strs = NULL;
    q->n = 0;
}

int cli_put_decode(struct tx_mpr *r, struct cli_put_req *q)
{
    const char *sc;
    uint32_t sl;

    memset(q, 0, sizeof(*q));
    if (tx_mpr_str(r, &sc, &sl, CRDT_MAX_SCOPE) || tx_mpr_array(r, &q->n, CRDT_MAX_OPS) || !q->n)
        return TX_EPROTO;
    memcpy(q->scope, sc, sl);
    q->scope[sl] = '\0';
    q->ch = calloc(q->n, sizeof(*q->ch));
    q->strs = calloc(q->n, sizeof(*q->strs));
    if (!q->ch || !q->strs) {
        cli_put_release(q);
        return TX_ENOMEM;
    }
    for (uint32_t i = 0; i < q->n; i++) {
        static const uint32_t lim[3] = {CRDT_MAX_TYPE, CRDT_MAX_ID, CRDT_MAX_FIELD};
        uint64_t code;

        if (tx_mpr_array_n(r, 5))
            goto bad;
        for (int k = 0; k < 3; k++) {
            const char *s;
            uint32_t l;

            if (tx_mpr_str(r, &s, &l, lim[k]))
                goto bad;
            memcpy(q->strs[i][k], s, l);
            q->strs[i][k][l] = '\0';
        }
        if (tx_mpr_uint(r, &code) || code > 255 || crdt_value_decode(r, &q->ch[i].value))
            goto bad;
        q->ch[i].type = q->strs[i][0];
        q->ch[i].id = q->strs[i][1];
        q->ch[i].field = q->strs[i][2];
        q->ch[i].code = (int)code;
    }
    /* raw: optional (older clients), and nothing after it */
    if ((tx_mpr_left(r) && tx_mpr_bool(r, &q->raw)) || tx_mpr_done(r))
        goto bad;
    return TX_OK;
bad:
    cli_put_release(q);
    return TX_EPROTO;
}
