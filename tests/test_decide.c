/* Unit tests of what rd/ decides on its own, below any handler: duplicate detection
 * (rd_dedup.c), page marks and kept answers (rd_pages.c) and the per-address rate table
 * (rd_limits.c), on a real server listening on a loopback port with a temporary store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lookup.h"
#include "rd.h"
#include "rd_conf.h"
#include "rd_dedup.h"
#include "rd_lookup.h"
#include "rd_pages.h"
#include "rd_limits.h"
#include "rd_server.h"
#include "rd_status.h"
#include "test_server.h"

struct fixture {
    struct test_server t;
    struct rd_server *srv; /* t.srv */
    coap_session_t *a; /* a peer on 127.0.0.1:40001 */
    coap_session_t *b; /* another on 127.0.0.2:40001 */
};

static coap_session_t *
peer(struct rd_server *srv, uint32_t ip, uint16_t port)
{
    coap_address_t dst;
    coap_session_t *s;

    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons(port);
    dst.addr.sin.sin_addr.s_addr = htonl(ip);
    dst.size = sizeof(dst.addr.sin);
    /* A client session has the peer as its remote address, as a server session would: all the
     * code under test reads is that address, the transport and the local endpoint. */
    s = coap_new_client_session(srv->ctx, NULL, &dst, COAP_PROTO_UDP);
    assert_non_null(s);
    return s;
}

static int
setup_with(void **state, const char *rate, const char *burst)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *const kv[] = { "rate_limit", rate, "rate_burst", burst, NULL };

    assert_non_null(f);
    test_server_start(&f->t, kv);
    f->srv = f->t.srv;
    f->a = peer(f->srv, 0x7f000001, 40001);
    f->b = peer(f->srv, 0x7f000002, 40001);
    *state = f;
    return 0;
}

static int
setup(void **state)
{
    return setup_with(state, "0", "1");
}

static int
setup_rated(void **state)
{
    /* One request a second, three at once: a test of ten requests never sees a refill of more
     * than a few, however slow the machine. */
    return setup_with(state, "1", "3");
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    coap_session_release(f->a);
    coap_session_release(f->b);
    test_server_stop(&f->t);
    free(f);
    return 0;
}

static coap_pdu_t *
pdu(coap_pdu_type_t type, coap_pdu_code_t code, coap_mid_t mid)
{
    coap_pdu_t *p = coap_pdu_init(type, code, mid, 1152);
    uint8_t tok = 0x42;

    assert_non_null(p);
    assert_int_equal(coap_add_token(p, 1, &tok), 1);
    return p;
}

/* A 2.01 with a Location-Path and a payload, as a registration answers. */
static coap_pdu_t *
created(coap_mid_t mid)
{
    coap_pdu_t *p = pdu(COAP_MESSAGE_ACK, COAP_RESPONSE_CODE(201), mid);

    assert_int_not_equal(coap_add_option(p, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd"),
                         0);
    assert_int_not_equal(coap_add_option(p, COAP_OPTION_LOCATION_PATH, 3, (const uint8_t *)"abc"),
                         0);
    assert_int_equal(coap_add_data(p, 2, (const uint8_t *)"ok"), 1);
    return p;
}

static void
test_dedup_replays_the_first_answer_to_the_same_peer_and_mid(void **state)
{
    struct fixture *f = *state;
    coap_pdu_t *req = pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 7);
    coap_pdu_t *first = created(7);
    coap_pdu_t *again = pdu(COAP_MESSAGE_ACK, 0, 7);
    coap_opt_iterator_t oi;
    const uint8_t *data;
    size_t len;
    int n = 0;

    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, req, again, 1000), 0);
    rd__dedup_remember(&f->srv->dedup, f->a, req, first, 1000);
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, req, again, 1001), 1);
    assert_int_equal(coap_pdu_get_code(again), COAP_RESPONSE_CODE(201));
    coap_option_iterator_init(again, &oi, COAP_OPT_ALL);
    while (coap_option_next(&oi)) {
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(coap_get_data(again, &len, &data), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(data, "ok", 2);
    coap_delete_pdu(req);
    coap_delete_pdu(first);
    coap_delete_pdu(again);
}

static void
test_dedup_tells_peers_mids_methods_and_time_apart(void **state)
{
    struct fixture *f = *state;
    coap_pdu_t *req = pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 9);
    coap_pdu_t *other_mid = pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 10);
    coap_pdu_t *get = pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 11);
    coap_pdu_t *first = created(9);
    coap_pdu_t *out = pdu(COAP_MESSAGE_ACK, 0, 9);

    rd__dedup_remember(&f->srv->dedup, f->a, req, first, 1000);
    /* Another address with the same message ID is another exchange. */
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->b, req, out, 1001), 0);
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, other_mid, out, 1001), 0);
    /* Past EXCHANGE_LIFETIME (247 s) the ID may be reused for a new request. */
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, req, out, 1000 + 248), 0);
    /* A GET is safe to run again and is never answered from the cache. */
    rd__dedup_remember(&f->srv->dedup, f->a, get, first, 1000);
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, get, out, 1001), 0);
    assert_int_equal(coap_pdu_get_code(out), 0);
    coap_delete_pdu(req);
    coap_delete_pdu(other_mid);
    coap_delete_pdu(get);
    coap_delete_pdu(first);
    coap_delete_pdu(out);
}

