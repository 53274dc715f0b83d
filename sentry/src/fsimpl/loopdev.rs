// SPDX-License-Identifier: Apache-2.0
//! Loop devices: block devices of the sentry's own whose bytes are those of a sandbox file
//! (tmpfs, overlay, a volume), as Linux's drivers/block/loop.c makes them. Nothing here reaches
//! a host loop device or a host block layer: a read of /dev/loopN at byte `p` is a read of the
//! backing file at `lo_offset + p`, through the backing file's own [`FileOps`].
//!
//! - `/dev/loop-control` (10:237): LOOP_CTL_GET_FREE, LOOP_CTL_ADD, LOOP_CTL_REMOVE.
//! - `/dev/loopN` (7:N): the loop ioctls (handled in `syscalls::sys_block`, which needs the
//!   caller's fd table for LOOP_SET_FD) and the generic block ioctls.
//! - /sys/block/loopN and /sys/dev/block/7:N, /proc/partitions: see [`crate::fsimpl::sys`].
//!
//! The device's state follows loop.c's: unbound, bound, rundown (LOOP_CLR_FD with other
//! openers: the device detaches at the last close, as autoclear does). Its size is fixed when it
//! is bound and by LOOP_SET_CAPACITY and LOOP_SET_STATUS, not when the backing file changes
//! size, as Linux's. Eight devices exist at start, as with Linux's default `max_loop`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use syscalls::abi::*;
use syscalls::{Errno, Zeroable};

use crate::kernel::lock;
use crate::vfs::{File, FileOps};

/// How many devices exist at start (CONFIG_BLK_DEV_LOOP_MIN_COUNT).
const INITIAL_DEVICES: u32 = 8;
/// The highest device number LOOP_CTL_ADD accepts (minors are 20 bits; one partition shift).
const MAX_DEVICE: u32 = (1 << 20) - 1;
/// The largest logical block size (BLK_MAX_BLOCK_SIZE).
pub const MAX_BLOCK_SIZE: u32 = 64 * 1024;

/// A loop device's state, under its lock.
#[derive(Clone)]
pub struct LoopState {
    /// The backing file while bound.
    pub backing: Option<Arc<File>>,
    /// Where the device starts in the backing file.
    pub offset: u64,
    /// The largest size (0: the backing file's).
    pub sizelimit: u64,
    /// LO_FLAGS_*.
    pub flags: u32,
    /// lo_file_name, as LOOP_SET_STATUS last gave it.
    pub file_name: [u8; LO_NAME_SIZE],
    /// lo_crypt_name.
    pub crypt_name: [u8; LO_NAME_SIZE],
    /// Logical block size.
    pub block_size: u32,
    /// Size in bytes (a multiple of 512), fixed at bind, LOOP_SET_CAPACITY, LOOP_SET_STATUS.
    pub size: u64,
    /// LOOP_CLR_FD was called with other openers: detach at the last close.
    pub rundown: bool,
    /// BLKROSET's read-only flag (besides LO_FLAGS_READ_ONLY).
    pub bd_ro: bool,
}

impl Default for LoopState {
    fn default() -> Self {
        LoopState {
            backing: None,
            offset: 0,
            sizelimit: 0,
            flags: 0,
            file_name: [0; LO_NAME_SIZE],
            crypt_name: [0; LO_NAME_SIZE],
            block_size: 512,
            size: 0,
            rundown: false,
            bd_ro: false,
        }
    }
}

/// One loop device.
pub struct LoopDev {
    /// N of /dev/loopN (the minor number).
    pub number: u32,
    state: Mutex<LoopState>,
    /// Open descriptions of the device and mounts of it.
    openers: Mutex<usize>,
    /// I/O counters for /sys/block/loopN/stat: read ios, read sectors, write ios, write
    /// sectors.
    io: [AtomicU64; 4],
    /// The readahead window in pages (BLKRASET/BLKRAGET, the bdi's ra_pages): kept and
    /// reported; the sentry's own reads do not use it.
    ra_pages: AtomicU64,
}

