// SPDX-License-Identifier: Apache-2.0
//! Interactive `sandbox run`: the program's terminal is a pty of the sentry's
//! ([`sentry::fsimpl::tty`]), bridged to the host's stdin and stdout.
//!
//! When stdin is a host terminal, `sandbox` first splits in two ([`supervise`]): the parent,
//! which runs nothing of the sandbox, puts the host terminal in raw mode, forwards the signals
//! it gets to the child, and restores the terminal's modes when the child ends, however it
//! ends (an exit, a signal, a crash of the sentry). The child is the sandbox: two threads of
//! the sentry copy host stdin to the pty's master and the master's output to host stdout, and
//! the window size follows the host terminal's (at start and on SIGWINCH). The host terminal's
//! descriptors are never handed to the program.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::termios::{self, SetArg, Termios};
use sentry::fsimpl::tty::{self, Terminal, TtyFile};
use sentry::kernel::Kernel;
use sentry::vfs::{FdTable, File};
use syscalls::abi::*;

/// Whether the program gets a sandbox terminal: `-t`, or stdin and stdout are terminals
/// (`sandbox run ... | cat` keeps the host's stdio, byte for byte), unless `--no-tty`.
pub fn wanted(tty: bool, no_tty: bool) -> bool {
    !no_tty && (tty || (stdin_is_tty() && is_tty(1)))
}

/// Whether the host's stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    is_tty(0)
}

fn is_tty(fd: i32) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

fn stdin() -> BorrowedFd<'static> {
    crate::host_unsafe::borrow_fd(0)
}

/// The host terminal's raw mode (cfmakeraw: no echo, no signals, no input or output
/// processing, byte at a time).
fn raw(t: &Termios) -> Termios {
    let mut r = t.clone();
    termios::cfmakeraw(&mut r);
    r
}

/// Puts the host terminal (stdin), if it is one, in raw mode; returns its modes for
/// [`restore`].
pub fn make_raw() -> Option<Termios> {
    let saved = termios::tcgetattr(stdin()).ok()?;
    termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &raw(&saved)).ok()?;
    Some(saved)
}

/// Gives the host terminal back the modes [`make_raw`] found.
pub fn restore(saved: Option<Termios>) {
    if let Some(t) = saved {
        let _ = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &t);
    }
}

/// Puts the host terminal (stdin) in raw mode and splits the process: the parent stays
/// outside the sandbox, forwards signals to the child and restores the terminal when the
/// child ends (then exits with its status); the child returns and becomes the sandbox. Call
/// before any thread exists. Does nothing when stdin is not a terminal.
pub fn supervise() {
    let Ok(saved) = termios::tcgetattr(stdin()) else {
        return;
    };
    let _ = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &raw(&saved));
    // The sandbox's own, and SIGCONT (the supervisor stopped by its shell resumes the sandbox).
    let forwarded = crate::signals::FORWARDED
        .into_iter()
        .chain(std::iter::once(Signal::SIGCONT));
    let mut set = SigSet::empty();
    for s in forwarded {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    // Blocked before the split, so that none is lost in between; the child unblocks them.
    let mut old = SigSet::empty();
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&set),
        Some(&mut old),
    );
    let supervisor = nix::unistd::getpid();
    let child = match crate::host_unsafe::fork() {
        Ok(None) => {
            // The sandbox ends with its supervisor (a kill -9 of the `sandbox` process an
            // engine or a user holds the pid of).
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            if nix::unistd::getppid() != supervisor {
                std::process::exit(crate::boot::EXIT_SANDBOX_ERROR);
            }
            let _ = nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&old),
                None,
            );
            return;
        }
        Ok(Some(pid)) => pid,
        Err(e) => {
            let _ = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &saved);
            eprintln!("sandbox: fork: {e}");
            std::process::exit(crate::boot::EXIT_SANDBOX_ERROR);
        }
    };
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    loop {
        let Ok(sig) = set.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(child, sig);
            continue;
        }
        loop {
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => {
                    let _ = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &saved);
                    std::process::exit(code);
                }
                Ok(WaitStatus::Signaled(_, s, _)) => {
                    let _ = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &saved);
                    eprintln!("sandbox: the sandbox was killed by {s}");
                    std::process::exit(128 + s as i32);
                }
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) => continue,
                Err(nix::Error::EINTR) => continue,
                Err(_) => {
                    let _ = termios::tcsetattr(stdin(), SetArg::TCSADRAIN, &saved);
                    std::process::exit(crate::boot::EXIT_SANDBOX_ERROR);
                }
            }
        }
    }
}

