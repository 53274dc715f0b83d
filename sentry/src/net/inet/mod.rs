// SPDX-License-Identifier: Apache-2.0
//! AF_INET and AF_INET6 sockets (being written).

use syscalls::Errno;

use crate::kernel::Task;
use crate::net::Socket;

/// socket(AF_INET or AF_INET6, ...).
pub fn new_socket(
    _t: &Task,
    _domain: u16,
    _stype: u32,
    _protocol: u32,
) -> Result<Box<dyn Socket>, Errno> {
    Err(Errno::EAFNOSUPPORT)
}
