// SPDX-License-Identifier: Apache-2.0
//
// fanotify(7): fanotify_init and fanotify_mark argument errors, classic events (a descriptor
// on the object, the pid) from a mark on a file, on a directory with FAN_EVENT_ON_CHILD and on
// a mount; file id reporting with names (FAN_REPORT_DFID_NAME | FAN_REPORT_FID) whose handles
// match name_to_handle_at(2) and whose fsid matches statfs(2); ignore masks; a permission event
// allowed and one denied (a child opens, the parent answers); a listener that closes its
// descriptor with a permission event pending; the queue's overflow; non-blocking reads, a
// too-small buffer, FIONREAD, poll and /proc/self/fdinfo.
//
// It works on a tmpfs mounted for the test on a fresh directory under /tmp (so a mount mark
// hears only the test), and unmounts it.

#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

static char base[64];

static const struct {
    uint64_t bit;
    const char *name;
} BITS[] = {
    {FAN_ACCESS, "ACCESS"},
    {FAN_MODIFY, "MODIFY"},
    {FAN_ATTRIB, "ATTRIB"},
    {FAN_CLOSE_WRITE, "CLOSE_WRITE"},
    {FAN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
    {FAN_OPEN, "OPEN"},
    {FAN_MOVED_FROM, "MOVED_FROM"},
    {FAN_MOVED_TO, "MOVED_TO"},
    {FAN_CREATE, "CREATE"},
    {FAN_DELETE, "DELETE"},
    {FAN_DELETE_SELF, "DELETE_SELF"},
    {FAN_MOVE_SELF, "MOVE_SELF"},
    {FAN_Q_OVERFLOW, "Q_OVERFLOW"},
    {FAN_OPEN_PERM, "OPEN_PERM"},
    {FAN_ACCESS_PERM, "ACCESS_PERM"},
    {FAN_ONDIR, "ONDIR"},
};

static void mask_name(uint64_t m, char *out) {
    out[0] = 0;
    for (size_t i = 0; i < sizeof BITS / sizeof BITS[0]; i++) {
        if (m & BITS[i].bit) {
            if (out[0]) {
                strcat(out, "|");
            }
            strcat(out, BITS[i].name);
            m &= ~BITS[i].bit;
        }
    }
    if (m) {
        sprintf(out + strlen(out), "|0x%llx", (unsigned long long)m);
    }
}

// The path an event's descriptor names, relative to the test directory.
static const char *fd_path(int fd, char *buf, size_t len) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    if (n < 0) {
        return "?";
    }
    buf[n] = 0;
    size_t b = strlen(base);
    if (strncmp(buf, base, b) == 0) {
        return buf + b;
    }
    return buf;
}

// Reads and prints every queued classic event (non-blocking descriptor), closing their fds.
static int drain(int fan, const char *what) {
    NOTE("events after %s:", what);
    char buf[4096] __attribute__((aligned(8)));
    int n = 0;
    for (;;) {
        ssize_t len = read(fan, buf, sizeof buf);
        if (len < 0) {
            if (errno != EAGAIN) {
                NOTE("  read: %s", errno_name(errno));
            }
            break;
        }
        struct fanotify_event_metadata *m = (void *)buf;
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            char names[256], p[256];
            mask_name(m->mask, names);
            NOTE("  %s path=%s pid=%s vers=%d", names, m->fd >= 0 ? fd_path(m->fd, p, sizeof p) : "-",
                 m->pid == getpid() ? "self" : "other", m->vers);
            if (m->fd >= 0) {
                close(m->fd);
            }
            n++;
        }
    }
    return n;
}

static void touch(const char *name) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", base, name);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
        close(fd);
    }
}

