// SPDX-License-Identifier: Apache-2.0
//! Processes, threads and their waits: clone(2) flags, wait4(2)/waitid(2) options, futex(2)
//! operations, prctl(2) options, scheduling policies and priorities, timers' notification
//! kinds, signal stacks, siginfo codes and capability versions (include/uapi/linux/sched.h,
//! wait.h, futex.h, prctl.h, time.h, signal.h, capability.h, membarrier.h, rseq.h).
//!
//! The types are those the sentry reads the arguments as: clone flags and prctl options are
//! 64-bit registers, the rest 32-bit values.
#![allow(missing_docs)] // The names are the kernel's; see the man pages.

// ---- clone(2), clone3(2), unshare(2) ----
/// The exit signal in clone(2)'s low byte.
pub const CSIGNAL: u64 = 0xff;
/// Share the address space.
pub const CLONE_VM: u64 = 0x100;
/// Share the root, working directory and umask.
pub const CLONE_FS: u64 = 0x200;
/// Share the descriptor table.
pub const CLONE_FILES: u64 = 0x400;
/// Share signal handlers.
pub const CLONE_SIGHAND: u64 = 0x800;
/// Return a pidfd for the child.
pub const CLONE_PIDFD: u64 = 0x1000;
/// Trace the child if the parent is traced.
pub const CLONE_PTRACE: u64 = 0x2000;
/// Suspend the parent until the child execs or exits.
pub const CLONE_VFORK: u64 = 0x4000;
/// The child's parent is the caller's parent.
pub const CLONE_PARENT: u64 = 0x8000;
/// A thread of the caller's thread group.
pub const CLONE_THREAD: u64 = 0x10000;
/// A new mount namespace.
pub const CLONE_NEWNS: u64 = 0x20000;
/// Share System V semaphore undo lists.
pub const CLONE_SYSVSEM: u64 = 0x40000;
/// Set the child's TLS.
pub const CLONE_SETTLS: u64 = 0x80000;
/// Store the child's tid in the parent's memory.
pub const CLONE_PARENT_SETTID: u64 = 0x10_0000;
/// Clear (and futex-wake) the child's tid word when it exits.
pub const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
/// Ignored (historical).
pub const CLONE_DETACHED: u64 = 0x40_0000;
/// A tracer cannot force CLONE_PTRACE.
pub const CLONE_UNTRACED: u64 = 0x80_0000;
/// Store the child's tid in the child's memory.
pub const CLONE_CHILD_SETTID: u64 = 0x100_0000;
/// A new cgroup namespace.
pub const CLONE_NEWCGROUP: u64 = 0x200_0000;
/// A new UTS namespace.
pub const CLONE_NEWUTS: u64 = 0x400_0000;
/// A new IPC namespace.
pub const CLONE_NEWIPC: u64 = 0x800_0000;
/// A new user namespace.
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
/// A new PID namespace.
pub const CLONE_NEWPID: u64 = 0x2000_0000;
/// A new network namespace.
pub const CLONE_NEWNET: u64 = 0x4000_0000;
/// Share the I/O context.
pub const CLONE_IO: u64 = 0x8000_0000;
/// Reset the child's handled signals to their defaults (clone3).
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// Start the child in another cgroup (clone3).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// A new time namespace (unshare, clone3).
pub const CLONE_NEWTIME: u64 = 0x80;
/// ioctl on a namespace file: its type, as a CLONE_NEW* flag (_IO(0xb7, 3)).
pub const NS_GET_NSTYPE: u64 = 0xb703;

// ---- wait4(2), waitid(2) ----
/// Return at once when no child has changed state.
pub const WNOHANG: u32 = 1;
/// Report stopped children too (wait4).
pub const WUNTRACED: u32 = 2;
/// waitid: report children that stopped.
pub const WSTOPPED: u32 = 2;
/// waitid: report children that exited.
pub const WEXITED: u32 = 4;
/// Report children continued by SIGCONT.
pub const WCONTINUED: u32 = 8;
/// waitid: leave the child waitable.
pub const WNOWAIT: u32 = 0x0100_0000;
/// `__WNOTHREAD`: only the caller's own children, not its thread group's.
pub const WNOTHREAD: u32 = 0x2000_0000;
/// `__WALL`: clone children and others alike.
pub const WALL: u32 = 0x4000_0000;
/// `__WCLONE`: only children whose exit signal is not SIGCHLD.
pub const WCLONE: u32 = 0x8000_0000;
/// waitid: any child.
pub const P_ALL: u32 = 0;
/// waitid: the child with this pid.
pub const P_PID: u32 = 1;
/// waitid: children in this process group.
pub const P_PGID: u32 = 2;
/// waitid: the child this pidfd refers to.
pub const P_PIDFD: u32 = 3;

