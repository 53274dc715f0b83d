// SPDX-License-Identifier: Apache-2.0
//! ext2, ext3 and ext4: images on the sentry's loop devices, read and written by the sentry
//! alone through the `rsext4` crate (0.9.2, vendored with fixes: sentry/vendor/README.md), never
//! by a host kernel driver.
//!
//! # Shape
//!
//! `rsext4`'s mounted file system ([`rsext4::Ext4`]) owns its device, caches and journal and is
//! addressed by inode number, so an inode here is just a number: every operation takes the
//! mount's lock and calls the crate. One driver serves the three types, as Linux's ext4 driver
//! does (`CONFIG_EXT4_USE_FOR_EXT2`); the type asked for is the name /proc/mounts shows. The
//! crate replays the journal at a read-write mount, writes through its journal, and flushes at
//! sync (fsync, fdatasync, syncfs, sync) and at unmount (the last reference to the mount going),
//! after which the backing file is flushed too.
//!
//! A file whose last name goes while it is open (or is a working directory) stays on the
//! crate's orphan list until its last in-sentry reference goes; then it is reaped.
//!
//! # Safety against hostile images (DESIGN.md invariant 4)
//!
//! The image is the application's: any byte of it may be hostile, checksums included (a
//! hostile image recomputes them). The release profile aborts on panic, so a panic in `rsext4`
//! would kill the sentry and `catch_unwind` cannot help. What stands between the image and a
//! panic or a hang:
//!
//! - Before the crate sees a device, [`Geometry::parse`] checks the super block: the magic, a
//!   block size of 1, 2 or 4 KiB (what the crate supports), a block count that fits the
//!   device, and no incompatible feature outside the ones the crate implements.
//! - `rsext4` itself validates what it reads as data, not as trusted structure: its parsers
//!   return `Corrupted`/`ChecksumMismatch` errors (EUCLEAN here) for malformed records, bound
//!   extent depths, detect cycles in indirect blocks and directory parents, and check every
//!   block number against the volume. The `unwrap`s of its release code are in the journal's
//!   record decoders, on fixed ranges of buffers whose length their callers check first (read
//!   for this module); slicing is mostly through `get(..)` with an error. It is, however,
//!   30,000 lines that were not read line by line for panics as fatfs was: the fuzz target
//!   `ext4-image` ([`super::ext4_fuzz`], tests/tests/fuzz_targets.rs) runs the crate over
//!   mutated mkfs.ext4/ext3/ext2 images in CI (60,000 inputs ran clean when it was written),
//!   and whatever it finds is fixed in the vendored copy.
//! - Unbounded loops: every request the crate makes of the device goes through [`Disk`], which
//!   counts the requests of each operation and fails them past a budget proportional to the
//!   volume's size. The mount is then marked broken: later operations fail with EIO, as
//!   Linux's `errors=` handling stops a corrupt volume.
//! - Memory: the crate's caches are bounded (inode table, data and bitmap caches: a few hundred
//!   blocks); a directory listing stops at [`MAX_DIR_ENTRIES`] entries; large reads and writes
//!   are made in pieces of at most [`CHUNK`] bytes.
//!
//! # Known differences from Linux's ext4
//!
//! Timestamps have whole seconds as the crate reports them. POSIX ACLs are not served
//! (`system.posix_acl_*` gives EOPNOTSUPP, as a mount with `noacl`); the other xattr
//! namespaces (user, trusted, security) are. Quota ioctls are refused (no quota support).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rsext4::{
    BlockIo, DeviceCapabilities, DeviceGeometry, DeviceNumber, DirectoryCursor, DirectoryEntryType,
    Ext4, Ext4Error, Ext4ErrorKind, Ext4Result, Ext4Timestamp, FileExtent, FileExtentState,
    FileExtentTarget, FileName, FilePermissions, InodeFlags, InodeInfo, InodeMetadataUpdate,
    InodeNumber, MountOptions, MountServices, MountedServices, MutationContext, NoopObserver,
    PreallocationOptions, RangeOperation, RenameOptions, SectorId, SpecialInodeKind, UnlinkOutcome,
    XattrName, XattrNamespace, XattrSetMode,
};
use syscalls::abi::*;
use syscalls::Errno;

/// The inode flags chattr(1) can change on ext2/3/4 (rsext4's EXT4_FL_USER_MODIFIABLE:
/// secure deletion, undelete, compression, sync, immutable, append, nodump, noatime, dirsync,
/// topdir, project inheritance).
const MODIFIABLE_FLAGS: u32 = 0x1
    | 0x2
    | 0x4
    | FS_SYNC_FL
    | FS_IMMUTABLE_FL
    | FS_APPEND_FL
    | FS_NODUMP_FL
    | FS_NOATIME_FL
    | FS_DIRSYNC_FL
    | 0x0002_0000
    | FS_PROJINHERIT_FL;

use super::loopdev::{LoopDev, Opener};
use crate::kernel::lock;
use crate::vfs::inode::SetAttr;
use crate::vfs::{getdents_from_list, FileOps, Filesystem, Inode, Owner, TimeSpec};

/// ext2/3/4's `f_type` (statfs).
pub const EXT4_SUPER_MAGIC: i64 = 0xEF53;

/// The most entries one directory listing holds (a directory of more is refused with EFBIG;
/// no image this sandbox makes comes near).
const MAX_DIR_ENTRIES: usize = 1 << 20;

/// The largest piece of a read or write made under the mount's lock at once.
const CHUNK: usize = 1 << 20;

/// Incompatible features the crate implements (anything else is refused at mount, as Linux
/// refuses what it does not know): filetype, recover, journal_dev is not (an external journal),
/// meta_bg, extents, 64bit, mmp, flex_bg, ea_inode, large_dir, csum_seed. Not: compression,
/// inline_data, encrypt, casefold, dirdata.
const INCOMPAT_OK: u32 =
    0x0002 | 0x0004 | 0x0010 | 0x0040 | 0x0080 | 0x0100 | 0x0200 | 0x0400 | 0x2000 | 0x4000;

/// What the sentry reads of the super block before the crate sees the device.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    block_size: u64,
    blocks: u64,
    reserved: u64,
    /// Blocks of metadata (`s_overhead_clusters`, which mke2fs records): statfs leaves them
    /// out of `f_blocks`, as Linux does. Zero when the image does not say (Linux then counts
    /// them; we report every block).
    overhead: u64,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