static void bad_arguments(void) {
    NOTE("bad arguments");
    EXPECT_ERRNO(fanotify_init(0x80000000u, O_RDONLY), EINVAL);
    EXPECT_ERRNO(fanotify_init(FAN_REPORT_NAME, O_RDONLY), EINVAL);
    EXPECT_ERRNO(fanotify_init(FAN_REPORT_FID | FAN_CLASS_CONTENT, O_RDONLY), EINVAL);
    EXPECT_ERRNO(fanotify_init(FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT, O_RDONLY), EINVAL);
    EXPECT_ERRNO(fanotify_init(0, O_ACCMODE), EINVAL);
    EXPECT_ERRNO(fanotify_init(0, O_RDONLY | O_DIRECTORY), EINVAL);
    int fan = EXPECT_OK(fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY));
    int notfan = EXPECT_OK(open("/dev/null", O_RDONLY));
    char f[128];
    snprintf(f, sizeof f, "%s/file", base);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD, 0, AT_FDCWD, f), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | 0x80000000u, FAN_OPEN, AT_FDCWD, f), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD, 1ULL << 40, AT_FDCWD, f), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, f), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_FLUSH | FAN_MARK_ONLYDIR, 0, AT_FDCWD, f), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT | FAN_MARK_FILESYSTEM, FAN_OPEN,
                               AT_FDCWD, f),
                 EINVAL);
    EXPECT_ERRNO(fanotify_mark(-1, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, f), EBADF);
    EXPECT_ERRNO(fanotify_mark(notfan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, f), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, base), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, f), EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "/nonexistent/x"), ENOENT);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN, AT_FDCWD, f), ENOTDIR);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, f), ENOENT);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, -1, NULL), EBADF);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORE | FAN_MARK_IGNORED_MASK,
                               FAN_OPEN, AT_FDCWD, f),
                 EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_EVICTABLE | FAN_MARK_MOUNT, FAN_OPEN,
                               AT_FDCWD, base),
                 EINVAL);
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORE, FAN_OPEN, AT_FDCWD, base),
                 EISDIR);
    char buf[16];
    EXPECT_ERRNO(read(fan, buf, sizeof buf), EAGAIN);
    struct fanotify_response r = {.fd = 1, .response = 7};
    EXPECT_ERRNO(write(fan, &r, sizeof r), EINVAL);
    r.response = FAN_ALLOW;
    EXPECT_ERRNO(write(fan, &r, sizeof r), ENOENT);
    EXPECT_ERRNO(write(fan, &r, 4), EINVAL);
    close(notfan);
    close(fan);
}

