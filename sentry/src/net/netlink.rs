// SPDX-License-Identifier: Apache-2.0
//! AF_NETLINK sockets (being written).

use syscalls::Errno;

use super::Socket;

/// socket(AF_NETLINK, ...).
pub fn new_socket(_stype: u32, _protocol: u32) -> Result<Box<dyn Socket>, Errno> {
    Err(Errno::EAFNOSUPPORT)
}
