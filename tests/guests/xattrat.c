// SPDX-License-Identifier: Apache-2.0
//
// The *xattrat calls of Linux 6.13 (setxattrat, getxattrat, listxattrat, removexattrat):
// struct xattr_args and its size rules, AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH. Raw syscalls:
// glibc has no wrappers yet.
//
// Natively it works in a fresh directory made with mkdtemp under /tmp and removes it at the
// end; in the sandbox /tmp is the sandbox's own tmpfs.

#include "guest.h"

#include <fcntl.h>
#include <sys/xattr.h>
struct xattr_args {
    uint64_t value;
    uint32_t size;
    uint32_t flags;
};

int main(void) {
    char dir[] = "/tmp/xattrat.XXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0) return 2;
    int fd = EXPECT_OK(open("f", O_CREAT | O_RDWR, 0644));
    EXPECT_OK(symlink("f", "l"));
    char v[] = "value", buf[64] = {0};
    struct xattr_args a = {(uintptr_t)v, 5, 0};
    EXPECT_OK(syscall(463, AT_FDCWD, "f", 0, "user.a", &a, sizeof a));
    a.flags = XATTR_CREATE;
    EXPECT_ERRNO(syscall(463, AT_FDCWD, "f", 0, "user.a", &a, sizeof a), EEXIST);
    EXPECT_ERRNO(syscall(463, AT_FDCWD, "f", 0x4, "user.a", &a, sizeof a), EINVAL);
    EXPECT_ERRNO(syscall(463, AT_FDCWD, "f", 0, "user.a", &a, 8), EINVAL);
    EXPECT_ERRNO(syscall(463, AT_FDCWD, "f", 0, "user.a", &a, 8192), E2BIG);
    struct { struct xattr_args a; uint64_t extra; } big = {{(uintptr_t)v, 5, 0}, 1};
    EXPECT_ERRNO(syscall(463, AT_FDCWD, "f", 0, "user.b", &big, sizeof big), E2BIG);
    big.extra = 0;
    EXPECT_OK(syscall(463, AT_FDCWD, "f", 0, "user.b", &big, sizeof big));
    EXPECT_ERRNO(syscall(463, AT_FDCWD, "l", AT_SYMLINK_NOFOLLOW, "user.a", &a, sizeof a), EPERM);
    struct xattr_args g = {(uintptr_t)buf, sizeof buf, 0};
    EXPECT_EQ(syscall(464, AT_FDCWD, "l", 0, "user.a", &g, sizeof g), 5);
    EXPECT_MEMEQ(buf, "value", 5);
    EXPECT_EQ(syscall(464, fd, "", AT_EMPTY_PATH, "user.b", &g, sizeof g), 5);
    EXPECT_ERRNO(syscall(464, fd, "", 0, "user.b", &g, sizeof g), ENOENT);
    g.flags = 1;
    EXPECT_ERRNO(syscall(464, AT_FDCWD, "f", 0, "user.a", &g, sizeof g), EINVAL);
    g.flags = 0; g.size = 2;
    EXPECT_ERRNO(syscall(464, AT_FDCWD, "f", 0, "user.a", &g, sizeof g), ERANGE);
    g.size = 0;
    EXPECT_EQ(syscall(464, AT_FDCWD, "f", 0, "user.a", &g, sizeof g), 5);
    EXPECT_ERRNO(syscall(464, AT_FDCWD, "f", 0, "user.zz", &g, sizeof g), ENODATA);
    long n = syscall(465, AT_FDCWD, "f", 0, buf, sizeof buf);
    EXPECT_EQ(n, 14);
    EXPECT_EQ(syscall(465, fd, NULL, AT_EMPTY_PATH, NULL, 0), 14);
    EXPECT_ERRNO(syscall(465, AT_FDCWD, "f", 0x4, buf, sizeof buf), EINVAL);
    EXPECT_OK(syscall(466, AT_FDCWD, "f", 0, "user.a"));
    EXPECT_ERRNO(syscall(466, AT_FDCWD, "f", 0, "user.a"), ENODATA);
    EXPECT_OK(syscall(466, fd, "", AT_EMPTY_PATH, "user.b"));
    EXPECT_EQ(syscall(465, AT_FDCWD, "f", 0, buf, sizeof buf), 0);
    EXPECT_ERRNO(syscall(466, 99, "", AT_EMPTY_PATH, "user.b"), EBADF);
    unlink("l");
    unlink("f");
    if (chdir("/") == 0) {
        rmdir(dir);
    }
    return guest_done();
}
