// SPDX-License-Identifier: Apache-2.0
//! Files: the writable-file-system guest, and what `sandbox run` promises about the host's
//! files: writes under the default overlay never reach the host, `--overlay none` is
//! read-only, `-v ...:ro` refuses writes, `--tmpfs` limits, `--rootfs` shows only its tree, and
//! the file options' errors are one line with status 125.

use std::path::Path;

use tests::sandbox_command;

tests::guest_tests! {
    fs_write,
}

fn sh(opts: &[&str], script: &str) -> tests::Outcome {
    let mut args = vec!["run"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["/bin/sh", "-c", script]);
    sandbox_command(args)
}

fn scratch(name: &str) -> std::path::PathBuf {
    // Not under /tmp: the sandbox's /tmp is a tmpfs of its own.
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

#[test]
fn overlay_writes_stay_in_the_sandbox() {
    let dir = scratch("overlay");
    let f = dir.join("host-file");
    std::fs::write(&f, "host\n").expect("write");
    let script = format!(
        "echo sandbox > {p}; cat {p}; rm {p}; ls {p} 2>&1 | grep -c 'No such'; mkdir {d}/new; \
         mv {d} {d}.moved 2>/dev/null; echo x > /etc/sandbox-test-file; cat /etc/sandbox-test-file",
        p = f.display(),
        d = dir.display()
    );
    let out = sh(&[], &script);
    assert_eq!(out.stdout, "sandbox\n1\nx\n", "{out:?}");
    assert_eq!(std::fs::read_to_string(&f).expect("read"), "host\n");
    assert!(!dir.join("new").exists());
    assert!(!Path::new("/etc/sandbox-test-file").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn overlay_none_is_read_only() {
    let out = sh(&["--overlay", "none"], "echo x > /etc/motd-sandbox 2>&1; echo $?; touch /tmp/ok && echo tmp");
    assert!(out.stdout.ends_with("tmp\n"), "{out:?}");
    assert!(out.stdout.starts_with("2\n") || out.stdout.starts_with("1\n"), "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
}

#[test]
fn read_only_volume_refuses_writes() {
    let dir = scratch("rovol");
    std::fs::write(dir.join("in"), "volume\n").expect("write");
    let vol = format!("{}:/vol:ro", dir.display());
    let out = sh(&["-v", &vol], "cat /vol/in; echo x > /vol/out || echo refused; ls /vol");
    assert_eq!(out.stdout, "volume\nrefused\nin\n", "{out:?}");
    assert!(!dir.join("out").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tmpfs_size_gives_enospc() {
    let out = sh(
        &["--tmpfs", "/small:size=64k"],
        "head -c 65536 /dev/zero > /small/a && echo fits; head -c 4096 /dev/zero > /small/b || echo full",
    );
    assert_eq!(out.stdout, "fits\nfull\n", "{out:?}");
    assert!(out.stderr.contains("No space left on device"), "{out:?}");
}

#[test]
fn rootfs_shows_only_its_tree() {
    let dir = scratch("rootfs");
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).ok();
    if !dir.join("bin/busybox").exists() {
        eprintln!("skipped: no /bin/busybox");
        return;
    }
    std::fs::write(dir.join("marker"), "m").expect("write");
    let root = dir.display().to_string();
    let out = sandbox_command(["run", "--rootfs", &root, "--cwd", "/", "/bin/busybox", "ls", "/"]);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(out.stdout, "bin\ndev\nmarker\nproc\nsys\ntmp\n", "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_option_errors_are_one_line() {
    for (args, want) in [
        (vec!["-v", "/nonexistent-dir:/x"], "--volume /nonexistent-dir"),
        (vec!["-v", "/tmp:relative"], "must be absolute"),
        (vec!["-v", "/tmp"], "expected HOST:GUEST"),
        (vec!["--overlay", "disk"], "--overlay disk"),
        (vec!["--tmpfs", "/x:size=lots"], "bad size"),
        (vec!["--rootfs", "/nonexistent-root"], "--rootfs /nonexistent-root"),
    ] {
        let mut a = vec!["run"];
        a.extend(args);
        a.push("/bin/true");
        let out = sandbox_command(&a);
        assert_eq!(out.status, 125, "{out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
        assert!(out.stderr.contains(want), "{want}: {out:?}");
    }
}
