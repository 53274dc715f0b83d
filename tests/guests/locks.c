// SPDX-License-Identifier: Apache-2.0
//
// File locks: flock(2) (owned by the open file description), fcntl(2) POSIX record locks
// (owned by the process: ranges, F_GETLK, the close-any-fd rule, not inherited by fork,
// released at exit, EDEADLK), OFD locks, EINTR while blocked, leases broken by a child's
// open, and F_SETOWN_EX/F_SETSIG. Contention is between the parent and forked children,
// sequenced with pipes; pids are printed only as relations.

#include "guest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

static char path[64];

// Ends a child: its checks print in its own transcript lines; the parent checks its status.
static void child_done(void) {
    fflush(stdout);
    _exit(guest_failures == 0 ? 0 : 1);
}

static void reap(pid_t pid, const char *what) {
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(what, WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void put(int fd) {
    char c = 'x';
    if (write(fd, &c, 1) != 1) {
        perror("write");
    }
}

static void get(int fd) {
    char c;
    if (read(fd, &c, 1) != 1) {
        perror("read");
    }
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

// F_GETLK of a write lock on [start, start+len): the conflicting lock, in `out`.
static int getlk(int fd, int cmd, short type, off_t start, off_t len, struct flock *out) {
    memset(out, 0, sizeof *out);
    out->l_type = type;
    out->l_whence = SEEK_SET;
    out->l_start = start;
    out->l_len = len;
    return fcntl(fd, cmd, out);
}

// Waits until process `pid` sleeps in the kernel (blocked in a lock call).
static void wait_sleeping(pid_t pid) {
    char p[64], buf[256];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    for (int i = 0; i < 2000; i++) {
        int fd = open(p, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0) {
            close(fd);
        }
        if (n > 0) {
            buf[n] = 0;
            char *rp = strrchr(buf, ')');
            if (rp != NULL && rp[1] == ' ' && rp[2] == 'S') {
                usleep(50000);
                return;
            }
        }
        usleep(5000);
    }
}

static void test_flock(void) {
    NOTE("flock: owned by the open file description");
    int a = EXPECT_OK(open(path, O_RDWR));
    int b = EXPECT_OK(open(path, O_RDONLY));
    EXPECT_OK(flock(a, LOCK_EX));
    EXPECT_ERRNO(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    EXPECT_ERRNO(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
    EXPECT_OK(flock(a, LOCK_EX | LOCK_NB));  // already held: no change
    int a2 = EXPECT_OK(dup(a));
    EXPECT_OK(flock(a2, LOCK_UN));  // same description
    EXPECT_OK(flock(b, LOCK_SH | LOCK_NB));
    EXPECT_OK(flock(a, LOCK_SH | LOCK_NB));
    EXPECT_ERRNO(flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);  // b shares it
    EXPECT_OK(flock(b, LOCK_UN));
    EXPECT_OK(flock(a, LOCK_EX | LOCK_NB));  // upgrade
    EXPECT_ERRNO(flock(a, 0), EINVAL);
    EXPECT_ERRNO(flock(a, LOCK_NB), EINVAL);
    EXPECT_ERRNO(flock(a, LOCK_SH | LOCK_EX), EINVAL);
    EXPECT_ERRNO(flock(-1, LOCK_SH), EBADF);
    EXPECT_ERRNO(flock(99, LOCK_SH), EBADF);

    NOTE("flock: the lock lives while any fd of the description does");
    EXPECT_OK(close(a));
    EXPECT_ERRNO(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
    EXPECT_OK(close(a2));
    EXPECT_OK(flock(b, LOCK_SH | LOCK_NB));
    EXPECT_OK(close(b));

    NOTE("flock: shared with a forked child, contended by its own open");
    a = EXPECT_OK(open(path, O_RDWR));
    EXPECT_OK(flock(a, LOCK_EX));
    int go[2], back[2];
    EXPECT_OK(pipe(go));
    EXPECT_OK(pipe(back));
    pid_t pid = fork();
    if (pid == 0) {
        EXPECT_OK(flock(a, LOCK_EX | LOCK_NB));  // the same description
        int c = EXPECT_OK(open(path, O_RDWR));
        EXPECT_ERRNO(flock(c, LOCK_EX | LOCK_NB), EWOULDBLOCK);
        put(back[1]);
        int r = flock(c, LOCK_EX);  // blocks until the parent unlocks
        get(go[0]);                 // print after the parent has
        CHECK("child: got the lock after the parent let go", r == 0);
        child_done();
    }
    get(back[0]);
    wait_sleeping(pid);
    EXPECT_OK(flock(a, LOCK_UN));
    put(go[1]);
    reap(pid, "child blocked in flock, then got it");
    EXPECT_OK(close(a));
    close(go[0]);
    close(go[1]);
    close(back[0]);
    close(back[1]);
}

static void test_posix(void) {
    NOTE("POSIX record locks: ranges, F_GETLK, merge and split");
    int fd = EXPECT_OK(open(path, O_RDWR));
    EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 10));
    EXPECT_OK(setlk(fd, F_SETLK, F_RDLCK, 20, 10));
    struct flock fl;
    // Our own locks never conflict with us.
    EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 0, 0, &fl));
    EXPECT_EQ(fl.l_type, F_UNLCK);
    int back[2];
    EXPECT_OK(pipe(back));
    pid_t pid = fork();
    if (pid == 0) {
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 5, 1, &fl));
        EXPECT_EQ(fl.l_type, F_WRLCK);
        EXPECT_EQ(fl.l_start, 0);
        EXPECT_EQ(fl.l_len, 10);
        EXPECT_EQ(fl.l_whence, SEEK_SET);
        CHECK("l_pid is the parent's pid", fl.l_pid == getppid());
        EXPECT_OK(getlk(fd, F_GETLK, F_RDLCK, 20, 10, &fl));
        EXPECT_EQ(fl.l_type, F_UNLCK);
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 25, 0, &fl));
        EXPECT_EQ(fl.l_type, F_RDLCK);
        EXPECT_EQ(fl.l_start, 20);
        EXPECT_EQ(fl.l_len, 10);
        // Not inherited by fork: the child contends with the parent.
        EXPECT_ERRNO(setlk(fd, F_SETLK, F_RDLCK, 0, 1), EAGAIN);
        EXPECT_OK(setlk(fd, F_SETLK, F_RDLCK, 20, 5));
        EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 10, 10));
        put(back[1]);
        child_done();  // its locks go at exit
    }
    get(back[0]);
    reap(pid, "child saw the parent's locks");
    EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 10, 10, &fl));
    EXPECT_EQ(fl.l_type, F_UNLCK);  // the child's locks went with it

    EXPECT_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 0));
    EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 100));
    EXPECT_OK(setlk(fd, F_SETLK, F_UNLCK, 40, 20));    // split: [0,40) [60,100)
    EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 100, 10));   // merge: [60,110)
    EXPECT_OK(setlk(fd, F_SETLK, F_RDLCK, 200, 0));    // to EOF
    struct flock neg = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 150, .l_len = -10};
    EXPECT_OK(fcntl(fd, F_SETLK, &neg));  // [140,150)
    pid = fork();
    if (pid == 0) {
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 0, 1, &fl));
        EXPECT_EQ(fl.l_start, 0);
        EXPECT_EQ(fl.l_len, 40);
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 40, 20, &fl));
        EXPECT_EQ(fl.l_type, F_UNLCK);
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 50, 0, &fl));
        EXPECT_EQ(fl.l_start, 60);
        EXPECT_EQ(fl.l_len, 50);
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 145, 1, &fl));
        EXPECT_EQ(fl.l_start, 140);
        EXPECT_EQ(fl.l_len, 10);
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 300, 1, &fl));
        EXPECT_EQ(fl.l_type, F_RDLCK);
        EXPECT_EQ(fl.l_start, 200);
        EXPECT_EQ(fl.l_len, 0);
        EXPECT_OK(getlk(fd, F_GETLK, F_RDLCK, 300, 1, &fl));
        EXPECT_EQ(fl.l_type, F_UNLCK);
        child_done();
    }
    reap(pid, "child saw merged and split ranges");

    NOTE("record locks: argument errors");
    struct flock bad = {.l_type = F_WRLCK, .l_whence = 7};
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &bad), EINVAL);
    bad = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = -1, .l_len = 1};
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &bad), EINVAL);
    bad = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = -10};
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &bad), EINVAL);
    bad = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0x7fffffffffffffffLL,
                         .l_len = 2};
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &bad), EOVERFLOW);
    bad = (struct flock){.l_type = 9, .l_whence = SEEK_SET};
    EXPECT_ERRNO(fcntl(fd, F_SETLK, &bad), EINVAL);
    EXPECT_ERRNO(fcntl(fd, F_GETLK, &bad), EINVAL);
    bad = (struct flock){.l_type = F_UNLCK, .l_whence = SEEK_SET};
    EXPECT_ERRNO(fcntl(fd, F_GETLK, &bad), EINVAL);
    EXPECT_ERRNO(fcntl(fd, F_SETLK, (struct flock *)8), EFAULT);
    int ro = EXPECT_OK(open(path, O_RDONLY));
    int wo = EXPECT_OK(open(path, O_WRONLY));
    EXPECT_ERRNO(setlk(ro, F_SETLK, F_WRLCK, 0, 1), EBADF);
    EXPECT_ERRNO(setlk(wo, F_SETLK, F_RDLCK, 0, 1), EBADF);
    EXPECT_ERRNO(setlk(wo, F_OFD_SETLK, F_RDLCK, 0, 1), EBADF);

    NOTE("record locks: closing any fd of the file drops all of the process's locks");
    EXPECT_OK(close(ro));  // a different open of the same file
    pid = fork();
    if (pid == 0) {
        EXPECT_OK(getlk(fd, F_GETLK, F_WRLCK, 0, 0, &fl));
        EXPECT_EQ(fl.l_type, F_UNLCK);
        child_done();
    }
    reap(pid, "the parent's locks are gone");
    EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 1));
    int d = EXPECT_OK(dup(fd));
    EXPECT_OK(close(d));
    pid = fork();
    if (pid == 0) {
        EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 1));
        child_done();
    }
    reap(pid, "closing a dup dropped the lock too");
    EXPECT_OK(close(wo));

    NOTE("flock and record locks are independent");
    EXPECT_OK(flock(fd, LOCK_EX));
    int other = EXPECT_OK(open(path, O_RDWR));
    EXPECT_OK(setlk(other, F_SETLK, F_WRLCK, 0, 0));
    pid = fork();
    if (pid == 0) {
        int c = EXPECT_OK(open(path, O_RDWR));
        EXPECT_ERRNO(setlk(c, F_SETLK, F_WRLCK, 0, 1), EAGAIN);
        EXPECT_ERRNO(flock(c, LOCK_SH | LOCK_NB), EWOULDBLOCK);
        child_done();
    }
    reap(pid, "child blocked by both kinds");
    EXPECT_OK(close(other));  // drops the record lock, not the flock
    pid = fork();
    if (pid == 0) {
        int c = EXPECT_OK(open(path, O_RDWR));
        EXPECT_OK(setlk(c, F_SETLK, F_WRLCK, 0, 1));
        EXPECT_ERRNO(flock(c, LOCK_SH | LOCK_NB), EWOULDBLOCK);
        child_done();
    }
    reap(pid, "record lock gone, flock kept");
    EXPECT_OK(flock(fd, LOCK_UN));
    EXPECT_OK(close(fd));
    close(back[0]);
    close(back[1]);
}

