// SPDX-License-Identifier: Apache-2.0
//! Landlock (landlock(7); Linux's security/landlock/): restrictions a program puts on itself
//! and its descendants, enforced by the sentry on top of every other check (they only ever
//! take access away).
//!
//! A *ruleset* ([`Ruleset`], behind an anonymous fd) names the access rights it handles and
//! the rules that grant some of them: on a file hierarchy (path-beneath rules, keyed by the
//! file's (st_dev, st_ino) and pinning its inode so the number cannot be reused while a rule
//! names it, until its file system is unmounted) or on a TCP port. landlock_restrict_self(2) turns a snapshot of the ruleset into
//! one more *layer* of the task's [`Domain`], kept in its credentials: inherited by fork and
//! clone, kept across execve, at most 16 layers. An access is allowed when every layer that
//! handles it has a rule granting it on the object or one of its ancestors up to the real
//! root (mount points crossed, the directories they hide skipped), as fs.c's
//! `is_access_to_paths_allowed`. Scopes (abstract unix sockets, signals) deny reaching a
//! process outside the scoped layer's domain.
//!
//! The file system hooks are small calls from the VFS call sites (open, exec, mkdir/mknod/
//! symlink, unlink/rmdir, rename/link, truncate, ioctl, mount); network hooks from bind and
//! connect; scope hooks from kill and the abstract unix name look-up. Every rule in the sentry
//! counts against one bound ([`MAX_RULES`]), so rulesets cannot make the sentry allocate or pin
//! without limit.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use syscalls::abi::*;
use syscalls::Errno;

use super::{lock, Task};
use crate::vfs::path::Resolved;
use crate::vfs::{File, FileOps, Inode};

/// The Landlock ABI version served (Linux 6.15 to 6.18: ABI 7, with the audit flags of
/// landlock_restrict_self).
pub const ABI_VERSION: u64 = 7;
/// The errata fixed (LANDLOCK_CREATE_RULESET_ERRATA): TCP socket identification (1), scoped
/// signal handling (2) and the third one of Linux 6.18; the sentry has the fixed behaviours.
pub const ERRATA: u64 = 0b111;
/// The most layers a domain stacks (LANDLOCK_MAX_NUM_LAYERS).
pub const MAX_LAYERS: usize = 16;
/// Every file system access right of this ABI.
pub const MASK_ACCESS_FS: u64 = (LANDLOCK_ACCESS_FS_IOCTL_DEV << 1) - 1;
/// Every network access right.
pub const MASK_ACCESS_NET: u64 = (LANDLOCK_ACCESS_NET_CONNECT_TCP << 1) - 1;
/// Every scope.
pub const MASK_SCOPE: u64 = (LANDLOCK_SCOPE_SIGNAL << 1) - 1;
/// Every landlock_restrict_self flag.
pub const MASK_RESTRICT_SELF: u32 = LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF
    | LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON
    | LANDLOCK_RESTRICT_SELF_LOG_SUBDOMAINS_OFF;
/// The rights that make sense on a file that is not a directory.
pub const ACCESS_FILE: u64 = LANDLOCK_ACCESS_FS_EXECUTE
    | LANDLOCK_ACCESS_FS_WRITE_FILE
    | LANDLOCK_ACCESS_FS_READ_FILE
    | LANDLOCK_ACCESS_FS_TRUNCATE
    | LANDLOCK_ACCESS_FS_IOCTL_DEV;
/// Rules alive in the whole sentry, over every ruleset and layer (each pins an inode or
/// holds a port): beyond it adding a rule is ENOMEM, as Linux's memory accounting would be.
pub const MAX_RULES: usize = 1 << 16;

const NUM_FS: usize = 16;
const NUM_NET: usize = 2;

static LIVE_RULES: AtomicUsize = AtomicUsize::new(0);

fn charge(n: usize) -> Result<(), Errno> {
    LIVE_RULES
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
            cur.checked_add(n).filter(|v| *v <= MAX_RULES)
        })
        .map(drop)
        .map_err(|_| Errno::ENOMEM)
}

/// A file's identity for rules: (st_dev, st_ino).
type Key = (u64, u64);

/// A pinned inode: the file a path-beneath rule names, kept while a rule names it so its
/// number is not reused, and let go when its file system is unmounted (Linux's
/// `hook_sb_delete` releases Landlock's inodes likewise): its rules are then dead.
struct Pin {
    _inode: Arc<dyn Inode>,
    alive: Arc<AtomicBool>,
    refs: usize,
}

fn pins() -> std::sync::MutexGuard<'static, HashMap<Key, Pin>> {
    static PINS: OnceLock<Mutex<HashMap<Key, Pin>>> = OnceLock::new();
    lock(PINS.get_or_init(Default::default))
}

