/* test_schema.c - every schema rule refuses what it must (and each test fails if
 * its rule is removed), and a refused write stores nothing. */
#include "txnode.h"
#include "txtest.h"

static struct node_change chg(const char *type, const char *id, const char *field, int code)
{
    struct node_change c;

    memset(&c, 0, sizeof(c));
    c.type = type;
    c.id = id;
    c.field = field;
    c.code = code;
    return c;
}

static struct node_change s_(const char *type, const char *field, const char *v)
{
    struct node_change c = chg(type, "x1", field, CRDT_OP_LWW_SET);

    c.value.type = CRDT_STR;
    c.value.s = v;
    c.value.len = (uint32_t)strlen(v);
    return c;
}

static struct node_change i_(const char *type, const char *field, int code, int64_t v)
{
    struct node_change c = chg(type, "x1", field, code);

    c.value.type = CRDT_INT;
    c.value.i = v;
    return c;
}

static void expect(struct node_change c, int ok, const char *needle)
{
    char why[512] = "";
    int err = node_schema_check(&c, 1, why, sizeof(why));

    if (ok) {
        if (err)
            fprintf(stderr, "unexpected refusal: %s\n", why);
        assert_int_equal(err, TX_OK);
    } else {
        assert_int_equal(err, TX_ESCHEMA);
        if (needle && !strstr(why, needle)) {
            fprintf(stderr, "message '%s' lacks '%s'\n", why, needle);
            fail();
        }
    }
}

static void test_types_and_fields(void **state)
{
    (void)state;
    expect(s_("case", "title", "漏水"), 1, NULL);
    expect(s_("spaceship", "title", "x"), 0, "unknown record type 'spaceship'");
    expect(s_("case", "colour", "red"), 0, "no field 'colour'");
}

static void test_kinds(void **state)
{
    (void)state;
    /* a counter written like a register, a register like a counter */
    expect(i_("visit", "errands", CRDT_OP_LWW_SET, 3), 0, "errands is a counter");
    expect(i_("visit", "errands", CRDT_OP_CTR_ADD, 3), 1, NULL);
    expect(i_("estate", "households", CRDT_OP_CTR_ADD, 1), 0, "households is a lww");
    {
        struct node_change c = s_("case", "status", "resolved");

        c.code = CRDT_OP_LWW_SET;
        expect(c, 0, "status is a status");
    }
}

static void test_value_types(void **state)
{
    struct node_change c;

    (void)state;
    expect(s_("estate", "households", "many"), 0, "expected an integer");
    expect(i_("estate", "households", CRDT_OP_LWW_SET, 2763), 1, NULL);
    expect(i_("estate", "households", CRDT_OP_LWW_SET, -1), 0, "0 or more");
    expect(i_("case", "title", CRDT_OP_LWW_SET, 5), 0, "expected text");
    expect(s_("inspection", "fixed", "yes"), 0, "true or false");
    c = chg("inspection", "x1", "fixed", CRDT_OP_LWW_SET);
    c.value.type = CRDT_BOOL;
    c.value.i = 1;
    expect(c, 1, NULL);
    /* clearing a register is always fine */
    c = chg("estate", "x1", "households", CRDT_OP_LWW_SET);
    c.value.type = CRDT_NIL;
    expect(c, 1, NULL);
}

static void test_enums(void **state)
{
    struct node_change c;

    (void)state;
    expect(s_("case", "category", "facilities"), 1, NULL);
    expect(s_("case", "category", "weather"), 0, "not one of environment, property");
    expect(s_("org", "party_org", "joint_built"), 1, NULL);
    expect(s_("org", "party_org", "half_built"), 0, "field party_org");
    /* set elements of an enum set are checked too */
    c = s_("household", "flags", "elderly_alone");
    c.code = CRDT_OP_SET_ADD;
    expect(c, 1, NULL);
    c = s_("household", "flags", "rich");
    c.code = CRDT_OP_SET_ADD;
    expect(c, 0, "field flags");
}

static void test_dates_and_refs(void **state)
{
    (void)state;
    expect(s_("visit", "date", "2026-11-28"), 1, NULL);
    expect(s_("visit", "date", "2024-02-29"), 1, NULL);
    expect(s_("visit", "date", "2026-02-29"), 0, "YYYY-MM-DD");
    expect(s_("visit", "date", "2026-13-01"), 0, "YYYY-MM-DD");
    expect(s_("visit", "date", "yesterday"), 0, "YYYY-MM-DD");
    expect(s_("visit", "household", "h-0001"), 1, NULL);
    expect(s_("visit", "household", ""), 0, "id of a household");
}

static void test_status_states(void **state)
{
    (void)state;
    expect(i_("case", "status", CRDT_OP_STATUS_SET, 3), 1, NULL);       /* resolved */
    expect(i_("case", "status", CRDT_OP_STATUS_SET, 256 + 0), 1, NULL); /* re-opened */
    expect(i_("case", "status", CRDT_OP_STATUS_SET, 7), 0, "not a state");
    expect(i_("election", "status", CRDT_OP_STATUS_SET, 4), 0, "not a state"); /* 4 states */
}

