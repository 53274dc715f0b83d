// SPDX-License-Identifier: Apache-2.0
//! The sandbox's network configuration: its interfaces, their addresses, its routes, and where
//! a destination leads (the sandbox itself, the outside through the sentry's host sockets, or
//! nowhere), per network mode:
//!
//! - `none` (the default): only `lo` (127.0.0.1/8, ::1/128).
//! - `sandbox`: `lo` and `eth0` with slirp4netns's addresses (10.0.2.100/24, fd00::100/64;
//!   gateway 10.0.2.2 / fd00::2, which is the host's loopback when `--allow-host-loopback`;
//!   resolver 10.0.2.3 / fd00::3, forwarded to the host's resolvers).
//! - `host`: the host's interfaces as they were at start-up (read once, before the sentry is
//!   confined); inet sockets are the host's, carried out by the sentry (`inet::host`).
//!
//! One sandbox per sentry process: the configuration is set once at boot ([`init`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::Task;

/// How the sandbox reaches the network (`sandbox run --network`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Loopback only.
    #[default]
    None,
    /// The sentry's own stack with `eth0`, flows to the outside through the sentry's host
    /// sockets (a user-mode NAT).
    Sandbox,
    /// Inet sockets carried out on the host's network by the sentry.
    Host,
}

/// A port published to the host (`--publish HOST_PORT:GUEST_PORT[/udp]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The port on the host's loopback.
    pub host_port: u16,
    /// The port inside.
    pub guest_port: u16,
    /// UDP instead of TCP.
    pub udp: bool,
}

/// One interface.
#[derive(Clone, Debug)]
pub struct Interface {
    /// ifindex.
    pub index: i32,
    /// Name (lo, eth0, ...).
    pub name: String,
    /// IFF_* flags.
    pub flags: u32,
    /// MTU.
    pub mtu: u32,
    /// ARPHRD_*.
    pub kind: u16,
    /// Hardware address (zeros for loopback).
    pub hwaddr: [u8; 6],
    /// IPv4 addresses with their prefix lengths.
    pub v4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses with their prefix lengths.
    pub v6: Vec<(Ipv6Addr, u8)>,
}

/// A route (for netlink and /proc/net/route).
#[derive(Clone, Debug)]
pub struct Route {
    /// Destination network and prefix.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Gateway, if any.
    pub gateway: Option<IpAddr>,
    /// Output interface.
    pub ifindex: i32,
    /// RT_TABLE_MAIN or RT_TABLE_LOCAL.
    pub table: u8,
    /// RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST.
    pub rtype: u8,
    /// RT_SCOPE_*.
    pub scope: u8,
    /// RTPROT_*.
    pub protocol: u8,
    /// Preferred source address.
    pub prefsrc: Option<IpAddr>,
}

/// The sandbox's network.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// The mode.
    pub mode: Mode,
    /// Interfaces, by index order.
    pub interfaces: Vec<Interface>,
    /// Whether the host's loopback (and the host's own addresses) may be reached from inside
    /// (`--allow-host-loopback`; sandbox mode: through the gateway address).
    pub allow_host_loopback: bool,
    /// Ports published to the host.
    pub publish: Vec<Publish>,
    /// The host's resolvers, for the sandbox's resolver address to forward to.
    pub resolvers: Vec<SocketAddr>,
    /// Whether a host unix socket reached through a volume may be connected (`--host-uds open`).
    pub host_uds: bool,
    /// Whether raw sockets may be made by a sandbox root holding CAP_NET_RAW (`--net-raw`).
    pub net_raw: bool,
}

/// The guest's address on eth0 in sandbox mode.
pub const SANDBOX_ADDR_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);
/// The gateway in sandbox mode (the host's loopback when allowed).
pub const SANDBOX_GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The resolver in sandbox mode (forwarded to the host's resolvers).
pub const SANDBOX_DNS_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// The guest's IPv6 address on eth0 in sandbox mode.
pub const SANDBOX_ADDR_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
/// The IPv6 gateway in sandbox mode.
pub const SANDBOX_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
/// The IPv6 resolver in sandbox mode.
pub const SANDBOX_DNS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3);
/// eth0's MAC address in sandbox mode (slirp4netns's).
pub const SANDBOX_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x00, 0x02, 0x64];

