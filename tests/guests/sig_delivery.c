// SPDX-License-Identifier: Apache-2.0
//
// Signal delivery: handlers and their masks, nesting, SA_NODEFER / SA_RESETHAND, siginfo,
// SA_RESTART against EINTR, the alternate stack, and the FPU/SSE state across a handler.

#include "guest.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>

#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>

// The order in which handlers ran, one letter each.
static char order[64];
static volatile int norder;

static void log_event(char c) {
    if (norder < (int)sizeof order - 1) {
        order[norder++] = c;
        order[norder] = 0;
    }
}

static void reset_order(void) {
    norder = 0;
    order[0] = 0;
}

static int blocked_now(int sig) {
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

static void install(int sig, void (*fn)(int), int flags, const int *mask_sigs) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    for (; mask_sigs != NULL && *mask_sigs != 0; mask_sigs++) {
        sigaddset(&sa.sa_mask, *mask_sigs);
    }
    sigaction(sig, &sa, NULL);
}

// ---- masks --------------------------------------------------------------------------------

static volatile int usr1_saw_self_blocked, usr1_saw_usr2_blocked, usr1_saw_int_blocked;

static void usr2_handler(int sig) {
    (void)sig;
    log_event('2');
}

static void usr1_mask_handler(int sig) {
    (void)sig;
    log_event('1');
    usr1_saw_self_blocked = blocked_now(SIGUSR1);
    usr1_saw_usr2_blocked = blocked_now(SIGUSR2);
    usr1_saw_int_blocked = blocked_now(SIGINT);
    // Blocked by sa_mask: stays pending until this handler returns.
    raise(SIGUSR2);
    log_event('r');
}

static void rt_a_handler(int sig) {
    (void)sig;
    log_event('a');
}

static void rt_b_handler(int sig) {
    (void)sig;
    log_event('b');
}

static void test_masks(void) {
    NOTE("handler masks");
    static const int mask_usr2[] = {SIGUSR2, 0};
    install(SIGUSR2, usr2_handler, 0, NULL);
    install(SIGUSR1, usr1_mask_handler, 0, mask_usr2);
    reset_order();
    sigset_t before, after;
    sigprocmask(SIG_BLOCK, NULL, &before);
    EXPECT_OK(raise(SIGUSR1));
    EXPECT_STREQ(order, "1r2");
    CHECK("the signal itself is blocked in its handler", usr1_saw_self_blocked == 1);
    CHECK("sa_mask is blocked in the handler", usr1_saw_usr2_blocked == 1);
    CHECK("other signals are not blocked in the handler", usr1_saw_int_blocked == 0);
    sigprocmask(SIG_BLOCK, NULL, &after);
    CHECK("the mask is restored after the handler",
          sigismember(&after, SIGUSR1) == sigismember(&before, SIGUSR1) &&
              sigismember(&after, SIGUSR2) == sigismember(&before, SIGUSR2));

    NOTE("blocked, pending, delivered on unblock");
    reset_order();
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    EXPECT_OK(sigprocmask(SIG_BLOCK, &set, NULL));
    EXPECT_OK(raise(SIGUSR2));
    EXPECT_OK(raise(SIGUSR2));  // A standard signal is pending at most once.
    EXPECT_STREQ(order, "");
    EXPECT_OK(sigpending(&pending));
    EXPECT_EQ(sigismember(&pending, SIGUSR2), 1);
    EXPECT_EQ(sigismember(&pending, SIGUSR1), 0);
    EXPECT_OK(sigprocmask(SIG_UNBLOCK, &set, NULL));
    EXPECT_STREQ(order, "2");
    EXPECT_OK(sigpending(&pending));
    EXPECT_EQ(sigismember(&pending, SIGUSR2), 0);

    NOTE("real-time signals queue");
    reset_order();
    install(SIGRTMIN, rt_a_handler, 0, NULL);
    install(SIGRTMIN + 1, rt_b_handler, 0, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGRTMIN + 1);
    raise(SIGRTMIN);
    raise(SIGRTMIN);
    raise(SIGRTMIN);
    EXPECT_OK(sigprocmask(SIG_UNBLOCK, &set, NULL));
    // Linux sets up a frame for each deliverable signal before returning to user mode, lowest
    // first: SIGRTMIN's frame, then (SIGRTMIN now blocked) SIGRTMIN+1's on top, which runs
    // first; the queued SIGRTMINs follow one by one as each handler unblocks it.
    EXPECT_STREQ(order, "baaa");
}

// ---- nesting ------------------------------------------------------------------------------

static volatile int depth, max_depth;

