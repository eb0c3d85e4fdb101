/*
 * read.c - the read side: records, digests, the log, origins, statistics and
 * verification. Everything here runs in read-only LMDB transactions, so it works
 * beside a running daemon that writes.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void node_record_release(struct node_record *r)
{
    crdt_record_release(&r->rec);
}

static int record_from(const MDB_val *k, const MDB_val *v, struct node_record *out)
{
    int err = node__record_key_split(k->mv_data, k->mv_size, out);

    crdt_record_init(&out->rec);
    if (err)
        return err;
    err = crdt_record_decode(&out->rec, v->mv_data, v->mv_size);
    return err == TX_ENOMEM ? err : err ? TX_ECORRUPT : TX_OK;
}

int node_get(struct node_store *s, const char *scope, const char *type, const char *id,
             struct node_record *out)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int err, rc;

    memset(out, 0, sizeof(*out));
    if (!type || !id || crdt_check_type(type, strlen(type)) || crdt_check_id(id, strlen(id)))
        return TX_EINVAL;
    if ((err = node__read_txn(s, &txn)))
        return err;
    if (scope) {
        char key[CRDT_MAX_SCOPE + CRDT_MAX_TYPE + CRDT_MAX_ID + 2];
        size_t klen;

        if ((err = node__record_key(key, sizeof(key), &klen, scope, strlen(scope), type,
                                    strlen(type), id, strlen(id))))
            goto out;
        k.mv_size = klen;
        k.mv_data = key;
        rc = mdb_get(txn, s->dbi[DB_RECORDS], &k, &v);
        err = rc ? node__mdb_err(rc) : record_from(&k, &v, out);
        goto out;
    }
    /* Any scope: records are keyed scope-first, so look at each scope. */
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_RECORDS], &cur))) {
        err = node__mdb_err(rc);
        goto out;
    }
    err = TX_ENOTFOUND;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;) {
        const char *z = memchr(k.mv_data, '\0', k.mv_size);
        size_t sl = z ? (size_t)(z - (const char *)k.mv_data) : 0;
        char key[CRDT_MAX_SCOPE + CRDT_MAX_TYPE + CRDT_MAX_ID + 2];
        size_t klen;
        MDB_val probe, pv;

        if (!z || sl > CRDT_MAX_SCOPE) {
            err = TX_ECORRUPT;
            break;
        }
        if (node__record_key(key, sizeof(key), &klen, k.mv_data, sl, type, strlen(type), id,
                             strlen(id)) == TX_OK) {
            probe.mv_size = klen;
            probe.mv_data = key;
            if (mdb_get(txn, s->dbi[DB_RECORDS], &probe, &pv) == 0) {
                err = record_from(&probe, &pv, out);
                break;
            }
        }
        /* Jump past this scope: scope followed by \x01 sorts after all its keys. */
        memcpy(key, k.mv_data, sl);
        key[sl] = '\x01';
        probe.mv_size = sl + 1;
        probe.mv_data = key;
        rc = mdb_cursor_get(cur, &probe, &pv, MDB_SET_RANGE);
        k = probe;
        v = pv;
    }
    if (err == TX_ENOTFOUND && rc && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
out:
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

int node_records_each(struct node_store *s, const char *type, node_record_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int err, rc;

    if ((err = node__read_cursor(s, DB_RECORDS, &txn, &cur)))
        return err;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct node_record r;

        if ((err = node__record_key_split(k.mv_data, k.mv_size, &r)))
            break;
        if (type && strcmp(type, r.type) != 0)
            continue;
        if ((err = record_from(&k, &v, &r))) {
            node_record_release(&r);
            break;
        }
        err = cb(&r, ctx);
        node_record_release(&r);
        if (err)
            break;
    }
    if (!err && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

int node_digest(struct node_store *s, uint8_t out[CRDT_HASH_BYTES])
{
    struct crdt_digest d;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int err, rc;

    if ((err = crdt_digest_init(&d)) || (err = node__read_txn(s, &txn)))
        return err;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_RECORDS], &cur))) {
        mdb_txn_abort(txn);
        return node__mdb_err(rc);
    }
    /* Stored states are canonical and keys sort as crdt_digest wants: hash the
     * stored bytes directly. */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct node_record r;

        if ((err = node__record_key_split(k.mv_data, k.mv_size, &r)) ||
            (err = crdt_digest_add(&d, r.scope, strlen(r.scope), r.type, strlen(r.type), r.id,
                                   strlen(r.id), v.mv_data, v.mv_size)))
            break;
    }
    if (!err && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (!err)
        err = crdt_digest_final(&d, out);
    return err;
}

