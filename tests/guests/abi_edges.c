// SPDX-License-Identifier: Apache-2.0
//
// Edges of the Linux ABI found by LTP (issue 14): clone/clone3 CLONE_PIDFD; close_range's
// CLOSE_RANGE_UNSHARE; readlinkat of an empty path; what an O_PATH descriptor is refused
// (fchmod, fchown, mmap, fgetxattr: EBADF); mmap's descriptor checked before its length;
// fdatasync of /dev/null; RNDGETENTCNT; sched_setparam of another user's process; truncate past
// RLIMIT_FSIZE; getdents of a removed directory; F_CREATED_QUERY; personality; ETXTBSY;
// RESOLVE_NO_MAGICLINKS on /proc/[pid]/exe, cwd and root; CPU times of reaped children.

#include "guest.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

static char dir[64];

static void path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
}

static void test_clone_pidfd(void) {
    NOTE("CLONE_PIDFD");
    int pidfd = -1;
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_PIDFD;
    a.pidfd = (uint64_t)(uintptr_t)&pidfd;
    a.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &a, sizeof a);
    if (pid == 0) {
        _exit(7);
    }
    EXPECT_GT(pid, 0);
    EXPECT_GT(pidfd, 2);
    EXPECT_TRUE(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    EXPECT_OK(waitid(P_PIDFD, pidfd, &si, WEXITED));
    EXPECT_EQ(si.si_status, 7);
    close(pidfd);
    // A pointer that cannot be written: EFAULT, and no child.
    a.pidfd = 8;
    EXPECT_ERRNO(syscall(SYS_clone3, &a, sizeof a), EFAULT);
    EXPECT_ERRNO(waitpid(-1, NULL, WNOHANG), ECHILD);
    // clone(2) has one pointer for the pidfd and the parent's tid.
    EXPECT_ERRNO(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pidfd, 0, 0),
                 EINVAL);
    int pf = -1;
    pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pf, 0, 0);
    if (pid == 0) {
        _exit(3);
    }
    EXPECT_GT(pf, 2);
    EXPECT_OK(waitid(P_PIDFD, pf, &si, WEXITED));
    EXPECT_EQ(si.si_status, 3);
    close(pf);
}

static void test_close_range_unshare(void) {
    NOTE("close_range CLOSE_RANGE_UNSHARE");
    int fd = open("/", O_PATH);
    EXPECT_GT(fd, 2);
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_FILES;
    a.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &a, sizeof a);
    if (pid == 0) {
        int ok = syscall(SYS_close_range, fd, fd, CLOSE_RANGE_UNSHARE) == 0 &&
                 fcntl(fd, F_GETFD) == -1 && errno == EBADF;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(st, 0);
    EXPECT_GE(fcntl(fd, F_GETFD), 0);
    close(fd);
}

static void test_o_path(void) {
    NOTE("O_PATH descriptors");
    char f[128], l[128];
    path(f, sizeof f, "file");
    path(l, sizeof l, "link");
    int w = open(f, O_CREAT | O_RDWR, 0644);
    EXPECT_GE(w, 0);
    close(w);
    EXPECT_OK(symlink("file", l));
    int lfd = open(l, O_PATH | O_NOFOLLOW);
    char buf[64] = {0};
    EXPECT_EQ(readlinkat(lfd, "", buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "file");
    int p = open(f, O_PATH);
    EXPECT_ERRNO(readlinkat(p, "", buf, sizeof buf), ENOENT);
    EXPECT_ERRNO(fchmod(p, 0600), EBADF);
    EXPECT_ERRNO(fchown(p, 0, 0), EBADF);
    EXPECT_ERRNO(fgetxattr(p, "user.x", buf, sizeof buf), EBADF);
    EXPECT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, p, 0) == MAP_FAILED && errno == EBADF);
    // fchownat with AT_EMPTY_PATH takes it.
    EXPECT_OK(fchownat(p, "", getuid(), getgid(), AT_EMPTY_PATH));
    close(p);
    close(lfd);
    // A closed descriptor is EBADF even with a zero length.
    int c = open(f, O_RDWR);
    close(c);
    EXPECT_TRUE(mmap(NULL, 0, PROT_WRITE, MAP_SHARED, c, 0) == MAP_FAILED && errno == EBADF);
    EXPECT_TRUE(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED &&
                errno == EINVAL);
    unlink(l);
    unlink(f);
}

// A shared mapping of /dev/zero opened read-only is never writable.
static void test_zero_shared(void) {
    NOTE("/dev/zero shared read-only");
    int fd = open("/dev/zero", O_RDONLY);
    EXPECT_TRUE(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
                errno == EACCES);
    char *p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    CHECK("mmap", p != MAP_FAILED);
    EXPECT_ERRNO(mprotect(p, 4096, PROT_READ | PROT_WRITE), EACCES);
    EXPECT_OK(mprotect(p, 4096, PROT_NONE));
    munmap(p, 8192);
    char *q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    EXPECT_OK(mprotect(q, 4096, PROT_READ | PROT_WRITE));
    munmap(q, 4096);
    close(fd);
}

static void test_sync_null(void) {
    NOTE("fdatasync of a device; the entropy count");
    int fd = open("/dev/null", O_RDONLY);
    EXPECT_ERRNO(fdatasync(fd), EINVAL);
    EXPECT_ERRNO(fsync(fd), EINVAL);
    close(fd);
    fd = open("/dev/urandom", O_RDONLY);
    int cnt = -1, avail = -2;
    EXPECT_OK(ioctl(fd, 0x80045200 /* RNDGETENTCNT */, &cnt));
    FILE *f = fopen("/proc/sys/kernel/random/entropy_avail", "r");
    CHECK("entropy_avail", f != NULL && fscanf(f, "%d", &avail) == 1);
    if (f != NULL) {
        fclose(f);
    }
    EXPECT_EQ(cnt, avail);
    close(fd);
}

static void test_truncate_fsize(void) {
    NOTE("truncate past RLIMIT_FSIZE");
    char f[128];
    path(f, sizeof f, "big");
    int fd = open(f, O_CREAT | O_RDWR, 0644);
    EXPECT_GE(fd, 0);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit r = {8192, 8192};
        setrlimit(RLIMIT_FSIZE, &r);
        int ok = truncate(f, 16384) == -1 && errno == EFBIG && ftruncate(fd, 16384) == -1 &&
                 errno == EFBIG && ftruncate(fd, 8192) == 0 && ftruncate(fd, 100) == 0;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(st, 0);
    struct stat sb;
    EXPECT_OK(fstat(fd, &sb));
    EXPECT_EQ(sb.st_size, 100);
    close(fd);
    unlink(f);
}

static void test_created_query(void) {
    NOTE("F_CREATED_QUERY");
    char f[128];
    path(f, sizeof f, "made");
    int fd = open(f, O_CREAT | O_RDWR, 0600);
    EXPECT_EQ(fcntl(fd, 1028 /* F_CREATED_QUERY */, 0), 1);
    close(fd);
    fd = open(f, O_CREAT | O_RDWR, 0600);
    EXPECT_EQ(fcntl(fd, 1028, 0), 0);
    close(fd);
    fd = open("/dev/null", O_RDONLY);
    EXPECT_EQ(fcntl(fd, 1028, 0), 0);
    close(fd);
    unlink(f);
}

static void test_personality(void) {
    NOTE("personality");
    pid_t pid = fork();
    if (pid == 0) {
        // Any value is kept (PER_SVR4, PER_BSD), and inherited by a child.
        int ok = personality(0x68000001) == 0 && personality(0xffffffff) == 0x68000001;
        ok = ok && personality(0x0006) == 0x68000001;
        pid_t c = fork();
        if (c == 0) {
            _exit(personality(0xffffffff) == 0x0006 ? 0 : 1);
        }
        int st = 1;
        waitpid(c, &st, 0);
        _exit(ok && st == 0 ? 0 : 1);
    }
    int st = 1;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(st, 0);
    // The parent's own stays as it was.
    EXPECT_EQ(personality(0xffffffff), 0);
}

