// SPDX-License-Identifier: Apache-2.0
//! devfs: the character devices every program expects (null, zero, full, random, urandom,
//! tty, ptmx), the fd, stdin, stdout, stderr links, and `console` when the sandbox has a
//! terminal (the console pty's replica, as in a runc container with a terminal; no tty0 or
//! ttyN, as there).

use syscalls::abi::*;
use syscalls::Errno;

use std::sync::Arc;

use super::synthetic::{ListDir, SynthDir, SynthFs, SynthLink};
use crate::kernel;
use crate::vfs::{FileOps, Inode, SetAttr};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dev {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
}

const DEVICES: [(&str, Dev, u32, u32); 7] = [
    ("null", Dev::Null, 1, 3),
    ("zero", Dev::Zero, 1, 5),
    ("full", Dev::Full, 1, 7),
    ("random", Dev::Random, 1, 8),
    ("urandom", Dev::Urandom, 1, 9),
    ("tty", Dev::Null, 5, 0),
    ("ptmx", Dev::Null, 5, 2),
];

/// Character devices by (major, minor).
fn device_of(rdev: u64) -> Option<(usize, Dev)> {
    let (major, minor) = dev_split(rdev);
    DEVICES
        .iter()
        .enumerate()
        .find(|(_, d)| d.2 == major && d.3 == minor)
        .map(|(i, d)| (i, d.1))
}

/// Opens the character device `rdev` (for device nodes in any file system). Linux: ENXIO for
/// a device with no driver.
pub fn open_device(rdev: u64, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
    if let Some(r) = super::tty::devpts::open_device(rdev, flags) {
        return r;
    }
    if rdev == makedev(MISC_MAJOR, LOOP_CTRL_MINOR) {
        return Ok(super::loopdev::open_control());
    }
    let (i, dev) = device_of(rdev).ok_or(Errno::ENXIO)?;
    let (major, minor) = dev_split(rdev);
    Ok(Box::new(DevFile {
        dev,
        stat: dev_stat(kernel::DEVFS_DEV, i as u64 + 2, major, minor),
    }))
}

/// The /dev file system: the devices, fd/stdin/stdout/stderr links into /proc/self/fd, and
/// `shm`, `pts` and `mqueue` left to mounts (a tmpfs, devpts, the mqueue file system).
pub struct DevFs;

impl DevFs {
    /// A devfs with device number `dev`, with an empty `shm` directory to mount a tmpfs on.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dev: u64) -> Arc<SynthFs> {
        let mut entries: Vec<(&str, Arc<dyn Inode>)> = Vec::new();
        for (i, d) in DEVICES.iter().enumerate() {
            entries.push((
                d.0,
                Arc::new(DevNode {
                    stat: dev_stat(dev, i as u64 + 2, d.2, d.3),
                }),
            ));
        }
        let base = DEVICES.len() as u64 + 2;
        entries.push(("fd", SynthLink::new(dev, base, "/proc/self/fd")));
        entries.push(("stdin", SynthLink::new(dev, base + 1, "/proc/self/fd/0")));
        entries.push(("stdout", SynthLink::new(dev, base + 2, "/proc/self/fd/1")));
        entries.push(("stderr", SynthLink::new(dev, base + 3, "/proc/self/fd/2")));
        entries.push((
            "shm",
            SynthDir::with_mode(dev, base + 4, 0o1777, Vec::new()),
        ));
        entries.push(("pts", SynthDir::with_mode(dev, base + 5, 0o755, Vec::new())));
        entries.push((
            "mqueue",
            SynthDir::with_mode(dev, base + 6, 0o1777, Vec::new()),
        ));
        SynthFs::new(
            "devtmpfs",
            TMPFS_MAGIC,
            false,
            Arc::new(DevRoot(SynthDir::with_mode(dev, 1, 0o755, entries))),
        )
    }
}

/// /dev itself: the fixed entries, `console` while the sandbox has one, `loop-control` and a
/// `loopN` for every loop device that exists (devtmpfs shows them as the driver adds them).
struct DevRoot(Arc<SynthDir>);

/// Inode numbers of the loop nodes: past the fixed entries.
const LOOP_CONTROL_INO: u64 = 0x100;
const LOOP_INO_BASE: u64 = 0x1000;

impl DevRoot {
    fn dev(&self) -> Result<u64, Errno> {
        Ok(self.0.stat()?.st_dev)
    }
}

