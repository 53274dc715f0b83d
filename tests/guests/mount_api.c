// SPDX-License-Identifier: Apache-2.0
//
// The new mount API, in a private mount namespace (unshare(CLONE_NEWNS) first: natively, as
// root, nothing here touches the host's mounts): fsopen + fsconfig + fsmount + move_mount of a
// tmpfs (and files made through the detached mount before it is attached), open_tree clones
// (recursive or not) attached with move_mount, closing a detached mount, mount_setattr
// (read-only then EROFS, recursive, propagation as mountinfo shows it, on a detached mount),
// fspick reconfiguring read-only and back, statx's mount ids, statmount and listmount, the
// errors each call gives for bad arguments, and what an unprivileged process gets.

#include "guest.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define TMPFS_MAGIC_ 0x01021994
#define STATX_MNT_ID_ 0x1000U
#define STATX_MNT_ID_UNIQUE_ 0x4000U
#define SM_SB_BASIC 0x1ULL
#define SM_MNT_BASIC 0x2ULL
#define SM_MNT_ROOT 0x8ULL
#define SM_MNT_POINT 0x10ULL
#define SM_FS_TYPE 0x20ULL
#define SM_SB_SOURCE 0x200ULL
#define LSMT_ROOT_ 0xffffffffffffffffULL
#define UNIQUE_OFFSET (1ULL << 31)
#define MOVE_MOUNT_SET_GROUP_ 0x100
#define MOVE_MOUNT_BENEATH_ 0x200

// struct mnt_id_req and struct statmount as Linux 6.18 has them (uapi/linux/mount.h).
struct id_req {
    uint32_t size;
    uint32_t mnt_ns_fd;
    uint64_t mnt_id;
    uint64_t param;
    uint64_t mnt_ns_id;
};

struct sm {
    uint32_t size, mnt_opts;
    uint64_t mask;
    uint32_t sb_dev_major, sb_dev_minor;
    uint64_t sb_magic;
    uint32_t sb_flags, fs_type;
    uint64_t mnt_id, mnt_parent_id;
    uint32_t mnt_id_old, mnt_parent_id_old;
    uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
    uint32_t mnt_root, mnt_point;
    uint64_t mnt_ns_id;
    uint32_t fs_subtype, sb_source, opt_num, opt_array, opt_sec_num, opt_sec_array;
    uint64_t supported_mask;
    uint32_t uidmap_num, uidmap, gidmap_num, gidmap;
    uint64_t spare[43];
    char str[];
};

static long statmount_(uint64_t id, uint64_t mask, void *buf, size_t size, unsigned flags) {
    struct id_req r = {.size = 24, .mnt_id = id, .param = mask};
    return syscall(457, &r, buf, size, flags);
}

static long listmount_(uint64_t id, uint64_t last, uint64_t *ids, size_t n, unsigned flags) {
    struct id_req r = {.size = 24, .mnt_id = id, .param = last};
    return syscall(458, &r, ids, n, flags);
}

static char base[64];

static const char *at(const char *rel) {
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", base, rel);
    return buf[i];
}

static void put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) {
            perror("write");
        }
        close(fd);
    }
}

static int exists(const char *path) {
    return access(path, F_OK) == 0;
}

// The options field of `point`'s line in /proc/self/mounts ("" when not listed).
static const char *mount_opts(const char *point) {
    static char opts[512];
    opts[0] = 0;
    FILE *f = fopen("/proc/self/mounts", "r");
    if (f == NULL) {
        return opts;
    }
    char src[256], mp[256], ty[64], op[512];
    while (fscanf(f, "%255s %255s %63s %511s %*d %*d", src, mp, ty, op) == 4) {
        if (strcmp(mp, point) == 0) {
            snprintf(opts, sizeof opts, "%s", op);
        }
    }
    fclose(f);
    return opts;
}

static int has_opt(const char *opts, const char *o) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", opts);
    for (char *s = strtok(buf, ","); s != NULL; s = strtok(NULL, ",")) {
        if (strcmp(s, o) == 0) {
            return 1;
        }
    }
    return 0;
}

