/* test_codec.c - body, envelope and record codecs: round trips, and every kind of
 * malformed input (truncated, wrong types, oversized, bombs, deep nesting). */
#include "txtest.h"

static const struct crdt_value vstr = {CRDT_STR, 0, "阳光城小区", 15};

static void make_body(struct crdt_body *b, struct crdt_op *ops, struct crdt_dot *sup)
{
    memset(ops, 0, 3 * sizeof(*ops));
    memset(sup, 0, sizeof(*sup));
    memset(sup->origin, 7, CRDT_KEY_BYTES);
    sup->seq = 3;
    sup->idx = 1;
    for (int i = 0; i < 3; i++) {
        ops[i].type = "estate";
        ops[i].type_len = 6;
        ops[i].id = "est-1";
        ops[i].id_len = 5;
    }
    ops[0].field = "name";
    ops[0].field_len = 4;
    ops[0].code = CRDT_OP_LWW_SET;
    ops[0].value = vstr;
    ops[0].sup = sup;
    ops[0].nsup = 1;
    ops[1].field = "households";
    ops[1].field_len = 10;
    ops[1].code = CRDT_OP_CTR_ADD;
    ops[1].value.type = CRDT_INT;
    ops[1].value.i = -2763;
    ops[2].field = "grids";
    ops[2].field_len = 5;
    ops[2].code = CRDT_OP_SET_ADD;
    ops[2].value.type = CRDT_STR;
    ops[2].value.s = "g1";
    ops[2].value.len = 2;
    b->ops = ops;
    b->nops = 3;
}

static void test_body_roundtrip(void **state)
{
    struct crdt_op ops[3];
    struct crdt_dot sup;
    struct crdt_body b, d;
    struct tx_mpw w, w2;
    (void)state;
    make_body(&b, ops, &sup);
    tx_mpw_init(&w, 1 << 16);
    assert_int_equal(crdt_body_encode(&b, &w), TX_OK);
    assert_int_equal(crdt_body_decode(&d, w.buf, w.len), TX_OK);
    assert_int_equal(d.nops, 3);
    assert_memory_equal(d.ops[0].value.s, vstr.s, vstr.len);
    assert_int_equal(d.ops[0].nsup, 1);
    assert_int_equal(crdt_dot_cmp(&d.ops[0].sup[0], &sup), 0);
    assert_true(d.ops[1].value.i == -2763);
    /* Re-encoding the decoded body gives the same bytes. */
    tx_mpw_init(&w2, 1 << 16);
    assert_int_equal(crdt_body_encode(&d, &w2), TX_OK);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    crdt_body_release(&d);
    /* Every prefix fails cleanly and leaks nothing. */
    txt_alloc_install();
    for (size_t n = 0; n < w.len; n++) {
        assert_int_not_equal(crdt_body_decode(&d, w.buf, n), TX_OK);
        crdt_body_release(&d);
    }
    /* Every single-byte corruption either fails or decodes to a valid body. */
    for (size_t i = 0; i < w.len; i++) {
        uint8_t save = w.buf[i];
        for (int bit = 0; bit < 8; bit++) {
            w.buf[i] = save ^ (uint8_t)(1u << bit);
            if (crdt_body_decode(&d, w.buf, w.len) == TX_OK) {
                for (uint32_t k = 0; k < d.nops; k++)
                    assert_int_equal(crdt_op_check(&d.ops[k]), TX_OK);
            }
            crdt_body_release(&d);
        }
        w.buf[i] = save;
    }
    txt_assert_no_leak();
    txt_alloc_done();
    tx_mpw_release(&w);
    tx_mpw_release(&w2);
}

