// SPDX-License-Identifier: Apache-2.0
//! vfat and msdos: FAT12/16/32 images on the sentry's loop devices, read and written by the
//! sentry alone through the `fatfs` crate (0.3.6), never by a host kernel driver.
//!
//! # Shape
//!
//! `fatfs`'s directories and files borrow its `FileSystem`, so nothing of it lives between
//! calls: every operation takes the mount's lock, walks from the root to the path it needs,
//! acts, and drops what it opened (a `fatfs::File` writes its directory entry back when
//! dropped). An inode is a path in the volume (case-insensitive, as FAT is) with an inode number
//! fixed the first time the path is seen; rename moves both. The volume's disk is the loop
//! device, through [`Disk`]: a small write-through block cache in front of the device, so what
//! `fatfs` writes is in the backing file when the call returns; fsync and syncfs flush the
//! backing file, and unmounting (the last reference to the mount going) writes the FSInfo
//! sector and clears the volume's dirty bit.
//!
//! # Safety against hostile images (DESIGN.md invariant 4)
//!
//! The image is the application's: any byte of it may be hostile. The release profile aborts
//! on panic, so a panic in `fatfs` would kill the sentry; `catch_unwind` cannot help. So every
//! path of `fatfs` this module reaches was read for panics and unbounded loops:
//!
//! - Mounting: `BootSector::validate` rejects zero or non-power-of-two sector and cluster
//!   sizes (no division by zero), zero FATs, inconsistent FAT32 fields and too many clusters.
//!   We also parse the BPB ourselves first ([`Geometry`]) and refuse what `fatfs` would accept
//!   but we cannot guard: a FAT32 volume of more than 0x0FFFFFF5 clusters, a FAT too small for
//!   its clusters, a volume larger than the device.
//! - The explicit panics: `Fat32::set` panics when asked to free cluster number 0x0FFFFFF7 or
//!   above (a hostile directory entry's first cluster, freed by unlink or truncate). It reads the
//!   old entry first, through [`Disk`], which refuses any FAT access past entry
//!   `total_clusters + 2` (every copy of the FAT): the read fails and the panic is never
//!   reached. `File::write`'s "Offset inside cluster but no cluster allocated" needs a position
//!   inside a cluster with no current cluster, which `File::seek` never leaves (a seek in a file
//!   with no cluster goes to 0; a seek past a short chain stops at a cluster boundary). Seeking
//!   from the end is only used on files (whose size is known). `DirEntry::to_file`/`to_dir`
//!   assert the entry's kind: we check `is_dir()` first.
//! - Arithmetic: overflow wraps in release builds (no overflow checks), giving wrong offsets,
//!   which the device bounds turn into errors or short reads.
//! - Unbounded loops: a cyclic cluster chain would make a directory walk or a chain free run
//!   for ever. Every step of `fatfs`'s loops reads the FAT or the data through [`Disk`], which
//!   counts the requests of each operation and fails them past a budget proportional to the
//!   volume's size (every cluster several times over). The mount is then marked broken: later
//!   operations fail with EIO, as Linux's `errors=` handling would stop a corrupt volume.
//! - Memory: the block cache holds at most [`CACHE_BLOCKS`] blocks (2 MiB); a directory walk
//!   stops at [`MAX_DIR_ENTRIES`] entries (Linux's limit for FAT), which bounds listings; the
//!   inode-number table holds only files that exist (removals drop theirs); at most
//!   [`MAX_CURSORS`] file cursors are kept; `fatfs` itself allocates only per entry (names of
//!   at most 255 characters).
//!
//! A corrupt structure found by `fatfs` (a bad FSInfo sector, a chain ending early) is EIO or
//! EUCLEAN for that call, never more.
//!
//! # Known differences from Linux's vfat
//!
//! Open files are found by path at each call, so a file unlinked while open can no longer be
//! read (Linux keeps its clusters until the last close). Renaming a directory into another
//! does not rewrite its `..` entry (fsck.vfat notices). Permissions are the mount's fmask and
//! dmask; chmod is accepted and forgotten (Linux's `quiet`). Directories have a link count of 1
//! ("unknown", as fts and find understand it).

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::loopdev::{LoopDev, Opener};
use crate::kernel::lock;
use crate::vfs::inode::SetAttr;
use crate::vfs::{getdents_from_list, FileOps, Filesystem, Inode, Owner, TimeSpec};

/// How many 4 KiB blocks [`Disk`] caches.
const CACHE_BLOCKS: usize = 512;
const BLOCK: u64 = 4096;

/// The volume's layout, parsed from the boot sector before `fatfs` sees it.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    /// Byte offset of the first FAT.
    fat_start: u64,
    /// Bytes of one FAT.
    fat_bytes: u64,
    /// Number of FATs.
    fats: u64,
    /// Bytes of the FAT that hold entries of real clusters (the rest may not be touched).
    fat_used: u64,
    /// Clusters in the data area.
    total_clusters: u64,
    /// Bytes of the volume.
    volume_bytes: u64,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

