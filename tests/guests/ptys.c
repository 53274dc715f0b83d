// SPDX-License-Identifier: Apache-2.0
//
// Pseudo-terminals beyond reading and writing: signal-driven I/O on both ends (O_ASYNC: the
// owner becomes the terminal's foreground group or the caller, SIGIO when input arrives),
// flow control (IXON's ^S/^Q, IXANY, TCXONC), packet mode (TIOCPKT's control bytes),
// TCSETSW/TCSBRK on a pty (nothing to wait for: pty output is the master's at once),
// TIOCNOTTY by a session's leader and by another member, vhangup, and devpts instances (every mount a
// new one, numbered from 0, with its own ptmx; a ptmx node uses the `pts` beside it).

#include "guest.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

static int wait_for(int sig, siginfo_t *si, long ms) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    return sigtimedwait(&set, si, &ts);
}

// A new pair: the master (returned) and its replica (*rep), both non-blocking.
static int open_pair(int *rep) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        return -1;
    }
    *rep = open(ptsname(m), O_RDWR | O_NOCTTY | O_NONBLOCK);
    return *rep < 0 ? -1 : m;
}

// Raw replica: no echo, no canonical mode (input is readable byte by byte).
static void make_raw(int rep) {
    struct termios t;
    tcgetattr(rep, &t);
    t.c_lflag &= ~(ICANON | ECHO | ISIG);
    tcsetattr(rep, TCSANOW, &t);
}

// Natively a pty's input reaches its line discipline from a work queue, after the master's
// write returns; a replica's read that finds nothing waits for that work first. So a
// non-blocking read of a raw replica that finds no input (EAGAIN) means all the master wrote
// so far has been seen: flow control characters acted on.
#define SETTLE(rep) EXPECT_ERRNO(read((rep), buf, sizeof buf), EAGAIN)

// Reads what is there now (waiting up to 2 s for something).
static ssize_t read_some(int fd, char *buf, size_t n) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1) {
        return -2;
    }
    return read(fd, buf, n);
}

static void sigio_section(void) {
    siginfo_t si;
    int rep;
    int m = EXPECT_OK(open_pair(&rep));
    make_raw(rep);

    NOTE("O_ASYNC on a replica: the owner becomes the caller (no foreground group)");
    EXPECT_EQ(fcntl(rep, F_GETOWN), 0);
    EXPECT_OK(fcntl(rep, F_SETFL, fcntl(rep, F_GETFL) | O_ASYNC));
    EXPECT_EQ(fcntl(rep, F_GETOWN), getpid());
    NOTE("input from the master signals SIGIO");
    EXPECT_EQ(write(m, "a", 1), 1);
    EXPECT_EQ(wait_for(SIGIO, &si, 2000), SIGIO);
    EXPECT_EQ(si.si_code, SI_KERNEL);
    char buf[64];
    EXPECT_EQ(read(rep, buf, sizeof buf), 1);

    NOTE("F_SETSIG after O_ASYNC: the signal names the fd and POLL_IN");
    EXPECT_OK(fcntl(rep, F_SETSIG, SIGRTMIN + 2));
    EXPECT_EQ(write(m, "b", 1), 1);
    EXPECT_EQ(wait_for(SIGRTMIN + 2, &si, 2000), SIGRTMIN + 2);
    EXPECT_EQ(si.si_code, POLL_IN);
    EXPECT_EQ(si.si_fd, rep);
    EXPECT_EQ(read(rep, buf, sizeof buf), 1);

    NOTE("O_ASYNC off: no more signals");
    EXPECT_OK(fcntl(rep, F_SETFL, fcntl(rep, F_GETFL) & ~O_ASYNC));
    EXPECT_EQ(write(m, "c", 1), 1);
    EXPECT_ERRNO(wait_for(SIGRTMIN + 2, &si, 100), EAGAIN);
    EXPECT_EQ(read(rep, buf, sizeof buf), 1);

    NOTE("FIOASYNC on the master: output of the replica signals it");
    int on = 1;
    EXPECT_OK(ioctl(m, FIOASYNC, &on));
    EXPECT_EQ(fcntl(m, F_GETOWN), getpid());
    EXPECT_EQ(write(rep, "out", 3), 3);
    EXPECT_EQ(wait_for(SIGIO, &si, 2000), SIGIO);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 3);
    close(m);
    close(rep);

    NOTE("O_ASYNC on a controlling terminal: the owner is its foreground group, unless set");
    int p[2];
    EXPECT_OK(pipe(p));
    pid_t pid = fork();
    if (pid == 0) {
        // A session of its own whose terminal is the new pty; reports the owner it sees.
        setsid();
        int r2;
        int m2 = open_pair(&r2);
        if (m2 < 0 || ioctl(r2, TIOCSCTTY, 0) < 0) {
            _exit(2);
        }
        fcntl(r2, F_SETFL, O_ASYNC | O_NONBLOCK);
        int ok = fcntl(r2, F_GETOWN) == -getpgrp();
        // An owner set before is kept.
        int r3 = open(ptsname(m2), O_RDWR | O_NOCTTY);
        fcntl(r3, F_SETOWN, getpid());
        fcntl(r3, F_SETFL, O_ASYNC);
        ok = ok && fcntl(r3, F_GETOWN) == getpid();
        _exit(write(p[1], &ok, sizeof ok) == sizeof ok ? 0 : 3);
    }
    int ok = 0;
    EXPECT_EQ(read(p[0], &ok, sizeof ok), (ssize_t)sizeof ok);
    CHECK("the owner is -(foreground group), or the one set before", ok == 1);
    int st;
    waitpid(pid, &st, 0);
    EXPECT_EQ(WEXITSTATUS(st), 0);
    close(p[0]);
    close(p[1]);
}

