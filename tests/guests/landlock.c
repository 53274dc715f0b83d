// SPDX-License-Identifier: Apache-2.0
//
// Landlock (issue 14): landlock_create_ruleset, landlock_add_rule and landlock_restrict_self,
// their errnos, and what a domain denies: file hierarchies (read-only, exec, make/remove,
// REFER across directories, truncate, device ioctls), stacked layers, inheritance by fork and
// across execve, TCP ports, and the signal and abstract-unix-socket scopes. Each restriction
// is made in a child, since it cannot be undone; the child reports through its exit status
// and its own transcript lines.

#include "guest.h"

#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

// linux/landlock.h of ABI 7, spelled here: the build machine's headers may be older.
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_CREATE_RULESET_ERRATA (1U << 1)
#define LL_RESTRICT_SELF_LOG_SUBDOMAINS_OFF (1U << 2)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

static char base[64];

static long create(const void *attr, size_t size, unsigned flags) {
    return syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static long add_rule(int fd, int type, const void *attr, unsigned flags) {
    return syscall(SYS_landlock_add_rule, fd, type, attr, flags);
}

static long restrict_self(int fd, unsigned flags) {
    return syscall(SYS_landlock_restrict_self, fd, flags);
}

static const char *p(const char *rel) {
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", base, rel);
    return buf[i];
}

static void touch(const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, "data", 4) != 4) {
            perror("write");
        }
        close(fd);
    }
}

// A ruleset handling `fs` (and `net`, `scoped`).
static int ruleset(uint64_t fs, uint64_t net, uint64_t scoped) {
    struct ll_ruleset_attr a = {
        .handled_access_fs = fs,
        .handled_access_net = net,
        .scoped = scoped,
    };
    return (int)create(&a, sizeof a, 0);
}

static int allow_path(int rs, const char *path, uint64_t access) {
    struct ll_path_beneath_attr pb = {.allowed_access = access};
    pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
    int r = (int)add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0);
    int e = errno;
    close(pb.parent_fd);
    errno = e;
    return r;
}

static int allow_port(int rs, uint64_t port, uint64_t access) {
    struct ll_net_port_attr np = {.allowed_access = access, .port = port};
    return (int)add_rule(rs, LL_RULE_NET_PORT, &np, 0);
}

static int enforce(int rs) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int r = (int)restrict_self(rs, 0);
    close(rs);
    return r;
}

