// SPDX-License-Identifier: Apache-2.0
//! The ptrace platform: every application process is a stub host process traced by the sentry
//! thread of its task, run with PTRACE_SYSEMU so the host skips every application system call.
//!
//! Host-side effects the sentry decides (mmap, munmap, mprotect, ...) are *injected*: the
//! registers are pointed at the `syscall` instruction of the stub's own code page and the stub
//! runs it, stopping again at the `int3` that follows (gVisor `platform/ptrace/subprocess.go`).
//! PTRACE_O_EXITKILL, a parent-death signal and a seccomp backstop (see [`image`]) make sure a
//! stub never runs free if the sentry dies.

pub mod image;
mod sys;

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::socket::{self, ControlMessage, MsgFlags};
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use syscalls::{Errno, Sysno};

use self::image::*;
use super::{AddressSpace, Context, HostLayout, MapFile, Platform, PlatformError, Registers, Trap};

/// The ptrace platform. Holds the stub image, made once at start-up.
pub struct PtracePlatform {
    image: OwnedFd,
}

impl PtracePlatform {
    /// Prepares the platform: writes the stub image into a sealed memfd.
    pub fn new() -> Result<Self, PlatformError> {
        use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
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
        Ok(PtracePlatform { image: fd })
    }
}

impl Platform for PtracePlatform {
    fn new_process(&self) -> Result<(Box<dyn AddressSpace>, Box<dyn Context>), PlatformError> {
        let stub = Stub::spawn(&self.image)?;
        let layout = stub.layout.clone();
        let stub = Arc::new(Mutex::new(stub));
        Ok((
            Box::new(PtraceAddressSpace {
                stub: stub.clone(),
                layout,
            }),
            Box::new(PtraceContext { stub }),
        ))
    }

    fn name(&self) -> &'static str {
        "ptrace"
    }
}

fn lock(stub: &Mutex<Stub>) -> MutexGuard<'_, Stub> {
    // A poisoned lock means a sentry thread panicked; the stub's state is still consistent
    // (every operation leaves it stopped), so go on.
    stub.lock().unwrap_or_else(|e| e.into_inner())
}

/// One stub process, stopped whenever the sentry is not running it.
struct Stub {
    pid: Pid,
    /// The sentry's end of the fd-donation socket.
    sock: OwnedFd,
    /// Registers at the exec stop: the template for injected calls (segment selectors).
    template: Registers,
    layout: HostLayout,
    /// The host fd last donated to the stub: (file key, fd number in the stub).
    donated: Option<(u64, i32)>,
    dead: bool,
}

