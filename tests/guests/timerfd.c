// SPDX-License-Identifier: Apache-2.0
//
// timerfd: timerfd_create's clocks and flags, timerfd_settime (relative, TFD_TIMER_ABSTIME on
// each clock, periodic, disarming, the old value), timerfd_gettime, reads (the 8-byte count,
// EAGAIN, EINVAL, EINTR), TFD_IOC_SET_TICKS, readiness for poll, select and epoll (level and
// edge), /proc/self/fdinfo and the fd's link, and the errnos of bad arguments.
//
// Times are checked one-sidedly (a loaded machine only ever makes things late).

#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static long long now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct itimerspec its(long long value_ns, long long interval_ns) {
    struct itimerspec s;
    s.it_value.tv_sec = value_ns / 1000000000LL;
    s.it_value.tv_nsec = value_ns % 1000000000LL;
    s.it_interval.tv_sec = interval_ns / 1000000000LL;
    s.it_interval.tv_nsec = interval_ns % 1000000000LL;
    return s;
}

static long long ns(struct timespec t) {
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void test_create(void) {
    NOTE("timerfd_create: clocks and flags");
    EXPECT_ERRNO(timerfd_create(CLOCK_MONOTONIC, 0x1234), EINVAL);
    EXPECT_ERRNO(timerfd_create(CLOCK_MONOTONIC, TFD_TIMER_ABSTIME), EINVAL);
    EXPECT_ERRNO(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
    EXPECT_ERRNO(timerfd_create(CLOCK_THREAD_CPUTIME_ID, 0), EINVAL);
    EXPECT_ERRNO(timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL);
    EXPECT_ERRNO(timerfd_create(CLOCK_TAI, 0), EINVAL);
    EXPECT_ERRNO(timerfd_create(-1, 0), EINVAL);
    EXPECT_ERRNO(timerfd_create(100, 0), EINVAL);
    int clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
                    CLOCK_BOOTTIME_ALARM};
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        // Root has CAP_WAKE_ALARM, natively and in the sandbox.
        int fd = EXPECT_OK(timerfd_create(clocks[i], 0));
        if (fd >= 0) {
            EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
            EXPECT_EQ(fcntl(fd, F_GETFD), 0);
            close(fd);
        }
    }
    int fd = EXPECT_OK(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    EXPECT_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_mode, 0600);
    char link[64] = {0};
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    EXPECT_OK(readlink(path, link, sizeof link - 1));
    EXPECT_STREQ(link, "anon_inode:[timerfd]");
    close(fd);
}

static void test_bad_args(void) {
    NOTE("timerfd_settime and timerfd_gettime: bad arguments");
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec s = its(1000000000LL, 0), old;
    EXPECT_ERRNO(timerfd_settime(fd, 4, &s, NULL), EINVAL);
    EXPECT_ERRNO(timerfd_settime(fd, -1, &s, NULL), EINVAL);
    s.it_value.tv_nsec = 1000000000;
    EXPECT_ERRNO(timerfd_settime(fd, 0, &s, NULL), EINVAL);
    s = its(1000000000LL, 0);
    s.it_value.tv_sec = -1;
    EXPECT_ERRNO(timerfd_settime(fd, 0, &s, NULL), EINVAL);
    s = its(1000000000LL, 0);
    s.it_interval.tv_nsec = -1;
    EXPECT_ERRNO(timerfd_settime(fd, 0, &s, NULL), EINVAL);
    s = its(1000000000LL, 0);
    EXPECT_ERRNO(timerfd_settime(fd, 0, NULL, NULL), EFAULT);
    EXPECT_ERRNO(timerfd_settime(fd, 0, (void *)1, NULL), EFAULT);
    EXPECT_ERRNO(timerfd_settime(-1, 0, &s, NULL), EBADF);
    EXPECT_ERRNO(timerfd_settime(1000, 0, &s, NULL), EBADF);
    int p[2];
    pipe(p);
    EXPECT_ERRNO(timerfd_settime(p[0], 0, &s, NULL), EINVAL);
    EXPECT_ERRNO(timerfd_gettime(p[0], &old), EINVAL);
    EXPECT_ERRNO(timerfd_gettime(-1, &old), EBADF);
    EXPECT_ERRNO(timerfd_gettime(fd, NULL), EFAULT);
    EXPECT_ERRNO(timerfd_gettime(fd, (void *)1), EFAULT);
    // The timer is set before the old value is written.
    EXPECT_ERRNO(timerfd_settime(fd, 0, &s, (void *)1), EFAULT);
    EXPECT_OK(timerfd_gettime(fd, &old));
    EXPECT_GT(ns(old.it_value), 0);
    uint64_t v = 1;
    EXPECT_ERRNO(write(fd, &v, sizeof v), EINVAL);
    EXPECT_ERRNO(ioctl(p[0], TFD_IOC_SET_TICKS, &v), ENOTTY);
    close(p[0]);
    close(p[1]);
    close(fd);
}