int node_digest_log(struct node_store *s, uint8_t out[CRDT_HASH_BYTES])
{
    crypto_generichash_state st;
    MDB_txn *txn;
    MDB_cursor *oc = NULL, *lc = NULL;
    MDB_val k, v;
    int err, rc;

    if (crypto_generichash_init(&st, NULL, 0, CRDT_HASH_BYTES))
        return TX_ECRYPTO;
    if ((err = node__read_txn(s, &txn)))
        return err;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_ORIGINS], &oc)) ||
        (rc = mdb_cursor_open(txn, s->dbi[DB_LOG], &lc))) {
        err = node__mdb_err(rc);
        goto out;
    }
    /* Origins in key order (not by local index, which differs between nodes). */
    for (rc = mdb_cursor_get(oc, &k, &v, MDB_FIRST); rc == 0 && !err;
         rc = mdb_cursor_get(oc, &k, &v, MDB_NEXT)) {
        struct origin_row o;
        uint8_t origin[CRDT_KEY_BYTES], lk[12];
        MDB_val lkey = {12, lk}, lv;
        int lrc;

        if (k.mv_size != CRDT_KEY_BYTES ||
            (err = node__origin_load(s, txn, v.mv_data, v.mv_size, &o)))
            break;
        memcpy(origin, k.mv_data, CRDT_KEY_BYTES);
        node__put_u32(lk, o.idx);
        node__put_u64(lk + 4, 1);
        for (lrc = mdb_cursor_get(lc, &lkey, &lv, MDB_SET_RANGE);
             lrc == 0 && node__get_u32(lkey.mv_data) == o.idx;
             lrc = mdb_cursor_get(lc, &lkey, &lv, MDB_NEXT)) {
            uint8_t h[CRDT_HASH_BYTES], seq[8];

            memcpy(seq, (const uint8_t *)lkey.mv_data + 4, 8);
            if ((err = node__log_split(&lv, NULL)))
                break;
            if ((err = crdt_env_hash(lv.mv_data, lv.mv_size, h)))
                break;
            crypto_generichash_update(&st, origin, CRDT_KEY_BYTES);
            crypto_generichash_update(&st, seq, 8);
            crypto_generichash_update(&st, h, CRDT_HASH_BYTES);
        }
        if (!err && lrc && lrc != MDB_NOTFOUND)
            err = node__mdb_err(lrc);
    }
    if (!err && rc && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
out:
    if (oc)
        mdb_cursor_close(oc);
    if (lc)
        mdb_cursor_close(lc);
    mdb_txn_abort(txn);
    if (!err && crypto_generichash_final(&st, out, CRDT_HASH_BYTES))
        err = TX_ECRYPTO;
    return err;
}

/* Fill a log entry from stored bytes. */
static int log_entry(struct node_store *s, MDB_txn *txn, uint32_t idx, uint64_t seq,
                     uint64_t arrival, int decrypt, node_log_cb cb, void *ctx)
{
    uint8_t lk[12];
    MDB_val k = {12, lk}, v;
    struct node_log_entry le;
    struct crdt_env e;
    struct crdt_body b;
    uint8_t *pt = NULL;
    size_t ptlen;
    int rc, err, have_body = 0;

    node__put_u32(lk, idx);
    node__put_u64(lk + 4, seq);
    if ((rc = mdb_get(txn, s->dbi[DB_LOG], &k, &v)))
        return rc == MDB_NOTFOUND ? TX_ECORRUPT : node__mdb_err(rc);
    if (node__log_split(&v, arrival ? NULL : &arrival) || crdt_env_decode(&e, v.mv_data, v.mv_size))
        return TX_ECORRUPT;
    memset(&le, 0, sizeof(le));
    memcpy(le.origin, e.origin, CRDT_KEY_BYTES);
    le.seq = e.seq;
    le.hlc = e.hlc;
    le.arrival = arrival;
    memcpy(le.scope, e.scope, e.scope_len + 1);
    le.epoch = e.epoch;
    le.readable = e.epoch == 0 || node__scope_key(s, e.scope, e.epoch) != NULL;
    le.size = v.mv_size;
    le.bytes = v.mv_data;
    crdt_env_hash(v.mv_data, v.mv_size, le.hash);
    if (decrypt && le.readable && node__body_open(s, &e, &pt, &ptlen) == TX_OK &&
        crdt_body_decode(&b, pt, ptlen) == TX_OK) {
        have_body = 1;
        le.body = &b;
    }
    err = cb(&le, ctx);
    if (have_body)
        crdt_body_release(&b);
    tx_free(pt);
    crdt_env_release(&e);
    return err;
}

