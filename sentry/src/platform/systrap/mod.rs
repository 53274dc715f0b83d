// SPDX-License-Identifier: Apache-2.0
//! The systrap platform: application threads trap into the sentry through a seccomp filter
//! (SECCOMP_RET_TRAP) and a SIGSYS handler of the stub's, trading registers with the sentry
//! through shared memory instead of ptrace stops (gVisor `platform/systrap`, `sysmsg`).
//!
//! # How it runs
//!
//! Every application process is a stub process with two kinds of host threads:
//!
//! - one **syscall thread**, which makes the host system calls the sentry decides for the
//!   process (mmap, munmap, mprotect, clone, receiving a donated descriptor, a direct pread):
//!   it waits on the process's *request page* (mapped read-only in the stub, written by the
//!   sentry through its own mapping of the platform memfd), runs the request, and writes the
//!   raw result into the *response page*;
//! - one host thread per **application thread**, which runs application code under a second,
//!   stricter seccomp filter. Every system call it makes raises SIGSYS; the stub's handler runs
//!   on a signal stack inside the thread's *region* (shared with the sentry), so the kernel's
//!   signal frame (registers, FPU/XSAVE state, siginfo) is written straight into memory the
//!   sentry reads. The handler publishes `TRAPPED`, waits for the sentry (spinning a while,
//!   then on a futex), and returns through rt_sigreturn, which loads whatever registers the
//!   sentry left in the frame. Faults and the sentry's interrupt signal (SIGURG) arrive the
//!   same way.
//!
//! The first stub, the *template*, is started from the stub image (a sealed memfd) by a
//! sentry thread that lives as long as the sentry (its death kills every stub), set up under
//! ptrace (its host layout cleaned, handlers, the shared pages, the backstop filter, every
//! signal blocked), then detached: it only ever runs its syscall thread. A new process
//! (execve) is a clone of the template made by the template's syscall thread, one ahead of
//! need: the template's clone of the next one is started (not waited for) as each is taken,
//! and runs beside the execve on any CPU; fork is a clone made by the forking process's
//! syscall thread (copy-on-write, so the child's memory is the parent's). Either way the child's first thread maps its own request and response pages,
//! asks for SIGKILL on the sentry's death, checks its parent is the sentry, makes a socket pair
//! for descriptor donation and reports its pid; the sentry then creates its application thread.
//! No sentry fork per exec, no ptrace after start-up.
//!
//! # What the application can and cannot do to the stub (the security argument)
//!
//! The application controls its threads' registers and all memory it can write: its own
//! mappings, the response page and every thread region of its process (they must be writable
//! for the kernel to write signal frames there). It can jump anywhere, including into the
//! stub's code, with registers of its choosing. What it cannot do:
//!
//! - **Make a host system call the sentry did not decide.** Its threads run under the
//!   application filter ([`image`]): a system call traps unless it comes from the stub's code
//!   page *and* is one of `rt_sigreturn`, `exit`, `sched_yield`, or `futex` WAIT/WAKE on an
//!   address in the thread regions. Each is harmless whatever its arguments: rt_sigreturn only
//!   loads the calling thread's own registers (which it can set anyway; a bad frame or a
//!   blocked SIGSYS only kills its own process), exit ends the calling thread (the sentry sees
//!   its state word cleared by the kernel and ends the task), sched_yield does nothing, and a
//!   futex WAIT/WAKE on its own process's shared words can only wake or stall the process's
//!   own handshakes, which both sides re-check after every wake. Filters are per thread and
//!   stack: the application threads' filter is installed by each thread itself, from the
//!   read-only data page, before its first application instruction; a failed install ends the
//!   thread instead. 32-bit system calls (`int 0x80`) trap too.
//! - **Steer the syscall thread.** It has no application filter, so it is never allowed to run
//!   anything but the stub's code: it blocks every signal (a fault or a trap kills the
//!   process, no handler ever runs on memory the application could write), uses no stack, and
//!   takes its requests only from the read-only request page, under a sequence number read
//!   before and after (a seqlock), so it runs whole requests the sentry wrote, never a mix. Its
//!   own sequence counter lives in a register. The sentry waits for each request's answer
//!   before it writes the next (the page holds one request); the only request it does not
//!   wait for at once is the template's clone of the spare process, and the template has no
//!   application. The response page is forgeable: a forged answer
//!   can make the sentry believe a request of this process is done or failed, which desyncs
//!   only this process's own memory, or give a wrong descriptor number, which the sentry checks
//!   with kcmp against the descriptor it sent before using it. Every request the sentry makes
//!   is checked never to touch the platform's range.
//! - **Write the stub's code or data, or get at another process's pages.** The code page is
//!   r-x and the data page and the request page r-- in the stub; changing that needs mprotect,
//!   mmap, mremap, munmap, /proc/[pid]/mem, process_vm_writev, ptrace or a shared mapping of
//!   the memfd, all of which are system calls that trap to the sentry, whose memory manager
//!   refuses any mapping change over the reserved range (and this module refuses it again).
//!   The platform memfd is held by stubs at a fixed descriptor that only the syscall thread
//!   uses and only for the sentry's own mmaps of this process's chunks; chunks are never
//!   reused (the memfd grows, freed chunks are punched out), and every shared mapping is
//!   MADV_DONTFORK, so a process never sees another's pages, even after fork.
//! - **Hurt anyone but itself with a forged shared page.** The sentry reads a trap's frame at
//!   the address the handler published only if it lies inside that thread's region, treats
//!   every word there as application data (registers, signal number, FPU state checked before
//!   it goes back), and never trusts a pid or tid from shared memory written after the process
//!   got its first application thread: a new process's pid comes from its own pages before it
//!   has any, is pinned by a pidfd and by the sentry being its parent (a dead stub stays a
//!   zombie until the sentry reaps it, so its pid cannot be reused under the sentry).
//!
//! # Costs
//!
//! A round trip is one SIGSYS delivery and rt_sigreturn in the stub plus the handoff; when the
//! sentry thread is spinning on the other vCPU the handoff costs about as much as a cache line
//! bounce, when it sleeps a futex wake across vCPUs (tens of microseconds here, and more when
//! the other vCPU is idle) but only a few on the same vCPU. So an application thread starts
//! pinned to its sentry thread's CPU, neither side spinning, and tries spinning only once it
//! has shown it makes many system calls ([`Policy`]); while pinned, the sentry thread takes
//! the process's syscall thread to its CPU too, and a request is a same-CPU switch there and
//! back. A new process needs no extra round trip to be trusted (see [`spawn_process`]). The
//! spin budgets are in [`Tuning`] and are measured in the README.

mod image;
mod layout;
mod stub_code;
mod sys;

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::ptrace;
use nix::sys::signal::Signal;

use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use syscalls::{Errno, Sysno};

use self::image::Image;
use self::layout::*;
use self::sys::Mapping;
use super::{
    AddressSpace, Context, HostLayout, Interrupter, MapFile, NewContext, Platform, PlatformError,
    Registers, Trap,
};

/// How many donated host fds a stub process keeps open for reuse.
const DONATED_KEPT: usize = 4;
/// How long a stub may take to answer a set-up step before the sentry gives up on it.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a sentry thread sleeping on a stub checks that the stub is still alive.
const LIVENESS: Duration = Duration::from_millis(100);

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;

/// The signals the stub's handler takes (the rest keep their default action; SIGCHLD never
/// comes: stubs have no host children).
const HANDLED: [i32; 27] = [
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31,
];

/// The spin budgets of the handoff.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// How long a sentry thread polls for its application thread's next trap before it sleeps.
    pub sentry_spin: Duration,
    /// How many polls the stub's handler makes for the sentry's answer before it sleeps.
    pub stub_spin: u32,
    /// How many polls the syscall thread makes for the next request before it sleeps.
    pub syscall_spin: u32,
}

/// How long the stub's side of a handoff spins (handler and syscall thread alike): long enough
/// to cover the sentry's work on an ordinary file system call (a path walk and a stat take a
/// few microseconds; a handler that sleeps instead costs the next answer a futex wake across
/// vCPUs, tens of microseconds).
const STUB_SPIN: Duration = Duration::from_micros(20);

impl Default for Tuning {
    fn default() -> Self {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        // The stub counts polls (one `pause` each): no clock there. What a pause costs
        // varies tenfold between CPU models (~10 ns to ~140 cycles), so the count comes from
        // the time budget and a measurement.
        let polls = (STUB_SPIN.as_nanos() as f64 / pause_ns()).clamp(100.0, 100_000.0) as u64;
        Tuning {
            sentry_spin: Duration::from_micros(env("SANDBOX_SYSTRAP_SENTRY_SPIN_US").unwrap_or(20)),
            stub_spin: env("SANDBOX_SYSTRAP_STUB_SPIN").unwrap_or(polls) as u32,
            syscall_spin: env("SANDBOX_SYSTRAP_SYSCALL_SPIN").unwrap_or(polls) as u32,
        }
    }
}

