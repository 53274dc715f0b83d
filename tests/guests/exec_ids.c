// SPDX-License-Identifier: Apache-2.0
//
// What execve makes of the credentials: set-user-ID and set-group-ID files (group execute
// needed for the latter), file capabilities (security.capability), root's capabilities, ambient
// capabilities kept across exec by an ordinary user, no_new_privs and nosuid-like refusals,
// AT_SECURE and dumpability. Each case runs a copy of this guest (mode and owner set by root)
// from a child that has become uid 1000, and the copy reports what it got.
//
// Capability sets differ between hosts (the bounding set), so they are printed as relations.

#include "guest.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static unsigned long long status_caps(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long v = ~0ull;
    size_t n = strlen(key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, n) == 0) {
            v = strtoull(line + n, NULL, 16);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return v;
}

// The copy's side: one line of what it runs with.
static int report(void) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    unsigned long long eff = status_caps("CapEff:"), prm = status_caps("CapPrm:"),
                       bnd = status_caps("CapBnd:"), amb = status_caps("CapAmb:");
    const char *caps = eff == 0                     ? "none"
                       : eff == bnd && prm == bnd   ? "all bounding"
                       : eff == (1ull << CAP_NET_RAW) ? "net_raw"
                                                      : "other";
    printf("#   uid %u/%u/%u gid %u/%u/%u caps %s ambient %s secure %lu dumpable %s\n", r, e, s, gr,
           ge, gs, caps, amb == 0 ? "none" : amb == (1ull << CAP_NET_RAW) ? "net_raw" : "other",
           getauxval(AT_SECURE), prctl(PR_GET_DUMPABLE) == 1 ? "yes" : "no");
    return 0;
}

static char copy[64];

// Runs the copy from a child: `prep` shapes the child (ids, capabilities) first.
static void run_copy(const char *what, int (*prep)(void)) {
    NOTE("%s", what);
    pid_t pid = fork();
    if (pid == 0) {
        if (prep() != 0) {
            printf("#   preparing failed: %s\n", errno_name(errno));
            _exit(3);
        }
        char *argv[] = {copy, "report", NULL};
        char *envp[] = {NULL};
        execve(copy, argv, envp);
        printf("#   execve: %s\n", errno_name(errno));
        _exit(4);
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("the copy exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int to_user(void) {
    if (setgroups(0, NULL) != 0 || setresgid(1000, 1000, 1000) != 0) {
        return -1;
    }
    return setresuid(1000, 1000, 1000);
}

static int stay_root(void) {
    return 0;
}

static int to_user_no_new_privs(void) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return -1;
    }
    return to_user();
}

static int effective_user(void) {
    // Real and saved uid 0, effective 1000: the exec keeps them, and is "set-id" for Linux
    // since the effective uid is not the real one.
    return setresuid(0, 1000, 0);
}

// An ordinary user with CAP_NET_RAW ambient: root keeps its permitted set through setuid
// (SECBIT_KEEP_CAPS; the ambient set is cleared by that setuid, as Linux does for programs
// written before it), makes CAP_NET_RAW effective and inheritable again, and raises it
// ambient. The exec keeps it, effective.
static int user_with_ambient(void) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || to_user() != 0) {
        return -1;
    }
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0) {
        return -1;
    }
    data[0].effective = 1u << CAP_NET_RAW;
    data[0].inheritable = 1u << CAP_NET_RAW;
    data[1].effective = data[1].inheritable = 0;
    if (syscall(SYS_capset, &hdr, data) != 0) {
        return -1;
    }
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0);
}

static int set_mode(mode_t mode, gid_t gid) {
    // chown clears the set-id bits: the mode comes after it.
    if (chown(copy, 0, gid) != 0 || chmod(copy, mode) != 0) {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "report") == 0) {
        return report();
    }
    if (getuid() != 0) {
        NOTE("not root: nothing to check");
        return guest_done();
    }
    char dir[] = "/tmp/exec_ids_XXXXXX";
    if (mkdtemp(dir) == NULL) {
        CHECK("mkdtemp", 0);
        return guest_done();
    }
    EXPECT_OK(chmod(dir, 0755));
    snprintf(copy, sizeof copy, "%s/copy", dir);
    int in = open("/proc/self/exe", O_RDONLY);
    int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[65536];
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, n) != n) {
            break;
        }
    }
    close(in);
    close(out);

    EXPECT_OK(set_mode(0755, 0));
    run_copy("an ordinary file run by uid 1000", to_user);
    run_copy("an ordinary file run by root", stay_root);
    run_copy("an ordinary file run with effective uid 1000, real uid 0", effective_user);
    run_copy("an ordinary file run by uid 1000 holding CAP_NET_RAW ambient", user_with_ambient);
    EXPECT_OK(set_mode(04755, 0));
    run_copy("a set-user-ID-root file run by uid 1000", to_user);
    run_copy("a set-user-ID-root file run by uid 1000 with no_new_privs", to_user_no_new_privs);
    run_copy("a set-user-ID-root file clears the ambient set", user_with_ambient);
    EXPECT_OK(set_mode(02755, 50));
    run_copy("a set-group-ID file (group 50) run by uid 1000", to_user);
    EXPECT_OK(set_mode(02745, 50));
    run_copy("set-group-ID without group execute changes nothing", to_user);

    // File capabilities: CAP_NET_RAW permitted and effective (revision 2).
    EXPECT_OK(set_mode(0755, 0));
    uint32_t fcaps[5] = {0x02000000 | 1, 1u << CAP_NET_RAW, 0, 0, 0};
    EXPECT_OK(setxattr(copy, "security.capability", fcaps, sizeof fcaps, 0));
    run_copy("a file with CAP_NET_RAW file capabilities run by uid 1000", to_user);
    run_copy("file capabilities under no_new_privs", to_user_no_new_privs);
    uint32_t bad[3] = {0x07000000, 0, 0};
    EXPECT_ERRNO(setxattr(copy, "security.capability", bad, sizeof bad, 0), EINVAL);
    EXPECT_OK(removexattr(copy, "security.capability"));
    run_copy("the capabilities removed", to_user);

    unlink(copy);
    rmdir(dir);
    return guest_done();
}
