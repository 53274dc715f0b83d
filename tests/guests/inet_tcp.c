// SPDX-License-Identifier: Apache-2.0
//
// TCP over loopback: connect and accept over IPv4, IPv6 and IPv4-mapped addresses, echo,
// names, half-close, RST on a close with unread data, ECONNRESET and EPIPE, non-blocking
// connects (EINPROGRESS, SO_ERROR, EALREADY, EISCONN, ECONNABORTED), AF_UNSPEC disconnects,
// listen backlogs, receive flags (MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, MSG_TRUNC), urgent data
// (MSG_OOB, SIOCATMARK, SO_OOBINLINE) and the queue ioctls. Ports are always 0 and read back
// with getsockname, so parallel runs never collide.

#include "guest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} addr_t;

// A listening socket of `family` on `ip` (text) port 0; its address in *a.
static int listener(int family, const char *ip, addr_t *a, int backlog) {
    int s = socket(family, SOCK_STREAM, 0);
    memset(a, 0, sizeof *a);
    socklen_t len;
    if (family == AF_INET) {
        a->in.sin_family = AF_INET;
        inet_pton(AF_INET, ip, &a->in.sin_addr);
        len = sizeof a->in;
    } else {
        a->in6.sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &a->in6.sin6_addr);
        len = sizeof a->in6;
    }
    if (bind(s, &a->sa, len) < 0 || listen(s, backlog) < 0 || getsockname(s, &a->sa, &len) < 0) {
        printf("# listener setup failed: %s\n", strerror(errno));
        exit(2);
    }
    return s;
}

static socklen_t alen(const addr_t *a) {
    return a->sa.sa_family == AF_INET ? sizeof a->in : sizeof a->in6;
}

static int revents(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    poll(&p, 1, 0);
    return p.revents;
}

static void settle(void) {
    usleep(20000);
}

// Connected pair over `family`: client c, server side d.
static void pair(int family, const char *ip, int *c, int *d) {
    addr_t a;
    int l = listener(family, ip, &a, 5);
    *c = socket(family, SOCK_STREAM, 0);
    if (connect(*c, &a.sa, alen(&a)) < 0) {
        printf("# connect failed: %s\n", strerror(errno));
        exit(2);
    }
    *d = accept(l, NULL, NULL);
    close(l);
}

