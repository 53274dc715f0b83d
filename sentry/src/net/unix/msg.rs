// SPDX-License-Identifier: Apache-2.0
//! Queued messages: what Linux keeps as `sk_buff`s on a unix socket's receive queue, and what
//! the sender is charged for each.
//!
//! A sender is charged a message's *truesize* (`sk_wmem_alloc`) from the moment it is queued
//! until the receiver has read all of it; a stream send waits while the charge is at least the
//! sender's SO_SNDBUF, and the socket is writable (POLLOUT) while the charge is at most a
//! quarter of it. Linux's truesize is the size of the buffers the kernel allocated: a head from
//! kmalloc (rounded up to its size classes) plus whole pages for the rest, plus the `sk_buff`
//! itself. [`stream_skb`] and [`dgram_truesize`] reproduce how `unix_stream_sendmsg` and
//! `unix_dgram_sendmsg` size and allocate their buffers on x86_64 (4 KiB pages,
//! `sizeof(struct skb_shared_info)` 320 and `sizeof(struct sk_buff)` 256 once cache-aligned,
//! 512-byte small heads, 17 fragments); SIOCOUTQ reports the charge, as Linux's does, so these
//! figures are what a program sees. They were checked against Linux 6.18: the byte counts at
//! which non-blocking sends of every size from 0 to 200,000 bytes first get EAGAIN match.

use std::sync::Arc;

use syscalls::abi::*;
use syscalls::Errno;

use super::gc::Rights;
use super::Sock;
use crate::kernel::Task;
use crate::net::CmsgIn;
use crate::vfs::File;

const PAGE: usize = 4096;
/// SKB_DATA_ALIGN(sizeof(struct skb_shared_info)).
const SHINFO: usize = 320;
/// SKB_DATA_ALIGN(sizeof(struct sk_buff)).
const SKB_STRUCT: usize = 256;
/// The size of the slab small heads come from (SKB_SMALL_HEAD_CACHE_SIZE).
const SMALL_HEAD: usize = 512;
/// SKB_MAX_HEAD(0): the most a one-page head holds.
const SKB_MAX_HEAD: usize = PAGE - SHINFO;
/// SKB_MAX_ALLOC: the most a datagram keeps in its head before using pages.
const SKB_MAX_ALLOC: usize = 4 * PAGE - SHINFO;
/// UNIX_SKB_FRAGS_SZ: the paged part of one stream buffer.
const UNIX_SKB_FRAGS_SZ: usize = 32768;
/// MAX_SKB_FRAGS.
const MAX_SKB_FRAGS: usize = 17;
/// The largest datagram Linux can allocate (a 4 MiB kmalloc head plus the fragments); larger
/// ones fail there. The sentry refuses them before copying them in.
pub(super) const DGRAM_MAX: usize = (4 << 20) - SHINFO + MAX_SKB_FRAGS * PAGE;

fn page_align(n: usize) -> usize {
    n.div_ceil(PAGE) * PAGE
}

/// The truesize of a buffer whose head holds `head` bytes (`__alloc_skb`: the head and the
/// shared info from the small-head slab or kmalloc, whose classes above 512 bytes are powers of
/// two, as are the page orders beyond 8 KiB).
fn head_truesize(head: usize) -> usize {
    let obj = head.next_multiple_of(64) + SHINFO;
    let size = if obj <= SMALL_HEAD {
        SMALL_HEAD
    } else {
        obj.next_power_of_two()
    };
    size + SKB_STRUCT
}

/// The size and truesize of the next buffer of a stream send with `left` bytes to go and the
/// sender's `sndbuf` (`unix_stream_sendmsg`).
pub(super) fn stream_skb(left: usize, sndbuf: usize) -> (usize, usize) {
    let size = left
        .min((sndbuf >> 1).saturating_sub(64).max(1))
        .min(SKB_MAX_HEAD + UNIX_SKB_FRAGS_SZ);
    let data_len = size.min(page_align(size.saturating_sub(SKB_MAX_HEAD)));
    (size, head_truesize(size - data_len) + page_align(data_len))
}

