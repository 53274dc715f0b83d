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
        vec![
            "run",
            "--network",
            "sandbox",
            "--publish",
            "8080:80/sctp",
            "/bin/true",
        ],
    ] {
        let out = sandbox_command(&args);
        assert_eq!(out.status, 2, "{args:?}: {out}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out}");
    }
}

#[test]
fn sandbox_mode_reaches_the_host_loopback_only_when_allowed() {
    let port = host_server("hello from the host\n");
    let run = |extra: &[&str], host: &str| {
        let mut args = vec!["run", "--network", "sandbox"];
        args.extend_from_slice(extra);
        let script = client(host, port);
        args.extend_from_slice(&["python3", "-c", &script]);
        let out = sandbox_command(&args);
        assert_eq!(out.status, 0, "{out}");
        out.stdout
    };
    // The gateway is the host's loopback when the user allows it...
    assert_eq!(
        run(&["--allow-host-loopback"], "10.0.2.2"),
        "hello from the host\n"
    );
    // ...and refused otherwise, as is the host's own address.
    assert_eq!(run(&[], "10.0.2.2"), "ConnectionRefusedError\n");
    // The sandbox's loopback is its own.
    assert_eq!(
        run(&["--allow-host-loopback"], "127.0.0.1"),
        "ConnectionRefusedError\n"
    );
}

#[test]
fn sandbox_mode_shows_eth0_and_a_default_route() {
    let out = sandbox_command([
        "run",
        "--network",
        "sandbox",
        "sh",
        "-c",
        "ip -o -4 addr show dev eth0; ip route",
    ]);
    assert_eq!(out.status, 0, "{out}");
    assert!(out.stdout.contains("eth0    inet 10.0.2.100/24"), "{out}");
    assert!(
        out.stdout.contains("default via 10.0.2.2 dev eth0"),
        "{out}"
    );
}

/// A host TCP server that echoes each connection until its EOF, then closes it.
fn host_echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a host server");
    let port = l.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = c.try_clone().expect("clone");
                let mut w = c;
                let _ = std::io::copy(&mut r, &mut w);
                let _ = w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// Runs a python3 script under `--network sandbox --allow-host-loopback`; its output, once it
/// exited 0.
fn python_reaching_the_host(script: &str) -> String {
    let out = sandbox_command([
        "run",
        "--network",
        "sandbox",
        "--allow-host-loopback",
        "python3",
        "-c",
        script,
    ]);
    assert_eq!(out.status, 0, "{out}");
    out.stdout
}

/// Megabytes each way between the sandbox and the host through a bridged connection, with a
/// half-close: what comes back is what went.
#[test]
fn sandbox_mode_bulk_both_ways_with_a_half_close() {
    let port = host_echo_server();
    let script = format!(
        "import socket, threading, hashlib\n\
         s = socket.create_connection(('10.0.2.2', {port}), timeout=60)\n\
         print(s.getsockname()[0], s.getpeername())\n\
         data = bytes(range(256)) * (4 * 4096 + 7)\n\
         def send():\n    s.sendall(data)\n    s.shutdown(socket.SHUT_WR)\n\
         t = threading.Thread(target=send)\nt.start()\n\
         got = bytearray()\n\
         while True:\n    b = s.recv(1 << 16)\n    if not b: break\n    got += b\n\
         t.join()\n\
         print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())\n"
    );
    assert_eq!(
        python_reaching_the_host(&script),
        format!("10.0.2.100 ('10.0.2.2', {port})\n4196096 True\n")
    );
}

#[test]
fn sandbox_mode_udp_to_the_host_and_back() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding");
    let port = sock.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = sock.send_to(&reply, from);
        }
    });
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.settimeout(20)\ns.sendto(b'ping', ('10.0.2.2', {port}))\n\
         data, src = s.recvfrom(100)\nprint(data.decode(), src)\n"
    );
    assert_eq!(
        python_reaching_the_host(&script),
        format!("echo:ping ('10.0.2.2', {port})\n")
    );
}

/// A port free on the host's loopback (bound and released: the test binds it right after).
fn free_host_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn sandbox_mode_published_port_is_reached_from_the_host() {
    let host_port = free_host_port();
    let publish = format!("{host_port}:8080");
    let (mut child, port) = inside_server(
        &["--network", "sandbox", "--publish", &publish],
        "0.0.0.0",
        8080,
    );
    assert_eq!(port, 8080);
    assert_eq!(fetch(host_port), "hello from inside\n");
    assert!(child.wait().expect("waiting").success());
}

