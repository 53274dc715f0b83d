// SPDX-License-Identifier: Apache-2.0
//! The stub's machine code, assembled into the sentry as read-only data (never executed here)
//! and copied into the stub image's code page at [`CODE_TEXT`](super::layout::CODE_TEXT).
//!
//! It is position-dependent: it names the stub's fixed pages by absolute address. Four entry
//! points, at offsets given by the table at the start of the blob:
//!
//! - `handler`: the handler of every signal an application thread takes (SIGSYS from the
//!   seccomp filter, the fault signals, the sentry's interrupt). It runs on the thread's signal
//!   stack, in its region; records where the kernel put the frame; publishes `TRAPPED`; waits
//!   (spinning, then on a futex) for the sentry to say `RESUME` or `EXIT`; and returns through
//!   `restorer` (rt_sigreturn), which loads the registers the sentry left in the frame.
//! - `restorer`: `rt_sigreturn`.
//! - `s_entry`: the syscall thread's loop: waits for a new request in the read-only request
//!   page, reads it under its sequence number (a seqlock: a request is run only if it was read
//!   whole), runs it, publishes the result. A clone request's child becomes a new application
//!   thread (`thread_boot`) or a new process (`proc_boot`), chosen by r13 of the request.
//! - `inject`: `syscall; int3`, used only while the template stub is set up under ptrace.
//!
//! Registers: the handler may clobber anything (rt_sigreturn restores all from the frame);
//! the syscall thread keeps its last sequence number in r15 and uses no stack at all.
#![allow(unsafe_code)]

use super::layout::*;

/// Offsets (from the start of the blob) of the entry points, in the order of the table.
#[derive(Debug, Clone, Copy)]
pub struct Entries {
    /// The signal handler.
    pub handler: u64,
    /// rt_sigreturn.
    pub restorer: u64,
    /// The syscall thread's loop.
    pub s_entry: u64,
    /// `syscall; int3`.
    pub inject: u64,
}

