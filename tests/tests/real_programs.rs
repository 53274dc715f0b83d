// SPDX-License-Identifier: Apache-2.0
//! Real programs, run natively and under `sandbox run`: the "done when" list of the first
//! milestone (a read-only view of the host, no fork yet). Then the checks of `sandbox` itself
//! that have no native counterpart: exit statuses for crashes and bad programs, `--strace`,
//! `sandbox syscalls`.
//!
//! Each needs its host program (python3, busybox) and fails without it.

use tests::{guest, require_tool, sandbox_command, Linkage, Outcome, Run};

/// Runs `run` both ways, checks they agree, and returns the sandboxed outcome.
fn same(run: Run) -> Outcome {
    run.compare().1
}

#[test]
fn echo_hello() {
    let out = same(Run::new("/bin/echo").arg("hello"));
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.status, 0);
}

#[test]
fn true_and_false() {
    assert_eq!(same(Run::new("/bin/true")).status, 0);
    assert_eq!(same(Run::new("/bin/false")).status, 1);
}

#[test]
fn ls_la_usr() {
    // Link counts, sizes and times are the host's own, seen through the read-only view.
    let out = same(Run::new("ls").args(["-la", "/usr"]));
    assert!(out.stdout.contains(" bin\n"), "{out}");
}

#[test]
fn cat_os_release() {
    let out = same(Run::new("cat").arg("/etc/os-release"));
    assert!(out.stdout.contains("ID="), "{out}");
}

#[test]
fn python3_sum() {
    require_tool("/usr/bin/python3");
    let out = same(Run::new("/usr/bin/python3").args(["-c", "print(sum(range(100)))"]));
    assert_eq!(out.stdout, "4950\n");
}

/// keyctl(1) from keyutils: a new session keyring handed to the shell (KEYCTL_SESSION_TO_PARENT),
/// keys added, read, searched, described, revoked and listed, the user keyrings (issue 14).
/// `--init` so that the shell is not PID 1 (Linux gives init no keyring from a child).
#[test]
fn keyctl_session_and_keys() {
    require_tool("/usr/bin/keyctl");
    let script = "keyctl new_session >/dev/null; id=$(keyctl add user mykey hello @s); \
        keyctl print $id; keyctl show @s | tail -n +2 | sed 's/^ *[0-9]*/N/'; keyctl rdescribe @s; \
        keyctl search @s user mykey >/dev/null && echo found; keyctl timeout $id 100; \
        keyctl revoke $id; keyctl print $id; keyctl list @s | sed 's/^ *[0-9][0-9]*:/N:/'; \
        echo x | keyctl padd user k2 @u >/dev/null && keyctl request user k2 >/dev/null && echo requested; \
        keyctl unlink $id @s; keyctl list @s";
    let out = same(
        Run::new("/bin/sh")
            .args(["-c", script])
            .sandbox_option("--init"),
    );
    assert!(out.stdout.starts_with("hello\n"), "{out}");
    assert!(out.stdout.contains("found\n"), "{out}");
}

/// man-db runs its decompressor and formatter children under seccomp filters of its own
/// (libseccomp, about 450 instructions each): the sentry runs them on every call of those
/// children (issue 14, seccomp inside the sandbox).
#[test]
fn man_page_under_its_seccomp_filters() {
    require_tool("/usr/bin/man");
    let dir = tests::workspace_root().join("target").join("man-seccomp");
    std::fs::create_dir_all(&dir).expect("making the page's directory");
    std::fs::write(
        dir.join("hello.1"),
        ".TH HELLO 1\n.SH NAME\nhello \\- says hello\n.SH DESCRIPTION\nA page formatted under seccomp.\n",
    )
    .expect("writing the page");
    let out = same(
        Run::new("/usr/bin/man")
            .args(["-P", "cat", "-l", "./hello.1"])
            .cwd(&dir),
    );
    assert!(out.stdout.contains("hello - says hello"), "{out}");
    assert_eq!(out.status, 0);
}

/// strace(1) inside the sandbox, on the sentry's own ptrace (issue 14): `strace -f` follows a
/// shell through vfork, execve, wait4 and its children's ends. The trace's lines are reduced to
/// the call's name (or the signal), one per call, sorted: pids, addresses and the
/// interleaving of the processes' lines legitimately differ.
#[test]
fn strace_follows_a_shell() {
    require_tool("/usr/bin/strace");
    let script = "/usr/bin/strace -f -qq -e trace=%process,write \
        sh -c 'echo hi; /bin/true; ls /nonexistent 2>/dev/null; sh -c \"exit 3\"; echo $?' \
        2>&1 >/dev/null | awk '{ sub(/^\\[pid +[0-9]+\\] /, \"\"); \
        if ($0 ~ /^<\\.\\.\\. /) next; \
        if ($0 ~ /^(---|\\+\\+\\+)/) { print $1, $2; next } \
        if (match($0, /^[a-z_0-9]+\\(/)) print substr($0, 1, RLENGTH - 1) }' | sort";
    let out = same(Run::new("/bin/sh").args(["-c", script]));
    assert!(out.stdout.contains("execve\n"), "{out}");
    assert!(out.stdout.contains("vfork\n"), "{out}");
    assert!(out.stdout.contains("exit_group\n"), "{out}");
    assert!(out.stdout.contains("--- SIGCHLD"), "{out}");
    assert_eq!(out.status, 0);
}

