/* rd-bench: a load generator for core-rd over raw UDP sockets, with its own minimal CoAP codec
 * (RFC 7252 messages and retransmission, RFC 7959 Block2), driving the registration and lookup
 * interfaces of RFC 9176 (sections 5 and 6). */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_WINDOW_MAX  4096
#define BENCH_SOCKETS_MAX 1000
/* RFC 7252 section 4.4: a message ID may not come back from one endpoint within
 * EXCHANGE_LIFETIME (247 s), and core-rd replays its cached answer when one does. So every
 * source port hands out each of its 65536 message IDs once, and then the next port takes over:
 * the generator stands for many devices, as a directory's real load does. */
#define BENCH_MIDS_PER_SOCKET 65536u
#define BENCH_REQ_MAX         1024
#define BENCH_RSP_MAX         2048
#define BENCH_LOC_MAX         24
#define BENCH_PHASES_MAX      16
#define BENCH_OPS_CAP         100000
/* Block2 size exponent asked for: 2^(6+4) = 1024 bytes per block (RFC 7959 section 2.2). */
#define BENCH_SZX 6
/* lookup-res-page asks for this many links per page, on one of the first BENCH_PAGES pages. */
#define BENCH_PAGE_COUNT 50
#define BENCH_PAGES      20
/* lookup-res-deep and lookup-all-deep ask a random page of the upper half: of the N links of
 * rt=temperature-c, and of all BENCH_LINKS_PER_EP * N links. */
#define BENCH_LINKS_PER_EP 5
/* The rare resource type appears on this many endpoints whatever N is. */
#define BENCH_RARE_EPS   10
#define BENCH_READY_GAP  10 /* ms between readiness probes */
#define BENCH_RECV_BURST 256

#define BENCH_TYPE_CON 0u
#define BENCH_TYPE_NON 1u
#define BENCH_TYPE_ACK 2u
#define BENCH_TYPE_RST 3u

#define BENCH_METHOD_GET    1u
#define BENCH_METHOD_POST   2u
#define BENCH_METHOD_DELETE 4u

#define BENCH_OPT_LOCATION_PATH  8u
#define BENCH_OPT_URI_PATH       11u
#define BENCH_OPT_CONTENT_FORMAT 12u
#define BENCH_OPT_URI_QUERY      15u
#define BENCH_OPT_BLOCK2         23u
#define BENCH_OPT_ECHO           252u
#define BENCH_ECHO_MAX           40 /* RFC 9175 section 2.2.1: 1 to 40 bytes */

/* A response code as class * 32 + detail, the way it sits in the header byte. */
#define BENCH_CODE(c, d) ((unsigned)((c) << 5 | (d)))

enum bench_phase {
    BENCH_REGISTER,
    BENCH_UPDATE,
    BENCH_LOOKUP_EP,
    BENCH_LOOKUP_RES_SEL,
    BENCH_LOOKUP_RES_PAGE,
    BENCH_LOOKUP_RES_DEEP,
    BENCH_LOOKUP_ALL_DEEP,
    BENCH_DELETE,
    BENCH_LOOKUP_HEAVY,
    BENCH_PING,
    BENCH_NPHASES,
};

static const struct {
    const char *name;
    unsigned expect; /**< the response code that counts as success */
} phase_info[BENCH_NPHASES] = {
    [BENCH_REGISTER] = { "register", BENCH_CODE(2, 1) },
    [BENCH_UPDATE] = { "update", BENCH_CODE(2, 4) },
    [BENCH_LOOKUP_EP] = { "lookup-ep", BENCH_CODE(2, 5) },
    [BENCH_LOOKUP_RES_SEL] = { "lookup-res-selective", BENCH_CODE(2, 5) },
    [BENCH_LOOKUP_RES_PAGE] = { "lookup-res-page", BENCH_CODE(2, 5) },
    [BENCH_LOOKUP_RES_DEEP] = { "lookup-res-deep", BENCH_CODE(2, 5) },
    [BENCH_LOOKUP_ALL_DEEP] = { "lookup-all-deep", BENCH_CODE(2, 5) },
    [BENCH_DELETE] = { "delete", BENCH_CODE(2, 2) },
    [BENCH_LOOKUP_HEAVY] = { "lookup-heavy", BENCH_CODE(2, 5) },
    /* A ping is answered with a Reset, which finish() is told as code 0xff. */
    [BENCH_PING] = { "ping", 0xff },
};

struct bench_conf {
    const char *server;
    enum bench_phase phases[BENCH_PHASES_MAX];
    size_t nphases;
    size_t n;                     /**< endpoints */
    size_t first;                 /**< endpoint names start at bench-<first> */
    size_t window;                /**< outstanding requests */
    size_t ops;                   /**< operations per lookup phase; 0: N, at most BENCH_OPS_CAP */
    unsigned long lt;             /**< registration lifetime, seconds */
    unsigned long long expire_at; /**< when set, register picks lt so all expire then (epoch s) */
    uint64_t seed;
    unsigned max_seconds; /**< per phase */
    unsigned timeout_ms;  /**< retransmission timeout */
    unsigned tries;       /**< transmissions of one message before it counts as a timeout */
    int accept_empty_ack;
    unsigned src_port_base; /**< 0: ephemeral source ports */
    size_t peers;           /**< source sockets taken in turn, as that many clients would */
    const char *locations;  /**< file that keeps the locations between runs, or NULL */
    unsigned wait_ready_ms; /**< 0: benchmark; else only wait until the server answers */
};

struct bench_sock {
    int fd;
    uint16_t next_mid;
    uint32_t mids_used;
    size_t busy; /**< outstanding requests sent from here */
};

/* One operation in flight: a request, or the chain of Block2 requests one lookup needs. */
struct bench_op {
    int busy;
    int acked; /**< empty ACK seen: the answer comes as a separate response */
    unsigned tries;
    size_t sock;
    uint16_t mid;
    uint64_t token;
    uint64_t started_ns; /**< first transmission of the first block */
    uint64_t sent_ns;    /**< last transmission of the current message */
    size_t item;         /**< endpoint index, or page number for lookup-res-page */
    uint32_t block;      /**< Block2 number asked for */
    uint32_t szx;        /**< Block2 size exponent asked for */
    uint64_t links;      /**< links seen in the answer so far */
    int in_quote;        /**< the answer's link-format scanner is inside a quoted string */
    int escaped;
    uint8_t echo[BENCH_ECHO_MAX]; /**< Echo value to repeat the request with (RFC 9175) */
    size_t echo_len;
    unsigned echo_tries;
    size_t len;
    uint8_t msg[BENCH_REQ_MAX];
};

struct bench_stats {
    uint64_t issued;
    uint64_t answered;
    uint64_t ok;
    uint64_t timeouts;
    uint64_t retrans;
    uint64_t messages; /**< request messages, first transmissions only */
    uint64_t strays;   /**< datagrams that matched no outstanding request */
    uint64_t send_errors;
    uint64_t unfinished; /**< outstanding when the phase ran out of time */
    uint64_t links;      /**< links in successful lookup answers */
    uint64_t echoes;     /**< requests repeated with an Echo value */
    uint64_t codes[256];
    uint64_t *lat; /**< latency of each answered operation, ns */
    size_t nlat;
    uint64_t first_ns;
    uint64_t last_ns;
    int stopped;
};

