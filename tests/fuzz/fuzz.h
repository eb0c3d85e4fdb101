/*
 * fuzz.h - shared helpers for Tongxin's fuzz targets.
 *
 * Each fuzz_*.c file defines LLVMFuzzerTestOneInput and is linked either with
 * clang's libFuzzer (-DTX_FUZZ=ON) or with replay.c, a portable driver that runs
 * the seed corpus and deterministic mutations of it inside the normal test suite.
 *
 * An oracle that fails calls abort(): libFuzzer reports it as a crash and saves
 * the input; replay.c prints the input in hex and the seed that produced it.
 *
 * The replay driver installs an allocator that can fail a chosen allocation, so
 * every target must accept TX_ENOMEM from any call and simply stop checking.
 */
#ifndef TONGXIN_FUZZ_H
#define TONGXIN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fail the run: name the broken property and where, then abort. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz oracle failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);        \
            fflush(stderr);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Largest output any re-encoding here may produce: a canonical re-encoding is
 * exactly as long as its input, and inputs are far smaller than this. */
#define FZ_MAX_OUT (16u << 20)

/* Whether the bytes in w equal data[0..size). */
static inline int fz_same(const struct tx_mpw *w, const uint8_t *data, size_t size)
{
    return w->len == size && (size == 0 || memcmp(w->buf, data, size) == 0);
}

#endif
