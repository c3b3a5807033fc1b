/* rdctl events: follow core-rd's change feed (GET /api/events, Server-Sent Events over HTTP)
 * from a terminal, one line per change of the directory (RFC 9176 registrations, updates,
 * removals and expiries), resuming with Last-Event-ID after a disconnect. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "rdctl_internal.h"

/* Reconnections after one disconnect before giving up; the wait grows a second each time. */
#define RETRIES 5
/* Longest line of the stream (an event's data is one line of JSON). */
#define LINE_MAX_BYTES (1024 * 1024)
/* How long the server may take to answer a subscription with its status and headers. */
#define HEAD_WAIT_MS 10000
/* Longest request rdctl sends: path, filters and headers. */
#define REQUEST_MAX 8192

/* One connection's parse state and what the whole run has seen. */
struct feed {
    const struct rdctl_opts *o;
    char *token;     /* bearer token, or NULL */
    int64_t last_id; /* last event id seen, -1: none yet */
    unsigned events; /* events printed */
    unsigned max;    /* stop after this many; 0: no limit */
    time_t deadline; /* stop then; 0: never */
    char *line;      /* the line being read */
    size_t line_len;
    char id[32]; /* fields of the event being read */
    char kind[32];
    char *data;
};

/* Split "http://HOST[:PORT][/]" into host and port; IPv6 hosts in brackets. */
static int
split_url(const char *url, char *host, size_t hsize, char *port, size_t psize)
{
    const char *h;
    const char *end;
    const char *colon;
    size_t hlen;

    if (strncmp(url, "http://", 7) != 0) {
        return -1;
    }
    h = url + 7;
    end = h + strcspn(h, "/");
    if (*end && strcmp(end, "/") != 0) {
        return -1;
    }
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));

        if (!close) {
            return -1;
        }
        hlen = (size_t)(close - h - 1);
        h++;
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        hlen = (size_t)((colon ? colon : end) - h);
    }
    if (hlen == 0 || hlen >= hsize) {
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (colon) {
        size_t plen = (size_t)(end - colon - 1);

        if (plen == 0 || plen >= psize || strspn(colon + 1, "0123456789") < plen) {
            return -1;
        }
        memcpy(port, colon + 1, plen);
        port[plen] = '\0';
    } else {
        snprintf(port, psize, "80");
    }
    return 0;
}

static int
dial(const char *host, const char *port)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    int fd = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return -1;
    }
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Append @p s percent-encoded but for RFC 3986 unreserved characters and '*' (prefix
 * filters), so a filter reaches the server as the user typed it. */
static int
append_encoded(char *buf, size_t size, size_t *used, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-._~*", c);

        if (*used + 4 >= size) {
            return -1;
        }
        if (plain && c) {
            buf[(*used)++] = (char)c;
        } else {
            buf[(*used)++] = '%';
            buf[(*used)++] = hex[c >> 4];
            buf[(*used)++] = hex[c & 15];
        }
    }
    buf[*used] = '\0';
    return 0;
}

/* The request line's target: /api/events?FILTER&... with each name and value encoded. */
static int
target(char *buf, size_t size, int argc, char **argv)
{
    size_t used = (size_t)snprintf(buf, size, "/api/events");

    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (used + 2 >= size) {
            return -1;
        }
        buf[used++] = i ? '&' : '?';
        buf[used] = '\0';
        if (eq) {
            *eq = '\0';
        }
        if (append_encoded(buf, size, &used, argv[i])) {
            return -1;
        }
        if (eq) {
            *eq = '=';
            buf[used++] = '=';
            buf[used] = '\0';
            if (append_encoded(buf, size, &used, eq + 1)) {
                return -1;
            }
        }
    }
    return 0;
}

/* Print one event: a JSON line, or "ID KIND EP [d=D] LOCATION [what]". */
static void
print_event(struct feed *f)
{
    json_error_t jerr;
    json_t *data = json_loads(f->data ? f->data : "null", 0, &jerr);
    const char *ep = json_string_value(json_object_get(data, "ep"));
    const char *d = json_string_value(json_object_get(data, "d"));
    const char *loc = json_string_value(json_object_get(data, "location"));
    const char *reason = json_string_value(json_object_get(data, "reason"));
    json_t *changed = json_object_get(data, "changed");

    if (f->o->json) {
        json_t *line = json_pack("{s:I, s:s, s:O?}", "id", (json_int_t)strtoll(f->id, NULL, 10),
                                 "event", f->kind, "data", data);
        char *s = line ? json_dumps(line, JSON_COMPACT) : NULL;

        if (s) {
            printf("%s\n", s);
        }
        free(s);
        json_decref(line);
    } else if (reason) {
        printf("%s %s: %s\n", f->id[0] ? f->id : "-", f->kind, reason);
    } else {
        printf("%s %s %s", f->id, f->kind, ep ? ep : "?");
        if (d && d[0]) {
            printf(" d=%s", d);
        }
        printf(" %s", loc ? loc : "?");
        for (size_t i = 0; i < json_array_size(changed); i++) {
            printf("%s%s", i ? "," : " changed=", json_string_value(json_array_get(changed, i)));
        }
        printf("\n");
    }
    fflush(stdout);
    json_decref(data);
}

