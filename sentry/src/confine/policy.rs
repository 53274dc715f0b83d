// SPDX-License-Identifier: Apache-2.0
//! The sentry's seccomp allow-list, as data: every host system call a sentry thread may make,
//! for which thread roles, with which arguments, and why (DESIGN.md invariant 2; gVisor
//! `runsc/boot/filter/config`, Firecracker `resources/seccomp/*.json`).
//!
//! A rule lists the roles that need it. A rule with conditions allows the call only when every
//! condition holds; several rules for one call are alternatives. Anything not listed kills the
//! whole sentry (SECCOMP_RET_KILL_PROCESS): the program's view of the host is the sentry's, so
//! a sentry doing something it never does is a sentry no longer doing what we wrote.
//!
//! What is deliberately absent: open, openat, openat2, creat and every other call taking a host
//! path (host files come from the gofer, as descriptors); execve (a new stub is the memfd image,
//! executed by descriptor); socket, connect, bind, listen, accept (the network groups add them
//! only under `--network host|sandbox`; `--host-uds open` adds shutdown and the reactor's
//! epoll calls, never socket or connect: the gofer connects host unix sockets); mount, umount2, pivot_root, unshare, setns, chroot;
//! the set*id family; ptrace requests other than the ones driving stubs (no PTRACE_ATTACH);
//! bpf, perf_event_open, keyctl, add_key, kexec, init_module, userfaultfd, io_uring.

use syscalls::Sysno;

/// A thread role: which sentry threads a rule is for (a bit set).
pub type Roles = u8;

/// Threads that run application tasks: the ptrace tracers, and everything a system call
/// handler does (host files, the gofer, memfds, stubs' memory).
pub const TASK: Roles = 1;
/// The timer thread: fires itimers and POSIX timers (signals, interrupts).
pub const TIMERS: Roles = 2;
/// The gofer watcher: waits for the gofer's end of the socket to close.
pub const WATCH: Roles = 4;
/// The signal forwarder: waits for host signals and sends them to the program.
pub const SIGNALS: Roles = 8;
/// The main thread once the first task has ended: waits for the sandbox's end and exits; and
/// the systrap platform's keeper thread (the parent of its stubs), which only waits.
pub const MAIN: Roles = 16;
/// An OCI container's control thread (`exec`): it accepts the runtime's connections and
/// starts the threads of exec'd processes, which narrow themselves to [`TASK`]; so it keeps the
/// union of the roles and never narrows itself ([`CONTROL_RULES`] only exist when it does).
pub const CONTROL: Roles = 32;
/// Every role: what the Rust runtime and the allocator need anywhere.
pub const ALL: Roles = TASK | TIMERS | WATCH | SIGNALS | MAIN | CONTROL;

/// A comparison on one argument (`arg & mask == value`; mask `u64::MAX` for plain equality).
#[derive(Debug, Clone, Copy)]
pub struct Cond {
    /// The argument's index (0..6).
    pub arg: u8,
    /// The bits compared.
    pub mask: u64,
    /// The value they must have.
    pub value: u64,
    /// Whether they must NOT have it instead: then `mask` is all bits and only the argument's
    /// lower 32 bits are compared (inequalities are of `int` arguments).
    pub not: bool,
}

/// `arg == value`.
const fn eq(arg: u8, value: u64) -> Cond {
    Cond {
        arg,
        mask: u64::MAX,
        value,
        not: false,
    }
}

/// `arg != value`, of an `int` argument (its lower 32 bits).
const fn ne(arg: u8, value: u64) -> Cond {
    Cond {
        arg,
        mask: u64::MAX,
        value,
        not: true,
    }
}

/// `arg & mask == value`.
const fn masked(arg: u8, mask: u64, value: u64) -> Cond {
    Cond {
        arg,
        mask,
        value,
        not: false,
    }
}

/// One allowed form of a system call.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The call.
    pub sysno: Sysno,
    /// The roles that may make it.
    pub roles: Roles,
    /// Conditions on its arguments (all must hold).
    pub conds: &'static [Cond],
    /// Why the sentry needs it.
    pub why: &'static str,
}

const fn rule(sysno: Sysno, roles: Roles, why: &'static str) -> Rule {
    Rule {
        sysno,
        roles,
        conds: &[],
        why,
    }
}

