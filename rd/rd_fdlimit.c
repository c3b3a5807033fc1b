/* The open files limit: connections past it are never accepted, so a listener whose bound is
 * above it stops answering once that many are open. */
#include <dirent.h>
#include <sys/resource.h>

#include "rd_fdlimit.h"
#include "rd_log.h"

/* Descriptors open now (the listing's own included, which a caller's next one reuses). */
static unsigned
open_now(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    if (!d) {
        return 0;
    }
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    /* . and .. */
    return n > 2 ? n - 2 : 0;
}

unsigned
rd__fdlimit_fit(struct rd_server *srv, const char *what, unsigned want)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)open_now() + RD_FDLIMIT_RESERVE + want;
    rlim_t had;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need) {
        return want;
    }
    had = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        rl.rlim_cur = had;
    } else if (rl.rlim_cur > had) {
        rd__log(srv, RD_LOG_INFO, "%s %u: open files limit raised from %llu to %llu", what, want,
                (unsigned long long)had, (unsigned long long)rl.rlim_cur);
    }
    if (rl.rlim_cur >= need) {
        return want;
    }
    need -= want;
    want = rl.rlim_cur > need ? (unsigned)(rl.rlim_cur - need) : 1;
    rd__log(srv, RD_LOG_WARN,
            "%s: the open files limit (%llu, hard %llu) leaves room for %u connections: more are "
            "turned away (raise ulimit -n, or LimitNOFILE in the systemd unit)",
            what, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, want);
    return want;
}