static void int_nested_handler(int sig) {
    (void)sig;
    depth++;
    if (depth > max_depth) {
        max_depth = depth;
    }
    log_event('i');
    depth--;
}

static void usr1_nesting_handler(int sig) {
    (void)sig;
    depth++;
    if (depth > max_depth) {
        max_depth = depth;
    }
    log_event('<');
    raise(SIGINT);  // Not blocked: runs at once, on top of this handler.
    log_event('>');
    depth--;
}

static volatile int nodefer_calls;

static void nodefer_handler(int sig) {
    int me = ++nodefer_calls;
    log_event('n');
    if (me == 1) {
        raise(sig);  // SA_NODEFER: delivered again at once, nested.
    }
    log_event('N');
}

static volatile int resethand_calls;

static void resethand_handler(int sig) {
    (void)sig;
    resethand_calls++;
}

static void test_nesting(void) {
    NOTE("nested handlers");
    install(SIGINT, int_nested_handler, 0, NULL);
    install(SIGUSR1, usr1_nesting_handler, 0, NULL);
    reset_order();
    depth = max_depth = 0;
    EXPECT_OK(raise(SIGUSR1));
    EXPECT_STREQ(order, "<i>");
    EXPECT_EQ(max_depth, 2);

    NOTE("SA_NODEFER");
    install(SIGUSR1, nodefer_handler, SA_NODEFER, NULL);
    reset_order();
    EXPECT_OK(raise(SIGUSR1));
    EXPECT_STREQ(order, "nnNN");
    EXPECT_EQ(nodefer_calls, 2);

    NOTE("SA_RESETHAND");
    install(SIGUSR2, resethand_handler, SA_RESETHAND, NULL);
    EXPECT_OK(raise(SIGUSR2));
    EXPECT_EQ(resethand_calls, 1);
    struct sigaction old;
    EXPECT_OK(sigaction(SIGUSR2, NULL, &old));
    CHECK("the handler is reset to SIG_DFL", old.sa_handler == SIG_DFL);
}

// ---- siginfo ------------------------------------------------------------------------------

static volatile int info_signo, info_code, info_value, info_pid_is_me, info_uid_is_me;
static volatile int info_ucontext_ok;

static void info_handler(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    ucontext_t *uc = ctx;
    info_signo = info->si_signo;
    info_code = info->si_code;
    info_value = info->si_value.sival_int;
    info_pid_is_me = info->si_pid == getpid();
    info_uid_is_me = info->si_uid == getuid();
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    // uc_sigmask is the mask to restore: the one before delivery, without the signal.
    info_ucontext_ok = uc != NULL && sigismember(&uc->uc_sigmask, SIGUSR1) == 0 &&
                       sigismember(&cur, SIGUSR1) == 1 &&
                       uc->uc_mcontext.gregs[REG_RSP] != 0;
}

static void test_siginfo(void) {
    NOTE("SA_SIGINFO");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    EXPECT_OK(sigaction(SIGUSR1, &sa, NULL));

    EXPECT_OK(raise(SIGUSR1));
    EXPECT_EQ(info_signo, SIGUSR1);
    EXPECT_EQ(info_code, SI_TKILL);
    CHECK("raise: si_pid is the caller", info_pid_is_me);
    CHECK("raise: si_uid is the caller's", info_uid_is_me);
    CHECK("the ucontext holds the mask to restore", info_ucontext_ok);

    EXPECT_OK(kill(getpid(), SIGUSR1));
    EXPECT_EQ(info_code, SI_USER);
    CHECK("kill: si_pid is the caller", info_pid_is_me);

    union sigval v = {.sival_int = 4242};
    EXPECT_OK(sigqueue(getpid(), SIGUSR1, v));
    EXPECT_EQ(info_code, SI_QUEUE);
    EXPECT_EQ(info_value, 4242);
}

// ---- SA_RESTART against EINTR -------------------------------------------------------------

static int restart_pipe[2];
static volatile int alarms;

static void alarm_writes_a_byte(int sig) {
    (void)sig;
    alarms++;
    // The data the interrupted read is waiting for, written only once the read is blocked.
    char c = 'x';
    if (write(restart_pipe[1], &c, 1) != 1) {
        _exit(99);
    }
}

