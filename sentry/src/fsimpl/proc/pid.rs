// SPDX-License-Identifier: Apache-2.0
//! /proc/[pid] and /proc/[pid]/task/[tid].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::nodes::{fixed_dir, Gen, GenDir, GenFile, GenLink};
use super::{kernel, text};
use crate::kernel::tree::TaskShared;
use crate::kernel::{lock, TaskInfo};
use crate::mm::Backing;
use crate::vfs::Inode;

/// The process `pid`'s thread group (a zombie's too).
fn thread_group(pid: i32) -> Result<Arc<crate::kernel::tree::ThreadGroup>, Errno> {
    let k = kernel()?;
    let tree = lock(&k.tree);
    tree.procs
        .get(&pid)
        .map(|p| p.tg.clone())
        .ok_or(Errno::ESRCH)
}

/// Inode number of entry `kind` of process `pid`.
pub fn ino(pid: i32, kind: u64) -> u64 {
    ((pid as u64) << 16) | kind | 0x1_0000_0000
}

type Maker = Arc<dyn Fn() -> Arc<dyn Inode> + Send + Sync>;

/// A thread of the process (the leader while it lives) and what it published.
pub(super) fn task_of(pid: i32, tid: Option<i32>) -> Result<(Arc<TaskShared>, TaskInfo), Errno> {
    let k = kernel()?;
    let t = match tid {
        Some(tid) => lock(&k.tree).threads.get(&tid).cloned(),
        None => {
            let tree = lock(&k.tree);
            let p = tree.procs.get(&pid).ok_or(Errno::ESRCH)?;
            let tasks = lock(&p.tg.tasks);
            tasks
                .iter()
                .find(|t| t.tid == pid)
                .or(tasks.first())
                .cloned()
                .or_else(|| lock(&p.tg.leader).clone())
        }
    }
    .ok_or(Errno::ESRCH)?;
    let info = lock(&t.info).clone().ok_or(Errno::ESRCH)?;
    Ok((t, info))
}

fn gen(
    dev: u64,
    pid: i32,
    kind: u64,
    f: impl Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static,
) -> Maker {
    let g: Gen = Arc::new(f);
    Arc::new(move || GenFile::ro(dev, ino(pid, kind), g.clone()))
}

/// A view of the mount table of process `pid`'s namespace, pollable for its changes.
fn mount_table(
    dev: u64,
    pid: i32,
    kind: u64,
    f: impl Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static,
) -> Maker {
    let g: Gen = Arc::new(f);
    let w: super::nodes::WatchMounts = Arc::new(move || {
        let (_, info) = task_of(pid, None)?;
        let fs = lock(&*info.fs()?).clone();
        Ok(fs.mnt.clone())
    });
    Arc::new(move || GenFile::mount_table(dev, ino(pid, kind), g.clone(), w.clone()))
}

/// A link Linux makes magic (exe, cwd, root): its text computed when read.
fn magic_path_link(
    dev: u64,
    pid: i32,
    kind: u64,
    f: impl Fn() -> Result<Vec<u8>, Errno> + Send + Sync + 'static,
) -> Maker {
    let g: Gen = Arc::new(f);
    Arc::new(move || GenLink::magic_path(dev, ino(pid, kind), g.clone()))
}

fn comm_str(c: &[u8; 16]) -> String {
    String::from_utf8_lossy(&c[..c.iter().position(|b| *b == 0).unwrap_or(16)]).into_owned()
}

fn state_char(pid: i32, t: &TaskShared) -> char {
    let Ok(k) = kernel() else { return 'R' };
    let tree = lock(&k.tree);
    if tree.procs.get(&pid).is_some_and(|p| p.zombie.is_some()) {
        return 'Z';
    }
    drop(tree);
    if t.state() == 't' {
        return 't';
    }
    if lock(&t.tg.stopped).is_some() {
        return 'T';
    }
    t.state()
}

fn read_user(info: &TaskInfo, range: (u64, u64)) -> Vec<u8> {
    let (a, b) = range;
    if b <= a || b - a > (1 << 20) {
        return Vec::new();
    }
    let mut buf = vec![0u8; (b - a) as usize];
    let Ok(mm) = info.mm() else { return Vec::new() };
    let r = lock(&mm).copy_in(a, &mut buf);
    match r {
        Ok(()) => buf,
        Err(_) => Vec::new(),
    }
}

/// Whether `pid` is the sentry's own init (a process with no thread and no stub).
fn is_virtual_init(pid: i32) -> bool {
    kernel()
        .is_ok_and(|k| pid != 0 && k.virtual_init.load(std::sync::atomic::Ordering::Acquire) == pid)
}

