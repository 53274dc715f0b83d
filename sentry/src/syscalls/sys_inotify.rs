// SPDX-License-Identifier: Apache-2.0
//! inotify_init(2), inotify_init1(2), inotify_add_watch(2), inotify_rm_watch(2); the
//! instances, watches and events are [`crate::vfs::notify`]'s.

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_file::{install, walk_at};
use super::{fd_arg, SysResult};
use crate::kernel::Task;
use crate::vfs::notify;
use crate::vfs::File;

fn init(t: &Task, flags: u32) -> SysResult {
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let (inst, ops) = notify::new_instance(t.creds.uid.1, t.k.new_ino())?;
    let file = File::new(ops, O_RDONLY | (flags & O_NONBLOCK), "anon_inode:inotify");
    notify::register(&inst, file.id);
    install(t, file, flags & O_CLOEXEC != 0)
}

/// Implements inotify_init(2).
pub fn sys_inotify_init(t: &mut Task) -> SysResult {
    init(t, 0)
}

/// Implements inotify_init1(2): IN_CLOEXEC and IN_NONBLOCK (EINVAL for other bits), EMFILE
/// beyond /proc/sys/fs/inotify/max_user_instances.
pub fn sys_inotify_init1(t: &mut Task) -> SysResult {
    init(t, t.arg(0) as u32)
}

/// Implements inotify_add_watch(2): the path is followed unless IN_DONT_FOLLOW, must be a
/// directory with IN_ONLYDIR (ENOTDIR), and readable by the caller (EACCES).
pub fn sys_inotify_add_watch(t: &mut Task) -> SysResult {
    let (fd, path_addr, mask) = (fd_arg(t, 0), t.arg(1), t.arg(2) as u32);
    notify::check_watch_mask(mask)?;
    let file = t.file(fd)?;
    let inst = notify::instance_of(file.id)?;
    let path = t.read_path(path_addr)?;
    let r = walk_at(t, AT_FDCWD, &path, mask & IN_DONT_FOLLOW == 0)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    let readable = r
        .inode
        .as_ref()
        .is_some_and(|i| t.creds.may_file(i.as_ref(), &st, R_OK));
    if !readable {
        return Err(Errno::EACCES);
    }
    notify::add_watch(&inst, &st, mask).map(|wd| wd as u64)
}

/// Implements inotify_rm_watch(2).
pub fn sys_inotify_rm_watch(t: &mut Task) -> SysResult {
    let (fd, wd) = (fd_arg(t, 0), t.arg(1) as i32);
    let file = t.file(fd)?;
    let inst = notify::instance_of(file.id)?;
    notify::rm_watch(&inst, wd).map(|_| 0)
}

/// fcntl(2)'s F_NOTIFY (dnotify): signal the caller's process, with the file's F_SETSIG
/// signal (SIGIO by default), when the directory or its entries change.
pub(crate) fn fcntl_notify(t: &Task, fd: i32, file: &Arc<File>, arg: u64) -> SysResult {
    if file.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    // Linux takes the low 32 bits and ignores unknown ones.
    let st = file.stat()?;
    notify::dnotify(&st, file, fd, &t.shared.tg, arg as u32)?;
    Ok(0)
}