/// The truesize of a datagram of `len` bytes (`unix_dgram_sendmsg`).
pub(super) fn dgram_truesize(len: usize) -> usize {
    let data_len = if len > SKB_MAX_ALLOC {
        page_align((len - SKB_MAX_ALLOC).min(MAX_SKB_FRAGS * PAGE))
    } else {
        0
    };
    head_truesize(len - data_len) + data_len
}

/// One queued message.
pub(super) struct Msg {
    /// The bytes (shared with a reader copying them out with the state lock let go).
    pub data: Arc<Vec<u8>>,
    /// Stream: how many of them have been read.
    pub consumed: usize,
    /// What the sender is charged while the message is queued.
    pub truesize: usize,
    /// The sender (charged; its address is the message's source, read at receive time as
    /// Linux's `unix_copy_addr` does).
    pub sender: Arc<Sock>,
    /// The credentials attached (`None`: none, which a reader with SO_PASSCRED sees as pid 0
    /// and the overflow ids).
    pub creds: Option<Ucred>,
    /// SCM_RIGHTS files.
    pub rights: Option<Rights>,
    /// Datagram: peeked already (a zero-length datagram is skipped by a peek at offset 0
    /// after its first peek, as `skb->peeked` makes Linux do).
    pub peeked: bool,
    /// Stream: the out-of-band byte (Linux's `oob_skb`), until read or passed.
    pub oob: bool,
}

impl Msg {
    /// A message from `sender`, charged to it from now until it is dropped (Linux charges a
    /// buffer when it is allocated, before it is queued).
    pub fn new(
        sender: &Arc<Sock>,
        data: Vec<u8>,
        truesize: usize,
        creds: Option<Ucred>,
        rights: Option<Rights>,
    ) -> Msg {
        sender.charge(truesize);
        Msg {
            data: Arc::new(data),
            consumed: 0,
            truesize,
            sender: sender.clone(),
            creds,
            rights,
            peeked: false,
            oob: false,
        }
    }

    /// Bytes not yet read.
    pub fn len(&self) -> usize {
        self.data.len() - self.consumed
    }
}

impl Drop for Msg {
    /// The sender's charge goes (Linux's `sock_wfree`), which may make it writable.
    fn drop(&mut self) {
        self.sender.uncharge(self.truesize);
        let data = std::mem::replace(&mut self.data, no_bytes());
        if let Ok(v) = Arc::try_unwrap(data) {
            recycle(v);
        }
    }
}

/// Buffers of read messages, for senders to fill again. A stream moves its bytes in buffers
/// of at most 36,544 bytes, allocated by the writer's sentry thread and freed by the
/// reader's: given back to malloc, each freed run at the top of the writer's heap is returned
/// to the host (MADV_DONTNEED, a TLB shoot-down of every vCPU the sentry runs on) and faulted
/// in again by the next write. A few are kept instead (at most [`SPARE_MAX`], under 1 MiB).
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const SPARE_MAX: usize = 16;
const SPARE_MIN_CAP: usize = 4096;
const SPARE_MAX_CAP: usize = 65536;

/// An empty buffer, shared (what a dropped message leaves behind).
fn no_bytes() -> Arc<Vec<u8>> {
    static EMPTY: std::sync::OnceLock<Arc<Vec<u8>>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::new(Vec::new())).clone()
}

fn recycle(v: Vec<u8>) {
    if (SPARE_MIN_CAP..=SPARE_MAX_CAP).contains(&v.capacity()) {
        let mut spare = crate::kernel::lock(&SPARE);
        if spare.len() < SPARE_MAX {
            spare.push(v);
        }
    }
}

/// A buffer of `n` bytes for a message, a spare one when there is one. Its bytes are zero or
/// left from an earlier message: the caller writes all `n` before the buffer is queued.
pub(super) fn buffer(n: usize) -> Vec<u8> {
    let mut v = if n >= SPARE_MIN_CAP {
        crate::kernel::lock(&SPARE).pop().unwrap_or_default()
    } else {
        Vec::new()
    };
    v.resize(n, 0);
    v
}

