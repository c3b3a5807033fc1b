/* Unit tests for store/: registration persistence on a real LMDB in a fresh directory. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

#define NOW      1000000
#define LATER    (NOW + 3600)
#define MAX_IDS  64
#define MAX_TERM 8

struct fixture {
    char dir[64];
    struct store *st;
};

/* What a store_reg_fn saw: copies, since the view dies with the callback. */
struct seen {
    int calls;
    uint64_t id;
    char ep[64];
    char d[64];
    int64_t expires_at;
    char data[512];
    size_t data_len;
    uint64_t ids[MAX_IDS];
    size_t nids;
    int stop_after; /* return 7 once this many calls were made; 0: never */
};

static int
open_store(struct fixture *f, uint64_t map_size)
{
    struct store_options opt;
    char err[256];

    memset(&opt, 0, sizeof(opt));
    opt.dir = f->dir;
    opt.map_size = map_size;
    opt.sync = STORE_SYNC_PERIODIC;
    return store_open(&f->st, &opt, err, sizeof(err));
}

static void
reopen(struct fixture *f)
{
    store_free(f->st);
    f->st = NULL;
    assert_int_equal(open_store(f, 0), RD_OK);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");

    if (!f) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/test_store.XXXXXX",
             tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(f->dir) || open_store(f, 0) != RD_OK) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Remove @p path and everything under it. */
static void
remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    char sub[512];

    if (dir) {
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    store_free(f->st);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static int
record(void *arg, const struct store_reg *reg)
{
    struct seen *s = arg;

    s->calls++;
    s->id = reg->id;
    snprintf(s->ep, sizeof(s->ep), "%s", reg->ep);
    snprintf(s->d, sizeof(s->d), "%s", reg->d);
    s->expires_at = reg->expires_at;
    assert_true(reg->data_len <= sizeof(s->data));
    if (reg->data_len) {
        memcpy(s->data, reg->data, reg->data_len);
    }
    s->data_len = reg->data_len;
    assert_null(reg->terms);
    assert_int_equal(reg->nterms, 0);
    if (s->nids < MAX_IDS) {
        s->ids[s->nids++] = reg->id;
    }
    if (s->stop_after && s->calls >= s->stop_after) {
        return 7;
    }
    return 0;
}

/* Put (d, ep) with @p data and up to MAX_TERM terms given as a NULL-terminated list. */
static int
put_terms(struct store *st, const char *d, const char *ep, int64_t expires_at, const char *data,
          const char *const *terms, uint64_t *id, int *created)
{
    struct store_term t[MAX_TERM];
    struct store_reg reg;
    size_t n = 0;

    while (terms && terms[n]) {
        assert_true(n < MAX_TERM);
        t[n].data = terms[n];
        t[n].len = strlen(terms[n]);
        n++;
    }
    memset(&reg, 0, sizeof(reg));
    reg.ep = ep;
    reg.d = d;
    reg.expires_at = expires_at;
    reg.data = data;
    reg.data_len = data ? strlen(data) : 0;
    reg.terms = n ? t : NULL;
    reg.nterms = n;
    return store_reg_put(st, &reg, id, created);
}

static uint64_t
put_ok(struct store *st, const char *d, const char *ep, int64_t expires_at, const char *data)
{
    uint64_t id = 0;
    int created = -1;

    assert_int_equal(put_terms(st, d, ep, expires_at, data, NULL, &id, &created), RD_OK);
    assert_int_equal(created, 1);
    return id;
}

static int
replace(struct store *st, uint64_t id, const char *d, const char *ep, int64_t expires_at,
        const char *data, const char *const *terms)
{
    struct store_term t[MAX_TERM];
    struct store_reg reg;
    size_t n = 0;

    while (terms && terms[n]) {
        t[n].data = terms[n];
        t[n].len = strlen(terms[n]);
        n++;
    }
    memset(&reg, 0, sizeof(reg));
    reg.ep = ep;
    reg.d = d;
    reg.expires_at = expires_at;
    reg.data = data;
    reg.data_len = strlen(data);
    reg.terms = n ? t : NULL;
    reg.nterms = n;
    return store_reg_replace(st, id, &reg);
}

static size_t
count(struct store *st)
{
    size_t n = (size_t)-1;

    assert_int_equal(store_count(st, &n), RD_OK);
    return n;
}

static struct seen
term_scan(struct store *st, const char *prefix, int64_t now)
{
    struct seen s;

    memset(&s, 0, sizeof(s));
    assert_int_equal(store_term_foreach(st, prefix, strlen(prefix), now, record, &s), RD_OK);
    return s;
}

static void
test_reg_get_returns_what_was_put(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "sector1", "node1", LATER, "</a>;rt=x");

    assert_int_not_equal(id, 0);
    assert_true(id < (UINT64_C(1) << 40));
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, id);
    assert_string_equal(s.ep, "node1");
    assert_string_equal(s.d, "sector1");
    assert_int_equal(s.expires_at, LATER);
    assert_int_equal(s.data_len, strlen("</a>;rt=x"));
    assert_memory_equal(s.data, "</a>;rt=x", s.data_len);
}

static void
test_reg_find_returns_what_was_put(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "", "node1", LATER, "payload");

    assert_int_equal(store_reg_find(f->st, "", "node1", NOW, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, id);
    assert_string_equal(s.ep, "node1");
    assert_string_equal(s.d, "");
    assert_int_equal(s.expires_at, LATER);
    assert_memory_equal(s.data, "payload", 7);
    assert_int_equal(s.data_len, 7);
}

static void
test_reg_find_unknown_name_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };

    put_ok(f->st, "a", "node1", LATER, "x");
    assert_int_equal(store_reg_find(f->st, "b", "node1", NOW, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_find(f->st, "a", "node2", NOW, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_find(f->st, "", "node1", NOW, record, &s), RD_ENOTFOUND);
    assert_int_equal(s.calls, 0);
}

static void
test_reg_get_passes_empty_data(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "", "node1", LATER, NULL);

    s.data_len = 99;
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.data_len, 0);
}

static void
test_reg_put_same_name_replaces_and_keeps_id(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "d", "node1", LATER, "old data");
    uint64_t id2 = 0;
    int created = -1;

    assert_int_equal(put_terms(f->st, "d", "node1", LATER + 5, "new", NULL, &id2, &created), RD_OK);
    assert_int_equal(created, 0);
    assert_int_equal(id2, id);
    assert_int_equal(count(f->st), 1);
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.data_len, 3);
    assert_memory_equal(s.data, "new", 3);
    assert_int_equal(s.expires_at, LATER + 5);
}

static void
test_reg_put_same_name_moves_deadline(void **state)
{
    struct fixture *f = *state;
    uint64_t id = put_ok(f->st, "d", "node1", NOW + 10, "x");
    uint64_t id2 = 0;
    int created = -1;
    int64_t when = 0;
    size_t n = 99;

    assert_int_equal(put_terms(f->st, "d", "node1", NOW + 20, "x", NULL, &id2, &created), RD_OK);
    assert_int_equal(id2, id);
    assert_int_equal(store_next_deadline(f->st, NOW, &when), RD_OK);
    assert_int_equal(when, NOW + 20);
    assert_int_equal(store_expire(f->st, NOW + 15, 100, &n), RD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(count(f->st), 1);
}

static void
test_reg_put_same_ep_other_sector_gets_other_id(void **state)
{
    struct fixture *f = *state;
    uint64_t a = put_ok(f->st, "", "node1", LATER, "a");
    uint64_t b = put_ok(f->st, "other", "node1", LATER, "b");
    struct seen s = { 0 };

    assert_int_not_equal(a, b);
    assert_int_equal(count(f->st), 2);
    assert_int_equal(store_reg_find(f->st, "other", "node1", NOW, record, &s), RD_OK);
    assert_int_equal(s.id, b);
    assert_memory_equal(s.data, "b", 1);
}

static void
test_reg_put_after_delete_gets_new_id(void **state)
{
    struct fixture *f = *state;
    uint64_t a = put_ok(f->st, "d", "node1", LATER, "a");
    uint64_t b;

    assert_int_equal(store_reg_delete(f->st, a), RD_OK);
    b = put_ok(f->st, "d", "node1", LATER, "a");
    assert_int_not_equal(a, b);
    assert_int_equal(store_reg_get(f->st, a, NOW, STORE_GET_EXPIRED, record, &(struct seen){ 0 }),
                     RD_ENOTFOUND);
}

static void
test_reg_put_never_reuses_ids_across_reopen(void **state)
{
    struct fixture *f = *state;
    uint64_t a = put_ok(f->st, "d", "node1", LATER, "a");
    uint64_t b = put_ok(f->st, "d", "node2", LATER, "b");
    uint64_t c;
    uint64_t ca = 0;
    uint64_t cb = 0;
    uint64_t cc = 0;

    /* Deleting the newest registration must not hand its counter out again. */
    assert_int_equal(store_reg_delete(f->st, b), RD_OK);
    assert_int_equal(store_reg_delete(f->st, a), RD_OK);
    reopen(f);
    c = put_ok(f->st, "d", "node1", LATER, "a");
    assert_int_not_equal(c, a);
    assert_int_not_equal(c, b);
    assert_int_equal(store__id_to_counter(f->st, a, &ca), RD_OK);
    assert_int_equal(store__id_to_counter(f->st, b, &cb), RD_OK);
    assert_int_equal(store__id_to_counter(f->st, c, &cc), RD_OK);
    assert_int_equal(ca, 1);
    assert_int_equal(cb, 2);
    assert_int_equal(cc, 3);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void
test_reg_put_gives_distinct_ids(void **state)
{
    struct fixture *f = *state;
    enum {
        N = 10000
    };
    uint64_t *ids = calloc(N, sizeof(*ids));
    char ep[32];
    int created = 0;

    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        snprintf(ep, sizeof(ep), "node%d", i);
        assert_int_equal(put_terms(f->st, "", ep, LATER, "x", NULL, &ids[i], &created), RD_OK);
        assert_int_equal(created, 1);
        assert_int_not_equal(ids[i], 0);
        assert_true(ids[i] < (UINT64_C(1) << 40));
    }
    qsort(ids, N, sizeof(*ids), cmp_u64);
    for (int i = 1; i < N; i++) {
        assert_int_not_equal(ids[i - 1], ids[i]);
    }
    /* Ids are a permutation, not the counter: consecutive puts must not get consecutive ids. */
    assert_true(ids[N - 1] - ids[0] > (UINT64_C(1) << 30));
    assert_int_equal(count(f->st), N);
    free(ids);
}

static void
test_id_from_counter_inverts_and_is_never_zero(void **state)
{
    struct fixture *f = *state;
    uint64_t c = 0;

    for (uint64_t i = 1; i < 200000; i++) {
        uint64_t id = store__id_from_counter(f->st, i);

        assert_int_not_equal(id, 0);
        assert_true(id < STORE_COUNTER_LIMIT);
        assert_int_equal(store__id_to_counter(f->st, id, &c), RD_OK);
        assert_int_equal(c, i);
    }
    c = STORE_COUNTER_LIMIT - 1;
    assert_int_equal(store__id_to_counter(f->st, store__id_from_counter(f->st, c), &c), RD_OK);
    assert_int_equal(c, STORE_COUNTER_LIMIT - 1);
}

static void
test_reg_get_unknown_id_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "", "node1", LATER, "x");
    const uint64_t bad[] = { 0,          id ^ 1,
                             id + 12345, UINT64_C(1) << 40,
                             UINT64_MAX, store__id_from_counter(f->st, 2) };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(store_reg_get(f->st, bad[i], NOW, STORE_GET_EXPIRED, record, &s),
                         RD_ENOTFOUND);
    }
    assert_int_equal(s.calls, 0);
}

static void
test_reg_get_hides_expired_at_deadline(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "", "node1", NOW, "x");

    assert_int_equal(store_reg_get(f->st, id, NOW - 1, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(s.calls, 1);
    assert_int_equal(store_reg_get(f->st, id, NOW + 100, STORE_GET_EXPIRED, record, &s), RD_OK);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.expires_at, NOW);
}

static void
test_reg_find_hides_expired_at_deadline(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };

    put_ok(f->st, "", "node1", NOW, "x");
    assert_int_equal(store_reg_find(f->st, "", "node1", NOW - 1, record, &s), RD_OK);
    assert_int_equal(store_reg_find(f->st, "", "node1", NOW, record, &s), RD_ENOTFOUND);
    assert_int_equal(s.calls, 1);
}

static void
test_reg_foreach_hides_expired_at_deadline(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t live = put_ok(f->st, "", "live", NOW + 1, "x");

    put_ok(f->st, "", "dead", NOW, "x");
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.ids[0], live);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(f->st, NOW - 1, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 2);
}

static void
test_term_foreach_hides_expired_at_deadline(void **state)
{
    struct fixture *f = *state;
    static const char *const terms[] = { "rt=temp", NULL };
    uint64_t id = 0;
    int created = 0;
    struct seen s;

    assert_int_equal(put_terms(f->st, "", "node1", NOW, "x", terms, &id, &created), RD_OK);
    s = term_scan(f->st, "rt=temp", NOW - 1);
    assert_int_equal(s.calls, 1);
    s = term_scan(f->st, "rt=temp", NOW);
    assert_int_equal(s.calls, 0);
}

static void
test_reg_replace_revives_expired(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "d", "node1", NOW - 10, "old");

    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(replace(f->st, id, "d", "node1", LATER, "new", NULL), RD_OK);
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.expires_at, LATER);
    assert_memory_equal(s.data, "new", 3);
    assert_int_equal(s.data_len, 3);
    assert_int_equal(count(f->st), 1);
}

static void
test_reg_replace_other_name_is_conflict(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t id = put_ok(f->st, "d", "node1", LATER, "old");

    assert_int_equal(replace(f->st, id, "d", "node2", LATER, "new", NULL), RD_ECONFLICT);
    assert_int_equal(replace(f->st, id, "e", "node1", LATER, "new", NULL), RD_ECONFLICT);
    assert_int_equal(replace(f->st, id, "", "node1", LATER, "new", NULL), RD_ECONFLICT);
    assert_int_equal(replace(f->st, id, "d", "node", LATER, "new", NULL), RD_ECONFLICT);
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_memory_equal(s.data, "old", 3);
}

