// SPDX-License-Identifier: Apache-2.0
//
// fstat, stat, lstat, newfstatat, statx, access, faccessat, faccessat2, readlink, readlinkat.
//
// Inode numbers, devices and times may be virtual in the sandbox: they are compared between
// calls, never printed. Modes and sizes are the host file's own and must be the same.

#include "guest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

static int same_stat(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_mode == b->st_mode &&
           a->st_size == b->st_size && a->st_nlink == b->st_nlink && a->st_uid == b->st_uid &&
           a->st_gid == b->st_gid;
}

static void test_stat_agree(const char *path) {
    NOTE("stat family agrees on %s", path);
    struct stat s, f, l, at, empty;
    EXPECT_OK(stat(path, &s));
    int fd = EXPECT_OK(open(path, O_RDONLY));
    EXPECT_OK(fstat(fd, &f));
    EXPECT_OK(lstat(path, &l));
    EXPECT_OK(syscall(SYS_newfstatat, AT_FDCWD, path, &at, 0));
    EXPECT_OK(syscall(SYS_newfstatat, fd, "", &empty, AT_EMPTY_PATH));
    CHECK("stat == fstat", same_stat(&s, &f));
    CHECK("stat == lstat (not a symlink)", same_stat(&s, &l));
    CHECK("stat == newfstatat", same_stat(&s, &at));
    CHECK("stat == newfstatat(fd, \"\", AT_EMPTY_PATH)", same_stat(&s, &empty));

    struct statx x;
    memset(&x, 0, sizeof x);
    EXPECT_OK(syscall(SYS_statx, AT_FDCWD, path, 0, STATX_BASIC_STATS, &x));
    CHECK("statx reports the basic stats", (x.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
    CHECK("statx ino == stat ino", x.stx_ino == s.st_ino);
    CHECK("statx size == stat size", (off_t)x.stx_size == s.st_size);
    CHECK("statx mode == stat mode", x.stx_mode == s.st_mode);
    CHECK("statx nlink == stat nlink", x.stx_nlink == s.st_nlink);
    CHECK("statx uid/gid == stat uid/gid", x.stx_uid == s.st_uid && x.stx_gid == s.st_gid);
    CHECK("statx dev == stat dev", makedev(x.stx_dev_major, x.stx_dev_minor) == s.st_dev);
    CHECK("statx blocks == stat blocks", (blkcnt_t)x.stx_blocks == s.st_blocks);
    CHECK("statx mtime == stat mtime", x.stx_mtime.tv_sec == s.st_mtim.tv_sec &&
                                           x.stx_mtime.tv_nsec == (uint32_t)s.st_mtim.tv_nsec);

    struct statx xf;
    memset(&xf, 0, sizeof xf);
    EXPECT_OK(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &xf));
    CHECK("statx(fd, AT_EMPTY_PATH) ino == stat ino", xf.stx_ino == s.st_ino);
    EXPECT_OK(close(fd));
}

static void test_stat_values(void) {
    NOTE("stat values");
    struct stat st;
    EXPECT_OK(stat("/etc/passwd", &st));
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_GT(st.st_size, 0);
    EXPECT_GE(st.st_nlink, 1);
    EXPECT_GT(st.st_blksize, 0);
    EXPECT_OK(stat("/", &st));
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_OK(stat("/etc", &st));
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_GE(st.st_nlink, 2);
    EXPECT_OK(stat("/dev/null", &st));
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_OK(stat("/usr/bin/", &st));
    EXPECT_TRUE(S_ISDIR(st.st_mode));

    struct stat root, dotdot;
    EXPECT_OK(stat("/", &root));
    EXPECT_OK(stat("/..", &dotdot));
    CHECK("/.. is /", root.st_ino == dotdot.st_ino && root.st_dev == dotdot.st_dev);
    struct stat etc, etc2;
    EXPECT_OK(stat("/etc", &etc));
    EXPECT_OK(stat("/usr/../etc/./", &etc2));
    CHECK("/usr/../etc/./ is /etc", etc.st_ino == etc2.st_ino && etc.st_dev == etc2.st_dev);

    EXPECT_ERRNO(stat("/nonexistent", &st), ENOENT);
    EXPECT_ERRNO(stat("", &st), ENOENT);
    EXPECT_ERRNO(stat("/etc/passwd/", &st), ENOTDIR);
    EXPECT_ERRNO(stat("/etc/passwd/x", &st), ENOTDIR);
    EXPECT_ERRNO(lstat("/nonexistent/x", &st), ENOENT);
    EXPECT_ERRNO(fstat(-1, &st), EBADF);
    EXPECT_ERRNO(fstat(999, &st), EBADF);
    EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", &st, 0x12345678), EINVAL);
    EXPECT_ERRNO(syscall(SYS_newfstatat, 999, "passwd", &st, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_newfstatat, AT_FDCWD, "", &st, 0), ENOENT);

    int etcfd = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    struct stat rel, abs;
    EXPECT_OK(fstatat(etcfd, "passwd", &rel, 0));
    EXPECT_OK(stat("/etc/passwd", &abs));
    CHECK("fstatat(/etc fd, \"passwd\") == stat(/etc/passwd)", same_stat(&rel, &abs));
    int filefd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    EXPECT_ERRNO(fstatat(filefd, "x", &rel, 0), ENOTDIR);
    EXPECT_OK(close(filefd));
    EXPECT_OK(close(etcfd));

    struct statx x;
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, "/nonexistent", 0, STATX_BASIC_STATS, &x), ENOENT);
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, "/etc/passwd", 0x40000000, STATX_BASIC_STATS, &x),
                 EINVAL);
    EXPECT_ERRNO(syscall(SYS_statx, AT_FDCWD, "/etc/passwd", 0, STATX__RESERVED, &x), EINVAL);
}

