// SPDX-License-Identifier: Apache-2.0
//! The mount table of a mount namespace: file systems (or bind-mounted subtrees of them) by
//! absolute mount point. Mounts stack: a mount on an occupied point hides the one below until
//! it is unmounted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::{Filesystem, Inode};

/// Mount ids, unique over the sentry's life (and so across namespaces, as on Linux).
static NEXT_MOUNT_ID: AtomicU32 = AtomicU32::new(1);
/// Unique 64-bit mount ids (statx STATX_MNT_ID_UNIQUE, statmount, listmount): never reused,
/// and above every 32-bit id, as Linux 6.8+ numbers them.
static NEXT_UNIQUE_ID: AtomicU64 = AtomicU64::new(MNT_UNIQUE_ID_OFFSET + 1);
/// Peer group ids of shared mounts.
static NEXT_GROUP_ID: AtomicU32 = AtomicU32::new(1);
/// Mount namespace ids (the inode number of /proc/[pid]/ns/mnt).
static NEXT_NS_ID: AtomicU64 = AtomicU64::new(0xf000_0001);

/// The per-mount flags mount(2) sets and /proc/mounts shows.
pub const MOUNT_FLAGS: u64 = MS_RDONLY
    | MS_NOSUID
    | MS_NODEV
    | MS_NOEXEC
    | MS_NOATIME
    | MS_NODIRATIME
    | MS_RELATIME
    | MS_STRICTATIME
    | MS_NOSYMFOLLOW;

/// A mount's access-time mode kept as Linux keeps it: exactly one of MS_NOATIME, MS_RELATIME
/// (the default, as path_mount gives every mount not asked to be noatime) and MS_STRICTATIME
/// (here a marker, so that a copy of the flags keeps the mode).
pub fn normalize_atime(flags: u64) -> u64 {
    if flags & MS_NOATIME != 0 {
        flags & !(MS_RELATIME | MS_STRICTATIME)
    } else if flags & MS_STRICTATIME != 0 {
        flags & !MS_RELATIME
    } else {
        flags | MS_RELATIME
    }
}

/// The superblock flags of file systems that have any but SB_RDONLY (MS_SYNCHRONOUS,
/// MS_DIRSYNC, MS_MANDLOCK, MS_LAZYTIME: statfs's ST_SYNCHRONOUS and ST_MANDLOCK, the super
/// options /proc/mounts shows). Recorded, not acted on: the sandbox's file systems write
/// through their own caches either way.
type SbFlagList = Mutex<Vec<(Weak<dyn Filesystem>, u64)>>;

fn sb_flag_list() -> &'static SbFlagList {
    static R: OnceLock<SbFlagList> = OnceLock::new();
    R.get_or_init(Default::default)
}

const SB_FLAGS: u64 = MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK | MS_LAZYTIME;

/// Records the superblock flags mount(2) gave `fs` (a new mount or a remount).
pub fn set_sb_flags(fs: &Arc<dyn Filesystem>, flags: u64) {
    let mut v = crate::kernel::lock(sb_flag_list());
    let me = Arc::downgrade(fs);
    v.retain(|(w, _)| w.strong_count() > 0 && !Weak::ptr_eq(w, &me));
    if flags & SB_FLAGS != 0 {
        v.push((me, flags & SB_FLAGS));
    }
}

/// A remount's superblock flags: those a remount may change (Linux's MS_RMT_MASK) are
/// replaced, MS_DIRSYNC stays.
pub fn remount_sb_flags(fs: &Arc<dyn Filesystem>, flags: u64) {
    let rmt = MS_SYNCHRONOUS | MS_MANDLOCK | MS_LAZYTIME;
    set_sb_flags(fs, (sb_flags(fs) & !rmt) | (flags & rmt));
}

/// The superblock flags of `fs` but SB_RDONLY.
pub fn sb_flags(fs: &Arc<dyn Filesystem>) -> u64 {
    let me = Arc::downgrade(fs);
    crate::kernel::lock(sb_flag_list())
        .iter()
        .find(|(w, _)| Weak::ptr_eq(w, &me))
        .map_or(0, |(_, f)| *f)
}

