// SPDX-License-Identifier: Apache-2.0
//! Terminals: the sentry's ptys and line discipline (python's `pty`, `script`, `tty`), natively
//! and sandboxed where the two can agree, and the interactive `sandbox run` driven through a
//! real pty of the host's by a small python harness (the outer terminal): Ctrl-C, Ctrl-Z and
//! `fg`, the window size, and the outer terminal's modes after the sandbox ends.
//!
//! Each needs python3 (and `script`) on the host, and fails without them.

use std::process::Command;

use tests::{require_tool, sandbox_bin, sandbox_command, Outcome, Run};

const PYTHON: &str = "/usr/bin/python3";

/// Runs `run` both ways, checks they agree, and returns the sandboxed outcome.
fn same(run: Run) -> Outcome {
    run.compare().1
}

/// A pty opened, named and used from python: the replica's name pattern, echo, canonical
/// lines, raw mode, ISIG, window size, FIONREAD and the master's end of file.
const OPENPTY: &str = r#"
import errno, fcntl, os, pty, re, select, signal, struct, termios, tty
m, s = pty.openpty()
print("name", re.sub(r"[0-9]+$", "N", os.ttyname(s)), os.isatty(s), os.isatty(m))
a = termios.tcgetattr(s)
print("lflag", hex(a[3]), "iflag", hex(a[0]), "oflag", hex(a[1]), "vmin", a[6][termios.VMIN])
os.write(m, b"hello\rwor\x7fld\n")
print("line", os.read(s, 100))
os.write(s, b"out\n")
got = b""
while b"out" not in got:
    got += os.read(m, 100)
