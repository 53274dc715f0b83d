// SPDX-License-Identifier: Apache-2.0
//! The gofer's host calls that neither std nor nix wraps safely. Every path argument is one
//! component the server has checked, relative to a descriptor it holds.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use syscalls::abi::{Stat, Statfs};
use syscalls::Errno;

fn errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

fn check(r: libc::c_long) -> Result<libc::c_long, Errno> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

fn check_int(r: libc::c_int) -> Result<(), Errno> {
    check(libc::c_long::from(r)).map(|_| ())
}

/// A NUL-terminated copy of `s`; EINVAL when it holds a NUL.
pub fn cstr(s: &[u8]) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

/// Takes ownership of a descriptor the host just returned (or that arrived with SCM_RIGHTS).
pub fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the callers pass a descriptor the kernel has just handed this process, which
    // nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2) of `name` beneath `dir` with `resolve` restrictions.
pub fn openat2(
    dir: BorrowedFd<'_>,
    name: &[u8],
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let path = cstr(name)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve,
    };
    // SAFETY: `path` is NUL-terminated and `how` is a valid open_how of the size passed; both
    // outlive the call.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    Ok(own_fd(fd as RawFd))
}

/// openat(2) (following links: used only on /proc/self/fd/N to reopen a held descriptor).
pub fn openat(dir: BorrowedFd<'_>, name: &[u8], flags: i32) -> Result<OwnedFd, Errno> {
    let path = cstr(name)?;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), path.as_ptr(), flags | libc::O_CLOEXEC) };
    check(libc::c_long::from(fd))?;
    Ok(own_fd(fd))
}

/// fstat(2) (also of O_PATH descriptors).
pub fn fstat(fd: BorrowedFd<'_>) -> Result<Stat, Errno> {
    let mut st = Stat::default();
    // SAFETY: `st` has the layout of the x86_64 `struct stat` the kernel writes.
    check(unsafe { libc::syscall(libc::SYS_fstat, fd.as_raw_fd(), &mut st as *mut Stat) })?;
    Ok(st)
}

/// fstatat(2) of one name in `dir`, never following a symlink or triggering an automount.
pub fn fstatat_nofollow(dir: BorrowedFd<'_>, name: &[u8]) -> Result<Stat, Errno> {
    let path = cstr(name)?;
    let mut st = Stat::default();
    // SAFETY: `path` is NUL-terminated and outlives the call; `st` has the layout of the
    // x86_64 `struct stat` the kernel writes.
    check(unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            dir.as_raw_fd(),
            path.as_ptr(),
            &mut st as *mut Stat,
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT,
        )
    })?;
    Ok(st)
}

/// readlinkat(2) of one name in `dir`.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &[u8]) -> Result<Vec<u8>, Errno> {
    let path = cstr(name)?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: `path` is NUL-terminated and outlives the call; `buf` is valid for its length.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            path.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = check(n as libc::c_long)?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// fstatfs(2).
pub fn fstatfs(fd: BorrowedFd<'_>) -> Result<Statfs, Errno> {
    let mut st = Statfs::default();
    // SAFETY: `st` has the layout of the x86_64 `struct statfs` the kernel writes.
    check(unsafe { libc::syscall(libc::SYS_fstatfs, fd.as_raw_fd(), &mut st as *mut Statfs) })?;
    Ok(st)
}

/// getdents64(2).
pub fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = check(unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            fd.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    })?;
    Ok(n as usize)
}

/// readlinkat(2) of an O_PATH descriptor of a symlink (empty path).
pub fn readlink_fd(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the path is a NUL-terminated empty string; `buf` is valid for its length.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = check(n as libc::c_long)?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// mkdirat(2).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> Result<(), Errno> {
    let p = cstr(name)?;
    // SAFETY: `p` is NUL-terminated.
    check_int(unsafe { libc::mkdirat(dir.as_raw_fd(), p.as_ptr(), mode) })
}

/// mknodat(2) (regular files, FIFOs and sockets only: the server checks).
pub fn mknodat(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> Result<(), Errno> {
    let p = cstr(name)?;
    // SAFETY: `p` is NUL-terminated.
    check_int(unsafe { libc::mknodat(dir.as_raw_fd(), p.as_ptr(), mode, 0) })
}

/// symlinkat(2).
pub fn symlinkat(target: &[u8], dir: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    let (t, p) = (cstr(target)?, cstr(name)?);
    // SAFETY: both strings are NUL-terminated.
    check_int(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), p.as_ptr()) })
}

