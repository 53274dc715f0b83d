// SPDX-License-Identifier: Apache-2.0
// Escape attempts through the platform's stub (not a differential guest: run sandboxed only,
// by tests/tests/escapes.rs). The stub's code page sits at a fixed address in every sandboxed
// process; a program can read it, find every `syscall` instruction in it (0f 05, aligned or
// not) and jump there with registers of its choosing. For each site and each system call of a
// list (the ones the platform's filters allow from that page, with crafted arguments, and the
// ones that would hurt if the host ran them), a forked child jumps there, and a second thread
// of the child then checks that the stub's pages are unchanged and still not writable. The
// harness checks the host for the files the host would have created.
//
// usage: stub_escape MARKER_PATH    prints "sites N attempts M" and one "ESCAPE ..." line per
//                                   success; exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define STUB 0x7fffff000000UL
#define STUB_REGIONS (STUB + 0x10000UL)
#define PAGE 4096UL

static unsigned char code_copy[PAGE];
static pid_t main_tid = -1;
static sigjmp_buf probe_jmp;
static volatile int probing;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)si;
    (void)uc;
    if (probing && gettid() != main_tid) {
        siglongjmp(probe_jmp, sig);
    }
    // The thread that jumped into the stub: park it.
    for (;;) {
        pause();
    }
}

// Whether a byte of the stub page can be written (the write is undone if it can).
static int writable(unsigned long addr) {
    probing = 1;
    if (sigsetjmp(probe_jmp, 1) != 0) {
        probing = 0;
        return 0;
    }
    volatile unsigned char *p = (volatile unsigned char *)addr;
    unsigned char v = *p;
    *p = v ^ 0xff;
    *p = v;
    probing = 0;
    return 1;
}

static int readable_same(void) {
    probing = 1;
    if (sigsetjmp(probe_jmp, 1) != 0) {
        probing = 0;
        return 0;
    }
    int same = memcmp((const void *)STUB, code_copy, PAGE) == 0;
    probing = 0;
    return same;
}

struct attempt {
    const char *name;
    long nr;
    unsigned long a[6];
};

static int was_writable[4];

static void *checker(void *arg) {
    const char *what = arg;
    usleep(20000);
    for (unsigned long page = STUB; page < STUB + 4 * PAGE; page += PAGE) {
        if (!was_writable[(page - STUB) / PAGE] && writable(page)) {
            printf("ESCAPE %s: stub page %#lx writable\n", what, page);
        }
    }
    if (!readable_same()) {
        printf("ESCAPE %s: stub code changed or gone\n", what);
    }
    fflush(stdout);
    _exit(0);
    return NULL;
}

