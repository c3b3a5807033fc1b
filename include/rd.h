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
 * Serve until @p *stop or @p *reload becomes non-zero (set them from signal handlers). After a
 * return for @p *reload the caller clears it, calls rd_server_reload() and runs again.
 *
 * @return RD_OK on a requested stop or reload; RD_ESTORE when the store failed for good.
 */
int rd_server_run(struct rd_server *srv, volatile sig_atomic_t *stop,
                  volatile sig_atomic_t *reload);

/**
 * Apply the reloadable parts of @p conf (read again from the configuration file; borrowed):
 * log_level, the PSK file, the identity map and the authorization policies. Listeners, certificates
 * and the store stay as started. Registrations are untouched. Failures are logged; what could not
 * be read keeps its previous value.
 */
void rd_server_reload(struct rd_server *srv, const struct rd_conf *conf);

/**
 * Serve one round: housekeeping, then the requests that arrive within @p wait_ms (0: only what
 * is already there; less when observers wait for a notification). rd_server_run() is these rounds
 * in a loop; tests and fuzzers step the server themselves.
 *
 * @return RD_OK; RD_EINVAL when the I/O loop failed.
 */
int rd_server_step(struct rd_server *srv, unsigned wait_ms);

/** Stop serving, flush and close the store. Accepts NULL. */
void rd_server_free(struct rd_server *srv);

#endif