impl Stub {
    fn spawn(image: &OwnedFd) -> Result<Stub, PlatformError> {
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
        let mut stub = Stub {
            pid,
            sock: mine,
            template: unsafe_free_zeroed_regs(),
            layout: HostLayout::default(),
            donated: None,
            dead: false,
        };
        let opts = ptrace::Options::PTRACE_O_EXITKILL | ptrace::Options::PTRACE_O_TRACESYSGOOD;
        ptrace::setoptions(pid, opts).map_err(PlatformError::host("PTRACE_SETOPTIONS"))?;
        stub.template = ptrace::getregs(pid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
        stub.clean_address_space()?;
        // The backstop: from now on a host system call not made by injection kills the stub.
        stub.inject_ok(
            Sysno::prctl,
            [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
        )?;
        stub.inject_ok(
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
        Ok(stub)
    }

    /// Unmaps everything the host's exec left (its stack) but the stub, the vDSO and vvar.
    fn clean_address_space(&mut self) -> Result<(), PlatformError> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid))
            .map_err(|e| PlatformError::Stub(format!("reading its maps: {e}")))?;
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
                "[vdso]" => self.layout.vdso = Some((start, end)),
                "[vvar]" | "[vvar_vclock]" => self.layout.reserved.push((start, end, "[vvar]")),
                _ if start >= STUB_BASE && end <= STUB_END => {}
                _ => doomed.push((start, end)),
            }
        }
        self.layout.reserved.push((STUB_BASE, STUB_END, "[stub]"));
        for (start, end) in doomed {
            self.inject_ok(Sysno::munmap, [start, end - start, 0, 0, 0, 0])?;
        }
        Ok(())
    }

    /// Runs one host system call in the stub and returns its raw result (negative errno).
    fn inject(&mut self, nr: Sysno, args: [u64; 6]) -> Result<i64, PlatformError> {
        if self.dead {
            return Err(PlatformError::Stub("stub is dead".into()));
        }
        let mut r = self.template;
        r.rax = u64::from(nr.0);
        r.orig_rax = u64::MAX;
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        r.rip = STUB_CODE;
        ptrace::setregs(self.pid, r).map_err(PlatformError::host("PTRACE_SETREGS"))?;
        ptrace::cont(self.pid, None).map_err(PlatformError::host("PTRACE_CONT"))?;
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Stopped(_, Signal::SIGTRAP)) => {
                    let r =
                        ptrace::getregs(self.pid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
                    if r.rip != STUB_CODE + 3 {
                        return Err(PlatformError::Stub(format!(
                            "injected {nr} stopped at {:#x}",
                            r.rip
                        )));
                    }
                    return Ok(r.rax as i64);
                }
                Ok(WaitStatus::Stopped(..)) | Ok(WaitStatus::PtraceEvent(..)) => {
                    // A host signal: suppress it and let the injected call finish.
                    ptrace::cont(self.pid, None).map_err(PlatformError::host("PTRACE_CONT"))?;
                }
                Ok(other) => {
                    self.dead = true;
                    return Err(PlatformError::Stub(format!(
                        "died during injected {nr}: {other:?}"
                    )));
                }
                Err(nix::Error::EINTR) => continue,
                Err(e) => {
                    return Err(PlatformError::Host {
                        what: "waitpid",
                        err: e,
                    })
                }
            }
        }
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

    /// Injects a call whose failure is the application's business: host errors become errnos,
    /// platform failures EFAULT-free ENOMEM (the task will find the stub dead on resume).
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

    /// Makes `file` available in the stub and returns its fd number there.
    fn donate(&mut self, file: MapFile<'_>) -> Result<i32, Errno> {
        if let Some((key, fd)) = self.donated {
            if key == file.key {
                return Ok(fd);
            }
            self.donated = None;
            let _ = self.call(Sysno::close, [fd as u64, 0, 0, 0, 0, 0]);
        }
        let fds = [file.fd.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        socket::sendmsg::<()>(
            self.sock.as_raw_fd(),
            &[IoSlice::new(b"f")],
            &cmsg,
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| {
            tracing::error!("platform: donating fd: {e}");
            Errno::ENOMEM
        })?;
        // struct msghdr { name, namelen, iov, iovlen, control, controllen, flags }
        let mut hdr = [0u8; 56 + 16];
        let put =
            |b: &mut [u8], off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
        put(&mut hdr, 16, STUB_DATA + DATA_IOV);
        put(&mut hdr, 24, 1);
        put(&mut hdr, 32, STUB_DATA + DATA_CMSG);
        put(&mut hdr, 40, CMSG_SPACE_ONE_FD);
        put(&mut hdr, 56, STUB_DATA + DATA_BYTE); // the iovec right after
        put(&mut hdr, 64, 1);
        self.write_mem(STUB_DATA + DATA_MSGHDR, &hdr)?;
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
        let mut cmsg = [0u8; 20];
        self.read_mem(STUB_DATA + DATA_CMSG, &mut cmsg)?;
        let level = i32::from_le_bytes([cmsg[8], cmsg[9], cmsg[10], cmsg[11]]);
        let kind = i32::from_le_bytes([cmsg[12], cmsg[13], cmsg[14], cmsg[15]]);
        if n != 1 || level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
            tracing::error!("platform: stub did not receive the donated fd");
            return Err(Errno::ENOMEM);
        }
        let fd = i32::from_le_bytes([cmsg[16], cmsg[17], cmsg[18], cmsg[19]]);
        self.donated = Some((file.key, fd));
        Ok(fd)
    }

    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
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

    fn write_mem(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
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

    fn kill(&mut self) {
        if !self.dead {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, Some(WaitPidFlag::__WALL));
            self.dead = true;
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.kill();
    }
}

fn unsafe_free_zeroed_regs() -> Registers {
    // user_regs_struct is plain integers; build a zeroed one without unsafe.
    Registers {
        r15: 0,
        r14: 0,
        r13: 0,
        r12: 0,
        rbp: 0,
        rbx: 0,
        r11: 0,
        r10: 0,
        r9: 0,
        r8: 0,
        rax: 0,
        rcx: 0,
        rdx: 0,
        rsi: 0,
        rdi: 0,
        orig_rax: 0,
        rip: 0,
        cs: 0,
        eflags: 0,
        rsp: 0,
        ss: 0,
        fs_base: 0,
        gs_base: 0,
        ds: 0,
        es: 0,
        fs: 0,
        gs: 0,
    }
}

/// The memory of one stub.
struct PtraceAddressSpace {
    stub: Arc<Mutex<Stub>>,
    layout: HostLayout,
}

impl AddressSpace for PtraceAddressSpace {
    fn map(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        file: Option<MapFile<'_>>,
    ) -> Result<(), Errno> {
        let mut stub = lock(&self.stub);
        let (fd, off) = match file {
            Some(f) => (stub.donate(f)? as u64, f.offset),
            None => (u64::MAX, 0),
        };
        let flags = u64::from(flags | syscalls::abi::MAP_FIXED);
        let r = stub.call(Sysno::mmap, [addr, len, u64::from(prot), flags, fd, off])?;
        if r != addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        lock(&self.stub)
            .call(Sysno::munmap, [addr, len, 0, 0, 0, 0])
            .map(drop)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        lock(&self.stub)
            .call(Sysno::mprotect, [addr, len, u64::from(prot), 0, 0, 0])
            .map(drop)
    }