int node_log_each(struct node_store *s, const uint8_t *origin, int decrypt, node_log_cb cb,
                  void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int err, rc;
    struct origin_row o;

    if ((err = node__read_txn(s, &txn)))
        return err;
    if (origin) {
        /* One origin: its chain in seq order (for an origin, arrival order is seq
         * order). */
        if ((err = node__origin_get(s, txn, origin, 0, &o))) {
            mdb_txn_abort(txn);
            return err;
        }
        for (uint64_t seq = 1; seq <= o.head && !err; seq++)
            err = log_entry(s, txn, o.idx, seq, 0, decrypt, cb, ctx);
        mdb_txn_abort(txn);
        return err;
    }
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_ARRIVAL], &cur))) {
        mdb_txn_abort(txn);
        return node__mdb_err(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != 12) {
            err = TX_ECORRUPT;
            break;
        }
        err = log_entry(s, txn, node__get_u32(v.mv_data),
                        node__get_u64((const uint8_t *)v.mv_data + 4), node__get_u64(k.mv_data),
                        decrypt, cb, ctx);
    }
    if (!err && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

int node_origins_each(struct node_store *s, node_origin_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur, *hc;
    MDB_val k, v;
    int err, rc;

    if ((err = node__read_cursor(s, DB_ORIGINS, &txn, &cur)))
        return err;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_HELD], &hc))) {
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return node__mdb_err(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct node_origin_info oi;
        struct origin_row o;
        uint8_t hk[12];
        MDB_val hkey = {12, hk}, hv;
        int hrc;

        if (k.mv_size != CRDT_KEY_BYTES ||
            (err = node__origin_load(s, txn, v.mv_data, v.mv_size, &o)))
            break;
        memset(&oi, 0, sizeof(oi));
        memcpy(oi.origin, k.mv_data, CRDT_KEY_BYTES);
        oi.head = o.head;
        memcpy(oi.head_hash, o.head_hash, CRDT_HASH_BYTES);
        oi.head_hlc = o.head_hlc;
        oi.received_ms = o.received_ms;
        oi.flags = o.flags;
        node__put_u32(hk, o.idx);
        node__put_u64(hk + 4, 0);
        for (hrc = mdb_cursor_get(hc, &hkey, &hv, MDB_SET_RANGE);
             hrc == 0 && node__get_u32(hkey.mv_data) == o.idx;
             hrc = mdb_cursor_get(hc, &hkey, &hv, MDB_NEXT))
            oi.held++;
        err = cb(&oi, ctx);
    }
    if (!err && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    mdb_cursor_close(hc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

int node_stats(struct node_store *s, struct node_stats *st)
{
    MDB_txn *txn;
    MDB_stat ms;
    MDB_envinfo ei;
    MDB_cursor *cur;
    MDB_val k, v;
    int err, rc;

    memset(st, 0, sizeof(*st));
    if ((err = node__read_txn(s, &txn)))
        return err;
    if (!mdb_stat(txn, s->dbi[DB_LOG], &ms))
        st->envelopes = ms.ms_entries;
    if (!mdb_stat(txn, s->dbi[DB_RECORDS], &ms))
        st->records = ms.ms_entries;
    if (!mdb_stat(txn, s->dbi[DB_HELD], &ms))
        st->held = ms.ms_entries;
    if (!mdb_stat(txn, s->dbi[DB_EVIDENCE], &ms))
        st->evidence = ms.ms_entries;
    if (!mdb_stat(txn, s->dbi[DB_ORIGINS], &ms))
        st->origins = ms.ms_entries;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_ORIGINS], &cur)) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct origin_row o;

            if (node__origin_load(s, txn, v.mv_data, v.mv_size, &o) == 0 &&
                (o.flags & NODE_ORIGIN_FROZEN))
                st->frozen++;
        }
        mdb_cursor_close(cur);
    }
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_STATS], &cur)) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint32_t r = k.mv_size == 4 ? node__get_u32(k.mv_data) : 0;

            if (r > 0 && r < NODE_R_COUNT && v.mv_size == 8)
                st->rejected[r] = node__get_u64(v.mv_data);
        }
        mdb_cursor_close(cur);
    }
    if (!mdb_env_info(s->env, &ei)) {
        MDB_stat es;

        st->map_size = ei.me_mapsize;
        if (!mdb_env_stat(s->env, &es))
            st->map_used = (ei.me_last_pgno + 1) * (size_t)es.ms_psize;
    }
    mdb_txn_abort(txn);
    return TX_OK;
}

