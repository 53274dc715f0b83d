// SPDX-License-Identifier: Apache-2.0
//! Signal-driven I/O: the signal a description's owner gets (F_SETOWN, F_SETOWN_EX) when the
//! description becomes readable or writable with O_ASYNC set, or when a lease on it must be
//! broken; SIGIO, or F_SETSIG's signal with a siginfo naming the fd and the event (fs/fcntl.c
//! send_sigio).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use syscalls::abi::*;

use super::File;
use crate::kernel::{lock, send_process_signal, send_thread_signal, Kernel};

/// Sends the owner of `file` its I/O signal for an event on fd `fd`: `code` is the siginfo
/// code (POLL_IN, POLL_OUT, POLL_MSG, ...), `band` the poll bits it stands for. Nothing when
/// the description has no owner.
pub fn send_sigio(file: &File, fd: i32, code: i32, band: u32) {
    if let Some(k) = crate::kernel::block::current_kernel() {
        send_sigio_in(&k, file, fd, code, band);
    }
}

/// [`send_sigio`] from any thread (a terminal's input may come from the loader's bridge,
/// which is no task's thread).
pub fn send_sigio_in(k: &Kernel, file: &File, fd: i32, code: i32, band: u32) {
    let owner = *lock(&file.fown);
    if owner.id == 0 {
        return;
    }
    let sig = file.fsig.load(Ordering::Relaxed);
    let info = if sig == 0 {
        crate::kernel::signal::kernel_info(SIGIO)
    } else {
        let mut fields = [0u64; 14];
        fields[0] = u64::from(band);
        fields[1] = fd as u32 as u64;
        Siginfo {
            si_signo: sig,
            si_errno: 0,
            si_code: code,
            _pad0: 0,
            fields,
        }
    };
    let tree = lock(&k.tree);
    match owner.kind {
        F_OWNER_TID => {
            if let Some(task) = tree.threads.get(&owner.id).cloned() {
                drop(tree);
                send_thread_signal(k, &task, info);
            }
        }
        F_OWNER_PID => {
            if let Some(tg) = tree.procs.get(&owner.id).map(|p| p.tg.clone()) {
                drop(tree);
                send_process_signal(k, &tg, info);
            }
        }
        _ => {
            let groups: Vec<_> = tree
                .procs
                .values()
                .filter(|p| p.pgid == owner.id && p.zombie.is_none())
                .map(|p| p.tg.clone())
                .collect();
            drop(tree);
            for tg in groups {
                send_process_signal(k, &tg, info);
            }
        }
    }
}

/// The descriptions of one object (a pipe) that asked for signal-driven I/O, with the fd each
/// asked through (the fd the siginfo names, as Linux's fasync entries keep it).
#[derive(Default)]
pub struct AsyncList {
    entries: Mutex<Vec<(Weak<File>, i32)>>,
}

impl AsyncList {
    /// Adds (`on`) or removes `file`, asking through fd `fd`.
    pub fn set(&self, file: &Arc<File>, fd: i32, on: bool) {
        let mut v = lock(&self.entries);
        v.retain(|(f, _)| f.strong_count() > 0 && !std::ptr::eq(f.as_ptr(), Arc::as_ptr(file)));
        if on {
            v.push((Arc::downgrade(file), fd));
        }
    }

    /// Signals every registered description that still has O_ASYNC set.
    pub fn notify(&self, code: i32, band: u32) {
        if let Some(k) = crate::kernel::block::current_kernel() {
            self.notify_in(&k, code, band);
        }
    }

    /// [`AsyncList::notify`] from any thread.
    pub fn notify_in(&self, k: &Kernel, code: i32, band: u32) {
        let live: Vec<(Arc<File>, i32)> = {
            let v = lock(&self.entries);
            if v.is_empty() {
                return;
            }
            v.iter()
                .filter_map(|(f, fd)| f.upgrade().map(|f| (f, *fd)))
                .collect()
        };
        for (f, fd) in live {
            if f.flags() & O_ASYNC != 0 {
                send_sigio_in(k, &f, fd, code, band);
            }
        }
    }

    /// Whether anything is registered.
    pub fn is_empty(&self) -> bool {
        lock(&self.entries).is_empty()
    }
}
