// SPDX-License-Identifier: Apache-2.0
//
// The NUMA policy calls on a machine of one node (issue 14): set_mempolicy, get_mempolicy,
// mbind, set_mempolicy_home_node, migrate_pages and move_pages; then map_shadow_stack on a
// machine without user shadow stacks, and the LSM calls on a kernel whose only module with
// nothing to say is capabilities. Natively this runs on a single-node machine (the guest
// checks /sys/devices/system/node and says so); only what is the same natively and in the
// sandbox is printed.

#include "guest.h"

#include <dirent.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_PREFERRED_MANY 5
#define MPOL_WEIGHTED_INTERLEAVE 6
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NUMA_BALANCING (1 << 13)
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4
#define MPOL_MF_STRICT 1
#define MPOL_MF_MOVE 2
#define MPOL_MF_MOVE_ALL 4

static long set_mempolicy(int mode, unsigned long *nmask, unsigned long maxnode) {
    return syscall(SYS_set_mempolicy, mode, nmask, maxnode);
}

static long get_mempolicy(int *mode, unsigned long *nmask, unsigned long maxnode, void *addr,
                          unsigned long flags) {
    return syscall(SYS_get_mempolicy, mode, nmask, maxnode, addr, flags);
}

static long mbind(void *addr, unsigned long len, int mode, unsigned long *nmask,
                  unsigned long maxnode, unsigned flags) {
    return syscall(SYS_mbind, addr, len, mode, nmask, maxnode, flags);
}

static long home_node(void *addr, unsigned long len, unsigned long node, unsigned long flags) {
    return syscall(450, addr, len, node, flags);
}