static void test_ofd(void) {
    NOTE("OFD locks: owned by the description");
    int a = EXPECT_OK(open(path, O_RDWR));
    int b = EXPECT_OK(open(path, O_RDWR));
    EXPECT_OK(setlk(a, F_OFD_SETLK, F_WRLCK, 0, 10));
    EXPECT_ERRNO(setlk(b, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN);
    EXPECT_ERRNO(setlk(b, F_SETLK, F_RDLCK, 5, 1), EAGAIN);  // POSIX vs OFD
    struct flock fl;
    EXPECT_OK(getlk(b, F_OFD_GETLK, F_RDLCK, 0, 0, &fl));
    EXPECT_EQ(fl.l_type, F_WRLCK);
    EXPECT_EQ(fl.l_pid, -1);
    EXPECT_EQ(fl.l_len, 10);
    EXPECT_OK(getlk(b, F_GETLK, F_RDLCK, 0, 0, &fl));
    EXPECT_EQ(fl.l_pid, -1);
    EXPECT_OK(getlk(a, F_OFD_GETLK, F_WRLCK, 0, 0, &fl));
    EXPECT_EQ(fl.l_type, F_UNLCK);
    struct flock p = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
    EXPECT_ERRNO(fcntl(a, F_OFD_SETLK, &p), EINVAL);
    EXPECT_ERRNO(fcntl(a, F_OFD_GETLK, &p), EINVAL);
    EXPECT_OK(close(b));  // the close-any-fd rule does not apply
    b = EXPECT_OK(open(path, O_RDWR));
    EXPECT_ERRNO(setlk(b, F_OFD_SETLK, F_WRLCK, 0, 1), EAGAIN);
    pid_t pid = fork();
    if (pid == 0) {
        EXPECT_OK(setlk(a, F_OFD_SETLK, F_WRLCK, 0, 20));  // inherited description
        EXPECT_ERRNO(setlk(b, F_OFD_SETLK, F_WRLCK, 15, 1), EAGAIN);
        child_done();
    }
    reap(pid, "child shares the description's OFD lock");
    EXPECT_ERRNO(setlk(b, F_OFD_SETLK, F_WRLCK, 15, 1), EAGAIN);
    EXPECT_OK(close(a));  // the last reference: released
    EXPECT_OK(setlk(b, F_OFD_SETLK, F_WRLCK, 0, 0));
    EXPECT_OK(close(b));
}

static void test_deadlock(void) {
    NOTE("F_SETLKW: EDEADLK between two processes");
    int fd = EXPECT_OK(open(path, O_RDWR));
    EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 1));
    int back[2], go[2];
    EXPECT_OK(pipe(back));
    EXPECT_OK(pipe(go));
    pid_t pid = fork();
    if (pid == 0) {
        EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 1, 1));
        put(back[1]);
        int r = setlk(fd, F_SETLKW, F_WRLCK, 0, 1);  // waits for the parent
        get(go[0]);                                  // print after the parent has
        CHECK("child: got byte 0 once the parent let go", r == 0);
        child_done();
    }
    get(back[0]);
    wait_sleeping(pid);
    EXPECT_ERRNO(setlk(fd, F_SETLKW, F_WRLCK, 1, 1), EDEADLK);
    EXPECT_OK(setlk(fd, F_SETLK, F_UNLCK, 0, 1));
    put(go[1]);
    close(go[0]);
    close(go[1]);
    reap(pid, "child got the lock once the parent let go");
    EXPECT_OK(close(fd));
    close(back[0]);
    close(back[1]);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void test_eintr(void) {
    NOTE("blocked lock calls end with EINTR on a signal");
    int fd = EXPECT_OK(open(path, O_RDWR));
    EXPECT_OK(setlk(fd, F_SETLK, F_WRLCK, 0, 1));
    EXPECT_OK(flock(fd, LOCK_EX));
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = {.sa_handler = on_alarm};  // no SA_RESTART
        sigaction(SIGALRM, &sa, NULL);
        int c = EXPECT_OK(open(path, O_RDWR));
        struct itimerval it = {.it_value = {.tv_usec = 200000}};
        setitimer(ITIMER_REAL, &it, NULL);
        EXPECT_ERRNO(setlk(c, F_SETLKW, F_WRLCK, 0, 1), EINTR);
        setitimer(ITIMER_REAL, &it, NULL);
        EXPECT_ERRNO(flock(c, LOCK_EX), EINTR);
        setitimer(ITIMER_REAL, &it, NULL);
        EXPECT_ERRNO(setlk(c, F_OFD_SETLKW, F_WRLCK, 0, 1), EINTR);
        EXPECT_EQ(alarms, 3);
        child_done();
    }
    reap(pid, "child interrupted three times");
    EXPECT_OK(close(fd));
}

