// SPDX-License-Identifier: Apache-2.0
//! The fuzz targets of the gofer protocol, the ELF loader and the ext2/3/4 driver
//! (`gofer::fuzz`, `sentry::elf::fuzz`, `sentry::fsimpl::ext4_fuzz`), driven by the stable
//! engine of `tests::mutate`: structure-aware mutations of real seeds (every protocol message;
//! /bin/true, its dynamic loader, a static guest, busybox; images from mkfs.ext4/ext3/ext2),
//! with a watchdog for hangs and an allocator that aborts on an allocation without bound. CI
//! runs a bounded, reproducible round of each; `SANDBOX_FUZZ_SECONDS=N` runs the four side by
//! side for N seconds (docs/security.md):
//!
//! ```sh
//! cargo test --release -p tests --test fuzz_targets        # CI's round
//! SANDBOX_FUZZ_SECONDS=600 cargo test --release -p tests --test fuzz_targets -- long --nocapture
//! # a failing input, saved by the engine:
//! SANDBOX_FUZZ_INPUT=/tmp/fuzz-elf-load-... cargo test --release -p tests --test fuzz_targets \
//!     -- replay --nocapture
//! ```

use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use gofer::protocol::{Attrs, Reply, Request, ANY_CPU, MAX_MESSAGE};
use syscalls::abi::{Stat, Statfs};
use syscalls::Errno;
use tests::mutate::{self, Budget, Field, Rng, Target, INTERESTING};

#[global_allocator]
static GUARD: mutate::Guard = mutate::Guard;

/// The bounded rounds run one at a time (the heap count is the process's).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Longest one input may run.
const HANG: Duration = Duration::from_secs(10);

