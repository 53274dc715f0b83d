// SPDX-License-Identifier: Apache-2.0
//! Terminals: pseudo-terminal pairs ([`Terminal`]: a master and a replica) with N_TTY's line
//! discipline, controlling terminals and job control, as Linux's pty, n_tty and tty_jobctrl
//! (gVisor: pkg/sentry/fsimpl/devpts).
//!
//! Bytes written to the master are the replica's input: the line discipline processes them
//! (ICRNL..., ISIG's signals, canonical editing, echo) into the input queue the replica reads.
//! Bytes written to the replica go through output processing (OPOST, ONLCR...) into the output
//! queue the master reads; echo lands there too. Both queues are bounded (Linux's 4096-byte
//! N_TTY buffer for input, and a bounded output queue): a writer waits for room, or gets
//! EAGAIN, and echo past the bound is dropped, as Linux drops it.
//!
//! A terminal is the controlling terminal of at most one session, and a session has at most
//! one: the kernel keeps the session's terminal ([`crate::kernel::Kernel::ttys`]) and the
//! terminal its session and foreground process group. Readers (writers with TOSTOP) outside the
//! foreground group get SIGTTIN (SIGTTOU). When the master's last descriptor closes the
//! replica hangs up: its session leader gets SIGHUP and SIGCONT, reads end (0, end of file)
//! once the input is drained, and writes fail with EIO.
//!
//! Flow control: IXON's STOP character (and TCOOFF) stops the replica's output, its writers
//! wait and echo is held until START (any character with IXANY; TCOON after TCOOFF). Packet
//! mode (TIOCPKT) gives the master a control byte before data, or alone for an event (Linux's
//! pktstatus: flushes, stops and starts, ^S/^Q flow control turned on or off). There is no
//! output to drain: what the replica writes is the master's at once (a Linux pty has no
//! chars_in_buffer either), so TCSETSW and TCSBRK never wait. O_ASYNC descriptions of either
//! end get SIGIO when input for them comes.

pub mod devpts;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::block::{block_on, WaitQueue};
use crate::kernel::{self, lock, Kernel};
use crate::vfs::fasync::AsyncList;
use crate::vfs::FileOps;

/// N_TTY's input buffer: the most bytes of input (and of a canonical line) a terminal holds.
pub const INPUT_MAX: usize = 4096;
/// The most bytes of output waiting for the master's reader.
pub const OUTPUT_MAX: usize = 16384;
/// Echo may overrun the output bound by this much before it is dropped.
const ECHO_SLACK: usize = 4096;
/// The memory a terminal is charged for (its two queues).
const CHARGE: u64 = (INPUT_MAX + OUTPUT_MAX + ECHO_SLACK) as u64;

/// Linux's `tty_std_termios` with a pty replica's control flags (`B38400 | CS8 | CREAD`).
pub fn default_termios() -> Termios {
    let mut cc = [0u8; 19];
    let init = [
        3u8, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0,
    ];
    cc[..init.len()].copy_from_slice(&init);
    Termios {
        c_iflag: ICRNL | IXON,
        c_oflag: OPOST | ONLCR,
        c_cflag: B38400 | CS8 | CREAD,
        c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
        c_line: 0,
        c_cc: cc,
    }
}

/// A pty master's termios (Linux's pty driver: all modes off).
fn master_termios() -> Termios {
    Termios {
        c_cflag: B38400 | CS8 | CREAD,
        c_cc: default_termios().c_cc,
        ..Default::default()
    }
}

/// Everything a terminal's lock guards.
struct State {
    /// The replica's modes (the line discipline's).
    termios: Termios,
    /// The master's own modes: only its STOP and START characters matter (TCXONC's TCIOFF
    /// and TCION through the master); TCGETS and TCSETS through it act on the replica's.
    master_termios: Termios,
    winsize: Winsize,
    /// Input ready for the replica's reader.
    ready: VecDeque<u8>,
    /// Canonical mode: the lengths of the complete lines in `ready`, in order (0: an EOF).
    lines: VecDeque<usize>,
    /// Canonical mode: the line being edited.
    line: Vec<u8>,
    /// The next input byte is literal (VLNEXT).
    lnext: bool,
    /// Output for the master's reader.
    out: VecDeque<u8>,
    /// The replica may not be opened (TIOCSPTLCK).
    locked: bool,
    /// Open descriptions of each end.
    masters: usize,
    replicas: usize,
    /// Whether a replica was ever opened (the master reads EIO once they are all gone).
    replica_seen: bool,
    /// The master has closed: the replica is hung up.
    hung_up: bool,
    /// vhangups so far: replica descriptions opened before the last are hung up (Linux's
    /// hung_up_tty_fops), new opens are not.
    vhangups: u64,
    /// TIOCPKT.
    packet: bool,
    /// Packet mode's pending control byte (TIOCPKT_FLUSHREAD...), which a master's read
    /// returns alone, before any data.
    pktstatus: u8,
    /// The replica's output is stopped (IXON's STOP character, TCOOFF): its writers wait.
    stopped: bool,
    /// Stopped by TCOOFF, which only TCOON undoes.
    tco_stopped: bool,
    /// The master's output (the replica's input) is stopped (TCOOFF on the master).
    master_stopped: bool,
    /// Echo made while output is stopped, shown once it restarts (Linux's echo buffer).
    held: Vec<u8>,
    /// TIOCEXCL.
    exclusive: bool,
    /// The session this is the controlling terminal of.
    session: Option<i32>,
    /// The foreground process group.
    pgrp: Option<i32>,
}

/// One pseudo-terminal pair.
pub struct Terminal {
    /// Its number (`/dev/pts/N`).
    pub index: u32,
    /// Its devpts instance's device number (the replica node's st_dev).
    fs_dev: u64,
    /// Owner, group and permissions of the replica node (its devpts instance's `uid=`,
    /// `gid=` and `mode=`, or the opener's).
    uid: u32,
    gid: u32,
    mode: u32,
    state: Mutex<State>,
    /// Readers and writers of both ends.
    queue: WaitQueue,
    /// O_ASYNC descriptions of the master (signalled when the replica's output comes) and of
    /// the replica (when input comes).
    async_master: AsyncList,
    async_replica: AsyncList,
    kernel: Weak<Kernel>,
}

/// A signal to send once the terminal's lock is released.
type Pending = Vec<(i32, i32)>;

impl Drop for Terminal {
    fn drop(&mut self) {
        crate::limits::memory().release(CHARGE);
    }
}