fn loopback() -> Interface {
    Interface {
        index: 1,
        name: "lo".into(),
        flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
        mtu: 65536,
        kind: ARPHRD_LOOPBACK,
        hwaddr: [0; 6],
        v4: vec![(Ipv4Addr::LOCALHOST, 8)],
        v6: vec![(Ipv6Addr::LOCALHOST, 128)],
    }
}

impl NetConfig {
    /// The configuration of a mode (host mode takes the host's interfaces as given).
    pub fn new(mode: Mode, host_interfaces: Vec<Interface>) -> NetConfig {
        let interfaces = match mode {
            Mode::None => vec![loopback()],
            Mode::Sandbox => vec![
                loopback(),
                Interface {
                    index: 2,
                    name: "eth0".into(),
                    flags: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
                    mtu: 65520,
                    kind: ARPHRD_ETHER,
                    hwaddr: SANDBOX_MAC,
                    v4: vec![(SANDBOX_ADDR_V4, 24)],
                    v6: vec![(SANDBOX_ADDR_V6, 64)],
                },
            ],
            Mode::Host => {
                if host_interfaces.is_empty() {
                    vec![loopback()]
                } else {
                    host_interfaces
                }
            }
        };
        NetConfig {
            mode,
            interfaces,
            allow_host_loopback: false,
            publish: Vec::new(),
            resolvers: Vec::new(),
            host_uds: false,
            net_raw: false,
        }
    }

    /// The routes, as `ip route` and /proc/net/route show them (main table first).
    pub fn routes(&self) -> Vec<Route> {
        let mut out = Vec::new();
        let route =
            |dst: IpAddr, prefix, gateway, ifindex, table, rtype, scope, protocol, prefsrc| Route {
                dst,
                prefix,
                gateway,
                ifindex,
                table,
                rtype,
                scope,
                protocol,
                prefsrc,
            };
        if self.mode == Mode::Sandbox {
            out.push(route(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                0,
                Some(IpAddr::V4(SANDBOX_GATEWAY_V4)),
                2,
                RT_TABLE_MAIN,
                RTN_UNICAST,
                RT_SCOPE_UNIVERSE,
                RTPROT_BOOT,
                None,
            ));
        }
        for i in &self.interfaces {
            for (a, p) in &i.v4 {
                if i.flags & IFF_LOOPBACK == 0 {
                    let net = u32::from(*a) & prefix_mask(*p);
                    out.push(route(
                        IpAddr::V4(Ipv4Addr::from(net)),
                        *p,
                        None,
                        i.index,
                        RT_TABLE_MAIN,
                        RTN_UNICAST,
                        RT_SCOPE_LINK,
                        RTPROT_KERNEL,
                        Some(IpAddr::V4(*a)),
                    ));
                }
            }
        }
        for i in &self.interfaces {
            for (a, p) in &i.v4 {
                if i.flags & IFF_LOOPBACK != 0 {
                    let net = u32::from(*a) & prefix_mask(*p);
                    out.push(route(
                        IpAddr::V4(Ipv4Addr::from(net)),
                        *p,
                        None,
                        i.index,
                        RT_TABLE_LOCAL,
                        RTN_LOCAL,
                        RT_SCOPE_HOST,
                        RTPROT_KERNEL,
                        Some(IpAddr::V4(*a)),
                    ));
                }
                out.push(route(
                    IpAddr::V4(*a),
                    32,
                    None,
                    i.index,
                    RT_TABLE_LOCAL,
                    RTN_LOCAL,
                    RT_SCOPE_HOST,
                    RTPROT_KERNEL,
                    Some(IpAddr::V4(*a)),
                ));
            }
        }
        for i in &self.interfaces {
            for (a, p) in &i.v6 {
                if i.flags & IFF_LOOPBACK != 0 {
                    out.push(route(
                        IpAddr::V6(*a),
                        128,
                        None,
                        i.index,
                        RT_TABLE_LOCAL,
                        RTN_LOCAL,
                        RT_SCOPE_HOST,
                        RTPROT_KERNEL,
                        None,
                    ));
                } else {
                    let net = u128::from(*a) & prefix_mask6(*p);
                    out.push(route(
                        IpAddr::V6(Ipv6Addr::from(net)),
                        *p,
                        None,
                        i.index,
                        RT_TABLE_MAIN,
                        RTN_UNICAST,
                        RT_SCOPE_UNIVERSE,
                        RTPROT_KERNEL,
                        None,
                    ));
                }
            }
        }
        if self.mode == Mode::Sandbox {
            out.push(route(
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                0,
                Some(IpAddr::V6(SANDBOX_GATEWAY_V6)),
                2,
                RT_TABLE_MAIN,
                RTN_UNICAST,
                RT_SCOPE_UNIVERSE,
                RTPROT_BOOT,
                None,
            ));
        }
        out
    }
}

