// SPDX-License-Identifier: Apache-2.0
//! Classic BPF for seccomp filters: the checks Linux makes before a filter is attached
//! (`bpf_check_classic` in net/core/filter.c, then `seccomp_check_filter` in kernel/seccomp.c)
//! and an interpreter over `struct seccomp_data` (gVisor `pkg/bpf`).
//!
//! Written here rather than taken from a crate: `seccompiler` (which the sentry uses for its own
//! confinement) only compiles rules into BPF, `rbpf` and its kin run eBPF, and no crate we know
//! of checks and runs classic BPF with Linux's seccomp rules. It is small: a checked program
//! has only forward jumps, so a run takes at most one step per instruction (bounded by
//! [`BPF_MAXINSNS`]) and cannot fail: every load was checked to lie in `seccomp_data`, every
//! scratch-word index is below 16, every jump lands inside the program, and the last
//! instruction returns.

use syscalls::abi::*;
use syscalls::Errno;

/// A program that passed [`check`]: only the instructions seccomp allows, every jump in range.
#[derive(Debug, Clone)]
pub struct Program {
    insns: Vec<SockFilter>,
    /// How long Linux's translation to eBPF is (what MAX_INSNS_PER_PATH counts).
    translated: usize,
}

/// The length of the eBPF program Linux's `bpf_convert_filter` makes of a checked seccomp
/// filter: three instructions of prologue, two for a RET K, four more for a division by X,
/// one more for a conditional jump on a negative (as i32) constant, and one more for a
/// conditional jump that needs both targets (a JSET with only a false target too).
fn translated_len(insns: &[SockFilter]) -> usize {
    3 + insns
        .iter()
        .map(|f| {
            let c = f.code;
            if c == BPF_RET | BPF_K {
                2
            } else if c == BPF_ALU | BPF_DIV | BPF_X {
                5
            } else if cond_jump(c) {
                let negative = c & BPF_X == 0 && (f.k as i32) < 0;
                let two = f.jf != 0 && (f.jt != 0 || c & 0xf0 == BPF_JSET);
                1 + usize::from(negative) + usize::from(two)
            } else {
                1
            }
        })
        .sum::<usize>()
}

fn cond_jump(code: u16) -> bool {
    code & 0x07 == BPF_JMP && code & 0xf0 != BPF_JA
}

/// Whether classic BPF has this opcode at all (Linux's `chk_code_allowed` table).
fn known_opcode(code: u16) -> bool {
    const ALU_OPS: [u16; 11] = [
        BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH,
        BPF_NEG,
    ];
    match code & 0x07 {
        BPF_ALU => {
            let op = code & 0xf0;
            let src = code & 0x08;
            code & !0xf8 == BPF_ALU && ALU_OPS.contains(&op) && (op != BPF_NEG || src == 0)
        }
        BPF_LD => matches!(
            code,
            0x20 | 0x28 | 0x30 // W/H/B ABS
                | 0x40 | 0x48 | 0x50 // W/H/B IND
                | 0x80 // W LEN
                | 0x00 // IMM
                | 0x60 // MEM
        ),
        BPF_LDX => matches!(code, 0x81 | 0xb1 | 0x01 | 0x61), // W LEN, B MSH, IMM, MEM
        BPF_ST | BPF_STX => code & !0x07 == 0,
        BPF_MISC => code == BPF_MISC | BPF_TAX || code == BPF_MISC | BPF_TXA,
        BPF_RET => code == BPF_RET | BPF_K || code == BPF_RET | BPF_A,
        BPF_JMP => {
            let op = code & 0xf0;
            if op == BPF_JA {
                code == BPF_JMP | BPF_JA
            } else {
                code & !0xf8 == BPF_JMP && matches!(op, BPF_JEQ | BPF_JGT | BPF_JGE | BPF_JSET)
            }
        }
        _ => false,
    }
}

