// SPDX-License-Identifier: Apache-2.0
//
// execve of static, dynamic and `#!` programs, from a forked child: argv and envp passed,
// the PID kept, close-on-exec descriptors closed, caught signals reset (ignored ones and the
// mask kept), AT_EXECFN and /proc/self/exe, exec from a non-main thread, and the errors.
//
// Usage: execve STATIC DYNAMIC, the two builds of this guest (the harness passes them). Run as
// `execve child ...`, it is the exec'd image and checks what it inherited.

#include "guest.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>

// ---- the exec'd side ----------------------------------------------------------------------

// argv: child EXPECTED_PID CLOEXEC_FD KEPT_FD EXIT_CODE
static int child_main(int argc, char **argv) {
    if (argc != 6) {
        return 100;
    }
    int code = atoi(argv[5]);
    if (getpid() != atoi(argv[2])) {
        return 101;  // The PID changed across execve.
    }
    if (fcntl(atoi(argv[3]), F_GETFD) != -1 || errno != EBADF) {
        return 102;  // A close-on-exec descriptor survived.
    }
    int kept = atoi(argv[4]);
    if (fcntl(kept, F_GETFD) != 0) {
        return 103;  // The inherited descriptor is gone or close-on-exec.
    }
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    if (sa.sa_handler != SIG_DFL) {
        return 104;  // A caught signal was not reset.
    }
    sigaction(SIGUSR2, NULL, &sa);
    if (sa.sa_handler != SIG_IGN) {
        return 105;  // An ignored signal was not kept ignored.
    }
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    if (!sigismember(&mask, SIGINT)) {
        return 106;  // The mask was not kept.
    }
    const char *env = getenv("EXECVE_TEST");
    if (env == NULL || strcmp(env, "passed") != 0 || getenv("PATH") != NULL) {
        return 107;  // The environment is exactly the envp given.
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) {
        return 108;
    }
    exe[n] = 0;
    char real[PATH_MAX];
    if (realpath((const char *)getauxval(AT_EXECFN), real) == NULL || strcmp(real, exe) != 0) {
        return 109;  // AT_EXECFN and /proc/self/exe disagree.
    }
    FILE *f = popen("true", "r");  // fork+exec from the new image works too.
    if (f == NULL || pclose(f) != 0) {
        return 110;
    }
    // Tell the parent through the kept descriptor.
    if (write(kept, "k", 1) != 1) {
        return 111;
    }
    return code;
}

// ---- the exec'ing side --------------------------------------------------------------------

static void on_usr1(int sig) {
    (void)sig;
}

static char *self_static, *self_dynamic;

