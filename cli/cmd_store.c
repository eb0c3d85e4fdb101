/* cmd_store.c - tongxin init, id, log, digest, verify, bundle, keys, status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <unistd.h>

#include "cli.h"
#include "status.h"

static int help_or(int argc, char **argv, const char *text)
{
    if (cli_wants_help(argc, argv)) {
        fputs(text, stdout);
        return 1;
    }
    return 0;
}

static uint64_t now_ms(void)
{
    return cli_now_ms();
}

/* ---- init ---- */

int cmd_init(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin [-D DIR] init --community ID --role office|hub|relay [--name NAME]\n"
        "                            [--district DISTRICT_DIR]\n"
        "\n"
        "Create a node: its key pair (DIR/node.key, mode 0600) and its store. With\n"
        "--district, also issue and install its certificate (administrator's machine).\n"
        "example: tongxin -D /var/lib/tongxin init --community xidajie --role office \\\n"
        "           --name \"西大街社区\"\n";
    const char *community = NULL, *role = NULL, *name = NULL, *ddir = NULL;
    const struct cli_opt opts[] = {{"--community", 1, &community, NULL},
                                   {"--role", 1, &role, NULL},
                                   {"--name", 1, &name, NULL},
                                   {"--district", 1, &ddir, NULL},
                                   {NULL, 0, NULL, NULL}};
    struct node_init_opts io;
    struct node_store *s;
    struct node_info info;
    char *pos[1], hex[NODE_ID_HEX + 1];
    int npos, rc, err;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos)))
        return rc;
    if (!community || !role)
        return cli_usage("init needs --community and --role");
    io.community = community;
    io.role = node_role_parse(role);
    io.name = name;
    if (!io.role)
        return cli_usage("role '%s': office, hub or relay", role);
    err = node_init(c->dir, &io, NULL);
    if (err == TX_EEXIST) {
        fprintf(stderr, "tongxin: %s already holds a node\n", c->dir);
        return CLI_FAIL;
    }
    if (err == TX_EINVAL)
        return cli_usage("community '%s': 1 to %d of [a-z0-9_-]; name: at most %d bytes", community,
                         NODE_MAX_COMMUNITY, NODE_MAX_NAME);
    if (err)
        return cli_fail(err, "init %s", c->dir);
    if ((rc = cli_open(c, ddir ? 0 : 1, &s)))
        return rc;
    node_info(s, &info);
    if (ddir) {
        /* The administrator's shortcut: issue and install in one go. */
        uint8_t *blob = NULL;
        size_t len = 0;

        if ((rc = cli_issue(ddir, info.id, community, io.role, name, 730, &blob, &len))) {
            node_close(s);
            return rc;
        }
        err = node_enrol_install(s, blob, len);
        tx_free(blob);
        if (err) {
            node_close(s);
            return cli_fail(err, "enrol %s", c->dir);
        }
    }
    node_close(s);
    node_hex(info.id, CRDT_KEY_BYTES, hex);
    printf("%s\n", hex);
    fprintf(stderr, "tongxin: initialised %s node %.8s for community %s in %s\n",
            node_role_name(info.role), hex, info.community, c->dir);
    return CLI_OK;
}

/* ---- id ---- */

int cmd_id(struct cli *c, int argc, char **argv)
{
    static const char help[] = "usage: tongxin id [--json]\n\nThis node's id (hex public key) "
                               "on the first line.\n";
    int json = 0, npos, rc;
    char *pos[1], hex[NODE_ID_HEX + 1];
    const struct cli_opt opts[] = {{"--json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
    struct node_store *s;
    struct node_info info;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos)) || (rc = cli_open(c, 1, &s)))
        return rc;
    node_info(s, &info);
    node_close(s);
    node_hex(info.id, CRDT_KEY_BYTES, hex);
    if (json) {
        json_t *o = json_object();

        json_object_set_new(o, "id", json_string(hex));
        json_object_set_new(o, "short", json_stringn(hex, NODE_SHORT_ID));
        json_object_set_new(o, "community", json_string(info.community));
        json_object_set_new(o, "role", json_string(node_role_name(info.role)));
        json_object_set_new(o, "name", json_string(info.name));
        cli_json_print(o);
    } else {
        printf("%s\n", hex);
    }
    return CLI_OK;
}

/* ---- log ---- */

