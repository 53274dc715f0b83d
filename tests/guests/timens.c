// SPDX-License-Identifier: Apache-2.0
//
// Time namespaces (issue 14): unshare(CLONE_NEWTIME) makes a namespace for the caller's
// children, /proc/self/timens_offsets sets its CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets until
// a process enters it (then EACCES), a child reads its clocks moved by them (through the vDSO
// and the system call alike, RAW and COARSE with MONOTONIC), absolute deadlines (timerfd,
// clock_nanosleep) are on the namespace's clocks, setns joins one, clone3 makes one, and
// /proc/[pid]/ns/time{,_for_children} name them. Needs root (CAP_SYS_ADMIN, CAP_SYS_TIME).

#include "guest.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif

static long long ms_of(clockid_t c, int raw) {
    struct timespec t;
    if (raw) {
        syscall(SYS_clock_gettime, c, &t);
    } else {
        clock_gettime(c, &t);
    }
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

// Seconds, rounded, between two millisecond readings.
static long long secs(long long later, long long earlier) {
    long long d = later - earlier;
    return d >= 0 ? (d + 500) / 1000 : -((-d + 500) / 1000);
}

static void link_of(const char *path, char *out, size_t n) {
    ssize_t r = readlink(path, out, n - 1);
    out[r > 0 ? r : 0] = 0;
}

static int write_at0(int fd, const char *text) {
    lseek(fd, 0, SEEK_SET);
    return write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
}

static void read_at0(int fd, char *buf, size_t n) {
    lseek(fd, 0, SEEK_SET);
    ssize_t r = read(fd, buf, n - 1);
    buf[r > 0 ? r : 0] = 0;
}

static struct timespec plus_ms(struct timespec t, long ms) {
    t.tv_nsec += ms * 1000000L;
    while (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void child_clocks(long long mono0, long long boot0) {
    // Offsets: MONOTONIC +100 s, BOOTTIME -7 s (and 500 ns).
    long long m = ms_of(CLOCK_MONOTONIC, 0), ms = ms_of(CLOCK_MONOTONIC, 1);
    long long raw = ms_of(CLOCK_MONOTONIC_RAW, 1), coarse = ms_of(CLOCK_MONOTONIC_COARSE, 0);
    long long b = ms_of(CLOCK_BOOTTIME, 0), bs = ms_of(CLOCK_BOOTTIME, 1);
    EXPECT_EQ(secs(m, mono0), 100);
    EXPECT_EQ(secs(ms, mono0), 100);
    EXPECT_GE(secs(raw, mono0), 99);
    EXPECT_EQ(secs(coarse, mono0), 100);
    EXPECT_EQ(secs(b, boot0), -7);
    EXPECT_EQ(secs(bs, boot0), -7);
    char own[64], kids[64];
    link_of("/proc/self/ns/time", own, sizeof own);
    link_of("/proc/self/ns/time_for_children", kids, sizeof kids);
    CHECK("a child is in its parent's namespace for children", strcmp(own, kids) == 0);

    // An absolute timerfd 50 ms ahead on the namespace's clock fires in about 50 ms.
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec its = {{0, 0}, plus_ms(now, 50)};
    int tfd = EXPECT_OK(timerfd_create(CLOCK_MONOTONIC, 0));
    long long t0 = ms_of(CLOCK_MONOTONIC, 0);
    EXPECT_OK(timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL));
    uint64_t n = 0;
    EXPECT_EQ(read(tfd, &n, sizeof n), 8);
    EXPECT_EQ(n, 1);
    long long dt = ms_of(CLOCK_MONOTONIC, 0) - t0;
    CHECK("an absolute timerfd fires on the namespace's clock", dt >= 40 && dt < 2000);
    close(tfd);
    clock_gettime(CLOCK_BOOTTIME, &now);
    now = plus_ms(now, 30);
    t0 = ms_of(CLOCK_BOOTTIME, 0);
    EXPECT_EQ(clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, &now, NULL), 0);
    dt = ms_of(CLOCK_BOOTTIME, 0) - t0;
    CHECK("an absolute clock_nanosleep ends on the namespace's clock", dt >= 25 && dt < 2000);
}

static void test_offsets(void) {
    NOTE("unshare(CLONE_NEWTIME) and timens_offsets");
    char own[64], kids[64], before[64];
    link_of("/proc/self/ns/time", before, sizeof before);
    CHECK("the initial namespace is time:[4026531834]", strcmp(before, "time:[4026531834]") == 0);
    EXPECT_OK(unshare(CLONE_NEWTIME));
    link_of("/proc/self/ns/time", own, sizeof own);
    link_of("/proc/self/ns/time_for_children", kids, sizeof kids);
    CHECK("the caller stays in its namespace", strcmp(own, before) == 0);
    CHECK("its children get a new one", strcmp(own, kids) != 0 && strncmp(kids, "time:[", 6) == 0);

    int fd = EXPECT_OK(open("/proc/self/timens_offsets", O_RDWR));
    char buf[256];
    read_at0(fd, buf, sizeof buf);
    EXPECT_STREQ(buf, "monotonic           0         0\nboottime            0         0\n");
    EXPECT_OK(write_at0(fd, "1 100 0\nboottime -7 500\n"));
    read_at0(fd, buf, sizeof buf);
    EXPECT_STREQ(buf, "monotonic         100         0\nboottime           -7       500\n");
    EXPECT_ERRNO(write_at0(fd, "0 1 0"), EINVAL);
    EXPECT_ERRNO(write_at0(fd, "1 1 1000000000"), EINVAL);
    EXPECT_ERRNO(write_at0(fd, "1 -100000000000 0"), ERANGE);
    read_at0(fd, buf, sizeof buf); // the file offset is now past the start
    EXPECT_ERRNO(write(fd, "1 1 0", 5), EINVAL); // writes only at offset 0

    long long mono0 = ms_of(CLOCK_MONOTONIC, 0), boot0 = ms_of(CLOCK_BOOTTIME, 0);
    pid_t pid = fork();
    if (pid == 0) {
        child_clocks(mono0, boot0);
        _exit(guest_failures ? 1 : 0);
    }
    int st = 0;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("the child's checks passed", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK("the caller's clock did not move", secs(ms_of(CLOCK_MONOTONIC, 0), mono0) < 5);
    EXPECT_ERRNO(write_at0(fd, "1 1 0"), EACCES);

    NOTE("setns into the children's namespace");
    int nfd = EXPECT_OK(open("/proc/self/ns/time_for_children", O_RDONLY));
    EXPECT_OK(setns(nfd, CLONE_NEWTIME));
    EXPECT_EQ(secs(ms_of(CLOCK_MONOTONIC, 0), mono0), 100);
    EXPECT_EQ(secs(ms_of(CLOCK_MONOTONIC, 1), mono0), 100);
    link_of("/proc/self/ns/time", own, sizeof own);
    CHECK("the caller is in the namespace it joined", strcmp(own, kids) == 0);
    link_of("/proc/self/ns/time_for_children", own, sizeof own);
    CHECK("and so are its children", strcmp(own, kids) == 0);
    EXPECT_ERRNO(setns(nfd, CLONE_NEWNS), EINVAL);
    close(nfd);
    close(fd);
}

static void test_clone3(void) {
    NOTE("clone3(CLONE_NEWTIME)");
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } args = {.flags = CLONE_NEWTIME, .exit_signal = SIGCHLD};
    char own[64];
    link_of("/proc/self/ns/time", own, sizeof own);
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
        char mine[64];
        link_of("/proc/self/ns/time", mine, sizeof mine);
        _exit(strcmp(mine, own) != 0 && strncmp(mine, "time:[", 6) == 0 ? 0 : 1);
    }
    EXPECT_GT(pid, 0);
    int st = 0;
    EXPECT_EQ(waitpid((pid_t)pid, &st, 0), (pid_t)pid);
    CHECK("the child is in a new namespace", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void) {
    if (geteuid() != 0) {
        NOTE("not root: nothing to check");
        return guest_done();
    }
    test_clone3();
    test_offsets();
    return guest_done();
}
