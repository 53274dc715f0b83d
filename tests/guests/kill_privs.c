// SPDX-License-Identifier: Apache-2.0
//
// Privileges a change of a file's contents or owner takes away (issue 14; Linux's
// file_remove_privs and chown's ATTR_KILL_*): a write, truncate, O_TRUNC, fallocate,
// copy_file_range, sendfile or splice by a caller without CAP_FSETID clears the set-user-ID
// bit and the set-group-ID bit of a group-executable file or of a group the writer is not in;
// any of them removes file
// capabilities, whoever writes; chown clears set-user-ID (even for root and with both ids -1),
// set-group-ID as a write does, and file capabilities; directories keep theirs.
// A description opened before a chmod still strips at its next write.

#include "guest.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>

// In a directory of its own: the native runs of the static and dynamic builds run at once.
static char path[64];

static unsigned mode_of(const char *p) {
    struct stat st;
    if (stat(p, &st) != 0) {
        return 0;
    }
    return st.st_mode & 07777;
}

static int has_caps(const char *p) {
    unsigned char v[24];
    return getxattr(p, "security.capability", v, sizeof v) > 0;
}

static int set_caps(const char *p) {
    // VFS_CAP_REVISION_2, CAP_NET_RAW permitted.
    unsigned char v[20] = {0, 0, 0, 2, 0, 0x20, 0, 0};
    return setxattr(p, "security.capability", v, sizeof v, 0);
}

// Runs `op` as nobody in a child; its exit status.
static int as_nobody(int (*op)(void)) {
    pid_t c = fork();
    if (c == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) {
            _exit(100);
        }
        _exit(op());
    }
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static int op_write(void) {
    int fd = open(path, O_WRONLY);
    return fd >= 0 && write(fd, "a", 1) == 1 ? 0 : 1;
}

static int op_empty_write(void) {
    int fd = open(path, O_WRONLY);
    return fd >= 0 && write(fd, "", 0) == 0 ? 0 : 1;
}

static int op_pwritev(void) {
    int fd = open(path, O_WRONLY);
    struct iovec v = {"bc", 2};
    return fd >= 0 && pwritev(fd, &v, 1, 3) == 2 ? 0 : 1;
}

static int op_truncate(void) {
    return truncate(path, 1);
}

static int op_ftruncate(void) {
    int fd = open(path, O_WRONLY);
    return fd >= 0 && ftruncate(fd, 2) == 0 ? 0 : 1;
}

static int op_otrunc(void) {
    return open(path, O_WRONLY | O_TRUNC) >= 0 ? 0 : 1;
}

static int op_fallocate(void) {
    int fd = open(path, O_WRONLY);
    return fd >= 0 && fallocate(fd, 0, 0, 4096) == 0 ? 0 : 1;
}

static int op_copy_range(void) {
    int in = open("/etc/hostname", O_RDONLY);
    int out = open(path, O_WRONLY);
    return in >= 0 && out >= 0 && copy_file_range(in, NULL, out, NULL, 1, 0) >= 0 ? 0 : 1;
}

static int op_sendfile(void) {
    int in = open("/etc/hostname", O_RDONLY);
    int out = open(path, O_WRONLY);
    return in >= 0 && out >= 0 && sendfile(out, in, NULL, 1) >= 0 ? 0 : 1;
}

static int op_splice(void) {
    int p[2];
    int out = open(path, O_WRONLY);
    if (out < 0 || pipe(p) != 0 || write(p[1], "s", 1) != 1) {
        return 1;
    }
    return splice(p[0], NULL, out, NULL, 1, 0) == 1 ? 0 : 1;
}

static void fresh(unsigned mode) {
    unlink(path);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    chmod(path, mode);
}

