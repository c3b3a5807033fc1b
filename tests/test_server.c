/* Unit-test fixture: see test_server.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rd.h"
#include "rd_conf.h"
#include "rd_status.h"
#include "test_server.h"

void
test_server_start(struct test_server *t, const char *const *kv)
{
    struct rd_conf conf;
    char err[256];

    snprintf(t->dir, sizeof(t->dir), "/tmp/core-rd-test-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    assert_int_equal(rd_conf_init(&conf), RD_OK);
    /* Port 0: the kernel picks a free one, so tests never collide. */
    assert_int_equal(rd_conf_set(&conf, "listen", "127.0.0.1:0", err, sizeof(err)), RD_OK);
    assert_int_equal(rd_conf_set(&conf, "data_dir", t->dir, err, sizeof(err)), RD_OK);
    assert_int_equal(rd_conf_set(&conf, "log_level", "error", err, sizeof(err)), RD_OK);
    for (size_t i = 0; kv && kv[i]; i += 2) {
        assert_int_equal(rd_conf_set(&conf, kv[i], kv[i + 1], err, sizeof(err)), RD_OK);
    }
    assert_int_equal(rd_server_new(&t->srv, &conf), RD_OK);
    rd_conf_cleanup(&conf);
}

void
test_server_stop(struct test_server *t)
{
    char cmd[128];

    rd_server_free(t->srv);
    t->srv = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}