impl Inode for DevRoot {
    fn stat(&self) -> Result<Stat, Errno> {
        self.0.stat()
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let mut list = self.0.listing()?;
        if let Some(console) = super::tty::devpts::console_inode() {
            list.push((console.stat()?.st_ino, DT_CHR, b"console".to_vec()));
        }
        list.push((LOOP_CONTROL_INO, DT_CHR, b"loop-control".to_vec()));
        for d in super::loopdev::devices() {
            list.push((
                LOOP_INO_BASE + u64::from(d.number),
                DT_BLK,
                format!("loop{}", d.number).into_bytes(),
            ));
        }
        Ok(Box::new(ListDir {
            stat: self.0.stat()?,
            list,
        }))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if name == b"console" {
            return super::tty::devpts::console_inode().ok_or(Errno::ENOENT);
        }
        if name == b"loop-control" {
            return Ok(Arc::new(DevNode {
                stat: super::loopdev::control_stat(self.dev()?, LOOP_CONTROL_INO),
            }));
        }
        if let Some(n) = name
            .strip_prefix(b"loop")
            .and_then(|n| std::str::from_utf8(n).ok())
            .filter(|n| !n.starts_with('0') || *n == "0")
            .and_then(|n| n.parse::<u32>().ok())
        {
            if super::loopdev::get(n).is_some() {
                return Ok(Arc::new(DevNode {
                    stat: super::loopdev::node_stat(self.dev()?, LOOP_INO_BASE + u64::from(n), n),
                }));
            }
        }
        self.0.lookup(name)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn dev_stat(fsdev: u64, ino: u64, major: u32, minor: u32) -> Stat {
    Stat {
        st_dev: fsdev,
        st_ino: ino,
        st_nlink: 1,
        st_mode: S_IFCHR | 0o666,
        st_rdev: makedev(major, minor),
        st_blksize: 4096,
        ..Default::default()
    }
}

/// A device node of devfs.
struct DevNode {
    stat: Stat,
}

impl Inode for DevNode {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        // /dev/tty (the caller's controlling terminal) and /dev/ptmx (a new pty).
        if let Some(r) = super::tty::devpts::open_device(self.stat.st_rdev, flags) {
            return r;
        }
        if self.stat.st_mode & S_IFMT == S_IFBLK {
            return super::loopdev::open_block(self.stat.st_rdev, flags);
        }
        if self.stat.st_rdev == makedev(MISC_MAJOR, LOOP_CTRL_MINOR) {
            return Ok(super::loopdev::open_control());
        }
        let (_, dev) = device_of(self.stat.st_rdev).ok_or(Errno::ENXIO)?;
        Ok(Box::new(DevFile {
            dev,
            stat: self.stat,
        }))
    }

    fn setattr(&self, _a: &SetAttr) -> Result<(), Errno> {
        // chmod and utimes of device nodes are accepted and forgotten.
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

struct DevFile {
    dev: Dev,
    stat: Stat,
}

impl FileOps for DevFile {
    fn read_at(&self, buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        match self.dev {
            Dev::Null => Ok(0),
            Dev::Zero | Dev::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            Dev::Random | Dev::Urandom => fill_random(buf).map(|_| buf.len()),
        }
    }

    fn write_at(&self, buf: &[u8], _offset: u64) -> Result<usize, Errno> {
        match self.dev {
            Dev::Full => Err(Errno::ENOSPC),
            _ => Ok(buf.len()),
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    fn host_seek(&self, _offset: i64, _whence: u32) -> Option<Result<u64, Errno>> {
        // null_lseek and noop_llseek: the position stays 0.
        Some(Ok(0))
    }

    fn ioctl(&self, req: u32, data: &mut [u8]) -> Result<u64, Errno> {
        match (self.dev, req) {
            // The entropy count, as /proc/sys/kernel/random/entropy_avail shows it.
            (Dev::Random | Dev::Urandom, RNDGETENTCNT) if data.len() >= 4 => {
                data[..4].copy_from_slice(&256i32.to_ne_bytes());
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn sync(&self) -> Result<(), Errno> {
        // The memory devices have no fsync (Linux: EINVAL).
        Err(Errno::EINVAL)
    }

    fn maps_as_anonymous(&self) -> bool {
        self.dev == Dev::Zero
    }
}

/// Fills `buf` from the host's random source.
pub fn fill_random(buf: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        match super::host_unsafe::getrandom(&mut buf[done..]) {
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