    fn map_grow(&mut self, addr: u64, old_len: u64, new_len: u64) -> Result<(), Errno> {
        let r = lock(&self.stub).call(Sysno::mremap, [addr, old_len, new_len, 0, 0, 0])?;
        if r != addr {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn remap(&mut self, old: u64, old_len: u64, new_addr: u64, new_len: u64) -> Result<(), Errno> {
        let flags = u64::from(syscalls::abi::MREMAP_MAYMOVE | syscalls::abi::MREMAP_FIXED);
        lock(&self.stub)
            .call(Sysno::mremap, [old, old_len, new_len, flags, new_addr, 0])
            .map(drop)
    }

    fn advise(&mut self, addr: u64, len: u64, advice: u32) -> Result<(), Errno> {
        lock(&self.stub)
            .call(Sysno::madvise, [addr, len, u64::from(advice), 0, 0, 0])
            .map(drop)
    }

    fn sync(&mut self, addr: u64, len: u64, flags: u32) -> Result<(), Errno> {
        lock(&self.stub)
            .call(Sysno::msync, [addr, len, u64::from(flags), 0, 0, 0])
            .map(drop)
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        lock(&self.stub).read_mem(addr, buf)
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        lock(&self.stub).write_mem(addr, buf)
    }

    fn write_force(&mut self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        let stub = lock(&self.stub);
        if stub.write_mem(addr, buf).is_ok() {
            return Ok(());
        }
        // Read-only pages: word by word through PTRACE_POKEDATA (FOLL_FORCE).
        let start = addr & !7;
        let end = (addr + buf.len() as u64 + 7) & !7;
        let mut a = start;
        while a < end {
            let word =
                ptrace::read(stub.pid, a as ptrace::AddressType).map_err(|_| Errno::EFAULT)?;
            let mut bytes = (word as u64).to_le_bytes();
            for (i, b) in bytes.iter_mut().enumerate() {
                let at = a + i as u64;
                if at >= addr && at < addr + buf.len() as u64 {
                    *b = buf[(at - addr) as usize];
                }
            }
            ptrace::write(
                stub.pid,
                a as ptrace::AddressType,
                i64::from_le_bytes(bytes) as libc::c_long,
            )
            .map_err(|_| Errno::EFAULT)?;
            a += 8;
        }
        Ok(())
    }

    fn layout(&self) -> &HostLayout {
        &self.layout
    }
}

/// The one thread of a stub (threads come with the processes issue).
struct PtraceContext {
    stub: Arc<Mutex<Stub>>,
}

impl Context for PtraceContext {
    fn switch(&mut self, regs: &mut Registers) -> Result<Trap, PlatformError> {
        let mut stub = lock(&self.stub);
        if stub.dead {
            return Ok(Trap::Died { signo: 0 });
        }
        let pid = stub.pid;
        ptrace::setregs(pid, *regs).map_err(PlatformError::host("PTRACE_SETREGS"))?;
        ptrace::sysemu(pid, None).map_err(PlatformError::host("PTRACE_SYSEMU"))?;
        loop {
            let status = match waitpid(pid, Some(WaitPidFlag::__WALL)) {
                Ok(s) => s,
                Err(nix::Error::EINTR) => continue,
                Err(e) => {
                    return Err(PlatformError::Host {
                        what: "waitpid",
                        err: e,
                    })
                }
            };
            match status {
                WaitStatus::PtraceSyscall(_) => {
                    *regs = ptrace::getregs(pid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
                    return Ok(Trap::Syscall);
                }
                WaitStatus::Stopped(_, sig) => {
                    *regs = ptrace::getregs(pid).map_err(PlatformError::host("PTRACE_GETREGS"))?;
                    let signo = sig as i32;
                    let info = ptrace::getsiginfo(pid).ok();
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
                        // SAFETY-free: si_addr is read through nix's accessor.
                        let addr = info.map(|i| siginfo_addr(&i)).unwrap_or(0);
                        return Ok(Trap::Fault { signo, code, addr });
                    }
                    return Ok(Trap::Signal { signo });
                }
                WaitStatus::PtraceEvent(..) => {
                    ptrace::sysemu(pid, None).map_err(PlatformError::host("PTRACE_SYSEMU"))?;
                }
                WaitStatus::Exited(..) => {
                    stub.dead = true;
                    return Ok(Trap::Died { signo: 0 });
                }
                WaitStatus::Signaled(_, sig, _) => {
                    stub.dead = true;
                    return Ok(Trap::Died { signo: sig as i32 });
                }
                _ => {}
            }
        }
    }

    fn initial_registers(&self) -> Registers {
        let mut r = lock(&self.stub).template;
        r.orig_rax = u64::MAX;
        r
    }

    fn kill(&mut self) {
        lock(&self.stub).kill();
    }
}

fn siginfo_addr(info: &libc::siginfo_t) -> u64 {
    sys::si_addr(info)
}
