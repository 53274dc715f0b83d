// SPDX-License-Identifier: Apache-2.0
//! mount(2), umount2(2), pivot_root(2), chroot(2) and file handles (name_to_handle_at(2),
//! open_by_handle_at(2)). Every mount is of the sandbox's own file systems in the caller's
//! mount namespace: tmpfs, proc, sysfs, devtmpfs, and bind mounts of what the sandbox already
//! shows. Nothing here reaches the host's mount table (fs/namespace.c is the reference).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_file::{install, walk_at};
use super::{fd_arg, SysResult};
use crate::fsimpl::tmpfs::TmpFs;
use crate::kernel::{lock, Task};
use crate::vfs::mount::{is_under, Mount, Mounts};
use crate::vfs::path::Resolved;
use crate::vfs::{File, Filesystem, Inode, Owner};
use std::sync::Weak;

/// Device numbers of file systems mounted at run time (after those made at start-up).
static NEXT_DEV: AtomicU64 = AtomicU64::new(0x100);

/// The block-device file systems the sentry implements (on its loop devices): mounting one
/// without a block device gives ENOTBLK. Any other type is ENODEV, as on a kernel without its
/// driver (what LTP's file system probe and /proc/filesystems rely on).
pub(super) const BLOCK_FS: &[&str] = &["vfat", "msdos", "ext2", "ext3", "ext4"];

pub(super) fn capable(t: &Task, cap: u32) -> bool {
    t.creds.caps & (1u64 << cap) != 0
}

/// Reads an optional string argument (NULL gives `None`).
fn opt_string(t: &Task, addr: u64, max: usize) -> Result<Option<Vec<u8>>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    Ok(Some(t.mm().read_cstr(addr, max)?))
}

/// The resolved target of a mount call: it must exist.
fn existing(r: &Resolved) -> Result<Arc<dyn Inode>, Errno> {
    r.inode.clone().ok_or(Errno::ENOENT)
}

fn is_dir(r: &Resolved) -> bool {
    r.stat.is_some_and(|s| s.st_mode & S_IFMT == S_IFDIR)
}

/// A tmpfs from mount(2)'s option string: size=, mode=, uid=, gid=, and the options Linux
/// accepts and the sandbox has no use for; its root owned by `owner` unless uid=/gid= say
/// otherwise (mount(2): the caller's fsuid and fsgid). Returns the file system and the options
/// /proc/mounts shows.
pub(crate) fn new_tmpfs(owner: Owner, data: &str) -> Result<(Arc<dyn Filesystem>, String), Errno> {
    let (size, mode, owner, shown) = tmpfs_options(owner, data)?;
    let dev = NEXT_DEV.fetch_add(1, Ordering::Relaxed);
    let fs: Arc<dyn Filesystem> = TmpFs::new(dev, mode, owner, size);
    Ok((fs, shown))
}

/// tmpfs's options parsed: size, mode, owner of the root (`owner` unless uid=/gid= say
/// otherwise), and the options /proc/mounts shows (also how fsconfig(2) checks each parameter
/// as it comes).
pub(super) fn tmpfs_options(
    owner: Owner,
    data: &str,
) -> Result<(Option<u64>, u32, Owner, String), Errno> {
    let mut size = None;
    let mut mode = 0o1777;
    let mut owner = owner;
    let mut shown = Vec::new();
    for opt in data.split(',').filter(|o| !o.is_empty()) {
        let (key, val) = opt.split_once('=').unwrap_or((opt, ""));
        match key {
            "size" => {
                let bytes = parse_size(val)?;
                size = Some(bytes);
                shown.push(format!("size={}k", bytes / 1024));
            }
            "mode" => {
                mode = u32::from_str_radix(val, 8).map_err(|_| Errno::EINVAL)? & 0o7777;
            }
            "uid" => owner.uid = val.parse().map_err(|_| Errno::EINVAL)?,
            "gid" => owner.gid = val.parse().map_err(|_| Errno::EINVAL)?,
            "nr_inodes" | "nr_blocks" | "huge" | "mpol" => {
                if val.is_empty() {
                    return Err(Errno::EINVAL);
                }
            }
            "inode32" | "inode64" | "noswap" | "quota" | "usrquota" | "grpquota" => {}
            // Generic options mount(8) may pass down in the data string.
            "rw" | "ro" | "defaults" => {}
            _ => return Err(Errno::EINVAL),
        }
    }
    if mode != 0o1777 {
        shown.push(format!("mode={mode:o}"));
    }
    Ok((size, mode, owner, shown.join(",")))
}