/// The superblock options /proc/mounts shows after rw/ro (Linux's show_sb_opts).
pub fn sb_options(fs: &Arc<dyn Filesystem>) -> String {
    let f = sb_flags(fs);
    [
        (MS_SYNCHRONOUS, ",sync"),
        (MS_DIRSYNC, ",dirsync"),
        (MS_MANDLOCK, ",mand"),
        (MS_LAZYTIME, ",lazytime"),
    ]
    .iter()
    .filter(|(b, _)| f & b != 0)
    .map(|(_, n)| *n)
    .collect()
}

/// The most mounts a namespace holds (Linux's default fs.mount-max).
pub const MOUNT_MAX: usize = 100_000;

/// A mount's propagation (Documentation/filesystems/sharedsubtree.rst): the peer group it
/// shares mount events with (0: none) and the group it receives them from (0: none). The
/// sandbox records and reports it (mountinfo, statmount); events do not propagate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Propagation {
    /// Peer group id when shared.
    pub group: u32,
    /// The master's peer group id when a slave.
    pub master: u32,
    /// MS_UNBINDABLE.
    pub unbindable: bool,
}

/// One mount.
pub struct Mount {
    /// Mount id (/proc/self/mountinfo).
    pub id: u32,
    /// Unique 64-bit mount id (statx STATX_MNT_ID_UNIQUE, statmount, listmount).
    pub unique_id: u64,
    /// The path of `root` in its file system when not `/` (a bind mount of a subtree).
    pub fs_root: OnceLock<String>,
    /// Propagation type and peer group.
    propagation: Mutex<Propagation>,
    /// The file system.
    pub fs: Arc<dyn Filesystem>,
    /// The directory mounted: the file system's root, or a subtree for a bind mount.
    pub root: Arc<dyn Inode>,
    /// The absolute mount point.
    pub point: String,
    /// What /proc/mounts shows as the source.
    pub source: String,
    /// MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC and the atime flags of this mount.
    flags: AtomicU64,
    /// File-system options /proc/mounts shows after the flags (e.g. `size=1024k`).
    pub options: Mutex<String>,
    /// Marked for expiry by umount2(MNT_EXPIRE).
    expiry: AtomicBool,
}

impl Mount {
    /// A mount of `root` (of `fs`) at `point`, with mount flags `flags`.
    pub fn new(
        fs: Arc<dyn Filesystem>,
        root: Arc<dyn Inode>,
        point: impl Into<String>,
        source: impl Into<String>,
        flags: u64,
    ) -> Arc<Mount> {
        Arc::new(Mount {
            id: NEXT_MOUNT_ID.fetch_add(1, Ordering::Relaxed),
            unique_id: NEXT_UNIQUE_ID.fetch_add(1, Ordering::Relaxed),
            fs_root: OnceLock::new(),
            propagation: Mutex::new(Propagation::default()),
            fs,
            root,
            point: point.into(),
            source: source.into(),
            flags: AtomicU64::new(normalize_atime(flags & MOUNT_FLAGS)),
            options: Mutex::new(String::new()),
            expiry: AtomicBool::new(false),
        })
    }

    /// Marks the mount for expiry (the first umount2(MNT_EXPIRE)).
    pub fn mark_expiry(&self) {
        self.expiry.store(true, Ordering::Relaxed);
    }

    /// Whether the mount was marked for expiry; clears the mark.
    pub fn take_expiry_mark(&self) -> bool {
        self.expiry.swap(false, Ordering::Relaxed)
    }

    /// A path walk went into the mount: any use clears its expiry mark (Linux's mntput), but
    /// the walk of umount2 itself ([`keeping_expiry`]).
    pub fn touched(&self) {
        if self.expiry.load(Ordering::Relaxed) && !KEEP_EXPIRY.with(std::cell::Cell::get) {
            self.expiry.store(false, Ordering::Relaxed);
        }
    }

    /// The same file system and subtree at `point` (a copy for a new namespace, or a move).
    fn copy_at(&self, point: &str) -> Arc<Mount> {
        let m = Mount::new(
            self.fs.clone(),
            self.root.clone(),
            point,
            self.source.clone(),
            self.flags(),
        );
        *crate::kernel::lock(&m.options) = crate::kernel::lock(&self.options).clone();
        if let Some(r) = self.fs_root.get() {
            let _ = m.fs_root.set(r.clone());
        }
        // A copy in a new namespace is a peer of the original (copy_tree); a move keeps it.
        m.set_propagation(self.propagation());
        m
    }