static void test_body_rejects(void **state)
{
    struct crdt_body d;
    /* Body: array32 declaring 16.7M ops, nothing behind it. */
    static const uint8_t bomb[] = {0xdd, 0x00, 0xff, 0xff, 0xff};
    /* An op whose sup array declares 65535 dots. */
    static const uint8_t supbomb[] = {0x91, 0x96, 0xa1, 't',  0xa1, 'i', 0xa1,
                                      'f',  0x01, 0xc0, 0xdc, 0xff, 0xff};
    /* Wrong types: field name is an int. */
    static const uint8_t wrongtype[] = {0x91, 0x96, 0xa1, 't',  0xa2, 'i',
                                        'd',  0x05, 0x01, 0xc0, 0x90};
    /* A float value (not a Tongxin scalar). */
    static const uint8_t floatval[] = {0x91, 0x96, 0xa1, 't', 0xa1, 'i', 0xa1, 'f',
                                       0x01, 0xca, 0,    0,   0,    0,   0x90};
    /* Uppercase field name, unknown op code, counter with string. */
    static const uint8_t badname[] = {0x91, 0x96, 0xa1, 't',  0xa1, 'i',
                                      0xa1, 'F',  0x01, 0xc0, 0x90};
    static const uint8_t badcode[] = {0x91, 0x96, 0xa1, 't',  0xa1, 'i',
                                      0xa1, 'f',  0x09, 0xc0, 0x90};
    static const uint8_t ctrstr[] = {0x91, 0x96, 0xa1, 't',  0xa1, 'i',
                                     0xa1, 'f',  0x02, 0xa1, 'x',  0x90};
    static const uint8_t empty[] = {0x90};
    static const uint8_t trailing[] = {0x91, 0x96, 0xa1, 't',  0xa1, 'i',
                                       0xa1, 'f',  0x01, 0xc0, 0x90, 0x00};
    uint8_t deep[2048];
    (void)state;
    txt_alloc_install();
    assert_int_not_equal(crdt_body_decode(&d, bomb, sizeof(bomb)), TX_OK);
    crdt_body_release(&d);
    assert_true(txt_peak() < 4096);
    assert_int_not_equal(crdt_body_decode(&d, supbomb, sizeof(supbomb)), TX_OK);
    crdt_body_release(&d);
    assert_true(txt_peak() < 4096);
    assert_int_equal(crdt_body_decode(&d, wrongtype, sizeof(wrongtype)), TX_ETYPE);
    crdt_body_release(&d);
    assert_int_equal(crdt_body_decode(&d, floatval, sizeof(floatval)), TX_ETYPE);
    crdt_body_release(&d);
    assert_int_equal(crdt_body_decode(&d, badname, sizeof(badname)), TX_EINVAL);
    crdt_body_release(&d);
    assert_int_equal(crdt_body_decode(&d, badcode, sizeof(badcode)), TX_EKIND);
    crdt_body_release(&d);
    assert_int_equal(crdt_body_decode(&d, ctrstr, sizeof(ctrstr)), TX_EKIND);
    crdt_body_release(&d);
    assert_int_equal(crdt_body_decode(&d, empty, sizeof(empty)), TX_EBODY);
    crdt_body_release(&d);
    assert_int_equal(crdt_body_decode(&d, trailing, sizeof(trailing)), TX_ETRAILING);
    crdt_body_release(&d);
    /* Deep nesting: refused at the first level that is not what the schema says. */
    memset(deep, 0x91, sizeof(deep));
    assert_int_not_equal(crdt_body_decode(&d, deep, sizeof(deep)), TX_OK);
    crdt_body_release(&d);
    txt_assert_no_leak();
    assert_true(txt_peak() < 4096);
    txt_alloc_done();
}

static void fill_env(struct crdt_env *e, struct crdt_dep *deps, const uint8_t *body, size_t blen)
{
    crdt_env_init(e);
    memset(e->origin, 0x11, CRDT_KEY_BYTES);
    e->seq = 42;
    memset(e->prev, 0xab, CRDT_HASH_BYTES);
    e->hlc = CRDT_HLC_MAKE(1764288000000ull, 3);
    memset(deps[0].origin, 0x05, CRDT_KEY_BYTES);
    deps[0].seq = 9;
    memset(deps[1].origin, 0x22, CRDT_KEY_BYTES);
    deps[1].seq = 1;
    e->deps = deps;
    e->ndeps = 2;
    strcpy(e->scope, "private:xidajie");
    e->scope_len = (uint32_t)strlen(e->scope);
    e->epoch = 3;
    memset(e->nonce, 0x77, CRDT_NONCE_BYTES);
    e->body = body;
    e->body_len = (uint32_t)blen;
    memset(e->sig, 0x5a, CRDT_SIG_BYTES);
}