/// Nanoseconds one spin-loop hint (`pause`) takes on this CPU: the fastest of a few timed
/// batches (a batch the scheduler interrupted is slower, never faster).
fn pause_ns() -> f64 {
    const BATCH: u32 = 1000;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                std::hint::spin_loop();
            }
            start.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .fold(f64::INFINITY, f64::min)
        .max(1.0)
}

thread_local! {
    /// The CPU this sentry thread is pinned to together with the application thread it drives,
    /// if it is (see [`Policy`]): its requests to a syscall thread then pin that thread there too.
    static PINNED_CPU: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Binds host thread `tid` (0: the caller) to `cpu`, or to every CPU the sandbox may use.
fn set_affinity(tid: i32, cpu: Option<usize>) {
    let mut set = nix::sched::CpuSet::new();
    match cpu {
        Some(c) => {
            if set.set(c).is_err() {
                return;
            }
        }
        None => {
            for c in 0..nix::sched::CpuSet::count() {
                if host_cpu_allowed(c) {
                    let _ = set.set(c);
                }
            }
        }
    }
    let _ = nix::sched::sched_setaffinity(Pid::from_raw(tid), &set);
}

/// Binds host thread `tid` (0: the caller) to the host CPUs `cpus`.
fn set_affinity_list(tid: i32, cpus: &[usize]) {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        let _ = set.set(c);
    }
    let _ = nix::sched::sched_setaffinity(Pid::from_raw(tid), &set);
}

/// `StubProcess::cpu` of a syscall thread free to run anywhere.
const ANY_CPU: usize = usize::MAX;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn stub_err(msg: impl Into<String>) -> PlatformError {
    PlatformError::Stub(msg.into())
}

/// What every process of the platform shares.
struct Shared {
    memfd: OwnedFd,
    /// Next free offset in the memfd (chunks are never reused).
    next: AtomicU64,
    sentry_pid: i32,
    tuning: Tuning,
    layout: HostLayout,
}

impl Shared {
    fn alloc(self: &Arc<Self>, len: u64) -> Result<Chunk, PlatformError> {
        let off = self.next.fetch_add(len, Ordering::Relaxed);
        let map = Mapping::new(self.memfd.as_fd(), off, len as usize)
            .map_err(PlatformError::host("mmap of the platform memfd"))?;
        Ok(Chunk {
            shared: self.clone(),
            off,
            len,
            map,
        })
    }
}

/// A piece of the platform memfd, mapped in the sentry.
struct Chunk {
    shared: Arc<Shared>,
    off: u64,
    len: u64,
    map: Mapping,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        sys::punch_hole(self.shared.memfd.as_fd(), self.off, self.len);
    }
}

/// What the keeper thread hands over once the template stub is up (and the first process's
/// stub on its way).
type Started = Result<(Arc<Shared>, Arc<StubProcess>, Option<Spare>), PlatformError>;

/// The platform's shared state and its template stub.
type Base = (Arc<Shared>, Arc<StubProcess>);

/// The systrap platform.
pub struct SystrapPlatform {
    /// The keeper's answer, until the first process needs it.
    starting: Mutex<Option<std::sync::mpsc::Receiver<Started>>>,
    /// The shared state and the template, or why the template did not start.
    started: std::sync::OnceLock<Result<Base, String>>,
    /// The next new process's stub, cloned from the template ahead of need: an execve finds it
    /// (nearly) ready instead of waiting for a clone and the child's set-up, and its
    /// replacement is cloned by the template's syscall thread beside the execve, on any CPU.
    spare: Mutex<Option<Spare>>,
    /// The ptrace platform, when the template did not start (the first process then falls
    /// back to it, with a notice, as the loader does when systrap is unsupported).
    fallback: std::sync::OnceLock<Option<super::ptrace::PtracePlatform>>,
}

