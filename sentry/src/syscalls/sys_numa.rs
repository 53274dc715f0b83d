// SPDX-License-Identifier: Apache-2.0
//! The NUMA policy calls on a machine of one node, node 0 (as gVisor's sys_mempolicy.go):
//! set_mempolicy(2), get_mempolicy(2), mbind(2), set_mempolicy_home_node(2),
//! migrate_pages(2) and move_pages(2), with Linux's argument checks and errnos
//! (mm/mempolicy.c, mm/migrate.c). Policies are recorded (per thread, and per mapping for
//! mbind) so get_mempolicy reports them back; memory is placed the same whatever they say,
//! and nothing ever migrates: every page already lies on node 0.

use syscalls::abi::*;
use syscalls::Errno;

use super::sys_kcmp::{may_access, view};
use super::SysResult;
use crate::kernel::{lock, Task};
use crate::mm::MemPolicy;

const PAGE: u64 = 4096;
/// Linux's MAX_NUMNODES on the x86_64 configurations (CONFIG_NODES_SHIFT=10).
const MAX_NUMNODES: u64 = 1024;
const CAP_SYS_NICE: u32 = 23;

/// A node mask read from the caller: its words below MAX_NUMNODES (at most 16).
#[derive(Default)]
struct Nodes {
    words: Vec<u64>,
}

impl Nodes {
    fn empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }
    fn first(&self) -> u64 {
        self.words.first().copied().unwrap_or(0)
    }
    /// Whether every node of the mask is node 0 (the only one the caller may use).
    fn within_node0(&self) -> bool {
        self.first() & !1 == 0 && self.words.iter().skip(1).all(|w| *w == 0)
    }
}

/// Linux's get_bitmap: `BITS_TO_LONGS(bits)` words, the last masked to `bits`.
fn read_bitmap(t: &Task, addr: u64, bits: u64) -> Result<Vec<u64>, Errno> {
    let n = bits.div_ceil(64) as usize;
    let mut buf = vec![0u8; n * 8];
    t.copy_in(addr, &mut buf)?;
    let mut words: Vec<u64> = buf
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
        .collect();
    if !bits.is_multiple_of(64) {
        if let Some(last) = words.last_mut() {
            *last &= (1u64 << (bits % 64)) - 1;
        }
    }
    Ok(words)
}

/// Linux's get_nodes: a mask of `maxnode - 1` bits (sic); bits at or above MAX_NUMNODES must
/// be clear (EINVAL), a mask over a page is EINVAL, an unreadable one EFAULT.
fn get_nodes(t: &Task, nmask: u64, maxnode: u64) -> Result<Nodes, Errno> {
    let mut maxnode = maxnode.wrapping_sub(1);
    if maxnode == 0 || nmask == 0 {
        return Ok(Nodes::default());
    }
    if maxnode > PAGE * 8 {
        return Err(Errno::EINVAL);
    }
    while maxnode > MAX_NUMNODES {
        let bits = maxnode.min(64);
        let at = nmask + (maxnode - 1) / 64 * 8;
        let w = read_bitmap(t, at, bits)?[0];
        if maxnode - bits >= MAX_NUMNODES {
            maxnode -= bits;
        } else {
            maxnode = MAX_NUMNODES;
        }
        if w != 0 {
            return Err(Errno::EINVAL);
        }
    }
    Ok(Nodes {
        words: read_bitmap(t, nmask, maxnode)?,
    })
}

/// Linux's copy_nodes_to_user for one node: `ALIGN(maxnode - 1, 64) / 8` bytes, of which the
/// first word holds the mask and the rest is cleared (a request over a page is EINVAL).
fn put_nodes(t: &Task, nmask: u64, maxnode: u64, nodes: u64) -> Result<(), Errno> {
    let mut copy = (maxnode.wrapping_sub(1).wrapping_add(63) & !63) / 8;
    if copy > 8 {
        if copy > PAGE {
            return Err(Errno::EINVAL);
        }
        let zeros = vec![0u8; (copy - 8) as usize];
        t.copy_out(nmask.checked_add(8).ok_or(Errno::EFAULT)?, &zeros)?;
        copy = 8;
    }
    t.copy_out(nmask, &nodes.to_ne_bytes()[..copy as usize])
}

