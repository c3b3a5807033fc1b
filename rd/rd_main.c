/* core-rd: command line, configuration, signals and the run loop. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd.h"
#include "rd_conf.h"
#include "rd_log.h"
#include "rd_status.h"

/* Set by SIGINT and SIGTERM, and by SIGHUP: the only mutable globals of the program. */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void
on_signal(int sig)
{
    if (sig == SIGHUP) {
        reload_requested = 1;
    } else {
        stop_requested = 1;
    }
}

static void
usage(FILE *out)
{
    fprintf(out, "Usage: core-rd [OPTIONS]\n"
                 "A CoRE Resource Directory (RFC 9176) on CoAP over UDP and CoAPS (DTLS).\n"
                 "\n"
                 "  -c, --config FILE       read directives from FILE (see conf/core-rd.conf)\n"
                 "  -l, --listen HOST:PORT  listen there (repeatable; [::1]:5683 for IPv6);\n"
                 "                          default [::]:5683, IPv4 and IPv6\n"
                 "  -d, --data-dir DIR      LMDB data directory (default ./var/core-rd)\n"
                 "  -v, --log-level LEVEL   error, warn, info (default) or debug\n"
                 "  -H, --http-listen HOST:PORT  serve metrics, health, the dashboard and the API\n"
                 "                          over HTTP there (loopback unless http_token_file\n"
                 "                          is set); \"off\" disables\n"
                 "  -E, --etcd URL[,URL]    run as a node of a cluster kept in these etcd members\n"
                 "  -m, --multicast         answer discovery sent to the CoAP and RD multicast\n"
                 "                          groups (224.0.1.187, 224.0.1.190, ff0X::fd, ff0X::fe)\n"
                 "  -s, --dtls-listen HOST:PORT\n"
                 "                          CoAPS (DTLS) listener (repeatable; default [::]:5684\n"
                 "                          when psk_file or cert_file is set)\n"
                 "  -h, --help              show this help\n"
                 "  -V, --version           show the version\n"
                 "\n"
                 "Command-line options override the configuration file. SIGHUP re-reads it\n"
                 "(log_level, the PSK file, the identity map; see the README).\n");
}

/* Options given on the command line, applied after the file. */
struct cli {
    const char *config;
    const char *listen[RD_LISTEN_MAX];
    size_t nlisten;
    const char *dtls_listen[RD_LISTEN_MAX];
    size_t ndtls_listen;
    const char *data_dir;
    const char *log_level;
    const char *http_listen;
    const char *etcd;
    int multicast;
};

/* @return -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "data-dir", required_argument, NULL, 'd' },
        { "log-level", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "multicast", no_argument, NULL, 'm' },
        { "dtls-listen", required_argument, NULL, 's' },
        { "http-listen", required_argument, NULL, 'H' },
        { "etcd", required_argument, NULL, 'E' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:l:d:v:s:H:E:mhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->config = optarg;
            break;
        case 'l':
            if (cli->nlisten == RD_LISTEN_MAX) {
                fprintf(stderr, "core-rd: at most %d --listen options\n", RD_LISTEN_MAX);
                return 2;
            }
            cli->listen[cli->nlisten++] = optarg;
            break;
        case 's':
            if (cli->ndtls_listen == RD_LISTEN_MAX) {
                fprintf(stderr, "core-rd: at most %d --dtls-listen options\n", RD_LISTEN_MAX);
                return 2;
            }
            cli->dtls_listen[cli->ndtls_listen++] = optarg;
            break;
        case 'd':
            cli->data_dir = optarg;
            break;
        case 'v':
            cli->log_level = optarg;
            break;
        case 'H':
            cli->http_listen = optarg;
            break;
        case 'E':
            cli->etcd = optarg;
            break;
        case 'm':
            cli->multicast = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("core-rd %s (libcoap %s)\n", RD_VERSION, coap_package_version());
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "core-rd: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    return -1;
}

static int
build_conf(const struct cli *cli, struct rd_conf *conf)
{
    char err[512];
    int rc;

    rc = rd_conf_init(conf);
    if (!rc && cli->config) {
        rc = rd_conf_load(conf, cli->config, err, sizeof(err));
    }
    if (!rc && cli->nlisten) {
        /* Listen addresses on the command line replace those of the file. */
        for (size_t i = 0; i < conf->nlisten; i++) {
            free(conf->listen[i]);
        }
        conf->nlisten = 0;
        for (size_t i = 0; i < cli->nlisten && !rc; i++) {
            rc = rd_conf_set(conf, "listen", cli->listen[i], err, sizeof(err));
        }
    }
    if (!rc && cli->ndtls_listen) {
        for (size_t i = 0; i < conf->sec.ndtls_listen; i++) {
            free(conf->sec.dtls_listen[i]);
        }
        conf->sec.ndtls_listen = 0;
        for (size_t i = 0; i < cli->ndtls_listen && !rc; i++) {
            rc = rd_conf_set(conf, "dtls_listen", cli->dtls_listen[i], err, sizeof(err));
        }
    }
    if (!rc && cli->data_dir) {
        rc = rd_conf_set(conf, "data_dir", cli->data_dir, err, sizeof(err));
    }
    if (!rc && cli->multicast) {
        rc = rd_conf_set(conf, "multicast", "on", err, sizeof(err));
    }
    if (!rc && cli->http_listen) {
        rc = rd_conf_set(conf, "http_listen", cli->http_listen, err, sizeof(err));
    }
    if (!rc && cli->etcd) {
        rc = rd_conf_set(conf, "etcd_endpoints", cli->etcd, err, sizeof(err));
    }
    if (!rc && cli->log_level) {
        rc = rd_conf_set(conf, "log_level", cli->log_level, err, sizeof(err));
    }
    if (rc) {
        fprintf(stderr, "core-rd: %s\n", rc == RD_ENOMEM ? "out of memory" : err);
    }
    return rc;
}

/* Re-read the configuration as at start; a file that no longer parses changes nothing. */
static void
reload(const struct cli *cli, struct rd_server *srv)
{
    struct rd_conf conf;

    memset(&conf, 0, sizeof(conf));
    if (build_conf(cli, &conf) == RD_OK) {
        rd_server_reload(srv, &conf);
    } else {
        fprintf(stderr, "core-rd: reload: configuration unchanged\n");
    }
    rd_conf_cleanup(&conf);
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the I/O wait must return so the loop sees the stop request. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
    struct cli cli;
    struct rd_conf conf;
    struct rd_server *srv = NULL;
    int status;
    int rc;

    memset(&cli, 0, sizeof(cli));
    memset(&conf, 0, sizeof(conf));
    status = parse_args(argc, argv, &cli);
    if (status >= 0) {
        return status;
    }
    if (build_conf(&cli, &conf)) {
        rd_conf_cleanup(&conf);
        return 2;
    }
    coap_startup();
    rd__log_coap_init(conf.log_level);
    install_signals();
    rc = rd_server_new(&srv, &conf);
    rd_conf_cleanup(&conf);
    if (rc) {
        fprintf(stderr, "core-rd: cannot start: %s\n", rd_strerror(rc));
        coap_cleanup();
        return 1;
    }
    for (;;) {
        rc = rd_server_run(srv, &stop_requested, &reload_requested);
        if (rc || stop_requested) {
            break;
        }
        reload_requested = 0;
        reload(&cli, srv);
    }
    rd_server_free(srv);
    coap_cleanup();
    return rc ? 1 : 0;
}