impl SystrapPlatform {
    /// Whether this host can run the platform: seccomp filters and user-mode fs/gs base access.
    pub fn supported() -> Result<(), String> {
        if !sys::has_fsgsbase() {
            return Err("the CPU or kernel does not allow FSGSBASE in user mode".into());
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !status.lines().any(|l| l.starts_with("Seccomp:")) {
            return Err("the kernel has no seccomp".into());
        }
        Ok(())
    }

    /// Starts the platform: writes the stub image into a sealed memfd and starts the template
    /// stub on a thread of its own that lives as long as the sentry. The template is set up
    /// while the caller goes on (it takes a few milliseconds of ptrace stops); the first
    /// [`Platform::new_process`] waits for it, and reports its failure.
    pub fn new() -> Result<Self, PlatformError> {
        use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
        // Learnt before any thread is pinned.
        super::host_cpus();
        Self::supported().map_err(PlatformError::Stub)?;
        let (bytes, img) = image::build();
        let image = memfd_create(
            c"sandbox-systrap-stub",
            MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
        )
        .map_err(PlatformError::host("memfd_create"))?;
        let mut off = 0;
        while off < bytes.len() {
            off +=
                nix::unistd::write(&image, &bytes[off..]).map_err(PlatformError::host("write"))?;
        }
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        nix::fcntl::fcntl(
            image.as_raw_fd(),
            nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_truncate(seals)),
        )
        .map_err(PlatformError::host("F_ADD_SEALS"))?;
        let memfd = memfd_create(c"sandbox-systrap", MemFdCreateFlag::MFD_CLOEXEC)
            .map_err(PlatformError::host("memfd_create"))?;
        // A sparse file far larger than ever used: chunks are carved from it, never reused.
        nix::unistd::ftruncate(&memfd, 1 << 46).map_err(PlatformError::host("ftruncate"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let tuning = Tuning::default();
        std::thread::Builder::new()
            .name("systrap-keeper".into())
            .spawn(move || {
                let r = start_template(image, memfd, img, tuning).map(|(s, t)| {
                    let spare = Spare::start(&s, &t).ok();
                    (s, t, spare)
                });
                let r = r.and_then(|t| {
                    // This thread was started before the sentry confined itself: it gives up
                    // its capabilities itself (they are per thread) ...
                    sys::drop_thread_capabilities()
                        .map_err(PlatformError::host("dropping the keeper's capabilities"))?;
                    Ok(t)
                });
                let ok = r.is_ok();
                let _ = tx.send(r);
                if ok {
                    // ... and, once the sentry is confined, narrows itself to the main
                    // thread's role: it only waits from now on.
                    crate::confine::enter_when_installed(crate::confine::policy::MAIN);
                    // The parent of every stub: its exit would kill them all (PDEATHSIG).
                    loop {
                        std::thread::park();
                    }
                }
            })
            .map_err(|e| stub_err(format!("starting the keeper thread: {e}")))?;
        Ok(SystrapPlatform {
            starting: Mutex::new(Some(rx)),
            started: std::sync::OnceLock::new(),
            spare: Mutex::new(None),
            fallback: std::sync::OnceLock::new(),
        })
    }

    /// The shared state and the template, once the keeper has started it.
    fn ready(&self) -> Result<(&Arc<Shared>, &Arc<StubProcess>), PlatformError> {
        let r = self.started.get_or_init(|| {
            let rx = lock(&self.starting).take();
            match rx.map(|rx| rx.recv()) {
                Some(Ok(Ok((s, t, spare)))) => {
                    *lock(&self.spare) = spare;
                    Ok((s, t))
                }
                Some(Ok(Err(e))) => Err(e.to_string()),
                _ => Err("the keeper thread died".into()),
            }
        });
        match r {
            Ok((s, t)) => Ok((s, t)),
            Err(e) => Err(stub_err(format!("the template stub did not start: {e}"))),
        }
    }
}

impl Platform for SystrapPlatform {
    fn new_process(&self) -> Result<Box<dyn Context>, PlatformError> {
        let (shared, template) = match self.ready() {
            Ok(x) => x,
            Err(e) => {
                let ptrace = self.fallback.get_or_init(|| {
                    eprintln!("sandbox: systrap platform unavailable ({e}); using ptrace");
                    super::ptrace::PtracePlatform::new().ok()
                });
                return match ptrace {
                    Some(p) => p.new_process(),
                    None => Err(e),
                };
            }
        };
        if PINNED_CPU.with(|c| c.get()).is_none() {
            // The first process's sentry thread: pinned now rather than at the adoption, so
            // that the set-up requests below are same-CPU switches too.
            let cpu = sys::current_cpu();
            set_affinity(0, Some(cpu));
            PINNED_CPU.with(|c| c.set(Some(cpu)));
        }
        let spare = lock(&self.spare).take();
        let proc = match spare.map(|s| s.finish(shared, template)) {
            Some(Ok(Some(p))) => p,
            Some(Err(e)) => {
                tracing::warn!("platform: the spare stub is unusable ({e}); cloning another");
                spawn_process(shared, template)?
            }
            _ => spawn_process(shared, template)?,
        };
        {
            // The next one, cloned while this process starts.
            let mut spare = lock(&self.spare);
            if spare.is_none() {
                *spare = Spare::start(shared, template).ok();
            }
        }
        let t = spawn_thread(&proc, None)?;
        let mut t = t.adopt_inner()?;
        t.pending_fp = None;
        Ok(Box::new(t))
    }

    fn name(&self) -> &'static str {
        match self.fallback.get() {
            Some(Some(_)) => "ptrace",
            _ => "systrap",
        }
    }
}

/// Starts the template stub (on the keeper thread, which becomes its tracer for the set-up).
fn start_template(
    image: OwnedFd,
    memfd: OwnedFd,
    img: Image,
    tuning: Tuning,
) -> Result<(Arc<Shared>, Arc<StubProcess>), PlatformError> {
    let pid = sys::spawn_template(&image, &memfd).map_err(PlatformError::host("fork"))?;
    drop(image);
    let ppid = Pid::from_raw(pid);
    let kill = || {
        let _ = nix::sys::signal::kill(ppid, Signal::SIGKILL);
        let _ = waitpid(ppid, Some(WaitPidFlag::__WALL));
    };
    match waitpid(ppid, Some(WaitPidFlag::__WALL)).map_err(PlatformError::host("waitpid"))? {
        WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
        other => return Err(stub_err(format!("template did not start: {other:?}"))),
    }
    let r = (|| {
        ptrace::setoptions(ppid, ptrace::Options::PTRACE_O_EXITKILL)
            .map_err(PlatformError::host("PTRACE_SETOPTIONS"))?;
        let regs = ptrace::getregs(ppid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
        let (layout, doomed) = read_layout(pid)?;
        let shared = Arc::new(Shared {
            memfd,
            next: AtomicU64::new(0),
            sentry_pid: std::process::id() as i32,
            tuning,
            layout,
        });
        let pages = shared.alloc(2 * PAGE)?;
        pages.map.store32(Q_SENTRY_PID, shared.sentry_pid as u32);
        pages.map.store32(Q_SPIN, tuning.syscall_spin);
        let inject = |nr: Sysno, a: [u64; 6]| -> Result<u64, PlatformError> {
            let mut r = regs;
            r.rax = u64::from(nr.0);
            r.orig_rax = u64::MAX;
            (r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9) = (a[0], a[1], a[2], a[3], a[4], a[5]);
            r.rip = img.inject;
            ptrace::setregs(ppid, r).map_err(PlatformError::host("PTRACE_SETREGS"))?;
            ptrace::cont(ppid, None).map_err(PlatformError::host("PTRACE_CONT"))?;
            match waitpid(ppid, Some(WaitPidFlag::__WALL))
                .map_err(PlatformError::host("waitpid"))?
            {
                WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
                other => return Err(stub_err(format!("template: {nr}: {other:?}"))),
            }
            let out = ptrace::getregs(ppid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
            if out.rip != img.inject + 3 || (out.rax as i64) < 0 && (out.rax as i64) > -4096 {
                return Err(stub_err(format!(
                    "template: {nr} failed: {} at {:#x}",
                    out.rax as i64, out.rip
                )));
            }
            Ok(out.rax)
        };
        for (start, end) in doomed {
            inject(Sysno::munmap, [start, end - start, 0, 0, 0, 0])?;
        }
        for sig in HANDLED {
            inject(
                Sysno::rt_sigaction,
                [sig as u64, DATA + D_SIGACTION, 0, 8, 0, 0],
            )?;
        }
        let shared_map = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let fd = MEMFD_FD as u64;
        inject(
            Sysno::mmap,
            [REQ, PAGE, libc::PROT_READ as u64, shared_map, fd, pages.off],
        )?;
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        inject(
            Sysno::mmap,
            [RESP, PAGE, rw, shared_map, fd, pages.off + PAGE],
        )?;
        inject(
            Sysno::madvise,
            [REQ, 2 * PAGE, libc::MADV_DONTFORK as u64, 0, 0, 0],
        )?;
        inject(
            Sysno::prctl,
            [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
        )?;
        inject(Sysno::seccomp, [1, 0, DATA + D_BACKSTOP_PROG, 0, 0, 0])?;
        // (The syscall thread blocks every signal itself, at its entry: blocked here, the
        // int3 that ends each injection would reset SIGTRAP's handler.)
        let mut r = regs;
        r.rip = img.s_entry;
        r.r15 = 0;
        ptrace::setregs(ppid, r).map_err(PlatformError::host("PTRACE_SETREGS"))?;
        ptrace::detach(ppid, None).map_err(PlatformError::host("PTRACE_DETACH"))?;
        let pidfd = sys::pidfd_open(pid).map_err(PlatformError::host("pidfd_open"))?;
        let template = Arc::new(StubProcess {
            shared: shared.clone(),
            pid,
            pidfd,
            pages,
            seq: Mutex::new(Seq::default()),
            sock: Mutex::new(None),
            stub_sock: -1,
            donated: Mutex::new(Vec::new()),
            slots: Mutex::new(Vec::new()),
            cpu: std::sync::atomic::AtomicUsize::new(ANY_CPU),
        });
        let got = template.call(Sysno::getpid, [0; 6], 0, 0)?;
        if got != pid as u64 {
            return Err(stub_err(format!("template answered {got}, not {pid}")));
        }
        Ok((shared, template))
    })();
    if r.is_err() {
        kill();
    }
    r
}

/// Reads a fresh stub's host layout: what stays (vDSO, vvar, the stub) and what goes.
fn read_layout(pid: i32) -> Result<(HostLayout, Vec<(u64, u64)>), PlatformError> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| stub_err(format!("reading its maps: {e}")))?;
    let mut layout = HostLayout::default();
    let mut doomed = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let range = parts.next().unwrap_or("");
        let name = parts.nth(4).unwrap_or("");
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        if start >= syscalls::abi::TASK_SIZE {
            continue;
        }
        match name {
            "[vdso]" => layout.vdso = Some((start, end)),
            "[vvar]" | "[vvar_vclock]" => layout.reserved.push((start, end, "[vvar]")),
            _ if start >= STUB_BASE && end <= STUB_END => {}
            _ => doomed.push((start, end)),
        }
    }
    layout.reserved.push((STUB_BASE, STUB_END, "[stub]"));
    Ok((layout, doomed))
}

/// The request sequence of a stub process.
#[derive(Debug, Default)]
struct Seq {
    /// The last request's sequence number.
    last: u32,
    /// A request started by [`StubProcess::post`] whose end nobody has waited for yet.
    posted: Option<u32>,
    /// The last posted request waited for, and its result.
    posted_ret: Option<(u32, u64)>,
}

/// One stub process: the host side of one application address space.
struct StubProcess {
    shared: Arc<Shared>,
    pid: i32,
    /// Pins the process (and lets the sentry kill and reap it).
    pidfd: OwnedFd,
    /// Its request page (offset 0) and response page (offset PAGE).
    pages: Chunk,
    /// The last request's sequence number; the lock serialises requests.
    seq: Mutex<Seq>,
    /// The sentry's end of the donation socket (none in the template).
    sock: Mutex<Option<OwnedFd>>,
    /// The stub's end's descriptor number in the stub.
    stub_sock: i32,
    /// Host fds donated to the process: (file key, fd number there), most recent last.
    donated: Mutex<Vec<(u64, i32)>>,
    /// Thread region slots: `true` in use (or lost to a thread that never confirmed its exit).
    slots: Mutex<Vec<bool>>,
    /// The CPU its syscall thread is bound to ([`ANY_CPU`]: none).
    cpu: std::sync::atomic::AtomicUsize,
}

impl StubProcess {
    fn req(&self) -> &Mapping {
        &self.pages.map
    }

    /// Runs one host system call in the process's syscall thread; returns the raw result.
    fn call(&self, nr: Sysno, args: [u64; 6], r12: u64, r13: u64) -> Result<u64, PlatformError> {
        let mut seq = lock(&self.seq);
        // A caller pinned with its application thread takes the syscall thread to its CPU:
        // the wake-up is then a same-CPU switch, and neither side spins (it would only keep
        // the other from the CPU they share).
        let pinned = PINNED_CPU.with(|c| c.get());
        let next = self.send(&mut seq, pinned, nr, args, r12, r13)?;
        let spin = if pinned.is_some() {
            Duration::ZERO
        } else {
            self.shared.tuning.sentry_spin
        };
        self.wait_done(next, spin, nr)
    }

    /// Starts one host system call in the process's syscall thread without waiting for it,
    /// on any CPU (it runs beside the caller); returns its sequence number for
    /// [`Self::posted_result`]. Used only on the template, whose response page no application
    /// can write.
    fn post(&self, nr: Sysno, args: [u64; 6], r12: u64, r13: u64) -> Result<u32, PlatformError> {
        let mut seq = lock(&self.seq);
        let next = self.send(&mut seq, None, nr, args, r12, r13)?;
        seq.posted = Some(next);
        Ok(next)
    }

