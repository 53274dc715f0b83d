// SPDX-License-Identifier: Apache-2.0
//! /proc/[pid]/maps, and its PROCMAP_QUERY ioctl (Linux 6.11, fs/proc/task_mmu.c
//! do_procmap_query): one mapping by address, with its protections, file, name and ELF build
//! ID, without parsing the text. As Linux, the open file is bound to the address space the
//! process had at the open (ESRCH once it is gone).

use std::sync::{Arc, Mutex, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::pid::{map_lines, task_of};
use crate::kernel::{lock, Task};
use crate::mm::{Backing, MemoryManager, Vma};
use crate::vfs::{File, FileOps, Inode};

/// `_IOWR('f', 17, struct procmap_query)`.
pub const PROCMAP_QUERY: u32 = 0xc068_6611;
const QUERY_VMA_READABLE: u64 = 0x01;
const QUERY_VMA_WRITABLE: u64 = 0x02;
const QUERY_VMA_EXECUTABLE: u64 = 0x04;
const QUERY_VMA_SHARED: u64 = 0x08;
const QUERY_COVERING_OR_NEXT_VMA: u64 = 0x10;
const QUERY_FILE_BACKED_VMA: u64 = 0x20;
const QUERY_VALID_FLAGS: u64 = 0x3f;
const PAGE_SIZE: u64 = 4096;
const PATH_MAX: usize = 4096;
/// The most of a file read looking for its build ID.
const BUILD_ID_SCAN: usize = 64 << 10;

/// `struct procmap_query`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Query {
    size: u64,
    query_flags: u64,
    query_addr: u64,
    vma_start: u64,
    vma_end: u64,
    vma_flags: u64,
    vma_page_size: u64,
    vma_offset: u64,
    inode: u64,
    dev_major: u32,
    dev_minor: u32,
    vma_name_size: u32,
    build_id_size: u32,
    vma_name_addr: u64,
    build_id_addr: u64,
}

/// The inode of /proc/[pid]/maps (or a thread's).
pub struct MapsInode {
    dev: u64,
    ino: u64,
    pid: i32,
    tid: Option<i32>,
}

impl MapsInode {
    /// The maps file of process `pid` (thread `tid` of it under task/).
    pub fn inode(dev: u64, ino: u64, pid: i32, tid: Option<i32>) -> Arc<dyn Inode> {
        Arc::new(MapsInode { dev, ino, pid, tid })
    }
}

impl Inode for MapsInode {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: 1,
            st_mode: S_IFREG | 0o444,
            st_blksize: 1024,
            ..Default::default()
        })
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        if flags & O_ACCMODE != O_RDONLY {
            return Err(Errno::EACCES);
        }
        let (_, info) = task_of(self.pid, self.tid)?;
        let mm = info.mm()?;
        Ok(Box::new(MapsFile {
            stat: self.stat()?,
            data: map_lines(self.pid, self.tid, false)?,
            mm: Arc::downgrade(&mm),
        }))
    }

    fn setattr(&self, _a: &crate::vfs::inode::SetAttr) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An open maps file: its text as at the open, and the address space it was opened on.
pub struct MapsFile {
    stat: Stat,
    data: Vec<u8>,
    mm: Weak<Mutex<MemoryManager>>,
}

impl FileOps for MapsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        Ok(crate::fsimpl::synthetic::read_from(&self.data, buf, offset))
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// What a query may see of a mapping: shown in maps (the stub's pages are not).
fn shown(v: &Vma) -> bool {
    !matches!(v.backing, Backing::Reserved("[stub]"))
}

/// query_matching_vma: the mapping covering `addr` (or with COVERING_OR_NEXT_VMA the first
/// after it) that has every property `flags` asks for.
fn find(mm: &MemoryManager, mut addr: u64, flags: u64) -> Option<Vma> {
    loop {
        let v = mm.vmas().find(|v| v.end > addr && shown(v))?.clone();
        let file_backed = matches!(v.backing, Backing::File { .. });
        let ok = !(flags & QUERY_FILE_BACKED_VMA != 0 && !file_backed
            || flags & QUERY_VMA_READABLE != 0 && v.prot & PROT_READ == 0
            || flags & QUERY_VMA_WRITABLE != 0 && v.prot & PROT_WRITE == 0
            || flags & QUERY_VMA_EXECUTABLE != 0 && v.prot & PROT_EXEC == 0
            || flags & QUERY_VMA_SHARED != 0 && !v.shared);
        if ok && (flags & QUERY_COVERING_OR_NEXT_VMA != 0 || v.start <= addr) {
            return Some(v);
        }
        if flags & QUERY_COVERING_OR_NEXT_VMA == 0 {
            return None;
        }
        addr = v.end;
    }
}