static int nodes(void) {
    int n = 0;
    DIR *d = opendir("/sys/devices/system/node");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "node", 4) == 0 && e->d_name[4] >= '0' && e->d_name[4] <= '9') {
            n++;
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

// The thread's policy as "mode/nodes".
static void expect_policy(const char *what, int mode, unsigned long mask) {
    int m = -1;
    unsigned long nm[2] = {~0UL, ~0UL};
    long r = get_mempolicy(&m, nm, 128, NULL, 0);
    guest_report(r == 0 && m == mode && nm[0] == mask && nm[1] == 0, what,
                 "got %ld mode %#x nodes %#lx %#lx", r, m, nm[0], nm[1]);
}

static void policies(void) {
    NOTE("set_mempolicy and get_mempolicy");
    unsigned long n0 = 1, n1 = 2, n01 = 3, none = 0;
    unsigned long big[64];
    memset(big, 0, sizeof big);
    expect_policy("the default policy", MPOL_DEFAULT, 0);
    EXPECT_ERRNO(set_mempolicy(7, &n0, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(-1, &n0, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &n0, 64),
                 EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, &n0, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_PREFERRED | MPOL_F_NUMA_BALANCING, &n0, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND, &none, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND, NULL, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND, &n1, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_INTERLEAVE, &n1, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_PREFERRED, &n1, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_DEFAULT, &n0, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_LOCAL, &n0, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_LOCAL | MPOL_F_STATIC_NODES, NULL, 0), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_PREFERRED | MPOL_F_STATIC_NODES, &none, 64), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND, (void *)8, 64), EFAULT);
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND, big, 4096 * 8 + 2), EINVAL);
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND, &n0, 0), EINVAL);
    big[20] = 1; // node 1280: beyond MAX_NUMNODES
    EXPECT_ERRNO(set_mempolicy(MPOL_BIND, big, 2000), EINVAL);
    big[20] = 0;
    big[0] = 1;
    big[3] = 1; // node 192: a node that does not exist
    EXPECT_OK(set_mempolicy(MPOL_BIND, big, 2000));
    expect_policy("bind over nodes 0 and 192 keeps node 0", MPOL_BIND, 1);

    EXPECT_OK(set_mempolicy(MPOL_BIND, &n0, 2));
    expect_policy("bind to node 0", MPOL_BIND, 1);
    EXPECT_OK(set_mempolicy(MPOL_BIND, &n01, 64));
    expect_policy("bind to nodes 0-1 keeps node 0", MPOL_BIND, 1);
    EXPECT_OK(set_mempolicy(MPOL_BIND | MPOL_F_STATIC_NODES, &n01, 64));
    expect_policy("static nodes are reported as given", MPOL_BIND | MPOL_F_STATIC_NODES, 3);
    EXPECT_OK(set_mempolicy(MPOL_INTERLEAVE | MPOL_F_RELATIVE_NODES, &n1, 64));
    expect_policy("relative nodes fold onto node 0", MPOL_INTERLEAVE | MPOL_F_RELATIVE_NODES, 2);
    int m = -1;
    EXPECT_OK(get_mempolicy(&m, NULL, 0, NULL, MPOL_F_NODE));
    EXPECT_EQ(m, 0);
    EXPECT_OK(set_mempolicy(MPOL_BIND | MPOL_F_NUMA_BALANCING, &n0, 64));
    expect_policy("bind with NUMA balancing", MPOL_BIND | MPOL_F_NUMA_BALANCING, 1);
    EXPECT_ERRNO(get_mempolicy(&m, NULL, 0, NULL, MPOL_F_NODE), EINVAL);
    EXPECT_OK(set_mempolicy(MPOL_PREFERRED_MANY, &n0, 64));
    expect_policy("preferred many", MPOL_PREFERRED_MANY, 1);
    EXPECT_OK(set_mempolicy(MPOL_WEIGHTED_INTERLEAVE, &n0, 64));
    expect_policy("weighted interleave", MPOL_WEIGHTED_INTERLEAVE, 1);
    EXPECT_OK(get_mempolicy(&m, NULL, 0, NULL, MPOL_F_NODE));
    EXPECT_EQ(m, 0);
    EXPECT_OK(set_mempolicy(MPOL_PREFERRED, &n0, 64));
    expect_policy("preferred node 0", MPOL_PREFERRED, 1);
    EXPECT_OK(set_mempolicy(MPOL_PREFERRED, NULL, 0));
    expect_policy("preferred without nodes is local", MPOL_LOCAL, 0);
    EXPECT_OK(set_mempolicy(MPOL_LOCAL, NULL, 0));
    expect_policy("local", MPOL_LOCAL, 0);

    // A forked child inherits the policy.
    EXPECT_OK(set_mempolicy(MPOL_INTERLEAVE, &n0, 64));
    pid_t pid = fork();
    if (pid == 0) {
        int cm = -1;
        get_mempolicy(&cm, NULL, 0, NULL, 0);
        _exit(cm == MPOL_INTERLEAVE ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("a child inherits the policy", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_OK(set_mempolicy(MPOL_DEFAULT, NULL, 0));
    expect_policy("back to the default", MPOL_DEFAULT, 0);
    EXPECT_OK(set_mempolicy(MPOL_DEFAULT, &none, 64));

    NOTE("get_mempolicy's checks");
    unsigned long nm[4];
    EXPECT_ERRNO(get_mempolicy(&m, nm, 0, NULL, 0), EINVAL);
    EXPECT_ERRNO(get_mempolicy(&m, nm, 64, NULL, 8), EINVAL);
    EXPECT_ERRNO(get_mempolicy(&m, nm, 64, (void *)4096, 0), EINVAL);
    EXPECT_ERRNO(get_mempolicy(&m, nm, 64, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE), EINVAL);
    EXPECT_ERRNO(get_mempolicy(&m, nm, 64, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_ADDR), EINVAL);
    EXPECT_ERRNO(get_mempolicy(&m, NULL, 0, NULL, MPOL_F_NODE), EINVAL);
    EXPECT_ERRNO(get_mempolicy((void *)8, NULL, 0, NULL, 0), EFAULT);
    EXPECT_ERRNO(get_mempolicy(&m, (void *)8, 64, NULL, 0), EFAULT);
    EXPECT_ERRNO(get_mempolicy(&m, nm, 4096 * 8 + 2, NULL, 0), EINVAL);
    nm[0] = nm[1] = nm[2] = nm[3] = ~0UL;
    m = -1;
    EXPECT_OK(get_mempolicy(&m, nm, 129, NULL, MPOL_F_MEMS_ALLOWED));
    EXPECT_EQ(m, 0);
    CHECK("the allowed nodes are node 0, the rest of 128 bits cleared",
          nm[0] == 1 && nm[1] == 0 && nm[2] == ~0UL && nm[3] == ~0UL);
    nm[0] = ~0UL;
    EXPECT_OK(get_mempolicy(NULL, nm, 1, NULL, MPOL_F_MEMS_ALLOWED));
    CHECK("a mask of maxnode 1 is not written", nm[0] == ~0UL);
    EXPECT_OK(get_mempolicy(NULL, NULL, 0, NULL, 0));
}

static void mappings(void) {
    NOTE("mbind and MPOL_F_ADDR");
    unsigned long n0 = 1, n1 = 2;
    char *p = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int m = -1;
    unsigned long nm = ~0UL;
    EXPECT_OK(get_mempolicy(&m, &nm, 64, p, MPOL_F_ADDR));
    CHECK("a new mapping has the default policy", m == MPOL_DEFAULT && nm == 0);
    EXPECT_ERRNO(mbind(p + 1, 4096, MPOL_BIND, &n0, 64, 0), EINVAL);
    EXPECT_ERRNO(mbind(p, 4096, MPOL_BIND, &n0, 64, 8), EINVAL);
    EXPECT_ERRNO(mbind(p, 4096, MPOL_BIND, &n1, 64, 0), EINVAL);
    EXPECT_ERRNO(mbind(p, 4096, 9, &n0, 64, 0), EINVAL);
    EXPECT_ERRNO(mbind(p, 4096, MPOL_BIND, (void *)8, 64, 0), EFAULT);
    EXPECT_ERRNO(mbind(p, -8192UL, MPOL_BIND, &n0, 64, 0), EINVAL);
    EXPECT_EQ(mbind(p, 0, MPOL_BIND, &n0, 64, 0), 0);
    EXPECT_OK(mbind(p + 4096, 8192, MPOL_BIND, &n0, 64, MPOL_MF_STRICT | MPOL_MF_MOVE));
    EXPECT_OK(get_mempolicy(&m, &nm, 64, p + 4096, MPOL_F_ADDR));
    CHECK("the range has the bound policy", m == MPOL_BIND && nm == 1);
    EXPECT_OK(get_mempolicy(&m, &nm, 64, p + 3 * 4096 - 1, MPOL_F_ADDR));
    CHECK("up to its last byte", m == MPOL_BIND && nm == 1);
    EXPECT_OK(get_mempolicy(&m, &nm, 64, p, MPOL_F_ADDR));
    CHECK("the page before keeps the default", m == MPOL_DEFAULT && nm == 0);
    EXPECT_OK(get_mempolicy(&m, &nm, 64, p + 3 * 4096, MPOL_F_ADDR));
    CHECK("the page after keeps the default", m == MPOL_DEFAULT && nm == 0);
    EXPECT_OK(mbind(p + 4096, 4096, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, &n0, 64, 0));
    EXPECT_OK(get_mempolicy(&m, &nm, 64, p + 4096, MPOL_F_ADDR));
    CHECK("a second mbind replaces the first", m == (MPOL_INTERLEAVE | MPOL_F_STATIC_NODES));
    // The thread's policy does not show through a mapping's.
    EXPECT_OK(set_mempolicy(MPOL_PREFERRED, &n0, 64));
    EXPECT_OK(get_mempolicy(&m, NULL, 0, p, MPOL_F_ADDR));
    EXPECT_EQ(m, MPOL_DEFAULT);
    EXPECT_OK(set_mempolicy(MPOL_DEFAULT, NULL, 0));
    m = -1;
    p[4096 * 5] = 1;
    EXPECT_OK(get_mempolicy(&m, NULL, 0, p + 4096 * 5, MPOL_F_ADDR | MPOL_F_NODE));
    EXPECT_EQ(m, 0);

    NOTE("holes");
    EXPECT_OK(munmap(p + 6 * 4096, 4096));
    EXPECT_ERRNO(get_mempolicy(&m, NULL, 0, p + 6 * 4096, MPOL_F_ADDR), EFAULT);
    EXPECT_ERRNO(mbind(p + 5 * 4096, 3 * 4096, MPOL_BIND, &n0, 64, 0), EFAULT);
    EXPECT_ERRNO(mbind(p + 6 * 4096, 4096, MPOL_BIND, &n0, 64, 0), EFAULT);
    EXPECT_ERRNO(mbind(p + 6 * 4096, 4096, MPOL_DEFAULT, NULL, 0, 0), EFAULT);
    EXPECT_OK(mbind(p + 5 * 4096, 3 * 4096, MPOL_DEFAULT, NULL, 0, 0));
    EXPECT_OK(mbind(p, 8 * 4096, MPOL_DEFAULT, NULL, 0, 0));
    EXPECT_OK(get_mempolicy(&m, NULL, 0, p + 4096, MPOL_F_ADDR));
    EXPECT_EQ(m, MPOL_DEFAULT);

    NOTE("set_mempolicy_home_node");
    EXPECT_ERRNO(home_node(p + 1, 4096, 0, 0), EINVAL);
    EXPECT_ERRNO(home_node(p, 4096, 0, 1), EINVAL);
    EXPECT_ERRNO(home_node(p, 4096, 1, 0), EINVAL);
    EXPECT_ERRNO(home_node(p, 4096, 5000, 0), EINVAL);
    EXPECT_ERRNO(home_node(p, -8192UL, 0, 0), EINVAL);
    EXPECT_EQ(home_node(p, 0, 0, 0), 0);
    EXPECT_ERRNO(home_node(p, 4096, 0, 0), ENOENT);
    EXPECT_ERRNO(home_node(p + 6 * 4096, 4096, 0, 0), ENOENT);
    EXPECT_OK(mbind(p + 4096, 4096, MPOL_BIND, &n0, 64, 0));
    EXPECT_OK(mbind(p + 2 * 4096, 4096, MPOL_PREFERRED, &n0, 64, 0));
    EXPECT_EQ(home_node(p, 2 * 4096, 0, 0), 0);
    EXPECT_ERRNO(home_node(p, 4 * 4096, 0, 0), EOPNOTSUPP);
    EXPECT_OK(mbind(p + 2 * 4096, 4096, MPOL_PREFERRED_MANY, &n0, 64, 0));
    EXPECT_EQ(home_node(p, 8 * 4096, 0, 0), 0);
    EXPECT_OK(get_mempolicy(&m, &nm, 64, p + 4096, MPOL_F_ADDR));
    CHECK("the home node does not change the policy", m == MPOL_BIND && nm == 1);
    munmap(p, 8 * 4096);

    NOTE("a mapping without access");
    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_ERRNO(get_mempolicy(&m, NULL, 0, none, MPOL_F_ADDR | MPOL_F_NODE), EFAULT);
    EXPECT_OK(mbind(none, 4096, MPOL_BIND, &n0, 64, 0));
    EXPECT_EQ(home_node(none, 4096, 0, 0), 0);
    munmap(none, 4096);
}

static void migration(void) {
    NOTE("migrate_pages and move_pages");
    unsigned long n0 = 1, n1 = 2, none = 0;
    EXPECT_EQ(syscall(SYS_migrate_pages, 0, 64, &n0, &n0), 0);
    EXPECT_EQ(syscall(SYS_migrate_pages, getpid(), 64, &n0, &n0), 0);
    EXPECT_ERRNO(syscall(SYS_migrate_pages, 0, 64, &n0, &none), EINVAL);
    EXPECT_ERRNO(syscall(SYS_migrate_pages, 0, 64, (void *)8, &n0), EFAULT);
    EXPECT_ERRNO(syscall(SYS_migrate_pages, 0, 64, &n0, (void *)8), EFAULT);
    EXPECT_ERRNO(syscall(SYS_migrate_pages, 0, 4096 * 8 + 2, &n0, &n0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_migrate_pages, 99999, 64, &n0, &n0), ESRCH);
    (void)n1;

    char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
    p[4096] = 1;
    p[2 * 4096] = 1;
    EXPECT_OK(mprotect(p + 2 * 4096, 4096, PROT_NONE));
    EXPECT_OK(munmap(p + 3 * 4096, 4096));
    void *pages[4] = {p, p + 4096 + 100, p + 2 * 4096, p + 3 * 4096};
    int status[4] = {-99, -99, -99, -99};
    EXPECT_EQ(syscall(SYS_move_pages, 0, 4, pages, NULL, status, 0), 0);
    CHECK("status: node 0, node 0, no page, nothing mapped",
          status[0] == 0 && status[1] == 0 && status[3] == -EFAULT);
    int to[4] = {0, 0, 0, 0};
    memset(status, 0x55, sizeof status);
    EXPECT_EQ(syscall(SYS_move_pages, 0, 4, pages, to, status, MPOL_MF_MOVE), 0);
    CHECK("moved to node 0: node 0, node 0, -, nothing mapped",
          status[0] == 0 && status[1] == 0 && status[3] == -EFAULT);
    to[1] = 1;
    memset(status, 0x55, sizeof status);
    EXPECT_ERRNO(syscall(SYS_move_pages, 0, 4, pages, to, status, MPOL_MF_MOVE), ENODEV);
    CHECK("the pages before the bad node have their status",
          status[0] == 0 && status[1] == 0x55555555);
    to[1] = -1;
    EXPECT_ERRNO(syscall(SYS_move_pages, 0, 4, pages, to, status, 0), ENODEV);
    to[1] = 0;
    EXPECT_ERRNO(syscall(SYS_move_pages, 0, 4, pages, to, status, 8), EINVAL);
    EXPECT_ERRNO(syscall(SYS_move_pages, 0, 4, (void *)8, NULL, status, 0), EFAULT);
    EXPECT_ERRNO(syscall(SYS_move_pages, 0, 4, pages, NULL, (void *)8, 0), EFAULT);
    EXPECT_ERRNO(syscall(SYS_move_pages, 99999, 4, pages, NULL, status, 0), ESRCH);
    EXPECT_EQ(syscall(SYS_move_pages, 0, 0, NULL, NULL, NULL, 0), 0);
    munmap(p, 3 * 4096);
}

static void shadow_stack(void) {
    NOTE("map_shadow_stack without user shadow stacks");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int shstk = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) == 0 && strstr(line, " user_shstk")) {
            shstk = 1;
        }
    }
    if (f) {
        fclose(f);
    }
    CHECK("no user_shstk in /proc/cpuinfo", !shstk);
    // Natively this host's kernel is built without CONFIG_X86_USER_SHADOW_STACK: the call is
    // ENOSYS. The sandbox declares a kernel with the option on a CPU without the feature,
    // which Linux answers with EOPNOTSUPP before it looks at any argument.
    int want = in_sandbox() ? EOPNOTSUPP : ENOSYS;
    long r = syscall(453, 0, 4096, 1);
    guest_report(r == -1 && errno == want, "map_shadow_stack(0, 4096, SET_TOKEN) fails", "got %ld %s",
                 r, errno_name(errno));
    r = syscall(453, 0, 4096, 0xff);
    guest_report(r == -1 && errno == want, "map_shadow_stack with bad flags fails the same",
                 "got %ld %s", r, errno_name(errno));
}