fn stat_line(pid: i32, tid: Option<i32>) -> Result<Vec<u8>, Errno> {
    let k = kernel()?;
    if is_virtual_init(pid) {
        let mut f = vec![
            pid.to_string(),
            "(init)".into(),
            "S".into(),
            "0".into(),
            pid.to_string(),
            pid.to_string(),
        ];
        f.extend(std::iter::repeat_n("0".to_string(), 46));
        return text(f.join(" ") + "\n");
    }
    let (t, info) = task_of(pid, tid)?;
    let (ppid, pgid, sid, tty_sid) = {
        let tree = lock(&k.tree);
        let p = tree.procs.get(&pid).ok_or(Errno::ESRCH)?;
        (p.parent, p.pgid, p.sid, crate::fsimpl::tty::tty_sid(p))
    };
    // A zombie's memory is gone: its numbers read as zero, as on Linux.
    let mm_arc = info.mm().ok();
    let mm_guard = mm_arc.as_ref().map(|m| lock(m));
    let vsize: u64 = mm_guard.as_ref().map(|mm| mm.mapped_bytes()).unwrap_or(0);
    let (brk_start, brk, args, env) = mm_guard
        .as_ref()
        .map(|mm| (mm.brk_start, mm.brk, mm.args, mm.env))
        .unwrap_or_default();
    drop(mm_guard);
    let threads = lock(&t.tg.tasks).len();
    let cpu = crate::kernel::timer::cpu_time(info.host_pid);
    let ticks = cpu.as_millis() / 10;
    let start = t.start.saturating_duration_since(k.boot).as_millis() / 10;
    let nice = lock(&t.sched).nice;
    let (pend, blocked) = (
        lock(&t.pending).set | lock(&t.tg.pending).set,
        *lock(&t.sigmask),
    );
    let sh = t.tg.sighand();
    let acts = lock(&sh).actions;
    let (mut ign, mut cgt) = (0u64, 0u64);
    for (i, a) in acts.iter().enumerate() {
        match a.handler {
            SIG_DFL => {}
            SIG_IGN => ign |= 1 << i,
            _ => cgt |= 1 << i,
        }
    }
    let (astart, aend) = args;
    let (estart, eend) = env;
    // The controlling terminal (its device number, as the kernel encodes it) and its
    // foreground group.
    let (tty_nr, tpgid) = match crate::fsimpl::tty::ctty_of(&k, tty_sid) {
        Some(term) => {
            let minor = term.index;
            let nr = (136u32 << 8) | (minor & 0xff) | ((minor & !0xff) << 12);
            (nr as i32, term.job().1.unwrap_or(-1))
        }
        None => (0, -1),
    };
    let f: Vec<String> = vec![
        tid.unwrap_or(pid).to_string(),
        format!("({})", comm_str(&info.comm)),
        state_char(pid, &t).to_string(),
        ppid.to_string(),
        pgid.to_string(),
        sid.to_string(),
        tty_nr.to_string(),
        tpgid.to_string(),
        "4194560".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        ticks.to_string(), // utime
        "0".into(),        // stime
        "0".into(),
        "0".into(),
        (20 + nice).to_string(),
        nice.to_string(),
        threads.to_string(),
        "0".into(),
        start.to_string(),
        vsize.to_string(),
        "0".into(), // rss
        u64::MAX.to_string(),
        "0".into(),
        "0".into(),
        crate::mm::STACK_TOP.to_string(),
        "0".into(),
        "0".into(),
        pend.to_string(),
        blocked.to_string(),
        ign.to_string(),
        cgt.to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        "17".into(),
        crate::host::current_cpu().to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        brk_start.to_string(),
        brk_start.to_string(),
        brk.to_string(),
        astart.to_string(),
        aend.to_string(),
        estart.to_string(),
        eend.to_string(),
        "0".into(),
    ];
    let s = f.join(" ") + "\n";
    text(s)
}

