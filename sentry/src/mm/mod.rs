// SPDX-License-Identifier: Apache-2.0
//! Address spaces: the sentry's record of every mapping (VMA) of an application process, the
//! decisions of mmap, munmap, mprotect, mremap and brk, and copy in/out of application memory.
//!
//! The host kernel keeps the page tables; this module decides every mapping and realises it
//! through the platform's [`AddressSpace`]. Nothing the application asks for is passed to the
//! host without being decided here first.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use crate::platform::{AddressSpace, Context, MapFile};
use crate::vfs::File;

/// Lowest address an application may map (Linux's default vm.mmap_min_addr).
pub const MMAP_MIN_ADDR: u64 = 0x10000;
/// Top of the initial stack (the area above it belongs to the platform).
pub const STACK_TOP: u64 = 0x7fff_fe00_0000;
/// Highest address usable by the application (exclusive).
pub const APP_TOP: u64 = STACK_TOP;
/// Where position-independent executables are loaded (Linux's ELF_ET_DYN_BASE without ASLR).
pub const PIE_BASE: u64 = 0x5555_5555_4000;
/// Room kept between the stack and the top-down mmap area.
const STACK_GAP: u64 = 128 << 20;

/// Rounds up to a page.
pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

/// Rounds down to a page.
pub fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

/// What backs a mapping.
#[derive(Clone)]
pub enum Backing {
    /// Anonymous memory.
    Anon,
    /// A file, from `offset` at the mapping's start.
    File {
        /// The open file.
        file: Arc<File>,
        /// Offset of the mapping's first byte.
        offset: u64,
    },
    /// The platform's host vDSO.
    Vdso,
    /// The platform's own pages; no application access.
    Reserved(&'static str),
}

/// One mapping.
#[derive(Clone)]
pub struct Vma {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// PROT_* bits.
    pub prot: u32,
    /// MAP_SHARED (else private).
    pub shared: bool,
    /// What backs it.
    pub backing: Backing,
    /// A name for /proc/[pid]/maps (`[heap]`, `[stack]`), if any.
    pub name: Option<&'static str>,
    /// For shared mappings: what the memory is (shared by every process that maps it, across
    /// fork) and the offset of `start` in it; shared futexes are keyed by this.
    pub share: Option<(u64, u64)>,
    /// Its NUMA memory policy (mbind(2)), if it has one of its own.
    pub policy: Option<MemPolicy>,
    /// mlock(2) state: [`LOCKED`], with [`LOCK_ONFAULT`] for mlock2(MLOCK_ONFAULT) (Linux's
    /// VM_LOCKED and VM_LOCKONFAULT). The host never swaps the sandbox out of its own view
    /// anyway; the flag is what Linux's callers observe (VmLck, madvise and msync refusals).
    pub locked: u8,
    /// Never writable (mprotect: EACCES): a shared mapping of a file opened without write
    /// whose memory is anonymous (/dev/zero), as Linux clears VM_MAYWRITE. (A file's own
    /// mappings check the file itself.)
    pub no_write: bool,
}

/// [`Vma::locked`]: the mapping is locked.
pub const LOCKED: u8 = 1;
/// [`Vma::locked`]: with [`LOCKED`], pages are locked as they are faulted in, not populated.
pub const LOCK_ONFAULT: u8 = 2;

/// A NUMA memory policy (set_mempolicy(2), mbind(2)) on the sandbox's single node, as
/// get_mempolicy(2) reports it back. Memory is placed the same whatever it says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemPolicy {
    /// The MPOL_* mode with its MPOL_F_* mode flags.
    pub mode: u32,
    /// The node mask reported back (the caller's own for MPOL_F_STATIC_NODES and
    /// MPOL_F_RELATIVE_NODES, within the first word: the only one copied out on one node).
    pub nodes: u64,
    /// set_mempolicy_home_node(2)'s node, or -1.
    pub home: i32,
}

static NEXT_SHARED_ANON: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Vma {
    fn app(&self) -> bool {
        !matches!(self.backing, Backing::Reserved(_) | Backing::Vdso)
    }

    /// Whether the mapping is memory the program commits (counted against `--memory`), as
    /// Linux's strict overcommit counts it (`accountable_mapping`): private writable mappings,
    /// anonymous or of a file (their pages become the program's own when written), and shared
    /// anonymous memory; not reservations without access (glibc's arenas), shared file
    /// mappings (the file's memory is the file's) nor read-only code.
    fn committed(&self) -> bool {
        match self.backing {
            Backing::Anon => self.shared || self.prot & PROT_WRITE != 0,
            Backing::File { .. } => !self.shared && self.prot & PROT_WRITE != 0,
            Backing::Vdso | Backing::Reserved(_) => false,
        }
    }
}

/// Whether a new mapping with these flags and protection would be committed memory.
pub fn commits(flags: u32, prot: u32) -> bool {
    let shared = flags & MAP_TYPE != MAP_PRIVATE;
    if flags & MAP_ANONYMOUS != 0 {
        shared || prot & PROT_WRITE != 0
    } else {
        !shared && prot & PROT_WRITE != 0
    }
}

/// Running totals of a VMA map: bytes the application maps (RLIMIT_AS, VmSize) and bytes it
/// commits (`--memory`), kept up to date on every change so that neither is a walk of every
/// VMA (a program with 65,000 mappings made each mmap quadratic).
#[derive(Clone, Default)]
struct Totals {
    mapped: Cell<u64>,
    committed: Cell<u64>,
}

impl Totals {
    fn add(&self, v: &Vma) {
        let len = v.end - v.start;
        if v.app() {
            self.mapped.set(self.mapped.get() + len);
        }
        if v.committed() {
            self.committed.set(self.committed.get() + len);
        }
    }