static void file_mark(void) {
    NOTE("a mark on a file");
    char f[128];
    snprintf(f, sizeof f, "%s/file", base);
    int fan = EXPECT_OK(fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY));
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN | FAN_ACCESS | FAN_MODIFY | FAN_CLOSE,
                            AT_FDCWD, f));
    int fl = fcntl(fan, F_GETFL);
    EXPECT_EQ(fl & O_ACCMODE, O_RDWR);
    EXPECT_TRUE(fl & O_NONBLOCK);
    EXPECT_EQ(fcntl(fan, F_GETFD), FD_CLOEXEC);
    int fd = EXPECT_OK(open(f, O_RDWR));
    int avail = -1;
    EXPECT_OK(ioctl(fan, FIONREAD, &avail));
    EXPECT_EQ(avail, (int)FAN_EVENT_METADATA_LEN);
    struct pollfd pfd = {.fd = fan, .events = POLLIN};
    EXPECT_EQ(poll(&pfd, 1, 0), 1);
    char small[8];
    EXPECT_ERRNO(read(fan, small, sizeof small), EINVAL);
    drain(fan, "open");
    EXPECT_EQ(poll(&pfd, 1, 0), 0);
    EXPECT_EQ(write(fd, "hello", 5), 5);
    drain(fan, "write");
    char buf[8];
    lseek(fd, 0, SEEK_SET);
    EXPECT_EQ(read(fd, buf, 5), 5);
    drain(fan, "read");
    close(fd);
    drain(fan, "close");
    // Merging: identical events on the same file coalesce; different ones join.
    fd = EXPECT_OK(open(f, O_RDONLY));
    EXPECT_EQ(read(fd, buf, 1), 1);
    EXPECT_EQ(read(fd, buf, 1), 1);
    close(fd);
    drain(fan, "open, two reads, close");
    // The descriptor an event carries reads, and reports nothing itself.
    fd = EXPECT_OK(open(f, O_WRONLY));
    struct fanotify_event_metadata m[4];
    ssize_t n = read(fan, m, sizeof m);
    EXPECT_EQ(n, (ssize_t)sizeof m[0]);
    if (n > 0 && m[0].fd >= 0) {
        EXPECT_EQ(fcntl(m[0].fd, F_GETFL) & O_ACCMODE, O_RDONLY);
        EXPECT_EQ(fcntl(m[0].fd, F_GETFD), 0);
        EXPECT_EQ(read(m[0].fd, buf, 5), 5);
        EXPECT_MEMEQ(buf, "hello", 5);
        close(m[0].fd);
    }
    close(fd);
    drain(fan, "an open for writing, and the event's own descriptor used");
    // fdinfo.
    char path[64], info[1024];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fan);
    int fi = EXPECT_OK(open(path, O_RDONLY));
    n = read(fi, info, sizeof info - 1);
    close(fi);
    info[n > 0 ? n : 0] = 0;
    char *line = strstr(info, "fanotify flags:");
    if (CHECK("fdinfo has a fanotify line", line != NULL)) {
        *strchr(line, '\n') = 0;
        NOTE("fdinfo: %s", line);
        line += strlen(line) + 1;
        char *mask = strstr(line, " mask:");
        char *ino = strstr(line, "fanotify ino:");
        CHECK("fdinfo has the inode mark", ino != NULL && mask != NULL);
        if (mask) {
            *strchr(mask + 1, ' ') = 0;
            NOTE("fdinfo mark%s", mask);
        }
    }
    // Ignore mask: opens are ignored, closes still heard.
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN, AT_FDCWD, f));
    fd = EXPECT_OK(open(f, O_RDONLY));
    close(fd);
    drain(fan, "open and close with opens ignored");
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_REMOVE, FAN_OPEN | FAN_ACCESS | FAN_MODIFY | FAN_CLOSE,
                            AT_FDCWD, f));
    fd = EXPECT_OK(open(f, O_RDONLY));
    close(fd);
    drain(fan, "open and close after the mark's events were removed");
    close(fan);
}

static void dir_mark(void) {
    NOTE("a mark on a directory, with FAN_EVENT_ON_CHILD");
    int fan = EXPECT_OK(fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY));
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_ONLYDIR,
                            FAN_OPEN | FAN_CLOSE | FAN_EVENT_ON_CHILD, AT_FDCWD, base));
    touch("file");
    drain(fan, "a child opened and closed");
    char d[128];
    snprintf(d, sizeof d, "%s/sub", base);
    mkdir(d, 0755);
    int fd = EXPECT_OK(open(d, O_RDONLY | O_DIRECTORY));
    close(fd);
    drain(fan, "a subdirectory opened, without FAN_ONDIR");
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD, FAN_ONDIR, AT_FDCWD, base));
    fd = EXPECT_OK(open(d, O_RDONLY | O_DIRECTORY));
    close(fd);
    fd = EXPECT_OK(open(base, O_RDONLY | O_DIRECTORY));
    close(fd);
    drain(fan, "a subdirectory and the directory opened, with FAN_ONDIR");
    rmdir(d);
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL));
    touch("file");
    drain(fan, "after FAN_MARK_FLUSH");
    close(fan);
}

static void mount_mark(void) {
    NOTE("a mount mark");
    int fan = EXPECT_OK(fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY));
    EXPECT_ERRNO(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CREATE, AT_FDCWD, base),
                 EINVAL);
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN | FAN_CLOSE_WRITE,
                            AT_FDCWD, base));
    touch("file");
    touch("other");
    char d[128];
    snprintf(d, sizeof d, "%s/sub", base);
    mkdir(d, 0755);
    touch("sub/deep");
    drain(fan, "three files opened for writing and closed");
    unlink(d);
    char p[128];
    snprintf(p, sizeof p, "%s/sub/deep", base);
    unlink(p);
    rmdir(d);
    snprintf(p, sizeof p, "%s/other", base);
    unlink(p);
    // A file system mark hears the same.
    int fan2 = EXPECT_OK(fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY));
    EXPECT_OK(fanotify_mark(fan2, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE, AT_FDCWD,
                            base));
    touch("file");
    drain(fan2, "a file closed, with a file system mark");
    close(fan2);
    close(fan);
}

