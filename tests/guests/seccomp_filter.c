// SPDX-License-Identifier: Apache-2.0
//
// seccomp inside the sandbox: the sentry runs the program's own filters (issue 14 item 5).
// seccomp(2) and prctl(PR_SET_SECCOMP/PR_GET_SECCOMP), the checks a filter must pass (EINVAL,
// EFAULT, EACCES, ENOMEM, EBUSY), every return action (KILL_PROCESS, KILL_THREAD, TRAP with
// its siginfo, ERRNO capped at 4095, USER_NOTIF, TRACE without a tracer, LOG, ALLOW) and their
// precedence across a chain, argument filtering, inheritance across fork and execve, TSYNC,
// strict mode, the user-notification listener (RECV, SEND, ID_VALID, ADDFD, CONTINUE, poll,
// a signal while notified, the listener closed) and /proc/[pid]/status.
//
// A filter cannot be removed, so each scenario runs in a child process; its checks print as
// they go and its exit status says whether all passed. Run as `seccomp_filter exec-check N`,
// it is the image execve'd under a filter and checks that the filter (N of them) is still there.

#include "guest.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <ucontext.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1  // SIGSYS si_code of a seccomp trap
#endif

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD_ARG0_LO BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define LOAD_ARG0_HI \
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4)
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
// If the loaded value is `nr`, return `ret`; otherwise go on.
#define ON(nr, ret) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), RET(ret)

static long sys_seccomp(unsigned op, unsigned flags, void *args) {
    return syscall(SYS_seccomp, op, flags, args);
}

static long install(struct sock_filter *f, unsigned short len, unsigned flags) {
    struct sock_fprog prog = {.len = len, .filter = f};
    return sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog);
}

#define INSTALL(f, flags) install((f), sizeof(f) / sizeof((f)[0]), (flags))

// A call nobody makes behind the program's back (not glibc's start-up, not stdio).
#define PROBE SYS_getpgid

// The status line `key` of /proc/self/status (or of `path`), as a number; -1 if missing.
static long status_field(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

// Runs `fn` in a child process; returns its wait status.
static int in_child(int (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        guest_failures = 0;  // the child's own checks decide its status
        _exit(fn());
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return status;
}

static int exited_ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Killed by `sig`, without a core dump (main sets RLIMIT_CORE to 0, so none is written).
static int killed_by(int status, int sig) {
    return WIFSIGNALED(status) && WTERMSIG(status) == sig && !WCOREDUMP(status);
}

static int child_failures(void) {
    return guest_failures == 0 ? 0 : 1;
}

// ---- the interface without filters ------------------------------------------------------

static void interface(void) {
    NOTE("the interface");
    EXPECT_EQ(prctl(PR_GET_SECCOMP), 0);
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp"), 0);
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp_filters"), 0);
    unsigned actions[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
                          SECCOMP_RET_ERRNO,        SECCOMP_RET_USER_NOTIF,  SECCOMP_RET_TRACE,
                          SECCOMP_RET_LOG,          SECCOMP_RET_ALLOW};
    int all = 1;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        all &= sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &actions[i]) == 0;
    }
    CHECK("every action is available", all);
    unsigned bogus = 0x00010000;
    EXPECT_ERRNO(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &bogus), EOPNOTSUPP);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 1, &actions[0]), EINVAL);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, (void *)8), EFAULT);
    struct seccomp_notif_sizes sizes;
    memset(&sizes, 0, sizeof sizes);
    EXPECT_OK(sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes));
    EXPECT_EQ(sizes.seccomp_notif, 80);
    EXPECT_EQ(sizes.seccomp_notif_resp, 24);
    EXPECT_EQ(sizes.seccomp_data, 64);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 1, &sizes), EINVAL);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, (void *)8), EFAULT);
    EXPECT_ERRNO(sys_seccomp(99, 0, NULL), EINVAL);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, &sizes), EINVAL);
    EXPECT_ERRNO(prctl(PR_SET_SECCOMP, 3, 0, 0, 0), EINVAL);
}

// ---- what a filter must be -----------------------------------------------------------------

