// SPDX-License-Identifier: Apache-2.0
//! Starting the gofer (the loader's side): the `sandbox` binary re-executed as
//! `sandbox gofer --fd N --export ro:PATH --export rw:PATH ... [--host-uds]`, with one end of a
//! SOCK_SEQPACKET pair as descriptor N. Call it before the sentry starts threads, so that no
//! other descriptor leaks into the child.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::confine::ExportSpec;

/// A started gofer.
pub struct Gofer {
    /// Its host process id.
    pub pid: i32,
    /// The sentry's end of its first channel.
    pub sock: OwnedFd,
}

/// The `--export` argument of a spec.
pub fn export_arg(e: &ExportSpec) -> String {
    format!("{}:{}", if e.read_only { "ro" } else { "rw" }, e.path)
}

/// Parses an `--export` argument.
pub fn parse_export(s: &str) -> Result<ExportSpec, String> {
    let (mode, path) = s
        .split_once(':')
        .ok_or_else(|| format!("--export {s}: expected ro:PATH or rw:PATH"))?;
    let read_only = match mode {
        "ro" => true,
        "rw" => false,
        _ => return Err(format!("--export {s}: expected ro:PATH or rw:PATH")),
    };
    if !path.starts_with('/') {
        return Err(format!("--export {s}: PATH must be absolute"));
    }
    Ok(ExportSpec {
        path: path.to_string(),
        read_only,
        masked: Vec::new(),
    })
}

/// Starts the gofer serving `exports` (export N is the Nth); `allow_weak`: see
/// [`crate::confine::confine`]; `host_uds`: it may connect host unix sockets (`--host-uds
/// open`).
pub fn start(exports: &[ExportSpec], allow_weak: bool, host_uds: bool) -> Result<Gofer, String> {
    let (mine, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("gofer socket: {e}"))?;
    // The child's end alone survives the exec.
    fcntl(theirs.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map_err(|e| format!("gofer socket: {e}"))?;
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("gofer")
        .arg("--fd")
        .arg(theirs.as_raw_fd().to_string());
    for (i, e) in exports.iter().enumerate() {
        cmd.arg("--export").arg(export_arg(e));
        for m in &e.masked {
            cmd.arg("--mask").arg(format!("{i}:{m}"));
        }
    }
    if allow_weak {
        cmd.arg("--allow-weak");
    }
    if host_uds {
        cmd.arg("--host-uds");
    }
    cmd.env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(v) = std::env::var_os("SANDBOX_GOFER_DEBUG") {
        cmd.env("SANDBOX_GOFER_DEBUG", v);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting the gofer: {e}"))?;
    drop(theirs);
    Ok(Gofer {
        pid: child.id() as i32,
        sock: mine,
    })
}