/// Takes one more reference on the pin of `key` (made for `inode` if there is none).
fn pin(key: Key, inode: &Arc<dyn Inode>) -> Arc<AtomicBool> {
    let mut p = pins();
    let e = p.entry(key).or_insert_with(|| Pin {
        _inode: inode.clone(),
        alive: Arc::new(AtomicBool::new(true)),
        refs: 0,
    });
    e.refs += 1;
    e.alive.clone()
}

/// Takes one more reference on a pin a rule holds already (a copy of the rule).
fn repin(key: Key, alive: &Arc<AtomicBool>) {
    if let Some(e) = pins()
        .get_mut(&key)
        .filter(|e| Arc::ptr_eq(&e.alive, alive))
    {
        e.refs += 1;
    }
}

/// Drops a rule's reference on its pin.
fn unpin(key: Key, alive: &Arc<AtomicBool>) {
    let mut p = pins();
    if let Some(e) = p.get_mut(&key).filter(|e| Arc::ptr_eq(&e.alive, alive)) {
        e.refs -= 1;
        if e.refs == 0 {
            p.remove(&key);
        }
    }
}

/// The file system with device number `dev` was unmounted: the inodes rules pinned on it go
/// (so it can be released now), and those rules never match again.
pub fn release_dev(dev: u64) {
    let gone: Vec<Pin> = {
        let mut p = pins();
        let keys: Vec<Key> = p.keys().filter(|k| k.0 == dev).copied().collect();
        keys.iter().filter_map(|k| p.remove(k)).collect()
    };
    for g in &gone {
        g.alive.store(false, Ordering::Release);
    }
    // The inodes are dropped here, outside the table's lock.
    drop(gone);
}

/// The rules of a ruleset or a layer.
#[derive(Default)]
struct Rules {
    /// Path-beneath rules: granted rights, and whether the pinned file is still there.
    fs: HashMap<Key, (u64, Arc<AtomicBool>)>,
    /// Port rules (host byte order): granted rights.
    net: HashMap<u16, u64>,
}

impl Rules {
    fn len(&self) -> usize {
        self.fs.len() + self.net.len()
    }

    fn try_clone(&self) -> Result<Rules, Errno> {
        charge(self.len())?;
        for (k, (_, alive)) in &self.fs {
            repin(*k, alive);
        }
        Ok(Rules {
            fs: self.fs.clone(),
            net: self.net.clone(),
        })
    }
}

impl Drop for Rules {
    fn drop(&mut self) {
        for (k, (_, alive)) in &self.fs {
            unpin(*k, alive);
        }
        LIVE_RULES.fetch_sub(self.len(), Ordering::AcqRel);
    }
}

/// What a ruleset (and the layer made of it) handles.
#[derive(Debug, Clone, Copy, Default)]
struct Handled {
    fs: u64,
    net: u64,
    scope: u64,
}

/// A ruleset: the object behind a landlock_create_ruleset(2) descriptor
/// (`anon_inode:[landlock-ruleset]`). Its rules are shared with the layers made of it until it
/// changes again.
pub struct Ruleset {
    ino: u64,
    handled: Handled,
    rules: Mutex<Arc<Rules>>,
}