/// A prefix length as an IPv4 netmask.
pub fn prefix_mask(p: u8) -> u32 {
    if p == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(p.min(32)))
    }
}

/// A prefix length as an IPv6 netmask.
pub fn prefix_mask6(p: u8) -> u128 {
    if p == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(p.min(128)))
    }
}

static CONFIG: OnceLock<NetConfig> = OnceLock::new();

/// Sets the sandbox's network (once, at boot). Later calls are ignored.
pub fn init(cfg: NetConfig) {
    let _ = CONFIG.set(cfg);
}

/// The sandbox's network (loopback only unless [`init`] said otherwise).
pub fn config() -> &'static NetConfig {
    CONFIG.get_or_init(|| NetConfig::new(Mode::None, Vec::new()))
}

/// The interface with this name.
pub fn by_name(name: &[u8]) -> Option<&'static Interface> {
    config()
        .interfaces
        .iter()
        .find(|i| i.name.as_bytes() == name)
}

/// The index of the interface with this name.
pub fn index_of(name: &[u8]) -> Option<i32> {
    by_name(name).map(|i| i.index)
}

/// Whether an interface has this index.
pub fn has_index(index: i32) -> bool {
    config().interfaces.iter().any(|i| i.index == index)
}

/// The name of the interface with this index (SO_BINDTODEVICE reads back empty for none).
pub fn name_of(index: i32) -> Option<Vec<u8>> {
    config()
        .interfaces
        .iter()
        .find(|i| i.index == index)
        .map(|i| i.name.as_bytes().to_vec())
}

/// Whether `a` is an address of one of the sandbox's interfaces (bind(2) to anything else
/// but the wildcard and multicast gives EADDRNOTAVAIL).
pub fn is_local(a: IpAddr) -> bool {
    let c = config();
    match a {
        IpAddr::V4(a) => {
            a.is_loopback()
                || c.interfaces
                    .iter()
                    .any(|i| i.v4.iter().any(|(x, _)| *x == a))
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            c.interfaces
                .iter()
                .any(|i| i.v6.iter().any(|(x, _)| *x == a))
        }
    }
}

/// Where a packet to `dst` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A socket of the sandbox (loopback or one of its own addresses).
    Local,
    /// The outside, reached through a host socket of the sentry's to this host address.
    Outside(SocketAddr),
    /// Nowhere: the connect fails with this errno (ENETUNREACH, ECONNREFUSED, ...).
    Unreachable(Errno),
}

/// Where a flow to `dst` goes in this sandbox (not used in host mode, where every inet socket
/// is the host's).
pub fn destination(dst: SocketAddr) -> Destination {
    let c = config();
    let ip = match dst.ip() {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(a),
        },
        a => a,
    };
    if ip.is_unspecified() || is_local(ip) {
        // Linux: a connect to 0.0.0.0 goes to the local host.
        return Destination::Local;
    }
    if c.mode != Mode::Sandbox {
        return Destination::Unreachable(Errno::ENETUNREACH);
    }
    let port = dst.port();
    match ip {
        IpAddr::V4(a) if a == SANDBOX_GATEWAY_V4 => {
            host_loopback(c, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        }
        IpAddr::V6(a) if a == SANDBOX_GATEWAY_V6 => {
            host_loopback(c, SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port))
        }
        IpAddr::V4(a) if a == SANDBOX_DNS_V4 => resolver(c, port),
        IpAddr::V6(a) if a == SANDBOX_DNS_V6 => resolver(c, port),
        IpAddr::V4(a) if a.is_multicast() || a.is_broadcast() => {
            Destination::Unreachable(Errno::ENETUNREACH)
        }
        a => {
            // The host's own addresses are its loopback by another name.
            if host_own_address(a) && !c.allow_host_loopback {
                return Destination::Unreachable(Errno::ECONNREFUSED);
            }
            Destination::Outside(SocketAddr::new(a, port))
        }
    }
}

