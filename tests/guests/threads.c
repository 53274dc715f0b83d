// SPDX-License-Identifier: Apache-2.0
//
// Threads: 8 threads contending on a pthread mutex and condition variable (futex WAIT/WAKE,
// REQUEUE via pthread_cond_broadcast), a bounded queue, barriers, timed waits, thread-directed
// signals, thread-local storage, join (CLONE_CHILD_CLEARTID), fork and exit_group from a
// multithreaded process.

#include "guest.h"

#include <dirent.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define NTHREADS 8

// ---- a mutex-protected counter ------------------------------------------------------------

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
#define INCREMENTS 20000

static void *count_up(void *arg) {
    (void)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        pthread_mutex_lock(&counter_lock);
        long v = counter;
        if ((i & 63) == 0) {
            sched_yield();  // Hold the lock across a system call now and then: contention.
        }
        counter = v + 1;
        pthread_mutex_unlock(&counter_lock);
    }
    return (void *)(long)gettid();
}

static void test_mutex(void) {
    NOTE("8 threads increment a counter under a mutex");
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        EXPECT_EQ(pthread_create(&t[i], NULL, count_up, NULL), 0);
    }
    long tids[NTHREADS];
    int joined = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *ret = NULL;
        joined += pthread_join(t[i], &ret) == 0;
        tids[i] = (long)ret;
    }
    EXPECT_EQ(joined, NTHREADS);
    EXPECT_EQ(counter, (long)NTHREADS * INCREMENTS);
    int distinct = 1;
    for (int i = 0; i < NTHREADS; i++) {
        distinct &= tids[i] != getpid();
        for (int j = 0; j < i; j++) {
            distinct &= tids[i] != tids[j];
        }
    }
    CHECK("every thread had its own TID, none the PID", distinct);
}

// ---- turns on a condition variable --------------------------------------------------------

static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cond = PTHREAD_COND_INITIALIZER;
static int turn;
static char turn_log[NTHREADS * 50 + 1];
static int turn_pos;
#define ROUNDS 50

static void *take_turns(void *arg) {
    int me = (int)(long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&turn_lock);
        while (turn % NTHREADS != me) {
            pthread_cond_wait(&turn_cond, &turn_lock);
        }
        turn_log[turn_pos++] = (char)('a' + me);
        turn++;
        pthread_cond_broadcast(&turn_cond);
        pthread_mutex_unlock(&turn_lock);
    }
    return NULL;
}

static void test_condvar_turns(void) {
    NOTE("8 threads take turns on a condition variable");
    pthread_t t[NTHREADS];
    for (int i = NTHREADS - 1; i >= 0; i--) {
        pthread_create(&t[i], NULL, take_turns, (void *)(long)i);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
    }
    EXPECT_EQ(turn, NTHREADS * ROUNDS);
    int in_order = 1;
    for (int i = 0; i < NTHREADS * ROUNDS; i++) {
        in_order &= turn_log[i] == 'a' + i % NTHREADS;
    }
    CHECK("the turns went round in order", in_order);
}

// ---- a bounded queue: 4 producers, 4 consumers --------------------------------------------

#define QCAP 4
#define ITEMS_PER_PRODUCER 2000
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER;
static long q_items[QCAP];
static int q_head, q_len, producers_left;

static void *produce(void *arg) {
    long base = (long)arg * ITEMS_PER_PRODUCER;
    for (long i = 1; i <= ITEMS_PER_PRODUCER; i++) {
        pthread_mutex_lock(&q_lock);
        while (q_len == QCAP) {
            pthread_cond_wait(&q_not_full, &q_lock);
        }
        q_items[(q_head + q_len) % QCAP] = base + i;
        q_len++;
        pthread_cond_signal(&q_not_empty);
        pthread_mutex_unlock(&q_lock);
    }
    pthread_mutex_lock(&q_lock);
    producers_left--;
    pthread_cond_broadcast(&q_not_empty);
    pthread_mutex_unlock(&q_lock);
    return NULL;
}

static void *consume(void *arg) {
    (void)arg;
    long sum = 0;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && producers_left > 0) {
            pthread_cond_wait(&q_not_empty, &q_lock);
        }
        if (q_len == 0) {
            pthread_mutex_unlock(&q_lock);
            break;
        }
        sum += q_items[q_head];
        q_head = (q_head + 1) % QCAP;
        q_len--;
        pthread_cond_signal(&q_not_full);
        pthread_mutex_unlock(&q_lock);
    }
    return (void *)sum;
}

static void test_queue(void) {
    NOTE("a bounded queue between 4 producers and 4 consumers");
    pthread_t p[4], c[4];
    producers_left = 4;
    for (int i = 0; i < 4; i++) {
        pthread_create(&c[i], NULL, consume, NULL);
        pthread_create(&p[i], NULL, produce, (void *)(long)i);
    }
    long total = 0;
    for (int i = 0; i < 4; i++) {
        void *s;
        pthread_join(p[i], NULL);
        pthread_join(c[i], &s);
        total += (long)s;
    }
    long n = 4L * ITEMS_PER_PRODUCER;
    EXPECT_EQ(total, n * (n + 1) / 2);
}

// ---- barrier, timed wait, raw futex -------------------------------------------------------

static pthread_barrier_t barrier;
static volatile int before_barrier, after_barrier_saw;

