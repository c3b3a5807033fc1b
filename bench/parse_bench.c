/* rd-parse-bench: the CPU a registration costs the server between its payload and its write,
 * without sockets or LMDB: the link-format parse with the server's default limits, the Limited
 * Link Format check, the record encode, and the index terms with the weights of every term
 * (made together by lookup_reg_terms()). Prints ns per registration for a few payload shapes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lookup.h"

/* The server's defaults: max_links, max_attr_len and max_payload in conf/core-rd.conf. */
#define BENCH_MAX_LINKS    1024
#define BENCH_MAX_ATTR_LEN 512
#define BENCH_MAX_PAYLOAD  65536
/* Runs per shape; the best one is reported, as another process may share the machine. */
#define BENCH_RUNS 5

struct shape {
    const char *name;
    char body[8192];
    size_t len;
};

/* The 5-link body of rd_bench.c's format_links(), for an endpoint without the rare link. */
static void
shape_bench(struct shape *s)
{
    s->name = "5 links (rd-bench)";
    s->len = (size_t)snprintf(s->body, sizeof(s->body), "%s",
                              "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\";ct=0;obs,"
                              "</sensors/hum>;rt=\"humidity\";if=\"sensor\";ct=0;obs,"
                              "</sensors/light>;rt=\"light-lux\";if=\"sensor\";ct=0,"
                              "</power/meter>;rt=\"power\";if=\"sensor\";ct=0,"
                              "</fw>;rt=\"firmware\";if=\"core.p\";ct=0");
}

static void
shape_one(struct shape *s)
{
    s->name = "1 link";
    s->len = (size_t)snprintf(s->body, sizeof(s->body), "%s", "</t>;rt=\"temperature\"");
}

/* 30 links of four kinds: multiple rt values, quoted values with escapes, attributes without
 * values, anchors, full URIs, UTF-8 in a title, upper-case names. */
static void
shape_thirty(struct shape *s)
{
    size_t n = 0;

    s->name = "30 links, varied";
    for (int i = 0; i < 30 && n < sizeof(s->body); i++) {
        const char *sep = i ? "," : "";
        int w;

        switch (i % 4) {
        case 0:
            w = snprintf(s->body + n, sizeof(s->body) - n,
                         "%s</dev/%d/temp>;rt=\"oic.r.temperature core.s x-t%d\";if=\"oic.if.s "
                         "sensor\";ct=\"0 50 60\";obs;sz=%d",
                         sep, i, i % 7, 100 + i);
            break;
        case 1:
            w = snprintf(s->body + n, sizeof(s->body) - n,
                         "%s</dev/%d/name>;title=\"Room \\\"%d\\\" \\\\ west \xc3\xa9tage\";"
                         "rt=\"name\";if=sensor;anchor=\"/dev/%d\"",
                         sep, i, i, i);
            break;
        case 2:
            w = snprintf(s->body + n, sizeof(s->body) - n,
                         "%s<coap://[2001:db8::%x]:5683/act/%d>;RT=\"oic.r.switch.binary x-s\";"
                         "IF=actuator;rel=\"alternate describedby\";ct=0",
                         sep, i, i);
            break;
        default:
            w = snprintf(s->body + n, sizeof(s->body) - n,
                         "%s</cfg/%d>;rt=\"core.p\";if=\"core.rp core.p\";et=\"cfg\";ct=40;"
                         "hreflang=en;type=\"text/plain\"",
                         sep, i);
            break;
        }
        if (w < 0) {
            break;
        }
        n += (size_t)w;
    }
    s->len = n < sizeof(s->body) ? n : sizeof(s->body) - 1;
}

static size_t
check_len(const struct lookup_links *links)
{
    for (size_t i = 0; i < links->nlinks; i++) {
        if (strlen(links->links[i].target) > BENCH_MAX_ATTR_LEN) {
            return 1;
        }
        for (size_t j = 0; j < links->links[i].nattrs; j++) {
            const char *v = links->links[i].attrs[j].value;

            if (v && strlen(v) > BENCH_MAX_ATTR_LEN) {
                return 1;
            }
        }
    }
    return 0;
}

/* One registration's CPU path, as rd_registration.c's parse_links() and reg_save() take it.
 * @return a checksum, so that nothing is optimised away. */
static uint64_t
one(const struct shape *s)
{
    static const struct lookup_attr ep_attrs[] = { { "et", "oic.d.sensor", 0 } };
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links links;
    struct lookup_reg rec;
    struct lookup_terms terms;
    struct lookup_buf buf;
    uint64_t sum = 0;

    if (lookup_links_parse(&links, s->body, s->len, BENCH_MAX_LINKS, diag, sizeof(diag)) ||
        lookup_links_check_limited(links.links, links.nlinks, diag, sizeof(diag)) ||
        check_len(&links)) {
        fprintf(stderr, "rd-parse-bench: %s: refused: %s\n", s->name, diag);
        exit(1);
    }
    memset(&rec, 0, sizeof(rec));
    rec.base = "coap://[::1]:40123";
    rec.lt = 90000;
    rec.owner = "none";
    rec.attrs = ep_attrs;
    rec.nattrs = 1;
    rec.links = links.links;
    rec.nlinks = links.nlinks;
    lookup_buf_init(&buf, BENCH_MAX_PAYLOAD * 2 + 4096);
    if (lookup_reg_encode(&rec, &buf) || lookup_reg_terms("node-4711", NULL, &rec, &terms)) {
        fprintf(stderr, "rd-parse-bench: %s: encode or terms failed\n", s->name);
        exit(1);
    }
    /* As the server (rd__rank_weights()): the weights made with the terms, endpoint names
     * none. */
    for (size_t i = 0; i < terms.nterms; i++) {
        if (terms.terms[i].len < 3 || memcmp(terms.terms[i].data, "ep=", 3) != 0) {
            sum += terms.eps[i] + terms.links[i];
        }
    }
    sum += buf.len + terms.nterms;
    lookup_terms_cleanup(&terms);
    lookup_buf_cleanup(&buf);
    lookup_links_cleanup(&links);
    return sum;
}

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
    static struct shape shapes[3];
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    uint64_t sum = 0;

    if (iters <= 0) {
        fprintf(stderr, "usage: rd-parse-bench [iterations of the 5-link shape]\n");
        return 2;
    }
    shape_bench(&shapes[0]);
    shape_one(&shapes[1]);
    shape_thirty(&shapes[2]);
    printf("# shape                 bytes   ns/registration (best of %d runs)\n", BENCH_RUNS);
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        /* About the same time per shape: iterations scale inversely with the body size. */
        long n = (long)((double)iters * (double)shapes[0].len / (double)shapes[k].len);
        double best = 0;

        if (n < 1) {
            n = 1;
        }
        for (int run = 0; run < BENCH_RUNS; run++) {
            double t0 = now_ns();
            double ns;

            for (long i = 0; i < n; i++) {
                sum += one(&shapes[k]);
            }
            ns = (now_ns() - t0) / (double)n;
            if (run == 0 || ns < best) {
                best = ns;
            }
        }
        printf("%-22s %6zu %10.0f\n", shapes[k].name, shapes[k].len, best);
    }
    printf("# checksum %llu\n", (unsigned long long)sum);
    return 0;
}
