// SPDX-License-Identifier: Apache-2.0
//
// AF_UNIX names: sockets bound to paths in /tmp (the socket inode, its mode under the umask,
// EADDRINUSE, permissions, unlink, rename), abstract names, autobind (explicit and through
// SO_PASSCRED), and the lengths getsockname, getpeername, accept and recvfrom report.

#include "guest.h"

#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%s", path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *tag) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "unix_names.%d.%s", getpid(), tag);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

// Runs `fn` in a child that dropped root for nobody; its exit status is its result.
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

static int connect_errno(const char *path) {
    struct sockaddr_un a;
    socklen_t l = path_addr(&a, path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, l) == 0) {
        return 0;
    }
    return errno;
}

static int bind_errno(const char *path) {
    struct sockaddr_un a;
    socklen_t l = path_addr(&a, path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(s, (struct sockaddr *)&a, l) == 0) {
        return 0;
    }
    return errno;
}

static void test_paths(void) {
    NOTE("path names");
    char path[80], path2[80], dir[80];
    snprintf(path, sizeof path, "/tmp/unix_names.%d.sock", getpid());
    snprintf(path2, sizeof path2, "/tmp/unix_names.%d.renamed", getpid());
    snprintf(dir, sizeof dir, "/tmp/unix_names.%d.dir", getpid());
    unlink(path);
    unlink(path2);
    struct sockaddr_un a, got;
    socklen_t al = path_addr(&a, path), gl;
    mode_t old = umask(022);
    int srv = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(srv, (struct sockaddr *)&a, al));
    struct stat st;
    EXPECT_OK(lstat(path, &st));
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0755);
    EXPECT_EQ(st.st_uid, geteuid());
    // Its name, with the NUL counted.
    gl = sizeof got;
    EXPECT_OK(getsockname(srv, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, al);
    EXPECT_STREQ(got.sun_path, path);
    // A short buffer gets what fits, and the whole length.
    gl = 4;
    memset(&got, 0, sizeof got);
    EXPECT_OK(getsockname(srv, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, al);
    EXPECT_EQ(got.sun_path[1], path[1]);
    EXPECT_EQ(got.sun_path[2], 0);
    // Bound once only; a name in use is EADDRINUSE, even for a bound socket.
    EXPECT_ERRNO(bind(srv, (struct sockaddr *)&a, al), EADDRINUSE);
    struct sockaddr_un b;
    socklen_t bl = path_addr(&b, path2);
    EXPECT_ERRNO(bind(srv, (struct sockaddr *)&b, bl), EINVAL);
    EXPECT_ERRNO(access(path2, F_OK), ENOENT);
    int s2 = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&a, al), EADDRINUSE);
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&a, 2 + 108 + 1), EINVAL);
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&a, 1), EINVAL);
    struct sockaddr_un bad = a;
    bad.sun_family = AF_INET;
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&bad, al), EINVAL);
    struct sockaddr_un nodir;
    socklen_t nl = path_addr(&nodir, "/tmp/no-such-dir-unix/s");
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&nodir, nl), ENOENT);
    nl = path_addr(&nodir, "/dev/null");
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&nodir, nl), EADDRINUSE);
    EXPECT_OK(close(s2));
    umask(old);

    // Connecting: nobody listens yet.
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, al), ECONNREFUSED);
    EXPECT_OK(listen(srv, 5));
    // The wrong type: EPROTOTYPE.
    int d = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_ERRNO(connect(d, (struct sockaddr *)&a, al), EPROTOTYPE);
    EXPECT_ERRNO(sendto(d, "x", 1, 0, (struct sockaddr *)&a, al), EPROTOTYPE);
    EXPECT_OK(close(d));
    // Not a socket, or nothing there.
    nl = path_addr(&nodir, "/dev/null");
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&nodir, nl), ECONNREFUSED);
    nl = path_addr(&nodir, "/tmp/no-such-dir-unix/s");
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&nodir, nl), ENOENT);
    // The path without its NUL in the length connects too.
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al - 1));
    gl = sizeof got;
    EXPECT_OK(getpeername(c, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, al);
    EXPECT_STREQ(got.sun_path, path);
    gl = sizeof got;
    int acc = EXPECT_OK(accept(srv, (struct sockaddr *)&got, &gl));
    // The client is unnamed; the accepted socket has the listener's name.
    EXPECT_EQ(gl, 2);
    gl = sizeof got;
    EXPECT_OK(getsockname(acc, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, al);
    EXPECT_STREQ(got.sun_path, path);
    gl = sizeof got;
    EXPECT_OK(getpeername(acc, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, 2);
    EXPECT_OK(close(acc));
    EXPECT_OK(close(c));

    // Write permission on the socket file is needed to connect (root has it regardless).
    EXPECT_EQ(as_nobody(connect_errno, path), EACCES);
    EXPECT_OK(chmod(path, 0777));
    EXPECT_EQ(as_nobody(connect_errno, path), 0);
    // And on the directory to bind.
    EXPECT_OK(mkdir(dir, 0755));
    char inside[100];
    snprintf(inside, sizeof inside, "%s/s", dir);
    EXPECT_EQ(as_nobody(bind_errno, inside), EACCES);

    // A rename keeps the socket reachable; an unlink removes the name only.
    EXPECT_OK(rename(path, path2));
    c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, al), ENOENT);
    EXPECT_OK(connect(c, (struct sockaddr *)&b, bl));
    EXPECT_OK(close(c));
    EXPECT_OK(unlink(path2));
    gl = sizeof got;
    EXPECT_OK(getsockname(srv, (struct sockaddr *)&got, &gl));
    EXPECT_STREQ(got.sun_path, path);
    // A new socket may take the name again; the old one keeps listening, unreachable.
    int srv2 = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(srv2, (struct sockaddr *)&a, al));
    EXPECT_OK(listen(srv2, 1));
    c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al));
    EXPECT_OK(close(c));
    acc = EXPECT_OK(accept4(srv2, NULL, NULL, SOCK_NONBLOCK));
    EXPECT_OK(close(acc));
    // The first listener has the connections made before (nobody's, and the one through the
    // new name), even from clients gone since.
    acc = EXPECT_OK(accept4(srv, NULL, NULL, SOCK_NONBLOCK));
    EXPECT_OK(close(acc));
    acc = EXPECT_OK(accept4(srv, NULL, NULL, SOCK_NONBLOCK));
    EXPECT_OK(close(acc));
    EXPECT_OK(fcntl(srv, F_SETFL, O_NONBLOCK));
    EXPECT_ERRNO(accept4(srv, NULL, NULL, SOCK_NONBLOCK), EAGAIN);
    // Closing a bound socket leaves its file: connecting to it is refused.
    EXPECT_OK(close(srv2));
    EXPECT_OK(lstat(path, &st));
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, al), ECONNREFUSED);
    EXPECT_OK(close(c));
    EXPECT_OK(close(srv));
    EXPECT_OK(unlink(path));
    EXPECT_OK(rmdir(dir));

    // Relative names are kept as given.
    EXPECT_OK(chdir("/tmp"));
    char rel[64];
    snprintf(rel, sizeof rel, "unix_names.%d.rel", getpid());
    al = path_addr(&a, rel);
    int r = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_OK(bind(r, (struct sockaddr *)&a, al));
    gl = sizeof got;
    EXPECT_OK(getsockname(r, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, al);
    EXPECT_STREQ(got.sun_path, rel);
    int w = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    char full[96];
    snprintf(full, sizeof full, "/tmp/%s", rel);
    socklen_t fl = path_addr(&b, full);
    EXPECT_EQ(sendto(w, "via", 3, 0, (struct sockaddr *)&b, fl), 3);
    char buf[8];
    EXPECT_EQ(recv(r, buf, sizeof buf, 0), 3);
    EXPECT_OK(close(w));
    EXPECT_OK(close(r));
    EXPECT_OK(unlink(rel));

    // A sun_path of 108 bytes without a NUL: the name is 108 bytes and the length 111.
    memset(&a, 'n', sizeof a);
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, "/tmp/", 5);
    snprintf(a.sun_path + 5, 20, "%08d", getpid());
    a.sun_path[13] = 'n';
    r = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(r, (struct sockaddr *)&a, sizeof a));
    char big[200];
    gl = sizeof big;
    EXPECT_OK(getsockname(r, (struct sockaddr *)big, &gl));
    EXPECT_EQ(gl, 111);
    EXPECT_EQ(big[110], 0);
    char long_path[109];
    memcpy(long_path, a.sun_path, 108);
    long_path[108] = 0;
    EXPECT_OK(unlink(long_path));
    EXPECT_OK(close(r));
}

