/* test_hlc.c - the hybrid logical clock: monotonic, skew refused, overflow carried. */
#include "txtest.h"

static void test_monotonic(void **state)
{
    struct crdt_hlc h;
    uint64_t prev = 0, t;
    (void)state;
    crdt_hlc_init(&h, 0, CRDT_HLC_DEFAULT_SKEW_MS);
    /* Wall clock that stalls, jumps backwards and forwards. */
    static const uint64_t wall[] = {1000, 1000, 1000, 999, 500, 2000, 2000, 1500, 3000};
    for (size_t i = 0; i < sizeof(wall) / sizeof(wall[0]); i++) {
        assert_int_equal(crdt_hlc_now(&h, wall[i], &t), TX_OK);
        assert_true(t > prev);
        assert_true(CRDT_HLC_MS(t) >= wall[i] || CRDT_HLC_MS(t) == CRDT_HLC_MS(prev));
        prev = t;
    }
    assert_true(CRDT_HLC_MS(prev) == 3000 && CRDT_HLC_CTR(prev) == 0);
}

static void test_recv(void **state)
{
    struct crdt_hlc h;
    uint64_t t, remote = CRDT_HLC_MAKE(5000, 7);
    (void)state;
    crdt_hlc_init(&h, 0, 300000);
    assert_int_equal(crdt_hlc_recv(&h, 1000, remote), TX_OK);
    assert_int_equal(crdt_hlc_now(&h, 1000, &t), TX_OK);
    assert_true(t > remote);
    assert_true(t == CRDT_HLC_MAKE(5000, 8));
    /* An older remote timestamp changes nothing. */
    assert_int_equal(crdt_hlc_recv(&h, 1000, CRDT_HLC_MAKE(10, 0)), TX_OK);
    assert_true(h.last == t);
}

static void test_skew(void **state)
{
    struct crdt_hlc h;
    uint64_t before;
    (void)state;
    crdt_hlc_init(&h, 0, 300 * 1000);
    before = h.last;
    /* Exactly at the limit is fine, one millisecond beyond is refused. */
    assert_int_equal(crdt_hlc_recv(&h, 1000000, CRDT_HLC_MAKE(1000000 + 300000, 0)), TX_OK);
    before = h.last;
    assert_int_equal(crdt_hlc_recv(&h, 1000000, CRDT_HLC_MAKE(1000000 + 300001, 0)), TX_ESKEW);
    assert_true(h.last == before); /* not merged */
}

static void test_counter_overflow(void **state)
{
    struct crdt_hlc h;
    uint64_t t;
    (void)state;
    crdt_hlc_init(&h, CRDT_HLC_MAKE(1000, 0xfffe), 10);
    assert_int_equal(crdt_hlc_now(&h, 1000, &t), TX_OK);
    assert_true(t == CRDT_HLC_MAKE(1000, 0xffff));
    /* Overflow carries into the next millisecond and is counted. */
    assert_int_equal(crdt_hlc_now(&h, 1000, &t), TX_OK);
    assert_true(t == CRDT_HLC_MAKE(1001, 0));
    assert_int_equal(h.carries, 1);
    /* A clock already at the skew limit cannot carry further. */
    crdt_hlc_init(&h, CRDT_HLC_MAKE(1010, 0xffff), 10);
    assert_int_equal(crdt_hlc_now(&h, 1000, &t), TX_EOVERFLOW);
    assert_true(h.last == CRDT_HLC_MAKE(1010, 0xffff));
    /* Past 48 bits of milliseconds. */
    crdt_hlc_init(&h, 0, 10);
    assert_int_equal(crdt_hlc_now(&h, CRDT_HLC_MAX_MS + 1, &t), TX_EOVERFLOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_recv),
        cmocka_unit_test(test_skew),
        cmocka_unit_test(test_counter_overflow),
    };
    txt_alloc_install();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
