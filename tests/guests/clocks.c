// SPDX-License-Identifier: Apache-2.0
//
// clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep, sched_yield.
//
// Times differ between runs, so only relations are checked: clocks do not go backwards, the
// wall clocks agree with each other, a sleep lasts at least as long as asked. Both the libc
// wrappers (which may use the vDSO) and the raw system calls are checked.

#include "guest.h"

#include <sched.h>
#include <sys/time.h>
#include <time.h>

static long long ns(const struct timespec *t) {
    return (long long)t->tv_sec * 1000000000ll + t->tv_nsec;
}

static void test_gettime(void) {
    NOTE("clock_gettime and friends");
    const clockid_t clocks[] = {CLOCK_REALTIME,          CLOCK_MONOTONIC,
                                CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                                CLOCK_MONOTONIC_RAW,     CLOCK_REALTIME_COARSE,
                                CLOCK_MONOTONIC_COARSE,  CLOCK_BOOTTIME};
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec a, b;
        int ok = clock_gettime(clocks[i], &a) == 0;
        ok = ok && syscall(SYS_clock_gettime, clocks[i], &b) == 0;
        char label[96];
        snprintf(label, sizeof label, "clock %d: readable, valid, and not going backwards",
                 clocks[i]);
        CHECK(label, ok && a.tv_nsec >= 0 && a.tv_nsec < 1000000000 && ns(&b) >= ns(&a));
        struct timespec res;
        snprintf(label, sizeof label, "clock %d: resolution positive and at most 10ms", clocks[i]);
        ok = syscall(SYS_clock_getres, clocks[i], &res) == 0;
        CHECK(label, ok && res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000);
    }
    struct timespec res;
    EXPECT_OK(clock_getres(CLOCK_MONOTONIC, &res));
    CHECK("CLOCK_MONOTONIC resolution is 1ns (high resolution timers)",
          res.tv_sec == 0 && res.tv_nsec == 1);
    EXPECT_OK(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL));

    // Monotonic time does not go backwards over many reads.
    struct timespec prev, now;
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &prev));
    int monotonic = 1;
    for (int i = 0; i < 1000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        monotonic &= ns(&now) >= ns(&prev);
        prev = now;
    }
    CHECK("1000 CLOCK_MONOTONIC reads never decrease", monotonic);

    // The wall clocks agree within a second.
    struct timespec rt;
    struct timeval tv;
    EXPECT_OK(clock_gettime(CLOCK_REALTIME, &rt));
    EXPECT_OK(gettimeofday(&tv, NULL));
    time_t t = time(NULL);
    time_t traw = syscall(SYS_time, NULL);
    time_t tout = 0;
    EXPECT_EQ(syscall(SYS_time, &tout), tout);
    struct timeval tvraw;
    EXPECT_OK(syscall(SYS_gettimeofday, &tvraw, NULL));
    // time() reads the coarse clock, which may lag a tick behind: allow a second either way.
    CHECK("gettimeofday is within 1s of CLOCK_REALTIME", llabs(tv.tv_sec - rt.tv_sec) <= 1);
    CHECK("time() is within 1s of CLOCK_REALTIME", llabs(t - rt.tv_sec) <= 1);
    CHECK("raw time is within 1s of CLOCK_REALTIME", llabs(traw - rt.tv_sec) <= 1);
    CHECK("raw gettimeofday is within 1s", llabs(tvraw.tv_sec - rt.tv_sec) <= 1 &&
                                               tvraw.tv_usec >= 0 && tvraw.tv_usec < 1000000);
    CHECK("the wall clock is after 2020", rt.tv_sec > 1577836800);
    struct timezone tz;
    EXPECT_OK(syscall(SYS_gettimeofday, NULL, &tz));
    EXPECT_OK(syscall(SYS_gettimeofday, NULL, NULL));

    EXPECT_ERRNO(syscall(SYS_clock_gettime, 1000, &now), EINVAL);
    EXPECT_ERRNO(syscall(SYS_clock_gettime, -1000, &now), EINVAL);
    EXPECT_ERRNO(syscall(SYS_clock_getres, 1000, &res), EINVAL);
    EXPECT_ERRNO(clock_gettime(1000, &now), EINVAL);
}

static void test_sleep(void) {
    NOTE("nanosleep and clock_nanosleep");
    struct timespec before, after;
    struct timespec ms = {0, 1000000};
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &before));
    EXPECT_OK(nanosleep(&ms, NULL));
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &after));
    CHECK("nanosleep(1ms) takes at least 1ms", ns(&after) - ns(&before) >= 1000000);
    CHECK("nanosleep(1ms) takes under 5s", ns(&after) - ns(&before) < 5000000000ll);

    struct timespec rem = {9, 9};
    EXPECT_OK(syscall(SYS_nanosleep, &ms, &rem));
    struct timespec zero = {0, 0};
    EXPECT_OK(nanosleep(&zero, NULL));
    struct timespec bad = {0, 1000000000};
    EXPECT_ERRNO(nanosleep(&bad, NULL), EINVAL);
    struct timespec neg = {-1, 0};
    EXPECT_ERRNO(nanosleep(&neg, NULL), EINVAL);
    struct timespec negns = {0, -1};
    EXPECT_ERRNO(syscall(SYS_nanosleep, &negns, NULL), EINVAL);

    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &before));
    EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &ms, NULL), 0);
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &after));
    CHECK("clock_nanosleep(1ms) takes at least 1ms", ns(&after) - ns(&before) >= 1000000);

    // An absolute deadline 2ms ahead.
    struct timespec deadline;
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &deadline));
    deadline.tv_nsec += 2000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL), 0);
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &after));
    CHECK("TIMER_ABSTIME sleeps until the deadline", ns(&after) >= ns(&deadline));
    // A deadline in the past returns at once.
    struct timespec past = {0, 1};
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &before));
    EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL), 0);
    EXPECT_OK(clock_gettime(CLOCK_MONOTONIC, &after));
    CHECK("a past deadline returns within 1s", ns(&after) - ns(&before) < 1000000000ll);
    struct timespec rt;
    EXPECT_OK(clock_gettime(CLOCK_REALTIME, &rt));
    EXPECT_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &rt, NULL), 0);
    EXPECT_OK(syscall(SYS_clock_nanosleep, CLOCK_REALTIME, 0, &ms, NULL));

    // clock_nanosleep returns the error number (the raw call returns -1 and sets errno).
    EXPECT_EQ(clock_nanosleep(1000, 0, &ms, NULL), EINVAL);
    EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, 1000, 0, &ms, NULL), EINVAL);
    // The thread CPU clock has no sleep operation.
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &ms, NULL), EOPNOTSUPP);
    EXPECT_ERRNO(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &neg, NULL), EINVAL);
}

static void test_cpu_time(void) {
    NOTE("CPU clocks advance with work");
    struct timespec a, b;
    EXPECT_OK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a));
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 20000000; i++) {
        x += i;
    }
    EXPECT_OK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b));
    CHECK("process CPU time grows with a busy loop", ns(&b) > ns(&a));
    EXPECT_OK(sched_yield());
    EXPECT_EQ(syscall(SYS_sched_yield), 0);
}

int main(void) {
    test_gettime();
    test_sleep();
    test_cpu_time();
    return guest_done();
}
