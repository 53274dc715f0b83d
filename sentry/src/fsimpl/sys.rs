// SPDX-License-Identifier: Apache-2.0
//! sysfs, minimal and synthetic: what common runtimes read (glibc's and Go's CPU counts, the
//! JVM's and allocators' transparent huge page mode, cgroup detection), nothing of the host's.
//!
//! ```text
//! /sys/devices/system/cpu/{online,possible,present}   "0-N": the CPUs the sandbox may use
//! /sys/devices/system/node/{online,possible,has_*}   "0": one NUMA node
//! /sys/devices/system/node/node0/{cpulist,distance}  its CPUs (all), "10"
//! /sys/kernel/mm/transparent_hugepage/enabled        "always [madvise] never"
//! /sys/fs/cgroup/                                    empty
//! /sys/devices/virtual/block/loopN/                  the loop devices (size, ro, dev, stat,
//!                                                     queue/*, loop/* while bound)
//! /sys/block/loopN, /sys/dev/block/7:N               links to those
//! ```

use std::sync::{Arc, OnceLock};

use syscalls::abi::*;

use syscalls::Errno;

use super::loopdev::{self, LoopDev};
use super::proc::nodes::{GenDir, GenFile, GenLink};
use super::synthetic::{SynthDir, SynthFile, SynthFs};
use crate::vfs::Inode;

/// The CPU list, fixed at mount time from the sentry's affinity mask (no host file is read).
static CPUS: OnceLock<Vec<u8>> = OnceLock::new();

fn cpu_list() -> Vec<u8> {
    CPUS.get().cloned().unwrap_or_else(|| b"0\n".to_vec())
}

fn node_list() -> Vec<u8> {
    b"0\n".to_vec()
}

fn node_distance() -> Vec<u8> {
    b"10\n".to_vec()
}

fn thp() -> Vec<u8> {
    b"always [madvise] never\n".to_vec()
}

/// The number of CPUs the sandbox may run on (the host's, whatever the platform pins).
fn cpu_count() -> usize {
    crate::platform::host_cpus()
}

/// The sysfs instance, with device number `dev`.
pub fn new(dev: u64) -> Arc<SynthFs> {
    let n = cpu_count();
    let list = if n == 1 {
        "0\n".to_string()
    } else {
        format!("0-{}\n", n - 1)
    };
    let _ = CPUS.set(list.into_bytes());
    let mut ino = 1u64;
    let mut next = || {
        ino += 1;
        ino
    };
    let file = |ino: u64, gen: fn() -> Vec<u8>| -> Arc<dyn Inode> { SynthFile::new(dev, ino, gen) };
    let cpu = SynthDir::with_mode(
        dev,
        next(),
        0o755,
        vec![
            ("online", file(next(), cpu_list)),
            ("possible", file(next(), cpu_list)),
            ("present", file(next(), cpu_list)),
        ],
    );
    // One NUMA node, node 0, with every CPU (the NUMA policy calls answer the same).
    let node0 = SynthDir::with_mode(
        dev,
        next(),
        0o755,
        vec![
            ("cpulist", file(next(), cpu_list)),
            ("distance", file(next(), node_distance)),
        ],
    );
    let node = SynthDir::with_mode(
        dev,
        next(),
        0o755,
        vec![
            ("has_cpu", file(next(), node_list)),
            ("has_memory", file(next(), node_list)),
            ("has_normal_memory", file(next(), node_list)),
            ("node0", node0),
            ("online", file(next(), node_list)),
            ("possible", file(next(), node_list)),
        ],
    );
    let system = SynthDir::with_mode(dev, next(), 0o755, vec![("cpu", cpu), ("node", node)]);
    let vblock = loop_dirs(dev);
    let virt = SynthDir::with_mode(dev, next(), 0o755, vec![("block", vblock)]);
    let devices = SynthDir::with_mode(
        dev,
        next(),
        0o755,
        vec![("system", system), ("virtual", virt)],
    );
    let block = loop_links(dev, 0x2_0000, "../devices/virtual/block/", |n| {
        format!("loop{n}")
    });
    let devblock = loop_links(dev, 0x3_0000, "../../devices/virtual/block/", |n| {
        format!("{LOOP_MAJOR}:{n}")
    });
    let devdir = SynthDir::with_mode(dev, next(), 0o755, vec![("block", devblock)]);
    let hugepage = SynthDir::with_mode(dev, next(), 0o755, vec![("enabled", file(next(), thp))]);
    let mm = SynthDir::with_mode(dev, next(), 0o755, vec![("transparent_hugepage", hugepage)]);
    let kernel = SynthDir::with_mode(dev, next(), 0o755, vec![("mm", mm)]);
    let cgroup = SynthDir::with_mode(dev, next(), 0o755, Vec::new());
    let fs = SynthDir::with_mode(dev, next(), 0o755, vec![("cgroup", cgroup)]);
    let root = SynthDir::with_mode(
        dev,
        1,
        0o555,
        vec![
            ("block", block),
            ("dev", devdir),
            ("devices", devices),
            ("fs", fs),
            ("kernel", kernel),
        ],
    );
    SynthFs::new("sysfs", SYSFS_MAGIC, true, root)
}

