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

/* Where the links of an answer go: printed, appended to JSON, or rows of a table. */
struct sink {
    enum rdctl_output output;
    int res;                   /* resource links (else endpoint links) */
    json_t *json;              /* RDCTL_OUT_JSON: the array links are appended to */
    struct rdctl_table *table; /* RDCTL_OUT_TABLE */
};

static const char *const ep_headers[] = { "EP", "D", "BASE", "LT", "LOCATION", "ATTRIBUTES" };
static const char *const res_headers[] = { "TARGET", "RT", "IF", "CT", "ATTRIBUTES", "EP" };
#define EP_COLS  (sizeof(ep_headers) / sizeof(ep_headers[0]))
#define RES_COLS (sizeof(res_headers) / sizeof(res_headers[0]))
/* The resource table's EP column, filled in afterwards from an endpoint lookup. */
#define RES_COL_EP 5

/* Append @p s to @p b; an allocation failure is caught by the caller's final check. */
static void
buf_puts(struct lookup_buf *b, const char *s, int *failed)
{
    if (lookup_buf_append(b, s, strlen(s))) {
        *failed = 1;
    }
}

/* The values of every attribute named @p name, blank-separated (rt and et may repeat). */
static int
attr_values(const struct lookup_link *l, const char *name, struct lookup_buf *b)
{
    int failed = 0;

    for (size_t a = 0; a < l->nattrs; a++) {
        if (strcmp(l->attrs[a].name, name) != 0) {
            continue;
        }
        if (b->len) {
            buf_puts(b, " ", &failed);
        }
        buf_puts(b, l->attrs[a].value ? l->attrs[a].value : "", &failed);
    }
    return failed || lookup_buf_append(b, "", 1) ? -1 : 0;
}

/* Every attribute not in @p skip as name=value, blank-separated; a value with blanks, quotes
 * or nothing in it is quoted so the cell reads back unambiguously. The endpoint lookup's
 * rt=core.rd-ep, on every endpoint link, is left out. */
static int
other_attrs(const struct lookup_link *l, const char *const *skip, size_t nskip,
            struct lookup_buf *b)
{
    int failed = 0;

    for (size_t a = 0; a < l->nattrs; a++) {
        const char *name = l->attrs[a].name;
        const char *v = l->attrs[a].value;
        int skipped = 0;

        for (size_t k = 0; k < nskip; k++) {
            skipped |= strcmp(name, skip[k]) == 0;
        }
        if (skipped || (strcmp(name, "rt") == 0 && v && strcmp(v, "core.rd-ep") == 0)) {
            continue;
        }
        if (b->len) {
            buf_puts(b, " ", &failed);
        }
        buf_puts(b, name, &failed);
        if (v) {
            int quote = !*v || strpbrk(v, " \t\"") != NULL;

            buf_puts(b, quote ? "=\"" : "=", &failed);
            buf_puts(b, v, &failed);
            buf_puts(b, quote ? "\"" : "", &failed);
        }
    }
    return failed || lookup_buf_append(b, "", 1) ? -1 : 0;
}

/* One link as a table row: the named columns, then the rest of its attributes. */
static int
add_row(struct rdctl_table *t, const struct lookup_link *l, int res)
{
    static const char *const ep_named[] = { "ep", "d", "base", "lt" };
    static const char *const res_named[] = { "rt", "if", "ct" };
    struct lookup_buf b[6];
    const char *cells[6];
    int rc = 0;

    for (size_t i = 0; i < 6; i++) {
        lookup_buf_init(&b[i], BODY_MAX);
    }
    if (res) {
        cells[0] = l->target;
        for (size_t i = 0; i < 3 && !rc; i++) {
            rc = attr_values(l, res_named[i], &b[i]);
            cells[1 + i] = b[i].data;
        }
        rc = rc ? rc : other_attrs(l, res_named, 3, &b[3]);
        cells[4] = b[3].data;
        cells[RES_COL_EP] = NULL;
        /* A directory that names the endpoint in its resource links saves the second lookup. */
        if (!rc) {
            rc = attr_values(l, "ep", &b[4]);
            cells[RES_COL_EP] = b[4].data;
        }
    } else {
        for (size_t i = 0; i < 4 && !rc; i++) {
            rc = attr_values(l, ep_named[i], &b[i]);
            cells[i] = b[i].data;
        }
        cells[4] = l->target;
        rc = rc ? rc : other_attrs(l, ep_named, 4, &b[4]);
        cells[5] = b[4].data;
    }
    if (!rc) {
        rc = rdctl_table_add(t, cells);
    }
    for (size_t i = 0; i < 6; i++) {
        lookup_buf_cleanup(&b[i]);
    }
    return rc;
}

