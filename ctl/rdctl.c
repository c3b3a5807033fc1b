/* rdctl: the operator's command line for core-rd. Online commands talk CoAP (or CoAPS) to a
 * running RD and find its interfaces through /.well-known/core (RFC 9176 section 4.3). */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>
#include <jansson.h>

#include "lookup.h"
#include "rdctl_internal.h"

#define DEFAULT_SERVER "coap://[::1]:5683"
/* Largest answer rdctl takes, after Block2 reassembly. */
#define BODY_MAX (16 * 1024 * 1024)
/* Pages one listing fetches at most: bounds the loop whatever the server answers. */
#define PAGES_MAX 100000
#define LOC_MAX   256

/* One request and what came back. */
struct exchange {
    coap_context_t *ctx;
    coap_session_t *session;
    coap_bin_const_t token;
    uint8_t token_buf[8];
    int done;
    int nack;
    unsigned code; /* class * 100 + detail, e.g. 205 */
    char *body;
    size_t len;
    char location[LOC_MAX]; /* Location-Path options joined with '/' */
    int observe;            /* watch: print every notification */
    unsigned notifications;
    unsigned max_notifications;
};

/* The RD's interfaces, from discovery. */
struct rd_paths {
    char rd[LOC_MAX];
    char ep[LOC_MAX];
    char res[LOC_MAX];
};

/* register's own options, in command-line order: "ep=" and its value, and so on. */
#define REG_ARGS_MAX 32
struct reg_args {
    const char *key[REG_ARGS_MAX];
    const char *value[REG_ARGS_MAX];
    size_t n;
};

static void print_body_line(const struct exchange *ex);

static int
same_token(const coap_pdu_t *pdu, const struct exchange *ex)
{
    coap_bin_const_t t = coap_pdu_get_token(pdu);

    return t.length == ex->token.length && memcmp(t.s, ex->token.s, t.length) == 0;
}

static coap_response_t
on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
            const coap_mid_t mid)
{
    struct exchange *ex = coap_session_get_app_data(session);
    coap_opt_iterator_t it;
    coap_opt_t *opt;
    const uint8_t *data = NULL;
    size_t len = 0;
    size_t offset = 0;
    size_t total = 0;

    (void)sent;
    (void)mid;
    if (!ex || !same_token(received, ex)) {
        return COAP_RESPONSE_FAIL;
    }
    ex->code = (unsigned)COAP_RESPONSE_CLASS(coap_pdu_get_code(received)) * 100 +
               (coap_pdu_get_code(received) & 0x1f);
    free(ex->body);
    ex->body = NULL;
    ex->len = 0;
    if (coap_get_data_large(received, &len, &data, &offset, &total) && len <= BODY_MAX) {
        ex->body = malloc(len + 1);
        if (ex->body) {
            if (len) {
                memcpy(ex->body, data, len);
            }
            ex->body[len] = '\0';
            ex->len = len;
        }
    }
    ex->location[0] = '\0';
    coap_option_iterator_init(received, &it, COAP_OPT_ALL);
    while ((opt = coap_option_next(&it)) != NULL) {
        size_t used = strlen(ex->location);
        unsigned olen = coap_opt_length(opt);

        if (it.number != COAP_OPTION_LOCATION_PATH || used + olen + 2 > sizeof(ex->location)) {
            continue;
        }
        if (used) {
            ex->location[used++] = '/';
        }
        memcpy(ex->location + used, coap_opt_value(opt), olen);
        ex->location[used + olen] = '\0';
    }
    if (ex->observe) {
        ex->notifications++;
        print_body_line(ex);
        if (ex->max_notifications && ex->notifications >= ex->max_notifications) {
            ex->done = 1;
        }
        return COAP_RESPONSE_OK;
    }
    ex->done = 1;
    return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
        const coap_mid_t mid)
{
    struct exchange *ex = coap_session_get_app_data(session);

    (void)sent;
    (void)reason;
    (void)mid;
    if (ex) {
        ex->nack = 1;
        ex->done = 1;
    }
}

/* Connect to @p server: "coap://host[:port]", "coaps://...", "coap+tcp://..." or
 * "coaps+tcp://...". */
