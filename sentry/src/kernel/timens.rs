// SPDX-License-Identifier: Apache-2.0
//! Time namespaces (Linux's kernel/time/namespace.c): per-namespace offsets of CLOCK_MONOTONIC
//! and CLOCK_BOOTTIME (and their RAW, COARSE and ALARM variants), so that a program moved
//! between machines (checkpoint/restore, containers) keeps its clocks.
//!
//! As on Linux, a task has two: the one its clocks read in (`ns`, /proc/[pid]/ns/time) and the
//! one its children will be born in (`children`, /proc/[pid]/ns/time_for_children).
//! unshare(CLONE_NEWTIME) makes a new `children` namespace (with its creator's offsets); the
//! offsets are set by writing /proc/[pid]/timens_offsets until a task enters the namespace
//! (a fork, clone3 with CLONE_NEWTIME, or setns), which freezes them (EACCES after). Threads
//! and vfork children share their creator's address space and so stay in its namespace.
//!
//! Only the sentry's answers move: clock_gettime, the absolute deadlines of clock_nanosleep,
//! timer_settime and timerfd_settime, sysinfo's and /proc/uptime's uptime. The host's vDSO
//! reads the host's clocks, so a process outside the initial namespace has its vDSO clock
//! functions patched to make the system call (as when the sandbox's wall clock is set).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use super::lock;

/// The initial time namespace's id (Linux's PROC_TIME_INIT_INO).
pub const ROOT_ID: u64 = 0xEFFF_FFFA;
/// Ids of the namespaces unshare makes (nsfs inode numbers; apart from the mount
/// namespaces' range).
static NEXT_ID: AtomicU64 = AtomicU64::new(0xf800_0001);

/// Linux's KTIME_SEC_MAX.
const KTIME_SEC_MAX: i64 = i64::MAX / 1_000_000_000;
const NSEC: i128 = 1_000_000_000;

/// One time namespace.
pub struct TimeNs {
    /// Its id: the inode number of its nsfs file.
    pub id: u64,
    /// CLOCK_MONOTONIC's and CLOCK_BOOTTIME's offsets, in nanoseconds.
    offsets: Mutex<(i128, i128)>,
    /// Set once a task has entered it: the offsets can no longer change.
    frozen: AtomicBool,
}

static ROOT: LazyLock<Arc<TimeNs>> = LazyLock::new(|| {
    Arc::new(TimeNs {
        id: ROOT_ID,
        offsets: Mutex::new((0, 0)),
        frozen: AtomicBool::new(true),
    })
});

/// The initial time namespace.
pub fn root() -> Arc<TimeNs> {
    ROOT.clone()
}

impl TimeNs {
    /// A new namespace with `from`'s offsets (Linux's clone_time_ns).
    pub fn new_from(from: &TimeNs) -> Arc<TimeNs> {
        Arc::new(TimeNs {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            offsets: Mutex::new(*lock(&from.offsets)),
            frozen: AtomicBool::new(false),
        })
    }

    /// Whether this is the initial namespace.
    pub fn is_root(&self) -> bool {
        self.id == ROOT_ID
    }

    /// Freezes the offsets: a task is entering (timens_commit).
    pub fn enter(&self) {
        self.frozen.store(true, Ordering::Release);
    }

    /// The offset, in nanoseconds, of clock `clockid` in this namespace (0 for the clocks
    /// namespaces do not move).
    pub fn offset(&self, clockid: u32) -> i128 {
        if self.is_root() {
            return 0;
        }
        let o = lock(&self.offsets);
        match clockid {
            CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE => o.0,
            CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => o.1,
            _ => 0,
        }
    }

    /// /proc/[pid]/timens_offsets as Linux prints it (proc_timens_show_offsets).
    pub fn show(&self) -> String {
        let (m, b) = *lock(&self.offsets);
        let line = |name: &str, v: i128| {
            format!(
                "{name:<10} {:>10} {:>9}\n",
                v.div_euclid(NSEC),
                v.rem_euclid(NSEC)
            )
        };
        format!("{}{}", line("monotonic", m), line("boottime", b))
    }

