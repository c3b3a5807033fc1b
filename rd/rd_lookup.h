/* What rd_lookup.c offers the rest of rd/. GET rd-lookup/ep and rd-lookup/res (RFC 9176 section
 * 6), observable (RFC 7641). */
#ifndef RD_LOOKUP_H
#define RD_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** Shortest time between two notifications of lookup observers, in milliseconds. */
#define RD_NOTIFY_INTERVAL_MS 100

/** Create the observable lookup resources rd-lookup/ep and rd-lookup/res.
 * @return RD_OK; RD_ENOMEM. */
int rd__lookup_init(struct rd_server *srv);

/** Note that a registration changed in a way not known here (every observed lookup is looked
 * at again); @p expires_at is its new deadline (INT64_MAX if gone). */
void rd__lookup_changed(struct rd_server *srv, int64_t expires_at);

/**
 * Note that a registration's deadline moved to @p expires_at and nothing else changed (a live
 * registration refreshed with its own links and parameters): no lookup result changes, so
 * observers are not told and remembered pages stay good.
 */
void rd__lookup_refreshed(struct rd_server *srv, int64_t expires_at);

#endif