// ---- futex(2) ----
/// Wait while the word holds the expected value.
pub const FUTEX_WAIT: u32 = 0;
/// Wake waiters.
pub const FUTEX_WAKE: u32 = 1;
/// Wake some waiters and move the others to another word.
pub const FUTEX_REQUEUE: u32 = 3;
/// FUTEX_REQUEUE if the word still holds a value.
pub const FUTEX_CMP_REQUEUE: u32 = 4;
/// Operate on a second word and wake on both.
pub const FUTEX_WAKE_OP: u32 = 5;
/// Take a priority-inheritance lock.
pub const FUTEX_LOCK_PI: u32 = 6;
/// Release a priority-inheritance lock.
pub const FUTEX_UNLOCK_PI: u32 = 7;
/// Try a priority-inheritance lock.
pub const FUTEX_TRYLOCK_PI: u32 = 8;
/// FUTEX_WAIT with a bitset and an absolute timeout.
pub const FUTEX_WAIT_BITSET: u32 = 9;
/// FUTEX_WAKE with a bitset.
pub const FUTEX_WAKE_BITSET: u32 = 10;
/// FUTEX_LOCK_PI with a choice of clock.
pub const FUTEX_LOCK_PI2: u32 = 13;
/// The futex is private to the process.
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
/// The timeout is measured on CLOCK_REALTIME.
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
/// A bitset matching every waiter.
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;
/// A PI or robust futex word: somebody waits.
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
/// A PI or robust futex word: the owner died holding it.
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// A PI or robust futex word: the owner's tid.
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

// ---- futex2: futex_waitv(2), futex_wake(2), futex_wait(2), futex_requeue(2) ----
/// The size field of futex2 flags: 8, 16, 32 or 64 bits (Linux implements 32 only).
pub const FUTEX2_SIZE_MASK: u32 = 0x03;
/// A 32-bit futex.
pub const FUTEX2_SIZE_U32: u32 = 0x02;
/// A NUMA futex: the word is followed by a node number of the same size.
pub const FUTEX2_NUMA: u32 = 0x04;
/// Place the futex by the memory policy of the address (with FUTEX2_NUMA's node -1).
pub const FUTEX2_MPOL: u32 = 0x08;
/// The futex is private to the process (FUTEX_PRIVATE_FLAG).
pub const FUTEX2_PRIVATE: u32 = 128;
/// Every valid futex2 flag.
pub const FUTEX2_VALID_MASK: u32 = FUTEX2_SIZE_MASK | FUTEX2_NUMA | FUTEX2_MPOL | FUTEX2_PRIVATE;
/// The most futexes one futex_waitv waits on.
pub const FUTEX_WAITV_MAX: u32 = 128;
/// A NUMA futex's node word: no node chosen yet.
pub const FUTEX_NO_NODE: u32 = u32::MAX;

/// One futex of futex_waitv(2) and futex_requeue(2).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FutexWaitv {
    /// The expected value.
    pub val: u64,
    /// The futex word's address.
    pub uaddr: u64,
    /// FUTEX2_* flags.
    pub flags: u32,
    /// Must be 0.
    pub reserved: u32,
}

// ---- NUMA memory policies: set_mempolicy(2), get_mempolicy(2), mbind(2) ----
pub const MPOL_DEFAULT: u32 = 0;
pub const MPOL_PREFERRED: u32 = 1;
pub const MPOL_BIND: u32 = 2;
pub const MPOL_INTERLEAVE: u32 = 3;
pub const MPOL_LOCAL: u32 = 4;
pub const MPOL_PREFERRED_MANY: u32 = 5;
pub const MPOL_WEIGHTED_INTERLEAVE: u32 = 6;
/// One past the last mode.
pub const MPOL_MAX: u32 = 7;
pub const MPOL_F_STATIC_NODES: u32 = 1 << 15;
pub const MPOL_F_RELATIVE_NODES: u32 = 1 << 14;
pub const MPOL_F_NUMA_BALANCING: u32 = 1 << 13;
/// The mode flags a mode may carry.
pub const MPOL_MODE_FLAGS: u32 =
    MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;
