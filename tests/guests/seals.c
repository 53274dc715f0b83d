// SPDX-License-Identifier: Apache-2.0
//
// memfd_create and file seals: MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL, MFD_EXEC, fcntl F_ADD_SEALS
// and F_GET_SEALS, and what each seal forbids: write, truncate, fallocate, mmap, mprotect,
// chmod. memfds are the same natively and in the sandbox.

#include "guest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

static int mfd(unsigned flags) {
    return (int)syscall(SYS_memfd_create, "seals", flags);
}

static void test_create(void) {
    NOTE("memfd_create flags");
    EXPECT_ERRNO(mfd(0x100), EINVAL);
    EXPECT_ERRNO(mfd(MFD_EXEC | MFD_NOEXEC_SEAL), EINVAL);
    EXPECT_ERRNO(syscall(SYS_memfd_create, (void *)8, 0), EFAULT);
    int fd = EXPECT_OK(mfd(MFD_CLOEXEC));
    // Without MFD_ALLOW_SEALING the file is sealed against seals.
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
    EXPECT_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
    EXPECT_OK(close(fd));

    fd = EXPECT_OK(mfd(MFD_NOEXEC_SEAL));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_mode & 07777, 0666);
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_EXEC);
    EXPECT_ERRNO(fchmod(fd, 0777), EPERM);
    EXPECT_OK(fchmod(fd, 0644));
    EXPECT_OK(close(fd));

    // F_SEAL_EXEC on an executable file implies the write seals.
    fd = EXPECT_OK(mfd(MFD_EXEC | MFD_ALLOW_SEALING));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), 0);
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS),
              F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE);
    EXPECT_ERRNO(write(fd, "x", 1), EPERM);
    EXPECT_OK(close(fd));

    // Not a memfd or tmpfs file.
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(fcntl(p[0], F_GET_SEALS), EINVAL);
    EXPECT_ERRNO(fcntl(p[1], F_ADD_SEALS, F_SEAL_WRITE), EINVAL);
    EXPECT_ERRNO(fcntl(p[0], F_ADD_SEALS, F_SEAL_WRITE), EPERM);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));
    int null = EXPECT_OK(open("/dev/null", O_RDWR));
    EXPECT_ERRNO(fcntl(null, F_GET_SEALS), EINVAL);
    EXPECT_OK(close(null));
}

static void test_add(void) {
    NOTE("F_ADD_SEALS");
    int fd = EXPECT_OK(mfd(MFD_ALLOW_SEALING));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), 0);
    EXPECT_ERRNO(fcntl(fd, F_ADD_SEALS, 0x40), EINVAL);
    // The argument is an unsigned int: the high bits are dropped.
    EXPECT_OK(syscall(SYS_fcntl, fd, F_ADD_SEALS, 0x100000000UL));
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, 0));
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
    // A dup shares the seals.
    int fd2 = EXPECT_OK(dup(fd));
    EXPECT_OK(fcntl(fd2, F_ADD_SEALS, F_SEAL_SEAL));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    EXPECT_ERRNO(fcntl(fd, F_ADD_SEALS, 0), EPERM);
    EXPECT_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
    EXPECT_OK(close(fd2));
    EXPECT_OK(close(fd));
}

static void test_size_seals(void) {
    NOTE("F_SEAL_SHRINK and F_SEAL_GROW");
    int fd = EXPECT_OK(mfd(MFD_ALLOW_SEALING));
    EXPECT_OK(ftruncate(fd, 8192));
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    EXPECT_ERRNO(ftruncate(fd, 4096), EPERM);
    EXPECT_OK(ftruncate(fd, 8192));
    EXPECT_OK(ftruncate(fd, 12288));
    EXPECT_EQ(pwrite(fd, "abc", 3, 12288), 3);
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 12291);
    EXPECT_ERRNO(ftruncate(fd, 20000), EPERM);
    EXPECT_ERRNO(pwrite(fd, "abc", 3, 12290), EPERM);
    EXPECT_ERRNO(pwrite(fd, "abc", 3, 20000), EPERM);
    EXPECT_EQ(pwrite(fd, "xyz", 3, 100), 3);
    EXPECT_EQ(pwrite(fd, "xyz", 3, 12288), 3);
    EXPECT_ERRNO(fallocate(fd, 0, 0, 20000), EPERM);
    EXPECT_ERRNO(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 20000), EPERM);
    EXPECT_OK(fallocate(fd, 0, 0, 4096));
    EXPECT_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 12291);
    // Mapping is not growing.
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_TRUE(m != MAP_FAILED);
    EXPECT_OK(munmap(m, 4096));
    EXPECT_OK(close(fd));
}

static void test_write_seal(void) {
    NOTE("F_SEAL_WRITE");
    int fd = EXPECT_OK(mfd(MFD_ALLOW_SEALING));
    EXPECT_EQ(write(fd, "hello", 5), 5);
    // A writable shared mapping stops a write seal.
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_TRUE(m != MAP_FAILED);
    EXPECT_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), 0);
    EXPECT_OK(munmap(m, 4096));
    // A private mapping does not.
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_WRITE);
    p[0] = 'J';
    EXPECT_OK(munmap(p, 4096));
    EXPECT_ERRNO(write(fd, "x", 1), EPERM);
    EXPECT_ERRNO(pwrite(fd, "x", 1, 0), EPERM);
    EXPECT_EQ(write(fd, "", 0), 0);
    char buf[8];
    EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 5);
    EXPECT_MEMEQ(buf, "hello", 5);
    // Size changes are still allowed.
    EXPECT_OK(ftruncate(fd, 4096));
    EXPECT_OK(ftruncate(fd, 5));
    EXPECT_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), EPERM);
    EXPECT_TRUE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
                errno == EPERM);
    char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    EXPECT_TRUE(r != MAP_FAILED);
    EXPECT_MEMEQ(r, "hello", 5);
    EXPECT_ERRNO(mprotect(r, 4096, PROT_READ | PROT_WRITE), EACCES);
    EXPECT_OK(munmap(r, 4096));
    EXPECT_OK(close(fd));
}

static void test_future_write(void) {
    NOTE("F_SEAL_FUTURE_WRITE");
    int fd = EXPECT_OK(mfd(MFD_ALLOW_SEALING));
    EXPECT_OK(ftruncate(fd, 4096));
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_TRUE(m != MAP_FAILED);
    // Existing writable mappings stay writable.
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_FUTURE_WRITE);
    memcpy(m, "mapped", 6);
    char buf[8];
    EXPECT_EQ(pread(fd, buf, 6, 0), 6);
    EXPECT_MEMEQ(buf, "mapped", 6);
    EXPECT_ERRNO(write(fd, "x", 1), EPERM);
    EXPECT_TRUE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
                errno == EPERM);
    char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    EXPECT_TRUE(r != MAP_FAILED);
    EXPECT_ERRNO(mprotect(r, 4096, PROT_READ | PROT_WRITE), EACCES);
    EXPECT_OK(munmap(r, 4096));
    EXPECT_OK(munmap(m, 4096));
    // Then F_SEAL_WRITE too.
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_FUTURE_WRITE | F_SEAL_WRITE);
    EXPECT_OK(close(fd));
}

int main(void) {
    test_create();
    test_add();
    test_size_seals();
    test_write_seal();
    test_future_write();
    return guest_done();
}