fn registry() -> &'static Mutex<BTreeMap<u32, Arc<LoopDev>>> {
    static REG: OnceLock<Mutex<BTreeMap<u32, Arc<LoopDev>>>> = OnceLock::new();
    REG.get_or_init(|| Mutex::new((0..INITIAL_DEVICES).map(|n| (n, LoopDev::new(n))).collect()))
}

/// The devices that exist, in order.
pub fn devices() -> Vec<Arc<LoopDev>> {
    lock(registry()).values().cloned().collect()
}

/// Device N, if it exists.
pub fn get(n: u32) -> Option<Arc<LoopDev>> {
    lock(registry()).get(&n).cloned()
}

/// The size a binding gives: the backing file's size past `offset`, at most `sizelimit`,
/// rounded down to whole sectors (loop.c's lo_calculate_size).
fn computed_size(backing: &File, offset: u64, sizelimit: u64) -> Result<u64, Errno> {
    let size = backing.ops.stat()?.st_size.max(0) as u64;
    let mut n = size.saturating_sub(offset);
    if sizelimit > 0 && sizelimit < n {
        n = sizelimit;
    }
    Ok(n & !511)
}

/// Whether `bs` is a valid logical block size (blk_validate_block_size).
pub fn valid_block_size(bs: u32) -> bool {
    (512..=MAX_BLOCK_SIZE).contains(&bs) && bs.is_power_of_two()
}

/// A remount of a disk file system on loop device `dev` (the sentry's ext and vfat): to
/// read-only, `sync` writes what the volume holds back and writes are refused from then on;
/// to read-write, the volume in `vol` is mounted again writable by `open(false)` (EACCES on a
/// read-only device, as Linux's reconfigure_super; EIO once the volume is broken), or, if that
/// fails, read-only again as it was (broken if even that fails).
pub(crate) fn remount_volume<V>(
    dev: &LoopDev,
    read_only: &AtomicBool,
    broken: &AtomicBool,
    vol: &mut Option<V>,
    to_ro: bool,
    sync: impl FnOnce(&mut Option<V>) -> Result<(), Errno>,
    open: impl Fn(bool) -> Result<V, Errno>,
) -> Result<(), Errno> {
    if read_only.load(Ordering::Acquire) == to_ro {
        return Ok(());
    }
    if to_ro {
        sync(vol)?;
        read_only.store(true, Ordering::Release);
        return dev.sync();
    }
    if dev.read_only() {
        return Err(Errno::EACCES);
    }
    if broken.load(Ordering::Relaxed) {
        return Err(Errno::EIO);
    }
    // The read-only volume goes first: one user of the device at a time.
    *vol = None;
    match open(false) {
        Ok(v) => {
            *vol = Some(v);
            read_only.store(false, Ordering::Release);
            Ok(())
        }
        Err(e) => {
            *vol = open(true).ok();
            if vol.is_none() {
                broken.store(true, Ordering::Relaxed);
            }
            Err(e)
        }
    }
}

impl LoopDev {
    fn new(number: u32) -> Arc<LoopDev> {
        Arc::new(LoopDev {
            number,
            state: Mutex::new(LoopState::default()),
            openers: Mutex::new(0),
            io: Default::default(),
            // VM_READAHEAD_PAGES: 128 KiB.
            ra_pages: AtomicU64::new(32),
        })
    }

    /// The readahead window in 512-byte sectors (BLKRAGET).
    pub fn readahead(&self) -> u64 {
        self.ra_pages.load(std::sync::atomic::Ordering::Relaxed) * (4096 / 512)
    }

    /// Sets the readahead window from `sectors` 512-byte sectors, in whole pages (BLKRASET).
    pub fn set_readahead(&self, sectors: u64) {
        self.ra_pages
            .store(sectors / (4096 / 512), std::sync::atomic::Ordering::Relaxed);
    }

    /// A copy of the state.
    pub fn state(&self) -> LoopState {
        lock(&self.state).clone()
    }

