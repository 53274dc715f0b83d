// SPDX-License-Identifier: Apache-2.0
//! How application code runs and traps into the sentry.
//!
//! A [`Platform`] makes address spaces; an [`AddressSpace`] is one application process's host
//! memory, changed only as the sentry decides; a [`Context`] runs one application thread until
//! it traps ([`Trap`]). The kernel only ever sees these traits, never which platform runs
//! (gVisor `pkg/sentry/platform/platform.go`).

pub mod ptrace;

use std::os::fd::BorrowedFd;

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
    /// An asynchronous host signal reached the stub (it is suppressed, never delivered).
    Signal {
        /// The signal number.
        signo: i32,
    },
    /// The host process died under us (killed from outside the sandbox).
    Died {
        /// The signal that killed it, or 0.
        signo: i32,
    },
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
    /// A key unique to the open host file (e.g. its file description's address).
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

/// One application process's host memory. All changes are decided by the sentry's memory
/// manager; the platform only realises them.
pub trait AddressSpace: Send {
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
    /// Reads application memory; fails with EFAULT where the host cannot read.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;
    /// Writes application memory, honouring page protections (EFAULT on read-only pages).
    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno>;
    /// Writes application memory whatever the protections (the ELF loader's privilege).
    fn write_force(&mut self, addr: u64, buf: &[u8]) -> Result<(), Errno>;
    /// The host layout of this address space.
    fn layout(&self) -> &HostLayout;
}

/// One application thread's execution context.
pub trait Context: Send {
    /// Runs the thread with `regs` until it traps; `regs` then holds its state.
    fn switch(&mut self, regs: &mut Registers) -> Result<Trap, PlatformError>;
    /// The thread's state right after its address space was created (the platform's own
    /// start state, e.g. segment selectors), to build the first application state from.
    fn initial_registers(&self) -> Registers;
    /// Ends the thread (and, for the last one, its host process) and reaps it.
    fn kill(&mut self);
}

/// A way to run application code.
pub trait Platform: Send + Sync {
    /// A new, empty address space with one stopped thread in it.
    fn new_process(&self) -> Result<(Box<dyn AddressSpace>, Box<dyn Context>), PlatformError>;
    /// The platform's name, as `--platform` spells it.
    fn name(&self) -> &'static str;
}