/// Who owns what a mount(2) by `t` makes: its file system ids.
pub(super) fn caller_owner(t: &Task) -> Owner {
    Owner {
        uid: t.creds.fsuid,
        gid: t.creds.fsgid,
    }
}

/// tmpfs's size=: bytes with an optional k/m/g/t suffix, or a percentage of memory.
fn parse_size(v: &str) -> Result<u64, Errno> {
    let (num, mult) = match v.as_bytes().last() {
        Some(b'k' | b'K') => (&v[..v.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&v[..v.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&v[..v.len() - 1], 1 << 30),
        Some(b't' | b'T') => (&v[..v.len() - 1], 1 << 40),
        Some(b'%') => {
            let pct: u64 = v[..v.len() - 1].parse().map_err(|_| Errno::EINVAL)?;
            let mem = nix::sys::sysinfo::sysinfo()
                .map(|s| s.ram_total())
                .unwrap_or(1 << 30);
            return Ok((mem / 100).saturating_mul(pct));
        }
        _ => (v, 1),
    };
    let n: u64 = num.parse().map_err(|_| Errno::EINVAL)?;
    let bytes = n.checked_mul(mult).ok_or(Errno::EINVAL)?;
    // Rounded up to whole pages, as shmem does.
    Ok(bytes.div_ceil(4096) * 4096)
}

/// The file system a new mount of type `fstype` gets, with its /proc/mounts options (mount(2),
/// and fsconfig(2)'s FSCONFIG_CMD_CREATE).
pub(super) fn new_fs(
    t: &Task,
    fstype: &str,
    source: Option<&[u8]>,
    data: &str,
    flags: u64,
) -> Result<(Arc<dyn Filesystem>, String), Errno> {
    let dev = || NEXT_DEV.fetch_add(1, Ordering::Relaxed);
    match fstype {
        "tmpfs" | "ramfs" | "shmem" => new_tmpfs(caller_owner(t), data),
        "proc" => Ok((crate::fsimpl::proc::ProcFs::new(dev()), String::new())),
        "sysfs" => Ok((crate::fsimpl::sys::new(dev()), String::new())),
        "mqueue" => Ok((crate::fsimpl::mqueue::instance(), String::new())),
        "devtmpfs" => Ok((crate::fsimpl::dev::DevFs::new(dev()), String::new())),
        "devpts" => {
            // Every devpts mount is a new instance (Linux since 4.7).
            let opts = crate::fsimpl::tty::devpts::Options::parse(data)?;
            Ok((
                crate::fsimpl::tty::devpts::DevPtsFs::new_instance(dev(), opts),
                opts.show(),
            ))
        }
        _ if BLOCK_FS.contains(&fstype) => {
            // A block-device file system: the source must be a block device (the sandbox's
            // own loop devices), parsed by the sentry alone.
            let src = source.filter(|s| !s.is_empty()).ok_or(Errno::ENOTBLK)?;
            let r = walk_at(t, AT_FDCWD, src, true)?;
            let st = r.stat.ok_or(Errno::ENOENT)?;
            if st.st_mode & S_IFMT != S_IFBLK {
                return Err(Errno::ENOTBLK);
            }
            if r.mount.flags() & MS_NODEV != 0 {
                return Err(Errno::EACCES);
            }
            let (major, minor) = dev_split(st.st_rdev);
            let dev = (major == LOOP_MAJOR)
                .then(|| crate::fsimpl::loopdev::get(minor))
                .flatten()
                .ok_or(Errno::ENXIO)?;
            let read_only = flags & MS_RDONLY != 0;
            if let Some(name) = ["ext2", "ext3", "ext4"].into_iter().find(|n| *n == fstype) {
                let opts = crate::fsimpl::ext4::Options::parse(data)?;
                let fs = crate::fsimpl::ext4::mount(&dev, name, read_only, &opts)?;
                return Ok((fs, opts.shown));
            }
            let owner = Owner {
                uid: t.creds.fsuid,
                gid: t.creds.fsgid,
            };
            let opts = crate::fsimpl::vfat::Options::parse(data, owner)?;
            let name = if fstype == "vfat" { "vfat" } else { "msdos" };
            let fs = crate::fsimpl::vfat::mount(&dev, name, read_only, opts)?;
            Ok((
                fs,
                format!(
                    "fmask={:04o},dmask={:04o},codepage=437,iocharset=ascii,shortname=mixed,errors=remount-ro",
                    opts.fmask, opts.dmask
                ),
            ))
        }
        _ => Err(Errno::ENODEV),
    }
}

/// Implements mount(2).
pub fn sys_mount(t: &mut Task) -> SysResult {
    let source = opt_string(t, t.arg(0), 4095)?;
    let target = t.read_path(t.arg(1))?;
    let fstype = opt_string(t, t.arg(2), 255)?;
    let mut flags = t.arg(3);
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    // At most a page of options.
    let data = match t.arg(4) {
        0 => String::new(),
        a => String::from_utf8_lossy(&t.mm().read_cstr(a, 4095)?).into_owned(),
    };
    // No mounting on /proc's magic links (/proc/[pid]/fd/N, cwd, root, exe): ENOENT.
    if let Ok(l) = walk_at(t, AT_FDCWD, &target, false) {
        let magic = l.mount.fs.name() == "proc"
            && l.stat.is_some_and(|s| s.st_mode & S_IFMT == S_IFLNK)
            && !matches!(&l.name[..], b"self" | b"thread-self" | b"mounts");
        if magic {
            return Err(Errno::ENOENT);
        }
    }
    let follow = flags & MS_NOSYMFOLLOW == 0 || flags & (MS_BIND | MS_MOVE) == 0;
    let r = walk_at(t, AT_FDCWD, &target, follow)?;
    let inode = existing(&r)?;
    if !capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    crate::kernel::landlock::check_mount(t)?;
    let mnt = t.mnt();
    let propagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
    if flags & MS_REMOUNT != 0 {
        // Only a mount's root can be remounted. With MS_BIND only the per-mount flags change;
        // otherwise the file system's too (the sandbox's file systems have none to change).
        if !r.is_mount_root {
            return Err(Errno::EINVAL);
        }
        let m = mnt.read().at(&r.path).ok_or(Errno::EINVAL)?;
        // No access-time flag keeps the mount's (path_mount); any sets them all afresh.
        let atime = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
        let keep = if flags & atime == 0 {
            m.flags() & atime
        } else {
            0
        };
        if flags & MS_BIND == 0 {
            m.fs.reconfigure(flags & MS_RDONLY != 0)?;
        }
        m.set_flags(flags | keep);
        if flags & MS_BIND == 0 {
            super::sys_mount_api::set_sb_read_only(&m.fs, flags & MS_RDONLY != 0);
            crate::vfs::mount::remount_sb_flags(&m.fs, flags);
        }
        if flags & MS_BIND == 0 && !data.is_empty() && m.fs.name() == "tmpfs" {
            // Options on a tmpfs remount: validated; size changes are not applied.
            new_tmpfs(caller_owner(t), &data)?;
        }
        return Ok(0);
    }
    if flags & MS_BIND != 0 {
        let src = source.filter(|s| !s.is_empty()).ok_or(Errno::EINVAL)?;
        let s = walk_at(t, AT_FDCWD, &src, true)?;
        let sinode = existing(&s)?;
        if is_dir(&s) != is_dir(&r) {
            return Err(Errno::ENOTDIR);
        }
        if s.mount.propagation().unbindable {
            return Err(Errno::EINVAL);
        }
        let mut table = mnt.write();
        let below = if flags & MS_REC != 0 {
            table
                .list()
                .iter()
                .filter(|m| m.point != s.path && is_under(&m.point, &s.path))
                .count()
        } else {
            0
        };
        table.room_for(1 + below)?;
        let m = Mount::new(
            s.mount.fs.clone(),
            sinode,
            r.path.clone(),
            s.mount.source.clone(),
            // The source mount's flags, as clone_mnt copies them (its access-time mode too),
            // and those the call names.
            s.mount.flags() | (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)),
        );
        *lock(&m.options) = lock(&s.mount.options).clone();
        super::sys_mount_api::bound_from(&m, &s.mount, &s.path);
        table.add(m);
        if flags & MS_REC != 0 {
            bind_below(&mut table, &s.path, &r.path);
        }
        return Ok(0);
    }
    if flags & propagation != 0 {
        // Propagation types: the sandbox has one peer group per mount, so they are recorded
        // nowhere, but Linux's checks hold: exactly one type, on a mount's root.
        if (flags & propagation).count_ones() != 1 {
            return Err(Errno::EINVAL);
        }
        if !r.is_mount_root {
            return Err(Errno::EINVAL);
        }
        // Recorded and shown (mountinfo, statmount); mount events do not propagate.
        let table = mnt.read();
        let top = table.at(&r.path).ok_or(Errno::EINVAL)?;
        top.change_propagation(flags & propagation);
        if flags & MS_REC != 0 {
            for m in table.list() {
                if m.point != r.path && is_under(&m.point, &r.path) {
                    m.change_propagation(flags & propagation);
                }
            }
        }
        return Ok(0);
    }
    if flags & MS_MOVE != 0 {
        let src = source.filter(|s| !s.is_empty()).ok_or(Errno::EINVAL)?;
        let s = walk_at(t, AT_FDCWD, &src, true)?;
        existing(&s)?;
        if !s.is_mount_root || s.path == "/" {
            return Err(Errno::EINVAL);
        }
        if !is_dir(&r) && is_dir(&s) {
            return Err(Errno::ENOTDIR);
        }
        return mnt.write().move_mount(&s.path, &r.path).map(|_| 0);
    }
    let fstype = fstype.ok_or(Errno::EINVAL)?;
    if fstype.is_empty() {
        return Err(Errno::EINVAL);
    }
    let fstype = String::from_utf8_lossy(&fstype).into_owned();
    let (fs, options) = new_fs(t, &fstype, source.as_deref(), &data, flags)?;
    if !is_dir(&r) {
        return Err(Errno::ENOTDIR);
    }
    let _ = inode;
    let src = match &source {
        Some(s) if !s.is_empty() => String::from_utf8_lossy(s).into_owned(),
        _ => "none".into(),
    };
    super::sys_mount_api::set_sb_read_only(&fs, flags & MS_RDONLY != 0);
    crate::vfs::mount::set_sb_flags(&fs, flags);
    let root = fs.root();
    let m = Mount::new(fs, root, r.path.clone(), src, flags);
    *lock(&m.options) = options;
    let mut table = mnt.write();
    table.room_for(1)?;
    table.add(m);
    Ok(0)
}

/// MS_BIND|MS_REC: the mounts below `from` appear below `to` as well.
fn bind_below(table: &mut Mounts, from: &str, to: &str) {
    let below: Vec<Arc<Mount>> = table
        .list()
        .into_iter()
        .filter(|m| m.point != from && is_under(&m.point, from) && !is_under(&m.point, to))
        .collect();

    for m in below {
        let point = if from == "/" {
            format!("{to}{}", m.point)
        } else {
            format!("{to}{}", &m.point[from.len()..])
        };
        let copy = Mount::new(
            m.fs.clone(),
            m.root.clone(),
            point,
            m.source.clone(),
            m.flags(),
        );
        *lock(&copy.options) = lock(&m.options).clone();
        super::sys_mount_api::bound_from(&copy, &m, &m.point);
        table.add(copy);
    }
}

/// Whether a task of namespace `ns` has its cwd or root at or below `point`, on the mount
/// `top` there or one below it: a cwd entered before `top` covered it stays on the mount
/// below (Linux holds the cwd's dentry and mount), and does not keep `top` busy.
fn fs_busy(
    t: &Task,
    ns: &Arc<crate::vfs::mount::MountNs>,
    point: &str,
    top: Option<&Arc<Mount>>,
) -> bool {
    let cwd_busy = |fs: &crate::kernel::FsContext| -> bool {
        if !is_under(&fs.cwd, point) {
            return false;
        }
        match (&fs.cwd_anchor, top) {
            (Some(a), Some(top)) => {
                (Arc::ptr_eq(&a.mount.fs, &top.fs) && Arc::ptr_eq(&a.mount.root, &top.root))
                    || (a.mount.point != point && is_under(&a.mount.point, point))
            }
            _ => true,
        }
    };
    let tree = lock(&t.k.tree);
    tree.threads.values().any(|task| {
        let Some(info) = lock(&task.info).clone() else {
            return false;
        };
        let Ok(fs) = info.fs() else {
            return false;
        };
        let fs = lock(&fs);
        Arc::ptr_eq(&fs.mnt, ns) && (cwd_busy(&fs) || (fs.root != "/" && is_under(&fs.root, point)))
    })
}

/// Implements umount2(2).
pub fn sys_umount2(t: &mut Task) -> SysResult {
    let flags = t.arg(1);
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0 {
        return Err(Errno::EINVAL);
    }
    let target = t.read_path(t.arg(0))?;
    // Its own walk leaves an MNT_EXPIRE mark alone (any other use of the mount clears it).
    let r = crate::vfs::mount::keeping_expiry(|| {
        walk_at(t, AT_FDCWD, &target, flags & UMOUNT_NOFOLLOW == 0)
    })?;
    existing(&r)?;
    if !capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    crate::kernel::landlock::check_mount(t)?;
    if !r.is_mount_root {
        return Err(Errno::EINVAL);
    }
    let point = r.path.clone();
    let dev = r.stat.map(|s| s.st_dev);
    drop(r);
    let mnt = t.mnt();
    let visible = mnt.read().at(&point);
    let cwd_busy = fs_busy(t, &mnt, &point, visible.as_ref());
    drop(visible);
    let detach = flags & MNT_DETACH != 0;
    let mut table = mnt.write();
    let top = table.at(&point).ok_or(Errno::EINVAL)?;
    // Referenced by the table and the one handle the check is given: anything more is an
    // open file or a mapping; a cwd or root below it counts too.
    let busy = |m: &Arc<Mount>| Arc::strong_count(m) > 2 || cwd_busy;
    if flags & MNT_EXPIRE != 0 {
        if busy(&top) {
            return Err(Errno::EBUSY);
        }
        if !top.take_expiry_mark() {
            top.mark_expiry();
            return Err(Errno::EAGAIN);
        }
    }
    let fs = top.fs.clone();
    drop(top);
    table.unmount(&point, detach, busy)?;
    drop(table);
    // Landlock's rules on the file system let go of its inodes (rules on it through another
    // mount of it die too, which only ever denies more).
    if let Some(dev) = dev {
        crate::kernel::landlock::release_dev(dev);
    }
    // Handles into mounts now gone must not pin their files: a loop device's volume lives
    // while any of its inodes does, and a new file system made on the device would otherwise
    // be mounted as the old one.
    lock(handles()).retain(|(_, (_, m, _))| m.strong_count() > 0);
    // What the file system holds goes to its storage now; the rest (a disk file system's
    // FSInfo and clean flag) when its last reference goes.
    let _ = fs.sync();
    Ok(0)
}

/// Implements pivot_root(2): the mount at `new_root` takes the place of the caller's root
/// mount, which moves to `put_old` (at or below `new_root`). Every task of the namespace keeps
/// its root and cwd paths (a root or cwd at the old root is then at the new one, as on Linux);
/// paths below move with their mounts.
pub fn sys_pivot_root(t: &mut Task) -> SysResult {
    let new_root = t.read_path(t.arg(0))?;
    let put_old = t.read_path(t.arg(1))?;
    let n = walk_at(t, AT_FDCWD, &new_root, true)?;
    let o = walk_at(t, AT_FDCWD, &put_old, true)?;
    existing(&n)?;
    existing(&o)?;
    if !is_dir(&n) || !is_dir(&o) {
        return Err(Errno::ENOTDIR);
    }
    if !capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    crate::kernel::landlock::check_mount(t)?;
    let root = lock(&t.fs).root.clone();
    let mnt = t.mnt();
    let root_mount = mnt.read().at(&root);
    // new_root or put_old on the root's own mount: a loop.
    if let Some(rm) = &root_mount {
        if Arc::ptr_eq(&n.mount, rm) || Arc::ptr_eq(&o.mount, rm) {
            return Err(Errno::EBUSY);
        }
    }
    if root_mount.is_none() || !n.is_mount_root || !is_under(&o.path, &n.path) {
        return Err(Errno::EINVAL);
    }
    if !is_under(&n.path, &root) || n.path == root {
        return Err(Errno::EINVAL);
    }
    let (np, op) = (n.path.clone(), o.path.clone());
    drop((n, o, root_mount));
    let remap = mnt.write().pivot(&root, &np, &op)?;
    let tree = lock(&t.k.tree);
    let mut contexts: Vec<Arc<Mutex<crate::kernel::FsContext>>> = vec![t.fs.clone()];
    for task in tree.threads.values() {
        if let Some(Ok(fs)) = lock(&task.info).as_ref().map(|i| i.fs()) {
            if !contexts.iter().any(|c| Arc::ptr_eq(c, &fs)) {
                contexts.push(fs);
            }
        }
    }
    drop(tree);
    for c in contexts {
        let mut fs = lock(&c);
        if Arc::ptr_eq(&fs.mnt, &mnt) {
            if fs.cwd != root {
                fs.cwd = remap(&fs.cwd);
            }
            if fs.root != root {
                fs.root = remap(&fs.root);
            }
        }
    }
    Ok(0)
}

/// Implements chroot(2).
pub fn sys_chroot(t: &mut Task) -> SysResult {
    let path = t.read_path(t.arg(0))?;
    let r = walk_at(t, AT_FDCWD, &path, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    let inode = r.inode.clone().ok_or(Errno::ENOENT)?;
    if !t.creds.may_file(inode.as_ref(), &st, X_OK) {
        return Err(Errno::EACCES);
    }
    if !capable(t, CAP_SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    lock(&t.fs).root = r.path;
    t.publish();
    Ok(0)
}

/// Size of the handles the sandbox makes: inode number and device.
const HANDLE_BYTES: u32 = 12;
/// Their type (FILEID_INO32_GEN's number; opaque to applications).
const HANDLE_TYPE: i32 = 1;

/// What a handle names: the file, its mount (while mounted) and path.
type HandleTarget = (Arc<dyn Inode>, Weak<Mount>, String);

/// Most handles remembered; the oldest are forgotten first (their handles then give ESTALE).
const MAX_HANDLES: usize = 1024;

/// A handle given out: (device, inode number) and what it leads to.
type HandleEntry = ((u64, u64), HandleTarget);

/// Handles given out, by (device, inode number).
fn handles() -> &'static Mutex<VecDeque<HandleEntry>> {
    static H: OnceLock<Mutex<VecDeque<HandleEntry>>> = OnceLock::new();
    H.get_or_init(Default::default)
}

/// Implements name_to_handle_at(2).
pub fn sys_name_to_handle_at(t: &mut Task) -> SysResult {
    let dirfd = fd_arg(t, 0);
    let (path_addr, handle, mount_id, flags) = (t.arg(1), t.arg(2), t.arg(3), t.arg(4) as u32);
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH | AT_HANDLE_FID | AT_HANDLE_MNT_ID_UNIQUE) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    let (inode, mount, full) = if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }

        if dirfd == AT_FDCWD {
            let r = walk_at(t, AT_FDCWD, b".", true)?;
            (existing(&r)?, r.mount.clone(), r.path.clone())
        } else {
            let f = t.file(dirfd)?;
            let inode = f.inode.clone().ok_or(Errno::EOPNOTSUPP)?;
            let mount = f.mount.clone().ok_or(Errno::EOPNOTSUPP)?;
            (inode, mount, f.path.clone())
        }
    } else {
        let r = walk_at(t, dirfd, &path, flags & AT_SYMLINK_FOLLOW != 0)?;
        (existing(&r)?, r.mount.clone(), r.path.clone())
    };
    let mut have = [0u8; 4];
    t.copy_in(handle, &mut have)?;
    let have = u32::from_ne_bytes(have);
    if have > MAX_HANDLE_SZ {
        return Err(Errno::EINVAL);
    }
    let st = inode.stat()?;
    // As Linux: the mount id and the handle's header are written even when the handle does
    // not fit (its size then tells how much room it needs), and EFAULT wins.
    let fits = have >= HANDLE_BYTES;
    let mut h = Vec::with_capacity(8 + HANDLE_BYTES as usize);
    h.extend_from_slice(&HANDLE_BYTES.to_ne_bytes());
    h.extend_from_slice(&HANDLE_TYPE.to_ne_bytes());
    if fits {
        h.extend_from_slice(&st.st_ino.to_ne_bytes());
        h.extend_from_slice(&(st.st_dev as u32).to_ne_bytes());
    }
    if flags & AT_HANDLE_MNT_ID_UNIQUE != 0 {
        t.copy_out(mount_id, &u64::from(mount.id).to_ne_bytes())?;
    } else {
        t.copy_out(mount_id, &(mount.id as i32).to_ne_bytes())?;
    }
    t.copy_out(handle, &h)?;
    if !fits {
        return Err(Errno::EOVERFLOW);
    }
    let key = (st.st_dev as u32 as u64, st.st_ino);
    let mut list = lock(handles());
    list.retain(|(k, _)| *k != key);
    if list.len() >= MAX_HANDLES {
        list.pop_front();
    }
    list.push_back((key, (inode, Arc::downgrade(&mount), full)));
    Ok(0)
}

