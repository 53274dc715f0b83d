// SPDX-License-Identifier: Apache-2.0
//! How application code runs and traps into the sentry.
//!
//! A [`Platform`] starts processes; an [`AddressSpace`] is one application process's host
//! memory (read and written by the sentry); a [`Context`] is one application thread: it runs
//! until it traps ([`Trap`]), and, while stopped, it is the thread through which the host-side
//! effects of the sentry's decisions are made (mappings, new threads, new processes). The kernel
//! only ever sees these traits, never which platform runs (gVisor `pkg/sentry/platform`).

pub mod ptrace;
pub mod systrap;

use std::os::fd::BorrowedFd;
use std::sync::Arc;

use syscalls::Errno;

/// The general-purpose registers of an x86_64 thread, as ptrace exchanges them.
pub type Registers = libc::user_regs_struct;

/// Why an application thread stopped running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// A system call: the number is in `orig_rax`, the arguments in `rdi, rsi, rdx, r10, r8,
    /// r9`, and `rip` already points past the instruction. Put the result in `rax`.
    Syscall,
    /// A synchronous fault in application code (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
    Fault {
        /// The host signal that reported it.
        signo: i32,
        /// Its `si_code`.
        code: i32,
        /// The faulting address (`si_addr`).
        addr: u64,
    },
    /// The thread was interrupted ([`Interrupter::interrupt`]) or an asynchronous host signal
    /// reached it; the signal is suppressed, never delivered.
    Interrupted,
    /// The host thread died under us (killed from outside the sandbox).
    Died {
        /// The signal that killed it, or 0.
        signo: i32,
    },
}

/// The number of CPUs the host lets the sandbox use, as the sentry process had them at start-up
/// (its main thread's affinity). Platforms pin their own threads; what the program sees
/// (sched_getaffinity, /proc/self/status, /sys/devices/system/cpu) never follows that.
pub fn host_cpus() -> usize {
    crate::host::ncpu()
}

/// A failure of the platform itself (not of the application): the task cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A host call the platform depends on failed.
    #[error("{what}: {err}")]
    Host {
        /// What was being done.
        what: &'static str,
        /// The host's error.
        err: nix::Error,
    },
    /// The stub process behaved in a way the platform does not expect.
    #[error("stub: {0}")]
    Stub(String),
}

impl PlatformError {
    pub(crate) fn host(what: &'static str) -> impl FnOnce(nix::Error) -> PlatformError {
        move |err| PlatformError::Host { what, err }
    }
}

/// A host file to map: the descriptor (owned by the caller) and what identifies it, so a
/// platform may keep it open on the application side between mappings.
#[derive(Clone, Copy)]
pub struct MapFile<'a> {
    /// The host descriptor.
    pub fd: BorrowedFd<'a>,
    /// A key unique to the open host file (e.g. its file description's id).
    pub key: u64,
    /// Offset in the file.
    pub offset: u64,
}

/// Host layout facts of a fresh address space: the regions the application may not touch and
/// the vDSO it may use.
#[derive(Debug, Clone, Default)]
pub struct HostLayout {
    /// Ranges `[start, end)` that belong to the platform (stub code and data, vvar).
    pub reserved: Vec<(u64, u64, &'static str)>,
    /// The host vDSO `[start, end)`, left mapped read-only for clock_gettime and friends.
    pub vdso: Option<(u64, u64)>,
}

/// One application process's host memory, as the sentry reads and writes it. Changes to the
/// mappings go through a stopped [`Context`] of the process.
pub trait AddressSpace: Send + Sync {
    /// Reads application memory; fails with EFAULT where the host cannot read.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;
    /// Writes application memory, honouring page protections (EFAULT on read-only pages).
    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno>;
    /// The host layout of this address space.
    fn layout(&self) -> &HostLayout;
}

/// Makes a running application thread trap into the sentry soon (to deliver a signal).
/// Callable from any sentry thread.
pub trait Interrupter: Send + Sync {
    /// Interrupts the thread if it is running application code; harmless otherwise (the next
    /// switch may then return [`Trap::Interrupted`] at once).
    fn interrupt(&self);
}

/// One application thread's execution context, owned by the sentry thread that drives it.
pub trait Context: Send {
    /// Runs the thread with `regs` until it traps; `regs` then holds its state.
    fn switch(&mut self, regs: &mut Registers) -> Result<Trap, PlatformError>;
    /// The thread's platform state right after its address space was created (segment
    /// selectors and flags), to build a first application state from.
    fn initial_registers(&self) -> Registers;
    /// The address space this thread runs in.
    fn address_space(&self) -> Arc<dyn AddressSpace>;
    /// What other sentry threads use to interrupt this one.
    fn interrupter(&self) -> Arc<dyn Interrupter>;
    /// The host process behind the address space (its CPU clock is the process's CPU time),
    /// or 0 when there is none.
    fn host_process(&self) -> i32 {
        0
    }
    /// The host thread behind this context (its CPU clock is the thread's CPU time), or 0.
    fn host_thread(&self) -> i32 {
        0
    }
    /// The audit architecture and number of the last [`Trap::Syscall`] when it was not an
    /// x86_64 call (an `int 0x80` i386 call, which the platform surfaces as number 0xffff so
    /// that no table row matches); `None` for an x86_64 call, or where the platform cannot
    /// tell (ptrace). The program's own seccomp filters see these.
    fn foreign_syscall(&self) -> Option<(u32, u32)> {
        None
    }

