// SPDX-License-Identifier: Apache-2.0
//
// SCM_RIGHTS and SCM_CREDENTIALS over AF_UNIX sockets: a pipe passed between processes,
// MSG_CTRUNC and the descriptors it drops, MSG_CMSG_CLOEXEC, MSG_PEEK, rights never merged on
// a stream, SO_PASSCRED and explicit credentials, the in-flight limit (ETOOMANYREFS) and the
// collection of sockets sent over themselves.

#include "guest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

// Sends `len` bytes with `n` descriptors.
static ssize_t send_fds(int s, const void *data, size_t len, const int *fds, int n) {
    char cbuf[CMSG_SPACE(sizeof(int) * 16)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {(void *)data, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        m.msg_control = cbuf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    }
    return sendmsg(s, &m, 0);
}

// Receives into `buf`, with `space` bytes of control buffer (-1: none); the descriptors go to
// `fds` (at most 16), their count to `*n`; returns the byte count, flags in `*flags`.
static ssize_t recv_fds(int s, void *buf, size_t len, int space, int flags, int *fds, int *n,
                        int *mflags) {
    char cbuf[512];
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (space >= 0) {
        m.msg_control = cbuf;
        m.msg_controllen = space;
    }
    ssize_t r = recvmsg(s, &m, flags);
    *n = 0;
    *mflags = m.msg_flags;
    if (r < 0) {
        return r;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + *n, CMSG_DATA(c), sizeof(int) * k);
            *n += k;
        }
    }
    return r;
}

static int fd_open(int fd) {
    return fcntl(fd, F_GETFD) != -1;
}

static void test_pipe_between_processes(void) {
    NOTE("a pipe passed from a child");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        int p[2];
        if (pipe(p) != 0) {
            _exit(1);
        }
        if (send_fds(sv[1], "P", 1, &p[0], 1) != 1) {
            _exit(2);
        }
        close(p[0]);
        if (write(p[1], "through the pipe", 16) != 16) {
            _exit(3);
        }
        _exit(0);
    }
    EXPECT_OK(close(sv[1]));
    char buf[32];
    int fds[16], n, fl;
    EXPECT_EQ(recv_fds(sv[0], buf, sizeof buf, 64, 0, fds, &n, &fl), 1);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(fl, 0);
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(read(fds[0], buf, sizeof buf), 16);
    EXPECT_MEMEQ(buf, "through the pipe", 16);
    // The child's write end is closed: end of file.
    EXPECT_EQ(read(fds[0], buf, sizeof buf), 0);
    EXPECT_EQ(fcntl(fds[0], F_GETFD), 0);
    EXPECT_OK(close(fds[0]));
    EXPECT_OK(close(sv[0]));
}

