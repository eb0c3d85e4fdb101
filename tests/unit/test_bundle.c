/*
 * test_bundle.c - bundles: export, import, convergence by carried files.
 *
 * - Four nodes of one community (sharing the general scope key) write random
 *   records of every kind in the general and public scopes for several rounds;
 *   between rounds random pairs exchange bundles (full, or only what the peer
 *   lacks) in random order; at the end everyone exchanges until nothing new
 *   arrives, and all four must hold the same log and the same records.
 * - A truncated bundle (every cut of a small one, random cuts of a bigger one)
 *   or a bundle with one byte changed is refused with an error, and nothing of
 *   it is applied.
 * - A node that cannot read a scope stores and relays its envelopes; once it
 *   gets the key the records appear, equal to the writer's.
 *
 * TX_BUNDLE_SEED replays a randomised run; TX_BUNDLE_ROUNDS sets the rounds.
 */
#include "txnode.h"

#define PUB "public"
#define NN  4

static uint64_t g_seed;

struct nd {
    char dir[TXN_PATH];
    struct node_store *s;
    uint8_t id[CRDT_KEY_BYTES];
};

static void nd_new(struct nd *n, const char *tag)
{
    n->s = txn_node_new(n->dir, sizeof(n->dir), tag, "c1");
    txn_id(n->s, n->id);
}

static void nd_close(struct nd *n)
{
    node_close(n->s);
    n->s = NULL;
    txn_rmrf(n->dir);
}

static int bundle_error(int rc)
{
    return rc == TX_ECHECKSUM || rc == TX_ETRUNC || rc == TX_ECORRUPT || rc == TX_EVERSION;
}

static void print_bundle_rep(const char *what, const struct node_bundle_report *r)
{
    const struct node_ingest_report *i = &r->ingest;

    print_message("%s: envelopes %llu accepted %llu duplicate %llu held %llu unreadable %llu "
                  "rejected %llu equivocations %llu\n",
                  what, (unsigned long long)r->envelopes, (unsigned long long)i->accepted,
                  (unsigned long long)i->duplicate, (unsigned long long)i->held,
                  (unsigned long long)i->unreadable, (unsigned long long)i->rejected,
                  (unsigned long long)i->equivocations);
}

/* from -> to by a bundle file in dir; for_peer exports only what `to` lacks as
 * far as `from` knows. Returns the envelopes newly stored at `to`. */
static uint64_t carry(struct nd *from, struct nd *to, int for_peer, const char *dir)
{
    char path[TXN_PATH];
    uint64_t count = 0;
    struct node_bundle_report rep;
    int rc;

    txn_path(path, sizeof(path), dir, "carry.bundle");
    rc = node_bundle_export(from->s, path, for_peer ? to->id : NULL, &count);
    if (rc)
        fail_msg("node_bundle_export: %s", tx_errname(rc));
    rc = node_bundle_import(to->s, path, &rep);
    if (rc)
        fail_msg("node_bundle_import: %s", tx_errname(rc));
    if (rep.ingest.rejected || rep.ingest.equivocations || rep.envelopes != count) {
        print_bundle_rep("carry", &rep);
        fail_msg("bundle of %llu envelopes not taken cleanly", (unsigned long long)count);
    }
    unlink(path);
    return rep.ingest.accepted;
}

/* ---- random writes ---- */

static const char *const rec_ids[] = {"r1", "r2", "r3", "r4"};
static const char *const names[] = {"wang", "li", "zhao", "阳光城", "chen"};
static const char *const tags[] = {"elderly", "visited", "urgent", "closed"};

static uint64_t cur_status(struct node_store *s, const char *scope, const char *id)
{
    struct node_record r;
    const struct crdt_field *f;
    uint64_t v = 0;

    if (node_get(s, scope, "case", id, &r) == TX_OK) {
        f = crdt_record_field(&r.rec, "status", 6, CRDT_STATUS);
        if (f)
            v = f->u.status;
    }
    node_record_release(&r);
    return v;
}

