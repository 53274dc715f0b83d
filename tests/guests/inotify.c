// SPDX-License-Identifier: Apache-2.0
//
// inotify(7) and dnotify (fcntl F_NOTIFY): the inotify file (flags, /proc/self/fd name,
// non-blocking reads, a too-small buffer, FIONREAD, poll and epoll readiness, a blocking read
// woken by an event and one interrupted by a signal), watch descriptors (IN_MASK_ADD,
// IN_MASK_CREATE, IN_ONESHOT, IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK, rm_watch and
// IN_IGNORED), the events of file and directory operations (with names, IN_ISDIR, paired
// rename cookies, IN_DELETE_SELF, IN_MOVE_SELF), coalescing and IN_Q_OVERFLOW, and dnotify
// signals with si_fd.
//
// Every event read is printed (wd, mask names, whether a cookie pairs a rename, name), so the
// native and sandboxed transcripts compare the whole event streams. It works in a fresh
// directory under /tmp (the sandbox's tmpfs) and another under /var/tmp (the sandbox's overlay
// root), and removes both.

#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static const struct {
    uint32_t bit;
    const char *name;
} BITS[] = {
    {IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},
    {IN_ATTRIB, "ATTRIB"},         {IN_CLOSE_WRITE, "CLOSE_WRITE"},
    {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
    {IN_CREATE, "CREATE"},         {IN_DELETE, "DELETE"},
    {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_UNMOUNT, "UNMOUNT"},       {IN_Q_OVERFLOW, "Q_OVERFLOW"},
    {IN_IGNORED, "IGNORED"},       {IN_ISDIR, "ISDIR"},
};

static uint32_t last_from_cookie;

// Prints one event: its wd, its mask bit names, its cookie as "0", "pair" (the cookie of the
// IN_MOVED_FROM just before) or "new", and its name.
static void print_event(const struct inotify_event *ev) {
    char mask[256] = "";
    uint32_t rest = ev->mask;
    for (size_t i = 0; i < sizeof BITS / sizeof BITS[0]; i++) {
        if (ev->mask & BITS[i].bit) {
            if (mask[0]) {
                strcat(mask, "|");
            }
            strcat(mask, BITS[i].name);
            rest &= ~BITS[i].bit;
        }
    }
    if (rest) {
        sprintf(mask + strlen(mask), "|0x%x", rest);
    }
    const char *cookie = "0";
    if (ev->cookie != 0) {
        if (ev->mask & IN_MOVED_FROM) {
            last_from_cookie = ev->cookie;
            cookie = "new";
        } else {
            cookie = ev->cookie == last_from_cookie ? "pair" : "new";
        }
    }
    NOTE("  wd=%d %s cookie=%s name=%s", ev->wd, mask, cookie, ev->len ? ev->name : "-");
}

// Reads (non-blocking) and prints every queued event; returns how many there were.
static int drain(int fd, const char *what) {
    NOTE("events after %s:", what);
    char buf[4096] __attribute__((aligned(8)));
    int n = 0;
    for (;;) {
        ssize_t len = read(fd, buf, sizeof buf);
        if (len <= 0) {
            if (len < 0 && errno != EAGAIN) {
                NOTE("  read: %s", errno_name(errno));
            }
            break;
        }
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            print_event(ev);
            n++;
            p += sizeof *ev + ev->len;
        }
    }
    return n;
}

static void touch(const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
        close(fd);
    }
}

static void put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) {
            NOTE("write failed");
        }
        close(fd);
    }
}

