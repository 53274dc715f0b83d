// SPDX-License-Identifier: Apache-2.0
//
// Keyrings (issue 14): add_key, request_key and keyctl on the thread, process and session
// keyrings: types and their payload rules, update of a key of the same description, reads
// (short buffers), keyrings and links, search, permissions (possession lets a holder read),
// revoke, expiry, invalidate, clear, named session keyrings, inheritance by threads and
// children, and the errnos of bad arguments. It starts in a new anonymous session keyring so
// that natively nothing depends on the host's keyrings; it never runs request-key (no callout
// information), whose outcome natively depends on the host's /sbin/request-key.

#include "guest.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

typedef int32_t key_serial_t;

#define KEY_SPEC_THREAD_KEYRING -1
#define KEY_SPEC_PROCESS_KEYRING -2
#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_UPDATE 2
#define KEYCTL_REVOKE 3
#define KEYCTL_SETPERM 5
#define KEYCTL_DESCRIBE 6
#define KEYCTL_CLEAR 7
#define KEYCTL_LINK 8
#define KEYCTL_UNLINK 9
#define KEYCTL_SEARCH 10
#define KEYCTL_READ 11
#define KEYCTL_SET_TIMEOUT 15
#define KEYCTL_INVALIDATE 21
#define KEY_POS_VIEW 0x01000000
#define KEY_POS_SEARCH 0x08000000
#define KEY_POS_ALL 0x3f000000
#define KEY_USR_VIEW 0x00010000

static long add_key(const char *type, const char *desc, const void *p, size_t n, key_serial_t r) {
    return syscall(SYS_add_key, type, desc, p, n, r);
}

static long request_key(const char *type, const char *desc, const char *info, key_serial_t r) {
    return syscall(SYS_request_key, type, desc, info, r);
}

static long keyctl(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d) {
    return syscall(SYS_keyctl, op, a, b, c, d);
}

static void *thread_view(void *arg) {
    long *out = arg;
    out[0] = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0);
    if (out[0] < 0) {
        out[0] = -errno;
    }
    out[1] = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0);
    out[2] = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0);
    return NULL;
}

