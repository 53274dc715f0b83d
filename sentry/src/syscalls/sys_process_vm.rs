// SPDX-License-Identifier: Apache-2.0
//! process_vm_readv(2) and process_vm_writev(2) between the sandbox's processes: the sentry
//! copies through both memory managers, a chunk at a time (mm/process_vm_access.c). The caller
//! must pass ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS) on the target (EPERM). A fault
//! ends the transfer: the bytes moved before it are returned, EFAULT when there were none.

use std::sync::{Arc, Mutex};

use syscalls::abi::Iovec;
use syscalls::Errno;

use super::sys_file::read_iovecs;
use super::sys_kcmp::{may_access, view};
use super::SysResult;
use crate::kernel::{lock, Task};
use crate::mm::MemoryManager;

const PAGE: u64 = 4096;
const CHUNK: usize = 64 << 10;
/// Largest total (MAX_RW_COUNT).
const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// Copies `buf.len()` bytes of `mm` at `addr` into or out of `buf`, as far as it can: the
/// whole of it, or (after a fault) up to the page that faulted.
fn copy(mm: &Mutex<MemoryManager>, addr: u64, buf: &mut [u8], write: bool) -> usize {
    let m = lock(mm);
    let whole = if write {
        m.copy_out(addr, buf)
    } else {
        m.copy_in(addr, buf)
    };
    if whole.is_ok() {
        return buf.len();
    }
    // Page by page to find where it stops.
    let mut done = 0usize;
    while done < buf.len() {
        let at = addr + done as u64;
        let n = ((PAGE - at % PAGE) as usize).min(buf.len() - done);
        let r = if write {
            m.copy_out(at, &buf[done..done + n])
        } else {
            m.copy_in(at, &mut buf[done..done + n])
        };
        if r.is_err() {
            break;
        }
        done += n;
    }
    done
}

/// Moves between the caller's `local` iovecs and the target's `remote` ones (`write`: from
/// local to remote).
fn transfer(
    local_mm: &Arc<Mutex<MemoryManager>>,
    remote_mm: &Arc<Mutex<MemoryManager>>,
    local: &[Iovec],
    remote: &[Iovec],
    write: bool,
) -> Result<u64, Errno> {
    let mut done = 0u64;
    let (mut li, mut loff) = (0usize, 0u64);
    let mut buf = vec![0u8; CHUNK];
    'remote: for r in remote {
        let mut roff = 0u64;
        while roff < r.len {
            // Skip empty local iovecs; stop when the local side is full.
            while li < local.len() && loff == local[li].len {
                li += 1;
                loff = 0;
            }
            let Some(l) = local.get(li) else {
                break 'remote;
            };
            let n = (r.len - roff).min(l.len - loff).min(CHUNK as u64) as usize;
            let (raddr, laddr) = (r.base + roff, l.base + loff);
            let chunk = &mut buf[..n];
            let (src, saddr, dst, daddr) = if write {
                (local_mm, laddr, remote_mm, raddr)
            } else {
                (remote_mm, raddr, local_mm, laddr)
            };
            let got = copy(src, saddr, chunk, false);
            let put = copy(dst, daddr, &mut chunk[..got], true);
            done += put as u64;
            if put < n {
                break 'remote;
            }
            roff += n as u64;
            loff += n as u64;
        }
    }
    // Nothing moved although both sides asked for bytes: the first copy faulted.
    if done == 0 && remote.iter().any(|v| v.len > 0) {
        return Err(Errno::EFAULT);
    }
    Ok(done)
}

fn process_vm(t: &mut Task, write: bool) -> SysResult {
    let (pid, lvec, lcnt, rvec, rcnt, flags) = (
        t.arg(0) as i32,
        t.arg(1),
        t.arg(2),
        t.arg(3),
        t.arg(4),
        t.arg(5),
    );
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    // The local iovecs, then (if they ask for anything) the remote ones, then the target.
    let local = read_iovecs(t, lvec, lcnt)?;
    if local.iter().all(|v| v.len == 0) {
        return Ok(0);
    }
    let mut remote = read_iovecs(t, rvec, rcnt)?;
    // At most MAX_RW_COUNT bytes move in one call.
    let mut left = MAX_RW_COUNT;
    for r in &mut remote {
        r.len = r.len.min(left);
        left -= r.len;
    }
    let v = view(t, pid)?;
    let remote_mm = v.mm_ref.clone().ok_or(Errno::ESRCH)?;
    if !may_access(t, &v) {
        return Err(Errno::EPERM);
    }
    transfer(&t.mm.clone(), &remote_mm, &local, &remote, write)
}

/// Implements process_vm_readv(2).
pub fn sys_process_vm_readv(t: &mut Task) -> SysResult {
    process_vm(t, false)
}

/// Implements process_vm_writev(2).
pub fn sys_process_vm_writev(t: &mut Task) -> SysResult {
    process_vm(t, true)
}
