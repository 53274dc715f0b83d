// SPDX-License-Identifier: Apache-2.0
//! The namespace files /proc/[pid]/ns/* lead to (Linux's nsfs): opening one gives a
//! descriptor that names the namespace, for setns(2) (and fstat, whose inode number is the
//! namespace's id, as `readlink` shows it). The sandbox is one set of namespaces, so every
//! process's files of one kind name the same one. The NS_GET_* ioctls answer for that one set.

use std::any::Any;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::timens::TimeNs;
use crate::kernel::{lock, Task};
use crate::syscalls::SysResult;
use crate::vfs::inode::Inode;
use crate::vfs::mount::MountNs;
use crate::vfs::{File, FileOps};

/// nsfs's device number (Linux's is an anonymous one, 0:4 on most machines).
const NSFS_DEV: u64 = 4;

/// One namespace: its CLONE_NEW* kind and its id (and, for a mount namespace, the namespace:
/// processes that unshared theirs have one of their own).
pub struct NsInode {
    pub kind: u64,
    pub id: u64,
    pub mnt: Option<Arc<MountNs>>,
    pub time: Option<Arc<TimeNs>>,
}

impl NsInode {
    pub fn inode(kind: u64, id: u64, mnt: Option<Arc<MountNs>>) -> Arc<dyn Inode> {
        Arc::new(NsInode {
            kind,
            id,
            mnt,
            time: None,
        })
    }

    /// A time namespace's file.
    pub fn time(ns: Arc<TimeNs>) -> Arc<dyn Inode> {
        Arc::new(NsInode {
            kind: CLONE_NEWTIME,
            id: ns.id,
            mnt: None,
            time: Some(ns),
        })
    }

    fn stat_of(id: u64) -> Stat {
        Stat {
            st_dev: NSFS_DEV,
            st_ino: id,
            st_mode: S_IFREG | 0o444,
            st_nlink: 1,
            st_blksize: 4096,
            ..Default::default()
        }
    }
}

impl Inode for NsInode {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Self::stat_of(self.id))
    }

    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>, Errno> {
        Ok(Box::new(NsFile {
            kind: self.kind,
            id: self.id,
            mnt: self.mnt.clone(),
            time: self.time.clone(),
        }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open namespace file.
pub struct NsFile {
    /// CLONE_NEWUTS, CLONE_NEWNS, ...
    pub kind: u64,
    pub id: u64,
    pub mnt: Option<Arc<MountNs>>,
    pub time: Option<Arc<TimeNs>>,
}

impl FileOps for NsFile {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(NsInode::stat_of(self.id))
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// The user namespace's id (its /proc/[pid]/ns/user inode number).
const USER_NS_ID: u64 = 4026531837;

const NS_GET_USERNS: u32 = 0xb701;
const NS_GET_PARENT: u32 = 0xb702;
const NS_GET_NSTYPE: u32 = 0xb703;
const NS_GET_OWNER_UID: u32 = 0xb704;
const NS_GET_MNTNS_ID: u32 = 0x8008_b705;
const NS_GET_PID_FROM_PIDNS: u32 = 0x8004_b706;
const NS_GET_TGID_FROM_PIDNS: u32 = 0x8004_b707;
const NS_GET_PID_IN_PIDNS: u32 = 0x8004_b708;
const NS_GET_TGID_IN_PIDNS: u32 = 0x8004_b709;

/// The ioctls of a namespace descriptor (Linux's ns_ioctl). The sandbox's namespaces are the
/// top of their hierarchies as the program sees them: the pid and user namespaces have no
/// parent it may reach (EPERM), every namespace's owner is the one user namespace, whose
/// owner is root, and a pid reads the same in every pid namespace.
pub fn ioctl(t: &mut Task, file: &Arc<File>, req: u32, arg: u64) -> SysResult {
    let Some(ns) = file.ops.as_any().and_then(|a| a.downcast_ref::<NsFile>()) else {
        return Err(Errno::ENOTTY);
    };
    match req {
        NS_GET_USERNS => {
            if ns.kind == CLONE_NEWUSER {
                return Err(Errno::EPERM);
            }
            let user = File::new(
                Box::new(NsFile {
                    kind: CLONE_NEWUSER,
                    id: USER_NS_ID,
                    mnt: None,
                    time: None,
                }),
                O_RDONLY,
                format!("user:[{USER_NS_ID}]"),
            );
            let limit = t.rlimit(RLIMIT_NOFILE);
            t.fds().alloc(user, true, 0, limit).map(|fd| fd as u64)
        }
        NS_GET_PARENT if matches!(ns.kind, CLONE_NEWPID | CLONE_NEWUSER) => Err(Errno::EPERM),
        NS_GET_PARENT => Err(Errno::EINVAL),
        NS_GET_NSTYPE => Ok(ns.kind),
        NS_GET_OWNER_UID if ns.kind == CLONE_NEWUSER => t.write_val(arg, &0u32).map(|_| 0),
        NS_GET_OWNER_UID => Err(Errno::EINVAL),
        NS_GET_MNTNS_ID if ns.kind == CLONE_NEWNS => t.write_val(arg, &ns.id).map(|_| 0),
        NS_GET_MNTNS_ID => Err(Errno::EINVAL),
        NS_GET_PID_FROM_PIDNS
        | NS_GET_TGID_FROM_PIDNS
        | NS_GET_PID_IN_PIDNS
        | NS_GET_TGID_IN_PIDNS => {
            if ns.kind != CLONE_NEWPID {
                return Err(Errno::EINVAL);
            }
            let pid = arg as i32;
            let tree = lock(&t.k.tree);
            let task = tree.threads.get(&pid).ok_or(Errno::ESRCH)?;
            let tgid = matches!(req, NS_GET_TGID_FROM_PIDNS | NS_GET_TGID_IN_PIDNS);
            if tgid && task.tg.tgid != pid {
                // Linux's pid_task(PIDTYPE_TGID): a thread that leads no thread group.
                return Err(Errno::ESRCH);
            }
            Ok(pid as u64)
        }
        _ => Err(Errno::ENOTTY),
    }
}