/// The GNU build ID in the program headers' notes of the ELF file `f` (build_id_parse), if
/// it has one within its first [`BUILD_ID_SCAN`] bytes.
fn build_id(f: &File) -> Option<Vec<u8>> {
    let mut head = vec![0u8; BUILD_ID_SCAN];
    let n = f.ops.read_at(&mut head, 0).ok()?;
    let head = &head[..n];
    let u16_at = |o: usize| head.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        head.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        head.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if head.get(..5) != Some(b"\x7fELF\x02") {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(32)? as usize, u16_at(54)? as usize, u16_at(56)?);
    for i in 0..phnum as usize {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(ph)? != 4 {
            continue; // PT_NOTE only
        }
        let (off, size) = (u64_at(ph + 8)? as usize, u64_at(ph + 32)? as usize);
        let mut at = off;
        let end = off.checked_add(size)?.min(head.len());
        while at + 12 <= end {
            let (namesz, descsz, kind) = (
                u32_at(at)? as usize,
                u32_at(at + 4)? as usize,
                u32_at(at + 8)?,
            );
            let name_at = at + 12;
            let desc_at = name_at.checked_add(namesz.checked_add(3)? & !3)?;
            let next = desc_at.checked_add(descsz.checked_add(3)? & !3)?;
            if kind == 3 && namesz == 4 && head.get(name_at..name_at + 4) == Some(b"GNU\0") {
                return head
                    .get(desc_at..desc_at + descsz.min(20))
                    .map(<[u8]>::to_vec);
            }
            at = next;
        }
    }
    None
}

/// The PROCMAP_QUERY ioctl on an open maps file; `None` when `file` is not one.
pub fn ioctl(t: &Task, file: &File, arg: u64) -> Option<Result<u64, Errno>> {
    let maps = file.ops.as_any()?.downcast_ref::<MapsFile>()?;
    Some(query(t, maps, arg))
}

fn query(t: &Task, maps: &MapsFile, arg: u64) -> Result<u64, Errno> {
    let usize_: u64 = t.read_val(arg)?;
    let ours = std::mem::size_of::<Query>();
    if usize_ > PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    if usize_ < 24 {
        return Err(Errno::EINVAL);
    }
    // copy_struct_from_user: a longer struct's extra bytes must be zero.
    let mut raw = vec![0u8; usize_ as usize];
    t.copy_in(arg, &mut raw)?;
    if raw.len() > ours && raw[ours..].iter().any(|b| *b != 0) {
        return Err(Errno::E2BIG);
    }
    let mut q = Query::default();
    let n = ours.min(raw.len());
    bytemuck::bytes_of_mut(&mut q)[..n].copy_from_slice(&raw[..n]);
    if q.query_flags & !QUERY_VALID_FLAGS != 0
        || (q.vma_name_size != 0) != (q.vma_name_addr != 0)
        || (q.build_id_size != 0) != (q.build_id_addr != 0)
    {
        return Err(Errno::EINVAL);
    }
    let mm = maps.mm.upgrade().ok_or(Errno::ESRCH)?;
    let v = find(&lock(&mm), q.query_addr, q.query_flags).ok_or(Errno::ENOENT)?;
    q.vma_start = v.start;
    q.vma_end = v.end;
    q.vma_flags = [
        (PROT_READ, QUERY_VMA_READABLE),
        (PROT_WRITE, QUERY_VMA_WRITABLE),
        (PROT_EXEC, QUERY_VMA_EXECUTABLE),
    ]
    .iter()
    .filter(|(p, _)| v.prot & p != 0)
    .fold(if v.shared { QUERY_VMA_SHARED } else { 0 }, |f, (_, q)| {
        f | q
    });
    q.vma_page_size = PAGE_SIZE;
    let (name, file) = match &v.backing {
        Backing::File { file, offset } => {
            let st = file.ops.stat().unwrap_or_default();
            q.vma_offset = *offset;
            q.inode = st.st_ino;
            (q.dev_major, q.dev_minor) = dev_split(st.st_dev);
            (Some(file.path.clone()), Some(file.clone()))
        }
        Backing::Vdso => (Some("[vdso]".to_string()), None),
        Backing::Reserved(n) => (Some(n.to_string()), None),
        Backing::Anon => (v.name.map(str::to_string), None),
    };
    if q.build_id_size != 0 {
        match file.as_deref().and_then(build_id) {
            Some(id) if id.len() > q.build_id_size as usize => return Err(Errno::ENAMETOOLONG),
            Some(id) => {
                t.copy_out(q.build_id_addr, &id)?;
                q.build_id_size = id.len() as u32;
            }
            None => q.build_id_size = 0,
        }
    }
    if q.vma_name_size != 0 {
        let room = (q.vma_name_size as usize).min(PATH_MAX);
        match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let mut bytes = n.into_bytes();
                bytes.push(0);
                if bytes.len() > room {
                    return Err(Errno::ENAMETOOLONG);
                }
                t.copy_out(q.vma_name_addr, &bytes)?;
                q.vma_name_size = bytes.len() as u32;
            }
            None => q.vma_name_size = 0,
        }
    }
    let out = bytemuck::bytes_of(&q);
    t.copy_out(arg, &out[..ours.min(usize_ as usize)])?;
    Ok(0)
}