impl Terminal {
    /// A new pair, locked (unlockpt opens it), its memory charged (ENOSPC past the budget).
    fn new(
        index: u32,
        fs_dev: u64,
        (uid, gid, mode): (u32, u32, u32),
        kernel: Weak<Kernel>,
    ) -> Result<Arc<Self>, Errno> {
        crate::limits::memory().charge(CHARGE, Errno::ENOSPC)?;
        Ok(Arc::new(Terminal {
            index,
            fs_dev,
            uid,
            gid,
            mode,
            state: Mutex::new(State {
                termios: default_termios(),
                master_termios: master_termios(),
                winsize: Winsize::default(),
                ready: VecDeque::new(),
                lines: VecDeque::new(),
                line: Vec::new(),
                lnext: false,
                out: VecDeque::new(),
                locked: true,
                masters: 0,
                replicas: 0,
                replica_seen: false,
                hung_up: false,
                vhangups: 0,
                packet: false,
                pktstatus: 0,
                stopped: false,
                tco_stopped: false,
                master_stopped: false,
                held: Vec::new(),
                exclusive: false,
                session: None,
                pgrp: None,
            }),
            queue: WaitQueue::default(),
            async_master: AsyncList::default(),
            async_replica: AsyncList::default(),
            kernel,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The replica node's stat (`/dev/pts/N`, and fstat of a replica).
    pub fn replica_stat(&self) -> Stat {
        crate::vfs::inode::dated(Stat {
            st_dev: self.fs_dev,
            st_ino: u64::from(self.index) + 3,
            st_nlink: 1,
            st_mode: S_IFCHR | self.mode,
            st_uid: self.uid,
            st_gid: self.gid,
            st_rdev: makedev(136, self.index),
            st_blksize: 1024,
            ..Default::default()
        })
    }

    /// The session and foreground process group.
    pub fn job(&self) -> (Option<i32>, Option<i32>) {
        let g = self.lock();
        (g.session, g.pgrp)
    }

    /// The window size.
    pub fn winsize(&self) -> Winsize {
        self.lock().winsize
    }

    /// TIOCSWINSZ: a new size signals SIGWINCH to the foreground process group.
    pub fn set_winsize(&self, ws: Winsize) {
        let pgrp = {
            let mut g = self.lock();
            let same = bytemuck_eq(&g.winsize, &ws);
            g.winsize = ws;
            if same {
                None
            } else {
                g.pgrp
            }
        };
        if let Some(p) = pgrp {
            self.signal_all(&[(p, SIGWINCH)]);
        }
    }

    /// Whether the master has closed (the replica's node is gone).
    pub fn hung_up(&self) -> bool {
        self.lock().hung_up
    }

    /// Whether the replica is open somewhere.
    pub fn replica_open(&self) -> bool {
        self.lock().replicas > 0
    }

    /// Whether the replica may be opened (unlocked, not hung up).
    fn may_open_replica(&self) -> Result<(), Errno> {
        let g = self.lock();
        if g.locked || g.hung_up {
            return Err(Errno::EIO);
        }
        Ok(())
    }

    fn kernel(&self) -> Option<Arc<Kernel>> {
        self.kernel.upgrade()
    }

    /// Sends each (process group, signal).
    fn signal_all(&self, sigs: &[(i32, i32)]) {
        let Some(k) = self.kernel() else { return };
        for &(pgrp, sig) in sigs {
            signal_pgrp(&k, pgrp, sig);
        }
    }

    /// Opens one end (`master`): a new description of it.
    pub fn open_end(self: &Arc<Self>, master: bool) -> TtyFile {
        let mut g = self.lock();
        if master {
            g.masters += 1;
        } else {
            g.replicas += 1;
            g.replica_seen = true;
        }
        let gen = g.vhangups;
        drop(g);
        self.queue.notify_all();
        TtyFile {
            term: self.clone(),
            master,
            gen,
        }
    }

    // ---- The line discipline: input. ----

    /// Processes input written to the master, as far as there is room; returns how many
    /// bytes were taken. Signals for ISIG characters are collected in `sigs`.
    fn receive(&self, g: &mut State, buf: &[u8], sigs: &mut Pending) -> usize {
        let mut taken = 0;
        for &b in buf {
            if !self.receive_byte(g, b, sigs) {
                break;
            }
            taken += 1;
        }
        taken
    }

    /// One byte of input; false when there is no room for it now (the writer waits).
    fn receive_byte(&self, g: &mut State, mut c: u8, sigs: &mut Pending) -> bool {
        let t = g.termios;
        let (iflag, lflag) = (t.c_iflag, t.c_lflag);
        let canon = lflag & ICANON != 0;
        if iflag & ISTRIP != 0 {
            c &= 0x7f;
        }
        if !g.lnext && iflag & IXON != 0 {
            // Flow control (n_tty_receive_char_flow_ctrl): START restarts the replica's
            // output, STOP stops it; neither is input, and neither needs room.
            let flow = |i: usize| t.c_cc[i] != 0 && t.c_cc[i] == c;
            if flow(VSTART) {
                self.start_output(g);
                return true;
            }
            if flow(VSTOP) {
                self.stop_output(g);
                return true;
            }
        }
        if !canon && g.ready.len() >= INPUT_MAX {
            return false;
        }
        if canon && canon_used(g) >= INPUT_MAX && !g.lines.is_empty() {
            // Complete lines fill the buffer (each line's end counts, as an empty line's EOF
            // takes a byte of Linux's buffer): wait for the reader.
            return false;
        }
        if g.lnext {
            g.lnext = false;
            self.restart_any(g);
            self.put_char(g, c, true);
            return true;
        }
        if c == b'\r' {
            if iflag & IGNCR != 0 {
                return true;
            }
            if iflag & ICRNL != 0 {
                c = b'\n';
            }
        } else if c == b'\n' && iflag & INLCR != 0 {
            c = b'\r';
        }
        if iflag & IUCLC != 0 && lflag & IEXTEN != 0 {
            c = c.to_ascii_lowercase();
        }
        let is = |i: usize| t.c_cc[i] != 0 && t.c_cc[i] == c;
        if lflag & ISIG != 0 {
            let sig = if is(VINTR) {
                Some(SIGINT)
            } else if is(VQUIT) {
                Some(SIGQUIT)
            } else if is(VSUSP) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                if lflag & NOFLSH == 0 {
                    g.ready.clear();
                    g.lines.clear();
                    g.line.clear();
                    g.out.clear();
                    g.held.clear();
                    if g.packet {
                        g.pktstatus |= TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE;
                    }
                }
                if let Some(p) = g.pgrp {
                    sigs.push((p, sig));
                }
                if iflag & IXON != 0 {
                    self.start_output(g);
                }
                if lflag & ECHO != 0 {
                    self.echo_char(g, c);
                }
                return true;
            }
        }
        self.restart_any(g);
        if lflag & IEXTEN != 0 && is(VLNEXT) {
            g.lnext = true;
            if lflag & ECHO != 0 && lflag & ECHOCTL != 0 {
                self.echo_raw(g, b"^\x08");
            }
            return true;
        }
        if canon {
            if is(VERASE) || (lflag & IEXTEN != 0 && is(VWERASE)) || is(VKILL) {
                let kind = if is(VERASE) {
                    0
                } else if is(VKILL) {
                    2
                } else {
                    1
                };
                self.erase(g, kind, c);
                return true;
            }
            if lflag & IEXTEN != 0 && is(VREPRINT) {
                if lflag & ECHO != 0 {
                    self.echo_char(g, c);
                    self.echo_raw(g, b"\n");
                    let line = g.line.clone();
                    for b in line {
                        self.echo_char(g, b);
                    }
                }
                return true;
            }
            if is(VEOF) {
                let n = g.line.len();
                let line = std::mem::take(&mut g.line);
                g.ready.extend(line);
                g.lines.push_back(n);
                self.queue.notify_band(POLLIN);
                return true;
            }
            if c == b'\n' || is(VEOL) || is(VEOL2) {
                if lflag & ECHO != 0 || (c == b'\n' && lflag & ECHONL != 0) {
                    self.echo_char(g, c);
                }
                g.line.push(c);
                let n = g.line.len();
                let line = std::mem::take(&mut g.line);
                g.ready.extend(line);
                g.lines.push_back(n);
                self.queue.notify_band(POLLIN);
                return true;
            }
        }
        self.put_char(g, c, false);
        true
    }

    /// A character for the input (the current line, in canonical mode), echoed.
    fn put_char(&self, g: &mut State, c: u8, literal: bool) {
        let lflag = g.termios.c_lflag;
        if lflag & ICANON != 0 {
            // Linux keeps the last byte of the buffer for the line's end.
            if g.ready.len() + g.line.len() >= INPUT_MAX - 1 {
                return;
            }
            g.line.push(c);
        } else {
            g.ready.push_back(c);
            self.queue.notify_band(POLLIN);
        }
        if lflag & ECHO != 0 {
            if literal && lflag & ECHOCTL != 0 {
                // Undo the "^" shown for VLNEXT.
                self.echo_raw(g, b"\x08");
            }
            self.echo_char(g, c);
        }
    }

    /// VERASE (kind 0), VWERASE (1) or VKILL (2) on the current line.
    fn erase(&self, g: &mut State, kind: u8, c: u8) {
        let lflag = g.termios.c_lflag;
        if g.line.is_empty() {
            return;
        }
        if kind == 2 && lflag & ECHO != 0 && lflag & ECHOKE == 0 {
            g.line.clear();
            self.echo_char(g, c);
            if lflag & ECHOK != 0 {
                self.echo_raw(g, b"\n");
            }
            return;
        }
        let mut seen_word = false;
        while let Some(&last) = g.line.last() {
            if kind == 1 {
                let space = last == b' ' || last == b'\t';
                if space && seen_word {
                    break;
                }
                if !space {
                    seen_word = true;
                }
            }
            g.line.pop();
            // UTF-8 continuation bytes go with their character (IUTF8).
            if g.termios.c_iflag & IUTF8 != 0 && last & 0xc0 == 0x80 {
                continue;
            }
            if lflag & ECHO != 0 {
                if lflag & ECHOE != 0 || kind != 0 {
                    let wide = lflag & ECHOCTL != 0 && is_ctl(last) && last != b'\t';
                    let rub: &[u8] = if wide {
                        b"\x08 \x08\x08 \x08"
                    } else {
                        b"\x08 \x08"
                    };
                    self.echo_raw(g, rub);
                } else if kind == 0 {
                    self.echo_char(g, c);
                }
            }
            if kind == 0 {
                break;
            }
        }
    }

    /// Echoes an input character (control characters as ^X with ECHOCTL).
    fn echo_char(&self, g: &mut State, c: u8) {
        let lflag = g.termios.c_lflag;
        if lflag & ECHOCTL != 0 && is_ctl(c) && c != b'\t' && c != b'\n' {
            self.echo_raw(g, &[b'^', c ^ 0x40]);
        } else {
            self.echo_raw(g, &[c]);
        }
    }

    /// Echo output, through output processing; dropped past the bound.
    fn echo_raw(&self, g: &mut State, bytes: &[u8]) {
        let oflag = g.termios.c_oflag;
        if g.stopped {
            if g.held.len() < ECHO_SLACK {
                let mut v = VecDeque::new();
                post_process(&mut v, bytes, oflag);
                g.held.extend(v);
            }
            return;
        }
        if g.out.len() >= OUTPUT_MAX + ECHO_SLACK {
            return;
        }
        post_process(&mut g.out, bytes, oflag);
        self.queue.notify_band(POLLIN);
    }

    /// Stops the replica's output (Linux's __stop_tty, with pty_stop's packet status).
    fn stop_output(&self, g: &mut State) {
        if g.stopped {
            return;
        }
        g.stopped = true;
        if g.packet {
            g.pktstatus = (g.pktstatus & !TIOCPKT_START) | TIOCPKT_STOP;
        }
        self.queue.notify_all();
    }

    /// Restarts the replica's output unless TCOOFF holds it (Linux's __start_tty): held echo
    /// goes out, writers wake.
    fn start_output(&self, g: &mut State) {
        if !g.stopped || g.tco_stopped {
            return;
        }
        g.stopped = false;
        if g.packet {
            g.pktstatus = (g.pktstatus & !TIOCPKT_STOP) | TIOCPKT_START;
        }
        let held = std::mem::take(&mut g.held);
        g.out.extend(held);
        self.queue.notify_all();
    }

    /// IXANY: any input character restarts output stopped by the STOP character.
    fn restart_any(&self, g: &mut State) {
        let iflag = g.termios.c_iflag;
        if g.stopped && !g.tco_stopped && iflag & IXON != 0 && iflag & IXANY != 0 {
            self.start_output(g);
        }
    }

    /// Switches modes (TCSETS*): a line being edited becomes input when ICANON goes off; input
    /// read raw becomes one line when it comes back on.
    fn set_termios(&self, g: &mut State, new: Termios) {
        let was_canon = g.termios.c_lflag & ICANON != 0;
        let canon = new.c_lflag & ICANON != 0;
        if was_canon && !canon {
            let line = std::mem::take(&mut g.line);
            g.ready.extend(line);
            g.lines.clear();
        } else if !was_canon && canon {
            g.lines.clear();
            if !g.ready.is_empty() {
                let n = g.ready.len();
                g.lines.push_back(n);
            }
        }
        let old = g.termios;
        g.termios = new;
        if new.c_iflag & IXON == 0 && old.c_iflag & IXON != 0 && !g.tco_stopped {
            self.start_output(g);
        }
        if g.packet {
            // pty_set_termios: the master hears whether ^S/^Q flow control is on.
            let flow = |t: &Termios| {
                t.c_iflag & IXON != 0 && t.c_cc[VSTOP] == 0x13 && t.c_cc[VSTART] == 0x11
            };
            if flow(&old) != flow(&new) {
                g.pktstatus &= !(TIOCPKT_DOSTOP | TIOCPKT_NOSTOP);
                g.pktstatus |= if flow(&new) {
                    TIOCPKT_DOSTOP
                } else {
                    TIOCPKT_NOSTOP
                };
            }
        }
        self.queue.notify_all();
    }

    /// Whether the replica has input a read would return now.
    fn input_ready(g: &State) -> bool {
        if g.termios.c_lflag & ICANON != 0 {
            !g.lines.is_empty()
        } else {
            !g.ready.is_empty()
        }
    }

    /// Takes input for a replica read.
    fn take_input(&self, g: &mut State, buf: &mut [u8]) -> usize {
        let n = if g.termios.c_lflag & ICANON != 0 {
            let Some(first) = g.lines.front_mut() else {
                return 0;
            };
            let n = (*first).min(buf.len()).min(g.ready.len());
            *first -= n;
            if *first == 0 {
                g.lines.pop_front();
            }
            n
        } else {
            buf.len().min(g.ready.len())
        };
        for (i, b) in g.ready.drain(..n).enumerate() {
            buf[i] = b;
        }
        self.queue.notify_band(POLLOUT);
        n
    }

    // ---- Ends. ----

    /// A read of the replica.
    fn replica_read(&self, buf: &mut [u8], nonblock: bool, gen: u64) -> Result<usize, Errno> {
        job_check(self, SIGTTIN)?;
        if buf.is_empty() {
            return Ok(0);
        }
        let (canon, vmin, vtime) = {
            let g = self.lock();
            let t = g.termios;
            (
                t.c_lflag & ICANON != 0,
                usize::from(t.c_cc[VMIN]),
                u64::from(t.c_cc[VTIME]),
            )
        };
        if canon || nonblock || (vmin > 0 && vtime == 0) {
            // Canonical: a line; raw with VMIN>0 and no timer: at least VMIN bytes (or what
            // the buffer asked for holds).
            let want = if canon { 1 } else { vmin.min(buf.len()).max(1) };
            return block_on(&[&self.queue], None, || {
                let mut g = self.lock();
                let have = if canon {
                    usize::from(!g.lines.is_empty())
                } else {
                    g.ready.len()
                };
                if have >= want || (nonblock && have > 0) {
                    return Some(Ok(self.take_input(&mut g, buf)));
                }
                if dead(&g, gen) {
                    // Linux's hung_up_tty_read: an end of file.
                    return Some(Ok(self.take_input(&mut g, buf)));
                }
                if nonblock {
                    return Some(Err(Errno::EAGAIN));
                }
                None
            });
        }
        let timer = Duration::from_millis(vtime * 100);
        if vmin == 0 {
            // A read with a timeout (or none: a poll).
            let deadline = Instant::now() + timer;
            let r = block_on(&[&self.queue], Some(deadline), || {
                let mut g = self.lock();
                if !g.ready.is_empty() {
                    return Some(Ok(self.take_input(&mut g, buf)));
                }
                if dead(&g, gen) {
                    return Some(Ok(0));
                }
                if vtime == 0 {
                    return Some(Ok(0));
                }
                None
            });
            return match r {
                Err(Errno::ETIMEDOUT) => Ok(0),
                r => r,
            };
        }
        // VMIN > 0 and VTIME > 0: an inter-byte timer started by the first byte.
        let want = vmin.min(buf.len());
        let mut seen = 0;
        let mut deadline: Option<Instant> = None;
        loop {
            let r = block_on(&[&self.queue], deadline, || {
                let g = self.lock();
                let have = g.ready.len();
                if have >= want || (have > 0 && have != seen) || dead(&g, gen) {
                    return Some(Ok(have));
                }
                None
            });
            match r {
                Ok(have) => {
                    let mut g = self.lock();
                    if have >= want || (dead(&g, gen) && have > 0) {
                        return Ok(self.take_input(&mut g, buf));
                    }
                    if dead(&g, gen) {
                        return Ok(0);
                    }
                    seen = have;
                    deadline = Some(Instant::now() + timer);
                }
                Err(Errno::ETIMEDOUT) => {
                    let mut g = self.lock();
                    return Ok(self.take_input(&mut g, buf));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A write to the replica: output processing into the master's queue.
    fn replica_write(&self, buf: &[u8], nonblock: bool, gen: u64) -> Result<usize, Errno> {
        if self.lock().termios.c_lflag & TOSTOP != 0 {
            job_check(self, SIGTTOU)?;
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        let r = block_on(&[&self.queue], None, || {
            let mut g = self.lock();
            if dead(&g, gen) {
                return Some(if done > 0 { Ok(done) } else { Err(Errno::EIO) });
            }
            let oflag = g.termios.c_oflag;
            while done < buf.len() && g.out.len() < OUTPUT_MAX && !g.stopped {
                let room = OUTPUT_MAX - g.out.len();
                // At most half the room per step: a byte may become two.
                let n = (room / 2).max(1).min(buf.len() - done);
                post_process(&mut g.out, &buf[done..done + n], oflag);
                done += n;
            }
            self.queue.notify_band(POLLIN);
            if done == buf.len() {
                return Some(Ok(done));
            }
            if nonblock {
                return Some(if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                });
            }
            None
        });
        if done > 0 {
            self.sigio(true);
        }
        match r {
            Err(Errno::ERESTARTSYS) if done > 0 => Ok(done),
            r => r,
        }
    }

    /// Signals the O_ASYNC owners of the master (`master`) or of the replica: input came.
    fn sigio(&self, master: bool) {
        let list = if master {
            &self.async_master
        } else {
            &self.async_replica
        };
        if list.is_empty() {
            return;
        }
        if let Some(k) = self.kernel() {
            list.notify_in(&k, POLL_IN, POLLIN | POLLRDNORM);
        }
    }

    /// A read of the master: the replica's output. EIO once every replica has closed and the
    /// output is drained.
    fn master_read(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        block_on(&[&self.queue], None, || {
            let mut g = self.lock();
            if g.packet && g.pktstatus != 0 {
                // A control byte comes alone.
                buf[0] = g.pktstatus;
                g.pktstatus = 0;
                return Some(Ok(1));
            }
            if !g.out.is_empty() {
                let (start, room) = if g.packet {
                    buf[0] = 0; // TIOCPKT_DATA
                    (1, buf.len() - 1)
                } else {
                    (0, buf.len())
                };
                let n = room.min(g.out.len());
                for (i, b) in g.out.drain(..n).enumerate() {
                    buf[start + i] = b;
                }
                self.queue.notify_band(POLLOUT);
                return Some(Ok(start + n));
            }
            if g.replica_seen && g.replicas == 0 {
                return Some(Err(Errno::EIO));
            }
            if nonblock {
                return Some(Err(Errno::EAGAIN));
            }
            None
        })
    }

    /// A write to the master: input for the line discipline.
    pub fn master_write(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        self.input(buf, nonblock, false)
    }

    /// Input for the line discipline: a master's write, or TIOCSTI's (`sti`: not held by a
    /// stopped master).
    fn input(&self, buf: &[u8], nonblock: bool, sti: bool) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        let mut echoed = false;
        let mut sigs = Pending::new();
        let r = block_on(&[&self.queue], None, || {
            let mut g = self.lock();
            if sti || !g.master_stopped {
                let before = g.out.len();
                done += self.receive(&mut g, &buf[done..], &mut sigs);
                echoed |= g.out.len() > before;
            }
            if done == buf.len() {
                return Some(Ok(done));
            }
            if nonblock {
                return Some(if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                });
            }
            if !sigs.is_empty() {
                // Let the signals go before waiting.
                return Some(Ok(done));
            }
            None
        });
        self.signal_all(&sigs);
        if done > 0 {
            // n_tty_receive_buf: kill_fasync(POLL_IN) when there is something to read; the
            // echo is the master's input.
            if Self::input_ready(&self.lock()) {
                self.sigio(false);
            }
            if echoed {
                self.sigio(true);
            }
        }
        match r {
            Err(Errno::ERESTARTSYS) if done > 0 => Ok(done),
            r => r,
        }
    }

    /// The master's readiness.
    fn master_poll(&self) -> u32 {
        let g = self.lock();
        let mut ev = 0;
        if !g.out.is_empty() {
            ev |= POLLIN | POLLRDNORM;
        }
        if g.packet && g.pktstatus != 0 {
            ev |= POLLIN | POLLRDNORM | POLLPRI;
        }
        let room = if g.termios.c_lflag & ICANON != 0 {
            canon_used(&g) < INPUT_MAX || g.lines.is_empty()
        } else {
            g.ready.len() < INPUT_MAX
        };
        if room && !g.master_stopped {
            ev |= POLLOUT | POLLWRNORM;
        }
        if g.replica_seen && g.replicas == 0 {
            ev |= POLLHUP;
        }
        ev
    }

    /// The replica's readiness.
    fn replica_poll(&self, gen: u64) -> u32 {
        let g = self.lock();
        if dead(&g, gen) {
            return POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM;
        }
        let mut ev = 0;
        if Self::input_ready(&g) {
            ev |= POLLIN | POLLRDNORM;
        }
        if g.out.len() < OUTPUT_MAX && !g.stopped {
            ev |= POLLOUT | POLLWRNORM;
        }
        ev
    }

    /// An end closed.
    fn close_end(&self, master: bool) {
        let mut g = self.lock();
        let mut leader = None;
        if master {
            g.masters -= 1;
            if g.masters == 0 {
                g.hung_up = true;
                leader = g.session.take();
                g.pgrp = None;
            }
        } else {
            g.replicas -= 1;
        }
        // The number is free again once both ends are gone (the node went with the master).
        let gone = g.masters == 0 && g.replicas == 0;
        drop(g);
        self.queue.notify_all();
        if let Some(sid) = leader {
            // Hang-up: the session loses its terminal and its leader hears of it.
            if let Some(k) = self.kernel() {
                forget_ctty(&k, sid, self);
                signal_process(&k, sid, SIGHUP);
                signal_process(&k, sid, SIGCONT);
            }
        }
        if gone {
            devpts::release(self.index, self.fs_dev);
        }
    }

    /// Flushes the replica's input, output or both (TCFLSH); in packet mode a flush asked
    /// through the replica (`replica`) tells the master (TIOCPKT_FLUSHREAD, _FLUSHWRITE).
    fn flush(&self, which: u32, replica: bool) -> Result<(), Errno> {
        let mut g = self.lock();
        let (input, output) = match which {
            TCIFLUSH => (true, false),
            TCOFLUSH => (false, true),
            TCIOFLUSH => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        if input {
            g.ready.clear();
            g.lines.clear();
            g.line.clear();
        }
        if output {
            g.out.clear();
        }
        if replica && g.packet {
            if input {
                g.pktstatus |= TIOCPKT_FLUSHREAD;
            }
            if output {
                g.pktstatus |= TIOCPKT_FLUSHWRITE;
            }
        }
        drop(g);
        self.queue.notify_all();
        Ok(())
    }
}

impl Terminal {
    /// TCXONC through the master (`master`) or the replica: TCOOFF and TCOON stop and
    /// restart that end's output, TCIOFF and TCION send its STOP or START character to the
    /// other end (Linux's n_tty_ioctl_helper and tty_send_xchar).
    fn flow(&self, master: bool, action: u32) -> Result<(), Errno> {
        let mut g = self.lock();
        match action {
            TCOOFF if master => g.master_stopped = true,
            TCOON if master => g.master_stopped = false,
            TCOOFF => {
                if !g.tco_stopped {
                    g.tco_stopped = true;
                    self.stop_output(&mut g);
                }
            }
            TCOON => {
                if g.tco_stopped {
                    g.tco_stopped = false;
                    self.start_output(&mut g);
                }
            }
            TCIOFF | TCION => {
                let i = if action == TCIOFF { VSTOP } else { VSTART };
                if master {
                    // The master's character is the replica's input.
                    let c = g.master_termios.c_cc[i];
                    if c != 0 {
                        let mut sigs = Pending::new();
                        self.receive(&mut g, &[c], &mut sigs);
                        drop(g);
                        self.signal_all(&sigs);
                        self.queue.notify_all();
                        return Ok(());
                    }
                } else {
                    // Straight to the master, even while output is stopped.
                    let c = g.termios.c_cc[i];
                    if c != 0 {
                        g.out.push_back(c);
                        drop(g);
                        self.queue.notify_all();
                        self.sigio(true);
                        return Ok(());
                    }
                }
            }
            _ => return Err(Errno::EINVAL),
        }
        drop(g);
        self.queue.notify_all();
        Ok(())
    }
}

/// Whether a replica description opened at hang-up generation `gen` is hung up: the master
/// closed, or a vhangup came since the open.
fn dead(g: &State, gen: u64) -> bool {
    g.hung_up || g.vhangups != gen
}

/// A pty's control modes are always 8 bits, no parity, receiver on (pty_set_termios).
fn pty_cflag(t: &mut Termios) {
    t.c_cflag = (t.c_cflag & !(CSIZE | PARENB)) | CS8 | CREAD;
}

/// The canonical buffer's use: the complete lines, their ends, and the line being edited.
fn canon_used(g: &State) -> usize {
    g.ready.len() + g.line.len() + g.lines.len()
}

fn bytemuck_eq(a: &Winsize, b: &Winsize) -> bool {
    (a.ws_row, a.ws_col, a.ws_xpixel, a.ws_ypixel) == (b.ws_row, b.ws_col, b.ws_xpixel, b.ws_ypixel)
}

fn is_ctl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// Output processing of `bytes` into `out` (OPOST: ONLCR, OCRNL, ONOCR, ONLRET, OLCUC).
fn post_process(out: &mut VecDeque<u8>, bytes: &[u8], oflag: u32) {
    if oflag & OPOST == 0 {
        out.extend(bytes);
        return;
    }
    for &c in bytes {
        match c {
            b'\n' if oflag & ONLCR != 0 => out.extend(b"\r\n"),
            b'\r' if oflag & OCRNL != 0 => out.push_back(b'\n'),
            b'\r' if oflag & ONOCR != 0 && matches!(out.back(), None | Some(b'\n')) => {}
            c if oflag & OLCUC != 0 => out.push_back(c.to_ascii_uppercase()),
            c => out.push_back(c),
        }
    }
}

/// One open end of a terminal.
pub struct TtyFile {
    /// The pair.
    pub term: Arc<Terminal>,
    /// The master end (else the replica).
    pub master: bool,
    /// The terminal's vhangup count at the open.
    gen: u64,
}

impl Drop for TtyFile {
    fn drop(&mut self) {
        self.term.close_end(self.master);
    }
}

impl FileOps for TtyFile {
    fn is_stream(&self) -> bool {
        true
    }

    fn read_stream(&self, buf: &mut [u8], nonblock: bool) -> Result<usize, Errno> {
        if self.master {
            self.term.master_read(buf, nonblock)
        } else {
            self.term.replica_read(buf, nonblock, self.gen)
        }
    }

    fn write_stream(&self, buf: &[u8], nonblock: bool) -> Result<usize, Errno> {
        if self.master {
            self.term.master_write(buf, nonblock)
        } else {
            self.term.replica_write(buf, nonblock, self.gen)
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        if self.master {
            Ok(devpts::ptmx_stat(self.term.fs_dev))
        } else {
            Ok(self.term.replica_stat())
        }
    }

    fn readable_bytes(&self) -> Result<usize, Errno> {
        let g = self.term.lock();
        Ok(if self.master {
            g.out.len()
        } else if g.termios.c_lflag & ICANON != 0 {
            g.lines.iter().sum()
        } else {
            g.ready.len()
        })
    }

    fn poll_events(&self) -> u32 {
        if self.master {
            self.term.master_poll()
        } else {
            self.term.replica_poll(self.gen)
        }
    }

    fn poll_queue(&self) -> Option<&WaitQueue> {
        Some(&self.term.queue)
    }

    fn as_tty(&self) -> Option<&TtyFile> {
        Some(self)
    }

    /// O_ASYNC: a description without an owner gets one, the replica's foreground group if
    /// the replica is a controlling terminal, else the caller (Linux's __tty_fasync).
    fn set_async(&self, file: &Arc<crate::vfs::File>, fd: i32, on: bool) {
        let list = if self.master {
            &self.term.async_master
        } else {
            &self.term.async_replica
        };
        list.set(file, fd, on);
        if !on {
            return;
        }
        let pgrp = if self.master {
            None
        } else {
            self.term.lock().pgrp
        };
        let mut own = lock(&file.fown);
        if own.id != 0 {
            return;
        }
        if let Some(p) = pgrp {
            own.kind = F_OWNER_PGRP;
            own.id = p;
        } else if let Some(task) = kernel::block::current() {
            own.kind = F_OWNER_PID;
            own.id = task.tg.tgid;
        }
    }
}

// ---- Sessions, process groups, signals. ----

/// Sends `sig` from the kernel to every live process of group `pgrp`.
pub fn signal_pgrp(k: &Kernel, pgrp: i32, sig: i32) {
    let tgs: Vec<_> = lock(&k.tree)
        .procs
        .values()
        .filter(|p| p.pgid == pgrp && p.zombie.is_none())
        .map(|p| p.tg.clone())
        .collect();
    for tg in tgs {
        kernel::send_process_signal(k, &tg, kernel::signal::kernel_info(sig));
    }
}

fn signal_process(k: &Kernel, pid: i32, sig: i32) {
    let tg = lock(&k.tree)
        .procs
        .get(&pid)
        .filter(|p| p.zombie.is_none())
        .map(|p| p.tg.clone());
    if let Some(tg) = tg {
        kernel::send_process_signal(k, &tg, kernel::signal::kernel_info(sig));
    }
}

/// The calling process's (pid, pgid, sid), on a task thread; the sid is 0 (no session's)
/// when the process gave up its session's terminal (see [`tty_sid`]).
fn caller(k: &Kernel) -> Option<(i32, i32, i32)> {
    let task = kernel::block::current()?;
    let pid = task.tg.tgid;
    let tree = lock(&k.tree);
    let p = tree.procs.get(&pid)?;
    Some((pid, p.pgid, tty_sid(p)))
}

/// The session whose controlling terminal a process has: its own, or 0 (none) after a
/// TIOCNOTTY by a member that is not the leader.
pub fn tty_sid(p: &kernel::tree::Proc) -> i32 {
    if p.no_ctty {
        0
    } else {
        p.sid
    }
}

/// The controlling terminal of session `sid`.
pub fn ctty_of(k: &Kernel, sid: i32) -> Option<Arc<Terminal>> {
    lock(&k.ttys).get(&sid).cloned()
}

/// Removes `term` as session `sid`'s controlling terminal.
fn forget_ctty(k: &Kernel, sid: i32, term: &Terminal) {
    let mut m = lock(&k.ttys);
    if m.get(&sid).is_some_and(|t| std::ptr::eq(t.as_ref(), term)) {
        m.remove(&sid);
    }
}

/// Makes `term` the controlling terminal of session `sid` whose leader's group is `pgrp`
/// (TIOCSCTTY, an open by a session leader, the first program's terminal).
pub fn set_ctty(k: &Kernel, term: &Arc<Terminal>, sid: i32, pgrp: i32) {
    {
        let mut g = term.lock();
        g.session = Some(sid);
        g.pgrp = Some(pgrp);
    }
    let live: std::collections::BTreeSet<i32> =
        lock(&k.tree).procs.values().map(|p| p.sid).collect();
    let mut m = lock(&k.ttys);
    // Sessions that are gone leave no terminal behind (the map stays bounded).
    m.retain(|s, _| live.contains(s));
    m.insert(sid, term.clone());
}

/// A session's new leader (setsid): the session starts without a terminal.
pub fn new_session(k: &Kernel, sid: i32) {
    lock(&k.ttys).remove(&sid);
}

/// A session leader exited: its terminal's foreground group gets SIGHUP and SIGCONT and the
/// session loses the terminal (Linux's disassociate_ctty).
pub fn session_leader_exited(k: &Kernel, sid: i32) {
    let Some(term) = lock(&k.ttys).remove(&sid) else {
        return;
    };
    let pgrp = {
        let mut g = term.lock();
        if g.session != Some(sid) {
            return;
        }
        g.session = None;
        g.pgrp.take()
    };
    if let Some(p) = pgrp {
        signal_pgrp(k, p, SIGHUP);
        signal_pgrp(k, p, SIGCONT);
    }
}

/// Hangs up `term` (vhangup(2), TIOCVHANGUP; Linux's __tty_hangup): its open replica
/// descriptions read end of file and fail writes with EIO from now on, its input is flushed,
/// its modes are reset, its session loses it and the session's leader gets SIGHUP and
/// SIGCONT. The pair lives on:
/// the replica opens again.
pub fn vhangup(k: &Kernel, term: &Arc<Terminal>) {
    let sid = {
        let mut g = term.lock();
        g.vhangups += 1;
        g.pgrp = None;
        // A pty driver's TTY_DRIVER_RESET_TERMIOS: back to the default modes.
        term.set_termios(&mut g, default_termios());
        g.session.take()
    };
    let _ = term.flush(TCIFLUSH, true);
    term.queue.notify_all();
    if let Some(sid) = sid {
        forget_ctty(k, sid, term);
        signal_process(k, sid, SIGHUP);
        signal_process(k, sid, SIGCONT);
    }
}

/// vhangup(2) by the calling task: with CAP_SYS_TTY_CONFIG, hangs up its controlling
/// terminal if it has one; EPERM without.
pub fn vhangup_self(caps: u64) -> Result<(), Errno> {
    if caps & (1 << CAP_SYS_TTY_CONFIG) == 0 {
        return Err(Errno::EPERM);
    }
    let Some(k) = crate::kernel::block::current_kernel() else {
        return Ok(());
    };
    if let Some((_, _, sid)) = caller(&k) {
        if let Some(term) = ctty_of(&k, sid) {
            vhangup(&k, &term);
        }
    }
    Ok(())
}

/// An open of a replica without O_NOCTTY: a session leader without a terminal acquires it,
/// if no other session has it.
pub fn open_acquire(term: &Arc<Terminal>, flags: u32) {
    if flags & O_NOCTTY != 0 {
        return;
    }
    let Some(k) = crate::kernel::block::current_kernel() else {
        return;
    };
    let Some((pid, pgid, sid)) = caller(&k) else {
        return;
    };
    if pid != sid || ctty_of(&k, sid).is_some() || term.lock().session.is_some() {
        return;
    }
    set_ctty(&k, term, sid, pgid);
}

/// Whether process group `pgrp` is orphaned: no member has a parent in another group of the
/// same session (POSIX; Linux's will_become_orphaned_pgrp).
fn orphaned(k: &Kernel, pgrp: i32) -> bool {
    let tree = lock(&k.tree);
    !tree.procs.values().any(|p| {
        p.pgid == pgrp
            && p.zombie.is_none()
            && tree
                .procs
                .get(&p.parent)
                .is_some_and(|pp| pp.pgid != pgrp && pp.sid == p.sid)
    })
}

/// Job control for a replica access (Linux's __tty_check_change and job_control): a process
/// of a background group of the terminal's session gets `sig` (SIGTTIN for reads, SIGTTOU for
/// writes and mode changes) and the call restarts after the stop; EIO when the signal is
/// ignored or blocked (reads) or its group is orphaned; a write goes ahead when SIGTTOU is
/// ignored or blocked.
pub fn job_check(term: &Terminal, sig: i32) -> Result<(), Errno> {
    let Some(k) = term.kernel() else {
        return Ok(());
    };
    let Some((pid, pgid, sid)) = caller(&k) else {
        return Ok(());
    };
    let _ = pid;
    let (tsid, tpgrp) = term.job();
    if tsid != Some(sid) || tpgrp.is_none() || tpgrp == Some(pgid) {
        return Ok(());
    }
    let Some(task) = kernel::block::current() else {
        return Ok(());
    };
    let ignored = lock(&task.tg.sighand()).actions[sig as usize - 1].handler == SIG_IGN;
    if ignored || task.blocks(sig) {
        return if sig == SIGTTIN {
            Err(Errno::EIO)
        } else {
            Ok(())
        };
    }
    if orphaned(&k, pgid) {
        return Err(Errno::EIO);
    }
    signal_pgrp(&k, pgid, sig);
    Err(Errno::ERESTARTSYS)
}

/// Opens `/dev/tty`: the caller's controlling terminal (ENXIO without one).
pub fn open_controlling(flags: u32) -> Result<Box<dyn FileOps>, Errno> {
    let k = crate::kernel::block::current_kernel().ok_or(Errno::ENXIO)?;
    let (_, _, sid) = caller(&k).ok_or(Errno::ENXIO)?;
    let term = ctty_of(&k, sid).ok_or(Errno::ENXIO)?;
    let _ = flags;
    term.may_open_replica()?;
    Ok(Box::new(term.open_end(false)))
}

// ---- ioctl(2). ----

/// What an ioctl on a terminal needs of the calling task.
pub struct Caller {
    /// Process id, group and session.
    pub pid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its session.
    pub sid: i32,
    /// CAP_SYS_ADMIN (TIOCSCTTY's steal, TIOCSTI).
    pub admin: bool,
}

/// The terminal ioctls on `f` that need no fd table (the syscall layer copies `data` in
/// before and out after; TIOCGPTPEER is the syscall layer's). `Err(ENOIOCTLCMD)`-like
/// requests unknown here give ENOTTY.
pub fn ioctl(f: &TtyFile, who: &Caller, req: u32, data: &mut [u8]) -> Result<u64, Errno> {
    let term = &f.term;
    let k = term.kernel().ok_or(Errno::EIO)?;
    if !f.master && dead(&term.lock(), f.gen) {
        return Err(if req == TIOCSPGRP {
            Errno::ENOTTY
        } else {
            Errno::EIO
        });
    }
    let is_ctty = || term.lock().session == Some(who.sid);
    let put_i32 = |data: &mut [u8], v: i32| {
        data[..4].copy_from_slice(&v.to_le_bytes());
    };
    let get_i32 = |data: &[u8]| i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    // The modes' requests act on the replica through either end (tty_mode_ioctl's real_tty:
    // a pty master's TCGETS shows its replica's modes, its TCSETS sets them).
    match req {
        TCGETS | TCGETS2 => {
            let t = term.lock().termios;
            if req == TCGETS {
                data.copy_from_slice(bytemuck_bytes(&t));
            } else {
                let t2 = Termios2 {
                    termios: t,
                    c_ispeed: 38400,
                    c_ospeed: 38400,
                };
                data.copy_from_slice(bytemuck_bytes(&t2));
            }
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 => {
            job_check(term, SIGTTOU)?;
            let mut t: Termios =
                bytemuck::pod_read_unaligned(&data[..std::mem::size_of::<Termios>()]);
            t.c_line = 0;
            pty_cflag(&mut t);
            if matches!(req, TCSETSF | TCSETSF2) {
                term.flush(TCIFLUSH, true)?;
            }
            let mut g = term.lock();
            term.set_termios(&mut g, t);
            Ok(0)
        }
        TCGETA => {
            let t = term.lock().termios;
            data.fill(0);
            for (i, v) in [t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag]
                .iter()
                .enumerate()
            {
                data[i * 2..i * 2 + 2].copy_from_slice(&(*v as u16).to_le_bytes());
            }
            data[8] = t.c_line;
            data[9..17].copy_from_slice(&t.c_cc[..8]);
            Ok(0)
        }
        TCSETA | TCSETAW | TCSETAF => {
            job_check(term, SIGTTOU)?;
            if req == TCSETAF {
                term.flush(TCIFLUSH, true)?;
            }
            let mut g = term.lock();
            let mut t = g.termios;
            let word = |i: usize| u32::from(u16::from_le_bytes([data[i * 2], data[i * 2 + 1]]));
            t.c_iflag = (t.c_iflag & 0xffff_0000) | word(0);
            t.c_oflag = (t.c_oflag & 0xffff_0000) | word(1);
            t.c_cflag = (t.c_cflag & 0xffff_0000) | word(2);
            t.c_lflag = (t.c_lflag & 0xffff_0000) | word(3);
            t.c_cc[..8].copy_from_slice(&data[9..17]);
            pty_cflag(&mut t);
            term.set_termios(&mut g, t);
            Ok(0)
        }
        TIOCGWINSZ => {
            data.copy_from_slice(bytemuck_bytes(&term.winsize()));
            Ok(0)
        }
        TIOCSWINSZ => {
            let ws: Winsize = bytemuck::pod_read_unaligned(data);
            term.set_winsize(ws);
            Ok(0)
        }
        FIONREAD => {
            let n = f.readable_bytes()?.min(i32::MAX as usize) as i32;
            put_i32(data, n);
            Ok(0)
        }
        TIOCOUTQ => {
            let g = term.lock();
            let n = if f.master { 0 } else { g.out.len() };
            put_i32(data, n as i32);
            Ok(0)
        }
        TCFLSH => {
            let which = get_i32(data) as u32;
            let which = if f.master {
                // The master's input is the replica's output.
                match which {
                    TCIFLUSH => TCOFLUSH,
                    TCOFLUSH => TCIFLUSH,
                    w => w,
                }
            } else {
                which
            };
            term.flush(which, !f.master).map(|_| 0)
        }
        TCSBRK | TCSBRKP | TIOCSBRK | TIOCCBRK => {
            // A pty has no break to send, and nothing to drain: what the replica wrote is
            // the master's already (Linux's pty has no chars_in_buffer).
            if !f.master {
                job_check(term, SIGTTOU)?;
            }
            Ok(0)
        }
        TCXONC => {
            if !f.master {
                job_check(term, SIGTTOU)?;
            }
            term.flow(f.master, get_i32(data) as u32).map(|_| 0)
        }
        TIOCEXCL | TIOCNXCL => {
            term.lock().exclusive = req == TIOCEXCL;
            Ok(0)
        }
        TIOCGEXCL => {
            put_i32(data, i32::from(term.lock().exclusive));
            Ok(0)
        }
        TIOCGETD => {
            put_i32(data, 0); // N_TTY
            Ok(0)
        }
        TIOCSETD => {
            if get_i32(data) == 0 {
                Ok(0)
            } else {
                Err(Errno::EINVAL)
            }
        }
        TIOCPKT => {
            if !f.master {
                return Err(Errno::ENOTTY);
            }
            let mut g = term.lock();
            if get_i32(data) == 0 {
                g.packet = false;
            } else if !g.packet {
                g.pktstatus = 0;
                g.packet = true;
            }
            Ok(0)
        }
        TIOCGPKT => {
            if !f.master {
                return Err(Errno::ENOTTY);
            }
            put_i32(data, i32::from(term.lock().packet));
            Ok(0)
        }
        TIOCGPTN => {
            if !f.master {
                return Err(Errno::ENOTTY);
            }
            put_i32(data, term.index as i32);
            Ok(0)
        }
        TIOCSPTLCK => {
            if !f.master {
                return Err(Errno::ENOTTY);
            }
            term.lock().locked = get_i32(data) != 0;
            Ok(0)
        }
        TIOCGPTLCK => {
            if !f.master {
                return Err(Errno::ENOTTY);
            }
            put_i32(data, i32::from(term.lock().locked));
            Ok(0)
        }
        TIOCGDEV => {
            let (major, minor) = if f.master { (5, 2) } else { (136, term.index) };
            put_i32(
                data,
                ((major << 8) | (minor & 0xff) | ((minor & !0xff) << 12)) as i32,
            );
            Ok(0)
        }
        TIOCSIG => {
            if !f.master {
                return Err(Errno::ENOTTY);
            }
            let sig = get_i32(data);
            if !(1..=64).contains(&sig) {
                return Err(Errno::EINVAL);
            }
            if let Some(p) = term.lock().pgrp {
                signal_pgrp(&k, p, sig);
            }
            Ok(0)
        }
        TIOCSTI => {
            if !who.admin {
                return Err(Errno::EPERM);
            }
            term.input(&data[..1], true, true).map(|_| 0)
        }
        TIOCVHANGUP => {
            if !who.admin {
                return Err(Errno::EPERM);
            }
            vhangup(&k, term);
            Ok(0)
        }
        TIOCSCTTY => {
            if f.master {
                return Err(Errno::EPERM);
            }
            if who.pid != who.sid {
                return Err(Errno::EPERM);
            }
            if let Some(cur) = ctty_of(&k, who.sid) {
                return if Arc::ptr_eq(&cur, term) {
                    Ok(0)
                } else {
                    Err(Errno::EPERM)
                };
            }
            let owner = term.lock().session;
            if let Some(other) = owner {
                // Stealing another session's terminal: root with arg 1.
                if !(who.admin && get_i32(data) == 1) {
                    return Err(Errno::EPERM);
                }
                forget_ctty(&k, other, term);
            }
            set_ctty(&k, term, who.sid, who.pgid);
            Ok(0)
        }
        TIOCNOTTY => {
            if f.master || !is_ctty() {
                return Err(Errno::ENOTTY);
            }
            if who.pid == who.sid {
                // The leader: the foreground group hears SIGHUP and SIGCONT, the session
                // loses its terminal.
                session_leader_exited(&k, who.sid);
            } else if let Some(p) = lock(&k.tree).procs.get_mut(&who.pid) {
                // Another member just loses it (Linux's proc_clear_tty).
                p.no_ctty = true;
            }
            Ok(0)
        }
        TIOCGPGRP => {
            if !f.master && !is_ctty() {
                return Err(Errno::ENOTTY);
            }
            // No foreground group: a pgid no process has (Linux: 0 here too).
            put_i32(data, term.lock().pgrp.unwrap_or(0));
            Ok(0)
        }
        TIOCSPGRP => {
            if f.master || !is_ctty() {
                return Err(Errno::ENOTTY);
            }
            job_check(term, SIGTTOU)?;
            let pg = get_i32(data);
            if pg < 0 {
                return Err(Errno::EINVAL);
            }
            let exists = lock(&k.tree)
                .procs
                .values()
                .filter(|p| p.pgid == pg && p.zombie.is_none())
                .map(|p| p.sid)
                .collect::<Vec<_>>();
            if exists.is_empty() {
                return Err(Errno::ESRCH);
            }
            if !exists.contains(&who.sid) {
                return Err(Errno::EPERM);
            }
            term.lock().pgrp = Some(pg);
            Ok(0)
        }
        TIOCGSID => {
            if !f.master && !is_ctty() {
                return Err(Errno::ENOTTY);
            }
            let s = term.lock().session.ok_or(Errno::ENOTTY)?;
            put_i32(data, s);
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// The size of an ioctl's argument, for the requests of [`ioctl`] that take one (0: none,
/// or an integer by value).
pub fn arg_size(req: u32) -> Option<usize> {
    Some(match req {
        TCGETS | TCSETS | TCSETSW | TCSETSF => std::mem::size_of::<Termios>(),
        TCGETA | TCSETA | TCSETAW | TCSETAF => TERMIO_SIZE,
        TCGETS2 | TCSETS2 | TCSETSW2 | TCSETSF2 => std::mem::size_of::<Termios2>(),
        TIOCGWINSZ | TIOCSWINSZ => std::mem::size_of::<Winsize>(),
        FIONREAD | TIOCOUTQ | TIOCGETD | TIOCSETD | TIOCPKT | TIOCGPKT | TIOCGPTN | TIOCSPTLCK
        | TIOCGPTLCK | TIOCGDEV | TIOCGPGRP | TIOCSPGRP | TIOCGSID | TIOCGEXCL => 4,
        TIOCSTI => 1,
        _ => return None,
    })
}

/// Whether the request's argument is read (copied in) and written (copied out).
pub fn arg_dir(req: u32) -> (bool, bool) {
    match req {
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 | TCSETA | TCSETAW | TCSETAF
        | TIOCSWINSZ | TIOCSETD | TIOCPKT | TIOCSPTLCK | TIOCSPGRP | TIOCSTI => (true, false),
        _ => (false, true),
    }
}

fn bytemuck_bytes<T: syscalls::Pod>(v: &T) -> &[u8] {
    syscalls::bytes_of(v)
}

/// A new pty pair for the loader's interactive mode: its master end (an open description's
/// operations) and the terminal, which becomes the sandbox's console (/dev/console).
pub fn new_pair(k: &Arc<Kernel>, uid: u32) -> Result<(TtyFile, Arc<Terminal>), Errno> {
    let term = devpts::global().new_terminal(Arc::downgrade(k), uid, 0)?;
    term.lock().locked = false;
    devpts::set_console(&term);
    Ok((term.open_end(true), term))
}

/// Waits, on a thread that is not a task's (the loader's bridge), until the master has
/// output, then takes it; `Ok(0)` after `timeout` without any; EIO once no replica is open.
pub fn master_read_external(
    f: &TtyFile,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<usize, Errno> {
    let deadline = Instant::now() + timeout;
    let r = kernel::block::wait_external(&[&f.term.queue], Some(deadline), || {
        match f.term.master_read(buf, true) {
            Err(Errno::EAGAIN) => None,
            r => Some(r),
        }
    });
    match r {
        Err(Errno::ETIMEDOUT) => Ok(0),
        r => r,
    }
}

/// Writes all of `buf` as input to the master, from a thread that is not a task's; gives up
/// (returning what was written) after `timeout` without room.
pub fn master_write_external(f: &TtyFile, buf: &[u8], timeout: Duration) -> usize {
    let mut done = 0;
    let deadline = Instant::now() + timeout;
    let _ = kernel::block::wait_external(&[&f.term.queue], Some(deadline), || {
        match f.term.master_write(&buf[done..], true) {
            Ok(n) => done += n,
            Err(Errno::EAGAIN) => {}
            Err(e) => return Some(Err(e)),
        }
        (done == buf.len()).then_some(Ok(()))
    });
    done
}

/// The terminal's VEOF character when it is in canonical mode (the loader sends it when its
/// own input ends).
pub fn eof_char(term: &Terminal) -> Option<u8> {
    let g = term.lock();
    (g.termios.c_lflag & ICANON != 0 && g.termios.c_cc[VEOF] != 0).then_some(g.termios.c_cc[VEOF])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TtyFile, TtyFile) {
        let term = Terminal::new(900, 0x99, (0, 5, 0o620), Weak::new()).expect("a terminal");
        term.lock().locked = false;
        (term.open_end(true), term.open_end(false))
    }

    fn drain_master(m: &TtyFile) -> Vec<u8> {
        let mut buf = vec![0u8; 65536];
        match m.read_stream(&mut buf, true) {
            Ok(n) => buf[..n].to_vec(),
            Err(_) => Vec::new(),
        }
    }

    #[test]
    fn canonical_editing_and_echo() {
        let (m, r) = pair();
        // ^U kills "junk", DEL erases "x", ^W erases "two ", CR becomes NL.
        m.write_stream(b"junk\x15one twox\x7f\x17three\r", false)
            .unwrap();
        let mut buf = [0u8; 64];
        let n = r.read_stream(&mut buf, true).unwrap();
        assert_eq!(&buf[..n], b"one three\n");
        let echo = drain_master(&m);
        assert!(
            echo.ends_with(b"three\r\n"),
            "{:?}",
            String::from_utf8_lossy(&echo)
        );
        // A line is returned at most once per read, and ^D at a line's start is an EOF.
        m.write_stream(b"a\nb\n\x04", false).unwrap();
        assert_eq!(r.read_stream(&mut buf, true).unwrap(), 2);
        assert_eq!(r.read_stream(&mut buf, true).unwrap(), 2);
        assert_eq!(r.read_stream(&mut buf, true).unwrap(), 0);
        assert_eq!(r.read_stream(&mut buf, true), Err(Errno::EAGAIN));
    }

    #[test]
    fn eof_flood_is_bounded() {
        let (m, r) = pair();
        let flood = vec![4u8; INPUT_MAX * 4];
        let n = m.write_stream(&flood, true).unwrap();
        assert!(n <= INPUT_MAX, "{n}");
        assert!(r.term.lock().lines.len() <= INPUT_MAX);
        let mut buf = [0u8; 4];
        assert_eq!(r.read_stream(&mut buf, true).unwrap(), 0);
    }

    #[test]
    fn echoctl_and_output_processing() {
        let (m, r) = pair();
        m.write_stream(b"\x01", false).unwrap();
        assert_eq!(drain_master(&m), b"^A");
        r.write_stream(b"x\ny", false).unwrap();
        assert_eq!(drain_master(&m), b"x\r\ny");
    }

    #[test]
    fn raw_mode_bounds_and_vmin_zero() {
        let (m, r) = pair();
        {
            let mut g = r.term.lock();
            let mut t = g.termios;
            t.c_lflag &= !(ICANON | ECHO | ISIG);
            t.c_cc[VMIN] = 0;
            t.c_cc[VTIME] = 0;
            r.term.set_termios(&mut g, t);
        }
        let mut buf = [0u8; 16];
        assert_eq!(r.read_stream(&mut buf, false).unwrap(), 0);
        // The input queue holds at most INPUT_MAX bytes: a non-blocking writer stops there.
        let big = vec![b'z'; INPUT_MAX * 3];
        assert_eq!(m.write_stream(&big, true).unwrap(), INPUT_MAX);
        assert_eq!(m.write_stream(&big, true), Err(Errno::EAGAIN));
        assert_eq!(r.readable_bytes().unwrap(), INPUT_MAX);
        // Output is bounded too.
        let mut written = 0;
        while let Ok(n) = r.write_stream(&big, true) {
            written += n;
            assert!(written <= OUTPUT_MAX + big.len());
        }
        assert!(m.readable_bytes().unwrap() <= OUTPUT_MAX + 1);
    }

    #[test]
    fn stopped_output_holds_writes_and_echo() {
        let (m, r) = pair();
        m.write_stream(b"\x13", false).unwrap();
        assert_eq!(r.write_stream(b"w", true), Err(Errno::EAGAIN));
        assert_eq!(r.poll_events() & POLLOUT, 0);
        // Echo waits for the restart; the input itself does not.
        m.write_stream(b"ab", false).unwrap();
        assert_eq!(drain_master(&m), b"");
        m.write_stream(b"\x11", false).unwrap();
        assert_eq!(drain_master(&m), b"ab");
        r.write_stream(b"w", true).unwrap();
        assert_eq!(drain_master(&m), b"w");
        // TCOOFF holds even against START.
        r.term.flow(false, TCOOFF).unwrap();
        m.write_stream(b"\x11", false).unwrap();
        assert_eq!(r.write_stream(b"w", true), Err(Errno::EAGAIN));
        r.term.flow(false, TCOON).unwrap();
        assert_eq!(r.write_stream(b"w", true), Ok(1));
        assert_eq!(r.term.flow(false, 9), Err(Errno::EINVAL));
    }

    #[test]
    fn packet_mode_control_bytes() {
        let (m, r) = pair();
        r.term.lock().packet = true;
        m.write_stream(b"\x13", false).unwrap();
        assert_ne!(m.poll_events() & POLLPRI, 0);
        assert_eq!(drain_master(&m), [TIOCPKT_STOP]);
        r.term.flush(TCIOFLUSH, true).unwrap();
        assert_eq!(drain_master(&m), [TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE]);
        // A flush through the master says nothing.
        r.term.flush(TCIOFLUSH, false).unwrap();
        assert_eq!(drain_master(&m), b"");
    }

    #[test]
    fn master_close_hangs_up_the_replica() {
        let (m, r) = pair();
        drop(m);
        let mut buf = [0u8; 8];
        assert_eq!(r.read_stream(&mut buf, false).unwrap(), 0);
        assert_eq!(r.write_stream(b"x", false), Err(Errno::EIO));
        assert_ne!(r.poll_events() & POLLHUP, 0);
    }

    #[test]
    fn replica_close_gives_the_master_eio() {
        let (m, r) = pair();
        r.write_stream(b"bye", false).unwrap();
        drop(r);
        let mut buf = [0u8; 8];
        assert_eq!(m.read_stream(&mut buf, false).unwrap(), 3);
        assert_eq!(m.read_stream(&mut buf, false), Err(Errno::EIO));
        assert_ne!(m.poll_events() & POLLHUP, 0);
    }
}
