/*
 * netstore.c - the store as the sync engine sees it (struct net_store_ops):
 * vectors, where a peer's missing envelopes start, streaming them in arrival
 * (causal) order, ingest, evidence lookups, and admitting peers.
 */
#include <string.h>

#include "internal.h"

static int ns_vector(void *ctx, struct net_vec_entry **v, size_t *n)
{
    struct node_store *s = ctx;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, val;
    MDB_stat st;
    struct net_vec_entry *out = NULL;
    size_t cnt = 0;
    int err, rc;

    *v = NULL;
    *n = 0;
    if ((err = node__read_txn(s, &txn)))
        return err;
    if ((rc = mdb_stat(txn, s->dbi[DB_ORIGINS], &st)) ||
        (rc = mdb_cursor_open(txn, s->dbi[DB_ORIGINS], &cur))) {
        mdb_txn_abort(txn);
        return node__mdb_err(rc);
    }
    if (st.ms_entries && !(out = tx_calloc(st.ms_entries, sizeof(*out)))) {
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return TX_ENOMEM;
    }
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0 && cnt < st.ms_entries;
         rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        struct origin_row o;

        if (k.mv_size != CRDT_KEY_BYTES || node__origin_load(s, txn, val.mv_data, val.mv_size, &o))
            continue;
        if (!o.head)
            continue;
        memcpy(out[cnt].origin, k.mv_data, CRDT_KEY_BYTES);
        out[cnt].seq = o.head;
        memcpy(out[cnt].hash, o.head_hash, CRDT_HASH_BYTES);
        cnt++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    *v = out;
    *n = cnt;
    return TX_OK;
}

static int ns_start(void *ctx, const struct net_known *known, uint64_t *pos)
{
    struct node_store *s = ctx;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, val;
    uint64_t best = UINT64_MAX;
    int err, rc;

    if ((err = node__read_cursor(s, DB_ORIGINS, &txn, &cur)))
        return err;
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        struct origin_row o;
        uint64_t have;
        uint8_t lk[12];
        MDB_val lkey = {12, lk}, lv;
        uint64_t arrival;

        if (k.mv_size != CRDT_KEY_BYTES || node__origin_load(s, txn, val.mv_data, val.mv_size, &o))
            continue;
        have = net_known_get(known, k.mv_data);
        if (o.head <= have)
            continue;
        node__put_u32(lk, o.idx);
        node__put_u64(lk + 4, have + 1);
        if (mdb_get(txn, s->dbi[DB_LOG], &lkey, &lv) || node__log_split(&lv, &arrival))
            continue;
        if (arrival < best)
            best = arrival;
    }
    mdb_cursor_close(cur);
    if (best == UINT64_MAX) {
        /* It lacks nothing: stream from where the next envelope will arrive, so
         * new writes are pushed at once. */
        best = node__next_arrival(s, txn);
    }
    mdb_txn_abort(txn);
    *pos = best;
    return TX_OK;
}

/* A small cache of local origin index -> origin key for one read. */
struct idxcache {
    uint32_t idx[256];
    uint8_t origin[256][CRDT_KEY_BYTES];
    uint8_t used[256];
};

static int origin_of(struct node_store *s, MDB_txn *txn, struct idxcache *ic, uint32_t idx,
                     const uint8_t **origin)
{
    unsigned slot = idx & 255;
    int err;

    if (ic->used[slot] && ic->idx[slot] == idx) {
        *origin = ic->origin[slot];
        return TX_OK;
    }
    if ((err = node__origin_by_idx(s, txn, idx, ic->origin[slot])))
        return err;
    ic->idx[slot] = idx;
    ic->used[slot] = 1;
    *origin = ic->origin[slot];
    return TX_OK;
}

