// SPDX-License-Identifier: Apache-2.0
//
// setns(2) (issue 14): the namespace files of /proc/[pid]/ns open, fstat as the namespace
// (inode number = the id readlink shows), and join by file or by pidfd with Linux's checks:
// EBADF, EINVAL for a file that names no namespace, a kind the file does not name, one's own
// user namespace, a pidfd without flags; EPERM without CAP_SYS_ADMIN. Joining a mount
// namespace leaves the caller at its root; a child that unshared its mount namespace has one
// of its own, which its parent can join and leave again.
#include "guest.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const struct {
    const char *name;
    int kind;
} kinds[] = {
    {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},  {"cgroup", CLONE_NEWCGROUP},
};

static unsigned long long link_id(const char *path) {
    char buf[64] = {0};
    if (readlink(path, buf, sizeof buf - 1) < 0) {
        return 0;
    }
    char *open = strchr(buf, '[');
    return open ? strtoull(open + 1, NULL, 10) : 0;
}

int main(void) {
    for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i].name);
        int fd = open(path, O_RDONLY);
        EXPECT_GE(fd, 0);
        struct stat st;
        EXPECT_OK(fstat(fd, &st));
        printf("%s: mode %o, inode is the id: %d\n", kinds[i].name, st.st_mode,
               st.st_ino == link_id(path));
        EXPECT_OK(setns(fd, 0));
        EXPECT_OK(setns(fd, kinds[i].kind));
        int other = kinds[(i + 1) % 6].kind;
        EXPECT_ERRNO(setns(fd, other), EINVAL);
        EXPECT_ERRNO(setns(fd, -1), EINVAL);
        close(fd);
    }
    int user = open("/proc/self/ns/user", O_RDONLY);
    EXPECT_ERRNO(setns(user, 0), EINVAL);
    EXPECT_ERRNO(setns(user, CLONE_NEWUSER), EINVAL);
    close(user);
    EXPECT_ERRNO(setns(-1, 0), EBADF);
    EXPECT_ERRNO(setns(99999, CLONE_NEWUTS), EBADF);
    int reg = open("/proc/self/status", O_RDONLY);
    EXPECT_ERRNO(setns(reg, 0), EINVAL);
    EXPECT_ERRNO(setns(reg, CLONE_NEWUTS), EINVAL);
    close(reg);

    // Joining the mount namespace puts the caller at its root.
    EXPECT_OK(chdir("/proc"));
    int mnt = open("/proc/self/ns/mnt", O_RDONLY);
    EXPECT_OK(setns(mnt, CLONE_NEWNS));
    char cwd[256];
    EXPECT_TRUE(getcwd(cwd, sizeof cwd) != NULL);
    printf("cwd after joining the mount namespace: %s\n", cwd);

    // By pidfd: the namespaces of a process (here one's own).
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    EXPECT_GE(pidfd, 0);
    EXPECT_OK(setns(pidfd, CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET));
    EXPECT_OK(setns(pidfd, CLONE_NEWNS));
    EXPECT_ERRNO(setns(pidfd, 0), EINVAL);
    EXPECT_ERRNO(setns(pidfd, CLONE_NEWUSER), EINVAL);
    EXPECT_ERRNO(setns(pidfd, CLONE_VM), EINVAL);

    // A child with a mount namespace of its own: its ns/mnt differs; the parent joins it
    // (and sees the child's private mount there), then goes back.
    int ready[2], done[2];
    EXPECT_OK(pipe(ready));
    EXPECT_OK(pipe(done));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        char c;
        if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("guest-tmp", "/mnt", "tmpfs", 0, NULL) != 0) {
            _exit(1);
        }
        write(ready[1], "r", 1);
        read(done[0], &c, 1);
        _exit(0);
    }
    char c;
    EXPECT_EQ(read(ready[0], &c, 1), 1);
    char theirs[64];
    snprintf(theirs, sizeof theirs, "/proc/%d/ns/mnt", child);
    CHECK("a child's unshared mount namespace is another one",
          link_id(theirs) != link_id("/proc/self/ns/mnt"));
    int their_mnt = open(theirs, O_RDONLY);
    EXPECT_GE(their_mnt, 0);
    EXPECT_OK(setns(their_mnt, CLONE_NEWNS));
    CHECK("joined: the same namespace as the child's",
          link_id("/proc/self/ns/mnt") == link_id(theirs));
    struct stat m;
    EXPECT_OK(stat("/mnt", &m));
    FILE *f = fopen("/proc/self/mounts", "r");
    char line[512];
    int seen = 0;
    while (f && fgets(line, sizeof line, f)) {
        seen |= strncmp(line, "guest-tmp /mnt tmpfs", 20) == 0;
    }
    if (f) {
        fclose(f);
    }
    CHECK("the child's mount is there", seen);
    EXPECT_OK(setns(mnt, CLONE_NEWNS));
    CHECK("back in the first namespace", link_id("/proc/self/ns/mnt") != link_id(theirs));
    write(done[1], "d", 1);
    int status = -1;
    waitpid(child, &status, 0);
    EXPECT_EQ(status, 0);

    // Without CAP_SYS_ADMIN: EPERM (EINVAL still for one's own user namespace).
    fflush(stdout);
    child = fork();
    if (child == 0) {
        int uts = open("/proc/self/ns/uts", O_RDONLY);
        int own_user = open("/proc/self/ns/user", O_RDONLY);
        if (setuid(65534) != 0) {
            _exit(2);
        }
        int ok = setns(uts, 0) == -1 && errno == EPERM && setns(mnt, 0) == -1 &&
                 errno == EPERM && setns(own_user, 0) == -1 && errno == EINVAL;
        _exit(ok ? 0 : 1);
    }
    waitpid(child, &status, 0);
    CHECK("without CAP_SYS_ADMIN: EPERM", WIFEXITED(status) && WEXITSTATUS(status) == 0);

    NOTE("the NS_GET_* ioctls, at the top of the hierarchies");
    int pidns = open("/proc/self/ns/pid", O_RDONLY);
    int utsns = open("/proc/self/ns/uts", O_RDONLY);
    int userns = open("/proc/self/ns/user", O_RDONLY);
    int mntns = open("/proc/self/ns/mnt", O_RDONLY);
    CHECK("open the namespace files", pidns >= 0 && utsns >= 0 && userns >= 0 && mntns >= 0);
    EXPECT_EQ(ioctl(pidns, 0xb703), CLONE_NEWPID);
    EXPECT_EQ(ioctl(userns, 0xb703), CLONE_NEWUSER);
    EXPECT_ERRNO(ioctl(pidns, 0xb702), EPERM);
    EXPECT_ERRNO(ioctl(userns, 0xb702), EPERM);
    EXPECT_ERRNO(ioctl(utsns, 0xb702), EINVAL);
    EXPECT_ERRNO(ioctl(userns, 0xb701), EPERM);
    int owner = ioctl(utsns, 0xb701);
    CHECK("NS_GET_USERNS of uts", owner >= 0);
    struct stat os, us;
    CHECK("the owner is the user namespace",
          fstat(owner, &os) == 0 && fstat(userns, &us) == 0 && os.st_ino == us.st_ino &&
              (unsigned long long)os.st_ino == link_id("/proc/self/ns/user"));
    CHECK("returned close-on-exec", fcntl(owner, F_GETFD) == FD_CLOEXEC);
    uid_t uid = 99;
    EXPECT_OK(ioctl(userns, 0xb704, &uid));
    EXPECT_EQ(uid, 0);
    EXPECT_ERRNO(ioctl(utsns, 0xb704, &uid), EINVAL);
    unsigned long long mnt_id = 0;
    EXPECT_OK(ioctl(mntns, 0x8008b705, &mnt_id));
    EXPECT_ERRNO(ioctl(utsns, 0x8008b705, &mnt_id), EINVAL);
    EXPECT_EQ(ioctl(pidns, 0x8004b706, getpid()), getpid());
    EXPECT_EQ(ioctl(pidns, 0x8004b707, getpid()), getpid());
    EXPECT_ERRNO(ioctl(pidns, 0x8004b706, 999999), ESRCH);
    EXPECT_ERRNO(ioctl(utsns, 0x8004b706, getpid()), EINVAL);
    EXPECT_ERRNO(ioctl(pidns, 0x5401), ENOTTY);
    return guest_done();
}
