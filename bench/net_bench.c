// SPDX-License-Identifier: Apache-2.0
// TCP loopback benchmarks for bench/net.sh; each prints one number.
//   net_bench bulk MIB       a child writes MIB MiB in 64 KiB writes, the parent reads them:
//                            MB/s (10^6 bytes per second), first byte to last
//   net_bench rr N           N round trips of a 64-byte request and its 64-byte answer
//                            between two processes: microseconds per round trip
//   net_bench conn N         N times connect + accept + close (both sides), one process:
//                            microseconds per connection
//   net_bench sink           a server on 127.0.0.1, port 0, that prints its port, then for
//                            every connection reads to EOF and closes (runs until killed)
//   net_bench send IP PORT MIB
//                            a client that writes MIB MiB in 64 KiB writes to IP:PORT, shuts
//                            down writing and waits for the server's close: MB/s, first byte
//                            to the close
// Every other socket is on 127.0.0.1, port 0.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sockaddr_in addr;

static int listener(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (bind(l, (struct sockaddr *)&addr, len) < 0 || listen(l, 128) < 0 ||
        getsockname(l, (struct sockaddr *)&addr, &len) < 0) {
        perror("listener");
        exit(1);
    }
    return l;
}

static int dial(void) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        exit(1);
    }
    return c;
}

static int full(int fd, char *buf, size_t n, int wr) {
    size_t done = 0;
    while (done < n) {
        ssize_t k = wr ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
        if (k <= 0) {
            return -1;
        }
        done += k;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "sink") == 0) {
        static char buf[1 << 16];
        int l = listener();
        printf("%d\n", ntohs(addr.sin_port));
        fflush(stdout);
        for (;;) {
            int d = accept(l, NULL, NULL);
            if (d < 0) {
                continue;
            }
            while (read(d, buf, sizeof buf) > 0) {
            }
            close(d);
        }
    }
    if (argc == 5 && strcmp(argv[1], "send") == 0) {
        static char buf[1 << 16];
        long n = atol(argv[4]);
        addr.sin_family = AF_INET;
        addr.sin_port = htons((unsigned short)atoi(argv[3]));
        if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1) {
            fprintf(stderr, "bad address %s\n", argv[2]);
            return 2;
        }
        int c = dial();
        memset(buf, 'x', sizeof buf);
        double t0 = now();
        for (long i = 0; i < n * 16; i++) {
            if (full(c, buf, sizeof buf, 1) < 0) {
                return 1;
            }
        }
        shutdown(c, SHUT_WR);
        while (read(c, buf, sizeof buf) > 0) {
        }
        double t = now() - t0;
        printf("%.1f\n", (double)(n << 20) / t / 1e6);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: net_bench bulk|rr|conn N | sink | send IP PORT MIB\n");
        return 2;
    }
    long n = atol(argv[2]);
    int l = listener();
    if (strcmp(argv[1], "bulk") == 0) {
        static char buf[1 << 16];
        pid_t pid = fork();
        if (pid == 0) {
            int c = dial();
            memset(buf, 'x', sizeof buf);
            for (long i = 0; i < n * 16; i++) {
                if (full(c, buf, sizeof buf, 1) < 0) {
                    _exit(1);
                }
            }
            close(c);
            _exit(0);
        }
        int d = accept(l, NULL, NULL);
        long total = 0;
        ssize_t k = read(d, buf, sizeof buf);
        double t0 = now();
        while (k > 0) {
            total += k;
            k = read(d, buf, sizeof buf);
        }
        double t = now() - t0;
        waitpid(pid, NULL, 0);
        if (total != n << 20) {
            fprintf(stderr, "short: %ld\n", total);
            return 1;
        }
        printf("%.1f\n", (double)total / t / 1e6);
    } else if (strcmp(argv[1], "rr") == 0) {
        char msg[64];
        memset(msg, 'r', sizeof msg);
        pid_t pid = fork();
        if (pid == 0) {
            int c = dial();
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            for (long i = 0; i < n + 100; i++) {
                if (full(c, msg, sizeof msg, 0) < 0 || full(c, msg, sizeof msg, 1) < 0) {
                    _exit(1);
                }
            }
            _exit(0);
        }
        int d = accept(l, NULL, NULL);
        int one = 1;
        setsockopt(d, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        double t0 = 0;
        for (long i = 0; i < n + 100; i++) {
            if (i == 100) {
                t0 = now();  // after a warm-up
            }
            if (full(d, msg, sizeof msg, 1) < 0 || full(d, msg, sizeof msg, 0) < 0) {
                return 1;
            }
        }
        double t = now() - t0;
        waitpid(pid, NULL, 0);
        printf("%.2f\n", t / (double)n * 1e6);
    } else if (strcmp(argv[1], "conn") == 0) {
        double t0 = now();
        for (long i = 0; i < n; i++) {
            int c = dial();
            int d = accept(l, NULL, NULL);
            if (d < 0) {
                perror("accept");
                return 1;
            }
            close(c);
            close(d);
        }
        double t = now() - t0;
        printf("%.2f\n", t / (double)n * 1e6);
    } else {
        return 2;
    }
    return 0;
}
