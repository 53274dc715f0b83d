// SPDX-License-Identifier: Apache-2.0
//! The stub: a tiny static executable of ours that every application process starts from.
//!
//! It is two pages at a fixed address near the top of user space. The code page holds the one
//! `syscall` instruction through which the sentry injects host system calls (followed by an
//! `int3` that stops the stub again); the data page holds a seccomp filter that the sentry
//! installs as a backstop (any host system call not made from that instruction kills the
//! process, so a stub that somehow ran free could do nothing) and scratch space for injected
//! calls that need memory (recvmsg of a donated file descriptor).

/// Where the stub's image is mapped.
pub const STUB_BASE: u64 = 0x7fff_ff00_0000;
/// The injection point: `syscall; int3; jmp back`.
pub const STUB_CODE: u64 = STUB_BASE + 0x800;
/// The address a host system call made from the injection point reports as its instruction
/// pointer.
pub const STUB_SYSCALL_RET: u64 = STUB_CODE + 2;
/// The clone point: `syscall`; the parent stops at an `int3`, the child parks itself in a
/// futex wait (untraced, it can do nothing else) until a sentry thread seizes it.
pub const STUB_CLONE: u64 = STUB_BASE + 0x840;
/// Instruction pointer of the clone system call.
pub const STUB_CLONE_RET: u64 = STUB_CLONE + 2;
/// Where the parent stops after an injected clone (past its `int3`).
pub const STUB_CLONE_PARENT_STOP: u64 = STUB_CLONE + 8;
/// Instruction pointer of the parked child's futex wait.
pub const STUB_PARK_RET: u64 = STUB_CLONE + 32;
/// An atomic compare-and-exchange on application memory, for the futex operations that must
/// change a futex word atomically (the PI ones): `mov eax, esi; lock cmpxchg [rdi], edx; int3`.
/// The old value is left in `eax`.
pub const STUB_CMPXCHG: u64 = STUB_BASE + 0x880;
/// Where the thread stops after [`STUB_CMPXCHG`].
pub const STUB_CMPXCHG_STOP: u64 = STUB_CMPXCHG + 7;
/// The stub's read-write data page.
pub const STUB_DATA: u64 = STUB_BASE + 0x1000;
/// End of the stub's image.
pub const STUB_END: u64 = STUB_BASE + 0x2000;

