/* Deferred answers (see rd_defer.h): a table of parked requests by ticket, over libcoap's async
 * state, which holds the session and a copy of the request until it fires. */
#include <stdlib.h>
#include <string.h>

#include "rd_defer.h"
#include "rd_server.h"
#include "rd_status.h"

/* A parked request. */
struct defer_slot {
    uint64_t id;
    coap_session_t *session; /* kept alive by libcoap's async state */
    uint8_t token[8];
    size_t token_len;
    void *result; /* NULL until completed */
    rd_defer_free_fn *free_fn;
};

struct rd_defer {
    struct defer_slot *slots;
    size_t n;
    size_t cap;
    uint64_t next_id;
    /* The slot whose handler is running its second call; freed at the next call in here, as
     * its result must outlive the handler. */
    struct defer_slot answered;
};

static struct rd_defer *
defer_of(struct rd_server *srv)
{
    if (!srv->defer) {
        srv->defer = calloc(1, sizeof(*srv->defer));
    }
    return srv->defer;
}

static void
slot_free(struct defer_slot *s)
{
    if (s->result && s->free_fn) {
        s->free_fn(s->result);
    }
    s->result = NULL;
    s->free_fn = NULL;
}

static void
drop_answered(struct rd_defer *d)
{
    slot_free(&d->answered);
    memset(&d->answered, 0, sizeof(d->answered));
}

static void
slot_remove(struct rd_defer *d, size_t i)
{
    d->slots[i] = d->slots[--d->n];
}

static coap_async_t *
slot_async(const struct defer_slot *s)
{
    coap_bin_const_t tok = { s->token_len, s->token };

    return coap_find_async(s->session, tok);
}

int
rd__defer_park(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
               uint64_t *id)
{
    struct rd_defer *d = defer_of(srv);
    coap_bin_const_t tok = coap_pdu_get_token(request);
    struct defer_slot *s;

    if (!d) {
        return RD_ENOMEM;
    }
    drop_answered(d);
    if (!coap_async_is_supported() || tok.length > sizeof(s->token) ||
        coap_find_async(session, tok)) {
        return RD_EINVAL;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct defer_slot *slots = realloc(d->slots, cap * sizeof(*slots));

        if (!slots) {
            return RD_ENOMEM;
        }
        d->slots = slots;
        d->cap = cap;
    }
    /* Delay 0: the request waits for coap_async_trigger(), however long that takes. */
    if (!coap_register_async(session, request, 0)) {
        return RD_ENOMEM;
    }
    s = &d->slots[d->n++];
    memset(s, 0, sizeof(*s));
    s->id = ++d->next_id;
    s->session = session;
    s->token_len = tok.length;
    memcpy(s->token, tok.s, tok.length);
    *id = s->id;
    return RD_OK;
}

int
rd__defer_complete(struct rd_server *srv, uint64_t id, void *result, rd_defer_free_fn *free_fn)
{
    struct rd_defer *d = srv->defer;
    coap_async_t *async;

    for (size_t i = 0; d && i < d->n; i++) {
        struct defer_slot *s = &d->slots[i];

        if (s->id != id || s->result) {
            continue;
        }
        async = slot_async(s);
        if (!async) {
            break;
        }
        s->result = result;
        s->free_fn = free_fn;
        coap_async_trigger(async);
        return RD_OK;
    }
    if (result && free_fn) {
        free_fn(result);
    }
    return RD_EINVAL;
}

void *
rd__defer_resumed(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request)
{
    struct rd_defer *d = srv->defer;
    coap_bin_const_t tok = coap_pdu_get_token(request);

    if (!d) {
        return NULL;
    }
    drop_answered(d);
    for (size_t i = 0; i < d->n; i++) {
        struct defer_slot *s = &d->slots[i];

        if (s->session == session && s->result && s->token_len == tok.length &&
            memcmp(s->token, tok.s, tok.length) == 0) {
            /* libcoap frees its async state when this call returns; the result lives until
             * the next call in here. */
            d->answered = *s;
            slot_remove(d, i);
            return d->answered.result;
        }
    }
    return NULL;
}

size_t
rd__defer_pending(const struct rd_server *srv)
{
    return srv->defer ? srv->defer->n : 0;
}

void
rd__defer_cleanup(struct rd_server *srv)
{
    struct rd_defer *d = srv->defer;

    if (!d) {
        return;
    }
    drop_answered(d);
    for (size_t i = 0; i < d->n; i++) {
        slot_free(&d->slots[i]);
    }
    free(d->slots);
    free(d);
    srv->defer = NULL;
}
