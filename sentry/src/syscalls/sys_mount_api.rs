// SPDX-License-Identifier: Apache-2.0
//! The new mount API (Linux 5.2+, fs/fsopen.c and fs/namespace.c are the reference): fsopen(2),
//! fsconfig(2), fsmount(2), fspick(2), move_mount(2), open_tree(2), open_tree_attr(2),
//! mount_setattr(2), and statmount(2)/listmount(2) (Linux 6.8+).
//!
//! Everything goes through mount(2)'s machinery: FSCONFIG_CMD_CREATE makes the file system with
//! `sys_mount::new_fs` from the parameters collected, mounts are [`Mount`]s of the caller's
//! [`Mounts`] table. A mount not yet attached (fsmount, open_tree with OPEN_TREE_CLONE) lives in
//! its descriptor ([`MountFd`]) until move_mount attaches it; closing the descriptor first
//! drops it, as Linux dissolves the anonymous namespace. Every call needs CAP_SYS_ADMIN in the
//! sandbox's credentials where Linux asks for it (EPERM otherwise).

use std::sync::{Arc, Mutex, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::{Errno, Zeroable};

use super::sys_file::{install, walk_at};
use super::sys_mount::{capable, new_fs, tmpfs_options};
use super::{fd_arg, SysResult};
use crate::kernel::{lock, Task};
use crate::vfs::mount::{is_under, Mount, MountNs};
use crate::vfs::{File, FileOps, Filesystem, Inode, Owner};

/// Longest parameter key fsconfig takes (strndup_user(key, 256)).
const KEY_MAX: usize = 255;
/// Longest string value.
const VALUE_MAX: usize = 255;
/// Largest binary value (FSCONFIG_SET_BINARY).
const BLOB_MAX: i32 = 1024 * 1024;
/// The options of one context, as mount(2)'s data page: at most a page, less the two bytes
/// Linux's legacy parser keeps back.
const DATA_MAX: usize = 4096 - 2;
/// Page size (copy_struct_from_user's bound).
const PAGE: u64 = 4096;

/// The superblock flags any file system takes as parameters (vfs_parse_sb_flag): set, cleared.
const SB_SET: &[(&str, u64)] = &[
    ("dirsync", MS_DIRSYNC),
    ("lazytime", MS_LAZYTIME),
    ("mand", MS_MANDLOCK),
    ("ro", MS_RDONLY),
    ("sync", MS_SYNCHRONOUS),
];
const SB_CLEAR: &[(&str, u64)] = &[
    ("async", MS_SYNCHRONOUS),
    ("nolazytime", MS_LAZYTIME),
    ("nomand", MS_MANDLOCK),
    ("rw", MS_RDONLY),
];

/// File systems whose superblock is read-only (SB_RDONLY: made with MS_RDONLY, or
/// reconfigured `ro`), apart from the per-mount flag; statmount's sb_flags shows it.
fn read_only_sbs() -> &'static Mutex<Vec<Weak<dyn Filesystem>>> {
    static R: OnceLock<Mutex<Vec<Weak<dyn Filesystem>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Records whether the superblock of `fs` is read-only (mount(2) of a new file system, a
/// remount, FSCONFIG_CMD_CREATE and FSCONFIG_CMD_RECONFIGURE).
pub(super) fn set_sb_read_only(fs: &Arc<dyn Filesystem>, ro: bool) {
    let mut v = lock(read_only_sbs());
    let me = Arc::downgrade(fs);
    v.retain(|w| w.strong_count() > 0 && !Weak::ptr_eq(w, &me));
    if ro {
        v.push(me);
    }
}

/// Whether the superblock of `fs` is read-only.
fn sb_read_only(fs: &Arc<dyn Filesystem>) -> bool {
    if fs.read_only() {
        return true;
    }
    let me = Arc::downgrade(fs);
    lock(read_only_sbs()).iter().any(|w| Weak::ptr_eq(w, &me))
}

/// Where a context is in its life (Linux's `enum fs_context_phase`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// fsopen: taking parameters for a new superblock.
    CreateParams,
    /// Created: waiting for fsmount.
    AwaitingMount,
    /// fspick, or after fsmount: the next call starts a reconfiguration.
    AwaitingReconf,
    /// Taking parameters for a reconfiguration.
    ReconfParams,
    /// A create or reconfigure failed: only close is left.
    Failed,
}

/// A made file system, ready to mount.
struct Made {
    fs: Arc<dyn Filesystem>,
    /// Its /proc/mounts options.
    options: String,
    /// What /proc/mounts shows as its source.
    source: String,
}

/// The state of an fs-context descriptor.
struct Ctx {
    fstype: String,
    phase: Phase,
    source: Option<String>,
    /// File-system parameters, as mount(2)'s data string would hold them.
    params: Vec<String>,
    /// Bytes the parameters take in that string.
    data_len: usize,
    /// Superblock flags set and cleared by parameters.
    sb_set: u64,
    sb_clr: u64,
    /// The file system, once created.
    made: Option<Made>,
    /// fspick's mount (the file system to reconfigure).
    picked: Option<Arc<Mount>>,
}

/// An fs-context descriptor (`anon_inode:[fscontext]`).
struct FsContextFile {
    ino: u64,
    ctx: Mutex<Ctx>,
}

impl FileOps for FsContextFile {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.ino))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// A detached mount tree: each mount with its point relative to the root (`""` for the root),
/// the root first.
type Tree = Vec<(String, Arc<Mount>)>;

/// A mount descriptor from fsmount(2) or open_tree(2) with OPEN_TREE_CLONE (Linux's O_PATH
/// file of a mount in an anonymous namespace).
struct MountFd {
    /// The root mount's directory.
    root: Arc<dyn Inode>,
    /// The unique id of the root mount (it keeps it once attached).
    id: u64,
    /// The detached tree, root first, each with its point relative to the root (`""` for the
    /// root); `None` once move_mount attached it.
    tree: Mutex<Option<Tree>>,
}