impl Geometry {
    /// Parses and checks the boot sector (EINVAL: not a FAT volume we will serve).
    fn parse(boot: &[u8; 512], device_bytes: u64) -> Result<Geometry, Errno> {
        if boot[510] != 0x55 || boot[511] != 0xAA {
            return Err(Errno::EINVAL);
        }
        let bps = le16(boot, 11);
        let spc = u64::from(boot[13]);
        let reserved = le16(boot, 14);
        let fats = u64::from(boot[16]);
        let root_entries = le16(boot, 17);
        let total16 = le16(boot, 19);
        let spf16 = le16(boot, 22);
        let total32 = le32(boot, 32);
        let spf32 = le32(boot, 36);
        if !bps.is_power_of_two() || !(512..=4096).contains(&bps) {
            return Err(Errno::EINVAL);
        }
        if !spc.is_power_of_two() || spc > 128 || reserved == 0 || fats == 0 {
            return Err(Errno::EINVAL);
        }
        let fat32 = spf16 == 0;
        let spf = if fat32 { spf32 } else { spf16 };
        let total = if total16 != 0 { total16 } else { total32 };
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let first_data = reserved + fats * spf + root_sectors;
        if spf == 0 || total <= first_data {
            return Err(Errno::EINVAL);
        }
        let total_clusters = (total - first_data) / spc;
        let bits = if fat32 {
            32
        } else if total_clusters < 4085 {
            12
        } else {
            16
        };
        // A valid FAT32 has at most 0x0FFFFFF5 clusters: cluster numbers of 0x0FFFFFF7 and up
        // (which fatfs panics on freeing) are then always past the FAT's used part.
        if fat32 && total_clusters > 0x0FFF_FFF5 {
            return Err(Errno::EINVAL);
        }
        let fat_bytes = spf * bps;
        let fat_used = ((total_clusters + 2) * bits).div_ceil(8);
        if fat_used > fat_bytes {
            return Err(Errno::EINVAL);
        }
        let volume_bytes = total * bps;
        if volume_bytes > device_bytes {
            return Err(Errno::EINVAL);
        }
        Ok(Geometry {
            fat_start: reserved * bps,
            fat_bytes,
            fats,
            fat_used,
            total_clusters,
            volume_bytes,
        })
    }
}

/// Why a [`Disk`] request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The operation made more requests than any valid volume needs: a loop in the image.
    Budget,
    /// A FAT access past the entries of real clusters.
    FatRange,
}

/// What an operation and the [`Disk`] under it share: the request budget, and why a request
/// failed.
#[derive(Default)]
struct Ctl {
    /// Requests left to the current operation.
    budget: AtomicU64,
    refused: Mutex<Option<Refusal>>,
    /// The device error that failed a request, for the errno.
    failed: Mutex<Option<Errno>>,
}

/// The volume's disk as `fatfs` sees it: the loop device, a write-through cache of whole
/// blocks, the request budget and the FAT guard.
struct Disk {
    opener: Opener,
    pos: u64,
    geo: Geometry,
    cache: HashMap<u64, Box<[u8]>>,
    /// The block used last, out of the map (most requests are for the same block as the one
    /// before: a walk of a chain, a directory).
    last: Option<(u64, Box<[u8]>)>,
    ctl: Arc<Ctl>,
    read_only: bool,
}

impl Disk {
    fn refuse(&mut self, why: Refusal) -> io::Error {
        *lock(&self.ctl.refused) = Some(why);
        io::Error::other("request refused")
    }

    /// Counts a request and checks a range against the FAT guard.
    fn admit(&mut self, len: usize) -> io::Result<()> {
        let left = self.ctl.budget.load(Ordering::Relaxed);
        if left == 0 {
            return Err(self.refuse(Refusal::Budget));
        }
        self.ctl.budget.store(left - 1, Ordering::Relaxed);
        let g = self.geo;
        let end = self.pos.saturating_add(len as u64);
        for copy in 0..g.fats {
            let start = g.fat_start + copy * g.fat_bytes;
            let (used_end, fat_end) = (start + g.fat_used, start + g.fat_bytes);
            if self.pos < fat_end && end > used_end {
                return Err(self.refuse(Refusal::FatRange));
            }
        }
        if end > g.volume_bytes {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "past the volume",
            ));
        }
        Ok(())
    }

    /// Makes block `index` the one in `last`, reading it from the device if it is not cached.
    fn load(&mut self, index: u64) -> io::Result<()> {
        if self.last.as_ref().is_some_and(|(i, _)| *i == index) {
            return Ok(());
        }
        if let Some((i, b)) = self.last.take() {
            self.cache.insert(i, b);
        }
        let b = match self.cache.remove(&index) {
            Some(b) => b,
            None => {
                if self.cache.len() >= CACHE_BLOCKS {
                    // Any victim: the cache holds no dirty data.
                    if let Some(k) = self.cache.keys().next().copied() {
                        self.cache.remove(&k);
                    }
                }
                let mut b = vec![0u8; BLOCK as usize].into_boxed_slice();
                let mut done = 0;
                while done < b.len() {
                    let n = self
                        .opener
                        .dev
                        .read_at(&mut b[done..], index * BLOCK + done as u64)
                        .map_err(|e| self.fail(e))?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                }
                b
            }
        };
        self.last = Some((index, b));
        Ok(())
    }

    fn fail(&mut self, e: Errno) -> io::Error {
        *lock(&self.ctl.failed) = Some(e);
        io::Error::other("device error")
    }
}