/* Parse one link-format answer and pass each link to @p sink; @p n gets the number of links. */
static int
emit_links(const char *body, size_t len, const struct sink *sink, size_t *n)
{
    struct lookup_links links;
    struct lookup_buf line;
    int rc = RDCTL_EXIT_OK;

    *n = 0;
    if (lookup_links_parse(&links, body ? body : "", len, 1000000, NULL, 0)) {
        fprintf(stderr, "rdctl: the answer is not link-format\n");
        return RDCTL_EXIT_DATA;
    }
    for (size_t i = 0; i < links.nlinks && !rc; i++) {
        if (sink->output == RDCTL_OUT_JSON) {
            json_array_append_new(sink->json, link_json(&links.links[i]));
        } else if (sink->output == RDCTL_OUT_TABLE) {
            if (add_row(sink->table, &links.links[i], sink->res)) {
                fprintf(stderr, "rdctl: out of memory\n");
                rc = RDCTL_EXIT_DATA;
            }
        } else {
            lookup_buf_init(&line, BODY_MAX);
            if (lookup_links_format(&links.links[i], 1, &line) == RD_OK) {
                printf("%.*s\n", (int)line.len, line.data);
            }
            lookup_buf_cleanup(&line);
        }
    }
    *n = links.nlinks;
    lookup_links_cleanup(&links);
    return rc;
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

/* Fetch every page of the lookup at @p path with @p filters (at most 64) into @p sink. */
static int
fetch_pages(const struct rdctl_opts *o, struct exchange *ex, const char *path,
            const char *const *filters, size_t nfilters, const struct sink *sink)
{
    const char *q[66];
    char count[32];
    char page[32];
    size_t nq = 0;
    size_t n = 0;
    int rc = RDCTL_EXIT_OK;

    for (size_t i = 0; i < nfilters && i < 64; i++) {
        q[nq++] = filters[i];
    }
    snprintf(count, sizeof(count), "count=%u", o->page_size);
    q[nq++] = count;
    q[nq++] = page;
    for (unsigned pg = 0; !rc && pg < PAGES_MAX; pg++) {
        snprintf(page, sizeof(page), "page=%u", pg);
        rc = request(o, ex, COAP_REQUEST_CODE_GET, path, q, nq, NULL, 0, -1);
        if (!rc) {
            rc = emit_links(ex->body, ex->len, sink, &n);
        }
        /* A short page is the last one. */
        if (n < o->page_size) {
            break;
        }
    }
    return rc;
}

/* One endpoint's base and name, to find the endpoint of a resource by its target. */
struct base_ep {
    char *base;
    char *ep;
};

static int
cmp_base(const void *a, const void *b)
{
    return strcmp(((const struct base_ep *)a)->base, ((const struct base_ep *)b)->base);
}

/*
 * Fill the EP column of a resource table. RFC 9176 resource lookup answers carry no endpoint
 * name, but each target was resolved against its endpoint's base: look the endpoints up with
 * the same filters (on an endpoint lookup they select endpoints with a matching resource; href
 * means the registration there, so it is left out) and match each target's longest base.
 */
static int
fill_res_eps(const struct rdctl_opts *o, struct exchange *ex, const char *ep_path,
             const char *const *filters, size_t nfilters, struct rdctl_table *t)
{
    const char *q[64];
    size_t nq = 0;
    struct rdctl_table eps;
    struct sink sink = { RDCTL_OUT_TABLE, 0, NULL, &eps };
    struct base_ep *map = NULL;
    int rc;

    for (size_t i = 0; i < nfilters && nq < 64; i++) {
        if (strncmp(filters[i], "href=", 5) != 0 && strcmp(filters[i], "href") != 0) {
            q[nq++] = filters[i];
        }
    }
    rdctl_table_init(&eps, ep_headers, EP_COLS);
    rc = fetch_pages(o, ex, ep_path, q, nq, &sink);
    if (!rc && eps.nrows) {
        map = calloc(eps.nrows, sizeof(*map));
        rc = map ? RDCTL_EXIT_OK : RDCTL_EXIT_DATA;
    }
    for (size_t i = 0; !rc && i < eps.nrows; i++) {
        map[i].base = eps.cells[i * EP_COLS + 2];
        map[i].ep = eps.cells[i * EP_COLS + 0];
    }
    if (map) {
        qsort(map, eps.nrows, sizeof(*map), cmp_base);
    }
    for (size_t r = 0; !rc && map && r < t->nrows; r++) {
        char *prefix = NULL;
        const char *target = rdctl_table_get(t, r, 0);
        const char *auth = strstr(target, "://");
        struct lookup_buf names;
        int failed = 0;

        if (strcmp(rdctl_table_get(t, r, RES_COL_EP), "-") != 0 || !auth) {
            continue;
        }
        /* Candidate bases: the target cut at each '/' after the authority, longest first. */
        prefix = strdup(target);
        if (!prefix) {
            rc = RDCTL_EXIT_DATA;
            break;
        }
        lookup_buf_init(&names, BODY_MAX);
        for (char *cut = prefix + strlen(prefix); cut > prefix + (auth - target) + 3; cut--) {
            struct base_ep key = { prefix, NULL };
            struct base_ep *hit;

            if (*cut != '/' && *cut != '\0') {
                continue;
            }
            *cut = '\0';
            hit = bsearch(&key, map, eps.nrows, sizeof(*map), cmp_base);
            /* Several endpoints can share a base (behind one proxy): name them all. */
            while (hit && hit > map && strcmp(hit[-1].base, prefix) == 0) {
                hit--;
            }
            for (; hit && hit < map + eps.nrows && strcmp(hit->base, prefix) == 0; hit++) {
                buf_puts(&names, names.len ? "," : "", &failed);
                buf_puts(&names, hit->ep, &failed);
            }
            if (names.len) {
                break;
            }
        }
        if (names.len && (failed || lookup_buf_append(&names, "", 1) ||
                          rdctl_table_set(t, r, RES_COL_EP, names.data))) {
            rc = RDCTL_EXIT_DATA;
        }
        lookup_buf_cleanup(&names);
        free(prefix);
    }
    free(map);
    rdctl_table_cleanup(&eps);
    return rc;
}

/* rdctl ep|res [FILTERS...]: every page of a lookup, fetched in turn. */
static int
cmd_lookup(const struct rdctl_opts *o, int res, int argc, char **argv)
{
    struct exchange ex;
    struct rd_paths p;
    struct rdctl_table table;
    struct sink sink = { o->output, res, NULL, &table };
    int rc;

    if (sink.output == RDCTL_OUT_DEFAULT) {
        sink.output = RDCTL_OUT_TABLE;
    }
    if (argc > 64) {
        fprintf(stderr, "rdctl: at most 64 filters\n");
        return RDCTL_EXIT_USAGE;
    }
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "page=", 5) == 0 || strncmp(argv[i], "count=", 6) == 0) {
            fprintf(stderr, "rdctl: paging is done for you; use --page-size\n");
            return RDCTL_EXIT_USAGE;
        }
    }
    rdctl_table_init(&table, res ? res_headers : ep_headers, res ? RES_COLS : EP_COLS);
    sink.json = sink.output == RDCTL_OUT_JSON ? json_array() : NULL;
    rc = connect_rd(o, &ex);
    if (!rc) {
        rc = discover(o, &ex, &p, 0);
    }
    if (!rc && !(res ? p.res : p.ep)[0]) {
        fprintf(stderr, "rdctl: the RD offers no %s lookup\n", res ? "resource" : "endpoint");
        rc = RDCTL_EXIT_REFUSED;
    }
    if (!rc) {
        rc =
            fetch_pages(o, &ex, res ? p.res : p.ep, (const char *const *)argv, (size_t)argc, &sink);
    }
    /* The resources were found: a failed endpoint lookup costs the EP column, not the answer. */
    if (!rc && sink.output == RDCTL_OUT_TABLE && res && table.nrows && p.ep[0] &&
        fill_res_eps(o, &ex, p.ep, (const char *const *)argv, (size_t)argc, &table)) {
        fprintf(stderr, "rdctl: the endpoint lookup for the EP column failed; it stays empty\n");
    }
    if (!rc && sink.json) {
        json_dumpf(sink.json, stdout, JSON_INDENT(2));
        printf("\n");
    }
    if (!rc && sink.output == RDCTL_OUT_TABLE &&
        rdctl_table_print(&table, stdout, rdctl_terminal_width())) {
        rc = RDCTL_EXIT_DATA;
    }
    json_decref(sink.json);
    rdctl_table_cleanup(&table);
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
    struct rdctl_table eps;
    struct rdctl_table links;
    struct sink ep_sink = { o->output, 0, o->json ? json_array() : NULL, &eps };
    struct sink res_sink = { o->output, 1, o->json ? json_array() : NULL, &links };
    int table = o->output == RDCTL_OUT_TABLE;
    size_t n = 0;
    int rc;

    rdctl_table_init(&eps, ep_headers, EP_COLS);
    rdctl_table_init(&links, res_headers, RES_COLS);
    if (argc != 1) {
        fprintf(stderr, "rdctl show: expected one endpoint name or location\n");
        rc = RDCTL_EXIT_USAGE;
        goto out;
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
        if (!o->json && !table) {
            printf("endpoint:\n");
        }
        rc = emit_links(ex.body, ex.len, &ep_sink, &n);
        if (!rc && n == 0) {
            fprintf(stderr, "rdctl: no registration %s\n", argv[0]);
            rc = RDCTL_EXIT_REFUSED;
        }
    }
    if (!rc) {
        rc = request(o, &ex, COAP_REQUEST_CODE_GET, p.res, q, 1, NULL, 0, -1);
    }
    if (!rc) {
        if (!o->json && !table) {
            printf("resources:\n");
        }
        rc = emit_links(ex.body, ex.len, &res_sink, &n);
    }
    /* Every resource here is the one endpoint's. */
    for (size_t r = 0; !rc && table && eps.nrows == 1 && r < links.nrows; r++) {
        if (rdctl_table_set(&links, r, RES_COL_EP, rdctl_table_get(&eps, 0, 0))) {
            rc = RDCTL_EXIT_DATA;
        }
    }
    if (!rc && table) {
        size_t width = rdctl_terminal_width();

        if (rdctl_table_print(&eps, stdout, width) || printf("\n") < 0 ||
            rdctl_table_print(&links, stdout, width)) {
            rc = RDCTL_EXIT_DATA;
        }
    }
    if (!rc && obj) {
        json_object_set(obj, "endpoints", ep_sink.json);
        json_object_set(obj, "resources", res_sink.json);
        json_dumpf(obj, stdout, JSON_INDENT(2));
        printf("\n");
    }
    disconnect_rd(&ex);
