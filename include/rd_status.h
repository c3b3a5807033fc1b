/* Status codes shared by every module of core-rd. */
#ifndef RD_STATUS_H
#define RD_STATUS_H

/**
 * Result of any core-rd function that can fail: RD_OK or one negative code.
 * Foreign error codes (LMDB, libcoap, errno) are translated where they enter.
 */
enum rd_status {
    RD_OK = 0,
    RD_ENOMEM = -1,    /* allocation failed */
    RD_EINVAL = -2,    /* malformed input: query, link-format, config */
    RD_ENOTFOUND = -3, /* no such registration */
    RD_ECONFLICT = -4, /* operation clashes with existing state */
    RD_ETOOBIG = -5,   /* result would exceed the caller's limit */
    RD_ESTORE = -6,    /* persistence failed; store_errmsg() has the detail */
    RD_EFULL = -7,     /* the store has no room left (map full) */
};

/**
 * Describe a status code.
 *
 * @return A static string; never NULL.
 */
static inline const char *
rd_strerror(int rc)
{
    switch (rc) {
    case RD_OK:
        return "ok";
    case RD_ENOMEM:
        return "out of memory";
    case RD_EINVAL:
        return "invalid input";
    case RD_ENOTFOUND:
        return "not found";
    case RD_ECONFLICT:
        return "conflict";
    case RD_ETOOBIG:
        return "too big";
    case RD_ESTORE:
        return "store failure";
    case RD_EFULL:
        return "store full";
    default:
        return "unknown error";
    }
}

#endif
