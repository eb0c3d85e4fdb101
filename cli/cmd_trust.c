/* cmd_trust.c - tongxin district init, cert issue|install, certs list, revoke. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (!f)
        return errno == ENOENT ? TX_ENOTFOUND : TX_EIO;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) || fseek(f, 0, SEEK_SET)) {
        fclose(f);
        return TX_ETOOBIG;
    }
    *buf = malloc((size_t)n + 1);
    if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*buf);
        return TX_EIO;
    }
    fclose(f);
    *len = (size_t)n;
    return TX_OK;
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f || fwrite(buf, 1, len, f) != len) {
        if (f)
            fclose(f);
        return TX_EIO;
    }
    return fclose(f) ? TX_EIO : TX_OK;
}

static int district_fail(int err, const char *dir)
{
    if (err == TX_ENOTINIT) {
        fprintf(stderr, "tongxin: %s is not a district directory (tongxin district init)\n", dir);
        return CLI_NOINIT;
    }
    if (err == TX_EINVAL)
        return cli_fail(err, "%s: secret files must be readable by their owner only", dir);
    return cli_fail(err, "district %s", dir);
}

int cmd_district(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin district init --out DIR\n"
        "\n"
        "Create a district: its root key (DIR/root.key, 0600: keep it offline), the\n"
        "district id (DIR/root.pub), the network key and the scope-key master secret.\n"
        "example: tongxin district init --out /media/admin-usb/linchuan\n";
    const char *out = NULL;
    const struct cli_opt opts[] = {{"--out", 1, &out, NULL}, {NULL, 0, NULL, NULL}};
    char *pos[1], hex[NODE_ID_HEX + 1];
    struct node_district *d;
    uint8_t id[CRDT_KEY_BYTES];
    int npos, rc, err;

    (void)c;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if (argc < 1 || strcmp(argv[0], "init") != 0)
        return cli_usage("district init --out DIR");
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 0, &npos)))
        return rc;
    if (!out)
        return cli_usage("district init needs --out DIR");
    err = node_district_init(out, NULL);
    if (err == TX_EEXIST) {
        fprintf(stderr, "tongxin: %s already holds a district\n", out);
        return CLI_FAIL;
    }
    if (err || (err = node_district_open(out, NULL, &d)))
        return district_fail(err, out);
    node_district_id(d, id);
    node_district_close(d);
    node_hex(id, CRDT_KEY_BYTES, hex);
    printf("%s\n", hex);
    fprintf(stderr, "tongxin: district %.8s created in %s; keep root.key offline\n", hex, out);
    return CLI_OK;
}

/* Issue an enrolment file; shared by `cert issue` and `init --district`. */
int cli_issue(const char *ddir, const uint8_t node[CRDT_KEY_BYTES], const char *community, int role,
              const char *name, uint32_t days, uint8_t **blob, size_t *len)
{
    struct node_district *d;
    int err = node_district_open(ddir, NULL, &d);

    if (err)
        return district_fail(err, ddir);
    err = node_district_issue(d, node, community, role, name, days, blob, len);
    node_district_close(d);
    if (err)
        return cli_fail(err, "cert issue");
    return CLI_OK;
}

