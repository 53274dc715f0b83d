// SPDX-License-Identifier: Apache-2.0
//! Tasks, the kernel object that owns them, credentials and limits.
//!
//! A [`Task`] is one application thread driven by one sentry thread (its tracer, for the ptrace
//! platform). State that Linux shares between threads and processes by clone flags (memory, fd
//! table, fs context, signal handlers, limits) sits behind `Arc<Mutex<_>>` so the processes
//! issue can share or copy it as the flags say.

pub mod block;
pub mod clock;
mod exec;
pub mod exec_creds;
mod exit;
mod fork;
pub mod futex;
pub mod keys;
pub mod landlock;
pub mod ptrace;
mod run;
pub mod seccomp;
pub mod signal;
mod signal_deliver;
pub mod timens;
pub mod timer;
pub mod tree;
pub mod usage;
mod wait;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use syscalls::abi::*;
use syscalls::Errno;

pub use self::exec::{exec, load_initial, read_string_array};
pub use self::exit::{discard_unstarted, exit_group, init_exit_status};
pub use self::fork::flags as fork_flags;
pub use self::fork::{clone_task, spawn, CloneArgs};
pub use self::run::{run, signal_name};
pub use self::signal_deliver::{
    kill_group, send_process_signal, send_thread_signal, sigreturn, try_send_process_signal,
    try_send_thread_signal, SendTarget,
};
use self::tree::{ProcTree, TaskShared};
pub use self::wait::{do_wait, WaitOptions, WaitTarget};
use crate::mm::MemoryManager;
use crate::platform::{Context, Platform, Registers};
use crate::vfs::mount::MountNs;
use crate::vfs::path::{self, Mounts, Resolved};
use crate::vfs::{FdTable, File};

/// Device number of pipes (pipefs).
pub const PIPEFS_DEV: u64 = 0xc;
/// Device number of /dev.
pub const DEVFS_DEV: u64 = 0x5;
/// Device number of the empty /proc and /sys.
pub const EMPTYFS_DEV: u64 = 0x15;

/// How a task (or the whole sandbox) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit(2) with this status.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// The status a shell would report: the code, or 128+N for signal N.
    pub fn shell_status(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

/// Where a new process comes from ([`Task::new_process`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The program the sandbox was started for: its end is the sandbox's.
    Main,
    /// Started from outside while the sandbox runs (OCI `exec`).
    Detached,
}

/// The sandbox's system-wide state.
pub struct Kernel {
    /// How application code runs.
    pub platform: Box<dyn Platform>,
    /// The first mount namespace (every process's until one unshares CLONE_NEWNS).
    pub mnt: Arc<MountNs>,
    /// Print every system call (`--strace`).
    pub strace: bool,
    /// uname(2)'s answer; sethostname and setdomainname change the sandbox's copy only.
    pub uts: Mutex<Utsname>,
    /// When the sandbox started (CLOCK_BOOTTIME-ish for sysinfo).
    pub boot: Instant,
    /// The futex wait queues.
    pub futexes: futex::FutexTable,
    /// The process table.
    pub tree: Mutex<ProcTree>,
    /// How PID 1 ended, once it has: the sandbox's exit status.
    pub init_exit: Mutex<Option<ExitStatus>>,
    /// Notified when PID 1 ends.
    pub init_cond: Condvar,
    /// /proc/sys/kernel/random/boot_id.
    pub boot_id: [u8; 16],
    /// Timers (alarm, itimers, POSIX timers).
    pub timers: timer::Timers,
    /// Each session's controlling terminal (a pty of the sentry's), by session id.
    pub ttys: Mutex<std::collections::BTreeMap<i32, Arc<crate::fsimpl::tty::Terminal>>>,
    /// The host terminal's foreground process group and session (host stdio passed as is).
    fg_pgrp: Mutex<Option<i32>>,
    tty_sid: Mutex<Option<i32>>,
    /// The pid of the sentry's own init, or 0 without `--init`.
    pub virtual_init: std::sync::atomic::AtomicI32,
    /// The nice value of the sentry's own init (it has no task to keep one).
    pub virtual_init_nice: std::sync::atomic::AtomicI32,
    /// The process whose end is the sandbox's end: PID 1, or with `--init` the program the
    /// sentry's own init started (PID 2).
    pub main_pid: std::sync::atomic::AtomicI32,
    /// PID 1 is a pid namespace's init as Linux protects it (an OCI container with a pid
    /// namespace, as runc gives it): signals from inside the sandbox whose action would be the
    /// default are dropped, and from outside only SIGKILL and SIGSTOP get through. Off for
    /// `sandbox run`, whose program behaves as it would natively (Ctrl-C ends it).
    pub init_protected: std::sync::atomic::AtomicBool,
    /// Processes started from outside the sandbox (an OCI runtime's `exec`), which have no
    /// parent in it: their exit status once they end, until the starter collects it.
    pub detached: Mutex<std::collections::HashMap<i32, Option<ExitStatus>>>,
    /// Notified when a detached process ends.
    pub detached_cond: Condvar,
    /// The whole sandbox is frozen (an OCI `pause`): no task runs application code until it
    /// is thawed; notified on thawing.
    frozen: std::sync::atomic::AtomicBool,
    freeze_lock: Mutex<()>,
    thawed: Condvar,
    next_ino: AtomicU64,
    unimplemented_seen: Mutex<HashSet<u32>>,
}

