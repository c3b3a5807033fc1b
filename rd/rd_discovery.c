/* GET /.well-known/core: the RD's own links, filtered per RFC 6690 section 4.1, over unicast and
 * the discovery multicast groups (RFC 9176 sections 4.1 and 4.3, RFC 7252 section 8.2). */
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_block.h"
#include "rd_discovery.h"
#include "rd_limits.h"
#include "rd_metrics.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"

/* The RD's functions (RFC 9176 section 4.3): one link each, with its type and content format.
 * Registration resources are never listed, only reached through endpoint lookup. */
static const char discovery_doc[] = "</rd>;rt=core.rd;ct=40,"
                                    "</rd-lookup/ep>;rt=core.rd-lookup-ep;ct=40;obs,"
                                    "</rd-lookup/res>;rt=core.rd-lookup-res;ct=40;obs";

#define QPARAM_MAX 16

static void
hnd_get_core(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
             const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));
    struct lookup_qparam qp[QPARAM_MAX];
    struct lookup_query q;
    struct lookup_buf buf;
    char diag[LOOKUP_DIAG_SIZE] = "too many query parameters";
    size_t nq = 0;
    size_t n = 0;
    int rc = RD_OK;

    if (rd__limits_admit(srv, session, request, response) || rd__check_accept(request, response)) {
        return;
    }
    /* The diagnostic stays unless the query itself is parsed and found wrong. */
    if (rd__query_params(request, qp, QPARAM_MAX, &nq) ||
        lookup_query_parse(&q, qp, nq, diag, sizeof(diag))) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, diag);
        return;
    }
    lookup_buf_init(&buf, sizeof(discovery_doc) + 64);
    for (size_t i = 0; i < srv->discovery.nlinks && !rc; i++) {
        if (!lookup_match_link(&q, &srv->discovery.links[i])) {
            continue;
        }
        if (n++) {
            rc = lookup_buf_append(&buf, ",", 1);
        }
        if (!rc) {
            rc = lookup_links_format(&srv->discovery.links[i], 1, &buf);
        }
    }
    if (rc) {
        lookup_buf_cleanup(&buf);
        rd__respond_error(response, rd__status_to_coap(rc), NULL);
        return;
    }
    /* An empty answer to a group request is dropped by libcoap (the resource's flags): a
     * server stays silent on multicast when it has nothing to say. */
    rd__respond_links(resource, session, request, query, response, &buf);
}

int
rd__discovery_init(struct rd_server *srv)
{
    coap_resource_t *r;
    int rc;

    rc = lookup_links_parse(&srv->discovery, discovery_doc, sizeof(discovery_doc) - 1, 16, NULL, 0);
    if (rc) {
        return rc;
    }
    /* A registered .well-known/core replaces libcoap's built-in one. libcoap delays answers
     * to group requests by a random leisure (RFC 7252 section 8.2) and drops empty 2.05s and
     * every 4.xx and 5.xx to them. */
    r = coap_resource_init(coap_make_str_const(".well-known/core"),
                           COAP_RESOURCE_FLAGS_HAS_MCAST_SUPPORT |
                               COAP_RESOURCE_FLAGS_LIB_ENA_MCAST_SUPPRESS_2_05);
    if (!r) {
        return RD_ENOMEM;
    }
    rd__handler_add(srv, r, COAP_REQUEST_GET, hnd_get_core, RD_IF_DISCOVERY);
    coap_add_resource(srv->ctx, r);
    return RD_OK;
}

void
rd__discovery_cleanup(struct rd_server *srv)
{
    lookup_links_cleanup(&srv->discovery);
}
