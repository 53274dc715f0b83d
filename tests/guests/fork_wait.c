// SPDX-License-Identifier: Apache-2.0
//
// fork trees and wait statuses: exit codes, deaths by signal, stop and continue (WUNTRACED,
// WCONTINUED), waitid with WNOWAIT, WNOHANG, waiting by process group, SIGCHLD's siginfo,
// SIGCHLD ignored (no zombies), vfork, orphans reparented to a subreaper, and waitid(P_PIDFD).

#include "guest.h"

#include <signal.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void no_core_dumps(void) {
    struct rlimit r = {0, 0};
    setrlimit(RLIMIT_CORE, &r);
}

static pid_t spawn_exit(int code) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        _exit(code);
    }
    return pid;
}

// ---- a tree -------------------------------------------------------------------------------

// Each node forks `fanout` children and exits with 1 + the sum of their exit codes: the root
// of a tree of depth d and fanout 2 sees 2^(d+1) - 1 nodes.
static int tree(int depth, int fanout) {
    if (depth == 0) {
        return 1;
    }
    pid_t kids[4];
    for (int i = 0; i < fanout; i++) {
        fflush(stdout);
        kids[i] = fork();
        if (kids[i] == 0) {
            _exit(tree(depth - 1, fanout));
        }
        if (kids[i] < 0) {
            return -1000;
        }
    }
    int total = 1;
    for (int i = fanout - 1; i >= 0; i--) {
        int st;
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st)) {
            return -1000;
        }
        total += WEXITSTATUS(st);
    }
    return total;
}

static void test_tree(void) {
    NOTE("a fork tree of depth 4, fanout 2");
    EXPECT_EQ(tree(4, 2), 31);
    NOTE("a fork tree of depth 3, fanout 3");
    EXPECT_EQ(tree(3, 3), 40);
    EXPECT_ERRNO(wait(NULL), ECHILD);
}

// ---- exit codes ---------------------------------------------------------------------------

