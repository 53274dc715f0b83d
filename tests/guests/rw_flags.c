// SPDX-License-Identifier: Apache-2.0
//
// Small calls of issue 14: preadv2/pwritev2 (offset -1 is the file position, RWF_APPEND,
// RWF_NOAPPEND, RWF_NOWAIT, the sync flags, the errors), epoll_pwait2's timespec timeout, the
// old getdents's `struct linux_dirent`, ioprio_get/ioprio_set, kcmp, process_vm_readv/writev,
// and
// sched_setattr/sched_getattr (last: a SCHED_DEADLINE process may not fork). Files live on /dev/shm: tmpfs natively and in the
// sandbox, so the flags a file system may lack (RWF_ATOMIC, RWF_DONTCACHE) answer alike.

#include "guest.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x20
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x40
#endif
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x80
#endif

static char path[96], dirpath[96];

static long pv2(int nr, int fd, struct iovec *iov, int cnt, long long off, int flags) {
    return syscall(nr, fd, iov, cnt, off, 0, flags);
}

static volatile int pipes;
static void on_pipe(int sig) {
    (void)sig;
    pipes++;
}

static void test_preadv2(void) {
    NOTE("preadv2 and pwritev2");
    int fd = EXPECT_OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0600));
    char a[] = "hello ", b[] = "world";
    struct iovec w[2] = {{a, 6}, {b, 5}};
    EXPECT_EQ(pv2(SYS_pwritev2, fd, w, 2, -1, 0), 11);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 11);
    EXPECT_EQ(pv2(SYS_pwritev2, fd, w, 1, 0, RWF_HIPRI | RWF_DSYNC | RWF_SYNC), 6);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 11);
    char buf[32] = {0};
    struct iovec r[2] = {{buf, 3}, {buf + 3, 20}};
    EXPECT_EQ(pv2(SYS_preadv2, fd, r, 2, 0, 0), 11);
    EXPECT_STREQ(buf, "hello world");
    lseek(fd, 6, SEEK_SET);
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(pv2(SYS_preadv2, fd, r, 2, -1, RWF_HIPRI), 5);
    EXPECT_STREQ(buf, "world");
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 11);
    // RWF_APPEND writes at the end whatever the offset; with -1 the position follows.
    char c[] = "!";
    struct iovec wc = {c, 1};
    EXPECT_EQ(pv2(SYS_pwritev2, fd, &wc, 1, 2, RWF_APPEND), 1);
    lseek(fd, 0, SEEK_SET);
    EXPECT_EQ(pv2(SYS_pwritev2, fd, &wc, 1, -1, RWF_APPEND), 1);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 13);
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 13);
    EXPECT_STREQ(buf, "hello world!!");
    close(fd);

    NOTE("O_APPEND and RWF_NOAPPEND");
    fd = open(path, O_RDWR | O_APPEND);
    char x[] = "X";
    struct iovec wx = {x, 1};
    EXPECT_EQ(pv2(SYS_pwritev2, fd, &wx, 1, 0, RWF_NOAPPEND), 1);
    lseek(fd, 1, SEEK_SET);
    EXPECT_EQ(pv2(SYS_pwritev2, fd, &wx, 1, -1, RWF_NOAPPEND), 1);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 2);
    // Without it, an O_APPEND file appends even at an offset.
    EXPECT_EQ(pv2(SYS_pwritev2, fd, &wx, 1, 0, 0), 1);
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 14);
    EXPECT_STREQ(buf, "XXllo world!!X");
    close(fd);

    NOTE("errors");
    fd = open(path, O_RDWR);
    EXPECT_ERRNO(pv2(SYS_preadv2, fd, r, 2, 0, 0x200), EOPNOTSUPP);
    EXPECT_ERRNO(pv2(SYS_pwritev2, fd, &wx, 1, 0, 0x10000), EOPNOTSUPP);
    EXPECT_ERRNO(pv2(SYS_pwritev2, fd, &wx, 1, 0, RWF_APPEND | RWF_NOAPPEND), EINVAL);
    EXPECT_ERRNO(pv2(SYS_pwritev2, fd, &wx, 1, 0, RWF_ATOMIC), EOPNOTSUPP);
    EXPECT_ERRNO(pv2(SYS_preadv2, fd, r, 2, 0, RWF_ATOMIC), EOPNOTSUPP);
    EXPECT_ERRNO(pv2(SYS_preadv2, fd, r, 2, 0, RWF_DONTCACHE), EOPNOTSUPP);
    // Nothing to transfer: the flags are not looked at.
    struct iovec none = {buf, 0};
    EXPECT_EQ(pv2(SYS_preadv2, fd, &none, 1, 0, 0x200), 0);
    EXPECT_ERRNO(pv2(SYS_preadv2, fd, r, 2, -2, 0), EINVAL);
    EXPECT_ERRNO(pv2(SYS_preadv2, -1, r, 2, -2, 0), EINVAL);
    EXPECT_ERRNO(pv2(SYS_preadv2, -1, r, 2, 0, 0), EBADF);
    EXPECT_ERRNO(pv2(SYS_preadv2, fd, r, -1, 0, 0), EINVAL);
    EXPECT_ERRNO(pv2(SYS_preadv2, fd, (void *)1, 1, 0, 0), EFAULT);
    close(fd);
    fd = open(path, O_WRONLY);
    EXPECT_ERRNO(pv2(SYS_preadv2, fd, r, 2, 0, 0), EBADF);
    close(fd);
    fd = open(path, O_RDONLY);
    EXPECT_ERRNO(pv2(SYS_pwritev2, fd, &wx, 1, 0, 0), EBADF);
    close(fd);
    int p[2];
    pipe(p);
    EXPECT_ERRNO(pv2(SYS_preadv2, p[0], r, 2, 0, 0), ESPIPE);
    EXPECT_ERRNO(pv2(SYS_preadv2, p[0], r, 2, -1, RWF_NOWAIT), EAGAIN);
    EXPECT_EQ(pv2(SYS_pwritev2, p[1], &wx, 1, -1, RWF_NOWAIT), 1);
    EXPECT_EQ(pv2(SYS_preadv2, p[0], r, 2, -1, RWF_NOWAIT), 1);
    // RWF_NOSIGNAL: EPIPE without SIGPIPE.
    close(p[0]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_pipe;
    sigaction(SIGPIPE, &sa, NULL);
    EXPECT_ERRNO(pv2(SYS_pwritev2, p[1], &wx, 1, -1, 0x100), EPIPE);
    EXPECT_EQ(pipes, 0);
    EXPECT_ERRNO(pv2(SYS_pwritev2, p[1], &wx, 1, -1, 0), EPIPE);
    EXPECT_EQ(pipes, 1);
    signal(SIGPIPE, SIG_DFL);
    close(p[1]);
    unlink(path);
}

