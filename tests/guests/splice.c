// SPDX-License-Identifier: Apache-2.0
//
// splice, tee and vmsplice: file to pipe and pipe to file with and without offsets, pipe to
// pipe, tee without consuming, vmsplice in and out, SPLICE_F_NONBLOCK, end of file, EPIPE, and
// the errnos for bad descriptors, offsets on pipes, O_APPEND and non-pipes.
//
// Natively it works in a fresh directory made with mkdtemp under /tmp and removes it at the
// end; in the sandbox /tmp is the sandbox's own tmpfs.

#include "guest.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/uio.h>

static void test_file_pipe(void) {
    NOTE("file to pipe and back");
    int f = EXPECT_OK(open("src", O_CREAT | O_RDWR | O_TRUNC, 0644));
    EXPECT_EQ(write(f, "0123456789", 10), 10);
    int p[2];
    EXPECT_OK(pipe(p));
    // With an offset: the file position stays, the offset moves.
    loff_t off = 2;
    EXPECT_EQ(splice(f, &off, p[1], NULL, 3, 0), 3);
    EXPECT_EQ(off, 5);
    EXPECT_EQ(lseek(f, 0, SEEK_CUR), 10);
    // Without: from the file position.
    EXPECT_OK(lseek(f, 7, SEEK_SET));
    EXPECT_EQ(splice(f, NULL, p[1], NULL, 100, SPLICE_F_MORE | SPLICE_F_MOVE), 3);
    EXPECT_EQ(lseek(f, 0, SEEK_CUR), 10);
    // At end of file: 0.
    EXPECT_EQ(splice(f, NULL, p[1], NULL, 100, 0), 0);
    off = 100;
    EXPECT_EQ(splice(f, &off, p[1], NULL, 100, 0), 0);

    // Pipe to a file at an offset, then at the position.
    int g = EXPECT_OK(open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644));
    off = 4;
    EXPECT_EQ(splice(p[0], NULL, g, &off, 2, 0), 2);
    EXPECT_EQ(off, 6);
    EXPECT_EQ(lseek(g, 0, SEEK_CUR), 0);
    EXPECT_EQ(splice(p[0], NULL, g, NULL, 100, 0), 4);
    EXPECT_EQ(lseek(g, 0, SEEK_CUR), 4);
    char buf[16] = {0};
    EXPECT_EQ(pread(g, buf, sizeof buf, 0), 6);
    EXPECT_MEMEQ(buf, "4789" "23", 6);
    // An empty pipe: EAGAIN without waiting, 0 once no writer is left.
    EXPECT_ERRNO(splice(p[0], NULL, g, NULL, 10, SPLICE_F_NONBLOCK), EAGAIN);
    EXPECT_OK(close(p[1]));
    EXPECT_EQ(splice(p[0], NULL, g, NULL, 10, 0), 0);
    EXPECT_OK(close(p[0]));

    // A full pipe: EAGAIN; no reader: EPIPE.
    EXPECT_OK(pipe(p));
    EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
    char big[4096];
    memset(big, 'b', sizeof big);
    EXPECT_EQ(write(p[1], big, sizeof big), 4096);
    off = 0;
    EXPECT_ERRNO(splice(f, &off, p[1], NULL, 10, SPLICE_F_NONBLOCK), EAGAIN);
    EXPECT_OK(close(p[0]));
    EXPECT_TRUE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    EXPECT_ERRNO(splice(f, &off, p[1], NULL, 10, 0), EPIPE);
    EXPECT_TRUE(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    EXPECT_OK(close(p[1]));
    EXPECT_OK(close(f));
    EXPECT_OK(close(g));
}