const fn when(sysno: Sysno, roles: Roles, conds: &'static [Cond], why: &'static str) -> Rule {
    Rule {
        sysno,
        roles,
        conds,
        why,
    }
}

// Constants of the host calls' arguments (the host ABI of the sentry itself, not the
// program's: the program's are in `syscalls::abi`).
const PTRACE_TRACEME: u64 = 0;
const PTRACE_PEEKDATA: u64 = 2;
const PTRACE_POKEDATA: u64 = 5;
const PTRACE_CONT: u64 = 7;
const PTRACE_GETREGS: u64 = 12;
const PTRACE_SETREGS: u64 = 13;
const PTRACE_SYSEMU: u64 = 31;
const PTRACE_SETOPTIONS: u64 = 0x4200;
const PTRACE_GETSIGINFO: u64 = 0x4202;
const PTRACE_GETREGSET: u64 = 0x4204;
const PTRACE_SETREGSET: u64 = 0x4205;
const PTRACE_SEIZE: u64 = 0x4206;
const PTRACE_INTERRUPT: u64 = 0x4207;
const PR_SET_PDEATHSIG: u64 = 1;
const SOL_IP: u64 = 0;
const SOL_IPV6: u64 = 41;
const SOL_ICMPV6: u64 = 58;
const SOL_RAW: u64 = 255;
const IP_HDRINCL: u64 = 3;
const IPV6_HDRINCL: u64 = 36;
const PR_SET_NAME: u64 = 15;
const PR_CAPBSET_DROP: u64 = 24;
const PR_SET_NO_NEW_PRIVS: u64 = 38;
const SECCOMP_SET_MODE_FILTER: u64 = 1;
const SIGKILL: u64 = 9;
const KCMP_FILE: u64 = 0;
const P_PIDFD: u64 = 3;
const WEXITED: u64 = 4;
const WALL: u64 = 0x4000_0000;
const AF_UNIX: u64 = 1;
const AT_EMPTY_PATH: u64 = 0x1000;
const F_DUPFD: u64 = 0;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_DUPFD_CLOEXEC: u64 = 1030;
const F_ADD_SEALS: u64 = 1033;
const F_GET_SEALS: u64 = 1034;
const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TCSETSW: u64 = 0x5403;
const TCSETSF: u64 = 0x5404;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const FIONREAD: u64 = 0x541b;
/// The clone flags of a new thread (glibc's pthread_create, and the stub's thread clones).
const THREAD_FLAGS: u64 = 0x0001_0000 /* CLONE_THREAD */ | 0x100 /* CLONE_VM */;
/// The clone flags that make a new thread or process in another namespace, or share a
/// tracer: never asked.
const CLONE_FORBIDDEN: u64 = 0x7e02_0000 /* CLONE_NEW* */ | 0x2000 /* CLONE_PTRACE */;

