/* test_kinds.c - the semantics of each field kind on a single record. */
#include "txtest.h"

static struct crdt_dot dot(uint8_t who, uint64_t seq, uint32_t idx)
{
    struct crdt_dot d;
    memset(&d, 0, sizeof(d));
    memset(d.origin, who, sizeof(d.origin));
    d.seq = seq;
    d.idx = idx;
    return d;
}

static struct crdt_op op(int code, const char *field, struct crdt_value v, struct crdt_dot *sup,
                         uint32_t nsup)
{
    struct crdt_op o;
    memset(&o, 0, sizeof(o));
    o.type = "case";
    o.type_len = 4;
    o.id = "c1";
    o.id_len = 2;
    o.field = field;
    o.field_len = (uint32_t)strlen(field);
    o.code = (uint8_t)code;
    o.value = v;
    o.sup = sup;
    o.nsup = nsup;
    return o;
}

static struct crdt_value str(const char *s)
{
    struct crdt_value v = {CRDT_STR, 0, s, (uint32_t)strlen(s)};
    return v;
}

static struct crdt_value num(int64_t i)
{
    struct crdt_value v = {CRDT_INT, i, NULL, 0};
    return v;
}

static void test_lww_conflict_and_resolve(void **state)
{
    struct crdt_record r;
    struct crdt_dot a = dot(1, 1, 0), b = dot(2, 1, 0), c = dot(1, 2, 0);
    struct crdt_op oa = op(CRDT_OP_LWW_SET, "assignee", str("wang"), NULL, 0);
    struct crdt_op ob = op(CRDT_OP_LWW_SET, "assignee", str("li"), NULL, 0);
    struct crdt_dot both[2];
    const struct crdt_field *f;
    const struct crdt_lww_entry *w;
    (void)state;
    crdt_record_init(&r);
    /* Two concurrent writes: both kept; the winner is by HLC. */
    assert_int_equal(crdt_record_apply(&r, &oa, &a, 100), TX_OK);
    assert_int_equal(crdt_record_apply(&r, &ob, &b, 90), TX_OK);
    f = crdt_record_field(&r, "assignee", 8, CRDT_LWW);
    assert_non_null(f);
    assert_int_equal(f->u.lww.n, 2);
    w = crdt_lww_winner(f);
    assert_memory_equal(w->v.s, "wang", 4);
    /* Equal HLC: the larger origin key wins. */
    {
        struct crdt_record r2;
        crdt_record_init(&r2);
        assert_int_equal(crdt_record_apply(&r2, &oa, &a, 100), TX_OK);
        assert_int_equal(crdt_record_apply(&r2, &ob, &b, 100), TX_OK);
        w = crdt_lww_winner(crdt_record_field(&r2, "assignee", 8, CRDT_LWW));
        assert_memory_equal(w->v.s, "li", 2);
        crdt_record_release(&r2);
    }
    /* A write that saw both replaces them: the conflict is resolved. */
    both[0] = a;
    both[1] = b;
    {
        struct crdt_op oc = op(CRDT_OP_LWW_SET, "assignee", str("zhao"), both, 2);
        assert_int_equal(crdt_record_apply(&r, &oc, &c, 110), TX_OK);
    }
    f = crdt_record_field(&r, "assignee", 8, CRDT_LWW);
    assert_int_equal(f->u.lww.n, 1);
    assert_memory_equal(crdt_lww_winner(f)->v.s, "zhao", 4);
    /* Re-applying an op already present is a no-op. */
    assert_int_equal(crdt_record_apply(&r, &oa, &a, 100), TX_OK);
    crdt_record_release(&r);
}

