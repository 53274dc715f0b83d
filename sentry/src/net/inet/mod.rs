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

/// /proc/net/tcp and tcp6.
pub fn proc_net_tcp(v6: bool) -> String {
    if v6 {
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n".into()
    } else {
        format!("{:<149}\n", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode")
    }
}

/// /proc/net/udp and udp6.
pub fn proc_net_udp(v6: bool) -> String {
    if v6 {
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n".into()
    } else {
        format!("{:<127}\n", "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops")
    }
}
