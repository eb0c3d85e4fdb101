/* test_mp.c - the bounded msgpack reader/writer: round trips at every length
 * boundary, canonical-form enforcement, truncation, and allocation bombs. */
#include "txtest.h"

static void roundtrip_uint(uint64_t v)
{
    struct tx_mpw w;
    struct tx_mpr r;
    uint64_t got = 0;

    tx_mpw_init(&w, 64);
    tx_mpw_uint(&w, v);
    assert_int_equal(tx_mpw_finish(&w), TX_OK);
    tx_mpr_init(&r, w.buf, w.len);
    assert_int_equal(tx_mpr_uint(&r, &got), TX_OK);
    assert_true(got == v);
    assert_int_equal(tx_mpr_done(&r), TX_OK);
    /* Every strict prefix is truncated. */
    for (size_t n = 0; n < w.len; n++) {
        tx_mpr_init(&r, w.buf, n);
        assert_int_equal(tx_mpr_uint(&r, &got), TX_ETRUNC);
    }
    tx_mpw_release(&w);
}

static void roundtrip_int(int64_t v)
{
    struct tx_mpw w;
    struct tx_mpr r;
    int64_t got = 0;

    tx_mpw_init(&w, 64);
    tx_mpw_int(&w, v);
    assert_int_equal(tx_mpw_finish(&w), TX_OK);
    tx_mpr_init(&r, w.buf, w.len);
    assert_int_equal(tx_mpr_int(&r, &got), TX_OK);
    assert_true(got == v);
    assert_int_equal(tx_mpr_done(&r), TX_OK);
    tx_mpw_release(&w);
}

static void test_int_boundaries(void **state)
{
    static const uint64_t u[] = {
        0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffffu, 0x100000000ull, UINT64_MAX};
    static const int64_t s[] = {0,         -1,        -32,    -33,       -128,
                                -129,      -32768,    -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
                                INT64_MIN, INT64_MAX, 127,    128};
    (void)state;
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        roundtrip_uint(u[i]);
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        roundtrip_int(s[i]);
}

static void test_noncanonical(void **state)
{
    /* Each of these is valid msgpack but not the shortest form. */
    static const uint8_t cases[][10] = {
        {2, 0xcc, 0x05},                               /* uint8 holding a fixint */
        {3, 0xcd, 0x00, 0xff},                         /* uint16 holding a uint8 */
        {5, 0xce, 0, 0, 0xff, 0xff},                   /* uint32 holding a uint16 */
        {9, 0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, /* uint64 holding a uint32 */
        {2, 0xd0, 0xff},                               /* int8 holding -1 (fixint) */
        {2, 0xd0, 0x05},                               /* int8 holding a positive */
        {3, 0xd1, 0xff, 0x80},                         /* int16 holding -128 */
    };
    struct tx_mpr r;
    int64_t i;
    uint64_t u;
    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        tx_mpr_init(&r, cases[k] + 1, cases[k][0]);
        if (cases[k][1] >= 0xd0)
            assert_int_equal(tx_mpr_int(&r, &i), TX_ENONCANON);
        else
            assert_int_equal(tx_mpr_uint(&r, &u), TX_ENONCANON);
    }
    /* str8 holding 3 bytes (fixstr would do), array16 holding 2 elements. */
    {
        static const uint8_t s8[] = {0xd9, 3, 'a', 'b', 'c'};
        static const uint8_t a16[] = {0xdc, 0, 2, 1, 2};
        static const uint8_t b16[] = {0xc5, 0, 1, 'x'};
        const char *s;
        const uint8_t *b;
        uint32_t n;

        tx_mpr_init(&r, s8, sizeof(s8));
        assert_int_equal(tx_mpr_str(&r, &s, &n, 100), TX_ENONCANON);
        tx_mpr_init(&r, a16, sizeof(a16));
        assert_int_equal(tx_mpr_array(&r, &n, 100), TX_ENONCANON);
        tx_mpr_init(&r, b16, sizeof(b16));
        assert_int_equal(tx_mpr_bin(&r, &b, &n, 100), TX_ENONCANON);
    }
}

static void test_str_bin_lengths(void **state)
{
    static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    char *buf = malloc(70000);
    (void)state;
    memset(buf, 'x', 70000);
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        for (int bin = 0; bin < 2; bin++) {
            struct tx_mpw w;
            struct tx_mpr r;
            const char *s;
            const uint8_t *b;
            uint32_t n = 0;

            tx_mpw_init(&w, 1 << 20);
            if (bin)
                tx_mpw_bin(&w, buf, lens[k]);
            else
                tx_mpw_str(&w, buf, lens[k]);
            assert_int_equal(tx_mpw_finish(&w), TX_OK);
            tx_mpr_init(&r, w.buf, w.len);
            assert_int_equal(
                bin ? tx_mpr_bin(&r, &b, &n, 1 << 20) : tx_mpr_str(&r, &s, &n, 1 << 20), TX_OK);
            assert_int_equal(n, lens[k]);
            assert_int_equal(tx_mpr_done(&r), TX_OK);
            /* Over the caller's maximum. */
            if (lens[k]) {
                tx_mpr_init(&r, w.buf, w.len);
                assert_int_equal(bin ? tx_mpr_bin(&r, &b, &n, (uint32_t)lens[k] - 1)
                                     : tx_mpr_str(&r, &s, &n, (uint32_t)lens[k] - 1),
                                 TX_ETOOBIG);
                /* Cut the payload short. */
                tx_mpr_init(&r, w.buf, w.len - 1);
                assert_int_equal(bin ? tx_mpr_bin(&r, &b, &n, 1 << 20)
                                     : tx_mpr_str(&r, &s, &n, 1 << 20),
                                 TX_ETRUNC);
            }
            tx_mpw_release(&w);
        }
    }
    free(buf);
}