static void test_lww_partial_supersede(void **state)
{
    /* A write that saw only one of two concurrent values keeps the other. */
    struct crdt_record r;
    struct crdt_dot a = dot(1, 1, 0), b = dot(2, 1, 0), c = dot(3, 1, 0);
    struct crdt_op oa = op(CRDT_OP_LWW_SET, "topic", str("a"), NULL, 0);
    struct crdt_op ob = op(CRDT_OP_LWW_SET, "topic", str("b"), NULL, 0);
    struct crdt_op oc = op(CRDT_OP_LWW_SET, "topic", str("c"), &a, 1);
    const struct crdt_field *f;
    (void)state;
    crdt_record_init(&r);
    assert_int_equal(crdt_record_apply(&r, &oa, &a, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r, &ob, &b, 2), TX_OK);
    assert_int_equal(crdt_record_apply(&r, &oc, &c, 3), TX_OK);
    f = crdt_record_field(&r, "topic", 5, CRDT_LWW);
    assert_int_equal(f->u.lww.n, 2);
    assert_memory_equal(f->u.lww.e[0].v.s, "b", 1);
    assert_memory_equal(f->u.lww.e[1].v.s, "c", 1);
    crdt_record_release(&r);
}

static void test_counter(void **state)
{
    struct crdt_record r;
    struct crdt_op inc = op(CRDT_OP_CTR_ADD, "errands", num(5), NULL, 0);
    struct crdt_op dec = op(CRDT_OP_CTR_ADD, "errands", num(-2), NULL, 0);
    struct crdt_op big = op(CRDT_OP_CTR_ADD, "errands", num(INT64_MAX), NULL, 0);
    struct crdt_dot d1 = dot(1, 1, 0), d2 = dot(2, 1, 0), d3 = dot(3, 1, 0);
    const struct crdt_field *f;
    (void)state;
    crdt_record_init(&r);
    assert_int_equal(crdt_record_apply(&r, &inc, &d1, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r, &dec, &d2, 1), TX_OK);
    f = crdt_record_field(&r, "errands", 7, CRDT_COUNTER);
    assert_int_equal(f->u.counter, 3);
    /* Overflow wraps (commutes) rather than trapping or saturating. */
    assert_int_equal(crdt_record_apply(&r, &big, &d3, 1), TX_OK);
    f = crdt_record_field(&r, "errands", 7, CRDT_COUNTER);
    assert_true(f->u.counter == (int64_t)((uint64_t)INT64_MAX + 3));
    /* A counter op with a string is refused, record unchanged. */
    {
        struct crdt_op bad = op(CRDT_OP_CTR_ADD, "errands", str("x"), NULL, 0);
        struct crdt_dot d4 = dot(4, 1, 0);
        assert_int_equal(crdt_record_apply(&r, &bad, &d4, 1), TX_EKIND);
    }
    crdt_record_release(&r);
}

static void test_set_add_wins(void **state)
{
    struct crdt_record r;
    struct crdt_dot a1 = dot(1, 1, 0), a2 = dot(2, 1, 0), rm = dot(3, 2, 0);
    struct crdt_op add = op(CRDT_OP_SET_ADD, "needs", str("meals"), NULL, 0);
    /* The remove saw only a1; a2 was concurrent with it. */
    struct crdt_op del = op(CRDT_OP_SET_REM, "needs", str("meals"), &a1, 1);
    const struct crdt_field *f;
    (void)state;
    crdt_record_init(&r);
    assert_int_equal(crdt_record_apply(&r, &add, &a1, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r, &add, &a2, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r, &del, &rm, 2), TX_OK);
    f = crdt_record_field(&r, "needs", 5, CRDT_SET);
    assert_true(crdt_set_has(f, "meals", 5)); /* add wins */
    {
        struct crdt_op del2 = op(CRDT_OP_SET_REM, "needs", str("meals"), &a2, 1);
        struct crdt_dot rm2 = dot(3, 3, 0);
        assert_int_equal(crdt_record_apply(&r, &del2, &rm2, 3), TX_OK);
    }
    f = crdt_record_field(&r, "needs", 5, CRDT_SET);
    assert_false(crdt_set_has(f, "meals", 5));
    assert_int_equal(f->u.set.n, 0);
    crdt_record_release(&r);
}