static volatile sig_atomic_t sigios;
static void on_sigio(int sig) {
    (void)sig;
    sigios++;
}

static void wait_sigios(int n) {
    for (int i = 0; i < 4000 && sigios < n; i++) {
        usleep(1000);
    }
}

static void test_leases(void) {
    NOTE("leases: set, get, conflicting opens");
    int fd = EXPECT_OK(open(path, O_RDONLY));
    EXPECT_EQ(fcntl(fd, F_GETLEASE), F_UNLCK);
    EXPECT_ERRNO(fcntl(fd, F_SETLEASE, F_UNLCK), EAGAIN);  // none to remove
    EXPECT_ERRNO(fcntl(fd, F_SETLEASE, 7), EINVAL);
    EXPECT_OK(fcntl(fd, F_SETLEASE, F_RDLCK));
    EXPECT_EQ(fcntl(fd, F_GETLEASE), F_RDLCK);
    int w = EXPECT_OK(open(path, O_RDONLY));  // a reader does not break a read lease
    EXPECT_ERRNO(fcntl(fd, F_SETLEASE, F_WRLCK), EAGAIN);  // another open exists
    EXPECT_OK(close(w));
    EXPECT_OK(fcntl(fd, F_SETLEASE, F_UNLCK));
    w = EXPECT_OK(open(path, O_RDWR));
    EXPECT_ERRNO(fcntl(fd, F_SETLEASE, F_RDLCK), EAGAIN);  // a writer exists
    EXPECT_OK(close(w));
    EXPECT_OK(fcntl(fd, F_SETLEASE, F_WRLCK));
    EXPECT_EQ(fcntl(fd, F_GETLEASE), F_WRLCK);
    int dir = EXPECT_OK(open("/tmp", O_RDONLY | O_DIRECTORY));
    EXPECT_ERRNO(fcntl(dir, F_SETLEASE, F_RDLCK), EINVAL);
    EXPECT_OK(close(dir));

    NOTE("leases: a child's opens break the lease");
    struct sigaction sa = {.sa_handler = on_sigio, .sa_flags = SA_RESTART};
    sigaction(SIGIO, &sa, NULL);
    int go[2], back[2];
    EXPECT_OK(pipe(go));
    EXPECT_OK(pipe(back));
    pid_t pid = fork();
    if (pid == 0) {
        EXPECT_ERRNO(open(path, O_RDONLY | O_NONBLOCK), EWOULDBLOCK);
        put(back[1]);
        get(go[0]);
        int c = open(path, O_RDWR);  // waits for the parent to give way
        get(go[0]);                  // print after the parent has
        CHECK("child: opened for writing after the lease went", c >= 0);
        close(c);
        child_done();
    }
    get(back[0]);
    wait_sigios(1);
    EXPECT_EQ(sigios, 1);
    EXPECT_EQ(fcntl(fd, F_GETLEASE), F_RDLCK);  // a downgrade is asked for
    put(go[1]);
    wait_sigios(2);
    EXPECT_EQ(sigios, 2);
    EXPECT_EQ(fcntl(fd, F_GETLEASE), F_UNLCK);  // now a release is
    EXPECT_OK(fcntl(fd, F_SETLEASE, F_UNLCK));
    put(go[1]);
    reap(pid, "child's open finished once the lease was released");
    EXPECT_EQ(fcntl(fd, F_GETLEASE), F_UNLCK);
    EXPECT_OK(close(fd));
    close(go[0]);
    close(go[1]);
    close(back[0]);
    close(back[1]);

    NOTE("lease-break-time is a number of seconds");
    FILE *f = fopen("/proc/sys/fs/lease-break-time", "r");
    int secs = -1;
    CHECK("read lease-break-time", f != NULL && fscanf(f, "%d", &secs) == 1);
    CHECK("lease-break-time is positive", secs > 0);
    if (f != NULL) {
        fclose(f);
    }
}