static void test_wrong_types(void **state)
{
    static const uint8_t nil[] = {0xc0}, f32[] = {0xca, 0, 0, 0, 0}, str[] = {0xa1, 'a'};
    struct tx_mpr r;
    uint64_t u;
    int64_t i;
    uint32_t n;
    const char *s;
    (void)state;
    tx_mpr_init(&r, nil, 1);
    assert_int_equal(tx_mpr_uint(&r, &u), TX_ETYPE);
    assert_int_equal(tx_mpr_array(&r, &n, 10), TX_ETYPE);
    tx_mpr_init(&r, f32, sizeof(f32));
    assert_int_equal(tx_mpr_peek(&r), TX_MP_OTHER);
    assert_int_equal(tx_mpr_int(&r, &i), TX_ETYPE);
    assert_int_equal(tx_mpr_skip(&r, 4), TX_ETYPE);
    tx_mpr_init(&r, str, sizeof(str));
    assert_int_equal(tx_mpr_uint(&r, &u), TX_ETYPE);
    assert_int_equal(tx_mpr_str(&r, &s, &n, 10), TX_OK);
    assert_int_equal(tx_mpr_nil(&r), TX_ETRUNC);
}

/* The bomb from pitfalls.md: 5 bytes declaring 16.7 million elements. */
static void test_array_bomb(void **state)
{
    static const uint8_t bomb[] = {0xdd, 0x00, 0xff, 0xff, 0xff};
    static const uint8_t mbomb[] = {0xdf, 0x00, 0xff, 0xff, 0xff};
    static const uint8_t sbomb[] = {0xdb, 0x7f, 0xff, 0xff, 0xff};
    struct tx_mpr r;
    uint32_t n;
    const char *s;
    (void)state;
    txt_alloc_install();
    tx_mpr_init(&r, bomb, sizeof(bomb));
    assert_int_equal(tx_mpr_array(&r, &n, UINT32_MAX), TX_ETRUNC);
    assert_int_equal(tx_mpr_array(&r, &n, 1000), TX_ETOOBIG);
    assert_int_equal(tx_mpr_skip(&r, 8), TX_ETRUNC);
    tx_mpr_init(&r, mbomb, sizeof(mbomb));
    assert_int_equal(tx_mpr_map(&r, &n, UINT32_MAX), TX_ETRUNC);
    tx_mpr_init(&r, sbomb, sizeof(sbomb));
    assert_int_equal(tx_mpr_str(&r, &s, &n, UINT32_MAX), TX_ETRUNC);
    /* The reader never allocated at all. */
    assert_int_equal(txt_a.calls, 0);
    txt_alloc_done();
}

static void test_deep_nesting(void **state)
{
    uint8_t buf[4096];
    struct tx_mpr r;
    (void)state;
    /* 4095 nested one-element arrays around a nil. */
    memset(buf, 0x91, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = 0xc0;
    tx_mpr_init(&r, buf, sizeof(buf));
    assert_int_equal(tx_mpr_skip(&r, 32), TX_EDEPTH);
    /* 10 deep is fine with a limit of 32. */
    tx_mpr_init(&r, buf + sizeof(buf) - 11, 11);
    assert_int_equal(tx_mpr_skip(&r, 32), TX_OK);
    assert_int_equal(tx_mpr_done(&r), TX_OK);
}

static void test_writer_cap(void **state)
{
    struct tx_mpw w;
    size_t len;
    uint8_t *b;
    (void)state;
    tx_mpw_init(&w, 8);
    tx_mpw_str(&w, "0123456789", 10);
    assert_int_equal(tx_mpw_finish(&w), TX_ETOOBIG);
    tx_mpw_uint(&w, 1); /* sticky: still the first error */
    assert_int_equal(tx_mpw_finish(&w), TX_ETOOBIG);
    tx_mpw_release(&w);
    /* Allocation failure is reported, not fatal. */
    txt_alloc_install();
    txt_a.fail_at = 1;
    tx_mpw_init(&w, 1024);
    tx_mpw_uint(&w, 300);
    assert_int_equal(tx_mpw_finish(&w), TX_ENOMEM);
    tx_mpw_release(&w);
    txt_a.fail_at = 0;
    tx_mpw_init(&w, 1024);
    tx_mpw_array(&w, 2);
    tx_mpw_bool(&w, 1);
    tx_mpw_nil(&w);
    b = tx_mpw_take(&w, &len);
    assert_int_equal(len, 3);
    assert_int_equal(b[0], 0x92);
    assert_int_equal(b[1], 0xc3);
    assert_int_equal(b[2], 0xc0);
    tx_free(b);
    txt_assert_no_leak();
    txt_alloc_done();
}

static void test_errors_table(void **state)
{
    (void)state;
    assert_string_equal(tx_errname(TX_ESIG), "ESIG");
    assert_string_equal(tx_strerror(TX_OK), "success");
    assert_string_equal(tx_strerror(12345), "unknown error");
    /* Every code has a distinct name and a message, and sits outside libuv's and
     * LMDB's ranges. */
#define CHECK(name, num, msg)                                                                      \
    assert_true((num) < -4096 && ((num) > -30780 || (num) < -30799));                              \
    assert_string_equal(tx_errname(num), #name);                                                   \
    assert_string_equal(tx_strerror(num), msg);
    TX_ERRNO_MAP(CHECK)
#undef CHECK
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_boundaries),  cmocka_unit_test(test_noncanonical),
        cmocka_unit_test(test_str_bin_lengths), cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_array_bomb),      cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_writer_cap),      cmocka_unit_test(test_errors_table),
    };
    txt_alloc_install();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