    /// Maps `[addr, addr+len)` exactly (MAP_FIXED), anonymous or from `file`.
    fn map(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        file: Option<MapFile<'_>>,
    ) -> Result<(), Errno>;
    /// Unmaps `[addr, addr+len)`.
    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno>;
    /// Changes the protection of `[addr, addr+len)`.
    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno>;
    /// Grows the mapping at `addr` in place (the range after it is free).
    fn map_grow(&mut self, addr: u64, old_len: u64, new_len: u64) -> Result<(), Errno>;
    /// Moves or resizes a mapping to exactly `new_addr` (mremap with MREMAP_FIXED).
    fn remap(&mut self, old: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno>;
    /// Applies madvise(2) advice that has an effect on contents (DONTNEED, FREE, REMOVE, ...).
    fn advise(&mut self, addr: u64, len: u64, advice: u32) -> Result<(), Errno>;
    /// msync(2) of a shared file mapping.
    fn sync(&mut self, addr: u64, len: u64, flags: u32) -> Result<(), Errno>;
    /// Reads (or with `write`, writes) `len` bytes of `file` at its offset straight into (from)
    /// application memory at `addr`, in the application's own process: no copy through the
    /// sentry. Returns the bytes moved; EFAULT as the host gives it. ENOSYS when the platform
    /// cannot, and the caller copies instead.
    fn io_direct(
        &mut self,
        _file: MapFile<'_>,
        _addr: u64,
        _len: u64,
        _write: bool,
    ) -> Result<u64, Errno> {
        Err(Errno::ENOSYS)
    }
    /// Writes application memory whatever the protections (the ELF loader's privilege).
    fn write_force(&mut self, addr: u64, buf: &[u8]) -> Result<(), Errno>;
    /// A host membarrier(2) command `cmd` made by the application's own host process, so
    /// that its barrier reaches the application's threads wherever they run (the
    /// MEMBARRIER_CMD_REGISTER_* ones register that process).
    fn membarrier(&mut self, _cmd: u32) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
    /// A host mincore(2) of `[addr, addr+len)` made by the application's own host process,
    /// writing the residency vector to application memory at `vec` (the caller has checked
    /// both ranges are the application's). ENOSYS where the platform cannot.
    fn mincore(&mut self, _addr: u64, _len: u64, _vec: u64) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }
    /// Atomically replaces the 32-bit word at `addr` with `new` if it equals `expected`;
    /// returns the value it had. EFAULT where the word is not writable application memory.
    fn cmpxchg_u32(&mut self, _addr: u64, _expected: u32, _new: u32) -> Result<u32, Errno> {
        Err(Errno::ENOSYS)
    }
    /// The thread's extended (FPU/SSE/AVX) state, as XSAVE lays it out.
    fn fpu_state(&mut self) -> Result<Vec<u8>, PlatformError>;
    /// Restores extended state saved by [`Context::fpu_state`].
    fn set_fpu_state(&mut self, state: &[u8]) -> Result<(), PlatformError>;