/// Offsets in the data page.
pub const DATA_FPROG: u64 = 0;
/// The BPF program itself.
pub const DATA_FILTER: u64 = 16;
/// A `struct msghdr` for receiving donated fds.
pub const DATA_MSGHDR: u64 = 256;
/// Its one `struct iovec`.
pub const DATA_IOV: u64 = DATA_MSGHDR + 56;
/// Its one-byte buffer.
pub const DATA_BYTE: u64 = 344;
/// Its control buffer (room for one `SCM_RIGHTS` fd).
pub const DATA_CMSG: u64 = 352;
/// Size of the control buffer: CMSG_SPACE(sizeof(int)).
pub const CMSG_SPACE_ONE_FD: u64 = 24;
/// A `struct sigaction` ignoring a signal (SIGCHLD: stubs never wait for their children).
pub const DATA_SIGIGN: u64 = 384;
/// The word a parked child waits on (always 0).
pub const DATA_PARK: u64 = 448;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// The backstop filter, in classic BPF: a host system call is allowed only from the stub's
/// injection and clone points, or the futex wait of a parked child; anything else kills the
/// process. (seccompiler matches numbers and arguments, not the instruction pointer, so this one
/// is written by hand.)
pub fn backstop_filter() -> Vec<[u8; 8]> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let ins = |code: u16, jt: u8, jf: u8, k: u32| {
        let mut b = [0u8; 8];
        b[0..2].copy_from_slice(&code.to_le_bytes());
        b[2] = jt;
        b[3] = jf;
        b[4..8].copy_from_slice(&k.to_le_bytes());
        b
    };
    const _: () = assert!(STUB_SYSCALL_RET >> 32 == STUB_PARK_RET >> 32);
    vec![
        /* 0 */ ins(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        /* 1 */ ins(JEQ_K, 0, 9, AUDIT_ARCH_X86_64),
        /* 2 */ ins(LD_W_ABS, 0, 0, 12), // instruction_pointer, high half
        /* 3 */ ins(JEQ_K, 0, 7, (STUB_SYSCALL_RET >> 32) as u32),
        /* 4 */ ins(LD_W_ABS, 0, 0, 8), // instruction_pointer, low half
        /* 5 */ ins(JEQ_K, 4, 0, STUB_SYSCALL_RET as u32),
        /* 6 */ ins(JEQ_K, 3, 0, STUB_CLONE_RET as u32),
        /* 7 */ ins(JEQ_K, 0, 3, STUB_PARK_RET as u32),
        /* 8 */ ins(LD_W_ABS, 0, 0, 0), // nr
        /* 9 */ ins(JEQ_K, 0, 1, 202), // futex
        /* 10 */ ins(RET_K, 0, 0, SECCOMP_RET_ALLOW),
        /* 11 */ ins(RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
    ]
}

/// The clone point's code (see [`STUB_CLONE`]).
fn clone_code() -> Vec<u8> {
    let mut c = vec![
        0x0f, 0x05, // syscall (clone)
        0x48, 0x85, 0xc0, // test rax, rax
        0x74, 0x01, // jz child
        0xcc, // int3 (parent)
        // child:
        0xb8, 0xca, 0x00, 0x00, 0x00, // mov eax, 202 (futex)
        0x48, 0xbf, // movabs rdi, imm64
    ];
    c.extend_from_slice(&(STUB_DATA + DATA_PARK).to_le_bytes());
    c.extend_from_slice(&[
        0x31, 0xf6, // xor esi, esi (FUTEX_WAIT)
        0x31, 0xd2, // xor edx, edx (val 0)
        0x4d, 0x31, 0xd2, // xor r10, r10 (no timeout)
        0x0f, 0x05, // syscall
        0xeb, 0xe6, // jmp child
    ]);
    c
}

/// Builds the stub's ELF image: one read-execute page (headers and code) and one read-write
/// page (the filter and scratch space).
pub fn build() -> Vec<u8> {
    let mut img = vec![0u8; 0x2000];
    let put = |img: &mut Vec<u8>, off: usize, bytes: &[u8]| {
        img[off..off + bytes.len()].copy_from_slice(bytes);
    };
    // ELF header.
    put(&mut img, 0, b"\x7fELF\x02\x01\x01\x00");
    put(&mut img, 16, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut img, 18, &62u16.to_le_bytes()); // EM_X86_64
    put(&mut img, 20, &1u32.to_le_bytes()); // EV_CURRENT
    put(&mut img, 24, &(STUB_CODE + 2).to_le_bytes()); // e_entry: the int3
    put(&mut img, 32, &64u64.to_le_bytes()); // e_phoff
    put(&mut img, 52, &64u16.to_le_bytes()); // e_ehsize
    put(&mut img, 54, &56u16.to_le_bytes()); // e_phentsize
    put(&mut img, 56, &2u16.to_le_bytes()); // e_phnum
                                            // Program headers: PT_LOAD R+X for page 0, PT_LOAD R+W for page 1.
    for (i, (off, flags)) in [(0u64, 5u32), (0x1000u64, 6u32)].into_iter().enumerate() {
        let ph = 64 + i * 56;
        put(&mut img, ph, &1u32.to_le_bytes()); // PT_LOAD
        put(&mut img, ph + 4, &flags.to_le_bytes());
        put(&mut img, ph + 8, &off.to_le_bytes()); // p_offset
        put(&mut img, ph + 16, &(STUB_BASE + off).to_le_bytes()); // p_vaddr
        put(&mut img, ph + 24, &(STUB_BASE + off).to_le_bytes()); // p_paddr
        put(&mut img, ph + 32, &0x1000u64.to_le_bytes()); // p_filesz
        put(&mut img, ph + 40, &0x1000u64.to_le_bytes()); // p_memsz
        put(&mut img, ph + 48, &0x1000u64.to_le_bytes()); // p_align
    }
    // Code: syscall; int3; jmp back to the syscall.
    put(
        &mut img,
        (STUB_CODE - STUB_BASE) as usize,
        &[0x0f, 0x05, 0xcc, 0xeb, 0xfb],
    );
    put(&mut img, (STUB_CLONE - STUB_BASE) as usize, &clone_code());
    // mov eax, esi; lock cmpxchg dword [rdi], edx; int3
    put(
        &mut img,
        (STUB_CMPXCHG - STUB_BASE) as usize,
        &[0x89, 0xf0, 0xf0, 0x0f, 0xb1, 0x17, 0xcc],
    );
    // Data: struct sock_fprog { u16 len; u64 filter; } and the filter.
    let filter = backstop_filter();
    let d = 0x1000usize;
    put(
        &mut img,
        d + DATA_FPROG as usize,
        &(filter.len() as u16).to_le_bytes(),
    );
    put(
        &mut img,
        d + DATA_FPROG as usize + 8,
        &(STUB_DATA + DATA_FILTER).to_le_bytes(),
    );
    for (i, ins) in filter.iter().enumerate() {
        put(&mut img, d + DATA_FILTER as usize + i * 8, ins);
    }
    // struct sigaction { handler = SIG_IGN, flags, restorer, mask }.
    put(&mut img, d + DATA_SIGIGN as usize, &1u64.to_le_bytes());
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_is_a_loadable_elf() {
        let img = build();
        let elf = goblin::elf::Elf::parse(&img).expect("stub image parses");
        assert_eq!(elf.entry, STUB_CODE + 2);
        assert_eq!(elf.program_headers.len(), 2);
        assert_eq!(&img[0x800..0x802], &[0x0f, 0x05]);
        assert!(backstop_filter().len() * 8 + DATA_FILTER as usize <= DATA_MSGHDR as usize);
        let code = clone_code();
        // The parked child's syscall ends where the filter expects, and its jump lands on the
        // child's first instruction.
        assert_eq!(&code[30..32], &[0x0f, 0x05]);
        assert_eq!(STUB_CLONE + 32, STUB_PARK_RET);
        assert_eq!(34i64 + i64::from(code[33] as i8), 8);
        assert_eq!(code[7], 0xcc);
    }
}
