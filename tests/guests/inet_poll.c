// SPDX-License-Identifier: Apache-2.0
//
// Readiness of inet sockets and blocking on them: poll, select and (level-triggered) epoll
// waking for a connection, data, room, a FIN and a RST that another process causes; blocking
// accept, connect, recv and send woken the same way; a signal ending a blocking recv (EINTR
// without SA_RESTART, a restart with it); SIGIO for O_ASYNC sockets.

#include "guest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>

static struct sockaddr_in listen_addr;

static int listener(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(l, (struct sockaddr *)&a, len);
    listen(l, 8);
    getsockname(l, (struct sockaddr *)&listen_addr, &len);
    return l;
}

static int dial(void) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0) {
        return -1;
    }
    return c;
}

// Runs `fn(arg)` in a child after `delay_us`; returns its pid.
static pid_t later(int delay_us, void (*fn)(int), int arg) {
    pid_t pid = fork();
    if (pid == 0) {
        usleep(delay_us);
        fn(arg);
        _exit(0);
    }
    return pid;
}

static int reap(pid_t pid) {
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

static void child_connects(int unused) {
    (void)unused;
    int c = dial();
    usleep(50000);
    close(c);
}

static void child_writes(int fd) {
    if (write(fd, "wake", 4) != 4) {
        _exit(1);
    }
}

static void child_shuts(int fd) {
    shutdown(fd, SHUT_WR);
}

// Reads until nothing more comes for 200 ms.
static void child_drains(int fd) {
    static char buf[1 << 16];
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
}

static void pair(int l, int *c, int *d) {
    *c = dial();
    *d = accept(l, NULL, NULL);
}

static void waking(void) {
    int l = listener();
    NOTE("poll wakes for a connection");
    pid_t pid = later(20000, child_connects, 0);
    struct pollfd p = {l, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 5000), 1);
    EXPECT_EQ(p.revents, POLLIN);
    int d = EXPECT_OK(accept(l, NULL, NULL));
    close(d);
    EXPECT_EQ(reap(pid), 0);

    NOTE("blocking accept wakes for a connection");
    pid = later(20000, child_connects, 0);
    d = EXPECT_OK(accept(l, NULL, NULL));
    close(d);
    EXPECT_EQ(reap(pid), 0);

    NOTE("epoll wakes for data, then for the FIN");
    int c;
    pair(l, &c, &d);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = 7}, out[4];
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev));
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);
    pid = later(20000, child_writes, c);
    EXPECT_EQ(epoll_wait(ep, out, 4, 5000), 1);
    EXPECT_EQ(out[0].events, EPOLLIN);
    EXPECT_EQ(out[0].data.u32, 7);
    EXPECT_EQ(reap(pid), 0);
    // Level-triggered: still ready until read.
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    char buf[16];
    EXPECT_EQ(read(d, buf, sizeof buf), 4);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);
    pid = later(20000, child_shuts, c);
    EXPECT_EQ(epoll_wait(ep, out, 4, 5000), 1);
    EXPECT_EQ(out[0].events, EPOLLIN | EPOLLRDHUP);
    EXPECT_EQ(reap(pid), 0);
    close(ep);
    close(c);
    close(d);

    NOTE("select wakes for data");
    pair(l, &c, &d);
    pid = later(20000, child_writes, d);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(c, &rd);
    struct timeval tv = {5, 0};
    EXPECT_EQ(select(c + 1, &rd, NULL, NULL, &tv), 1);
    EXPECT_TRUE(FD_ISSET(c, &rd));
    EXPECT_EQ(reap(pid), 0);

    NOTE("a blocked writer wakes when the reader makes room");
    fcntl(c, F_SETFL, O_NONBLOCK);
    static char chunk[65536];
    while (write(c, chunk, sizeof chunk) > 0) {
    }
    EXPECT_EQ(errno, EAGAIN);
    p.fd = c;
    p.events = POLLOUT;
    EXPECT_EQ(poll(&p, 1, 0), 0);
    pid = later(20000, child_drains, d);
    EXPECT_EQ(poll(&p, 1, 5000), 1);
    EXPECT_EQ(p.revents, POLLOUT);
    EXPECT_EQ(reap(pid), 0);
    // And a blocking one.
    fcntl(c, F_SETFL, 0);
    while (send(c, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
    }
    pid = later(20000, child_drains, d);
    EXPECT_EQ(write(c, chunk, sizeof chunk), (ssize_t)sizeof chunk);
    EXPECT_EQ(reap(pid), 0);
    close(c);
    close(d);

    NOTE("epoll sees a RST as EPOLLERR | EPOLLHUP");
    pair(l, &c, &d);
    write(d, "unread", 6);
    usleep(10000);
    ep = epoll_create1(0);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLOUT);
    close(c);
    usleep(10000);
    EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
    EXPECT_EQ(out[0].events, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLERR | EPOLLHUP);
    close(ep);
    close(d);

    NOTE("a non-blocking connect completes for poll");
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&listen_addr, sizeof listen_addr), EINPROGRESS);
    p.fd = c;
    p.events = POLLOUT;
    EXPECT_EQ(poll(&p, 1, 5000), 1);
    EXPECT_EQ(p.revents, POLLOUT);
    int err = -1;
    socklen_t el = sizeof err;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
    EXPECT_EQ(err, 0);
    close(accept(l, NULL, NULL));
    close(c);
    close(l);
}