// The file of a running program cannot be written, nor run while open for writing.
static void test_text_busy(void) {
    NOTE("ETXTBSY");
    char p[128];
    path(p, sizeof p, "prog");
    int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0755);
    int src = open("/proc/self/exe", O_RDONLY);
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0) {
        CHECK("copy", write(fd, buf, (size_t)n) == n);
    }
    close(src);
    pid_t pid = fork();
    if (pid == 0) {
        execl(p, p, "--sleep", (char *)NULL);
        _exit(errno == ETXTBSY ? 0 : 1);
    }
    int st = 1;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(st, 0);
    close(fd);
    int ready[2];
    CHECK("pipe", pipe(ready) == 0);
    pid = fork();
    if (pid == 0) {
        dup2(ready[1], 3);
        execl(p, p, "--sleep", (char *)NULL);
        _exit(1);
    }
    close(ready[1]);
    char c;
    CHECK("child running", read(ready[0], &c, 1) == 1);
    close(ready[0]);
    EXPECT_ERRNO(open(p, O_WRONLY), ETXTBSY);
    EXPECT_ERRNO(truncate(p, 0), ETXTBSY);
    int ro = open(p, O_RDONLY);
    EXPECT_GE(ro, 0);
    close(ro);
    kill(pid, SIGKILL);
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    fd = open(p, O_WRONLY);
    EXPECT_GE(fd, 0);
    close(fd);
    unlink(p);
}

// /proc/[pid]/exe, cwd and root are magic links, as fd/N: RESOLVE_NO_MAGICLINKS refuses them.
static void test_magic_links(void) {
    NOTE("RESOLVE_NO_MAGICLINKS");
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY;
    how.resolve = RESOLVE_NO_MAGICLINKS;
    const char *links[] = {"/proc/self/exe", "/proc/self/cwd", "/proc/self/root"};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        EXPECT_ERRNO(syscall(SYS_openat2, AT_FDCWD, links[i], &how, sizeof how), ELOOP);
    }
    how.resolve = 0;
    long fd = syscall(SYS_openat2, AT_FDCWD, "/proc/self/exe", &how, sizeof how);
    EXPECT_GE(fd, 0);
    close((int)fd);
}

static void burn(double secs) {
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++) {
            x += (unsigned long)i * 7;
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    } while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
}

static double secs(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

// CPU time: a reaped child's goes to its parent (wait4's rusage, RUSAGE_CHILDREN, times).
static void test_cpu_times(void) {
    NOTE("CPU times");
    burn(0.1);
    struct rusage self;
    EXPECT_OK(getrusage(RUSAGE_SELF, &self));
    EXPECT_TRUE(secs(self.ru_utime) + secs(self.ru_stime) >= 0.09);
    struct rusage ch;
    EXPECT_OK(getrusage(RUSAGE_CHILDREN, &ch));
    double before = secs(ch.ru_utime) + secs(ch.ru_stime);
    pid_t pid = fork();
    if (pid == 0) {
        burn(0.2);
        _exit(0);
    }
    struct rusage ru;
    int st;
    EXPECT_EQ(wait4(pid, &st, 0, &ru), pid);
    EXPECT_TRUE(secs(ru.ru_utime) + secs(ru.ru_stime) >= 0.19);
    EXPECT_OK(getrusage(RUSAGE_CHILDREN, &ch));
    EXPECT_TRUE(secs(ch.ru_utime) + secs(ch.ru_stime) - before >= 0.19);
    struct tms tm;
    times(&tm);
    EXPECT_TRUE(tm.tms_cutime + tm.tms_cstime >= 19 * sysconf(_SC_CLK_TCK) / 100 - 1);
    EXPECT_TRUE(tm.tms_utime + tm.tms_stime >= 9 * sysconf(_SC_CLK_TCK) / 100 - 1);
}

static void test_removed_dir(void) {
    NOTE("getdents of a removed directory");
    char d[128];
    path(d, sizeof d, "gone");
    EXPECT_OK(mkdir(d, 0755));
    int fd = open(d, O_RDONLY | O_DIRECTORY);
    EXPECT_OK(rmdir(d));
    char buf[1024];
    EXPECT_ERRNO(syscall(SYS_getdents64, fd, buf, sizeof buf), ENOENT);
    close(fd);
}

static void test_setparam_other_user(void) {
    NOTE("sched_setparam of another user's process");
    if (getuid() != 0) {
        return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        struct sched_param p = {0};
        int ok = sched_setparam(parent, &p) == 0;
        ok = ok && seteuid(65534) == 0;
        ok = ok && sched_setparam(parent, &p) == -1 && errno == EPERM;
        ok = ok && sched_setparam(0, &p) == 0;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(st, 0);
}

// Runs `body` in a child process (the limits, namespaces and credentials it changes stay
// there); its checks print as usual, and a failure among them fails `label`.
static void in_child(const char *label, void (*body)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        // The child answers for its own checks only, not the parent's failures before it.
        guest_failures = 0;
        body();
        fflush(stdout);
        _exit(guest_failures ? 1 : 0);
    }
    // The parent prints only once the child is done: the two transcripts never interleave.
    int st = 0;
    int waited = pid > 0 && waitpid(pid, &st, 0) == pid;
    CHECK("fork", pid > 0);
    CHECK("waitpid", waited);
    CHECK(label, WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void sigpending_limit_child(void) {
    // A user of its own: the count is per user, and the host's root may have signals
    // queued elsewhere (another run of this guest among them: the uid follows the pid).
    if (getuid() == 0) {
        uid_t own = 100000 + (uid_t)getpid();
        EXPECT_OK(setgid(own));
        EXPECT_OK(setuid(own));
        // Another user's process may not be signalled; its own process may.
        EXPECT_ERRNO(kill(getppid(), 0), EPERM);
        EXPECT_OK(kill(getpid(), 0));
    }
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, NULL);
    struct rlimit r = {2, 2};
    EXPECT_OK(setrlimit(RLIMIT_SIGPENDING, &r));
    union sigval v = {0};
    EXPECT_OK(sigqueue(getpid(), SIGRTMIN, v));
    EXPECT_OK(sigqueue(getpid(), SIGRTMIN, v));
    EXPECT_ERRNO(sigqueue(getpid(), SIGRTMIN, v), EAGAIN);
    EXPECT_ERRNO(syscall(SYS_tgkill, getpid(), gettid(), SIGRTMIN), EAGAIN);
    EXPECT_OK(kill(getpid(), SIGRTMIN));
    EXPECT_OK(sigqueue(getpid(), SIGUSR1, v));
    siginfo_t si;
    struct timespec zero = {0, 0};
    EXPECT_EQ(sigtimedwait(&s, &si, &zero), SIGUSR1);
    EXPECT_EQ(si.si_code, SI_USER);
    EXPECT_EQ(si.si_pid, 0);
    EXPECT_EQ(sigtimedwait(&s, &si, &zero), SIGRTMIN);
    EXPECT_EQ(si.si_code, SI_QUEUE);
    EXPECT_EQ(sigtimedwait(&s, &si, &zero), SIGRTMIN);
    EXPECT_ERRNO(sigtimedwait(&s, &si, &zero), EAGAIN);
    EXPECT_OK(sigqueue(getpid(), SIGRTMIN, v));
    EXPECT_OK(syscall(SYS_tgkill, getpid(), gettid(), SIGRTMIN));
    EXPECT_ERRNO(sigqueue(getpid(), SIGRTMIN, v), EAGAIN);
}

// RLIMIT_SIGPENDING bounds the signals queued for a user (tgkill02): past it a real-time
// signal a process queues fails with EAGAIN, kill(2)'s real-time signal and a queued standard
// one are made pending without their siginfo, and taking signals gives the room back.
static void test_sigpending_limit(void) {
    in_child("sigpending limit child", sigpending_limit_child);
}

// copy_file_range's checks in Linux's order: the files' types before their open modes
// (copy_file_range02).
static void test_copy_range_order(void) {
    NOTE("copy_file_range's checks");
    char path[600];
    snprintf(path, sizeof path, "%s/copy-src", dir);
    int src = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK("src", src >= 0);
    CHECK("write", write(src, "abc", 3) == 3);
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK("dir", d >= 0);
    loff_t off = 0;
    EXPECT_ERRNO(copy_file_range(src, &off, d, NULL, 3, 0), EISDIR);
    EXPECT_ERRNO(copy_file_range(d, NULL, src, NULL, 3, 0), EISDIR);
    int ro = open(path, O_RDONLY);
    CHECK("ro", ro >= 0);
    EXPECT_ERRNO(copy_file_range(src, &off, ro, NULL, 3, 0), EBADF);
    EXPECT_ERRNO(copy_file_range(src, (loff_t *)8, d, NULL, 3, 0), EFAULT);
    // Offsets that wrap; a destination at the largest offset; a copy ends at the source's end.
    int dst = open(dir, O_RDWR | O_TMPFILE, 0600);
    CHECK("dst", dst >= 0);
    loff_t far = 0x7fffffffffffffffLL;
    EXPECT_ERRNO(copy_file_range(src, &off, dst, &far, ~0ULL, 0), EOVERFLOW);
    far = 0x7fffffffffffffffLL;
    EXPECT_ERRNO(copy_file_range(src, &off, dst, &far, 65537, 0), EFBIG);
    off = 1;
    loff_t at = 0;
    EXPECT_EQ(copy_file_range(src, &off, dst, &at, 100, 0), 2);
    EXPECT_EQ(off, 3);
    EXPECT_EQ(copy_file_range(src, &off, dst, &at, 100, 0), 0);
    close(dst);
    // Within one file: overlapping ranges are refused, others copied.
    int again = open(path, O_RDWR);
    CHECK("again", again >= 0);
    loff_t a = 0, b = 1;
    EXPECT_ERRNO(copy_file_range(src, &a, again, &b, 2, 0), EINVAL);
    a = 0, b = 3;
    EXPECT_EQ(copy_file_range(src, &a, again, &b, 3, 0), 3);
    close(again);
    int p[2];
    CHECK("pipe", pipe(p) == 0);
    EXPECT_ERRNO(copy_file_range(src, &off, p[1], NULL, 3, 0), EINVAL);
    close(p[0]);
    close(p[1]);
    close(ro);
    close(d);
    close(src);
    unlink(path);
}

static void mounts_poll_child(void) {
    EXPECT_OK(unshare(CLONE_NEWNS));
    EXPECT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    int fd = open("/proc/self/mounts", O_RDONLY);
    CHECK("open mounts", fd >= 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLPRI, .data.fd = fd};
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
    struct epoll_event out;
    EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);
    char mnt[600];
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    EXPECT_OK(mkdir(mnt, 0755));
    EXPECT_OK(mount("none", mnt, "tmpfs", 0, NULL));
    EXPECT_EQ(epoll_wait(ep, &out, 1, 1000), 1);
    EXPECT_EQ(out.events, EPOLLPRI | EPOLLERR);
    EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);
    EXPECT_OK(umount(mnt));
    EXPECT_EQ(epoll_wait(ep, &out, 1, 1000), 1);
    EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);
    rmdir(mnt);
}

