// SPDX-License-Identifier: Apache-2.0
//
// Named pipes (FIFOs): mkfifo and mknod S_IFIFO, opening with and without O_NONBLOCK, the
// blocking opens (a reader waits for a writer and the reverse, interruptibly), O_RDWR, one pipe
// per inode shared by every opener, end of file and EPIPE, poll, fstat; and the group and
// S_ISGID of nodes made in a set-group-ID directory.
//
// Natively it works in a fresh directory made with mkdtemp under /tmp and removes it at the
// end; in the sandbox /tmp is the sandbox's own tmpfs.

#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static void on_alarm(int sig) {
    (void)sig;
}

static int poll_one(int fd, short events) {
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, 0);
    return n < 0 ? -1 : p.revents;
}

static void test_create(void) {
    NOTE("mkfifo and mknod");
    EXPECT_OK(mkfifo("f1", 0644));
    EXPECT_ERRNO(mkfifo("f1", 0644), EEXIST);
    EXPECT_OK(mknod("f2", S_IFIFO | 0600, 0));
    struct stat st;
    EXPECT_OK(stat("f1", &st));
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0644);
    EXPECT_EQ(st.st_size, 0);
    EXPECT_OK(lstat("f2", &st));
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600);
}

static void test_nonblock(void) {
    NOTE("O_NONBLOCK opens");
    struct stat path_st, st;
    EXPECT_OK(stat("f1", &path_st));
    // No reader: a non-blocking writer is refused.
    EXPECT_ERRNO(open("f1", O_WRONLY | O_NONBLOCK), ENXIO);
    // A non-blocking reader opens at once, and reads end of file while no writer came.
    int r = EXPECT_OK(open("f1", O_RDONLY | O_NONBLOCK));
    char buf[64];
    EXPECT_EQ(read(r, buf, sizeof buf), 0);
    EXPECT_EQ(poll_one(r, POLLIN), 0);
    EXPECT_OK(fstat(r, &st));
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    CHECK("fstat of the FIFO shows its inode", st.st_ino == path_st.st_ino &&
                                                  st.st_dev == path_st.st_dev);
    EXPECT_EQ(st.st_mode & 07777, 0644);
    EXPECT_ERRNO(lseek(r, 0, SEEK_SET), ESPIPE);
    EXPECT_ERRNO(pread(r, buf, 1, 0), ESPIPE);
    EXPECT_EQ(fcntl(r, F_GETPIPE_SZ), 65536);

    // Now there is a reader: the writer opens, and both share one pipe.
    int w = EXPECT_OK(open("f1", O_WRONLY | O_NONBLOCK));
    EXPECT_EQ(poll_one(w, POLLOUT), POLLOUT);
    EXPECT_EQ(write(w, "hello", 5), 5);
    EXPECT_EQ(poll_one(r, POLLIN), POLLIN);
    int r2 = EXPECT_OK(open("f1", O_RDONLY | O_NONBLOCK));
    EXPECT_EQ(read(r2, buf, 2), 2);
    EXPECT_MEMEQ(buf, "he", 2);
    EXPECT_EQ(read(r, buf, sizeof buf), 3);
    EXPECT_MEMEQ(buf, "llo", 3);
    EXPECT_ERRNO(read(r, buf, sizeof buf), EAGAIN);
    EXPECT_ERRNO(read(w, buf, 1), EBADF);
    EXPECT_ERRNO(write(r, "x", 1), EBADF);

    // The writer goes: end of file, and POLLHUP (a writer came since the reader opened).
    EXPECT_OK(close(w));
    EXPECT_EQ(read(r, buf, sizeof buf), 0);
    EXPECT_EQ(poll_one(r, POLLIN), POLLHUP);
    EXPECT_OK(close(r2));

    // The readers go: a writer's write gets EPIPE (SIGPIPE ignored here).
    w = EXPECT_OK(open("f1", O_WRONLY | O_NONBLOCK));
    EXPECT_OK(close(r));
    EXPECT_TRUE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    EXPECT_ERRNO(write(w, "x", 1), EPIPE);
    EXPECT_EQ(poll_one(w, POLLOUT), POLLOUT | POLLERR);
    EXPECT_OK(close(w));
    EXPECT_TRUE(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
}

static void test_rdwr(void) {
    NOTE("O_RDWR");
    // O_RDWR never waits: it is its own reader and writer.
    int fd = EXPECT_OK(open("f2", O_RDWR));
    EXPECT_EQ(write(fd, "abc", 3), 3);
    EXPECT_EQ(poll_one(fd, POLLIN | POLLOUT), POLLIN | POLLOUT);
    char buf[8];
    EXPECT_EQ(read(fd, buf, sizeof buf), 3);
    EXPECT_MEMEQ(buf, "abc", 3);
    // Bytes left when every end closes are gone with the pipe.
    EXPECT_EQ(write(fd, "zz", 2), 2);
    EXPECT_OK(close(fd));
    fd = EXPECT_OK(open("f2", O_RDWR | O_NONBLOCK));
    EXPECT_ERRNO(read(fd, buf, sizeof buf), EAGAIN);
    // A blocking writer finds the O_RDWR reader at once.
    int w = EXPECT_OK(open("f2", O_WRONLY));
    EXPECT_EQ(write(w, "q", 1), 1);
    EXPECT_EQ(read(fd, buf, sizeof buf), 1);
    EXPECT_OK(close(w));
    EXPECT_OK(close(fd));
}

static void test_blocking(void) {
    NOTE("blocking opens");
    // The child's blocking open for writing waits for the parent's reader, and the reverse.
    pid_t pid = fork();
    if (pid == 0) {
        int w = open("f1", O_WRONLY);
        if (w < 0 || write(w, "from child", 10) != 10) {
            _exit(1);
        }
        close(w);
        int r = open("f2", O_RDONLY);
        char buf[16];
        ssize_t n = r < 0 ? -1 : read(r, buf, sizeof buf);
        _exit(n == 11 && memcmp(buf, "from parent", 11) == 0 ? 0 : 2);
    }
    EXPECT_TRUE(pid > 0);
    int r = EXPECT_OK(open("f1", O_RDONLY));
    char buf[16];
    EXPECT_EQ(read(r, buf, sizeof buf), 10);
    EXPECT_MEMEQ(buf, "from child", 10);
    EXPECT_EQ(read(r, buf, sizeof buf), 0);
    EXPECT_OK(close(r));
    int w = EXPECT_OK(open("f2", O_WRONLY));
    EXPECT_EQ(write(w, "from parent", 11), 11);
    EXPECT_OK(close(w));
    int status = -1;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    CHECK("the child read and wrote", WIFEXITED(status) && WEXITSTATUS(status) == 0);

    // A signal interrupts a blocking open (no SA_RESTART): EINTR.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    EXPECT_OK(sigaction(SIGALRM, &sa, NULL));
    alarm(1);
    EXPECT_ERRNO(open("f1", O_RDONLY), EINTR);
    alarm(1);
    EXPECT_ERRNO(open("f1", O_WRONLY), EINTR);
    // The interrupted opens left no reader or writer behind.
    EXPECT_ERRNO(open("f1", O_WRONLY | O_NONBLOCK), ENXIO);
    int fd = EXPECT_OK(open("f1", O_RDONLY | O_NONBLOCK));
    EXPECT_EQ(poll_one(fd, POLLIN), 0);
    EXPECT_OK(close(fd));
}

static void test_setgid_dir(void) {
    NOTE("set-group-ID directory");
    EXPECT_OK(mkdir("sgid", 0777));
    EXPECT_OK(chmod("sgid", 02777));
    struct stat dir, st;
    EXPECT_OK(stat("sgid", &dir));
    EXPECT_EQ(dir.st_mode & 07777, 02777);
    EXPECT_OK(mknod("sgid/fifo", S_IFIFO | S_ISGID | 0777, 0));
    EXPECT_OK(stat("sgid/fifo", &st));
    EXPECT_EQ(st.st_gid, dir.st_gid);
    EXPECT_EQ(st.st_mode & S_ISGID, S_ISGID);
    EXPECT_OK(mknod("sgid/fifo2", S_IFIFO | 0777, 0));
    EXPECT_OK(stat("sgid/fifo2", &st));
    EXPECT_EQ(st.st_mode & S_ISGID, 0);
    EXPECT_OK(mkdir("sgid/sub", 0755));
    EXPECT_OK(stat("sgid/sub", &st));
    EXPECT_EQ(st.st_gid, dir.st_gid);
    EXPECT_EQ(st.st_mode & 07777, 02755);
    int fd = EXPECT_OK(open("sgid/file", O_CREAT | O_WRONLY, 02755));
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_gid, dir.st_gid);
    EXPECT_OK(close(fd));
    EXPECT_OK(unlink("sgid/fifo"));
    EXPECT_OK(unlink("sgid/fifo2"));
    EXPECT_OK(unlink("sgid/file"));
    EXPECT_OK(rmdir("sgid/sub"));
    EXPECT_OK(rmdir("sgid"));
}

int main(void) {
    umask(022);
    char dir[] = "/tmp/fifos.XXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
        perror("mkdtemp");
        return 2;
    }
    test_create();
    test_nonblock();
    test_rdwr();
    test_blocking();
    test_setgid_dir();
    unlink("f1");
    unlink("f2");
    if (chdir("/") == 0) {
        rmdir(dir);
    }
    return guest_done();
}
