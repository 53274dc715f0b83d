// SPDX-License-Identifier: Apache-2.0
//
// System V IPC: message queues (types, MSG_EXCEPT, MSG_NOERROR, MSG_COPY, IPC_NOWAIT, a
// receiver woken by another process, EINTR, EIDRM), semaphores (atomic semop, the semctl
// commands, SEM_UNDO at exit, semtimedop's timeout, ERANGE/EFBIG/E2BIG), shared memory (shared
// across fork, shmdt, IPC_RMID while attached, SHM_RDONLY, SHM_RND, SHM_REMAP), permissions
// against another uid, the /proc/sys/kernel limits and /proc/sysvipc.
//
// Natively the guest first enters a new IPC namespace (it runs as root), so that the objects
// and /proc/sysvipc it sees are its own, as in the sandbox (whose namespace is the sandbox's;
// there unshare(CLONE_NEWIPC) is refused and ignored here).

#include "guest.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

struct mbuf {
    long mtype;
    char mtext[256];
};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void on_alarm(int sig) {
    (void)sig;
}

// Arms a one-shot SIGALRM in `ms` milliseconds, with a handler installed with SA_RESTART
// (System V IPC waits end with EINTR all the same).
static void alarm_in(int ms) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    // Periodic, so that a wait entered late (a loaded machine) is still interrupted.
    struct itimerval it = {{ms / 1000, (ms % 1000) * 1000}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void alarm_off(void) {
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
}

// Waits until process `pid` sleeps (state S in /proc/<pid>/stat), after it said (on `ready`)
// that it is about to block: so that what follows finds it waiting, however loaded the machine.
static void wait_blocked(pid_t pid, int ready) {
    char b;
    if (read(ready, &b, 1) != 1) {
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 1000; i++) {
        char buf[512] = {0};
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            const char *p = n > 0 ? strrchr(buf, ')') : NULL;
            if (p != NULL && p[1] == ' ' && p[2] == 'S') {
                sleep_ms(20);
                return;
            }
        }
        sleep_ms(5);
    }
}

static pid_t fork_flushed(void) {
    fflush(stdout);
    return fork();
}

// The exit status of child `pid` (-1 if it did not exit normally; 128+sig if killed).
static int wait_code(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        return -1;
    }
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return -1;
}

