// SPDX-License-Identifier: Apache-2.0
// epoll beyond level-triggered readiness: edge-triggered reports on pipes, unix and TCP
// sockets (a new report only after new data or new room), EPOLLONESHOT, fairness among many
// ready files, nested epolls (readiness through them, loops and depth refused), EPOLLEXCLUSIVE
// rules.
#include "guest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static int wait0(int ep) {
    struct epoll_event out[8];
    return epoll_wait(ep, out, 8, 0);
}

// One edge-triggered read side: reported once per arrival, not again while data stays.
static void edge_in(const char *what, int rd, int wr) {
    NOTE("EPOLLET input: %s", what);
    int ep = EXPECT_OK(epoll_create1(0));
    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u32 = 1};
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, rd, &e));
    EXPECT_EQ(wait0(ep), 0);
    EXPECT_EQ(write(wr, "ab", 2), 2);
    EXPECT_EQ(wait0(ep), 1);
    EXPECT_EQ(wait0(ep), 0);
    char c;
    EXPECT_EQ(read(rd, &c, 1), 1);
    EXPECT_EQ(wait0(ep), 0);
    EXPECT_EQ(write(wr, "c", 1), 1);
    EXPECT_EQ(wait0(ep), 1);
    EXPECT_EQ(wait0(ep), 0);
    // A modification re-arms: still readable, so reported once more.
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_MOD, rd, &e));
    EXPECT_EQ(wait0(ep), 1);
    EXPECT_EQ(wait0(ep), 0);
    // The writer going away is an event too (EOF or hang-up).
    close(wr);
    struct epoll_event out;
    EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 1);
    EXPECT_TRUE(out.events & (EPOLLHUP | EPOLLRDHUP | EPOLLIN));
    EXPECT_EQ(wait0(ep), 0);
    close(ep);
    close(rd);
}

static void tcp_pair(int *a, int *b) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(l, (struct sockaddr *)&sa, sizeof sa);
    listen(l, 1);
    getsockname(l, (struct sockaddr *)&sa, &len);
    *a = socket(AF_INET, SOCK_STREAM, 0);
    connect(*a, (struct sockaddr *)&sa, sizeof sa);
    *b = accept(l, NULL, NULL);
    close(l);
}

static void oneshot_and_out(void) {
    NOTE("EPOLLONESHOT and EPOLLOUT edges");
    int p[2];
    EXPECT_OK(pipe(p));
    int ep = EXPECT_OK(epoll_create1(0));
    struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT};
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e));
    EXPECT_EQ(write(p[1], "x", 1), 1);
    EXPECT_EQ(wait0(ep), 1);
    EXPECT_EQ(wait0(ep), 0);
    EXPECT_EQ(write(p[1], "y", 1), 1);
    EXPECT_EQ(wait0(ep), 0);
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e));
    EXPECT_EQ(wait0(ep), 1);
    close(ep);
    // A writable pipe is reported once edge-triggered; a partial read of a pipe that was not
    // full is no new room.
    ep = EXPECT_OK(epoll_create1(0));
    struct epoll_event o = {.events = EPOLLOUT | EPOLLET};
    EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &o));
    EXPECT_EQ(wait0(ep), 1);
    EXPECT_EQ(wait0(ep), 0);
    char c;
    EXPECT_EQ(read(p[0], &c, 1), 1);
    EXPECT_EQ(wait0(ep), 0);
    // Fill it, then drain some: room again.
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    char buf[4096] = {0};
    while (write(p[1], buf, sizeof buf) > 0) {
    }
    EXPECT_EQ(wait0(ep), 0);
    EXPECT_EQ(read(p[0], buf, sizeof buf), (ssize_t)sizeof buf);
    EXPECT_EQ(wait0(ep), 1);
    close(ep);
    close(p[0]);
    close(p[1]);
}

