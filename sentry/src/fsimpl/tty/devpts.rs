// SPDX-License-Identifier: Apache-2.0
//! devpts: the directory of pty replicas (`/dev/pts/N`, one per open master) and `ptmx`,
//! whose open makes a new pair. The sandbox's own instance ([`global`]) is mounted at
//! /dev/pts (also in OCI containers, whose console is one of its pairs); every devpts the
//! program mounts is a new instance whose numbers start at 0, as on Linux since 4.7
//! (`newinstance` is accepted and changes nothing). Its `ptmx` opens pairs in it, and a
//! ptmx device node (character device 5:2) opens them in the devpts mounted at `pts` beside
//! it (Linux's devpts_acquire): /dev/ptmx follows whatever is mounted on /dev/pts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use syscalls::abi::*;
use syscalls::Errno;

use super::{Terminal, TtyFile};
use crate::fsimpl::synthetic::ListDir;
use crate::kernel::Kernel;
use crate::vfs::inode::{dated, synthetic_statfs};
use crate::vfs::{FileOps, Filesystem, Inode, SetAttr};

/// Device number of the devpts instance.
pub const DEVPTS_DEV: u64 = 0x19;
/// Most pairs at once (Linux's /proc/sys/kernel/pty/max default).
pub const PTY_MAX: usize = 4096;
/// devpts's statfs magic.
const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// One devpts instance.
pub struct DevPts {
    dev: u64,
    opts: Options,
    /// The pairs by number: an entry until both ends are closed (the node `N` shows only
    /// while the master is open).
    ptys: Mutex<BTreeMap<u32, Arc<Terminal>>>,
}

/// A devpts instance's mount options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Owner and group of new replica nodes (`uid=`, `gid=`; else the opener's).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Permissions of new replica nodes (`mode=`, default 0600).
    pub mode: u32,
    /// Permissions of the instance's `ptmx` (`ptmxmode=`, default 0000).
    pub ptmxmode: u32,
    /// Most pairs at once (`max=`).
    pub max: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            uid: None,
            gid: None,
            mode: 0o600,
            ptmxmode: 0,
            max: PTY_MAX,
        }
    }
}

impl Options {
    /// Parses mount(2)'s data for devpts (Linux's devpts_param_specs, plus the superblock
    /// flags any file system takes): EINVAL for anything else or a bad value.
    pub fn parse(data: &str) -> Result<Options, Errno> {
        let mut o = Options::default();
        for opt in data.split(',').filter(|s| !s.is_empty()) {
            let (key, val) = match opt.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (opt, None),
            };
            let num = |radix: u32| -> Result<u32, Errno> {
                let v = val.ok_or(Errno::EINVAL)?;
                u32::from_str_radix(v, radix).map_err(|_| Errno::EINVAL)
            };
            match key {
                "uid" => o.uid = Some(num(10)?),
                "gid" => o.gid = Some(num(10)?),
                "mode" => o.mode = num(8)? & 0o7777,
                "ptmxmode" => o.ptmxmode = num(8)? & 0o7777,
                "max" => {
                    let n = num(10)?;
                    if n > 1 << 20 {
                        return Err(Errno::EINVAL);
                    }
                    o.max = (n as usize).min(PTY_MAX);
                }
                "newinstance" if val.is_none() => {}
                "ro" | "rw" | "sync" | "async" | "dirsync" | "lazytime" | "nolazytime" | "mand"
                | "nomand"
                    if val.is_none() => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(o)
    }

    /// The options as /proc/mounts shows them (devpts_show_options).
    pub fn show(&self) -> String {
        let mut s = String::new();
        if let Some(u) = self.uid {
            s += &format!("uid={u},");
        }
        if let Some(g) = self.gid {
            s += &format!("gid={g},");
        }
        s += &format!("mode={:03o},ptmxmode={:03o}", self.mode, self.ptmxmode);
        if self.max < PTY_MAX {
            s += &format!(",max={}", self.max);
        }
        s
    }
}

/// The sandbox's devpts instance, made on first use.
static GLOBAL: OnceLock<Arc<DevPts>> = OnceLock::new();

/// The sandbox's devpts instance: with runc's options for a container's /dev/pts (gid=5,
/// mode=620, ptmxmode=666) unless [`configure_global`] gave it others first.
pub fn global() -> &'static Arc<DevPts> {
    GLOBAL.get_or_init(|| {
        global_with(Options {
            gid: Some(5),
            mode: 0o620,
            ptmxmode: 0o666,
            ..Options::default()
        })
    })
}

fn global_with(opts: Options) -> Arc<DevPts> {
    Arc::new(DevPts {
        dev: DEVPTS_DEV,
        opts,
        ptys: Mutex::new(BTreeMap::new()),
    })
}

/// The options of the sandbox's instance.
pub fn global_options() -> Options {
    global().opts
}