static void test_epoll_pwait2(void) {
    NOTE("epoll_pwait2");
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 5}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    struct timespec ts = {0, 50000000};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 2, &ts, NULL, 8), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    EXPECT_GE(ns, 45000000LL);
    ts.tv_nsec = 0;
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 2, &ts, NULL, 8), 0);
    write(p[1], "x", 1);
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 2, NULL, NULL, 8), 1);
    EXPECT_EQ(out[0].data.u32, 5);
    sigset_t mask;
    sigemptyset(&mask);
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, out, 2, &ts, &mask, 8), 1);
    ts.tv_nsec = 1000000000;
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, ep, out, 2, &ts, NULL, 8), EINVAL);
    ts.tv_sec = -1;
    ts.tv_nsec = 0;
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, ep, out, 2, &ts, NULL, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, ep, out, 2, (void *)1, NULL, 8), EFAULT);
    ts.tv_sec = 0;
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, ep, out, 2, &ts, &mask, 4), EINVAL);
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, ep, out, 0, &ts, NULL, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, p[0], out, 2, &ts, NULL, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_epoll_pwait2, -1, out, 2, &ts, NULL, 8), EBADF);
    close(p[0]);
    close(p[1]);
    close(ep);
}

struct linux_dirent {
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};

static void test_getdents(void) {
    NOTE("getdents (struct linux_dirent)");
    mkdir(dirpath, 0700);
    char f[128];
    snprintf(f, sizeof f, "%s/file-a", dirpath);
    close(open(f, O_CREAT | O_WRONLY, 0600));
    snprintf(f, sizeof f, "%s/sub", dirpath);
    mkdir(f, 0700);
    int fd = EXPECT_OK(open(dirpath, O_RDONLY | O_DIRECTORY));
    char buf[4096];
    long n = EXPECT_OK(syscall(SYS_getdents, fd, buf, sizeof buf));
    int seen = 0, types_ok = 1, count = 0;
    long last_off = 0;
    for (long off = 0; off < n;) {
        struct linux_dirent *d = (struct linux_dirent *)(buf + off);
        char type = buf[off + d->d_reclen - 1];
        count++;
        last_off = d->d_off;
        if (strcmp(d->d_name, "file-a") == 0) {
            seen |= 1;
            types_ok &= type == DT_REG;
        } else if (strcmp(d->d_name, "sub") == 0) {
            seen |= 2;
            types_ok &= type == DT_DIR;
        } else if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) {
            seen |= 4;
            types_ok &= type == DT_DIR;
        }
        off += d->d_reclen;
    }
    EXPECT_EQ(seen, 7);
    EXPECT_EQ(types_ok, 1);
    EXPECT_EQ(count, 4);
    EXPECT_EQ(syscall(SYS_getdents, fd, buf, sizeof buf), 0);
    // d_off resumes where the entry left off.
    EXPECT_OK(lseek(fd, last_off, SEEK_SET));
    EXPECT_EQ(syscall(SYS_getdents, fd, buf, sizeof buf), 0);
    lseek(fd, 0, SEEK_SET);
    EXPECT_ERRNO(syscall(SYS_getdents, fd, buf, 10), EINVAL);
    EXPECT_ERRNO(syscall(SYS_getdents, fd, (void *)1, sizeof buf), EFAULT);
    // Nothing was consumed by the failures.
    EXPECT_GT(syscall(SYS_getdents, fd, buf, sizeof buf), 0);
    close(fd);
    EXPECT_ERRNO(syscall(SYS_getdents, -1, buf, sizeof buf), EBADF);
    snprintf(f, sizeof f, "%s/file-a", dirpath);
    fd = open(f, O_RDONLY);
    EXPECT_ERRNO(syscall(SYS_getdents, fd, buf, sizeof buf), ENOTDIR);
    close(fd);
    unlink(f);
    snprintf(f, sizeof f, "%s/sub", dirpath);
    rmdir(f);
    rmdir(dirpath);
}