static void test_owner(void) {
    NOTE("F_SETOWN, F_SETOWN_EX, F_SETSIG");
    int fd = EXPECT_OK(open(path, O_RDONLY));
    struct f_owner_ex o = {.type = F_OWNER_PID, .pid = getpid()};
    EXPECT_OK(fcntl(fd, F_SETOWN_EX, &o));
    memset(&o, 0, sizeof o);
    EXPECT_OK(fcntl(fd, F_GETOWN_EX, &o));
    EXPECT_EQ(o.type, F_OWNER_PID);
    CHECK("F_GETOWN_EX pid is ours", o.pid == getpid());
    CHECK("F_GETOWN is our pid", fcntl(fd, F_GETOWN) == getpid());
    EXPECT_OK(fcntl(fd, F_SETOWN, -getpgrp()));
    CHECK("F_GETOWN is minus our group", fcntl(fd, F_GETOWN) == -getpgrp());
    EXPECT_OK(fcntl(fd, F_GETOWN_EX, &o));
    EXPECT_EQ(o.type, F_OWNER_PGRP);
    o = (struct f_owner_ex){.type = F_OWNER_TID, .pid = gettid()};
    EXPECT_OK(fcntl(fd, F_SETOWN_EX, &o));
    EXPECT_OK(fcntl(fd, F_GETOWN_EX, &o));
    EXPECT_EQ(o.type, F_OWNER_TID);
    o = (struct f_owner_ex){.type = 9, .pid = getpid()};
    EXPECT_ERRNO(fcntl(fd, F_SETOWN_EX, &o), EINVAL);
    EXPECT_ERRNO(fcntl(fd, F_GETOWN_EX, (void *)8), EFAULT);
    EXPECT_OK(fcntl(fd, F_SETSIG, SIGUSR1));
    EXPECT_EQ(fcntl(fd, F_GETSIG), SIGUSR1);
    EXPECT_ERRNO(fcntl(fd, F_SETSIG, 100), EINVAL);
    EXPECT_OK(close(fd));
}