/// linkat(2).
pub fn linkat(
    from_dir: BorrowedFd<'_>,
    from: &[u8],
    dir: BorrowedFd<'_>,
    name: &[u8],
    flags: i32,
) -> Result<(), Errno> {
    let (f, p) = (cstr(from)?, cstr(name)?);
    // SAFETY: both strings are NUL-terminated.
    check_int(unsafe {
        libc::linkat(
            from_dir.as_raw_fd(),
            f.as_ptr(),
            dir.as_raw_fd(),
            p.as_ptr(),
            flags,
        )
    })
}

/// unlinkat(2).
pub fn unlinkat(dir: BorrowedFd<'_>, name: &[u8], flags: i32) -> Result<(), Errno> {
    let p = cstr(name)?;
    // SAFETY: `p` is NUL-terminated.
    check_int(unsafe { libc::unlinkat(dir.as_raw_fd(), p.as_ptr(), flags) })
}

/// renameat2(2).
pub fn renameat2(
    old_dir: BorrowedFd<'_>,
    old: &[u8],
    new_dir: BorrowedFd<'_>,
    new: &[u8],
    flags: u32,
) -> Result<(), Errno> {
    let (o, n) = (cstr(old)?, cstr(new)?);
    // SAFETY: both strings are NUL-terminated.
    check(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            old_dir.as_raw_fd(),
            o.as_ptr(),
            new_dir.as_raw_fd(),
            n.as_ptr(),
            flags,
        )
    })
    .map(|_| ())
}

/// fchownat(2) with `flags` (AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW).
pub fn fchownat(
    dir: BorrowedFd<'_>,
    name: &[u8],
    uid: u32,
    gid: u32,
    flags: i32,
) -> Result<(), Errno> {
    let p = cstr(name)?;
    // SAFETY: `p` is NUL-terminated.
    check_int(unsafe { libc::fchownat(dir.as_raw_fd(), p.as_ptr(), uid, gid, flags) })
}

/// fchmodat(2) (no flags: the name is never a symlink, the server checks).
pub fn fchmodat(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> Result<(), Errno> {
    let p = cstr(name)?;
    // SAFETY: `p` is NUL-terminated.
    check_int(unsafe { libc::fchmodat(dir.as_raw_fd(), p.as_ptr(), mode, 0) })
}

/// fchmod(2).
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> Result<(), Errno> {
    // SAFETY: plain descriptor call.
    check_int(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
}

/// utimensat(2) of `name` in `dir` (an empty name with AT_EMPTY_PATH for `dir` itself).
pub fn utimensat(
    dir: BorrowedFd<'_>,
    name: &[u8],
    times: [(i64, i64); 2],
    flags: i32,
) -> Result<(), Errno> {
    let p = cstr(name)?;
    let ts = times.map(|(s, n)| libc::timespec {
        tv_sec: s,
        tv_nsec: n,
    });
    // SAFETY: `p` is NUL-terminated and `ts` holds two timespecs.
    check_int(unsafe { libc::utimensat(dir.as_raw_fd(), p.as_ptr(), ts.as_ptr(), flags) })
}

/// ftruncate(2).
pub fn ftruncate(fd: BorrowedFd<'_>, size: u64) -> Result<(), Errno> {
    let size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
    // SAFETY: plain descriptor call.
    check_int(unsafe { libc::ftruncate(fd.as_raw_fd(), size) })
}

/// fsync(2).
pub fn fsync(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: plain descriptor call.
    check_int(unsafe { libc::fsync(fd.as_raw_fd()) })
}

/// lseek(2).
pub fn lseek(fd: BorrowedFd<'_>, off: i64, whence: i32) -> Result<u64, Errno> {
    // SAFETY: plain descriptor call.
    let r = unsafe { libc::lseek(fd.as_raw_fd(), off, whence) };
    check(r).map(|r| r as u64)
}

/// fgetxattr(2).
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &[u8]) -> Result<Vec<u8>, Errno> {
    let n = cstr(name)?;
    let mut buf = vec![0u8; 65536];
    // SAFETY: `n` is NUL-terminated and `buf` is valid for writes of its length.
    let r = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let r = check(r as libc::c_long)?;
    buf.truncate(r as usize);
    Ok(buf)
}

/// fsetxattr(2).
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &[u8], value: &[u8], flags: u32) -> Result<(), Errno> {
    let n = cstr(name)?;
    // SAFETY: `n` is NUL-terminated and `value` is valid for reads of its length.
    check_int(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags as i32,
        )
    })
}

/// flistxattr(2).
pub fn flistxattr(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 65536];
    // SAFETY: `buf` is valid for writes of its length.
    let r = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    let r = check(r as libc::c_long)?;
    buf.truncate(r as usize);
    Ok(buf)
}