    /// Whether a backing file is bound.
    pub fn bound(&self) -> bool {
        lock(&self.state).backing.is_some()
    }

    /// The device number (7:N).
    pub fn rdev(&self) -> u64 {
        makedev(LOOP_MAJOR, self.number)
    }

    /// Whether writes are refused.
    pub fn read_only(&self) -> bool {
        let s = lock(&self.state);
        s.flags & LO_FLAGS_READ_ONLY != 0 || s.bd_ro
    }

    /// LOOP_SET_FD and LOOP_CONFIGURE: binds `backing` (opened for writing or not) with
    /// `config`'s status and block size. EBUSY when bound; EINVAL for a backing file that is
    /// not a regular file or a bound block device, or for flags LOOP_CONFIGURE cannot set.
    pub fn configure(
        self: &Arc<Self>,
        backing: Arc<File>,
        config: &LoopConfig,
        dev_writable: bool,
    ) -> Result<(), Errno> {
        let mut s = lock(&self.state);
        if s.backing.is_some() || s.rundown {
            return Err(Errno::EBUSY);
        }
        validate_backing(&backing, self.number)?;
        if config.info.lo_flags & !LOOP_CONFIGURE_SETTABLE_FLAGS != 0 {
            return Err(Errno::EINVAL);
        }
        if config.block_size != 0 && !valid_block_size(config.block_size) {
            return Err(Errno::EINVAL);
        }
        let mut new = LoopState::default();
        status_from_info(&mut new, &config.info)?;
        new.flags = config.info.lo_flags;
        if !backing.writable() || !dev_writable {
            new.flags |= LO_FLAGS_READ_ONLY;
        }
        new.block_size = if config.block_size != 0 {
            config.block_size
        } else {
            512
        };
        new.size = computed_size(&backing, new.offset, new.sizelimit)?;
        new.backing = Some(backing);
        *s = new;
        Ok(())
    }

    /// LOOP_CHANGE_FD: a read-only bound device takes a new backing file of the same size.
    pub fn change_fd(&self, backing: Arc<File>) -> Result<(), Errno> {
        let mut s = lock(&self.state);
        let old = bound_backing(&s)?;
        if s.flags & LO_FLAGS_READ_ONLY == 0 {
            return Err(Errno::EINVAL);
        }
        validate_backing(&backing, self.number)?;
        if computed_size(&backing, s.offset, s.sizelimit)?
            != computed_size(&old, s.offset, s.sizelimit)?
        {
            return Err(Errno::EINVAL);
        }
        s.backing = Some(backing);
        Ok(())
    }

    /// LOOP_CLR_FD: detaches now when the caller is the only opener, else at the last close.
    pub fn clear(&self) -> Result<(), Errno> {
        let openers = *lock(&self.openers);
        let mut s = lock(&self.state);
        if s.backing.is_none() || s.rundown {
            return Err(Errno::ENXIO);
        }
        s.flags |= LO_FLAGS_AUTOCLEAR;
        if openers <= 1 {
            s.rundown = true;
        }
        Ok(())
    }

    /// LOOP_SET_STATUS(64).
    pub fn set_status(&self, info: &LoopInfo64) -> Result<(), Errno> {
        let mut s = lock(&self.state);
        let backing = bound_backing(&s)?;
        let prev = s.flags;
        let (old_off, old_limit) = (s.offset, s.sizelimit);
        let mut new = s.clone();
        status_from_info(&mut new, info)?;
        new.flags = info.lo_flags & LOOP_SET_STATUS_SETTABLE_FLAGS;
        new.flags |= prev & !LOOP_SET_STATUS_SETTABLE_FLAGS;
        new.flags |= prev & !LOOP_SET_STATUS_CLEARABLE_FLAGS;
        if new.offset != old_off || new.sizelimit != old_limit {
            new.size = computed_size(&backing, new.offset, new.sizelimit)?;
        }
        *s = new;
        Ok(())
    }