static void echo_over(int family, const char *listen_ip, int cfamily, const char *connect_ip) {
    addr_t a, b, peer, name;
    int l = listener(family, listen_ip, &a, 5);
    int port = family == AF_INET ? a.in.sin_port : a.in6.sin6_port;
    memset(&b, 0, sizeof b);
    if (cfamily == AF_INET) {
        b.in.sin_family = AF_INET;
        b.in.sin_port = port;
        inet_pton(AF_INET, connect_ip, &b.in.sin_addr);
    } else {
        b.in6.sin6_family = AF_INET6;
        b.in6.sin6_port = port;
        inet_pton(AF_INET6, connect_ip, &b.in6.sin6_addr);
    }
    int c = EXPECT_OK(socket(cfamily, SOCK_STREAM, 0));
    EXPECT_OK(connect(c, &b.sa, alen(&b)));
    socklen_t plen = sizeof peer;
    int d = EXPECT_OK(accept(l, &peer.sa, &plen));
    EXPECT_EQ(plen, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    EXPECT_EQ(peer.sa.sa_family, family);
    // The accepted side's peer is the client's name; the client's peer is the listener's
    // port at the address it dialled.
    socklen_t nlen = sizeof name;
    EXPECT_OK(getsockname(c, &name.sa, &nlen));
    EXPECT_EQ(name.sa.sa_family, cfamily);
    if (family == cfamily) {
        EXPECT_MEMEQ(&name, &peer, plen);
    }
    nlen = sizeof name;
    EXPECT_OK(getpeername(c, &name.sa, &nlen));
    EXPECT_MEMEQ(&name, &b, alen(&b));
    nlen = sizeof name;
    EXPECT_OK(getsockname(d, &name.sa, &nlen));
    EXPECT_EQ(name.sa.sa_family, family);
    if (family == AF_INET6) {
        EXPECT_EQ(name.in6.sin6_port, port);
    } else {
        EXPECT_EQ(name.in.sin_port, port);
    }
    char buf[64];
    EXPECT_EQ(write(c, "ping", 4), 4);
    EXPECT_EQ(read(d, buf, sizeof buf), 4);
    EXPECT_MEMEQ(buf, "ping", 4);
    EXPECT_EQ(send(d, "pong!", 5, 0), 5);
    EXPECT_EQ(recv(c, buf, sizeof buf, 0), 5);
    EXPECT_MEMEQ(buf, "pong!", 5);
    close(c);
    close(d);
    close(l);
}

static void names_and_errors(void) {
    NOTE("unconnected sockets");
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    char buf[16];
    addr_t a;
    socklen_t len = sizeof a;
    EXPECT_EQ(revents(s, POLLIN | POLLOUT), POLLOUT | POLLHUP);
    EXPECT_ERRNO(write(s, "x", 1), EPIPE);
    EXPECT_ERRNO(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
    EXPECT_ERRNO(read(s, buf, 1), ENOTCONN);
    EXPECT_ERRNO(recv(s, buf, 1, MSG_ERRQUEUE), EAGAIN);
    EXPECT_ERRNO(getpeername(s, &a.sa, &len), ENOTCONN);
    // getsockname does not skip a null buffer (accept and recvfrom do).
    EXPECT_ERRNO(syscall(SYS_getsockname, s, NULL, &len), EFAULT);
    socklen_t bad = -1;
    EXPECT_ERRNO(getsockname(s, &a.sa, &bad), EINVAL);
    int opath = open("/", O_PATH);
    EXPECT_ERRNO(getsockname(opath, &a.sa, &len), EBADF);
    close(opath);
    EXPECT_OK(getsockname(s, &a.sa, &len));
    EXPECT_EQ(len, sizeof(struct sockaddr_in));
    EXPECT_EQ(a.in.sin_port, 0);
    EXPECT_EQ(a.in.sin_addr.s_addr, 0);
    int v = -1;
    socklen_t vl = sizeof v;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
    EXPECT_EQ(v, 0);
    // listen() without bind picks a port on the wildcard.
    EXPECT_OK(listen(s, 1));
    len = sizeof a;
    EXPECT_OK(getsockname(s, &a.sa, &len));
    EXPECT_NE(a.in.sin_port, 0);
    EXPECT_EQ(a.in.sin_addr.s_addr, 0);
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
    EXPECT_EQ(v, 1);
    EXPECT_EQ(revents(s, POLLIN | POLLOUT), 0);
    EXPECT_ERRNO(read(s, buf, 1), ENOTCONN);
    EXPECT_ERRNO(write(s, "x", 1), EPIPE);
    EXPECT_ERRNO(connect(s, &a.sa, len), EISCONN);
    EXPECT_ERRNO(accept4(s, NULL, NULL, SOCK_NONBLOCK | 0x1000), EINVAL);
    fcntl(s, F_SETFL, O_NONBLOCK);
    EXPECT_ERRNO(accept(s, NULL, NULL), EAGAIN);
    int n;
    EXPECT_ERRNO(ioctl(s, SIOCINQ, &n), EINVAL);
    EXPECT_ERRNO(ioctl(s, SIOCOUTQ, &n), EINVAL);
    // A second listen only changes the backlog.
    EXPECT_OK(listen(s, 10));
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERRNO(shutdown(s, SHUT_WR), ENOTCONN);
    EXPECT_ERRNO(shutdown(s, 7), EINVAL);
    EXPECT_ERRNO(accept(s, NULL, NULL), EINVAL);
    close(s);
    int p[2];
    EXPECT_ERRNO(socketpair(AF_INET, SOCK_STREAM, 0, p), EOPNOTSUPP);
    EXPECT_ERRNO(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    EXPECT_ERRNO(socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
    EXPECT_ERRNO(socket(AF_INET, SOCK_STREAM, 300), EINVAL);
    s = EXPECT_OK(socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP));
    vl = sizeof v;
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &vl));
    EXPECT_EQ(v, AF_INET6);
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &vl));
    EXPECT_EQ(v, IPPROTO_TCP);
    EXPECT_OK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl));
    EXPECT_EQ(v, SOCK_STREAM);
    len = sizeof a;
    EXPECT_OK(getsockname(s, &a.sa, &len));
    EXPECT_EQ(len, sizeof(struct sockaddr_in6));
    close(s);
}

