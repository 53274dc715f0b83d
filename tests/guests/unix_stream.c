// SPDX-License-Identifier: Apache-2.0
//
// AF_UNIX stream sockets through socketpair: data, half-close, EPIPE and SIGPIPE, ECONNRESET,
// MSG_PEEK and SO_PEEK_OFF, MSG_WAITALL, MSG_DONTWAIT, FIONREAD/SIOCINQ/SIOCOUTQ, names.

#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

static void test_basics(void) {
    NOTE("socketpair stream");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    struct stat st;
    EXPECT_OK(fstat(sv[0], &st));
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    int v = -1;
    socklen_t l = sizeof v;
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
    EXPECT_EQ(v, SOCK_STREAM);
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &l));
    EXPECT_EQ(v, AF_UNIX);
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &l));
    EXPECT_EQ(v, 0);
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &l));
    EXPECT_EQ(v, 0);
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l));
    EXPECT_EQ(v, 212992);

    // Unnamed: the name is the family alone.
    struct sockaddr_un a;
    memset(&a, 'x', sizeof a);
    l = sizeof a;
    EXPECT_OK(getsockname(sv[0], (struct sockaddr *)&a, &l));
    EXPECT_EQ(l, 2);
    EXPECT_EQ(a.sun_family, AF_UNIX);
    l = sizeof a;
    EXPECT_OK(getpeername(sv[0], (struct sockaddr *)&a, &l));
    EXPECT_EQ(l, 2);

    // Bytes, in order, regardless of write boundaries.
    EXPECT_EQ(write(sv[0], "hello", 5), 5);
    EXPECT_EQ(send(sv[0], " world", 6, 0), 6);
    char buf[64];
    int n = -1;
    EXPECT_OK(ioctl(sv[1], FIONREAD, &n));
    EXPECT_EQ(n, 11);
    EXPECT_OK(ioctl(sv[1], SIOCINQ, &n));
    EXPECT_EQ(n, 11);
    EXPECT_OK(ioctl(sv[0], SIOCOUTQ, &n));
    CHECK("SIOCOUTQ counts what is queued, in buffer sizes", n >= 11);
    EXPECT_EQ(read(sv[1], buf, 3), 3);
    EXPECT_MEMEQ(buf, "hel", 3);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 8);
    EXPECT_MEMEQ(buf, "lo world", 8);
    EXPECT_OK(ioctl(sv[0], SIOCOUTQ, &n));
    EXPECT_EQ(n, 0);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    // A stream socket takes no destination (connected: EISCONN).
    struct sockaddr_un to = {.sun_family = AF_UNIX, .sun_path = "/nowhere"};
    EXPECT_ERRNO(sendto(sv[0], "x", 1, 0, (struct sockaddr *)&to, sizeof to), EISCONN);
    // Zero bytes: nothing is sent, nothing waits.
    EXPECT_EQ(send(sv[0], "", 0, 0), 0);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));

    // An unconnected stream socket: ENOTCONN to send, EINVAL to receive, 0 to shut down.
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(send(s, "x", 1, 0), ENOTCONN);
    EXPECT_ERRNO(recv(s, buf, 1, 0), EINVAL);
    EXPECT_ERRNO(getpeername(s, (struct sockaddr *)&a, &l), ENOTCONN);
    EXPECT_OK(shutdown(s, SHUT_RDWR));
    EXPECT_ERRNO(shutdown(s, 3), EINVAL);
    EXPECT_OK(close(s));
    EXPECT_ERRNO(socket(AF_UNIX, SOCK_STREAM, 2), EPROTONOSUPPORT);
    EXPECT_ERRNO(socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT);
    s = EXPECT_OK(socket(AF_UNIX, SOCK_RAW, 0));
    l = sizeof v;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
    EXPECT_EQ(v, SOCK_DGRAM);
    EXPECT_OK(close(s));
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    EXPECT_EQ(fcntl(sv[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    EXPECT_EQ(fcntl(sv[1], F_GETFD), FD_CLOEXEC);
    EXPECT_ERRNO(read(sv[0], buf, 1), EAGAIN);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static void test_half_close(void) {
    NOTE("shutdown and close");
    EXPECT_TRUE(signal(SIGPIPE, on_sigpipe) != SIG_ERR);
    int sv[2];
    char buf[64];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "abc", 3), 3);
    EXPECT_OK(shutdown(sv[0], SHUT_WR));
    // The peer reads what was sent, then end of file; it can still write back.
    EXPECT_EQ(read(sv[1], buf, sizeof buf), 3);
    EXPECT_EQ(read(sv[1], buf, sizeof buf), 0);
    EXPECT_EQ(write(sv[1], "back", 4), 4);
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 4);
    // Writing after SHUT_WR: EPIPE and SIGPIPE; MSG_NOSIGNAL: EPIPE alone.
    sigpipes = 0;
    EXPECT_ERRNO(write(sv[0], "x", 1), EPIPE);
    EXPECT_EQ(sigpipes, 1);
    EXPECT_ERRNO(send(sv[0], "x", 1, 0), EPIPE);
    EXPECT_EQ(sigpipes, 2);
    EXPECT_ERRNO(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
    EXPECT_EQ(sigpipes, 2);
    // SHUT_RD on one side stops the other's writes.
    EXPECT_OK(shutdown(sv[0], SHUT_RD));
    EXPECT_ERRNO(send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));

    // The peer closes having read everything: EOF, then EPIPE.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[1], "tail", 4), 4);
    EXPECT_OK(close(sv[1]));
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 4);
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 0);
    sigpipes = 0;
    EXPECT_ERRNO(write(sv[0], "x", 1), EPIPE);
    EXPECT_EQ(sigpipes, 1);
    int err = -1;
    socklen_t l = sizeof err;
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &err, &l));
    EXPECT_EQ(err, 0);
    EXPECT_OK(close(sv[0]));

    // The peer closes with data unread: the survivor reads its own data, then ECONNRESET
    // once, then end of file.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "unread", 6), 6);
    EXPECT_EQ(write(sv[1], "mine", 4), 4);
    EXPECT_OK(close(sv[1]));
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 4);
    EXPECT_ERRNO(read(sv[0], buf, sizeof buf), ECONNRESET);
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "unread", 6), 6);
    EXPECT_OK(close(sv[1]));
    l = sizeof err;
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &err, &l));
    EXPECT_EQ(err, ECONNRESET);
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &err, &l));
    EXPECT_EQ(err, 0);
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_TRUE(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
}