static void validation(void) {
    NOTE("filter checks");
    struct sock_filter allow[] = {RET(SECCOMP_RET_ALLOW)};
    struct sock_fprog p = {.len = 0, .filter = allow};
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p), EINVAL);
    p.len = BPF_MAXINSNS + 1;
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p), EINVAL);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, (void *)8), EFAULT);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, NULL), EFAULT);
    p.len = 1;
    p.filter = (struct sock_filter *)8;
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p), EFAULT);
    // Flags are checked before the program.
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_FILTER, 1u << 6, (void *)8), EINVAL);
    EXPECT_ERRNO(INSTALL(allow, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER),
                 EINVAL);
    EXPECT_ERRNO(INSTALL(allow, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), EINVAL);

    struct sock_filter unaligned[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), RET(0)};
    EXPECT_ERRNO(INSTALL(unaligned, 0), EINVAL);
    struct sock_filter past[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), RET(0)};
    EXPECT_ERRNO(INSTALL(past, 0), EINVAL);
    struct sock_filter half[] = {BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), RET(0)};
    EXPECT_ERRNO(INSTALL(half, 0), EINVAL);
    struct sock_filter ind[] = {BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), RET(0)};
    EXPECT_ERRNO(INSTALL(ind, 0), EINVAL);
    struct sock_filter no_ret[] = {LOAD_NR};
    EXPECT_ERRNO(INSTALL(no_ret, 0), EINVAL);
    struct sock_filter far_jump[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), RET(0)};
    EXPECT_ERRNO(INSTALL(far_jump, 0), EINVAL);
    struct sock_filter far_ja[] = {BPF_STMT(BPF_JMP | BPF_JA, 1), RET(0)};
    EXPECT_ERRNO(INSTALL(far_ja, 0), EINVAL);
    struct sock_filter div0[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET(0)};
    EXPECT_ERRNO(INSTALL(div0, 0), EINVAL);
    struct sock_filter mod[] = {BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), RET(0)};
    EXPECT_ERRNO(INSTALL(mod, 0), EINVAL);
    struct sock_filter shift[] = {BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), RET(0)};
    EXPECT_ERRNO(INSTALL(shift, 0), EINVAL);
    struct sock_filter unset_mem[] = {BPF_STMT(BPF_LD | BPF_MEM, 3), RET(0)};
    EXPECT_ERRNO(INSTALL(unset_mem, 0), EINVAL);
    struct sock_filter bad_mem[] = {BPF_STMT(BPF_ST, 16), RET(0)};
    EXPECT_ERRNO(INSTALL(bad_mem, 0), EINVAL);
    struct sock_filter bad_op[] = {{0xffff, 0, 0, 0}, RET(0)};
    EXPECT_ERRNO(INSTALL(bad_op, 0), EINVAL);
    EXPECT_ERRNO(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p), EFAULT);
    // Nothing was attached by any of these.
    EXPECT_EQ(prctl(PR_GET_SECCOMP), 0);
}

// Without no_new_privs an unprivileged task may not install a filter.
static int eacces_child(void) {
    if (setgid(65534) != 0 || setuid(65534) != 0) {
        return 2;
    }
    struct sock_filter allow[] = {RET(SECCOMP_RET_ALLOW)};
    EXPECT_ERRNO(INSTALL(allow, 0), EACCES);
    EXPECT_EQ(prctl(PR_GET_SECCOMP), 0);
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    EXPECT_EQ(INSTALL(allow, 0), 0);
    EXPECT_EQ(prctl(PR_GET_SECCOMP), 2);
    return child_failures();
}