impl FileOps for Ruleset {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(crate::vfs::inode::anon_stat(self.ino))
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl Ruleset {
    /// A ruleset handling these rights (landlock_create_ruleset checked them): ENOMSG when it
    /// handles nothing.
    pub fn new(ino: u64, fs: u64, net: u64, scope: u64) -> Result<Ruleset, Errno> {
        if fs == 0 && net == 0 && scope == 0 {
            return Err(Errno::ENOMSG);
        }
        Ok(Ruleset {
            ino,
            handled: Handled { fs, net, scope },
            rules: Mutex::new(Arc::new(Rules::default())),
        })
    }

    /// The ruleset a descriptor's file is (EBADFD for any other file).
    pub fn of(file: &File) -> Result<&Ruleset, Errno> {
        file.ops
            .as_any()
            .and_then(|a| a.downcast_ref::<Ruleset>())
            .ok_or(Errno::EBADFD)
    }

    fn edit<R>(&self, f: impl FnOnce(&mut Rules) -> Result<R, Errno>) -> Result<R, Errno> {
        let mut g = lock(&self.rules);
        if Arc::get_mut(&mut g).is_none() {
            // A layer shares these rules: it keeps them, the ruleset goes on with a copy.
            *g = Arc::new(g.try_clone()?);
        }
        f(Arc::get_mut(&mut g).ok_or(Errno::ENOMEM)?)
    }

    /// The rights of a path-beneath rule must be handled by the ruleset (EINVAL).
    pub fn add_path_rule_check(&self, access: u64) -> Result<(), Errno> {
        if access | self.handled.fs != self.handled.fs {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// landlock_add_rule(LANDLOCK_RULE_PATH_BENEATH) on `inode` (its stat `st`), after the
    /// syscall's checks on the attribute.
    pub fn add_path_rule(
        &self,
        inode: Arc<dyn Inode>,
        st: &Stat,
        access: u64,
    ) -> Result<(), Errno> {
        if access == 0 {
            return Err(Errno::ENOMSG);
        }
        if access | self.handled.fs != self.handled.fs {
            return Err(Errno::EINVAL);
        }
        if st.st_mode & S_IFMT != S_IFDIR && access | ACCESS_FILE != ACCESS_FILE {
            return Err(Errno::EINVAL);
        }
        self.edit(|r| {
            let key = (st.st_dev, st.st_ino);
            match r.fs.get_mut(&key) {
                Some(e) if e.1.load(Ordering::Acquire) => e.0 |= access,
                Some(e) => {
                    // A rule on an unmounted file: the new one takes its place.
                    let alive = pin(key, &inode);
                    unpin(key, &e.1);
                    *e = (access, alive);
                }
                None => {
                    charge(1)?;
                    r.fs.insert(key, (access, pin(key, &inode)));
                }
            }
            Ok(())
        })
    }

    /// landlock_add_rule(LANDLOCK_RULE_NET_PORT).
    pub fn add_port_rule(&self, port: u64, access: u64) -> Result<(), Errno> {
        if access == 0 {
            return Err(Errno::ENOMSG);
        }
        if access | self.handled.net != self.handled.net {
            return Err(Errno::EINVAL);
        }
        let port = u16::try_from(port).map_err(|_| Errno::EINVAL)?;
        self.edit(|r| {
            if let Some(e) = r.net.get_mut(&port) {
                *e |= access;
            } else {
                charge(1)?;
                r.net.insert(port, access);
            }
            Ok(())
        })
    }
}

/// One layer of a domain: a snapshot of a ruleset. Its identity (the `Arc`) is the domain
/// node scopes compare.
struct Layer {
    handled: Handled,
    rules: Arc<Rules>,
}

impl Layer {
    /// The file system rights the layer denies unless a rule grants them: the handled ones,
    /// and REFER whenever it handles any (denied by default, as for ABI 1 rulesets).
    fn fs_handled(&self) -> u64 {
        if self.handled.fs != 0 {
            self.handled.fs | LANDLOCK_ACCESS_FS_REFER
        } else {
            0
        }
    }
}

/// A task's Landlock domain: its stacked layers, oldest first.
pub struct Domain {
    layers: Vec<Arc<Layer>>,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Domain({} layers)", self.layers.len())
    }
}

/// landlock_restrict_self: `old` with one more layer made of `rs` (E2BIG past 16 layers).
pub fn merge(old: Option<&Arc<Domain>>, rs: &Ruleset) -> Result<Arc<Domain>, Errno> {
    let mut layers = old.map(|d| d.layers.clone()).unwrap_or_default();
    if layers.len() >= MAX_LAYERS {
        return Err(Errno::E2BIG);
    }
    layers.push(Arc::new(Layer {
        handled: rs.handled,
        rules: lock(&rs.rules).clone(),
    }));
    Ok(Arc::new(Domain { layers }))
}

type FsMasks = [u16; NUM_FS];

fn bits(mask: u64, n: usize) -> impl Iterator<Item = usize> {
    (0..n).filter(move |b| mask & (1 << b) != 0)
}

fn granted(m: &[u16], request: u64) -> bool {
    bits(request, m.len()).all(|b| m[b] == 0)
}

impl Domain {
    fn handles_fs(&self) -> bool {
        self.layers.iter().any(|l| l.handled.fs != 0)
    }

    fn fs_union(&self) -> u64 {
        self.layers.iter().fold(0, |a, l| a | l.fs_handled())
    }

    /// For each right of `request`, the layers denying it until a rule grants it.
    fn init_fs(&self, request: u64) -> FsMasks {
        let mut m = [0u16; NUM_FS];
        for (i, l) in self.layers.iter().enumerate() {
            for b in bits(l.fs_handled() & request, NUM_FS) {
                m[b] |= 1 << i;
            }
        }
        m
    }

    /// Applies the rules on `key` to `m` for `request`; whether all of `request` is granted.
    fn unmask_fs(&self, key: Option<Key>, request: u64, m: &mut FsMasks) -> bool {
        if let Some(key) = key {
            for (i, l) in self.layers.iter().enumerate() {
                if let Some((acc, alive)) = l.rules.fs.get(&key) {
                    if !alive.load(Ordering::Acquire) {
                        continue;
                    }
                    for b in bits(acc & request, NUM_FS) {
                        m[b] &= !(1 << i);
                    }
                }
            }
        }
        granted(m, request)
    }
}

/// A file on a walk from the root: its rule key and whether it is the root of its mount.
struct Node {
    key: Option<Key>,
    mount_root: bool,
    is_dir: bool,
}

/// The files from the real root down to `path` (absolute in the mount namespace); `None` for
/// a file outside any hierarchy (pipes, sockets, anonymous files: Landlock lets them be, as it
/// does pseudo file systems). A path that no longer leads anywhere (a removed file) gives the
/// ancestry of its nearest existing ancestor: rules on the file itself are then not seen, which
/// only ever denies more.
fn chain(t: &Task, path: &str) -> Option<Vec<Node>> {
    if !path.starts_with('/') {
        return None;
    }
    let mnt = t.mnt();
    let mounts = mnt.read();
    let mut p = path;
    let found = loop {
        if let Ok(a) = crate::vfs::path::ancestry(&mounts, p) {
            break a;
        }
        match p.rfind('/') {
            Some(0) if p.len() > 1 => p = "/",
            Some(i) if i > 0 => p = &p[..i],
            _ => return Some(Vec::new()),
        }
    };
    let mut out = Vec::with_capacity(found.len());
    let mut prev: Option<Arc<crate::vfs::Mount>> = None;
    for (mount, inode, st) in found {
        let st = st.map(Ok).unwrap_or_else(|| inode.stat()).ok();
        out.push(Node {
            key: st.map(|s| (s.st_dev, s.st_ino)),
            mount_root: prev.as_ref().is_none_or(|m| !Arc::ptr_eq(m, &mount)),
            is_dir: st.is_some_and(|s| s.st_mode & S_IFMT == S_IFDIR),
        });
        prev = Some(mount);
    }
    Some(out)
}

/// Walks `nodes` from the last up to the root, granting what rules grant; whether `request`
/// is all granted (fs.c `is_access_to_paths_allowed` for one path).
fn walk_grants(dom: &Domain, nodes: &[Node], request: u64, m: &mut FsMasks) -> bool {
    if granted(m, request) {
        return true;
    }
    nodes.iter().rev().any(|n| dom.unmask_fs(n.key, request, m))
}

/// The task's domain when it handles some file system right.
fn fs_domain(t: &Task) -> Option<&Domain> {
    t.creds.landlock.as_deref().filter(|d| d.handles_fs())
}

/// Checks `access` on the file at `path` (absolute in the mount namespace): EACCES when some
/// layer handles a right of it that no rule grants there.
pub fn check_path(t: &Task, path: &str, access: u64) -> Result<(), Errno> {
    let Some(dom) = fs_domain(t) else {
        return Ok(());
    };
    let Some(nodes) = chain(t, path) else {
        return Ok(());
    };
    let mut m = dom.init_fs(access);
    if walk_grants(dom, &nodes, access, &mut m) {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// The path of the directory holding `path`'s last component.
fn parent_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Checks `access` (a MAKE_* or REMOVE_* right) on the directory holding `r`'s last component.
pub fn check_in_dir(t: &Task, r: &Resolved, access: u64) -> Result<(), Errno> {
    if fs_domain(t).is_none() {
        return Ok(());
    }
    check_path(t, parent_path(&r.path), access)
}

/// The MAKE_* right a file of mode `mode` takes (fs.c `get_mode_access`).
pub fn make_access(mode: u32) -> u64 {
    match mode & S_IFMT {
        S_IFLNK => LANDLOCK_ACCESS_FS_MAKE_SYM,
        S_IFDIR => LANDLOCK_ACCESS_FS_MAKE_DIR,
        S_IFCHR => LANDLOCK_ACCESS_FS_MAKE_CHAR,
        S_IFBLK => LANDLOCK_ACCESS_FS_MAKE_BLOCK,
        S_IFIFO => LANDLOCK_ACCESS_FS_MAKE_FIFO,
        S_IFSOCK => LANDLOCK_ACCESS_FS_MAKE_SOCK,
        _ => LANDLOCK_ACCESS_FS_MAKE_REG,
    }
}

fn remove_access(mode: u32) -> u64 {
    if mode & S_IFMT == S_IFDIR {
        LANDLOCK_ACCESS_FS_REMOVE_DIR
    } else {
        LANDLOCK_ACCESS_FS_REMOVE_FILE
    }
}

/// The open check (fs.c `hook_file_open`) of the file at `path` with mode `mode`, opened for
/// reading, writing and/or exec: EACCES when refused; else the optional rights (TRUNCATE,
/// IOCTL_DEV) the description is denied, for [`File::landlock_denied`].
///
/// `key` is the file's (st_dev, st_ino) when known: a path that no longer leads to that file
/// (a handle's or a descriptor's old path) grants nothing.
pub fn check_open(
    t: &Task,
    path: &str,
    mode: u32,
    key: Option<(u64, u64)>,
    read: bool,
    write: bool,
) -> Result<u64, Errno> {
    let Some(dom) = fs_domain(t) else {
        return Ok(0);
    };
    let Some(mut nodes) = chain(t, path) else {
        return Ok(0);
    };
    if key.is_some() && nodes.last().and_then(|n| n.key) != key {
        nodes.clear();
    }
    let fmt = mode & S_IFMT;
    let mut open = 0;
    if read {
        open |= if fmt == S_IFDIR {
            LANDLOCK_ACCESS_FS_READ_DIR
        } else {
            LANDLOCK_ACCESS_FS_READ_FILE
        };
    }
    if write && fmt != S_IFDIR {
        open |= LANDLOCK_ACCESS_FS_WRITE_FILE;
    }
    let mut optional = LANDLOCK_ACCESS_FS_TRUNCATE;
    if matches!(fmt, S_IFCHR | S_IFBLK) {
        optional |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    }
    let full = open | optional;
    let mut m = dom.init_fs(full);
    walk_grants(dom, &nodes, full, &mut m);
    let allowed = bits(full, NUM_FS)
        .filter(|b| m[*b] == 0)
        .fold(0, |a, b| a | 1 << b);
    if open & allowed != open {
        return Err(Errno::EACCES);
    }
    Ok(optional & !allowed)
}

/// ftruncate(2) on `file` (fs.c `hook_file_truncate`): the right was decided at open.
pub fn check_file_truncate(file: &File) -> Result<(), Errno> {
    if file.landlock_denied() & LANDLOCK_ACCESS_FS_TRUNCATE != 0 {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// ioctl(2) request `req` on `file` (fs.c `hook_file_ioctl`): a device opened without
/// IOCTL_DEV takes only the requests that do not reach the device.
pub fn check_ioctl(file: &File, req: u32) -> Result<(), Errno> {
    if file.landlock_denied() & LANDLOCK_ACCESS_FS_IOCTL_DEV == 0 {
        return Ok(());
    }
    let dev = file
        .stat()
        .is_ok_and(|s| matches!(s.st_mode & S_IFMT, S_IFCHR | S_IFBLK));
    let masked = matches!(
        req,
        FIOCLEX
            | FIONCLEX
            | FIONBIO
            | FIOASYNC
            | FIOQSIZE
            | FIFREEZE
            | FITHAW
            | FS_IOC_FIEMAP
            | FIGETBSZ
            | FICLONE
            | FICLONERANGE
            | FIDEDUPERANGE
            | FS_IOC_GETFSUUID
            | FS_IOC_GETFSSYSFSPATH
    );
    if !dev || masked {
        return Ok(());
    }
    Err(Errno::EACCES)
}

/// mount, umount, remount, pivot_root and move_mount: EPERM for a task whose domain handles
/// file system rights (a new mount would change what its rules mean).
pub fn check_mount(t: &Task) -> Result<(), Errno> {
    if fs_domain(t).is_some() {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// Walks `nodes` up from the last one to the root of its mount, granting every handled right
/// that rules grant; whether all are granted (fs.c `collect_domain_accesses`).
fn collect(dom: &Domain, nodes: &[Node], m: &mut FsMasks) -> bool {
    let all = MASK_ACCESS_FS;
    *m = dom.init_fs(all);
    for n in nodes.iter().rev() {
        if dom.unmask_fs(n.key, all, m) {
            return true;
        }
        if n.mount_root {
            break;
        }
    }
    false
}

/// Whether moving a file with child masks `c1` from under `p1` to under `p2` (and for an
/// exchange the other way) gives it no right it did not have (fs.c `no_more_access`).
fn no_more_access(
    p1: &FsMasks,
    c1: &FsMasks,
    c1_dir: bool,
    p2: &FsMasks,
    c2: Option<(&FsMasks, bool)>,
) -> bool {
    for b in 0..NUM_FS {
        let file_access = ACCESS_FILE & (1 << b) != 0;
        if (c1_dir || file_access) && ((p1[b] & c1[b]) | p2[b]) != p2[b] {
            return false;
        }
        if let Some((c2, c2_dir)) = c2 {
            if (c2_dir || file_access) && ((p2[b] & c2[b]) | p1[b]) != p1[b] {
                return false;
            }
        }
    }
    true
}

/// Clears the masks of rights outside `request`; whether what is left is all granted.
fn scope_to_request(request: u64, m: &mut FsMasks) -> bool {
    for (b, v) in m.iter_mut().enumerate() {
        if request & (1 << b) == 0 {
            *v = 0;
        }
    }
    granted(m, request)
}

/// Whether a denial of `request` is EACCES rather than EXDEV (REFER alone is EXDEV).
fn is_eacces(m: &FsMasks, request: u64) -> bool {
    bits(request & !LANDLOCK_ACCESS_FS_REFER, NUM_FS).any(|b| m[b] != 0)
}

/// A link(2) or rename(2) (fs.c `current_check_refer_path`): the file at `old_path` (mode
/// `old_mode`) gets the name `new` names; `removable` for a rename, `exchange` for
/// RENAME_EXCHANGE. EACCES for a missing MAKE/REMOVE right, EXDEV when the file would gain
/// rights by moving to another directory (or REFER is missing).
pub fn check_refer(
    t: &Task,
    old_path: &str,
    old_mode: u32,
    new: &Resolved,
    removable: bool,
    exchange: bool,
) -> Result<(), Errno> {
    let Some(dom) = fs_domain(t) else {
        return Ok(());
    };
    let (Some(old_nodes), Some(new_dir)) = (chain(t, old_path), chain(t, parent_path(&new.path)))
    else {
        return Ok(());
    };
    let new_file = new.stat.map(|s| ((s.st_dev, s.st_ino), s.st_mode));
    refer(
        dom, &old_nodes, old_mode, &new_dir, new_file, removable, exchange,
    )
}

/// [`check_refer`] on the ancestries: `old_nodes` down to the file, `new_dir` down to the
/// directory it goes to, and the file the new name has (its key and mode), if any.
fn refer(
    dom: &Domain,
    old_nodes: &[Node],
    old_mode: u32,
    new_dir: &[Node],
    new_file: Option<(Key, u32)>,
    removable: bool,
    exchange: bool,
) -> Result<(), Errno> {
    let new_mode = new_file.map(|(_, m)| m);
    let mut req1 = match (exchange, new_mode) {
        (true, Some(m)) => make_access(m),
        _ => 0,
    };
    let mut req2 = make_access(old_mode);
    if removable {
        req1 |= remove_access(old_mode);
        if let Some(m) = new_mode {
            req2 |= remove_access(m);
        }
    }
    let n = old_nodes.len();
    let old_parent = &old_nodes[..n.saturating_sub(1)];
    let same_dir = match (old_parent.last(), new_dir.last()) {
        (Some(a), Some(b)) => a.key.is_some() && a.key == b.key,
        _ => false,
    };
    if same_dir {
        let request = req1 | req2;
        let mut m = dom.init_fs(request);
        return if walk_grants(dom, new_dir, request, &mut m) {
            Ok(())
        } else {
            Err(Errno::EACCES)
        };
    }
    req1 |= LANDLOCK_ACCESS_FS_REFER;
    req2 |= LANDLOCK_ACCESS_FS_REFER;
    let mut p1 = [0u16; NUM_FS];
    let mut p2 = [0u16; NUM_FS];
    let allow1 = collect(dom, old_parent, &mut p1);
    let allow2 = collect(dom, new_dir, &mut p2);
    if allow1 && allow2 {
        return Ok(());
    }
    // The children's own rules, which move with them.
    let child = |node: Option<&Node>| {
        let mut c = dom.init_fs(MASK_ACCESS_FS);
        dom.unmask_fs(node.and_then(|n| n.key), MASK_ACCESS_FS, &mut c);
        (c, node.is_some_and(|n| n.is_dir))
    };
    let (c1, c1_dir) = child(old_nodes.last());
    let c2 = if exchange {
        let key = new_file.map(|(k, _)| k);
        let mut c = dom.init_fs(MASK_ACCESS_FS);
        dom.unmask_fs(key, MASK_ACCESS_FS, &mut c);
        Some((c, new_mode.is_some_and(|m| m & S_IFMT == S_IFDIR)))
    } else {
        None
    };
    // From the common mount's root up to the real root.
    let upto = new_dir
        .iter()
        .rposition(|n| n.mount_root)
        .map_or(0, |i| i + 1);
    let mut allowed1 = granted(&p1, MASK_ACCESS_FS);
    let mut allowed2 = granted(&p2, MASK_ACCESS_FS);
    let union = dom.fs_union();
    let (mut masked1, mut masked2) = (union, union);
    let mut dom_check = true;
    for node in new_dir[..upto].iter().rev() {
        if dom_check && no_more_access(&p1, &c1, c1_dir, &p2, c2.as_ref().map(|(c, d)| (c, *d))) {
            dom_check = false;
            masked1 = req1;
            masked2 = req2;
            allowed1 = allowed1 || scope_to_request(req1, &mut p1);
            allowed2 = allowed2 || scope_to_request(req2, &mut p2);
            if allowed1 && allowed2 {
                break;
            }
        }
        allowed1 = allowed1 || dom.unmask_fs(node.key, masked1, &mut p1);
        allowed2 = allowed2 || dom.unmask_fs(node.key, masked2, &mut p2);
        if allowed1 && allowed2 {
            break;
        }
    }
    if allowed1 && allowed2 {
        return Ok(());
    }
    if is_eacces(&p1, req1) || is_eacces(&p2, req2) {
        return Err(Errno::EACCES);
    }
    Err(Errno::EXDEV)
}

/// bind(2) (`connect` false) or connect(2) of an inet socket with `family`, `stype` and
/// `protocol` to the raw address `addr` (net.c `current_check_access_socket`): TCP sockets
/// only; EACCES when some layer handles the right and no rule grants it for the port.
pub fn check_socket(
    t: &Task,
    family: u16,
    stype: u32,
    protocol: u32,
    addr: &[u8],
    connect: bool,
) -> Result<(), Errno> {
    let access = if connect {
        LANDLOCK_ACCESS_NET_CONNECT_TCP
    } else {
        LANDLOCK_ACCESS_NET_BIND_TCP
    };
    let Some(dom) = t.creds.landlock.as_deref() else {
        return Ok(());
    };
    if !dom.layers.iter().any(|l| l.handled.net & access != 0) {
        return Ok(());
    }
    if !matches!(family, AF_INET | AF_INET6)
        || stype != SOCK_STREAM
        || !matches!(protocol, 0 | IPPROTO_TCP)
    {
        return Ok(());
    }
    if addr.len() < 2 {
        return Err(Errno::EINVAL);
    }
    let port = |min: usize| -> Result<u16, Errno> {
        if addr.len() < min {
            return Err(Errno::EINVAL);
        }
        Ok(u16::from_be_bytes([addr[2], addr[3]]))
    };
    let port = match u16::from_ne_bytes([addr[0], addr[1]]) {
        AF_UNSPEC if connect => return Ok(()),
        AF_UNSPEC => {
            // An IPv4 socket binds AF_UNSPEC as AF_INET for INADDR_ANY only; IPv6 refuses it
            // (the stack says so).
            if family != AF_INET {
                return Ok(());
            }
            let p = port(16)?;
            if addr[4..8] != [0; 4] {
                return Err(Errno::EAFNOSUPPORT);
            }
            p
        }
        AF_INET => port(16)?,
        AF_INET6 => port(24)?,
        _ => return Ok(()),
    };
    let mut m = [0u16; NUM_NET];
    for (i, l) in dom.layers.iter().enumerate() {
        for b in bits(l.handled.net & access, NUM_NET) {
            m[b] |= 1 << i;
        }
    }
    for (i, l) in dom.layers.iter().enumerate() {
        if let Some(acc) = l.rules.net.get(&port) {
            for b in bits(acc & access, NUM_NET) {
                m[b] &= !(1 << i);
            }
        }
    }
    if granted(&m, access) {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// Whether `client`'s domain, scoped for `scope`, may not reach a process of domain `server`
/// (task.c `domain_is_scoped`): some layer of the client with the scope that is not
/// also a layer of the server.
fn is_scoped(client: &Domain, server: Option<&Domain>, scope: u64) -> bool {
    for (i, l) in client.layers.iter().enumerate().rev() {
        if l.handled.scope & scope != 0 {
            let shared = server
                .and_then(|s| s.layers.get(i))
                .is_some_and(|s| Arc::ptr_eq(s, l));
            return !shared;
        }
    }
    false
}

/// The domain a task's published credentials carry.
pub fn domain_of(task: &super::tree::TaskShared) -> Option<Arc<Domain>> {
    lock(&task.info)
        .as_ref()
        .and_then(|i| i.creds.landlock.clone())
}

/// The domain of the task this sentry thread serves (a socket's creator).
pub fn current_domain() -> Option<Arc<Domain>> {
    crate::kernel::block::current().and_then(|t| domain_of(&t))
}

/// A signal from `t` to a process or thread of domain `target` (task.c `hook_task_kill`):
/// EPERM when `t` is scoped for signals and the target is outside its domain. Threads of one
/// process always signal each other.
pub fn check_signal(t: &Task, target: &super::tree::TaskShared) -> Result<(), Errno> {
    let Some(dom) = t.creds.landlock.as_deref() else {
        return Ok(());
    };
    if Arc::ptr_eq(&target.tg, &t.shared.tg) {
        return Ok(());
    }
    if is_scoped(dom, domain_of(target).as_deref(), LANDLOCK_SCOPE_SIGNAL) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// A connect or send from `t` to an abstract unix socket made by a task of domain `server`
/// (task.c `hook_unix_stream_connect`, `hook_unix_may_send`): EPERM when scoped out.
pub fn check_abstract_unix(t: &Task, server: Option<&Domain>) -> Result<(), Errno> {
    let Some(dom) = t.creds.landlock.as_deref() else {
        return Ok(());
    };
    if is_scoped(dom, server, LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(fs: u64, scope: u64) -> Arc<Layer> {
        Arc::new(Layer {
            handled: Handled { fs, net: 0, scope },
            rules: Arc::new(Rules::default()),
        })
    }

    #[test]
    fn refer_is_denied_by_any_fs_layer() {
        let d = Domain {
            layers: vec![layer(LANDLOCK_ACCESS_FS_READ_FILE, 0), layer(0, 1)],
        };
        let m = d.init_fs(LANDLOCK_ACCESS_FS_REFER);
        assert_eq!(m[13], 1);
    }

    fn node(ino: u64, mount_root: bool, is_dir: bool) -> Node {
        Node {
            key: Some((1, ino)),
            mount_root,
            is_dir,
        }
    }

    /// One layer handling `fs`, with `rules` (inode number, rights) on device 1.
    fn domain(fs: u64, rules: &[(u64, u64)]) -> Domain {
        // As an add would (the rules' drop gives it back).
        let _ = charge(rules.len());
        let mut r = Rules::default();
        for (ino, acc) in rules {
            r.fs.insert((1, *ino), (*acc, Arc::new(AtomicBool::new(true))));
        }
        Domain {
            layers: vec![Arc::new(Layer {
                handled: Handled {
                    fs,
                    net: 0,
                    scope: 0,
                },
                rules: Arc::new(r),
            })],
        }
    }

    /// `/` (1), a mount root `m` (2), under it directories 10, 20, 30, and file 11 in 10.
    fn dir(ino: u64) -> Vec<Node> {
        vec![
            node(1, true, true),
            node(2, true, true),
            node(ino, false, true),
        ]
    }

    #[test]
    fn refer_follows_ltp_landlock05() {
        let rw = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
        let rf = LANDLOCK_ACCESS_FS_REFER;
        let d = domain(rw | rf, &[(10, rf), (20, rf)]);
        let mut file = dir(10);
        file.push(node(11, false, false));
        let reg = S_IFREG | 0o644;
        assert_eq!(refer_ok(&d, &file, &dir(20)), Ok(()));
        // No REFER on the destination: EXDEV.
        assert_eq!(refer_ok(&d, &file, &dir(30)), Err(Errno::EXDEV));
        // Same directory: no REFER needed.
        assert_eq!(refer(&d, &file, reg, &dir(10), None, true, false), Ok(()));
    }

    fn refer_ok(d: &Domain, old: &[Node], new_dir: &[Node]) -> Result<(), Errno> {
        refer(d, old, S_IFREG | 0o644, new_dir, None, true, false)
    }

    #[test]
    fn refer_refuses_gaining_rights_and_says_eacces_first() {
        let mv = LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
        let rf = LANDLOCK_ACCESS_FS_REFER;
        let w = LANDLOCK_ACCESS_FS_WRITE_FILE;
        let d = domain(mv | rf | w, &[(10, mv | rf), (20, mv | rf | w), (30, rf)]);
        let mut file = dir(10);
        file.push(node(11, false, false));
        // 20 grants WRITE_FILE, which 10 does not.
        assert_eq!(refer_ok(&d, &file, &dir(20)), Err(Errno::EXDEV));
        // 30 lacks MAKE_REG.
        assert_eq!(refer_ok(&d, &file, &dir(30)), Err(Errno::EACCES));
        // From 20 to 10 loses WRITE_FILE: fine.
        let mut back = dir(20);
        back.push(node(21, false, false));
        assert_eq!(refer_ok(&d, &back, &dir(10)), Ok(()));
    }

    #[test]
    fn scopes_compare_layers() {
        let a = layer(0, LANDLOCK_SCOPE_SIGNAL);
        let client = Domain {
            layers: vec![a.clone()],
        };
        let same = Domain {
            layers: vec![a.clone(), layer(0, 0)],
        };
        let other = Domain {
            layers: vec![layer(0, LANDLOCK_SCOPE_SIGNAL)],
        };
        assert!(!is_scoped(&client, Some(&same), LANDLOCK_SCOPE_SIGNAL));
        assert!(is_scoped(&client, Some(&other), LANDLOCK_SCOPE_SIGNAL));
        assert!(is_scoped(&client, None, LANDLOCK_SCOPE_SIGNAL));
        assert!(!is_scoped(
            &same,
            Some(&client),
            LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
        ));
    }
}
