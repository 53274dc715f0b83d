// SPDX-License-Identifier: Apache-2.0
//
// A system call fuzzer, run inside the sandbox (tests/tests/fuzz.rs): worker processes, each
// with a second thread racing it, make random system calls with random and structure-aware
// arguments (bad pointers, pointers to the end of a page, huge lengths, odd flags, descriptors
// that exist and some that do not). The sandbox must survive all of it: the run ends with this
// program's own status and summary, never with a sentry panic, hang or a killed sandbox.
//
//   fuzz SEED WORKERS CALLS   each worker makes CALLS calls, seeded from SEED
//
// Calls that would only stop the fuzzing itself are left out (exit, execve, fork and clone,
// signals to other processes, blocking waits without a timeout are bounded by alarm()).
#include "guest.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static uint64_t state;

static uint64_t next(void) {
    // xorshift64*
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
}

static char *scratch; // two pages: the second one unmapped

static uint64_t arg(void) {
    switch (next() % 16) {
    case 0:
        return 0;
    case 1:
        return (uint64_t)-1;
    case 2:
        return next() % 16;
    case 3:
        return next() % 4096;
    case 4:
        return 1ull << (next() % 64);
    case 5:
        return (uint64_t)scratch;
    case 6:
        return (uint64_t)scratch + 4096 - (next() % 16); // runs into the unmapped page
    case 7:
        return (uint64_t)scratch + 4096; // unmapped
    case 8:
        return 0x1000;
    case 9:
        return 0xffffffff81000000ull; // the kernel's half
    case 10:
        return 0x0000800000000000ull; // non-canonical
    case 11:
        return next() % 64; // descriptors, most of them open
    case 12:
        return (uint64_t)INT32_MAX + (next() % 4);
    case 13:
        return 1ull << 31; // 2 GiB lengths
    case 14:
        return next();
    default:
        return (uint64_t)scratch + (next() % 4000);
    }
}

static int skipped(long nr) {
    switch (nr) {
    case SYS_exit:
    case SYS_exit_group:
    case SYS_execve:
    case SYS_execveat:
    case SYS_fork:
    case SYS_vfork:
    case SYS_clone:
    case SYS_clone3:
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill:
    case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo:
    case SYS_pidfd_send_signal:
    case SYS_rt_sigreturn:
    case SYS_reboot:
    case SYS_munmap: // would unmap the fuzzer's own code and stack
    case SYS_mremap:
    case SYS_mprotect:
    case SYS_brk:
    case SYS_arch_prctl: // would move its TLS
    case SYS_rt_sigaction: // would ignore the watchdog
    case SYS_rt_sigprocmask:
    case SYS_sigaltstack:
    case SYS_setrlimit:
    case SYS_prlimit64:
    case SYS_vhangup:
    case SYS_setsid:
    case SYS_setpgid:
    case SYS_close_range: // would close its stdout
    case SYS_dup2:
    case SYS_dup3:
    case SYS_seccomp:
    case SYS_prctl:
    case SYS_ptrace:
    case SYS_set_tid_address:
    case SYS_set_robust_list:
    case SYS_rseq:
    case SYS_madvise:
    case SYS_remap_file_pages:
    case SYS_unshare:
    case SYS_setns:
    case SYS_chroot:
    case SYS_pivot_root:
    case SYS_alarm: // would move the watchdog
    case SYS_setitimer:
        return 1;
    default:
        return 0;
    }
}

static void calls(int n) {
    for (int i = 0; i < n; i++) {
        long nr = (long)(next() % 460);
        if (skipped(nr)) {
            continue;
        }
        uint64_t a[6];
        for (int j = 0; j < 6; j++) {
            a[j] = arg();
        }
        // Keep the fuzzer's own stdio.
        if ((nr == SYS_close || nr == SYS_dup) && a[0] <= 2) {
            continue;
        }
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
}

static int thread_calls;

static void *racer(void *p) {
    (void)p;
    calls(thread_calls);
    return NULL;
}

static void worker(uint64_t seed, int n) {
    state = seed | 1;
    scratch = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED) {
        _exit(3);
    }
    munmap(scratch + 4096, 4096);
    // Some descriptors to hit: a pipe, a file, a directory, /dev/null.
    int p[2];
    (void)pipe(p);
    (void)open("/etc/passwd", O_RDONLY);
    (void)open("/", O_RDONLY | O_DIRECTORY);
    (void)open("/dev/null", O_RDWR);
    (void)open("/tmp", O_RDONLY | O_DIRECTORY);
    // The watchdog: a call that blocks forever ends the worker, not the run.
    alarm(1);
    pthread_t t;
    thread_calls = n / 2;
    int racing = pthread_create(&t, NULL, racer, NULL) == 0;
    calls(n);
    if (racing) {
        pthread_join(t, NULL);
    }
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: fuzz SEED WORKERS CALLS\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    int workers = atoi(argv[2]);
    int n = atoi(argv[3]);
    int ended = 0;
    for (int w = 0; w < workers; w++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            worker(seed * 1000003u + (uint64_t)w, n);
        }
        if (pid < 0) {
            continue;
        }
        int st;
        if (waitpid(pid, &st, 0) == pid) {
            ended++;
        }
    }
    printf("fuzz: %d of %d workers ended\n", ended, workers);
    return ended == workers ? 0 : 1;
}
