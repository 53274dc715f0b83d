// SPDX-License-Identifier: Apache-2.0
//
// AF_UNIX stream throughput: a parent writes MIB MiB in WRITE-byte writes through a
// socketpair to a child that reads them in buffers of the same size; prints the seconds from
// the first write to the child's last read (it answers one byte).
//   unix_bench MIB [WRITE]
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 1024;
    long chunk = argc > 2 ? atol(argv[2]) : 65536;
    long total = mib << 20;
    char *buf = malloc(chunk);
    for (long i = 0; i < chunk; i++) {
        buf[i] = (char)i;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        long got = 0;
        ssize_t n;
        while (got < total && (n = read(sv[1], buf, chunk)) > 0) {
            got += n;
        }
        char ok = got == total ? 'y' : 'n';
        write(sv[1], &ok, 1);
        _exit(0);
    }
    close(sv[1]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long sent = 0; sent < total;) {
        ssize_t n = write(sv[0], buf, chunk);
        if (n <= 0) {
            perror("write");
            return 1;
        }
        sent += n;
    }
    char ok = 0;
    if (read(sv[0], &ok, 1) != 1 || ok != 'y') {
        fprintf(stderr, "short transfer\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waitpid(pid, NULL, 0);
    printf("%.4f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