// Runs `fn` in a child; returns its exit status (or 128 + signal).
static int in_child(void (*fn)(void)) {
    fflush(stdout);
    int failed = guest_failures;
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        fflush(stdout);
        _exit(guest_failures == failed ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// The child's checks are numbered after the parent's.
#define CHILD(fn) CHECK(#fn " passes in a child", in_child(fn) == 0)

static void version(void) {
    NOTE("version and errata");
    EXPECT_EQ(create(NULL, 0, LL_CREATE_RULESET_VERSION), 7);
    CHECK("errata are reported", create(NULL, 0, LL_CREATE_RULESET_ERRATA) >= 0);
    struct ll_ruleset_attr a = {.handled_access_fs = LL_FS_READ_FILE};
    EXPECT_ERRNO(create(&a, 0, LL_CREATE_RULESET_VERSION), EINVAL);
    EXPECT_ERRNO(create(NULL, sizeof a, LL_CREATE_RULESET_VERSION), EINVAL);
    EXPECT_ERRNO(create(NULL, 0, 3), EINVAL);
    EXPECT_ERRNO(create(NULL, 0, 4), EINVAL);
}

static void create_errors(void) {
    NOTE("landlock_create_ruleset errors");
    struct ll_ruleset_attr a = {.handled_access_fs = LL_FS_READ_FILE};
    EXPECT_ERRNO(create(NULL, sizeof a, 0), EFAULT);
    EXPECT_ERRNO(create((void *)8, sizeof a, 0), EFAULT);
    EXPECT_ERRNO(create(&a, 7, 0), EINVAL);
    EXPECT_ERRNO(create(&a, 4097, 0), E2BIG);
    char big[64] = {0};
    memcpy(big, &a, sizeof a);
    int fd = EXPECT_OK((int)create(big, sizeof big, 0));
    close(fd);
    fd = EXPECT_OK((int)create(&a, 8, 0));
    close(fd);
    big[40] = 1;
    EXPECT_ERRNO(create(big, sizeof big, 0), E2BIG);
    a.handled_access_fs = 1ULL << 16;
    EXPECT_ERRNO(create(&a, sizeof a, 0), EINVAL);
    a.handled_access_fs = 0;
    a.handled_access_net = 4;
    EXPECT_ERRNO(create(&a, sizeof a, 0), EINVAL);
    a.handled_access_net = 0;
    a.scoped = 4;
    EXPECT_ERRNO(create(&a, sizeof a, 0), EINVAL);
    a.scoped = 0;
    EXPECT_ERRNO(create(&a, sizeof a, 0), ENOMSG);
    a.scoped = LL_SCOPE_SIGNAL;
    fd = EXPECT_OK((int)create(&a, sizeof a, 0));
    CHECK("a ruleset fd is close-on-exec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK("a ruleset fd is read-write", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
    char link[64] = {0}, proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (readlink(proc, link, sizeof link - 1) < 0) {
        link[0] = 0;
    }
    EXPECT_STREQ(link, "anon_inode:[landlock-ruleset]");
    char c;
    EXPECT_ERRNO(read(fd, &c, 1), EINVAL);
    EXPECT_ERRNO(write(fd, &c, 1), EINVAL);
    close(fd);
}

static void add_rule_errors(void) {
    NOTE("landlock_add_rule errors");
    int rs = ruleset(LL_FS_READ_FILE | LL_FS_READ_DIR, 0, 0);
    struct ll_path_beneath_attr pb = {
        .allowed_access = LL_FS_READ_FILE,
        .parent_fd = open(base, O_PATH),
    };
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 1), EINVAL);
    EXPECT_ERRNO(add_rule(-1, LL_RULE_PATH_BENEATH, &pb, 0), EBADF);
    // An O_PATH descriptor is no descriptor to fdget; another file is not a ruleset.
    EXPECT_ERRNO(add_rule(pb.parent_fd, LL_RULE_PATH_BENEATH, &pb, 0), EBADF);
    int dir = open(base, O_RDONLY | O_DIRECTORY);
    EXPECT_ERRNO(add_rule(dir, LL_RULE_PATH_BENEATH, &pb, 0), EBADFD);
    EXPECT_ERRNO(restrict_self(dir, 0), EBADFD);
    close(dir);
    EXPECT_ERRNO(add_rule(rs, 0, &pb, 0), EINVAL);
    EXPECT_ERRNO(add_rule(rs, 3, &pb, 0), EINVAL);
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, NULL, 0), EFAULT);
    pb.allowed_access = 0;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0), ENOMSG);
    pb.allowed_access = LL_FS_EXECUTE;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0), EINVAL);
    pb.allowed_access = LL_FS_READ_FILE;
    EXPECT_OK(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0));
    EXPECT_OK(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0));
    int dirfd = pb.parent_fd;
    pb.parent_fd = -1;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0), EBADF);
    int fds[2];
    if (pipe(fds) == 0) {
        pb.parent_fd = fds[0];
        EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0), EBADFD);
        close(fds[0]);
        close(fds[1]);
    }
    pb.parent_fd = rs;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0), EBADFD);
    // A file takes only the rights that make sense on a file.
    touch(p("file"));
    pb.parent_fd = open(p("file"), O_PATH);
    pb.allowed_access = LL_FS_READ_DIR;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0), EINVAL);
    pb.allowed_access = LL_FS_READ_FILE;
    EXPECT_OK(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0));
    close(pb.parent_fd);
    // Port rules on a ruleset without network rights.
    struct ll_net_port_attr np = {.allowed_access = LL_NET_BIND_TCP, .port = 80};
    EXPECT_ERRNO(add_rule(rs, LL_RULE_NET_PORT, &np, 0), EINVAL);
    close(rs);
    rs = ruleset(0, LL_NET_BIND_TCP, 0);
    EXPECT_OK(add_rule(rs, LL_RULE_NET_PORT, &np, 0));
    np.port = 65536;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_NET_PORT, &np, 0), EINVAL);
    np.port = 80;
    np.allowed_access = 0;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_NET_PORT, &np, 0), ENOMSG);
    np.allowed_access = LL_NET_CONNECT_TCP;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_NET_PORT, &np, 0), EINVAL);
    EXPECT_ERRNO(add_rule(rs, LL_RULE_NET_PORT, NULL, 0), EFAULT);
    pb.parent_fd = dirfd;
    pb.allowed_access = LL_FS_READ_FILE;
    EXPECT_ERRNO(add_rule(rs, LL_RULE_PATH_BENEATH, &pb, 0), EINVAL);
    close(rs);
    close(dirfd);
}