/// The host's side of a console: where the program's terminal input comes from and its
/// output goes (the sandbox's stdin and stdout, or the host pty an OCI exec sent).
struct HostEnds {
    input: OwnedFd,
    output: OwnedFd,
}

/// The sandbox's side of the terminal: the pty and the threads that bridge it.
pub struct Console {
    master: Arc<TtyFile>,
    term: Arc<Terminal>,
    replica: Arc<File>,
    host: Arc<HostEnds>,
    stop: Arc<AtomicBool>,
    done: Option<mpsc::Receiver<()>>,
}

impl Console {
    /// A new pty of `k` (its replica owned by `uid`) bridged to the sandbox's stdin and
    /// stdout, the window size the host terminal's.
    pub fn new(k: &Arc<Kernel>, uid: u32) -> Result<Console, String> {
        let dup = |fd: i32| {
            crate::host_unsafe::borrow_fd(fd)
                .try_clone_to_owned()
                .map_err(|e| format!("the host terminal: {e}"))
        };
        Console::bridged(k, uid, dup(0)?, dup(1)?)
    }

    /// A new pty of `k` (its replica owned by `uid`) bridged to host descriptors `input` and
    /// `output` (an OCI exec's terminal: the replica of the host pty whose master went to the
    /// engine), the window size `output`'s or `input`'s.
    pub fn bridged(
        k: &Arc<Kernel>,
        uid: u32,
        input: OwnedFd,
        output: OwnedFd,
    ) -> Result<Console, String> {
        let (master, term) = tty::new_pair(k, uid)
            .map_err(|e| format!("making the program's terminal: {}", e.description()))?;
        let replica = File::new(
            Box::new(term.open_end(false)),
            O_RDWR | O_LARGEFILE,
            tty::devpts::replica_path(&term),
        );
        let c = Console {
            master: Arc::new(master),
            term,
            replica,
            host: Arc::new(HostEnds { input, output }),
            stop: Arc::new(AtomicBool::new(false)),
            done: None,
        };
        c.copy_winsize();
        Ok(c)
    }

    /// The program's descriptors 0, 1 and 2, all the replica (an OCI exec's terminal).
    pub fn replica_fds(&self) -> FdTable {
        let mut fds = FdTable::default();
        for fd in 0..3 {
            let _ = fds.install(fd, self.replica.clone(), false, 1 << 20);
        }
        fds
    }

    /// The program's descriptors 0, 1 and 2: the replica; but without `-t` (`forced`), a host
    /// stderr that is not a terminal stays the program's stderr (`2>log` keeps working), as
    /// `host_stderr` gives it.
    pub fn fds(&self, forced: bool, host_stderr: impl FnOnce() -> Option<Arc<File>>) -> FdTable {
        let mut fds = FdTable::default();
        for fd in 0..2 {
            let _ = fds.install(fd, self.replica.clone(), false, 1 << 20);
        }
        let stderr = if forced || is_tty(2) {
            Some(self.replica.clone())
        } else {
            host_stderr()
        };
        if let Some(f) = stderr {
            let _ = fds.install(2, f, false, 1 << 20);
        }
        fds
    }

    /// Makes the terminal the controlling terminal of the first process `pid` (a session
    /// leader, as a login shell is).
    pub fn attach(k: &Kernel, term: &Arc<Terminal>, pid: i32) {
        tty::set_ctty(k, term, pid, pid);
    }

    /// The terminal.
    pub fn terminal(&self) -> Arc<Terminal> {
        self.term.clone()
    }

    /// Copies the host terminal's window size to the pty (SIGWINCH to its foreground group).
    fn copy_winsize(&self) {
        copy_winsize(&self.host, &self.term);
    }

    /// Starts the bridge threads (confined to the sentry's task role); `winch` is set by the
    /// signal thread when the host terminal's size changed.
    pub fn start(&mut self, winch: Arc<AtomicBool>) -> Result<(), String> {
        let (tx, rx) = mpsc::channel();
        self.done = Some(rx);
        let master = self.master.clone();
        let stop = self.stop.clone();
        let host = self.host.clone();
        std::thread::Builder::new()
            .name("tty-out".into())
            .spawn(move || {
                sentry::confine::enter(sentry::confine::policy::TASK);
                output_loop(&master, &host, &stop);
                let _ = tx.send(());
            })
            .map_err(|e| format!("starting a sentry thread: {e}"))?;
        let master = self.master.clone();
        let term = self.term.clone();
        let host = self.host.clone();
        let stop = self.stop.clone();
        std::thread::Builder::new()
            .name("tty-in".into())
            .spawn(move || {
                sentry::confine::enter(sentry::confine::policy::TASK);
                input_loop(&master, &term, &host, &winch, &stop)
            })
            .map_err(|e| format!("starting a sentry thread: {e}"))?;
        Ok(())
    }