struct bench {
    struct bench_conf conf;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct sockaddr_storage local; /**< source address for explicitly bound ports */
    socklen_t local_len;
    unsigned next_port;
    struct bench_sock socks[BENCH_SOCKETS_MAX];
    size_t nsocks;
    size_t peer_base; /**< first socket of the group --peers takes in turn */
    size_t peer_next; /**< requests sent from the group */
    struct bench_op *ops;
    size_t *free_slots;
    size_t nfree;
    size_t busy;
    uint64_t next_timer_ns;
    uint64_t token_seq;
    uint64_t rng;
    char (*loc)[BENCH_LOC_MAX]; /**< location of endpoint i, "" when unknown */
    struct bench_stats *st;
    enum bench_phase phase;
};

/* A parsed datagram; pointers go into the receive buffer. */
struct bench_msg {
    unsigned type;
    unsigned code;
    uint16_t mid;
    size_t tkl;
    uint64_t token;
    int has_block2;
    uint32_t block2;
    char loc[BENCH_LOC_MAX];
    size_t loc_len;
    int loc_too_long;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t echo[BENCH_ECHO_MAX];
    size_t echo_len;
};

struct bench_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    unsigned last; /**< number of the previous option, for the delta encoding */
    int overflow;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, seedable, and good enough to pick endpoints and pages. */
static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z;

    *s += 0x9e3779b97f4a7c15ull;
    z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
put_bytes(struct bench_writer *w, const void *p, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void
put_header(struct bench_writer *w, unsigned type, unsigned code, uint16_t mid, uint64_t token,
           size_t tkl)
{
    uint8_t h[12];

    h[0] = (uint8_t)(0x40u | type << 4 | tkl);
    h[1] = (uint8_t)code;
    h[2] = (uint8_t)(mid >> 8);
    h[3] = (uint8_t)mid;
    for (size_t i = 0; i < tkl; i++) {
        h[4 + i] = (uint8_t)(token >> (8 * (tkl - 1 - i)));
    }
    put_bytes(w, h, 4 + tkl);
    w->last = 0;
}

/* The 4-bit form of an option delta or length (RFC 7252 section 3.1). */
static unsigned
nibble(size_t v)
{
    return v < 13 ? (unsigned)v : v < 269 ? 13u : 14u;
}

static size_t
extend(uint8_t *p, size_t v)
{
    if (v < 13) {
        return 0;
    }
    if (v < 269) {
        p[0] = (uint8_t)(v - 13);
        return 1;
    }
    p[0] = (uint8_t)((v - 269) >> 8);
    p[1] = (uint8_t)(v - 269);
    return 2;
}

/* Options must come in ascending order; a value over 65804 bytes never occurs here. */
static void
put_option(struct bench_writer *w, unsigned number, const void *val, size_t len)
{
    uint8_t h[5];
    size_t n = 1;
    size_t delta = number - w->last;

    h[0] = (uint8_t)(nibble(delta) << 4 | nibble(len));
    n += extend(h + n, delta);
    n += extend(h + n, len);
    put_bytes(w, h, n);
    put_bytes(w, val, len);
    w->last = number;
}

static void
put_option_uint(struct bench_writer *w, unsigned number, uint32_t v)
{
    uint8_t b[4];
    size_t n = 0;

    /* The shortest big-endian form: zero is the empty value. */
    for (int shift = 24; shift >= 0; shift -= 8) {
        if (n || (v >> shift) & 0xff) {
            b[n++] = (uint8_t)(v >> shift);
        }
    }
    put_option(w, number, b, n);
}

static void
put_option_str(struct bench_writer *w, unsigned number, const char *s)
{
    put_option(w, number, s, strlen(s));
}

static void
put_payload(struct bench_writer *w, const void *p, size_t n)
{
    static const uint8_t marker = 0xff;

    if (n) {
        put_bytes(w, &marker, 1);
        put_bytes(w, p, n);
    }
}

/* Read an extended option delta or length; -1 when it runs past the end or is reserved. */
static long
read_ext(unsigned nib, const uint8_t *b, size_t len, size_t *pos)
{
    long v;

    if (nib < 13) {
        return (long)nib;
    }
    if (nib == 13) {
        if (*pos + 1 > len) {
            return -1;
        }
        v = (long)b[*pos] + 13;
        *pos += 1;
        return v;
    }
    if (nib == 14) {
        if (*pos + 2 > len) {
            return -1;
        }
        v = ((long)b[*pos] << 8 | b[*pos + 1]) + 269;
        *pos += 2;
        return v;
    }
    return -1;
}

static void
take_option(struct bench_msg *m, unsigned number, const uint8_t *val, size_t len)
{
    if (number == BENCH_OPT_BLOCK2 && len <= 3) {
        m->has_block2 = 1;
        m->block2 = 0;
        for (size_t i = 0; i < len; i++) {
            m->block2 = m->block2 << 8 | val[i];
        }
    } else if (number == BENCH_OPT_ECHO && len <= BENCH_ECHO_MAX) {
        memcpy(m->echo, val, len);
        m->echo_len = len;
    } else if (number == BENCH_OPT_LOCATION_PATH) {
        /* The segments joined with '/', as the update and delete requests give them back. */
        size_t need = len + (m->loc_len ? 1 : 0);

        if (m->loc_len + need >= sizeof(m->loc)) {
            m->loc_too_long = 1;
            return;
        }
        if (m->loc_len) {
            m->loc[m->loc_len++] = '/';
        }
        memcpy(m->loc + m->loc_len, val, len);
        m->loc_len += len;
        m->loc[m->loc_len] = '\0';
    }
}

/* Parse a CoAP message; -1 when it is malformed. */
static int
parse_msg(const uint8_t *b, size_t len, struct bench_msg *m)
{
    size_t pos;
    unsigned number = 0;

    memset(m, 0, sizeof(*m));
    if (len < 4 || b[0] >> 6 != 1) {
        return -1;
    }
    m->type = (b[0] >> 4) & 3u;
    m->tkl = b[0] & 0x0fu;
    m->code = b[1];
    m->mid = (uint16_t)(b[2] << 8 | b[3]);
    if (m->tkl > 8 || 4 + m->tkl > len) {
        return -1;
    }
    for (size_t i = 0; i < m->tkl; i++) {
        m->token = m->token << 8 | b[4 + i];
    }
    pos = 4 + m->tkl;
    while (pos < len && b[pos] != 0xff) {
        unsigned dnib = b[pos] >> 4;
        unsigned lnib = b[pos] & 0x0fu;
        long delta;
        long olen;

        pos++;
        delta = read_ext(dnib, b, len, &pos);
        olen = read_ext(lnib, b, len, &pos);
        if (delta < 0 || olen < 0 || (size_t)olen > len - pos) {
            return -1;
        }
        number += (unsigned)delta;
        take_option(m, number, b + pos, (size_t)olen);
        pos += (size_t)olen;
    }
    if (pos < len) {
        /* A payload marker with nothing after it is a format error (RFC 7252 section 3). */
        if (pos + 1 == len) {
            return -1;
        }
        m->payload = b + pos + 1;
        m->payload_len = len - pos - 1;
    }
    return 0;
}

/* The links of endpoint i: four common types on every endpoint, and a fifth that is the rare
 * "rare-sensor" on BENCH_RARE_EPS endpoints in all, so a selective lookup finds a handful of
 * links whatever N is, and "firmware" everywhere else. */
static int
format_links(char *out, size_t size, size_t i, size_t n)
{
    size_t every = n / BENCH_RARE_EPS ? n / BENCH_RARE_EPS : 1;
    const char *last = i % every == 0 ? "</alarm>;rt=\"rare-sensor\";if=\"sensor\";ct=0;obs"
                                      : "</fw>;rt=\"firmware\";if=\"core.p\";ct=0";
    int len;

    len = snprintf(out, size,
                   "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\";ct=0;obs,"
                   "</sensors/hum>;rt=\"humidity\";if=\"sensor\";ct=0;obs,"
                   "</sensors/light>;rt=\"light-lux\";if=\"sensor\";ct=0,"
                   "</power/meter>;rt=\"power\";if=\"sensor\";ct=0,%s",
                   last);
    return len < 0 || (size_t)len >= size ? -1 : len;
}

/* Put the location's segments as Uri-Path options. */
static void
put_location(struct bench_writer *w, const char *loc)
{
    const char *seg = loc;

    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);

        put_option(w, BENCH_OPT_URI_PATH, seg, len);
        if (!slash) {
            break;
        }
        seg = slash + 1;
    }
}

