/* libFuzzer harness: a watch stream of etcd's JSON gateway, cut into messages and parsed, in
 * pieces split where the input's first byte says; every registration value is decoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_msg(void *arg, const char *msg, size_t len)
{
    struct cluster_watch_msg m;
    struct cluster_value v;

    (void)arg;
    if (cluster_watch_msg_parse(msg, len, &m) == RD_OK) {
        for (size_t i = 0; i < m.nevents; i++) {
            if (m.events[i].kv.value[m.events[i].kv.value_len] != '\0') {
                abort();
            }
            cluster_value_decode(m.events[i].kv.value, m.events[i].kv.value_len, &v);
        }
    }
    cluster_watch_msg_cleanup(&m);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cluster_stream s = { 0 };
    size_t cut;

    if (size == 0) {
        return 0;
    }
    cut = data[0] % size;
    s.max = 4096;
    if (cluster_stream_feed(&s, data + 1, cut ? cut - 1 : 0, on_msg, NULL) == RD_OK) {
        cluster_stream_feed(&s, data + (cut ? cut : 1), size - (cut ? cut : 1), on_msg, NULL);
    }
    cluster_stream_cleanup(&s);
    return 0;
}
