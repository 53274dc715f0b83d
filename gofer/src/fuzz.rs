// SPDX-License-Identifier: Apache-2.0
//! Fuzz targets for the gofer protocol: functions that take any bytes and must never panic,
//! hang or allocate without bound. `tests/tests/fuzz_targets.rs` drives them on the stable
//! toolchain (a structure-aware mutator seeded with real messages); `tests/fuzz/` holds the
//! same targets for libFuzzer (`cargo fuzz`, or `tests/fuzz/stable.sh` on stable).
//! docs/security.md says how to run both.
//!
//! - [`fuzz_gofer_decode`]: the decoders both sides use ([`Request::decode`] in the gofer,
//!   [`Reply::decode`] in the sentry's client). What decodes must encode back to the same
//!   bytes (the encoding is canonical), so no field is misread.
//! - [`fuzz_gofer_server`]: a sequence of messages from a hostile sentry to a real [`Server`]
//!   over a scratch directory: every reply must decode, every descriptor it donates must be a
//!   file beneath the exports (or a new channel), and nothing outside the exports may change.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::protocol::{self, Reply, Request, MAX_MESSAGE};
use crate::server::{Export, Server};

/// Decodes `data` as a request and as a reply; what decodes must re-encode to `data`.
pub fn fuzz_gofer_decode(data: &[u8]) {
    if let Ok(req) = Request::decode(data) {
        assert_eq!(
            req.encode(),
            data,
            "a request re-encodes differently: {req:?}"
        );
    }
    if let Ok(reply) = Reply::decode(data) {
        assert_eq!(
            reply.encode(),
            data,
            "a reply re-encodes differently: {reply:?}"
        );
    }
}

/// The contents of the file outside the exports that no request may reach.
const SECRET: &[u8] = b"outside the exports\n";
/// Most messages of one input sent to the server.
const MAX_MESSAGES: usize = 64;

/// A scratch tree: `export/` (export 0, writable: a file `a`, a directory `d` holding `b`, a
/// symlink `l` to the secret, a FIFO `p`), `export/d` again as export 1 (read-only), and
/// `outside/secret`. Removed on drop.
struct Scratch {
    top: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // tmpfs where there is one: no disk, fsync is free.
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let top = base.join(format!(
            "sandbox-gofer-fuzz-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let s = Scratch { top };
        let e = s.export();
        std::fs::create_dir_all(e.join("d")).expect("scratch export");
        std::fs::create_dir_all(s.top.join("outside")).expect("scratch outside");
        std::fs::write(e.join("a"), b"hello\n").expect("scratch file");
        std::fs::write(e.join("d/b"), b"world\n").expect("scratch file");
        std::fs::write(s.secret(), SECRET).expect("scratch secret");
        symlink("../outside/secret", e.join("l")).expect("scratch symlink");
        nix::unistd::mkfifo(
            &e.join("p"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .expect("scratch fifo");
        s
    }

    fn export(&self) -> PathBuf {
        self.top.join("export")
    }

    fn secret(&self) -> PathBuf {
        self.top.join("outside/secret")
    }

    /// Panics if anything outside the exports changed.
    fn check_outside(&self) {
        let names: Vec<_> = std::fs::read_dir(self.top.join("outside"))
            .expect("outside")
            .map(|e| e.expect("outside entry").file_name())
            .collect();
        assert_eq!(names, ["secret"], "a file appeared outside the exports");
        assert_eq!(
            std::fs::read(self.secret()).expect("the secret"),
            SECRET,
            "the file outside the exports changed"
        );
        let tops: Vec<_> = std::fs::read_dir(&self.top)
            .expect("scratch")
            .map(|e| e.expect("scratch entry").file_name())
            .collect();
        assert!(
            tops.len() == 2,
            "a file appeared beside the export: {tops:?}"
        );
    }
}

/// Requests may leave directories without search or write permission: give it back, so that
/// the tree can be removed without root.
fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&e.path());
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.top).is_err() {
            open_up(&self.top);
            let _ = std::fs::remove_dir_all(&self.top);
        }
    }
}

fn open_dir(p: &Path) -> OwnedFd {
    let fd = nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .expect("open a scratch directory");
    crate::host_unsafe::own_fd(fd)
}

/// Splits an input into messages: each a little-endian u16 length and that many bytes (the
/// last one takes what is left).
pub fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() < MAX_MESSAGES {
        if data.len() < 2 {
            out.push(data);
            break;
        }
        let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

/// Joins messages into one input for [`fuzz_gofer_server`] (the seeds' form).
pub fn frame(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        let n = u16::try_from(m.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&m[..usize::from(n)]);
    }
    out
}

/// Sends the messages of `data` ([`frames`]) to a server over a fresh scratch tree and checks
/// each reply (see the module docs). Needs to create files, FIFOs and symlinks in /dev/shm or
/// the temporary directory.
pub fn fuzz_gofer_server(data: &[u8]) {
    let scratch = Scratch::new();
    let export = scratch.export();
    let exports = vec![
        Export {
            root: open_dir(&export),
            read_only: false,
        },
        Export {
            root: open_dir(&export.join("d")),
            read_only: true,
        },
    ];
    let proc_fds = nix::fcntl::open(
        "/proc/self/fd",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
    .map(crate::host_unsafe::own_fd);
    // Host unix sockets off: every descriptor the server donates must then be a file of the
    // exports (or a new channel).
    let server = Server::new(exports, proc_fds, false);
    let (sentry, gofer) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let serving = std::thread::spawn(move || server.serve(gofer));
    let mut buf = vec![0u8; MAX_MESSAGE];
    for msg in frames(data) {
        if protocol::send(sentry.as_fd(), msg, None).is_err() {
            break;
        }
        let (n, fd) = match protocol::recv(sentry.as_fd(), &mut buf) {
            Ok(Some(r)) => r,
            // The server hung up (it does on a message it cannot receive).
            Ok(None) | Err(_) => break,
        };
        let reply = Reply::decode(&buf[..n]).expect("the server's reply decodes");
        if let Some(fd) = fd {
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .expect("a donated descriptor");
            let ok = match reply {
                Reply::Opened | Reply::Node(..) => {
                    link.starts_with(&export) || link.to_string_lossy().starts_with("socket:")
                }
                _ => false,
            };
            assert!(ok, "the server donated {link:?} with {reply:?}");
        }
    }
    drop(sentry);
    if let Err(p) = serving.join() {
        std::panic::resume_unwind(p);
    }
    scratch.check_outside();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_answered_and_real_requests_work() {
        fuzz_gofer_decode(&[]);
        fuzz_gofer_decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255]);
        let msgs = vec![
            Request::Attach { export: 0 }.encode(),
            Request::Walk {
                dir: 1,
                names: vec![b"l".to_vec()],
            }
            .encode(),
            Request::Open { fid: 2, flags: 0 }.encode(),
            vec![99, 1, 2, 3],
            Request::Walk {
                dir: 1,
                names: vec![b"..".to_vec()],
            }
            .encode(),
        ];
        fuzz_gofer_server(&frame(&msgs));
    }
}
