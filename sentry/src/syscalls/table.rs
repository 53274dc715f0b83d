// SPDX-License-Identifier: Apache-2.0
//! The system call table as data: every x86_64 number with its name, support level, a note and
//! how `--strace` decodes its arguments (gVisor `syscalls/linux/linux64.go`).

use std::sync::OnceLock;

use syscalls::{SYSNO_COUNT, SYSNO_NAMES};

use super::{
    sys_aio as aio, sys_cred as cr, sys_eventfd as ev, sys_fanotify as fan, sys_file as f,
    sys_futex as fx, sys_inotify as ino, sys_ioprio as iop, sys_ipc as ipc, sys_kcmp as kc,
    sys_keys as ky, sys_landlock as ll, sys_lsm as lsm, sys_misc as misc, sys_mm as m,
    sys_mount as mt, sys_mount_api as mapi, sys_mqueue as mq, sys_numa as numa, sys_pidfd as pf,
    sys_poll as pl, sys_process as p, sys_process_vm as pvm, sys_rw2 as rw2, sys_sched as sc,
    sys_sched_attr as sca, sys_seccomp as sec, sys_signal as sg, sys_signalfd as sfd,
    sys_socket as so, sys_task as tk, sys_time as tm, sys_timer as ti, sys_timerfd as tfd,
    SysResult,
};
use crate::kernel::Task;

/// A handler.
pub type Handler = fn(&mut Task) -> SysResult;

/// How much of a system call the sentry implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Support {
    /// As Linux does it.
    Full,
    /// Implemented, with documented gaps.
    Partial,
    /// Returns an errno on purpose (as Linux does for an unprivileged caller, or a probe glibc
    /// falls back from).
    Refused,
    /// Not implemented: ENOSYS, logged once.
    Unimplemented,
}