    /// Sets offsets from what was written to /proc/[pid]/timens_offsets
    /// (proc_timens_set_offset): lines of `<clock> <secs> <nanosecs>`, the clock a number or
    /// `monotonic`/`boottime`. All or nothing. EINVAL for a malformed line or another clock,
    /// ERANGE for an offset that would take the clock below zero or past KTIME_SEC_MAX / 2,
    /// EACCES once a task has entered the namespace.
    pub fn write(&self, text: &[u8]) -> Result<(), Errno> {
        if text.len() >= 4096 {
            return Err(Errno::EINVAL);
        }
        let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
        let mut parsed = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut f = line.split_whitespace();
            let clock = match f.next().ok_or(Errno::EINVAL)? {
                "monotonic" => CLOCK_MONOTONIC,
                "boottime" => CLOCK_BOOTTIME,
                n => n.parse::<i32>().map_err(|_| Errno::EINVAL)? as u32,
            };
            let secs: i64 = f
                .next()
                .ok_or(Errno::EINVAL)?
                .parse()
                .map_err(|_| Errno::EINVAL)?;
            let nsecs: u64 = f
                .next()
                .ok_or(Errno::EINVAL)?
                .parse()
                .map_err(|_| Errno::EINVAL)?;
            if f.next().is_some() || nsecs >= 1_000_000_000 {
                return Err(Errno::EINVAL);
            }
            parsed.push((clock, secs, nsecs));
        }
        if parsed.is_empty() {
            return Err(Errno::EINVAL);
        }
        for &(clock, secs, nsecs) in &parsed {
            let host = match clock {
                CLOCK_MONOTONIC => nix::time::ClockId::CLOCK_MONOTONIC,
                CLOCK_BOOTTIME => nix::time::ClockId::CLOCK_BOOTTIME,
                _ => return Err(Errno::EINVAL),
            };
            if !(-KTIME_SEC_MAX..=KTIME_SEC_MAX).contains(&secs) {
                return Err(Errno::ERANGE);
            }
            let now = nix::time::clock_gettime(host).map_err(|e| Errno(e as i32))?;
            let mut s = now.tv_sec() + secs;
            if now.tv_nsec() as u64 + nsecs >= 1_000_000_000 {
                s += 1;
            }
            if !(0..=KTIME_SEC_MAX / 2).contains(&s) {
                return Err(Errno::ERANGE);
            }
        }
        let mut o = lock(&self.offsets);
        if self.frozen.load(Ordering::Acquire) {
            return Err(Errno::EACCES);
        }
        for (clock, secs, nsecs) in parsed {
            let v = i128::from(secs) * NSEC + i128::from(nsecs);
            if clock == CLOCK_MONOTONIC {
                o.0 = v;
            } else {
                o.1 = v;
            }
        }
        Ok(())
    }
}

/// A task's time namespaces.
#[derive(Clone)]
pub struct Pair {
    /// The one its clocks read in.
    pub ns: Arc<TimeNs>,
    /// The one its children will be born in.
    pub children: Arc<TimeNs>,
}

impl Default for Pair {
    fn default() -> Self {
        Pair {
            ns: root(),
            children: root(),
        }
    }
}

impl Pair {
    /// A new child's namespaces (copy_namespaces, timens_on_fork): a thread or vfork child
    /// (`same_vm`) keeps its creator's; a new process enters the creator's `children` one, or
    /// with CLONE_NEWTIME (`new`) a new one made from it.
    pub fn for_child(&self, same_vm: bool, new: bool) -> Pair {
        if new {
            let n = TimeNs::new_from(&self.children);
            n.enter();
            return Pair {
                ns: n.clone(),
                children: n,
            };
        }
        if same_vm {
            return self.clone();
        }
        self.children.enter();
        Pair {
            ns: self.children.clone(),
            children: self.children.clone(),
        }
    }
}

/// The offset of clock `clockid` in the namespace of the task this sentry thread serves.
pub fn current_offset(clockid: u32) -> i128 {
    super::block::current()
        .map(|t| lock(&t.time).ns.offset(clockid))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_written_shown_and_frozen() {
        let ns = TimeNs::new_from(&root());
        assert_eq!(ns.offset(CLOCK_MONOTONIC), 0);
        ns.write(b"1 10 0").unwrap();
        ns.write(b"boottime -10 5\n").unwrap();
        assert_eq!(ns.offset(CLOCK_MONOTONIC_RAW), 10 * NSEC);
        assert_eq!(ns.offset(CLOCK_BOOTTIME), -10 * NSEC + 5);
        assert_eq!(ns.offset(CLOCK_REALTIME), 0);
        assert!(ns.show().starts_with("monotonic          10         0\n"));
        assert!(ns.show().ends_with("boottime          -10         5\n"));
        assert_eq!(ns.write(b"0 1 0"), Err(Errno::EINVAL));
        assert_eq!(ns.write(b"1 1 1000000000"), Err(Errno::EINVAL));
        assert_eq!(ns.write(b"1 -100000000000 0"), Err(Errno::ERANGE));
        ns.enter();
        assert_eq!(ns.write(b"1 1 0"), Err(Errno::EACCES));
        assert_eq!(root().offset(CLOCK_MONOTONIC), 0);
    }

    #[test]
    fn children_enter_the_namespace_for_children() {
        let p = Pair::default();
        let mut parent = p.clone();
        parent.children = TimeNs::new_from(&parent.ns);
        let thread = parent.for_child(true, false);
        assert!(thread.ns.is_root());
        let child = parent.for_child(false, false);
        assert_eq!(child.ns.id, parent.children.id);
        assert_eq!(parent.children.write(b"1 1 0"), Err(Errno::EACCES));
        let fresh = p.for_child(false, true);
        assert!(!fresh.ns.is_root());
    }
}
