// SPDX-License-Identifier: Apache-2.0
//
// Inet socket options: round trips, defaults and errnos at SOL_SOCKET, SOL_IP, SOL_IPV6,
// SOL_TCP and SOL_UDP, as real programs set them (keepalive, linger, buffer sizes, TCP_NODELAY,
// TCP_CORK, keepalive timing, TCP_INFO, TCP_MAXSEG, TCP_USER_TIMEOUT, TCP_CONGESTION,
// TCP_DEFER_ACCEPT, TCP_FASTOPEN, IP_TOS, IP_TTL, IP_RECVERR, IPV6_V6ONLY, multicast options).

#include "guest.h"

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

// The states tcp_info reports (net/tcp_states.h; <linux/tcp.h> has the full tcp_info but not
// these).
enum { ST_ESTABLISHED = 1, ST_CLOSE = 7, ST_LISTEN = 10 };

static int geti(int s, int level, int name) {
    int v = -12345;
    socklen_t l = sizeof v;
    if (getsockopt(s, level, name, &v, &l) < 0) {
        return -1000 - errno;
    }
    return v;
}

static int seti(int s, int level, int name, int v) {
    return setsockopt(s, level, name, &v, sizeof v);
}

static void socket_level(void) {
    NOTE("SOL_SOCKET");
    int t = socket(AF_INET, SOCK_STREAM, 0);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    EXPECT_EQ(geti(u, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
    EXPECT_EQ(geti(u, SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
    EXPECT_EQ(geti(u, SOL_SOCKET, SO_DOMAIN), AF_INET);
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_ERROR), 0);
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_ACCEPTCONN), 0);
    // Linux's defaults: tcp_wmem[1], tcp_rmem[1]; wmem_default and rmem_default for UDP.
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_SNDBUF), 16384);
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_RCVBUF), 131072);
    EXPECT_EQ(geti(u, SOL_SOCKET, SO_SNDBUF), 212992);
    EXPECT_EQ(geti(u, SOL_SOCKET, SO_RCVBUF), 212992);
    // Doubled, with floors.
    EXPECT_OK(seti(t, SOL_SOCKET, SO_SNDBUF, 65536));
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_SNDBUF), 131072);
    EXPECT_OK(seti(t, SOL_SOCKET, SO_RCVBUF, 1000));
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_RCVBUF), 2304);
    EXPECT_OK(seti(t, SOL_SOCKET, SO_SNDBUF, 1000));
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_SNDBUF), 4608);
    EXPECT_OK(seti(t, SOL_SOCKET, SO_KEEPALIVE, 1));
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_OK(seti(u, SOL_SOCKET, SO_BROADCAST, 1));
    EXPECT_EQ(geti(u, SOL_SOCKET, SO_BROADCAST), 1);
    EXPECT_OK(seti(t, SOL_SOCKET, SO_REUSEADDR, 1));
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_REUSEADDR), 1);
    EXPECT_OK(seti(t, SOL_SOCKET, SO_REUSEPORT, 1));
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_REUSEPORT), 1);
    EXPECT_OK(seti(t, SOL_SOCKET, SO_OOBINLINE, 1));
    EXPECT_EQ(geti(t, SOL_SOCKET, SO_OOBINLINE), 1);
    struct linger lg = {1, 5}, back = {0, 0};
    socklen_t ll = sizeof back;
    EXPECT_OK(setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    EXPECT_OK(getsockopt(t, SOL_SOCKET, SO_LINGER, &back, &ll));
    EXPECT_EQ(back.l_onoff, 1);
    EXPECT_EQ(back.l_linger, 5);
    EXPECT_ERRNO(setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof lg - 1), EINVAL);
    struct timeval tv = {1, 500000}, tb;
    socklen_t tl = sizeof tb;
    EXPECT_OK(setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    EXPECT_OK(getsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tb, &tl));
    EXPECT_EQ(tb.tv_sec, 1);
    EXPECT_EQ(tb.tv_usec, 500000);
    tv.tv_usec = 1000000;
    EXPECT_ERRNO(setsockopt(t, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), EDOM);
    EXPECT_ERRNO(seti(t, SOL_SOCKET, 9999, 1), ENOPROTOOPT);
    EXPECT_ERRNO(setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, "", 0), EINVAL);
    EXPECT_ERRNO(seti(t, SOL_SOCKET, SO_TYPE, 1), ENOPROTOOPT);
    close(t);
    close(u);
}

