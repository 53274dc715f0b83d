// SPDX-License-Identifier: Apache-2.0
//! procfs, generated from the sentry's own state: nothing of the host's /proc shows through
//! (the CPU description excepted, read once at start-up).

mod kconfig;
pub mod mem;
pub(crate) mod nodes;
mod pid;
pub mod procmap;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use self::nodes::{fixed_dir, Gen, GenDir, GenFile, GenLink};
use crate::kernel::block::{current, current_kernel};
use crate::kernel::{lock, Kernel};
use crate::vfs::inode::synthetic_statfs;
use crate::vfs::{Filesystem, Inode};
use std::sync::atomic::{AtomicU64, Ordering};

/// The kernel serving the current thread (procfs is read by tasks).
fn kernel() -> Result<Arc<Kernel>, Errno> {
    current_kernel().ok_or(Errno::ENOENT)
}

fn text(s: String) -> Result<Vec<u8>, Errno> {
    Ok(s.into_bytes())
}

/// The proc file system.
pub struct ProcFs {
    dev: u64,
    root: Arc<dyn Inode>,
}

/// Values written to /proc/sys files, by path.
type SysValues = Arc<Mutex<HashMap<&'static str, Vec<u8>>>>;

/// The /proc/sys settings written in this sandbox: the kernel's own, shared by every mount
/// of proc (one sentry serves one sandbox).
fn sys_values() -> SysValues {
    static VALUES: std::sync::OnceLock<SysValues> = std::sync::OnceLock::new();
    VALUES
        .get_or_init(|| Arc::new(Mutex::new(HashMap::new())))
        .clone()
}

/// A numeric /proc/sys setting as written (`path` under /proc/sys), or `default`.
pub fn sysctl_u64(path: &str, default: u64) -> u64 {
    let values = sys_values();
    let v = lock(&values);
    v.get(path)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// fs.nr_open: the most descriptors a process may have (RLIMIT_NOFILE's ceiling); by default
/// what the sentry can hold ([`crate::limits::open_files`]).
pub fn nr_open() -> u64 {
    sysctl_u64("fs/nr_open", crate::limits::open_files())
}

impl ProcFs {
    /// A procfs with device number `dev`.
    pub fn new(dev: u64) -> Arc<ProcFs> {
        let root = root_dir(dev, sys_values());
        Arc::new(ProcFs { dev, root })
    }

    /// Its device number.
    pub fn dev(&self) -> u64 {
        self.dev
    }
}

impl Filesystem for ProcFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn name(&self) -> &'static str {
        "proc"
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        Ok(synthetic_statfs(PROC_SUPER_MAGIC))
    }
}

type Maker = Arc<dyn Fn() -> Arc<dyn Inode> + Send + Sync>;

fn file(
    dev: u64,
    ino: u64,
    gen: impl Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static,
) -> Maker {
    let gen: Gen = Arc::new(gen);
    Arc::new(move || GenFile::ro(dev, ino, gen.clone()))
}

/// A /proc/sys file of two numbers (ip_local_port_range, ping_group_range): root may write
/// two numbers `set` accepts (EINVAL otherwise).
fn range_file<T: std::fmt::Display + Send + Sync + 'static>(
    dev: u64,
    ino: u64,
    get: fn() -> (T, T),
    set: fn(i64, i64) -> Option<()>,
) -> Maker {
    Arc::new(move || {
        GenFile::rw(
            dev,
            ino,
            Arc::new(move || {
                let (a, b) = get();
                text(format!("{a}\t{b}\n"))
            }),
            Arc::new(move |v: &[u8]| {
                if !caller_is_root() {
                    return Err(Errno::EACCES);
                }
                let s = std::str::from_utf8(v).map_err(|_| Errno::EINVAL)?;
                let mut w = s.split_whitespace().map(|x| x.parse::<i64>());
                match (w.next(), w.next()) {
                    (Some(Ok(a)), Some(Ok(b))) => set(a, b).ok_or(Errno::EINVAL),
                    _ => Err(Errno::EINVAL),
                }
            }),
        )
    })
}