// Prints the info records of one FID event; checks the handles against name_to_handle_at.
static void print_fid_event(struct fanotify_event_metadata *m, const char *dirpath) {
    char names[256];
    mask_name(m->mask, names);
    NOTE("  %s fd=%d", names, m->fd);
    struct statfs sfs;
    statfs(base, &sfs);
    char *p = (char *)m + m->metadata_len;
    char *end = (char *)m + m->event_len;
    while (p < end) {
        struct fanotify_event_info_fid *fid = (void *)p;
        struct file_handle *fh = (void *)fid->handle;
        const char *name = "";
        if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
            name = (char *)fh->f_handle + fh->handle_bytes;
        }
        int fsid_ok = memcmp(&fid->fsid, &sfs.f_fsid, sizeof sfs.f_fsid) == 0;
        // The directory's handle, for the records about it.
        struct {
            struct file_handle h;
            unsigned char b[128];
        } want = {.h = {.handle_bytes = 128}};
        int mnt;
        const char *what = "?";
        if (name_to_handle_at(AT_FDCWD, dirpath, &want.h, &mnt, 0) == 0 &&
            want.h.handle_bytes == fh->handle_bytes && want.h.handle_type == fh->handle_type &&
            memcmp(want.h.f_handle, fh->f_handle, fh->handle_bytes) == 0) {
            what = "dir";
        } else {
            what = "other";
        }
        NOTE("    type=%d fsid_ok=%d handle=%s name=%s", fid->hdr.info_type, fsid_ok, what,
             name);
        if (fid->hdr.len == 0) {
            break;
        }
        p += fid->hdr.len;
    }
}

static int drain_fid(int fan, const char *what, const char *dirpath) {
    NOTE("events after %s:", what);
    char buf[8192] __attribute__((aligned(8)));
    int n = 0;
    for (;;) {
        ssize_t len = read(fan, buf, sizeof buf);
        if (len < 0) {
            break;
        }
        struct fanotify_event_metadata *m = (void *)buf;
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            print_fid_event(m, dirpath);
            n++;
        }
    }
    return n;
}

static void fid_events(void) {
    NOTE("file ids with names");
    int fan = EXPECT_OK(fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_REPORT_DFID_NAME |
                                          FAN_REPORT_FID,
                                      O_RDONLY));
    char d[128];
    snprintf(d, sizeof d, "%s/fid", base);
    mkdir(d, 0755);
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD,
                            FAN_CREATE | FAN_DELETE | FAN_MOVE | FAN_ONDIR | FAN_CLOSE_WRITE |
                                FAN_EVENT_ON_CHILD | FAN_ATTRIB,
                            AT_FDCWD, d));
    char a[160], b[160], s[160];
    snprintf(a, sizeof a, "%s/a", d);
    snprintf(b, sizeof b, "%s/b", d);
    snprintf(s, sizeof s, "%s/s", d);
    int fd = EXPECT_OK(open(a, O_CREAT | O_WRONLY, 0644));
    close(fd);
    drain_fid(fan, "create and close", d);
    EXPECT_OK(rename(a, b));
    drain_fid(fan, "rename", d);
    EXPECT_OK(mkdir(s, 0755));
    EXPECT_OK(rmdir(s));
    drain_fid(fan, "mkdir and rmdir", d);
    EXPECT_OK(chmod(b, 0600));
    EXPECT_OK(unlink(b));
    drain_fid(fan, "chmod and unlink", d);
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD, FAN_DELETE_SELF | FAN_ONDIR, AT_FDCWD, d));
    EXPECT_OK(rmdir(d));
    drain_fid(fan, "the directory removed", d);
    close(fan);
    // Without CAP_SYS_ADMIN a group reporting file ids can still be made; a classic one not.
}

