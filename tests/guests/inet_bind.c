// SPDX-License-Identifier: Apache-2.0
//
// Binding inet sockets: address checks and their errnos, ephemeral ports from
// ip_local_port_range, EADDRINUSE between every pair of IPv4/IPv6/dual-stack/v6-only binds,
// SO_REUSEADDR (and a server restarted right after closing, its port held by TIME_WAIT),
// SO_REUSEPORT, IPV6_V6ONLY. Ports are picked by the kernel (port 0) and reused from
// getsockname, so parallel runs never collide.

#include "guest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static int one = 1;

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} addr_t;

// "4:addr", "6:addr" (dual-stack) or "6o:addr" (IPV6_V6ONLY) bound at `port`; `reuse`: 1 for
// SO_REUSEADDR, 2 for SO_REUSEPORT too. Returns the socket or -errno.
static int bind_spec(int type, const char *spec, int port, int reuse) {
    int v6 = spec[0] == '6';
    int only = spec[1] == 'o';
    const char *ip = strchr(spec, ':') + 1;
    int s = socket(v6 ? AF_INET6 : AF_INET, type, 0);
    if (reuse >= 1) {
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (reuse >= 2) {
        setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (v6) {
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
    }
    addr_t a;
    memset(&a, 0, sizeof a);
    int r;
    if (v6) {
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &a.in6.sin6_addr);
        r = bind(s, &a.sa, sizeof a.in6);
    } else {
        a.in.sin_family = AF_INET;
        a.in.sin_port = htons(port);
        inet_pton(AF_INET, ip, &a.in.sin_addr);
        r = bind(s, &a.sa, sizeof a.in);
    }
    if (r < 0) {
        int e = errno;
        close(s);
        return -e;
    }
    return s;
}

static int port_of(int s) {
    addr_t a;
    socklen_t len = sizeof a;
    getsockname(s, &a.sa, &len);
    return ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
}

static void matrix(int type, int listening) {
    const char *specs[] = {"4:0.0.0.0", "4:127.0.0.1", "6:::", "6o:::", "6:::1",
                           "6:::ffff:127.0.0.1", "6:::ffff:0.0.0.0", "4:127.0.0.2"};
    // 1: the second bind fails with EADDRINUSE (as measured on Linux).
    const char *measured[] = {"11100111", "11100110", "11111111", "00111000",
                           "00111000", "11100110", "11100111", "10100011"};
    char line[64];
    for (int i = 0; i < 8; i++) {
        char got[9];
        for (int j = 0; j < 8; j++) {
            // Natively another process may hold the picked port in the family the first
            // socket leaves free (a v6-only or an IPv4 one): an EADDRINUSE where none is due is
            // tried again on another port. Inside the sandbox nothing else holds ports.
            for (int attempt = 0; attempt < 5; attempt++) {
                int a = bind_spec(type, specs[i], 0, 0);
                if (a < 0) {
                    got[j] = '?';
                    break;
                }
                if (listening && type == SOCK_STREAM) {
                    listen(a, 1);
                }
                int b = bind_spec(type, specs[j], port_of(a), 0);
                got[j] = b >= 0 ? '0' : b == -EADDRINUSE ? '1' : '?';
                if (b >= 0) {
                    close(b);
                }
                close(a);
                if (!(got[j] == '1' && measured[i][j] == '0')) {
                    break;
                }
            }
        }
        got[8] = 0;
        snprintf(line, sizeof line, "%s %s then each", type == SOCK_STREAM ? "tcp" : "udp",
                 specs[i]);
        guest_report(strcmp(got, measured[i]) == 0, line, "got %s, Linux %s", got, measured[i]);
    }
}

static void address_checks(void) {
    NOTE("address checks");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a - 1), EINVAL);
    a.sin_addr.s_addr = inet_addr("192.0.2.1");
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EADDRNOTAVAIL);
    a.sin_family = AF_UNSPEC;
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
    a.sin_family = AF_INET6;
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
    // AF_UNSPEC with INADDR_ANY is taken as AF_INET.
    a.sin_family = AF_UNSPEC;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    EXPECT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
    addr_t b;
    socklen_t len = sizeof b;
    EXPECT_OK(getsockname(s, &b.sa, &len));
    EXPECT_EQ(b.in.sin_family, AF_INET);
    int p = ntohs(b.in.sin_port);
    // The picked port lies in ip_local_port_range.
    int lo = 0, hi = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) {
            lo = hi = 0;
        }
        fclose(f);
    } else {
        lo = 32768;
        hi = 60999;
    }
    CHECK("bind(port 0) picks a port in ip_local_port_range", p >= lo && p <= hi);
    a.sin_family = AF_INET;
    EXPECT_ERRNO(bind(s, (struct sockaddr *)&a, sizeof a), EINVAL);
    close(s);
    // 127/8 is all local.
    s = socket(AF_INET, SOCK_DGRAM, 0);
    a.sin_addr.s_addr = inet_addr("127.1.2.3");
    EXPECT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
    close(s);

    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
    EXPECT_ERRNO(bind(s6, (struct sockaddr *)&a6, 23), EINVAL);
    // The RFC 2133 length, without the scope id, is enough.
    EXPECT_OK(bind(s6, (struct sockaddr *)&a6, 24));
    len = sizeof b;
    EXPECT_OK(getsockname(s6, &b.sa, &len));
    EXPECT_EQ(len, sizeof(struct sockaddr_in6));
    EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&b.in6.sin6_addr));
    // IPV6_V6ONLY is fixed once bound.
    EXPECT_ERRNO(setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), EINVAL);
    close(s6);
    s6 = socket(AF_INET6, SOCK_STREAM, 0);
    EXPECT_OK(setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    EXPECT_ERRNO(bind(s6, (struct sockaddr *)&a6, sizeof a6), EINVAL);
    inet_pton(AF_INET6, "fe80::1", &a6.sin6_addr);
    EXPECT_ERRNO(bind(s6, (struct sockaddr *)&a6, sizeof a6), EINVAL);
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    EXPECT_ERRNO(bind(s6, (struct sockaddr *)&a6, sizeof a6), EADDRNOTAVAIL);
    a6.sin6_family = AF_INET;
    EXPECT_ERRNO(bind(s6, (struct sockaddr *)&a6, sizeof a6), EAFNOSUPPORT);
    struct sockaddr_in small = {.sin_family = AF_INET6};
    EXPECT_ERRNO(bind(s6, (struct sockaddr *)&small, sizeof small), EINVAL);
    close(s6);
    // Privileged ports: the test runs as root natively and in the sandbox.
    s = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    a.sin_port = htons(0);
    EXPECT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
    close(s);
}