impl Support {
    /// The word `sandbox syscalls` prints.
    pub fn label(self) -> &'static str {
        match self {
            Support::Full => "full",
            Support::Partial => "partial",
            Support::Refused => "refused",
            Support::Unimplemented => "unimplemented",
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Entry {
    /// The name.
    pub name: &'static str,
    /// The handler, if implemented.
    pub handler: Option<Handler>,
    /// Support level.
    pub support: Support,
    /// What is missing or why.
    pub note: &'static str,
    /// Argument kinds for --strace, one character each (see `strace.rs`).
    pub args: &'static str,
}

macro_rules! rows {
    ($( $name:ident => $support:ident, $handler:expr, $args:literal, $note:literal; )*) => {
        &[ $( (stringify!($name), Support::$support, $handler, $args, $note), )* ]
    };
}

type Row = (
    &'static str,
    Support,
    Option<Handler>,
    &'static str,
    &'static str,
);

/// The implemented (or deliberately refused) system calls.
const ROWS: &[Row] = rows! {
    msgget => Full, Some(ipc::sys_msgget), "xo", "one IPC namespace for the sandbox";
    msgsnd => Full, Some(ipc::sys_msgsnd), "dpux", "";
    msgrcv => Partial, Some(ipc::sys_msgrcv), "dpuDx", "waiting receivers are served in no set order (Linux: first come, first served)";
    msgctl => Full, Some(ipc::sys_msgctl), "ddp", "";
    semget => Full, Some(ipc::sys_semget), "xdo", "one IPC namespace for the sandbox";
    semop => Partial, Some(ipc::sys_semop), "dpu", "SEM_UNDO lists are per process (CLONE_SYSVSEM sharing is not kept); waiters are served in no set order";
    semtimedop => Partial, Some(ipc::sys_semtimedop), "dpup", "as semop";
    semctl => Full, Some(ipc::sys_semctl), "dddx", "";
    shmget => Partial, Some(ipc::sys_shmget), "xux", "no huge pages (SHM_HUGETLB: ENOMEM, as a host without a reserved pool); segments count against --memory in full";
    shmat => Partial, Some(ipc::sys_shmat), "dpx", "munmap of an attach does not update shm_lpid/shm_dtime (shmdt, exec and exit do)";
    shmdt => Full, Some(ipc::sys_shmdt), "p", "";
    shmctl => Full, Some(ipc::sys_shmctl), "ddp", "";
    sethostname => Full, Some(p::sys_sethostname), "bd", "the sandbox's UTS name only";
    setdomainname => Full, Some(p::sys_setdomainname), "bd", "the sandbox's UTS name only";
    socket => Partial, Some(so::sys_socket), "ddd", "AF_UNIX, AF_INET, AF_INET6, AF_NETLINK (NETLINK_ROUTE); AF_PACKET EPERM";
    socketpair => Full, Some(so::sys_socketpair), "dddp", "";
    connect => Full, Some(so::sys_connect), "fpd", "";
    accept => Full, Some(so::sys_accept), "fpp", "";
    accept4 => Full, Some(so::sys_accept4), "fppx", "";
    bind => Full, Some(so::sys_bind), "fpd", "";
    listen => Full, Some(so::sys_listen), "fd", "";
    sendto => Full, Some(so::sys_sendto), "fbuxpd", "";
    recvfrom => Full, Some(so::sys_recvfrom), "fBuxpp", "";
    sendmsg => Full, Some(so::sys_sendmsg), "fpx", "";
    recvmsg => Partial, Some(so::sys_recvmsg), "fpx", "MSG_ERRQUEUE: EAGAIN (nothing queues errors)";
    sendmmsg => Full, Some(so::sys_sendmmsg), "fpux", "";
    recvmmsg => Full, Some(so::sys_recvmmsg), "fpuxp", "";
    shutdown => Full, Some(so::sys_shutdown), "fd", "";
    getsockname => Full, Some(so::sys_getsockname), "fpp", "";
    getpeername => Full, Some(so::sys_getpeername), "fpp", "";
    setsockopt => Partial, Some(so::sys_setsockopt), "fddpd", "the options programs set are kept and honoured where they change behaviour; socket filters refused (EINVAL)";
    getsockopt => Full, Some(so::sys_getsockopt), "fddpp", "";
    read => Full, Some(f::sys_read), "fBu", "";
    write => Full, Some(f::sys_write), "fbu", "";
    open => Full, Some(f::sys_open), "sOo", "";
    close => Full, Some(f::sys_close), "f", "";
    stat => Full, Some(f::sys_stat), "sp", "";
    fstat => Full, Some(f::sys_fstat), "fp", "";
    lstat => Full, Some(f::sys_lstat), "sp", "";
    lseek => Full, Some(f::sys_lseek), "fDd", "";
    mmap => Partial, Some(m::sys_mmap), "pxPMfx", "MAP_GROWSDOWN maps the whole range at once; MAP_HUGETLB/MAP_LOCKED ignored";
    mprotect => Full, Some(m::sys_mprotect), "pxP", "";
    munmap => Full, Some(m::sys_munmap), "px", "";
    brk => Full, Some(m::sys_brk), "p", "";
    rt_sigaction => Full, Some(sg::sys_rt_sigaction), "Sppu", "";
    rt_sigprocmask => Full, Some(sg::sys_rt_sigprocmask), "dppu", "";
    ioctl => Partial, Some(f::sys_ioctl), "fxp", "FIONBIO, FIOASYNC, FIOCLEX, FIONCLEX, FIONREAD; the sentry's ptys: TCGETS/TCSETS*, TCGETA/TCSETA*, TCGETS2/TCSETS*2, TIOCGWINSZ/TIOCSWINSZ, TIOCSCTTY/TIOCNOTTY, TIOCGPGRP/TIOCSPGRP/TIOCGSID, TIOCGPTN/TIOCSPTLCK/TIOCGPTLCK/TIOCGPTPEER, TIOCPKT, TIOCINQ/TIOCOUTQ, TCFLSH, TIOCSIG, TIOCSTI (root), TIOCEXCL; host stdio: TCGETS/TCSETS*, winsize; sockets' SIOC*; loop devices: LOOP_* and BLK* (loop-control: LOOP_CTL_*); ENOTTY otherwise";
    pread64 => Full, Some(f::sys_pread64), "fBuD", "";
    pwrite64 => Full, Some(f::sys_pwrite64), "fbuD", "";
    readv => Full, Some(f::sys_readv), "fpd", "";
    writev => Full, Some(f::sys_writev), "fpd", "";
    access => Full, Some(f::sys_access), "so", "";
    pipe => Full, Some(f::sys_pipe), "p", "";
    sched_yield => Full, Some(p::sys_sched_yield), "", "";
    mremap => Partial, Some(m::sys_mremap), "pxxxp", "MREMAP_DONTUNMAP refused (EINVAL)";
    msync => Full, Some(m::sys_msync), "pxx", "";
    mincore => Partial, Some(m::sys_mincore), "pxp", "every mapped page is reported resident";
    madvise => Full, Some(m::sys_madvise), "pxd", "";
    dup => Full, Some(f::sys_dup), "f", "";
    dup2 => Full, Some(f::sys_dup2), "ff", "";
    nanosleep => Full, Some(tm::sys_nanosleep), "pp", "";
    getpid => Full, Some(p::sys_getpid), "", "";
    exit => Full, Some(tk::sys_exit), "d", "";
    uname => Full, Some(p::sys_uname), "p", "";
    fcntl => Partial, Some(f::sys_fcntl), "fdx", "POSIX and OFD record locks (EDEADLK, F_GETLK with sandbox pids) and leases (broken by open/truncate) are real; O_ASYNC sends SIGIO (or the F_SETSIG signal) to the F_SETOWN(_EX) owner for pipes, FIFOs, sockets and terminals, not yet for other files; F_NOTIFY (dnotify) signals with the F_SETSIG signal";
    getdents64 => Full, Some(f::sys_getdents64), "fpu", "";
    getcwd => Full, Some(f::sys_getcwd), "pu", "";
    chdir => Full, Some(f::sys_chdir), "s", "";
    fchdir => Full, Some(f::sys_fchdir), "f", "";
    readlink => Full, Some(f::sys_readlink), "spu", "";
    umask => Full, Some(p::sys_umask), "o", "";
    gettimeofday => Full, Some(tm::sys_gettimeofday), "pp", "";
    getrlimit => Full, Some(p::sys_getrlimit), "dp", "";
    getrusage => Partial, Some(tm::sys_getrusage), "dp", "CPU times (user: the program's host process; system: the sentry thread serving it); the other fields zero";
    sysinfo => Full, Some(p::sys_sysinfo), "p", "";
    times => Full, Some(tm::sys_times), "p", "user: the program's host process; system: the sentry threads serving it; reaped children's";
    getuid => Full, Some(p::sys_getuid), "", "";
    getgid => Full, Some(p::sys_getgid), "", "";
    geteuid => Full, Some(p::sys_geteuid), "", "";
    getegid => Full, Some(p::sys_getegid), "", "";
    getppid => Full, Some(tk::sys_getppid), "", "";
    getpgrp => Full, Some(tk::sys_getpgrp), "", "";
    getgroups => Full, Some(p::sys_getgroups), "dp", "";
    getresuid => Full, Some(p::sys_getresuid), "ppp", "";
    getresgid => Full, Some(p::sys_getresgid), "ppp", "";
    getpgid => Full, Some(tk::sys_getpgid), "d", "";
    getsid => Full, Some(tk::sys_getsid), "d", "";
    sigaltstack => Full, Some(sg::sys_sigaltstack), "pp", "";
    arch_prctl => Partial, Some(p::sys_arch_prctl), "xp", "ARCH_SET/GET_FS/GS; CPUID faulting refused";
    setrlimit => Partial, Some(p::sys_setrlimit), "dp", "recorded, enforced for RLIMIT_NOFILE, RLIMIT_STACK, RLIMIT_AS";
    gettid => Full, Some(p::sys_gettid), "", "";
    time => Full, Some(tm::sys_time), "p", "";
    sched_getaffinity => Full, Some(sc::sys_sched_getaffinity), "dup", "the task's mask over the sandbox's CPUs (the host CPUs it may use, numbered from 0)";
    set_tid_address => Full, Some(p::sys_set_tid_address), "p", "";
    clock_gettime => Full, Some(tm::sys_clock_gettime), "dp", "";
    clock_getres => Full, Some(tm::sys_clock_getres), "dp", "";
    clock_nanosleep => Partial, Some(tm::sys_clock_nanosleep), "ddpp", "CLOCK_PROCESS_CPUTIME_ID sleeps are measured in wall time";
    restart_syscall => Full, Some(tm::sys_restart_syscall), "", "";
    exit_group => Full, Some(tk::sys_exit_group), "d", "";
    openat => Full, Some(f::sys_openat), "FsOo", "";
    newfstatat => Full, Some(f::sys_newfstatat), "Fspx", "";
    readlinkat => Full, Some(f::sys_readlinkat), "Fspu", "";
    faccessat => Full, Some(f::sys_faccessat), "Fso", "";
    set_robust_list => Full, Some(p::sys_set_robust_list), "px", "";
    get_robust_list => Partial, Some(p::sys_get_robust_list), "dpp", "other tasks' lists EPERM";
    dup3 => Full, Some(f::sys_dup3), "ffx", "";
    pipe2 => Full, Some(f::sys_pipe2), "px", "";
    preadv => Full, Some(f::sys_preadv), "fpdD", "";
    pwritev => Full, Some(f::sys_pwritev), "fpdD", "";
    prlimit64 => Partial, Some(p::sys_prlimit64), "ddpp", "own process only until the processes issue";
    getrandom => Full, Some(p::sys_getrandom), "Bux", "";
    statx => Full, Some(f::sys_statx), "Fsxxp", "";
    rseq => Refused, Some(p::sys_rseq), "pxdx", "bad arguments EINVAL; a valid registration ENOSYS: glibc then runs without restartable sequences";
    faccessat2 => Full, Some(f::sys_faccessat2), "Fsox", "";
    getxattr => Full, Some(f::sys_getxattr), "ssBu", "";
    lgetxattr => Full, Some(f::sys_lgetxattr), "ssBu", "";
    fgetxattr => Full, Some(f::sys_fgetxattr), "fsBu", "";
    setxattr => Full, Some(f::sys_setxattr), "ssbux", "";
    lsetxattr => Full, Some(f::sys_lsetxattr), "ssbux", "";
    fsetxattr => Full, Some(f::sys_fsetxattr), "fsbux", "";
    listxattr => Full, Some(f::sys_listxattr), "spu", "";
    llistxattr => Full, Some(f::sys_llistxattr), "spu", "";
    flistxattr => Full, Some(f::sys_flistxattr), "fpu", "";
    removexattr => Full, Some(f::sys_removexattr), "ss", "";
    lremovexattr => Full, Some(f::sys_lremovexattr), "ss", "";
    fremovexattr => Full, Some(f::sys_fremovexattr), "fs", "";
    setxattrat => Full, Some(f::sys_setxattrat), "Fsxspu", "";
    getxattrat => Full, Some(f::sys_getxattrat), "Fsxspu", "";
    listxattrat => Full, Some(f::sys_listxattrat), "Fsxpu", "";
    file_getattr => Partial, Some(f::sys_file_getattr), "Fspux", "the flags tmpfs keeps (immutable, append, nodump, noatime); no extent sizes or projects; EOPNOTSUPP on host volumes and the disk images";
    file_setattr => Partial, Some(f::sys_file_setattr), "Fspux", "as file_getattr";
    removexattrat => Full, Some(f::sys_removexattrat), "Fsxs", "";
    creat => Full, Some(f::sys_creat), "so", "";
    openat2 => Full, Some(f::sys_openat2), "Fspu", "";
    mkdir => Full, Some(f::sys_mkdir), "so", "";
    mkdirat => Full, Some(f::sys_mkdirat), "Fso", "";
    mknod => Partial, Some(f::sys_mknod), "sox", "device nodes only in the sandbox's own file systems (EPERM on host volumes)";
    mknodat => Partial, Some(f::sys_mknodat), "Fsox", "device nodes only in the sandbox's own file systems (EPERM on host volumes)";
    unlink => Full, Some(f::sys_unlink), "s", "";
    unlinkat => Full, Some(f::sys_unlinkat), "Fsx", "";
    rmdir => Full, Some(f::sys_rmdir), "s", "";
    rename => Full, Some(f::sys_rename), "ss", "";
    renameat => Full, Some(f::sys_renameat), "FsFs", "";
    renameat2 => Full, Some(f::sys_renameat2), "FsFsx", "RENAME_WHITEOUT refused (EPERM)";
    link => Full, Some(f::sys_link), "ss", "";
    linkat => Full, Some(f::sys_linkat), "FsFsx", "";
    symlink => Full, Some(f::sys_symlink), "ss", "";
    symlinkat => Full, Some(f::sys_symlinkat), "sFs", "";
    chmod => Full, Some(f::sys_chmod), "so", "";
    fchmod => Full, Some(f::sys_fchmod), "fo", "";
    fchmodat => Full, Some(f::sys_fchmodat), "Fso", "";
    fchmodat2 => Full, Some(f::sys_fchmodat2), "Fsox", "";
    chown => Full, Some(f::sys_chown), "sdd", "";
    fchown => Full, Some(f::sys_fchown), "fdd", "";
    lchown => Full, Some(f::sys_lchown), "sdd", "";
    fchownat => Full, Some(f::sys_fchownat), "Fsddx", "";
    utime => Full, Some(f::sys_utime), "sp", "";
    utimes => Full, Some(f::sys_utimes), "sp", "";
    futimesat => Full, Some(f::sys_futimesat), "Fsp", "";
    utimensat => Full, Some(f::sys_utimensat), "Fspx", "";
    truncate => Full, Some(f::sys_truncate), "sD", "";
    ftruncate => Full, Some(f::sys_ftruncate), "fD", "";
    fallocate => Full, Some(f::sys_fallocate), "fxDD", "";
    fsync => Full, Some(f::sys_fsync), "f", "";
    fdatasync => Full, Some(f::sys_fdatasync), "f", "";
    sync => Full, Some(f::sys_sync), "", "";
    syncfs => Full, Some(f::sys_syncfs), "f", "";
    sync_file_range => Full, Some(f::sys_sync_file_range), "fDDx", "";
    statfs => Full, Some(f::sys_statfs), "sp", "";
    fstatfs => Full, Some(f::sys_fstatfs), "fp", "";
    sendfile => Full, Some(f::sys_sendfile), "ffpu", "";
    copy_file_range => Full, Some(f::sys_copy_file_range), "fpfpux", "";
    splice => Full, Some(f::sys_splice), "fpfpux", "bytes are copied, never page references moved";
    tee => Full, Some(f::sys_tee), "ffux", "";
    vmsplice => Full, Some(f::sys_vmsplice), "fpux", "bytes are copied (SPLICE_F_GIFT means nothing more)";
    flock => Full, Some(f::sys_flock), "fx", "";
    memfd_create => Partial, Some(f::sys_memfd_create), "sx", "MFD_HUGETLB refused (EINVAL: no hugetlbfs)";
    fadvise64 => Full, Some(f::sys_fadvise64), "fDDd", "advice has no effect";
    readahead => Full, Some(f::sys_readahead), "fDu", "";
    futex => Partial, Some(fx::sys_futex), "pxdpps", "WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, *_BITSET, LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI (no priority boosting); the *_REQUEUE_PI pair ENOSYS";
    futex_waitv => Full, Some(fx::sys_futex_waitv), "pxxpd", "up to 128 32-bit futexes; absolute timeout on CLOCK_MONOTONIC or CLOCK_REALTIME; meets futex() waiters";
    futex_wake => Full, Some(fx::sys_futex_wake), "pxdx", "FUTEX2_NUMA on one node (node 0)";
    futex_wait => Full, Some(fx::sys_futex_wait), "pxxxpd", "FUTEX2_NUMA on one node (node 0)";
    futex_requeue => Full, Some(fx::sys_futex_requeue), "pxdd", "";
    kill => Full, Some(sg::sys_kill), "dS", "";
    tkill => Full, Some(sg::sys_tkill), "dS", "";
    tgkill => Full, Some(sg::sys_tgkill), "ddS", "";
    rt_sigreturn => Full, Some(sg::sys_rt_sigreturn), "", "restores registers, mask, alternate stack and the XSAVE state";
    rt_sigpending => Full, Some(sg::sys_rt_sigpending), "pu", "";
    rt_sigsuspend => Full, Some(sg::sys_rt_sigsuspend), "pu", "";
    rt_sigtimedwait => Full, Some(sg::sys_rt_sigtimedwait), "pppu", "";
    rt_sigqueueinfo => Full, Some(sg::sys_rt_sigqueueinfo), "dSp", "";
    rt_tgsigqueueinfo => Full, Some(sg::sys_rt_tgsigqueueinfo), "ddSp", "";
    pause => Full, Some(sg::sys_pause), "", "";
    clone => Partial, Some(tk::sys_clone), "xppppx", "namespace flags EPERM; CLONE_PIDFD for processes (not threads); CLONE_INTO_CGROUP EINVAL";
    clone3 => Partial, Some(tk::sys_clone3), "pu", "set_tid and cgroup refused; pidfd for processes";
    fork => Full, Some(tk::sys_fork), "", "";
    vfork => Full, Some(tk::sys_vfork), "", "";
    execve => Partial, Some(tk::sys_execve), "spp", "a non-leader thread keeps its tid";
    execveat => Partial, Some(tk::sys_execveat), "Fsppx", "a non-leader thread keeps its tid";
    wait4 => Partial, Some(tk::sys_wait4), "dpxp", "rusage: CPU times only";
    waitid => Partial, Some(tk::sys_waitid), "ddpxp", "rusage: CPU times only";
    setpgid => Full, Some(tk::sys_setpgid), "dd", "";
    setsid => Full, Some(tk::sys_setsid), "", "";
    vhangup => Full, Some(tk::sys_vhangup), "", "";
    poll => Full, Some(pl::sys_poll), "pud", "";
    ppoll => Full, Some(pl::sys_ppoll), "pupp", "";
    select => Full, Some(pl::sys_select), "dpppp", "";
    pselect6 => Full, Some(pl::sys_pselect6), "dppppp", "";
    epoll_create => Full, Some(pl::sys_epoll_create), "d", "";
    epoll_create1 => Full, Some(pl::sys_epoll_create1), "x", "";
    epoll_ctl => Partial, Some(pl::sys_epoll_ctl), "fdfp", "EPOLLET reports level-triggered";
    epoll_wait => Partial, Some(pl::sys_epoll_wait), "fpdd", "EPOLLET reports level-triggered";
    epoll_pwait => Partial, Some(pl::sys_epoll_pwait), "fpddpu", "EPOLLET reports level-triggered";
    setuid => Full, Some(cr::sys_setuid), "d", "virtual ids";
    setgid => Full, Some(cr::sys_setgid), "d", "virtual ids";
    setreuid => Full, Some(cr::sys_setreuid), "dd", "virtual ids";
    setregid => Full, Some(cr::sys_setregid), "dd", "virtual ids";
    setresuid => Full, Some(cr::sys_setresuid), "ddd", "virtual ids";
    setresgid => Full, Some(cr::sys_setresgid), "ddd", "virtual ids";
    setfsuid => Full, Some(cr::sys_setfsuid), "d", "virtual ids";
    setfsgid => Full, Some(cr::sys_setfsgid), "d", "virtual ids";
    setgroups => Full, Some(cr::sys_setgroups), "dp", "virtual ids";
    capget => Partial, Some(cr::sys_capget), "pp", "root has every capability; inheritable sets are empty";
    capset => Partial, Some(cr::sys_capset), "pp", "capabilities can only be dropped";
    sched_setaffinity => Full, Some(sc::sys_sched_setaffinity), "dup", "the application thread and its sentry thread run only on the CPUs allowed (another task follows at its next trap)";
    sched_getscheduler => Partial, Some(sc::sys_sched_getscheduler), "d", "always SCHED_OTHER";
    sched_setscheduler => Partial, Some(sc::sys_sched_setscheduler), "ddp", "real-time policies EPERM";
    sched_getparam => Full, Some(sc::sys_sched_getparam), "dp", "";
    sched_setparam => Full, Some(sc::sys_sched_setparam), "dp", "";
    sched_get_priority_max => Full, Some(sc::sys_sched_get_priority_max), "d", "";
    sched_get_priority_min => Full, Some(sc::sys_sched_get_priority_min), "d", "";
    sched_rr_get_interval => Full, Some(sc::sys_sched_rr_get_interval), "dp", "";
    getpriority => Partial, Some(sc::sys_getpriority), "dd", "nice recorded, not applied to the host";
    setpriority => Partial, Some(sc::sys_setpriority), "ddd", "nice recorded, not applied to the host";
    getcpu => Full, Some(sc::sys_getcpu), "ppp", "";
    personality => Partial, Some(sc::sys_personality), "x", "PER_LINUX only";
    membarrier => Full, Some(sc::sys_membarrier), "dx", "the barrier is the host's, made by the program's own host process";
    alarm => Full, Some(ti::sys_alarm), "u", "";
    setitimer => Partial, Some(ti::sys_setitimer), "dpp", "ITIMER_VIRTUAL counts user and system time, checked every 5 ms";
    getitimer => Full, Some(ti::sys_getitimer), "dp", "";
    timer_create => Partial, Some(ti::sys_timer_create), "dpp", "thread CPU clocks EINVAL";
    timer_settime => Full, Some(ti::sys_timer_settime), "dxpp", "";
    timer_gettime => Full, Some(ti::sys_timer_gettime), "dp", "";
    timer_getoverrun => Full, Some(ti::sys_timer_getoverrun), "d", "";
    timer_delete => Full, Some(ti::sys_timer_delete), "d", "";
    pidfd_open => Partial, Some(pf::sys_pidfd_open), "dx", "poll readiness is rechecked every 10 ms";
    pidfd_send_signal => Full, Some(pf::sys_pidfd_send_signal), "fdpx", "";
    prctl => Partial, Some(p::sys_prctl), "dxxxx", "names, dumpable, no_new_privs, seccomp (PR_SET/GET_SECCOMP), pdeathsig, subreaper, keepcaps, securebits, capability bounding set reads; others EINVAL";
    seccomp => Partial, Some(sec::sys_seccomp), "dxp", "strict mode and classic BPF filters run by the sentry with every action, TSYNC, user notification (listener fd, ADDFD); RET_TRACE stops a tracee with PTRACE_O_TRACESECCOMP (ENOSYS without a tracer); filters log to the sentry's log, not audit";
    clock_settime => Full, Some(tm::sys_settime), "dp", "CLOCK_REALTIME only, with CAP_SYS_TIME: the sandbox's own wall clock (an offset from the host's, which is never set); once set, the vDSO's time functions trap";
    settimeofday => Full, Some(tm::sys_settime), "pp", "the sandbox's own wall clock and time zone (see clock_settime)";
    adjtimex => Partial, Some(tm::sys_adjtimex), "p", "the sandbox's own NTP state (started from the host's) and ADJ_SETOFFSET on its own clock; the frequency, offset and tick are recorded but do not slew the clock, leap seconds are never inserted";
    clock_adjtime => Partial, Some(tm::sys_adjtimex), "dp", "CLOCK_REALTIME as adjtimex; other clocks EOPNOTSUPP";
    mlock => Full, Some(m::sys_mlock), "px", "";
    mlock2 => Full, Some(m::sys_mlock2), "pxx", "";
    munlock => Full, Some(m::sys_munlock), "px", "";
    mlockall => Full, Some(m::sys_mlockall), "x", "";
    munlockall => Full, Some(m::sys_munlockall), "", "";
    unshare => Partial, Some(tk::sys_unshare), "x", "CLONE_FILES, CLONE_FS, CLONE_SYSVSEM, CLONE_NEWNS, CLONE_NEWTIME; other namespaces EPERM";
    setns => Partial, Some(tk::sys_setns), "dx", "by /proc/[pid]/ns file or pidfd; the sandbox is one namespace of each kind but mount and time namespaces (unshare makes those), so only joining one of those changes anything";
    eventfd => Full, Some(ev::sys_eventfd), "u", "";
    eventfd2 => Full, Some(ev::sys_eventfd2), "ux", "";
    signalfd => Full, Some(sfd::sys_signalfd), "dpu", "";
    signalfd4 => Full, Some(sfd::sys_signalfd4), "dpux", "";
    timerfd_create => Partial, Some(tfd::sys_timerfd_create), "dx", "TFD_TIMER_CANCEL_ON_SET never cancels: the sandbox's clock cannot be set, and host clock changes are not seen; the *_ALARM clocks need CAP_WAKE_ALARM and do not wake a suspended host";
    timerfd_settime => Full, Some(tfd::sys_timerfd_settime), "fxpp", "";
    timerfd_gettime => Full, Some(tfd::sys_timerfd_gettime), "fp", "";
    preadv2 => Partial, Some(rw2::sys_preadv2), "fpdDx", "RWF_NOWAIT never gives EAGAIN on a file (the sentry never waits for file data); RWF_ATOMIC and RWF_DONTCACHE EOPNOTSUPP as on tmpfs";
    pwritev2 => Partial, Some(rw2::sys_pwritev2), "fpdDx", "as preadv2; RWF_DSYNC/RWF_SYNC sync the file after the write";
    getdents => Full, Some(rw2::sys_getdents), "fpu", "";
    epoll_pwait2 => Full, Some(pl::sys_epoll_pwait2), "fpdppu", "";
    ioprio_get => Full, Some(iop::sys_ioprio_get), "dd", "";
    ioprio_set => Partial, Some(iop::sys_ioprio_set), "ddx", "recorded per task and inherited; the sentry's I/O does not follow it";
    sched_setattr => Partial, Some(sca::sys_sched_setattr), "dpx", "recorded, as sched_setscheduler; SCHED_DEADLINE without the bandwidth admission test (no EBUSY), and a deadline task may fork; utilisation clamps EOPNOTSUPP (as a kernel without CONFIG_UCLAMP_TASK)";
    sched_getattr => Full, Some(sca::sys_sched_getattr), "dpux", "";
    uselib => Refused, Some(misc::sys_ni), "s", "ENOSYS as Linux 6.x built without CONFIG_USELIB (a.out libraries)";
    modify_ldt => Refused, Some(misc::sys_ni), "dpx", "ENOSYS as Linux built without CONFIG_MODIFY_LDT_SYSCALL (16- and 32-bit segments for Wine and DOSEMU would need the platform to load an LDT into the stub)";
    memfd_secret => Refused, Some(misc::sys_ni), "x", "ENOSYS as Linux built without CONFIG_SECRETMEM (secret memory leaves the kernel's direct map, which a user-space kernel cannot arrange)";
    create_module => Refused, Some(misc::sys_ni), "sx", "ENOSYS: gone from Linux since 2.6";
    get_kernel_syms => Refused, Some(misc::sys_ni), "p", "ENOSYS: gone from Linux since 2.6";
    query_module => Refused, Some(misc::sys_ni), "sdpxp", "ENOSYS: gone from Linux since 2.6";
    nfsservctl => Refused, Some(misc::sys_ni), "dpp", "ENOSYS: gone from Linux since 3.1";
    getpmsg => Refused, Some(misc::sys_ni), "dppp", "ENOSYS: never implemented by Linux (STREAMS)";
    putpmsg => Refused, Some(misc::sys_ni), "dppd", "ENOSYS: never implemented by Linux (STREAMS)";
    afs_syscall => Refused, Some(misc::sys_ni), "", "ENOSYS: never implemented by Linux";
    tuxcall => Refused, Some(misc::sys_ni), "", "ENOSYS: never implemented by Linux";
    security => Refused, Some(misc::sys_ni), "", "ENOSYS: never implemented by Linux";
    vserver => Refused, Some(misc::sys_ni), "", "ENOSYS: never implemented by Linux";
    epoll_ctl_old => Refused, Some(misc::sys_ni), "", "ENOSYS: never implemented by Linux on x86_64";
    epoll_wait_old => Refused, Some(misc::sys_ni), "", "ENOSYS: never implemented by Linux on x86_64";
    lookup_dcookie => Refused, Some(misc::sys_ni), "xpu", "ENOSYS: gone from Linux since 6.8";
    _sysctl => Refused, Some(misc::sys_ni), "p", "ENOSYS: gone from Linux since 5.5 (/proc/sys instead)";
    pidfd_getfd => Full, Some(pf::sys_pidfd_getfd), "fdx", "";
    mseal => Full, Some(m::sys_mseal), "pux", "";
    pkey_alloc => Full, Some(m::sys_pkey_alloc), "xx", "no protection keys on the sandbox's machine: EINVAL, as Linux without PKU";
    pkey_free => Full, Some(m::sys_pkey_free), "d", "";
    map_shadow_stack => Full, Some(m::sys_map_shadow_stack), "xux", "no user shadow stacks on the sandbox's machine (no user_shstk in /proc/cpuinfo): EOPNOTSUPP, which Linux checks first";
    set_mempolicy => Full, Some(numa::sys_set_mempolicy), "xpu", "one node (node 0): recorded per thread and reported back; memory placed the same";
    get_mempolicy => Full, Some(numa::sys_get_mempolicy), "ppuxx", "one node (node 0): MPOL_F_NODE, MPOL_F_ADDR, MPOL_F_MEMS_ALLOWED";
    mbind => Full, Some(numa::sys_mbind), "xuxpux", "one node (node 0): the policy recorded per mapping for get_mempolicy(MPOL_F_ADDR); nothing to move";
    set_mempolicy_home_node => Full, Some(numa::sys_set_mempolicy_home_node), "xuux", "home node 0 on mappings with an MPOL_BIND or MPOL_PREFERRED_MANY policy";
    migrate_pages => Full, Some(numa::sys_migrate_pages), "dupp", "one node: nothing to migrate (0)";
    move_pages => Partial, Some(numa::sys_move_pages), "dupppx", "one node: a mapped page reports node 0 even before it is first touched (Linux: -ENOENT), and pages shared after fork are not -EACCES";
    process_mrelease => Full, Some(pf::sys_process_mrelease), "dx", "0 for a process being killed (its stub's memory goes with it), EINVAL for a live one";
    process_madvise => Partial, Some(pf::sys_process_madvise), "dpuxx", "madvise on the caller through its pidfd; on another process the hints (COLD, PAGEOUT, WILLNEED) are checked and change nothing; MADV_COLLAPSE EINVAL as in madvise";
    lsm_list_modules => Full, Some(lsm::sys_lsm_list_modules), "ppx", "two modules: capabilities (LSM_ID_CAPABILITY) and Landlock (LSM_ID_LANDLOCK)";
    landlock_create_ruleset => Full, Some(ll::sys_landlock_create_ruleset), "pux", "ABI 7 (Linux 6.18): file system, TCP port and scope rights; LANDLOCK_CREATE_RULESET_VERSION and _ERRATA";
    landlock_add_rule => Full, Some(ll::sys_landlock_add_rule), "dxpx", "path-beneath rules keyed by (st_dev, st_ino) with the inode pinned; TCP port rules; at most 65,536 rules alive in the sandbox (then ENOMEM)";
    landlock_restrict_self => Partial, Some(ll::sys_landlock_restrict_self), "dx", "up to 16 layers, kept in the credentials (fork, clone, execve); the LOG_* flags are accepted and nothing is logged (no audit)";
    lsm_get_self_attr => Full, Some(lsm::sys_lsm_get_self_attr), "dppx", "no module keeps attributes: EOPNOTSUPP after Linux's checks";
    lsm_set_self_attr => Full, Some(lsm::sys_lsm_set_self_attr), "dpux", "no module keeps attributes: EOPNOTSUPP after Linux's checks";
    pkey_mprotect => Full, Some(m::sys_pkey_mprotect), "pxPd", "mprotect for key -1; every key EINVAL without PKU";
    sysfs => Full, Some(misc::sys_sysfs), "dxx", "the types of /proc/filesystems";
    ustat => Full, Some(misc::sys_ustat), "xp", "";
    syslog => Full, Some(misc::sys_syslog), "dpd", "the sandbox's own kernel log (boot lines), with dmesg_restrict set";
    reboot => Full, Some(misc::sys_reboot), "xxxp", "restart, halt and power-off end the sandbox as they end a PID namespace";
    io_setup => Full, Some(aio::sys_io_setup), "up", "";
    io_destroy => Full, Some(aio::sys_io_destroy), "x", "";
    io_submit => Partial, Some(aio::sys_io_submit), "xdp", "requests run in io_submit (as Linux's buffered I/O does); IOCB_CMD_POLL EINVAL (as before Linux 4.18)";
    io_getevents => Full, Some(aio::sys_io_getevents), "xddpp", "";
    io_pgetevents => Full, Some(aio::sys_io_pgetevents), "xddppp", "";
    io_cancel => Full, Some(aio::sys_io_cancel), "xpp", "nothing is in flight after io_submit: EINVAL as for a completed request";
    add_key => Full, Some(ky::sys_add_key), "sspud", "keyring, user, logon and big_key types; others ENODEV as a kernel without them";
    request_key => Partial, Some(ky::sys_request_key), "sssd", "no request-key upcall: a key not found is negated (ENOKEY), as when /sbin/request-key declines";
    keyctl => Partial, Some(ky::sys_keyctl), "dxxxx", "no instantiation authority (INSTANTIATE/NEGATE/REJECT: EPERM), SESSION_TO_PARENT EPERM; persistent keyrings, DH and public-key ops EOPNOTSUPP as unconfigured";
    ptrace => Partial, Some(crate::kernel::ptrace::sys_ptrace), "ddpp", "the sentry's own ptrace: TRACEME/ATTACH/SEIZE/DETACH/CONT/KILL/INTERRUPT/LISTEN, SYSCALL and SYSEMU stops, signal-delivery, group and event stops (fork/vfork/clone/exec/exit/vfork-done/seccomp), regs, FPU, regsets, PEEK/POKE, siginfo, sigmask, GET_SYSCALL_INFO; SINGLESTEP by the trap flag; SYSEMU_SINGLESTEP gives EIO; debug registers read 0 and only take 0; seccomp's RET_TRACE is not rechecked after the tracer's stop; the tracer is a process (any of its threads may act), its tracees are detached when it ends";
    kcmp => Partial, Some(kc::sys_kcmp), "ddduu", "KCMP_IO and KCMP_SYSVSEM report every pair equal (the sandbox has neither object)";
    process_vm_readv => Full, Some(pvm::sys_process_vm_readv), "dpupux", "";
    process_vm_writev => Full, Some(pvm::sys_process_vm_writev), "dpupux", "";
    mq_open => Full, Some(mq::sys_mq_open), "sxop", "";
    mq_unlink => Full, Some(mq::sys_mq_unlink), "s", "";
    mq_timedsend => Full, Some(mq::sys_mq_timedsend), "fpuup", "";
    mq_timedreceive => Full, Some(mq::sys_mq_timedreceive), "fpupp", "";
    mq_notify => Partial, Some(mq::sys_mq_notify), "fp", "a SIGEV_SIGNAL notification still goes to a process that has exec'd since registering";
    mq_getsetattr => Full, Some(mq::sys_mq_getsetattr), "fpp", "";
    close_range => Full, Some(f::sys_close_range), "ffx", "";
    mount => Partial, Some(mt::sys_mount), "ssxxs", "tmpfs, proc, sysfs, devtmpfs, bind, move, remount; propagation types recorded and shown (mountinfo, statmount), mount events not propagated; vfat, msdos, ext2, ext3 and ext4 on the sentry's loop devices; other disk file systems ENODEV";
    umount2 => Full, Some(mt::sys_umount2), "sx", "";
    pivot_root => Partial, Some(mt::sys_pivot_root), "ss", "open directories keep the paths they were opened by";
    fsopen => Partial, Some(mapi::sys_fsopen), "sx", "the types mount(2) takes; parameters checked as each file system does, kept as mount(2)'s data page";
    fsconfig => Partial, Some(mapi::sys_fsconfig), "fdspd", "no file system takes blob, path or fd parameters (EINVAL) but as superblock flags; reconfiguring applies ro/rw to the file system's mounts";
    fsmount => Full, Some(mapi::sys_fsmount), "fxx", "";
    fspick => Full, Some(mapi::sys_fspick), "fsx", "";
    move_mount => Partial, Some(mapi::sys_move_mount), "fsfsx", "MOVE_MOUNT_BENEATH for detached mounts only; no attaching into a detached tree; mount events do not propagate";
    open_tree => Full, Some(mapi::sys_open_tree), "fsx", "";
    open_tree_attr => Full, Some(mapi::sys_open_tree_attr), "fsxpu", "";
    mount_setattr => Partial, Some(mapi::sys_mount_setattr), "fsxpu", "propagation types recorded and shown (mountinfo, statmount), mount events not propagated; MOUNT_ATTR_IDMAP EINVAL (no user namespaces)";
    statmount => Partial, Some(mapi::sys_statmount), "ppux", "no security options, subtypes or id maps";
    listmount => Full, Some(mapi::sys_listmount), "ppux", "";
    chroot => Full, Some(mt::sys_chroot), "s", "";
    name_to_handle_at => Full, Some(mt::sys_name_to_handle_at), "Fspxx", "";
    open_by_handle_at => Partial, Some(mt::sys_open_by_handle_at), "fpO", "handles this sandbox made; the 1,024 latest are remembered, older ones give ESTALE";
    inotify_init => Partial, Some(ino::sys_inotify_init), "", "IN_DELETE_SELF comes when the last link goes, even with the file still open; no IN_UNMOUNT; execve reports no IN_OPEN/IN_ACCESS; a file opened before a rename reports to its old directory; changes made outside the sandbox are not seen";
    inotify_init1 => Partial, Some(ino::sys_inotify_init1), "x", "as inotify_init";
    inotify_add_watch => Full, Some(ino::sys_inotify_add_watch), "fsx", "";
    inotify_rm_watch => Full, Some(ino::sys_inotify_rm_watch), "fd", "";
    fanotify_init => Partial, Some(fan::sys_fanotify_init), "xO", "events as inotify's (see inotify_init); FAN_MARK_EVICTABLE marks go only at a write to /proc/sys/vm/drop_caches; FAN_ACCESS_PERM from read and pread only; no FAN_FS_ERROR, pre-content events or FAN_INFO responses; FAN_UNLIMITED_QUEUE holds at most 2^20 events";
    fanotify_mark => Partial, Some(fan::sys_fanotify_mark), "fxxFs", "as fanotify_init";
};

/// Why a call is not implemented (ENOSYS, logged once): privileged beyond a sandbox, not
/// worth it, or not yet and what it needs.
fn note_for_missing(name: &str) -> &'static str {
    match name {
        "init_module" | "finit_module" => {
            "privileged beyond a sandbox: loads code into the host kernel"
        }
        "delete_module" => "privileged beyond a sandbox: unloads host kernel modules",
        "kexec_load" | "kexec_file_load" => {
            "privileged beyond a sandbox: boots another kernel in place of the host's"
        }
        "swapon" | "swapoff" => {
            "privileged beyond a sandbox: swap belongs to the host's memory management"
        }
        "iopl" | "ioperm" => "privileged beyond a sandbox: the host's hardware I/O ports",
        "bpf" => {
            "privileged beyond a sandbox: loads programs into the host kernel (an eBPF \
             interpreter in the sentry would be a project of its own)"
        }
        "perf_event_open" => {
            "not worth it now: the counters and tracepoints are the host's, and a sandbox \
             must not show them; programs treat ENOSYS as perf being absent"
        }
        "acct" => "not worth it now: BSD process accounting (CAP_SYS_PACCT) to a file, rarely used",
        "quotactl" | "quotactl_fd" => {
            "not worth it now: the sandbox's file systems keep no disk quotas (ext4's quota \
             feature is not served either)"
        }
        "set_thread_area" | "get_thread_area" => {
            "not worth it now: 32-bit TLS segments in the GDT; 64-bit programs use arch_prctl"
        }
        "remap_file_pages" => {
            "not worth it now: deprecated since Linux 3.16 (emulated there with separate \
             mappings); mmap does the same"
        }
        "userfaultfd" => {
            "not yet (issue 14): faults handled by the program need the platform to hand \
             them to the sentry and back"
        }
        "io_uring_setup" | "io_uring_enter" | "io_uring_register" => {
            "not yet (issue 14): rings shared between the program and the sentry; programs \
             fall back to plain calls on ENOSYS (Docker's default profile refuses io_uring \
             too)"
        }
        _ => "not implemented",
    }
}

fn build() -> Vec<Entry> {
    let mut table: Vec<Entry> = SYSNO_NAMES
        .iter()
        .map(|name| Entry {
            name,
            handler: None,
            support: Support::Unimplemented,
            note: note_for_missing(name),
            args: "xxxxxx",
        })
        .collect();
    for (name, support, handler, args, note) in ROWS {
        if let Some(nr) = syscalls::Sysno::from_name(name) {
            table[nr.0 as usize] = Entry {
                name: SYSNO_NAMES[nr.0 as usize],
                handler: *handler,
                support: *support,
                note,
                args,
            };
        }
    }
    debug_assert_eq!(table.len(), SYSNO_COUNT);
    table
}

static TABLE: OnceLock<Vec<Entry>> = OnceLock::new();

/// The whole table, indexed by number (numbers x86_64 lacks have an empty name).
pub fn all() -> &'static [Entry] {
    TABLE.get_or_init(build)
}

