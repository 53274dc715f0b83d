// SPDX-License-Identifier: Apache-2.0
//
// POSIX message queues: mq_open (names, attributes, limits, permissions, O_EXCL), priorities,
// mq_timedsend and mq_timedreceive (EMSGSIZE, EAGAIN, ETIMEDOUT, EBADF, EINTR, blocking woken
// by another process), mq_getsetattr, poll, mq_notify (SIGEV_SIGNAL, SIGEV_NONE, EBUSY, removal
// at close), mq_unlink, /proc/sys/fs/mqueue, and a mounted mqueue file system (unshare first:
// natively nothing here touches the host's mounts; queue names carry the pid so the two native
// runs of the harness do not meet in the host's IPC namespace).

#include "guest.h"

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>

static char qname[64], qname2[64];

static struct timespec abs_in(long long ns) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long t = ts.tv_sec * 1000000000LL + ts.tv_nsec + ns;
    ts.tv_sec = t / 1000000000LL;
    ts.tv_nsec = t % 1000000000LL;
    return ts;
}

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct mq_attr attr(long maxmsg, long msgsize) {
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    a.mq_maxmsg = maxmsg;
    a.mq_msgsize = msgsize;
    return a;
}

static void test_open(void) {
    NOTE("mq_open: names, attributes, limits");
    EXPECT_ERRNO(mq_open(qname, O_RDWR), ENOENT);
    EXPECT_ERRNO(mq_open("noslash", O_RDWR | O_CREAT, 0600, NULL), EINVAL);
    EXPECT_ERRNO(syscall(SYS_mq_open, "", O_RDWR | O_CREAT, 0600, NULL), ENOENT);
    EXPECT_ERRNO(syscall(SYS_mq_open, "a/b", O_RDWR | O_CREAT, 0600, NULL), EACCES);
    EXPECT_ERRNO(syscall(SYS_mq_open, ".", O_RDWR | O_CREAT, 0600, NULL), EACCES);
    EXPECT_ERRNO(syscall(SYS_mq_open, "..", O_RDWR, 0600, NULL), EACCES);
    EXPECT_ERRNO(syscall(SYS_mq_open, NULL, O_RDWR, 0600, NULL), EFAULT);
    char longname[300];
    memset(longname, 'q', sizeof longname);
    longname[0] = '/';
    longname[257] = 0;  // 256 characters after the slash
    EXPECT_ERRNO(mq_open(longname, O_RDWR), ENAMETOOLONG);
    longname[256] = 0;  // 255
    EXPECT_ERRNO(mq_open(longname, O_RDWR), ENOENT);
    struct mq_attr a = attr(0, 64);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_CREAT, 0600, &a), EINVAL);
    a = attr(4, 0);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_CREAT, 0600, &a), EINVAL);
    a = attr(-1, 64);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_CREAT, 0600, &a), EINVAL);
    // Past msg_max (10) and msgsize_max (8192): root here has no CAP_SYS_RESOURCE.
    a = attr(11, 64);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_CREAT, 0600, &a), EINVAL);
    a = attr(4, 8193);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_CREAT, 0600, &a), EINVAL);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_CREAT, 0600, (void *)1), EFAULT);
    // The defaults: msg_default and msgsize_default.
    mqd_t q = EXPECT_OK(mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0640, NULL));
    struct mq_attr got;
    EXPECT_OK(mq_getattr(q, &got));
    EXPECT_TRUE(got.mq_maxmsg == 10 && got.mq_msgsize == 8192 && got.mq_curmsgs == 0);
    EXPECT_EQ(got.mq_flags, 0);
    EXPECT_EQ(fcntl(q, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(q, F_GETFL) & O_ACCMODE, O_RDWR);
    struct stat st;
    EXPECT_OK(fstat(q, &st));
    EXPECT_EQ(st.st_mode, S_IFREG | 0640);
    EXPECT_EQ(st.st_size, 80);
    char path[64], link[128] = {0};
    snprintf(path, sizeof path, "/proc/self/fd/%d", q);
    EXPECT_OK(readlink(path, link, sizeof link - 1));
    EXPECT_STREQ(link, qname);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, NULL), EEXIST);
    // O_CREAT of an existing queue opens it, whatever the attributes say.
    a = attr(0, 0);
    mqd_t q2 = EXPECT_OK(mq_open(qname, O_WRONLY | O_CREAT | O_NONBLOCK, 0600, &a));
    EXPECT_OK(mq_getattr(q2, &got));
    EXPECT_TRUE(got.mq_maxmsg == 10 && got.mq_flags == O_NONBLOCK);
    EXPECT_ERRNO(mq_open(qname, O_RDWR | O_WRONLY), EINVAL);
    mq_close(q2);
    mq_close(q);
    EXPECT_OK(mq_unlink(qname));
    EXPECT_ERRNO(mq_unlink(qname), ENOENT);
    EXPECT_ERRNO(mq_unlink("noslash"), EINVAL);
    EXPECT_ERRNO(syscall(SYS_mq_unlink, ""), ENOENT);
    EXPECT_ERRNO(syscall(SYS_mq_unlink, "a/b"), EACCES);
}