/// get_mempolicy: the node (of the address, or the next interleave node).
pub const MPOL_F_NODE: u64 = 1;
/// get_mempolicy: the policy of the address's mapping.
pub const MPOL_F_ADDR: u64 = 2;
/// get_mempolicy: the nodes the caller may use.
pub const MPOL_F_MEMS_ALLOWED: u64 = 4;
/// mbind: verify that the pages follow the policy.
pub const MPOL_MF_STRICT: u32 = 1;
/// mbind, move_pages: move the caller's pages.
pub const MPOL_MF_MOVE: u32 = 2;
/// mbind, move_pages: move pages shared with others too (CAP_SYS_NICE).
pub const MPOL_MF_MOVE_ALL: u32 = 4;
/// The mbind flags a caller may give.
pub const MPOL_MF_VALID: u32 = MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL;

/// Most entries of a robust list walked at exit.
pub const ROBUST_LIST_LIMIT: usize = 2048;

// ---- prctl(2) ----
pub const PR_SET_PDEATHSIG: u64 = 1;
pub const PR_GET_PDEATHSIG: u64 = 2;
pub const PR_GET_DUMPABLE: u64 = 3;
pub const PR_SET_DUMPABLE: u64 = 4;
pub const PR_GET_KEEPCAPS: u64 = 7;
pub const PR_SET_KEEPCAPS: u64 = 8;
pub const PR_GET_TIMING: u64 = 13;
pub const PR_SET_NAME: u64 = 15;
pub const PR_GET_NAME: u64 = 16;
pub const PR_GET_SECCOMP: u64 = 21;
pub const PR_SET_SECCOMP: u64 = 22;
pub const PR_CAPBSET_READ: u64 = 23;
pub const PR_CAPBSET_DROP: u64 = 24;
pub const PR_GET_SECUREBITS: u64 = 27;
pub const PR_SET_SECUREBITS: u64 = 28;
/// securebits: keep capabilities across a uid change (PR_SET_KEEPCAPS).
pub const SECBIT_KEEP_CAPS: u64 = 1 << 4;
/// securebits: root gets no capabilities from execve.
pub const SECBIT_NOROOT: u64 = 1 << 0;
/// securebits: uid changes leave the capabilities alone.
pub const SECBIT_NO_SETUID_FIXUP: u64 = 1 << 2;
/// securebits: PR_CAP_AMBIENT_RAISE is refused.
pub const SECBIT_NO_CAP_AMBIENT_RAISE: u64 = 1 << 6;
/// securebits: every bit Linux 6.18 defines (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS,
/// NO_CAP_AMBIENT_RAISE, EXEC_RESTRICT_FILE, EXEC_DENY_INTERACTIVE)...
pub const SECURE_ALL_BITS: u64 = 0x555;
/// ...and their locks (each the bit above its own).
pub const SECURE_ALL_LOCKS: u64 = SECURE_ALL_BITS << 1;
pub const PR_SET_TIMERSLACK: u64 = 29;
pub const PR_GET_TIMERSLACK: u64 = 30;
pub const PR_SET_CHILD_SUBREAPER: u64 = 36;
pub const PR_GET_CHILD_SUBREAPER: u64 = 37;
pub const PR_SET_NO_NEW_PRIVS: u64 = 38;
pub const PR_GET_NO_NEW_PRIVS: u64 = 39;
pub const PR_GET_TID_ADDRESS: u64 = 40;
pub const PR_SET_THP_DISABLE: u64 = 41;
pub const PR_GET_THP_DISABLE: u64 = 42;
pub const PR_CAP_AMBIENT: u64 = 47;
/// PR_CAP_AMBIENT's operations.
pub const PR_CAP_AMBIENT_IS_SET: u64 = 1;
pub const PR_CAP_AMBIENT_RAISE: u64 = 2;
pub const PR_CAP_AMBIENT_LOWER: u64 = 3;
pub const PR_CAP_AMBIENT_CLEAR_ALL: u64 = 4;
/// CAP_SETPCAP: change the bounding and inheritable sets.
pub const CAP_SETPCAP: u32 = 8;
/// PR_SET_VMA ("SVMA").
pub const PR_SET_VMA: u64 = 0x5356_4d41;
/// rseq(2): unregister.
pub const RSEQ_FLAG_UNREGISTER: u64 = 1;

// ---- scheduling ----
pub const SCHED_OTHER: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
pub const SCHED_IDLE: u32 = 5;
pub const SCHED_DEADLINE: u32 = 6;
/// Or-ed into a policy: children start with SCHED_OTHER.
pub const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;
/// getpriority(2)/setpriority(2): `who` is a process.
pub const PRIO_PROCESS: u32 = 0;
/// `who` is a process group.
pub const PRIO_PGRP: u32 = 1;
/// `who` is a user.
pub const PRIO_USER: u32 = 2;
pub const MEMBARRIER_CMD_QUERY: u32 = 0;
pub const MEMBARRIER_CMD_GLOBAL: u32 = 1;
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED: u32 = 8;
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: u32 = 16;
pub const MEMBARRIER_CMD_GLOBAL_EXPEDITED: u32 = 2;
pub const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: u32 = 4;
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 32;
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 64;
pub const MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: u32 = 128;
pub const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ: u32 = 256;
pub const MEMBARRIER_CMD_GET_REGISTRATIONS: u32 = 512;
/// membarrier(2)'s flag of PRIVATE_EXPEDITED_RSEQ: one CPU only.
pub const MEMBARRIER_CMD_FLAG_CPU: u32 = 1;