// The instructions of a task's filters are bounded together (ENOMEM).
static int enomem_child(void) {
    static struct sock_filter big[BPF_MAXINSNS];
    for (int i = 0; i < BPF_MAXINSNS; i++) {
        big[i] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int attached = 0;
    while (install(big, BPF_MAXINSNS, 0) == 0) {
        attached++;
    }
    int e = errno;
    EXPECT_EQ(attached, 3);  // each counts its eBPF translation: 8195 + 4
    EXPECT_EQ(e, ENOMEM);
    struct sock_filter small[] = {RET(SECCOMP_RET_ALLOW)};
    EXPECT_EQ(INSTALL(small, 0), 0);  // 3 * 8199 + 5 <= 32768
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp_filters"), 4);
    return child_failures();
}

// ---- ERRNO, argument filtering, precedence --------------------------------------------------

static int errno_child(void) {
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    long ppid = getppid();
    struct sock_filter f[] = {
        LOAD_NR,
        ON(SYS_getuid, SECCOMP_RET_ERRNO | EPERM),
        ON(SYS_getgid, SECCOMP_RET_ERRNO | 0xffff),
        ON(SYS_getegid, SECCOMP_RET_ERRNO | 0),
        ON(SYS_getppid, SECCOMP_RET_LOG),
        ON(SYS_geteuid, SECCOMP_RET_TRACE),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 6),
        LOAD_ARG0_LO,
        ON(100, SECCOMP_RET_ERRNO | ENOTTY),
        LOAD_ARG0_HI,
        ON(1, SECCOMP_RET_ERRNO | E2BIG),
        RET(SECCOMP_RET_ALLOW),
        RET(SECCOMP_RET_ALLOW),
    };
    EXPECT_EQ(INSTALL(f, 0), 0);
    EXPECT_EQ(prctl(PR_GET_SECCOMP), 2);
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp"), 2);
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp_filters"), 1);
    EXPECT_EQ(status_field("/proc/self/status", "NoNewPrivs"), 1);
    EXPECT_ERRNO(syscall(SYS_getuid), EPERM);
    errno = 0;
    long r = syscall(SYS_getgid);
    CHECK("ERRNO data is capped at 4095", r == -1 && errno == 4095);
    EXPECT_EQ(syscall(SYS_getegid), 0);  // ERRNO 0: returns 0 without running
    EXPECT_EQ(syscall(SYS_getppid), ppid);  // LOG: runs
    EXPECT_ERRNO(syscall(SYS_geteuid), ENOSYS);  // TRACE without a tracer
    EXPECT_ERRNO(syscall(SYS_dup, 100), ENOTTY);
    EXPECT_ERRNO(syscall(SYS_dup, 0x100000001L), E2BIG);
    int fd = EXPECT_OK((int)syscall(SYS_dup, 1));
    close(fd);

    // A second filter: the most restrictive action wins, the newest filter among equals.
    struct sock_filter g[] = {
        LOAD_NR,
        ON(SYS_getuid, SECCOMP_RET_ERRNO | EACCES),
        ON(SYS_getegid, SECCOMP_RET_ERRNO | EROFS),
        ON(SYS_getppid, SECCOMP_RET_ALLOW),
        ON(SYS_geteuid, SECCOMP_RET_ERRNO | ENXIO),
        ON(SYS_getgid, SECCOMP_RET_LOG),
        RET(SECCOMP_RET_ALLOW),
    };
    EXPECT_EQ(INSTALL(g, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW), 0);
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp_filters"), 2);
    EXPECT_ERRNO(syscall(SYS_getuid), EACCES);   // ERRNO = ERRNO: the newer filter's
    EXPECT_ERRNO(syscall(SYS_getegid), EROFS);   // ERRNO and ERRNO 0: the newer filter's
    EXPECT_EQ(syscall(SYS_getppid), ppid);       // LOG and ALLOW: runs
    EXPECT_ERRNO(syscall(SYS_geteuid), ENXIO);   // ERRNO beats TRACE
    errno = 0;
    r = syscall(SYS_getgid);
    CHECK("ERRNO beats LOG", r == -1 && errno == 4095);
    return child_failures();
}

// ---- TRAP ------------------------------------------------------------------------------------

static volatile int trap_signo, trap_code, trap_errno, trap_syscall, trap_count;
static volatile unsigned trap_arch;
static volatile void *trap_addr;
static volatile long trap_rax;

// A system call whose return address the test knows (si_call_addr).
__attribute__((noinline)) static long raw_syscall1(long nr, long a0) {
    long ret;
    __asm__ volatile(
        "syscall\n"
        ".globl seccomp_guest_after_syscall\n"
        "seccomp_guest_after_syscall:\n"
        : "=a"(ret)
        : "a"(nr), "D"(a0)
        : "rcx", "r11", "memory");
    return ret;
}
extern char seccomp_guest_after_syscall[];

static void on_sigsys(int sig, siginfo_t *si, void *uc_) {
    ucontext_t *uc = uc_;
    trap_signo = sig;
    trap_code = si->si_code;
    trap_errno = si->si_errno;
    trap_syscall = si->si_syscall;
    trap_arch = si->si_arch;
    trap_addr = si->si_call_addr;
    trap_rax = uc->uc_mcontext.gregs[REG_RAX];
    trap_count++;
    uc->uc_mcontext.gregs[REG_RAX] = 42;  // what the call "returns"
}