static void test_ctrunc(void) {
    NOTE("MSG_CTRUNC, MSG_CMSG_CLOEXEC, MSG_PEEK");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    int p[2];
    EXPECT_OK(pipe(p));
    int three[3] = {p[0], p[1], p[0]};
    char buf[16];
    int fds[16], n, fl;
    // Room for one descriptor: one arrives, the others are closed, MSG_CTRUNC.
    EXPECT_EQ(send_fds(sv[0], "3", 1, three, 3), 1);
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, CMSG_LEN(sizeof(int)), 0, fds, &n, &fl), 1);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(fl & MSG_CTRUNC, MSG_CTRUNC);
    CHECK("no descriptor beyond the one received", !fd_open(fds[0] + 1) && !fd_open(fds[0] + 2));
    EXPECT_OK(close(fds[0]));
    // No control buffer at all: none arrives.
    EXPECT_EQ(send_fds(sv[0], "0", 1, three, 2), 1);
    int before = dup(0);
    EXPECT_OK(close(before));
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, -1, 0, fds, &n, &fl), 1);
    EXPECT_EQ(n, 0);
    EXPECT_EQ(fl & MSG_CTRUNC, MSG_CTRUNC);
    CHECK("nothing was installed", !fd_open(before));
    // A buffer too short for even a header.
    EXPECT_EQ(send_fds(sv[0], "s", 1, three, 1), 1);
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 8, 0, fds, &n, &fl), 1);
    EXPECT_EQ(n, 0);
    EXPECT_EQ(fl & MSG_CTRUNC, MSG_CTRUNC);
    // MSG_CMSG_CLOEXEC.
    EXPECT_EQ(send_fds(sv[0], "c", 1, three, 1), 1);
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, MSG_CMSG_CLOEXEC, fds, &n, &fl), 1);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(fl, MSG_CMSG_CLOEXEC);
    EXPECT_EQ(fcntl(fds[0], F_GETFD), FD_CLOEXEC);
    EXPECT_OK(close(fds[0]));
    // A peek gets its own copies; the read gets the descriptors again.
    EXPECT_EQ(send_fds(sv[0], "k", 1, three, 2), 1);
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, MSG_PEEK, fds, &n, &fl), 1);
    EXPECT_EQ(n, 2);
    int peeked = fds[0];
    EXPECT_OK(close(fds[0]));
    EXPECT_OK(close(fds[1]));
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, 0, fds, &n, &fl), 1);
    EXPECT_EQ(n, 2);
    EXPECT_EQ(fds[0], peeked);
    // The pipe itself: what goes in one received end comes out of the other.
    EXPECT_EQ(write(fds[1], "z", 1), 1);
    EXPECT_EQ(read(fds[0], buf, 1), 1);
    EXPECT_OK(close(fds[0]));
    EXPECT_OK(close(fds[1]));
    // Bad descriptors and too many.
    int bad = 999;
    EXPECT_ERRNO(send_fds(sv[0], "b", 1, &bad, 1), EBADF);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static void test_stream_rights(void) {
    NOTE("rights on a stream");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int p[2];
    EXPECT_OK(pipe(p));
    char buf[16];
    int fds[16], n, fl;
    // Bytes before a message with rights join it; two messages with rights never join.
    EXPECT_EQ(write(sv[0], "xx", 2), 2);
    EXPECT_EQ(send_fds(sv[0], "a", 1, &p[0], 1), 1);
    EXPECT_EQ(send_fds(sv[0], "b", 1, &p[1], 1), 1);
    EXPECT_EQ(write(sv[0], "yy", 2), 2);
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, 0, fds, &n, &fl), 3);
    EXPECT_MEMEQ(buf, "xxa", 3);
    EXPECT_EQ(n, 1);
    EXPECT_OK(close(fds[0]));
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, 0, fds, &n, &fl), 1);
    EXPECT_MEMEQ(buf, "b", 1);
    EXPECT_EQ(n, 1);
    EXPECT_OK(close(fds[0]));
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, 0, fds, &n, &fl), 2);
    EXPECT_EQ(n, 0);
    // The descriptors ride on the first byte: a read of part of the message takes them.
    EXPECT_EQ(send_fds(sv[0], "long", 4, &p[0], 1), 4);
    EXPECT_EQ(recv_fds(sv[1], buf, 2, 64, 0, fds, &n, &fl), 2);
    EXPECT_EQ(n, 1);
    EXPECT_OK(close(fds[0]));
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, 0, fds, &n, &fl), 2);
    EXPECT_EQ(n, 0);
    // A zero-length stream send carries nothing, descriptors included.
    EXPECT_EQ(send_fds(sv[0], "", 0, &p[0], 1), 0);
    EXPECT_EQ(write(sv[0], "e", 1), 1);
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, 0, fds, &n, &fl), 1);
    EXPECT_EQ(n, 0);
    // A socket can travel too.
    int q[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, q));
    EXPECT_EQ(send_fds(sv[0], "s", 1, &q[1], 1), 1);
    EXPECT_OK(close(q[1]));
    EXPECT_EQ(recv_fds(sv[1], buf, sizeof buf, 64, 0, fds, &n, &fl), 1);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(send(fds[0], "via", 3, 0), 3);
    EXPECT_EQ(recv(q[0], buf, sizeof buf, 0), 3);
    EXPECT_OK(close(fds[0]));
    EXPECT_OK(close(q[0]));
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