/* The Echo option, last of all options by number, when the server asked for one. */
static void
put_echo(struct bench_writer *w, const struct bench_op *op)
{
    if (op->echo_len) {
        put_option(w, BENCH_OPT_ECHO, op->echo, op->echo_len);
    }
}

/* Write the request message of @p op (its current block) into op->msg. */

/* The lt of a registration sent now: --lt, or what makes the server's deadline --expire-at. */
static unsigned long
register_lt(const struct bench_conf *c)
{
    long long left;

    if (!c->expire_at) {
        return c->lt;
    }
    left = (long long)c->expire_at - (long long)time(NULL) - 1;
    return left < 1 ? 1 : (unsigned long)left;
}

/* The query of expensive lookup @p item over @p n endpoints, in turn: an unindexed filter no
 * link matches (every registration walked), a title prefix nobody has, a deep page of two
 * criteria (walked from the first registration), an unindexed attribute, and a cold deep page
 * of one term (placed by the store's counts). Values and pages vary with @p item, so that no
 * answer kept from an earlier ask serves a later one. */
static void
put_heavy_query(struct bench_writer *w, size_t item, size_t n)
{
    size_t pages = n / BENCH_PAGE_COUNT < 2 ? 2 : n / BENCH_PAGE_COUNT;
    size_t page = pages / 2 + item / 5 % (pages - pages / 2);
    char q[64];

    switch (item % 5) {
    case 0:
        snprintf(q, sizeof(q), "href=*temp%zu", item);
        put_option_str(w, BENCH_OPT_URI_QUERY, q);
        break;
    case 1:
        snprintf(q, sizeof(q), "title=t%zu*", item);
        put_option_str(w, BENCH_OPT_URI_QUERY, q);
        break;
    case 2:
        put_option_str(w, BENCH_OPT_URI_QUERY, "if=sensor");
        put_option_str(w, BENCH_OPT_URI_QUERY, "ct=0");
        break;
    case 3:
        snprintf(q, sizeof(q), "sz=%zu", item);
        put_option_str(w, BENCH_OPT_URI_QUERY, q);
        break;
    default:
        put_option_str(w, BENCH_OPT_URI_QUERY, "rt=temperature-c");
        break;
    }
    snprintf(q, sizeof(q), "count=%d", BENCH_PAGE_COUNT);
    put_option_str(w, BENCH_OPT_URI_QUERY, q);
    if (item % 5 == 2 || item % 5 == 4) {
        snprintf(q, sizeof(q), "page=%zu", page);
        put_option_str(w, BENCH_OPT_URI_QUERY, q);
    }
}

static int
build_request(struct bench *b, struct bench_op *op)
{
    struct bench_writer w = { op->msg, sizeof(op->msg), 0, 0, 0 };
    char q[64];
    char links[512];
    int len;

    switch (b->phase) {
    case BENCH_REGISTER:
        put_header(&w, BENCH_TYPE_CON, BENCH_METHOD_POST, op->mid, op->token, 8);
        put_option_str(&w, BENCH_OPT_URI_PATH, "rd");
        put_option_uint(&w, BENCH_OPT_CONTENT_FORMAT, 40);
        snprintf(q, sizeof(q), "ep=bench-%zu", b->conf.first + op->item);
        put_option_str(&w, BENCH_OPT_URI_QUERY, q);
        snprintf(q, sizeof(q), "lt=%lu", register_lt(&b->conf));
        put_option_str(&w, BENCH_OPT_URI_QUERY, q);
        len = format_links(links, sizeof(links), op->item, b->conf.n);
        if (len < 0) {
            return -1;
        }
        put_echo(&w, op);
        put_payload(&w, links, (size_t)len);
        break;
    case BENCH_UPDATE:
    case BENCH_DELETE:
        put_header(&w, BENCH_TYPE_CON,
                   b->phase == BENCH_UPDATE ? BENCH_METHOD_POST : BENCH_METHOD_DELETE, op->mid,
                   op->token, 8);
        put_location(&w, b->loc[op->item]);
        put_echo(&w, op);
        break;
    case BENCH_LOOKUP_EP:
    case BENCH_LOOKUP_RES_SEL:
    case BENCH_LOOKUP_RES_PAGE:
    case BENCH_LOOKUP_RES_DEEP:
    case BENCH_LOOKUP_ALL_DEEP:
        put_header(&w, BENCH_TYPE_CON, BENCH_METHOD_GET, op->mid, op->token, 8);
        put_option_str(&w, BENCH_OPT_URI_PATH, "rd-lookup");
        put_option_str(&w, BENCH_OPT_URI_PATH, b->phase == BENCH_LOOKUP_EP ? "ep" : "res");
        if (b->phase == BENCH_LOOKUP_EP) {
            snprintf(q, sizeof(q), "ep=bench-%zu", op->item);
            put_option_str(&w, BENCH_OPT_URI_QUERY, q);
        } else if (b->phase == BENCH_LOOKUP_RES_SEL) {
            put_option_str(&w, BENCH_OPT_URI_QUERY, "rt=rare-sensor");
        } else {
            if (b->phase != BENCH_LOOKUP_ALL_DEEP) {
                put_option_str(&w, BENCH_OPT_URI_QUERY, "rt=temperature-c");
            }
            snprintf(q, sizeof(q), "count=%d", BENCH_PAGE_COUNT);
            put_option_str(&w, BENCH_OPT_URI_QUERY, q);
            snprintf(q, sizeof(q), "page=%zu", op->item);
            put_option_str(&w, BENCH_OPT_URI_QUERY, q);
        }
        put_option_uint(&w, BENCH_OPT_BLOCK2, op->block << 4 | op->szx);
        put_echo(&w, op);
        break;
    case BENCH_LOOKUP_HEAVY:
        put_header(&w, BENCH_TYPE_CON, BENCH_METHOD_GET, op->mid, op->token, 8);
        put_option_str(&w, BENCH_OPT_URI_PATH, "rd-lookup");
        put_option_str(&w, BENCH_OPT_URI_PATH, "res");
        put_heavy_query(&w, op->item, b->conf.n);
        put_option_uint(&w, BENCH_OPT_BLOCK2, op->block << 4 | op->szx);
        put_echo(&w, op);
        break;
    case BENCH_PING:
        /* An empty confirmable message (RFC 7252 section 4.3): no token, no options. */
        put_header(&w, BENCH_TYPE_CON, 0, op->mid, 0, 0);
        break;
    case BENCH_NPHASES:
        return -1;
    }
    op->len = w.len;
    return w.overflow ? -1 : 0;
}

