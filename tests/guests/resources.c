// SPDX-License-Identifier: Apache-2.0
//
// prlimit64, getrlimit, getrandom, sched_getaffinity, sysinfo, umask.
//
// Limits, CPU counts and memory sizes are the host's or the sandbox's choice, so they are
// checked for consistency, never printed.

#include "guest.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/wait.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

static void test_rlimits(void) {
    NOTE("getrlimit and prlimit64");
    struct rlimit rl;
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    CHECK("RLIMIT_NOFILE soft <= hard", rl.rlim_cur <= rl.rlim_max);
    CHECK("RLIMIT_NOFILE soft is at least 64", rl.rlim_cur >= 64);
    struct rlimit raw;
    EXPECT_OK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &raw));
    CHECK("raw getrlimit agrees", raw.rlim_cur == rl.rlim_cur && raw.rlim_max == rl.rlim_max);
    struct rlimit old;
    EXPECT_OK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old));
    CHECK("prlimit64(0) agrees", old.rlim_cur == rl.rlim_cur && old.rlim_max == rl.rlim_max);
    EXPECT_OK(syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, NULL, &old));
    CHECK("prlimit64(getpid()) agrees", old.rlim_cur == rl.rlim_cur);

    // Lower the soft limit: descriptors stop at it.
    struct rlimit small = {10, rl.rlim_max};
    EXPECT_OK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &small, &old));
    CHECK("prlimit64 returns the old value", old.rlim_cur == rl.rlim_cur);
    struct rlimit now;
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &now));
    EXPECT_EQ(now.rlim_cur, 10);
    int last = -1, fd;
    while ((fd = dup(0)) >= 0) {
        last = fd;
    }
    EXPECT_ERRNO(dup(0), EMFILE);
    EXPECT_EQ(last, 9);
    EXPECT_ERRNO(fcntl(0, F_DUPFD, 10), EINVAL);
    EXPECT_ERRNO(dup2(0, 10), EBADF);
    EXPECT_ERRNO(open("/etc/passwd", O_RDONLY), EMFILE);
    for (int i = 3; i <= 9; i++) {
        close(i);
    }
    EXPECT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    EXPECT_OK(getrlimit(RLIMIT_NOFILE, &now));
    CHECK("the soft limit is restored", now.rlim_cur == rl.rlim_cur);

    struct rlimit inverted = {rl.rlim_max, rl.rlim_max == 0 ? 0 : rl.rlim_max - 1};
    EXPECT_ERRNO(setrlimit(RLIMIT_NOFILE, &inverted), EINVAL);
    EXPECT_ERRNO(syscall(SYS_prlimit64, 0, 1000, NULL, &old), EINVAL);
    EXPECT_ERRNO(syscall(SYS_getrlimit, 1000, &old), EINVAL);
    EXPECT_ERRNO(syscall(SYS_prlimit64, 0x3fffffff, RLIMIT_NOFILE, NULL, &old), ESRCH);

    // Every resource is readable and consistent.
    int consistent = 1;
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit l;
        consistent &= getrlimit(r, &l) == 0 && l.rlim_cur <= l.rlim_max;
    }
    CHECK("all 16 limits readable with soft <= hard", consistent);
    EXPECT_OK(getrlimit(RLIMIT_STACK, &now));
    CHECK("RLIMIT_STACK soft is at least 128 KiB", now.rlim_cur >= 128 * 1024);
}

