// SPDX-License-Identifier: Apache-2.0
//! Shared memory segments: shmget(2), shmat(2), shmdt(2), shmctl(2) (Linux's ipc/shm.c).
//!
//! A segment's pages are a host memfd the sentry owns. shmat maps it into the caller's stub
//! through the memory manager as a shared mapping of a file ([`ShmFile`], one per attach as
//! Linux's `shm_file_data`), exactly as a tmpfs file is mapped; so every process that attaches
//! it shares the same pages, fork copies the attachments with the rest of the address space,
//! and exec and exit drop them with it.
//!
//! `shm_nattch` is, as on Linux, the number of mappings (VMAs) of the segment in all address
//! spaces: each VMA holds its attach file, so it is the sum of the attach files' reference
//! counts. A segment removed while attached (SHM_DEST, key IPC_PRIVATE) goes when the last
//! mapping does.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::{
    ipcget, ipcperms, now, ns, owner_or_admin, Ns, Object, Perm, S_IRUGO, S_IWUGO, S_IXUGO,
};
use crate::kernel::{lock, Task};
use crate::mm::{page_up, Backing};
use crate::vfs::{File, FileOps};

/// The pages of a segment, shared by its record and its attach files.
pub struct SegData {
    fd: OwnedFd,
    /// The size asked for (shm_segsz).
    size: u64,
    /// What it counts against the memory budget.
    charged: u64,
    /// The id (the attach files' inode number, as Linux's).
    id: AtomicI32,
    /// The attach files; each is held by the mappings made from it.
    attaches: Mutex<Vec<Weak<File>>>,
}

impl Drop for SegData {
    fn drop(&mut self) {
        crate::limits::memory().release(self.charged);
    }
}

impl SegData {
    fn nattch(&self) -> u64 {
        let mut l = lock(&self.attaches);
        l.retain(|w| w.strong_count() > 0);
        l.iter().map(|w| w.strong_count() as u64).sum()
    }

    fn rss(&self) -> u64 {
        nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&self.fd))
            .map_or(0, |s| s.st_blocks as u64 * 512)
    }
}

/// A segment.
pub struct Seg {
    perm: Perm,
    data: Arc<SegData>,
    atime: i64,
    dtime: i64,
    ctime: i64,
    cpid: i32,
    lpid: i32,
}

impl Object for Seg {
    fn perm(&self) -> &Perm {
        &self.perm
    }
    fn perm_mut(&mut self) -> &mut Perm {
        &mut self.perm
    }
}

/// The attach files alive, by the address of their [`ShmFile`] (so a mapping's file can be
/// recognised without a downcast).
static ATTACHED: Mutex<Option<HashMap<usize, Arc<SegData>>>> = Mutex::new(None);

fn ops_addr(ops: &dyn FileOps) -> usize {
    ops as *const dyn FileOps as *const () as usize
}

/// The segment a mapping's file attaches, if it is an attach file.
fn segment_of(file: &File) -> Option<Arc<SegData>> {
    if !file.path.starts_with("/SYSV") {
        return None;
    }
    lock(&ATTACHED)
        .as_ref()?
        .get(&ops_addr(file.ops.as_ref()))
        .cloned()
}

/// One attach of a segment: what its mappings map.
struct ShmFile {
    data: Arc<SegData>,
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let me = ops_addr(self);
        if let Some(m) = lock(&ATTACHED).as_mut() {
            m.remove(&me);
        }
        // A removed segment goes with its last mapping. (Attach files are never dropped with
        // the namespace's lock held; `try_lock` keeps it that way.)
        if let Ok(mut g) = super::NS.try_lock() {
            if let Some(ns) = g.as_mut() {
                reap(ns);
            }
        }
    }
}

impl FileOps for ShmFile {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_dev: crate::fsimpl::tmpfs::MEMFD_DEV,
            st_ino: self.data.id.load(Ordering::Relaxed) as u64,
            st_nlink: 0,
            st_mode: S_IFREG | 0o600,
            st_size: self.data.size as i64,
            st_blksize: 4096,
            ..Default::default()
        })
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.data.fd.as_fd())
    }
}