static void half_close(void) {
    NOTE("half-close");
    int c, d;
    char buf[64];
    pair(AF_INET, "127.0.0.1", &c, &d);
    EXPECT_EQ(revents(c, POLLIN | POLLOUT | POLLRDHUP), POLLOUT);
    EXPECT_OK(shutdown(c, SHUT_WR));
    settle();
    EXPECT_EQ(revents(d, POLLIN | POLLOUT | POLLRDHUP), POLLIN | POLLOUT | POLLRDHUP);
    EXPECT_EQ(read(d, buf, sizeof buf), 0);
    EXPECT_EQ(read(d, buf, sizeof buf), 0);
    EXPECT_ERRNO(write(c, "x", 1), EPIPE);
    // The other direction still works.
    EXPECT_EQ(write(d, "reply", 5), 5);
    EXPECT_EQ(read(c, buf, sizeof buf), 5);
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    EXPECT_OK(getsockopt(d, IPPROTO_TCP, TCP_INFO, &ti, &tl));
    EXPECT_EQ(ti.tcpi_state, TCP_CLOSE_WAIT);
    EXPECT_OK(shutdown(d, SHUT_WR));
    settle();
    EXPECT_EQ(read(c, buf, sizeof buf), 0);
    EXPECT_EQ(revents(c, POLLIN | POLLOUT | POLLRDHUP), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
    EXPECT_EQ(revents(d, POLLIN | POLLOUT | POLLRDHUP), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
    EXPECT_OK(getsockopt(d, IPPROTO_TCP, TCP_INFO, &ti, &tl));
    EXPECT_EQ(ti.tcpi_state, TCP_CLOSE);
    EXPECT_ERRNO(shutdown(d, SHUT_WR), ENOTCONN);
    addr_t a;
    socklen_t len = sizeof a;
    EXPECT_ERRNO(getpeername(c, &a.sa, &len), ENOTCONN);
    close(c);
    close(d);

    // SHUT_RD: reads see EOF at once, yet bytes that come later are still queued.
    pair(AF_INET, "127.0.0.1", &c, &d);
    EXPECT_OK(shutdown(d, SHUT_RD));
    EXPECT_EQ(revents(d, POLLIN | POLLRDHUP), POLLIN | POLLRDHUP);
    EXPECT_EQ(read(d, buf, sizeof buf), 0);
    EXPECT_EQ(write(c, "abc", 3), 3);
    settle();
    EXPECT_EQ(read(d, buf, sizeof buf), 3);
    EXPECT_EQ(read(d, buf, sizeof buf), 0);
    close(c);
    close(d);
}

static void resets(void) {
    NOTE("RST on a close with unread data");
    int c, d, v;
    socklen_t vl = sizeof v;
    char buf[64];
    pair(AF_INET, "127.0.0.1", &c, &d);
    EXPECT_EQ(write(c, "data", 4), 4);
    EXPECT_EQ(write(d, "back", 4), 4);
    settle();
    EXPECT_OK(close(d));
    settle();
    EXPECT_EQ(revents(c, POLLIN | POLLOUT | POLLRDHUP),
              POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
    // What came before the RST is still read, then the error, then EOF.
    EXPECT_EQ(read(c, buf, sizeof buf), 4);
    EXPECT_ERRNO(read(c, buf, sizeof buf), ECONNRESET);
    EXPECT_EQ(read(c, buf, sizeof buf), 0);
    EXPECT_ERRNO(write(c, "x", 1), EPIPE);
    close(c);

    NOTE("the first write after a RST reports it");
    pair(AF_INET, "127.0.0.1", &c, &d);
    EXPECT_EQ(write(c, "data", 4), 4);
    settle();
    close(d);
    settle();
    EXPECT_ERRNO(write(c, "x", 1), ECONNRESET);
    EXPECT_ERRNO(write(c, "x", 1), EPIPE);
    EXPECT_EQ(read(c, buf, sizeof buf), 0);
    close(c);

    NOTE("SO_LINGER 0 resets");
    pair(AF_INET, "127.0.0.1", &c, &d);
    struct linger lg = {1, 0};
    EXPECT_OK(setsockopt(d, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    close(d);
    settle();
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, ECONNRESET);
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, 0);
    EXPECT_EQ(read(c, buf, sizeof buf), 0);
    close(c);

    NOTE("writing to a peer that closed draws a RST");
    pair(AF_INET, "127.0.0.1", &c, &d);
    close(d);
    settle();
    EXPECT_EQ(revents(c, POLLIN | POLLOUT | POLLRDHUP), POLLIN | POLLOUT | POLLRDHUP);
    EXPECT_EQ(write(c, "x", 1), 1);
    settle();
    EXPECT_EQ(revents(c, POLLIN | POLLOUT | POLLRDHUP),
              POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
    EXPECT_EQ(read(c, buf, sizeof buf), 0);
    EXPECT_ERRNO(write(c, "x", 1), EPIPE);
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, 0);
    close(c);

    NOTE("a listener closed with queued connections resets them");
    addr_t a;
    int l = listener(AF_INET, "127.0.0.1", &a, 5);
    c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_OK(connect(c, &a.sa, alen(&a)));
    close(l);
    settle();
    EXPECT_ERRNO(read(c, buf, sizeof buf), ECONNRESET);
    close(c);
}

static void nonblocking_connects(void) {
    NOTE("non-blocking connect to a listener");
    addr_t a;
    int v;
    socklen_t vl = sizeof v;
    int l = listener(AF_INET, "127.0.0.1", &a, 5);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_ERRNO(connect(c, &a.sa, alen(&a)), EINPROGRESS);
    settle();
    EXPECT_EQ(revents(c, POLLOUT), POLLOUT);
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, 0);
    EXPECT_OK(connect(c, &a.sa, alen(&a)));
    EXPECT_ERRNO(connect(c, &a.sa, alen(&a)), EISCONN);
    int d = EXPECT_OK(accept(l, NULL, NULL));
    close(d);
    close(c);

    NOTE("non-blocking connect to a closed port");
    struct sockaddr_in closed = a.in;
    close(l);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&closed, sizeof closed), EINPROGRESS);
    settle();
    EXPECT_EQ(revents(c, POLLIN | POLLOUT | POLLRDHUP),
              POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, ECONNREFUSED);
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, 0);
    // The error was taken: connect() says the attempt was aborted, then tries anew.
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&closed, sizeof closed), ECONNABORTED);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&closed, sizeof closed), EINPROGRESS);
    settle();
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&closed, sizeof closed), ECONNREFUSED);
    close(c);
    c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&closed, sizeof closed), ECONNREFUSED);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&closed, sizeof closed), ECONNREFUSED);
    close(c);

    NOTE("a full backlog holds connects until accept makes room");
    l = listener(AF_INET, "127.0.0.1", &a, 0);
    int cs[3];
    for (int i = 0; i < 3; i++) {
        cs[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        EXPECT_ERRNO(connect(cs[i], &a.sa, alen(&a)), EINPROGRESS);
    }
    settle();
    // Backlog 0 takes one connection.
    EXPECT_EQ(revents(cs[0], POLLOUT), POLLOUT);
    EXPECT_EQ(revents(cs[1], POLLOUT), 0);
    EXPECT_ERRNO(connect(cs[1], &a.sa, alen(&a)), EALREADY);
    addr_t p;
    socklen_t plen = sizeof p;
    EXPECT_ERRNO(getpeername(cs[1], &p.sa, &plen), ENOTCONN);
    d = EXPECT_OK(accept(l, NULL, NULL));
    close(d);
    close(l);
    for (int i = 0; i < 3; i++) {
        close(cs[i]);
    }

    NOTE("connect(AF_UNSPEC) drops the connection with a RST");
    l = listener(AF_INET, "127.0.0.1", &a, 5);
    c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    EXPECT_OK(connect(c, &unspec, sizeof unspec));
    EXPECT_ERRNO(connect(c, &unspec, 1), EINVAL);
    EXPECT_OK(connect(c, &a.sa, alen(&a)));
    d = accept(l, NULL, NULL);
    EXPECT_OK(connect(c, &unspec, sizeof unspec));
    EXPECT_EQ(revents(c, POLLIN | POLLOUT), POLLOUT | POLLERR | POLLHUP);
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, ECONNRESET);
    settle();
    char buf[8];
    EXPECT_ERRNO(read(d, buf, sizeof buf), ECONNRESET);
    plen = sizeof p;
    EXPECT_ERRNO(getpeername(c, &p.sa, &plen), ENOTCONN);
    // And it can connect again.
    EXPECT_OK(connect(c, &a.sa, alen(&a)));
    close(d);
    d = accept(l, NULL, NULL);
    EXPECT_EQ(write(c, "again", 5), 5);
    EXPECT_EQ(read(d, buf, sizeof buf), 5);
    close(c);
    close(d);
    close(l);

    NOTE("connect errors");
    c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in bad = {.sin_family = AF_INET, .sin_port = htons(9)};
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&bad, sizeof bad - 1), EINVAL);
    bad.sin_family = AF_INET6;
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&bad, sizeof bad), EAFNOSUPPORT);
    bad.sin_family = AF_INET;
    bad.sin_addr.s_addr = inet_addr("224.0.0.1");
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&bad, sizeof bad), ENETUNREACH);
    close(c);
    c = socket(AF_INET6, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_in6 m6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &m6.sin6_addr);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&m6, sizeof m6), ENETUNREACH);
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&m6, 23), EINVAL);
    close(c);

    NOTE("a connect to the wildcard address reaches the local host");
    l = listener(AF_INET, "0.0.0.0", &a, 5);
    c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_OK(connect(c, &a.sa, alen(&a)));
    plen = sizeof p;
    EXPECT_OK(getpeername(c, &p.sa, &plen));
    EXPECT_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    plen = sizeof p;
    EXPECT_OK(getsockname(c, &p.sa, &plen));
    EXPECT_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    close(c);
    close(accept(l, NULL, NULL));
    // 127.0.0.5 is the local host too; the client's address is 127.0.0.1.
    a.in.sin_addr.s_addr = inet_addr("127.0.0.5");
    c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_OK(connect(c, &a.sa, alen(&a)));
    plen = sizeof p;
    EXPECT_OK(getsockname(c, &p.sa, &plen));
    EXPECT_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    d = accept(l, NULL, NULL);
    plen = sizeof p;
    EXPECT_OK(getsockname(d, &p.sa, &plen));
    EXPECT_EQ(p.in.sin_addr.s_addr, inet_addr("127.0.0.5"));
    close(c);
    close(d);
    close(l);
}