static void reuse(void) {
    NOTE("SO_REUSEADDR and TIME_WAIT");
    // A server: listener, one connection, the server closes first (its side holds the port
    // in TIME_WAIT), then it restarts on the same port.
    for (int with = 0; with < 2; with++) {
        int l = bind_spec(SOCK_STREAM, "4:127.0.0.1", 0, with);
        int port = port_of(l);
        listen(l, 5);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = inet_addr("127.0.0.1");
        int c = socket(AF_INET, SOCK_STREAM, 0);
        connect(c, (struct sockaddr *)&a, sizeof a);
        int d = accept(l, NULL, NULL);
        close(d);
        close(l);
        usleep(10000);
        char buf[4];
        EXPECT_EQ(read(c, buf, sizeof buf), 0);
        close(c);
        int again = bind_spec(SOCK_STREAM, "4:127.0.0.1", port, with);
        if (with) {
            CHECK("a server with SO_REUSEADDR binds its port again at once", again >= 0);
        } else {
            CHECK("a server without SO_REUSEADDR finds its port in TIME_WAIT", again == -EADDRINUSE);
        }
        if (again >= 0) {
            EXPECT_OK(listen(again, 5));
            close(again);
        }
    }
    // Two sockets with SO_REUSEADDR may bind one port, but only one may listen on it.
    int a = bind_spec(SOCK_STREAM, "4:127.0.0.1", 0, 1);
    int b = bind_spec(SOCK_STREAM, "4:127.0.0.1", port_of(a), 1);
    EXPECT_GE(b, 0);
    EXPECT_OK(listen(a, 1));
    EXPECT_ERRNO(listen(b, 1), EADDRINUSE);
    int c = bind_spec(SOCK_STREAM, "4:127.0.0.1", port_of(a), 1);
    EXPECT_EQ(c, -EADDRINUSE);
    close(a);
    close(b);
    // A connected socket holds its port: without SO_REUSEADDR nobody binds it.
    int l = bind_spec(SOCK_STREAM, "4:127.0.0.1", 0, 0);
    listen(l, 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port_of(l))};
    sa.sin_addr.s_addr = inet_addr("127.0.0.1");
    int cl = socket(AF_INET, SOCK_STREAM, 0);
    connect(cl, (struct sockaddr *)&sa, sizeof sa);
    int ac = accept(l, NULL, NULL);
    int taken = bind_spec(SOCK_STREAM, "4:127.0.0.1", port_of(cl), 0);
    EXPECT_EQ(taken, -EADDRINUSE);
    close(ac);
    close(cl);
    close(l);

    NOTE("SO_REUSEPORT");
    a = bind_spec(SOCK_STREAM, "4:127.0.0.1", 0, 2);
    b = bind_spec(SOCK_STREAM, "4:127.0.0.1", port_of(a), 2);
    EXPECT_GE(b, 0);
    EXPECT_OK(listen(a, 1));
    EXPECT_OK(listen(b, 1));
    close(a);
    close(b);
    a = bind_spec(SOCK_DGRAM, "4:127.0.0.1", 0, 2);
    b = bind_spec(SOCK_DGRAM, "4:127.0.0.1", port_of(a), 2);
    EXPECT_GE(b, 0);
    c = bind_spec(SOCK_DGRAM, "4:127.0.0.1", port_of(a), 0);
    EXPECT_EQ(c, -EADDRINUSE);
    close(a);
    close(b);
}

int main(void) {
    address_checks();
    NOTE("EADDRINUSE for every pair of binds");
    matrix(SOCK_STREAM, 0);
    matrix(SOCK_STREAM, 1);
    matrix(SOCK_DGRAM, 0);
    reuse();
    return guest_done();
}
