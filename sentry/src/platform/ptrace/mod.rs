// SPDX-License-Identifier: Apache-2.0
//! The ptrace platform: every application process is a stub host process, and every application
//! thread a host thread of it, traced by the sentry thread of its task and run with
//! PTRACE_SYSEMU so the host skips every application system call.
//!
//! Host-side effects the sentry decides (mmap, munmap, mprotect, ...) are *injected*: the
//! thread's registers are pointed at the `syscall` instruction of the stub's own code page and
//! it runs it, stopping again at the `int3` that follows (gVisor `platform/ptrace`). New
//! threads and processes are cloned at the stub's clone point; the new thread parks itself in a
//! futex wait, untraced, until the sentry thread of the new task seizes it (a tracee is bound to
//! the thread that attached it, DESIGN.md "Known traps"). PTRACE_O_EXITKILL, a parent-death
//! signal and a seccomp backstop (see [`image`]) make sure a stub never runs free.

pub mod image;
pub(crate) mod sys;

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::socket;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use syscalls::{Errno, Sysno};

use self::image::*;
use super::{
    AddressSpace, Context, HostLayout, Interrupter, MapFile, NewContext, Platform, PlatformError,
    Registers, Trap,
};

/// The host signal that interrupts a running stub thread (suppressed at its ptrace stop).
const INTERRUPT_SIGNAL: Signal = Signal::SIGURG;
/// How many donated host fds a stub process keeps open for reuse (mappings and direct reads
/// of the same files).
const DONATED_KEPT: usize = 4;

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;

/// The ptrace platform. Holds the stub image, made once at start-up.
pub struct PtracePlatform {
    image: OwnedFd,
    /// The host layout every stub starts with (learnt from the first one): what to keep, what
    /// to unmap, and the initial stack pointer that identifies it.
    layout: std::sync::OnceLock<StartLayout>,
}

/// What a freshly exec'd stub's address space holds.
#[derive(Clone)]
struct StartLayout {
    keep: HostLayout,
    doomed: Vec<(u64, u64)>,
    rsp: u64,
}

impl PtracePlatform {
    /// Prepares the platform: writes the stub image into a sealed memfd.
    pub fn new() -> Result<Self, PlatformError> {
        use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
        // Learnt before any thread is pinned.
        super::host_cpus();
        let fd = memfd_create(
            c"sandbox-stub",
            MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
        )
        .map_err(PlatformError::host("memfd_create"))?;
        let img = image::build();
        let mut off = 0;
        while off < img.len() {
            off += nix::unistd::write(&fd, &img[off..]).map_err(PlatformError::host("write"))?;
        }
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_truncate(seals)),
        )
        .map_err(PlatformError::host("F_ADD_SEALS"))?;
        Ok(PtracePlatform {
            image: fd,
            layout: std::sync::OnceLock::new(),
        })
    }
}

impl Platform for PtracePlatform {
    fn new_process(&self) -> Result<Box<dyn Context>, PlatformError> {
        Ok(Box::new(StubThread::spawn(&self.image, &self.layout)?))
    }

