/*
 * bundle.c - bundles: a file of envelopes for carrying by USB.
 *
 *   "TXBUNDLE" | u8 version (1) | u8 0 | u32be header length H | header (H bytes)
 *   then count + evidence records: u32be length L | L bytes of envelope
 *   "TXEND\0\0\0" | BLAKE2b-256 of every byte before this trailer
 *
 *   header := [exporter: bin 32, created_ms: uint, vector: [[origin: bin 32,
 *              seq: uint]...], count: uint, evidence: uint]
 *
 * Envelopes are in the exporter's arrival order, which is causal. Import maps
 * the file, checks the whole structure and the checksum before anything is
 * ingested (a truncated or corrupted bundle applies nothing), then runs the
 * ordinary ingest path in batches, so every envelope is verified again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAGIC         "TXBUNDLE"
#define TRAILER       "TXEND\0\0\0"
#define VERSION       1
#define PREFIX_BYTES  14
#define TRAILER_BYTES (8 + CRDT_HASH_BYTES)
#define BATCH         1000
#define WINDOW        (64 * BATCH)
#define MAX_HEADER    (64u << 20)

struct out {
    FILE *f;
    crypto_generichash_state h;
    int err;
};

static void out_write(struct out *o, const void *p, size_t n)
{
    if (o->err || !n)
        return;
    if (fwrite(p, 1, n, o->f) != n) {
        o->err = TX_EIO;
        return;
    }
    crypto_generichash_update(&o->h, p, n);
}

static void out_record(struct out *o, const void *p, size_t n)
{
    uint8_t lb[4];

    node__put_u32(lb, (uint32_t)n);
    out_write(o, lb, 4);
    out_write(o, p, n);
}

/* The peer's known seq per local origin index (0 where unknown). */
static int peer_known(struct node_store *s, MDB_txn *txn, const uint8_t *peer, uint64_t **known,
                      size_t *nknown)
{
    MDB_val k = {CRDT_KEY_BYTES, (void *)peer}, v;
    struct tx_mpr r;
    uint64_t next, ms;
    uint32_t n;
    int rc, err;

    if ((err = node__meta_get_u64(s, txn, "next_origin", &next)))
        return err;
    *nknown = (size_t)next;
    *known = tx_calloc(next ? next : 1, sizeof(**known));
    if (!*known)
        return TX_ENOMEM;
    rc = mdb_get(txn, s->dbi[DB_PEERS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return TX_OK; /* never heard of it: it lacks everything */
    if (rc)
        return node__mdb_err(rc);
    tx_mpr_init(&r, v.mv_data, v.mv_size);
    if ((err = tx_mpr_array_n(&r, 2)) || (err = tx_mpr_uint(&r, &ms)) ||
        (err = tx_mpr_array(&r, &n, UINT32_MAX)))
        return TX_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t origin[CRDT_KEY_BYTES];
        uint64_t seq;
        struct origin_row o;

        if (tx_mpr_array_n(&r, 2) || tx_mpr_bin_fixed(&r, origin, CRDT_KEY_BYTES) ||
            tx_mpr_uint(&r, &seq))
            return TX_ECORRUPT;
        if (node__origin_get(s, txn, origin, 0, &o) == TX_OK && o.idx < next)
            (*known)[o.idx] = seq;
    }
    return TX_OK;
}

static int write_header(struct node_store *s, MDB_txn *txn, struct out *o, uint64_t count,
                        uint64_t evidence)
{
    struct tx_mpw w;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t prefix[PREFIX_BYTES];
    int rc, err;

    tx_mpw_init(&w, MAX_HEADER);
    tx_mpw_array(&w, 5);
    tx_mpw_bin(&w, s->info.id, CRDT_KEY_BYTES);
    tx_mpw_uint(&w, node__now(s));
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_ORIGINS], &cur))) {
        tx_mpw_release(&w);
        return node__mdb_err(rc);
    }
    {
        uint32_t n = 0;

        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct origin_row orow;

            if (node__origin_load(s, txn, v.mv_data, v.mv_size, &orow) == 0 && orow.head)
                n++;
        }
        tx_mpw_array(&w, n);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct origin_row orow;

        if (node__origin_load(s, txn, v.mv_data, v.mv_size, &orow) || !orow.head)
            continue;
        tx_mpw_array(&w, 2);
        tx_mpw_bin(&w, k.mv_data, CRDT_KEY_BYTES);
        tx_mpw_uint(&w, orow.head);
    }
    mdb_cursor_close(cur);
    tx_mpw_uint(&w, count);
    tx_mpw_uint(&w, evidence);
    if ((err = tx_mpw_finish(&w))) {
        tx_mpw_release(&w);
        return err;
    }
    memcpy(prefix, MAGIC, 8);
    prefix[8] = VERSION;
    prefix[9] = 0;
    node__put_u32(prefix + 10, (uint32_t)w.len);
    out_write(o, prefix, sizeof(prefix));
    out_write(o, w.buf, w.len);
    tx_mpw_release(&w);
    return o->err;
}

