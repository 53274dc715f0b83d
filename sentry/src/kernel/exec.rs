// SPDX-License-Identifier: Apache-2.0
//! execve(2): the new image is built in a fresh stub; only once it is complete does the task
//! give up its old one (the point of no return), so a failed exec leaves the caller intact.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use syscalls::abi::*;
use syscalls::Errno;

use super::block::wait_uninterruptible;
use super::{lock, Task};
use crate::mm::MemoryManager;

/// Longest single argument or environment string (MAX_ARG_STRLEN).
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// Reads a NULL-terminated array of string pointers (argv or envp), charging `total`.
pub fn read_string_array(
    t: &Task,
    addr: u64,
    total: &mut usize,
    limit: usize,
) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mm = t.mm();
    let mut pages = Pages::default();
    for i in 0u64.. {
        let at = i
            .checked_mul(8)
            .and_then(|o| addr.checked_add(o))
            .ok_or(Errno::EFAULT)?;
        let mut word = [0u8; 8];
        pages.read(&mm, at, &mut word)?;
        let p = u64::from_le_bytes(word);
        if p == 0 {
            break;
        }
        let s = pages.read_cstr(&mm, p, MAX_ARG_STRLEN).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        *total += s.len() + 1 + 8;
        if *total > limit {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}

/// The last few whole pages of application memory read: the strings of argv and envp and
/// their pointer arrays lie side by side, so a page read once serves many of them (one host
/// copy per page rather than two per string).
#[derive(Default)]
struct Pages {
    /// (page address, its bytes), most recent last.
    cached: Vec<(u64, Box<[u8]>)>,
}

impl Pages {
    const KEPT: usize = 4;

    /// The page at `base`, read whole if it is not cached (a byte of it readable means all of
    /// it is: protections and mappings are per page).
    fn page(&mut self, mm: &MemoryManager, base: u64) -> Result<&[u8], Errno> {
        if let Some(i) = self.cached.iter().position(|(b, _)| *b == base) {
            let hit = self.cached.remove(i);
            self.cached.push(hit);
        } else {
            let mut data = vec![0u8; PAGE_SIZE as usize].into_boxed_slice();
            mm.copy_in(base, &mut data)?;
            if self.cached.len() >= Self::KEPT {
                self.cached.remove(0);
            }
            self.cached.push((base, data));
        }
        Ok(self.cached.last().map(|(_, d)| &d[..]).unwrap_or(&[]))
    }

    fn read(&mut self, mm: &MemoryManager, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let mut done = 0;
        while done < buf.len() {
            let at = addr.checked_add(done as u64).ok_or(Errno::EFAULT)?;
            let off = (at % PAGE_SIZE) as usize;
            let page = self.page(mm, at - off as u64)?;
            let n = (page.len() - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[off..off + n]);
            done += n;
        }
        Ok(())
    }

    /// A NUL-terminated string of at most `max` bytes (without the NUL).
    fn read_cstr(&mut self, mm: &MemoryManager, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            let off = (at % PAGE_SIZE) as usize;
            let page = self.page(mm, at - off as u64)?;
            let rest = &page[off..];
            if let Some(nul) = rest.iter().position(|b| *b == 0) {
                out.extend_from_slice(&rest[..nul]);
                if out.len() > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(rest);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at = at.checked_add(rest.len() as u64).ok_or(Errno::EFAULT)?;
        }
    }
}

/// Ends every other thread of the caller's group and waits for them to go.
fn de_thread(t: &Task) {
    let tg = t.shared.tg.clone();
    let others: Vec<_> = lock(&tg.tasks)
        .iter()
        .filter(|x| x.tid != t.tid)
        .cloned()
        .collect();
    if others.is_empty() {
        return;
    }
    for o in &others {
        o.must_exit.store(true, Ordering::Release);
        o.kick();
    }
    wait_uninterruptible(&tg.resume, || lock(&tg.tasks).len() <= 1);
}

/// Takes the credentials exec decided ([`super::exec_creds`]): a changed identity or new
/// privileges also clear the parent-death signal, as commit_creds does; SECBIT_KEEP_CAPS goes;
/// the image is dumpable unless it is set-id or unreadable.
fn take_credentials(t: &mut Task, tr: super::exec_creds::Transition) {
    let old = &t.creds;
    let new = &tr.creds;
    if old.uid.1 != new.uid.1
        || old.gid.1 != new.gid.1
        || old.fsuid != new.fsuid
        || old.fsgid != new.fsgid
        || new.caps_permitted & !old.caps_permitted != 0
        || tr.secure
    {
        t.pdeath_signal = 0;
    }
    t.creds = tr.creds;
    t.creds.securebits &= !SECBIT_KEEP_CAPS;
    // A new address space: no membarrier registrations (Linux's membarrier_exec_mmap).
    t.shared
        .tg
        .membarrier
        .store(0, std::sync::atomic::Ordering::Release);
    t.shared
        .tg
        .dumpable
        .store(u8::from(tr.dumpable), Ordering::Release);
}

/// Loads the first image into a task fresh from [`crate::platform::Platform::new_process`].
pub fn load_initial(
    t: &mut Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<(), Errno> {
    let mut ctx = std::mem::replace(&mut t.ctx, Box::new(crate::platform::Detached));
    let mm = t.mm.clone();
    let r = crate::elf::load(t, &mut lock(&mm), ctx.as_mut(), path, argv, envp);
    lock(&mm).recharge();
    t.ctx = ctx;
    let mut loaded = r?;
    if let Some(tr) = loaded.transition.take() {
        take_credentials(t, tr);
    }
    *lock(&t.shared.interrupter) = Some(t.ctx.interrupter());
    let mut regs = t.ctx.initial_registers();
    regs.rip = loaded.entry;
    regs.rsp = loaded.sp;
    t.regs = regs;
    t.publish();
    Ok(())
}

/// Replaces the task's image with `path` (already resolved by the caller's view).
pub fn exec(
    t: &mut Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<(), Errno> {
    // A file that cannot be run fails before a new host process is made for it.
    crate::elf::check_exec(t, path)?;
    let mut ctx = t.k.platform.new_process().map_err(|e| {
        tracing::error!("execve: a new stub: {e}");
        Errno::ENOMEM
    })?;
    let mut mm = MemoryManager::new(ctx.address_space());
    mm.as_limit = t.rlimit(RLIMIT_AS);
    let mut loaded = match crate::elf::load(t, &mut mm, ctx.as_mut(), path, argv, envp) {
        Ok(l) => l,
        Err(e) => {
            ctx.kill_process();
            return Err(e);
        }
    };
    // The new image's memory counts against --memory (the old one's is given back with it).
    mm.recharge();
    // The point of no return.
    de_thread(t);
    if let Some(tr) = loaded.transition.take() {
        take_credentials(t, tr);
    }
    // A new image has no thread or process keyring (the session keyring stays).
    t.creds.keys.for_exec();
    // A task that unshared its children's time namespace enters it with its new image
    // (exec_task_namespaces).
    let time = lock(&t.shared.time).clone();
    if time.ns.id != time.children.id {
        time.children.enter();
        t.shared.set_time(super::timens::Pair {
            ns: time.children.clone(),
            children: time.children,
        });
    }
    let mut old_ctx = std::mem::replace(&mut t.ctx, ctx);
    // The new stub follows the task's CPU affinity (kept across execve).
    if !lock(&t.shared.sched).cpus.is_all() {
        t.shared.cpus_changed.store(true, Ordering::Release);
    }
    let old_mm = std::mem::replace(&mut t.mm, Arc::new(Mutex::new(mm)));
    if Arc::strong_count(&old_mm) == 1 {
        super::usage::image_gone(&t.shared.tg, old_ctx.host_process());
        old_ctx.kill_process();
    } else {
        old_ctx.exit_thread();
    }
    drop(old_ctx);
    drop(old_mm);
    *lock(&t.shared.interrupter) = Some(t.ctx.interrupter());
    // Descriptors: unshare, then close the close-on-exec ones.
    if Arc::strong_count(&t.fds) > 1 {
        let copy = lock(&t.fds).clone();
        t.fds = Arc::new(Mutex::new(copy));
    }
    let closed = {
        let mut fds = lock(&t.fds);
        let doomed: Vec<i32> = fds
            .iter()
            .filter(|(_, e)| e.cloexec)
            .map(|(fd, _)| fd)
            .collect();
        doomed
            .into_iter()
            .filter_map(|fd| fds.remove(fd).ok())
            .collect::<Vec<_>>()
    };
    for e in &closed {
        crate::vfs::lock::on_close(t.tgid(), &e.file);
    }
    drop(closed);
    if Arc::strong_count(&t.fs) > 1 {
        let copy = lock(&t.fs).clone();
        t.fs = Arc::new(Mutex::new(copy));
    }
    // Caught signals go back to their default action; ignored ones stay ignored.
    let tg = t.shared.tg.clone();
    let mut handlers = lock(&tg.sighand()).clone();
    for a in handlers.actions.iter_mut() {
        if a.handler != SIG_IGN {
            *a = KernelSigaction::default();
        }
    }
    *lock(&tg.sighand) = Arc::new(Mutex::new(handlers));
    t.altstack = (0, 2, 0);
    // POSIX timers do not survive exec (itimers do, but they count the old host process).
    t.k.timers.remove_posix(tg.tgid);
    t.robust_list = (0, 0);
    t.shared
        .robust_head
        .store(0, std::sync::atomic::Ordering::Relaxed);
    t.clear_child_tid = 0;
    let base = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    t.comm = [0; 16];
    let n = base.len().min(15);
    t.comm[..n].copy_from_slice(&base[..n]);
    if let Some(p) = lock(&t.k.tree).procs.get_mut(&tg.tgid) {
        p.execed = true;
    }
    if let Some(v) = t.vfork_done.take() {
        v.complete();
    }
    let mut regs = t.ctx.initial_registers();
    regs.rip = loaded.entry;
    regs.rsp = loaded.sp;
    for r in [
        &mut regs.rax,
        &mut regs.rbx,
        &mut regs.rcx,
        &mut regs.rdx,
        &mut regs.rsi,
        &mut regs.rdi,
        &mut regs.rbp,
        &mut regs.r8,
        &mut regs.r9,
        &mut regs.r10,
        &mut regs.r11,
        &mut regs.r12,
        &mut regs.r13,
        &mut regs.r14,
        &mut regs.r15,
    ] {
        *r = 0;
    }
    regs.fs_base = 0;
    regs.gs_base = 0;
    t.regs = regs;
    t.publish();
    Ok(())
}