static void test_oneshot(void) {
    NOTE("a relative one-shot timer");
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec cur;
    EXPECT_OK(timerfd_gettime(fd, &cur));
    EXPECT_TRUE(ns(cur.it_value) == 0 && ns(cur.it_interval) == 0);
    uint64_t ticks = 0;
    char small[4];
    EXPECT_ERRNO(read(fd, small, sizeof small), EINVAL);
    struct itimerspec s = its(50000000LL, 0);
    long long t0 = now_ns(CLOCK_MONOTONIC);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    EXPECT_OK(timerfd_gettime(fd, &cur));
    EXPECT_TRUE(ns(cur.it_value) > 0 && ns(cur.it_value) <= 50000000LL);
    EXPECT_EQ(ns(cur.it_interval), 0);
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 1);
    EXPECT_GE(now_ns(CLOCK_MONOTONIC) - t0, 50000000LL);
    EXPECT_OK(timerfd_gettime(fd, &cur));
    EXPECT_TRUE(ns(cur.it_value) == 0 && ns(cur.it_interval) == 0);
    // A bigger buffer still reads 8 bytes.
    char big[32];
    s = its(1000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    EXPECT_EQ(read(fd, big, sizeof big), 8);
    memcpy(&ticks, big, 8);
    EXPECT_EQ(ticks, 1);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    EXPECT_ERRNO(read(fd, &ticks, sizeof ticks), EAGAIN);
    close(fd);
}

static void test_expired_nonblocking(void) {
    NOTE("an expired timer reads 1 at once, even before anything else runs");
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec s = its(10000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    struct timespec d = {0, 30000000};
    nanosleep(&d, NULL);
    uint64_t ticks = 0;
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 1);
    EXPECT_ERRNO(read(fd, &ticks, sizeof ticks), EAGAIN);
    close(fd);
}

static void test_periodic(void) {
    NOTE("a periodic timer counts every period");
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec s = its(10000000LL, 10000000LL);
    long long t0 = now_ns(CLOCK_MONOTONIC);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    struct timespec d = {0, 100000000};
    nanosleep(&d, NULL);
    uint64_t ticks = 0;
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    long long elapsed = now_ns(CLOCK_MONOTONIC) - t0;
    // Each of the periods that passed before the read counts; none that did not.
    EXPECT_GE(ticks, 9);
    CHECK("ticks <= elapsed periods", (long long)ticks <= elapsed / 10000000LL);
    struct itimerspec cur;
    EXPECT_OK(timerfd_gettime(fd, &cur));
    EXPECT_EQ(ns(cur.it_interval), 10000000LL);
    EXPECT_TRUE(ns(cur.it_value) > 0 && ns(cur.it_value) <= 10000000LL);
    // The next read blocks until the next period.
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_GE(ticks, 1);
    // Re-arming resets the count and returns the old setting.
    struct itimerspec old;
    s = its(5000000000LL, 2000000000LL);
    EXPECT_OK(timerfd_settime(fd, 0, &s, &old));
    EXPECT_EQ(ns(old.it_interval), 10000000LL);
    EXPECT_TRUE(ns(old.it_value) > 0 && ns(old.it_value) <= 10000000LL);
    s = its(0, 0);
    EXPECT_OK(timerfd_settime(fd, 0, &s, &old));
    EXPECT_EQ(ns(old.it_interval), 2000000000LL);
    EXPECT_TRUE(ns(old.it_value) > 4000000000LL && ns(old.it_value) <= 5000000000LL);
    EXPECT_OK(timerfd_gettime(fd, &cur));
    EXPECT_TRUE(ns(cur.it_value) == 0 && ns(cur.it_interval) == 0);
    close(fd);
}