/// Implements open_by_handle_at(2): for handles this sandbox made, while the file is still
/// in use (ESTALE otherwise); it needs CAP_DAC_READ_SEARCH, as on Linux.
pub fn sys_open_by_handle_at(t: &mut Task) -> SysResult {
    let mount_fd = fd_arg(t, 0);
    let (handle, flags) = (t.arg(1), t.arg(2) as u32);
    if !capable(t, CAP_DAC_READ_SEARCH) {
        return Err(Errno::EPERM);
    }
    // The handle is decoded in mount_fd's file system: one from another gives ESTALE.
    let fs_dev = if mount_fd == AT_FDCWD {
        walk_at(t, AT_FDCWD, b".", true)?.stat.map(|s| s.st_dev)
    } else {
        let f = t.file(mount_fd)?;
        match &f.mount {
            Some(m) => m.root.stat().ok().map(|s| s.st_dev),
            None => None,
        }
    };
    let mut head = [0u8; 8];
    t.copy_in(handle, &mut head)?;
    let bytes = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]);
    if bytes > MAX_HANDLE_SZ || bytes == 0 {
        return Err(Errno::EINVAL);
    }
    let mut body = vec![0u8; bytes as usize];
    t.copy_in(handle + 8, &mut body)?;
    let ty = i32::from_ne_bytes([head[4], head[5], head[6], head[7]]);
    if ty != HANDLE_TYPE || bytes != HANDLE_BYTES {
        return Err(Errno::ESTALE);
    }
    let ino = u64::from_ne_bytes(body[..8].try_into().map_err(|_| Errno::ESTALE)?);
    let dev = u32::from_ne_bytes(body[8..12].try_into().map_err(|_| Errno::ESTALE)?);
    if fs_dev.map(|d| d as u32) != Some(dev) {
        return Err(Errno::ESTALE);
    }
    let (inode, mount, path) = {
        let list = lock(handles());
        let (_, (i, m, p)) = list
            .iter()
            .find(|(k, _)| *k == (u64::from(dev), ino))
            .ok_or(Errno::ESTALE)?;
        (i.clone(), m.upgrade().ok_or(Errno::ESTALE)?, p.clone())
    };
    let st = inode.stat()?;
    if st.st_nlink == 0 && st.st_mode & S_IFMT != S_IFDIR {
        return Err(Errno::ESTALE);
    }
    if flags & O_CREAT != 0 {
        return Err(Errno::EINVAL);
    }
    let fmt = st.st_mode & S_IFMT;
    let acc = flags & O_ACCMODE;
    if flags & O_DIRECTORY != 0 && fmt != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    if fmt == S_IFDIR && acc != O_RDONLY {
        return Err(Errno::EISDIR);
    }
    if fmt == S_IFLNK && flags & O_PATH == 0 {
        return Err(Errno::ELOOP);
    }
    if acc != O_RDONLY && mount.read_only() && flags & O_PATH == 0 {
        return Err(Errno::EROFS);
    }
    // Landlock asks of a file opened by handle what it asks of one opened by path.
    let ll_denied = if flags & O_PATH == 0 {
        let read = acc != O_WRONLY;
        let write = acc != O_RDONLY;
        crate::kernel::landlock::check_open(
            t,
            &path,
            st.st_mode,
            Some((st.st_dev, st.st_ino)),
            read,
            write,
        )?
    } else {
        0
    };
    let ops = inode.open(flags | O_LARGEFILE)?;
    let file = File::open_inode(ops, flags | O_LARGEFILE, path, inode, mount);
    file.set_landlock_denied(ll_denied);
    install(t, file, flags & O_CLOEXEC != 0)
}