impl Read for Disk {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.admit(buf.len())?;
        let mut done = 0;
        while done < buf.len() {
            let at = self.pos + done as u64;
            let (index, off) = (at / BLOCK, (at % BLOCK) as usize);
            let n = (buf.len() - done).min(BLOCK as usize - off);
            self.load(index)?;
            let b = self
                .last
                .as_ref()
                .map(|(_, b)| b)
                .ok_or_else(|| io::Error::other("cache"))?;
            buf[done..done + n].copy_from_slice(&b[off..off + n]);
            done += n;
        }
        self.pos += done as u64;
        Ok(done)
    }
}

impl Write for Disk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.read_only {
            return Err(self.fail(Errno::EROFS));
        }
        self.admit(buf.len())?;
        let n = self
            .opener
            .dev
            .write_at(buf, self.pos)
            .map_err(|e| self.fail(e))?;
        // Keep cached blocks the same as the device.
        let (start, end) = (self.pos, self.pos + n as u64);
        let mut index = start / BLOCK;
        while index * BLOCK < end {
            let cached = match self.last.as_mut() {
                Some((i, b)) if *i == index => Some(b),
                _ => self.cache.get_mut(&index),
            };
            if let Some(b) = cached {
                let bs = index * BLOCK;
                let (from, to) = (start.max(bs), end.min(bs + BLOCK));
                b[(from - bs) as usize..(to - bs) as usize]
                    .copy_from_slice(&buf[(from - start) as usize..(to - start) as usize]);
            }
            index += 1;
        }
        self.pos = end;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Disk {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.geo.volume_bytes.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

/// `fatfs`'s clock: UTC (Linux's vfat uses the kernel's time zone, UTC in a sandbox).
#[derive(Debug)]
struct Utc;

static UTC: Utc = Utc;

impl fatfs::TimeProvider for Utc {
    fn get_current_date(&self) -> fatfs::Date {
        self.get_current_date_time().date
    }

    fn get_current_date_time(&self) -> fatfs::DateTime {
        dos_time(crate::vfs::now().0)
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn unix_time(dt: fatfs::DateTime) -> i64 {
    let d = &dt.date;
    let t = &dt.time;
    days_from_civil(
        i64::from(d.year),
        i64::from(d.month.clamp(1, 12)),
        i64::from(d.day.clamp(1, 31)),
    ) * 86400
        + i64::from(t.hour) * 3600
        + i64::from(t.min) * 60
        + i64::from(t.sec)
}

fn dos_time(secs: i64) -> fatfs::DateTime {
    // FAT times run from 1980 to 2107.
    let secs = secs.clamp(315_532_800, 4_354_819_199);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    fatfs::DateTime {
        date: fatfs::Date {
            year: year as u16,
            month: month as u16,
            day: day as u16,
        },
        time: fatfs::Time {
            hour: (rem / 3600) as u16,
            min: (rem / 60 % 60) as u16,
            sec: (rem % 60) as u16,
            millis: 0,
        },
    }
}

type Fs = fatfs::FileSystem<Disk>;
type Dir<'a> = fatfs::Dir<'a, Disk>;
type Entry<'a> = fatfs::DirEntry<'a, Disk>;

type Volume = super::vfat_unsafe::Volume<Disk>;

struct Inner {
    vol: Option<Volume>,
    /// Inode numbers by upper-cased path.
    inos: HashMap<String, u64>,
    next_ino: u64,
}

/// A mounted FAT volume.
pub struct FatFs {
    dev: u64,
    loopdev: Arc<LoopDev>,
    geo: Geometry,
    ctl: Arc<Ctl>,
    name: &'static str,
    /// Mounted read-only (a remount changes it).
    read_only: AtomicBool,
    inner: Mutex<Inner>,
    broken: AtomicBool,
    fmask: u32,
    dmask: u32,
    owner: Owner,
    this: Weak<FatFs>,
    /// Statistics: cluster size and count, fixed at mount.
    cluster: u64,
    clusters: u64,
    free_hint: AtomicU64,
    /// Where each file's last read or write ended, and in which cluster (by upper-cased path):
    /// the next call resumes there instead of walking the chain from its start. Forgotten when
    /// the file is truncated, removed or renamed (the only changes to a chain before its end).
    cursors: Mutex<HashMap<String, (u32, Option<u32>)>>,
}

/// At most this many cursors are kept (one per file recently read or written).
const MAX_CURSORS: usize = 1024;

/// Mount options (the ones that change what the sandbox shows).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// File owner.
    pub uid: u32,
    /// File group.
    pub gid: u32,
    /// Bits taken from files' permissions.
    pub fmask: u32,
    /// Bits taken from directories' permissions.
    pub dmask: u32,
}

impl Options {
    /// Parses mount(2)'s data string (uid=, gid=, umask=, fmask=, dmask=; the other options of
    /// Linux's fat are accepted).
    pub fn parse(data: &str, owner: Owner) -> Result<Options, Errno> {
        let mut o = Options {
            uid: owner.uid,
            gid: owner.gid,
            fmask: 0o022,
            dmask: 0o022,
        };
        let oct = |v: &str| u32::from_str_radix(v, 8).map_err(|_| Errno::EINVAL);
        for opt in data.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            match k {
                "uid" => o.uid = v.parse().map_err(|_| Errno::EINVAL)?,
                "gid" => o.gid = v.parse().map_err(|_| Errno::EINVAL)?,
                "umask" => {
                    o.fmask = oct(v)?;
                    o.dmask = o.fmask;
                }
                "fmask" => o.fmask = oct(v)?,
                "dmask" => o.dmask = oct(v)?,
                _ => {}
            }
        }
        Ok(o)
    }
}

/// Live volumes by loop device number: a second mount of a device shares the first's volume
/// (as Linux shares the super block), so two caches never disagree.
fn volumes() -> &'static Mutex<HashMap<u32, Weak<FatFs>>> {
    static V: OnceLock<Mutex<HashMap<u32, Weak<FatFs>>>> = OnceLock::new();
    V.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Mounts the FAT volume on loop device `dev` (EINVAL when it holds none; EACCES for a
/// read-write mount of a read-only device).
pub fn mount(
    dev: &Arc<LoopDev>,
    name: &'static str,
    read_only: bool,
    opts: Options,
) -> Result<Arc<FatFs>, Errno> {
    let mut live = lock(volumes());
    if let Some(fs) = live.get(&dev.number).and_then(Weak::upgrade) {
        return Ok(fs);
    }
    if !read_only && dev.read_only() {
        return Err(Errno::EACCES);
    }
    let opener = dev.open()?;
    let mut boot = [0u8; 512];
    if dev.read_at(&mut boot, 0)? != 512 {
        return Err(Errno::EINVAL);
    }
    let geo = Geometry::parse(&boot, dev.size())?;
    let ctl = Arc::new(Ctl::default());
    ctl.budget.store(budget_for(&geo, 0), Ordering::Relaxed);
    let disk = Disk {
        opener,
        pos: 0,
        geo,
        cache: HashMap::new(),
        last: None,
        ctl: ctl.clone(),
        read_only,
    };
    let options = fatfs::FsOptions::new().time_provider(&UTC);
    let fs = fatfs::FileSystem::new(disk, options).map_err(|_| Errno::EINVAL)?;
    let (cluster, clusters) = (fs.cluster_size() as u64, geo.total_clusters);
    let o = Owner {
        uid: opts.uid,
        gid: opts.gid,
    };
    let fat = Arc::new_cyclic(|this| FatFs {
        dev: dev.rdev(),
        loopdev: dev.clone(),
        geo,
        ctl,
        name,
        read_only: AtomicBool::new(read_only),
        inner: Mutex::new(Inner {
            vol: Some(super::vfat_unsafe::Volume(fs)),
            inos: HashMap::from([(String::new(), 1)]),
            next_ino: 2,
        }),
        broken: AtomicBool::new(false),
        fmask: opts.fmask & 0o777,
        dmask: opts.dmask & 0o777,
        owner: o,
        this: this.clone(),
        cluster,
        clusters,
        free_hint: AtomicU64::new(u64::MAX),
        cursors: Mutex::new(HashMap::new()),
    });
    live.retain(|_, w| w.strong_count() > 0);
    live.insert(dev.number, Arc::downgrade(&fat));
    Ok(fat)
}

/// The request budget of one operation touching `bytes` of file data: every FAT entry and
/// every cluster several times over, which no operation on a valid volume exceeds.
fn budget_for(geo: &Geometry, bytes: u64) -> u64 {
    4 * (geo.total_clusters + 2) + 65_536 + bytes / 256
}

fn io_errno(e: &io::Error) -> Errno {
    match e.kind() {
        io::ErrorKind::NotFound => return Errno::ENOENT,
        io::ErrorKind::AlreadyExists => return Errno::EEXIST,
        io::ErrorKind::InvalidInput => return Errno::EINVAL,
        io::ErrorKind::UnexpectedEof => return Errno::EIO,
        _ => {}
    }
    match e.to_string().as_str() {
        "Directory not empty" => Errno::ENOTEMPTY,
        "No space left on device" => Errno::ENOSPC,
        "File name too long" => Errno::ENAMETOOLONG,
        "File name is empty" | "File name contains unsupported characters" => Errno::EINVAL,
        "Is a directory" => Errno::EISDIR,
        "Not a directory" => Errno::ENOTDIR,
        _ => Errno::EUCLEAN,
    }
}

fn name_str(name: &[u8]) -> Result<&str, Errno> {
    let s = std::str::from_utf8(name).map_err(|_| Errno::EINVAL)?;
    if s.chars().count() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(s)
}

fn key(path: &str) -> String {
    path.to_uppercase()
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The most entries a FAT directory holds (Linux's FAT_MAX_DIR_ENTRIES): a walk past it is a
/// looping chain, stopped whatever the request budget says.
const MAX_DIR_ENTRIES: usize = 65536;

fn too_many() -> io::Error {
    io::Error::other("directory too large")
}

/// The entry `name` of `dir` (case-insensitive, long or short name).
fn find<'a>(dir: &Dir<'a>, name: &str) -> io::Result<Option<Entry<'a>>> {
    let up = name.to_uppercase();
    for (i, e) in dir.iter().enumerate() {
        if i >= MAX_DIR_ENTRIES {
            return Err(too_many());
        }
        let e = e?;
        let n = e.file_name();
        if n == "." || n == ".." {
            continue;
        }
        if n.to_uppercase() == up || e.short_file_name().to_uppercase() == up {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// The directory at `path` ("" is the root).
fn open_dir<'a>(fs: &'a Fs, path: &str) -> io::Result<Dir<'a>> {
    let mut d = fs.root_dir();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        match find(&d, c)? {
            Some(e) if e.is_dir() => d = e.to_dir(),
            Some(_) => return Err(io::Error::other("Not a directory")),
            None => return Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
    Ok(d)
}

/// The entry at `path` (not the root).
fn entry<'a>(fs: &'a Fs, path: &str) -> io::Result<Entry<'a>> {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    let d = open_dir(fs, parent)?;
    find(&d, name)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// The open file at `path`.
fn open_file<'a>(fs: &'a Fs, path: &str) -> io::Result<fatfs::File<'a, Disk>> {
    open_sized(fs, path).map(|(f, _)| f)
}

/// The open file at `path` and its size (from its entry: no walk of its chain).
fn open_sized<'a>(fs: &'a Fs, path: &str) -> io::Result<(fatfs::File<'a, Disk>, u64)> {
    let e = entry(fs, path)?;
    if e.is_dir() {
        return Err(io::Error::other("Is a directory"));
    }
    Ok((e.to_file(), e.len()))
}