// An open mount table polls POLLPRI once per change of its namespace's mounts (epoll_wait10).
static void test_mounts_poll(void) {
    NOTE("polling the mount table");
    in_child("mounts poll child", mounts_poll_child);
}

static void erofs_first_child(void) {
    EXPECT_OK(unshare(CLONE_NEWNS));
    EXPECT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    char mnt[600], sub[700], lnk[700];
    snprintf(mnt, sizeof mnt, "%s/ro", dir);
    snprintf(sub, sizeof sub, "%s/sub", mnt);
    snprintf(lnk, sizeof lnk, "%s/link", mnt);
    EXPECT_OK(mkdir(mnt, 0755));
    EXPECT_OK(mount("none", mnt, "tmpfs", 0, NULL));
    EXPECT_OK(mkdir(sub, 0555));
    EXPECT_OK(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL));
    EXPECT_ERRNO(link(mnt, lnk), EROFS);
    EXPECT_ERRNO(link(sub, lnk), EROFS);
    EXPECT_ERRNO(link(sub, sub), EEXIST);
    char in[800];
    snprintf(in, sizeof in, "%s/x", sub);
    // The user must reach the directories (mkdtemp made ours 0700).
    EXPECT_OK(chmod(dir, 0755));
    EXPECT_OK(setgid(54321));
    EXPECT_OK(setuid(54321));
    EXPECT_ERRNO(mkdir(in, 0755), EROFS);
    EXPECT_ERRNO(rmdir(sub), EROFS);
}

// On a read-only mount EROFS comes before the other checks of a new name: a directory's
// link (else EPERM), a directory the caller may not write (else EACCES) (linkat02).
static void test_erofs_first(void) {
    NOTE("EROFS first");
    in_child("EROFS child", erofs_first_child);
    char mnt[600];
    snprintf(mnt, sizeof mnt, "%s/ro", dir);
    rmdir(mnt);
}

static void mnt_expire_child(void) {
    EXPECT_OK(unshare(CLONE_NEWNS));
    EXPECT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    char mnt[600];
    snprintf(mnt, sizeof mnt, "%s/exp", dir);
    EXPECT_OK(mkdir(mnt, 0755));
    EXPECT_OK(mount("none", mnt, "tmpfs", 0, NULL));
    EXPECT_ERRNO(umount2(mnt, MNT_EXPIRE | MNT_FORCE), EINVAL);
    EXPECT_ERRNO(umount2(mnt, MNT_EXPIRE), EAGAIN);
    EXPECT_OK(access(mnt, F_OK));
    EXPECT_ERRNO(umount2(mnt, MNT_EXPIRE), EAGAIN);
    EXPECT_OK(umount2(mnt, MNT_EXPIRE));
    EXPECT_ERRNO(umount2(mnt, MNT_EXPIRE), EINVAL);
    rmdir(mnt);
}

// umount2(MNT_EXPIRE): the first call marks the mount (EAGAIN), any use of it clears the mark,
// a second call with the mark still set unmounts (umount2_02).
static void test_mnt_expire(void) {
    NOTE("MNT_EXPIRE");
    in_child("MNT_EXPIRE child", mnt_expire_child);
}

// securebits: every bit kept, locks hold, fork inherits them, NO_CAP_AMBIENT_RAISE refuses
// ambient raises, NO_SETUID_FIXUP keeps capabilities across setuid (prctl07).
static int cap_get(uint32_t *eff, uint32_t *inh) {
    struct { uint32_t version; int pid; } h = {0x20080522, 0};
    struct { uint32_t effective, permitted, inheritable; } d[2];
    if (syscall(SYS_capget, &h, d) != 0) return -1;
    *eff = d[0].effective;
    *inh = d[0].inheritable;
    return 0;
}

static void securebits_child(void) {
    EXPECT_EQ(prctl(PR_GET_SECUREBITS), 0);
    EXPECT_ERRNO(prctl(PR_SET_SECUREBITS, 1 << 12), EPERM);
    // CAP_NET_BIND_SERVICE (10) inheritable, so that only the bit can refuse its raise.
    struct { uint32_t version; int pid; } h = {0x20080522, 0};
    struct { uint32_t effective, permitted, inheritable; } d[2];
    EXPECT_OK(syscall(SYS_capget, &h, d));
    d[0].inheritable |= 1 << 10;
    EXPECT_OK(syscall(SYS_capset, &h, d));
    EXPECT_OK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 10, 0, 0));
    EXPECT_OK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, 10, 0, 0));
    EXPECT_OK(prctl(PR_SET_SECUREBITS, 1 << 6));
    EXPECT_EQ(prctl(PR_GET_SECUREBITS), 1 << 6);
    EXPECT_ERRNO(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 10, 0, 0), EPERM);
    EXPECT_OK(prctl(PR_SET_SECUREBITS, 0));
    // KEEP_CAPS locked: neither PR_SET_KEEPCAPS nor PR_SET_SECUREBITS undoes it.
    EXPECT_OK(prctl(PR_SET_SECUREBITS, (1 << 4) | (1 << 5)));
    EXPECT_EQ(prctl(PR_GET_KEEPCAPS), 1);
    EXPECT_ERRNO(prctl(PR_SET_KEEPCAPS, 0), EPERM);
    EXPECT_ERRNO(prctl(PR_SET_SECUREBITS, 0), EPERM);
    EXPECT_ERRNO(prctl(PR_SET_SECUREBITS, 1 << 5), EPERM);
    // NO_SETUID_FIXUP: the capabilities stay across the uid change.
    EXPECT_OK(prctl(PR_SET_SECUREBITS, (1 << 4) | (1 << 5) | (1 << 2)));
    pid_t g = fork();
    if (g == 0) {
        int ok = prctl(PR_GET_SECUREBITS) == ((1 << 4) | (1 << 5) | (1 << 2));
        _exit(ok ? 0 : 1);
    }
    int gst = 0;
    EXPECT_EQ(waitpid(g, &gst, 0), g);
    EXPECT_EQ(gst, 0);
    EXPECT_OK(setuid(54321));
    uint32_t eff = 0, inh = 0;
    EXPECT_OK(cap_get(&eff, &inh));
    EXPECT_NE(eff, 0);
}