static void flow_section(void) {
    char buf[64];
    int rep;
    int m = EXPECT_OK(open_pair(&rep));
    make_raw(rep);

    NOTE("^S stops the replica's output, ^Q restarts it; neither is input");
    EXPECT_EQ(write(rep, "x", 1), 1);
    EXPECT_EQ(write(m, "\x13", 1), 1);
    SETTLE(rep);
    struct pollfd pf = {.fd = rep, .events = POLLOUT};
    EXPECT_EQ(poll(&pf, 1, 0), 0);
    EXPECT_ERRNO(write(rep, "y", 1), EAGAIN);
    NOTE("output written before the stop is still the master's");
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(write(m, "\x11", 1), 1);
    EXPECT_EQ(poll(&pf, 1, 2000), 1);
    EXPECT_EQ(write(rep, "z", 1), 1);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], 'z');
    EXPECT_ERRNO(read(rep, buf, sizeof buf), EAGAIN);

    NOTE("IXANY: any input restarts output (and is input)");
    struct termios t;
    tcgetattr(rep, &t);
    t.c_iflag |= IXANY;
    EXPECT_OK(tcsetattr(rep, TCSANOW, &t));
    EXPECT_EQ(write(m, "\x13", 1), 1);
    SETTLE(rep);
    EXPECT_ERRNO(write(rep, "y", 1), EAGAIN);
    EXPECT_EQ(write(m, "k", 1), 1);
    EXPECT_EQ(poll(&pf, 1, 2000), 1);
    EXPECT_EQ(write(rep, "y", 1), 1);
    EXPECT_EQ(read_some(rep, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], 'k');
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);

    NOTE("IXON off while stopped restarts output; ^S is then input");
    EXPECT_EQ(write(m, "\x13", 1), 1);
    SETTLE(rep);
    EXPECT_ERRNO(write(rep, "y", 1), EAGAIN);
    t.c_iflag &= ~(IXON | IXANY);
    EXPECT_OK(tcsetattr(rep, TCSANOW, &t));
    EXPECT_EQ(write(rep, "y", 1), 1);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(write(m, "\x13", 1), 1);
    EXPECT_EQ(read_some(rep, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], '\x13');
    t.c_iflag |= IXON;
    EXPECT_OK(tcsetattr(rep, TCSANOW, &t));

    NOTE("TCXONC: TCOOFF/TCOON stop and restart output, ^Q does not undo TCOOFF");
    EXPECT_OK(tcflow(rep, TCOOFF));
    EXPECT_ERRNO(write(rep, "y", 1), EAGAIN);
    EXPECT_EQ(write(m, "\x11", 1), 1);
    SETTLE(rep);
    EXPECT_ERRNO(write(rep, "y", 1), EAGAIN);
    EXPECT_OK(tcflow(rep, TCOON));
    EXPECT_EQ(write(rep, "y", 1), 1);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    NOTE("TCIOFF/TCION send STOP and START to the other end");
    EXPECT_OK(tcflow(rep, TCIOFF));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], '\x13');
    EXPECT_OK(tcflow(rep, TCION));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], '\x11');
    EXPECT_ERRNO(ioctl(rep, TCXONC, 7), EINVAL);

    NOTE("a pty's control modes stay 8 bits, no parity, receiver on");
    struct termios c = t;
    c.c_cflag = (c.c_cflag & ~(CSIZE | CREAD)) | CS7 | PARENB | CSTOPB;
    EXPECT_OK(tcsetattr(rep, TCSANOW, &c));
    EXPECT_OK(tcgetattr(rep, &c));
    EXPECT_EQ(c.c_cflag & (CSIZE | PARENB | CREAD | CSTOPB), CS8 | CREAD | CSTOPB);
    NOTE("the master's TCGETS and TCSETS act on the replica's modes");
    EXPECT_OK(tcgetattr(m, &c));
    EXPECT_EQ(c.c_cflag & CSTOPB, CSTOPB);
    EXPECT_EQ(c.c_iflag, t.c_iflag);
    EXPECT_EQ(c.c_lflag, t.c_lflag);
    c.c_lflag |= ECHONL;
    EXPECT_OK(tcsetattr(m, TCSANOW, &c));
    EXPECT_OK(tcgetattr(rep, &c));
    EXPECT_EQ(c.c_lflag & ECHONL, ECHONL);

    NOTE("TCSETSW, TCSETSF and TCSBRK do not wait for the master to read");
    EXPECT_EQ(write(rep, "pending", 7), 7);
    EXPECT_OK(tcdrain(rep));
    EXPECT_OK(tcsetattr(rep, TCSADRAIN, &t));
    EXPECT_OK(tcsetattr(rep, TCSAFLUSH, &t));
    EXPECT_OK(tcsendbreak(rep, 0));
    EXPECT_OK(ioctl(rep, TCSBRK, 1));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 7);
    close(m);
    close(rep);
}