// A file outside /tmp (in the sandbox: on the root overlay, not the sandbox's own tmpfs):
// one identity for two opens and across fork. (A pre-existing host file would contend with
// the other native run of this guest, so the file is made here.)
static void test_host_file(void) {
    NOTE("locks on a file of the root file system opened twice by path");
    char host[64];
    strcpy(host, "/var/tmp/locks.XXXXXX");
    int fd = EXPECT_OK(mkstemp(host));
    if (fd < 0) {
        return;
    }
    close(fd);
    int a = EXPECT_OK(open(host, O_RDONLY));
    int b = EXPECT_OK(open(host, O_RDONLY));
    EXPECT_OK(flock(a, LOCK_EX | LOCK_NB));
    EXPECT_ERRNO(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
    EXPECT_OK(setlk(a, F_SETLK, F_RDLCK, 0, 0));
    pid_t pid = fork();
    if (pid == 0) {
        struct flock fl;
        EXPECT_OK(getlk(b, F_GETLK, F_WRLCK, 0, 1, &fl));
        EXPECT_EQ(fl.l_type, F_RDLCK);
        CHECK("l_pid is the parent's pid", fl.l_pid == getppid());
        int c = EXPECT_OK(open(host, O_RDONLY));
        EXPECT_ERRNO(flock(c, LOCK_EX | LOCK_NB), EWOULDBLOCK);
        child_done();
    }
    reap(pid, "child saw the locks on the host file");
    EXPECT_OK(close(a));
    EXPECT_OK(flock(b, LOCK_EX | LOCK_NB));
    EXPECT_OK(close(b));
    unlink(host);
}

int main(void) {
    strcpy(path, "/tmp/locks.XXXXXX");
    int fd = mkstemp(path);
    CHECK("mkstemp", fd >= 0);
    if (fd < 0) {
        return guest_done();
    }
    if (write(fd, "0123456789", 10) != 10) {
        perror("write");
    }
    close(fd);
    test_flock();
    test_posix();
    test_ofd();
    test_deadlock();
    test_eintr();
    test_leases();
    test_owner();
    test_host_file();
    unlink(path);
    return guest_done();
}
