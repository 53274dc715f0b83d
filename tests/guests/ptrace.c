// SPDX-License-Identifier: Apache-2.0
//
// ptrace inside the sandbox (issue 14): PTRACE_TRACEME and the exec SIGTRAP, PEEK/POKE of data
// and text, GETREGS/SETREGS changing a system call's result and skipping one, syscall stops with
// TRACESYSGOOD and GET_SYSCALL_INFO, TRACEFORK auto-attach, signal-delivery-stops (suppressing
// and injecting a signal, GETSIGINFO), SEIZE + INTERRUPT and the tracing stop in
// /proc/[pid]/status, the tracer's death (EXITKILL kills, otherwise the tracee goes free), and
// the errnos of bad requests. Only relations are printed, never pids or addresses.

#include "guest.h"

#include <signal.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif

static volatile long data_word = 42;

static void stop_self(void) {
    raise(SIGSTOP);
}

// Waits for pid (with __WALL) and returns its status.
static int wait_for(pid_t pid) {
    int st = 0;
    while (waitpid(pid, &st, __WALL) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return st;
}

static pid_t traced_child(void (*body)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) {
            _exit(90);
        }
        body();
        _exit(0);
    }
    return pid;
}

static void exec_body(void) {
    char *argv[] = {"ptrace", "exec-child", NULL};
    execv("/proc/self/exe", argv);
    _exit(91);
}

static void test_traceme_exec(void) {
    NOTE("TRACEME and the exec SIGTRAP");
    pid_t pid = traced_child(exec_body);
    int st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_OK(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    EXPECT_EQ(si.si_signo, SIGTRAP);
    EXPECT_EQ(si.si_code, SI_USER);
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void peek_body(void) {
    stop_self();
    _exit(data_word == 1234 ? 7 : 1);
}

static void test_peek_poke(void) {
    NOTE("PEEK and POKE");
    pid_t pid = traced_child(peek_body);
    int st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    errno = 0;
    long v = ptrace(PTRACE_PEEKDATA, pid, (void *)&data_word, 0);
    EXPECT_EQ(v, 42);
    EXPECT_OK(ptrace(PTRACE_POKEDATA, pid, (void *)&data_word, (void *)1234L));
    errno = 0;
    v = ptrace(PTRACE_PEEKDATA, pid, (void *)&data_word, 0);
    EXPECT_EQ(v, 1234);
    // Text: read a word of code and write it back (the page is not writable).
    long mine;
    memcpy(&mine, (void *)peek_body, sizeof mine);
    errno = 0;
    long text = ptrace(PTRACE_PEEKTEXT, pid, (void *)peek_body, 0);
    EXPECT_TRUE(text == mine && errno == 0);
    EXPECT_OK(ptrace(PTRACE_POKETEXT, pid, (void *)peek_body, (void *)text));
    EXPECT_ERRNO(ptrace(PTRACE_PEEKDATA, pid, (void *)16, 0), EIO);
    EXPECT_ERRNO(ptrace(PTRACE_POKEDATA, pid, (void *)16, 0), EIO);
    EXPECT_ERRNO(ptrace(PTRACE_PEEKUSER, pid, (void *)3, 0), EIO);
    errno = 0;
    long rip = ptrace(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user_regs_struct, rip), 0);
    struct user_regs_struct regs;
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &regs));
    EXPECT_TRUE((unsigned long)rip == regs.rip && errno == 0);
    EXPECT_ERRNO(ptrace((enum __ptrace_request)0x9999, pid, 0, 0), EIO);
    EXPECT_ERRNO(ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)0x80000000L), EINVAL);
    EXPECT_ERRNO(ptrace(PTRACE_INTERRUPT, pid, 0, 0), EIO);
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 7);
}

static void regs_body(void) {
    stop_self();
    long r = syscall(SYS_getppid);
    if (r != 4242) {
        _exit(1);
    }
    syscall(SYS_exit_group, 3);
    _exit(5);
}

// Resumes with PTRACE_SYSCALL until a stop at system call `nr`; the stop's status.
static int syscall_stop_at(pid_t pid, long nr) {
    for (int i = 0; i < 100; i++) {
        if (ptrace(PTRACE_SYSCALL, pid, 0, 0) != 0) {
            return -1;
        }
        int st = wait_for(pid);
        if (!WIFSTOPPED(st)) {
            return st;
        }
        struct user_regs_struct r;
        if (ptrace(PTRACE_GETREGS, pid, 0, &r) != 0) {
            return -1;
        }
        if ((long)r.orig_rax == nr) {
            return st;
        }
    }
    return -1;
}