static int
connect_rd(const struct rdctl_opts *o, struct exchange *ex)
{
    coap_uri_t uri;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    coap_address_t dst;
    char host[256];
    char port[8];
    coap_proto_t proto;
    int secure;

    memset(ex, 0, sizeof(*ex));
    if (coap_split_uri((const uint8_t *)o->server, strlen(o->server), &uri) < 0 ||
        uri.host.length >= sizeof(host) ||
        (uri.scheme != COAP_URI_SCHEME_COAP && uri.scheme != COAP_URI_SCHEME_COAPS &&
         uri.scheme != COAP_URI_SCHEME_COAP_TCP && uri.scheme != COAP_URI_SCHEME_COAPS_TCP)) {
        fprintf(stderr,
                "rdctl: --server %s: expected coap://HOST[:PORT] (or coaps://, coap+tcp://, "
                "coaps+tcp://)\n",
                o->server);
        return RDCTL_EXIT_USAGE;
    }
    proto = uri.scheme == COAP_URI_SCHEME_COAPS       ? COAP_PROTO_DTLS
            : uri.scheme == COAP_URI_SCHEME_COAP_TCP  ? COAP_PROTO_TCP
            : uri.scheme == COAP_URI_SCHEME_COAPS_TCP ? COAP_PROTO_TLS
                                                      : COAP_PROTO_UDP;
    secure = proto == COAP_PROTO_DTLS || proto == COAP_PROTO_TLS;
    memcpy(host, uri.host.s, uri.host.length);
    host[uri.host.length] = '\0';
    snprintf(port, sizeof(port), "%u", uri.port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype =
        (proto == COAP_PROTO_TCP || proto == COAP_PROTO_TLS) ? SOCK_STREAM : SOCK_DGRAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
        fprintf(stderr, "rdctl: cannot resolve %s\n", host);
        return RDCTL_EXIT_NET;
    }
    coap_address_init(&dst);
    dst.size = res->ai_addrlen;
    memcpy(&dst.addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    ex->ctx = coap_new_context(NULL);
    if (!ex->ctx) {
        return RDCTL_EXIT_NET;
    }
    coap_context_set_block_mode(ex->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_register_response_handler(ex->ctx, on_response);
    coap_register_nack_handler(ex->ctx, on_nack);
    if (secure) {
        coap_dtls_cpsk_t psk;

        if (!o->psk_id || !o->psk_key) {
            fprintf(stderr, "rdctl: %s needs --psk-identity and --psk-key\n",
                    proto == COAP_PROTO_TLS ? "coaps+tcp://" : "coaps://");
            return RDCTL_EXIT_USAGE;
        }
        memset(&psk, 0, sizeof(psk));
        psk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        psk.client_sni = host;
        psk.psk_info.identity.s = (const uint8_t *)o->psk_id;
        psk.psk_info.identity.length = strlen(o->psk_id);
        psk.psk_info.key.s = (const uint8_t *)o->psk_key;
        psk.psk_info.key.length = strlen(o->psk_key);
        ex->session = coap_new_client_session_psk2(ex->ctx, NULL, &dst, proto, &psk);
    } else {
        ex->session = coap_new_client_session(ex->ctx, NULL, &dst, proto);
    }
    if (!ex->session) {
        fprintf(stderr, "rdctl: cannot open a session to %s\n", o->server);
        return RDCTL_EXIT_NET;
    }
    coap_session_set_app_data(ex->session, ex);
    return RDCTL_EXIT_OK;
}

static void
disconnect_rd(struct exchange *ex)
{
    free(ex->body);
    if (ex->session) {
        coap_session_release(ex->session);
    }
    if (ex->ctx) {
        coap_free_context(ex->ctx);
    }
    memset(ex, 0, sizeof(*ex));
}

/* Add "a/b/c" as Uri-Path options. */
static void
add_path(coap_optlist_t **opts, const char *path)
{
    while (*path == '/') {
        path++;
    }
    while (*path) {
        size_t n = strcspn(path, "/");

        coap_insert_optlist(opts, coap_new_optlist(COAP_OPTION_URI_PATH, n, (const uint8_t *)path));
        path += n;
        while (*path == '/') {
            path++;
        }
    }
}

/*
 * Send one request and wait for its answer (or, with ex->observe, for notifications until
 * enough came or the time is up). @p query holds Uri-Query options, each one whole (never
 * re-split at '&'), @p nquery of them.
 */
static int
request(const struct rdctl_opts *o, struct exchange *ex, coap_pdu_code_t method, const char *path,
        const char *const *query, size_t nquery, const char *payload, size_t plen, int ct)
{
    coap_optlist_t *opts = NULL;
    coap_pdu_t *pdu;
    uint8_t buf[4];
    size_t tlen = 0;
    time_t deadline = time(NULL) + (time_t)o->timeout_s;

    ex->done = 0;
    ex->nack = 0;
    ex->code = 0;
    pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(ex->session),
                        coap_session_max_pdu_size(ex->session));
    if (!pdu) {
        return RDCTL_EXIT_NET;
    }
    coap_session_new_token(ex->session, &tlen, ex->token_buf);
    coap_add_token(pdu, tlen, ex->token_buf);
    ex->token.s = ex->token_buf;
    ex->token.length = tlen;
    if (ex->observe) {
        coap_insert_optlist(
            &opts,
            coap_new_optlist(COAP_OPTION_OBSERVE, coap_encode_var_safe(buf, sizeof(buf), 0), buf));
    }
    add_path(&opts, path);
    if (ct >= 0) {
        coap_insert_optlist(
            &opts, coap_new_optlist(COAP_OPTION_CONTENT_FORMAT,
                                    coap_encode_var_safe(buf, sizeof(buf), (unsigned)ct), buf));
    }
    for (size_t i = 0; i < nquery; i++) {
        coap_insert_optlist(&opts, coap_new_optlist(COAP_OPTION_URI_QUERY, strlen(query[i]),
                                                    (const uint8_t *)query[i]));
    }
    coap_add_optlist_pdu(pdu, &opts);
    coap_delete_optlist(opts);
    if (payload && !coap_add_data_large_request(ex->session, pdu, plen, (const uint8_t *)payload,
                                                NULL, NULL)) {
        coap_delete_pdu(pdu);
        return RDCTL_EXIT_NET;
    }
    if (coap_send(ex->session, pdu) == COAP_INVALID_MID) {
        fprintf(stderr, "rdctl: cannot send to %s\n", o->server);
        return RDCTL_EXIT_NET;
    }
    while (!ex->done && time(NULL) < deadline) {
        if (coap_io_process(ex->ctx, 200) < 0) {
            break;
        }
    }
    if (ex->observe) {
        return RDCTL_EXIT_OK;
    }
    if (!ex->done || ex->nack) {
        fprintf(stderr, "rdctl: no answer from %s within %u s\n", o->server, o->timeout_s);
        return RDCTL_EXIT_NET;
    }
    if (ex->code >= 400) {
        fprintf(stderr, "rdctl: %u.%02u %s\n", ex->code / 100, ex->code % 100,
                ex->body ? ex->body : "");
        return RDCTL_EXIT_REFUSED;
    }
    return RDCTL_EXIT_OK;
}

/* Fill @p p from GET /.well-known/core?rt=core.rd*, RFC 9176 section 4.3. */
static int
discover(const struct rdctl_opts *o, struct exchange *ex, struct rd_paths *p, int print)
{
    static const char *const q[] = { "rt=core.rd*" };
    struct lookup_links links;
    int rc;

    memset(p, 0, sizeof(*p));
    rc = request(o, ex, COAP_REQUEST_CODE_GET, ".well-known/core", q, 1, NULL, 0, -1);
    if (rc) {
        return rc;
    }
    if (lookup_links_parse(&links, ex->body ? ex->body : "", ex->len, 64, NULL, 0)) {
        fprintf(stderr, "rdctl: the discovery answer is not link-format\n");
        return RDCTL_EXIT_DATA;
    }
    for (size_t i = 0; i < links.nlinks; i++) {
        const struct lookup_link *l = &links.links[i];

        for (size_t a = 0; a < l->nattrs; a++) {
            const char *v = l->attrs[a].value;
            char *dst = NULL;

            if (strcmp(l->attrs[a].name, "rt") != 0 || !v) {
                continue;
            }
            if (strcmp(v, "core.rd") == 0) {
                dst = p->rd;
            } else if (strcmp(v, "core.rd-lookup-ep") == 0) {
                dst = p->ep;
            } else if (strcmp(v, "core.rd-lookup-res") == 0) {
                dst = p->res;
            }
            if (dst && l->target[0] == '/') {
                snprintf(dst, LOC_MAX, "%s", l->target + 1);
            }
        }
        if (print) {
            printf("%s\n", l->target);
        }
    }
    lookup_links_cleanup(&links);
    if (!p->rd[0] && !p->ep[0] && !p->res[0]) {
        fprintf(stderr, "rdctl: %s advertises no resource directory\n", o->server);
        return RDCTL_EXIT_REFUSED;
    }
    return RDCTL_EXIT_OK;
}

static json_t *
link_json(const struct lookup_link *l)
{
    json_t *obj = json_object();

    json_object_set_new(obj, "href", json_string(l->target));
    for (size_t a = 0; a < l->nattrs; a++) {
        json_t *v = l->attrs[a].value ? json_string(l->attrs[a].value) : json_true();
        json_t *old = json_object_get(obj, l->attrs[a].name);

        /* A repeated attribute (several et) becomes an array of its values. */
        if (old && json_is_array(old)) {
            json_array_append_new(old, v);
        } else if (old) {
            json_t *arr = json_array();

            json_array_append(arr, old);
            json_array_append_new(arr, v);
            json_object_set_new(obj, l->attrs[a].name, arr);
        } else {
            json_object_set_new(obj, l->attrs[a].name, v);
        }
    }
    return obj;
}

/* Print one link-format answer: a link per line, or JSON objects appended to @p out. */
static int
emit_links(const char *body, size_t len, json_t *out, size_t *n)
{
    struct lookup_links links;
    struct lookup_buf line;

    *n = 0;
    if (lookup_links_parse(&links, body ? body : "", len, 1000000, NULL, 0)) {
        fprintf(stderr, "rdctl: the answer is not link-format\n");
        return RDCTL_EXIT_DATA;
    }
    for (size_t i = 0; i < links.nlinks; i++) {
        if (out) {
            json_array_append_new(out, link_json(&links.links[i]));
            continue;
        }
        lookup_buf_init(&line, BODY_MAX);
        if (lookup_links_format(&links.links[i], 1, &line) == RD_OK) {
            printf("%.*s\n", (int)line.len, line.data);
        }
        lookup_buf_cleanup(&line);
    }
    *n = links.nlinks;
    lookup_links_cleanup(&links);
    return RDCTL_EXIT_OK;
}

static void
print_body_line(const struct exchange *ex)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s %u.%02u %s\n", stamp, ex->code / 100, ex->code % 100, ex->body ? ex->body : "");
    fflush(stdout);
}

