// SPDX-License-Identifier: Apache-2.0
//
// Bad pointers give EFAULT and unknown system calls give ENOSYS: nothing a program passes may
// crash the kernel (DESIGN.md invariant 4). Raw system calls throughout, so that libc neither
// checks the arguments first nor touches the memory itself.

#include "guest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

// Addresses that are never mapped: the zero page, a low address, a non-canonical one, and
// the kernel's half.
static const uintptr_t bad[] = {0x0, 0x1, 0x1000, 0x0000800000000000ull, 0xffffffff81000000ull};
#define NBAD (sizeof bad / sizeof bad[0])

static void test_io(void) {
    NOTE("read, write, readv, writev, pread, pwrite");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    int p[2];
    EXPECT_OK(pipe(p));
    for (size_t i = 0; i < NBAD; i++) {
        void *b = (void *)bad[i];
        NOTE("address %zu", i);
        EXPECT_ERRNO(syscall(SYS_read, fd, b, 10), EFAULT);
        EXPECT_ERRNO(syscall(SYS_pread64, fd, b, 10, 0), EFAULT);
        EXPECT_ERRNO(syscall(SYS_write, p[1], b, 10), EFAULT);
        EXPECT_ERRNO(syscall(SYS_pwrite64, p[1], b, 10, 0), ESPIPE);
        EXPECT_ERRNO(syscall(SYS_readv, fd, b, 1), EFAULT);
        EXPECT_ERRNO(syscall(SYS_writev, p[1], b, 1), EFAULT);
        struct iovec iov = {b, 10};
        EXPECT_ERRNO(syscall(SYS_readv, fd, &iov, 1), EFAULT);
        EXPECT_ERRNO(syscall(SYS_writev, p[1], &iov, 1), EFAULT);
    }
    // A huge iovec over unmapped memory: EFAULT at once (the sandbox once gathered 2 GiB first;
    // tests/tests/limits.rs checks what the sentry holds while this runs).
    struct iovec huge = {(void *)0x1000, 1ul << 31};
    EXPECT_ERRNO(syscall(SYS_writev, p[1], &huge, 1), EFAULT);
    struct iovec huge2[2] = {{(void *)0x1000, 1ul << 30}, {(void *)0x2000, 1ul << 30}};
    EXPECT_ERRNO(syscall(SYS_writev, p[1], huge2, 2), EFAULT);
    // A zero-length transfer does not touch the buffer.
    EXPECT_EQ(syscall(SYS_read, fd, NULL, 0), 0);
    EXPECT_EQ(syscall(SYS_write, p[1], NULL, 0), 0);
    // The bad fd is found before the bad buffer.
    EXPECT_ERRNO(syscall(SYS_read, 999, NULL, 10), EBADF);
    EXPECT_ERRNO(syscall(SYS_write, 999, NULL, 10), EBADF);
    // Nothing was written by the failed writes.
    EXPECT_OK(fcntl(p[0], F_SETFL, O_NONBLOCK));
    char c;
    EXPECT_ERRNO(read(p[0], &c, 1), EAGAIN);

    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));
    EXPECT_OK(close(fd));
}

static void test_paths(void) {
    NOTE("path arguments");
    for (size_t i = 0; i < NBAD; i++) {
        const char *b = (const char *)bad[i];
        NOTE("address %zu", i);
        char buf[64];
        EXPECT_ERRNO(syscall(SYS_open, b, O_RDONLY), EFAULT);
        EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, b, O_RDONLY), EFAULT);
        EXPECT_ERRNO(syscall(SYS_stat, b, buf), EFAULT);
        EXPECT_ERRNO(syscall(SYS_lstat, b, buf), EFAULT);
        EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, b, buf, 0), EFAULT);
        EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, b, 0, 0x7ff, buf), EFAULT);
        EXPECT_ERRNO(syscall(SYS_access, b, F_OK), EFAULT);
        EXPECT_ERRNO(syscall(SYS_faccessat, AT_FDCWD, b, F_OK), EFAULT);
        EXPECT_ERRNO(syscall(SYS_readlink, b, buf, sizeof buf), EFAULT);
        EXPECT_ERRNO(syscall(SYS_chdir, b), EFAULT);
    }
}

static void test_out_pointers(void) {
    NOTE("result pointers");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    int dir = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    long page = sysconf(_SC_PAGESIZE);
    void *mapped = EXPECT_OK(mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    // NULL means "no result wanted" to many calls, so it is tried only where it is an error.
    EXPECT_ERRNO(syscall(SYS_fstat, fd, NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_stat, "/etc/passwd", NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_uname, NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_sysinfo, NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_pipe, NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_getcwd, NULL, 64), EFAULT);
    EXPECT_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_nanosleep, NULL, NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_getdents64, dir, NULL, 4096), EFAULT);
    for (size_t i = 1; i < NBAD; i++) {
        void *b = (void *)bad[i];
        NOTE("address %zu", i);
        EXPECT_ERRNO(syscall(SYS_fstat, fd, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_stat, "/etc/passwd", b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", b, 0), EFAULT);
        EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, "/etc/passwd", 0, 0x7ff, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_getdents64, dir, b, 4096), EFAULT);
        EXPECT_ERRNO(syscall(SYS_readlink, "/bin", b, 64), EFAULT);
        EXPECT_ERRNO(syscall(SYS_getcwd, b, 64), EFAULT);
        EXPECT_ERRNO(syscall(SYS_pipe, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_pipe2, b, 0), EFAULT);
        EXPECT_ERRNO(syscall(SYS_uname, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_sysinfo, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_clock_getres, CLOCK_MONOTONIC, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_gettimeofday, b, NULL), EFAULT);
        EXPECT_ERRNO(syscall(SYS_getrandom, b, 8, 0), EFAULT);
        EXPECT_ERRNO(syscall(SYS_getrlimit, 7, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_prlimit64, 0, 7, NULL, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_prlimit64, 0, 7, b, NULL), EFAULT);
        EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 128, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, b, NULL, 8), EFAULT);
        EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR1, NULL, b, 8), EFAULT);
        EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, b, NULL, 8), EFAULT);
        EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, b, 8), EFAULT);
        EXPECT_ERRNO(syscall(SYS_nanosleep, b, NULL), EFAULT);
        EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, b, NULL), EFAULT);
        EXPECT_ERRNO(syscall(SYS_ioctl, fd, FIONREAD, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_mincore, mapped, page, b), EFAULT);
        EXPECT_ERRNO(syscall(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, b), EFAULT);
    }
    // A valid stack buffer after all that: the kernel state is fine.
    char cwd[64];
    EXPECT_EQ(syscall(SYS_getcwd, cwd, sizeof cwd), 2);
    EXPECT_OK(munmap(mapped, page));
    EXPECT_OK(close(dir));
    EXPECT_OK(close(fd));
}

static void test_enosys(void) {
    NOTE("unknown system calls");
    EXPECT_ERRNO(syscall(1000), ENOSYS);
    EXPECT_ERRNO(syscall(500), ENOSYS);
    EXPECT_ERRNO(syscall(100000), ENOSYS);
    EXPECT_ERRNO(syscall(-1), ENOSYS);
    EXPECT_ERRNO(syscall(0x7fffffff, 1, 2, 3, 4, 5, 6), ENOSYS);
    // x32 system calls (bit 30) are not for 64-bit programs.
    EXPECT_ERRNO(syscall(0x40000000 | SYS_getpid), ENOSYS);
    // And everything still works afterwards.
    EXPECT_GT(getpid(), 0);
}

int main(void) {
    test_io();
    test_paths();
    test_out_pointers();
    test_enosys();
    return guest_done();
}