    /// The result of the request [`Self::post`] started as `which`, once it is done; None if
    /// it is unknown (a later request overtook it and its result was not kept).
    fn posted_result(&self, which: u32, nr: Sysno) -> Result<Option<u64>, PlatformError> {
        let mut seq = lock(&self.seq);
        if seq.posted == Some(which) {
            let r = self.wait_done(which, Duration::ZERO, nr)?;
            seq.posted = None;
            seq.posted_ret = Some((which, r));
        }
        Ok(seq.posted_ret.filter(|(s, _)| *s == which).map(|(_, r)| r))
    }

    /// Writes one request into the request page (under the seqlock) and wakes the syscall
    /// thread; a posted request not yet collected is waited for first (its result kept), as
    /// the page holds one request at a time.
    fn send(
        &self,
        seq: &mut Seq,
        pinned: Option<usize>,
        nr: Sysno,
        args: [u64; 6],
        r12: u64,
        r13: u64,
    ) -> Result<u32, PlatformError> {
        if let Some(p) = seq.posted.take() {
            let r = self.wait_done(p, Duration::ZERO, nr)?;
            seq.posted_ret = Some((p, r));
        }
        let m = self.req();
        let want = pinned.unwrap_or(ANY_CPU);
        if self.cpu.swap(want, Ordering::Relaxed) != want {
            set_affinity(self.pid, pinned);
        }
        m.store32(
            Q_SPIN,
            if pinned.is_some() {
                0
            } else {
                self.shared.tuning.syscall_spin
            },
        );
        let next = seq.last.wrapping_add(2);
        m.store32(Q_SEQ, next.wrapping_sub(1)); // odd: being written
        m.store64(Q_NR, u64::from(nr.0));
        for (i, a) in args.iter().enumerate() {
            m.store64(Q_ARGS + 8 * i as u64, *a);
        }
        m.store64(Q_R12, r12);
        m.store64(Q_R13, r13);
        m.swap32(Q_SEQ, next);
        seq.last = next;
        if m.load32(PAGE + P_SLEEPS) != 0 {
            m.wake(Q_SEQ);
        }
        Ok(next)
    }

    /// Waits until the syscall thread has done request `next` (spinning up to `spin` first);
    /// returns its raw result.
    fn wait_done(&self, next: u32, spin: Duration, nr: Sysno) -> Result<u64, PlatformError> {
        let m = self.req();
        let start = Instant::now();
        loop {
            if m.load32(PAGE + P_DONE) == next {
                return Ok(m.load64(PAGE + P_RET));
            }
            if start.elapsed() >= spin {
                break;
            }
            std::hint::spin_loop();
        }
        let mut waited = Duration::ZERO;
        loop {
            m.swap32(PAGE + P_SENTRY_SLEEPS, 1);
            let done = m.load32(PAGE + P_DONE);
            if done == next {
                m.store32(PAGE + P_SENTRY_SLEEPS, 0);
                return Ok(m.load64(PAGE + P_RET));
            }
            // The stub's "I sleep" flag is forgeable: wake it anyway now and then.
            m.wake(Q_SEQ);
            m.wait(PAGE + P_DONE, done, LIVENESS);
            m.store32(PAGE + P_SENTRY_SLEEPS, 0);
            if m.load32(PAGE + P_DONE) == next {
                return Ok(m.load64(PAGE + P_RET));
            }
            waited += LIVENESS;
            if sys::pidfd_exited(self.pidfd.as_fd()) {
                return Err(stub_err("stub process died"));
            }
            if waited >= SETUP_TIMEOUT * 6 {
                return Err(stub_err(format!("syscall thread does not answer {nr}")));
            }
        }
    }

    /// Like [`Self::call`], with host errors as errnos and platform failures as ENOMEM.
    fn call_errno(&self, nr: Sysno, args: [u64; 6]) -> Result<u64, Errno> {
        match self.call(nr, args, 0, 0) {
            Ok(r) if (r as i64) < 0 && (r as i64) > -4096 => Err(Errno(-(r as i64) as i32)),
            Ok(r) => Ok(r),
            Err(e) => {
                tracing::error!("platform: {e}");
                Err(Errno::ENOMEM)
            }
        }
    }

    fn dead(&self) -> bool {
        sys::pidfd_exited(self.pidfd.as_fd())
    }

    /// Makes `file` available in the stub process and returns its fd number there.
    fn donate(&self, file: MapFile<'_>) -> Result<i32, Errno> {
        let mut donated = lock(&self.donated);
        if let Some(i) = donated.iter().position(|(key, _)| *key == file.key) {
            let hit = donated.remove(i);
            donated.push(hit);
            return Ok(hit.1);
        }
        if donated.len() >= DONATED_KEPT {
            let (_, fd) = donated.remove(0);
            let _ = self.call_errno(Sysno::close, [fd as u64, 0, 0, 0, 0, 0]);
        }
        let sock = lock(&self.sock);
        let Some(sock) = sock.as_ref() else {
            return Err(Errno::ENOMEM);
        };
        super::send_donation(sock.as_raw_fd(), file.fd.as_raw_fd())?;
        let m = self.req();
        let mut hdr = [0u8; 56 + 16];
        let put =
            |b: &mut [u8], off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
        put(&mut hdr, 16, RESP + P_IOV);
        put(&mut hdr, 24, 1);
        put(&mut hdr, 32, RESP + P_CMSG);
        put(&mut hdr, 40, CMSG_SPACE_ONE_FD);
        put(&mut hdr, 56, RESP + P_BYTE);
        put(&mut hdr, 64, 1);
        m.write(PAGE + P_MSGHDR, &hdr);
        let n = self.call_errno(
            Sysno::recvmsg,
            [
                self.stub_sock as u64,
                RESP + P_MSGHDR,
                (libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) as u64,
                0,
                0,
                0,
            ],
        )?;
        let mut cmsg = [0u8; 20];
        m.read(PAGE + P_CMSG, &mut cmsg);
        let fd = i32::from_le_bytes([cmsg[16], cmsg[17], cmsg[18], cmsg[19]]);
        // The answer is the application's to forge: believe the number only if it is the very
        // file sent.
        if n != 1 || fd < 0 || fd == MEMFD_FD || !sys::same_file(self.pid, fd, file.fd.as_raw_fd())
        {
            tracing::error!("platform: stub did not receive the donated fd");
            return Err(Errno::ENOMEM);
        }
        donated.push((file.key, fd));
        Ok(fd)
    }

    fn alloc_slot(&self) -> Option<usize> {
        let mut slots = lock(&self.slots);
        if let Some(i) = slots.iter().position(|u| !u) {
            slots[i] = true;
            return Some(i);
        }
        if (slots.len() as u64) < MAX_THREADS {
            slots.push(true);
            return Some(slots.len() - 1);
        }
        None
    }

    fn free_slot(&self, i: usize) {
        if let Some(s) = lock(&self.slots).get_mut(i) {
            *s = false;
        }
    }
}

impl Drop for StubProcess {
    fn drop(&mut self) {
        sys::pidfd_kill(self.pidfd.as_fd(), libc::SIGKILL);
        sys::pidfd_reap(self.pidfd.as_fd());
    }
}

impl AddressSpace for StubProcess {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        let len = buf.len();
        let remote = [RemoteIoVec {
            base: addr as usize,
            len,
        }];
        match process_vm_readv(
            Pid::from_raw(self.pid),
            &mut [IoSliceMut::new(buf)],
            &remote,
        ) {
            Ok(n) if n == len => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        let remote = [RemoteIoVec {
            base: addr as usize,
            len: buf.len(),
        }];
        match process_vm_writev(Pid::from_raw(self.pid), &[IoSlice::new(buf)], &remote) {
            Ok(n) if n == buf.len() => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }

    fn layout(&self) -> &HostLayout {
        &self.shared.layout
    }
}

/// The request and response pages of a process about to be cloned.
fn new_pages(shared: &Arc<Shared>) -> Result<Chunk, PlatformError> {
    let pages = shared.alloc(2 * PAGE)?;
    pages.map.store32(Q_SENTRY_PID, shared.sentry_pid as u32);
    // Booted, the syscall thread sleeps until the first request.
    pages.map.store32(Q_SPIN, 0);
    Ok(pages)
}

/// The clone request that makes a new stub process with `pages`.
/// (Exit signal 0: the sentry reaps its stubs itself, waitid on a pidfd, __WALL.)
const CLONE_PROCESS: [u64; 6] = [CLONE_PARENT, 0, 0, 0, 0, 0];

/// Clones a new stub process from `from` (the template, or the forking process) and waits for
/// it to set itself up.
fn spawn_process(
    shared: &Arc<Shared>,
    from: &StubProcess,
) -> Result<Arc<StubProcess>, PlatformError> {
    let pages = new_pages(shared)?;
    let r = from.call(Sysno::clone, CLONE_PROCESS, pages.off, KIND_PROCESS)?;
    if (r as i64) <= 0 {
        return Err(stub_err(format!("clone of a stub failed: {}", r as i64)));
    }
    // Its syscall thread is the clone of `from`'s, with its affinity.
    finish_spawn(
        shared,
        pages,
        from.cpu.load(Ordering::Relaxed),
        from.stub_sock,
    )
}

/// A new stub process cloned ahead of need from the template (see [`SystrapPlatform::spare`]).
struct Spare {
    pages: Chunk,
    /// The template's request that clones it.
    seq: u32,
}

impl Spare {
    /// Starts cloning a spare process from the template, on any CPU, without waiting.
    fn start(shared: &Arc<Shared>, template: &StubProcess) -> Result<Spare, PlatformError> {
        let pages = new_pages(shared)?;
        let seq = template.post(Sysno::clone, CLONE_PROCESS, pages.off, KIND_PROCESS)?;
        Ok(Spare { pages, seq })
    }