static void packet_section(void) {
    char buf[64];
    int rep;
    int m = EXPECT_OK(open_pair(&rep));
    make_raw(rep);

    NOTE("TIOCPKT: data comes after a TIOCPKT_DATA byte");
    int on = 1;
    EXPECT_OK(ioctl(m, TIOCPKT, &on));
    EXPECT_EQ(write(rep, "hi", 2), 2);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 3);
    CHECK("data byte then hi", memcmp(buf, "\0hi", 3) == 0);

    NOTE("^S and ^Q: TIOCPKT_STOP, TIOCPKT_START, each alone in its read");
    EXPECT_EQ(write(m, "\x13", 1), 1);
    struct pollfd pf = {.fd = m, .events = POLLIN | POLLPRI};
    EXPECT_EQ(poll(&pf, 1, 2000), 1);
    EXPECT_EQ(pf.revents, POLLIN | POLLPRI);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], TIOCPKT_STOP);
    EXPECT_EQ(write(m, "\x11", 1), 1);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], TIOCPKT_START);

    NOTE("flushes: TIOCPKT_FLUSHREAD, TIOCPKT_FLUSHWRITE");
    EXPECT_OK(tcflush(rep, TCIFLUSH));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], TIOCPKT_FLUSHREAD);
    EXPECT_OK(tcflush(rep, TCOFLUSH));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], TIOCPKT_FLUSHWRITE);
    EXPECT_OK(tcflush(rep, TCIOFLUSH));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE);

    NOTE("IXON off and on: TIOCPKT_NOSTOP, TIOCPKT_DOSTOP");
    struct termios t;
    tcgetattr(rep, &t);
    t.c_iflag &= ~IXON;
    EXPECT_OK(tcsetattr(rep, TCSANOW, &t));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], TIOCPKT_NOSTOP);
    t.c_iflag |= IXON;
    EXPECT_OK(tcsetattr(rep, TCSANOW, &t));
    EXPECT_EQ(read_some(m, buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], TIOCPKT_DOSTOP);
    NOTE("a change that keeps the flow control says nothing");
    t.c_lflag |= ECHO;
    EXPECT_OK(tcsetattr(rep, TCSANOW, &t));
    EXPECT_ERRNO(read(m, buf, sizeof buf), EAGAIN);

    NOTE("packet mode off: plain data again; TIOCGPKT");
    int got = 0;
    EXPECT_OK(ioctl(m, TIOCGPKT, &got));
    EXPECT_EQ(got, 1);
    on = 0;
    EXPECT_OK(ioctl(m, TIOCPKT, &on));
    EXPECT_EQ(write(rep, "ok", 2), 2);
    EXPECT_EQ(read_some(m, buf, sizeof buf), 2);
    EXPECT_ERRNO(ioctl(rep, TIOCPKT, &on), ENOTTY);
    close(m);
    close(rep);
}

