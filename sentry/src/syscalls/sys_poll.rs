// SPDX-License-Identifier: Apache-2.0
//! poll(2), ppoll(2), select(2), pselect6(2) and epoll(7).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::{lock, Task};
use crate::vfs::{File, FileOps};

/// How often readiness that lives on the host (stdio) is rechecked while waiting.
const HOST_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Waits until `check` finds something ready among `files`, the deadline passes (then `check`
/// runs a last time) or a signal arrives (ERESTARTNOHAND).
fn wait_ready<T>(
    files: &[Arc<File>],
    deadline: Option<Instant>,
    mut check: impl FnMut() -> Option<T>,
) -> Result<Option<T>, Errno> {
    if let Some(r) = check() {
        return Ok(Some(r));
    }
    if deadline.is_some_and(|d| d <= Instant::now()) {
        return Ok(None);
    }
    // An epoll among the files is ready when a file it watches is: wait on those too.
    let mut all: Vec<Arc<File>> = files.to_vec();
    expand_epolls(&mut all);
    let queues: Vec<&WaitQueue> = all.iter().filter_map(|f| f.ops.poll_queue()).collect();
    let host = all.iter().any(|f| f.ops.polls_host());
    loop {
        let step = if host {
            let next = Instant::now() + HOST_POLL_INTERVAL;
            Some(deadline.map_or(next, |d| d.min(next)))
        } else {
            deadline
        };
        match block_on(&queues, step, || check().map(Ok)) {
            Ok(r) => return Ok(Some(r)),
            Err(Errno::ETIMEDOUT) => {
                if deadline.is_some_and(|d| d <= Instant::now()) {
                    return Ok(check());
                }
            }
            Err(Errno::ERESTARTSYS) => return Err(Errno::ERESTARTNOHAND),
            Err(e) => return Err(e),
        }
    }
}

/// Adds to `files` the files the epolls among them watch, nested up to Linux's depth.
fn expand_epolls(files: &mut Vec<Arc<File>>) {
    let mut from = 0;
    for _ in 0..=EP_MAX_NESTS {
        let end = files.len();
        let mut more = Vec::new();
        for f in &files[from..end] {
            if let Some(ep) = epoll_of_file(f) {
                more.extend(ep.files());
            }
        }
        if more.is_empty() {
            return;
        }
        files.extend(more);
        from = end;
    }
}

fn deadline_ms(ms: i32) -> Option<Instant> {
    if ms < 0 {
        None
    } else {
        Some(Instant::now() + Duration::from_millis(ms as u64))
    }
}

pub(crate) fn deadline_ts(t: &Task, addr: u64) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = t.read_val(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(
        Instant::now()
            .checked_add(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
            .unwrap_or_else(far),
    ))
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(1 << 30)
}

fn do_poll(t: &mut Task, addr: u64, nfds: u64, deadline: Option<Instant>) -> SysResult {
    if nfds > t.rlimit(RLIMIT_NOFILE).max(1 << 16) {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; nfds as usize * 8];
    t.copy_in(addr, &mut raw)?;
    let entries: Vec<(i32, u32)> = raw
        .chunks(8)
        .map(|c| {
            (
                i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                u16::from_le_bytes([c[4], c[5]]) as u32,
            )
        })
        .collect();
    let files: Vec<Option<Arc<File>>> = entries
        .iter()
        .map(|(fd, _)| if *fd < 0 { None } else { t.file(*fd).ok() })
        .collect();
    let live: Vec<Arc<File>> = files.iter().flatten().cloned().collect();
    let compute = || -> Vec<u32> {
        entries
            .iter()
            .zip(&files)
            .map(|((fd, ev), f)| match f {
                _ if *fd < 0 => 0,
                None => POLLNVAL,
                Some(f) => f.ops.poll_events() & (ev | POLLERR | POLLHUP),
            })
            .collect()
    };
    let revents = wait_ready(&live, deadline, || {
        let r = compute();
        r.iter().any(|x| *x != 0).then_some(r)
    })?
    .unwrap_or_else(|| vec![0; entries.len()]);
    for (i, r) in revents.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&(*r as u16).to_le_bytes());
    }
    t.copy_out(addr, &raw)?;
    Ok(revents.iter().filter(|r| **r != 0).count() as u64)
}

/// Implements poll(2).
pub fn sys_poll(t: &mut Task) -> SysResult {
    let d = deadline_ms(t.arg(2) as i32);
    do_poll(t, t.arg(0), t.arg(1), d)
}