    /// Waits for the spare to be up and takes it (None: the clone failed or its result was
    /// lost; the caller clones one itself).
    fn finish(
        self,
        shared: &Arc<Shared>,
        template: &StubProcess,
    ) -> Result<Option<Arc<StubProcess>>, PlatformError> {
        match template.posted_result(self.seq, Sysno::clone)? {
            Some(r) if (r as i64) > 0 => {}
            _ => return Ok(None),
        }
        // The template's syscall thread ran it unbound: so does the child's.
        finish_spawn(shared, self.pages, ANY_CPU, template.stub_sock).map(Some)
    }
}

/// Waits for a stub process just cloned with `pages` to set itself up, and takes it over;
/// `cpu` is its syscall thread's affinity, `inherited` the cloner's donation socket (closed
/// in the child).
fn finish_spawn(
    shared: &Arc<Shared>,
    pages: Chunk,
    cpu: usize,
    inherited: i32,
) -> Result<Arc<StubProcess>, PlatformError> {
    let m = &pages.map;
    // The child's own pages, written before it has any application thread: trusted.
    let start = Instant::now();
    while m.load32(PAGE + P_BOOTED) == 0 {
        if start.elapsed() > SETUP_TIMEOUT {
            // The child never came up; the pid the parent reported is the parent's to forge,
            // so nothing is killed by it.
            return Err(stub_err("a new stub did not start"));
        }
        m.wait(PAGE + P_BOOTED, 0, Duration::from_millis(10));
    }
    let pid = m.load32(PAGE + P_PID) as i32;
    let pidfd = sys::pidfd_open(pid).map_err(PlatformError::host("pidfd_open"))?;
    let mut socks = [0u8; 8];
    m.read(PAGE + P_SOCKS, &mut socks);
    let stub_sock = i32::from_le_bytes([socks[0], socks[1], socks[2], socks[3]]);
    let their = i32::from_le_bytes([socks[4], socks[5], socks[6], socks[7]]);
    let proc = StubProcess {
        shared: shared.clone(),
        pid,
        pidfd,
        pages,
        seq: Mutex::new(Seq::default()),
        sock: Mutex::new(None),
        stub_sock,
        donated: Mutex::new(Vec::new()),
        slots: Mutex::new(Vec::new()),
        cpu: std::sync::atomic::AtomicUsize::new(cpu),
    };
    // The pidfd is the process behind these pages without a round trip to prove it: the pid
    // was written by the child itself, and the child's parent is the sentry (CLONE_PARENT of
    // a stub whose parent is the sentry; it checked getppid), which reaps a stub only through
    // that stub's own pidfd: dead, it stays a zombie under this pid until then. (A dead one
    // fails at pidfd_getfd just below.)
    let sock =
        sys::pidfd_getfd(proc.pidfd.as_fd(), their).map_err(PlatformError::host("pidfd_getfd"))?;
    proc.call(Sysno::close, [their as u64, 0, 0, 0, 0, 0], 0, 0)?;
    if inherited >= 0 {
        // The forking process's socket end, inherited: not this process's.
        proc.call(Sysno::close, [inherited as u64, 0, 0, 0, 0, 0], 0, 0)?;
    }
    *lock(&proc.sock) = Some(sock);
    Ok(Arc::new(proc))
}

/// Creates a new application thread in `proc`, in a fresh region; it stops at its first trap.
fn spawn_thread(
    proc: &Arc<StubProcess>,
    fp: Option<Vec<u8>>,
) -> Result<ParkedThread, PlatformError> {
    let slot = proc
        .alloc_slot()
        .ok_or_else(|| stub_err("too many threads in one process"))?;
    let addr = STUB_THREADS + slot as u64 * REGION;
    let region = match proc.shared.alloc(REGION) {
        Ok(r) => r,
        Err(e) => {
            proc.free_slot(slot);
            return Err(e);
        }
    };
    let m = &region.map;
    m.store32(R_STATE, ST_BOOT);
    // Threads start pinned and sleeping (see `Policy`): a short-lived process never spins.
    m.store32(R_SPIN, 0);
    let mut ss = [0u8; 24];
    ss[0..8].copy_from_slice(&(addr + R_STACK).to_le_bytes());
    ss[16..24].copy_from_slice(&(REGION - R_STACK).to_le_bytes());
    m.write(R_SIGSTACK, &ss);
    let r = (|| {
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let got = proc.call(
            Sysno::mmap,
            [addr, REGION, rw, flags, MEMFD_FD as u64, region.off],
            0,
            0,
        )?;
        if got != addr {
            return Err(stub_err(format!("mapping a thread region: {}", got as i64)));
        }
        proc.call(
            Sysno::madvise,
            [addr, REGION, libc::MADV_DONTFORK as u64, 0, 0, 0],
            0,
            0,
        )?;
        let flags = CLONE_VM
            | CLONE_FS
            | CLONE_FILES
            | CLONE_SIGHAND
            | CLONE_THREAD
            | CLONE_SYSVSEM
            | CLONE_CHILD_CLEARTID;
        let tid = proc.call(
            Sysno::clone,
            [flags, 0, 0, addr + R_STATE, 0, 0],
            addr,
            KIND_THREAD,
        )? as i64;
        // The answer is forgeable: it must at least be a thread of this process.
        if tid <= 0 || tid > i64::from(i32::MAX) || !sys::tgkill(proc.pid, tid as i32, 0) {
            return Err(stub_err(format!("clone of a thread failed: {tid}")));
        }
        Ok(tid as i32)
    })();
    let tid = match r {
        Ok(t) => t,
        Err(e) => {
            proc.free_slot(slot);
            return Err(e);
        }
    };
    Ok(ParkedThread {
        t: AppThread {
            policy: Policy {
                spinning: false,
                waits: 0,
                misses: 0,
                backoff: PINNED_WINDOWS,
                started: None,
                pinned_per: None,
                spun: Duration::ZERO,
                spun_windows: 0,
                slow_windows: 0,
            },
            home: None,
            allowed: None,
            proc: proc.clone(),
            tid,
            slot,
            addr,
            region,
            frame: None,
            pending_fp: fp,
            interrupter: Arc::new(ThreadInterrupter {
                pid: proc.pid,
                tid,
                alive: AtomicBool::new(true),
            }),
            dead: false,
            foreign: None,
        },
    })
}

/// Whether the host lets the sandbox run on `cpu` (the sentry's start-up affinity).
fn host_cpu_allowed(cpu: usize) -> bool {
    static SET: std::sync::OnceLock<Option<nix::sched::CpuSet>> = std::sync::OnceLock::new();
    SET.get_or_init(|| nix::sched::sched_getaffinity(Pid::from_raw(std::process::id() as i32)).ok())
        .is_some_and(|s| s.is_set(cpu).unwrap_or(false))
}

/// How many live application threads have each host CPU as their home (see
/// [`AppThread::home`]).
static HOMES: [std::sync::atomic::AtomicUsize; 64] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 64];

fn homed(cpu: usize) -> usize {
    HOMES
        .get(cpu)
        .map_or(usize::MAX, |h| h.load(Ordering::Relaxed))
}

/// A home for an application thread among `allowed` (None: every CPU the sandbox may use):
/// with `spread`, the CPU fewest other threads call home (the caller's own on a tie, `own`
/// not counted); otherwise the caller's CPU if allowed.
fn pick_home(allowed: Option<&[usize]>, own: Option<usize>, spread: bool) -> usize {
    let here = sys::current_cpu();
    let ok = |c: usize| allowed.map_or(host_cpu_allowed(c), |a| a.contains(&c));
    if !spread && ok(here) {
        return here;
    }
    let load = |c: usize| homed(c).saturating_sub(usize::from(own == Some(c)));
    (0..HOMES.len())
        .filter(|&c| ok(c))
        .min_by_key(|&c| (load(c), c != here))
        .unwrap_or(here)
}

/// Interrupts one application thread with the host's interrupt signal.
struct ThreadInterrupter {
    pid: i32,
    tid: i32,
    alive: AtomicBool,
}

impl Interrupter for ThreadInterrupter {
    fn interrupt(&self) {
        if self.alive.load(Ordering::Acquire) {
            sys::tgkill(self.pid, self.tid, INTERRUPT_SIGNAL);
        }
    }
}

/// Where the last trap's frame lies in the region (offsets in the region).
#[derive(Debug, Clone, Copy)]
struct Frame {
    uc: u64,
    info: u64,
    signo: i32,
    fp: u64,
    fp_size: u64,
    xfeatures: u64,
}

// ucontext layout (x86_64): uc_flags, uc_link, uc_stack (24), then sigcontext.
const UC_MCONTEXT: u64 = 40;
const UC_SIGMASK: u64 = 296;
const UC_SIZE: u64 = 304;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const SYS_SECCOMP: i32 = 1;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// How one application thread and its sentry thread hand traps to each other.
///
/// Spinning makes a handoff cost about a cache-line bounce, but only while the two threads
/// run on different vCPUs at once; on a busy machine (or when the application computes for
/// long between system calls) a spin only burns the CPU the other side needs, and a sleeper
/// woken from the other vCPU costs tens of microseconds here. So a new thread starts pinned
/// to its sentry thread's CPU, neither side spinning (a futex wake-up on the same CPU is
/// several times cheaper than across CPUs): a process that starts, runs a few hundred system
/// calls and exits never pays a cross-CPU wake-up. After a while the pair tries spinning,
/// unpinned; each side then spins within a budget, the sentry counts how often the other
/// side answered within it, and when more than a quarter of a window's handoffs missed, the
/// pair is pinned again. While pinned, the sentry thread also takes the process's syscall
/// thread to its CPU at each request ([`StubProcess::call`]). Measured in the README.
#[derive(Debug)]
struct Policy {
    /// Whether the pair currently spins (else: sleeps at once, pinned together).
    spinning: bool,
    /// Handoffs counted in this window, and how many missed the spin.
    waits: u32,
    misses: u32,
    /// Windows a pinned pair waits before it tries spinning again: doubled each time a try
    /// fails (the other vCPU is busy, or the program computes between calls), back to
    /// [`PINNED_WINDOWS`] after an epoch that spun well.
    backoff: u32,
    /// When the current window's last [`WINDOW`] handoffs began (a pinned window's first
    /// ones include a new process's start-up).
    started: Option<Instant>,
    /// Mean time per handoff over the last [`WINDOW`] of the latest pinned window.
    pinned_per: Option<Duration>,
    /// Time spent and windows counted in the current spinning epoch.
    spun: Duration,
    spun_windows: u32,
    /// Windows of the epoch that took more than twice as long as pinned.
    slow_windows: u32,
}

/// Handoffs per decision window.
const WINDOW: u32 = 64;
/// Windows a pinned, sleeping pair waits before trying to spin again, at first and at most.
const PINNED_WINDOWS: u32 = 16;
const PINNED_WINDOWS_MAX: u32 = 512;
/// Spinning windows over which spinning is judged against pinned.
const EPOCH: u32 = 8;

/// One application thread, driven by the sentry thread that owns this value.
struct AppThread {
    policy: Policy,
    /// The CPU the pair is pinned to whenever it is pinned (counted in [`HOMES`]).
    home: Option<usize>,
    /// The host CPUs the program allows this thread (None: all the sandbox may use).
    allowed: Option<Vec<usize>>,
    proc: Arc<StubProcess>,
    tid: i32,
    slot: usize,
    /// The region's address in the stub.
    addr: u64,
    region: Chunk,
    frame: Option<Frame>,
    /// FPU state to install at the first resume (a fork or new thread inherits its creator's).
    pending_fp: Option<Vec<u8>>,
    interrupter: Arc<ThreadInterrupter>,
    dead: bool,
    /// The arch and number of the last system call when it was not an x86_64 one.
    foreign: Option<(u32, u32)>,
}

impl AppThread {
    fn m(&self) -> &Mapping {
        &self.region.map
    }