static void restrict_errors_child(void) {
    int rs = ruleset(LL_FS_EXECUTE, 0, 0);
    int file = open(base, O_RDONLY | O_DIRECTORY);
    EXPECT_ERRNO(restrict_self(rs, 8), EINVAL);
    EXPECT_ERRNO(restrict_self(-1, 0), EBADF);
    EXPECT_ERRNO(restrict_self(file, 0), EBADFD);
    EXPECT_OK(restrict_self(-1, LL_RESTRICT_SELF_LOG_SUBDOMAINS_OFF));
    EXPECT_ERRNO(restrict_self(-1, LL_RESTRICT_SELF_LOG_SUBDOMAINS_OFF | 1), EBADF);
    int ok = 0;
    for (int i = 0; i < 16; i++) {
        ok += restrict_self(rs, 0) == 0;
    }
    EXPECT_EQ(ok, 16);
    EXPECT_ERRNO(restrict_self(rs, 0), E2BIG);
    close(rs);
    close(file);
}

static void restrict_eperm_child(void) {
    // Without no_new_privs nor CAP_SYS_ADMIN: EPERM.
    int rs = ruleset(LL_FS_EXECUTE, 0, 0);
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2];
    syscall(SYS_capget, &hdr, data);
    data[0].effective &= ~(1U << 21);
    EXPECT_OK(syscall(SYS_capset, &hdr, data));
    EXPECT_ERRNO(restrict_self(rs, 0), EPERM);
    EXPECT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    EXPECT_OK(restrict_self(rs, 0));
    close(rs);
}

static void read_only_child(void) {
    uint64_t handled = LL_FS_READ_FILE | LL_FS_WRITE_FILE |
                       LL_FS_READ_DIR | LL_FS_MAKE_REG;
    int rs = ruleset(handled, 0, 0);
    EXPECT_OK(allow_path(rs, p("ro"), LL_FS_READ_FILE | LL_FS_READ_DIR));
    EXPECT_OK(enforce(rs));
    int fd = EXPECT_OK(open(p("ro/f"), O_RDONLY));
    char buf[8];
    EXPECT_EQ(read(fd, buf, sizeof buf), 4);
    close(fd);
    EXPECT_ERRNO(open(p("ro/f"), O_WRONLY), EACCES);
    EXPECT_ERRNO(open(p("ro/f"), O_RDWR), EACCES);
    EXPECT_ERRNO(open(p("ro/new"), O_CREAT | O_RDONLY, 0644), EACCES);
    fd = EXPECT_OK(open(p("ro/sub"), O_RDONLY | O_DIRECTORY));
    close(fd);
    EXPECT_OK(open(p("ro/sub/g"), O_RDONLY));
    EXPECT_ERRNO(open(p("out/f"), O_RDONLY), EACCES);
    EXPECT_ERRNO(open(base, O_RDONLY | O_DIRECTORY), EACCES);
    // O_PATH is no access, stat neither.
    EXPECT_OK(open(p("out/f"), O_PATH));
    struct stat st;
    EXPECT_OK(stat(p("out/f"), &st));
    // The rule went with the ruleset's handled rights: exec is not handled.
    EXPECT_OK(access(p("ro/f"), R_OK));
}

static void exec_child(void) {
    int rs = ruleset(LL_FS_EXECUTE, 0, 0);
    EXPECT_OK(allow_path(rs, p("ro"), LL_FS_EXECUTE));
    EXPECT_OK(enforce(rs));
    char *argv[] = {"true", NULL};
    char *envp[] = {NULL};
    EXPECT_ERRNO(execve("/bin/true", argv, envp), EACCES);
    // Reading is not handled.
    int fd = EXPECT_OK(open("/bin/true", O_RDONLY));
    close(fd);
}

