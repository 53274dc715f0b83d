// SPDX-License-Identifier: Apache-2.0
//
// open, openat, close, read, write, pread64, pwrite64, readv, writev, lseek.
//
// The sandbox's root is a read-only view of the host's, so everything written goes to a pipe
// or /dev/null; files are only read.

#include "guest.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>

static char whole[1 << 16];

static void test_open(void) {
    NOTE("open and openat");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    // Only 0, 1 and 2 are open at start: the lowest free number comes next.
    EXPECT_EQ(fd, 3);
    EXPECT_OK(close(fd));
    EXPECT_ERRNO(close(fd), EBADF);
    EXPECT_ERRNO(close(-1), EBADF);
    EXPECT_ERRNO(close(100000), EBADF);

    EXPECT_ERRNO(open("/nonexistent/file", O_RDONLY), ENOENT);
    EXPECT_ERRNO(open("/etc/nonexistent-file-for-sandbox-tests", O_RDONLY), ENOENT);
    EXPECT_ERRNO(open("", O_RDONLY), ENOENT);
    EXPECT_ERRNO(open("/etc/passwd/x", O_RDONLY), ENOTDIR);
    EXPECT_ERRNO(open("/etc/passwd", O_RDONLY | O_DIRECTORY), ENOTDIR);
    // The file exists, so O_EXCL fails before anything could be created (or refused as EROFS).
    EXPECT_ERRNO(open("/etc/passwd", O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    EXPECT_ERRNO(open("/etc", O_WRONLY), EISDIR);
    EXPECT_ERRNO(open("/etc", O_RDWR), EISDIR);

    static char longname[PATH_MAX + 16];
    memset(longname, 'a', sizeof longname - 1);
    longname[0] = '/';
    EXPECT_ERRNO(open(longname, O_RDONLY), ENAMETOOLONG);
    static char longcomponent[NAME_MAX + 8];
    memset(longcomponent, 'b', sizeof longcomponent - 1);
    longcomponent[0] = '/';
    EXPECT_ERRNO(open(longcomponent, O_RDONLY), ENAMETOOLONG);

    // Writable open of a host file: as root the open succeeds (the sandbox's root is an
    // overlay: a write would land in its upper layer), as a user EACCES; we write nothing.
    // The line names the outcome, so the sandbox must give the one Linux gave.
    errno = 0;
    int wfd = open("/etc/passwd", O_WRONLY);
    int werr = errno;
    char wwhat[96];
    snprintf(wwhat, sizeof wwhat, "open(\"/etc/passwd\", O_WRONLY): %s",
             wfd >= 0 ? "opens" : errno_name(werr));
    CHECK(wwhat, wfd >= 0 || werr == EACCES);
    if (wfd >= 0) {
        close(wfd);
    }

    int dir = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    fd = EXPECT_OK(openat(dir, "passwd", O_RDONLY));
    EXPECT_OK(close(fd));
    // An absolute path ignores dirfd, even a bad one.
    fd = EXPECT_OK(openat(-1, "/etc/passwd", O_RDONLY));
    EXPECT_OK(close(fd));
    fd = EXPECT_OK(openat(AT_FDCWD, "/etc/passwd", O_RDONLY));
    EXPECT_ERRNO(openat(-1, "passwd", O_RDONLY), EBADF);
    EXPECT_ERRNO(openat(1000, "passwd", O_RDONLY), EBADF);
    EXPECT_ERRNO(openat(fd, "passwd", O_RDONLY), ENOTDIR);
    EXPECT_ERRNO(openat(dir, "nonexistent", O_RDONLY), ENOENT);
    int parent = EXPECT_OK(openat(dir, "..", O_RDONLY | O_DIRECTORY));
    int again = EXPECT_OK(openat(parent, "etc/passwd", O_RDONLY));
    struct stat a, b;
    EXPECT_OK(fstat(fd, &a));
    EXPECT_OK(fstat(again, &b));
    CHECK("openat(\"..\") then \"etc/passwd\" reaches the same file",
          a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    EXPECT_OK(close(again));
    EXPECT_OK(close(parent));
    EXPECT_OK(close(fd));
    EXPECT_OK(close(dir));
}

static void test_read_write(void) {
    NOTE("read and write");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    // Read the whole file in small pieces; the total must be its size.
    ssize_t total = 0, n;
    while ((n = read(fd, whole + total, 7)) > 0) {
        total += n;
    }
    EXPECT_EQ(n, 0);
    EXPECT_EQ(total, st.st_size);
    EXPECT_EQ(read(fd, whole, sizeof whole), 0);
    EXPECT_EQ(read(fd, whole, 0), 0);
    EXPECT_ERRNO(write(fd, "x", 1), EBADF);
    EXPECT_ERRNO(pwrite(fd, "x", 1, 0), EBADF);

    // One big read returns the same bytes.
    static char again[sizeof whole];
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    EXPECT_EQ(read(fd, again, sizeof again), st.st_size);
    EXPECT_MEMEQ(whole, again, st.st_size);
    EXPECT_OK(close(fd));

    EXPECT_ERRNO(read(fd, whole, 1), EBADF);
    EXPECT_ERRNO(write(fd, "x", 1), EBADF);
    EXPECT_ERRNO(read(-1, whole, 1), EBADF);

    int dir = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    EXPECT_ERRNO(read(dir, whole, sizeof whole), EISDIR);
    EXPECT_ERRNO(pread(dir, whole, sizeof whole, 0), EISDIR);
    EXPECT_ERRNO(write(dir, "x", 1), EBADF);
    EXPECT_OK(close(dir));

    int null = EXPECT_OK(open("/dev/null", O_WRONLY));
    EXPECT_EQ(write(null, "hello", 5), 5);
    EXPECT_EQ(write(null, "", 0), 0);
    EXPECT_ERRNO(read(null, whole, 1), EBADF);
    EXPECT_OK(close(null));
}

static void test_lseek_pread(void) {
    NOTE("lseek, pread64, pwrite64");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(lseek(fd, 0, SEEK_END), st.st_size);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), st.st_size);
    EXPECT_EQ(lseek(fd, -1, SEEK_END), st.st_size - 1);
    EXPECT_EQ(lseek(fd, 5, SEEK_SET), 5);
    EXPECT_EQ(lseek(fd, 3, SEEK_CUR), 8);
    EXPECT_EQ(lseek(fd, -2, SEEK_CUR), 6);
    EXPECT_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
    EXPECT_ERRNO(lseek(fd, -st.st_size - 1, SEEK_END), EINVAL);
    EXPECT_ERRNO(lseek(fd, 0, 42), EINVAL);
    EXPECT_EQ(lseek(fd, 6, SEEK_SET), 6);
    EXPECT_ERRNO(lseek(-1, 0, SEEK_SET), EBADF);
    // Past the end is allowed; reading there gives end of file.
    EXPECT_EQ(lseek(fd, st.st_size + 1000, SEEK_SET), st.st_size + 1000);
    char c;
    EXPECT_EQ(read(fd, &c, 1), 0);

    // pread reads at the given offset and leaves the file offset alone.
    EXPECT_EQ(lseek(fd, 6, SEEK_SET), 6);
    char buf[16], expect[16];
    EXPECT_OK(pread(fd, expect, sizeof expect, 0));
    EXPECT_EQ(pread(fd, buf, 4, 2), 4);
    EXPECT_MEMEQ(buf, expect + 2, 4);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 6);
    EXPECT_EQ(read(fd, buf, 4), 4);
    EXPECT_MEMEQ(buf, expect + 6, 4);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 10);
    EXPECT_EQ(pread(fd, buf, sizeof buf, st.st_size), 0);
    EXPECT_EQ(pread(fd, buf, sizeof buf, st.st_size - 3), 3);
    EXPECT_ERRNO(pread(fd, buf, 1, -1), EINVAL);
    EXPECT_ERRNO(pread(-1, buf, 1, 0), EBADF);
    EXPECT_OK(close(fd));

    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(lseek(p[0], 0, SEEK_SET), ESPIPE);
    EXPECT_ERRNO(lseek(p[1], 0, SEEK_CUR), ESPIPE);
    EXPECT_ERRNO(pread(p[0], buf, 1, 0), ESPIPE);
    EXPECT_ERRNO(pwrite(p[1], "x", 1, 0), ESPIPE);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));

    int null = EXPECT_OK(open("/dev/null", O_RDWR));
    EXPECT_EQ(pwrite(null, "abc", 3, 100), 3);
    EXPECT_EQ(pread(null, buf, sizeof buf, 0), 0);
    EXPECT_ERRNO(pwrite(null, "abc", 3, -1), EINVAL);
    EXPECT_EQ(lseek(null, 123, SEEK_SET), 0);
    EXPECT_OK(close(null));
}

