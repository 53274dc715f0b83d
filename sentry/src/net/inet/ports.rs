// SPDX-License-Identifier: Apache-2.0
//! Port tables: which sockets hold which local ports, by protocol (Linux's bind hash tables,
//! `inet_hashtables.c`, and UDP's `udp_table`).
//!
//! An entry is one socket's claim on a port: the addresses it covers ([`Cover`]), its
//! SO_REUSEADDR/SO_REUSEPORT flags, owner and bound device, and whether it listens, is
//! connected (a 4-tuple) or is a TIME_WAIT left by a closed TCP connection. bind(2) checks a new
//! claim against the others with Linux's rules (`inet_bind_conflict`, `udp_lib_lport_inuse`);
//! lookups find the socket a connection or a datagram goes to.
//!
//! Entries are [`Claim`]s: dropping one releases the port (or leaves a TIME_WAIT when the
//! connection asks for it). TIME_WAITs expire after 60 seconds (TCP_TIMEWAIT_LEN) and are
//! swept lazily when their port is next looked at; there are at most [`MAX_TIME_WAIT`] of them
//! (Linux's tcp_max_tw_buckets: beyond it a closing connection leaves none).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use syscalls::Errno;

/// How long a TIME_WAIT holds its port (TCP_TIMEWAIT_LEN).
pub const TIME_WAIT_LEN: Duration = Duration::from_secs(60);
/// Most TIME_WAITs kept at once.
pub const MAX_TIME_WAIT: usize = 16_384;

/// One side (IPv4 or IPv6) of what a bound socket covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side<A> {
    /// Nothing of this family.
    No,
    /// Every address (the wildcard).
    Any,
    /// This one address.
    One(A),
}

impl<A: PartialEq + Copy> Side<A> {
    fn overlaps(&self, o: &Side<A>) -> bool {
        match (self, o) {
            (Side::No, _) | (_, Side::No) => false,
            (Side::Any, _) | (_, Side::Any) => true,
            (Side::One(a), Side::One(b)) => a == b,
        }
    }

    /// How well `d` matches: 2 exactly, 1 through the wildcard, 0 not at all.
    fn score(&self, d: A) -> u8 {
        match self {
            Side::No => 0,
            Side::Any => 1,
            Side::One(a) if *a == d => 2,
            Side::One(_) => 0,
        }
    }
}

/// The local addresses a bound socket receives on: an AF_INET socket covers IPv4 only; an
/// AF_INET6 socket on `::` covers both families unless IPV6_V6ONLY, on an IPv4-mapped address
/// that IPv4 address only, on any other address that address only. Two claims on a port
/// conflict when their covers overlap (this is what `inet_rcv_saddr_equal` with wildcards
/// amounts to, as measured on Linux 6.x for every pair of binds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cover {
    /// IPv4 addresses covered.
    pub v4: Side<Ipv4Addr>,
    /// IPv6 addresses covered.
    pub v6: Side<Ipv6Addr>,
}

impl Cover {
    /// What a socket of `family` bound to `ip` covers (`ip` as given: an IPv6 socket's
    /// IPv4-mapped address comes as IPv6).
    pub fn new(family: u16, ip: IpAddr, v6only: bool) -> Cover {
        match ip {
            IpAddr::V4(a) => Cover {
                v4: if a.is_unspecified() {
                    Side::Any
                } else {
                    Side::One(a)
                },
                v6: Side::No,
            },
            IpAddr::V6(a) => {
                if let Some(v4) = a.to_ipv4_mapped() {
                    return Cover::new(syscalls::abi::AF_INET, IpAddr::V4(v4), false);
                }
                if a.is_unspecified() {
                    Cover {
                        v4: if v6only || family != syscalls::abi::AF_INET6 {
                            Side::No
                        } else {
                            Side::Any
                        },
                        v6: Side::Any,
                    }
                } else {
                    Cover {
                        v4: Side::No,
                        v6: Side::One(a),
                    }
                }
            }
        }
    }

    /// Whether two claims' addresses overlap.
    pub fn overlaps(&self, o: &Cover) -> bool {
        self.v4.overlaps(&o.v4) || self.v6.overlaps(&o.v6)
    }