/* Open the socket that takes over when the current one has used all its message IDs. */
static int
sock_open(struct bench *b)
{
    struct bench_sock *s;
    int fd;
    int rcvbuf = 1 << 20;

    if (b->nsocks == BENCH_SOCKETS_MAX) {
        fprintf(stderr, "rd-bench: out of source ports (%d used)\n", BENCH_SOCKETS_MAX);
        return -1;
    }
    fd = socket(b->peer.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("rd-bench: socket");
        return -1;
    }
    /* A window of Block2 answers must not overflow the default receive buffer. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (b->conf.src_port_base) {
        int bound = 0;

        /* Ports taken by something else are skipped; the caller learns the next free one. */
        for (unsigned tries = 0; tries < 1000 && !bound && b->next_port <= 65535; tries++) {
            struct sockaddr_storage a = b->local;
            uint16_t port = htons((uint16_t)b->next_port++);

            if (a.ss_family == AF_INET) {
                ((struct sockaddr_in *)&a)->sin_port = port;
            } else {
                ((struct sockaddr_in6 *)&a)->sin6_port = port;
            }
            bound = bind(fd, (struct sockaddr *)&a, b->local_len) == 0;
        }
        if (!bound) {
            fprintf(stderr, "rd-bench: no free source port from %u\n", b->conf.src_port_base);
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (const struct sockaddr *)&b->peer, b->peer_len) != 0) {
        perror("rd-bench: connect");
        close(fd);
        return -1;
    }
    s = &b->socks[b->nsocks++];
    s->fd = fd;
    s->next_mid = (uint16_t)rng_next(&b->rng);
    s->mids_used = 0;
    s->busy = 0;
    return 0;
}

/* A fresh message ID, and the socket it belongs to: the newest socket, or with --peers K the
 * next of a group of K in turn. A socket that used all its message IDs is replaced (with the
 * group it belongs to). */
static int
take_mid(struct bench *b, size_t *sock, uint16_t *mid)
{
    size_t k = b->conf.peers > 1 ? b->conf.peers : 1;
    size_t i;
    struct bench_sock *s;

    if (b->nsocks < b->peer_base + k) {
        i = b->nsocks;
    } else {
        i = b->peer_base + b->peer_next % k;
        if (b->socks[i].mids_used == BENCH_MIDS_PER_SOCKET) {
            b->peer_base = b->nsocks;
            b->peer_next = 0;
            i = b->nsocks;
        }
    }
    if (i == b->nsocks && sock_open(b)) {
        return -1;
    }
    b->peer_next++;
    s = &b->socks[i];
    *sock = i;
    *mid = s->next_mid++;
    s->mids_used++;
    return 0;
}

static void
transmit(struct bench *b, struct bench_op *op, uint64_t now)
{
    /* A failed send (a full buffer, an ICMP error from an earlier datagram) is left to the
     * retransmission timer, as a lost datagram would be. */
    if (send(b->socks[op->sock].fd, op->msg, op->len, 0) < 0) {
        b->st->send_errors++;
    }
    op->sent_ns = now;
    if (now + (uint64_t)b->conf.timeout_ms * 1000000u < b->next_timer_ns) {
        b->next_timer_ns = now + (uint64_t)b->conf.timeout_ms * 1000000u;
    }
}

/* Give the op a new message ID and token and send its current block. */
static int
send_message(struct bench *b, struct bench_op *op, uint64_t now)
{
    size_t slot = (size_t)(op - b->ops);
    size_t sock;

    if (take_mid(b, &sock, &op->mid)) {
        return -1;
    }
    if (op->busy) {
        b->socks[op->sock].busy--;
    }
    op->sock = sock;
    b->socks[sock].busy++;
    /* The slot in the low bits finds the op; the sequence number makes stale answers miss. */
    op->token = ++b->token_seq << 16 | slot;
    op->tries = 1;
    op->acked = 0;
    op->busy = 1;
    if (build_request(b, op)) {
        fprintf(stderr, "rd-bench: request too large\n");
        return -1;
    }
    b->st->messages++;
    transmit(b, op, now);
    return 0;
}

static void
finish(struct bench *b, struct bench_op *op, int answered, unsigned code, uint64_t now)
{
    struct bench_stats *st = b->st;

    if (answered) {
        st->answered++;
        st->codes[code & 0xff]++;
        st->lat[st->nlat++] = now - op->started_ns;
        if (code == (b->conf.accept_empty_ack ? 0u : phase_info[b->phase].expect)) {
            st->ok++;
            st->links += op->links;
        }
    } else {
        st->timeouts++;
    }
    st->last_ns = now;
    b->socks[op->sock].busy--;
    op->busy = 0;
    b->busy--;
    b->free_slots[b->nfree++] = (size_t)(op - b->ops);
}

/* Count the links of a link-format answer: every '<' outside a quoted string opens one. */
static void
count_links(struct bench_op *op, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (op->escaped) {
            op->escaped = 0;
        } else if (op->in_quote && p[i] == '\\') {
            op->escaped = 1;
        } else if (p[i] == '"') {
            op->in_quote = !op->in_quote;
        } else if (!op->in_quote && p[i] == '<') {
            op->links++;
        }
    }
}

static struct bench_op *
find_by_mid(struct bench *b, size_t sock, uint16_t mid)
{
    for (size_t i = 0; i < b->conf.window; i++) {
        struct bench_op *op = &b->ops[i];

        if (op->busy && op->sock == sock && op->mid == mid) {
            return op;
        }
    }
    return NULL;
}

static void
send_empty(struct bench *b, size_t sock, unsigned type, uint16_t mid)
{
    uint8_t m[4];
    struct bench_writer w = { m, sizeof(m), 0, 0, 0 };

    put_header(&w, type, 0, mid, 0, 0);
    if (send(b->socks[sock].fd, m, w.len, 0) < 0) {
        b->st->send_errors++;
    }
}

static void
handle_empty(struct bench *b, size_t sock, const struct bench_msg *m, uint64_t now)
{
    struct bench_op *op;

    if (m->type == BENCH_TYPE_CON) {
        /* A CoAP ping (RFC 7252 section 4.3): answered with a Reset. */
        send_empty(b, sock, BENCH_TYPE_RST, m->mid);
        return;
    }
    op = find_by_mid(b, sock, m->mid);
    if (!op) {
        b->st->strays++;
        return;
    }
    if (m->type == BENCH_TYPE_RST) {
        finish(b, op, 1, 0xff, now);
    } else if (m->type == BENCH_TYPE_ACK) {
        if (b->conf.accept_empty_ack) {
            finish(b, op, 1, 0, now);
        } else {
            op->acked = 1;
        }
    }
}