/// What sendmsg's control messages ask of a unix socket (`__scm_send`).
#[derive(Default)]
pub(super) struct Scm {
    /// SCM_RIGHTS, every one of the message's together (at most SCM_MAX_FD).
    pub files: Vec<Arc<File>>,
    /// SCM_CREDENTIALS (the syscall layer checked the sender may claim them).
    pub creds: Option<Ucred>,
}

/// Decodes the control messages: EINVAL for a SOL_SOCKET type unix sockets do not take or for
/// more than SCM_MAX_FD descriptors in all; other levels are ignored.
pub(super) fn parse_control(control: Vec<CmsgIn>) -> Result<Scm, Errno> {
    let mut scm = Scm::default();
    for c in control {
        match c {
            CmsgIn::Rights(files) => {
                if scm.files.len() + files.len() > SCM_MAX_FD {
                    return Err(Errno::EINVAL);
                }
                scm.files.extend(files);
            }
            CmsgIn::Creds(c) => scm.creds = Some(c),
            CmsgIn::Other(level, _, _) => {
                if level == SOL_SOCKET {
                    return Err(Errno::EINVAL);
                }
            }
        }
    }
    Ok(scm)
}

/// The credentials a send attaches on its own (`maybe_add_creds`): the sender's process id and
/// real user and group ids.
pub(super) fn own_creds(t: Option<&Task>) -> Ucred {
    if let Some(t) = t {
        return Ucred {
            pid: t.tgid(),
            uid: t.creds.uid.0,
            gid: t.creds.gid.0,
        };
    }
    crate::kernel::block::current()
        .and_then(|t| {
            let pid = t.tg.tgid;
            crate::kernel::lock(&t.info).as_ref().map(|i| Ucred {
                pid,
                uid: i.creds.uid.0,
                gid: i.creds.gid.0,
            })
        })
        .unwrap_or(Ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        })
}

/// What a reader with SO_PASSCRED is told of a message that carries no credentials: pid 0 and
/// the overflow user and group (`from_kuid_munged(INVALID_UID)`).
pub(super) const NO_CREDS: Ucred = Ucred {
    pid: 0,
    uid: OVERFLOW_ID,
    gid: OVERFLOW_ID,
};

/// /proc/sys/kernel/overflowuid and overflowgid.
const OVERFLOW_ID: u32 = 65534;

/// An SCM_CREDENTIALS control message for a reader.
pub(super) fn creds_cmsg(c: Ucred) -> crate::net::CmsgOut {
    crate::net::CmsgOut::Data(SOL_SOCKET, SCM_CREDENTIALS, syscalls::bytes_of(&c).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SIOCOUTQ after one non-blocking write of each size on a fresh socketpair, as Linux 6.18
    /// reports it (stream, then datagram).
    #[test]
    fn truesizes_match_linux() {
        let stream = [
            (1, 768),
            (100, 768),
            (200, 1280),
            (700, 1280),
            (1000, 2304),
            (2000, 4352),
            (3776, 4352),
            (3777, 4864),
            (5000, 6400),
            (8000, 8960),
            (10000, 12544),
            (16384, 17152),
            (30000, 30976),
            (36544, 37120),
        ];
        for (len, ts) in stream {
            assert_eq!(stream_skb(len, 212_992), (len, ts), "stream {len}");
        }
        assert_eq!(stream_skb(40000, 212_992), (36544, 37120));
        let dgram = [
            (0, 768),
            (200, 1280),
            (3776, 4352),
            (3777, 8448),
            (8000, 16640),
            (16384, 20736),
            (30000, 33024),
            (65536, 69888),
            (100_000, 102_656),
            (106_400, 135_424),
            (200_000, 200_960),
        ];
        for (len, ts) in dgram {
            assert_eq!(dgram_truesize(len), ts, "dgram {len}");
        }
    }
}