/* A tag currently in the set (NULL if none), chosen at random. */
static const char *present_tag(struct node_store *s, const char *scope, const char *id,
                               struct txt_rng *rng)
{
    struct node_record r;
    const struct crdt_field *f;
    const char *pick = NULL;

    if (node_get(s, scope, "case", id, &r) == TX_OK) {
        f = crdt_record_field(&r.rec, "tags", 4, CRDT_SET);
        if (f && f->u.set.n) {
            const struct crdt_set_elem *e = &f->u.set.e[txt_below(rng, f->u.set.n)];

            for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
                if (strcmp(tags[i], e->s) == 0)
                    pick = tags[i];
        }
    }
    node_record_release(&r);
    return pick;
}

/* One local write of 1..3 changes on distinct fields of one record. */
static void random_write(struct nd *n, const char *general, struct txt_rng *rng)
{
    const char *scope = txt_below(rng, 10) < 7 ? general : PUB;
    const char *id = rec_ids[txt_below(rng, 4)];
    struct node_change ch[3];
    int kinds[5] = {0, 1, 2, 3, 4}, nch = 1 + (int)txt_below(rng, 3), rc;

    for (int i = 4; i > 0; i--) {
        int j = (int)txt_below(rng, (uint64_t)i + 1), t = kinds[i];

        kinds[i] = kinds[j];
        kinds[j] = t;
    }
    memset(ch, 0, sizeof(ch));
    for (int i = 0; i < nch; i++) {
        struct node_change *c = &ch[i];

        c->type = "case";
        c->id = id;
        switch (kinds[i]) {
        case 0: {
            const char *v = names[txt_below(rng, 5)];

            *c = txn_ch_str("case", id, "name", v);
            break;
        }
        case 1:
            c->field = "floor";
            c->code = CRDT_OP_LWW_SET;
            c->value.type = CRDT_INT;
            c->value.i = (int64_t)txt_below(rng, 30) - 3;
            break;
        case 2:
            c->field = "visits";
            c->code = CRDT_OP_CTR_ADD;
            c->value.type = CRDT_INT;
            c->value.i = (int64_t)txt_below(rng, 11) - 5;
            break;
        case 3: {
            const char *t = txt_below(rng, 3) ? NULL : present_tag(n->s, scope, id, rng);

            c->field = "tags";
            c->code = t ? CRDT_OP_SET_REM : CRDT_OP_SET_ADD;
            if (!t)
                t = tags[txt_below(rng, 4)];
            c->value.type = CRDT_STR;
            c->value.s = t;
            c->value.len = (uint32_t)strlen(t);
            break;
        }
        default: {
            uint64_t cur = cur_status(n->s, scope, id);

            c->field = "status";
            c->code = CRDT_OP_STATUS_SET;
            c->value.type = CRDT_INT;
            c->value.i =
                (int64_t)(txt_below(rng, 5) ? cur + txt_below(rng, 3) : (cur / 256 + 1) * 256);
            break;
        }
        }
    }
    rc = node_write(n->s, scope, ch, (size_t)nch, NULL);
    if (rc)
        fail_msg("random write in %s: %s", scope, tx_errname(rc));
}

/* ---- convergence by bundles ---- */