static int trap_child(void) {
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    EXPECT_OK(sigaction(SIGSYS, &sa, NULL));
    EXPECT_OK(dup2(1, 77));
    struct sock_filter f[] = {
        LOAD_NR,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close, 0, 3),
        LOAD_ARG0_LO,
        ON(77, SECCOMP_RET_TRAP | 0x123),
        RET(SECCOMP_RET_ALLOW),
    };
    EXPECT_EQ(INSTALL(f, 0), 0);
    long r = raw_syscall1(SYS_close, 77);
    EXPECT_EQ(r, 42);
    EXPECT_EQ(trap_count, 1);
    EXPECT_EQ(trap_signo, SIGSYS);
    EXPECT_EQ(trap_code, SYS_SECCOMP);
    EXPECT_EQ(trap_errno, 0x123);
    EXPECT_EQ(trap_syscall, SYS_close);
    EXPECT_EQ(trap_arch, AUDIT_ARCH_X86_64);
    CHECK("si_call_addr is after the syscall instruction",
          trap_addr == (void *)seccomp_guest_after_syscall);
    EXPECT_EQ(trap_rax, SYS_close);  // the registers as at entry
    EXPECT_OK(fcntl(77, F_GETFD));   // the call did not run
    EXPECT_EQ(close(77), 42);  // through libc: trapped too
    EXPECT_EQ(trap_count, 2);
    // With SIGSYS blocked, the trap ends the process.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSYS);
    sigprocmask(SIG_BLOCK, &set, NULL);
    fflush(stdout);
    raw_syscall1(SYS_close, 77);
    return 3;  // not reached
}

// ---- KILL_PROCESS, KILL_THREAD ---------------------------------------------------------------

static int kill_process_child(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_KILL_PROCESS), RET(SECCOMP_RET_ALLOW)};
    if (INSTALL(f, 0) != 0) {
        return 2;
    }
    syscall(PROBE, 0);
    return 3;
}

static void *probe_thread(void *arg) {
    syscall(PROBE, 0);
    *(volatile int *)arg = 1;  // not reached
    return NULL;
}

// KILL_PROCESS from a second thread ends every thread.
static int kill_process_thread_child(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_KILL_PROCESS), RET(SECCOMP_RET_ALLOW)};
    if (INSTALL(f, 0) != 0) {
        return 2;
    }
    static int after;
    pthread_t th;
    pthread_create(&th, NULL, probe_thread, &after);
    pthread_join(th, NULL);
    return 3;
}

// KILL_THREAD from a second thread ends only that thread.
static int kill_thread_child(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_KILL_THREAD), RET(SECCOMP_RET_ALLOW)};
    if (INSTALL(f, 0) != 0) {
        return 2;
    }
    static int after;
    pthread_t th;
    pthread_create(&th, NULL, probe_thread, &after);
    pthread_join(th, NULL);
    EXPECT_EQ(after, 0);
    return child_failures();
}

// KILL_THREAD of the only thread ends the process by SIGSYS; so does an unknown action.
static int kill_thread_last_child(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_KILL_THREAD), RET(SECCOMP_RET_ALLOW)};
    if (INSTALL(f, 0) != 0) {
        return 2;
    }
    syscall(PROBE, 0);
    return 3;
}

static int unknown_action_child(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, 0x00010000), RET(SECCOMP_RET_ALLOW)};
    if (INSTALL(f, 0) != 0) {
        return 2;
    }
    syscall(PROBE, 0);
    return 3;
}

// ---- inheritance across fork and execve ------------------------------------------------------

static const char *self_exe;

static int inherit_child(void) {
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_ERRNO | EMLINK),
                              RET(SECCOMP_RET_ALLOW)};
    EXPECT_EQ(INSTALL(f, 0), 0);
    struct sock_filter g[] = {LOAD_NR, ON(SYS_getuid, SECCOMP_RET_ERRNO | EXDEV),
                              RET(SECCOMP_RET_ALLOW)};
    EXPECT_EQ(INSTALL(g, 0), 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        // The forked child has both filters.
        int ok = syscall(PROBE, 0) == -1 && errno == EMLINK && syscall(SYS_getuid) == -1 &&
                 errno == EXDEV && prctl(PR_GET_SECCOMP) == 2 &&
                 status_field("/proc/self/status", "Seccomp_filters") == 2;
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK("a forked child keeps the filters", exited_ok(status));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execl(self_exe, self_exe, "exec-check", "2", (char *)NULL);
        _exit(4);
    }
    waitpid(pid, &status, 0);
    CHECK("an execve'd image keeps the filters", exited_ok(status));
    if (!exited_ok(status)) {
        printf("# exec-check status %#x\n", status);
    }
    return child_failures();
}

