// SPDX-License-Identifier: Apache-2.0
//
// AF_UNIX datagram and seqpacket sockets: message boundaries, MSG_TRUNC (asked and reported),
// zero-length datagrams, connect and disconnect, EPERM, ECONNREFUSED, the receive queue limit,
// EMSGSIZE, and seqpacket end of file and EPIPE without SIGPIPE.

#include "guest.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

// An abstract address unique to this process and `tag`, and its length.
static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "unix_dgram.%d.%s", getpid(), tag);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static void test_boundaries(void) {
    NOTE("datagram boundaries and MSG_TRUNC");
    int sv[2];
    char buf[64];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_EQ(send(sv[0], "one", 3, 0), 3);
    EXPECT_EQ(send(sv[0], "", 0, 0), 0);
    EXPECT_EQ(send(sv[0], "three33", 7, 0), 7);
    int n = -1;
    EXPECT_OK(ioctl(sv[1], FIONREAD, &n));
    EXPECT_EQ(n, 3);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 3);
    EXPECT_MEMEQ(buf, "one", 3);
    // A zero-length datagram is a datagram.
    EXPECT_OK(ioctl(sv[1], FIONREAD, &n));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), 0);
    // Cut to the buffer: the rest is lost; MSG_TRUNC returns the whole length.
    struct iovec iov = {buf, 5};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    EXPECT_EQ(recvmsg(sv[1], &m, MSG_PEEK), 5);
    EXPECT_EQ(m.msg_flags & MSG_TRUNC, MSG_TRUNC);
    EXPECT_EQ(recv(sv[1], buf, 2, MSG_PEEK | MSG_TRUNC), 7);
    EXPECT_EQ(recvmsg(sv[1], &m, 0), 5);
    EXPECT_MEMEQ(buf, "three", 5);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(send(sv[0], "0123456789", 10, 0), 10);
    EXPECT_EQ(recv(sv[1], buf, 4, MSG_TRUNC), 10);
    EXPECT_MEMEQ(buf, "0123", 4);
    EXPECT_EQ(send(sv[0], "abc", 3, 0), 3);
    m.msg_flags = -1;
    iov.iov_len = sizeof buf;
    EXPECT_EQ(recvmsg(sv[1], &m, 0), 3);
    EXPECT_EQ(m.msg_flags, 0);
    // read and write work on a connected pair; a short read truncates silently.
    EXPECT_EQ(write(sv[1], "reply", 5), 5);
    EXPECT_EQ(read(sv[0], buf, 2), 2);
    EXPECT_ERRNO(recv(sv[0], buf, 1, MSG_DONTWAIT), EAGAIN);
    EXPECT_ERRNO(send(sv[0], "x", 1, MSG_OOB), EOPNOTSUPP);

    // SO_PEEK_OFF skips whole datagrams.
    EXPECT_EQ(send(sv[0], "aaaa", 4, 0), 4);
    EXPECT_EQ(send(sv[0], "bbbbbb", 6, 0), 6);
    int off = 0;
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
    EXPECT_EQ(recv(sv[1], buf, 2, MSG_PEEK), 2);
    EXPECT_MEMEQ(buf, "aa", 2);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_PEEK), 2);
    EXPECT_MEMEQ(buf, "aa", 2);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_PEEK), 6);
    EXPECT_MEMEQ(buf, "bbbbbb", 6);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 4);
    socklen_t l = sizeof off;
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
    EXPECT_EQ(off, 6);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 6);
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
    EXPECT_EQ(off, 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static void test_connect(void) {
    NOTE("datagram connect, sendto, disconnect");
    struct sockaddr_un sa, ca, from;
    socklen_t sl = abstract_addr(&sa, "server"), cl = abstract_addr(&ca, "client");
    char buf[64];
    int srv = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_OK(bind(srv, (struct sockaddr *)&sa, sl));
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_ERRNO(send(c, "x", 1, 0), ENOTCONN);
    EXPECT_ERRNO(write(c, "x", 1), ENOTCONN);
    // An unbound sender: the receiver learns no address.
    EXPECT_EQ(sendto(c, "hi", 2, 0, (struct sockaddr *)&sa, sl), 2);
    socklen_t fl = sizeof from;
    memset(&from, 'x', sizeof from);
    EXPECT_EQ(recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 2);
    EXPECT_EQ(fl, 0);
    EXPECT_OK(bind(c, (struct sockaddr *)&ca, cl));
    EXPECT_EQ(sendto(c, "hi", 2, 0, (struct sockaddr *)&sa, sl), 2);
    fl = sizeof from;
    EXPECT_EQ(recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 2);
    EXPECT_EQ(fl, cl);
    EXPECT_MEMEQ(&from, &ca, cl);
    // Wrong addresses.
    struct sockaddr_un bad = sa;
    bad.sun_family = AF_INET;
    EXPECT_ERRNO(sendto(c, "x", 1, 0, (struct sockaddr *)&bad, sl), EINVAL);
    EXPECT_ERRNO(sendto(c, "x", 1, 0, (struct sockaddr *)&sa, 2), EINVAL);
    struct sockaddr_un none;
    socklen_t nl = abstract_addr(&none, "nobody");
    EXPECT_ERRNO(sendto(c, "x", 1, 0, (struct sockaddr *)&none, nl), ECONNREFUSED);
    // A stream socket's name is not a datagram socket's (abstract names are per type).
    int st = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(st, (struct sockaddr *)&none, nl));
    EXPECT_ERRNO(sendto(c, "x", 1, 0, (struct sockaddr *)&none, nl), ECONNREFUSED);
    EXPECT_OK(close(st));

    // Connected: send goes to the peer; the peer takes datagrams only from... anyone, until it
    // connects itself; then only from its peer (EPERM).
    EXPECT_OK(connect(c, (struct sockaddr *)&sa, sl));
    EXPECT_EQ(send(c, "conn", 4, 0), 4);
    struct sockaddr_un pa;
    socklen_t pl = sizeof pa;
    EXPECT_OK(getpeername(c, (struct sockaddr *)&pa, &pl));
    EXPECT_EQ(pl, sl);
    EXPECT_EQ(recv(srv, buf, sizeof buf, 0), 4);
    int other = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_EQ(sendto(other, "o", 1, 0, (struct sockaddr *)&sa, sl), 1);
    EXPECT_EQ(recv(srv, buf, sizeof buf, 0), 1);
    EXPECT_OK(connect(srv, (struct sockaddr *)&ca, cl));
    EXPECT_ERRNO(sendto(other, "o", 1, 0, (struct sockaddr *)&sa, sl), EPERM);
    EXPECT_ERRNO(connect(other, (struct sockaddr *)&sa, sl), EPERM);
    EXPECT_EQ(send(srv, "back", 4, 0), 4);
    EXPECT_EQ(recv(c, buf, sizeof buf, 0), 4);
    // Disconnect with AF_UNSPEC: anyone may send again.
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    EXPECT_OK(connect(srv, &unspec, sizeof unspec));
    EXPECT_ERRNO(getpeername(srv, (struct sockaddr *)&pa, &pl), ENOTCONN);
    EXPECT_ERRNO(send(srv, "x", 1, 0), ENOTCONN);
    EXPECT_EQ(sendto(other, "o", 1, 0, (struct sockaddr *)&sa, sl), 1);
    EXPECT_EQ(recv(srv, buf, sizeof buf, 0), 1);
    EXPECT_OK(connect(srv, &unspec, sizeof unspec));
    EXPECT_ERRNO(connect(srv, &unspec, 1), EINVAL);
    EXPECT_OK(close(other));

    // The receiver closes: the connected sender gets ECONNREFUSED once, then ENOTCONN.
    EXPECT_OK(close(srv));
    EXPECT_ERRNO(send(c, "x", 1, 0), ECONNREFUSED);
    EXPECT_ERRNO(send(c, "x", 1, 0), ENOTCONN);
    EXPECT_OK(close(c));

    // A socketpair: closing one end refuses the other's sends.
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_OK(close(sv[1]));
    EXPECT_ERRNO(write(sv[0], "x", 1), ECONNREFUSED);
    EXPECT_ERRNO(write(sv[0], "x", 1), ENOTCONN);
    EXPECT_OK(close(sv[0]));

    // Shutdown: no SIGPIPE for datagram sockets, only EPIPE.
    EXPECT_TRUE(signal(SIGPIPE, on_sigpipe) != SIG_ERR);
    sigpipes = 0;
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_OK(shutdown(sv[0], SHUT_WR));
    EXPECT_ERRNO(write(sv[0], "x", 1), EPIPE);
    EXPECT_OK(shutdown(sv[1], SHUT_RD));
    EXPECT_ERRNO(send(sv[0], "x", 1, 0), EPIPE);
    // The receiver's shutdown does not reach the sender: its own sends still fail.
    EXPECT_ERRNO(recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(recv(sv[1], buf, 1, 0), 0);
    EXPECT_EQ(sigpipes, 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
    EXPECT_TRUE(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
}

static void test_limits(void) {
    NOTE("datagram queue and size limits");
    struct sockaddr_un sa;
    socklen_t sl = abstract_addr(&sa, "limits");
    int srv = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_OK(bind(srv, (struct sockaddr *)&sa, sl));
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0));
    EXPECT_OK(connect(c, (struct sockaddr *)&sa, sl));
    // A receiver not connected back takes max_dgram_qlen + 1 datagrams from a sender.
    int sent = 0;
    while (send(c, "d", 1, 0) == 1 && sent < 100) {
        sent++;
    }
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(sent, 11);
    // Not writable either, until the receiver takes one.
    int err = 0;
    socklen_t l = sizeof err;
    char buf[64];
    EXPECT_EQ(recv(srv, buf, sizeof buf, 0), 1);
    EXPECT_EQ(send(c, "d", 1, 0), 1);
    EXPECT_ERRNO(send(c, "d", 1, 0), EAGAIN);
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &l));
    EXPECT_EQ(err, 0);
    // A blocking sender waits for room: a child reads a while later.
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        char b[8];
        _exit(recv(srv, b, sizeof b, 0) == 1 ? 0 : 1);
    }
    int fl = fcntl(c, F_GETFL);
    EXPECT_OK(fcntl(c, F_SETFL, fl & ~O_NONBLOCK));
    EXPECT_EQ(send(c, "w", 1, 0), 1);
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_OK(close(c));
    EXPECT_OK(close(srv));

    // EMSGSIZE above the send buffer less 32 bytes.
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    int sz = 8192;
    EXPECT_OK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz));
    EXPECT_OK(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, &l));
    EXPECT_EQ(sz, 16384);
    static char big[20000];
    EXPECT_EQ(send(sv[0], big, 16384 - 32, 0), 16384 - 32);
    EXPECT_ERRNO(send(sv[0], big, 16384 - 31, 0), EMSGSIZE);
    EXPECT_EQ(recv(sv[1], big, sizeof big, 0), 16384 - 32);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static void test_seqpacket(void) {
    NOTE("seqpacket");
    int sv[2];
    char buf[64];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    EXPECT_EQ(send(sv[0], "rec1", 4, MSG_EOR), 4);
    EXPECT_EQ(send(sv[0], "record2", 7, 0), 7);
    EXPECT_EQ(send(sv[0], "", 0, 0), 0);
    struct iovec iov = {buf, 3};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    EXPECT_EQ(recvmsg(sv[1], &m, 0), 3);
    EXPECT_EQ(m.msg_flags, MSG_TRUNC);
    iov.iov_len = sizeof buf;
    EXPECT_EQ(recvmsg(sv[1], &m, 0), 7);
    EXPECT_EQ(m.msg_flags, 0);
    EXPECT_MEMEQ(buf, "record2", 7);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), 0);
    EXPECT_ERRNO(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    // A destination is ignored.
    struct sockaddr_un to = {.sun_family = AF_UNIX, .sun_path = "/nowhere"};
    EXPECT_EQ(sendto(sv[0], "x", 1, 0, (struct sockaddr *)&to, sizeof to), 1);
    EXPECT_EQ(recv(sv[1], buf, sizeof buf, 0), 1);
    // The peer closes: end of file, blocking or not; sends fail with EPIPE and no SIGPIPE.
    EXPECT_TRUE(signal(SIGPIPE, on_sigpipe) != SIG_ERR);
    sigpipes = 0;
    EXPECT_OK(close(sv[1]));
    EXPECT_EQ(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), 0);
    EXPECT_EQ(recv(sv[0], buf, sizeof buf, 0), 0);
    EXPECT_ERRNO(send(sv[0], "x", 1, 0), EPIPE);
    EXPECT_ERRNO(write(sv[0], "x", 1), EPIPE);
    EXPECT_EQ(sigpipes, 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_TRUE(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    // Not connected: ENOTCONN both ways.
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_SEQPACKET, 0));
    EXPECT_ERRNO(send(s, "x", 1, 0), ENOTCONN);
    EXPECT_ERRNO(recv(s, buf, 1, 0), ENOTCONN);
    EXPECT_OK(close(s));
}

int main(void) {
    test_boundaries();
    test_connect();
    test_limits();
    test_seqpacket();
    return guest_done();
}
