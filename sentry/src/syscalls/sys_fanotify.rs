// SPDX-License-Identifier: Apache-2.0
//! fanotify_init(2) and fanotify_mark(2); the groups, marks and events are
//! [`crate::vfs::fanotify`]'s.

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_file::{install, walk_at};
use super::{fd_arg, SysResult};
use crate::kernel::Task;
use crate::vfs::fanotify;
use crate::vfs::File;

/// CAP_AUDIT_WRITE, which FAN_ENABLE_AUDIT needs.
const CAP_AUDIT_WRITE: u32 = 29;

fn capable(t: &Task, cap: u32) -> bool {
    t.creds.caps & (1u64 << cap) != 0
}

/// Implements fanotify_init(2): classic groups and permission classes need CAP_SYS_ADMIN;
/// without it only groups reporting file ids (Linux 5.13).
pub fn sys_fanotify_init(t: &mut Task) -> SysResult {
    let (flags, event_f_flags) = (t.arg(0) as u32, t.arg(1) as u32);
    let admin = capable(t, CAP_SYS_ADMIN);
    let (g, ops, fflags) =
        fanotify::init(t.creds.uid.1, admin, t.k.new_ino(), flags, event_f_flags)?;
    if flags & FAN_ENABLE_AUDIT != 0 && !capable(t, CAP_AUDIT_WRITE) {
        return Err(Errno::EPERM);
    }
    let file = File::new(ops, fflags, "anon_inode:[fanotify]");
    fanotify::register(&g, file.id);
    install(t, file, flags & FAN_CLOEXEC != 0)
}

/// Implements fanotify_mark(2).
pub fn sys_fanotify_mark(t: &mut Task) -> SysResult {
    let (fan_fd, flags, mask, dirfd, path_addr) = (
        fd_arg(t, 0),
        t.arg(1) as u32,
        t.arg(2),
        fd_arg(t, 3),
        t.arg(4),
    );
    let a = fanotify::check_mark(flags, mask)?;
    let file = t.file(fan_fd)?;
    let g = fanotify::group_of(&file).ok_or(Errno::EINVAL)?;
    fanotify::check_mark_group(&g, &a, capable(t, CAP_SYS_ADMIN))?;
    if flags & FAN_MARK_FLUSH != 0 {
        fanotify::flush(&g, flags);
        return Ok(0);
    }
    let (st, mount) = if path_addr == 0 {
        let f = t.file(dirfd)?;
        let st = f.stat()?;
        if flags & FAN_MARK_ONLYDIR != 0 && st.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        (st, f.mount.clone())
    } else {
        let path = t.read_path(path_addr)?;
        let r = walk_at(t, dirfd, &path, flags & FAN_MARK_DONT_FOLLOW == 0)?;
        let st = r.stat.ok_or(Errno::ENOENT)?;
        if flags & FAN_MARK_ONLYDIR != 0 && st.st_mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        (st, Some(r.mount.clone()))
    };
    // Only a file the caller may read can be watched.
    if !t.creds.may(st.st_mode, st.st_uid, st.st_gid, R_OK) {
        return Err(Errno::EACCES);
    }
    // Files outside any mount (pipes, sockets) live on internal file systems: inode marks only.
    let Some(mount) = mount else {
        return Err(Errno::EINVAL);
    };
    fanotify::mark(&g, &a, &fanotify::Target { st, mount: &mount })?;
    Ok(0)
}