static void exec_allowed_child(void) {
    int rs = ruleset(LL_FS_EXECUTE | LL_FS_READ_FILE, 0, 0);
    EXPECT_OK(allow_path(rs, "/", LL_FS_EXECUTE | LL_FS_READ_FILE));
    EXPECT_OK(enforce(rs));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {"true", NULL};
        char *envp[] = {NULL};
        execve("/bin/true", argv, envp);
        _exit(99);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("/bin/true runs under a rule on / granting EXECUTE and READ_FILE",
          WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void make_remove_child(void) {
    uint64_t handled = LL_FS_MAKE_DIR | LL_FS_MAKE_REG |
                       LL_FS_MAKE_SYM | LL_FS_MAKE_FIFO |
                       LL_FS_MAKE_SOCK | LL_FS_REMOVE_FILE |
                       LL_FS_REMOVE_DIR;
    int rs = ruleset(handled, 0, 0);
    EXPECT_OK(allow_path(rs, p("w"), LL_FS_MAKE_REG | LL_FS_REMOVE_FILE));
    EXPECT_OK(enforce(rs));
    int fd = EXPECT_OK(open(p("w/new"), O_CREAT | O_WRONLY, 0644));
    close(fd);
    EXPECT_OK(unlink(p("w/new")));
    EXPECT_OK(mknod(p("w/node"), S_IFREG | 0644, 0));
    EXPECT_OK(unlink(p("w/node")));
    EXPECT_ERRNO(mkdir(p("w/d"), 0755), EACCES);
    EXPECT_ERRNO(symlink("x", p("w/l")), EACCES);
    EXPECT_ERRNO(mkfifo(p("w/fifo"), 0644), EACCES);
    EXPECT_ERRNO(rmdir(p("w/keep")), EACCES);
    EXPECT_ERRNO(open(p("out/new"), O_CREAT | O_WRONLY, 0644), EACCES);
    EXPECT_ERRNO(unlink(p("out/f")), EACCES);
    // Existing files open as before: opening is not handled.
    fd = EXPECT_OK(open(p("out/f"), O_RDWR));
    close(fd);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", p("w/sock"));
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&un, sizeof un), EACCES);
    close(s);
}

static void refer_child(void) {
    uint64_t handled = LL_FS_READ_FILE | LL_FS_WRITE_FILE |
                       LL_FS_REFER | LL_FS_MAKE_REG |
                       LL_FS_REMOVE_FILE;
    uint64_t mv = LL_FS_MAKE_REG | LL_FS_REMOVE_FILE |
                  LL_FS_READ_FILE;
    int rs = ruleset(handled, 0, 0);
    EXPECT_OK(allow_path(rs, p("ra"), mv | LL_FS_REFER));
    EXPECT_OK(allow_path(rs, p("rb"), mv | LL_FS_REFER));
    EXPECT_OK(allow_path(rs, p("rc"), mv));
    EXPECT_OK(allow_path(rs, p("rd"), mv | LL_FS_REFER | LL_FS_WRITE_FILE));
    EXPECT_OK(allow_path(rs, p("re"), LL_FS_REFER));
    EXPECT_OK(enforce(rs));
    EXPECT_OK(rename(p("ra/f"), p("rb/f")));
    EXPECT_ERRNO(rename(p("rb/f"), p("rc/f")), EXDEV);
    EXPECT_ERRNO(rename(p("rc/g"), p("rb/g")), EXDEV);
    EXPECT_OK(rename(p("rc/g"), p("rc/h")));
    EXPECT_OK(rename(p("rb/f"), p("ra/f")));
    EXPECT_OK(link(p("ra/f"), p("rb/l")));
    EXPECT_ERRNO(link(p("ra/f"), p("rc/l")), EXDEV);
    // The destination would grant WRITE_FILE, which the source does not.
    EXPECT_ERRNO(rename(p("ra/f"), p("rd/f")), EXDEV);
    // Missing MAKE_REG at the destination is EACCES.
    EXPECT_ERRNO(rename(p("ra/f"), p("re/f")), EACCES);
    // Moving to where it has fewer rights is fine.
    EXPECT_OK(rename(p("rd/w"), p("ra/w")));
    // An exchange checks both ways.
    EXPECT_OK(syscall(SYS_renameat2, AT_FDCWD, p("ra/f"), AT_FDCWD, p("rb/l"), RENAME_EXCHANGE));
    EXPECT_ERRNO(syscall(SYS_renameat2, AT_FDCWD, p("ra/f"), AT_FDCWD, p("rd/x"), RENAME_EXCHANGE),
                 EXDEV);
    // A directory moves with what is under it.
    EXPECT_OK(rename(p("ra/sub"), p("rb/sub")));
    EXPECT_ERRNO(rename(p("rb/sub"), p("rd/sub")), EXDEV);
    EXPECT_ERRNO(rename(p("ra/f"), p("out/f2")), EACCES);
}