/// Sets the temporary signal mask of ppoll/pselect/epoll_pwait; restored after delivery.
pub(crate) fn temp_mask(t: &mut Task, addr: u64, size: u64) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = t.read_val(addr)?;
    t.saved_sigmask = Some(t.sigmask());
    t.set_sigmask(mask);
    Ok(())
}

pub(crate) fn end_temp_mask(t: &mut Task, r: &SysResult) {
    // With a signal to deliver, the saved mask is restored after the handler's frame is built
    // (or at once when none is built): ppoll and pselect end with ERESTARTNOHAND, the
    // epoll_pwaits with EINTR (Linux: restore_saved_sigmask_unless(error == -EINTR)).
    if !matches!(r, Err(Errno::ERESTARTNOHAND) | Err(Errno::EINTR)) {
        if let Some(m) = t.saved_sigmask.take() {
            t.set_sigmask(m);
        }
    }
}

/// Implements ppoll(2).
pub fn sys_ppoll(t: &mut Task) -> SysResult {
    let d = deadline_ts(t, t.arg(2))?;
    temp_mask(t, t.arg(3), t.arg(4))?;
    let r = do_poll(t, t.arg(0), t.arg(1), d);
    end_temp_mask(t, &r);
    r
}

fn do_select(t: &mut Task, nfds: i32, sets: [u64; 3], deadline: Option<Instant>) -> SysResult {
    if nfds < 0 || nfds as u64 > t.rlimit(RLIMIT_NOFILE).max(1024) {
        return Err(Errno::EINVAL);
    }
    let nfds = nfds as usize;
    let words = nfds.div_ceil(64);
    let mut bits = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (i, addr) in sets.iter().enumerate() {
        if *addr != 0 && words > 0 {
            let mut b = vec![0u8; words * 8];
            t.copy_in(*addr, &mut b)?;
            for (w, c) in b.chunks(8).enumerate() {
                bits[i][w] = u64::from_le_bytes(c.try_into().unwrap_or_default());
            }
        }
    }
    let mut fds: Vec<(usize, Arc<File>)> = Vec::new();
    for fd in 0..nfds {
        let m = 1u64 << (fd % 64);
        if (bits[0][fd / 64] | bits[1][fd / 64] | bits[2][fd / 64]) & m != 0 {
            fds.push((fd, t.file(fd as i32)?));
        }
    }
    let files: Vec<Arc<File>> = fds.iter().map(|(_, f)| f.clone()).collect();
    let compute = || -> (usize, [Vec<u64>; 3]) {
        let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
        let mut n = 0;
        for (fd, f) in &fds {
            let ev = f.ops.poll_events();
            let m = 1u64 << (fd % 64);
            let w = fd / 64;
            for (i, want) in [
                POLLIN | POLLRDNORM | POLLHUP | POLLERR,
                POLLOUT | POLLWRNORM | POLLERR,
                POLLPRI,
            ]
            .iter()
            .enumerate()
            {
                if bits[i][w] & m != 0 && ev & want != 0 {
                    out[i][w] |= m;
                    n += 1;
                }
            }
        }
        (n, out)
    };
    let (n, out) = wait_ready(&files, deadline, || {
        let r = compute();
        (r.0 > 0).then_some(r)
    })?
    .unwrap_or_else(|| (0, [vec![0u64; words], vec![0u64; words], vec![0u64; words]]));
    for (i, addr) in sets.iter().enumerate() {
        if *addr != 0 && words > 0 {
            let b: Vec<u8> = out[i].iter().flat_map(|w| w.to_le_bytes()).collect();
            t.copy_out(*addr, &b)?;
        }
    }
    Ok(n as u64)
}

/// Implements select(2).
pub fn sys_select(t: &mut Task) -> SysResult {
    let tv_addr = t.arg(4);
    let start = Instant::now();
    let (deadline, total) = if tv_addr == 0 {
        (None, Duration::ZERO)
    } else {
        let tv: Timeval = t.read_val(tv_addr)?;
        if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL);
        }
        let d = Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
        (Some(start.checked_add(d).unwrap_or_else(far)), d)
    };
    let r = do_select(t, t.arg(0) as i32, [t.arg(1), t.arg(2), t.arg(3)], deadline);
    if tv_addr != 0 {
        // Linux writes back the time left.
        let left = total.saturating_sub(start.elapsed());
        let tv = Timeval {
            tv_sec: left.as_secs() as i64,
            tv_usec: left.subsec_micros() as i64,
        };
        let _ = t.write_val(tv_addr, &tv);
    }
    r
}

