// SPDX-License-Identifier: Apache-2.0
//
// Resource bombs, one per argument, each reporting how it ended (tests/tests/limits.rs runs
// them under `sandbox run --pids/--memory/--overlay-size/--open-files`):
//   forks    fork children that wait, until fork fails
//   threads  start threads that wait, until pthread_create fails
//   memory   allocate and touch 16 MiB blocks, until malloc fails
//   disk     write 1 MiB blocks to a file in the root, until write fails
//   fds      open /dev/null, until open fails
//   pipes    make pipes, until pipe fails
//   writev   twenty 2 GiB writevs from unmapped memory (EFAULT; what the sentry holds meanwhile
//            is measured from outside)
// Each prints "<what> ended with <ERRNO> after <N>" and exits 0.
#include "guest.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>

static void *wait_forever(void *arg) {
    (void)arg;
    for (;;) {
        pause();
    }
    return NULL;
}

static int forks(void) {
    static pid_t kids[100000];
    int n = 0;
    int err = 0;
    while (n < 100000) {
        pid_t p = fork();
        if (p < 0) {
            err = errno;
            break;
        }
        if (p == 0) {
            pause();
            _exit(0);
        }
        kids[n++] = p;
    }
    printf("forks ended with %s after %s\n", errno_name(err), n > 8 ? "many" : "few");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        kill(kids[i], SIGKILL);
    }
    while (wait(NULL) > 0) {
    }
    // The slots came back: a fork works again.
    pid_t p = fork();
    if (p == 0) {
        _exit(7);
    }
    int st = 0;
    waitpid(p, &st, 0);
    printf("fork after: %s\n", p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7 ? "ok" : "failed");
    return 0;
}

static int threads(void) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 << 10);
    int n = 0;
    int err = 0;
    while (n < 100000) {
        pthread_t t;
        err = pthread_create(&t, &a, wait_forever, NULL);
        if (err != 0) {
            break;
        }
        n++;
    }
    printf("threads ended with %s after %s\n", errno_name(err), n > 8 ? "many" : "few");
    return 0;
}

static int memory(void) {
    size_t mib = 0;
    for (;;) {
        char *p = malloc(16 << 20);
        if (p == NULL) {
            break;
        }
        memset(p, 1, 16 << 20);
        mib += 16;
        if (mib > (64ul << 10)) {
            printf("memory never ended\n");
            return 0;
        }
    }
    printf("memory ended with %s after %s\n", errno_name(errno), mib > 32 ? "many" : "few");
    return 0;
}

static int disk(void) {
    int fd = open("/filling", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("disk: open: %s\n", errno_name(errno));
        return 0;
    }
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    size_t mib = 0;
    int err = 0;
    for (;;) {
        ssize_t n = write(fd, block, sizeof block);
        if (n < 0) {
            err = errno;
            break;
        }
        if (n < (ssize_t)sizeof block) {
            // A short write at the limit; the next one fails.
            continue;
        }
        mib++;
        if (mib > (64ul << 10)) {
            break;
        }
    }
    printf("disk ended with %s after %s\n", errno_name(err), mib > 8 ? "many" : "few");
    close(fd);
    unlink("/filling");
    return 0;
}

static int fds(void) {
    int n = 0;
    int err = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            err = errno;
            break;
        }
        n++;
    }
    printf("fds ended with %s after %s\n", errno_name(err), n > 8 ? "many" : "few");
    return 0;
}

static int pipes(void) {
    int n = 0;
    int err = 0;
    for (;;) {
        int p[2];
        if (pipe(p) < 0) {
            err = errno;
            break;
        }
        n++;
    }
    printf("pipes ended with %s after %s\n", errno_name(err), n > 8 ? "many" : "few");
    return 0;
}

static int huge_writev(void) {
    int p[2];
    if (pipe(p) < 0) {
        return 1;
    }
    struct iovec iov = {(void *)0x1000, 1ul << 31};
    int efault = 0;
    for (int i = 0; i < 20; i++) {
        efault += syscall(SYS_writev, p[1], &iov, 1) == -1 && errno == EFAULT;
    }
    printf("writev EFAULT %d times\n", efault);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        int r = strcmp(w, "forks") == 0     ? forks()
                : strcmp(w, "threads") == 0 ? threads()
                : strcmp(w, "memory") == 0  ? memory()
                : strcmp(w, "disk") == 0    ? disk()
                : strcmp(w, "fds") == 0     ? fds()
                : strcmp(w, "pipes") == 0   ? pipes()
                : strcmp(w, "writev") == 0  ? huge_writev()
                                            : 2;
        if (r != 0) {
            fprintf(stderr, "unknown bomb %s\n", w);
            return r;
        }
    }
    return 0;
}