static void tcp_level(void) {
    NOTE("SOL_TCP");
    int t = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_NODELAY), 0);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_NODELAY, 1));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_NODELAY), 1);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_CORK, 1));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_CORK), 1);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_KEEPINTVL), 75);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_KEEPCNT), 9);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_SYNCNT), 6);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_LINGER2), 60);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_QUICKACK), 1);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_WINDOW_CLAMP), 0);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_FASTOPEN), 0);
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_MAXSEG), 536);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_KEEPIDLE, 30));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_KEEPINTVL, 5));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_KEEPINTVL), 5);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_KEEPCNT, 3));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_KEEPCNT), 3);
    EXPECT_ERRNO(seti(t, IPPROTO_TCP, TCP_KEEPIDLE, 0), EINVAL);
    EXPECT_ERRNO(seti(t, IPPROTO_TCP, TCP_KEEPIDLE, 32768), EINVAL);
    EXPECT_ERRNO(seti(t, IPPROTO_TCP, TCP_KEEPCNT, 128), EINVAL);
    EXPECT_ERRNO(seti(t, IPPROTO_TCP, TCP_MAXSEG, 87), EINVAL);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_MAXSEG, 1400));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_MAXSEG), 1400);
    EXPECT_ERRNO(seti(t, IPPROTO_TCP, TCP_USER_TIMEOUT, -1), EINVAL);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_USER_TIMEOUT, 5000));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_USER_TIMEOUT), 5000);
    int one = 1;
    EXPECT_ERRNO(setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, 3), EINVAL);
    // Short buffers get what fits.
    int v = 0;
    socklen_t l = 2;
    EXPECT_OK(getsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, &l));
    EXPECT_EQ(l, 2);
    // TCP_DEFER_ACCEPT is kept as SYN-ACK retransmissions and read back rounded.
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_DEFER_ACCEPT, 3));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_DEFER_ACCEPT), 3);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_DEFER_ACCEPT), 7);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_FASTOPEN, 5));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_FASTOPEN), 5);
    EXPECT_ERRNO(seti(t, IPPROTO_TCP, TCP_FASTOPEN, -1), EINVAL);
    EXPECT_OK(seti(t, IPPROTO_TCP, TCP_LINGER2, 10));
    EXPECT_EQ(geti(t, IPPROTO_TCP, TCP_LINGER2), 10);
    char name[32];
    l = sizeof name;
    EXPECT_ERRNO(setsockopt(t, IPPROTO_TCP, TCP_CONGESTION, "nonesuch", 8), ENOENT);
    EXPECT_OK(setsockopt(t, IPPROTO_TCP, TCP_CONGESTION, "reno", 4));
    EXPECT_OK(getsockopt(t, IPPROTO_TCP, TCP_CONGESTION, name, &l));
    EXPECT_EQ(l, 16);
    EXPECT_STREQ(name, "reno");
    EXPECT_OK(setsockopt(t, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5));
    l = sizeof name;
    EXPECT_OK(getsockopt(t, IPPROTO_TCP, TCP_CONGESTION, name, &l));
    EXPECT_STREQ(name, "cubic");
    struct tcp_info ti;
    l = sizeof ti;
    EXPECT_OK(getsockopt(t, IPPROTO_TCP, TCP_INFO, &ti, &l));
    EXPECT_EQ(ti.tcpi_state, ST_CLOSE);
    l = 1;
    EXPECT_OK(getsockopt(t, IPPROTO_TCP, TCP_INFO, &ti, &l));
    EXPECT_EQ(l, 1);
    EXPECT_ERRNO(seti(t, IPPROTO_TCP, 99, 1), ENOPROTOOPT);
    EXPECT_EQ(geti(t, IPPROTO_TCP, 99), -1000 - ENOPROTOOPT);
    // TCP and UDP levels on the wrong protocol.
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_ERRNO(seti(u, IPPROTO_TCP, TCP_NODELAY, 1), ENOPROTOOPT);
    EXPECT_EQ(geti(u, IPPROTO_TCP, TCP_NODELAY), -1000 - EOPNOTSUPP);
    EXPECT_EQ(geti(t, IPPROTO_UDP, UDP_CORK), -1000 - EOPNOTSUPP);
    EXPECT_EQ(geti(u, IPPROTO_UDP, UDP_CORK), 0);
    close(u);

    NOTE("a connection's TCP_INFO and TCP_MAXSEG");
    int l2 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    bind(l2, (struct sockaddr *)&a, al);
    listen(l2, 1);
    getsockname(l2, (struct sockaddr *)&a, &al);
    EXPECT_EQ(geti(l2, SOL_SOCKET, SO_ACCEPTCONN), 1);
    l = sizeof ti;
    EXPECT_OK(getsockopt(l2, IPPROTO_TCP, TCP_INFO, &ti, &l));
    EXPECT_EQ(ti.tcpi_state, ST_LISTEN);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    seti(c, SOL_SOCKET, SO_KEEPALIVE, 1);
    seti(c, IPPROTO_TCP, TCP_NODELAY, 1);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, sizeof a));
    int d = accept(l2, NULL, NULL);
    // Options set on the listener pass to what it accepts.
    EXPECT_EQ(geti(d, SOL_SOCKET, SO_KEEPALIVE), 0);
    l = sizeof ti;
    EXPECT_OK(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &l));
    EXPECT_EQ(ti.tcpi_state, ST_ESTABLISHED);
    EXPECT_GT(geti(c, IPPROTO_TCP, TCP_MAXSEG), 536);
    EXPECT_EQ(write(c, "12345", 5), 5);
    usleep(10000);
    l = sizeof ti;
    EXPECT_OK(getsockopt(d, IPPROTO_TCP, TCP_INFO, &ti, &l));
    EXPECT_EQ(ti.tcpi_bytes_received, 5);
    l = sizeof ti;
    EXPECT_OK(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &l));
    // The SYN counts.
    EXPECT_EQ(ti.tcpi_bytes_acked, 5 + 1);
    EXPECT_EQ(ti.tcpi_unacked, 0);
    // An unlocked send buffer grows with the connection.
    EXPECT_GT(geti(c, SOL_SOCKET, SO_SNDBUF), 16384);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    EXPECT_EQ(cr.pid, 0);
    close(c);
    close(d);
    close(l2);
    close(t);
}

