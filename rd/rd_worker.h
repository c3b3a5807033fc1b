/* A pool of worker threads for work that must not hold up the I/O loop (expensive lookups).
 *
 * The pool knows nothing of CoAP or of the server: it runs jobs and hands them back. A job is
 * self-contained: the thread that submits it (the loop) must not touch it until it comes back
 * from rd__workers_collect(), and the worker reads and writes nothing but the job. The two
 * queues (waiting, done) are the only shared state, each behind the pool's mutex. */
#ifndef RD_WORKER_H
#define RD_WORKER_H

#include <stddef.h>

struct rd_job;

/** Runs a job on a worker thread; writes its result into the job. */
typedef void rd_job_fn(struct rd_job *job);

/** Tells the submitting thread that done jobs wait for rd__workers_collect(). Called on a worker
 * thread, without the pool's lock: it must be thread-safe (e.g. rd__loop_notify()). */
typedef void rd_workers_wake_fn(void *arg);

/** The pool's part of a job: embed it (first) in the job's own struct. */
struct rd_job {
    struct rd_job *next; /**< the pool's: a job is on one queue at a time */
    rd_job_fn *run;      /**< set by the submitter */
    int ran;             /**< written by the pool: 1 when run, 0 when handed back unrun (stop) */
};

struct rd_workers;

/**
 * Start @p nthreads worker threads (1 to RD_WORKERS_MAX, under SCHED_IDLE, or at nice
 * RD_WORKERS_NICE where the system refuses it) taking at most @p max_jobs jobs at a time (waiting and running; at least 1), calling @p wake after each job is
 * done.
 *
 * @param out Written with the pool on success; release it with rd__workers_free().
 * @return RD_OK; RD_EINVAL (a count out of range); RD_ENOMEM (threads or memory).
 */
int rd__workers_new(size_t nthreads, size_t max_jobs, rd_workers_wake_fn *wake, void *wake_arg,
                    struct rd_workers **out);

/** Most worker threads of one pool. */
#define RD_WORKERS_MAX 64

/** The nice value of the worker threads (Linux: per thread) where SCHED_IDLE is refused: below
 * the submitting thread's priority, so that it keeps a core the workers also want. */
#define RD_WORKERS_NICE 10

/**
 * Hand @p job (its run set) to the pool. From now on it belongs to the pool until
 * rd__workers_collect() returns it.
 *
 * @return RD_OK; RD_EFULL when max_jobs are in the pool (the job stays the caller's).
 */
int rd__workers_submit(struct rd_workers *w, struct rd_job *job);

/**
 * Take the jobs done since the last call, in the order they finished: a list linked through
 * job->next (NULL when none). They are the caller's again.
 */
struct rd_job *rd__workers_collect(struct rd_workers *w);

/** Jobs in the pool: waiting, running or done but not collected. */
size_t rd__workers_pending(struct rd_workers *w);

/**
 * Stop the pool: the jobs running finish, those still waiting are not run (ran = 0); then the
 * threads are joined. Every job not collected yet is passed to @p drop (may be NULL) on the
 * calling thread before the pool is freed. Accepts NULL.
 */
void rd__workers_free(struct rd_workers *w, void (*drop)(struct rd_job *job));

/** The number of online cores, at least 1 (the default of the `workers` directive). */
size_t rd__workers_default(void);

#endif