    fn sub(&self, v: &Vma) {
        let len = v.end - v.start;
        if v.app() {
            self.mapped.set(self.mapped.get() - len);
        }
        if v.committed() {
            self.committed.set(self.committed.get() - len);
        }
    }
}

/// The VMAs by start address, with their [`Totals`]. Reads go through `Deref`; every change
/// goes through a method here (a [`VmaMut`] for a change in place), so the totals cannot go
/// stale.
#[derive(Clone, Default)]
struct Vmas {
    map: BTreeMap<u64, Vma>,
    totals: Totals,
}

/// A VMA being changed in place: its old extent and kind leave the totals now, its new ones
/// join them when the change is over.
struct VmaMut<'a> {
    v: &'a mut Vma,
    totals: &'a Totals,
}

impl std::ops::Deref for VmaMut<'_> {
    type Target = Vma;
    fn deref(&self) -> &Vma {
        self.v
    }
}

impl std::ops::DerefMut for VmaMut<'_> {
    fn deref_mut(&mut self) -> &mut Vma {
        self.v
    }
}

impl Drop for VmaMut<'_> {
    fn drop(&mut self) {
        self.totals.add(self.v);
    }
}

impl std::ops::Deref for Vmas {
    type Target = BTreeMap<u64, Vma>;
    fn deref(&self) -> &BTreeMap<u64, Vma> {
        &self.map
    }
}

impl Vmas {
    fn insert(&mut self, k: u64, v: Vma) -> Option<Vma> {
        self.totals.add(&v);
        let old = self.map.insert(k, v);
        if let Some(o) = &old {
            self.totals.sub(o);
        }
        old
    }

    fn remove(&mut self, k: &u64) -> Option<Vma> {
        let old = self.map.remove(k);
        if let Some(o) = &old {
            self.totals.sub(o);
        }
        old
    }

    fn get_mut(&mut self, k: &u64) -> Option<VmaMut<'_>> {
        let totals = &self.totals;
        self.map.get_mut(k).map(|v| {
            totals.sub(v);
            VmaMut { v, totals }
        })
    }

    fn range_mut<R: std::ops::RangeBounds<u64>>(
        &mut self,
        r: R,
    ) -> impl DoubleEndedIterator<Item = (u64, VmaMut<'_>)> {
        let totals = &self.totals;
        self.map.range_mut(r).map(move |(k, v)| {
            totals.sub(v);
            (*k, VmaMut { v, totals })
        })
    }

    fn mapped(&self) -> u64 {
        self.totals.mapped.get()
    }

    fn committed(&self) -> u64 {
        self.totals.committed.get()
    }
}

/// The memory manager of one application process.
pub struct MemoryManager {
    space: Arc<dyn AddressSpace>,
    vmas: Vmas,
    /// Start of the heap (end of the executable's data), page-aligned.
    pub brk_start: u64,
    /// The current program break (not page-aligned).
    pub brk: u64,
    /// Top of the top-down area where mmap places what the application does not place.
    mmap_top: u64,
    /// The limit on the total size (RLIMIT_AS), in bytes.
    pub as_limit: u64,
    /// Where the argument strings lie (/proc/[pid]/cmdline).
    pub args: (u64, u64),
    /// Where the environment strings lie (/proc/[pid]/environ).
    pub env: (u64, u64),
    /// The auxiliary vector (/proc/[pid]/auxv).
    pub auxv: Vec<(u64, u64)>,
    /// The executable's path (/proc/[pid]/exe).
    pub exe: String,
    /// The executable itself, to mark the link " (deleted)" once it is unlinked, as d_path.
    pub exe_inode: Option<std::sync::Arc<dyn crate::vfs::Inode>>,
    /// What this address space has counted against the sandbox's memory budget.
    charged: u64,
    /// Ranges sealed by mseal(2): never unmapped, moved, remapped over or reprotected
    /// (a forked child keeps them; exec drops them with the address space).
    sealed: Vec<(u64, u64)>,
    /// Its AIO contexts (io_setup), by id; a forked child has none.
    pub aio: std::collections::BTreeMap<u64, Arc<crate::syscalls::AioContext>>,
    /// The vDSO's wall-clock functions trap (see `kernel::clock`); a forked child's copy of
    /// the vDSO is the parent's.
    pub vdso_patched: bool,
    /// The lock state new mappings take (mlockall(2) with MCL_FUTURE): Linux's def_flags.
    pub def_locked: u8,
    /// The running image denies writes to its file while this address space lives (ETXTBSY
    /// for an open of it for writing); a forked copy holds it too.
    pub exe_deny: Option<crate::vfs::writecount::DenyWrite>,
}

/// Faults in `[start, start + len)` as Linux's mlock does (a write fault for private writable
/// memory, a read fault otherwise); the host refuses what cannot be populated (PROT_NONE),
/// which Linux skips too.
fn populate(ctx: &mut dyn Context, start: u64, len: u64, prot: u32, shared: bool) {
    // Private writable memory is faulted for writing (its own copies, as mlock's FOLL_WRITE);
    // so is write-only memory, which the host will not fault in for reading (Linux's mlock
    // forces that read).
    let advice = if prot & PROT_WRITE != 0 && (!shared || prot & PROT_READ == 0) {
        MADV_POPULATE_WRITE
    } else {
        MADV_POPULATE_READ
    };
    if prot & (PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        let _ = ctx.advise(start, len, advice);
    }
}

impl Drop for MemoryManager {
    fn drop(&mut self) {
        crate::ipc::shm::address_space_gone(self.vmas.values());
        crate::limits::memory().release(self.charged);
    }
}

