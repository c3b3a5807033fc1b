/* The cluster module: an etcd v3 client over etcd's JSON gateway, and the codecs behind it.
 * It knows nothing of CoAP or LMDB: keys and values are bytes to it.
 *
 * Two parts. The codecs (cluster_json.c, cluster_stream.c, cluster_value.c) are pure: they
 * build request bodies, parse answers and watch streams, and encode the value of a
 * registration key; no I/O, no clock. The client (cluster_etcd.c) drives libcurl's multi
 * interface from the caller's event loop: it tells the caller which descriptors to watch and
 * when to wake it, and never blocks. */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "rd_status.h"

/** Longest message of a watch stream, and longest answer, in bytes (etcd sends at most
 * 1.5 MiB per request; a watch answer may gather several such values). */
#define CLUSTER_MSG_MAX (8u << 20)

/** Base64 of @p len bytes into a new NUL-terminated string (*@p out, free() it).
 * @return RD_OK; RD_ENOMEM. */
int cluster_b64_encode(const void *data, size_t len, char **out);

/** Decode base64 @p s of @p len characters into new bytes (*@p out, free() it; a NUL follows
 * the *@p out_len bytes). @return RD_OK; RD_EINVAL (not base64); RD_ENOMEM. */
int cluster_b64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len);

/** One key-value as etcd reports it: owned by the cluster_resp or cluster_watch_msg. */
struct cluster_kv {
    unsigned char *key; /**< NUL follows the key_len bytes */
    size_t key_len;
    unsigned char *value; /**< NUL follows; empty (not NULL) for a deletion */
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t lease;
};

/** An answer of /v3/kv/range, put, deleterange, txn, lease/grant or lease/keepalive. */
struct cluster_resp {
    int64_t revision;       /**< header.revision: the store's revision the answer reflects */
    int succeeded;          /**< txn: the compare held */
    int more;               /**< range: more keys than the limit */
    int64_t deleted;        /**< deleterange: keys deleted */
    int64_t lease_id;       /**< lease grant/keepalive: the lease; 0 when absent */
    int64_t lease_ttl;      /**< lease grant/keepalive: seconds; 0 or less: the lease is gone */
    struct cluster_kv *kvs; /**< range results, also those of a txn's request_range */
    size_t nkvs;
    char error[128]; /**< etcd's error message; "" when the answer is not an error */
};

/**
 * Parse an answer of etcd's JSON gateway into @p out (zeroed first; release it with
 * cluster_resp_cleanup() whatever the result).
 *
 * @return RD_OK (also for etcd's own errors: see out->error); RD_EINVAL (not such an answer);
 *         RD_ENOMEM.
 */
int cluster_resp_parse(const char *json, size_t len, struct cluster_resp *out);

/** Free what cluster_resp_parse() allocated. Accepts a zeroed struct. */
void cluster_resp_cleanup(struct cluster_resp *r);

/** What a watch event says of a key. */
enum cluster_event_type {
    CLUSTER_PUT = 0,
    CLUSTER_DELETE = 1,
};

struct cluster_event {
    enum cluster_event_type type;
    struct cluster_kv kv; /**< for a deletion: the key and mod_revision (the deletion's) */
};

/** One message of a watch stream. */
struct cluster_watch_msg {
    int64_t revision;             /**< header.revision; 0 when absent */
    int created;                  /**< the watch has been created */
    int canceled;                 /**< the watch was cancelled by etcd */
    int64_t compact_revision;     /**< >0: history before this revision is gone: list again */
    struct cluster_event *events; /**< in revision order; none: a progress notification */
    size_t nevents;
    char error[128]; /**< an error object instead of a result, or a cancel reason */
};

/**
 * Parse one message of a watch stream (a line of the gateway's answer) into @p out (zeroed
 * first; release with cluster_watch_msg_cleanup() whatever the result).
 *
 * @return RD_OK; RD_EINVAL (not a watch message); RD_ENOMEM.
 */
int cluster_watch_msg_parse(const char *json, size_t len, struct cluster_watch_msg *out);

/** Free what cluster_watch_msg_parse() allocated. Accepts a zeroed struct. */
void cluster_watch_msg_cleanup(struct cluster_watch_msg *m);