    /// How well a packet to `dst` (IPv4-mapped addresses already unmapped) matches: 0 not at
    /// all, 1 through a wildcard, 2 exactly.
    pub fn score(&self, dst: IpAddr) -> u8 {
        match dst {
            IpAddr::V4(a) => self.v4.score(a),
            IpAddr::V6(a) => self.v6.score(a),
        }
    }
}

/// What an entry is doing with its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Bound (by bind(2), or autobound for a connect or a send).
    Bound,
    /// A listening TCP socket.
    Listening,
    /// A TCP connection that has closed and waits out its TIME_WAIT until this instant.
    TimeWait(Instant),
}

/// The flags a claim was made with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    /// SO_REUSEADDR.
    pub reuseaddr: bool,
    /// SO_REUSEPORT.
    pub reuseport: bool,
    /// The owner (reuseport groups need one owner).
    pub uid: u32,
    /// SO_BINDTODEVICE's interface (0: none).
    pub dev: i32,
}

struct Entry<T> {
    id: u64,
    family: u16,
    cover: Cover,
    flags: Flags,
    usage: Use,
    /// Whether the port was asked for (bind(2) with a port, or an accepted connection on a
    /// listener's port) rather than picked for a connect: connects may share a picked port.
    explicit: bool,
    /// The local address exactly (for /proc/net and connected lookups).
    local: SocketAddr,
    /// The peer, once connected.
    remote: Option<SocketAddr>,
    sock: Weak<T>,
}

/// The protocol's rules for sharing a port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rules {
    /// TCP (`inet_bind_conflict`): SO_REUSEADDR shares with sockets that do not listen.
    Tcp,
    /// UDP (`udp_lib_lport_inuse`): SO_REUSEADDR on both sides shares.
    Udp,
}

/// A protocol's port table.
pub struct Table<T> {
    rules: Rules,
    ports: Mutex<HashMap<u16, Vec<Entry<T>>>>,
    time_waits: AtomicUsize,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static RANGE: AtomicU32 = AtomicU32::new((32768 << 16) | 60999);
/// ip_unprivileged_port_start: ports below need CAP_NET_BIND_SERVICE.
static UNPRIVILEGED_PORT_START: AtomicU32 = AtomicU32::new(1024);

/// /proc/sys/net/ipv4/ip_local_port_range: the ports picked for port 0.
pub fn local_port_range() -> (u16, u16) {
    let r = RANGE.load(Ordering::Relaxed);
    ((r >> 16) as u16, r as u16)
}

/// Sets ip_local_port_range as Linux's `ipv4_local_port_range` does: EINVAL unless
/// 1 <= low <= high <= 65535 (Linux also wants low and high of different parity, warning only).
pub fn set_local_port_range(low: u32, high: u32) -> Result<(), Errno> {
    if low == 0 || low > high || high > 65535 {
        return Err(Errno::EINVAL);
    }
    RANGE.store((low << 16) | high, Ordering::Relaxed);
    Ok(())
}

/// /proc/sys/net/ipv4/ip_unprivileged_port_start.
pub fn unprivileged_port_start() -> u32 {
    UNPRIVILEGED_PORT_START.load(Ordering::Relaxed)
}

/// Sets ip_unprivileged_port_start (0..=65535, EINVAL otherwise).
pub fn set_unprivileged_port_start(v: u32) -> Result<(), Errno> {
    if v > 65535 {
        return Err(Errno::EINVAL);
    }
    UNPRIVILEGED_PORT_START.store(v, Ordering::Relaxed);
    Ok(())
}

/// A random number (for where the ephemeral search starts).
fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    if crate::fsimpl::dev::fill_random(&mut b).is_err() {
        let t = Instant::now().elapsed().as_nanos() as u32;
        return t ^ NEXT_ID.load(Ordering::Relaxed) as u32;
    }
    u32::from_ne_bytes(b)
}

/// A new socket identity for the tables.
pub fn new_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// What a claim asks for.
pub struct Request {
    /// The claiming socket's identity ([`new_id`]).
    pub id: u64,
    /// Its family (AF_INET or AF_INET6).
    pub family: u16,
    /// The addresses it covers.
    pub cover: Cover,
    /// Its flags.
    pub flags: Flags,
    /// Its local address (the port replaced by the one granted).
    pub local: SocketAddr,
    /// Whether the port was asked for rather than picked.
    pub explicit: bool,
}

