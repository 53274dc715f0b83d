// SPDX-License-Identifier: Apache-2.0
//! The OCI runtime (issue 13; `loader/src/cli/oci.rs`, `loader/src/oci/`): runc's commands on a
//! busybox bundle made with `sandbox spec`. The bundle's process prints natively what it prints
//! in the container (differential); the lifecycle goes created -> running -> stopped as the
//! spec says, with the state's pid a host process that signals reach; errors are runc's; hooks
//! run with the state on their stdin; `delete` leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A bundle (busybox root, a config.json from `sandbox spec`) and a state root of its own.
struct Bundle {
    dir: PathBuf,
    root: PathBuf,
    // Containers of one id share a host cgroup (/sys/fs/cgroup/<controller>/<id>, as runc's
    // default path): the tests here, which all name theirs "c", run one at a time.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Bundle {
    fn new(name: &str) -> Bundle {
        tests::require_tool("/bin/busybox");
        let base = tests::host_visible_tmp(Path::new(env!("CARGO_TARGET_TMPDIR")));
        let dir = base.join(format!("sandbox-oci-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy busybox");
        for app in [
            "sh", "echo", "cat", "sleep", "hostname", "id", "ls", "true", "kill", "grep",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(app)).expect("symlink");
        }
        let b = Bundle {
            root: dir.join("state"),
            dir,
            _serial: SERIAL.lock().unwrap_or_else(|e| e.into_inner()),
        };
        let out = b.sandbox(&["spec"]);
        assert_eq!(out.status, 0, "{out}");
        b
    }

    /// `sandbox --root STATE ARGS` from the bundle directory.
    fn sandbox(&self, args: &[&str]) -> tests::Outcome {
        let mut cmd = Command::new(tests::sandbox_bin());
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(&self.dir);
        tests::execute(cmd)
    }