static int log_cb(const struct node_log_entry *e, void *vctx)
{
    struct cli_list *lc = vctx;
    char hex[NODE_ID_HEX + 1], when[40], seq[24], epoch[16], size[24], arr[24];

    node_hex(e->origin, CRDT_KEY_BYTES, hex);
    cli_time(CRDT_HLC_MS(e->hlc), when, sizeof(when));
    if (lc->json) {
        json_t *o = json_object();
        char h[CRDT_HASH_BYTES * 2 + 1];

        node_hex(e->hash, CRDT_HASH_BYTES, h);
        json_object_set_new(o, "origin", json_string(hex));
        json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
        json_object_set_new(o, "hlc", json_integer((json_int_t)e->hlc));
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "scope", json_string(e->scope));
        json_object_set_new(o, "epoch", json_integer(e->epoch));
        json_object_set_new(o, "readable", json_boolean(e->readable));
        json_object_set_new(o, "hash", json_string(h));
        json_object_set_new(o, "size", json_integer((json_int_t)e->size));
        if (e->arrival)
            json_object_set_new(o, "arrival", json_integer((json_int_t)e->arrival));
        cli_list_add(lc, o);
        return 0;
    }
    hex[NODE_SHORT_ID] = '\0';
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->seq);
    snprintf(epoch, sizeof(epoch), "%u", e->epoch);
    snprintf(size, sizeof(size), "%zu", e->size);
    snprintf(arr, sizeof(arr), "%llu", (unsigned long long)e->arrival);
    {
        const char *row[] = {e->arrival ? arr : "-",     hex, seq, when, e->scope, epoch,
                             e->readable ? "yes" : "no", size};
        cli_list_row(lc, row);
    }
    return 0;
}

int cmd_log(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin log [--origin NODE_ID] [--json]\n"
        "\n"
        "Stored envelopes in arrival order (or one origin's chain): origin, seq, HLC\n"
        "time, scope, key epoch, whether this node can read it, size.\n";
    const char *origin = NULL;
    struct cli_list lc;
    const struct cli_opt opts[] = {
        {"--origin", 1, &origin, NULL}, {"--json", 0, NULL, &lc.json}, {NULL, 0, NULL, NULL}};
    static const char *const hdr[] = {"ARRIVAL", "ORIGIN", "SEQ",      "TIME",
                                      "SCOPE",   "EPOCH",  "READABLE", "BYTES"};
    uint8_t ob[CRDT_KEY_BYTES];
    struct node_store *s;
    char *pos[1];
    int npos, rc, err;

    memset(&lc, 0, sizeof(lc));
    if (help_or(argc, argv, help))
        return CLI_OK;
    if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos)))
        return rc;
    if (origin && node_unhex(origin, ob, CRDT_KEY_BYTES))
        return cli_usage("--origin needs a full node id (64 hex digits)");
    if ((rc = cli_open(c, 1, &s)))
        return rc;
    cli_list_begin(&lc, 8, hdr);
    err = node_log_each(s, origin ? ob : NULL, 0, log_cb, &lc);
    node_close(s);
    if (cli_list_end(&lc, err))
        return err == TX_ENOTFOUND
                   ? (fprintf(stderr, "tongxin: origin %s: unknown here\n", origin), CLI_NOTFOUND)
                   : cli_fail(err, "log");
    return CLI_OK;
}

/* ---- digest ---- */

int cmd_digest(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin digest [--log]\n"
        "\n"
        "One line: the hex BLAKE2b-256 state digest over every record this node reads.\n"
        "With --log: the digest of the set of stored envelopes (equal on any two nodes\n"
        "holding the same envelopes, whatever they can read).\n";
    int log = 0, npos, rc, err;
    const struct cli_opt opts[] = {{"--log", 0, NULL, &log}, {NULL, 0, NULL, NULL}};
    uint8_t d[CRDT_HASH_BYTES];
    char hex[2 * CRDT_HASH_BYTES + 1], *pos[1];
    struct node_store *s;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos)) || (rc = cli_open(c, 1, &s)))
        return rc;
    err = log ? node_digest_log(s, d) : node_digest(s, d);
    node_close(s);
    if (err)
        return cli_fail(err, "digest");
    node_hex(d, sizeof(d), hex);
    printf("%s\n", hex);
    return CLI_OK;
}

/* ---- verify ---- */

static void on_problem(const char *what, void *ctx)
{
    (*(int *)ctx)++;
    fprintf(stderr, "tongxin: verify: %s\n", what);
}