/// gdb(1) inside the sandbox, on the sentry's own ptrace (issue 14): `run` to a crash, then a
/// backtrace (breakpoints in the dynamic loader, single steps over them, PEEK/POKE, the
/// signal-delivery-stop of the SIGSEGV). Only the stop and the frames are compared.
#[test]
fn gdb_run_and_backtrace() {
    require_tool("/usr/bin/gdb");
    let dir = tests::workspace_root().join("target").join("gdb-crash");
    std::fs::create_dir_all(&dir).expect("making the program's directory");
    std::fs::write(
        dir.join("crash.c"),
        "#include <stdio.h>\nvoid inner(int *p) { *p = 1; }\nvoid outer(void) { inner((int *)0); }\n\
         int main(void) { puts(\"before\"); outer(); return 0; }\n",
    )
    .expect("writing the program");
    let built = std::process::Command::new("gcc")
        .args(["-g", "-O0", "-o", "crash", "crash.c"])
        .current_dir(&dir)
        .status()
        .expect("running gcc");
    assert!(built.success());
    let script = "/usr/bin/gdb -nx -batch -ex run -ex bt ./crash 2>/dev/null \
        | grep -E '^(#|Program|before)' | sed 's/0x[0-9a-f]* in //'";
    let out = same(Run::new("/bin/sh").args(["-c", script]).cwd(&dir));
    assert!(out.stdout.contains("SIGSEGV"), "{out}");
    assert!(out.stdout.contains("#2  main ()"), "{out}");
}

#[test]
fn sh_arithmetic_and_exit_status() {
    let out = same(Run::new("/bin/sh").args(["-c", "echo $((6*7)); exit 3"]));
    assert_eq!(out.stdout, "42\n");
    assert_eq!(out.status, 3);
}

#[test]
fn sh_builtins_in_a_directory() {
    let out = same(
        Run::new("/bin/sh").args(["-c", "cd /usr/include && pwd && test -d linux && echo yes"]),
    );
    assert_eq!(out.stdout, "/usr/include\nyes\n");
}

const BUSYBOX: &str = "/bin/busybox";

#[test]
fn busybox_echo() {
    require_tool(BUSYBOX);
    assert_eq!(same(Run::new(BUSYBOX).args(["echo", "hi"])).stdout, "hi\n");
}

#[test]
fn busybox_ls_usr() {
    require_tool(BUSYBOX);
    same(Run::new(BUSYBOX).args(["ls", "/usr"]));
}

#[test]
fn busybox_ls_l_etc() {
    require_tool(BUSYBOX);
    same(Run::new(BUSYBOX).args(["ls", "-l", "/etc"]));
}

#[test]
fn busybox_cat_os_release() {
    require_tool(BUSYBOX);
    same(Run::new(BUSYBOX).args(["cat", "/etc/os-release"]));
}

#[test]
fn busybox_sh() {
    require_tool(BUSYBOX);
    let out = same(Run::new(BUSYBOX).args(["sh", "-c", "echo $((6*7)); exit 5"]));
    assert_eq!(out.status, 5);
}

/// A NULL write kills the guest with SIGSEGV: 139, as a shell would report it.
fn null_deref(linkage: Linkage, sandboxed: bool) {
    let run = Run::new(guest("null_deref", linkage));
    let out = if sandboxed {
        run.compare().1
    } else {
        run.native()
    };
    assert_eq!(out.status, 139, "{out}");
    assert_eq!(out.stdout, "before the fault\n", "{out}");
}

#[test]
fn null_deref_static_native() {
    null_deref(Linkage::Static, false);
}

#[test]
fn null_deref_dynamic_native() {
    null_deref(Linkage::Dynamic, false);
}

#[test]
fn null_deref_static_sandbox() {
    null_deref(Linkage::Static, true);
}

#[test]
fn null_deref_dynamic_sandbox() {
    null_deref(Linkage::Dynamic, true);
}

/// `sandbox run` failed before the program started: one line on stderr and `status`.
fn assert_run_error(out: &Outcome, status: i32) {
    assert_eq!(out.status, status, "{out}");
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "expected exactly one line on stderr\n{out}"
    );
    assert!(out.stderr.ends_with('\n'), "{out}");
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn sandbox_missing_program_is_127() {
    assert_run_error(&sandbox_command(["run", "/nonexistent/program"]), 127);
    assert_run_error(
        &sandbox_command(["run", "no-such-program-for-sandbox-tests"]),
        127,
    );
}

#[test]
fn sandbox_unloadable_program_is_126() {
    // Not executable, a directory, and executable but not an ELF file of ours.
    assert_run_error(&sandbox_command(["run", "/etc/passwd"]), 126);
    assert_run_error(&sandbox_command(["run", "/etc"]), 126);
}

