// SPDX-License-Identifier: Apache-2.0
//
// getdents64, getcwd, chdir, fchdir.
//
// The sandbox's root is read-only, so directories are listed, not made: stable host directories
// are read with getdents64, their sorted names printed (or summarised by count and hash), and
// each entry's d_type compared with what lstat says.

#include "guest.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

#define MAX_NAMES 4096

struct entry {
    char *name;
    unsigned char type;
};

static struct entry entries[MAX_NAMES];
static int nnames;

static int cmp_entries(const void *a, const void *b) {
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

// Reads the whole directory with getdents64 calls of `bufsize` bytes. Returns the number of
// calls that returned entries, or -1.
static int list_dir(int fd, size_t bufsize) {
    static char buf[1 << 16];
    nnames = 0;
    int calls = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, bufsize);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return calls;
        }
        calls++;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (nnames < MAX_NAMES) {
                entries[nnames].type = d->d_type;
                entries[nnames++].name = strdup(d->d_name);
            }
            off += d->d_reclen;
        }
    }
}

static uint64_t hash_names(void) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < nnames; i++) {
        for (const char *p = entries[i].name; *p; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        }
        h = (h ^ '/') * 1099511628211ull;
    }
    return h;
}

static int has_name(const char *name, unsigned char *type) {
    for (int i = 0; i < nnames; i++) {
        if (strcmp(entries[i].name, name) == 0) {
            *type = entries[i].type;
            return 1;
        }
    }
    return 0;
}

static void free_names(void) {
    for (int i = 0; i < nnames; i++) {
        free(entries[i].name);
    }
    nnames = 0;
}

