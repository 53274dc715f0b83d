// SPDX-License-Identifier: Apache-2.0
//
// dup, dup2, dup3, fcntl (F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD, F_DUPFD_CLOEXEC) and
// ioctl (TCGETS, TIOCGWINSZ, FIONREAD; ENOTTY for the rest).
//
// Descriptor numbers are part of the ABI (lowest free number first), so they are printed.

#include "guest.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>

static void test_dup(void) {
    NOTE("dup, dup2, dup3");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    EXPECT_EQ(fd, 3);
    int d = EXPECT_OK(dup(fd));
    EXPECT_EQ(d, 4);
    struct stat a, b;
    EXPECT_OK(fstat(fd, &a));
    EXPECT_OK(fstat(d, &b));
    CHECK("dup refers to the same file", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    // The two share one open file description, hence one offset.
    EXPECT_EQ(lseek(fd, 7, SEEK_SET), 7);
    EXPECT_EQ(lseek(d, 0, SEEK_CUR), 7);
    char c1, c2;
    EXPECT_EQ(read(d, &c1, 1), 1);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 8);
    EXPECT_EQ(pread(fd, &c2, 1, 7), 1);
    EXPECT_EQ(c1, c2);
    // The lowest free number is reused.
    EXPECT_OK(close(fd));
    EXPECT_EQ(dup(d), 3);
    EXPECT_OK(close(3));
    EXPECT_ERRNO(dup(-1), EBADF);
    EXPECT_ERRNO(dup(77), EBADF);

    // dup2 onto itself checks the fd and returns it.
    EXPECT_EQ(dup2(d, d), d);
    EXPECT_ERRNO(dup2(77, 77), EBADF);
    EXPECT_EQ(dup2(d, 10), 10);
    EXPECT_EQ(lseek(10, 0, SEEK_CUR), 8);
    // dup2 onto an open fd closes it first, silently.
    int other = EXPECT_OK(open("/dev/null", O_RDONLY));
    EXPECT_EQ(other, 3);
    EXPECT_EQ(dup2(d, other), other);
    EXPECT_EQ(lseek(other, 0, SEEK_CUR), 8);
    EXPECT_ERRNO(dup2(d, -1), EBADF);
    EXPECT_ERRNO(dup2(d, 1 << 30), EBADF);
    EXPECT_ERRNO(dup2(-1, 10), EBADF);
    // A failed dup2 leaves the target open.
    EXPECT_EQ(lseek(10, 0, SEEK_CUR), 8);

    EXPECT_ERRNO(dup3(d, d, 0), EINVAL);
    EXPECT_ERRNO(dup3(d, 11, 0x4), EINVAL);
    EXPECT_EQ(dup3(d, 11, 0), 11);
    EXPECT_EQ(fcntl(11, F_GETFD), 0);
    EXPECT_EQ(dup3(d, 12, O_CLOEXEC), 12);
    EXPECT_EQ(fcntl(12, F_GETFD), FD_CLOEXEC);
    // dup2 and dup never copy close-on-exec.
    EXPECT_EQ(dup2(12, 13), 13);
    EXPECT_EQ(fcntl(13, F_GETFD), 0);
    EXPECT_EQ(dup(12), 5);
    EXPECT_EQ(fcntl(5, F_GETFD), 0);
    EXPECT_ERRNO(dup3(-1, 14, 0), EBADF);
    for (int i = 3; i <= 13; i++) {
        if (i != d) {
            close(i);
        }
    }
    EXPECT_OK(close(d));
    EXPECT_ERRNO(fcntl(10, F_GETFD), EBADF);
}