/// Implements pselect6(2).
pub fn sys_pselect6(t: &mut Task) -> SysResult {
    let d = deadline_ts(t, t.arg(4))?;
    let sig = t.arg(5);
    if sig != 0 {
        let mut b = [0u8; 16];
        t.copy_in(sig, &mut b)?;
        let (mask, size) = (
            u64::from_le_bytes(b[0..8].try_into().unwrap_or_default()),
            u64::from_le_bytes(b[8..16].try_into().unwrap_or_default()),
        );
        temp_mask(t, mask, size)?;
    }
    let r = do_select(t, t.arg(0) as i32, [t.arg(1), t.arg(2), t.arg(3)], d);
    end_temp_mask(t, &r);
    r
}

// ---- epoll ----

struct Interest {
    file: Weak<File>,
    events: u32,
    data: u64,
    disabled: bool,
    /// EPOLLET: the file's queue generations when it was last reported (see
    /// [`WaitQueue::generations`]); it is reported again only after a wake-up since, in a
    /// direction it watches.
    seen: (u64, u64),
    /// EPOLLET: report once if ready, as just added or modified (ep_insert/ep_modify check the
    /// file at once).
    armed: bool,
}

impl Interest {
    fn new(file: &Arc<File>, ev: EpollEvent) -> Interest {
        Interest {
            file: Arc::downgrade(file),
            events: ev.events,
            data: ev.data,
            disabled: false,
            seen: (0, 0),
            armed: true,
        }
    }

    /// For an edge-triggered interest: whether a wake-up it watches came since the last report,
    /// and the generations to record if it is reported now.
    fn edge(&self, f: &File) -> (bool, (u64, u64)) {
        let Some(q) = f.ops.poll_queue() else {
            return (true, self.seen);
        };
        let g = q.generations();
        use crate::kernel::block::{BAND_IN, BAND_OUT};
        let always = POLLERR | POLLHUP;
        let woke = self.armed
            || (g.0 != self.seen.0 && self.events & (BAND_IN | always) != 0)
            || (g.1 != self.seen.1 && self.events & (BAND_OUT | always) != 0);
        (woke, g)
    }
}

/// An epoll instance.
/// How deep epolls may nest (EP_MAX_NESTS).
const EP_MAX_NESTS: usize = 4;

#[derive(Default)]
struct Epoll {
    interest: Mutex<BTreeMap<(i32, u64), Interest>>,
    /// The interest reported last when a wait filled its buffer: the next wait starts after
    /// it, so that every ready file is reported in turn (Linux moves reported level-triggered
    /// files to the tail of its ready list).
    cursor: Mutex<Option<(i32, u64)>>,
    queue: WaitQueue,
}

impl Epoll {
    fn ready(&self, max: usize) -> Vec<EpollEvent> {
        let mut out = Vec::new();
        let mut list = lock(&self.interest);
        list.retain(|_, i| i.file.strong_count() > 0);
        let mut cursor = lock(&self.cursor);
        // Round robin from just after the last interest reported by a full wait.
        let keys: Vec<(i32, u64)> = match *cursor {
            Some(c) => list
                .range((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))
                .chain(list.range(..=c))
                .map(|(k, _)| *k)
                .collect(),
            None => list.keys().copied().collect(),
        };
        for key in keys {
            if out.len() >= max {
                break;
            }
            let Some(i) = list.get_mut(&key) else {
                continue;
            };
            if i.disabled {
                continue;
            }
            let Some(f) = i.file.upgrade() else { continue };
            let et = i.events & EPOLLET != 0;
            let (woke, gens) = if et { i.edge(&f) } else { (true, i.seen) };
            if !woke {
                continue;
            }
            let ev = f.ops.poll_events() & (i.events | POLLERR | POLLHUP);
            if et {
                // The wake-up is used up whether or not the file is ready (ep_send_events).
                let fresh = gens != i.seen || i.armed;
                i.seen = gens;
                i.armed = false;
                // EPOLLEXCLUSIVE: one wake-up is reported by one of the exclusive waiters on
                // the file (the kernel wakes only one of them).
                if ev != 0
                    && fresh
                    && i.events & EPOLLEXCLUSIVE != 0
                    && !f.ops.poll_queue().is_some_and(|q| q.claim_exclusive(gens))
                {
                    continue;
                }
            }
            if ev != 0 {
                out.push(EpollEvent {
                    events: ev,
                    data: i.data,
                });
                if i.events & EPOLLONESHOT != 0 {
                    i.disabled = true;
                }
                if out.len() >= max {
                    *cursor = Some(key);
                }
            }
        }
        out
    }

