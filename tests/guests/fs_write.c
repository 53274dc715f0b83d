// SPDX-License-Identifier: Apache-2.0
//
// Writable file systems: create, mkdir, unlink, rmdir, rename(2) and renameat2 flags, link,
// symlink, readlink, chmod, chown to oneself, utimensat, truncate, fallocate, statfs, xattrs,
// O_EXCL/O_TRUNC/O_APPEND/O_TMPFILE, memfd_create and a shared mapping of a file.
//
// Natively it works in a fresh directory made with mkdtemp under /tmp and removes it at the
// end; in the sandbox /tmp is the sandbox's own tmpfs.

#include "guest.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

static int count_entries(const char *path) {
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n++;
    }
    closedir(d);
    return n;
}

int main(void) {
    char dir[] = "/tmp/fs_write.XXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
        perror("mkdtemp");
        return 2;
    }
    umask(022);

    NOTE("create, O_EXCL, O_TRUNC, O_APPEND");
    int fd = EXPECT_OK(open("f", O_CREAT | O_EXCL | O_RDWR, 0666));
    EXPECT_ERRNO(open("f", O_CREAT | O_EXCL | O_RDWR, 0666), EEXIST);
    EXPECT_EQ(write(fd, "hello world", 11), 11);
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_mode, S_IFREG | 0644);
    EXPECT_EQ(st.st_size, 11);
    EXPECT_EQ(st.st_nlink, 1);
    close(fd);
    fd = EXPECT_OK(open("f", O_WRONLY | O_APPEND));
    EXPECT_EQ(write(fd, "!", 1), 1);
    close(fd);
    char buf[64] = {0};
    fd = EXPECT_OK(open("f", O_RDONLY));
    EXPECT_EQ(read(fd, buf, sizeof buf), 12);
    EXPECT_STREQ(buf, "hello world!");
    close(fd);
    fd = EXPECT_OK(open("f", O_RDWR | O_TRUNC));
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 0);
    EXPECT_EQ(write(fd, "abc", 3), 3);
    close(fd);
    EXPECT_ERRNO(open("f/", O_RDONLY), ENOTDIR);
    EXPECT_ERRNO(open("nodir/x", O_CREAT | O_RDWR, 0644), ENOENT);
    EXPECT_ERRNO(open("newdir/", O_CREAT | O_RDWR, 0644), EISDIR);

    NOTE("mkdir, rmdir");
    EXPECT_OK(mkdir("d", 0777));
    EXPECT_OK(stat("d", &st));
    EXPECT_EQ(st.st_mode, S_IFDIR | 0755);
    EXPECT_EQ(st.st_nlink, 2);
    EXPECT_ERRNO(mkdir("d", 0777), EEXIST);
    EXPECT_ERRNO(mkdir("f/x", 0777), ENOTDIR);
    EXPECT_OK(mkdir("d/sub", 0700));
    EXPECT_OK(stat("d", &st));
    EXPECT_EQ(st.st_nlink, 3);
    EXPECT_ERRNO(rmdir("d"), ENOTEMPTY);
    EXPECT_ERRNO(rmdir("f"), ENOTDIR);
    EXPECT_ERRNO(rmdir("d/sub/."), EINVAL);
    EXPECT_ERRNO(unlink("d"), EISDIR);
    EXPECT_OK(rmdir("d/sub"));
    EXPECT_EQ(count_entries("d"), 2);

    NOTE("rename");
    EXPECT_OK(rename("f", "d/g"));
    EXPECT_ERRNO(stat("f", &st), ENOENT);
    EXPECT_OK(stat("d/g", &st));
    EXPECT_EQ(st.st_size, 3);
    fd = EXPECT_OK(open("h", O_CREAT | O_WRONLY, 0600));
    close(fd);
    EXPECT_ERRNO(syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "d/g", RENAME_NOREPLACE), EEXIST);
    EXPECT_OK(syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "d/g", RENAME_EXCHANGE));
    EXPECT_OK(stat("h", &st));
    EXPECT_EQ(st.st_size, 3);
    EXPECT_ERRNO(syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "nope", RENAME_EXCHANGE), ENOENT);
    EXPECT_OK(mkdir("e", 0755));
    EXPECT_ERRNO(rename("d", "d/inside"), EINVAL);
    EXPECT_ERRNO(rename("h", "e"), EISDIR);
    EXPECT_ERRNO(rename("e", "h"), ENOTDIR);
    EXPECT_OK(rename("e", "d2"));
    EXPECT_OK(rename("h", "h"));

    NOTE("link, symlink, readlink");
    EXPECT_OK(link("h", "h2"));
    EXPECT_OK(stat("h", &st));
    EXPECT_EQ(st.st_nlink, 2);
    EXPECT_ERRNO(link("d", "d3"), EPERM);
    EXPECT_ERRNO(link("h", "h2"), EEXIST);
    EXPECT_OK(symlink("h", "s"));
    EXPECT_OK(symlink("loop", "loop"));
    EXPECT_OK(lstat("s", &st));
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(st.st_size, 1);
    EXPECT_EQ(readlink("s", buf, sizeof buf), 1);
    EXPECT_ERRNO(readlink("h", buf, sizeof buf), EINVAL);
    EXPECT_ERRNO(open("loop", O_RDONLY), ELOOP);
    EXPECT_ERRNO(open("s", O_RDONLY | O_NOFOLLOW), ELOOP);
    EXPECT_OK(stat("s", &st));
    EXPECT_EQ(st.st_size, 3);
    EXPECT_OK(unlink("h2"));
    EXPECT_OK(stat("h", &st));
    EXPECT_EQ(st.st_nlink, 1);

    NOTE("unlinked but open");
    fd = EXPECT_OK(open("gone", O_CREAT | O_RDWR, 0644));
    EXPECT_OK(unlink("gone"));
    EXPECT_EQ(write(fd, "still", 5), 5);
    EXPECT_EQ(pread(fd, buf, 5, 0), 5);
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_nlink, 0);
    close(fd);

    NOTE("chmod, chown, utimensat");
    EXPECT_OK(chmod("h", 0640));
    EXPECT_OK(stat("h", &st));
    EXPECT_EQ(st.st_mode & 07777, 0640);
    EXPECT_OK(chown("h", getuid(), getgid()));
    EXPECT_OK(lchown("s", -1, -1));
    struct timespec ts[2] = {{1000, 5}, {2000, 7}};
    EXPECT_OK(utimensat(AT_FDCWD, "h", ts, 0));
    EXPECT_OK(stat("h", &st));
    EXPECT_EQ(st.st_atim.tv_sec, 1000);
    EXPECT_EQ(st.st_mtim.tv_sec, 2000);
    EXPECT_EQ(st.st_mtim.tv_nsec, 7);
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_NOW;
    EXPECT_OK(utimensat(AT_FDCWD, "h", ts, 0));
    EXPECT_OK(stat("h", &st));
    EXPECT_EQ(st.st_atim.tv_sec, 1000);
    EXPECT_GT(st.st_mtim.tv_sec, 2000);
    ts[0].tv_nsec = 2000000000;
    EXPECT_ERRNO(utimensat(AT_FDCWD, "h", ts, 0), EINVAL);

    NOTE("truncate, fallocate");
    EXPECT_OK(truncate("h", 10000));
    EXPECT_OK(stat("h", &st));
    EXPECT_EQ(st.st_size, 10000);
    EXPECT_ERRNO(truncate("d", 0), EISDIR);
    EXPECT_ERRNO(truncate("h", -1), EINVAL);
    fd = EXPECT_OK(open("h", O_RDONLY));
    EXPECT_ERRNO(ftruncate(fd, 0), EINVAL);
    close(fd);
    fd = EXPECT_OK(open("h", O_RDWR));
    EXPECT_OK(ftruncate(fd, 4));
    EXPECT_OK(fallocate(fd, 0, 0, 8192));
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 8192);
    EXPECT_OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 4096));
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 8192);
    EXPECT_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
    EXPECT_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
    EXPECT_ERRNO(fallocate(fd, 0, -1, 10), EINVAL);
    EXPECT_OK(fsync(fd));
    EXPECT_OK(fdatasync(fd));

    NOTE("a shared mapping sees writes");
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    EXPECT_EQ(pwrite(fd, "map", 3, 4096), 3);
    EXPECT_MEMEQ(p + 4096, "map", 3);
    memcpy(p + 100, "back", 4);
    EXPECT_EQ(pread(fd, buf, 4, 100), 4);
    EXPECT_MEMEQ(buf, "back", 4);
    munmap(p, 8192);
    close(fd);

    NOTE("statfs");
    struct statfs sf;
    EXPECT_OK(statfs(".", &sf));
    EXPECT_GT(sf.f_bsize, 0);
    EXPECT_EQ(sf.f_namelen, 255);

    NOTE("xattrs");
    EXPECT_OK(setxattr("h", "user.a", "1", 1, 0));
    EXPECT_ERRNO(setxattr("h", "user.a", "1", 1, XATTR_CREATE), EEXIST);
    EXPECT_ERRNO(setxattr("h", "user.b", "1", 1, XATTR_REPLACE), ENODATA);
    EXPECT_EQ(getxattr("h", "user.a", buf, sizeof buf), 1);
    EXPECT_EQ(getxattr("h", "user.a", NULL, 0), 1);
    EXPECT_OK(setxattr("h", "user.a", "12", 2, XATTR_REPLACE));
    EXPECT_ERRNO(getxattr("h", "user.a", buf, 1), ERANGE);
    EXPECT_ERRNO(getxattr("h", "user.none", buf, sizeof buf), ENODATA);
    EXPECT_ERRNO(setxattr("h", "bogus.a", "1", 1, 0), EOPNOTSUPP);
    EXPECT_EQ(listxattr("h", buf, sizeof buf), 7);
    EXPECT_OK(removexattr("h", "user.a"));
    EXPECT_ERRNO(removexattr("h", "user.a"), ENODATA);

    NOTE("O_TMPFILE and memfd_create");
    fd = EXPECT_OK(open(".", O_TMPFILE | O_RDWR, 0600));
    EXPECT_EQ(write(fd, "tmp", 3), 3);
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_nlink, 0);
    close(fd);
    EXPECT_ERRNO(open(".", O_TMPFILE | O_RDONLY, 0600), EINVAL);
    fd = EXPECT_OK(memfd_create("m", MFD_CLOEXEC));
    EXPECT_EQ(write(fd, "memfd", 5), 5);
    EXPECT_EQ(pread(fd, buf, 5, 0), 5);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    close(fd);
    EXPECT_ERRNO(memfd_create("m", 0x100), EINVAL);

    NOTE("clean up");
    EXPECT_OK(unlink("d/g"));
    EXPECT_OK(unlink("h"));
    EXPECT_OK(unlink("s"));
    EXPECT_OK(unlink("loop"));
    EXPECT_OK(rmdir("d"));
    EXPECT_OK(rmdir("d2"));
    EXPECT_EQ(count_entries("."), 2);
    EXPECT_OK(chdir("/"));
    EXPECT_OK(rmdir(dir));
    return guest_done();
}