static void test_abstract(void) {
    NOTE("abstract names");
    struct sockaddr_un a, got;
    socklen_t al = abstract_addr(&a, "srv"), gl;
    int srv = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(srv, (struct sockaddr *)&a, al));
    gl = sizeof got;
    EXPECT_OK(getsockname(srv, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, al);
    EXPECT_MEMEQ(&got, &a, al);
    int s2 = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&a, al), EADDRINUSE);
    // The length is part of the name: one byte less is another name.
    EXPECT_OK(bind(s2, (struct sockaddr *)&a, al - 1));
    EXPECT_ERRNO(bind(s2, (struct sockaddr *)&a, al), EINVAL);
    // The same name for another type is another name.
    int d = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_OK(bind(d, (struct sockaddr *)&a, al));
    EXPECT_OK(close(d));
    EXPECT_OK(listen(srv, 1));
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_ERRNO(connect(c, (struct sockaddr *)&a, al - 1), ECONNREFUSED);
    EXPECT_OK(connect(c, (struct sockaddr *)&a, al));
    gl = sizeof got;
    EXPECT_OK(getpeername(c, (struct sockaddr *)&got, &gl));
    EXPECT_EQ(gl, al);
    EXPECT_OK(close(c));
    EXPECT_OK(close(s2));
    // Closing frees the name.
    EXPECT_OK(close(srv));
    srv = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(srv, (struct sockaddr *)&a, al));
    EXPECT_OK(close(srv));
    // Nothing appears in the file system.
    char path[80];
    snprintf(path, sizeof path, "unix_names.%d.srv", getpid());
    EXPECT_ERRNO(access(path, F_OK), ENOENT);
}

