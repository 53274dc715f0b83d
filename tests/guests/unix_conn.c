// SPDX-License-Identifier: Apache-2.0
//
// AF_UNIX connections: listen and its backlog (backlog+1 pending; a blocking connect waits, a
// non-blocking one gets EAGAIN), accept and accept4, data before the accept, a listener
// closed with connections pending, SO_PEERCRED, SO_ACCEPTCONN, seqpacket connections.

#include "guest.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "unix_conn.%d.%s", getpid(), tag);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int listener(int type, const char *tag, int backlog, struct sockaddr_un *a,
                    socklen_t *al) {
    *al = abstract_addr(a, tag);
    int l = socket(AF_UNIX, type, 0);
    if (l < 0 || bind(l, (struct sockaddr *)a, *al) != 0 || listen(l, backlog) != 0) {
        return -1;
    }
    return l;
}

static void test_listen(void) {
    NOTE("listen and accept errors");
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(listen(s, 1), EINVAL);
    EXPECT_ERRNO(accept(s, NULL, NULL), EINVAL);
    EXPECT_OK(close(s));
    s = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_ERRNO(listen(s, 1), EOPNOTSUPP);
    EXPECT_ERRNO(accept(s, NULL, NULL), EOPNOTSUPP);
    EXPECT_OK(close(s));
    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_ERRNO(listen(sv[0], 1), EINVAL);
    EXPECT_OK(close(sv[0]));
    EXPECT_OK(close(sv[1]));

    struct sockaddr_un a;
    socklen_t al;
    int l = EXPECT_OK(listener(SOCK_STREAM, "errors", 1, &a, &al));
    int v = 0;
    socklen_t vl = sizeof v;
    EXPECT_OK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
    EXPECT_EQ(v, 1);
    EXPECT_OK(listen(l, 10));
    EXPECT_ERRNO(accept4(l, NULL, NULL, 0x1), EINVAL);
    char buf[4];
    EXPECT_ERRNO(recv(l, buf, 1, MSG_DONTWAIT), EINVAL);
    EXPECT_ERRNO(send(l, "x", 1, 0), ENOTCONN);
    int n;
    EXPECT_ERRNO(ioctl(l, FIONREAD, &n), EINVAL);
    // A listener cannot connect; a connected socket cannot connect again.
    struct sockaddr_un b;
    socklen_t bl;
    int l2 = EXPECT_OK(listener(SOCK_STREAM, "other", 1, &b, &bl));
    EXPECT_ERRNO(connect(l, (struct sockaddr *)&b, bl), EINVAL);
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al));
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&b, bl), EISCONN);
    EXPECT_ERRNO(listen(c, 1), EINVAL);
    EXPECT_OK(close(c));
    EXPECT_OK(close(l2));
    EXPECT_OK(close(l));
}

