// SPDX-License-Identifier: Apache-2.0
//! The loader's few host calls that need `unsafe`.
#![allow(unsafe_code)]

/// Ignores SIGPIPE in the sentry: a write to a closed host pipe must come back as EPIPE for the
/// application to see, not kill the sandbox.
pub fn ignore_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installing SIG_IGN runs no handler code, so no async-signal-safety concern.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

/// Gives SIGPIPE its default action back (Rust's runtime ignores it): a command that only
/// prints (`state`, `list`, `syscalls`) then ends quietly when its reader goes (`| head`), as
/// other Unix tools do, instead of failing to print.
pub fn default_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety concern.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// getrlimit(2) of the sentry, to start the sandbox with the host's limits.
pub fn getrlimit(resource: u32) -> Option<syscalls::abi::Rlimit> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit to write to; the resource number is checked by the kernel.
    let rc = unsafe { libc::getrlimit(resource as _, &mut r) };
    (rc == 0).then_some(syscalls::abi::Rlimit {
        rlim_cur: r.rlim_cur,
        rlim_max: r.rlim_max,
    })
}

/// fork(2): `None` in the child, the child's pid in the parent. Only called before the
/// process has any other thread ([`crate::tty::supervise`]).
pub fn fork() -> Result<Option<nix::unistd::Pid>, nix::Error> {
    // SAFETY: the process is single-threaded here (no thread has been started yet), so the
    // child may run any code.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(None),
        nix::unistd::ForkResult::Parent { child } => Ok(Some(child)),
    }
}

/// Borrows one of the host's standard descriptors (0, 1, 2), which stay open for the life of
/// the process.
pub fn borrow_fd(fd: i32) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only called for 0, 1 and 2 after F_GETFL succeeded on them, and the sentry never
    // closes its own stdio.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Drops every capability of the calling thread: the bounding set first (so that no later
/// execve can bring one back), then the effective, permitted and inheritable sets (which
/// clears the ambient set too).
pub fn drop_capabilities() -> Result<(), syscalls::Errno> {
    let errno = || syscalls::Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments; EINVAL past the last capability is expected.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        if r != 0 && errno() != syscalls::Errno::EINVAL {
            return Err(errno());
        }
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3: two Data words
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads a valid header and two data words from live locals.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if r != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Takes ownership of a descriptor the process inherited for one use (the OCI ready pipe),
/// checked open by the caller; nothing else in the process refers to that number.
pub fn own_fd(fd: i32) -> Result<std::os::fd::OwnedFd, String> {
    if fd < 3 {
        return Err(format!("descriptor {fd}: not an inherited one"));
    }
    // SAFETY: the number was passed on the command line for this use alone and is open; it is
    // owned from here on and closed once.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// The type of the namespace file `fd` refers to (NS_GET_NSTYPE): a CLONE_NEW* flag; ENOTTY
/// for a file that is not a namespace.
pub fn namespace_type(fd: std::os::fd::BorrowedFd<'_>) -> Result<u64, nix::Error> {
    use std::os::fd::AsRawFd;
    // SAFETY: NS_GET_NSTYPE takes no argument and reads or writes no memory of ours; `fd` is
    // open for the call's duration.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), syscalls::abi::NS_GET_NSTYPE as _) };
    if rc < 0 {
        return Err(nix::Error::last());
    }
    Ok(rc as u64)
}

/// Makes `cmd`'s process join the cgroups whose `cgroup.procs` files `procs` are (open for
/// writing) before it runs anything: "0" written there moves the writer.
pub fn join_cgroups_at_exec(cmd: &mut std::process::Command, procs: Vec<std::os::fd::OwnedFd>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    if procs.is_empty() {
        return;
    }
    let raw: Vec<i32> = procs.iter().map(AsRawFd::as_raw_fd).collect();
    // SAFETY: the closure runs in the forked child before exec and only calls write(2) on
    // descriptors the parent keeps open (`procs` moves into the closure, which lives as long as
    // `cmd`); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &procs;
            for fd in &raw {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}