// Jumps to `target` with the attempt's registers (and the others pointing into the stub's own
// pages, as its code expects them).
static void __attribute__((noreturn)) jump(unsigned long target, const struct attempt *at,
                                           unsigned long frame) {
    register unsigned long r10 __asm__("r10") = at->a[3];
    register unsigned long r8 __asm__("r8") = at->a[4];
    register unsigned long r9 __asm__("r9") = at->a[5];
    register unsigned long r12 __asm__("r12") = STUB_REGIONS;
    register unsigned long r13 __asm__("r13") = 2;
    register unsigned long r14 __asm__("r14") = 0;
    register unsigned long r15 __asm__("r15") = 0;
    __asm__ volatile("mov %[frame], %%rsp\n\t"
                     "mov $0x7fffff002000, %%rbp\n\t"
                     "mov $0x7fffff003000, %%rbx\n\t"
                     "jmp *%[t]\n\t"
                     :
                     : [t] "c"(target), [frame] "r"(frame), "a"(at->nr), "D"(at->a[0]),
                       "S"(at->a[1]), "d"(at->a[2]), "r"(r10), "r"(r8), "r"(r9), "r"(r12),
                       "r"(r13), "r"(r14), "r"(r15)
                     : "memory");
    __builtin_unreachable();
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: stub_escape MARKER\n");
        return 2;
    }
    const char *marker = argv[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &sa, NULL);
    }
    // Is there a stub? (Natively there is none.)
    probing = 1;
    if (sigsetjmp(probe_jmp, 1) != 0) {
        printf("no stub\n");
        return 0;
    }
    memcpy(code_copy, (const void *)STUB, PAGE);
    probing = 0;
    // The pages the platform made writable by design (the ptrace stub's scratch page, the
    // systrap response page) stay out of the check; the others must stay read-only.
    for (int i = 0; i < 4; i++) {
        was_writable[i] = writable(STUB + i * PAGE);
    }
    printf("writable pages: %d%d%d%d\n", was_writable[0], was_writable[1], was_writable[2],
           was_writable[3]);
    // A fake signal frame for rt_sigreturn: zeros but for a return address back into the
    // stub and a 64-bit code segment.
    // Room below it: a signal taken on this stack gets a frame of several KiB (XSAVE with
    // AVX-512), which must not reach the globals before the array (probe_jmp).
    static unsigned long frame[4096] __attribute__((aligned(64)));
    memset(frame, 0, sizeof frame);
    const struct attempt attempts[] = {
        {"openat(O_CREAT) of a host path", SYS_openat,
         {(unsigned long)AT_FDCWD, (unsigned long)marker, O_CREAT | O_WRONLY, 0600, 0, 0}},
        {"mkdir of a host path", SYS_mkdir, {(unsigned long)marker, 0700, 0, 0, 0, 0}},
        {"mprotect(stub, rwx)", SYS_mprotect, {STUB, 4 * PAGE, 7, 0, 0, 0}},
        {"mmap(stub, MAP_FIXED)", SYS_mmap,
         {STUB, 4 * PAGE, 3, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, (unsigned long)-1, 0}},
        {"munmap(stub)", SYS_munmap, {STUB, 4 * PAGE, 0, 0, 0, 0}},
        {"mremap(stub)", SYS_mremap, {STUB, PAGE, PAGE, 3, 0x10000000, 0}},
        {"pwrite to the memfd", SYS_pwrite64, {1, STUB, PAGE, 0, 0, 0}},
        {"mmap of the memfd", SYS_mmap, {0x10000000, PAGE, 3, MAP_SHARED | MAP_FIXED, 1, 0}},
        {"seccomp(filter)", SYS_seccomp, {1, 0, STUB + PAGE, 0, 0, 0}},
        {"prctl(PR_SET_SECCOMP)", SYS_prctl, {22, 2, STUB + PAGE, 0, 0, 0}},
        {"ptrace(TRACEME)", SYS_ptrace, {0, 0, 0, 0, 0, 0}},
        {"clone", SYS_clone, {0x8000 | SIGCHLD, 0, 0, 0, 0, 0}},
        {"futex(WAKE) on a region", SYS_futex, {STUB_REGIONS, FUTEX_WAKE, 1, 0, 0, 0}},
        {"futex(WAIT) on a region", SYS_futex, {STUB_REGIONS + 4, FUTEX_WAIT, 0, 0, 0, 0}},
        {"futex(WAKE) on the request page", SYS_futex, {STUB + 2 * PAGE, FUTEX_WAKE, 1, 0, 0, 0}},
        {"futex(LOCK_PI) on a region", SYS_futex, {STUB_REGIONS, FUTEX_LOCK_PI, 0, 0, 0, 0}},
        {"rt_sigreturn of a crafted frame", SYS_rt_sigreturn, {0, 0, 0, 0, 0, 0}},
        {"exit", SYS_exit, {0, 0, 0, 0, 0, 0}},
        {"sched_yield", SYS_sched_yield, {0, 0, 0, 0, 0, 0}},
        {"arch_prctl(SET_FS)", SYS_arch_prctl, {0x1002, STUB, 0, 0, 0, 0}},
    };
    int sites = 0, attempts_made = 0;
    for (unsigned long off = 0; off + 1 < PAGE; off++) {
        if (code_copy[off] != 0x0f || code_copy[off + 1] != 0x05) {
            continue;
        }
        sites++;
        for (unsigned i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                alarm(5);
                main_tid = gettid();
                char what[160];
                snprintf(what, sizeof what, "%s at stub+%#lx", attempts[i].name, off);
                pthread_t th;
                if (pthread_create(&th, NULL, checker, what) != 0) {
                    _exit(3);
                }
                // rt_sigreturn reads its frame at rsp: point it at the crafted one (saved rip
                // 0: the thread faults and parks once it is back).
                unsigned long *f = frame + 3584;
                f[5 + 16] = 0; // uc_mcontext.rip
                f[5 + 18] = 0x2b0000000033UL; // cs, ss
                jump(STUB + off, &attempts[i], (unsigned long)f);
            }
            attempts_made++;
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    printf("sites %d attempts %d\n", sites, attempts_made);
    return 0;
}