static int exec_check(int filters) {
    if (syscall(PROBE, 0) != -1 || errno != EMLINK) {
        return 11;
    }
    if (syscall(SYS_getuid) != -1 || errno != EXDEV) {
        return 12;
    }
    if (prctl(PR_GET_SECCOMP) != 2 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        return 13;
    }
    if (status_field("/proc/self/status", "Seccomp_filters") != filters ||
        status_field("/proc/self/status", "Seccomp") != 2) {
        return 14;
    }
    return 0;
}

// ---- TSYNC -------------------------------------------------------------------------------------

static int tsync_go[2], tsync_done[2];
static volatile long tsync_result, tsync_errno, tsync_tid;

static void *tsync_thread(void *arg) {
    int own_filter = *(int *)arg;
    tsync_tid = syscall(SYS_gettid);
    if (own_filter) {
        struct sock_filter f[] = {LOAD_NR, ON(SYS_getuid, SECCOMP_RET_ERRNO | EXDEV),
                                  RET(SECCOMP_RET_ALLOW)};
        INSTALL(f, 0);
    }
    char c;
    write(tsync_done[1], "r", 1);
    read(tsync_go[0], &c, 1);
    errno = 0;
    tsync_result = syscall(PROBE, 0);
    tsync_errno = errno;
    write(tsync_done[1], "d", 1);
    return NULL;
}

static int tsync_child(void) {
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    pipe(tsync_go);
    pipe(tsync_done);
    static int no = 0, yes = 1;
    pthread_t th;
    char c;
    pthread_create(&th, NULL, tsync_thread, &no);
    read(tsync_done[0], &c, 1);
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_ERRNO | EMLINK),
                              RET(SECCOMP_RET_ALLOW)};
    EXPECT_EQ(INSTALL(f, SECCOMP_FILTER_FLAG_TSYNC), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/status", (long)tsync_tid);
    EXPECT_EQ(status_field(path, "Seccomp"), 2);
    EXPECT_EQ(status_field(path, "Seccomp_filters"), 1);
    write(tsync_go[1], "g", 1);
    read(tsync_done[0], &c, 1);
    pthread_join(th, NULL);
    CHECK("TSYNC reached the other thread", tsync_result == -1 && tsync_errno == EMLINK);

    // A thread on a filter chain of its own cannot be synchronised: its id comes back, or
    // ESRCH with TSYNC_ESRCH, and nothing is attached.
    pthread_create(&th, NULL, tsync_thread, &yes);
    read(tsync_done[0], &c, 1);
    struct sock_filter g[] = {LOAD_NR, ON(SYS_getgid, SECCOMP_RET_ERRNO | ENXIO),
                              RET(SECCOMP_RET_ALLOW)};
    long r = INSTALL(g, SECCOMP_FILTER_FLAG_TSYNC);
    CHECK("TSYNC returns the thread that cannot follow", r == tsync_tid);
    EXPECT_ERRNO(INSTALL(g, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH), ESRCH);
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp_filters"), 1);
    EXPECT_OK(syscall(SYS_getgid));
    write(tsync_go[1], "g", 1);
    read(tsync_done[0], &c, 1);
    pthread_join(th, NULL);
    // Without TSYNC the new thread's filter stays its own: this thread's calls are as before.
    EXPECT_OK(syscall(SYS_getuid));
    return child_failures();
}

// ---- strict mode -----------------------------------------------------------------------------

static int strict_child(void) {
    int fds[2];
    if (pipe(fds) != 0) {
        return 2;
    }
    fflush(stdout);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0) {
        return 2;
    }
    // read, write, exit and rt_sigreturn only.
    static const char msg[] = "# strict mode: write works\n";
    if (write(1, msg, sizeof msg - 1) != sizeof msg - 1) {
        syscall(SYS_exit, 5);
    }
    char c;
    if (write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1 || c != 'x') {
        syscall(SYS_exit, 6);
    }
    syscall(SYS_getpid);  // SIGKILL
    syscall(SYS_exit, 7);
    return 8;
}

