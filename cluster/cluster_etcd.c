/* The etcd client: POSTs to etcd's v3 JSON gateway and one watch stream, over libcurl's multi
 * interface driven by the caller's event loop (no thread, no blocking call). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cluster.h"

#define MEMBERS_MAX 16
#define URL_MAX     256
/* Connections to one member at a time: requests beyond wait inside libcurl. */
#define HOST_CONNECTIONS 32

struct call {
    struct cluster_etcd *c;
    CURL *easy;
    struct curl_slist *hdrs;
    char *path;
    char *body;
    char *resp; /* the answer so far (posts) */
    size_t resp_len;
    size_t resp_cap;
    int overflow;
    size_t member; /* the member it went to */
    size_t tries;  /* members tried that refused the connection */
    cluster_done_fn fn;
    cluster_stream_fn sfn; /* set for the watch */
    void *arg;
    struct cluster_stream stream;
    int stopped; /* a stopped watch whose handle is removed once libcurl lets go of it */
    struct call *next;
};

struct cluster_etcd {
    CURLM *multi;
    char *members[MEMBERS_MAX];
    size_t nmembers;
    size_t cur;
    long timeout_ms;
    struct cluster_io io;
    struct call *calls;
    struct call *watch;
    size_t pending;
    int in_curl; /* inside a libcurl callback: handles cannot be removed now */
};

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct cluster_etcd *c = userp;
    unsigned ev = 0;

    (void)easy;
    (void)socketp;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
        ev |= 1;
    }
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
        ev |= 2;
    }
    return c->io.watch(c->io.arg, (int)s, ev) ? -1 : 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct cluster_etcd *c = userp;

    (void)multi;
    c->io.timer(c->io.arg, timeout_ms);
    return 0;
}

static void
call_free(struct call *k)
{
    if (!k) {
        return;
    }
    if (k->easy) {
        curl_multi_remove_handle(k->c->multi, k->easy);
        curl_easy_cleanup(k->easy);
    }
    curl_slist_free_all(k->hdrs);
    cluster_stream_cleanup(&k->stream);
    free(k->path);
    free(k->body);
    free(k->resp);
    free(k);
}

static void
unlink_call(struct cluster_etcd *c, struct call *k)
{
    for (struct call **pp = &c->calls; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            return;
        }
    }
}

static int
on_msg(void *arg, const char *msg, size_t len)
{
    struct call *k = arg;

    if (!k->stopped) {
        k->sfn(k->arg, msg, len, NULL);
    }
    return k->stopped;
}

/* Lets libcurl drop a stopped watch whose connection stays silent. */
static int
progress_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const struct call *k = userp;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return k->stopped;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct call *k = userp;
    size_t n = size * nmemb;
    int rc;

    if (k->sfn) {
        k->c->in_curl++;
        rc = k->stopped ? 1 : cluster_stream_feed(&k->stream, data, n, on_msg, k);
        k->c->in_curl--;
        /* Returning short aborts the transfer: a stopped watch or an oversized message. */
        return rc ? 0 : n;
    }
    if (n > CLUSTER_MSG_MAX - k->resp_len) {
        k->overflow = 1;
        return 0;
    }
    if (k->resp_len + n + 1 > k->resp_cap) {
        size_t cap = k->resp_cap ? k->resp_cap * 2 : 1024;
        char *grown;

        while (cap < k->resp_len + n + 1) {
            cap *= 2;
        }
        grown = realloc(k->resp, cap);
        if (!grown) {
            k->overflow = 1;
            return 0;
        }
        k->resp = grown;
        k->resp_cap = cap;
    }
    memcpy(k->resp + k->resp_len, data, n);
    k->resp_len += n;
    k->resp[k->resp_len] = '\0';
    return n;
}