int cmd_cert(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin cert issue --district DIR NODE_ID --community ID --role ROLE\n"
        "                          [--name NAME] [--days N] --out FILE\n"
        "       tongxin cert install FILE\n"
        "\n"
        "issue:   on the administrator's machine: sign a certificate for NODE_ID and\n"
        "         write its enrolment file (certificate, network key and the scope keys\n"
        "         the node may read, all sealed to that node). --days defaults to 730.\n"
        "install: on the node: adopt the district and publish the certificate.\n"
        "example: tongxin cert issue --district /media/admin/linchuan 3fa1... \\\n"
        "           --community xidajie --role office --out xidajie.enrol\n";
    const char *ddir = NULL, *community = NULL, *role = NULL, *name = NULL, *days = NULL,
               *out = NULL;
    const struct cli_opt opts[] = {
        {"--district", 1, &ddir, NULL}, {"--community", 1, &community, NULL},
        {"--role", 1, &role, NULL},     {"--name", 1, &name, NULL},
        {"--days", 1, &days, NULL},     {"--out", 1, &out, NULL},
        {NULL, 0, NULL, NULL}};
    char *pos[1];
    int npos, rc, err;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if (argc < 1)
        return cli_usage("cert issue|install");
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 1, &npos)))
        return rc;
    if (strcmp(argv[0], "issue") == 0) {
        uint8_t node[CRDT_KEY_BYTES], *blob = NULL;
        size_t len = 0;
        long nd = days ? strtol(days, NULL, 10) : 730;
        int r;

        if (npos != 1 || node_unhex(pos[0], node, CRDT_KEY_BYTES))
            return cli_usage("cert issue needs the full NODE_ID (64 hex digits)");
        if (!ddir || !community || !role || !out)
            return cli_usage("cert issue needs --district, --community, --role and --out");
        if (!(r = node_role_parse(role)))
            return cli_usage("role '%s': office, hub or relay", role);
        if (nd <= 0 || nd > 36500)
            return cli_usage("--days: 1 to 36500");
        if ((rc = cli_issue(ddir, node, community, r, name, (uint32_t)nd, &blob, &len)))
            return rc;
        err = write_file(out, blob, len);
        tx_free(blob);
        if (err)
            return cli_fail(err, "write %s", out);
        fprintf(stderr, "tongxin: enrolment for %.8s written to %s\n", pos[0], out);
        return CLI_OK;
    }
    if (strcmp(argv[0], "install") == 0) {
        struct node_store *s;
        uint8_t *buf;
        size_t len;

        if (npos != 1)
            return cli_usage("cert install FILE");
        if ((err = read_file(pos[0], &buf, &len)))
            return cli_fail(err, "read %s", pos[0]);
        if ((rc = cli_open(c, 0, &s))) {
            free(buf);
            return rc;
        }
        err = node_enrol_install(s, buf, len);
        node_close(s);
        free(buf);
        if (err == TX_ECERT)
            return cli_fail(err, "%s: not a valid enrolment for this node", pos[0]);
        if (err == TX_EDISTRICT)
            return cli_fail(err, "%s: this node belongs to another district", pos[0]);
        if (err)
            return cli_fail(err, "cert install %s", pos[0]);
        printf("enrolled\n");
        return CLI_OK;
    }
    return cli_usage("unknown cert command '%s'", argv[0]);
}

static int certs_cb(const struct node_cert_info *ci, void *vctx)
{
    struct cli_list *cc = vctx;
    char hex[NODE_ID_HEX + 1], exp[40];
    const char *state = ci->state == NODE_CERT_VALID     ? "valid"
                        : ci->state == NODE_CERT_EXPIRED ? "expired"
                                                         : "revoked";

    node_hex(ci->cert.node, CRDT_KEY_BYTES, hex);
    cli_time(ci->cert.expires_ms, exp, sizeof(exp));
    if (cc->json) {
        json_t *o = json_object();

        json_object_set_new(o, "node", json_string(hex));
        json_object_set_new(o, "name", json_string(ci->cert.name));
        json_object_set_new(o, "community", json_string(ci->cert.community));
        json_object_set_new(o, "role", json_string(node_role_name(ci->cert.role)));
        json_object_set_new(o, "state", json_string(state));
        json_object_set_new(o, "issued_ms", json_integer((json_int_t)ci->cert.issued_ms));
        json_object_set_new(o, "expires_ms", json_integer((json_int_t)ci->cert.expires_ms));
        if (ci->state == NODE_CERT_REVOKED)
            json_object_set_new(o, "revoked_after_seq", json_integer((json_int_t)ci->revoked_cut));
        cli_list_add(cc, o);
        return 0;
    }
    hex[NODE_SHORT_ID] = '\0';
    {
        const char *row[] = {hex,
                             ci->cert.name[0] ? ci->cert.name : "-",
                             ci->cert.community,
                             node_role_name(ci->cert.role),
                             state,
                             exp};
        cli_list_row(cc, row);
    }
    return 0;
}