    fn name(&self) -> &'static str {
        "ptrace"
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One stub process: the host side of one application address space.
struct StubProcess {
    pid: Pid,
    /// The sentry's end of the fd-donation socket (shared with forked children, whose fd 0 is
    /// the same socket: the lock keeps one donation at a time).
    sock: Arc<Mutex<OwnedFd>>,
    layout: HostLayout,
    /// The host fds last donated to the process, most recent last: (file key, fd number in
    /// the process).
    donated: Mutex<Vec<(u64, i32)>>,
    /// Registers at the exec stop: the template for injected calls (segment selectors).
    template: Registers,
}

impl AddressSpace for StubProcess {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        let len = buf.len();
        let remote = [RemoteIoVec {
            base: addr as usize,
            len,
        }];
        match process_vm_readv(self.pid, &mut [IoSliceMut::new(buf)], &remote) {
            Ok(n) if n == len => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        let remote = [RemoteIoVec {
            base: addr as usize,
            len: buf.len(),
        }];
        match process_vm_writev(self.pid, &[IoSlice::new(buf)], &remote) {
            Ok(n) if n == buf.len() => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }

    fn layout(&self) -> &HostLayout {
        &self.layout
    }
}

/// Interrupts one stub thread with a host signal.
struct StubInterrupter {
    pid: Pid,
    tid: Pid,
    alive: AtomicBool,
}

impl Interrupter for StubInterrupter {
    fn interrupt(&self) {
        if self.alive.load(Ordering::Acquire) {
            sys::tgkill(self.pid, self.tid, INTERRUPT_SIGNAL);
        }
    }
}

/// One stub thread, traced by the sentry thread that owns this value.
struct StubThread {
    tid: Pid,
    proc: Arc<StubProcess>,
    interrupter: Arc<StubInterrupter>,
    dead: bool,
}

impl StubThread {
    /// Starts a fresh stub process from the image, traced by the calling thread.
    fn spawn(
        image: &OwnedFd,
        known: &std::sync::OnceLock<StartLayout>,
    ) -> Result<StubThread, PlatformError> {
        let (mine, theirs) = socket::socketpair(
            socket::AddressFamily::Unix,
            socket::SockType::SeqPacket,
            None,
            socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(PlatformError::host("socketpair"))?;
        let pid = sys::spawn_stub(image, &theirs).map_err(PlatformError::host("fork"))?;
        drop(theirs);
        match waitpid(pid, Some(WaitPidFlag::__WALL)).map_err(PlatformError::host("waitpid"))? {
            WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
            other => return Err(PlatformError::Stub(format!("did not start: {other:?}"))),
        }
        let opts = ptrace::Options::PTRACE_O_EXITKILL | ptrace::Options::PTRACE_O_TRACESYSGOOD;
        ptrace::setoptions(pid, opts).map_err(PlatformError::host("PTRACE_SETOPTIONS"))?;
        let template = ptrace::getregs(pid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
        let mut t = StubThread {
            tid: pid,
            proc: Arc::new(StubProcess {
                pid,
                sock: Arc::new(Mutex::new(mine)),
                layout: HostLayout::default(),
                donated: Mutex::new(Vec::new()),
                template,
            }),
            interrupter: Arc::new(StubInterrupter {
                pid,
                tid: pid,
                alive: AtomicBool::new(true),
            }),
            dead: false,
        };
        let layout = match known.get() {
            Some(l) if l.rsp == template.rsp => {
                for (start, end) in &l.doomed {
                    t.inject_ok(Sysno::munmap, [*start, end - start, 0, 0, 0, 0])?;
                }
                l.keep.clone()
            }
            Some(l) => {
                // Only the first stub's layout is read (from /proc, before the sentry confines
                // itself); a later one that differs cannot be learnt.
                return Err(PlatformError::Stub(format!(
                    "started with another host layout than the first (stack {:#x}, not {:#x})",
                    template.rsp, l.rsp
                )));
            }
            None => {
                let (keep, doomed) = t.read_layout()?;
                let _ = known.set(StartLayout {
                    keep: keep.clone(),
                    doomed: doomed.clone(),
                    rsp: template.rsp,
                });
                for (start, end) in doomed {
                    t.inject_ok(Sysno::munmap, [start, end - start, 0, 0, 0, 0])?;
                }
                keep
            }
        };
        if let Some(p) = Arc::get_mut(&mut t.proc) {
            p.layout = layout;
        }
        // Stubs never wait for their children: let the host reap them.
        t.inject_ok(
            Sysno::rt_sigaction,
            [libc::SIGCHLD as u64, STUB_DATA + DATA_SIGIGN, 0, 8, 0, 0],
        )?;
        // The backstop: from now on a host system call not made by injection kills the stub.
        t.inject_ok(
            Sysno::prctl,
            [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
        )?;
        t.inject_ok(
            Sysno::seccomp,
            [
                1, /* SET_MODE_FILTER */
                0,
                STUB_DATA + DATA_FPROG,
                0,
                0,
                0,
            ],
        )?;
        sys::pin_together(pid);
        Ok(t)
    }

    /// Unmaps everything the host's exec left (its stack) but the stub, the vDSO and vvar, and
    /// returns the layout that remains.
    /// Reads the host layout of a fresh stub: what stays (vDSO, vvar, the stub) and what goes.
    fn read_layout(&mut self) -> Result<(HostLayout, Vec<(u64, u64)>), PlatformError> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.tid))
            .map_err(|e| PlatformError::Stub(format!("reading its maps: {e}")))?;
        let mut layout = HostLayout::default();
        let mut doomed = Vec::new();
        for line in maps.lines() {
            let mut parts = line.split_whitespace();
            let range = parts.next().unwrap_or("");
            let name = parts.nth(4).unwrap_or("");
            let Some((a, b)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16))
            else {
                continue;
            };
            if start >= syscalls::abi::TASK_SIZE {
                continue; // [vsyscall]
            }
            match name {
                "[vdso]" => layout.vdso = Some((start, end)),
                "[vvar]" | "[vvar_vclock]" => layout.reserved.push((start, end, "[vvar]")),
                _ if start >= STUB_BASE && end <= STUB_END => {}
                _ => doomed.push((start, end)),
            }
        }
        layout.reserved.push((STUB_BASE, STUB_END, "[stub]"));
        Ok((layout, doomed))
    }

