// SPDX-License-Identifier: Apache-2.0
//! The sandbox's network from `sandbox run`'s options: the mode, published ports, the host's
//! resolvers and interfaces (read here, once, before the sandbox starts), the host name, and
//! in sandbox mode an /etc/resolv.conf naming the sandbox's resolver.

use std::net::{IpAddr, SocketAddr};

use sentry::kernel::Kernel;
use sentry::net::stack::{self, Interface, Mode, NetConfig, Publish};
use syscalls::abi::*;

use crate::cli::run::{NetworkKind, RunArgs};

/// Parses one `--publish HOST_PORT:GUEST_PORT[/udp|/tcp]`.
fn parse_publish(s: &str) -> Result<Publish, String> {
    let bad = || format!("--publish {s}: expected HOST_PORT:GUEST_PORT[/udp|/tcp]");
    let (ports, proto) = match s.split_once('/') {
        Some((p, "udp")) => (p, true),
        Some((p, "tcp")) => (p, false),
        Some(_) => return Err(bad()),
        None => (s, false),
    };
    let (h, g) = ports.split_once(':').ok_or_else(bad)?;
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(v) => Ok(v),
    };
    Ok(Publish {
        host_port: port(h)?,
        guest_port: port(g)?,
        udp: proto,
    })
}

/// The host's resolvers from its /etc/resolv.conf (port 53); loopback resolvers (a local
/// caching daemon) are kept: the sentry reaches them for the sandbox.
fn host_resolvers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next())
                .flatten()
                .and_then(|a| a.split('%').next())
                .and_then(|a| a.parse::<IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .collect()
}

/// The host's interfaces and addresses, as `--network host` shows them.
fn host_interfaces() -> (Vec<Interface>, Vec<IpAddr>) {
    let mut list: Vec<Interface> = Vec::new();
    let mut addrs = Vec::new();
    let Ok(ifs) = nix::ifaddrs::getifaddrs() else {
        return (list, addrs);
    };
    for a in ifs {
        let name = a.interface_name.clone();
        let index = nix::net::if_::if_nametoindex(name.as_str()).unwrap_or(0) as i32;
        if index == 0 {
            continue;
        }
        let pos = match list.iter().position(|i| i.name == name) {
            Some(p) => p,
            None => {
                let mtu = std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
                    .ok()
                    .and_then(|m| m.trim().parse().ok())
                    .unwrap_or(1500);
                let loopback = a.flags.bits() as u32 & IFF_LOOPBACK != 0;
                list.push(Interface {
                    index,
                    name: name.clone(),
                    flags: a.flags.bits() as u32,
                    mtu,
                    kind: if loopback {
                        ARPHRD_LOOPBACK
                    } else {
                        ARPHRD_ETHER
                    },
                    hwaddr: [0; 6],
                    v4: Vec::new(),
                    v6: Vec::new(),
                });
                list.len() - 1
            }
        };
        let Some(addr) = a.address else { continue };
        let i = &mut list[pos];
        if let Some(s) = addr.as_sockaddr_in() {
            let ip = s.ip();
            let prefix = a
                .netmask
                .and_then(|m| {
                    m.as_sockaddr_in()
                        .map(|m| u32::from(m.ip()).count_ones() as u8)
                })
                .unwrap_or(32);
            i.v4.push((ip, prefix));
            addrs.push(IpAddr::V4(ip));
        } else if let Some(s) = addr.as_sockaddr_in6() {
            let ip = s.ip();
            let prefix = a
                .netmask
                .and_then(|m| {
                    m.as_sockaddr_in6()
                        .map(|m| u128::from(m.ip()).count_ones() as u8)
                })
                .unwrap_or(128);
            i.v6.push((ip, prefix));
            addrs.push(IpAddr::V6(ip));
        } else if let Some(l) = addr.as_link_addr() {
            if let Some(mac) = l.addr() {
                i.hwaddr = mac;
            }
        }
    }
    list.sort_by_key(|i| i.index);
    (list, addrs)
}

