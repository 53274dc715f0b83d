// SPDX-License-Identifier: Apache-2.0
//! podman driving the sandbox as its OCI runtime (`--runtime`; issue 13): a busybox image made
//! with `podman import` from a local root (no registry), run with `--rm`, detached with logs,
//! exec, stop (SIGTERM reaches the program's trap) and rm, and a published port served by a program
//! in the container (the sentry's sockets live in the container's network namespace). Each
//! test has podman storage of its own. podman needs the ulimits of DESIGN.md's known traps.
//! containerd's `ctr run --runc-binary` too, on a daemon of the test's own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=4096:4096",
];

struct Podman {
    dir: PathBuf,
    /// podman's run root and temporary directory, under /run (it refuses a run root longer
    /// than 50 characters), its own so that podmans of parallel tests never meet.
    run: PathBuf,
}

impl Podman {
    /// Podman storage of its own, with the image `localhost/sandbox-bb` imported.
    fn new(name: &str) -> Podman {
        tests::require_tool("/usr/bin/podman");
        tests::require_tool("/bin/busybox");
        let base = tests::host_visible_tmp(Path::new(env!("CARGO_TARGET_TMPDIR")));
        let dir = base.join(format!("sandbox-podman-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy");
        std::os::unix::fs::symlink("busybox", bin.join("sh")).expect("symlink");
        let run = PathBuf::from(format!("/run/sbx-podman-{name}-{}", std::process::id()));
        let p = Podman { dir, run };
        let tar = p.dir.join("root.tar");
        let out = tests::execute({
            let mut c = Command::new("tar");
            c.arg("-C")
                .arg(p.dir.join("rootfs"))
                .arg("-cf")
                .arg(&tar)
                .arg(".");
            c
        });
        assert_eq!(out.status, 0, "{out}");
        let out = p.podman(&[
            "import",
            &tar.to_string_lossy(),
            "localhost/sandbox-bb:latest",
        ]);
        assert_eq!(out.status, 0, "{out}");
        p
    }

    fn podman(&self, args: &[&str]) -> tests::Outcome {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(self.run.join("run"))
            .arg("--tmpdir")
            .arg(self.run.join("tmp"))
            .arg("--runtime")
            .arg(tests::sandbox_bin())
            .args(args);
        tests::execute(c)
    }

    /// `podman run ULIMITS ARGS`.
    fn run(&self, args: &[&str]) -> tests::Outcome {
        let mut all = vec!["run"];
        all.extend_from_slice(&ULIMITS);
        all.extend_from_slice(args);
        self.podman(&all)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-a", "-f"]);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

#[test]
fn podman_run_rm_prints_what_the_container_prints() {
    let p = Podman::new("rm");
    let script = "echo hello; echo $((6*7)); exit 3";
    let out = p.run(&[
        "--rm",
        "--network",
        "none",
        "localhost/sandbox-bb",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.stdout, "hello\n42\n", "{out}");
    assert_eq!(out.status, 3, "{out}");
}

#[test]
fn podman_detached_logs_stop_rm() {
    let p = Podman::new("detached");
    let out = p.run(&[
        "-d",
        "localhost/sandbox-bb",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.1; done",
    ]);
    assert_eq!(out.status, 0, "{out}");
    let id = out.stdout.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = p.podman(&["logs", &id]);
        if logs.stdout == "up\n" {
            break;
        }
        assert!(Instant::now() < deadline, "{logs}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // exec: a process beside the first, its output and status podman's; a missing program is
    // podman's 127.
    let exec = p.podman(&["exec", &id, "sh", "-c", "echo in-exec:$PPID; exit 4"]);
    assert_eq!(exec.stdout, "in-exec:0\n", "{exec}");
    assert_eq!(exec.status, 4, "{exec}");
    let missing = p.podman(&["exec", &id, "nosuch"]);
    assert_eq!(missing.status, 127, "{missing}");
    let stop = p.podman(&["stop", "-t", "10", &id]);
    assert_eq!(stop.status, 0, "{stop}");
    let logs = p.podman(&["logs", &id]);
    assert_eq!(logs.stdout, "up\nbye\n", "{logs}");
    let rm = p.podman(&["rm", &id]);
    assert_eq!(rm.status, 0, "{rm}");
    let ps = p.podman(&["ps", "-a", "-q"]);
    assert_eq!(ps.stdout, "", "{ps}");
}

#[test]
fn podman_published_port_reaches_the_container() {
    let p = Podman::new("port");
    let port = 20000 + (std::process::id() % 20000) as u16;
    let publish = format!("{port}:80");
    let out = p.run(&[
        "-d",
        "-p",
        &publish,
        "localhost/sandbox-bb",
        "sh",
        "-c",
        "mkdir -p /www && echo hello-web > /www/index.html && exec busybox httpd -f -p 80 -h /www",
    ]);
    assert_eq!(out.status, 0, "{out}");
    let url = format!("http://127.0.0.1:{port}/index.html");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = tests::execute({
            let mut c = Command::new("/bin/busybox");
            c.args(["wget", "-q", "-O", "-", &url]);
            c
        });
        if got.stdout == "hello-web\n" {
            break;
        }
        assert!(Instant::now() < deadline, "{got}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A containerd daemon of the test's own (its root, state and socket), killed with the value.
struct Containerd {
    child: std::process::Child,
    dir: PathBuf,
    run: PathBuf,
}

impl Containerd {
    fn start(name: &str) -> Containerd {
        tests::require_tool("/usr/bin/containerd");
        tests::require_tool("/usr/bin/ctr");
        let base = tests::host_visible_tmp(Path::new(env!("CARGO_TARGET_TMPDIR")));
        let dir = base.join(format!("sandbox-containerd-{name}-{}", std::process::id()));
        let run = PathBuf::from(format!("/run/sbx-ctrd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let child = Command::new("containerd")
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--state")
            .arg(&run)
            .arg("--address")
            .arg(run.join("sock"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("containerd");
        let c = Containerd { child, dir, run };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c.run.join("sock").exists() {
            assert!(Instant::now() < deadline, "containerd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> tests::Outcome {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.run.join("sock"))
            .args(["-n", "sandbox-test"])
            .args(args);
        tests::execute(cmd)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Mounts of the snapshotter may remain under its root.
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.join("root"))
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.run);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn containerd_ctr_runs_a_container_on_the_sandbox() {
    // The image: the busybox root as an OCI archive (podman makes it; no registry).
    let p = Podman::new("ctr");
    let archive = p.dir.join("bb-oci.tar");
    let out = p.podman(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        &archive.to_string_lossy(),
        "localhost/sandbox-bb:latest",
    ]);
    assert_eq!(out.status, 0, "{out}");
    let c = Containerd::start("run");
    let out = c.ctr(&[
        "image",
        "import",
        "--base-name",
        "localhost/sandbox-bb",
        &archive.to_string_lossy(),
    ]);
    assert_eq!(out.status, 0, "{out}");
    let sandbox = tests::sandbox_bin();
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        &sandbox.to_string_lossy(),
        "localhost/sandbox-bb:latest",
        "c1",
        "sh",
        "-c",
        "echo hi from ctr; exit 4",
    ]);
    assert_eq!(out.stdout, "hi from ctr\n", "{out}");
    assert_eq!(out.status, 4, "{out}");
}

#[test]
fn podman_run_it_gives_the_container_a_terminal() {
    // `podman run -it` under a terminal (script(1) makes one): the container's process.terminal
    // is a pty whose master reaches podman through the console socket.
    tests::require_tool("/usr/bin/script");
    let p = Podman::new("tty");
    let podman = format!(
        "podman --root {} --runroot {} --tmpdir {} --runtime {} run -it --rm --network none {} localhost/sandbox-bb sh -c 'tty; exit 5'",
        p.dir.join("storage").display(),
        p.run.join("run").display(),
        p.run.join("tmp").display(),
        tests::sandbox_bin().display(),
        ULIMITS.join(" "),
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &podman, "/dev/null"]);
    let out = tests::execute(cmd);
    assert!(out.stdout.contains("/dev/pts/0\r\n"), "{out}");
    assert_eq!(out.status, 5, "{out}");
}

#[test]
fn podman_exec_it_gives_the_process_a_terminal() {
    // `podman exec -it` under a terminal (script(1) makes one): the exec's process.terminal is
    // a pty of the sandbox's, bridged to the host pty whose master reached podman through the
    // console socket; the process is its session leader.
    tests::require_tool("/usr/bin/script");
    let p = Podman::new("exectty");
    let out = p.run(&[
        "-d",
        "--network",
        "none",
        "localhost/sandbox-bb",
        "sh",
        "-c",
        "while :; do sleep 0.1; done",
    ]);
    assert_eq!(out.status, 0, "{out}");
    let id = out.stdout.trim().to_string();
    let podman = format!(
        "podman --root {} --runroot {} --tmpdir {} --runtime {} exec -it {id} sh -c 'tty; echo sid=$(cut -d\" \" -f6 /proc/self/stat):$$; exit 6'",
        p.dir.join("storage").display(),
        p.run.join("run").display(),
        p.run.join("tmp").display(),
        tests::sandbox_bin().display(),
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &podman, "/dev/null"])
        .stdin(std::process::Stdio::null());
    let out = tests::execute(cmd);
    assert!(out.stdout.contains("/dev/pts/0\r\n"), "{out}");
    assert_eq!(out.status, 6, "{out}");
    let rm = p.podman(&["rm", "-f", &id]);
    assert_eq!(rm.status, 0, "{rm}");
}