    /// LOOP_GET_STATUS64 (ENXIO when unbound).
    pub fn get_status(&self) -> Result<LoopInfo64, Errno> {
        let s = lock(&self.state);
        let backing = bound_backing(&s)?;
        let mut info = LoopInfo64::zeroed();
        info.lo_number = self.number;
        info.lo_offset = s.offset;
        info.lo_sizelimit = s.sizelimit;
        info.lo_flags = s.flags;
        info.lo_file_name = s.file_name;
        info.lo_crypt_name = s.crypt_name;
        drop(s);
        let st = backing.stat()?;
        info.lo_device = huge_encode_dev(st.st_dev);
        info.lo_inode = st.st_ino;
        info.lo_rdevice = huge_encode_dev(st.st_rdev);
        Ok(info)
    }

    /// LOOP_SET_CAPACITY: the size is recomputed from the backing file.
    pub fn set_capacity(&self) -> Result<(), Errno> {
        let mut s = lock(&self.state);
        let backing = bound_backing(&s)?;
        s.size = computed_size(&backing, s.offset, s.sizelimit)?;
        Ok(())
    }

    /// LOOP_SET_DIRECT_IO: recorded (the sentry's I/O to the backing file is the same).
    pub fn set_direct_io(&self, on: bool) -> Result<(), Errno> {
        let mut s = lock(&self.state);
        bound_backing(&s)?;
        if on {
            s.flags |= LO_FLAGS_DIRECT_IO;
        } else {
            s.flags &= !LO_FLAGS_DIRECT_IO;
        }
        Ok(())
    }

    /// LOOP_SET_BLOCK_SIZE.
    pub fn set_block_size(&self, bs: u64) -> Result<(), Errno> {
        let mut s = lock(&self.state);
        bound_backing(&s)?;
        let bs = u32::try_from(bs).map_err(|_| Errno::EINVAL)?;
        if !valid_block_size(bs) {
            return Err(Errno::EINVAL);
        }
        s.block_size = bs;
        Ok(())
    }

    /// BLKROSET.
    pub fn set_bd_ro(&self, ro: bool) {
        lock(&self.state).bd_ro = ro;
    }

    /// The soft block size a new opener sees (set_init_blocksize: the largest power of two up
    /// to a page that divides the size, at least the logical block size).
    pub fn soft_block_size(&self) -> u32 {
        let s = lock(&self.state);
        let mut bs = s.block_size.max(512);
        while bs < 4096 && s.size & u64::from(bs) == 0 {
            bs <<= 1;
        }
        bs
    }

    /// Reads at `pos` of the device: the backing file's bytes, up to the device's size.
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> Result<usize, Errno> {
        let (backing, offset, size) = {
            let s = lock(&self.state);
            match &s.backing {
                Some(b) => (b.clone(), s.offset, s.size),
                None => return Ok(0),
            }
        };
        if pos >= size {
            return Ok(0);
        }
        let n = buf
            .len()
            .min(usize::try_from(size - pos).unwrap_or(usize::MAX));
        let at = offset.checked_add(pos).ok_or(Errno::EINVAL)?;
        let mut done = 0;
        while done < n {
            let got = backing.ops.read_at(&mut buf[done..n], at + done as u64)?;
            if got == 0 {
                // Past the backing file's end (it shrank): zeroes, as a hole reads.
                buf[done..n].fill(0);
                done = n;
                break;
            }
            done += got;
        }
        self.count(0, done);
        Ok(done)
    }

    /// Writes at `pos` of the device (blkdev_write_iter: EPERM on a read-only device, ENOSPC at
    /// or past its end, a short write at the end).
    pub fn write_at(&self, buf: &[u8], pos: u64) -> Result<usize, Errno> {
        let (backing, offset, size) = {
            let s = lock(&self.state);
            if s.flags & LO_FLAGS_READ_ONLY != 0 || s.bd_ro {
                return Err(Errno::EPERM);
            }
            match &s.backing {
                Some(b) => (b.clone(), s.offset, s.size),
                None => return Err(Errno::ENOSPC),
            }
        };
        if buf.is_empty() {
            return Ok(0);
        }
        if pos >= size {
            return Err(Errno::ENOSPC);
        }
        let n = buf
            .len()
            .min(usize::try_from(size - pos).unwrap_or(usize::MAX));
        let at = offset.checked_add(pos).ok_or(Errno::EINVAL)?;
        let mut done = 0;
        while done < n {
            let put = backing.ops.write_at(&buf[done..n], at + done as u64)?;
            if put == 0 {
                return Err(Errno::EIO);
            }
            done += put;
        }
        self.count(2, done);
        Ok(done)
    }

