// SPDX-License-Identifier: Apache-2.0
//! What a program sees of the host by default (issue 10, `sentry/src/fsimpl/view.rs`): the
//! system trees without their secrets (each hidden path gives ENOENT), the personal and
//! volatile trees empty and the sandbox's own, nothing else of the host's top level, and the
//! caller's working directory at its own path, read-only with writes kept in the sandbox;
//! `--host-root` for the whole host; `--rootfs` falls back to `/` for a missing working
//! directory. The gofer masks the same paths, so even the sentry could not have them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sentry::fsimpl::view;

/// `sandbox run [opts] /bin/sh -c script`, from `cwd`.
fn sh_in(cwd: &Path, opts: &[&str], script: &str) -> tests::Outcome {
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.arg("run")
        .args(opts)
        .args(["/bin/sh", "-c", script])
        .current_dir(cwd);
    tests::execute(cmd)
}

/// A fresh directory under the host's /tmp, as `mktemp -d` makes.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("sandbox-view-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn sandbox_run_works_from_a_fresh_directory_under_tmp() {
    let d = TempDir::new("fresh");
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.args(["run", "/bin/true"]).current_dir(&d.0);
    let out = tests::execute(cmd);
    assert_eq!(out.status, 0, "{out}");
    let out = sh_in(&d.0, &[], "pwd");
    assert_eq!(out.stdout, format!("{}\n", d.0.display()), "{out}");
}

#[test]
fn cat_etc_shadow_fails_with_enoent() {
    tests::require_tool("/etc/shadow");
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.args(["run", "--cwd", "/", "cat", "/etc/shadow"]);
    let out = tests::execute(cmd);
    assert_ne!(out.status, 0, "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(out.stderr.contains("No such file or directory"), "{out}");
}

/// Every secret of the list that this host has: ENOENT in the sandbox, whether opened, stated
/// or listed, and empty in the gofer's own view.
#[test]
fn every_hidden_secret_gives_enoent() {
    let plan = view::plan(Path::new("/"));
    let secrets: Vec<&String> = plan
        .hidden
        .iter()
        .filter(|p| p.matches('/').count() > 1)
        .collect();
    // Not vacuous: every Linux host has its password hashes.
    assert!(
        secrets.iter().any(|p| p.as_str() == "/etc/shadow"),
        "{secrets:?}"
    );
    let mut script = String::new();
    for p in &secrets {
        let (dir, name) = p.rsplit_once('/').expect("absolute");
        script.push_str(&format!(
            "if [ -e '{p}' ] || [ -L '{p}' ]; then echo 'VISIBLE {p}'; fi; \
             cat '{p}' 2>&1 | grep -q 'No such file' || echo 'OPENED {p}'; \
             ls -a '{dir}/' | grep -qx '{name}' && echo 'LISTED {p}'; "
        ));
    }
    script.push_str("echo done");
    let out = sh_in(Path::new("/"), &[], &script);
    assert_eq!(out.stdout, "done\n", "{out}");
    // With --host-root, the same paths are there (so the check above could fail).
    let out = sh_in(
        Path::new("/"),
        &["--host-root"],
        "[ -e /etc/shadow ] && echo there",
    );
    assert_eq!(out.stdout, "there\n", "{out}");
}

#[test]
fn personal_and_volatile_trees_are_empty_and_the_sandboxs_own() {
    let plan = view::plan(Path::new("/"));
    // Not vacuous: the host's /root or /var/log has something in it.
    let nonempty: Vec<&String> = plan
        .emptied
        .iter()
        .filter(|p| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some()))
        .collect();
    assert!(!nonempty.is_empty(), "{:?}", plan.emptied);
    let mut script = String::new();
    for p in &plan.emptied {
        if p == "/tmp" {
            continue; // the sandbox's own tmpfs, shown from the caller's cwd in other tests
        }
        script.push_str(&format!(
            "[ -z \"$(ls -A '{p}')\" ] || echo 'NOT EMPTY {p}'; \
             echo mine > '{p}/sandbox-file' && [ \"$(cat '{p}/sandbox-file')\" = mine ] \
             || echo 'NOT WRITABLE {p}'; "
        ));
    }
    script.push_str("echo done");
    let out = sh_in(Path::new("/"), &[], &script);
    assert_eq!(out.stdout, "done\n", "{out}");
    for p in &plan.emptied {
        assert!(
            !Path::new(p).join("sandbox-file").exists(),
            "a write reached the host's {p}"
        );
    }
}

#[test]
fn other_top_level_host_entries_are_hidden() {
    let plan = view::plan(Path::new("/"));
    let cwd = std::env::current_dir().expect("cwd");
    let top: Vec<&String> = plan
        .hidden
        .iter()
        .filter(|p| p.matches('/').count() == 1)
        // An ancestor of the caller's directory is made to show it.
        .filter(|p| !cwd.starts_with(p.as_str()))
        .collect();
    let mut script = String::new();
    for p in &top {
        script.push_str(&format!(
            "if [ -e '{p}' ] || [ -L '{p}' ]; then echo 'VISIBLE {p}'; fi; "
        ));
    }
    script.push_str("ls / | tr '\\n' ' '; echo");
    let out = sh_in(Path::new("/"), &["--cwd", "/"], &script);
    assert!(!out.stdout.contains("VISIBLE"), "{out}");
    for name in out.stdout.split_whitespace() {
        let allowed = view::SYSTEM_TREES.contains(&name)
            || view::PRIVATE_TREES.contains(&format!("/{name}").as_str())
            || matches!(name, "dev" | "proc" | "sys")
            || cwd.starts_with(format!("/{name}"));
        assert!(allowed, "/{name} is shown: {out}");
    }
}

