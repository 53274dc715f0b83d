// SPDX-License-Identifier: Apache-2.0
//! The resource options of `sandbox run` (`--memory`, `--pids`, `--cpus`, `--open-files`;
//! `--overlay-size` is a mount option): parsed, defaulted from the host, and applied before
//! any sentry thread starts. The sentry enforces them (`sentry::limits`).

use syscalls::abi::*;

use crate::cli::run::RunArgs;

/// Parses a size with an optional K, M or G suffix.
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// The host's memory, in bytes.
pub fn host_memory() -> u64 {
    nix::sys::sysinfo::sysinfo()
        .map(|s| s.ram_total())
        .unwrap_or(u64::MAX)
}

/// The default `--pids`: a sixteenth of the host's pid space (each task is a sentry thread
/// and a stub thread), at most 4,096.
fn default_pids() -> u64 {
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(32768);
    (pid_max / 16).clamp(64, 4096)
}

/// The default memory and task budgets, read by [`apply`] while the host is in view (the
/// confined sentry can read neither).
static DEFAULTS: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();

/// Sets the sentry's budgets anew (an OCI `update`): `memory` bytes and `pids` tasks, each
/// -1 or 0 for its default.
pub fn update(memory: Option<i64>, pids: Option<i64>) {
    let defaults = DEFAULTS.get().copied().unwrap_or((1 << 30, 4096));
    if let Some(m) = memory {
        let m = u64::try_from(m).ok().filter(|m| *m > 0);
        sentry::limits::memory().set_max(m.unwrap_or(defaults.0));
    }
    if let Some(p) = pids {
        let p = u64::try_from(p).ok().filter(|p| *p > 0);
        sentry::limits::tasks().set_max(p.unwrap_or(defaults.1));
    }
}

/// Keeps the calling thread (and every thread and process it starts) on the first `n` CPUs
/// it may run on.
fn restrict_cpus(n: usize) -> Result<(), String> {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    if n == 0 {
        return Err("--cpus 0: at least one CPU".into());
    }
    let now = sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("--cpus: {e}"))?;
    let mut set = CpuSet::new();
    let mut kept = 0;
    for c in 0..CpuSet::count() {
        if kept == n {
            break;
        }
        if now.is_set(c).unwrap_or(false) {
            set.set(c).map_err(|e| format!("--cpus: {e}"))?;
            kept += 1;
        }
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|e| format!("--cpus: {e}"))
}

/// Applies the options: the sentry's budgets, the CPUs, the program's descriptor limit. Call
/// it before any thread exists.
pub fn apply(args: &RunArgs, limits: &mut [Rlimit; RLIM_NLIMITS as usize]) -> Result<(), String> {
    let _ = DEFAULTS.set((host_memory() / 2, default_pids()));
    let memory = match &args.memory {
        Some(m) => parse_size(m).ok_or_else(|| format!("--memory {m}: expected BYTES[K|M|G]"))?,
        None => host_memory() / 2,
    };
    sentry::limits::memory().set_max(memory);
    let pids = args.pids.unwrap_or_else(default_pids);
    if pids == 0 {
        return Err("--pids 0: at least one task".into());
    }
    sentry::limits::tasks().set_max(pids);
    if let Some(n) = args.cpus {
        restrict_cpus(n)?;
    }
    if let Some(n) = args.open_files {
        limits[RLIMIT_NOFILE as usize] = Rlimit {
            rlim_cur: n,
            rlim_max: n,
        };
    }
    for u in &args.ulimits {
        let (which, l) = parse_ulimit(u)?;
        limits[which as usize] = l;
    }
    Ok(())
}

/// The resource limits by the names `ulimit` (and docker's `--ulimit`) give them.
const RLIMIT_NAMES: [(&str, u32); 16] = [
    ("cpu", RLIMIT_CPU),
    ("fsize", RLIMIT_FSIZE),
    ("data", RLIMIT_DATA),
    ("stack", RLIMIT_STACK),
    ("core", RLIMIT_CORE),
    ("rss", RLIMIT_RSS),
    ("nproc", RLIMIT_NPROC),
    ("nofile", RLIMIT_NOFILE),
    ("memlock", RLIMIT_MEMLOCK),
    ("as", RLIMIT_AS),
    ("locks", RLIMIT_LOCKS),
    ("sigpending", RLIMIT_SIGPENDING),
    ("msgqueue", RLIMIT_MSGQUEUE),
    ("nice", RLIMIT_NICE),
    ("rtprio", RLIMIT_RTPRIO),
    ("rttime", RLIMIT_RTTIME),
];

/// `NAME=SOFT[:HARD]` (numbers or `unlimited`; the hard limit defaults to the soft one).
fn parse_ulimit(spec: &str) -> Result<(u32, Rlimit), String> {
    let bad = |why: &str| format!("--ulimit {spec}: {why}");
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("rlimit_").unwrap_or(&name);
    let which = RLIMIT_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, w)| *w)
        .ok_or_else(|| bad("no such limit"))?;
    let value = |v: &str| -> Result<u64, String> {
        match v {
            "unlimited" | "-1" => Ok(RLIM_INFINITY),
            v => v
                .parse::<u64>()
                .map_err(|_| bad("expected a number or unlimited")),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (value(s)?, value(h)?),
        None => {
            let v = value(values)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(bad("the soft limit is above the hard one"));
    }
    Ok((
        which,
        Rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        },
    ))
}

/// Capability names, by number (`capability.h`).
const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The capability named `name` (`NET_RAW`, `CAP_NET_RAW`, any case) as a mask; `ALL`: all.
pub fn cap_mask(name: &str) -> Option<u64> {
    let n = name.to_ascii_uppercase();
    let n = n.strip_prefix("CAP_").unwrap_or(&n);
    if n == "ALL" {
        return Some(sentry::kernel::CAP_ALL);
    }
    CAP_NAMES.iter().position(|c| *c == n).map(|i| 1u64 << i)
}

/// The capabilities root keeps after `--cap-drop` then `--cap-add`.
pub fn capabilities(args: &RunArgs) -> Result<u64, String> {
    let mut caps = sentry::kernel::CAP_ALL;
    for d in &args.cap_drop {
        caps &= !cap_mask(d).ok_or_else(|| format!("--cap-drop {d}: no such capability"))?;
    }
    for a in &args.cap_add {
        caps |= cap_mask(a).ok_or_else(|| format!("--cap-add {a}: no such capability"))?;
    }
    Ok(caps)
}

/// A comma-separated list of capability names as a mask (`""` is none).
pub fn cap_list(list: &str) -> Result<u64, String> {
    list.split(',')
        .filter(|c| !c.is_empty())
        .try_fold(0u64, |m, c| {
            cap_mask(c)
                .map(|b| m | b)
                .ok_or_else(|| format!("{c}: no such capability"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_and_capabilities() {
        assert_eq!(
            parse_ulimit("nofile=1024:4096").map(|(w, l)| (w, l.rlim_cur, l.rlim_max)),
            Ok((RLIMIT_NOFILE, 1024, 4096))
        );
        assert_eq!(
            parse_ulimit("RLIMIT_CORE=unlimited").map(|(w, l)| (w, l.rlim_cur, l.rlim_max)),
            Ok((RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY))
        );
        assert!(parse_ulimit("nofile=9:8").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile").is_err());
        assert_eq!(cap_mask("net_raw"), Some(1 << 13));
        assert_eq!(cap_mask("CAP_CHECKPOINT_RESTORE"), Some(1 << 40));
        assert_eq!(cap_mask("NOPE"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M"), Some(256 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999999G"), None);
    }
}