    /// The same mount, ids and all, at `point`: a detached mount attached, or a mount moved.
    pub fn moved_to(&self, point: &str) -> Arc<Mount> {
        let m = Arc::new(Mount {
            id: self.id,
            unique_id: self.unique_id,
            fs_root: OnceLock::new(),
            propagation: Mutex::new(self.propagation()),
            fs: self.fs.clone(),
            root: self.root.clone(),
            point: point.to_string(),
            source: self.source.clone(),
            flags: AtomicU64::new(self.flags()),
            options: Mutex::new(crate::kernel::lock(&self.options).clone()),
            expiry: AtomicBool::new(false),
        });
        if let Some(r) = self.fs_root.get() {
            let _ = m.fs_root.set(r.clone());
        }
        m
    }

    /// The path of the mount's root in its file system (`/` unless a bind of a subtree).
    pub fn root_path(&self) -> &str {
        self.fs_root.get().map_or("/", String::as_str)
    }

    /// Its propagation.
    pub fn propagation(&self) -> Propagation {
        *crate::kernel::lock(&self.propagation)
    }

    /// Replaces its propagation.
    pub fn set_propagation(&self, p: Propagation) {
        *crate::kernel::lock(&self.propagation) = p;
    }

    /// Changes the propagation type as mount(2) and mount_setattr(2) do: MS_SHARED (a new peer
    /// group unless already shared), MS_SLAVE (receives from its former peer group),
    /// MS_PRIVATE or MS_UNBINDABLE.
    pub fn change_propagation(&self, kind: u64) {
        let mut p = crate::kernel::lock(&self.propagation);
        match kind {
            MS_SHARED => {
                if p.group == 0 {
                    p.group = NEXT_GROUP_ID.fetch_add(1, Ordering::Relaxed);
                }
                p.unbindable = false;
            }
            MS_SLAVE => {
                if p.group != 0 {
                    p.master = p.group;
                    p.group = 0;
                }
                p.unbindable = false;
            }
            MS_PRIVATE => *p = Propagation::default(),
            MS_UNBINDABLE => {
                *p = Propagation {
                    unbindable: true,
                    ..Propagation::default()
                }
            }
            _ => {}
        }
    }

    /// The optional fields mountinfo shows for the propagation (`shared:N master:M`).
    pub fn propagation_fields(&self) -> String {
        let p = self.propagation();
        let mut v = Vec::new();
        if p.group != 0 {
            v.push(format!("shared:{}", p.group));
        }
        if p.master != 0 {
            v.push(format!("master:{}", p.master));
        }
        if p.unbindable {
            v.push("unbindable".to_string());
        }
        v.join(" ")
    }

    /// The mount flags (MS_*).
    pub fn flags(&self) -> u64 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Replaces the mount flags (a remount).
    pub fn set_flags(&self, flags: u64) {
        self.flags
            .store(normalize_atime(flags & MOUNT_FLAGS), Ordering::Relaxed);
    }

    /// Whether writes through this mount fail with EROFS.
    pub fn read_only(&self) -> bool {
        self.flags() & MS_RDONLY != 0 || self.fs.read_only()
    }

    /// Whether programs on this mount may not be executed (MS_NOEXEC).
    pub fn no_exec(&self) -> bool {
        self.flags() & MS_NOEXEC != 0
    }

    /// Whether device nodes on this mount may not be opened (MS_NODEV).
    pub fn no_dev(&self) -> bool {
        self.flags() & MS_NODEV != 0
    }

    /// Whether set-user-ID bits are ignored on this mount (MS_NOSUID).
    pub fn no_suid(&self) -> bool {
        self.flags() & MS_NOSUID != 0
    }

    /// The option list /proc/mounts shows: rw/ro, the flags, then the file system's options.
    pub fn option_string(&self) -> String {
        // rw/ro, the superblock's options, the mount's (show_vfsmnt).
        let flags = self.flag_string();
        let (rw, rest) = flags.split_at(2);
        let mut s = format!("{rw}{}{rest}", sb_options(&self.fs));
        let o = crate::kernel::lock(&self.options);
        if !o.is_empty() {
            s.push(',');
            s.push_str(&o);
        }
        s
    }