static void test_regs(void) {
    NOTE("GETREGS and SETREGS at syscall stops");
    pid_t pid = traced_child(regs_body);
    int st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    st = syscall_stop_at(pid, SYS_getppid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    struct user_regs_struct r;
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r));
    EXPECT_EQ((long)r.rax, -ENOSYS);
    // The exit stop: change the result.
    EXPECT_OK(ptrace(PTRACE_SYSCALL, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r));
    EXPECT_EQ((long)r.orig_rax, SYS_getppid);
    EXPECT_EQ((pid_t)r.rax, getpid());
    r.rax = 4242;
    EXPECT_OK(ptrace(PTRACE_SETREGS, pid, 0, &r));
    // The entry stop of exit_group(3): skip it (orig_rax = -1).
    st = syscall_stop_at(pid, SYS_exit_group);
    EXPECT_TRUE(WIFSTOPPED(st));
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r));
    EXPECT_EQ((long)r.rdi, 3);
    r.orig_rax = -1;
    EXPECT_OK(ptrace(PTRACE_SETREGS, pid, 0, &r));
    EXPECT_OK(ptrace(PTRACE_SYSCALL, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r));
    EXPECT_EQ((long)r.rax, -ENOSYS);
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 5);
}

struct syscall_info {
    uint8_t op;
    uint8_t pad[3];
    uint32_t arch;
    uint64_t ip;
    uint64_t sp;
    union {
        struct {
            uint64_t nr;
            uint64_t args[6];
        } entry;
        struct {
            int64_t rval;
            uint8_t is_error;
        } exit;
    };
};

static void count_body(void) {
    stop_self();
    for (int i = 0; i < 5; i++) {
        syscall(SYS_getppid);
    }
    _exit(0);
}

static void test_count(void) {
    NOTE("syscall stops with TRACESYSGOOD and GET_SYSCALL_INFO");
    pid_t pid = traced_child(count_body);
    int st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    EXPECT_OK(ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_TRACESYSGOOD));
    struct syscall_info info;
    long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof info, &info);
    EXPECT_TRUE(n == 24 && info.op == 0 && info.arch == 0xc000003e);
    int stops = 0, good = 1, entries = 0, exits = 0, others = 0;
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, pid, 0, 0) != 0) {
            good = 0;
            break;
        }
        st = wait_for(pid);
        if (!WIFSTOPPED(st)) {
            break;
        }
        if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
            others++;
            continue;
        }
        memset(&info, 0, sizeof info);
        n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof info, &info);
        if (info.op == 1 && n == 80 && info.entry.nr == SYS_getppid) {
            entries++;
            stops++;
        } else if (info.op == 2 && n == 33 && info.exit.rval == getpid() && !info.exit.is_error) {
            exits++;
            stops++;
        }
    }
    EXPECT_TRUE(good);
    EXPECT_EQ(others, 0);
    EXPECT_EQ(entries, 5);
    EXPECT_EQ(exits, 5);
    EXPECT_EQ(stops, 10);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void fork_body(void) {
    stop_self();
    pid_t g = fork();
    if (g == 0) {
        _exit(3);
    }
    int st = 0;
    if (waitpid(g, &st, 0) != g) {
        _exit(80);
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) + 10 : 81);
}

static void test_fork(void) {
    NOTE("TRACEFORK auto-attach");
    pid_t pid = traced_child(fork_body);
    int st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    EXPECT_OK(ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_TRACEFORK));
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && (st >> 8) == (SIGTRAP | (PTRACE_EVENT_FORK << 8)));
    unsigned long msg = 0;
    EXPECT_OK(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg));
    pid_t g = (pid_t)msg;
    EXPECT_TRUE(g > 0 && g != pid);
    int gst = wait_for(g);
    EXPECT_TRUE(WIFSTOPPED(gst) && WSTOPSIG(gst) == SIGSTOP);
    EXPECT_OK(ptrace(PTRACE_CONT, g, 0, 0));
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    gst = wait_for(g);
    EXPECT_TRUE(WIFEXITED(gst) && WEXITSTATUS(gst) == 3);
    st = wait_for(pid);
    // The grandchild's end raises SIGCHLD in the child: a signal-delivery-stop, passed on.
    while (WIFSTOPPED(st) && WSTOPSIG(st) == SIGCHLD) {
        ptrace(PTRACE_CONT, pid, 0, (void *)SIGCHLD);
        st = wait_for(pid);
    }
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 13);
}