static void test_abstime(clockid_t clock, const char *name) {
    NOTE("TFD_TIMER_ABSTIME on %s", name);
    int fd = timerfd_create(clock, 0);
    long long t0 = now_ns(clock);
    struct itimerspec s = its(t0 + 50000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL));
    struct itimerspec cur;
    EXPECT_OK(timerfd_gettime(fd, &cur));
    // gettime shows the time left, not the absolute time.
    EXPECT_TRUE(ns(cur.it_value) > 0 && ns(cur.it_value) <= 50000000LL);
    uint64_t ticks = 0;
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 1);
    EXPECT_GE(now_ns(clock) - t0, 50000000LL);
    // A time already past expires at once, with every period since counted.
    t0 = now_ns(clock);
    s = its(t0 - 10000000000LL, 1000000000LL);
    EXPECT_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL));
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_TRUE(ticks >= 10 && ticks <= 12);
    EXPECT_OK(timerfd_gettime(fd, &cur));
    EXPECT_TRUE(ns(cur.it_value) > 0 && ns(cur.it_value) <= 1000000000LL);
    // TFD_TIMER_CANCEL_ON_SET is accepted (nothing sets the clock here).
    s = its(now_ns(clock) + 20000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &s, NULL));
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 1);
    s = its(20000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, TFD_TIMER_CANCEL_ON_SET, &s, NULL));
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 1);
    close(fd);
}

static void test_set_ticks(void) {
    NOTE("TFD_IOC_SET_TICKS");
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    uint64_t v = 5, ticks = 0;
    EXPECT_OK(ioctl(fd, TFD_IOC_SET_TICKS, &v));
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    EXPECT_EQ(poll(&p, 1, 0), 1);
    EXPECT_EQ(p.revents, POLLIN);
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 5);
    v = 0;
    EXPECT_ERRNO(ioctl(fd, TFD_IOC_SET_TICKS, &v), EINVAL);
    EXPECT_ERRNO(ioctl(fd, TFD_IOC_SET_TICKS, NULL), EFAULT);
    // Arming (or disarming) clears the count.
    v = 3;
    EXPECT_OK(ioctl(fd, TFD_IOC_SET_TICKS, &v));
    struct itimerspec s = its(0, 0);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    EXPECT_ERRNO(read(fd, &ticks, sizeof ticks), EAGAIN);
    close(fd);
}