int cmd_verify(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin verify\n"
        "\n"
        "Re-check every stored envelope's signature and every origin's hash chain.\n"
        "Exit 0 only if all hold; each problem is one line on stderr (exit 5),\n"
        "including envelopes whose own signature fails although a later signature\n"
        "of their chain authenticates them (the origin signed badly).\n";
    int npos, rc, err, problems = 0;
    char *pos[1];
    struct node_store *s;
    struct node_stats st;
    struct node_verify_report vr;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if ((rc = cli_parse(argc, argv, NULL, pos, 0, &npos)) || (rc = cli_open(c, 1, &s)))
        return rc;
    err = node_verify_ex(s, on_problem, &problems, &vr);
    node_stats(s, &st);
    node_close(s);
    if (err == TX_OK && vr.covered_badsig) {
        fprintf(stderr,
                "tongxin: verify: %llu envelope(s) signed badly by their origin, authenticated "
                "by a later signature; nothing is corrupt, but that origin's software is "
                "faulty or hostile\n",
                (unsigned long long)vr.covered_badsig);
        return CLI_INTEGRITY;
    }
    if (err == TX_ECORRUPT) {
        fprintf(stderr, "tongxin: verify: %d problem(s) in %llu envelopes\n", problems,
                (unsigned long long)st.envelopes);
        return CLI_INTEGRITY;
    }
    if (err)
        return cli_fail(err, "verify");
    printf("verify: %llu origins, %llu envelopes: every signature and chain holds\n",
           (unsigned long long)st.origins, (unsigned long long)st.envelopes);
    return CLI_OK;
}

/* ---- bundle ---- */

static json_t *ingest_json(const struct node_ingest_report *r)
{
    json_t *o = json_object(), *by = json_object();

    json_object_set_new(o, "accepted", json_integer((json_int_t)r->accepted));
    json_object_set_new(o, "duplicate", json_integer((json_int_t)r->duplicate));
    json_object_set_new(o, "held", json_integer((json_int_t)r->held));
    json_object_set_new(o, "unreadable", json_integer((json_int_t)r->unreadable));
    json_object_set_new(o, "rejected", json_integer((json_int_t)r->rejected));
    json_object_set_new(o, "equivocations", json_integer((json_int_t)r->equivocations));
    for (int i = 1; i < NODE_R_COUNT; i++) {
        char name[32];
        const char *n = node_reason_name(i);

        if (!r->by_reason[i] || !n)
            continue;
        for (size_t k = 0; k <= strlen(n); k++)
            name[k] = (char)(n[k] >= 'A' && n[k] <= 'Z' ? n[k] - 'A' + 'a' : n[k]);
        json_object_set_new(by, name, json_integer((json_int_t)r->by_reason[i]));
    }
    json_object_set_new(o, "by_reason", by);
    return o;
}

static void ingest_print(const struct node_ingest_report *r)
{
    printf("accepted %llu, duplicate %llu, held %llu, rejected %llu",
           (unsigned long long)r->accepted, (unsigned long long)r->duplicate,
           (unsigned long long)r->held, (unsigned long long)r->rejected);
    if (r->unreadable)
        printf(" (%llu accepted but not readable here: kept for relaying)",
               (unsigned long long)r->unreadable);
    printf("\n");
    for (int i = 1; i < NODE_R_COUNT; i++)
        if (r->by_reason[i])
            printf("  %-16s %llu  %s\n", node_reason_name(i), (unsigned long long)r->by_reason[i],
                   node_reason_msg(i));
}