static void test_exit_codes(void) {
    NOTE("exit codes");
    static const int codes[] = {0, 1, 42, 127, 255, 256, 300};
    for (unsigned i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        pid_t pid = spawn_exit(codes[i]);
        int st = -1;
        EXPECT_EQ(waitpid(pid, &st, 0), pid);
        char label[64];
        snprintf(label, sizeof label, "_exit(%d) reads back as %d", codes[i], codes[i] & 0xff);
        CHECK(label, WIFEXITED(st) && !WIFSIGNALED(st) && WEXITSTATUS(st) == (codes[i] & 0xff));
    }

    NOTE("exit() flushes stdio and runs atexit in the child only");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("# the child's buffered line\n");
        exit(9);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK("exit(9)", WIFEXITED(st) && WEXITSTATUS(st) == 9);

    NOTE("getppid in the child is the parent");
    pid_t parent = getpid();
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        _exit(getppid() == parent ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    CHECK("getppid() == parent", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

// ---- deaths by signal ---------------------------------------------------------------------

static void test_signaled(void) {
    NOTE("deaths by signal");
    static const int sigs[] = {SIGTERM, SIGKILL, SIGINT, SIGUSR1, SIGABRT, SIGQUIT};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            no_core_dumps();
            if (sigs[i] == SIGABRT) {
                abort();
            }
            raise(sigs[i]);
            _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        char label[64];
        snprintf(label, sizeof label, "killed by %s", sigabbrev_np(sigs[i]));
        CHECK(label, WIFSIGNALED(st) && !WIFEXITED(st) && WTERMSIG(st) == sigs[i]);
    }

    NOTE("the parent kills a sleeping child");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (;;) {
            pause();
        }
    }
    EXPECT_OK(kill(pid, SIGTERM));
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("WTERMSIG is SIGTERM", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    EXPECT_ERRNO(kill(pid, 0), ESRCH);
}

// ---- stop and continue --------------------------------------------------------------------

static void test_stop_continue(void) {
    NOTE("WUNTRACED sees a stop, WCONTINUED a continue");
    int go[2];
    EXPECT_OK(pipe(go));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        raise(SIGSTOP);
        // Continued: exit only once the parent has seen the continue (EOF on `go`).
        char c;
        _exit(read(go[0], &c, 1) == 0 ? 5 : 6);
    }
    close(go[0]);
    int st = 0;
    EXPECT_EQ(waitpid(pid, &st, WUNTRACED), pid);
    CHECK("WIFSTOPPED with SIGSTOP", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    EXPECT_EQ(waitpid(pid, &st, WNOHANG | WUNTRACED), 0);  // Reported once.
    EXPECT_OK(kill(pid, SIGCONT));
    EXPECT_EQ(waitpid(pid, &st, WCONTINUED), pid);
    CHECK("WIFCONTINUED", WIFCONTINUED(st));
    close(go[1]);
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("then exits with 5", WIFEXITED(st) && WEXITSTATUS(st) == 5);

    // SIGSTOP, not SIGTSTP: Linux discards SIGTSTP sent to an orphaned process group, which
    // this child's group may or may not be depending on how the test was started.
    NOTE("kill(SIGSTOP) stops, SIGCONT continues, a stopped child can be killed");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        for (;;) {
            pause();
        }
    }
    EXPECT_OK(kill(pid, SIGSTOP));
    EXPECT_EQ(waitpid(pid, &st, WUNTRACED), pid);
    CHECK("WSTOPSIG is SIGSTOP", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    EXPECT_OK(kill(pid, SIGTERM));  // Pending while stopped...
    EXPECT_EQ(waitpid(pid, &st, WNOHANG), 0);
    EXPECT_OK(kill(pid, SIGCONT));  // ...delivered once continued.
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("killed by SIGTERM after SIGCONT", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

    pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(0);
    }
    EXPECT_EQ(waitpid(pid, &st, WUNTRACED), pid);
    EXPECT_OK(kill(pid, SIGKILL));
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("SIGKILL ends a stopped child", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    NOTE("waitid: WSTOPPED, WCONTINUED, WEXITED, WNOWAIT");
    EXPECT_OK(pipe(go));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(go[1]);
        raise(SIGSTOP);
        char c;
        _exit(read(go[0], &c, 1) == 0 ? 17 : 18);  // Once the parent has seen the continue.
    }
    close(go[0]);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_PID, pid, &si, WSTOPPED));
    CHECK("CLD_STOPPED / SIGSTOP", si.si_code == CLD_STOPPED && si.si_status == SIGSTOP &&
                                       si.si_pid == pid && si.si_signo == SIGCHLD);
    kill(pid, SIGCONT);
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_PID, pid, &si, WCONTINUED));
    CHECK("CLD_CONTINUED / SIGCONT", si.si_code == CLD_CONTINUED && si.si_status == SIGCONT);
    close(go[1]);
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
    CHECK("WNOWAIT: CLD_EXITED / 17", si.si_code == CLD_EXITED && si.si_status == 17);
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_ALL, 0, &si, WEXITED));
    CHECK("the zombie is still there: CLD_EXITED / 17",
          si.si_code == CLD_EXITED && si.si_status == 17 && si.si_pid == pid);
    EXPECT_ERRNO(waitid(P_PID, pid, &si, WEXITED), ECHILD);
    EXPECT_ERRNO(waitid(P_ALL, 0, &si, 0), EINVAL);
}

// ---- WNOHANG, groups, rusage --------------------------------------------------------------