static void test_messages(void) {
    NOTE("priorities, sizes, EAGAIN, ETIMEDOUT, EBADF");
    struct mq_attr a = attr(4, 64);
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    EXPECT_OK(mq_send(q, "a", 1, 1));
    EXPECT_OK(mq_send(q, "bb", 2, 5));
    EXPECT_OK(mq_send(q, "ccc", 3, 5));
    EXPECT_OK(mq_send(q, "", 0, 0));
    struct mq_attr got;
    mq_getattr(q, &got);
    EXPECT_EQ(got.mq_curmsgs, 4);
    // Full: a past deadline times out at once; a bad one is EINVAL first.
    struct timespec past = {0, 0};
    EXPECT_ERRNO(mq_timedsend(q, "x", 1, 0, &past), ETIMEDOUT);
    struct timespec bad = {0, 1000000000};
    EXPECT_ERRNO(mq_timedsend(q, "x", 1, 0, &bad), EINVAL);
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    EXPECT_ERRNO(mq_timedsend(q, "x", 1, 0, &bad), EINVAL);
    EXPECT_ERRNO(mq_timedsend(q, "x", 1, 0, (void *)1), EFAULT);
    struct timespec soon = abs_in(50000000LL);
    long long t0 = mono_ns();
    EXPECT_ERRNO(mq_timedsend(q, "x", 1, 0, &soon), ETIMEDOUT);
    EXPECT_GE(mono_ns() - t0, 40000000LL);
    char buf[128];
    unsigned prio = 99;
    EXPECT_ERRNO(mq_receive(q, buf, 63, &prio), EMSGSIZE);
    EXPECT_EQ(mq_receive(q, buf, 64, &prio), 2);
    EXPECT_TRUE(prio == 5 && memcmp(buf, "bb", 2) == 0);
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 3);
    EXPECT_TRUE(prio == 5 && memcmp(buf, "ccc", 3) == 0);
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 1);
    EXPECT_TRUE(prio == 1 && buf[0] == 'a');
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, NULL), 0);
    soon = abs_in(50000000LL);
    t0 = mono_ns();
    EXPECT_ERRNO(mq_timedreceive(q, buf, sizeof buf, &prio, &soon), ETIMEDOUT);
    EXPECT_GE(mono_ns() - t0, 40000000LL);
    EXPECT_ERRNO(mq_timedreceive(q, buf, sizeof buf, &prio, &bad), EINVAL);
    EXPECT_ERRNO(mq_send(q, buf, 65, 0), EMSGSIZE);
    EXPECT_ERRNO(mq_send(q, buf, 1, 32768), EINVAL);
    EXPECT_OK(mq_send(q, buf, 64, 32767));
    EXPECT_ERRNO(syscall(SYS_mq_timedsend, q, NULL, 1, 0, NULL), EFAULT);
    // A message received into a bad buffer is lost.
    EXPECT_ERRNO(syscall(SYS_mq_timedreceive, q, NULL, 64, &prio, NULL), EFAULT);
    mq_getattr(q, &got);
    EXPECT_EQ(got.mq_curmsgs, 0);

    NOTE("O_NONBLOCK and mq_setattr");
    struct mq_attr nb = attr(0, 0), old;
    nb.mq_flags = O_NONBLOCK;
    EXPECT_OK(mq_setattr(q, &nb, &old));
    EXPECT_EQ(old.mq_flags, 0);
    EXPECT_ERRNO(mq_receive(q, buf, sizeof buf, &prio), EAGAIN);
    for (int i = 0; i < 4; i++) {
        mq_send(q, "m", 1, 0);
    }
    EXPECT_ERRNO(mq_send(q, "m", 1, 0), EAGAIN);
    mq_getattr(q, &got);
    EXPECT_TRUE(got.mq_flags == O_NONBLOCK && got.mq_curmsgs == 4 && got.mq_maxmsg == 4);
    EXPECT_EQ(fcntl(q, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    nb.mq_flags = O_NONBLOCK | O_APPEND;
    EXPECT_ERRNO(mq_setattr(q, &nb, &old), EINVAL);
    EXPECT_ERRNO(syscall(SYS_mq_getsetattr, q, (void *)1, NULL), EFAULT);
    EXPECT_ERRNO(syscall(SYS_mq_getsetattr, q, NULL, (void *)1), EFAULT);

    NOTE("poll");
    struct pollfd p = {q, POLLIN | POLLOUT, 0};
    EXPECT_EQ(poll(&p, 1, 0), 1);
    EXPECT_EQ(p.revents, POLLIN);
    mq_receive(q, buf, sizeof buf, NULL);
    EXPECT_EQ(poll(&p, 1, 0), 1);
    EXPECT_EQ(p.revents, POLLIN | POLLOUT);
    for (int i = 0; i < 3; i++) {
        mq_receive(q, buf, sizeof buf, NULL);
    }
    EXPECT_EQ(poll(&p, 1, 0), 1);
    EXPECT_EQ(p.revents, POLLOUT);

    NOTE("EBADF");
    mqd_t ro = mq_open(qname, O_RDONLY), wo = mq_open(qname, O_WRONLY);
    EXPECT_ERRNO(mq_send(ro, "x", 1, 0), EBADF);
    EXPECT_ERRNO(mq_receive(wo, buf, sizeof buf, NULL), EBADF);
    int pfd[2];
    pipe(pfd);
    EXPECT_ERRNO(mq_send(pfd[1], "x", 1, 0), EBADF);
    EXPECT_ERRNO(mq_receive(pfd[0], buf, sizeof buf, NULL), EBADF);
    EXPECT_ERRNO(mq_getattr(pfd[0], &got), EBADF);
    EXPECT_ERRNO(mq_send(-1, "x", 1, 0), EBADF);
    EXPECT_ERRNO(mq_send(9999, "x", 1, 0), EBADF);
    close(pfd[0]);
    close(pfd[1]);
    mq_close(ro);
    mq_close(wo);
    mq_close(q);
    mq_unlink(qname);
}

static volatile int got_alrm;
static void on_alrm(int sig) {
    (void)sig;
    got_alrm = 1;
}

static void test_blocking(void) {
    NOTE("blocking: woken by another process, interrupted by a signal");
    struct mq_attr a = attr(1, 16);
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
        mq_send(q, "hello", 5, 3);
        // Blocks until the parent takes the first.
        mq_send(q, "again", 5, 4);
        _exit(0);
    }
    char buf[16];
    unsigned prio = 0;
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 5);
    EXPECT_TRUE(prio == 3 && memcmp(buf, "hello", 5) == 0);
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, &prio), 5);
    EXPECT_TRUE(prio == 4 && memcmp(buf, "again", 5) == 0);
    int status;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_ERRNO(mq_receive(q, buf, sizeof buf, &prio), EINTR);
    EXPECT_EQ(got_alrm, 1);
    mq_send(q, "full", 4, 0);
    got_alrm = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_ERRNO(mq_send(q, "more", 4, 0), EINTR);
    EXPECT_EQ(got_alrm, 1);
    // With SA_RESTART the wait goes on (here to its deadline).
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    got_alrm = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec soon = abs_in(200000000LL);
    EXPECT_ERRNO(mq_timedsend(q, "more", 4, 0, &soon), ETIMEDOUT);
    EXPECT_EQ(got_alrm, 1);
    signal(SIGALRM, SIG_DFL);
    mq_close(q);
    mq_unlink(qname);
}