/* rdctl ep|res [FILTERS...]: every page of a lookup, fetched in turn. */
static int
cmd_lookup(const struct rdctl_opts *o, int res, int argc, char **argv)
{
    struct exchange ex;
    struct rd_paths p;
    const char *q[66];
    char count[32];
    char page[32];
    json_t *all = o->json ? json_array() : NULL;
    size_t n = 0;
    size_t nq = 0;
    int rc;

    if (argc > 64) {
        fprintf(stderr, "rdctl: at most 64 filters\n");
        return RDCTL_EXIT_USAGE;
    }
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "page=", 5) == 0 || strncmp(argv[i], "count=", 6) == 0) {
            fprintf(stderr, "rdctl: paging is done for you; use --page-size\n");
            return RDCTL_EXIT_USAGE;
        }
        q[nq++] = argv[i];
    }
    snprintf(count, sizeof(count), "count=%u", o->page_size);
    q[nq++] = count;
    q[nq++] = page;
    rc = connect_rd(o, &ex);
    if (!rc) {
        rc = discover(o, &ex, &p, 0);
    }
    if (!rc && !(res ? p.res : p.ep)[0]) {
        fprintf(stderr, "rdctl: the RD offers no %s lookup\n", res ? "resource" : "endpoint");
        rc = RDCTL_EXIT_REFUSED;
    }
    for (unsigned pg = 0; !rc && pg < PAGES_MAX; pg++) {
        snprintf(page, sizeof(page), "page=%u", pg);
        rc = request(o, &ex, COAP_REQUEST_CODE_GET, res ? p.res : p.ep, q, nq, NULL, 0, -1);
        if (!rc) {
            rc = emit_links(ex.body, ex.len, all, &n);
        }
        /* A short page is the last one. */
        if (n < o->page_size) {
            break;
        }
    }
    if (!rc && all) {
        json_dumpf(all, stdout, JSON_INDENT(2));
        printf("\n");
    }
    json_decref(all);
    disconnect_rd(&ex);
    return rc;
}

