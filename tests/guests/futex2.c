// SPDX-License-Identifier: Apache-2.0
//
// The futex2 calls (issue 14): futex_waitv, futex_wake, futex_wait and futex_requeue, their
// argument checks, wake-ups across threads and processes, and their meeting with futex(2)'s
// waiters on the same word.

#include "guest.h"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define SYS_futex_wake_ 454
#define SYS_futex_wait_ 455
#define SYS_futex_requeue_ 456

#define F2_U8 0x00
#define F2_U32 0x02
#define F2_U64 0x03
#define F2_NUMA 0x04
#define F2_MPOL 0x08
#define F2_PRIVATE 128

struct waitv {
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
};

static long waitv(struct waitv *w, unsigned n, unsigned flags, struct timespec *ts, int clk) {
    return syscall(SYS_futex_waitv, w, n, flags, ts, clk);
}

static long fwake(void *addr, unsigned long mask, int nr, unsigned flags) {
    return syscall(SYS_futex_wake_, addr, mask, nr, flags);
}

static long fwait(void *addr, unsigned long val, unsigned long mask, unsigned flags,
                  struct timespec *ts, int clk) {
    return syscall(SYS_futex_wait_, addr, val, mask, flags, ts, clk);
}

static long frequeue(struct waitv *w, unsigned flags, int nr_wake, int nr_requeue) {
    return syscall(SYS_futex_requeue_, w, flags, nr_wake, nr_requeue);
}

