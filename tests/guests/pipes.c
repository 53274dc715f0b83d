// SPDX-License-Identifier: Apache-2.0
//
// pipe and pipe2: data, end of file, EPIPE, O_NONBLOCK, O_CLOEXEC, capacity, FIONREAD.
//
// There is only one process (no fork yet), so both ends are used by the guest itself.

#include "guest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static void test_basics(void) {
    NOTE("pipe");
    int p[2] = {-1, -1};
    EXPECT_OK(pipe(p));
    EXPECT_EQ(p[0], 3);
    EXPECT_EQ(p[1], 4);
    struct stat st;
    EXPECT_OK(fstat(p[0], &st));
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    EXPECT_EQ(st.st_size, 0);
    struct stat st1;
    EXPECT_OK(fstat(p[1], &st1));
    CHECK("both ends are one pipe inode", st.st_ino == st1.st_ino && st.st_dev == st1.st_dev);
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
    EXPECT_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
    EXPECT_EQ(fcntl(p[0], F_GETFD), 0);

    EXPECT_EQ(write(p[1], "abc", 3), 3);
    EXPECT_EQ(write(p[1], "defgh", 5), 5);
    char buf[64];
    // A read returns what is there, up to the count, across writes.
    EXPECT_EQ(read(p[0], buf, 2), 2);
    EXPECT_MEMEQ(buf, "ab", 2);
    EXPECT_EQ(read(p[0], buf, sizeof buf), 6);
    EXPECT_MEMEQ(buf, "cdefgh", 6);
    EXPECT_EQ(write(p[1], "", 0), 0);
    EXPECT_ERRNO(read(p[1], buf, 1), EBADF);
    EXPECT_ERRNO(write(p[0], "x", 1), EBADF);

    // Closing the write end turns an empty pipe into end of file.
    EXPECT_EQ(write(p[1], "last", 4), 4);
    EXPECT_OK(close(p[1]));
    EXPECT_EQ(read(p[0], buf, sizeof buf), 4);
    EXPECT_EQ(read(p[0], buf, sizeof buf), 0);
    EXPECT_OK(close(p[0]));

    // Writing with no reader: EPIPE (SIGPIPE is ignored, so it does not kill us).
    EXPECT_TRUE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    EXPECT_OK(pipe(p));
    EXPECT_OK(close(p[0]));
    EXPECT_ERRNO(write(p[1], "x", 1), EPIPE);
    EXPECT_OK(close(p[1]));
}

static void test_pipe2(void) {
    NOTE("pipe2");
    int p[2];
    EXPECT_OK(pipe2(p, O_NONBLOCK));
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    EXPECT_EQ(fcntl(p[1], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
    char buf[4096];
    EXPECT_ERRNO(read(p[0], buf, 1), EAGAIN);
    int avail = -1;
    EXPECT_OK(ioctl(p[0], FIONREAD, &avail));
    EXPECT_EQ(avail, 0);

    // Fill it: the default capacity is 16 pages.
    memset(buf, 'x', sizeof buf);
    long total = 0, n;
    while ((n = write(p[1], buf, sizeof buf)) > 0) {
        total += n;
    }
    EXPECT_ERRNO(write(p[1], buf, sizeof buf), EAGAIN);
    EXPECT_ERRNO(write(p[1], buf, 1), EAGAIN);
    EXPECT_EQ(total, 65536);
    EXPECT_OK(ioctl(p[0], FIONREAD, &avail));
    EXPECT_EQ(avail, 65536);
    // Drain it.
    long drained = 0;
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
        drained += n;
    }
    EXPECT_ERRNO(read(p[0], buf, 1), EAGAIN);
    EXPECT_EQ(drained, 65536);
    // Non-blocking with the write end closed: end of file, not EAGAIN.
    EXPECT_OK(close(p[1]));
    EXPECT_EQ(read(p[0], buf, 1), 0);
    EXPECT_OK(close(p[0]));

    EXPECT_OK(pipe2(p, O_CLOEXEC));
    EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));

    EXPECT_OK(pipe2(p, 0));
    // Blocking mode switched on later with F_SETFL.
    EXPECT_OK(fcntl(p[0], F_SETFL, O_NONBLOCK));
    EXPECT_ERRNO(read(p[0], buf, 1), EAGAIN);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));

    EXPECT_ERRNO(pipe2(p, O_RDWR), EINVAL);
    EXPECT_ERRNO(pipe2(p, 0x12345678), EINVAL);
    EXPECT_ERRNO(pipe2(p, O_APPEND), EINVAL);
}

static void test_big_transfer(void) {
    NOTE("data integrity across many writes");
    int p[2];
    EXPECT_OK(pipe2(p, O_NONBLOCK));
    static unsigned char out[60000], in[60000];
    for (size_t i = 0; i < sizeof out; i++) {
        out[i] = (unsigned char)(i * 7 + i / 251);
    }
    size_t off = 0;
    int ok = 1;
    for (size_t chunk = 1; off < sizeof out; chunk = chunk * 3 + 1) {
        size_t len = chunk;
        if (len > sizeof out - off) {
            len = sizeof out - off;
        }
        if (write(p[1], out + off, len) != (ssize_t)len) {
            ok = 0;
            break;
        }
        off += len;
    }
    CHECK("60000 bytes written in growing chunks", ok);
    size_t got = 0;
    ssize_t n;
    while ((n = read(p[0], in + got, 1000)) > 0) {
        got += n;
    }
    EXPECT_EQ(got, sizeof in);
    EXPECT_MEMEQ(in, out, sizeof in);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));
}

// Bad buffers: EFAULT, and nothing lost or half-queued; a buffer that faults part-way.
static void test_bad_buffers(void) {
    NOTE("bad buffers");
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(write(p[1], (void *)8, 16), EFAULT);
    int n = -1;
    EXPECT_OK(ioctl(p[0], FIONREAD, &n));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(write(p[1], "abcdef", 6), 6);
    EXPECT_ERRNO(read(p[0], (void *)8, 6), EFAULT);
    char buf[16] = {0};
    EXPECT_EQ(read(p[0], buf, sizeof buf), 6);
    EXPECT_MEMEQ(buf, "abcdef", 6);
    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap", page != MAP_FAILED);
    EXPECT_OK(munmap(page + 4096, 4096));
    memset(page, 'y', 4096);
    // A write whose buffer ends in a hole takes what could be read, or fails (as natively).
    ssize_t w = write(p[1], page + 4096 - 100, 1000);
    printf("# part-way write: %zd\n", w);
    EXPECT_OK(ioctl(p[0], FIONREAD, &n));
    printf("# queued: %d\n", n);
    close(p[0]);
    close(p[1]);
    munmap(page, 4096);
}

int main(void) {
    test_bad_buffers();
    test_basics();
    test_pipe2();
    test_big_transfer();
    return guest_done();
}