static void problem(node_problem_cb cb, void *ctx, const char *what, const uint8_t *origin,
                    uint64_t seq)
{
    char line[320], hex[NODE_ID_HEX + 1];

    node_hex(origin, CRDT_KEY_BYTES, hex);
    snprintf(line, sizeof(line), "%s#%llu: %s", hex, (unsigned long long)seq, what);
    if (cb)
        cb(line, ctx);
}

int node_verify(struct node_store *s, node_problem_cb cb, void *ctx)
{
    return node_verify_ex(s, cb, ctx, NULL);
}

int node_verify_ex(struct node_store *s, node_problem_cb cb, void *ctx,
                   struct node_verify_report *rep)
{
    MDB_txn *txn;
    MDB_cursor *oc = NULL;
    MDB_val k, v;
    int err, rc, bad = 0;
    struct node_verify_report dummy;

    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof(*rep));
    if ((err = node__read_cursor(s, DB_ORIGINS, &txn, &oc)))
        return err;
    for (rc = mdb_cursor_get(oc, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(oc, &k, &v, MDB_NEXT)) {
        struct origin_row o;
        uint8_t origin[CRDT_KEY_BYTES], prev[CRDT_HASH_BYTES] = {0};

        if (k.mv_size != CRDT_KEY_BYTES || node__origin_load(s, txn, v.mv_data, v.mv_size, &o)) {
            bad++;
            if (cb)
                cb("origins: corrupt row", ctx);
            continue;
        }
        memcpy(origin, k.mv_data, CRDT_KEY_BYTES);
        /* Every chain link and the head; every signature, except that one
         * which fails on its own is covered when a later envelope of the chain
         * verifies (its signature authenticates everything before it, which is
         * how ingest accepted it). */
        {
            uint64_t unsigned_from = 0; /* first seq of a run of failing signatures */

            for (uint64_t seq = 1; seq <= o.head; seq++) {
                uint8_t lk[12];
                MDB_val lkey = {12, lk}, lv;
                struct crdt_env e;

                node__put_u32(lk, o.idx);
                node__put_u64(lk + 4, seq);
                if (mdb_get(txn, s->dbi[DB_LOG], &lkey, &lv) || node__log_split(&lv, NULL)) {
                    problem(cb, ctx, "missing from the log", origin, seq);
                    bad++;
                    break;
                }
                if ((err = crdt_env_decode(&e, lv.mv_data, lv.mv_size))) {
                    if (err == TX_ENOMEM) { /* not the store's fault */
                        mdb_cursor_close(oc);
                        mdb_txn_abort(txn);
                        return err;
                    }
                    problem(cb, ctx, "does not decode", origin, seq);
                    bad++;
                    break;
                }
                if (e.seq != seq || memcmp(e.origin, origin, CRDT_KEY_BYTES) != 0)
                    problem(cb, ctx, "stored under the wrong key", origin, seq), bad++;
                if (memcmp(e.prev, prev, CRDT_HASH_BYTES) != 0)
                    problem(cb, ctx, "prev hash does not match the chain", origin, seq), bad++;
                if (node__sign_verify(lv.mv_data, lv.mv_size, origin) == TX_OK) {
                    if (unsigned_from) {
                        /* authentic through this signature, but signed badly
                         * by the origin itself: worth a line, not corruption */
                        char what[200];

                        rep->covered_badsig += seq - unsigned_from;
                        snprintf(what, sizeof(what),
                                 "own signature does not verify (%llu envelope(s), to #%llu); "
                                 "the chain is authenticated by #%llu's signature (the origin "
                                 "signed badly)",
                                 (unsigned long long)(seq - unsigned_from),
                                 (unsigned long long)(seq - 1), (unsigned long long)seq);
                        if (rep != &dummy)
                            problem(cb, ctx, what, origin, unsigned_from);
                    }
                    unsigned_from = 0;
                } else if (!unsigned_from) {
                    unsigned_from = seq;
                }
                crdt_env_hash(lv.mv_data, lv.mv_size, prev);
                crdt_env_release(&e);
            }
            if (unsigned_from)
                problem(cb, ctx, "signature does not verify (and no later one covers it)", origin,
                        unsigned_from),
                    bad++;
        }
        if (o.head && memcmp(prev, o.head_hash, CRDT_HASH_BYTES) != 0)
            problem(cb, ctx, "head hash does not match the log", origin, o.head), bad++;
    }
    mdb_cursor_close(oc);
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND)
        return node__mdb_err(rc);
    rep->corrupt = (uint64_t)bad;
    return bad ? TX_ECORRUPT : TX_OK;
}

