// SPDX-License-Identifier: Apache-2.0
//! The sentry's and the stubs' walls, seen from the host (DESIGN.md invariant 2, issue 10):
//! while a program runs, every sentry thread is under seccomp with no new privileges and no
//! capability, in namespaces of its own, with an empty root; every stub has no capability
//! either; a forbidden call made by the real sentry kills it with SIGSYS (a debug-build hook);
//! the sentry was confined before the program ran; the gofer refuses a weaker confinement
//! unless asked.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A sandbox running `sh -c 'echo ready; read x'`, waiting for a line on stdin.
struct Running {
    child: Child,
}

impl Running {
    fn start(extra: &[&str]) -> Running {
        let mut args = vec!["run", "--cwd", "/"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["/bin/sh", "-c", "echo ready; read x"]);
        let mut child = Command::new(tests::sandbox_bin())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sandbox");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        BufReader::new(out).read_line(&mut line).expect("read");
        assert_eq!(line, "ready\n", "the program did not start");
        Running { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn finish(mut self) {
        let _ = self.child.stdin.take().map(|mut s| s.write_all(b"go\n"));
        let st = self.child.wait().expect("wait");
        assert!(st.success(), "{st:?}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Field:\tvalue` of a /proc status file.
fn field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {name} in\n{status}"))
}

fn threads(pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("task dir")
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// Children of `pid` (all its threads') whose comm starts with `prefix`.
fn children(pid: u32, prefix: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for t in threads(pid) {
        let list = std::fs::read_to_string(t.join("children")).unwrap_or_default();
        for c in list
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            let comm = std::fs::read_to_string(format!("/proc/{c}/comm")).unwrap_or_default();
            if comm.starts_with(prefix) {
                found.push(c);
            }
        }
    }
    found
}

fn assert_no_capabilities(status: &str, who: &str) {
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            field(status, set),
            "0000000000000000",
            "{who}: {set} is not empty"
        );
    }
    assert_eq!(
        field(status, "NoNewPrivs"),
        "1",
        "{who}: new privileges allowed"
    );
}

#[test]
fn every_sentry_thread_is_confined() {
    let r = Running::start(&[]);
    let ts = threads(r.pid());
    // main (task 1), the gofer watcher, the timers, the signal forwarder at least.
    assert!(ts.len() >= 4, "{ts:?}");
    for t in &ts {
        // A thread caught being born (the sentry starts task threads as the program forks)
        // has its parent's name and filters until its first instructions confine it to its
        // role: read it again once it has had the time to, and skip one that has ended.
        let mut status = String::new();
        for _ in 0..40 {
            let Ok(s) = std::fs::read_to_string(t.join("status")) else {
                break;
            };
            status = s;
            let filters: u32 = field(&status, "Seccomp_filters").parse().unwrap_or(0);
            if filters >= 3 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        if status.is_empty() {
            continue;
        }
        let who = format!("{} ({})", t.display(), field(&status, "Name"));
        assert_eq!(
            field(&status, "Seccomp"),
            "2",
            "{who}: not under a seccomp filter"
        );
        // The policy, the clone3 filter and the thread's role.
        let filters: u32 = field(&status, "Seccomp_filters").parse().expect("count");
        assert!(filters >= 3, "{who}: {filters} filters");
        assert_no_capabilities(&status, &who);
    }
    r.finish();
}

#[test]
fn the_sentry_has_namespaces_of_its_own_and_an_empty_root() {
    let r = Running::start(&[]);
    for ns in ["mnt", "ipc", "uts", "net"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("ns");
        let its = std::fs::read_link(format!("/proc/{}/ns/{ns}", r.pid())).expect("ns");
        assert_ne!(mine, its, "the sentry shares the host's {ns} namespace");
    }
    let root: Vec<_> = std::fs::read_dir(format!("/proc/{}/root", r.pid()))
        .expect("the sentry's root")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(root.is_empty(), "the sentry's root is not empty: {root:?}");
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", r.pid())).expect("cwd");
    assert_eq!(cwd, Path::new("/"));
    r.finish();
}

#[test]
fn stubs_have_no_capabilities_and_the_sentrys_root() {
    let r = Running::start(&[]);
    let stubs = children(r.pid(), "memfd:sandbox");
    assert!(!stubs.is_empty(), "no stub found");
    for s in stubs {
        let status = std::fs::read_to_string(format!("/proc/{s}/status")).expect("status");
        assert_no_capabilities(&status, &format!("stub {s}"));
        assert_eq!(field(&status, "Seccomp"), "2", "stub {s}: no backstop");
        let root: Vec<_> = std::fs::read_dir(format!("/proc/{s}/root"))
            .expect("the stub's root")
            .flatten()
            .collect();
        assert!(root.is_empty(), "stub {s} sees the host's tree");
    }
    r.finish();
}

#[test]
fn the_sentry_is_confined_before_the_program_runs() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("order-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let log = dir.join("debug.log");
    let out = tests::sandbox_command([
        "run",
        "--debug-log",
        log.to_str().expect("utf-8"),
        "/bin/true",
    ]);
    assert_eq!(out.status, 0, "{out}");
    let text = std::fs::read_to_string(&log).expect("log");
    let confined = text
        .find("the sentry is confined")
        .expect("confinement logged");
    let running = text.find("running the program").expect("start logged");
    assert!(confined < running, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The sandbox binary of a debug build (where the forbidden-call hook exists), built here in a
/// target directory of its own so that the other tests keep using the release build.
fn debug_sandbox() -> PathBuf {
    let target = tests::workspace_root().join("target").join("debug-hook");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "loader", "--bin", "sandbox", "--target-dir"])
        .arg(&target)
        .current_dir(tests::workspace_root())
        .status()
        .expect("cargo build");
    assert!(status.success(), "building the debug sandbox failed");
    target.join("debug").join("sandbox")
}

#[test]
fn a_forbidden_call_by_the_confined_sentry_kills_it_with_sigsys() {
    use std::os::unix::process::ExitStatusExt;
    let bin = debug_sandbox();
    let run = |hook: bool| {
        let mut cmd = Command::new(&bin);
        cmd.args(["run", "--cwd", "/", "/bin/true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if hook {
            cmd.env("SANDBOX_DEBUG_FORBIDDEN_CALL", "1");
        }
        let start = Instant::now();
        let st = cmd.status().expect("run");
        assert!(start.elapsed() < Duration::from_secs(60));
        st
    };
    assert!(
        run(false).success(),
        "the debug build does not run /bin/true"
    );
    let st = run(true);
    assert_eq!(st.signal(), Some(libc::SIGSYS), "{st:?}");
}

#[test]
fn the_gofer_refuses_a_weaker_confinement_unless_asked() {
    // As nobody, without a user namespace, the gofer cannot have a mount namespace.
    tests::require_tool("/usr/bin/setpriv");
    let gofer = |weak: bool| {
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(tests::sandbox_bin())
        .args(["gofer", "--fd", "0", "--export", "ro:/"]);
        if weak {
            cmd.arg("--allow-weak");
        }
        // Descriptor 0 is an open pipe: the gofer confines itself, then fails to serve it.
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let out = cmd.output().expect("run the gofer");
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (st, err) = gofer(false);
    assert_eq!(st.code(), Some(125), "{err}");
    assert!(err.contains("--allow-weak-gofer"), "{err}");
    let (_, err) = gofer(true);
    assert!(
        err.contains("confined by openat2 and seccomp alone"),
        "{err}"
    );
}
