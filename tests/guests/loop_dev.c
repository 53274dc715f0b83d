// SPDX-License-Identifier: Apache-2.0
//
// Loop devices: /dev/loop-control (LOOP_CTL_GET_FREE, ADD, REMOVE), /dev/loopN bound to a file
// (LOOP_SET_FD, LOOP_CONFIGURE, LOOP_CLR_FD, LOOP_GET/SET_STATUS(64), LOOP_SET_CAPACITY,
// LOOP_SET_BLOCK_SIZE, LOOP_CHANGE_FD, LOOP_SET_DIRECT_IO), I/O on the device reaching the file,
// the generic block ioctls, /sys/block/loopN, and the errnos of drivers/block/loop.c. Natively
// (as root) this uses a real loop device of the host and detaches it before it ends.

#include "guest.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>

static char dir[64], img[128], img2[128], img3[128], devpath[64];

static void make_file(const char *path, size_t size) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[4096];
    for (size_t off = 0; off < size; off += sizeof buf) {
        for (size_t i = 0; i < sizeof buf; i++) {
            buf[i] = (char)(((off + i) * 7 + 1) & 0xff);
        }
        size_t n = size - off < sizeof buf ? size - off : sizeof buf;
        if (write(fd, buf, n) != (ssize_t)n) {
            perror("write");
        }
    }
    close(fd);
}

static long sys_long(int n, const char *attr) {
    char path[128], buf[64] = {0};
    snprintf(path, sizeof path, "/sys/block/loop%d/%s", n, attr);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -errno;
    }
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    return r > 0 ? strtol(buf, NULL, 10) : -1;
}

static int sys_str_is(int n, const char *attr, const char *want) {
    char path[128], buf[256] = {0};
    snprintf(path, sizeof path, "/sys/block/loop%d/%s", n, attr);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 0;
    }
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r > 0 && buf[r - 1] == '\n') {
        buf[r - 1] = 0;
    }
    return strcmp(buf, want) == 0;
}