/// /proc/sys/kernel/hostname and domainname: the sandbox's UTS names (root may write them,
/// as sethostname(2); a trailing newline is not part of the name).
fn uts_file(dev: u64, ino: u64, domain: bool) -> Maker {
    Arc::new(move || {
        GenFile::rw(
            dev,
            ino,
            Arc::new(move || {
                let k = kernel()?;
                let u = k.uts();
                let f = if domain { u.domainname } else { u.nodename };
                let n = f.iter().position(|b| *b == 0).unwrap_or(64);
                let mut v = f[..n].to_vec();
                v.push(b'\n');
                Ok(v)
            }),
            Arc::new(move |v: &[u8]| {
                if !caller_is_root() {
                    return Err(Errno::EACCES);
                }
                let v = v.strip_suffix(b"\n").unwrap_or(v);
                if v.len() > 64 {
                    return Err(Errno::EINVAL);
                }
                kernel()?.set_uts_name(v, domain);
                Ok(())
            }),
        )
    })
}

/// /proc/sys/fs/lease-break-time: the lock module's own setting (root may write a number of
/// seconds).
fn lease_break_time_file(dev: u64, ino: u64) -> Maker {
    Arc::new(move || {
        GenFile::rw(
            dev,
            ino,
            Arc::new(|| Ok(format!("{}\n", crate::vfs::lock::lease_break_time()).into_bytes())),
            Arc::new(|v: &[u8]| {
                if !caller_is_root() {
                    return Err(Errno::EACCES);
                }
                let secs: u64 = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .ok_or(Errno::EINVAL)?
                    .max(0) as u64;
                crate::vfs::lock::set_lease_break_time(secs);
                Ok(())
            }),
        )
    })
}

/// A /proc/sys file: its default value, overridden by what root writes.
fn sysfile(
    dev: u64,
    ino: u64,
    sys: &SysValues,
    path: &'static str,
    default: impl Fn() -> String + Send + Sync + 'static,
) -> Maker {
    let (s1, s2) = (sys.clone(), sys.clone());
    let default = Arc::new(default);
    Arc::new(move || {
        let (s1, s2, d) = (s1.clone(), s2.clone(), default.clone());
        GenFile::rw(
            dev,
            ino,
            Arc::new(move || {
                Ok(lock(&s1)
                    .get(path)
                    .cloned()
                    .unwrap_or_else(|| format!("{}\n", d()).into_bytes()))
            }),
            Arc::new(move |v: &[u8]| {
                if !caller_is_root() {
                    return Err(Errno::EACCES);
                }
                // Read back as Linux prints a setting: one line, whatever ended the write.
                let mut v = v.strip_suffix(b"\n").unwrap_or(v).to_vec();
                v.push(b'\n');
                lock(&s2).insert(path, v);
                if path == "vm/drop_caches" {
                    // Evictable fanotify marks go with the inodes they would let go.
                    crate::vfs::fanotify::drop_caches();
                }
                Ok(())
            }),
        )
    })
}