/// How a port is picked for port 0.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// bind(2) with port 0 or an autobind for a send: a port nobody else conflicts with
    /// (Linux prefers odd ones for bind, `inet_csk_find_open_port`).
    Bind,
    /// A connect's port: shared with other connections from picked ports when the 4-tuple
    /// differs (`__inet_hash_connect`, even ports first).
    Connect(SocketAddr),
}

impl<T> Table<T> {
    /// An empty table with the protocol's sharing rules.
    pub fn new(rules: Rules) -> Table<T> {
        Table {
            rules,
            ports: Mutex::new(HashMap::new()),
            time_waits: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u16, Vec<Entry<T>>>> {
        self.ports.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the expired TIME_WAITs of one port's list.
    fn sweep(&self, list: &mut Vec<Entry<T>>, now: Instant) {
        let before = list.len();
        list.retain(|e| !matches!(e.usage, Use::TimeWait(d) if d <= now));
        let gone = before - list.len();
        if gone > 0 {
            self.time_waits.fetch_sub(gone, Ordering::Relaxed);
        }
    }

    /// Whether `new` may share the port with `old` (Linux's conflict rules, `listening`: the
    /// new claim is for a listen(2)).
    fn compatible(&self, new: &Request, old: &Entry<T>) -> bool {
        if old.id == new.id {
            return true;
        }
        if new.flags.dev != 0 && old.flags.dev != 0 && new.flags.dev != old.flags.dev {
            return true;
        }
        if !new.cover.overlaps(&old.cover) {
            return true;
        }
        let old_tw = matches!(old.usage, Use::TimeWait(_));
        match self.rules {
            Rules::Tcp => {
                let old_listens = old.usage == Use::Listening;
                if new.flags.reuseaddr && old.flags.reuseaddr && !old_listens {
                    // inet_bind_conflict with relax: both reuse and the other does not listen.
                    return true;
                }
                new.flags.reuseport
                    && old.flags.reuseport
                    && (old_tw || old.flags.uid == new.flags.uid)
            }
            Rules::Udp => {
                (new.flags.reuseaddr && old.flags.reuseaddr)
                    || (new.flags.reuseport
                        && old.flags.reuseport
                        && old.flags.uid == new.flags.uid)
            }
        }
    }

    /// Claims `port` (0: picks one as `pick` says) for `req`: EADDRINUSE when another claim
    /// conflicts, EADDRINUSE (Linux: EADDRNOTAVAIL for connects) when no port is free.
    pub fn claim(
        self: &Arc<Self>,
        req: Request,
        port: u16,
        pick: Pick,
        sock: Weak<T>,
    ) -> Result<Claim<T>, Errno> {
        let mut map = self.lock();
        let now = Instant::now();
        let port = if port != 0 {
            let list = map.entry(port).or_default();
            self.sweep(list, now);
            if !list.iter().all(|e| self.compatible(&req, e)) {
                return Err(Errno::EADDRINUSE);
            }
            port
        } else {
            self.pick(&mut map, &req, pick, now)?
        };
        let mut local = req.local;
        local.set_port(port);
        map.entry(port).or_default().push(Entry {
            id: req.id,
            family: req.family,
            cover: req.cover,
            flags: req.flags,
            usage: Use::Bound,
            explicit: req.explicit,
            local,
            remote: None,
            sock,
        });
        Ok(Claim {
            table: self.clone(),
            id: req.id,
            port,
        })
    }

    fn pick(
        &self,
        map: &mut HashMap<u16, Vec<Entry<T>>>,
        req: &Request,
        pick: Pick,
        now: Instant,
    ) -> Result<u16, Errno> {
        let (low, high) = local_port_range();
        let (low, high) = (u32::from(low), u32::from(high));
        let n = high - low + 1;
        let start = random_u32() % n;
        // Linux: bind(0) prefers odd ports and connect even ones; first pass on the preferred
        // parity, second on the rest.
        let want_odd = matches!(pick, Pick::Bind);
        for pass in 0..2 {
            for i in 0..n {
                let p = low + (start + i) % n;
                if (p % 2 == 1) != (want_odd == (pass == 0)) {
                    continue;
                }
                let p = p as u16;
                let list = match map.get_mut(&p) {
                    None => return Ok(p),
                    Some(l) => l,
                };
                self.sweep(list, now);
                let free = match pick {
                    Pick::Bind => list.iter().all(|e| self.compatible(req, e)),
                    Pick::Connect(remote) => list.iter().all(|e| {
                        !e.explicit
                            && e.usage != Use::Listening
                            && (matches!(e.usage, Use::TimeWait(_))
                                || e.remote != Some(remote)
                                || !e.cover.overlaps(&req.cover))
                    }),
                };
                if free {
                    return Ok(p);
                }
            }
        }
        Err(match pick {
            Pick::Bind => Errno::EADDRINUSE,
            Pick::Connect(_) => Errno::EADDRNOTAVAIL,
        })
    }

    /// Adds an accepted connection's claim on its listener's port without the conflict checks
    /// (Linux's inet_inherit_port): it shares the port with the listener by construction.
    pub fn inherit(
        self: &Arc<Self>,
        req: Request,
        port: u16,
        remote: Option<SocketAddr>,
        sock: Weak<T>,
    ) -> Claim<T> {
        let mut map = self.lock();
        let mut local = req.local;
        local.set_port(port);
        map.entry(port).or_default().push(Entry {
            id: req.id,
            family: req.family,
            cover: req.cover,
            flags: req.flags,
            usage: Use::Bound,
            explicit: true,
            local,
            remote,
            sock,
        });
        Claim {
            table: self.clone(),
            id: req.id,
            port,
        }
    }

    fn with_entry<R>(&self, id: u64, port: u16, f: impl FnOnce(&mut Entry<T>) -> R) -> Option<R> {
        let mut map = self.lock();
        map.get_mut(&port)?.iter_mut().find(|e| e.id == id).map(f)
    }

    /// listen(2) on a claimed port: checked again as a listener (EADDRINUSE when another
    /// socket on the port conflicts with a listener), then marked listening.
    pub fn listen(&self, claim: &Claim<T>) -> Result<(), Errno> {
        let mut map = self.lock();
        let now = Instant::now();
        let list = map.get_mut(&claim.port).ok_or(Errno::EINVAL)?;
        self.sweep(list, now);
        let me = list
            .iter()
            .find(|e| e.id == claim.id)
            .ok_or(Errno::EINVAL)?;
        let req = Request {
            id: me.id,
            family: me.family,
            cover: me.cover,
            flags: me.flags,
            local: me.local,
            explicit: true,
        };
        // As Linux's inet_csk_get_port at listen: the socket is a listener now, so others'
        // SO_REUSEADDR no longer lets them share with it.
        let ok = list.iter().all(|e| {
            e.id == req.id
                || !e.cover.overlaps(&req.cover)
                || (req.flags.dev != 0 && e.flags.dev != 0 && req.flags.dev != e.flags.dev)
                || if e.usage == Use::Listening {
                    req.flags.reuseport && e.flags.reuseport && e.flags.uid == req.flags.uid
                } else {
                    (req.flags.reuseaddr && e.flags.reuseaddr)
                        || (req.flags.reuseport
                            && e.flags.reuseport
                            && (matches!(e.usage, Use::TimeWait(_))
                                || e.flags.uid == req.flags.uid))
                }
        });
        if !ok {
            return Err(Errno::EADDRINUSE);
        }
        if let Some(e) = list.iter_mut().find(|e| e.id == claim.id) {
            e.usage = Use::Listening;
        }
        Ok(())
    }

    /// Sets the peer of a claim (a connection's 4-tuple) and its exact local address.
    pub fn set_connected(&self, claim: &Claim<T>, local: SocketAddr, remote: Option<SocketAddr>) {
        self.with_entry(claim.id, claim.port, |e| {
            e.local = local;
            e.remote = remote;
        });
    }

    /// Updates a claim's flags (SO_REUSEADDR/SO_REUSEPORT set after bind take effect for
    /// later binds by others, as in Linux where the socket's own flags are read then).
    pub fn set_flags(&self, claim: &Claim<T>, flags: Flags) {
        self.with_entry(claim.id, claim.port, |e| e.flags = flags);
    }

    /// The best listener for a connection to `dst` (exact address before wildcard, IPv4
    /// sockets before dual-stack ones for IPv4; among a SO_REUSEPORT group, one chosen by
    /// the source address and port).
    pub fn listener(&self, dst: SocketAddr, src: SocketAddr) -> Option<Arc<T>> {
        let dst_ip = super::unmapped(dst.ip());
        let map = self.lock();
        let list = map.get(&dst.port())?;
        let mut best: Vec<(&Entry<T>, u8)> = Vec::new();
        let mut top = 0u8;
        for e in list.iter().filter(|e| e.usage == Use::Listening) {
            let mut s = e.cover.score(dst_ip);
            if s == 0 {
                continue;
            }
            // compute_score: an AF_INET socket beats a dual-stack one for IPv4.
            s = s * 2 + u8::from(e.cover.v6 == Side::No);
            if s > top {
                top = s;
                best.clear();
            }
            if s == top {
                best.push((e, s));
            }
        }
        if best.is_empty() {
            return None;
        }
        let h = hash_addr(src) as usize % best.len();
        best[h].0.sock.upgrade()
    }

    /// The sockets a datagram to `dst` from `src` may go to, each with its score (connected
    /// sockets must have `src` as their peer; higher scores are better matches), for the
    /// protocol to choose from.
    pub fn receivers(&self, dst: SocketAddr, src: SocketAddr) -> Vec<(Arc<T>, u8, Flags)> {
        let dst_ip = super::unmapped(dst.ip());
        let src = SocketAddr::new(super::unmapped(src.ip()), src.port());
        let map = self.lock();
        let Some(list) = map.get(&dst.port()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in list {
            if matches!(e.usage, Use::TimeWait(_)) {
                continue;
            }
            let mut s = e.cover.score(dst_ip);
            if s == 0 {
                continue;
            }
            s *= 4;
            if let Some(r) = e.remote {
                let r = SocketAddr::new(super::unmapped(r.ip()), r.port());
                if r != src {
                    continue;
                }
                s += 2;
            }
            s += u8::from(e.cover.v6 == Side::No);
            if let Some(sock) = e.sock.upgrade() {
                out.push((sock, s, e.flags));
            }
        }
        out
    }

    /// Whether any socket has `port` (for ICMP port-unreachable decisions).
    pub fn in_use(&self, port: u16) -> bool {
        self.lock().get(&port).is_some_and(|l| !l.is_empty())
    }

    /// Every entry, for /proc/net (TIME_WAITs have no socket), by port.
    pub fn entries(&self) -> Vec<Listed<T>> {
        let now = Instant::now();
        let mut map = self.lock();
        let mut out = Vec::new();
        let mut ports: Vec<u16> = map.keys().copied().collect();
        ports.sort_unstable();
        for p in ports {
            if let Some(list) = map.get_mut(&p) {
                self.sweep(list, now);
                for e in list.iter() {
                    out.push(Listed {
                        family: e.family,
                        local: e.local,
                        remote: e.remote,
                        usage: e.usage,
                        sock: e.sock.upgrade(),
                        uid: e.flags.uid,
                    });
                }
            }
        }
        out
    }
}

/// One entry as /proc/net lists it.
pub struct Listed<T> {
    /// The socket's family.
    pub family: u16,
    /// Its local address.
    pub local: SocketAddr,
    /// Its peer.
    pub remote: Option<SocketAddr>,
    /// What it does with the port.
    pub usage: Use,
    /// The socket, unless the entry is a TIME_WAIT.
    pub sock: Option<Arc<T>>,
    /// Its owner.
    pub uid: u32,
}

fn hash_addr(a: SocketAddr) -> u32 {
    let mut h: u32 = 2166136261;
    let mut eat = |b: u8| {
        h ^= u32::from(b);
        h = h.wrapping_mul(16777619);
    };
    match a.ip() {
        IpAddr::V4(v) => v.octets().iter().for_each(|b| eat(*b)),
        IpAddr::V6(v) => v.octets().iter().for_each(|b| eat(*b)),
    }
    a.port().to_be_bytes().iter().for_each(|b| eat(*b));
    h
}

/// A socket's claim on a port; dropping it releases the port.
pub struct Claim<T> {
    table: Arc<Table<T>>,
    id: u64,
    port: u16,
}

impl<T> Claim<T> {
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The table it is in.
    pub fn table(&self) -> &Arc<Table<T>> {
        &self.table
    }

    /// Releases the port but leaves a TIME_WAIT on it (a TCP connection closed actively): the
    /// entry stays, without its socket, for [`TIME_WAIT_LEN`]. Beyond [`MAX_TIME_WAIT`] the
    /// port is simply released.
    pub fn into_time_wait(self) {
        let t = &self.table;
        if t.time_waits.load(Ordering::Relaxed) < MAX_TIME_WAIT {
            let deadline = Instant::now() + TIME_WAIT_LEN;
            let done = t.with_entry(self.id, self.port, |e| {
                e.usage = Use::TimeWait(deadline);
                e.sock = Weak::new();
            });
            if done.is_some() {
                t.time_waits.fetch_add(1, Ordering::Relaxed);
                std::mem::forget(self);
            }
        }
    }
}

impl<T> Drop for Claim<T> {
    fn drop(&mut self) {
        let mut map = self.table.lock();
        if let Some(list) = map.get_mut(&self.port) {
            list.retain(|e| e.id != self.id || matches!(e.usage, Use::TimeWait(_)));
            if list.is_empty() {
                map.remove(&self.port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syscalls::abi::{AF_INET, AF_INET6};

    fn cover(spec: &str) -> Cover {
        let (fam, only, ip) = match spec.split_once(':') {
            Some(("4", ip)) => (AF_INET, false, ip.parse().unwrap()),
            Some(("6", ip)) => (AF_INET6, false, ip.parse().unwrap()),
            Some(("6o", ip)) => (AF_INET6, true, ip.parse().unwrap()),
            _ => panic!("bad spec"),
        };
        Cover::new(fam, ip, only)
    }

    /// The conflict matrix measured on Linux 6.18 (bind without SO_REUSEADDR, TCP or UDP).
    #[test]
    fn conflicts_match_linux() {
        let specs = [
            "4:0.0.0.0",
            "4:127.0.0.1",
            "6:::",
            "6o:::",
            "6:::1",
            "6:::ffff:127.0.0.1",
            "6:::ffff:0.0.0.0",
            "4:127.0.0.2",
        ];
        let linux = [
            "XXXooXXX", "XXXooXXo", "XXXXXXXX", "ooXXXooo", "ooXXXooo", "XXXooXXo", "XXXooXXX",
            "XoXoooXX",
        ];
        for (i, a) in specs.iter().enumerate() {
            for (j, b) in specs.iter().enumerate() {
                let want = linux[i].as_bytes()[j] == b'X';
                assert_eq!(cover(a).overlaps(&cover(b)), want, "{a} then {b}");
            }
        }
    }

    #[test]
    fn claims_release_and_conflict() {
        let t: Arc<Table<()>> = Arc::new(Table::new(Rules::Tcp));
        let req = |id, reuse| Request {
            id,
            family: AF_INET,
            cover: cover("4:127.0.0.1"),
            flags: Flags {
                reuseaddr: reuse,
                ..Default::default()
            },
            local: "127.0.0.1:0".parse().unwrap(),
            explicit: true,
        };
        let a = t
            .claim(req(1, true), 5000, Pick::Bind, Weak::new())
            .unwrap();
        assert!(t
            .claim(req(2, false), 5000, Pick::Bind, Weak::new())
            .is_err());
        let b = t
            .claim(req(3, true), 5000, Pick::Bind, Weak::new())
            .unwrap();
        assert_eq!(t.listen(&a), Ok(()));
        assert_eq!(t.listen(&b), Err(Errno::EADDRINUSE));
        drop(b);
        a.into_time_wait();
        assert!(t
            .claim(req(4, false), 5000, Pick::Bind, Weak::new())
            .is_err());
        let c = t
            .claim(req(5, true), 5000, Pick::Bind, Weak::new())
            .unwrap();
        let p = t.claim(req(6, false), 0, Pick::Bind, Weak::new()).unwrap();
        let (lo, hi) = local_port_range();
        assert!((lo..=hi).contains(&p.port()));
        drop(c);
    }
}