static uint64_t encode_dev(dev_t d) {
    uint64_t ma = major(d), mi = minor(d);
    return (mi & 0xff) | (ma << 8) | ((mi & ~0xffULL) << 12);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/loop_dev.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(img, sizeof img, "%s/a.img", dir);
    snprintf(img2, sizeof img2, "%s/b.img", dir);
    snprintf(img3, sizeof img3, "%s/c.img", dir);
    make_file(img, (1 << 20) + 100);
    make_file(img2, 1 << 20);
    make_file(img3, 1 << 20);

    // Natively the host's loop devices are shared: runs of this guest (static and dynamic, and
    // the native half of each sandboxed run) take turns.
    int lock = open("/tmp/loop_dev.lock", O_RDWR | O_CREAT, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        perror("lock");
        return 1;
    }

    NOTE("loop-control");
    int ctl = open("/dev/loop-control", O_RDWR);
    EXPECT_GE(ctl, 0);
    struct stat st;
    EXPECT_OK(fstat(ctl, &st));
    CHECK("loop-control is char 10:237",
          S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 && minor(st.st_rdev) == 237);
    int n = ioctl(ctl, LOOP_CTL_GET_FREE);
    EXPECT_GE(n, 0);
    EXPECT_ERRNO(ioctl(ctl, LOOP_CTL_ADD, n), EEXIST);
    EXPECT_ERRNO(ioctl(ctl, 0x4C8F, 0), ENOSYS);
    snprintf(devpath, sizeof devpath, "/dev/loop%d", n);

    NOTE("an unbound device");
    int fd = open(devpath, O_RDWR);
    EXPECT_GE(fd, 0);
    EXPECT_OK(fstat(fd, &st));
    CHECK("loopN is block 7:N",
          S_ISBLK(st.st_mode) && major(st.st_rdev) == 7 && (int)minor(st.st_rdev) == n);
    EXPECT_EQ(st.st_size, 0);
    struct loop_info info;
    struct loop_info64 info64;
    EXPECT_ERRNO(ioctl(fd, LOOP_GET_STATUS, &info), ENXIO);
    EXPECT_ERRNO(ioctl(fd, LOOP_GET_STATUS64, &info64), ENXIO);
    memset(&info64, 0, sizeof info64);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_STATUS64, &info64), ENXIO);
    EXPECT_ERRNO(ioctl(fd, LOOP_CLR_FD, 0), ENXIO);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_CAPACITY, 0), ENXIO);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_BLOCK_SIZE, 512), ENXIO);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_DIRECT_IO, 0), ENXIO);
    struct loop_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fd = -1;
    EXPECT_ERRNO(ioctl(fd, LOOP_CONFIGURE, &cfg), EBADF);
    uint64_t size64 = 1;
    EXPECT_OK(ioctl(fd, BLKGETSIZE64, &size64));
    EXPECT_EQ(size64, 0);
    char buf[8192], back[8192];
    EXPECT_EQ(pread(fd, buf, 512, 0), 0);
    CHECK("no loop/ in sysfs while unbound", sys_long(n, "loop/offset") == -ENOENT);

    NOTE("binding");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_FD, dfd), EINVAL);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_FD, 999), EBADF);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_FD, fd), EBADF);
    int bfd = open(img, O_RDWR);
    EXPECT_OK(ioctl(fd, LOOP_SET_FD, bfd));
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_FD, bfd), EBUSY);
    EXPECT_ERRNO(ioctl(fd, LOOP_CONFIGURE, &cfg), EBADF);
    cfg.fd = bfd;
    EXPECT_ERRNO(ioctl(fd, LOOP_CONFIGURE, &cfg), EBUSY);
    EXPECT_OK(ioctl(fd, BLKGETSIZE64, &size64));
    EXPECT_EQ(size64, 1 << 20);
    unsigned long sectors = 0;
    EXPECT_OK(ioctl(fd, BLKGETSIZE, &sectors));
    EXPECT_EQ(sectors, 2048);
    int ival = -1;
    EXPECT_OK(ioctl(fd, BLKSSZGET, &ival));
    EXPECT_EQ(ival, 512);
    EXPECT_OK(ioctl(fd, BLKROGET, &ival));
    EXPECT_EQ(ival, 0);
    EXPECT_OK(ioctl(fd, BLKBSZGET, &ival));
    EXPECT_EQ(ival, 4096);
    unsigned int uval = 0;
    EXPECT_OK(ioctl(fd, BLKPBSZGET, &uval));
    EXPECT_EQ(uval, 512);
    EXPECT_OK(ioctl(fd, BLKIOMIN, &uval));
    EXPECT_EQ(uval, 512);
    EXPECT_EQ(sys_long(n, "size"), 2048);
    EXPECT_EQ(sys_long(n, "ro"), 0);
    EXPECT_EQ(sys_long(n, "loop/offset"), 0);
    EXPECT_EQ(sys_long(n, "loop/sizelimit"), 0);
    EXPECT_EQ(sys_long(n, "loop/autoclear"), 0);
    EXPECT_EQ(sys_long(n, "queue/logical_block_size"), 512);
    CHECK("loop/backing_file names the image", sys_str_is(n, "loop/backing_file", img));
    char devnum[32];
    snprintf(devnum, sizeof devnum, "7:%d", n);
    CHECK("dev is 7:N", sys_str_is(n, "dev", devnum));
    char link[64];
    snprintf(link, sizeof link, "/sys/dev/block/7:%d/size", n);
    CHECK("/sys/dev/block/7:N reaches the device", access(link, R_OK) == 0);

    NOTE("status");
    memset(&info64, 0, sizeof info64);
    EXPECT_OK(ioctl(fd, LOOP_GET_STATUS64, &info64));
    struct stat bst;
    fstat(bfd, &bst);
    EXPECT_EQ(info64.lo_number, (unsigned)n);
    EXPECT_EQ(info64.lo_offset, 0);
    EXPECT_EQ(info64.lo_flags, 0);
    CHECK("lo_inode is the image's", info64.lo_inode == bst.st_ino);
    CHECK("lo_device is the image's file system", info64.lo_device == encode_dev(bst.st_dev));
    EXPECT_ERRNO(ioctl(fd, LOOP_GET_STATUS, NULL), EINVAL);
    EXPECT_ERRNO(ioctl(fd, LOOP_GET_STATUS64, (void *)8), EFAULT);

    NOTE("I/O through the device");
    EXPECT_EQ(pread(fd, buf, 4096, 4096), 4096);
    EXPECT_EQ(pread(bfd, back, 4096, 4096), 4096);
    CHECK("device bytes are the image's", memcmp(buf, back, 4096) == 0);
    memset(buf, 'z', 1000);
    EXPECT_EQ(pwrite(fd, buf, 1000, 10000), 1000);
    EXPECT_OK(fsync(fd));
    EXPECT_EQ(pread(bfd, back, 1000, 10000), 1000);
    CHECK("device writes reach the image", memcmp(buf, back, 1000) == 0);
    EXPECT_EQ(lseek(fd, 0, SEEK_END), 1 << 20);
    EXPECT_EQ(read(fd, buf, 512), 0);
    EXPECT_ERRNO(write(fd, buf, 512), ENOSPC);
    EXPECT_EQ(pwrite(fd, buf, 1024, (1 << 20) - 512), 512);
    EXPECT_EQ(pread(fd, buf, 1024, (1 << 20) - 512), 512);
    uint64_t range[2] = {4096, 8192};
    EXPECT_OK(ioctl(fd, BLKZEROOUT, range));
    EXPECT_EQ(pread(fd, buf, 8192, 4096), 8192);
    memset(back, 0, 8192);
    CHECK("BLKZEROOUT zeroes the range", memcmp(buf, back, 8192) == 0);
    range[0] = 100;
    EXPECT_ERRNO(ioctl(fd, BLKZEROOUT, range), EINVAL);
    EXPECT_ERRNO(ioctl(fd, BLKDISCARD, range), EINVAL);
    range[0] = 1 << 20;
    range[1] = 4096;
    EXPECT_ERRNO(ioctl(fd, BLKZEROOUT, range), EINVAL);
    int rfd = open(devpath, O_RDONLY);
    range[0] = 0;
    EXPECT_ERRNO(ioctl(rfd, BLKZEROOUT, range), EBADF);
    EXPECT_OK(ioctl(fd, BLKFLSBUF, 0));
    EXPECT_ERRNO(ioctl(fd, BLKRRPART, 0), EINVAL);
    struct termios tio;
    EXPECT_ERRNO(ioctl(fd, TCGETS, &tio), EINVAL);

    NOTE("offset, size limit, flags");
    memset(&info64, 0, sizeof info64);
    info64.lo_offset = 512;
    info64.lo_sizelimit = 4096;
    info64.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_READ_ONLY;
    EXPECT_OK(ioctl(fd, LOOP_SET_STATUS64, &info64));
    EXPECT_OK(ioctl(fd, BLKGETSIZE64, &size64));
    EXPECT_EQ(size64, 4096);
    EXPECT_EQ(sys_long(n, "loop/offset"), 512);
    EXPECT_EQ(sys_long(n, "loop/sizelimit"), 4096);
    EXPECT_EQ(sys_long(n, "loop/autoclear"), 1);
    EXPECT_EQ(pread(fd, buf, 512, 0), 512);
    EXPECT_EQ(pread(bfd, back, 512, 512), 512);
    CHECK("the device starts at the offset", memcmp(buf, back, 512) == 0);
    memset(&info64, 0, sizeof info64);
    EXPECT_OK(ioctl(fd, LOOP_GET_STATUS64, &info64));
    EXPECT_EQ(info64.lo_flags, LO_FLAGS_AUTOCLEAR);
    EXPECT_EQ(info64.lo_sizelimit, 4096);
    memset(&info, 0, sizeof info);
    EXPECT_OK(ioctl(fd, LOOP_GET_STATUS, &info));
    EXPECT_EQ(info.lo_offset, 512);
    EXPECT_EQ(info.lo_number, n);
    memset(&info, 0, sizeof info);
    info.lo_flags = 0;
    strcpy(info.lo_name, "renamed");
    EXPECT_OK(ioctl(fd, LOOP_SET_STATUS, &info));
    memset(&info64, 0, sizeof info64);
    EXPECT_OK(ioctl(fd, LOOP_GET_STATUS64, &info64));
    EXPECT_EQ(info64.lo_flags, 0);
    EXPECT_EQ(info64.lo_offset, 0);
    EXPECT_EQ(info64.lo_sizelimit, 0);
    EXPECT_STREQ((char *)info64.lo_file_name, "renamed");
    EXPECT_OK(ioctl(fd, BLKGETSIZE64, &size64));
    EXPECT_EQ(size64, 1 << 20);
    memset(&info64, 0, sizeof info64);
    info64.lo_encrypt_type = 1;
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_STATUS64, &info64), EINVAL);
    info64.lo_encrypt_type = 0;
    info64.lo_offset = 1ULL << 63;
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_STATUS64, &info64), EOVERFLOW);

    NOTE("block size, capacity, direct I/O");
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_BLOCK_SIZE, 256), EINVAL);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_BLOCK_SIZE, 4095), EINVAL);
    EXPECT_ERRNO(ioctl(fd, LOOP_SET_BLOCK_SIZE, 128 * 1024), EINVAL);
    EXPECT_OK(ioctl(fd, LOOP_SET_BLOCK_SIZE, 4096));
    EXPECT_OK(ioctl(fd, BLKSSZGET, &ival));
    EXPECT_EQ(ival, 4096);
    EXPECT_EQ(sys_long(n, "queue/logical_block_size"), 4096);
    EXPECT_OK(ioctl(fd, LOOP_SET_BLOCK_SIZE, 512));
    EXPECT_OK(ftruncate(bfd, 512 * 1024));
    EXPECT_OK(ioctl(fd, BLKGETSIZE64, &size64));
    EXPECT_EQ(size64, 1 << 20);
    EXPECT_OK(ioctl(fd, LOOP_SET_CAPACITY, 0));
    EXPECT_OK(ioctl(fd, BLKGETSIZE64, &size64));
    EXPECT_EQ(size64, 512 * 1024);
    EXPECT_EQ(sys_long(n, "size"), 1024);
    EXPECT_OK(ioctl(fd, LOOP_SET_DIRECT_IO, 0));
    EXPECT_ERRNO(ioctl(fd, LOOP_CHANGE_FD, bfd), EINVAL);

    NOTE("detaching with another opener");
    EXPECT_ERRNO(ioctl(ctl, LOOP_CTL_REMOVE, n), EBUSY);
    EXPECT_OK(ioctl(fd, LOOP_CLR_FD, 0));
    memset(&info64, 0, sizeof info64);
    EXPECT_OK(ioctl(fd, LOOP_GET_STATUS64, &info64));
    EXPECT_EQ(info64.lo_flags, LO_FLAGS_AUTOCLEAR);
    close(rfd);
    close(fd);
    close(bfd);
    fd = open(devpath, O_RDWR);
    EXPECT_GE(fd, 0);
    EXPECT_ERRNO(ioctl(fd, LOOP_GET_STATUS64, &info64), ENXIO);

    NOTE("a read-only binding");
    bfd = open(img2, O_RDONLY);
    EXPECT_OK(ioctl(fd, LOOP_SET_FD, bfd));
    EXPECT_OK(ioctl(fd, BLKROGET, &ival));
    EXPECT_EQ(ival, 1);
    EXPECT_EQ(sys_long(n, "ro"), 1);
    memset(&info64, 0, sizeof info64);
    EXPECT_OK(ioctl(fd, LOOP_GET_STATUS64, &info64));
    EXPECT_EQ(info64.lo_flags, LO_FLAGS_READ_ONLY);
    EXPECT_ERRNO(pwrite(fd, "xx", 2, 0), EPERM);
    int cfd = open(img3, O_RDONLY);
    EXPECT_OK(ioctl(fd, LOOP_CHANGE_FD, cfd));
    CHECK("backing_file follows LOOP_CHANGE_FD", sys_str_is(n, "loop/backing_file", img3));
    int small = open(img, O_RDONLY);
    EXPECT_ERRNO(ioctl(fd, LOOP_CHANGE_FD, small), EINVAL);
    close(small);
    close(cfd);
    EXPECT_OK(ioctl(fd, LOOP_CLR_FD, 0));
    EXPECT_ERRNO(ioctl(fd, LOOP_CLR_FD, 0), ENXIO);
    close(bfd);
    close(fd);

    NOTE("LOOP_CONFIGURE");
    fd = open(devpath, O_RDWR);
    bfd = open(img2, O_RDWR);
    memset(&cfg, 0, sizeof cfg);
    cfg.fd = bfd;
    cfg.block_size = 256;
    EXPECT_ERRNO(ioctl(fd, LOOP_CONFIGURE, &cfg), EINVAL);
    cfg.block_size = 0;
    cfg.info.lo_flags = 0x100;
    EXPECT_ERRNO(ioctl(fd, LOOP_CONFIGURE, &cfg), EINVAL);
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    cfg.info.lo_offset = 4096;
    cfg.block_size = 1024;
    EXPECT_OK(ioctl(fd, LOOP_CONFIGURE, &cfg));
    EXPECT_OK(ioctl(fd, BLKGETSIZE64, &size64));
    EXPECT_EQ(size64, (1 << 20) - 4096);
    EXPECT_OK(ioctl(fd, BLKSSZGET, &ival));
    EXPECT_EQ(ival, 1024);
    memset(&info64, 0, sizeof info64);
    EXPECT_OK(ioctl(fd, LOOP_GET_STATUS64, &info64));
    EXPECT_EQ(info64.lo_flags, LO_FLAGS_AUTOCLEAR);
    close(fd);
    close(bfd);
    fd = open(devpath, O_RDONLY);
    EXPECT_ERRNO(ioctl(fd, LOOP_GET_STATUS64, &info64), ENXIO);
    close(fd);

    NOTE("adding and removing devices");
    EXPECT_EQ(ioctl(ctl, LOOP_CTL_ADD, 3999), 3999);
    CHECK("/sys/block/loop3999 appears", access("/sys/block/loop3999/size", R_OK) == 0);
    EXPECT_ERRNO(ioctl(ctl, LOOP_CTL_ADD, 3999), EEXIST);
    EXPECT_EQ(ioctl(ctl, LOOP_CTL_REMOVE, 3999), 0);
    EXPECT_ERRNO(ioctl(ctl, LOOP_CTL_REMOVE, 3999), ENODEV);
    CHECK("/sys/block/loop3999 is gone", access("/sys/block/loop3999", F_OK) != 0);
    close(ctl);

    unlink(img);
    unlink(img2);
    unlink(img3);
    rmdir(dir);
    return guest_done();
}