impl Geometry {
    /// Parses and checks the super block (1024 bytes from byte 1024). EINVAL: not an ext file
    /// system we will serve.
    pub(crate) fn parse(sb: &[u8; 1024], device_bytes: u64) -> Result<Geometry, Errno> {
        if le16(sb, 56) != 0xEF53 {
            return Err(Errno::EINVAL);
        }
        let log = le32(sb, 24);
        if log > 2 {
            return Err(Errno::EINVAL);
        }
        let block_size = 1024u64 << log;
        let incompat = le32(sb, 96) as u32;
        if incompat & !INCOMPAT_OK != 0 {
            return Err(Errno::EINVAL);
        }
        let is64 = incompat & 0x80 != 0;
        let hi = |at: usize| if is64 { le32(sb, at) << 32 } else { 0 };
        let blocks = le32(sb, 4) | hi(0x150);
        let reserved = le32(sb, 8) | hi(0x154);
        if blocks == 0 || blocks.saturating_mul(block_size) > device_bytes {
            return Err(Errno::EINVAL);
        }
        let overhead = le32(sb, 0x248);
        Ok(Geometry {
            block_size,
            blocks,
            reserved: reserved.min(blocks),
            overhead: if overhead < blocks { overhead } else { 0 },
        })
    }
}

/// What an operation and the [`Disk`] under it share: the request budget, and why a request
/// failed.
#[derive(Default)]
struct Ctl {
    /// Requests left to the current operation.
    budget: AtomicU64,
    /// The budget ran out: a loop in the image.
    exhausted: AtomicBool,
    /// The device error that failed a request, for the errno.
    failed: Mutex<Option<Errno>>,
}

/// The volume's disk as the crate sees it: the loop device in 512-byte sectors, with the
/// request budget.
struct Disk {
    opener: Opener,
    sectors: u64,
    ctl: Arc<Ctl>,
    read_only: bool,
}

impl Disk {
    fn admit(&self, sector: SectorId, len: usize) -> Ext4Result<u64> {
        let left = self.ctl.budget.load(Ordering::Relaxed);
        if left == 0 {
            self.ctl.exhausted.store(true, Ordering::Relaxed);
            return Err(Ext4Error::new(Ext4ErrorKind::Io));
        }
        self.ctl.budget.store(left - 1, Ordering::Relaxed);
        let n = (len as u64).div_ceil(512);
        if sector
            .raw()
            .checked_add(n)
            .is_none_or(|end| end > self.sectors)
        {
            return Err(Ext4Error::new(Ext4ErrorKind::Io));
        }
        Ok(sector.raw() * 512)
    }

    fn fail(&self, e: Errno) -> Ext4Error {
        *lock(&self.ctl.failed) = Some(e);
        Ext4Error::new(Ext4ErrorKind::Io)
    }
}

impl BlockIo for Disk {
    fn write(&mut self, buffer: &[u8], sector: SectorId, _count: u32) -> Ext4Result<()> {
        if self.read_only {
            return Err(self.fail(Errno::EROFS));
        }
        let mut at = self.admit(sector, buffer.len())?;
        let mut rest = buffer;
        while !rest.is_empty() {
            let n = self
                .opener
                .dev
                .write_at(rest, at)
                .map_err(|e| self.fail(e))?;
            if n == 0 {
                return Err(self.fail(Errno::EIO));
            }
            rest = &rest[n..];
            at += n as u64;
        }
        Ok(())
    }

    fn read(&mut self, buffer: &mut [u8], sector: SectorId, _count: u32) -> Ext4Result<()> {
        let at = self.admit(sector, buffer.len())?;
        let mut done = 0;
        while done < buffer.len() {
            let n = self
                .opener
                .dev
                .read_at(&mut buffer[done..], at + done as u64)
                .map_err(|e| self.fail(e))?;
            if n == 0 {
                return Err(self.fail(Errno::EIO));
            }
            done += n;
        }
        Ok(())
    }

    fn geometry(&self) -> DeviceGeometry {
        DeviceGeometry::new(512, self.sectors)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities {
            read_only: self.read_only,
            flush: true,
            ..DeviceCapabilities::default()
        }
    }

    fn flush(&mut self) -> Ext4Result<()> {
        self.opener.dev.sync().map_err(|e| self.fail(e))
    }
}

/// The crate's clock: the sandbox's wall clock.
struct Clock;

impl rsext4::Clock for Clock {
    fn now(&self) -> Ext4Result<Ext4Timestamp> {
        let (s, ns) = crate::vfs::now();
        Ok(Ext4Timestamp::new(s, ns as u32))
    }
}

/// The crate's entropy (MMP sequence numbers, new directory hash seeds): std's per-process
/// random keys (from the host's getrandom at start-up), stirred with a counter.
struct Entropy(u64);