static volatile int notified;
static volatile int notify_code, notify_value, notify_pid_ok;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    notified++;
    notify_code = si->si_code;
    notify_value = si->si_value.sival_int;
    notify_pid_ok = si->si_pid == getpid();
}

static void test_notify(void) {
    NOTE("mq_notify");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct mq_attr a = attr(4, 16);
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &a);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 42;
    EXPECT_OK(mq_notify(q, &ev));
    EXPECT_ERRNO(mq_notify(q, &ev), EBUSY);
    // Another process cannot register, nor unregister ours.
    pid_t pid = fork();
    if (pid == 0) {
        int bad = mq_notify(q, &ev) != -1 || errno != EBUSY;
        bad |= (mq_notify(q, NULL) != 0) << 1;
        _exit(bad);
    }
    int status;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_ERRNO(mq_notify(q, &ev), EBUSY);
    EXPECT_OK(mq_send(q, "x", 1, 0));
    EXPECT_EQ(notified, 1);
    EXPECT_EQ(notify_code, SI_MESGQ);
    EXPECT_EQ(notify_value, 42);
    EXPECT_EQ(notify_pid_ok, 1);
    // One notification per registration; a non-empty queue does not notify.
    EXPECT_OK(mq_send(q, "y", 1, 0));
    EXPECT_OK(mq_notify(q, &ev));
    EXPECT_OK(mq_send(q, "z", 1, 0));
    EXPECT_EQ(notified, 1);
    char buf[16];
    while (mq_receive(q, buf, sizeof buf, NULL) >= 0) {
    }
    EXPECT_OK(mq_send(q, "w", 1, 0));
    EXPECT_EQ(notified, 2);
    mq_receive(q, buf, sizeof buf, NULL);
    // Unregistering, and the errors.
    EXPECT_OK(mq_notify(q, &ev));
    EXPECT_OK(mq_notify(q, NULL));
    EXPECT_OK(mq_notify(q, NULL));
    EXPECT_OK(mq_send(q, "v", 1, 0));
    EXPECT_EQ(notified, 2);
    mq_receive(q, buf, sizeof buf, NULL);
    ev.sigev_notify = 99;
    EXPECT_ERRNO(mq_notify(q, &ev), EINVAL);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = 65;
    EXPECT_ERRNO(mq_notify(q, &ev), EINVAL);
    ev.sigev_signo = SIGUSR1;
    EXPECT_ERRNO(mq_notify(-1, &ev), EBADF);
    EXPECT_ERRNO(mq_notify(0, &ev), EBADF);
    EXPECT_ERRNO(syscall(SYS_mq_notify, q, (void *)1), EFAULT);
    // Closing any descriptor of the queue drops the process's registration.
    EXPECT_OK(mq_notify(q, &ev));
    int dup_q = dup(q);
    close(dup_q);
    EXPECT_OK(mq_notify(q, &ev));
    // SIGEV_NONE registers without a signal.
    EXPECT_OK(mq_notify(q, NULL));
    ev.sigev_notify = SIGEV_NONE;
    EXPECT_OK(mq_notify(q, &ev));
    EXPECT_ERRNO(mq_notify(q, &ev), EBUSY);
    EXPECT_OK(mq_send(q, "u", 1, 0));
    EXPECT_EQ(notified, 2);
    EXPECT_OK(mq_notify(q, &ev));  // consumed by the send
    EXPECT_OK(mq_notify(q, NULL));
    signal(SIGUSR1, SIG_DFL);
    mq_close(q);
    mq_unlink(qname);
}