/// What `stat` needs of an entry.
#[derive(Clone, Copy)]
struct Attrs {
    dir: bool,
    size: u64,
    mtime: i64,
    atime: i64,
    ro: bool,
}

fn attrs(e: &Entry<'_>) -> Attrs {
    let acc = e.accessed();
    Attrs {
        dir: e.is_dir(),
        size: if e.is_dir() { 0 } else { e.len() },
        mtime: unix_time(e.modified()),
        atime: unix_time(fatfs::DateTime {
            date: acc,
            time: fatfs::Time {
                hour: 0,
                min: 0,
                sec: 0,
                millis: 0,
            },
        }),
        ro: e.attributes().contains(fatfs::FileAttributes::READ_ONLY),
    }
}

impl FatFs {
    /// Runs `f` on the volume with a fresh request budget. A refusal of the budget marks the
    /// volume broken (EIO from then on); one of the FAT guard fails the call with EUCLEAN.
    fn with<T>(&self, bytes: u64, f: impl FnOnce(&Fs) -> io::Result<T>) -> Result<T, Errno> {
        if self.broken.load(Ordering::Relaxed) {
            return Err(Errno::EIO);
        }
        let inner = lock(&self.inner);
        let vol = inner.vol.as_ref().ok_or(Errno::EIO)?;
        let fs = &vol.0;
        self.ctl
            .budget
            .store(budget_for(&self.geo, bytes), Ordering::Relaxed);
        *lock(&self.ctl.refused) = None;
        *lock(&self.ctl.failed) = None;
        let r = f(fs);
        let refused = *lock(&self.ctl.refused);
        let failed = *lock(&self.ctl.failed);
        match r {
            Ok(v) => Ok(v),
            Err(e) => Err(match (refused, failed) {
                (Some(Refusal::Budget), _) => {
                    self.broken.store(true, Ordering::Relaxed);
                    Errno::EIO
                }
                (Some(Refusal::FatRange), _) => Errno::EUCLEAN,
                (None, Some(err)) => err,
                (None, None) => io_errno(&e),
            }),
        }
    }

