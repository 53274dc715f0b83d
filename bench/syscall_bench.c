// SPDX-License-Identifier: Apache-2.0
// The workloads of bench/run.sh: prints nanoseconds per operation.
//   syscall_bench getpid N        raw getpid(2) round trips
//   syscall_bench openfstat N     open("/etc/passwd") + fstat + close
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: syscall_bench getpid|openfstat N\n");
        return 2;
    }
    long n = atol(argv[2]);
    volatile long sink = 0;
    double t0 = now_ns();
    if (!strcmp(argv[1], "getpid")) {
        for (long i = 0; i < n; i++) sink += syscall(SYS_getpid);
    } else if (!strcmp(argv[1], "openfstat")) {
        struct stat st;
        for (long i = 0; i < n; i++) {
            int fd = open("/etc/passwd", O_RDONLY);
            if (fd < 0 || fstat(fd, &st) != 0) { perror("open/fstat"); return 1; }
            sink += st.st_size;
            close(fd);
        }
    } else {
        fprintf(stderr, "unknown test %s\n", argv[1]);
        return 2;
    }
    double t1 = now_ns();
    printf("%.1f\n", (t1 - t0) / n);
    return 0;
}