static volatile int thread_fired, thread_value;
static void on_thread(union sigval v) {
    thread_value = v.sival_int;
    thread_fired = 1;
}

static void test_notify_thread(void) {
    NOTE("mq_notify with SIGEV_THREAD (glibc's netlink socket and helper thread)");
    struct mq_attr a = attr(2, 16);
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = on_thread;
    ev.sigev_value.sival_int = 7;
    EXPECT_OK(mq_notify(q, &ev));
    EXPECT_ERRNO(mq_notify(q, &ev), EBUSY);
    EXPECT_OK(mq_send(q, "x", 1, 0));
    for (int i = 0; i < 500 && !thread_fired; i++) {
        usleep(10000);
    }
    EXPECT_EQ(thread_fired, 1);
    EXPECT_EQ(thread_value, 7);
    // The raw call wants a netlink socket in sigev_signo and a cookie at sival_ptr.
    char cookie[32] = {0};
    struct sigevent raw;
    memset(&raw, 0, sizeof raw);
    raw.sigev_notify = SIGEV_THREAD;
    raw.sigev_value.sival_ptr = cookie;
    raw.sigev_signo = -1;
    EXPECT_ERRNO(syscall(SYS_mq_notify, q, &raw), EBADF);
    int pfd[2];
    pipe(pfd);
    raw.sigev_signo = pfd[0];
    EXPECT_ERRNO(syscall(SYS_mq_notify, q, &raw), ENOTSOCK);
    int us = socket(AF_UNIX, SOCK_DGRAM, 0);
    raw.sigev_signo = us;
    EXPECT_ERRNO(syscall(SYS_mq_notify, q, &raw), EINVAL);
    raw.sigev_value.sival_ptr = (void *)1;
    EXPECT_ERRNO(syscall(SYS_mq_notify, q, &raw), EFAULT);
    close(us);
    close(pfd[0]);
    close(pfd[1]);
    mq_close(q);
    mq_unlink(qname);
}