/// Checks a filter as Linux does before attaching it; every failure is EINVAL. Returns the
/// program with the length loads turned into immediates, as seccomp rewrites them.
pub fn check(mut insns: Vec<SockFilter>) -> Result<Program, Errno> {
    let flen = insns.len();
    if flen == 0 || flen > BPF_MAXINSNS {
        return Err(Errno::EINVAL);
    }
    // bpf_check_classic.
    for (pc, f) in insns.iter().enumerate() {
        if !known_opcode(f.code) {
            return Err(Errno::EINVAL);
        }
        let left = flen - pc - 1; // instructions after this one
        let c = f.code;
        let bad = if c == BPF_ALU | BPF_DIV | BPF_K || c == BPF_ALU | BPF_MOD | BPF_K {
            f.k == 0
        } else if c == BPF_ALU | BPF_LSH | BPF_K || c == BPF_ALU | BPF_RSH | BPF_K {
            f.k >= 32
        } else if c == BPF_LD | BPF_MEM || c == BPF_LDX | BPF_MEM || c == BPF_ST || c == BPF_STX {
            f.k >= BPF_MEMWORDS
        } else if c == BPF_JMP | BPF_JA {
            f.k as usize >= left
        } else if cond_jump(c) {
            usize::from(f.jt) >= left || usize::from(f.jf) >= left
        } else if c & 0x07 == BPF_LD && c & 0xe0 == BPF_ABS {
            // No ancillary loads exist for seccomp (seccomp_check_filter refuses all but the
            // word load anyway).
            f.k >= SKF_AD_OFF
        } else {
            false
        };
        if bad {
            return Err(Errno::EINVAL);
        }
    }
    let last = insns[flen - 1].code;
    if last != BPF_RET | BPF_K && last != BPF_RET | BPF_A {
        return Err(Errno::EINVAL);
    }
    check_load_and_stores(&insns)?;
    // seccomp_check_filter: only these, loads only of aligned words inside seccomp_data.
    let data_len = std::mem::size_of::<SeccompData>() as u32;
    for f in insns.iter_mut() {
        let c = f.code;
        match c {
            _ if c == BPF_LD | BPF_W | BPF_ABS => {
                if f.k >= data_len || f.k & 3 != 0 {
                    return Err(Errno::EINVAL);
                }
            }
            _ if c == BPF_LD | BPF_W | BPF_LEN => {
                f.code = BPF_LD | BPF_IMM;
                f.k = data_len;
            }
            _ if c == BPF_LDX | BPF_W | BPF_LEN => {
                f.code = BPF_LDX | BPF_IMM;
                f.k = data_len;
            }
            _ if c & 0x07 == BPF_ALU => {
                // Every ALU operation but BPF_MOD (never added to seccomp's list).
                if c & 0xf0 == BPF_MOD {
                    return Err(Errno::EINVAL);
                }
            }
            _ if c == BPF_RET | BPF_K
                || c == BPF_RET | BPF_A
                || c == BPF_LD | BPF_IMM
                || c == BPF_LDX | BPF_IMM
                || c == BPF_MISC | BPF_TAX
                || c == BPF_MISC | BPF_TXA
                || c == BPF_LD | BPF_MEM
                || c == BPF_LDX | BPF_MEM
                || c == BPF_ST
                || c == BPF_STX
                || c & 0x07 == BPF_JMP => {}
            _ => return Err(Errno::EINVAL),
        }
    }
    let translated = translated_len(&insns);
    Ok(Program { insns, translated })
}