static void test_securebits(void) {
    NOTE("securebits");
    in_child("securebits child", securebits_child);
}

// A signal whose frame cannot be written (its SA_ONSTACK stack read-only) raises SIGSEGV,
// which a handler on a usable stack takes; a SIGSEGV that cannot be delivered so ends the
// process (signal06).
static volatile sig_atomic_t segv_seen, hup_seen;
static void on_segv(int sig) { (void)sig; segv_seen++; }
static void on_hup(int sig) { (void)sig; hup_seen++; }

static void frame_fault_child(void) {
    static char alt[4096 * 4] __attribute__((aligned(4096)));
    stack_t st = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    EXPECT_OK(sigaltstack(&st, NULL));
    struct sigaction sa = {.sa_handler = on_segv};
    EXPECT_OK(sigaction(SIGSEGV, &sa, NULL));
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_ONSTACK;
    EXPECT_OK(sigaction(SIGHUP, &sa, NULL));
    EXPECT_OK(mprotect(alt, sizeof alt, PROT_READ));
    EXPECT_OK(kill(getpid(), SIGHUP));
    EXPECT_EQ(segv_seen, 1);
    EXPECT_EQ(hup_seen, 0);
    EXPECT_OK(mprotect(alt, sizeof alt, PROT_READ | PROT_WRITE));
    EXPECT_OK(kill(getpid(), SIGHUP));
    EXPECT_EQ(hup_seen, 1);
    // SIGSEGV's own handler on the unusable stack: the process ends by SIGSEGV.
    fflush(stdout);
    pid_t g = fork();
    if (g == 0) {
        struct sigaction s2 = {.sa_handler = on_segv, .sa_flags = SA_ONSTACK};
        sigaction(SIGSEGV, &s2, NULL);
        mprotect(alt, sizeof alt, PROT_READ);
        kill(getpid(), SIGHUP);
        _exit(0);
    }
    int gst = 0;
    EXPECT_EQ(waitpid(g, &gst, 0), g);
    EXPECT_TRUE(WIFSIGNALED(gst) && WTERMSIG(gst) == SIGSEGV);
}

static void test_frame_fault(void) {
    NOTE("a frame that cannot be written");
    in_child("frame fault child", frame_fault_child);
}

// membarrier(2)'s commands and errors (membarrier01).
static void test_membarrier(void) {
    NOTE("membarrier");
    EXPECT_ERRNO(syscall(SYS_membarrier, 0, 1, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_membarrier, 1 << 12, 0, 0), EINVAL);
    EXPECT_EQ(syscall(SYS_membarrier, 512, 0, 0), 0);
    EXPECT_ERRNO(syscall(SYS_membarrier, 8, 0, 0), EPERM);
    EXPECT_ERRNO(syscall(SYS_membarrier, 32, 0, 0), EPERM);
    EXPECT_OK(syscall(SYS_membarrier, 16, 0, 0));
    EXPECT_OK(syscall(SYS_membarrier, 8, 0, 0));
    EXPECT_ERRNO(syscall(SYS_membarrier, 8, 1, 0), EINVAL);
    EXPECT_EQ(syscall(SYS_membarrier, 512, 0, 0), 16);
    EXPECT_OK(syscall(SYS_membarrier, 2, 0, 0));
    EXPECT_OK(syscall(SYS_membarrier, 256, 0, 0));
    EXPECT_OK(syscall(SYS_membarrier, 128, 1, 0));
    EXPECT_EQ(syscall(SYS_membarrier, 512, 0, 0), 16 | 256);
}

static void *spin_a_little(void *arg) {
    volatile unsigned long n = 0;
    for (unsigned long i = 0; i < 20000000UL; i++) {
        n += i;
    }
    (void)arg;
    return NULL;
}

// CPU clocks by id (nice05): another live process's (clock_getcpuclockid), a zombie's (its
// final time), a thread's of the caller's own process (pthread_getcpuclockid) read; a process
// that does not exist (reaped), or a thread of another process, is EINVAL.
static void test_cpu_clocks(void) {
    NOTE("CPU clocks of other processes and threads");
    int p[2];
    EXPECT_OK(pipe(p));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        spin_a_little(NULL);
        char x;
        read(p[0], &x, 1);
        _exit(0);
    }
    clockid_t cid;
    EXPECT_EQ(clock_getcpuclockid(c, &cid), 0);
    struct timespec ts = {0, 0};
    // The child spins before it waits: its clock moves past zero.
    int read_ok = 1;
    for (int i = 0; i < 200 && read_ok && ts.tv_sec == 0 && ts.tv_nsec < 1000000; i++) {
        read_ok = clock_gettime(cid, &ts) == 0;
        usleep(10000);
    }
    CHECK("the child's CPU clock reads", read_ok);
    CHECK("the child's CPU clock moved", ts.tv_sec > 0 || ts.tv_nsec >= 1000000);
    EXPECT_OK(clock_getres(cid, &ts));
    // Its threads' clocks are not the caller's to read.
    EXPECT_ERRNO(clock_gettime((~(clockid_t)c << 3) | 6, &ts), EINVAL);
    struct timespec live = ts;
    EXPECT_EQ(write(p[1], "x", 1), 1);
    // A zombie's clock reads its final time (the process is there until it is reaped).
    siginfo_t si;
    EXPECT_OK(waitid(P_PID, c, &si, WEXITED | WNOWAIT));
    struct timespec dead = {0, 0};
    EXPECT_OK(clock_gettime(cid, &dead));
    CHECK("a zombie's CPU clock keeps its time",
          dead.tv_sec > live.tv_sec || (dead.tv_sec == live.tv_sec && dead.tv_nsec >= live.tv_nsec));
    EXPECT_OK(clock_getres(cid, &ts));
    EXPECT_EQ(waitpid(c, NULL, 0), c);
    EXPECT_ERRNO(clock_gettime(cid, &ts), EINVAL);
    EXPECT_ERRNO(clock_getres(cid, &ts), EINVAL);
    close(p[0]);
    close(p[1]);

    pthread_t th;
    EXPECT_EQ(pthread_create(&th, NULL, spin_a_little, NULL), 0);
    clockid_t tid_clock;
    EXPECT_EQ(pthread_getcpuclockid(th, &tid_clock), 0);
    EXPECT_OK(clock_gettime(tid_clock, &ts));
    EXPECT_EQ(pthread_join(th, NULL), 0);
    // CPUCLOCK_MAX (3) is no kind of clock.
    EXPECT_ERRNO(clock_gettime((~(clockid_t)getpid() << 3) | 3, &ts), EINVAL);
}

#ifndef FS_IOC_GETFLAGS
#define FS_IOC_GETFLAGS _IOR('f', 1, long)
#define FS_IOC_SETFLAGS _IOW('f', 2, long)
#endif
#define FL_IMMUTABLE 0x10
#define FL_APPEND 0x20
#define FL_NODUMP 0x40
#define FL_COMPR 0x4

struct guest_fsxattr {
    uint32_t xflags, extsize, nextents, projid, cowextsize;
    unsigned char pad[8];
};
struct guest_file_attr {
    uint64_t xflags;
    uint32_t extsize, nextents, projid, cowextsize;
};
#define GUEST_FSGETXATTR _IOR('X', 31, struct guest_fsxattr)
#define GUEST_FSSETXATTR _IOW('X', 32, struct guest_fsxattr)

