/* Server lifecycle: the API rd_main.c uses to run core-rd. */
#ifndef RD_H
#define RD_H

#include <signal.h>

#include "rd_status.h"

/** A running Resource Directory. Opaque: only rd/ sees its fields. */
struct rd_server;

/** The configuration, built by rd_conf_*() in rd/. */
struct rd_conf;

/**
 * Open the store and the CoAP endpoints described by @p conf (copied; not kept) and log one line
 * "listening on HOST:PORT" per endpoint.
 *
 * @param out Written with the server on success; release with rd_server_free().
 * @return RD_OK; RD_EINVAL (bad listen address, port in use); RD_ESTORE; RD_ENOMEM.
 */
int rd_server_new(struct rd_server **out, const struct rd_conf *conf);

/**
 * Serve until @p *stop becomes non-zero (set it from a signal handler).
 *
 * @return RD_OK on a requested stop; RD_ESTORE when the store failed for good.
 */
int rd_server_run(struct rd_server *srv, volatile sig_atomic_t *stop);

/** Stop serving, flush and close the store. Accepts NULL. */
void rd_server_free(struct rd_server *srv);

#endif