static volatile sig_atomic_t hups;
static void on_hup(int sig) {
    (void)sig;
    hups++;
}

// In a new session whose terminal is a new pty: TIOCNOTTY by a member, then by the leader.
static int notty_child(void) {
    setsid();
    int rep;
    int m = open_pair(&rep);
    if (m < 0 || ioctl(rep, TIOCSCTTY, 0) < 0) {
        return 10;
    }
    signal(SIGHUP, on_hup);
    pid_t member = fork();
    if (member == 0) {
        // A member (not the leader): loses the terminal, nobody is signalled.
        if (ioctl(rep, TIOCNOTTY) < 0) {
            _exit(11);
        }
        if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO) {
            _exit(12);
        }
        pid_t pg = 0;
        if (ioctl(rep, TIOCGPGRP, &pg) == 0 || errno != ENOTTY) {
            _exit(13);
        }
        if (ioctl(rep, TIOCNOTTY) == 0 || errno != ENOTTY) {
            _exit(14);
        }
        _exit(hups == 0 ? 0 : 15);
    }
    int st;
    waitpid(member, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        return WIFEXITED(st) ? WEXITSTATUS(st) : 16;
    }
    // The leader still has it.
    int fd = open("/dev/tty", O_RDWR);
    if (fd < 0) {
        return 17;
    }
    close(fd);
    if (hups != 0) {
        return 18;
    }
    // The leader: SIGHUP (and SIGCONT) to the foreground group, the session loses it.
    if (ioctl(rep, TIOCNOTTY) < 0) {
        return 19;
    }
    if (hups != 1) {
        return 20;
    }
    if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO) {
        return 21;
    }
    pid_t sid = 0;
    if (ioctl(m, TIOCGSID, &sid) == 0 || errno != ENOTTY) {
        return 22;
    }
    return 0;
}

// In a new session whose terminal is a new pty: vhangup(2) hangs up the open replica
// descriptions (end of file, EIO), the session loses the terminal, the modes are reset, a new
// open works again.
static int vhangup_child(void) {
    setsid();
    int rep;
    int m = open_pair(&rep);
    if (m < 0 || ioctl(rep, TIOCSCTTY, 0) < 0) {
        return 10;
    }
    pid_t sid = 0;
    // Natively vhangup hangs up the caller's terminal: make sure it is the new pty.
    if (ioctl(rep, TIOCGSID, &sid) < 0 || sid != getpid()) {
        return 11;
    }
    signal(SIGHUP, on_hup);
    make_raw(rep);
    if (syscall(SYS_vhangup) != 0) {
        return 13;
    }
    if (hups != 1) {
        return 14;
    }
    char buf[8];
    if (read(rep, buf, sizeof buf) != 0) {
        return 15;
    }
    if (write(rep, "x", 1) != -1 || errno != EIO) {
        return 16;
    }
    struct pollfd p = {.fd = rep, .events = POLLIN};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP)) {
        return 17;
    }
    if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO) {
        return 18;
    }
    if (ioctl(m, TIOCGSID, &sid) == 0 || errno != ENOTTY) {
        return 19;
    }
    // The pair lives on: a new open of the replica works.
    int again = open(ptsname(m), O_RDWR | O_NOCTTY);
    if (again < 0 || write(again, "y", 1) != 1) {
        return 20;
    }
    // A pty's hang-up resets its modes (TTY_DRIVER_RESET_TERMIOS).
    struct termios t;
    if (tcgetattr(again, &t) != 0 || !(t.c_lflag & ICANON) || !(t.c_lflag & ECHO)) {
        return 12;
    }
    if (read_some(m, buf, sizeof buf) != 1 || buf[0] != 'y') {
        return 21;
    }
    return 0;
}