static int strict_exit_child(void) {
    if (sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL) != 0) {
        return 2;
    }
    syscall(SYS_exit, 9);  // exit is allowed; exit_group is not
    return 8;
}

static int strict_after_filter_child(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter allow[] = {RET(SECCOMP_RET_ALLOW)};
    EXPECT_EQ(INSTALL(allow, 0), 0);
    EXPECT_ERRNO(sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL), EINVAL);
    EXPECT_ERRNO(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0), EINVAL);
    // A listener-less USER_NOTIF: ENOSYS.
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_USER_NOTIF), RET(SECCOMP_RET_ALLOW)};
    EXPECT_EQ(INSTALL(f, 0), 0);
    EXPECT_ERRNO(syscall(PROBE, 0), ENOSYS);
    // prctl(PR_SET_SECCOMP, FILTER) installs too.
    struct sock_filter g[] = {LOAD_NR, ON(SYS_getuid, SECCOMP_RET_ERRNO | EXDEV),
                              RET(SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = sizeof g / sizeof g[0], .filter = g};
    EXPECT_EQ(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), 0);
    EXPECT_ERRNO(syscall(SYS_getuid), EXDEV);
    EXPECT_EQ(status_field("/proc/self/status", "Seccomp_filters"), 3);
    return child_failures();
}

// ---- user notification -----------------------------------------------------------------------

static int listener = -1;
static int sup_go[2];
static volatile pid_t target_tid;
static volatile int sup_failures;
static int spare_fd;

#define SUP_CHECK(cond)                       \
    do {                                      \
        if (!(cond)) {                        \
            sup_failures++;                   \
            fprintf(stderr, "supervisor: %s failed (errno %d)\n", #cond, errno); \
        }                                     \
    } while (0)

static int recv_one(struct seccomp_notif *n) {
    memset(n, 0, sizeof *n);
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n);
}

static int reply(__u64 id, long val, int error, unsigned flags) {
    struct seccomp_notif_resp r = {.id = id, .val = val, .error = error, .flags = flags};
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

static void *supervisor(void *arg) {
    (void)arg;
    char c;
    read(sup_go[0], &c, 1);  // the listener is there
    struct pollfd p = {.fd = listener, .events = POLLIN | POLLOUT};

    // 1: a value.
    SUP_CHECK(poll(&p, 1, -1) == 1 && p.revents == POLLIN);
    struct seccomp_notif n;
    SUP_CHECK(recv_one(&n) == 0);
    SUP_CHECK(n.data.nr == PROBE && n.data.args[0] == 1234 && n.pid == (__u32)target_tid);
    SUP_CHECK(n.data.arch == AUDIT_ARCH_X86_64 && n.data.instruction_pointer != 0);
    SUP_CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT);
    SUP_CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) == 0);
    __u64 bogus = n.id + 1000;
    SUP_CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &bogus) == -1 && errno == ENOENT);
    SUP_CHECK(reply(bogus, 0, 0, 0) == -1 && errno == ENOENT);
    SUP_CHECK(reply(n.id, 1, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE) == -1 && errno == EINVAL);
    SUP_CHECK(reply(n.id, 0, 0, 2) == -1 && errno == EINVAL);
    SUP_CHECK(reply(n.id, 4321, 0, 0) == 0);

    // 2: an error.
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 5);
    SUP_CHECK(reply(n.id, 0, -EPERM, 0) == 0);

    // 3: continue.
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 0);
    SUP_CHECK(reply(n.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE) == 0);

    // 4: a descriptor added and returned at once.
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 6);
    struct seccomp_notif_addfd add = {.id = n.id, .flags = SECCOMP_ADDFD_FLAG_SEND,
                                      .srcfd = (__u32)spare_fd, .newfd = 0, .newfd_flags = 0};
    int got = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
    SUP_CHECK(got >= 0);
    SUP_CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) == -1 && errno == ENOENT);

    // 5: a descriptor at a chosen number, then the answer.
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 7);
    struct seccomp_notif_addfd bad = {.id = n.id, .flags = 0, .srcfd = (__u32)spare_fd,
                                      .newfd = 60, .newfd_flags = 0};
    SUP_CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &bad) == -1 && errno == EINVAL);
    bad.flags = SECCOMP_ADDFD_FLAG_SETFD;
    bad.newfd_flags = O_CLOEXEC;
    SUP_CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &bad) == 60);
    bad.srcfd = 999;
    SUP_CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &bad) == -1 && errno == EBADF);
    SUP_CHECK(reply(n.id, 60, 0, 0) == 0);

    // 6: a signal while the target waits, no SA_RESTART: EINTR, and the notification is gone.
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 8);
    syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1);
    while (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) == 0) {
        usleep(1000);
    }
    SUP_CHECK(errno == ENOENT);
    SUP_CHECK(reply(n.id, 0, 0, 0) == -1 && errno == ENOENT);

    // 7: with SA_RESTART the call is made (and notified) again.
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 9);
    __u64 first = n.id;
    syscall(SYS_tgkill, getpid(), target_tid, SIGUSR2);
    while (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &first) == 0) {
        usleep(1000);
    }
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 9 && n.id != first);
    SUP_CHECK(reply(n.id, 99, 0, 0) == 0);

    // 8: the listener closed: ENOSYS from then on (also to a waiting call).
    SUP_CHECK(recv_one(&n) == 0 && n.data.args[0] == 10);
    close(listener);
    return NULL;
}