struct lsm_ctx {
    uint64_t id;
    uint64_t flags;
    uint64_t len;
    uint64_t ctx_len;
    uint8_t ctx[];
};

static void lsm(void) {
    NOTE("the LSM calls");
    uint64_t ids[64];
    uint32_t size = 0;
    EXPECT_ERRNO(syscall(461, ids, &size, 1), EINVAL);
    EXPECT_ERRNO(syscall(461, ids, NULL, 0), EFAULT);
    size = 0;
    EXPECT_ERRNO(syscall(461, ids, &size, 0), E2BIG);
    CHECK("the size needed is a whole number of ids", size >= 8 && size % 8 == 0);
    uint32_t need = size;
    size = sizeof ids;
    long n = syscall(461, ids, &size, 0);
    CHECK("lsm_list_modules returns as many ids as the size says", n > 0 && size == need &&
                                                                       (uint32_t)n * 8 == size);
    int cap = 0;
    for (long i = 0; i < n && i < 64; i++) {
        cap |= ids[i] == 100;
    }
    CHECK("capabilities are among them", cap);
    size = need;
    EXPECT_ERRNO(syscall(461, (void *)8, &size, 0), EFAULT);

    // No module answers for capabilities' attributes.
    char buf[256];
    struct lsm_ctx *c = (struct lsm_ctx *)buf;
    memset(buf, 0, sizeof buf);
    size = sizeof buf;
    EXPECT_ERRNO(syscall(459, 0, buf, &size, 0), EINVAL);
    EXPECT_ERRNO(syscall(459, 1, buf, NULL, 0), EINVAL);
    EXPECT_ERRNO(syscall(459, 1, buf, (void *)8, 0), EFAULT);
    EXPECT_ERRNO(syscall(459, 1, buf, &size, 2), EINVAL);
    EXPECT_ERRNO(syscall(459, 1, NULL, &size, 1), EINVAL);
    c->id = 0;
    EXPECT_ERRNO(syscall(459, 1, buf, &size, 1), EINVAL);
    c->id = 100;
    size = sizeof buf;
    EXPECT_ERRNO(syscall(459, 1, buf, &size, 1), EOPNOTSUPP);
    EXPECT_EQ(size, 0);

    c->id = 100;
    c->flags = 0;
    c->ctx_len = 4;
    c->len = sizeof *c + 4;
    EXPECT_ERRNO(syscall(460, 1, buf, sizeof *c + 4, 1), EINVAL);
    EXPECT_ERRNO(syscall(460, 1, buf, sizeof *c - 1, 0), EINVAL);
    EXPECT_ERRNO(syscall(460, 1, buf, 4097, 0), E2BIG);
    EXPECT_ERRNO(syscall(460, 1, (void *)8, sizeof *c + 4, 0), EFAULT);
    EXPECT_ERRNO(syscall(460, 1, buf, sizeof *c + 2, 0), EINVAL);
    c->len = sizeof *c + 2;
    EXPECT_ERRNO(syscall(460, 1, buf, sizeof *c + 4, 0), EINVAL);
    c->len = sizeof *c + 4;
    EXPECT_ERRNO(syscall(460, 1, buf, sizeof *c + 4, 0), EOPNOTSUPP);
    c->ctx_len = ~0ULL;
    EXPECT_ERRNO(syscall(460, 1, buf, sizeof *c + 4, 0), EINVAL);
}