static void arm_timer_ms(int ms) {
    struct itimerval it = {{0, 0}, {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void test_restart(void) {
    NOTE("read on a pipe interrupted by SIGALRM, without SA_RESTART");
    EXPECT_OK(pipe(restart_pipe));
    char c = 0;
    install(SIGALRM, alarm_writes_a_byte, 0, NULL);
    alarms = 0;
    arm_timer_ms(50);
    EXPECT_ERRNO(read(restart_pipe[0], &c, 1), EINTR);
    EXPECT_EQ(alarms, 1);
    EXPECT_EQ(read(restart_pipe[0], &c, 1), 1);
    EXPECT_EQ(c, 'x');

    NOTE("the same read with SA_RESTART");
    install(SIGALRM, alarm_writes_a_byte, SA_RESTART, NULL);
    alarms = 0;
    c = 0;
    arm_timer_ms(50);
    EXPECT_EQ(read(restart_pipe[0], &c, 1), 1);
    EXPECT_EQ(alarms, 1);
    EXPECT_EQ(c, 'x');

    NOTE("nanosleep is never restarted: EINTR and the time left");
    install(SIGALRM, alarm_writes_a_byte, SA_RESTART, NULL);
    arm_timer_ms(50);
    struct timespec req = {5, 0}, rem = {0, 0};
    EXPECT_ERRNO(nanosleep(&req, &rem), EINTR);
    CHECK("rem is between 0 and the request",
          rem.tv_sec < 5 && (rem.tv_sec > 0 || rem.tv_nsec > 0));
    EXPECT_EQ(read(restart_pipe[0], &c, 1), 1);

    NOTE("an ignored signal does not interrupt");
    install(SIGALRM, SIG_IGN, 0, NULL);
    arm_timer_ms(20);
    struct timespec shortreq = {0, 100 * 1000 * 1000};
    EXPECT_OK(nanosleep(&shortreq, NULL));

    NOTE("pause returns EINTR after a handler");
    install(SIGALRM, alarm_writes_a_byte, SA_RESTART, NULL);
    arm_timer_ms(20);
    EXPECT_ERRNO(pause(), EINTR);
    EXPECT_EQ(read(restart_pipe[0], &c, 1), 1);

    NOTE("sigsuspend swaps the mask and returns EINTR");
    sigset_t block, old, during;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);
    arm_timer_ms(20);
    sigemptyset(&during);
    EXPECT_ERRNO(sigsuspend(&during), EINTR);
    CHECK("SIGALRM is blocked again after sigsuspend", blocked_now(SIGALRM) == 1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    EXPECT_EQ(read(restart_pipe[0], &c, 1), 1);
    close(restart_pipe[0]);
    close(restart_pipe[1]);
    install(SIGALRM, SIG_DFL, 0, NULL);
}

// ---- the alternate stack ------------------------------------------------------------------

static char *alt_base;
static size_t alt_size;
static volatile int on_alt, ss_onstack_flag, nested_ss_errno;

static void altstack_handler(int sig) {
    (void)sig;
    char local;
    on_alt = &local >= alt_base && &local < alt_base + alt_size;
    stack_t cur;
    sigaltstack(NULL, &cur);
    ss_onstack_flag = (cur.ss_flags & SS_ONSTACK) != 0;
    // Changing the alternate stack while running on it is refused.
    stack_t again = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
    errno = 0;
    nested_ss_errno = sigaltstack(&again, NULL) == -1 ? errno : 0;
}

static void test_altstack(void) {
    NOTE("sigaltstack and SA_ONSTACK");
    alt_size = 64 * 1024;
    alt_base = malloc(alt_size);
    stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0}, old;
    EXPECT_OK(sigaltstack(&ss, &old));
    CHECK("there was no alternate stack", (old.ss_flags & SS_DISABLE) != 0);
    EXPECT_OK(sigaltstack(NULL, &old));
    CHECK("the stack reads back", old.ss_sp == alt_base && old.ss_size == alt_size &&
                                      old.ss_flags == 0);

    install(SIGUSR1, altstack_handler, SA_ONSTACK, NULL);
    EXPECT_OK(raise(SIGUSR1));
    CHECK("an SA_ONSTACK handler runs on the alternate stack", on_alt == 1);
    CHECK("sigaltstack reports SS_ONSTACK inside it", ss_onstack_flag == 1);
    EXPECT_EQ(nested_ss_errno, EPERM);
    EXPECT_OK(sigaltstack(NULL, &old));
    CHECK("SS_ONSTACK is clear after the handler", (old.ss_flags & SS_ONSTACK) == 0);

    install(SIGUSR1, altstack_handler, 0, NULL);
    EXPECT_OK(raise(SIGUSR1));
    CHECK("without SA_ONSTACK the handler runs on the normal stack", on_alt == 0);

    stack_t small = {.ss_sp = alt_base, .ss_size = 512, .ss_flags = 0};
    EXPECT_ERRNO(sigaltstack(&small, NULL), ENOMEM);
    stack_t off = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    EXPECT_OK(sigaltstack(&off, NULL));
    EXPECT_OK(sigaltstack(NULL, &old));
    CHECK("SS_DISABLE reads back", (old.ss_flags & SS_DISABLE) != 0);
    install(SIGUSR1, SIG_DFL, 0, NULL);
    free(alt_base);
}

// ---- FPU and SSE state --------------------------------------------------------------------

static volatile unsigned handler_mxcsr;
static volatile unsigned short handler_fcw;
static volatile double handler_result;

static void fpu_clobber_handler(int sig) {
    (void)sig;
    unsigned m;
    unsigned short cw;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    handler_mxcsr = m;
    handler_fcw = cw;
    // Clobber every xmm register, the rounding modes and the x87 control word.
    static const uint64_t junk[2] __attribute__((aligned(16))) = {0xdeadbeefdeadbeefull,
                                                                  0x0badf00d0badf00dull};
    __asm__ volatile(
        "movdqa %0, %%xmm0\n movdqa %0, %%xmm1\n movdqa %0, %%xmm2\n movdqa %0, %%xmm3\n"
        "movdqa %0, %%xmm4\n movdqa %0, %%xmm5\n movdqa %0, %%xmm6\n movdqa %0, %%xmm7\n"
        "movdqa %0, %%xmm8\n movdqa %0, %%xmm9\n movdqa %0, %%xmm10\n movdqa %0, %%xmm11\n"
        "movdqa %0, %%xmm12\n movdqa %0, %%xmm13\n movdqa %0, %%xmm14\n movdqa %0, %%xmm15\n"
        :
        : "m"(junk)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    unsigned zero_mode = 0x7f80;  // Round toward zero, exceptions masked.
    __asm__ volatile("ldmxcsr %0" : : "m"(zero_mode));
    unsigned short cw_new = 0x0c7f;  // x87 round toward zero.
    __asm__ volatile("fldcw %0" : : "m"(cw_new));
    volatile double a = 1.0, b = 3.0;
    handler_result = a / b;
}

static void test_fpu(void) {
    NOTE("FPU and SSE state across a handler");
    install(SIGUSR1, fpu_clobber_handler, 0, NULL);
    // Non-default modes in the interrupted code: round down (MXCSR) and round up (x87 CW).
    unsigned my_mxcsr = 0x3f80;
    unsigned short my_fcw = 0x0b7f;
    uint64_t in[32] __attribute__((aligned(16))), out[32] __attribute__((aligned(16)));
    for (int i = 0; i < 32; i++) {
        in[i] = 0x0101010101010101ull * (uint64_t)(i + 1) ^ 0x8000000000000001ull;
        out[i] = 0;
    }
    unsigned mxcsr_after = 0;
    unsigned short fcw_after = 0;
    long pid = getpid(), tid = gettid();
    // Load xmm0-15, send the signal with a raw tgkill (delivered on the way out of the
    // system call), then store xmm0-15: nothing between the two touches them but the handler.
    __asm__ volatile(
        "ldmxcsr %[m]\n fldcw %[cw]\n"
        "movdqa 0(%[in]), %%xmm0\n movdqa 16(%[in]), %%xmm1\n movdqa 32(%[in]), %%xmm2\n"
        "movdqa 48(%[in]), %%xmm3\n movdqa 64(%[in]), %%xmm4\n movdqa 80(%[in]), %%xmm5\n"
        "movdqa 96(%[in]), %%xmm6\n movdqa 112(%[in]), %%xmm7\n movdqa 128(%[in]), %%xmm8\n"
        "movdqa 144(%[in]), %%xmm9\n movdqa 160(%[in]), %%xmm10\n movdqa 176(%[in]), %%xmm11\n"
        "movdqa 192(%[in]), %%xmm12\n movdqa 208(%[in]), %%xmm13\n"
        "movdqa 224(%[in]), %%xmm14\n movdqa 240(%[in]), %%xmm15\n"
        "mov %[nr], %%rax\n mov %[pid], %%rdi\n mov %[tid], %%rsi\n mov %[sig], %%rdx\n"
        "syscall\n"
        "movdqa %%xmm0, 0(%[out])\n movdqa %%xmm1, 16(%[out])\n movdqa %%xmm2, 32(%[out])\n"
        "movdqa %%xmm3, 48(%[out])\n movdqa %%xmm4, 64(%[out])\n movdqa %%xmm5, 80(%[out])\n"
        "movdqa %%xmm6, 96(%[out])\n movdqa %%xmm7, 112(%[out])\n"
        "movdqa %%xmm8, 128(%[out])\n movdqa %%xmm9, 144(%[out])\n"
        "movdqa %%xmm10, 160(%[out])\n movdqa %%xmm11, 176(%[out])\n"
        "movdqa %%xmm12, 192(%[out])\n movdqa %%xmm13, 208(%[out])\n"
        "movdqa %%xmm14, 224(%[out])\n movdqa %%xmm15, 240(%[out])\n"
        "stmxcsr %[m_after]\n fnstcw %[cw_after]\n"
        : [m_after] "=m"(mxcsr_after), [cw_after] "=m"(fcw_after)
        : [m] "m"(my_mxcsr), [cw] "m"(my_fcw), [in] "r"(in), [out] "r"(out),
          [nr] "i"(SYS_tgkill), [pid] "r"(pid), [tid] "r"(tid), [sig] "i"(SIGUSR1)
        : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3",
          "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
          "xmm14", "xmm15");
    unsigned default_mxcsr = 0x1f80;
    unsigned short default_fcw = 0x037f;
    __asm__ volatile("ldmxcsr %0\n fldcw %1" : : "m"(default_mxcsr), "m"(default_fcw));

    CHECK("the handler ran", handler_result > 0.33 && handler_result < 0.34);
    EXPECT_EQ(handler_mxcsr, 0x1f80);  // A handler starts with a clean FPU state.
    EXPECT_EQ(handler_fcw, 0x037f);
    EXPECT_MEMEQ(in, out, 256);
    EXPECT_EQ(mxcsr_after & 0xffc0, my_mxcsr & 0xffc0);  // Ignore the sticky flags.
    EXPECT_EQ(fcw_after, my_fcw);

    NOTE("doubles in flight across many handlers");
    volatile double acc = 0.0;
    double x = 0.5;
    for (int i = 1; i <= 200; i++) {
        x = x * 1.0001 + 1.0 / i;
        if (i % 10 == 0) {
            raise(SIGUSR1);
        }
        acc += x;
    }
    double expect_acc = 0.0, y = 0.5;
    for (int i = 1; i <= 200; i++) {
        y = y * 1.0001 + 1.0 / i;
        expect_acc += y;
    }
    CHECK("the sum is exact", acc == expect_acc);
    install(SIGUSR1, SIG_DFL, 0, NULL);
}

static volatile int temp_hits;
static void on_temp(int sig) {
    (void)sig;
    temp_hits++;
}

// ppoll, pselect and the epoll_pwaits take a mask for the wait alone: a signal it lets through
// interrupts the wait (EINTR) and its handler runs before the old mask comes back.
static void test_temp_masks(void) {
    NOTE("temporary masks of ppoll, pselect6, epoll_pwait, epoll_pwait2");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_temp;
    EXPECT_OK(sigaction(SIGUSR1, &sa, NULL));
    sigset_t usr1, none, now;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&none);
    int ep = epoll_create1(0);
    CHECK("epoll_create1", ep >= 0);
    for (int which = 0; which < 4; which++) {
        EXPECT_OK(sigprocmask(SIG_BLOCK, &usr1, NULL));
        EXPECT_OK(raise(SIGUSR1));
        temp_hits = 0;
        long r = -2;
        struct epoll_event ev;
        switch (which) {
        case 0:
            r = ppoll(NULL, 0, NULL, &none);
            break;
        case 1:
            r = pselect(0, NULL, NULL, NULL, NULL, &none);
            break;
        case 2:
            r = epoll_pwait(ep, &ev, 1, -1, &none);
            break;
        default:
            r = syscall(SYS_epoll_pwait2, ep, &ev, 1, NULL, &none, 8);
            break;
        }
        int e = errno;
        printf("# wait %d: %ld (%s), handler ran %d\n", which, r, r < 0 ? strerror(e) : "", temp_hits);
        CHECK("interrupted: EINTR", r == -1 && e == EINTR);
        CHECK("the handler ran once", temp_hits == 1);
        EXPECT_OK(sigprocmask(SIG_SETMASK, NULL, &now));
        CHECK("the old mask is back", sigismember(&now, SIGUSR1) == 1);
        EXPECT_OK(sigprocmask(SIG_UNBLOCK, &usr1, NULL));
    }
    close(ep);
    signal(SIGUSR1, SIG_DFL);
}

int main(void) {
    test_temp_masks();
    test_masks();
    test_nesting();
    test_siginfo();
    test_restart();
    test_altstack();
    test_fpu();
    return guest_done();
}
