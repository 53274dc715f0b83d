// SPDX-License-Identifier: Apache-2.0
//
// Matchers shared by every differential guest, in the manner of gVisor's syscall tests.
//
// A guest is a plain C program that makes system calls and checks what they return. Each check
// prints one line of a deterministic transcript:
//
//     ok 3 open("/etc/passwd", O_RDONLY)
//     FAIL 4 read(dirfd, buf, sizeof buf) -> EISDIR: got -1 errno EBADF
//
// The harness runs the guest natively and under `sandbox run` and compares the transcripts
// and exit statuses. So a line must never contain anything that legitimately differs between
// the two runs (PIDs, inode numbers, times, addresses): print relations, not values. A guest
// includes this header first (it defines _GNU_SOURCE) and ends with `return guest_done();`, which exits 1 if any check failed.
//
// Known divergences: `in_sandbox()` is true when the harness set SANDBOX=1 (only in the
// sandboxed run). Use it only to pick the expected value of a check whose line text is the same
// in both runs, with a comment saying why the two differ.

#ifndef GUEST_H
#define GUEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int guest_checks;
static int guest_failures;

// Line-buffer stdout so the transcript survives a crash up to the last check, and so it does
// not depend on when stdio decides to flush.
__attribute__((constructor)) static void guest_init(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline int in_sandbox(void) {
    const char *s = getenv("SANDBOX");
    return s != NULL && strcmp(s, "1") == 0;
}

static inline const char *errno_name(int e) {
    if (e == 0) {
        return "0";
    }
    const char *name = strerrorname_np(e);
    return name != NULL ? name : "E?";
}

// Prints "# text": a section header or a note. Deterministic text only.
#define NOTE(...)                  \
    do {                           \
        fputs("# ", stdout);       \
        printf(__VA_ARGS__);       \
        fputc('\n', stdout);       \
    } while (0)

// Records one check. `detail` (printf-style) is printed only when the check fails.
static inline int guest_report(int ok, const char *what, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int guest_report(int ok, const char *what, const char *detail_fmt, ...) {
    guest_checks++;
    if (ok) {
        printf("ok %d %s\n", guest_checks, what);
        return 1;
    }
    guest_failures++;
    printf("FAIL %d %s: ", guest_checks, what);
    va_list ap;
    va_start(ap, detail_fmt);
    vprintf(detail_fmt, ap);
    va_end(ap);
    putchar('\n');
    return 0;
}

// A check with its own label, for conditions whose expression text would not say enough.
#define CHECK(label, cond) guest_report(!!(cond), (label), "condition `%s` is false", #cond)

// `expr` must not fail (-1, or MAP_FAILED); evaluates to its value.
#define EXPECT_OK(expr)                                                                        \
    ({                                                                                         \
        errno = 0;                                                                             \
        __auto_type r_ = (expr);                                                               \
        int e_ = errno;                                                                        \
        guest_report((intptr_t)r_ != -1, #expr, "failed with %s", errno_name(e_));            \
        r_;                                                                                    \
    })

// `expr` must fail with -1 and errno `err`.
#define EXPECT_ERRNO(expr, err)                                                                \
    ({                                                                                         \
        errno = 0;                                                                             \
        long long r_ = (long long)(intptr_t)(expr);                                            \
        int e_ = errno;                                                                        \
        guest_report(r_ == -1 && e_ == (err), #expr " -> " #err, "got %lld errno %s", r_,     \
                     errno_name(e_));                                                          \
    })

#define EXPECT_CMP(a, op, b)                                                                   \
    ({                                                                                         \
        long long a_ = (long long)(a);                                                         \
        long long b_ = (long long)(b);                                                         \
        guest_report(a_ op b_, #a " " #op " " #b, "%lld vs %lld (errno %s)", a_, b_,           \
                     errno_name(errno));                                                       \
    })

#define EXPECT_EQ(a, b) EXPECT_CMP(a, ==, b)
#define EXPECT_NE(a, b) EXPECT_CMP(a, !=, b)
#define EXPECT_GE(a, b) EXPECT_CMP(a, >=, b)
#define EXPECT_GT(a, b) EXPECT_CMP(a, >, b)
#define EXPECT_LE(a, b) EXPECT_CMP(a, <=, b)
#define EXPECT_LT(a, b) EXPECT_CMP(a, <, b)
#define EXPECT_TRUE(cond) guest_report(!!(cond), #cond, "is false")

#define EXPECT_STREQ(a, b)                                                                     \
    ({                                                                                         \
        const char *a_ = (a);                                                                  \
        const char *b_ = (b);                                                                  \
        guest_report(a_ != NULL && b_ != NULL && strcmp(a_, b_) == 0, #a " == " #b,           \
                     "\"%s\" vs \"%s\"", a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
    })

#define EXPECT_MEMEQ(a, b, n)                                                                  \
    guest_report(memcmp((a), (b), (n)) == 0, "memcmp(" #a ", " #b ", " #n ") == 0", "differ")

// Prints the summary and returns the exit status for main.
static inline int guest_done(void) {
    printf("# %d checks, %d failed\n", guest_checks, guest_failures);
    return guest_failures == 0 ? 0 : 1;
}

#endif  // GUEST_H