// A child opens `f` (after the parent's mark) and exits with the open's errno. It closes its
// copy of the listener's descriptor `fan` first (else the group outlives the parent's close).
static pid_t opener(int fan, const char *f) {
    pid_t pid = fork();
    if (pid == 0) {
        close(fan);
        int fd = open(f, O_RDONLY);
        _exit(fd >= 0 ? 0 : errno);
    }
    return pid;
}

static void answer(int fan, uint32_t response, const char *what) {
    struct fanotify_event_metadata m;
    struct pollfd pfd = {.fd = fan, .events = POLLIN};
    poll(&pfd, 1, 5000);
    ssize_t n = read(fan, &m, sizeof m);
    if (!CHECK("a permission event is read", n == (ssize_t)sizeof m)) {
        return;
    }
    char names[128], p[256];
    mask_name(m.mask, names);
    NOTE("  %s path=%s pid=%s (%s)", names, fd_path(m.fd, p, sizeof p),
         m.pid == getpid() ? "self" : "child", what);
    struct fanotify_response r = {.fd = m.fd, .response = response};
    EXPECT_EQ(write(fan, &r, sizeof r), (ssize_t)sizeof r);
    EXPECT_ERRNO(write(fan, &r, sizeof r), ENOENT);
    close(m.fd);
}

static void permission_events(void) {
    NOTE("permission events");
    char f[128];
    snprintf(f, sizeof f, "%s/file", base);
    int fan = EXPECT_OK(fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY));
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, f));
    int st;
    pid_t pid = opener(fan, f);
    answer(fan, FAN_ALLOW, "allowed");
    waitpid(pid, &st, 0);
    EXPECT_EQ(WEXITSTATUS(st), 0);
    pid = opener(fan, f);
    answer(fan, FAN_DENY, "denied");
    waitpid(pid, &st, 0);
    EXPECT_EQ(WEXITSTATUS(st), EPERM);
    // The listener closes its descriptor with an event pending: the open goes ahead.
    pid = opener(fan, f);
    struct pollfd pfd = {.fd = fan, .events = POLLIN};
    EXPECT_EQ(poll(&pfd, 1, 5000), 1);
    close(fan);
    waitpid(pid, &st, 0);
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

static void overflow(void) {
    NOTE("overflow");
    char d[128];
    snprintf(d, sizeof d, "%s/many", base);
    mkdir(d, 0755);
    int fan = EXPECT_OK(fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                                      O_RDONLY));
    EXPECT_OK(fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, d));
    int total = 16384 + 10;
    char p[160];
    for (int i = 0; i < total; i++) {
        snprintf(p, sizeof p, "%s/%d", d, i);
        mknod(p, S_IFREG | 0600, 0);
    }
    int events = 0, overflows = 0, last_overflow = 0;
    static char buf[65536] __attribute__((aligned(8)));
    for (;;) {
        ssize_t len = read(fan, buf, sizeof buf);
        if (len < 0) {
            break;
        }
        struct fanotify_event_metadata *m = (void *)buf;
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            events++;
            last_overflow = (m->mask & FAN_Q_OVERFLOW) != 0;
            if (last_overflow) {
                overflows++;
                EXPECT_EQ(m->fd, FAN_NOFD);
                EXPECT_EQ(m->event_len, FAN_EVENT_METADATA_LEN);
            }
        }
    }
    NOTE("events=%d overflows=%d last_is_overflow=%d", events, overflows, last_overflow);
    close(fan);
    for (int i = 0; i < total; i++) {
        snprintf(p, sizeof p, "%s/%d", d, i);
        unlink(p);
    }
    rmdir(d);
}

int main(void) {
    snprintf(base, sizeof base, "/tmp/fanotify-guest-%d", getpid());
    if (mkdir(base, 0755) != 0 || mount("none", base, "tmpfs", 0, "size=64m") != 0) {
        NOTE("setup failed: %s", errno_name(errno));
        return 1;
    }
    touch("file");
    bad_arguments();
    file_mark();
    dir_mark();
    mount_mark();
    fid_events();
    permission_events();
    overflow();
    umount(base);
    rmdir(base);
    return guest_done();
}
