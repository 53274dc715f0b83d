// SPDX-License-Identifier: Apache-2.0
//! fanotify(7): fanotify_init(2) and fanotify_mark(2) flags, event bits, and the records a read
//! returns (Linux `include/uapi/linux/fanotify.h`).

/// File was accessed.
pub const FAN_ACCESS: u32 = 0x0000_0001;
/// File was modified.
pub const FAN_MODIFY: u32 = 0x0000_0002;
/// Metadata changed.
pub const FAN_ATTRIB: u32 = 0x0000_0004;
/// A writable file was closed.
pub const FAN_CLOSE_WRITE: u32 = 0x0000_0008;
/// A file not open for writing was closed.
pub const FAN_CLOSE_NOWRITE: u32 = 0x0000_0010;
/// File was opened.
pub const FAN_OPEN: u32 = 0x0000_0020;
/// File was moved from X.
pub const FAN_MOVED_FROM: u32 = 0x0000_0040;
/// File was moved to Y.
pub const FAN_MOVED_TO: u32 = 0x0000_0080;
/// A child was created.
pub const FAN_CREATE: u32 = 0x0000_0100;
/// A child was deleted.
pub const FAN_DELETE: u32 = 0x0000_0200;
/// The object itself was deleted.
pub const FAN_DELETE_SELF: u32 = 0x0000_0400;
/// The object itself was moved.
pub const FAN_MOVE_SELF: u32 = 0x0000_0800;
/// File was opened for exec.
pub const FAN_OPEN_EXEC: u32 = 0x0000_1000;
/// The event queue overflowed.
pub const FAN_Q_OVERFLOW: u32 = 0x0000_4000;
/// A file system error.
pub const FAN_FS_ERROR: u32 = 0x0000_8000;
/// Permission to open.
pub const FAN_OPEN_PERM: u32 = 0x0001_0000;
/// Permission to read.
pub const FAN_ACCESS_PERM: u32 = 0x0002_0000;
/// Permission to open for exec.
pub const FAN_OPEN_EXEC_PERM: u32 = 0x0004_0000;
/// Interested in child events (a directory mark).
pub const FAN_EVENT_ON_CHILD: u32 = 0x0800_0000;
/// A rename, with old and new names.
pub const FAN_RENAME: u32 = 0x1000_0000;
/// The event was about a directory.
pub const FAN_ONDIR: u32 = 0x4000_0000;
/// Both close events.
pub const FAN_CLOSE: u32 = FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE;
/// Both move events.
pub const FAN_MOVE: u32 = FAN_MOVED_FROM | FAN_MOVED_TO;

/// fanotify_init: close-on-exec.
pub const FAN_CLOEXEC: u32 = 0x0000_0001;
/// fanotify_init: non-blocking reads.
pub const FAN_NONBLOCK: u32 = 0x0000_0002;
/// Notification class.
pub const FAN_CLASS_NOTIF: u32 = 0x0000_0000;
/// Content class (permission events).
pub const FAN_CLASS_CONTENT: u32 = 0x0000_0004;
/// Pre-content class.
pub const FAN_CLASS_PRE_CONTENT: u32 = 0x0000_0008;
/// No queue limit.
pub const FAN_UNLIMITED_QUEUE: u32 = 0x0000_0010;
/// No mark limit.
pub const FAN_UNLIMITED_MARKS: u32 = 0x0000_0020;
/// Responses may ask for audit records.
pub const FAN_ENABLE_AUDIT: u32 = 0x0000_0040;
/// Report a pidfd record.
pub const FAN_REPORT_PIDFD: u32 = 0x0000_0080;
/// Report thread ids rather than process ids.
pub const FAN_REPORT_TID: u32 = 0x0000_0100;
/// Report file ids.
pub const FAN_REPORT_FID: u32 = 0x0000_0200;
/// Report directory file ids.
pub const FAN_REPORT_DIR_FID: u32 = 0x0000_0400;
/// Report names.
pub const FAN_REPORT_NAME: u32 = 0x0000_0800;
/// Report the target's file id on entry events.
pub const FAN_REPORT_TARGET_FID: u32 = 0x0000_1000;
/// Report the errno of a descriptor that could not be made, in the event's fd field.
pub const FAN_REPORT_FD_ERROR: u32 = 0x0000_2000;
/// FAN_REPORT_DIR_FID | FAN_REPORT_NAME.
pub const FAN_REPORT_DFID_NAME: u32 = FAN_REPORT_DIR_FID | FAN_REPORT_NAME;

/// fanotify_mark: add to a mark.
pub const FAN_MARK_ADD: u32 = 0x0000_0001;
/// fanotify_mark: remove from a mark.
pub const FAN_MARK_REMOVE: u32 = 0x0000_0002;
/// Do not follow a final symlink.
pub const FAN_MARK_DONT_FOLLOW: u32 = 0x0000_0004;
/// The object must be a directory.
pub const FAN_MARK_ONLYDIR: u32 = 0x0000_0008;
/// A mount mark.
pub const FAN_MARK_MOUNT: u32 = 0x0000_0010;
/// The mask is an ignore mask (legacy).
pub const FAN_MARK_IGNORED_MASK: u32 = 0x0000_0020;
/// The ignore mask survives modification.
pub const FAN_MARK_IGNORED_SURV_MODIFY: u32 = 0x0000_0040;
/// Remove every mark of the kind.
pub const FAN_MARK_FLUSH: u32 = 0x0000_0080;
/// A file system mark.
pub const FAN_MARK_FILESYSTEM: u32 = 0x0000_0100;
/// The mark does not pin the inode.
pub const FAN_MARK_EVICTABLE: u32 = 0x0000_0200;
/// The mask is an ignore mask, its event flags respected.
pub const FAN_MARK_IGNORE: u32 = 0x0000_0400;

/// Info record: the object's file id.
pub const FAN_EVENT_INFO_TYPE_FID: u8 = 1;
/// Info record: the directory's file id and the entry's name.
pub const FAN_EVENT_INFO_TYPE_DFID_NAME: u8 = 2;
/// Info record: the directory's file id.
pub const FAN_EVENT_INFO_TYPE_DFID: u8 = 3;
/// Info record: the old directory's file id and name (FAN_RENAME).
pub const FAN_EVENT_INFO_TYPE_OLD_DFID_NAME: u8 = 10;
/// Info record: the new directory's file id and name (FAN_RENAME).
pub const FAN_EVENT_INFO_TYPE_NEW_DFID_NAME: u8 = 12;
/// Info record: a pidfd.
pub const FAN_EVENT_INFO_TYPE_PIDFD: u8 = 4;

/// Response: allow.
pub const FAN_ALLOW: u32 = 0x01;
/// Response: deny.
pub const FAN_DENY: u32 = 0x02;
/// Response flag: audit the decision.
pub const FAN_AUDIT: u32 = 0x10;
/// Response flag: info records follow.
pub const FAN_INFO: u32 = 0x20;
/// No descriptor in the event.
pub const FAN_NOFD: i32 = -1;
/// The pidfd could not be made.
pub const FAN_EPIDFD: i32 = -2;
/// The version of `struct fanotify_event_metadata`.
pub const FANOTIFY_METADATA_VERSION: u8 = 3;
/// Size of `struct fanotify_event_metadata`.
pub const FAN_EVENT_METADATA_LEN: usize = 24;
