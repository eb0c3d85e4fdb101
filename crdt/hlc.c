/*
 * hlc.c - hybrid logical clock (Kulkarni et al., 2014), 48-bit ms + 16-bit counter.
 *
 * Two rules beyond the paper. A remote timestamp more than max_skew_ms ahead of
 * our wall clock is refused rather than merged: one node with a clock set a year
 * ahead must not drag every other node's clock with it. And when the counter
 * would overflow, the clock carries into the next millisecond (it runs slightly
 * ahead of wall time until wall time catches up); the carry is counted, and it is
 * refused if it would take the clock beyond the skew that peers accept.
 */
#include "crdt.h"

void crdt_hlc_init(struct crdt_hlc *h, uint64_t last, uint64_t max_skew_ms)
{
    h->last = last;
    h->max_skew_ms = max_skew_ms;
    h->carries = 0;
}

int crdt_hlc_now(struct crdt_hlc *h, uint64_t now_ms, uint64_t *out)
{
    uint64_t ms = CRDT_HLC_MS(h->last);
    uint64_t ctr = CRDT_HLC_CTR(h->last);
    uint64_t next;

    if (now_ms > CRDT_HLC_MAX_MS)
        return TX_EOVERFLOW;
    if (now_ms > ms) {
        next = CRDT_HLC_MAKE(now_ms, 0);
    } else if (ctr < 0xffff) {
        next = CRDT_HLC_MAKE(ms, ctr + 1);
    } else {
        /* Counter overflow: carry into the next millisecond. */
        if (ms + 1 > CRDT_HLC_MAX_MS || ms + 1 > now_ms + h->max_skew_ms)
            return TX_EOVERFLOW;
        next = CRDT_HLC_MAKE(ms + 1, 0);
        h->carries++;
    }
    h->last = next;
    *out = next;
    return TX_OK;
}

int crdt_hlc_recv(struct crdt_hlc *h, uint64_t now_ms, uint64_t remote)
{
    if (CRDT_HLC_MS(remote) > now_ms + h->max_skew_ms)
        return TX_ESKEW;
    /* Remember it: the next local timestamp will be strictly larger. */
    if (remote > h->last)
        h->last = remote;
    return TX_OK;
}