static void
handle_datagram(struct bench *b, size_t sock, const uint8_t *buf, size_t len, uint64_t now)
{
    struct bench_msg m;
    struct bench_op *op;
    size_t slot;

    if (parse_msg(buf, len, &m)) {
        b->st->strays++;
        return;
    }
    if (m.code == 0) {
        handle_empty(b, sock, &m, now);
        return;
    }
    /* A separate response is acknowledged even when nothing waits for it any more: otherwise
     * the server would keep retransmitting it. */
    if (m.type == BENCH_TYPE_CON) {
        send_empty(b, sock, BENCH_TYPE_ACK, m.mid);
    }
    slot = (size_t)(m.token & 0xffff);
    op = slot < b->conf.window ? &b->ops[slot] : NULL;
    if (!op || !op->busy || m.tkl != 8 || op->token != m.token || op->sock != sock ||
        (m.type == BENCH_TYPE_ACK && m.mid != op->mid) ||
        (m.type != BENCH_TYPE_ACK && m.type != BENCH_TYPE_CON && m.type != BENCH_TYPE_NON)) {
        b->st->strays++;
        return;
    }
    /* 4.01 with Echo: the server verifies our address before a large answer (RFC 9175
     * section 2.4); repeat the request with the value, as libcoap clients do. */
    if (m.code == BENCH_CODE(4, 1) && m.echo_len && op->echo_tries < 2) {
        memcpy(op->echo, m.echo, m.echo_len);
        op->echo_len = m.echo_len;
        op->echo_tries++;
        b->st->echoes++;
        if (send_message(b, op, now)) {
            finish(b, op, 0, 0, now);
        }
        return;
    }
    if (m.code == phase_info[b->phase].expect) {
        count_links(op, m.payload, m.payload_len);
    }
    if (b->phase == BENCH_REGISTER && m.code == BENCH_CODE(2, 1) && b->loc) {
        if (m.loc_too_long) {
            fprintf(stderr, "rd-bench: location of bench-%zu too long; not kept\n", op->item);
        } else {
            memcpy(b->loc[op->item], m.loc, m.loc_len + 1);
        }
    }
    /* More blocks to come (RFC 7959 section 2.4): ask for the next one; the op goes on. */
    if (m.has_block2 && (m.block2 & 0x8u) && m.code == phase_info[b->phase].expect) {
        /* Should the server choose a smaller block than asked for, go on in its size. A block
         * with an Echo value (a small first block to an address not yet verified) has it
         * repeated with the next request, as libcoap clients do: that verifies the address. */
        op->szx = m.block2 & 7u;
        if (m.echo_len) {
            memcpy(op->echo, m.echo, m.echo_len);
            op->echo_len = m.echo_len;
            b->st->echoes++;
        }
        op->block = (m.block2 >> 4) + 1;
        if (send_message(b, op, now)) {
            finish(b, op, 0, 0, now);
        }
        return;
    }
    finish(b, op, 1, m.code, now);
}

/* Retransmit what waited too long, give up on what has had all its tries. */
static void
check_timers(struct bench *b, uint64_t now)
{
    uint64_t timeout = (uint64_t)b->conf.timeout_ms * 1000000u;
    uint64_t next = UINT64_MAX;

    if (now < b->next_timer_ns) {
        return;
    }
    for (size_t i = 0; i < b->conf.window; i++) {
        struct bench_op *op = &b->ops[i];
        uint64_t due;

        if (!op->busy) {
            continue;
        }
        /* After an empty ACK the server has the request: wait for its answer, do not resend. */
        due = op->sent_ns + (op->acked ? timeout * b->conf.tries : timeout);
        if (now < due) {
            if (due < next) {
                next = due;
            }
            continue;
        }
        if (op->acked || op->tries >= b->conf.tries) {
            finish(b, op, 0, 0, now);
            continue;
        }
        op->tries++;
        b->st->retrans++;
        transmit(b, op, now);
        if (op->sent_ns + timeout < next) {
            next = op->sent_ns + timeout;
        }
    }
    b->next_timer_ns = next;
}

