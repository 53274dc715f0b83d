// SPDX-License-Identifier: Apache-2.0
//
// Escape attempts, run by tests/tests/escapes.rs inside `sandbox run` (not a differential
// guest: natively these would of course reach the host). Each mode prints what it managed to
// read; the test checks the host's files afterwards.
//
//   escapes openat2 DIR            RESOLVE_IN_ROOT / RESOLVE_BENEATH tricks from DIR
//   escapes race DIR SECS          swap DIR/d (a directory) with DIR/s (a symlink outside)
//                                  while walking DIR/d/secret and writing DIR/d/w
//   escapes link FILE DIR          hard links to FILE (outside DIR) into DIR, also through
//                                  /proc/self/fd, and renames out of DIR
#include "guest.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static int openat2_(int dir, const char *path, int flags, unsigned long long resolve) {
    struct open_how how = {
        .flags = (unsigned long long)flags, .mode = (flags & O_CREAT) ? 0644 : 0, .resolve = resolve};
    return (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
}

// Prints the first line of what `fd` reads (or the errno of opening it), then closes it.
static void show(const char *what, int fd) {
    if (fd < 0) {
        printf("%s: %s\n", what, errno_name(errno));
        return;
    }
    char buf[128] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n > 0) {
        buf[strcspn(buf, "\n")] = 0;
        printf("%s: read \"%s\"\n", what, buf);
    } else {
        printf("%s: opened\n", what);
    }
    close(fd);
}

static int mode_openat2(const char *dir) {
    int d = open(dir, O_PATH | O_DIRECTORY);
    if (d < 0) {
        perror(dir);
        return 2;
    }
    const char *paths[] = {"../secret", "../../../../secret", "/secret", "up/secret", "abs/secret",
                           "/../secret", "proc-root/secret"};
    unsigned long long modes[] = {RESOLVE_IN_ROOT, RESOLVE_BENEATH,
                                  RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, 0};
    const char *names[] = {"IN_ROOT", "BENEATH", "IN_ROOT|NO_MAGICLINKS", "none"};
    for (unsigned i = 0; i < sizeof paths / sizeof *paths; i++) {
        for (unsigned m = 0; m < sizeof modes / sizeof *modes; m++) {
            char what[256];
            snprintf(what, sizeof what, "openat2(%s, %s)", paths[i], names[m]);
            show(what, openat2_(d, paths[i], O_RDONLY, modes[m]));
        }
    }
    // Creating through `..` with RESOLVE_IN_ROOT stays inside DIR.
    show("create IN_ROOT ../../created", openat2_(d, "../../created", O_CREAT | O_WRONLY, RESOLVE_IN_ROOT));
    show("create BENEATH ../created", openat2_(d, "../created", O_CREAT | O_WRONLY, RESOLVE_BENEATH));
    return 0;
}

static volatile sig_atomic_t stop;

static int mode_race(const char *dir, int secs) {
    if (chdir(dir) != 0) {
        perror(dir);
        return 2;
    }
    pid_t swapper = fork();
    if (swapper == 0) {
        // d <-> s: for an instant d is the symlink pointing outside.
        for (;;) {
            syscall(SYS_renameat2, AT_FDCWD, "d", AT_FDCWD, "s", 2 /* RENAME_EXCHANGE */);
        }
    }
    time_t end = time(NULL) + secs;
    long walks = 0, outside = 0, inside = 0;
    while (time(NULL) < end) {
        int fd = open("d/secret", O_RDONLY);
        if (fd >= 0) {
            char buf[64] = {0};
            if (read(fd, buf, sizeof buf - 1) > 0) {
                if (strncmp(buf, "OUTSIDE", 7) == 0) {
                    outside++;
                } else {
                    inside++;
                }
            }
            close(fd);
        }
        int w = open("d/w", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (w >= 0) {
            (void)!write(w, "x", 1);
            close(w);
        }
        walks++;
    }
    kill(swapper, SIGKILL);
    waitpid(swapper, NULL, 0);
    printf("race: %s walks, read the outside secret %ld times, the inside one %s\n",
           walks > 0 ? "some" : "no", outside, inside > 0 ? "some times" : "never");
    return 0;
}

static int mode_link(const char *file, const char *dir) {
    char to[512];
    snprintf(to, sizeof to, "%s/hard", dir);
    printf("link: %s\n", link(file, to) == 0 ? "made" : errno_name(errno));
    int fd = open(file, O_RDONLY);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    snprintf(to, sizeof to, "%s/hard-proc", dir);
    printf("linkat /proc/self/fd: %s\n",
           linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW) == 0 ? "made" : errno_name(errno));
    snprintf(to, sizeof to, "%s/hard-empty", dir);
    printf("linkat AT_EMPTY_PATH: %s\n",
           linkat(fd, "", AT_FDCWD, to, AT_EMPTY_PATH) == 0 ? "made" : errno_name(errno));
    close(fd);
    char from[512];
    snprintf(from, sizeof from, "%s/inside", dir);
    printf("rename out: %s\n", rename(from, "/renamed-out") == 0 ? "moved" : errno_name(errno));
    snprintf(to, sizeof to, "%s/../renamed-up", dir);
    printf("rename up: %s\n", rename(from, to) == 0 ? "moved" : errno_name(errno));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "openat2") == 0) {
        return mode_openat2(argv[2]);
    }
    if (argc == 4 && strcmp(argv[1], "race") == 0) {
        return mode_race(argv[2], atoi(argv[3]));
    }
    if (argc == 4 && strcmp(argv[1], "link") == 0) {
        return mode_link(argv[2], argv[3]);
    }
    fprintf(stderr, "usage: escapes openat2 DIR | race DIR SECS | link FILE DIR\n");
    return 2;
}
