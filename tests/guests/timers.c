// SPDX-License-Identifier: Apache-2.0
//
// Timers that fire signals: alarm, setitimer (real, virtual, prof) with getitimer,
// timer_create with SIGEV_SIGNAL / SIGEV_THREAD_ID / SIGEV_NONE, timer_gettime,
// timer_getoverrun, timer_delete, sigwaitinfo and sigtimedwait on a timer's signal.

#include "guest.h"

#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static volatile int alrm_count, vtalrm_count, prof_count;

static void on_alrm(int sig) {
    (void)sig;
    alrm_count++;
}

static void on_vtalrm(int sig) {
    (void)sig;
    vtalrm_count++;
}

static void on_prof(int sig) {
    (void)sig;
    prof_count++;
}

static void install(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void test_alarm(void) {
    NOTE("alarm");
    install(SIGALRM, on_alrm);
    EXPECT_EQ(alarm(10), 0);
    EXPECT_EQ(alarm(0), 10);  // The remaining seconds, rounded.
    EXPECT_EQ(alarm(0), 0);
    alrm_count = 0;
    alarm(1);
    EXPECT_ERRNO(pause(), EINTR);
    EXPECT_EQ(alrm_count, 1);
    EXPECT_EQ(alarm(0), 0);
}

static void test_itimer_real(void) {
    NOTE("setitimer(ITIMER_REAL) periodic");
    install(SIGALRM, on_alrm);
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, NULL);
    alrm_count = 0;
    struct itimerval it = {{0, 20000}, {0, 20000}}, cur, old;
    EXPECT_OK(setitimer(ITIMER_REAL, &it, NULL));
    EXPECT_OK(getitimer(ITIMER_REAL, &cur));
    CHECK("getitimer: the interval reads back", cur.it_interval.tv_sec == 0 &&
                                                    cur.it_interval.tv_usec == 20000);
    CHECK("getitimer: the value is at most the interval",
          cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 20000);
    while (alrm_count < 5) {
        sigsuspend(&none);
    }
    EXPECT_EQ(alrm_count, 5);
    struct itimerval off = {{0, 0}, {0, 0}};
    EXPECT_OK(setitimer(ITIMER_REAL, &off, &old));
    CHECK("the old value returned", old.it_interval.tv_usec == 20000);
    EXPECT_OK(getitimer(ITIMER_REAL, &cur));
    CHECK("disarmed", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    EXPECT_ERRNO(setitimer(99, &off, NULL), EINVAL);
}

static void burn_until(volatile int *flag) {
    volatile unsigned long x = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (*flag == 0) {
        for (int i = 0; i < 100000; i++) {
            x += i;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20) {
            break;
        }
    }
}

static void test_itimer_cpu(void) {
    NOTE("setitimer(ITIMER_VIRTUAL) fires after user CPU time");
    install(SIGVTALRM, on_vtalrm);
    vtalrm_count = 0;
    struct itimerval it = {{0, 0}, {0, 30000}};
    EXPECT_OK(setitimer(ITIMER_VIRTUAL, &it, NULL));
    burn_until(&vtalrm_count);
    EXPECT_EQ(vtalrm_count, 1);

    NOTE("setitimer(ITIMER_PROF) fires after CPU time");
    install(SIGPROF, on_prof);
    prof_count = 0;
    EXPECT_OK(setitimer(ITIMER_PROF, &it, NULL));
    burn_until(&prof_count);
    EXPECT_EQ(prof_count, 1);
}

// ---- POSIX timers -------------------------------------------------------------------------

static volatile int rt_count, rt_code, rt_value, rt_first_overrun;
static volatile pid_t rt_tid;
static timer_t overrun_timer;

static void on_rt(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    rt_count++;
    rt_code = si->si_code;
    rt_value = si->si_value.sival_int;
    rt_tid = gettid();
    if (rt_count == 1) {
        rt_first_overrun = si->si_overrun;
    }
}

static void install_rt(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGRTMIN, &sa, NULL);
}

static volatile int worker_go;
static volatile pid_t worker_tid;

static void *worker(void *arg) {
    (void)arg;
    worker_tid = gettid();
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    while (rt_count == 0) {
        usleep(1000);
    }
    return NULL;
}

