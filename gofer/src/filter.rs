// SPDX-License-Identifier: Apache-2.0
//! The gofer's seccomp allow-list (gVisor `runsc/fsgofer/filter`): what the server loop, its
//! channel threads and the Rust runtime need, nothing that opens a network, changes mounts or
//! namespaces, traces, or executes. Anything else kills the gofer (and the sandbox notices).

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

/// The compiled filter.
pub fn program() -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|(nr, _)| (*nr, Vec::new())).collect();
    // socketpair only for AF_UNIX channels.
    let unix = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        libc::AF_UNIX as u64,
    )
    .and_then(|c| SeccompRule::new(vec![c]))
    .map_err(|e| format!("seccomp rule: {e}"))?;
    rules.insert(libc::SYS_socketpair, vec![unix]);
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
pub fn install() -> Result<(), String> {
    let prog = program()?;
    seccompiler::apply_filter(&prog).map_err(|e| format!("installing the seccomp filter: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_filter_compiles() {
        assert!(super::program().is_ok_and(|p| !p.is_empty()));
    }
}