fn status(pid: i32, tid: Option<i32>) -> Result<Vec<u8>, Errno> {
    let k = kernel()?;
    if is_virtual_init(pid) {
        return text(format!(
            "Name:\tinit\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t0\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t1\n"
        ));
    }
    let (t, info) = task_of(pid, tid)?;
    let ppid = lock(&k.tree).procs.get(&pid).map(|p| p.parent).unwrap_or(0);
    let mm_arc = info.mm()?;
    let mm = lock(&mm_arc);
    let vsize: u64 = mm.mapped_bytes();
    let (u, g) = (info.creds.uid, info.creds.gid);
    let groups: Vec<String> = info.creds.groups.iter().map(|g| g.to_string()).collect();
    let sh = t.tg.sighand();
    let acts = lock(&sh).actions;
    let (mut ign, mut cgt) = (0u64, 0u64);
    for (i, a) in acts.iter().enumerate() {
        match a.handler {
            SIG_DFL => {}
            SIG_IGN => ign |= 1 << i,
            _ => cgt |= 1 << i,
        }
    }
    let cpus = lock(&t.sched).cpus;
    let st = state_char(pid, &t);
    let state = match st {
        'R' => "R (running)",
        'S' => "S (sleeping)",
        'T' => "T (stopped)",
        't' => "t (tracing stop)",
        'Z' => "Z (zombie)",
        _ => "S (sleeping)",
    };
    let s = format!(
        "Name:\t{}\nUmask:\t{:04o}\nState:\t{}\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t{}\n\
Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{}\n\
VmPeak:\t{} kB\nVmSize:\t{} kB\nVmLck:\t{} kB\nVmRSS:\t0 kB\nRssAnon:\t0 kB\nRssFile:\t0 kB\nVmData:\t0 kB\nVmStk:\t132 kB\nVmExe:\t0 kB\nVmLib:\t0 kB\nVmSwap:\t0 kB\n\
Threads:\t{}\nSigQ:\t0/63459\nSigPnd:\t{:016x}\nShdPnd:\t{:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{:016x}\nSigCgt:\t{:016x}\n\
CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n\
NoNewPrivs:\t{}\nSeccomp:\t{}\nSeccomp_filters:\t{}\nCpus_allowed:\t{}\nCpus_allowed_list:\t{}\nvoluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n",
        comm_str(&info.comm),
        lock(&*info.fs()?).umask,
        state,
        pid,
        tid.unwrap_or(pid),
        ppid,
        t.ptrace.tracer_pid(),
        u.0,
        u.1,
        u.2,
        info.creds.fsuid,
        g.0,
        g.1,
        g.2,
        info.creds.fsgid,
        groups.join(" "),
        vsize / 1024,
        vsize / 1024,
        mm.locked_bytes() / 1024,
        lock(&t.tg.tasks).len(),
        lock(&t.pending).set,
        lock(&t.tg.pending).set,
        *lock(&t.sigmask),
        ign,
        cgt,
        info.creds.caps_inheritable,
        info.creds.caps_permitted,
        info.creds.caps,
        info.creds.caps_bounding,
        info.creds.caps_ambient,
        u8::from(info.no_new_privs),
        t.seccomp.mode(),
        t.seccomp.filter_count(),
        cpus.hex(),
        cpus.list(),
    );
    text(s)
}

/// What /proc/[pid]/smaps says of one mapping's memory, in bytes. The sentry does not see
/// which pages the host has faulted in; it reports a mapping with any access as wholly
/// resident (as gVisor's smaps does for what it cannot count; mincore(2) asks the host).
#[derive(Default)]
struct MapUse {
    size: u64,
    rss: u64,
    shared_clean: u64,
    private_clean: u64,
    private_dirty: u64,
    anon: u64,
    locked: u64,
}

impl MapUse {
    fn of(v: &crate::mm::Vma) -> MapUse {
        let size = v.end - v.start;
        let rss = if v.prot & (PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
            size
        } else {
            0
        };
        let anon = matches!(v.backing, Backing::Anon) && !v.shared;
        MapUse {
            size,
            rss,
            shared_clean: if v.shared { rss } else { 0 },
            private_clean: if !v.shared && !anon { rss } else { 0 },
            private_dirty: if anon { rss } else { 0 },
            anon: if anon { rss } else { 0 },
            locked: if v.locked != 0 { rss } else { 0 },
        }
    }

    fn add(&mut self, o: &MapUse) {
        self.size += o.size;
        self.rss += o.rss;
        self.shared_clean += o.shared_clean;
        self.private_clean += o.private_clean;
        self.private_dirty += o.private_dirty;
        self.anon += o.anon;
        self.locked += o.locked;
    }

    /// The fields, in Linux's order and layout (`show_smap`, `__show_smap`).
    fn write(&self, s: &mut String, with_size: bool) {
        let mut f =
            |name: &str, bytes: u64| s.push_str(&format!("{name:<16}{:>8} kB\n", bytes / 1024));
        if with_size {
            f("Size:", self.size);
            f("KernelPageSize:", 4096);
            f("MMUPageSize:", 4096);
        }
        f("Rss:", self.rss);
        f("Pss:", self.rss);
        f("Pss_Dirty:", self.private_dirty);
        if !with_size {
            f("Pss_Anon:", self.anon);
            f("Pss_File:", self.rss - self.anon);
            f("Pss_Shmem:", 0);
        }
        f("Shared_Clean:", self.shared_clean);
        f("Shared_Dirty:", 0);
        f("Private_Clean:", self.private_clean);
        f("Private_Dirty:", self.private_dirty);
        f("Referenced:", self.rss);
        f("Anonymous:", self.anon);
        f("KSM:", 0);
        f("LazyFree:", 0);
        f("AnonHugePages:", 0);
        f("ShmemPmdMapped:", 0);
        f("FilePmdMapped:", 0);
        f("Shared_Hugetlb:", 0);
        f("Private_Hugetlb:", 0);
        f("Swap:", 0);
        f("SwapPss:", 0);
        f("Locked:", self.locked);
    }
}