/// Checks the network options and sets the sandbox's network up (before its first program).
pub fn configure(args: &RunArgs) -> Result<NetConfig, String> {
    if args.hostname.len() > 64 || args.hostname.is_empty() {
        return Err(format!(
            "--hostname {}: expected 1 to 64 bytes",
            args.hostname
        ));
    }
    let publish = args
        .publish
        .iter()
        .map(|p| parse_publish(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = match args.network {
        NetworkKind::None => Mode::None,
        NetworkKind::Sandbox => Mode::Sandbox,
        NetworkKind::Host => Mode::Host,
    };
    if !publish.is_empty() && mode != Mode::Sandbox {
        return Err("--publish needs --network sandbox".into());
    }
    if args.allow_host_loopback && mode != Mode::Sandbox {
        return Err("--allow-host-loopback needs --network sandbox".into());
    }
    let host_uds = match args.host_uds.as_str() {
        "none" => false,
        "open" => true,
        other => return Err(format!("--host-uds {other}: expected none or open")),
    };
    let (interfaces, own) = if mode == Mode::None {
        (Vec::new(), Vec::new())
    } else {
        host_interfaces()
    };
    let mut cfg = NetConfig::new(
        mode,
        if mode == Mode::Host {
            interfaces
        } else {
            Vec::new()
        },
    );
    cfg.publish = publish;
    cfg.allow_host_loopback = args.allow_host_loopback;
    cfg.host_uds = host_uds;
    cfg.net_raw = args.net_raw;
    if mode == Mode::Sandbox {
        cfg.resolvers = host_resolvers();
        stack::set_host_addresses(own);
        // Pings to the outside need a host ICMP socket, which only start-up can get.
        for note in sentry::net::inet::outside::open_channels() {
            tracing::debug!("--network sandbox: {note}");
        }
    }
    Ok(cfg)
}

/// Starts the listeners of the published ports (`--publish`) on the host's loopback. Their
/// connections go to the sandbox's TCP listener on the guest port (on its eth0 address), from
/// the gateway address; a connection nothing listens for is closed. UDP datagrams go to the
/// sandbox's socket on the guest port, and its replies back to their senders.
pub fn publish(cfg: &NetConfig) -> Result<(), String> {
    if cfg.publish.is_empty() {
        return Ok(());
    }
    sentry::net::outside::start_publishers(
        &cfg.publish,
        sentry::net::inet::tcp::accept_published,
        sentry::net::inet::udp::deliver_published,
    )
}

/// Applies the configuration to a new kernel: the host name, and in sandbox mode the
/// sandbox's /etc/resolv.conf.
pub fn apply(k: &Kernel, args: &RunArgs, cfg: NetConfig) {
    k.set_uts_name(args.hostname.as_bytes(), false);
    let sandbox = cfg.mode == Mode::Sandbox;
    stack::init(cfg);
    if sandbox {
        let text = format!(
            "# The sandbox's resolver: the sentry forwards it to the host's.\nnameserver {}\n",
            stack::SANDBOX_DNS_V4
        );
        if let Err(e) = write_file(k, b"/etc", b"resolv.conf", text.as_bytes()) {
            eprintln!(
                "sandbox: cannot write the sandbox's /etc/resolv.conf ({}); its resolver is {}",
                e.description(),
                stack::SANDBOX_DNS_V4
            );
        }
    }
}

/// `--sysctl KEY=VALUE`: writes VALUE to the sandbox's /proc/sys/KEY (dots for slashes, as
/// sysctl(8) names it) before the program starts, as runc applies a bundle's linux.sysctl.
pub fn sysctl(k: &Kernel, kv: &str) -> Result<(), String> {
    let bad = |why: String| format!("--sysctl {kv}: {why}");
    let (key, value) = kv
        .split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
    let rel = key.trim_matches('/').replace('.', "/");
    if rel.split('/').any(|c| c.is_empty() || c == "..") {
        return Err(bad("not a sysctl name".into()));
    }
    let path = format!("/proc/sys/{rel}");
    let r = k
        .resolve("/", path.as_bytes(), true)
        .map_err(|e| bad(format!("{path}: {}", e.description())))?;
    let node = r
        .inode
        .ok_or_else(|| bad(format!("{path}: no such setting")))?;
    let f = node
        .open(O_WRONLY)
        .map_err(|e| bad(format!("{path}: {}", e.description())))?;
    f.write_at(value.as_bytes(), 0)
        .map_err(|e| bad(format!("{path}: {}", e.description())))?;
    Ok(())
}

/// Replaces `dir/name` in the sandbox's root (the overlay's upper layer) with a regular file
/// holding `data`.
fn write_file(k: &Kernel, dir: &[u8], name: &[u8], data: &[u8]) -> Result<(), syscalls::Errno> {
    let r = k.resolve("/", dir, true)?;
    let parent = r.inode.ok_or(syscalls::Errno::ENOENT)?;
    match parent.unlink(name) {
        Ok(()) | Err(syscalls::Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let owner = sentry::vfs::Owner { uid: 0, gid: 0 };
    let node = parent.mknod(name, S_IFREG | 0o644, 0, owner)?;
    let f = node.open(O_WRONLY)?;
    let mut at = 0;
    while at < data.len() {
        at += f.write_at(&data[at..], at as u64)?;
    }
    Ok(())
}