static long read_long(const char *path) {
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static int write_str(const char *path, const char *s) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void test_msg(void) {
    NOTE("message queues");
    key_t key = 0x5151;
    EXPECT_ERRNO(msgget(key, 0600), ENOENT);
    int q = EXPECT_OK(msgget(key, IPC_CREAT | 0600));
    EXPECT_EQ(msgget(key, 0), q);
    EXPECT_EQ(msgget(key, IPC_CREAT | 0600), q);
    EXPECT_ERRNO(msgget(key, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
    int q2 = EXPECT_OK(msgget(IPC_PRIVATE, 0600));
    EXPECT_NE(q2, q);

    struct mbuf m;
    for (int i = 1; i <= 3; i++) {
        m.mtype = i;
        snprintf(m.mtext, sizeof m.mtext, "message %d", i);
        EXPECT_OK(msgsnd(q, &m, strlen(m.mtext) + 1, 0));
    }
    m.mtype = 0;
    EXPECT_ERRNO(msgsnd(q, &m, 4, 0), EINVAL);
    EXPECT_ERRNO(msgsnd(q, &m, 9000, 0), EINVAL);
    EXPECT_ERRNO(msgsnd(-1, &m, 4, 0), EINVAL);
    EXPECT_ERRNO(msgsnd(q, (void *)8, 4, 0), EFAULT);

    struct msqid_ds ds;
    EXPECT_OK(msgctl(q, IPC_STAT, &ds));
    EXPECT_EQ(ds.msg_qnum, 3);
    EXPECT_EQ(ds.msg_cbytes, 30);
    EXPECT_EQ(ds.msg_qbytes, 16384);
    EXPECT_EQ(ds.msg_lspid, getpid());
    EXPECT_EQ(ds.msg_lrpid, 0);
    EXPECT_EQ(ds.msg_perm.mode, 0600);
    EXPECT_EQ(ds.msg_perm.__key, key);
    EXPECT_EQ(ds.msg_perm.uid, geteuid());
    EXPECT_TRUE(ds.msg_ctime != 0 && ds.msg_stime != 0 && ds.msg_rtime == 0);

    // A copy without taking it (MSG_COPY needs IPC_NOWAIT and no MSG_EXCEPT).
    EXPECT_ERRNO(msgrcv(q, &m, sizeof m.mtext, 1, MSG_COPY), EINVAL);
    EXPECT_EQ(msgrcv(q, &m, sizeof m.mtext, 1, MSG_COPY | IPC_NOWAIT), 10);
    EXPECT_EQ(m.mtype, 2);
    EXPECT_ERRNO(msgrcv(q, &m, sizeof m.mtext, 5, MSG_COPY | IPC_NOWAIT), ENOMSG);

    // By type: exactly, the lowest up to |type|, any but, the first.
    EXPECT_EQ(msgrcv(q, &m, sizeof m.mtext, 3, IPC_NOWAIT), 10);
    EXPECT_STREQ(m.mtext, "message 3");
    EXPECT_ERRNO(msgrcv(q, &m, sizeof m.mtext, 3, IPC_NOWAIT), ENOMSG);
    EXPECT_EQ(msgrcv(q, &m, sizeof m.mtext, 1, MSG_EXCEPT | IPC_NOWAIT), 10);
    EXPECT_EQ(m.mtype, 2);
    m.mtype = 7;
    strcpy(m.mtext, "seven");
    EXPECT_OK(msgsnd(q, &m, 6, 0));
    EXPECT_EQ(msgrcv(q, &m, sizeof m.mtext, -8, IPC_NOWAIT), 10);
    EXPECT_EQ(m.mtype, 1);
    // Too small a buffer: E2BIG and the message stays; MSG_NOERROR truncates it.
    EXPECT_ERRNO(msgrcv(q, &m, 3, 0, IPC_NOWAIT), E2BIG);
    memset(m.mtext, 0, sizeof m.mtext);
    EXPECT_EQ(msgrcv(q, &m, 3, 0, IPC_NOWAIT | MSG_NOERROR), 3);
    EXPECT_STREQ(m.mtext, "sev");
    EXPECT_ERRNO(msgrcv(q, &m, sizeof m.mtext, 0, IPC_NOWAIT), ENOMSG);
    EXPECT_ERRNO(msgrcv(q, &m, (size_t)-1, 0, IPC_NOWAIT), EINVAL);
    EXPECT_OK(msgctl(q, IPC_STAT, &ds));
    EXPECT_EQ(ds.msg_qnum, 0);
    EXPECT_EQ(ds.msg_cbytes, 0);
    EXPECT_EQ(ds.msg_lrpid, getpid());

    // A full queue: EAGAIN with IPC_NOWAIT.
    ds.msg_qbytes = 16;
    EXPECT_OK(msgctl(q, IPC_SET, &ds));
    m.mtype = 1;
    EXPECT_OK(msgsnd(q, &m, 10, IPC_NOWAIT));
    EXPECT_ERRNO(msgsnd(q, &m, 10, IPC_NOWAIT), EAGAIN);
    EXPECT_OK(msgrcv(q, &m, sizeof m.mtext, 0, IPC_NOWAIT));

    NOTE("a blocked receiver and sender");
    pid_t pid = fork_flushed();
    if (pid == 0) {
        sleep_ms(100);
        struct mbuf c = {42, "from the child"};
        _exit(msgsnd(q, &c, 15, 0) == 0 ? 0 : 1);
    }
    memset(&m, 0, sizeof m);
    EXPECT_EQ(msgrcv(q, &m, sizeof m.mtext, 42, 0), 15);
    EXPECT_STREQ(m.mtext, "from the child");
    EXPECT_EQ(wait_code(pid), 0);
    // A sender blocked on a full queue wakes when a receiver makes room.
    m.mtype = 1;
    EXPECT_OK(msgsnd(q, &m, 16, 0));
    pid = fork_flushed();
    if (pid == 0) {
        struct mbuf c = {2, "x"};
        _exit(msgsnd(q, &c, 8, 0) == 0 ? 0 : 1);
    }
    sleep_ms(100);
    EXPECT_EQ(msgrcv(q, &m, sizeof m.mtext, 1, 0), 16);
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_EQ(msgrcv(q, &m, sizeof m.mtext, 2, IPC_NOWAIT), 8);

    // A signal ends the wait with EINTR, SA_RESTART or not.
    alarm_in(100);
    EXPECT_ERRNO(msgrcv(q, &m, sizeof m.mtext, 0, 0), EINTR);
    alarm_off();

    // Removing the queue wakes its waiters with EIDRM.
    int ready[2];
    EXPECT_OK(pipe(ready));
    pid = fork_flushed();
    if (pid == 0) {
        struct mbuf c;
        write(ready[1], "r", 1);
        ssize_t r = msgrcv(q, &c, sizeof c.mtext, 0, 0);
        _exit(r == -1 && errno == EIDRM ? 0 : 1);
    }
    wait_blocked(pid, ready[0]);
    close(ready[0]);
    close(ready[1]);
    EXPECT_OK(msgctl(q, IPC_RMID, NULL));
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_ERRNO(msgctl(q, IPC_STAT, &ds), EINVAL);
    EXPECT_ERRNO(msgsnd(q, &m, 4, 0), EINVAL);
    EXPECT_ERRNO(msgget(key, 0), ENOENT);
    EXPECT_ERRNO(msgctl(q2, 99, &ds), EINVAL);
    EXPECT_ERRNO(msgctl(q2, IPC_STAT, (void *)8), EFAULT);

    struct msginfo mi;
    int maxidx = EXPECT_OK(msgctl(0, IPC_INFO, (struct msqid_ds *)&mi));
    EXPECT_GE(maxidx, 0);
    EXPECT_EQ(mi.msgmax, read_long("/proc/sys/kernel/msgmax"));
    EXPECT_EQ(mi.msgmnb, read_long("/proc/sys/kernel/msgmnb"));
    EXPECT_EQ(mi.msgmni, read_long("/proc/sys/kernel/msgmni"));
    EXPECT_OK(msgctl(0, MSG_INFO, (struct msqid_ds *)&mi));
    EXPECT_EQ(mi.msgpool, 1);

    // The limits: root may change them, for the namespace only.
    EXPECT_OK(write_str("/proc/sys/kernel/msgmax", "100\n"));
    EXPECT_EQ(read_long("/proc/sys/kernel/msgmax"), 100);
    EXPECT_ERRNO(msgsnd(q2, &m, 101, 0), EINVAL);
    EXPECT_OK(msgsnd(q2, &m, 100, 0));
    EXPECT_ERRNO(write_str("/proc/sys/kernel/msgmax", "-1\n"), EINVAL);
    EXPECT_OK(write_str("/proc/sys/kernel/msgmax", "8192\n"));
    EXPECT_OK(msgctl(q2, IPC_RMID, NULL));
}

static void test_sem(void) {
    NOTE("semaphores");
    key_t key = 0x5252;
    EXPECT_ERRNO(semget(key, 3, 0600), ENOENT);
    EXPECT_ERRNO(semget(key, 0, IPC_CREAT | 0600), EINVAL);
    EXPECT_ERRNO(semget(key, -1, IPC_CREAT | 0600), EINVAL);
    EXPECT_ERRNO(semget(key, 40000, IPC_CREAT | 0600), EINVAL);
    int s = EXPECT_OK(semget(key, 3, IPC_CREAT | 0600));
    EXPECT_EQ(semget(key, 2, 0), s);
    EXPECT_EQ(semget(key, 0, 0), s);
    EXPECT_ERRNO(semget(key, 4, 0), EINVAL);
    EXPECT_ERRNO(semget(key, 3, IPC_CREAT | IPC_EXCL), EEXIST);

    struct semid_ds ds;
    union semun arg = {.buf = &ds};
    EXPECT_OK(semctl(s, 0, IPC_STAT, arg));
    EXPECT_EQ(ds.sem_nsems, 3);
    EXPECT_EQ(ds.sem_perm.mode, 0600);
    EXPECT_EQ(ds.sem_otime, 0);

    arg.val = 5;
    EXPECT_OK(semctl(s, 0, SETVAL, arg));
    EXPECT_EQ(semctl(s, 0, GETVAL), 5);
    EXPECT_EQ(semctl(s, 0, GETPID), getpid());
    arg.val = 32768;
    EXPECT_ERRNO(semctl(s, 0, SETVAL, arg), ERANGE);
    arg.val = -1;
    EXPECT_ERRNO(semctl(s, 0, SETVAL, arg), ERANGE);
    arg.val = 1;
    EXPECT_ERRNO(semctl(s, 3, SETVAL, arg), EINVAL);
    EXPECT_ERRNO(semctl(s, -1, GETVAL), EINVAL);
    unsigned short vals[3] = {1, 2, 3};
    arg.array = vals;
    EXPECT_OK(semctl(s, 0, SETALL, arg));
    unsigned short got[3] = {0};
    arg.array = got;
    EXPECT_OK(semctl(s, 0, GETALL, arg));
    EXPECT_TRUE(got[0] == 1 && got[1] == 2 && got[2] == 3);
    vals[1] = 40000;
    arg.array = vals;
    EXPECT_ERRNO(semctl(s, 0, SETALL, arg), ERANGE);
    arg.array = (void *)8;
    EXPECT_ERRNO(semctl(s, 0, GETALL, arg), EFAULT);
    EXPECT_ERRNO(semctl(s, 0, 99), EINVAL);

    NOTE("semop");
    // All or nothing: the second operation would block, so the first is not done either.
    struct sembuf ops[2] = {{0, -1, 0}, {1, -5, IPC_NOWAIT}};
    EXPECT_ERRNO(semop(s, ops, 2), EAGAIN);
    EXPECT_EQ(semctl(s, 0, GETVAL), 1);
    ops[1].sem_op = -2;
    EXPECT_OK(semop(s, ops, 2));
    EXPECT_EQ(semctl(s, 0, GETVAL), 0);
    EXPECT_EQ(semctl(s, 1, GETVAL), 0);
    // In order: +1 then -1 on the same semaphore.
    struct sembuf seq[2] = {{1, 1, 0}, {1, -1, 0}};
    EXPECT_OK(semop(s, seq, 2));
    struct sembuf zero = {0, 0, IPC_NOWAIT};
    EXPECT_OK(semop(s, &zero, 1));
    zero.sem_num = 2;
    EXPECT_ERRNO(semop(s, &zero, 1), EAGAIN);
    struct sembuf big = {5, 1, 0};
    EXPECT_ERRNO(semop(s, &big, 1), EFBIG);
    EXPECT_ERRNO(semop(s, &big, 0), EINVAL);
    static struct sembuf many[600];
    EXPECT_ERRNO(semop(s, many, 600), E2BIG);
    EXPECT_ERRNO(semop(s, (void *)8, 1), EFAULT);
    arg.val = 32767;
    EXPECT_OK(semctl(s, 2, SETVAL, arg));
    struct sembuf inc = {2, 1, 0};
    EXPECT_ERRNO(semop(s, &inc, 1), ERANGE);
    EXPECT_OK(semctl(s, 0, IPC_STAT, (union semun){.buf = &ds}));
    EXPECT_NE(ds.sem_otime, 0);

    // semtimedop's timeout.
    struct sembuf dec = {0, -1, 0};
    struct timespec ts = {0, 50 * 1000 * 1000};
    EXPECT_ERRNO(semtimedop(s, &dec, 1, &ts), EAGAIN);
    ts.tv_nsec = 2000000000L;
    EXPECT_ERRNO(semtimedop(s, &dec, 1, &ts), EINVAL);
    // A signal: EINTR.
    alarm_in(100);
    EXPECT_ERRNO(semop(s, &dec, 1), EINTR);
    alarm_off();

    NOTE("waiters: GETNCNT, GETZCNT, wake-up by another process");
    pid_t pid = fork_flushed();
    if (pid == 0) {
        struct sembuf d = {0, -2, 0};
        _exit(semop(s, &d, 1) == 0 ? 0 : 1);
    }
    int n = 0;
    for (int i = 0; i < 200 && n == 0; i++) {
        sleep_ms(10);
        n = semctl(s, 0, GETNCNT);
    }
    EXPECT_EQ(n, 1);
    EXPECT_EQ(semctl(s, 0, GETZCNT), 0);
    struct sembuf up = {0, 1, 0};
    EXPECT_OK(semop(s, &up, 1));
    sleep_ms(50);
    EXPECT_EQ(semctl(s, 0, GETNCNT), 1);
    EXPECT_OK(semop(s, &up, 1));
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_EQ(semctl(s, 0, GETVAL), 0);
    EXPECT_EQ(semctl(s, 0, GETPID), pid);
    EXPECT_EQ(semctl(s, 0, GETNCNT), 0);

    arg.val = 1;
    EXPECT_OK(semctl(s, 1, SETVAL, arg));
    pid = fork_flushed();
    if (pid == 0) {
        struct sembuf z = {1, 0, 0};
        _exit(semop(s, &z, 1) == 0 ? 0 : 1);
    }
    n = 0;
    for (int i = 0; i < 200 && n == 0; i++) {
        sleep_ms(10);
        n = semctl(s, 1, GETZCNT);
    }
    EXPECT_EQ(n, 1);
    struct sembuf down1 = {1, -1, 0};
    EXPECT_OK(semop(s, &down1, 1));
    EXPECT_EQ(wait_code(pid), 0);

    NOTE("SEM_UNDO");
    arg.val = 5;
    EXPECT_OK(semctl(s, 2, SETVAL, arg));
    pid = fork_flushed();
    if (pid == 0) {
        struct sembuf u[2] = {{2, -3, SEM_UNDO}, {1, 4, SEM_UNDO}};
        if (semop(s, u, 2) != 0) {
            _exit(1);
        }
        _exit(semctl(s, 2, GETVAL) == 2 && semctl(s, 1, GETVAL) == 4 ? 0 : 2);
    }
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_EQ(semctl(s, 2, GETVAL), 5);
    EXPECT_EQ(semctl(s, 1, GETVAL), 0);
    EXPECT_EQ(semctl(s, 2, GETPID), pid);
    // SETVAL forgets the adjustment.
    pid = fork_flushed();
    if (pid == 0) {
        struct sembuf u = {2, 2, SEM_UNDO};
        semop(s, &u, 1);
        union semun a = {.val = 1};
        semctl(s, 2, SETVAL, a);
        _exit(0);
    }
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_EQ(semctl(s, 2, GETVAL), 1);
    // Undoing below zero stops at zero.
    pid = fork_flushed();
    if (pid == 0) {
        struct sembuf u = {2, 3, SEM_UNDO};
        semop(s, &u, 1);
        union semun a = {.val = 0};
        struct sembuf d = {2, -4, 0};
        semop(s, &d, 1);
        (void)a;
        _exit(0);
    }
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_EQ(semctl(s, 2, GETVAL), 0);

    NOTE("removal");
    pid = fork_flushed();
    if (pid == 0) {
        struct sembuf d = {0, -1, 0};
        int r = semop(s, &d, 1);
        _exit(r == -1 && errno == EIDRM ? 0 : 1);
    }
    for (int i = 0; i < 400 && semctl(s, 0, GETNCNT) != 1; i++) {
        sleep_ms(5);
    }
    EXPECT_OK(semctl(s, 0, IPC_RMID));
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_ERRNO(semctl(s, 0, GETVAL), EINVAL);
    EXPECT_ERRNO(semop(s, &up, 1), EINVAL);

    struct seminfo si;
    EXPECT_OK(semctl(0, 0, IPC_INFO, (union semun){.__buf = &si}));
    EXPECT_EQ(si.semvmx, 32767);
    EXPECT_EQ(si.semmsl, 32000);
    EXPECT_EQ(si.semopm, 500);
    EXPECT_OK(semctl(0, 0, SEM_INFO, (union semun){.__buf = &si}));
    EXPECT_EQ(si.semusz, 0);
}

static void test_shm(void) {
    NOTE("shared memory");
    key_t key = 0x5353;
    EXPECT_ERRNO(shmget(key, 4096, 0600), ENOENT);
    EXPECT_ERRNO(shmget(key, 0, IPC_CREAT | 0600), EINVAL);
    int m = EXPECT_OK(shmget(key, 10000, IPC_CREAT | 0600));
    EXPECT_EQ(shmget(key, 5000, 0), m);
    EXPECT_EQ(shmget(key, 0, 0), m);
    EXPECT_ERRNO(shmget(key, 20000, 0), EINVAL);
    EXPECT_ERRNO(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST);

    struct shmid_ds ds;
    EXPECT_OK(shmctl(m, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_segsz, 10000);
    EXPECT_EQ(ds.shm_nattch, 0);
    EXPECT_EQ(ds.shm_cpid, getpid());
    EXPECT_EQ(ds.shm_lpid, 0);
    EXPECT_EQ(ds.shm_atime, 0);
    EXPECT_EQ(ds.shm_perm.mode, 0600);

    char *p = EXPECT_OK(shmat(m, NULL, 0));
    EXPECT_EQ((uintptr_t)p % 4096, 0);
    EXPECT_EQ(p[0], 0);
    strcpy(p, "parent");
    EXPECT_OK(shmctl(m, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_nattch, 1);
    EXPECT_EQ(ds.shm_lpid, getpid());
    EXPECT_NE(ds.shm_atime, 0);

    // Shared with a forked child, both ways; the child's attachment counts while it lives.
    int go[2], done[2];
    EXPECT_OK(pipe(go));
    EXPECT_OK(pipe(done));
    pid_t pid = fork_flushed();
    if (pid == 0) {
        int ok = strcmp(p, "parent") == 0;
        strcpy(p + 100, "child");
        struct shmid_ds c;
        ok = ok && shmctl(m, IPC_STAT, &c) == 0 && c.shm_nattch == 2;
        char b = 1;
        write(done[1], &b, 1);
        read(go[0], &b, 1);
        ok = ok && strcmp(p + 200, "again") == 0;
        _exit(ok ? 0 : 1);
    }
    char b;
    EXPECT_EQ(read(done[0], &b, 1), 1);
    EXPECT_STREQ(p + 100, "child");
    strcpy(p + 200, "again");
    EXPECT_EQ(write(go[1], &b, 1), 1);
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_OK(shmctl(m, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_nattch, 1);
    EXPECT_EQ(ds.shm_lpid, pid);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);

    // /proc/self/maps names the mapping as Linux does.
    char want[64];
    snprintf(want, sizeof want, "/SYSV%08x (deleted)", key);
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int seen = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, want) != NULL && strstr(line, " rw-s ") != NULL) {
            seen = 1;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    CHECK("/proc/self/maps shows /SYSV<key> (deleted)", seen);

    // A second attachment, read-only: writes fault, mprotect cannot make it writable.
    char *r = EXPECT_OK(shmat(m, NULL, SHM_RDONLY));
    EXPECT_STREQ(r, "parent");
    EXPECT_ERRNO(mprotect(r, 4096, PROT_READ | PROT_WRITE), EACCES);
    pid = fork_flushed();
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        r[0] = 'x';
        _exit(0);
    }
    EXPECT_EQ(wait_code(pid), 128 + SIGSEGV);
    EXPECT_OK(shmctl(m, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_nattch, 2);
    EXPECT_OK(shmdt(r));
    EXPECT_ERRNO(shmdt(r), EINVAL);
    EXPECT_ERRNO(shmdt(p + 1), EINVAL);

    // At a given address: SHM_RND rounds down, an unaligned address without it is EINVAL, an
    // occupied range EINVAL unless SHM_REMAP.
    char *hole = mmap(NULL, 8 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole, 8 * 4096);
    EXPECT_ERRNO(shmat(m, hole + 123, 0), EINVAL);
    char *at = EXPECT_OK(shmat(m, hole + 123, SHM_RND));
    EXPECT_TRUE(at == hole);
    EXPECT_STREQ(at + 200, "again");
    EXPECT_ERRNO(shmat(m, hole, 0), EINVAL);
    EXPECT_ERRNO(shmat(m, NULL, SHM_REMAP), EINVAL);
    char *again = EXPECT_OK(shmat(m, hole, SHM_REMAP));
    EXPECT_TRUE(again == hole);
    EXPECT_OK(shmdt(hole));
    EXPECT_ERRNO(shmat(-1, NULL, 0), EINVAL);
    EXPECT_ERRNO(shmat(m + 1, NULL, 0), EINVAL);

    // Removed while attached: still there, key IPC_PRIVATE, SHM_DEST; gone at the last detach.
    EXPECT_OK(shmctl(m, IPC_RMID, NULL));
    EXPECT_OK(shmctl(m, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
    EXPECT_EQ(ds.shm_perm.mode, 0600 | SHM_DEST);
    EXPECT_EQ(ds.shm_nattch, 1);
    EXPECT_ERRNO(shmget(key, 4096, 0600), ENOENT);
    EXPECT_STREQ(p, "parent");
    EXPECT_OK(shmdt(p));
    EXPECT_ERRNO(shmctl(m, IPC_STAT, &ds), EINVAL);

    // Segments go with exit too.
    m = EXPECT_OK(shmget(IPC_PRIVATE, 4096, 0600));
    pid = fork_flushed();
    if (pid == 0) {
        char *c = shmat(m, NULL, 0);
        _exit(c == (void *)-1 ? 1 : 0);
    }
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_OK(shmctl(m, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_nattch, 0);
    EXPECT_EQ(ds.shm_lpid, pid);
    EXPECT_OK(shmctl(m, SHM_LOCK, NULL));
    EXPECT_OK(shmctl(m, IPC_STAT, &ds));
    EXPECT_EQ(ds.shm_perm.mode, 0600 | SHM_LOCKED);
    EXPECT_OK(shmctl(m, SHM_UNLOCK, NULL));
    EXPECT_ERRNO(shmctl(m, 99, &ds), EINVAL);
    EXPECT_ERRNO(shmctl(m, IPC_STAT, (void *)8), EFAULT);
    EXPECT_OK(shmctl(m, IPC_RMID, NULL));
    EXPECT_ERRNO(shmctl(m, IPC_STAT, &ds), EINVAL);

    struct shminfo si;
    EXPECT_OK(shmctl(0, IPC_INFO, (struct shmid_ds *)&si));
    EXPECT_EQ(si.shmmni, read_long("/proc/sys/kernel/shmmni"));
    EXPECT_EQ(si.shmmin, 1);
    struct shm_info sinfo;
    EXPECT_OK(shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo));
    EXPECT_EQ(sinfo.used_ids, 0);
}

static void test_perms(void) {
    NOTE("another user");
    int q = EXPECT_OK(msgget(0x6161, IPC_CREAT | 0600));
    int s = EXPECT_OK(semget(0x6262, 1, IPC_CREAT | 0640));
    int m = EXPECT_OK(shmget(0x6363, 4096, IPC_CREAT | 0604));
    pid_t pid = fork_flushed();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
            _exit(100);
        }
        int code = 0;
        struct mbuf mb = {1, "x"};
        // Asking for no permission finds the queue; asking for some is checked.
        if (msgget(0x6161, 0) != q) code |= 1;
        if (!(msgget(0x6161, 0600) == -1 && errno == EACCES)) code |= 1;
        if (!(msgsnd(q, &mb, 1, IPC_NOWAIT) == -1 && errno == EACCES)) code |= 2;
        if (!(msgctl(q, IPC_RMID, NULL) == -1 && errno == EPERM)) code |= 4;
        if (!(semget(0x6262, 1, 0600) == -1 && errno == EACCES)) code |= 8;
        if (!(shmat(m, NULL, 0) == (void *)-1 && errno == EACCES)) code |= 16;
        void *ro = shmat(m, NULL, SHM_RDONLY);
        if (ro == (void *)-1) code |= 32;
        struct shmid_ds d;
        if (shmctl(m, IPC_STAT, &d) != 0) code |= 64;
        _exit(code);
    }
    EXPECT_EQ(wait_code(pid), 0);
    EXPECT_OK(msgctl(q, IPC_RMID, NULL));
    EXPECT_OK(semctl(s, 0, IPC_RMID));
    EXPECT_OK(shmctl(m, IPC_RMID, NULL));
}

// Finds the line of /proc/sysvipc/<kind> whose key is `key`; returns its fields.
static int sysvipc_row(const char *kind, int key, long *fields, int max, char *header, size_t hn) {
    char path[64];
    snprintf(path, sizeof path, "/proc/sysvipc/%s", kind);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[512];
    int n = -1;
    if (fgets(line, sizeof line, f) != NULL) {
        snprintf(header, hn, "%s", line);
    }
    while (fgets(line, sizeof line, f) != NULL) {
        long v[20];
        int k = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \n", &save); t != NULL && k < 20;
             t = strtok_r(NULL, " \n", &save)) {
            int base = k == 2 ? 8 : 10;
            v[k++] = strtol(t, NULL, base);
        }
        if (k > 0 && v[0] == key) {
            n = k < max ? k : max;
            memcpy(fields, v, sizeof(long) * n);
        }
    }
    fclose(f);
    return n;
}

static void test_proc(void) {
    NOTE("/proc/sysvipc");
    int q = EXPECT_OK(msgget(0x7171, IPC_CREAT | 0640));
    struct mbuf mb = {3, "hello"};
    EXPECT_OK(msgsnd(q, &mb, 6, 0));
    EXPECT_OK(msgsnd(q, &mb, 4, 0));
    int s = EXPECT_OK(semget(0x7272, 4, IPC_CREAT | 0600));
    int m = EXPECT_OK(shmget(0x7373, 12345, IPC_CREAT | 0666));
    void *p = EXPECT_OK(shmat(m, NULL, 0));

    long v[20];
    char header[256];
    EXPECT_EQ(sysvipc_row("msg", 0x7171, v, 20, header, sizeof header), 14);
    EXPECT_STREQ(header, "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n");
    EXPECT_TRUE(v[1] == q && v[2] == 0640 && v[3] == 10 && v[4] == 2 && v[5] == getpid() &&
                v[6] == 0 && v[7] == (long)geteuid() && v[8] == (long)getegid());
    EXPECT_EQ(sysvipc_row("sem", 0x7272, v, 20, header, sizeof header), 10);
    EXPECT_STREQ(header, "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n");
    EXPECT_TRUE(v[1] == s && v[2] == 0600 && v[3] == 4 && v[4] == (long)geteuid() && v[8] == 0);
    EXPECT_EQ(sysvipc_row("shm", 0x7373, v, 20, header, sizeof header), 16);
    EXPECT_STREQ(header, "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n");
    EXPECT_TRUE(v[1] == m && v[2] == 0666 && v[3] == 12345 && v[4] == getpid() &&
                v[5] == getpid() && v[6] == 1 && v[12] == 0 && v[15] == 0);

    // The exact text of a row whose fields are all known.
    char want[256];
    snprintf(want, sizeof want, "%10d %10d  %4o %10u %5u %5u %5u %5u ", 0x7272, s, 0600, 4,
             geteuid(), getegid(), geteuid(), getegid());
    FILE *f = fopen("/proc/sysvipc/sem", "r");
    char line[256];
    int found = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, want, strlen(want)) == 0) {
            found = 1;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    CHECK("a /proc/sysvipc/sem row as Linux formats it", found);

    EXPECT_OK(shmdt(p));
    EXPECT_OK(msgctl(q, IPC_RMID, NULL));
    EXPECT_OK(semctl(s, 0, IPC_RMID));
    EXPECT_OK(shmctl(m, IPC_RMID, NULL));
    EXPECT_EQ(sysvipc_row("shm", 0x7373, v, 20, header, sizeof header), -1);
}

int main(void) {
    // A namespace of our own natively; the sandbox's is already (refused there).
    int r = unshare(CLONE_NEWIPC);
    if (r != 0 && !in_sandbox()) {
        printf("# unshare(CLONE_NEWIPC) failed natively: %s\n", errno_name(errno));
        return 1;
    }
    test_msg();
    test_sem();
    test_shm();
    test_perms();
    test_proc();
    return guest_done();
}