/* The answers remembered after a mark are forgotten (a lost write batch held them); those
 * before stay. The digest a replay worked out for one peer is not reused for another. */
static void
test_dedup_forgets_the_answers_since_a_mark(void **state)
{
    struct fixture *f = *state;
    coap_pdu_t *kept = pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 21);
    coap_pdu_t *lost = pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 22);
    coap_pdu_t *first = created(21);
    coap_pdu_t *out = pdu(COAP_MESSAGE_ACK, 0, 21);
    coap_pdu_t *replayed = pdu(COAP_MESSAGE_ACK, 0, 22);
    coap_pdu_t *still = pdu(COAP_MESSAGE_ACK, 0, 21);
    uint64_t mark;

    rd__dedup_remember(&f->srv->dedup, f->a, kept, first, 1000);
    mark = rd__dedup_seq(&f->srv->dedup);
    /* A replay for a, then the answer remembered for b: b's entry is b's alone. */
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, lost, out, 1000), 0);
    rd__dedup_remember(&f->srv->dedup, f->b, lost, first, 1000);
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, lost, out, 1001), 0);
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->b, lost, replayed, 1001), 1);
    assert_true(rd__dedup_seq(&f->srv->dedup) > mark);
    rd__dedup_forget_since(&f->srv->dedup, mark);
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->b, lost, out, 1001), 0);
    assert_int_equal(rd__dedup_replay(&f->srv->dedup, f->a, kept, still, 1001), 1);
    coap_delete_pdu(kept);
    coap_delete_pdu(lost);
    coap_delete_pdu(first);
    coap_delete_pdu(out);
    coap_delete_pdu(replayed);
    coap_delete_pdu(still);
}

static void
key_of(const char *query, int with_page, struct rd_lookup_key *key)
{
    struct lookup_qparam qp[4];
    char buf[128];
    char *save = NULL;
    size_t n = 0;

    snprintf(buf, sizeof(buf), "%s", query);
    for (char *t = strtok_r(buf, "&", &save); t && n < 4; t = strtok_r(NULL, "&", &save)) {
        lookup_qparam_split(&qp[n++], t, strlen(t));
    }
    assert_int_equal(rd__lookup_key(LOOKUP_KIND_RES, 0, qp, n, with_page, key), RD_OK);
}

static void
test_page_marks_hold_until_lookup_results_change(void **state)
{
    struct fixture *f = *state;
    struct rd_lookup_key k;
    struct rd_lookup_key other;
    struct rd_page_mark m = { 41, 2 };
    struct rd_page_mark got = { 0, 0 };

    key_of("rt=temp&count=5&page=3", 0, &k);
    key_of("rt=light&count=5&page=3", 0, &other);
    assert_int_equal(rd__pages_find(f->srv, &k, 3, &got), RD_ENOTFOUND);
    rd__pages_put(f->srv, &k, 3, &m);
    assert_int_equal(rd__pages_find(f->srv, &k, 3, &got), RD_OK);
    assert_int_equal(got.after, 41);
    assert_int_equal(got.inner, 2);
    /* Another page, or another query, has no mark. */
    assert_int_equal(rd__pages_find(f->srv, &k, 4, &got), RD_ENOTFOUND);
    assert_int_equal(rd__pages_find(f->srv, &other, 3, &got), RD_ENOTFOUND);
    /* Any write that can change lookup results makes every mark stale. */
    f->srv->lookup_gen++;
    assert_int_equal(rd__pages_find(f->srv, &k, 3, &got), RD_ENOTFOUND);
}