/// The entry of a system call number.
pub fn lookup(nr: u32) -> Option<&'static Entry> {
    all().get(nr as usize).filter(|e| !e.name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_a_real_syscall() {
        for (name, support, handler, args, _) in ROWS {
            assert!(
                syscalls::Sysno::from_name(name).is_some(),
                "{name} is not an x86_64 system call"
            );
            assert!(args.len() <= 6, "{name}: more than six arguments");
            assert_eq!(
                handler.is_some(),
                *support != Support::Unimplemented,
                "{name}"
            );
        }
    }

    #[test]
    fn every_missing_call_says_why() {
        for e in all().iter().filter(|e| !e.name.is_empty()) {
            if e.support == Support::Unimplemented {
                assert_ne!(e.note, "not implemented", "{}: say why", e.name);
            }
        }
        let missing = all()
            .iter()
            .filter(|e| !e.name.is_empty() && e.support == Support::Unimplemented)
            .count();
        assert!(
            missing <= 40,
            "{missing} calls unimplemented (issue 14: at most 40)"
        );
    }

    #[test]
    fn table_covers_every_number() {
        let t = all();
        assert_eq!(t.len(), SYSNO_COUNT);
        assert_eq!(lookup(0).map(|e| e.name), Some("read"));
        assert_eq!(lookup(231).map(|e| e.support), Some(Support::Full));
        assert!(lookup(335).is_none()); // a hole in the x86_64 numbering
        assert_eq!(lookup(101).map(|e| e.support), Some(Support::Partial));
    }
}
