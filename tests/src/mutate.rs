// SPDX-License-Identifier: Apache-2.0
//! A small fuzzing engine on the stable toolchain, for the fuzz targets of the gofer protocol
//! and the ELF loader (`gofer::fuzz`, `sentry::elf::fuzz`; driven by
//! `tests/tests/fuzz_targets.rs`).
//!
//! Why an engine of our own for `cargo test`: cargo-fuzz needs a nightly toolchain (its `-Z`
//! sanitizer flags), and this project builds with one stable toolchain. libFuzzer itself does
//! run on stable (`tests/fuzz/stable.sh` builds the same targets with the coverage
//! instrumentation cargo-fuzz uses, all stable codegen options, and no sanitizer), but it
//! brings a C++ build, and its runs are neither bounded by input count nor reproducible from a
//! seed, which CI's round must be. So `cargo test` runs this engine: deterministic (a seed
//! gives the same inputs, so a CI failure reproduces), structure aware, and without coverage
//! feedback; instead it keeps every input whose *outcome* (what the target reports: an errno,
//! how far the loader got, the kinds of message sent) it has not seen before, which steers it
//! past the first checks. The long runs use both (docs/security.md).
//!
//! Mutations: bit flips, random bytes, interesting integers (0, 1, -1, powers of two, sizes
//! and addresses that sit on the code's limits) written over the target's known fields (its
//! [`Target::fields`]: the ELF header's and program headers' fields, ...) and over random
//! offsets (length-field corruption), small additions, truncation, insertion, deletion,
//! duplication, and splices of two inputs. A target may also generate fresh structured inputs
//! ([`Target::generate`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A deterministic pseudo-random generator (SplitMix64).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Integers that sit on limits: of widths, of sizes, of the address space.
pub const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    7,
    8,
    16,
    55,
    56,
    57,
    64,
    127,
    128,
    129,
    255,
    256,
    4095,
    4096,
    4097,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x2_0000,
    0x2_8000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x40_0000,
    0x4000_0000_0000,
    0x5555_5555_4000,
    0x7fff_fe00_0000,
    0x7fff_ffff_f000,
    0x8000_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_f000,
    u64::MAX - 1,
    u64::MAX,
];

/// A field of an input: its offset and width in bytes (1, 2, 4 or 8, little-endian).
pub type Field = (usize, usize);

/// What the engine fuzzes.
pub struct Target {
    /// Its name (in messages and crash file names).
    pub name: &'static str,
    /// Runs the target on one input and returns its outcome, a small number naming what
    /// happened (an errno, a message kind): inputs with a new outcome join the corpus. Panics
    /// on a bug.
    pub run: fn(&[u8]) -> u64,
    /// The inputs to start from.
    pub seeds: Vec<Vec<u8>>,
    /// The known fields of an input, for structure-aware mutation.
    pub fields: fn(&[u8]) -> Vec<Field>,
    /// A fresh structured input, when the target has a generator.
    pub generate: Option<fn(&mut Rng) -> Vec<u8>>,
    /// Longest input to make.
    pub max_len: usize,
}

fn write_int(buf: &mut [u8], at: usize, width: usize, v: u64) {
    let bytes = v.to_le_bytes();
    let n = width.min(buf.len().saturating_sub(at));
    buf[at..at + n].copy_from_slice(&bytes[..n]);
}

fn read_int(buf: &[u8], at: usize, width: usize) -> u64 {
    let mut b = [0u8; 8];
    let n = width.min(buf.len().saturating_sub(at)).min(8);
    b[..n].copy_from_slice(&buf[at..at + n]);
    u64::from_le_bytes(b)
}