static void test_nohang_groups(void) {
    NOTE("WNOHANG on a running child");
    int go[2];
    EXPECT_OK(pipe(go));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        _exit(read(go[0], &c, 1) == 0 ? 3 : 4);
    }
    close(go[0]);
    int st;
    EXPECT_EQ(waitpid(pid, &st, WNOHANG), 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_EQ(waitid(P_PID, pid, &si, WEXITED | WNOHANG), 0);
    EXPECT_EQ(si.si_pid, 0);
    close(go[1]);  // EOF: the child exits with 3.
    struct rusage ru;
    EXPECT_EQ(wait4(pid, &st, 0, &ru), pid);
    CHECK("exits with 3", WIFEXITED(st) && WEXITSTATUS(st) == 3);
    EXPECT_ERRNO(waitpid(pid, &st, WNOHANG), ECHILD);

    NOTE("waiting by process group");
    pid_t a = spawn_exit(11);
    fflush(stdout);
    pid_t b = fork();
    if (b == 0) {
        setpgid(0, 0);
        _exit(12);
    }
    setpgid(b, b);  // Either side may win the race; both set the same group.
    EXPECT_EQ(waitpid(-b, &st, 0), b);
    CHECK("waitpid(-pgid) reaps the child of that group", WEXITSTATUS(st) == 12);
    EXPECT_EQ(waitpid(0, &st, 0), a);
    CHECK("waitpid(0) reaps the child of our group", WEXITSTATUS(st) == 11);
    memset(&si, 0, sizeof si);
    pid_t c = spawn_exit(13);
    EXPECT_OK(waitid(P_PGID, getpgrp(), &si, WEXITED));
    CHECK("waitid(P_PGID)", si.si_pid == c && si.si_status == 13);
    EXPECT_ERRNO(waitpid(-1, &st, 0), ECHILD);
}

// ---- SIGCHLD ------------------------------------------------------------------------------

static volatile int chld_count, chld_code, chld_status;
static volatile pid_t chld_pid;

static void on_chld(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void test_sigchld(void) {
    NOTE("SIGCHLD with its siginfo");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    pid_t pid = spawn_exit(21);
    sigset_t none;
    sigemptyset(&none);
    while (chld_count == 0) {
        sigsuspend(&none);
    }
    EXPECT_EQ(chld_code, CLD_EXITED);
    EXPECT_EQ(chld_status, 21);
    CHECK("si_pid is the child", chld_pid == pid);
    waitpid(pid, NULL, 0);

    chld_count = 0;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        no_core_dumps();
        raise(SIGTERM);
        _exit(0);
    }
    while (chld_count == 0) {
        sigsuspend(&none);
    }
    EXPECT_EQ(chld_code, CLD_KILLED);
    EXPECT_EQ(chld_status, SIGTERM);
    waitpid(pid, NULL, 0);

    NOTE("stops send SIGCHLD unless SA_NOCLDSTOP");
    chld_count = 0;
    pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(0);
    }
    while (chld_count == 0) {
        sigsuspend(&none);
    }
    EXPECT_EQ(chld_code, CLD_STOPPED);
    EXPECT_EQ(chld_status, SIGSTOP);
    int st;
    waitpid(pid, &st, WUNTRACED);
    sa.sa_flags |= SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    chld_count = 0;
    kill(pid, SIGCONT);
    waitpid(pid, &st, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK("the exit was signalled, not the continue", chld_count == 1 && chld_code == CLD_EXITED);

    NOTE("SIGCHLD ignored: children leave no zombie");
    signal(SIGCHLD, SIG_IGN);
    pid = spawn_exit(1);
    EXPECT_ERRNO(waitpid(pid, &st, 0), ECHILD);
    signal(SIGCHLD, SIG_DFL);
}

// ---- vfork --------------------------------------------------------------------------------

static void test_vfork(void) {
    NOTE("vfork: the parent waits for the child's _exit");
    fflush(stdout);
    volatile int shared = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        shared = 1;  // The same memory: the parent sees it.
        _exit(31);
    }
    EXPECT_EQ(shared, 1);
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("exit status 31", WIFEXITED(st) && WEXITSTATUS(st) == 31);
}

// ---- zombies and orphans ------------------------------------------------------------------