static int key_list_add(struct node_key_info **list, size_t *n, const char *scope, uint32_t epoch)
{
    struct node_key_info *nl;

    for (size_t j = 0; j < *n; j++)
        if ((*list)[j].epoch == epoch && strcmp((*list)[j].scope, scope) == 0)
            return TX_OK;
    nl = tx_reallocarray(*list, *n + 1, sizeof(*nl));
    if (!nl)
        return TX_ENOMEM;
    *list = nl;
    memset(&nl[*n], 0, sizeof(nl[*n]));
    snprintf(nl[*n].scope, sizeof(nl[*n].scope), "%s", scope);
    nl[*n].epoch = epoch;
    (*n)++;
    return TX_OK;
}

int node_keys_each(struct node_store *s, node_key_cb cb, void *ctx)
{
    /* Every (scope, epoch) in the log, plus every key held. A scan of the log:
     * this is an operator's command, not a hot path. */
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int err, rc;
    struct node_key_info *list = NULL;
    size_t n = 0;

    if ((err = node__read_cursor(s, DB_LOG, &txn, &cur)))
        return err;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !err;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct crdt_env e;

        if (node__log_split(&v, NULL) || crdt_env_decode(&e, v.mv_data, v.mv_size)) {
            err = TX_ECORRUPT;
            break;
        }
        err = key_list_add(&list, &n, e.scope, e.epoch);
        crdt_env_release(&e);
    }
    if (!err && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    for (size_t i = 0; !err && i < s->nkeys; i++)
        err = key_list_add(&list, &n, s->keys[i].scope, s->keys[i].epoch);
    for (size_t i = 0; !err && i < n; i++) {
        list[i].readable =
            list[i].epoch == 0 || node__scope_key(s, list[i].scope, list[i].epoch) != NULL;
        err = cb(&list[i], ctx);
    }
    tx_free(list);
    return err;
}

int node_key_import(struct node_store *s, const uint8_t *blob, size_t len, char *scope_out)
{
    char scope[CRDT_MAX_SCOPE + 1];
    uint32_t epoch;
    uint8_t key[32];
    int err;

    int had;

    if (s->readonly)
        return TX_EINVAL;
    if (s->in_district)
        return TX_EDISTRICT; /* keys come from root-signed wraps only */
    if ((err = node__key_unwrap(s, blob, len, scope, &epoch, key)))
        return err;
    had = node__scope_key(s, scope, epoch) != NULL;
    err = node__key_install_rebuild(s, scope, epoch, key);
    sodium_memzero(key, sizeof(key));
    if (err)
        return err;
    if (scope_out)
        memcpy(scope_out, scope, strlen(scope) + 1);
    node__log(s, NODE_LOG_INFO, "keys: installed %s epoch %u; its records rebuilt", scope, epoch);
    return had ? TX_EEXIST : TX_OK;
}

struct peer_ctx {
    const uint8_t *peer;
    const struct crdt_dep *vec;
    uint32_t n;
};

static int peer_fn(struct node_store *s, MDB_txn *txn, void *vctx)
{
    struct peer_ctx *c = vctx;
    struct tx_mpw w;
    MDB_val k = {CRDT_KEY_BYTES, (void *)c->peer}, v;
    int err;

    tx_mpw_init(&w, (size_t)16 << 20);
    tx_mpw_array(&w, 2);
    tx_mpw_uint(&w, node__now(s));
    tx_mpw_array(&w, c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        tx_mpw_array(&w, 2);
        tx_mpw_bin(&w, c->vec[i].origin, CRDT_KEY_BYTES);
        tx_mpw_uint(&w, c->vec[i].seq);
    }
    if ((err = tx_mpw_finish(&w))) {
        tx_mpw_release(&w);
        return err;
    }
    v.mv_size = w.len;
    v.mv_data = w.buf;
    err = node__mdb_err(mdb_put(txn, s->dbi[DB_PEERS], &k, &v, 0));
    tx_mpw_release(&w);
    return err;
}

int node_peer_vector_set(struct node_store *s, const uint8_t peer[CRDT_KEY_BYTES],
                         const struct crdt_dep *vec, uint32_t n)
{
    struct peer_ctx c = {peer, vec, n};

    return node__write_txn(s, peer_fn, &c);
}
