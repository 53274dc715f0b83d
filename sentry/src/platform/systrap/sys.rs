// SPDX-License-Identifier: Apache-2.0
//! The host calls of the systrap platform that need `unsafe`: the sentry's view of the shared
//! pages (read and written atomically or volatilely: the stub's side may change them at any
//! time), futexes on them, pidfds, and starting the template stub.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::layout::MEMFD_FD;

/// A range of the platform memfd mapped shared into the sentry. Every access goes through
/// atomics or volatile copies: the other side is a process that may be hostile.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; every access is atomic or volatile and bounds
// checked, so sharing the pointer between threads is as safe as sharing an `&[AtomicU8]`.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` at `off`, shared, read-write.
    pub fn new(fd: BorrowedFd<'_>, off: u64, len: usize) -> nix::Result<Mapping> {
        // SAFETY: a fresh mapping chosen by the kernel (no address hint), of a memfd the caller
        // owns; nothing in this process aliases it yet.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                off as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(nix::Error::last());
        }
        Ok(Mapping { ptr: p.cast(), len })
    }

    fn at(&self, off: u64, size: usize) -> Option<*mut u8> {
        let off = usize::try_from(off).ok()?;
        if off.checked_add(size)? > self.len || !off.is_multiple_of(size.min(8)) {
            return None;
        }
        // SAFETY: in bounds, checked just above.
        Some(unsafe { self.ptr.add(off) })
    }

    fn u32_at(&self, off: u64) -> &AtomicU32 {
        match self.at(off, 4) {
            // SAFETY: in bounds and 4-aligned (mappings are page-aligned); the memory lives as
            // long as `self`; AtomicU32 has the layout of u32.
            Some(p) => unsafe { &*(p as *const AtomicU32) },
            None => {
                static DUMMY: AtomicU32 = AtomicU32::new(0);
                &DUMMY
            }
        }
    }

    fn u64_at(&self, off: u64) -> &AtomicU64 {
        match self.at(off, 8) {
            // SAFETY: as for `u32_at`, 8-aligned.
            Some(p) => unsafe { &*(p as *const AtomicU64) },
            None => {
                static DUMMY: AtomicU64 = AtomicU64::new(0);
                &DUMMY
            }
        }
    }

    /// Loads a u32 (0 when out of bounds).
    pub fn load32(&self, off: u64) -> u32 {
        self.u32_at(off).load(Ordering::Acquire)
    }

    /// Stores a u32.
    pub fn store32(&self, off: u64, v: u32) {
        self.u32_at(off).store(v, Ordering::Release);
    }

    /// Swaps a u32 (a full barrier).
    pub fn swap32(&self, off: u64, v: u32) -> u32 {
        self.u32_at(off).swap(v, Ordering::SeqCst)
    }

    /// Loads a u64.
    pub fn load64(&self, off: u64) -> u64 {
        self.u64_at(off).load(Ordering::Acquire)
    }

    /// Stores a u64.
    pub fn store64(&self, off: u64, v: u64) {
        self.u64_at(off).store(v, Ordering::Release);
    }

    /// Copies bytes out (volatile); false when out of bounds.
    pub fn read(&self, off: u64, buf: &mut [u8]) -> bool {
        let Some(p) = self.at(off, 1).filter(|_| {
            usize::try_from(off)
                .ok()
                .and_then(|o| o.checked_add(buf.len()))
                .is_some_and(|e| e <= self.len)
        }) else {
            return false;
        };
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above); a volatile read of shared memory.
            *b = unsafe { std::ptr::read_volatile(p.add(i)) };
        }
        true
    }

    /// Copies bytes in (volatile); false when out of bounds.
    pub fn write(&self, off: u64, buf: &[u8]) -> bool {
        let Some(p) = self.at(off, 1).filter(|_| {
            usize::try_from(off)
                .ok()
                .and_then(|o| o.checked_add(buf.len()))
                .is_some_and(|e| e <= self.len)
        }) else {
            return false;
        };
        for (i, b) in buf.iter().enumerate() {
            // SAFETY: in bounds (checked above); a volatile write of shared memory.
            unsafe { std::ptr::write_volatile(p.add(i), *b) };
        }
        true
    }

    /// The sentry address of `off`, for futexes.
    fn addr(&self, off: u64) -> *const u32 {
        self.u32_at(off) as *const AtomicU32 as *const u32
    }

    /// futex(FUTEX_WAIT) on the u32 at `off` while it holds `val`, for at most `timeout`.
    pub fn wait(&self, off: u64, val: u32, timeout: Duration) {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the futex word is in our live mapping; the timespec lives across the call.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.addr(off),
                libc::FUTEX_WAIT,
                val,
                &ts as *const libc::timespec,
                0,
                0,
            );
        }
    }

    /// futex(FUTEX_WAKE) of one waiter on the u32 at `off`.
    pub fn wake(&self, off: u64) {
        // SAFETY: the futex word is in our live mapping.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.addr(off),
                libc::FUTEX_WAKE,
                1,
                0,
                0,
                0,
            );
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference into it outlives
        // `self` (the accessors borrow `self`).
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// Frees the memfd's pages in `[off, off+len)` (they read as zeros again).
pub fn punch_hole(fd: BorrowedFd<'_>, off: u64, len: u64) {
    // SAFETY: fallocate takes plain integers.
    unsafe {
        libc::fallocate(
            fd.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off as libc::off_t,
            len as libc::off_t,
        );
    }
}

/// pidfd_open(2).
pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: plain integers.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_long) };
    if r < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: a new descriptor the kernel just gave us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// pidfd_getfd(2): a copy of descriptor `fd` of the process.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> nix::Result<OwnedFd> {
    // SAFETY: plain integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            pidfd.as_raw_fd(),
            fd,
            0 as libc::c_long,
        )
    };
    if r < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: a new descriptor the kernel just gave us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// pidfd_send_signal(2). Arguments as whole registers: the sentry's seccomp policy allows