fn root_dir(dev: u64, sys: SysValues) -> Arc<dyn Inode> {
    let mut statics: Vec<(&'static str, Maker)> = vec![
        ("meminfo", file(dev, 2, meminfo)),
        (
            "cpuinfo",
            file(dev, 3, || Ok(crate::host::cpuinfo().to_vec())),
        ),
        ("stat", file(dev, 4, stat)),
        (
            "uptime",
            file(dev, 5, || {
                let k = kernel()?;
                // The reader's time namespace moves it by its CLOCK_BOOTTIME offset.
                let off = crate::kernel::timens::current_offset(syscalls::abi::CLOCK_BOOTTIME);
                let up = k.boot.elapsed().as_secs_f64() + off as f64 / 1e9;
                text(format!("{up:.2} {:.2}\n", up * 0.9))
            }),
        ),
        (
            "loadavg",
            file(dev, 6, || {
                let k = kernel()?;
                let tree = lock(&k.tree);
                text(format!(
                    "0.00 0.00 0.00 1/{} {}\n",
                    tree.threads.len(),
                    tree.threads.keys().max().copied().unwrap_or(1)
                ))
            }),
        ),
        (
            "version",
            file(dev, 7, || {
                let k = kernel()?;
                let s = |f: &[u8; 65]| {
                    String::from_utf8_lossy(&f[..f.iter().position(|b| *b == 0).unwrap_or(65)])
                        .into_owned()
                };
                text(format!(
                    "Linux version {} (sandbox@sandbox) (gcc) {}\n",
                    s(&k.uts().release),
                    s(&k.uts().version)
                ))
            }),
        ),
        (
            "filesystems",
            file(dev, 8, || {
                let mut s = String::new();
                for f in crate::fsimpl::FILESYSTEMS {
                    s.push_str(if f.nodev { "nodev" } else { "" });
                    s.push('\t');
                    s.push_str(f.name);
                    s.push('\n');
                }
                text(s)
            }),
        ),
        ("cmdline", file(dev, 9, || text("sandbox\n".into()))),
        (
            "config.gz",
            file(dev, 14, || {
                let k = kernel()?;
                let u = k.uts();
                let n = u.release.iter().position(|b| *b == 0).unwrap_or(65);
                Ok(kconfig::gz(&String::from_utf8_lossy(&u.release[..n])))
            }),
        ),
        ("kmsg", file(dev, 10, || Ok(Vec::new()))),
        (
            "partitions",
            file(dev, 0x2f0, || {
                // show_partition: disks with no capacity are left out.
                let mut out = String::from("major minor  #blocks  name\n\n");
                for d in crate::fsimpl::loopdev::devices() {
                    let size = d.size();
                    if size > 0 {
                        out.push_str(&format!(
                            "{:4}  {:7} {:10} loop{}\n",
                            LOOP_MAJOR,
                            d.number,
                            size >> 10,
                            d.number
                        ));
                    }
                }
                text(out)
            }),
        ),
    ];
    let net_dir = net_dir(dev);
    statics.push(("net", Arc::new(move || net_dir.clone())));
    statics.push((
        "mounts",
        Arc::new(move || GenLink::new(dev, 11, Arc::new(|| Ok(b"self/mounts".to_vec())))),
    ));
    statics.push((
        "self",
        Arc::new(move || {
            GenLink::new(
                dev,
                12,
                Arc::new(|| {
                    let t = current().ok_or(Errno::ENOENT)?;
                    Ok(t.tg.tgid.to_string().into_bytes())
                }),
            )
        }),
    ));
    statics.push((
        "thread-self",
        Arc::new(move || {
            GenLink::new(
                dev,
                13,
                Arc::new(|| {
                    let t = current().ok_or(Errno::ENOENT)?;
                    Ok(format!("{}/task/{}", t.tg.tgid, t.tid).into_bytes())
                }),
            )
        }),
    ));
    let sysvipc = fixed_dir(
        dev,
        0x2a0,
        vec![
            (
                "msg",
                file(dev, 0x2a1, || text(crate::ipc::msg::proc_text())),
            ),
            (
                "sem",
                file(dev, 0x2a2, || text(crate::ipc::sem::proc_text())),
            ),
            (
                "shm",
                file(dev, 0x2a3, || text(crate::ipc::shm::proc_text())),
            ),
        ],
    );
    statics.push(("sysvipc", Arc::new(move || sysvipc.clone())));
    statics.push((
        "keys",
        file(dev, 0x2b0, || {
            let creds = current()
                .and_then(|t| lock(&t.info).as_ref().map(|i| i.creds.clone()))
                .ok_or(Errno::ENOENT)?;
            text(crate::kernel::keys::proc_keys(&creds))
        }),
    ));
    statics.push((
        "key-users",
        file(dev, 0x2b1, || text(crate::kernel::keys::proc_key_users())),
    ));
    let sys_dir = sys_tree(dev, sys);
    statics.push(("sys", Arc::new(move || sys_dir.clone())));
    let statics = Arc::new(statics);
    let s2 = statics.clone();
    GenDir::new(
        dev,
        1,
        Arc::new(move || {
            let mut out: Vec<(Vec<u8>, u64, u8)> = statics
                .iter()
                .map(|(n, make)| {
                    let st = make().stat().unwrap_or_default();
                    (
                        n.as_bytes().to_vec(),
                        st.st_ino,
                        crate::vfs::dtype_of(st.st_mode),
                    )
                })
                .collect();
            if let Ok(k) = kernel() {
                for pid in lock(&k.tree).procs.keys() {
                    out.push((pid.to_string().into_bytes(), pid::ino(*pid, 0), DT_DIR));
                }
            }
            out
        }),
        Arc::new(move |name| {
            if let Some((_, make)) = s2.iter().find(|(n, _)| n.as_bytes() == name) {
                return Ok(make());
            }
            let pid: i32 = std::str::from_utf8(name)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Errno::ENOENT)?;
            let k = kernel()?;
            let tree = lock(&k.tree);
            if tree.procs.contains_key(&pid) {
                drop(tree);
                return Ok(pid::process_dir(dev, pid));
            }
            // Threads are reachable by tid too, though not listed (as on Linux).
            if let Some(t) = tree.threads.get(&pid) {
                let tgid = t.tg.tgid;
                drop(tree);
                return Ok(pid::thread_dir(dev, tgid, pid));
            }
            Err(Errno::ENOENT)
        }),
    )
}