/* rdctl show <ep|location>: the endpoint's lookup entry and its resources. */
static int
cmd_show(const struct rdctl_opts *o, int argc, char **argv)
{
    struct exchange ex;
    struct rd_paths p;
    char filter[LOC_MAX + 8];
    const char *q[1] = { filter };
    json_t *obj = o->json ? json_object() : NULL;
    json_t *eps = o->json ? json_array() : NULL;
    json_t *links = o->json ? json_array() : NULL;
    size_t n = 0;
    int rc;

    if (argc != 1) {
        fprintf(stderr, "rdctl show: expected one endpoint name or location\n");
        return RDCTL_EXIT_USAGE;
    }
    /* A location names one registration by href; anything else is an endpoint name. */
    if (strncmp(argv[0], "/rd/", 4) == 0 || strncmp(argv[0], "rd/", 3) == 0) {
        snprintf(filter, sizeof(filter), "href=%s%s", argv[0][0] == '/' ? "" : "/", argv[0]);
    } else {
        snprintf(filter, sizeof(filter), "ep=%s", argv[0]);
    }
    rc = connect_rd(o, &ex);
    if (!rc) {
        rc = discover(o, &ex, &p, 0);
    }
    if (!rc) {
        rc = request(o, &ex, COAP_REQUEST_CODE_GET, p.ep, q, 1, NULL, 0, -1);
    }
    if (!rc) {
        if (!o->json) {
            printf("endpoint:\n");
        }
        rc = emit_links(ex.body, ex.len, eps, &n);
        if (!rc && n == 0) {
            fprintf(stderr, "rdctl: no registration %s\n", argv[0]);
            rc = RDCTL_EXIT_REFUSED;
        }
    }
    if (!rc) {
        rc = request(o, &ex, COAP_REQUEST_CODE_GET, p.res, q, 1, NULL, 0, -1);
    }
    if (!rc) {
        if (!o->json) {
            printf("resources:\n");
        }
        rc = emit_links(ex.body, ex.len, links, &n);
    }
    if (!rc && obj) {
        json_object_set(obj, "endpoints", eps);
        json_object_set(obj, "resources", links);
        json_dumpf(obj, stdout, JSON_INDENT(2));
        printf("\n");
    }
    json_decref(eps);
    json_decref(links);
    json_decref(obj);
    disconnect_rd(&ex);
    return rc;
}