static void test_env_roundtrip(void **state)
{
    static const uint8_t body[100] = {1, 2, 3};
    struct crdt_dep deps[2];
    struct crdt_env e, d;
    struct tx_mpw w, w2;
    (void)state;
    fill_env(&e, deps, body, sizeof(body));
    tx_mpw_init(&w, CRDT_MAX_ENVELOPE);
    assert_int_equal(crdt_env_encode(&e, &w), TX_OK);
    /* The signature is the last 66 bytes. */
    assert_int_equal(w.buf[w.len - CRDT_ENV_SIG_TAIL], 0xc4);
    assert_int_equal(w.buf[w.len - CRDT_ENV_SIG_TAIL + 1], 64);
    assert_memory_equal(w.buf + w.len - 64, e.sig, 64);
    assert_int_equal(crdt_env_decode(&d, w.buf, w.len), TX_OK);
    assert_true(d.seq == 42 && d.ndeps == 2 && d.epoch == 3 && d.hlc == e.hlc);
    assert_string_equal(d.scope, "private:xidajie");
    assert_memory_equal(d.body, body, sizeof(body));
    assert_int_equal(d.deps[1].seq, 1);
    tx_mpw_init(&w2, CRDT_MAX_ENVELOPE);
    assert_int_equal(crdt_env_encode(&d, &w2), TX_OK);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    crdt_env_release(&d);
    txt_alloc_install();
    for (size_t n = 0; n < w.len; n++) {
        assert_int_not_equal(crdt_env_decode(&d, w.buf, n), TX_OK);
        crdt_env_release(&d);
    }
    assert_int_equal(crdt_env_decode(&d, w.buf, w.len), TX_OK);
    crdt_env_release(&d);
    txt_assert_no_leak();
    txt_alloc_done();
    tx_mpw_release(&w);
    tx_mpw_release(&w2);
}

static void test_env_rejects(void **state)
{
    static const uint8_t body[10] = {1};
    struct crdt_dep deps[2];
    struct crdt_env e, d;
    struct tx_mpw w;
    (void)state;
    /* Rules the encoder refuses are refused by the decoder too. */
    fill_env(&e, deps, body, sizeof(body));
    e.seq = 1; /* seq 1 must have a zero prev */
    tx_mpw_init(&w, CRDT_MAX_ENVELOPE);
    assert_int_equal(crdt_env_encode(&e, &w), TX_EINVAL);
    tx_mpw_release(&w);
    fill_env(&e, deps, body, sizeof(body));
    memcpy(deps[0].origin, e.origin, CRDT_KEY_BYTES); /* depends on itself */
    assert_int_equal(crdt_env_encode(&e, &w), TX_EINVAL);
    tx_mpw_release(&w);
    fill_env(&e, deps, body, sizeof(body));
    deps[0].origin[0] = 0x99; /* unsorted */
    assert_int_equal(crdt_env_encode(&e, &w), TX_EINVAL);
    tx_mpw_release(&w);
    fill_env(&e, deps, body, sizeof(body));
    e.epoch = 0; /* plaintext, yet a nonce */
    assert_int_equal(crdt_env_encode(&e, &w), TX_EINVAL);
    tx_mpw_release(&w);
    fill_env(&e, deps, body, sizeof(body));
    strcpy(e.scope, "Bad Scope");
    e.scope_len = 9;
    assert_int_equal(crdt_env_encode(&e, &w), TX_EINVAL);
    tx_mpw_release(&w);
    /* Hand-built: version 2. */
    fill_env(&e, deps, body, sizeof(body));
    assert_int_equal(crdt_env_encode(&e, &w), TX_OK);
    w.buf[1] = 2;
    assert_int_equal(crdt_env_decode(&d, w.buf, w.len), TX_EVERSION);
    crdt_env_release(&d);
    w.buf[1] = 1;
    /* A deps array declaring more than the limit. */
    {
        uint8_t *b = malloc(w.len + 10);
        size_t off = 1 + 1 + 34 + 1 + 34 + 9; /* up to the deps header */
        memcpy(b, w.buf, w.len);
        assert_int_equal(b[off], 0x92);
        b[off] = 0xdd; /* array32 ... */
        memmove(b + off + 5, w.buf + off + 1, w.len - off - 1);
        b[off + 1] = 0;
        b[off + 2] = 0xff;
        b[off + 3] = 0xff;
        b[off + 4] = 0xff;
        txt_alloc_install();
        assert_int_equal(crdt_env_decode(&d, b, w.len + 4), TX_ETOOBIG);
        crdt_env_release(&d);
        assert_int_equal(txt_a.calls, 0);
        txt_alloc_done();
        free(b);
    }
    /* Oversized as a whole. */
    {
        uint8_t *big = calloc(1, CRDT_MAX_ENVELOPE + 1);
        assert_int_equal(crdt_env_decode(&d, big, CRDT_MAX_ENVELOPE + 1), TX_ETOOBIG);
        crdt_env_release(&d);
        free(big);
    }
    tx_mpw_release(&w);
}