static int ns_read(void *ctx, uint64_t *pos, struct net_known *known, size_t max_envs,
                   size_t max_bytes, struct tx_mpw *w, size_t *count)
{
    struct node_store *s = ctx;
    struct idxcache *ic;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t kb[8];
    size_t bytes = 0;
    int err, rc;

    *count = 0;
    if (*pos == UINT64_MAX)
        return TX_OK;
    if (!(ic = tx_calloc(1, sizeof(*ic))))
        return TX_ENOMEM;
    if ((err = node__read_txn(s, &txn))) {
        tx_free(ic);
        return err;
    }
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_ARRIVAL], &cur))) {
        mdb_txn_abort(txn);
        tx_free(ic);
        return node__mdb_err(rc);
    }
    node__put_u64(kb, *pos);
    k.mv_size = 8;
    k.mv_data = kb;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t arrival = node__get_u64(k.mv_data), seq;
        const uint8_t *origin;
        uint8_t lk[12];
        MDB_val lkey = {12, lk}, lv;

        if (v.mv_size != 12) {
            err = TX_ECORRUPT;
            break;
        }
        seq = node__get_u64((const uint8_t *)v.mv_data + 4);
        if ((err = origin_of(s, txn, ic, node__get_u32(v.mv_data), &origin)))
            break;
        if (seq <= net_known_get(known, origin)) {
            *pos = arrival + 1;
            continue;
        }
        memcpy(lk, v.mv_data, 12);
        if ((rc = mdb_get(txn, s->dbi[DB_LOG], &lkey, &lv)) || node__log_split(&lv, NULL)) {
            err = rc ? node__mdb_err(rc) : TX_ECORRUPT;
            break;
        }
        if (*count && (bytes + lv.mv_size > max_bytes || *count >= max_envs))
            break;
        tx_mpw_bin(w, lv.mv_data, lv.mv_size);
        bytes += lv.mv_size + 5;
        (*count)++;
        if ((err = net_known_set(known, origin, seq, 0)))
            break;
        *pos = arrival + 1;
    }
    if (!err && rc && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    tx_free(ic);
    if (!err)
        err = tx_mpw_finish(w);
    return err;
}

static int ns_ingest(void *ctx, const uint8_t *const *envs, const size_t *lens, size_t n,
                     struct net_ingest_result *res)
{
    struct node_store *s = ctx;
    struct node_ingest_report r;
    int err = node_ingest(s, envs, lens, n, &r);

    memset(res, 0, sizeof(*res));
    if (err)
        return err;
    res->accepted = r.accepted + r.released;
    res->duplicate = r.duplicate;
    res->held = r.held;
    res->rejected = r.rejected;
    res->equivocations = r.equivocations;
    /* From a peer, an envelope whose signature fails where nothing covers it
     * is a forgery: an honest relay only sends what it verified, and an honest
     * origin never signs badly. (The same envelope from a bundle is held.) */
    res->forged = r.by_reason[NODE_R_BADSIG] + r.by_reason[NODE_R_MALFORMED] +
                  r.by_reason[NODE_R_OVERSIZED] + r.by_reason[NODE_R_HELD_UNVERIFIED];
    for (int i = 1; i < NODE_R_COUNT; i++)
        if (r.by_reason[i] && i != NODE_R_HELD_GAP && i != NODE_R_HELD_DEPS &&
            i != NODE_R_HELD_UNVERIFIED && i != NODE_R_HELD_SKEW) {
            res->first_reason = i;
            break;
        }
    return TX_OK;
}

static int ns_get(void *ctx, const uint8_t origin[CRDT_KEY_BYTES], uint64_t seq, uint8_t **env,
                  size_t *len)
{
    struct node_store *s = ctx;
    MDB_txn *txn;
    struct origin_row o;
    uint8_t lk[12];
    MDB_val k = {12, lk}, v;
    int err, rc;

    *env = NULL;
    if ((err = node__read_txn(s, &txn)))
        return err;
    if ((err = node__origin_get(s, txn, origin, 0, &o)))
        goto out;
    node__put_u32(lk, o.idx);
    node__put_u64(lk + 4, seq);
    if ((rc = mdb_get(txn, s->dbi[DB_LOG], &k, &v))) {
        err = node__mdb_err(rc);
        goto out;
    }
    if ((err = node__log_split(&v, NULL)))
        goto out;
    if (!(*env = tx_malloc(v.mv_size))) {
        err = TX_ENOMEM;
        goto out;
    }
    memcpy(*env, v.mv_data, v.mv_size);
    *len = v.mv_size;
out:
    mdb_txn_abort(txn);
    return err;
}