// Receives one message and its SCM_CREDENTIALS; 0 when none came.
static int recv_creds(int s, struct ucred *out, int *flags) {
    char buf[16];
    char cbuf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf};
    if (recvmsg(s, &m, MSG_DONTWAIT) < 0) {
        return -1;
    }
    *flags = m.msg_flags;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            memcpy(out, CMSG_DATA(c), sizeof *out);
            return 1;
        }
    }
    return 0;
}

static ssize_t send_creds(int s, struct ucred c) {
    char cbuf[CMSG_SPACE(sizeof c)];
    struct iovec iov = {"c", 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_CREDENTIALS;
    h->cmsg_len = CMSG_LEN(sizeof c);
    memcpy(CMSG_DATA(h), &c, sizeof c);
    return sendmsg(s, &m, 0);
}

static int claim_parent_pid(const char *unused) {
    (void)unused;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
        return 1;
    }
    struct ucred c = {.pid = getppid(), .uid = getuid(), .gid = getgid()};
    if (send_creds(sv[0], c) != -1 || errno != EPERM) {
        return 2;
    }
    c.pid = getpid();
    c.uid = 0;
    if (send_creds(sv[0], c) != -1 || errno != EPERM) {
        return 3;
    }
    c.uid = getuid();
    return send_creds(sv[0], c) == 1 ? 0 : 4;
}

static int as_nobody(int (*fn)(const char *), const char *arg) {
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) {
            _exit(100);
        }
        _exit(fn(arg));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

static void test_credentials(void) {
    NOTE("SCM_CREDENTIALS and SO_PASSCRED");
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    struct ucred c;
    int fl;
    // Sent before the receiver asked: pid 0 and the overflow ids.
    EXPECT_EQ(send(sv[0], "early", 5, 0), 5);
    int one = 1;
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    EXPECT_EQ(recv_creds(sv[1], &c, &fl), 1);
    EXPECT_EQ(c.pid, 0);
    EXPECT_EQ(c.uid, 65534);
    EXPECT_EQ(c.gid, 65534);
    // Once it asks, every message carries the sender's.
    EXPECT_EQ(send(sv[0], "now", 3, 0), 3);
    EXPECT_EQ(recv_creds(sv[1], &c, &fl), 1);
    EXPECT_EQ(c.pid, getpid());
    EXPECT_EQ(c.uid, getuid());
    EXPECT_EQ(c.gid, getgid());
    // Explicit credentials, within what the sender may claim.
    struct ucred mine = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    EXPECT_EQ(send_creds(sv[0], mine), 1);
    EXPECT_EQ(recv_creds(sv[1], &c, &fl), 1);
    EXPECT_EQ(c.pid, getpid());
    EXPECT_EQ(as_nobody(claim_parent_pid, NULL), 0);
    // A reader without SO_PASSCRED gets none; with no control buffer, MSG_CTRUNC.
    EXPECT_EQ(send(sv[1], "back", 4, 0), 4);
    EXPECT_EQ(recv_creds(sv[0], &c, &fl), 0);
    EXPECT_EQ(send(sv[0], "x", 1, 0), 1);
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    EXPECT_EQ(recvmsg(sv[1], &m, 0), 1);
    EXPECT_EQ(m.msg_flags, MSG_CTRUNC);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));

    // Streams: bytes from different credentials are not read together.
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_EQ(send(sv[0], "ab", 2, 0), 2);
    EXPECT_OK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    EXPECT_EQ(send(sv[0], "cd", 2, 0), 2);
    iov.iov_len = sizeof buf;
    char cbuf[64];
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    EXPECT_EQ(recvmsg(sv[1], &m, 0), 2);
    EXPECT_MEMEQ(buf, "ab", 2);
    m.msg_controllen = sizeof cbuf;
    EXPECT_EQ(recv_creds(sv[1], &c, &fl), 1);
    EXPECT_EQ(c.pid, getpid());
    // End of file with SO_PASSCRED: credentials of nobody in particular.
    EXPECT_OK(shutdown(sv[0], SHUT_WR));
    EXPECT_EQ(recv_creds(sv[1], &c, &fl), 1);
    EXPECT_EQ(c.pid, 0);
    EXPECT_EQ(c.uid, 0);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));
}

