// SPDX-License-Identifier: Apache-2.0
//! The network modes of `sandbox run`, against servers and clients on the host: what each
//! mode lets through and what it keeps out. (The socket calls themselves are checked
//! differentially by the guests; these checks have no native counterpart.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::{sandbox_bin, sandbox_command};

/// A TCP server on the host's loopback that answers every connection with `reply`.
fn host_server(reply: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a host server");
    let port = l.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(reply.as_bytes());
        }
    });
    port
}

/// A python3 client connecting to HOST:PORT and printing what it reads, or the error's name.
fn client(host: &str, port: u16) -> String {
    format!(
        "import socket\ntry:\n s = socket.create_connection(('{host}', {port}), timeout=10)\n \
         print(s.recv(100).decode().strip())\nexcept OSError as e:\n print(type(e).__name__)\n"
    )
}

#[test]
fn none_keeps_the_host_loopback_out() {
    let port = host_server("hello from the host\n");
    let out = sandbox_command(["run", "python3", "-c", &client("127.0.0.1", port)]);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "ConnectionRefusedError\n", "{out}");
}

#[test]
fn none_shows_loopback_only() {
    let out = sandbox_command(["run", "ip", "-o", "link"]);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    assert!(out.stdout.starts_with("1: lo: "), "{out}");
}

#[test]
fn host_mode_client_reaches_a_host_server() {
    let port = host_server("hello from the host\n");
    let out = sandbox_command([
        "run",
        "--network",
        "host",
        "python3",
        "-c",
        &client("127.0.0.1", port),
    ]);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "hello from the host\n", "{out}");
}

/// Starts `sandbox run ARGS python3 -c SERVER`, where the server prints its port and then
/// answers one connection with "hello from inside"; returns the child and the port.
fn inside_server(args: &[&str], bind: &str, port: u16) -> (std::process::Child, u16) {
    let script = format!(
        "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{bind}', {port}))\ns.listen(1)\nprint(s.getsockname()[1], flush=True)\n\
         c, a = s.accept()\nc.sendall(b'hello from inside\\n')\nc.close()\n"
    );
    let mut cmd = Command::new(sandbox_bin());
    cmd.arg("run").args(args).args(["python3", "-c", &script]);
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().expect("starting the sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("piped"))
        .read_line(&mut line)
        .expect("reading the port");
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("port line {line:?}"));
    (child, port)
}

fn fetch(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connecting from the host");
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut got = String::new();
    s.read_to_string(&mut got).expect("reading");
    got
}

#[test]
fn host_mode_server_is_reached_from_the_host() {
    let (mut child, port) = inside_server(&["--network", "host"], "127.0.0.1", 0);
    assert_eq!(fetch(port), "hello from inside\n");
    assert!(child.wait().expect("waiting").success());
}

#[test]
fn bad_network_options_are_refused() {
    for args in [
        vec!["run", "--publish", "80:80", "/bin/true"],
        vec![
            "run",
            "--network",
            "sandbox",
            "--publish",
            "80",
            "/bin/true",
        ],
        vec!["run", "--allow-host-loopback", "/bin/true"],
        vec!["run", "--network", "wifi", "/bin/true"],
        vec!["run", "--host-uds", "maybe", "/bin/true"],
    ] {
        let out = sandbox_command(&args);
        assert_eq!(out.status, 2, "{args:?}: {out}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out}");
    }
}