static void test_record_codec(void **state)
{
    struct crdt_op ops[3];
    struct crdt_dot sup, dots[3];
    struct crdt_body b;
    struct crdt_record r, r2;
    struct tx_mpw w, w2;
    (void)state;
    make_body(&b, ops, &sup);
    crdt_record_init(&r);
    crdt_record_init(&r2);
    for (int i = 0; i < 3; i++) {
        memset(&dots[i], 0, sizeof(dots[i]));
        memset(dots[i].origin, 9, CRDT_KEY_BYTES);
        dots[i].seq = 5;
        dots[i].idx = (uint32_t)i;
        ops[i].nsup = 0;
        assert_int_equal(crdt_record_apply(&r, &ops[i], &dots[i], 77), TX_OK);
    }
    tx_mpw_init(&w, 1 << 20);
    assert_int_equal(crdt_record_encode(&r, &w), TX_OK);
    assert_int_equal(crdt_record_decode(&r2, w.buf, w.len), TX_OK);
    tx_mpw_init(&w2, 1 << 20);
    assert_int_equal(crdt_record_encode(&r2, &w2), TX_OK);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    /* Corrupted stored state is reported, never crashes. */
    for (size_t n = 0; n < w.len; n++)
        assert_int_not_equal(crdt_record_decode(&r2, w.buf, n), TX_OK);
    crdt_record_release(&r);
    crdt_record_release(&r2);
    tx_mpw_release(&w);
    tx_mpw_release(&w2);
}

static void test_identifiers(void **state)
{
    (void)state;
    assert_int_equal(crdt_check_type("household", 9), TX_OK);
    assert_int_equal(crdt_check_type("House", 5), TX_EINVAL);
    assert_int_equal(crdt_check_type("", 0), TX_EINVAL);
    assert_int_equal(crdt_check_field("address.unit", 12), TX_OK);
    assert_int_equal(crdt_check_field("a=b", 3), TX_EINVAL);
    assert_int_equal(crdt_check_id("公园懿品-3-2-501", strlen("公园懿品-3-2-501")), TX_OK);
    assert_int_equal(crdt_check_id("a\nb", 3), TX_EINVAL);
    assert_int_equal(crdt_check_id("\xc0\x80", 2), TX_EINVAL);     /* overlong NUL */
    assert_int_equal(crdt_check_id("\xed\xa0\x80", 3), TX_EINVAL); /* surrogate */
    assert_int_equal(crdt_check_scope("general:xidajie", 15), TX_OK);
    assert_int_equal(crdt_check_scope("general xidajie", 15), TX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_roundtrip), cmocka_unit_test(test_body_rejects),
        cmocka_unit_test(test_env_roundtrip),  cmocka_unit_test(test_env_rejects),
        cmocka_unit_test(test_record_codec),   cmocka_unit_test(test_identifiers),
    };
    txt_alloc_install();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
