/*
 * test_convergence.c - the randomised convergence harness.
 *
 * Each history: 3..7 replicas write random ops of every kind on a few records,
 * receiving some of each other's envelopes in between (so writes supersede
 * values from other origins and carry real dependencies). Then every replica
 * receives every envelope in a random order with duplicates; early envelopes are
 * held until their dependencies arrive. Every replica must end with nothing held,
 * identical digests and identical conflict sets.
 *
 * TX_CONVERGENCE_SEED replays a run; TX_CONVERGENCE_HISTORIES sets how many.
 */
#include "txtest.h"

#define MAXR   7
#define MAXENV 512

struct env {
    uint8_t origin[CRDT_KEY_BYTES];
    uint64_t seq, hlc;
    struct crdt_dep deps[MAXR];
    uint32_t ndeps;
    uint8_t *body;
    size_t len;
};

struct hist {
    struct txt_rng rng;
    int nrep;
    struct crdt_replica *rep[MAXR];
    uint8_t key[MAXR][CRDT_KEY_BYTES];
    uint64_t seq[MAXR];
    struct crdt_hlc clock[MAXR];
    struct env env[MAXENV];
    int nenv;
};

static const char *const ids[] = {"r1", "r2", "r3"};
static const char *const elems[] = {"x", "y", "z"};
static const char *const strs[] = {"wang", "li", "zhao", "阳光城"};

static void collect_dots(const struct crdt_field *f, const char *elem, struct crdt_dot *out,
                         uint32_t *n)
{
    *n = 0;
    if (!f)
        return;
    if (f->kind == CRDT_LWW) {
        for (uint32_t i = 0; i < f->u.lww.n && *n < CRDT_MAX_SUP; i++)
            out[(*n)++] = f->u.lww.e[i].dot;
    } else if (f->kind == CRDT_SET) {
        for (uint32_t i = 0; i < f->u.set.n; i++)
            if (strcmp(f->u.set.e[i].s, elem) == 0)
                for (uint32_t k = 0; k < f->u.set.e[i].ndots && *n < CRDT_MAX_SUP; k++)
                    out[(*n)++] = f->u.set.e[i].dots[k];
    }
}

/* Replica r performs one local write of 1..3 ops on distinct fields. */
static void local_write(struct hist *h, int r)
{
    struct crdt_op ops[3];
    struct crdt_dot sup[3][CRDT_MAX_SUP], all[3 * CRDT_MAX_SUP];
    uint32_t nall = 0;
    struct crdt_body b;
    struct tx_mpw w;
    struct env *e;
    int nops = 1 + (int)txt_below(&h->rng, 3);
    const char *id = ids[txt_below(&h->rng, 3)];
    static const char *const fields[] = {"a", "b", "n", "s", "st"};
    int first = (int)txt_below(&h->rng, 5);
    int rc;

    if (h->nenv >= MAXENV)
        return;
    memset(ops, 0, sizeof(ops));
    for (int i = 0; i < nops; i++) {
        const char *field = fields[(first + i) % 5];
        const struct crdt_record *rec = crdt_replica_get(h->rep[r], "general:test", "rec", id);
        struct crdt_op *o = &ops[i];
        const char *el = elems[txt_below(&h->rng, 3)];

        o->type = "rec";
        o->type_len = 3;
        o->id = id;
        o->id_len = (uint32_t)strlen(id);
        o->field = field;
        o->field_len = (uint32_t)strlen(field);
        o->sup = sup[i];
        if (field[0] == 'a' || field[0] == 'b') {
            uint64_t pick = txt_below(&h->rng, 6);
            o->code = CRDT_OP_LWW_SET;
            if (pick < 4) {
                o->value.type = CRDT_STR;
                o->value.s = strs[pick];
                o->value.len = (uint32_t)strlen(strs[pick]);
            } else if (pick == 4) {
                o->value.type = CRDT_INT;
                o->value.i = (int64_t)txt_below(&h->rng, 100) - 50;
            } else {
                o->value.type = CRDT_NIL;
            }
            collect_dots(rec ? crdt_record_field(rec, field, 1, CRDT_LWW) : NULL, NULL, sup[i],
                         &o->nsup);
        } else if (field[0] == 'n') {
            o->code = CRDT_OP_CTR_ADD;
            o->value.type = CRDT_INT;
            o->value.i = (int64_t)txt_below(&h->rng, 11) - 5;
        } else if (strcmp(field, "s") == 0) {
            o->code = txt_below(&h->rng, 3) ? CRDT_OP_SET_ADD : CRDT_OP_SET_REM;
            o->value.type = CRDT_STR;
            o->value.s = el;
            o->value.len = 1;
            collect_dots(rec ? crdt_record_field(rec, "s", 1, CRDT_SET) : NULL, el, sup[i],
                         &o->nsup);
            /* Sometimes an add does not compact the dots it saw. */
            if (o->code == CRDT_OP_SET_ADD && txt_below(&h->rng, 2))
                o->nsup = 0;
        } else {
            const struct crdt_field *f = rec ? crdt_record_field(rec, "st", 2, CRDT_STATUS) : NULL;
            uint64_t cur = f ? f->u.status : 0;
            o->code = CRDT_OP_STATUS_SET;
            o->value.type = CRDT_INT;
            if (txt_below(&h->rng, 4) == 0)
                o->value.i = (int64_t)((cur / 256 + 1) * 256); /* re-open */
            else
                o->value.i = (int64_t)(cur / 256 * 256 + txt_below(&h->rng, 5));
        }
        for (uint32_t k = 0; k < o->nsup; k++)
            all[nall++] = sup[i][k];
    }
    b.ops = ops;
    b.nops = (uint32_t)nops;
    e = &h->env[h->nenv];
    memcpy(e->origin, h->key[r], CRDT_KEY_BYTES);
    e->seq = ++h->seq[r];
    assert_int_equal(crdt_hlc_now(&h->clock[r], 1000000 + (uint64_t)h->nenv, &e->hlc), TX_OK);
    assert_int_equal(crdt_deps_from_dots(h->key[r], all, nall, e->deps, &e->ndeps), TX_OK);
    tx_mpw_init(&w, 1 << 16);
    assert_int_equal(crdt_body_encode(&b, &w), TX_OK);
    e->body = tx_mpw_take(&w, &e->len);
    h->nenv++;
    rc = crdt_replica_deliver(h->rep[r], e->origin, e->seq, e->hlc, e->deps, e->ndeps,
                              "general:test", e->body, e->len);
    assert_int_equal(rc, TX_OK);
}