static int ns_check_peer(void *ctx, const uint8_t node[CRDT_KEY_BYTES], const uint8_t *cert,
                         size_t cert_len, char *name)
{
    struct node_store *s = ctx;
    struct node_cert c;
    struct node_cert_info ci;
    uint64_t now = node__now(s);

    if (!s->in_district) {
        /* Development mode: only node ids the operator listed. */
        for (size_t i = 0; i < s->ndev; i++)
            if (memcmp(s->dev_trusted[i], node, 32) == 0)
                return TX_OK;
        return TX_EAUTH;
    }
    if (!cert_len || node_cert_decode(cert, cert_len, &c))
        return TX_ECERT;
    if (memcmp(c.district, s->district, 32) != 0)
        return TX_EDISTRICT;
    if (memcmp(c.node, node, 32) != 0)
        return TX_ECERT;
    if (now > c.expires_ms || now + s->hlc.max_skew_ms < c.issued_ms)
        return TX_EEXPIRED;
    if (node_cert_lookup(s, node, &ci) == TX_OK && ci.state == NODE_CERT_REVOKED)
        return TX_EREVOKED;
    {
        /* a revocation can exist before the certificate reached us */
        for (size_t i = 0; i < s->trust.n; i++)
            if (memcmp(s->trust.e[i].node, node, 32) == 0 && s->trust.e[i].revoked)
                return TX_EREVOKED;
    }
    if (name && c.name[0])
        snprintf(name, NET_MAX_NAME + 1, "%s", c.name);
    return TX_OK;
}

static const struct net_store_ops ops = {
    ns_vector, ns_start, ns_read, ns_ingest, ns_get, ns_check_peer,
};

const struct net_store_ops *node_net_ops(void)
{
    return &ops;
}

int node_dev_trust(struct node_store *s, const uint8_t (*ids)[CRDT_KEY_BYTES], size_t n)
{
    uint8_t(*copy)[CRDT_KEY_BYTES] = NULL;

    if (n && !(copy = tx_calloc(n, sizeof(*copy))))
        return TX_ENOMEM;
    if (n)
        memcpy(copy, ids, n * sizeof(*copy));
    tx_free(s->dev_trusted);
    s->dev_trusted = copy;
    s->ndev = n;
    return TX_OK;
}

int node_identity(struct node_store *s, const uint8_t **sk, uint8_t psk[32], uint8_t **cert,
                  size_t *cert_len)
{
    MDB_txn *txn;
    MDB_val k = {4, "cert"}, v;
    int err, rc;

    if (!s->have_sk)
        return TX_ENOKEY;
    *sk = s->sk;
    *cert = NULL;
    *cert_len = 0;
    if (!s->in_district) {
        /* Development mode: a fixed, public "network key". */
        crypto_generichash(psk, 32, (const uint8_t *)"tongxin-dev-network", 19, NULL, 0);
        return TX_OK;
    }
    if ((err = node_network_key(s, psk)))
        return err;
    if ((err = node__read_txn(s, &txn)))
        return err;
    rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == 0 && v.mv_size <= NET_MAX_CERT && (*cert = tx_malloc(v.mv_size))) {
        memcpy(*cert, v.mv_data, v.mv_size);
        *cert_len = v.mv_size;
    } else if (rc == 0) {
        err = TX_ENOMEM;
    } else {
        err = node__mdb_err(rc);
    }
    mdb_txn_abort(txn);
    return err;
}
