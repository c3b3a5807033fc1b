/* What rd_observe.c offers the rest of rd/. Observers of rd-lookup/ep and rd-lookup/res (RFC
 * 7641; RFC 9176 section 6). */
#ifndef RD_OBSERVE_H
#define RD_OBSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <coap3/coap.h>

#include "lookup.h"

struct rd_observer;
struct rd_server;

/** Allocate the observer table. @return RD_OK; RD_ENOMEM. */
int rd__observe_init(struct rd_server *srv);

/** Drop every observer (their sessions are released); before the libcoap context goes. */
void rd__observe_cleanup(struct rd_server *srv);

/** 1 when any lookup is observed. */
int rd__observe_any(const struct rd_server *srv);

/**
 * Act on the Observe option of a lookup request whose answer has @p etag (RFC 7641 section
 * 2): 0 adds the client (unless a limit refuses it: then the answer goes without Observe,
 * section 4.1), 1 removes it. The answer carries Observe only when it is a success
 * (rd__observe_option(), called by the block layer).
 *
 * @return The new observer, to hand to rd__observe_answered(); NULL otherwise.
 */
struct rd_observer *rd__observe_request(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                                        const struct lookup_qparam *qp, size_t nq,
                                        coap_session_t *session, const coap_pdu_t *request,
                                        uint64_t etag);

/**
 * Add the Observe option to @p response, an answer to @p request that is a success (2.xx),
 * when that request made (or renewed) an observation of a lookup on @p session: the first
 * answer and every notification. Called once the answer is known to be a success, before any
 * payload is added: a non-2.xx answer carries no Observe (RFC 7641 sections 4.1 and 4.2).
 * Nothing is added for any other request or when no observer is kept for it.
 */
void rd__observe_option(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request, coap_pdu_t *response);

/**
 * A Reset with message ID @p mid came from @p peer (borrowed; @p peer_len bytes) over @p proto
 * (COAP_PROTO_UDP or COAP_PROTO_DTLS), seen by the gate (compat/rd_gate.c). When it answers one
 * of the recent non-confirmable notifications sent to that peer over that transport, that
 * observer goes at once (RFC 7641 section 3.6): libcoap 4.3.1 reports Resets only to
 * confirmable messages.
 *
 * @return 1 when an observer was dropped; 0 otherwise.
 */
int rd__observe_reset(struct rd_server *srv, coap_proto_t proto, const struct sockaddr *peer,
                      socklen_t peer_len, uint16_t mid);

/** Keep @p obs when @p response (its first answer) is a success, else drop it. Accepts NULL. */
void rd__observe_answered(struct rd_server *srv, struct rd_observer *obs,
                          const coap_pdu_t *response);

/**
 * One registration changed from @p before to @p after (either NULL: not visible): mark the
 * observed lookups it can affect, or all of them when @p unknown.
 */
void rd__observe_changed(struct rd_server *srv, const struct lookup_regview *before,
                         const struct lookup_regview *after, int unknown);

/** Deadlines up to @p now have passed: mark the observed lookups whose answer had a
 * registration with such a deadline (or whose deadlines are not known). */
void rd__observe_expired(struct rd_server *srv, int64_t now);

/** Mark the lookups of observers not asked whether they are still there for a while (a
 * confirmable notification, RFC 7641 section 4.5). Cheap when nothing is due. */
void rd__observe_tick(struct rd_server *srv, int64_t now_ms);

/** Re-run marked lookups, within a budget per round (the rest waits for the next one), and
 * notify each observer whose answer's ETag changed. Only a @p fresh round (one per
 * RD_NOTIFY_INTERVAL_MS) starts new re-runs; any round goes on with the one under way. */
void rd__observe_round(struct rd_server *srv, int64_t now_ms, int fresh);

/** @return 1 while a re-run is under way (rd__observe_round() with @p fresh 0 goes on with
 * it); 0 otherwise. */
int rd__observe_busy(const struct rd_server *srv);

/** A confirmable message to @p session failed (@p sent, for @p reason): when it was a
 * notification, its observer is dropped (RFC 7641 section 4.5). */
void rd__observe_nack(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *sent,
                      coap_nack_reason_t reason);

/** Append the observer metrics (Prometheus text). @return RD_OK; RD_ETOOBIG; RD_ENOMEM. */
int rd__observe_metrics(const struct rd_server *srv, struct lookup_buf *out);

#endif