    fn files(&self) -> Vec<Arc<File>> {
        lock(&self.interest)
            .values()
            .filter_map(|i| i.file.upgrade())
            .collect()
    }
}

struct EpollFile(Arc<Epoll>);

impl FileOps for EpollFile {
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_mode: 0o600,
            st_nlink: 1,
            st_blksize: 4096,
            st_dev: crate::kernel::PIPEFS_DEV,
            ..Default::default()
        })
    }

    fn poll_events(&self) -> u32 {
        if self.0.files().iter().any(|f| {
            lock(&self.0.interest).values().any(|i| {
                i.file.upgrade().is_some_and(|g| Arc::ptr_eq(&g, f))
                    && !i.disabled
                    && f.ops.poll_events() & (i.events | POLLERR | POLLHUP) != 0
            })
        }) {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }
}

/// Epoll instances by the id of their file description.
fn registry() -> &'static Mutex<HashMap<u64, Weak<Epoll>>> {
    static R: OnceLock<Mutex<HashMap<u64, Weak<Epoll>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn new_epoll(t: &Task, flags: u32) -> SysResult {
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let ep = Arc::new(Epoll::default());
    let file = File::new(
        Box::new(EpollFile(ep.clone())),
        O_RDWR,
        "anon_inode:[eventpoll]",
    );
    {
        let mut r = lock(registry());
        r.retain(|_, w| w.strong_count() > 0);
        r.insert(file.id, Arc::downgrade(&ep));
    }
    let limit = t.rlimit(RLIMIT_NOFILE);
    t.fds()
        .alloc(file, flags & O_CLOEXEC != 0, 0, limit)
        .map(|fd| fd as u64)
}