// The events of file and directory operations in `dir` (tmpfs or overlay).
static void file_events(const char *dir) {
    if (chdir(dir) != 0) {
        NOTE("chdir failed");
        return;
    }
    int in = EXPECT_OK(inotify_init1(IN_NONBLOCK));
    int dw = EXPECT_OK(inotify_add_watch(in, ".", IN_ALL_EVENTS));
    EXPECT_EQ(dw, 1);

    NOTE("create, write, close");
    int fd = EXPECT_OK(open("f", O_CREAT | O_WRONLY, 0644));
    EXPECT_EQ(write(fd, "abc", 3), 3);
    EXPECT_EQ(write(fd, "def", 3), 3);  // coalesced with the first IN_MODIFY
    close(fd);
    drain(in, "create/write/close");

    int fw = EXPECT_OK(inotify_add_watch(in, "f", IN_ALL_EVENTS));
    EXPECT_EQ(fw, 2);
    NOTE("read, close");
    char buf[16];
    fd = EXPECT_OK(open("f", O_RDONLY));
    EXPECT_EQ(read(fd, buf, 2), 2);
    EXPECT_EQ(pread(fd, buf, 2, 1), 2);
    EXPECT_EQ(read(fd, buf, sizeof buf), 4);
    EXPECT_EQ(read(fd, buf, sizeof buf), 0);  // end of file: no event
    close(fd);
    drain(in, "read/close");

    NOTE("attributes");
    EXPECT_OK(chmod("f", 0600));
    EXPECT_OK(chown("f", -1, -1));  // nothing changes: no event
    EXPECT_OK(utimensat(AT_FDCWD, "f", NULL, 0));
    struct timespec ts[2] = {{0, UTIME_OMIT}, {5, 0}};
    EXPECT_OK(utimensat(AT_FDCWD, "f", ts, 0));
    EXPECT_OK(truncate("f", 2));
    EXPECT_OK(setxattr("f", "user.k", "v", 1, 0));
    EXPECT_OK(removexattr("f", "user.k"));
    fd = EXPECT_OK(open("f", O_RDWR | O_TRUNC));
    EXPECT_OK(fchmod(fd, 0644));
    EXPECT_OK(ftruncate(fd, 10));
    close(fd);
    drain(in, "attributes");

    NOTE("links and renames");
    EXPECT_OK(link("f", "g"));
    EXPECT_OK(unlink("g"));
    EXPECT_OK(rename("f", "h"));
    drain(in, "link/unlink/rename");
    EXPECT_OK(mkdir("d", 0755));
    int sw = EXPECT_OK(inotify_add_watch(in, "d", IN_ALL_EVENTS));
    EXPECT_EQ(sw, 3);
    EXPECT_OK(rename("h", "d/h"));
    EXPECT_OK(rename("d/h", "h"));
    drain(in, "renames across directories");
    touch("x");
    int xw = EXPECT_OK(inotify_add_watch(in, "x", IN_ALL_EVENTS));
    EXPECT_EQ(xw, 4);
    EXPECT_OK(rename("h", "x"));  // replaces x: its watch ends
    drain(in, "rename over a watched file");
    EXPECT_OK(rename("d", "e"));
    drain(in, "rename of a watched directory");
    EXPECT_OK(symlink("x", "s"));
    EXPECT_OK(mknod("p", S_IFIFO | 0644, 0));
    EXPECT_OK(unlink("p"));
    EXPECT_OK(unlink("s"));
    drain(in, "symlink/mknod/unlink");

    NOTE("directories");
    EXPECT_OK(mkdir("e/sub", 0755));
    EXPECT_OK(chmod("e", 0700));
    EXPECT_OK(rmdir("e/sub"));
    EXPECT_OK(rmdir("e"));
    drain(in, "mkdir/chmod/rmdir");

    NOTE("deleting a watched file");
    EXPECT_OK(unlink("x"));
    drain(in, "unlink of the last link");
    EXPECT_ERRNO(inotify_rm_watch(in, 2), EINVAL);  // already gone
    EXPECT_OK(inotify_rm_watch(in, dw));
    drain(in, "rm_watch");
    close(in);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static volatile sig_atomic_t dn_count;
static volatile int dn_fd = -2;
static volatile int dn_sig;
static void on_dnotify(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    dn_count++;
    dn_sig = sig;
    dn_fd = si->si_fd;
}

int main(void) {
    char tdir[] = "/tmp/inotify.XXXXXX";
    char vdir[] = "/var/tmp/inotify.XXXXXX";
    if (mkdtemp(tdir) == NULL || mkdtemp(vdir) == NULL || chdir(tdir) != 0) {
        perror("mkdtemp");
        return 2;
    }
    umask(022);

    NOTE("the inotify file");
    EXPECT_ERRNO(inotify_init1(O_RDWR), EINVAL);
    int in = EXPECT_OK(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    EXPECT_EQ(fcntl(in, F_GETFD), FD_CLOEXEC);
    EXPECT_TRUE(fcntl(in, F_GETFL) & O_NONBLOCK);
    char link[64], target[64] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", in);
    EXPECT_OK(readlink(link, target, sizeof target - 1));
    EXPECT_STREQ(target, "anon_inode:inotify");
    char buf[4096] __attribute__((aligned(8)));
    EXPECT_ERRNO(read(in, buf, sizeof buf), EAGAIN);
    int avail = -1;
    EXPECT_OK(ioctl(in, FIONREAD, &avail));
    EXPECT_EQ(avail, 0);
    struct pollfd pfd = {.fd = in, .events = POLLIN};
    EXPECT_EQ(poll(&pfd, 1, 0), 0);

    NOTE("add_watch and rm_watch errors");
    int pipefd[2];
    EXPECT_OK(pipe(pipefd));
    touch("file");
    EXPECT_ERRNO(inotify_add_watch(-1, ".", IN_ALL_EVENTS), EBADF);
    EXPECT_ERRNO(inotify_add_watch(pipefd[0], ".", IN_ALL_EVENTS), EINVAL);
    EXPECT_ERRNO(inotify_add_watch(in, ".", 0), EINVAL);
    EXPECT_ERRNO(inotify_add_watch(in, ".", IN_OPEN | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
    EXPECT_ERRNO(inotify_add_watch(in, "missing", IN_ALL_EVENTS), ENOENT);
    EXPECT_ERRNO(inotify_add_watch(in, "file", IN_OPEN | IN_ONLYDIR), ENOTDIR);
    EXPECT_ERRNO(inotify_add_watch(in, (const char *)8, IN_OPEN), EFAULT);
    EXPECT_ERRNO(inotify_rm_watch(in, 1), EINVAL);
    EXPECT_ERRNO(inotify_rm_watch(-1, 1), EBADF);
    EXPECT_ERRNO(inotify_rm_watch(pipefd[0], 1), EINVAL);

    NOTE("watch descriptors");
    int w = EXPECT_OK(inotify_add_watch(in, "file", IN_OPEN));
    EXPECT_EQ(w, 1);
    EXPECT_EQ(inotify_add_watch(in, "./file", IN_CLOSE | IN_MASK_ADD), w);
    EXPECT_ERRNO(inotify_add_watch(in, "file", IN_OPEN | IN_MASK_CREATE), EEXIST);
    EXPECT_OK(symlink("file", "lnk"));
    EXPECT_EQ(inotify_add_watch(in, "lnk", IN_OPEN | IN_CLOSE | IN_MASK_ADD), w);
    int lw = EXPECT_OK(inotify_add_watch(in, "lnk", IN_ATTRIB | IN_DONT_FOLLOW));
    EXPECT_EQ(lw, 2);
    int fd = EXPECT_OK(open("file", O_RDONLY));
    close(fd);
    drain(in, "open/close with IN_OPEN then IN_MASK_ADD IN_CLOSE");
    EXPECT_OK(inotify_add_watch(in, "file", IN_MODIFY));  // replaces the mask
    fd = EXPECT_OK(open("file", O_RDWR));
    EXPECT_EQ(write(fd, "x", 1), 1);
    close(fd);
    drain(in, "a write after the mask was replaced");

    NOTE("IN_ONESHOT");
    int ow = EXPECT_OK(inotify_add_watch(in, "file", IN_MODIFY | IN_ONESHOT));
    EXPECT_EQ(ow, w);
    fd = EXPECT_OK(open("file", O_WRONLY));
    EXPECT_EQ(write(fd, "x", 1), 1);
    EXPECT_EQ(write(fd, "y", 1), 1);
    drain(in, "two writes to a oneshot watch");
    EXPECT_EQ(write(fd, "z", 1), 1);
    close(fd);
    EXPECT_EQ(drain(in, "a third write"), 0);
    EXPECT_EQ(inotify_add_watch(in, "file", IN_MODIFY), 3);

    NOTE("FIONREAD, a too-small buffer, readiness");
    fd = EXPECT_OK(open("file", O_WRONLY));
    EXPECT_EQ(write(fd, "x", 1), 1);
    close(fd);
    int dwd = EXPECT_OK(inotify_add_watch(in, ".", IN_CREATE));
    touch("a-rather-long-name-for-padding");
    EXPECT_OK(ioctl(in, FIONREAD, &avail));
    EXPECT_EQ(avail, 16 + 16 + 32);
    EXPECT_EQ(poll(&pfd, 1, 0), 1);
    EXPECT_EQ(pfd.revents, POLLIN);
    int ep = EXPECT_OK(epoll_create1(0));
    struct epoll_event ee = {.events = EPOLLIN, .data.u32 = 7};
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, in, &ee));
    struct epoll_event got;
    EXPECT_EQ(epoll_wait(ep, &got, 1, 0), 1);
    EXPECT_EQ(got.data.u32, 7);
    EXPECT_ERRNO(read(in, buf, 15), EINVAL);
    EXPECT_EQ(read(in, buf, 16), 16);                   // the nameless event fits
    EXPECT_ERRNO(read(in, buf, 16 + 31), EINVAL);  // the named one does not
    EXPECT_EQ(read(in, buf, sizeof buf), 48);
    struct inotify_event *ev = (struct inotify_event *)buf;
    EXPECT_EQ(ev->wd, dwd);
    EXPECT_EQ(ev->len, 32);
    EXPECT_STREQ(ev->name, "a-rather-long-name-for-padding");
    EXPECT_EQ(poll(&pfd, 1, 0), 0);
    EXPECT_EQ(epoll_wait(ep, &got, 1, 0), 0);
    close(ep);
    EXPECT_OK(inotify_rm_watch(in, dwd));
    drain(in, "rm_watch");

    NOTE("IN_EXCL_UNLINK");
    int ew = EXPECT_OK(inotify_add_watch(in, ".", IN_MODIFY | IN_EXCL_UNLINK));
    fd = EXPECT_OK(open("gone", O_CREAT | O_WRONLY, 0644));
    EXPECT_EQ(write(fd, "1", 1), 1);
    EXPECT_OK(unlink("gone"));
    EXPECT_EQ(write(fd, "2", 1), 1);
    close(fd);
    drain(in, "writes before and after unlink");
    EXPECT_OK(inotify_rm_watch(in, ew));
    drain(in, "rm_watch");
    close(in);

    NOTE("blocking reads");
    in = EXPECT_OK(inotify_init());
    EXPECT_OK(inotify_add_watch(in, "file", IN_ATTRIB));
    pid_t child = fork();
    if (child == 0) {
        usleep(100 * 1000);
        chmod("file", 0640);
        _exit(0);
    }
    EXPECT_EQ(read(in, buf, sizeof buf), 16);
    EXPECT_EQ(((struct inotify_event *)buf)->mask, IN_ATTRIB);
    int status;
    EXPECT_EQ(waitpid(child, &status, 0), child);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {0, 50 * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_ERRNO(read(in, buf, sizeof buf), EINTR);
    EXPECT_EQ(alarms, 1);
    close(in);

    NOTE("large transfers");
    in = EXPECT_OK(inotify_init1(IN_NONBLOCK));
    EXPECT_OK(inotify_add_watch(in, "file", IN_MODIFY | IN_ACCESS));
    static char big[256 * 1024];
    fd = EXPECT_OK(open("file", O_RDWR));
    EXPECT_EQ(write(fd, big, sizeof big), (ssize_t)sizeof big);
    EXPECT_EQ(pread(fd, big, sizeof big, 0), (ssize_t)sizeof big);
    EXPECT_EQ(pwrite(fd, big, 100 * 1024, 0), 100 * 1024);
    close(fd);
    drain(in, "a large write, read and write");
    EXPECT_OK(truncate("file", 0));
    drain(in, "truncate");
    close(in);

    NOTE("IN_Q_OVERFLOW");
    int max = 0;
    FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    CHECK("max_queued_events is readable", f != NULL && fscanf(f, "%d", &max) == 1);
    if (f) {
        fclose(f);
    }
    int uw = -1, ui = -1;
    f = fopen("/proc/sys/fs/inotify/max_user_watches", "r");
    CHECK("max_user_watches is readable", f != NULL && fscanf(f, "%d", &uw) == 1 && uw > 0);
    if (f) {
        fclose(f);
    }
    f = fopen("/proc/sys/fs/inotify/max_user_instances", "r");
    CHECK("max_user_instances is readable", f != NULL && fscanf(f, "%d", &ui) == 1 && ui > 0);
    if (f) {
        fclose(f);
    }
    in = EXPECT_OK(inotify_init1(IN_NONBLOCK));
    EXPECT_OK(inotify_add_watch(in, "file", IN_MODIFY | IN_ACCESS));
    fd = EXPECT_OK(open("file", O_RDWR));
    for (int i = 0; i < max / 2 + 5; i++) {
        if (pwrite(fd, "x", 1, 0) != 1 || pread(fd, buf, 1, 0) != 1) {
            break;
        }
    }
    close(fd);
    int total = 0, overflow_last = 0, alternate = 1;
    uint32_t prev = 0;
    for (;;) {
        ssize_t len = read(in, buf, sizeof buf);
        if (len <= 0) {
            break;
        }
        for (char *p = buf; p < buf + len;) {
            ev = (struct inotify_event *)p;
            total++;
            overflow_last = ev->mask == IN_Q_OVERFLOW && ev->wd == -1;
            if (!overflow_last && ev->mask == prev) {
                alternate = 0;
            }
            prev = ev->mask;
            p += sizeof *ev + ev->len;
        }
    }
    EXPECT_EQ(total, max + 1);
    CHECK("the last event is IN_Q_OVERFLOW", overflow_last);
    CHECK("identical events are coalesced only when consecutive", alternate);
    close(in);

    NOTE("file and directory events on tmpfs");
    EXPECT_OK(mkdir("t", 0755));
    file_events("t");
    if (chdir(tdir) != 0) {
        return 2;
    }
    NOTE("file and directory events on the overlay root");
    file_events(vdir);
    if (chdir(tdir) != 0) {
        return 2;
    }

    NOTE("dnotify");
    EXPECT_OK(mkdir("dn", 0755));
    int dfd = EXPECT_OK(open("dn", O_RDONLY | O_DIRECTORY));
    int ffd = EXPECT_OK(open("file", O_RDONLY));
    EXPECT_ERRNO(fcntl(ffd, F_NOTIFY, DN_CREATE), ENOTDIR);
    EXPECT_ERRNO(fcntl(dfd, F_SETSIG, 65), EINVAL);
    struct sigaction da = {.sa_sigaction = on_dnotify, .sa_flags = SA_SIGINFO};
    sigaction(SIGRTMIN + 1, &da, NULL);
    sigaction(SIGIO, &da, NULL);
    EXPECT_OK(fcntl(dfd, F_SETSIG, SIGRTMIN + 1));
    EXPECT_EQ(fcntl(dfd, F_GETSIG), SIGRTMIN + 1);
    EXPECT_OK(fcntl(dfd, F_NOTIFY, DN_CREATE | DN_DELETE | DN_MULTISHOT));
    touch("dn/a");
    EXPECT_EQ(dn_count, 1);
    EXPECT_EQ(dn_fd, dfd);
    EXPECT_EQ(dn_sig, SIGRTMIN + 1);
    EXPECT_OK(unlink("dn/a"));
    EXPECT_EQ(dn_count, 2);
    EXPECT_OK(chmod("dn", 0700));  // DN_ATTRIB not asked for
    EXPECT_EQ(dn_count, 2);
    EXPECT_OK(fcntl(dfd, F_NOTIFY, DN_MULTISHOT));  // no events: removes it
    touch("dn/b");
    EXPECT_EQ(dn_count, 2);
    EXPECT_OK(fcntl(dfd, F_NOTIFY, DN_RENAME));  // one shot
    EXPECT_OK(rename("dn/b", "dn/c"));
    EXPECT_EQ(dn_count, 3);
    EXPECT_OK(rename("dn/c", "dn/d"));
    EXPECT_EQ(dn_count, 3);
    EXPECT_OK(fcntl(dfd, F_SETSIG, 0));
    EXPECT_OK(fcntl(dfd, F_NOTIFY, DN_ATTRIB));
    EXPECT_OK(chmod("dn", 0755));  // the directory itself
    EXPECT_EQ(dn_count, 4);
    EXPECT_EQ(dn_sig, SIGIO);
    EXPECT_OK(fcntl(dfd, F_NOTIFY, DN_MODIFY | DN_MULTISHOT));
    EXPECT_OK(fcntl(dfd, F_NOTIFY, DN_ACCESS));  // adds to it
    put("dn/d", "data");  // O_TRUNC and write: two events
    EXPECT_EQ(dn_count, 6);
    int rfd = EXPECT_OK(open("dn/d", O_RDONLY));
    EXPECT_EQ(read(rfd, buf, sizeof buf), 4);
    close(rfd);
    EXPECT_EQ(dn_count, 7);
    EXPECT_OK(fcntl(dfd, F_NOTIFY, 0));
    close(dfd);
    close(ffd);
    EXPECT_OK(unlink("dn/d"));
    EXPECT_OK(rmdir("dn"));

    unlink("file");
    unlink("lnk");
    unlink("a-rather-long-name-for-padding");
    rmdir("t");
    if (chdir("/") != 0 || rmdir(tdir) != 0 || rmdir(vdir) != 0) {
        NOTE("cleanup failed");
    }
    return guest_done();
}
