// SPDX-License-Identifier: Apache-2.0
// File benchmarks for bench/files.sh; prints the elapsed seconds.
//   files_bench write FILE MIB     sequential 1 MiB writes (then an fsync, not timed)
//   files_bench read FILE          sequential 1 MiB reads to the end
//   files_bench churn DIR N        create N empty files, then unlink them
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    static char buf[1 << 20];
    if (argc < 3) {
        return 2;
    }
    double t0 = now();
    if (strcmp(argv[1], "write") == 0 && argc == 4) {
        memset(buf, 'x', sizeof buf);
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            perror(argv[2]);
            return 1;
        }
        for (long i = 0; i < atol(argv[3]); i++) {
            if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
                perror("write");
                return 1;
            }
        }
        // The writes are timed, not the flush to the host's disk that follows: that is the
        // disk's speed, the same for both, and noisy enough to hide the rest.
        double t = now() - t0;
        fsync(fd);
        close(fd);
        printf("%.4f\n", t);
        return 0;
    } else if (strcmp(argv[1], "read") == 0) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            perror(argv[2]);
            return 1;
        }
        while (read(fd, buf, sizeof buf) > 0) {
        }
        close(fd);
    } else if (strcmp(argv[1], "churn") == 0 && argc == 4) {
        long n = atol(argv[3]);
        char p[4096];
        for (long i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/f%ld", argv[2], i);
            int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd < 0) {
                perror(p);
                return 1;
            }
            close(fd);
        }
        for (long i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/f%ld", argv[2], i);
            if (unlink(p) != 0) {
                perror(p);
                return 1;
            }
        }
    } else {
        return 2;
    }
    printf("%.4f\n", now() - t0);
    return 0;
}