fn host_loopback(c: &NetConfig, to: SocketAddr) -> Destination {
    if c.allow_host_loopback {
        Destination::Outside(to)
    } else {
        Destination::Unreachable(Errno::ECONNREFUSED)
    }
}

fn resolver(c: &NetConfig, port: u16) -> Destination {
    match c.resolvers.first() {
        Some(r) if port == 53 => Destination::Outside(*r),
        _ => Destination::Unreachable(Errno::ECONNREFUSED),
    }
}

static HOST_ADDRS: OnceLock<Vec<IpAddr>> = OnceLock::new();

/// Records the host's own addresses (read at start-up): sandbox mode keeps them unreachable
/// unless `--allow-host-loopback`.
pub fn set_host_addresses(addrs: Vec<IpAddr>) {
    let _ = HOST_ADDRS.set(addrs);
}

fn host_own_address(a: IpAddr) -> bool {
    a.is_loopback() || HOST_ADDRS.get().is_some_and(|v| v.contains(&a))
}

/// The interface ioctls (SIOCGIF*, and the SIOCSIF*/routes a sandbox may not change).
pub fn ioctl(t: &Task, req: u32, arg: u64) -> Result<u64, Errno> {
    const CAP_NET_ADMIN: u32 = 12;
    let c = config();
    if req == SIOCGIFCONF {
        let mut ifc: Ifconf = t.read_val(arg)?;
        let mut out = Vec::new();
        for i in &c.interfaces {
            for (a, _) in &i.v4 {
                let mut r = Ifreq::default();
                put_name(&mut r, &i.name);
                r.ifr_ifru[..16].copy_from_slice(&sockaddr_v4(*a));
                out.push(r);
            }
        }
        let size = std::mem::size_of::<Ifreq>();
        if ifc.ifc_buf == 0 {
            ifc.ifc_len = (out.len() * size) as i32;
        } else {
            let fit = (ifc.ifc_len.max(0) as usize / size).min(out.len());
            let bytes: Vec<u8> = out[..fit]
                .iter()
                .flat_map(|r| syscalls::bytes_of(r).to_vec())
                .collect();
            t.copy_out(ifc.ifc_buf, &bytes)?;
            ifc.ifc_len = bytes.len() as i32;
        }
        t.write_val(arg, &ifc)?;
        return Ok(0);
    }
    if matches!(req, SIOCADDRT | SIOCDELRT) {
        return Err(Errno::EPERM);
    }
    let mut r: Ifreq = t.read_val(arg)?;
    if req == SIOCGIFNAME {
        let index =
            i32::from_ne_bytes([r.ifr_ifru[0], r.ifr_ifru[1], r.ifr_ifru[2], r.ifr_ifru[3]]);
        let i = c
            .interfaces
            .iter()
            .find(|i| i.index == index)
            .ok_or(Errno::ENODEV)?;
        put_name(&mut r, &i.name);
        t.write_val(arg, &r)?;
        return Ok(0);
    }
    let name: Vec<u8> = r.ifr_name.iter().copied().take_while(|b| *b != 0).collect();
    let i = by_name(&name).ok_or(Errno::ENODEV)?;
    let u = &mut r.ifr_ifru;
    let put_i32 = |u: &mut [u8; 24], v: i32| u[..4].copy_from_slice(&v.to_ne_bytes());
    match req {
        SIOCGIFFLAGS => {
            u[..2].copy_from_slice(&(i.flags as u16).to_ne_bytes());
        }
        SIOCGIFINDEX => put_i32(u, i.index),
        SIOCGIFMTU => put_i32(u, i.mtu as i32),
        SIOCGIFMETRIC => put_i32(u, 0),
        SIOCGIFTXQLEN => put_i32(u, 1000),
        SIOCGIFPFLAGS => put_i32(u, 0),
        SIOCGIFHWADDR => {
            u[..2].copy_from_slice(&i.kind.to_ne_bytes());
            u[2..8].copy_from_slice(&i.hwaddr);
            u[8..16].fill(0);
        }
        SIOCGIFADDR | SIOCGIFNETMASK | SIOCGIFBRDADDR | SIOCGIFDSTADDR => {
            let (a, p) = *i.v4.first().ok_or(Errno::EADDRNOTAVAIL)?;
            let v = match req {
                SIOCGIFADDR => a,
                SIOCGIFNETMASK => Ipv4Addr::from(prefix_mask(p)),
                SIOCGIFBRDADDR => {
                    if i.flags & IFF_BROADCAST == 0 {
                        Ipv4Addr::UNSPECIFIED
                    } else {
                        Ipv4Addr::from(u32::from(a) | !prefix_mask(p))
                    }
                }
                _ => Ipv4Addr::UNSPECIFIED,
            };
            u[..16].copy_from_slice(&sockaddr_v4(v));
        }
        SIOCGIFMAP => u.fill(0),
        SIOCSIFFLAGS
            if t.creds.caps & (1 << CAP_NET_ADMIN) != 0
                && u32::from(u16::from_ne_bytes([u[0], u[1]])) == i.flags & 0xffff =>
        {
            // Flags set to what they are (`ifconfig lo up`): nothing changes.
            return Ok(0);
        }
        SIOCSIFFLAGS | SIOCSIFADDR | SIOCSIFMTU | SIOCSIFNAME | SIOCSIFNETMASK | SIOCSIFBRDADDR
        | SIOCSIFHWADDR | SIOCSIFMETRIC | SIOCSIFTXQLEN => {
            // The sandbox's interfaces are fixed: a change is refused with what Linux tells a
            // caller without CAP_NET_ADMIN.
            return Err(Errno::EPERM);
        }
        _ => return Err(Errno::ENOTTY),
    }
    t.write_val(arg, &r)?;
    Ok(0)
}