static void refer_abi1_child(void) {
    // A ruleset that does not handle REFER still denies reparenting.
    int rs = ruleset(LL_FS_READ_FILE, 0, 0);
    EXPECT_OK(allow_path(rs, base, LL_FS_READ_FILE));
    EXPECT_OK(enforce(rs));
    EXPECT_ERRNO(rename(p("ra/f"), p("rb/f")), EXDEV);
    EXPECT_OK(rename(p("ra/f"), p("ra/f1")));
    EXPECT_OK(rename(p("ra/f1"), p("ra/f")));
}

static void truncate_child(void) {
    uint64_t rw = LL_FS_READ_FILE | LL_FS_WRITE_FILE;
    int before = open(p("t/f"), O_WRONLY);
    int rs = ruleset(rw | LL_FS_TRUNCATE, 0, 0);
    EXPECT_OK(allow_path(rs, p("t"), rw));
    EXPECT_OK(allow_path(rs, p("t2"), rw | LL_FS_TRUNCATE));
    EXPECT_OK(enforce(rs));
    EXPECT_ERRNO(truncate(p("t/f"), 0), EACCES);
    EXPECT_ERRNO(open(p("t/f"), O_WRONLY | O_TRUNC), EACCES);
    int fd = EXPECT_OK(open(p("t/f"), O_WRONLY));
    EXPECT_ERRNO(ftruncate(fd, 0), EACCES);
    close(fd);
    EXPECT_OK(ftruncate(before, 1));
    EXPECT_OK(truncate(p("t2/f"), 1));
    fd = EXPECT_OK(open(p("t2/f"), O_WRONLY | O_TRUNC));
    EXPECT_OK(ftruncate(fd, 2));
    close(fd);
    // A new file is not truncated: O_TRUNC asks nothing of it.
    fd = EXPECT_OK(open(p("t/new"), O_CREAT | O_WRONLY | O_TRUNC, 0644));
    close(fd);
}

static void stacking_child(void) {
    int rs = ruleset(LL_FS_READ_FILE, 0, 0);
    EXPECT_OK(allow_path(rs, base, LL_FS_READ_FILE));
    EXPECT_OK(enforce(rs));
    int fd = EXPECT_OK(open(p("s1/f"), O_RDONLY));
    close(fd);
    fd = EXPECT_OK(open(p("s2/f"), O_RDONLY));
    close(fd);
    rs = ruleset(LL_FS_READ_FILE | LL_FS_WRITE_FILE, 0, 0);
    EXPECT_OK(allow_path(rs, p("s1"), LL_FS_READ_FILE | LL_FS_WRITE_FILE));
    EXPECT_OK(enforce(rs));
    fd = EXPECT_OK(open(p("s1/f"), O_RDONLY));
    close(fd);
    EXPECT_ERRNO(open(p("s2/f"), O_RDONLY), EACCES);
    // The first layer does not handle writing, the second grants it under s1 only.
    fd = EXPECT_OK(open(p("s1/f"), O_WRONLY));
    close(fd);
    EXPECT_ERRNO(open(p("s2/f"), O_WRONLY), EACCES);
    // A third layer granting everything under base takes nothing back from the second.
    rs = ruleset(LL_FS_READ_FILE, 0, 0);
    EXPECT_OK(allow_path(rs, base, LL_FS_READ_FILE));
    EXPECT_OK(enforce(rs));
    EXPECT_ERRNO(open(p("s2/f"), O_RDONLY), EACCES);
}

