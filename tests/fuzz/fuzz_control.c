/*
 * fuzz_control.c - the arguments of a `put` request on tongxind's control
 * socket (cli_put_decode), which any local process of the node's user can
 * send.
 *
 * Input: the msgpack after "put": scope, [[type, id, field, code, value]...],
 * raw (optional). Oracles: the result is TX_OK, TX_EPROTO or TX_ENOMEM; on
 * success every field is within its limit, and encoding the decoded request
 * (cli_put_encode, what the CLI sends) decodes to the same request again.
 */
#include "fuzz.h"

#include "status.h"

static int same_value(const struct crdt_value *a, const struct crdt_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case CRDT_NIL: return 1;
    case CRDT_BOOL:
    case CRDT_INT: return a->i == b->i;
    default: return a->len == b->len && (!a->len || memcmp(a->s, b->s, a->len) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tx_mpr r;
    struct cli_put_req q, q2;
    struct tx_mpw w;
    int err;

    tx_mpr_init(&r, data, size);
    err = cli_put_decode(&r, &q);
    FZ_CHECK(err == TX_OK || err == TX_EPROTO || err == TX_ENOMEM);
    if (err)
        return 0;
    FZ_CHECK(q.n >= 1 && q.n <= CRDT_MAX_OPS && strlen(q.scope) <= CRDT_MAX_SCOPE);
    for (uint32_t i = 0; i < q.n; i++) {
        FZ_CHECK(strlen(q.ch[i].type) <= CRDT_MAX_TYPE && strlen(q.ch[i].id) <= CRDT_MAX_ID &&
                 strlen(q.ch[i].field) <= CRDT_MAX_FIELD);
        FZ_CHECK(q.ch[i].code >= 0 && q.ch[i].code <= 255);
        FZ_CHECK(q.ch[i].value.type == CRDT_NIL || q.ch[i].value.type == CRDT_BOOL ||
                 q.ch[i].value.type == CRDT_INT || q.ch[i].value.len <= CRDT_MAX_STR);
    }
    tx_mpw_init(&w, FZ_MAX_OUT);
    cli_put_encode(&w, q.scope, q.ch, q.n, q.raw);
    err = tx_mpw_finish(&w);
    if (err == TX_ENOMEM) {
        tx_mpw_release(&w);
        cli_put_release(&q);
        return 0;
    }
    FZ_CHECK(err == TX_OK);
    tx_mpr_init(&r, w.buf, w.len);
    err = cli_put_decode(&r, &q2);
    FZ_CHECK(err == TX_OK || err == TX_ENOMEM);
    if (err == TX_OK) {
        FZ_CHECK(q2.n == q.n && q2.raw == q.raw && strcmp(q2.scope, q.scope) == 0);
        for (uint32_t i = 0; i < q.n; i++) {
            FZ_CHECK(strcmp(q2.ch[i].type, q.ch[i].type) == 0 &&
                     strcmp(q2.ch[i].id, q.ch[i].id) == 0 &&
                     strcmp(q2.ch[i].field, q.ch[i].field) == 0 && q2.ch[i].code == q.ch[i].code);
            FZ_CHECK(same_value(&q2.ch[i].value, &q.ch[i].value));
        }
        cli_put_release(&q2);
    }
    tx_mpw_release(&w);
    cli_put_release(&q);
    return 0;
}
