/*
 * district.c - the administrator's district directory and what only it can do:
 * issue certificates and enrolment files, revoke nodes and rotate scope keys.
 *
 *   DIR/root.key     Ed25519 seed of the district root (0600; keep offline)
 *   DIR/root.pub     the district id: root public key, hex
 *   DIR/network.key  32-byte network key gating handshakes (0600)
 *   DIR/scopes.key   32-byte master secret scope keys derive from (0600)
 *   DIR/registry/    <node>.cert, <node>.revoked, epochs ("scope epoch" lines)
 *
 * Scope keys are derived, not drawn: key(scope, epoch) = BLAKE2b-256 keyed with
 * the master secret over "tongxin-scope-key-v1\0" || scope || "\0" || epoch_be.
 * Every enrolment and rotation therefore agrees on one key per (scope, epoch),
 * however many administrators' copies of the directory issue offline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ROOT_HDR    "TONGXIN DISTRICT ROOT KEY v1\n"
#define NET_HDR     "TONGXIN DISTRICT NETWORK KEY v1\n"
#define SCOPES_HDR  "TONGXIN DISTRICT SCOPE MASTER v1\n"
#define ENROL_MAGIC "TXENROL1"

struct node_district {
    char *dir;
    struct node_os os;
    unsigned char *root_sk; /* sodium_malloc: 64 bytes */
    uint8_t root_pk[CRDT_KEY_BYTES];
    unsigned char *netkey; /* 32 */
    unsigned char *master; /* 32 */
};

static int write_secret(const char *dir, const char *name, const char *hdr, const uint8_t *b,
                        size_t n, int mode)
{
    char path[4096], text[256];
    int fd, ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(text, sizeof(text), "%s", hdr);
    node_hex(b, n, text + strlen(text));
    strcat(text, "\n");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return errno == EEXIST ? TX_EEXIST : TX_EIO;
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text) && fchmod(fd, (mode_t)mode) == 0 &&
         fsync(fd) == 0;
    close(fd);
    sodium_memzero(text, sizeof(text));
    return ok ? TX_OK : TX_EIO;
}

static int read_secret_file(const char *dir, const char *name, const char *hdr, uint8_t *out,
                            size_t n, int secret)
{
    char path[4096], buf[256];
    struct stat st;
    ssize_t r;
    int fd, err = TX_OK;
    size_t hl = strlen(hdr);

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TX_ENOTINIT : TX_EIO;
    if (secret && (fstat(fd, &st) || (st.st_mode & 077))) {
        close(fd);
        return TX_EINVAL;
    }
    r = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (r < 0)
        return TX_EIO;
    buf[r] = '\0';
    if ((size_t)r < hl + 2 * n || strncmp(buf, hdr, hl) != 0) {
        err = TX_ECORRUPT;
    } else {
        buf[hl + 2 * n] = '\0';
        err = node_unhex(buf + hl, out, n) ? TX_ECORRUPT : TX_OK;
    }
    sodium_memzero(buf, sizeof(buf));
    return err;
}