static void test_ballots(void **state)
{
    struct node_change c;

    (void)state;
    c = s_("ballot", "choice", "list A");
    c.id = "e2026:h-0001";
    expect(c, 1, NULL);
    c.id = "h-0001";
    expect(c, 0, "ELECTION:HOUSEHOLD");
    c = s_("ballot", "household", "h-0002");
    c.id = "e2026:h-0001";
    expect(c, 0, "must match the id");
    c = s_("ballot", "election", "e2026");
    c.id = "e2026:h-0001";
    expect(c, 1, NULL);
}

static void test_scopes(void **state)
{
    char scope[CRDT_MAX_SCOPE + 1];

    (void)state;
    assert_int_equal(node_schema_scope("household", "xidajie", scope), TX_OK);
    assert_string_equal(scope, "private:xidajie");
    assert_int_equal(node_schema_scope("visit", "xidajie", scope), TX_OK);
    assert_string_equal(scope, "private:xidajie");
    assert_int_equal(node_schema_scope("ballot", "xidajie", scope), TX_OK);
    assert_string_equal(scope, "private:xidajie");
    assert_int_equal(node_schema_scope("pairing", "xidajie", scope), TX_OK);
    assert_string_equal(scope, "private:xidajie");
    assert_int_equal(node_schema_scope("case", "xidajie", scope), TX_OK);
    assert_string_equal(scope, "general:xidajie");
    assert_int_equal(node_schema_scope("org", "xidajie", scope), TX_OK);
    assert_string_equal(scope, "general:xidajie");
    assert_int_equal(node_schema_scope("nosuch", "xidajie", scope), TX_ESCHEMA);
}

/* Personal data never goes to a general or the public scope, whatever scope a
 * caller names; other types may go anywhere. */
static void test_private_stays_private(void **state)
{
    static const char *const priv[] = {"household", "visit", "ballot", "pairing"};
    struct node_change c[2];
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
        c[0] = s_("case", "title", "x");
        c[1] = s_(priv[i], "notes", "x");
        assert_int_equal(node_schema_check_scope(c, 2, "private:fulin", why, sizeof(why)), TX_OK);
        assert_int_equal(node_schema_check_scope(c, 2, "general:fulin", why, sizeof(why)),
                         TX_ESCHEMA);
        assert_non_null(strstr(why, "personal data"));
        assert_non_null(strstr(why, priv[i]));
        assert_int_equal(node_schema_check_scope(c, 2, "public", NULL, 0), TX_ESCHEMA);
    }
    c[0] = s_("case", "title", "x");
    assert_int_equal(node_schema_check_scope(c, 1, "general:fulin", NULL, 0), TX_OK);
    assert_int_equal(node_schema_check_scope(c, 1, "public", NULL, 0), TX_OK);
}

static void test_committee_node(void **state)
{
    (void)state;
    expect(s_("election", "committee_node",
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
           1, NULL);
    expect(s_("election", "committee_node", "0123456789abcdef"), 0, "committee_node");
    expect(s_("election", "committee_node",
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg"),
           0, "64 hex digits");
}

static void test_every_field_documented(void **state)
{
    size_t n;
    const struct node_type_def *t = node_schema_types(&n);

    (void)state;
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].zh);
        assert_true(crdt_check_type(t[i].name, strlen(t[i].name)) == TX_OK);
        for (size_t k = 0; k < t[i].nfields; k++) {
            const struct node_field_def *f = &t[i].fields[k];

            assert_true(crdt_check_field(f->name, strlen(f->name)) == TX_OK);
            assert_non_null(f->zh);
            assert_non_null(f->doc);
            assert_true(f->kind >= CRDT_LWW && f->kind <= CRDT_STATUS);
            if (f->vtype == NODE_V_ENUM || f->kind == CRDT_STATUS)
                assert_non_null(f->enums);
            if (f->vtype == NODE_V_REF)
                assert_non_null(node_schema_type(f->ref));
        }
    }
}

static void test_status_backwards_writes_nothing(void **state)
{
    char dir[512];
    struct node_store *s;
    struct node_change c = i_("case", "status", CRDT_OP_STATUS_SET, 3);
    uint8_t before[32], after[32];

    (void)state;
    s = txn_node_new(dir, sizeof(dir), "schema", "xidajie");
    c.id = "c1";
    assert_int_equal(node_write(s, "general:xidajie", &c, 1, NULL), TX_OK);
    node_digest_log(s, before);
    c.value.i = 1; /* resolved -> assigned, no re-open */
    assert_int_equal(node_write(s, "general:xidajie", &c, 1, NULL), TX_EBACKWARD);
    node_digest_log(s, after);
    assert_memory_equal(before, after, 32);
    c.value.i = 256; /* a re-open is fine */
    assert_int_equal(node_write(s, "general:xidajie", &c, 1, NULL), TX_OK);
    node_close(s);
    txn_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_fields),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_value_types),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_dates_and_refs),
        cmocka_unit_test(test_status_states),
        cmocka_unit_test(test_ballots),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_every_field_documented),
        cmocka_unit_test(test_private_stays_private),
        cmocka_unit_test(test_committee_node),
        cmocka_unit_test(test_status_backwards_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
