// SPDX-License-Identifier: Apache-2.0
//
// AF_UNIX buffer limits: SO_SNDBUF and SO_RCVBUF (doubled, with their minimums), where
// non-blocking sends meet EAGAIN (a stream or datagram sender is bounded by its send buffer,
// counting each queued buffer's whole allocation), SIOCOUTQ, and a blocked writer resuming.
// The exact counts are those of Linux on x86_64 with 4 KiB pages.

#include "guest.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

static char big[1 << 20];

// Non-blocking sends of `size` bytes on a fresh pair of `type` until EAGAIN: how many
// succeeded, the bytes queued and SIOCOUTQ.
static void fill(int type, int sndbuf, int size, int *sends, long *bytes, int *outq) {
    int sv[2];
    *sends = -1;
    if (socketpair(AF_UNIX, type | SOCK_NONBLOCK, 0, sv) != 0) {
        return;
    }
    if (sndbuf > 0) {
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    *sends = 0;
    *bytes = 0;
    ssize_t n;
    while (*sends < 100000 && (n = send(sv[0], big, size, 0)) >= 0) {
        (*sends)++;
        *bytes += n;
        if (size == 0 && type == SOCK_STREAM) {
            break;
        }
    }
    if (errno != EAGAIN && !(size == 0 && type == SOCK_STREAM)) {
        *sends = -2;
    }
    ioctl(sv[0], SIOCOUTQ, outq);
    close(sv[0]);
    close(sv[1]);
}

static void test_options(void) {
    NOTE("SO_SNDBUF and SO_RCVBUF");
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    int v = -1;
    socklen_t l = sizeof v;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l));
    EXPECT_EQ(v, 212992);
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l));
    EXPECT_EQ(v, 212992);
    v = 10000;
    EXPECT_OK(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l));
    EXPECT_EQ(v, 20000);
    v = 1;
    EXPECT_OK(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l));
    EXPECT_EQ(v, 4608);
    v = 1;
    EXPECT_OK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l));
    EXPECT_EQ(v, 2304);
    EXPECT_ERRNO(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, 2), EINVAL);
    EXPECT_OK(close(s));
}

static void test_stream_limits(void) {
    NOTE("stream: where sends meet EAGAIN");
    int sends, outq;
    long bytes;
    fill(SOCK_STREAM, 0, 1, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 278);
    EXPECT_EQ(outq, 278 * 768);
    fill(SOCK_STREAM, 0, 1000, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 93);
    fill(SOCK_STREAM, 0, 4000, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 44);
    EXPECT_EQ(outq, 214016);
    // 64 KiB writes go in buffers of 36,544 and 28,992 bytes; the last write is cut short.
    fill(SOCK_STREAM, 0, 65536, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 4);
    EXPECT_EQ(bytes, 3 * 65536 + 36544);
    EXPECT_EQ(outq, 4 * 37120 + 3 * 29952);
    fill(SOCK_STREAM, 0, 1 << 20, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 1);
    EXPECT_EQ(bytes, 6 * 36544);
    // A smaller send buffer: smaller buffers, fewer of them.
    fill(SOCK_STREAM, 8192, 1, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 22);
    fill(SOCK_STREAM, 8192, 65536, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 1);
    EXPECT_EQ(bytes, 8128 * 2);
    EXPECT_EQ(outq, 2 * 8960);
    fill(SOCK_STREAM, 0, 0, &sends, &bytes, &outq);
    EXPECT_EQ(outq, 0);

    // A blocked writer resumes once the reader has taken enough.
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        usleep(20000);
        long got = 0;
        ssize_t n;
        while ((n = read(sv[1], big, sizeof big)) > 0) {
            got += n;
        }
        _exit(got == 3 * (1 << 20) ? 0 : 1);
    }
    EXPECT_OK(close(sv[1]));
    long sent = 0;
    for (int i = 0; i < 3; i++) {
        ssize_t n = write(sv[0], big, sizeof big);
        if (n > 0) {
            sent += n;
        }
    }
    EXPECT_EQ(sent, 3 * (1 << 20));
    EXPECT_OK(close(sv[0]));
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_dgram_limits(void) {
    NOTE("datagrams: where sends meet EAGAIN");
    int sends, outq;
    long bytes;
    // A pair is connected both ways: only the sender's buffer limits it.
    fill(SOCK_DGRAM, 0, 0, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 278);
    EXPECT_EQ(outq, 278 * 768);
    fill(SOCK_DGRAM, 0, 3777, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 26);
    EXPECT_EQ(outq, 26 * 8448);
    fill(SOCK_DGRAM, 0, 65536, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 4);
    EXPECT_EQ(outq, 4 * 69888);
    fill(SOCK_DGRAM, 0, 100000, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 3);
    fill(SOCK_SEQPACKET, 0, 16384, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 11);
    EXPECT_EQ(outq, 11 * 20736);
    fill(SOCK_DGRAM, 8192, 1000, &sends, &bytes, &outq);
    EXPECT_EQ(sends, 8);
}

int main(void) {
    test_options();
    test_stream_limits();
    test_dgram_limits();
    return guest_done();
}
