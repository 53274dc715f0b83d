// SPDX-License-Identifier: Apache-2.0
// What a program sees of the sandbox's network under `--network none` (the default): a
// loopback interface and nothing else, through getifaddrs, if_nameindex, the interface ioctls,
// NETLINK_ROUTE and /proc/net; the UTS names sethostname sets.
//
// Natively the guest first moves into new network and UTS namespaces with only `lo` up (it
// runs as root), which is exactly what `--network none` promises; in the sandbox it is there
// already.
#include "guest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>

static void isolate(void) {
    if (in_sandbox()) {
        return;
    }
    if (unshare(CLONE_NEWNET | CLONE_NEWUTS) != 0) {
        perror("unshare");
        exit(2);
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq r = {0};
    strcpy(r.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &r) != 0) {
        perror("SIOCGIFFLAGS");
        exit(2);
    }
    r.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &r) != 0) {
        perror("SIOCSIFFLAGS");
        exit(2);
    }
    close(s);
}

static void print_file(const char *path) {
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("FAIL open %s: %s\n", path, errno_name(errno));
        guest_failures++;
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    NOTE("%s:", path);
    fputs(buf, stdout);
}

static void ifaddrs_list(void) {
    NOTE("getifaddrs");
    struct ifaddrs *list;
    if (!EXPECT_OK(getifaddrs(&list)) ? 0 : 1) {
        return;
    }
    for (struct ifaddrs *a = list; a; a = a->ifa_next) {
        char addr[64] = "-";
        int fam = a->ifa_addr ? a->ifa_addr->sa_family : -1;
        if (fam == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, addr, sizeof addr);
        } else if (fam == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, addr,
                      sizeof addr);
        }
        NOTE("%s family %d flags %#x addr %s", a->ifa_name, fam, a->ifa_flags, addr);
    }
    freeifaddrs(list);
}

static void ioctls(void) {
    NOTE("interface ioctls");
    int s = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
    struct ifreq r = {0};
    strcpy(r.ifr_name, "lo");
    EXPECT_OK(ioctl(s, SIOCGIFFLAGS, &r));
    EXPECT_EQ(r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING), IFF_UP | IFF_LOOPBACK | IFF_RUNNING);
    EXPECT_OK(ioctl(s, SIOCGIFINDEX, &r));
    EXPECT_EQ(r.ifr_ifindex, 1);
    EXPECT_OK(ioctl(s, SIOCGIFMTU, &r));
    EXPECT_EQ(r.ifr_mtu, 65536);
    EXPECT_OK(ioctl(s, SIOCGIFADDR, &r));
    EXPECT_EQ(((struct sockaddr_in *)&r.ifr_addr)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    EXPECT_OK(ioctl(s, SIOCGIFNETMASK, &r));
    EXPECT_EQ(((struct sockaddr_in *)&r.ifr_netmask)->sin_addr.s_addr, htonl(0xff000000));
    EXPECT_OK(ioctl(s, SIOCGIFHWADDR, &r));
    EXPECT_EQ(r.ifr_hwaddr.sa_family, 772);  // ARPHRD_LOOPBACK
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = 1;
    EXPECT_OK(ioctl(s, SIOCGIFNAME, &r));
    EXPECT_STREQ(r.ifr_name, "lo");
    r.ifr_ifindex = 77;
    EXPECT_ERRNO(ioctl(s, SIOCGIFNAME, &r), ENODEV);
    strcpy(r.ifr_name, "nope0");
    EXPECT_ERRNO(ioctl(s, SIOCGIFFLAGS, &r), ENODEV);

    char buf[1024];
    struct ifconf ifc = {.ifc_len = sizeof buf, .ifc_buf = buf};
    EXPECT_OK(ioctl(s, SIOCGIFCONF, &ifc));
    EXPECT_EQ(ifc.ifc_len, (int)sizeof(struct ifreq));
    EXPECT_STREQ(((struct ifreq *)buf)->ifr_name, "lo");
    ifc.ifc_buf = NULL;
    ifc.ifc_len = 0;
    EXPECT_OK(ioctl(s, SIOCGIFCONF, &ifc));
    EXPECT_EQ(ifc.ifc_len, (int)sizeof(struct ifreq));

    struct if_nameindex *ni = if_nameindex();
    EXPECT_TRUE(ni != NULL && ni[0].if_index == 1 && strcmp(ni[0].if_name, "lo") == 0 &&
                ni[1].if_index == 0);
    if_freenameindex(ni);
    close(s);
}