    fn mark_dead(&mut self) {
        self.dead = true;
        self.interrupter.alive.store(false, Ordering::Release);
    }

    /// Pins the pair to its home CPU (or unpins both, within the allowed CPUs). A new pair's
    /// home is its creator's CPU (a process that starts, runs briefly and exits never pays a
    /// cross-CPU wake-up); with `spread`, or when the program's affinity excludes the home,
    /// the allowed CPU fewest other pairs call home, so that busy processes that keep
    /// handing off (a writer and a reader, two compilers) end up side by side.
    fn pin(&mut self, on: bool, spread: bool) {
        if !on && self.split() {
            return;
        }
        if !on {
            match &self.allowed {
                Some(a) => {
                    set_affinity_list(0, a);
                    set_affinity_list(self.tid, a);
                }
                None => {
                    set_affinity(0, None);
                    set_affinity(self.tid, None);
                }
            }
            PINNED_CPU.with(|c| c.set(None));
            return;
        }
        let allowed = self.allowed.as_deref();
        let keep = self
            .home
            .filter(|&h| !spread && allowed.is_none_or(|a| a.contains(&h)));
        let cpu = keep.unwrap_or_else(|| pick_home(allowed, self.home, spread));
        if self.home != Some(cpu) {
            if let Some(h) = self.home.and_then(|h| HOMES.get(h)) {
                h.fetch_sub(1, Ordering::Relaxed);
            }
            if let Some(h) = HOMES.get(cpu) {
                h.fetch_add(1, Ordering::Relaxed);
            }
            self.home = Some(cpu);
        }
        set_affinity(0, Some(cpu));
        set_affinity(self.tid, Some(cpu));
        PINNED_CPU.with(|c| c.set(Some(cpu)));
    }

    /// Places a spinning pair on two different CPUs: the sentry thread stays on its own (if
    /// the program allows it), the application thread goes to the allowed CPU fewest pinned
    /// pairs call home. Left to the scheduler, the two often shared one vCPU, where the side
    /// that spins only delays the side it waits for (a cold `find` missed two handoffs in
    /// three). False when fewer than two CPUs are allowed.
    fn split(&mut self) -> bool {
        let allowed: Vec<usize> = match &self.allowed {
            Some(a) => a.clone(),
            None => (0..HOMES.len()).filter(|&c| host_cpu_allowed(c)).collect(),
        };
        if allowed.len() < 2 {
            return false;
        }
        let here = sys::current_cpu();
        let own = if allowed.contains(&here) {
            here
        } else {
            allowed[0]
        };
        let Some(other) = allowed
            .iter()
            .copied()
            .filter(|&c| c != own)
            .min_by_key(|&c| homed(c))
        else {
            return false;
        };
        set_affinity(0, Some(own));
        set_affinity(self.tid, Some(other));
        PINNED_CPU.with(|c| c.set(None));
        true
    }

    /// Counts one handoff and, at the end of a window, decides whether the pair spins.
    fn account(&mut self, missed: bool) {
        let p = &mut self.policy;
        p.waits += 1;
        p.misses += u32::from(missed);
        let limit = if p.spinning {
            WINDOW
        } else {
            WINDOW * p.backoff.max(1)
        };
        if !p.spinning && p.waits == limit - WINDOW {
            p.started = Some(Instant::now());
        }
        if p.waits < limit {
            return;
        }
        // What each mode is worth to the program is the time per handoff. Spinning loses at
        // once when a quarter of a window's handoffs missed the spin; else, judged over an
        // epoch of windows against the end of the last pinned window, when it was slower on
        // the whole, or as soon as two of the epoch's windows took twice as long as pinned.
        // With the other vCPU busy most handoffs hit, but the application thread gets half
        // a vCPU and every descheduling costs milliseconds: one window in three or four is
        // ten times slower (`tar` of /usr/include took 1.6x as long spinning as pinned).
        // While idle, one in ten or twenty is (a long gofer request, after which the
        // handler, asleep by then, is woken across vCPUs).
        let now = Instant::now();
        let took = p.started.map(|t| now - t);
        let spin_again = !p.spinning;
        let mut stop = p.spinning && p.misses * 4 > p.waits;
        if p.spinning && !stop {
            let t = took.unwrap_or_default();
            if p.pinned_per.is_some_and(|q| t > q * WINDOW * 2) {
                p.slow_windows += 1;
                stop = p.slow_windows >= 2;
            }
            p.spun += t;
            p.spun_windows += 1;
            if p.spun_windows == EPOCH {
                let per = p.spun / (EPOCH * WINDOW);
                stop |= p.pinned_per.is_some_and(|q| per > q + q / 8);
                p.spun = Duration::ZERO;
                p.spun_windows = 0;
                p.slow_windows = 0;
                if !stop {
                    p.backoff = PINNED_WINDOWS;
                }
            }
        }
        if !p.spinning {
            p.pinned_per = took.map(|t| t / WINDOW);
        }
        p.waits = 0;
        p.misses = 0;
        // A spinning window is timed whole, a pinned one from its last WINDOW handoffs.
        p.started = None;
        if stop {
            p.backoff = (p.backoff * 2).clamp(PINNED_WINDOWS, PINNED_WINDOWS_MAX);
            p.spinning = false;
            p.spun = Duration::ZERO;
            p.spun_windows = 0;
            p.slow_windows = 0;
            self.m().store32(R_SPIN, 0);
            self.pin(true, true);
        } else if spin_again {
            p.spinning = true;
            self.m().store32(R_SPIN, self.proc.shared.tuning.stub_spin);
            self.pin(false, false);
        }
        if self.policy.spinning {
            self.policy.started = Some(Instant::now());
        }
    }

