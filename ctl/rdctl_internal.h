/* rdctl's private declarations, shared by its files. */
#ifndef RDCTL_INTERNAL_H
#define RDCTL_INTERNAL_H

#include <stddef.h>

/* Exit statuses, documented in rdctl(1). */
#define RDCTL_EXIT_OK      0 /* done */
#define RDCTL_EXIT_REFUSED 1 /* the RD answered with an error (4.xx, 5.xx) */
#define RDCTL_EXIT_USAGE   2 /* bad command line */
#define RDCTL_EXIT_NET     3 /* no answer, cannot resolve, DTLS failed */
#define RDCTL_EXIT_DATA    4 /* bad data: invalid records, store problems, unreadable files */

/** What ep, res and show print. */
enum rdctl_output {
    RDCTL_OUT_DEFAULT = 0, /**< ep and res: a table; show: link-format */
    RDCTL_OUT_TABLE,
    RDCTL_OUT_LINK_FORMAT,
    RDCTL_OUT_JSON,
};

/** Options every command shares. */
struct rdctl_opts {
    const char *server;   /**< CoAP URI of the RD */
    const char *data_dir; /**< for the offline commands */
    const char *psk_id;   /**< coaps:// with a pre-shared key */
    const char *psk_key;
    int json;                 /**< output == RDCTL_OUT_JSON */
    enum rdctl_output output; /**< -o / --output / --json */
    unsigned timeout_s;
    unsigned page_size;
};

/** rdctl export|import|backup|check: run command @p cmd. @return an exit status. */
int rdctl_offline(const struct rdctl_opts *o, const char *cmd, int argc, char **argv);

/** Read all of @p path ("-": stdin) into a new NUL-terminated buffer (free it).
 * @return 0 or -1 with errno. */
int rdctl_read_file(const char *path, char **out, size_t *len);

#endif