static void test_sigpipe_kills(void) {
    NOTE("SIGPIPE's default action");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_OK(close(sv[1]));
    pid_t pid = fork();
    if (pid == 0) {
        write(sv[0], "x", 1);
        _exit(0);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    CHECK("the writer died of SIGPIPE", WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
    pid = fork();
    if (pid == 0) {
        _exit(send(sv[0], "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE ? 7 : 1);
    }
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    CHECK("MSG_NOSIGNAL: EPIPE alone", WIFEXITED(status) && WEXITSTATUS(status) == 7);
    EXPECT_OK(close(sv[0]));
}

static void test_peek(void) {
    NOTE("MSG_PEEK and SO_PEEK_OFF");
    int sv[2];
    char buf[64];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "abc", 3), 3);
    EXPECT_EQ(write(sv[0], "defg", 4), 4);
    // A peek reads across buffers and takes nothing.
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_PEEK), 7);
    EXPECT_MEMEQ(buf, "abcdefg", 7);
    EXPECT_EQ(recv(sv[1], buf, 2, MSG_PEEK), 2);
    EXPECT_MEMEQ(buf, "ab", 2);
    int off = -7;
    socklen_t l = sizeof off;
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
    EXPECT_EQ(off, -1);
    off = 0;
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
    // With a peek offset, peeks move along; reads move it back.
    EXPECT_EQ(recv(sv[1], buf, 2, MSG_PEEK), 2);
    EXPECT_MEMEQ(buf, "ab", 2);
    EXPECT_EQ(recv(sv[1], buf, 2, MSG_PEEK), 2);
    EXPECT_MEMEQ(buf, "cd", 2);
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
    EXPECT_EQ(off, 4);
    EXPECT_EQ(recv(sv[1], buf, 3, 0), 3);
    EXPECT_MEMEQ(buf, "abc", 3);
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
    EXPECT_EQ(off, 1);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_PEEK), 3);
    EXPECT_MEMEQ(buf, "efg", 3);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 4);
    EXPECT_MEMEQ(buf, "defg", 4);
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
    EXPECT_EQ(off, 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static void test_waitall(void) {
    NOTE("MSG_WAITALL and SO_RCVLOWAT with a writer in another process");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[1]);
        char b[1000];
        memset(b, 'w', sizeof b);
        for (int i = 0; i < 100; i++) {
            if (write(sv[0], b, sizeof b) != (ssize_t)sizeof b) {
                _exit(1);
            }
            if (i % 10 == 0) {
                usleep(1000);
            }
        }
        _exit(0);
    }
    EXPECT_OK(close(sv[0]));
    static char big[100000];
    EXPECT_EQ(recv(sv[1], big, 60000, MSG_WAITALL), 60000);
    int lowat = 30000;
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat));
    ssize_t n = recv(sv[1], big, sizeof big, 0);
    CHECK("SO_RCVLOWAT: a read waits for that many bytes", n >= 30000);
    long total = 60000 + n;
    while ((n = read(sv[1], big, sizeof big)) > 0) {
        total += n;
    }
    EXPECT_EQ(n, 0);
    EXPECT_EQ(total, 100000);
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // MSG_WAITALL ends early at end of file, with what there was.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "short", 5), 5);
    EXPECT_OK(shutdown(sv[0], SHUT_WR));
    EXPECT_EQ(recv(sv[1], big, 100, MSG_WAITALL), 5);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static void test_timeouts(void) {
    NOTE("SO_RCVTIMEO and SO_SNDTIMEO");
    int sv[2];
    char buf[16];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
    EXPECT_OK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    EXPECT_ERRNO(read(sv[0], buf, sizeof buf), EAGAIN);
    EXPECT_OK(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    // Fill the peer, then a timed write gives up with what it sent, or EAGAIN.
    static char big[1 << 20];
    ssize_t n = write(sv[0], big, sizeof big);
    CHECK("a timed write sends part", n > 0 && n < (ssize_t)sizeof big);
    EXPECT_ERRNO(write(sv[0], big, sizeof big), EAGAIN);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static int at_mark(int fd) {
    int v = -1;
    return ioctl(fd, SIOCATMARK, &v) == 0 ? v : -1;
}

static void test_oob(void) {
    NOTE("MSG_OOB");
    int sv[2];
    char buf[16];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
    EXPECT_ERRNO(send(sv[0], "", 0, MSG_OOB), EOPNOTSUPP);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_OOB), EINVAL);
    // The last byte is out of band: reads stop at it, MSG_OOB takes it.
    EXPECT_EQ(send(sv[0], "abc", 3, MSG_OOB), 3);
    struct pollfd p = {.fd = sv[1], .events = POLLIN | POLLPRI};
    EXPECT_EQ(poll(&p, 1, 0), 1);
    EXPECT_EQ(p.revents, POLLIN | POLLPRI);
    int n = -1;
    EXPECT_OK(ioctl(sv[1], FIONREAD, &n));
    EXPECT_EQ(n, 3);
    EXPECT_EQ(at_mark(sv[1]), 0);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 2);
    EXPECT_MEMEQ(buf, "ab", 2);
    EXPECT_EQ(at_mark(sv[1]), 1);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_OOB | MSG_PEEK), 1);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    EXPECT_EQ(recvmsg(sv[1], &m, MSG_OOB), 1);
    EXPECT_EQ(buf[0], 'c');
    EXPECT_EQ(m.msg_flags, MSG_OOB);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_OOB), EINVAL);
    EXPECT_EQ(at_mark(sv[1]), 1);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, 0), EAGAIN);
    EXPECT_EQ(send(sv[0], "de", 2, 0), 2);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 2);
    EXPECT_MEMEQ(buf, "de", 2);
    // Read past without MSG_OOB: the urgent byte is dropped.
    EXPECT_EQ(send(sv[0], "fg", 2, MSG_OOB), 2);
    EXPECT_EQ(send(sv[0], "hi", 2, 0), 2);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 1);
    EXPECT_EQ(buf[0], 'f');
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_PEEK), 2);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 2);
    EXPECT_MEMEQ(buf, "hi", 2);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_OOB), EINVAL);
    // A later out-of-band byte moves the mark; the earlier one becomes ordinary data.
    EXPECT_EQ(send(sv[0], "j", 1, MSG_OOB), 1);
    EXPECT_EQ(send(sv[0], "k", 1, MSG_OOB), 1);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_OOB), 1);
    EXPECT_EQ(buf[0], 'k');
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 1);
    EXPECT_EQ(buf[0], 'j');
    // SO_OOBINLINE: the byte is read in line; MSG_OOB finds nothing.
    int one = 1;
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &one, sizeof one));
    EXPECT_EQ(send(sv[0], "lm", 2, MSG_OOB), 2);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_OOB), EINVAL);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 1);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 1);
    EXPECT_EQ(buf[0], 'm');
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
    // Datagram and seqpacket sockets have none.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    EXPECT_ERRNO(send(sv[0], "x", 1, MSG_OOB), EOPNOTSUPP);
    EXPECT_ERRNO(recv(sv[1], buf, 1, MSG_OOB | MSG_DONTWAIT), EOPNOTSUPP);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