/* Point @p k's handle at the current member and hand it to libcurl. */
static int
call_start(struct cluster_etcd *c, struct call *k)
{
    char url[URL_MAX];

    if (k->easy) {
        curl_multi_remove_handle(c->multi, k->easy);
        curl_easy_cleanup(k->easy);
    }
    k->easy = curl_easy_init();
    if (!k->easy) {
        return RD_ENOMEM;
    }
    k->member = c->cur;
    k->resp_len = 0;
    snprintf(url, sizeof(url), "%s%s", c->members[c->cur], k->path);
    curl_easy_setopt(k->easy, CURLOPT_URL, url);
    curl_easy_setopt(k->easy, CURLOPT_POSTFIELDS, k->body);
    curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, k->hdrs);
    curl_easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(k->easy, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(k->easy, CURLOPT_PRIVATE, k);
    curl_easy_setopt(k->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(k->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(k->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     c->timeout_ms < 1000 ? c->timeout_ms : 1000L);
    if (k->sfn) {
        curl_easy_setopt(k->easy, CURLOPT_XFERINFOFUNCTION, progress_cb);
        curl_easy_setopt(k->easy, CURLOPT_XFERINFODATA, k);
        curl_easy_setopt(k->easy, CURLOPT_NOPROGRESS, 0L);
    } else {
        curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    }
    return curl_multi_add_handle(c->multi, k->easy) == CURLM_OK ? RD_OK : RD_ENOMEM;
}

static struct call *
call_new(struct cluster_etcd *c, const char *path, const char *body)
{
    struct call *k = calloc(1, sizeof(*k));

    if (!k) {
        return NULL;
    }
    k->c = c;
    k->path = strdup(path);
    k->body = strdup(body);
    /* No "Expect: 100-continue": it would hold every body over 1 KiB for a round trip. */
    k->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (k->hdrs) {
        struct curl_slist *more = curl_slist_append(k->hdrs, "Expect:");

        if (more) {
            k->hdrs = more;
        } else {
            curl_slist_free_all(k->hdrs);
            k->hdrs = NULL;
        }
    }
    if (!k->path || !k->body || !k->hdrs) {
        call_free(k);
        return NULL;
    }
    return k;
}

/* A member that did not answer: the next requests go to the next one. */
static void
member_failed(struct cluster_etcd *c, size_t member)
{
    if (member == c->cur) {
        c->cur = (c->cur + 1) % c->nmembers;
    }
}

static void
finish(struct cluster_etcd *c, struct call *k, CURLcode code)
{
    struct cluster_result res = { 0 };

    curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &res.http);
    res.body = k->resp ? k->resp : "";
    res.len = k->resp_len;
    if (code != CURLE_OK) {
        res.rc = RD_ESTORE;
        res.detail = k->overflow ? "answer too large" : curl_easy_strerror(code);
        member_failed(c, k->member);
    }
    if (k->sfn) {
        if (!k->stopped) {
            if (c->watch == k) {
                c->watch = NULL;
            }
            res.detail = res.detail ? res.detail : "watch stream ended";
            k->sfn(k->arg, NULL, 0, &res);
        }
    } else {
        c->pending--;
        k->fn(k->arg, &res);
    }
}

/* A refused connection never reached etcd: the request can go to the next member as it is. */
static int
retry_elsewhere(struct cluster_etcd *c, struct call *k, CURLcode code)
{
    if (code != CURLE_COULDNT_CONNECT || k->stopped || k->tries + 1 >= c->nmembers) {
        return 0;
    }
    member_failed(c, k->member);
    k->tries++;
    return call_start(c, k) == RD_OK;
}

static void
check_done(struct cluster_etcd *c)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct call *k = NULL;
        CURLcode code = m->data.result;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&k);
        if (retry_elsewhere(c, k, code)) {
            continue;
        }
        unlink_call(c, k);
        finish(c, k, code);
        call_free(k);
    }
}

