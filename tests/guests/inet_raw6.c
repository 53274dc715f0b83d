// SPDX-License-Identifier: Apache-2.0
//
// Raw ICMPv6 sockets, as `ping -6` uses them (run as root natively, with --net-raw in the
// sandbox): the checksum offset at SOL_RAW (always computed for ICMPv6, at 2), ICMPV6_FILTER
// at SOL_ICMPV6, and an echo to ::1 whose reply comes back to the socket while the filter
// lets echo replies through.

#include "guest.h"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(void) {
    int s = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    CHECK("socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)", s >= 0);
    if (s < 0) {
        return guest_done();
    }

    NOTE("IPV6_CHECKSUM at SOL_RAW");
    int v = -7;
    socklen_t len = sizeof v;
    EXPECT_OK(getsockopt(s, SOL_RAW, IPV6_CHECKSUM, &v, &len));
    EXPECT_EQ(v, 2);
    EXPECT_EQ(len, sizeof v);
    v = 2;
    EXPECT_OK(setsockopt(s, SOL_RAW, IPV6_CHECKSUM, &v, sizeof v));
    v = 3;
    EXPECT_ERRNO(setsockopt(s, SOL_RAW, IPV6_CHECKSUM, &v, sizeof v), EINVAL);
    short small = 2;
    EXPECT_ERRNO(setsockopt(s, SOL_RAW, IPV6_CHECKSUM, &small, sizeof small), EINVAL);
    v = 1;
    EXPECT_ERRNO(setsockopt(s, SOL_RAW, 99, &v, sizeof v), ENOPROTOOPT);

    NOTE("ICMPV6_FILTER at SOL_ICMPV6");
    struct icmp6_filter f;
    len = sizeof f;
    EXPECT_OK(getsockopt(s, SOL_ICMPV6, ICMP6_FILTER, &f, &len));
    EXPECT_EQ(len, sizeof f);
    CHECK("every type passes at first", ICMP6_FILTER_WILLPASS(ICMP6_ECHO_REPLY, &f) &&
                                            ICMP6_FILTER_WILLPASS(ICMP6_ECHO_REQUEST, &f));
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
    EXPECT_OK(setsockopt(s, SOL_ICMPV6, ICMP6_FILTER, &f, sizeof f));
    struct icmp6_filter g;
    memset(&g, 0, sizeof g);
    len = sizeof g;
    EXPECT_OK(getsockopt(s, SOL_ICMPV6, ICMP6_FILTER, &g, &len));
    EXPECT_MEMEQ(&g, &f, sizeof f);
    len = 4;
    EXPECT_OK(getsockopt(s, SOL_ICMPV6, ICMP6_FILTER, &g, &len));
    EXPECT_EQ(len, 4);
    EXPECT_ERRNO(setsockopt(s, SOL_ICMPV6, 99, &f, sizeof f), ENOPROTOOPT);

    NOTE("an echo to ::1, its reply through the filter");
    struct sockaddr_in6 to = {.sin6_family = AF_INET6};
    to.sin6_addr = in6addr_loopback;
    unsigned char req[12] = {ICMP6_ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 9, 'r', 'a', 'w', '6'};
    EXPECT_EQ(sendto(s, req, sizeof req, 0, (struct sockaddr *)&to, sizeof to), 12);
    unsigned char rep[64];
    struct sockaddr_in6 from;
    socklen_t flen = sizeof from;
    // Echo requests are blocked, so only replies come; natively other programs' replies to
    // ::1 may come too (a raw socket sees them all): ours is the one with our identifier.
    struct timeval tv = {5, 0};
    EXPECT_OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    int got = 0, requests = 0;
    for (int i = 0; i < 100 && !got; i++) {
        ssize_t n = recvfrom(s, rep, sizeof rep, 0, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            break;
        }
        requests += rep[0] == ICMP6_ECHO_REQUEST;
        got = n == 12 && rep[0] == ICMP6_ECHO_REPLY && rep[4] == 0x12 && rep[5] == 0x34 &&
              rep[7] == 9 && memcmp(rep + 8, "raw6", 4) == 0;
    }
    CHECK("the reply came, same identifier, sequence and payload", got);
    CHECK("no echo request went through the filter", requests == 0);
    CHECK("from ::1", memcmp(&from.sin6_addr, &in6addr_loopback, 16) == 0);
    close(s);
    return guest_done();
}