static int is_autobound(const struct sockaddr_un *a, socklen_t l) {
    if (l != 8 || a->sun_path[0] != 0) {
        return 0;
    }
    for (int i = 1; i < 6; i++) {
        char ch = a->sun_path[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static void test_autobind(void) {
    NOTE("autobind");
    struct sockaddr_un a, got;
    socklen_t gl = sizeof got;
    int s = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    a.sun_family = AF_UNIX;
    EXPECT_OK(bind(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path)));
    EXPECT_OK(getsockname(s, (struct sockaddr *)&got, &gl));
    CHECK("bind with the family alone: five hex digits", is_autobound(&got, gl));
    // Again: nothing changes.
    struct sockaddr_un got2;
    socklen_t gl2 = sizeof got2;
    EXPECT_OK(bind(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path)));
    EXPECT_OK(getsockname(s, (struct sockaddr *)&got2, &gl2));
    EXPECT_EQ(gl2, gl);
    EXPECT_MEMEQ(&got, &got2, gl);
    // The automatic name is reachable.
    int w = EXPECT_OK(socket(AF_UNIX, SOCK_DGRAM, 0));
    EXPECT_EQ(sendto(w, "auto", 4, 0, (struct sockaddr *)&got, gl), 4);
    char buf[8];
    EXPECT_EQ(recv(s, buf, sizeof buf, 0), 4);

    // SO_PASSCRED makes a sender or connector bind itself.
    int one = 1;
    EXPECT_OK(setsockopt(w, SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    gl2 = sizeof got2;
    EXPECT_OK(getsockname(w, (struct sockaddr *)&got2, &gl2));
    EXPECT_EQ(gl2, 2);
    EXPECT_EQ(sendto(w, "pc", 2, 0, (struct sockaddr *)&got, gl), 2);
    gl2 = sizeof got2;
    EXPECT_OK(getsockname(w, (struct sockaddr *)&got2, &gl2));
    CHECK("a SO_PASSCRED sender is autobound", is_autobound(&got2, gl2));
    // The receiver learns that name.
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    EXPECT_EQ(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 2);
    EXPECT_EQ(fl, gl2);
    EXPECT_MEMEQ(&from, &got2, fl);
    EXPECT_OK(close(w));

    struct sockaddr_un la;
    socklen_t ll = abstract_addr(&la, "listener");
    int l = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(bind(l, (struct sockaddr *)&la, ll));
    EXPECT_OK(listen(l, 1));
    int c = EXPECT_OK(socket(AF_UNIX, SOCK_STREAM, 0));
    EXPECT_OK(setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    EXPECT_OK(connect(c, (struct sockaddr *)&la, ll));
    gl2 = sizeof got2;
    EXPECT_OK(getsockname(c, (struct sockaddr *)&got2, &gl2));
    CHECK("a SO_PASSCRED connector is autobound", is_autobound(&got2, gl2));
    fl = sizeof from;
    int acc = EXPECT_OK(accept(l, (struct sockaddr *)&from, &fl));
    EXPECT_EQ(fl, 8);
    EXPECT_MEMEQ(&from, &got2, fl);
    EXPECT_OK(close(acc));
    EXPECT_OK(close(c));
    EXPECT_OK(close(l));
    EXPECT_OK(close(s));
}

int main(void) {
    test_paths();
    test_abstract();
    test_autobind();
    return guest_done();
}
