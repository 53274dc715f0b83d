// SPDX-License-Identifier: Apache-2.0
//! seccomp(2), seccomp_unotify(2) and classic BPF: linux/seccomp.h, linux/filter.h,
//! linux/bpf_common.h, linux/audit.h (the x86_64 arch token).
#![allow(missing_docs)] // The names are the kernel's; see the man pages.

use bytemuck::{Pod, Zeroable};

// ---- seccomp(2) operations and modes ----
pub const SECCOMP_SET_MODE_STRICT: u32 = 0;
pub const SECCOMP_SET_MODE_FILTER: u32 = 1;
pub const SECCOMP_GET_ACTION_AVAIL: u32 = 2;
pub const SECCOMP_GET_NOTIF_SIZES: u32 = 3;
/// A task's mode, as PR_GET_SECCOMP and /proc/[pid]/status show it.
pub const SECCOMP_MODE_DISABLED: u8 = 0;
pub const SECCOMP_MODE_STRICT: u8 = 1;
pub const SECCOMP_MODE_FILTER: u8 = 2;

// ---- SECCOMP_SET_MODE_FILTER flags ----
pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1 << 0;
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 1 << 1;
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const SECCOMP_FILTER_FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;
/// Every flag Linux knows.
pub const SECCOMP_FILTER_FLAG_MASK: u32 = 0x3f;

// ---- filter return values ----
pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_KILL_THREAD: u32 = 0x0000_0000;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
pub const SECCOMP_RET_ACTION: u32 = 0x7fff_0000;
pub const SECCOMP_RET_DATA: u32 = 0x0000_ffff;

/// SIGSYS's si_code for a seccomp trap.
pub const SYS_SECCOMP: i32 = 1;
/// seccomp_data.arch of an x86_64 (and x32) system call.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// seccomp_data.arch of an i386 (`int 0x80`) system call.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;

// ---- user notification ----
pub const SECCOMP_USER_NOTIF_FLAG_CONTINUE: u32 = 1;
pub const SECCOMP_ADDFD_FLAG_SETFD: u32 = 1 << 0;
pub const SECCOMP_ADDFD_FLAG_SEND: u32 = 1 << 1;
pub const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
/// _IOWR('!', 0, struct seccomp_notif).
pub const SECCOMP_IOCTL_NOTIF_RECV: u32 = 0xc050_2100;
/// _IOWR('!', 1, struct seccomp_notif_resp).
pub const SECCOMP_IOCTL_NOTIF_SEND: u32 = 0xc018_2101;
/// _IOW('!', 2, __u64).
pub const SECCOMP_IOCTL_NOTIF_ID_VALID: u32 = 0x4008_2102;
/// _IOR('!', 2, __u64): the number Linux 5.0-5.5 had, still accepted.
pub const SECCOMP_IOCTL_NOTIF_ID_VALID_WRONG_DIR: u32 = 0x8008_2102;
/// _IOW('!', 3, struct seccomp_notif_addfd), any size from the first version's 24 on.
pub const SECCOMP_IOCTL_NOTIF_ADDFD: u32 = 0x4018_2103;
/// _IOW('!', 4, __u64).
pub const SECCOMP_IOCTL_NOTIF_SET_FLAGS: u32 = 0x4008_2104;
/// The size of the first `struct seccomp_notif_addfd`.
pub const SECCOMP_NOTIFY_ADDFD_SIZE_VER0: usize = 24;

/// `struct seccomp_data`: what a filter reads.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// `struct seccomp_notif`: what SECCOMP_IOCTL_NOTIF_RECV fills in.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SeccompNotif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: SeccompData,
}

/// `struct seccomp_notif_resp`: the supervisor's answer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SeccompNotifResp {
    pub id: u64,
    pub val: i64,
    pub error: i32,
    pub flags: u32,
}

/// `struct seccomp_notif_addfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SeccompNotifAddfd {
    pub id: u64,
    pub flags: u32,
    pub srcfd: u32,
    pub newfd: u32,
    pub newfd_flags: u32,
}

/// `struct seccomp_notif_sizes`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SeccompNotifSizes {
    pub seccomp_notif: u16,
    pub seccomp_notif_resp: u16,
    pub seccomp_data: u16,
}

// ---- classic BPF (linux/filter.h, linux/bpf_common.h) ----
/// `struct sock_filter`: one instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `struct sock_fprog`: a program's length and where its instructions are.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SockFprog {
    pub len: u16,
    pub _pad: [u8; 6],
    pub filter: u64,
}

/// Most instructions in one classic BPF program.
pub const BPF_MAXINSNS: usize = 4096;
/// Scratch memory words.
pub const BPF_MEMWORDS: u32 = 16;
// Instruction classes.
pub const BPF_LD: u16 = 0x00;
pub const BPF_LDX: u16 = 0x01;
pub const BPF_ST: u16 = 0x02;
pub const BPF_STX: u16 = 0x03;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_MISC: u16 = 0x07;
// ld/ldx sizes and modes.
pub const BPF_W: u16 = 0x00;
pub const BPF_H: u16 = 0x08;
pub const BPF_B: u16 = 0x10;
pub const BPF_IMM: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_IND: u16 = 0x40;
pub const BPF_MEM: u16 = 0x60;
pub const BPF_LEN: u16 = 0x80;
pub const BPF_MSH: u16 = 0xa0;
// alu/jmp operations.
pub const BPF_ADD: u16 = 0x00;
pub const BPF_SUB: u16 = 0x10;
pub const BPF_MUL: u16 = 0x20;
pub const BPF_DIV: u16 = 0x30;
pub const BPF_OR: u16 = 0x40;
pub const BPF_AND: u16 = 0x50;
pub const BPF_LSH: u16 = 0x60;
pub const BPF_RSH: u16 = 0x70;
pub const BPF_NEG: u16 = 0x80;
pub const BPF_MOD: u16 = 0x90;
pub const BPF_XOR: u16 = 0xa0;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_JSET: u16 = 0x40;
// Operand sources.
pub const BPF_K: u16 = 0x00;
pub const BPF_X: u16 = 0x08;
// ret sources and misc operations.
pub const BPF_A: u16 = 0x10;
pub const BPF_TAX: u16 = 0x00;
pub const BPF_TXA: u16 = 0x80;
/// Offsets at and past this load ancillary data (socket filters only).
pub const SKF_AD_OFF: u32 = 0xffff_f000;