static volatile int usr_handled;
static void on_usr(int sig) {
    (void)sig;
    usr_handled++;
}

static int notify_child(void) {
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    target_tid = (pid_t)syscall(SYS_gettid);
    spare_fd = EXPECT_OK(open("/proc/self/status", O_RDONLY));
    struct stat spare;
    fstat(spare_fd, &spare);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
    pipe(sup_go);
    pthread_t th;
    pthread_create(&th, NULL, supervisor, NULL);  // before the filter: not filtered
    struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_USER_NOTIF), RET(SECCOMP_RET_ALLOW)};
    listener = (int)INSTALL(f, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    EXPECT_GE(listener, 0);
    EXPECT_EQ(fcntl(listener, F_GETFD), FD_CLOEXEC);
    char link[64] = "";
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", listener);
    readlink(path, link, sizeof link - 1);
    EXPECT_STREQ(link, "anon_inode:seccomp notify");
    // One listener per chain.
    EXPECT_ERRNO(INSTALL(f, SECCOMP_FILTER_FLAG_NEW_LISTENER), EBUSY);
    // An unknown ioctl, and a RECV buffer that is not zeroed.
    struct seccomp_notif dirty;
    memset(&dirty, 1, sizeof dirty);
    EXPECT_ERRNO(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &dirty), EINVAL);
    EXPECT_ERRNO(ioctl(listener, FIONREAD, &dirty), EINVAL);
    struct pollfd idle = {.fd = listener, .events = POLLIN | POLLOUT};
    EXPECT_EQ(poll(&idle, 1, 0), 0);  // nothing pending
    write(sup_go[1], "g", 1);

    EXPECT_EQ(syscall(PROBE, 1234), 4321);
    EXPECT_ERRNO(syscall(PROBE, 5), EPERM);
    EXPECT_EQ(syscall(PROBE, 0), getpgrp());
    long fd = syscall(PROBE, 6);
    EXPECT_GE(fd, 0);
    struct stat st;
    CHECK("ADDFD|SEND returns the added descriptor",
          fstat((int)fd, &st) == 0 && st.st_ino == spare.st_ino && st.st_dev == spare.st_dev);
    EXPECT_EQ(fcntl((int)fd, F_GETFD), 0);
    EXPECT_EQ(syscall(PROBE, 7), 60);
    CHECK("ADDFD with SETFD puts it at the chosen number",
          fstat(60, &st) == 0 && st.st_ino == spare.st_ino);
    EXPECT_EQ(fcntl(60, F_GETFD), FD_CLOEXEC);
    EXPECT_ERRNO(syscall(PROBE, 8), EINTR);
    EXPECT_EQ(usr_handled, 1);
    EXPECT_EQ(syscall(PROBE, 9), 99);
    EXPECT_EQ(usr_handled, 2);
    EXPECT_ERRNO(syscall(PROBE, 10), ENOSYS);
    pthread_join(th, NULL);
    EXPECT_EQ(sup_failures, 0);
    EXPECT_ERRNO(syscall(PROBE, 11), ENOSYS);
    return child_failures();
}