static void test_symlinks(void) {
    NOTE("symlinks: lstat, readlink, readlinkat");
    char buf[256];
    struct stat l, s;
    // Debian merges /usr: /bin is a symlink to usr/bin.
    if (lstat("/bin", &l) == 0 && S_ISLNK(l.st_mode)) {
        EXPECT_OK(stat("/bin", &s));
        EXPECT_TRUE(S_ISDIR(s.st_mode));
        ssize_t n = EXPECT_OK(readlink("/bin", buf, sizeof buf));
        EXPECT_EQ(n, l.st_size);
        buf[n < 0 ? 0 : n] = '\0';
        EXPECT_STREQ(buf, "usr/bin");
        // A short buffer is filled without a terminator and the length is the amount copied.
        memset(buf, '#', sizeof buf);
        EXPECT_EQ(readlink("/bin", buf, 3), 3);
        EXPECT_MEMEQ(buf, "usr#", 4);
        struct statx x;
        EXPECT_OK(syscall(SYS_statx, AT_FDCWD, "/bin", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
                          &x));
        EXPECT_TRUE(S_ISLNK(x.stx_mode));
        EXPECT_OK(syscall(SYS_statx, AT_FDCWD, "/bin", 0, STATX_BASIC_STATS, &x));
        EXPECT_TRUE(S_ISDIR(x.stx_mode));
        struct stat at;
        EXPECT_OK(fstatat(AT_FDCWD, "/bin", &at, AT_SYMLINK_NOFOLLOW));
        EXPECT_TRUE(S_ISLNK(at.st_mode));
        struct stat sh1, sh2;
        EXPECT_OK(stat("/bin/sh", &sh1));
        EXPECT_OK(stat("/usr/bin/sh", &sh2));
        CHECK("/bin/sh and /usr/bin/sh are the same file", sh1.st_ino == sh2.st_ino);
    } else {
        NOTE("skipped: /bin is not a symlink on this host");
    }
    if (lstat("/etc/os-release", &l) == 0 && S_ISLNK(l.st_mode)) {
        ssize_t n = EXPECT_OK(readlink("/etc/os-release", buf, sizeof buf - 1));
        buf[n < 0 ? 0 : n] = '\0';
        EXPECT_STREQ(buf, "../usr/lib/os-release");
        int etc = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
        char buf2[256];
        ssize_t m = EXPECT_OK(readlinkat(etc, "os-release", buf2, sizeof buf2 - 1));
        buf2[m < 0 ? 0 : m] = '\0';
        EXPECT_STREQ(buf2, buf);
        EXPECT_ERRNO(readlinkat(etc, "passwd", buf2, sizeof buf2), EINVAL);
        EXPECT_OK(close(etc));
        struct stat target, via;
        EXPECT_OK(stat("/usr/lib/os-release", &target));
        EXPECT_OK(stat("/etc/os-release", &via));
        CHECK("stat follows /etc/os-release", target.st_ino == via.st_ino);
    } else {
        NOTE("skipped: /etc/os-release is not a symlink on this host");
    }
    EXPECT_ERRNO(readlink("/etc/passwd", buf, sizeof buf), EINVAL);
    EXPECT_ERRNO(readlink("/etc", buf, sizeof buf), EINVAL);
    EXPECT_ERRNO(readlink("/nonexistent", buf, sizeof buf), ENOENT);
    EXPECT_ERRNO(syscall(SYS_readlink, "/bin", buf, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_readlink, "/bin", buf, -1), EINVAL);
    EXPECT_ERRNO(readlinkat(999, "x", buf, sizeof buf), EBADF);
}