int cmd_bundle(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin bundle export FILE [--for NODE_ID]\n"
        "       tongxin bundle import FILE [--json]\n"
        "\n"
        "export: write every stored envelope, or only what NODE_ID lacks by its last\n"
        "        known vector, in causal order, to FILE (atomically).\n"
        "import: check FILE whole (format, checksum), then ingest it with the same\n"
        "        verification as the network; prints accepted, duplicate, held and\n"
        "        rejected counts by reason. A corrupted file applies nothing (exit 5).\n"
        "example: tongxin bundle export /media/usb/xidajie.txb --for 3fa1...\n";
    const char *for_peer = NULL;
    int json = 0, npos, rc, err;
    const struct cli_opt opts[] = {
        {"--for", 1, &for_peer, NULL}, {"--json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
    char *pos[2];
    struct node_store *s;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if (argc < 1)
        return cli_usage("bundle export|import FILE");
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 1, &npos)))
        return rc;
    if (npos != 1)
        return cli_usage("bundle %s needs FILE", argv[0]);
    if (strcmp(argv[0], "export") == 0) {
        uint8_t peer[CRDT_KEY_BYTES];
        uint64_t n = 0;

        if (for_peer && node_unhex(for_peer, peer, CRDT_KEY_BYTES))
            return cli_usage("--for needs a full node id (64 hex digits)");
        if ((rc = cli_open(c, 1, &s)))
            return rc;
        err = node_bundle_export(s, pos[0], for_peer ? peer : NULL, &n);
        node_close(s);
        if (err)
            return cli_fail(err, "bundle export %s", pos[0]);
        if (json) {
            json_t *o = json_object();

            json_object_set_new(o, "file", json_string(pos[0]));
            json_object_set_new(o, "envelopes", json_integer((json_int_t)n));
            cli_json_print(o);
        } else {
            printf("exported %llu envelopes to %s\n", (unsigned long long)n, pos[0]);
        }
        return CLI_OK;
    }
    if (strcmp(argv[0], "import") == 0) {
        struct node_bundle_report br;

        if (for_peer)
            return cli_usage("--for is for export");
        if ((rc = cli_open(c, 0, &s)))
            return rc;
        err = node_bundle_import(s, pos[0], &br);
        node_close(s);
        if (err == TX_ECHECKSUM || err == TX_ETRUNC || err == TX_ECORRUPT) {
            fprintf(stderr, "tongxin: bundle %s: %s%s; nothing applied\n", pos[0], tx_strerror(err),
                    err == TX_ETRUNC      ? " (the file is cut short)"
                    : err == TX_ECHECKSUM ? " (the file is damaged)"
                                          : " (not a valid bundle)");
            return CLI_INTEGRITY;
        }
        if (err == TX_EVERSION) {
            fprintf(stderr, "tongxin: bundle %s: made by a newer Tongxin (format version)\n",
                    pos[0]);
            return CLI_INTEGRITY;
        }
        if (err)
            return cli_fail(err, "bundle import %s", pos[0]);
        if (json) {
            json_t *o = ingest_json(&br.ingest);

            json_object_set_new(o, "envelopes", json_integer((json_int_t)br.envelopes));
            cli_json_print(o);
        } else {
            printf("%llu envelopes: ", (unsigned long long)br.envelopes);
            ingest_print(&br.ingest);
        }
        return CLI_OK;
    }
    return cli_usage("unknown bundle command '%s'", argv[0]);
}

/* ---- keys ---- */

static int keys_cb(const struct node_key_info *k, void *vctx)
{
    struct cli_list *kc = vctx;
    char ep[16];

    if (kc->json) {
        json_t *o = json_object();

        json_object_set_new(o, "scope", json_string(k->scope));
        json_object_set_new(o, "epoch", json_integer(k->epoch));
        json_object_set_new(o, "readable", json_boolean(k->readable));
        json_object_set_new(o, "plaintext", json_boolean(k->epoch == 0));
        cli_list_add(kc, o);
        return 0;
    }
    snprintf(ep, sizeof(ep), "%u", k->epoch);
    {
        const char *row[] = {k->scope, ep, k->epoch == 0 ? "public" : k->readable ? "yes" : "no"};
        cli_list_row(kc, row);
    }
    return 0;
}

