/* internal.h - crdt/ internals shared between its files; not a public header. */
#ifndef TONGXIN_CRDT_INTERNAL_H
#define TONGXIN_CRDT_INTERNAL_H

#include "crdt.h"

int tx__utf8_check(const char *s, size_t n, int allow_newline);
void tx__dot_encode(const struct crdt_dot *d, struct tx_mpw *w);
int tx__dot_decode(struct tx_mpr *r, struct crdt_dot *d);

#endif
