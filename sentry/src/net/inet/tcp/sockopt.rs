// SPDX-License-Identifier: Apache-2.0
//! TCP's socket options: SOL_TCP (with TCP_INFO), and the SOL_SOCKET and IP-level ones a TCP
//! socket handles itself.

use syscalls::abi::*;
use syscalls::Errno;

use super::conn::{Conn, Wakes};
use std::time::Instant;

use super::{Phase, State, Tcp, LOOPBACK_MSS, MSS_DEFAULT, TABLE};
use crate::net::int_opt;

/// The MSS a loopback connection advertises (MTU less headers and timestamps).
pub(super) const LOOPBACK_ADVMSS: u32 = 65_483;
/// TCP_MIN_MSS and MAX_TCP_WINDOW: TCP_MAXSEG's range.
pub(super) const TCP_MIN_MSS: i32 = 88;
pub(super) const MAX_TCP_WINDOW: i32 = 32_767;
/// MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT, MAX_TCP_SYNCNT.
pub(super) const MAX_KEEPIDLE: i32 = 32_767;
pub(super) const MAX_KEEPINTVL: i32 = 32_767;
pub(super) const MAX_KEEPCNT: i32 = 127;
pub(super) const MAX_SYNCNT: i32 = 127;
/// TCP_FIN_TIMEOUT_MAX in seconds.
pub(super) const FIN_TIMEOUT_MAX: i32 = 120;
/// The congestion control algorithms the sandbox offers (Linux's default first).
pub(super) const CONGESTION: &[&str] = &["cubic", "reno", "bbr"];

/// SOL_TCP options.
#[derive(Clone, Debug)]
pub(super) struct TcpOpts {
    pub(super) nodelay: bool,
    pub(super) cork: bool,
    pub(super) keepidle: i32,
    pub(super) keepintvl: i32,
    pub(super) keepcnt: i32,
    pub(super) syncnt: i32,
    pub(super) linger2: i32,
    pub(super) defer_accept: u8,
    pub(super) window_clamp: i32,
    pub(super) user_timeout: i32,
    pub(super) congestion: &'static str,
    pub(super) user_mss: i32,
    pub(super) quickack: bool,
    pub(super) fastopen: i32,
    pub(super) fastopen_connect: bool,
    pub(super) fastopen_no_cookie: bool,
    pub(super) notsent_lowat: u32,
    pub(super) thin_linear: bool,
    pub(super) inq: bool,
    pub(super) tx_delay: i32,
    pub(super) save_syn: i32,
}
impl Default for TcpOpts {
    fn default() -> Self {
        TcpOpts {
            nodelay: false,
            cork: false,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            syncnt: 6,
            linger2: 0,
            defer_accept: 0,
            window_clamp: 0,
            user_timeout: 0,
            congestion: CONGESTION[0],
            user_mss: 0,
            quickack: true,
            fastopen: 0,
            fastopen_connect: false,
            fastopen_no_cookie: false,
            notsent_lowat: u32::MAX,
            thin_linear: false,
            inq: false,
            tx_delay: 0,
            save_syn: 0,
        }
    }
}
/// TCP_DEFER_ACCEPT's seconds as SYN-ACK retransmissions (secs_to_retrans).
pub(super) fn secs_to_retrans(seconds: i32, timeout: i32, rto_max: i32) -> u8 {
    let mut res = 0u8;
    if seconds > 0 {
        let mut period = timeout;
        let mut timeout = timeout;
        res = 1;
        while seconds > period && res < 255 {
            res += 1;
            timeout <<= 1;
            if timeout > rto_max {
                timeout = rto_max;
            }
            period += timeout;
        }
    }
    res
}
/// And back (retrans_to_secs).
pub(super) fn retrans_to_secs(retrans: u8, timeout: i32, rto_max: i32) -> i32 {
    let mut period = 0;
    if retrans > 0 {
        let mut timeout = timeout;
        period = timeout;
        for _ in 1..retrans {
            timeout <<= 1;
            if timeout > rto_max {
                timeout = rto_max;
            }
            period += timeout;
        }
    }
    period
}

impl Tcp {
    /// Copies new buffer sizes and reading options into the connection.
    pub(super) fn sync_params(&self, st: &State) {
        if let Phase::Open(c, i) = &st.phase {
            let p = self.params(&st.tcp);
            let mut w = Wakes::default();
            {
                let mut h = c.lock();
                let was = Conn::writable(&h, *i);
                h[*i].p = p;
                if !was && Conn::writable(&h, *i) {
                    w.0[*i] |= POLLOUT;
                }
                w.0[*i] |= POLLIN;
            }
            c.wake(w);
        }
    }