    fn count(&self, which: usize, bytes: usize) {
        self.io[which].fetch_add(1, Ordering::Relaxed);
        self.io[which + 1].fetch_add(bytes.div_ceil(512) as u64, Ordering::Relaxed);
    }

    /// /sys/block/loopN/stat: the kernel's eleven (and six more) I/O counters.
    pub fn stat_line(&self) -> String {
        let v: Vec<u64> = self.io.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let ticks = v[0] + v[2];
        let fields = [
            v[0], 0, v[1], 0, v[2], 0, v[3], 0, 0, ticks, ticks, 0, 0, 0, 0, 0, 0,
        ];
        let mut out: String = fields.iter().map(|f| format!("{f:>8} ")).collect();
        out.pop();
        out.push('\n');
        out
    }

    /// Flushes the backing file.
    pub fn sync(&self) -> Result<(), Errno> {
        let backing = lock(&self.state).backing.clone();
        match backing {
            Some(b) => b.ops.sync(),
            None => Ok(()),
        }
    }

    /// The device's size in bytes.
    pub fn size(&self) -> u64 {
        lock(&self.state).size
    }

    /// Counts a new opener. ENXIO while the device runs down (loop.c's lo_open).
    pub fn open(self: &Arc<Self>) -> Result<Opener, Errno> {
        if lock(&self.state).rundown {
            return Err(Errno::ENXIO);
        }
        *lock(&self.openers) += 1;
        Ok(Opener { dev: self.clone() })
    }

    /// How many openers the device has.
    pub fn openers(&self) -> usize {
        *lock(&self.openers)
    }

    fn release(&self) {
        let mut o = lock(&self.openers);
        *o = o.saturating_sub(1);
        if *o > 0 {
            return;
        }
        drop(o);
        let mut s = lock(&self.state);
        if s.backing.is_some() && (s.rundown || s.flags & LO_FLAGS_AUTOCLEAR != 0) {
            *s = LoopState::default();
        }
    }
}

/// One opener of a device (an open description, or a mount): the last one dropped detaches a
/// device marked autoclear or running down.
pub struct Opener {
    /// The device.
    pub dev: Arc<LoopDev>,
}

impl Drop for Opener {
    fn drop(&mut self) {
        self.dev.release();
    }
}

/// The backing file of a bound device (loop.c's `lo_state == Lo_bound`): ENXIO when unbound or
/// running down.
fn bound_backing(s: &LoopState) -> Result<Arc<File>, Errno> {
    match &s.backing {
        Some(b) if !s.rundown => Ok(b.clone()),
        _ => Err(Errno::ENXIO),
    }
}

