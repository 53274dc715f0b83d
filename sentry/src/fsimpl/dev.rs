// SPDX-License-Identifier: Apache-2.0
//! devfs: the character devices every program expects (null, zero, full, random, urandom).

use syscalls::abi::*;
use syscalls::Errno;

use super::synthetic::dir_stat;
use crate::vfs::{getdents_from_list, FileOps, Filesystem};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dev {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
}

const DEVICES: [(&str, Dev, u32, u32); 5] = [
    ("null", Dev::Null, 1, 3),
    ("zero", Dev::Zero, 1, 5),
    ("full", Dev::Full, 1, 7),
    ("random", Dev::Random, 1, 8),
    ("urandom", Dev::Urandom, 1, 9),
];

/// The /dev file system.
pub struct DevFs {
    dev: u64,
}

impl DevFs {
    /// A devfs with device number `dev`.
    pub fn new(dev: u64) -> DevFs {
        DevFs { dev }
    }

    fn find(rel: &str) -> Option<(usize, Dev, u32, u32)> {
        DEVICES
            .iter()
            .enumerate()
            .find(|(_, d)| d.0 == rel)
            .map(|(i, d)| (i, d.1, d.2, d.3))
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

impl Filesystem for DevFs {
    fn lstat(&self, rel: &str) -> Result<Stat, Errno> {
        if rel.is_empty() {
            return Ok(dir_stat(self.dev, 1));
        }
        let (i, _, major, minor) = Self::find(rel).ok_or(Errno::ENOENT)?;
        Ok(dev_stat(self.dev, i as u64 + 2, major, minor))
    }

    fn readlink(&self, rel: &str) -> Result<Vec<u8>, Errno> {
        self.lstat(rel).and(Err(Errno::EINVAL))
    }

    fn open(&self, rel: &str, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        if rel.is_empty() {
            if matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR) {
                return Err(Errno::EISDIR);
            }
            return Ok(Box::new(DevDir { dev: self.dev }));
        }
        if flags & O_DIRECTORY != 0 {
            return Err(Errno::ENOTDIR);
        }
        let (i, dev, major, minor) = Self::find(rel).ok_or(Errno::ENOENT)?;
        Ok(Box::new(DevFile {
            dev,
            stat: dev_stat(self.dev, i as u64 + 2, major, minor),
        }))
    }

    fn read_only(&self) -> bool {
        false
    }
}

struct DevDir {
    dev: u64,
}

impl FileOps for DevDir {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(dir_stat(self.dev, 1))
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        let mut list: Vec<(u64, u8, &[u8])> = vec![(1, DT_DIR, b"."), (1, DT_DIR, b"..")];
        for (i, d) in DEVICES.iter().enumerate() {
            list.push((i as u64 + 2, DT_CHR, d.0.as_bytes()));
        }
        getdents_from_list(&list, buf, pos)
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