static void test_permissions(void) {
    NOTE("permissions and mq_unlink by another user");
    struct mq_attr a = attr(2, 16);
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0604, &a);
    mq_close(q);
    pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
            _exit(100);
        }
        int bad = 0;
        mqd_t r = mq_open(qname, O_RDONLY);
        bad |= (r == -1);
        bad |= (mq_open(qname, O_WRONLY) != -1 || errno != EACCES) << 1;
        bad |= (mq_open(qname, O_RDWR) != -1 || errno != EACCES) << 2;
        // glibc turns the kernel's EPERM (the sticky root) into EACCES.
        bad |= (mq_unlink(qname) != -1 || errno != EACCES) << 3;
        bad |= (syscall(SYS_mq_unlink, qname + 1) != -1 || errno != EPERM) << 4;
        // A queue of its own is its to remove.
        mqd_t own = mq_open(qname2, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
        bad |= (own == -1) << 5;
        struct stat st;
        bad |= (fstat(own, &st) != 0 || st.st_uid != 65534 || st.st_gid != 65534) << 6;
        bad |= (mq_unlink(qname2) != 0) << 7;
        _exit(bad);
    }
    int status;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    // The umask applies.
    mq_unlink(qname);
    mode_t old = umask(077);
    q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0666, &a);
    umask(old);
    struct stat st;
    EXPECT_OK(fstat(q, &st));
    EXPECT_EQ(st.st_mode & 07777, 0600);
    mq_close(q);
    mq_unlink(qname);
}

static void test_unlinked_lives(void) {
    NOTE("an unlinked queue lives while open");
    struct mq_attr a = attr(2, 16);
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    EXPECT_OK(mq_unlink(qname));
    EXPECT_OK(mq_send(q, "x", 1, 0));
    char buf[16];
    EXPECT_EQ(mq_receive(q, buf, sizeof buf, NULL), 1);
    // A new queue of the same name is another queue.
    mqd_t q2 = EXPECT_OK(mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &a));
    mq_send(q2, "y", 1, 0);
    struct mq_attr got;
    mq_getattr(q, &got);
    EXPECT_EQ(got.mq_curmsgs, 0);
    mq_close(q);
    mq_close(q2);
    mq_unlink(qname);
}

