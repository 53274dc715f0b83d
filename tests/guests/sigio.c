// SPDX-License-Identifier: Apache-2.0
//
// Signal-driven I/O on pipes: O_ASYNC (fcntl F_SETFL and ioctl FIOASYNC) with an owner
// (F_SETOWN, F_SETOWN_EX) sends SIGIO when data comes to a read end or room to a write end;
// with F_SETSIG the chosen signal carries si_code POLL_IN/POLL_OUT, si_fd and si_band. No
// owner, no signal.

#include "guest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

static int wait_for(int sig, siginfo_t *si, long ms) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    return sigtimedwait(&set, si, &ts);
}

int main(void) {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGIO);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    siginfo_t si;

    NOTE("no owner, no signal");
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_OK(fcntl(p[0], F_SETFL, O_ASYNC));
    EXPECT_EQ(fcntl(p[0], F_GETFL) & O_ASYNC, O_ASYNC);
    EXPECT_EQ(write(p[1], "a", 1), 1);
    EXPECT_ERRNO(wait_for(SIGIO, &si, 100), EAGAIN);

    NOTE("SIGIO to the owner when data comes");
    EXPECT_OK(fcntl(p[0], F_SETOWN, getpid()));
    EXPECT_EQ(fcntl(p[0], F_GETOWN), getpid());
    EXPECT_EQ(write(p[1], "b", 1), 1);
    EXPECT_EQ(wait_for(SIGIO, &si, 2000), SIGIO);
    EXPECT_EQ(si.si_code, SI_KERNEL);

    NOTE("F_SETSIG: the signal names the fd and the event");
    EXPECT_OK(fcntl(p[0], F_SETSIG, SIGRTMIN + 1));
    EXPECT_EQ(fcntl(p[0], F_GETSIG), SIGRTMIN + 1);
    EXPECT_EQ(write(p[1], "c", 1), 1);
    EXPECT_EQ(wait_for(SIGRTMIN + 1, &si, 2000), SIGRTMIN + 1);
    EXPECT_EQ(si.si_code, POLL_IN);
    EXPECT_EQ(si.si_fd, p[0]);
    EXPECT_EQ(si.si_band, POLLIN | POLLRDNORM);

    NOTE("a write by a child signals the parent");
    pid_t pid = fork();
    if (pid == 0) {
        _exit(write(p[1], "d", 1) == 1 ? 0 : 1);
    }
    EXPECT_EQ(wait_for(SIGRTMIN + 1, &si, 2000), SIGRTMIN + 1);
    EXPECT_EQ(si.si_fd, p[0]);
    int st;
    waitpid(pid, &st, 0);
    EXPECT_EQ(WEXITSTATUS(st), 0);

    NOTE("O_ASYNC off: no more signals");
    EXPECT_OK(fcntl(p[0], F_SETFL, 0));
    EXPECT_EQ(write(p[1], "e", 1), 1);
    EXPECT_ERRNO(wait_for(SIGRTMIN + 1, &si, 100), EAGAIN);

    NOTE("a write end: POLL_OUT when room comes, FIOASYNC, F_SETOWN_EX");
    char buf[16];
    while (read(p[0], buf, sizeof buf) == (ssize_t)sizeof buf) {
    }
    struct f_owner_ex own = {.type = F_OWNER_PID, .pid = getpid()};
    EXPECT_OK(fcntl(p[1], F_SETOWN_EX, &own));
    EXPECT_OK(fcntl(p[1], F_SETSIG, SIGUSR1));
    int on = 1;
    EXPECT_OK(ioctl(p[1], FIOASYNC, &on));
    EXPECT_EQ(fcntl(p[1], F_GETFL) & O_ASYNC, O_ASYNC);
    EXPECT_EQ(write(p[1], "fg", 2), 2);
    EXPECT_EQ(read(p[0], buf, 1), 1);
    EXPECT_EQ(wait_for(SIGUSR1, &si, 2000), SIGUSR1);
    EXPECT_EQ(si.si_code, POLL_OUT);
    EXPECT_EQ(si.si_fd, p[1]);
    EXPECT_EQ(si.si_band, POLLOUT | POLLWRNORM | POLLWRBAND);
    close(p[0]);
    close(p[1]);
    return guest_done();
}