    /// Waits for the thread to trap (or die). Returns false when it died.
    fn wait_trap(&mut self, limit: Option<Duration>) -> bool {
        let start = Instant::now();
        let spin = if self.policy.spinning {
            self.proc.shared.tuning.sentry_spin
        } else {
            Duration::ZERO
        };
        loop {
            match self.m().load32(R_STATE) {
                ST_TRAPPED => {
                    self.account(false);
                    return true;
                }
                ST_DEAD => return false,
                _ => {}
            }
            if start.elapsed() >= spin {
                break;
            }
            std::hint::spin_loop();
        }
        self.account(self.policy.spinning);
        loop {
            let m = self.m();
            m.swap32(R_SENTRY_SLEEPS, 1);
            let s = m.load32(R_STATE);
            if s != ST_TRAPPED && s != ST_DEAD {
                m.wait(R_STATE, s, LIVENESS);
            }
            m.store32(R_SENTRY_SLEEPS, 0);
            match m.load32(R_STATE) {
                ST_TRAPPED => return true,
                ST_DEAD => return false,
                _ => {}
            }
            if self.proc.dead() {
                return false;
            }
            if limit.is_some_and(|l| start.elapsed() > l) {
                return false;
            }
        }
    }

    /// Locates the frame of the trap just taken; None if the application made it unusable.
    fn locate(&self) -> Option<Frame> {
        let m = self.m();
        let inside = |addr: u64, size: u64| -> Option<u64> {
            let off = addr.checked_sub(self.addr)?;
            (off >= R_STACK && off.checked_add(size)? <= REGION).then_some(off)
        };
        let uc = inside(m.load64(R_UCTX), UC_SIZE)?;
        let info = inside(m.load64(R_INFO), 48)?;
        let signo = m.load32(R_SIGNO) as i32;
        let fp = inside(m.load64(uc + UC_MCONTEXT + 23 * 8), 576)?;
        let mut sw = [0u8; 48];
        m.read(fp + 464, &mut sw);
        let word = |i: usize| u32::from_le_bytes([sw[i], sw[i + 1], sw[i + 2], sw[i + 3]]);
        if word(0) != FP_XSTATE_MAGIC1 {
            return None;
        }
        let xfeatures = u64::from_le_bytes(sw[8..16].try_into().unwrap_or_default());
        let size = u64::from(word(16));
        inside(self.addr + fp + size, 0)?;
        if size < 576 {
            return None;
        }
        Some(Frame {
            uc,
            info,
            signo,
            fp,
            fp_size: size,
            xfeatures,
        })
    }

