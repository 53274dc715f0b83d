// SPDX-License-Identifier: Apache-2.0
//
// CPU affinity is the task's own (issue 11, item 2): sched_getaffinity shows every CPU the
// sandbox has until the program narrows it; a task bound to one CPU runs there (getcpu and
// the vDSO's sched_getcpu agree, threads and children inherit the mask, execve keeps it);
// /proc/self/status shows it; the errors are Linux's; a zombie's scheduling state can still be
// read until it is reaped.
#include "guest.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int first_cpu, last_cpu;

static void status_line(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, strlen(key))) {
            printf("%s", line);
        }
    }
    if (f) {
        fclose(f);
    }
}

// Whether the calling thread runs on `cpu` for many checks in a row, by both ways to ask.
static int runs_on(int cpu) {
    for (int i = 0; i < 2000; i++) {
        unsigned c = ~0u, node = ~0u;
        if (syscall(SYS_getcpu, &c, &node, NULL) != 0 || c != (unsigned)cpu || node != 0) {
            return 0;
        }
        if (sched_getcpu() != cpu) {
            return 0;
        }
    }
    return 1;
}

static int bind_to(pid_t who, int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return sched_setaffinity(who, sizeof s, &s);
}

static int mask_count(pid_t who) {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (sched_getaffinity(who, sizeof s, &s) != 0) {
        return -1;
    }
    return CPU_COUNT(&s);
}

static void *thread_main(void *arg) {
    int cpu = *(int *)arg;
    return (void *)(long)(runs_on(cpu) && mask_count(0) == 1);
}

int main(void) {
    cpu_set_t all;
    CPU_ZERO(&all);
    long n = syscall(SYS_sched_getaffinity, 0, sizeof all, &all);
    EXPECT_GT(n, 0);
    EXPECT_EQ(n % 8, 0);
    EXPECT_EQ(CPU_COUNT(&all), (int)sysconf(_SC_NPROCESSORS_ONLN));
    first_cpu = -1;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &all)) {
            if (first_cpu < 0) {
                first_cpu = c;
            }
            last_cpu = c;
        }
    }
    status_line("Cpus_allowed");

    // Bound to each end of the range in turn: the thread runs there, and so does what it
    // starts.
    int ends[2] = {last_cpu, first_cpu};
    for (int i = 0; i < 2; i++) {
        int cpu = ends[i];
        EXPECT_OK(bind_to(0, cpu));
        CHECK("runs on the CPU it is bound to", runs_on(cpu));
        EXPECT_EQ(mask_count(0), 1);
        status_line("Cpus_allowed_list");
        pthread_t th;
        void *ok = NULL;
        EXPECT_OK(pthread_create(&th, NULL, thread_main, &cpu));
        pthread_join(th, &ok);
        CHECK("a new thread inherits the mask", ok == (void *)1);
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            _exit(runs_on(cpu) && mask_count(0) == 1 ? 0 : 1);
        }
        int st = -1;
        waitpid(p, &st, 0);
        CHECK("a child inherits the mask", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }

    // execve keeps the mask: the shell's grep reads its own status.
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        execl("/bin/sh", "sh", "-c", "grep Cpus_allowed_list /proc/self/status", (char *)NULL);
        _exit(127);
    }
    waitpid(p, NULL, 0);

    // Another task's mask: a child's, set by its parent.
    int pipefd[2];
    EXPECT_OK(pipe(pipefd));
    fflush(stdout);
    p = fork();
    if (p == 0) {
        char c;
        close(pipefd[1]);
        read(pipefd[0], &c, 1);
        _exit(runs_on(last_cpu) && mask_count(0) == 1 ? 0 : 1);
    }
    close(pipefd[0]);
    EXPECT_OK(bind_to(p, last_cpu));
    EXPECT_EQ(mask_count(p), 1);
    write(pipefd[1], "x", 1);
    close(pipefd[1]);
    int st = -1;
    waitpid(p, &st, 0);
    CHECK("a child follows the mask its parent gave it", WIFEXITED(st) && WEXITSTATUS(st) == 0);

    // Errors.
    cpu_set_t s;
    CPU_ZERO(&s);
    EXPECT_ERRNO(sched_setaffinity(0, sizeof s, &s), EINVAL);
    CPU_SET(CPU_SETSIZE - 1, &s);
    EXPECT_ERRNO(sched_setaffinity(0, sizeof s, &s), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 4, &s), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 12, &s), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, -1, sizeof s, &s), ESRCH);
    EXPECT_ERRNO(sched_setaffinity(-1, sizeof all, &all), ESRCH);
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, sizeof s, NULL), EFAULT);
    EXPECT_ERRNO(sched_getaffinity(99999, sizeof s, &s), ESRCH);
    EXPECT_ERRNO(sched_setaffinity(99999, sizeof all, &all), ESRCH);
    EXPECT_ERRNO(syscall(SYS_sched_setaffinity, 0, sizeof s, NULL), EFAULT);

    // Back to every CPU.
    EXPECT_OK(sched_setaffinity(0, sizeof all, &all));
    EXPECT_EQ(mask_count(0), CPU_COUNT(&all));
    status_line("Cpus_allowed_list");

    // A zombie's scheduling state is still there until it is reaped.
    fflush(stdout);
    p = fork();
    if (p == 0) {
        _exit(0);
    }
    siginfo_t si;
    EXPECT_OK(waitid(P_PID, p, &si, WEXITED | WNOWAIT));
    struct sched_param sp = {.sched_priority = 5};
    EXPECT_OK(sched_getparam(p, &sp));
    EXPECT_EQ(sp.sched_priority, 0);
    EXPECT_EQ(sched_getscheduler(p), SCHED_OTHER);
    EXPECT_EQ(mask_count(p), CPU_COUNT(&all));
    waitpid(p, NULL, 0);
    EXPECT_ERRNO(sched_getparam(p, &sp), ESRCH);
    return guest_done();
}