static int set_flags(const char *p, int flags) {
    int fd = open(p, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        return -1;
    }
    int r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static int get_flags(const char *p) {
    int fd = open(p, O_RDONLY | O_NONBLOCK);
    int flags = -1;
    if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
        flags = -1;
    }
    if (fd >= 0) {
        close(fd);
    }
    return flags;
}

// A tmpfs of the calling child's own mount namespace at `name` in the test directory, its path
// in `m` (natively too: the host's /tmp may not be a tmpfs).
static void private_tmpfs(char *m, size_t n, const char *name) {
    EXPECT_OK(unshare(CLONE_NEWNS));
    EXPECT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    path(m, n, name);
    EXPECT_OK(mkdir(m, 0755));
    EXPECT_OK(mount("none", m, "tmpfs", 0, NULL));
}

static void inode_flags_child(void) {
    char m[128], f[160], g[160], d[160], x[192];
    private_tmpfs(m, sizeof m, "flags");
    snprintf(f, sizeof f, "%s/file", m);
    snprintf(g, sizeof g, "%s/other", m);
    snprintf(d, sizeof d, "%s/dir", m);
    int fd = EXPECT_OK(open(f, O_RDWR | O_CREAT, 0644));
    EXPECT_EQ(write(fd, "data", 4), 4);
    close(fd);
    EXPECT_EQ(get_flags(f), 0);
    EXPECT_ERRNO(set_flags(f, FL_COMPR), EOPNOTSUPP);
    EXPECT_OK(set_flags(f, FL_IMMUTABLE | FL_NODUMP));
    EXPECT_EQ(get_flags(f), FL_IMMUTABLE | FL_NODUMP);
    struct statx sx;
    EXPECT_OK(statx(AT_FDCWD, f, 0, STATX_BASIC_STATS, &sx));
    EXPECT_EQ(sx.stx_attributes & (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND | STATX_ATTR_NODUMP),
              STATX_ATTR_IMMUTABLE | STATX_ATTR_NODUMP);
    CHECK("the mask holds the flags' attributes",
          (sx.stx_attributes_mask & (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND)) ==
              (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND));
    // Immutable: no write, truncation, attribute, link or name changes.
    EXPECT_ERRNO(open(f, O_WRONLY), EPERM);
    EXPECT_ERRNO(open(f, O_RDONLY | O_TRUNC), EPERM);
    fd = EXPECT_OK(open(f, O_RDONLY));
    close(fd);
    EXPECT_ERRNO(truncate(f, 0), EPERM);
    EXPECT_ERRNO(chmod(f, 0600), EPERM);
    EXPECT_ERRNO(chown(f, 1, 1), EPERM);
    EXPECT_ERRNO(utimes(f, NULL), EPERM);
    EXPECT_ERRNO(setxattr(f, "user.x", "1", 1, 0), EPERM);
    EXPECT_ERRNO(link(f, g), EPERM);
    EXPECT_ERRNO(rename(f, g), EPERM);
    EXPECT_ERRNO(unlink(f), EPERM);
    int xfd = EXPECT_OK(open(f, O_RDONLY));
    struct guest_fsxattr fx;
    memset(&fx, 0, sizeof fx);
    EXPECT_OK(ioctl(xfd, GUEST_FSGETXATTR, &fx));
    EXPECT_EQ(fx.xflags, 0x8u | 0x80u);
    fx.projid = 7;
    EXPECT_ERRNO(ioctl(xfd, GUEST_FSSETXATTR, &fx), EOPNOTSUPP);
    close(xfd);
    struct guest_file_attr fa;
    memset(&fa, 0, sizeof fa);
    EXPECT_OK(syscall(468, AT_FDCWD, f, &fa, sizeof fa, 0));
    EXPECT_EQ(fa.xflags, 0x88u);
    EXPECT_ERRNO(syscall(468, AT_FDCWD, f, &fa, 8, 0), EINVAL);
    EXPECT_ERRNO(syscall(468, AT_FDCWD, f, &fa, sizeof fa, 0x8000), EINVAL);
    fa.xflags = 0;
    EXPECT_OK(syscall(469, AT_FDCWD, f, &fa, sizeof fa, 0));
    EXPECT_EQ(get_flags(f), 0);
    EXPECT_OK(unlink(f));

    // Append-only: written only with O_APPEND, never truncated or removed.
    fd = EXPECT_OK(open(g, O_RDWR | O_CREAT, 0644));
    close(fd);
    EXPECT_OK(set_flags(g, FL_APPEND));
    EXPECT_ERRNO(open(g, O_WRONLY), EPERM);
    EXPECT_ERRNO(open(g, O_WRONLY | O_APPEND | O_TRUNC), EPERM);
    fd = EXPECT_OK(open(g, O_WRONLY | O_APPEND));
    EXPECT_EQ(write(fd, "more", 4), 4);
    EXPECT_ERRNO(ftruncate(fd, 0), EPERM);
    EXPECT_OK(fallocate(fd, 0, 0, 4096));
    EXPECT_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), EPERM);
    close(fd);
    EXPECT_ERRNO(unlink(g), EPERM);
    // Times: a touch (both UTIME_NOW) is allowed, UTIME_NOW beside UTIME_OMIT sets times.
    struct timespec now_now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    struct timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    EXPECT_OK(utimensat(AT_FDCWD, g, now_now, 0));
    EXPECT_ERRNO(utimensat(AT_FDCWD, g, now_omit, 0), EPERM);
    int gd = EXPECT_OK(open(g, O_RDONLY));
    EXPECT_ERRNO(syscall(SYS_utimensat, gd, NULL, now_now, AT_SYMLINK_NOFOLLOW), EINVAL);
    close(gd);

    // Directories: nothing made in an immutable one, nothing removed from an append-only one.
    EXPECT_OK(mkdir(d, 0755));
    snprintf(x, sizeof x, "%s/inside", d);
    EXPECT_OK(set_flags(d, FL_IMMUTABLE));
    EXPECT_ERRNO(open(x, O_WRONLY | O_CREAT, 0644), EPERM);
    EXPECT_ERRNO(mkdir(x, 0755), EPERM);
    EXPECT_OK(set_flags(d, FL_APPEND));
    fd = EXPECT_OK(open(x, O_WRONLY | O_CREAT, 0644));
    close(fd);
    EXPECT_ERRNO(unlink(x), EPERM);

    // Another user: not the owner (EPERM); the owner without CAP_LINUX_IMMUTABLE may set
    // NODUMP but not IMMUTABLE.
    char own[192];
    snprintf(own, sizeof own, "%s/owned", m);
    fd = EXPECT_OK(open(own, O_RDWR | O_CREAT, 0644));
    close(fd);
    EXPECT_OK(chown(own, 54324, 54324));
    EXPECT_OK(chmod(m, 0777));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int ok = setgid(54325) == 0 && setuid(54325) == 0;
        ok = ok && set_flags(own, FL_NODUMP) == -1 && errno == EPERM;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    EXPECT_EQ(waitpid(c, &st, 0), c);
    CHECK("another user may not set flags", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    c = fork();
    if (c == 0) {
        int ok = setgid(54324) == 0 && setuid(54324) == 0;
        ok = ok && set_flags(own, FL_NODUMP) == 0;
        ok = ok && set_flags(own, FL_NODUMP | FL_IMMUTABLE) == -1 && errno == EPERM;
        _exit(ok ? 0 : 1);
    }
    EXPECT_EQ(waitpid(c, &st, 0), c);
    CHECK("the owner may set NODUMP, not IMMUTABLE", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_EQ(get_flags(own), FL_NODUMP);

    EXPECT_OK(set_flags(d, 0));
    EXPECT_OK(set_flags(g, 0));
    EXPECT_OK(umount(m));
    EXPECT_OK(rmdir(m));
}

// Inode attribute flags on tmpfs (chattr/lsattr; unlink09, file_attr): FS_IOC_GETFLAGS and
// SETFLAGS, the FS_XFLAG forms, file_getattr/file_setattr, statx's attributes, and what
// IMMUTABLE and APPEND forbid.
static void test_inode_flags(void) {
    in_child("inode flags child", inode_flags_child);
}

struct guest_procmap_query {
    uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size,
        vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};
#define GUEST_PROCMAP_QUERY _IOWR('f', 17, struct guest_procmap_query)

// PROCMAP_QUERY on /proc/self/maps (ioctl10): a mapping by address, exactly or the next one,
// filtered by protection, with its name and the file's build ID; ENOENT where none matches.
static void test_procmap_query(void) {
    NOTE("PROCMAP_QUERY");
    int fd = EXPECT_OK(open("/proc/self/maps", O_RDONLY));
    char *m = EXPECT_OK(mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_OK(mprotect(m + 4096, 4096, PROT_READ));
    EXPECT_OK(munmap(m + 2 * 4096, 4096));
    struct guest_procmap_query q;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = (uintptr_t)m + 10;
    EXPECT_OK(ioctl(fd, GUEST_PROCMAP_QUERY, &q));
    EXPECT_EQ(q.vma_start, (uintptr_t)m);
    EXPECT_EQ(q.vma_end, (uintptr_t)m + 4096);
    EXPECT_EQ(q.vma_flags, 3u);
    EXPECT_EQ(q.vma_page_size, 4096u);
    EXPECT_EQ(q.inode, 0u);
    // The read-only one after it: WRITABLE finds nothing there, COVERING_OR_NEXT goes past.
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = (uintptr_t)m + 4096;
    q.query_flags = 0x02;
    EXPECT_ERRNO(ioctl(fd, GUEST_PROCMAP_QUERY, &q), ENOENT);
    q.query_flags = 0;
    EXPECT_OK(ioctl(fd, GUEST_PROCMAP_QUERY, &q));
    EXPECT_EQ(q.vma_flags, 1u);
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = (uintptr_t)m + 2 * 4096;
    EXPECT_ERRNO(ioctl(fd, GUEST_PROCMAP_QUERY, &q), ENOENT);
    q.query_flags = 0x10;
    EXPECT_OK(ioctl(fd, GUEST_PROCMAP_QUERY, &q));
    CHECK("the next mapping is past the hole", q.vma_start > (uintptr_t)m + 2 * 4096);
    // This program's own text: file-backed, named, with the build ID the linker gave it.
    char name[256], id[64];
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_addr = (uintptr_t)&test_procmap_query;
    q.vma_name_addr = (uintptr_t)name;
    q.vma_name_size = sizeof name;
    q.build_id_addr = (uintptr_t)id;
    q.build_id_size = sizeof id;
    EXPECT_OK(ioctl(fd, GUEST_PROCMAP_QUERY, &q));
    EXPECT_EQ(q.vma_flags, 5u);
    char exe[256] = {0};
    EXPECT_OK(readlink("/proc/self/exe", exe, sizeof exe - 1));
    CHECK("named as /proc/self/exe", strcmp(name, exe) == 0);
    EXPECT_EQ(q.vma_name_size, (uint32_t)strlen(exe) + 1);
    struct stat st;
    EXPECT_OK(stat(exe, &st));
    EXPECT_EQ(q.inode, (uint64_t)st.st_ino);
    EXPECT_EQ(q.build_id_size, 20u);
    q.vma_name_size = 2;
    EXPECT_ERRNO(ioctl(fd, GUEST_PROCMAP_QUERY, &q), ENAMETOOLONG);
    // The struct's own checks.
    q.vma_name_size = 0;
    EXPECT_ERRNO(ioctl(fd, GUEST_PROCMAP_QUERY, &q), EINVAL);
    memset(&q, 0, sizeof q);
    q.size = 16;
    EXPECT_ERRNO(ioctl(fd, GUEST_PROCMAP_QUERY, &q), EINVAL);
    q.size = sizeof q;
    q.query_flags = 0x40;
    EXPECT_ERRNO(ioctl(fd, GUEST_PROCMAP_QUERY, &q), EINVAL);
    munmap(m, 2 * 4096);
    close(fd);
}

// mincore(2) says which pages are resident (mincore03, mlock201): untouched anonymous pages
// are not, touched ones are, and MADV_DONTNEED drops them again.
static void test_mincore_residency(void) {
    NOTE("mincore residency");
    unsigned char *m = EXPECT_OK(mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    unsigned char v[4] = {9, 9, 9, 9};
    EXPECT_OK(mincore(m, 4 * 4096, v));
    CHECK("nothing resident before a touch", v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0);
    m[0] = 1;
    m[2 * 4096] = 1;
    EXPECT_OK(mincore(m, 4 * 4096, v));
    CHECK("the touched pages are resident", v[0] == 1 && v[1] == 0 && v[2] == 1 && v[3] == 0);
    EXPECT_OK(madvise(m, 4 * 4096, MADV_DONTNEED));
    EXPECT_OK(mincore(m, 4 * 4096, v));
    CHECK("MADV_DONTNEED drops them", v[0] == 0 && v[2] == 0);
    EXPECT_ERRNO(mincore(m, 4096, (unsigned char *)1), EFAULT);
    EXPECT_ERRNO(mincore(m + 1, 4096, v), EINVAL);
    munmap(m, 4 * 4096);
    EXPECT_ERRNO(mincore(m, 4096, v), ENOMEM);
    // mlock faults the pages in, even those of a write-only shared mapping; MLOCK_ONFAULT
    // leaves them to the program's own touches.
    m = EXPECT_OK(mmap(NULL, 4 * 4096, PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    EXPECT_OK(syscall(SYS_mlock2, m, 2 * 4096, 0));
    EXPECT_OK(syscall(SYS_mlock2, m + 2 * 4096, 2 * 4096, 1));
    m[3 * 4096] = 1;
    EXPECT_OK(mincore(m, 4 * 4096, v));
    CHECK("mlock populated, ONFAULT did not", v[0] == 1 && v[1] == 1 && v[2] == 0 && v[3] == 1);
    munmap(m, 4 * 4096);
}

// An ACL in its xattr form: version 2, then (tag, perm, id) entries.
static size_t make_acl(unsigned char *buf, const unsigned (*e)[3], int n) {
    uint32_t version = 2;
    memcpy(buf, &version, 4);
    for (int i = 0; i < n; i++) {
        uint16_t tag = (uint16_t)e[i][0], perm = (uint16_t)e[i][1];
        uint32_t id = e[i][2];
        memcpy(buf + 4 + 8 * i, &tag, 2);
        memcpy(buf + 6 + 8 * i, &perm, 2);
        memcpy(buf + 8 + 8 * i, &id, 4);
    }
    return 4 + 8 * (size_t)n;
}

// Opens `p` as uid `uid` in a child: 0 when it opens, else the errno.
static int open_as(uid_t uid, const char *p, int flags) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        if (setgid(uid) != 0 || setuid(uid) != 0) {
            _exit(99);
        }
        int fd = open(p, flags);
        _exit(fd >= 0 ? 0 : errno);
    }
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 98;
}

static void posix_acl_child(void) {
    char m[128], f[160], d[160], x[192], y[192];
    private_tmpfs(m, sizeof m, "acls");
    EXPECT_OK(chmod(m, 0777));
    snprintf(f, sizeof f, "%s/file", m);
    snprintf(d, sizeof d, "%s/dir", m);
    int fd = EXPECT_OK(open(f, O_RDWR | O_CREAT, 0640));
    close(fd);
    EXPECT_OK(chmod(f, 0640));
    unsigned char buf[128], got[128];
    const unsigned named[][3] = {{1, 6, 0}, {2, 4, 54330}, {4, 4, 0}, {0x10, 4, 0}, {0x20, 0, 0}};
    size_t n = make_acl(buf, named, 5);
    EXPECT_ERRNO(getxattr(f, "system.posix_acl_access", got, sizeof got), ENODATA);
    EXPECT_OK(setxattr(f, "system.posix_acl_access", buf, n, 0));
    EXPECT_EQ(getxattr(f, "system.posix_acl_access", got, sizeof got), (ssize_t)n);
    char names[256];
    ssize_t ln = listxattr(f, names, sizeof names);
    CHECK("listed", ln > 0 && memmem(names, (size_t)ln, "system.posix_acl_access", 23) != NULL);
    struct stat st;
    EXPECT_OK(stat(f, &st));
    EXPECT_EQ(st.st_mode & 0777, 0640);
    // The named user reads but does not write; another user does neither.
    EXPECT_EQ(open_as(54330, f, O_RDONLY), 0);
    EXPECT_EQ(open_as(54330, f, O_WRONLY), EACCES);
    EXPECT_EQ(open_as(54331, f, O_RDONLY), EACCES);
    // chmod moves the mask: the named user's read goes with the group bits.
    EXPECT_OK(chmod(f, 0600));
    EXPECT_EQ(open_as(54330, f, O_RDONLY), EACCES);
    EXPECT_OK(chmod(f, 0640));
    EXPECT_EQ(open_as(54330, f, O_RDONLY), 0);
    // An ACL the mode says all of is not kept; it sets the mode.
    const unsigned plain[][3] = {{1, 7, 0}, {4, 5, 0}, {0x20, 4, 0}};
    n = make_acl(buf, plain, 3);
    EXPECT_OK(setxattr(f, "system.posix_acl_access", buf, n, 0));
    EXPECT_OK(stat(f, &st));
    EXPECT_EQ(st.st_mode & 0777, 0754);
    EXPECT_ERRNO(getxattr(f, "system.posix_acl_access", got, sizeof got), ENODATA);
    // Invalid ones: a named user with no mask, another version.
    const unsigned nomask[][3] = {{1, 6, 0}, {2, 4, 54330}, {4, 4, 0}, {0x20, 0, 0}};
    n = make_acl(buf, nomask, 4);
    EXPECT_ERRNO(setxattr(f, "system.posix_acl_access", buf, n, 0), EINVAL);
    n = make_acl(buf, named, 5);
    buf[0] = 1;
    EXPECT_ERRNO(setxattr(f, "system.posix_acl_access", buf, n, 0), EOPNOTSUPP);
    buf[0] = 2;
    // A default ACL: only on a directory; what is made there inherits it, umask aside.
    EXPECT_ERRNO(setxattr(f, "system.posix_acl_default", buf, n, 0), EACCES);
    EXPECT_OK(mkdir(d, 0755));
    const unsigned dflt[][3] = {{1, 7, 0}, {2, 7, 54330}, {4, 5, 0}, {0x10, 7, 0}, {0x20, 0, 0}};
    n = make_acl(buf, dflt, 5);
    EXPECT_OK(setxattr(d, "system.posix_acl_default", buf, n, 0));
    mode_t old = umask(022);
    snprintf(x, sizeof x, "%s/inherited", d);
    fd = EXPECT_OK(open(x, O_RDWR | O_CREAT, 0666));
    close(fd);
    snprintf(y, sizeof y, "%s/subdir", d);
    EXPECT_OK(mkdir(y, 0777));
    umask(old);
    EXPECT_OK(stat(x, &st));
    EXPECT_EQ(st.st_mode & 0777, 0660);
    CHECK("the file has an access ACL", getxattr(x, "system.posix_acl_access", got, sizeof got) > 0);
    EXPECT_ERRNO(getxattr(x, "system.posix_acl_default", got, sizeof got), ENODATA);
    EXPECT_OK(stat(y, &st));
    EXPECT_EQ(st.st_mode & 0777, 0770);
    EXPECT_EQ(getxattr(y, "system.posix_acl_default", got, sizeof got), (ssize_t)n);
    EXPECT_EQ(open_as(54330, x, O_RDWR), 0);
    // Only the owner (or CAP_FOWNER) sets one; removing it leaves the mode.
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int ok = setgid(54330) == 0 && setuid(54330) == 0;
        ok = ok && setxattr(f, "system.posix_acl_access", buf, n, 0) == -1 && errno == EPERM;
        _exit(ok ? 0 : 1);
    }
    int cst = 0;
    EXPECT_EQ(waitpid(c, &cst, 0), c);
    CHECK("another user may not set an ACL", WIFEXITED(cst) && WEXITSTATUS(cst) == 0);
    EXPECT_OK(removexattr(x, "system.posix_acl_access"));
    EXPECT_ERRNO(getxattr(x, "system.posix_acl_access", got, sizeof got), ENODATA);
    EXPECT_OK(stat(x, &st));
    EXPECT_EQ(st.st_mode & 0777, 0660);
    EXPECT_OK(umount(m));
    EXPECT_OK(rmdir(m));
}

// POSIX ACLs on tmpfs (issue 14's divergences): set, read, validated, kept in step with
// chmod, inherited from a directory's default ACL, and enforced for other users.
static void test_posix_acls(void) {
    in_child("POSIX ACL child", posix_acl_child);
}

static void seek_hole_child(void) {
    char m[128], f[160];
    private_tmpfs(m, sizeof m, "holes");
    snprintf(f, sizeof f, "%s/file", m);
    int fd = EXPECT_OK(open(f, O_RDWR | O_CREAT, 0644));
    char block[4096];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(write(fd, block, sizeof block), (ssize_t)sizeof block);
    }
    EXPECT_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192));
    EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), 4096);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 4096);
    EXPECT_EQ(lseek(fd, 4096, SEEK_DATA), 12288);
    EXPECT_EQ(lseek(fd, 12288, SEEK_HOLE), 16384);
    // A hole to the end: no data after it.
    EXPECT_OK(ftruncate(fd, 65536));
    EXPECT_ERRNO(lseek(fd, 16384, SEEK_DATA), ENXIO);
    EXPECT_EQ(lseek(fd, 20000, SEEK_HOLE), 20000);
    EXPECT_ERRNO(lseek(fd, 65536, SEEK_HOLE), ENXIO);
    close(fd);
}

