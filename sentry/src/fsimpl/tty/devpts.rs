// SPDX-License-Identifier: Apache-2.0
//! devpts: the directory of pty replicas (`/dev/pts/N`, one per open master) and `ptmx`,
//! whose open makes a new pair. The sandbox has one instance, mounted at /dev/pts; /dev/ptmx
//! (character device 5:2 anywhere) opens a pair in it, as Linux's single devpts instance does
//! without `newinstance`.

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

/// The devpts instance.
pub struct DevPts {
    dev: u64,
    /// The pairs by number: an entry until both ends are closed (the node `N` shows only
    /// while the master is open).
    ptys: Mutex<BTreeMap<u32, Arc<Terminal>>>,
}

/// The sandbox's devpts instance.
pub fn global() -> &'static Arc<DevPts> {
    static G: OnceLock<Arc<DevPts>> = OnceLock::new();
    G.get_or_init(|| {
        Arc::new(DevPts {
            dev: DEVPTS_DEV,
            ptys: Mutex::new(BTreeMap::new()),
        })
    })
}

/// Both ends of a pair closed: its number is free again.
pub(super) fn release(index: u32, dev: u64) {
    let g = global();
    if g.dev == dev {
        g.lock().remove(&index);
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

    /// A new pair with the lowest free number (ENOSPC past [`PTY_MAX`]).
    pub fn new_terminal(&self, k: Weak<Kernel>, uid: u32) -> Result<Arc<Terminal>, Errno> {
        let mut m = self.lock();
        if m.len() >= PTY_MAX {
            return Err(Errno::ENOSPC);
        }
        let index = (0u32..).find(|i| !m.contains_key(i)).ok_or(Errno::ENOSPC)?;
        let term = Terminal::new(index, self.dev, uid, k)?;
        m.insert(index, term.clone());
        Ok(term)
    }

    /// Opens `/dev/ptmx`: a new pair's master.
    pub fn open_master(&self) -> Result<Box<dyn FileOps>, Errno> {
        let k = crate::kernel::block::current_kernel().ok_or(Errno::EIO)?;
        let uid = crate::kernel::block::current()
            .and_then(|t| {
                crate::kernel::lock(&k.tree)
                    .procs
                    .get(&t.tg.tgid)
                    .map(|p| p.uid)
            })
            .unwrap_or(0);
        let term = self.new_terminal(Arc::downgrade(&k), uid)?;
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

/// The devpts file system (what /dev/pts mounts).
pub struct DevPtsFs;

impl DevPtsFs {
    /// The sandbox's instance as a file system.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Arc<dyn Filesystem> {
        Arc::new(DevPtsFs)
    }
}

impl Filesystem for DevPtsFs {
    fn root(&self) -> Arc<dyn Inode> {
        Arc::new(Root)
    }

    fn name(&self) -> &'static str {
        "devpts"
    }

    fn statfs(&self) -> Result<Statfs, Errno> {
        Ok(synthetic_statfs(DEVPTS_SUPER_MAGIC))
    }
}

struct Root;

impl Inode for Root {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(dated(Stat {
            st_dev: global().dev,
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
        for (i, t) in global().lock().iter() {
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
            return Ok(Arc::new(Ptmx));
        }
        let s = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        if s.is_empty() || (s.len() > 1 && s.starts_with('0')) {
            return Err(Errno::ENOENT);
        }
        let n: u32 = s.parse().map_err(|_| Errno::ENOENT)?;
        let term = global().get(n).ok_or(Errno::ENOENT)?;
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
struct Ptmx;

impl Inode for Ptmx {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(ptmx_stat(global().dev))
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        global().open_master()
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
