// SPDX-License-Identifier: Apache-2.0
//! `--host-uds open` (issue 9): a host unix socket reached through a volume or the default
//! view is connected by the gofer and carried by the sandbox's socket; without the option it
//! refuses the connection, as runsc does. Host servers (threads of this test, or a python3 for
//! seqpacket) against python3 clients in the sandbox.

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use tests::{execute, require_tool, sandbox_bin, sandbox_command, Outcome};

const PYTHON: &str = "/usr/bin/python3";

/// A fresh directory for one test's sockets (sun_path must stay short: under the workspace's
/// target directory, named after the test).
fn scratch(name: &str) -> PathBuf {
    let dir = tests::workspace_root()
        .join("target")
        .join(format!("uds-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("making the socket directory");
    dir
}

/// A host stream server at `path` that echoes each connection until its end of file, then
/// closes it; it reports what each connection sent, and whether it saw the end of file.
fn echo_server(path: &Path, connections: usize) -> mpsc::Receiver<(Vec<u8>, bool)> {
    let l = UnixListener::bind(path).expect("binding the host socket");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut c, _)) = l.accept() else { return };
            let _ = c.set_read_timeout(Some(Duration::from_secs(20)));
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            let eof = loop {
                match c.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if c.write_all(&buf[..n]).is_err() {
                            break false;
                        }
                    }
                    Err(_) => break false,
                }
            };
            let _ = tx.send((got, eof));
        }
    });
    rx
}

/// `sandbox run OPTIONS python3 -c SCRIPT`.
fn run_python(options: &[&str], script: &str) -> Outcome {
    require_tool(PYTHON);
    let mut args: Vec<&str> = vec!["run"];
    args.extend_from_slice(options);
    args.extend_from_slice(&[PYTHON, "-c", script]);
    sandbox_command(args)
}

/// A client that connects to PATH, shows the peer's name, sends, half-closes and reads the
/// echo to its end; or prints the connect's error.
fn stream_client(path: &str) -> String {
    format!(
        r#"
import socket, select
c = socket.socket(socket.AF_UNIX)
try:
    c.connect("{path}")
except OSError as e:
    print(type(e).__name__, e.errno)
    raise SystemExit(0)
print("peer", c.getpeername(), "name", repr(c.getsockname()))
p = select.poll()
p.register(c, select.POLLIN)
print("readable before", p.poll(0))
c.sendall(b"hello from inside " * 1000)
c.shutdown(socket.SHUT_WR)
print("readable after", bool(p.poll(10000)[0][1] & select.POLLIN))
out = b""
while True:
    d = c.recv(65536)
    if not d:
        break
    out += d
print(len(out), out[:18])
c.close()
"#
    )
}

const STREAM_OUT: &str = "peer /sock/s name ''\nreadable before []\nreadable after True\n\
                          18000 b'hello from inside '\n";