int node_district_init(const char *dir, const struct node_os *os)
{
    uint8_t seed[32], pk[32], sk[64], net[32], master[32];
    char path[4096], hex[NODE_ID_HEX + 2];
    int err, fd;

    if (sodium_init() < 0)
        return TX_ECRYPTO;
    if ((err = node__mkdir_p(dir)))
        return err;
    snprintf(path, sizeof(path), "%s/root.key", dir);
    if (access(path, F_OK) == 0)
        return TX_EEXIST;
    snprintf(path, sizeof(path), "%s/registry", dir);
    if (mkdir(path, 0700) && errno != EEXIST)
        return TX_EIO;
    if (os && os->random) {
        os->random(os->ctx, seed, 32);
        os->random(os->ctx, net, 32);
        os->random(os->ctx, master, 32);
    } else {
        randombytes_buf(seed, 32);
        randombytes_buf(net, 32);
        randombytes_buf(master, 32);
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    err = write_secret(dir, "root.key", ROOT_HDR, seed, 32, 0600);
    if (!err)
        err = write_secret(dir, "network.key", NET_HDR, net, 32, 0600);
    if (!err)
        err = write_secret(dir, "scopes.key", SCOPES_HDR, master, 32, 0600);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(net, sizeof(net));
    sodium_memzero(master, sizeof(master));
    if (err)
        return err;
    snprintf(path, sizeof(path), "%s/root.pub", dir);
    node_hex(pk, 32, hex);
    strcat(hex, "\n");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return TX_EIO;
    err = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && fsync(fd) == 0 ? TX_OK : TX_EIO;
    close(fd);
    return err;
}

void node_district_close(struct node_district *d)
{
    if (!d)
        return;
    if (d->root_sk)
        sodium_free(d->root_sk);
    if (d->netkey)
        sodium_free(d->netkey);
    if (d->master)
        sodium_free(d->master);
    tx_free(d->dir);
    tx_free(d);
}

int node_district_open(const char *dir, const struct node_os *os, struct node_district **out)
{
    struct node_district *d;
    uint8_t seed[32];
    int err;

    *out = NULL;
    if (sodium_init() < 0)
        return TX_ECRYPTO;
    if (!(d = tx_calloc(1, sizeof(*d))))
        return TX_ENOMEM;
    if (os)
        d->os = *os;
    d->dir = tx_strndup(dir, strlen(dir));
    d->root_sk = sodium_malloc(64);
    d->netkey = sodium_malloc(32);
    d->master = sodium_malloc(32);
    if (!d->dir || !d->root_sk || !d->netkey || !d->master) {
        node_district_close(d);
        return TX_ENOMEM;
    }
    err = read_secret_file(dir, "root.key", ROOT_HDR, seed, 32, 1);
    if (!err) {
        crypto_sign_seed_keypair(d->root_pk, d->root_sk, seed);
        sodium_memzero(seed, sizeof(seed));
        err = read_secret_file(dir, "network.key", NET_HDR, d->netkey, 32, 1);
    }
    if (!err)
        err = read_secret_file(dir, "scopes.key", SCOPES_HDR, d->master, 32, 1);
    if (err) {
        node_district_close(d);
        return err;
    }
    *out = d;
    return TX_OK;
}

void node_district_id(const struct node_district *d, uint8_t out[CRDT_KEY_BYTES])
{
    memcpy(out, d->root_pk, CRDT_KEY_BYTES);
}

static uint64_t dnow(struct node_district *d)
{
    struct timespec ts;

    if (d->os.now_ms)
        return d->os.now_ms(d->os.ctx);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void scope_key(struct node_district *d, const char *scope, uint32_t epoch, uint8_t out[32])
{
    crypto_generichash_state st;
    uint8_t eb[4];
    static const char ctx[] = "tongxin-scope-key-v1";

    node__put_u32(eb, epoch);
    crypto_generichash_init(&st, d->master, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof(ctx)); /* with its NUL */
    crypto_generichash_update(&st, (const uint8_t *)scope, strlen(scope) + 1);
    crypto_generichash_update(&st, eb, 4);
    crypto_generichash_final(&st, out, 32);
}

/* ---- registry ---- */

static uint32_t epoch_get(struct node_district *d, const char *scope)
{
    char path[4096], line[256];
    uint32_t best = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/registry/epochs", d->dir);
    f = fopen(path, "r");
    if (!f)
        return 1;
    while (fgets(line, sizeof(line), f)) {
        char sc[CRDT_MAX_SCOPE + 1];
        unsigned ep;

        if (sscanf(line, "%64s %u", sc, &ep) == 2 && strcmp(sc, scope) == 0 && ep > best)
            best = ep;
    }
    fclose(f);
    return best ? best : 1;
}

static int epoch_set(struct node_district *d, const char *scope, uint32_t epoch)
{
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/registry/epochs", d->dir);
    f = fopen(path, "a");
    if (!f)
        return TX_EIO;
    ok = fprintf(f, "%s %u\n", scope, epoch) > 0;
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    fclose(f);
    return ok ? TX_OK : TX_EIO;
}

static int reg_write(struct node_district *d, const uint8_t *node, const char *ext,
                     const uint8_t *b, size_t n)
{
    char path[4096], hex[NODE_ID_HEX + 1];
    int fd, ok;

    node_hex(node, CRDT_KEY_BYTES, hex);
    snprintf(path, sizeof(path), "%s/registry/%s.%s", d->dir, hex, ext);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return TX_EIO;
    ok = write(fd, b, n) == (ssize_t)n && fsync(fd) == 0;
    close(fd);
    return ok ? TX_OK : TX_EIO;
}

struct reg_node {
    struct node_cert cert;
    int revoked;
};

/* Every node issued and not revoked. */
static int reg_list(struct node_district *d, struct reg_node **out, size_t *n)
{
    char path[4096];
    DIR *dir;
    struct dirent *de;
    struct reg_node *list = NULL;
    size_t cnt = 0;

    *out = NULL;
    *n = 0;
    snprintf(path, sizeof(path), "%s/registry", d->dir);
    if (!(dir = opendir(path)))
        return TX_OK;
    while ((de = readdir(dir))) {
        size_t l = strlen(de->d_name);
        uint8_t buf[1024];
        char p2[4096 + 256];
        FILE *f;
        size_t len;
        struct reg_node rn;

        if (l != NODE_ID_HEX + 5 || strcmp(de->d_name + NODE_ID_HEX, ".cert") != 0)
            continue;
        snprintf(p2, sizeof(p2), "%s/%s", path, de->d_name);
        if (!(f = fopen(p2, "rb")))
            continue;
        len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        memset(&rn, 0, sizeof(rn));
        if (node_cert_decode(buf, len, &rn.cert) ||
            memcmp(rn.cert.district, d->root_pk, CRDT_KEY_BYTES) != 0)
            continue;
        memcpy(p2 + strlen(p2) - 4, "revoked", 8);
        rn.revoked = access(p2, F_OK) == 0;
        {
            struct reg_node *nl = tx_reallocarray(list, cnt + 1, sizeof(*nl));

            if (!nl) {
                closedir(dir);
                tx_free(list);
                return TX_ENOMEM;
            }
            list = nl;
            list[cnt++] = rn;
        }
    }
    closedir(dir);
    *out = list;
    *n = cnt;
    return TX_OK;
}

/* ---- signing ---- */

static void sign_tail(const uint8_t *sk, const char *ctx, uint8_t *buf, size_t len)
{
    uint8_t msg[64];
    size_t cl = strlen(ctx);

    memcpy(msg, ctx, cl);
    crypto_generichash(msg + cl, 32, buf, len - CRDT_ENV_SIG_TAIL, NULL, 0);
    crypto_sign_detached(buf + len - 64, NULL, msg, cl + 32, sk);
}

/* Seal a 32-byte secret to a node's X25519 key (from its Ed25519 id). */
static int seal_to(const uint8_t node[32], const uint8_t *secret, uint8_t out[80])
{
    uint8_t xpk[32];

    if (crypto_sign_ed25519_pk_to_curve25519(xpk, node) != 0)
        return TX_ECRYPTO;
    return crypto_box_seal(out, secret, 32, xpk) == 0 ? TX_OK : TX_ECRYPTO;
}

static void wrap_entry(struct tx_mpw *w, const char *scope, uint32_t epoch, const uint8_t *reader,
                       const uint8_t sealed[80], const uint8_t sig[64])
{
    tx_mpw_array(w, 5);
    tx_mpw_str(w, scope, strlen(scope));
    tx_mpw_uint(w, epoch);
    tx_mpw_bin(w, reader, CRDT_KEY_BYTES);
    tx_mpw_bin(w, sealed, 80);
    tx_mpw_bin(w, sig, 64);
}

struct wraplist {
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    uint8_t reader[CRDT_KEY_BYTES];
    uint8_t sealed[80];
    uint8_t sig[64];
};

/* Sign ctx || digest with the root key. */
static void root_sign(struct node_district *d, const char *ctx, const uint8_t digest[32],
                      uint8_t sig[64])
{
    uint8_t msg[64];
    size_t cl = strlen(ctx);

    memcpy(msg, ctx, cl);
    memcpy(msg + cl, digest, 32);
    crypto_sign_detached(sig, NULL, msg, cl + 32, d->root_sk);
}

static int wl_add(struct node_district *d, struct wraplist **wl, size_t *n, const char *scope,
                  uint32_t epoch, const uint8_t *reader)
{
    struct wraplist *nl;
    uint8_t key[32];
    int err;

    for (size_t i = 0; i < *n; i++) /* once per (scope, epoch, reader) */
        if ((*wl)[i].epoch == epoch && !strcmp((*wl)[i].scope, scope) &&
            !memcmp((*wl)[i].reader, reader, CRDT_KEY_BYTES))
            return TX_OK;
    if (!(nl = tx_reallocarray(*wl, *n + 1, sizeof(**wl))))
        return TX_ENOMEM;
    *wl = nl;
    snprintf(nl[*n].scope, sizeof(nl[*n].scope), "%s", scope);
    nl[*n].epoch = epoch;
    memcpy(nl[*n].reader, reader, CRDT_KEY_BYTES);
    scope_key(d, scope, epoch, key);
    err = seal_to(reader, key, nl[*n].sealed);
    sodium_memzero(key, sizeof(key));
    if (!err) {
        uint8_t dg[32];

        node__wrap_digest(scope, epoch, reader, nl[*n].sealed, dg);
        root_sign(d, NODE_WRAP_CTX, dg, nl[*n].sig);
        (*n)++;
    }
    return err;
}

/* Every epoch 1..current of a community's two scopes, wrapped for reader. */
static int wrap_community(struct node_district *d, struct wraplist **wl, size_t *n,
                          const char *community, const uint8_t *reader)
{
    char sc[2][CRDT_MAX_SCOPE + 1];
    int err = TX_OK;

    node_scope_general(community, sc[0]);
    node_scope_private(community, sc[1]);
    for (int k = 0; k < 2 && !err; k++) {
        uint32_t cur = epoch_get(d, sc[k]);

        for (uint32_t e = 1; e <= cur && !err; e++)
            err = wl_add(d, wl, n, sc[k], e, reader);
    }
    return err;
}

int node_district_issue(struct node_district *d, const uint8_t node_id[CRDT_KEY_BYTES],
                        const char *community, int role, const char *name, uint32_t days,
                        uint8_t **blob, size_t *len)
{
    struct tx_mpw w, cw;
    struct reg_node *reg = NULL;
    struct wraplist *wl = NULL;
    size_t nreg = 0, nwl = 0;
    uint8_t netsealed[80], netsig[64], xpk[32];
    uint64_t now = dnow(d);
    char scope[CRDT_MAX_SCOPE + 1];
    int err;

    if (!node_role_name(role) || node_scope_general(community, scope) || days == 0 ||
        (name && strlen(name) > NODE_MAX_NAME))
        return TX_EINVAL;
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, node_id) != 0)
        return TX_EINVAL; /* not a usable public key */
    /* The certificate. */
    tx_mpw_init(&cw, 2048);
    tx_mpw_array(&cw, 9);
    tx_mpw_uint(&cw, 1);
    tx_mpw_bin(&cw, d->root_pk, CRDT_KEY_BYTES);
    tx_mpw_bin(&cw, node_id, CRDT_KEY_BYTES);
    tx_mpw_str(&cw, name ? name : "", name ? strlen(name) : 0);
    tx_mpw_str(&cw, community, strlen(community));
    tx_mpw_uint(&cw, (uint64_t)role);
    tx_mpw_uint(&cw, now);
    tx_mpw_uint(&cw, now + (uint64_t)days * 86400000ull);
    {
        uint8_t zero[64] = {0};
        tx_mpw_bin(&cw, zero, 64);
    }
    if ((err = tx_mpw_finish(&cw)))
        goto out;
    sign_tail(d->root_sk, "tongxin-cert-v1", cw.buf, cw.len);
    if ((err = reg_write(d, node_id, "cert", cw.buf, cw.len)) ||
        (err = seal_to(node_id, d->netkey, netsealed)) || (err = reg_list(d, &reg, &nreg)))
        goto out;
    {
        uint8_t dg[32];

        node__netkey_digest(node_id, netsealed, dg);
        root_sign(d, NODE_NETKEY_CTX, dg, netsig);
    }
    /* Keys: the node's own community (offices; relays read nothing), for a hub
     * every community; and this community's keys for every hub. */
    if (role == NODE_ROLE_OFFICE)
        err = wrap_community(d, &wl, &nwl, community, node_id);
    for (size_t i = 0; i < nreg && !err; i++) {
        const struct reg_node *r = &reg[i];

        if (r->revoked || memcmp(r->cert.node, node_id, 32) == 0)
            continue;
        if (role == NODE_ROLE_HUB) {
            /* once per community */
            size_t j;

            for (j = 0; j < i; j++)
                if (!reg[j].revoked && strcmp(reg[j].cert.community, r->cert.community) == 0)
                    break;
            if (j == i)
                err = wrap_community(d, &wl, &nwl, r->cert.community, node_id);
        }
        if (!err && r->cert.role == NODE_ROLE_HUB)
            err = wrap_community(d, &wl, &nwl, community, r->cert.node);
    }
    if (!err && role == NODE_ROLE_HUB)
        err = wrap_community(d, &wl, &nwl, community, node_id);
    if (err)
        goto out;
    tx_mpw_init(&w, 1 << 20);
    tx_mpw_raw(&w, ENROL_MAGIC, 8);
    tx_mpw_array(&w, 5);
    tx_mpw_uint(&w, 1);
    tx_mpw_bin(&w, cw.buf, cw.len);
    tx_mpw_bin(&w, netsealed, sizeof(netsealed));
    tx_mpw_bin(&w, netsig, sizeof(netsig));
    tx_mpw_array(&w, (uint32_t)nwl);
    for (size_t i = 0; i < nwl; i++)
        wrap_entry(&w, wl[i].scope, wl[i].epoch, wl[i].reader, wl[i].sealed, wl[i].sig);
    if ((err = tx_mpw_finish(&w))) {
        tx_mpw_release(&w);
        goto out;
    }
    *blob = tx_mpw_take(&w, len);
out:
    tx_mpw_release(&cw);
    tx_free(reg);
    tx_free(wl);
    return err;
}