/// smaps_rollup: one line for the whole address space, then the sums.
fn smaps_rollup(pid: i32, tid: Option<i32>) -> Result<Vec<u8>, Errno> {
    let (_, info) = task_of(pid, tid)?;
    let mm_arc = info.mm()?;
    let mm = lock(&mm_arc);
    let mut total = MapUse::default();
    let (mut lo, mut hi) = (u64::MAX, 0);
    for v in mm
        .vmas()
        .filter(|v| !matches!(v.backing, Backing::Reserved(_)))
    {
        total.add(&MapUse::of(v));
        lo = lo.min(v.start);
        hi = hi.max(v.end);
    }
    if lo > hi {
        (lo, hi) = (0, 0);
    }
    let mut s = format!(
        "{lo:08x}-{hi:08x} ---p 00000000 00:00 0{:<24} [rollup]\n",
        ""
    );
    total.write(&mut s, false);
    text(s)
}

/// /proc/[pid]/maps, or with `smaps` /proc/[pid]/smaps (each line followed by its fields).
pub(super) fn map_lines(pid: i32, tid: Option<i32>, smaps: bool) -> Result<Vec<u8>, Errno> {
    let (_, info) = task_of(pid, tid)?;
    let mm_arc = info.mm()?;
    let mm = lock(&mm_arc);
    let mut s = String::new();
    for v in mm.vmas() {
        let (name, offset, dev, inode) = match &v.backing {
            Backing::Reserved("[stub]") => continue,
            Backing::Reserved(n) => (n.to_string(), 0, 0, 0),
            Backing::Vdso => ("[vdso]".to_string(), 0, 0, 0),
            Backing::Anon => (v.name.unwrap_or("").to_string(), 0, 0, 0),
            Backing::File { file, offset } => {
                let st = file.ops.stat().unwrap_or_default();
                (file.path.clone(), *offset, st.st_dev, st.st_ino)
            }
        };
        let prot = |b: u32, c: char| if v.prot & b != 0 { c } else { '-' };
        let (maj, min) = dev_split(dev);
        let line = format!(
            "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {}",
            v.start,
            v.end,
            prot(PROT_READ, 'r'),
            prot(PROT_WRITE, 'w'),
            prot(PROT_EXEC, 'x'),
            if v.shared { 's' } else { 'p' },
            offset,
            maj,
            min,
            inode
        );
        if name.is_empty() {
            s.push_str(&line);
            s.push('\n');
        } else {
            s.push_str(&format!("{line:<72} {name}\n"));
        }
        if smaps {
            MapUse::of(v).write(&mut s, true);
            s.push_str(&format!("THPeligible:    {:>8}\n", 0));
            let mut flags: Vec<&str> = Vec::new();
            for (b, n) in [(PROT_READ, "rd"), (PROT_WRITE, "wr"), (PROT_EXEC, "ex")] {
                if v.prot & b != 0 {
                    flags.push(n);
                }
            }
            if v.shared {
                flags.push("sh");
            }
            flags.extend(["mr", "mw", "me"]);
            if v.shared {
                flags.push("ms");
            }
            if v.locked != 0 {
                flags.push("lo");
            }
            if !v.shared && (v.prot & PROT_WRITE != 0 || matches!(v.backing, Backing::Anon)) {
                flags.push("ac");
            }
            s.push_str(&format!("VmFlags: {} \n", flags.join(" ")));
        }
    }
    text(s)
}

fn limits(pid: i32) -> Result<Vec<u8>, Errno> {
    let (_, info) = task_of(pid, None)?;
    let l = *lock(&info.limits);
    let names = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let v = |x: u64| {
        if x == RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            x.to_string()
        }
    };
    let mut s = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for (i, (n, u)) in names.iter().enumerate() {
        s.push_str(&format!(
            "{:<25} {:<20} {:<20} {:<10}\n",
            n,
            v(l[i].rlim_cur),
            v(l[i].rlim_max),
            u
        ));
    }
    text(s)
}