/// One mutation of `buf`, with `corpus` for splices.
pub fn mutate_once(rng: &mut Rng, buf: &mut Vec<u8>, corpus: &[Vec<u8>], t: &Target) {
    let width = *rng.pick(&[1usize, 2, 4, 8]);
    match rng.below(12) {
        // A known field: an interesting value, or a nudge.
        0..=2 => {
            let fields = (t.fields)(buf);
            if fields.is_empty() {
                return mutate_once(rng, buf, corpus, t);
            }
            let (at, w) = *rng.pick(&fields);
            if at >= buf.len() {
                return;
            }
            let v = match rng.below(4) {
                0 => read_int(buf, at, w)
                    .wrapping_add(rng.below(33) as u64)
                    .wrapping_sub(16),
                1 => rng.next_u64(),
                _ => *rng.pick(INTERESTING),
            };
            write_int(buf, at, w, v);
        }
        // A random offset: an interesting value (a length field, perhaps).
        3 if !buf.is_empty() => {
            let at = rng.below(buf.len());
            let v = *rng.pick(INTERESTING);
            write_int(buf, at, width, v);
        }
        4 if !buf.is_empty() => {
            let at = rng.below(buf.len());
            buf[at] ^= 1 << rng.below(8);
        }
        5 if !buf.is_empty() => {
            let at = rng.below(buf.len());
            buf[at] = rng.next_u64() as u8;
        }
        6 if !buf.is_empty() => {
            let at = rng.below(buf.len());
            let v = read_int(buf, at, width);
            let d = rng.below(33) as u64;
            let v = if rng.one_in(2) {
                v.wrapping_add(d)
            } else {
                v.wrapping_sub(d)
            };
            write_int(buf, at, width, v);
        }
        // Truncation, mostly near the end or at a field.
        7 => {
            let at = if rng.one_in(2) {
                rng.below(buf.len() + 1)
            } else {
                buf.len().saturating_sub(1 + rng.below(16))
            };
            buf.truncate(at);
        }
        // Insertion of random bytes or of a copy of a chunk.
        8 => {
            let at = rng.below(buf.len() + 1);
            let chunk = if !buf.is_empty() && rng.one_in(2) {
                let s = rng.below(buf.len());
                let n = rng.below((buf.len() - s).min(64)) + 1;
                buf[s..s + n].to_vec()
            } else {
                let n = rng.below(16) + 1;
                rng.bytes(n)
            };
            buf.splice(at..at, chunk);
        }
        9 if !buf.is_empty() => {
            let s = rng.below(buf.len());
            let n = rng.below((buf.len() - s).min(64)) + 1;
            buf.drain(s..s + n);
        }
        // A splice: the head of this input, the tail of another.
        10 if !corpus.is_empty() => {
            let other = rng.pick(corpus);
            let cut = rng.below(buf.len() + 1);
            let from = rng.below(other.len() + 1);
            buf.truncate(cut);
            buf.extend_from_slice(&other[from..]);
        }
        // Overwrite a chunk with a chunk of another input at the same offset (keeps
        // structure: the other input's header, program header, message field).
        _ if !corpus.is_empty() && !buf.is_empty() => {
            let other = rng.pick(corpus);
            let at = rng.below(buf.len().min(other.len()));
            let n = (rng.below(64) + 1)
                .min(buf.len() - at)
                .min(other.len().saturating_sub(at));
            if n > 0 {
                buf[at..at + n].copy_from_slice(&other[at..at + n]);
            }
        }
        _ => {
            let n = rng.below(8) + 1;
            buf.extend(rng.bytes(n));
        }
    }
}

/// The next input: a generated one, or a corpus entry with a few stacked mutations.
pub fn next_input(rng: &mut Rng, corpus: &[Vec<u8>], t: &Target) -> Vec<u8> {
    if let Some(g) = t.generate {
        if rng.one_in(4) {
            let mut b = g(rng);
            if rng.one_in(2) {
                mutate_once(rng, &mut b, corpus, t);
            }
            return b;
        }
    }
    let mut b = if corpus.is_empty() {
        Vec::new()
    } else {
        rng.pick(corpus).clone()
    };
    // 1 to 8 mutations, fewer more often.
    let n = 1 + (rng.next_u64().trailing_zeros() as usize).min(7);
    for _ in 0..n {
        mutate_once(rng, &mut b, corpus, t);
    }
    b.truncate(t.max_len);
    b
}

/// The largest single allocation a target may make: anything bigger is an allocation
/// without bound (a length field believed).
pub const MAX_ALLOCATION: usize = 64 << 20;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// A global allocator for fuzzing binaries: counts the bytes live (for leaks) and aborts the
/// process, naming the size, on any allocation over [`MAX_ALLOCATION`].
pub struct Guard;

fn too_big(size: usize) -> ! {
    // No allocation here: format into a stack buffer, write(2) it.
    let mut msg = *b"fuzz: an allocation of 0x0000000000000000 bytes (over MAX_ALLOCATION)\n";
    let hex = b"0123456789abcdef";
    for i in 0..16 {
        msg[25 + i] = hex[(size >> (60 - 4 * i)) & 15];
    }
    // SAFETY: writes a valid buffer to stderr.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    std::process::abort();
}

