/* What rd_registration.c offers the rest of rd/. Registration interface (RFC 9176 section 5).
 * What rd_registration.c offers the rest of rd/. Registration interface (RFC 9176 section 5). */
#ifndef RD_REGISTRATION_H
#define RD_REGISTRATION_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"

struct rd_server;

/** Everything one registration write needs, borrowed. */
struct rd_reg_write {
    const char *ep;
    const char *d;
    const struct lookup_reg *rec;
    int64_t expires_at;
    int refresh_only;   /**< a live registration keeps its links and parameters */
    const char *source; /**< index term of the requester's address, or NULL */
};

/** Create the directory resource and the handler for registration resources.
 * @return RD_OK; RD_ENOMEM. */
int rd__registration_init(struct rd_server *srv);

/**
 * Store a registration with its index terms: create or replace by (ep, d) when @p replace_id is
 * 0, else replace registration @p replace_id. Logs store failures and notes the lookup change.
 *
 * @param id      With replace_id 0, written with the registration's id.
 * @param created With replace_id 0, written with 1 for a new registration.
 * @return RD_OK; RD_ENOTFOUND; RD_EFULL; RD_ESTORE; RD_ENOMEM; RD_ETOOBIG.
 */
int rd__reg_save(struct rd_server *srv, const struct rd_reg_write *w, uint64_t replace_id,
                 uint64_t *id, int *created);

/**
 * Apply a registration that came from etcd to the local copy under @p id, recording
 * @p revision with it, and tell observers and the change feed (rd_registration.c).
 * @return RD_OK; the codes of store_reg_put_at().
 */
int rd__reg_apply(struct rd_server *srv, const struct rd_reg_write *w, uint64_t id,
                  int64_t revision);

/**
 * Parse and check the Uri-Query options of a registration request for @p op, including the
 * configured lifetime range. On failure @p response holds the 4.00 with its diagnostic.
 *
 * @param p Written on success only; release with lookup_regparams_cleanup().
 * @return RD_OK; RD_EINVAL; RD_ENOMEM.
 */
int rd__parse_regparams(const struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request, enum lookup_reg_op op,
                        struct lookup_regparams *p, coap_pdu_t *response);

/** Answer a failed store operation with its CoAP code and a short reason. */
void rd__respond_store_error(coap_pdu_t *response, int rc);

#endif
