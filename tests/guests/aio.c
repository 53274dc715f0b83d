// SPDX-License-Identifier: Apache-2.0
//
// Linux AIO (issue 14): io_setup limits and errors, io_submit of pwrite/pread/pwritev/preadv/
// fsync with their completions (data, obj, res), submission errors (bad descriptor, access
// mode, reserved fields, opcode, NULL iocb), RWF_NOWAIT on an empty pipe completing with
// -EAGAIN, IOCB_FLAG_RESFD signalling an eventfd, io_getevents (timeouts, min_nr > nr),
// io_pgetevents, io_cancel, io_destroy, a forked child without the context.

#include "guest.h"

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

static long io_setup(unsigned nr, aio_context_t *ctx) { return syscall(SYS_io_setup, nr, ctx); }
static long io_destroy(aio_context_t ctx) { return syscall(SYS_io_destroy, ctx); }
static long io_submit(aio_context_t ctx, long nr, struct iocb **cbs) {
    return syscall(SYS_io_submit, ctx, nr, cbs);
}
static long io_getevents(aio_context_t ctx, long min, long nr, struct io_event *ev,
                         struct timespec *ts) {
    return syscall(SYS_io_getevents, ctx, min, nr, ev, ts);
}

static void prep(struct iocb *cb, int fd, unsigned op, void *buf, size_t n, long long off) {
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_lio_opcode = op;
    cb->aio_buf = (unsigned long)buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
    cb->aio_data = 0x1234 + op;
}

static long aio_nr(void) {
    char b[64] = {0};
    int fd = open("/proc/sys/fs/aio-nr", O_RDONLY);
    if (fd < 0 || read(fd, b, sizeof b - 1) <= 0) {
        return -1;
    }
    close(fd);
    return atol(b);
}

