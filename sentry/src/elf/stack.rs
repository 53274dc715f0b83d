// SPDX-License-Identifier: Apache-2.0
//! The initial process stack: argc, argv, envp, auxv and the strings they point at, laid out
//! as Linux's `create_elf_tables` does.

use syscalls::abi::*;

/// What goes on the initial stack.
pub struct StackSpec<'a> {
    /// Arguments.
    pub argv: &'a [Vec<u8>],
    /// Environment.
    pub envp: &'a [Vec<u8>],
    /// The file name given to exec (AT_EXECFN).
    pub execfn: &'a [u8],
    /// 16 random bytes (AT_RANDOM).
    pub random: [u8; 16],
    /// Auxiliary vector entries, without AT_RANDOM, AT_EXECFN, AT_PLATFORM and AT_NULL (added
    /// here because they point into the stack).
    pub auxv: &'a [(u64, u64)],
}

/// A built stack image: `bytes` belong at `[sp, top)`.
pub struct StackImage {
    /// The initial stack pointer (16-byte aligned, pointing at argc).
    pub sp: u64,
    /// Contents from `sp` up to the top.
    pub bytes: Vec<u8>,
    /// Where the argument strings lie, `[start, end)` (/proc/[pid]/cmdline).
    pub args: (u64, u64),
    /// Where the environment strings lie (/proc/[pid]/environ).
    pub env: (u64, u64),
    /// The auxiliary vector as built (/proc/[pid]/auxv).
    pub auxv: Vec<(u64, u64)>,
}

/// Lays out the stack below `top`.
pub fn build(top: u64, spec: &StackSpec<'_>) -> StackImage {
    // Strings, from the top down: an 8-byte end marker, execfn, envp, argv; then platform and
    // random bytes.
    let mut strings: Vec<u8> = Vec::new(); // grows upward from `base`; computed at the end
    let mut argv_off = Vec::new();
    let mut envp_off = Vec::new();
    for a in spec.argv {
        argv_off.push(strings.len());
        strings.extend_from_slice(a);
        strings.push(0);
    }
    for e in spec.envp {
        envp_off.push(strings.len());
        strings.extend_from_slice(e);
        strings.push(0);
    }
    let execfn_off = strings.len();
    strings.extend_from_slice(spec.execfn);
    strings.push(0);
    let str_base = top - 8 - strings.len() as u64;
    let platform = b"x86_64\0";
    let platform_addr = str_base - platform.len() as u64;
    let random_addr = (platform_addr - 16) & !15;

    let mut auxv: Vec<(u64, u64)> = spec.auxv.to_vec();
    auxv.push((AT_RANDOM, random_addr));
    auxv.push((AT_EXECFN, str_base + execfn_off as u64));
    auxv.push((AT_PLATFORM, platform_addr));
    auxv.push((AT_NULL, 0));

    let words = 1 + spec.argv.len() + 1 + spec.envp.len() + 1 + auxv.len() * 2;
    let sp = (random_addr - words as u64 * 8) & !15;

    let mut bytes = vec![0u8; (top - sp) as usize];
    let mut w = 0usize;
    let mut push = |bytes: &mut Vec<u8>, v: u64| {
        bytes[w..w + 8].copy_from_slice(&v.to_le_bytes());
        w += 8;
    };
    push(&mut bytes, spec.argv.len() as u64);
    for o in &argv_off {
        push(&mut bytes, str_base + *o as u64);
    }
    push(&mut bytes, 0);
    for o in &envp_off {
        push(&mut bytes, str_base + *o as u64);
    }
    push(&mut bytes, 0);
    for (k, v) in auxv.iter() {
        push(&mut bytes, *k);
        push(&mut bytes, *v);
    }
    let at = |addr: u64| (addr - sp) as usize;
    bytes[at(random_addr)..at(random_addr) + 16].copy_from_slice(&spec.random);
    bytes[at(platform_addr)..at(platform_addr) + platform.len()].copy_from_slice(platform);
    bytes[at(str_base)..at(str_base) + strings.len()].copy_from_slice(&strings);
    let env_start = envp_off
        .first()
        .map(|o| str_base + *o as u64)
        .unwrap_or(str_base + execfn_off as u64);
    StackImage {
        sp,
        bytes,
        args: (str_base, env_start),
        env: (env_start, str_base + execfn_off as u64),
        auxv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.sp) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> Vec<u8> {
        let o = (addr - img.sp) as usize;
        img.bytes[o..]
            .iter()
            .take_while(|b| **b != 0)
            .copied()
            .collect()
    }

    #[test]
    fn layout_matches_the_abi() {
        let top = 0x7fff_0000_0000;
        let argv = vec![b"prog".to_vec(), b"-x".to_vec()];
        let envp = vec![b"A=1".to_vec()];
        let img = build(
            top,
            &StackSpec {
                argv: &argv,
                envp: &envp,
                execfn: b"/bin/prog",
                random: [7; 16],
                auxv: &[(AT_PAGESZ, 4096)],
            },
        );
        assert_eq!(img.sp % 16, 0);
        assert_eq!(img.sp + img.bytes.len() as u64, top);
        assert_eq!(word(&img, img.sp), 2);
        assert_eq!(cstr(&img, word(&img, img.sp + 8)), b"prog");
        assert_eq!(cstr(&img, word(&img, img.sp + 16)), b"-x");
        assert_eq!(word(&img, img.sp + 24), 0);
        assert_eq!(cstr(&img, word(&img, img.sp + 32)), b"A=1");
        assert_eq!(word(&img, img.sp + 40), 0);
        // auxv
        let mut a = img.sp + 48;
        let mut seen = std::collections::HashMap::new();
        loop {
            let (k, v) = (word(&img, a), word(&img, a + 8));
            a += 16;
            if k == AT_NULL {
                break;
            }
            seen.insert(k, v);
        }
        assert_eq!(seen[&AT_PAGESZ], 4096);
        assert_eq!(cstr(&img, seen[&AT_EXECFN]), b"/bin/prog");
        assert_eq!(cstr(&img, seen[&AT_PLATFORM]), b"x86_64");
        let r = (seen[&AT_RANDOM] - img.sp) as usize;
        assert_eq!(&img.bytes[r..r + 16], &[7; 16]);
        assert_eq!(word(&img, top - 8), 0);
    }
}