/** Cuts the bytes of a streamed answer into messages: one per line (the gateway ends each
 * JSON object with a newline). Owned by the caller; cluster_stream_cleanup() frees it. */
struct cluster_stream {
    char *buf;
    size_t len;
    size_t cap;
    size_t max; /**< longest message; 0 = CLUSTER_MSG_MAX */
    int broken; /**< a message went over the maximum: nothing more is delivered */
};

/** Receives one complete message (without its newline; borrowed for the call).
 * @return 0 to go on, non-zero to stop (cluster_stream_feed() then returns it). */
typedef int (*cluster_msg_fn)(void *arg, const char *msg, size_t len);

/**
 * Add @p len bytes of the stream; hand each completed message to @p fn. Blank lines are
 * skipped. Bytes of an unfinished message are kept for the next call.
 *
 * @return RD_OK; fn's non-zero value; RD_ETOOBIG (a message over the maximum; the stream is
 *         unusable from then on); RD_ENOMEM.
 */
int cluster_stream_feed(struct cluster_stream *s, const void *data, size_t len, cluster_msg_fn fn,
                        void *arg);

/** Free the stream's buffer and empty it. Accepts a zeroed struct. */
void cluster_stream_cleanup(struct cluster_stream *s);

/** A JSON request body: a new NUL-terminated string in *@p out (free() it).
 * The builders @return RD_OK; RD_ENOMEM. */

/** /v3/kv/range of [@p key, @p end) (@p end_len 0: the key alone), at @p revision (0: the
 * latest), at most @p limit keys (0: no limit). */
int cluster_req_range(const void *key, size_t key_len, const void *end, size_t end_len,
                      int64_t revision, int64_t limit, char **out);

/** /v3/watch's create request over [@p key, @p end) from @p start_revision, with progress
 * notifications. */
int cluster_req_watch(const void *key, size_t key_len, const void *end, size_t end_len,
                      int64_t start_revision, char **out);

/** The smallest key above every key that starts with @p prefix (etcd's range_end of a
 * prefix), into a new buffer of *@p end_len bytes. @return RD_OK; RD_EINVAL (an empty prefix
 * or one of 0xff bytes only); RD_ENOMEM. */
int cluster_prefix_end(const void *prefix, size_t len, unsigned char **end, size_t *end_len);

/** What a transaction compares, on one key. */
enum cluster_cmp_target {
    CLUSTER_CMP_CREATE = 0, /**< create_revision (0: the key does not exist) */
    CLUSTER_CMP_MOD = 1,    /**< mod_revision */
};

/** One operation of a transaction. */
struct cluster_op {
    enum {
        CLUSTER_OP_PUT = 0,
        CLUSTER_OP_DELETE = 1,
        CLUSTER_OP_RANGE = 2
    } type;
    const void *key;
    size_t key_len;
    const void *value; /**< put only */
    size_t value_len;
    int64_t lease; /**< put only; 0: none */
};

/** One comparison of a transaction: @p target of @p key equals @p revision. */
struct cluster_cmp {
    const void *key;
    size_t key_len;
    enum cluster_cmp_target target;
    int64_t revision;
};

/** /v3/kv/txn: when every comparison holds run @p success, else @p failure (each may be
 * empty: n 0). */
int cluster_req_txn(const struct cluster_cmp *cmp, size_t ncmp, const struct cluster_op *success,
                    size_t nsuccess, const struct cluster_op *failure, size_t nfailure, char **out);

/** /v3/lease/grant of @p ttl seconds. */
int cluster_req_lease_grant(int64_t ttl, char **out);

/** /v3/lease/keepalive (and /v3/kv/lease/revoke) of lease @p id. */
int cluster_req_lease_id(int64_t id, char **out);

/**
 * What a registration key holds in etcd: everything a node needs to index it locally. The
 * record is lookup's encoding (opaque here); the terms are derived from it by each node.
 */
struct cluster_value {
    int64_t expires_at; /**< seconds since the epoch */
    const char *ep;     /**< NUL-terminated, 1 to 63 bytes */
    const char *d;      /**< NUL-terminated, at most 63 bytes */
    const char *source; /**< the registrant's address term, NUL-terminated; "" for none */
    const void *rec;
    size_t rec_len;
};

