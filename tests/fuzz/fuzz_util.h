/* What the harnesses that run the real server share: a free loopback port and the removal of
 * their data directory. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

/** A loopback UDP port nobody uses right now. @return the port, or -1. */
int fuzz_free_port(void);

/** Remove @p dir and the files in it (a data directory holds no folders). */
void fuzz_remove_dir(const char *dir);

#endif