static void test_sysctl(void) {
    NOTE("/proc/sys/fs/mqueue");
    const char *names[] = {"msg_max", "msgsize_max", "queues_max", "msg_default",
                           "msgsize_default"};
    const char *want[] = {"10\n", "8192\n", "256\n", "10\n", "8192\n"};
    for (int i = 0; i < 5; i++) {
        char path[80], buf[32] = {0};
        snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", names[i]);
        int fd = open(path, O_RDONLY);
        CHECK(names[i], fd >= 0 && read(fd, buf, sizeof buf - 1) > 0 && strcmp(buf, want[i]) == 0);
        close(fd);
    }
}

static void test_mount(void) {
    NOTE("mount -t mqueue");
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        CHECK("unshare and make / private", 0);
        return;
    }
    char dir[] = "/tmp/mqueue-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        CHECK("mkdtemp", 0);
        return;
    }
    EXPECT_OK(mount("none", dir, "mqueue", 0, NULL));
    struct stat st;
    EXPECT_OK(stat(dir, &st));
    EXPECT_EQ(st.st_mode, S_IFDIR | 01777);
    struct mq_attr a = attr(4, 16);
    mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
    mq_send(q, "abc", 3, 0);
    mq_send(q, "de", 2, 0);
    char path[128], buf[256] = {0};
    snprintf(path, sizeof path, "%s%s", dir, qname);
    int fd = EXPECT_OK(open(path, O_RDONLY));
    EXPECT_GT(read(fd, buf, sizeof buf - 1), 0);
    EXPECT_STREQ(buf, "QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n");
    // An open(2) descriptor is a queue descriptor too.
    char m[16];
    EXPECT_EQ(mq_receive(fd, m, sizeof m, NULL), 3);
    EXPECT_ERRNO(mq_send(fd, "x", 1, 0), EBADF);
    EXPECT_ERRNO(write(fd, "x", 1), EBADF);
    close(fd);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR2;
    mq_notify(q, &ev);
    fd = open(path, O_RDONLY);
    memset(buf, 0, sizeof buf);
    read(fd, buf, sizeof buf - 1);
    char want[128];
    snprintf(want, sizeof want, "QSIZE:2          NOTIFY:0     SIGNO:%-5d NOTIFY_PID:%-6d\n",
             SIGUSR2, getpid());
    EXPECT_STREQ(buf, want);
    close(fd);
    mq_notify(q, NULL);
    EXPECT_OK(stat(path, &st));
    EXPECT_TRUE(st.st_mode == (S_IFREG | 0600) && st.st_size == 80 && st.st_nlink == 1);
    // The directory lists the queue.
    DIR *d = opendir(dir);
    int found = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        found |= strcmp(e->d_name, qname + 1) == 0;
    }
    if (d != NULL) {
        closedir(d);
    }
    EXPECT_TRUE(found);
    // Files made and removed through the mount are queues.
    char path2[128];
    snprintf(path2, sizeof path2, "%s%s", dir, qname2);
    fd = EXPECT_OK(open(path2, O_RDWR | O_CREAT | O_EXCL, 0600));
    struct mq_attr got;
    EXPECT_OK(mq_getattr(fd, &got));
    EXPECT_TRUE(got.mq_maxmsg == 10 && got.mq_msgsize == 8192);
    close(fd);
    mqd_t q2 = EXPECT_OK(mq_open(qname2, O_RDWR));
    mq_close(q2);
    EXPECT_OK(unlink(path2));
    EXPECT_ERRNO(mq_open(qname2, O_RDWR), ENOENT);
    char sub[160];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    EXPECT_ERRNO(mkdir(sub, 0700), EPERM);
    mq_close(q);
    EXPECT_OK(mq_unlink(qname));
    EXPECT_ERRNO(stat(path, &st), ENOENT);
    EXPECT_OK(umount(dir));
    rmdir(dir);
}

int main(void) {
    snprintf(qname, sizeof qname, "/guest-mq-%d", (int)getpid());
    snprintf(qname2, sizeof qname2, "/guest-mq2-%d", (int)getpid());
    test_open();
    test_messages();
    test_blocking();
    test_notify();
    test_notify_thread();
    test_permissions();
    test_unlinked_lives();
    test_sysctl();
    test_mount();
    return guest_done();
}