// The optional fields of `point`'s mountinfo line (between the options and " - ").
static const char *mountinfo_fields(const char *point) {
    static char out[256];
    out[0] = 0;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (f == NULL) {
        return out;
    }
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) {
        char mp[256];
        if (sscanf(line, "%*d %*d %*d:%*d %*s %255s", mp) != 1 || strcmp(mp, point) != 0) {
            continue;
        }
        // Skip six fields, then copy up to " - ".
        char *p = line;
        for (int i = 0; i < 6 && p != NULL; i++) {
            p = strchr(p, ' ');
            if (p != NULL) {
                p++;
            }
        }
        char *end = p != NULL ? strstr(p, "- ") : NULL;
        if (p != NULL && end != NULL) {
            size_t n = (size_t)(end - p);
            if (n >= sizeof out) {
                n = sizeof out - 1;
            }
            memcpy(out, p, n);
            out[n] = 0;
        }
    }
    fclose(f);
    return out;
}

static int mountinfo_lines(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    int n = 0;
    char line[1024];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        n++;
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

static uint64_t mnt_id(const char *path, int unique) {
    struct statx sx;
    unsigned want = unique ? STATX_MNT_ID_UNIQUE_ : STATX_MNT_ID_;
    if (statx(AT_FDCWD, path, 0, want, &sx) != 0 || !(sx.stx_mask & want)) {
        return 0;
    }
    return sx.stx_mnt_id;
}

static dev_t dev_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_dev : (dev_t)-1;
}

static int can_write(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -errno;
    }
    close(fd);
    return 0;
}