int main(void) {
    aio_context_t ctx = 0;
    NOTE("io_setup");
    EXPECT_ERRNO(io_setup(1, NULL), EFAULT);
    aio_context_t bad = 1;
    EXPECT_ERRNO(io_setup(1, &bad), EINVAL);
    EXPECT_ERRNO(io_setup(0, &ctx), EINVAL);
    EXPECT_ERRNO(io_setup(-1, &ctx), EINVAL);
    EXPECT_ERRNO(io_setup(1 << 30, &ctx), EINVAL);
    char maxb[32] = {0};
    int mfd = open("/proc/sys/fs/aio-max-nr", O_RDONLY);
    EXPECT_GT(read(mfd, maxb, sizeof maxb - 1), 0);
    close(mfd);
    EXPECT_ERRNO(io_setup(atol(maxb) + 1, &ctx), EAGAIN);
    // (aio-nr is the whole host's natively, where other runs of this guest change it too.)
    EXPECT_GE(aio_nr(), 0);
    EXPECT_OK(io_setup(7, &ctx));
    EXPECT_NE(ctx, 0);

    NOTE("pwrite, pread, pwritev, preadv, fsync");
    char path[64];
    snprintf(path, sizeof path, "/tmp/guest-aio-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    struct iocb cb[4], *cbs[4] = {&cb[0], &cb[1], &cb[2], &cb[3]};
    char out[] = "hello, aio";
    prep(&cb[0], fd, IOCB_CMD_PWRITE, out, 10, 0);
    EXPECT_EQ(io_submit(ctx, 1, cbs), 1);
    struct io_event ev[4];
    memset(ev, 0, sizeof ev);
    EXPECT_EQ(io_getevents(ctx, 1, 4, ev, NULL), 1);
    EXPECT_EQ(ev[0].res, 10);
    EXPECT_EQ(ev[0].data, 0x1234 + IOCB_CMD_PWRITE);
    EXPECT_EQ(ev[0].obj, (unsigned long)&cb[0]);
    char in[32] = {0};
    prep(&cb[0], fd, IOCB_CMD_PREAD, in, sizeof in, 7);
    char v1[3] = {0}, v2[4] = {0};
    struct iovec iov[2] = {{v1, 2}, {v2, 3}};
    prep(&cb[1], fd, IOCB_CMD_PREADV, iov, 2, 0);
    prep(&cb[2], fd, IOCB_CMD_FSYNC, NULL, 0, 0);
    EXPECT_EQ(io_submit(ctx, 3, cbs), 3);
    EXPECT_EQ(io_getevents(ctx, 3, 4, ev, NULL), 3);
    EXPECT_EQ(ev[0].res, 3);
    EXPECT_STREQ(in, "aio");
    EXPECT_EQ(ev[1].res, 5);
    EXPECT_STREQ(v1, "he");
    EXPECT_STREQ(v2, "llo");
    EXPECT_EQ(ev[2].res, 0);
    EXPECT_EQ(ev[2].data, 0x1234 + IOCB_CMD_FSYNC);
    struct iovec wiov[2] = {{"ab", 2}, {"cd", 2}};
    prep(&cb[0], fd, IOCB_CMD_PWRITEV, wiov, 2, 20);
    EXPECT_EQ(io_submit(ctx, 1, cbs), 1);
    EXPECT_EQ(io_getevents(ctx, 1, 1, ev, NULL), 1);
    EXPECT_EQ(ev[0].res, 4);
    struct stat st;
    fstat(fd, &st);
    EXPECT_EQ(st.st_size, 24);

    NOTE("submission errors");
    EXPECT_ERRNO(io_submit(ctx, -1, cbs), EINVAL);
    EXPECT_ERRNO(io_submit(0, 1, cbs), EINVAL);
    EXPECT_EQ(io_submit(ctx, 0, cbs), 0);
    EXPECT_ERRNO(io_submit(ctx, 1, (struct iocb **)-1), EFAULT);
    struct iocb *nullcb[1] = {NULL};
    EXPECT_ERRNO(io_submit(ctx, 1, nullcb), EFAULT);
    prep(&cb[0], -1, IOCB_CMD_PREAD, in, 4, 0);
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EBADF);
    int ro = open(path, O_RDONLY);
    prep(&cb[0], ro, IOCB_CMD_PWRITE, out, 4, 0);
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EBADF);
    prep(&cb[0], fd, IOCB_CMD_PREAD, in, 4, 0);
    cb[0].aio_reserved2 = 1;
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EINVAL);
    prep(&cb[0], fd, 42, in, 4, 0);
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EINVAL);
    prep(&cb[0], fd, IOCB_CMD_FSYNC, in, 4, 0);
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EINVAL);
    prep(&cb[0], fd, IOCB_CMD_PREAD, in, 4, 0);
    cb[0].aio_rw_flags = 0x40000000;
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EOPNOTSUPP);
    // A failure after the first request ends the batch: the count so far.
    prep(&cb[0], fd, IOCB_CMD_PREAD, in, 4, 0);
    prep(&cb[1], -1, IOCB_CMD_PREAD, in, 4, 0);
    EXPECT_EQ(io_submit(ctx, 2, cbs), 1);
    EXPECT_EQ(io_getevents(ctx, 1, 4, ev, NULL), 1);
    // A bad buffer fails the request, not the submission.
    prep(&cb[0], fd, IOCB_CMD_PREAD, (void *)8, 4, 0);
    EXPECT_EQ(io_submit(ctx, 1, cbs), 1);
    EXPECT_EQ(io_getevents(ctx, 1, 1, ev, NULL), 1);
    EXPECT_EQ(ev[0].res, -EFAULT);

    NOTE("pipes: RWF_NOWAIT, data, eventfd");
    int p[2];
    EXPECT_OK(pipe(p));
    prep(&cb[0], p[0], IOCB_CMD_PREAD, in, 8, 0);
    cb[0].aio_rw_flags = RWF_NOWAIT;
    EXPECT_EQ(io_submit(ctx, 1, cbs), 1);
    EXPECT_EQ(io_getevents(ctx, 1, 1, ev, NULL), 1);
    EXPECT_EQ(ev[0].res, -EAGAIN);
    EXPECT_EQ(write(p[1], "pipe", 4), 4);
    int efd = eventfd(0, EFD_NONBLOCK);
    prep(&cb[0], p[0], IOCB_CMD_PREAD, in, 8, 99);
    cb[0].aio_flags = IOCB_FLAG_RESFD;
    cb[0].aio_resfd = efd;
    EXPECT_EQ(io_submit(ctx, 1, cbs), 1);
    uint64_t count = 0;
    EXPECT_EQ(read(efd, &count, 8), 8);
    EXPECT_EQ(count, 1);
    EXPECT_EQ(io_getevents(ctx, 1, 1, ev, NULL), 1);
    EXPECT_EQ(ev[0].res, 4);
    // A completion takes the counter past what a write may reach: UINT64_MAX, which poll
    // reports as an error (eventfd_signal, eventfd_poll).
    uint64_t near = UINT64_MAX - 1;
    EXPECT_EQ(write(efd, &near, 8), 8);
    EXPECT_EQ(write(p[1], "more", 4), 4);
    prep(&cb[0], p[0], IOCB_CMD_PREAD, in, 8, 0);
    cb[0].aio_flags = IOCB_FLAG_RESFD;
    cb[0].aio_resfd = efd;
    EXPECT_EQ(io_submit(ctx, 1, cbs), 1);
    EXPECT_EQ(io_getevents(ctx, 1, 1, ev, NULL), 1);
    struct pollfd pe = {efd, POLLIN | POLLOUT, 0};
    EXPECT_EQ(poll(&pe, 1, 0), 1);
    EXPECT_EQ(pe.revents, POLLIN | POLLERR);
    EXPECT_EQ(read(efd, &count, 8), 8);
    CHECK("the counter overflowed to UINT64_MAX", count == UINT64_MAX);
    prep(&cb[0], p[0], IOCB_CMD_PREAD, in, 8, 0);
    cb[0].aio_flags = IOCB_FLAG_RESFD;
    cb[0].aio_resfd = fd;
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EINVAL);

    NOTE("io_getevents, io_pgetevents, io_cancel");
    struct timespec zero = {0, 0}, short_wait = {0, 20 * 1000 * 1000};
    EXPECT_EQ(io_getevents(ctx, 0, 4, ev, &zero), 0);
    EXPECT_EQ(io_getevents(ctx, 1, 4, ev, &short_wait), 0);
    EXPECT_ERRNO(io_getevents(ctx, 2, 1, ev, &zero), EINVAL);
    EXPECT_ERRNO(io_getevents(ctx, -1, 1, ev, &zero), EINVAL);
    EXPECT_ERRNO(io_getevents(0, 0, 1, ev, &zero), EINVAL);
    EXPECT_ERRNO(io_getevents(ctx, 0, 1, ev, (struct timespec *)-1), EFAULT);
    prep(&cb[0], fd, IOCB_CMD_PREAD, in, 4, 0);
    EXPECT_EQ(io_submit(ctx, 1, cbs), 1);
    EXPECT_ERRNO(io_getevents(ctx, 1, 1, (struct io_event *)-1, NULL), EFAULT);
    EXPECT_EQ(syscall(SYS_io_pgetevents, ctx, 1, 1, ev, NULL, NULL), 1);
    EXPECT_ERRNO(syscall(SYS_io_cancel, ctx, NULL, ev), EFAULT);
    EXPECT_ERRNO(syscall(SYS_io_cancel, ctx, &cb[0], ev), EINVAL);

    NOTE("a forked child has no context; io_destroy");
    pid_t pid = fork();
    if (pid == 0) {
        prep(&cb[0], fd, IOCB_CMD_PREAD, in, 4, 0);
        _exit(io_submit(ctx, 1, cbs) == -1 && errno == EINVAL ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_OK(io_destroy(ctx));
    EXPECT_ERRNO(io_destroy(ctx), EINVAL);
    EXPECT_ERRNO(io_submit(ctx, 1, cbs), EINVAL);
    unlink(path);
    return guest_done();
}
