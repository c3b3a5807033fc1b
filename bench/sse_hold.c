/* Benchmark tool: hold many subscriptions to core-rd's change feed open from one process, on
 * loopback, reading (and counting) whatever they are sent, to measure what idle and busy
 * subscribers cost the server.
 *
 * Usage: sse-hold PORT N SECONDS [EXPECT]
 *   Opens N connections to 127.0.0.1:PORT, each asking GET /api/events. Prints
 *   "connected=N ready_ms=MS failed=F" once every one of them has had its answer's first bytes
 *   or failed, then reads until SECONDS are over or (with EXPECT) every connection got EXPECT
 *   events or was closed, and prints one line (a signal ends it without): events received per
 *   connection (min, max, sum), bytes, connections the server closed and how many of those were
 *   cut off as too slow, and the milliseconds from the first event to the last.
 * Exits 0 when every connection was answered, 1 otherwise, 2 on bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOLD_MAX 10000
/* Connections asked for at once: the listen backlog of the server is bounded. */
#define HOLD_BATCH 64

struct hold_conn {
    int fd;
    int answered;     /**< got its first bytes */
    int closed;       /**< the server closed it */
    int cut;          /**< it was told "event: error" (too slow) */
    int line_start;   /**< the next byte begins a line */
    unsigned matched; /**< bytes of "id: " or "event: error" matched at a line start */
    unsigned long long events;
};

/* Milliseconds since @p t0 (CLOCK_MONOTONIC). */
static long long
since_ms(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Count the event ids and the cut-off notice in @p n bytes, across reads. */
static void
scan(struct hold_conn *c, const char *buf, size_t n)
{
    static const char id[] = "id: ";
    static const char err[] = "event: error";

    for (size_t i = 0; i < n; i++) {
        char ch = buf[i];

        if (c->line_start) {
            c->matched = 0;
            c->line_start = 0;
        }
        if (c->matched != ~0u) {
            if (c->matched < sizeof(id) - 1 && ch == id[c->matched]) {
                c->matched++;
                c->events += c->matched == sizeof(id) - 1;
            } else if (c->matched < sizeof(err) - 1 && ch == err[c->matched]) {
                c->matched++;
                c->cut |= c->matched == sizeof(err) - 1;
            } else {
                c->matched = ~0u;
            }
        }
        c->line_start = ch == '\n';
    }
}

static int
open_one(int port)
{
    static const char req[] = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Accept: text/event-stream\r\n\r\n";
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
        close(fd);
        return -1;
    }
    /* Reads drain each socket until it has nothing more. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Read what @p c has; @return 1 when it was answered for the first time. */
static int
read_one(struct hold_conn *c, unsigned long long *bytes)
{
    char buf[65536];
    int first = 0;

    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof(buf));

        if (n > 0) {
            first |= !c->answered;
            c->answered = 1;
            *bytes += (unsigned long long)n;
            scan(c, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return first;
        }
        c->closed = 1;
        close(c->fd);
        c->fd = -1;
        return first;
    }
}

/* Whether all @p n connections were opened and each got @p expect events or was closed. */
static int
all_done(const struct hold_conn *conns, int opened, int n, unsigned long long expect)
{
    if (opened < n) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (!conns[i].closed && conns[i].events < expect) {
            return 0;
        }
    }
    return 1;
}

int
main(int argc, char **argv)
{
    static struct hold_conn conns[HOLD_MAX];
    struct epoll_event evs[256];
    unsigned long long bytes = 0, sum = 0, min = ~0ull, max = 0;
    struct timespec t0;
    long long until;
    long long first_ms = -1, last_ms = 0;
    unsigned long long expect = 0;
    int port, n, seconds, ep, opened = 0, answered = 0, failed = 0, closed = 0, cut = 0, done = 0;

    if (argc == 5) {
        expect = strtoull(argv[4], NULL, 10);
    }
    if ((argc != 4 && argc != 5) || (port = atoi(argv[1])) <= 0 || port > 65535 || (n = atoi(argv[2])) < 1 ||
        n > HOLD_MAX || (seconds = atoi(argv[3])) < 1 || seconds > 3600) {
        fprintf(stderr, "usage: sse-hold PORT N(1..%d) SECONDS(1..3600) [EXPECT]\n", HOLD_MAX);
        return 2;
    }
    ep = epoll_create1(0);
    if (ep < 0) {
        perror("sse-hold: epoll_create1");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    until = (long long)seconds * 1000;
    while (!done && since_ms(&t0) < until) {
        long long left;
        int k;

        /* Keep at most HOLD_BATCH connections waiting for their answer. */
        while (opened < n && opened - answered - failed < HOLD_BATCH) {
            struct epoll_event e = { .events = EPOLLIN };
            int fd = open_one(port);

            conns[opened].fd = fd;
            conns[opened].line_start = 1;
            if (fd < 0) {
                conns[opened].closed = 1;
                failed++;
            } else {
                e.data.u32 = (unsigned)opened;
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
            }
            if (++opened == n || fd < 0) {
                break;
            }
        }
        left = until - since_ms(&t0);
        k = epoll_wait(ep, evs, 256, (int)(left > 0 ? left : 0));
        for (int i = 0; i < k; i++) {
            struct hold_conn *c = &conns[evs[i].data.u32];

            if (c->fd < 0) {
                continue;
            }
            unsigned long long had = c->events;

            answered += read_one(c, &bytes);
            if (c->closed && !c->answered) {
                failed++;
            }
            if (c->events != had) {
                last_ms = since_ms(&t0);
                first_ms = first_ms < 0 ? last_ms : first_ms;
                /* An event ends the wait only once they all have theirs: look then. */
                if (expect && c->events >= expect) {
                    done = all_done(conns, opened, n, expect);
                }
            }
        }
        if (opened == n && answered + failed == n) {
            static int told;

            if (!told) {
                told = 1;
                printf("connected=%d ready_ms=%lld failed=%d\n", answered, since_ms(&t0), failed);
                fflush(stdout);
            }
        }
    }
    for (int i = 0; i < opened; i++) {
        unsigned long long e = conns[i].events;

        sum += e;
        min = e < min ? e : min;
        max = e > max ? e : max;
        closed += conns[i].closed && conns[i].answered;
        cut += conns[i].cut;
        if (conns[i].fd >= 0) {
            close(conns[i].fd);
        }
    }
    printf("subscribers=%d answered=%d events_min=%llu events_max=%llu events_sum=%llu "
           "bytes=%llu closed_by_server=%d cut_off=%d first_to_last_ms=%lld\n",
           opened, answered, opened ? min : 0, max, sum, bytes, closed, cut,
           first_ms < 0 ? 0 : last_ms - first_ms);
    return answered == n ? 0 : 1;
}
