// SPDX-License-Identifier: Apache-2.0
//! The resource options of `sandbox run` (`--memory`, `--pids`, `--cpus`, `--open-files`;
//! `--overlay-size` is a mount option): parsed, defaulted from the host, and applied before
//! any sentry thread starts. The sentry enforces them (`sentry::limits`).

use syscalls::abi::{Rlimit, RLIMIT_NOFILE, RLIM_NLIMITS};

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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