static void test_getrandom(void) {
    NOTE("getrandom");
    unsigned char a[64], b[64], zero[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(zero, 0, sizeof zero);
    EXPECT_EQ(getrandom(a, sizeof a, 0), 64);
    EXPECT_EQ(getrandom(b, sizeof b, GRND_NONBLOCK), 64);
    CHECK("64 random bytes are not all zero", memcmp(a, zero, sizeof a) != 0);
    CHECK("two draws differ", memcmp(a, b, sizeof a) != 0);
    EXPECT_EQ(syscall(SYS_getrandom, a, 0, 0), 0);
    EXPECT_EQ(syscall(SYS_getrandom, a, 16, GRND_RANDOM | GRND_NONBLOCK) > 0, 1);
    static unsigned char big[1 << 20];
    long n = EXPECT_OK(syscall(SYS_getrandom, big, sizeof big, 0));
    CHECK("a 1 MiB request returns some bytes", n > 0);
    EXPECT_ERRNO(syscall(SYS_getrandom, a, sizeof a, 0x100), EINVAL);
    EXPECT_ERRNO(syscall(SYS_getrandom, (void *)1, 16, 0), EFAULT);
}

static void test_affinity(void) {
    NOTE("sched_getaffinity");
    cpu_set_t set;
    CPU_ZERO(&set);
    EXPECT_OK(sched_getaffinity(0, sizeof set, &set));
    EXPECT_GE(CPU_COUNT(&set), 1);
    long ret = EXPECT_OK(syscall(SYS_sched_getaffinity, 0, sizeof set, &set));
    CHECK("the raw call returns a positive multiple of 8 bytes", ret > 0 && ret % 8 == 0);
    cpu_set_t self;
    CPU_ZERO(&self);
    EXPECT_OK(sched_getaffinity(getpid(), sizeof self, &self));
    EXPECT_TRUE(CPU_EQUAL(&set, &self));
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 4, &set), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0, 0, &set), EINVAL);
    EXPECT_ERRNO(syscall(SYS_sched_getaffinity, 0x3fffffff, sizeof set, &set), ESRCH);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK("affinity CPUs <= online CPUs", CPU_COUNT(&set) <= online);
}

static void test_sysinfo(void) {
    NOTE("sysinfo");
    struct sysinfo si;
    memset(&si, 0, sizeof si);
    EXPECT_OK(sysinfo(&si));
    EXPECT_GT(si.totalram, 0);
    EXPECT_GE(si.mem_unit, 1);
    CHECK("freeram <= totalram", si.freeram <= si.totalram);
    CHECK("freeswap <= totalswap", si.freeswap <= si.totalswap);
    EXPECT_GT(si.uptime, 0);
    EXPECT_GE(si.procs, 1);
    EXPECT_ERRNO(syscall(SYS_sysinfo, NULL), EFAULT);
}

static int read_adj(const char *path) {
    char buf[32] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -100000;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? atoi(buf) : -100001;
}

static int write_adj(const char *value) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, value, strlen(value));
    int err = errno;
    close(fd);
    errno = err;
    return n < 0 ? -1 : 0;
}

static void test_oom_score_adj(void) {
    NOTE("/proc/self/oom_score_adj: raised freely, inherited by a child, kept per process");
    int before = read_adj("/proc/self/oom_score_adj");
    CHECK("oom_score_adj reads as a number in range", before >= -1000 && before <= 1000);
    pid_t pid = fork();
    if (pid == 0) {
        // Without CAP_SYS_RESOURCE (root natively here lacks it; the sandbox's root gives it
        // up), going below the floor is refused.
        struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        if (syscall(SYS_capget, &hdr, data) != 0) {
            _exit(10);
        }
        data[0].effective &= ~(1u << CAP_SYS_RESOURCE);
        if (syscall(SYS_capset, &hdr, data) != 0) {
            _exit(11);
        }
        if (write_adj("1000\n") != 0 || read_adj("/proc/self/oom_score_adj") != 1000) {
            _exit(12);
        }
        pid_t g = fork();
        if (g == 0) {
            _exit(read_adj("/proc/self/oom_score_adj") == 1000 ? 0 : 1);
        }
        int st;
        if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            _exit(13);
        }
        if (write_adj("7") != 0 || read_adj("/proc/self/oom_score_adj") != 7) {
            _exit(14);
        }
        if (write_adj("-1000") == 0 || errno != EACCES) {
            _exit(15);
        }
        if (write_adj("1001") == 0 || errno != EINVAL) {
            _exit(16);
        }
        if (write_adj("many") == 0 || errno != EINVAL) {
            _exit(17);
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)getppid());
        _exit(read_adj(path) == read_adj("/proc/self/oom_score_adj") ? 18 : 0);
    }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    CHECK("the child exited", WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    EXPECT_EQ(read_adj("/proc/self/oom_score_adj"), before);
}

static void test_umask(void) {
    NOTE("umask");
    mode_t initial = umask(022);
    EXPECT_EQ(umask(077), 022);
    EXPECT_EQ(umask(0), 077);
    // Only the permission bits are kept.
    EXPECT_EQ(umask(07777), 0);
    EXPECT_EQ(umask(022), 0777);
    EXPECT_EQ(syscall(SYS_umask, 027), 022);
    EXPECT_EQ(umask(initial), 027);
}

int main(void) {
    test_rlimits();
    test_getrandom();
    test_affinity();
    test_sysinfo();
    test_umask();
    test_oom_score_adj();
    return guest_done();
}
