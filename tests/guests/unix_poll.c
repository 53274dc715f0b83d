// SPDX-License-Identifier: Apache-2.0
//
// Readiness of AF_UNIX sockets, as Linux's unix_poll and unix_dgram_poll report it, through
// poll and (level-triggered) epoll; waking a poller from another process; SIGIO.

#include "guest.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define ALL (POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

static int events(int fd) {
    struct pollfd p = {.fd = fd, .events = ALL};
    if (poll(&p, 1, 0) < 0) {
        return -1;
    }
    return p.revents;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "unix_poll.%d.%s", getpid(), tag);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static void test_stream(void) {
    NOTE("stream readiness");
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    // Unconnected: writable and hung up.
    EXPECT_EQ(events(s), POLLOUT | POLLHUP);
    EXPECT_OK(close(s));
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(events(sv[0]), POLLOUT);
    EXPECT_EQ(write(sv[1], "x", 1), 1);
    EXPECT_EQ(events(sv[0]), POLLIN | POLLOUT);
    char buf[8];
    EXPECT_EQ(read(sv[0], buf, 1), 1);
    EXPECT_EQ(events(sv[0]), POLLOUT);
    // The peer stops writing: readable (end of file) and POLLRDHUP.
    EXPECT_OK(shutdown(sv[1], SHUT_WR));
    EXPECT_EQ(events(sv[0]), POLLIN | POLLOUT | POLLRDHUP);
    EXPECT_EQ(events(sv[1]), POLLOUT);
    // Both directions shut on this side: POLLHUP too.
    EXPECT_OK(shutdown(sv[0], SHUT_WR));
    EXPECT_EQ(events(sv[0]), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
    EXPECT_EQ(events(sv[1]), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
    // The peer closes with data unread: POLLERR until the error is read.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(write(sv[0], "unread", 6), 6);
    EXPECT_OK(close(sv[1]));
    EXPECT_EQ(events(sv[0]), POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR);
    EXPECT_ERRNO(read(sv[0], buf, sizeof buf), ECONNRESET);
    EXPECT_EQ(events(sv[0]), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
    EXPECT_OK(close(sv[0]));

    // A listener: never writable; readable while a connection waits.
    struct sockaddr_un a;
    socklen_t al = abstract_addr(&a, "listen");
    int l = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(l, (struct sockaddr *)&a, al));
    EXPECT_EQ(events(l), POLLOUT | POLLHUP);
    EXPECT_OK(listen(l, 4));
    EXPECT_EQ(events(l), 0);
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al));
    EXPECT_EQ(events(l), POLLIN);
    EXPECT_EQ(events(c), POLLOUT);
    int acc = EXPECT_OK(accept(l, NULL, NULL));
    EXPECT_EQ(events(l), 0);
    EXPECT_EQ(events(acc), POLLOUT);
    EXPECT_OK(close(acc));
    EXPECT_OK(close(c));
    EXPECT_OK(close(l));

    // Writable while at most a quarter of the send buffer is queued.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
    static char big[1 << 16];
    while (write(sv[0], big, sizeof big) > 0) {
    }
    EXPECT_EQ(events(sv[0]), 0);
    EXPECT_EQ(events(sv[1]), POLLIN | POLLOUT);
    long drained = 0;
    ssize_t n;
    while (!(events(sv[0]) & POLLOUT) && (n = read(sv[1], big, 4096)) > 0) {
        drained += n;
    }
    int outq = -1;
    EXPECT_OK(ioctl(sv[0], SIOCOUTQ, &outq));
    CHECK("writable again at a quarter of the buffer", outq < 212992 / 4 && drained > 100000);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static void test_dgram(void) {
    NOTE("datagram and seqpacket readiness");
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_EQ(events(s), POLLOUT);
    EXPECT_OK(shutdown(s, SHUT_RD));
    EXPECT_EQ(events(s), POLLIN | POLLOUT | POLLRDHUP);
    EXPECT_OK(shutdown(s, SHUT_WR));
    EXPECT_EQ(events(s), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
    EXPECT_OK(close(s));
    s = EXPECT_OK(socket(AF_UNIX, SOCK_SEQPACKET, 0));
    EXPECT_EQ(events(s), POLLOUT | POLLHUP);
    EXPECT_OK(close(s));
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    EXPECT_EQ(events(sv[0]), POLLOUT);
    EXPECT_OK(close(sv[1]));
    EXPECT_EQ(events(sv[0]), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
    EXPECT_OK(close(sv[0]));
    // A datagram pair: the peer's close does not hang this end up.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_OK(close(sv[1]));
    EXPECT_EQ(events(sv[0]), POLLOUT);
    EXPECT_OK(close(sv[0]));

    // A sender connected to a full receiver that is not connected back is not writable, until
    // the receiver takes a datagram (a child does, while the parent waits in poll).
    struct sockaddr_un a;
    socklen_t al = abstract_addr(&a, "dgram");
    int srv = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_OK(bind(srv, (struct sockaddr *)&a, al));
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0));
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al));
    while (send(c, "d", 1, 0) == 1) {
    }
    EXPECT_EQ(events(c), 0);
    EXPECT_EQ(events(srv), POLLIN | POLLOUT);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(30000);
        char b[4];
        _exit(recv(srv, b, sizeof b, 0) == 1 ? 0 : 1);
    }
    struct pollfd p = {.fd = c, .events = POLLOUT};
    EXPECT_EQ(poll(&p, 1, 10000), 1);
    EXPECT_EQ(p.revents, POLLOUT);
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // The receiver goes: the sender is writable (its next send finds out).
    EXPECT_EQ(send(c, "d", 1, 0), 1);
    EXPECT_EQ(events(c), 0);
    EXPECT_OK(close(srv));
    EXPECT_EQ(events(c), POLLOUT);
    EXPECT_ERRNO(send(c, "d", 1, 0), ECONNREFUSED);
    EXPECT_OK(close(c));
}

