// SPDX-License-Identifier: Apache-2.0
//
// Memory protection keys on a machine without them (issue 14): the sandbox declares no PKU
// (no `pku` in /proc/cpuinfo), so pkey_alloc and pkey_free are EINVAL and pkey_mprotect is
// mprotect for key -1 only. Natively this runs where the CPU has no PKU (the guest checks
// /proc/cpuinfo and says so when it has: then the native transcript would differ).

#include "guest.h"

#include <sys/mman.h>

int main(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int pku = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) == 0 && strstr(line, " pku")) {
            pku = 1;
        }
    }
    if (f) {
        fclose(f);
    }
    CHECK("no pku in /proc/cpuinfo", !pku);
    char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_ERRNO(syscall(SYS_pkey_alloc, 0, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pkey_alloc, 1, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pkey_free, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pkey_free, 1), EINVAL);
    EXPECT_OK(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1));
    EXPECT_ERRNO(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pkey_mprotect, p + 1, 4096, PROT_READ, 1), EINVAL);
    EXPECT_EQ(syscall(SYS_pkey_mprotect, p, 0, PROT_READ, 3), 0);
    EXPECT_ERRNO(syscall(SYS_pkey_mprotect, p, -4096UL, PROT_READ, 3), ENOMEM);
    return guest_done();
}