static void fairness(void) {
    NOTE("level-triggered reports take turns");
    enum { N = 7, MAX = 3, ROUNDS = 3 };
    int ep = EXPECT_OK(epoll_create1(0));
    int fds[N][2];
    for (int i = 0; i < N; i++) {
        pipe(fds[i]);
        write(fds[i][1], "x", 1);
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i][0], &e);
    }
    int count[N] = {0};
    for (int got = 0; got < N * ROUNDS;) {
        struct epoll_event out[MAX];
        int n = epoll_wait(ep, out, MAX, 0);
        if (n != MAX) {
            break;
        }
        for (int i = 0; i < n && got < N * ROUNDS; i++, got++) {
            count[out[i].data.u32]++;
        }
    }
    int even = 1;
    for (int i = 0; i < N; i++) {
        even &= count[i] == ROUNDS;
    }
    CHECK("every ready pipe reported ROUNDS times", even);
    for (int i = 0; i < N; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    close(ep);
}

static void nesting(void) {
    NOTE("nested epolls");
    int p[2];
    EXPECT_OK(pipe(p));
    int inner = EXPECT_OK(epoll_create1(0));
    int outer = EXPECT_OK(epoll_create1(0));
    struct epoll_event e = {.events = EPOLLIN};
    EXPECT_OK(epoll_ctl(inner, EPOLL_CTL_ADD, p[0], &e));
    EXPECT_OK(epoll_ctl(outer, EPOLL_CTL_ADD, inner, &e));
    EXPECT_ERRNO(epoll_ctl(inner, EPOLL_CTL_ADD, outer, &e), ELOOP);
    EXPECT_ERRNO(epoll_ctl(outer, EPOLL_CTL_ADD, outer, &e), EINVAL);
    EXPECT_EQ(wait0(outer), 0);
    // A writer in a child: the outer wait must wake through the inner epoll.
    if (fork() == 0) {
        usleep(100000);
        write(p[1], "z", 1);
        _exit(0);
    }
    struct epoll_event out;
    EXPECT_EQ(epoll_wait(outer, &out, 1, 5000), 1);
    wait(NULL);
    // Depth: a chain of four epolls over the pipe may be watched, one of five may not.
    int chain = p[0];
    for (int d = 0; d < 4; d++) {
        int n = epoll_create1(0);
        epoll_ctl(n, EPOLL_CTL_ADD, chain, &e);
        chain = n;
    }
    int top = EXPECT_OK(epoll_create1(0));
    EXPECT_OK(epoll_ctl(top, EPOLL_CTL_ADD, chain, &e));
    int over = EXPECT_OK(epoll_create1(0));
    EXPECT_ERRNO(epoll_ctl(over, EPOLL_CTL_ADD, top, &e), ELOOP);
    // EPOLLEXCLUSIVE: not with an epoll target, not with EPOLLONESHOT, never in MOD.
    struct epoll_event x = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    EXPECT_ERRNO(epoll_ctl(over, EPOLL_CTL_ADD, inner, &x), EINVAL);
    x.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
    EXPECT_ERRNO(epoll_ctl(over, EPOLL_CTL_ADD, p[0], &x), EINVAL);
    x.events = EPOLLIN | EPOLLEXCLUSIVE;
    EXPECT_OK(epoll_ctl(over, EPOLL_CTL_ADD, p[0], &x));
    EXPECT_ERRNO(epoll_ctl(over, EPOLL_CTL_MOD, p[0], &x), EINVAL);
    int path = open("/", O_PATH);
    EXPECT_ERRNO(epoll_ctl(over, EPOLL_CTL_ADD, path, &e), EBADF);
    close(path);
}

int main(void) {
    int p[2];
    EXPECT_OK(pipe(p));
    edge_in("pipe", p[0], p[1]);
    int s[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
    edge_in("unix stream", s[0], s[1]);
    int a, b;
    tcp_pair(&a, &b);
    edge_in("TCP", b, a);
    oneshot_and_out();
    fairness();
    nesting();
    return guest_done();
}
