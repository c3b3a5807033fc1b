#!/bin/sh
# Checks the module layering: lookup/ uses libc and include/ only; store/ never sees CoAP or
# link-format and no LMDB type leaves it; only rd/ (server) and ctl/ (rdctl, a client) talk
# CoAP, and ctl/ reaches the store only through include/store.h.
top=${1:-.}
fail=0
bad() { echo "layering: $*"; fail=1; }

grep -n '#include' "$top"/lookup/*.c | grep -E 'coap|lmdb|store\.h|rd\.h|rd_' && bad "lookup/ must use only libc and include/"
grep -n '#include' "$top"/store/*.c "$top"/store/*.h | grep -E 'coap|lookup\.h|rd\.h|rd_' && bad "store/ must not know CoAP or lookup/"
grep -nE 'MDB_|lmdb\.h' "$top"/include/*.h && bad "no LMDB type or header in a public header"
grep -n '#include' "$top"/include/*.h | grep -E 'coap' && bad "public headers must not include libcoap"
grep -nE '(^|[^a-z_])time\(|clock_gettime|gettimeofday' "$top"/lookup/*.c "$top"/store/*.c && bad "only rd/ reads the clock"
grep -n '#include' "$top"/rd/*.c "$top"/rd/compat/*.c | grep -E '<coap3/[a-z_]+\.h>' | grep -v 'coap3/coap.h' && bad "include only <coap3/coap.h>"
grep -n '#include' "$top"/ctl/*.c "$top"/ctl/*.h | grep -E 'lmdb|_internal\.h"' | grep -v rdctl_internal && bad "ctl/ uses only the public headers of store/ and lookup/"
grep -n '#include' "$top"/cluster/*.c | grep -E 'coap|lmdb|store\.h|lookup\.h|rd\.h|rd_internal' && bad "cluster/ knows neither CoAP nor the store nor lookup/"
grep -nE '(^|[^a-z_])time\(|clock_gettime|gettimeofday' "$top"/cluster/*.c && bad "only rd/ reads the clock"
grep -l '"rd_server.h"' "$top"/rd/*.h "$top"/rd/compat/*.h && bad "struct rd_server is seen by the .c files that use it, never through another header"
grep -n '#include' "$top"/rd/compat/*.c "$top"/rd/compat/*.h | grep -E '"\.\./|rd_server\.h' && bad "compat/ reaches the server only through struct rd_gate_policy"
[ "$fail" = 0 ] && echo "layering: ok"
exit $fail