static void test_fcntl(void) {
    NOTE("fcntl");
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
    EXPECT_OK(fcntl(fd, F_SETFD, FD_CLOEXEC));
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    EXPECT_OK(fcntl(fd, F_SETFD, 0));
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);

    int cl = EXPECT_OK(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(fcntl(cl, F_GETFD), FD_CLOEXEC);
    // O_CLOEXEC is a descriptor flag, not a file status flag.
    EXPECT_EQ(fcntl(cl, F_GETFL) & O_CLOEXEC, 0);
    EXPECT_OK(close(cl));

    int low = EXPECT_OK(fcntl(fd, F_DUPFD, 0));
    EXPECT_EQ(low, fd + 1);
    EXPECT_EQ(fcntl(low, F_GETFD), 0);
    EXPECT_EQ(fcntl(fd, F_DUPFD, 20), 20);
    EXPECT_EQ(fcntl(fd, F_DUPFD, 20), 21);
    EXPECT_EQ(fcntl(fd, F_DUPFD_CLOEXEC, 20), 22);
    EXPECT_EQ(fcntl(22, F_GETFD), FD_CLOEXEC);
    EXPECT_ERRNO(fcntl(fd, F_DUPFD, -1), EINVAL);
    struct rlimit rl;
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    EXPECT_ERRNO(fcntl(fd, F_DUPFD, rl.rlim_cur), EINVAL);
    close(20);
    close(21);
    close(22);
    close(low);

    int null = EXPECT_OK(open("/dev/null", O_WRONLY | O_APPEND));
    EXPECT_EQ(fcntl(null, F_GETFL) & O_ACCMODE, O_WRONLY);
    EXPECT_EQ(fcntl(null, F_GETFL) & O_APPEND, O_APPEND);
    EXPECT_OK(fcntl(null, F_SETFL, O_NONBLOCK));
    EXPECT_EQ(fcntl(null, F_GETFL) & (O_APPEND | O_NONBLOCK), O_NONBLOCK);
    // F_SETFL cannot change the access mode.
    EXPECT_OK(fcntl(null, F_SETFL, O_RDWR));
    EXPECT_EQ(fcntl(null, F_GETFL) & O_ACCMODE, O_WRONLY);
    EXPECT_OK(close(null));
    int rw = EXPECT_OK(open("/dev/null", O_RDWR));
    EXPECT_EQ(fcntl(rw, F_GETFL) & O_ACCMODE, O_RDWR);
    EXPECT_OK(close(rw));

    // File status flags belong to the open file description and are shared by dups.
    int p[2];
    EXPECT_OK(pipe(p));
    int dupr = EXPECT_OK(dup(p[0]));
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT_OK(fcntl(p[0], F_SETFL, O_NONBLOCK));
    EXPECT_EQ(fcntl(dupr, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    // Descriptor flags are not shared.
    EXPECT_OK(fcntl(p[0], F_SETFD, FD_CLOEXEC));
    EXPECT_EQ(fcntl(dupr, F_GETFD), 0);
    char c;
    EXPECT_ERRNO(read(dupr, &c, 1), EAGAIN);
    EXPECT_OK(close(dupr));
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));

    EXPECT_ERRNO(fcntl(-1, F_GETFD), EBADF);
    EXPECT_ERRNO(fcntl(99, F_GETFL), EBADF);
    EXPECT_ERRNO(fcntl(99, F_SETFD, 0), EBADF);
    EXPECT_ERRNO(fcntl(99, F_DUPFD, 0), EBADF);
    EXPECT_ERRNO(fcntl(fd, 12345), EINVAL);
    EXPECT_OK(close(fd));
}