// A buffer the kernel cannot read or write: EFAULT, and nothing is lost or queued.
static void test_bad_buffers(void) {
    NOTE("bad buffers");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_ERRNO(write(sv[0], (void *)8, 16), EFAULT);
    EXPECT_ERRNO(send(sv[0], (void *)8, 16, MSG_NOSIGNAL), EFAULT);
    int n = -1;
    EXPECT_OK(ioctl(sv[1], FIONREAD, &n));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(write(sv[0], "abcdef", 6), 6);
    EXPECT_ERRNO(read(sv[1], (void *)8, 6), EFAULT);
    EXPECT_ERRNO(recv(sv[1], (void *)8, 6, 0), EFAULT);
    char buf[16] = {0};
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), 6);
    EXPECT_MEMEQ(buf, "abcdef", 6);
    // A read whose buffer faults part-way takes what fit before the fault.
    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap", page != MAP_FAILED);
    EXPECT_OK(munmap(page + 4096, 4096));
    static char big[8192];
    memset(big, 'x', sizeof big);
    EXPECT_EQ(write(sv[0], big, sizeof big), (ssize_t)sizeof big);
    ssize_t got = read(sv[1], page + 4096 - 100, 1000);
    CHECK("a read faulting part-way returns a count or EFAULT, as natively", got == -1 || got > 0);
    printf("# part-way read: %zd (%s)\n", got, got < 0 ? strerror(errno) : "bytes");
    close(sv[0]);
    close(sv[1]);
    munmap(page, 4096);
}

int main(void) {
    test_bad_buffers();
    test_basics();
    test_half_close();
    test_sigpipe_kills();
    test_peek();
    test_waitall();
    test_timeouts();
    test_oob();
    return guest_done();
}
