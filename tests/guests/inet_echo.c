// SPDX-License-Identifier: Apache-2.0
//
// A C server and client over IPv6 loopback, as two programs (tests/tests/inet_programs.rs
// runs `inet_echo server | inet_echo client`):
//   inet_echo server    listens on [::1] port 0, prints the port, then answers each line of
//                       each connection with the line upper-cased, until a client says "quit"
//   inet_echo client    reads the port from stdin, connects, sends three lines and prints the
//                       answers, then tells the server to quit

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int serve(void) {
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 4) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0) {
        perror("server");
        return 1;
    }
    printf("%d\n", ntohs(a.sin6_port));
    fflush(stdout);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) {
            perror("accept");
            return 1;
        }
        FILE *in = fdopen(c, "r+");
        char line[256];
        while (fgets(line, sizeof line, in) != NULL) {
            if (strcmp(line, "quit\n") == 0) {
                fclose(in);
                close(l);
                return 0;
            }
            for (char *p = line; *p; p++) {
                *p = (char)toupper((unsigned char)*p);
            }
            fputs(line, in);
            fflush(in);
        }
        fclose(in);
    }
}

static int client(void) {
    int port;
    if (scanf("%d", &port) != 1) {
        fprintf(stderr, "no port\n");
        return 1;
    }
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port),
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        return 1;
    }
    FILE *io = fdopen(s, "r+");
    const char *lines[] = {"hello over ipv6\n", "second line\n", "third\n"};
    char buf[256];
    for (int i = 0; i < 3; i++) {
        fputs(lines[i], io);
        fflush(io);
        if (fgets(buf, sizeof buf, io) == NULL) {
            fprintf(stderr, "no answer\n");
            return 1;
        }
        fputs(buf, stdout);
    }
    fclose(io);
    s = socket(AF_INET6, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0 || write(s, "quit\n", 5) != 5) {
        perror("quit");
        return 1;
    }
    close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "server") == 0) {
        return serve();
    }
    if (argc == 2 && strcmp(argv[1], "client") == 0) {
        return client();
    }
    fprintf(stderr, "usage: inet_echo server|client\n");
    return 2;
}