static void receive_flags(void) {
    NOTE("MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC, MSG_WAITALL");
    int c, d, n;
    char buf[64];
    pair(AF_INET6, "::1", &c, &d);
    EXPECT_ERRNO(recv(d, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(write(c, "hello world", 11), 11);
    settle();
    EXPECT_OK(ioctl(d, FIONREAD, &n));
    EXPECT_EQ(n, 11);
    EXPECT_EQ(recv(d, buf, 5, MSG_PEEK), 5);
    EXPECT_MEMEQ(buf, "hello", 5);
    EXPECT_EQ(recv(d, buf, 5, MSG_TRUNC), 5);
    EXPECT_OK(ioctl(d, SIOCINQ, &n));
    EXPECT_EQ(n, 6);
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 6);
    EXPECT_MEMEQ(buf, " world", 6);
    EXPECT_OK(ioctl(c, SIOCOUTQ, &n));
    EXPECT_EQ(n, 0);
    // MSG_WAITALL waits for the whole buffer, across several writes.
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 4; i++) {
            usleep(10000);
            if (write(c, "0123456789", 10) != 10) {
                _exit(1);
            }
        }
        _exit(0);
    }
    EXPECT_EQ(recv(d, buf, 40, MSG_WAITALL), 40);
    EXPECT_MEMEQ(buf + 30, "0123456789", 10);
    int status;
    waitpid(pid, &status, 0);
    EXPECT_EQ(status, 0);
    // MSG_WAITALL ends early at EOF.
    EXPECT_EQ(write(c, "tail", 4), 4);
    shutdown(c, SHUT_WR);
    EXPECT_EQ(recv(d, buf, sizeof buf, MSG_WAITALL), 4);
    // SO_RCVTIMEO: a blocking read gives up with EAGAIN.
    close(c);
    close(d);
    pair(AF_INET, "127.0.0.1", &c, &d);
    struct timeval tv = {0, 20000};
    EXPECT_OK(setsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    EXPECT_ERRNO(read(d, buf, sizeof buf), EAGAIN);
    // SO_RCVLOWAT: poll reports input only once that much is there.
    int lowat = 6;
    EXPECT_OK(setsockopt(d, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat));
    EXPECT_EQ(write(c, "abc", 3), 3);
    settle();
    EXPECT_EQ(revents(d, POLLIN), 0);
    EXPECT_EQ(write(c, "def", 3), 3);
    settle();
    EXPECT_EQ(revents(d, POLLIN), POLLIN);
    EXPECT_EQ(read(d, buf, sizeof buf), 6);
    close(c);
    close(d);
}