/// The kernel's `new_encode_dev` of a `dev_t` (what loop_info64's device fields carry).
fn huge_encode_dev(dev: u64) -> u64 {
    let (major, minor) = dev_split(dev);
    let (major, minor) = (u64::from(major), u64::from(minor));
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// loop_validate_file: a regular file, or a bound loop device that is not this one nor backed
/// by it (EBADF for a loop on itself, EINVAL for anything else).
fn validate_backing(backing: &File, me: u32) -> Result<(), Errno> {
    let mut f: Option<Arc<File>> = None;
    let mut depth = 0;
    loop {
        let cur: &File = f.as_deref().unwrap_or(backing);
        let st = cur.stat()?;
        match st.st_mode & S_IFMT {
            S_IFREG => return Ok(()),
            S_IFBLK => {
                let Some(l) = cur.ops.as_any().and_then(|a| a.downcast_ref::<LoopFile>()) else {
                    return Ok(());
                };
                if l.opener.dev.number == me {
                    return Err(Errno::EBADF);
                }
                let next = l.opener.dev.state().backing.ok_or(Errno::EINVAL)?;
                depth += 1;
                if depth > 64 {
                    return Err(Errno::EINVAL);
                }
                f = Some(next);
            }
            _ => return Err(Errno::EINVAL),
        }
    }
}

/// loop_set_status_from_info: offset, size limit, names (flags are the caller's).
fn status_from_info(s: &mut LoopState, info: &LoopInfo64) -> Result<(), Errno> {
    if info.lo_encrypt_key_size as usize > LO_KEY_SIZE {
        return Err(Errno::EINVAL);
    }
    if info.lo_encrypt_type != LO_CRYPT_NONE {
        return Err(Errno::EINVAL);
    }
    if info.lo_offset > i64::MAX as u64 || info.lo_sizelimit > i64::MAX as u64 {
        return Err(Errno::EOVERFLOW);
    }
    s.offset = info.lo_offset;
    s.sizelimit = info.lo_sizelimit;
    s.file_name = info.lo_file_name;
    s.file_name[LO_NAME_SIZE - 1] = 0;
    s.crypt_name = info.lo_crypt_name;
    s.crypt_name[LO_NAME_SIZE - 1] = 0;
    Ok(())
}

/// loop_info64_from_old.
pub fn info64_from_old(old: &LoopInfo) -> LoopInfo64 {
    let mut i = LoopInfo64::zeroed();
    i.lo_number = old.lo_number as u32;
    i.lo_device = old.lo_device;
    i.lo_inode = old.lo_inode;
    i.lo_rdevice = old.lo_rdevice;
    i.lo_offset = old.lo_offset as u32 as u64;
    i.lo_sizelimit = 0;
    i.lo_flags = old.lo_flags as u32;
    i.lo_encrypt_type = old.lo_encrypt_type as u32;
    i.lo_encrypt_key_size = old.lo_encrypt_key_size as u32;
    i.lo_file_name = old.lo_name;
    i
}

/// loop_info64_to_old (EOVERFLOW when the offset does not fit).
pub fn info64_to_old(i: &LoopInfo64) -> Result<LoopInfo, Errno> {
    let mut o = LoopInfo::zeroed();
    o.lo_number = i.lo_number as i32;
    o.lo_device = i.lo_device;
    o.lo_inode = i.lo_inode;
    o.lo_rdevice = i.lo_rdevice;
    o.lo_offset = i32::try_from(i.lo_offset).map_err(|_| Errno::EOVERFLOW)?;
    o.lo_encrypt_type = i.lo_encrypt_type as i32;
    o.lo_encrypt_key_size = i.lo_encrypt_key_size as i32;
    o.lo_flags = i.lo_flags as i32;
    o.lo_name = i.lo_file_name;
    o.lo_name[LO_NAME_SIZE - 1] = 0;
    Ok(o)
}

/// LOOP_CTL_GET_FREE: the first unbound device, or a new one after the last.
pub fn get_free() -> Result<u32, Errno> {
    let mut reg = lock(registry());
    if let Some(d) = reg.values().find(|d| !d.bound() && !lock(&d.state).rundown) {
        return Ok(d.number);
    }
    let n = reg.keys().next_back().map_or(0, |n| n + 1);
    if n > MAX_DEVICE {
        return Err(Errno::ENOSPC);
    }
    reg.insert(n, LoopDev::new(n));
    Ok(n)
}

/// LOOP_CTL_ADD: EEXIST when it exists, EINVAL past the minor range.
pub fn add(n: u64) -> Result<u32, Errno> {
    let n = u32::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_DEVICE)
        .ok_or(Errno::EINVAL)?;
    let mut reg = lock(registry());
    if reg.contains_key(&n) {
        return Err(Errno::EEXIST);
    }
    reg.insert(n, LoopDev::new(n));
    Ok(n)
}