impl MemoryManager {
    /// A memory manager over a fresh platform address space.
    pub fn new(space: Arc<dyn AddressSpace>) -> MemoryManager {
        let mut mm = MemoryManager {
            vmas: Vmas::default(),
            brk_start: 0,
            brk: 0,
            mmap_top: STACK_TOP - (8 << 20) - STACK_GAP,
            as_limit: u64::MAX,
            args: (0, 0),
            env: (0, 0),
            auxv: Vec::new(),
            exe: String::new(),
            exe_inode: None,
            charged: 0,
            sealed: Vec::new(),
            aio: Default::default(),
            vdso_patched: false,
            def_locked: 0,
            exe_deny: None,
            space,
        };
        let layout = mm.space.layout().clone();
        for (start, end, name) in layout.reserved {
            mm.vmas.insert(
                start,
                Vma {
                    start,
                    end,
                    prot: PROT_NONE,
                    shared: false,
                    backing: Backing::Reserved(name),
                    name: Some(name),
                    share: None,
                    policy: None,
                    locked: 0,
                    no_write: false,
                },
            );
        }
        if let Some((start, end)) = layout.vdso {
            mm.vmas.insert(
                start,
                Vma {
                    start,
                    end,
                    prot: PROT_READ | PROT_EXEC,
                    shared: false,
                    backing: Backing::Vdso,
                    name: Some("[vdso]"),
                    share: None,
                    policy: None,
                    locked: 0,
                    no_write: false,
                },
            );
        }
        mm
    }