/// Masks `path` as an OCI runtime does a bundle's `linux.maskedPaths`: a directory gets an
/// empty read-only tmpfs over it, anything else /dev/null bound over it, read-only. A path the
/// sandbox does not have is left alone (as runc does). Before the program starts.
pub fn mask_path(k: &crate::kernel::Kernel, path: &str) -> Result<(), Errno> {
    let r = match k.resolve("/", path.as_bytes(), true) {
        Ok(r) if r.inode.is_some() => r,
        Ok(_) | Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(()),
        Err(e) => return Err(e),
    };
    let m = if is_dir(&r) {
        let dev = NEXT_DEV.fetch_add(1, Ordering::Relaxed);
        let fs: Arc<dyn Filesystem> = TmpFs::new(dev, 0o755, Owner::default(), None);
        let root = fs.root();
        Mount::new(fs, root, r.path.clone(), "tmpfs", MS_RDONLY)
    } else {
        let null = k.resolve("/", b"/dev/null", true)?;
        let inode = null.inode.clone().ok_or(Errno::ENOENT)?;
        Mount::new(
            null.mount.fs.clone(),
            inode,
            r.path.clone(),
            null.mount.source.clone(),
            MS_RDONLY,
        )
    };
    k.mnt.write().add(m);
    Ok(())
}

/// Makes `path` read-only as an OCI runtime does a bundle's `linux.readonlyPaths`: bound onto
/// itself recursively, read-only (the mounts below it stay as they are, as under runc). A path
/// the sandbox does not have is left alone.
pub fn readonly_path(k: &crate::kernel::Kernel, path: &str) -> Result<(), Errno> {
    let r = match k.resolve("/", path.as_bytes(), true) {
        Ok(r) if r.inode.is_some() => r,
        Ok(_) | Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(()),
        Err(e) => return Err(e),
    };
    let inode = r.inode.clone().ok_or(Errno::ENOENT)?;
    let mut table = k.mnt.write();
    let m = Mount::new(
        r.mount.fs.clone(),
        inode,
        r.path.clone(),
        r.mount.source.clone(),
        r.mount.flags() | MS_RDONLY,
    );
    *lock(&m.options) = lock(&r.mount.options).clone();
    table.add(m);
    Ok(())
}