// SAFETY: forwards to the system allocator, adding only bookkeeping.
unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            too_big(layout.size());
        }
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            too_big(layout.size());
        }
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            too_big(new_size);
        }
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes live in the process (with [`Guard`] as its allocator).
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// How long to fuzz.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// This many inputs (CI's bounded, reproducible round).
    Inputs(u64),
    /// This long.
    Time(Duration),
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Inputs run.
    pub inputs: u64,
    /// Distinct outcomes seen.
    pub outcomes: usize,
    /// The corpus at the end (seeds and inputs with a new outcome).
    pub corpus: usize,
    /// Growth of the live heap over the run, after the first tenth (a leak shows here).
    pub heap_growth: isize,
    /// How long it took.
    pub took: Duration,
}

/// Where a failing input is written.
fn crash_file(t: &Target, input: &[u8]) -> PathBuf {
    let dir = std::env::var_os("SANDBOX_FUZZ_CRASH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut h = DefaultHasher::new();
    input.hash(&mut h);
    let p = dir.join(format!("fuzz-{}-{:016x}", t.name, h.finish()));
    let _ = std::fs::write(&p, input);
    p
}

fn show(input: &[u8]) -> String {
    let hex: String = input.iter().take(256).map(|b| format!("{b:02x}")).collect();
    format!(
        "{} bytes: {hex}{}",
        input.len(),
        if input.len() > 256 { "..." } else { "" }
    )
}

/// Fuzzes `t` from `seed` for `budget`. A panic of the target fails the run (the input is
/// written to `SANDBOX_FUZZ_CRASH_DIR` or the temporary directory, and shown); so does an
/// input that runs for more than `hang` (a watchdog aborts the process after printing it),
/// and, with [`Guard`] as the allocator, an allocation over [`MAX_ALLOCATION`].
pub fn fuzz(t: &Target, seed: u64, budget: Budget, hang: Duration) -> Result<Report, String> {
    let start = Instant::now();
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (current, progress, done) = (current.clone(), progress.clone(), done.clone());
        let name = t.name;
        std::thread::spawn(move || {
            let mut last = (u64::MAX, Instant::now());
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let p = progress.load(Ordering::Relaxed);
                if p != last.0 {
                    last = (p, Instant::now());
                } else if last.1.elapsed() > hang {
                    let input = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    eprintln!(
                        "fuzz {name}: an input ran for over {hang:?} (a hang): {}",
                        show(&input)
                    );
                    std::process::abort();
                }
            }
        })
    };
    /// Stops the watchdog however the loop ends (the engine itself may panic).
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = Stop(done.clone());
    let mut rng = Rng::new(seed);
    let mut corpus: Vec<Vec<u8>> = t.seeds.clone();
    let mut outcomes = HashSet::new();
    let mut report = Report::default();
    let mut heap_at = None;
    let result = loop {
        let n = report.inputs;
        let more = match budget {
            Budget::Inputs(max) => n < max,
            Budget::Time(d) => start.elapsed() < d,
        };
        if !more {
            break Ok(());
        }
        let tenth = match budget {
            Budget::Inputs(max) => n == max / 10,
            Budget::Time(d) => heap_at.is_none() && start.elapsed() >= d / 10,
        };
        if tenth {
            heap_at = Some(live_bytes());
        }
        // The seeds as they are first, then mutations.
        let input = match t.seeds.get(n as usize) {
            Some(s) => s.clone(),
            None => next_input(&mut rng, &corpus, t),
        };
        current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone_from(&input);
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| (t.run)(&input)));
        progress.fetch_add(1, Ordering::Relaxed);
        report.inputs += 1;
        match r {
            Ok(outcome) => {
                if outcomes.insert(outcome) && corpus.len() < 4096 {
                    corpus.push(input);
                }
            }
            Err(_) => {
                let p = crash_file(t, &input);
                break Err(format!(
                    "fuzz {}: input {n} (seed {seed}) panicked (above); saved in {}: {}",
                    t.name,
                    p.display(),
                    show(&input)
                ));
            }
        }
    };
    drop(stop);
    let _ = watchdog.join();
    result?;
    report.outcomes = outcomes.len();
    report.corpus = corpus.len();
    drop(corpus);
    report.heap_growth = heap_at.map(|h| live_bytes() - h).unwrap_or(0);
    report.took = start.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_deterministic_and_bounded() {
        let t = Target {
            name: "t",
            run: |_| 0,
            seeds: vec![b"hello world".to_vec()],
            fields: |b| if b.len() >= 4 { vec![(0, 4)] } else { vec![] },
            generate: Some(|r| r.bytes(5)),
            max_len: 100,
        };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..1000)
                .map(|_| next_input(&mut rng, &t.seeds, &t))
                .collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        assert!(a.iter().all(|b| b.len() <= 100));
    }
}
