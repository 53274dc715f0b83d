// SPDX-License-Identifier: Apache-2.0
//! The ABI of timerfd(2) and of POSIX message queues (mq_overview(7)): include/uapi/linux/
//! timerfd.h, mqueue.h, and the limits of ipc/mqueue.c.
#![allow(missing_docs)] // The names are the kernel's; see the man pages.

use bytemuck::{Pod, Zeroable};

// ---- timerfd ----
/// timerfd_create(2): close-on-exec (O_CLOEXEC).
pub const TFD_CLOEXEC: u32 = 0o2000000;
/// timerfd_create(2): non-blocking reads (O_NONBLOCK).
pub const TFD_NONBLOCK: u32 = 0o4000;
/// timerfd_settime(2): the expiry is an absolute time on the timer's clock.
pub const TFD_TIMER_ABSTIME: u32 = 1;
/// timerfd_settime(2): reads fail with ECANCELED when the realtime clock is set.
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;
/// ioctl: set the expiry count (`_IOW('T', 0, __u64)`).
pub const TFD_IOC_SET_TICKS: u32 = 0x4008_5400;
/// CAP_WAKE_ALARM: timers on the *_ALARM clocks.
pub const CAP_WAKE_ALARM: u32 = 35;

// ---- POSIX message queues ----
/// `struct mq_attr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct MqAttr {
    /// O_NONBLOCK or 0.
    pub mq_flags: i64,
    /// Most messages in the queue.
    pub mq_maxmsg: i64,
    /// Largest message.
    pub mq_msgsize: i64,
    /// Messages in the queue now.
    pub mq_curmsgs: i64,
    /// Reserved.
    pub reserved: [i64; 4],
}
/// Message priorities are below this.
pub const MQ_PRIO_MAX: u32 = 32768;
/// The mqueue file system's magic (statfs).
pub const MQUEUE_MAGIC: i64 = 0x1980_0202;
/// mq_notify(2) with SIGEV_THREAD: the notification cookie's size.
pub const NOTIFY_COOKIE_LEN: usize = 32;
/// The defaults and bounds of /proc/sys/fs/mqueue (ipc/mqueue.c, include/linux/ipc_namespace.h).
pub const DFLT_QUEUESMAX: u32 = 256;
pub const DFLT_MSGMAX: u32 = 10;
pub const DFLT_MSG: u32 = 10;
pub const HARD_MSGMAX: u32 = 65536;
pub const MIN_MSGMAX: u32 = 1;
pub const DFLT_MSGSIZEMAX: u32 = 8192;
pub const DFLT_MSGSIZE: u32 = 8192;
pub const MIN_MSGSIZEMAX: u32 = 128;
pub const HARD_MSGSIZEMAX: u32 = 16 * 1024 * 1024;
/// si_code: sent by a message queue's notification.
pub const SI_MESGQ: i32 = -3;