#define IOPRIO(class, level) (((class) << 13) | (level))

static void test_ioprio(void) {
    NOTE("ioprio_get and ioprio_set");
    EXPECT_EQ(syscall(SYS_ioprio_get, 1, 0), 0);
    EXPECT_OK(syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 3)));
    EXPECT_EQ(syscall(SYS_ioprio_get, 1, 0), IOPRIO(2, 3));
    EXPECT_EQ(syscall(SYS_ioprio_get, 1, getpid()), IOPRIO(2, 3));
    // Hint bits are kept.
    EXPECT_OK(syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 3) | (1 << 3)));
    EXPECT_EQ(syscall(SYS_ioprio_get, 1, 0), IOPRIO(2, 3) | (1 << 3));
    EXPECT_OK(syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 7)));  // root may take RT
    EXPECT_EQ(syscall(SYS_ioprio_get, 1, 0), IOPRIO(1, 7));
    EXPECT_OK(syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
    EXPECT_ERRNO(syscall(SYS_ioprio_set, 1, 0, IOPRIO(4, 0)), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ioprio_set, 1, 0, IOPRIO(7, 0)), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 1)), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ioprio_set, 0, 0, IOPRIO(2, 0)), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ioprio_set, 4, 0, IOPRIO(2, 0)), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ioprio_get, 0, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_ioprio_get, 1, -1), ESRCH);
    EXPECT_ERRNO(syscall(SYS_ioprio_get, 1, 4194303), ESRCH);
    EXPECT_ERRNO(syscall(SYS_ioprio_set, 1, 4194303, IOPRIO(2, 0)), ESRCH);
    // A child inherits it.
    EXPECT_OK(syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 6)));
    pid_t pid = fork();
    if (pid == 0) {
        _exit(syscall(SYS_ioprio_get, 1, 0) == IOPRIO(2, 6) ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_OK(syscall(SYS_ioprio_set, 1, 0, 0));
    EXPECT_EQ(syscall(SYS_ioprio_get, 1, 0), 0);
}

struct sched_attr_v1 {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};

static long setattr(struct sched_attr_v1 *a) {
    return syscall(SYS_sched_setattr, 0, a, 0);
}

static struct sched_attr_v1 getattr(void) {
    struct sched_attr_v1 a;
    memset(&a, 0xee, sizeof a);
    syscall(SYS_sched_getattr, 0, &a, sizeof a, 0);
    return a;
}

static void test_sched_attr(void) {
    NOTE("sched_setattr and sched_getattr");
    struct sched_attr_v1 a = getattr();
    EXPECT_TRUE(a.size == 56 && a.policy == SCHED_OTHER && a.flags == 0 && a.nice == 0);
    EXPECT_TRUE(a.priority == 0 && a.runtime > 0 && a.deadline == 0 && a.period == 0);
    unsigned long long base = a.runtime;
    memset(&a, 0, sizeof a);
    a.size = 48;
    a.nice = 5;
    a.runtime = 5000000;
    EXPECT_OK(setattr(&a));
    a = getattr();
    EXPECT_TRUE(a.policy == SCHED_OTHER && a.nice == 5 && a.runtime == 5000000);
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 5);
    memset(&a, 0, sizeof a);
    a.size = 48;
    a.nice = 5;
    EXPECT_OK(setattr(&a));
    EXPECT_EQ(getattr().runtime, base);
    memset(&a, 0, sizeof a);
    a.size = 56;
    a.policy = SCHED_FIFO;
    a.priority = 10;
    a.flags = 1;  // SCHED_FLAG_RESET_ON_FORK
    EXPECT_OK(setattr(&a));
    a = getattr();
    EXPECT_TRUE(a.policy == SCHED_FIFO && a.priority == 10 && a.flags == 1 && a.nice == 0);
    EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO | SCHED_RESET_ON_FORK);
    // SCHED_FLAG_KEEP_POLICY | SCHED_FLAG_KEEP_PARAMS: nothing changes.
    memset(&a, 0, sizeof a);
    a.size = 48;
    a.flags = 0x18;
    EXPECT_OK(setattr(&a));
    a = getattr();
    EXPECT_TRUE(a.policy == SCHED_FIFO && a.priority == 10);

    NOTE("sched_setattr: errors");
    memset(&a, 0, sizeof a);
    a.size = 48;
    EXPECT_ERRNO(syscall(SYS_sched_setattr, 0, NULL, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_setattr, -1, &a, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_setattr, 0, &a, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_setattr, 4194303, &a, 0), ESRCH);
    EXPECT_ERRNO(syscall(SYS_sched_setattr, 0, (void *)1, 0), EFAULT);
    a.size = 47;
    EXPECT_ERRNO(setattr(&a), E2BIG);
    EXPECT_EQ(a.size, 56);
    struct {
        struct sched_attr_v1 a;
        uint64_t tail;
    } big;
    memset(&big, 0, sizeof big);
    big.a.size = sizeof big;
    big.tail = 1;
    EXPECT_ERRNO(setattr(&big.a), E2BIG);
    big.tail = 0;
    EXPECT_OK(setattr(&big.a));  // SCHED_OTHER again
    memset(&a, 0, sizeof a);
    a.size = 48;
    a.policy = 7;
    EXPECT_ERRNO(setattr(&a), EINVAL);
    a.policy = SCHED_FIFO;
    EXPECT_ERRNO(setattr(&a), EINVAL);  // priority 0
    a.priority = 100;
    EXPECT_ERRNO(setattr(&a), EINVAL);
    a.policy = SCHED_OTHER;
    a.priority = 1;
    EXPECT_ERRNO(setattr(&a), EINVAL);
    a.priority = 0;
    a.flags = 0x100;
    EXPECT_ERRNO(setattr(&a), EINVAL);
    a.size = 56;
    a.flags = 0x20;  // SCHED_FLAG_UTIL_CLAMP_MIN: no utilisation clamping here
    EXPECT_ERRNO(setattr(&a), EOPNOTSUPP);
    a.size = 48;
    EXPECT_ERRNO(setattr(&a), EINVAL);
    memset(&a, 0, sizeof a);
    a.size = 48;
    a.policy = SCHED_DEADLINE;
    a.runtime = 40000000;
    a.deadline = 30000000;
    a.period = 30000000;
    EXPECT_ERRNO(setattr(&a), EINVAL);
    a.runtime = 100;
    EXPECT_ERRNO(setattr(&a), EINVAL);
    a.runtime = 10000000;
    a.period = 5000000000LL;
    EXPECT_ERRNO(setattr(&a), EINVAL);

    NOTE("sched_getattr: errors");
    struct sched_attr_v1 g;
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 0, &g, 47, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 0, &g, 8192, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 0, NULL, sizeof g, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getattr, -1, &g, sizeof g, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 0, &g, sizeof g, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 4194303, &g, sizeof g, 0), ESRCH);
    EXPECT_ERRNO(syscall(SYS_sched_getattr, 0, (void *)1, sizeof g, 0), EFAULT);
    memset(&big, 0xee, sizeof big);
    EXPECT_OK(syscall(SYS_sched_getattr, 0, &big, sizeof big, 0));
    EXPECT_TRUE(big.a.size == 56 && big.tail == 0);
    memset(&g, 0xee, sizeof g);
    EXPECT_OK(syscall(SYS_sched_getattr, 0, &g, 48, 0));
    EXPECT_TRUE(g.size == 48 && g.util_min == 0xeeeeeeee);

    NOTE("SCHED_DEADLINE");
    memset(&a, 0, sizeof a);
    a.size = 48;
    a.policy = SCHED_DEADLINE;
    a.runtime = 10000000;
    a.deadline = 30000000;
    EXPECT_OK(setattr(&a));
    a = getattr();
    EXPECT_TRUE(a.policy == SCHED_DEADLINE && a.runtime == 10000000);
    EXPECT_TRUE(a.deadline == 30000000 && a.period == 30000000 && a.nice == 0);
    EXPECT_EQ(sched_getscheduler(0), SCHED_DEADLINE);
    memset(&a, 0, sizeof a);
    a.size = 48;
    EXPECT_OK(setattr(&a));
    EXPECT_EQ(getattr().policy, SCHED_OTHER);
}

