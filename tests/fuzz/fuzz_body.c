/*
 * fuzz_body.c - crdt_body_decode over arbitrary bytes.
 *
 * Oracles on every accepted input:
 *  - each op passes crdt_op_check (decode promises well-formed ops);
 *  - crdt_body_encode reproduces the input byte for byte: the codec accepts only
 *    canonical encodings, so decode then encode is the identity;
 *  - crdt_body_check_causal runs against a fixed envelope header (no crash).
 * The body is released whatever decode returned, so a leak on any error path
 * shows up under LeakSanitizer or replay.c's counting allocator.
 */
#include "fuzz.h"

static void check_causal(const struct crdt_body *b)
{
    struct crdt_dep deps[2];
    struct crdt_env e;
    int err;

    /* A header whose origin and deps the corpus uses (0x07.. and 0x01../0x02..),
     * so both the own-origin and the deps branch run. */
    crdt_env_init(&e);
    memset(e.origin, 0x07, sizeof(e.origin));
    e.seq = 5;
    memset(deps, 0, sizeof(deps));
    memset(deps[0].origin, 0x01, sizeof(deps[0].origin));
    deps[0].seq = 9;
    memset(deps[1].origin, 0x02, sizeof(deps[1].origin));
    deps[1].seq = 1;
    e.deps = deps;
    e.ndeps = 2;
    err = crdt_body_check_causal(b, &e);
    FZ_CHECK(err == TX_OK || err == TX_ECAUSAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct crdt_body b;
    struct tx_mpw w;
    int err;

    err = crdt_body_decode(&b, data, size);
    if (err == TX_OK) {
        FZ_CHECK(b.nops >= 1 && b.nops <= CRDT_MAX_OPS);
        for (uint32_t i = 0; i < b.nops; i++) {
            const struct crdt_op *op = &b.ops[i];

            FZ_CHECK(crdt_op_check(op) == TX_OK);
            FZ_CHECK(op->nsup <= CRDT_MAX_SUP);
            for (uint32_t k = 0; k < op->nsup; k++)
                FZ_CHECK(op->sup[k].seq >= 1 && op->sup[k].idx < CRDT_MAX_OPS);
            /* Borrowed strings point into the input. */
            FZ_CHECK((const uint8_t *)op->type >= data &&
                     (const uint8_t *)op->type + op->type_len <= data + size);
            FZ_CHECK((const uint8_t *)op->id >= data &&
                     (const uint8_t *)op->id + op->id_len <= data + size);
            FZ_CHECK((const uint8_t *)op->field >= data &&
                     (const uint8_t *)op->field + op->field_len <= data + size);
            if (op->value.type == CRDT_STR || op->value.type == CRDT_BIN)
                FZ_CHECK((const uint8_t *)op->value.s >= data &&
                         (const uint8_t *)op->value.s + op->value.len <= data + size);
        }
        tx_mpw_init(&w, FZ_MAX_OUT);
        err = crdt_body_encode(&b, &w);
        if (err != TX_ENOMEM) {
            FZ_CHECK(err == TX_OK);
            FZ_CHECK(fz_same(&w, data, size));
        }
        tx_mpw_release(&w);
        check_causal(&b);
    } else {
        FZ_CHECK(err < 0);
    }
    crdt_body_release(&b);
    return 0;
}