    /// `run --detach c`, its stdio /dev/null (run -d's stdio is the container's: nothing then
    /// waits on a pipe).
    fn run_detached(&self) {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!(
                "exec {} --root {} run --detach c >/dev/null 2>&1",
                tests::sandbox_bin().display(),
                self.root.display()
            ))
            .current_dir(&self.dir);
        let run = tests::execute(cmd);
        assert_eq!(run.status, 0, "{run}");
    }

    /// Rewrites config.json: `f` edits its JSON.
    fn config(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let p = self.dir.join("config.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
        v["process"]["terminal"] = serde_json::json!(false);
        f(&mut v);
        std::fs::write(&p, v.to_string()).expect("write");
    }

    fn script(&self, script: &str) {
        self.config(|v| v["process"]["args"] = serde_json::json!(["sh", "-c", script]));
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let out = self.sandbox(&["state", id]);
        assert_eq!(out.status, 0, "{out}");
        serde_json::from_str(&out.stdout).expect("state is JSON")
    }

    /// Waits until the container's status is `want`.
    fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let st = self.state(id);
            if st["status"] == want {
                return;
            }
            assert!(Instant::now() < deadline, "status stayed {st}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in ["c", "hooks", "dup"] {
            let _ = self.sandbox(&["delete", "--force", id]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn spec_then_run_prints_what_the_process_prints() {
    let b = Bundle::new("run");
    let script = "echo hello; echo $((6*7)); cat /etc/none 2>&1; exit 3";
    b.script(script);
    let mut native = Command::new("/bin/busybox");
    native.args(["sh", "-c", script]);
    let n = tests::execute(native);
    assert_eq!(n.status, 3, "{n}");
    let s = b.sandbox(&["run", "c"]);
    assert_eq!(s.stdout, n.stdout, "{s}");
    assert_eq!(s.status, 3, "{s}");
    // `run` deletes the container when it ends.
    assert_eq!(b.sandbox(&["list", "-q"]).stdout, "");
}

/// The container's mount table is config.json's, as runc makes it: after the root, each of
/// its mounts in its order, of the type and source it asks for, with its options (per-mount
/// flags, and the file system's own); /dev a tmpfs holding runc's device nodes and links.
#[test]
fn the_mount_table_is_config_jsons_in_order() {
    let b = Bundle::new("mounts");
    let data = b.dir.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("f"), "in data\n").expect("write");
    let motd = b.dir.join("motd");
    std::fs::write(&motd, "hello from the host\n").expect("write");
    b.config(|v| {
        v["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "cat /proc/self/mountinfo; echo --; ls -l /dev/ptmx /dev/null /dev/fd; cat /data/f; \
             echo x > /data/g 2>/dev/null || echo data-ro; cat /etc/motd; echo y > /etc/motd; \
             echo written > /written"
        ]);
        // A writable root is the bundle's, written through (as runc writes it).
        v["root"]["readonly"] = serde_json::json!(false);
        let mounts = v["mounts"].as_array_mut().expect("mounts");
        mounts.push(serde_json::json!({
            "destination": "/data", "type": "bind", "source": data.display().to_string(),
            "options": ["rbind", "ro"],
        }));
        mounts.push(serde_json::json!({
            "destination": "/mnt/t", "type": "tmpfs", "source": "mytmp",
            "options": ["nosuid", "nodev", "mode=700", "size=1m"],
        }));
        // One file: a copy, mounted over the file in the root (which it leaves alone).
        mounts.push(serde_json::json!({
            "destination": "/etc/motd", "type": "bind", "source": motd.display().to_string(),
            "options": ["rbind", "rw"],
        }));
    });
    let s = b.sandbox(&["run", "c"]);
    assert_eq!(s.status, 0, "{s}");
    let (table, rest) = s.stdout.split_once("--\n").expect("two parts");
    // mountinfo: ID PARENT MAJ:MIN ROOT POINT OPTS - TYPE SOURCE SUPER-OPTS
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0][4], "/", "{table}");
    let data_dir = data.display().to_string();
    let motd_path = motd.display().to_string();
    // (point, root, type, source, per-mount options, file system options): every mount
    // relatime unless config.json says strictatime (/dev) or noatime, as runc's are.
    let want = [
        ("/proc", "/", "proc", "proc", "rw,relatime", ""),
        ("/dev", "/", "tmpfs", "tmpfs", "rw,nosuid", "mode=755"),
        (
            "/dev/pts",
            "/",
            "devpts",
            "devpts",
            "rw,nosuid,noexec,relatime",
            "gid=5,mode=620,ptmxmode=666",
        ),
        (
            "/dev/shm",
            "/",
            "tmpfs",
            "shm",
            "rw,nosuid,nodev,noexec,relatime",
            "size=65536k",
        ),
        (
            "/dev/mqueue",
            "/",
            "mqueue",
            "mqueue",
            "rw,nosuid,nodev,noexec,relatime",
            "",
        ),
        (
            "/sys",
            "/",
            "sysfs",
            "sysfs",
            "ro,nosuid,nodev,noexec,relatime",
            "",
        ),
        (
            "/sys/fs/cgroup",
            "/",
            "cgroup",
            "cgroup",
            "ro,nosuid,nodev,noexec,relatime",
            "",
        ),
        ("/data", data_dir.as_str(), "", "", "ro,relatime", ""),
        (
            "/mnt/t",
            "/",
            "tmpfs",
            "mytmp",
            "rw,nosuid,nodev,relatime",
            "mode=700",
        ),
        ("/etc/motd", motd_path.as_str(), "", "", "rw,relatime", ""),
    ];
    for (i, (point, root, typ, source, opts, fs_opts)) in want.iter().enumerate() {
        let l = &lines[i + 1];
        assert_eq!((l[4], l[3]), (*point, *root), "mount {i}: {table}");
        assert_eq!(l[5], *opts, "{point}: {table}");
        if !typ.is_empty() {
            assert_eq!((l[7], l[8]), (*typ, *source), "{point}: {table}");
        }
        for o in fs_opts.split(',').filter(|o| !o.is_empty()) {
            assert!(l[9].split(',').any(|x| x == o), "{point} {o}: {table}");
        }
    }
    assert!(rest.contains("/dev/ptmx -> pts/ptmx"), "{s}");
    assert!(rest.contains("/dev/fd -> /proc/self/fd"), "{s}");
    assert!(
        rest.contains("crw-rw-rw-") && rest.contains("1,   3"),
        "{s}"
    );
    assert!(
        rest.ends_with("in data\ndata-ro\nhello from the host\n"),
        "{s}"
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert_eq!(read(&b.dir.join("rootfs/written")), "written\n");
    assert_eq!(read(&motd), "hello from the host\n");
    assert_eq!(read(&b.dir.join("rootfs/etc/motd")), "");
}