/* Walk the log in arrival order, calling fn for what the peer lacks. */
static int walk(struct node_store *s, MDB_txn *txn, const uint64_t *known, size_t nknown,
                struct out *o, uint64_t *count)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, err = TX_OK;

    *count = 0;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_ARRIVAL], &cur)))
        return node__mdb_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t idx;
        uint64_t seq;

        if (v.mv_size != 12) {
            err = TX_ECORRUPT;
            break;
        }
        idx = node__get_u32(v.mv_data);
        seq = node__get_u64((const uint8_t *)v.mv_data + 4);
        if (known && idx < nknown && seq <= known[idx])
            continue;
        (*count)++;
        if (o) {
            MDB_val lk = {12, v.mv_data}, lv;

            if ((rc = mdb_get(txn, s->dbi[DB_LOG], &lk, &lv))) {
                err = node__mdb_err(rc);
                break;
            }
            if ((err = node__log_split(&lv, NULL)))
                break;
            out_record(o, lv.mv_data, lv.mv_size);
            if (o->err) {
                err = o->err;
                break;
            }
        }
    }
    mdb_cursor_close(cur);
    if (!err && rc != MDB_NOTFOUND)
        err = node__mdb_err(rc);
    return err;
}

static int write_evidence(struct node_store *s, MDB_txn *txn, struct out *o)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->dbi[DB_EVIDENCE], &cur)))
        return node__mdb_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !o->err;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        out_record(o, v.mv_data, v.mv_size);
    mdb_cursor_close(cur);
    if (o->err)
        return o->err;
    return rc == MDB_NOTFOUND ? TX_OK : node__mdb_err(rc);
}

int node_bundle_export(struct node_store *s, const char *path, const uint8_t *for_peer,
                       uint64_t *count)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    struct out o;
    uint64_t *known = NULL, n = 0, ev = 0, written;
    size_t nknown = 0, plen = strlen(path);
    char *tmp = tx_malloc(plen + 8);
    uint8_t sum[CRDT_HASH_BYTES];
    int err, fd;

    memset(&o, 0, sizeof(o));
    if (!tmp)
        return TX_ENOMEM;
    snprintf(tmp, plen + 8, "%s.tmp", path);
    if ((err = node__read_txn(s, &txn)))
        goto out;
    if (for_peer && (err = peer_known(s, txn, for_peer, &known, &nknown)))
        goto out;
    if ((err = walk(s, txn, known, nknown, NULL, &n)))
        goto out;
    if (!mdb_stat(txn, s->dbi[DB_EVIDENCE], &st))
        ev = st.ms_entries;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(o.f = fdopen(fd, "wb"))) {
        if (fd >= 0)
            close(fd);
        err = TX_EIO;
        goto out;
    }
    crypto_generichash_init(&o.h, NULL, 0, CRDT_HASH_BYTES);
    if ((err = write_header(s, txn, &o, n, ev)) ||
        (err = walk(s, txn, known, nknown, &o, &written)) || (err = write_evidence(s, txn, &o)))
        goto out;
    crypto_generichash_final(&o.h, sum, sizeof(sum));
    if (fwrite(TRAILER, 1, 8, o.f) != 8 || fwrite(sum, 1, sizeof(sum), o.f) != sizeof(sum) ||
        fflush(o.f) || fsync(fileno(o.f))) {
        err = TX_EIO;
        goto out;
    }
    fclose(o.f);
    o.f = NULL;
    if (rename(tmp, path)) {
        err = TX_EIO;
        goto out;
    }
    {
        /* Make the rename durable too. */
        char *dir = tx_strndup(path, plen), *slash = dir ? strrchr(dir, '/') : NULL;
        int dfd;

        if (dir) {
            if (slash)
                *slash = '\0';
            dfd = open(slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            tx_free(dir);
        }
    }
    if (count)
        *count = n;
out:
    if (o.f) {
        fclose(o.f);
        unlink(tmp);
    }
    if (txn)
        mdb_txn_abort(txn);
    tx_free(known);
    tx_free(tmp);
    return err;
}

/* ---- import ---- */

struct parsed {
    uint8_t exporter[CRDT_KEY_BYTES];
    struct crdt_dep *vec;
    uint32_t nvec;
    uint64_t count, evidence;
    size_t body_off; /* first record */
};