static void test_zombies_and_orphans(void) {
    NOTE("a zombie stays until reaped");
    int done[2];
    EXPECT_OK(pipe(done));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(done[0]);
        _exit(0);  // Closing the write end tells the parent it has exited.
    }
    close(done[1]);
    char c;
    EXPECT_EQ(read(done[0], &c, 1), 0);
    close(done[0]);
    usleep(20000);
    EXPECT_OK(kill(pid, 0));  // A zombie can still be signalled.
    char path[64], state = '?';
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%*d %*s %c", &state) != 1) {
            state = '?';
        }
        fclose(f);
    }
    EXPECT_EQ(state, 'Z');
    EXPECT_EQ(waitpid(pid, NULL, 0), pid);
    EXPECT_ERRNO(kill(pid, 0), ESRCH);

    NOTE("orphans are reparented to the subreaper and reaped by it");
    EXPECT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
    int report[2];
    EXPECT_OK(pipe(report));
    pid_t me = getpid();
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        pid_t first = getpid();
        pid_t grandchild = fork();
        if (grandchild == 0) {
            // Wait for the parent to die, then report who adopted us.
            while (getppid() == first) {
                usleep(1000);
            }
            char ok = getppid() == me ? 'y' : 'n';
            if (write(report[1], &ok, 1) != 1) {
                _exit(2);
            }
            _exit(44);
        }
        _exit(0);
    }
    close(report[1]);
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    char ok = 0;
    EXPECT_EQ(read(report[0], &ok, 1), 1);
    EXPECT_EQ(ok, 'y');
    pid_t reaped = waitpid(-1, &st, 0);
    CHECK("the grandchild is reaped by us", reaped > 0 && reaped != pid);
    CHECK("with its exit status 44", WIFEXITED(st) && WEXITSTATUS(st) == 44);
    EXPECT_ERRNO(wait(NULL), ECHILD);
    close(report[0]);
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

// waitid(P_PIDFD): a pidfd names the child; one opened with PIDFD_NONBLOCK makes the wait
// WNOHANG, and nothing to report is then EAGAIN (unless the caller passed WNOHANG itself).
static void test_pidfd_wait(void) {
    NOTE("waitid(P_PIDFD)");
    int go[2];
    EXPECT_OK(pipe(go));
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1) {
            _exit(9);
        }
        _exit(7);
    }
    close(go[0]);
    int nb = (int)syscall(SYS_pidfd_open, pid, O_NONBLOCK);
    EXPECT_CMP(nb, >=, 0);
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    EXPECT_CMP(fd, >=, 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_ERRNO(waitid(P_PIDFD, nb, &si, WEXITED), EAGAIN);
    si.si_pid = 1;
    EXPECT_EQ(waitid(P_PIDFD, nb, &si, WEXITED | WNOHANG), 0);
    EXPECT_EQ(si.si_pid, 0);
    EXPECT_ERRNO(waitid(P_PIDFD, go[1], &si, WEXITED), EBADF);
    EXPECT_ERRNO(waitid(P_PIDFD, -1, &si, WEXITED), EINVAL);
    EXPECT_ERRNO(waitid(P_PIDFD, 999, &si, WEXITED), EBADF);
    EXPECT_EQ(write(go[1], "x", 1), 1);
    memset(&si, 0, sizeof si);
    EXPECT_EQ(waitid(P_PIDFD, fd, &si, WEXITED), 0);
    EXPECT_EQ(si.si_pid, pid);
    EXPECT_EQ(si.si_code, CLD_EXITED);
    EXPECT_EQ(si.si_status, 7);
    // Reaped: nothing left to wait for through either pidfd.
    EXPECT_ERRNO(waitid(P_PIDFD, nb, &si, WEXITED), ECHILD);
    EXPECT_OK(close(go[1]));
    EXPECT_OK(close(nb));
    EXPECT_OK(close(fd));
}

// With only a zombie child, a wait for stops or continues alone has nothing to wait for:
// ECHILD (a zombie counts only for WEXITED), rather than blocking.
static void test_zombie_only_waits(void) {
    NOTE("waits that a zombie cannot satisfy");
    pid_t p = fork();
    if (p == 0) {
        _exit(3);
    }
    siginfo_t si;
    // Wait for it to be a zombie without reaping it.
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_PID, p, &si, WEXITED | WNOWAIT));
    EXPECT_ERRNO(waitid(P_ALL, 0, &si, WSTOPPED), ECHILD);
    EXPECT_ERRNO(waitid(P_PID, p, &si, WCONTINUED), ECHILD);
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_ALL, 0, &si, WEXITED));
    EXPECT_EQ(si.si_pid, p);
    EXPECT_EQ(si.si_status, 3);
}

int main(void) {
    test_zombie_only_waits();
    test_pidfd_wait();
    test_tree();
    test_exit_codes();
    test_signaled();
    test_stop_continue();
    test_nohang_groups();
    test_sigchld();
    test_vfork();
    test_zombies_and_orphans();
    return guest_done();
}