fn meminfo() -> Result<Vec<u8>, Errno> {
    let si = nix::sys::sysinfo::sysinfo().map_err(|e| Errno(e as i32))?;
    let kb = |b: u64| b / 1024;
    let (total, free) = (kb(si.ram_total()), kb(si.ram_unused()));
    let (swap_total, swap_free) = (kb(si.swap_total()), kb(si.swap_free()));
    let rows = [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", free),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("SwapTotal", swap_total),
        ("SwapFree", swap_free),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", 0),
        ("Mapped", 0),
        ("Shmem", 0),
        ("Slab", 0),
        ("CommitLimit", total / 2 + swap_total),
        ("Committed_AS", total - free),
        ("VmallocTotal", 34_359_738_367),
        ("HugePages_Total", 0),
        ("HugePages_Free", 0),
        ("HugePages_Rsvd", 0),
        ("HugePages_Surp", 0),
        ("Hugepagesize", 2048),
    ];
    let mut s = String::new();
    for (k, v) in rows {
        if k.starts_with("HugePages_") {
            s.push_str(&format!("{:<16}{:>8}\n", format!("{k}:"), v));
        } else {
            s.push_str(&format!("{:<16}{:>8} kB\n", format!("{k}:"), v));
        }
    }
    text(s)
}

fn stat() -> Result<Vec<u8>, Errno> {
    let k = kernel()?;
    let ncpu = crate::host::ncpu();
    let up = k.boot.elapsed().as_secs();
    // The boot time follows the sandbox's clock (Linux moves it when the clock is set).
    let btime = (crate::kernel::clock::realtime().tv_sec.max(0) as u64).saturating_sub(up);
    let mut s = String::from("cpu  0 0 0 0 0 0 0 0 0 0\n");
    for c in 0..ncpu {
        s.push_str(&format!("cpu{c} 0 0 0 0 0 0 0 0 0 0\n"));
    }
    let tree = lock(&k.tree);
    s.push_str(&format!(
        "intr 0\nctxt 0\nbtime {btime}\nprocesses {}\nprocs_running 1\nprocs_blocked 0\nsoftirq 0\n",
        tree.procs.len()
    ));
    text(s)
}

/// Whether the task writing a /proc/sys file is root (only root may change them).
fn caller_is_root() -> bool {
    current()
        .and_then(|t| lock(&t.info).as_ref().map(|i| i.creds.uid.1 == 0))
        .unwrap_or(true)
}

/// A /proc/sys file showing a kernel limit that root may change (a non-negative int, as
/// Linux's proc_dointvec_minmax; EINVAL otherwise).
fn limit_file(dev: u64, ino: u64, value: &'static AtomicU64) -> Maker {
    Arc::new(move || {
        GenFile::rw(
            dev,
            ino,
            Arc::new(move || text(format!("{}\n", value.load(Ordering::Relaxed)))),
            Arc::new(move |v: &[u8]| {
                if !caller_is_root() {
                    return Err(Errno::EACCES);
                }
                let n: i32 = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(Errno::EINVAL)?;
                let n = u64::try_from(n).map_err(|_| Errno::EINVAL)?;
                value.store(n, Ordering::Relaxed);
                Ok(())
            }),
        )
    })
}

