// SPDX-License-Identifier: Apache-2.0
//! ptrace(2): requests, options, events and the structures the tracer reads.
#![allow(missing_docs)] // The names are the kernel's; see ptrace(2).

/// si_code of SIGCHLD: a traced child stopped.
pub const CLD_TRAPPED: i32 = 4;
/// si_code of SIGTRAP: a breakpoint.
pub const TRAP_BRKPT: i32 = 1;
/// si_code of SIGTRAP: a single step.
pub const TRAP_TRACE: i32 = 2;

pub const PTRACE_TRACEME: i64 = 0;
pub const PTRACE_PEEKTEXT: i64 = 1;
pub const PTRACE_PEEKDATA: i64 = 2;
pub const PTRACE_PEEKUSR: i64 = 3;
pub const PTRACE_POKETEXT: i64 = 4;
pub const PTRACE_POKEDATA: i64 = 5;
pub const PTRACE_POKEUSR: i64 = 6;
pub const PTRACE_CONT: i64 = 7;
pub const PTRACE_KILL: i64 = 8;
pub const PTRACE_SINGLESTEP: i64 = 9;
pub const PTRACE_GETREGS: i64 = 12;
pub const PTRACE_SETREGS: i64 = 13;
pub const PTRACE_GETFPREGS: i64 = 14;
pub const PTRACE_SETFPREGS: i64 = 15;
pub const PTRACE_ATTACH: i64 = 16;
pub const PTRACE_DETACH: i64 = 17;
pub const PTRACE_SYSCALL: i64 = 24;
pub const PTRACE_SYSEMU: i64 = 31;
pub const PTRACE_SYSEMU_SINGLESTEP: i64 = 32;
pub const PTRACE_SETOPTIONS: i64 = 0x4200;
pub const PTRACE_GETEVENTMSG: i64 = 0x4201;
pub const PTRACE_GETSIGINFO: i64 = 0x4202;
pub const PTRACE_SETSIGINFO: i64 = 0x4203;
pub const PTRACE_GETREGSET: i64 = 0x4204;
pub const PTRACE_SETREGSET: i64 = 0x4205;
pub const PTRACE_SEIZE: i64 = 0x4206;
pub const PTRACE_INTERRUPT: i64 = 0x4207;
pub const PTRACE_LISTEN: i64 = 0x4208;
pub const PTRACE_GETSIGMASK: i64 = 0x420a;
pub const PTRACE_SETSIGMASK: i64 = 0x420b;
pub const PTRACE_GET_SYSCALL_INFO: i64 = 0x420e;

pub const PTRACE_O_TRACESYSGOOD: u32 = 1;
pub const PTRACE_O_TRACEFORK: u32 = 1 << 1;
pub const PTRACE_O_TRACEVFORK: u32 = 1 << 2;
pub const PTRACE_O_TRACECLONE: u32 = 1 << 3;
pub const PTRACE_O_TRACEEXEC: u32 = 1 << 4;
pub const PTRACE_O_TRACEVFORKDONE: u32 = 1 << 5;
pub const PTRACE_O_TRACEEXIT: u32 = 1 << 6;
pub const PTRACE_O_TRACESECCOMP: u32 = 1 << 7;
pub const PTRACE_O_EXITKILL: u32 = 1 << 20;
pub const PTRACE_O_SUSPEND_SECCOMP: u32 = 1 << 21;
/// Every option PTRACE_SETOPTIONS accepts.
pub const PTRACE_O_MASK: u32 = 0xff | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP;

pub const PTRACE_EVENT_FORK: u32 = 1;
pub const PTRACE_EVENT_VFORK: u32 = 2;
pub const PTRACE_EVENT_CLONE: u32 = 3;
pub const PTRACE_EVENT_EXEC: u32 = 4;
pub const PTRACE_EVENT_VFORK_DONE: u32 = 5;
pub const PTRACE_EVENT_EXIT: u32 = 6;
pub const PTRACE_EVENT_SECCOMP: u32 = 7;
pub const PTRACE_EVENT_STOP: u32 = 128;

pub const PTRACE_SYSCALL_INFO_NONE: u8 = 0;
pub const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
pub const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
pub const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;

/// Note types of PTRACE_GETREGSET.
pub const NT_PRSTATUS: u64 = 1;
pub const NT_PRFPREG: u64 = 2;
pub const NT_X86_XSTATE: u64 = 0x202;

/// offsetof(struct user, u_debugreg): the debug registers in the PEEKUSER area.
pub const USER_DEBUGREG_OFFSET: u64 = 848;
/// sizeof(struct user).
pub const USER_AREA_SIZE: u64 = 928;
