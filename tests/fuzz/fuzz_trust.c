/*
 * fuzz_trust.c - the district trust formats over arbitrary bytes: certificates
 * (node_cert_decode), revocations (node_revocation_decode), enrolment files
 * (node_enrol_install) and key blobs (node_key_import), which arrive on USB
 * sticks and in public records.
 *
 * Input: byte 0 selects the parser (mod 4), the rest is its input.
 *  0, 1: the pure decoders. Oracles: the result is 0 or a TX_E* code; on
 *        success the fields are within their documented bounds.
 *  2:    an enrolment file installed into a real store (created once under
 *        $TMPDIR, opened per input). Oracles: a refused file adopts nothing -
 *        a store outside a district stays outside; the store reopens.
 *  3:    a key blob imported into that store: 0 or a TX_E* code; a refused
 *        blob installs no key.
 * Signatures make almost every mutant fail at the first signature check; the
 * parsing before it (msgpack shapes, lengths, counts) is what is fuzzed.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#include "node.h"

static char dir[512];
static int ready;

static void cleanup(void)
{
    char cmd[600];

    if (dir[0] && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) < (int)sizeof(cmd) &&
        system(cmd) != 0)
        fprintf(stderr, "fuzz_trust: could not remove %s\n", dir);
}

static int setup(void)
{
    struct node_init_opts o = {"fuzz", NODE_ROLE_OFFICE, "trust fuzzer"};
    const char *tmp = getenv("TMPDIR");
    int err;

    if (ready)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/fuzz_trust-%ld-XXXXXX", tmp && *tmp ? tmp : "/tmp",
                 (long)getpid());
        if (!mkdtemp(dir)) {
            perror("fuzz_trust: mkdtemp");
            abort();
        }
        atexit(cleanup);
    }
    err = node_init(dir, &o, NULL);
    if (err == TX_ENOMEM)
        return -1;
    FZ_CHECK(err == TX_OK || err == TX_EEXIST);
    ready = 1;
    return 0;
}

static void check_text(const char *s, size_t cap)
{
    FZ_CHECK(memchr(s, '\0', cap) != NULL);
}

static int count_key(const struct node_key_info *k, void *ctx)
{
    (void)k;
    (*(size_t *)ctx)++;
    return 0;
}

static void into_store(int what, const uint8_t *data, size_t size)
{
    struct node_store *s = NULL;
    uint8_t dist[CRDT_KEY_BYTES];
    size_t keys = 0, keys_after = 0;
    int err, outside, counted;

    if (setup())
        return;
    err = node_open(dir, NODE_OPEN_NOSYNC, NULL, &s);
    if (err) {
        FZ_CHECK(err == TX_ENOMEM);
        return;
    }
    outside = node_district_of(s, dist) == TX_ENOTFOUND;
    counted = node_keys_each(s, count_key, &keys) == TX_OK;
    if (what == 2) {
        err = node_enrol_install(s, data, size);
        FZ_CHECK(err <= 0);
        if (err && outside)
            FZ_CHECK(node_district_of(s, dist) == TX_ENOTFOUND);
    } else {
        err = node_key_import(s, data, size, NULL);
        FZ_CHECK(err <= 0);
        if (err && err != TX_ENOMEM && counted && node_keys_each(s, count_key, &keys_after) == 0)
            FZ_CHECK(keys_after == keys);
    }
    node_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: {
        struct node_cert c;
        int err = node_cert_decode(data + 1, size - 1, &c);

        FZ_CHECK(err <= 0);
        if (err == TX_OK) {
            check_text(c.name, sizeof(c.name));
            check_text(c.community, sizeof(c.community));
            FZ_CHECK(node_role_name(c.role) != NULL);
        }
        break;
    }
    case 1: {
        struct node_revocation rv;
        int err = node_revocation_decode(data + 1, size - 1, &rv);

        FZ_CHECK(err <= 0);
        if (err == TX_OK)
            check_text(rv.reason, sizeof(rv.reason));
        break;
    }
    default: into_store(data[0] % 4, data + 1, size - 1); break;
    }
    return 0;
}