static void test_ioctl(void) {
    NOTE("ioctl");
    int p[2];
    EXPECT_OK(pipe(p));
    struct termios t;
    struct winsize ws;
    int avail = -1;
    EXPECT_ERRNO(ioctl(p[0], TCGETS, &t), ENOTTY);
    EXPECT_ERRNO(ioctl(p[1], TIOCGWINSZ, &ws), ENOTTY);
    EXPECT_OK(ioctl(p[0], FIONREAD, &avail));
    EXPECT_EQ(avail, 0);
    EXPECT_EQ(write(p[1], "hello", 5), 5);
    EXPECT_OK(ioctl(p[0], FIONREAD, &avail));
    EXPECT_EQ(avail, 5);
    char buf[8];
    EXPECT_EQ(read(p[0], buf, 2), 2);
    EXPECT_OK(ioctl(p[0], FIONREAD, &avail));
    EXPECT_EQ(avail, 3);
    EXPECT_ERRNO(ioctl(p[0], 0x1234abcd, 0), ENOTTY);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));

    int null = EXPECT_OK(open("/dev/null", O_RDWR));
    EXPECT_ERRNO(ioctl(null, TCGETS, &t), ENOTTY);
    EXPECT_ERRNO(ioctl(null, TIOCGWINSZ, &ws), ENOTTY);
    EXPECT_OK(close(null));

    // The harness gives the guest a pipe for stdout and /dev/null for stdin: neither is a tty.
    EXPECT_ERRNO(ioctl(1, TCGETS, &t), ENOTTY);
    EXPECT_ERRNO(ioctl(0, TCGETS, &t), ENOTTY);
    EXPECT_EQ(isatty(1), 0);

    // FIONREAD on a regular file counts the bytes between the offset and the end.
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_OK(ioctl(fd, FIONREAD, &avail));
    EXPECT_EQ(avail, st.st_size);
    EXPECT_EQ(lseek(fd, 10, SEEK_SET), 10);
    EXPECT_OK(ioctl(fd, FIONREAD, &avail));
    EXPECT_EQ(avail, st.st_size - 10);
    EXPECT_ERRNO(ioctl(fd, TCGETS, &t), ENOTTY);
    EXPECT_OK(close(fd));
    EXPECT_ERRNO(ioctl(fd, FIONREAD, &avail), EBADF);
    EXPECT_ERRNO(ioctl(-1, TCGETS, &t), EBADF);

    // No ioctl takes an O_PATH descriptor, not even the generic ones.
    int on = 1;
    int path = EXPECT_OK(open("/etc/passwd", O_PATH));
    EXPECT_ERRNO(ioctl(path, FIOCLEX), EBADF);
    EXPECT_ERRNO(ioctl(path, FIONCLEX), EBADF);
    EXPECT_ERRNO(ioctl(path, FIONBIO, &on), EBADF);
    EXPECT_ERRNO(ioctl(path, FIONREAD, &avail), EBADF);
    EXPECT_OK(close(path));
}

static volatile sig_atomic_t xfsz_code = -1, xfsz_pid_is_self, xfsz_uid_is_mine;

static void on_xfsz(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    xfsz_code = si->si_code;
    xfsz_pid_is_self = si->si_pid == getpid();
    xfsz_uid_is_mine = si->si_uid == getuid();
}

// A write at or past RLIMIT_FSIZE fails with EFBIG and queues SIGXFSZ as send_sig() does:
// SI_USER, from the writer itself.
static void test_fsize(void) {
    NOTE("RLIMIT_FSIZE");
    struct sigaction sa = {0};
    sa.sa_sigaction = on_xfsz;
    sa.sa_flags = SA_SIGINFO;
    EXPECT_OK(sigaction(SIGXFSZ, &sa, NULL));
    struct rlimit old, lim = {.rlim_cur = 4, .rlim_max = RLIM_INFINITY};
    EXPECT_OK(getrlimit(RLIMIT_FSIZE, &old));
    lim.rlim_max = old.rlim_max;
    char name[] = "/tmp/fd_ops_fsizeXXXXXX";
    int fd = EXPECT_OK(mkstemp(name));
    EXPECT_OK(setrlimit(RLIMIT_FSIZE, &lim));
    EXPECT_EQ(write(fd, "abcdef", 6), 4);
    EXPECT_ERRNO(write(fd, "gh", 2), EFBIG);
    EXPECT_OK(setrlimit(RLIMIT_FSIZE, &old));
    EXPECT_EQ(xfsz_code, SI_USER);
    EXPECT_TRUE(xfsz_pid_is_self);
    EXPECT_TRUE(xfsz_uid_is_mine);
    EXPECT_OK(close(fd));
    EXPECT_OK(unlink(name));
    signal(SIGXFSZ, SIG_DFL);
}

// The identity maps of the initial user namespace.
static void test_id_maps(void) {
    NOTE("uid_map");
    const char *files[] = {"/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups"};
    const char *want[] = {"         0          0 4294967295\n", "         0          0 4294967295\n",
                          "allow\n"};
    for (int i = 0; i < 3; i++) {
        char buf[64] = {0};
        int fd = EXPECT_OK(open(files[i], O_RDONLY));
        EXPECT_OK(read(fd, buf, sizeof buf - 1));
        EXPECT_STREQ(buf, want[i]);
        EXPECT_OK(close(fd));
    }
}

int main(void) {
    test_dup();
    test_fcntl();
    test_ioctl();
    test_fsize();
    test_id_maps();
    return guest_done();
}
