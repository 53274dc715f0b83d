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

/// Borrows one of the host's standard descriptors (0, 1, 2), which stay open for the life of
/// the process.
pub fn borrow_fd(fd: i32) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only called for 0, 1 and 2 after F_GETFL succeeded on them, and the sentry never
    // closes its own stdio.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}