static void
test_reg_replace_deleted_id_is_not_found(void **state)
{
    struct fixture *f = *state;
    uint64_t id = put_ok(f->st, "d", "node1", LATER, "old");

    assert_int_equal(store_reg_delete(f->st, id), RD_OK);
    assert_int_equal(replace(f->st, id, "d", "node1", LATER, "new", NULL), RD_ENOTFOUND);
    assert_int_equal(replace(f->st, 0, "d", "node1", LATER, "new", NULL), RD_ENOTFOUND);
    assert_int_equal(count(f->st), 0);
}

static void
test_reg_replace_drops_old_terms(void **state)
{
    struct fixture *f = *state;
    static const char *const old_terms[] = { "rt=old", "if=sensor", NULL };
    static const char *const new_terms[] = { "rt=new", "if=sensor", NULL };
    uint64_t id = 0;
    int created = 0;
    struct seen s;

    assert_int_equal(put_terms(f->st, "", "node1", LATER, "x", old_terms, &id, &created), RD_OK);
    assert_int_equal(replace(f->st, id, "", "node1", LATER, "y", new_terms), RD_OK);
    s = term_scan(f->st, "rt=old", NOW);
    assert_int_equal(s.calls, 0);
    s = term_scan(f->st, "rt=new", NOW);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, id);
    s = term_scan(f->st, "if=sensor", NOW);
    assert_int_equal(s.calls, 1);
}

/* A refresh with the same terms keeps them indexed, under the new deadline; a change in order
 * only is still a change. */
static void
test_reg_replace_same_terms_keeps_them(void **state)
{
    struct fixture *f = *state;
    static const char *const terms[] = { "rt=temp", "if=sensor", NULL };
    static const char *const swapped[] = { "if=sensor", "rt=temp", NULL };
    uint64_t id = 0;
    int created = 0;
    size_t n = 0;
    struct seen s;

    assert_int_equal(put_terms(f->st, "", "node1", NOW + 10, "x", terms, &id, &created), RD_OK);
    assert_int_equal(replace(f->st, id, "", "node1", LATER, "x", terms), RD_OK);
    assert_int_equal(put_terms(f->st, "", "node1", LATER, "x", terms, &id, &created), RD_OK);
    assert_int_equal(created, 0);
    s = term_scan(f->st, "rt=temp", NOW + 20);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, id);
    assert_int_equal(store_expire(f->st, NOW + 20, 10, &n), RD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(replace(f->st, id, "", "node1", LATER, "x", swapped), RD_OK);
    s = term_scan(f->st, "if=sensor", NOW);
    assert_int_equal(s.calls, 1);
    assert_int_equal(store_reg_delete(f->st, id), RD_OK);
    s = term_scan(f->st, "rt=temp", NOW);
    assert_int_equal(s.calls, 0);
    s = term_scan(f->st, "if=sensor", NOW);
    assert_int_equal(s.calls, 0);
}

/* A lifetime refresh moves the deadline and nothing else, and only while the required term is
 * the registration's. */
static void
test_reg_touch_moves_only_the_deadline(void **state)
{
    struct fixture *f = *state;
    static const char *const terms[] = { "rt=temp", "src=10.0.0.1", NULL };
    struct store_term have = { "src=10.0.0.1", 12, 0, 0 };
    struct store_term other = { "src=10.0.0.2", 12, 0, 0 };
    struct seen s = { 0 };
    uint64_t id = 0;
    int created = 0;
    size_t n = 0;

    assert_int_equal(put_terms(f->st, "", "node1", NOW + 10, "</a>", terms, &id, &created), RD_OK);
    assert_int_equal(store_reg_touch(f->st, id, LATER, &have), RD_OK);
    assert_int_equal(store_reg_get(f->st, id, NOW + 20, 0, record, &s), RD_OK);
    assert_int_equal(s.expires_at, LATER);
    assert_memory_equal(s.data, "</a>", 4);
    assert_int_equal(store_expire(f->st, NOW + 20, 10, &n), RD_OK);
    assert_int_equal(n, 0);
    s = term_scan(f->st, "rt=temp", NOW + 20);
    assert_int_equal(s.calls, 1);
    /* Without the required term nothing changes. */
    assert_int_equal(store_reg_touch(f->st, id, LATER + 100, &other), RD_ECONFLICT);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.expires_at, LATER);
    /* An expired registration not yet collected is revived; a gone one is not found. */
    assert_int_equal(store_reg_touch(f->st, id, NOW - 5, NULL), RD_OK);
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_touch(f->st, id, LATER, NULL), RD_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(store_reg_delete(f->st, id), RD_OK);
    assert_int_equal(store_reg_touch(f->st, id, LATER, NULL), RD_ENOTFOUND);
    assert_int_equal(store_expire(f->st, LATER + 1000, 10, &n), RD_OK);
    assert_int_equal(n, 0);
}

static void
test_reg_put_same_name_drops_old_terms(void **state)
{
    struct fixture *f = *state;
    static const char *const old_terms[] = { "rt=old", NULL };
    static const char *const new_terms[] = { "rt=new", NULL };
    uint64_t id = 0;
    int created = 0;
    struct seen s;

    assert_int_equal(put_terms(f->st, "", "node1", LATER, "x", old_terms, &id, &created), RD_OK);
    assert_int_equal(put_terms(f->st, "", "node1", LATER, "x", new_terms, &id, &created), RD_OK);
    assert_int_equal(created, 0);
    s = term_scan(f->st, "rt=", NOW);
    assert_int_equal(s.calls, 1);
    s = term_scan(f->st, "rt=old", NOW);
    assert_int_equal(s.calls, 0);
}

static void
test_reg_delete_removes_record_name_and_terms(void **state)
{
    struct fixture *f = *state;
    static const char *const terms[] = { "rt=temp", "ep=node1", NULL };
    struct seen s = { 0 };
    uint64_t id = 0;
    uint64_t other;
    int created = 0;
    int64_t when = 0;

    assert_int_equal(put_terms(f->st, "d", "node1", LATER, "x", terms, &id, &created), RD_OK);
    other = put_ok(f->st, "d", "node2", LATER + 1, "y");
    assert_int_equal(store_reg_delete(f->st, id), RD_OK);
    assert_int_equal(store_reg_get(f->st, id, NOW, STORE_GET_EXPIRED, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_find(f->st, "d", "node1", NOW, record, &s), RD_ENOTFOUND);
    assert_int_equal(term_scan(f->st, "", NOW).calls, 0);
    assert_int_equal(count(f->st), 1);
    assert_int_equal(store_next_deadline(f->st, NOW, &when), RD_OK);
    assert_int_equal(when, LATER + 1);
    assert_int_equal(store_reg_delete(f->st, id), RD_ENOTFOUND);
    assert_int_equal(store_reg_get(f->st, other, NOW, 0, record, &s), RD_OK);
}

/* Put (d, ep) under @p id with one term, as a cluster's change. */
static int
put_at(struct store *st, uint64_t id, const char *d, const char *ep, int64_t expires_at,
       const char *term, int *created)
{
    struct store_term t = { term, strlen(term), 0, 0 };
    struct store_reg reg;

    memset(&reg, 0, sizeof(reg));
    reg.ep = ep;
    reg.d = d;
    reg.expires_at = expires_at;
    reg.data = "r";
    reg.data_len = 1;
    reg.terms = &t;
    reg.nterms = 1;
    return store_reg_put_at(st, id, &reg, created);
}

static void
test_reg_put_at_keeps_the_given_id_and_replaces_by_name(void **state)
{
    struct fixture *f = *state;
    uint64_t a = store_remote_id(f->st, 700);
    uint64_t b = store_remote_id(f->st, 900);
    struct seen s = { 0 };
    int created = -1;

    assert_int_equal(put_at(f->st, a, "d", "n1", LATER, "rt=a", &created), RD_OK);
    assert_int_equal(created, 1);
    assert_int_equal(store_reg_find(f->st, "d", "n1", NOW, record, &s), RD_OK);
    assert_int_equal(s.id, a);
    assert_int_equal(put_at(f->st, a, "d", "n1", LATER + 1, "rt=a", &created), RD_OK);
    assert_int_equal(created, 0);
    /* The same name under a newer number: the older registration is gone with its terms. */
    assert_int_equal(put_at(f->st, b, "d", "n1", LATER, "rt=b", &created), RD_OK);
    assert_int_equal(store_reg_get(f->st, a, NOW, STORE_GET_EXPIRED, record, &s), RD_ENOTFOUND);
    assert_int_equal(count(f->st), 1);
    assert_int_equal(term_scan(f->st, "rt=a", NOW).calls, 0);
    assert_int_equal(term_scan(f->st, "rt=b", NOW).calls, 1);
    /* The store's own ids continue above the given ones. */
    assert_true(put_ok(f->st, "d", "n2", LATER, "x") != a);
    assert_int_equal(count(f->st), 2);
    assert_int_equal(put_at(f->st, 0, "d", "n3", LATER, "rt=c", NULL), RD_ENOTFOUND);
}

static void
test_remote_revision_commits_with_the_write_it_was_staged_for(void **state)
{
    struct fixture *f = *state;
    int64_t rev = -1;
    int reset = 0;

    assert_int_equal(store_remote_revision(f->st, &rev), RD_OK);
    assert_int_equal(rev, 0);
    store_remote_stage(f->st, 41);
    assert_int_equal(put_at(f->st, store_remote_id(f->st, 5), "", "n", LATER, "t", NULL), RD_OK);
    assert_int_equal(store_remote_revision(f->st, &rev), RD_OK);
    assert_int_equal(rev, 41);
    /* A failed write records nothing. */
    store_remote_stage(f->st, 50);
    assert_int_equal(store_reg_delete(f->st, store_remote_id(f->st, 6)), RD_ENOTFOUND);
    store_remote_stage(f->st, 51);
    assert_int_equal(put_at(f->st, store_remote_id(f->st, 7), "", "", LATER, "t", NULL), RD_EINVAL);
    assert_int_equal(store_remote_revision(f->st, &rev), RD_OK);
    assert_int_equal(rev, 41);
    assert_int_equal(store_remote_mark(f->st, 60), RD_OK);
    reopen(f);
    assert_int_equal(store_remote_revision(f->st, &rev), RD_OK);
    assert_int_equal(rev, 60);
    /* Joining a cluster of another key empties the copy and forgets the revision. */
    assert_int_equal(store_remote_join(f->st, 12345, &reset), RD_OK);
    assert_int_equal(reset, 1);
    assert_int_equal(count(f->st), 0);
    assert_int_equal(store_remote_revision(f->st, &rev), RD_OK);
    assert_int_equal(rev, 0);
    assert_int_equal(store_remote_mark(f->st, 3), RD_OK);
    assert_int_equal(store_remote_join(f->st, 12345, &reset), RD_OK);
    assert_int_equal(reset, 0);
}

static void
test_remote_due_lists_past_deadlines_without_removing(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };

    put_ok(f->st, "", "old", NOW - 10, "x");
    put_ok(f->st, "", "new", LATER, "y");
    assert_int_equal(store_remote_due(f->st, NOW, 10, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.ep, "old");
    assert_int_equal(count(f->st), 2);
}

static void
test_reg_delete_unknown_id_is_not_found(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_reg_delete(f->st, 0), RD_ENOTFOUND);
    assert_int_equal(store_reg_delete(f->st, store__id_from_counter(f->st, 1)), RD_ENOTFOUND);
    assert_int_equal(store_reg_delete(f->st, UINT64_MAX), RD_ENOTFOUND);
}