/// The root and mount namespace of the task reading /proc (paths in /proc are shown relative
/// to the reader's root, as Linux's d_path does).
fn reader_fs() -> Option<crate::kernel::FsContext> {
    let me = crate::kernel::block::current()?;
    let info = lock(&me.info).clone()?;
    let fs = info.fs().ok()?;
    let c = lock(&fs).clone();
    Some(c)
}

/// `path` (absolute in the mount namespace) as the reading task sees it.
fn shown(path: String) -> String {
    match reader_fs() {
        Some(fs) => fs.visible(&path).unwrap_or(path),
        None => path,
    }
}

/// One line per mount of `pid`'s namespace that the reader can see, in the form `line` gives
/// it from (mount, its source, the point as seen, the parent's id).
fn mount_lines(
    pid: i32,
    line: impl Fn(&crate::vfs::mount::Mount, &str, &str, u32) -> String,
) -> Result<Vec<u8>, Errno> {
    let (_, info) = task_of(pid, None)?;
    let fs = lock(&*info.fs()?).clone();
    let list = fs.mnt.read().list();
    let mut s = String::new();
    for m in &list {
        let Some(point) = fs.visible(&m.point) else {
            continue;
        };
        let src = if m.source.is_empty() {
            m.fs.name().to_string()
        } else {
            m.source.clone()
        };
        // The parent: the latest mount whose point holds this one (itself for the root).
        let parent = list
            .iter()
            .filter(|p| p.id < m.id && crate::vfs::mount::is_under(&m.point, &p.point))
            .map(|p| p.id)
            .max()
            .unwrap_or(m.id);
        s.push_str(&line(m, &src, &point, parent));
    }
    text(s)
}

/// A path or source as /proc/mounts and mountinfo show it: space, tab, newline and backslash
/// as octal escapes (Linux's mangle), so the fields stay separable.
fn mangle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn mounts(pid: i32) -> Result<Vec<u8>, Errno> {
    mount_lines(pid, |m, src, point, _| {
        format!(
            "{} {} {} {} 0 0\n",
            mangle(src),
            mangle(point),
            m.fs.name(),
            m.option_string()
        )
    })
}

fn mountinfo(pid: i32) -> Result<Vec<u8>, Errno> {
    mount_lines(pid, |m, src, point, parent| {
        let fs_opts = lock(&m.options).clone();
        let rw = format!(
            "{}{}",
            if m.fs.read_only() { "ro" } else { "rw" },
            crate::vfs::mount::sb_options(&m.fs)
        );
        let prop = m.propagation_fields();
        format!(
            "{} {} 0:{} {} {} {}{}{} - {} {} {}{}{}\n",
            m.id,
            parent,
            m.id,
            mangle(m.root_path()),
            mangle(point),
            m.flag_string(),
            if prop.is_empty() { "" } else { " " },
            prop,
            m.fs.name(),
            mangle(src),
            rw,
            if fs_opts.is_empty() { "" } else { "," },
            fs_opts
        )
    })
}

fn fd_target(info: &TaskInfo, fd: i32) -> Result<Vec<u8>, Errno> {
    let f = lock(&*info.fds()?).file(fd).map_err(|_| Errno::ENOENT)?;
    let st = f.ops.stat().unwrap_or_default();
    let p = match st.st_mode & S_IFMT {
        S_IFIFO if f.path.starts_with("pipe") => format!("pipe:[{}]", st.st_ino),
        S_IFSOCK => format!("socket:[{}]", st.st_ino),
        // An unlinked file keeps its name, marked as Linux's d_path marks it.
        S_IFREG
            if st.st_nlink == 0 && f.path.starts_with('/') && !f.path.ends_with(" (deleted)") =>
        {
            format!("{} (deleted)", shown(f.path.clone()))
        }
        _ if f.path.starts_with('/') => shown(f.path.clone()),
        _ => f.path.clone(),
    };
    Ok(p.into_bytes())
}