/// Drops the removed segments nothing maps any more.
fn reap(ns: &mut Ns) {
    let dead: Vec<(i32, u64)> = ns
        .shm
        .iter()
        .filter(|(_, s)| s.perm.mode & SHM_DEST != 0 && s.data.nattch() == 0)
        .map(|(id, s)| (id, s.data.charged / PAGE_SIZE))
        .collect();
    for (id, pages) in dead {
        ns.shm.remove(id);
        ns.shm_tot = ns.shm_tot.saturating_sub(pages);
    }
}

/// Implements shmget(2).
pub fn shmget(t: &Task, key: i32, size: u64, flags: u32) -> Result<i32, Errno> {
    let mut ns = ns();
    reap(&mut ns);
    let create = |ns: &mut Ns| {
        let l = ns.limits;
        if size < SHMMIN || size > l.shmmax {
            return Err(Errno::EINVAL);
        }
        let bytes = page_up(size).ok_or(Errno::ENOSPC)?;
        let pages = bytes / PAGE_SIZE;
        if ns
            .shm_tot
            .checked_add(pages)
            .is_none_or(|tot| tot > l.shmall)
        {
            return Err(Errno::ENOSPC);
        }
        if ns.shm.in_use() as u64 >= l.shmmni.min(u64::from(IPCMNI)) {
            return Err(Errno::ENOSPC);
        }
        if bytes > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        if flags & SHM_HUGETLB != 0 {
            // Linux's hugetlb_file_setup: EPERM without CAP_IPC_LOCK or the hugetlb_shm_group
            // (0); then the sandbox has no huge pages to give (ENOMEM, as a host without a
            // reserved pool).
            let in_group0 = t.creds.fsgid == 0 || t.creds.groups.contains(&0);
            if !super::capable(t, CAP_IPC_LOCK) && !in_group0 {
                return Err(Errno::EPERM);
            }
            return Err(Errno::ENOMEM);
        }
        crate::limits::memory().charge(bytes, Errno::ENOMEM)?;
        let fd = match make_memfd(bytes) {
            Ok(fd) => fd,
            Err(e) => {
                crate::limits::memory().release(bytes);
                return Err(e);
            }
        };
        let data = Arc::new(SegData {
            fd,
            size,
            charged: bytes,
            id: AtomicI32::new(0),
            attaches: Mutex::new(Vec::new()),
        });
        let seg = Seg {
            perm: Perm::new(t, key, flags),
            data: data.clone(),
            atime: 0,
            dtime: 0,
            ctime: now(),
            cpid: t.tgid(),
            lpid: 0,
        };
        let id = ns.shm.add(seg, l.shmmni)?;
        data.id.store(id, Ordering::Relaxed);
        ns.shm_tot += pages;
        Ok(id)
    };
    let more = |s: &Seg| {
        if s.data.size < size {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    };
    ipcget(t, |ns| &mut ns.shm, &mut ns, key, flags, more, create)
}

fn make_memfd(bytes: u64) -> Result<OwnedFd, Errno> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd =
        memfd_create(c"sysv-shm", MemFdCreateFlag::MFD_CLOEXEC).map_err(|e| Errno(e as i32))?;
    nix::unistd::ftruncate(&fd, bytes as i64).map_err(|e| Errno(e as i32))?;
    Ok(fd)
}

/// Implements shmat(2).
pub fn shmat(t: &mut Task, id: i32, addr: u64, flags: u32) -> Result<u64, Errno> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let mut addr = addr;
    if addr != 0 {
        if addr & (PAGE_SIZE - 1) != 0 {
            if flags & SHM_RND == 0 {
                return Err(Errno::EINVAL);
            }
            addr &= !(PAGE_SIZE - 1);
            if addr == 0 && flags & SHM_REMAP != 0 {
                return Err(Errno::EINVAL);
            }
        }
    } else if flags & SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let fixed = t.arg(1) != 0;
    let (mut prot, mut acc, oflags) = if flags & SHM_RDONLY != 0 {
        (PROT_READ, S_IRUGO, O_RDONLY)
    } else {
        (PROT_READ | PROT_WRITE, S_IRUGO | S_IWUGO, O_RDWR)
    };
    if flags & SHM_EXEC != 0 {
        prot |= PROT_EXEC;
        acc |= S_IXUGO;
    }
    let (file, size) = {
        let mut ns = ns();
        reap(&mut ns);
        let seg = ns.shm.get(id)?;
        ipcperms(t, &seg.perm, acc)?;
        let data = seg.data.clone();
        let key = seg.perm.key;
        let size = data.size;
        let path = format!("/SYSV{:08x} (deleted)", key as u32);
        let file = File::new(Box::new(ShmFile { data: data.clone() }), oflags, path);
        lock(&ATTACHED)
            .get_or_insert_with(HashMap::new)
            .insert(ops_addr(file.ops.as_ref()), data.clone());
        lock(&data.attaches).push(Arc::downgrade(&file));
        (file, size)
    };
    let len = page_up(size).ok_or(Errno::EINVAL)?;
    let at = {
        let mut mm = lock(&t.mm);
        if fixed && flags & SHM_REMAP == 0 {
            let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
            if mm.vmas().any(|v| v.start < end && v.end > addr) {
                return Err(Errno::EINVAL);
            }
        }
        let mflags = MAP_SHARED | if fixed { MAP_FIXED } else { 0 };
        let r = mm.mmap(t.ctx.as_mut(), addr, size, prot, mflags, Some((file, 0)));
        mm.recharge();
        r?
    };
    let mut ns = ns();
    if let Ok(seg) = ns.shm.get_mut(id) {
        seg.atime = now();
        seg.lpid = t.tgid();
    }
    Ok(at)
}