static void
test_lookup_key_leaves_out_page_only_when_asked(void **state)
{
    struct rd_lookup_key p3;
    struct rd_lookup_key p4;

    (void)state;
    key_of("rt=temp&count=5&page=3", 0, &p3);
    key_of("rt=temp&count=5&page=4", 0, &p4);
    assert_int_equal(p3.len, p4.len);
    assert_memory_equal(p3.text, p4.text, p3.len);
    key_of("rt=temp&count=5&page=3", 1, &p3);
    key_of("rt=temp&count=5&page=4", 1, &p4);
    assert_true(p3.len != p4.len || memcmp(p3.text, p4.text, p3.len) != 0);
}

static void
test_kept_answers_are_copies_that_go_stale_with_the_results(void **state)
{
    struct fixture *f = *state;
    struct rd_lookup_key k;
    struct lookup_buf in;
    struct lookup_buf out;

    key_of("rt=temp", 1, &k);
    lookup_buf_init(&in, 1024);
    lookup_buf_init(&out, 1024);
    assert_int_equal(lookup_buf_append(&in, "</a>", 4), RD_OK);
    assert_int_equal(rd__answer_find(f->srv, &k, &out), RD_ENOTFOUND);
    rd__answer_put(f->srv, &k, &in);
    /* The kept answer does not depend on the caller's buffer. */
    lookup_buf_cleanup(&in);
    assert_int_equal(rd__answer_find(f->srv, &k, &out), RD_OK);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "</a>", 4);
    f->srv->lookup_gen++;
    out.len = 0;
    assert_int_equal(rd__answer_find(f->srv, &k, &out), RD_ENOTFOUND);
    lookup_buf_cleanup(&out);
}

/* Admit one GET from @p s: RD_OK, or RD_EFULL with 4.29 in @p code and Max-Age set. */
static int
admit(struct fixture *f, coap_session_t *s, coap_pdu_code_t *code, int *max_age)
{
    coap_pdu_t *req = pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1);
    coap_pdu_t *resp = pdu(COAP_MESSAGE_ACK, 0, 1);
    coap_opt_iterator_t oi;
    int rc = rd__limits_admit(f->srv, s, req, resp);

    *code = coap_pdu_get_code(resp);
    *max_age = coap_check_option(resp, COAP_OPTION_MAXAGE, &oi) != NULL;
    coap_delete_pdu(req);
    coap_delete_pdu(resp);
    return rc;
}

static void
test_rate_table_takes_a_burst_then_refuses_with_max_age(void **state)
{
    struct fixture *f = *state;
    coap_pdu_code_t code;
    int max_age;
    int taken = 0;

    for (int i = 0; i < 10; i++) {
        if (admit(f, f->a, &code, &max_age) == RD_OK) {
            taken++;
        } else {
            assert_int_equal(code, COAP_RESPONSE_CODE(429));
            assert_true(max_age);
        }
    }
    /* Three at once, and at most a few refilled at one a second while the loop ran. */
    assert_true(taken >= 3 && taken < 10);
    /* Another address has a bucket of its own. */
    assert_int_equal(admit(f, f->b, &code, &max_age), RD_OK);
}

static void
test_rate_table_off_takes_everything(void **state)
{
    struct fixture *f = *state;
    coap_pdu_code_t code;
    int max_age;

    for (int i = 0; i < 100; i++) {
        assert_int_equal(admit(f, f->a, &code, &max_age), RD_OK);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dedup_replays_the_first_answer_to_the_same_peer_and_mid,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_tells_peers_mids_methods_and_time_apart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dedup_forgets_the_answers_since_a_mark, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_page_marks_hold_until_lookup_results_change, setup,
                                        teardown),
        cmocka_unit_test(test_lookup_key_leaves_out_page_only_when_asked),
        cmocka_unit_test_setup_teardown(test_kept_answers_are_copies_that_go_stale_with_the_results,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_table_takes_a_burst_then_refuses_with_max_age,
                                        setup_rated, teardown),
        cmocka_unit_test_setup_teardown(test_rate_table_off_takes_everything, setup, teardown),
    };

    coap_startup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