fn fd_dir(dev: u64, pid: i32, tid: Option<i32>, info_dir: bool) -> Arc<dyn Inode> {
    let kind = if info_dir { 0x30 } else { 0x20 };
    GenDir::new(
        dev,
        ino(pid, kind),
        Arc::new(move || {
            let Ok((_, info)) = task_of(pid, tid) else {
                return Vec::new();
            };
            let Ok(table) = info.fds() else {
                return Vec::new();
            };
            let fds: Vec<i32> = lock(&table).iter().map(|(fd, _)| fd).collect();
            fds.into_iter()
                .map(|fd| {
                    (
                        fd.to_string().into_bytes(),
                        ino(pid, 0x1000 + fd as u64),
                        if info_dir { DT_REG } else { DT_LNK },
                    )
                })
                .collect()
        }),
        Arc::new(move |name| {
            let fd: i32 = std::str::from_utf8(name)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Errno::ENOENT)?;
            let (_, info) = task_of(pid, tid)?;
            lock(&*info.fds()?).file(fd).map_err(|_| Errno::ENOENT)?;
            let i = ino(pid, 0x1000 + fd as u64);
            if info_dir {
                Ok(GenFile::ro(
                    dev,
                    i,
                    Arc::new(move || {
                        let (_, info) = task_of(pid, tid)?;
                        let e = lock(&*info.fds()?)
                            .get(fd)
                            .map_err(|_| Errno::ENOENT)?
                            .clone();
                        let pos = *e.file.pos.lock().unwrap_or_else(|x| x.into_inner());
                        let flags = e.file.flags() | if e.cloexec { O_CLOEXEC } else { 0 };
                        let ino = e.file.ops.stat().map(|s| s.st_ino).unwrap_or(0);
                        let watches = crate::vfs::notify::fdinfo(e.file.id);
                        let more = e.file.ops.fdinfo();
                        text(format!(
                            "pos:\t{pos}\nflags:\t{flags:07o}\nmnt_id:\t0\nino:\t{ino}\n{watches}{more}"
                        ))
                    }),
                ))
            } else {
                Ok(GenLink::magic(
                    dev,
                    i,
                    Arc::new(move || {
                        let (_, info) = task_of(pid, tid)?;
                        fd_target(&info, fd)
                    }),
                    Arc::new(move || {
                        let (_, info) = task_of(pid, tid)?;
                        let f = lock(&*info.fds()?).file(fd).map_err(|_| Errno::ENOENT)?;
                        Ok(crate::vfs::reopen::fd_target(&f))
                    }),
                ))
            }
        }),
    )
}

