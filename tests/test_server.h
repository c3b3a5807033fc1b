/* Unit-test fixture: a real server on a kernel-chosen loopback port with a store in a fresh
 * temporary directory, for the tests of rd/ that need one (loop, decisions, write batches). */
#ifndef TEST_SERVER_H
#define TEST_SERVER_H

struct rd_server;

/** A running server and its data directory; owned by the test. */
struct test_server {
    struct rd_server *srv;
    char dir[64];
};

/**
 * Start a server with log level error plus the directives @p kv (key, value, ..., NULL).
 * Fails the test (cmocka) on any error.
 */
void test_server_start(struct test_server *t, const char *const *kv);

/** Free the server and remove its data directory. */
void test_server_stop(struct test_server *t);

#endif
