// SPDX-License-Identifier: Apache-2.0
//! Escape attempts (DESIGN.md invariants 2, 3 and 5): each tries to reach a host file outside
//! what the sandbox was given, and each is proven to fail by looking at the host's files
//! afterwards, not only at what the program saw.
//!
//! The layout of one test's scratch directory S (outside any root the sandbox gets):
//!
//! ```text
//! S/secret          "OUTSIDE-SECRET": must never be read or changed
//! S/outside/secret  "OUTSIDE-SECRET" too, for the walk race
//! S/root/           a --rootfs: busybox, the escapes guest, symlinks pointing out
//! S/vol/            a volume
//! ```

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tests::{sandbox_command, Linkage, Outcome};

const SECRET: &str = "OUTSIDE-SECRET\n";

struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        tests::require_tool("/bin/busybox");
        let dir = tests::host_visible_tmp(Path::new(env!("CARGO_TARGET_TMPDIR")))
            .join(format!("escape-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["root/bin", "vol", "outside"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        std::fs::write(dir.join("secret"), SECRET).expect("write");
        std::fs::write(dir.join("outside/secret"), SECRET).expect("write");
        std::fs::copy("/bin/busybox", dir.join("root/bin/busybox")).expect("copy busybox");
        for applet in [
            "sh", "cat", "ls", "mkdir", "rm", "mv", "ln", "pwd", "touch", "test",
        ] {
            std::os::unix::fs::symlink("busybox", dir.join("root/bin").join(applet))
                .expect("symlink");
        }
        let guest = tests::guest("escapes", Linkage::Static);
        std::fs::copy(&guest, dir.join("root/escapes")).expect("copy guest");
        std::fs::write(dir.join("root/secret"), "ROOTFS-SECRET\n").expect("write");
        Scratch { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    fn s(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }

    fn symlink(&self, target: &str, at: &str) {
        std::os::unix::fs::symlink(target, self.path(at)).expect("symlink");
    }

    /// `sandbox run --rootfs S/root [opts] --cwd / ARGS`.
    fn run(&self, opts: &[&str], args: &[&str]) -> Outcome {
        let root = self.s("root");
        let mut a = vec!["run", "--rootfs", &root, "--cwd", "/"];
        a.extend_from_slice(opts);
        a.extend_from_slice(args);
        sandbox_command(a)
    }

    /// What the host holds: every path under S with its type, size, mode, link count, mtime
    /// and contents (for small files).
    fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.dir, &self.dir, &mut out);
        out.sort();
        out
    }

    /// The secrets are intact.
    fn assert_secrets_intact(&self) {
        for p in ["secret", "outside/secret"] {
            let md = std::fs::symlink_metadata(self.path(p)).expect("the secret is still there");
            assert_eq!(md.nlink(), 1, "{p} got a new hard link");
            assert_eq!(
                std::fs::read_to_string(self.path(p)).expect("read"),
                SECRET,
                "{p} changed"
            );
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
        let content = if md.is_file() && md.len() < 256 {
            std::fs::read_to_string(&p).unwrap_or_default()
        } else if md.file_type().is_symlink() {
            std::fs::read_link(&p)
                .map(|t| t.display().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        out.push(format!(
            "{rel} mode={:o} nlink={} size={} mtime={}.{} {content:?}",
            md.permissions().mode(),
            md.nlink(),
            if md.is_dir() { 0 } else { md.len() },
            md.mtime(),
            md.mtime_nsec()
        ));
        if md.is_dir() {
            walk(base, &p, out);
        }
    }
}

fn assert_no_outside(out: &Outcome) {
    assert!(
        !out.stdout.contains("OUTSIDE"),
        "the outside secret was read:\n{out}"
    );
    assert!(
        !out.stderr.contains("OUTSIDE"),
        "the outside secret was read:\n{out}"
    );
}

#[test]
fn rootfs_symlinks_pointing_outside_stay_inside() {
    let s = Scratch::new("symlinks");
    s.symlink(&s.s("secret"), "root/abs");
    s.symlink("../secret", "root/rel");
    s.symlink("../../../../../../../../secret", "root/deep");
    s.symlink(&s.s(""), "root/absdir");
    s.symlink("..", "root/up");
    let before = s.snapshot();
    let script = "cat /abs /rel /deep /absdir/secret /up/secret /up/up/secret; \
                  cat /../secret /../../../secret; cd /; cd ..; cd ..; ls; \
                  echo pwned > /abs; echo pwned > /rel; echo pwned > /absdir/secret; \
                  echo pwned > /up/../secret; cat /abs; echo end";
    for opts in [&[][..], &["--overlay", "none"][..]] {
        let out = s.run(opts, &["/bin/sh", "-c", script]);
        assert_no_outside(&out);
        assert!(out.stdout.ends_with("end\n"), "{out}");
        assert!(
            out.stdout.contains("ROOTFS-SECRET"),
            "/up/secret is the rootfs's own: {out}"
        );
        s.assert_secrets_intact();
        assert_eq!(
            s.snapshot(),
            before,
            "the host changed after {opts:?}:\n{out}"
        );
    }
}

#[test]
fn dotdot_past_the_root_stays_at_the_root() {
    let s = Scratch::new("dotdot");
    let before = s.snapshot();
    let up = "/..".repeat(40);
    let script = format!(
        "cd {up}; pwd; ls; cat .{up}/secret; cat ../../secret; cat {up}/outside/secret; \
         mkdir {up}/made; echo x > ../../made-file; echo end"
    );
    let out = s.run(&[], &["/bin/sh", "-c", &script]);
    assert_no_outside(&out);
    assert!(out.stdout.starts_with("/\nbin\n"), "{out}");
    assert!(out.stdout.ends_with("end\n"), "{out}");
    s.assert_secrets_intact();
    assert_eq!(s.snapshot(), before, "the host changed:\n{out}");
}

#[test]
fn proc_root_and_cwd_links_stay_inside() {
    let s = Scratch::new("proc");
    let probe = s.run(
        &[],
        &["/bin/sh", "-c", "test -L /proc/self/root && echo yes"],
    );
    // The probe must hold: were the link to stop being a link, the escapes below would fail
    // for the wrong reason and prove nothing.
    assert_eq!(
        probe.stdout, "yes\n",
        "/proc/self/root is not a link:\n{probe}"
    );
    let before = s.snapshot();
    let script = "cat /proc/self/root/../secret /proc/self/root/../../outside/secret; \
                  cat /proc/1/root/../../secret; cd /proc/self/cwd/../..; ls; \
                  cat /proc/self/cwd/../../../outside/secret; ls /proc/self/root/; \
                  cd /proc/self/root; cd ../..; pwd; \
                  echo pwned > /proc/self/root/../made; echo end";
    let out = s.run(&[], &["/bin/sh", "-c", script]);
    assert_no_outside(&out);
    assert!(out.stdout.ends_with("end\n"), "{out}");
    s.assert_secrets_intact();
    assert_eq!(s.snapshot(), before, "the host changed:\n{out}");
}

#[test]
fn hard_links_and_renames_out_of_a_volume_fail() {
    let s = Scratch::new("links");
    std::fs::write(s.path("vol/inside"), "inside\n").expect("write");
    std::fs::write(s.path("root/rootfile"), "rootfs\n").expect("write");
    let vol = format!("{}:/vol:rw", s.s("vol"));
    let out = s.run(&["-v", &vol], &["/escapes", "link", "/rootfile", "/vol"]);
    assert_eq!(out.status, 0, "{out}");
    for line in out.stdout.lines() {
        assert!(
            !line.ends_with("made") && !line.ends_with("moved"),
            "{line}\n{out}"
        );
    }
    // Another volume's file, and a file of the host's root as seen through the default root.
    std::fs::create_dir_all(s.path("vol2")).expect("mkdir");
    std::fs::write(s.path("vol2/other"), "other\n").expect("write");
    let vol2 = format!("{}:/vol2:rw", s.s("vol2"));
    let out = s.run(
        &["-v", &vol, "-v", &vol2],
        &["/escapes", "link", "/vol2/other", "/vol"],
    );
    for line in out.stdout.lines() {
        assert!(
            !line.ends_with("made") && !line.ends_with("moved"),
            "{line}\n{out}"
        );
    }
    let mut names: Vec<_> = std::fs::read_dir(s.path("vol"))
        .expect("readdir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["inside"], "{out}");
    for f in ["root/rootfile", "vol/inside", "vol2/other"] {
        assert_eq!(
            std::fs::metadata(s.path(f)).expect("stat").nlink(),
            1,
            "{f}"
        );
    }
    assert!(!s.path("renamed-up").exists() && !s.path("root/renamed-out").exists());
    s.assert_secrets_intact();
}

#[test]
fn openat2_resolve_tricks_stay_beneath() {
    let s = Scratch::new("openat2");
    s.symlink("..", "vol/up");
    s.symlink("/", "vol/abs");
    s.symlink("/proc/self/root", "vol/proc-root");
    let before: Vec<_> = s
        .snapshot()
        .into_iter()
        .filter(|l| !l.starts_with("vol/") && !l.starts_with("vol "))
        .collect();
    let vol = format!("{}:/vol:rw", s.s("vol"));
    let out = s.run(&["-v", &vol], &["/escapes", "openat2", "/vol"]);
    assert_eq!(out.status, 0, "{out}");
    assert_no_outside(&out);
    for line in out.stdout.lines() {
        let scoped = line.contains("IN_ROOT") || line.contains("BENEATH");
        if scoped && !line.starts_with("create") {
            assert!(
                !line.contains("read"),
                "a scoped resolution left /vol: {line}\n{out}"
            );
        }
    }
    // RESOLVE_IN_ROOT's `..` stops at /vol: the file is made inside the volume.
    assert!(s.path("vol/created").exists(), "{out}");
    let after: Vec<_> = s
        .snapshot()
        .into_iter()
        .filter(|l| !l.starts_with("vol/") && !l.starts_with("vol "))
        .collect();
    assert_eq!(after, before, "the host changed outside the volume:\n{out}");
    s.assert_secrets_intact();
}

#[test]
fn read_only_volume_refuses_every_write() {
    let s = Scratch::new("ro");
    std::fs::write(s.path("vol/f"), "keep\n").expect("write");
    std::fs::create_dir_all(s.path("vol/d")).expect("mkdir");
    let before = s.snapshot();
    let vol = format!("{}:/vol:ro", s.s("vol"));
    let ops = [
        "echo x > /vol/f",
        "echo x >> /vol/f",
        ": > /vol/new",
        "mkdir /vol/n",
        "rm /vol/f",
        "rmdir /vol/d",
        "mv /vol/f /vol/g",
        "ln -s f /vol/l",
        "ln /vol/f /vol/h",
        "chmod 777 /vol/f",
        "touch /vol/f",
        "truncate -s 0 /vol/f",
        "mv /vol/f /f-moved",
    ];
    let script: String = ops
        .iter()
        .map(|op| format!("({op}) 2>/dev/null && echo WROTE; "))
        .collect();
    // The host's own root, for coreutils.
    let out = sandbox_command([
        "run",
        "--cwd",
        "/",
        "-v",
        &vol,
        "/bin/sh",
        "-c",
        &format!("{script}cat /vol/f"),
    ]);
    assert_eq!(out.stdout, "keep\n", "{out}");
    assert_eq!(s.snapshot(), before, "the host changed:\n{out}");
}

#[test]
fn overlay_writes_never_appear_on_the_host() {
    let s = Scratch::new("overlay");
    std::fs::write(s.path("vol/f"), "keep\n").expect("write");
    std::fs::create_dir_all(s.path("vol/d/e")).expect("mkdir");
    let before = s.snapshot();
    // The host's whole root under a memory overlay; S is visible read-only.
    let f = s.s("vol/f");
    let d = s.s("vol/d");
    let script = format!(
        "echo x > {f}; echo y >> {f}; chmod 600 {f}; touch -d @0 {f}; ln {f} {f}.hard; \
         ln -s /etc {d}/l; mkdir {d}/new; mv {d}/e {d}/e2; rm -r {d}/e2; truncate -s 1 {f}; \
         cat {f}; echo; mv {f} {d}/moved; rm -rf {d}; echo pwned > {}; echo end",
        s.s("secret")
    );
    let out = sandbox_command(["run", "--host-root", "--cwd", "/", "/bin/sh", "-c", &script]);
    assert!(out.stdout.ends_with("x\nend\n"), "{out}");
    assert_eq!(s.snapshot(), before, "the host changed:\n{out}");
    s.assert_secrets_intact();
}

#[test]
fn swapping_a_directory_for_a_symlink_during_walks_never_leaves_the_volume() {
    let s = Scratch::new("race");
    std::fs::create_dir_all(s.path("vol/d")).expect("mkdir");
    std::fs::write(s.path("vol/d/secret"), "inside\n").expect("write");
    // As the host resolves it, s points at S/outside (absolutely and relatively).
    s.symlink(&s.s("outside"), "vol/s");
    s.symlink("../outside", "vol/s2");
    let vol = format!("{}:/vol:rw", s.s("vol"));
    // A host-side swapper too, racing the gofer's walks from outside the sandbox.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (a, b) = (
            std::ffi::CString::new(s.s("vol/d")).expect("path"),
            std::ffi::CString::new(s.s("vol/s2")).expect("path"),
        );
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: both paths are NUL-terminated strings that outlive the call.
                unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    );
                }
            }
        })
    };
    let out = s.run(&["-v", &vol], &["/escapes", "race", "/vol", "3"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = swapper.join();
    assert_eq!(out.status, 0, "{out}");
    assert!(out.stdout.contains("some walks"), "{out}");
    assert!(out.stdout.contains("outside secret 0 times"), "{out}");
    s.assert_secrets_intact();
    let outside: Vec<_> = std::fs::read_dir(s.path("outside"))
        .expect("readdir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        outside.len(),
        1,
        "a file was made outside the volume: {outside:?}\n{out}"
    );
}

/// The platform's stub (its code page sits at a fixed address in every sandboxed process): the
/// guest jumps to every `syscall` instruction in it, with registers of its choosing, for each
/// system call the platform's filters let through from there and each that would hurt if the
/// host ran it; none may change the stub's read-only pages or reach the host (the marker file
/// the host would create must not appear). Runs on the platform `SANDBOX_PLATFORM` selects.
#[test]
fn jumps_into_the_stub_code_reach_nothing() {
    let guest = tests::guest("stub_escape", Linkage::Static);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("escape-stub-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let marker = dir.join("marker");
    // The guest's directory shown at its own path (read-only); the marker is only a name to the
    // guest: a host call that escaped would make it on the host.
    let guests = guest.parent().expect("the guests' directory");
    let volume = format!("{}:{}:ro", guests.display(), guests.display());
    let out = sandbox_command([
        "run".as_ref(),
        "-v".as_ref(),
        volume.as_ref(),
        "--cwd".as_ref(),
        "/".as_ref(),
        guest.as_os_str(),
        marker.as_os_str(),
    ]);
    let stdout = out.stdout.clone();
    assert_eq!(out.status, 0, "{out}");
    assert!(
        !stdout.contains("ESCAPE"),
        "the stub was escaped:\n{stdout}"
    );
    let counts = stdout
        .lines()
        .find_map(|l| l.strip_prefix("sites "))
        .and_then(|l| l.split_once(" attempts "))
        .and_then(|(s, a)| Some((s.parse::<u32>().ok()?, a.trim().parse::<u32>().ok()?)));
    let Some((sites, attempts)) = counts else {
        panic!("no summary (was a stub found?):\n{out}");
    };
    assert!(sites > 0 && attempts >= sites * 10, "{out}");
    assert!(
        !marker.exists(),
        "the host created {} for a system call made from the stub",
        marker.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