out:
    json_decref(ep_sink.json);
    json_decref(res_sink.json);
    json_decref(obj);
    rdctl_table_cleanup(&eps);
    rdctl_table_cleanup(&links);
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
    "Usage: rdctl [OPTIONS] COMMAND [ARGS...] [OPTIONS]\n"
    "Operate a CoRE Resource Directory (core-rd). Options may come anywhere; -- ends them.\n"
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
    "  events [FILTER...]       follow the change feed over HTTP (needs --http URL)\n"
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
    "  -o, --output FORMAT      ep, res, show: table (the ep and res default, fitted to\n"
    "                           COLUMNS or the terminal), link-format (show's default, and\n"
    "                           earlier releases' for ep and res: scripts name it), json\n"
    "  -j, --json               the same as -o json\n"
    "  -n, --page-size N        links per lookup page (default 100)\n"
    "  -t, --timeout SECONDS    wait this long for an answer (default 10; watch: how long to\n"
    "                           watch, 0 = until --count notifications)\n"
    "  -c, --count N            watch, events: stop after N notifications or events\n"
    "  -d, --data-dir DIR       offline commands: the RD's data directory\n"
    "      --http URL           events: the RD's HTTP listener (http://HOST:PORT)\n"
    "      --token-file FILE    events: its bearer token (else RDCTL_TOKEN)\n"
    "      --since ID           events: resume after this event id\n"
    "  -h, --help               this help; rdctl COMMAND --help: the command's\n"
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
      "Usage: rdctl [-s URI] [-o table|link-format|json] [-n N] ep [NAME=VALUE | NAME=PREFIX* |\n"
      "             NAME]...\n"
      "Endpoint lookup with RFC 9176 filters (ANDed); every page is fetched, N links each.\n"
      "A table (EP, D, BASE, LT, LOCATION, ATTRIBUTES) unless -o says otherwise.\n" },
    { "res",
      "Usage: rdctl [-s URI] [-o table|link-format|json] [-n N] res [NAME=VALUE | NAME=PREFIX* |\n"
      "             NAME]...\n"
      "Resource lookup with RFC 9176 filters (ANDed); every page is fetched.\n"
      "A table (TARGET, RT, IF, CT, ATTRIBUTES, EP) unless -o says otherwise; its EP column\n"
      "comes from an endpoint lookup with the same filters.\n" },
    { "show", "Usage: rdctl [-s URI] [-o link-format|table|json] show EP|LOCATION\n"
              "One registration, by endpoint name or location (/rd/ID), and its resources.\n" },
    { "delete", "Usage: rdctl [-s URI] delete LOCATION\n"
                "Remove the registration at LOCATION (e.g. /rd/4f2kq9xa).\n" },
    { "register",
      "Usage: rdctl [-s URI] register --ep NAME [--d SECTOR] [--lt SECONDS] [--base URI]\n"
      "                          [--attr K=V]... [FILE|-]\n"
      "Register the link-format document in FILE or on stdin; prints the location.\n" },
    { "watch", "Usage: rdctl [-s URI] [-c N] [-t SECONDS] watch [ep|res] [FILTER]...\n"
               "Observe a lookup and print each answer with a timestamp (default 60 s).\n" },
    { "events",
      "Usage: rdctl --http URL [--token-file FILE] [--since ID] [-j] [-c N] [-t SECONDS]\n"
      "             events [FILTER]...\n"
      "Follow the change feed (GET /api/events): one line per change, ID KIND EP [d=D]\n"
      "LOCATION [changed=...], or with -j one JSON object per line. FILTERs as for ep select\n"
      "the endpoints. After a disconnect it resumes after the last event seen (Last-Event-ID),\n"
      "up to 5 attempts in a row, saying so on stderr. Runs until -c events or -t seconds\n"
      "(default: until interrupted). The token: --token-file's first line, or RDCTL_TOKEN.\n" },
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
        { "http", required_argument, NULL, OPT_HTTP },                                             \
        { "token-file", required_argument, NULL, OPT_TOKEN_FILE },                                 \
        { "since", required_argument, NULL, OPT_SINCE },                                           \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