/// Linux's `check_load_and_stores`: a scratch word may be loaded only if every path to the load
/// stored it first.
fn check_load_and_stores(insns: &[SockFilter]) -> Result<(), Errno> {
    let mut masks = vec![u16::MAX; insns.len()];
    let mut memvalid: u16 = 0;
    for (pc, f) in insns.iter().enumerate() {
        memvalid &= masks[pc];
        let c = f.code;
        if c == BPF_ST || c == BPF_STX {
            memvalid |= 1 << f.k;
        } else if c == BPF_LD | BPF_MEM || c == BPF_LDX | BPF_MEM {
            if memvalid & (1 << f.k) == 0 {
                return Err(Errno::EINVAL);
            }
        } else if c == BPF_JMP | BPF_JA {
            masks[pc + 1 + f.k as usize] &= memvalid;
            memvalid = u16::MAX;
        } else if cond_jump(c) {
            masks[pc + 1 + usize::from(f.jt)] &= memvalid;
            masks[pc + 1 + usize::from(f.jf)] &= memvalid;
            memvalid = u16::MAX;
        }
    }
    Ok(())
}

impl Program {
    /// How many instructions the program has.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// How many instructions Linux counts for the program against MAX_INSNS_PER_PATH (the
    /// length of its eBPF translation).
    pub fn path_len(&self) -> usize {
        self.translated
    }