static long futex1(uint32_t *addr, int op, uint32_t val) {
    return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

// An absolute deadline `ms` milliseconds from now on `clk`.
static struct timespec in_ms(int clk, long ms) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_nsec += (ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static uint32_t words[4] __attribute__((aligned(16)));

static void set(struct waitv *w, uint32_t *addr, uint64_t val, uint32_t flags) {
    w->val = val;
    w->uaddr = (uintptr_t)addr;
    w->flags = flags;
    w->reserved = 0;
}

// --- waiters run in threads; the main thread wakes them once they wait ---

enum how { BY_WAITV, BY_FUTEX, BY_WAIT };
struct job {
    enum how how;
    unsigned long mask;
    long ret;
    int err;
    volatile int done;
};

static void *waiter(void *arg) {
    struct job *j = arg;
    struct timespec ts = in_ms(CLOCK_MONOTONIC, 10000);
    struct waitv w[3];
    long r;
    switch (j->how) {
    case BY_WAITV:
        for (int i = 0; i < 3; i++) {
            set(&w[i], &words[i], 0, F2_U32 | F2_PRIVATE);
        }
        r = waitv(w, 3, 0, &ts, CLOCK_MONOTONIC);
        break;
    case BY_FUTEX:
        r = syscall(SYS_futex, &words[0], FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        break;
    default:
        r = fwait(&words[0], 0, j->mask, F2_U32 | F2_PRIVATE, &ts, CLOCK_MONOTONIC);
        break;
    }
    j->ret = r;
    j->err = r < 0 ? errno : 0;
    j->done = 1;
    return NULL;
}

static pthread_t start(struct job *j, enum how how, unsigned long mask) {
    memset(j, 0, sizeof *j);
    j->how = how;
    j->mask = mask;
    pthread_t t;
    pthread_create(&t, NULL, waiter, j);
    return t;
}

// Wakes with `wake` until it reports one waiter woken (the waiter may not be queued yet).
#define WAKE_ONE(wake)                                                                         \
    ({                                                                                         \
        long n_ = 0;                                                                           \
        for (int k_ = 0; k_ < 5000 && n_ == 0; k_++) {                                         \
            n_ = (wake);                                                                       \
            if (n_ == 0) {                                                                     \
                usleep(1000);                                                                  \
            }                                                                                  \
        }                                                                                      \
        n_;                                                                                    \
    })

static void on_usr1(int sig) {
    (void)sig;
}

static void errors(void) {
    NOTE("argument checks");
    uint32_t *f = &words[0];
    *f = 0;
    struct waitv w[2];
    struct timespec ts = in_ms(CLOCK_MONOTONIC, 1000);
    set(&w[0], f, 0, F2_U32 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 1, 1, &ts, CLOCK_MONOTONIC), EINVAL);
    EXPECT_ERRNO(waitv(w, 0, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    EXPECT_ERRNO(waitv(w, 129, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    EXPECT_ERRNO(waitv(NULL, 1, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_TAI), EINVAL);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_BOOTTIME), EINVAL);
    EXPECT_ERRNO(waitv(w, 1, 0, (void *)8, CLOCK_MONOTONIC), EFAULT);
    struct timespec bad = {0, 1000000000L};
    EXPECT_ERRNO(waitv(w, 1, 0, &bad, CLOCK_MONOTONIC), EINVAL);
    struct timespec neg = {-1, 0};
    EXPECT_ERRNO(waitv(w, 1, 0, &neg, CLOCK_MONOTONIC), EINVAL);
    EXPECT_ERRNO(waitv((void *)8, 1, 0, &ts, CLOCK_MONOTONIC), EFAULT);
    set(&w[0], f, 0, F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    set(&w[0], f, 0, F2_U64 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    set(&w[0], f, 0, F2_U32 | F2_PRIVATE | 0x100);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    set(&w[0], f, 0, F2_U32 | F2_PRIVATE);
    w[0].reserved = 1;
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    set(&w[0], f, 1ULL << 32, F2_U32 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    set(&w[0], (uint32_t *)((char *)f + 1), 0, F2_U32 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    set(&w[0], NULL, 0, F2_U32 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EFAULT);
    set(&w[0], NULL, 0, F2_U32);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EFAULT);
    // The second entry is bad: the whole call fails before waiting.
    set(&w[0], f, 0, F2_U32 | F2_PRIVATE);
    set(&w[1], f, 0, F2_U8 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 2, 0, &ts, CLOCK_MONOTONIC), EINVAL);
    set(&w[1], &words[1], 7, F2_U32 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 2, 0, &ts, CLOCK_MONOTONIC), EAGAIN);
    set(&w[0], f, 1, F2_U32 | F2_PRIVATE);
    EXPECT_ERRNO(waitv(w, 1, 0, &ts, CLOCK_MONOTONIC), EAGAIN);

    EXPECT_ERRNO(fwake(f, 1, 1, F2_U8 | F2_PRIVATE), EINVAL);
    EXPECT_ERRNO(fwake(f, 1, 1, F2_U32 | F2_PRIVATE | 0x10), EINVAL);
    EXPECT_ERRNO(fwake(f, 0, 1, F2_U32 | F2_PRIVATE), EINVAL);
    EXPECT_ERRNO(fwake(f, 1UL << 32, 1, F2_U32 | F2_PRIVATE), EINVAL);
    EXPECT_ERRNO(fwake((char *)f + 2, 1, 1, F2_U32 | F2_PRIVATE), EINVAL);
    EXPECT_EQ(fwake(f, ~0U, 1, F2_U32 | F2_PRIVATE), 0);
    EXPECT_EQ(fwake(f, ~0U, 0, F2_U32 | F2_PRIVATE), 0);
    EXPECT_EQ(fwake(f, ~0U, -1, F2_U32 | F2_PRIVATE), 0);
    // A private futex is keyed by its address alone; a shared one must be mapped.
    EXPECT_EQ(fwake((void *)4096, ~0U, 1, F2_U32 | F2_PRIVATE), 0);
    EXPECT_ERRNO(fwake((void *)4096, ~0U, 1, F2_U32), EFAULT);
    EXPECT_ERRNO(fwake((void *)0x7ffffffffffcUL, ~0U, 1, F2_U32 | F2_PRIVATE), EFAULT);

    EXPECT_ERRNO(fwait(f, 1, ~0U, F2_U32 | F2_PRIVATE, NULL, 0), EAGAIN);
    EXPECT_ERRNO(fwait(f, 1ULL << 32, ~0U, F2_U32 | F2_PRIVATE, NULL, 0), EINVAL);
    EXPECT_ERRNO(fwait(f, 0, 0, F2_U32 | F2_PRIVATE, NULL, 0), EINVAL);
    EXPECT_ERRNO(fwait(f, 0, 1UL << 33, F2_U32 | F2_PRIVATE, NULL, 0), EINVAL);
    EXPECT_ERRNO(fwait(f, 0, ~0U, F2_U64 | F2_PRIVATE, NULL, 0), EINVAL);
    EXPECT_ERRNO(fwait(f, 0, ~0U, F2_U32 | F2_PRIVATE, &ts, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
    EXPECT_ERRNO(fwait(f, 0, ~0U, F2_U32 | F2_PRIVATE, (void *)8, CLOCK_REALTIME), EFAULT);
    EXPECT_ERRNO(fwait(NULL, 0, ~0U, F2_U32 | F2_PRIVATE, NULL, 0), EFAULT);

    set(&w[0], f, 0, F2_U32 | F2_PRIVATE);
    set(&w[1], &words[1], 0, F2_U32 | F2_PRIVATE);
    EXPECT_ERRNO(frequeue(w, 1, 1, 1), EINVAL);
    EXPECT_ERRNO(frequeue(NULL, 0, 1, 1), EINVAL);
    EXPECT_ERRNO(frequeue((void *)8, 0, 1, 1), EFAULT);
    EXPECT_ERRNO(frequeue(w, 0, -1, 1), EINVAL);
    EXPECT_ERRNO(frequeue(w, 0, 1, -1), EINVAL);
    w[1].reserved = 2;
    EXPECT_ERRNO(frequeue(w, 0, 1, 1), EINVAL);
    w[1].reserved = 0;
    w[0].val = 3;
    EXPECT_ERRNO(frequeue(w, 0, 1, 1), EAGAIN);
    w[0].val = 0;
    EXPECT_EQ(frequeue(w, 0, 1, 1), 0);
}

static void timeouts(void) {
    NOTE("timeouts");
    words[0] = 0;
    struct waitv w;
    set(&w, &words[0], 0, F2_U32 | F2_PRIVATE);
    struct timespec past = {0, 0};
    EXPECT_ERRNO(waitv(&w, 1, 0, &past, CLOCK_MONOTONIC), ETIMEDOUT);
    EXPECT_ERRNO(waitv(&w, 1, 0, &past, CLOCK_REALTIME), ETIMEDOUT);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct timespec ts = in_ms(CLOCK_MONOTONIC, 50);
    EXPECT_ERRNO(waitv(&w, 1, 0, &ts, CLOCK_MONOTONIC), ETIMEDOUT);
    ts = in_ms(CLOCK_REALTIME, 50);
    EXPECT_ERRNO(fwait(&words[0], 0, ~0U, F2_U32 | F2_PRIVATE, &ts, CLOCK_REALTIME), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK("the two waits took at least 100 ms", ms >= 99);
    CHECK("the two waits took less than 5 s", ms < 5000);
}

static void wakeups(void) {
    NOTE("wake-ups across threads");
    struct job j;
    pthread_t t;

    memset(words, 0, sizeof words);
    t = start(&j, BY_WAITV, 0);
    EXPECT_EQ(WAKE_ONE(fwake(&words[1], ~0U, 1, F2_U32 | F2_PRIVATE)), 1);
    pthread_join(t, NULL);
    EXPECT_EQ(j.ret, 1);

    // futex(2)'s FUTEX_WAKE wakes a futex_waitv waiter.
    t = start(&j, BY_WAITV, 0);
    EXPECT_EQ(WAKE_ONE(futex1(&words[2], FUTEX_WAKE_PRIVATE, 1)), 1);
    pthread_join(t, NULL);
    EXPECT_EQ(j.ret, 2);

    // futex_wake wakes a futex(2) waiter.
    t = start(&j, BY_FUTEX, 0);
    EXPECT_EQ(WAKE_ONE(fwake(&words[0], ~0U, 1, F2_U32 | F2_PRIVATE)), 1);
    pthread_join(t, NULL);
    EXPECT_EQ(j.ret, 0);

    // The mask of futex_wait meets the mask of futex_wake, and FUTEX_WAKE_BITSET's.
    t = start(&j, BY_WAIT, 0x1);
    usleep(20000);
    EXPECT_EQ(fwake(&words[0], 0x2, 1, F2_U32 | F2_PRIVATE), 0);
    EXPECT_EQ(syscall(SYS_futex, &words[0], FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 4), 0);
    EXPECT_EQ(WAKE_ONE(fwake(&words[0], 0x3, 1, F2_U32 | F2_PRIVATE)), 1);
    pthread_join(t, NULL);
    EXPECT_EQ(j.ret, 0);
    CHECK("the masked waiter stayed asleep until its bit", j.done);

    // futex_requeue: move a waiter of words[0] onto words[3], then wake it there.
    t = start(&j, BY_WAIT, ~0U);
    struct waitv w[2];
    set(&w[0], &words[0], 0, F2_U32 | F2_PRIVATE);
    set(&w[1], &words[3], 0, F2_U32 | F2_PRIVATE);
    EXPECT_EQ(WAKE_ONE(frequeue(w, 0, 0, 1)), 1);
    EXPECT_EQ(fwake(&words[0], ~0U, 1, F2_U32 | F2_PRIVATE), 0);
    CHECK("a requeued waiter still waits", !j.done);
    EXPECT_EQ(futex1(&words[3], FUTEX_WAKE_PRIVATE, 1), 1);
    pthread_join(t, NULL);
    EXPECT_EQ(j.ret, 0);

    // futex_requeue with nr_wake 1 wakes instead.
    t = start(&j, BY_WAITV, 0);
    set(&w[0], &words[2], 0, F2_U32 | F2_PRIVATE);
    EXPECT_EQ(WAKE_ONE(frequeue(w, 0, 1, 0)), 1);
    pthread_join(t, NULL);
    EXPECT_EQ(j.ret, 2);

    // A signal ends a futex_waitv with EINTR (no SA_RESTART).
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    t = start(&j, BY_WAITV, 0);
    for (int k = 0; k < 5000 && !j.done; k++) {
        pthread_kill(t, SIGUSR1);
        usleep(2000);
    }
    pthread_join(t, NULL);
    EXPECT_EQ(j.ret, -1);
    EXPECT_STREQ(errno_name(j.err), "EINTR");
}

static void shared(void) {
    NOTE("shared futexes across processes");
    uint32_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    m[0] = m[1] = 0;
    pid_t pid = fork();
    if (pid == 0) {
        struct waitv w[2];
        set(&w[0], &m[0], 0, F2_U32);
        set(&w[1], &m[1], 0, F2_U32);
        struct timespec ts = in_ms(CLOCK_REALTIME, 10000);
        long r = waitv(w, 2, 0, &ts, CLOCK_REALTIME);
        _exit(r == 1 ? 0 : 10 + (int)r);
    }
    EXPECT_EQ(WAKE_ONE(fwake(&m[1], ~0U, 1, F2_U32)), 1);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("the child was woken on its second futex", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void numa(void) {
    NOTE("FUTEX2_NUMA: the node word follows the value");
    uint32_t *n = &words[0];
    n[0] = 0;
    n[1] = ~0U;
    EXPECT_EQ(fwake(n, ~0U, 1, F2_U32 | F2_PRIVATE | F2_NUMA), 0);
    EXPECT_EQ(n[1], 0);
    n[1] = 5000;
    EXPECT_ERRNO(fwake(n, ~0U, 1, F2_U32 | F2_PRIVATE | F2_NUMA), EINVAL);
    EXPECT_ERRNO(fwake(&words[1], ~0U, 1, F2_U32 | F2_PRIVATE | F2_NUMA), EINVAL);
    n[1] = ~0U;
    EXPECT_EQ(fwake(n, ~0U, 1, F2_U32 | F2_PRIVATE | F2_NUMA | F2_MPOL), 0);
    EXPECT_EQ(n[1], 0);
    n[1] = 0;
    EXPECT_ERRNO(fwait(n, 1, ~0U, F2_U32 | F2_PRIVATE | F2_NUMA, NULL, 0), EAGAIN);
    EXPECT_EQ(fwake(n, ~0U, 1, F2_U32 | F2_PRIVATE | F2_MPOL), 0);
}

int main(void) {
    errors();
    timeouts();
    wakeups();
    shared();
    numa();
    return guest_done();
}
