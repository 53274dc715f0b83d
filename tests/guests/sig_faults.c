// SPDX-License-Identifier: Apache-2.0
//
// Real faults become signals with the right si_code and si_addr: SIGSEGV (unmapped and
// read-only), SIGBUS (past the end of a mapped file), SIGFPE (integer division by zero),
// SIGILL (ud2), SIGTRAP (int3). Handlers recover with siglongjmp, or by editing the ucontext
// and returning through rt_sigreturn. A stack overflow is caught on the alternate stack.
// Unhandled, blocked or ignored faults still kill the process with the signal.

#include "guest.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <ucontext.h>

static sigjmp_buf recover;
static volatile int got_sig, got_code;
static void *volatile got_addr;
static volatile int usr1_blocked_in_handler;

static void longjmp_handler(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    got_sig = info->si_signo == sig ? sig : -1;
    got_code = info->si_code;
    got_addr = info->si_addr;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    usr1_blocked_in_handler = sigismember(&cur, SIGUSR1);
    siglongjmp(recover, 1);
}

static void catch_with(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigaction(sig, &sa, NULL);
}

static void reset_got(void) {
    got_sig = 0;
    got_code = 0;
    got_addr = (void *)1;
}

// The faulting instructions, at known addresses.
extern char div_insn[], ud2_insn[], int3_after[], load_insn[];

__attribute__((noinline)) static int divide(int a, int b) {
    int q;
    __asm__ volatile(
        "cltd\n"
        ".globl div_insn\n"
        "div_insn: idivl %[b]\n"
        : "=a"(q)
        : "a"(a), [b] "r"(b)
        : "rdx");
    return q;
}

static void test_segv(void) {
    NOTE("SIGSEGV on a NULL read, recovered with siglongjmp");
    catch_with(SIGSEGV, longjmp_handler, 0);
    reset_got();
    volatile int reached = 0;
    if (sigsetjmp(recover, 1) == 0) {
        volatile int *p = NULL;
        reached = *p;
        reached = 1;
    }
    EXPECT_EQ(reached, 0);
    EXPECT_EQ(got_sig, SIGSEGV);
    EXPECT_EQ(got_code, SEGV_MAPERR);
    CHECK("si_addr is NULL", got_addr == NULL);
    CHECK("the handler's sa_mask applied", usr1_blocked_in_handler == 1);
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK("siglongjmp restored the mask", sigismember(&cur, SIGSEGV) == 0 &&
                                              sigismember(&cur, SIGUSR1) == 0);

    NOTE("SIGSEGV on a write to an unmapped address");
    reset_got();
    if (sigsetjmp(recover, 1) == 0) {
        *(volatile int *)0x1234 = 5;
    }
    EXPECT_EQ(got_sig, SIGSEGV);
    EXPECT_EQ(got_code, SEGV_MAPERR);
    CHECK("si_addr is the address written", got_addr == (void *)0x1234);

    NOTE("SIGSEGV on a write to a read-only page: SEGV_ACCERR");
    long page = sysconf(_SC_PAGESIZE);
    char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    reset_got();
    if (sigsetjmp(recover, 1) == 0) {
        ro[100] = 1;
    }
    EXPECT_EQ(got_sig, SIGSEGV);
    EXPECT_EQ(got_code, SEGV_ACCERR);
    CHECK("si_addr is the byte written", got_addr == ro + 100);

    NOTE("SIGSEGV on a PROT_NONE page, twice in a row");
    EXPECT_OK(mprotect(ro, page, PROT_NONE));
    for (int i = 0; i < 2; i++) {
        reset_got();
        if (sigsetjmp(recover, 1) == 0) {
            (void)*(volatile char *)(ro + 8);
        }
        EXPECT_EQ(got_code, SEGV_ACCERR);
        CHECK("si_addr is the byte read", got_addr == ro + 8);
    }
    munmap(ro, page);
}

static void test_fpe_ill_trap(void) {
    NOTE("SIGFPE on integer division by zero");
    catch_with(SIGFPE, longjmp_handler, 0);
    reset_got();
    volatile int zero = 0, q = -1;
    if (sigsetjmp(recover, 1) == 0) {
        q = divide(7, zero);
    }
    EXPECT_EQ(q, -1);
    EXPECT_EQ(got_sig, SIGFPE);
    EXPECT_EQ(got_code, FPE_INTDIV);
    CHECK("si_addr is the idiv instruction", got_addr == (void *)div_insn);
    EXPECT_EQ(divide(42, 6), 7);

    NOTE("SIGFPE on INT_MIN / -1");
    reset_got();
    volatile int minus_one = -1;
    if (sigsetjmp(recover, 1) == 0) {
        q = divide(-2147483647 - 1, minus_one);
    }
    EXPECT_EQ(got_sig, SIGFPE);
    CHECK("si_addr is the idiv instruction", got_addr == (void *)div_insn);

    NOTE("SIGILL on ud2");
    catch_with(SIGILL, longjmp_handler, 0);
    reset_got();
    if (sigsetjmp(recover, 1) == 0) {
        __asm__ volatile(".globl ud2_insn\nud2_insn: ud2\n");
    }
    EXPECT_EQ(got_sig, SIGILL);
    EXPECT_EQ(got_code, ILL_ILLOPN);
    CHECK("si_addr is the ud2 instruction", got_addr == (void *)ud2_insn);

    NOTE("SIGTRAP on int3");
    catch_with(SIGTRAP, longjmp_handler, 0);
    reset_got();
    if (sigsetjmp(recover, 1) == 0) {
        __asm__ volatile("int3\n.globl int3_after\nint3_after: nop\n");
    }
    EXPECT_EQ(got_sig, SIGTRAP);
    EXPECT_EQ(got_code, SI_KERNEL);
}

