// SPDX-License-Identifier: Apache-2.0
//
// getpid, getppid, gettid, getuid, geteuid, getgid, getegid, getgroups, uname, arch_prctl,
// set_tid_address, set_robust_list, rseq.
//
// IDs are virtual in the sandbox (the first program is PID 1 with parent 0; credentials may be
// mapped), so they are checked for consistency and never printed.

#include "guest.h"

#include <asm/prctl.h>
#include <grp.h>
#include <linux/futex.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static void test_pids(void) {
    NOTE("process ids");
    pid_t pid = getpid();
    pid_t ppid = getppid();
    EXPECT_GT(pid, 0);
    EXPECT_EQ(syscall(SYS_getpid), pid);
    EXPECT_EQ(gettid(), pid);
    EXPECT_EQ(syscall(SYS_gettid), pid);
    EXPECT_EQ(getppid(), ppid);
    // Natively the harness started us; in the sandbox we are the first process.
    CHECK("getpid/getppid: 1 and 0 sandboxed, else positive and different",
          in_sandbox() ? (pid == 1 && ppid == 0) : (pid > 1 && ppid > 0 && ppid != pid));
    // set_tid_address returns the caller's thread id.
    static int tid_word;
    EXPECT_EQ(syscall(SYS_set_tid_address, &tid_word), pid);
}

static void test_credentials(void) {
    NOTE("credentials");
    uid_t uid = getuid();
    gid_t gid = getgid();
    EXPECT_EQ(syscall(SYS_getuid), uid);
    EXPECT_EQ(syscall(SYS_getgid), gid);
    // Not set-ID: effective equals real.
    EXPECT_EQ(geteuid(), uid);
    EXPECT_EQ(getegid(), gid);
    EXPECT_EQ(syscall(SYS_geteuid), uid);
    EXPECT_EQ(syscall(SYS_getegid), gid);

    int n = EXPECT_OK(getgroups(0, NULL));
    EXPECT_GE(n, 0);
    gid_t groups[256];
    if (n <= 256) {
        EXPECT_EQ(getgroups(n, groups), n);
        // A buffer too small for the list (but not 0, which asks for the count) is EINVAL.
        if (n >= 2) {
            EXPECT_ERRNO(getgroups(n - 1, groups), EINVAL);
        }
    }
    EXPECT_ERRNO(syscall(SYS_getgroups, -1, groups), EINVAL);
}

static void test_uname(void) {
    NOTE("uname");
    struct utsname u;
    EXPECT_OK(uname(&u));
    EXPECT_STREQ(u.sysname, "Linux");
    EXPECT_STREQ(u.machine, "x86_64");
    EXPECT_GT(strlen(u.release), 0);
    EXPECT_GT(strlen(u.version), 0);
    EXPECT_GT(strlen(u.nodename), 0);
    int major = 0, minor = 0;
    EXPECT_EQ(sscanf(u.release, "%d.%d", &major, &minor), 2);
    CHECK("release is at least 4.0", major >= 4);
}

static void test_arch_prctl(void) {
    NOTE("arch_prctl");
    unsigned long fs = 0;
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
    // On x86_64 the thread pointer points at itself (TLS ABI): %fs:0 == fs base.
    unsigned long self = 0;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(self));
    CHECK("ARCH_GET_FS is the thread pointer", fs != 0 && fs == self);
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_SET_FS, fs));
    unsigned long again = 0;
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &again));
    CHECK("ARCH_SET_FS round trip", again == fs);
    unsigned long gs = 1;
    EXPECT_OK(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
    EXPECT_EQ(gs, 0);
    EXPECT_ERRNO(syscall(SYS_arch_prctl, 0x9999, &gs), EINVAL);
    // A non-canonical base is refused.
    EXPECT_ERRNO(syscall(SYS_arch_prctl, ARCH_SET_GS, 0x8000000000000000ul), EPERM);
}

static void test_robust_list_rseq(void) {
    NOTE("set_robust_list, rseq");
    static struct robust_list_head head;
    head.list.next = &head.list;
    head.futex_offset = 0;
    head.list_op_pending = NULL;
    EXPECT_OK(syscall(SYS_set_robust_list, &head, sizeof head));
    EXPECT_ERRNO(syscall(SYS_set_robust_list, &head, sizeof head + 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_set_robust_list, &head, 0), EINVAL);
    // Unknown flags.
    EXPECT_ERRNO(syscall(SYS_rseq, NULL, 0, 0x10, 0), EINVAL);
}

// The bounding set: readable per capability, narrowed by PR_CAPBSET_DROP (with CAP_SETPCAP)
// for the caller and what it forks, never for its parent. (Not CAP_SYS_RESOURCE: this host's
// root lacks it, the sandbox's root has it.)
static void test_capbset(void) {
    NOTE("bounding set");
    if (getuid() != 0) {
        return;
    }
    EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), 1);
    EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0), 1);
    EXPECT_ERRNO(prctl(PR_CAPBSET_READ, 64, 0, 0, 0), EINVAL);
    EXPECT_ERRNO(prctl(PR_CAPBSET_DROP, 64, 0, 0, 0), EINVAL);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0) == 0 &&
                 prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 0 &&
                 prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0) == 1;
        pid_t grandchild = fork();
        if (grandchild == 0) {
            _exit(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 0 ? 0 : 1);
        }
        int st;
        waitpid(grandchild, &st, 0);
        _exit(ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_EQ(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), 1);
}

// The inheritable set through capset(2), and the ambient set within permitted and inheritable
// (in a child: the sets are the process's own).
static void test_ambient(void) {
    NOTE("ambient set");
    if (getuid() != 0) {
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        int fails = 0;
        fails += syscall(SYS_capget, &h, d) != 0;
        fails += d[0].inheritable != 0;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) != -1 || errno != EPERM;
        d[0].inheritable = 1u << CAP_KILL;
        fails += syscall(SYS_capset, &h, d) != 0;
        fails += syscall(SYS_capget, &h, d) != 0 || d[0].inheritable != 1u << CAP_KILL;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0) != 0;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) != 1;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0) != 0;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0) != -1 || errno != EPERM;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0) != -1 || errno != EINVAL;
        fails += prctl(PR_CAP_AMBIENT, 99, 0, 0, 0) != -1 || errno != EINVAL;
        // Dropping it from the inheritable set drops it from the ambient one.
        d[0].inheritable = 0;
        fails += syscall(SYS_capset, &h, d) != 0;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) != 0;
        fails += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0;
        _exit(fails);
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
}

int main(void) {
    test_pids();
    test_credentials();
    test_uname();
    test_arch_prctl();
    test_robust_list_rseq();
    test_capbset();
    test_ambient();
    return guest_done();
}
