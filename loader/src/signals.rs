// SPDX-License-Identifier: Apache-2.0
//! Signals the host sends the sandbox (Ctrl-C, `kill` of the `sandbox` process, a hang-up) are
//! forwarded to the sandbox's main process, as an init such as tini or catatonit would.

use std::sync::Arc;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use sentry::kernel::{self, lock, Kernel};

/// The signals the sandbox forwards to its program.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Blocks the forwarded signals in the calling thread (and so in every thread it starts after);
/// call before any sentry thread exists.
pub fn block() {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
}

/// Starts the thread that receives the forwarded signals and sends them to the main process;
/// with `winch`, SIGWINCH only sets it (the terminal bridge copies the new size to the
/// sandbox's terminal, which signals its foreground group).
pub fn forward(k: Arc<Kernel>, winch: Option<Arc<std::sync::atomic::AtomicBool>>) {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            sentry::confine::enter(sentry::confine::policy::SIGNALS);
            forward_loop(&k, &set, winch.as_deref())
        });
}

fn forward_loop(k: &Arc<Kernel>, set: &SigSet, winch: Option<&std::sync::atomic::AtomicBool>) -> ! {
    loop {
        let Ok(sig) = set.wait() else { continue };
        if let (Signal::SIGWINCH, Some(w)) = (sig, winch) {
            w.store(true, std::sync::atomic::Ordering::Release);
            continue;
        }
        // A signal that comes before the program's first process exists (an OCI container's,
        // right after `start`) waits for it, rather than being lost; once that process has
        // ended the sandbox is ending too.
        for _ in 0..PATIENCE_MS {
            let main = k.main_pid.load(std::sync::atomic::Ordering::Acquire);
            let tg = lock(&k.tree).procs.get(&main).map(|p| p.tg.clone());
            if let Some(tg) = tg {
                let info = kernel::signal::user_info(sig as i32, 0, 0, 0);
                kernel::send_process_signal(k, &tg, info);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// How long a forwarded signal waits for the program's first process, in milliseconds.
const PATIENCE_MS: u32 = 5000;

/// Starts a thread that hands every forwarded signal (blocked by [`block`] first) to `relay`,
/// until it says stop.
fn relay(relay: impl FnMut(Signal) -> bool + Send + 'static) {
    let mut relay = relay;
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    let _ = std::thread::Builder::new()
        .name("relay".into())
        .spawn(move || loop {
            if let Ok(sig) = set.wait() {
                if !relay(sig) {
                    return;
                }
            }
        });
}

/// Writes `signal N` to `w` for every forwarded signal: an OCI exec's signals, for its control
/// connection (`oci::control`).
pub fn relay_lines(w: std::os::unix::net::UnixStream) {
    relay(move |sig| {
        use std::io::Write;
        writeln!(&w, "signal {}", sig as i32).is_ok()
    });
}

/// Sends every forwarded signal to host process `pid` (OCI `run`: the container's sandbox,
/// which forwards them in turn).
pub fn relay_to(pid: i32) {
    relay(move |sig| {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        true
    });
}