static void remote_memory(void) {
    NOTE("process_madvise and process_mrelease");
    char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 7, 4 * 4096);
    EXPECT_OK(munmap(p + 2 * 4096, 4096));
    int go[2];
    EXPECT_OK(pipe(go));
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        read(go[0], &c, 1);
        _exit(p[0] == 7 ? 0 : 1);
    }
    close(go[0]);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    CHECK("pidfds open", pfd >= 0 && self >= 0);
    struct iovec iov[3] = {{p, 4096}, {p + 4096, 4096}, {p + 2 * 4096, 4096}};
    EXPECT_EQ(syscall(SYS_process_madvise, pfd, iov, 2, MADV_COLD, 0), 8192);
    EXPECT_EQ(syscall(SYS_process_madvise, pfd, iov, 2, MADV_PAGEOUT, 0), 8192);
    EXPECT_EQ(syscall(SYS_process_madvise, pfd, iov, 1, MADV_WILLNEED, 0), 4096);
    EXPECT_EQ(syscall(SYS_process_madvise, pfd, iov, 3, MADV_COLD, 0), 8192);
    EXPECT_ERRNO(syscall(SYS_process_madvise, pfd, iov + 2, 1, MADV_COLD, 0), ENOMEM);
    EXPECT_ERRNO(syscall(SYS_process_madvise, pfd, iov, 2, MADV_DONTNEED, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_process_madvise, pfd, iov, 2, MADV_COLD, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_process_madvise, pfd, (void *)8, 2, MADV_COLD, 0), EFAULT);
    EXPECT_ERRNO(syscall(SYS_process_madvise, pfd, iov, 1025, MADV_COLD, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_process_madvise, go[1], iov, 2, MADV_COLD, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_process_madvise, 999, iov, 2, MADV_COLD, 0), EBADF);
    struct iovec odd = {p + 1, 4096};
    EXPECT_ERRNO(syscall(SYS_process_madvise, pfd, &odd, 1, MADV_COLD, 0), EINVAL);
    EXPECT_EQ(syscall(SYS_process_madvise, pfd, iov, 0, MADV_COLD, 0), 0);
    // On itself any advice: MADV_DONTNEED drops the page's contents.
    EXPECT_EQ(syscall(SYS_process_madvise, self, iov + 1, 1, MADV_DONTNEED, 0), 4096);
    EXPECT_EQ(p[4096], 0);
    EXPECT_EQ(p[0], 7);

    EXPECT_ERRNO(syscall(SYS_process_mrelease, pfd, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_process_mrelease, pfd, 1), EINVAL);
    EXPECT_ERRNO(syscall(SYS_process_mrelease, go[1], 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_process_mrelease, self, 0), EINVAL);
    write(go[1], "x", 1);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("the child still saw its memory", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_ERRNO(syscall(SYS_process_mrelease, pfd, 0), ESRCH);
    EXPECT_ERRNO(syscall(SYS_process_madvise, pfd, iov, 2, MADV_COLD, 0), ESRCH);
    close(pfd);
    close(self);
    close(go[1]);
    munmap(p, 2 * 4096);
    munmap(p + 3 * 4096, 4096);
}

int main(void) {
    CHECK("one NUMA node", nodes() == 1);
    policies();
    mappings();
    migration();
    shadow_stack();
    lsm();
    remote_memory();
    return guest_done();
}