static void corking(void) {
    NOTE("MSG_MORE and TCP_CORK hold back a partial segment");
    int c, d, one = 1, zero = 0;
    char buf[64];
    pair(AF_INET, "127.0.0.1", &c, &d);
    EXPECT_EQ(send(c, "ab", 2, MSG_MORE), 2);
    settle();
    EXPECT_ERRNO(recv(d, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    int n = -1;
    EXPECT_OK(ioctl(d, SIOCINQ, &n));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(send(c, "c", 1, 0), 1);
    settle();
    EXPECT_EQ(recv(d, buf, sizeof buf, MSG_DONTWAIT), 3);
    EXPECT_OK(setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one));
    EXPECT_EQ(write(c, "corked", 6), 6);
    settle();
    EXPECT_EQ(revents(d, POLLIN), 0);
    EXPECT_OK(setsockopt(c, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero));
    settle();
    EXPECT_EQ(recv(d, buf, sizeof buf, MSG_DONTWAIT), 6);
    // Held back no longer than about 200 ms.
    EXPECT_EQ(send(c, "late", 4, MSG_MORE), 4);
    struct pollfd p = {d, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0);
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 4);
    // A whole segment is not held back.
    static char big[40000];
    EXPECT_EQ(send(c, big, sizeof big, MSG_MORE), (ssize_t)sizeof big);
    settle();
    EXPECT_OK(ioctl(d, SIOCINQ, &n));
    EXPECT_GT(n, 0);
    close(c);
    close(d);
}