static void test_status_rounds(void **state)
{
    /* open=0 assigned=1 in_progress=2 resolved=3 closed=4 */
    struct crdt_record r1, r2;
    struct crdt_op resolved = op(CRDT_OP_STATUS_SET, "status", num(3), NULL, 0);
    struct crdt_op reopen = op(CRDT_OP_STATUS_SET, "status", num(1 * 256 + 0), NULL, 0);
    struct crdt_op assigned = op(CRDT_OP_STATUS_SET, "status", num(1), NULL, 0);
    struct crdt_dot d1 = dot(1, 1, 0), d2 = dot(2, 1, 0), d3 = dot(3, 1, 0);
    (void)state;
    crdt_record_init(&r1);
    crdt_record_init(&r2);
    /* Concurrent "resolved" and "re-opened", in both orders: the re-open wins. */
    assert_int_equal(crdt_record_apply(&r1, &resolved, &d1, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r1, &reopen, &d2, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r2, &reopen, &d2, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r2, &resolved, &d1, 1), TX_OK);
    assert_true(crdt_record_field(&r1, "status", 6, CRDT_STATUS)->u.status == 256);
    assert_true(crdt_record_field(&r2, "status", 6, CRDT_STATUS)->u.status == 256);
    /* A late "assigned" of round 0 cannot move it backwards. */
    assert_int_equal(crdt_record_apply(&r1, &assigned, &d3, 1), TX_OK);
    assert_true(crdt_record_field(&r1, "status", 6, CRDT_STATUS)->u.status == 256);
    crdt_record_release(&r1);
    crdt_record_release(&r2);
}

static void test_kinds_side_by_side(void **state)
{
    /* Without a schema, ops of two kinds on one name do not interfere. */
    struct crdt_record r;
    struct crdt_op a = op(CRDT_OP_LWW_SET, "x", str("v"), NULL, 0);
    struct crdt_op b = op(CRDT_OP_CTR_ADD, "x", num(1), NULL, 0);
    struct crdt_dot d1 = dot(1, 1, 0), d2 = dot(1, 1, 1);
    (void)state;
    crdt_record_init(&r);
    assert_int_equal(crdt_record_apply(&r, &a, &d1, 1), TX_OK);
    assert_int_equal(crdt_record_apply(&r, &b, &d2, 1), TX_OK);
    assert_int_equal(r.n, 2);
    assert_non_null(crdt_record_field(&r, "x", 1, CRDT_LWW));
    assert_non_null(crdt_record_field(&r, "x", 1, CRDT_COUNTER));
    assert_null(crdt_record_field(&r, "x", 1, CRDT_SET));
    crdt_record_release(&r);
}

static void test_alloc_failure(void **state)
{
    /* Fail each allocation in turn: apply reports ENOMEM and leaks nothing. */
    struct crdt_dot a = dot(1, 1, 0), b = dot(1, 2, 0);
    struct crdt_op o1 = op(CRDT_OP_SET_ADD, "tags", str("elderly"), NULL, 0);
    struct crdt_op o2 = op(CRDT_OP_LWW_SET, "note", str("visited"), NULL, 0);
    (void)state;
    for (uint64_t n = 1; n < 20; n++) {
        struct crdt_record r;
        int e1, e2;

        txt_alloc_install();
        txt_a.fail_at = n;
        crdt_record_init(&r);
        e1 = crdt_record_apply(&r, &o1, &a, 1);
        e2 = crdt_record_apply(&r, &o2, &b, 2);
        assert_true(e1 == TX_OK || e1 == TX_ENOMEM);
        assert_true(e2 == TX_OK || e2 == TX_ENOMEM);
        if (e1 == TX_ENOMEM)
            assert_null(crdt_record_field(&r, "tags", 4, CRDT_SET));
        crdt_record_release(&r);
        txt_assert_no_leak();
        txt_alloc_done();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lww_conflict_and_resolve),
        cmocka_unit_test(test_lww_partial_supersede),
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_set_add_wins),
        cmocka_unit_test(test_status_rounds),
        cmocka_unit_test(test_kinds_side_by_side),
        cmocka_unit_test(test_alloc_failure),
    };
    txt_alloc_install();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