/// only SIGKILL with no siginfo and no flags, comparing all 64 bits.
pub fn pidfd_kill(pidfd: BorrowedFd<'_>, sig: i32) {
    // SAFETY: plain integers; no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::c_long::from(sig),
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_long,
        );
    }
}

/// Whether the process behind a pidfd has exited (its pidfd polls readable).
pub fn pidfd_exited(pidfd: BorrowedFd<'_>) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, valid for the call; no wait.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0
}

/// Reaps the (exited or killed) process behind a pidfd: waitid(P_PIDFD, __WALL).
pub fn pidfd_reap(pidfd: BorrowedFd<'_>) {
    loop {
        // SAFETY: siginfo is plain data the kernel fills.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain integers and a pointer to `info`, valid for the call.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::__WALL,
            )
        };
        if r == 0 || nix::Error::last() != nix::Error::EINTR {
            if std::env::var_os("SANDBOX_SYSTRAP_DEBUG").is_some() {
                // SAFETY: reading plain fields of the siginfo waitid filled.
                let (code, status) = unsafe { (info.si_code, info.si_status()) };
                eprintln!("systrap: stub reaped: code {code} status {status}");
            }
            return;
        }
    }
}

/// kcmp(KCMP_FILE): whether descriptor `theirs` of `pid` is the open file `mine` of ours.
pub fn same_file(pid: i32, theirs: i32, mine: RawFd) -> bool {
    // Whole registers: the sentry's seccomp policy compares all 64 bits of the type.
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: plain integers.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, libc::getpid(), pid, KCMP_FILE, mine, theirs) };
    r == 0
}

/// tgkill(2).
pub fn tgkill(pid: i32, tid: i32, sig: i32) -> bool {
    // SAFETY: plain integers.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) == 0 }
}

/// Empties the calling thread's capability sets, and its bounding set as far as it may
/// (capabilities are per thread: the keeper thread starts before the sentry drops its own).
/// Only the capset must succeed (emptying the sets is always allowed): the bounding set only
/// matters to an exec, and this thread never executes anything.
pub fn drop_thread_capabilities() -> nix::Result<()> {
    if !crate::platform::ptrace::sys::empty_capabilities(false) {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// Forks and, in the child, becomes the traced template stub: killed when the calling thread
/// dies, its own process group, the platform memfd as fd [`MEMFD_FD`] and nothing else, then
/// executes the stub image (a memfd). The child stops at its first instruction.
pub fn spawn_template(image: &OwnedFd, memfd: &OwnedFd) -> nix::Result<i32> {
    let image = image.as_raw_fd();
    let memfd = memfd.as_raw_fd();
    let argv0: &CStr = c"sandbox-stub";
    let argv = [argv0.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    // SAFETY: getpid takes no arguments.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork has no memory-safety preconditions of its own. JUSTIFICATION: the child of a
    // multi-threaded process may only make async-signal-safe calls, so it uses raw libc calls
    // (no allocation, no locks) and either execs or _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(nix::Error::last());
    }
    if pid > 0 {
        return Ok(pid);
    }
    // Child. SAFETY: each call takes plain integers or pointers to the static strings and
    // arrays above, valid until execveat; none allocates.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            libc::_exit(120);
        }
        if libc::getppid() != parent {
            libc::_exit(121);
        }
        let hi_mem = libc::fcntl(memfd, libc::F_DUPFD, 10);
        let hi_img = libc::fcntl(image, libc::F_DUPFD, 10);
        if hi_mem < 0
            || hi_img < 0
            || libc::dup2(hi_mem, MEMFD_FD) < 0
            || libc::dup3(hi_img, 3, libc::O_CLOEXEC) < 0
        {
            libc::_exit(123);
        }
        libc::close(0);
        libc::close(2);
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        libc::setpgid(0, 0);
        libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong);
        // No capability, now or after the exec, as the ptrace platform's stubs (every stub is
        // a clone of this one, so none has any). Two reasons:
        // - the stub runs the application's code; it must not hold root's capabilities;
        // - the confined sentry has no capability left, and the kernel lets a thread reach
        //   into another process (ptrace access: process_vm_readv/writev, pidfd_getfd, kcmp)
        //   only if the target's permitted set is a subset of its own (commoncap's
        //   cap_ptrace_access_check) or it has CAP_SYS_PTRACE. A template that kept root's
        //   capabilities through the exec would refuse all of that to its capability-less
        //   sentry (EPERM: "stub did not receive the donated fd"). Dumpability is no issue:
        //   the template is executed as the caller (a stub's mm stays dumpable, and its
        //   clones inherit that), and the sentry being non-dumpable only stops others
        //   reaching into it. The bounding set goes first (it fails harmlessly when already
        //   empty): an exec that found a capability to give root would also clear
        //   ADDR_NO_RANDOMIZE.
        if !crate::platform::ptrace::sys::empty_capabilities(true) {
            libc::_exit(122);
        }
        if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
            libc::_exit(124);
        }
        libc::syscall(
            libc::SYS_execveat,
            3,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
        libc::_exit(125);
    }
}

/// Whether the CPU and kernel let user code use rdfsbase/wrfsbase (the handler needs them).
pub fn has_fsgsbase() -> bool {
    const HWCAP2_FSGSBASE: libc::c_ulong = 1 << 1;
    // SAFETY: getauxval takes an integer.
    let hw2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    hw2 & HWCAP2_FSGSBASE != 0
}

/// The CPU the calling thread runs on.
pub fn current_cpu() -> usize {
    // SAFETY: sched_getcpu takes no arguments.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).unwrap_or(0)
}
