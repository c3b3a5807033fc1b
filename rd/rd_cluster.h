/* A core-rd node of a cluster kept in etcd: what rd/ asks of the cluster glue (rd_cluster*.c).
 *
 * etcd holds the directory: one key per registration, "<prefix>reg/<d>\0<ep>", whose value is
 * a cluster_value (deadline, names, address term, record) and whose create_revision is the
 * registration's number: its location is store_remote_id() of it on every node. Each node keeps
 * its LMDB as an indexed copy fed by one watch over the prefix, and answers lookups from it.
 * Writes go to etcd and are answered (a deferred answer, rd_defer.h) once etcd committed them
 * and the local copy holds them. One node at a time, elected with a lease, deletes the
 * registrations whose grace period is over.
 *
 * Everything runs on the loop's thread. Without etcd_endpoints none of this runs (srv->cluster
 * stays NULL) and no libcurl call is made. */
#ifndef RD_CLUSTER_H
#define RD_CLUSTER_H

#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;
struct rd_reg_write;
struct rd_cluster;
struct lookup_buf;

/** Returned by a write that went to etcd: its request is parked and answered later. Positive,
 * so it is no RD_E* code: the handler returns leaving the response alone. */
#define RD_CLUSTER_PARKED 1

/** Start the cluster client when srv->conf.etcd_endpoints is set (srv->cluster), after the
 * store and the loop exist. Bootstrap runs in the background. @return RD_OK; RD_EINVAL (bad
 * endpoints, with a log line); RD_ENOMEM. */
int rd__cluster_init(struct rd_server *srv);

/** Stop the client, answer parked writes with 5.03, free. Accepts srv->cluster NULL. */
void rd__cluster_cleanup(struct rd_server *srv);

/**
 * At the start of a write handler: when this is the second call of a parked write, fill
 * @p response with its outcome and @return 1 (the handler remembers the answer for duplicates
 * and returns). Otherwise note @p session and @p request as the ones a write may park and
 * @return 0. Standalone: @return 0 and do nothing.
 */
int rd__cluster_resume(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
                       coap_pdu_t *response);

/** At the end of a write handler's first call: @return 1 when its request was parked (the
 * response must stay untouched: no duplicate memory of it), else 0. */
int rd__cluster_request_done(struct rd_server *srv);

/** Receives the outcome of a write made outside a handler (rd__cluster_then()): 2.01, 2.04 or
 * 2.02 once committed and in the local copy, else an error code with a diagnostic. */
typedef void rd_cluster_done_fn(struct rd_server *srv, void *arg, coap_pdu_code_t code,
                                const char *diag);

/**
 * Make the next rd__cluster_save() or rd__cluster_remove() (through rd__reg_save(), outside a
 * write handler) tell @p fn of its outcome, once, when it returns RD_OK; @p fn NULL forgets an
 * unused one. Standalone: does nothing.
 */
void rd__cluster_then(struct rd_server *srv, rd_cluster_done_fn *fn, void *arg);

/**
 * Write a registration through etcd (rd__reg_save() in cluster mode): a new or re-registration
 * by name when @p replace_id is 0, else an update of @p replace_id, which must still be in etcd
 * under the same number. @p rec / @p rec_len is the encoded record.
 *
 * @return RD_CLUSTER_PARKED (the answer comes later); RD_OK when the write was sent outside a
 *         handler (its outcome goes to the rd__cluster_then() function, if any); RD_ENOMEM;
 *         RD_EINVAL; RD_ESTORE (the request could not be parked).
 */
int rd__cluster_save(struct rd_server *srv, const struct rd_reg_write *w, uint64_t replace_id,
                     const void *rec, size_t rec_len);

/** Remove registration @p id of (@p d, @p ep) through etcd. @return as rd__cluster_save(). */
int rd__cluster_remove(struct rd_server *srv, uint64_t id, const char *ep, const char *d);

/** Append the cluster's Prometheus metrics to @p out (nothing standalone).
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM. */
int rd__cluster_metrics(const struct rd_server *srv, struct lookup_buf *out);

/** Whether the local copy is usable, for /health and metrics; writes @p out with a short JSON
 * object of the cluster's state ("" standalone). */
void rd__cluster_health(const struct rd_server *srv, char *out, size_t size);

#endif
