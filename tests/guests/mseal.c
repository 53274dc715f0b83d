// SPDX-License-Identifier: Apache-2.0
//
// mseal(2) (issue 14): argument checks, unmapped ranges, and what a sealed range refuses
// (munmap, mprotect, mremap, MAP_FIXED over it, discarding read-only anonymous pages), in a
// forked child too; what it still allows (reads, writes, madvise of writable memory).

#include "guest.h"

#include <sys/mman.h>
#include <sys/wait.h>

#ifndef SYS_mseal
#define SYS_mseal 462
#endif

static long mseal(void *a, size_t len, unsigned long flags) {
    return syscall(SYS_mseal, a, len, flags);
}

int main(void) {
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap", p != MAP_FAILED);
    NOTE("arguments");
    EXPECT_ERRNO(mseal(p, pg, 1), EINVAL);
    EXPECT_ERRNO(mseal(p + 1, pg, 0), EINVAL);
    EXPECT_ERRNO(mseal(p, -1UL, 0), EINVAL);
    EXPECT_EQ(mseal(p, 0, 0), 0);
    char *hole = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole + pg, pg);
    EXPECT_ERRNO(mseal(hole, 3 * pg, 0), ENOMEM);
    EXPECT_ERRNO(mseal(p, 100 * pg, 0), ENOMEM);

    NOTE("a sealed range");
    EXPECT_OK(mseal(p + 2 * pg, 2 * pg, 0));
    EXPECT_ERRNO(munmap(p, 8 * pg), EPERM);
    EXPECT_ERRNO(mprotect(p + 2 * pg, pg, PROT_READ), EPERM);
    EXPECT_ERRNO(mprotect(p, 8 * pg, PROT_READ), EPERM);
    EXPECT_OK(mprotect(p, pg, PROT_READ));
    EXPECT_OK(munmap(p + 6 * pg, pg));
    CHECK("mremap refused",
          mremap(p + 2 * pg, pg, 4 * pg, MREMAP_MAYMOVE) == MAP_FAILED && errno == EPERM);
    CHECK("MAP_FIXED over it refused",
          mmap(p + 2 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                  MAP_FAILED &&
              errno == EPERM);
    p[2 * pg] = 7;
    EXPECT_EQ(p[2 * pg], 7);
    // Writable memory may still be discarded.
    EXPECT_OK(madvise(p + 2 * pg, pg, MADV_DONTNEED));
    EXPECT_OK(mseal(p + 2 * pg, 2 * pg, 0));

    NOTE("read-only anonymous memory, and a child");
    char *ro = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_OK(mseal(ro, 2 * pg, 0));
    EXPECT_ERRNO(madvise(ro, pg, MADV_DONTNEED), EPERM);
    EXPECT_OK(madvise(ro, pg, MADV_WILLNEED));
    pid_t pid = fork();
    if (pid == 0) {
        _exit(munmap(ro, pg) == -1 && errno == EPERM ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return guest_done();
}