    pub(super) fn setsockopt(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        match level {
            SOL_SOCKET => {
                self.common.setsockopt(name, val)?;
                match name {
                    SO_SNDBUF | SO_RCVBUF | SO_SNDBUFFORCE | SO_RCVBUFFORCE | SO_RCVLOWAT
                    | SO_OOBINLINE => self.sync_params(&st),
                    SO_REUSEADDR | SO_REUSEPORT | SO_BINDTODEVICE | SO_BINDTOIFINDEX => {
                        let f = self.flags();
                        if let Some(c) = &st.claim {
                            TABLE.set_flags(c, f);
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            SOL_TCP => self.set_tcp(&mut st, name, val),
            _ => {
                let c = self.ctx(&st);
                if let Some(r) = st.mc.setsockopt(c, level, name, val) {
                    return r;
                }
                match st.ip.setsockopt(c, level, name, val) {
                    Some(r) => r,
                    None => Err(Errno::ENOPROTOOPT),
                }
            }
        }
    }

    pub(super) fn set_tcp(&self, st: &mut State, name: i32, val: &[u8]) -> Result<(), Errno> {
        if name == TCP_CONGESTION {
            let s: Vec<u8> = val
                .iter()
                .copied()
                .take(TCP_CA_NAME_MAX - 1)
                .take_while(|b| *b != 0)
                .collect();
            let n = CONGESTION
                .iter()
                .find(|c| c.as_bytes() == s.as_slice())
                .ok_or(Errno::ENOENT)?;
            st.tcp.congestion = n;
            return Ok(());
        }
        if name == TCP_ULP {
            return Err(Errno::ENOENT);
        }
        if name == TCP_MD5SIG || name == TCP_MD5SIG_EXT {
            return Err(Errno::EINVAL);
        }
        if name == TCP_FASTOPEN_KEY {
            return if super::super::current_capable(CAP_NET_ADMIN) {
                Ok(())
            } else {
                Err(Errno::EPERM)
            };
        }
        if val.len() < 4 {
            return Err(Errno::EINVAL);
        }
        let v = int_opt(val)?;
        let state = Self::sk_state(st);
        let o = &mut st.tcp;
        match name {
            TCP_NODELAY => o.nodelay = v != 0,
            TCP_CORK => o.cork = v != 0,
            TCP_MAXSEG => {
                if v != 0 && !(TCP_MIN_MSS..=MAX_TCP_WINDOW).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.user_mss = v;
            }
            TCP_KEEPIDLE => {
                if !(1..=MAX_KEEPIDLE).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepidle = v;
            }
            TCP_KEEPINTVL => {
                if !(1..=MAX_KEEPINTVL).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepintvl = v;
            }
            TCP_KEEPCNT => {
                if !(1..=MAX_KEEPCNT).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepcnt = v;
            }
            TCP_SYNCNT => {
                if !(1..=MAX_SYNCNT).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.syncnt = v;
            }
            TCP_LINGER2 => {
                o.linger2 = if v < 0 { -1 } else { v.min(FIN_TIMEOUT_MAX) };
            }
            TCP_DEFER_ACCEPT => o.defer_accept = secs_to_retrans(v, 1, 120),
            TCP_WINDOW_CLAMP => {
                if v == 0 {
                    if state != TCP_CLOSE {
                        return Err(Errno::EINVAL);
                    }
                    o.window_clamp = 0;
                } else {
                    o.window_clamp = v.max((crate::net::SOCK_MIN_RCVBUF / 2) as i32);
                }
            }
            TCP_USER_TIMEOUT => {
                if v < 0 {
                    return Err(Errno::EINVAL);
                }
                o.user_timeout = v;
            }
            TCP_QUICKACK => o.quickack = v != 0,
            TCP_FASTOPEN => {
                if v < 0 || !matches!(state, TCP_CLOSE | TCP_LISTEN) {
                    return Err(Errno::EINVAL);
                }
                o.fastopen = v;
            }
            TCP_FASTOPEN_CONNECT => {
                if !(0..=1).contains(&v) || state != TCP_CLOSE {
                    return Err(Errno::EINVAL);
                }
                o.fastopen_connect = v != 0;
            }
            TCP_FASTOPEN_NO_COOKIE => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.fastopen_no_cookie = v != 0;
            }
            TCP_NOTSENT_LOWAT => {
                o.notsent_lowat = v as u32;
                self.sync_params(st);
            }
            TCP_THIN_LINEAR_TIMEOUTS => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.thin_linear = v != 0;
            }
            TCP_THIN_DUPACK => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
            }
            TCP_INQ => {
                if !(0..=1).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.inq = v != 0;
            }
            TCP_TX_DELAY => o.tx_delay = v.max(0),
            TCP_SAVE_SYN => {
                if !(0..=2).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.save_syn = v;
            }
            TCP_REPAIR | TCP_REPAIR_QUEUE | TCP_QUEUE_SEQ | TCP_REPAIR_OPTIONS
            | TCP_REPAIR_WINDOW | TCP_TIMESTAMP => {
                // Repair mode needs CAP_NET_ADMIN and is not offered.
                return Err(Errno::EPERM);
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        match name {
            // Setting TCP_NODELAY or clearing TCP_CORK pushes out a held-back segment.
            TCP_NODELAY if st.tcp.nodelay => self.push_held(st),
            TCP_CORK => {
                self.sync_params(st);
                if !st.tcp.cork {
                    self.push_held(st);
                }
            }
            TCP_MAXSEG => self.sync_params(st),
            _ => {}
        }
        Ok(())
    }

    pub(super) fn getsockopt(
        &self,
        level: i32,
        name: i32,
        len: usize,
    ) -> Option<Result<Vec<u8>, Errno>> {
        let mut st = self.lock();
        match level {
            SOL_SOCKET => match name {
                SO_ERROR => {
                    let e = self.take_error(&mut st).map_or(0, |e| e.0);
                    Some(Ok(e.to_ne_bytes().to_vec()))
                }
                SO_PEERCRED => {
                    // An inet socket has no peer credentials: Linux reports the overflow ids.
                    let c = Ucred {
                        pid: 0,
                        uid: 65534,
                        gid: 65534,
                    };
                    Some(Ok(syscalls::bytes_of(&c).to_vec()))
                }
                _ => None,
            },
            SOL_TCP => Some(self.get_tcp(&st, name, len)),
            _ => {
                let c = self.ctx(&st);
                st.ip.getsockopt(c, level, name, len)
            }
        }
    }

    pub(super) fn get_tcp(&self, st: &State, name: i32, len: usize) -> Result<Vec<u8>, Errno> {
        let o = &st.tcp;
        let state = Self::sk_state(st);
        let v = match name {
            TCP_NODELAY => i32::from(o.nodelay),
            TCP_CORK => i32::from(o.cork),
            TCP_MAXSEG => {
                if o.user_mss != 0 && matches!(state, TCP_CLOSE | TCP_LISTEN) {
                    o.user_mss
                } else if matches!(st.phase, Phase::Open(..)) {
                    if o.user_mss != 0 {
                        o.user_mss.min(LOOPBACK_MSS as i32)
                    } else {
                        LOOPBACK_MSS as i32
                    }
                } else {
                    MSS_DEFAULT as i32
                }
            }
            TCP_KEEPIDLE => o.keepidle,
            TCP_KEEPINTVL => o.keepintvl,
            TCP_KEEPCNT => o.keepcnt,
            TCP_SYNCNT => o.syncnt,
            TCP_LINGER2 => {
                if o.linger2 < 0 {
                    -1
                } else if o.linger2 == 0 {
                    60
                } else {
                    o.linger2
                }
            }
            TCP_DEFER_ACCEPT => retrans_to_secs(o.defer_accept, 1, 120),
            TCP_WINDOW_CLAMP => o.window_clamp,
            TCP_USER_TIMEOUT => o.user_timeout,
            TCP_QUICKACK => i32::from(o.quickack),
            TCP_FASTOPEN => o.fastopen,
            TCP_FASTOPEN_CONNECT => i32::from(o.fastopen_connect),
            TCP_FASTOPEN_NO_COOKIE => i32::from(o.fastopen_no_cookie),
            TCP_NOTSENT_LOWAT => o.notsent_lowat as i32,
            TCP_THIN_LINEAR_TIMEOUTS => i32::from(o.thin_linear),
            TCP_THIN_DUPACK => 0,
            TCP_INQ => i32::from(o.inq),
            TCP_TX_DELAY => o.tx_delay,
            TCP_SAVE_SYN => o.save_syn,
            TCP_SAVED_SYN => return Err(Errno::ENOENT),
            TCP_TIMESTAMP => 0,
            TCP_CONGESTION => {
                let mut b = vec![0u8; TCP_CA_NAME_MAX];
                b[..o.congestion.len()].copy_from_slice(o.congestion.as_bytes());
                b.truncate(len.min(TCP_CA_NAME_MAX));
                return Ok(b);
            }
            TCP_ULP => return Ok(Vec::new()),
            TCP_CC_INFO => return Ok(Vec::new()),
            TCP_INFO => {
                let info = self.info(st);
                let b = syscalls::bytes_of(&info);
                return Ok(b[..len.min(b.len())].to_vec());
            }
            TCP_REPAIR | TCP_REPAIR_WINDOW | TCP_QUEUE_SEQ | TCP_REPAIR_QUEUE => {
                return Err(Errno::EPERM)
            }
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(v.to_ne_bytes()[..len.min(4)].to_vec())
    }

    /// TCP_INFO: the state and the counters a queue-pair connection can know.
    pub(super) fn info(&self, st: &State) -> TcpInfo {
        let mut t = TcpInfo {
            tcpi_state: Self::sk_state(st),
            tcpi_rto: 1_000_000,
            tcpi_ato: 0,
            tcpi_snd_mss: MSS_DEFAULT,
            tcpi_rcv_mss: MSS_DEFAULT,
            tcpi_snd_ssthresh: 0x7fff_ffff,
            tcpi_snd_cwnd: 10,
            tcpi_advmss: MSS_DEFAULT,
            tcpi_reordering: 3,
            tcpi_pmtu: 0,
            tcpi_max_pacing_rate: u64::MAX,
            tcpi_pacing_rate: u64::MAX,
            ..Default::default()
        };
        if let Phase::Listen(l) = &st.phase {
            // tcp_get_info: a listener reports its queue in unacked and its backlog in sacked.
            t.tcpi_unacked = l.queue.len() as u32;
            t.tcpi_sacked = l.backlog.max(0) as u32;
        }
        if let Phase::Open(c, i) = &st.phase {
            let h = c.lock();
            let me = &h[*i];
            let peer = &h[1 - *i];
            let now = Instant::now();
            let ms = |d: Instant| {
                now.saturating_duration_since(d)
                    .as_millis()
                    .min(u128::from(u32::MAX)) as u32
            };
            t.tcpi_options = TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE;
            t.tcpi_wscale = 0x77;
            t.tcpi_rto = 201_000;
            t.tcpi_ato = 40_000;
            t.tcpi_snd_mss = LOOPBACK_MSS;
            t.tcpi_rcv_mss = 536;
            t.tcpi_pmtu = super::super::path_mtu(me.remote.ip());
            t.tcpi_advmss = LOOPBACK_ADVMSS;
            t.tcpi_rtt = 10;
            t.tcpi_rttvar = 5;
            t.tcpi_min_rtt = 5;
            let unacked = peer.rx.len().saturating_sub(peer.p.window);
            t.tcpi_unacked = unacked.div_ceil(LOOPBACK_MSS as usize) as u32;
            t.tcpi_notsent_bytes = unacked as u32;
            t.tcpi_last_data_sent = ms(me.last_send);
            t.tcpi_last_data_recv = ms(me.last_recv);
            t.tcpi_last_ack_recv = ms(me.last_send.max(me.since));
            t.tcpi_rcv_ssthresh = me.p.window as u32;
            t.tcpi_rcv_space = me.p.window as u32;
            t.tcpi_bytes_sent = me.bytes_sent;
            // The SYN's sequence number counts as acknowledged.
            t.tcpi_bytes_acked = me.bytes_sent - unacked as u64 + 1;
            t.tcpi_bytes_received = me.bytes_received;
            t.tcpi_segs_out = me.segs_out + 2;
            t.tcpi_segs_in = me.segs_in + 2;
            t.tcpi_data_segs_out = me.segs_out;
            t.tcpi_data_segs_in = me.segs_in;
            t.tcpi_delivered = me.segs_out + 1;
            t.tcpi_snd_wnd = peer.p.window as u32;
            t.tcpi_rcv_wnd = me.p.window as u32;
        }
        t
    }
}