#[test]
fn the_working_directory_is_shown_read_only_with_writes_kept_in_the_sandbox() {
    let d = TempDir::new("cwd");
    std::fs::write(d.0.join("input"), "from the host\n").expect("write");
    let out = sh_in(
        &d.0,
        &[],
        "cat input; echo changed > input; echo new > output; cat input output; ls",
    );
    assert_eq!(
        out.stdout, "from the host\nchanged\nnew\ninput\noutput\n",
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(d.0.join("input")).expect("read"),
        "from the host\n"
    );
    assert!(!d.0.join("output").exists(), "a write reached the host");
    // Exposed read-write, it writes through.
    let vol = format!("{0}:{0}:rw", d.0.display());
    let out = sh_in(&d.0, &["-v", &vol], "echo through > output");
    assert_eq!(out.status, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(d.0.join("output")).expect("read"),
        "through\n"
    );
}

#[test]
fn a_working_directory_missing_in_the_rootfs_falls_back_to_the_root() {
    tests::require_tool("/bin/busybox");
    let root = TempDir::new("rootfs");
    std::fs::create_dir_all(root.0.join("bin")).expect("mkdir");
    std::fs::copy("/bin/busybox", root.0.join("bin/busybox")).expect("copy");
    let elsewhere = TempDir::new("elsewhere");
    let rootfs = root.0.display().to_string();
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.args(["run", "--rootfs", &rootfs, "/bin/busybox", "pwd"])
        .current_dir(&elsewhere.0);
    let direct = tests::execute(cmd);
    assert_eq!(direct.status, 0, "{direct}");
    assert_eq!(direct.stdout, "/\n", "{direct}");
    assert!(direct.stderr.contains("starting in /"), "{direct}");
    // An explicit --cwd that is missing is still an error.
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.args([
        "run",
        "--rootfs",
        &rootfs,
        "--cwd",
        "/nope",
        "/bin/busybox",
        "pwd",
    ]);
    let out = tests::execute(cmd);
    assert_eq!(out.status, 125, "{out}");
}

#[test]
fn the_gofer_cannot_serve_what_the_view_hides() {
    let mut child = Command::new(tests::sandbox_bin())
        .args(["run", "--cwd", "/", "/bin/sh", "-c", "echo ready; read x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    std::io::BufRead::read_line(&mut out, &mut line).expect("read");
    assert_eq!(line, "ready\n");
    let pid = child.id();
    let gofer = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
        .flat_map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .find(|c| {
            std::fs::read(format!("/proc/{c}/cmdline"))
                .is_ok_and(|l| String::from_utf8_lossy(&l).contains("gofer"))
        })
        .expect("the gofer");
    // Export 0 is the host's root, at /0 in the gofer's own root.
    let base = PathBuf::from(format!("/proc/{gofer}/root/0"));
    let shadow = std::fs::metadata(base.join("etc/shadow")).expect("masked shadow");
    assert_eq!(shadow.len(), 0, "the gofer can read /etc/shadow");
    let root: Vec<_> = std::fs::read_dir(base.join("root"))
        .expect("masked /root")
        .collect();
    assert!(root.is_empty(), "the gofer can list /root");
    // SAFETY: ending our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = child.wait();
}

/// The kernel config a program reads is the sandbox's own, generated from what the sentry
/// implements (issue 14 item 6), never the host's: /proc/config.gz unpacks with zcat, names the
/// release uname reports, says =y for what the sandbox has and "is not set" for what it lacks
/// whatever the host kernel has (loadable modules, user namespaces), and /proc/filesystems lists
/// the types mount(2) takes.
#[test]
fn the_kernel_config_is_the_sandboxs_own() {
    let d = TempDir::new("kconfig");
    let out = sh_in(
        &d.0,
        &[],
        "uname -r; zcat /proc/config.gz; echo ---; cat /proc/filesystems; \
         mount -t mqueue none /dev/mqueue && echo mqueue-mounts",
    );
    assert_eq!(out.status, 0, "{out}");
    let mut lines = out.stdout.lines();
    let release = lines.next().unwrap_or_default().to_string();
    let config: Vec<&str> = lines.by_ref().take_while(|l| *l != "---").collect();
    let filesystems: Vec<&str> = lines.collect();
    assert!(
        config.contains(&format!("# Linux/x86 {release} Kernel Configuration").as_str()),
        "{out}"
    );
    for on in [
        "CONFIG_SYSVIPC=y",
        "CONFIG_EPOLL=y",
        "CONFIG_TMPFS=y",
        "CONFIG_IKCONFIG_PROC=y",
    ] {
        assert!(config.contains(&on), "{on}: {out}");
    }
    for off in ["MODULES", "USER_NS", "KEXEC", "XFS_FS"] {
        let line = format!("# CONFIG_{off} is not set");
        assert!(config.contains(&line.as_str()), "{line}: {out}");
    }
    assert!(filesystems.contains(&"nodev\tmqueue"), "{out}");
    assert!(filesystems.contains(&"nodev\tproc"), "{out}");
    assert!(out.stdout.ends_with("mqueue-mounts\n"), "{out}");
}