    fn node(&self, path: String, dir: bool) -> Arc<FatNode> {
        let mut inner = lock(&self.inner);
        let k = key(&path);
        let ino = match inner.inos.get(&k) {
            Some(i) => *i,
            None => {
                let i = inner.next_ino;
                inner.next_ino += 1;
                inner.inos.insert(k, i);
                i
            }
        };
        Arc::new(FatNode {
            fs: self
                .this
                .upgrade()
                .expect("the file system is alive while its nodes are"),
            path: Mutex::new(path),
            ino,
            dir,
        })
    }

    fn stat_of(&self, ino: u64, a: &Attrs) -> Stat {
        let mode = if a.dir {
            S_IFDIR | (0o777 & !self.dmask)
        } else {
            let m = 0o777 & !self.fmask;
            S_IFREG | if a.ro { m & !0o222 } else { m }
        };
        Stat {
            st_dev: self.dev,
            st_ino: ino,
            st_nlink: 1,
            st_mode: mode,
            st_uid: self.owner.uid,
            st_gid: self.owner.gid,
            st_size: a.size as i64,
            st_blksize: self.cluster as i64,
            st_blocks: (a.size.div_ceil(self.cluster) * self.cluster / 512) as i64,
            st_atime: a.atime,
            st_mtime: a.mtime,
            st_ctime: a.mtime,
            ..Default::default()
        }
    }

    fn cursor(&self, path: &str) -> Option<(u32, Option<u32>)> {
        lock(&self.cursors).get(&key(path)).copied()
    }

    fn keep_cursor(&self, path: &str, c: (u32, Option<u32>)) {
        let mut m = lock(&self.cursors);
        if m.len() >= MAX_CURSORS {
            m.clear();
        }
        m.insert(key(path), c);
    }

    /// A removed file's inode number goes (the table holds only files that exist, so its size
    /// is bounded by the volume's).
    fn forget_ino(&self, path: &str) {
        lock(&self.inner).inos.remove(&key(path));
    }

    fn forget_cursors(&self) {
        lock(&self.cursors).clear();
    }