    /// Reads the trap's registers and what it was.
    fn read_trap(&mut self, regs: &mut Registers) -> Trap {
        let Some(f) = self.locate() else {
            // The application broke its own frame: it cannot go on.
            tracing::warn!(
                "platform: thread {} trapped with an unusable frame",
                self.tid
            );
            self.kill_self();
            return Trap::Died {
                signo: libc::SIGSEGV,
            };
        };
        self.frame = Some(f);
        let m = self.m();
        let mut g = [0u8; 8 * 24];
        m.read(f.uc + UC_MCONTEXT, &mut g);
        let w = |i: usize| u64::from_le_bytes(g[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        regs.r8 = w(0);
        regs.r9 = w(1);
        regs.r10 = w(2);
        regs.r11 = w(3);
        regs.r12 = w(4);
        regs.r13 = w(5);
        regs.r14 = w(6);
        regs.r15 = w(7);
        regs.rdi = w(8);
        regs.rsi = w(9);
        regs.rbp = w(10);
        regs.rbx = w(11);
        regs.rdx = w(12);
        regs.rax = w(13);
        regs.rcx = w(14);
        regs.rsp = w(15);
        regs.rip = w(16);
        regs.eflags = w(17);
        regs.cs = 0x33;
        regs.ss = 0x2b;
        regs.ds = 0;
        regs.es = 0;
        regs.fs = 0;
        regs.gs = 0;
        regs.fs_base = m.load64(R_FS);
        regs.gs_base = m.load64(R_GS);
        regs.orig_rax = u64::MAX;
        let mut info = [0u8; 32];
        m.read(f.info, &mut info);
        let i32_at =
            |o: usize| i32::from_le_bytes([info[o], info[o + 1], info[o + 2], info[o + 3]]);
        let code = i32_at(8);
        let addr = u64::from_le_bytes(info[16..24].try_into().unwrap_or_default());
        match f.signo {
            libc::SIGSYS if code == SYS_SECCOMP => {
                let nr = i32_at(24);
                let arch = i32_at(28) as u32;
                regs.orig_rax = if arch == AUDIT_ARCH_X86_64 && nr >= 0 {
                    self.foreign = None;
                    nr as u64
                } else {
                    // A 32-bit call: not one of ours.
                    self.foreign = Some((arch, nr as u32));
                    0xffff
                };
                Trap::Syscall
            }
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP
                if code > 0 =>
            {
                Trap::Fault {
                    signo: f.signo,
                    code,
                    addr,
                }
            }
            _ => Trap::Interrupted,
        }
    }

    /// Writes `regs` into the frame for the thread's return to the application.
    fn write_regs(&self, regs: &Registers) {
        let Some(f) = self.frame else { return };
        let m = self.m();
        let vals = [
            regs.r8,
            regs.r9,
            regs.r10,
            regs.r11,
            regs.r12,
            regs.r13,
            regs.r14,
            regs.r15,
            regs.rdi,
            regs.rsi,
            regs.rbp,
            regs.rbx,
            regs.rdx,
            regs.rax,
            regs.rcx,
            regs.rsp,
            regs.rip,
            regs.eflags,
        ];
        let mut g = [0u8; 8 * 19];
        for (i, v) in vals.iter().enumerate() {
            g[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        // cs, gs, fs, ss (16 bits each): 64-bit user code and stack segments.
        g[144..146].copy_from_slice(&0x33u16.to_le_bytes());
        g[150..152].copy_from_slice(&0x2bu16.to_le_bytes());
        m.write(f.uc + UC_MCONTEXT, &g);
        m.write(f.uc + UC_SIGMASK, &0u64.to_le_bytes());
        m.store64(R_FS, regs.fs_base);
        m.store64(R_GS, regs.gs_base);
    }

    fn kill_self(&mut self) {
        sys::pidfd_kill(self.proc.pidfd.as_fd(), libc::SIGKILL);
        self.mark_dead();
    }

    fn check_range(addr: u64, len: u64) -> Result<(), Errno> {
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if end > STUB_BASE && addr < STUB_END {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

impl Drop for AppThread {
    fn drop(&mut self) {
        if let Some(h) = self.home.and_then(|c| HOMES.get(c)) {
            h.fetch_sub(1, Ordering::Relaxed);
        }
        if !self.dead {
            self.exit_thread();
        }
    }
}

impl Context for AppThread {
    fn switch(&mut self, regs: &mut Registers) -> Result<Trap, PlatformError> {
        if self.dead {
            return Ok(Trap::Died { signo: 0 });
        }
        self.write_regs(regs);
        if let Some(fp) = self.pending_fp.take() {
            let _ = self.set_fpu_state(&fp);
        }
        let m = self.m();
        m.swap32(R_STATE, ST_RESUME);
        if m.load32(R_STUB_SLEEPS) != 0 {
            m.wake(R_STATE);
            if self.policy.spinning {
                // The handler's spin ran out before the sentry answered.
                self.account(true);
            }
        }
        if !self.wait_trap(None) {
            self.mark_dead();
            return Ok(Trap::Died { signo: 0 });
        }
        Ok(self.read_trap(regs))
    }

    fn foreign_syscall(&self) -> Option<(u32, u32)> {
        self.foreign
    }

    fn initial_registers(&self) -> Registers {
        // SAFETY-free zero state: every field is a plain integer.
        let mut r = super::Detached.initial_registers();
        r.cs = 0x33;
        r.ss = 0x2b;
        r.eflags = 0x202;
        r.orig_rax = u64::MAX;
        r
    }

    fn address_space(&self) -> Arc<dyn AddressSpace> {
        self.proc.clone()
    }

    fn interrupter(&self) -> Arc<dyn Interrupter> {
        self.interrupter.clone()
    }

    fn host_process(&self) -> i32 {
        self.proc.pid
    }

    fn host_thread(&self) -> i32 {
        self.tid
    }

    fn map(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        file: Option<MapFile<'_>>,
    ) -> Result<(), Errno> {
        Self::check_range(addr, len)?;
        let (fd, off) = match file {
            Some(f) => (self.proc.donate(f)? as u64, f.offset),
            None => (u64::MAX, 0),
        };
        let flags = u64::from(flags | syscalls::abi::MAP_FIXED);
        let r = self
            .proc
            .call_errno(Sysno::mmap, [addr, len, u64::from(prot), flags, fd, off])?;
        if r != addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn io_direct(
        &mut self,
        file: MapFile<'_>,
        addr: u64,
        len: u64,
        write: bool,
    ) -> Result<u64, Errno> {
        Self::check_range(addr, len)?;
        let fd = self.proc.donate(file)? as u64;
        let nr = if write {
            Sysno::pwrite64
        } else {
            Sysno::pread64
        };
        // The count is the application's to forge: never more than asked.
        self.proc
            .call_errno(nr, [fd, addr, len, file.offset, 0, 0])
            .map(|n| n.min(len))
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        Self::check_range(addr, len)?;
        self.proc
            .call_errno(Sysno::munmap, [addr, len, 0, 0, 0, 0])
            .map(drop)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        Self::check_range(addr, len)?;
        self.proc
            .call_errno(Sysno::mprotect, [addr, len, u64::from(prot), 0, 0, 0])
            .map(drop)
    }

    fn map_grow(&mut self, addr: u64, old_len: u64, new_len: u64) -> Result<(), Errno> {
        Self::check_range(addr, new_len)?;
        let r = self
            .proc
            .call_errno(Sysno::mremap, [addr, old_len, new_len, 0, 0, 0])?;
        if r != addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn remap(&mut self, old: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno> {
        Self::check_range(old, old_len)?;
        Self::check_range(new_addr, new_len)?;
        let flags = u64::from(syscalls::abi::MREMAP_MAYMOVE | syscalls::abi::MREMAP_FIXED);
        self.proc
            .call_errno(Sysno::mremap, [old, old_len, new_len, flags, new_addr, 0])
            .map(drop)
    }

    fn advise(&mut self, addr: u64, len: u64, advice: u32) -> Result<(), Errno> {
        Self::check_range(addr, len)?;
        self.proc
            .call_errno(Sysno::madvise, [addr, len, u64::from(advice), 0, 0, 0])
            .map(drop)
    }

    fn sync(&mut self, addr: u64, len: u64, flags: u32) -> Result<(), Errno> {
        Self::check_range(addr, len)?;
        self.proc
            .call_errno(Sysno::msync, [addr, len, u64::from(flags), 0, 0, 0])
            .map(drop)
    }

    fn membarrier(&mut self, cmd: u32) -> Result<(), Errno> {
        // Made by the process's syscall thread: the stub's own process, whose other threads
        // are the application's.
        self.proc
            .call_errno(Sysno::membarrier, [u64::from(cmd), 0, 0, 0, 0, 0])
            .map(drop)
    }

    fn mincore(&mut self, addr: u64, len: u64, vec: u64) -> Result<(), Errno> {
        self.proc
            .call_errno(Sysno::mincore, [addr, len, vec, 0, 0, 0])
            .map(drop)
    }

    fn write_force(&mut self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        // Read-only pages: the memory manager opens them for writing around the copy.
        self.proc.write(addr, buf).map_err(|_| Errno::ENOSYS)
    }

    fn fpu_state(&mut self) -> Result<Vec<u8>, PlatformError> {
        let f = self.frame.ok_or_else(|| stub_err("no frame"))?;
        let mut fp = vec![0u8; f.fp_size as usize];
        self.m().read(f.fp, &mut fp);
        // As ptrace's NT_X86_XSTATE lays it out: sw_reserved holds XCR0 in its first word.
        fp[464..512].fill(0);
        fp[464..472].copy_from_slice(&f.xfeatures.to_le_bytes());
        Ok(fp)
    }

    fn set_fpu_state(&mut self, state: &[u8]) -> Result<(), PlatformError> {
        let f = self.frame.ok_or_else(|| stub_err("no frame"))?;
        if state.len() < 576 {
            return Err(stub_err("short FPU state"));
        }
        let len = state.len().min(f.fp_size as usize);
        let u64_at = |o: usize| u64::from_le_bytes(state[o..o + 8].try_into().unwrap_or_default());
        let mxcsr = u32::from_le_bytes(state[24..28].try_into().unwrap_or_default());
        // What the host's rt_sigreturn would refuse (and kill the thread for).
        if u64_at(512) & !f.xfeatures != 0 || u64_at(520) != 0 || mxcsr & 0xffff_0000 != 0 {
            return Err(stub_err("bad FPU state"));
        }
        let m = self.m();
        m.write(f.fp, &state[..464]);
        m.write(f.fp + 512, &state[512..len]);
        Ok(())
    }

    fn new_thread(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        let fp = self.fpu_state().ok();
        Ok(Box::new(spawn_thread(&self.proc, fp)?))
    }

    fn fork(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        let fp = self.fpu_state().ok();
        let child = spawn_process(&self.proc.shared, &self.proc)?;
        // The child inherited the parent's descriptors at the same numbers.
        *lock(&child.donated) = lock(&self.proc.donated).clone();
        Ok(Box::new(spawn_thread(&child, fp)?))
    }

    fn exit_thread(&mut self) {
        if self.dead {
            return;
        }
        let m = self.m();
        if m.load32(R_STATE) == ST_TRAPPED {
            m.swap32(R_STATE, ST_EXIT);
            m.wake(R_STATE);
            // The kernel clears the state word when the thread is gone (CLONE_CHILD_CLEARTID);
            // only then may its slot take another thread.
            let start = Instant::now();
            while m.load32(R_STATE) != ST_DEAD && start.elapsed() < Duration::from_secs(2) {
                if self.proc.dead() {
                    break;
                }
                m.wait(R_STATE, ST_EXIT, Duration::from_millis(20));
            }
            if m.load32(R_STATE) == ST_DEAD {
                self.proc.free_slot(self.slot);
            }
        }
        self.mark_dead();
    }

    fn kill_process(&mut self) {
        sys::pidfd_kill(self.proc.pidfd.as_fd(), libc::SIGKILL);
        self.mark_dead();
    }

    fn set_cpus(&mut self, cpus: Option<&[usize]>) {
        self.allowed = cpus.map(<[usize]>::to_vec);
        self.pin(!self.policy.spinning, false);
    }
}

/// A thread created and on its way to its first trap, not yet taken by its sentry thread.
struct ParkedThread {
    t: AppThread,
}

impl ParkedThread {
    fn adopt_inner(mut self) -> Result<AppThread, PlatformError> {
        let tid = self.t.tid;
        if !self.t.wait_trap(Some(SETUP_TIMEOUT)) {
            self.t.mark_dead();
            let st = self.t.m().load32(R_STATE);
            return Err(stub_err(format!(
                "new thread {tid} did not start (state {st}, uctx {:#x}, signo {} dbg {})",
                self.t.m().load64(R_UCTX),
                self.t.m().load32(R_SIGNO),
                self.t.m().load32(20) as i32
            )));
        }
        let mut regs = self.t.initial_registers();
        match self.t.read_trap(&mut regs) {
            Trap::Syscall if regs.orig_rax == Sysno::getpid.0 as u64 => {
                // The pair (and the process's syscall thread, at its next request) shares
                // the adopting sentry thread's CPU from the start.
                self.t.pin(true, false);
                Ok(self.t)
            }
            other => {
                self.t.mark_dead();
                Err(stub_err(format!("new thread {tid} stopped with {other:?}")))
            }
        }
    }
}

impl NewContext for ParkedThread {
    fn address_space(&self) -> Arc<dyn AddressSpace> {
        self.t.proc.clone()
    }

    fn adopt(self: Box<Self>) -> Result<Box<dyn Context>, PlatformError> {
        Ok(Box::new(self.adopt_inner()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_the_platform_are_refused() {
        assert!(AppThread::check_range(0x1000, 0x1000).is_ok());
        assert!(AppThread::check_range(STUB_BASE - 0x1000, 0x1000).is_ok());
        assert!(AppThread::check_range(STUB_BASE - 0x1000, 0x2000).is_err());
        assert!(AppThread::check_range(REQ, 1).is_err());
        assert!(AppThread::check_range(STUB_END - 1, 1).is_err());
        assert!(AppThread::check_range(u64::MAX, 2).is_err());
    }
}