static int
cmd_delete(const struct rdctl_opts *o, int argc, char **argv)
{
    struct exchange ex;
    int rc;

    if (argc != 1 || (strncmp(argv[0], "/rd/", 4) != 0 && strncmp(argv[0], "rd/", 3) != 0)) {
        fprintf(stderr, "rdctl delete: expected one location such as /rd/4f2kq9xa\n");
        return RDCTL_EXIT_USAGE;
    }
    rc = connect_rd(o, &ex);
    if (!rc) {
        rc = request(o, &ex, COAP_REQUEST_CODE_DELETE, argv[0], NULL, 0, NULL, 0, -1);
    }
    if (!rc) {
        printf("deleted %s\n", argv[0]);
    }
    disconnect_rd(&ex);
    return rc;
}

/* rdctl register --ep NAME [--d S] [--lt S] [--base URI] [--attr K=V]... [FILE|-]; the options
 * were collected by main() into @p r, in command-line order. */
static int
cmd_register(const struct rdctl_opts *o, const struct reg_args *r, int argc, char **argv)
{
    char *q[REG_ARGS_MAX];
    size_t nq = 0;
    char *links = NULL;
    size_t len = 0;
    struct lookup_links parsed;
    char diag[LOOKUP_DIAG_SIZE];
    struct exchange ex;
    struct rd_paths p;
    int has_ep = 0;
    int rc;

    for (size_t i = 0; i < r->n; i++) {
        size_t size = strlen(r->key[i]) + strlen(r->value[i]) + 1;

        has_ep |= strcmp(r->key[i], "ep=") == 0;
        q[nq] = malloc(size);
        if (!q[nq]) {
            rc = RDCTL_EXIT_DATA;
            goto out;
        }
        snprintf(q[nq], size, "%s%s", r->key[i], r->value[i]);
        nq++;
    }
    if (!has_ep || argc > 1) {
        fprintf(stderr, "rdctl register: --ep is required; links come from one FILE or stdin\n");
        rc = RDCTL_EXIT_USAGE;
        goto out;
    }
    if (rdctl_read_file(argc ? argv[0] : "-", &links, &len)) {
        fprintf(stderr, "rdctl: cannot read links: %s\n", strerror(errno));
        rc = RDCTL_EXIT_DATA;
        goto out;
    }
    /* Catch a bad document here, with the parser the RD uses, before anything is sent. */
    while (len && (links[len - 1] == '\n' || links[len - 1] == '\r')) {
        links[--len] = '\0';
    }
    if (lookup_links_parse(&parsed, links, len, 100000, diag, sizeof(diag))) {
        fprintf(stderr, "rdctl: links: %s\n", diag);
        rc = RDCTL_EXIT_DATA;
        goto out;
    }
    lookup_links_cleanup(&parsed);
    rc = connect_rd(o, &ex);
    if (!rc) {
        rc = discover(o, &ex, &p, 0);
    }
    if (!rc && !p.rd[0]) {
        fprintf(stderr, "rdctl: the RD offers no registration interface\n");
        rc = RDCTL_EXIT_REFUSED;
    }
    if (!rc) {
        rc = request(o, &ex, COAP_REQUEST_CODE_POST, p.rd, (const char *const *)q, nq, links, len,
                     COAP_MEDIATYPE_APPLICATION_LINK_FORMAT);
    }
    if (!rc) {
        printf("registered /%s\n", ex.location);
    }
    disconnect_rd(&ex);
out:
    for (size_t i = 0; i < nq; i++) {
        free(q[i]);
    }
    free(links);
    return rc;
}

/* rdctl watch [ep|res] [FILTERS...]: observe a lookup (RFC 7641) and print each answer. */
static int
cmd_watch(const struct rdctl_opts *o, unsigned max, int argc, char **argv)
{
    struct exchange ex;
    struct rd_paths p;
    int res = 0;
    int rc;

    if (argc && (strcmp(argv[0], "ep") == 0 || strcmp(argv[0], "res") == 0)) {
        res = strcmp(argv[0], "res") == 0;
        argc--;
        argv++;
    }
    rc = connect_rd(o, &ex);
    if (!rc) {
        rc = discover(o, &ex, &p, 0);
    }
    if (!rc) {
        ex.observe = 1;
        ex.max_notifications = max;
        rc = request(o, &ex, COAP_REQUEST_CODE_GET, res ? p.res : p.ep, (const char *const *)argv,
                     (size_t)argc, NULL, 0, -1);
        if (!rc && ex.notifications == 0) {
            fprintf(stderr, "rdctl: no answer from %s\n", o->server);
            rc = RDCTL_EXIT_NET;
        }
    }
    disconnect_rd(&ex);
    return rc;
}