static void test_readiness(void) {
    NOTE("poll, select and epoll");
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0);
    struct itimerspec s = its(30000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    EXPECT_EQ(poll(&p, 1, 5000), 1);
    EXPECT_EQ(p.revents, POLLIN);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    struct timeval tv = {0, 0};
    EXPECT_EQ(select(fd + 1, &rd, NULL, NULL, &tv), 1);
    uint64_t ticks;
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(poll(&p, 1, 0), 0);
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    EXPECT_EQ(select(fd + 1, &rd, NULL, NULL, &tv), 0);

    // select waits for an expiry.
    s = its(30000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    struct timeval five = {5, 0};
    EXPECT_EQ(select(fd + 1, &rd, NULL, NULL, &five), 1);
    read(fd, &ticks, sizeof ticks);

    int lt = epoll_create1(0), et = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
    EXPECT_OK(epoll_ctl(lt, EPOLL_CTL_ADD, fd, &ev));
    ev.events = EPOLLIN | EPOLLET;
    EXPECT_OK(epoll_ctl(et, EPOLL_CTL_ADD, fd, &ev));
    struct epoll_event out[2];
    EXPECT_EQ(epoll_wait(lt, out, 2, 0), 0);
    EXPECT_EQ(epoll_wait(et, out, 2, 0), 0);
    s = its(20000000LL, 0);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    EXPECT_EQ(epoll_wait(et, out, 2, 5000), 1);
    EXPECT_TRUE(out[0].events == EPOLLIN && out[0].data.u64 == 7);
    // The edge was reported; no new expiry, no new event. Level-triggered sees it still.
    EXPECT_EQ(epoll_wait(et, out, 2, 0), 0);
    EXPECT_EQ(epoll_wait(lt, out, 2, 0), 1);
    EXPECT_EQ(epoll_wait(lt, out, 2, 0), 1);
    // A second expiry before the read is a new edge.
    uint64_t v = 2;
    EXPECT_OK(ioctl(fd, TFD_IOC_SET_TICKS, &v));
    EXPECT_EQ(epoll_wait(et, out, 2, 0), 1);
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 2);
    EXPECT_EQ(epoll_wait(lt, out, 2, 0), 0);
    EXPECT_EQ(epoll_wait(et, out, 2, 0), 0);
    // A periodic timer is one edge until it is read (Linux restarts its timer at the read,
    // counting the periods since), then an edge again at the next period.
    s = its(10000000LL, 10000000LL);
    EXPECT_OK(timerfd_settime(fd, 0, &s, NULL));
    EXPECT_EQ(epoll_wait(et, out, 2, 5000), 1);
    struct timespec d = {0, 40000000};
    nanosleep(&d, NULL);
    EXPECT_EQ(epoll_wait(et, out, 2, 0), 0);
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_GE(ticks, 4);
    EXPECT_EQ(epoll_wait(et, out, 2, 5000), 1);
    close(lt);
    close(et);
    close(fd);
}

static volatile int got_alrm;
static void on_alrm(int sig) {
    (void)sig;
    got_alrm = 1;
}

static void test_eintr(void) {
    NOTE("a blocked read ends with EINTR on a signal (no SA_RESTART)");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    uint64_t ticks;
    EXPECT_ERRNO(read(fd, &ticks, sizeof ticks), EINTR);
    EXPECT_EQ(got_alrm, 1);
    // With SA_RESTART the read goes on to the expiry.
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    got_alrm = 0;
    struct itimerspec s = its(200000000LL, 0);
    timerfd_settime(fd, 0, &s, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_EQ(read(fd, &ticks, sizeof ticks), 8);
    EXPECT_EQ(ticks, 1);
    EXPECT_EQ(got_alrm, 1);
    signal(SIGALRM, SIG_DFL);
    close(fd);
}

static void test_fdinfo(void) {
    NOTE("/proc/self/fdinfo");
    int fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
    struct itimerspec s = its(100000000000LL, 3000000000LL);
    timerfd_settime(fd, 0, &s, NULL);
    uint64_t v = 4;
    ioctl(fd, TFD_IOC_SET_TICKS, &v);
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    int info = EXPECT_OK(open(path, O_RDONLY));
    ssize_t n = read(info, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    close(info);
    EXPECT_TRUE(strstr(buf, "\nclockid: 7\n") != NULL);
    EXPECT_TRUE(strstr(buf, "\nticks: 4\n") != NULL);
    EXPECT_TRUE(strstr(buf, "\nsettime flags: 00\n") != NULL);
    EXPECT_TRUE(strstr(buf, "\nit_value: (9") != NULL);
    EXPECT_TRUE(strstr(buf, "\nit_interval: (3, 0)\n") != NULL);
    close(fd);
}

static void test_fork_shares(void) {
    NOTE("a forked child reads the same timer");
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec s = its(30000000LL, 0);
    timerfd_settime(fd, 0, &s, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t ticks = 0;
        ssize_t n = read(fd, &ticks, sizeof ticks);
        _exit(n == 8 && ticks == 1 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    uint64_t ticks;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    EXPECT_ERRNO(read(fd, &ticks, sizeof ticks), EAGAIN);
    close(fd);
}

int main(void) {
    test_create();
    test_bad_args();
    test_oneshot();
    test_expired_nonblocking();
    test_periodic();
    test_abstime(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
    test_abstime(CLOCK_REALTIME, "CLOCK_REALTIME");
    test_abstime(CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
    test_set_ticks();
    test_readiness();
    test_eintr();
    test_fdinfo();
    test_fork_shares();
    return guest_done();
}