/// The rules. The order is the order of the comments' reasoning; the compiled filter does not
/// depend on it.
pub const RULES: &[Rule] = &[
    // ---- The Rust runtime, the allocator, locks: every thread. ----
    rule(Sysno::mmap, ALL, "allocator; stubs: injected mappings"),
    rule(Sysno::munmap, ALL, "allocator; stubs: injected unmaps"),
    rule(
        Sysno::mremap,
        ALL,
        "allocator (realloc of large buffers); stubs: injected mremap",
    ),
    rule(
        Sysno::mprotect,
        ALL,
        "thread stack guards; stubs: injected mprotect",
    ),
    rule(
        Sysno::madvise,
        ALL,
        "allocator returns memory; stubs: injected madvise",
    ),
    rule(Sysno::brk, ALL, "allocator"),
    rule(
        Sysno::msync,
        TASK,
        "stubs: injected msync of shared mappings",
    ),
    rule(
        Sysno::futex,
        ALL,
        "locks, condition variables, thread joins; a parked stub thread",
    ),
    rule(Sysno::sched_yield, ALL, "spin loops of locks"),
    rule(
        Sysno::rt_sigaction,
        ALL,
        "the runtime's handlers; stubs: the injected SIGCHLD disposition",
    ),
    rule(Sysno::rt_sigprocmask, ALL, "thread start, abort"),
    rule(
        Sysno::restart_syscall,
        ALL,
        "the host resumes a sleep or poll a stop of the sandbox interrupted",
    ),
    rule(
        Sysno::rt_sigreturn,
        ALL,
        "returning from the runtime's stack-overflow handler",
    ),
    rule(
        Sysno::sigaltstack,
        ALL,
        "the runtime's stack-overflow handler stack, per thread",
    ),
    rule(
        Sysno::getrandom,
        ALL,
        "hash map keys; the sandbox's getrandom and /dev/urandom",
    ),
    rule(
        Sysno::clock_gettime,
        ALL,
        "time (when the vDSO falls back), CPU clocks of stubs",
    ),
    rule(Sysno::gettid, ALL, "abort; thread-local keys"),
    rule(Sysno::getpid, ALL, "abort"),
    rule(
        Sysno::write,
        ALL,
        "the debug log and last words on stderr; host stdio and pipes",
    ),
    rule(
        Sysno::close,
        ALL,
        "descriptors (gofer replies, donated files, memfds)",
    ),
    rule(Sysno::exit, ALL, "a thread ends"),
    rule(Sysno::exit_group, ALL, "the sandbox ends"),
    rule(Sysno::rseq, ALL, "glibc registers each new thread"),
    rule(
        Sysno::set_robust_list,
        ALL,
        "glibc registers each new thread",
    ),
    when(
        Sysno::prctl,
        ALL,
        &[eq(0, PR_SET_NAME)],
        "thread names (task-N, timers, ...)",
    ),
    when(
        Sysno::prctl,
        ALL,
        &[eq(0, PR_SET_NO_NEW_PRIVS), eq(1, 1)],
        "before each narrower filter a thread adds (it only ever restricts); stubs' backstop",
    ),
    when(
        Sysno::seccomp,
        ALL,
        &[eq(0, SECCOMP_SET_MODE_FILTER), eq(1, 0)],
        "a thread narrows itself to its role's filter; stubs install their backstop (filters \
         only ever restrict; no flags: no TSYNC, no listener)",
    ),
    when(
        Sysno::tgkill,
        ALL,
        &[],
        "abort (SIGABRT to itself); interrupting a running stub thread (SIGURG)",
    ),
    // ---- Threads. ----
    when(
        Sysno::clone,
        TASK,
        &[
            masked(0, THREAD_FLAGS, THREAD_FLAGS),
            masked(0, CLONE_FORBIDDEN, 0),
        ],
        "a sentry thread per new task (pthread_create); a stub's injected thread clone",
    ),
    when(
        Sysno::clone,
        TASK,
        &[masked(0, THREAD_FLAGS | CLONE_FORBIDDEN, 0)],
        "a new stub process: the sentry's fork (then execveat of the stub image), or a stub's \
         injected fork (SIGCHLD, no CLONE_VM)",
    ),
    rule(
        Sysno::clone3,
        TASK,
        "passed on to the filter that answers it ENOSYS (its flags are in memory, out of \
         seccomp's reach): glibc then uses clone, whose flags the rules above check",
    ),
    // ---- Starting a stub (the child of the sentry's fork, before it executes the image). ----
    when(
        Sysno::prctl,
        TASK,
        &[eq(0, PR_SET_PDEATHSIG)],
        "a new stub dies with the sentry",
    ),
    when(
        Sysno::prctl,
        TASK,
        &[eq(0, PR_CAPBSET_DROP)],
        "a new stub empties its capability bounding set (it only ever drops)",
    ),
    rule(
        Sysno::getppid,
        TASK,
        "a new stub checks its parent is still the sentry",
    ),
    rule(
        Sysno::dup2,
        TASK,
        "a new stub keeps the donation socket as descriptor 0",
    ),
    rule(
        Sysno::dup3,
        TASK,
        "a new stub keeps the image as descriptor 1",
    ),
    rule(
        Sysno::close_range,
        TASK,
        "a new stub closes every other descriptor",
    ),
    rule(
        Sysno::setpgid,
        TASK,
        "a new stub leaves the terminal's process group",
    ),
    rule(
        Sysno::personality,
        TASK,
        "a new stub's fixed layout (ADDR_NO_RANDOMIZE)",
    ),
    rule(
        Sysno::capset,
        TASK,
        "a new stub drops every capability before it executes",
    ),
    rule(
        Sysno::capget,
        TASK,
        "capset's header (glibc/libcap probe the version)",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_TRACEME)],
        "a new stub asks to be traced by the sentry thread that forked it",
    ),
    when(
        Sysno::execveat,
        TASK,
        &[eq(0, 1), masked(4, AT_EMPTY_PATH, AT_EMPTY_PATH)],
        "a new stub executes the stub image (a sealed memfd, its descriptor 1); the sentry's \
         root is empty, so no path could name anything else",
    ),
    // ---- Driving stubs (the ptrace platform). ----
    when(Sysno::ptrace, TASK, &[eq(0, PTRACE_CONT)], "injected calls"),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_SYSEMU)],
        "running application code",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_GETREGS)],
        "registers at a stop",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_SETREGS)],
        "registers before a resume",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_GETREGSET)],
        "FPU state for signal frames",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_SETREGSET)],
        "FPU state after sigreturn",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_GETSIGINFO)],
        "what a signal stop was",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_SETOPTIONS)],
        "EXITKILL, TRACESYSGOOD",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_SEIZE)],
        "a new stub thread or process, parked at the stub's clone point, by its task's thread",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_INTERRUPT)],
        "stopping a stub thread",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_PEEKDATA)],
        "application memory the application made unreadable",
    ),
    when(
        Sysno::ptrace,
        TASK,
        &[eq(0, PTRACE_POKEDATA)],
        "application memory the application made read-only (breakpoints, relocations)",
    ),
    // ---- Driving stubs (the systrap platform: no ptrace after start-up). A stub process is
    // held by a pidfd from its first answer on (its pid cannot be reused under the sentry: it
    // is the stubs' parent, and a dead stub stays a zombie until reaped through the pidfd). ----
    when(
        Sysno::pidfd_open,
        TASK,
        &[eq(1, 0)],
        "systrap: pinning a new stub process (no flags: no PIDFD_THREAD, no PIDFD_NONBLOCK)",
    ),
    when(
        Sysno::pidfd_getfd,
        TASK,
        &[eq(2, 0)],
        "systrap: the sentry's end of a new stub's donation socket, which the stub made (the \
         stubs are the only processes the sentry may reach into: same user, no capability)",
    ),
    when(
        Sysno::pidfd_send_signal,
        TASK,
        &[eq(1, SIGKILL), eq(2, 0), eq(3, 0)],
        "systrap: SIGKILL to a stub process (its program ended, or broke its own frame); no \
         siginfo, no flags",
    ),
    when(
        Sysno::waitid,
        TASK,
        &[eq(0, P_PIDFD), eq(3, WEXITED | WALL)],
        "systrap: reaping a killed stub process through its pidfd (and only that)",
    ),
    when(
        Sysno::kcmp,
        TASK,
        &[eq(2, KCMP_FILE)],
        "systrap: checking that the descriptor number a stub reports for a donated file is \
         that file (the answer is the application's to forge); KCMP_FILE only",
    ),
    rule(
        Sysno::wait4,
        TASK | WATCH,
        "ptrace stops of stubs; the gofer's exit status",
    ),
    rule(
        Sysno::process_vm_readv,
        TASK,
        "copying application memory in",
    ),
    rule(
        Sysno::process_vm_writev,
        TASK,
        "copying application memory out",
    ),
    rule(
        Sysno::kill,
        TASK,
        "SIGKILL to a stub process whose program ended",
    ),
    rule(
        Sysno::sched_setaffinity,
        TASK,
        "a task's thread and its stub thread on one CPU",
    ),
    rule(
        Sysno::sched_getaffinity,
        ALL,
        "the runtime; the sandbox's CPU set",
    ),
    rule(
        Sysno::getcpu,
        TASK,
        "which CPU to pin to; the gofer channel for this CPU",
    ),
    // ---- Files: host descriptors the gofer donated, memfds, stdio. ----
    rule(Sysno::read, TASK, "host files and streams (stdin, pipes)"),
    rule(
        Sysno::pread64,
        TASK,
        "host files; memfds of tmpfs; stubs: injected direct reads",
    ),
    rule(
        Sysno::pwrite64,
        TASK,
        "host files; memfds of tmpfs; stubs: injected direct writes",
    ),
    rule(Sysno::readv, TASK, "host streams"),
    rule(Sysno::writev, TASK, "host streams; the debug log"),
    rule(Sysno::lseek, TASK, "host files"),
    rule(Sysno::fstat, TASK, "host descriptors (size, times)"),
    when(
        Sysno::newfstatat,
        TASK,
        &[masked(3, AT_EMPTY_PATH, AT_EMPTY_PATH)],
        "fstat of a descriptor (glibc), never of a path",
    ),
    when(
        Sysno::statx,
        TASK,
        &[masked(2, AT_EMPTY_PATH, AT_EMPTY_PATH)],
        "metadata of a descriptor (the Rust runtime), never of a path",
    ),
    rule(Sysno::fstatfs, TASK, "statfs of a host file"),
    rule(
        Sysno::getdents64,
        TASK,
        "listing a host directory the gofer donated",
    ),
    rule(
        Sysno::ftruncate,
        TASK,
        "tmpfs file and System V segment sizes (memfds); host files (truncate)",
    ),
    rule(Sysno::fallocate, TASK, "tmpfs and host files"),
    rule(Sysno::fsync, TASK, "host files"),
    rule(Sysno::fdatasync, TASK, "host files"),
    rule(
        Sysno::memfd_create,
        TASK,
        "tmpfs file contents and System V shared memory segments (mappable by stubs)",
    ),
    rule(
        Sysno::dup,
        TASK,
        "sharing a host descriptor between sandbox files",
    ),
    when(Sysno::fcntl, TASK, &[eq(1, F_GETFD)], "descriptor flags"),
    when(Sysno::fcntl, TASK, &[eq(1, F_SETFD)], "close-on-exec"),
    when(
        Sysno::fcntl,
        TASK,
        &[eq(1, F_GETFL)],
        "status flags of host streams",
    ),
    when(
        Sysno::fcntl,
        TASK,
        &[eq(1, F_SETFL)],
        "O_NONBLOCK, O_APPEND on host streams",
    ),
    when(
        Sysno::fcntl,
        TASK,
        &[eq(1, F_DUPFD)],
        "a new stub moves its descriptors up",
    ),
    when(
        Sysno::fcntl,
        TASK,
        &[eq(1, F_DUPFD_CLOEXEC)],
        "try_clone of a descriptor",
    ),
    when(Sysno::fcntl, TASK, &[eq(1, F_ADD_SEALS)], "memfd seals"),
    when(Sysno::fcntl, TASK, &[eq(1, F_GET_SEALS)], "memfd seals"),
    when(
        Sysno::ioctl,
        TASK,
        &[eq(1, TCGETS)],
        "the host terminal's settings",
    ),
    when(
        Sysno::ioctl,
        TASK,
        &[eq(1, TCSETS)],
        "the host terminal's settings",
    ),
    when(
        Sysno::ioctl,
        TASK,
        &[eq(1, TCSETSW)],
        "the host terminal's settings",
    ),
    when(
        Sysno::ioctl,
        TASK,
        &[eq(1, TCSETSF)],
        "the host terminal's settings",
    ),
    when(
        Sysno::ioctl,
        TASK,
        &[eq(1, TIOCGWINSZ)],
        "the host terminal's size",
    ),
    when(
        Sysno::ioctl,
        TASK,
        &[eq(1, TIOCSWINSZ)],
        "the host terminal's size",
    ),
    when(
        Sysno::ioctl,
        TASK,
        &[eq(1, FIONREAD)],
        "bytes waiting on a host stream",
    ),
    rule(
        Sysno::poll,
        TASK | WATCH,
        "host streams' readiness; the gofer's socket closing",
    ),
    rule(Sysno::ppoll, TASK | WATCH, "as poll"),
    // ---- The gofer and stubs' donation sockets (already connected: no socket creation). ----
    rule(
        Sysno::sendmsg,
        TASK,
        "gofer requests; donating a descriptor to a stub",
    ),
    rule(
        Sysno::recvmsg,
        TASK,
        "gofer replies with descriptors; stubs: receiving a donation",
    ),
    when(
        Sysno::socketpair,
        TASK,
        &[eq(0, AF_UNIX)],
        "a new stub's donation socket",
    ),
    // ---- Facts about the host the sandbox reports. ----
    rule(
        Sysno::uname,
        TASK,
        "the sandbox's uname(2) release and machine",
    ),
    rule(
        Sysno::sysinfo,
        TASK,
        "sysinfo(2) and /proc/meminfo: the host's memory",
    ),
    rule(Sysno::getrlimit, TASK, "the sandbox's initial limits"),
    rule(Sysno::prlimit64, TASK, "the sandbox's initial limits"),
    rule(Sysno::clock_getres, TASK, "clock_getres(2)"),
    // ---- Waiting. ----
    rule(
        Sysno::clock_nanosleep,
        ALL,
        "sleeps (the timer thread, back-off)",
    ),
    rule(Sysno::nanosleep, ALL, "sleeps"),
    rule(
        Sysno::rt_sigtimedwait,
        SIGNALS,
        "waiting for the host signals to forward",
    ),
];