// Forks a child that sets up the state to inherit and execs `path` as
// `child PID CLOEXEC KEPT CODE`; returns the wait status, and whether the child wrote to the
// kept descriptor.
static int exec_self(const char *path, int code, int *wrote) {
    int kept[2];
    if (pipe(kept) != 0) {
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(kept[0]);
        int cloexec = open("/dev/null", O_RDONLY | O_CLOEXEC);
        signal(SIGUSR1, on_usr1);
        signal(SIGUSR2, SIG_IGN);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGINT);
        sigprocmask(SIG_BLOCK, &s, NULL);
        char a_pid[16], a_cloexec[16], a_kept[16], a_code[16];
        snprintf(a_pid, sizeof a_pid, "%d", getpid());
        snprintf(a_cloexec, sizeof a_cloexec, "%d", cloexec);
        snprintf(a_kept, sizeof a_kept, "%d", kept[1]);
        snprintf(a_code, sizeof a_code, "%d", code);
        char *argv[] = {"execve", "child", a_pid, a_cloexec, a_kept, a_code, NULL};
        char *envp[] = {"EXECVE_TEST=passed", NULL};
        execve(path, argv, envp);
        _exit(120);
    }
    close(kept[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    char c = 0;
    *wrote = read(kept[0], &c, 1) == 1 && c == 'k';
    close(kept[0]);
    return st;
}

static int run_status(char *const argv[]) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static void test_exec_self(void) {
    NOTE("exec of the static build");
    int wrote = 0;
    int st = exec_self(self_static, 7, &wrote);
    CHECK("the static image ran its checks and exited with 7",
          WIFEXITED(st) && WEXITSTATUS(st) == 7);
    CHECK("it wrote to the inherited descriptor", wrote);

    NOTE("exec of the dynamic build");
    st = exec_self(self_dynamic, 8, &wrote);
    CHECK("the dynamic image ran its checks and exited with 8",
          WIFEXITED(st) && WEXITSTATUS(st) == 8);
    CHECK("it wrote to the inherited descriptor", wrote);
}

static void test_exec_shell(void) {
    NOTE("exec of /bin/sh -c");
    char *sh_exit[] = {"/bin/sh", "-c", "exit 3", NULL};
    int st = run_status(sh_exit);
    CHECK("sh -c 'exit 3' exits with 3", WIFEXITED(st) && WEXITSTATUS(st) == 3);
    char *sh_echo[] = {"/bin/sh", "-c", "echo \"# sh says $0 $1\"", "zero", "one", NULL};
    st = run_status(sh_echo);
    CHECK("sh -c echo exits with 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *sh_kill[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    st = run_status(sh_kill);
    CHECK("sh killing itself dies of SIGTERM", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    char *sh_self[] = {"/bin/sh", "-c", "\"$0\" child 0 0 0 0; echo \"# self via sh: $?\"",
                       self_static, NULL};
    st = run_status(sh_self);
    CHECK("sh ran this guest", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_scripts(void) {
    NOTE("exec of #! scripts");
    char dir[] = "/tmp/execve_XXXXXX";
    if (mkdtemp(dir) == NULL) {
        CHECK("mkdtemp", 0);
        return;
    }
    char script[64], with_arg[64], nested[64], bad_interp[64], no_magic[64];
    snprintf(script, sizeof script, "%s/script", dir);
    snprintf(with_arg, sizeof with_arg, "%s/with_arg", dir);
    snprintf(nested, sizeof nested, "%s/nested", dir);
    snprintf(bad_interp, sizeof bad_interp, "%s/bad_interp", dir);
    snprintf(no_magic, sizeof no_magic, "%s/no_magic", dir);
    struct {
        const char *path, *text;
    } files[] = {
        {script, "#!/bin/sh\necho \"# script: $# args, the last $2\"\nexit 4\n"},
        {with_arg, "#! /bin/sh -e\nfalse\necho not reached\n"},
        {nested, NULL},
        {bad_interp, "#!/nonexistent/interpreter\n"},
        {no_magic, "echo no magic\n"},
    };
    char nested_text[128];
    snprintf(nested_text, sizeof nested_text, "#!%s\n", script);
    files[2].text = nested_text;
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        int fd = open(files[i].path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
        if (fd < 0 || write(fd, files[i].text, strlen(files[i].text)) < 0) {
            CHECK("writing a script", 0);
        }
        close(fd);
    }

    char *a[] = {script, "x", "y", NULL};
    int st = run_status(a);
    CHECK("#!/bin/sh with arguments exits with 4", WIFEXITED(st) && WEXITSTATUS(st) == 4);
    char *b[] = {with_arg, NULL};
    st = run_status(b);
    CHECK("#! /bin/sh -e passes its option: exits with 1", WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char *c[] = {nested, "n", NULL};
    st = run_status(c);
    CHECK("a script whose interpreter is a script exits with 4",
          WIFEXITED(st) && WEXITSTATUS(st) == 4);

    char *none[] = {NULL};
    EXPECT_ERRNO(execve(bad_interp, none, none), ENOENT);
    EXPECT_ERRNO(execve(no_magic, none, none), ENOEXEC);
    EXPECT_OK(chmod(script, 0644));
    EXPECT_ERRNO(execve(script, none, none), EACCES);
    EXPECT_ERRNO(execve(dir, none, none), EACCES);
    char missing[80];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    EXPECT_ERRNO(execve(missing, none, none), ENOENT);
    char notdir[80];
    snprintf(notdir, sizeof notdir, "%s/x", script);
    EXPECT_ERRNO(execve(notdir, none, none), ENOTDIR);
    EXPECT_ERRNO(syscall(SYS_execve, "/bin/true", 1L, none), EFAULT);

    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        unlink(files[i].path);
    }
    rmdir(dir);
}

// ---- exec from a thread -------------------------------------------------------------------

static void *exec_from_thread(void *arg) {
    const char *path = arg;
    char a_pid[16];
    snprintf(a_pid, sizeof a_pid, "%d", getpid());
    // The new image checks only its PID and exits with 9 (kept fd and code trivially valid).
    char *argv[] = {"execve", "thread-child", a_pid, NULL};
    execv(path, argv);
    _exit(121);
}

static void *sleep_forever(void *arg) {
    (void)arg;
    for (;;) {
        pause();
    }
    return NULL;
}

static void test_exec_from_thread(void) {
    NOTE("exec from a non-main thread ends the other threads and keeps the PID");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t sleeper, execer;
        pthread_create(&sleeper, NULL, sleep_forever, NULL);
        pthread_create(&execer, NULL, exec_from_thread, self_dynamic);
        pthread_join(sleeper, NULL);
        _exit(122);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("the new image exits with 9", WIFEXITED(st) && WEXITSTATUS(st) == 9);
}

static int count_tasks(void) {
    int n = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "Threads:", 8) == 0) {
            n = atoi(line + 8);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "child") == 0) {
        if (argc == 6 && strcmp(argv[2], "0") == 0) {
            return 0;  // Run by sh: nothing inherited to check.
        }
        return child_main(argc, argv);
    }
    if (argc == 3 && strcmp(argv[1], "thread-child") == 0) {
        return getpid() == atoi(argv[2]) && count_tasks() == 1 ? 9 : 10;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: execve STATIC DYNAMIC\n");
        return 2;
    }
    self_static = argv[1];
    self_dynamic = argv[2];
    test_exec_self();
    test_exec_shell();
    test_scripts();
    test_exec_from_thread();
    return guest_done();
}