/// Implements shmdt(2).
pub fn shmdt(t: &mut Task, addr: u64) -> Result<u64, Errno> {
    if addr & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let mut mm = lock(&t.mm);
    // The first mapping of an attach that would start at `addr` (a fragment left by munmap
    // or mprotect counts), then the later fragments of the same attach within its size.
    let mut first: Option<(usize, Arc<SegData>)> = None;
    let mut ranges = Vec::new();
    for v in mm.vmas().filter(|v| v.end > addr) {
        let Backing::File { file, offset } = &v.backing else {
            continue;
        };
        let fptr = Arc::as_ptr(file) as usize;
        match &first {
            None => {
                if let Some(data) = segment_of(file) {
                    if v.start.wrapping_sub(addr) == *offset {
                        first = Some((fptr, data));
                        ranges.push((v.start, v.end));
                    }
                }
            }
            Some((f, data)) => {
                let size = page_up(data.size).unwrap_or(u64::MAX);
                if v.end - addr > size {
                    break;
                }
                if *f == fptr && v.start.wrapping_sub(addr) == *offset {
                    ranges.push((v.start, v.end));
                }
            }
        }
    }
    let Some((_, data)) = first else {
        return Err(Errno::EINVAL);
    };
    for (s, e) in ranges {
        mm.munmap(t.ctx.as_mut(), s, e - s)?;
    }
    mm.recharge();
    drop(mm);
    let id = data.id.load(Ordering::Relaxed);
    drop(data);
    let mut ns = ns();
    if let Ok(seg) = ns.shm.get_mut(id) {
        seg.dtime = now();
        seg.lpid = t.tgid();
    }
    reap(&mut ns);
    Ok(0)
}

/// An address space goes (exit, exec): its attachments are detached; the segments record
/// the time and the process, as Linux's `shm_close` does.
pub fn address_space_gone<'a>(vmas: impl Iterator<Item = &'a crate::mm::Vma>) {
    let mut ids = Vec::new();
    for v in vmas {
        if let Backing::File { file, .. } = &v.backing {
            if let Some(d) = segment_of(file) {
                ids.push(d.id.load(Ordering::Relaxed));
            }
        }
    }
    if ids.is_empty() {
        return;
    }
    let Some(task) = crate::kernel::block::current() else {
        return;
    };
    let tgid = task.tg.tgid;
    let mut ns = ns();
    let t = now();
    for id in ids {
        if let Ok(seg) = ns.shm.get_mut(id) {
            seg.dtime = t;
            seg.lpid = tgid;
        }
    }
}

/// A fork copied an address space: its attachments are new attaches of their segments, made
/// by the parent (`tgid`), as Linux's `shm_open` records them.
pub fn address_space_forked<'a>(vmas: impl Iterator<Item = &'a crate::mm::Vma>, tgid: i32) {
    let mut ids = Vec::new();
    for v in vmas {
        if let Backing::File { file, .. } = &v.backing {
            if let Some(d) = segment_of(file) {
                ids.push(d.id.load(Ordering::Relaxed));
            }
        }
    }
    if ids.is_empty() {
        return;
    }
    let mut ns = ns();
    let t = now();
    for id in ids {
        if let Ok(seg) = ns.shm.get_mut(id) {
            seg.atime = t;
            seg.lpid = tgid;
        }
    }
}