    /// The memory manager of a forked child: the same mappings over the child's copy.
    /// The child's copy counts against the memory budget as the parent's does (checked by
    /// the caller with [`MemoryManager::committed_bytes`] first).
    pub fn fork(&self, space: Arc<dyn AddressSpace>) -> MemoryManager {
        // Locks are not inherited (Linux's dup_mmap clears VM_LOCKED; def_flags restart).
        let mut vmas = self.vmas.clone();
        let keys: Vec<u64> = vmas
            .iter()
            .filter(|(_, v)| v.locked != 0)
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(mut v) = vmas.get_mut(&k) {
                v.locked = 0;
            }
        }
        let mut child = MemoryManager {
            space,
            vmas,
            brk_start: self.brk_start,
            brk: self.brk,
            mmap_top: self.mmap_top,
            as_limit: self.as_limit,
            args: self.args,
            env: self.env,
            auxv: self.auxv.clone(),
            exe: self.exe.clone(),
            exe_inode: self.exe_inode.clone(),
            charged: 0,
            sealed: self.sealed.clone(),
            aio: Default::default(),
            vdso_patched: self.vdso_patched,
            def_locked: 0,
            exe_deny: self.exe_deny.clone(),
        };
        child.recharge();
        child
    }

    /// Bytes of committed memory mapped ([`Vma::committed`]).
    pub fn committed_bytes(&self) -> u64 {
        self.vmas.committed()
    }

    /// Brings this address space's count in the memory budget up to date after a change (the
    /// changes that grow it are checked against the budget before they are made).
    pub fn recharge(&mut self) {
        let now = self.committed_bytes();
        let budget = crate::limits::memory();
        if now > self.charged {
            budget.force(now - self.charged);
        } else {
            budget.release(self.charged - now);
        }
        self.charged = now;
    }

    /// The host vDSO's address, if the platform offers one.
    pub fn vdso(&self) -> Option<u64> {
        self.vmas
            .values()
            .find(|v| matches!(v.backing, Backing::Vdso))
            .map(|v| v.start)
    }

    /// All mappings, in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.values()
    }

    /// Whether any mapping overlaps `[start, end)`.
    fn overlaps(&self, start: u64, end: u64) -> bool {
        if let Some((_, v)) = self.vmas.range(..end).next_back() {
            if v.end > start {
                return true;
            }
        }
        false
    }

    /// Whether any platform-owned region overlaps `[start, end)`.
    fn overlaps_reserved(&self, start: u64, end: u64) -> bool {
        self.vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > start)
            .any(|(_, v)| !v.app())
    }

    /// Finds a free range of `len` bytes, top-down below `mmap_top`.
    fn find_free(&self, len: u64) -> Result<u64, Errno> {
        let mut top = self.mmap_top;
        for (_, v) in self.vmas.range(..self.mmap_top).rev() {
            if v.end <= top && top - v.end >= len {
                return Ok(top - len);
            }
            top = top.min(v.start);
        }
        if top >= MMAP_MIN_ADDR + len {
            return Ok(top - len);
        }
        Err(Errno::ENOMEM)
    }

    /// Makes `addr` a boundary between mappings.
    fn split_at(&mut self, addr: u64) {
        let Some((&start, v)) = self.vmas.range(..addr).next_back() else {
            return;
        };
        if v.end <= addr {
            return;
        }
        let mut hi = v.clone();
        hi.start = addr;
        if let Backing::File { offset, .. } = &mut hi.backing {
            *offset += addr - start;
        }
        if let Some((_, off)) = &mut hi.share {
            *off += addr - start;
        }
        if let Some(mut lo) = self.vmas.get_mut(&start) {
            lo.end = addr;
        }
        self.vmas.insert(addr, hi);
    }

    /// [`Self::split_at`] for a change that keeps every byte mapped (mbind): ENOMEM when the
    /// split would take the mappings past vm.max_map_count, as Linux's split_vma, so a program
    /// cannot grow the sentry's records without bound.
    fn split_bounded(&mut self, addr: u64) -> Result<(), Errno> {
        const MAX_MAP_COUNT: usize = 65530;
        let inside = self
            .vmas
            .range(..addr)
            .next_back()
            .is_some_and(|(_, v)| v.end > addr);
        if inside && self.vmas.len() >= MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        self.split_at(addr);
        Ok(())
    }

    /// Removes the records of `[start, end)` (the host side is the caller's business).
    fn remove_range(&mut self, start: u64, end: u64) {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.vmas.range(start..end).map(|(k, _)| *k).collect();
        for k in keys {
            self.vmas.remove(&k);
        }
    }

    /// Total bytes mapped by the application (RLIMIT_AS, /proc's VmSize).
    pub fn mapped_bytes(&self) -> u64 {
        self.vmas.mapped()
    }

    /// Whether any of `[start, end)` is sealed.
    fn sealed_within(&self, start: u64, end: u64) -> bool {
        self.sealed.iter().any(|&(s, e)| s < end && e > start)
    }

    /// Implements mseal(2) once the arguments are checked: `[start, end)` must be mapped
    /// (ENOMEM); it stays as it is for the life of the address space.
    pub fn seal(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        if !self.fully_mapped(start, end) {
            return Err(Errno::ENOMEM);
        }
        if !self.sealed.iter().any(|&(s, e)| s <= start && e >= end) {
            // Bounded: each seal covers mapped pages and merges with those it touches.
            let (mut s, mut e) = (start, end);
            self.sealed.retain(|&(a, b)| {
                if a <= e && b >= s {
                    s = s.min(a);
                    e = e.max(b);
                    false
                } else {
                    true
                }
            });
            self.sealed.push((s, e));
        }
        Ok(())
    }

    /// Checks that `[start, end)` is entirely covered by application mappings.
    fn fully_mapped(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        if let Some((_, v)) = self.vmas.range(..=start).next_back() {
            if v.end > start {
                if !v.app() {
                    return false;
                }
                at = v.end;
            }
        }
        for (_, v) in self.vmas.range(start..end) {
            if at >= end {
                break;
            }
            if v.start > at || !v.app() {
                return false;
            }
            at = v.end;
        }
        at >= end
    }

    /// Implements the address decision and mapping of mmap(2). Arguments are validated by the
    /// caller except for the address range.
    pub fn mmap(
        &mut self,
        ctx: &mut dyn Context,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        file: Option<(Arc<File>, u64)>,
    ) -> Result<u64, Errno> {
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 || len > APP_TOP {
            return Err(Errno::ENOMEM);
        }
        if let Some((_, off)) = &file {
            // As Linux's file_mmap_ok for a regular file: the mapping must end within the
            // largest file offset (so that offsets within it, after a split or a grow, never
            // overflow). The ELF loader reaches here with the file's own numbers.
            if off.checked_add(len).is_none_or(|end| end > i64::MAX as u64) {
                return Err(Errno::EOVERFLOW);
            }
        }
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let start = if fixed {
            if !addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
            if addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            if end > APP_TOP || self.overlaps_reserved(addr, end) {
                return Err(Errno::ENOMEM);
            }
            if flags & MAP_FIXED_NOREPLACE != 0
                && flags & MAP_FIXED == 0
                && self.overlaps(addr, end)
            {
                return Err(Errno::EEXIST);
            }
            if self.sealed_within(addr, end) {
                return Err(Errno::EPERM);
            }
            addr
        } else {
            let hint = page_down(addr);
            match hint.checked_add(len) {
                Some(end)
                    if hint >= MMAP_MIN_ADDR && end <= APP_TOP && !self.overlaps(hint, end) =>
                {
                    hint
                }
                _ => self.find_free(len)?,
            }
        };
        let end = start + len;
        if self.mapped_bytes() + len > self.as_limit {
            return Err(Errno::ENOMEM);
        }
        let locked = if flags & MAP_LOCKED != 0 {
            LOCKED
        } else {
            self.def_locked
        };
        let shared = flags & MAP_TYPE == MAP_SHARED || flags & MAP_TYPE == MAP_SHARED_VALIDATE;
        let mut host_flags = if shared { MAP_SHARED } else { MAP_PRIVATE };
        host_flags |= flags & (MAP_NORESERVE | MAP_POPULATE);
        let map_file = match &file {
            Some((f, off)) => {
                let fd = f.ops.host_fd().ok_or(Errno::ENODEV)?;
                Some(MapFile {
                    fd,
                    key: f.id,
                    offset: *off,
                })
            }
            None => {
                host_flags |= MAP_ANONYMOUS;
                None
            }
        };
        ctx.map(start, len, prot, host_flags, map_file)?;
        self.remove_range(start, end);
        let share = match (&file, shared) {
            (_, false) => None,
            (Some((f, off)), true) => f
                .ops
                .stat()
                .ok()
                .map(|st| ((st.st_dev << 40) ^ st.st_ino ^ (1 << 62), *off)),
            (None, true) => Some((
                NEXT_SHARED_ANON.fetch_add(1, std::sync::atomic::Ordering::Relaxed) | (1 << 63),
                0,
            )),
        };
        let backing = match file {
            Some((file, offset)) => Backing::File { file, offset },
            None => Backing::Anon,
        };
        self.vmas.insert(
            start,
            Vma {
                start,
                end,
                prot,
                shared,
                backing,
                name: None,
                share,
                policy: None,
                locked,
                no_write: false,
            },
        );
        if locked == LOCKED {
            populate(ctx, start, len, prot, shared);
        }
        Ok(start)
    }

    /// Records a name for the mapping starting at `start` (`[stack]`, `[heap]`).
    pub fn set_name(&mut self, start: u64, name: &'static str) {
        if let Some(mut v) = self.vmas.get_mut(&start) {
            v.name = Some(name);
        }
    }

    /// Implements munmap(2).
    pub fn munmap(&mut self, ctx: &mut dyn Context, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        let end = addr
            .checked_add(len)
            .filter(|e| *e <= TASK_SIZE)
            .ok_or(Errno::EINVAL)?;
        if self.sealed_within(addr, end) {
            return Err(Errno::EPERM);
        }
        // Unmap the application's parts only; the platform's regions stay.
        let end = end.min(APP_TOP);
        if addr >= end {
            return Ok(());
        }
        let mut gaps = Vec::new();
        let mut at = addr;
        for (_, v) in self
            .vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > addr)
        {
            if !v.app() {
                gaps.push((v.start.max(addr), v.end.min(end)));
            }
        }
        gaps.sort();
        let mut pieces = Vec::new();
        for (s, e) in gaps {
            if s > at {
                pieces.push((at, s));
            }
            at = at.max(e);
        }
        if at < end {
            pieces.push((at, end));
        }
        for (s, e) in pieces {
            ctx.unmap(s, e - s)?;
            self.remove_range(s, e);
        }
        Ok(())
    }

    /// Implements mprotect(2).
    pub fn mprotect(
        &mut self,
        ctx: &mut dyn Context,
        addr: u64,
        len: u64,
        prot: u32,
    ) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
            return Err(Errno::EINVAL);
        }
        let prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if !self.fully_mapped(addr, end) {
            return Err(Errno::ENOMEM);
        }
        if self.sealed_within(addr, end) {
            return Err(Errno::EPERM);
        }
        // A shared mapping of a file opened read-only cannot become writable.
        for (_, v) in self
            .vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > addr)
        {
            if let (true, Backing::File { file, .. }) = (v.shared, &v.backing) {
                if prot & PROT_WRITE != 0 && !file.writable() {
                    return Err(Errno::EACCES);
                }
            }
            if prot & PROT_WRITE != 0 && v.no_write {
                return Err(Errno::EACCES);
            }
        }
        ctx.protect(addr, len, prot)?;
        self.split_at(addr);
        self.split_at(end);
        for (_, mut v) in self.vmas.range_mut(addr..end) {
            v.prot = prot;
        }
        Ok(())
    }

    /// Marks `addr..addr + len` (one new mapping) never writable ([`Vma::no_write`]).
    pub fn deny_write(&mut self, addr: u64, len: u64) {
        let Some(end) = page_up(len).and_then(|l| addr.checked_add(l)) else {
            return;
        };
        self.split_at(addr);
        self.split_at(end);
        for (_, mut v) in self.vmas.range_mut(addr..end) {
            v.no_write = true;
        }
    }

    /// Implements mremap(2).
    pub fn mremap(
        &mut self,
        ctx: &mut dyn Context,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u32,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
            || !old.is_multiple_of(PAGE_SIZE)
        {
            return Err(Errno::EINVAL);
        }
        if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MREMAP_DONTUNMAP != 0 {
            return Err(Errno::EINVAL); // Not supported yet; Linux also refuses it for many mappings.
        }
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
        if new_len == 0 || old_len == 0 {
            return Err(Errno::EINVAL);
        }
        let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
        // The old range must lie within one mapping.
        let vma = match self.vmas.range(..=old).next_back() {
            Some((_, v)) if v.end >= old_end && v.app() => v.clone(),
            _ => return Err(Errno::EFAULT),
        };
        let fixed = flags & MREMAP_FIXED != 0;
        if self.sealed_within(old, old_end)
            || fixed && self.sealed_within(new_addr, new_addr.saturating_add(new_len))
        {
            return Err(Errno::EPERM);
        }
        if !fixed && new_len <= old_len {
            if new_len < old_len {
                self.munmap(ctx, old + new_len, old_len - new_len)?;
            }
            return Ok(old);
        }
        if !fixed {
            // Grow in place if the space after is free.
            let new_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
            if old_end == vma.end && new_end <= APP_TOP && !self.overlaps(old_end, new_end) {
                ctx.map_grow(old, old_len, new_len)?;
                if let Some((_, mut v)) = self.vmas.range_mut(..=old).next_back() {
                    v.end = new_end;
                }
                return Ok(old);
            }
            if flags & MREMAP_MAYMOVE == 0 {
                return Err(Errno::ENOMEM);
            }
        }
        let dest = if fixed {
            if !new_addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            let dend = new_addr.checked_add(new_len).ok_or(Errno::EINVAL)?;
            if new_addr < MMAP_MIN_ADDR || dend > APP_TOP || self.overlaps_reserved(new_addr, dend)
            {
                return Err(Errno::EINVAL);
            }
            if new_addr < old_end && old < dend {
                return Err(Errno::EINVAL);
            }
            self.munmap(ctx, new_addr, new_len)?;
            new_addr
        } else {
            self.find_free(new_len)?
        };
        ctx.remap(old, old_len, dest, new_len)?;
        // Move the records.
        self.split_at(old);
        self.split_at(old_end);
        let moved: Vec<Vma> = self
            .vmas
            .range(old..old_end)
            .map(|(_, v)| v.clone())
            .collect();
        self.remove_range(old, old_end);
        let mut v = moved.into_iter().next().unwrap_or(vma);
        v.start = dest;
        v.end = dest + new_len;
        self.vmas.insert(dest, v);
        Ok(dest)
    }

    /// Implements brk(2): returns the new (or, on failure, the old) break.
    pub fn set_brk(&mut self, ctx: &mut dyn Context, new: u64) -> u64 {
        if new < self.brk_start {
            return self.brk;
        }
        let (Some(old_top), Some(new_top)) = (page_up(self.brk), page_up(new)) else {
            return self.brk;
        };
        if new_top > old_top {
            if new_top > self.mmap_top.min(APP_TOP) || self.overlaps(old_top, new_top) {
                return self.brk;
            }
            if self.mapped_bytes() + (new_top - old_top) > self.as_limit
                || !crate::limits::memory().fits(new_top - old_top)
            {
                return self.brk;
            }
            let prot = PROT_READ | PROT_WRITE;
            if ctx
                .map(
                    old_top,
                    new_top - old_top,
                    prot,
                    MAP_PRIVATE | MAP_ANONYMOUS,
                    None,
                )
                .is_err()
            {
                return self.brk;
            }
            // Extend the heap record if there is one right below.
            let below = self
                .vmas
                .range(..old_top)
                .next_back()
                .filter(|(_, v)| v.end == old_top && v.name == Some("[heap]"))
                .map(|(k, _)| *k);
            match below {
                Some(k) => {
                    if let Some(mut v) = self.vmas.get_mut(&k) {
                        v.end = new_top;
                    }
                }
                None => {
                    self.vmas.insert(
                        old_top,
                        Vma {
                            start: old_top,
                            end: new_top,
                            prot,
                            shared: false,
                            backing: Backing::Anon,
                            name: Some("[heap]"),
                            share: None,
                            policy: None,
                            locked: self.def_locked,
                            no_write: false,
                        },
                    );
                }
            }
        } else if new_top < old_top {
            if ctx.unmap(new_top, old_top - new_top).is_err() {
                return self.brk;
            }
            self.remove_range(new_top, old_top);
        }
        self.brk = new;
        new
    }

    /// Implements madvise(2).
    pub fn madvise(
        &mut self,
        ctx: &mut dyn Context,
        addr: u64,
        len: u64,
        advice: u32,
    ) -> Result<(), Errno> {
        let known = matches!(
            advice,
            MADV_NORMAL
                | MADV_RANDOM
                | MADV_SEQUENTIAL
                | MADV_WILLNEED
                | MADV_DONTNEED
                | MADV_FREE
                | MADV_REMOVE
                | MADV_DONTFORK
                | MADV_DOFORK
                | MADV_HUGEPAGE
                | MADV_NOHUGEPAGE
                | MADV_DONTDUMP
                | MADV_DODUMP
                | MADV_WIPEONFORK
                | MADV_KEEPONFORK
                | MADV_COLD
                | MADV_PAGEOUT
                | MADV_POPULATE_READ
                | MADV_POPULATE_WRITE
                | MADV_GUARD_INSTALL
                | MADV_GUARD_REMOVE
        );
        // MADV_MERGEABLE and MADV_UNMERGEABLE are EINVAL too: the sandbox's kernel has no
        // KSM (no CONFIG_KSM in its /proc/config.gz, no /sys/kernel/mm/ksm), as Linux without it.
        if !known {
            return Err(Errno::EINVAL);
        }
        let Some(end) = self.advised_range(addr, len)? else {
            return Ok(());
        };
        let len = end - addr;
        // Discarding the contents of sealed anonymous memory the program could not write
        // anyway is refused (Linux's can_madvise_modify).
        if matches!(
            advice,
            MADV_DONTNEED | MADV_FREE | MADV_REMOVE | MADV_WIPEONFORK
        ) && self.sealed_within(addr, end)
            && self
                .vmas
                .range(..end)
                .rev()
                .take_while(|(_, v)| v.end > addr)
                .any(|(_, v)| {
                    matches!(v.backing, Backing::Anon)
                        && v.prot & PROT_WRITE == 0
                        && self.sealed_within(v.start.max(addr), v.end.min(end))
                })
        {
            return Err(Errno::EPERM);
        }
        // Locked memory cannot be discarded (Linux's can_madv_lru_vma, madvise_remove), nor
        // made a guard region (is_valid_guard_vma).
        if matches!(
            advice,
            MADV_DONTNEED | MADV_FREE | MADV_REMOVE | MADV_GUARD_INSTALL
        ) && self.locked_in(addr, end) > 0
        {
            return Err(Errno::EINVAL);
        }
        match advice {
            // These change contents or residency: the host must do them.
            // Guard regions are the host's page-table markers: a touch faults in the stub, and
            // the sentry's copies in and out fail as Linux's do (EFAULT).
            MADV_DONTNEED | MADV_FREE | MADV_REMOVE | MADV_POPULATE_READ | MADV_POPULATE_WRITE
            | MADV_WIPEONFORK | MADV_KEEPONFORK | MADV_DONTFORK | MADV_DOFORK
            | MADV_GUARD_INSTALL | MADV_GUARD_REMOVE => ctx.advise(addr, len, advice),
            _ => Ok(()),
        }
    }

    /// process_madvise(2)'s hints on another process (MADV_COLD, MADV_PAGEOUT,
    /// MADV_WILLNEED): madvise's checks (EINVAL, ENOMEM for a hole), and nothing changes: the
    /// host keeps the pages as it sees fit.
    pub fn madvise_hint(&self, addr: u64, len: u64) -> Result<(), Errno> {
        self.advised_range(addr, len).map(|_| ())
    }

    /// The end of the range madvise(2) acts on (None: an empty one): EINVAL for an unaligned
    /// start or a length that wraps, ENOMEM where it is not all mapped.
    fn advised_range(&self, addr: u64, len: u64) -> Result<Option<u64>, Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Ok(None);
        }
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if !self.fully_mapped(addr, end) {
            return Err(Errno::ENOMEM);
        }
        Ok(Some(end))
    }

    /// Implements msync(2).
    pub fn msync(
        &mut self,
        ctx: &mut dyn Context,
        addr: u64,
        len: u64,
        flags: u32,
    ) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE)
            || flags & !(MS_ASYNC | MS_SYNC | MS_INVALIDATE) != 0
            || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0)
        {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        if !self.fully_mapped(addr, end) {
            return Err(Errno::ENOMEM);
        }
        if flags & MS_INVALIDATE != 0 && self.locked_in(addr, end) > 0 {
            return Err(Errno::EBUSY);
        }
        let shared = self
            .vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > addr)
            .any(|(_, v)| v.shared);
        if shared {
            ctx.sync(addr, len, flags)?;
        }
        Ok(())
    }

    /// Implements the check of mincore(2): every page of the range must be mapped. Returns
    /// the number of pages; all mapped pages are reported resident (as gVisor does).
    pub fn mincore_pages(&self, addr: u64, len: u64) -> Result<u64, Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if end > TASK_SIZE {
            return Err(Errno::ENOMEM);
        }
        if !self.fully_mapped(addr, end) {
            return Err(Errno::ENOMEM);
        }
        Ok(len / PAGE_SIZE)
    }

    /// Bytes of the program's mappings that are locked (VmLck).
    pub fn locked_bytes(&self) -> u64 {
        self.vmas
            .values()
            .filter(|v| v.app() && v.locked != 0)
            .map(|v| v.end - v.start)
            .sum()
    }

    /// Bytes of `[start, end)` already locked.
    pub fn locked_in(&self, start: u64, end: u64) -> u64 {
        self.vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > start)
            .filter(|(_, v)| v.app() && v.locked != 0)
            .map(|(_, v)| v.end.min(end) - v.start.max(start))
            .sum()
    }

    /// mlock(2)/mlock2(2)/munlock(2) once the limit is checked: `[start, end)` (page-aligned)
    /// takes lock state `mode` (0: unlocked). As Linux's apply_vma_lock_flags, the mappings
    /// from `start` up to the first hole change, and a hole makes it ENOMEM after that.
    /// Locking without [`LOCK_ONFAULT`] faults the pages in.
    pub fn set_locked(
        &mut self,
        ctx: &mut dyn Context,
        start: u64,
        end: u64,
        mode: u8,
    ) -> Result<(), Errno> {
        let mut reach = start;
        for (_, v) in self.vmas.range(..end).skip_while(|(_, v)| v.end <= start) {
            if v.start > reach || !v.app() {
                break;
            }
            reach = v.end;
        }
        let upto = reach.min(end);
        if upto > start {
            self.split_bounded(start)?;
            self.split_bounded(upto)?;
            self.lock_where(ctx, start..upto, |v| v.end <= upto, mode);
        }
        if upto < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// mlockall(2)'s MCL_CURRENT and munlockall(2): every mapping takes lock state `mode`.
    pub fn set_locked_all(&mut self, ctx: &mut dyn Context, mode: u8) {
        self.lock_where(ctx, 0..u64::MAX, |_| true, mode);
    }

    fn lock_where(
        &mut self,
        ctx: &mut dyn Context,
        range: std::ops::Range<u64>,
        which: impl Fn(&Vma) -> bool,
        mode: u8,
    ) {
        let keys: Vec<u64> = self
            .vmas
            .range(range)
            .filter(|(_, v)| v.app() && which(v))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let Some(mut v) = self.vmas.get_mut(&k) else {
                continue;
            };
            let newly = mode == LOCKED && v.locked != LOCKED;
            v.locked = mode;
            let (s, e, prot, shared) = (v.start, v.end, v.prot, v.shared);
            drop(v);
            if newly {
                populate(ctx, s, e - s, prot, shared);
            }
        }
    }

    /// mbind(2)'s change once its arguments are checked: `[start, end)` (page-aligned) takes
    /// `policy` (None: MPOL_DEFAULT). A hole in the range is EFAULT, unless the policy is the
    /// default; a range with no mapping at all is EFAULT either way (Linux's
    /// queue_pages_range).
    pub fn set_policy(
        &mut self,
        start: u64,
        end: u64,
        policy: Option<MemPolicy>,
    ) -> Result<(), Errno> {
        let in_range = || {
            self.vmas
                .range(..end)
                .rev()
                .take_while(move |(_, v)| v.end > start)
                .map(|(_, v)| v)
        };
        if in_range().next().is_none() {
            return Err(Errno::EFAULT);
        }
        if policy.is_some() && !self.fully_mapped(start, end) {
            return Err(Errno::EFAULT);
        }
        self.split_bounded(start)?;
        self.split_bounded(end)?;
        let keys: Vec<u64> = self
            .vmas
            .range(start..end)
            .filter(|(_, v)| v.app())
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(mut v) = self.vmas.get_mut(&k) {
                v.policy = policy;
            }
        }
        Ok(())
    }

    /// The policy of the mapping holding `addr` (get_mempolicy(2)'s MPOL_F_ADDR): EFAULT
    /// where nothing is mapped; None for the default.
    pub fn policy_at(&self, addr: u64) -> Result<Option<MemPolicy>, Errno> {
        match self.vmas.range(..=addr).next_back() {
            Some((_, v)) if v.end > addr && v.app() => Ok(v.policy),
            _ => Err(Errno::EFAULT),
        }
    }

    /// set_mempolicy_home_node(2) once its arguments are checked: every mapping of
    /// `[start, end)` with a policy of its own takes `node` as its home node (EOPNOTSUPP at
    /// the first whose mode is neither MPOL_BIND nor MPOL_PREFERRED_MANY); ENOENT when no
    /// mapping of the range has a policy.
    pub fn set_home_node(&mut self, start: u64, end: u64, node: i32) -> Result<(), Errno> {
        let keys: Vec<u64> = self
            .vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > start)
            .filter(|(_, v)| v.app())
            .map(|(k, _)| *k)
            .collect();
        let mut r = Err(Errno::ENOENT);
        for k in keys.into_iter().rev() {
            let Some(p) = self.vmas.get(&k).and_then(|v| v.policy) else {
                continue;
            };
            if !matches!(p.mode & !MPOL_MODE_FLAGS, MPOL_BIND | MPOL_PREFERRED_MANY) {
                return Err(Errno::EOPNOTSUPP);
            }
            let (s, e) = {
                let v = &self.vmas[&k];
                (v.start.max(start), v.end.min(end))
            };
            self.split_bounded(s)?;
            self.split_bounded(e)?;
            if let Some(mut v) = self.vmas.get_mut(&s) {
                if let Some(p) = &mut v.policy {
                    p.home = node;
                }
            }
            r = Ok(());
        }
        r
    }

    /// What move_pages(2) says of the page at `addr`: its node (0, the only one) where
    /// something is mapped that can hold pages, -ENOENT for a mapping without access (no page
    /// can be present), -EFAULT where nothing is mapped.
    pub fn page_node(&self, addr: u64) -> i32 {
        match self.vmas.range(..=addr).next_back() {
            Some((_, v)) if v.end > addr && v.app() => {
                if v.prot == PROT_NONE {
                    -Errno::ENOENT.0
                } else {
                    0
                }
            }
            _ => -Errno::EFAULT.0,
        }
    }

    /// The key of a shared futex at `addr`: (what the memory is, offset in it) when `addr` lies
    /// in a shared mapping; `None` for private memory (then the address space keys it).
    pub fn shared_key(&self, addr: u64) -> Option<(u64, u64)> {
        let (_, v) = self.vmas.range(..=addr).next_back()?;
        if v.end <= addr {
            return None;
        }
        v.share.map(|(id, off)| (id, off + (addr - v.start)))
    }

    /// Checks that `[addr, addr+len)` is application memory with `prot` access.
    fn check(&self, addr: u64, len: usize, prot: u32) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let mut at = addr;
        let first = self.vmas.range(..=addr).next_back().map(|(_, v)| v);
        let mut iter = first
            .into_iter()
            .chain(self.vmas.range(addr + 1..end).map(|(_, v)| v));
        while at < end {
            let Some(v) = iter.next() else {
                return Err(Errno::EFAULT);
            };
            if v.end <= at {
                continue;
            }
            if v.start > at || v.prot & prot != prot || matches!(v.backing, Backing::Reserved(_)) {
                return Err(Errno::EFAULT);
            }
            at = v.end;
        }
        Ok(())
    }

    /// EFAULT unless `[addr, addr+len)` is writable application memory.
    pub fn check_writable(&self, addr: u64, len: usize) -> Result<(), Errno> {
        self.check(addr, len, PROT_READ | PROT_WRITE)
    }

    /// Copies application memory in (EFAULT if any of it is not readable).
    pub fn copy_in(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.check(addr, buf.len(), PROT_READ)?;
        self.space.read(addr, buf)
    }

    /// Copies into application memory (EFAULT if any of it is not writable).
    pub fn copy_out(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        self.check(addr, buf.len(), PROT_WRITE)?;
        self.space.write(addr, buf)
    }

    /// Rewrites the vDSO's wall-clock functions to make their system call (once the sandbox's
    /// clock has been set: `kernel::clock`). The vDSO's pages become the process's own copies
    /// (as a debugger's breakpoint in them would), then read-only and executable again.
    pub fn patch_vdso(&mut self, ctx: &mut dyn Context) {
        if self.vdso_patched {
            return;
        }
        self.vdso_patched = true;
        let Some(vma) = self
            .vmas
            .values()
            .find(|v| matches!(v.backing, Backing::Vdso))
        else {
            return;
        };
        let (start, end, prot) = (vma.start, vma.end, vma.prot);
        let patches = crate::kernel::clock::vdso_patches();
        if patches.is_empty() || ctx.protect(start, end - start, prot | PROT_WRITE).is_err() {
            return;
        }
        for (off, code) in patches {
            if start + off + code.len() as u64 <= end {
                if let Err(e) = self.space.write(start + off, code) {
                    tracing::warn!("vdso: patching at {off:#x}: {e}");
                }
            }
        }
        let _ = ctx.protect(start, end - start, prot);
    }

    /// Writes application memory whatever its protection (ELF loading only).
    pub fn write_force(
        &mut self,
        ctx: &mut dyn Context,
        addr: u64,
        buf: &[u8],
    ) -> Result<(), Errno> {
        match ctx.write_force(addr, buf) {
            Err(Errno::ENOSYS) => {}
            r => return r,
        }
        // The platform cannot write through protections: open the pages for writing, write,
        // and put their protection back (one mapping: the loader's writes never span two).
        let end = addr.checked_add(buf.len() as u64).ok_or(Errno::EFAULT)?;
        let vma = self
            .vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.end >= end && v.app())
            .ok_or(Errno::EFAULT)?;
        let (start, len, prot) = (
            page_down(addr),
            page_up(end).ok_or(Errno::EFAULT)? - page_down(addr),
            vma.prot,
        );
        ctx.protect(start, len, prot | PROT_WRITE | PROT_READ)?;
        let r = self.space.write(addr, buf);
        ctx.protect(start, len, prot)?;
        r
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        // One page on the stack, not a zeroed allocation per path.
        let mut page = [0u8; PAGE_SIZE as usize];
        loop {
            let chunk = (PAGE_SIZE - at % PAGE_SIZE) as usize;
            let buf = &mut page[..chunk];
            self.copy_in(at, buf)?;
            if let Some(nul) = buf.iter().position(|b| *b == 0) {
                out.extend_from_slice(&buf[..nul]);
                if out.len() > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(buf);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at += chunk as u64;
        }
    }

    /// The end of the highest platform region (vDSO, vvar, stub) below `top`, or the lowest
    /// mappable address: what a stack ending at `top` may not grow into.
    pub fn platform_floor_below(&self, top: u64) -> u64 {
        self.vmas
            .range(..top)
            .rev()
            .find(|(_, v)| !v.app())
            .map(|(_, v)| v.end.min(top))
            .unwrap_or(MMAP_MIN_ADDR)
    }

    /// Sets the top of the mmap area below a stack of `stack_size` bytes.
    pub fn set_stack_size(&mut self, stack_size: u64) {
        let size = stack_size.clamp(128 << 10, 1 << 30);
        self.mmap_top = STACK_TOP - size - STACK_GAP;
    }
}