static volatile int usr1_seen, usr2_seen;
static void on_usr1(int s) {
    (void)s;
    usr1_seen++;
}
static void on_usr2(int s) {
    (void)s;
    usr2_seen++;
}

static void signal_body(void) {
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    raise(SIGUSR1);
    raise(SIGUSR1);
    _exit(usr1_seen * 10 + usr2_seen);
}

static void test_signals(void) {
    NOTE("signal-delivery-stops: suppress and inject");
    pid_t pid = traced_child(signal_body);
    int st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGUSR1);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_OK(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    EXPECT_TRUE(si.si_signo == SIGUSR1 && si.si_code == SI_TKILL);
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGUSR1);
    EXPECT_ERRNO(ptrace(PTRACE_CONT, pid, 0, (void *)100L), EIO);
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, (void *)SIGUSR2));
    // The injected SIGUSR2 is not stopped at again.
    st = wait_for(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

static void pause_forever(void) {
    for (;;) {
        pause();
    }
}

static pid_t plain_child(void) {
    pid_t pid = fork();
    if (pid == 0) {
        pause_forever();
    }
    return pid;
}

static int status_line(pid_t pid, const char *key, char *out, size_t n) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t len = strlen(key);
    int found = -1;
    while (fgets(buf, sizeof buf, f) != NULL) {
        if (strncmp(buf, key, len) == 0) {
            snprintf(out, n, "%s", buf + len);
            out[strcspn(out, "\n")] = 0;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

static void test_seize(void) {
    NOTE("SEIZE, INTERRUPT, /proc/[pid]/status");
    pid_t pid = plain_child();
    EXPECT_OK(ptrace(PTRACE_SEIZE, pid, 0, 0));
    EXPECT_ERRNO(ptrace(PTRACE_SEIZE, pid, 0, 0), EPERM);
    EXPECT_ERRNO(ptrace(PTRACE_ATTACH, pid, 0, 0), EPERM);
    usleep(20000);
    int st = 0;
    EXPECT_EQ(waitpid(pid, &st, WNOHANG), 0);
    EXPECT_ERRNO(ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
    EXPECT_ERRNO(ptrace(PTRACE_GETREGS, pid, 0, &st), ESRCH);
    char tracer[64] = "", state[64] = "";
    EXPECT_OK(status_line(pid, "TracerPid:\t", tracer, sizeof tracer));
    EXPECT_EQ(atoi(tracer), getpid());
    EXPECT_OK(ptrace(PTRACE_INTERRUPT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    EXPECT_EQ(st >> 16, PTRACE_EVENT_STOP);
    EXPECT_OK(status_line(pid, "State:\t", state, sizeof state));
    EXPECT_STREQ(state, "t (tracing stop)");
    struct user_regs_struct r;
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r));
    EXPECT_OK(ptrace(PTRACE_DETACH, pid, 0, 0));
    EXPECT_ERRNO(ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
    EXPECT_OK(status_line(pid, "TracerPid:\t", tracer, sizeof tracer));
    EXPECT_EQ(atoi(tracer), 0);
    // ATTACH: the tracee stops with SIGSTOP.
    EXPECT_OK(ptrace(PTRACE_ATTACH, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    EXPECT_OK(ptrace(PTRACE_KILL, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void test_errors(void) {
    NOTE("access rules and errors");
    EXPECT_ERRNO(ptrace(PTRACE_ATTACH, getpid(), 0, 0), EPERM);
    EXPECT_ERRNO(ptrace(PTRACE_SEIZE, getpid(), 0, 0), EPERM);
    EXPECT_ERRNO(ptrace(PTRACE_ATTACH, 999999, 0, 0), ESRCH);
    pid_t pid = plain_child();
    EXPECT_ERRNO(ptrace(PTRACE_SEIZE, pid, 0, (void *)0x80000000L), EIO);
    EXPECT_ERRNO(ptrace(PTRACE_SEIZE, pid, (void *)8, 0), EIO);
    EXPECT_ERRNO(ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
    EXPECT_ERRNO(ptrace(PTRACE_PEEKDATA, pid, (void *)&data_word, 0), ESRCH);
    kill(pid, SIGKILL);
    wait_for(pid);
    // TRACEME twice.
    pid = fork();
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) {
            _exit(1);
        }
        _exit(ptrace(PTRACE_TRACEME, 0, 0, 0) == -1 && errno == EPERM ? 0 : 2);
    }
    int st = wait_for(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_tracer_death(void) {
    NOTE("the tracer's death: EXITKILL kills, otherwise the tracee goes free");
    for (int exitkill = 1; exitkill >= 0; exitkill--) {
        pid_t pid = plain_child();
        pid_t helper = fork();
        if (helper == 0) {
            if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)(exitkill ? PTRACE_O_EXITKILL : 0)) !=
                0) {
                _exit(1);
            }
            if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0) {
                _exit(2);
            }
            int s = wait_for(pid);
            _exit(WIFSTOPPED(s) ? 0 : 3);
        }
        int hs = wait_for(helper);
        EXPECT_TRUE(WIFEXITED(hs) && WEXITSTATUS(hs) == 0);
        if (!exitkill) {
            usleep(20000);
            int st = 0;
            EXPECT_EQ(waitpid(pid, &st, WNOHANG), 0);
            kill(pid, SIGTERM);
        }
        int st = wait_for(pid);
        EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == (exitkill ? SIGKILL : SIGTERM));
    }
}

static void seccomp_body(void) {
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), // seccomp_data.nr
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 0x55),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {sizeof prog / sizeof prog[0], prog};
    stop_self();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
        _exit(90);
    }
    errno = 0;
    long r = syscall(SYS_getppid);
    _exit(r == 777 ? 7 : (r == -1 && errno == ENOSYS) ? 8 : 1);
}

static void test_seccomp(void) {
    NOTE("SECCOMP_RET_TRACE and PTRACE_O_TRACESECCOMP");
    for (int with = 1; with >= 0; with--) {
        pid_t pid = traced_child(seccomp_body);
        int st = wait_for(pid);
        EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
        EXPECT_OK(ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)(long)(with ? PTRACE_O_TRACESECCOMP : 0)));
        EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
        st = wait_for(pid);
        if (with) {
            EXPECT_TRUE(WIFSTOPPED(st) && (st >> 8) == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8)));
            unsigned long msg = 0;
            EXPECT_OK(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg));
            EXPECT_EQ(msg, 0x55);
            struct user_regs_struct r;
            EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r));
            EXPECT_EQ((long)r.orig_rax, SYS_getppid);
            r.orig_rax = -1;
            r.rax = 777;
            EXPECT_OK(ptrace(PTRACE_SETREGS, pid, 0, &r));
            EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
            st = wait_for(pid);
        }
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == (with ? 7 : 8));
    }
}