#[test]
fn the_config_is_honoured() {
    let b = Bundle::new("config");
    // A bind mount of one file (as engines add /etc/hosts): the sandbox has a copy.
    let hosts = b.dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 box1\n").expect("write");
    b.config(|v| {
        v["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "hostname; id -u; id -g; pwd; echo $FOO; echo x > /f 2>/dev/null || echo read-only; ls /mnt; cat /etc/hosts"
        ]);
        v["hostname"] = serde_json::json!("box1");
        v["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar"]);
        v["process"]["cwd"] = serde_json::json!("/bin");
        v["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 100});
        v["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(serde_json::json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs"}));
        v["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({
            "destination": "/etc/hosts",
            "type": "bind",
            "source": hosts.display().to_string(),
            "options": ["rbind", "ro"],
        }));
    });
    let s = b.sandbox(&["run", "--bundle", ".", "c"]);
    assert_eq!(
        s.stdout, "box1\n1000\n100\n/bin\nbar\nread-only\n127.0.0.1 box1\n",
        "{s}"
    );
    assert_eq!(s.status, 0, "{s}");
}

/// linux.maskedPaths and linux.readonlyPaths as runc applies them: a masked file reads empty
/// (/dev/null over it), a masked directory is empty and read-only, a read-only path refuses
/// writes (EROFS) while the rest of a writable root takes them; `sandbox spec`'s defaults make
/// /proc/sys read-only.
#[test]
fn masked_and_readonly_paths_are_honoured() {
    let b = Bundle::new("masks");
    std::fs::create_dir_all(b.dir.join("rootfs/secret")).expect("mkdir");
    std::fs::write(b.dir.join("rootfs/secret/key"), "k").expect("write");
    std::fs::write(b.dir.join("rootfs/token"), "t").expect("write");
    b.config(|v| {
        v["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "ls /secret; echo [$(cat /token)]; touch /secret/x 2>/dev/null || echo secret-ro; \
             touch /bin/x 2>/dev/null || echo bin-ro; touch /y && echo root-rw; \
             echo 1 > /proc/sys/kernel/shmmni 2>/dev/null || echo proc-sys-ro"
        ]);
        v["root"]["readonly"] = serde_json::json!(false);
        v["linux"]["maskedPaths"]
            .as_array_mut()
            .expect("maskedPaths")
            .extend([serde_json::json!("/secret"), serde_json::json!("/token")]);
        v["linux"]["readonlyPaths"]
            .as_array_mut()
            .expect("readonlyPaths")
            .push(serde_json::json!("/bin"));
    });
    let s = b.sandbox(&["run", "--bundle", ".", "c"]);
    assert_eq!(
        s.stdout, "[]\nsecret-ro\nbin-ro\nroot-rw\nproc-sys-ro\n",
        "{s}"
    );
    assert_eq!(s.status, 0, "{s}");
}

#[test]
fn rlimits_capabilities_no_new_privileges_and_sysctls_are_honoured() {
    let b = Bundle::new("process");
    b.config(|v| {
        v["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -c; grep -E '^(CapPrm|CapEff|NoNewPrivs)' /proc/self/status; \
             cat /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/ip_forward"
        ]);
        v["process"]["rlimits"] = serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        ]);
        v["process"]["noNewPrivileges"] = serde_json::json!(true);
        let caps = serde_json::json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        v["process"]["capabilities"] = serde_json::json!({
            "bounding": caps, "effective": caps, "permitted": caps,
        });
        v["linux"]["sysctl"] = serde_json::json!({
            "net.ipv4.ping_group_range": "0 0",
            "net.ipv4.ip_forward": "1",
        });
    });
    let s = b.sandbox(&["run", "c"]);
    assert_eq!(
        s.stdout,
        "1024\n2048\n0\nCapPrm:\t0000000000000420\nCapEff:\t0000000000000420\nNoNewPrivs:\t1\n0\t0\n1\n",
        "{s}"
    );
    assert_eq!(s.status, 0, "{s}");
}