static void ip_level(void) {
    NOTE("SOL_IP");
    int t = socket(AF_INET, SOCK_STREAM, 0);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_TTL), 64);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_TOS), 0);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_MTU_DISCOVER), IP_PMTUDISC_WANT);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_MULTICAST_TTL), 1);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_MULTICAST_LOOP), 1);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_MULTICAST_ALL), 1);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_RECVERR), 0);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_MTU), -1000 - ENOTCONN);
    EXPECT_OK(seti(u, IPPROTO_IP, IP_TTL, 7));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_TTL), 7);
    unsigned char c = 9;
    EXPECT_OK(setsockopt(u, IPPROTO_IP, IP_TTL, &c, 1));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_TTL), 9);
    // A short buffer gets the value as one byte.
    unsigned char out = 0;
    socklen_t l = 1;
    EXPECT_OK(getsockopt(u, IPPROTO_IP, IP_TTL, &out, &l));
    EXPECT_EQ(l, 1);
    EXPECT_EQ(out, 9);
    EXPECT_OK(seti(u, IPPROTO_IP, IP_TTL, -1));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_TTL), 64);
    EXPECT_ERRNO(seti(u, IPPROTO_IP, IP_TTL, 0), EINVAL);
    EXPECT_ERRNO(seti(u, IPPROTO_IP, IP_TTL, 256), EINVAL);
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IP, IP_TTL, &c, 0), EINVAL);
    // TCP keeps the ECN bits of the TOS to itself.
    EXPECT_OK(seti(t, IPPROTO_IP, IP_TOS, 0xff));
    EXPECT_EQ(geti(t, IPPROTO_IP, IP_TOS), 0xfc);
    EXPECT_OK(seti(u, IPPROTO_IP, IP_TOS, 0xff));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_TOS), 0xff);
    EXPECT_OK(seti(u, IPPROTO_IP, IP_RECVERR, 1));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_RECVERR), 1);
    EXPECT_OK(seti(t, IPPROTO_IP, IP_RECVERR, 1));
    EXPECT_OK(seti(u, IPPROTO_IP, IP_PKTINFO, 1));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_PKTINFO), 1);
    EXPECT_ERRNO(seti(u, IPPROTO_IP, IP_MTU_DISCOVER, 9), EINVAL);
    EXPECT_OK(seti(u, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_MTU_DISCOVER), IP_PMTUDISC_DO);
    EXPECT_OK(seti(u, IPPROTO_IP, IP_MULTICAST_TTL, 5));
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_MULTICAST_TTL), 5);
    EXPECT_ERRNO(seti(t, IPPROTO_IP, IP_MULTICAST_TTL, 5), EINVAL);
    EXPECT_OK(seti(t, IPPROTO_IP, IP_MULTICAST_LOOP, 0));
    struct in_addr lo = {htonl(INADDR_LOOPBACK)}, got;
    EXPECT_OK(setsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo));
    l = sizeof got;
    EXPECT_OK(getsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &got, &l));
    EXPECT_EQ(l, 4);
    EXPECT_EQ(got.s_addr, lo.s_addr);
    struct in_addr bad = {inet_addr("192.0.2.7")};
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &bad, sizeof bad), EADDRNOTAVAIL);
    EXPECT_ERRNO(setsockopt(t, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo), EINVAL);
    struct ip_mreqn m = {.imr_ifindex = 0};
    m.imr_multiaddr.s_addr = inet_addr("239.1.2.3");
    m.imr_address = lo;
    EXPECT_ERRNO(setsockopt(t, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m), EPROTO);
    // The protocol-independent form works on any inet socket (LTP accept02).
    struct group_req gr;
    memset(&gr, 0, sizeof gr);
    struct sockaddr_in *ga = (struct sockaddr_in *)&gr.gr_group;
    ga->sin_family = AF_INET;
    ga->sin_addr.s_addr = inet_addr("239.1.2.4");
    EXPECT_OK(setsockopt(t, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr));
    EXPECT_ERRNO(setsockopt(t, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr), EADDRINUSE);
    EXPECT_OK(setsockopt(t, IPPROTO_IP, MCAST_LEAVE_GROUP, &gr, sizeof gr));
    EXPECT_ERRNO(setsockopt(t, IPPROTO_IP, MCAST_LEAVE_GROUP, &gr, sizeof gr), EADDRNOTAVAIL);
    EXPECT_ERRNO(setsockopt(t, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr - 1), EINVAL);
    ga->sin_family = AF_INET6;
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof gr), EINVAL);
    m.imr_ifindex = 9999;
    m.imr_address.s_addr = 0;
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m), ENODEV);
    char opts[8];
    l = sizeof opts;
    EXPECT_OK(getsockopt(u, IPPROTO_IP, IP_OPTIONS, opts, &l));
    EXPECT_EQ(l, 0);
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_PKTOPTIONS), -1000 - ENOPROTOOPT);
    EXPECT_ERRNO(seti(u, IPPROTO_IP, IP_HDRINCL, 1), ENOPROTOOPT);
    EXPECT_ERRNO(seti(u, IPPROTO_IP, 99, 1), ENOPROTOOPT);
    EXPECT_EQ(geti(u, IPPROTO_IP, -1), -1000 - ENOPROTOOPT);
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_V6ONLY), -1000 - EOPNOTSUPP);
    close(t);
    close(u);
}

