// SPDX-License-Identifier: Apache-2.0
//! AF_UNIX sockets (being written).

use syscalls::Errno;

use super::{Socket, SocketPair};

/// socket(AF_UNIX, ...).
pub fn new_socket(_stype: u32, _protocol: u32) -> Result<Box<dyn Socket>, Errno> {
    Err(Errno::EAFNOSUPPORT)
}

/// socketpair(AF_UNIX, ...).
pub fn pair(_stype: u32, _protocol: u32) -> Result<SocketPair, Errno> {
    Err(Errno::EAFNOSUPPORT)
}

/// /proc/net/unix.
pub fn proc_net_unix() -> String {
    "Num       RefCount Protocol Flags    Type St Inode Path\n".into()
}