print("master", got)
tty.setraw(s)
os.write(m, b"ab\x03c")
select.select([s], [], [], 5)
import time; time.sleep(0.2)
print("fionread", struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\0" * 4))[0])
print("raw", os.read(s, 100))
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
print("winsize", struct.unpack("HHHH", fcntl.ioctl(s, termios.TIOCGWINSZ, b"\0" * 8))[:2])
os.close(s)
try:
    os.read(m, 10)
    print("read after close: data")
except OSError as e:
    print("read after close:", errno.errorcode[e.errno])
"#;

#[test]
fn python_openpty() {
    require_tool(PYTHON);
    let out = same(Run::new(PYTHON).args(["-c", OPENPTY]));
    assert!(out.stdout.contains("name /dev/pts/N True True"), "{out}");
    assert!(out.stdout.contains("line b'hello\\n'"), "{out}");
    assert!(out.stdout.contains("raw b'ab\\x03c'"), "{out}");
    assert!(out.stdout.contains("read after close: EIO"), "{out}");
}

#[test]
fn python_pty_spawn() {
    require_tool(PYTHON);
    let prog = "import pty, sys; \
                sys.exit(pty.spawn(['/bin/sh', '-c', 'echo spawned; tty >/dev/null && echo istty; exit 3']) >> 8)";
    let out = same(Run::new(PYTHON).args(["-c", prog]));
    assert_eq!(out.stdout, "spawned\r\nistty\r\n", "{out}");
    assert_eq!(out.status, 3, "{out}");
}

#[test]
fn script_echo() {
    require_tool("/usr/bin/script");
    let out = same(Run::new("/usr/bin/script").args(["-qc", "echo hi", "/dev/null"]));
    assert_eq!(out.stdout, "hi\r\n", "{out}");
}

#[test]
fn no_controlling_terminal_without_one() {
    // Stdin is /dev/null: not a terminal, and /dev/tty cannot be opened.
    let out = same(Run::new("/bin/sh").args([
        "-c",
        "tty; echo status $?; (exec 3</dev/tty) 2>/dev/null || echo no-tty",
    ]));
    assert_eq!(out.stdout, "not a tty\nstatus 1\nno-tty\n", "{out}");
}

#[test]
fn host_stdio_in_proc() {
    // /dev/null is /dev/null and a pipe is a pipe, as natively.
    let out = same(Run::new("/bin/sh").args([
        "-c",
        "readlink /proc/self/fd/0; readlink /proc/$$/fd/1 | sed 's/[0-9][0-9]*/N/'",
    ]));
    assert_eq!(out.stdout, "/dev/null\npipe:[N]\n", "{out}");
}

#[test]
fn tty_under_dash_t() {
    let out = sandbox_command(["run", "-t", "tty"]);
    assert_eq!(out.stdout, "/dev/pts/0\r\n", "{out}");
    assert_eq!(out.status, 0, "{out}");
    let out = sandbox_command([
        "run",
        "-t",
        "/bin/sh",
        "-c",
        "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all; readlink /proc/self/fd/0; \
         exec 3</dev/tty && echo ctty; exec 4</dev/stdin && [ -t 4 ] && echo reopened",
    ]);
    assert_eq!(
        out.stdout, "all\r\n/dev/pts/0\r\nctty\r\nreopened\r\n",
        "{out}"
    );
}

/// `sandbox run PROG | cat` typed in a terminal: stdin is a terminal, stdout a pipe; the
/// program's stdout stays that pipe, byte for byte (no pty, no CRLF), and the outer terminal's
/// modes are left alone.
const PIPED: &str = r#"
import os, subprocess, sys, termios
m, s = os.openpty()
before = termios.tcgetattr(s)
out = subprocess.run([sys.argv[1], "run", "/bin/sh", "-c", "[ -t 1 ] || echo piped; [ -t 0 ] && echo stdin-tty"],
                     stdin=s, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
print(repr(out.stdout.decode()), out.returncode, termios.tcgetattr(s) == before)
"#;

#[test]
fn piped_stdout_from_a_terminal_stays_a_pipe() {
    require_tool(PYTHON);
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg(PIPED)
        .arg(sandbox_bin())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "'piped\\nstdin-tty\\n' 0 True\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// /dev/console is the sandbox's terminal when it has one (runc bind-mounts the console pty's
/// replica there): the same node as /dev/pts/0, written to the terminal; none without.
#[test]
fn console_is_the_terminal() {
    let out = sandbox_command([
        "run",
        "-t",
        "/bin/sh",
        "-c",
        "stat -c '%d %i %t:%T %a' /dev/console /dev/pts/0 | uniq | wc -l; \
         echo to-console >/dev/console; ls /dev | grep -c '^console$'; \
         ls /dev | grep -c '^tty[0-9]'",
    ]);
    assert_eq!(out.stdout, "1\r\nto-console\r\n1\r\n0\r\n", "{out}");
    let out = sandbox_command([
        "run",
        "--no-tty",
        "/bin/sh",
        "-c",
        "[ -e /dev/console ] || echo none; ls /dev | grep -c '^console$'",
    ]);
    assert_eq!(out.stdout, "none\n0\n", "{out}");
}

/// `--no-tty` with a host terminal as stdin: the program sees the host's pty for what it is,
/// the host's /dev/pts/N in /proc/self/fd, which is not the sandbox's: `tty` finds no name
/// (ENODEV from glibc's ttyname), as in a runc container that inherits a host pty.
const HOST_PTY: &str = r#"
import os, subprocess, sys
m, s = os.openpty()
name = os.ttyname(s)
out = subprocess.run([sys.argv[1], "run", "--no-tty", "/bin/sh", "-c",
                      "tty; readlink /proc/self/fd/0; [ -t 0 ] && echo isatty"],
                     stdin=s, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
print(repr(out.stdout.decode().replace(name, "HOST")), out.returncode)
"#;

#[test]
fn no_tty_with_a_host_terminal() {
    require_tool(PYTHON);
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg(HOST_PTY)
        .arg(sandbox_bin())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "'not a tty\\nHOST\\nisatty\\n' 0\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_tty_keeps_host_stdio() {
    let out = sandbox_command(["run", "--no-tty", "/bin/sh", "-c", "tty; echo x"]);
    assert_eq!(out.stdout, "not a tty\nx\n", "{out}");
}

/// The outer terminal: runs `sandbox run ARGS` on a new pty of the host's (its session leader,
/// the pty its controlling terminal), then the scenario named by argv[2], which talks to it.
/// Prints what it checked; exits non-zero with the transcript on any failure.
const HARNESS: &str = r#"
import fcntl, os, select, signal, struct, subprocess, sys, termios, time
sandbox, scenario = sys.argv[1], sys.argv[2]
m, s = os.openpty()
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
before = termios.tcgetattr(s)
def ctty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
env = dict(os.environ, PS1="ready> ", TERM="dumb")
p = subprocess.Popen([sandbox, "run", "--host-root", "--", "/bin/bash", "--norc", "--noprofile", "-i"],
                     stdin=s, stdout=s, stderr=s, start_new_session=True, preexec_fn=ctty, env=env)
buf = b""
def fail(msg):
    print("FAIL", msg, "\n--- transcript tail ---\n", buf[-1500:].decode(errors="replace"))
    p.kill()
    sys.exit(1)
def expect(pat, timeout=20):
    global buf
    pat = pat.encode()
    end = time.time() + timeout
    while pat not in buf:
        left = end - time.time()
        if left <= 0:
            fail("timed out waiting for %r" % pat)
        r, _, _ = select.select([m], [], [], left)
        if r:
            try:
                d = os.read(m, 4096)
            except OSError:
                fail("the terminal closed waiting for %r" % pat)
            buf += d
    i = buf.index(pat) + len(pat)
    out, buf = buf[:i], buf[i:]
    return out
def send(b):
    os.write(m, b.encode())
expect("ready> ")
if scenario == "ctrl_c":
    send("sleep 100\r")
    expect("sleep 100")
    time.sleep(0.5)
    t = time.time()
    send("\x03")
    expect("ready> ")
    took = time.time() - t
    if took > 5:
        fail("Ctrl-C took %.1fs" % took)
    send("echo status=$?\r")
    expect("status=130")
    expect("ready> ")
    print("ctrl-c ok")
elif scenario == "ctrl_z":
    send("sleep 100\r")
    expect("sleep 100")
    time.sleep(0.5)
    send("\x1a")
    expect("Stopped")
    expect("ready> ")
    send("jobs -l\r")
    expect("Stopped")
    expect("ready> ")
    send("fg\r")
    expect("sleep 100")
    time.sleep(0.5)
    send("\x03")
    expect("ready> ")
    send("echo after=$?\r")
    expect("after=130")
    expect("ready> ")
    print("ctrl-z ok")
elif scenario == "winsize":
    send("stty size\r")
    expect("40 120")
    expect("ready> ")
    fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
    time.sleep(1)
    send("stty size\r")
    expect("50 132")
    expect("ready> ")
    send("tty\r")
    expect("/dev/pts/0")
    expect("ready> ")
    print("winsize ok")
elif scenario == "kill9":
    send("kill -9 $$\r")
elif scenario == "exit":
    send("exit 7\r")
else:
    fail("no scenario " + scenario)
if scenario in ("kill9", "exit"):
    want = 137 if scenario == "kill9" else 7
else:
    send("exit 5\r")
    want = 5
try:
    rc = p.wait(20)
except subprocess.TimeoutExpired:
    fail("the sandbox did not exit")
if rc != want:
    fail("exit status %d, wanted %d" % (rc, want))
after = termios.tcgetattr(s)
if after != before:
    fail("the outer terminal's modes changed: %r -> %r" % (before, after))
print("status", rc, "modes restored")
"#;

fn harness(scenario: &str) {
    require_tool(PYTHON);
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg(HARNESS)
        .arg(sandbox_bin())
        .arg(scenario)
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scenario {scenario}:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("modes restored"), "{stdout}\n{stderr}");
}

#[test]
fn interactive_ctrl_c_stops_the_foreground_job() {
    harness("ctrl_c");
}

#[test]
fn interactive_ctrl_z_and_fg() {
    harness("ctrl_z");
}

#[test]
fn interactive_window_size_follows_the_outer_terminal() {
    harness("winsize");
}

#[test]
fn interactive_exit_restores_the_outer_terminal() {
    harness("exit");
}

#[test]
fn interactive_kill_9_restores_the_outer_terminal() {
    harness("kill9");
}