static void test_fsopen(void) {
    NOTE("fsopen, fsconfig, fsmount, move_mount");
    mkdir(at("a"), 0755);
    int fs = EXPECT_OK(fsopen("tmpfs", FSOPEN_CLOEXEC));
    EXPECT_OK(fsconfig(fs, FSCONFIG_SET_STRING, "source", "apisrc", 0));
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_STRING, "source", "again", 0), EINVAL);
    EXPECT_OK(fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 0));
    EXPECT_OK(fsconfig(fs, FSCONFIG_SET_STRING, "mode", "750", 0));
    EXPECT_OK(fsconfig(fs, FSCONFIG_SET_FLAG, "rw", NULL, 0));
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_STRING, "nosuchopt", "1", 0), EINVAL);
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_FLAG, "size", NULL, 0), EINVAL);
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 1), EINVAL);
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_FLAG, "rw", "x", 0), EINVAL);
    EXPECT_ERRNO(fsconfig(fs, 100, NULL, NULL, 0), EOPNOTSUPP);
    EXPECT_ERRNO(fsconfig(-1, FSCONFIG_SET_FLAG, "rw", NULL, 0), EINVAL);
    EXPECT_ERRNO(fsconfig(1000, FSCONFIG_SET_FLAG, "rw", NULL, 0), EBADF);
    EXPECT_ERRNO(fsconfig(0, FSCONFIG_SET_FLAG, "rw", NULL, 0), EINVAL);
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_STRING, (char *)1, "x", 0), EFAULT);
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_FD, "rw", NULL, 999), EBADF);
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_CMD_CREATE, "x", NULL, 0), EINVAL);
    EXPECT_ERRNO(fsmount(fs, 0, 0), EINVAL);  // no superblock yet
    EXPECT_OK(fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0), EBUSY);
    EXPECT_ERRNO(fsconfig(fs, FSCONFIG_SET_STRING, "size", "2m", 0), EBUSY);
    EXPECT_ERRNO(fsmount(fs, 0x80000000, 0), EINVAL);
    EXPECT_ERRNO(fsmount(fs, 0, 0x100), EINVAL);
    EXPECT_ERRNO(fsmount(fs, 0, 0x30), EINVAL);
    EXPECT_ERRNO(fsmount(-1, 0, 0), EBADF);
    EXPECT_ERRNO(fsmount(0, 0, 0), EINVAL);
    int mfd = EXPECT_OK(fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV));
    EXPECT_ERRNO(fsmount(fs, 0, 0), EBUSY);
    EXPECT_TRUE(fcntl(mfd, F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(fcntl(mfd, F_GETFL) & O_PATH);
    struct stat st;
    EXPECT_OK(fstat(mfd, &st));
    EXPECT_EQ(st.st_mode & 07777, 0750);
    // A file made through the detached mount, before it is attached.
    int f = EXPECT_OK(openat(mfd, "early", O_WRONLY | O_CREAT, 0644));
    EXPECT_EQ(write(f, "early\n", 6), 6);
    close(f);
    EXPECT_ERRNO(move_mount(mfd, "", AT_FDCWD, at("a"), 0x08), EINVAL);
    EXPECT_ERRNO(move_mount(mfd, "", AT_FDCWD, at("a"), 0), ENOENT);
    EXPECT_ERRNO(move_mount(-1, "", AT_FDCWD, at("a"), MOVE_MOUNT_F_EMPTY_PATH), EBADF);
    EXPECT_ERRNO(move_mount(mfd, "", -1, "a", MOVE_MOUNT_F_EMPTY_PATH), EBADF);
    EXPECT_ERRNO(move_mount(mfd, "", AT_FDCWD, at("none"), MOVE_MOUNT_F_EMPTY_PATH), ENOENT);
    EXPECT_ERRNO(move_mount(mfd, "nosuch", AT_FDCWD, at("a"), MOVE_MOUNT_F_EMPTY_PATH),
                 ENOENT);
    EXPECT_ERRNO(move_mount(mfd, "", AT_FDCWD, at("a"),
                            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH_ | MOVE_MOUNT_SET_GROUP_),
                 EINVAL);
    EXPECT_OK(move_mount(mfd, "", AT_FDCWD, at("a"), MOVE_MOUNT_F_EMPTY_PATH));
    close(mfd);
    close(fs);
    struct statfs sf;
    EXPECT_OK(statfs(at("a"), &sf));
    EXPECT_EQ(sf.f_type, TMPFS_MAGIC_);
    EXPECT_OK(stat(at("a"), &st));
    EXPECT_EQ(st.st_mode & 07777, 0750);
    EXPECT_TRUE(exists(at("a/early")));
    const char *o = mount_opts(at("a"));
    EXPECT_TRUE(has_opt(o, "nodev"));
    EXPECT_TRUE(has_opt(o, "rw"));
    EXPECT_TRUE(has_opt(o, "relatime"));
    EXPECT_EQ(can_write(at("a/file")), 0);
    // A mount's root only: a directory inside is no mount.
    mkdir(at("a/dir"), 0755);
    int d = EXPECT_OK(open(at("a/dir"), O_PATH));
    mkdir(at("x"), 0755);
    EXPECT_ERRNO(move_mount(d, "", AT_FDCWD, at("x"), MOVE_MOUNT_F_EMPTY_PATH), EINVAL);
    close(d);

    NOTE("fsopen errors");
    EXPECT_ERRNO(fsopen("nosuchfs", 0), ENODEV);
    EXPECT_ERRNO(fsopen("tmpfs", 2), EINVAL);
    EXPECT_ERRNO(fsopen(NULL, 0), EFAULT);
    int s2 = EXPECT_OK(fsopen("sysfs", 0));
    EXPECT_ERRNO(fsconfig(s2, FSCONFIG_SET_STRING, "size", "1m", 0), EINVAL);
    close(s2);
}

static void test_open_tree(void) {
    NOTE("open_tree");
    EXPECT_OK(mount("none", at("a/dir"), "tmpfs", 0, NULL));
    put(at("a/dir/inner"), "inner\n");
    mkdir(at("b"), 0755);
    mkdir(at("c"), 0755);
    int t = EXPECT_OK(open_tree(AT_FDCWD, at("a"), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    EXPECT_TRUE(fcntl(t, F_GETFD) & FD_CLOEXEC);
    EXPECT_OK(move_mount(t, "", AT_FDCWD, at("b"), MOVE_MOUNT_F_EMPTY_PATH));
    close(t);
    EXPECT_TRUE(exists(at("b/early")));
    EXPECT_EQ(dev_of(at("b")), dev_of(at("a")));
    // Not recursive: the mount on a/dir is not in the clone.
    EXPECT_TRUE(!exists(at("b/dir/inner")));
    put(at("b/shared"), "x");
    EXPECT_TRUE(exists(at("a/shared")));
    t = EXPECT_OK(open_tree(AT_FDCWD, at("a"), OPEN_TREE_CLONE | AT_RECURSIVE));
    EXPECT_OK(move_mount(t, "", AT_FDCWD, at("c"), MOVE_MOUNT_F_EMPTY_PATH));
    close(t);
    EXPECT_TRUE(exists(at("c/dir/inner")));
    EXPECT_EQ(dev_of(at("c/dir")), dev_of(at("a/dir")));
    EXPECT_NE(dev_of(at("c/dir")), dev_of(at("c")));
    // A clone never attached goes with its descriptor.
    int before = mountinfo_lines();
    t = EXPECT_OK(open_tree(AT_FDCWD, at("a"), OPEN_TREE_CLONE | AT_RECURSIVE));
    close(t);
    EXPECT_EQ(mountinfo_lines(), before);
    // Without OPEN_TREE_CLONE: an O_PATH descriptor of the path.
    t = EXPECT_OK(open_tree(AT_FDCWD, at("a"), 0));
    EXPECT_TRUE(fcntl(t, F_GETFL) & O_PATH);
    char c;
    EXPECT_ERRNO(read(t, &c, 1), EBADF);
    close(t);
    EXPECT_ERRNO(open_tree(AT_FDCWD, at("a"), 0xFFFFFFFF), EINVAL);
    EXPECT_ERRNO(open_tree(AT_FDCWD, at("a"), AT_RECURSIVE), EINVAL);
    EXPECT_ERRNO(open_tree(AT_FDCWD, at("none"), OPEN_TREE_CLONE), ENOENT);
    EXPECT_ERRNO(open_tree(-1, "a", OPEN_TREE_CLONE), EBADF);
    EXPECT_ERRNO(open_tree(AT_FDCWD, "", OPEN_TREE_CLONE), ENOENT);
    // Moving an attached mount.
    mkdir(at("m"), 0755);
    t = EXPECT_OK(open_tree(AT_FDCWD, at("b"), 0));
    EXPECT_OK(move_mount(t, "", AT_FDCWD, at("m"), MOVE_MOUNT_F_EMPTY_PATH));
    close(t);
    EXPECT_TRUE(exists(at("m/early")));
    EXPECT_TRUE(!exists(at("b/early")));
    EXPECT_OK(umount(at("m")));
    // Beneath the top mount: it shows once that one is gone.
    mkdir(at("n"), 0755);
    EXPECT_OK(mount("none", at("n"), "tmpfs", 0, NULL));
    put(at("n/top"), "top\n");
    t = EXPECT_OK(open_tree(AT_FDCWD, at("a"), OPEN_TREE_CLONE));
    int n = EXPECT_OK(open(at("n"), O_PATH));
    EXPECT_OK(move_mount(t, "", n, "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH | MOVE_MOUNT_BENEATH_));
    close(t);
    close(n);
    EXPECT_TRUE(exists(at("n/top")));
    EXPECT_TRUE(!exists(at("n/early")));
    EXPECT_OK(umount(at("n")));
    EXPECT_TRUE(exists(at("n/early")));
    EXPECT_OK(umount(at("n")));
    EXPECT_TRUE(!exists(at("n/early")));
    EXPECT_OK(umount(at("c/dir")));
    EXPECT_OK(umount(at("c")));
}

static void test_setattr(void) {
    NOTE("mount_setattr");
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
    EXPECT_OK(mount_setattr(AT_FDCWD, at("a"), 0, &a, sizeof a));
    EXPECT_EQ(can_write(at("a/ro")), -EROFS);
    EXPECT_TRUE(has_opt(mount_opts(at("a")), "ro"));
    struct statvfs sv;
    EXPECT_OK(statvfs(at("a"), &sv));
    EXPECT_TRUE(sv.f_flag & ST_RDONLY);
    // Only that mount: the one on a/dir is still writable.
    EXPECT_EQ(can_write(at("a/dir/rw")), 0);
    a = (struct mount_attr){.attr_clr = MOUNT_ATTR_RDONLY};
    EXPECT_OK(mount_setattr(AT_FDCWD, at("a"), 0, &a, sizeof a));
    EXPECT_EQ(can_write(at("a/rw")), 0);
    a = (struct mount_attr){.attr_set = MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID};
    EXPECT_OK(mount_setattr(AT_FDCWD, at("a"), AT_RECURSIVE, &a, sizeof a));
    EXPECT_OK(statvfs(at("a/dir"), &sv));
    EXPECT_TRUE(sv.f_flag & ST_NOEXEC);
    EXPECT_TRUE(sv.f_flag & ST_NOSUID);
    a = (struct mount_attr){.attr_set = MOUNT_ATTR_NOATIME, .attr_clr = MOUNT_ATTR__ATIME};
    EXPECT_OK(mount_setattr(AT_FDCWD, at("a"), 0, &a, sizeof a));
    EXPECT_TRUE(has_opt(mount_opts(at("a")), "noatime"));
    EXPECT_TRUE(!has_opt(mount_opts(at("a")), "relatime"));
    NOTE("propagation");
    EXPECT_STREQ(mountinfo_fields(at("a")), "");
    a = (struct mount_attr){.propagation = MS_SHARED};
    EXPECT_OK(mount_setattr(AT_FDCWD, at("a"), 0, &a, sizeof a));
    EXPECT_TRUE(strncmp(mountinfo_fields(at("a")), "shared:", 7) == 0);
    a = (struct mount_attr){.propagation = MS_PRIVATE};
    EXPECT_OK(mount_setattr(AT_FDCWD, at("a"), 0, &a, sizeof a));
    EXPECT_STREQ(mountinfo_fields(at("a")), "");
    NOTE("mount_setattr errors");
    a = (struct mount_attr){.attr_set = MOUNT_ATTR_RDONLY};
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0x2, &a, sizeof a), EINVAL);
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, &a, 8), EINVAL);
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, &a, 8192), E2BIG);
    char big[64] = {0};
    memcpy(big, &a, sizeof a);
    big[40] = 1;
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, (void *)big, sizeof big), E2BIG);
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, (void *)1, sizeof a), EFAULT);
    struct mount_attr bad = {.propagation = 12345};
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, &bad, sizeof bad), EINVAL);
    bad = (struct mount_attr){.attr_set = 0x40000};
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, &bad, sizeof bad), EINVAL);
    bad = (struct mount_attr){.attr_set = MOUNT_ATTR_NOATIME};
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, &bad, sizeof bad), EINVAL);
    bad = (struct mount_attr){.attr_clr = MOUNT_ATTR_NOATIME};
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, &bad, sizeof bad), EINVAL);
    bad = (struct mount_attr){.attr_set = 1ULL << 33};
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a"), 0, &bad, sizeof bad), EINVAL);
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("a/early"), 0, &a, sizeof a), EINVAL);
    EXPECT_ERRNO(mount_setattr(AT_FDCWD, at("none"), 0, &a, sizeof a), ENOENT);
    struct mount_attr nop = {0};
    EXPECT_OK(mount_setattr(AT_FDCWD, at("a/early"), 0, &nop, sizeof nop));
    NOTE("mount_setattr on a detached mount");
    mkdir(at("d"), 0755);
    int t = EXPECT_OK(open_tree(AT_FDCWD, at("a"), OPEN_TREE_CLONE));
    a = (struct mount_attr){.attr_set = MOUNT_ATTR_RDONLY};
    EXPECT_OK(mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof a));
    EXPECT_OK(move_mount(t, "", AT_FDCWD, at("d"), MOVE_MOUNT_F_EMPTY_PATH));
    close(t);
    EXPECT_EQ(can_write(at("d/x")), -EROFS);
    EXPECT_EQ(can_write(at("a/x")), 0);
    EXPECT_OK(umount(at("d")));
}

