// SPDX-License-Identifier: Apache-2.0
//! Small facts about the host the sentry runs on. What must be read from a host path is read
//! once, by [`learn`], before the sentry confines itself (DESIGN.md invariant 2: after
//! start-up the sentry opens no host path). Also the raw futex calls the sentry's own blocking
//! waits sleep on ([`crate::kernel::block`]; std has none to offer).
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// What the sentry knows of the host from start-up on.
struct Facts {
    /// /proc/cpuinfo, shown as the sandbox's own.
    cpuinfo: Vec<u8>,
    /// The CPUs the sentry may run on (its affinity at start-up), as host CPU numbers in
    /// order: the sandbox's CPU `i` is `cpus[i]`.
    cpus: Vec<usize>,
    /// The size of the host kernel's cpumask in bytes, which sched_getaffinity(2) returns
    /// (NR_CPUS or nr_cpu_ids rounded up to longs, depending on how the kernel was built).
    mask_bytes: usize,
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
        cpus: nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|&c| set.is_set(c).unwrap_or(false))
                    .collect::<Vec<_>>()
            })
            .ok()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| vec![0]),
        mask_bytes: {
            let mut buf = [0u64; 128];
            // SAFETY: the kernel writes at most the given length into `buf`.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_sched_getaffinity,
                    0,
                    std::mem::size_of_val(&buf),
                    buf.as_mut_ptr(),
                )
            };
            usize::try_from(r).ok().filter(|&n| n > 0).unwrap_or(8)
        },
    })
}

/// Reads what the sentry needs of the host's files. The loader calls it before confinement;
/// afterwards every fact comes from memory.
pub fn learn() {
    crate::kernel::clock::learn();
    let ncpu = facts().cpus.len();
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
    facts().cpus.len()
}

/// The size in bytes of the kernel's CPU masks (what sched_getaffinity(2) returns).
pub fn cpumask_bytes() -> usize {
    facts().mask_bytes
}

/// The host CPU that is the sandbox's CPU `cpu` (the sandbox numbers the host CPUs it may use
/// from 0, in order).
pub fn host_cpu(cpu: usize) -> Option<usize> {
    facts().cpus.get(cpu).copied()
}

/// The sandbox's number for host CPU `host`, if the sandbox may use it.
pub fn sandbox_cpu(host: usize) -> Option<usize> {
    facts().cpus.iter().position(|&c| c == host)
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

/// The host's NTP state, as an unprivileged adjtimex(2) reads it (None if it fails).
pub fn adjtimex_read() -> Option<libc::timex> {
    // SAFETY: an all-zero timex is valid input; modes 0 only reads.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: adjtimex reads and writes the one timex given.
    let r = unsafe { libc::adjtimex(&mut tx) };
    (r >= 0).then_some(tx)
}

/// The sentry's own vDSO image (the one every stub maps too), up to the end of its section
/// headers.
pub fn vdso_image() -> Option<&'static [u8]> {
    // SAFETY: getauxval reads the sentry's own auxiliary vector.
    let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    if base == 0 {
        return None;
    }
    // SAFETY: the vDSO's 64-byte ELF header is mapped readable at `base` for the process's
    // whole life.
    let head = unsafe { std::slice::from_raw_parts(base as *const u8, 64) };
    if head[..4] != *b"\x7fELF" {
        return None;
    }
    let shoff = u64::from_le_bytes(head[40..48].try_into().ok()?) as usize;
    let shentsize = u16::from_le_bytes([head[58], head[59]]) as usize;
    let shnum = u16::from_le_bytes([head[60], head[61]]) as usize;
    let len = shoff.checked_add(shentsize.checked_mul(shnum)?)?;
    if len == 0 || len > (1 << 20) {
        return None;
    }
    // SAFETY: the kernel maps the vDSO image whole, section header table included.
    Some(unsafe { std::slice::from_raw_parts(base as *const u8, len) })
}

/// futex(FUTEX_WAIT_PRIVATE) on `word` while it holds `val`, for at most `timeout`; returns on
/// a wake-up, a mismatch, a timeout or a host signal alike (the caller rechecks).
pub fn futex_wait(
    word: &std::sync::atomic::AtomicU32,
    val: u32,
    timeout: Option<std::time::Duration>,
) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live u32 for the call; the timespec, if any, outlives it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            val,
            tsp,
            0,
            0,
        );
    }
}

/// futex(FUTEX_WAKE_PRIVATE) of every thread sleeping on `word`.
pub fn futex_wake(word: &std::sync::atomic::AtomicU32) {
    // SAFETY: `word` is a live u32 for the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
            0,
            0,
            0,
        );
    }
}
