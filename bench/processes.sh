#!/usr/bin/env bash
# Process benchmarks of the sandbox beside native, in one run (issue 4, item 11):
# fork+exit+wait, fork+exec+wait of /bin/true, pthread_create+join, futex ping-pong between two
# threads, a signal sent to self and handled.
#   bench/processes.sh [REPS]     (default 5 repetitions, interleaved)
# Prints a markdown table of medians (ns per iteration) and ratios. Builds the workload into a
# temporary directory under target/ (not /tmp: inside the sandbox /tmp is its own tmpfs); needs
# gcc. SANDBOX_BIN picks the sandbox binary (default: build target/release/sandbox).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
reps=${1:-5}
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" bench-procs.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ -n "${SANDBOX_BIN:-}" ]; then
    sb=$SANDBOX_BIN
else
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
    sb="$root/target/release/sandbox"
fi

cat >"$work/proc_bench.c" <<'C'
// `proc_bench TEST N`: N iterations of TEST, prints the mean nanoseconds per iteration.
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void *nothing(void *arg) { return arg; }

static _Atomic int word;
static long rounds;

static void futex_wait(int expect) {
    while (word == expect) {
        syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
    }
}

static void futex_set(int v) {
    word = v;
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *ponger(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        futex_wait(0);  // ping is 1; answer with pong, 0
        futex_set(0);
    }
    return NULL;
}

static volatile long handled;
static void on_usr1(int sig) { (void)sig; handled++; }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: proc_bench fork|forkexec|thread|futex|signal N\n");
        return 2;
    }
    const char *test = argv[1];
    long n = atol(argv[2]);
    long t0 = now_ns();
    if (strcmp(test, "fork") == 0) {
        for (long i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) _exit(0);
            waitpid(p, NULL, 0);
        }
    } else if (strcmp(test, "forkexec") == 0) {
        char *args[] = {"/bin/true", NULL};
        for (long i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) {
                execv(args[0], args);
                _exit(127);
            }
            int st;
            waitpid(p, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
        }
    } else if (strcmp(test, "thread") == 0) {
        for (long i = 0; i < n; i++) {
            pthread_t t;
            pthread_create(&t, NULL, nothing, NULL);
            pthread_join(t, NULL);
        }
    } else if (strcmp(test, "futex") == 0) {
        rounds = n;
        pthread_t t;
        pthread_create(&t, NULL, ponger, NULL);
        for (long i = 0; i < n; i++) {
            futex_set(1);
            futex_wait(1);
        }
        pthread_join(t, NULL);
    } else if (strcmp(test, "signal") == 0) {
        signal(SIGUSR1, on_usr1);
        for (long i = 0; i < n; i++) raise(SIGUSR1);
        if (handled != n) return 1;
    } else {
        return 2;
    }
    printf("%ld\n", (now_ns() - t0) / n);
    return 0;
}
C
gcc -O2 -static -pthread -o "$work/proc_bench" "$work/proc_bench.c"

# Iterations per run: natively, and under the sandbox (where each costs more).
declare -A N_NATIVE=([fork]=2000 [forkexec]=500 [thread]=5000 [futex]=20000 [signal]=100000)
declare -A N_SANDBOX=([fork]=500 [forkexec]=200 [thread]=1000 [futex]=2000 [signal]=5000)
tests="fork forkexec thread futex signal"
results="$work/results"
: >"$results"
for r in $(seq "$reps"); do
    for t in $tests; do
        echo "$t native $("$work/proc_bench" "$t" "${N_NATIVE[$t]}")" >>"$results"
        echo "$t sandbox $("$sb" run "$work/proc_bench" "$t" "${N_SANDBOX[$t]}")" >>"$results"
    done
done

python3 - "$results" <<'PY'
import sys, statistics
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    test, mode, ns = line.split()
    d[(test, mode)].append(float(ns))
names = {
    "fork": "fork + _exit + waitpid",
    "forkexec": "fork + execve /bin/true + waitpid",
    "thread": "pthread_create + pthread_join",
    "futex": "futex ping-pong between two threads (round trip)",
    "signal": "raise(SIGUSR1), handled",
}
print("| benchmark | native µs | sandbox µs | sandbox/native |")
print("|---|---|---|---|")
for test in ["fork", "forkexec", "thread", "futex", "signal"]:
    nat = statistics.median(d[(test, "native")])
    sb = statistics.median(d[(test, "sandbox")])
    print(f"| {names[test]} | {nat / 1000:.1f} | {sb / 1000:.1f} | {sb / nat:.1f}x |")
PY