static void deliver(struct hist *h, int r, const struct env *e)
{
    int rc = crdt_replica_deliver(h->rep[r], e->origin, e->seq, e->hlc, e->deps, e->ndeps,
                                  "general:test", e->body, e->len);
    assert_true(rc == TX_OK || rc == TX_EDUP || rc == TX_EHELD);
    if (rc == TX_OK)
        crdt_hlc_recv(&h->clock[r], 2000000, e->hlc);
}

static int run_history(uint64_t seed, int *nrep_out)
{
    struct hist *h = calloc(1, sizeof(*h));
    uint8_t d0[CRDT_HASH_BYTES], d[CRDT_HASH_BYTES];
    char *c0 = NULL, *c;
    size_t c0len = 0, clen;
    int steps, order[MAXENV * 2], n;

    h->rng.s = seed;
    h->nrep = 3 + (int)txt_below(&h->rng, 5);
    *nrep_out = h->nrep;
    for (int r = 0; r < h->nrep; r++) {
        h->rep[r] = crdt_replica_new();
        for (int k = 0; k < CRDT_KEY_BYTES; k++)
            h->key[r][k] = (uint8_t)txt_next(&h->rng);
        crdt_hlc_init(&h->clock[r], 0, CRDT_HLC_DEFAULT_SKEW_MS);
    }
    /* Phase 1: interleaved local writes and partial gossip. */
    steps = 10 + (int)txt_below(&h->rng, 40);
    for (int s = 0; s < steps; s++) {
        int r = (int)txt_below(&h->rng, (uint64_t)h->nrep);
        if (h->nenv == 0 || txt_below(&h->rng, 2))
            local_write(h, r);
        else
            deliver(h, r, &h->env[txt_below(&h->rng, (uint64_t)h->nenv)]);
    }
    /* Phase 2: everyone receives everything, shuffled, with duplicates. */
    for (int r = 0; r < h->nrep; r++) {
        n = 0;
        for (int i = 0; i < h->nenv; i++) {
            order[n++] = i;
            if (txt_below(&h->rng, 4) == 0)
                order[n++] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = (int)txt_below(&h->rng, (uint64_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < n; i++)
            deliver(h, r, &h->env[order[i]]);
        assert_int_equal(crdt_replica_held(h->rep[r]), 0);
        assert_int_equal(crdt_replica_digest(h->rep[r], d), TX_OK);
        assert_int_equal(crdt_replica_conflicts(h->rep[r], &c, &clen), TX_OK);
        if (r == 0) {
            memcpy(d0, d, sizeof(d));
            c0 = c;
            c0len = clen;
        } else {
            if (memcmp(d0, d, sizeof(d)) != 0) {
                printf("convergence: digests differ, seed %llu, replica %d\n",
                       (unsigned long long)seed, r);
                fail();
            }
            assert_int_equal(clen, c0len);
            assert_memory_equal(c, c0, clen);
            tx_free(c);
        }
    }
    /* The digest notices a missing envelope: a replica without the last one
     * differs (unless that envelope changed nothing visible, e.g. +0). */
    {
        struct crdt_replica *x = crdt_replica_new();
        for (int i = 0; i < h->nenv - 1; i++)
            crdt_replica_deliver(x, h->env[i].origin, h->env[i].seq, h->env[i].hlc, h->env[i].deps,
                                 h->env[i].ndeps, "general:test", h->env[i].body, h->env[i].len);
        crdt_replica_digest(x, d);
        crdt_replica_free(x);
        n = memcmp(d, d0, sizeof(d)) != 0;
    }
    tx_free(c0);
    for (int r = 0; r < h->nrep; r++)
        crdt_replica_free(h->rep[r]);
    for (int i = 0; i < h->nenv; i++)
        tx_free(h->env[i].body);
    free(h);
    return n;
}

static void test_convergence(void **state)
{
    uint64_t seed = txt_seed("TX_CONVERGENCE_SEED", "convergence");
    const char *hs = getenv("TX_CONVERGENCE_HISTORIES");
    long histories = hs ? strtol(hs, NULL, 10) : 10000;
    struct txt_rng master = {seed};
    int maxrep = 0, sensitive = 0;
    (void)state;
    if (histories <= 0)
        histories = 10000;
    for (long i = 0; i < histories; i++) {
        uint64_t hseed = txt_next(&master);
        int nrep;
        /* Print the per-history seed on failure via the assert message path. */
        sensitive += run_history(hseed, &nrep);
        if (nrep > maxrep)
            maxrep = nrep;
    }
    /* Most histories' last envelope changes the state; if the digest never
     * noticed a missing envelope, it would be insensitive. */
    assert_true(sensitive > histories / 2);
    printf("convergence: %ld histories, %d replicas max, seed %llu, all digests equal\n", histories,
           maxrep, (unsigned long long)seed);
}

static void test_noncausal_held(void **state)
{
    /* B's write supersedes A's value; delivering B's envelope first must hold it,
     * not apply it against a state without A's value. */
    struct crdt_replica *r = crdt_replica_new();
    uint8_t a[CRDT_KEY_BYTES], bkey[CRDT_KEY_BYTES];
    struct crdt_op oa, ob;
    struct crdt_dot da;
    struct crdt_dep dep;
    struct crdt_body b;
    struct tx_mpw wa, wb;
    const struct crdt_record *rec;
    const struct crdt_field *f;
    (void)state;
    memset(a, 1, sizeof(a));
    memset(bkey, 2, sizeof(bkey));
    memset(&oa, 0, sizeof(oa));
    oa.type = "case";
    oa.type_len = 4;
    oa.id = "c";
    oa.id_len = 1;
    oa.field = "f";
    oa.field_len = 1;
    oa.code = CRDT_OP_LWW_SET;
    oa.value.type = CRDT_STR;
    oa.value.s = "old";
    oa.value.len = 3;
    ob = oa;
    ob.value.s = "new";
    memcpy(da.origin, a, sizeof(a));
    da.seq = 1;
    da.idx = 0;
    ob.sup = &da;
    ob.nsup = 1;
    memcpy(dep.origin, a, sizeof(a));
    dep.seq = 1;
    b.ops = &oa;
    b.nops = 1;
    tx_mpw_init(&wa, 4096);
    assert_int_equal(crdt_body_encode(&b, &wa), TX_OK);
    b.ops = &ob;
    tx_mpw_init(&wb, 4096);
    assert_int_equal(crdt_body_encode(&b, &wb), TX_OK);
    /* B first: held. */
    assert_int_equal(crdt_replica_deliver(r, bkey, 1, 20, &dep, 1, "general:t", wb.buf, wb.len),
                     TX_EHELD);
    assert_int_equal(crdt_replica_held(r), 1);
    assert_null(crdt_replica_get(r, "general:t", "case", "c"));
    /* Then A: both apply, B's value replaces A's (no false conflict). */
    assert_int_equal(crdt_replica_deliver(r, a, 1, 10, NULL, 0, "general:t", wa.buf, wa.len),
                     TX_OK);
    assert_int_equal(crdt_replica_held(r), 0);
    rec = crdt_replica_get(r, "general:t", "case", "c");
    f = crdt_record_field(rec, "f", 1, CRDT_LWW);
    assert_int_equal(f->u.lww.n, 1);
    assert_memory_equal(f->u.lww.e[0].v.s, "new", 3);
    /* A body that supersedes a dot its header does not depend on is refused
     * (TX_EBODY): its ops are not applied, whatever the delivery order. */
    {
        struct crdt_replica *r2 = crdt_replica_new();
        uint8_t c[CRDT_KEY_BYTES];
        memset(c, 3, sizeof(c));
        assert_int_equal(crdt_replica_deliver(r2, c, 1, 30, NULL, 0, "general:t", wb.buf, wb.len),
                         TX_EBODY);
        assert_null(crdt_replica_get(r2, "general:t", "case", "c"));
        crdt_replica_free(r2);
    }
    /* Sequence gap: seq 2 before seq 1 is held. */
    assert_int_equal(crdt_replica_deliver(r, a, 3, 40, NULL, 0, "general:t", wa.buf, wa.len),
                     TX_EHELD);
    assert_int_equal(crdt_replica_deliver(r, a, 1, 10, NULL, 0, "general:t", wa.buf, wa.len),
                     TX_EDUP);
    tx_mpw_release(&wa);
    tx_mpw_release(&wb);
    crdt_replica_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noncausal_held),
        cmocka_unit_test(test_convergence),
    };
    txt_alloc_install();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