    fn wait(&mut self) -> Result<WaitStatus, PlatformError> {
        loop {
            match waitpid(self.tid, Some(WaitPidFlag::__WALL)) {
                Err(nix::Error::EINTR) => continue,
                Err(e) => {
                    return Err(PlatformError::Host {
                        what: "waitpid",
                        err: e,
                    })
                }
                Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    self.mark_dead();
                    return Ok(s);
                }
                Ok(s) => return Ok(s),
            }
        }
    }

    fn mark_dead(&mut self) {
        self.dead = true;
        self.interrupter.alive.store(false, Ordering::Release);
    }

    /// Runs one host system call in this thread at `rip` and returns its raw result (negative
    /// errno) once the thread stops at `stop`.
    fn inject_at(
        &mut self,
        rip: u64,
        stop: u64,
        nr: Sysno,
        args: [u64; 6],
    ) -> Result<i64, PlatformError> {
        if self.dead {
            return Err(PlatformError::Stub("stub thread is dead".into()));
        }
        let mut r = self.proc.template;
        r.rax = u64::from(nr.0);
        r.orig_rax = u64::MAX;
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        r.rip = rip;
        ptrace::setregs(self.tid, r).map_err(PlatformError::host("PTRACE_SETREGS"))?;
        ptrace::cont(self.tid, None).map_err(PlatformError::host("PTRACE_CONT"))?;
        loop {
            match self.wait()? {
                WaitStatus::Stopped(_, Signal::SIGTRAP) => {
                    let r =
                        ptrace::getregs(self.tid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
                    if r.rip != stop {
                        return Err(PlatformError::Stub(format!(
                            "injected {nr} stopped at {:#x}",
                            r.rip
                        )));
                    }
                    return Ok(r.rax as i64);
                }
                WaitStatus::Stopped(..)
                | WaitStatus::PtraceEvent(..)
                | WaitStatus::PtraceSyscall(..) => {
                    // A host signal (an interrupt): suppress it and let the injected call finish.
                    ptrace::cont(self.tid, None).map_err(PlatformError::host("PTRACE_CONT"))?;
                }
                other => {
                    return Err(PlatformError::Stub(format!(
                        "died during injected {nr}: {other:?}"
                    )))
                }
            }
        }
    }

    fn inject(&mut self, nr: Sysno, args: [u64; 6]) -> Result<i64, PlatformError> {
        self.inject_at(STUB_CODE, STUB_CODE + 3, nr, args)
    }

    fn inject_ok(&mut self, nr: Sysno, args: [u64; 6]) -> Result<u64, PlatformError> {
        let r = self.inject(nr, args)?;
        if (-4095..0).contains(&r) {
            return Err(PlatformError::Stub(format!(
                "injected {nr} failed: {:?}",
                Errno(-r as i32)
            )));
        }
        Ok(r as u64)
    }

    /// Injects a call whose failure is the application's business: host errors become errnos;
    /// platform failures become ENOMEM (the task finds the thread dead on its next switch).
    fn call(&mut self, nr: Sysno, args: [u64; 6]) -> Result<u64, Errno> {
        match self.inject(nr, args) {
            Ok(r) if (-4095..0).contains(&r) => Err(Errno(-r as i32)),
            Ok(r) => Ok(r as u64),
            Err(e) => {
                tracing::error!("platform: {e}");
                Err(Errno::ENOMEM)
            }
        }
    }

    /// Makes `file` available in the stub process and returns its fd number there.
    fn donate(&mut self, file: MapFile<'_>) -> Result<i32, Errno> {
        let proc = self.proc.clone();
        let mut donated = lock(&proc.donated);
        if let Some(i) = donated.iter().position(|(key, _)| *key == file.key) {
            let hit = donated.remove(i);
            donated.push(hit);
            return Ok(hit.1);
        }
        if donated.len() >= DONATED_KEPT {
            let (_, fd) = donated.remove(0);
            let _ = self.call(Sysno::close, [fd as u64, 0, 0, 0, 0, 0]);
        }
        let sock = lock(&proc.sock);
        super::send_donation(sock.as_raw_fd(), file.fd.as_raw_fd())?;
        // struct msghdr { name, namelen, iov, iovlen, control, controllen, flags }, then the iovec.
        let mut hdr = [0u8; 56 + 16];
        let put =
            |b: &mut [u8], off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
        put(&mut hdr, 16, STUB_DATA + DATA_IOV);
        put(&mut hdr, 24, 1);
        put(&mut hdr, 32, STUB_DATA + DATA_CMSG);
        put(&mut hdr, 40, CMSG_SPACE_ONE_FD);
        put(&mut hdr, 56, STUB_DATA + DATA_BYTE);
        put(&mut hdr, 64, 1);
        proc.write(STUB_DATA + DATA_MSGHDR, &hdr)?;
        let n = self.call(
            Sysno::recvmsg,
            [
                sys::STUB_SOCK_FD as u64,
                STUB_DATA + DATA_MSGHDR,
                libc::MSG_CMSG_CLOEXEC as u64,
                0,
                0,
                0,
            ],
        )?;
        drop(sock);
        let mut cmsg = [0u8; 20];
        proc.read(STUB_DATA + DATA_CMSG, &mut cmsg)?;
        let level = i32::from_le_bytes([cmsg[8], cmsg[9], cmsg[10], cmsg[11]]);
        let kind = i32::from_le_bytes([cmsg[12], cmsg[13], cmsg[14], cmsg[15]]);
        if n != 1 || level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
            tracing::error!("platform: stub did not receive the donated fd");
            return Err(Errno::ENOMEM);
        }
        let fd = i32::from_le_bytes([cmsg[16], cmsg[17], cmsg[18], cmsg[19]]);
        donated.push((file.key, fd));
        Ok(fd)
    }