static void
test_expire_deletes_only_before(void **state)
{
    struct fixture *f = *state;
    static const char *const terms[] = { "rt=temp", NULL };
    struct seen s = { 0 };
    uint64_t early = 0;
    uint64_t at;
    uint64_t late;
    int created = 0;
    size_t n = 99;

    assert_int_equal(put_terms(f->st, "", "early", NOW - 1, "x", terms, &early, &created), RD_OK);
    at = put_ok(f->st, "", "at", NOW, "x");
    late = put_ok(f->st, "", "late", NOW + 1, "x");
    assert_int_equal(store_expire(f->st, NOW, 100, &n), RD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(count(f->st), 2);
    assert_int_equal(store_reg_get(f->st, early, 0, STORE_GET_EXPIRED, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_find(f->st, "", "early", 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(term_scan(f->st, "rt=temp", 0).calls, 0);
    assert_int_equal(store_reg_get(f->st, at, 0, 0, record, &s), RD_OK);
    assert_int_equal(store_reg_get(f->st, late, 0, 0, record, &s), RD_OK);
    /* The name is free again, and taking it makes a new registration. */
    assert_int_not_equal(put_ok(f->st, "", "early", LATER, "x"), early);
}

static void
test_expire_respects_max_earliest_first(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t ids[5];
    char ep[16];
    size_t n = 99;

    /* Put them in an order unlike their deadlines. */
    for (int i = 0; i < 5; i++) {
        snprintf(ep, sizeof(ep), "node%d", i);
        ids[i] = put_ok(f->st, "", ep, NOW - 10 + (i * 3) % 5, "x");
    }
    assert_int_equal(store_expire(f->st, NOW, 2, &n), RD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(count(f->st), 3);
    /* Deadlines were NOW-10, -7, -9, -6, -8: the two earliest are ids[0] and ids[2]. */
    assert_int_equal(store_reg_get(f->st, ids[0], 0, 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_get(f->st, ids[2], 0, 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_get(f->st, ids[4], 0, 0, record, &s), RD_OK);
    assert_int_equal(store_expire(f->st, NOW, 0, &n), RD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_expire(f->st, NOW, 100, &n), RD_OK);
    assert_int_equal(n, 3);
    assert_int_equal(count(f->st), 0);
    assert_int_equal(store_expire(f->st, NOW, 100, &n), RD_OK);
    assert_int_equal(n, 0);
}

static void
test_expire_orders_negative_deadlines_first(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t neg = put_ok(f->st, "", "neg", -5, "x");
    uint64_t pos = put_ok(f->st, "", "pos", 5, "x");
    int64_t when = 0;
    size_t n = 0;

    assert_int_equal(store_next_deadline(f->st, INT64_MIN, &when), RD_OK);
    assert_int_equal(when, -5);
    assert_int_equal(store_expire(f->st, 0, 100, &n), RD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_reg_get(f->st, neg, -100, 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(store_reg_get(f->st, pos, -100, 0, record, &s), RD_OK);
}

static void
test_next_deadline_finds_earliest_from(void **state)
{
    struct fixture *f = *state;
    int64_t when = 0;

    assert_int_equal(store_next_deadline(f->st, NOW, &when), RD_ENOTFOUND);
    assert_int_equal(when, 0);
    put_ok(f->st, "", "a", NOW + 30, "x");
    put_ok(f->st, "", "b", NOW + 10, "x");
    put_ok(f->st, "", "c", NOW + 20, "x");
    assert_int_equal(store_next_deadline(f->st, NOW, &when), RD_OK);
    assert_int_equal(when, NOW + 10);
    assert_int_equal(store_next_deadline(f->st, NOW + 10, &when), RD_OK);
    assert_int_equal(when, NOW + 10);
    assert_int_equal(store_next_deadline(f->st, NOW + 11, &when), RD_OK);
    assert_int_equal(when, NOW + 20);
    when = 0;
    assert_int_equal(store_next_deadline(f->st, NOW + 31, &when), RD_ENOTFOUND);
    assert_int_equal(when, 0);
}

static void
test_term_foreach_finds_exact_term(void **state)
{
    struct fixture *f = *state;
    static const char *const t1[] = { "rt=temp", "if=sensor", NULL };
    static const char *const t2[] = { "rt=light", NULL };
    uint64_t id1 = 0;
    uint64_t id2 = 0;
    int created = 0;
    struct seen s;

    assert_int_equal(put_terms(f->st, "", "node1", LATER, "one", t1, &id1, &created), RD_OK);
    assert_int_equal(put_terms(f->st, "", "node2", LATER, "two", t2, &id2, &created), RD_OK);
    s = term_scan(f->st, "rt=light", NOW);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, id2);
    assert_memory_equal(s.data, "two", 3);
    s = term_scan(f->st, "if=sensor", NOW);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, id1);
    s = term_scan(f->st, "rt=nothing", NOW);
    assert_int_equal(s.calls, 0);
}

/* Resuming an exact-term walk after a registration, as a paged lookup does. */
static void
test_term_foreach_after_resumes_in_age_order(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=temp", NULL };
    static const char *const other[] = { "rt=temp2", NULL };
    uint64_t ids[4];
    uint64_t id = 0;
    int created = 0;
    struct seen s;
    char ep[16];

    for (size_t i = 0; i < 4; i++) {
        snprintf(ep, sizeof(ep), "node%zu", i);
        assert_int_equal(put_terms(f->st, "", ep, LATER, "x", t, &ids[i], &created), RD_OK);
    }
    assert_int_equal(put_terms(f->st, "", "nodeX", LATER, "x", other, &id, &created), RD_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_term_foreach_after(f->st, "rt=temp", 7, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 4);
    assert_int_equal(s.nids, 4);
    assert_memory_equal(s.ids, ids, sizeof(ids));
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_term_foreach_after(f->st, "rt=temp", 7, NOW, ids[1], record, &s), RD_OK);
    assert_int_equal(s.nids, 2);
    assert_int_equal(s.ids[0], ids[2]);
    assert_int_equal(s.ids[1], ids[3]);
    /* The registration resumed after may be gone. */
    assert_int_equal(store_reg_delete(f->st, ids[2]), RD_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_term_foreach_after(f->st, "rt=temp", 7, NOW, ids[2], record, &s), RD_OK);
    assert_int_equal(s.nids, 1);
    assert_int_equal(s.ids[0], ids[3]);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_term_foreach_after(f->st, "rt=temp", 7, NOW, ids[3], record, &s), RD_OK);
    assert_int_equal(s.calls, 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_term_foreach_after(f->st, "rt=none", 7, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 0);
}

static void
test_term_foreach_matches_byte_prefix_in_term_order(void **state)
{
    struct fixture *f = *state;
    static const char *const ta[] = { "rt=temperature", NULL };
    static const char *const tb[] = { "rt=temp-c", "rt=tem", NULL };
    static const char *const tc[] = { "rt=temperature", "rt=tempo", NULL };
    uint64_t a = 0;
    uint64_t b = 0;
    uint64_t c = 0;
    int created = 0;
    struct seen s;

    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", ta, &a, &created), RD_OK);
    assert_int_equal(put_terms(f->st, "", "b", LATER, "x", tb, &b, &created), RD_OK);
    assert_int_equal(put_terms(f->st, "", "c", LATER, "x", tc, &c, &created), RD_OK);
    s = term_scan(f->st, "rt=temp", NOW);
    /* "rt=temp-c" < "rt=temperature" (a, then c) < "rt=tempo"; "rt=tem" is no match. */
    assert_int_equal(s.calls, 4);
    assert_int_equal(s.ids[0], b);
    assert_int_equal(s.ids[1], a);
    assert_int_equal(s.ids[2], c);
    assert_int_equal(s.ids[3], c);
    s = term_scan(f->st, "rt=tem", NOW);
    assert_int_equal(s.calls, 5);
    s = term_scan(f->st, "", NOW);
    assert_int_equal(s.calls, 5);
    s = term_scan(f->st, "rt=temperature!", NOW);
    assert_int_equal(s.calls, 0);
}

static void
test_term_foreach_returns_callback_value(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=x", NULL };
    struct seen s = { 0 };
    uint64_t id = 0;
    int created = 0;

    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", t, &id, &created), RD_OK);
    assert_int_equal(put_terms(f->st, "", "b", LATER, "x", t, &id, &created), RD_OK);
    s.stop_after = 1;
    assert_int_equal(store_term_foreach(f->st, "rt=", 3, NOW, record, &s), 7);
    assert_int_equal(s.calls, 1);
}

static void
test_term_foreach_indexes_repeated_term_once(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=x", "rt=x", NULL };
    uint64_t id = 0;
    int created = 0;

    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", t, &id, &created), RD_OK);
    assert_int_equal(term_scan(f->st, "rt=x", NOW).calls, 1);
    assert_int_equal(store_reg_delete(f->st, id), RD_OK);
    assert_int_equal(term_scan(f->st, "", NOW).calls, 0);
}

static void
test_term_foreach_longer_than_any_term_finds_nothing(void **state)
{
    struct fixture *f = *state;
    char prefix[STORE_TERM_MAX + 2];
    struct seen s = { 0 };

    memset(prefix, 'a', sizeof(prefix));
    put_ok(f->st, "", "a", LATER, "x");
    assert_int_equal(store_term_foreach(f->st, prefix, sizeof(prefix), NOW, record, &s), RD_OK);
    assert_int_equal(s.calls, 0);
}

static void
test_reg_foreach_goes_oldest_first_and_pages_after(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t ids[6];
    char ep[16];

    for (int i = 0; i < 6; i++) {
        snprintf(ep, sizeof(ep), "node%d", 5 - i);
        ids[i] = put_ok(f->st, "", ep, LATER - i, "x");
    }
    /* Re-registering keeps a registration's place. */
    assert_int_equal(put_terms(f->st, "", "node5", LATER, "y", NULL, &(uint64_t){ 0 }, &(int){ 0 }),
                     RD_OK);
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(s.ids[i], ids[i]);
    }
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, record, &s), 7);
    assert_int_equal(s.calls, 2);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(f->st, NOW, ids[1], record, &s), RD_OK);
    assert_int_equal(s.calls, 4);
    assert_int_equal(s.ids[0], ids[2]);
    assert_int_equal(s.ids[3], ids[5]);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(f->st, NOW, ids[5], record, &s), RD_OK);
    assert_int_equal(s.calls, 0);
}

static void
test_reg_foreach_after_deleted_id_resumes_after_it(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    uint64_t a = put_ok(f->st, "", "a", LATER, "x");
    uint64_t b = put_ok(f->st, "", "b", LATER, "x");
    uint64_t c = put_ok(f->st, "", "c", LATER, "x");

    assert_int_equal(store_reg_delete(f->st, b), RD_OK);
    assert_int_equal(store_reg_foreach(f->st, NOW, b, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.ids[0], c);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(f->st, NOW, UINT64_MAX, record, &s), RD_OK);
    assert_int_equal(s.calls, 0);
    (void)a;
}

/* A callback that reads the store again, as a caller may. */
static int
nested_get(void *arg, const struct store_reg *reg)
{
    struct fixture *f = arg;
    struct seen s = { 0 };

    assert_int_equal(store_reg_get(f->st, reg->id, NOW, 0, record, &s), RD_OK);
    assert_string_equal(s.ep, reg->ep);
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 3);
    return 0;
}

static void
test_reg_foreach_allows_reads_in_callback(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };

    put_ok(f->st, "", "a", LATER, "x");
    put_ok(f->st, "", "b", LATER, "x");
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, nested_get, f), RD_OK);
    /* The shared read transaction is usable again afterwards. */
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 2);
}

static int
delete_each(void *arg, const struct store_reg *reg)
{
    struct fixture *f = arg;

    assert_int_equal(store_reg_delete(f->st, reg->id), RD_OK);
    return 0;
}

static void
test_reg_foreach_allows_deletes_in_callback(void **state)
{
    struct fixture *f = *state;

    put_ok(f->st, "", "a", LATER, "x");
    put_ok(f->st, "", "b", LATER, "x");
    put_ok(f->st, "", "c", LATER, "x");
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, delete_each, f), RD_OK);
    assert_int_equal(count(f->st), 0);
}

static void
test_open_keeps_data_across_reopen(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=temp", NULL };
    struct seen s = { 0 };
    uint64_t a = 0;
    uint64_t b;
    uint64_t c;
    uint64_t cc = 0;
    int created = 0;
    int64_t when = 0;

    assert_int_equal(put_terms(f->st, "d", "node1", LATER, "data one", t, &a, &created), RD_OK);
    b = put_ok(f->st, "d", "node2", LATER + 7, "data two");
    reopen(f);
    assert_int_equal(count(f->st), 2);
    assert_int_equal(store_reg_get(f->st, a, NOW, 0, record, &s), RD_OK);
    assert_memory_equal(s.data, "data one", 8);
    assert_int_equal(store_reg_find(f->st, "d", "node2", NOW, record, &s), RD_OK);
    assert_int_equal(s.id, b);
    assert_int_equal(s.expires_at, LATER + 7);
    assert_int_equal(term_scan(f->st, "rt=temp", NOW).ids[0], a);
    assert_int_equal(store_next_deadline(f->st, NOW, &when), RD_OK);
    assert_int_equal(when, LATER);
    c = put_ok(f->st, "d", "node3", LATER, "x");
    assert_int_equal(store__id_to_counter(f->st, c, &cc), RD_OK);
    assert_int_equal(cc, 3);
}

static void
test_open_creates_missing_parents(void **state)
{
    struct fixture *f = *state;
    struct store_options opt;
    struct store *st = NULL;
    char dir[128];
    struct stat sb;
    mode_t mask = umask(0);

    umask(mask);
    snprintf(dir, sizeof(dir), "%s/a/b/c", f->dir);
    memset(&opt, 0, sizeof(opt));
    opt.dir = dir;
    opt.sync = STORE_SYNC_ALWAYS;
    assert_int_equal(store_open(&st, &opt, NULL, 0), RD_OK);
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0750 & ~mask);
    put_ok(st, "", "a", LATER, "x");
    assert_int_equal(store_sync(st), RD_OK);
    store_free(st);
}

static void
test_open_rejects_bad_options(void **state)
{
    struct fixture *f = *state;
    struct store_options opt;
    struct store *st = NULL;
    char err[128] = "";
    char file[128];
    FILE *fp;

    memset(&opt, 0, sizeof(opt));
    assert_int_equal(store_open(&st, &opt, err, sizeof(err)), RD_EINVAL);
    assert_string_not_equal(err, "");
    opt.dir = f->dir;
    opt.sync = (enum store_sync)7;
    assert_int_equal(store_open(&st, &opt, err, sizeof(err)), RD_EINVAL);
    assert_null(st);
    /* A plain file where the directory should be. */
    snprintf(file, sizeof(file), "%s/file", f->dir);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    opt.dir = file;
    opt.sync = STORE_SYNC_ALWAYS;
    assert_int_equal(store_open(&st, &opt, err, sizeof(err)), RD_ESTORE);
    assert_non_null(strstr(err, "not a directory"));
    assert_null(st);
}

static void
test_open_rejects_too_small_map(void **state)
{
    struct fixture *f = *state;
    struct store_options opt;
    struct store *st = NULL;
    char dir[128];
    char err[128] = "";

    snprintf(dir, sizeof(dir), "%s/tiny", f->dir);
    memset(&opt, 0, sizeof(opt));
    opt.dir = dir;
    opt.map_size = 4096;
    assert_int_equal(store_open(&st, &opt, err, sizeof(err)), RD_EINVAL);
    assert_string_equal(err, "map size 4096 too small");
    assert_null(st);
}

static void
test_free_accepts_null(void **state)
{
    (void)state;
    store_free(NULL);
}