/* One line of the stream (without its end); a blank line ends an event. */
static void
take_line(struct feed *f, const char *line)
{
    if (line[0] == '\0') {
        if (f->kind[0] || f->data) {
            if (!f->kind[0]) {
                snprintf(f->kind, sizeof(f->kind), "message");
            }
            if (f->id[0]) {
                f->last_id = strtoll(f->id, NULL, 10);
            }
            print_event(f);
            f->events++;
        }
        f->id[0] = f->kind[0] = '\0';
        free(f->data);
        f->data = NULL;
        return;
    }
    if (line[0] == ':') {
        return; /* a comment: the greeting, keepalives */
    }
    if (strncmp(line, "id: ", 4) == 0) {
        snprintf(f->id, sizeof(f->id), "%s", line + 4);
    } else if (strncmp(line, "event: ", 7) == 0) {
        snprintf(f->kind, sizeof(f->kind), "%s", line + 7);
    } else if (strncmp(line, "data: ", 6) == 0) {
        free(f->data);
        f->data = strdup(line + 6);
    }
}

/* Feed @p n bytes of the stream to the line parser. @return 0, or -1 on an overlong line. */
static int
take_bytes(struct feed *f, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (f->line_len && f->line[f->line_len - 1] == '\r') {
                f->line_len--;
            }
            f->line[f->line_len] = '\0';
            take_line(f, f->line);
            f->line_len = 0;
            if (f->max && f->events >= f->max) {
                return 0;
            }
        } else if (f->line_len + 1 < LINE_MAX_BYTES) {
            f->line[f->line_len++] = buf[i];
        } else {
            return -1;
        }
    }
    return 0;
}

/* What one connection ended with. */
enum outcome {
    DONE,     /* enough events, or the time is up */
    CLOSED,   /* the stream ended or broke: reconnect */
    REFUSED,  /* a status other than 200 */
    NO_ROUTE, /* could not connect */
};

/* Read the status line and headers from @p fd; print the body of a refusal. */
static enum outcome
read_head(struct feed *f, int fd, char *buf, size_t size, size_t *have, size_t *body)
{
    char *end = NULL;
    int status = 0;

    while (!end) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n;

        if (*have + 1 >= size || poll(&p, 1, HEAD_WAIT_MS) <= 0) {
            return CLOSED;
        }
        n = read(fd, buf + *have, size - *have - 1);
        if (n <= 0) {
            return CLOSED;
        }
        *have += (size_t)n;
        buf[*have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *body = (size_t)(end + 4 - buf);
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
        fprintf(stderr, "rdctl: not an HTTP answer from %s\n", f->o->http_url);
        return REFUSED;
    }
    if (status != 200) {
        fprintf(stderr, "rdctl: %d %.*s%s\n", status, (int)(*have - *body), buf + *body,
                status == 401 ? " (give a token: --token-file FILE or RDCTL_TOKEN)" : "");
        return REFUSED;
    }
    return DONE;
}

/* Milliseconds until the deadline, for poll(): -1 without one. */
static int
left_ms(const struct feed *f)
{
    time_t now = time(NULL);

    if (!f->deadline) {
        return -1;
    }
    return now >= f->deadline ? 0 : (int)(f->deadline - now) * 1000;
}