fn entries(dev: u64, pid: i32, tid: Option<i32>) -> Vec<(&'static str, Maker)> {
    vec![
        ("stat", gen(dev, pid, 1, move || stat_line(pid, tid))),
        ("status", gen(dev, pid, 2, move || status(pid, tid))),
        (
            "statm",
            gen(dev, pid, 3, move || {
                let (_, info) = task_of(pid, tid)?;
                let mm_arc = info.mm()?;
                let mm = lock(&mm_arc);
                let pages: u64 = mm.mapped_bytes() / 4096;
                text(format!("{pages} 0 0 0 0 0 0\n"))
            }),
        ),
        (
            "cmdline",
            gen(dev, pid, 4, move || {
                if is_virtual_init(pid) {
                    return Ok(b"init\0".to_vec());
                }
                let (_, info) = task_of(pid, tid)?;
                let r = lock(&*info.mm()?).args;
                Ok(read_user(&info, r))
            }),
        ),
        (
            "environ",
            gen(dev, pid, 5, move || {
                let (_, info) = task_of(pid, tid)?;
                let r = lock(&*info.mm()?).env;
                Ok(read_user(&info, r))
            }),
        ),
        (
            "comm",
            gen(dev, pid, 6, move || {
                if is_virtual_init(pid) {
                    return text("init\n".into());
                }
                let (_, info) = task_of(pid, tid)?;
                text(format!("{}\n", comm_str(&info.comm)))
            }),
        ),
        (
            "maps",
            Arc::new(move || super::procmap::MapsInode::inode(dev, ino(pid, 7), pid, tid)),
        ),
        (
            "mem",
            Arc::new(move || super::mem::MemInode::inode(dev, ino(pid, 25), pid, tid)),
        ),
        (
            "smaps_rollup",
            gen(dev, pid, 8, move || smaps_rollup(pid, tid)),
        ),
        (
            "smaps",
            gen(dev, pid, 24, move || map_lines(pid, tid, true)),
        ),
        (
            "auxv",
            gen(dev, pid, 9, move || {
                let (_, info) = task_of(pid, tid)?;
                let a = lock(&*info.mm()?).auxv.clone();
                Ok(a.iter()
                    .flat_map(|(k, v)| [k.to_le_bytes(), v.to_le_bytes()].concat())
                    .collect())
            }),
        ),
        ("limits", gen(dev, pid, 10, move || limits(pid))),
        ("mounts", mount_table(dev, pid, 11, move || mounts(pid))),
        (
            "mountinfo",
            mount_table(dev, pid, 12, move || mountinfo(pid)),
        ),
        ("cgroup", gen(dev, pid, 13, || text("0::/\n".into()))),
        (
            "timens_offsets",
            Arc::new(move || {
                // The offsets of the task's namespace for children (proc_timens_offsets).
                GenFile::rw_at_start(
                    dev,
                    ino(pid, 26),
                    Arc::new(move || {
                        let (t, _) = task_of(pid, tid)?;
                        let ns = lock(&t.time).children.clone();
                        text(ns.show())
                    }),
                    Arc::new(move |v: &[u8]| {
                        if !caller_capable(CAP_SYS_TIME) {
                            return Err(Errno::EPERM);
                        }
                        let (t, _) = task_of(pid, tid)?;
                        let ns = lock(&t.time).children.clone();
                        ns.write(v)
                    }),
                )
            }),
        ),
        (
            "oom_score_adj",
            Arc::new(move || {
                GenFile::rw(
                    dev,
                    ino(pid, 14),
                    Arc::new(move || {
                        let tg = thread_group(pid)?;
                        text(format!("{}\n", tg.oom_score_adj.load(Ordering::Relaxed)))
                    }),
                    Arc::new(move |v: &[u8]| {
                        let n: i32 = std::str::from_utf8(v)
                            .ok()
                            .and_then(|s| s.trim().parse().ok())
                            .ok_or(Errno::EINVAL)?;
                        if !(-1000..=1000).contains(&n) {
                            return Err(Errno::EINVAL);
                        }
                        // Linux's __set_oom_adj: below the floor needs CAP_SYS_RESOURCE, and
                        // a task holding it sets the floor.
                        let privileged = caller_capable(CAP_SYS_RESOURCE);
                        let tg = thread_group(pid)?;
                        if n < tg.oom_score_adj_min.load(Ordering::Relaxed) && !privileged {
                            return Err(Errno::EACCES);
                        }
                        tg.oom_score_adj.store(n, Ordering::Relaxed);
                        if privileged {
                            tg.oom_score_adj_min.store(n, Ordering::Relaxed);
                        }
                        Ok(())
                    }),
                )
            }),
        ),
        ("oom_score", gen(dev, pid, 15, || text("0\n".into()))),
        (
            "loginuid",
            gen(dev, pid, 16, || text("4294967295\n".into())),
        ),
        ("wchan", gen(dev, pid, 17, || text("0".into()))),
        // The sandbox's one user namespace is the initial one: the identity over all ids.
        (
            "uid_map",
            gen(dev, pid, 21, || {
                text(format!("{:>10} {:>10} {:>10}\n", 0, 0, u32::MAX))
            }),
        ),
        (
            "gid_map",
            gen(dev, pid, 22, || {
                text(format!("{:>10} {:>10} {:>10}\n", 0, 0, u32::MAX))
            }),
        ),
        ("setgroups", gen(dev, pid, 23, || text("allow\n".into()))),
        (
            "exe",
            magic_path_link(dev, pid, 18, move || {
                let (_, info) = task_of(pid, tid)?;
                let (e, inode) = {
                    let mm_arc = info.mm()?;
                    let mm = lock(&mm_arc);
                    (mm.exe.clone(), mm.exe_inode.clone())
                };
                let gone = inode
                    .and_then(|i| i.stat().ok())
                    .is_some_and(|s| s.st_nlink == 0);
                if gone && !e.ends_with(" (deleted)") {
                    return Ok(format!("{} (deleted)", shown(e)).into_bytes());
                }
                Ok(shown(e).into_bytes())
            }),
        ),
        (
            "cwd",
            magic_path_link(dev, pid, 19, move || {
                let (_, info) = task_of(pid, tid)?;
                let c = lock(&*info.fs()?).cwd.clone();
                Ok(shown(c).into_bytes())
            }),
        ),
        (
            "root",
            magic_path_link(dev, pid, 20, move || {
                let (_, info) = task_of(pid, tid)?;
                let r = lock(&*info.fs()?).root.clone();
                Ok(shown(r).into_bytes())
            }),
        ),
        ("fd", Arc::new(move || fd_dir(dev, pid, tid, false))),
        ("fdinfo", Arc::new(move || fd_dir(dev, pid, tid, true))),
        (
            "ns",
            Arc::new(move || {
                // Magic links: followed, they open the namespace (fsimpl/nsfs).
                let l = |n: &'static str, id: u64, k: u64, kind: u64| -> (&'static str, Maker) {
                    // A mount namespace's id is its own (unshare makes new ones).
                    let mnt_id = move || -> Result<u64, Errno> {
                        let (_, info) = task_of(pid, tid)?;
                        let id = lock(&*info.fs()?).mnt.id;
                        Ok(id)
                    };
                    let text: super::nodes::Gen = Arc::new(move || {
                        let id = if kind == CLONE_NEWNS { mnt_id()? } else { id };
                        Ok(format!("{n}:[{id}]").into_bytes())
                    });
                    let magic: super::nodes::Magic = Arc::new(move || {
                        let (mnt, id) = if kind == CLONE_NEWNS {
                            let (_, info) = task_of(pid, tid)?;
                            let m = lock(&*info.fs()?).mnt.clone();
                            let id = m.id;
                            (Some(m), id)
                        } else {
                            (None, id)
                        };
                        Ok(crate::vfs::inode::MagicTarget {
                            inode: crate::fsimpl::nsfs::NsInode::inode(kind, id, mnt),
                            mount: None,
                            path: format!("{n}:[{id}]"),
                        })
                    });
                    let maker: Maker = Arc::new(move || {
                        super::nodes::GenLink::magic(
                            dev,
                            ino(pid, 0x40 + k),
                            text.clone(),
                            magic.clone(),
                        )
                    });
                    (n, maker)
                };
                fixed_dir(
                    dev,
                    ino(pid, 0x3f),
                    vec![
                        l("pid", 4026531836, 0, CLONE_NEWPID),
                        l("mnt", 4026531841, 1, CLONE_NEWNS),
                        l("net", 4026531840, 2, CLONE_NEWNET),
                        l("uts", 4026531838, 3, CLONE_NEWUTS),
                        l("ipc", 4026531839, 4, CLONE_NEWIPC),
                        l("user", 4026531837, 5, CLONE_NEWUSER),
                        l("cgroup", 4026531835, 6, CLONE_NEWCGROUP),
                        time_link(dev, pid, tid, "time", 7, false),
                        time_link(dev, pid, tid, "time_for_children", 8, true),
                    ],
                )
            }),
        ),
    ]
}