/* Write @p val under @p key in database @p name, with the store closed. */
static void
raw_put(const char *dir, const char *name, const void *key, size_t key_len, const void *val,
        size_t val_len)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = { key_len, (void *)(uintptr_t)key };
    MDB_val v = { val_len, (void *)(uintptr_t)val };

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void
test_open_rejects_a_newer_schema_version(void **state)
{
    struct fixture *f = *state;
    unsigned char v[4];
    struct store_options opt;
    char err[160] = "";
    char want[160];

    put_ok(f->st, "", "a", LATER, "x");
    store_free(f->st);
    f->st = NULL;
    store__put_be(v, STORE_SCHEMA_VERSION + 1, sizeof(v));
    raw_put(f->dir, STORE_DB_META, STORE_META_VERSION, strlen(STORE_META_VERSION), v, sizeof(v));
    memset(&opt, 0, sizeof(opt));
    opt.dir = f->dir;
    assert_int_equal(store_open(&f->st, &opt, err, sizeof(err)), RD_ESTORE);
    assert_null(f->st);
    snprintf(want, sizeof(want),
             "schema version %d is newer than this core-rd's %d: run a newer core-rd, or "
             "restore the backup taken before the upgrade",
             STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
    assert_string_equal(err, want);
    /* Not even as it is: nothing of this core-rd may touch it. */
    opt.no_migrate = 1;
    assert_int_equal(store_open(&f->st, &opt, err, sizeof(err)), RD_ESTORE);
    assert_null(f->st);
}

static void
count_problem(void *arg, const char *msg)
{
    (void)msg;
    (*(int *)arg)++;
}

/* Migrations: what the callback saw. */
struct migrate_seen {
    int starts;
    int progress;
    int ends;
    int resumed;
    uint64_t resumed_at;
    uint32_t from;
    uint32_t to;
    uint64_t done;
    uint64_t total;
    int stop_after; /* return 1 at this progress event; 0: never */
    uint32_t step;  /* the step of the last progress event: each step counts from 0 */
};

static int
migrate_record(void *arg, const struct store_migrate_status *s)
{
    struct migrate_seen *m = arg;

    if (s->event == STORE_MIGRATE_START) {
        m->starts++;
        m->resumed = s->resumed;
        m->resumed_at = s->done;
        m->from = s->from;
        m->to = s->to;
        m->total = s->total;
    } else if (s->event == STORE_MIGRATE_PROGRESS) {
        m->progress++;
        if (s->step != m->step) {
            m->step = s->step;
            m->done = 0;
        }
        assert_true(s->done <= s->total);
        assert_true(s->done >= m->done);
        m->done = s->done;
        return m->stop_after && m->progress == m->stop_after;
    } else {
        m->ends++;
        m->done = s->done;
    }
    return 0;
}

static int
open_migrating(struct fixture *f, size_t batch, struct migrate_seen *m, char *err, size_t len)
{
    struct store_options opt;

    memset(&opt, 0, sizeof(opt));
    opt.dir = f->dir;
    opt.sync = STORE_SYNC_PERIODIC;
    opt.migrate_fn = migrate_record;
    opt.migrate_arg = m;
    opt.migrate_batch = batch;
    return store_open(&f->st, &opt, err, len);
}

#define OLD_REGS 23

/* Fill the store with OLD_REGS registrations (terms, sectors, one expired), damage its indexes
 * as a version 1 sweep could (a name and a term left pointing at a collected record), and mark
 * it version 1, with the store closed. Version 1's layout is version 2's, so the store's own
 * writer makes it. */
static void
make_v1(struct fixture *f, uint64_t ids[OLD_REGS])
{
    static const unsigned char v1[4] = { 0, 0, 0, 1 };
    unsigned char gone[8];
    char ep[16];
    char data[32];
    int created = 0;

    for (int i = 0; i < OLD_REGS; i++) {
        const char *const terms[] = { i % 2 ? "rt=odd" : "rt=even", "if=sensor", "if=sensor",
                                      NULL };

        snprintf(ep, sizeof(ep), "node%02d", i);
        snprintf(data, sizeof(data), "record of %d", i);
        assert_int_equal(put_terms(f->st, i % 3 ? "" : "floor1", ep, i == 5 ? NOW - 1 : LATER + i,
                                   data, terms, &ids[i], &created),
                         RD_OK);
    }
    store_free(f->st);
    f->st = NULL;
    store__put_be(gone, 999, sizeof(gone));
    raw_put(f->dir, STORE_DB_NAMES, "\0gone", 5, gone, sizeof(gone));
    raw_put(f->dir, STORE_DB_TERMS, "rt=odd", 6, gone, sizeof(gone));
    raw_put(f->dir, STORE_DB_META, STORE_META_VERSION, strlen(STORE_META_VERSION), v1, sizeof(v1));
}

/* Every registration of make_v1() is there with its id, deadline, record and terms, and the
 * indexes agree with the records. */
static void
check_v1_content(struct fixture *f, const uint64_t ids[OLD_REGS])
{
    struct store_check_report rep;
    char ep[16];
    char data[32];
    size_t n = 0;
    int calls = 0;

    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_int_equal(store_count(f->st, &n), RD_OK);
    assert_int_equal(n, OLD_REGS);
    for (int i = 0; i < OLD_REGS; i++) {
        struct seen s;

        memset(&s, 0, sizeof(s));
        snprintf(ep, sizeof(ep), "node%02d", i);
        snprintf(data, sizeof(data), "record of %d", i);
        assert_int_equal(store_reg_find(f->st, i % 3 ? "" : "floor1", ep, 0, record, &s), RD_OK);
        assert_int_equal(s.id, ids[i]);
        assert_int_equal(s.expires_at, i == 5 ? NOW - 1 : LATER + i);
        assert_int_equal(s.data_len, strlen(data));
        assert_memory_equal(s.data, data, s.data_len);
    }
    /* 11 odd, 12 even; number 5 expired before NOW. */
    assert_int_equal(term_scan(f->st, "rt=odd", NOW).calls, 10);
    assert_int_equal(term_scan(f->st, "rt=even", NOW).calls, 12);
    assert_int_equal(term_scan(f->st, "if=sensor", NOW).calls, OLD_REGS - 1);
    assert_int_equal(store_check(f->st, &rep, count_problem, &calls), RD_OK);
    assert_int_equal(rep.problems, 0);
    assert_int_equal(rep.names, OLD_REGS);
    assert_int_equal(rep.expiry, OLD_REGS);
    /* The expired one is still collected at its deadline. */
    assert_int_equal(store_expire(f->st, NOW, 100, &n), RD_OK);
    assert_int_equal(n, 1);
}

static void
test_open_migrates_version_1(void **state)
{
    struct fixture *f = *state;
    struct migrate_seen m;
    uint64_t ids[OLD_REGS];
    uint64_t id = 0;
    char err[256] = "";

    make_v1(f, ids);
    memset(&m, 0, sizeof(m));
    assert_int_equal(open_migrating(f, 4, &m, err, sizeof(err)), RD_OK);
    assert_int_equal(m.starts, 1);
    assert_int_equal(m.resumed, 0);
    assert_int_equal(m.from, 1);
    assert_int_equal(m.to, STORE_SCHEMA_VERSION);
    assert_int_equal(m.total, OLD_REGS);
    /* Both rebuilding steps convert every registration; starting the journal takes one
     * transaction. */
    assert_int_equal(m.progress, 2 * ((OLD_REGS + 3) / 4) + 1);
    assert_int_equal(m.ends, 1);
    assert_int_equal(m.done, OLD_REGS);
    check_v1_content(f, ids);
    /* New registrations get ids none of the old ones had. */
    id = put_ok(f->st, "", "new", LATER, "n");
    for (int i = 0; i < OLD_REGS; i++) {
        assert_int_not_equal(id, ids[i]);
    }
    /* The second start finds nothing to migrate. */
    store_free(f->st);
    f->st = NULL;
    memset(&m, 0, sizeof(m));
    assert_int_equal(open_migrating(f, 4, &m, err, sizeof(err)), RD_OK);
    assert_int_equal(m.starts + m.progress + m.ends, 0);
}

static void
test_open_resumes_a_migration_cut_after_any_transaction(void **state)
{
    struct fixture *f = *state;
    const int txns = (OLD_REGS + 4) / 5;
    char err[256] = "";

    /* Cut after each transaction in turn but the last (after which nothing is left to do):
     * the state on disk is what a kill -9 right after that commit leaves. */
    for (int k = 1; k < txns; k++) {
        struct migrate_seen m;
        struct store_options opt;
        uint64_t ids[OLD_REGS];
        char want[160];

        store_free(f->st);
        f->st = NULL;
        remove_tree(f->dir);
        assert_int_equal(mkdir(f->dir, 0700), 0);
        assert_int_equal(open_store(f, 0), RD_OK);
        make_v1(f, ids);
        memset(&m, 0, sizeof(m));
        m.stop_after = k;
        assert_int_equal(open_migrating(f, 5, &m, err, sizeof(err)), RD_ESTORE);
        assert_null(f->st);
        snprintf(want, sizeof(want),
                 "migration from schema version 1 to 2 stopped after %d of %d registrations; "
                 "the next start goes on from there",
                 5 * k, OLD_REGS);
        assert_string_equal(err, want);
        /* Still version 1, as a whole: its version moves only with the last transaction. */
        memset(&opt, 0, sizeof(opt));
        opt.dir = f->dir;
        opt.no_migrate = 1;
        assert_int_equal(store_open(&f->st, &opt, err, sizeof(err)), RD_OK);
        assert_int_equal(store_schema_version(f->st), 1);
        store_free(f->st);
        f->st = NULL;
        memset(&m, 0, sizeof(m));
        assert_int_equal(open_migrating(f, 5, &m, err, sizeof(err)), RD_OK);
        assert_int_equal(m.starts, 1);
        assert_int_equal(m.resumed, 1);
        assert_int_equal(m.progress, txns - k + txns + 1);
        assert_int_equal(m.resumed_at, 5 * k);
        assert_int_equal(m.done, OLD_REGS);
        check_v1_content(f, ids);
    }
}

static void
test_open_no_migrate_keeps_an_older_version(void **state)
{
    struct fixture *f = *state;
    struct store_options opt;
    struct store_info info;
    struct migrate_seen m;
    uint64_t ids[OLD_REGS];
    char err[256] = "";
    char copy[128];

    make_v1(f, ids);
    memset(&m, 0, sizeof(m));
    memset(&opt, 0, sizeof(opt));
    opt.dir = f->dir;
    opt.no_migrate = 1;
    opt.migrate_fn = migrate_record;
    opt.migrate_arg = &m;
    assert_int_equal(store_open(&f->st, &opt, err, sizeof(err)), RD_OK);
    assert_int_equal(store_schema_version(f->st), 1);
    assert_int_equal(store_schema_current(), STORE_SCHEMA_VERSION);
    assert_int_equal(m.starts, 0);
    assert_int_equal(store_info(f->st, &info), RD_OK);
    assert_int_equal(info.registrations, OLD_REGS);
    /* The backup is of version 1 too, and migrates when opened. */
    snprintf(copy, sizeof(copy), "%s/copy", f->dir);
    assert_int_equal(store_backup(f->st, copy), RD_OK);
    store_free(f->st);
    f->st = NULL;
    opt.dir = copy;
    opt.no_migrate = 0;
    assert_int_equal(store_open(&f->st, &opt, err, sizeof(err)), RD_OK);
    assert_int_equal(m.starts, 1);
    assert_int_equal(m.from, 1);
    check_v1_content(f, ids);
}

static void
test_open_rejects_version_0(void **state)
{
    struct fixture *f = *state;
    static const unsigned char v0[4] = { 0, 0, 0, 0 };
    struct store_options opt;
    char err[128] = "";

    store_free(f->st);
    f->st = NULL;
    raw_put(f->dir, STORE_DB_META, STORE_META_VERSION, strlen(STORE_META_VERSION), v0, sizeof(v0));
    memset(&opt, 0, sizeof(opt));
    opt.dir = f->dir;
    assert_int_equal(store_open(&f->st, &opt, err, sizeof(err)), RD_ESTORE);
    assert_string_equal(err, "schema version 0 is not one core-rd ever wrote");
}

/* Overwrite the record of @p id with bytes that do not decode, with the store closed. */
static void
corrupt_record(struct fixture *f, uint64_t id)
{
    static const unsigned char garbage[] = { 1, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3 };
    unsigned char key[8];
    uint64_t counter = 0;

    assert_int_equal(store__id_to_counter(f->st, id, &counter), RD_OK);
    store_free(f->st);
    f->st = NULL;
    store__put_be(key, counter, sizeof(key));
    raw_put(f->dir, STORE_DB_REGS, key, sizeof(key), garbage, sizeof(garbage));
    assert_int_equal(open_store(f, 0), RD_OK);
}

static void
test_reg_get_corrupt_record_is_estore(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=x", NULL };
    struct seen s = { 0 };
    uint64_t id = 0;
    int created = 0;

    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", t, &id, &created), RD_OK);
    corrupt_record(f, id);
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_ESTORE);
    assert_non_null(strstr(store_errmsg(f->st), "corrupt"));
    assert_int_equal(store_reg_find(f->st, "", "a", NOW, record, &s), RD_ESTORE);
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, record, &s), RD_ESTORE);
    assert_int_equal(store_term_foreach(f->st, "rt=x", 4, NOW, record, &s), RD_ESTORE);
    assert_int_equal(store_reg_delete(f->st, id), RD_ESTORE);
    assert_int_equal(replace(f->st, id, "", "a", LATER, "y", NULL), RD_ESTORE);
    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", NULL, &id, &created), RD_ESTORE);
    assert_int_equal(s.calls, 0);
    assert_int_equal(count(f->st), 1);
}