int
rdctl_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0;
    size_t n = 0;

    if (!f) {
        return -1;
    }
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *bigger = cap > (size_t)1 << 30 ? NULL : realloc(buf, cap * 2 + 8192);

            if (!bigger) {
                free(buf);
                errno = cap ? EFBIG : ENOMEM;
                return -1;
            }
            buf = bigger;
            cap = cap * 2 + 8192;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (f != stdin) {
        fclose(f);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static const char *const usage_text =
    "Usage: rdctl [OPTIONS] COMMAND [ARGS...]\n"
    "Operate a CoRE Resource Directory (core-rd).\n"
    "\n"
    "Online commands (CoAP to a running RD):\n"
    "  discover                 list the RD's interfaces from /.well-known/core\n"
    "  ep [FILTER...]           endpoint lookup; FILTER is name=value (value* for a prefix)\n"
    "  res [FILTER...]          resource lookup, same filters\n"
    "  show EP|LOCATION         one registration and its resources\n"
    "  delete LOCATION          remove a registration (e.g. /rd/4f2kq9xa)\n"
    "  register --ep NAME [--d SECTOR] [--lt SECONDS] [--base URI] [--attr K=V]... [FILE|-]\n"
    "                           register links from FILE or stdin (link-format)\n"
    "  watch [ep|res] [FILTER...]  observe a lookup and print each change\n"
    "Offline commands (on a data directory):\n"
    "  export                   every registration as one JSON line on stdout\n"
    "  import [FILE|-]          load exported lines; validates all before writing any\n"
    "  backup DIR               consistent, compacted copy (safe while the RD runs)\n"
    "  check                    schema version, integrity and index consistency\n"
    "\n"
    "Options:\n"
    "  -s, --server URI         the RD (default " DEFAULT_SERVER ")\n"
    "      --psk-identity ID    with coaps://: the pre-shared key identity\n"
    "      --psk-key KEY        with coaps://: the pre-shared key\n"
    "  -j, --json               JSON output (ep, res, show)\n"
    "  -n, --page-size N        links per lookup page (default 100)\n"
    "  -t, --timeout SECONDS    wait this long for an answer (default 10; watch: how long to\n"
    "                           watch, 0 = until --count notifications)\n"
    "  -c, --count N            watch: stop after N notifications (default: none)\n"
    "  -d, --data-dir DIR       offline commands: the RD's data directory\n"
    "  -h, --help               this help; rdctl COMMAND --help: the same\n"
    "\n"
    "Exit status: 0 done, 1 the RD refused (4.xx/5.xx), 2 usage, 3 no answer or network,\n"
    "4 bad data or store problems. See rdctl(1).\n";

/* One command's help: its usage line and what it does. */
struct cmd_help {
    const char *name;
    const char *text;
};

static const struct cmd_help cmd_helps[] = {
    { "discover",
      "Usage: rdctl [-s URI] discover\n"
      "List the RD's registration and lookup interfaces (GET /.well-known/core?rt=core.rd*).\n" },
    { "ep",
      "Usage: rdctl [-s URI] [--json] [-n N] ep [NAME=VALUE | NAME=PREFIX* | NAME]...\n"
      "Endpoint lookup with RFC 9176 filters (ANDed); every page is fetched, N links each.\n" },
    { "res", "Usage: rdctl [-s URI] [--json] [-n N] res [NAME=VALUE | NAME=PREFIX* | NAME]...\n"
             "Resource lookup with RFC 9176 filters (ANDed); every page is fetched.\n" },
    { "show", "Usage: rdctl [-s URI] [--json] show EP|LOCATION\n"
              "One registration, by endpoint name or location (/rd/ID), and its resources.\n" },
    { "delete", "Usage: rdctl [-s URI] delete LOCATION\n"
                "Remove the registration at LOCATION (e.g. /rd/4f2kq9xa).\n" },
    { "register",
      "Usage: rdctl [-s URI] register --ep NAME [--d SECTOR] [--lt SECONDS] [--base URI]\n"
      "                          [--attr K=V]... [FILE|-]\n"
      "Register the link-format document in FILE or on stdin; prints the location.\n" },
    { "watch", "Usage: rdctl [-s URI] [-c N] [-t SECONDS] watch [ep|res] [FILTER]...\n"
               "Observe a lookup and print each answer with a timestamp (default 60 s).\n" },
    { "export", "Usage: rdctl -d DIR export\n"
                "Every stored registration as one JSON line on stdout.\n" },
    { "import", "Usage: rdctl -d DIR import [FILE|-]\n"
                "Load exported lines; all are validated before any is written.\n" },
    { "backup", "Usage: rdctl -d DIR backup TARGET_DIR\n"
                "A consistent, compacted copy of the database (safe while the RD runs).\n" },
    { "check", "Usage: rdctl -d DIR check\n"
               "Print the schema version; check records and indexes (exit 4 on problems).\n"
               "A directory of an older schema version is left as it is.\n" },
};

static void
print_help(const char *cmd)
{
    for (size_t i = 0; i < sizeof(cmd_helps) / sizeof(cmd_helps[0]); i++) {
        if (strcmp(cmd, cmd_helps[i].name) == 0) {
            fputs(cmd_helps[i].text, stdout);
            fputs("Common options and exit statuses: rdctl --help; all details: man rdctl.\n",
                  stdout);
            return;
        }
    }
    fputs(usage_text, stdout);
}

/* Long options: every command's, then register's own. Register's "--d" is the sector there;
 * elsewhere "--d" stays an abbreviation of "--data-dir", as it always was. */
#define GLOBAL_LONGOPTS                                                                            \
    { "server", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },                \
        { "output", required_argument, NULL, 'o' }, { "page-size", required_argument, NULL, 'n' }, \
        { "timeout", required_argument, NULL, 't' }, { "count", required_argument, NULL, 'c' },    \
        { "data-dir", required_argument, NULL, 'd' },                                              \
        { "psk-identity", required_argument, NULL, 'I' },                                          \
        { "psk-key", required_argument, NULL, 'K' },                                               \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

enum {
    OPT_EP = 256,
    OPT_SECTOR,
    OPT_LT,
    OPT_BASE,
    OPT_ATTR
};

static const struct option global_longopts[] = {
    GLOBAL_LONGOPTS,
    { NULL, 0, NULL, 0 },
};

static const struct option register_longopts[] = {
    GLOBAL_LONGOPTS,
    { "ep", required_argument, NULL, OPT_EP },
    { "d", required_argument, NULL, OPT_SECTOR },
    { "lt", required_argument, NULL, OPT_LT },
    { "base", required_argument, NULL, OPT_BASE },
    { "attr", required_argument, NULL, OPT_ATTR },
    { NULL, 0, NULL, 0 },
};

/* The leading '-' hands every operand back in place (code 1), so options may come before or
 * after the command and its arguments whatever POSIXLY_CORRECT says; ':' reports a missing value
 * apart from an unknown option. */
#define SHORTOPTS "-:s:jo:n:t:c:d:h"

/* The command word: the first operand, found without judging the options (that is the second
 * pass's job, once it is known which command's options apply). */
static const char *
find_command(int argc, char **argv)
{
    int c;

    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, SHORTOPTS, register_longopts, NULL)) != -1) {
        if (c == 1) {
            return optarg;
        }
    }
    return optind < argc ? argv[optind] : NULL;
}