// Sends one rtnetlink request and counts the reply messages by type until DONE or an error.
static void rtnl(int fd, int type, int flags, void *body, size_t blen, int *count, int *err) {
    struct {
        struct nlmsghdr h;
        char body[64];
    } req = {0};
    req.h.nlmsg_len = NLMSG_LENGTH(blen);
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | flags;
    req.h.nlmsg_seq = 42;
    memcpy(req.body, body, blen);
    *count = 0;
    *err = 1;
    if (send(fd, &req, req.h.nlmsg_len, 0) < 0) {
        *err = -errno;
        return;
    }
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            return;
        }
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != 42) {
                *err = -999;
                return;
            }
            if (h->nlmsg_type == NLMSG_DONE) {
                *err = 0;
                return;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                *err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
                return;
            }
            (*count)++;
            if (!(h->nlmsg_flags & NLM_F_MULTI)) {
                *err = 0;
                return;
            }
        }
    }
}

static void netlink(void) {
    NOTE("netlink");
    EXPECT_ERRNO(socket(AF_NETLINK, SOCK_RAW, 31), EPROTONOSUPPORT);
    EXPECT_ERRNO(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT);
    int fd = EXPECT_OK(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    EXPECT_OK(bind(fd, (struct sockaddr *)&sa, sizeof sa));
    socklen_t len = sizeof sa;
    EXPECT_OK(getsockname(fd, (struct sockaddr *)&sa, &len));
    EXPECT_EQ(len, sizeof sa);
    EXPECT_EQ(sa.nl_pid, (unsigned)getpid());
    int count, err;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    rtnl(fd, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi, &count, &err);
    EXPECT_EQ(err, 0);
    EXPECT_EQ(count, 1);
    struct ifaddrmsg ifa = {.ifa_family = AF_UNSPEC};
    rtnl(fd, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa, &count, &err);
    EXPECT_EQ(err, 0);
    EXPECT_EQ(count, 2);
    ifa.ifa_family = AF_INET;
    rtnl(fd, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa, &count, &err);
    EXPECT_EQ(count, 1);
    ifi.ifi_index = 1;
    rtnl(fd, RTM_GETLINK, 0, &ifi, sizeof ifi, &count, &err);
    EXPECT_EQ(err, 0);
    EXPECT_EQ(count, 1);
    ifi.ifi_index = 99;
    rtnl(fd, RTM_GETLINK, 0, &ifi, sizeof ifi, &count, &err);
    EXPECT_EQ(err, -ENODEV);
    close(fd);
}

// Without CAP_NET_ADMIN and CAP_SYS_ADMIN, as the sandbox treats every caller for its fixed
// network: changes are refused with EPERM.
static void changes_refused(void) {
    NOTE("changes without CAP_NET_ADMIN");
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    EXPECT_OK(syscall(SYS_capget, &h, d));
    for (int i = 0; i < 2; i++) {
        d[i].effective &= ~(1u << (CAP_NET_ADMIN % 32) | 1u << (CAP_SYS_ADMIN % 32));
    }
    EXPECT_OK(syscall(SYS_capset, &h, d));
    int s = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
    struct ifreq r = {0};
    strcpy(r.ifr_name, "lo");
    r.ifr_mtu = 1500;
    EXPECT_ERRNO(ioctl(s, SIOCSIFMTU, &r), EPERM);
    close(s);
    int fd = EXPECT_OK(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
    struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 8, .ifa_index = 1};
    int count, err;
    rtnl(fd, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE, &ifa, sizeof ifa, &count, &err);
    EXPECT_EQ(err, -EPERM);
    close(fd);
    EXPECT_ERRNO(sethostname("x", 1), EPERM);
}

static void uts(void) {
    NOTE("UTS names");
    EXPECT_ERRNO(sethostname("x", 65), EINVAL);
    EXPECT_ERRNO(sethostname((char *)8, 3), EFAULT);
    EXPECT_OK(sethostname("guest-name", 10));
    EXPECT_OK(setdomainname("guest.domain", 12));
    struct utsname u;
    EXPECT_OK(uname(&u));
    EXPECT_STREQ(u.nodename, "guest-name");
    EXPECT_STREQ(u.domainname, "guest.domain");
    print_file("/proc/sys/kernel/hostname");
    print_file("/proc/sys/kernel/domainname");
}

int main(void) {
    isolate();
    ifaddrs_list();
    ioctls();
    netlink();
    NOTE("/proc/net");
    print_file("/proc/net/dev");
    print_file("/proc/net/if_inet6");
    print_file("/proc/net/route");
    uts();
    changes_refused();
    return guest_done();
}