static void test_bundle_convergence(void **state)
{
    struct txt_rng rng = {g_seed};
    struct nd n[NN];
    char general[CRDT_MAX_SCOPE + 1], tmp[TXN_PATH];
    const char *re = getenv("TX_BUNDLE_ROUNDS");
    int rounds = re && *re ? atoi(re) : 5 + (int)txt_below(&rng, 4), pass;
    uint64_t exchanges = 0, writes = 0;
    struct txn_digests d0;
    (void)state;

    txt_alloc_install();
    txn_tmpdir(tmp, sizeof(tmp), "bundles");
    for (int i = 0; i < NN; i++)
        nd_new(&n[i], "conv");
    txn_general(n[0].s, general);
    /* Node 0 makes the community's general key; the others get it before
     * they write there. */
    txn_put(n[0].s, general, "case", "r1", "name", "first");
    for (int i = 1; i < NN; i++)
        txn_share_key(n[0].s, n[i].s, general);

    for (int r = 0; r < rounds; r++) {
        int nx = 2 + (int)txt_below(&rng, 5);

        for (int i = 0; i < NN; i++) {
            int nw = 1 + (int)txt_below(&rng, 4);

            for (int k = 0; k < nw; k++, writes++)
                random_write(&n[i], general, &rng);
        }
        for (int x = 0; x < nx; x++, exchanges++) {
            int i = (int)txt_below(&rng, NN), j = (int)txt_below(&rng, NN - 1);

            if (j >= i)
                j++;
            (void)carry(&n[i], &n[j], (int)txt_below(&rng, 2), tmp);
        }
    }
    /* Everyone with everyone, in random order, until nothing new arrives. */
    for (pass = 0; pass < 10; pass++) {
        uint64_t got = 0;
        int order[NN * (NN - 1)][2], no = 0;

        for (int i = 0; i < NN; i++)
            for (int j = 0; j < NN; j++)
                if (i != j) {
                    order[no][0] = i;
                    order[no][1] = j;
                    no++;
                }
        for (int k = no - 1; k > 0; k--) {
            int m = (int)txt_below(&rng, (uint64_t)k + 1), t0 = order[k][0], t1 = order[k][1];

            order[k][0] = order[m][0];
            order[k][1] = order[m][1];
            order[m][0] = t0;
            order[m][1] = t1;
        }
        for (int k = 0; k < no; k++, exchanges++)
            got += carry(&n[order[k][0]], &n[order[k][1]], (int)txt_below(&rng, 2), tmp);
        if (got == 0)
            break;
    }
    assert_true(pass < 10);

    txn_digests(n[0].s, &d0);
    for (int i = 0; i < NN; i++) {
        struct txn_digests d;
        struct node_stats st = txn_stats(n[i].s);

        txn_digests(n[i].s, &d);
        if (!txn_digests_equal(&d, &d0))
            fail_msg("node %d differs from node 0 (seed %llu)", i, (unsigned long long)g_seed);
        assert_int_equal(st.held, 0);
        assert_int_equal(st.frozen, 0);
        assert_int_equal(st.envelopes, writes + 1);
        txn_assert_verify(n[i].s);
    }
    print_message("bundles: %d nodes, %d rounds, seed %llu, digests equal (%llu writes, %llu "
                  "bundles)\n",
                  NN, rounds, (unsigned long long)g_seed, (unsigned long long)writes,
                  (unsigned long long)exchanges);

    for (int i = 0; i < NN; i++)
        nd_close(&n[i]);
    txn_rmrf(tmp);
    txt_assert_no_leak();
}

/* ---- damaged bundles ---- */

static void expect_refused(struct nd *b, const char *path, const uint8_t *bytes, size_t len,
                           const struct txn_digests *before, uint64_t envelopes, const char *what,
                           size_t where)
{
    struct node_bundle_report rep;
    struct txn_digests now;
    struct node_stats st;
    int rc;

    txn_write_file(path, bytes, len);
    rc = node_bundle_import(b->s, path, &rep);
    if (!bundle_error(rc))
        fail_msg("%s at %zu of a bundle: import returned %s", what, where, tx_errname(rc));
    txn_digests(b->s, &now);
    if (!txn_digests_equal(&now, before))
        fail_msg("%s at %zu: the store changed", what, where);
    st = txn_stats(b->s);
    assert_int_equal(st.envelopes, envelopes);
    assert_int_equal(st.held, 0);
}