static void test_errors(void) {
    NOTE("splice errors");
    int p[2], q[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(q));
    int f = EXPECT_OK(open("src", O_RDONLY));
    int w = EXPECT_OK(open("dst", O_WRONLY));
    int a = EXPECT_OK(open("dst", O_WRONLY | O_APPEND));
    loff_t off = 0;
    EXPECT_EQ(splice(99, NULL, p[1], NULL, 0, 0), 0);
    EXPECT_ERRNO(splice(f, NULL, p[1], NULL, 1, 0x100), EINVAL);
    EXPECT_ERRNO(splice(99, NULL, p[1], NULL, 1, 0), EBADF);
    EXPECT_ERRNO(splice(p[0], NULL, 99, NULL, 1, 0), EBADF);
    EXPECT_ERRNO(splice(w, NULL, p[1], NULL, 1, 0), EBADF);
    EXPECT_ERRNO(splice(f, NULL, p[0], NULL, 1, 0), EBADF);
    EXPECT_ERRNO(splice(p[0], &off, w, NULL, 1, 0), ESPIPE);
    EXPECT_ERRNO(splice(f, NULL, p[1], &off, 1, 0), ESPIPE);
    EXPECT_ERRNO(splice(f, NULL, w, NULL, 1, 0), EINVAL);
    EXPECT_ERRNO(splice(p[0], NULL, a, NULL, 1, 0), EINVAL);
    EXPECT_ERRNO(splice(p[0], NULL, p[1], NULL, 1, 0), EINVAL);
    off = -1;
    EXPECT_ERRNO(splice(f, &off, p[1], NULL, 1, 0), EINVAL);
    EXPECT_ERRNO(splice(f, (loff_t *)8, p[1], NULL, 1, 0), EFAULT);
    int d = EXPECT_OK(open(".", O_RDONLY | O_DIRECTORY));
    EXPECT_ERRNO(splice(d, NULL, p[1], NULL, 1, 0), EINVAL);
    EXPECT_OK(close(d));

    NOTE("tee errors");
    EXPECT_ERRNO(tee(p[0], q[1], 1, 0x100), EINVAL);
    EXPECT_EQ(tee(p[0], q[1], 0, 0), 0);
    EXPECT_ERRNO(tee(f, q[1], 1, 0), EINVAL);
    EXPECT_ERRNO(tee(p[0], w, 1, 0), EINVAL);
    EXPECT_ERRNO(tee(p[0], p[1], 1, 0), EINVAL);
    EXPECT_ERRNO(tee(p[1], q[1], 1, 0), EBADF);
    EXPECT_ERRNO(tee(99, q[1], 1, 0), EBADF);

    NOTE("vmsplice errors");
    char c = 'c';
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    EXPECT_ERRNO(vmsplice(99, &iov, 1, 0), EBADF);
    EXPECT_ERRNO(vmsplice(f, &iov, 1, 0), EBADF);
    EXPECT_ERRNO(vmsplice(p[1], &iov, IOV_MAX + 1, 0), EINVAL);
    EXPECT_ERRNO(vmsplice(p[1], &iov, 1, 0x100), EINVAL);
    EXPECT_ERRNO(vmsplice(p[1], (struct iovec *)8, 1, 0), EFAULT);
    struct iovec bad = {.iov_base = (void *)8, .iov_len = 1};
    EXPECT_ERRNO(vmsplice(p[1], &bad, 1, 0), EFAULT);
    EXPECT_EQ(vmsplice(p[1], &iov, 0, 0), 0);
    int fds[] = {p[0], p[1], q[0], q[1], f, w, a};
    for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        close(fds[i]);
    }
}

static void test_pipes(void) {
    NOTE("pipe to pipe, tee, vmsplice");
    int p[2], q[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(pipe(q));
    char a[] = "hello ", b[] = "world";
    struct iovec in[2] = {{a, 6}, {b, 5}};
    EXPECT_EQ(vmsplice(p[1], in, 2, 0), 11);
    // tee copies without consuming.
    EXPECT_EQ(tee(p[0], q[1], 5, 0), 5);
    EXPECT_EQ(tee(p[0], q[1], 100, SPLICE_F_NONBLOCK), 11);
    char buf[32] = {0};
    EXPECT_EQ(read(q[0], buf, sizeof buf), 16);
    EXPECT_MEMEQ(buf, "hellohello world", 16);
    // splice consumes.
    EXPECT_EQ(splice(p[0], NULL, q[1], NULL, 6, 0), 6);
    // And back: "hel" goes behind "world".
    EXPECT_EQ(tee(q[0], p[1], 3, 0), 3);
    char out1[3], out2[20];
    struct iovec o[2] = {{out1, 3}, {out2, 20}};
    memset(out2, 0, sizeof out2);
    EXPECT_EQ(vmsplice(p[0], o, 2, 0), 8);
    EXPECT_MEMEQ(out1, "wor", 3);
    EXPECT_MEMEQ(out2, "ldhel", 5);
    EXPECT_EQ(read(q[0], buf, sizeof buf), 6);
    EXPECT_MEMEQ(buf, "hello ", 6);
    // Empty: EAGAIN, then end of file.
    EXPECT_ERRNO(vmsplice(p[0], o, 2, SPLICE_F_NONBLOCK), EAGAIN);
    EXPECT_ERRNO(tee(p[0], q[1], 1, SPLICE_F_NONBLOCK), EAGAIN);
    EXPECT_ERRNO(splice(p[0], NULL, q[1], NULL, 1, SPLICE_F_NONBLOCK), EAGAIN);
    EXPECT_OK(close(p[1]));
    EXPECT_EQ(vmsplice(p[0], o, 2, 0), 0);
    EXPECT_EQ(tee(p[0], q[1], 1, 0), 0);
    EXPECT_EQ(splice(p[0], NULL, q[1], NULL, 1, 0), 0);
    EXPECT_OK(close(p[0]));
    // A full pipe: vmsplice puts in what fits, then EAGAIN.
    EXPECT_EQ(fcntl(q[1], F_SETPIPE_SZ, 4096), 4096);
    // Page-aligned: Linux puts whole user pages into the pipe's one slot.
    static char big[8192] __attribute__((aligned(4096)));
    struct iovec bi = {big, sizeof big};
    EXPECT_EQ(vmsplice(q[1], &bi, 1, 0), 4096);
    EXPECT_ERRNO(vmsplice(q[1], &bi, 1, SPLICE_F_NONBLOCK), EAGAIN);
    EXPECT_OK(close(q[0]));
    EXPECT_OK(close(q[1]));
}

int main(void) {
    char dir[] = "/tmp/splice.XXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
        perror("mkdtemp");
        return 2;
    }
    test_file_pipe();
    test_errors();
    test_pipes();
    unlink("src");
    unlink("dst");
    if (chdir("/") == 0) {
        rmdir(dir);
    }
    return guest_done();
}
