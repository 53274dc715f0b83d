// SPDX-License-Identifier: Apache-2.0
//
// brk, mmap, munmap, mprotect, mremap, madvise, mincore, msync.
//
// Signals are not delivered yet, so nothing here faults on purpose. Whether a range is mapped
// is asked of mincore (ENOMEM when not); whether it is readable or writable is asked of the
// kernel by handing it to write(2) or read(2) (EFAULT when not). Addresses are never printed.

#include "guest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static long page;

static int is_mapped(void *addr, size_t len) {
    unsigned char vec[64];
    return mincore(addr, len, vec) == 0;
}

// 1 if the kernel can read `len` (at most 64 KiB) bytes at addr: a write(2) of them into a pipe
// succeeds. (A write to /dev/null would not look at the bytes at all.)
static int kernel_can_read(void *addr, size_t len) {
    int p[2];
    if (pipe(p) != 0) {
        return 0;
    }
    int ok = write(p[1], addr, len) == (ssize_t)len;
    close(p[0]);
    close(p[1]);
    return ok;
}

// 1 if the kernel can write `len` bytes at addr (read(2) into it from /dev/zero succeeds).
static int kernel_can_write(void *addr, size_t len) {
    int zero = open("/dev/zero", O_RDONLY);
    int ok = read(zero, addr, len) == (ssize_t)len;
    close(zero);
    return ok;
}

static int all_bytes(const unsigned char *p, size_t len, unsigned char v) {
    for (size_t i = 0; i < len; i++) {
        if (p[i] != v) {
            return 0;
        }
    }
    return 1;
}

static void test_anonymous(void) {
    NOTE("anonymous mmap and munmap");
    size_t len = 4 * page;
    unsigned char *p = EXPECT_OK(mmap(NULL, len, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    CHECK("mmap result is page aligned", ((uintptr_t)p % page) == 0);
    CHECK("fresh anonymous memory is zero", all_bytes(p, len, 0));
    memset(p, 0xab, len);
    CHECK("written bytes read back", all_bytes(p, len, 0xab));
    EXPECT_TRUE(is_mapped(p, len));
    unsigned char vec[4];
    EXPECT_OK(mincore(p, len, vec));
    CHECK("touched pages are resident", (vec[0] & 1) && (vec[3] & 1));

    // Unmap the middle two pages: the ends stay.
    EXPECT_OK(munmap(p + page, 2 * page));
    EXPECT_TRUE(is_mapped(p, page));
    EXPECT_TRUE(is_mapped(p + 3 * page, page));
    EXPECT_ERRNO(mincore(p + page, page, vec), ENOMEM);
    EXPECT_ERRNO(mincore(p, len, vec), ENOMEM);
    CHECK("the kernel cannot read the hole", !kernel_can_read(p + page, 16));
    CHECK("ends keep their contents", p[0] == 0xab && p[len - 1] == 0xab);
    // Unmapping what is not mapped is fine.
    EXPECT_OK(munmap(p + page, 2 * page));
    EXPECT_OK(munmap(p, len));
    EXPECT_ERRNO(mincore(p, page, vec), ENOMEM);

    // Shared anonymous memory works the same for one process.
    int *s = EXPECT_OK(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                            0));
    s[10] = 42;
    EXPECT_EQ(s[10], 42);
    EXPECT_OK(munmap(s, page));

    // A large reservation costs nothing until touched.
    size_t big = (size_t)1 << 32;
    unsigned char *r = EXPECT_OK(
        mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    EXPECT_TRUE(is_mapped(r + big - page, page));
    EXPECT_OK(munmap(r, big));
}

static void test_bad_arguments(void) {
    NOTE("bad arguments");
    EXPECT_ERRNO(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS, -1, 0),
                 EINVAL);
    EXPECT_ERRNO(mmap((void *)(0x10000000 + 1), page, PROT_READ,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                 EINVAL);
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_PRIVATE, 1000, 0), EBADF);
    EXPECT_ERRNO(mmap(NULL, (size_t)-4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                 ENOMEM);

    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 1), EINVAL);
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
    EXPECT_OK(close(fd));
    int dir = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_PRIVATE, dir, 0), ENODEV);
    EXPECT_OK(close(dir));
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_PRIVATE, p[0], 0), ENODEV);
    EXPECT_OK(close(p[0]));
    EXPECT_OK(close(p[1]));
    int wonly = EXPECT_OK(open("/dev/null", O_WRONLY));
    EXPECT_ERRNO(mmap(NULL, page, PROT_READ, MAP_PRIVATE, wonly, 0), EACCES);
    EXPECT_OK(close(wonly));

    unsigned char *m = EXPECT_OK(mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_ERRNO(munmap(m + 1, page), EINVAL);
    EXPECT_ERRNO(munmap(m, 0), EINVAL);
    EXPECT_ERRNO(munmap((void *)-4096, 2 * page), EINVAL);
    EXPECT_ERRNO(mprotect(m + 1, page, PROT_READ), EINVAL);
    EXPECT_ERRNO(mprotect(m, page, 0x100), EINVAL);
    unsigned char vec[2];
    EXPECT_ERRNO(mincore(m + 1, page, vec), EINVAL);
    EXPECT_ERRNO(madvise(m + 1, page, MADV_NORMAL), EINVAL);
    EXPECT_ERRNO(madvise(m, page, 12345), EINVAL);
    EXPECT_ERRNO(msync(m + 1, page, MS_SYNC), EINVAL);
    EXPECT_ERRNO(msync(m, page, MS_SYNC | MS_ASYNC), EINVAL);
    EXPECT_ERRNO(msync(m, page, 0x100), EINVAL);
    EXPECT_OK(munmap(m, 2 * page));
    EXPECT_ERRNO(mprotect(m, page, PROT_READ), ENOMEM);
    EXPECT_ERRNO(msync(m, page, MS_SYNC), ENOMEM);
    EXPECT_ERRNO(syscall(SYS_mremap, m, page, 2 * page, MREMAP_MAYMOVE), EFAULT);
}