fn stat_of(s: &Seg) -> ShmidDs {
    ShmidDs {
        shm_perm: s.perm.abi(s.perm.seq),
        shm_segsz: s.data.size,
        shm_atime: s.atime,
        shm_dtime: s.dtime,
        shm_ctime: s.ctime,
        shm_cpid: s.cpid,
        shm_lpid: s.lpid,
        shm_nattch: s.data.nattch(),
        ..Default::default()
    }
}

/// Implements shmctl(2).
pub fn shmctl(t: &Task, id: i32, cmd: i32, buf: u64) -> Result<u64, Errno> {
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    match cmd {
        IPC_INFO => {
            let (info, max_idx) = {
                let mut ns = ns();
                reap(&mut ns);
                let l = ns.limits;
                let info = Shminfo64 {
                    shmmax: l.shmmax,
                    shmmin: SHMMIN,
                    shmmni: l.shmmni,
                    shmseg: l.shmmni,
                    shmall: l.shmall,
                    ..Default::default()
                };
                (info, ns.shm.max_idx())
            };
            t.write_val(buf, &info)?;
            Ok(max_idx.max(0) as u64)
        }
        SHM_INFO => {
            let (info, max_idx) = {
                let mut ns = ns();
                reap(&mut ns);
                let rss: u64 = ns.shm.iter().map(|(_, s)| s.data.rss()).sum();
                let info = ShmInfo {
                    used_ids: ns.shm.in_use() as i32,
                    shm_tot: ns.shm_tot,
                    shm_rss: rss / PAGE_SIZE,
                    ..Default::default()
                };
                (info, ns.shm.max_idx())
            };
            t.write_val(buf, &info)?;
            Ok(max_idx.max(0) as u64)
        }
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let (ret, ds) = {
                let mut ns = ns();
                reap(&mut ns);
                let (ret, s) = if cmd == IPC_STAT {
                    (0, ns.shm.get(id)?)
                } else {
                    let (sid, s) = ns.shm.at_index(id)?;
                    (sid as u64, s)
                };
                if cmd != SHM_STAT_ANY {
                    ipcperms(t, &s.perm, S_IRUGO)?;
                }
                (ret, stat_of(s))
            };
            t.write_val(buf, &ds)?;
            Ok(ret)
        }
        IPC_SET => {
            let ds: ShmidDs = t.read_val(buf)?;
            let mut ns = ns();
            let s = ns.shm.get_mut(id)?;
            owner_or_admin(t, &s.perm)?;
            s.perm.set(&ds.shm_perm);
            s.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let mut ns = ns();
            let s = ns.shm.get_mut(id)?;
            owner_or_admin(t, &s.perm)?;
            if s.data.nattch() > 0 {
                s.perm.mode |= SHM_DEST;
                ns.shm.set_private(id);
            } else {
                let pages = s.data.charged / PAGE_SIZE;
                let gone = ns.shm.remove(id);
                ns.shm_tot = ns.shm_tot.saturating_sub(pages);
                drop(ns);
                drop(gone);
            }
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let mut ns = ns();
            let s = ns.shm.get_mut(id)?;
            if !super::capable(t, CAP_IPC_LOCK) {
                let euid = t.creds.uid.1;
                if euid != s.perm.uid && euid != s.perm.cuid {
                    return Err(Errno::EPERM);
                }
                if cmd == SHM_LOCK && t.rlimit(RLIMIT_MEMLOCK) == 0 {
                    return Err(Errno::EPERM);
                }
            }
            if cmd == SHM_LOCK {
                s.perm.mode |= SHM_LOCKED;
            } else {
                s.perm.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// /proc/sysvipc/shm.
pub fn proc_text() -> String {
    let mut s = String::from(
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
    );
    let mut ns = ns();
    reap(&mut ns);
    for (id, seg) in ns.shm.iter() {
        let p = &seg.perm;
        s.push_str(&format!(
            "{:10} {:10}  {:4o} {:21} {:5} {:5}  {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10} {:21} {:21}\n",
            p.key,
            id,
            p.mode,
            seg.data.size,
            seg.cpid,
            seg.lpid,
            seg.data.nattch(),
            p.uid,
            p.gid,
            p.cuid,
            p.cgid,
            seg.atime,
            seg.dtime,
            seg.ctime,
            seg.data.rss(),
            0
        ));
    }
    s
}