/// The loop device number `name` stands for under `name_of`.
fn loop_named(name: &[u8], name_of: fn(u32) -> String) -> Option<Arc<LoopDev>> {
    loopdev::devices()
        .into_iter()
        .find(|d| name_of(d.number).as_bytes() == name)
}

/// A directory of links, one per loop device (`name_of` names it), to `prefix` + `loopN`.
fn loop_links(
    dev: u64,
    ino: u64,
    prefix: &'static str,
    name_of: fn(u32) -> String,
) -> Arc<dyn Inode> {
    GenDir::new(
        dev,
        ino,
        Arc::new(move || {
            loopdev::devices()
                .iter()
                .map(|d| {
                    (
                        name_of(d.number).into_bytes(),
                        ino + 1 + u64::from(d.number),
                        DT_LNK,
                    )
                })
                .collect()
        }),
        Arc::new(move |name| {
            let d = loop_named(name, name_of).ok_or(Errno::ENOENT)?;
            let n = d.number;
            Ok(GenLink::new(
                dev,
                ino + 1 + u64::from(n),
                Arc::new(move || Ok(format!("{prefix}loop{n}").into_bytes())),
            ))
        }),
    )
}

fn text(s: String) -> Result<Vec<u8>, Errno> {
    Ok(s.into_bytes())
}

/// /sys/devices/virtual/block: a directory per loop device.
fn loop_dirs(dev: u64) -> Arc<dyn Inode> {
    GenDir::new(
        dev,
        0x4_0000,
        Arc::new(|| {
            loopdev::devices()
                .iter()
                .map(|d| {
                    (
                        format!("loop{}", d.number).into_bytes(),
                        loop_ino(d.number, 0),
                        DT_DIR,
                    )
                })
                .collect()
        }),
        Arc::new(move |name| {
            let d = loop_named(name, |n| format!("loop{n}")).ok_or(Errno::ENOENT)?;
            Ok(loop_dir(dev, d))
        }),
    )
}

/// Inode numbers of a loop device's sysfs files.
fn loop_ino(n: u32, k: u64) -> u64 {
    0x10_0000 + u64::from(n) * 64 + k
}

type Attr = fn(&LoopDev) -> String;

/// A generated directory of named attribute files (and subdirectories from `dirs`).
fn attr_dir(
    dev: u64,
    d: Arc<LoopDev>,
    base: u64,
    files: &'static [(&'static str, Attr)],
    dirs: Vec<(&'static str, Arc<dyn Inode>)>,
) -> Arc<dyn Inode> {
    let n = d.number;
    let dirs = Arc::new(dirs);
    let d2 = dirs.clone();
    GenDir::new(
        dev,
        loop_ino(n, base),
        Arc::new(move || {
            let mut v: Vec<(Vec<u8>, u64, u8)> = files
                .iter()
                .enumerate()
                .map(|(i, (name, _))| {
                    (
                        name.as_bytes().to_vec(),
                        loop_ino(n, base + 1 + i as u64),
                        DT_REG,
                    )
                })
                .collect();
            for (name, i) in d2.iter() {
                let st = i.stat().unwrap_or_default();
                v.push((name.as_bytes().to_vec(), st.st_ino, DT_DIR));
            }
            v
        }),
        Arc::new(move |name| {
            if let Some((_, i)) = dirs.iter().find(|(n, _)| n.as_bytes() == name) {
                return Ok(i.clone());
            }
            let (i, (_, f)) = files
                .iter()
                .enumerate()
                .find(|(_, (n, _))| n.as_bytes() == name)
                .ok_or(Errno::ENOENT)?;
            let f = *f;
            let d = d.clone();
            Ok(GenFile::ro(
                dev,
                loop_ino(n, base + 1 + i as u64),
                Arc::new(move || text(f(&d))),
            ))
        }),
    )
}