/// A /proc/sys/kernel file of the IPC namespace (msgmax, sem, shmmax, msg_next_id...): root
/// may write it, with the checks of [`crate::ipc::sysctl_write`].
fn ipc_file(dev: u64, ino: u64, name: &'static str) -> Maker {
    Arc::new(move || {
        GenFile::rw(
            dev,
            ino,
            Arc::new(move || text(crate::ipc::sysctl_read(name).unwrap_or_default())),
            Arc::new(move |v: &[u8]| {
                if !caller_is_root() {
                    return Err(Errno::EACCES);
                }
                crate::ipc::sysctl_write(name, v)
            }),
        )
    })
}

/// /proc/sys/kernel/keys: the key quotas and timeouts (crate::kernel::keys).
fn keys_dir(dev: u64) -> Maker {
    use crate::kernel::keys as k;
    const INT_MAX: u64 = i32::MAX as u64;
    let dir = fixed_dir(
        dev,
        0x128,
        vec![
            (
                "gc_delay",
                bounded_file(dev, 0x2b2, &k::GC_DELAY, 0, INT_MAX),
            ),
            (
                "maxbytes",
                bounded_file(dev, 0x2b3, &k::MAXBYTES, 0, INT_MAX),
            ),
            ("maxkeys", bounded_file(dev, 0x2b4, &k::MAXKEYS, 0, INT_MAX)),
            (
                "persistent_keyring_expiry",
                bounded_file(dev, 0x2b5, &k::PERSISTENT_EXPIRY, 0, INT_MAX),
            ),
            (
                "root_maxbytes",
                bounded_file(dev, 0x2b6, &k::ROOT_MAXBYTES, 0, INT_MAX),
            ),
            (
                "root_maxkeys",
                bounded_file(dev, 0x2b7, &k::ROOT_MAXKEYS, 0, INT_MAX),
            ),
        ],
    );
    Arc::new(move || dir.clone())
}

/// A limit that root may set within `min..=max` (EINVAL outside), as proc_dointvec_minmax.
fn bounded_file(dev: u64, ino: u64, value: &'static AtomicU64, min: u64, max: u64) -> Maker {
    Arc::new(move || {
        GenFile::rw(
            dev,
            ino,
            Arc::new(move || text(format!("{}\n", value.load(Ordering::Relaxed)))),
            Arc::new(move |v: &[u8]| {
                if !caller_is_root() {
                    return Err(Errno::EACCES);
                }
                let n: i64 = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(Errno::EINVAL)?;
                let n = u64::try_from(n).map_err(|_| Errno::EINVAL)?;
                if n < min || n > max {
                    return Err(Errno::EINVAL);
                }
                value.store(n, Ordering::Relaxed);
                Ok(())
            }),
        )
    })
}

/// /proc/sys/fs/mqueue: the message queues' limits (ipc/mq_sysctl.c).
fn mqueue_dir(dev: u64) -> Arc<dyn Inode> {
    use crate::fsimpl::mqueue as mq;
    use syscalls::abi::{HARD_MSGMAX, HARD_MSGSIZEMAX, MIN_MSGMAX, MIN_MSGSIZEMAX};
    let (msg, size) = (
        (u64::from(MIN_MSGMAX), u64::from(HARD_MSGMAX)),
        (u64::from(MIN_MSGSIZEMAX), u64::from(HARD_MSGSIZEMAX)),
    );
    fixed_dir(
        dev,
        0x1a0,
        vec![
            (
                "msg_max",
                bounded_file(dev, 0x1a1, &mq::MSG_MAX, msg.0, msg.1),
            ),
            (
                "msgsize_max",
                bounded_file(dev, 0x1a2, &mq::MSGSIZE_MAX, size.0, size.1),
            ),
            (
                "queues_max",
                bounded_file(dev, 0x1a3, &mq::QUEUES_MAX, 0, i32::MAX as u64),
            ),
            (
                "msg_default",
                bounded_file(dev, 0x1a4, &mq::MSG_DEFAULT, msg.0, msg.1),
            ),
            (
                "msgsize_default",
                bounded_file(dev, 0x1a5, &mq::MSGSIZE_DEFAULT, size.0, size.1),
            ),
        ],
    )
}