static void test_fixed(void) {
    NOTE("MAP_FIXED and MAP_FIXED_NOREPLACE");
    unsigned char *p = EXPECT_OK(mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    memset(p, 0x11, 3 * page);
    EXPECT_ERRNO(mmap(p + page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                      -1, 0),
                 EEXIST);
    CHECK("a refused NOREPLACE leaves the mapping", p[page] == 0x11);
    // MAP_FIXED replaces: the new page is zero, its neighbours keep their bytes.
    void *q = EXPECT_OK(
        mmap(p + page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    CHECK("MAP_FIXED maps exactly at the address", q == p + page);
    CHECK("the replaced page is zero", all_bytes(p + page, page, 0));
    CHECK("its neighbours are untouched", p[0] == 0x11 && p[3 * page - 1] == 0x11);
    EXPECT_OK(munmap(p + page, page));
    void *r = EXPECT_OK(mmap(p + page, page, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    CHECK("MAP_FIXED_NOREPLACE maps into a hole", r == p + page);
    EXPECT_OK(munmap(p, 3 * page));
}

static void test_mprotect(void) {
    NOTE("mprotect");
    unsigned char *p = EXPECT_OK(mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    memset(p, 'm', 2 * page);
    EXPECT_TRUE(kernel_can_read(p, 2 * page));
    EXPECT_TRUE(kernel_can_write(p + page, 16));
    EXPECT_OK(mprotect(p, page, PROT_READ));
    EXPECT_TRUE(kernel_can_read(p, page));
    int zero = EXPECT_OK(open("/dev/zero", O_RDONLY));
    EXPECT_ERRNO(read(zero, p, 16), EFAULT);
    CHECK("the read-only page still holds its bytes", p[0] == 'm' && p[page - 1] == 'm');
    EXPECT_EQ(read(zero, p + page, 16), 16);
    EXPECT_OK(mprotect(p, 2 * page, PROT_NONE));
    int pp[2];
    EXPECT_OK(pipe(pp));
    EXPECT_ERRNO(write(pp[1], p, 16), EFAULT);
    EXPECT_ERRNO(write(pp[1], p + page, 16), EFAULT);
    EXPECT_OK(close(pp[0]));
    EXPECT_OK(close(pp[1]));
    EXPECT_TRUE(is_mapped(p, 2 * page));
    EXPECT_OK(mprotect(p, 2 * page, PROT_READ | PROT_WRITE));
    CHECK("contents survive PROT_NONE", p[0] == 'm' && p[page] == 0);
    EXPECT_OK(close(zero));
    // Part of the range unmapped: ENOMEM.
    EXPECT_OK(munmap(p + page, page));
    EXPECT_ERRNO(mprotect(p, 2 * page, PROT_READ), ENOMEM);
    EXPECT_OK(munmap(p, page));
}

static void test_mremap(void) {
    NOTE("mremap");
    unsigned char *p = EXPECT_OK(mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (long i = 0; i < 2 * page; i++) {
        p[i] = (unsigned char)(i % 251);
    }
    // The third page, made a mapping of its own, blocks growth in place.
    unsigned char *guard = p + 2 * page;
    EXPECT_OK(mprotect(guard, page, PROT_NONE));
    EXPECT_ERRNO(mremap(p, 2 * page, 8 * page, 0), ENOMEM);
    unsigned char *g = EXPECT_OK(mremap(p, 2 * page, 8 * page, MREMAP_MAYMOVE));
    CHECK("grown mapping moved", g != p);
    int same = 1;
    for (long i = 0; i < 2 * page; i++) {
        same &= g[i] == (unsigned char)(i % 251);
    }
    CHECK("moved mapping keeps its contents", same);
    CHECK("grown part is zero", all_bytes(g + 2 * page, 6 * page, 0));
    EXPECT_ERRNO(mincore(p, page, (unsigned char[1]){0}), ENOMEM);
    g[8 * page - 1] = 7;
    EXPECT_EQ(g[8 * page - 1], 7);

    // Shrinking in place keeps the address and unmaps the tail.
    unsigned char *s = EXPECT_OK(mremap(g, 8 * page, 3 * page, 0));
    CHECK("shrink keeps the address", s == g);
    EXPECT_ERRNO(mincore(g + 3 * page, page, (unsigned char[1]){0}), ENOMEM);

    // MREMAP_FIXED moves to a chosen address.
    unsigned char *target = EXPECT_OK(mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    unsigned char *f =
        EXPECT_OK(mremap(s, 3 * page, 3 * page, MREMAP_MAYMOVE | MREMAP_FIXED, target));
    CHECK("MREMAP_FIXED lands on the target", f == target);
    CHECK("and carries the contents", f[1] == 1 && f[page] == (unsigned char)(page % 251));
    EXPECT_ERRNO(mincore(s, page, (unsigned char[1]){0}), ENOMEM);

    EXPECT_ERRNO(mremap(f + 1, page, 2 * page, MREMAP_MAYMOVE), EINVAL);
    EXPECT_ERRNO(mremap(f, page, 2 * page, 0x80), EINVAL);
    EXPECT_ERRNO(mremap(f, page, 0, MREMAP_MAYMOVE), EINVAL);
    EXPECT_ERRNO(mremap(f, page, page, MREMAP_FIXED, f + 5 * page), EINVAL);
    EXPECT_OK(munmap(f, 3 * page));
    EXPECT_OK(munmap(guard, page));
}

static void test_file_mapping(void) {
    NOTE("file mappings");
    static char contents[1 << 16];
    int fd = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(read(fd, contents, sizeof contents), st.st_size);
    size_t len = (st.st_size + page - 1) / page * page;
    char *m = EXPECT_OK(mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0));
    EXPECT_MEMEQ(m, contents, st.st_size);
    CHECK("the tail of the last page is zero",
          all_bytes((unsigned char *)m + st.st_size, len - st.st_size, 0));
    EXPECT_OK(munmap(m, st.st_size));

    // A private writable mapping: writes stay private; the file is unchanged.
    char *w = EXPECT_OK(mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    w[0] = '#';
    char first;
    EXPECT_EQ(pread(fd, &first, 1, 0), 1);
    EXPECT_EQ(first, contents[0]);
    EXPECT_EQ(w[0], '#');
    // MADV_DONTNEED on a private file mapping brings back the file's bytes.
    EXPECT_OK(madvise(w, page, MADV_DONTNEED));
    EXPECT_EQ(w[0], contents[0]);
    EXPECT_OK(msync(w, page, MS_SYNC));
    EXPECT_OK(msync(w, page, MS_ASYNC));
    EXPECT_OK(msync(w, page, MS_INVALIDATE));
    EXPECT_OK(munmap(w, st.st_size));

    // A shared read-only mapping of a read-only fd is allowed.
    char *sh = EXPECT_OK(mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0));
    EXPECT_MEMEQ(sh, contents, st.st_size);
    EXPECT_OK(msync(sh, page, MS_SYNC));
    EXPECT_OK(munmap(sh, st.st_size));

    // The mapping outlives the descriptor.
    char *keep = EXPECT_OK(mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0));
    EXPECT_OK(close(fd));
    EXPECT_MEMEQ(keep, contents, st.st_size);
    EXPECT_OK(munmap(keep, st.st_size));

    // A mapping at a page offset of a larger file.
    int big = EXPECT_OK(open("/bin/sh", O_RDONLY));
    char at[64];
    EXPECT_EQ(pread(big, at, sizeof at, page), sizeof at);
    char *off = EXPECT_OK(mmap(NULL, page, PROT_READ, MAP_PRIVATE, big, page));
    EXPECT_MEMEQ(off, at, sizeof at);
    EXPECT_OK(munmap(off, page));
    EXPECT_OK(close(big));

    // /dev/zero maps as zeroed private memory.
    int zero = EXPECT_OK(open("/dev/zero", O_RDWR));
    unsigned char *z = EXPECT_OK(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0));
    CHECK("a /dev/zero mapping is zero", all_bytes(z, page, 0));
    z[5] = 5;
    EXPECT_EQ(z[5], 5);
    EXPECT_OK(munmap(z, page));
    EXPECT_OK(close(zero));
}

static void test_madvise(void) {
    NOTE("madvise and msync on anonymous memory");
    unsigned char *p = EXPECT_OK(mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    memset(p, 0x5a, 2 * page);
    EXPECT_OK(madvise(p, page, MADV_DONTNEED));
    CHECK("MADV_DONTNEED zeroes a private anonymous page", all_bytes(p, page, 0));
    CHECK("and leaves the next one", all_bytes(p + page, page, 0x5a));
    EXPECT_OK(madvise(p, 2 * page, MADV_NORMAL));
    EXPECT_OK(madvise(p, 2 * page, MADV_WILLNEED));
    EXPECT_OK(madvise(p, 2 * page, MADV_SEQUENTIAL));
    EXPECT_OK(madvise(p, 2 * page, MADV_RANDOM));
    EXPECT_OK(madvise(p, 0, MADV_NORMAL));
    CHECK("advice does not change contents", all_bytes(p + page, page, 0x5a));
    EXPECT_OK(msync(p, 2 * page, MS_SYNC));
    EXPECT_OK(munmap(p + page, page));
    EXPECT_ERRNO(madvise(p, 2 * page, MADV_NORMAL), ENOMEM);
    EXPECT_ERRNO(msync(p, 2 * page, MS_SYNC), ENOMEM);
    EXPECT_OK(munmap(p, page));
}

static void test_brk(void) {
    NOTE("brk");
    char *start = (char *)syscall(SYS_brk, 0);
    CHECK("brk(0) returns the current break", start != NULL && start != (char *)-1);
    CHECK("brk(0) is stable", (char *)syscall(SYS_brk, 0) == start);
    char *grown = (char *)syscall(SYS_brk, start + 16 * page);
    CHECK("brk grows", grown == start + 16 * page);
    CHECK("the new heap is zero and usable", all_bytes((unsigned char *)start, 16 * page, 0));
    memset(start, 'h', 16 * page);
    EXPECT_TRUE(is_mapped(start, 16 * page));
    char *shrunk = (char *)syscall(SYS_brk, start + 4 * page);
    CHECK("brk shrinks", shrunk == start + 4 * page);
    CHECK("kept heap keeps its bytes", start[4 * page - 1] == 'h');
    // The page holding the old end is gone; pages below stay.
    EXPECT_TRUE(is_mapped(start, 4 * page));
    EXPECT_ERRNO(mincore((void *)((uintptr_t)(start + 8 * page) & ~(page - 1)), page,
                         (unsigned char[1]){0}),
                 ENOMEM);
    char *regrown = (char *)syscall(SYS_brk, start + 8 * page);
    CHECK("regrown heap is zero", all_bytes((unsigned char *)start + 4 * page, 4 * page, 0));
    CHECK("brk regrows", regrown == start + 8 * page);
    // An impossible request fails by returning the unchanged break.
    char *huge = (char *)syscall(SYS_brk, (char *)0x7ffffffff000);
    CHECK("an impossible brk returns the old break", huge == start + 8 * page);
    CHECK("brk below the start is refused", (char *)syscall(SYS_brk, (char *)4096) == regrown);
    syscall(SYS_brk, start);
    // malloc still works after all this.
    void *a = malloc(100000);
    EXPECT_TRUE(a != NULL);
    memset(a, 1, 100000);
    free(a);
}

int main(void) {
    page = sysconf(_SC_PAGESIZE);
    EXPECT_EQ(page, 4096);
    test_anonymous();
    test_bad_arguments();
    test_fixed();
    test_mprotect();
    test_mremap();
    test_file_mapping();
    test_madvise();
    test_brk();
    return guest_done();
}