#[test]
fn sandbox_mode_published_port_with_nothing_listening_closes_the_connection() {
    let host_port = free_host_port();
    let publish = format!("{host_port}:8080");
    let mut child = Command::new(sandbox_bin())
        .args(["run", "--network", "sandbox", "--publish", &publish])
        .args(["sh", "-c", "read line; echo $line"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the sandbox");
    // The publisher listens before the program runs; nothing inside listens on 8080.
    let mut got = String::new();
    let mut tries = 0;
    let r = loop {
        match TcpStream::connect(("127.0.0.1", host_port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(20))).ok();
                break s.read_to_string(&mut got);
            }
            Err(_) if tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("the published port never listened: {e}"),
        }
    };
    assert!(got.is_empty(), "{got}");
    let _ = r;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(b"done\n")
        .expect("writing");
    let out = child.wait_with_output().expect("waiting");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
}

#[test]
fn sandbox_mode_published_udp_port_answers_the_host() {
    let host_port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("a free port");
        s.local_addr().expect("address").port()
    };
    let publish = format!("{host_port}:5300/udp");
    let script = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  s.bind(('0.0.0.0', 5300))\nprint('ready', flush=True)\n\
                  data, peer = s.recvfrom(100)\ns.sendto(b're:' + data, peer)\n\
                  print(peer[0])\n";
    let mut child = Command::new(sandbox_bin())
        .args(["run", "--network", "sandbox", "--publish", &publish])
        .args(["python3", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the sandbox");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line).expect("reading");
    assert_eq!(line, "ready\n");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding");
    sock.set_read_timeout(Some(Duration::from_secs(20))).ok();
    sock.send_to(b"hi", ("127.0.0.1", host_port))
        .expect("sending");
    let mut buf = [0u8; 100];
    let (n, from) = sock.recv_from(&mut buf).expect("the reply");
    assert_eq!(&buf[..n], b"re:hi");
    assert_eq!(from.port(), host_port);
    line.clear();
    out.read_line(&mut line).expect("reading");
    assert_eq!(line, "10.0.2.2\n");
    assert!(child.wait().expect("waiting").success());
}

/// The host's first global IPv4 address: the farthest "outside" a test can count on reaching.
fn host_address() -> String {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .expect("running ip");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("this host has no global IPv4 address: {text}"))
}

#[test]
fn sandbox_mode_pings_the_outside() {
    tests::require_tool("/usr/bin/ping");
    let addr = host_address();
    // Natively first, so that a host that drops pings fails here, not as the sandbox's fault.
    let native = Command::new("ping")
        .args(["-c", "2", "-W", "5", &addr])
        .output()
        .expect("running ping");
    assert!(native.status.success(), "native ping {addr}: {native:?}");
    // A root in the sandbox with CAP_NET_RAW pings with a raw socket...
    let out = sandbox_command([
        "run",
        "--network",
        "sandbox",
        "--allow-host-loopback",
        "--net-raw",
        "ping",
        "-c",
        "2",
        "-W",
        "5",
        &addr,
    ]);
    assert_eq!(out.status, 0, "{out}");
    assert!(
        out.stdout.contains("2 packets transmitted, 2 received"),
        "{out}"
    );
    // ...and anyone the sandbox's ping_group_range admits, with a ping socket.
    // (A group past 2^31 - 1 is EINVAL, as Linux's ipv4_ping_group_range says.)
    let script = format!(
        "echo '0 2147483648' > /proc/sys/net/ipv4/ping_group_range && exit 9; \
         echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range && ping -c 1 -W 5 {addr}"
    );
    let out = sandbox_command([
        "run",
        "--network",
        "sandbox",
        "--allow-host-loopback",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.status, 0, "{out}");
    assert!(
        out.stdout.contains("1 packets transmitted, 1 received"),
        "{out}"
    );
    // The host's own address is its loopback by another name: out of reach unless allowed.
    let out = sandbox_command([
        "run",
        "--network",
        "sandbox",
        "--net-raw",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        &addr,
    ]);
    assert_ne!(out.status, 0, "{out}");
    assert!(!out.stdout.contains("1 received"), "{out}");
}
