/* Unit tests of cluster/'s codecs: etcd JSON gateway answers, watch messages and streams,
 * request bodies, base64, and the registration value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"

static void
test_b64_round_trip_keeps_every_byte(void **state)
{
    unsigned char in[256];
    unsigned char *out = NULL;
    char *text = NULL;
    size_t len = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (unsigned char)i;
    }
    for (size_t n = 0; n <= 5; n++) {
        assert_int_equal(cluster_b64_encode(in + 250, n, &text), RD_OK);
        assert_int_equal(cluster_b64_decode(text, strlen(text), &out, &len), RD_OK);
        assert_int_equal(len, n);
        assert_memory_equal(out, in + 250, n);
        free(out);
        free(text);
    }
}

static void
test_b64_decode_rejects_bad_text(void **state)
{
    unsigned char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(cluster_b64_decode("abc", 3, &out, &len), RD_EINVAL);
    assert_int_equal(cluster_b64_decode("a=bc", 4, &out, &len), RD_EINVAL);
    assert_int_equal(cluster_b64_decode("ab!c", 4, &out, &len), RD_EINVAL);
}

static void
test_resp_parse_reads_txn_ranges_and_revisions(void **state)
{
    static const char json[] =
        "{\"header\":{\"revision\":\"3\"},\"succeeded\":true,\"responses\":[{\"response_put\":{}},"
        "{\"response_range\":{\"kvs\":[{\"key\":\"L2EvYw==\",\"create_revision\":\"3\","
        "\"mod_revision\":\"3\",\"value\":\"dg==\"}],\"count\":\"1\"}}]}";
    struct cluster_resp r;

    (void)state;
    assert_int_equal(cluster_resp_parse(json, strlen(json), &r), RD_OK);
    assert_int_equal(r.revision, 3);
    assert_true(r.succeeded);
    assert_int_equal(r.nkvs, 1);
    assert_int_equal(r.kvs[0].key_len, 4);
    assert_memory_equal(r.kvs[0].key, "/a/c", 4);
    assert_int_equal(r.kvs[0].create_revision, 3);
    assert_string_equal((const char *)r.kvs[0].value, "v");
    cluster_resp_cleanup(&r);
}

static void
test_resp_parse_failed_compare_is_not_succeeded(void **state)
{
    static const char json[] = "{\"header\":{\"revision\":\"4\"}}";
    struct cluster_resp r;

    (void)state;
    assert_int_equal(cluster_resp_parse(json, strlen(json), &r), RD_OK);
    assert_false(r.succeeded);
    assert_int_equal(r.nkvs, 0);
    cluster_resp_cleanup(&r);
}

static void
test_resp_parse_reports_etcd_errors(void **state)
{
    static const char json[] = "{\"error\":\"etcdserver: request timed out\",\"code\":14,"
                               "\"message\":\"etcdserver: request timed out\"}";
    struct cluster_resp r;

    (void)state;
    assert_int_equal(cluster_resp_parse(json, strlen(json), &r), RD_OK);
    assert_string_equal(r.error, "etcdserver: request timed out");
    cluster_resp_cleanup(&r);
}

static void
test_resp_parse_reads_keepalive_result(void **state)
{
    static const char json[] = "{\"result\":{\"header\":{\"revision\":\"9\"},\"ID\":\"7\","
                               "\"TTL\":\"6\"}}";
    struct cluster_resp r;

    (void)state;
    assert_int_equal(cluster_resp_parse(json, strlen(json), &r), RD_OK);
    assert_int_equal(r.lease_id, 7);
    assert_int_equal(r.lease_ttl, 6);
    cluster_resp_cleanup(&r);
}

static void
test_resp_parse_rejects_non_objects_and_bad_numbers(void **state)
{
    struct cluster_resp r;

    (void)state;
    assert_int_equal(cluster_resp_parse("[1]", 3, &r), RD_EINVAL);
    assert_int_equal(cluster_resp_parse("{\"header\":{\"revision\":\"x\"}}", 27, &r), RD_EINVAL);
    cluster_resp_cleanup(&r);
    assert_int_equal(cluster_resp_parse("{\"kvs\":[{\"key\":\"@@@@\"}]}", 24, &r), RD_EINVAL);
    cluster_resp_cleanup(&r);
}

static void
test_watch_msg_parse_reads_puts_and_deletes(void **state)
{
    static const char json[] =
        "{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"kv\":{\"key\":\"L2EvYg==\","
        "\"create_revision\":\"2\",\"mod_revision\":\"5\",\"value\":\"dg==\"}},{\"type\":"
        "\"DELETE\",\"kv\":{\"key\":\"L2EvYw==\",\"mod_revision\":\"5\"}}]}}";
    struct cluster_watch_msg m;

    (void)state;
    assert_int_equal(cluster_watch_msg_parse(json, strlen(json), &m), RD_OK);
    assert_int_equal(m.revision, 5);
    assert_int_equal(m.nevents, 2);
    assert_int_equal(m.events[0].type, CLUSTER_PUT);
    assert_int_equal(m.events[0].kv.create_revision, 2);
    assert_int_equal(m.events[1].type, CLUSTER_DELETE);
    assert_int_equal(m.events[1].kv.value_len, 0);
    cluster_watch_msg_cleanup(&m);
}

static void
test_watch_msg_parse_tells_compaction(void **state)
{
    static const char json[] = "{\"result\":{\"header\":{},\"canceled\":true,"
                               "\"compact_revision\":\"4\"}}";
    struct cluster_watch_msg m;

    (void)state;
    assert_int_equal(cluster_watch_msg_parse(json, strlen(json), &m), RD_OK);
    assert_true(m.canceled);
    assert_int_equal(m.compact_revision, 4);
    cluster_watch_msg_cleanup(&m);
}

static void
test_watch_msg_parse_rejects_unknown_event_type(void **state)
{
    static const char json[] = "{\"result\":{\"events\":[{\"type\":\"MOVE\",\"kv\":{}}]}}";
    struct cluster_watch_msg m;

    (void)state;
    assert_int_equal(cluster_watch_msg_parse(json, strlen(json), &m), RD_EINVAL);
    cluster_watch_msg_cleanup(&m);
}

struct msgs {
    char got[4][64];
    size_t n;
};

static int
collect(void *arg, const char *msg, size_t len)
{
    struct msgs *m = arg;

    assert_true(m->n < 4 && len < 64);
    memcpy(m->got[m->n], msg, len);
    m->got[m->n][len] = '\0';
    m->n++;
    return 0;
}

static void
test_stream_feed_cuts_lines_across_calls(void **state)
{
    struct cluster_stream s = { 0 };
    struct msgs m = { 0 };

    (void)state;
    assert_int_equal(cluster_stream_feed(&s, "{\"a\":1}\n{\"b\"", 12, collect, &m), RD_OK);
    assert_int_equal(m.n, 1);
    assert_int_equal(cluster_stream_feed(&s, ":2}\r\n\n{\"c\":3}\n", 15, collect, &m), RD_OK);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.got[0], "{\"a\":1}");
    assert_string_equal(m.got[1], "{\"b\":2}");
    assert_string_equal(m.got[2], "{\"c\":3}");
    cluster_stream_cleanup(&s);
}

static void
test_stream_feed_refuses_oversized_message(void **state)
{
    struct cluster_stream s = { 0 };
    struct msgs m = { 0 };

    (void)state;
    s.max = 8;
    assert_int_equal(cluster_stream_feed(&s, "12345", 5, collect, &m), RD_OK);
    assert_int_equal(cluster_stream_feed(&s, "6789\n", 5, collect, &m), RD_ETOOBIG);
    assert_int_equal(cluster_stream_feed(&s, "1\n", 2, collect, &m), RD_ETOOBIG);
    assert_int_equal(m.n, 0);
    cluster_stream_cleanup(&s);
}

static void
test_req_txn_writes_compare_and_ops(void **state)
{
    struct cluster_cmp cmp = { "k", 1, CLUSTER_CMP_CREATE, 0 };
    struct cluster_op put = { CLUSTER_OP_PUT, "k", 1, "v", 1, 5 };
    char *body = NULL;

    (void)state;
    assert_int_equal(cluster_req_txn(&cmp, 1, &put, 1, NULL, 0, &body), RD_OK);
    assert_non_null(strstr(body, "\"target\":\"CREATE\""));
    assert_non_null(strstr(body, "\"create_revision\":\"0\""));
    assert_non_null(
        strstr(body, "\"request_put\":{\"key\":\"aw==\",\"value\":\"dg==\",\"lease\":\"5\"}"));
    free(body);
}

static void
test_prefix_end_increments_last_byte(void **state)
{
    unsigned char *end = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(cluster_prefix_end("/a/", 3, &end, &len), RD_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(end, "/a0", 3);
    free(end);
    assert_int_equal(cluster_prefix_end("a\xff", 2, &end, &len), RD_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(end, "b", 1);
    free(end);
    assert_int_equal(cluster_prefix_end("\xff", 1, &end, &len), RD_EINVAL);
}

static void
test_value_round_trip(void **state)
{
    struct cluster_value v = { -5, "node1", "", " src=::1", "\x01\x02", 2 };
    struct cluster_value back;
    unsigned char *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(cluster_value_encode(&v, &buf, &len), RD_OK);
    assert_int_equal(cluster_value_decode(buf, len, &back), RD_OK);
    assert_int_equal(back.expires_at, -5);
    assert_string_equal(back.ep, "node1");
    assert_string_equal(back.d, "");
    assert_string_equal(back.source, " src=::1");
    assert_int_equal(back.rec_len, 2);
    assert_memory_equal(back.rec, "\x01\x02", 2);
    assert_int_equal(cluster_value_decode(buf, len - 4, &back), RD_EINVAL);
    free(buf);
}

static void
test_value_rejects_empty_or_long_names(void **state)
{
    struct cluster_value v = { 0, "", "", "", NULL, 0 };
    unsigned char *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(cluster_value_encode(&v, &buf, &len), RD_EINVAL);
    v.ep = "0123456789012345678901234567890123456789012345678901234567890123";
    assert_int_equal(cluster_value_encode(&v, &buf, &len), RD_EINVAL);
    assert_int_equal(cluster_value_decode("X1", 2, &v), RD_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_round_trip_keeps_every_byte),
        cmocka_unit_test(test_b64_decode_rejects_bad_text),
        cmocka_unit_test(test_resp_parse_reads_txn_ranges_and_revisions),
        cmocka_unit_test(test_resp_parse_failed_compare_is_not_succeeded),
        cmocka_unit_test(test_resp_parse_reports_etcd_errors),
        cmocka_unit_test(test_resp_parse_reads_keepalive_result),
        cmocka_unit_test(test_resp_parse_rejects_non_objects_and_bad_numbers),
        cmocka_unit_test(test_watch_msg_parse_reads_puts_and_deletes),
        cmocka_unit_test(test_watch_msg_parse_tells_compaction),
        cmocka_unit_test(test_watch_msg_parse_rejects_unknown_event_type),
        cmocka_unit_test(test_stream_feed_cuts_lines_across_calls),
        cmocka_unit_test(test_stream_feed_refuses_oversized_message),
        cmocka_unit_test(test_req_txn_writes_compare_and_ops),
        cmocka_unit_test(test_prefix_end_increments_last_byte),
        cmocka_unit_test(test_value_round_trip),
        cmocka_unit_test(test_value_rejects_empty_or_long_names),
    };

    return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