int main(void) {
    char top[] = "/tmp/kill-privs-XXXXXX";
    CHECK("mkdtemp", mkdtemp(top) != NULL && chmod(top, 0755) == 0);
    snprintf(path, sizeof path, "%s/file", top);
    static const struct {
        const char *name;
        int (*op)(void);
    } ops[] = {
        {"write", op_write},         {"pwritev", op_pwritev},   {"truncate", op_truncate},
        {"ftruncate", op_ftruncate}, {"O_TRUNC", op_otrunc},    {"fallocate", op_fallocate},
        {"copy_file_range", op_copy_range}, {"sendfile", op_sendfile}, {"splice", op_splice},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        NOTE("%s by nobody", ops[i].name);
        fresh(06777);
        EXPECT_EQ(as_nobody(ops[i].op), 0);
        EXPECT_EQ(mode_of(path), 0777);
        fresh(0777);
        EXPECT_OK(set_caps(path));
        EXPECT_EQ(as_nobody(ops[i].op), 0);
        EXPECT_EQ(has_caps(path), 0);
    }

    NOTE("what a write leaves");
    fresh(02767);
    EXPECT_EQ(as_nobody(op_write), 0);
    // Set-group-ID without group execute (the old mandatory-locking mark) goes for a writer
    // outside the file's group...
    EXPECT_EQ(mode_of(path), 0767);
    // ... and stays for one in it.
    fresh(02767);
    EXPECT_OK(chown(path, 0, 65534));
    EXPECT_OK(chmod(path, 02767));
    EXPECT_EQ(as_nobody(op_write), 0);
    EXPECT_EQ(mode_of(path), 02767);
    fresh(06777);
    EXPECT_EQ(as_nobody(op_empty_write), 0);
    EXPECT_EQ(mode_of(path), 06777);
    // Root holds CAP_FSETID: its write keeps the bits, but not the capabilities.
    fresh(06777);
    EXPECT_OK(set_caps(path));
    EXPECT_EQ(op_write(), 0);
    EXPECT_EQ(mode_of(path), 06777);
    EXPECT_EQ(has_caps(path), 0);

    NOTE("a description opened before the chmod");
    fresh(0666);
    int go[2], done[2];
    CHECK("pipes", pipe(go) == 0 && pipe(done) == 0);
    pid_t c = fork();
    if (c == 0) {
        if (setuid(65534) != 0) {
            _exit(100);
        }
        int fd = open(path, O_WRONLY);
        int ok = fd >= 0 && write(fd, "1", 1) == 1;
        char b;
        ok = ok && write(done[1], "o", 1) == 1 && read(go[0], &b, 1) == 1;
        ok = ok && write(fd, "2", 1) == 1;
        _exit(ok ? 0 : 1);
    }
    char b;
    EXPECT_EQ(read(done[0], &b, 1), 1);
    EXPECT_OK(chmod(path, 04666));
    EXPECT_EQ(write(go[1], "g", 1), 1);
    int st = 0;
    waitpid(c, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_EQ(mode_of(path), 0666);

    NOTE("chown");
    fresh(06777);
    EXPECT_OK(chown(path, -1, -1));
    EXPECT_EQ(mode_of(path), 0777);
    fresh(06777);
    EXPECT_OK(chown(path, 0, 0));
    EXPECT_EQ(mode_of(path), 0777);
    // Set-group-ID without group execute stays for a caller in the group or with CAP_FSETID.
    fresh(06767);
    EXPECT_OK(chown(path, 0, 0));
    EXPECT_EQ(mode_of(path), 02767);
    fresh(0777);
    EXPECT_OK(set_caps(path));
    EXPECT_OK(chown(path, 0, 0));
    EXPECT_EQ(has_caps(path), 0);
    unlink(path);
    char dir[80];
    snprintf(dir, sizeof dir, "%s/dir", top);
    EXPECT_OK(mkdir(dir, 0777));
    EXPECT_OK(chmod(dir, 06777));
    EXPECT_OK(chown(dir, 0, 0));
    EXPECT_EQ(mode_of(dir), 06777);
    rmdir(dir);
    rmdir(top);
    return guest_done();
}