static void test_kcmp(void) {
    NOTE("kcmp");
    pid_t me = getpid();
    int fd = open("/dev/null", O_RDONLY), fd2 = dup(fd), other = open("/dev/null", O_RDONLY);
    EXPECT_EQ(syscall(SYS_kcmp, me, me, 0, fd, fd2), 0);
    long r = syscall(SYS_kcmp, me, me, 0, fd, other);
    EXPECT_TRUE(r == 1 || r == 2);
    EXPECT_EQ(syscall(SYS_kcmp, me, me, 0, other, fd), 3 - r);  // the order is consistent
    for (int kind = 1; kind <= 6; kind++) {
        CHECK("kcmp(me, me, kind) == 0", syscall(SYS_kcmp, me, me, kind, 0, 0) == 0);
    }
    EXPECT_ERRNO(syscall(SYS_kcmp, me, me, 0, fd, 999), EBADF);
    EXPECT_ERRNO(syscall(SYS_kcmp, me, me, 0, -1, fd), EBADF);
    EXPECT_ERRNO(syscall(SYS_kcmp, me, me, 8, 0, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_kcmp, me, me, -1, 0, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_kcmp, me, 4194303, 1, 0, 0), ESRCH);
    EXPECT_ERRNO(syscall(SYS_kcmp, 0, me, 1, 0, 0), ESRCH);
    // KCMP_EPOLL_TFD (a pipe: /dev/null cannot be watched).
    int ep = epoll_create1(0), pp[2];
    pipe(pp);
    int pp2 = dup(pp[0]);
    struct epoll_event ev = {.events = EPOLLIN};
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev));
    uint32_t slot[3] = {(uint32_t)ep, (uint32_t)pp[0], 0};
    EXPECT_EQ(syscall(SYS_kcmp, me, me, 7, pp2, slot), 0);
    r = syscall(SYS_kcmp, me, me, 7, pp[1], slot);
    EXPECT_TRUE(r == 1 || r == 2);
    slot[2] = 1;
    EXPECT_ERRNO(syscall(SYS_kcmp, me, me, 7, fd, slot), ENOENT);
    slot[2] = 0;
    slot[0] = fd;
    EXPECT_ERRNO(syscall(SYS_kcmp, me, me, 7, fd, slot), EINVAL);
    EXPECT_ERRNO(syscall(SYS_kcmp, me, me, 7, fd, (void *)1), EFAULT);
    // A child shares the descriptions, not the tables, memory or handlers.
    int go[2];
    pipe(go);
    pid_t child = fork();
    if (child == 0) {
        char c;
        read(go[0], &c, 1);
        // Not root any more: root's process is out of reach.
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
            _exit(100);
        }
        long e = syscall(SYS_kcmp, getpid(), getppid(), 1, 0, 0) == -1 && errno == EPERM;
        long s = syscall(SYS_kcmp, getpid(), getpid(), 1, 0, 0) == 0;
        _exit(e && s ? 0 : 1);
    }
    EXPECT_EQ(syscall(SYS_kcmp, me, child, 0, fd, fd), 0);
    for (int kind = 1; kind <= 4; kind++) {
        r = syscall(SYS_kcmp, me, child, kind, 0, 0);
        CHECK("kcmp(me, child, kind) is 1 or 2", r == 1 || r == 2);
    }
    write(go[1], "x", 1);
    int status;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[0]);
    close(go[1]);
    close(ep);
    close(pp[0]);
    close(pp[1]);
    close(pp2);
    close(fd);
    close(fd2);
    close(other);
}