/// Linux's sanitize_mpol_flags: the mode and its mode flags.
fn sanitize(mode: u32) -> Result<(u32, u32), Errno> {
    let flags = mode & MPOL_MODE_FLAGS;
    let mode = mode & !MPOL_MODE_FLAGS;
    if mode >= MPOL_MAX {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_F_NUMA_BALANCING != 0 && !matches!(mode, MPOL_BIND | MPOL_PREFERRED_MANY) {
        return Err(Errno::EINVAL);
    }
    Ok((mode, flags))
}

/// Linux's mpol_new and mpol_set_nodemask on one node: the policy (None for MPOL_DEFAULT),
/// or EINVAL when the nodes do not fit the mode or leave no node the caller may use.
fn new_policy(mode: u32, flags: u32, nodes: &Nodes) -> Result<Option<MemPolicy>, Errno> {
    let user_nodes = flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0;
    let mut mode = mode;
    match mode {
        MPOL_DEFAULT => {
            return if nodes.empty() {
                Ok(None)
            } else {
                Err(Errno::EINVAL)
            };
        }
        MPOL_PREFERRED if nodes.empty() => {
            if user_nodes {
                return Err(Errno::EINVAL);
            }
            mode = MPOL_LOCAL;
        }
        MPOL_LOCAL if !nodes.empty() || user_nodes => return Err(Errno::EINVAL),
        MPOL_LOCAL => {}
        _ if nodes.empty() => return Err(Errno::EINVAL),
        _ => {}
    }
    if mode == MPOL_LOCAL {
        return Ok(Some(MemPolicy {
            mode: MPOL_LOCAL | flags,
            nodes: 0,
            home: -1,
        }));
    }
    // The nodes the caller may use among those asked for: node 0 if asked (relative nodes
    // fold onto the allowed ones, so any node does).
    let usable = if flags & MPOL_F_RELATIVE_NODES != 0 {
        !nodes.empty()
    } else {
        nodes.first() & 1 != 0
    };
    if !usable {
        return Err(Errno::EINVAL);
    }
    Ok(Some(MemPolicy {
        mode: mode | flags,
        nodes: if user_nodes { nodes.first() } else { 1 },
        home: -1,
    }))
}

/// Implements set_mempolicy(2): the calling thread's policy.
pub fn sys_set_mempolicy(t: &mut Task) -> SysResult {
    let (mode, nmask, maxnode) = (t.arg(0) as u32, t.arg(1), t.arg(2));
    let (mode, flags) = sanitize(mode)?;
    let nodes = get_nodes(t, nmask, maxnode)?;
    t.mempolicy = new_policy(mode, flags, &nodes)?;
    Ok(0)
}

/// Implements get_mempolicy(2): the thread's policy, a mapping's (MPOL_F_ADDR), the node of
/// an address or the next interleave node (MPOL_F_NODE: 0), or the nodes allowed
/// (MPOL_F_MEMS_ALLOWED: node 0).
pub fn sys_get_mempolicy(t: &mut Task) -> SysResult {
    let (policy, nmask, maxnode, addr, flags) = (t.arg(0), t.arg(1), t.arg(2), t.arg(3), t.arg(4));
    if nmask != 0 && maxnode < 1 {
        return Err(Errno::EINVAL);
    }
    if flags & !(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED) != 0 {
        return Err(Errno::EINVAL);
    }
    let (pval, nodes) = if flags & MPOL_F_MEMS_ALLOWED != 0 {
        if flags & (MPOL_F_NODE | MPOL_F_ADDR) != 0 {
            return Err(Errno::EINVAL);
        }
        (0u32, 1u64)
    } else {
        let (pol, own) = if flags & MPOL_F_ADDR != 0 {
            (t.mm().policy_at(addr)?, false)
        } else if addr != 0 {
            return Err(Errno::EINVAL);
        } else {
            (t.mempolicy, true)
        };
        let pval = if flags & MPOL_F_NODE != 0 {
            if flags & MPOL_F_ADDR != 0 {
                // The node of the page, faulted in by a read as Linux's lookup_node does.
                let mut b = [0u8; 1];
                t.copy_in(addr, &mut b)?;
                0
            } else if own
                && pol.is_some_and(|p| {
                    matches!(
                        p.mode & !MPOL_MODE_FLAGS,
                        MPOL_INTERLEAVE | MPOL_WEIGHTED_INTERLEAVE
                    )
                })
            {
                0
            } else {
                return Err(Errno::EINVAL);
            }
        } else {
            pol.map_or(MPOL_DEFAULT, |p| p.mode)
        };
        (pval, pol.map_or(0, |p| p.nodes))
    };
    if policy != 0 {
        t.write_val(policy, &pval)?;
    }
    if nmask != 0 {
        put_nodes(t, nmask, maxnode, nodes)?;
    }
    Ok(0)
}

/// Page-aligns a length as Linux's PAGE_ALIGN (wrapping) and returns the end of the range, or
/// EINVAL when it wraps past the top.
fn range_end(start: u64, len: u64) -> Result<u64, Errno> {
    let len = len.wrapping_add(PAGE - 1) & !(PAGE - 1);
    let end = start.wrapping_add(len);
    if end < start {
        return Err(Errno::EINVAL);
    }
    Ok(end)
}

/// Implements mbind(2): records the policy on the mappings of the range.
pub fn sys_mbind(t: &mut Task) -> SysResult {
    let (start, len, mode, nmask, maxnode, flags) = (
        t.arg(0),
        t.arg(1),
        t.arg(2) as u32,
        t.arg(3),
        t.arg(4),
        t.arg(5) as u32,
    );
    let (mode, mflags) = sanitize(mode)?;
    let nodes = get_nodes(t, nmask, maxnode)?;
    if flags & !MPOL_MF_VALID != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && t.creds.caps & (1 << CAP_SYS_NICE) == 0 {
        return Err(Errno::EPERM);
    }
    if !start.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let end = range_end(start, len)?;
    if end == start {
        return Ok(0);
    }
    let policy = new_policy(mode, mflags, &nodes)?;
    // MPOL_MF_STRICT and the moves have nothing to do: every page is on node 0, and node 0 is
    // in every policy that got this far.
    t.mm().set_policy(start, end, policy)?;
    Ok(0)
}

/// Implements set_mempolicy_home_node(2).
pub fn sys_set_mempolicy_home_node(t: &mut Task) -> SysResult {
    let (start, len, home, flags) = (t.arg(0), t.arg(1), t.arg(2), t.arg(3));
    if !start.is_multiple_of(PAGE) || flags != 0 {
        return Err(Errno::EINVAL);
    }
    // The home node must be online: only node 0 is.
    if home != 0 {
        return Err(Errno::EINVAL);
    }
    let end = range_end(start, len)?;
    if end == start {
        return Ok(0);
    }
    t.mm().set_home_node(start, end, home as i32)?;
    Ok(0)
}

/// The address space of the process `pid` names (0: the caller) for migrate_pages and
/// move_pages: ESRCH if there is none, EPERM unless the caller may read it
/// (ptrace_may_access), EINVAL for a task without memory.
fn target_mm(
    t: &Task,
    pid: i32,
) -> Result<std::sync::Arc<std::sync::Mutex<crate::mm::MemoryManager>>, Errno> {
    if pid == 0 {
        return Ok(t.mm.clone());
    }
    let v = view(t, pid)?;
    if !may_access(t, &v) {
        return Err(Errno::EPERM);
    }
    v.mm_ref.clone().ok_or(Errno::EINVAL)
}

/// Implements migrate_pages(2): nothing to move between the nodes of a one-node machine.
pub fn sys_migrate_pages(t: &mut Task) -> SysResult {
    let (pid, maxnode, old, new) = (t.arg(0) as i32, t.arg(1), t.arg(2), t.arg(3));
    let _old = get_nodes(t, old, maxnode)?;
    let new = get_nodes(t, new, maxnode)?;
    target_mm(t, pid)?;
    if !new.within_node0() && t.creds.caps & (1 << CAP_SYS_NICE) == 0 {
        return Err(Errno::EPERM);
    }
    if new.first() & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    // The number of pages that could not be moved.
    Ok(0)
}

/// How many entries of move_pages' arrays are read and written at a time.
const CHUNK: usize = 16;

/// Implements move_pages(2): with `nodes`, moves each page to its node (node 0 only, where
/// every page is: ENODEV for another); without, reports where each page is. A page's status
/// is its node, -EFAULT where nothing is mapped, -ENOENT in a mapping without access.
pub fn sys_move_pages(t: &mut Task) -> SysResult {
    let (pid, count, pages, nodes, status, flags) = (
        t.arg(0) as i32,
        t.arg(1),
        t.arg(2),
        t.arg(3),
        t.arg(4),
        t.arg(5) as u32,
    );
    if flags & !(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && t.creds.caps & (1 << CAP_SYS_NICE) == 0 {
        return Err(Errno::EPERM);
    }
    let mm = target_mm(t, pid)?;
    let mut done = 0u64;
    while done < count {
        let n = (count - done).min(CHUNK as u64) as usize;
        let mut raw = [0u8; CHUNK * 8];
        let at = |base: u64, size: u64| base.checked_add(done * size).ok_or(Errno::EFAULT);
        t.copy_in(at(pages, 8)?, &mut raw[..n * 8])?;
        let mut nraw = [0u8; CHUNK * 4];
        if nodes != 0 {
            t.copy_in(at(nodes, 4)?, &mut nraw[..n * 4])?;
        }
        let mut out = [0i32; CHUNK];
        let mut bad = None;
        {
            let m = lock(&mm);
            for i in 0..n {
                let node =
                    i32::from_ne_bytes(nraw[i * 4..i * 4 + 4].try_into().unwrap_or_default());
                // Only node 0 has memory: another node ends the call, after the statuses of
                // the pages before it.
                if nodes != 0 && node != 0 {
                    bad = Some(i);
                    break;
                }
                let addr = u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
                out[i] = m.page_node(addr);
            }
        }
        let k = bad.unwrap_or(n);
        let bytes: Vec<u8> = out[..k].iter().flat_map(|s| s.to_ne_bytes()).collect();
        t.copy_out(at(status, 4)?, &bytes)?;
        if bad.is_some() {
            return Err(Errno::ENODEV);
        }
        done += n as u64;
    }
    Ok(0)
}