// ---- returning from a fault handler through an edited context ------------------------------

static volatile int skip_count;

static void skip_handler(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    (void)info;
    ucontext_t *uc = ctx;
    skip_count++;
    // `movl (%rax), %eax` is two bytes: skip it and make the load "return" 42.
    if (uc->uc_mcontext.gregs[REG_RIP] == (greg_t)load_insn) {
        uc->uc_mcontext.gregs[REG_RIP] += 2;
        uc->uc_mcontext.gregs[REG_RAX] = 42;
    } else {
        _exit(98);
    }
}

static void test_skip(void) {
    NOTE("a SIGSEGV handler skips the faulting load by editing the ucontext");
    catch_with(SIGSEGV, skip_handler, 0);
    long v;
    __asm__ volatile(
        "xor %%eax, %%eax\n"
        ".globl load_insn\n"
        "load_insn: movl (%%rax), %%eax\n"
        : "=a"(v)
        :
        : "memory");
    EXPECT_EQ(v, 42);
    EXPECT_EQ(skip_count, 1);
}

// ---- SIGBUS -------------------------------------------------------------------------------

static void test_sigbus(void) {
    NOTE("SIGBUS past the end of a mapped file");
    char path[] = "/tmp/sig_faults_XXXXXX";
    int fd = EXPECT_OK(mkstemp(path));
    unlink(path);
    long page = sysconf(_SC_PAGESIZE);
    EXPECT_OK(ftruncate(fd, page));
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK("mmap of two pages of a one-page file", m != MAP_FAILED);
    catch_with(SIGBUS, longjmp_handler, 0);
    m[10] = 'a';
    reset_got();
    if (sigsetjmp(recover, 1) == 0) {
        m[page + 10] = 'b';
    }
    EXPECT_EQ(got_sig, SIGBUS);
    EXPECT_EQ(got_code, BUS_ADRERR);
    CHECK("si_addr is the byte written", got_addr == m + page + 10);
    char c = 0;
    EXPECT_EQ(pread(fd, &c, 1, 10), 1);
    EXPECT_EQ(c, 'a');
    munmap(m, 2 * page);
    close(fd);
}

// ---- stack overflow on the alternate stack ------------------------------------------------

static volatile int overflow_depth;

__attribute__((noinline)) static int recurse(int n) {
    volatile char buf[1024];
    buf[0] = (char)n;
    overflow_depth = n;
    if (n < 0) {
        return 0;  // Never: keeps the compiler from seeing an infinite recursion.
    }
    return recurse(n + 1) + buf[0];
}

static void test_overflow(void) {
    NOTE("a stack overflow is caught on the alternate stack");
    stack_t ss = {.ss_sp = malloc(64 * 1024), .ss_size = 64 * 1024, .ss_flags = 0};
    EXPECT_OK(sigaltstack(&ss, NULL));
    catch_with(SIGSEGV, longjmp_handler, SA_ONSTACK);
    struct rlimit rl = {1 << 20, 1 << 20};  // A 1 MiB stack overflows quickly.
    struct rlimit old;
    getrlimit(RLIMIT_STACK, &old);
    rl.rlim_max = old.rlim_max;
    setrlimit(RLIMIT_STACK, &rl);
    reset_got();
    if (sigsetjmp(recover, 1) == 0) {
        recurse(0);
    }
    EXPECT_EQ(got_sig, SIGSEGV);
    CHECK("the recursion went deep before it overflowed", overflow_depth > 100);
    setrlimit(RLIMIT_STACK, &old);
    stack_t off = {.ss_flags = SS_DISABLE};
    EXPECT_OK(sigaltstack(&off, NULL));
    free(ss.ss_sp);
}

// ---- faults that kill ---------------------------------------------------------------------

// Runs `body` in a child and returns its wait status.
static int in_child(void (*body)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        body();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void null_write(void) {
    signal(SIGSEGV, SIG_DFL);
    *(volatile int *)0 = 1;
}

static void null_write_blocked(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSEGV);
    sigprocmask(SIG_BLOCK, &s, NULL);
    *(volatile int *)0 = 1;
}

static void null_write_ignored(void) {
    signal(SIGSEGV, SIG_IGN);
    *(volatile int *)0 = 1;
}

static void divide_by_zero(void) {
    signal(SIGFPE, SIG_DFL);
    volatile int zero = 0;
    divide(1, zero);
}

static void run_ud2(void) {
    signal(SIGILL, SIG_DFL);
    __asm__ volatile("ud2");
}

static void fault_in_handler_handler(int sig) {
    (void)sig;
    *(volatile int *)0 = 1;  // SIGSEGV is blocked in its own handler: this kills.
}

static void fault_in_handler(void) {
    signal(SIGSEGV, fault_in_handler_handler);
    *(volatile int *)0 = 1;
}

static void test_fatal(void) {
    NOTE("unhandled faults kill with the signal");
    int st = in_child(null_write);
    CHECK("SIG_DFL SIGSEGV", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child(null_write_blocked);
    CHECK("a blocked SIGSEGV still kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child(null_write_ignored);
    CHECK("an ignored SIGSEGV still kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child(divide_by_zero);
    CHECK("SIG_DFL SIGFPE", WIFSIGNALED(st) && WTERMSIG(st) == SIGFPE);
    st = in_child(run_ud2);
    CHECK("SIG_DFL SIGILL", WIFSIGNALED(st) && WTERMSIG(st) == SIGILL);
    st = in_child(fault_in_handler);
    CHECK("a fault inside the SIGSEGV handler kills",
          WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

int main(void) {
    test_segv();
    test_fpe_ill_trap();
    test_skip();
    test_sigbus();
    test_overflow();
    test_fatal();
    return guest_done();
}