/// LOOP_CTL_REMOVE: ENODEV when absent, EBUSY when bound or open.
pub fn remove(n: u64) -> Result<u32, Errno> {
    let n = u32::try_from(n).map_err(|_| Errno::ENODEV)?;
    let mut reg = lock(registry());
    let d = reg.get(&n).ok_or(Errno::ENODEV)?;
    if d.bound() || d.openers() > 0 || lock(&d.state).rundown {
        return Err(Errno::EBUSY);
    }
    reg.remove(&n);
    Ok(n)
}

/// The stat of a loop device node (brw-rw---- root disk, as udev makes them).
pub fn node_stat(fsdev: u64, ino: u64, number: u32) -> Stat {
    Stat {
        st_dev: fsdev,
        st_ino: ino,
        st_nlink: 1,
        st_mode: S_IFBLK | 0o660,
        st_gid: 6,
        st_rdev: makedev(LOOP_MAJOR, number),
        st_blksize: 4096,
        ..Default::default()
    }
}

/// The stat of /dev/loop-control (crw-rw---- root disk).
pub fn control_stat(fsdev: u64, ino: u64) -> Stat {
    Stat {
        st_dev: fsdev,
        st_ino: ino,
        st_nlink: 1,
        st_mode: S_IFCHR | 0o660,
        st_gid: 6,
        st_rdev: makedev(MISC_MAJOR, LOOP_CTRL_MINOR),
        st_blksize: 4096,
        ..Default::default()
    }
}

/// Opens block device `rdev` (from any file system's device node). ENXIO for a device that
/// does not exist (or runs down).
pub fn open_block(rdev: u64, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
    let (major, minor) = dev_split(rdev);
    if major != LOOP_MAJOR {
        return Err(Errno::ENXIO);
    }
    let dev = get(minor).ok_or(Errno::ENXIO)?;
    let writable = matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR);
    Ok(Box::new(LoopFile {
        opener: dev.open()?,
        writable,
    }))
}

/// Opens /dev/loop-control.
pub fn open_control() -> Box<dyn FileOps> {
    Box::new(LoopControl)
}

/// An open loop device.
pub struct LoopFile {
    /// The device, counted as opened.
    pub opener: Opener,
    /// Opened for writing (loop.c's BLK_OPEN_WRITE).
    pub writable: bool,
}

impl FileOps for LoopFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.opener.dev.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        self.opener.dev.write_at(buf, offset)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        // Only the size matters here (SEEK_END): fstat shows the node's own stat.
        let mut st = node_stat(0, 0, self.opener.dev.number);
        st.st_size = self.opener.dev.size() as i64;
        Ok(st)
    }

    fn sync(&self) -> Result<(), Errno> {
        self.opener.dev.sync()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// An open /dev/loop-control.
pub struct LoopControl;

impl FileOps for LoopControl {
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(control_stat(0, 0))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes() {
        assert!(valid_block_size(512));
        assert!(valid_block_size(4096));
        assert!(valid_block_size(65536));
        assert!(!valid_block_size(256));
        assert!(!valid_block_size(4095));
        assert!(!valid_block_size(131072));
    }

    #[test]
    fn old_info_round_trips() {
        let mut i = LoopInfo64::zeroed();
        i.lo_offset = 4096;
        i.lo_flags = LO_FLAGS_AUTOCLEAR;
        i.lo_file_name[0] = b'x';
        let o = info64_to_old(&i).expect("fits");
        let back = info64_from_old(&o);
        assert_eq!(back.lo_offset, 4096);
        assert_eq!(back.lo_flags, LO_FLAGS_AUTOCLEAR);
        assert_eq!(back.lo_file_name[0], b'x');
        i.lo_offset = 1 << 40;
        assert_eq!(info64_to_old(&i).err(), Some(Errno::EOVERFLOW));
    }

    #[test]
    fn huge_encoding() {
        assert_eq!(huge_encode_dev(makedev(7, 3)), 0x703);
        assert_eq!(huge_encode_dev(makedev(8, 0x123)), 0x10_0823);
    }
}