// A supervisor process: the child with the filter passes its listener to the parent
// (SCM_RIGHTS), which answers.
static int notify_process_child(void) {
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct sock_filter f[] = {LOAD_NR, ON(PROBE, SECCOMP_RET_USER_NOTIF),
                                  RET(SECCOMP_RET_ALLOW)};
        int l = (int)INSTALL(f, SECCOMP_FILTER_FLAG_NEW_LISTENER);
        if (l < 0) {
            _exit(2);
        }
        char byte = 'l';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof u);
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                             .msg_controllen = sizeof u.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &l, sizeof l);
        if (sendmsg(sv[1], &msg, 0) != 1) {
            _exit(3);
        }
        close(l);
        long r = syscall(PROBE, 77);
        _exit(r == 7700 ? 0 : 1);
    }
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf};
    int fd = -1;
    if (recvmsg(sv[0], &msg, 0) == 1 && CMSG_FIRSTHDR(&msg) != NULL) {
        memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fd);
    }
    EXPECT_GE(fd, 0);
    struct seccomp_notif n;
    memset(&n, 0, sizeof n);
    EXPECT_OK(ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n));
    EXPECT_EQ(n.pid, pid);
    EXPECT_EQ(n.data.args[0], 77);
    struct seccomp_notif_resp r = {.id = n.id, .val = 7700, .error = 0, .flags = 0};
    EXPECT_OK(ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r));
    int status;
    waitpid(pid, &status, 0);
    CHECK("the child got the supervisor's answer", exited_ok(status));
    // Nobody uses the filter any more: POLLHUP.
    struct pollfd p = {.fd = fd, .events = POLLIN};
    EXPECT_EQ(poll(&p, 1, 1000), 1);
    EXPECT_EQ(p.revents, POLLHUP);
    return child_failures();
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "exec-check") == 0) {
        return exec_check(atoi(argv[2]));
    }
    self_exe = "/proc/self/exe";
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        self_exe = exe;
    }
    // No core files: a process killed by SIGSYS reports no core dump either (WCOREDUMP).
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    interface();
    validation();

    NOTE("no_new_privs or CAP_SYS_ADMIN");
    CHECK("an unprivileged task needs no_new_privs", exited_ok(in_child(eacces_child)));
    NOTE("MAX_INSNS_PER_PATH");
    CHECK("the chain's instructions are bounded", exited_ok(in_child(enomem_child)));
    NOTE("ERRNO, LOG, TRACE, arguments, precedence");
    CHECK("errno scenario", exited_ok(in_child(errno_child)));
    NOTE("TRAP");
    CHECK("a trap with SIGSYS blocked kills by SIGSYS", killed_by(in_child(trap_child), SIGSYS));
    NOTE("KILL_PROCESS and KILL_THREAD");
    CHECK("KILL_PROCESS kills by SIGSYS", killed_by(in_child(kill_process_child), SIGSYS));
    CHECK("KILL_PROCESS from a thread kills the process",
          killed_by(in_child(kill_process_thread_child), SIGSYS));
    CHECK("KILL_THREAD ends only the thread", exited_ok(in_child(kill_thread_child)));
    CHECK("KILL_THREAD of the last thread kills by SIGSYS",
          killed_by(in_child(kill_thread_last_child), SIGSYS));
    CHECK("an unknown action kills by SIGSYS", killed_by(in_child(unknown_action_child), SIGSYS));
    NOTE("inheritance");
    CHECK("fork and execve keep the filters", exited_ok(in_child(inherit_child)));
    NOTE("TSYNC");
    CHECK("tsync scenario", exited_ok(in_child(tsync_child)));
    NOTE("strict mode");
    CHECK("strict mode kills by SIGKILL", killed_by(in_child(strict_child), SIGKILL));
    int st = in_child(strict_exit_child);
    CHECK("strict mode allows exit", WIFEXITED(st) && WEXITSTATUS(st) == 9);
    CHECK("strict after filter", exited_ok(in_child(strict_after_filter_child)));
    NOTE("user notification");
    CHECK("a supervisor thread", exited_ok(in_child(notify_child)));
    CHECK("a supervisor process", exited_ok(in_child(notify_process_child)));
    EXPECT_EQ(prctl(PR_GET_SECCOMP), 0);
    return guest_done();
}