static void test_epoll(void) {
    NOTE("epoll (level-triggered)");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int ep = EXPECT_OK(epoll_create1(EPOLL_CLOEXEC));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = 7};
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev));
    struct epoll_event out[4];
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);
    // A child writes while the parent waits.
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        _exit(write(sv[1], "wake", 4) == 4 ? 0 : 1);
    }
    EXPECT_EQ(epoll_wait(ep, out, 4, 10000), 1);
    EXPECT_EQ(out[0].events, EPOLLIN);
    EXPECT_EQ(out[0].data.u32, 7);
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    // Still there until read (level-triggered).
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    char buf[8];
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 4);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);
    EXPECT_OK(shutdown(sv[1], SHUT_WR));
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLIN | EPOLLRDHUP);
    ev.events = EPOLLOUT;
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_MOD, sv[0], &ev));
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLOUT);
    EXPECT_OK(close(sv[1]));
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLOUT | EPOLLHUP);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(ep));
}

static volatile sig_atomic_t sigios;

static void on_sigio(int sig) {
    (void)sig;
    sigios++;
}

static void test_sigio(void) {
    NOTE("O_ASYNC");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_TRUE(signal(SIGIO, on_sigio) != SIG_ERR);
    EXPECT_OK(fcntl(sv[0], F_SETOWN, getpid()));
    EXPECT_OK(fcntl(sv[0], F_SETFL, O_ASYNC));
    sigios = 0;
    EXPECT_EQ(write(sv[1], "a", 1), 1);
    EXPECT_EQ(sigios, 1);
    EXPECT_EQ(write(sv[1], "b", 1), 1);
    EXPECT_EQ(sigios, 2);
    char buf[4];
    EXPECT_EQ(read(sv[0], buf, sizeof buf), 2);
    // The peer's shutdown is news too.
    EXPECT_OK(shutdown(sv[1], SHUT_WR));
    EXPECT_EQ(sigios, 3);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
    EXPECT_TRUE(signal(SIGIO, SIG_DFL) != SIG_ERR);
}

int main(void) {
    test_stream();
    test_dgram();
    test_epoll();
    test_sigio();
    return guest_done();
}