/// A utsname field from a string (cut at 64 bytes, NUL-padded).
pub fn uts_field(s: &str) -> [u8; 65] {
    let mut f = [0u8; 65];
    let b = s.as_bytes();
    let n = b.len().min(64);
    f[..n].copy_from_slice(&b[..n]);
    f
}

impl Kernel {
    /// uname(2)'s answer now.
    pub fn uts(&self) -> Utsname {
        *lock(&self.uts)
    }

    /// Waits for the detached process `pid` (see [`Task::new_process`]) to end and forgets
    /// it: its status, or None if it is not one (or was collected already).
    pub fn wait_detached(&self, pid: i32) -> Option<ExitStatus> {
        let mut d = lock(&self.detached);
        loop {
            match d.get(&pid) {
                None => return None,
                Some(Some(status)) => {
                    let status = *status;
                    d.remove(&pid);
                    return Some(status);
                }
                Some(None) => {
                    d = self
                        .detached_cond
                        .wait(d)
                        .unwrap_or_else(|e| e.into_inner())
                }
            }
        }
    }

    /// Freezes (`true`) or thaws the whole sandbox, as the cgroup freezer does a container
    /// (OCI `pause` and `resume`): a frozen task does not go back to application code (one
    /// running it is interrupted); a task waiting in the sentry finishes its wait and stops
    /// before it returns. The program sees nothing but time passing: no signal, no stop in
    /// wait(2).
    pub fn set_frozen(&self, frozen: bool) {
        {
            let _g = lock(&self.freeze_lock);
            self.frozen
                .store(frozen, std::sync::atomic::Ordering::Release);
        }
        if frozen {
            let interrupters: Vec<_> = lock(&self.tree)
                .threads
                .values()
                .filter_map(|t| lock(&t.interrupter).clone())
                .collect();
            for i in interrupters {
                i.interrupt();
            }
        } else {
            self.thawed.notify_all();
        }
    }

