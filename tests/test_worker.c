/* Unit tests of the worker pool (rd_worker.c): its bounded queue, the hand-back of done jobs,
 * the wake-ups, parallel runs and what stopping does with jobs not run. Waits are on conditions
 * with deadlines, never fixed sleeps. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rd_status.h"
#include "rd_worker.h"

/* Longest wait for any condition: only a broken pool takes this long. */
#define DEADLINE_S 30

/* What the test and the jobs share, behind one lock. */
struct board {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wakes;   /* wake callbacks */
    int runs;    /* jobs run */
    int inside;  /* jobs that entered run() */
    int gate;    /* 0: gated jobs wait in run() */
    int dropped; /* jobs handed to drop() */
    int dropped_unrun;
};

struct test_job {
    struct rd_job job; /* first */
    struct board *b;
    int value;
    int result;
    int gated; /* wait in run() until the gate opens */
    int meet;  /* wait in run() until this many jobs are inside at once; then saw = 1 */
    int saw;
    int handed; /* how often the job came back (collect or drop) */
};

static struct board board;

static void
board_init(void)
{
    memset(&board, 0, sizeof(board));
    pthread_mutex_init(&board.mu, NULL);
    pthread_cond_init(&board.cv, NULL);
}

static void
board_cleanup(void)
{
    pthread_cond_destroy(&board.cv);
    pthread_mutex_destroy(&board.mu);
}

static struct timespec
deadline(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += DEADLINE_S;
    return ts;
}

