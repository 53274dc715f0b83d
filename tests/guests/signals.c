// SPDX-License-Identifier: Apache-2.0
//
// rt_sigaction and rt_sigprocmask: what is set reads back, and bad arguments are refused.
//
// Signal delivery is not implemented yet, so no signal is ever raised here.

#include "guest.h"

#include <signal.h>

// The kernel's struct sigaction on x86_64, for the raw calls.
struct k_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

#define SIGBIT(sig) (1ull << ((sig) - 1))

static void handler_a(int sig) {
    (void)sig;
}

static void handler_b(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    (void)info;
    (void)ctx;
}

static void test_sigaction(void) {
    NOTE("rt_sigaction");
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler_a;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    EXPECT_OK(sigaction(SIGUSR1, &sa, &old));
    CHECK("SIGUSR1 starts at SIG_DFL", old.sa_handler == SIG_DFL);
    memset(&old, 0, sizeof old);
    EXPECT_OK(sigaction(SIGUSR1, NULL, &old));
    CHECK("handler reads back", old.sa_handler == handler_a);
    CHECK("SA_RESTART reads back", (old.sa_flags & SA_RESTART) != 0);
    CHECK("SA_SIGINFO is not set", (old.sa_flags & SA_SIGINFO) == 0);
    CHECK("mask reads back", sigismember(&old.sa_mask, SIGUSR2) == 1 &&
                                 sigismember(&old.sa_mask, SIGINT) == 0);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler_b;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    EXPECT_OK(sigaction(SIGUSR1, &sa, &old));
    CHECK("the old action is returned by a replace", old.sa_handler == handler_a);
    EXPECT_OK(sigaction(SIGUSR1, NULL, &old));
    CHECK("SA_SIGINFO handler reads back", old.sa_sigaction == handler_b);
    CHECK("flags read back",
          (old.sa_flags & (SA_SIGINFO | SA_NODEFER | SA_ONSTACK)) ==
              (SA_SIGINFO | SA_NODEFER | SA_ONSTACK));
    // SIGKILL and SIGSTOP can never be blocked, not even in a handler's mask.
    CHECK("a full mask reads back without SIGKILL and SIGSTOP",
          sigismember(&old.sa_mask, SIGINT) == 1 && sigismember(&old.sa_mask, SIGKILL) == 0 &&
              sigismember(&old.sa_mask, SIGSTOP) == 0);

    // The raw call, with the kernel's layout.
    struct k_sigaction k = {SIG_IGN, SA_RESTORER | SA_RESTART, NULL, SIGBIT(SIGINT)}, kold;
    k.restorer = (void (*)(void))handler_a;
    EXPECT_OK(syscall(SYS_rt_sigaction, SIGUSR2, &k, NULL, 8));
    memset(&kold, 0, sizeof kold);
    EXPECT_OK(syscall(SYS_rt_sigaction, SIGUSR2, NULL, &kold, 8));
    CHECK("raw: SIG_IGN reads back", kold.handler == SIG_IGN);
    CHECK("raw: flags read back", kold.flags == (SA_RESTORER | SA_RESTART));
    CHECK("raw: restorer reads back", kold.restorer == (void (*)(void))handler_a);
    CHECK("raw: mask reads back", kold.mask == SIGBIT(SIGINT));
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR2, &k, NULL, 4), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, SIGUSR2, NULL, &kold, 16), EINVAL);

    // Every catchable signal can be read; the default for SIGCHLD is SIG_DFL too.
    EXPECT_OK(sigaction(SIGCHLD, NULL, &old));
    CHECK("SIGCHLD is SIG_DFL", old.sa_handler == SIG_DFL);
    EXPECT_OK(sigaction(SIGRTMIN, NULL, &old));
    EXPECT_OK(syscall(SYS_rt_sigaction, 64, NULL, &kold, 8));
    // Reading SIGKILL's action is allowed; changing it is not.
    EXPECT_OK(sigaction(SIGKILL, NULL, &old));
    CHECK("SIGKILL is SIG_DFL", old.sa_handler == SIG_DFL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    EXPECT_ERRNO(sigaction(SIGKILL, &sa, NULL), EINVAL);
    EXPECT_ERRNO(sigaction(SIGSTOP, &sa, NULL), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, 0, NULL, &kold, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, 65, NULL, &kold, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigaction, -1, NULL, &kold, 8), EINVAL);

    // Back to the default.
    sa.sa_handler = SIG_DFL;
    EXPECT_OK(sigaction(SIGUSR1, &sa, NULL));
    EXPECT_OK(sigaction(SIGUSR1, NULL, &old));
    CHECK("SIG_DFL restored", old.sa_handler == SIG_DFL);
    EXPECT_TRUE(signal(SIGUSR2, SIG_DFL) == SIG_IGN);
    EXPECT_TRUE(signal(SIGUSR2, SIG_DFL) == SIG_DFL);
}