static void deferred(void) {
    NOTE("TCP_DEFER_ACCEPT holds a connection back until the client sends");
    int l = listener();
    int secs = 5;
    EXPECT_OK(setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs));
    int c = dial();
    EXPECT_GE(c, 0);
    usleep(20000);
    struct pollfd p = {l, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0);
    fcntl(l, F_SETFL, O_NONBLOCK);
    EXPECT_ERRNO(accept(l, NULL, NULL), EAGAIN);
    EXPECT_EQ(write(c, "now", 3), 3);
    EXPECT_EQ(poll(&p, 1, 5000), 1);
    int d = EXPECT_OK(accept(l, NULL, NULL));
    char buf[8];
    EXPECT_EQ(read(d, buf, sizeof buf), 3);
    close(d);
    close(c);
    close(l);
}

static volatile sig_atomic_t hits;
static void on_signal(int sig) {
    (void)sig;
    hits++;
}

static void child_signals(int pid) {
    kill(pid, SIGUSR1);
}

static void child_signals_then_writes(int fd) {
    kill(getppid(), SIGUSR1);
    usleep(20000);
    if (write(fd, "late", 4) != 4) {
        _exit(1);
    }
}

static void signals(void) {
    int l = listener();
    int c, d;
    pair(l, &c, &d);
    char buf[16];
    NOTE("a signal ends a blocking recv: EINTR without SA_RESTART");
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    pid_t pid = later(20000, child_signals, getpid());
    EXPECT_ERRNO(recv(d, buf, sizeof buf, 0), EINTR);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(reap(pid), 0);
    NOTE("and the recv goes on with SA_RESTART");
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pid = later(20000, child_signals_then_writes, c);
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 4);
    EXPECT_EQ(hits, 2);
    EXPECT_EQ(reap(pid), 0);
    NOTE("SO_RCVTIMEO turns the restart into EINTR");
    struct timeval tv = {5, 0};
    setsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pid = later(20000, child_signals, getpid());
    EXPECT_ERRNO(recv(d, buf, sizeof buf, 0), EINTR);
    EXPECT_EQ(reap(pid), 0);

    NOTE("O_ASYNC sockets raise SIGIO for input");
    sa.sa_flags = 0;
    sigaction(SIGIO, &sa, NULL);
    hits = 0;
    EXPECT_OK(fcntl(d, F_SETOWN, getpid()));
    EXPECT_OK(fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_ASYNC));
    EXPECT_EQ(write(c, "io", 2), 2);
    usleep(20000);
    EXPECT_GE(hits, 1);
    close(c);
    close(d);
    close(l);
}

int main(void) {
    waking();
    deferred();
    signals();
    return guest_done();
}
