/* The dashboard's static files, embedded into the binary at build time (rd/embed.cmake). */
#ifndef RD_DASHBOARD_H
#define RD_DASHBOARD_H

#include <stddef.h>

/** One embedded file. Everything is static data of the program. */
struct rd_dashboard_file {
    const char *path; /**< URL path, e.g. "/app.js" */
    const char *type; /**< Content-Type */
    const unsigned char *data;
    size_t len;
};

/** The embedded file served at @p path, or NULL. */
const struct rd_dashboard_file *rd__dashboard_find(const char *path);

#endif
