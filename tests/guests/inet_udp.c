// SPDX-License-Identifier: Apache-2.0
//
// UDP over loopback: datagram boundaries, MSG_TRUNC and MSG_PEEK, source addresses (IPv4,
// IPv6, IPv4-mapped), connected sockets' filtering, ECONNREFUSED after a datagram nobody took,
// disconnecting, broadcast (SO_BROADCAST) and multicast on loopback (IP_MULTICAST_LOOP),
// IP_PKTINFO/IP_RECVTTL/IP_RECVTOS and IPV6_RECVPKTINFO control messages, how SO_RCVBUF bounds
// the queue, UDP_CORK and MSG_MORE, shutdown, readiness, sendmmsg/recvmmsg.

#include "guest.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int one = 1;

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} addr_t;

static int udp_bound(int family, const char *ip, addr_t *a) {
    int s = socket(family, SOCK_DGRAM, 0);
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
    if (bind(s, &a->sa, len) < 0 || getsockname(s, &a->sa, &len) < 0) {
        printf("# bind failed: %s\n", strerror(errno));
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

static int drain(int s) {
    char buf[65536];
    int n = 0;
    while (recv(s, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
        n++;
    }
    return n;
}

static void boundaries(void) {
    NOTE("datagram boundaries, MSG_TRUNC, MSG_PEEK");
    addr_t a, from;
    int r = udp_bound(AF_INET, "127.0.0.1", &a);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    char buf[64];
    EXPECT_EQ(revents(s, POLLIN | POLLOUT), POLLOUT);
    EXPECT_EQ(revents(r, POLLIN | POLLOUT), POLLOUT);
    EXPECT_EQ(sendto(s, "first", 5, 0, &a.sa, alen(&a)), 5);
    EXPECT_EQ(sendto(s, "second!", 7, 0, &a.sa, alen(&a)), 7);
    EXPECT_EQ(sendto(s, "", 0, 0, &a.sa, alen(&a)), 0);
    EXPECT_EQ(revents(r, POLLIN | POLLOUT), POLLIN | POLLOUT);
    int n;
    EXPECT_OK(ioctl(r, FIONREAD, &n));
    EXPECT_EQ(n, 5);
    EXPECT_OK(ioctl(s, SIOCOUTQ, &n));
    EXPECT_EQ(n, 0);
    socklen_t flen = sizeof from;
    EXPECT_EQ(recvfrom(r, buf, sizeof buf, MSG_PEEK, &from.sa, &flen), 5);
    EXPECT_EQ(flen, sizeof(struct sockaddr_in));
    addr_t sname;
    socklen_t slen = sizeof sname;
    EXPECT_OK(getsockname(s, &sname.sa, &slen));
    EXPECT_NE(sname.in.sin_port, 0);
    EXPECT_EQ(from.in.sin_port, sname.in.sin_port);
    EXPECT_EQ(from.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    EXPECT_EQ(recv(r, buf, sizeof buf, 0), 5);
    EXPECT_MEMEQ(buf, "first", 5);
    // A short buffer cuts the datagram; the rest is gone. MSG_TRUNC gives the real length.
    struct iovec iov = {buf, 3};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    EXPECT_EQ(recvmsg(r, &m, MSG_PEEK), 3);
    EXPECT_EQ(m.msg_flags & MSG_TRUNC, MSG_TRUNC);
    EXPECT_EQ(recv(r, buf, 3, MSG_TRUNC), 7);
    EXPECT_EQ(recv(r, buf, sizeof buf, 0), 0);
    EXPECT_ERRNO(recv(r, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(revents(r, POLLIN), 0);

    NOTE("send errors");
    static char big[65536];
    EXPECT_ERRNO(sendto(s, big, 65508, 0, &a.sa, alen(&a)), EMSGSIZE);
    EXPECT_EQ(sendto(s, big, 65507, 0, &a.sa, alen(&a)), 65507);
    EXPECT_EQ(recv(r, big, sizeof big, 0), 65507);
    EXPECT_ERRNO(send(s, "x", 1, 0), EDESTADDRREQ);
    struct sockaddr_in zero = a.in;
    zero.sin_port = 0;
    EXPECT_ERRNO(sendto(s, "x", 1, 0, (struct sockaddr *)&zero, sizeof zero), EINVAL);
    EXPECT_ERRNO(sendto(s, "x", 1, 0, &a.sa, sizeof a.in - 1), EINVAL);
    struct sockaddr_in other = a.in;
    other.sin_family = AF_INET6;
    EXPECT_ERRNO(sendto(s, "x", 1, 0, (struct sockaddr *)&other, sizeof other), EAFNOSUPPORT);
    // AF_UNSPEC is taken as AF_INET by sendto.
    other.sin_family = AF_UNSPEC;
    EXPECT_EQ(sendto(s, "u", 1, 0, (struct sockaddr *)&other, sizeof other), 1);
    EXPECT_EQ(recv(r, buf, sizeof buf, 0), 1);
    EXPECT_ERRNO(sendto(s, "x", 1, MSG_OOB, &a.sa, alen(&a)), EOPNOTSUPP);
    EXPECT_ERRNO(recv(r, buf, sizeof buf, MSG_ERRQUEUE), EAGAIN);
    // recvfrom checks the address length even when the socket has no address to give.
    EXPECT_EQ(sendto(s, "y", 1, 0, &a.sa, alen(&a)), 1);
    socklen_t neg = -1;
    EXPECT_ERRNO(recvfrom(r, buf, sizeof buf, 0, &from.sa, &neg), EINVAL);
    EXPECT_ERRNO(listen(s, 1), EOPNOTSUPP);
    EXPECT_ERRNO(accept(s, NULL, NULL), EOPNOTSUPP);
    close(s);
    close(r);
}

static void families(void) {
    NOTE("IPv6 and IPv4-mapped sources");
    addr_t a, from;
    char buf[16];
    int r6 = udp_bound(AF_INET6, "::", &a);
    int s4 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to4 = {.sin_family = AF_INET, .sin_port = a.in6.sin6_port};
    to4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(sendto(s4, "v4", 2, 0, (struct sockaddr *)&to4, sizeof to4), 2);
    socklen_t flen = sizeof from;
    EXPECT_EQ(recvfrom(r6, buf, sizeof buf, 0, &from.sa, &flen), 2);
    EXPECT_EQ(flen, sizeof(struct sockaddr_in6));
    EXPECT_EQ(from.sa.sa_family, AF_INET6);
    EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&from.in6.sin6_addr));
    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = a.in6.sin6_port};
    to6.sin6_addr = in6addr_loopback;
    EXPECT_EQ(sendto(s6, "v6", 2, 0, (struct sockaddr *)&to6, sizeof to6), 2);
    flen = sizeof from;
    EXPECT_EQ(recvfrom(r6, buf, sizeof buf, 0, &from.sa, &flen), 2);
    EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&from.in6.sin6_addr));
    // A v6-only socket does not hear IPv4.
    close(r6);
    int o6 = socket(AF_INET6, SOCK_DGRAM, 0);
    EXPECT_OK(setsockopt(o6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    EXPECT_OK(bind(o6, &a.sa, sizeof a.in6));
    EXPECT_EQ(sendto(s4, "v4", 2, 0, (struct sockaddr *)&to4, sizeof to4), 2);
    EXPECT_ERRNO(recv(o6, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(sendto(s6, "v6", 2, 0, (struct sockaddr *)&to6, sizeof to6), 2);
    EXPECT_EQ(recv(o6, buf, sizeof buf, MSG_DONTWAIT), 2);
    close(o6);
    close(s4);
    close(s6);
}

static void connected(void) {
    NOTE("connected sockets");
    addr_t a, b, p;
    char buf[16];
    int r = udp_bound(AF_INET, "127.0.0.1", &a);
    int s = udp_bound(AF_INET, "127.0.0.1", &b);
    int other = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t plen = sizeof p;
    EXPECT_ERRNO(getpeername(r, &p.sa, &plen), ENOTCONN);
    EXPECT_OK(connect(r, &b.sa, alen(&b)));
    plen = sizeof p;
    EXPECT_OK(getpeername(r, &p.sa, &plen));
    EXPECT_MEMEQ(&p, &b, sizeof b.in);
    // Only the peer's datagrams come in.
    EXPECT_EQ(sendto(other, "no", 2, 0, &a.sa, alen(&a)), 2);
    EXPECT_EQ(sendto(s, "yes", 3, 0, &a.sa, alen(&a)), 3);
    EXPECT_EQ(recv(r, buf, sizeof buf, MSG_DONTWAIT), 3);
    EXPECT_ERRNO(recv(r, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    // send() goes to the peer; sendto() may still name another address.
    EXPECT_EQ(send(r, "back", 4, 0), 4);
    EXPECT_EQ(recv(s, buf, sizeof buf, MSG_DONTWAIT), 4);
    // Connecting picks the local address.
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_OK(connect(c, &a.sa, alen(&a)));
    plen = sizeof p;
    EXPECT_OK(getsockname(c, &p.sa, &plen));
    EXPECT_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    EXPECT_NE(p.in.sin_port, 0);

    NOTE("ECONNREFUSED when nobody listens");
    int gone = udp_bound(AF_INET, "127.0.0.1", &p);
    close(gone);
    EXPECT_OK(connect(c, &p.sa, alen(&p)));
    EXPECT_EQ(send(c, "lost", 4, 0), 4);
    EXPECT_EQ(revents(c, POLLIN | POLLOUT), POLLOUT | POLLERR);
    EXPECT_ERRNO(recv(c, buf, sizeof buf, MSG_DONTWAIT), ECONNREFUSED);
    EXPECT_ERRNO(recv(c, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(send(c, "lost", 4, 0), 4);
    EXPECT_ERRNO(send(c, "lost", 4, 0), ECONNREFUSED);
    EXPECT_EQ(send(c, "lost", 4, 0), 4);
    int v;
    socklen_t vl = sizeof v;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    EXPECT_EQ(v, ECONNREFUSED);
    // An unconnected sender hears nothing of it.
    EXPECT_EQ(sendto(other, "lost", 4, 0, &p.sa, alen(&p)), 4);
    EXPECT_EQ(revents(other, POLLIN | POLLOUT), POLLOUT);

    NOTE("connect(AF_UNSPEC) disconnects");
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    EXPECT_OK(connect(r, &unspec, sizeof unspec));
    plen = sizeof p;
    EXPECT_ERRNO(getpeername(r, &p.sa, &plen), ENOTCONN);
    // Its port was picked (bind to port 0), so it goes; the address it asked for stays.
    plen = sizeof p;
    EXPECT_OK(getsockname(r, &p.sa, &plen));
    EXPECT_EQ(p.in.sin_port, 0);
    EXPECT_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    EXPECT_EQ(sendto(other, "now", 3, 0, &a.sa, alen(&a)), 3);
    EXPECT_ERRNO(recv(r, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_ERRNO(send(r, "x", 1, 0), EDESTADDRREQ);
    // A socket bound to a port it named keeps it.
    addr_t k;
    int keep = udp_bound(AF_INET, "127.0.0.1", &k);
    close(keep);
    keep = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_OK(bind(keep, &k.sa, alen(&k)));
    EXPECT_OK(connect(keep, &b.sa, alen(&b)));
    EXPECT_OK(connect(keep, &unspec, sizeof unspec));
    EXPECT_EQ(sendto(other, "now", 3, 0, &k.sa, alen(&k)), 3);
    EXPECT_EQ(recv(keep, buf, sizeof buf, MSG_DONTWAIT), 3);
    close(keep);
    close(c);
    close(r);
    close(s);
    close(other);
}

static void broadcast_and_multicast(void) {
    NOTE("broadcast on the loopback network");
    addr_t a;
    char buf[16];
    int r = udp_bound(AF_INET, "0.0.0.0", &a);
    int narrow = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(narrow, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(r, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in n = {.sin_family = AF_INET, .sin_port = a.in.sin_port};
    n.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_OK(bind(narrow, (struct sockaddr *)&n, sizeof n));
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in bc = {.sin_family = AF_INET, .sin_port = a.in.sin_port};
    bc.sin_addr.s_addr = inet_addr("127.255.255.255");
    EXPECT_ERRNO(sendto(s, "all", 3, 0, (struct sockaddr *)&bc, sizeof bc), EACCES);
    EXPECT_ERRNO(connect(s, (struct sockaddr *)&bc, sizeof bc), EACCES);
    EXPECT_OK(setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one));
    EXPECT_EQ(sendto(s, "all", 3, 0, (struct sockaddr *)&bc, sizeof bc), 3);
    EXPECT_EQ(recv(r, buf, sizeof buf, MSG_DONTWAIT), 3);
    // A socket bound to one address does not get broadcasts.
    EXPECT_ERRNO(recv(narrow, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    close(narrow);
    close(s);
    close(r);

    NOTE("multicast on the loopback");
    r = udp_bound(AF_INET, "0.0.0.0", &a);
    int r2 = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(r2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(r, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = a.in.sin_port};
    EXPECT_OK(bind(r2, (struct sockaddr *)&any, sizeof any));
    int off = 0;
    EXPECT_OK(setsockopt(r2, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off));
    struct ip_mreqn mr = {.imr_ifindex = 0};
    mr.imr_multiaddr.s_addr = inet_addr("239.255.77.77");
    mr.imr_address.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_OK(setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr));
    EXPECT_ERRNO(setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr), EADDRINUSE);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    EXPECT_OK(setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo));
    struct sockaddr_in grp = {.sin_family = AF_INET, .sin_port = a.in.sin_port};
    grp.sin_addr = mr.imr_multiaddr;
    EXPECT_EQ(sendto(s, "mc", 2, 0, (struct sockaddr *)&grp, sizeof grp), 2);
    usleep(10000);
    EXPECT_EQ(recv(r, buf, sizeof buf, MSG_DONTWAIT), 2);
    // Not a member, and IP_MULTICAST_ALL off: nothing for r2.
    EXPECT_ERRNO(recv(r2, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    // Sent out of the loopback itself, a group's datagrams come back whatever
    // IP_MULTICAST_LOOP says (it governs the copy a real interface loops back).
    unsigned char loop = 0;
    EXPECT_OK(setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop));
    EXPECT_EQ(sendto(s, "mc", 2, 0, (struct sockaddr *)&grp, sizeof grp), 2);
    usleep(10000);
    EXPECT_EQ(recv(r, buf, sizeof buf, MSG_DONTWAIT), 2);
    EXPECT_OK(setsockopt(r, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof mr));
    EXPECT_ERRNO(setsockopt(r, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof mr), EADDRNOTAVAIL);
    mr.imr_multiaddr.s_addr = inet_addr("10.0.0.1");
    EXPECT_ERRNO(setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr), EINVAL);
    EXPECT_ERRNO(setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, 7), EINVAL);
    close(r);
    close(r2);
    close(s);
}

static void control_messages(void) {
    NOTE("IP_PKTINFO, IP_RECVTTL, IP_RECVTOS");
    addr_t a;
    int r = udp_bound(AF_INET, "0.0.0.0", &a);
    EXPECT_OK(setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof one));
    EXPECT_OK(setsockopt(r, IPPROTO_IP, IP_RECVTTL, &one, sizeof one));
    EXPECT_OK(setsockopt(r, IPPROTO_IP, IP_RECVTOS, &one, sizeof one));
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int ttl = 7, tos = 0x10;
    EXPECT_OK(setsockopt(s, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl));
    EXPECT_OK(setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof tos));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = a.in.sin_port};
    to.sin_addr.s_addr = inet_addr("127.0.0.9");
    EXPECT_EQ(sendto(s, "cm", 2, 0, (struct sockaddr *)&to, sizeof to), 2);
    char buf[16];
    char ctl[256];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof ctl};
    EXPECT_EQ(recvmsg(r, &m, 0), 2);
    int seen = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            EXPECT_EQ(pi.ipi_ifindex, (int)if_nametoindex("lo"));
            EXPECT_EQ(pi.ipi_addr.s_addr, inet_addr("127.0.0.9"));
            EXPECT_EQ(pi.ipi_spec_dst.s_addr, inet_addr("127.0.0.9"));
            seen |= 1;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
            int v;
            memcpy(&v, CMSG_DATA(c), sizeof v);
            EXPECT_EQ(v, 7);
            seen |= 2;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
            EXPECT_EQ(*CMSG_DATA(c), 0x10);
            EXPECT_EQ(c->cmsg_len, CMSG_LEN(1));
            seen |= 4;
        }
    }
    EXPECT_EQ(seen, 7);
    // A per-datagram TTL; a bad one is refused.
    char sctl[CMSG_SPACE(sizeof(int))];
    memset(sctl, 0, sizeof sctl);
    struct msghdr sm = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov,
                        .msg_iovlen = 1, .msg_control = sctl, .msg_controllen = sizeof sctl};
    iov.iov_len = 2;
    struct cmsghdr *c = CMSG_FIRSTHDR(&sm);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_TTL;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int t = 3;
    memcpy(CMSG_DATA(c), &t, sizeof t);
    EXPECT_EQ(sendmsg(s, &sm, 0), 2);
    t = 0;
    memcpy(CMSG_DATA(c), &t, sizeof t);
    EXPECT_ERRNO(sendmsg(s, &sm, 0), EINVAL);
    m.msg_controllen = sizeof ctl;
    iov.iov_len = sizeof buf;
    EXPECT_EQ(recvmsg(r, &m, 0), 2);
    c = CMSG_FIRSTHDR(&m);
    int ttl_seen = -1;
    for (; c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_type == IP_TTL) {
            memcpy(&ttl_seen, CMSG_DATA(c), sizeof ttl_seen);
        }
    }
    EXPECT_EQ(ttl_seen, 3);
    // Too little room for them: MSG_CTRUNC.
    EXPECT_EQ(sendto(s, "cm", 2, 0, (struct sockaddr *)&to, sizeof to), 2);
    m.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
    EXPECT_EQ(recvmsg(r, &m, 0), 2);
    EXPECT_EQ(m.msg_flags & MSG_CTRUNC, MSG_CTRUNC);
    close(r);
    close(s);

    NOTE("IPV6_RECVPKTINFO");
    r = udp_bound(AF_INET6, "::1", &a);
    EXPECT_OK(setsockopt(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one));
    s = socket(AF_INET6, SOCK_DGRAM, 0);
    EXPECT_EQ(sendto(s, "six", 3, 0, &a.sa, sizeof a.in6), 3);
    m.msg_controllen = sizeof ctl;
    EXPECT_EQ(recvmsg(r, &m, 0), 3);
    c = CMSG_FIRSTHDR(&m);
    EXPECT_TRUE(c != NULL && c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO);
    if (c != NULL) {
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&pi.ipi6_addr));
        EXPECT_EQ(pi.ipi6_ifindex, (int)if_nametoindex("lo"));
    }
    close(r);
    close(s);
}

static void buffers(void) {
    NOTE("SO_RCVBUF bounds the queue");
    addr_t a;
    int r = udp_bound(AF_INET, "127.0.0.1", &a);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int v;
    socklen_t vl = sizeof v;
    EXPECT_OK(getsockopt(r, SOL_SOCKET, SO_RCVBUF, &v, &vl));
    EXPECT_EQ(v, 212992);
    EXPECT_OK(getsockopt(r, SOL_SOCKET, SO_SNDBUF, &v, &vl));
    EXPECT_EQ(v, 212992);
    int sz = 4096;
    EXPECT_OK(setsockopt(r, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz));
    for (int i = 0; i < 20; i++) {
        sendto(s, "x", 1, 0, &a.sa, alen(&a));
    }
    // Linux charges each loopback datagram's buffer (832 bytes for a small one) against the
    // doubled 8192.
    EXPECT_EQ(drain(r), 9);
    static char kb[1000];
    for (int i = 0; i < 20; i++) {
        sendto(s, kb, sizeof kb, 0, &a.sa, alen(&a));
    }
    EXPECT_EQ(drain(r), 3);
    // One datagram is always taken, however large.
    static char big[30000];
    EXPECT_EQ(sendto(s, big, sizeof big, 0, &a.sa, alen(&a)), (ssize_t)sizeof big);
    EXPECT_EQ(sendto(s, big, sizeof big, 0, &a.sa, alen(&a)), (ssize_t)sizeof big);
    EXPECT_EQ(drain(r), 1);
    close(r);
    close(s);
}

static void cork_and_shutdown(void) {
    NOTE("UDP_CORK and MSG_MORE");
    addr_t a;
    char buf[32];
    int r = udp_bound(AF_INET, "127.0.0.1", &a);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_OK(connect(s, &a.sa, alen(&a)));
    EXPECT_EQ(send(s, "ab", 2, MSG_MORE), 2);
    EXPECT_EQ(send(s, "cd", 2, MSG_MORE), 2);
    EXPECT_ERRNO(recv(r, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(send(s, "ef", 2, 0), 2);
    EXPECT_EQ(recv(r, buf, sizeof buf, MSG_DONTWAIT), 6);
    EXPECT_MEMEQ(buf, "abcdef", 6);
    EXPECT_OK(setsockopt(s, IPPROTO_UDP, UDP_CORK, &one, sizeof one));
    EXPECT_EQ(send(s, "12", 2, 0), 2);
    EXPECT_EQ(send(s, "34", 2, 0), 2);
    EXPECT_ERRNO(recv(r, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    int off = 0;
    EXPECT_OK(setsockopt(s, IPPROTO_UDP, UDP_CORK, &off, sizeof off));
    EXPECT_EQ(recv(r, buf, sizeof buf, MSG_DONTWAIT), 4);
    int v = -1;
    socklen_t vl = sizeof v;
    EXPECT_OK(getsockopt(s, IPPROTO_UDP, UDP_CORK, &v, &vl));
    EXPECT_EQ(v, 0);
    close(s);

    NOTE("shutdown of an unconnected socket");
    EXPECT_ERRNO(shutdown(r, SHUT_RD), ENOTCONN);
    // The flag is set all the same.
    EXPECT_EQ(revents(r, POLLIN | POLLOUT | POLLRDHUP), POLLIN | POLLOUT | POLLRDHUP);
    EXPECT_EQ(recv(r, buf, sizeof buf, 0), 0);
    EXPECT_ERRNO(shutdown(r, SHUT_WR), ENOTCONN);
    EXPECT_EQ(revents(r, POLLIN | POLLOUT | POLLRDHUP), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
    EXPECT_ERRNO(sendto(r, "x", 1, 0, &a.sa, alen(&a)), EPIPE);
    close(r);

    NOTE("sendmmsg and recvmmsg");
    r = udp_bound(AF_INET, "127.0.0.1", &a);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    connect(s, &a.sa, alen(&a));
    struct iovec iv[3] = {{"one", 3}, {"two2", 4}, {"three", 5}};
    struct mmsghdr mm[3];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &iv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    EXPECT_EQ(sendmmsg(s, mm, 3, 0), 3);
    EXPECT_EQ(mm[2].msg_len, 5);
    char b0[8], b1[8], b2[8];
    struct iovec rv[3] = {{b0, 8}, {b1, 8}, {b2, 8}};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &rv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    EXPECT_EQ(recvmmsg(r, mm, 3, MSG_DONTWAIT, NULL), 3);
    EXPECT_EQ(mm[1].msg_len, 4);
    EXPECT_MEMEQ(b2, "three", 5);
    close(r);
    close(s);
}

static void reuse_delivery(void) {
    NOTE("unicast to sockets sharing a port");
    addr_t a;
    char buf[8];
    int first = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(first, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in any = {.sin_family = AF_INET};
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(first, (struct sockaddr *)&any, sizeof any);
    socklen_t len = sizeof a;
    getsockname(first, &a.sa, &len);
    int second = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(second, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_OK(bind(second, &a.sa, len));
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_EQ(sendto(s, "u", 1, 0, &a.sa, len), 1);
    // The socket bound last takes it.
    EXPECT_EQ(recv(second, buf, sizeof buf, MSG_DONTWAIT), 1);
    EXPECT_ERRNO(recv(first, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    // A wildcard socket on the port loses to one bound to the address.
    int wild = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(wild, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in w = {.sin_family = AF_INET, .sin_port = a.in.sin_port};
    EXPECT_OK(bind(wild, (struct sockaddr *)&w, sizeof w));
    EXPECT_EQ(sendto(s, "u", 1, 0, &a.sa, len), 1);
    EXPECT_ERRNO(recv(wild, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    EXPECT_EQ(drain(first) + drain(second), 1);
    close(first);
    close(second);
    close(wild);
    close(s);
}

int main(void) {
    boundaries();
    families();
    connected();
    broadcast_and_multicast();
    control_messages();
    buffers();
    cork_and_shutdown();
    reuse_delivery();
    return guest_done();
}