static void
receive(struct bench *b, uint64_t deadline)
{
    struct pollfd pfd[BENCH_SOCKETS_MAX];
    size_t map[BENCH_SOCKETS_MAX];
    size_t npfd = 0;
    uint64_t now = now_ns();
    uint64_t until = b->next_timer_ns < deadline ? b->next_timer_ns : deadline;
    int wait_ms = until > now ? (int)((until - now) / 1000000u) + 1 : 0;
    uint8_t buf[BENCH_RSP_MAX];

    if (wait_ms > 1000) {
        wait_ms = 1000;
    }
    for (size_t i = 0; i < b->nsocks; i++) {
        if (b->socks[i].busy) {
            pfd[npfd].fd = b->socks[i].fd;
            pfd[npfd].events = POLLIN;
            pfd[npfd].revents = 0;
            map[npfd++] = i;
        }
    }
    if (npfd == 0 || poll(pfd, (nfds_t)npfd, wait_ms) <= 0) {
        return;
    }
    for (size_t i = 0; i < npfd; i++) {
        if (!(pfd[i].revents & (POLLIN | POLLERR))) {
            continue;
        }
        for (int k = 0; k < BENCH_RECV_BURST; k++) {
            ssize_t n = recv(b->socks[map[i]].fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

            if (n < 0) {
                /* ECONNREFUSED reports an ICMP error for an earlier datagram: read on. */
                if (errno == ECONNREFUSED) {
                    continue;
                }
                break;
            }
            if ((size_t)n > sizeof(buf)) {
                b->st->strays++;
                continue;
            }
            handle_datagram(b, map[i], buf, (size_t)n, now_ns());
        }
    }
}

static size_t
lookup_ops(const struct bench *b)
{
    if (b->conf.ops) {
        return b->conf.ops;
    }
    return b->conf.n < BENCH_OPS_CAP ? b->conf.n : BENCH_OPS_CAP;
}

/* The endpoint or page the next op works on; SIZE_MAX when the phase has no more work. */
static size_t
next_item(struct bench *b, size_t *cursor)
{
    size_t pages;

    switch (b->phase) {
    case BENCH_REGISTER:
        return *cursor < b->conf.n ? (*cursor)++ : SIZE_MAX;
    case BENCH_UPDATE:
    case BENCH_DELETE:
        /* Endpoints whose registration failed have no location and are left out. */
        while (*cursor < b->conf.n && b->loc[*cursor][0] == '\0') {
            (*cursor)++;
        }
        return *cursor < b->conf.n ? (*cursor)++ : SIZE_MAX;
    case BENCH_LOOKUP_EP:
    case BENCH_LOOKUP_RES_SEL:
    case BENCH_LOOKUP_RES_PAGE:
    case BENCH_LOOKUP_RES_DEEP:
    case BENCH_LOOKUP_ALL_DEEP:
    case BENCH_LOOKUP_HEAVY:
    case BENCH_PING:
        if (*cursor >= lookup_ops(b)) {
            return SIZE_MAX;
        }
        (*cursor)++;
        if (b->phase == BENCH_LOOKUP_RES_PAGE) {
            pages = b->conf.n / BENCH_PAGE_COUNT;
            pages = pages < 1 ? 1 : pages > BENCH_PAGES ? BENCH_PAGES : pages;
            return (size_t)(rng_next(&b->rng) % pages);
        }
        if (b->phase == BENCH_LOOKUP_RES_DEEP || b->phase == BENCH_LOOKUP_ALL_DEEP) {
            pages = b->conf.n * (b->phase == BENCH_LOOKUP_ALL_DEEP ? BENCH_LINKS_PER_EP : 1) /
                    BENCH_PAGE_COUNT;
            pages = pages < 2 ? 2 : pages;
            return pages / 2 + (size_t)(rng_next(&b->rng) % (pages - pages / 2));
        }
        return (size_t)(rng_next(&b->rng) % b->conf.n);
    case BENCH_NPHASES:
        break;
    }
    return SIZE_MAX;
}

static int
issue(struct bench *b, size_t item, uint64_t now)
{
    struct bench_op *op = &b->ops[b->free_slots[--b->nfree]];

    op->busy = 0;
    op->item = item;
    op->block = 0;
    op->szx = BENCH_SZX;
    op->links = 0;
    op->in_quote = 0;
    op->escaped = 0;
    op->echo_len = 0;
    op->echo_tries = 0;
    op->started_ns = now;
    b->busy++;
    b->st->issued++;
    if (b->st->first_ns == 0) {
        b->st->first_ns = now;
    }
    if (send_message(b, op, now)) {
        if (op->busy) {
            b->socks[op->sock].busy--;
            op->busy = 0;
        }
        b->busy--;
        b->st->issued--;
        b->free_slots[b->nfree++] = (size_t)(op - b->ops);
        return -1;
    }
    return 0;
}

/* Run one phase to completion or to its time limit. */
static int
run_phase(struct bench *b)
{
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)b->conf.max_seconds * 1000000000u;
    size_t cursor = 0;
    int more = 1;

    b->next_timer_ns = UINT64_MAX;
    for (;;) {
        uint64_t now = now_ns();

        while (more && b->busy < b->conf.window && now < deadline) {
            size_t item = next_item(b, &cursor);

            if (item == SIZE_MAX) {
                more = 0;
                break;
            }
            if (issue(b, item, now)) {
                return -1;
            }
        }
        if (!more && b->busy == 0) {
            break;
        }
        if (now >= deadline) {
            /* Out of time: what is still outstanding is abandoned, not counted as answered. */
            b->st->stopped = 1;
            b->st->unfinished = b->busy;
            for (size_t i = 0; i < b->conf.window; i++) {
                if (b->ops[i].busy) {
                    b->socks[b->ops[i].sock].busy--;
                    b->ops[i].busy = 0;
                    b->free_slots[b->nfree++] = i;
                }
            }
            b->busy = 0;
            b->st->last_ns = now;
            break;
        }
        receive(b, deadline);
        check_timers(b, now_ns());
    }
    return 0;
}

static int
cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x;
    uint64_t c = *(const uint64_t *)y;

    return a < c ? -1 : a > c;
}

static int
cmp_loc(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Registrations of different endpoints must get different locations; a repeated one would
 * mean an answer that was not meant for the request. */
static size_t
duplicate_locations(const struct bench *b)
{
    const char **v = malloc((b->conf.n ? b->conf.n : 1) * sizeof(*v));
    size_t n = 0;
    size_t dups = 0;

    if (!v) {
        return 0;
    }
    for (size_t i = 0; i < b->conf.n; i++) {
        if (b->loc[i][0]) {
            v[n++] = b->loc[i];
        }
    }
    qsort(v, n, sizeof(*v), cmp_loc);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1], v[i]) == 0) {
            dups++;
        }
    }
    free(v);
    return dups;
}

/* Nearest-rank percentile of sorted latencies, in ms. */
static double
percentile_ms(const uint64_t *v, size_t n, unsigned p)
{
    size_t rank;

    if (n == 0) {
        return 0.0;
    }
    rank = (n * p + 99) / 100;
    return (double)v[rank ? rank - 1 : 0] / 1e6;
}

static void
report(const struct bench *b, const struct bench_stats *st)
{
    double secs = st->last_ns > st->first_ns ? (double)(st->last_ns - st->first_ns) / 1e9 : 0.0;
    char codes[512];
    size_t used = 0;

    qsort(st->lat, st->nlat, sizeof(*st->lat), cmp_u64);
    codes[0] = '\0';
    for (unsigned c = 0; c < 256; c++) {
        int len;

        if (!st->codes[c]) {
            continue;
        }
        if (c == 0xff) {
            len = snprintf(codes + used, sizeof(codes) - used, "%sRST:%llu", used ? "," : "",
                           (unsigned long long)st->codes[c]);
        } else {
            len = snprintf(codes + used, sizeof(codes) - used, "%s%u.%02u:%llu", used ? "," : "",
                           c >> 5, c & 31u, (unsigned long long)st->codes[c]);
        }
        if (len < 0 || (size_t)len >= sizeof(codes) - used) {
            break;
        }
        used += (size_t)len;
    }
    printf("phase=%s n=%zu w=%zu ops=%llu ok=%llu seconds=%.3f ops_per_s=%.0f p50_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f codes=%s timeouts=%llu retransmissions=%llu messages=%llu "
           "links_per_ok=%.2f unfinished=%llu stray=%llu send_errors=%llu stopped=%s echoes=%llu\n",
           phase_info[b->phase].name, b->conf.n, b->conf.window, (unsigned long long)st->issued,
           (unsigned long long)st->ok, secs, secs > 0 ? (double)st->ok / secs : 0.0,
           percentile_ms(st->lat, st->nlat, 50), percentile_ms(st->lat, st->nlat, 99),
           st->nlat ? (double)st->lat[st->nlat - 1] / 1e6 : 0.0, used ? codes : "-",
           (unsigned long long)st->timeouts, (unsigned long long)st->retrans,
           (unsigned long long)st->messages, st->ok ? (double)st->links / (double)st->ok : 0.0,
           (unsigned long long)st->unfinished, (unsigned long long)st->strays,
           (unsigned long long)st->send_errors, st->stopped ? "max-seconds" : "no",
           (unsigned long long)st->echoes);
    fflush(stdout);
}

static int
save_locations(const struct bench *b)
{
    FILE *f = fopen(b->conf.locations, "w");
    int rc = 0;

    if (!f) {
        perror("rd-bench: locations file");
        return -1;
    }
    for (size_t i = 0; i < b->conf.n; i++) {
        if (b->loc[i][0] && fprintf(f, "%zu %s\n", i, b->loc[i]) < 0) {
            rc = -1;
        }
    }
    if (fclose(f) != 0) {
        rc = -1;
    }
    if (rc) {
        fprintf(stderr, "rd-bench: cannot write %s\n", b->conf.locations);
    }
    return rc;
}