#[test]
fn sandbox_bad_option_is_2() {
    let out = sandbox_command(["run", "--no-such-option", "/bin/true"]);
    assert_eq!(out.status, 2, "{out}");
}

#[test]
fn sandbox_strace_shows_exit_group() {
    let out = sandbox_command(["run", "--strace", "/bin/true"]);
    assert_eq!(out.status, 0, "{out}");
    assert!(out.stderr.contains("exit_group"), "{out}");
    assert_eq!(out.stdout, "", "strace goes to stderr\n{out}");
}

#[test]
fn sandbox_syscalls_table() {
    let out = sandbox_command(["syscalls"]);
    assert_eq!(out.status, 0, "{out}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == "read")),
        "{out}"
    );
}

#[test]
fn sandbox_first_process_is_pid_1() {
    let out = Run::new("/bin/sh").args(["-c", "echo $$"]).sandboxed();
    assert_eq!((out.status, out.stdout.as_str()), (0, "1\n"), "{out}");
}

#[test]
fn sandbox_writes_do_not_reach_the_host() {
    // The root is the host's, read-only, under the sandbox's own upper layer (and /tmp is a
    // tmpfs of the sandbox's): the write succeeds inside and the host never sees it.
    let probe = format!("/etc/sandbox-overlay-probe-{}", std::process::id());
    let out = Run::new("/bin/sh")
        .args(["-c", &format!("echo x > {probe} && cat {probe}")])
        .sandboxed();
    let leaked = std::path::Path::new(&probe).exists();
    let _ = std::fs::remove_file(&probe);
    assert!(
        !leaked,
        "the sandboxed shell created {probe} on the host\n{out}"
    );
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "x\n", "{out}");
}

/// python3's socket.socketpair moving 70,000 bytes each way (AF_UNIX streams, issue 9).
#[test]
fn python3_socketpair() {
    require_tool("/usr/bin/python3");
    let script = r#"
import socket, threading
a, b = socket.socketpair()
data = bytes(i % 251 for i in range(70000))
def echo():
    got = b''
    while len(got) < len(data):
        got += b.recv(65536)
    b.sendall(got[::-1])
t = threading.Thread(target=echo)
t.start()
a.sendall(data)
back = b''
while len(back) < len(data):
    back += a.recv(65536)
t.join()
print(len(back), back == data[::-1])
"#;
    let out = same(Run::new("/usr/bin/python3").args(["-c", script]));
    assert_eq!(out.stdout, "70000 True\n", "{out}");
}

/// An HTTP server on a unix socket (socketserver.UnixStreamServer with http.server's handler)
/// answering http.client in the same program.
#[test]
fn python3_http_over_unix_socket() {
    require_tool("/usr/bin/python3");
    let script = r#"
import http.client, http.server, os, socket, socketserver, threading
path = '/tmp/http-unix-%d.sock' % os.getpid()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('hello from %s\n' % self.path).encode() * 1000
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
    def address_string(self):
        return 'unix'
class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
srv = Server(path, Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
for p in ['/a', '/b']:
    c = Conn('localhost')
    c.request('GET', p)
    r = c.getresponse()
    body = r.read()
    print(r.status, len(body), body.splitlines()[0].decode())
    c.close()
srv.shutdown()
srv.server_close()
os.unlink(path)
"#;
    let out = same(Run::new("/usr/bin/python3").args(["-c", script]));
    assert_eq!(
        out.stdout, "200 14000 hello from /a\n200 14000 hello from /b\n",
        "{out}"
    );
}

/// A host unix socket reached through a volume is not connectable from inside
/// (ECONNREFUSED: the sandbox's sockets are its own), while a sandbox socket bound on the
/// volume is (issue 9).
#[test]
fn sandbox_host_unix_socket_is_refused() {
    require_tool("/usr/bin/python3");
    let dir = tests::workspace_root()
        .join("target")
        .join(format!("host-uds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("making the volume directory");
    let host = dir.join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&host).expect("binding the host socket");
    let d = dir.display().to_string();
    let script = format!(
        r#"
import os, socket, stat
p = "{d}/host.sock"
print(stat.S_ISSOCK(os.lstat(p).st_mode))
c = socket.socket(socket.AF_UNIX)
try:
    c.connect(p)
    print("connected")
except OSError as e:
    print(e.errno == 111)
q = p + ".inside"
s = socket.socket(socket.AF_UNIX)
s.bind(q)
s.listen(1)
c2 = socket.socket(socket.AF_UNIX)
c2.connect(q)
a, _ = s.accept()
c2.send(b"hi")
print(a.recv(2))
os.unlink(q)
"#
    );
    let out = sandbox_command([
        "run".to_string(),
        "-v".to_string(),
        format!("{d}:{d}"),
        "/usr/bin/python3".to_string(),
        "-c".to_string(),
        script,
    ]);
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.stdout, "True\nTrue\nb'hi'\n", "{out}");
    assert_eq!(out.status, 0, "{out}");
}