    fn check_writable(&self) -> Result<(), Errno> {
        if self.read_only.load(Ordering::Acquire) {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    /// A remount to read-write (the volume opened again, writable; EACCES on a read-only
    /// device) or read-only (what is held back written, writes refused from then on).
    fn remount(&self, read_only: bool) -> Result<(), Errno> {
        let mut inner = lock(&self.inner);
        if !read_only {
            self.forget_cursors();
        }
        let open = |ro: bool| -> Result<_, Errno> {
            self.ctl
                .budget
                .store(budget_for(&self.geo, 0), Ordering::Relaxed);
            let disk = Disk {
                opener: self.loopdev.open()?,
                pos: 0,
                geo: self.geo,
                cache: HashMap::new(),
                last: None,
                ctl: self.ctl.clone(),
                read_only: ro,
            };
            let options = fatfs::FsOptions::new().time_provider(&UTC);
            fatfs::FileSystem::new(disk, options)
                .map(super::vfat_unsafe::Volume)
                .map_err(|_| Errno::EINVAL)
        };
        // Writes go to the device as they are made: nothing is held back to sync.
        super::loopdev::remount_volume(
            &self.loopdev,
            &self.read_only,
            &self.broken,
            &mut inner.vol,
            read_only,
            |_| Ok(()),
            open,
        )
    }
}

impl Filesystem for FatFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.node(String::new(), true)
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    fn reconfigure(&self, read_only: bool) -> Result<(), Errno> {
        self.remount(read_only)
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        let free = match self.free_hint.load(Ordering::Relaxed) {
            u64::MAX => {
                let s = self.with(0, |fs| fs.stats())?;
                u64::from(s.free_clusters())
            }
            f => f,
        };
        Ok(Statfs {
            f_type: MSDOS_SUPER_MAGIC,
            f_bsize: self.cluster as i64,
            f_blocks: self.clusters,
            f_bfree: free,
            f_bavail: free,
            f_namelen: 1530,
            f_frsize: self.cluster as i64,
            ..Default::default()
        })
    }

    fn sync(&self) -> Result<(), Errno> {
        let _inner = lock(&self.inner);
        self.loopdev.sync()
    }

    fn has_tmpfile(&self) -> bool {
        false
    }
}

impl Drop for FatFs {
    /// The last reference to the mount: `fatfs` writes the FSInfo sector and clears the dirty
    /// bit (errors are the volume's, and are dropped with it), then the device's opener goes.
    fn drop(&mut self) {
        let vol = lock(&self.inner).vol.take();
        if let Some(v) = vol {
            if !self.broken.load(Ordering::Relaxed) {
                self.ctl
                    .budget
                    .store(budget_for(&self.geo, 0), Ordering::Relaxed);
                let _ = v.0.unmount();
                let _ = self.loopdev.sync();
            }
        }
    }
}

/// A file or directory of a FAT volume: a path, and an inode number.
pub struct FatNode {
    fs: Arc<FatFs>,
    path: Mutex<String>,
    ino: u64,
    dir: bool,
}

impl FatNode {
    /// A new file or directory `name` in this directory (EEXIST if one is there).
    fn create(&self, name: &[u8], is_dir: bool) -> Result<Arc<dyn Inode>, Errno> {
        let dir = self.path();
        let n = name_str(name)?;
        self.fs.with(0, |fs| {
            let d = open_dir(fs, &dir)?;
            if find(&d, n)?.is_some() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            if is_dir {
                d.create_dir(n).map(drop)
            } else {
                d.create_file(n).map(drop)
            }
        })?;
        Ok(self.fs.node(join(&dir, n), is_dir))
    }

    fn path(&self) -> String {
        lock(&self.path).clone()
    }

    fn attrs(&self) -> Result<Attrs, Errno> {
        let path = self.path();
        if path.is_empty() {
            return Ok(Attrs {
                dir: true,
                size: 0,
                mtime: 0,
                atime: 0,
                ro: false,
            });
        }
        self.fs.with(0, |fs| entry(fs, &path).map(|e| attrs(&e)))
    }
}

impl Inode for FatNode {
    fn stat(&self) -> Result<Stat, Errno> {
        let a = self.attrs()?;
        let mut st = self.fs.stat_of(self.ino, &a);
        if self.path().is_empty() {
            st = crate::vfs::inode::dated(st);
        }
        Ok(st)
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let me = self.fs.node(self.path(), self.dir);
        Ok(Box::new(FatOpen {
            node: me,
            snapshot: Default::default(),
        }))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if !self.dir {
            return Err(Errno::ENOTDIR);
        }
        let dir = self.path();
        let name = name_str(name)?;
        let (real, is_dir) = self.fs.with(0, |fs| {
            let d = open_dir(fs, &dir)?;
            match find(&d, name)? {
                Some(e) => Ok((e.file_name(), e.is_dir())),
                None => Err(io::Error::from(io::ErrorKind::NotFound)),
            }
        })?;
        Ok(self.fs.node(join(&dir, &real), is_dir))
    }

    fn mknod(
        &self,
        name: &[u8],
        mode: u32,
        _rdev: u64,
        _o: Owner,
    ) -> Result<Arc<dyn Inode>, Errno> {
        self.fs.check_writable()?;
        if mode & S_IFMT != S_IFREG && mode & S_IFMT != 0 {
            // FAT has no device, FIFO or socket files.
            return Err(Errno::EPERM);
        }
        self.create(name, false)
    }

    fn mkdir(&self, name: &[u8], _mode: u32, _o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.fs.check_writable()?;
        self.create(name, true)
    }