#[test]
fn stream_echo_through_a_volume() {
    let dir = scratch("stream");
    let seen = echo_server(&dir.join("s"), 1);
    let vol = format!("{}:/sock", dir.display());
    let out = run_python(
        &["-v", &vol, "--host-uds", "open"],
        &stream_client("/sock/s"),
    );
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, STREAM_OUT, "{out}");
    let (got, eof) = seen
        .recv_timeout(Duration::from_secs(10))
        .expect("the host server saw the connection");
    assert_eq!(got, b"hello from inside ".repeat(1000));
    assert!(eof, "the host server saw the half-close");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refused_without_host_uds_open() {
    let dir = scratch("refused");
    let _seen = echo_server(&dir.join("s"), 1);
    let vol = format!("{}:/sock", dir.display());
    for extra in [&[][..], &["--host-uds", "none"][..]] {
        let mut opts = vec!["-v", vol.as_str()];
        opts.extend_from_slice(extra);
        let out = run_python(&opts, &stream_client("/sock/s"));
        assert_eq!(out.status, 0, "{out}");
        assert_eq!(out.stdout, "ConnectionRefusedError 111\n", "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_read_only_volume_still_connects() {
    let dir = scratch("ro");
    let _seen = echo_server(&dir.join("s"), 1);
    let vol = format!("{}:/sock:ro", dir.display());
    let out = run_python(
        &["-v", &vol, "--host-uds", "open"],
        &stream_client("/sock/s"),
    );
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, STREAM_OUT, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_view_connects_in_the_working_directory() {
    require_tool(PYTHON);
    let dir = scratch("view");
    let _seen = echo_server(&dir.join("s"), 1);
    // The working directory is shown at its own path (read-only, through the overlay); the
    // socket is named relative to it.
    let mut cmd = Command::new(sandbox_bin());
    cmd.current_dir(&dir)
        .args(["run", "--host-uds", "open", PYTHON, "-c"])
        .arg(stream_client("s"));
    let out = execute(cmd);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, STREAM_OUT.replace("/sock/s", "s"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_the_hosts() {
    let dir = scratch("errors");
    let _seen = echo_server(&dir.join("s"), 1);
    // A socket file nothing listens on any more, and one of another type.
    drop(UnixListener::bind(dir.join("gone")).expect("binding"));
    let vol = format!("{}:/sock", dir.display());
    let script = r#"
import socket
for ty, p in ((socket.SOCK_STREAM, "/sock/gone"), (socket.SOCK_DGRAM, "/sock/s"),
              (socket.SOCK_SEQPACKET, "/sock/s"), (socket.SOCK_STREAM, "/sock/none")):
    c = socket.socket(socket.AF_UNIX, ty)
    try:
        c.connect(p)
        print("connected")
    except OSError as e:
        print(type(e).__name__)
c = socket.socket(socket.AF_UNIX)
c.connect("/sock/s")
try:
    c.connect("/sock/s")
except OSError as e:
    print("again:", type(e).__name__)
try:
    c.listen(1)
except OSError as e:
    print("listen:", e.errno)
"#;
    let out = run_python(&["-v", &vol, "--host-uds", "open"], script);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(
        out.stdout,
        "ConnectionRefusedError\nOSError\nOSError\nFileNotFoundError\nagain: OSError\nlisten: 22\n",
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn datagrams_by_connect_and_by_address() {
    let dir = scratch("dgram");
    let host = UnixDatagram::bind(dir.join("d")).expect("binding the host socket");
    host.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    let vol = format!("{}:/sock", dir.display());
    let script = r#"
import socket
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d.connect("/sock/d")
print(d.getpeername())
d.send(b"one")
d.send(b"two")
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.sendto(b"three", "/sock/d")
u.sendto(b"four", "/sock/d")
d.connect("/sock/d")
d.send(b"five")
"#;
    let out = run_python(&["-v", &vol, "--host-uds", "open"], script);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "/sock/d\n", "{out}");
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    for _ in 0..5 {
        let n = host.recv(&mut buf).expect("a datagram");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(got, ["one", "two", "three", "four", "five"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A python3 seqpacket server on the host: each message back in upper case, `slow` after a
/// pause, `fd` with a descriptor attached.
const SEQPACKET_SERVER: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(20)
while True:
    m = c.recv(1000)
    if not m:
        break
    if m == b"slow":
        time.sleep(1)
        c.send(b"late")
    elif m == b"fd":
        socket.send_fds(c, [b"with a descriptor"], [0])
    else:
        c.send(m.upper())
print("end of file", flush=True)
"#;

#[test]
fn seqpacket_boundaries_signals_and_descriptors() {
    require_tool(PYTHON);
    let dir = scratch("seqpacket");
    let path = dir.join("q");
    let mut server = Command::new(PYTHON)
        .args(["-c", SEQPACKET_SERVER])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting the host server");
    let mut stdout = server.stdout.take().expect("its stdout");
    let mut ready = [0u8; 6];
    stdout
        .read_exact(&mut ready)
        .expect("the host server is ready");
    let vol = format!("{}:/sock", dir.display());
    let script = r#"
import errno, select, signal, socket
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.connect("/sock/q")
c.send(b"abc")
c.send(b"defgh")
print(c.recv(100), c.recv(100))
# A blocking receive interrupted by a signal whose handler returns: retried, then the reply.
signal.signal(signal.SIGALRM, lambda *a: print("alarm"))
signal.setitimer(signal.ITIMER_REAL, 0.2)
c.send(b"slow")
print(c.recv(100))
# epoll sees the reply come.
ep = select.epoll()
ep.register(c.fileno(), select.EPOLLIN)
print(ep.poll(0))
c.send(b"slow")
print(ep.poll(10)[0][1] & select.EPOLLIN != 0, c.recv(100))
c.setblocking(False)
try:
    c.recv(100)
except BlockingIOError:
    print("EAGAIN")
c.setblocking(True)
# No descriptor leaves the sandbox, none comes in.
try:
    socket.send_fds(c, [b"x"], [0])
except OSError as e:
    print("send_fds:", errno.errorcode[e.errno])
c.send(b"fd")
msg, fds, flags, _ = socket.recv_fds(c, 100, 4)
print(msg, fds, bool(flags & socket.MSG_CTRUNC))
c.shutdown(socket.SHUT_WR)
print(c.recv(100))
"#;
    let out = run_python(&["-v", &vol, "--host-uds", "open"], script);
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let _ = server.wait();
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(
        out.stdout,
        "b'ABC' b'DEFGH'\nalarm\nb'late'\n[]\nTrue b'late'\nEAGAIN\nsend_fds: EINVAL\n\
         b'with a descriptor' [] True\nb''\n",
        "{out}"
    );
    assert_eq!(rest, "end of file\n", "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn as_nobody_with_the_sandboxs_permissions() {
    require_tool(PYTHON);
    require_tool("/usr/bin/setpriv");
    // A directory nobody may reach, a socket it may write and one it may not.
    let dir = std::env::temp_dir().join(format!("sandbox-uds-nobody-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mode = |p: &Path, m: u32| {
        let mut perm = std::fs::metadata(p).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, m);
        std::fs::set_permissions(p, perm).expect("chmod");
    };
    mode(&dir, 0o755);
    let _seen = echo_server(&dir.join("s"), 1);
    mode(&dir.join("s"), 0o666);
    let _closed = echo_server(&dir.join("root-only"), 1);
    mode(&dir.join("root-only"), 0o755);
    let script = format!(
        "{}\nc = socket.socket(socket.AF_UNIX)\ntry:\n    c.connect('/sock/root-only')\n\
         except OSError as e:\n    print(type(e).__name__)\n",
        stream_client("/sock/s")
    );
    let mut cmd = Command::new("/usr/bin/setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(sandbox_bin())
    .args(["run", "-v", &format!("{}:/sock", dir.display())])
    .args(["--host-uds", "open", PYTHON, "-c", &script]);
    let out = execute(cmd);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(
        out.stdout,
        format!("{STREAM_OUT}PermissionError\n"),
        "{out}"
    );
}
