// SPDX-License-Identifier: Apache-2.0
//! The systrap stub's image (a static ELF of two pages: code, read-only data) and its two
//! seccomp filters, in classic BPF (seccompiler matches numbers and arguments, not the
//! instruction pointer, so these are written by hand, as the ptrace platform's backstop is).
//!
//! - The **backstop**, installed by the template before anything else runs and inherited by
//!   every thread of every stub: a host system call is allowed only if it was made from the
//!   stub's code page; any other traps (SIGSYS). The syscall thread, which blocks every
//!   signal, would die of that trap: it can only ever run the stub's code.
//! - The **application filter**, stacked on each application thread by the thread itself
//!   before its first application instruction: every system call traps, except four made from
//!   the stub's code page, each harmless whatever its arguments: `rt_sigreturn` (a thread can
//!   set its own registers anyway), `exit` (of the thread itself), `sched_yield`, and `futex`
//!   restricted to FUTEX_WAIT/FUTEX_WAKE on a word of the thread regions (the process's own
//!   shared pages: waking or waiting there can only disturb the process's own handshakes,
//!   which both sides re-check after every wake).

use super::layout::*;
use super::stub_code::{self, Entries};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JGT_K: u16 = 0x25;
const RET_K: u16 = 0x06;

// struct seccomp_data offsets.
const NR: u32 = 0;
const ARCH: u32 = 4;
const IP_LO: u32 = 8;
const IP_HI: u32 = 12;
const fn arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
const fn arg_hi(i: u32) -> u32 {
    20 + 8 * i
}

/// One BPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

impl Insn {
    fn bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0..2].copy_from_slice(&self.code.to_le_bytes());
        b[2] = self.jt;
        b[3] = self.jf;
        b[4..8].copy_from_slice(&self.k.to_le_bytes());
        b
    }
}

/// A small assembler with forward labels to the two exits.
struct Prog {
    ins: Vec<(Insn, Option<(Target, Target)>)>,
}

#[derive(Clone, Copy)]
enum Target {
    Next,
    Trap,
    Allow,
    Skip(u8),
}

impl Prog {
    fn new() -> Self {
        Prog { ins: Vec::new() }
    }
    fn ld(&mut self, off: u32) {
        self.ins.push((
            Insn {
                code: LD_W_ABS,
                jt: 0,
                jf: 0,
                k: off,
            },
            None,
        ));
    }
    fn jump(&mut self, code: u16, k: u32, t: Target, f: Target) {
        self.ins.push((
            Insn {
                code,
                jt: 0,
                jf: 0,
                k,
            },
            Some((t, f)),
        ));
    }
    /// Resolves the jumps: the program ends with `TRAP` then `ALLOW`.
    fn finish(self) -> Vec<Insn> {
        let n = self.ins.len();
        let trap = n;
        let allow = n + 1;
        let mut out = Vec::with_capacity(n + 2);
        for (i, (mut insn, j)) in self.ins.into_iter().enumerate() {
            if let Some((t, f)) = j {
                let off = |x: Target| -> u8 {
                    let to = match x {
                        Target::Next => i + 1,
                        Target::Trap => trap,
                        Target::Allow => allow,
                        Target::Skip(s) => i + 1 + usize::from(s),
                    };
                    u8::try_from(to - i - 1).unwrap_or(u8::MAX)
                };
                insn.jt = off(t);
                insn.jf = off(f);
            }
            out.push(insn);
        }
        out.push(Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_TRAP,
        });
        out.push(Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        });
        out
    }
    /// Traps unless the call is a 64-bit one from the stub's code page.
    fn only_from_stub_code(&mut self) {
        self.ld(ARCH);
        self.jump(JEQ_K, AUDIT_ARCH_X86_64, Target::Next, Target::Trap);
        self.ld(IP_HI);
        self.jump(JEQ_K, (CODE >> 32) as u32, Target::Next, Target::Trap);
        self.ld(IP_LO);
        // (CODE, CODE_END]: the address after a `syscall` in the page.
        self.jump(JGT_K, CODE as u32, Target::Next, Target::Trap);
        self.jump(JGT_K, CODE_END as u32, Target::Trap, Target::Next);
    }
}

/// The backstop filter.
pub fn backstop() -> Vec<Insn> {
    let mut p = Prog::new();
    p.only_from_stub_code();
    p.jump(JEQ_K, 0, Target::Allow, Target::Allow);
    p.finish()
}