static void test_vectors(void) {
    NOTE("readv and writev");
    int p[2];
    EXPECT_OK(pipe(p));
    char a[] = "Hello", b[] = ", ", c[] = "world!";
    struct iovec out[] = {
        {a, 5},
        {b, 2},
        {NULL, 0},
        {c, 6},
    };
    EXPECT_EQ(writev(p[1], out, 4), 13);
    char x[4], y[3], z[32];
    struct iovec in[] = {
        {x, sizeof x},
        {y, sizeof y},
        {z, sizeof z},
    };
    EXPECT_EQ(readv(p[0], in, 3), 13);
    EXPECT_MEMEQ(x, "Hell", 4);
    EXPECT_MEMEQ(y, "o, ", 3);
    EXPECT_MEMEQ(z, "world!", 6);
    EXPECT_EQ(writev(p[1], out, 0), 0);
    EXPECT_ERRNO(syscall(SYS_writev, p[1], out, -1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_writev, p[1], out, IOV_MAX + 1), EINVAL);
    EXPECT_ERRNO(readv(p[1], in, 3), EBADF);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));

    // readv of a file fills the buffers in order.
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    char expect[16];
    EXPECT_EQ(pread(fd, expect, sizeof expect, 0), sizeof expect);
    char f1[5], f2[11];
    struct iovec fin[] = {{f1, sizeof f1}, {f2, sizeof f2}};
    EXPECT_EQ(readv(fd, fin, 2), 16);
    EXPECT_MEMEQ(f1, expect, 5);
    EXPECT_MEMEQ(f2, expect + 5, 11);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 16);
    EXPECT_OK(close(fd));
}

// Linux's pwrite on an O_APPEND file appends, whatever the offset (pwrite(2), BUGS), and
// leaves the file position alone.
static void test_pwrite_append(void) {
    NOTE("pwrite on an O_APPEND file");
    int fd = EXPECT_OK(memfd_create("append", 0));
    EXPECT_EQ(write(fd, "abc", 3), 3);
    EXPECT_OK(fcntl(fd, F_SETFL, O_APPEND));
    EXPECT_EQ(lseek(fd, 1, SEEK_SET), 1);
    EXPECT_EQ(pwrite(fd, "X", 1, 0), 1);
    char b[8] = {0};
    EXPECT_EQ(pread(fd, b, sizeof b, 0), 4);
    EXPECT_MEMEQ(b, "abcX", 4);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 1);
    close(fd);
}

int main(void) {
    test_pwrite_append();
    test_open();
    test_read_write();
    test_lseek_pread();
    test_vectors();
    return guest_done();
}