static int
load_locations(struct bench *b)
{
    FILE *f = fopen(b->conf.locations, "r");
    char line[128];
    size_t lineno = 0;
    int rc = 0;

    if (!f) {
        perror("rd-bench: locations file");
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *end;
        unsigned long long i;
        size_t len;

        lineno++;
        errno = 0;
        i = strtoull(line, &end, 10);
        len = *end == ' ' ? strcspn(end + 1, "\n") : 0;
        if (errno || end == line || i >= b->conf.n || len == 0 || len >= BENCH_LOC_MAX) {
            fprintf(stderr, "rd-bench: %s:%zu: expected \"INDEX LOCATION\" with INDEX < %zu\n",
                    b->conf.locations, lineno, b->conf.n);
            rc = -1;
            break;
        }
        memcpy(b->loc[i], end + 1, len);
        b->loc[i][len] = '\0';
    }
    fclose(f);
    return rc;
}

static int
resolve(struct bench *b)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char host[256];
    const char *spec = b->conf.server;
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hlen;
    int fd;
    int rc = -1;

    if (!colon || colon[1] == '\0') {
        fprintf(stderr, "rd-bench: --server %s: expected HOST:PORT\n", spec);
        return -1;
    }
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        h = spec + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        fprintf(stderr, "rd-bench: --server %s: expected HOST:PORT\n", spec);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res) {
        fprintf(stderr, "rd-bench: --server %s: cannot resolve\n", spec);
        return -1;
    }
    memcpy(&b->peer, res->ai_addr, res->ai_addrlen);
    b->peer_len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    /* Learn the source address the kernel picks towards the server, to bind ports on it. */
    fd = socket(b->peer.ss_family, SOCK_DGRAM, 0);
    b->local_len = sizeof(b->local);
    if (fd >= 0 && connect(fd, (const struct sockaddr *)&b->peer, b->peer_len) == 0 &&
        getsockname(fd, (struct sockaddr *)&b->local, &b->local_len) == 0) {
        rc = 0;
    } else {
        perror("rd-bench: no route to the server");
    }
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* Send GET /.well-known/core every BENCH_READY_GAP ms until anything answers. */
static int
wait_ready(struct bench *b)
{
    uint64_t start = now_ns();
    uint64_t limit = start + (uint64_t)b->conf.wait_ready_ms * 1000000u;
    uint8_t buf[BENCH_RSP_MAX];
    uint8_t req[64];
    struct timespec wall;

    while (now_ns() < limit) {
        struct bench_writer w = { req, sizeof(req), 0, 0, 0 };
        struct pollfd pfd;
        size_t sock;
        uint16_t mid;
        uint64_t sent = now_ns();

        if (take_mid(b, &sock, &mid)) {
            return 2;
        }
        put_header(&w, BENCH_TYPE_CON, BENCH_METHOD_GET, mid, ++b->token_seq, 8);
        put_option_str(&w, BENCH_OPT_URI_PATH, ".well-known");
        put_option_str(&w, BENCH_OPT_URI_PATH, "core");
        /* Before the server binds, the kernel answers with ICMP; the error is expected. */
        (void)send(b->socks[sock].fd, req, w.len, 0);
        pfd.fd = b->socks[sock].fd;
        pfd.events = POLLIN;
        while (now_ns() < sent + BENCH_READY_GAP * 1000000u) {
            ssize_t n;
            struct bench_msg m;

            pfd.revents = 0;
            if (poll(&pfd, 1, BENCH_READY_GAP) <= 0) {
                continue;
            }
            n = recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0 || parse_msg(buf, (size_t)n, &m) || m.code == 0) {
                continue;
            }
            clock_gettime(CLOCK_REALTIME, &wall);
            printf("ready_ms=%.1f ready_epoch_us=%lld code=%u.%02u\n",
                   (double)(now_ns() - start) / 1e6,
                   (long long)wall.tv_sec * 1000000 + wall.tv_nsec / 1000, m.code >> 5,
                   m.code & 31u);
            return 0;
        }
    }
    printf("ready_ms=- timeout_ms=%u\n", b->conf.wait_ready_ms);
    return 1;
}

static void
usage(FILE *out)
{
    fprintf(out,
            "Usage: rd-bench [OPTIONS]\n"
            "Load generator for a CoRE Resource Directory (RFC 9176), CoAP over UDP.\n"
            "\n"
            "  --server HOST:PORT     the directory (default 127.0.0.1:5683)\n"
            "  --phases LIST          comma-separated, run in that order (default\n"
            "                         register,update,lookup-ep,lookup-res-selective,\n"
            "                         lookup-res-page,delete); also lookup-res-deep and\n"
            "                         lookup-all-deep (random pages of the upper half),\n"
            "                         lookup-heavy (unindexed filters, deep pages of two\n"
            "                         criteria, cold deep pages, in turn) and ping (empty\n"
            "                         CON, answered with a Reset)\n"
            "  -n N                   endpoints bench-0 .. bench-(N-1) (default 1000)\n"
            "  --first K              name them bench-K .. bench-(K+N-1) instead\n"
            "  -w W                   outstanding confirmable requests (default 32; 1: latency)\n"
            "  --ops N                operations per lookup phase (default N, at most %d)\n"
            "  --lt SECONDS           registration lifetime (default 86400)\n"
            "  --expire-at EPOCH      register with the lifetime that ends at EPOCH (a\n"
            "                         server deadline is now + lt + 1), so all expire together\n"
            "  --seed S               picks endpoints, pages, message IDs (default 1)\n"
            "  --max-seconds S        time limit of each phase (default 300)\n"
            "  --timeout-ms MS        retransmission timeout (default 2000)\n"
            "  --tries N              transmissions before a timeout (default 4)\n"
            "  --locations FILE       register writes the locations there; update and\n"
            "                         delete read them when register does not run\n"
            "  --src-port-base PORT   bind source ports from PORT upwards (default:\n"
            "                         ephemeral); prints next_src_port at the end\n"
            "  --peers K              send from K source ports in turn, as K clients\n"
            "                         would (default 1; at most %d)\n"
            "  --accept-empty-ack     an empty ACK completes an op (against udp-ack)\n"
            "  --wait-ready MS        only probe GET /.well-known/core every %d ms until\n"
            "                         the server answers, at most MS ms\n"
            "  -h, --help             show this help\n"
            "\n"
            "One line per phase: phase, ops, ok (expected code), seconds, ok per second,\n"
            "latency percentiles over answered ops, response codes, timeouts, retransmissions.\n",
            BENCH_OPS_CAP, BENCH_SOCKETS_MAX / 2, BENCH_READY_GAP);
}

/* Parse an unsigned number in [min, max]; -1 with a message otherwise. */
static int
parse_num(const char *opt, const char *s, unsigned long long min, unsigned long long max,
          unsigned long long *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "rd-bench: %s: expected a number in %llu..%llu, got \"%s\"\n", opt, min,
                max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_phases(struct bench_conf *c, const char *list)
{
    const char *p = list;

    c->nphases = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t k;

        for (k = 0; k < BENCH_NPHASES; k++) {
            if (strlen(phase_info[k].name) == len && strncmp(phase_info[k].name, p, len) == 0) {
                break;
            }
        }
        if (k == BENCH_NPHASES || c->nphases == BENCH_PHASES_MAX) {
            fprintf(stderr, "rd-bench: --phases: unknown phase or too many: \"%.*s\"\n", (int)len,
                    p);
            return -1;
        }
        c->phases[c->nphases++] = (enum bench_phase)k;
        p += len + (p[len] == ',');
    }
    if (c->nphases == 0) {
        fprintf(stderr, "rd-bench: --phases: empty\n");
        return -1;
    }
    return 0;
}