/// The application threads' filter.
pub fn app() -> Vec<Insn> {
    let mut p = Prog::new();
    p.only_from_stub_code();
    p.ld(NR);
    p.jump(JEQ_K, 15, Target::Allow, Target::Next); // rt_sigreturn
    p.jump(JEQ_K, 60, Target::Allow, Target::Next); // exit
    p.jump(JEQ_K, 24, Target::Allow, Target::Next); // sched_yield
    p.jump(JEQ_K, 202, Target::Next, Target::Trap); // futex
    p.ld(arg_hi(1));
    p.jump(JEQ_K, 0, Target::Next, Target::Trap);
    p.ld(arg_lo(1));
    p.jump(JEQ_K, 0, Target::Skip(1), Target::Next); // FUTEX_WAIT
    p.jump(JEQ_K, 1, Target::Next, Target::Trap); // FUTEX_WAKE
    p.ld(arg_hi(0));
    p.jump(
        JEQ_K,
        (STUB_THREADS >> 32) as u32,
        Target::Next,
        Target::Trap,
    );
    p.ld(arg_lo(0));
    p.jump(JGE_K, STUB_THREADS as u32, Target::Next, Target::Trap);
    p.jump(JGE_K, STUB_END as u32, Target::Trap, Target::Allow);
    p.finish()
}

/// What the image holds beside its bytes: where its entry points are.
#[derive(Debug, Clone, Copy)]
pub struct Image {
    /// Absolute addresses of the stub's entry points.
    pub handler: u64,
    /// rt_sigreturn.
    pub restorer: u64,
    /// The syscall thread's loop.
    pub s_entry: u64,
    /// `syscall; int3`.
    pub inject: u64,
}