static int
parse_members(struct cluster_etcd *c, const char *endpoints)
{
    const char *p = endpoints;

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (len > 0) {
            if (c->nmembers == MEMBERS_MAX || len >= URL_MAX / 2 ||
                (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)) {
                return RD_EINVAL;
            }
            c->members[c->nmembers] = strndup(p, len);
            if (!c->members[c->nmembers]) {
                return RD_ENOMEM;
            }
            /* "http://h:p/" and "http://h:p" name the same member. */
            if (c->members[c->nmembers][len - 1] == '/') {
                c->members[c->nmembers][len - 1] = '\0';
            }
            c->nmembers++;
        }
        p += len + (comma != NULL);
    }
    return c->nmembers ? RD_OK : RD_EINVAL;
}

int
cluster_etcd_new(struct cluster_etcd **out, const char *endpoints, long timeout_ms,
                 const struct cluster_io *io)
{
    struct cluster_etcd *c;
    int rc;

    /* Counted by libcurl (7.84 and later): cluster_etcd_free() undoes it. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return RD_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        curl_global_cleanup();
        return RD_ENOMEM;
    }
    c->io = *io;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    rc = parse_members(c, endpoints);
    if (!rc) {
        c->multi = curl_multi_init();
        rc = c->multi ? RD_OK : RD_ENOMEM;
    }
    if (rc) {
        cluster_etcd_free(c);
        return rc;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)HOST_CONNECTIONS);
    *out = c;
    return RD_OK;
}

void
cluster_etcd_free(struct cluster_etcd *c)
{
    struct cluster_result res = { RD_ESTORE, 0, "", 0, "client stopped" };

    if (!c) {
        return;
    }
    while (c->calls) {
        struct call *k = c->calls;

        c->calls = k->next;
        if (!k->sfn) {
            k->fn(k->arg, &res);
        }
        call_free(k);
    }
    if (c->multi) {
        curl_multi_cleanup(c->multi);
    }
    for (size_t i = 0; i < c->nmembers; i++) {
        free(c->members[i]);
    }
    free(c);
    curl_global_cleanup();
}

static int
submit(struct cluster_etcd *c, struct call *k)
{
    if (call_start(c, k)) {
        call_free(k);
        return RD_ENOMEM;
    }
    k->next = c->calls;
    c->calls = k;
    return RD_OK;
}

int
cluster_etcd_post(struct cluster_etcd *c, const char *path, const char *body, cluster_done_fn fn,
                  void *arg)
{
    struct call *k = call_new(c, path, body);
    int rc;

    if (!k) {
        return RD_ENOMEM;
    }
    k->fn = fn;
    k->arg = arg;
    rc = submit(c, k);
    if (!rc) {
        c->pending++;
    }
    return rc;
}

int
cluster_etcd_watch(struct cluster_etcd *c, const char *body, cluster_stream_fn fn, void *arg)
{
    struct call *k;
    int rc;

    if (c->watch) {
        return RD_ECONFLICT;
    }
    k = call_new(c, "/v3/watch", body);
    if (!k) {
        return RD_ENOMEM;
    }
    k->sfn = fn;
    k->arg = arg;
    rc = submit(c, k);
    if (!rc) {
        c->watch = k;
    }
    return rc;
}

void
cluster_etcd_watch_stop(struct cluster_etcd *c)
{
    struct call *k = c->watch;

    if (!k) {
        return;
    }
    c->watch = NULL;
    k->stopped = 1;
    /* From inside libcurl's callback the handle stays until its transfer aborts. */
    if (!c->in_curl) {
        unlink_call(c, k);
        call_free(k);
    }
}

size_t
cluster_etcd_pending(const struct cluster_etcd *c)
{
    return c->pending;
}

const char *
cluster_etcd_member(const struct cluster_etcd *c)
{
    return c->members[c->cur];
}

void
cluster_etcd_socket(struct cluster_etcd *c, int fd, unsigned events)
{
    int flags = 0;
    int running;

    if (events & 1) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & 2) {
        flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_done(c);
}

void
cluster_etcd_timeout(struct cluster_etcd *c)
{
    int running;

    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}