static char shared_buf[8192] = "the child's bytes";

static void test_process_vm(void) {
    NOTE("process_vm_readv and process_vm_writev");
    int go[2], back[2];
    pipe(go);
    pipe(back);
    pid_t child = fork();
    if (child == 0) {
        char c;
        read(go[0], &c, 1);
        // The parent wrote into our copy.
        int ok = memcmp(shared_buf, "PARENT", 6) == 0;
        write(back[1], &ok, sizeof ok);
        read(go[0], &c, 1);
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
            _exit(100);
        }
        char tmp[8];
        struct iovec l = {tmp, sizeof tmp}, r = {shared_buf, sizeof tmp};
        long e = syscall(SYS_process_vm_readv, getppid(), &l, 1, &r, 1, 0) == -1 && errno == EPERM;
        _exit(e ? 0 : 1);
    }
    memcpy(shared_buf, "the parent's own", 17);
    char got[32] = {0};
    struct iovec l[2] = {{got, 4}, {got + 4, 28}};
    struct iovec r = {shared_buf, 17};
    EXPECT_EQ(syscall(SYS_process_vm_readv, child, l, 2, &r, 1, 0), 17);
    EXPECT_STREQ(got, "the child's bytes");
    // A fault ends the transfer: the bytes before it count.
    struct iovec r2[2] = {{shared_buf, 4}, {(void *)8, 4}};
    memset(got, 0, sizeof got);
    EXPECT_EQ(syscall(SYS_process_vm_readv, child, l, 2, r2, 2, 0), 4);
    struct iovec bad = {(void *)8, 4};
    EXPECT_ERRNO(syscall(SYS_process_vm_readv, child, l, 2, &bad, 1, 0), EFAULT);
    EXPECT_ERRNO(syscall(SYS_process_vm_readv, child, l, 2, &r, 1, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_process_vm_readv, 4194303, l, 2, &r, 1, 0), ESRCH);
    EXPECT_ERRNO(syscall(SYS_process_vm_readv, child, (void *)1, 2, &r, 1, 0), EFAULT);
    struct iovec empty = {got, 0};
    EXPECT_EQ(syscall(SYS_process_vm_readv, 4194303, &empty, 1, &r, 1, 0), 0);
    struct iovec w = {"PARENT", 6}, rw = {shared_buf, 6};
    EXPECT_EQ(syscall(SYS_process_vm_writev, child, &w, 1, &rw, 1, 0), 6);
    // Read-only memory is not written.
    struct iovec ro = {(void *)test_process_vm, 1};
    EXPECT_ERRNO(syscall(SYS_process_vm_writev, child, &w, 1, &ro, 1, 0), EFAULT);
    write(go[1], "x", 1);
    int ok = 0;
    read(back[0], &ok, sizeof ok);
    EXPECT_EQ(ok, 1);
    write(go[1], "x", 1);
    int status;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[0]);
    close(go[1]);
    close(back[0]);
    close(back[1]);
}

int main(void) {
    snprintf(path, sizeof path, "/dev/shm/rw_flags-%d", (int)getpid());
    snprintf(dirpath, sizeof dirpath, "/dev/shm/rw_flags-dir-%d", (int)getpid());
    test_preadv2();
    test_epoll_pwait2();
    test_getdents();
    test_ioprio();
    test_kcmp();
    test_process_vm();
    test_sched_attr();
    return guest_done();
}
