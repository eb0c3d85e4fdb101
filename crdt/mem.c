/* mem.c - the one allocation hook every module goes through. */
#include <stdlib.h>
#include <string.h>

#include "crdt.h"

static void *libc_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void *libc_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n);
}

static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static const struct tx_mem libc_mem = {libc_malloc, libc_realloc, libc_free, NULL};
static struct tx_mem cur = {libc_malloc, libc_realloc, libc_free, NULL};

void tx_mem_set(const struct tx_mem *mem)
{
    cur = mem ? *mem : libc_mem;
}

void *tx_malloc(size_t size)
{
    return cur.malloc(cur.ctx, size ? size : 1);
}

void *tx_calloc(size_t n, size_t size)
{
    void *p;

    if (size && n > SIZE_MAX / size)
        return NULL;
    p = tx_malloc(n * size);
    if (p)
        memset(p, 0, n * size > 0 ? n * size : 1);
    return p;
}

void *tx_reallocarray(void *ptr, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return cur.realloc(cur.ctx, ptr, n * size > 0 ? n * size : 1);
}

void tx_free(void *ptr)
{
    if (ptr)
        cur.free(cur.ctx, ptr);
}

char *tx_strndup(const char *s, size_t n)
{
    char *d;

    if (n == SIZE_MAX)
        return NULL;
    d = tx_malloc(n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
