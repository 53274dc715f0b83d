// SPDX-License-Identifier: Apache-2.0
//
// Large reads and writes (the sizes the sandbox moves straight between a host file and
// application memory): read, pread, write, pwrite and O_APPEND of 64 KiB and more on a file
// in /tmp and in a host directory (a volume in the sandbox), the file position after each, short reads at the end
// of the file, a buffer that runs into unmapped memory part-way (a short count, or EFAULT when
// nothing could be moved), a read-only buffer, and a file read back after a fork.

#include "guest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define BIG (1 << 20)

static unsigned sum(const unsigned char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) {
        s = s * 31 + p[i];
    }
    return s;
}

static void exercise(const char *path) {
    NOTE("large transfers on %s", strncmp(path, "/tmp", 4) == 0 ? "/tmp" : "a host directory");
    unsigned char *a = malloc(BIG), *b = malloc(BIG);
    for (int i = 0; i < BIG; i++) {
        a[i] = (unsigned char)(i * 7 + i / 4096);
    }
    int fd = EXPECT_OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
    EXPECT_EQ(write(fd, a, BIG), BIG);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), BIG);
    EXPECT_EQ(pwrite(fd, a, 100000, BIG), 100000);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), BIG);
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, BIG + 100000);
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    memset(b, 0, BIG);
    EXPECT_EQ(read(fd, b, BIG), BIG);
    CHECK("read gives back what was written", memcmp(a, b, BIG) == 0);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), BIG);
    // At the end: a short read, then 0.
    EXPECT_EQ(read(fd, b, BIG), 100000);
    EXPECT_EQ(read(fd, b, BIG), 0);
    EXPECT_EQ(pread(fd, b, 200000, 300000), 200000);
    CHECK("pread reads at its offset", memcmp(a + 300000, b, 200000) == 0);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), BIG + 100000);
    // A buffer running into a hole: as many bytes as fit before it.
    unsigned char *m = mmap(NULL, 3 * 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    EXPECT_OK(munmap(m + 2 * 65536, 65536));
    EXPECT_EQ(pread(fd, m, 3 * 65536, 0), 2 * 65536);
    CHECK("the part before the hole", memcmp(m, a, 2 * 65536) == 0);
    EXPECT_ERRNO(pread(fd, m + 2 * 65536, 65536, 0), EFAULT);
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    EXPECT_ERRNO(read(fd, m + 2 * 65536, 65536), EFAULT);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
    // A read-only buffer cannot be read into; it can be written from.
    EXPECT_OK(mprotect(m, 2 * 65536, PROT_READ));
    EXPECT_ERRNO(read(fd, m, 2 * 65536), EFAULT);
    EXPECT_EQ(pwrite(fd, m, 2 * 65536, 0), 2 * 65536);
    EXPECT_ERRNO(write(fd, m + 2 * 65536, 65536), EFAULT);
    munmap(m, 2 * 65536);
    close(fd);
    // O_APPEND goes to the end whatever the position.
    fd = EXPECT_OK(open(path, O_WRONLY | O_APPEND));
    EXPECT_EQ(write(fd, a, 70000), 70000);
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, BIG + 170000);
    close(fd);
    // A child reads with the descriptor it inherited; the parent sees its position.
    fd = EXPECT_OK(open(path, O_RDONLY));
    pid_t pid = fork();
    if (pid == 0) {
        _exit(read(fd, b, BIG) == BIG && memcmp(a, b, BIG) == 0 ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_EQ(lseek(fd, 0, SEEK_CUR), BIG);
    EXPECT_EQ(read(fd, b, BIG), 170000);
    EXPECT_EQ(sum(b, 70000), sum(a, 70000));
    close(fd);
    EXPECT_OK(unlink(path));
    free(a);
    free(b);
}

int main(int argc, char **argv) {
    char tmpl[] = "/tmp/big_io-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0) {
        close(fd);
        exercise(tmpl);
    }
    // A host directory: natively itself, in the sandbox a volume of the same path.
    if (argc > 1) {
        char path[512];
        snprintf(path, sizeof path, "%s/big_io-XXXXXX", argv[1]);
        int vfd = mkstemp(path);
        if (vfd >= 0) {
            close(vfd);
            exercise(path);
        }
    }
    return guest_done();
}