/// Builds the stub image: returns its bytes and its entry points.
pub fn build() -> (Vec<u8>, Image) {
    let (code, e): (&[u8], Entries) = stub_code::code();
    let base = CODE_TEXT;
    let img_meta = Image {
        handler: base + e.handler,
        restorer: base + e.restorer,
        s_entry: base + e.s_entry,
        inject: base + e.inject,
    };
    let mut img = vec![0u8; 0x2000];
    let put = |img: &mut Vec<u8>, off: usize, bytes: &[u8]| {
        img[off..off + bytes.len()].copy_from_slice(bytes);
    };
    put(&mut img, 0, b"\x7fELF\x02\x01\x01\x00");
    put(&mut img, 16, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut img, 18, &62u16.to_le_bytes()); // EM_X86_64
    put(&mut img, 20, &1u32.to_le_bytes()); // EV_CURRENT
    put(&mut img, 24, &(img_meta.inject + 2).to_le_bytes()); // e_entry: an int3
    put(&mut img, 32, &64u64.to_le_bytes()); // e_phoff
    put(&mut img, 52, &64u16.to_le_bytes()); // e_ehsize
    put(&mut img, 54, &56u16.to_le_bytes()); // e_phentsize
    put(&mut img, 56, &2u16.to_le_bytes()); // e_phnum
    for (i, (off, flags)) in [(0u64, 5u32), (0x1000u64, 4u32)].into_iter().enumerate() {
        let ph = 64 + i * 56;
        put(&mut img, ph, &1u32.to_le_bytes()); // PT_LOAD
        put(&mut img, ph + 4, &flags.to_le_bytes());
        put(&mut img, ph + 8, &off.to_le_bytes());
        put(&mut img, ph + 16, &(STUB_BASE + off).to_le_bytes());
        put(&mut img, ph + 24, &(STUB_BASE + off).to_le_bytes());
        put(&mut img, ph + 32, &0x1000u64.to_le_bytes());
        put(&mut img, ph + 40, &0x1000u64.to_le_bytes());
        put(&mut img, ph + 48, &0x1000u64.to_le_bytes());
    }
    let text = (CODE_TEXT - CODE) as usize;
    put(&mut img, text, code);
    // Data page.
    let d = (DATA - STUB_BASE) as usize;
    let prog = |img: &mut Vec<u8>, at: u64, insns_at: u64, insns: &[Insn]| {
        put(img, d + at as usize, &(insns.len() as u16).to_le_bytes());
        put(img, d + at as usize + 8, &(DATA + insns_at).to_le_bytes());
        for (i, ins) in insns.iter().enumerate() {
            put(img, d + insns_at as usize + i * 8, &ins.bytes());
        }
    };
    prog(&mut img, D_BACKSTOP_PROG, D_BACKSTOP, &backstop());
    prog(&mut img, D_APP_PROG, D_APP, &app());
    put(&mut img, d + D_FULL_MASK as usize, &u64::MAX.to_le_bytes());
    // struct sigaction (kernel): handler, flags, restorer, mask.
    const SA_SIGINFO: u64 = 4;
    const SA_ONSTACK: u64 = 0x0800_0000;
    const SA_RESTORER: u64 = 0x0400_0000;
    let sa = d + D_SIGACTION as usize;
    put(&mut img, sa, &img_meta.handler.to_le_bytes());
    put(
        &mut img,
        sa + 8,
        &(SA_SIGINFO | SA_ONSTACK | SA_RESTORER).to_le_bytes(),
    );
    put(&mut img, sa + 16, &img_meta.restorer.to_le_bytes());
    put(&mut img, sa + 24, &u64::MAX.to_le_bytes());
    (img, img_meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_fits_and_parses() {
        let (img, meta) = build();
        let (code, _) = stub_code::code();
        assert!(CODE_TEXT - CODE + code.len() as u64 <= 0x1000);
        assert!(D_BACKSTOP + backstop().len() as u64 * 8 <= D_APP);
        assert!(D_APP + app().len() as u64 * 8 <= 0x1000);
        let elf = goblin::elf::Elf::parse(&img).expect("stub image parses");
        assert_eq!(elf.program_headers.len(), 2);
        assert_eq!(
            &img[(meta.inject - STUB_BASE) as usize..][..3],
            &[0x0f, 0x05, 0xcc]
        );
        assert_eq!(
            &img[(meta.restorer - STUB_BASE) as usize..][..7],
            &[0xb8, 15, 0, 0, 0, 0x0f, 0x05]
        );
    }

    /// Runs a classic BPF filter (the subset used here) on a `seccomp_data`.
    fn run(prog: &[Insn], nr: u32, ip: u64, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&AUDIT_ARCH_X86_64.to_le_bytes());
        data[8..16].copy_from_slice(&ip.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let mut a = 0u32;
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            match i.code {
                LD_W_ABS => {
                    let o = i.k as usize;
                    a = u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
                    pc += 1;
                }
                RET_K => return i.k,
                JEQ_K | JGE_K | JGT_K => {
                    let c = match i.code {
                        JEQ_K => a == i.k,
                        JGE_K => a >= i.k,
                        _ => a > i.k,
                    };
                    pc += 1 + usize::from(if c { i.jt } else { i.jf });
                }
                _ => panic!("unexpected insn"),
            }
        }
    }

    #[test]
    fn filters_decide_as_documented() {
        let b = backstop();
        let a = app();
        let in_code = CODE_TEXT + 0x40;
        let app_ip = 0x40_1000;
        let region = STUB_THREADS + 3 * REGION;
        // Backstop: anything from the code page, nothing from elsewhere.
        assert_eq!(run(&b, 9, in_code, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&b, 9, CODE_END, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(&b, 9, CODE, [0; 6]), SECCOMP_RET_TRAP);
        assert_eq!(run(&b, 9, CODE_END + 1, [0; 6]), SECCOMP_RET_TRAP);
        assert_eq!(run(&b, 9, app_ip, [0; 6]), SECCOMP_RET_TRAP);
        // Application filter.
        for nr in [15, 60, 24] {
            assert_eq!(run(&a, nr, in_code, [0; 6]), SECCOMP_RET_ALLOW);
            assert_eq!(run(&a, nr, app_ip, [0; 6]), SECCOMP_RET_TRAP);
        }
        for nr in [0, 1, 9, 10, 11, 25, 56, 57, 59, 231, 317, 310, 311, 157] {
            assert_eq!(run(&a, nr, in_code, [0; 6]), SECCOMP_RET_TRAP, "nr {nr}");
        }
        assert_eq!(
            run(&a, 202, in_code, [region, 0, 2, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&a, 202, in_code, [region, 1, 1, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&a, 202, app_ip, [region, 1, 1, 0, 0, 0]),
            SECCOMP_RET_TRAP
        );
        for op in [2, 6, 9, 128, 129, 1 << 32] {
            assert_eq!(
                run(&a, 202, in_code, [region, op, 1, 0, 0, 0]),
                SECCOMP_RET_TRAP
            );
        }
        for addr in [
            REQ,
            RESP,
            STUB_END,
            STUB_THREADS - 4,
            0x1000,
            0x7fff_0000_0000,
        ] {
            assert_eq!(
                run(&a, 202, in_code, [addr, 1, 1, 0, 0, 0]),
                SECCOMP_RET_TRAP
            );
        }
    }
}
