// SPDX-License-Identifier: Apache-2.0
//! `sandbox run` as an ordinary user (issue 10, item 4): the sentry makes a user namespace of
//! its own (the caller is root in it, and only the caller) and then the same walls as with
//! root: its namespaces, empty root, seccomp, no capabilities; the gofer confines itself in
//! it. Run here as nobody (uid 65534) through setpriv.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const NOBODY: u32 = 65534;

fn as_nobody() -> Command {
    tests::require_tool("/usr/bin/setpriv");
    let mut cmd = Command::new("/usr/bin/setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(tests::sandbox_bin());
    cmd
}

/// A directory under /tmp nobody may write.
struct Shared(PathBuf);

impl Shared {
    fn new(name: &str) -> Shared {
        let d =
            std::env::temp_dir().join(format!("sandbox-rootless-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        let mut p = std::fs::metadata(&d).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o777);
        std::fs::set_permissions(&d, p).expect("chmod");
        Shared(d)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn sandbox_run_works_as_nobody() {
    let d = Shared::new("true");
    let mut cmd = as_nobody();
    cmd.args(["run", "/bin/true"]).current_dir(&d.0);
    let out = tests::execute(cmd);
    assert_eq!(out.status, 0, "{out}");
}

#[test]
fn as_nobody_the_program_is_nobody_and_sees_the_default_view() {
    let d = Shared::new("view");
    std::fs::write(d.0.join("mine"), "host\n").expect("write");
    std::os::unix::fs::chown(d.0.join("mine"), Some(NOBODY), Some(NOBODY)).expect("chown");
    let vol = format!("{}:/vol:rw", d.0.display());
    let mut cmd = as_nobody();
    cmd.args(["run", "--cwd", "/", "-v", &vol, "/bin/sh", "-c"])
        .arg(
            "id -u; cat /etc/shadow 2>&1 | grep -c 'No such file'; echo tmp > /tmp/t && cat /tmp/t; \
             echo more >> /vol/mine && echo new > /vol/new; stat -c %u /vol/mine /vol/new",
        )
        .current_dir(&d.0);
    let out = tests::execute(cmd);
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(out.stdout, "65534\n1\ntmp\n65534\n65534\n", "{out}");
    assert_eq!(
        std::fs::read_to_string(d.0.join("mine")).expect("read"),
        "host\nmore\n"
    );
    let md = std::fs::metadata(d.0.join("new")).expect("made on the host");
    assert_eq!(
        (md.uid(), md.gid()),
        (NOBODY, NOBODY),
        "owned by the caller"
    );
}

#[test]
fn as_nobody_every_sentry_thread_is_confined() {
    let d = Shared::new("walls");
    let mut cmd = as_nobody();
    let mut child = cmd
        .args(["run", "/bin/sh", "-c", "echo ready; read x; true"])
        .current_dir(&d.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("read");
    assert_eq!(line, "ready\n");
    // setpriv execs the sandbox: same pid.
    let pid = child.id();
    for ns in ["user", "mnt", "net"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("ns");
        let its = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("ns");
        assert_ne!(mine, its, "the sentry shares the host's {ns} namespace");
    }
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
    {
        let status = std::fs::read_to_string(t.path().join("status")).expect("status");
        assert!(status.contains("Seccomp:\t2"), "{status}");
        assert!(status.contains("NoNewPrivs:\t1"), "{status}");
        assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
        assert!(status.contains("CapBnd:\t0000000000000000"), "{status}");
    }
    drop(child.stdin.take());
    let st = child.wait().expect("wait");
    assert!(st.success(), "{st:?}");
}
