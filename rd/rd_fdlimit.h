/* What rd_fdlimit.c offers the rest of rd/. The open files limit, against the connections the
 * configuration allows. */
#ifndef RD_FDLIMIT_H
#define RD_FDLIMIT_H

struct rd_server;

/** Descriptors kept free for everything but the connections asked for: the store, the CoAP
 * endpoints and sessions, the loop's own, a backup's copy. */
#define RD_FDLIMIT_RESERVE 64

/**
 * Make room for @p want connections, each a descriptor, on top of those the process has open
 * now and RD_FDLIMIT_RESERVE: raise the soft RLIMIT_NOFILE as far as the hard one allows (an
 * info line says so). Past the open files limit accept() fails and the listener stops answering
 * (/health too), so a caller bounds its connections by the result instead; a warning says so.
 *
 * @param what Names the bound in the log lines (static, e.g. "http_connections").
 * @return The connections the limit allows: @p want, or fewer (at least 1).
 */
unsigned rd__fdlimit_fit(struct rd_server *srv, const char *what, unsigned want);

#endif
