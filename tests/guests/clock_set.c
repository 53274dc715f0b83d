// SPDX-License-Identifier: Apache-2.0
//
// Setting the sandbox's own wall clock (issue 14). Sandbox only: natively it would move the
// host's clock, so the expectations are Linux's documented behaviour (clock_settime(2),
// settimeofday(2), adjtimex(2), timerfd_create(2)) rather than a native transcript; the LTP's
// clock_settime*, settimeofday*, stime*, adjtimex*, clock_adjtime* and leapsec01 check the
// same against Linux. The test that runs it (tests/tests/processes.rs) checks the host's clock
// did not move.
#include "guest.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>

#define FUTURE 4102444800L // 2100-01-01T00:00:00Z

static long vdso_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static long sys_now(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static long mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

int main(void) {
    if (!in_sandbox()) {
        printf("sandbox only: natively this would set the host's clock\n");
        return 0;
    }
    long mono0 = mono_now();

    // Errors first, before any change.
    struct timespec ts = {.tv_sec = FUTURE, .tv_nsec = 0};
    EXPECT_ERRNO(clock_settime(CLOCK_MONOTONIC, &ts), EINVAL);
    EXPECT_ERRNO(clock_settime(-42, &ts), EINVAL);
    struct timespec bad = {.tv_sec = FUTURE, .tv_nsec = 1000000000};
    EXPECT_ERRNO(clock_settime(CLOCK_REALTIME, &bad), EINVAL);
    EXPECT_ERRNO(syscall(SYS_clock_settime, CLOCK_REALTIME, NULL), EFAULT);
    struct timeval badtv = {.tv_sec = FUTURE, .tv_usec = 1000000};
    EXPECT_ERRNO(settimeofday(&badtv, NULL), EINVAL);
    struct timezone badtz = {.tz_minuteswest = 24 * 60, .tz_dsttime = 0};
    EXPECT_ERRNO(settimeofday(NULL, &badtz), EINVAL);

    // A timerfd that wants to hear of clock changes, armed far ahead.
    int tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    EXPECT_GE(tfd, 0);
    struct itimerspec its = {.it_value = {.tv_sec = vdso_now() + 3600}};
    EXPECT_OK(timerfd_settime(tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
    uint64_t ticks;
    EXPECT_ERRNO(read(tfd, &ticks, sizeof ticks), EAGAIN);

    // Set it: the vDSO, the system call, gettimeofday, time and a child all see the new time;
    // CLOCK_MONOTONIC does not move.
    EXPECT_OK(clock_settime(CLOCK_REALTIME, &ts));
    long v = vdso_now(), s = sys_now();
    CHECK("the vDSO's clock_gettime shows the time set", v >= FUTURE && v < FUTURE + 5);
    CHECK("the system call shows the time set", s >= FUTURE && s < FUTURE + 5);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    CHECK("gettimeofday shows it", tv.tv_sec >= FUTURE && tv.tv_sec < FUTURE + 5);
    CHECK("time shows it", time(NULL) >= FUTURE && time(NULL) < FUTURE + 5);
    CHECK("CLOCK_MONOTONIC did not move", mono_now() - mono0 < 5);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        long c = vdso_now();
        _exit(c >= FUTURE && c < FUTURE + 5 ? 0 : 1);
    }
    int st = -1;
    waitpid(p, &st, 0);
    CHECK("a child sees it", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    // A new image (execve) sees it through its own vDSO: date prints the year.
    fflush(stdout);
    p = fork();
    if (p == 0) {
        execl("/bin/date", "date", "-u", "+year %Y", (char *)NULL);
        _exit(127);
    }
    waitpid(p, NULL, 0);

    // The cancel-on-set timerfd: readable, then ECANCELED once, then waiting again.
    struct pollfd pfd = {.fd = tfd, .events = POLLIN};
    EXPECT_EQ(poll(&pfd, 1, 0), 1);
    EXPECT_ERRNO(read(tfd, &ticks, sizeof ticks), ECANCELED);
    EXPECT_ERRNO(read(tfd, &ticks, sizeof ticks), EAGAIN);

    // An absolute timer on the new clock fires when the new clock says.
    int t2 = timerfd_create(CLOCK_REALTIME, 0);
    struct itimerspec in1 = {.it_value = {.tv_sec = vdso_now() + 1}};
    EXPECT_OK(timerfd_settime(t2, TFD_TIMER_ABSTIME, &in1, NULL));
    long before = mono_now();
    EXPECT_EQ(read(t2, &ticks, sizeof ticks), (ssize_t)sizeof ticks);
    CHECK("an absolute timer fires within two seconds", mono_now() - before <= 2);

    // settimeofday and its time zone.
    struct timeval back = {.tv_sec = FUTURE + 86400, .tv_usec = 0};
    struct timezone tz = {.tz_minuteswest = -60, .tz_dsttime = 0};
    // (glibc refuses both at once: EINVAL; the kernel takes both.)
    EXPECT_OK(syscall(SYS_settimeofday, &back, &tz));
    struct timezone got;
    gettimeofday(&tv, &got);
    EXPECT_EQ(got.tz_minuteswest, -60);
    CHECK("settimeofday moved it a day on", tv.tv_sec >= FUTURE + 86400);

    // adjtimex: reading, a bad tick, ADJ_ADJTIME without SINGLESHOT, an offset injected.
    struct timex tx = {0};
    EXPECT_GE(adjtimex(&tx), 0);
    EXPECT_EQ(tx.precision, 1);
    tx.modes = ADJ_TICK;
    tx.tick = 5;
    EXPECT_ERRNO(adjtimex(&tx), EINVAL);
    memset(&tx, 0, sizeof tx);
    tx.modes = 0x8000;
    EXPECT_ERRNO(adjtimex(&tx), EINVAL);
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_SETOFFSET;
    tx.time.tv_sec = -86400;
    tx.time.tv_usec = 0;
    EXPECT_GE(adjtimex(&tx), 0);
    v = vdso_now();
    CHECK("ADJ_SETOFFSET moved it a day back", v >= FUTURE && v < FUTURE + 10);
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_MAXERROR | ADJ_ESTERROR;
    tx.maxerror = 1234;
    tx.esterror = 99999999;
    EXPECT_GE(adjtimex(&tx), 0);
    memset(&tx, 0, sizeof tx);
    EXPECT_GE(adjtimex(&tx), 0);
    EXPECT_EQ(tx.maxerror, 1234);
    EXPECT_EQ(tx.esterror, 16000000);
    EXPECT_ERRNO(syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx), EOPNOTSUPP);

    // Without CAP_SYS_TIME: EPERM, and reading still works.
    fflush(stdout);
    p = fork();
    if (p == 0) {
        if (setuid(65534) != 0) {
            _exit(2);
        }
        struct timex r = {0};
        struct timex w = {.modes = ADJ_MAXERROR, .maxerror = 5};
        int ok = clock_settime(CLOCK_REALTIME, &ts) == -1 && errno == EPERM &&
                 settimeofday(&back, NULL) == -1 && errno == EPERM && adjtimex(&r) >= 0 &&
                 adjtimex(&w) == -1 && errno == EPERM;
        _exit(ok ? 0 : 1);
    }
    waitpid(p, &st, 0);
    CHECK("without CAP_SYS_TIME: EPERM", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return guest_done();
}
