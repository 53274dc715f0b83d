// SPDX-License-Identifier: Apache-2.0
//! The host calls of the ptrace platform that need `unsafe`: starting a stub process.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::unistd::Pid;

/// File descriptor number at which the stub keeps its end of the fd-donation socket.
pub const STUB_SOCK_FD: i32 = 0;

/// capset(2)'s header: _LINUX_CAPABILITY_VERSION_3, the calling thread.
static CAP_HEADER: [u32; 2] = [0x2008_0522, 0];
/// Two empty (effective, permitted, inheritable) words: no capability at all.
static CAP_NONE: [u32; 6] = [0; 6];

/// Empties the calling thread's capabilities: its bounding set as far as it may (the bounding
/// set goes first and fails harmlessly when already empty; it only matters to an exec, and an
/// exec that found a capability to give root would also clear ADDR_NO_RANDOMIZE), with
/// `no_new_privs` also PR_SET_NO_NEW_PRIVS, then the effective, permitted and inheritable
/// sets. Raw system calls only, no allocation: a stub calls it between fork and exec. False
/// when no_new_privs or capset failed.
pub(crate) fn empty_capabilities(no_new_privs: bool) -> bool {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments; EINVAL past the last capability, or EPERM
        // without CAP_SETPCAP, leaves the set as it was.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
    }
    // SAFETY: prctl with integer arguments.
    if no_new_privs && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return false;
    }
    // SAFETY: capset reads the static header and data words.
    unsafe { libc::syscall(libc::SYS_capset, CAP_HEADER.as_ptr(), CAP_NONE.as_ptr()) == 0 }
}

/// Forks and, in the child, becomes a traced stub: kill me when my parent dies, keep only the
/// donation socket (as fd 0), trace me, then execute the stub image from `image` (a memfd).
/// The child stops at its first instruction (the exec SIGTRAP) with nothing of the sentry's
/// left in its address space.
pub fn spawn_stub(image: &OwnedFd, sock: &OwnedFd) -> nix::Result<Pid> {
    let image = image.as_raw_fd();
    let sock = sock.as_raw_fd();
    let argv0: &CStr = c"sandbox-stub";
    let argv = [argv0.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    // SAFETY: getpid takes no arguments.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork has no memory-safety preconditions of its own. JUSTIFICATION: the child of a
    // multi-threaded process may only make async-signal-safe calls, so it uses the raw libc
    // calls below (no allocation, no locks) and either execs or _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(nix::Error::last());
    }
    if pid > 0 {
        return Ok(Pid::from_raw(pid));
    }
    // Child. SAFETY: each call takes plain integers or pointers to the static, NUL-terminated
    // strings and arrays above, which stay valid until execveat; none allocates.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            libc::_exit(120);
        }
        // The parent may already be gone (then the signal above never comes). Compared with
        // the sentry's pid, not 1: an orphan goes to the nearest subreaper, which may be
        // anyone (and PTRACE_TRACEME would then make it the stub's tracer).
        if libc::getppid() != parent {
            libc::_exit(121);
        }
        // Keep the socket as fd 0 and the image as fd 1 (close-on-exec); close everything else.
        let hi_sock = libc::fcntl(sock, libc::F_DUPFD, 10);
        let hi_img = libc::fcntl(image, libc::F_DUPFD, 10);
        if hi_sock < 0
            || hi_img < 0
            || libc::dup2(hi_sock, STUB_SOCK_FD) < 0
            || libc::dup3(hi_img, 1, libc::O_CLOEXEC) < 0
        {
            libc::_exit(123);
        }
        libc::syscall(libc::SYS_close_range, 2u32, u32::MAX, 0u32);
        // Its own process group, so the terminal's signals reach the sentry, which decides.
        libc::setpgid(0, 0);
        // A fixed host layout (stack, vDSO), the same for every stub: the sentry learns it once,
        // at start-up, and never reads a host path for it again (DESIGN.md invariant 2).
        libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong);
        // No capability, now or after the exec (the first stub is started before the sentry
        // drops its own, and every later one by a sentry thread that has none). The bounding
        // set goes first (it fails harmlessly when it is already empty): were the exec to find
        // a capability to give root, it would also clear ADDR_NO_RANDOMIZE.
        if !empty_capabilities(true) {
            libc::_exit(122);
        }
        if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
            libc::_exit(124);
        }
        libc::syscall(
            libc::SYS_execveat,
            1,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
        libc::_exit(125);
    }
}

/// Binds the calling thread and `pid` to one CPU (the one the caller runs on), so a stop and a
/// resume never cross vCPUs (DESIGN.md "Known traps").
pub fn pin_together(pid: Pid) {
    pin_within(pid, None);
}

/// [`pin_together`] on a CPU of `allowed` (the caller's if it is one, else the first).
pub fn pin_within(pid: Pid, allowed: Option<&[usize]>) {
    // SAFETY: sched_getcpu takes no arguments.
    let mut cpu = unsafe { libc::sched_getcpu() };
    if let Some(a) = allowed.filter(|a| !a.contains(&(cpu.max(0) as usize))) {
        cpu = a.first().map_or(cpu, |&c| c as i32);
    }
    if cpu < 0 {
        return;
    }
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu as usize).is_err() {
        return;
    }
    let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &set);
    let _ = nix::sched::sched_setaffinity(pid, &set);
}

/// The faulting address of a fault signal's siginfo.
pub fn si_addr(info: &libc::siginfo_t) -> u64 {
    // SAFETY: reading a union field of a fully initialised siginfo_t; for the fault signals the
    // kernel fills si_addr, and for any other it is just an unused integer.
    unsafe { info.si_addr() as u64 }
}

/// tgkill(2) on a host thread.
pub fn tgkill(pid: Pid, tid: Pid, sig: nix::sys::signal::Signal) {
    // SAFETY: tgkill takes plain integers.
    unsafe {
        libc::syscall(libc::SYS_tgkill, pid.as_raw(), tid.as_raw(), sig as i32);
    }
}

const NT_X86_XSTATE: libc::c_int = 0x202;
/// Room for the largest XSAVE area (AVX-512 needs 2,696 bytes; AMX more).
const XSTATE_MAX: usize = 16 << 10;

/// PTRACE_GETREGSET(NT_X86_XSTATE): the thread's XSAVE area.
pub fn get_xstate(tid: Pid) -> nix::Result<Vec<u8>> {
    let mut buf = vec![0u8; XSTATE_MAX];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, valid for writes of its length during the call; the kernel
    // shrinks iov_len to what it wrote.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            tid.as_raw(),
            NT_X86_XSTATE as usize,
            &mut iov as *mut libc::iovec,
        )
    };
    if r < 0 {
        return Err(nix::Error::last());
    }
    buf.truncate(iov.iov_len);
    Ok(buf)
}

/// PTRACE_SETREGSET(NT_X86_XSTATE).
pub fn set_xstate(tid: Pid, state: &[u8]) -> nix::Result<()> {
    let mut copy = state.to_vec();
    let mut iov = libc::iovec {
        iov_base: copy.as_mut_ptr().cast(),
        iov_len: copy.len(),
    };
    // SAFETY: `iov` describes `copy`, valid for reads of its length during the call.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SETREGSET,
            tid.as_raw(),
            NT_X86_XSTATE as usize,
            &mut iov as *mut libc::iovec,
        )
    };
    if r < 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}
