/* A streamed answer of etcd's JSON gateway (a watch) cut into its messages, one per line. */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

static int
keep(struct cluster_stream *s, const char *data, size_t len)
{
    char *grown;
    size_t cap;

    if (s->len + len > s->cap) {
        cap = s->cap ? s->cap : 4096;
        while (cap < s->len + len) {
            cap *= 2;
        }
        grown = realloc(s->buf, cap);
        if (!grown) {
            return RD_ENOMEM;
        }
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return RD_OK;
}

/* Hand over a line unless it is blank (the gateway may send bare newlines or "\r\n"). */
static int
deliver(const char *line, size_t len, cluster_msg_fn fn, void *arg)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
        len--;
    }
    return len ? fn(arg, line, len) : 0;
}

int
cluster_stream_feed(struct cluster_stream *s, const void *data, size_t len, cluster_msg_fn fn,
                    void *arg)
{
    size_t max = s->max ? s->max : CLUSTER_MSG_MAX;
    const char *p = data;
    int rc;

    while (len > 0 && !s->broken) {
        const char *nl = memchr(p, '\n', len);
        size_t part = nl ? (size_t)(nl - p) : len;

        if (part > max - s->len) {
            /* Where the next message starts is unknown now: the stream is of no further use. */
            s->broken = 1;
            break;
        }
        if (!nl) {
            return keep(s, p, part);
        }
        if (s->len) {
            /* The line began in an earlier call: finish it in the buffer. */
            rc = keep(s, p, part);
            if (!rc) {
                rc = deliver(s->buf, s->len, fn, arg);
            }
            s->len = 0;
        } else {
            rc = deliver(p, part, fn, arg);
        }
        if (rc) {
            return rc;
        }
        p = nl + 1;
        len -= part + 1;
    }
    return s->broken ? RD_ETOOBIG : RD_OK;
}

void
cluster_stream_cleanup(struct cluster_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = 0;
    s->cap = 0;
    s->broken = 0;
}