static void test_posix_timers(void) {
    NOTE("timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL)");
    install_rt();
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    sev.sigev_value.sival_int = 777;
    timer_t t;
    EXPECT_OK(timer_create(CLOCK_MONOTONIC, &sev, &t));
    struct itimerspec its = {{0, 0}, {0, 30 * 1000 * 1000}}, cur;
    rt_count = 0;
    EXPECT_OK(timer_settime(t, 0, &its, NULL));
    EXPECT_OK(timer_gettime(t, &cur));
    CHECK("timer_gettime: armed, at most 30 ms left",
          cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
              cur.it_value.tv_nsec <= 30 * 1000 * 1000);
    while (rt_count == 0) {
        pause();
    }
    EXPECT_EQ(rt_count, 1);
    EXPECT_EQ(rt_code, SI_TIMER);
    EXPECT_EQ(rt_value, 777);
    CHECK("delivered to the only thread", rt_tid == gettid());
    EXPECT_OK(timer_gettime(t, &cur));
    CHECK("one-shot: disarmed after it fired", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
    EXPECT_EQ(timer_getoverrun(t), 0);

    NOTE("an absolute CLOCK_REALTIME expiry");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    timer_t tr;
    EXPECT_OK(timer_create(CLOCK_REALTIME, &sev, &tr));
    its.it_value = now;
    its.it_value.tv_nsec += 20 * 1000 * 1000;
    if (its.it_value.tv_nsec >= 1000000000) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000;
    }
    rt_count = 0;
    EXPECT_OK(timer_settime(tr, TIMER_ABSTIME, &its, NULL));
    while (rt_count == 0) {
        pause();
    }
    EXPECT_EQ(rt_count, 1);
    EXPECT_OK(timer_delete(tr));

    NOTE("overruns while the signal is blocked");
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &block, NULL);
    // A 5 ms period: 100 ms blocked misses ~19 expiries. The one signal queued for them all is
    // delivered when the mask opens (before sigprocmask returns); a later period may fire again
    // before the timer is disarmed on a loaded machine, so only the first delivery is judged.
    struct itimerspec fast = {{0, 5000 * 1000}, {0, 5000 * 1000}};
    rt_count = 0;
    rt_first_overrun = -1;
    EXPECT_OK(timer_settime(t, 0, &fast, NULL));
    usleep(100 * 1000);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    struct itimerspec off = {{0, 0}, {0, 0}};
    EXPECT_OK(timer_settime(t, 0, &off, NULL));
    CHECK("delivered when unblocked", rt_count >= 1);
    // Queued once, however many expiries: the one delivery counts the rest as overruns.
    CHECK("si_overrun counted the missed expiries", rt_first_overrun >= 5);
    overrun_timer = t;

    NOTE("sigwaitinfo and sigtimedwait on a timer's signal");
    sigprocmask(SIG_BLOCK, &block, NULL);
    its.it_interval.tv_sec = 0;
    its.it_interval.tv_nsec = 0;
    its.it_value.tv_sec = 0;
    its.it_value.tv_nsec = 10 * 1000 * 1000;
    EXPECT_OK(timer_settime(t, 0, &its, NULL));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_EQ(sigwaitinfo(&block, &si), SIGRTMIN);
    CHECK("si_code SI_TIMER, the value", si.si_code == SI_TIMER && si.si_value.sival_int == 777);
    struct timespec short_wait = {0, 20 * 1000 * 1000};
    EXPECT_ERRNO(sigtimedwait(&block, &si, &short_wait), EAGAIN);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    EXPECT_OK(timer_delete(t));
    EXPECT_ERRNO(timer_settime(t, 0, &its, NULL), EINVAL);
    EXPECT_ERRNO(timer_delete(t), EINVAL);

    NOTE("SIGEV_THREAD_ID signals one thread");
    pthread_t th;
    sigprocmask(SIG_BLOCK, &block, NULL);  // Main refuses it; the worker unblocks it.
    rt_count = 0;
    worker_tid = 0;
    pthread_create(&th, NULL, worker, NULL);
    while (worker_tid == 0) {
        usleep(1000);
    }
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGRTMIN;
    sev.sigev_value.sival_int = 5;
    sev._sigev_un._tid = worker_tid;
    timer_t tt;
    EXPECT_OK(timer_create(CLOCK_MONOTONIC, &sev, &tt));
    its.it_value.tv_nsec = 10 * 1000 * 1000;
    EXPECT_OK(timer_settime(tt, 0, &its, NULL));
    pthread_join(th, NULL);
    CHECK("the handler ran on the worker", rt_tid == worker_tid);
    EXPECT_EQ(rt_value, 5);
    EXPECT_OK(timer_delete(tt));
    sigprocmask(SIG_UNBLOCK, &block, NULL);

    NOTE("SIGEV_NONE: no signal, the time still runs");
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    timer_t tn;
    EXPECT_OK(timer_create(CLOCK_MONOTONIC, &sev, &tn));
    its.it_value.tv_sec = 10;
    its.it_value.tv_nsec = 0;
    EXPECT_OK(timer_settime(tn, 0, &its, NULL));
    usleep(20000);
    EXPECT_OK(timer_gettime(tn, &cur));
    CHECK("less than 10 s left", cur.it_value.tv_sec < 10 && cur.it_value.tv_sec >= 9);
    EXPECT_OK(timer_delete(tn));

    NOTE("bad arguments");
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = 1000;
    EXPECT_ERRNO(timer_create(CLOCK_MONOTONIC, &sev, &tn), EINVAL);
    sev.sigev_signo = SIGRTMIN;
    EXPECT_ERRNO(timer_create(12345, &sev, &tn), EINVAL);
}

int main(void) {
    test_alarm();
    test_itimer_real();
    test_itimer_cpu();
    test_posix_timers();
    return guest_done();
}