static void
test_expire_collects_corrupt_record(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=x", NULL };
    struct seen s = { 0 };
    uint64_t id = 0;
    uint64_t id2 = 0;
    int created = 0;
    size_t n = 0;

    assert_int_equal(put_terms(f->st, "", "a", NOW, "x", t, &id, &created), RD_OK);
    corrupt_record(f, id);
    assert_int_equal(store_expire(f->st, LATER, 10, &n), RD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(count(f->st), 0);
    /* The name and term it leaves behind lead nowhere and are skipped or taken over. */
    assert_int_equal(store_term_foreach(f->st, "rt=x", 4, NOW, record, &s), RD_OK);
    assert_int_equal(store_reg_find(f->st, "", "a", 0, record, &s), RD_ENOTFOUND);
    assert_int_equal(put_terms(f->st, "", "a", LATER, "y", t, &id2, &created), RD_OK);
    assert_int_equal(created, 1);
    assert_int_not_equal(id2, id);
    assert_int_equal(term_scan(f->st, "rt=x", NOW).calls, 1);
    assert_int_equal(store_reg_find(f->st, "", "a", NOW, record, &s), RD_OK);
    assert_int_equal(s.id, id2);
}

/* Start again on an empty store with a 256 KiB map, and fill @p data (@p size bytes) with a
 * string that fills it up quickly. */
static void
reopen_tiny(struct fixture *f, char *data, size_t size)
{
    store_free(f->st);
    f->st = NULL;
    remove_tree(f->dir);
    assert_int_equal(open_store(f, 256 * 1024), RD_OK);
    memset(data, 'z', size - 1);
    data[size - 1] = '\0';
}

static void
test_reg_put_full_map_is_efull_and_keeps_data(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=temperature", "if=sensor", NULL };
    struct seen s = { 0 };
    uint64_t ids[4096];
    char data[400];
    char ep[16];
    size_t n = 0;
    uint64_t id = 0;
    int created = 0;
    int rc = RD_OK;

    reopen_tiny(f, data, sizeof(data));
    while (n < sizeof(ids) / sizeof(ids[0])) {
        snprintf(ep, sizeof(ep), "node%zu", n);
        rc = put_terms(f->st, "", ep, LATER, data, t, &id, &created);
        if (rc != RD_OK) {
            break;
        }
        ids[n++] = id;
    }
    assert_int_equal(rc, RD_EFULL);
    assert_non_null(strstr(store_errmsg(f->st), "MDB_MAP_FULL"));
    assert_true(n > 10);
    assert_int_equal(count(f->st), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(store_reg_get(f->st, ids[i], NOW, 0, record, &s), RD_OK);
        assert_int_equal(s.data_len, strlen(data));
    }
    assert_int_equal(term_scan(f->st, "if=sensor", NOW).calls, (int)n);
    assert_int_equal(store_reg_delete(f->st, ids[0]), RD_OK);
    assert_int_equal(count(f->st), n - 1);
    assert_int_equal(store_reg_get(f->st, ids[1], NOW, 0, record, &s), RD_OK);
}

static void
test_reg_put_rejects_invalid_input(void **state)
{
    struct fixture *f = *state;
    char long_name[65];
    char term[STORE_TERM_MAX + 1];
    struct store_term t;
    struct store_reg reg;
    uint64_t id = 42;
    int created = 42;

    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    assert_int_equal(put_terms(f->st, "", long_name, LATER, "x", NULL, &id, &created), RD_EINVAL);
    assert_int_equal(put_terms(f->st, long_name, "a", LATER, "x", NULL, &id, &created), RD_EINVAL);
    assert_int_equal(put_terms(f->st, "", "", LATER, "x", NULL, &id, &created), RD_EINVAL);
    assert_int_equal(put_terms(f->st, "", NULL, LATER, "x", NULL, &id, &created), RD_EINVAL);
    long_name[63] = '\0';
    assert_int_equal(put_terms(f->st, long_name, long_name, LATER, "x", NULL, &id, &created),
                     RD_OK);
    assert_int_equal(created, 1);
    id = 42;
    created = 42;

    memset(&reg, 0, sizeof(reg));
    reg.ep = "a";
    reg.d = "";
    reg.terms = &t;
    reg.nterms = 1;
    t.data = "";
    t.len = 0;
    assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_EINVAL);
    memset(term, 't', sizeof(term));
    t.data = term;
    t.len = sizeof(term);
    assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_EINVAL);
    t.data = NULL;
    t.len = 3;
    assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_EINVAL);
    reg.terms = NULL;
    assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_EINVAL);
    reg.nterms = 0;
    reg.data_len = 5;
    assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_EINVAL);
    assert_int_equal(id, 42);
    assert_int_equal(created, 42);
    assert_int_equal(count(f->st), 1);

    t.data = term;
    t.len = STORE_TERM_MAX;
    reg.terms = &t;
    reg.nterms = 1;
    reg.data_len = 0;
    assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_OK);
    assert_int_equal(
        store_term_foreach(f->st, term, STORE_TERM_MAX, NOW, record, &(struct seen){ 0 }), RD_OK);
}

static void
test_reg_replace_rejects_invalid_input(void **state)
{
    struct fixture *f = *state;
    uint64_t id = put_ok(f->st, "", "a", LATER, "x");

    assert_int_equal(replace(f->st, id, "", "", LATER, "y", NULL), RD_EINVAL);
    assert_int_equal(store_reg_replace(f->st, id, NULL), RD_EINVAL);
}

static void
test_reg_find_rejects_invalid_names(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };

    assert_int_equal(store_reg_find(f->st, "", "", NOW, record, &s), RD_EINVAL);
    assert_int_equal(store_reg_find(f->st, "", NULL, NOW, record, &s), RD_EINVAL);
    assert_int_equal(s.calls, 0);
}

static void
test_count_counts_live_and_expired(void **state)
{
    struct fixture *f = *state;
    size_t n = 99;

    assert_int_equal(count(f->st), 0);
    put_ok(f->st, "", "a", LATER, "x");
    put_ok(f->st, "", "b", NOW - 1, "x");
    assert_int_equal(count(f->st), 2);
    assert_int_equal(store_expire(f->st, NOW, 10, &n), RD_OK);
    assert_int_equal(count(f->st), 1);
}

/* With writes through the map, the data file must have disk blocks ahead of LMDB's high-water
 * mark (a hole written through the map on a full disk is SIGBUS, not an error). */
static void
test_reg_put_allocates_the_data_file_ahead(void **state)
{
    struct fixture *f = *state;
    char path[128];
    struct stat sb;

    put_ok(f->st, "", "node1", LATER, "</a>");
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_true((uint64_t)sb.st_blocks * 512 >= (uint64_t)32 << 20);
    /* ... and no more than the map: the file stays sparse beyond what was allocated. */
    assert_true((uint64_t)sb.st_blocks * 512 < (uint64_t)sb.st_size);
}

static void
test_check_finds_a_consistent_store_clean(void **state)
{
    struct fixture *f = *state;
    static const char *const terms[] = { "rt=temp", "if=sensor", NULL };
    struct store_check_report rep;
    uint64_t id = 0;
    int created = 0;
    int calls = 0;

    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", terms, &id, &created), RD_OK);
    put_ok(f->st, "s", "b", NOW - 10, "y");
    assert_int_equal(store_check(f->st, &rep, count_problem, &calls), RD_OK);
    assert_int_equal(rep.records, 2);
    assert_int_equal(rep.names, 2);
    assert_int_equal(rep.expiry, 2);
    assert_int_equal(rep.terms, 2);
    assert_int_equal(rep.problems, 0);
    assert_int_equal(calls, 0);
}

