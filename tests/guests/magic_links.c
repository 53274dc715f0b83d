// SPDX-License-Identifier: Apache-2.0
//
// /proc/self/fd/N as Linux's "magic links": opening one reopens the open file itself (a pipe,
// a deleted file, a memfd), not whatever its text names; readlink shows " (deleted)" for an
// unlinked file; openat2's RESOLVE_NO_MAGICLINKS refuses them.

#include "guest.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int reopen(int fd, int flags) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    return open(link, flags, 0644);
}

static void test_pipe(void) {
    NOTE("a pipe reopened through its link");
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_EQ(write(p[1], "hi", 2), 2);
    int r = EXPECT_OK(reopen(p[0], O_RDONLY));
    char buf[8] = {0};
    EXPECT_EQ(read(r, buf, sizeof buf), 2);
    EXPECT_STREQ(buf, "hi");
    struct stat a, b;
    EXPECT_OK(fstat(p[0], &a));
    EXPECT_OK(fstat(r, &b));
    CHECK("the same pipe", a.st_ino == b.st_ino && S_ISFIFO(b.st_mode));
    close(r);
    close(p[0]);
    close(p[1]);
}

static void test_deleted(void) {
    NOTE("a deleted file reopened through its link");
    char path[] = "/tmp/magic-XXXXXX";
    int fd = EXPECT_OK(mkstemp(path));
    EXPECT_EQ(write(fd, "kept", 4), 4);
    EXPECT_OK(unlink(path));
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    EXPECT_GT(n, 0);
    target[n > 0 ? n : 0] = 0;
    char want[300];
    snprintf(want, sizeof want, "%s (deleted)", path);
    EXPECT_STREQ(target, want);
    int r = EXPECT_OK(reopen(fd, O_RDONLY));
    char buf[8] = {0};
    EXPECT_EQ(read(r, buf, sizeof buf), 4);
    EXPECT_STREQ(buf, "kept");
    CHECK("no file appears under the old name", access(path, F_OK) != 0);
    close(r);
    close(fd);
}

static void test_memfd(void) {
    NOTE("a memfd reopened with O_CREAT|O_TRUNC");
    int fd = EXPECT_OK(memfd_create("magic", 0));
    EXPECT_EQ(write(fd, "12345", 5), 5);
    int r = EXPECT_OK(reopen(fd, O_RDWR | O_CREAT | O_TRUNC));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 0);
    CHECK("no file named after the memfd", access("/memfd:magic (deleted)", F_OK) != 0);
    EXPECT_EQ(write(r, "ab", 2), 2);
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 2);
    close(r);
    close(fd);
}

static void test_resolve(void) {
    NOTE("openat2 and magic links");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_NO_MAGICLINKS};
    EXPECT_ERRNO(syscall(SYS_openat2, AT_FDCWD, link, &how, sizeof how), ELOOP);
    how.resolve = 0;
    int r = EXPECT_OK(syscall(SYS_openat2, AT_FDCWD, link, &how, sizeof how));
    struct stat a, b;
    EXPECT_OK(fstat(fd, &a));
    EXPECT_OK(fstat(r, &b));
    CHECK("the same file", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    close(r);
    // A directory's link leads on into the directory.
    int d = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    char p[96];
    snprintf(p, sizeof p, "/proc/self/fd/%d/passwd", d);
    EXPECT_OK(access(p, R_OK));
    close(d);
    close(fd);
}

int main(void) {
    test_pipe();
    test_deleted();
    test_memfd();
    test_resolve();
    return guest_done();
}
