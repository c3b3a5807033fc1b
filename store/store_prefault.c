/* The map written ahead of LMDB's high-water mark (MDB_WRITEMAP only).
 *
 * store__write_begin() keeps the data file allocated ahead of use, so the first touch of a
 * page LMDB takes faulted: the kernel read (zeroed) the page of the unwritten extent, then ran
 * the filesystem's page_mkwrite, about 6 % of a registration, most of it under the commit's
 * page allocation. Asking the kernel to populate the page tables for writing, a stretch at a
 * time, does the same work without the faults. A stretch is 64 pages: well under a
 * millisecond of the loop. LMDB does not say where it mapped the file, so the mapping is found
 * in /proc/self/maps by the file's device and inode; when it cannot be, nothing is done. */
#define _DEFAULT_SOURCE /* madvise(), major(), minor() */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <lmdb.h>

#include "store_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels refuse it, and we stop asking */
#endif

#define PREFAULT_AHEAD ((uint64_t)1 << 20)
#define PREFAULT_STEP  ((uint64_t)256 << 10)
#define PAGE_MASK_4K   ((uint64_t)4095)

void
store__prefault_init(struct store *st, int fd)
{
    struct stat sb;
    char line[512];
    FILE *f;

    st->map = NULL;
    st->populated = 0;
    if (fstat(fd, &sb) != 0) {
        return;
    }
    f = fopen("/proc/self/maps", "r");
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long start;
        unsigned long end;
        unsigned long long off;
        unsigned int maj;
        unsigned int min;
        unsigned long long ino;
        char perms[8];

        if (sscanf(line, "%lx-%lx %7s %llx %x:%x %llu", &start, &end, perms, &off, &maj, &min,
                   &ino) == 7 &&
            ino == (unsigned long long)sb.st_ino && maj == major(sb.st_dev) &&
            min == minor(sb.st_dev) && off == 0 && perms[1] == 'w' && perms[3] == 's') {
            st->map = (unsigned char *)(uintptr_t)start;
            break;
        }
    }
    fclose(f);
}

void
store__prefault(struct store *st, uint64_t used)
{
    uint64_t from = st->populated > used ? st->populated : used;
    uint64_t to = from + PREFAULT_STEP;

    if (!st->map || st->populated >= used + PREFAULT_AHEAD) {
        return;
    }
    if (to > st->allocated) {
        to = st->allocated;
    }
    from &= ~PAGE_MASK_4K;
    if (to <= from) {
        return;
    }
    if (madvise(st->map + from, (size_t)(to - from), MADV_POPULATE_WRITE) != 0) {
        st->map = NULL;
        return;
    }
    st->populated = to;
}