/** Encode @p v into new bytes (*@p out of *@p out_len, free() it).
 * @return RD_OK; RD_EINVAL (a name too long); RD_ENOMEM. */
int cluster_value_encode(const struct cluster_value *v, unsigned char **out, size_t *out_len);

/** Decode @p data in place: the strings and record of @p v borrow from @p data.
 * @return RD_OK; RD_EINVAL (not a value of this version, or damaged). */
int cluster_value_decode(const void *data, size_t len, struct cluster_value *v);

/* ---- the client ---- */

/** An etcd client. Opaque; one per server, used from the caller's loop thread only. */
struct cluster_etcd;

/** What the client needs from the caller's event loop. */
struct cluster_io {
    /** Watch @p fd for @p events (1 in, 2 out, 3 both); 0: stop watching it.
     * @return 0, or non-zero when it cannot. */
    int (*watch)(void *arg, int fd, unsigned events);
    /** Call cluster_etcd_timeout() after @p ms milliseconds (-1: no timer). */
    void (*timer)(void *arg, long ms);
    void *arg;
};

/** The outcome of one request. */
struct cluster_result {
    int rc;           /**< RD_OK; RD_ESTORE: no answer (timeout, no member reachable) */
    long http;        /**< HTTP status; 0 without an answer */
    const char *body; /**< the answer, borrowed for the callback; NUL-terminated */
    size_t len;
    const char *detail; /**< why rc is not RD_OK, in words; borrowed */
};

/** Receives the outcome of cluster_etcd_post(). Runs from cluster_etcd_socket() or
 * cluster_etcd_timeout(), or from cluster_etcd_free() with rc RD_ESTORE. */
typedef void (*cluster_done_fn)(void *arg, const struct cluster_result *res);

/** A watch stream's message (one line), or its end: @p msg NULL and @p res saying why. */
typedef void (*cluster_stream_fn)(void *arg, const char *msg, size_t len,
                                  const struct cluster_result *res);

/**
 * Make a client of the members @p endpoints ("http://host:port" separated by commas).
 * Requests go to one member at a time; one that does not answer makes the client move on to
 * the next.
 *
 * @param timeout_ms Longest wait for the answer of one request (not of a watch).
 * @return RD_OK with *@p out set; RD_EINVAL (no usable endpoint; libcurl unusable); RD_ENOMEM.
 */
int cluster_etcd_new(struct cluster_etcd **out, const char *endpoints, long timeout_ms,
                     const struct cluster_io *io);

/** Abort every request (their callbacks run with RD_ESTORE) and free. Accepts NULL. */
void cluster_etcd_free(struct cluster_etcd *c);

/**
 * POST @p body (copied) to @p path (e.g. "/v3/kv/txn") of the current member; @p fn runs
 * once with the outcome. A request that gets no answer moves the client to the next member
 * (the request itself is not repeated: its effect is unknown to the caller).
 * @return RD_OK; RD_ENOMEM (fn will not run).
 */
int cluster_etcd_post(struct cluster_etcd *c, const char *path, const char *body,
                      cluster_done_fn fn, void *arg);

/**
 * Start a long POST of @p body to /v3/watch; @p fn gets each message, then once its end
 * (the connection closed, a member gone). Only one watch at a time.
 * @return RD_OK; RD_ECONFLICT (a watch runs); RD_ENOMEM.
 */
int cluster_etcd_watch(struct cluster_etcd *c, const char *body, cluster_stream_fn fn, void *arg);

/** Stop the watch, if any; its function is not called again. */
void cluster_etcd_watch_stop(struct cluster_etcd *c);

/** Requests under way, the watch excluded. */
size_t cluster_etcd_pending(const struct cluster_etcd *c);

/** The member requests go to now, e.g. "http://127.0.0.1:2379". Owned by @p c. */
const char *cluster_etcd_member(const struct cluster_etcd *c);

/** The caller's loop saw @p events (1 in, 2 out, 3 both or error) on @p fd. */
void cluster_etcd_socket(struct cluster_etcd *c, int fd, unsigned events);

/** The timer asked through cluster_io.timer is due. */
void cluster_etcd_timeout(struct cluster_etcd *c);

#endif