const DISK_ATTRS: &[(&str, Attr)] = &[
    ("dev", |d| format!("{LOOP_MAJOR}:{}\n", d.number)),
    ("size", |d| format!("{}\n", d.size() >> 9)),
    ("ro", |d| format!("{}\n", u8::from(d.read_only()))),
    ("removable", |_| "0\n".into()),
    ("range", |_| "1\n".into()),
    ("ext_range", |_| "1\n".into()),
    ("hidden", |_| "0\n".into()),
    ("discard_alignment", |_| "0\n".into()),
    ("alignment_offset", |_| "0\n".into()),
    ("capability", |_| "0\n".into()),
    ("stat", |d| d.stat_line()),
    ("uevent", |d| {
        format!(
            "MAJOR={LOOP_MAJOR}\nMINOR={}\nDEVNAME=loop{}\nDEVTYPE=disk\nDISKSEQ={}\n",
            d.number,
            d.number,
            u64::from(d.number) + 1
        )
    }),
];

const QUEUE_ATTRS: &[(&str, Attr)] = &[
    ("logical_block_size", |d| {
        format!("{}\n", d.state().block_size)
    }),
    ("physical_block_size", |d| {
        format!("{}\n", d.state().block_size)
    }),
    ("hw_sector_size", |d| format!("{}\n", d.state().block_size)),
    ("minimum_io_size", |d| format!("{}\n", d.state().block_size)),
    ("optimal_io_size", |_| "0\n".into()),
    ("rotational", |_| "0\n".into()),
    ("max_sectors_kb", |_| "1280\n".into()),
    ("read_ahead_kb", |d| format!("{}\n", d.readahead() / 2)),
    ("discard_granularity", |d| {
        format!("{}\n", d.state().block_size)
    }),
    ("discard_max_bytes", |_| "4294966784\n".into()),
    ("dax", |_| "0\n".into()),
    ("nomerges", |_| "0\n".into()),
];

const LOOP_ATTRS: &[(&str, Attr)] = &[
    ("backing_file", |d| {
        let s = d.state();
        s.backing
            .map(|b| format!("{}\n", b.path))
            .unwrap_or_default()
    }),
    ("offset", |d| format!("{}\n", d.state().offset)),
    ("sizelimit", |d| format!("{}\n", d.state().sizelimit)),
    ("autoclear", |d| {
        format!("{}\n", u8::from(d.state().flags & LO_FLAGS_AUTOCLEAR != 0))
    }),
    ("partscan", |d| {
        format!("{}\n", u8::from(d.state().flags & LO_FLAGS_PARTSCAN != 0))
    }),
    ("dio", |d| {
        format!("{}\n", u8::from(d.state().flags & LO_FLAGS_DIRECT_IO != 0))
    }),
];

/// /sys/devices/virtual/block/loopN: the disk's attributes, `queue/`, empty `holders/` and
/// `slaves/`, and `loop/` while a backing file is bound (loop_sysfs_init/exit).
fn loop_dir(dev: u64, d: Arc<LoopDev>) -> Arc<dyn Inode> {
    let n = d.number;
    let queue = attr_dir(dev, d.clone(), 20, QUEUE_ATTRS, Vec::new());
    let holders = SynthDir::with_mode(dev, loop_ino(n, 40), 0o755, Vec::new());
    let slaves = SynthDir::with_mode(dev, loop_ino(n, 41), 0o755, Vec::new());
    let mut dirs: Vec<(&'static str, Arc<dyn Inode>)> =
        vec![("queue", queue), ("holders", holders), ("slaves", slaves)];
    if d.bound() {
        dirs.push(("loop", attr_dir(dev, d.clone(), 45, LOOP_ATTRS, Vec::new())));
    }
    attr_dir(dev, d, 0, DISK_ATTRS, dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(root: &Arc<dyn Inode>, path: &str) -> String {
        let mut node = root.clone();
        for c in path.split('/') {
            node = node.lookup(c.as_bytes()).expect("lookup");
        }
        let f = node.open(O_RDONLY).expect("open");
        let mut buf = vec![0u8; 256];
        let n = f.read_at(&mut buf, 0).expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn the_tree_reads() {
        use crate::vfs::Filesystem;
        let fs = new(0x16);
        let root = fs.root();
        let online = read(&root, "devices/system/cpu/online");
        assert!(
            online.starts_with('0') && online.ends_with('\n'),
            "{online}"
        );
        assert_eq!(read(&root, "devices/system/cpu/possible"), online);
        assert_eq!(
            read(&root, "kernel/mm/transparent_hugepage/enabled"),
            "always [madvise] never\n"
        );
        let cg = root
            .lookup(b"fs")
            .and_then(|f| f.lookup(b"cgroup"))
            .expect("cgroup");
        assert_eq!(cg.stat().expect("stat").st_mode & S_IFMT, S_IFDIR);
        assert!(fs.read_only());
    }
}