static void urgent(void) {
    NOTE("urgent data");
    int c, d, v;
    char buf[16];
    pair(AF_INET, "127.0.0.1", &c, &d);
    EXPECT_EQ(send(c, "abc", 3, MSG_OOB), 3);
    settle();
    EXPECT_EQ(revents(d, POLLIN | POLLPRI), POLLIN | POLLPRI);
    EXPECT_OK(ioctl(d, SIOCATMARK, &v));
    EXPECT_EQ(v, 0);
    EXPECT_OK(ioctl(d, SIOCINQ, &v));
    EXPECT_EQ(v, 2);
    // A read stops at the mark.
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 2);
    EXPECT_MEMEQ(buf, "ab", 2);
    EXPECT_OK(ioctl(d, SIOCATMARK, &v));
    EXPECT_EQ(v, 1);
    EXPECT_EQ(recv(d, buf, sizeof buf, MSG_OOB | MSG_PEEK), 1);
    EXPECT_EQ(recv(d, buf, sizeof buf, MSG_OOB), 1);
    EXPECT_EQ(buf[0], 'c');
    EXPECT_ERRNO(recv(d, buf, sizeof buf, MSG_OOB), EINVAL);
    EXPECT_EQ(revents(d, POLLIN | POLLPRI), 0);
    EXPECT_ERRNO(recv(d, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    // An urgent byte read past as data is gone.
    EXPECT_EQ(send(c, "xyz", 3, 0), 3);
    EXPECT_EQ(send(c, "A", 1, MSG_OOB), 1);
    EXPECT_EQ(send(c, "tail", 4, 0), 4);
    settle();
    EXPECT_OK(ioctl(d, SIOCINQ, &v));
    EXPECT_EQ(v, 3);
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 3);
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 4);
    EXPECT_MEMEQ(buf, "tail", 4);
    EXPECT_ERRNO(recv(d, buf, sizeof buf, MSG_OOB), EINVAL);
    // With SO_OOBINLINE the byte stays in the stream.
    int one = 1;
    EXPECT_OK(setsockopt(d, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one));
    EXPECT_EQ(send(c, "12", 2, MSG_OOB), 2);
    settle();
    EXPECT_ERRNO(recv(d, buf, sizeof buf, MSG_OOB), EINVAL);
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 1);
    EXPECT_OK(ioctl(d, SIOCATMARK, &v));
    EXPECT_EQ(v, 1);
    EXPECT_EQ(recv(d, buf, sizeof buf, 0), 1);
    EXPECT_EQ(buf[0], '2');
    close(c);
    close(d);
}