enum {
    OPT_EP = 256,
    OPT_SECTOR,
    OPT_LT,
    OPT_BASE,
    OPT_ATTR,
    OPT_HTTP,
    OPT_TOKEN_FILE,
    OPT_SINCE
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
        case OPT_HTTP:
            o->http_url = optarg;
            break;
        case OPT_TOKEN_FILE:
            o->token_file = optarg;
            break;
        case OPT_SINCE: {
            unsigned long long v;
            char *end;

            errno = 0;
            v = strtoull(optarg, &end, 10);
            if (errno || *end || optarg[0] < '0' || optarg[0] > '9' || v > (1ull << 62)) {
                return usage_error(*cmd, "--since: expected an event id, got ", optarg);
            }
            o->since = (long long)v;
            break;
        }
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
            /* An unknown long option is the argument just passed over (optopt 0); so is a
             * known one given a value it does not take; an unknown short one is in optopt. */
            if (optopt && strncmp(argv[optind - 1], "--", 2) == 0) {
                return usage_error(*cmd, "this option takes no value: ", argv[optind - 1]);
            }
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
    o.since = -1;
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
    } else if (strcmp(cmd, "events") == 0) {
        if (!timeout_set) {
            o.timeout_s = 0;
        }
        rc = rdctl_events(&o, max, nargs, args);
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
