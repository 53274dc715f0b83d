// SPDX-License-Identifier: Apache-2.0
//
// Memory locks (issue 14): mlock, mlock2(MLOCK_ONFAULT), munlock, mlockall, munlockall and
// MAP_LOCKED as VmLck and /proc/self/smaps report them; what a lock refuses (discarding with
// madvise, msync MS_INVALIDATE); guard regions; RLIMIT_MEMLOCK for a caller without CAP_IPC_LOCK; locks not
// inherited by fork. Also the POSIX timer fixes of the same change: an absolute expiry in the
// past counts the missed periods as overruns, and timer_settime(NULL) is EINVAL; and
// pidfd_send_signal(2) on an open /proc/[pid] directory.

#include "guest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

// VmLck of this process, in kB.
static long vmlck(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmLck: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

// A field ("Size", "Rss", "Locked") of the smaps entry of the mapping starting at `addr`, in kB.
static long smaps_field(void *addr, const char *field) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int in = 0;
    long kb = -1;
    size_t n = strlen(field);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in = lo == (unsigned long)addr;
            continue;
        }
        if (in && strncmp(line, field, n) == 0 && line[n] == ':') {
            sscanf(line + n + 1, "%ld", &kb);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

static volatile int timer_overrun = -2;
static timer_t timer;

static void on_timer(int sig) {
    (void)sig;
    if (timer_overrun == -2) {
        timer_overrun = timer_getoverrun(timer);
        struct itimerspec off = {0};
        timer_settime(timer, 0, &off, NULL);
    }
}

int main(void) {
    long pg = sysconf(_SC_PAGESIZE);
    long kpg = pg / 1024;
    long base = vmlck();
    CHECK("VmLck readable", base >= 0);

    NOTE("mlock and munlock");
    char *p = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap", p != MAP_FAILED);
    EXPECT_OK(mlock(p + pg, 2 * pg));
    EXPECT_EQ(vmlck() - base, 2 * kpg);
    // A range straddling pages locks every page it touches (pages 4 and 5: not next to the
    // others, so that Linux keeps them a mapping of their own).
    EXPECT_OK(mlock(p + 5 * pg - 1, 2));
    EXPECT_EQ(vmlck() - base, 4 * kpg);
    // Locking again what is locked counts once.
    EXPECT_OK(mlock(p + pg, 2 * pg));
    EXPECT_EQ(vmlck() - base, 4 * kpg);
    EXPECT_EQ(smaps_field(p + pg, "Locked"), 2 * kpg);
    EXPECT_EQ(smaps_field(p + pg, "Rss"), 2 * kpg);
    EXPECT_EQ(smaps_field(p + pg, "Size"), 2 * kpg);
    EXPECT_EQ(smaps_field(p, "Locked"), 0);
    NOTE("locked memory is not discarded");
    EXPECT_ERRNO(madvise(p, 8 * pg, MADV_DONTNEED), EINVAL);
    EXPECT_ERRNO(madvise(p + pg, pg, MADV_FREE), EINVAL);
    EXPECT_OK(madvise(p + 6 * pg, pg, MADV_DONTNEED));
    EXPECT_OK(munlock(p, 8 * pg));
    EXPECT_EQ(vmlck() - base, 0);
    EXPECT_OK(madvise(p, 8 * pg, MADV_DONTNEED));
    NOTE("a hole in the range");
    EXPECT_OK(munmap(p + 7 * pg, pg));
    // The mappings before the hole are locked all the same (Linux's apply_vma_lock_flags).
    EXPECT_ERRNO(mlock(p, 8 * pg), ENOMEM);
    EXPECT_EQ(vmlck() - base, 7 * kpg);
    EXPECT_ERRNO(mlock(p + 7 * pg, pg), ENOMEM);
    EXPECT_EQ(vmlck() - base, 7 * kpg);
    EXPECT_ERRNO(munlock(p, 8 * pg), ENOMEM);
    EXPECT_EQ(vmlck() - base, 0);

    NOTE("mlock2");
    EXPECT_ERRNO(syscall(SYS_mlock2, p, pg, 2), EINVAL);
    EXPECT_OK(syscall(SYS_mlock2, p, 3 * pg, MLOCK_ONFAULT));
    EXPECT_EQ(vmlck() - base, 3 * kpg);
    EXPECT_OK(syscall(SYS_mlock2, p, 3 * pg, 0));
    EXPECT_EQ(vmlck() - base, 3 * kpg);

    NOTE("locks are not inherited by fork");
    pid_t c = fork();
    if (c == 0) {
        _exit(vmlck() == base ? 0 : 1);
    }
    int st = 0;
    waitpid(c, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_OK(munlock(p, 3 * pg));

    NOTE("MAP_LOCKED");
    char *q = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED,
                   -1, 0);
    CHECK("mmap MAP_LOCKED", q != MAP_FAILED);
    EXPECT_EQ(vmlck() - base, 2 * kpg);
    EXPECT_OK(munmap(q, 2 * pg));
    EXPECT_EQ(vmlck() - base, 0);

    NOTE("mlockall(MCL_FUTURE) locks what is mapped later; munlockall ends it");
    EXPECT_ERRNO(mlockall(0), EINVAL);
    EXPECT_ERRNO(mlockall(MCL_ONFAULT), EINVAL);
    EXPECT_OK(mlockall(MCL_FUTURE));
    EXPECT_EQ(vmlck() - base, 0);
    char *r = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap", r != MAP_FAILED);
    EXPECT_EQ(smaps_field(r, "Locked"), 2 * kpg);
    EXPECT_OK(munlockall());
    EXPECT_EQ(smaps_field(r, "Locked"), 0);
    char *s = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_EQ(smaps_field(s, "Locked"), 0);
    EXPECT_EQ(vmlck(), 0);

    NOTE("guard regions (MADV_GUARD_INSTALL, Linux 6.13)");
    char *g = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap", g != MAP_FAILED);
    memset(g, 'x', 4 * pg);
    EXPECT_OK(madvise(g + pg, 2 * pg, 102));
    EXPECT_EQ(g[0], 'x');
    c = fork();
    if (c == 0) {
        g[pg] = 'y';
        _exit(0);
    }
    waitpid(c, &st, 0);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    int zero = open("/dev/zero", O_RDONLY);
    EXPECT_ERRNO(read(zero, g + pg, 16), EFAULT);
    close(zero);
    EXPECT_ERRNO(write(1, g + 2 * pg, 16), EFAULT);
    EXPECT_OK(mlock(g, pg));
    EXPECT_ERRNO(madvise(g, pg, 102), EINVAL);
    EXPECT_OK(munlock(g, pg));
    EXPECT_OK(madvise(g + pg, 2 * pg, 103));
    // The guarded pages were discarded: they read as zeros now.
    EXPECT_EQ(g[pg], 0);
    EXPECT_EQ(g[3 * pg], 'x');
    munmap(g, 4 * pg);

    NOTE("msync(MS_INVALIDATE) of locked memory");
    char path[] = "/tmp/mlock-guest-XXXXXX";
    int fd = mkstemp(path);
    CHECK("mkstemp", fd >= 0);
    EXPECT_OK(ftruncate(fd, 2 * pg));
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK("mmap shared", m != MAP_FAILED);
    EXPECT_OK(msync(m, 2 * pg, MS_INVALIDATE));
    EXPECT_OK(mlock(m, pg));
    EXPECT_ERRNO(msync(m, 2 * pg, MS_INVALIDATE), EBUSY);
    EXPECT_OK(msync(m, 2 * pg, MS_SYNC));
    EXPECT_OK(munlock(m, pg));
    EXPECT_OK(msync(m, 2 * pg, MS_INVALIDATE));
    munmap(m, 2 * pg);
    close(fd);
    unlink(path);

    NOTE("RLIMIT_MEMLOCK without CAP_IPC_LOCK");
    c = fork();
    if (c == 0) {
        struct rlimit rl = {2 * pg, 2 * pg};
        if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0 || setuid(65534) != 0) {
            _exit(2);
        }
        int bad = 0;
        bad |= mlock(p, 3 * pg) == 0 || errno != ENOMEM;
        bad |= mlock(p, 2 * pg) != 0;
        // Already locked pages count once.
        bad |= mlock(p, 2 * pg) != 0;
        bad |= mlock(p + 2 * pg, pg) == 0 || errno != ENOMEM;
        bad |= munlock(p, 2 * pg) != 0;
        bad |= mlockall(MCL_CURRENT) == 0 || errno != ENOMEM;
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_MEMLOCK, &none);
        bad |= mlock(p, pg) == 0 || errno != EPERM;
        bad |= mlockall(MCL_FUTURE) == 0 || errno != EPERM;
        _exit(bad ? 1 : 0);
    }
    waitpid(c, &st, 0);
    EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);

    NOTE("timer_settime: an absolute expiry in the past counts the periods missed");
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    signal(SIGUSR1, on_timer);
    EXPECT_OK(timer_create(CLOCK_REALTIME, &sev, &timer));
    EXPECT_ERRNO(syscall(SYS_timer_settime, timer, 0, NULL, NULL), EINVAL);
    struct itimerspec its = {0};
    clock_gettime(CLOCK_REALTIME, &its.it_value);
    its.it_value.tv_sec -= 2;
    its.it_interval.tv_nsec = 1000000;
    EXPECT_OK(timer_settime(timer, TIMER_ABSTIME, &its, NULL));
    for (int i = 0; i < 2000 && timer_overrun == -2; i++) {
        usleep(1000);
    }
    // About 2,000 periods of 1 ms passed before the timer was set.
    EXPECT_TRUE(timer_overrun >= 1999 && timer_overrun < 100000);
    // A period of 1 ns set 3 s in the past overflows the count: capped at INT_MAX.
    timer_overrun = -2;
    clock_gettime(CLOCK_REALTIME, &its.it_value);
    its.it_value.tv_sec -= 3;
    its.it_interval.tv_nsec = 1;
    EXPECT_OK(timer_settime(timer, TIMER_ABSTIME, &its, NULL));
    for (int i = 0; i < 2000 && timer_overrun == -2; i++) {
        usleep(1000);
    }
    EXPECT_EQ(timer_overrun, 2147483647);
    EXPECT_OK(timer_delete(timer));

    NOTE("pidfd_send_signal on /proc/[pid] directories");
    int self = open("/proc/self", O_DIRECTORY | O_RDONLY);
    CHECK("open /proc/self", self >= 0);
    EXPECT_OK(syscall(SYS_pidfd_send_signal, self, 0, NULL, 0));
    char task[64];
    snprintf(task, sizeof task, "/proc/self/task/%d", (int)getpid());
    int tdir = open(task, O_DIRECTORY | O_RDONLY);
    CHECK("open /proc/self/task/TID", tdir >= 0);
    EXPECT_ERRNO(syscall(SYS_pidfd_send_signal, tdir, 0, NULL, 0), EBADF);
    int tmp = open("/proc/self/status", O_RDONLY);
    EXPECT_ERRNO(syscall(SYS_pidfd_send_signal, tmp, 0, NULL, 0), EBADF);
    // PIDFD_SIGNAL_THREAD, _THREAD_GROUP, _PROCESS_GROUP: one at most.
    EXPECT_ERRNO(syscall(SYS_pidfd_send_signal, self, 0, NULL, 3), EINVAL);
    EXPECT_ERRNO(syscall(SYS_pidfd_send_signal, self, 0, NULL, 8), EINVAL);
    EXPECT_OK(syscall(SYS_pidfd_send_signal, self, 0, NULL, 1));
    EXPECT_OK(syscall(SYS_pidfd_send_signal, self, 0, NULL, 2));
    NOTE("PIDFD_SIGNAL_PROCESS_GROUP: the group the process leads");
    pid_t leader = fork();
    if (leader == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    setpgid(leader, leader);
    pid_t member = fork();
    if (member == 0) {
        setpgid(0, leader);
        pause();
        _exit(0);
    }
    setpgid(member, leader);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d", (int)member);
    int mdir = open(dir, O_DIRECTORY | O_RDONLY);
    snprintf(dir, sizeof dir, "/proc/%d", (int)leader);
    int ldir = open(dir, O_DIRECTORY | O_RDONLY);
    CHECK("open the children's directories", mdir >= 0 && ldir >= 0);
    EXPECT_ERRNO(syscall(SYS_pidfd_send_signal, mdir, SIGTERM, NULL, 4), ESRCH);
    EXPECT_OK(syscall(SYS_pidfd_send_signal, ldir, SIGTERM, NULL, 4));
    waitpid(leader, &st, 0);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    waitpid(member, &st, 0);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    char child[64];
    snprintf(child, sizeof child, "/proc/%d", (int)c);
    int cdir = open(child, O_DIRECTORY | O_RDONLY);
    CHECK("open /proc/CHILD", cdir >= 0);
    EXPECT_OK(syscall(SYS_pidfd_send_signal, cdir, SIGTERM, NULL, 0));
    waitpid(c, &st, 0);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    // A reaped process's directory names no process.
    EXPECT_ERRNO(syscall(SYS_pidfd_send_signal, cdir, 0, NULL, 0), ESRCH);
    return guest_done();
}