static void bulk(void) {
    NOTE("a megabyte through a child, in order");
    int c, d;
    pair(AF_INET, "127.0.0.1", &c, &d);
    pid_t pid = fork();
    if (pid == 0) {
        close(d);
        static unsigned char out[65536];
        for (int round = 0; round < 16; round++) {
            for (int i = 0; i < (int)sizeof out; i++) {
                out[i] = (unsigned char)(i * 7 + round);
            }
            size_t off = 0;
            while (off < sizeof out) {
                ssize_t n = write(c, out + off, sizeof out - off);
                if (n <= 0) {
                    _exit(1);
                }
                off += n;
            }
        }
        close(c);
        _exit(0);
    }
    close(c);
    static unsigned char in[65536];
    long total = 0;
    int bad = 0;
    for (;;) {
        ssize_t n = read(d, in, sizeof in);
        if (n <= 0) {
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            long at = total + i;
            if (in[i] != (unsigned char)((at % 65536) * 7 + at / 65536)) {
                bad++;
            }
        }
        total += n;
    }
    EXPECT_EQ(total, 16 * 65536);
    EXPECT_EQ(bad, 0);
    int status;
    waitpid(pid, &status, 0);
    EXPECT_EQ(status, 0);
    close(d);
}

static void backpressure(void) {
    NOTE("a writer blocks when the peer does not read");
    int c, d;
    pair(AF_INET, "127.0.0.1", &c, &d);
    fcntl(c, F_SETFL, O_NONBLOCK);
    static char chunk[65536];
    long total = 0;
    ssize_t n;
    while ((n = write(c, chunk, sizeof chunk)) > 0) {
        total += n;
    }
    EXPECT_ERRNO(write(c, chunk, sizeof chunk), EAGAIN);
    // Somewhere between the two buffers' sizes, as Linux's.
    EXPECT_GT(total, 100000);
    EXPECT_LT(total, 64 << 20);
    EXPECT_EQ(revents(c, POLLOUT), 0);
    int inq, outq;
    EXPECT_OK(ioctl(d, SIOCINQ, &inq));
    EXPECT_OK(ioctl(c, SIOCOUTQ, &outq));
    EXPECT_GT(inq, 0);
    EXPECT_GT(outq, 0);
    // Reading makes room.
    static char sink[1 << 20];
    long got = 0;
    while (got < total && (n = read(d, sink, sizeof sink)) > 0) {
        got += n;
        if (revents(c, POLLOUT)) {
            break;
        }
    }
    EXPECT_EQ(revents(c, POLLOUT), POLLOUT);
    close(c);
    close(d);
}

int main(void) {
    NOTE("echo over IPv4, IPv6 and IPv4-mapped addresses");
    echo_over(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
    echo_over(AF_INET6, "::1", AF_INET6, "::1");
    echo_over(AF_INET6, "::", AF_INET, "127.0.0.1");
    echo_over(AF_INET, "127.0.0.1", AF_INET6, "::ffff:127.0.0.1");
    names_and_errors();
    half_close();
    resets();
    nonblocking_connects();
    receive_flags();
    corking();
    urgent();
    bulk();
    backpressure();
    return guest_done();
}
