// SPDX-License-Identifier: Apache-2.0
//
// /dev/null, /dev/zero and /dev/urandom.

#include "guest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static int all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static void check_chr(const char *path, unsigned maj, unsigned min) {
    struct stat st;
    char label[96];
    snprintf(label, sizeof label, "%s is character device %u:%u", path, maj, min);
    CHECK(label, stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj &&
                     minor(st.st_rdev) == min);
    snprintf(label, sizeof label, "%s is readable and writable by all", path);
    CHECK(label, (st.st_mode & 0666) == 0666);
}

static void test_null(void) {
    NOTE("/dev/null");
    check_chr("/dev/null", 1, 3);
    int fd = EXPECT_OK(open("/dev/null", O_RDWR));
    char buf[64];
    EXPECT_EQ(read(fd, buf, sizeof buf), 0);
    EXPECT_EQ(write(fd, "discarded", 9), 9);
    static char big[1 << 20];
    EXPECT_EQ(write(fd, big, sizeof big), sizeof big);
    EXPECT_EQ(read(fd, buf, sizeof buf), 0);
    EXPECT_EQ(lseek(fd, 0, SEEK_END), 0);
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 0);
    EXPECT_OK(close(fd));
}

static void test_zero(void) {
    NOTE("/dev/zero");
    check_chr("/dev/zero", 1, 5);
    int fd = EXPECT_OK(open("/dev/zero", O_RDWR));
    static unsigned char buf[200000];
    memset(buf, 0xff, sizeof buf);
    EXPECT_EQ(read(fd, buf, sizeof buf), sizeof buf);
    CHECK("200000 bytes read are zero", all_zero(buf, sizeof buf));
    EXPECT_EQ(write(fd, "x", 1), 1);
    memset(buf, 0xff, 100);
    EXPECT_EQ(pread(fd, buf, 100, 12345), 100);
    CHECK("pread gives zeros", all_zero(buf, 100));
    EXPECT_EQ(read(fd, buf, 0), 0);
    EXPECT_OK(close(fd));
}

static void test_urandom(void) {
    NOTE("/dev/urandom");
    check_chr("/dev/urandom", 1, 9);
    int fd = EXPECT_OK(open("/dev/urandom", O_RDONLY));
    unsigned char a[64], b[64];
    EXPECT_EQ(read(fd, a, sizeof a), 64);
    EXPECT_EQ(read(fd, b, sizeof b), 64);
    CHECK("not all zero", !all_zero(a, sizeof a));
    CHECK("two reads differ", memcmp(a, b, sizeof a) != 0);
    static unsigned char big[1 << 16];
    EXPECT_EQ(read(fd, big, sizeof big), sizeof big);
    // Every byte value shows up in 64 KiB of random bytes.
    int seen[256] = {0}, distinct = 0;
    for (size_t i = 0; i < sizeof big; i++) {
        distinct += !seen[big[i]]++;
    }
    EXPECT_EQ(distinct, 256);
    EXPECT_OK(close(fd));
}

int main(void) {
    test_null();
    test_zero();
    test_urandom();
    return guest_done();
}