int cmd_keys(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin keys list [--json]\n"
        "       tongxin keys export SCOPE --to NODE_ID -o FILE\n"
        "       tongxin keys import FILE\n"
        "\n"
        "list:   scopes and key epochs seen here, and whether this node can read them.\n"
        "export: wrap this node's newest key of SCOPE for another node (only that\n"
        "        node can open the file).\n"
        "import: install a wrapped key addressed to this node; that scope's records\n"
        "        are rebuilt from the log.\n";
    const char *to = NULL, *outf = NULL;
    int json = 0, npos, rc, err;
    const struct cli_opt opts[] = {{"--to", 1, &to, NULL},
                                   {"-o", 1, &outf, NULL},
                                   {"--json", 0, NULL, &json},
                                   {NULL, 0, NULL, NULL}};
    char *pos[1];
    struct node_store *s;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if (argc < 1)
        return cli_usage("keys list|export|import");
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 1, &npos)))
        return rc;
    if (strcmp(argv[0], "list") == 0) {
        struct cli_list kc;
        static const char *const hdr[] = {"SCOPE", "EPOCH", "READABLE"};

        memset(&kc, 0, sizeof(kc));
        kc.json = json;
        if ((rc = cli_open(c, 1, &s)))
            return rc;
        cli_list_begin(&kc, 3, hdr);
        err = node_keys_each(s, keys_cb, &kc);
        node_close(s);
        if (cli_list_end(&kc, err))
            return cli_fail(err, "keys list");
        return CLI_OK;
    }
    if (strcmp(argv[0], "export") == 0) {
        uint8_t reader[CRDT_KEY_BYTES], *blob = NULL;
        size_t len = 0;
        FILE *f;

        if (npos != 1 || !to || !outf)
            return cli_usage("keys export SCOPE --to NODE_ID -o FILE");
        if (node_unhex(to, reader, CRDT_KEY_BYTES))
            return cli_usage("--to needs a full node id (64 hex digits)");
        if ((rc = cli_open(c, 1, &s)))
            return rc;
        err = node_key_wrap(s, pos[0], reader, &blob, &len);
        node_close(s);
        if (err == TX_ENOKEY) {
            fprintf(stderr, "tongxin: keys export: this node holds no key for %s\n", pos[0]);
            return CLI_NOTFOUND;
        }
        if (err)
            return cli_fail(err, "keys export %s", pos[0]);
        f = fopen(outf, "wb");
        if (!f || fwrite(blob, 1, len, f) != len || fclose(f)) {
            tx_free(blob);
            fprintf(stderr, "tongxin: keys export: cannot write %s: %s\n", outf, strerror(errno));
            return CLI_FAIL;
        }
        tx_free(blob);
        return CLI_OK;
    }
    if (strcmp(argv[0], "import") == 0) {
        uint8_t buf[1024];
        size_t len;
        char scope[CRDT_MAX_SCOPE + 1];
        FILE *f;

        if (npos != 1)
            return cli_usage("keys import FILE");
        f = fopen(pos[0], "rb");
        if (!f) {
            fprintf(stderr, "tongxin: keys import: %s: %s\n", pos[0], strerror(errno));
            return CLI_NOTFOUND;
        }
        len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        if ((rc = cli_open(c, 0, &s)))
            return rc;
        err = node_key_import(s, buf, len, scope);
        node_close(s);
        sodium_memzero(buf, sizeof(buf));
        if (err == TX_ENOKEY) {
            fprintf(stderr, "tongxin: keys import: %s is wrapped for another node\n", pos[0]);
            return CLI_FAIL;
        }
        if (err == TX_EEXIST) {
            fprintf(stderr, "tongxin: keys import: key already installed\n");
            return CLI_OK;
        }
        if (err == TX_EDISTRICT) {
            fprintf(stderr, "tongxin: keys import: this node is enrolled in a district, where "
                            "scope keys come only from key wraps signed by the district root "
                            "(the administrator's cert issue or revoke); nothing imported\n");
            return CLI_FAIL;
        }
        if (err)
            return cli_fail(err, "keys import %s", pos[0]);
        printf("installed key for %s\n", scope);
        return CLI_OK;
    }
    return cli_usage("unknown keys command '%s'", argv[0]);
}

/* ---- status ---- */

int cmd_status(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin status [--json]\n"
        "\n"
        "This node (id, name, community, role); each peer (address, node, state, since\n"
        "when, last contact, envelopes and bytes in/out, round trip, how far behind or\n"
        "ahead); each origin's head seq here and each connected peer's distance; held,\n"
        "quarantined, frozen and rejected counts. From the daemon when it runs;\n"
        "otherwise read from the store and marked offline.\n";
    int json = 0, npos, rc, err;
    const struct cli_opt opts[] = {{"--json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
    const char *words[] = {"status"};
    struct node_store *s;
    char *text = NULL, *pos[1];
    json_t *st = NULL;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos)))
        return rc;
    err = cli_ctl_simple(c->dir, words, 1, &text);
    if (err == TX_OK && text) {
        json_error_t je;

        st = json_loads(text, 0, &je);
        free(text);
        if (!st) {
            fprintf(stderr, "tongxin: status: the daemon sent an unreadable answer\n");
            return CLI_FAIL;
        }
    } else {
        free(text);
        if (err != TX_ENOTFOUND)
            fprintf(stderr, "tongxin: status: daemon not answering (%s); reading the store\n",
                    tx_strerror(err));
        if ((rc = cli_open(c, 1, &s)))
            return rc;
        st = cli_status_json(s, NULL, NULL, 0, now_ms());
        node_close(s);
    }
    if (json)
        cli_json_print(st);
    else {
        cli_status_print(st, stdout);
        json_decref(st);
    }
    return CLI_OK;
}