    /// Clones this thread at the clone point; the child parks itself. Returns its host tid.
    fn clone_parked(&mut self, flags: u64) -> Result<Pid, PlatformError> {
        let r = self.inject_at(
            STUB_CLONE,
            STUB_CLONE_PARENT_STOP,
            Sysno::clone,
            [flags, 0, 0, 0, 0, 0],
        )?;
        if r <= 0 {
            return Err(PlatformError::Stub(format!(
                "injected clone failed: {:?}",
                Errno(-r as i32)
            )));
        }
        Ok(Pid::from_raw(r as i32))
    }
}

impl Drop for StubThread {
    fn drop(&mut self) {
        if !self.dead {
            self.exit_thread();
        }
    }
}

impl Context for StubThread {
    fn switch(&mut self, regs: &mut Registers) -> Result<Trap, PlatformError> {
        if self.dead {
            return Ok(Trap::Died { signo: 0 });
        }
        let tid = self.tid;
        ptrace::setregs(tid, *regs).map_err(PlatformError::host("PTRACE_SETREGS"))?;
        ptrace::sysemu(tid, None).map_err(PlatformError::host("PTRACE_SYSEMU"))?;
        loop {
            match self.wait()? {
                WaitStatus::PtraceSyscall(_) => {
                    *regs = ptrace::getregs(tid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
                    return Ok(Trap::Syscall);
                }
                WaitStatus::Stopped(_, sig) => {
                    *regs = ptrace::getregs(tid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
                    let info = ptrace::getsiginfo(tid).ok();
                    let code = info.map(|i| i.si_code).unwrap_or(0);
                    let synchronous = matches!(
                        sig,
                        Signal::SIGSEGV
                            | Signal::SIGBUS
                            | Signal::SIGILL
                            | Signal::SIGFPE
                            | Signal::SIGTRAP
                    ) && code > 0;
                    if synchronous {
                        let addr = info.map(|i| sys::si_addr(&i)).unwrap_or(0);
                        return Ok(Trap::Fault {
                            signo: sig as i32,
                            code,
                            addr,
                        });
                    }
                    return Ok(Trap::Interrupted);
                }
                WaitStatus::PtraceEvent(..) => {
                    ptrace::sysemu(tid, None).map_err(PlatformError::host("PTRACE_SYSEMU"))?;
                }
                WaitStatus::Exited(..) => return Ok(Trap::Died { signo: 0 }),
                WaitStatus::Signaled(_, sig, _) => return Ok(Trap::Died { signo: sig as i32 }),
                _ => {}
            }
        }
    }

    fn initial_registers(&self) -> Registers {
        let mut r = self.proc.template;
        r.orig_rax = u64::MAX;
        r
    }

    fn address_space(&self) -> Arc<dyn AddressSpace> {
        self.proc.clone()
    }

    fn interrupter(&self) -> Arc<dyn Interrupter> {
        self.interrupter.clone()
    }

    fn host_process(&self) -> i32 {
        self.proc.pid.as_raw()
    }

    fn host_thread(&self) -> i32 {
        self.tid.as_raw()
    }

    fn map(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        file: Option<MapFile<'_>>,
    ) -> Result<(), Errno> {
        let (fd, off) = match file {
            Some(f) => (self.donate(f)? as u64, f.offset),
            None => (u64::MAX, 0),
        };
        let flags = u64::from(flags | syscalls::abi::MAP_FIXED);
        let r = self.call(Sysno::mmap, [addr, len, u64::from(prot), flags, fd, off])?;
        if r != addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn io_direct(
        &mut self,
        file: MapFile<'_>,
        addr: u64,
        len: u64,
        write: bool,
    ) -> Result<u64, Errno> {
        let fd = self.donate(file)? as u64;
        let nr = if write {
            Sysno::pwrite64
        } else {
            Sysno::pread64
        };
        self.call(nr, [fd, addr, len, file.offset, 0, 0])
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        self.call(Sysno::munmap, [addr, len, 0, 0, 0, 0]).map(drop)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.call(Sysno::mprotect, [addr, len, u64::from(prot), 0, 0, 0])
            .map(drop)
    }

    fn map_grow(&mut self, addr: u64, old_len: u64, new_len: u64) -> Result<(), Errno> {
        let r = self.call(Sysno::mremap, [addr, old_len, new_len, 0, 0, 0])?;
        if r != addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn remap(&mut self, old: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno> {
        let flags = u64::from(syscalls::abi::MREMAP_MAYMOVE | syscalls::abi::MREMAP_FIXED);
        self.call(Sysno::mremap, [old, old_len, new_len, flags, new_addr, 0])
            .map(drop)
    }

    fn advise(&mut self, addr: u64, len: u64, advice: u32) -> Result<(), Errno> {
        self.call(Sysno::madvise, [addr, len, u64::from(advice), 0, 0, 0])
            .map(drop)
    }

    fn sync(&mut self, addr: u64, len: u64, flags: u32) -> Result<(), Errno> {
        self.call(Sysno::msync, [addr, len, u64::from(flags), 0, 0, 0])
            .map(drop)
    }

    fn membarrier(&mut self, cmd: u32) -> Result<(), Errno> {
        self.call(Sysno::membarrier, [u64::from(cmd), 0, 0, 0, 0, 0])
            .map(drop)
    }

    fn mincore(&mut self, addr: u64, len: u64, vec: u64) -> Result<(), Errno> {
        self.call(Sysno::mincore, [addr, len, vec, 0, 0, 0])
            .map(drop)
    }

    fn write_force(&mut self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        if self.proc.write(addr, buf).is_ok() {
            return Ok(());
        }
        // Read-only pages: word by word through PTRACE_POKEDATA (FOLL_FORCE).
        let start = addr & !7;
        let end = (addr + buf.len() as u64 + 7) & !7;
        let mut a = start;
        while a < end {
            let word =
                ptrace::read(self.tid, a as ptrace::AddressType).map_err(|_| Errno::EFAULT)?;
            let mut bytes = (word as u64).to_le_bytes();
            for (i, b) in bytes.iter_mut().enumerate() {
                let at = a + i as u64;
                if at >= addr && at < addr + buf.len() as u64 {
                    *b = buf[(at - addr) as usize];
                }
            }
            ptrace::write(
                self.tid,
                a as ptrace::AddressType,
                i64::from_le_bytes(bytes) as libc::c_long,
            )
            .map_err(|_| Errno::EFAULT)?;
            a += 8;
        }
        Ok(())
    }

    fn cmpxchg_u32(&mut self, addr: u64, expected: u32, new: u32) -> Result<u32, Errno> {
        if self.dead {
            return Err(Errno::EFAULT);
        }
        let mut r = self.proc.template;
        r.orig_rax = u64::MAX;
        r.rdi = addr;
        r.rsi = u64::from(expected);
        r.rdx = u64::from(new);
        r.rip = STUB_CMPXCHG;
        ptrace::setregs(self.tid, r).map_err(|_| Errno::EFAULT)?;
        ptrace::cont(self.tid, None).map_err(|_| Errno::EFAULT)?;
        loop {
            match self.wait() {
                Ok(WaitStatus::Stopped(_, Signal::SIGTRAP)) => {
                    let r = ptrace::getregs(self.tid).map_err(|_| Errno::EFAULT)?;
                    if r.rip != STUB_CMPXCHG_STOP {
                        return Err(Errno::EFAULT);
                    }
                    return Ok(r.rax as u32);
                }
                // The word is not there or not writable: the fault is the caller's EFAULT.
                Ok(WaitStatus::Stopped(_, Signal::SIGSEGV | Signal::SIGBUS)) => {
                    return Err(Errno::EFAULT)
                }
                Ok(
                    WaitStatus::Stopped(..)
                    | WaitStatus::PtraceEvent(..)
                    | WaitStatus::PtraceSyscall(..),
                ) => {
                    ptrace::cont(self.tid, None).map_err(|_| Errno::EFAULT)?;
                }
                _ => return Err(Errno::EFAULT),
            }
        }
    }

    fn fpu_state(&mut self) -> Result<Vec<u8>, PlatformError> {
        sys::get_xstate(self.tid).map_err(PlatformError::host("PTRACE_GETREGSET"))
    }

    fn set_fpu_state(&mut self, state: &[u8]) -> Result<(), PlatformError> {
        sys::set_xstate(self.tid, state).map_err(PlatformError::host("PTRACE_SETREGSET"))
    }

    fn new_thread(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        let flags =
            CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
        let tid = self.clone_parked(flags)?;
        Ok(Box::new(Parked {
            tid,
            proc: self.proc.clone(),
        }))
    }

    fn fork(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        let tid = self.clone_parked(libc::SIGCHLD as u64)?;
        // The child's address space is a copy: same layout, same donated fds, same socket.
        let proc = Arc::new(StubProcess {
            pid: tid,
            sock: self.proc.sock.clone(),
            layout: self.proc.layout.clone(),
            donated: Mutex::new(lock(&self.proc.donated).clone()),
            template: self.proc.template,
        });
        Ok(Box::new(Parked { tid, proc }))
    }

    fn exit_thread(&mut self) {
        if self.dead {
            return;
        }
        // exit(2) of this host thread; its process ends with its last thread.
        let mut r = self.proc.template;
        r.rax = u64::from(Sysno::exit.0);
        r.orig_rax = u64::MAX;
        r.rdi = 0;
        r.rip = STUB_CODE;
        if ptrace::setregs(self.tid, r).is_err() || ptrace::cont(self.tid, None).is_err() {
            let _ = nix::sys::signal::kill(self.proc.pid, Signal::SIGKILL);
        }
        while !self.dead {
            match self.wait() {
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => self.mark_dead(),
                Ok(_) => {
                    let _ = ptrace::cont(self.tid, None);
                }
            }
        }
    }

    fn set_cpus(&mut self, cpus: Option<&[usize]>) {
        sys::pin_within(self.tid, cpus);
    }

    fn kill_process(&mut self) {
        if self.dead {
            return;
        }
        let _ = nix::sys::signal::kill(self.proc.pid, Signal::SIGKILL);
        while !self.dead {
            match self.wait() {
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => self.mark_dead(),
                Ok(_) => {}
            }
        }
    }
}

/// A thread parked at the clone point, waiting for its sentry thread.
struct Parked {
    tid: Pid,
    proc: Arc<StubProcess>,
}

impl NewContext for Parked {
    fn address_space(&self) -> Arc<dyn AddressSpace> {
        self.proc.clone()
    }

    fn adopt(self: Box<Self>) -> Result<Box<dyn Context>, PlatformError> {
        let tid = self.tid;
        let opts = ptrace::Options::PTRACE_O_EXITKILL | ptrace::Options::PTRACE_O_TRACESYSGOOD;
        ptrace::seize(tid, opts).map_err(PlatformError::host("PTRACE_SEIZE"))?;
        ptrace::interrupt(tid).map_err(PlatformError::host("PTRACE_INTERRUPT"))?;
        let mut t = StubThread {
            tid,
            interrupter: Arc::new(StubInterrupter {
                pid: self.proc.pid,
                tid,
                alive: AtomicBool::new(true),
            }),
            proc: self.proc,
            dead: false,
        };
        loop {
            match t.wait()? {
                WaitStatus::PtraceEvent(..) => break,
                WaitStatus::Stopped(..) => {
                    ptrace::cont(tid, None).map_err(PlatformError::host("PTRACE_CONT"))?;
                }
                other => {
                    return Err(PlatformError::Stub(format!(
                        "new thread did not stop: {other:?}"
                    )))
                }
            }
        }
        sys::pin_together(tid);
        Ok(Box::new(t))
    }
}