core::arch::global_asm!(
    ".pushsection .rodata.sandbox_systrap_stub,\"a\"",
    ".balign 16",
    ".globl sandbox_systrap_stub_start",
    "sandbox_systrap_stub_start:",
    // The entry table: four u32 offsets.
    ".long 2f - sandbox_systrap_stub_start",
    ".long 3f - sandbox_systrap_stub_start",
    ".long 4f - sandbox_systrap_stub_start",
    ".long 5f - sandbox_systrap_stub_start",
    // ---- handler (2) ----
    "2:",
    "mov rax, rsp",
    "and rax, {REGION_MASK}",
    "movabs rcx, {THREADS}",
    "cmp rax, rcx",
    "jb 29f",
    "movabs rcx, {THREADS_END}",
    "cmp rax, rcx",
    "jae 29f",
    "mov rbx, rax",
    "mov dword ptr [rbx + {R_SIGNO}], edi",
    "mov qword ptr [rbx + {R_INFO}], rsi",
    "mov qword ptr [rbx + {R_UCTX}], rdx",
    "rdfsbase rcx",
    "mov qword ptr [rbx + {R_FS}], rcx",
    "rdgsbase rcx",
    "mov qword ptr [rbx + {R_GS}], rcx",
    "mov ecx, {ST_TRAPPED}",
    "xchg dword ptr [rbx + {R_STATE}], ecx",
    "cmp dword ptr [rbx + {R_SENTRY_SLEEPS}], 0",
    "je 21f",
    // futex(&state, FUTEX_WAKE, 1)
    "lea rdi, [rbx + {R_STATE}]",
    "mov esi, 1",
    "mov edx, 1",
    "xor r10d, r10d",
    "mov eax, 202",
    "syscall",
    // wait: spin, then sleep
    "21:",
    "mov r14d, dword ptr [rbx + {R_SPIN}]",
    "22:",
    "mov ecx, dword ptr [rbx + {R_STATE}]",
    "cmp ecx, {ST_RESUME}",
    "je 25f",
    "cmp ecx, {ST_EXIT}",
    "je 29f",
    "test r14d, r14d",
    "jz 23f",
    "dec r14d",
    "pause",
    "jmp 22b",
    // sleep: flag it, check again, futex(&state, FUTEX_WAIT, TRAPPED, NULL)
    "23:",
    "mov ecx, 1",
    "xchg dword ptr [rbx + {R_STUB_SLEEPS}], ecx",
    "cmp dword ptr [rbx + {R_STATE}], {ST_TRAPPED}",
    "jne 24f",
    "lea rdi, [rbx + {R_STATE}]",
    "xor esi, esi",
    "mov edx, {ST_TRAPPED}",
    "xor r10d, r10d",
    "mov eax, 202",
    "syscall",
    "24:",
    "mov dword ptr [rbx + {R_STUB_SLEEPS}], 0",
    "jmp 21b",
    // resume: back to the application through rt_sigreturn
    "25:",
    "mov dword ptr [rbx + {R_STATE}], {ST_RUNNING}",
    "mov rcx, qword ptr [rbx + {R_FS}]",
    "wrfsbase rcx",
    "mov rcx, qword ptr [rbx + {R_GS}]",
    "wrgsbase rcx",
    "ret",
    // exit this thread (also where a handler running outside any region goes)
    "29:",
    "mov eax, 60",
    "xor edi, edi",
    "syscall",
    "ud2",
    // ---- restorer (3) ----
    "3:",
    "mov eax, 15",
    "syscall",
    "ud2",
    // ---- syscall thread (4): r15 = last sequence number served ----
    "4:",
    // every signal blocked: nothing ever runs on this thread but this loop
    "mov edi, 2", // SIG_SETMASK
    "movabs rsi, {FULL_MASK}",
    "xor edx, edx",
    "mov r10d, 8",
    "mov eax, 14", // rt_sigprocmask
    "syscall",
    "movabs rbp, {REQ}",
    "movabs rbx, {RESP}",
    "40:",
    "mov r14d, dword ptr [rbp + {Q_SPIN}]",
    "41:",
    "mov eax, dword ptr [rbp + {Q_SEQ}]",
    "cmp eax, r15d",
    "je 44f",
    "test eax, 1",
    "jnz 44f",
    // read the request, then check it was not changed meanwhile (r14d = its sequence number)
    "mov r14d, eax",
    "mov rax, qword ptr [rbp + {Q_NR}]",
    "mov rdi, qword ptr [rbp + {Q_A0}]",
    "mov rsi, qword ptr [rbp + {Q_A1}]",
    "mov rdx, qword ptr [rbp + {Q_A2}]",
    "mov r10, qword ptr [rbp + {Q_A3}]",
    "mov r8, qword ptr [rbp + {Q_A4}]",
    "mov r9, qword ptr [rbp + {Q_A5}]",
    "mov r12, qword ptr [rbp + {Q_R12}]",
    "mov r13, qword ptr [rbp + {Q_R13}]",
    "cmp r14d, dword ptr [rbp + {Q_SEQ}]",
    "jne 41b",
    "mov r15d, r14d",
    "cmp rax, 56",
    "je 46f",
    "syscall",
    // publish the result; r15d stays the stub's own (never read back from shared memory)
    "42:",
    "mov qword ptr [rbx + {P_RET}], rax",
    "mov ecx, r15d",
    "xchg dword ptr [rbx + {P_DONE}], ecx",
    "cmp dword ptr [rbx + {P_SENTRY_SLEEPS}], 0",
    "je 40b",
    "lea rdi, [rbx + {P_DONE}]",
    "mov esi, 1",
    "mov edx, 1",
    "xor r10d, r10d",
    "mov eax, 202",
    "syscall",
    "jmp 40b",
    // idle: spin a while, then sleep on the request's sequence number
    "44:",
    "test r14d, r14d",
    "jz 45f",
    "dec r14d",
    "pause",
    "jmp 41b",
    "45:",
    "mov ecx, 1",
    "xchg dword ptr [rbx + {P_SLEEPS}], ecx",
    "cmp dword ptr [rbp + {Q_SEQ}], r15d",
    "jne 47f",
    "mov rdi, rbp",
    "xor esi, esi",
    "mov edx, r15d",
    "xor r10d, r10d",
    "mov eax, 202",
    "syscall",
    "47:",
    "mov dword ptr [rbx + {P_SLEEPS}], 0",
    "jmp 40b",
    // clone: the parent goes on; the child becomes what r13 says
    "46:",
    "syscall",
    "test rax, rax",
    "jnz 42b",
    "cmp r13, {KIND_THREAD}",
    "je 60f",
    "cmp r13, {KIND_PROCESS}",
    "je 70f",
    "jmp 79f",
    // ---- a new application thread: r12 = its region ----
    "60:",
    "lea rdi, [r12 + {R_SIGSTACK}]",
    "xor esi, esi",
    "mov eax, 131", // sigaltstack
    "syscall",
    "test rax, rax",
    "jnz 69f",
    "mov edi, 2", // SIG_SETMASK
    "movabs rsi, {EMPTY_MASK}",
    "xor edx, edx",
    "mov r10d, 8",
    "mov eax, 14", // rt_sigprocmask
    "syscall",
    "test rax, rax",
    "jnz 69f",
    "mov edi, 1", // SECCOMP_SET_MODE_FILTER
    "xor esi, esi",
    "movabs rdx, {APP_PROG}",
    "mov eax, 317", // seccomp
    "syscall",
    "test rax, rax",
    "jnz 69f",
    // The first trap: the sentry finds the thread in its handler, with a frame to fill.
    "mov eax, 39",
    "syscall",
    "ud2",
    "69:",
    "mov eax, 60",
    "xor edi, edi",
    "syscall",
    "ud2",
    // ---- a new process: r12 = offset of its request page in the memfd ----
    "70:",
    "movabs rdi, {REQ}",
    "mov esi, 4096",
    "mov edx, 1", // PROT_READ
    "mov r10d, 0x11", // MAP_SHARED | MAP_FIXED
    "mov r8d, {MEMFD}",
    "mov r9, r12",
    "mov eax, 9",
    "syscall",
    "cmp rax, rdi",
    "jne 79f",
    "movabs rdi, {RESP}",
    "mov esi, 4096",
    "mov edx, 3", // PROT_READ | PROT_WRITE
    "mov r10d, 0x11",
    "mov r8d, {MEMFD}",
    "lea r9, [r12 + 4096]",
    "mov eax, 9",
    "syscall",
    "cmp rax, rdi",
    "jne 79f",
    "movabs rdi, {REQ}",
    "mov esi, 8192",
    "mov edx, 10", // MADV_DONTFORK
    "mov eax, 28",
    "syscall",
    "test rax, rax",
    "jnz 79f",
    "mov edi, 1", // PR_SET_PDEATHSIG
    "mov esi, 9", // SIGKILL
    "mov eax, 157",
    "syscall",
    "mov eax, 110", // getppid: the sentry may have died before the line above
    "syscall",
    "movabs rbp, {REQ}",
    "cmp eax, dword ptr [rbp + {Q_SENTRY_PID}]",
    "jne 79f",
    "mov edi, 1", // AF_UNIX
    "mov esi, 0x80005", // SOCK_SEQPACKET | SOCK_CLOEXEC
    "xor edx, edx",
    "movabs r10, {SOCKS}",
    "mov eax, 53", // socketpair
    "syscall",
    "test rax, rax",
    "jnz 79f",
    "mov eax, 39", // getpid
    "syscall",
    "movabs rbx, {RESP}",
    "mov dword ptr [rbx + {P_PID}], eax",
    "mov ecx, 1",
    "xchg dword ptr [rbx + {P_BOOTED}], ecx",
    "lea rdi, [rbx + {P_BOOTED}]",
    "mov esi, 1",
    "mov edx, 1",
    "xor r10d, r10d",
    "mov eax, 202",
    "syscall",
    "xor r15d, r15d",
    "jmp 4b",
    "79:",
    "mov eax, 231", // exit_group
    "xor edi, edi",
    "syscall",
    "ud2",
    // ---- injection point (5), for the template's set-up under ptrace ----
    "5:",
    "syscall",
    "int3",
    "ud2",
    ".globl sandbox_systrap_stub_end",
    "sandbox_systrap_stub_end:",
    ".popsection",
    REGION_MASK = const !(REGION - 1),
    THREADS = const STUB_THREADS,
    THREADS_END = const STUB_END,
    R_SIGNO = const R_SIGNO,
    R_INFO = const R_INFO,
    R_UCTX = const R_UCTX,
    R_FS = const R_FS,
    R_GS = const R_GS,
    R_STATE = const R_STATE,
    R_SENTRY_SLEEPS = const R_SENTRY_SLEEPS,
    R_STUB_SLEEPS = const R_STUB_SLEEPS,
    R_SPIN = const R_SPIN,
    R_SIGSTACK = const R_SIGSTACK,
    ST_TRAPPED = const ST_TRAPPED,
    ST_RESUME = const ST_RESUME,
    ST_EXIT = const ST_EXIT,
    ST_RUNNING = const ST_RUNNING,
    REQ = const REQ,
    RESP = const RESP,
    Q_SEQ = const Q_SEQ,
    Q_NR = const Q_NR,
    Q_A0 = const Q_ARGS,
    Q_A1 = const Q_ARGS + 8,
    Q_A2 = const Q_ARGS + 16,
    Q_A3 = const Q_ARGS + 24,
    Q_A4 = const Q_ARGS + 32,
    Q_A5 = const Q_ARGS + 40,
    Q_R12 = const Q_R12,
    Q_R13 = const Q_R13,
    Q_SPIN = const Q_SPIN,
    Q_SENTRY_PID = const Q_SENTRY_PID,
    P_RET = const P_RET,
    P_DONE = const P_DONE,
    P_SLEEPS = const P_SLEEPS,
    P_SENTRY_SLEEPS = const P_SENTRY_SLEEPS,
    P_PID = const P_PID,
    P_BOOTED = const P_BOOTED,
    SOCKS = const RESP + P_SOCKS,
    KIND_THREAD = const KIND_THREAD,
    KIND_PROCESS = const KIND_PROCESS,
    EMPTY_MASK = const DATA + D_EMPTY_MASK,
    FULL_MASK = const DATA + D_FULL_MASK,
    APP_PROG = const DATA + D_APP_PROG,
    MEMFD = const MEMFD_FD,
);

extern "C" {
    static sandbox_systrap_stub_start: u8;
    static sandbox_systrap_stub_end: u8;
}

/// The stub's machine code and its entry points (offsets from the start of the code).
pub fn code() -> (&'static [u8], Entries) {
    // SAFETY: the two symbols delimit one blob of initialised bytes in the sentry's read-only
    // data, defined above; taking their addresses reads nothing, and the slice between them
    // stays valid and unchanged for the life of the process.
    let blob = unsafe {
        let start = std::ptr::addr_of!(sandbox_systrap_stub_start);
        let end = std::ptr::addr_of!(sandbox_systrap_stub_end);
        std::slice::from_raw_parts(start, end as usize - start as usize)
    };
    let at = |i: usize| {
        let b = &blob[i * 4..i * 4 + 4];
        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let e = Entries {
        handler: at(0),
        restorer: at(1),
        s_entry: at(2),
        inject: at(3),
    };
    (blob, e)
}