/* ---- peers, sync ---- */

static int need_daemon(int err, const char *what)
{
    if (err == TX_ENOTFOUND) {
        fprintf(stderr,
                "tongxin: %s: no daemon running on this data directory (start "
                "tongxind)\n",
                what);
        return CLI_BUSY;
    }
    return cli_fail(err, "%s", what);
}

int cmd_peers(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin peers add HOST:PORT | remove HOST:PORT | list [--json]\n"
        "\n"
        "Change the running daemon's peers (kept in DIR/peers across restarts), or\n"
        "list them with their state. Needs tongxind.\n"
        "example: tongxin peers add 10.20.0.1:7411\n";
    int json = 0, npos, rc, err;
    const struct cli_opt opts[] = {{"--json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
    char *pos[1], *text = NULL;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if (argc < 1)
        return cli_usage("peers add|remove|list");
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 1, &npos)))
        return rc;
    if (!strcmp(argv[0], "list")) {
        const char *w[] = {"status"};
        json_t *st, *peers, *p;
        json_error_t je;
        size_t i;

        if ((err = cli_ctl_simple(c->dir, w, 1, &text)) || !text)
            return need_daemon(err ? err : TX_EPROTO, "peers list");
        st = json_loads(text, 0, &je);
        free(text);
        if (!st)
            return cli_fail(TX_EPROTO, "peers list");
        peers = json_incref(json_object_get(st, "peers"));
        json_decref(st);
        if (json) {
            cli_json_print(peers);
            return CLI_OK;
        }
        {
            static const char *const hdr[] = {"ADDRESS", "NODE", "NAME", "STATE", "CONFIGURED"};
            struct cli_table t;

            cli_table_init(&t, 5, hdr);
            json_array_foreach(peers, i, p)
            {
                const char *node = json_string_value(json_object_get(p, "node"));
                char shortn[NODE_SHORT_ID + 1];
                const char *name = json_string_value(json_object_get(p, "name"));
                const char *row[5];

                snprintf(shortn, sizeof(shortn), "%s", node ? node : "-");
                row[0] = json_string_value(json_object_get(p, "addr"));
                row[1] = shortn;
                row[2] = name && *name ? name : "-";
                row[3] = json_string_value(json_object_get(p, "state"));
                row[4] = json_is_true(json_object_get(p, "configured")) ? "yes" : "inbound";
                cli_table_add(&t, row);
            }
            cli_table_print(&t, stdout);
            cli_table_release(&t);
        }
        json_decref(peers);
        return CLI_OK;
    }
    if (!strcmp(argv[0], "add") || !strcmp(argv[0], "remove")) {
        const char *w[3] = {"peers", argv[0], NULL};

        if (npos != 1 || !strchr(pos[0], ':'))
            return cli_usage("peers %s HOST:PORT", argv[0]);
        w[2] = pos[0];
        err = cli_ctl_simple(c->dir, w, 3, &text);
        free(text);
        if (err == TX_ENOTFOUND && !strcmp(argv[0], "remove")) {
            /* either no daemon, or no such peer: ask which */
            int fd;

            if (cli_ctl_connect(c->dir, &fd) == TX_OK) {
                close(fd);
                fprintf(stderr, "tongxin: peers remove: %s is not a configured peer\n", pos[0]);
                return CLI_NOTFOUND;
            }
        }
        if (err == TX_EINVAL)
            return cli_usage("peer address: HOST:PORT");
        if (err)
            return need_daemon(err, "peers");
        printf("%s %s\n", !strcmp(argv[0], "add") ? "added" : "removed", pos[0]);
        return CLI_OK;
    }
    return cli_usage("unknown peers command '%s'", argv[0]);
}

int cmd_sync(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin sync now\n"
        "\n"
        "Ask the daemon to exchange vectors with every peer now and to redial peers\n"
        "that are backing off. Needs tongxind.\n";
    const char *w[] = {"sync"};
    char *text = NULL;
    int err;

    if (help_or(argc, argv, help))
        return CLI_OK;
    if (argc != 1 || strcmp(argv[0], "now") != 0)
        return cli_usage("sync now");
    err = cli_ctl_simple(c->dir, w, 1, &text);
    free(text);
    if (err)
        return need_daemon(err, "sync now");
    printf("sync started\n");
    return CLI_OK;
}