/* One connection: send the request, then print events until it ends. */
static enum outcome
follow(struct feed *f, const char *host, const char *port, const char *path)
{
    char req[REQUEST_MAX];
    char buf[16384];
    size_t have = 0;
    size_t body = 0;
    enum outcome out;
    int fd = dial(host, port);
    int n;

    if (fd < 0) {
        return NO_ROUTE;
    }
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\n%s%s%s", path, host,
                 f->token ? "Authorization: Bearer " : "", f->token ? f->token : "",
                 f->token ? "\r\n" : "");
    if (f->last_id >= 0 && n > 0 && (size_t)n < sizeof(req)) {
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Last-Event-ID: %lld\r\n",
                      (long long)f->last_id);
    }
    if (n > 0 && (size_t)n < sizeof(req)) {
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    }
    if (n <= 0 || (size_t)n >= sizeof(req) ||
        send(fd, req, (size_t)n, MSG_NOSIGNAL) != (ssize_t)n) {
        close(fd);
        return CLOSED;
    }
    out = read_head(f, fd, buf, sizeof(buf), &have, &body);
    if (out != DONE) {
        close(fd);
        return out;
    }
    f->line_len = 0;
    out = take_bytes(f, buf + body, have - body) ? CLOSED : DONE;
    while (out == DONE && !(f->max && f->events >= f->max)) {
        struct pollfd p = { fd, POLLIN, 0 };
        int wait = left_ms(f);
        ssize_t got;

        if (wait == 0) {
            break;
        }
        if (poll(&p, 1, wait) <= 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        got = read(fd, buf, sizeof(buf));
        if (got <= 0 || take_bytes(f, buf, (size_t)got)) {
            out = CLOSED;
        }
    }
    close(fd);
    return out;
}

/* The token: RDCTL_TOKEN, or the first token line of --token-file. */
static int
load_token(const struct rdctl_opts *o, char **out)
{
    const char *env = getenv("RDCTL_TOKEN");
    char *text = NULL;
    size_t len = 0;

    *out = NULL;
    if (!o->token_file) {
        *out = env && *env ? strdup(env) : NULL;
        return RDCTL_EXIT_OK;
    }
    if (rdctl_read_file(o->token_file, &text, &len)) {
        fprintf(stderr, "rdctl: --token-file %s: %s\n", o->token_file, strerror(errno));
        return RDCTL_EXIT_DATA;
    }
    for (char *p = text, *next; p && *p; p = next) {
        size_t n;

        next = strchr(p, '\n');
        if (next) {
            *next++ = '\0';
        }
        p += strspn(p, " \t");
        n = strcspn(p, " \t\r");
        p[n] = '\0';
        if (*p && *p != '#') {
            *out = strdup(p);
            break;
        }
    }
    free(text);
    if (!*out) {
        fprintf(stderr, "rdctl: --token-file %s: no token in it\n", o->token_file);
        return RDCTL_EXIT_DATA;
    }
    return RDCTL_EXIT_OK;
}

int
rdctl_events(const struct rdctl_opts *o, unsigned max, int argc, char **argv)
{
    struct feed f;
    char host[256];
    char port[8];
    char path[REQUEST_MAX / 2];
    unsigned retries = 0;
    unsigned before;
    enum outcome out;
    int rc;

    if (!o->http_url) {
        fprintf(stderr, "rdctl events: needs --http URL (the RD's http_listen, e.g. "
                        "http://127.0.0.1:8683); rdctl events --help\n");
        return RDCTL_EXIT_USAGE;
    }
    if (split_url(o->http_url, host, sizeof(host), port, sizeof(port))) {
        fprintf(stderr, "rdctl: --http %s: expected http://HOST[:PORT]\n", o->http_url);
        return RDCTL_EXIT_USAGE;
    }
    if (target(path, sizeof(path), argc, argv)) {
        fprintf(stderr, "rdctl events: filters too long\n");
        return RDCTL_EXIT_USAGE;
    }
    memset(&f, 0, sizeof(f));
    f.o = o;
    f.max = max;
    f.last_id = o->since;
    f.deadline = o->timeout_s ? time(NULL) + (time_t)o->timeout_s : 0;
    rc = load_token(o, &f.token);
    if (rc) {
        return rc;
    }
    f.line = malloc(LINE_MAX_BYTES);
    if (!f.line) {
        free(f.token);
        return RDCTL_EXIT_DATA;
    }
    out = follow(&f, host, port, path);
    if (out == NO_ROUTE) {
        fprintf(stderr, "rdctl: cannot connect to %s\n", o->http_url);
    }
    /* A stream that ends is resumed where it stopped; a run of failed attempts is bounded. */
    while ((out == CLOSED || (out == NO_ROUTE && retries)) && retries < RETRIES &&
           left_ms(&f) != 0) {
        retries++;
        fprintf(stderr, "rdctl: the feed ended; reconnecting (%u/%u) after event %lld\n", retries,
                RETRIES, (long long)f.last_id);
        sleep(retries);
        before = f.events;
        out = follow(&f, host, port, path);
        if (out == DONE || f.events != before) {
            retries = 0;
        }
    }
    free(f.line);
    free(f.data);
    free(f.token);
    if (out == REFUSED) {
        return RDCTL_EXIT_REFUSED;
    }
    if (out == DONE) {
        return RDCTL_EXIT_OK;
    }
    fprintf(stderr, "rdctl: gave up on %s after %u attempts\n", o->http_url, retries);
    return RDCTL_EXIT_NET;
}