static void ipv6_level(void) {
    NOTE("SOL_IPV6");
    int u = socket(AF_INET6, SOCK_DGRAM, 0);
    int t = socket(AF_INET6, SOCK_STREAM, 0);
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_V6ONLY), 0);
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 64);
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 1);
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_MULTICAST_LOOP), 1);
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_TCLASS), 0);
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_MTU_DISCOVER), IP_PMTUDISC_WANT);
    // An IPv6 socket takes the IPv4 options too.
    EXPECT_EQ(geti(u, IPPROTO_IP, IP_TTL), 64);
    EXPECT_OK(seti(u, IPPROTO_IPV6, IPV6_V6ONLY, 1));
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    int one = 1;
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, 2), EINVAL);
    EXPECT_ERRNO(seti(u, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 2), EINVAL);
    EXPECT_OK(seti(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9));
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 9);
    EXPECT_ERRNO(seti(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 256), EINVAL);
    EXPECT_OK(seti(u, IPPROTO_IPV6, IPV6_TCLASS, 0x20));
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_TCLASS), 0x20);
    EXPECT_OK(seti(u, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1));
    EXPECT_EQ(geti(u, IPPROTO_IPV6, IPV6_RECVPKTINFO), 1);
    EXPECT_ERRNO(seti(t, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1), ENOPROTOOPT);
    struct ipv6_mreq m = {.ipv6mr_interface = 1};
    inet_pton(AF_INET6, "ff02::1:2", &m.ipv6mr_multiaddr);
    EXPECT_ERRNO(setsockopt(t, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m), EPROTO);
    EXPECT_OK(setsockopt(u, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m));
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m), EADDRINUSE);
    EXPECT_OK(setsockopt(u, IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, &m, sizeof m));
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, &m, sizeof m), EADDRNOTAVAIL);
    inet_pton(AF_INET6, "2001:db8::1", &m.ipv6mr_multiaddr);
    EXPECT_ERRNO(setsockopt(u, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m), EINVAL);
    int v = 0;
    socklen_t l = 2;
    EXPECT_OK(getsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l));
    EXPECT_EQ(l, 2);
    EXPECT_EQ(geti(u, 99, 1), -1000 - ENOPROTOOPT);
    close(t);
    close(u);
}

int main(void) {
    socket_level();
    tcp_level();
    ip_level();
    ipv6_level();
    return guest_done();
}