static int fill_inflight(const char *unused) {
    (void)unused;
    struct rlimit rl = {16, 16};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 101;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
        return 102;
    }
    int p[2];
    if (pipe(p) != 0) {
        return 103;
    }
    // The limit counts the whole user's descriptors in flight: other processes of the same
    // user (another run's cycles, which Linux collects in the background) may hold some for a
    // while. Filled again, after a pause, until only this one's count.
    int sent = 0;
    for (int attempt = 0; attempt < 100; attempt++) {
        sent = 0;
        while (sent < 100 && send_fds(sv[0], "f", 1, &p[0], 1) == 1) {
            sent++;
        }
        if (errno != ETOOMANYREFS) {
            return 104;
        }
        if (sent == 17) {
            break;
        }
        // Drop what this attempt put in flight: a fresh pair, the old one closed.
        close(sv[0]);
        close(sv[1]);
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
            return 102;
        }
        usleep(100000);
    }
    return sent;
}

static int collect_cycles(const char *unused) {
    (void)unused;
    struct rlimit rl = {16, 16};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 101;
    }
    // Each round leaves a socket whose only reference is a message in its own queue. Were they
    // never collected, every send after the 17th would fail. Linux collects them in the
    // background, so a send may meet the limit before the collector ran: it is tried again a
    // while later.
    for (int i = 0; i < 200; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
            return 102;
        }
        int tries = 0;
        while (send_fds(sv[0], "g", 1, &sv[1], 1) != 1) {
            if (errno != ETOOMANYREFS) {
                return 103;
            }
            if (++tries == 1000) {
                return 104;
            }
            usleep(1000);
        }
        close(sv[1]);
        close(sv[0]);
    }
    return 0;
}

static void test_inflight(void) {
    NOTE("descriptors in flight");
    // The sender's user may have RLIMIT_NOFILE of them in flight, and one message more.
    EXPECT_EQ(as_nobody(fill_inflight, NULL), 17);
    // Sockets only their own queue holds are collected, not counted forever.
    EXPECT_EQ(as_nobody(collect_cycles, NULL), 0);
}

static int build_and_close_chain(const char *unused) {
    (void)unused;
    // Each pair travels in the previous pair's queue; closing the first frees the chain, one
    // socket's queue releasing the next (thousands deep: no recursion may follow it).
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 101;
    }
    long n = rl.rlim_max == RLIM_INFINITY ? 10000 : ((long)rl.rlim_max - 64) / 2;
    if (n > 10000) {
        n = 10000;
    }
    int head[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, head) != 0) {
        return 102;
    }
    int tx = head[0];
    for (long i = 0; i < n; i++) {
        int p[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, p) != 0 || send_fds(tx, "c", 1, p, 2) != 1) {
            return 103;
        }
        if (tx != head[0]) {
            close(tx);
        }
        close(p[1]);
        tx = p[0];
    }
    close(tx);
    close(head[0]);
    close(head[1]);
    int sv[2];
    char buf[4];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || write(sv[0], "ok", 2) != 2 ||
        read(sv[1], buf, sizeof buf) != 2) {
        return 104;
    }
    return 0;
}

static void test_chain(void) {
    NOTE("a chain of sockets in flight");
    // In a child: a sandbox task's thread has a small stack.
    pid_t pid = fork();
    if (pid == 0) {
        _exit(build_and_close_chain(NULL));
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
    test_pipe_between_processes();
    test_ctrunc();
    test_stream_rights();
    test_credentials();
    test_inflight();
    test_chain();
    return guest_done();
}
