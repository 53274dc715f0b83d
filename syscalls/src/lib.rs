// SPDX-License-Identifier: Apache-2.0
//! The Linux x86_64 system call ABI, typed.
//!
//! Numbers ([`Sysno`]), error numbers ([`Errno`]), flag sets and `#[repr(C)]` structures exactly
//! as the kernel lays them out. No logic and no host I/O: every other crate spells the ABI
//! through this one (gVisor's `pkg/abi/linux`).
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod abi;
mod abi_block;
mod abi_fanotify;
mod abi_files;
mod abi_ipc;
mod abi_landlock;
mod abi_mount;
mod abi_net;
mod abi_process;
mod abi_ptrace;
mod abi_seccomp;
mod abi_timerfd_mq;
mod errno;
mod sysno;

pub use bytemuck::{bytes_of, bytes_of_mut, Pod, Zeroable};
pub use errno::Errno;
pub use sysno::{Sysno, NAMES as SYSNO_NAMES, SYSNO_COUNT};

impl Sysno {
    /// The system call's name, e.g. `"read"`, or `None` for a number x86_64 does not have.
    pub fn name(self) -> Option<&'static str> {
        SYSNO_NAMES
            .get(self.0 as usize)
            .copied()
            .filter(|n| !n.is_empty())
    }

    /// Looks a system call up by name.
    pub fn from_name(name: &str) -> Option<Sysno> {
        SYSNO_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Sysno(i as u32))
    }
}

impl std::fmt::Display for Sysno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "syscall_{}", self.0),
        }
    }
}

impl std::fmt::Debug for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} ({})", self, self.description())
    }
}

impl std::error::Error for Errno {}

impl Errno {
    /// The errno of a host `io::Error`, if it carries one.
    pub fn from_io_error(e: &std::io::Error) -> Option<Errno> {
        e.raw_os_error().map(Errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(Sysno::read.name(), Some("read"));
        assert_eq!(Sysno::from_name("exit_group"), Some(Sysno(231)));
        assert_eq!(Sysno(335).name(), None);
        assert_eq!(Sysno::fchmodat2.0, 452);
        assert_eq!(Errno::ENOENT.name(), Some("ENOENT"));
        assert_eq!(format!("{}", Sysno(9999)), "syscall_9999");
    }
}
