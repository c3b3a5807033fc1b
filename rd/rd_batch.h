/* Write batches of the I/O loop: the registrations, updates and removals of one loop turn go
 * into one store transaction (store_batch_begin()), and the datagrams the server sends during
 * the turn are held until that transaction commits. So an answer never leaves before the commit
 * that holds its change, and a turn of 16 requests pays for one commit instead of 16.
 *
 * Only plain CoAP over UDP is held (libcoap sends it with sendmsg(), which rd_batch.c
 * interposes like the datagram gate's recvmsg()). A request over any other transport commits
 * the pending writes and is served outside the batch (rd__batch_pause()). When the batch is
 * lost (a storage failure half-way through a write), the datagrams held for it are dropped, as
 * if lost on the network, and the answers remembered for duplicates since it began are
 * forgotten: clients retransmit, and the retransmission runs again. The failing request's own
 * answer (5.03) still goes out.
 *
 * Everything here runs on the loop's thread. */
#ifndef RD_BATCH_H
#define RD_BATCH_H

#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** Allocate the batch state of @p srv (srv->batch). @return RD_OK; RD_ENOMEM. */
int rd__batch_init(struct rd_server *srv);

/** Send what is held, commit what is pending, and free the batch state. Accepts a server
 * without one. */
void rd__batch_cleanup(struct rd_server *srv);

/** Whether a write batch holds (its writes are not committed yet): 1 or 0. */
int rd__batch_holding(const struct rd_server *srv);

/** Start holding: the loop calls it before it lets libcoap read a turn's datagrams. A server
 * without batch state, or one that holds already, is left as it is. */
void rd__batch_begin(struct rd_server *srv);

/** End the turn: commit the batch, then send the held datagrams in order and publish the
 * batch's events to the change feed, or drop the datagrams when the commit failed (with a log
 * line). Accepts a server that does not hold. */
void rd__batch_end(struct rd_server *srv);

/**
 * A handler that may write calls this first. For a session whose answers are not held (any
 * transport but plain UDP) it ends the batch (rd__batch_end()), so the write commits on its
 * own before the handler answers.
 *
 * @return 1 when it ended the batch: pass it to rd__batch_resume(); else 0.
 */
int rd__batch_pause(struct rd_server *srv, const coap_session_t *session);

/** After the handler: start holding again when rd__batch_pause() returned 1; when a write of
 * the handler lost the batch, drop what was held before it and start a fresh batch, which holds
 * the handler's own (error) answer. */
void rd__batch_resume(struct rd_server *srv, int paused);

#endif
