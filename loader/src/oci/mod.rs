// SPDX-License-Identifier: Apache-2.0
//! The OCI runtime's lifecycle (runc's command surface; the commands are in `cli/oci.rs`):
//! a container is one sandbox, started by `create` as a child `sandbox run` that boots the
//! whole sandbox (gofer, mounts, platform), says it is ready on a pipe, and waits on the
//! container's FIFO until `start` opens it (runc's `exec.fifo`); its pid is that process, which
//! an engine can wait on and signal (signals to it are forwarded into the sandbox), and its
//! exit status is the program's.
//!
//! The state of each container lives in `ROOT/ID/` (`--root`; /run/sandbox for root): its
//! `state.json` (what `create` decided, written once) and the FIFO while it is created and not
//! started. The status is read from the host each time, as runc does: `created` while the FIFO
//! is there and the process lives, `running` once it is gone, `stopped` when the process has
//! ended (a process is the container's only if its start time is the one recorded, so a
//! reused pid is not taken for it). Commands on one container are serialised by a lock on its
//! directory.

pub mod bundle;
pub mod cgroup;
pub mod control;
pub mod hooks;
pub mod mounts;
pub mod state;

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Joins the network namespace at `path` (a container's, made by its engine): the sentry's host
/// sockets then carry the program's flows on that namespace's interfaces, as runsc does.
pub fn enter_netns(path: &Path) -> Result<(), String> {
    let f = std::fs::File::open(path)
        .map_err(|e| format!("network namespace {}: {e}", path.display()))?;
    nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("network namespace {}: setns: {}", path.display(), e.desc()))?;
    // The sentry binds the program's ports with no capability: in the container's own
    // namespace (never the host's) every port is bindable, as Docker sets it for containers;
    // the program's own root check for ports below 1024 is the sentry's.
    let _ = std::fs::write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0");
    Ok(())
}

/// For a container made by `create`: says "ok" on the ready descriptor, then waits until
/// `start` opens the FIFO. Nothing for a plain `sandbox run`.
pub fn ready_and_wait(ready: Option<i32>, fifo: Option<&Path>) -> Result<(), String> {
    if let Some(fd) = ready {
        if fd < 3 {
            return Err(format!("--oci-ready-fd {fd}: not a descriptor of its own"));
        }
        // The descriptor was handed over by `create`, open and for this use only.
        let mut f = std::fs::File::from(own_inherited(fd)?);
        let _ = f.write_all(b"ok\n");
    }
    if let Some(path) = fifo {
        // Blocks until `start` opens it for reading; a kill meanwhile ends the process.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| format!("waiting for start on {}: {e}", path.display()))?;
        f.write_all(b"0")
            .map_err(|e| format!("waiting for start on {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Takes ownership of an inherited descriptor number, after checking it is open.
fn own_inherited(fd: i32) -> Result<OwnedFd, String> {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)
        .map_err(|e| format!("descriptor {fd}: {}", e.desc()))?;
    crate::host_unsafe::own_fd(fd)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_closed_ready_descriptor_is_refused() {
        assert!(super::ready_and_wait(Some(1), None).is_err());
        assert!(super::ready_and_wait(Some(987_654), None).is_err());
    }
}