// SEEK_HOLE and SEEK_DATA on tmpfs see punched holes and a sparse tail (fallocate04/05,
// lseek11).
static void test_seek_holes(void) {
    NOTE("SEEK_HOLE and SEEK_DATA");
    in_child("SEEK_HOLE child", seek_hole_child);
}

static char access_dir[128], access_secret[160], access_pub[160];

static void access_real_user_child(void) {
    // Real uid 1000, effective root: access(2) checks as the real user, the walk included;
    // AT_EACCESS as the effective one.
    EXPECT_OK(setresuid(1000, 0, 0));
    EXPECT_ERRNO(access(access_secret, R_OK), EACCES);
    EXPECT_ERRNO(access(access_pub, F_OK), EACCES);
    EXPECT_OK(faccessat(AT_FDCWD, access_secret, R_OK | W_OK, AT_EACCESS));
    EXPECT_OK(faccessat(AT_FDCWD, access_pub, R_OK, AT_EACCESS));
    int fd = EXPECT_OK(open(access_secret, O_RDONLY));
    close(fd);
}

static void access_real_root_child(void) {
    // Real root, effective uid 1000: the effective capabilities are gone, the permitted ones
    // stay, and access(2) checks with those.
    EXPECT_OK(setresuid(0, 1000, 0));
    EXPECT_ERRNO(open(access_secret, O_RDONLY), EACCES);
    EXPECT_OK(access(access_secret, R_OK | W_OK));
    EXPECT_OK(access(access_pub, R_OK));
    EXPECT_ERRNO(faccessat(AT_FDCWD, access_secret, R_OK, AT_EACCESS), EACCES);
    EXPECT_ERRNO(faccessat(AT_FDCWD, access_pub, R_OK, AT_EACCESS), EACCES);
}

