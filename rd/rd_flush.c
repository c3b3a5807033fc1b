/* The periodic flush of `sync periodic`, on a thread of its own.
 *
 * A flush writes back a whole interval of commits and waits for the disk: tens of
 * milliseconds under load, during which the event loop would answer nobody. Commits have
 * already reached the page cache when they are acknowledged, so the flush only guards against
 * power failure and can run beside the loop; the loop asks for one each interval and hears of
 * failures. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "rd_conf.h"
#include "rd_flush.h"
#include "rd_log.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

struct rd_flusher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store *store;
    int requested;
    int stop;
    int failed;
    char err[256];
};

static void *
flush_main(void *arg)
{
    struct rd_flusher *f = arg;
    char err[256];

    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->requested && !f->stop) {
            pthread_cond_wait(&f->cv, &f->mu);
        }
        if (f->stop) {
            break;
        }
        f->requested = 0;
        pthread_mutex_unlock(&f->mu);
        err[0] = '\0';
        int rc = store_flush(f->store, err, sizeof(err));
        pthread_mutex_lock(&f->mu);
        if (rc) {
            f->failed = 1;
            memcpy(f->err, err, sizeof(err));
        }
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int
rd__flusher_start(struct rd_server *srv)
{
    struct rd_flusher *f = calloc(1, sizeof(*f));
    sigset_t all;
    sigset_t old;
    int rc;

    if (!f) {
        return RD_ENOMEM;
    }
    f->store = srv->store;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    /* The thread starts with every signal blocked, so SIGTERM, SIGINT and SIGHUP always reach
     * the loop's thread, which acts on them at once. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&f->thread, NULL, flush_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return RD_ENOMEM;
    }
    srv->flusher = f;
    return RD_OK;
}

void
rd__flusher_request(struct rd_server *srv)
{
    struct rd_flusher *f = srv->flusher;
    char err[256] = "";
    int failed;

    pthread_mutex_lock(&f->mu);
    f->requested = 1;
    failed = f->failed;
    if (failed) {
        memcpy(err, f->err, sizeof(err));
        f->failed = 0;
    }
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (failed) {
        rd__log(srv, RD_LOG_ERROR, "%s", err);
    }
}

void
rd__flusher_stop(struct rd_server *srv)
{
    struct rd_flusher *f = srv->flusher;

    if (!f) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    srv->flusher = NULL;
}
