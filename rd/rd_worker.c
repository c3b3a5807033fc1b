/* A pool of worker threads with one bounded job queue (work kept off the I/O loop). */
#define _GNU_SOURCE /* syscall(SYS_gettid) */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rd_status.h"
#include "rd_worker.h"

struct rd_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv; /**< signalled when a job waits, or at stop */
    struct rd_job *wait_head;
    struct rd_job *wait_tail;
    struct rd_job *done_head;
    struct rd_job *done_tail;
    size_t pending; /**< waiting + running + done, not collected */
    size_t max_jobs;
    int stop;
    rd_workers_wake_fn *wake;
    void *wake_arg;
    size_t nthreads; /**< started */
    pthread_t threads[RD_WORKERS_MAX];
};

static void
push(struct rd_job **head, struct rd_job **tail, struct rd_job *job)
{
    job->next = NULL;
    if (*tail) {
        (*tail)->next = job;
    } else {
        *head = job;
    }
    *tail = job;
}

static struct rd_job *
pop(struct rd_job **head, struct rd_job **tail)
{
    struct rd_job *job = *head;

    if (job) {
        *head = job->next;
        if (!*head) {
            *tail = NULL;
        }
        job->next = NULL;
    }
    return job;
}

/* Where workers and the loop want the same core, the loop (which answers pings and
 * registrations in microseconds) should get it at once. Under SCHED_IDLE a worker gives the core
 * up the moment the loop wakes; at a nice value it ran on until its slice ended, up to a few
 * milliseconds per wake-up. Measured at N = 100,000 with 8 clients of full walks
 * (bench/results.md, isolation): registrations kept 84 % of their rate (nice 10: 66 %), p99
 * 2.8 ms (8.7 ms), and the workers answered more lookups. A preempted worker holds its snapshot
 * longer, so writes take fresh pages meanwhile; with the data file read without read-ahead
 * (store.c) that costs less than the wait did. A system that refuses SCHED_IDLE gets the nice
 * value. */
static void
lower_priority(void)
{
    struct sched_param sp;

    memset(&sp, 0, sizeof(sp));
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0) {
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), RD_WORKERS_NICE);
    }
}

static void *
worker_main(void *arg)
{
    struct rd_workers *w = arg;
    struct rd_job *job;

    lower_priority();
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->wait_head && !w->stop) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->stop) {
            break;
        }
        job = pop(&w->wait_head, &w->wait_tail);
        pthread_mutex_unlock(&w->mu);
        job->run(job);
        job->ran = 1;
        pthread_mutex_lock(&w->mu);
        push(&w->done_head, &w->done_tail, job);
        /* Woken outside the lock: the wake-up may be a system call. */
        pthread_mutex_unlock(&w->mu);
        if (w->wake) {
            w->wake(w->wake_arg);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Stop and join the threads started; the queues are left as they are. */
static void
join_all(struct rd_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->nthreads; i++) {
        pthread_join(w->threads[i], NULL);
    }
    w->nthreads = 0;
}

int
rd__workers_new(size_t nthreads, size_t max_jobs, rd_workers_wake_fn *wake, void *wake_arg,
                struct rd_workers **out)
{
    struct rd_workers *w;
    sigset_t all;
    sigset_t old;
    int rc = RD_OK;

    if (nthreads < 1 || nthreads > RD_WORKERS_MAX || max_jobs < 1) {
        return RD_EINVAL;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        return RD_ENOMEM;
    }
    w->max_jobs = max_jobs;
    w->wake = wake;
    w->wake_arg = wake_arg;
    if (pthread_mutex_init(&w->mu, NULL)) {
        free(w);
        return RD_ENOMEM;
    }
    if (pthread_cond_init(&w->cv, NULL)) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return RD_ENOMEM;
    }
    /* Signals (SIGHUP, SIGTERM) belong to the loop's thread: the workers block them all. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (size_t i = 0; i < nthreads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w)) {
            rc = RD_ENOMEM;
            break;
        }
        w->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        rd__workers_free(w, NULL);
        return rc;
    }
    *out = w;
    return RD_OK;
}

int
rd__workers_submit(struct rd_workers *w, struct rd_job *job)
{
    int rc = RD_OK;

    pthread_mutex_lock(&w->mu);
    if (w->pending >= w->max_jobs) {
        rc = RD_EFULL;
    } else {
        job->ran = 0;
        push(&w->wait_head, &w->wait_tail, job);
        w->pending++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

struct rd_job *
rd__workers_collect(struct rd_workers *w)
{
    struct rd_job *list;
    size_t n = 0;

    pthread_mutex_lock(&w->mu);
    list = w->done_head;
    w->done_head = NULL;
    w->done_tail = NULL;
    for (const struct rd_job *j = list; j; j = j->next) {
        n++;
    }
    w->pending -= n;
    pthread_mutex_unlock(&w->mu);
    return list;
}

size_t
rd__workers_pending(struct rd_workers *w)
{
    size_t n;

    pthread_mutex_lock(&w->mu);
    n = w->pending;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void
rd__workers_free(struct rd_workers *w, void (*drop)(struct rd_job *job))
{
    struct rd_job *job;

    if (!w) {
        return;
    }
    join_all(w);
    /* No thread is left: the queues are this thread's alone. */
    for (;;) {
        job = pop(&w->done_head, &w->done_tail);
        if (!job) {
            job = pop(&w->wait_head, &w->wait_tail);
        }
        if (!job) {
            break;
        }
        if (drop) {
            drop(job);
        }
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

size_t
rd__workers_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1) {
        return 1;
    }
    return n > RD_WORKERS_MAX ? RD_WORKERS_MAX : (size_t)n;
}