int main(void) {
    char buf[256];
    NOTE("a new anonymous session keyring");
    long ses = keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
    EXPECT_GT(ses, 0);
    EXPECT_EQ(keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0), ses);
    EXPECT_EQ(keyctl(KEYCTL_READ, ses, (unsigned long)buf, sizeof buf, 0), 0);

    NOTE("user keys: add, read, update by description");
    long k1 = add_key("user", "k1", "hello", 5, KEY_SPEC_SESSION_KEYRING);
    EXPECT_GT(k1, 0);
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(keyctl(KEYCTL_READ, k1, (unsigned long)buf, sizeof buf, 0), 5);
    EXPECT_STREQ(buf, "hello");
    memset(buf, 0, sizeof buf);
    // A buffer too short for the whole payload is left as it was.
    EXPECT_EQ(keyctl(KEYCTL_READ, k1, (unsigned long)buf, 2, 0), 5);
    EXPECT_STREQ(buf, "");
    EXPECT_EQ(keyctl(KEYCTL_READ, k1, 0, 0, 0), 5);
    EXPECT_EQ(add_key("user", "k1", "world!", 6, KEY_SPEC_SESSION_KEYRING), k1);
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(keyctl(KEYCTL_READ, k1, (unsigned long)buf, sizeof buf, 0), 6);
    EXPECT_STREQ(buf, "world!");
    EXPECT_OK(keyctl(KEYCTL_UPDATE, k1, (unsigned long)"again", 5, 0));
    EXPECT_EQ(keyctl(KEYCTL_READ, k1, 0, 0, 0), 5);
    memset(buf, 0, sizeof buf);
    EXPECT_EQ(keyctl(KEYCTL_DESCRIBE, k1, (unsigned long)buf, sizeof buf, 0), 21);
    EXPECT_STREQ(buf, "user;0;0;3f010000;k1");
    key_serial_t ids[4] = {0};
    EXPECT_EQ(keyctl(KEYCTL_READ, ses, (unsigned long)ids, sizeof ids, 0), 4);
    EXPECT_EQ(ids[0], k1);

    NOTE("payload rules of each type");
    EXPECT_ERRNO(add_key("user", "k", "x", 0, KEY_SPEC_SESSION_KEYRING), EINVAL);
    EXPECT_ERRNO(add_key("user", "k", NULL, 5, KEY_SPEC_SESSION_KEYRING), EFAULT);
    static char big[40000];
    EXPECT_ERRNO(add_key("user", "k", big, 32768, KEY_SPEC_SESSION_KEYRING), EINVAL);
    EXPECT_ERRNO(add_key("keyring", "r", "x", 1, KEY_SPEC_SESSION_KEYRING), EINVAL);
    EXPECT_ERRNO(add_key("logon", "nocolon", "x", 1, KEY_SPEC_SESSION_KEYRING), EINVAL);
    long lg = add_key("logon", "svc:name", "secret", 6, KEY_SPEC_SESSION_KEYRING);
    EXPECT_GT(lg, 0);
    EXPECT_ERRNO(keyctl(KEYCTL_READ, lg, (unsigned long)buf, sizeof buf, 0), EOPNOTSUPP);
    EXPECT_ERRNO(add_key("user", "", "x", 1, KEY_SPEC_SESSION_KEYRING), EINVAL);
    EXPECT_ERRNO(add_key("no_such_type", "d", "x", 1, KEY_SPEC_SESSION_KEYRING), ENODEV);
    EXPECT_ERRNO(add_key(".user", "d", "x", 1, KEY_SPEC_SESSION_KEYRING), EPERM);
    EXPECT_ERRNO(add_key("", "d", "x", 1, KEY_SPEC_SESSION_KEYRING), EINVAL);
    EXPECT_ERRNO(add_key("user", "d", "x", 1, -6), EINVAL);
    EXPECT_ERRNO(add_key("user", "d", "x", 1, -100), EINVAL);
    EXPECT_ERRNO(add_key("user", "d", "x", 1, k1), ENOTDIR);
    EXPECT_ERRNO(add_key("user", "d", "x", 1 << 20, KEY_SPEC_SESSION_KEYRING), EINVAL);
    EXPECT_ERRNO(add_key((char *)-1, "d", "x", 1, KEY_SPEC_SESSION_KEYRING), EFAULT);
    EXPECT_ERRNO(keyctl(KEYCTL_READ, 1, (unsigned long)buf, sizeof buf, 0), ENOKEY);
    EXPECT_ERRNO(keyctl(KEYCTL_REVOKE, 2, 0, 0, 0), ENOKEY);
    EXPECT_ERRNO(keyctl(9999, 0, 0, 0, 0), EOPNOTSUPP);

    NOTE("keyrings, links, search");
    long ring = add_key("keyring", "ring1", NULL, 0, KEY_SPEC_SESSION_KEYRING);
    EXPECT_GT(ring, 0);
    long k2 = add_key("user", "k2", "two", 3, ring);
    EXPECT_GT(k2, 0);
    EXPECT_OK(keyctl(KEYCTL_LINK, k1, ring, 0, 0));
    EXPECT_EQ(keyctl(KEYCTL_READ, ring, 0, 0, 0), 8);
    EXPECT_EQ(keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user",
                     (unsigned long)"k2", 0),
              k2);
    EXPECT_EQ(request_key("user", "k2", NULL, 0), k2);
    EXPECT_ERRNO(request_key("user", "absent", NULL, 0), ENOKEY);
    EXPECT_ERRNO(keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user",
                        (unsigned long)"absent", 0),
                 ENOKEY);
    EXPECT_ERRNO(keyctl(KEYCTL_LINK, ring, ring, 0, 0), EDEADLK);
    EXPECT_ERRNO(keyctl(KEYCTL_LINK, ses, ring, 0, 0), EDEADLK);
    EXPECT_OK(keyctl(KEYCTL_UNLINK, k1, ring, 0, 0));
    EXPECT_ERRNO(keyctl(KEYCTL_UNLINK, k1, ring, 0, 0), ENOENT);
    EXPECT_EQ(keyctl(KEYCTL_READ, ring, 0, 0, 0), 4);
    // A keyring that replaces one of the same description in the destination.
    long ring2 = add_key("keyring", "ring1", NULL, 0, KEY_SPEC_SESSION_KEYRING);
    EXPECT_GT(ring2, 0);
    EXPECT_NE(ring2, ring);
    // (What is left of the replaced keyring is not checked: Linux destroys it a moment later.)
    EXPECT_ERRNO(request_key("user", "k2", NULL, 0), ENOKEY);

    NOTE("permissions: a possessor may read without the read right");
    long k3 = add_key("user", "k3", "three", 5, KEY_SPEC_SESSION_KEYRING);
    EXPECT_OK(keyctl(KEYCTL_SETPERM, k3, KEY_POS_VIEW | KEY_POS_SEARCH | KEY_USR_VIEW, 0, 0));
    EXPECT_EQ(keyctl(KEYCTL_READ, k3, 0, 0, 0), 5);
    EXPECT_ERRNO(keyctl(KEYCTL_UPDATE, k3, (unsigned long)"x", 1, 0), EACCES);
    EXPECT_ERRNO(keyctl(KEYCTL_SETPERM, k3, KEY_POS_ALL, 0, 0), EACCES);
    EXPECT_ERRNO(keyctl(KEYCTL_SETPERM, k1, 0x40000000, 0, 0), EINVAL);
    EXPECT_ERRNO(keyctl(KEYCTL_UPDATE, ses, (unsigned long)"x", 1, 0), EOPNOTSUPP);

    NOTE("revoke, expiry, invalidate, clear");
    long k4 = add_key("user", "k4", "four", 4, KEY_SPEC_SESSION_KEYRING);
    EXPECT_OK(keyctl(KEYCTL_REVOKE, k4, 0, 0, 0));
    EXPECT_ERRNO(keyctl(KEYCTL_READ, k4, 0, 0, 0), EKEYREVOKED);
    EXPECT_ERRNO(keyctl(KEYCTL_REVOKE, k4, 0, 0, 0), EKEYREVOKED);
    EXPECT_ERRNO(request_key("user", "k4", NULL, 0), EKEYREVOKED);
    // A new key of a revoked one's description is a new key, not an update.
    long k4b = add_key("user", "k4", "four", 4, KEY_SPEC_SESSION_KEYRING);
    EXPECT_GT(k4b, 0);
    EXPECT_NE(k4b, k4);
    long k5 = add_key("user", "k5", "five", 4, KEY_SPEC_SESSION_KEYRING);
    EXPECT_OK(keyctl(KEYCTL_SET_TIMEOUT, k5, 1, 0, 0));
    EXPECT_EQ(keyctl(KEYCTL_READ, k5, 0, 0, 0), 4);
    usleep(1100 * 1000);
    EXPECT_ERRNO(keyctl(KEYCTL_READ, k5, 0, 0, 0), EKEYEXPIRED);
    // request_key passes over expired keys.
    EXPECT_ERRNO(request_key("user", "k5", NULL, 0), ENOKEY);
    EXPECT_ERRNO(keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user",
                        (unsigned long)"k5", 0),
                 EKEYEXPIRED);
    // (What an invalidated key leaves is not checked: Linux unlinks it a moment later.)
    EXPECT_OK(keyctl(KEYCTL_INVALIDATE, k4b, 0, 0, 0));
    EXPECT_OK(keyctl(KEYCTL_CLEAR, KEY_SPEC_SESSION_KEYRING, 0, 0, 0));
    EXPECT_EQ(keyctl(KEYCTL_READ, ses, 0, 0, 0), 0);
    EXPECT_ERRNO(request_key("user", "k3", NULL, 0), ENOKEY);

    NOTE("thread and process keyrings, threads and children");
    EXPECT_ERRNO(keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0), ENOKEY);
    EXPECT_ERRNO(keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0), ENOKEY);
    long tk = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 1, 0, 0);
    long pk = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1, 0, 0);
    EXPECT_GT(tk, 0);
    EXPECT_GT(pk, 0);
    EXPECT_EQ(keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 1, 0, 0), tk);
    long kt = add_key("user", "in-thread", "t", 1, KEY_SPEC_THREAD_KEYRING);
    EXPECT_EQ(request_key("user", "in-thread", NULL, 0), kt);
    long view[3];
    pthread_t th;
    pthread_create(&th, NULL, thread_view, view);
    pthread_join(th, NULL);
    // A new thread of a thread that has a thread keyring gets one of its own.
    EXPECT_GT(view[0], 0);
    EXPECT_NE(view[0], tk);
    EXPECT_EQ(view[1], pk);
    EXPECT_EQ(view[2], ses);
    int p[2];
    if (pipe(p) != 0) {
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        long v[3];
        thread_view(v);
        int ok = v[0] == -ENOKEY &&
                 keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0) < 0 &&
                 errno == ENOKEY && v[2] == ses;
        // The child still possesses the session keyring: it can add to it.
        ok = ok && add_key("user", "from-child", "c", 1, KEY_SPEC_SESSION_KEYRING) > 0;
        if (write(p[1], &ok, sizeof ok) != sizeof ok) {
            _exit(2);
        }
        _exit(0);
    }
    int ok = 0;
    EXPECT_EQ(read(p[0], &ok, sizeof ok), (long)sizeof ok);
    EXPECT_EQ(ok, 1);
    int status;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_GT(request_key("user", "from-child", NULL, 0), 0);

    NOTE("named session keyrings");
    char name[64];
    snprintf(name, sizeof name, "guest-keys-%d", (int)getpid());
    long named = keyctl(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)name, 0, 0, 0);
    EXPECT_GT(named, 0);
    EXPECT_NE(named, ses);
    EXPECT_EQ(keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0), named);
    snprintf(buf, sizeof buf, "keyring;0;0;3f130000;%s", name);
    char desc[128] = {0};
    EXPECT_EQ(keyctl(KEYCTL_DESCRIBE, named, (unsigned long)desc, sizeof desc, 0),
              (long)strlen(buf) + 1);
    EXPECT_STREQ(desc, buf);
    // Joining by name finds only keyrings whose owner may search them without possessing
    // them: this one (possessor rights, user view/read/link) is made again.
    long again = keyctl(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)name, 0, 0, 0);
    EXPECT_GT(again, 0);
    EXPECT_NE(again, named);
    EXPECT_ERRNO(keyctl(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)".builtin_trusted_keys", 0,
                        0, 0),
                 EPERM);

    NOTE("/proc/key-users and /proc/sys/kernel/keys");
    int fd = open("/proc/key-users", O_RDONLY);
    EXPECT_GE(fd, 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    EXPECT_GT(n, 0);
    buf[n > 0 ? n : 0] = 0;
    CHECK("root has a line", strstr(buf, "    0: ") != NULL);
    close(fd);
    fd = open("/proc/sys/kernel/keys/root_maxkeys", O_RDONLY);
    EXPECT_GE(fd, 0);
    n = read(fd, buf, sizeof buf - 1);
    EXPECT_GT(n, 0);
    close(fd);
    return guest_done();
}