/* Wait until *@p what reaches @p n; @return 0 when it did, -1 at the deadline. */
static int
wait_for(struct board *b, const int *what, int n)
{
    struct timespec until = deadline();
    int rc = 0;

    pthread_mutex_lock(&b->mu);
    while (*what < n && rc == 0) {
        rc = pthread_cond_timedwait(&b->cv, &b->mu, &until);
    }
    rc = *what >= n ? 0 : -1;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static void
run_fn(struct rd_job *job)
{
    struct test_job *t = (struct test_job *)job;
    struct board *b = t->b;
    struct timespec until = deadline();

    pthread_mutex_lock(&b->mu);
    b->inside++;
    pthread_cond_broadcast(&b->cv);
    while (t->gated && !b->gate) {
        if (pthread_cond_timedwait(&b->cv, &b->mu, &until)) {
            break;
        }
    }
    while (t->meet && b->inside < t->meet) {
        if (pthread_cond_timedwait(&b->cv, &b->mu, &until)) {
            break;
        }
    }
    t->saw = b->inside >= t->meet;
    t->result = t->value * 2;
    b->runs++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void
wake_fn(void *arg)
{
    struct board *b = arg;

    pthread_mutex_lock(&b->mu);
    b->wakes++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void
drop_fn(struct rd_job *job)
{
    struct test_job *t = (struct test_job *)job;

    t->handed++;
    board.dropped++;
    if (!job->ran) {
        board.dropped_unrun++;
    }
}

static void
job_init(struct test_job *t, int value)
{
    memset(t, 0, sizeof(*t));
    t->job.run = run_fn;
    t->b = &board;
    t->value = value;
}

/* Collect until @p n jobs came back (or the deadline); @return how many did. */
static int
collect_n(struct rd_workers *w, int n)
{
    int got = 0;

    while (got < n) {
        struct rd_job *list;

        if (wait_for(&board, &board.wakes, got + 1)) {
            break;
        }
        list = rd__workers_collect(w);
        for (; list; list = list->next) {
            ((struct test_job *)list)->handed++;
            got++;
        }
    }
    return got;
}

static void
test_workers_new_rejects_bad_counts(void **state)
{
    struct rd_workers *w = NULL;

    (void)state;
    assert_int_equal(rd__workers_new(0, 4, NULL, NULL, &w), RD_EINVAL);
    assert_int_equal(rd__workers_new(RD_WORKERS_MAX + 1, 4, NULL, NULL, &w), RD_EINVAL);
    assert_int_equal(rd__workers_new(1, 0, NULL, NULL, &w), RD_EINVAL);
    assert_null(w);
    rd__workers_free(NULL, NULL);
}

static void
test_workers_submit_runs_every_job_once_and_hands_it_back(void **state)
{
    struct rd_workers *w = NULL;
    struct test_job jobs[40];

    (void)state;
    board_init();
    assert_int_equal(rd__workers_new(4, 40, wake_fn, &board, &w), RD_OK);
    for (int i = 0; i < 40; i++) {
        job_init(&jobs[i], i);
        assert_int_equal(rd__workers_submit(w, &jobs[i].job), RD_OK);
    }
    assert_int_equal(collect_n(w, 40), 40);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(jobs[i].handed, 1);
        assert_int_equal(jobs[i].job.ran, 1);
        assert_int_equal(jobs[i].result, 2 * i);
    }
    assert_int_equal(board.runs, 40);
    /* One wake-up per job done, from the workers; a job is handed back before its wake-up, so
     * the last one may still be on its way. */
    assert_int_equal(wait_for(&board, &board.wakes, 40), 0);
    assert_int_equal(board.wakes, 40);
    assert_int_equal(rd__workers_pending(w), 0);
    assert_null(rd__workers_collect(w));
    rd__workers_free(w, drop_fn);
    assert_int_equal(board.dropped, 0);
    board_cleanup();
}

static void
test_workers_submit_refuses_past_max_jobs_until_collected(void **state)
{
    struct rd_workers *w = NULL;
    struct test_job jobs[4];

    (void)state;
    board_init();
    assert_int_equal(rd__workers_new(1, 3, wake_fn, &board, &w), RD_OK);
    for (int i = 0; i < 4; i++) {
        job_init(&jobs[i], i);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rd__workers_submit(w, &jobs[i].job), RD_OK);
    }
    /* Done jobs still count until collected: the bound holds whatever the workers did. */
    assert_int_equal(rd__workers_submit(w, &jobs[3].job), RD_EFULL);
    assert_int_equal(rd__workers_pending(w), 3);
    assert_int_equal(collect_n(w, 3), 3);
    assert_int_equal(rd__workers_pending(w), 0);
    assert_int_equal(rd__workers_submit(w, &jobs[3].job), RD_OK);
    assert_int_equal(collect_n(w, 1), 1);
    assert_int_equal(jobs[3].result, 6);
    rd__workers_free(w, drop_fn);
    board_cleanup();
}

static void
test_workers_run_jobs_in_parallel(void **state)
{
    struct rd_workers *w = NULL;
    struct test_job a;
    struct test_job b;

    (void)state;
    board_init();
    assert_int_equal(rd__workers_new(2, 8, wake_fn, &board, &w), RD_OK);
    /* Each waits in run() until the other entered it too: only two threads at once let both
     * meet before their deadline. */
    job_init(&a, 1);
    job_init(&b, 2);
    a.meet = 2;
    b.meet = 2;
    assert_int_equal(rd__workers_submit(w, &a.job), RD_OK);
    assert_int_equal(rd__workers_submit(w, &b.job), RD_OK);
    assert_int_equal(collect_n(w, 2), 2);
    assert_int_equal(a.saw, 1);
    assert_int_equal(b.saw, 1);
    rd__workers_free(w, drop_fn);
    board_cleanup();
}

static void
test_workers_free_hands_back_every_job_once_unrun_ones_marked(void **state)
{
    struct rd_workers *w = NULL;
    struct test_job jobs[6];
    int back = 0;

    (void)state;
    board_init();
    assert_int_equal(rd__workers_new(1, 8, NULL, NULL, &w), RD_OK);
    for (int i = 0; i < 6; i++) {
        job_init(&jobs[i], i);
    }
    /* The first job holds the only thread: the others wait in the queue. */
    jobs[0].gated = 1;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rd__workers_submit(w, &jobs[i].job), RD_OK);
    }
    assert_int_equal(wait_for(&board, &board.inside, 1), 0);
    pthread_mutex_lock(&board.mu);
    board.gate = 1;
    pthread_cond_broadcast(&board.cv);
    pthread_mutex_unlock(&board.mu);
    rd__workers_free(w, drop_fn);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(jobs[i].handed, 1);
        back += jobs[i].handed;
    }
    /* A job handed back unrun was never run: its result stayed 0. */
    for (int i = 1; i < 6; i++) {
        assert_int_equal(jobs[i].job.ran, jobs[i].result == 2 * i);
    }
    assert_int_equal(back, 6);
    assert_int_equal(jobs[0].job.ran, 1);
    assert_int_equal(board.dropped, 6);
    assert_int_equal(board.dropped_unrun, 6 - board.runs);
    board_cleanup();
}

static void
test_workers_default_is_at_least_one(void **state)
{
    (void)state;
    assert_true(rd__workers_default() >= 1);
    assert_true(rd__workers_default() <= RD_WORKERS_MAX);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_new_rejects_bad_counts),
        cmocka_unit_test(test_workers_submit_runs_every_job_once_and_hands_it_back),
        cmocka_unit_test(test_workers_submit_refuses_past_max_jobs_until_collected),
        cmocka_unit_test(test_workers_run_jobs_in_parallel),
        cmocka_unit_test(test_workers_free_hands_back_every_job_once_unrun_ones_marked),
        cmocka_unit_test(test_workers_default_is_at_least_one),
    };

    return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}