static void test_backlog(void) {
    NOTE("backlog");
    struct sockaddr_un a;
    socklen_t al;
    int l = EXPECT_OK(listener(SOCK_STREAM, "backlog", 2, &a, &al));
    int cs[8];
    int made = 0;
    for (int i = 0; i < 8; i++) {
        cs[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(cs[i], (struct sockaddr *)&a, al) != 0) {
            EXPECT_EQ(errno, EAGAIN);
            close(cs[i]);
            break;
        }
        made++;
    }
    EXPECT_EQ(made, 3);
    // The listener is readable while connections wait.
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    int acc = EXPECT_OK(accept4(l, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC | SOCK_NONBLOCK));
    EXPECT_EQ(fl, 2);
    EXPECT_EQ(fcntl(acc, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(fcntl(acc, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    EXPECT_OK(close(acc));
    // Room for one more.
    int extra = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    EXPECT_OK(connect(extra, (struct sockaddr *)&a, al));
    int extra2 = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    EXPECT_ERRNO(connect(extra2, (struct sockaddr *)&a, al), EAGAIN);
    // A blocking connect with SO_SNDTIMEO gives up with EAGAIN.
    int timed = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
    EXPECT_OK(setsockopt(timed, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    EXPECT_ERRNO(connect(timed, (struct sockaddr *)&a, al), EAGAIN);
    EXPECT_OK(close(timed));
    // A blocking connect waits for an accept (a child accepts a while later).
    pid_t pid = fork();
    if (pid == 0) {
        usleep(30000);
        int x = accept(l, NULL, NULL);
        _exit(x >= 0 ? 0 : 1);
    }
    int blocking = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(connect(blocking, (struct sockaddr *)&a, al));
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // Closing the listener resets what was never accepted (the child accepted the second
    // connection and is gone: that one reads end of file).
    EXPECT_EQ(write(cs[2], "lost", 4), 4);
    EXPECT_OK(close(l));
    char buf[8];
    EXPECT_ERRNO(read(cs[2], buf, sizeof buf), ECONNRESET);
    EXPECT_EQ(read(cs[2], buf, sizeof buf), 0);
    EXPECT_ERRNO(send(extra, "x", 1, MSG_NOSIGNAL), EPIPE);
    EXPECT_EQ(read(cs[1], buf, sizeof buf), 0);
    EXPECT_ERRNO(send(cs[1], "x", 1, MSG_NOSIGNAL), EPIPE);
    for (int i = 0; i < made; i++) {
        close(cs[i]);
    }
    close(extra);
    close(extra2);
    close(blocking);

    // listen(0) still queues one.
    l = EXPECT_OK(listener(SOCK_STREAM, "zero", 0, &a, &al));
    int c1 = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    EXPECT_OK(connect(c1, (struct sockaddr *)&a, al));
    int c2 = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    EXPECT_ERRNO(connect(c2, (struct sockaddr *)&a, al), EAGAIN);
    // A listener shut down for reading refuses connections; a blocking accept fails.
    EXPECT_OK(shutdown(l, SHUT_RD));
    EXPECT_ERRNO(connect(c2, (struct sockaddr *)&a, al), ECONNREFUSED);
    EXPECT_OK(close(c1));
    EXPECT_OK(close(c2));
    EXPECT_OK(close(l));
    l = EXPECT_OK(listener(SOCK_STREAM, "shut", 1, &a, &al));
    EXPECT_OK(shutdown(l, SHUT_RD));
    EXPECT_ERRNO(accept(l, NULL, NULL), EINVAL);
    EXPECT_OK(fcntl(l, F_SETFL, O_NONBLOCK));
    EXPECT_ERRNO(accept(l, NULL, NULL), EAGAIN);
    EXPECT_OK(close(l));
}

static void test_data(void) {
    NOTE("data before accept; SO_PEERCRED");
    struct sockaddr_un a;
    socklen_t al;
    int l = EXPECT_OK(listener(SOCK_STREAM, "data", 4, &a, &al));
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    // Not connected: pid 0 and ids -1.
    struct ucred cr;
    socklen_t cl = sizeof cr;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    EXPECT_EQ(cl, sizeof cr);
    EXPECT_EQ(cr.pid, 0);
    EXPECT_EQ(cr.uid, (uid_t)-1);
    EXPECT_EQ(cr.gid, (gid_t)-1);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al));
    EXPECT_EQ(write(c, "early", 5), 5);
    EXPECT_OK(shutdown(c, SHUT_WR));
    int acc = EXPECT_OK(accept(l, NULL, NULL));
    char buf[16];
    EXPECT_EQ(read(acc, buf, sizeof buf), 5);
    EXPECT_MEMEQ(buf, "early", 5);
    EXPECT_EQ(read(acc, buf, sizeof buf), 0);
    cl = sizeof cr;
    EXPECT_OK(getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    EXPECT_EQ(cr.pid, getpid());
    EXPECT_EQ(cr.uid, geteuid());
    EXPECT_EQ(cr.gid, getegid());
    cl = sizeof cr;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    EXPECT_EQ(cr.pid, getpid());
    // A short buffer gets the start.
    cl = 4;
    EXPECT_OK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    EXPECT_EQ(cl, 4);
    char sec[64];
    socklen_t sl = sizeof sec;
    EXPECT_ERRNO(getsockopt(c, SOL_SOCKET, SO_PEERSEC, sec, &sl), ENOPROTOOPT);
    EXPECT_OK(close(acc));
    EXPECT_OK(close(c));

    // Across processes: each side sees the other process (the listener's credentials are
    // those of the process that called listen).
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        int cc = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(cc, (struct sockaddr *)&a, al) != 0) {
            _exit(2);
        }
        struct ucred pc;
        socklen_t pl = sizeof pc;
        getsockopt(cc, SOL_SOCKET, SO_PEERCRED, &pc, &pl);
        char b;
        read(cc, &b, 1);
        _exit(pc.pid == parent ? 0 : 1);
    }
    acc = EXPECT_OK(accept(l, NULL, NULL));
    cl = sizeof cr;
    EXPECT_OK(getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    CHECK("the accepted socket's peer is the child", cr.pid == pid);
    EXPECT_EQ(write(acc, "k", 1), 1);
    int status;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    CHECK("the child's peer is the listener's process", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_OK(close(acc));
    EXPECT_OK(close(l));

    int sv[2];
    EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    cl = sizeof cr;
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    EXPECT_EQ(cr.pid, getpid());
    EXPECT_EQ(cr.uid, geteuid());
    EXPECT_OK(close(sv[0]));
    // The peer's credentials outlive the peer.
    cl = sizeof cr;
    EXPECT_OK(getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    EXPECT_EQ(cr.pid, getpid());
    EXPECT_OK(close(sv[1]));
}

static void test_seqpacket(void) {
    NOTE("seqpacket connections");
    struct sockaddr_un a;
    socklen_t al;
    int l = EXPECT_OK(listener(SOCK_SEQPACKET, "seq", 2, &a, &al));
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_SEQPACKET, 0));
    EXPECT_ERRNO(send(c, "x", 1, 0), ENOTCONN);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al));
    EXPECT_EQ(send(c, "first", 5, 0), 5);
    EXPECT_EQ(send(c, "second", 6, 0), 6);
    int acc = EXPECT_OK(accept(l, NULL, NULL));
    char buf[16];
    EXPECT_EQ(recv(acc, buf, sizeof buf, 0), 5);
    EXPECT_EQ(recv(acc, buf, 3, 0), 3);
    EXPECT_EQ(send(acc, "r", 1, 0), 1);
    EXPECT_EQ(recv(c, buf, sizeof buf, 0), 1);
    // A stream client cannot reach a seqpacket listener.
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(connect(s, (struct sockaddr *)&a, al), ECONNREFUSED);
    EXPECT_OK(close(s));
    EXPECT_OK(close(c));
    EXPECT_EQ(recv(acc, buf, sizeof buf, 0), 0);
    EXPECT_OK(close(acc));
    EXPECT_OK(close(l));
}

int main(void) {
    test_listen();
    test_backlog();
    test_data();
    test_seqpacket();
    return guest_done();
}
