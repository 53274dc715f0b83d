// SPDX-License-Identifier: Apache-2.0
//
// ICMP sockets: ping sockets (SOCK_DGRAM, IPPROTO_ICMP) are allowed to the groups in
// /proc/sys/net/ipv4/ping_group_range and get the echo replies of the local host; raw sockets
// need CAP_NET_RAW (and, in the sandbox, the user's --net-raw).

#include "guest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>

// Whether this process may make ping sockets: its group in ping_group_range. A sandbox that
// does not show the file has Linux's default, "1 0" (nobody).
static int ping_allowed(void) {
    long lo = 1, hi = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &lo, &hi) != 2) {
            lo = 1;
            hi = 0;
        }
        fclose(f);
    }
    long g = (long)getegid();
    return lo <= g && g <= hi;
}

static void ping_loopback(int s) {
    struct sockaddr_in to = {.sin_family = AF_INET};
    to.sin_addr.s_addr = inet_addr("127.0.0.1");
    unsigned char req[16] = {ICMP_ECHO, 0, 0, 0, 0, 0, 0, 42, 'p', 'i', 'n', 'g'};
    EXPECT_EQ(sendto(s, req, 12, 0, (struct sockaddr *)&to, sizeof to), 12);
    unsigned char rep[64];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    EXPECT_EQ(recvfrom(s, rep, sizeof rep, 0, (struct sockaddr *)&from, &flen), 12);
    EXPECT_EQ(rep[0], ICMP_ECHOREPLY);
    EXPECT_EQ(rep[7], 42);
    EXPECT_MEMEQ(rep + 8, "ping", 4);
    EXPECT_EQ(from.sin_addr.s_addr, to.sin_addr.s_addr);
    // Only echo requests, and at least a header.
    req[0] = ICMP_TIMESTAMP;
    EXPECT_ERRNO(sendto(s, req, 12, 0, (struct sockaddr *)&to, sizeof to), EINVAL);
    req[0] = ICMP_ECHO;
    EXPECT_ERRNO(sendto(s, req, 4, 0, (struct sockaddr *)&to, sizeof to), EINVAL);
    EXPECT_ERRNO(sendto(s, req, 12, MSG_OOB, (struct sockaddr *)&to, sizeof to), EOPNOTSUPP);
}

int main(void) {
    NOTE("ping sockets");
    errno = 0;
    int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    int e = errno;
    if (ping_allowed()) {
        CHECK("socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) as ping_group_range says", s >= 0);
        if (s >= 0) {
            ping_loopback(s);
        }
    } else {
        CHECK("socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) as ping_group_range says",
              s < 0 && e == EACCES);
    }
    if (s >= 0) {
        close(s);
    }
    EXPECT_ERRNO(socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMP), EPROTONOSUPPORT);
    EXPECT_ERRNO(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6), EPROTONOSUPPORT);

    NOTE("raw sockets");
    errno = 0;
    int r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    e = errno;
    // Natively the test runs as root, which holds CAP_NET_RAW; the sandbox refuses raw
    // sockets unless the user passed --net-raw, which the harness does not.
    CHECK("socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) needs CAP_NET_RAW and --net-raw",
          in_sandbox() ? (r < 0 && e == EPERM) : (r >= 0 || e == EPERM));
    if (r >= 0) {
        close(r);
    }
    return guest_done();
}