static void test_bundle_damaged(void **state)
{
    struct txt_rng rng = {g_seed ^ 0x7472756e63617465ull};
    struct nd a, b;
    char general[CRDT_MAX_SCOPE + 1], small[TXN_PATH], big[TXN_PATH], cut[TXN_PATH];
    uint8_t *sb, *bb, *m;
    size_t sl, bl;
    uint64_t count, env0;
    struct txn_digests d0, da;
    struct node_bundle_report rep;
    struct node_change ch[200];
    size_t sizes[200];
    char vals[200][16];
    (void)state;

    txt_alloc_install();
    nd_new(&a, "dmg-a");
    nd_new(&b, "dmg-b");
    txn_general(a.s, general);
    txn_put(a.s, general, "case", "r1", "name", "one");
    txn_put(a.s, PUB, "case", "r2", "name", "two");
    txn_put(a.s, general, "case", "r1", "name", "three");
    txn_put(b.s, PUB, "case", "b1", "name", "b's own");
    txn_path(small, sizeof(small), a.dir, "small.bundle");
    txn_path(big, sizeof(big), a.dir, "big.bundle");
    txn_path(cut, sizeof(cut), b.dir, "damaged.bundle");
    assert_int_equal(node_bundle_export(a.s, small, NULL, &count), TX_OK);
    assert_int_equal(count, 3);
    sb = txn_read_file(small, &sl);
    txn_digests(b.s, &d0);
    env0 = txn_stats(b.s).envelopes;

    /* Every truncation point. */
    for (size_t l = 0; l < sl; l++)
        expect_refused(&b, cut, sb, l, &d0, env0, "cut", l);
    /* Every byte changed. */
    m = malloc(sl);
    assert_non_null(m);
    for (size_t i = 0; i < sl; i++) {
        memcpy(m, sb, sl);
        m[i] ^= (uint8_t)(1 + txt_below(&rng, 255));
        expect_refused(&b, cut, m, sl, &d0, env0, "byte changed", i);
    }
    /* A byte appended. */
    memcpy(m, sb, sl);
    m = realloc(m, sl + 1);
    assert_non_null(m);
    m[sl] = 0;
    expect_refused(&b, cut, m, sl + 1, &d0, env0, "byte appended", sl);
    free(m);

    /* A bigger bundle: random cuts and changes. */
    for (int i = 0; i < 200; i++) {
        snprintf(vals[i], sizeof(vals[i]), "v%d", i);
        ch[i] = txn_ch_str("case", i % 2 ? "r1" : "r3", "name", vals[i]);
        sizes[i] = 1;
    }
    assert_int_equal(node_write_batch(a.s, general, ch, sizes, 200, NULL), TX_OK);
    assert_int_equal(node_write_batch(a.s, PUB, ch, sizes, 200, NULL), TX_OK);
    assert_int_equal(node_bundle_export(a.s, big, NULL, &count), TX_OK);
    assert_int_equal(count, 403);
    bb = txn_read_file(big, &bl);
    m = malloc(bl);
    assert_non_null(m);
    for (int k = 0; k < 40; k++) {
        size_t at = txt_below(&rng, bl);

        expect_refused(&b, cut, bb, at, &d0, env0, "cut", at);
        memcpy(m, bb, bl);
        m[at] ^= (uint8_t)(1 + txt_below(&rng, 255));
        expect_refused(&b, cut, m, bl, &d0, env0, "byte changed", at);
    }
    free(m);

    /* The intact bundles do import (so the refusals above were not vacuous). */
    assert_int_equal(node_bundle_import(b.s, small, &rep), TX_OK);
    assert_int_equal(rep.envelopes, 3);
    assert_int_equal(rep.ingest.accepted, 3);
    assert_int_equal(node_bundle_import(b.s, big, &rep), TX_OK);
    assert_int_equal(rep.envelopes, 403);
    assert_int_equal(rep.ingest.accepted, 400);
    assert_int_equal(rep.ingest.duplicate, 3);
    assert_int_equal(txn_stats(b.s).envelopes, env0 + 403);
    txn_digests(b.s, &d0);
    txn_digests(a.s, &da);
    assert_memory_not_equal(d0.log, da.log, CRDT_HASH_BYTES); /* b has its own too */
    txn_assert_verify(b.s);

    free(sb);
    free(bb);
    nd_close(&a);
    nd_close(&b);
    txt_assert_no_leak();
}

/* ---- a node that cannot read the scope ---- */

struct key_seen {
    const char *scope;
    int seen, readable;
};

static int key_cb(const struct node_key_info *k, void *ctx)
{
    struct key_seen *ks = ctx;

    if (strcmp(k->scope, ks->scope) == 0) {
        ks->seen++;
        ks->readable = k->readable;
    }
    return 0;
}