/// Whether the task writing a file holds capability `cap` (in its effective set).
fn caller_capable(cap: u32) -> bool {
    crate::kernel::block::current()
        .and_then(|t| {
            lock(&t.info)
                .as_ref()
                .map(|i| i.creds.caps & (1 << cap) != 0)
        })
        .unwrap_or(false)
}

/// /proc/[pid]/ns/time and time_for_children: magic links to the task's time namespaces.
fn time_link(
    dev: u64,
    pid: i32,
    tid: Option<i32>,
    name: &'static str,
    k: u64,
    children: bool,
) -> (&'static str, Maker) {
    let which = move || -> Result<Arc<crate::kernel::timens::TimeNs>, Errno> {
        let (t, _) = task_of(pid, tid)?;
        let time = lock(&t.time);
        Ok(if children {
            time.children.clone()
        } else {
            time.ns.clone()
        })
    };
    // Both read as `time:[id]`, as on Linux.
    let text: super::nodes::Gen =
        Arc::new(move || Ok(format!("time:[{}]", which()?.id).into_bytes()));
    let magic: super::nodes::Magic = Arc::new(move || {
        let ns = which()?;
        Ok(crate::vfs::inode::MagicTarget {
            path: format!("time:[{}]", ns.id),
            inode: crate::fsimpl::nsfs::NsInode::time(ns),
            mount: None,
        })
    });
    let maker: Maker = Arc::new(move || {
        super::nodes::GenLink::magic(dev, ino(pid, 0x40 + k), text.clone(), magic.clone())
    });
    (name, maker)
}

/// /proc/[pid].
pub fn process_dir(dev: u64, pid: i32) -> Arc<dyn Inode> {
    let mut e = entries(dev, pid, None);
    e.push((
        "task",
        Arc::new(move || {
            GenDir::new(
                dev,
                ino(pid, 0x50),
                Arc::new(move || {
                    let Ok(k) = kernel() else { return Vec::new() };
                    let tree = lock(&k.tree);
                    let Some(p) = tree.procs.get(&pid) else {
                        return Vec::new();
                    };
                    let tids: Vec<i32> = lock(&p.tg.tasks).iter().map(|t| t.tid).collect();
                    tids.into_iter()
                        .map(|t| (t.to_string().into_bytes(), ino(t, 0), DT_DIR))
                        .collect()
                }),
                Arc::new(move |name| {
                    let tid: i32 = std::str::from_utf8(name)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or(Errno::ENOENT)?;
                    let k = kernel()?;
                    let ok = lock(&k.tree)
                        .threads
                        .get(&tid)
                        .is_some_and(|t| t.tg.tgid == pid);
                    if ok {
                        Ok(thread_dir(dev, pid, tid))
                    } else {
                        Err(Errno::ENOENT)
                    }
                }),
            )
        }),
    ));
    super::nodes::fixed_dir_of(dev, ino(pid, 0), e, Some(pid))
}

/// /proc/[pid]/task/[tid].
pub fn thread_dir(dev: u64, tgid: i32, tid: i32) -> Arc<dyn Inode> {
    fixed_dir(dev, ino(tid, 0), entries(dev, tgid, Some(tid)))
}