impl rsext4::EntropySource for Entropy {
    fn fill_bytes(&mut self, output: &mut [u8]) -> Ext4Result<()> {
        use std::hash::{BuildHasher, Hasher};
        static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
        let keys = KEYS.get_or_init(std::collections::hash_map::RandomState::new);
        for chunk in output.chunks_mut(8) {
            self.0 = self.0.wrapping_add(1);
            let mut h = keys.build_hasher();
            h.write_u64(self.0);
            h.write_i64(crate::vfs::now().1);
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

type Mounted = Ext4<Disk, MountedServices<Entropy, NoopObserver, ()>>;

/// The mounted volume (the crate's file system with its device).
struct Volume(Mounted);

struct Inner {
    vol: Option<Volume>,
    /// Live inode objects by inode number: a file whose last link went is reaped when its
    /// count reaches zero.
    live: HashMap<u32, usize>,
    /// Inodes with no link left, waiting for their last reference.
    orphans: HashSet<u32>,
}

/// A mounted ext2/3/4 volume.
pub struct ExtFs {
    dev: u64,
    loopdev: Arc<LoopDev>,
    geo: Geometry,
    ctl: Arc<Ctl>,
    name: &'static str,
    /// Mounted read-only (a remount changes it).
    read_only: AtomicBool,
    inner: Mutex<Inner>,
    broken: AtomicBool,
    root_ino: u32,
    this: Weak<ExtFs>,
}

/// Mount options (what mount(2)'s data string may say; the ones that change nothing here are
/// accepted as Linux's ext4 accepts them).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `noload`/`norecovery`: no journal replay (read-only mounts only, as Linux).
    pub noload: bool,
    /// What /proc/mounts shows of them.
    pub shown: String,
}

impl Options {
    /// Parses mount(2)'s data string. Unknown options are EINVAL, as Linux's ext4 gives.
    pub fn parse(data: &str) -> Result<Options, Errno> {
        let mut o = Options::default();
        let mut shown = Vec::new();
        for opt in data.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            match k {
                "errors" => {
                    if !matches!(v, "continue" | "remount-ro" | "panic") {
                        return Err(Errno::EINVAL);
                    }
                    shown.push(opt.to_string());
                }
                "data" => {
                    if !matches!(v, "journal" | "ordered" | "writeback") {
                        return Err(Errno::EINVAL);
                    }
                    if v != "ordered" {
                        shown.push(opt.to_string());
                    }
                }
                "noload" | "norecovery" => o.noload = true,
                "commit"
                | "stripe"
                | "max_batch_time"
                | "min_batch_time"
                | "journal_ioprio"
                | "inode_readahead_blks"
                | "init_itable"
                | "resuid"
                | "resgid"
                | "sb"
                | "journal_path"
                | "journal_dev" => {
                    if !v.is_empty() && v.parse::<u64>().is_err() && k != "journal_path" {
                        return Err(Errno::EINVAL);
                    }
                }
                "barrier"
                | "nobarrier"
                | "user_xattr"
                | "nouser_xattr"
                | "acl"
                | "noacl"
                | "discard"
                | "nodiscard"
                | "delalloc"
                | "nodelalloc"
                | "journal_checksum"
                | "nojournal_checksum"
                | "journal_async_commit"
                | "auto_da_alloc"
                | "noauto_da_alloc"
                | "block_validity"
                | "noblock_validity"
                | "dioread_lock"
                | "dioread_nolock"
                | "noinit_itable"
                | "i_version"
                | "nombcache"
                | "no_mbcache"
                | "grpid"
                | "bsdgroups"
                | "nogrpid"
                | "sysvgroups"
                | "minixdf"
                | "bsddf"
                | "debug"
                | "oldalloc"
                | "orlov"
                | "lazytime"
                | "nolazytime"
                | "prjquota"
                | "noquota"
                | "dax"
                | "nodax"
                | "test_dummy_encryption"
                | "inlinecrypt"
                | "check"
                | "nocheck"
                | "bh"
                | "nobh"
                | "abort"
                | "rw"
                | "ro"
                | "defaults"
                | "sync"
                | "async"
                | "dirsync" => {}
                "quota" | "usrquota" | "grpquota" | "usrjquota" | "grpjquota" | "jqfmt" => {
                    // No quota support: Linux without CONFIG_QUOTA refuses these.
                    return Err(Errno::EINVAL);
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        o.shown = shown.join(",");
        Ok(o)
    }
}

/// Live volumes by loop device number: a second mount of a device shares the first's volume
/// (as Linux shares the super block), so two caches never disagree.
fn volumes() -> &'static Mutex<HashMap<u32, Weak<ExtFs>>> {
    static V: OnceLock<Mutex<HashMap<u32, Weak<ExtFs>>>> = OnceLock::new();
    V.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The request budget of one operation touching `bytes` of file data: every block of the
/// volume several times over, which no operation on a valid volume exceeds.
pub(crate) fn budget_for(geo: &Geometry, bytes: u64) -> u64 {
    4 * geo.blocks + 65_536 + bytes / 256
}

/// Mounts the ext2/3/4 volume on loop device `dev` as type `name` (EINVAL when it holds none
/// the sentry serves; EACCES for a read-write mount of a read-only device).
pub fn mount(
    dev: &Arc<LoopDev>,
    name: &'static str,
    read_only: bool,
    opts: &Options,
) -> Result<Arc<ExtFs>, Errno> {
    let mut live = lock(volumes());
    if let Some(fs) = live.get(&dev.number).and_then(Weak::upgrade) {
        if fs.read_only.load(Ordering::Acquire) && !read_only {
            return Err(Errno::EBUSY);
        }
        return Ok(fs);
    }
    if !read_only && dev.read_only() {
        return Err(Errno::EACCES);
    }
    if opts.noload && !read_only {
        return Err(Errno::EINVAL);
    }
    let opener = dev.open()?;
    let mut sb = [0u8; 1024];
    if dev.read_at(&mut sb, 1024)? != 1024 {
        return Err(Errno::EINVAL);
    }
    let size = dev.size();
    let geo = Geometry::parse(&sb, size)?;
    let ctl = Arc::new(Ctl::default());
    // Mounting may replay the whole journal and read every group's bitmaps.
    ctl.budget.store(4 * budget_for(&geo, 0), Ordering::Relaxed);
    let disk = Disk {
        opener,
        sectors: size / 512,
        ctl: ctl.clone(),
        read_only,
    };
    let options = MountOptions {
        readonly: read_only,
        replay_journal: !opts.noload,
        block_validity: true,
    };
    let services = MountServices::new(Clock, Entropy(0), NoopObserver);
    let ext = Ext4::mount(disk, services, options).map_err(|e| {
        tracing::debug!("ext mount refused: {e}");
        match lock(&ctl.failed).take() {
            Some(err) => err,
            None if ctl.exhausted.load(Ordering::Relaxed) => Errno::EIO,
            None => match e.kind() {
                Ext4ErrorKind::Io => Errno::EIO,
                Ext4ErrorKind::ReadOnly => Errno::EACCES,
                _ => Errno::EINVAL,
            },
        }
    })?;
    let root_ino = ext.root_inode().raw();
    let fs = Arc::new_cyclic(|this| ExtFs {
        dev: dev.rdev(),
        loopdev: dev.clone(),
        geo,
        ctl,
        name,
        read_only: AtomicBool::new(read_only),
        inner: Mutex::new(Inner {
            vol: Some(Volume(ext)),
            live: HashMap::new(),
            orphans: HashSet::new(),
        }),
        broken: AtomicBool::new(false),
        root_ino,
        this: this.clone(),
    });
    live.retain(|_, w| w.strong_count() > 0);
    live.insert(dev.number, Arc::downgrade(&fs));
    Ok(fs)
}

/// The errno of a crate error outside the request guard.
fn errno_of(e: Ext4Error) -> Errno {
    match e.kind() {
        Ext4ErrorKind::Io | Ext4ErrorKind::Timeout => Errno::EIO,
        Ext4ErrorKind::Corrupted
        | Ext4ErrorKind::ChecksumMismatch
        | Ext4ErrorKind::BadSuperblock
        | Ext4ErrorKind::InvalidMagic => Errno::EUCLEAN,
        Ext4ErrorKind::UnsupportedFeature
        | Ext4ErrorKind::UnsupportedCapability
        | Ext4ErrorKind::Unsupported => Errno::EOPNOTSUPP,
        Ext4ErrorKind::ReadOnly | Ext4ErrorKind::JournalAborted => Errno::EROFS,
        Ext4ErrorKind::NoSpace => Errno::ENOSPC,
        Ext4ErrorKind::NoMemory => Errno::ENOMEM,
        Ext4ErrorKind::QuotaExceeded => Errno::EDQUOT,
        Ext4ErrorKind::TooManyLinks => Errno::EMLINK,
        Ext4ErrorKind::PermissionDenied => Errno::EPERM,
        Ext4ErrorKind::NotFound => Errno::ENOENT,
        Ext4ErrorKind::AlreadyExists => Errno::EEXIST,
        Ext4ErrorKind::NotDirectory => Errno::ENOTDIR,
        Ext4ErrorKind::IsDirectory => Errno::EISDIR,
        Ext4ErrorKind::NotEmpty => Errno::ENOTEMPTY,
        Ext4ErrorKind::Busy => Errno::EBUSY,
        Ext4ErrorKind::BadFileDescriptor => Errno::EBADF,
        Ext4ErrorKind::InvalidInput => Errno::EINVAL,
        Ext4ErrorKind::Overflow | Ext4ErrorKind::FileTooLarge => Errno::EFBIG,
    }
}

fn ino(n: u32) -> Result<InodeNumber, Errno> {
    InodeNumber::new(n).map_err(|_| Errno::EUCLEAN)
}

fn file_name(name: &[u8]) -> Result<FileName<'_>, Errno> {
    if name.len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    FileName::new(name).map_err(|_| Errno::EINVAL)
}

fn mode_of_type(t: DirectoryEntryType) -> u8 {
    match t {
        DirectoryEntryType::RegularFile => DT_REG,
        DirectoryEntryType::Directory => DT_DIR,
        DirectoryEntryType::CharacterDevice => DT_CHR,
        DirectoryEntryType::BlockDevice => DT_BLK,
        DirectoryEntryType::Fifo => DT_FIFO,
        DirectoryEntryType::Socket => DT_SOCK,
        DirectoryEntryType::Symlink => DT_LNK,
        DirectoryEntryType::Unknown => DT_UNKNOWN,
    }
}

/// The crate's name of an xattr (`None`: a namespace this module does not serve).
fn xattr_name(name: &[u8]) -> Result<(XattrNamespace, &[u8]), Errno> {
    let split = |p: &[u8]| name.strip_prefix(p);
    let (ns, rest) = if let Some(r) = split(b"user.") {
        (XattrNamespace::User, r)
    } else if let Some(r) = split(b"trusted.") {
        (XattrNamespace::Trusted, r)
    } else if let Some(r) = split(b"security.") {
        (XattrNamespace::Security, r)
    } else {
        return Err(Errno::EOPNOTSUPP);
    };
    if rest.is_empty() || rest.len() > 255 {
        return Err(if rest.is_empty() {
            Errno::EINVAL
        } else {
            Errno::ERANGE
        });
    }
    Ok((ns, rest))
}

fn xattr_full_name(x: &XattrName) -> Option<Vec<u8>> {
    let prefix: &[u8] = match x.namespace {
        XattrNamespace::User => b"user.",
        XattrNamespace::Trusted => b"trusted.",
        XattrNamespace::Security => b"security.",
        _ => return None,
    };
    Some([prefix, &x.name].concat())
}

impl ExtFs {
    /// Runs `f` on the volume with a fresh request budget. A spent budget marks the volume
    /// broken (EIO from then on).
    fn with<T>(
        &self,
        bytes: u64,
        f: impl FnOnce(&mut Mounted) -> Ext4Result<T>,
    ) -> Result<T, Errno> {
        let mut inner = lock(&self.inner);
        self.with_locked(&mut inner, bytes, f)
    }

    fn with_locked<T>(
        &self,
        inner: &mut Inner,
        bytes: u64,
        f: impl FnOnce(&mut Mounted) -> Ext4Result<T>,
    ) -> Result<T, Errno> {
        if self.broken.load(Ordering::Relaxed) {
            return Err(Errno::EIO);
        }
        let vol = inner.vol.as_mut().ok_or(Errno::EIO)?;
        self.ctl
            .budget
            .store(budget_for(&self.geo, bytes), Ordering::Relaxed);
        self.ctl.exhausted.store(false, Ordering::Relaxed);
        *lock(&self.ctl.failed) = None;
        let r = f(&mut vol.0);
        r.map_err(|e| {
            if self.ctl.exhausted.load(Ordering::Relaxed) {
                self.broken.store(true, Ordering::Relaxed);
                return Errno::EIO;
            }
            if let Some(err) = lock(&self.ctl.failed).take() {
                return err;
            }
            let errno = errno_of(e);
            if errno == Errno::EUCLEAN {
                tracing::debug!("ext: corrupt volume: {e}");
            }
            errno
        })
    }

    /// A remount (MS_REMOUNT, FSCONFIG_CMD_RECONFIGURE) to read-write or read-only. To
    /// read-write, the crate's volume is unmounted and mounted again writable (the journal
    /// replayed, as a writable mount does; EACCES on a read-only device, as Linux's
    /// reconfigure_super); to read-only, what is held back is written and writes are refused
    /// from then on.
    fn remount(&self, read_only: bool) -> Result<(), Errno> {
        let mut inner = lock(&self.inner);
        let open = |ro: bool| -> Result<Volume, Errno> {
            let disk = Disk {
                opener: self.loopdev.open()?,
                sectors: self.loopdev.size() / 512,
                ctl: self.ctl.clone(),
                read_only: ro,
            };
            let options = MountOptions {
                readonly: ro,
                replay_journal: true,
                block_validity: true,
            };
            self.ctl
                .budget
                .store(4 * budget_for(&self.geo, 0), Ordering::Relaxed);
            let services = MountServices::new(Clock, Entropy(0), NoopObserver);
            Ext4::mount(disk, services, options)
                .map(Volume)
                .map_err(|e| {
                    tracing::debug!("ext remount refused: {e}");
                    lock(&self.ctl.failed).take().unwrap_or(Errno::EINVAL)
                })
        };
        // The volume is moved out for the helper and back for the sync (with_locked runs on
        // the one in `inner`).
        let inner = &mut *inner;
        let mut vol = inner.vol.take();
        let r = super::loopdev::remount_volume(
            &self.loopdev,
            &self.read_only,
            &self.broken,
            &mut vol,
            read_only,
            |vol| {
                inner.vol = vol.take();
                let r = self.with_locked(inner, 0, |v| v.sync());
                *vol = inner.vol.take();
                r
            },
            open,
        );
        inner.vol = vol;
        r
    }

    fn node(&self, n: u32, info: &InodeInfo) -> Arc<ExtNode> {
        *lock(&self.inner).live.entry(n).or_insert(0) += 1;
        Arc::new(ExtNode {
            fs: self
                .this
                .upgrade()
                .expect("the file system is alive while its nodes are"),
            ino: n,
            dir: info.is_directory(),
        })
    }

    fn check_writable(&self) -> Result<(), Errno> {
        if self.read_only.load(Ordering::Acquire) {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    fn stat_of(&self, i: &InodeInfo) -> Stat {
        let rdev = i
            .device_number
            .map(|d| makedev(d.major(), d.minor()))
            .unwrap_or(0);
        Stat {
            st_dev: self.dev,
            st_ino: u64::from(i.number.raw()),
            st_nlink: u64::from(i.links),
            st_mode: u32::from(i.mode),
            st_uid: i.uid,
            st_gid: i.gid,
            st_rdev: rdev,
            st_size: i.size as i64,
            st_blksize: self.geo.block_size as i64,
            st_blocks: i.blocks as i64,
            st_atime: i.atime_ts.0,
            st_atime_nsec: i64::from(i.atime_ts.1),
            st_mtime: i.mtime_ts.0,
            st_mtime_nsec: i64::from(i.mtime_ts.1),
            st_ctime: i.ctime_ts.0,
            st_ctime_nsec: i64::from(i.ctime_ts.1),
            ..Default::default()
        }
    }

    /// A name went: an inode with no link left is reaped now, or at its last reference.
    fn unlinked(&self, inner: &mut Inner, out: UnlinkOutcome) -> Result<(), Errno> {
        if !out.requires_reap() {
            return Ok(());
        }
        let n = out.inode.raw();
        if inner.live.get(&n).copied().unwrap_or(0) > 0 {
            inner.orphans.insert(n);
            return Ok(());
        }
        self.with_locked(inner, 0, |v| v.reap_unlinked_inode(out.inode))
    }

    fn dropped(&self, n: u32) {
        let mut inner = lock(&self.inner);
        let left = match inner.live.get_mut(&n) {
            Some(c) => {
                *c = c.saturating_sub(1);
                *c
            }
            None => 0,
        };
        if left == 0 {
            inner.live.remove(&n);
            if inner.orphans.remove(&n) {
                let r = ino(n)
                    .and_then(|i| self.with_locked(&mut inner, 0, |v| v.reap_unlinked_inode(i)));
                if let Err(e) = r {
                    tracing::debug!("ext: reaping inode {n}: {e:?}");
                }
            }
        }
    }
}

impl Filesystem for ExtFs {
    fn root(&self) -> Arc<dyn Inode> {
        let n = self.root_ino;
        *lock(&self.inner).live.entry(n).or_insert(0) += 1;
        Arc::new(ExtNode {
            fs: self
                .this
                .upgrade()
                .expect("the file system is alive while its nodes are"),
            ino: n,
            dir: true,
        })
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
        let s = self.with(0, |v| Ok(v.statfs()))?;
        let bsize = s.block_size as i64;
        Ok(Statfs {
            f_type: EXT4_SUPER_MAGIC,
            f_bsize: bsize,
            f_blocks: s.total_blocks.saturating_sub(self.geo.overhead),
            f_bfree: s.free_blocks,
            f_bavail: s.free_blocks.saturating_sub(self.geo.reserved),
            f_files: u64::from(s.total_inodes),
            f_ffree: u64::from(s.free_inodes),
            f_namelen: 255,
            f_frsize: bsize,
            ..Default::default()
        })
    }

    fn sync(&self) -> Result<(), Errno> {
        if self.read_only.load(Ordering::Acquire) {
            return self.loopdev.sync();
        }
        self.with(0, |v| v.sync())?;
        self.loopdev.sync()
    }

    fn has_tmpfile(&self) -> bool {
        false
    }
}

impl Drop for ExtFs {
    /// The last reference to the mount: the crate reaps what is left, commits its journal,
    /// writes the super block clean, and the device's opener goes.
    fn drop(&mut self) {
        let mut inner = lock(&self.inner);
        let orphans: Vec<u32> = inner.orphans.drain().collect();
        for n in orphans {
            if let Ok(i) = ino(n) {
                let _ = self.with_locked(&mut inner, 0, |v| v.reap_unlinked_inode(i));
            }
        }
        if !self.broken.load(Ordering::Relaxed) {
            let _ = self.with_locked(&mut inner, 0, |v| v.unmount());
        }
        inner.vol = None;
        drop(inner);
        let _ = self.loopdev.sync();
    }
}

/// A file of an ext volume: an inode number.
pub struct ExtNode {
    fs: Arc<ExtFs>,
    ino: u32,
    dir: bool,
}

impl Drop for ExtNode {
    fn drop(&mut self) {
        self.fs.dropped(self.ino);
    }
}

impl ExtNode {
    fn number(&self) -> Result<InodeNumber, Errno> {
        ino(self.ino)
    }

    fn info(&self) -> Result<InodeInfo, Errno> {
        let n = self.number()?;
        self.fs.with(0, |v| v.inode(n))
    }

    fn context(o: Owner) -> MutationContext {
        MutationContext::new(o.uid, o.gid, 0, 0)
    }

    fn created(&self, r: Result<InodeInfo, Errno>) -> Result<Arc<dyn Inode>, Errno> {
        let info = r?;
        Ok(self.fs.node(info.number.raw(), &info))
    }
}

fn permissions(mode: u32) -> Result<FilePermissions, Errno> {
    FilePermissions::new((mode & 0o7777) as u16).map_err(|_| Errno::EINVAL)
}

fn timestamp(t: TimeSpec) -> Ext4Timestamp {
    match t {
        TimeSpec::Now => {
            let (s, ns) = crate::vfs::now();
            Ext4Timestamp::new(s, ns as u32)
        }
        TimeSpec::At(s, ns) => Ext4Timestamp::new(s, ns.clamp(0, 999_999_999) as u32),
    }
}

impl Inode for ExtNode {
    /// A metadata update (a journal transaction here, where Linux dirties the inode in
    /// memory): with relatime, only when the access time is stale.
    fn touch_atime(&self, relatime: bool) {
        if self.fs.read_only.load(Ordering::Acquire) {
            return;
        }
        if relatime {
            let Ok(i) = self.info() else { return };
            let a = i.atime_ts;
            let day_old = crate::vfs::now().0 - a.0 >= 24 * 3600;
            if a > i.mtime_ts && a > i.ctime_ts && !day_old {
                return;
            }
        }
        let _ = self.setattr(&SetAttr {
            atime: Some(crate::vfs::TimeSpec::Now),
            ..Default::default()
        });
    }

    fn btime(&self) -> Option<(i64, i64)> {
        let (s, ns) = self.info().ok()?.btime_ts?;
        Some((s, i64::from(ns)))
    }

    fn stat(&self) -> Result<Stat, Errno> {
        let i = self.info()?;
        Ok(self.fs.stat_of(&i))
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let info = self.info()?;
        Ok(Box::new(ExtOpen {
            node: self.fs.node(self.ino, &info),
            listing: Mutex::new(None),
            snapshot: Default::default(),
        }))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if !self.dir {
            return Err(Errno::ENOTDIR);
        }
        let n = self.number()?;
        let fname = file_name(name)?;
        let info = self
            .fs
            .with(0, |v| v.lookup_child(n, fname))?
            .ok_or(Errno::ENOENT)?;
        Ok(self.fs.node(info.number.raw(), &info))
    }

    fn lookup_stat(&self, name: &[u8]) -> Result<(Arc<dyn Inode>, Stat), Errno> {
        if !self.dir {
            return Err(Errno::ENOTDIR);
        }
        let n = self.number()?;
        let fname = file_name(name)?;
        let info = self
            .fs
            .with(0, |v| v.lookup_child(n, fname))?
            .ok_or(Errno::ENOENT)?;
        let st = self.fs.stat_of(&info);
        Ok((self.fs.node(info.number.raw(), &info), st))
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        let info = self.info()?;
        if u32::from(info.mode) & S_IFMT != S_IFLNK {
            return Err(Errno::EINVAL);
        }
        let n = self.number()?;
        let len = info.size.min(4096) as usize;
        let mut buf = vec![0u8; len];
        let got = self.fs.with(0, |v| v.read_inode(n, 0, &mut buf))?;
        buf.truncate(got);
        Ok(buf)
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.fs.check_writable()?;
        let n = self.number()?;
        let fname = file_name(name)?;
        let perm = permissions(mode)?;
        let ctx = Self::context(o);
        let (major, minor) = dev_split(rdev);
        let devnum = || DeviceNumber::new(major, minor).map_err(|_| Errno::EINVAL);
        let kind = match mode & S_IFMT {
            S_IFREG | 0 => None,
            S_IFCHR => Some(SpecialInodeKind::CharacterDevice(devnum()?)),
            S_IFBLK => Some(SpecialInodeKind::BlockDevice(devnum()?)),
            S_IFIFO => Some(SpecialInodeKind::Fifo),
            S_IFSOCK => Some(SpecialInodeKind::Socket),
            _ => return Err(Errno::EINVAL),
        };
        self.created(self.fs.with(0, |v| match kind {
            None => v.create_regular_file(ctx, n, fname, perm),
            Some(k) => v.create_special_inode(ctx, n, fname, perm, k),
        }))
    }

    fn mkdir(&self, name: &[u8], mode: u32, o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.fs.check_writable()?;
        let n = self.number()?;
        let fname = file_name(name)?;
        let perm = permissions(mode)?;
        let ctx = Self::context(o);
        self.created(self.fs.with(0, |v| v.create_directory(ctx, n, fname, perm)))
    }

    fn symlink(&self, name: &[u8], target: &[u8], o: Owner) -> Result<Arc<dyn Inode>, Errno> {
        self.fs.check_writable()?;
        if target.len() >= self.fs.geo.block_size as usize {
            return Err(Errno::ENAMETOOLONG);
        }
        let n = self.number()?;
        let fname = file_name(name)?;
        let ctx = Self::context(o);
        self.created(self.fs.with(0, |v| v.create_symlink(ctx, n, fname, target)))
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let t = crate::vfs::downcast::<ExtNode>(target).ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        let (n, tn) = (self.number()?, t.number()?);
        let fname = file_name(name)?;
        self.fs.with(0, |v| v.hard_link(tn, n, fname)).map(drop)
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let n = self.number()?;
        let fname = file_name(name)?;
        let mut inner = lock(&self.fs.inner);
        let out = self.fs.with_locked(&mut inner, 0, |v| v.unlink(n, fname))?;
        self.fs.unlinked(&mut inner, out)
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let n = self.number()?;
        let fname = file_name(name)?;
        let mut inner = lock(&self.fs.inner);
        let out = self
            .fs
            .with_locked(&mut inner, 0, |v| v.remove_empty_directory(n, fname))?;
        self.fs.unlinked(&mut inner, out)
    }

    fn rename(
        &self,
        old: &[u8],
        new_dir: &Arc<dyn Inode>,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let target = crate::vfs::downcast::<ExtNode>(new_dir).ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&target.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        let options = if flags & RENAME_EXCHANGE != 0 {
            RenameOptions::EXCHANGE
        } else if flags & RENAME_WHITEOUT != 0 {
            return Err(Errno::EINVAL);
        } else if flags & RENAME_NOREPLACE != 0 {
            RenameOptions::NO_REPLACE
        } else {
            RenameOptions::REPLACE
        };
        let (from, to) = (self.number()?, target.number()?);
        let (o, n) = (file_name(old)?, file_name(new)?);
        let mut inner = lock(&self.fs.inner);
        let out = self
            .fs
            .with_locked(&mut inner, 0, |v| v.rename(from, o, to, n, options))?;
        match out.replaced {
            Some(r) => self.fs.unlinked(&mut inner, r),
            None => Ok(()),
        }
    }

    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let n = self.number()?;
        if let Some(size) = a.size {
            if self.dir {
                return Err(Errno::EISDIR);
            }
            self.fs.with(0, |v| v.truncate_inode(n, size))?;
        }
        let owner = match (a.uid, a.gid) {
            (None, None) => None,
            (u, g) => {
                let cur = self.info()?;
                Some((u.unwrap_or(cur.uid), g.unwrap_or(cur.gid)))
            }
        };
        let update = InodeMetadataUpdate {
            permissions: a.mode.map(permissions).transpose()?,
            owner,
            atime: a.atime.map(timestamp),
            mtime: a.mtime.map(timestamp),
            ..Default::default()
        };
        if update != InodeMetadataUpdate::default() {
            self.fs
                .with(0, |v| v.update_inode_metadata(n, update))
                .map(drop)?;
        }
        Ok(())
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        let (ns, rest) = xattr_name(name)?;
        let n = self.number()?;
        self.fs.with(0, |v| v.get_xattr(n, ns, rest)).map_err(|e| {
            if e == Errno::ENOENT {
                Errno::ENODATA
            } else {
                e
            }
        })
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let (ns, rest) = xattr_name(name)?;
        if value.len() > self.fs.geo.block_size as usize {
            return Err(Errno::E2BIG);
        }
        let mode = if flags & XATTR_CREATE != 0 {
            XattrSetMode::Create
        } else if flags & XATTR_REPLACE != 0 {
            XattrSetMode::Replace
        } else {
            XattrSetMode::Upsert
        };
        let n = self.number()?;
        self.fs
            .with(0, |v| v.set_xattr(n, ns, rest, value, mode))
            .map_err(|e| {
                if e == Errno::ENOENT {
                    Errno::ENODATA
                } else {
                    e
                }
            })
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>, Errno> {
        let n = self.number()?;
        let names = self.fs.with(0, |v| v.list_xattrs(n))?;
        Ok(names.iter().filter_map(xattr_full_name).collect())
    }

    fn removexattr(&self, name: &[u8]) -> Result<(), Errno> {
        self.fs.check_writable()?;
        let (ns, rest) = xattr_name(name)?;
        let n = self.number()?;
        self.fs
            .with(0, |v| v.remove_xattr(n, ns, rest))
            .map_err(|e| {
                if e == Errno::ENOENT {
                    Errno::ENODATA
                } else {
                    e
                }
            })
    }

    fn attr_flags(&self) -> Result<u32, Errno> {
        Ok(self.info()?.flags.bits())
    }

    fn flag_attributes_mask(&self) -> u64 {
        // ext4_getattr: append, compressed, encrypted, immutable, nodump, verity.
        0x20 | 0x4 | 0x800 | 0x10 | 0x40 | 0x0010_0000
    }

    fn set_attr_flags(&self, flags: u32) -> Result<(), Errno> {
        self.fs.check_writable()?;
        // ext4_fileattr_set: visible flags only (EOPNOTSUPP); those that cannot be set are
        // masked off, as chattr(1) passes back what GETFLAGS gave it.
        if flags & !InodeFlags::all().bits() != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let old = self.info()?.flags.bits();
        // ext4_ioctl_check_immutable: an immutable file stays as it is but for that flag.
        if old & FS_IMMUTABLE_FL != 0
            && flags & FS_IMMUTABLE_FL != 0
            && (old ^ flags) & !FS_IMMUTABLE_FL & MODIFIABLE_FLAGS != 0
        {
            return Err(Errno::EPERM);
        }
        let n = self.number()?;
        let update = InodeMetadataUpdate {
            flags: Some(InodeFlags::from_bits_truncate(flags & MODIFIABLE_FLAGS)),
            ..Default::default()
        };
        self.fs
            .with(0, |v| v.update_inode_metadata(n, update))
            .map(drop)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Most extents one FS_IOC_FIEMAP reports.
const MAX_FIEMAP: usize = 65536;

/// One directory entry of a listing: inode, type, name.
type Listed = (u64, u8, Vec<u8>);

/// An open file or directory of an ext volume.
struct ExtOpen {
    node: Arc<ExtNode>,
    /// A directory's entries, read at its first getdents (and again from position 0).
    listing: Mutex<Option<Vec<Listed>>>,
    /// The copy private mappings map (the file has no host descriptor).
    snapshot: crate::vfs::snapshot::Snapshot,
}

impl ExtOpen {
    fn list(&self) -> Result<Vec<Listed>, Errno> {
        let n = self.node.number()?;
        self.node.fs.with(0, |v| {
            let mut out = Vec::new();
            let mut cursor = DirectoryCursor::Start;
            let mut reader = v.open_directory_reader(n)?;
            loop {
                let batch = v.read_directory_with_reader(&mut reader, cursor, 4096)?;
                let Some(last) = batch.last() else { break };
                let next = last.next_cursor;
                for e in batch {
                    if out.len() >= MAX_DIR_ENTRIES {
                        return Err(Ext4Error::new(Ext4ErrorKind::FileTooLarge));
                    }
                    out.push((e.inode.as_u64(), mode_of_type(e.file_type), e.name));
                }
                if next == DirectoryCursor::End || next == cursor {
                    break;
                }
                cursor = next;
            }
            Ok(out)
        })
    }
}

impl ExtOpen {
    /// The file's extents (of its data, or of its extended attributes) overlapping `start` to
    /// `end`, at most `most`, in file order: read through rsext4 a bounded batch at a time.
    fn extents(
        &self,
        start: u64,
        end: u64,
        target: FileExtentTarget,
        most: usize,
    ) -> Result<Vec<FileExtent>, Errno> {
        let n = self.node.number()?;
        let mut out = Vec::new();
        let mut at = start;
        while at < end && out.len() < most {
            let map = self
                .node
                .fs
                .with(0, |v| v.inode_extents(n, at, end - at, target, 256))?;
            let Some(last) = map.extents.last().copied() else {
                break;
            };
            let next = last.logical_start.saturating_add(last.length);
            out.extend(map.extents);
            if map.complete || next <= at {
                break;
            }
            at = next;
        }
        out.sort_by_key(|e| e.logical_start);
        Ok(out)
    }

    /// The file's data extents (written ones: unwritten extents read as zeros, and Linux's
    /// ext4 reports them as holes) from `offset` to `end`, in file order.
    fn data_extents(&self, offset: u64, end: u64) -> Result<Vec<FileExtent>, Errno> {
        let mut v = self.extents(offset, end, FileExtentTarget::Data, usize::MAX)?;
        v.retain(|e| e.state != FileExtentState::Unwritten);
        Ok(v)
    }
}

impl FileOps for ExtOpen {
    fn fiemap(
        &self,
        start: u64,
        len: u64,
        xattr: bool,
    ) -> Option<Result<Vec<crate::vfs::Fiemap>, Errno>> {
        let target = match xattr {
            true => FileExtentTarget::ExtendedAttributes,
            false => FileExtentTarget::Data,
        };
        let end = start.saturating_add(len);
        let r = self.extents(start, end, target, MAX_FIEMAP).map(|v| {
            v.iter()
                .map(|e| crate::vfs::Fiemap {
                    logical: e.logical_start,
                    physical: e.physical_start,
                    length: e.length,
                    flags: match e.state {
                        FileExtentState::Initialized => 0,
                        FileExtentState::Unwritten => FIEMAP_EXTENT_UNWRITTEN,
                        FileExtentState::Inline => {
                            FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED
                        }
                    } | if e.merged { FIEMAP_EXTENT_MERGED } else { 0 },
                })
                .collect()
        });
        Some(r)
    }

    fn seek_hole(&self, offset: u64, whence: u32) -> Option<Result<u64, Errno>> {
        if self.node.dir {
            return None;
        }
        let r = (|| {
            let size = self.node.stat()?.st_size as u64;
            let data = self.data_extents(offset, size)?;
            if whence == SEEK_DATA {
                return data
                    .iter()
                    .find(|e| e.logical_start.saturating_add(e.length) > offset)
                    .map(|e| e.logical_start.max(offset))
                    .ok_or(Errno::ENXIO);
            }
            // The end of the file is a hole.
            let mut pos = offset;
            for e in &data {
                if e.logical_start > pos {
                    break;
                }
                pos = pos.max(e.logical_start.saturating_add(e.length));
            }
            Ok(pos.min(size))
        })();
        Some(r)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        if self.node.dir {
            return Err(Errno::EISDIR);
        }
        let n = self.node.number()?;
        let mut done = 0;
        while done < buf.len() {
            let end = buf.len().min(done + CHUNK);
            let at = offset.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            let piece = &mut buf[done..end];
            let got = match self
                .node
                .fs
                .with(piece.len() as u64, |v| v.read_inode(n, at, piece))
            {
                Ok(g) => g,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += got;
            if got < end - (done - got) {
                break;
            }
        }
        Ok(done)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        if self.node.dir {
            return Err(Errno::EISDIR);
        }
        self.node.fs.check_writable()?;
        let n = self.node.number()?;
        let mut done = 0;
        while done < buf.len() {
            let end = buf.len().min(done + CHUNK);
            let at = offset.checked_add(done as u64).ok_or(Errno::EFBIG)?;
            let piece = &buf[done..end];
            match self
                .node
                .fs
                .with(piece.len() as u64, |v| v.write_inode(n, at, piece))
            {
                Ok(()) => done = end,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        self.node.stat()
    }

    fn getdents(&self, buf: &mut [u8], pos: &mut u64) -> Result<usize, Errno> {
        if !self.node.dir {
            return Err(Errno::ENOTDIR);
        }
        // A removed directory lists nothing (iterate_dir's IS_DEADDIR).
        if self.node.stat()?.st_nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let mut listing = lock(&self.listing);
        if *pos == 0 || listing.is_none() {
            *listing = Some(self.list()?);
        }
        let list = listing.as_ref().map(Vec::as_slice).unwrap_or_default();
        let refs: Vec<(u64, u8, &[u8])> = list
            .iter()
            .map(|(i, t, n)| (*i, *t, n.as_slice()))
            .collect();
        getdents_from_list(&refs, buf, pos)
    }

    fn sync(&self) -> Result<(), Errno> {
        self.node.fs.sync()
    }

    fn check_mmap(&self, shared: bool, _prot: u32) -> Result<(), Errno> {
        crate::vfs::snapshot::check_mmap(shared)
    }

    fn host_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.snapshot.host_fd(self)
    }

    fn allocate(&self, mode: u32, offset: u64, len: u64) -> Result<(), Errno> {
        self.node.fs.check_writable()?;
        let n = self.node.number()?;
        let op = if mode & FALLOC_FL_PUNCH_HOLE != 0 {
            RangeOperation::PunchHole
        } else if mode & FALLOC_FL_KEEP_SIZE != 0 {
            RangeOperation::Allocate(PreallocationOptions::KEEP_SIZE)
        } else {
            RangeOperation::Allocate(PreallocationOptions::EXTEND_SIZE)
        };
        self.node
            .fs
            .with(0, |v| v.operate_inode_range(n, offset, len, op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_rejects_garbage() {
        let mut sb = [0u8; 1024];
        assert_eq!(Geometry::parse(&sb, 1 << 26).err(), Some(Errno::EINVAL));
        sb[56] = 0x53;
        sb[57] = 0xEF;
        sb[4] = 1;
        sb[24] = 7;
        assert_eq!(Geometry::parse(&sb, 1 << 26).err(), Some(Errno::EINVAL));
        sb[24] = 0;
        assert!(Geometry::parse(&sb, 1 << 26).is_ok());
        sb[98] = 0x10; // encrypt: refused
        assert_eq!(Geometry::parse(&sb, 1 << 26).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn options() {
        assert!(Options::parse("errors=remount-ro,data=journal,bogus").is_err());
        let o = Options::parse("errors=remount-ro,data=journal,barrier=1").unwrap();
        assert_eq!(o.shown, "errors=remount-ro,data=journal");
        assert!(Options::parse("errors=continue,data=ordered,nobarrier,user_xattr").is_ok());
        assert_eq!(Options::parse("errors=bogus").err(), Some(Errno::EINVAL));
        assert_eq!(Options::parse("usrquota").err(), Some(Errno::EINVAL));
    }
}