fn hash_of(v: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

// ---- The gofer protocol ----

const NAMES: &[&[u8]] = &[
    b"a",
    b"d",
    b"b",
    b"l",
    b"p",
    b"x",
    b"new",
    b"..",
    b".",
    b"",
    b"a/b",
    b"/",
    b"a\0b",
    b"user.k",
    b"trusted.k",
    b"security.selinux",
];

fn gen_name(r: &mut Rng) -> Vec<u8> {
    match r.below(8) {
        0 => vec![b'n'; r.below(300)],
        1 => {
            let n = r.below(12);
            r.bytes(n)
        }
        _ => r.pick(NAMES).to_vec(),
    }
}

fn gen_u32(r: &mut Rng) -> u32 {
    if r.one_in(2) {
        r.below(8) as u32
    } else {
        *r.pick(INTERESTING) as u32
    }
}

fn gen_u64(r: &mut Rng) -> u64 {
    if r.one_in(2) {
        r.below(16) as u64
    } else {
        *r.pick(INTERESTING)
    }
}

/// A request with plausible fields: small fids (the server numbers them from 1), names from a
/// list of good and bad ones, interesting numbers.
fn gen_request(r: &mut Rng) -> Request {
    let fid = |r: &mut Rng| {
        if r.one_in(8) {
            gen_u64(r)
        } else {
            r.below(12) as u64
        }
    };
    let names = |r: &mut Rng| (0..r.below(5)).map(|_| gen_name(r)).collect();
    match r.below(23) {
        0 => Request::Attach {
            export: r.below(3) as u32,
        },
        1 => Request::Walk {
            dir: fid(r),
            names: names(r),
        },
        2 => Request::WalkStat {
            dir: fid(r),
            names: names(r),
        },
        3 => Request::Stat { fid: fid(r) },
        4 => Request::Open {
            fid: fid(r),
            flags: gen_u32(r),
        },
        5 => Request::Create {
            dir: fid(r),
            name: gen_name(r),
            flags: gen_u32(r),
            mode: gen_u32(r),
            uid: gen_u32(r),
            gid: gen_u32(r),
        },
        6 => Request::Mkdir {
            dir: fid(r),
            name: gen_name(r),
            mode: gen_u32(r),
            uid: gen_u32(r),
            gid: gen_u32(r),
        },
        7 => Request::Mknod {
            dir: fid(r),
            name: gen_name(r),
            mode: *r.pick(&[0o100644, 0o010644, 0o140644, 0o020644, 0o060644, 0o104755]),
            uid: gen_u32(r),
            gid: gen_u32(r),
        },
        8 => Request::Symlink {
            dir: fid(r),
            name: gen_name(r),
            target: r
                .pick(&[&b"../outside/secret"[..], b"/etc/passwd", b"", b"a"])
                .to_vec(),
            uid: gen_u32(r),
            gid: gen_u32(r),
        },
        9 => Request::Link {
            dir: fid(r),
            name: gen_name(r),
            target: fid(r),
        },
        10 => Request::Unlink {
            dir: fid(r),
            name: gen_name(r),
            flags: *r.pick(&[0, 0x200, u32::MAX]),
        },
        11 => Request::Rename {
            old_dir: fid(r),
            old_name: gen_name(r),
            new_dir: fid(r),
            new_name: gen_name(r),
            flags: gen_u32(r),
        },
        12 => Request::Readlink { fid: fid(r) },
        13 => Request::Getdents {
            fid: fid(r),
            offset: gen_u64(r),
            count: gen_u32(r),
        },
        14 => Request::Setattr {
            fid: fid(r),
            attrs: Attrs {
                mask: r.below(64) as u32,
                mode: gen_u32(r),
                uid: gen_u32(r),
                gid: gen_u32(r),
                size: gen_u64(r) & 0xffff_ffff,
                atime: (gen_u64(r) as i64, gen_u64(r) as i64),
                mtime: (gen_u64(r) as i64, gen_u64(r) as i64),
            },
        },
        15 => Request::Statfs { fid: fid(r) },
        16 => Request::GetXattr {
            fid: fid(r),
            name: gen_name(r),
        },
        17 => Request::SetXattr {
            fid: fid(r),
            name: gen_name(r),
            value: {
                let n = r.below(64);
                r.bytes(n)
            },
            flags: gen_u32(r),
        },
        18 => Request::ListXattr { fid: fid(r) },
        19 => Request::RemoveXattr {
            fid: fid(r),
            name: gen_name(r),
        },
        20 => Request::Fsync { fid: fid(r) },
        21 => Request::Clunk {
            fids: (0..r.below(6)).map(|_| fid(r)).collect(),
        },
        _ => Request::Channel {
            cpu: *r.pick(&[0, 1, ANY_CPU, 4096]),
        },
    }
}

fn gen_stat(r: &mut Rng) -> Stat {
    Stat {
        st_ino: gen_u64(r),
        st_mode: gen_u32(r),
        st_size: gen_u64(r) as i64,
        ..Default::default()
    }
}

fn gen_reply(r: &mut Rng) -> Reply {
    match r.below(9) {
        0 => Reply::Error(Errno(gen_u32(r) as i32)),
        1 => Reply::Done,
        2 => Reply::Node(gen_u64(r), gen_stat(r)),
        3 => Reply::Nodes((0..r.below(4)).map(|_| (gen_u64(r), gen_stat(r))).collect()),
        4 => Reply::Stats((0..r.below(4)).map(|_| gen_stat(r)).collect()),
        5 => Reply::Data({
            let n = r.below(40);
            r.bytes(n)
        }),
        6 => Reply::Dents(
            {
                let n = r.below(40);
                r.bytes(n)
            },
            gen_u64(r),
        ),
        7 => Reply::Statfs(Statfs::default()),
        _ => Reply::Opened,
    }
}

/// Every request and reply kind, encoded.
fn message_seeds() -> Vec<Vec<u8>> {
    let mut r = Rng::new(7);
    let mut out = Vec::new();
    for _ in 0..200 {
        out.push(gen_request(&mut r).encode());
        out.push(gen_reply(&mut r).encode());
    }
    out
}

/// Plausible field positions of a message: the opcode, then the u64 and u32 slots of the
/// common layouts (a fid, then a count or length).
fn message_fields(b: &[u8]) -> Vec<Field> {
    [
        (0, 1),
        (1, 4),
        (1, 8),
        (9, 4),
        (9, 8),
        (13, 4),
        (17, 4),
        (21, 4),
    ]
    .into_iter()
    .filter(|(at, w)| at + w <= b.len())
    .collect()
}

fn decode_outcome(data: &[u8]) -> u64 {
    gofer::fuzz::fuzz_gofer_decode(data);
    let req = Request::decode(data)
        .ok()
        .map(|r| std::mem::discriminant(&r));
    let reply = Reply::decode(data).ok().map(|r| std::mem::discriminant(&r));
    hash_of((req, reply))
}

fn decode_target() -> Target {
    Target {
        name: "gofer-decode",
        run: decode_outcome,
        seeds: message_seeds(),
        fields: message_fields,
        generate: Some(|r| {
            if r.one_in(2) {
                gen_request(r).encode()
            } else {
                gen_reply(r).encode()
            }
        }),
        max_len: MAX_MESSAGE,
    }
}

/// A session of requests, framed for `fuzz_gofer_server`: usually starting with an attach.
fn gen_session(r: &mut Rng) -> Vec<u8> {
    let mut msgs = Vec::new();
    if !r.one_in(8) {
        msgs.push(
            Request::Attach {
                export: r.below(2) as u32,
            }
            .encode(),
        );
    }
    for _ in 0..r.below(12) + 1 {
        msgs.push(gen_request(r).encode());
    }
    gofer::fuzz::frame(&msgs)
}

fn server_seeds() -> Vec<Vec<u8>> {
    let walk = |dir, n: &[u8]| Request::Walk {
        dir,
        names: vec![n.to_vec()],
    };
    let attach = Request::Attach { export: 0 };
    let sessions: Vec<Vec<Request>> = vec![
        vec![
            attach.clone(),
            walk(1, b"a"),
            Request::Open { fid: 2, flags: 2 },
        ],
        vec![
            attach.clone(),
            walk(1, b"d"),
            Request::Getdents {
                fid: 2,
                offset: 0,
                count: 4096,
            },
        ],
        vec![
            attach.clone(),
            walk(1, b"l"),
            Request::Readlink { fid: 2 },
            Request::Open { fid: 2, flags: 0 },
        ],
        vec![
            attach.clone(),
            Request::Create {
                dir: 1,
                name: b"new".to_vec(),
                flags: 2,
                mode: 0o644,
                uid: 0,
                gid: 0,
            },
            Request::Setattr {
                fid: 2,
                attrs: Attrs {
                    mask: 1 | 8,
                    mode: 0o4755,
                    size: 10,
                    ..Default::default()
                },
            },
            Request::SetXattr {
                fid: 2,
                name: b"user.k".to_vec(),
                value: b"v".to_vec(),
                flags: 0,
            },
            Request::ListXattr { fid: 2 },
            Request::Rename {
                old_dir: 1,
                old_name: b"new".to_vec(),
                new_dir: 1,
                new_name: b"newer".to_vec(),
                flags: 0,
            },
        ],
        vec![
            attach.clone(),
            Request::Mkdir {
                dir: 1,
                name: b"x".to_vec(),
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
            Request::Symlink {
                dir: 2,
                name: b"s".to_vec(),
                target: b"../../outside/secret".to_vec(),
                uid: 0,
                gid: 0,
            },
            walk(1, b"a"),
            Request::Link {
                dir: 2,
                name: b"h".to_vec(),
                target: 4,
            },
            Request::Unlink {
                dir: 1,
                name: b"x".to_vec(),
                flags: 0x200,
            },
        ],
        vec![
            Request::Attach { export: 1 },
            walk(1, b"b"),
            Request::Open { fid: 2, flags: 2 },
            Request::Statfs { fid: 1 },
            Request::Fsync { fid: 2 },
            Request::Clunk { fids: vec![1, 2] },
            Request::Channel { cpu: ANY_CPU },
        ],
    ];
    sessions
        .iter()
        .map(|s| gofer::fuzz::frame(&s.iter().map(Request::encode).collect::<Vec<_>>()))
        .collect()
}

fn server_outcome(data: &[u8]) -> u64 {
    gofer::fuzz::fuzz_gofer_server(data);
    // The kinds of request sent, as the outcome (the replies are checked inside).
    hash_of(
        gofer::fuzz::frames(data)
            .iter()
            .map(|m| Request::decode(m).ok().map(|r| std::mem::discriminant(&r)))
            .collect::<Vec<_>>(),
    )
}

fn server_target() -> Target {
    Target {
        name: "gofer-server",
        run: server_outcome,
        seeds: server_seeds(),
        fields: |b| {
            // The first frame's length and the message after it.
            let mut f = vec![(0, 2)];
            f.extend(
                message_fields(&b[2.min(b.len())..])
                    .iter()
                    .map(|(a, w)| (a + 2, *w)),
            );
            f
        },
        generate: Some(gen_session),
        max_len: 64 << 10,
    }
}

// ---- The ELF loader ----

/// The header's fields and every program header's, where the input has them.
fn elf_fields(b: &[u8]) -> Vec<Field> {
    let mut f: Vec<Field> = vec![
        (4, 1),  // class
        (5, 1),  // data
        (16, 2), // e_type
        (18, 2), // e_machine
        (24, 8), // e_entry
        (32, 8), // e_phoff
        (54, 2), // e_phentsize
        (56, 2), // e_phnum
    ];
    if b.len() >= 64 {
        let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap_or([0; 8]));
        let phnum = u16::from_le_bytes([b[56], b[57]]).min(64) as u64;
        for i in 0..phnum {
            let Some(at) = phoff.checked_add(i * 56).map(|a| a as usize) else {
                break;
            };
            for (off, w) in [(0, 4), (4, 4), (8, 8), (16, 8), (32, 8), (40, 8), (48, 8)] {
                f.push((at.saturating_add(off), w));
            }
        }
    }
    f.retain(|(at, w)| at.checked_add(*w).is_some_and(|e| e <= b.len()));
    f
}

/// A small ELF from scratch: a header, up to 8 program headers of the kinds the loader reads
/// with page-congruent or random numbers, an interpreter name, a little code.
fn gen_elf(r: &mut Rng) -> Vec<u8> {
    let phnum = r.below(8) + 1;
    let phoff = 64u64;
    let body = 64 + 56 * phnum as u64;
    let mut b = vec![0u8; body as usize];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    let e_type: u16 = if r.one_in(2) { 2 } else { 3 };
    b[16..18].copy_from_slice(&e_type.to_le_bytes());
    b[18..20].copy_from_slice(&62u16.to_le_bytes());
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    let base: u64 = if e_type == 2 { 0x40_0000 } else { 0 };
    b[24..32].copy_from_slice(&(base + body + 0x1000).to_le_bytes());
    b[32..40].copy_from_slice(&phoff.to_le_bytes());
    b[52..54].copy_from_slice(&64u16.to_le_bytes());
    b[54..56].copy_from_slice(&56u16.to_le_bytes());
    b[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
    let interp_at = b.len() as u64;
    b.extend_from_slice(b"/fuzz-interp\0");
    b.extend(r.bytes(64));
    for i in 0..phnum {
        let at = 64 + 56 * i;
        let p_type: u32 = *r.pick(&[1, 1, 1, 3, 6, 2, 4, 0x6474_e551, 0x6474_e552, 7]);
        let (offset, vaddr, filesz, memsz) = match p_type {
            3 => (interp_at, base + interp_at, 13, 13),
            6 => (phoff, base + phoff, 56 * phnum as u64, 56 * phnum as u64),
            _ => {
                let page = r.below(16) as u64 * 0x1000;
                let off = if r.one_in(4) { gen_u64(r) } else { page };
                let va = if r.one_in(4) {
                    gen_u64(r)
                } else {
                    base + page + 0x1000 * r.below(4) as u64
                };
                let fs = if r.one_in(4) {
                    gen_u64(r)
                } else {
                    r.below(0x3000) as u64
                };
                let ms = if r.one_in(4) {
                    gen_u64(r)
                } else {
                    fs.wrapping_add(r.below(0x3000) as u64)
                };
                (off, va, fs, ms)
            }
        };
        let flags: u32 = r.below(8) as u32;
        b[at..at + 4].copy_from_slice(&p_type.to_le_bytes());
        b[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
        b[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
        b[at + 16..at + 24].copy_from_slice(&vaddr.to_le_bytes());
        b[at + 24..at + 32].copy_from_slice(&vaddr.to_le_bytes());
        b[at + 32..at + 40].copy_from_slice(&filesz.to_le_bytes());
        b[at + 40..at + 48].copy_from_slice(&memsz.to_le_bytes());
        b[at + 48..at + 56].copy_from_slice(&0x1000u64.to_le_bytes());
    }
    b
}

/// The PT_INTERP string of an ELF file, if it has one.
fn interp_of(elf: &[u8]) -> Option<String> {
    let u64_at = |a: usize| {
        elf.get(a..a + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    };
    let phoff = u64_at(32)? as usize;
    let phnum = u16::from_le_bytes([*elf.get(56)?, *elf.get(57)?]) as usize;
    (0..phnum).find_map(|i| {
        let at = phoff + i * 56;
        let t = u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?);
        if t != 3 {
            return None;
        }
        let (off, size) = (u64_at(at + 8)? as usize, u64_at(at + 32)? as usize);
        let s = elf.get(off..off + size)?;
        Some(String::from_utf8_lossy(s.split(|b| *b == 0).next()?).into_owned())
    })
}

/// Real executables (the loader reads only their first pages: each is cut at 64 KiB), and
/// scripts.
fn elf_seeds() -> Vec<Vec<u8>> {
    let cut = |mut b: Vec<u8>| {
        b.truncate(64 << 10);
        b
    };
    let mut out = Vec::new();
    let truth = std::fs::read("/bin/true").expect("/bin/true");
    if let Some(ld) = interp_of(&truth) {
        out.push(cut(
            std::fs::read(&ld).unwrap_or_else(|e| panic!("{ld}: {e}"))
        ));
    }
    out.push(cut(std::fs::read(tests::guest(
        "startup",
        tests::Linkage::Static,
    ))
    .expect("a static guest")));
    if let Ok(b) = std::fs::read("/bin/busybox") {
        out.push(cut(b));
    }
    let mut script = b"#!/fuzz-interp -x\n".to_vec();
    script.extend_from_slice(&truth);
    out.push(cut(script));
    out.push(b"#!/fuzz-interp\n#!/again\n".to_vec());
    out.push(cut(truth));
    out
}

fn elf_outcome(data: &[u8]) -> u64 {
    let (r, mappings) = sentry::elf::fuzz::load_bytes(data);
    hash_of((r.err().map(|e| e.0), mappings))
}

fn elf_target() -> Target {
    Target {
        name: "elf-load",
        run: elf_outcome,
        seeds: elf_seeds(),
        fields: elf_fields,
        generate: Some(gen_elf),
        max_len: 256 << 10,
    }
}

// ---- The ext2/3/4 driver ----

/// Images made by the host's mkfs (ext4, ext3, ext2), filled by `mkfs -d` from a small tree:
/// files (one spanning several blocks), a symlink, a directory big enough to be indexed.
fn ext4_seeds() -> Vec<Vec<u8>> {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    let base = std::env::temp_dir().join(format!("sandbox-ext4-seeds-{}", std::process::id()));
    let tree = base.join("tree");
    std::fs::create_dir_all(tree.join("many")).expect("the seed tree");
    std::fs::write(tree.join("small"), b"hello\n").expect("a seed file");
    std::fs::write(tree.join("big"), vec![0xabu8; 40_000]).expect("a seed file");
    for i in 0..120 {
        std::fs::write(tree.join("many").join(format!("entry-{i:03}")), b"x").expect("a file");
    }
    std::os::unix::fs::symlink("small", tree.join("link")).expect("a seed symlink");
    let mut seeds = Vec::new();
    for (kind, size, extra) in [
        ("ext4", "2M", &[][..]),
        ("ext3", "4M", &["-J", "size=1"][..]),
        ("ext2", "2M", &[][..]),
    ] {
        let img = base.join(format!("{kind}.img"));
        let ok = std::process::Command::new(format!("/usr/sbin/mkfs.{kind}"))
            .args(["-q", "-F", "-b", "1024", "-E", "root_owner=0:0", "-d"])
            .arg(&tree)
            .args(extra)
            .arg(&img)
            .arg(size)
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfs.{kind} of a seed image");
        seeds.push(std::fs::read(&img).expect("a seed image"));
    }
    let _ = std::fs::remove_dir_all(&base);
    seeds
}

/// The super block's fields and the first group descriptor's (1 KiB blocks: at 2048).
fn ext4_fields(_b: &[u8]) -> Vec<Field> {
    let sb = [
        (0, 4),
        (4, 4),
        (8, 4),
        (12, 4),
        (16, 4),
        (20, 4),
        (24, 4),
        (32, 4),
        (40, 4),
        (56, 2),
        (76, 4),
        (84, 4),
        (88, 2),
        (92, 4),
        (96, 4),
        (100, 4),
        (0xE0, 4),
        (0xFE, 2),
        (0x150, 4),
        (0x174, 1),
        (0x175, 1),
    ];
    let gd = [(0, 4), (4, 4), (8, 4), (12, 2), (14, 2), (16, 2), (18, 2)];
    sb.iter()
        .map(|&(o, w)| (1024 + o, w))
        .chain(gd.iter().map(|&(o, w)| (2048 + o, w)))
        .collect()
}

fn ext4_outcome(data: &[u8]) -> u64 {
    sentry::fsimpl::ext4_fuzz::run_image(data)
}

fn ext4_target() -> Target {
    Target {
        name: "ext4-image",
        run: ext4_outcome,
        seeds: ext4_seeds(),
        fields: ext4_fields,
        generate: None,
        max_len: 4 << 20,
    }
}

// ---- Rounds ----

fn bounded(t: Target, inputs: u64) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let r = mutate::fuzz(&t, 1, Budget::Inputs(inputs), HANG).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("fuzz {}: {r:?}", t.name);
    assert!(
        r.heap_growth < 16 << 20,
        "fuzz {}: the heap grew by {} bytes over the round (a leak)",
        t.name,
        r.heap_growth
    );
}

#[test]
fn gofer_decode_bounded_round() {
    bounded(decode_target(), 1_000_000);
}

#[test]
fn gofer_server_bounded_round() {
    bounded(server_target(), 3_000);
}

#[test]
fn elf_load_bounded_round() {
    let t = elf_target();
    // The real executables load: the target reaches the end of the loader.
    for s in &t.seeds[..3] {
        if !s.starts_with(b"#!") {
            assert_eq!(sentry::elf::fuzz::load_bytes(s).0, Ok(()));
        }
    }
    bounded(t, 100_000);
}

#[test]
fn ext4_image_bounded_round() {
    let t = ext4_target();
    // The seeds mount, and every step on them works: the target reaches the end.
    for s in &t.seeds {
        assert_eq!(sentry::fsimpl::ext4_fuzz::run_image(s), 0);
    }
    bounded(t, 3_000);
}

#[test]
fn long_run_when_asked() {
    let Some(secs) = std::env::var("SANDBOX_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let seed = std::env::var("SANDBOX_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let heap = mutate::live_bytes();
    let runs: Vec<_> = [
        decode_target(),
        server_target(),
        elf_target(),
        ext4_target(),
    ]
    .into_iter()
    .map(|t| {
        std::thread::spawn(move || {
            let r = mutate::fuzz(&t, seed, Budget::Time(Duration::from_secs(secs)), HANG);
            (t.name, r)
        })
    })
    .collect();
    let mut failures = Vec::new();
    for h in runs {
        let (name, r) = h.join().expect("a fuzzing thread");
        match r {
            Ok(r) => println!(
                "fuzz {name}: {} inputs in {:?}, {} outcomes, corpus {}",
                r.inputs, r.took, r.outcomes, r.corpus
            ),
            Err(e) => failures.push(e),
        }
    }
    let growth = mutate::live_bytes() - heap;
    println!("fuzz: the heap grew by {growth} bytes over the run");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        growth < 16 << 20,
        "the heap grew by {growth} bytes (a leak)"
    );
}

#[test]
fn replay() {
    let Some(path) = std::env::var_os("SANDBOX_FUZZ_INPUT") else {
        return;
    };
    let data = std::fs::read(&path).expect("SANDBOX_FUZZ_INPUT");
    let name = std::path::Path::new(&path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains("gofer-decode") {
        gofer::fuzz::fuzz_gofer_decode(&data);
    } else if name.contains("gofer-server") {
        gofer::fuzz::fuzz_gofer_server(&data);
    } else if name.contains("ext4-image") {
        sentry::fsimpl::ext4_fuzz::run_image(&data);
    } else {
        sentry::elf::fuzz::fuzz_elf_load(&data);
    }
}

/// Writes each target's seeds into `$SANDBOX_FUZZ_SEEDS_OUT/<target>/` (libFuzzer's starting
/// corpus: tests/fuzz/stable.sh).
#[test]
fn write_seeds() {
    let Some(dir) = std::env::var_os("SANDBOX_FUZZ_SEEDS_OUT") else {
        return;
    };
    for (name, t) in [
        ("gofer_decode", decode_target()),
        ("gofer_server", server_target()),
        ("elf_load", elf_target()),
        ("ext4_image", ext4_target()),
    ] {
        let d = std::path::Path::new(&dir).join(name);
        std::fs::create_dir_all(&d).expect("the seeds' directory");
        for (i, s) in t.seeds.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i:03}")), s).expect("a seed");
        }
    }
}