    /// Whether the sandbox is frozen.
    pub fn frozen(&self) -> bool {
        self.frozen.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Blocks the calling task's thread while the sandbox is frozen, unless `leave` says the
    /// task must end (a kill goes through a freeze, as SIGKILL through the freezer). One
    /// atomic load when it is not (every trip back to application code passes here).
    pub(crate) fn wait_thawed(&self, leave: impl Fn() -> bool) {
        if !self.frozen() {
            return;
        }
        let mut g = lock(&self.freeze_lock);
        while self.frozen() && !leave() {
            g = self
                .thawed
                .wait_timeout(g, std::time::Duration::from_millis(50))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Sets the host name (`domain`: the NIS domain name) to `name` (at most 64 bytes).
    pub fn set_uts_name(&self, name: &[u8], domain: bool) {
        let mut f = [0u8; 65];
        let n = name.len().min(64);
        f[..n].copy_from_slice(&name[..n]);
        let mut u = lock(&self.uts);
        if domain {
            u.domainname = f;
        } else {
            u.nodename = f;
        }
    }

    /// A kernel over `platform` with the given root file system and `/dev`, `/proc`, `/sys`.
    pub fn new(platform: Box<dyn Platform>, mounts: Mounts, strace: bool) -> Arc<Kernel> {
        let host = nix::sys::utsname::uname().ok();
        let release = host
            .as_ref()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let version = host
            .as_ref()
            .map(|u| u.version().to_string_lossy().into_owned())
            .unwrap_or_default();
        // Synthetic files are dated from now.
        crate::vfs::inode::boot_time();
        let k = Arc::new(Kernel {
            platform,
            mnt: MountNs::new(mounts),
            strace,
            uts: Mutex::new(Utsname {
                sysname: uts_field("Linux"),
                nodename: uts_field("sandbox"),
                release: uts_field(&release),
                version: uts_field(&version),
                machine: uts_field("x86_64"),
                domainname: uts_field("(none)"),
            }),
            boot: Instant::now(),
            futexes: futex::FutexTable::default(),
            tree: Mutex::new(ProcTree::default()),
            init_exit: Mutex::new(None),
            init_cond: Condvar::new(),
            detached: Mutex::new(std::collections::HashMap::new()),
            detached_cond: Condvar::new(),
            frozen: std::sync::atomic::AtomicBool::new(false),
            freeze_lock: Mutex::new(()),
            thawed: Condvar::new(),
            main_pid: std::sync::atomic::AtomicI32::new(1),
            virtual_init: std::sync::atomic::AtomicI32::new(0),
            virtual_init_nice: std::sync::atomic::AtomicI32::new(0),
            init_protected: std::sync::atomic::AtomicBool::new(false),
            timers: timer::Timers::default(),
            boot_id: {
                let mut b = [0u8; 16];
                let _ = crate::fsimpl::dev::fill_random(&mut b);
                b
            },
            ttys: Mutex::new(Default::default()),
            fg_pgrp: Mutex::new(None),
            tty_sid: Mutex::new(None),
            next_ino: AtomicU64::new(1000),
            unimplemented_seen: Mutex::new(HashSet::new()),
        });
        timer::start(&k);
        k
    }

    /// The terminal's foreground process group (the first asker's, until a TIOCSPGRP).
    pub fn foreground_pgrp(&self, default: i32) -> i32 {
        *lock(&self.fg_pgrp).get_or_insert(default)
    }

    /// TIOCSPGRP.
    pub fn set_foreground_pgrp(&self, pgrp: i32) {
        *lock(&self.fg_pgrp) = Some(pgrp);
    }

    /// The terminal's session (the first asker's).
    pub fn tty_session(&self, default: i32) -> i32 {
        *lock(&self.tty_sid).get_or_insert(default)
    }

    /// A fresh inode number for synthetic objects (pipes).
    pub fn new_ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether this is the first time system call `nr` was found unimplemented.
    pub fn first_unimplemented(&self, nr: u32) -> bool {
        self.unimplemented_seen
            .lock()
            .map(|mut s| s.insert(nr))
            .unwrap_or(false)
    }

    /// Resolves a path from directory `start` in the first mount namespace.
    pub fn resolve(&self, start: &str, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
        path::resolve(&self.mnt.read(), start, path, follow)
    }
}

/// Credentials (virtual: what the application sees and what permission checks use).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Real, effective, saved user ids.
    pub uid: (u32, u32, u32),
    /// Real, effective, saved group ids.
    pub gid: (u32, u32, u32),
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// The uid file permission checks use (follows the effective uid).
    pub fsuid: u32,
    /// The gid file permission checks use.
    pub fsgid: u32,
    /// Effective capabilities (bit N is capability N).
    pub caps: u64,
    /// Permitted capabilities.
    pub caps_permitted: u64,
    /// The capability bounding set (PR_CAPBSET_READ/DROP, /proc status CapBnd): what the
    /// sandbox was started with; a process may only narrow it.
    pub caps_bounding: u64,
    /// The inheritable set (capget/capset, CapInh).
    pub caps_inheritable: u64,
    /// The ambient set (PR_CAP_AMBIENT, CapAmb): always within permitted and inheritable.
    pub caps_ambient: u64,
    /// The thread, process and session keyrings (keyrings(7)).
    pub keys: keys::TaskKeys,
    /// The Landlock domain (landlock_restrict_self(2)): inherited by fork and clone, kept
    /// across execve.
    pub landlock: Option<Arc<landlock::Domain>>,
    /// The securebits (PR_SET_SECUREBITS, PR_SET_KEEPCAPS): inherited by fork; execve
    /// clears SECBIT_KEEP_CAPS.
    pub securebits: u64,
}

/// Every capability Linux defines (0..=CAP_LAST_CAP), as a mask.
pub const CAP_ALL: u64 = (1 << (syscalls::abi::CAP_LAST_CAP + 1)) - 1;

impl Credentials {
    /// Credentials for (uid, gid) with `groups`: root has every capability.
    pub fn new(uid: u32, gid: u32, groups: Vec<u32>) -> Credentials {
        let caps = if uid == 0 { CAP_ALL } else { 0 };
        Credentials {
            uid: (uid, uid, uid),
            gid: (gid, gid, gid),
            groups,
            fsuid: uid,
            fsgid: gid,
            caps,
            caps_permitted: caps,
            caps_bounding: CAP_ALL,
            caps_inheritable: 0,
            caps_ambient: 0,
            keys: keys::TaskKeys::default(),
            landlock: None,
            securebits: 0,
        }
    }

    /// Recomputes capabilities after the uids changed from `old` (Linux's
    /// cap_emulate_setxuid): leaving uid 0 everywhere clears the ambient set, and the
    /// permitted and effective ones unless SECBIT_KEEP_CAPS; an effective uid leaving 0
    /// clears the effective set, one becoming 0 makes the permitted set effective. Nothing
    /// changes under SECBIT_NO_SETUID_FIXUP.
    pub fn fix_setuid(&mut self, old: (u32, u32, u32)) {
        use syscalls::abi::{SECBIT_KEEP_CAPS, SECBIT_NO_SETUID_FIXUP};
        if self.securebits & SECBIT_NO_SETUID_FIXUP != 0 {
            return;
        }
        let keep_caps = self.securebits & SECBIT_KEEP_CAPS != 0;
        let (r, e, s) = self.uid;
        if (old.0 == 0 || old.1 == 0 || old.2 == 0) && r != 0 && e != 0 && s != 0 {
            if !keep_caps {
                self.caps_permitted = 0;
                self.caps = 0;
            }
            self.caps_ambient = 0;
        }
        if old.1 == 0 && e != 0 {
            self.caps = 0;
        }
        if old.1 != 0 && e == 0 {
            self.caps = self.caps_permitted;
        }
    }

    /// Recomputes the file-system capabilities after the fsuid changed from `old` (Linux's
    /// cap_task_fix_setuid for setfsuid): leaving 0 drops them from the effective set, becoming
    /// 0 raises the permitted ones.
    pub fn fix_setfsuid(&mut self, old: u32) {
        use syscalls::abi::*;
        const FS_SET: u64 = 1 << CAP_CHOWN
            | 1 << CAP_DAC_OVERRIDE
            | 1 << CAP_DAC_READ_SEARCH
            | 1 << CAP_FOWNER
            | 1 << CAP_FSETID
            | 1 << CAP_LINUX_IMMUTABLE
            | 1 << CAP_MKNOD
            | 1 << CAP_MAC_OVERRIDE;
        if self.securebits & SECBIT_NO_SETUID_FIXUP != 0 {
            return;
        }
        if old == 0 && self.fsuid != 0 {
            self.caps &= !FS_SET;
        }
        if old != 0 && self.fsuid == 0 {
            self.caps |= self.caps_permitted & FS_SET;
        }
    }

    /// [`Credentials::may`] for a file whose inode is at hand: its POSIX ACL, if it has one,
    /// decides for callers other than its owner ([`crate::vfs::acl::may`]).
    pub fn may_file(&self, inode: &dyn crate::vfs::Inode, st: &Stat, want: u32) -> bool {
        crate::vfs::acl::may(self, inode, st, want)
    }

    /// Whether `mode` bits of a file owned by (uid, gid) with mode `fmode` allow `want` (R_OK,
    /// W_OK, X_OK bits) to the effective ids, with root's overrides.
    pub fn may(&self, fmode: u32, uid: u32, gid: u32, want: u32) -> bool {
        let euid = self.fsuid;
        if self.caps & (1 << syscalls::abi::CAP_DAC_OVERRIDE) != 0 {
            // CAP_DAC_OVERRIDE: all but execute of a file with no execute bit at all.
            let is_dir = fmode & S_IFMT == S_IFDIR;
            return want & X_OK == 0 || is_dir || fmode & 0o111 != 0;
        }
        let bits = if euid == uid {
            (fmode >> 6) & 7
        } else if self.fsgid == gid || self.groups.contains(&gid) {
            (fmode >> 3) & 7
        } else {
            fmode & 7
        };
        bits & want == want
    }
}

/// Per-process file system context: root and working directory, umask, and the mount
/// namespace (kept here rather than in a separate nsproxy: unsharing CLONE_NEWNS unshares
/// CLONE_FS too, as on Linux).
#[derive(Clone)]
pub struct FsContext {
    /// The working directory, an absolute resolved path in the mount namespace.
    pub cwd: String,
    /// The working directory itself, once chdir set it (see [`path::Anchor`]).
    pub cwd_anchor: Option<path::Anchor>,
    /// The root directory (chroot(2)), an absolute resolved path; `/` normally.
    pub root: String,
    /// The file mode creation mask.
    pub umask: u32,
    /// The mount namespace.
    pub mnt: Arc<MountNs>,
}

impl FsContext {
    /// A context with `cwd` in namespace `mnt`, at the namespace's root.
    pub fn new(cwd: String, umask: u32, mnt: Arc<MountNs>) -> FsContext {
        FsContext {
            cwd,
            cwd_anchor: None,
            root: "/".into(),
            umask,
            mnt,
        }
    }

    /// `path` (absolute in the namespace) as this context sees it: relative to its root, or
    /// `None` when the path lies outside the root.
    pub fn visible(&self, path: &str) -> Option<String> {
        if self.root == "/" {
            return Some(path.to_string());
        }
        if path == self.root {
            return Some("/".into());
        }
        path.strip_prefix(self.root.as_str())
            .filter(|rest| rest.starts_with('/'))
            .map(str::to_string)
    }
}

/// Signal dispositions (shared by CLONE_SIGHAND); delivery comes with the signals issue.
#[derive(Clone)]
pub struct SigHand {
    /// Actions, indexed by signal number - 1.
    pub actions: [KernelSigaction; 64],
}

impl Default for SigHand {
    fn default() -> Self {
        SigHand {
            actions: [KernelSigaction::default(); 64],
        }
    }
}

/// Locks a mutex, going on if a panicking thread poisoned it (the data stays consistent: every
/// critical section here leaves it so).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What other threads (procfs) may read of a task: handles to its shared state and copies of
/// the rest, refreshed by [`Task::publish`].
#[derive(Clone)]
pub struct TaskInfo {
    /// Its address space (weak: an exited task's memory and files must go at once).
    pub mm: std::sync::Weak<Mutex<MemoryManager>>,
    /// Its fd table.
    pub fds: std::sync::Weak<Mutex<FdTable>>,
    /// Its cwd and umask.
    pub fs: std::sync::Weak<Mutex<FsContext>>,
    /// Its limits.
    pub limits: Arc<Mutex<[Rlimit; RLIM_NLIMITS as usize]>>,
    /// Its name.
    pub comm: [u8; 16],
    /// Its credentials.
    pub creds: Credentials,
    /// The host process behind its address space (for CPU times).
    pub host_pid: i32,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
}

impl TaskInfo {
    /// The address space, while the task lives.
    pub fn mm(&self) -> Result<Arc<Mutex<MemoryManager>>, Errno> {
        self.mm.upgrade().ok_or(Errno::ESRCH)
    }

    /// The fd table, while the task lives.
    pub fn fds(&self) -> Result<Arc<Mutex<FdTable>>, Errno> {
        self.fds.upgrade().ok_or(Errno::ESRCH)
    }

    /// cwd and umask, while the task lives.
    pub fn fs(&self) -> Result<Arc<Mutex<FsContext>>, Errno> {
        self.fs.upgrade().ok_or(Errno::ESRCH)
    }
}

/// Waits of a vfork(2) parent for its child to exec or exit.
#[derive(Default)]
pub struct VforkDone {
    done: Mutex<bool>,
    cond: Condvar,
}

impl VforkDone {
    /// The child has exec'd or exited.
    pub fn complete(&self) {
        *lock(&self.done) = true;
        self.cond.notify_all();
    }

    /// Waits for [`VforkDone::complete`].
    pub fn wait(&self) {
        let mut g = lock(&self.done);
        while !*g {
            g = self.cond.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// One application thread.
pub struct Task {
    /// The kernel.
    pub k: Arc<Kernel>,
    /// Thread id (in the sandbox's PID namespace).
    pub tid: i32,
    /// What other sentry threads see of this task (signals, waking).
    pub shared: Arc<TaskShared>,
    /// The registers, valid while the task is stopped in the sentry.
    pub regs: Registers,
    /// How the task runs.
    pub ctx: Box<dyn Context>,
    /// The address space.
    pub mm: Arc<Mutex<MemoryManager>>,
    /// The fd table.
    pub fds: Arc<Mutex<FdTable>>,
    /// cwd and umask.
    pub fs: Arc<Mutex<FsContext>>,
    /// Credentials.
    pub creds: Credentials,
    /// The alternate signal stack (ss_sp, ss_flags, ss_size).
    pub altstack: (u64, i32, u64),
    /// Resource limits.
    pub limits: Arc<Mutex<[Rlimit; RLIM_NLIMITS as usize]>>,
    /// set_tid_address(2).
    pub clear_child_tid: u64,
    /// set_robust_list(2): head and length.
    pub robust_list: (u64, u64),
    /// The thread's name (prctl PR_SET_NAME, /proc/[pid]/comm).
    pub comm: [u8; 16],
    /// Set by exit(2): the task loop ends this thread.
    pub exit: Option<ExitStatus>,
    /// The parent of a vfork child waits on this until the child execs or exits.
    pub vfork_done: Option<Arc<VforkDone>>,
    /// Set right after a system call, so signal delivery may restart it.
    pub syscall_return: bool,
    /// The parent-death signal (PR_SET_PDEATHSIG).
    pub pdeath_signal: i32,
    /// The mask to restore after a sigsuspend's signal is delivered.
    pub saved_sigmask: Option<signal::SigSet>,
    /// PR_SET_NO_NEW_PRIVS.
    pub no_new_privs: bool,
    /// PR_SET_TIMERSLACK, in nanoseconds: the current value and the default a 0 restores
    /// (a new task's default is its creator's current value).
    pub timer_slack: (u64, u64),
    /// The thread's NUMA memory policy (set_mempolicy(2)); None: MPOL_DEFAULT.
    pub mempolicy: Option<crate::mm::MemPolicy>,
    /// The thread's personality(2), inherited by its children.
    pub personality: u32,
    /// What restart_syscall(2) resumes after a signal without a handler interrupted a call
    /// that returned ERESTART_RESTARTBLOCK (Linux's `restart_block`).
    pub restart: Option<Restart>,
}

/// A call restart_syscall(2) resumes where it was interrupted.
#[derive(Debug, Clone, Copy)]
pub enum Restart {
    /// A relative sleep (nanosleep, clock_nanosleep without TIMER_ABSTIME): it sleeps until its
    /// first deadline, not its whole length again, and writes what is left to `rem` (unless 0)
    /// when interrupted again.
    Sleep {
        /// When the sleep ends.
        deadline: std::time::Instant,
        /// The caller's `rem` argument.
        rem: u64,
    },
}

impl Task {
    /// Makes PID 1 a minimal init of the sentry's own, with no stub behind it: it reaps every
    /// orphan (and its own children) and has no other behaviour; the program then runs as its
    /// child, PID 2, and the sandbox ends when the program does (`sandbox run --init`).
    pub fn start_virtual_init(k: &Arc<Kernel>, uid: u32) {
        let mut tree = lock(&k.tree);
        let pid = tree.alloc_pid().unwrap_or(1);
        let tg = tree::ThreadGroup::new(pid, Arc::new(Mutex::new(SigHand::default())));
        // Every signal to init is ignored, as the kernel protects init from signals it has
        // no handler for.
        for a in lock(&tg.sighand()).actions.iter_mut() {
            a.handler = SIG_IGN;
        }
        tree.procs.insert(
            pid,
            tree::Proc {
                tg,
                parent: 0,
                children: Default::default(),
                pgid: pid,
                sid: pid,
                zombie: None,
                last_task: None,
                exit_signal: SIGCHLD,
                report: None,
                subreaper: false,
                uid,
                execed: true,
                no_ctty: false,
            },
        );
        k.virtual_init
            .store(pid, std::sync::atomic::Ordering::Release);
    }

    /// The first task of a new process, with its own address space on `ctx`: the sandbox's
    /// main process (PID 1, or the child of the sentry's own init), or one started from
    /// outside while the sandbox runs (an OCI runtime's `exec`: no parent in the sandbox,
    /// getppid 0 as for a process entered into a container's namespace from outside; the
    /// sentry reaps it, and its end is recorded in [`Kernel::detached`] for
    /// [`Kernel::wait_detached`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new_process(
        k: Arc<Kernel>,
        ctx: Box<dyn Context>,
        fds: FdTable,
        fs: FsContext,
        creds: Credentials,
        limits: [Rlimit; RLIM_NLIMITS as usize],
        comm: &[u8],
        origin: Origin,
    ) -> Task {
        let main = origin == Origin::Main;
        let mut mm = MemoryManager::new(ctx.address_space());
        mm.as_limit = limits[RLIMIT_AS as usize].rlim_cur;
        let tid = {
            let mut tree = lock(&k.tree);
            tree.alloc_pid().unwrap_or(1)
        };
        let tg = tree::ThreadGroup::new(tid, Arc::new(Mutex::new(SigHand::default())));
        let shared = TaskShared::new(tid, tg.clone(), 0);
        let init = if main {
            k.main_pid.store(tid, std::sync::atomic::Ordering::Release);
            k.virtual_init.load(std::sync::atomic::Ordering::Acquire)
        } else {
            lock(&k.detached).insert(tid, None);
            0
        };
        {
            let mut tree = lock(&k.tree);
            if let Some(p) = tree.procs.get_mut(&init) {
                p.children.insert(tid);
            }
            tree.threads.insert(tid, shared.clone());
            lock(&tg.tasks).push(shared.clone());
            *lock(&tg.leader) = Some(shared.clone());
            tree.procs.insert(
                tid,
                tree::Proc {
                    tg,
                    parent: init,
                    children: Default::default(),
                    pgid: tid,
                    sid: tid,
                    zombie: None,
                    last_task: None,
                    exit_signal: SIGCHLD,
                    report: None,
                    subreaper: false,
                    uid: creds.uid.0,
                    execed: true,
                    no_ctty: false,
                },
            );
        }
        *lock(&shared.interrupter) = Some(ctx.interrupter());
        let mut c = [0u8; 16];
        let n = comm.len().min(15);
        c[..n].copy_from_slice(&comm[..n]);
        Task {
            regs: ctx.initial_registers(),
            k,
            tid,
            shared,
            ctx,
            mm: Arc::new(Mutex::new(mm)),
            fds: Arc::new(Mutex::new(fds)),
            fs: Arc::new(Mutex::new(fs)),
            creds,
            altstack: (0, 2, 0),
            limits: Arc::new(Mutex::new(limits)),
            clear_child_tid: 0,
            robust_list: (0, 0),
            comm: c,
            exit: None,
            vfork_done: None,
            syscall_return: false,
            pdeath_signal: 0,
            saved_sigmask: None,
            no_new_privs: false,
            timer_slack: (50_000, 50_000),
            mempolicy: None,
            personality: 0,
            restart: None,
        }
    }

    /// Publishes what /proc shows of this task (after it changes: start, exec, set*id, name).
    pub fn publish(&self) {
        *lock(&self.shared.info) = Some(TaskInfo {
            mm: Arc::downgrade(&self.mm),
            fds: Arc::downgrade(&self.fds),
            fs: Arc::downgrade(&self.fs),
            limits: self.limits.clone(),
            comm: self.comm,
            creds: self.creds.clone(),
            host_pid: self.ctx.host_process(),
            no_new_privs: self.no_new_privs,
        });
    }

    /// The six system call arguments.
    pub fn args(&self) -> [u64; 6] {
        let r = &self.regs;
        [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9]
    }

    /// The i-th system call argument.
    pub fn arg(&self, i: usize) -> u64 {
        match i {
            0 => self.regs.rdi,
            1 => self.regs.rsi,
            2 => self.regs.rdx,
            3 => self.regs.r10,
            4 => self.regs.r8,
            _ => self.regs.r9,
        }
    }

    /// The process id.
    pub fn tgid(&self) -> i32 {
        self.shared.tg.tgid
    }

    /// The parent's process id (0 for the first process).
    pub fn ppid(&self) -> i32 {
        lock(&self.k.tree)
            .procs
            .get(&self.tgid())
            .map(|p| p.parent)
            .unwrap_or(0)
    }

    /// The signal mask.
    pub fn sigmask(&self) -> signal::SigSet {
        *lock(&self.shared.sigmask)
    }

    /// Sets the signal mask (SIGKILL and SIGSTOP are never blocked).
    pub fn set_sigmask(&self, mask: signal::SigSet) {
        *lock(&self.shared.sigmask) = mask & !signal::UNBLOCKABLE;
    }

    /// The signal dispositions.
    pub fn sighand(&self) -> Arc<Mutex<SigHand>> {
        self.shared.tg.sighand()
    }

    /// The memory manager.
    pub fn mm(&self) -> MutexGuard<'_, MemoryManager> {
        lock(&self.mm)
    }

    /// The fd table.
    pub fn fds(&self) -> MutexGuard<'_, FdTable> {
        lock(&self.fds)
    }

    /// A file by fd.
    pub fn file(&self, fd: i32) -> Result<Arc<File>, Errno> {
        self.fds().file(fd)
    }

    /// A resource limit's soft value.
    pub fn rlimit(&self, which: u32) -> u64 {
        lock(&self.limits)
            .get(which as usize)
            .map(|r| r.rlim_cur)
            .unwrap_or(RLIM_INFINITY)
    }

    /// Copies application memory in.
    pub fn copy_in(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.mm().copy_in(addr, buf)
    }

    /// Copies into application memory.
    pub fn copy_out(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        self.mm().copy_out(addr, buf)
    }

    /// Copies a plain ABI value in.
    pub fn read_val<T: syscalls::Pod>(&self, addr: u64) -> Result<T, Errno> {
        let mut v = T::zeroed();
        self.copy_in(addr, bytemuck_bytes_mut(&mut v))?;
        Ok(v)
    }

    /// Copies a plain ABI value out.
    pub fn write_val<T: syscalls::Pod>(&self, addr: u64, v: &T) -> Result<(), Errno> {
        self.copy_out(addr, syscalls::bytes_of(v))
    }

    /// Reads a path argument (at most PATH_MAX bytes).
    pub fn read_path(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        let p = self.mm().read_cstr(addr, path::PATH_MAX - 1)?;
        Ok(p)
    }

    /// The working directory.
    pub fn cwd(&self) -> String {
        lock(&self.fs).cwd.clone()
    }

    /// Resolves a path relative to `dirfd` (AT_FDCWD or a directory fd), as the *at calls do,
    /// in the task's mount namespace and under its root, without permission checks.
    /// With AT_EMPTY_PATH semantics left to the caller.
    pub fn resolve_at(&self, dirfd: i32, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
        let (cwd, cwd_anchor, root, mnt) = {
            let fs = lock(&self.fs);
            (
                fs.cwd.clone(),
                fs.cwd_anchor.clone(),
                fs.root.clone(),
                fs.mnt.clone(),
            )
        };
        let (start, anchor) = if path.first() == Some(&b'/') {
            (root.clone(), None)
        } else if dirfd == AT_FDCWD {
            (cwd, cwd_anchor)
        } else {
            let f = self.file(dirfd)?;
            if f.ops.stat()?.st_mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            (f.path.clone(), f.anchor())
        };
        let opts = path::WalkOpts {
            follow,
            root: Some(&root),
            anchor: anchor.as_ref(),
            ..Default::default()
        };
        let mounts = mnt.read();
        path::walk(&mounts, &start, path, opts)
    }

    /// The task's mount namespace.
    pub fn mnt(&self) -> Arc<MountNs> {
        lock(&self.fs).mnt.clone()
    }

    /// `path` (absolute in the mount namespace) as the task sees it from its root: the path
    /// itself outside a chroot.
    pub fn visible_path(&self, path: &str) -> String {
        let fs = lock(&self.fs);
        fs.visible(path).unwrap_or_else(|| path.to_string())
    }
}

fn bytemuck_bytes_mut<T: syscalls::Pod>(v: &mut T) -> &mut [u8] {
    syscalls::bytes_of_mut(v)
}