static void test_fspick(void) {
    NOTE("fspick");
    int p = EXPECT_OK(fspick(AT_FDCWD, at("a"), FSPICK_CLOEXEC));
    EXPECT_OK(fsconfig(p, FSCONFIG_SET_FLAG, "ro", NULL, 0));
    EXPECT_OK(fsconfig(p, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
    EXPECT_TRUE(has_opt(mount_opts(at("a")), "ro"));
    EXPECT_EQ(can_write(at("a/y")), -EROFS);
    EXPECT_OK(fsconfig(p, FSCONFIG_SET_FLAG, "rw", NULL, 0));
    EXPECT_OK(fsconfig(p, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
    EXPECT_TRUE(has_opt(mount_opts(at("a")), "rw"));
    EXPECT_EQ(can_write(at("a/y")), 0);
    EXPECT_ERRNO(fsconfig(p, FSCONFIG_CMD_CREATE, NULL, NULL, 0), EBUSY);
    close(p);
    EXPECT_ERRNO(fspick(AT_FDCWD, at("a/dir/inner"), 0), EINVAL);
    EXPECT_ERRNO(fspick(AT_FDCWD, at("a"), 0x10), EINVAL);
    EXPECT_ERRNO(fspick(-1, "a", 0), EBADF);
    EXPECT_ERRNO(fspick(AT_FDCWD, at("none"), 0), ENOENT);
}

static void test_statmount(void) {
    NOTE("statx mount ids");
    uint64_t id = mnt_id(at("a"), 1);
    uint64_t old = mnt_id(at("a"), 0);
    uint64_t sub = mnt_id(at("a/dir"), 1);
    EXPECT_TRUE(id > UNIQUE_OFFSET);
    EXPECT_TRUE(old != 0 && old < UNIQUE_OFFSET);
    EXPECT_TRUE(sub > id);
    EXPECT_EQ(mnt_id(at("a/early"), 1), id);

    NOTE("statmount");
    static char buf[4096];
    struct sm *s = (struct sm *)buf;
    memset(buf, 0, sizeof buf);
    uint64_t mask =
        SM_SB_BASIC | SM_MNT_BASIC | SM_MNT_ROOT | SM_MNT_POINT | SM_FS_TYPE | SM_SB_SOURCE;
    EXPECT_EQ(statmount_(id, mask, buf, sizeof buf, 0), 0);
    EXPECT_EQ(s->mask, mask);
    EXPECT_TRUE(s->size > sizeof(struct sm) && s->size < sizeof buf);
    EXPECT_EQ(s->mnt_id, id);
    EXPECT_EQ(s->mnt_id_old, old);
    EXPECT_EQ(s->mnt_parent_id, mnt_id(base, 1));
    EXPECT_EQ(s->mnt_parent_id_old, mnt_id(base, 0));
    EXPECT_EQ(s->sb_magic, TMPFS_MAGIC_);
    EXPECT_EQ(s->sb_flags, 0);
    EXPECT_TRUE(s->mnt_attr & MOUNT_ATTR_NODEV);
    EXPECT_TRUE(s->mnt_attr & MOUNT_ATTR_NOEXEC);
    EXPECT_EQ(s->mnt_attr & MOUNT_ATTR__ATIME, MOUNT_ATTR_NOATIME);
    EXPECT_EQ(s->mnt_propagation, MS_PRIVATE);
    EXPECT_EQ(s->mnt_peer_group, 0);
    EXPECT_STREQ(s->str + s->fs_type, "tmpfs");
    EXPECT_STREQ(s->str + s->mnt_root, "/");
    EXPECT_STREQ(s->str + s->mnt_point, at("a"));
    EXPECT_STREQ(s->str + s->sb_source, "apisrc");
    struct stat st;
    EXPECT_OK(stat(at("a"), &st));
    EXPECT_EQ(makedev(s->sb_dev_major, s->sb_dev_minor), st.st_dev);
    // Mask 0: only the size.
    memset(buf, 0xff, sizeof buf);
    EXPECT_EQ(statmount_(id, 0, buf, sizeof(struct sm), 0), 0);
    EXPECT_EQ(s->mask, 0);
    EXPECT_EQ(s->size, sizeof(struct sm));
    // A bind mount of a subdirectory: its root in the file system.
    mkdir(at("e"), 0755);
    mkdir(at("a/sub"), 0755);
    EXPECT_OK(mount(at("a/sub"), at("e"), NULL, MS_BIND, NULL));
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(statmount_(mnt_id(at("e"), 1), SM_MNT_ROOT, buf, sizeof buf, 0), 0);
    EXPECT_STREQ(s->str + s->mnt_root, "/sub");
    // Shared: the peer group, and a bind of it joins it.
    EXPECT_OK(mount(NULL, at("e"), NULL, MS_SHARED, NULL));
    mkdir(at("f"), 0755);
    EXPECT_OK(mount(at("e"), at("f"), NULL, MS_BIND, NULL));
    static char buf2[4096];
    struct sm *s2 = (struct sm *)buf2;
    EXPECT_EQ(statmount_(mnt_id(at("e"), 1), SM_MNT_BASIC, buf, sizeof buf, 0), 0);
    EXPECT_EQ(statmount_(mnt_id(at("f"), 1), SM_MNT_BASIC, buf2, sizeof buf2, 0), 0);
    EXPECT_EQ(s->mnt_propagation, MS_SHARED);
    EXPECT_TRUE(s->mnt_peer_group != 0);
    EXPECT_EQ(s2->mnt_peer_group, s->mnt_peer_group);
    EXPECT_OK(mount(NULL, at("f"), NULL, MS_SLAVE, NULL));
    EXPECT_EQ(statmount_(mnt_id(at("f"), 1), SM_MNT_BASIC, buf2, sizeof buf2, 0), 0);
    EXPECT_EQ(s2->mnt_propagation, MS_SLAVE);
    EXPECT_EQ(s2->mnt_master, s->mnt_peer_group);
    EXPECT_OK(umount(at("f")));
    EXPECT_OK(umount(at("e")));

    NOTE("statmount errors");
    EXPECT_ERRNO(statmount_(id, 0, buf, sizeof buf, 1), EINVAL);
    EXPECT_ERRNO(statmount_(5, 0, buf, sizeof buf, 0), EINVAL);
    EXPECT_ERRNO(statmount_(LSMT_ROOT_, 0, buf, sizeof buf, 0), ENOENT);
    EXPECT_ERRNO(statmount_(id, SM_FS_TYPE, buf, sizeof(struct sm), 0), EOVERFLOW);
    EXPECT_ERRNO(statmount_(id, SM_MNT_POINT, buf, sizeof(struct sm) + 4, 0), EOVERFLOW);
    EXPECT_ERRNO(statmount_(id, 0, NULL, sizeof(struct sm), 0), EFAULT);
    struct id_req r = {.size = 0, .mnt_id = id};
    EXPECT_ERRNO(syscall(457, &r, buf, sizeof buf, 0), EINVAL);
    r.size = 8192;
    EXPECT_ERRNO(syscall(457, &r, buf, sizeof buf, 0), E2BIG);
    EXPECT_ERRNO(syscall(457, NULL, buf, sizeof buf, 0), EFAULT);

    NOTE("listmount");
    uint64_t ids[64];
    long n = listmount_(LSMT_ROOT_, 0, ids, 64, 0);
    EXPECT_TRUE(n > 2);
    int found = 0, sorted = 1;
    for (long i = 0; i < n; i++) {
        found |= ids[i] == id;
        if (i > 0 && ids[i] <= ids[i - 1]) {
            sorted = 0;
        }
    }
    EXPECT_TRUE(found);
    EXPECT_TRUE(sorted);
    // Below a: the mount on a/dir only.
    EXPECT_EQ(listmount_(id, 0, ids, 64, 0), 1);
    EXPECT_EQ(ids[0], sub);
    EXPECT_EQ(listmount_(id, sub, ids, 64, 0), 0);
    EXPECT_EQ(listmount_(LSMT_ROOT_, 0, ids, 1, 0), 1);
    EXPECT_ERRNO(listmount_(LSMT_ROOT_, 0, ids, 64, 2), EINVAL);
    EXPECT_ERRNO(listmount_(LSMT_ROOT_, 0, ids, 2000000, 0), EOVERFLOW);
    EXPECT_ERRNO(listmount_(LSMT_ROOT_, 5, ids, 64, 0), EINVAL);
    EXPECT_ERRNO(listmount_(0, 0, ids, 64, 0), EINVAL);
    EXPECT_ERRNO(listmount_(LSMT_ROOT_ - 1, 0, ids, 64, 0), ENOENT);
    EXPECT_ERRNO(listmount_(LSMT_ROOT_, 0, NULL, 64, 0), EFAULT);
}

static void test_unprivileged(void) {
    NOTE("an unprivileged process");
    pid_t pid = fork();
    if (pid == 0) {
        if (setuid(65534) != 0) {
            _exit(100);
        }
        int bad = 0;
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
        bad |= fsopen("tmpfs", 0) != -1 || errno != EPERM;
        bad |= (fspick(AT_FDCWD, "/", 0) != -1 || errno != EPERM) << 1;
        bad |= (open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE) != -1 || errno != EPERM) << 2;
        bad |= (move_mount(AT_FDCWD, "/tmp", AT_FDCWD, "/mnt", 0) != -1 || errno != EPERM) << 3;
        bad |= (mount_setattr(AT_FDCWD, "/", 0, &a, sizeof a) != -1 || errno != EPERM) << 4;
        bad |= (fsmount(0, 0, 0) != -1 || errno != EPERM) << 5;
        int t = open_tree(AT_FDCWD, "/", 0);
        bad |= (t < 0) << 6;
        _exit(bad);
    }
    int status;
    waitpid(pid, &status, 0);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

int main(void) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("FAIL cannot make a private mount namespace: %s\n", strerror(errno));
        return 1;
    }
    snprintf(base, sizeof base, "/tmp/mntapi-XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_fsopen();
    test_open_tree();
    test_setattr();
    test_fspick();
    test_statmount();
    test_unprivileged();
    umount(at("a/dir"));
    umount(at("b"));
    umount(at("a"));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0) {
        printf("cleanup failed\n");
    }
    return guest_done();
}