// ---- timers ----
pub const ITIMER_REAL: i32 = 0;
pub const ITIMER_VIRTUAL: i32 = 1;
pub const ITIMER_PROF: i32 = 2;
pub const SIGEV_SIGNAL: i32 = 0;
pub const SIGEV_NONE: i32 = 1;
pub const SIGEV_THREAD: i32 = 2;
pub const SIGEV_THREAD_ID: i32 = 4;

// ---- signal stacks and siginfo codes ----
pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;
/// The smallest alternate signal stack sigaltstack(2) accepts.
pub const MINSIGSTKSZ: u64 = 2048;
/// si_code: sent by tkill/tgkill.
pub const SI_TKILL: i32 = -6;
/// si_code: sent by a POSIX timer.
pub const SI_TIMER: i32 = -2;
/// si_code: sent by sigqueue.
pub const SI_QUEUE: i32 = -1;
/// si_code of SIGCHLD: the child exited.
pub const CLD_EXITED: i32 = 1;
/// The child was killed.
pub const CLD_KILLED: i32 = 2;
/// The child was killed and dumped core.
pub const CLD_DUMPED: i32 = 3;
/// The child stopped.
pub const CLD_STOPPED: i32 = 5;
/// The child continued.
pub const CLD_CONTINUED: i32 = 6;

// ---- credentials ----
pub const LINUX_CAPABILITY_VERSION_1: u32 = 0x1998_0330;
pub const LINUX_CAPABILITY_VERSION_2: u32 = 0x2007_1026;
pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// CAP_DAC_OVERRIDE.
pub const CAP_DAC_OVERRIDE: u32 = 1;
/// CAP_SYS_NICE (real-time policies, lowering nice).
pub const CAP_SYS_NICE: u32 = 23;
/// CAP_CHOWN.
pub const CAP_CHOWN: u32 = 0;
/// CAP_FOWNER.
pub const CAP_FOWNER: u32 = 3;
/// CAP_FSETID.
pub const CAP_FSETID: u32 = 4;
/// CAP_KILL (signal any process).
pub const CAP_KILL: u32 = 5;
/// CAP_SETGID (arbitrary gid and group list changes).
pub const CAP_SETGID: u32 = 6;
/// CAP_LINUX_IMMUTABLE.
pub const CAP_LINUX_IMMUTABLE: u32 = 9;
/// CAP_MKNOD.
pub const CAP_MKNOD: u32 = 27;
/// CAP_SETFCAP (set file capabilities).
pub const CAP_SETFCAP: u32 = 31;
/// CAP_MAC_OVERRIDE.
pub const CAP_MAC_OVERRIDE: u32 = 32;
/// CAP_SETUID (arbitrary uid changes).
pub const CAP_SETUID: u32 = 7;
/// CAP_SYS_PTRACE (trace any process; a traced exec may gain privileges).
pub const CAP_SYS_PTRACE: u32 = 19;
/// CAP_SYS_TIME (setting the clock: the sandbox's own).
pub const CAP_SYS_TIME: u32 = 25;
/// The highest capability number.
pub const CAP_LAST_CAP: u32 = 40;
/// Most supplementary groups.
pub const NGROUPS_MAX: u64 = 65536;

// ---- small flag sets of single calls ----
/// eventfd2(2): read returns 1 and decrements.
pub const EFD_SEMAPHORE: u32 = 1;
/// close_range(2): unshare the table first.
pub const CLOSE_RANGE_UNSHARE: u64 = 2;
/// close_range(2): set close-on-exec instead of closing.
pub const CLOSE_RANGE_CLOEXEC: u64 = 4;
/// mlock2(2): lock pages as they fault in.
pub const MLOCK_ONFAULT: u64 = 1;
/// mlockall(2): the current pages.
pub const MCL_CURRENT: u64 = 1;
/// mlockall(2): future pages.
pub const MCL_FUTURE: u64 = 2;
/// mlockall(2): as they fault in.
pub const MCL_ONFAULT: u64 = 4;
