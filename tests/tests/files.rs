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
    let d = tests::host_visible_tmp(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .join(format!("files-{name}-{}", std::process::id()));
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
    // The host's whole root, where the scratch directory is.
    let out = sh(&["--host-root"], &script);
    assert_eq!(out.stdout, "sandbox\n1\nx\n", "{out:?}");
    assert_eq!(std::fs::read_to_string(&f).expect("read"), "host\n");
    assert!(!dir.join("new").exists());
    assert!(!Path::new("/etc/sandbox-test-file").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn overlay_none_is_read_only() {
    let out = sh(
        &["--overlay", "none"],
        "echo x > /etc/motd-sandbox 2>&1; echo $?; touch /tmp/ok && echo tmp",
    );
    assert!(out.stdout.ends_with("tmp\n"), "{out:?}");
    assert!(
        out.stdout.starts_with("2\n") || out.stdout.starts_with("1\n"),
        "{out:?}"
    );
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
}

#[test]
fn read_only_volume_refuses_writes() {
    let dir = scratch("rovol");
    std::fs::write(dir.join("in"), "volume\n").expect("write");
    let vol = format!("{}:/vol:ro", dir.display());
    let out = sh(
        &["-v", &vol],
        "cat /vol/in; echo x > /vol/out || echo refused; ls /vol",
    );
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
    tests::require_tool("/bin/busybox");
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("copy busybox");
    std::fs::write(dir.join("marker"), "m").expect("write");
    let root = dir.display().to_string();
    let out = sandbox_command([
        "run",
        "--rootfs",
        &root,
        "--cwd",
        "/",
        "/bin/busybox",
        "ls",
        "/",
    ]);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(out.stdout, "bin\ndev\nmarker\nproc\nsys\ntmp\n", "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_option_errors_are_one_line() {
    for (args, want) in [
        (
            vec!["-v", "/nonexistent-dir:/x"],
            "--volume /nonexistent-dir",
        ),
        (vec!["-v", "/tmp:relative"], "must be absolute"),
        (vec!["-v", "/tmp"], "expected HOST:GUEST"),
        (vec!["--overlay", "disk"], "--overlay disk"),
        (vec!["--tmpfs", "/x:size=lots"], "bad size"),
        (
            vec!["--rootfs", "/nonexistent-root"],
            "--rootfs /nonexistent-root",
        ),
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

#[test]
fn writable_volume_writes_through_to_the_host() {
    let dir = scratch("rwvol");
    std::fs::write(dir.join("in"), "volume\n").expect("write");
    let vol = format!("{}:/vol", dir.display());
    let out = sh(
        &["-v", &vol],
        "cat /vol/in; echo hi > /vol/out; mkdir /vol/d; echo deep > /vol/d/f; ln -s out /vol/l; \
         mv /vol/in /vol/d/moved; ln /vol/out /vol/hard; chmod 600 /vol/out; echo more >> /vol/out; \
         rm /vol/hard; cat /vol/l; stat -c %a /vol/out; df /vol >/dev/null && echo statfs",
    );
    assert_eq!(out.stdout, "volume\nhi\nmore\n600\nstatfs\n", "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("out")).expect("out"),
        "hi\nmore\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("d/f")).expect("d/f"),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("d/moved")).expect("moved"),
        "volume\n"
    );
    assert_eq!(
        std::fs::read_link(dir.join("l")).expect("l"),
        Path::new("out")
    );
    assert!(!dir.join("in").exists() && !dir.join("hard").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("out"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The process ids whose parent is `ppid` and whose command line contains `word`.
fn children_running(ppid: u32, word: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some(after) = stat.rsplit_once(')').map(|(_, a)| a.to_string()) else {
            continue;
        };
        let parent = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if parent == Some(ppid) && String::from_utf8_lossy(&cmd).contains(word) {
            out.push(pid);
        }
    }
    out
}

fn wait_timeout(child: &mut std::process::Child, secs: u64) -> Option<std::process::ExitStatus> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn the_gofers_death_ends_the_sandbox_with_an_error() {
    use std::io::Read;
    let mut child = std::process::Command::new(tests::sandbox_bin())
        .args([
            "run",
            "--cwd",
            "/",
            "/bin/sh",
            "-c",
            "echo started; sleep 60",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sandbox");
    let mut gofers = Vec::new();
    for _ in 0..200 {
        gofers = children_running(child.id(), "gofer");
        if !gofers.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(gofers.len(), 1, "one gofer process");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: kill(2) on a process id just read from /proc, with a valid signal.
    unsafe { libc::kill(gofers[0] as i32, libc::SIGKILL) };
    let status = wait_timeout(&mut child, 10).expect("the sandbox ended within 10s");
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert_eq!(status.code(), Some(125), "{err}");
    assert!(err.contains("gofer") && err.contains("died"), "{err}");
}

/// Invariant 2: after start-up the sentry opens no host path. The sandbox is traced with
/// strace (attached once the program runs) while the program reads and writes a volume and
/// walks /usr with shell builtins; the sentry's threads must make no open call at all, and the
/// gofer's replies (recvmsg) show that the files were reached through it.
#[test]
fn the_sentry_opens_no_host_path_after_start_up() {
    tests::require_tool("/usr/bin/strace");
    let dir = scratch("noopen");
    std::fs::create_dir_all(dir.join("vol")).expect("mkdir");
    std::fs::write(dir.join("vol/data"), "data\n").expect("write");
    let vol = format!("{}:/vol", dir.join("vol").display());
    let script = "while ! [ -e /vol/go ]; do :; done; read l < /vol/data; echo \"$l\" > /vol/out; \
                  for f in /usr/* /usr/lib/*; do [ -e \"$f\" ]; done; echo x >> /etc/hosts; \
                  read h < /etc/hostname; echo done";
    let mut child = std::process::Command::new(tests::sandbox_bin())
        .args(["run", "--cwd", "/", "-v", &vol, "/bin/sh", "-c", script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sandbox");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = dir.join("strace.log");
    let mut strace = std::process::Command::new("/usr/bin/strace")
        .arg("-f")
        .arg("-e")
        .arg("trace=open,openat,openat2,creat,open_by_handle_at,recvmsg")
        .arg("-e")
        .arg("signal=none")
        .arg("-o")
        .arg(&log)
        .arg("-p")
        .arg(child.id().to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn strace");
    // strace says on stderr when it has attached to every thread; nothing is judged before.
    let attached = {
        use std::io::BufRead;
        let err = strace.stderr.take().expect("strace stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("attached") {
                    let _ = tx.send(line);
                }
            }
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
    };
    if attached.is_err() {
        // Nothing may be left spinning for the tests that follow.
        let _ = child.kill();
        let _ = strace.kill();
        let _ = child.wait();
        let _ = strace.wait();
        panic!("strace did not attach to the sandbox in 60 s: nothing can be judged");
    }
    std::fs::write(dir.join("vol/go"), "").expect("write");
    let status = wait_timeout(&mut child, 30).expect("the sandbox ended");
    let _ = wait_timeout(&mut strace, 10);
    let trace = std::fs::read_to_string(&log).expect("strace log");
    assert!(status.success(), "{trace}");
    assert_eq!(
        std::fs::read_to_string(dir.join("vol/out")).expect("out"),
        "data\n"
    );
    let opens: Vec<&str> = trace
        .lines()
        .filter(|l| {
            [
                "open(",
                "openat(",
                "openat2(",
                "creat(",
                "open_by_handle_at(",
                "open resumed",
                "openat resumed",
                "openat2 resumed",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .collect();
    assert!(
        opens.is_empty(),
        "the sentry opened host paths:\n{}",
        opens.join("\n")
    );
    assert!(
        trace.contains("recvmsg"),
        "no gofer traffic was traced:\n{trace}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A walk of more directories than the gofer may hold descriptors: the overlay's cache of
/// host directories stays bounded (it once ran the gofer out of descriptors: EMFILE).
#[test]
fn a_walk_of_many_directories_under_a_low_descriptor_limit() {
    let count = |cmd: &mut std::process::Command| {
        let out = tests::execute(std::mem::replace(cmd, std::process::Command::new("true")));
        assert_eq!(out.status, 0, "{out:?}");
        assert!(out.stderr.is_empty(), "{out:?}");
        out.stdout
    };
    let native = count(
        std::process::Command::new("sh").args(["-c", "ulimit -n 256 && find /usr -type d | wc -l"]),
    );
    let script = format!(
        "ulimit -n 256 && exec {} run --cwd / /bin/sh -c 'find /usr -type d | wc -l'",
        tests::sandbox_bin().display()
    );
    let sandboxed = count(std::process::Command::new("sh").args(["-c", &script]));
    assert_eq!(native, sandboxed);
}

/// With a low soft descriptor limit (and a higher hard one), a program opening host files
/// stops at its own limit, as natively: the sentry, which holds a host descriptor for each,
/// raises its own soft limit and does not run out first.
#[test]
fn open_files_up_to_a_low_soft_limit() {
    let guest = tests::guest("fd_limit", tests::Linkage::Static);
    let run = |sandboxed: bool| {
        let inner = if sandboxed {
            format!(
                "{} run --host-root {} --cwd / {}",
                tests::sandbox_bin().display(),
                tests::tmp_volumes().join(" "),
                guest.display()
            )
        } else {
            guest.display().to_string()
        };
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", &format!("ulimit -Sn 256 && exec {inner}")]);
        tests::execute(cmd)
    };
    let (native, sandboxed) = (run(false), run(true));
    assert_eq!(native.status, 0, "{native:?}");
    assert_eq!(native.stdout, sandboxed.stdout, "{sandboxed:?}");
    assert_eq!(sandboxed.status, 0, "{sandboxed:?}");
}

/// A program opens host files on a volume until its RLIMIT_NOFILE: it gets EMFILE from the
/// sandbox's table at exactly the limit (not from the sentry's or the gofer's host table
/// first: each held a host descriptor per file, the gofer two in a subdirectory), a child
/// forked then can still close one and open another, and closing them all at once (24,000
/// fids for the gofer to forget) leaves the sandbox working.
#[test]
fn a_volume_holds_files_up_to_the_open_file_limit() {
    let dir = scratch("nofile");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    let vol = format!("{}:/vol", dir.display());
    let script = r#"
import errno, os
fds = []
try:
    while True:
        fds.append(os.open("f%d" % len(fds), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644))
except OSError as e:
    print("stopped", errno.errorcode[e.errno], "at fd", fds[-1] + 1)
pid = os.fork()
if pid == 0:
    os.close(fds[0])
    os.close(os.open("child", os.O_CREAT | os.O_WRONLY, 0o644))
    os._exit(0)
print("child", os.waitpid(pid, 0)[1])
for fd in fds:
    os.close(fd)
with open("after", "w") as f:
    f.write("after\n")
print(open("after").read(), end="")
"#;
    // 12,000 files (24,000 fids for the gofer to forget at the end), or fewer where the host's
    // hard limit or what the sentry can hold (fs.nr_open in the sandbox) is lower.
    let number = |out: &[u8]| String::from_utf8_lossy(out).trim().parse::<u64>().ok();
    let hard = std::process::Command::new("/bin/sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .ok()
        .and_then(|o| number(&o.stdout))
        .unwrap_or(u64::MAX);
    let ceiling = number(
        sandbox_command(["run", "/bin/cat", "/proc/sys/fs/nr_open"])
            .stdout
            .as_bytes(),
    )
    .expect("nr_open");
    let n = 12_000.min(hard).min(ceiling).to_string();
    let want = format!("stopped EMFILE at fd {n}\nchild 0\nafter\n");
    // Natively first: the script is right about Linux.
    let native = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            "ulimit -n $1 && exec /usr/bin/python3 -c \"$0\"",
            script,
            &n,
        ])
        .current_dir(dir.join("sub"))
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&native.stdout), want, "{native:?}");
    for f in std::fs::read_dir(dir.join("sub")).expect("sub").flatten() {
        std::fs::remove_file(f.path()).expect("rm");
    }
    let mut args = vec!["run", "-v", &vol, "--cwd", "/vol/sub", "--open-files", &n];
    args.extend_from_slice(&["/usr/bin/python3", "-c", script]);
    let out = sandbox_command(args);
    assert_eq!(out.stdout, want, "{out:?}");
    assert_eq!(out.status, 0, "{out:?}");
    assert!(dir.join("sub/child").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