/// Gives the sandbox's instance the options `opts` (an OCI container's /dev/pts mount) if it
/// has not been used yet. Whether it has them.
pub fn configure_global(opts: Options) -> bool {
    let _ = GLOBAL.set(global_with(opts));
    global().opts == opts
}

/// The instances the program mounted, by device number (for [`release`]).
fn instances() -> MutexGuard<'static, BTreeMap<u64, Weak<DevPts>>> {
    static I: OnceLock<Mutex<BTreeMap<u64, Weak<DevPts>>>> = OnceLock::new();
    I.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The sandbox's console: the pair whose replica is the first program's terminal (`sandbox
/// run -t`, an OCI `process.terminal`). /dev/console shows that replica while it lives, as
/// runc bind-mounts the console pty's replica there; without one there is no /dev/console.
fn console_slot() -> MutexGuard<'static, Option<Weak<Terminal>>> {
    static C: OnceLock<Mutex<Option<Weak<Terminal>>>> = OnceLock::new();
    C.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Makes `term` the console.
pub fn set_console(term: &Arc<Terminal>) {
    *console_slot() = Some(Arc::downgrade(term));
}

/// /dev/console: the console's replica node, while its master is open.
pub fn console_inode() -> Option<Arc<dyn Inode>> {
    let term = console_slot().as_ref()?.upgrade()?;
    if term.hung_up() {
        return None;
    }
    Some(Arc::new(Replica(term)))
}

/// Whether `dev` is the device number of a devpts instance of the sandbox's.
pub fn is_instance_dev(dev: u64) -> bool {
    dev == global().dev || instances().contains_key(&dev)
}

/// Both ends of a pair closed: its number is free again.
pub(super) fn release(index: u32, dev: u64) {
    let g = global();
    if g.dev == dev {
        g.lock().remove(&index);
        return;
    }
    let inst = instances().get(&dev).and_then(Weak::upgrade);
    if let Some(i) = inst {
        i.lock().remove(&index);
    }
}

/// The stat of `ptmx` (character device 5:2).
pub fn ptmx_stat(dev: u64) -> Stat {
    dated(Stat {
        st_dev: dev,
        st_ino: 2,
        st_nlink: 1,
        st_mode: S_IFCHR | 0o666,
        st_rdev: makedev(5, 2),
        st_blksize: 1024,
        ..Default::default()
    })
}

impl DevPts {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, Arc<Terminal>>> {
        self.ptys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new instance (a devpts mount), device number `dev`.
    pub fn new_instance(dev: u64, opts: Options) -> Arc<DevPts> {
        let i = Arc::new(DevPts {
            dev,
            opts,
            ptys: Mutex::new(BTreeMap::new()),
        });
        let mut m = instances();
        m.retain(|_, w| w.strong_count() > 0);
        m.insert(dev, Arc::downgrade(&i));
        i
    }

    /// A new pair with the lowest free number (ENOSPC past `max=` or [`PTY_MAX`]), its node
    /// owned by (`uid`, `gid`) unless the options say otherwise.
    pub fn new_terminal(
        &self,
        k: Weak<Kernel>,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<Terminal>, Errno> {
        let mut m = self.lock();
        if m.len() >= self.opts.max.min(PTY_MAX) {
            return Err(Errno::ENOSPC);
        }
        let index = (0u32..).find(|i| !m.contains_key(i)).ok_or(Errno::ENOSPC)?;
        let node = (
            self.opts.uid.unwrap_or(uid),
            self.opts.gid.unwrap_or(gid),
            self.opts.mode,
        );
        let term = Terminal::new(index, self.dev, node, k)?;
        m.insert(index, term.clone());
        Ok(term)
    }

    /// Opens `/dev/ptmx`: a new pair's master.
    pub fn open_master(&self) -> Result<Box<dyn FileOps>, Errno> {
        let k = crate::kernel::block::current_kernel().ok_or(Errno::EIO)?;
        // The opener's file system ids own the node (current_fsuid, current_fsgid).
        let (uid, gid) = crate::kernel::block::current()
            .and_then(|t| {
                crate::kernel::lock(&t.info)
                    .as_ref()
                    .map(|i| (i.creds.fsuid, i.creds.fsgid))
            })
            .unwrap_or((0, 0));
        let term = self.new_terminal(Arc::downgrade(&k), uid, gid)?;
        Ok(Box::new(term.open_end(true)))
    }

    /// The pair numbered `index`, while its master is open.
    pub fn get(&self, index: u32) -> Option<Arc<Terminal>> {
        self.lock().get(&index).filter(|t| !t.hung_up()).cloned()
    }
}

/// Opens replica `index` (`/dev/pts/N` or a device node 136:N): EIO while it is locked.
pub fn open_replica(term: &Arc<Terminal>, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
    term.may_open_replica()?;
    let f = term.open_end(false);
    super::open_acquire(term, flags);
    Ok(Box::new(f))
}

/// Opens a terminal character device by number, for device nodes on any file system: 5:0
/// (/dev/tty), 5:2 (ptmx), 136:N (a replica). `None` for other numbers.
pub fn open_device(rdev: u64, flags: u32) -> Option<Result<Box<dyn FileOps>, Errno>> {
    Some(match dev_split(rdev) {
        (5, 0) => super::open_controlling(flags),
        (5, 2) => global().open_master(),
        (136, n) => match global().get(n) {
            Some(t) => open_replica(&t, flags),
            None => Err(Errno::EIO),
        },
        _ => return None,
    })
}

/// The devpts file system: an instance as mounted.
pub struct DevPtsFs(Arc<DevPts>);

impl DevPtsFs {
    /// The sandbox's instance as a file system (what /dev/pts mounts).
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Arc<dyn Filesystem> {
        Arc::new(DevPtsFs(global().clone()))
    }