    /// The per-mount options mountinfo shows: rw/ro and the flags.
    pub fn flag_string(&self) -> String {
        let f = self.flags();
        let mut s = String::from(if self.read_only() { "ro" } else { "rw" });
        for (bit, name) in [
            (MS_NOSUID, "nosuid"),
            (MS_NODEV, "nodev"),
            (MS_NOEXEC, "noexec"),
            (MS_NOATIME, "noatime"),
            (MS_NODIRATIME, "nodiratime"),
            (MS_RELATIME, "relatime"),
            (MS_NOSYMFOLLOW, "nosymfollow"),
        ] {
            if f & bit != 0 {
                s.push(',');
                s.push_str(name);
            }
        }
        s
    }
}

/// The mount table.
pub struct Mounts {
    /// Mounts by point; the last of each list is the visible one.
    by_point: HashMap<String, Vec<Arc<Mount>>>,
}

/// Whether `path` is `dir` or below it.
pub fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

impl Mounts {
    /// A mount table with `root` at `/`.
    pub fn new(root: Arc<dyn Filesystem>) -> Mounts {
        let mut m = Mounts {
            by_point: HashMap::new(),
        };
        m.mount("/", root);
        m
    }

    /// Mounts the root of `fs` at the absolute path `at`, read-write.
    pub fn mount(&mut self, at: &str, fs: Arc<dyn Filesystem>) -> Arc<Mount> {
        let root = fs.root();
        let source = fs.name().to_string();
        self.mount_tree(at, fs, root, source, 0)
    }

    /// Mounts the subtree `root` of `fs` at `at` (a bind mount when `root` is not the file
    /// system's root), hiding whatever was mounted there.
    pub fn mount_tree(
        &mut self,
        at: &str,
        fs: Arc<dyn Filesystem>,
        root: Arc<dyn Inode>,
        source: String,
        flags: u64,
    ) -> Arc<Mount> {
        let m = Mount::new(fs, root, at, source, flags);
        self.add(m.clone());
        m
    }

    /// Adds a made mount at its point, on top of what is there.
    pub fn add(&mut self, m: Arc<Mount>) {
        self.by_point.entry(m.point.clone()).or_default().push(m);
    }

    /// Mounts in the table, hidden ones included.
    pub fn count(&self) -> usize {
        self.by_point.values().map(Vec::len).sum()
    }