static void test_getdents(const char *path, int print_names) {
    NOTE("getdents64 of %s", path);
    int fd = EXPECT_OK(open(path, O_RDONLY | O_DIRECTORY));
    EXPECT_GE(list_dir(fd, 1 << 16), 1);
    qsort(entries, nnames, sizeof entries[0], cmp_entries);
    // The names are the host's, so they are printed (or, for a big directory, their count and
    // hash): they must be the same in both runs.
    printf("# %s: %d entries, hash %016llx\n", path, nnames, (unsigned long long)hash_names());
    if (print_names) {
        for (int i = 0; i < nnames; i++) {
            printf("# %s\n", entries[i].name);
        }
    }
    unsigned char t = 0;
    EXPECT_TRUE(has_name(".", &t) && t == DT_DIR);
    EXPECT_TRUE(has_name("..", &t) && t == DT_DIR);
    // d_type agrees with lstat for every entry.
    int agree = 1;
    for (int i = 0; i < nnames; i++) {
        struct stat st;
        if (fstatat(fd, entries[i].name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            agree = 0;
            printf("# lstat %s failed: %s\n", entries[i].name, errno_name(errno));
            continue;
        }
        unsigned char want = S_ISDIR(st.st_mode)   ? DT_DIR
                             : S_ISREG(st.st_mode) ? DT_REG
                             : S_ISLNK(st.st_mode) ? DT_LNK
                             : S_ISCHR(st.st_mode) ? DT_CHR
                             : S_ISBLK(st.st_mode) ? DT_BLK
                             : S_ISFIFO(st.st_mode) ? DT_FIFO
                                                    : DT_SOCK;
        if (entries[i].type != want && entries[i].type != DT_UNKNOWN) {
            agree = 0;
            printf("# %s: d_type %d, lstat says %d\n", entries[i].name, entries[i].type, want);
        }
    }
    CHECK("d_type agrees with lstat for every entry", agree);
    int count = nnames;
    uint64_t hash = hash_names();
    free_names();

    // At end of directory, getdents64 keeps returning 0.
    static char more[4096];
    EXPECT_EQ(syscall(SYS_getdents64, fd, more, sizeof more), 0);
    // Rewinding starts over; a small buffer needs several calls but yields the same names.
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    EXPECT_GT(list_dir(fd, 512), 1);
    qsort(entries, nnames, sizeof entries[0], cmp_entries);
    EXPECT_EQ(nnames, count);
    CHECK("same names with a 512-byte buffer", hash_names() == hash);
    free_names();
    EXPECT_OK(close(fd));
}

static void test_getdents_errors(void) {
    NOTE("getdents64 errors");
    char buf[4096];
    int fd = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    // Too small for even one entry.
    EXPECT_ERRNO(syscall(SYS_getdents64, fd, buf, 8), EINVAL);
    EXPECT_OK(close(fd));
    EXPECT_ERRNO(syscall(SYS_getdents64, fd, buf, sizeof buf), EBADF);
    int file = EXPECT_OK(open("/etc/passwd", O_RDONLY));
    EXPECT_ERRNO(syscall(SYS_getdents64, file, buf, sizeof buf), ENOTDIR);
    EXPECT_OK(close(file));
}

static void test_cwd(void) {
    NOTE("getcwd, chdir, fchdir");
    char buf[4096];
    // The harness starts every guest in /.
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/");
    // The raw call returns the length including the terminator.
    EXPECT_EQ(syscall(SYS_getcwd, buf, sizeof buf), 2);

    EXPECT_OK(chdir("/usr/include"));
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/usr/include");
    EXPECT_EQ(syscall(SYS_getcwd, buf, sizeof buf), 13);
    EXPECT_ERRNO(syscall(SYS_getcwd, buf, 12), ERANGE);
    EXPECT_ERRNO(syscall(SYS_getcwd, buf, 1), ERANGE);
    EXPECT_ERRNO(syscall(SYS_getcwd, buf, 0), ERANGE);
    EXPECT_TRUE(getcwd(buf, 5) == NULL && errno == ERANGE);

    // Relative paths resolve against the new directory.
    EXPECT_OK(access("stdio.h", R_OK));
    EXPECT_OK(chdir(".."));
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/usr");
    EXPECT_OK(chdir("./include/../lib/"));
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/usr/lib");

    // chdir through a symlink records the resolved path.
    struct stat l;
    if (lstat("/bin", &l) == 0 && S_ISLNK(l.st_mode)) {
        EXPECT_OK(chdir("/bin"));
        EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
        EXPECT_STREQ(buf, "/usr/bin");
    } else {
        NOTE("skipped: /bin is not a symlink on this host");
    }

    EXPECT_OK(chdir("/"));
    EXPECT_OK(chdir(".."));
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/");

    EXPECT_ERRNO(chdir("/etc/passwd"), ENOTDIR);
    EXPECT_ERRNO(chdir("/nonexistent"), ENOENT);
    EXPECT_ERRNO(chdir(""), ENOENT);
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/");

    int etc = EXPECT_OK(open("/etc", O_RDONLY | O_DIRECTORY));
    EXPECT_OK(fchdir(etc));
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/etc");
    EXPECT_OK(access("passwd", R_OK));
    int file = EXPECT_OK(open("passwd", O_RDONLY));
    EXPECT_ERRNO(fchdir(file), ENOTDIR);
    EXPECT_OK(close(file));
    EXPECT_OK(close(etc));
    EXPECT_ERRNO(fchdir(etc), EBADF);
    EXPECT_ERRNO(fchdir(-1), EBADF);
    EXPECT_TRUE(getcwd(buf, sizeof buf) != NULL);
    EXPECT_STREQ(buf, "/etc");
    EXPECT_OK(chdir("/"));
}

// A renamed working directory, and a renamed directory held open, stay where they are:
// relative names keep working in them.
static void test_renamed_cwd(void) {
    NOTE("a renamed cwd and directory descriptor");
    char base[] = "/tmp/dirs-XXXXXX";
    if (mkdtemp(base) == NULL) {
        return;
    }
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    snprintf(c, sizeof c, "%s/c", base);
    EXPECT_OK(mkdir(a, 0755));
    EXPECT_OK(chdir(a));
    int fd = EXPECT_OK(open("f", O_WRONLY | O_CREAT, 0644));
    close(fd);
    int dfd = EXPECT_OK(open(".", O_RDONLY | O_DIRECTORY));
    EXPECT_OK(rename(a, b));
    EXPECT_OK(access("f", F_OK));
    fd = EXPECT_OK(open("g", O_WRONLY | O_CREAT, 0644));
    close(fd);
    char bg[80];
    snprintf(bg, sizeof bg, "%s/g", b);
    EXPECT_OK(access(bg, F_OK));
    EXPECT_OK(rename(b, c));
    EXPECT_OK(faccessat(dfd, "g", F_OK, 0));
    close(dfd);
    EXPECT_OK(chdir("/"));
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    EXPECT_EQ(system(cmd), 0);
}

int main(void) {
    test_renamed_cwd();
    test_getdents("/usr/include/linux", 0);
    test_getdents("/etc", 1);
    test_getdents("/", 1);
    test_getdents_errors();
    test_cwd();
    return guest_done();
}