    /// A new instance, device number `dev` (a devpts mount by the program).
    pub fn new_instance(dev: u64, opts: Options) -> Arc<dyn Filesystem> {
        Arc::new(DevPtsFs(DevPts::new_instance(dev, opts)))
    }
}

/// The devpts instance whose root directory is `dir` (the `pts` beside a ptmx node).
pub fn instance_of(dir: &dyn Inode) -> Option<Arc<DevPts>> {
    dir.as_any().downcast_ref::<Root>().map(|r| r.0.clone())
}

/// Whether `node` is some instance's own `ptmx`.
pub fn is_ptmx(node: &dyn Inode) -> bool {
    node.as_any().downcast_ref::<Ptmx>().is_some()
}

impl Filesystem for DevPtsFs {
    fn root(&self) -> Arc<dyn Inode> {
        Arc::new(Root(self.0.clone()))
    }

    fn name(&self) -> &'static str {
        "devpts"
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        Ok(synthetic_statfs(DEVPTS_SUPER_MAGIC))
    }
}

struct Root(Arc<DevPts>);

impl Inode for Root {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(dated(Stat {
            st_dev: self.0.dev,
            st_ino: 1,
            st_nlink: 2,
            st_mode: S_IFDIR | 0o755,
            st_blksize: 1024,
            ..Default::default()
        }))
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        let mut list = vec![
            (1, DT_DIR, b".".to_vec()),
            (1, DT_DIR, b"..".to_vec()),
            (2, DT_CHR, b"ptmx".to_vec()),
        ];
        for (i, t) in self.0.lock().iter() {
            // A replica's node exists while its master is open.
            if !t.hung_up() {
                list.push((u64::from(*i) + 3, DT_CHR, i.to_string().into_bytes()));
            }
        }
        Ok(Box::new(ListDir {
            stat: self.stat()?,
            list,
        }))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
        if name == b"ptmx" {
            return Ok(Arc::new(Ptmx(self.0.clone())));
        }
        let s = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        if s.is_empty() || (s.len() > 1 && s.starts_with('0')) {
            return Err(Errno::ENOENT);
        }
        let n: u32 = s.parse().map_err(|_| Errno::ENOENT)?;
        let term = self.0.get(n).ok_or(Errno::ENOENT)?;
        Ok(Arc::new(Replica(term)))
    }

    fn setattr(&self, _a: &SetAttr) -> Result<(), Errno> {
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `/dev/pts/ptmx`.
struct Ptmx(Arc<DevPts>);

impl Inode for Ptmx {
    fn stat(&self) -> Result<Stat, Errno> {
        let mut st = ptmx_stat(self.0.dev);
        st.st_mode = S_IFCHR | self.0.opts.ptmxmode;
        Ok(st)
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        self.0.open_master()
    }

    fn setattr(&self, _a: &SetAttr) -> Result<(), Errno> {
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `/dev/pts/N`.
struct Replica(Arc<Terminal>);

impl Inode for Replica {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.0.replica_stat())
    }

    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        open_replica(&self.0, flags)
    }

    fn setattr(&self, _a: &SetAttr) -> Result<(), Errno> {
        // grantpt's chown and chmod are accepted.
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A file description of a terminal end made outside any path walk (TIOCGPTPEER, the first
/// program's terminal): its path as /proc shows it.
pub fn replica_path(term: &Terminal) -> String {
    format!("/dev/pts/{}", term.index)
}

/// The replica's operations for TIOCGPTPEER: EIO while locked.
pub fn peer(f: &TtyFile, flags: u32) -> Result<TtyFile, Errno> {
    f.term.may_open_replica()?;
    let peer = f.term.open_end(false);
    super::open_acquire(&f.term, flags | O_NOCTTY);
    Ok(peer)
}