static char base[64];

static const char *at(const char *rel) {
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", base, rel);
    return buf[i];
}

static int ptn(int m) {
    int n = -1;
    return ioctl(m, TIOCGPTN, &n) == 0 ? n : -1;
}

static int has_entry(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        found |= strcmp(e->d_name, name) == 0;
    }
    closedir(d);
    return found;
}

// In a private mount namespace (natively nothing reaches the host's mounts).
static void devpts_section(void) {
    snprintf(base, sizeof base, "/tmp/ptys-XXXXXX");
    if (mkdtemp(base) == NULL) {
        CHECK("mkdtemp", 0);
        return;
    }
    // A tmpfs of our own: device nodes open there (natively /tmp may be nodev).
    EXPECT_OK(mount("none", base, "tmpfs", 0, NULL));
    mkdir(at("pts"), 0755);

    NOTE("a devpts mount is a new instance: its own ptmx, numbers from 0");
    EXPECT_OK(mount("devpts", at("pts"), "devpts", 0, "newinstance,ptmxmode=0666,mode=620"));
    struct stat st, root, host;
    EXPECT_OK(stat(at("pts/ptmx"), &st));
    EXPECT_EQ(st.st_mode, S_IFCHR | 0666);
    EXPECT_EQ(st.st_rdev, makedev(5, 2));
    EXPECT_OK(stat(at("pts"), &root));
    EXPECT_OK(stat("/dev/pts", &host));
    EXPECT_NE(root.st_dev, host.st_dev);
    int m0 = EXPECT_OK(open(at("pts/ptmx"), O_RDWR | O_NOCTTY));
    int m1 = EXPECT_OK(open(at("pts/ptmx"), O_RDWR | O_NOCTTY));
    EXPECT_EQ(ptn(m0), 0);
    EXPECT_EQ(ptn(m1), 1);
    EXPECT_OK(stat(at("pts/0"), &st));
    EXPECT_EQ(st.st_mode, S_IFCHR | 0620);
    EXPECT_EQ(st.st_dev, root.st_dev);
    EXPECT_EQ(major(st.st_rdev), 136);
    EXPECT_EQ(minor(st.st_rdev), 0);
    CHECK("the directory lists 0, 1 and ptmx",
          has_entry(at("pts"), "0") && has_entry(at("pts"), "1") && has_entry(at("pts"), "ptmx"));
    EXPECT_ERRNO(stat(at("pts/2"), &st), ENOENT);
    NOTE("its replica works once unlocked");
    EXPECT_ERRNO(open(at("pts/0"), O_RDWR | O_NOCTTY), EIO);
    int unlock = 0;
    EXPECT_OK(ioctl(m0, TIOCSPTLCK, &unlock));
    int r0 = EXPECT_OK(open(at("pts/0"), O_RDWR | O_NOCTTY));
    EXPECT_EQ(write(r0, "x", 1), 1);
    char buf[8];
    EXPECT_EQ(read(m0, buf, sizeof buf), 1);
    struct stat fst;
    EXPECT_OK(fstat(r0, &fst));
    EXPECT_EQ(fst.st_dev, root.st_dev);

    NOTE("/dev/ptmx still opens pairs in /dev/pts");
    int g = EXPECT_OK(posix_openpt(O_RDWR | O_NOCTTY));
    char path[64];
    snprintf(path, sizeof path, "/dev/pts/%d", ptn(g));
    EXPECT_OK(stat(path, &st));
    EXPECT_EQ(st.st_dev, host.st_dev);
    close(g);

    NOTE("a ptmx node uses the devpts at pts beside it");
    EXPECT_OK(mknod(at("ptmx"), S_IFCHR | 0666, makedev(5, 2)));
    int m2 = EXPECT_OK(open(at("ptmx"), O_RDWR | O_NOCTTY));
    EXPECT_EQ(ptn(m2), 2);
    EXPECT_OK(stat(at("pts/2"), &st));
    close(m2);
    NOTE("also under a chroot");
    pid_t pid = fork();
    if (pid == 0) {
        if (chroot(base) != 0 || chdir("/") != 0) {
            _exit(2);
        }
        int fd = open("/ptmx", O_RDWR | O_NOCTTY);
        _exit(fd >= 0 && ptn(fd) == 2 ? 0 : 3);
    }
    int wst;
    EXPECT_EQ(waitpid(pid, &wst, 0), pid);
    EXPECT_EQ(WIFEXITED(wst) ? WEXITSTATUS(wst) : 100 + WTERMSIG(wst), 0);
    mkdir(at("none"), 0755);
    EXPECT_OK(mknod(at("none/ptmx"), S_IFCHR | 0666, makedev(5, 2)));
    EXPECT_ERRNO(open(at("none/ptmx"), O_RDWR | O_NOCTTY), ENOENT);
    mkdir(at("other"), 0755);
    mkdir(at("other/pts"), 0755);
    EXPECT_OK(mknod(at("other/ptmx"), S_IFCHR | 0666, makedev(5, 2)));
    EXPECT_ERRNO(open(at("other/ptmx"), O_RDWR | O_NOCTTY), ENODEV);

    NOTE("a number is free again once both ends close");
    close(r0);
    close(m0);
    m0 = EXPECT_OK(open(at("pts/ptmx"), O_RDWR | O_NOCTTY));
    EXPECT_EQ(ptn(m0), 0);
    close(m0);
    close(m1);

    NOTE("defaults of another instance: ptmx 000, replicas 0600; bad options");
    mkdir(at("pts2"), 0755);
    EXPECT_OK(mount("devpts", at("pts2"), "devpts", 0, NULL));
    EXPECT_OK(stat(at("pts2/ptmx"), &st));
    EXPECT_EQ(st.st_mode, S_IFCHR);
    int m3 = EXPECT_OK(open(at("pts2/ptmx"), O_RDWR | O_NOCTTY));
    EXPECT_EQ(ptn(m3), 0);
    EXPECT_OK(stat(at("pts2/0"), &st));
    EXPECT_EQ(st.st_mode, S_IFCHR | 0600);
    EXPECT_EQ(st.st_gid, getegid());
    close(m3);
    EXPECT_ERRNO(mount("devpts", at("pts2"), "devpts", 0, "bogus"), EINVAL);
    EXPECT_ERRNO(mount("devpts", at("pts2"), "devpts", 0, "mode=9"), EINVAL);
    EXPECT_OK(umount(at("pts2")));
    EXPECT_OK(umount(at("pts")));
    EXPECT_OK(umount(base));
    rmdir(base);
}

int main(void) {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGIO);
    sigaddset(&block, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &block, NULL);

    sigio_section();
    flow_section();
    packet_section();

    NOTE("TIOCNOTTY: a member just loses the terminal; the leader hangs up its group");
    pid_t pid = fork();
    if (pid == 0) {
        _exit(notty_child());
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st), 0);

    NOTE("vhangup: EPERM without CAP_SYS_TTY_CONFIG; hangs up the caller's terminal");
    pid = fork();
    if (pid == 0) {
        if (setresuid(65534, 65534, 65534) != 0) {
            _exit(2);
        }
        _exit(syscall(SYS_vhangup) == -1 && errno == EPERM ? 0 : 1);
    }
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st), 0);
    pid = fork();
    if (pid == 0) {
        _exit(vhangup_child());
    }
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st), 0);

    // Last: the mount namespace becomes private to this process.
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("FAIL cannot make a private mount namespace: %s\n", strerror(errno));
        return 1;
    }
    devpts_section();
    return guest_done();
}
