// SPDX-License-Identifier: Apache-2.0
//! The gofer's seccomp allow-list (gVisor `runsc/fsgofer/filter`): what the server loop, its
//! channel threads and the Rust runtime need, nothing that opens a network, changes mounts or
//! namespaces, traces, or executes. Anything else kills the gofer (and the sandbox notices).
//!
//! With `--host-uds open` (only then) two more calls: socket(AF_UNIX, STREAM, DGRAM or
//! SEQPACKET with exactly SOCK_NONBLOCK | SOCK_CLOEXEC, protocol 0) and connect. connect's
//! address is in memory, out of the filter's reach; the only sockets the gofer can make are
//! those unix sockets (its channels are socketpairs, connected already), and it has no
//! network interface but its own namespace's loopback.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// (system call, why), unconditionally allowed.
const ALLOWED: &[(i64, &str)] = &[
    // The protocol.
    (libc::SYS_recvmsg, "requests, with no descriptors accepted"),
    (libc::SYS_sendmsg, "replies, donating descriptors"),
    // File work on held descriptors.
    (
        libc::SYS_openat2,
        "every walk: RESOLVE_BENEATH | NO_SYMLINKS | NO_MAGICLINKS",
    ),
    (
        libc::SYS_openat,
        "reopening a held descriptor through /proc/self/fd",
    ),
    (libc::SYS_close, "descriptors"),
    (libc::SYS_fstat, "stat of held descriptors"),
    (libc::SYS_newfstatat, "stat (the runtime)"),
    (libc::SYS_statx, "stat (the runtime)"),
    (libc::SYS_fstatfs, "statfs"),
    (libc::SYS_lseek, "directory positions"),
    (libc::SYS_getdents64, "directory listings"),
    (libc::SYS_readlinkat, "readlink"),
    (libc::SYS_mkdirat, "mkdir"),
    (
        libc::SYS_mknodat,
        "regular files, FIFOs, sockets (never devices: checked)",
    ),
    (libc::SYS_symlinkat, "symlink"),
    (libc::SYS_linkat, "link (same export: checked)"),
    (libc::SYS_unlinkat, "unlink, rmdir"),
    (libc::SYS_renameat2, "rename (same export: checked)"),
    (libc::SYS_fchownat, "chown"),
    (libc::SYS_fchmod, "chmod"),
    (libc::SYS_fchmodat, "chmod of FIFOs and sockets"),
    (libc::SYS_utimensat, "utimes"),
    (libc::SYS_ftruncate, "truncate"),
    (libc::SYS_fsync, "fsync"),
    (libc::SYS_fdatasync, "fdatasync"),
    (libc::SYS_fgetxattr, "xattrs"),
    (libc::SYS_fsetxattr, "xattrs (user.* only: checked)"),
    (libc::SYS_flistxattr, "xattrs"),
    (libc::SYS_fremovexattr, "xattrs (user.* only: checked)"),
    (libc::SYS_fcntl, "descriptor flags (the runtime)"),
    // Threads and memory (the Rust runtime).
    (libc::SYS_clone, "channel threads"),
    (libc::SYS_clone3, "channel threads"),
    (libc::SYS_set_robust_list, "threads"),
    (libc::SYS_rseq, "threads"),
    (libc::SYS_futex, "locks"),
    (
        libc::SYS_sched_setaffinity,
        "a channel thread on its client's CPU",
    ),
    (libc::SYS_mmap, "memory"),
    (libc::SYS_munmap, "memory"),
    (libc::SYS_mprotect, "thread stack guards"),
    (libc::SYS_mremap, "memory"),
    (libc::SYS_madvise, "memory"),
    (libc::SYS_brk, "memory"),
    (libc::SYS_sigaltstack, "threads"),
    (libc::SYS_rt_sigprocmask, "threads, abort"),
    (libc::SYS_rt_sigreturn, "signals"),
    (libc::SYS_rt_sigaction, "thread start (glibc)"),
    (libc::SYS_sched_yield, "locks"),
    (libc::SYS_sched_getaffinity, "the runtime"),
    (libc::SYS_getrandom, "hash maps"),
    (libc::SYS_clock_gettime, "the runtime"),
    (libc::SYS_gettid, "abort"),
    (libc::SYS_getpid, "abort"),
    (libc::SYS_tgkill, "abort"),
    (libc::SYS_write, "the last words on stderr"),
    (libc::SYS_exit, "threads"),
    (libc::SYS_exit_group, "the end"),
];

/// The socket types a host unix socket may be made with (`--host-uds open`), as the server
/// asks: always non-blocking and close-on-exec.
pub const HOST_UDS_TYPES: [i32; 3] = [
    libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
    libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
    libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
];

fn eq(arg: u8, v: u64) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v)
        .map_err(|e| format!("seccomp rule: {e}"))
}

/// The compiled filter; `host_uds`: with the calls that connect host unix sockets.
pub fn program(host_uds: bool) -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|(nr, _)| (*nr, Vec::new())).collect();
    let rule = |conds| SeccompRule::new(conds).map_err(|e| format!("seccomp rule: {e}"));
    // socketpair only for AF_UNIX channels.
    let unix = rule(vec![eq(0, libc::AF_UNIX as u64)?])?;
    rules.insert(libc::SYS_socketpair, vec![unix]);
    if host_uds {
        // A host unix socket to connect for the sentry: AF_UNIX, one of the three types
        // (non-blocking, close-on-exec), protocol 0.
        let socket = HOST_UDS_TYPES
            .iter()
            .map(|ty| {
                rule(vec![
                    eq(0, libc::AF_UNIX as u64)?,
                    eq(1, *ty as u64)?,
                    eq(2, 0)?,
                ])
            })
            .collect::<Result<Vec<_>, _>>()?;
        rules.insert(libc::SYS_socket, socket);
        // Connecting it to a socket file the gofer holds (by /proc/self/fd/N).
        rules.insert(libc::SYS_connect, Vec::new());
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e| format!("seccomp filter: {e}"))
}

/// Installs the filter on the calling thread (and the threads it will start).
pub fn install(host_uds: bool) -> Result<(), String> {
    let prog = program(host_uds)?;
    seccompiler::apply_filter(&prog).map_err(|e| format!("installing the seccomp filter: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_filter_compiles() {
        for host_uds in [false, true] {
            assert!(super::program(host_uds).is_ok_and(|p| !p.is_empty()));
        }
    }
}