static void
test_check_reports_a_broken_index(void **state)
{
    struct fixture *f = *state;
    static const char *const terms[] = { "rt=temp", NULL };
    struct store_check_report rep;
    MDB_txn *txn = NULL;
    MDB_val key = { 7, (void *)(uintptr_t) "rt=temp" };
    uint64_t id = 0;
    int created = 0;
    int calls = 0;

    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", terms, &id, &created), RD_OK);
    /* Damage the index behind the store's back: the term entry goes, the record stays. */
    assert_int_equal(mdb_txn_begin(f->st->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_del(txn, f->st->terms, &key, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_int_equal(store_check(f->st, &rep, count_problem, &calls), RD_OK);
    assert_int_equal(rep.problems, 1);
    assert_int_equal(calls, 1);
}

static void
test_info_reports_sizes(void **state)
{
    struct fixture *f = *state;
    struct store_info info;

    put_ok(f->st, "", "a", LATER, "x");
    assert_int_equal(store_info(f->st, &info), RD_OK);
    assert_int_equal(info.registrations, 1);
    assert_true(info.page_size >= 512);
    assert_true(info.used_bytes > 0 && info.used_bytes <= info.map_size);
}

static void
test_backup_copies_a_readable_store(void **state)
{
    struct fixture *f = *state;
    struct fixture copy;
    struct seen s;
    size_t n = 0;

    put_ok(f->st, "", "a", LATER, "x");
    memset(&copy, 0, sizeof(copy));
    assert_true(snprintf(copy.dir, sizeof(copy.dir), "%s/copy", f->dir) < (int)sizeof(copy.dir));
    assert_int_equal(store_backup(f->st, copy.dir), RD_OK);
    /* A second copy into the same place would overwrite: refused. */
    assert_int_equal(store_backup(f->st, copy.dir), RD_ESTORE);
    assert_int_equal(open_store(&copy, 0), RD_OK);
    assert_int_equal(store_count(copy.st, &n), RD_OK);
    assert_int_equal(n, 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_find(copy.st, "", "a", NOW, record, &s), RD_OK);
    assert_string_equal(s.data, "x");
    store_free(copy.st);
}

/* Paging by rank: a model of weighed registrations, in creation (counter) order. */
#define RANK_TERMS 3
#define RANK_MAX   72000

static const char *const rank_terms[RANK_TERMS] = { "rt=a", "rt=b", "if=x" };

struct rank_reg {
    char ep[16];
    uint64_t id;
    int stored;
    int moved; /* its name was registered again after a delete: a new, later slot has it */
    int64_t expires_at;
    uint32_t nlinks;
    int has[RANK_TERMS];
    uint32_t eps[RANK_TERMS];
    uint32_t links[RANK_TERMS];
};

struct rank_model {
    struct rank_reg *regs;
    size_t n;
    uint64_t *by_id; /* NULL, or (id, index) pairs sorted by id, to find large models' ids */
};

static int
cmp_id_pair(const void *pa, const void *pb)
{
    const uint64_t *a = pa;
    const uint64_t *b = pb;

    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* Sort the ids of the registrations stored in @p m, for rank_visit(). */
static void
rank_index(struct rank_model *m)
{
    size_t k = 0;

    free(m->by_id);
    m->by_id = calloc(2 * (m->n + 1), sizeof(uint64_t));
    assert_non_null(m->by_id);
    for (size_t i = 0; i < m->n; i++) {
        if (m->regs[i].stored) {
            m->by_id[2 * k] = m->regs[i].id;
            m->by_id[2 * k + 1] = i;
            k++;
        }
    }
    m->by_id[2 * k] = UINT64_MAX;
    qsort(m->by_id, k, 2 * sizeof(uint64_t), cmp_id_pair);
}

static uint32_t
rank_rand(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*seed >> 33);
}

/* The weight of @p r for term @p t (-1: every registration) in @p unit. */
static uint64_t
rank_weight(const struct rank_reg *r, int t, enum store_rank_unit unit)
{
    if (t < 0) {
        return unit == STORE_RANK_LINKS ? r->nlinks : 1;
    }
    if (!r->has[t]) {
        return 0;
    }
    return unit == STORE_RANK_LINKS ? r->links[t] : r->eps[t];
}

/* Write @p r with its weights: a put of its name (new or again) or a replace by id. */
static void
rank_write(struct store *st, struct rank_reg *r, size_t index, int by_id)
{
    struct store_term t[RANK_TERMS + 1];
    struct store_reg reg;
    size_t n = 0;
    uint64_t id = 0;
    int created = -1;

    if (!r->ep[0]) {
        snprintf(r->ep, sizeof(r->ep), "e%zu", index);
    }
    for (int i = 0; i < RANK_TERMS; i++) {
        if (r->has[i]) {
            t[n].data = rank_terms[i];
            t[n].len = strlen(rank_terms[i]);
            t[n].eps = r->eps[i];
            t[n].links = r->links[i];
            n++;
        }
    }
    memset(&reg, 0, sizeof(reg));
    reg.ep = r->ep;
    reg.d = "";
    reg.expires_at = r->expires_at;
    reg.data = "x";
    reg.data_len = 1;
    reg.terms = n ? t : NULL;
    reg.nterms = n;
    reg.weighed = 1;
    reg.nlinks = r->nlinks;
    if (by_id) {
        assert_int_equal(store_reg_replace(st, r->id, &reg), RD_OK);
        return;
    }
    assert_int_equal(store_reg_put(st, &reg, &id, &created), RD_OK);
    assert_int_equal(created, !r->stored);
    r->id = id;
    r->stored = 1;
}

static void
rank_randomize(struct rank_reg *r, uint64_t *seed)
{
    r->nlinks = rank_rand(seed) % 7;
    for (int i = 0; i < RANK_TERMS; i++) {
        r->has[i] = rank_rand(seed) % 3 != 0;
        r->eps[i] = rank_rand(seed) % 2;
        r->links[i] = rank_rand(seed) % 5;
    }
}

/* Where a walk from @p after lands after passing @p skip counted matches. */
struct rank_walk {
    const struct rank_model *m;
    int term;
    enum store_rank_unit unit;
    uint64_t skip;
    uint64_t id;    /* the registration the match is in; 0: not reached */
    uint64_t inner; /* the match's place in it */
    size_t visited; /* registrations with weight the walk was handed */
};

static int
rank_visit(void *arg, const struct store_reg *reg)
{
    struct rank_walk *w = arg;
    uint64_t weight = 0;
    size_t stored = 0;

    if (w->m->by_id) {
        const uint64_t *p;

        while (w->m->by_id[2 * stored] != UINT64_MAX) {
            stored++;
        }
        p = bsearch(&reg->id, w->m->by_id, stored, 2 * sizeof(uint64_t), cmp_id_pair);
        if (p) {
            weight = rank_weight(&w->m->regs[p[1]], w->term, w->unit);
        }
    }
    for (size_t i = 0; !w->m->by_id && i < w->m->n; i++) {
        if (w->m->regs[i].stored && w->m->regs[i].id == reg->id) {
            weight = rank_weight(&w->m->regs[i], w->term, w->unit);
            break;
        }
    }
    w->visited += weight != 0;
    if (w->skip < weight) {
        w->id = reg->id;
        w->inner = w->skip;
        return 1;
    }
    w->skip -= weight;
    return 0;
}

/* Every rank of term @p t in @p unit at @p now, sought, lands where a walk from the first
 * registration does (and past the last, the seek says there is none). */
static void
rank_check(struct store *st, const struct rank_model *m, int t, enum store_rank_unit unit,
           int64_t now, uint64_t *seed, int all)
{
    uint64_t total = 0;
    uint64_t probes[8];
    size_t np = 0;

    for (size_t i = 0; i < m->n; i++) {
        if (m->regs[i].stored && m->regs[i].expires_at > now) {
            total += rank_weight(&m->regs[i], t, unit);
        }
    }
    probes[np++] = 0;
    probes[np++] = total;
    probes[np++] = total + 3;
    if (total) {
        probes[np++] = total - 1;
        probes[np++] = rank_rand(seed) % total;
        probes[np++] = rank_rand(seed) % total;
    }
    for (uint64_t r = 0; r < (all ? total + 1 : np); r++) {
        uint64_t rank = all ? r : probes[r];
        uint64_t after = UINT64_MAX;
        uint64_t skip = UINT64_MAX;
        uint64_t left = rank;
        struct rank_walk w = { m, t, unit, 0, 0, 0, 0 };
        uint64_t want_id = 0;
        uint64_t want_inner = 0;
        const char *term = t < 0 ? NULL : rank_terms[t];
        size_t len = t < 0 ? 0 : strlen(term);
        int rc;

        /* The naive walk: pass over the visible registrations in counter order. */
        for (size_t i = 0; i < m->n && !want_id; i++) {
            uint64_t weight;

            if (!m->regs[i].stored || m->regs[i].expires_at <= now) {
                continue;
            }
            weight = rank_weight(&m->regs[i], t, unit);
            if (left < weight) {
                want_id = m->regs[i].id;
                want_inner = left;
            } else {
                left -= weight;
            }
        }
        rc = store_rank_seek(st, term, len, unit, now, rank, NULL, &after, &skip);
        assert_int_equal(rc, RD_OK);
        w.skip = skip;
        if (t < 0) {
            assert_true(store_reg_foreach(st, now, after, rank_visit, &w) >= 0);
        } else {
            assert_true(store_term_foreach_after(st, term, len, now, after, rank_visit, &w) >= 0);
        }
        /* Past the last match, the walk from there finds none (and nothing to walk over). */
        assert_int_equal(w.id, want_id);
        assert_int_equal(w.inner, want_inner);
        assert_true(want_id || w.visited == 0);
    }
}

static void
rank_check_all(struct store *st, const struct rank_model *m, int64_t now, uint64_t *seed, int all)
{
    for (int t = -1; t < RANK_TERMS; t++) {
        rank_check(st, m, t, STORE_RANK_EPS, now, seed, all);
        rank_check(st, m, t, STORE_RANK_LINKS, now, seed, all);
    }
}

static void
check_clean(struct store *st)
{
    struct store_check_report rep;

    assert_int_equal(store_check(st, &rep, NULL, NULL), RD_OK);
    assert_int_equal(rep.problems, 0);
}

/* Ranks stay right through inserts, re-registrations and replaces that change the weights,
 * deletes, refreshes, deadlines passing (hidden before the sweep) and the sweep itself, checked
 * against a naive walk of a model after every operation: a seeded random history. */
static void
rank_history(void **state, int batched)
{
    struct fixture *f = *state;
    struct rank_model m = { calloc(6000, sizeof(struct rank_reg)), 0, NULL };
    uint64_t seed = 20261202;
    int64_t now = NOW;
    int open = 0;

    assert_non_null(m.regs);
    for (int op = 0; op < 3000; op++) {
        uint32_t kind = rank_rand(&seed) % 10;
        struct rank_reg *r = m.n ? &m.regs[rank_rand(&seed) % m.n] : NULL;
        size_t n = 0;

        /* Batches of a few writes, whose seeks see their own counts. */
        if (batched && open && op % 5 == 0) {
            assert_int_equal(store_batch_commit(f->st), RD_OK);
            open = 0;
        } else if (batched && !open && op % 5 == 1) {
            assert_int_equal(store_batch_begin(f->st), RD_OK);
            open = 1;
        }
        if (r && r->moved) {
            continue;
        }
        if (kind < 4 || !r) {
            r = &m.regs[m.n];
            r->expires_at = now + 1 + rank_rand(&seed) % 200;
            rank_randomize(r, &seed);
            rank_write(f->st, r, m.n, 0);
            m.n++;
        } else if (kind == 4 && !r->stored) {
            /* The name of a deleted or collected registration makes a new one, last in age. */
            m.regs[m.n] = *r;
            r->moved = 1;
            r = &m.regs[m.n++];
            rank_randomize(r, &seed);
            r->expires_at = now + 1 + rank_rand(&seed) % 200;
            rank_write(f->st, r, 0, 0);
        } else if (kind == 4) {
            /* Registering the same name again, live or expired: the same registration. */
            rank_randomize(r, &seed);
            r->expires_at = now + 1 + rank_rand(&seed) % 200;
            rank_write(f->st, r, (size_t)(r - m.regs), 0);
        } else if (kind == 5 && r->stored) {
            rank_randomize(r, &seed);
            rank_write(f->st, r, (size_t)(r - m.regs), 1);
        } else if (kind == 6 && r->stored) {
            assert_int_equal(store_reg_delete(f->st, r->id), RD_OK);
            r->stored = 0;
        } else if (kind == 7 && r->stored) {
            r->expires_at = now + (int64_t)(rank_rand(&seed) % 100) - 20;
            assert_int_equal(store_reg_touch(f->st, r->id, r->expires_at, NULL), RD_OK);
        } else if (kind == 8) {
            now += rank_rand(&seed) % 5;
        } else if (kind == 9) {
            assert_int_equal(store_expire(f->st, now - 10, 1000, &n), RD_OK);
            for (size_t i = 0; i < m.n; i++) {
                if (m.regs[i].stored && m.regs[i].expires_at < now - 10) {
                    m.regs[i].stored = 0;
                    n--;
                }
            }
            assert_int_equal(n, 0);
        }
        rank_check_all(f->st, &m, now, &seed, op % 500 == 0);
        if (op % 250 == 0) {
            check_clean(f->st);
        }
    }
    assert_int_equal(store_batch_commit(f->st), RD_OK);
    check_clean(f->st);
    free(m.regs);
}

static void
test_rank_seek_agrees_with_a_naive_walk(void **state)
{
    rank_history(state, 0);
}

/* The same history in write batches, whose counts are written once per batch. */
static void
test_rank_seek_agrees_with_a_naive_walk_in_batches(void **state)
{
    rank_history(state, 1);
}

/* Buckets of every size: more registrations than a top bucket of 65536 counters, deletes spread
 * over them. */
static void
test_rank_seek_crosses_coarse_buckets(void **state)
{
    struct fixture *f = *state;
    struct rank_model m = { calloc(RANK_MAX, sizeof(struct rank_reg)), 0, NULL };
    uint64_t seed = 7;

    assert_non_null(m.regs);
    for (size_t i = 0; i < 70000; i++) {
        struct rank_reg *r = &m.regs[m.n];

        r->expires_at = LATER;
        rank_randomize(r, &seed);
        r->has[0] = 1;
        rank_write(f->st, r, m.n, 0);
        m.n++;
    }
    for (size_t i = 0; i < m.n; i += 1 + rank_rand(&seed) % 50) {
        assert_int_equal(store_reg_delete(f->st, m.regs[i].id), RD_OK);
        m.regs[i].stored = 0;
    }
    rank_index(&m);
    for (int k = 0; k < 6; k++) {
        rank_check_all(f->st, &m, NOW, &seed, 0);
    }
    check_clean(f->st);
    free(m.by_id);
    free(m.regs);
}

/* The counts cannot answer while a registration has no weights, or one carries the veto. */
static void
test_rank_seek_declines_without_weights_or_with_veto(void **state)
{
    struct fixture *f = *state;
    struct rank_reg r;
    struct store_term veto = { "scoped", 6, 1, 0 };
    uint64_t after = 0;
    uint64_t skip = 0;
    uint64_t old = put_ok(f->st, "", "old", LATER, "o");

    memset(&r, 0, sizeof(r));
    r.expires_at = LATER;
    r.nlinks = 3;
    r.has[0] = 1;
    r.eps[0] = 1;
    r.links[0] = 2;
    rank_write(f->st, &r, 1, 0);
    assert_int_equal(
        store_rank_seek(f->st, "rt=a", 4, STORE_RANK_LINKS, NOW, 1, NULL, &after, &skip),
        RD_ECONFLICT);
    assert_int_equal(store_reg_delete(f->st, old), RD_OK);
    assert_int_equal(
        store_rank_seek(f->st, "rt=a", 4, STORE_RANK_LINKS, NOW, 1, NULL, &after, &skip), RD_OK);
    assert_int_equal(after, 0);
    assert_int_equal(skip, 1);
    /* Past the end: after the last fine bucket, the first, so after its last counter. */
    assert_int_equal(
        store_rank_seek(f->st, "rt=a", 4, STORE_RANK_LINKS, NOW, 2, NULL, &after, &skip), RD_OK);
    assert_int_not_equal(after, 0);
    assert_int_equal(skip, 0);
    assert_int_equal(
        store_rank_seek(f->st, NULL, 0, STORE_RANK_LINKS, NOW, 2, &veto, &after, &skip), RD_OK);
    {
        struct store_term t[2] = { { "rt=a", 4, 1, 2 }, { "scoped", 6, 1, 0 } };
        struct store_reg reg;
        uint64_t id = 0;
        int created = 0;

        memset(&reg, 0, sizeof(reg));
        reg.ep = "near";
        reg.d = "";
        reg.expires_at = LATER;
        reg.terms = t;
        reg.nterms = 2;
        reg.weighed = 1;
        assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_OK);
    }
    assert_int_equal(
        store_rank_seek(f->st, NULL, 0, STORE_RANK_LINKS, NOW, 2, &veto, &after, &skip),
        RD_ECONFLICT);
    assert_int_equal(
        store_rank_seek(f->st, "rt=a", 4000, STORE_RANK_LINKS, NOW, 2, NULL, &after, &skip),
        RD_EINVAL);
    check_clean(f->st);
}

/* A count that disagrees with the records is reported by store_check(). */
static void
test_check_reports_a_wrong_count(void **state)
{
    struct fixture *f = *state;
    struct store_check_report rep;
    struct rank_reg r;
    MDB_txn *txn = NULL;

    memset(&r, 0, sizeof(r));
    r.expires_at = LATER;
    r.nlinks = 3;
    r.has[1] = 1;
    r.eps[1] = 1;
    r.links[1] = 2;
    rank_write(f->st, &r, 1, 0);
    check_clean(f->st);
    assert_int_equal(mdb_txn_begin(f->st->env, NULL, 0, &txn), MDB_SUCCESS);
    assert_int_equal(store__counts_term(f->st, txn, "rt=b", 4, 5000, 1, 1, 1), RD_OK);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    assert_int_equal(store_check(f->st, &rep, NULL, NULL), RD_OK);
    assert_true(rep.problems > 0);
    assert_true(rep.counts > 0);
}

/* store_reg_fn over registrations weighed by weigh_all(): 2 links each (term -2). */
static int
weigh_visit(void *arg, const struct store_reg *reg)
{
    struct rank_walk *w = arg;

    if (w->skip < 2) {
        w->id = reg->id;
        w->inner = w->skip;
        return 1;
    }
    w->skip -= 2;
    return 0;
}

/* store_weigh_fn of the tests: every term 1 registration and 2 links, 4 links in all; declines
 * the endpoint named in @p arg. */
static int
weigh_all(void *arg, const struct store_reg *reg, struct store_term *terms, size_t nterms,
          uint32_t *nlinks)
{
    if (arg && strcmp(reg->ep, arg) == 0) {
        return 1;
    }
    assert_non_null(reg->data);
    for (size_t i = 0; i < nterms; i++) {
        assert_non_null(terms[i].data);
        terms[i].eps = 1;
        terms[i].links = 2;
    }
    *nlinks = 4;
    return 0;
}

static int
open_weighing(struct fixture *f, void *decline)
{
    struct store_options opt;
    char err[256];

    memset(&opt, 0, sizeof(opt));
    opt.dir = f->dir;
    opt.sync = STORE_SYNC_PERIODIC;
    opt.migrate_batch = 4;
    opt.weigh_fn = weigh_all;
    opt.weigh_arg = decline;
    return store_open(&f->st, &opt, err, sizeof(err));
}

/* A migration weighs the records it finds without weights, so seeks answer from the counts at
 * once: rank 7 in links of rt=odd is the second link of the fourth live odd registration,
 * node09 (node05 has expired). */
static void
test_open_migrating_weighs_the_records(void **state)
{
    struct fixture *f = *state;
    struct rank_walk w;
    uint64_t ids[OLD_REGS];
    uint64_t after = 0;
    uint64_t skip = 0;

    make_v1(f, ids);
    assert_int_equal(open_weighing(f, NULL), RD_OK);
    check_v1_content(f, ids);
    check_clean(f->st);
    assert_int_equal(
        store_rank_seek(f->st, "rt=odd", 6, STORE_RANK_LINKS, NOW, 7, NULL, &after, &skip), RD_OK);
    memset(&w, 0, sizeof(w));
    w.skip = skip;
    w.term = -2;
    assert_true(store_term_foreach_after(f->st, "rt=odd", 6, NOW, after, weigh_visit, &w) >= 0);
    assert_int_equal(w.id, ids[9]);
    assert_int_equal(w.inner, 1);
    assert_int_equal(store_rank_seek(f->st, NULL, 0, STORE_RANK_EPS, NOW, 21, NULL, &after, &skip),
                     RD_OK);
}

/* A registration the weigh function declines stays without weights: seeks decline until it is
 * gone, and the check agrees with the count of such records. */
static void
test_open_migrating_leaves_a_declined_record_unweighed(void **state)
{
    struct fixture *f = *state;
    uint64_t ids[OLD_REGS];
    uint64_t after = 0;
    uint64_t skip = 0;
    char decline[] = "node03";

    make_v1(f, ids);
    assert_int_equal(open_weighing(f, decline), RD_OK);
    check_v1_content(f, ids);
    check_clean(f->st);
    assert_int_equal(
        store_rank_seek(f->st, "rt=odd", 6, STORE_RANK_LINKS, NOW, 7, NULL, &after, &skip),
        RD_ECONFLICT);
    assert_int_equal(store_reg_delete(f->st, ids[3]), RD_OK);
    assert_int_equal(
        store_rank_seek(f->st, "rt=odd", 6, STORE_RANK_LINKS, NOW, 7, NULL, &after, &skip), RD_OK);
    check_clean(f->st);
}

/* What store_journal_read() handed over. */
struct journal_seen {
    size_t n;
    uint64_t ids[16];
    uint64_t reg_ids[16];
    int64_t times[16];
    char data[16][32];
};

static int
journal_record(void *arg, const struct store_event *ev)
{
    struct journal_seen *j = arg;

    assert_true(j->n < 16);
    j->ids[j->n] = ev->id;
    j->reg_ids[j->n] = ev->reg_id;
    j->times[j->n] = ev->time;
    assert_true(ev->len < sizeof(j->data[0]));
    memcpy(j->data[j->n], ev->data, ev->len);
    j->data[j->n][ev->len] = '\0';
    j->n++;
    return 0;
}

static struct journal_seen
journal_after(struct store *st, uint64_t after)
{
    struct journal_seen j;
    uint64_t last = 0;

    memset(&j, 0, sizeof(j));
    assert_int_equal(store_journal_read(st, after, 16, journal_record, &j, &last), RD_OK);
    assert_int_equal(last, j.n ? j.ids[j.n - 1] : after);
    return j;
}

static void
stage(struct store *st, const char *text)
{
    assert_int_equal(store_journal_stage(st, text, strlen(text)), RD_OK);
}

static int
journal_expired(void *arg, const struct store_reg *reg, const void **data, size_t *len)
{
    char *buf = arg;

    snprintf(buf, 64, "expired %s", reg->ep);
    *data = buf;
    *len = strlen(buf);
    return 0;
}

static void
test_journal_appends_each_staged_write_in_order(void **state)
{
    struct fixture *f = *state;
    struct store_journal_info info;
    struct journal_seen j;
    uint64_t a;
    uint64_t b;

    store_journal_config(f->st, 100, 0, NULL, NULL);
    store_journal_clock(f->st, NOW);
    assert_int_equal(store_journal_info(f->st, &info), RD_OK);
    assert_int_equal(info.last, 0);
    assert_int_equal(info.first, 1);
    stage(f->st, "reg a");
    a = put_ok(f->st, "", "a", LATER, "x");
    stage(f->st, "reg b");
    b = put_ok(f->st, "", "b", LATER, "x");
    stage(f->st, "touch a");
    assert_int_equal(store_reg_touch(f->st, a, LATER + 5, NULL), RD_OK);
    stage(f->st, "replace b");
    assert_int_equal(replace(f->st, b, "", "b", LATER, "y", NULL), RD_OK);
    stage(f->st, "del a");
    store_journal_clock(f->st, NOW + 1);
    assert_int_equal(store_reg_delete(f->st, a), RD_OK);
    /* A write without a staged event is not journalled. */
    put_ok(f->st, "", "c", LATER, "x");
    j = journal_after(f->st, 0);
    assert_int_equal(j.n, 5);
    for (size_t i = 0; i < j.n; i++) {
        assert_int_equal(j.ids[i], i + 1);
    }
    assert_string_equal(j.data[0], "reg a");
    assert_int_equal(j.reg_ids[0], a);
    assert_int_equal(j.reg_ids[1], b);
    assert_string_equal(j.data[2], "touch a");
    assert_string_equal(j.data[3], "replace b");
    assert_string_equal(j.data[4], "del a");
    assert_int_equal(j.reg_ids[4], a);
    assert_int_equal(j.times[3], NOW);
    assert_int_equal(j.times[4], NOW + 1);
    j = journal_after(f->st, 3);
    assert_int_equal(j.n, 2);
    assert_int_equal(j.ids[0], 4);
    assert_int_equal(journal_after(f->st, 5).n, 0);
}

static void
test_journal_drops_the_stage_of_a_failed_or_empty_write(void **state)
{
    struct fixture *f = *state;
    struct store_journal_info info;
    uint64_t a;

    store_journal_config(f->st, 100, 0, NULL, NULL);
    stage(f->st, "reg a");
    a = put_ok(f->st, "", "a", LATER, "x");
    stage(f->st, "lost");
    assert_int_equal(store_reg_delete(f->st, UINT64_MAX), RD_ENOTFOUND);
    /* The failed write took its stage along: the next write is not told as it. */
    put_ok(f->st, "", "b", LATER, "x");
    stage(f->st, "same deadline");
    assert_int_equal(store_reg_touch(f->st, a, LATER, NULL), RD_OK);
    put_ok(f->st, "", "c", LATER, "x");
    assert_int_equal(store_journal_info(f->st, &info), RD_OK);
    assert_int_equal(info.last, 1);
    assert_int_equal(info.events, 1);
}

/* A batch: its writes see each other, refused input leaves the others alone, and after the
 * commit every index and journal event is as single writes would have left them. */
static void
test_batch_commits_its_writes_and_survives_refused_input(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=temperature", "if=sensor", NULL };
    struct store_term missing = { "src=elsewhere", 13, 0, 0 };
    struct seen s = { 0 };
    struct journal_seen j;
    uint64_t a;
    uint64_t b;
    uint64_t id = 0;
    int created = 0;

    store_journal_config(f->st, 100, 0, NULL, NULL);
    store_journal_clock(f->st, NOW);
    assert_int_equal(store_batch_begin(f->st), RD_OK);
    assert_int_equal(store_batch_begin(f->st), RD_EINVAL);
    stage(f->st, "reg a");
    assert_int_equal(put_terms(f->st, "", "a", LATER, "x", t, &a, &created), RD_OK);
    /* Refused before anything changed: the batch goes on. */
    assert_int_equal(put_terms(f->st, "", "", LATER, "x", NULL, &id, &created), RD_EINVAL);
    assert_int_equal(replace(f->st, a, "", "not-a", LATER, "y", NULL), RD_ECONFLICT);
    assert_int_equal(store_reg_delete(f->st, a ^ 1), RD_ENOTFOUND);
    assert_int_equal(store_reg_touch(f->st, a, LATER + 1, &missing), RD_ECONFLICT);
    /* Reads see the batch's own writes. */
    assert_int_equal(store_reg_get(f->st, a, NOW, 0, record, &s), RD_OK);
    assert_string_equal(s.ep, "a");
    stage(f->st, "reg b");
    assert_int_equal(put_terms(f->st, "", "b", LATER, "x", t, &b, &created), RD_OK);
    stage(f->st, "touch a");
    assert_int_equal(store_reg_touch(f->st, a, LATER + 5, NULL), RD_OK);
    stage(f->st, "replace b");
    assert_int_equal(replace(f->st, b, "", "b", LATER, "y", NULL), RD_OK);
    assert_int_equal(store_batch_commit(f->st), RD_OK);
    assert_int_equal(store_batch_commit(f->st), RD_OK);
    reopen(f);
    assert_int_equal(count(f->st), 2);
    assert_int_equal(store_reg_get(f->st, a, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.expires_at, LATER + 5);
    assert_int_equal(term_scan(f->st, "if=sensor", NOW).calls, 1);
    j = journal_after(f->st, 0);
    assert_int_equal(j.n, 4);
    assert_string_equal(j.data[0], "reg a");
    assert_string_equal(j.data[3], "replace b");
    check_clean(f->st);
}

/* A batch's new registrations have their term entries put together, grouped by term: more
 * terms than the groups' first table holds, a term listed twice, reads and a removal inside
 * the batch. */
static void
test_batch_puts_new_terms_grouped(void **state)
{
    struct fixture *f = *state;
    uint64_t ids[300];
    int created = 0;

    assert_int_equal(store_batch_begin(f->st), RD_OK);
    for (int i = 0; i < 300; i++) {
        char ep[16];
        char own[16];
        char grp[16];
        const char *t[] = { "rt=shared", own, "if=sensor", grp, "rt=shared", NULL };

        snprintf(ep, sizeof(ep), "e%d", i);
        snprintf(own, sizeof(own), "u=%d.", i);
        snprintf(grp, sizeof(grp), "g=%d.", i % 100);
        assert_int_equal(put_terms(f->st, "", ep, LATER, "x", t, &ids[i], &created), RD_OK);
        assert_true(created);
        if (i == 149) {
            /* A read inside the batch sees the entries held back so far. */
            assert_int_equal(term_scan(f->st, "rt=shared", NOW).calls, 150);
            assert_int_equal(term_scan(f->st, "g=7.", NOW).calls, 2);
        }
    }
    /* Removing one inside the batch, registered after that read, finds its held-back entries. */
    assert_int_equal(store_reg_delete(f->st, ids[207]), RD_OK);
    assert_int_equal(store_batch_commit(f->st), RD_OK);
    reopen(f);
    assert_int_equal(count(f->st), 299);
    assert_int_equal(term_scan(f->st, "rt=shared", NOW).calls, 299);
    assert_int_equal(term_scan(f->st, "if=sensor", NOW).calls, 299);
    assert_int_equal(term_scan(f->st, "g=7.", NOW).calls, 2);
    assert_int_equal(term_scan(f->st, "g=8.", NOW).calls, 3);
    assert_int_equal(term_scan(f->st, "u=207.", NOW).calls, 0);
    assert_int_equal(term_scan(f->st, "u=299.", NOW).calls, 1);
    check_clean(f->st);
}

/* Hands over up to @c budget registrations, then stops before the next one, as a lookup that
 * reached its deadline does. */
struct stretch {
    uint64_t ids[32];
    size_t n;
    size_t budget;
};

static int
stretch_take(void *arg, const struct store_reg *reg)
{
    struct stretch *s = arg;

    if (s->budget == 0) {
        return 7;
    }
    s->budget--;
    assert_true(s->n < 32);
    s->ids[s->n++] = reg->id;
    return 0;
}

/* A prefix walk stopped anywhere goes on, from the position it wrote, at the registration it
 * stopped before; when that one has gone meanwhile, at the next. */
static void
test_term_walk_resumes_where_it_stopped(void **state)
{
    struct fixture *f = *state;
    static const char *const tags[6][4] = {
        { "title=a", NULL }, { "title=a", "title=b", NULL }, { "title=a", "other=x", NULL },
        { "title=a", "title=b", NULL }, { "title=a", NULL }, { "title=a", "title=c", NULL },
    };
    uint64_t id[6];
    struct stretch all = { { 0 }, 0, 100 };
    struct stretch part = { { 0 }, 0, 0 };
    struct store_term_pos at;
    struct store_term_pos from;
    int created = 0;
    int rc;

    for (int i = 0; i < 6; i++) {
        char ep[8];

        snprintf(ep, sizeof(ep), "e%d", i);
        assert_int_equal(put_terms(f->st, "", ep, LATER, "x", tags[i], &id[i], &created), RD_OK);
    }
    assert_int_equal(store_term_foreach_from(f->st, "title=", 6, NULL, &at, NOW, stretch_take, &all),
                     RD_OK);
    assert_int_equal(all.n, 9); /* a: all six, b: e1 and e3, c: e5 */
    /* Two at a time, each stretch going on from the last one's position. */
    for (int k = 0; k < 10; k++) {
        part.budget = 2;
        rc = store_term_foreach_from(f->st, "title=", 6, k ? &from : NULL, &at, NOW, stretch_take,
                                     &part);
        if (rc == RD_OK) {
            break;
        }
        assert_int_equal(rc, 7);
        from = at;
    }
    assert_int_equal(part.n, all.n);
    assert_memory_equal(part.ids, all.ids, all.n * sizeof(all.ids[0]));
    /* Stopped before e3 under title=a; e3 goes; the walk goes on at e4, and e3 under title=b is
     * gone too. */
    part.n = 0;
    part.budget = 3;
    assert_int_equal(
        store_term_foreach_from(f->st, "title=", 6, NULL, &at, NOW, stretch_take, &part), 7);
    assert_int_equal(at.id, id[3]);
    from = at;
    assert_int_equal(store_reg_delete(f->st, id[3]), RD_OK);
    part.budget = 100;
    assert_int_equal(
        store_term_foreach_from(f->st, "title=", 6, &from, &at, NOW, stretch_take, &part), RD_OK);
    assert_int_equal(part.n, 7);
    assert_int_equal(part.ids[3], id[4]);
    assert_int_equal(part.ids[5], id[1]); /* title=b */
    assert_int_equal(part.ids[6], id[5]); /* title=c */
    /* A position past a term's last registration goes on at the next term. */
    from.len = 7;
    memcpy(from.term, "title=a", 7);
    from.id = id[5];
    assert_int_equal(store_reg_delete(f->st, id[5]), RD_OK);
    part.n = 0;
    assert_int_equal(
        store_term_foreach_from(f->st, "title=", 6, &from, &at, NOW, stretch_take, &part), RD_OK);
    assert_int_equal(part.n, 1);
    assert_int_equal(part.ids[0], id[1]);
}

/* A write that fails half-way (the map is full) loses what the batch had not committed, and
 * nothing committed before it; the next batch starts afresh. */
static void
test_batch_failing_half_way_loses_the_batch_only(void **state)
{
    struct fixture *f = *state;
    static const char *const t[] = { "rt=temperature", "if=sensor", NULL };
    char data[400];
    char ep[16];
    size_t kept;
    size_t n = 0;
    uint64_t id = 0;
    int created = 0;
    int rc = RD_OK;

    reopen_tiny(f, data, sizeof(data));
    put_ok(f->st, "", "before", LATER, "x");
    kept = count(f->st);
    assert_int_equal(store_batch_begin(f->st), RD_OK);
    while (n < 4096) {
        snprintf(ep, sizeof(ep), "node%zu", n++);
        rc = put_terms(f->st, "", ep, LATER, data, t, &id, &created);
        if (rc != RD_OK) {
            break;
        }
    }
    assert_int_equal(rc, RD_EFULL);
    /* Later writes of the lost batch fail too, and the commit says it was lost. */
    assert_int_equal(put_terms(f->st, "", "late", LATER, "x", NULL, &id, &created), RD_ESTORE);
    assert_int_not_equal(store_batch_commit(f->st), RD_OK);
    /* The batch may have committed part of itself early, for room; the write just before the
     * failure and everything after it are gone. */
    assert_true(count(f->st) < kept + n - 1);
    snprintf(ep, sizeof(ep), "node%zu", n - 2);
    assert_int_equal(store_reg_find(f->st, "", ep, NOW, record, &(struct seen){ 0 }),
                     RD_ENOTFOUND);
    assert_int_equal(store_reg_find(f->st, "", "late", NOW, record, &(struct seen){ 0 }),
                     RD_ENOTFOUND);
    check_clean(f->st);
    assert_int_equal(store_batch_begin(f->st), RD_OK);
    put_ok(f->st, "", "after", LATER, "x");
    assert_int_equal(store_batch_commit(f->st), RD_OK);
    assert_int_equal(store_reg_find(f->st, "", "after", NOW, record, &(struct seen){ 0 }), RD_OK);
}

/* A rewrite keeps the terms and weights: the term index, the counts and the checks see the
 * registration as before, with the new data and deadline; a missing required term, other
 * names or a record without weights change nothing. */
static void
test_reg_rewrite_keeps_terms_and_weights(void **state)
{
    struct fixture *f = *state;
    struct store_term t[2] = { { "rt=a", 4, 1, 2 }, { "src=x", 6, 0, 0 } };
    struct store_term other = { "src=y", 6, 0, 0 };
    struct store_reg reg;
    struct seen s = { 0 };
    struct journal_seen j;
    uint64_t after = 0;
    uint64_t skip = 0;
    uint64_t plain;
    uint64_t id = 0;
    int created = 0;

    store_journal_config(f->st, 100, 0, NULL, NULL);
    memset(&reg, 0, sizeof(reg));
    reg.ep = "w";
    reg.d = "";
    reg.expires_at = LATER;
    reg.data = "old";
    reg.data_len = 3;
    reg.terms = t;
    reg.nterms = 2;
    reg.weighed = 1;
    reg.nlinks = 2;
    assert_int_equal(store_reg_put(f->st, &reg, &id, &created), RD_OK);
    plain = put_ok(f->st, "", "plain", LATER, "p");
    reg.data = "newer";
    reg.data_len = 5;
    reg.expires_at = LATER + 60;
    reg.terms = NULL;
    reg.nterms = 0;
    assert_int_equal(store_reg_rewrite(f->st, id, &reg, &other), RD_ECONFLICT);
    reg.ep = "v";
    assert_int_equal(store_reg_rewrite(f->st, id, &reg, NULL), RD_ECONFLICT);
    reg.ep = "plain";
    assert_int_equal(store_reg_rewrite(f->st, plain, &reg, NULL), RD_ECONFLICT);
    reg.ep = "w";
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.data_len, 3);
    stage(f->st, "rewrite w");
    assert_int_equal(store_reg_rewrite(f->st, id, &reg, &t[1]), RD_OK);
    assert_int_equal(store_reg_get(f->st, id, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.data_len, 5);
    assert_memory_equal(s.data, "newer", 5);
    assert_int_equal(s.expires_at, LATER + 60);
    assert_int_equal(term_scan(f->st, "rt=a", NOW).calls, 1);
    assert_int_equal(term_scan(f->st, "src=x", NOW).calls, 1);
    /* Still weighed: with the one record without weights gone, seeks trust the counts. */
    assert_int_equal(store_reg_delete(f->st, plain), RD_OK);
    assert_int_equal(
        store_rank_seek(f->st, "rt=a", 4, STORE_RANK_LINKS, NOW, 1, NULL, &after, &skip), RD_OK);
    j = journal_after(f->st, 0);
    assert_int_equal(j.n, 1);
    assert_string_equal(j.data[0], "rewrite w");
    check_clean(f->st);
}

static void
test_journal_trims_by_count(void **state)
{
    struct fixture *f = *state;
    struct store_journal_info info;
    struct journal_seen j;
    char ep[8];

    store_journal_config(f->st, 3, 0, NULL, NULL);
    for (int i = 0; i < 7; i++) {
        snprintf(ep, sizeof(ep), "e%d", i);
        stage(f->st, ep);
        put_ok(f->st, "", ep, LATER, "x");
    }
    assert_int_equal(store_journal_info(f->st, &info), RD_OK);
    assert_int_equal(info.first, 5);
    assert_int_equal(info.last, 7);
    assert_int_equal(info.events, 3);
    /* Reading from before the window starts at its oldest event. */
    j = journal_after(f->st, 1);
    assert_int_equal(j.n, 3);
    assert_int_equal(j.ids[0], 5);
    assert_string_equal(j.data[2], "e6");
}

static void
test_journal_trims_by_age(void **state)
{
    struct fixture *f = *state;
    struct store_journal_info info;

    store_journal_config(f->st, 100, 10, NULL, NULL);
    store_journal_clock(f->st, NOW);
    stage(f->st, "old");
    put_ok(f->st, "", "a", LATER, "x");
    store_journal_clock(f->st, NOW + 5);
    stage(f->st, "mid");
    put_ok(f->st, "", "b", LATER, "x");
    store_journal_clock(f->st, NOW + 11);
    stage(f->st, "new");
    put_ok(f->st, "", "c", LATER, "x");
    assert_int_equal(store_journal_info(f->st, &info), RD_OK);
    assert_int_equal(info.first, 2);
    assert_int_equal(info.last, 3);
    assert_string_equal(journal_after(f->st, 0).data[0], "mid");
}

static void
test_journal_tells_expiries_in_the_sweep(void **state)
{
    struct fixture *f = *state;
    struct journal_seen j;
    char buf[64];
    uint64_t a;
    size_t n = 0;

    store_journal_config(f->st, 100, 0, journal_expired, buf);
    a = put_ok(f->st, "", "gone", NOW - 1, "x");
    put_ok(f->st, "", "stays", LATER, "x");
    assert_int_equal(store_expire(f->st, NOW, 100, &n), RD_OK);
    assert_int_equal(n, 1);
    j = journal_after(f->st, 0);
    assert_int_equal(j.n, 1);
    assert_string_equal(j.data[0], "expired gone");
    assert_int_equal(j.reg_ids[0], a);
}

static void
test_journal_ids_survive_reopen_and_trimming(void **state)
{
    struct fixture *f = *state;
    struct store_journal_info info;

    store_journal_config(f->st, 1, 0, NULL, NULL);
    stage(f->st, "one");
    put_ok(f->st, "", "a", LATER, "x");
    stage(f->st, "two");
    put_ok(f->st, "", "b", LATER, "x");
    reopen(f);
    store_journal_config(f->st, 1, 0, NULL, NULL);
    assert_int_equal(store_journal_info(f->st, &info), RD_OK);
    assert_int_equal(info.first, 2);
    assert_int_equal(info.last, 2);
    assert_string_equal(journal_after(f->st, 1).data[0], "two");
    stage(f->st, "three");
    put_ok(f->st, "", "c", LATER, "x");
    assert_int_equal(journal_after(f->st, 0).ids[0], 3);
}

static void
test_journal_stage_rejects_a_huge_event(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_journal_stage(f->st, "", ((size_t)1 << 20) + 1), RD_ETOOBIG);
}

static void
test_snap_open_reads_one_snapshot_while_the_store_changes(void **state)
{
    struct fixture *f = *state;
    struct store *snap = NULL;
    struct seen s;
    uint64_t a = put_ok(f->st, "", "a", LATER, "A");
    uint64_t b;

    assert_int_equal(store_snap_open(f->st, &snap), RD_OK);
    b = put_ok(f->st, "", "b", LATER, "B");
    assert_int_equal(store_reg_delete(f->st, a), RD_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(snap, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, a);
    assert_int_equal(store_reg_get(snap, b, NOW, 0, record, &s), RD_ENOTFOUND);
    /* The store itself sees the writes. */
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(f->st, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.id, b);
    store_free(snap);
}

static void
test_snap_open_refuses_writes_and_snapshots_of_itself(void **state)
{
    struct fixture *f = *state;
    struct store *snap = NULL;
    struct store *again = NULL;
    uint64_t id = 0;
    int created = 0;

    assert_int_equal(store_snap_open(f->st, &snap), RD_OK);
    assert_int_equal(put_terms(snap, "", "x", LATER, "X", NULL, &id, &created), RD_EINVAL);
    assert_non_null(strstr(store_errmsg(snap), "read-only"));
    assert_int_equal(store_snap_open(snap, &again), RD_EINVAL);
    assert_null(again);
    store_free(snap);
    /* Nothing was written through the view. */
    assert_int_equal(store_reg_find(f->st, "", "x", NOW, record, NULL), RD_ENOTFOUND);
}

/* A reader on another thread: walks its snapshot again and again while the main thread
 * writes, and records every count it saw. */
struct snap_reader {
    struct store *snap;
    int rounds;
    int min_calls;
    int max_calls;
    int rc;
};

static int
count_only(void *arg, const struct store_reg *reg)
{
    (void)reg;
    (*(int *)arg)++;
    return 0;
}

static void *
snap_read_main(void *arg)
{
    struct snap_reader *r = arg;

    r->min_calls = INT32_MAX;
    for (int i = 0; i < r->rounds && !r->rc; i++) {
        int calls = 0;

        r->rc = store_reg_foreach(r->snap, NOW, 0, count_only, &calls);
        r->min_calls = calls < r->min_calls ? calls : r->min_calls;
        r->max_calls = calls > r->max_calls ? calls : r->max_calls;
    }
    return NULL;
}

static void
test_snap_open_reads_on_another_thread_beside_writes(void **state)
{
    struct fixture *f = *state;
    struct snap_reader r = { NULL, 200, 0, 0, 0 };
    pthread_t t;
    char ep[32];

    for (int i = 0; i < 50; i++) {
        snprintf(ep, sizeof(ep), "before%d", i);
        put_ok(f->st, "", ep, LATER, "x");
    }
    assert_int_equal(store_snap_open(f->st, &r.snap), RD_OK);
    assert_int_equal(pthread_create(&t, NULL, snap_read_main, &r), 0);
    for (int i = 0; i < 200; i++) {
        snprintf(ep, sizeof(ep), "during%d", i);
        put_ok(f->st, "", ep, LATER, "x");
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.rc, RD_OK);
    assert_int_equal(r.min_calls, 50);
    assert_int_equal(r.max_calls, 50);
    store_free(r.snap);
}

static void
test_snap_renew_moves_the_view_to_the_store_as_it_is(void **state)
{
    struct fixture *f = *state;
    struct store *snap = NULL;
    struct seen s;
    uint64_t b;

    put_ok(f->st, "", "a", LATER, "A");
    assert_int_equal(store_snap_open(f->st, &snap), RD_OK);
    b = put_ok(f->st, "", "b", LATER, "B");
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(snap, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 1);
    /* Released: no snapshot, reads fail until renewed. */
    store_snap_release(snap);
    assert_int_equal(store_reg_foreach(snap, NOW, 0, record, &s), RD_ESTORE);
    assert_int_equal(store_snap_renew(snap), RD_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(snap, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.id, b);
    /* Renewing an open view moves it on too. */
    put_ok(f->st, "", "c", LATER, "C");
    assert_int_equal(store_snap_renew(snap), RD_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_reg_foreach(snap, NOW, 0, record, &s), RD_OK);
    assert_int_equal(s.calls, 3);
    store_free(snap);
    assert_int_equal(store_snap_renew(f->st), RD_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_journal_appends_each_staged_write_in_order),
        T(test_batch_commits_its_writes_and_survives_refused_input),
        T(test_batch_failing_half_way_loses_the_batch_only),
        T(test_batch_puts_new_terms_grouped),
        T(test_term_walk_resumes_where_it_stopped),
        T(test_reg_rewrite_keeps_terms_and_weights),
        T(test_journal_drops_the_stage_of_a_failed_or_empty_write),
        T(test_journal_trims_by_count),
        T(test_journal_trims_by_age),
        T(test_journal_tells_expiries_in_the_sweep),
        T(test_journal_ids_survive_reopen_and_trimming),
        T(test_journal_stage_rejects_a_huge_event),
        T(test_reg_get_returns_what_was_put),
        T(test_reg_find_returns_what_was_put),
        T(test_reg_find_unknown_name_is_not_found),
        T(test_reg_get_passes_empty_data),
        T(test_reg_put_same_name_replaces_and_keeps_id),
        T(test_reg_put_same_name_moves_deadline),
        T(test_reg_put_same_ep_other_sector_gets_other_id),
        T(test_reg_put_after_delete_gets_new_id),
        T(test_reg_put_never_reuses_ids_across_reopen),
        T(test_reg_put_gives_distinct_ids),
        T(test_id_from_counter_inverts_and_is_never_zero),
        T(test_reg_get_unknown_id_is_not_found),
        T(test_reg_get_hides_expired_at_deadline),
        T(test_reg_find_hides_expired_at_deadline),
        T(test_reg_foreach_hides_expired_at_deadline),
        T(test_term_foreach_hides_expired_at_deadline),
        T(test_reg_replace_revives_expired),
        T(test_reg_replace_other_name_is_conflict),
        T(test_reg_replace_deleted_id_is_not_found),
        T(test_reg_replace_drops_old_terms),
        T(test_reg_replace_same_terms_keeps_them),
        T(test_reg_touch_moves_only_the_deadline),
        T(test_reg_put_same_name_drops_old_terms),
        T(test_reg_delete_removes_record_name_and_terms),
        T(test_reg_delete_unknown_id_is_not_found),
        T(test_reg_put_at_keeps_the_given_id_and_replaces_by_name),
        T(test_remote_revision_commits_with_the_write_it_was_staged_for),
        T(test_remote_due_lists_past_deadlines_without_removing),
        T(test_expire_deletes_only_before),
        T(test_expire_respects_max_earliest_first),
        T(test_expire_orders_negative_deadlines_first),
        T(test_next_deadline_finds_earliest_from),
        T(test_term_foreach_finds_exact_term),
        T(test_term_foreach_after_resumes_in_age_order),
        T(test_term_foreach_matches_byte_prefix_in_term_order),
        T(test_term_foreach_returns_callback_value),
        T(test_term_foreach_indexes_repeated_term_once),
        T(test_term_foreach_longer_than_any_term_finds_nothing),
        T(test_reg_foreach_goes_oldest_first_and_pages_after),
        T(test_reg_foreach_after_deleted_id_resumes_after_it),
        T(test_reg_foreach_allows_reads_in_callback),
        T(test_reg_foreach_allows_deletes_in_callback),
        T(test_open_keeps_data_across_reopen),
        T(test_open_creates_missing_parents),
        T(test_open_rejects_bad_options),
        T(test_open_rejects_too_small_map),
        T(test_free_accepts_null),
        T(test_open_rejects_a_newer_schema_version),
        T(test_open_migrates_version_1),
        T(test_open_resumes_a_migration_cut_after_any_transaction),
        T(test_open_no_migrate_keeps_an_older_version),
        T(test_open_rejects_version_0),
        T(test_reg_get_corrupt_record_is_estore),
        T(test_expire_collects_corrupt_record),
        T(test_reg_put_full_map_is_efull_and_keeps_data),
        T(test_reg_put_rejects_invalid_input),
        T(test_reg_replace_rejects_invalid_input),
        T(test_reg_find_rejects_invalid_names),
        T(test_count_counts_live_and_expired),
        T(test_reg_put_allocates_the_data_file_ahead),
        T(test_check_finds_a_consistent_store_clean),
        T(test_check_reports_a_broken_index),
        T(test_info_reports_sizes),
        T(test_backup_copies_a_readable_store),
        T(test_rank_seek_agrees_with_a_naive_walk),
        T(test_rank_seek_agrees_with_a_naive_walk_in_batches),
        T(test_rank_seek_crosses_coarse_buckets),
        T(test_rank_seek_declines_without_weights_or_with_veto),
        T(test_check_reports_a_wrong_count),
        T(test_open_migrating_weighs_the_records),
        T(test_open_migrating_leaves_a_declined_record_unweighed),
        T(test_snap_open_reads_one_snapshot_while_the_store_changes),
        T(test_snap_open_refuses_writes_and_snapshots_of_itself),
        T(test_snap_open_reads_on_another_thread_beside_writes),
        T(test_snap_renew_moves_the_view_to_the_store_as_it_is),
#undef T
    };

    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