int node_district_revoke(struct node_district *d, struct node_store *s,
                         const uint8_t node_id[CRDT_KEY_BYTES], uint64_t cut, const char *reason)
{
    struct tx_mpw rw;
    struct reg_node *reg = NULL, *victim = NULL;
    struct wraplist *wl = NULL;
    size_t nreg = 0, nwl = 0;
    struct node_change *ch = NULL;
    size_t nch = 0;
    char hex[NODE_ID_HEX + 1];
    char(*ids)[CRDT_MAX_ID + 1] = NULL;
    uint8_t dist[CRDT_KEY_BYTES];
    int err;

    if (!reason || strlen(reason) > 256)
        return TX_EINVAL;
    if (node_district_of(s, dist) || memcmp(dist, d->root_pk, 32) != 0)
        return TX_EDISTRICT; /* the store must belong to this district */
    if (memcmp(node_id, s->pk, CRDT_KEY_BYTES) == 0)
        return TX_EINVAL; /* its own revocation would lie beyond its own cut */
    if ((err = reg_list(d, &reg, &nreg)))
        return err;
    for (size_t i = 0; i < nreg; i++)
        if (memcmp(reg[i].cert.node, node_id, 32) == 0)
            victim = &reg[i];
    if (!victim) {
        tx_free(reg);
        return TX_ENOTFOUND;
    }
    if (cut == NODE_CUT_HEAD) {
        cut = node__origin_head(s, node_id);
        if (cut == 0) {
            tx_free(reg);
            return TX_ENOTFOUND;
        }
    }
    /* The revocation itself. */
    tx_mpw_init(&rw, 2048);
    tx_mpw_array(&rw, 7);
    tx_mpw_uint(&rw, 1);
    tx_mpw_bin(&rw, d->root_pk, 32);
    tx_mpw_bin(&rw, node_id, 32);
    tx_mpw_uint(&rw, cut);
    tx_mpw_str(&rw, reason, strlen(reason));
    tx_mpw_uint(&rw, dnow(d));
    {
        uint8_t zero[64] = {0};
        tx_mpw_bin(&rw, zero, 64);
    }
    if ((err = tx_mpw_finish(&rw)))
        goto out;
    sign_tail(d->root_sk, "tongxin-revocation-v1", rw.buf, rw.len);
    if ((err = reg_write(d, node_id, "revoked", rw.buf, rw.len)))
        goto out;
    victim->revoked = 1;
    /* Rotation: every scope the node could read gets a new epoch, wrapped for
     * every remaining reader: the community's offices and every hub. */
    for (size_t i = 0; i < nreg && !err; i++) {
        const char *comm = reg[i].cert.community;
        char sc[2][CRDT_MAX_SCOPE + 1];
        size_t j;

        if (victim->cert.role == NODE_ROLE_RELAY)
            break; /* a relay read nothing */
        if (victim->cert.role == NODE_ROLE_OFFICE && strcmp(comm, victim->cert.community) != 0)
            continue;
        for (j = 0; j < i; j++)
            if (strcmp(reg[j].cert.community, comm) == 0)
                break;
        if (j < i)
            continue; /* community done */
        node_scope_general(comm, sc[0]);
        node_scope_private(comm, sc[1]);
        for (int k = 0; k < 2 && !err; k++) {
            uint32_t e = epoch_get(d, sc[k]) + 1;

            if ((err = epoch_set(d, sc[k], e)))
                break;
            for (size_t r = 0; r < nreg && !err; r++) {
                if (reg[r].revoked)
                    continue;
                if (reg[r].cert.role == NODE_ROLE_HUB || (reg[r].cert.role == NODE_ROLE_OFFICE &&
                                                          strcmp(reg[r].cert.community, comm) == 0))
                    err = wl_add(d, &wl, &nwl, sc[k], e, reg[r].cert.node);
            }
        }
    }
    if (err)
        goto out;
    /* Publish in the public scope: the revocation, then the wraps, in
     * envelopes of at most 1000 changes. */
    ch = tx_calloc(1 + 5 * nwl, sizeof(*ch));
    ids = tx_calloc(nwl + 1, sizeof(*ids));
    if (!ch || !ids) {
        err = TX_ENOMEM;
        goto out;
    }
    node_hex(node_id, 32, hex);
    ch[nch].type = "revocation";
    ch[nch].id = hex;
    ch[nch].field = "revocation";
    ch[nch].code = CRDT_OP_LWW_SET;
    ch[nch].value.type = CRDT_BIN;
    ch[nch].value.s = (const char *)rw.buf;
    ch[nch].value.len = (uint32_t)rw.len;
    nch++;
    for (size_t i = 0; i < nwl; i++)
        nch += node__keywrap_changes(&ch[nch], ids[i], wl[i].scope, wl[i].epoch, wl[i].reader,
                                     wl[i].sealed, wl[i].sig);
    if (!err)
        err = node__publish_public(s, ch, nch);
out:
    tx_mpw_release(&rw);
    tx_free(reg);
    tx_free(wl);
    tx_free(ch);
    tx_free(ids);
    return err;
}
