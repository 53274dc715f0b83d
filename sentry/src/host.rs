// SPDX-License-Identifier: Apache-2.0
//! Small facts about the host the sentry runs on. What must be read from a host path is read
//! once, by [`learn`], before the sentry confines itself (DESIGN.md invariant 2: after
//! start-up the sentry opens no host path).
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// What the sentry knows of the host from start-up on.
struct Facts {
    /// /proc/cpuinfo, shown as the sandbox's own.
    cpuinfo: Vec<u8>,
    /// The CPUs the sentry may run on (its affinity at start-up).
    ncpu: usize,
}

static FACTS: OnceLock<Facts> = OnceLock::new();

/// Without root, the sentry and the gofer run in a user namespace of their own where the
/// caller's host uid and gid are 0 (every other host id shows as the overflow id): the
/// caller's ids, set once by the loader.
static OUTER_IDS: OnceLock<(u32, u32)> = OnceLock::new();

/// Records that ids 0 of the sentry's user namespace are the caller's `uid` and `gid`.
pub fn set_outer_ids(uid: u32, gid: u32) {
    let _ = OUTER_IDS.set((uid, gid));
}

/// A host file's owner as the sandbox shows it: the caller's own files are the caller's
/// (not the user namespace's root).
pub fn ids_from_host(uid: u32, gid: u32) -> (u32, u32) {
    match OUTER_IDS.get() {
        Some(&(ou, og)) => (
            if uid == 0 { ou } else { uid },
            if gid == 0 { og } else { gid },
        ),
        None => (uid, gid),
    }
}

/// An owner the sandbox asks for, as the host file system takes it in the sentry's user
/// namespace.
pub fn ids_to_host(uid: u32, gid: u32) -> (u32, u32) {
    match OUTER_IDS.get() {
        Some(&(ou, og)) => (
            if uid == ou { 0 } else { uid },
            if gid == og { 0 } else { gid },
        ),
        None => (uid, gid),
    }
}

/// [`ids_from_host`] on a stat.
pub fn stat_from_host_ids(st: &mut syscalls::abi::Stat) {
    let (u, g) = ids_from_host(st.st_uid, st.st_gid);
    st.st_uid = u;
    st.st_gid = g;
}

fn facts() -> &'static Facts {
    FACTS.get_or_init(|| Facts {
        cpuinfo: sandbox_cpuinfo(&std::fs::read("/proc/cpuinfo").unwrap_or_default()),
        ncpu: nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|&c| set.is_set(c).unwrap_or(false))
                    .count()
            })
            .unwrap_or(1)
            .max(1),
    })
}

/// Reads what the sentry needs of the host's files. The loader calls it before confinement;
/// afterwards every fact comes from memory.
pub fn learn() {
    let ncpu = facts().ncpu;
    // glibc's malloc counts the CPUs (reading /sys/devices/system/cpu/online) when a ninth
    // thread arena is wanted, unless told how many arenas it may have: its own default, 8 per
    // CPU.
    let arenas = i32::try_from(ncpu.saturating_mul(8)).unwrap_or(i32::MAX);
    // SAFETY: mallopt takes two integers; M_ARENA_MAX only sets a limit.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    warm_malloc();
}

/// glibc's malloc reads /proc/sys/vm/overcommit_memory the first time it gives part of a
/// thread's heap back to the host (`check_may_shrink_heap`, once per process): make it happen
/// now, on a short-lived thread (a heap of its own) that takes three 100 KiB blocks (below the
/// mmap threshold, so from that heap) and frees them, leaving more than the trim threshold
/// (128 KiB) free at the top, rather than in the middle of a system call once opening files
/// kills the sentry.
fn warm_malloc() {
    let t = std::thread::Builder::new()
        .name("warm-malloc".into())
        .spawn(|| {
            let blocks: Vec<Vec<u8>> = (0..3)
                .map(|_| std::hint::black_box(Vec::with_capacity(100 << 10)))
                .collect();
            for b in blocks.into_iter().rev() {
                drop(std::hint::black_box(b));
            }
        });
    if let Ok(t) = t {
        let _ = t.join();
    }
}

/// The host's /proc/cpuinfo as the sandbox shows it: without the CPU features the sandbox does
/// not offer (`cpuid_fault`: arch_prctl(ARCH_SET_CPUID) is refused with ENODEV, which is
/// what Linux answers on a CPU without it; `pku`/`ospke`: pkey_alloc is EINVAL as without
/// protection keys; `user_shstk`: map_shadow_stack is EOPNOTSUPP as without user shadow
/// stacks).
fn sandbox_cpuinfo(host: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(host);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with("flags") {
            let (head, flags) = line.split_once(':').unwrap_or((line, ""));
            let kept: Vec<&str> = flags
                .split_whitespace()
                .filter(|f| !matches!(*f, "cpuid_fault" | "pku" | "ospke" | "user_shstk"))
                .collect();
            out.push_str(head);
            out.push_str(": ");
            out.push_str(&kept.join(" "));
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// The host's /proc/cpuinfo, as read at start-up (see [`sandbox_cpuinfo`]).
pub fn cpuinfo() -> &'static [u8] {
    &facts().cpuinfo
}

/// How many CPUs the sandbox has: those the sentry could run on at start-up (a count of the
/// affinity mask: `available_parallelism` would read cgroup files).
pub fn ncpu() -> usize {
    facts().ncpu
}

/// getauxval(3) of the sentry itself: the host's AT_HWCAP and AT_HWCAP2, which describe the CPU
/// the application runs on too.
pub fn hwcap(key: u64) -> u64 {
    // SAFETY: getauxval takes an integer and reads the process's own auxiliary vector.
    unsafe { libc::getauxval(key) }
}

/// The CPU the calling thread runs on (its stub thread is pinned to the same one).
pub fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu takes no arguments.
    let c = unsafe { libc::sched_getcpu() };
    c.max(0) as u32
}

/// Opens the root directory (a call the sentry's policy forbids): see
/// `confine::debug_forbidden_call_hook`.
#[cfg(debug_assertions)]
pub fn debug_open_root() {
    // SAFETY: openat with a static NUL-terminated path; the descriptor, if any, is closed.
    unsafe {
        let fd = libc::openat(
            libc::AT_FDCWD,
            c"/".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd >= 0 {
            libc::close(fd);
        }
    }
}