    /// Whether `n` more mounts fit: ENOSPC past [`MOUNT_MAX`] (Linux's fs.mount-max), so that
    /// recursive binds and clones, which double a tree each time, stay bounded.
    pub fn room_for(&self, n: usize) -> Result<(), Errno> {
        if self.count().saturating_add(n) > MOUNT_MAX {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    /// Adds a made mount at its point beneath the visible one there (MOVE_MOUNT_BENEATH):
    /// it shows once the top one is unmounted. EINVAL when nothing is mounted there.
    pub fn add_beneath(&mut self, m: Arc<Mount>) -> Result<(), Errno> {
        let v = self.by_point.get_mut(&m.point).ok_or(Errno::EINVAL)?;
        let at = v.len().saturating_sub(1);
        v.insert(at, m);
        Ok(())
    }

    /// The mount with unique id `id`, hidden ones included.
    pub fn by_unique_id(&self, id: u64) -> Option<Arc<Mount>> {
        self.by_point
            .values()
            .flatten()
            .find(|m| m.unique_id == id)
            .cloned()
    }

    /// The mount `m` is mounted on: the one below it at its point, else the visible mount of
    /// the nearest point above; the root mount is its own parent.
    pub fn parent_of(&self, m: &Mount) -> Option<Arc<Mount>> {
        if let Some(v) = self.by_point.get(&m.point) {
            if let Some(i) = v.iter().position(|x| std::ptr::eq(&**x, m)) {
                if i > 0 {
                    return Some(v[i - 1].clone());
                }
            }
        }
        if m.point == "/" {
            return self.at("/");
        }
        let mut p = m.point.as_str();
        while let Some(i) = p.rfind('/') {
            p = if i == 0 { "/" } else { &p[..i] };
            if let Some(up) = self.at(p) {
                return Some(up);
            }
            if p == "/" {
                break;
            }
        }
        None
    }

    /// Whether a mount point lies strictly below `at`.
    fn has_mounts_below(&self, at: &str) -> bool {
        self.by_point.keys().any(|p| p != at && is_under(p, at))
    }

    /// Unmounts the visible mount at `at`. Linux: EINVAL when nothing is mounted there, EBUSY
    /// for the root, a mount with mounts below it, or (unless `detach`) a mount something still
    /// uses: `busy` says whether anything outside the table holds it. With `detach` the mounts
    /// below go too (MNT_DETACH).
    pub fn unmount(
        &mut self,
        at: &str,
        detach: bool,
        busy: impl Fn(&Arc<Mount>) -> bool,
    ) -> Result<(), Errno> {
        let top = self.at(at).ok_or(Errno::EINVAL)?;
        if at == "/" {
            return Err(Errno::EBUSY);
        }
        let stacked = self.by_point.get(at).map_or(0, |v| v.len());
        if !detach && ((stacked == 1 && self.has_mounts_below(at)) || busy(&top)) {
            return Err(Errno::EBUSY);
        }
        if let Some(v) = self.by_point.get_mut(at) {
            v.pop();
            if v.is_empty() {
                self.by_point.remove(at);
            }
        }
        if detach && !self.by_point.contains_key(at) {
            self.by_point.retain(|p, _| !is_under(p, at));
        }
        Ok(())
    }

    /// Moves the visible mount at `from`, and every mount below it, to `to` (MS_MOVE).
    pub fn move_mount(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        if from == "/" || self.at(from).is_none() {
            return Err(Errno::EINVAL);
        }
        // A mount cannot move below itself.
        if is_under(to, from) {
            return Err(Errno::ELOOP);
        }
        let mut moved = Vec::new();
        let points: Vec<String> = self
            .by_point
            .keys()
            .filter(|p| is_under(p, from) && p.as_str() != from)
            .cloned()
            .collect();
        if let Some(v) = self.by_point.get_mut(from) {
            if let Some(m) = v.pop() {
                moved.push(m.copy_at(to));
            }
            if v.is_empty() {
                self.by_point.remove(from);
            }
        }
        for p in points {
            for m in self.by_point.remove(&p).unwrap_or_default() {
                moved.push(m.copy_at(&format!("{to}{}", &p[from.len()..])));
            }
        }
        for m in moved {
            self.add(m);
        }
        Ok(())
    }

    /// pivot_root(2) for a task whose root is `root` (a mount point): the mount at
    /// `new_root` (below `root`) takes the place of the root mount, which moves to where
    /// `put_old` (at or below `new_root`) lands. Mounts below `new_root` move with it; the
    /// others below `root` move with the old root. Returns the function mapping a path of the
    /// old layout to the new one.
    pub fn pivot(
        &mut self,
        root: &str,
        new_root: &str,
        put_old: &str,
    ) -> Result<impl Fn(&str) -> String + use<>, Errno> {
        if self.at(new_root).is_none() || self.at(root).is_none() || !is_under(put_old, new_root) {
            return Err(Errno::EINVAL);
        }
        let join = |base: &str, rest: &str| -> String {
            match (base, rest) {
                (b, "") => b.to_string(),
                ("/", r) => r.to_string(),
                (b, r) => format!("{b}{r}"),
            }
        };
        // Where put_old lands once new_root is at root.
        let old_home = join(root, &put_old[new_root.len()..]);
        let (root_s, new_s) = (root.to_string(), new_root.to_string());
        let remap = move |p: &str| -> String {
            if is_under(p, &new_s) {
                join(&root_s, &p[new_s.len()..])
            } else if p == root_s {
                old_home.clone()
            } else if is_under(p, &root_s) {
                let rest = if root_s == "/" { p } else { &p[root_s.len()..] };
                join(&old_home, rest)
            } else {
                p.to_string()
            }
        };
        let mut all: Vec<(String, Arc<Mount>)> = Vec::new();
        let points: Vec<String> = self
            .by_point
            .keys()
            .filter(|p| is_under(p, root))
            .cloned()
            .collect();
        for p in points {
            let Some(v) = self.by_point.get_mut(&p) else {
                continue;
            };
            if p == root {
                // Only the visible root mount moves; what it hid stays hidden under the new.
                if let Some(m) = v.pop() {
                    all.push((p.clone(), m));
                }
                if v.is_empty() {
                    self.by_point.remove(&p);
                }
            } else {
                for m in std::mem::take(v) {
                    all.push((p.clone(), m));
                }
                self.by_point.remove(&p);
            }
        }
        all.sort_by_key(|(_, m)| m.id);
        for (p, m) in all {
            self.add(m.copy_at(&remap(&p)));
        }
        Ok(remap)
    }

    /// The visible mount at exactly `path`, if any.
    pub fn at(&self, path: &str) -> Option<Arc<Mount>> {
        self.by_point.get(path).and_then(|v| v.last()).cloned()
    }

    /// The root mount.
    pub fn root(&self) -> Arc<Mount> {
        // `new` mounts the root and `unmount` refuses to remove it.
        self.at("/").expect("the root is always mounted")
    }

    /// Every mount, hidden ones included, in mount order.
    pub fn list(&self) -> Vec<Arc<Mount>> {
        let mut v: Vec<_> = self.by_point.values().flatten().cloned().collect();
        v.sort_by_key(|m| m.id);
        v
    }

    /// What identifies the table's present state: its mounts (ids) at their points.
    fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut v: Vec<(&String, u64)> = self
            .by_point
            .iter()
            .flat_map(|(p, l)| l.iter().map(move |m| (p, m.unique_id)))
            .collect();
        v.sort_unstable();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    /// A copy for a new mount namespace (unshare(CLONE_NEWNS)): the same file systems at the
    /// same points, as mounts of their own (new ids; a remount in one namespace leaves the
    /// other alone).
    pub fn copy(&self) -> Mounts {
        let by_point = self
            .by_point
            .iter()
            .map(|(p, v)| (p.clone(), v.iter().map(|m| m.copy_at(p)).collect()))
            .collect();
        Mounts { by_point }
    }
}

thread_local! {
    /// Set while umount2 walks to its target (Linux's mntput_no_expire).
    static KEEP_EXPIRY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (a walk) without clearing the expiry marks of the mounts it goes into.
pub fn keeping_expiry<R>(f: impl FnOnce() -> R) -> R {
    KEEP_EXPIRY.with(|k| k.set(true));
    let r = f();
    KEEP_EXPIRY.with(|k| k.set(false));
    r
}

/// A mount namespace.
pub struct MountNs {
    /// Its id (the inode number /proc/[pid]/ns/mnt shows).
    pub id: u64,
    /// Its mounts.
    pub mounts: RwLock<Mounts>,
    /// How many times its table changed (Linux's ns->event): an open /proc/[pid]/mounts or
    /// mountinfo polls POLLPRI | POLLERR once for each change since it last polled.
    events: AtomicU64,
    /// Notified at each change (Linux's ns->poll).
    queue: crate::kernel::block::WaitQueue,
}

/// A table being changed ([`MountNs::write`]): when it goes, a change is told to pollers.
pub struct MountsWrite<'a> {
    guard: std::sync::RwLockWriteGuard<'a, Mounts>,
    ns: &'a MountNs,
    before: u64,
}

impl std::ops::Deref for MountsWrite<'_> {
    type Target = Mounts;
    fn deref(&self) -> &Mounts {
        &self.guard
    }
}

impl std::ops::DerefMut for MountsWrite<'_> {
    fn deref_mut(&mut self) -> &mut Mounts {
        &mut self.guard
    }
}