static void test_access(void) {
    NOTE("access, faccessat, faccessat2");
    EXPECT_OK(access("/bin/sh", X_OK));
    EXPECT_OK(access("/bin/sh", R_OK | X_OK));
    EXPECT_OK(access("/etc/passwd", R_OK));
    EXPECT_OK(access("/etc/passwd", F_OK));
    EXPECT_OK(access("/etc", X_OK));
    // Not even root may execute a file with no execute bit.
    EXPECT_ERRNO(access("/etc/passwd", X_OK), EACCES);
    EXPECT_ERRNO(access("/nonexistent", F_OK), ENOENT);
    EXPECT_ERRNO(access("/etc/passwd/x", F_OK), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_access, "/etc/passwd", 0x10), EINVAL);

    // Write access to a host file: root may write it (the sandbox's root is an overlay),
    // another user gets EACCES.
    // The line names the outcome, so the sandbox must give the one Linux gave.
    errno = 0;
    int r = access("/etc/passwd", W_OK);
    int e = errno;
    char what[96];
    snprintf(what, sizeof what, "access(\"/etc/passwd\", W_OK): %s", r == 0 ? "0" : errno_name(e));
    CHECK(what, r == 0 || e == EACCES);

    int etc = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    EXPECT_OK(faccessat(etc, "passwd", R_OK, 0));
    EXPECT_ERRNO(faccessat(etc, "nonexistent", R_OK, 0), ENOENT);
    EXPECT_ERRNO(syscall(SYS_faccessat, 999, "passwd", R_OK), EBADF);
    EXPECT_OK(syscall(SYS_faccessat, AT_FDCWD, "/bin/sh", X_OK));
    EXPECT_OK(syscall(SYS_faccessat2, etc, "passwd", R_OK, 0));
    EXPECT_OK(syscall(SYS_faccessat2, etc, "passwd", R_OK, AT_EACCESS));
    EXPECT_OK(syscall(SYS_faccessat2, AT_FDCWD, "/bin", F_OK, AT_SYMLINK_NOFOLLOW));
    EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", X_OK, 0), EACCES);
    EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, 0x1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_faccessat2, AT_FDCWD, "/etc/passwd", 0x10, 0), EINVAL);
    EXPECT_OK(close(etc));
}

int main(void) {
    test_stat_agree("/etc/passwd");
    test_stat_agree("/usr/include");
    test_stat_values();
    test_symlinks();
    test_access();
    NOTE("statx birth time of a new file");
    {
        struct timespec before, after;
        clock_gettime(CLOCK_REALTIME, &before);
        char bpath[] = "/tmp/file-stat-btime-XXXXXX";
        int bfd = mkstemp(bpath);
        CHECK("mkstemp", bfd >= 0);
        clock_gettime(CLOCK_REALTIME, &after);
        struct statx sx;
        EXPECT_OK(statx(AT_FDCWD, bpath, 0, STATX_BASIC_STATS | STATX_BTIME, &sx));
        CHECK("STATX_BTIME reported", sx.stx_mask & STATX_BTIME);
        long long b = sx.stx_btime.tv_sec * 1000000000LL + sx.stx_btime.tv_nsec;
        long long lo = before.tv_sec * 1000000000LL + before.tv_nsec - 10000000;
        long long hi = after.tv_sec * 1000000000LL + after.tv_nsec + 10000000;
        CHECK("birth time between before and after", b >= lo && b <= hi);
        CHECK("birth time not after mtime",
              b <= sx.stx_mtime.tv_sec * 1000000000LL + sx.stx_mtime.tv_nsec);
        close(bfd);
        unlink(bpath);
    }
    return guest_done();
}