static void *barrier_worker(void *arg) {
    (void)arg;
    __atomic_add_fetch(&before_barrier, 1, __ATOMIC_SEQ_CST);
    pthread_barrier_wait(&barrier);
    if (__atomic_load_n(&before_barrier, __ATOMIC_SEQ_CST) == NTHREADS) {
        __atomic_add_fetch(&after_barrier_saw, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void test_barrier_and_timeouts(void) {
    NOTE("a barrier of 8");
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        pthread_create(&t[i], NULL, barrier_worker, NULL);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
    }
    EXPECT_EQ(after_barrier_saw, NTHREADS);
    pthread_barrier_destroy(&barrier);

    NOTE("pthread_cond_timedwait times out");
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec t0, deadline, t1;
    clock_gettime(CLOCK_REALTIME, &t0);
    deadline = t0;
    deadline.tv_nsec += 50 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&m);
    EXPECT_EQ(pthread_cond_timedwait(&c, &m, &deadline), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    clock_gettime(CLOCK_REALTIME, &t1);
    long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK("it waited at least until the deadline", waited_ms >= 49);

    NOTE("raw futex");
    int word = 1;
    struct timespec rel = {0, 10 * 1000 * 1000};
    EXPECT_ERRNO(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0), EAGAIN);
    EXPECT_ERRNO(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, &rel, NULL, 0), ETIMEDOUT);
    EXPECT_EQ(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
    EXPECT_ERRNO(syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 1, &rel, NULL, 0), EINVAL);
}

// ---- signals to threads -------------------------------------------------------------------

static volatile pid_t handler_tid;
static volatile int worker_ready, worker_stop;
static volatile pid_t worker_tid;

static void record_tid(int sig) {
    (void)sig;
    handler_tid = gettid();
}

static void *spin_until_stopped(void *arg) {
    (void)arg;
    worker_tid = gettid();
    __atomic_store_n(&worker_ready, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&worker_stop, __ATOMIC_SEQ_CST)) {
        if (handler_tid != 0) {
            break;
        }
        usleep(1000);
    }
    return NULL;
}

static void test_thread_signals(void) {
    NOTE("pthread_kill runs the handler on the target thread");
    signal(SIGUSR1, record_tid);
    pthread_t t;
    handler_tid = 0;
    pthread_create(&t, NULL, spin_until_stopped, NULL);
    while (!__atomic_load_n(&worker_ready, __ATOMIC_SEQ_CST)) {
        usleep(1000);
    }
    EXPECT_EQ(pthread_kill(t, SIGUSR1), 0);
    pthread_join(t, NULL);
    CHECK("the handler ran on the worker", handler_tid == worker_tid);

    NOTE("a process signal blocked in main goes to a thread that accepts it");
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    handler_tid = 0;
    worker_ready = 0;
    pthread_create(&t, NULL, spin_until_stopped, NULL);  // Inherits the mask...
    while (!__atomic_load_n(&worker_ready, __ATOMIC_SEQ_CST)) {
        usleep(1000);
    }
    EXPECT_OK(kill(getpid(), SIGUSR1));
    usleep(20000);
    CHECK("blocked everywhere: not delivered yet", handler_tid == 0);
    worker_stop = 1;
    pthread_join(t, NULL);
    worker_stop = 0;
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);  // ...and main takes it when it unblocks.
    CHECK("delivered to main on unblock", handler_tid == getpid());
    signal(SIGUSR1, SIG_DFL);
}

// ---- TLS, fork and exit_group with threads ------------------------------------------------

static __thread int tls_value = 7;

static void *tls_worker(void *arg) {
    tls_value += (int)(long)arg;
    return (void *)(long)tls_value;
}

static void *sleep_forever(void *arg) {
    (void)arg;
    for (;;) {
        pause();
    }
    return NULL;
}

static void *exit_whole_process(void *arg) {
    (void)arg;
    usleep(10000);
    exit(23);  // exit_group: ends main, blocked in join, and the sleeper.
}

static int count_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void test_tls_fork_exit(void) {
    NOTE("thread-local storage");
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, tls_worker, (void *)100L);
    pthread_join(t, &ret);
    EXPECT_EQ((long)ret, 107);
    EXPECT_EQ(tls_value, 7);

    NOTE("fork from a multithreaded process copies only the caller");
    pthread_t sleeper;
    pthread_create(&sleeper, NULL, sleep_forever, NULL);
    // A joined thread may linger in /proc/self/task for a moment after pthread_join returns
    // (its tid is cleared before it is gone from the thread group): give it time to go.
    for (int i = 0; i < 200 && count_tasks() > 2; i++) {
        usleep(5000);
    }
    EXPECT_EQ(count_tasks(), 2);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        _exit(count_tasks() == 1 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK("the child has one thread", WIFEXITED(st) && WEXITSTATUS(st) == 0);

    NOTE("exit from a thread ends the whole process");
    pid = fork();
    if (pid == 0) {
        pthread_t a, b;
        pthread_create(&a, NULL, sleep_forever, NULL);
        pthread_create(&b, NULL, exit_whole_process, NULL);
        pthread_join(a, NULL);
        _exit(1);
    }
    waitpid(pid, &st, 0);
    CHECK("exit status 23", WIFEXITED(st) && WEXITSTATUS(st) == 23);

    NOTE("the main thread exits alone, the others carry on");
    pid = fork();
    if (pid == 0) {
        pthread_t b;
        pthread_create(&b, NULL, exit_whole_process, NULL);
        pthread_exit(NULL);
    }
    waitpid(pid, &st, 0);
    CHECK("exit status 23 from the last thread", WIFEXITED(st) && WEXITSTATUS(st) == 23);
}

int main(void) {
    test_mutex();
    test_condvar_turns();
    test_queue();
    test_barrier_and_timeouts();
    test_thread_signals();
    test_tls_fork_exit();
    return guest_done();
}