impl Drop for MountsWrite<'_> {
    fn drop(&mut self) {
        if self.guard.fingerprint() != self.before {
            self.ns.events.fetch_add(1, Ordering::AcqRel);
            self.ns
                .queue
                .notify_band(syscalls::abi::POLLPRI | syscalls::abi::POLLERR);
        }
    }
}

impl MountNs {
    /// A namespace holding `mounts`.
    pub fn new(mounts: Mounts) -> Arc<MountNs> {
        Arc::new(MountNs {
            id: NEXT_NS_ID.fetch_add(1, Ordering::Relaxed),
            mounts: RwLock::new(mounts),
            events: AtomicU64::new(0),
            queue: crate::kernel::block::WaitQueue::default(),
        })
    }

    /// A new namespace with a copy of this one's mounts (CLONE_NEWNS).
    pub fn unshare(&self) -> Arc<MountNs> {
        MountNs::new(self.read().copy())
    }

    /// Reads the table.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Mounts> {
        self.mounts.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the table.
    pub fn write(&self) -> MountsWrite<'_> {
        let guard = self.mounts.write().unwrap_or_else(|e| e.into_inner());
        let before = guard.fingerprint();
        MountsWrite {
            guard,
            ns: self,
            before,
        }
    }

    /// The changes of the table so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Acquire)
    }

    /// The queue notified at each change.
    pub fn queue(&self) -> &crate::kernel::block::WaitQueue {
        &self.queue
    }
}
