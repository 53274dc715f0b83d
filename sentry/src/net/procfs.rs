// SPDX-License-Identifier: Apache-2.0
//! The contents of /proc/net, in Linux's formats: interfaces (`dev`, `if_inet6`), the IPv4
//! routing table (`route`), and the families' socket tables (`tcp`, `udp`, `unix`, ...).

use std::fmt::Write;
use std::net::IpAddr;

use syscalls::abi::*;

use super::stack;

/// /proc/net/dev: every interface with zero counters (the sandbox keeps none).
pub fn dev() -> String {
    let mut s = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
    );
    for i in &stack::config().interfaces {
        let _ = writeln!(
            s,
            "{:>6}: {:>7} {:>7} {:>4} {:>4} {:>4} {:>5} {:>10} {:>9} {:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>7} {:>10}",
            i.name, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        );
    }
    s
}

/// /proc/net/if_inet6: `address ifindex prefix scope flags name` (if6_seq_show).
pub fn if_inet6() -> String {
    let mut s = String::new();
    for i in &stack::config().interfaces {
        for (a, p) in &i.v6 {
            let scope = if a.is_loopback() {
                0x10
            } else if (a.segments()[0] & 0xffc0) == 0xfe80 {
                0x20
            } else {
                0
            };
            let hex: String = a.octets().iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(
                s,
                "{hex} {:02x} {:02x} {:02x} {:02x} {:>8}",
                i.index, p, scope, IFA_F_PERMANENT, i.name
            );
        }
    }
    s
}

/// /proc/net/route: the main table's IPv4 routes (fib_route_seq_show), each line padded to
/// 127 characters.
pub fn route() -> String {
    let mut s = format!(
        "{:<127}\n",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
    );
    let c = stack::config();
    for r in c.routes() {
        let IpAddr::V4(dst) = r.dst else { continue };
        if r.table != RT_TABLE_MAIN {
            continue;
        }
        let name = c
            .interfaces
            .iter()
            .find(|i| i.index == r.ifindex)
            .map(|i| i.name.clone())
            .unwrap_or_default();
        let gw = match r.gateway {
            Some(IpAddr::V4(g)) => u32::from_le_bytes(g.octets()),
            _ => 0,
        };
        // RTF_UP, RTF_GATEWAY.
        let flags = 0x1 | if r.gateway.is_some() { 0x2 } else { 0 };
        let mask = stack::prefix_mask(r.prefix).to_be();
        let line = format!(
            "{}\t{:08X}\t{:08X}\t{:04X}\t{}\t{}\t{}\t{:08X}\t{}\t{}\t{}",
            name,
            u32::from_le_bytes(dst.octets()),
            gw,
            flags,
            0,
            0,
            0,
            mask,
            0,
            0,
            0
        );
        let _ = writeln!(s, "{line:<127}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        let d = dev();
        assert!(d
            .lines()
            .nth(2)
            .is_some_and(|l| l.trim_start().starts_with("lo:")));
        assert_eq!(
            if_inet6(),
            "00000000000000000000000000000001 01 80 10 80       lo\n"
        );
        // Loopback's routes are in the local table: only the header.
        assert_eq!(route().lines().count(), 1);
        assert_eq!(route().len(), 128);
    }
}