/* Check the whole file before anything is ingested. */
static int bundle_check(const uint8_t *p, size_t len, struct parsed *b)
{
    struct tx_mpr r;
    uint32_t hlen, n;
    uint64_t ms, recs = 0;
    size_t off, end;
    uint8_t sum[CRDT_HASH_BYTES];
    int err;

    memset(b, 0, sizeof(*b));
    if (len < PREFIX_BYTES || memcmp(p, MAGIC, 8) != 0)
        return len < 8 && memcmp(p, MAGIC, len) == 0 ? TX_ETRUNC : TX_ECORRUPT;
    if (p[8] != VERSION)
        return TX_EVERSION;
    if (len < PREFIX_BYTES + TRAILER_BYTES)
        return TX_ETRUNC;
    end = len - TRAILER_BYTES;
    if (memcmp(p + end, TRAILER, 8) != 0)
        return TX_ETRUNC; /* no trailer where the file ends: cut short */
    crypto_generichash(sum, sizeof(sum), p, end, NULL, 0);
    if (sodium_memcmp(sum, p + end + 8, CRDT_HASH_BYTES) != 0)
        return TX_ECHECKSUM;
    hlen = node__get_u32(p + 10);
    if (hlen > end - PREFIX_BYTES)
        return TX_ECORRUPT;
    tx_mpr_init(&r, p + PREFIX_BYTES, hlen);
    if ((err = tx_mpr_array_n(&r, 5)) ||
        (err = tx_mpr_bin_fixed(&r, b->exporter, CRDT_KEY_BYTES)) || (err = tx_mpr_uint(&r, &ms)) ||
        (err = tx_mpr_array(&r, &n, UINT32_MAX)))
        return TX_ECORRUPT;
    if ((size_t)n * 36 > tx_mpr_left(&r))
        return TX_ECORRUPT;
    if (n && !(b->vec = tx_calloc(n, sizeof(*b->vec))))
        return TX_ENOMEM;
    b->nvec = n;
    for (uint32_t i = 0; i < n; i++)
        if (tx_mpr_array_n(&r, 2) || tx_mpr_bin_fixed(&r, b->vec[i].origin, CRDT_KEY_BYTES) ||
            tx_mpr_uint(&r, &b->vec[i].seq))
            return TX_ECORRUPT;
    if (tx_mpr_uint(&r, &b->count) || tx_mpr_uint(&r, &b->evidence) || tx_mpr_done(&r))
        return TX_ECORRUPT;
    off = PREFIX_BYTES + hlen;
    b->body_off = off;
    while (off < end) {
        uint32_t l;

        if (end - off < 4)
            return TX_ECORRUPT;
        l = node__get_u32(p + off);
        if (l == 0 || l > CRDT_MAX_ENVELOPE || l > end - off - 4)
            return TX_ECORRUPT;
        off += 4 + (size_t)l;
        recs++;
    }
    if (recs != b->count + b->evidence)
        return TX_ECORRUPT;
    return TX_OK;
}

int node_bundle_import(struct node_store *s, const char *path, struct node_bundle_report *rep)
{
    struct node_bundle_report dummy;
    struct parsed b;
    struct stat st;
    const uint8_t *p = NULL;
    const uint8_t **envs = NULL;
    size_t *lens = NULL, n = 0, off, end;
    int fd, err;

    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof(*rep));
    memset(&b, 0, sizeof(b));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TX_ENOTFOUND : TX_EIO;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return TX_EIO;
    }
    if (st.st_size == 0) {
        close(fd);
        return TX_ETRUNC;
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return TX_EIO;
    if ((err = bundle_check(p, (size_t)st.st_size, &b)))
        goto out;
    rep->envelopes = b.count + b.evidence;
    end = (size_t)st.st_size - TRAILER_BYTES;
    /* Windows of WINDOW envelopes (memory bounded whatever the bundle holds),
     * each ingested in batches of BATCH, the next batch prepared while one
     * commits. */
    if (!(envs = tx_calloc(WINDOW, sizeof(*envs))) || !(lens = tx_calloc(WINDOW, sizeof(*lens)))) {
        err = TX_ENOMEM;
        goto out;
    }
    for (off = b.body_off; off < end;) {
        uint32_t l = node__get_u32(p + off);

        envs[n] = p + off + 4;
        lens[n] = l;
        n++;
        off += 4 + (size_t)l;
        if (n == WINDOW || off >= end) {
            struct node_ingest_report r;

            if ((err = node_ingest_many(s, envs, lens, n, BATCH, &r)))
                goto out;
            node_ingest_report_add(&rep->ingest, &r);
            n = 0;
        }
    }
    /* Envelopes held by one batch and released by a later one count once, as
     * accepted. */
    rep->ingest.accepted += rep->ingest.released;
    rep->ingest.held =
        rep->ingest.held > rep->ingest.released ? rep->ingest.held - rep->ingest.released : 0;
    rep->ingest.released = 0;
    /* What the exporter holds: what a later `bundle export --for` can skip. */
    if (memcmp(b.exporter, s->info.id, CRDT_KEY_BYTES) != 0)
        err = node_peer_vector_set(s, b.exporter, b.vec, b.nvec);
out:
    tx_free(envs);
    tx_free(lens);
    tx_free(b.vec);
    munmap((void *)p, (size_t)st.st_size);
    return err;
}