int cmd_certs(struct cli *c, int argc, char **argv)
{
    static const char help[] = "usage: tongxin certs list [--json]\n\nNodes known to this "
                               "node: role, community, valid/expired/revoked.\n";
    struct cli_list cc;
    const struct cli_opt opts[] = {{"--json", 0, NULL, &cc.json}, {NULL, 0, NULL, NULL}};
    static const char *const hdr[] = {"NODE", "NAME", "COMMUNITY", "ROLE", "STATE", "EXPIRES"};
    struct node_store *s;
    char *pos[1];
    int npos, rc, err;

    memset(&cc, 0, sizeof(cc));
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if (argc < 1 || strcmp(argv[0], "list") != 0)
        return cli_usage("certs list [--json]");
    if ((rc = cli_parse(argc - 1, argv + 1, opts, pos, 0, &npos)) || (rc = cli_open(c, 1, &s)))
        return rc;
    cli_list_begin(&cc, 6, hdr);
    err = node_certs_each(s, certs_cb, &cc);
    node_close(s);
    if (cli_list_end(&cc, err))
        return cli_fail(err, "certs list");
    return CLI_OK;
}

int cmd_revoke(struct cli *c, int argc, char **argv)
{
    static const char help[] =
        "usage: tongxin -D NODE_DIR revoke --district DIR NODE_ID [--after-seq N] --reason TEXT\n"
        "\n"
        "Write a root-signed revocation of NODE_ID into this node's store (normally the\n"
        "hub's), from where it spreads with sync and bundles: the node's envelopes after\n"
        "seq N are refused everywhere, and every scope it could read moves to a new key\n"
        "epoch it cannot open. Without --after-seq, N is the last of its envelopes this\n"
        "store holds (refused if it holds none); --after-seq 0 drops everything it wrote.\n";
    const char *ddir = NULL, *after = NULL, *reason = NULL;
    const struct cli_opt opts[] = {{"--district", 1, &ddir, NULL},
                                   {"--after-seq", 1, &after, NULL},
                                   {"--reason", 1, &reason, NULL},
                                   {NULL, 0, NULL, NULL}};
    char *pos[1];
    uint8_t node[CRDT_KEY_BYTES];
    struct node_district *d;
    struct node_store *s;
    int npos, rc, err;
    uint64_t cut = NODE_CUT_HEAD;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos)))
        return rc;
    if (npos != 1 || node_unhex(pos[0], node, CRDT_KEY_BYTES))
        return cli_usage("revoke needs the full NODE_ID (64 hex digits)");
    if (!ddir || !reason)
        return cli_usage("revoke needs --district DIR and --reason TEXT");
    if (after) {
        char *end;

        errno = 0;
        cut = strtoull(after, &end, 10); /* which would take "-2" as 2^64 - 2 */
        if (*after < '0' || *after > '9' || errno || *end || cut == NODE_CUT_HEAD)
            return cli_usage("--after-seq needs a number (0 drops everything the node wrote)");
    }
    if ((err = node_district_open(ddir, NULL, &d)))
        return district_fail(err, ddir);
    if ((rc = cli_open(c, 0, &s))) {
        node_district_close(d);
        return rc;
    }
    {
        struct node_info self;

        node_info(s, &self);
        if (memcmp(self.id, node, CRDT_KEY_BYTES) == 0) {
            node_close(s);
            node_district_close(d);
            return cli_usage("a node cannot be revoked through its own store (its revocation "
                             "would lie beyond its own cut): run this on another node's data "
                             "directory, such as the hub's");
        }
    }
    err = node_district_revoke(d, s, node, cut, reason);
    node_close(s);
    node_district_close(d);
    if (err == TX_ENOTFOUND && cut == NODE_CUT_HEAD)
        return cli_fail(err,
                        "%.8s: not issued by this district, or this store holds nothing "
                        "of it (give --after-seq)",
                        pos[0]);
    if (err == TX_ENOTFOUND)
        return cli_fail(err, "%.8s was not issued by this district", pos[0]);
    if (err == TX_EDISTRICT)
        return cli_fail(err, "this store is not enrolled in that district");

    if (err)
        return cli_fail(err, "revoke");
    printf("revoked %.8s; keys rotated\n", pos[0]);
    return CLI_OK;
}