/// fremovexattr(2).
pub fn fremovexattr(fd: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    let n = cstr(name)?;
    // SAFETY: `n` is NUL-terminated.
    check_int(unsafe { libc::fremovexattr(fd.as_raw_fd(), n.as_ptr()) })
}

/// open_tree(2) with OPEN_TREE_CLONE | AT_RECURSIVE of a held directory: a detached copy of the
/// mounts there, to attach in the gofer's own mount namespace.
pub fn clone_tree(dir: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    const OPEN_TREE_CLONE: u32 = 1;
    const AT_RECURSIVE: u32 = 0x8000;
    // SAFETY: the path is a NUL-terminated empty string.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dir.as_raw_fd(),
            c"".as_ptr(),
            OPEN_TREE_CLONE | AT_RECURSIVE | libc::AT_EMPTY_PATH as u32 | libc::O_CLOEXEC as u32,
        )
    })?;
    Ok(own_fd(fd as RawFd))
}

/// move_mount(2) of a detached tree onto `target` (a path in the gofer's own namespace).
pub fn attach_tree(tree: BorrowedFd<'_>, target: &str) -> Result<(), Errno> {
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 4;
    let t = cstr(target.as_bytes())?;
    // SAFETY: both paths are NUL-terminated.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(|_| ())
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2): makes the mount at `target` and every mount below it read-only (and
/// nosuid, nodev).
pub fn make_read_only(target: &str) -> Result<(), Errno> {
    const AT_RECURSIVE: u32 = 0x8000;
    const MOUNT_ATTR_RDONLY: u64 = 1;
    const MOUNT_ATTR_NOSUID: u64 = 2;
    const MOUNT_ATTR_NODEV: u64 = 4;
    let t = cstr(target.as_bytes())?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `t` is NUL-terminated and `attr` a valid mount_attr of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            t.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(|_| ())
}

/// umask(2).
pub fn set_umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask) };
}

/// Gives back what start-up left resident that an idle process does not need: the pages of
/// the read-only segments of the executable and its libraries (text and read-only data, which
/// the kernel maps 16 pages at a time at each fault; they stay in the page cache and fault
/// back in when next run), and the allocator's free memory. Writable segments (relocated
/// data, RELRO included) are never touched, nor is an object with text relocations.
pub fn trim_resident() {
    // SAFETY: dl_iterate_phdr passes a valid dl_phdr_info describing a loaded object, whose
    // program headers and dynamic section are mapped for as long as the callback runs (no
    // object is unloaded meanwhile: the loader's lock is held).
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        _data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: see above.
        let info = unsafe { &*info };
        let name = if info.dlpi_name.is_null() {
            &b""[..]
        } else {
            // SAFETY: a NUL-terminated name the dynamic loader keeps.
            unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }.to_bytes()
        };
        if name.starts_with(b"linux-vdso") || name.starts_with(b"linux-gate") {
            return 0;
        }
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: dlpi_phnum headers at dlpi_phdr.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        let base = info.dlpi_addr;
        // An object whose text was written by relocations has private pages there.
        for ph in phdrs.iter().filter(|p| p.p_type == libc::PT_DYNAMIC) {
            // Elf64_Dyn: (d_tag, d_un), two 64-bit words each.
            let mut d = (base + ph.p_vaddr) as *const [u64; 2];
            loop {
                // SAFETY: the dynamic section is an array of Elf64_Dyn ending with DT_NULL.
                let [tag, val] = unsafe { *d };
                match tag {
                    0 => break,
                    22 => return 0,                 // DT_TEXTREL
                    30 if val & 4 != 0 => return 0, // DT_FLAGS with DF_TEXTREL
                    _ => {}
                }
                // SAFETY: the next entry, until DT_NULL.
                d = unsafe { d.add(1) };
            }
        }
        for ph in phdrs {
            if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
                continue;
            }
            let start = (base + ph.p_vaddr + 4095) & !4095;
            let end = (base + ph.p_vaddr + ph.p_memsz) & !4095;
            if end > start {
                // SAFETY: a read-only private file mapping of this object's own segment:
                // dropping its pages only makes the next access fault them in again.
                unsafe {
                    libc::madvise(
                        start as *mut libc::c_void,
                        (end - start) as usize,
                        libc::MADV_DONTNEED,
                    )
                };
            }
        }
        0
    }
    // SAFETY: the callback above reads only what the loader hands it.
    unsafe {
        libc::dl_iterate_phdr(Some(each), std::ptr::null_mut());
        libc::malloc_trim(0);
    }
}
