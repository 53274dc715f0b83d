// SPDX-License-Identifier: Apache-2.0
//! Where everything of the systrap platform sits in a stub's address space, and the layout of
//! the pages it shares with the sentry. One place, so the stub's machine code (`sys.rs`), the
//! filters (`filter.rs`) and the sentry side (`mod.rs`) cannot disagree.
//!
//! ```text
//! STUB_BASE + 0x0000  code page   r-x  ELF headers, then the stub's code (see sys.rs)
//! STUB_BASE + 0x1000  data page   r--  the two seccomp filters, sigactions, an empty mask
//! STUB_BASE + 0x2000  request     r--  MAP_SHARED from the platform memfd: the sentry's
//!                                      requests to the process's syscall thread
//! STUB_BASE + 0x3000  response    rw-  MAP_SHARED: the syscall thread's answers (untrusted)
//! STUB_THREADS + n * REGION      rw-  MAP_SHARED: one region per application thread: its
//!                                      control words, then its signal stack
//! ```
//!
//! Every shared page is MADV_DONTFORK: a process cloned from a stub inherits none of them.

/// Where the stub's image is mapped (the same address as the ptrace platform's stub, so the
/// memory manager's reserved range is one).
pub const STUB_BASE: u64 = 0x7fff_ff00_0000;
/// The code page.
pub const CODE: u64 = STUB_BASE;
/// Where the machine code starts in the code page (the ELF headers come first).
pub const CODE_TEXT: u64 = CODE + 0x200;
/// End of the code page: a host system call is the stub's own only if its instruction pointer
/// (the address after the `syscall`) lies in `(CODE, CODE_END]`.
pub const CODE_END: u64 = CODE + 0x1000;
/// The read-only data page.
pub const DATA: u64 = STUB_BASE + 0x1000;
/// The request page (read-only in the stub).
pub const REQ: u64 = STUB_BASE + 0x2000;
/// The response page.
pub const RESP: u64 = STUB_BASE + 0x3000;
/// The first thread region.
pub const STUB_THREADS: u64 = STUB_BASE + 0x1_0000;
/// Size (and alignment) of a thread region.
pub const REGION: u64 = 0x8000;
/// End of the thread regions (and of everything the platform reserves).
pub const STUB_END: u64 = 0x7fff_ffff_0000;
/// How many application threads one process can have on this platform.
pub const MAX_THREADS: u64 = (STUB_END - STUB_THREADS) / REGION;
/// Page size.
pub const PAGE: u64 = 0x1000;

/// The stub's host descriptor for the platform memfd.
pub const MEMFD_FD: i32 = 1;

// Data page offsets.
/// `struct sock_fprog` of the backstop filter.
pub const D_BACKSTOP_PROG: u64 = 0;
/// `struct sock_fprog` of the application threads' filter.
pub const D_APP_PROG: u64 = 16;
/// An empty signal mask (8 bytes).
pub const D_EMPTY_MASK: u64 = 32;
/// A full signal mask (8 bytes).
pub const D_FULL_MASK: u64 = 40;
/// The `struct sigaction` (kernel layout) installed for every handled signal.
pub const D_SIGACTION: u64 = 64;
/// The backstop filter's instructions.
pub const D_BACKSTOP: u64 = 128;
/// The application filter's instructions.
pub const D_APP: u64 = 1024;

// Request page offsets (written by the sentry only).
/// Sequence number (u32, even when stable): a new request when it changes.
pub const Q_SEQ: u64 = 0;
/// System call number.
pub const Q_NR: u64 = 8;
/// Arguments: six u64.
pub const Q_ARGS: u64 = 16;
/// Loaded into r12 before the call (clone: the new thread's region or process's pages).
pub const Q_R12: u64 = 64;
/// Loaded into r13 before the call (clone: what the child becomes).
pub const Q_R13: u64 = 72;
/// The sentry's pid: a new process checks that its parent is still the sentry.
pub const Q_SENTRY_PID: u64 = 80;
/// How many polls the syscall thread spins before it sleeps.
pub const Q_SPIN: u64 = 84;

/// r13 of a clone whose child is an application thread.
pub const KIND_THREAD: u64 = 1;
/// r13 of a clone whose child is a new process.
pub const KIND_PROCESS: u64 = 2;

// Response page offsets (written by the stub: untrusted once application threads exist).
/// The sequence number of the last request done (u32).
pub const P_DONE: u64 = 0;
/// Set while the syscall thread sleeps on `Q_SEQ`.
pub const P_SLEEPS: u64 = 4;
/// The raw result of the last request.
pub const P_RET: u64 = 8;
/// Set while the sentry sleeps on `P_DONE`.
pub const P_SENTRY_SLEEPS: u64 = 24;
/// The new process's pid (written once at its start, before any application thread).
pub const P_PID: u64 = 16;
/// Set (and woken) when a new process is ready.
pub const P_BOOTED: u64 = 28;
/// The socket pair a new process makes for descriptor donation (two i32).
pub const P_SOCKS: u64 = 32;
/// A `struct msghdr` for receiving a donated descriptor.
pub const P_MSGHDR: u64 = 256;
/// Its `struct iovec`.
pub const P_IOV: u64 = P_MSGHDR + 56;
/// Its one-byte buffer.
pub const P_BYTE: u64 = 344;
/// Its control buffer, CMSG_SPACE(sizeof(int)) bytes.
pub const P_CMSG: u64 = 352;
/// CMSG_SPACE(sizeof(int)).
pub const CMSG_SPACE_ONE_FD: u64 = 24;

// Thread region offsets (the first page; the rest is the signal stack).
/// The thread's state (u32), the futex word both sides wait on; the kernel clears it when the
/// thread exits (CLONE_CHILD_CLEARTID).
pub const R_STATE: u64 = 0;
/// Set while the sentry sleeps waiting for a trap.
pub const R_SENTRY_SLEEPS: u64 = 4;
/// Set while the stub sleeps waiting for the sentry.
pub const R_STUB_SLEEPS: u64 = 8;
/// How many polls the handler spins before it sleeps.
pub const R_SPIN: u64 = 12;
/// The signal that trapped.
pub const R_SIGNO: u64 = 16;
/// Its siginfo (an address in the signal stack).
pub const R_INFO: u64 = 24;
/// Its ucontext (an address in the signal stack).
pub const R_UCTX: u64 = 32;
/// fs base: the handler stores the thread's at a trap and loads it back on resume.
pub const R_FS: u64 = 40;
/// gs base, likewise.
pub const R_GS: u64 = 48;
/// The thread's `stack_t` for sigaltstack (24 bytes).
pub const R_SIGSTACK: u64 = 56;
/// Start of the signal stack.
pub const R_STACK: u64 = PAGE;

/// Thread states.
pub const ST_DEAD: u32 = 0;
/// Running application code.
pub const ST_RUNNING: u32 = 1;
/// In the handler, waiting for the sentry.
pub const ST_TRAPPED: u32 = 2;
/// The sentry answered: return to the application.
pub const ST_RESUME: u32 = 3;
/// The sentry asks the thread to exit.
pub const ST_EXIT: u32 = 4;
/// Created, not yet at its first trap.
pub const ST_BOOT: u32 = 5;

/// The host signal that interrupts an application thread.
pub const INTERRUPT_SIGNAL: i32 = libc::SIGURG;

const _: () = assert!(STUB_THREADS.is_multiple_of(REGION));
const _: () = assert!(CODE >> 32 == STUB_END >> 32);
const _: () = assert!(STUB_BASE >= crate::mm::STACK_TOP);