fn put_name(r: &mut Ifreq, name: &str) {
    r.ifr_name = [0; IFNAMSIZ];
    let n = name.len().min(IFNAMSIZ - 1);
    r.ifr_name[..n].copy_from_slice(&name.as_bytes()[..n]);
}

/// A `sockaddr_in` for `a` with port 0, as bytes.
pub fn sockaddr_v4(a: Ipv4Addr) -> [u8; 16] {
    let s = SockaddrIn {
        sin_family: AF_INET,
        sin_port: [0; 2],
        sin_addr: a.octets(),
        sin_zero: [0; 8],
    };
    let mut out = [0u8; 16];
    out.copy_from_slice(syscalls::bytes_of(&s));
    out
}

/// net.ipv4.ip_local_port_range: where ephemeral ports are taken from.
static PORT_RANGE: std::sync::Mutex<(u16, u16)> = std::sync::Mutex::new((32768, 60999));
/// net.ipv4.ping_group_range: the groups that may make ping sockets ("1 0": nobody, the
/// default).
static PING_GROUPS: std::sync::Mutex<(u32, u32)> = std::sync::Mutex::new((1, 0));

/// The ephemeral port range (ip_local_port_range).
pub fn local_port_range() -> (u16, u16) {
    *PORT_RANGE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the ephemeral port range.
pub fn set_local_port_range(lo: u16, hi: u16) {
    *PORT_RANGE.lock().unwrap_or_else(|e| e.into_inner()) = (lo, hi);
}

/// The groups allowed to make ping sockets (ping_group_range).
pub fn ping_group_range() -> (u32, u32) {
    *PING_GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets the groups allowed to make ping sockets.
pub fn set_ping_group_range(lo: u32, hi: u32) {
    *PING_GROUPS.lock().unwrap_or_else(|e| e.into_inner()) = (lo, hi);
}