/// The host socket calls the sentry makes when it carries the program's network flows on the
/// host (`--network host` or `sandbox`); under `--network none` no socket is ever created.
pub const NETWORK_RULES: &[Rule] = &[
    rule(
        Sysno::socket,
        TASK,
        "a host socket for a sandbox inet socket",
    ),
    rule(Sysno::connect, TASK, "outbound flows"),
    rule(
        Sysno::bind,
        TASK,
        "--publish, and sockets bound by the program",
    ),
    rule(Sysno::listen, TASK, "--publish"),
    rule(Sysno::accept4, TASK, "--publish"),
    rule(Sysno::sendto, TASK, "datagrams and streams"),
    rule(Sysno::recvfrom, TASK, "datagrams and streams"),
    // The ICMP channel to the outside may be a raw socket (inet::outside): its IP headers stay
    // the host's and its receive filters stay as start-up set them.
    when(
        Sysno::setsockopt,
        TASK,
        &[
            ne(1, SOL_IP),
            ne(1, SOL_IPV6),
            ne(1, SOL_RAW),
            ne(1, SOL_ICMPV6),
        ],
        "socket options the program sets",
    ),
    when(
        Sysno::setsockopt,
        TASK,
        &[eq(1, SOL_IP), ne(2, IP_HDRINCL)],
        "IP options the program sets, never IP_HDRINCL",
    ),
    when(
        Sysno::setsockopt,
        TASK,
        &[eq(1, SOL_IPV6), ne(2, IPV6_HDRINCL)],
        "IPv6 options the program sets, never IPV6_HDRINCL",
    ),
    rule(Sysno::getsockopt, TASK, "socket options, SO_ERROR"),
    rule(Sysno::shutdown, TASK, "half-closes"),
    rule(Sysno::getsockname, TASK, "local addresses"),
    rule(Sysno::getpeername, TASK, "peer addresses"),
    rule(Sysno::epoll_create1, TASK, "the network reactor"),
    rule(Sysno::epoll_ctl, TASK, "the network reactor"),
    rule(Sysno::epoll_wait, TASK, "the network reactor"),
    rule(Sysno::epoll_pwait, TASK, "the network reactor"),
];

/// The host calls on the host unix sockets the gofer connects and donates (`--host-uds open`),
/// whatever the network mode: no socket is created or connected by the sentry (the gofer
/// does that), and sendmsg, recvmsg, poll and FIONREAD are in [`RULES`] already.
pub const HOST_UDS_RULES: &[Rule] = &[
    rule(Sysno::shutdown, TASK, "half-closes of a host unix socket"),
    rule(
        Sysno::epoll_create1,
        TASK,
        "the network reactor, which wakes the sandbox sockets of host unix sockets",
    ),
    rule(
        Sysno::epoll_ctl,
        TASK,
        "the network reactor: watching a host unix socket",
    ),
    rule(Sysno::epoll_wait, TASK, "the network reactor"),
    rule(Sysno::epoll_pwait, TASK, "the network reactor"),
];

/// The calls of an OCI container's control thread (`sandbox run --oci-control`, made by
/// `create`): accepting the runtime's connections on the control socket bound before the
/// confinement. No socket is created, bound or connected.
pub const CONTROL_RULES: &[Rule] = &[rule(
    Sysno::accept4,
    CONTROL,
    "exec requests on the container's control socket",
)];