    /// A new thread in this address space, stopped; adopt it on its own sentry thread.
    fn new_thread(&mut self) -> Result<Box<dyn NewContext>, PlatformError>;
    /// A new process whose address space is a copy-on-write copy of this one, stopped.
    fn fork(&mut self) -> Result<Box<dyn NewContext>, PlatformError>;
    /// Ends this host thread (its process ends with its last thread).
    fn exit_thread(&mut self);
    /// Ends the whole host process this thread belongs to.
    fn kill_process(&mut self);
    /// Restricts the application thread, and the sentry thread that drives it (the caller),
    /// to the host CPUs `cpus` (None: every CPU the sandbox may use), as the program's
    /// sched_setaffinity(2) asks.
    fn set_cpus(&mut self, _cpus: Option<&[usize]>) {}
}

/// A thread or process just created, before the sentry thread that will drive it takes it.
pub trait NewContext: Send {
    /// The new thread's address space (a copy for a fork, the same for a thread).
    fn address_space(&self) -> Arc<dyn AddressSpace>;
    /// Takes the new thread over from the calling sentry thread, which will drive it from now on.
    fn adopt(self: Box<Self>) -> Result<Box<dyn Context>, PlatformError>;
}

/// A way to run application code.
pub trait Platform: Send + Sync {
    /// A new process with an empty address space and one stopped thread, driven by the calling
    /// sentry thread.
    fn new_process(&self) -> Result<Box<dyn Context>, PlatformError>;
    /// The platform's name, as `--platform` spells it.
    fn name(&self) -> &'static str;
}

/// A context with no thread behind it: a placeholder while a task's real context is out being
/// used on its own (loading the first image). Every operation fails.
pub struct Detached;

/// Nothing to interrupt.
struct NoInterrupt;

impl Interrupter for NoInterrupt {
    fn interrupt(&self) {}
}

/// No memory.
struct NoMemory;

impl AddressSpace for NoMemory {
    fn read(&self, _addr: u64, _buf: &mut [u8]) -> Result<(), Errno> {
        Err(Errno::EFAULT)
    }
    fn write(&self, _addr: u64, _buf: &[u8]) -> Result<(), Errno> {
        Err(Errno::EFAULT)
    }
    fn layout(&self) -> &HostLayout {
        static EMPTY: std::sync::OnceLock<HostLayout> = std::sync::OnceLock::new();
        EMPTY.get_or_init(HostLayout::default)
    }
}

impl Context for Detached {
    fn switch(&mut self, _regs: &mut Registers) -> Result<Trap, PlatformError> {
        Ok(Trap::Died { signo: 0 })
    }
    fn initial_registers(&self) -> Registers {
        // SAFETY-free zero state: every field is a plain integer.
        Registers {
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            rbp: 0,
            rbx: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rax: 0,
            rcx: 0,
            rdx: 0,
            rsi: 0,
            rdi: 0,
            orig_rax: 0,
            rip: 0,
            cs: 0,
            eflags: 0,
            rsp: 0,
            ss: 0,
            fs_base: 0,
            gs_base: 0,
            ds: 0,
            es: 0,
            fs: 0,
            gs: 0,
        }
    }
    fn address_space(&self) -> Arc<dyn AddressSpace> {
        Arc::new(NoMemory)
    }
    fn interrupter(&self) -> Arc<dyn Interrupter> {
        Arc::new(NoInterrupt)
    }
    fn map(&mut self, _: u64, _: u64, _: u32, _: u32, _: Option<MapFile<'_>>) -> Result<(), Errno> {
        Err(Errno::ENOMEM)
    }
    fn unmap(&mut self, _: u64, _: u64) -> Result<(), Errno> {
        Err(Errno::ENOMEM)
    }
    fn protect(&mut self, _: u64, _: u64, _: u32) -> Result<(), Errno> {
        Err(Errno::ENOMEM)
    }
    fn map_grow(&mut self, _: u64, _: u64, _: u64) -> Result<(), Errno> {
        Err(Errno::ENOMEM)
    }
    fn remap(&mut self, _: u64, _: u64, _: u64, _: u64) -> Result<(), Errno> {
        Err(Errno::ENOMEM)
    }
    fn advise(&mut self, _: u64, _: u64, _: u32) -> Result<(), Errno> {
        Err(Errno::ENOMEM)
    }
    fn sync(&mut self, _: u64, _: u64, _: u32) -> Result<(), Errno> {
        Err(Errno::ENOMEM)
    }
    fn write_force(&mut self, _: u64, _: &[u8]) -> Result<(), Errno> {
        Err(Errno::EFAULT)
    }
    fn fpu_state(&mut self) -> Result<Vec<u8>, PlatformError> {
        Err(PlatformError::Stub("detached".into()))
    }
    fn set_fpu_state(&mut self, _: &[u8]) -> Result<(), PlatformError> {
        Err(PlatformError::Stub("detached".into()))
    }
    fn new_thread(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        Err(PlatformError::Stub("detached".into()))
    }
    fn fork(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        Err(PlatformError::Stub("detached".into()))
    }
    fn exit_thread(&mut self) {}
    fn kill_process(&mut self) {}
}

/// A shared platform is a platform (the loader hands one to the kernel and keeps one to start
/// the first stub early).
impl<T: Platform + ?Sized> Platform for Arc<T> {
    fn new_process(&self) -> Result<Box<dyn Context>, PlatformError> {
        (**self).new_process()
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// Sends host descriptor `fd` over the stub's donation socket `sock` (SCM_RIGHTS, one byte).
///
/// The kernel refuses (ETOOMANYREFS) while the sentry's user has more descriptors in flight in
/// unix sockets than the sentry's RLIMIT_NOFILE, counting every process of that user: a burst
/// elsewhere on the host (a test filling a socket with descriptors) must not fail the
/// program's mmap, so the send is retried for a while before it is given up (ENOMEM).
pub(crate) fn send_donation(
    sock: std::os::fd::RawFd,
    fd: std::os::fd::RawFd,
) -> Result<(), syscalls::Errno> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_micros(100);
    loop {
        match sendmsg::<()>(
            sock,
            &[std::io::IoSlice::new(b"f")],
            &cmsg,
            MsgFlags::empty(),
            None,
        ) {
            Ok(_) => return Ok(()),
            Err(nix::Error::EINTR) => continue,
            Err(nix::Error::ETOOMANYREFS)
                if start.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            Err(e) => {
                tracing::error!("platform: donating fd: {e}");
                return Err(syscalls::Errno::ENOMEM);
            }
        }
    }
}