/// Mounts held in detached trees, over all descriptors: bounded as a namespace is, so that
/// clones kept unattached cannot grow the sentry without bound.
static DETACHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for MountFd {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.tree).as_ref() {
            DETACHED.fetch_sub(t.len(), std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl FileOps for MountFd {
    fn stat(&self) -> Result<Stat, Errno> {
        self.root.stat()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// An O_PATH descriptor of a path (open_tree without OPEN_TREE_CLONE).
struct PathFd(Arc<dyn Inode>);

impl FileOps for PathFd {
    fn stat(&self) -> Result<Stat, Errno> {
        self.0.stat()
    }
}

fn mount_fd(f: &File) -> Option<&MountFd> {
    f.ops.as_any().and_then(|a| a.downcast_ref::<MountFd>())
}

fn context(f: &File) -> Result<&FsContextFile, Errno> {
    f.ops
        .as_any()
        .and_then(|a| a.downcast_ref::<FsContextFile>())
        .ok_or(Errno::EINVAL)
}

/// The path a detached mount's descriptor shows. It leads nowhere in any namespace (a component
/// longer than NAME_MAX), so a walk from the descriptor starts in the mount itself.
fn detached_path(id: u64) -> String {
    format!("/{}mnt:{id}", "_".repeat(256))
}

fn cap_admin(t: &Task) -> Result<(), Errno> {
    if capable(t, CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Reads a NUL-terminated string of at most `max` bytes: EINVAL when longer
/// (strndup_user), EFAULT for a bad pointer.
fn user_string(t: &Task, addr: u64, max: usize) -> Result<String, Errno> {
    let s = t.mm().read_cstr(addr, max).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })?;
    Ok(String::from_utf8_lossy(&s).into_owned())
}

/// Implements fsopen(2).
pub fn sys_fsopen(t: &mut Task) -> SysResult {
    let (name, flags) = (t.arg(0), t.arg(1) as u32);
    cap_admin(t)?;
    if flags & !FSOPEN_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let fstype = user_string(t, name, 4095)?;
    if !crate::fsimpl::FILESYSTEMS
        .iter()
        .any(|f| f.name == fstype && !matches!(f.name, "sockfs" | "pipefs"))
    {
        return Err(Errno::ENODEV);
    }
    let ctx = Ctx {
        fstype,
        phase: Phase::CreateParams,
        source: None,
        params: Vec::new(),
        data_len: 0,
        sb_set: 0,
        sb_clr: 0,
        made: None,
        picked: None,
    };
    new_context_fd(t, ctx, flags & FSOPEN_CLOEXEC != 0)
}

fn new_context_fd(t: &Task, ctx: Ctx, cloexec: bool) -> SysResult {
    let f = FsContextFile {
        ino: t.k.new_ino(),
        ctx: Mutex::new(ctx),
    };
    let file = File::new(Box::new(f), O_RDWR, "anon_inode:[fscontext]");
    install(t, file, cloexec)
}

/// Implements fspick(2): a context to reconfigure the file system mounted at a path.
pub fn sys_fspick(t: &mut Task) -> SysResult {
    let (dirfd, path, flags) = (fd_arg(t, 0), t.arg(1), t.arg(2) as u32);
    cap_admin(t)?;
    if flags & !(FSPICK_CLOEXEC | FSPICK_SYMLINK_NOFOLLOW | FSPICK_NO_AUTOMOUNT | FSPICK_EMPTY_PATH)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    let target = lookup(
        t,
        dirfd,
        path,
        flags & FSPICK_SYMLINK_NOFOLLOW == 0,
        flags & FSPICK_EMPTY_PATH != 0,
    )?;
    if !target.is_root {
        return Err(Errno::EINVAL);
    }
    let ctx = Ctx {
        fstype: target.mount.fs.name().to_string(),
        phase: Phase::AwaitingReconf,
        source: None,
        params: Vec::new(),
        data_len: 0,
        sb_set: 0,
        sb_clr: 0,
        made: None,
        picked: Some(target.mount),
    };
    new_context_fd(t, ctx, flags & FSPICK_CLOEXEC != 0)
}

/// A parameter's value.
enum Value {
    Flag,
    Str(String),
    /// A binary blob, a path or a file: taken by no file system of the sandbox but as a
    /// superblock flag's (ignored) value.
    Other,
}

/// Implements fsconfig(2).
pub fn sys_fsconfig(t: &mut Task) -> SysResult {
    let (fd, cmd, key, value, aux) = (
        fd_arg(t, 0),
        t.arg(1) as u32,
        t.arg(2),
        t.arg(3),
        t.arg(4) as i32,
    );
    if fd < 0 {
        return Err(Errno::EINVAL);
    }
    let bad = match cmd {
        FSCONFIG_SET_FLAG => key == 0 || value != 0 || aux != 0,
        FSCONFIG_SET_STRING => key == 0 || value == 0 || aux != 0,
        FSCONFIG_SET_BINARY => key == 0 || value == 0 || aux <= 0 || aux > BLOB_MAX,
        FSCONFIG_SET_PATH | FSCONFIG_SET_PATH_EMPTY => {
            key == 0 || value == 0 || (aux != AT_FDCWD && aux < 0)
        }
        FSCONFIG_SET_FD => key == 0 || value != 0 || aux < 0,
        FSCONFIG_CMD_CREATE | FSCONFIG_CMD_RECONFIGURE | FSCONFIG_CMD_CREATE_EXCL => {
            key != 0 || value != 0 || aux != 0
        }
        _ => return Err(Errno::EOPNOTSUPP),
    };
    if bad {
        return Err(Errno::EINVAL);
    }
    let file = t.file(fd)?;
    let cf = context(&file)?;
    let key = if key != 0 {
        Some(user_string(t, key, KEY_MAX)?)
    } else {
        None
    };
    let val = match cmd {
        FSCONFIG_SET_FLAG => Value::Flag,
        FSCONFIG_SET_STRING => Value::Str(user_string(t, value, VALUE_MAX)?),
        FSCONFIG_SET_BINARY => {
            // Read (EFAULT) and dropped: no file system here takes a blob.
            let mut buf = [0u8; 4096];
            let mut off = 0usize;
            while off < aux as usize {
                let n = (aux as usize - off).min(buf.len());
                t.copy_in(value + off as u64, &mut buf[..n])?;
                off += n;
            }
            Value::Other
        }
        FSCONFIG_SET_PATH | FSCONFIG_SET_PATH_EMPTY => {
            let p = t.read_path(value)?;
            if p.is_empty() && cmd == FSCONFIG_SET_PATH {
                return Err(Errno::ENOENT);
            }
            Value::Other
        }
        FSCONFIG_SET_FD => {
            t.file(aux)?;
            Value::Other
        }
        _ => Value::Flag,
    };
    let mut ctx = lock(&cf.ctx);
    // finish_clean_context: after fspick or fsmount, the first call starts a reconfiguration.
    if ctx.phase == Phase::AwaitingReconf {
        ctx.phase = Phase::ReconfParams;
        ctx.params.clear();
        ctx.data_len = 0;
        ctx.sb_set = 0;
        ctx.sb_clr = 0;
        ctx.source = None;
    }
    match cmd {
        FSCONFIG_CMD_CREATE | FSCONFIG_CMD_CREATE_EXCL => create(t, &mut ctx),
        FSCONFIG_CMD_RECONFIGURE => reconfigure(t, &mut ctx),
        _ => {
            if !matches!(ctx.phase, Phase::CreateParams | Phase::ReconfParams) {
                return Err(Errno::EBUSY);
            }
            let key = key.ok_or(Errno::EINVAL)?;
            parse_param(t, &mut ctx, key, val).map(|_| 0)
        }
    }
}

/// vfs_parse_fs_param: a superblock flag, the file system's own parameter, or the source.
fn parse_param(t: &Task, ctx: &mut Ctx, key: String, val: Value) -> Result<(), Errno> {
    if let Some((_, f)) = SB_SET.iter().find(|(k, _)| *k == key) {
        ctx.sb_set |= f;
        ctx.sb_clr &= !f;
        return Ok(());
    }
    if let Some((_, f)) = SB_CLEAR.iter().find(|(k, _)| *k == key) {
        ctx.sb_clr |= f;
        ctx.sb_set &= !f;
        return Ok(());
    }
    let Value::Str(v) = val else {
        if matches!(val, Value::Flag) && key != "source" {
            return fs_param(t, ctx, key, None);
        }
        // The sandbox's file systems take no blob, path or file parameters; a source must
        // be a string.
        return Err(Errno::EINVAL);
    };
    if key == "source" {
        if ctx.source.is_some() {
            return Err(Errno::EINVAL);
        }
        ctx.source = Some(v);
        return Ok(());
    }
    fs_param(t, ctx, key, Some(v))
}

/// A file-system parameter, checked as that file system checks it, and kept for the data
/// string (bounded as Linux bounds mount(2)'s data: a page).
fn fs_param(t: &Task, ctx: &mut Ctx, key: String, val: Option<String>) -> Result<(), Errno> {
    let opt = match &val {
        Some(v) => format!("{key}={v}"),
        None => key.clone(),
    };
    match ctx.fstype.as_str() {
        "tmpfs" | "shmem" => {
            // The empty key and anything tmpfs does not know: EINVAL.
            if key.is_empty() || opt.contains(',') {
                return Err(Errno::EINVAL);
            }
            tmpfs_options(super::sys_mount::caller_owner(t), &opt)?;
        }
        "devpts" => {
            if key.is_empty() || opt.contains(',') {
                return Err(Errno::EINVAL);
            }
            crate::fsimpl::tty::devpts::Options::parse(&opt)?;
        }
        "vfat" | "msdos" => {
            if opt.contains(',') {
                return Err(Errno::EINVAL);
            }
            let owner = Owner {
                uid: t.creds.fsuid,
                gid: t.creds.fsgid,
            };
            crate::fsimpl::vfat::Options::parse(&opt, owner)?;
        }
        "proc" => {
            if !matches!(key.as_str(), "gid" | "hidepid" | "subset" | "pidns") {
                return Err(Errno::EINVAL);
            }
        }
        // No parameters of their own.
        "sysfs" | "mqueue" => return Err(Errno::EINVAL),
        // ramfs has always ignored what it does not know; devtmpfs is one shared instance;
        // another disk file system checks its options when FSCONFIG_CMD_CREATE makes it (as
        // Linux's legacy parser, which only gathers them).
        _ => {
            if opt.contains(',') {
                return Err(Errno::EINVAL);
            }
        }
    }
    let len = opt.len();
    if len > DATA_MAX.saturating_sub(ctx.data_len) {
        return Err(Errno::EINVAL);
    }
    ctx.data_len += len + usize::from(!ctx.params.is_empty());
    ctx.params.push(opt);
    Ok(())
}

/// FSCONFIG_CMD_CREATE: the file system made as mount(2) makes it.
fn create(t: &Task, ctx: &mut Ctx) -> SysResult {
    if ctx.phase != Phase::CreateParams {
        return Err(Errno::EBUSY);
    }
    cap_admin(t)?;
    let data = ctx.params.join(",");
    let flags = ctx.sb_set & (MS_RDONLY | MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME | MS_MANDLOCK);
    let source = ctx.source.clone();
    match new_fs(
        t,
        &ctx.fstype,
        source.as_deref().map(str::as_bytes),
        &data,
        flags,
    ) {
        Ok((fs, options)) => {
            set_sb_read_only(&fs, flags & MS_RDONLY != 0);
            crate::vfs::mount::set_sb_flags(&fs, flags);
            let source = match source {
                Some(s) if !s.is_empty() => s,
                _ => "none".to_string(),
            };
            ctx.made = Some(Made {
                fs,
                options,
                source,
            });
            ctx.phase = Phase::AwaitingMount;
            Ok(0)
        }
        Err(e) => {
            ctx.phase = Phase::Failed;
            Err(e)
        }
    }
}

/// FSCONFIG_CMD_RECONFIGURE: the superblock flags applied to every mount of the file system
/// in the caller's namespace (the sandbox keeps read-only per mount).
fn reconfigure(t: &Task, ctx: &mut Ctx) -> SysResult {
    if ctx.phase != Phase::ReconfParams {
        return Err(Errno::EBUSY);
    }
    if !capable(t, CAP_SYS_ADMIN) {
        ctx.phase = Phase::Failed;
        return Err(Errno::EPERM);
    }
    let fs = match (&ctx.picked, &ctx.made) {
        (Some(m), _) => m.fs.clone(),
        (None, Some(m)) => m.fs.clone(),
        (None, None) => return Err(Errno::EINVAL),
    };
    if ctx.fstype == "tmpfs" {
        let data = ctx.params.join(",");
        if let Err(e) = tmpfs_options(super::sys_mount::caller_owner(t), &data) {
            ctx.phase = Phase::Failed;
            return Err(e);
        }
    }
    let (set, clr) = (ctx.sb_set & MS_RDONLY, ctx.sb_clr & MS_RDONLY);
    if set | clr != 0 {
        if let Err(e) = fs.reconfigure(set != 0) {
            ctx.phase = Phase::Failed;
            return Err(e);
        }
        set_sb_read_only(&fs, set != 0);
    }
    let sb = crate::vfs::mount::sb_flags(&fs);
    crate::vfs::mount::set_sb_flags(&fs, (sb & !ctx.sb_clr) | ctx.sb_set);
    let apply = |m: &Mount| {
        if Arc::ptr_eq(&m.fs, &fs) {
            m.set_flags((m.flags() & !clr) | set);
        }
    };
    for m in t.mnt().read().list() {
        apply(&m);
    }
    if let Some(m) = &ctx.picked {
        apply(m);
    }
    // vfs_clean_context: the next parameters start another reconfiguration.
    ctx.phase = Phase::AwaitingReconf;
    Ok(0)
}

/// MOUNT_ATTR_* (RDONLY, NOSUID, NODEV, NOEXEC, NODIRATIME, NOSYMFOLLOW) as MS_* flags.
fn attr_to_ms(attr: u64) -> u64 {
    let mut f = 0;
    for (a, m) in [
        (MOUNT_ATTR_RDONLY, MS_RDONLY),
        (MOUNT_ATTR_NOSUID, MS_NOSUID),
        (MOUNT_ATTR_NODEV, MS_NODEV),
        (MOUNT_ATTR_NOEXEC, MS_NOEXEC),
        (MOUNT_ATTR_NODIRATIME, MS_NODIRATIME),
        (MOUNT_ATTR_NOSYMFOLLOW, MS_NOSYMFOLLOW),
    ] {
        if attr & a != 0 {
            f |= m;
        }
    }
    f
}

/// A mount's MS_* flags as MOUNT_ATTR_* (statmount's mnt_attr).
fn ms_to_attr(flags: u64) -> u64 {
    let mut a = 0;
    for (at, m) in [
        (MOUNT_ATTR_RDONLY, MS_RDONLY),
        (MOUNT_ATTR_NOSUID, MS_NOSUID),
        (MOUNT_ATTR_NODEV, MS_NODEV),
        (MOUNT_ATTR_NOEXEC, MS_NOEXEC),
        (MOUNT_ATTR_NODIRATIME, MS_NODIRATIME),
        (MOUNT_ATTR_NOSYMFOLLOW, MS_NOSYMFOLLOW),
    ] {
        if flags & m != 0 {
            a |= at;
        }
    }
    if flags & MS_NOATIME != 0 {
        a |= MOUNT_ATTR_NOATIME;
    } else if flags & MS_RELATIME == 0 {
        a |= MOUNT_ATTR_STRICTATIME;
    }
    a
}

/// Implements fsmount(2): a detached mount of the context's file system.
pub fn sys_fsmount(t: &mut Task) -> SysResult {
    let (fd, flags, attrs) = (fd_arg(t, 0), t.arg(1) as u32, t.arg(2) as u32 as u64);
    cap_admin(t)?;
    if flags & !FSMOUNT_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let valid = MOUNT_ATTR_RDONLY
        | MOUNT_ATTR_NOSUID
        | MOUNT_ATTR_NODEV
        | MOUNT_ATTR_NOEXEC
        | MOUNT_ATTR__ATIME
        | MOUNT_ATTR_NODIRATIME
        | MOUNT_ATTR_NOSYMFOLLOW;
    if attrs & !valid != 0 {
        return Err(Errno::EINVAL);
    }
    let mut mflags = attr_to_ms(attrs);
    match attrs & MOUNT_ATTR__ATIME {
        MOUNT_ATTR_STRICTATIME => mflags |= MS_STRICTATIME,
        MOUNT_ATTR_RELATIME => mflags |= MS_RELATIME,
        MOUNT_ATTR_NOATIME => mflags |= MS_NOATIME,
        _ => return Err(Errno::EINVAL),
    }
    let file = t.file(fd)?;
    let cf = context(&file)?;
    let mut ctx = lock(&cf.ctx);
    let Some(made) = &ctx.made else {
        return Err(Errno::EINVAL);
    };
    if ctx.phase != Phase::AwaitingMount {
        return Err(Errno::EBUSY);
    }
    let root = made.fs.root();
    let m = Mount::new(
        made.fs.clone(),
        root.clone(),
        "/",
        made.source.clone(),
        mflags,
    );
    *lock(&m.options) = made.options.clone();
    ctx.phase = Phase::AwaitingReconf;
    drop(ctx);
    detached_fd(
        t,
        root,
        vec![(String::new(), m)],
        flags & FSMOUNT_CLOEXEC != 0,
    )
}

fn detached_fd(t: &Task, root: Arc<dyn Inode>, tree: Tree, cloexec: bool) -> SysResult {
    use std::sync::atomic::Ordering;
    let n = tree.len();
    if DETACHED.fetch_add(n, Ordering::Relaxed) + n > crate::vfs::mount::MOUNT_MAX {
        DETACHED.fetch_sub(n, Ordering::Relaxed);
        return Err(Errno::ENOSPC);
    }
    let top = tree[0].1.clone();
    let ops = MountFd {
        root: root.clone(),
        id: top.unique_id,
        tree: Mutex::new(Some(tree)),
    };
    let path = detached_path(top.unique_id);
    let file = File::open_inode(Box::new(ops), O_PATH, path, root, top);
    install(t, file, cloexec)
}

/// What a path argument of these calls names.
struct Target {
    /// The absolute path (meaningless for a detached mount).
    path: String,
    /// The mount it is on.
    mount: Arc<Mount>,
    inode: Arc<dyn Inode>,
    /// Whether it is that mount's root.
    is_root: bool,
    /// The descriptor of a detached mount it is (the root of).
    detached: Option<Arc<File>>,
}

/// Resolves `dirfd` + `path` as user_path_at does: an empty path names `dirfd` itself when
/// `empty` allows it (ENOENT otherwise).
fn lookup(t: &Task, dirfd: i32, addr: u64, follow: bool, empty: bool) -> Result<Target, Errno> {
    let path = t.read_path(addr)?;
    if path.is_empty() {
        if !empty {
            return Err(Errno::ENOENT);
        }
        if dirfd != AT_FDCWD {
            let f = t.file(dirfd)?;
            let (Some(inode), Some(mount)) = (f.inode.clone(), f.mount.clone()) else {
                // Pipes, sockets, anonymous files: no mount to act on.
                return Err(Errno::EINVAL);
            };
            let is_root = Arc::ptr_eq(&inode, &mount.root);
            let detached = mount_fd(&f).and_then(|m| {
                let attached = lock(&m.tree).is_none();
                (!attached).then(|| f.clone())
            });
            return Ok(Target {
                path: f.path.clone(),
                mount,
                inode,
                is_root,
                detached,
            });
        }
        return lookup(t, AT_FDCWD, 0, follow, false).or_else(|_| {
            let r = walk_at(t, AT_FDCWD, b".", true)?;
            from_resolved(r)
        });
    }
    let r = walk_at(t, dirfd, &path, follow)?;
    let mut tg = from_resolved(r)?;
    if dirfd != AT_FDCWD && path.first() != Some(&b'/') {
        // A walk from a detached mount's descriptor that ends at its root.
        if let Ok(f) = t.file(dirfd) {
            if let Some(m) = mount_fd(&f) {
                if lock(&m.tree).is_some() && tg.mount.unique_id == m.id && tg.is_root {
                    tg.detached = Some(f.clone());
                }
            }
        }
    }
    Ok(tg)
}

fn from_resolved(r: crate::vfs::path::Resolved) -> Result<Target, Errno> {
    let inode = r.inode.clone().ok_or(Errno::ENOENT)?;
    Ok(Target {
        path: r.path.clone(),
        mount: r.mount.clone(),
        inode,
        is_root: r.is_mount_root,
        detached: None,
    })
}

fn join(base: &str, rel: &str) -> String {
    match (base, rel) {
        (b, "") => b.to_string(),
        ("/", r) => r.to_string(),
        (b, r) => format!("{b}{r}"),
    }
}

/// Implements move_mount(2).
pub fn sys_move_mount(t: &mut Task) -> SysResult {
    let (from_fd, from_path, to_fd, to_path, flags) = (
        fd_arg(t, 0),
        t.arg(1),
        fd_arg(t, 2),
        t.arg(3),
        t.arg(4) as u32,
    );
    cap_admin(t)?;
    if flags & !MOVE_MOUNT__MASK != 0 {
        return Err(Errno::EINVAL);
    }
    let beneath = flags & MOVE_MOUNT_BENEATH != 0;
    if beneath && flags & MOVE_MOUNT_SET_GROUP != 0 {
        return Err(Errno::EINVAL);
    }
    let from = lookup(
        t,
        from_fd,
        from_path,
        flags & MOVE_MOUNT_F_SYMLINKS != 0,
        flags & MOVE_MOUNT_F_EMPTY_PATH != 0,
    )?;
    let to = lookup(
        t,
        to_fd,
        to_path,
        flags & MOVE_MOUNT_T_SYMLINKS != 0,
        flags & MOVE_MOUNT_T_EMPTY_PATH != 0,
    )?;
    crate::kernel::landlock::check_mount(t)?;
    if to.detached.is_some() || is_detached_mount(&to) {
        // Attaching into another detached tree: not supported here.
        return Err(Errno::EINVAL);
    }
    let ns = t.mnt();
    if flags & MOVE_MOUNT_SET_GROUP != 0 {
        return set_group(&ns, &from, &to);
    }
    if !from.is_root {
        return Err(Errno::EINVAL);
    }
    let from_dir = from.inode.stat()?.st_mode & S_IFMT == S_IFDIR;
    let to_dir = to.inode.stat()?.st_mode & S_IFMT == S_IFDIR;
    if from_dir != to_dir {
        return Err(Errno::ENOTDIR);
    }
    if beneath && (!to.is_root || to.path == lock(&t.fs).root) {
        return Err(Errno::EINVAL);
    }
    if let Some(f) = &from.detached {
        let Some(mfd) = mount_fd(f) else {
            return Err(Errno::EINVAL);
        };
        let mut tree = lock(&mfd.tree);
        let Some(list) = tree.take() else {
            return Err(Errno::EINVAL);
        };
        let mut table = ns.write();
        if let Err(e) = table.room_for(list.len()) {
            drop(table);
            *tree = Some(list);
            return Err(e);
        }
        DETACHED.fetch_sub(list.len(), std::sync::atomic::Ordering::Relaxed);
        for (i, (rel, m)) in list.iter().enumerate() {
            let at = m.moved_to(&join(&to.path, rel));
            if i == 0 && beneath {
                if let Err(e) = table.add_beneath(at) {
                    drop(table);
                    DETACHED.fetch_add(list.len(), std::sync::atomic::Ordering::Relaxed);
                    *tree = Some(list);
                    return Err(e);
                }
            } else {
                table.add(at);
            }
        }
        return Ok(0);
    }
    // An attached mount: it must be the caller's namespace's.
    let mut table = ns.write();
    if table.by_unique_id(from.mount.unique_id).is_none() {
        return Err(Errno::EINVAL);
    }
    if beneath {
        // Moving an attached mount beneath another is not supported here.
        return Err(Errno::EINVAL);
    }
    if from.path == to.path {
        return Ok(0);
    }
    table.move_mount(&from.path, &to.path).map(|_| 0)
}

/// Whether a target lies in a detached tree (its mount is no mount of a namespace table).
fn is_detached_mount(tg: &Target) -> bool {
    tg.path.len() > 256 && tg.path.contains(&"_".repeat(256))
}

/// MOVE_MOUNT_SET_GROUP: `to` joins `from`'s peer group (both mount roots of this namespace).
fn set_group(ns: &MountNs, from: &Target, to: &Target) -> SysResult {
    if from.detached.is_some() || !from.is_root || !to.is_root {
        return Err(Errno::EINVAL);
    }
    let table = ns.read();
    if table.by_unique_id(from.mount.unique_id).is_none()
        || table.by_unique_id(to.mount.unique_id).is_none()
    {
        return Err(Errno::EINVAL);
    }
    let mut p = to.mount.propagation();
    let fp = from.mount.propagation();
    if fp.group == 0 && fp.master == 0 {
        return Err(Errno::EINVAL);
    }
    if fp.master != 0 {
        p.master = fp.master;
    }
    if fp.group != 0 {
        p.group = fp.group;
    }
    to.mount.set_propagation(p);
    Ok(0)
}

/// Implements open_tree(2).
pub fn sys_open_tree(t: &mut Task) -> SysResult {
    let (dirfd, path, flags) = (fd_arg(t, 0), t.arg(1), t.arg(2) as u32);
    open_tree(t, dirfd, path, flags).map(|(fd, _)| fd)
}

/// open_tree's work; also returns the detached tree's descriptor for open_tree_attr.
fn open_tree(t: &Task, dirfd: i32, path: u64, flags: u32) -> Result<(u64, Arc<File>), Errno> {
    let valid = AT_EMPTY_PATH
        | AT_NO_AUTOMOUNT
        | AT_RECURSIVE
        | AT_SYMLINK_NOFOLLOW
        | OPEN_TREE_CLONE
        | OPEN_TREE_CLOEXEC;
    if flags & !valid != 0 {
        return Err(Errno::EINVAL);
    }
    let clone = flags & OPEN_TREE_CLONE != 0;
    if flags & AT_RECURSIVE != 0 && !clone {
        return Err(Errno::EINVAL);
    }
    if clone {
        cap_admin(t)?;
    }
    let tg = lookup(
        t,
        dirfd,
        path,
        flags & AT_SYMLINK_NOFOLLOW == 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    let cloexec = flags & OPEN_TREE_CLOEXEC != 0;
    if !clone {
        let file = File::open_inode(
            Box::new(PathFd(tg.inode.clone())),
            O_PATH,
            tg.path.clone(),
            tg.inode.clone(),
            tg.mount.clone(),
        );
        let fd = install(t, file.clone(), cloexec)?;
        return Ok((fd, file));
    }
    if tg.detached.is_some() || is_detached_mount(&tg) {
        return Err(Errno::EINVAL);
    }
    if tg.mount.propagation().unbindable {
        return Err(Errno::EINVAL);
    }
    let ns = t.mnt();
    let table = ns.read();
    if table.by_unique_id(tg.mount.unique_id).is_none() {
        return Err(Errno::EINVAL);
    }
    let root_path = join_root(&tg.mount, &tg.path);
    let top = clone_mount(&tg.mount, tg.inode.clone(), "/", &root_path);
    let mut tree = vec![(String::new(), top)];
    if flags & AT_RECURSIVE != 0 {
        for m in table.list() {
            if m.point != tg.path && is_under(&m.point, &tg.path) {
                if m.propagation().unbindable {
                    continue;
                }
                let rel = if tg.path == "/" {
                    m.point.clone()
                } else {
                    m.point[tg.path.len()..].to_string()
                };
                let c = clone_mount(&m, m.root.clone(), &rel, m.root_path());
                tree.push((rel, c));
            }
        }
    }
    drop(table);
    let fd = detached_fd(t, tg.inode.clone(), tree, cloexec)?;
    let file = t.file(fd as i32)?;
    Ok((fd, file))
}

/// The path in its file system of `path` (on mount `m`).
fn join_root(m: &Mount, path: &str) -> String {
    let rel = if m.point == "/" {
        path.to_string()
    } else {
        path.strip_prefix(m.point.as_str())
            .unwrap_or("")
            .to_string()
    };
    let base = m.root_path();
    let joined = join(base, &rel);
    if joined.is_empty() {
        "/".to_string()
    } else {
        joined
    }
}

/// What a bind mount `new` of the directory at `path` (on mount `src`) takes from its source
/// (mount(2) MS_BIND, as clone_mnt): the subtree's path in the file system, and the source's
/// peer group and master.
pub(super) fn bound_from(new: &Mount, src: &Mount, path: &str) {
    let root = join_root(src, path);
    if root != "/" {
        let _ = new.fs_root.set(root);
    }
    let p = src.propagation();
    new.set_propagation(crate::vfs::mount::Propagation {
        unbindable: false,
        ..p
    });
}

/// A copy of `m` (a bind mount of `root`, its directory `root_path` in the file system) at
/// `point`, with the same flags, options and source.
fn clone_mount(m: &Mount, root: Arc<dyn Inode>, point: &str, root_path: &str) -> Arc<Mount> {
    let c = Mount::new(
        m.fs.clone(),
        root,
        if point.is_empty() { "/" } else { point },
        m.source.clone(),
        m.flags(),
    );
    *lock(&c.options) = lock(&m.options).clone();
    if root_path != "/" {
        let _ = c.fs_root.set(root_path.to_string());
    }
    c
}

/// A mount_setattr(2) request, checked (build_mount_kattr).
struct Setattr {
    set: u64,
    clr: u64,
    propagation: u64,
}

/// Reads and checks a `struct mount_attr` of `size` bytes: Ok(None) for a request that
/// changes nothing.
fn read_mount_attr(t: &Task, addr: u64, size: u64) -> Result<Option<Setattr>, Errno> {
    if size > PAGE {
        return Err(Errno::E2BIG);
    }
    if size < MOUNT_ATTR_SIZE_VER0 as u64 {
        return Err(Errno::EINVAL);
    }
    cap_admin(t)?;
    let mut raw = vec![0u8; size as usize];
    t.copy_in(addr, &mut raw)?;
    if raw[MOUNT_ATTR_SIZE_VER0..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(b)
    };
    let attr = MountAttr {
        attr_set: word(0),
        attr_clr: word(1),
        propagation: word(2),
        userns_fd: word(3),
    };
    if attr.attr_set == 0 && attr.attr_clr == 0 && attr.propagation == 0 {
        return Ok(None);
    }
    if !matches!(
        attr.propagation,
        0 | MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED
    ) {
        return Err(Errno::EINVAL);
    }
    let valid = MOUNT_ATTR_RDONLY
        | MOUNT_ATTR_NOSUID
        | MOUNT_ATTR_NODEV
        | MOUNT_ATTR_NOEXEC
        | MOUNT_ATTR__ATIME
        | MOUNT_ATTR_NODIRATIME
        | MOUNT_ATTR_IDMAP
        | MOUNT_ATTR_NOSYMFOLLOW;
    if attr.attr_set & !valid != 0 || attr.attr_clr & !valid != 0 {
        return Err(Errno::EINVAL);
    }
    let mut set = attr_to_ms(attr.attr_set);
    let mut clr = attr_to_ms(attr.attr_clr);
    if attr.attr_clr & MOUNT_ATTR__ATIME != 0 {
        if attr.attr_clr & MOUNT_ATTR__ATIME != MOUNT_ATTR__ATIME {
            return Err(Errno::EINVAL);
        }
        clr |= MS_RELATIME | MS_NOATIME | MS_STRICTATIME;
        match attr.attr_set & MOUNT_ATTR__ATIME {
            MOUNT_ATTR_RELATIME => set |= MS_RELATIME,
            MOUNT_ATTR_NOATIME => set |= MS_NOATIME,
            MOUNT_ATTR_STRICTATIME => set |= MS_STRICTATIME,
            _ => return Err(Errno::EINVAL),
        }
    } else if attr.attr_set & MOUNT_ATTR__ATIME != 0 {
        return Err(Errno::EINVAL);
    }
    if (attr.attr_set | attr.attr_clr) & MOUNT_ATTR_IDMAP != 0 {
        // build_mount_idmapped: the sandbox has no user namespace to map through.
        if attr.attr_clr & MOUNT_ATTR_IDMAP != 0 || attr.userns_fd > i32::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        t.file(attr.userns_fd as i32)?;
        return Err(Errno::EINVAL);
    }
    Ok(Some(Setattr {
        set,
        clr,
        propagation: attr.propagation,
    }))
}

/// Applies a request to the mount at `tg` (and, `recursive`, every mount below it).
fn apply_setattr(t: &Task, tg: &Target, req: &Setattr, recursive: bool) -> Result<(), Errno> {
    if !tg.is_root {
        return Err(Errno::EINVAL);
    }
    let change = |m: &Mount| {
        if req.set != 0 || req.clr != 0 {
            m.set_flags((m.flags() & !req.clr) | req.set);
        }
        if req.propagation != 0 {
            m.change_propagation(req.propagation);
        }
    };
    if let Some(f) = &tg.detached {
        let mfd = mount_fd(f).ok_or(Errno::EINVAL)?;
        let tree = lock(&mfd.tree);
        if let Some(list) = tree.as_ref() {
            for (i, (_, m)) in list.iter().enumerate() {
                if i == 0 || recursive {
                    change(m);
                }
            }
        }
        return Ok(());
    }
    if is_detached_mount(tg) {
        return Err(Errno::EINVAL);
    }
    let ns = t.mnt();
    let table = ns.read();
    let m = table
        .by_unique_id(tg.mount.unique_id)
        .ok_or(Errno::EINVAL)?;
    change(&m);
    if recursive {
        for below in table.list() {
            if below.point != m.point && is_under(&below.point, &m.point) {
                change(&below);
            }
        }
    }
    Ok(())
}

/// Implements mount_setattr(2).
pub fn sys_mount_setattr(t: &mut Task) -> SysResult {
    let (dirfd, path, flags, uattr, usize) =
        (fd_arg(t, 0), t.arg(1), t.arg(2) as u32, t.arg(3), t.arg(4));
    if flags & !(AT_EMPTY_PATH | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let Some(req) = read_mount_attr(t, uattr, usize)? else {
        return Ok(0);
    };
    let tg = lookup(
        t,
        dirfd,
        path,
        flags & AT_SYMLINK_NOFOLLOW == 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    apply_setattr(t, &tg, &req, flags & AT_RECURSIVE != 0).map(|_| 0)
}

/// Implements open_tree_attr(2) (Linux 6.15): open_tree, then mount_setattr on the clone.
pub fn sys_open_tree_attr(t: &mut Task) -> SysResult {
    let (dirfd, path, flags, uattr, usize) =
        (fd_arg(t, 0), t.arg(1), t.arg(2) as u32, t.arg(3), t.arg(4));
    if uattr == 0 && usize != 0 {
        return Err(Errno::EINVAL);
    }
    let req = if uattr != 0 {
        if flags & OPEN_TREE_CLONE == 0 {
            return Err(Errno::EINVAL);
        }
        read_mount_attr(t, uattr, usize)?
    } else {
        None
    };
    let (fd, file) = open_tree(t, dirfd, path, flags)?;
    if let Some(req) = req {
        let tg = Target {
            path: file.path.clone(),
            mount: file.mount.clone().ok_or(Errno::EINVAL)?,
            inode: file.inode.clone().ok_or(Errno::EINVAL)?,
            is_root: true,
            detached: Some(file.clone()),
        };
        if let Err(e) = apply_setattr(t, &tg, &req, flags & AT_RECURSIVE != 0) {
            let _ = t.fds().remove(fd as i32);
            return Err(e);
        }
    }
    Ok(fd)
}

/// Reads a `struct mnt_id_req` (copy_mnt_id_req) and finds the namespace it names.
fn read_id_req(t: &Task, addr: u64) -> Result<MntIdReq, Errno> {
    let mut sz = [0u8; 4];
    t.copy_in(addr, &mut sz)?;
    let size = u32::from_ne_bytes(sz);
    if u64::from(size) > PAGE {
        return Err(Errno::E2BIG);
    }
    if size < MNT_ID_REQ_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; size as usize];
    t.copy_in(addr, &mut raw)?;
    let known = MNT_ID_REQ_SIZE_VER1 as usize;
    if raw.len() > known && raw[known..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let mut buf = [0u8; 32];
    let n = raw.len().min(known);
    buf[..n].copy_from_slice(&raw[..n]);
    let mut req = MntIdReq::default();
    syscalls::bytes_of_mut(&mut req).copy_from_slice(&buf);
    if req.mnt_ns_fd != 0 && req.mnt_ns_id != 0 {
        return Err(Errno::EINVAL);
    }
    if req.mnt_id <= MNT_UNIQUE_ID_OFFSET {
        return Err(Errno::EINVAL);
    }
    Ok(req)
}

/// The namespace a request names: the caller's, or by id (ENOENT for another), or by a
/// namespace fd (the sandbox has none to open: EBADF for a bad fd, else EINVAL).
fn requested_ns(t: &Task, req: &MntIdReq) -> Result<Arc<MountNs>, Errno> {
    let ns = t.mnt();
    if req.mnt_ns_fd != 0 {
        t.file(req.mnt_ns_fd as i32)?;
        return Err(Errno::EINVAL);
    }
    if req.mnt_ns_id != 0 && req.mnt_ns_id != ns.id {
        return Err(Errno::ENOENT);
    }
    Ok(ns)
}

/// Whether a mount at `point` can be reached from the task's root.
fn reachable(t: &Task, point: &str) -> bool {
    let root = lock(&t.fs).root.clone();
    is_under(point, &root)
}

/// Implements statmount(2).
pub fn sys_statmount(t: &mut Task) -> SysResult {
    let (req, buf, bufsize, flags) = (t.arg(0), t.arg(1), t.arg(2), t.arg(3) as u32);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let req = read_id_req(t, req)?;
    let ns = requested_ns(t, &req)?;
    let sm_size = std::mem::size_of::<Statmount>() as u64;
    let mask = req.param;
    let strings = STATMOUNT_MNT_ROOT
        | STATMOUNT_MNT_POINT
        | STATMOUNT_FS_TYPE
        | STATMOUNT_MNT_OPTS
        | STATMOUNT_FS_SUBTYPE
        | STATMOUNT_SB_SOURCE
        | STATMOUNT_OPT_ARRAY
        | STATMOUNT_OPT_SEC_ARRAY
        | STATMOUNT_MNT_UIDMAP
        | STATMOUNT_MNT_GIDMAP;
    if mask & strings != 0 && bufsize == sm_size {
        return Err(Errno::EOVERFLOW);
    }
    let table = ns.read();
    let m = table.by_unique_id(req.mnt_id).ok_or(Errno::ENOENT)?;
    if !reachable(t, &m.point) && !capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let parent = table.parent_of(&m).unwrap_or_else(|| m.clone());
    drop(table);
    let mut sm = Statmount::zeroed();
    let mut strs: Vec<u8> = Vec::new();
    let st = m.root.stat()?;
    if mask & STATMOUNT_SB_BASIC != 0 {
        sm.mask |= STATMOUNT_SB_BASIC;
        let (maj, min) = dev_split(st.st_dev);
        sm.sb_dev_major = maj;
        sm.sb_dev_minor = min;
        sm.sb_magic = m.fs.statfs().map(|s| s.f_type as u64).unwrap_or(0);
        let mut f = crate::vfs::mount::sb_flags(&m.fs) as u32;
        if sb_read_only(&m.fs) {
            f |= MS_RDONLY as u32;
        }
        sm.sb_flags = f;
    }
    let p = m.propagation();
    if mask & STATMOUNT_MNT_BASIC != 0 {
        sm.mask |= STATMOUNT_MNT_BASIC;
        sm.mnt_id = m.unique_id;
        sm.mnt_parent_id = parent.unique_id;
        sm.mnt_id_old = m.id;
        sm.mnt_parent_id_old = parent.id;
        sm.mnt_attr = ms_to_attr(m.flags());
        let mut prop = 0;
        if p.group != 0 {
            prop |= MS_SHARED;
        }
        if p.master != 0 {
            prop |= MS_SLAVE;
        }
        if p.unbindable {
            prop |= MS_UNBINDABLE;
        }
        if prop == 0 {
            prop = MS_PRIVATE;
        }
        sm.mnt_propagation = prop;
        sm.mnt_peer_group = u64::from(p.group);
        sm.mnt_master = u64::from(p.master);
    }
    if mask & STATMOUNT_PROPAGATE_FROM != 0 {
        sm.mask |= STATMOUNT_PROPAGATE_FROM;
        sm.propagate_from = u64::from(p.master);
    }
    // The strings, in the order Linux adds them; an empty one is left out.
    let opts = lock(&m.options).clone();
    let point = {
        let fs = lock(&t.fs);
        fs.visible(&m.point).unwrap_or_else(|| m.point.clone())
    };
    let items: [(u64, String); 6] = [
        (STATMOUNT_FS_TYPE, m.fs.name().to_string()),
        (STATMOUNT_MNT_ROOT, m.root_path().to_string()),
        (STATMOUNT_MNT_POINT, point),
        (STATMOUNT_MNT_OPTS, opts.clone()),
        (
            STATMOUNT_OPT_ARRAY,
            opts.split(',')
                .filter(|o| !o.is_empty())
                .collect::<Vec<_>>()
                .join("\0"),
        ),
        (STATMOUNT_SB_SOURCE, m.source.clone()),
    ];
    for (bit, s) in items {
        if mask & bit == 0 {
            continue;
        }
        if strs.is_empty() {
            // Offset 0 is an empty string, for the fields left unset.
            strs.push(0);
        }
        let start = strs.len() as u32;
        strs.extend_from_slice(s.as_bytes());
        if sm_size + strs.len() as u64 >= bufsize {
            return Err(Errno::EOVERFLOW);
        }
        if strs.len() as u32 == start {
            continue;
        }
        strs.push(0);
        sm.mask |= bit;
        match bit {
            STATMOUNT_FS_TYPE => sm.fs_type = start,
            STATMOUNT_MNT_ROOT => sm.mnt_root = start,
            STATMOUNT_MNT_POINT => sm.mnt_point = start,
            STATMOUNT_MNT_OPTS => sm.mnt_opts = start,
            STATMOUNT_OPT_ARRAY => {
                sm.opt_array = start;
                sm.opt_num = opts.split(',').filter(|o| !o.is_empty()).count() as u32;
            }
            _ => sm.sb_source = start,
        }
    }
    if mask & STATMOUNT_MNT_NS_ID != 0 {
        sm.mask |= STATMOUNT_MNT_NS_ID;
        sm.mnt_ns_id = ns.id;
    }
    if mask & STATMOUNT_SUPPORTED_MASK != 0 {
        sm.mask |= STATMOUNT_SUPPORTED_MASK;
        sm.supported_mask = STATMOUNT_SB_BASIC
            | STATMOUNT_MNT_BASIC
            | STATMOUNT_PROPAGATE_FROM
            | STATMOUNT_MNT_ROOT
            | STATMOUNT_MNT_POINT
            | STATMOUNT_FS_TYPE
            | STATMOUNT_MNT_NS_ID
            | STATMOUNT_MNT_OPTS
            | STATMOUNT_FS_SUBTYPE
            | STATMOUNT_SB_SOURCE
            | STATMOUNT_OPT_ARRAY
            | STATMOUNT_OPT_SEC_ARRAY
            | STATMOUNT_SUPPORTED_MASK;
    }
    if !strs.is_empty() {
        t.copy_out(buf + sm_size, &strs)?;
    }
    let copysize = bufsize.min(sm_size);
    sm.size = (copysize + strs.len() as u64) as u32;
    t.copy_out(buf, &syscalls::bytes_of(&sm)[..copysize as usize])?;
    Ok(0)
}

/// Implements listmount(2): the unique ids of the mounts below a mount (or the caller's
/// root), in id order (newest first with LISTMOUNT_REVERSE), after `param`'s id.
pub fn sys_listmount(t: &mut Task) -> SysResult {
    let (req, ids, nr, flags) = (t.arg(0), t.arg(1), t.arg(2), t.arg(3) as u32);
    const MAX: u64 = 1_000_000;
    if flags & !LISTMOUNT_REVERSE != 0 {
        return Err(Errno::EINVAL);
    }
    if nr > MAX {
        return Err(Errno::EOVERFLOW);
    }
    let req = read_id_req(t, req)?;
    if req.param != 0 && req.param <= MNT_UNIQUE_ID_OFFSET {
        return Err(Errno::EINVAL);
    }
    let ns = requested_ns(t, &req)?;
    let table = ns.read();
    let root = lock(&t.fs).root.clone();
    let (orig_point, skip) = if req.mnt_id == LSMT_ROOT {
        (root.clone(), None)
    } else {
        let m = table.by_unique_id(req.mnt_id).ok_or(Errno::ENOENT)?;
        (m.point.clone(), Some(m.unique_id))
    };
    if !is_under(&orig_point, &root) && !capable(t, CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let mut all: Vec<Arc<Mount>> = table
        .list()
        .into_iter()
        .filter(|m| Some(m.unique_id) != skip && is_under(&m.point, &orig_point))
        .collect();
    drop(table);
    all.sort_by_key(|m| m.unique_id);
    let reverse = flags & LISTMOUNT_REVERSE != 0;
    if reverse {
        all.reverse();
    }
    let last = req.param;
    let out: Vec<u64> = all
        .iter()
        .map(|m| m.unique_id)
        .filter(|&id| last == 0 || if reverse { id < last } else { id > last })
        .take(nr as usize)
        .collect();
    if out.is_empty() {
        return Ok(0);
    }
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_ne_bytes()).collect();
    t.copy_out(ids, &bytes)?;
    Ok(out.len() as u64)
}