// access(2) and faccessat(2) without AT_EACCESS check with the real ids (Linux's
// access_override_creds), not the effective ones.
static void test_access_real_ids(void) {
    NOTE("access(2) with the real ids");
    if (getuid() != 0) {
        return;
    }
    path(access_dir, sizeof access_dir, "access");
    snprintf(access_secret, sizeof access_secret, "%s/secret", access_dir);
    snprintf(access_pub, sizeof access_pub, "%s/pub", access_dir);
    EXPECT_OK(mkdir(access_dir, 0700));
    int fd = EXPECT_OK(open(access_secret, O_RDWR | O_CREAT, 0600));
    close(fd);
    fd = EXPECT_OK(open(access_pub, O_RDWR | O_CREAT, 0644));
    close(fd);
    in_child("access as the real user", access_real_user_child);
    in_child("access as the real root", access_real_root_child);
    unlink(access_secret);
    unlink(access_pub);
    rmdir(access_dir);
}

// execveat(fd, "", AT_EMPTY_PATH) runs the descriptor's file even once it is unlinked (an
// O_PATH descriptor too), and names it /dev/fd/N (AT_EXECFN), as Linux does (execveat03).
static void test_execveat_unlinked(void) {
    NOTE("execveat of an unlinked file");
    char self[256] = {0}, copy[160];
    EXPECT_OK(readlink("/proc/self/exe", self, sizeof self - 1));
    path(copy, sizeof copy, "exec-copy");
    for (int pass = 0; pass < 2; pass++) {
        int in = EXPECT_OK(open(self, O_RDONLY));
        int out = EXPECT_OK(open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755));
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0) {
            CHECK("copied", write(out, buf, (size_t)n) == n);
        }
        close(in);
        close(out);
        int fd = EXPECT_OK(open(copy, pass ? O_PATH : O_RDONLY));
        EXPECT_OK(unlink(copy));
        char name[32];
        snprintf(name, sizeof name, "/dev/fd/%d", fd);
        char *av[] = {copy, "--execfn", name, NULL};
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            syscall(SYS_execveat, fd, "", av, environ, AT_EMPTY_PATH);
            _exit(127);
        }
        int st = 0;
        EXPECT_EQ(waitpid(c, &st, 0), c);
        CHECK("it ran, named /dev/fd/N", WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(fd);
    }
}

