// SPDX-License-Identifier: Apache-2.0
//
// What a program finds when it starts: arguments, environment, working directory, the
// auxiliary vector, descriptors 0-2, and the stack.
//
// The harness runs this guest with the arguments `one`, `two words`, an empty one and `ünï`,
// in /usr, with PATH and LANG=C as the whole environment (plus SANDBOX=1 when sandboxed).

#include "guest.h"

#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/stat.h>

extern char **environ;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv, char **envp) {
    NOTE("arguments");
    EXPECT_EQ(argc, 5);
    for (int i = 1; i < argc; i++) {
        printf("# argv[%d] = \"%s\"\n", i, argv[i]);
    }
    EXPECT_TRUE(argv[argc] == NULL);
    // argv[0] is the path the program was started by: the same in both runs.
    EXPECT_TRUE(argv[0] != NULL && argv[0][0] == '/');

    NOTE("environment");
    EXPECT_TRUE(envp == environ);
    EXPECT_TRUE(envp == argv + argc + 1);
    // SANDBOX=1 is the harness's one deliberate difference; everything else is printed sorted.
    char *vars[64];
    int n = 0;
    for (char **e = envp; *e != NULL && n < 64; e++) {
        if (strncmp(*e, "SANDBOX=", 8) != 0) {
            vars[n++] = *e;
        }
    }
    qsort(vars, n, sizeof vars[0], cmp_str);
    for (int i = 0; i < n; i++) {
        printf("# env %s\n", vars[i]);
    }
    EXPECT_STREQ(getenv("LANG"), "C");
    EXPECT_TRUE(getenv("PATH") != NULL);
    CHECK("SANDBOX is set exactly when sandboxed", (getenv("SANDBOX") != NULL) == in_sandbox());

    NOTE("working directory");
    char cwd[256];
    EXPECT_TRUE(getcwd(cwd, sizeof cwd) != NULL);
    EXPECT_STREQ(cwd, "/usr");
    EXPECT_OK(access("include", F_OK));

    NOTE("descriptors");
    // stdin is /dev/null and stdout a pipe, in both runs; nothing else is open.
    struct stat in, out, null;
    EXPECT_OK(fstat(0, &in));
    EXPECT_OK(fstat(1, &out));
    EXPECT_OK(stat("/dev/null", &null));
    CHECK("stdin is /dev/null", S_ISCHR(in.st_mode) && in.st_rdev == null.st_rdev);
    EXPECT_TRUE(S_ISFIFO(out.st_mode));
    EXPECT_EQ(fcntl(0, F_GETFL) & O_ACCMODE, O_RDONLY);
    EXPECT_EQ(fcntl(1, F_GETFL) & O_ACCMODE, O_WRONLY);
    int highest = -1;
    for (int fd = 3; fd < 64; fd++) {
        if (fcntl(fd, F_GETFD) != -1) {
            highest = fd;
        }
    }
    EXPECT_EQ(highest, -1);
    EXPECT_EQ(fcntl(0, F_GETFD), 0);
    EXPECT_EQ(fcntl(1, F_GETFD), 0);
    EXPECT_EQ(fcntl(2, F_GETFD), 0);

    NOTE("auxiliary vector");
    EXPECT_EQ(getauxval(AT_PAGESZ), 4096);
    EXPECT_EQ(getauxval(AT_UID), getuid());
    EXPECT_EQ(getauxval(AT_EUID), geteuid());
    EXPECT_EQ(getauxval(AT_GID), getgid());
    EXPECT_EQ(getauxval(AT_EGID), getegid());
    EXPECT_EQ(getauxval(AT_SECURE), 0);
    EXPECT_NE(getauxval(AT_PHDR), 0);
    EXPECT_EQ(getauxval(AT_PHENT), 56);
    EXPECT_NE(getauxval(AT_PHNUM), 0);
    EXPECT_NE(getauxval(AT_ENTRY), 0);
    EXPECT_NE(getauxval(AT_RANDOM), 0);
    EXPECT_GT(getauxval(AT_CLKTCK), 0);
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    EXPECT_STREQ(platform, "x86_64");
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    EXPECT_STREQ(execfn, argv[0]);
    unsigned char *random = (unsigned char *)getauxval(AT_RANDOM);
    int nonzero = 0;
    for (int i = 0; i < 16; i++) {
        nonzero |= random[i];
    }
    CHECK("AT_RANDOM points at 16 bytes, not all zero", nonzero != 0);

    NOTE("stack");
    int local;
    CHECK("main's locals lie below the argument pointers",
          (uintptr_t)&local < (uintptr_t)argv);
    CHECK("argument strings lie above the pointer arrays", (uintptr_t)argv[1] > (uintptr_t)envp);
    CHECK("the stack is 16-byte aligned at main", ((uintptr_t)__builtin_frame_address(0) & 15) == 0);
    return guest_done();
}