static void fork_child(void) {
    int rs = ruleset(LL_FS_WRITE_FILE, 0, 0);
    EXPECT_OK(allow_path(rs, p("s1"), LL_FS_WRITE_FILE));
    EXPECT_OK(enforce(rs));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(p("s2/f"), O_WRONLY);
        _exit(fd < 0 && errno == EACCES ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("a forked child keeps the domain", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pid = fork();
    if (pid == 0) {
        // Across execve: the guest itself, asked to check.
        char *argv[] = {"landlock", "exec-check", base, NULL};
        char *envp[] = {NULL};
        execve("/proc/self/exe", argv, envp);
        _exit(98);
    }
    waitpid(pid, &st, 0);
    CHECK("an executed program keeps the domain", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int exec_check(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/s2/f", dir);
    int fd = open(path, O_WRONLY);
    if (fd >= 0 || errno != EACCES) {
        return 1;
    }
    snprintf(path, sizeof path, "%s/s1/f", dir);
    fd = open(path, O_WRONLY);
    return fd >= 0 ? 0 : 2;
}

static void ioctl_child(void) {
    int before = open("/dev/null", O_RDONLY);
    int rs = ruleset(LL_FS_IOCTL_DEV, 0, 0);
    EXPECT_OK(allow_path(rs, base, LL_FS_IOCTL_DEV));
    EXPECT_OK(enforce(rs));
    int fd = EXPECT_OK(open("/dev/null", O_RDONLY));
    struct termios tio;
    int n;
    EXPECT_ERRNO(ioctl(fd, TCGETS, &tio), EACCES);
    EXPECT_ERRNO(ioctl(fd, FIONREAD, &n), EACCES);
    EXPECT_OK(ioctl(fd, FIOCLEX));
    EXPECT_OK(ioctl(fd, FIONCLEX));
    n = 0;
    EXPECT_OK(ioctl(fd, FIONBIO, &n));
    // Opened before: not restricted (the device's own answer).
    EXPECT_ERRNO(ioctl(before, TCGETS, &tio), ENOTTY);
    // Not a device: not restricted.
    int f = open(p("out/f"), O_RDONLY);
    EXPECT_OK(ioctl(f, FIONREAD, &n));
    close(f);
    close(fd);
    close(before);
}

static void mount_child(void) {
    int rs = ruleset(LL_FS_READ_FILE, 0, 0);
    EXPECT_OK(enforce(rs));
    EXPECT_ERRNO(mount("none", p("m"), "tmpfs", 0, NULL), EPERM);
}

static int listener(int *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 8);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return s;
}

static int tcp_port;

static int try_tcp(int port, int do_connect) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int r = do_connect ? connect(s, (struct sockaddr *)&a, sizeof a)
                       : bind(s, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    close(s);
    errno = e;
    return r;
}

static void tcp_child(void) {
    int rs = ruleset(0, LL_NET_BIND_TCP | LL_NET_CONNECT_TCP, 0);
    EXPECT_OK(allow_port(rs, tcp_port, LL_NET_CONNECT_TCP));
    EXPECT_OK(allow_port(rs, 0, LL_NET_BIND_TCP));
    EXPECT_OK(enforce(rs));
    EXPECT_OK(try_tcp(tcp_port, 1));
    EXPECT_ERRNO(try_tcp(tcp_port == 65535 ? 1 : tcp_port + 1, 1), EACCES);
    EXPECT_OK(try_tcp(0, 0));
    EXPECT_ERRNO(try_tcp(tcp_port, 0), EACCES);
    // UDP is not restricted.
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(tcp_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_OK(connect(u, (struct sockaddr *)&a, sizeof a));
    close(u);
    // Short addresses.
    int s = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERRNO(connect(s, (struct sockaddr *)&a, 1), EINVAL);
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, 8), EINVAL);
    close(s);
}

static void signal_child(void) {
    pid_t parent = getppid();
    int rs = ruleset(0, 0, LL_SCOPE_SIGNAL);
    EXPECT_OK(enforce(rs));
    EXPECT_ERRNO(kill(parent, 0), EPERM);
    EXPECT_ERRNO(kill(parent, SIGCONT), EPERM);
    union sigval v = {0};
    EXPECT_ERRNO(sigqueue(parent, SIGCONT, v), EPERM);
    int pidfd = (int)syscall(SYS_pidfd_open, parent, 0);
    EXPECT_ERRNO(syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0), EPERM);
    close(pidfd);
    EXPECT_OK(kill(getpid(), 0));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    EXPECT_OK(kill(pid, SIGKILL));
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("the child in the same domain was killed", WIFSIGNALED(st));
}

static pid_t main_pid;

// An abstract address unique to this run (native runs share the host's abstract namespace).
static socklen_t abstract_addr(struct sockaddr_un *un, const char *tag) {
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    int n = snprintf(un->sun_path + 1, sizeof un->sun_path - 1, "landlock-guest-%s-%d", tag,
                     (int)main_pid);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int abstract_connect(void) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un;
    socklen_t len = abstract_addr(&un, "stream");
    int r = connect(s, (struct sockaddr *)&un, len);
    int e = errno;
    close(s);
    errno = e;
    return r;
}


static int abstract_send(void) {
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un un;
    socklen_t len = abstract_addr(&un, "dgram");
    int r = (int)sendto(s, "x", 1, 0, (struct sockaddr *)&un, len);
    int e = errno;
    close(s);
    errno = e;
    return r;
}

static void abstract_scoped_child(void) {
    int rs = ruleset(0, 0, LL_SCOPE_ABSTRACT_UNIX_SOCKET);
    EXPECT_OK(enforce(rs));
    EXPECT_ERRNO(abstract_connect(), EPERM);
    EXPECT_ERRNO(abstract_send(), EPERM);
    // A socket pair and a socket of its own domain are fine.
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int own = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un un;
    socklen_t len = abstract_addr(&un, "own");
    EXPECT_OK(bind(own, (struct sockaddr *)&un, len));
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    EXPECT_EQ(sendto(s, "x", 1, 0, (struct sockaddr *)&un, len), 1);
    close(s);
    close(own);
}

static void abstract_fs_child(void) {
    // Other rights do not scope sockets.
    int rs = ruleset(LL_FS_READ_FILE, 0, LL_SCOPE_SIGNAL);
    EXPECT_OK(enforce(rs));
    EXPECT_OK(abstract_connect());
}

static void setup(void) {
    snprintf(base, sizeof base, "/tmp/landlock-guest-XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    const char *dirs[] = {"ro", "ro/sub", "out", "w", "w/keep", "ra", "ra/sub", "rb", "rc", "rd", "re",
                          "t", "t2", "s1", "s2", "m"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        mkdir(p(dirs[i]), 0755);
    }
    const char *files[] = {"ro/f", "ro/sub/g", "out/f", "ra/f", "ra/sub/f", "rc/g", "rd/w", "rd/x", "t/f", "t2/f",
                           "s1/f", "s2/f"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        touch(p(files[i]));
    }
}

static void cleanup(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0) {
        perror("rm");
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "exec-check") == 0) {
        return exec_check(argv[2]);
    }
    main_pid = getpid();
    setup();
    version();
    create_errors();
    add_rule_errors();
    NOTE("landlock_restrict_self errors");
    CHILD(restrict_errors_child);
    CHILD(restrict_eperm_child);
    NOTE("a read-only hierarchy");
    CHILD(read_only_child);
    NOTE("exec");
    CHILD(exec_child);
    CHILD(exec_allowed_child);
    NOTE("making and removing");
    CHILD(make_remove_child);
    NOTE("REFER: renames and links across directories");
    CHILD(refer_child);
    CHILD(refer_abi1_child);
    NOTE("truncate");
    CHILD(truncate_child);
    NOTE("stacked layers");
    CHILD(stacking_child);
    NOTE("inheritance by fork and across execve");
    CHILD(fork_child);
    NOTE("device ioctls");
    CHILD(ioctl_child);
    NOTE("mounts");
    CHILD(mount_child);
    NOTE("TCP ports");
    int l = listener(&tcp_port);
    CHILD(tcp_child);
    close(l);
    NOTE("the signal scope");
    CHILD(signal_child);
    NOTE("the abstract unix socket scope");
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un;
    socklen_t un_len = abstract_addr(&un, "stream");
    EXPECT_OK(bind(srv, (struct sockaddr *)&un, un_len));
    EXPECT_OK(listen(srv, 8));
    int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
    un_len = abstract_addr(&un, "dgram");
    EXPECT_OK(bind(dg, (struct sockaddr *)&un, un_len));
    CHILD(abstract_scoped_child);
    CHILD(abstract_fs_child);
    close(srv);
    close(dg);
    cleanup();
    return guest_done();
}