static void step_body(void) {
    stop_self();
    __asm__ volatile("nop; nop; nop; int3; nop" ::: "memory");
    _exit(4);
}

static void test_step(void) {
    NOTE("SINGLESTEP and int3");
    pid_t pid = traced_child(step_body);
    int st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
    // Run to the int3: SIGTRAP, SI_KERNEL, rip past it.
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_OK(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    EXPECT_EQ(si.si_code, SI_KERNEL);
    struct user_regs_struct r, r2;
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r));
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)(r.rip - 1), 0);
    EXPECT_EQ(word & 0xff, 0xcc);
    // One step: the nop after it.
    EXPECT_OK(ptrace(PTRACE_SINGLESTEP, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    memset(&si, 0, sizeof si);
    EXPECT_OK(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    EXPECT_EQ(si.si_code, TRAP_TRACE);
    EXPECT_OK(ptrace(PTRACE_GETREGS, pid, 0, &r2));
    EXPECT_EQ(r2.rip, r.rip + 1);
    EXPECT_EQ(r2.eflags & 0x100, 0);
    EXPECT_OK(ptrace(PTRACE_CONT, pid, 0, 0));
    st = wait_for(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 4);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        return 0;
    }
    test_traceme_exec();
    test_peek_poke();
    test_regs();
    test_count();
    test_fork();
    test_signals();
    test_seize();
    test_errors();
    test_tracer_death();
    test_seccomp();
    test_step();
    return guest_done();
}