/* @return -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct bench_conf *c)
{
    static const struct option longopts[] = {
        { "server", required_argument, NULL, 's' },
        { "phases", required_argument, NULL, 'p' },
        { "ops", required_argument, NULL, 'o' },
        { "first", required_argument, NULL, 'F' },
        { "lt", required_argument, NULL, 'L' },
        { "expire-at", required_argument, NULL, 'E' },
        { "seed", required_argument, NULL, 'S' },
        { "max-seconds", required_argument, NULL, 'M' },
        { "timeout-ms", required_argument, NULL, 'T' },
        { "tries", required_argument, NULL, 'R' },
        { "locations", required_argument, NULL, 'f' },
        { "src-port-base", required_argument, NULL, 'P' },
        { "accept-empty-ack", no_argument, NULL, 'A' },
        { "peers", required_argument, NULL, 'K' },
        { "wait-ready", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long long v = 0;

    for (;;) {
        int ch = getopt_long(argc, argv, "n:w:h", longopts, NULL);
        int bad = 0;

        if (ch == -1) {
            break;
        }
        switch (ch) {
        case 's':
            c->server = optarg;
            break;
        case 'p':
            bad = parse_phases(c, optarg);
            break;
        case 'n':
            bad = parse_num("-n", optarg, 1, 100000000, &v);
            c->n = (size_t)v;
            break;
        case 'w':
            bad = parse_num("-w", optarg, 1, BENCH_WINDOW_MAX, &v);
            c->window = (size_t)v;
            break;
        case 'o':
            bad = parse_num("--ops", optarg, 1, 100000000, &v);
            c->ops = (size_t)v;
            break;
        case 'F':
            bad = parse_num("--first", optarg, 0, 100000000, &v);
            c->first = (size_t)v;
            break;
        case 'E':
            bad = parse_num("--expire-at", optarg, 1, 4294967295ull, &v);
            c->expire_at = v;
            break;
        case 'L':
            bad = parse_num("--lt", optarg, 1, 4294967295ull, &v);
            c->lt = (unsigned long)v;
            break;
        case 'S':
            bad = parse_num("--seed", optarg, 0, UINT64_MAX, &v);
            c->seed = v;
            break;
        case 'M':
            bad = parse_num("--max-seconds", optarg, 1, 86400, &v);
            c->max_seconds = (unsigned)v;
            break;
        case 'T':
            bad = parse_num("--timeout-ms", optarg, 1, 600000, &v);
            c->timeout_ms = (unsigned)v;
            break;
        case 'R':
            bad = parse_num("--tries", optarg, 1, 20, &v);
            c->tries = (unsigned)v;
            break;
        case 'f':
            c->locations = optarg;
            break;
        case 'P':
            bad = parse_num("--src-port-base", optarg, 1024, 65535, &v);
            c->src_port_base = (unsigned)v;
            break;
        case 'A':
            c->accept_empty_ack = 1;
            break;
        case 'K':
            bad = parse_num("--peers", optarg, 1, BENCH_SOCKETS_MAX / 2, &v);
            c->peers = (size_t)v;
            break;
        case 'r':
            bad = parse_num("--wait-ready", optarg, 1, 3600000, &v);
            c->wait_ready_ms = (unsigned)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

static int
has_phase(const struct bench_conf *c, enum bench_phase ph)
{
    for (size_t i = 0; i < c->nphases; i++) {
        if (c->phases[i] == ph) {
            return 1;
        }
    }
    return 0;
}

static int
run_all(struct bench *b)
{
    const struct bench_conf *c = &b->conf;
    int rc = 0;

    printf("# rd-bench server=%s n=%zu w=%zu seed=%llu lt=%lu timeout_ms=%u tries=%u%s\n",
           c->server, c->n, c->window, (unsigned long long)c->seed, c->lt, c->timeout_ms, c->tries,
           c->accept_empty_ack ? " accept-empty-ack" : "");
    if (!has_phase(c, BENCH_REGISTER) && c->locations &&
        (has_phase(c, BENCH_UPDATE) || has_phase(c, BENCH_DELETE)) && load_locations(b)) {
        return 1;
    }
    for (size_t i = 0; i < c->nphases && rc == 0; i++) {
        struct bench_stats st;
        size_t expect = c->phases[i] == BENCH_REGISTER || c->phases[i] == BENCH_UPDATE ||
                                c->phases[i] == BENCH_DELETE
                            ? c->n
                            : lookup_ops(b);

        memset(&st, 0, sizeof(st));
        st.lat = malloc(expect * sizeof(*st.lat));
        if (!st.lat) {
            fprintf(stderr, "rd-bench: out of memory\n");
            return 1;
        }
        b->st = &st;
        b->phase = c->phases[i];
        if (run_phase(b)) {
            rc = 1;
        }
        report(b, &st);
        if (b->phase == BENCH_REGISTER && !c->accept_empty_ack) {
            printf("# register: duplicate_locations=%zu\n", duplicate_locations(b));
            if (c->locations && save_locations(b)) {
                rc = 1;
            }
        }
        free(st.lat);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof(*b));
    int status;

    if (!b) {
        return 1;
    }
    b->conf.server = "127.0.0.1:5683";
    b->conf.n = 1000;
    b->conf.window = 32;
    b->conf.lt = 86400;
    b->conf.seed = 1;
    b->conf.max_seconds = 300;
    b->conf.timeout_ms = 2000;
    b->conf.tries = 4;
    parse_phases(&b->conf, "register,update,lookup-ep,lookup-res-selective,lookup-res-page,delete");
    status = parse_args(argc, argv, &b->conf);
    if (status >= 0) {
        free(b);
        return status;
    }
    b->rng = b->conf.seed;
    b->next_port = b->conf.src_port_base;
    /* Tokens start at a seed-dependent point so two runs never share one. */
    b->token_seq = rng_next(&b->rng) >> 24;
    b->ops = calloc(b->conf.window, sizeof(*b->ops));
    b->free_slots = calloc(b->conf.window, sizeof(*b->free_slots));
    b->loc = calloc(b->conf.n, sizeof(*b->loc));
    if (!b->ops || !b->free_slots || !b->loc) {
        fprintf(stderr, "rd-bench: out of memory\n");
        status = 1;
        goto out;
    }
    for (size_t i = 0; i < b->conf.window; i++) {
        b->free_slots[b->nfree++] = b->conf.window - 1 - i;
    }
    if (resolve(b)) {
        status = 2;
        goto out;
    }
    status = b->conf.wait_ready_ms ? wait_ready(b) : run_all(b);
    if (b->conf.src_port_base) {
        printf("# next_src_port=%u\n", b->next_port);
    }
out:
    for (size_t i = 0; i < b->nsocks; i++) {
        close(b->socks[i].fd);
    }
    free(b->ops);
    free(b->free_slots);
    free(b->loc);
    free(b);
    return status;
}