static void test_sigprocmask(void) {
    NOTE("rt_sigprocmask");
    sigset_t set, old, now;
    EXPECT_OK(sigprocmask(SIG_SETMASK, NULL, &old));
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    EXPECT_OK(sigprocmask(SIG_BLOCK, &set, NULL));
    EXPECT_OK(sigprocmask(SIG_BLOCK, NULL, &now));
    CHECK("SIG_BLOCK adds", sigismember(&now, SIGUSR1) == 1 && sigismember(&now, SIGTERM) == 1);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    EXPECT_OK(sigprocmask(SIG_UNBLOCK, &set, &now));
    CHECK("the old mask is returned", sigismember(&now, SIGTERM) == 1);
    EXPECT_OK(sigprocmask(SIG_BLOCK, NULL, &now));
    CHECK("SIG_UNBLOCK removes", sigismember(&now, SIGUSR1) == 1 && sigismember(&now, SIGTERM) == 0);

    sigfillset(&set);
    EXPECT_OK(sigprocmask(SIG_SETMASK, &set, NULL));
    EXPECT_OK(sigprocmask(SIG_SETMASK, NULL, &now));
    CHECK("SIGKILL and SIGSTOP are never blocked",
          sigismember(&now, SIGKILL) == 0 && sigismember(&now, SIGSTOP) == 0);
    CHECK("the rest of a full mask is blocked",
          sigismember(&now, SIGINT) == 1 && sigismember(&now, SIGSEGV) == 1 &&
              sigismember(&now, SIGUSR2) == 1);

    // The raw call, with a 64-bit mask. (glibc's sigprocmask keeps its two internal signals
    // out of the mask, so only the raw call can block everything.)
    uint64_t all = ~0ull, raw = SIGBIT(SIGHUP) | SIGBIT(SIGKILL), raw_old = 0;
    EXPECT_OK(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8));
    EXPECT_OK(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &raw, &raw_old, 8));
    CHECK("raw: the old mask is the full one less KILL and STOP",
          raw_old == (~0ull & ~SIGBIT(SIGKILL) & ~SIGBIT(SIGSTOP)));
    EXPECT_OK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &raw_old, 8));
    CHECK("raw: SIGKILL was dropped from the new mask", raw_old == SIGBIT(SIGHUP));
    EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, 42, &raw, NULL, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &raw, NULL, 4), EINVAL);
    EXPECT_ERRNO(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &raw_old, 16), EINVAL);
    // With no new set, `how` is not looked at.
    EXPECT_OK(syscall(SYS_rt_sigprocmask, 42, NULL, &raw_old, 8));

    EXPECT_OK(sigprocmask(SIG_SETMASK, &old, NULL));
    EXPECT_OK(sigprocmask(SIG_SETMASK, NULL, &now));
    // The kernel's mask is the first 64 bits of glibc's sigset_t.
    CHECK("the original mask is restored", memcmp(&now, &old, 8) == 0);
}

int main(void) {
    test_sigaction();
    test_sigprocmask();
    return guest_done();
}