/* A usage error: what was wrong, and where the help is. */
static int
usage_error(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "rdctl%s%s: %s%s; rdctl --help lists the options\n", cmd ? " " : "",
            cmd ? cmd : "", what, arg);
    return RDCTL_EXIT_USAGE;
}

/* Parse a number option (-n, -t, -c). */
static int
parse_count(int c, const char *arg, unsigned *out)
{
    unsigned long v;
    char *end;

    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno || *end || arg[0] < '0' || arg[0] > '9' || v > 1000000 || (c == 'n' && v == 0)) {
        fprintf(stderr, "rdctl: -%c: expected a number, got \"%s\"\n", c, arg);
        return RDCTL_EXIT_USAGE;
    }
    *out = (unsigned)v;
    return RDCTL_EXIT_OK;
}

/*
 * Parse the whole command line: options anywhere, before or after the command and among its
 * arguments, until "--". Fills @p o and @p r, points @p cmd at the command (NULL: none) and
 * puts the command's arguments, in order, in @p args (argc entries, the caller's). @p help is
 * set for -h. @return an exit status: RDCTL_EXIT_USAGE with the reason printed.
 */
static int
parse_args(int argc, char **argv, struct rdctl_opts *o, struct reg_args *r, const char **cmd,
           char **args, int *nargs, unsigned *max, int *timeout_set, int *help)
{
    const struct option *longopts;
    int seen_cmd = 0;
    int c;
    int rc;

    *cmd = find_command(argc, argv);
    longopts = *cmd && strcmp(*cmd, "register") == 0 ? register_longopts : global_longopts;
    *nargs = 0;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) != -1) {
        const char *key = NULL;

        switch (c) {
        case 1:
            /* The first operand is the command itself. */
            if (seen_cmd) {
                args[(*nargs)++] = optarg;
            }
            seen_cmd = 1;
            break;
        case 's':
            o->server = optarg;
            break;
        case 'j':
            o->output = RDCTL_OUT_JSON;
            break;
        case 'o':
            if (strcmp(optarg, "table") == 0) {
                o->output = RDCTL_OUT_TABLE;
            } else if (strcmp(optarg, "link-format") == 0) {
                o->output = RDCTL_OUT_LINK_FORMAT;
            } else if (strcmp(optarg, "json") == 0) {
                o->output = RDCTL_OUT_JSON;
            } else {
                return usage_error(*cmd, "--output: expected table, link-format or json, got ",
                                   optarg);
            }
            break;
        case 'n':
            rc = parse_count(c, optarg, &o->page_size);
            if (rc) {
                return rc;
            }
            break;
        case 't':
            rc = parse_count(c, optarg, &o->timeout_s);
            if (rc) {
                return rc;
            }
            *timeout_set = 1;
            break;
        case 'c':
            rc = parse_count(c, optarg, max);
            if (rc) {
                return rc;
            }
            break;
        case 'd':
            o->data_dir = optarg;
            break;
        case 'I':
            o->psk_id = optarg;
            break;
        case 'K':
            o->psk_key = optarg;
            break;
        case 'h':
            *help = 1;
            return RDCTL_EXIT_OK;
        case OPT_EP:
            key = "ep=";
            break;
        case OPT_SECTOR:
            key = "d=";
            break;
        case OPT_LT:
            key = "lt=";
            break;
        case OPT_BASE:
            key = "base=";
            break;
        case OPT_ATTR:
            key = "";
            break;
        case ':':
            return usage_error(*cmd, "this option needs a value: ", argv[optind - 1]);
        default:
            /* An unknown short option is in optopt; an unknown long one is the argument just
             * passed over. */
            if (optopt) {
                char opt[3] = { '-', (char)optopt, '\0' };

                return usage_error(*cmd, "unknown option ", opt);
            }
            return usage_error(*cmd, "unknown option ", argv[optind - 1]);
        }
        if (key) {
            if (r->n == REG_ARGS_MAX) {
                return usage_error(*cmd, "too many options", "");
            }
            r->key[r->n] = key;
            r->value[r->n++] = optarg;
        }
    }
    /* After "--": operands only, the command too if it was not seen yet. */
    for (int i = optind; i < argc; i++) {
        if (seen_cmd) {
            args[(*nargs)++] = argv[i];
        }
        seen_cmd = 1;
    }
    return RDCTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
    struct rdctl_opts o;
    struct reg_args r;
    char **args = NULL;
    int nargs = 0;
    unsigned max = 0;
    int timeout_set = 0;
    int help = 0;
    const char *cmd = NULL;
    int rc;

    memset(&o, 0, sizeof(o));
    memset(&r, 0, sizeof(r));
    o.server = DEFAULT_SERVER;
    o.timeout_s = 10;
    o.page_size = 100;
    args = calloc((size_t)argc + 1, sizeof(*args));
    if (!args) {
        return RDCTL_EXIT_DATA;
    }
    rc = parse_args(argc, argv, &o, &r, &cmd, args, &nargs, &max, &timeout_set, &help);
    if (rc) {
        goto out;
    }
    o.json = o.output == RDCTL_OUT_JSON;
    if (help) {
        print_help(cmd ? cmd : "");
        goto out;
    }
    if (!cmd) {
        fputs(usage_text, stderr);
        rc = RDCTL_EXIT_USAGE;
        goto out;
    }
    if (r.n && strcmp(cmd, "register") != 0) {
        /* Cannot happen: only register's table has these options. */
        rc = usage_error(cmd, "register's options belong to register", "");
        goto out;
    }
    if (strcmp(cmd, "export") == 0 || strcmp(cmd, "import") == 0 || strcmp(cmd, "backup") == 0 ||
        strcmp(cmd, "check") == 0) {
        rc = rdctl_offline(&o, cmd, nargs, args);
        goto out;
    }
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    if (strcmp(cmd, "discover") == 0) {
        struct exchange ex;
        struct rd_paths p;

        rc = connect_rd(&o, &ex);
        if (!rc) {
            rc = discover(&o, &ex, &p, 1);
        }
        disconnect_rd(&ex);
    } else if (strcmp(cmd, "ep") == 0 || strcmp(cmd, "res") == 0) {
        rc = cmd_lookup(&o, strcmp(cmd, "res") == 0, nargs, args);
    } else if (strcmp(cmd, "show") == 0) {
        rc = cmd_show(&o, nargs, args);
    } else if (strcmp(cmd, "delete") == 0) {
        rc = cmd_delete(&o, nargs, args);
    } else if (strcmp(cmd, "register") == 0) {
        rc = cmd_register(&o, &r, nargs, args);
    } else if (strcmp(cmd, "watch") == 0) {
        if (!timeout_set) {
            o.timeout_s = max ? 3600 : 60;
        }
        if (o.timeout_s == 0) {
            o.timeout_s = 86400;
        }
        rc = cmd_watch(&o, max, nargs, args);
    } else {
        fprintf(stderr, "rdctl: unknown command \"%s\"; rdctl --help lists them\n", cmd);
        rc = RDCTL_EXIT_USAGE;
    }
    coap_cleanup();
out:
    free(args);
    return rc;
}