fn sys_tree(dev: u64, sys: SysValues) -> Arc<dyn Inode> {
    let uts = |f: fn(&Utsname) -> [u8; 65]| {
        move || {
            current_kernel()
                .map(|k| {
                    let b = f(&k.uts());
                    String::from_utf8_lossy(&b[..b.iter().position(|x| *x == 0).unwrap_or(65)])
                        .into_owned()
                })
                .unwrap_or_default()
        }
    };
    let n = |v: &'static str| move || v.to_string();
    let s = &sys;
    let random = fixed_dir(
        dev,
        0x100,
        vec![
            (
                "uuid",
                Arc::new(move || {
                    GenFile::ro(
                        dev,
                        0x101,
                        Arc::new(|| {
                            let mut b = [0u8; 16];
                            crate::fsimpl::dev::fill_random(&mut b)?;
                            text(format!("{}\n", uuid(&b)))
                        }),
                    )
                }),
            ),
            (
                "boot_id",
                file(dev, 0x102, || {
                    let k = kernel()?;
                    text(format!("{}\n", uuid(&k.boot_id)))
                }),
            ),
            ("entropy_avail", file(dev, 0x103, || text("256\n".into()))),
            ("poolsize", file(dev, 0x104, || text("256\n".into()))),
        ],
    );
    let kernel_dir = fixed_dir(
        dev,
        0x110,
        vec![
            ("hostname", uts_file(dev, 0x111, false)),
            ("domainname", uts_file(dev, 0x112, true)),
            (
                "osrelease",
                file(dev, 0x113, move || {
                    text(format!("{}\n", uts(|u| u.release)()))
                }),
            ),
            ("ostype", file(dev, 0x114, || text("Linux\n".into()))),
            (
                "version",
                file(dev, 0x115, move || {
                    text(format!("{}\n", uts(|u| u.version)()))
                }),
            ),
            (
                "pid_max",
                sysfile(dev, 0x116, s, "kernel/pid_max", n("4194304")),
            ),
            (
                "threads-max",
                sysfile(dev, 0x117, s, "kernel/threads-max", n("126000")),
            ),
            ("tainted", file(dev, 0x118, || text("0\n".into()))),
            ("ngroups_max", file(dev, 0x119, || text("65536\n".into()))),
            ("cap_last_cap", file(dev, 0x11a, || text("40\n".into()))),
            (
                "core_pattern",
                sysfile(dev, 0x11b, s, "kernel/core_pattern", n("core")),
            ),
            (
                "core_uses_pid",
                sysfile(dev, 0x11c, s, "kernel/core_uses_pid", n("0")),
            ),
            ("overflowuid", file(dev, 0x11d, || text("65534\n".into()))),
            ("overflowgid", file(dev, 0x11e, || text("65534\n".into()))),
            ("shmmax", ipc_file(dev, 0x11f, "shmmax")),
            ("shmall", ipc_file(dev, 0x120, "shmall")),
            ("shmmni", ipc_file(dev, 0x121, "shmmni")),
            ("msgmax", ipc_file(dev, 0x122, "msgmax")),
            ("msgmnb", ipc_file(dev, 0x123, "msgmnb")),
            ("msgmni", ipc_file(dev, 0x124, "msgmni")),
            ("sem", ipc_file(dev, 0x125, "sem")),
            ("msg_next_id", ipc_file(dev, 0x12a, "msg_next_id")),
            ("sem_next_id", ipc_file(dev, 0x12b, "sem_next_id")),
            ("shm_next_id", ipc_file(dev, 0x12c, "shm_next_id")),
            (
                "printk",
                sysfile(dev, 0x126, s, "kernel/printk", n("4\t4\t1\t7")),
            ),
            (
                "randomize_va_space",
                sysfile(dev, 0x127, s, "kernel/randomize_va_space", n("2")),
            ),
            ("keys", keys_dir(dev)),
            ("random", Arc::new(move || random.clone())),
        ],
    );
    let vm = fixed_dir(
        dev,
        0x140,
        vec![
            (
                "overcommit_memory",
                sysfile(dev, 0x141, s, "vm/overcommit_memory", n("0")),
            ),
            (
                "overcommit_ratio",
                sysfile(dev, 0x142, s, "vm/overcommit_ratio", n("50")),
            ),
            (
                "max_map_count",
                sysfile(dev, 0x143, s, "vm/max_map_count", n("65530")),
            ),
            ("mmap_min_addr", file(dev, 0x144, || text("65536\n".into()))),
            (
                "min_free_kbytes",
                sysfile(dev, 0x145, s, "vm/min_free_kbytes", n("67584")),
            ),
            (
                "drop_caches",
                sysfile(dev, 0x146, s, "vm/drop_caches", n("0")),
            ),
            (
                "nr_hugepages",
                sysfile(dev, 0x147, s, "vm/nr_hugepages", n("0")),
            ),
            (
                "swappiness",
                sysfile(dev, 0x148, s, "vm/swappiness", n("60")),
            ),
            (
                "vfs_cache_pressure",
                sysfile(dev, 0x149, s, "vm/vfs_cache_pressure", n("100")),
            ),
        ],
    );
    use crate::vfs::notify;
    let inotify = fixed_dir(
        dev,
        0x170,
        vec![
            (
                "max_user_instances",
                limit_file(dev, 0x171, &notify::MAX_USER_INSTANCES),
            ),
            (
                "max_user_watches",
                limit_file(dev, 0x172, &notify::MAX_USER_WATCHES),
            ),
            (
                "max_queued_events",
                limit_file(dev, 0x173, &notify::MAX_QUEUED_EVENTS),
            ),
        ],
    );
    use crate::vfs::fanotify;
    let fanotify = fixed_dir(
        dev,
        0x174,
        vec![
            (
                "max_queued_events",
                limit_file(dev, 0x175, &fanotify::MAX_QUEUED_EVENTS),
            ),
            (
                "max_user_groups",
                limit_file(dev, 0x176, &fanotify::MAX_USER_GROUPS),
            ),
            (
                "max_user_marks",
                limit_file(dev, 0x177, &fanotify::MAX_USER_MARKS),
            ),
        ],
    );
    let mqueue = mqueue_dir(dev);
    let fs = fixed_dir(
        dev,
        0x160,
        vec![
            (
                "file-max",
                sysfile(dev, 0x161, s, "fs/file-max", n("9223372036854775807")),
            ),
            (
                "aio-max-nr",
                bounded_file(dev, 0x2b8, &crate::syscalls::AIO_MAX_NR, 0, u64::MAX >> 1),
            ),
            (
                "aio-nr",
                file(dev, 0x2b9, || {
                    let n = crate::syscalls::AIO_NR.load(Ordering::Relaxed);
                    text(format!("{n}\n"))
                }),
            ),
            (
                "nr_open",
                sysfile(dev, 0x162, s, "fs/nr_open", || {
                    crate::limits::open_files().to_string()
                }),
            ),
            (
                "pipe-max-size",
                sysfile(dev, 0x163, s, "fs/pipe-max-size", n("1048576")),
            ),
            (
                "file-nr",
                file(dev, 0x164, || text("0\t0\t9223372036854775807\n".into())),
            ),
            (
                "protected_symlinks",
                sysfile(dev, 0x165, s, "fs/protected_symlinks", n("1")),
            ),
            (
                "protected_hardlinks",
                sysfile(dev, 0x166, s, "fs/protected_hardlinks", n("1")),
            ),
            ("lease-break-time", lease_break_time_file(dev, 0x167)),
            // Per-user pipe buffer limits: shown with Linux's defaults; the sandbox's pipes
            // are not held to them (as for a caller with CAP_SYS_RESOURCE or CAP_SYS_ADMIN).
            (
                "pipe-user-pages-hard",
                sysfile(dev, 0x168, s, "fs/pipe-user-pages-hard", n("0")),
            ),
            (
                "pipe-user-pages-soft",
                sysfile(dev, 0x169, s, "fs/pipe-user-pages-soft", n("16384")),
            ),
            ("fanotify", Arc::new(move || fanotify.clone())),
            ("inotify", Arc::new(move || inotify.clone())),
            ("mqueue", Arc::new(move || mqueue.clone())),
        ],
    );
    let ipv4 = fixed_dir(
        dev,
        0x181,
        vec![
            (
                "ip_local_port_range",
                range_file(dev, 0x182, crate::net::stack::local_port_range, |a, b| {
                    let (a, b) = (u16::try_from(a).ok()?, u16::try_from(b).ok()?);
                    (a >= 1 && a < b).then(|| crate::net::stack::set_local_port_range(a, b))
                }),
            ),
            (
                "ping_group_range",
                range_file(dev, 0x183, crate::net::stack::ping_group_range, |a, b| {
                    // ipv4_ping_group_range: each at most 2^31 - 1 (a low above high is
                    // allowed and admits no group).
                    let (a, b) = (u32::try_from(a).ok()?, u32::try_from(b).ok()?);
                    (a <= i32::MAX as u32 && b <= i32::MAX as u32)
                        .then(|| crate::net::stack::set_ping_group_range(a, b))
                }),
            ),
            (
                "tcp_fin_timeout",
                sysfile(dev, 0x184, s, "net/ipv4/tcp_fin_timeout", n("60")),
            ),
            (
                "tcp_syncookies",
                sysfile(dev, 0x185, s, "net/ipv4/tcp_syncookies", n("1")),
            ),
            (
                "tcp_rmem",
                file(dev, 0x186, || text("4096\t131072\t6291456\n".into())),
            ),
            (
                "tcp_wmem",
                file(dev, 0x187, || text("4096\t16384\t4194304\n".into())),
            ),
            // The sandbox's own setting (an engine may set it, as runc sets it in the
            // container's network namespace); the sentry's stack has one interface and
            // forwards nothing.
            (
                "ip_forward",
                sysfile(dev, 0x188, s, "net/ipv4/ip_forward", n("0")),
            ),
            (
                "tcp_keepalive_time",
                sysfile(dev, 0x189, s, "net/ipv4/tcp_keepalive_time", n("7200")),
            ),
        ],
    );
    let core = fixed_dir(
        dev,
        0x190,
        vec![
            ("somaxconn", file(dev, 0x191, || text("4096\n".into()))),
            ("wmem_max", file(dev, 0x192, || text("212992\n".into()))),
            ("rmem_max", file(dev, 0x193, || text("212992\n".into()))),
            ("wmem_default", file(dev, 0x194, || text("212992\n".into()))),
            ("rmem_default", file(dev, 0x195, || text("212992\n".into()))),
            ("optmem_max", file(dev, 0x196, || text("131072\n".into()))),
        ],
    );
    let unix = fixed_dir(
        dev,
        0x198,
        vec![("max_dgram_qlen", file(dev, 0x199, || text("512\n".into())))],
    );
    let net = fixed_dir(
        dev,
        0x180,
        vec![
            ("ipv4", Arc::new(move || ipv4.clone())),
            ("core", Arc::new(move || core.clone())),
            ("unix", Arc::new(move || unix.clone())),
        ],
    );
    fixed_dir(
        dev,
        0x1f0,
        vec![
            ("kernel", Arc::new(move || kernel_dir.clone())),
            ("vm", Arc::new(move || vm.clone())),
            ("fs", Arc::new(move || fs.clone())),
            ("net", Arc::new(move || net.clone())),
        ],
    )
}