static int count_cb(const struct node_record *r, void *ctx)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static void test_bundle_unreadable(void **state)
{
    struct nd a, d, e;
    char general[CRDT_MAX_SCOPE + 1], path[TXN_PATH], got[64], scope[CRDT_MAX_SCOPE + 1];
    struct node_bundle_report rep;
    struct txn_digests da, dd, de;
    struct key_seen ks;
    uint64_t count;
    uint8_t *blob = NULL;
    size_t blen = 0;
    int nrec = 0;
    (void)state;

    txt_alloc_install();
    nd_new(&a, "unr-a");
    nd_new(&d, "unr-d");
    nd_new(&e, "unr-e");
    txn_general(a.s, general);
    for (int i = 0; i < 5; i++) {
        char v[16];

        snprintf(v, sizeof(v), "secret%d", i);
        txn_put(a.s, general, "case", i % 2 ? "r1" : "r2", "name", v);
    }
    txn_put(a.s, PUB, "notice", "n1", "text", "open to all");
    txn_path(path, sizeof(path), a.dir, "a.bundle");
    assert_int_equal(node_bundle_export(a.s, path, NULL, &count), TX_OK);
    assert_int_equal(count, 6);

    /* d stores everything, reads only the public record. */
    assert_int_equal(node_bundle_import(d.s, path, &rep), TX_OK);
    if (rep.ingest.accepted != 6 || rep.ingest.unreadable != 5 || rep.ingest.rejected)
        print_bundle_rep("unreadable import", &rep);
    assert_int_equal(rep.envelopes, 6);
    assert_int_equal(rep.ingest.accepted, 6);
    assert_int_equal(rep.ingest.unreadable, 5);
    assert_int_equal(rep.ingest.rejected, 0);
    assert_int_equal(rep.ingest.held, 0);
    assert_int_equal(txn_get_str(d.s, general, "case", "r1", "name", got, sizeof(got)),
                     TX_ENOTFOUND);
    assert_int_equal(txn_get_str(d.s, NULL, "case", "r2", "name", got, sizeof(got)), TX_ENOTFOUND);
    assert_int_equal(txn_get_str(d.s, PUB, "notice", "n1", "text", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "open to all");
    assert_int_equal(node_records_each(d.s, "case", count_cb, &nrec), TX_OK);
    assert_int_equal(nrec, 0);
    ks.scope = general;
    ks.seen = ks.readable = 0;
    assert_int_equal(node_keys_each(d.s, key_cb, &ks), TX_OK);
    assert_int_equal(ks.seen, 1);
    assert_int_equal(ks.readable, 0);
    txn_digests(a.s, &da);
    txn_digests(d.s, &dd);
    assert_memory_equal(da.log, dd.log, CRDT_HASH_BYTES);
    assert_memory_not_equal(da.state, dd.state, CRDT_HASH_BYTES);
    txn_assert_verify(d.s);

    /* d relays what it cannot read. */
    txn_path(path, sizeof(path), d.dir, "relay.bundle");
    assert_int_equal(node_bundle_export(d.s, path, e.id, &count), TX_OK);
    assert_int_equal(count, 6);
    assert_int_equal(node_bundle_import(e.s, path, &rep), TX_OK);
    assert_int_equal(rep.ingest.accepted, 6);
    txn_digests(e.s, &de);
    assert_memory_equal(da.log, de.log, CRDT_HASH_BYTES);

    /* A key wrapped for d opens only at d. */
    assert_int_equal(node_key_wrap(a.s, general, d.id, &blob, &blen), TX_OK);
    assert_int_equal(node_key_import(e.s, blob, blen, NULL), TX_ENOKEY);
    assert_int_equal(node_key_import(d.s, blob, blen, scope), TX_OK);
    assert_string_equal(scope, general);
    assert_int_equal(node_key_import(d.s, blob, blen, NULL), TX_EEXIST);
    tx_free(blob);

    /* The scope is rebuilt from the stored log: the records appear. */
    assert_int_equal(txn_get_str(d.s, general, "case", "r1", "name", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "secret3");
    assert_int_equal(txn_get_str(d.s, NULL, "case", "r2", "name", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "secret4");
    ks.seen = ks.readable = 0;
    assert_int_equal(node_keys_each(d.s, key_cb, &ks), TX_OK);
    assert_int_equal(ks.readable, 1);
    txn_digests(d.s, &dd);
    txn_assert_digests_equal(&dd, &da);
    /* And after a restart. */
    txn_reopen(&d.s, d.dir);
    txn_digests(d.s, &dd);
    txn_assert_digests_equal(&dd, &da);
    txn_assert_verify(d.s);

    /* New envelopes of the scope are readable on arrival now. */
    txn_put(a.s, general, "case", "r1", "name", "later");
    txn_path(path, sizeof(path), a.dir, "a2.bundle");
    assert_int_equal(node_bundle_export(a.s, path, d.id, &count), TX_OK);
    assert_int_equal(node_bundle_import(d.s, path, &rep), TX_OK);
    assert_int_equal(rep.ingest.accepted, 1);
    assert_int_equal(rep.ingest.unreadable, 0);
    assert_int_equal(txn_get_str(d.s, general, "case", "r1", "name", got, sizeof(got)), TX_OK);
    assert_string_equal(got, "later");
    txn_digests(a.s, &da);
    txn_digests(d.s, &dd);
    txn_assert_digests_equal(&dd, &da);

    nd_close(&a);
    nd_close(&d);
    nd_close(&e);
    txt_assert_no_leak();
}

/* ---- export --for: only what the peer lacks ---- */

static void test_bundle_for_peer(void **state)
{
    struct nd a, b;
    char path[TXN_PATH];
    uint64_t count;
    struct node_bundle_report rep;
    (void)state;

    txt_alloc_install();
    nd_new(&a, "for-a");
    nd_new(&b, "for-b");
    for (int i = 0; i < 3; i++)
        txn_put(a.s, PUB, "case", "a", "name", names[i]);
    for (int i = 0; i < 2; i++)
        txn_put(b.s, PUB, "case", "b", "name", names[i]);
    txn_path(path, sizeof(path), a.dir, "x.bundle");
    /* Nothing known about the peer yet: everything. */
    assert_int_equal(node_bundle_export(b.s, path, a.id, &count), TX_OK);
    assert_int_equal(count, 2);
    assert_int_equal(node_bundle_export(a.s, path, NULL, &count), TX_OK);
    assert_int_equal(node_bundle_import(b.s, path, &rep), TX_OK);
    assert_int_equal(rep.ingest.accepted, 3);
    /* b now knows a holds a's three envelopes. */
    assert_int_equal(node_bundle_export(b.s, path, a.id, &count), TX_OK);
    assert_int_equal(count, 2);
    assert_int_equal(node_bundle_export(b.s, path, NULL, &count), TX_OK);
    assert_int_equal(count, 5);
    assert_int_equal(node_bundle_export(b.s, path, a.id, &count), TX_OK);
    assert_int_equal(node_bundle_import(a.s, path, &rep), TX_OK);
    assert_int_equal(rep.envelopes, 2);
    assert_int_equal(rep.ingest.accepted, 2);
    assert_int_equal(rep.ingest.duplicate, 0);
    /* a knows b holds all five: nothing left to send. */
    assert_int_equal(node_bundle_export(a.s, path, b.id, &count), TX_OK);
    assert_int_equal(count, 0);
    assert_int_equal(node_bundle_import(b.s, path, &rep), TX_OK);
    assert_int_equal(rep.envelopes, 0);
    unlink(path);
    assert_int_equal(node_bundle_import(b.s, path, &rep), TX_ENOTFOUND);
    {
        struct txn_digests da, db;

        txn_digests(a.s, &da);
        txn_digests(b.s, &db);
        txn_assert_digests_equal(&da, &db);
    }

    nd_close(&a);
    nd_close(&b);
    txt_assert_no_leak();
}

/* ---- equivocation evidence travels in bundles ---- */

static void test_bundle_carries_evidence(void **state)
{
    struct nd a, b, c;
    char path[TXN_PATH];
    uint8_t pk[CRDT_KEY_BYTES], sk[crypto_sign_SECRETKEYBYTES], h1[CRDT_HASH_BYTES];
    struct crdt_op op = txn_op_lww("case", "a", "name", "evil twin");
    struct txn_envs ea = {0};
    struct node_ingest_report irep;
    struct node_bundle_report rep;
    struct node_origin_info oi;
    uint64_t count;
    uint8_t *alt;
    size_t alen;
    (void)state;

    txt_alloc_install();
    nd_new(&a, "ev-a");
    nd_new(&b, "ev-b");
    nd_new(&c, "ev-c");
    txn_put(a.s, PUB, "case", "a", "name", "one");
    txn_put(a.s, PUB, "case", "a", "name", "two");
    txn_envs_collect(a.s, a.id, &ea);
    txn_load_keypair(a.dir, pk, sk);
    txn_env_hash(ea.b[0], ea.len[0], h1);
    alt = txn_env_build(sk, 2, h1, CRDT_HLC_MAKE(txn_now_ms(), 9), NULL, 0, &op, 1, &alen);
    assert_int_equal(txn_ingest_idx(b.s, &ea, NULL, ea.n, &irep), TX_OK);
    assert_int_equal(irep.accepted, 2);
    assert_int_equal(txn_ingest_one(b.s, alt, alen, &irep), TX_OK);
    assert_int_equal(irep.equivocations, 1);
    assert_int_equal(txn_stats(b.s).evidence, 1);

    /* b's bundle carries the evidence; c, which never saw a, freezes a too. */
    txn_path(path, sizeof(path), b.dir, "ev.bundle");
    assert_int_equal(node_bundle_export(b.s, path, NULL, &count), TX_OK);
    assert_int_equal(count, 2);
    assert_int_equal(node_bundle_import(c.s, path, &rep), TX_OK);
    assert_int_equal(rep.envelopes, 3);
    assert_int_equal(rep.ingest.equivocations, 1);
    assert_true(txn_origin(c.s, a.id, &oi));
    assert_true(oi.flags & NODE_ORIGIN_FROZEN);
    assert_int_equal(txn_stats(c.s).frozen, 1);
    assert_true(txn_stats(c.s).evidence >= 1);
    txn_assert_verify(c.s);
    /* And a node that already holds a's envelopes freezes it on the evidence. */
    nd_close(&c);
    nd_new(&c, "ev-c2");
    assert_int_equal(txn_ingest_idx(c.s, &ea, NULL, ea.n, &irep), TX_OK);
    assert_int_equal(node_bundle_import(c.s, path, &rep), TX_OK);
    assert_int_equal(rep.ingest.equivocations, 1);
    assert_int_equal(rep.ingest.duplicate, 2);
    assert_true(txn_origin(c.s, a.id, &oi));
    assert_true(oi.flags & NODE_ORIGIN_FROZEN);
    txn_assert_verify(c.s);

    free(alt);
    sodium_memzero(sk, sizeof(sk));
    txn_envs_free(&ea);
    nd_close(&a);
    nd_close(&b);
    nd_close(&c);
    txt_assert_no_leak();
}

/* ---- a bundle in reverse order, over several import batches ---- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Write a bundle (format of node/bundle.c's header comment) holding the
 * envelopes of v in the order of idx, with a correct checksum. */
static void craft_bundle(const char *path, const uint8_t exporter[CRDT_KEY_BYTES],
                         const struct txn_envs *v, const size_t *idx, size_t n)
{
    struct tx_mpw w;
    crypto_generichash_state h;
    uint8_t pre[14], lb[4], sum[CRDT_HASH_BYTES];
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    tx_mpw_init(&w, 1 << 20);
    tx_mpw_array(&w, 5);
    tx_mpw_bin(&w, exporter, CRDT_KEY_BYTES);
    tx_mpw_uint(&w, txn_now_ms());
    tx_mpw_array(&w, 0);
    tx_mpw_uint(&w, n);
    tx_mpw_uint(&w, 0);
    assert_int_equal(tx_mpw_finish(&w), TX_OK);
    memcpy(pre, "TXBUNDLE", 8);
    pre[8] = 1;
    pre[9] = 0;
    put32(pre + 10, (uint32_t)w.len);
    crypto_generichash_init(&h, NULL, 0, CRDT_HASH_BYTES);
    assert_int_equal(fwrite(pre, 1, sizeof(pre), f), sizeof(pre));
    crypto_generichash_update(&h, pre, sizeof(pre));
    assert_int_equal(fwrite(w.buf, 1, w.len, f), w.len);
    crypto_generichash_update(&h, w.buf, w.len);
    tx_mpw_release(&w);
    for (size_t i = 0; i < n; i++) {
        put32(lb, (uint32_t)v->len[idx[i]]);
        assert_int_equal(fwrite(lb, 1, 4, f), 4);
        crypto_generichash_update(&h, lb, 4);
        assert_int_equal(fwrite(v->b[idx[i]], 1, v->len[idx[i]], f), v->len[idx[i]]);
        crypto_generichash_update(&h, v->b[idx[i]], v->len[idx[i]]);
    }
    crypto_generichash_final(&h, sum, sizeof(sum));
    assert_int_equal(fwrite("TXEND\0\0\0", 1, 8, f), 8);
    assert_int_equal(fwrite(sum, 1, sizeof(sum), f), sizeof(sum));
    assert_int_equal(fclose(f), 0);
}

static void test_bundle_reversed(void **state)
{
    struct nd a, b;
    char path[TXN_PATH];
    struct node_change ch[2500];
    size_t sizes[2500], *idx;
    char vals[2500][8];
    struct txn_envs ea = {0};
    struct node_bundle_report rep;
    struct txn_digests da, db;
    const size_t n = 2500;
    (void)state;

    txt_alloc_install();
    nd_new(&a, "rev-a");
    nd_new(&b, "rev-b");
    for (size_t i = 0; i < n; i++) {
        snprintf(vals[i], sizeof(vals[i]), "%zu", i);
        ch[i] = txn_ch_str("case", i % 3 ? "r1" : "r2", "name", vals[i]);
        sizes[i] = 1;
    }
    assert_int_equal(node_write_batch(a.s, PUB, ch, sizes, n, NULL), TX_OK);
    txn_envs_collect(a.s, a.id, &ea);
    assert_int_equal(ea.n, n);
    idx = malloc(n * sizeof(*idx));
    assert_non_null(idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = n - 1 - i;
    txn_path(path, sizeof(path), b.dir, "reversed.bundle");
    craft_bundle(path, a.id, &ea, idx, n);

    /* Three import batches: the first two wait, the last releases them all;
     * every envelope counts once, as accepted. */
    assert_int_equal(node_bundle_import(b.s, path, &rep), TX_OK);
    if (rep.ingest.accepted != n || rep.ingest.held || rep.ingest.rejected)
        print_bundle_rep("reversed", &rep);
    assert_int_equal(rep.envelopes, n);
    assert_int_equal(rep.ingest.accepted, n);
    assert_int_equal(rep.ingest.held, 0);
    assert_int_equal(rep.ingest.released, 0);
    assert_int_equal(rep.ingest.rejected, 0);
    assert_int_equal(txn_stats(b.s).held, 0);
    txn_digests(a.s, &da);
    txn_digests(b.s, &db);
    txn_assert_digests_equal(&db, &da);
    txn_assert_verify(b.s);

    free(idx);
    txn_envs_free(&ea);
    nd_close(&a);
    nd_close(&b);
    txt_assert_no_leak();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_convergence),      cmocka_unit_test(test_bundle_damaged),
        cmocka_unit_test(test_bundle_unreadable),       cmocka_unit_test(test_bundle_for_peer),
        cmocka_unit_test(test_bundle_carries_evidence), cmocka_unit_test(test_bundle_reversed),
    };

    txt_alloc_install();
    g_seed = txt_seed("TX_BUNDLE_SEED", "bundles");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
