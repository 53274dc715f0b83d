// SPDX-License-Identifier: Apache-2.0
//! sysfs, minimal and synthetic: what common runtimes read (glibc's and Go's CPU counts, the
//! JVM's and allocators' transparent huge page mode, cgroup detection), nothing of the host's.
//!
//! ```text
//! /sys/devices/system/cpu/{online,possible,present}   "0-N": the CPUs the sandbox may use
//! /sys/kernel/mm/transparent_hugepage/enabled        "always [madvise] never"
//! /sys/fs/cgroup/                                    empty
//! ```

use std::sync::{Arc, OnceLock};

use syscalls::abi::*;

use super::synthetic::{SynthDir, SynthFile, SynthFs};
use crate::vfs::Inode;

/// The CPU list, fixed at mount time from the sentry's affinity mask (no host file is read).
static CPUS: OnceLock<Vec<u8>> = OnceLock::new();

fn cpu_list() -> Vec<u8> {
    CPUS.get().cloned().unwrap_or_else(|| b"0\n".to_vec())
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
    let system = SynthDir::with_mode(dev, next(), 0o755, vec![("cpu", cpu)]);
    let devices = SynthDir::with_mode(dev, next(), 0o755, vec![("system", system)]);
    let hugepage = SynthDir::with_mode(dev, next(), 0o755, vec![("enabled", file(next(), thp))]);
    let mm = SynthDir::with_mode(dev, next(), 0o755, vec![("transparent_hugepage", hugepage)]);
    let kernel = SynthDir::with_mode(dev, next(), 0o755, vec![("mm", mm)]);
    let cgroup = SynthDir::with_mode(dev, next(), 0o755, Vec::new());
    let fs = SynthDir::with_mode(dev, next(), 0o755, vec![("cgroup", cgroup)]);
    let root = SynthDir::with_mode(
        dev,
        1,
        0o555,
        vec![("devices", devices), ("fs", fs), ("kernel", kernel)],
    );
    SynthFs::new("sysfs", SYSFS_MAGIC, true, root)
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