/// /proc/net (one network namespace per sandbox: the same for every process).
fn net_dir(dev: u64) -> Arc<dyn Inode> {
    use crate::net;
    let raw_header = |v6: bool| {
        move || {
            text(if v6 {
                "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n".into()
            } else {
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n".into()
            })
        }
    };
    fixed_dir(
        dev,
        0x200,
        vec![
            ("dev", file(dev, 0x201, || text(net::procfs::dev()))),
            (
                "if_inet6",
                file(dev, 0x202, || text(net::procfs::if_inet6())),
            ),
            ("route", file(dev, 0x203, || text(net::procfs::route()))),
            (
                "tcp",
                file(dev, 0x204, || text(net::inet::proc_net_tcp(false))),
            ),
            (
                "tcp6",
                file(dev, 0x205, || text(net::inet::proc_net_tcp(true))),
            ),
            (
                "udp",
                file(dev, 0x206, || text(net::inet::proc_net_udp(false))),
            ),
            (
                "udp6",
                file(dev, 0x207, || text(net::inet::proc_net_udp(true))),
            ),
            (
                "unix",
                file(dev, 0x208, || text(net::unix::proc_net_unix())),
            ),
            ("raw", file(dev, 0x209, raw_header(false))),
            ("raw6", file(dev, 0x20a, raw_header(true))),
        ],
    )
}

fn uuid(b: &[u8; 16]) -> String {
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

#[allow(unused_imports)]
use GenDir as _;