    fn symlink(&self, _name: &[u8], _target: &[u8], _o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.fs.check_writable()?;
        Err(Errno::EPERM)
    }

    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>) -> Result<(), Errno> {
        self.fs.check_writable()?;
        Err(Errno::EPERM)
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.fs.check_writable()?;
        self.fs.forget_cursors();
        let dir = self.path();
        let n = name_str(name)?;
        self.fs
            .with(0, |fs| {
                let d = open_dir(fs, &dir)?;
                let e = find(&d, n)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                if e.is_dir() {
                    return Err(io::Error::other("Is a directory"));
                }
                d.remove(&e.file_name()).map(|_| e.file_name())
            })
            .map(|real| self.fs.forget_ino(&join(&dir, &real)))
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let dir = self.path();
        let n = name_str(name)?;
        self.fs
            .with(0, |fs| {
                let d = open_dir(fs, &dir)?;
                let e = find(&d, n)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                if !e.is_dir() {
                    return Err(io::Error::other("Not a directory"));
                }
                d.remove(&e.file_name()).map(|_| e.file_name())
            })
            .map(|real| self.fs.forget_ino(&join(&dir, &real)))
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.fs.check_writable()?;
        self.fs.forget_cursors();
        if flags & RENAME_EXCHANGE != 0 {
            return Err(Errno::EINVAL);
        }
        let target = crate::vfs::downcast::<FatNode>(new_dir).ok_or(Errno::EXDEV)?;
        let (from_dir, to_dir) = (self.path(), target.path());
        let (o, n) = (name_str(old)?, name_str(new)?);
        let noreplace = flags & RENAME_NOREPLACE != 0;
        let real = self.fs.with(0, |fs| {
            let src = open_dir(fs, &from_dir)?;
            let dst = open_dir(fs, &to_dir)?;
            let se = find(&src, o)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            let real = se.file_name();
            if let Some(de) = find(&dst, n)? {
                let same = from_dir.to_uppercase() == to_dir.to_uppercase()
                    && de.file_name().to_uppercase() == real.to_uppercase();
                if same && de.file_name() == n {
                    return Ok(real);
                }
                if !same {
                    if noreplace {
                        return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                    }
                    match (se.is_dir(), de.is_dir()) {
                        (true, false) => return Err(io::Error::other("Not a directory")),
                        (false, true) => return Err(io::Error::other("Is a directory")),
                        _ => {}
                    }
                    dst.remove(&de.file_name())?;
                } else {
                    // A change of case only: through a temporary name, as fatfs sees the
                    // two names as one.
                    let tmp = format!(".sandbox-rename-{}", self.ino);
                    src.rename(&real, &src, &tmp)?;
                    src.rename(&tmp, &dst, n)?;
                    return Ok(real);
                }
            }
            src.rename(&real, &dst, n)?;
            Ok(real)
        })?;
        // Live inodes at or below the old path move with it.
        let old_path = join(&from_dir, &real);
        let new_path = join(&to_dir, n);
        let mut inner = lock(&self.fs.inner);
        let (ok, nk) = (key(&old_path), key(&new_path));
        let moved: Vec<(String, u64)> = inner
            .inos
            .iter()
            .filter(|(k, _)| **k == ok || k.starts_with(&format!("{ok}/")))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        inner
            .inos
            .retain(|k, _| *k != nk && !k.starts_with(&format!("{nk}/")));
        for (k, v) in moved {
            inner.inos.remove(&k);
            inner.inos.insert(format!("{nk}{}", &k[ok.len()..]), v);
        }
        drop(inner);
        let _ = new_path;
        Ok(())
    }

    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        let path = self.path();
        if a.uid.is_some_and(|u| u != self.fs.owner.uid)
            || a.gid.is_some_and(|g| g != self.fs.owner.gid)
        {
            return Err(Errno::EPERM);
        }
        if a.size.is_none() && a.mtime.is_none() && a.atime.is_none() {
            // chmod: accepted and forgotten (Linux's `quiet`).
            return Ok(());
        }
        self.fs.check_writable()?;
        if path.is_empty() {
            return Ok(());
        }
        if let Some(size) = a.size {
            if self.dir {
                return Err(Errno::EISDIR);
            }
            if size > u64::from(u32::MAX) {
                return Err(Errno::EFBIG);
            }
            self.fs.forget_cursors();
            self.fs.with(size, |fs| {
                let mut f = open_file(fs, &path)?;
                let cur = f.seek(SeekFrom::End(0))?;
                if size <= cur {
                    f.seek(SeekFrom::Start(size))?;
                    f.truncate()
                } else {
                    write_zeroes(&mut f, size - cur)
                }
            })?;
            self.fs.free_hint.store(u64::MAX, Ordering::Relaxed);
        }
        let when = |t: TimeSpec| match t {
            TimeSpec::Now => crate::vfs::now().0,
            TimeSpec::At(s, _) => s,
        };
        if a.mtime.is_some() || a.atime.is_some() {
            if self.dir {
                // fatfs sets times through files only; directories keep theirs.
                return Ok(());
            }
            self.fs.with(0, |fs| {
                let mut f = open_file(fs, &path)?;
                // Deprecated in fatfs 0.3 only for its move to a directory-entry editor (0.4).
                #[allow(deprecated)]
                if let Some(m) = a.mtime {
                    f.set_modified(dos_time(when(m)));
                }
                #[allow(deprecated)]
                if let Some(t) = a.atime {
                    f.set_accessed(dos_time(when(t)).date);
                }
                f.flush()
            })?;
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn write_zeroes(f: &mut fatfs::File<'_, Disk>, mut n: u64) -> io::Result<()> {
    let zeroes = [0u8; 4096];
    while n > 0 {
        let k = n.min(zeroes.len() as u64) as usize;
        f.write_all(&zeroes[..k])?;
        n -= k as u64;
    }
    Ok(())
}

/// An open file or directory of a FAT volume.
struct FatOpen {
    node: Arc<FatNode>,
    /// The copy private mappings map (the file has no host descriptor).
    snapshot: crate::vfs::snapshot::Snapshot,
}

impl FileOps for FatOpen {
    fn check_mmap(&self, shared: bool, _prot: u32) -> Result<(), Errno> {
        crate::vfs::snapshot::check_mmap(shared)
    }

    fn host_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.snapshot.host_fd(self)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        if self.node.dir {
            return Err(Errno::EISDIR);
        }
        let path = self.node.path();
        if offset >= u64::from(u32::MAX) || buf.is_empty() {
            return Ok(0);
        }
        let cursor = self.node.fs.cursor(&path);
        self.node
            .fs
            .with(buf.len() as u64, |fs| {
                let (mut f, size) = open_sized(fs, &path)?;
                if offset >= size {
                    return Ok((0, f.cursor()));
                }
                if let Some(c) = cursor.filter(|c| u64::from(c.0) <= size) {
                    f.set_cursor(c);
                }
                f.seek(SeekFrom::Start(offset))?;
                let want = buf.len().min((size - offset) as usize);
                let mut done = 0;
                while done < want {
                    let n = f.read(&mut buf[done..want])?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                }
                Ok((done, f.cursor()))
            })
            .map(|(done, c)| {
                self.node.fs.keep_cursor(&path, c);
                done
            })
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        if self.node.dir {
            return Err(Errno::EISDIR);
        }
        self.node.fs.check_writable()?;
        let max = u64::from(u32::MAX);
        if offset >= max {
            return Err(Errno::EFBIG);
        }
        let len = buf.len().min((max - offset) as usize);
        let path = self.node.path();
        let cursor = self.node.fs.cursor(&path);
        let r = self.node.fs.with(len as u64 + offset, |fs| {
            let (mut f, size) = open_sized(fs, &path)?;
            if let Some(c) = cursor.filter(|c| u64::from(c.0) <= size) {
                f.set_cursor(c);
            }
            if offset > size {
                f.seek(SeekFrom::Start(size))?;
                write_zeroes(&mut f, offset - size)?;
            } else {
                f.seek(SeekFrom::Start(offset))?;
            }
            let mut done = 0;
            while done < len {
                match f.write(&buf[done..len]) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if done > 0 => {
                        let _ = e;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok((done, f.cursor()))
        });
        self.node.fs.free_hint.store(u64::MAX, Ordering::Relaxed);
        r.map(|(done, c)| {
            self.node.fs.keep_cursor(&path, c);
            done
        })
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.node.stat()
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        if !self.node.dir {
            return Err(Errno::ENOTDIR);
        }
        let path = self.node.path();
        let names: Vec<(String, bool)> = self.node.fs.with(0, |fs| {
            let d = open_dir(fs, &path)?;
            let mut v = Vec::new();
            for (i, e) in d.iter().enumerate() {
                if i >= MAX_DIR_ENTRIES {
                    return Err(too_many());
                }
                let e = e?;
                let n = e.file_name();
                if n != "." && n != ".." {
                    v.push((n, e.is_dir()));
                }
            }
            Ok(v)
        })?;
        let mut list: Vec<(u64, u8, Vec<u8>)> = vec![
            (self.node.ino, DT_DIR, b".".to_vec()),
            (self.node.ino, DT_DIR, b"..".to_vec()),
        ];
        for (n, dir) in names {
            let child = self.node.fs.node(join(&path, &n), dir);
            list.push((child.ino, if dir { DT_DIR } else { DT_REG }, n.into_bytes()));
        }
        let refs: Vec<(u64, u8, &[u8])> = list
            .iter()
            .map(|(i, t, n)| (*i, *t, n.as_slice()))
            .collect();
        getdents_from_list(&refs, buf, pos)
    }

    fn sync(&self) -> Result<(), Errno> {
        self.node.fs.sync()
    }

    fn allocate(&self, mode: u32, offset: u64, len: u64) -> Result<(), Errno> {
        if mode != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
        let size = self.node.attrs()?.size;
        if end > size {
            self.node.setattr(&SetAttr {
                size: Some(end),
                ..Default::default()
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times_round_trip() {
        for t in [315_532_800i64, 1_700_000_000, 1_234_567_890, 4_102_444_800] {
            assert_eq!(unix_time(dos_time(t)), t, "{t}");
        }
        assert_eq!(unix_time(dos_time(0)), 315_532_800);
    }

    #[test]
    fn geometry_rejects_garbage() {
        let mut boot = [0u8; 512];
        assert_eq!(Geometry::parse(&boot, 1 << 20).err(), Some(Errno::EINVAL));
        boot[510] = 0x55;
        boot[511] = 0xAA;
        assert_eq!(Geometry::parse(&boot, 1 << 20).err(), Some(Errno::EINVAL));
    }
}