    /// Whether the program is empty (never, once checked).
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Runs the program over `data` (`struct seccomp_data` as bytes) and returns its verdict.
    pub fn run(&self, data: &[u8; 64]) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; BPF_MEMWORDS as usize];
        let mut pc = 0usize;
        // Every jump goes forward, so this loop takes at most `len` steps; the bound on `pc`
        // is checked anyway (a program that fell off the end would have failed `check`).
        while let Some(f) = self.insns.get(pc) {
            pc += 1;
            let k = f.k;
            let c = f.code;
            match c & 0x07 {
                BPF_LD | BPF_LDX => {
                    let v = match c & 0xe0 {
                        BPF_ABS => {
                            let o = k as usize;
                            data.get(o..o + 4)
                                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                                .unwrap_or(0)
                        }
                        BPF_MEM => mem[(k & 15) as usize],
                        _ => k, // BPF_IMM (the LEN loads were turned into immediates)
                    };
                    if c & 0x07 == BPF_LD {
                        a = v;
                    } else {
                        x = v;
                    }
                }
                BPF_ST => mem[(k & 15) as usize] = a,
                BPF_STX => mem[(k & 15) as usize] = x,
                BPF_ALU => {
                    let src = if c & BPF_X != 0 { x } else { k };
                    a = match c & 0xf0 {
                        BPF_ADD => a.wrapping_add(src),
                        BPF_SUB => a.wrapping_sub(src),
                        BPF_MUL => a.wrapping_mul(src),
                        // Linux turns a division by a zero X into "return 0".
                        BPF_DIV if src == 0 => return 0,
                        BPF_DIV => a / src,
                        BPF_OR => a | src,
                        BPF_AND => a & src,
                        BPF_XOR => a ^ src,
                        BPF_LSH => a.wrapping_shl(src & 31),
                        BPF_RSH => a.wrapping_shr(src & 31),
                        BPF_NEG => a.wrapping_neg(),
                        _ => return 0,
                    };
                }
                BPF_JMP => {
                    let src = if c & BPF_X != 0 { x } else { k };
                    let taken = match c & 0xf0 {
                        BPF_JA => {
                            pc = pc.saturating_add(k as usize);
                            continue;
                        }
                        BPF_JEQ => a == src,
                        BPF_JGT => a > src,
                        BPF_JGE => a >= src,
                        _ => a & src != 0, // BPF_JSET
                    };
                    pc += usize::from(if taken { f.jt } else { f.jf });
                }
                BPF_RET => return if c & 0x18 == BPF_A { a } else { k },
                _ => {
                    // BPF_MISC
                    if c & 0xf8 == BPF_TXA {
                        a = x;
                    } else {
                        x = a;
                    }
                }
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(code: u16, k: u32) -> SockFilter {
        SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    fn data(nr: i32, arg0: u64) -> [u8; 64] {
        let d = SeccompData {
            nr,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0x1234,
            args: [arg0, 0, 0, 0, 0, 0],
        };
        let mut b = [0u8; 64];
        b.copy_from_slice(syscalls::bytes_of(&d));
        b
    }

    #[test]
    fn filters_by_number_and_argument() {
        let p = check(vec![
            stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            jump(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 3),
            stmt(BPF_LD | BPF_W | BPF_ABS, 16),
            jump(BPF_JMP | BPF_JGE | BPF_K, 100, 0, 1),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        ])
        .expect("valid");
        assert_eq!(p.run(&data(39, 5)), SECCOMP_RET_ALLOW);
        assert_eq!(p.run(&data(39, 500)), SECCOMP_RET_ERRNO | 1);
        assert_eq!(p.run(&data(1, 500)), SECCOMP_RET_ALLOW);
    }

    #[test]
    fn arithmetic_scratch_and_length() {
        let p = check(vec![
            stmt(BPF_LD | BPF_W | BPF_LEN, 0),
            stmt(BPF_ST, 3),
            stmt(BPF_LDX | BPF_IMM, 4),
            stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
            stmt(BPF_MISC | BPF_TAX, 0),
            stmt(BPF_LD | BPF_MEM, 3),
            stmt(BPF_ALU | BPF_SUB | BPF_X, 0),
            stmt(BPF_RET | BPF_A, 0),
        ])
        .expect("valid");
        assert_eq!(p.run(&data(0, 0)), 64 - 16);
        // Division by a zero X returns 0.
        let z = check(vec![
            stmt(BPF_LDX | BPF_IMM, 0),
            stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        ])
        .expect("valid");
        assert_eq!(z.run(&data(0, 0)), 0);
    }

    #[test]
    fn counts_the_ebpf_translation() {
        // Prologue 3; RET K 2; a load 1; a JEQ on a negative constant with both targets 3.
        let p = check(vec![
            stmt(BPF_LD | BPF_W | BPF_ABS, 4),
            jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 2),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            stmt(BPF_RET | BPF_A, 0),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        ])
        .expect("valid");
        assert_eq!(p.path_len(), 3 + 1 + 3 + 2 + 1 + 2);
        let all_ret = check(vec![stmt(BPF_RET | BPF_K, 0); BPF_MAXINSNS]).expect("valid");
        assert_eq!(all_ret.path_len(), 3 + 2 * BPF_MAXINSNS);
    }

    #[test]
    fn refuses_what_linux_refuses() {
        let ret = stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        let bad = |p: Vec<SockFilter>| assert_eq!(check(p).err(), Some(Errno::EINVAL));
        bad(vec![]);
        bad(vec![ret; BPF_MAXINSNS + 1]);
        bad(vec![stmt(BPF_LD | BPF_W | BPF_ABS, 0)]); // no final return
        bad(vec![stmt(BPF_LD | BPF_W | BPF_ABS, 2), ret]); // unaligned
        bad(vec![stmt(BPF_LD | BPF_W | BPF_ABS, 64), ret]); // past seccomp_data
        bad(vec![stmt(BPF_LD | BPF_H | BPF_ABS, 0), ret]); // half-word load
        bad(vec![stmt(BPF_LD | BPF_W | BPF_IND, 0), ret]);
        bad(vec![stmt(BPF_LDX | BPF_B | BPF_MSH, 0), ret]);
        bad(vec![jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), ret]); // jump past the end
        bad(vec![stmt(BPF_JMP | BPF_JA, 1), ret]);
        bad(vec![stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret]);
        bad(vec![stmt(BPF_ALU | BPF_LSH | BPF_K, 32), ret]);
        bad(vec![stmt(BPF_ALU | BPF_MOD | BPF_K, 3), ret]); // MOD: not for seccomp
        bad(vec![stmt(BPF_LD | BPF_MEM, 0), ret]); // loaded before stored
        bad(vec![stmt(BPF_ST, 16), ret]);
        bad(vec![stmt(0xffff, 0), ret]);
        assert!(check(vec![ret]).is_ok());
        assert!(check(vec![ret; BPF_MAXINSNS]).is_ok());
    }
}