    /// Starts the bridge threads of an OCI exec's terminal: no SIGWINCH reaches the sandbox
    /// for a host pty it was only sent, so the window size is followed as the input thread
    /// polls (a tenth of a second at most behind).
    pub fn start_polling_size(&mut self) -> Result<(), String> {
        let always = Arc::new(AtomicBool::new(true));
        let flag = always.clone();
        let stop = self.stop.clone();
        self.start(always)?;
        // The input thread clears the flag as it copies the size: set it again on each round.
        std::thread::Builder::new()
            .name("tty-size".into())
            .spawn(move || {
                sentry::confine::enter(sentry::confine::policy::TASK);
                while !stop.load(Ordering::Acquire) {
                    flag.store(true, Ordering::Release);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .map_err(|e| format!("starting a sentry thread: {e}"))?;
        Ok(())
    }

    /// The program has ended: what it wrote is copied out before the sandbox exits (for at
    /// most a few seconds, should the host's stdout not take it).
    pub fn finish(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(rx) = self.done.take() {
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
    }
}

fn copy_winsize(host: &HostEnds, term: &Terminal) {
    for fd in [&host.input, &host.output] {
        if let Some(ws) = sentry::fsimpl::host::host_winsize(fd.as_fd()) {
            term.set_winsize(ws);
            return;
        }
    }
}

/// Writes all of `buf` to the host's output (waiting while it is full).
fn write_out(host: &HostEnds, buf: &[u8]) -> bool {
    let out = host.output.as_fd();
    let mut done = 0;
    while done < buf.len() {
        match nix::unistd::write(out, &buf[done..]) {
            Ok(n) => done += n,
            Err(nix::Error::EINTR) => {}
            Err(nix::Error::EAGAIN) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                let mut fds = [PollFd::new(out, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u16));
            }
            Err(_) => return false,
        }
    }
    true
}

/// Master output to host stdout, until no replica is open or, once `stop` is set, nothing
/// more comes.
fn output_loop(master: &TtyFile, host: &HostEnds, stop: &AtomicBool) {
    let mut buf = vec![0u8; 16384];
    loop {
        match tty::master_read_external(master, &mut buf, Duration::from_millis(100)) {
            Ok(0) => {
                if stop.load(Ordering::Acquire) {
                    return;
                }
            }
            Ok(n) => {
                if !write_out(host, &buf[..n]) {
                    // Host stdout is gone: drain, so the program's writes do not block.
                    continue;
                }
            }
            Err(_) => return,
        }
    }
}

/// Host stdin to the master, and the window size on SIGWINCH.
fn input_loop(
    master: &TtyFile,
    term: &Terminal,
    host: &HostEnds,
    winch: &AtomicBool,
    stop: &AtomicBool,
) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let input = host.input.as_fd();
    let mut buf = vec![0u8; 4096];
    let mut eof = false;
    loop {
        if stop.load(Ordering::Acquire) {
            return;
        }
        if winch.swap(false, Ordering::AcqRel) {
            copy_winsize(host, term);
        }
        if eof {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let mut fds = [PollFd::new(input, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::Error::EINTR) => continue,
            Ok(_) => {}
            Err(_) => {
                eof = true;
                continue;
            }
        }
        let n = match nix::unistd::read(input.as_raw_fd(), &mut buf) {
            Ok(0) => {
                // Host input ended: the program reads an end of file too (VEOF on a canonical
                // terminal).
                eof = true;
                if let Some(c) = tty::eof_char(term) {
                    tty::master_write_external(master, &[c], Duration::from_secs(1));
                }
                continue;
            }
            Ok(n) => n,
            Err(nix::Error::EINTR | nix::Error::EAGAIN) => continue,
            Err(_) => {
                eof = true;
                continue;
            }
        };
        let mut done = 0;
        while done < n {
            done += tty::master_write_external(master, &buf[done..n], Duration::from_millis(100));
            if winch.swap(false, Ordering::AcqRel) {
                copy_winsize(host, term);
            }
            if !term.replica_open() && done < n {
                break;
            }
        }
    }
}