/// Implements epoll_create(2).
pub fn sys_epoll_create(t: &mut Task) -> SysResult {
    if (t.arg(0) as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    new_epoll(t, 0)
}

/// Implements epoll_create1(2).
pub fn sys_epoll_create1(t: &mut Task) -> SysResult {
    new_epoll(t, t.arg(0) as u32)
}

/// The epoll a file is, if it is one.
fn epoll_of_file(f: &File) -> Option<Arc<Epoll>> {
    lock(registry()).get(&f.id).and_then(Weak::upgrade)
}

/// Whether `from` watches `to`, directly or through nested epolls.
fn reaches(from: &Arc<Epoll>, to: &Arc<Epoll>, depth: usize) -> bool {
    if Arc::ptr_eq(from, to) {
        return true;
    }
    if depth > EP_MAX_NESTS {
        return false;
    }
    from.files()
        .iter()
        .filter_map(|f| epoll_of_file(f))
        .any(|inner| reaches(&inner, to, depth + 1))
}

/// How many levels of epolls `ep` watches below itself (0: none).
fn depth_below(ep: &Arc<Epoll>, depth: usize) -> usize {
    if depth > EP_MAX_NESTS {
        return depth;
    }
    ep.files()
        .iter()
        .filter_map(|f| epoll_of_file(f))
        .map(|inner| 1 + depth_below(&inner, depth + 1))
        .max()
        .unwrap_or(0)
}

/// kcmp's KCMP_EPOLL_TFD: the file the epoll `ep` watches as the `toff`-th registration of
/// descriptor `tfd` (EINVAL when `ep` is not an epoll, ENOENT when there is no such one).
pub(crate) fn epoll_target(ep: &File, tfd: i32, toff: u32) -> Result<Arc<File>, Errno> {
    let ep = epoll_of_file(ep).ok_or(Errno::EINVAL)?;
    let list = lock(&ep.interest);
    list.range((tfd, 0)..=(tfd, u64::MAX))
        .filter_map(|(_, i)| i.file.upgrade())
        .nth(toff as usize)
        .ok_or(Errno::ENOENT)
}

fn epoll_of(t: &Task, fd: i32) -> Result<Arc<Epoll>, Errno> {
    let f = t.file(fd)?;
    lock(registry())
        .get(&f.id)
        .and_then(Weak::upgrade)
        .ok_or(Errno::EINVAL)
}

/// Implements epoll_ctl(2).
pub fn sys_epoll_ctl(t: &mut Task) -> SysResult {
    let (epfd, op, fd, ev_addr) = (t.arg(0) as i32, t.arg(1) as u32, t.arg(2) as i32, t.arg(3));
    let epf = t.file(epfd)?;
    let target = t.file(fd)?;
    // epoll_ctl's fdget does not see O_PATH descriptors.
    if epf.flags() & O_PATH != 0 || target.flags() & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let ep = epoll_of(t, epfd)?;
    if fd == epfd || Arc::ptr_eq(&epf, &target) {
        return Err(Errno::EINVAL);
    }
    // An epoll watching an epoll: no cycle, and no deeper than EP_MAX_NESTS (ep_loop_check).
    if op == EPOLL_CTL_ADD {
        if let Some(inner) = epoll_of_file(&target) {
            if reaches(&inner, &ep, 0) || 1 + depth_below(&inner, 0) > EP_MAX_NESTS {
                return Err(Errno::ELOOP);
            }
        }
    }
    // Files that are always ready (regular files, directories) cannot be watched.
    if target.ops.poll_queue().is_none() && !target.ops.polls_host() {
        return Err(Errno::EPERM);
    }
    let ev: Option<EpollEvent> = if op != EPOLL_CTL_DEL {
        Some(t.read_val(ev_addr)?)
    } else {
        None
    };
    let key = (fd, target.id);
    let mut list = lock(&ep.interest);
    match op {
        EPOLL_CTL_ADD => {
            if list.contains_key(&key) {
                return Err(Errno::EEXIST);
            }
            let ev = ev.ok_or(Errno::EINVAL)?;
            // EPOLLEXCLUSIVE takes only these companions, and no epoll target.
            let exclusive_ok =
                EPOLLEXCLUSIVE | POLLIN | POLLOUT | POLLERR | POLLHUP | EPOLLET | EPOLLWAKEUP;
            if ev.events & EPOLLEXCLUSIVE != 0
                && (ev.events & !exclusive_ok != 0 || epoll_of_file(&target).is_some())
            {
                return Err(Errno::EINVAL);
            }
            list.insert(key, Interest::new(&target, ev));
        }
        EPOLL_CTL_MOD => {
            let i = list.get_mut(&key).ok_or(Errno::ENOENT)?;
            let ev = ev.ok_or(Errno::EINVAL)?;
            if ev.events & EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            i.events = ev.events;
            i.data = ev.data;
            i.disabled = false;
            i.armed = true;
        }
        EPOLL_CTL_DEL => {
            list.remove(&key).ok_or(Errno::ENOENT)?;
        }
        _ => return Err(Errno::EINVAL),
    }
    drop(list);
    ep.queue.notify_all();
    Ok(0)
}

fn do_epoll_wait(
    t: &mut Task,
    epfd: i32,
    addr: u64,
    max: i32,
    deadline: Option<Instant>,
) -> SysResult {
    if max <= 0 || max as usize > (i32::MAX as usize) / 12 {
        return Err(Errno::EINVAL);
    }
    let ep = epoll_of(t, epfd)?;
    let mut files = ep.files();
    files.push(t.file(epfd)?); // its own queue: woken when the interest list changes
    let events = wait_ready(&files, deadline, || {
        let r = ep.ready(max as usize);
        (!r.is_empty()).then_some(r)
    })
    .map_err(|e| {
        if e == Errno::ERESTARTNOHAND {
            Errno::EINTR
        } else {
            e
        }
    })?
    .unwrap_or_default();
    let bytes: Vec<u8> = events
        .iter()
        .flat_map(|e| syscalls::bytes_of(e).to_vec())
        .collect();
    t.copy_out(addr, &bytes)?;
    Ok(events.len() as u64)
}

/// Implements epoll_wait(2).
pub fn sys_epoll_wait(t: &mut Task) -> SysResult {
    let d = deadline_ms(t.arg(3) as i32);
    do_epoll_wait(t, t.arg(0) as i32, t.arg(1), t.arg(2) as i32, d)
}

/// Implements epoll_pwait2(2): epoll_pwait with a timespec timeout (NULL: none).
pub fn sys_epoll_pwait2(t: &mut Task) -> SysResult {
    let d = deadline_ts(t, t.arg(3))?;
    temp_mask(t, t.arg(4), t.arg(5))?;
    let r = do_epoll_wait(t, t.arg(0) as i32, t.arg(1), t.arg(2) as i32, d);
    end_temp_mask(t, &r);
    r
}

/// Implements epoll_pwait(2).
pub fn sys_epoll_pwait(t: &mut Task) -> SysResult {
    let d = deadline_ms(t.arg(3) as i32);
    temp_mask(t, t.arg(4), t.arg(5))?;
    let r = do_epoll_wait(t, t.arg(0) as i32, t.arg(1), t.arg(2) as i32, d);
    end_temp_mask(t, &r);
    r
}