static char mem_word[16] = "hello";

static void other_user_mem_child(void) {
    // New ids make a process undumpable (commit_creds): its /proc files are root's, so not
    // even its own memory opens by path, until it is dumpable again; another user's process
    // never opens (EACCES).
    char own[64], parent[64];
    snprintf(own, sizeof own, "/proc/%d/mem", getpid());
    snprintf(parent, sizeof parent, "/proc/%d/mem", getppid());
    EXPECT_EQ(prctl(PR_GET_DUMPABLE), 1);
    EXPECT_OK(setgid(54322));
    EXPECT_OK(setuid(54322));
    EXPECT_EQ(prctl(PR_GET_DUMPABLE), 0);
    struct stat st;
    EXPECT_OK(stat(own, &st));
    EXPECT_EQ(st.st_uid, 0);
    EXPECT_ERRNO(open(own, O_RDONLY), EACCES);
    EXPECT_OK(prctl(PR_SET_DUMPABLE, 1));
    EXPECT_OK(stat(own, &st));
    EXPECT_EQ(st.st_uid, 54322);
    int fd = EXPECT_OK(open(own, O_RDONLY));
    close(fd);
    EXPECT_ERRNO(open(parent, O_RDONLY), EACCES);
}

// /proc/[pid]/mem (dirtyc0w, issue 14's ptrace family): a process's memory at the file's
// offsets; writes go through a private mapping's protection into the process's own copy (the
// file mapped is untouched), never into a shared read-only mapping; a read stops at the first
// unmapped page (EIO when that is the first); a child's memory is reachable while it lives,
// and nothing is once it is gone.
static void test_proc_mem(void) {
    NOTE("/proc/[pid]/mem");
    int fd = EXPECT_OK(open("/proc/self/mem", O_RDWR));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_mode & 07777, 0600);
    char buf[16] = {0};
    EXPECT_EQ(pread(fd, buf, 5, (uintptr_t)mem_word), 5);
    CHECK("pread saw the word", memcmp(buf, "hello", 5) == 0);
    EXPECT_EQ(pwrite(fd, "HELLO", 5, (uintptr_t)mem_word), 5);
    CHECK("pwrite changed the word", memcmp(mem_word, "HELLO", 5) == 0);

    char name[128];
    path(name, sizeof name, "mem-file");
    int f = EXPECT_OK(open(name, O_RDWR | O_CREAT | O_TRUNC, 0644));
    EXPECT_EQ(write(f, "original", 8), 8);
    char *m = EXPECT_OK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, f, 0));
    EXPECT_EQ(lseek(fd, (off_t)(uintptr_t)m, SEEK_SET), (off_t)(uintptr_t)m);
    EXPECT_EQ(write(fd, "CHANGED!", 8), 8);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), (off_t)(uintptr_t)m + 8);
    CHECK("the private read-only mapping changed", memcmp(m, "CHANGED!", 8) == 0);
    char fb[9] = {0};
    EXPECT_EQ(pread(f, fb, 8, 0), 8);
    CHECK("the file did not", memcmp(fb, "original", 8) == 0);
    char *s = EXPECT_OK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, f, 0));
    EXPECT_ERRNO(pwrite(fd, "X", 1, (uintptr_t)s), EIO);
    EXPECT_EQ(pread(f, fb, 8, 0), 8);
    CHECK("a shared read-only mapping is never written", memcmp(fb, "original", 8) == 0);
    munmap(s, 4096);
    munmap(m, 4096);
    close(f);
    unlink(name);

    char *u = EXPECT_OK(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_OK(munmap(u + 4096, 4096));
    memset(u, 'a', 4096);
    static char big[8192];
    EXPECT_EQ(pread(fd, big, 8192, (uintptr_t)u), 4096);
    EXPECT_ERRNO(pread(fd, big, 10, (uintptr_t)u + 4096), EIO);
    munmap(u, 4096);

    int p[2];
    EXPECT_OK(pipe(p));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char x;
        read(p[0], &x, 1);
        _exit(memcmp(mem_word, "child", 5) == 0 ? 0 : 1);
    }
    char cp[64];
    snprintf(cp, sizeof cp, "/proc/%d/mem", c);
    int cf = EXPECT_OK(open(cp, O_RDWR));
    EXPECT_EQ(pwrite(cf, "child", 5, (uintptr_t)mem_word), 5);
    CHECK("the parent's word is its own", memcmp(mem_word, "HELLO", 5) == 0);
    EXPECT_EQ(write(p[1], "x", 1), 1);
    int status = 0;
    EXPECT_EQ(waitpid(c, &status, 0), c);
    CHECK("the child saw the write", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(pread(cf, buf, 5, (uintptr_t)mem_word), 0);
    close(cf);
    close(p[0]);
    close(p[1]);
    close(fd);
    in_child("other user's mem child", other_user_mem_child);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--execfn") == 0) {
        // The image test_execveat_unlinked ran: named as Linux names it.
        const char *fn = (const char *)getauxval(AT_EXECFN);
        // Its file is gone: /proc/self/exe says so.
        char exe[256] = {0};
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        int deleted = n > 10 && strcmp(exe + n - 10, " (deleted)") == 0;
        return fn != NULL && strcmp(fn, argv[2]) == 0 && deleted ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "--sleep") == 0) {
        // The running copy of test_text_busy: says it runs, then waits to be killed.
        // (Nothing printed: its transcript is not the test's.)
        if (write(3, "r", 1) != 1) {
            return 1;
        }
        pause();
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/abi-edges-XXXXXX");
    CHECK("mkdtemp", mkdtemp(dir) != NULL);
    test_clone_pidfd();
    test_close_range_unshare();
    test_o_path();
    test_sync_null();
    test_zero_shared();
    test_truncate_fsize();
    test_removed_dir();
    test_created_query();
    test_personality();
    test_text_busy();
    test_magic_links();
    test_cpu_times();
    test_setparam_other_user();
    test_sigpending_limit();
    test_copy_range_order();
    test_mounts_poll();
    test_erofs_first();
    test_mnt_expire();
    test_securebits();
    test_frame_fault();
    test_membarrier();
    test_proc_mem();
    test_cpu_clocks();
    test_inode_flags();
    test_procmap_query();
    test_mincore_residency();
    test_posix_acls();
    test_execveat_unlinked();
    test_access_real_ids();
    test_seek_holes();
    rmdir(dir);
    return guest_done();
}