#[test]
fn the_lifecycle_is_the_specs() {
    let b = Bundle::new("life");
    b.script("echo started; trap 'echo got-term; exit 7' TERM; while true; do sleep 0.05; done");
    let out_file = b.dir.join("out.txt");
    let pid_file = b.dir.join("pid");
    // create's stdout is the container's: a file here, so nothing waits on a pipe.
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "exec {} --root {} create --pid-file {} c > {} 2>&1",
            tests::sandbox_bin().display(),
            b.root.display(),
            pid_file.display(),
            out_file.display()
        ))
        .current_dir(&b.dir);
    let out = tests::execute(cmd);
    assert_eq!(
        out.status,
        0,
        "{out}: {}",
        std::fs::read_to_string(&out_file).unwrap_or_default()
    );
    let st = b.state("c");
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], "c");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .parse()
        .expect("pid");
    assert_eq!(st["pid"], pid);
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap_or_default(),
        "",
        "ran before start"
    );
    // A second create of the same id is refused.
    let dup = b.sandbox(&["create", "c"]);
    assert_eq!(dup.status, 1, "{dup}");
    assert!(dup.stderr.contains("container with id exists"), "{dup}");
    let start = b.sandbox(&["start", "c"]);
    assert_eq!(start.status, 0, "{start}");
    b.wait_status("c", "running");
    let again = b.sandbox(&["start", "c"]);
    assert_ne!(again.status, 0, "{again}");
    let list = b.sandbox(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list.stdout).expect("list is JSON");
    assert_eq!(v[0]["id"], "c", "{list}");
    let ps = b.sandbox(&["ps", "--format", "json", "c"]);
    let pids: Vec<i32> = serde_json::from_str(&ps.stdout).expect("ps is JSON");
    assert_eq!(pids.first(), Some(&pid), "{ps}");
    let busy = b.sandbox(&["delete", "c"]);
    assert_eq!(busy.status, 1, "{busy}");
    assert!(busy.stderr.contains("not stopped"), "{busy}");
    // Wait until the program has started (its trap is set) before signalling it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&out_file)
        .unwrap_or_default()
        .contains("started")
    {
        assert!(Instant::now() < deadline, "the program never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = b.sandbox(&["kill", "c", "TERM"]);
    assert_eq!(kill.status, 0, "{kill}");
    b.wait_status("c", "stopped");
    assert_eq!(b.state("c")["pid"], 0);
    assert_eq!(
        std::fs::read_to_string(&out_file).expect("out"),
        "started\ngot-term\n"
    );
    let del = b.sandbox(&["delete", "c"]);
    assert_eq!(del.status, 0, "{del}");
    assert!(!b.root.join("c").exists());
    let gone = b.sandbox(&["state", "c"]);
    assert_eq!(gone.status, 1, "{gone}");
    assert!(gone.stderr.contains("does not exist"), "{gone}");
}

#[test]
fn delete_force_ends_a_running_container() {
    let b = Bundle::new("force");
    b.script("sleep 1000");
    b.run_detached();
    let pid = b.state("c")["pid"].as_i64().expect("pid") as i32;
    let del = b.sandbox(&["delete", "--force", "c"]);
    assert_eq!(del.status, 0, "{del}");
    assert!(
        !Path::new(&format!("/proc/{pid}/status")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            s.contains("zombie")
        }
    );
    assert_eq!(b.sandbox(&["list", "-q"]).stdout, "");
}

/// linux.cgroupsPath and linux.resources make the container's host cgroup, as runc makes it:
/// the sandbox's host processes are in it from the start (so the engine accounts them), the
/// limits are in its files (v1 controllers or v2, whichever the host has), `update` writes them
/// anew (and `events --stats` reads them), and `delete` removes the cgroup. process.oomScoreAdj
/// is the program's and the sandbox's host processes'.
#[test]
fn resources_are_the_containers_host_cgroup() {
    let b = Bundle::new("cgroup");
    let path = format!("/sandbox-test-{}/c", std::process::id());
    let cg_path = path.clone();
    b.config(|v| {
        v["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        v["linux"]["cgroupsPath"] = serde_json::json!(cg_path);
        v["process"]["oomScoreAdj"] = serde_json::json!(500);
        v["linux"]["resources"] = serde_json::json!({
            "memory": {"limit": 268_435_456},
            "pids": {"limit": 1000},
            "cpu": {"shares": 512, "quota": 50_000, "period": 100_000},
        });
    });
    b.run_detached();
    let pid = b.state("c")["pid"].as_i64().expect("pid");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    // cgroup v1 (a memory controller mount) or v2 (the unified hierarchy).
    let v1 = own.lines().any(|l| l.contains(":memory:"));
    let file = |ctrl: &str, name: &str| -> PathBuf {
        if v1 {
            PathBuf::from(format!("/sys/fs/cgroup/{ctrl}{path}/{name}"))
        } else {
            PathBuf::from(format!("/sys/fs/cgroup{path}/{name}"))
        }
    };
    let read = |ctrl: &str, name: &str| {
        let p = file(ctrl, name);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .trim()
            .to_string()
    };
    for ctrl in ["memory", "pids", "cpu"] {
        let want = if v1 {
            format!(":{ctrl}:{path}")
        } else {
            format!("0::{path}")
        };
        assert!(
            own.lines().any(|l| l.ends_with(&want) && (v1 || l == want)),
            "{ctrl}: {own}"
        );
    }
    // process.oomScoreAdj: the program's, and the sandbox's host processes' (runc's too).
    let host_adj = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).expect("adj");
    assert_eq!(host_adj, "500\n");
    let adj = b.sandbox(&["exec", "c", "cat", "/proc/1/oom_score_adj"]);
    assert_eq!(adj.stdout, "500\n", "{adj}");
    // Every host process of the sandbox's is in it (the gofer, the program's).
    let procs = read("pids", "cgroup.procs");
    let in_cgroup: Vec<&str> = procs.lines().collect();
    assert!(in_cgroup.contains(&pid.to_string().as_str()), "{procs}");
    assert!(in_cgroup.len() >= 3, "the gofer and the program: {procs}");
    if v1 {
        assert_eq!(read("memory", "memory.limit_in_bytes"), "268435456");
        assert_eq!(read("pids", "pids.max"), "1000");
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(read("memory", "memory.max"), "268435456");
        assert_eq!(read("pids", "pids.max"), "1000");
        assert_eq!(read("cpu", "cpu.max"), "50000 100000");
    }
    let up = b.sandbox(&["update", "--memory", "128m", "--pids-limit", "500", "c"]);
    assert_eq!(up.status, 0, "{up}");
    let mem_file = if v1 {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    assert_eq!(read("memory", mem_file), "134217728");
    assert_eq!(read("pids", "pids.max"), "500");
    let stats = b.sandbox(&["events", "--stats", "c"]);
    let v: serde_json::Value = serde_json::from_str(&stats.stdout).expect("stats are JSON");
    assert_eq!(
        v["data"]["memory"]["usage"]["limit"], 134_217_728,
        "{stats}"
    );
    assert!(
        v["data"]["memory"]["usage"]["usage"].as_u64() > Some(0),
        "{stats}"
    );
    assert_eq!(v["data"]["pids"]["limit"], 500, "{stats}");
    let bad = b.sandbox(&["update", "--memory", "lots", "c"]);
    assert_eq!(bad.status, 1, "{bad}");
    assert!(bad.stderr.contains("--memory"), "{bad}");
    let del = b.sandbox(&["delete", "--force", "c"]);
    assert_eq!(del.status, 0, "{del}");
    assert!(!file("memory", "").exists(), "the cgroup is left");
    let stopped = b.sandbox(&["update", "--memory", "1m", "c"]);
    assert_ne!(stopped.status, 0, "{stopped}");
    // The level above is not the container's (runc leaves it too): the test's to remove.
    let parent = format!("/sandbox-test-{}", std::process::id());
    for d in std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroup fs")
        .flatten()
    {
        let _ = std::fs::remove_dir(format!("{}{parent}", d.path().display()));
    }
    let _ = std::fs::remove_dir(format!("/sys/fs/cgroup{parent}"));
}

/// The container's process is its pid namespace's init, as under runc: a signal it has not
/// asked for is dropped, whether from inside (even SIGKILL) or from `kill` outside (all but
/// SIGKILL and SIGSTOP), so a `sleep` as PID 1 outlives SIGTERM, and `kill c KILL` ends it.
#[test]
fn the_containers_process_is_a_protected_init() {
    let b = Bundle::new("init");
    b.config(|v| v["process"]["args"] = serde_json::json!(["sleep", "1000"]));
    b.run_detached();
    for sig in ["TERM", "KILL", "SEGV", "STOP"] {
        let k = b.sandbox(&["exec", "c", "kill", &format!("-{sig}"), "1"]);
        assert_eq!(k.status, 0, "{sig}: {k}");
    }
    for sig in ["TERM", "INT", "HUP"] {
        let k = b.sandbox(&["kill", "c", sig]);
        assert_eq!(k.status, 0, "{sig}: {k}");
    }
    // Give a signal that was not dropped time to act before looking.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.state("c")["status"], "running");
    let st = b.sandbox(&["exec", "c", "sh", "-c", "grep State /proc/1/status"]);
    assert_eq!(st.stdout, "State:\tS (sleeping)\n", "{st}");
    let kill = b.sandbox(&["kill", "c", "KILL"]);
    assert_eq!(kill.status, 0, "{kill}");
    b.wait_status("c", "stopped");
}

/// `exec` runs a process in the running container, beside its first one: the container's
/// files and processes, the given environment, directory and user, no parent in the sandbox
/// (getppid 0, as under runc), the status as the exec's own, signals to `exec` delivered to
/// the process, `--detach` leaving a host process that ends with it, `--tty` a terminal of the
/// sandbox's; refused before `start` and after the container stops, and a missing program is
/// runc's message.
#[test]
fn exec_runs_a_process_in_the_running_container() {
    let b = Bundle::new("exec");
    b.script("echo first > /dev/shm/mark; exec sleep 1000");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "exec {} --root {} create c >/dev/null 2>&1",
            tests::sandbox_bin().display(),
            b.root.display()
        ))
        .current_dir(&b.dir);
    let out = tests::execute(cmd);
    assert_eq!(out.status, 0, "{out}");
    let early = b.sandbox(&["exec", "c", "true"]);
    assert_eq!(early.status, 1, "{early}");
    assert!(early.stderr.contains("has not started"), "{early}");
    assert_eq!(b.sandbox(&["start", "c"]).status, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = b.sandbox(&["exec", "c", "cat", "/dev/shm/mark"]);
        if out.stdout == "first\n" {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = b.sandbox(&[
        "exec",
        "c",
        "sh",
        "-c",
        "echo in:$PPID; cat /proc/1/comm; set -- /proc/[0-9]*; echo $#; exit 4",
    ]);
    assert_eq!(out.stdout, "in:0\nsleep\n2\n", "{out}");
    assert_eq!(out.status, 4, "{out}");
    let out = b.sandbox(&[
        "exec",
        "-e",
        "A=b",
        "--cwd",
        "/bin",
        "--user",
        "1000:1000",
        "c",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u):$(id -g)",
    ]);
    assert_eq!(out.stdout, "b /bin 1000:1000\n", "{out}");
    let missing = b.sandbox(&["exec", "c", "nosuch"]);
    assert_eq!(missing.status, 1, "{missing}");
    assert!(
        missing
            .stderr
            .contains("executable file not found in $PATH"),
        "{missing}"
    );
    // A signal to exec is the process's.
    let mut child = Command::new(tests::sandbox_bin())
        .arg("--root")
        .arg(&b.root)
        .args(["exec", "c", "sleep", "100"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("exec");
    let deadline = Instant::now() + Duration::from_secs(20);
    while b
        .sandbox(&["exec", "c", "sh", "-c", "set -- /proc/[0-9]*; echo $#"])
        .stdout
        != "3\n"
    {
        assert!(Instant::now() < deadline, "the exec'd sleep never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child, not yet waited for, with a valid signal.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait().expect("wait");
    assert_eq!(st.code(), Some(143), "{st:?}");
    // --detach: a host process stands for the exec'd one, and ends with it.
    let pid_file = b.dir.join("exec.pid");
    let out = b.sandbox(&[
        "exec",
        "--detach",
        "--pid-file",
        &pid_file.to_string_lossy(),
        "c",
        "sh",
        "-c",
        "sleep 0.3; exit 5",
    ]);
    assert_eq!(out.status, 0, "{out}");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .parse()
        .expect("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{pid}/cmdline")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .contains("zombie")
    {
        assert!(Instant::now() < deadline, "the detached exec never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    // --tty without a console socket: this terminal (script(1) makes one), raw meanwhile,
    // bridged to a pty of the sandbox's that is the process's controlling terminal.
    tests::require_tool("/usr/bin/script");
    let mut cmd = Command::new("script");
    cmd.args([
        "-qec",
        &format!(
            "{} --root {} exec -t c sh -c 'tty; exit 3'",
            tests::sandbox_bin().display(),
            b.root.display()
        ),
        "/dev/null",
    ])
    .stdin(std::process::Stdio::null());
    let out = tests::execute(cmd);
    assert!(out.stdout.contains("/dev/pts/0\r\n"), "{out}");
    assert_eq!(out.status, 3, "{out}");
    let detached_tty = b.sandbox(&["exec", "-d", "-t", "c", "true"]);
    assert_eq!(detached_tty.status, 1, "{detached_tty}");
    assert!(
        detached_tty.stderr.contains("console socket"),
        "{detached_tty}"
    );
    let del = b.sandbox(&["delete", "--force", "c"]);
    assert_eq!(del.status, 0, "{del}");
    let late = b.sandbox(&["exec", "c", "true"]);
    assert_eq!(late.status, 1, "{late}");
}

/// `pause` freezes the whole sandbox (the program writes nothing until `resume`, and sees no
/// signal or stop), `state` says "paused" meanwhile; `events --stats` is runc's JSON; exec is
/// refused while paused; `resume` of a running container and `pause` of a stopped one are
/// errors; a paused container can be deleted with --force.
#[test]
fn pause_freezes_and_resume_thaws() {
    let b = Bundle::new("pause");
    b.script("trap 'echo got-signal' CONT TSTP; while true; do echo x; sleep 0.02; done");
    let out_file = b.dir.join("out.txt");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "exec {} --root {} run --detach c > {} 2>&1",
            tests::sandbox_bin().display(),
            b.root.display(),
            out_file.display()
        ))
        .current_dir(&b.dir);
    let out = tests::execute(cmd);
    assert_eq!(out.status, 0, "{out}");
    let lines = || {
        std::fs::read_to_string(&out_file)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let wait_growth = |from: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while lines() <= from {
            assert!(Instant::now() < deadline, "the program never wrote");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_growth(0);
    let again = b.sandbox(&["resume", "c"]);
    assert_eq!(again.status, 1, "{again}");
    assert!(again.stderr.contains("not paused"), "{again}");
    let pause = b.sandbox(&["pause", "c"]);
    assert_eq!(pause.status, 0, "{pause}");
    assert_eq!(b.state("c")["status"], "paused");
    // A write under way when the freeze came finishes; nothing after it.
    std::thread::sleep(Duration::from_millis(100));
    let frozen = lines();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(), frozen, "the program ran while paused");
    let exec = b.sandbox(&["exec", "c", "true"]);
    assert_eq!(exec.status, 1, "{exec}");
    assert!(exec.stderr.contains("paused"), "{exec}");
    let stats = b.sandbox(&["events", "--stats", "c"]);
    assert_eq!(stats.status, 0, "{stats}");
    let v: serde_json::Value = serde_json::from_str(&stats.stdout).expect("events is JSON");
    assert_eq!(v["type"], "stats", "{stats}");
    assert_eq!(v["id"], "c", "{stats}");
    assert!(v["data"]["pids"]["current"].as_u64() >= Some(1), "{stats}");
    let resume = b.sandbox(&["resume", "c"]);
    assert_eq!(resume.status, 0, "{resume}");
    assert_eq!(b.state("c")["status"], "running");
    wait_growth(frozen);
    assert!(
        !std::fs::read_to_string(&out_file)
            .unwrap_or_default()
            .contains("got-signal"),
        "the program saw a signal"
    );
    let pause = b.sandbox(&["pause", "c"]);
    assert_eq!(pause.status, 0, "{pause}");
    let del = b.sandbox(&["delete", "--force", "c"]);
    assert_eq!(del.status, 0, "{del}");
    let late = b.sandbox(&["pause", "c"]);
    assert_eq!(late.status, 1, "{late}");
}

#[test]
fn bad_bundles_and_ids_are_refused_with_nothing_left() {
    let b = Bundle::new("bad");
    b.config(|v| v["process"]["args"] = serde_json::json!(["no-such-program"]));
    let out = b.sandbox(&["create", "c"]);
    assert_eq!(out.status, 1, "{out}");
    assert!(out.stderr.contains("executable file not found"), "{out}");
    assert_eq!(b.sandbox(&["list", "-q"]).stdout, "");
    let out = b.sandbox(&["create", "a/b"]);
    assert_eq!(out.status, 1, "{out}");
    assert!(out.stderr.contains("invalid container id"), "{out}");
    let out = b.sandbox(&["kill", "c", "NOPE"]);
    assert_eq!(out.status, 1, "{out}");
    b.config(|v| {
        v["process"]["args"] = serde_json::json!(["true"]);
        v["process"]["terminal"] = serde_json::json!(true);
    });
    let out = b.sandbox(&["create", "c"]);
    assert_eq!(out.status, 1, "{out}");
    assert!(out.stderr.contains("console socket"), "{out}");
    assert_eq!(b.sandbox(&["list", "-q"]).stdout, "");
    let out = b.sandbox(&["exec", "c", "true"]);
    assert_eq!(out.status, 1, "{out}");
    // A namespace path of another type than it is given as (runc refuses it too).
    b.config(|v| {
        v["process"]["args"] = serde_json::json!(["true"]);
        v["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(serde_json::json!({"type": "cgroup", "path": "/proc/self/ns/net"}));
    });
    let out = b.sandbox(&["create", "c"]);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        out.stderr
            .contains("/proc/self/ns/net: a network namespace, given as cgroup"),
        "{out}"
    );
    assert_eq!(b.sandbox(&["list", "-q"]).stdout, "");
}

#[test]
fn hooks_run_with_the_state_on_stdin() {
    let b = Bundle::new("hooks");
    let log = b.dir.join("hooks.log");
    let hook = |name: &str| {
        serde_json::json!([{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo {name} $(cat) >> {}", log.display())],
        }])
    };
    b.config(|v| {
        v["process"]["args"] = serde_json::json!(["true"]);
        v["hooks"] = serde_json::json!({
            "createRuntime": hook("createRuntime"),
            "poststart": hook("poststart"),
            "poststop": hook("poststop"),
        });
    });
    let out = b.sandbox(&["run", "hooks"]);
    assert_eq!(out.status, 0, "{out}");
    let text = std::fs::read_to_string(&log).expect("hooks ran");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, (name, status)) in lines.iter().zip([
        ("createRuntime", "creating"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ]) {
        let (n, json) = line.split_once(' ').expect("name and state");
        assert_eq!(n, name);
        let st: serde_json::Value = serde_json::from_str(json).expect("state JSON");
        assert_eq!(st["id"], "hooks");
        assert_eq!(st["status"], status);
    }
}

#[test]
fn features_and_spec_are_json() {
    let out = tests::sandbox_command(["features"]);
    assert_eq!(out.status, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(v["ociVersionMin"], "1.0.0");
    let b = Bundle::new("spec");
    let again = b.sandbox(&["spec"]);
    assert_eq!(again.status, 1, "{again}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.dir.join("config.json")).expect("read"))
            .expect("JSON");
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"][0], "sh");
}
