/*
 * fuzz_bundle.c - node_bundle_import over arbitrary files, black-box through
 * the public API, into a real store.
 *
 * A node store is created once, in a fresh directory under $TMPDIR (or /tmp)
 * named after the process, and removed at exit; stores left by processes that
 * are gone (a crash, or libFuzzer ending without exit handlers) are removed
 * when the next run starts. Every input is written to a file there and imported
 * into the store, opened for that input only (NODE_OPEN_NOSYNC) and closed
 * after it, so each input also checks that the store reopens.
 *
 * Input: byte 0 is a flag byte, the rest the file. With bit 0 set the harness
 * appends the trailer a bundle ends with ("TXEND\0\0\0" and the BLAKE2b-256 of
 * everything before it), so mutations get past the checksum to the header and
 * record parsing; without it the bytes are the file as they are.
 *
 * Oracles:
 *  - import returns 0 or a TX_E* code;
 *  - a refused file (TX_ETRUNC, TX_ECHECKSUM, TX_ECORRUPT, TX_EVERSION)
 *    applies nothing: the log digest is unchanged;
 *  - an accepted file reports no more envelopes than it can hold;
 *  - the store is never corrupted: node_verify passes after every input, and
 *    the store opens again for the next one (whatever an injected allocation
 *    failure interrupted);
 *  - no crash, leak or hang.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#include "node.h"

static char dir[512], file[600];
static int ready;

static void rm_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &st))
        return;
    if (S_ISDIR(st.st_mode) && (d = opendir(path))) {
        while ((de = readdir(d))) {
            char sub[1200];

            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < sizeof(sub))
                rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void cleanup(void)
{
    if (dir[0])
        rm_tree(dir);
}

/* Remove fuzz_bundle-<pid>-* directories of processes that no longer run. */
static void remove_stale(const char *tmp)
{
    DIR *d = opendir(tmp);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[1200];
        long pid;
        char *end;

        if (strncmp(de->d_name, "fuzz_bundle-", 12) != 0)
            continue;
        pid = strtol(de->d_name + 12, &end, 10);
        if (end == de->d_name + 12 || *end != '-' || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name) < sizeof(path))
            rm_tree(path);
    }
    closedir(d);
}

static int setup(void)
{
    struct node_init_opts o = {"fuzz", NODE_ROLE_HUB, "bundle fuzzer"};
    const char *tmp = getenv("TMPDIR");
    int err;

    if (ready)
        return 0;
    if (!dir[0]) {
        if (!tmp || !*tmp)
            tmp = "/tmp";
        remove_stale(tmp);
        snprintf(dir, sizeof(dir), "%s/fuzz_bundle-%ld-XXXXXX", tmp, (long)getpid());
        if (!mkdtemp(dir)) {
            perror("fuzz_bundle: mkdtemp");
            abort();
        }
        atexit(cleanup);
        snprintf(file, sizeof(file), "%s/input.bundle", dir);
    }
    err = node_init(dir, &o, NULL);
    if (err == TX_ENOMEM)
        return -1; /* again with the next input */
    if (err && err != TX_EEXIST) {
        fprintf(stderr, "fuzz_bundle: node_init %s: %s\n", dir, tx_strerror(err));
        abort();
    }
    ready = 1;
    return 0;
}

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n) {
        ssize_t w = write(fd, b, n);

        if (w <= 0) {
            perror("fuzz_bundle: write");
            abort();
        }
        b += w;
        n -= (size_t)w;
    }
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        perror("fuzz_bundle: open");
        abort();
    }
    write_all(fd, data + 1, size - 1);
    if (data[0] & 1) {
        uint8_t sum[CRDT_HASH_BYTES];

        crypto_generichash(sum, sizeof(sum), data + 1, size - 1, NULL, 0);
        write_all(fd, "TXEND\0\0\0", 8);
        write_all(fd, sum, sizeof(sum));
    }
    close(fd);
}

static void problem(const char *what, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "fuzz_bundle: node_verify: %s\n", what);
}

static int refusal(int err)
{
    return err == TX_ETRUNC || err == TX_ECHECKSUM || err == TX_ECORRUPT || err == TX_EVERSION;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct node_store *s = NULL;
    struct node_bundle_report rep;
    uint8_t before[CRDT_HASH_BYTES], after[CRDT_HASH_BYTES];
    int err, have_before, v;

    if (size < 1 || setup())
        return 0;
    write_input(data, size);
    err = node_open(dir, NODE_OPEN_NOSYNC, NULL, &s);
    if (err) {
        /* Only an injected allocation failure may keep the store shut. */
        FZ_CHECK(err == TX_ENOMEM);
        unlink(file);
        return 0;
    }
    err = node_digest_log(s, before);
    FZ_CHECK(err == TX_OK || err == TX_ENOMEM);
    have_before = err == TX_OK;

    err = node_bundle_import(s, file, &rep);
    FZ_CHECK(err <= 0);
    if (refusal(err) && have_before && node_digest_log(s, after) == TX_OK)
        FZ_CHECK(memcmp(before, after, sizeof(before)) == 0);
    if (err == TX_OK) {
        size_t body = size - 1;

        /* Each record takes at least 5 bytes. */
        FZ_CHECK(rep.envelopes <= body / 5);
    }

    v = node_verify(s, problem, NULL);
    FZ_CHECK(v == TX_OK || v == TX_ENOMEM);
    node_close(s);
    unlink(file);
    return 0;
}
