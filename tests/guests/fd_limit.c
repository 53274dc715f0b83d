// SPDX-License-Identifier: Apache-2.0
//
// RLIMIT_NOFILE as a program meets it: opening host files until EMFILE stops exactly at the
// limit (the sandbox's own descriptors for those files must not run out first), and F_DUPFD
// then fails with EMFILE too. Prints how far below the limit the opens stopped, which must
// match.

#include "guest.h"

#include <fcntl.h>
#include <sys/resource.h>

int main(void) {
    NOTE("open until the descriptor limit");
    struct rlimit rl;
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    // Enough to matter, not so many that the run is slow.
    if (rl.rlim_cur > 4096) {
        rl.rlim_cur = 4096;
        EXPECT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    }
    int last = -1, err = 0;
    for (;;) {
        int fd = open("/etc/passwd", O_RDONLY);
        if (fd < 0) {
            err = errno;
            break;
        }
        last = fd;
    }
    EXPECT_EQ(err, EMFILE);
    EXPECT_EQ((rlim_t)last, rl.rlim_cur - 1);
    EXPECT_ERRNO(fcntl(1, F_DUPFD, 1), EMFILE);
    for (int fd = 3; fd <= last; fd++) {
        close(fd);
    }
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    EXPECT_EQ(fd, 3);
    return guest_done();
}
