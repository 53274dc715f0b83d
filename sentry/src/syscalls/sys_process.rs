// SPDX-License-Identifier: Apache-2.0
//! Process-level system calls of the foundation: ids, uname, limits, exit, signal state
//! bookkeeping, arch_prctl, prctl, getrandom, sysinfo.

use syscalls::abi::*;
use syscalls::Errno;

use super::SysResult;
use crate::kernel::{lock, Task};

/// Implements rseq(2)'s argument checks; a valid registration is refused with ENOSYS, which
/// glibc takes as "run without restartable sequences".
pub fn sys_rseq(t: &mut Task) -> SysResult {
    let (addr, len, flags) = (t.arg(0), t.arg(1) as u32, t.arg(2));
    if flags & !RSEQ_FLAG_UNREGISTER != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & RSEQ_FLAG_UNREGISTER != 0 {
        // Nothing was ever registered.
        return Err(Errno::EINVAL);
    }
    if len < 32 || addr % 32 != 0 {
        return Err(Errno::EINVAL);
    }
    Err(Errno::ENOSYS)
}

/// Implements getpid(2).
pub fn sys_getpid(t: &mut Task) -> SysResult {
    Ok(t.tgid() as u64)
}

/// Implements gettid(2).
pub fn sys_gettid(t: &mut Task) -> SysResult {
    Ok(t.tid as u64)
}

/// Implements getuid(2).
pub fn sys_getuid(t: &mut Task) -> SysResult {
    Ok(u64::from(t.creds.uid.0))
}

/// Implements geteuid(2).
pub fn sys_geteuid(t: &mut Task) -> SysResult {
    Ok(u64::from(t.creds.uid.1))
}

/// Implements getgid(2).
pub fn sys_getgid(t: &mut Task) -> SysResult {
    Ok(u64::from(t.creds.gid.0))
}

/// Implements getegid(2).
pub fn sys_getegid(t: &mut Task) -> SysResult {
    Ok(u64::from(t.creds.gid.1))
}

fn write_ids(t: &Task, ids: (u32, u32, u32)) -> SysResult {
    t.write_val(t.arg(0), &ids.0)?;
    t.write_val(t.arg(1), &ids.1)?;
    t.write_val(t.arg(2), &ids.2)?;
    Ok(0)
}

/// Implements getresuid(2).
pub fn sys_getresuid(t: &mut Task) -> SysResult {
    write_ids(t, t.creds.uid)
}

/// Implements getresgid(2).
pub fn sys_getresgid(t: &mut Task) -> SysResult {
    write_ids(t, t.creds.gid)
}

/// Implements getgroups(2).
pub fn sys_getgroups(t: &mut Task) -> SysResult {
    let size = t.arg(0) as i32;
    let groups = &t.creds.groups;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(groups.len() as u64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    t.copy_out(t.arg(1), &bytes)?;
    Ok(groups.len() as u64)
}

/// Implements uname(2).
pub fn sys_uname(t: &mut Task) -> SysResult {
    t.write_val(t.arg(0), &t.k.uts()).map(|_| 0)
}

fn set_uts(t: &Task, domain: bool) -> SysResult {
    const CAP_SYS_ADMIN: u32 = 21;
    if t.creds.caps & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Errno::EPERM);
    }
    let len = t.arg(1) as i64;
    if !(0..=64).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let mut name = vec![0u8; len as usize];
    t.copy_in(t.arg(0), &mut name)?;
    t.k.set_uts_name(&name, domain);
    Ok(0)
}

/// Implements sethostname(2): the sandbox's UTS name only.
pub fn sys_sethostname(t: &mut Task) -> SysResult {
    set_uts(t, false)
}

/// Implements setdomainname(2): the sandbox's UTS name only.
pub fn sys_setdomainname(t: &mut Task) -> SysResult {
    set_uts(t, true)
}

/// Implements umask(2).
pub fn sys_umask(t: &mut Task) -> SysResult {
    let mut fs = lock(&t.fs);
    let old = fs.umask;
    fs.umask = t.arg(0) as u32 & 0o777;
    Ok(u64::from(old))
}

/// Implements arch_prctl(2).
pub fn sys_arch_prctl(t: &mut Task) -> SysResult {
    let (code, addr) = (t.arg(0) as u32, t.arg(1));
    match code {
        ARCH_SET_FS | ARCH_SET_GS => {
            if addr >= TASK_SIZE {
                return Err(Errno::EPERM);
            }
            if code == ARCH_SET_FS {
                t.regs.fs_base = addr;
            } else {
                t.regs.gs_base = addr;
            }
            Ok(0)
        }
        ARCH_GET_FS => {
            let v = t.regs.fs_base;
            t.write_val(addr, &v).map(|_| 0)
        }
        ARCH_GET_GS => {
            let v = t.regs.gs_base;
            t.write_val(addr, &v).map(|_| 0)
        }
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(Errno::ENODEV),
        _ => Err(Errno::EINVAL),
    }
}

/// Implements set_tid_address(2).
pub fn sys_set_tid_address(t: &mut Task) -> SysResult {
    t.clear_child_tid = t.arg(0);
    Ok(t.tid as u64)
}

/// Implements set_robust_list(2).
pub fn sys_set_robust_list(t: &mut Task) -> SysResult {
    if t.arg(1) != 24 {
        return Err(Errno::EINVAL);
    }
    t.robust_list = (t.arg(0), t.arg(1));
    t.shared
        .robust_head
        .store(t.arg(0), std::sync::atomic::Ordering::Relaxed);
    Ok(0)
}

/// Implements get_robust_list(2): another task's head for a caller that may read it
/// (ptrace_may_access with PTRACE_MODE_READ_REALCREDS: EPERM otherwise); the sandbox's own
/// init has none.
pub fn sys_get_robust_list(t: &mut Task) -> SysResult {
    let pid = t.arg(0) as i32;
    let head = if pid == 0 || pid == t.tid {
        t.robust_list.0
    } else if pid > 0 && pid == t.k.virtual_init.load(std::sync::atomic::Ordering::Acquire) {
        // The sentry's init: root's, and no robust list.
        if t.creds.caps & (1 << CAP_SYS_PTRACE) == 0 && t.creds.uid.0 != 0 {
            return Err(Errno::EPERM);
        }
        0
    } else {
        let v = super::sys_kcmp::view(t, pid)?;
        if !super::sys_kcmp::may_access(t, &v) {
            return Err(Errno::EPERM);
        }
        v.shared
            .robust_head
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    t.write_val(t.arg(1), &head)?;
    t.write_val(t.arg(2), &24u64)?;
    Ok(0)
}

fn check_resource(r: u64) -> Result<usize, Errno> {
    if r >= u64::from(RLIM_NLIMITS) {
        return Err(Errno::EINVAL);
    }
    Ok(r as usize)
}

fn set_limit(t: &Task, which: usize, new: Rlimit) -> Result<(), Errno> {
    if new.rlim_cur > new.rlim_max {
        return Err(Errno::EINVAL);
    }
    let mut limits = lock(&t.limits);
    let old = limits[which];
    // Root here lacks CAP_SYS_RESOURCE on the host, and the sandbox does not grant more.
    if new.rlim_max > old.rlim_max {
        return Err(Errno::EPERM);
    }
    if which == RLIMIT_NOFILE as usize && new.rlim_max > crate::fsimpl::proc::nr_open() {
        return Err(Errno::EPERM);
    }
    limits[which] = new;
    drop(limits);
    if which == RLIMIT_AS as usize {
        t.mm().as_limit = new.rlim_cur;
    }
    Ok(())
}

/// Implements getrlimit(2).
pub fn sys_getrlimit(t: &mut Task) -> SysResult {
    let which = check_resource(t.arg(0))?;
    let lim = lock(&t.limits)[which];
    t.write_val(t.arg(1), &lim).map(|_| 0)
}

/// Implements setrlimit(2).
pub fn sys_setrlimit(t: &mut Task) -> SysResult {
    let which = check_resource(t.arg(0))?;
    let new: Rlimit = t.read_val(t.arg(1))?;
    set_limit(t, which, new).map(|_| 0)
}

/// Implements prlimit64(2) for the calling process.
pub fn sys_prlimit64(t: &mut Task) -> SysResult {
    let pid = t.arg(0) as i32;
    if pid != 0 && pid != t.tgid() {
        return Err(Errno::ESRCH);
    }
    let which = check_resource(t.arg(1))?;
    let (new_addr, old_addr) = (t.arg(2), t.arg(3));
    let new: Option<Rlimit> = if new_addr != 0 {
        Some(t.read_val(new_addr)?)
    } else {
        None
    };
    let old = lock(&t.limits)[which];
    if let Some(new) = new {
        set_limit(t, which, new)?;
    }
    if old_addr != 0 {
        t.write_val(old_addr, &old)?;
    }
    Ok(0)
}

/// Implements getrandom(2).
pub fn sys_getrandom(t: &mut Task) -> SysResult {
    let (buf, len, flags) = (t.arg(0), t.arg(1) as usize, t.arg(2) as u32);
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL);
    }
    let len = len.min(0x7fff_f000).min(if flags & GRND_RANDOM != 0 {
        512
    } else {
        1 << 25
    });
    let mut done = 0;
    let mut chunk = vec![0u8; len.min(1 << 16)];
    while done < len {
        let n = (len - done).min(chunk.len());
        crate::fsimpl::dev::fill_random(&mut chunk[..n])?;
        if let Err(e) = t.copy_out(buf + done as u64, &chunk[..n]) {
            if done == 0 {
                return Err(e);
            }
            break;
        }
        done += n;
    }
    Ok(done as u64)
}

/// Implements sysinfo(2).
pub fn sys_sysinfo(t: &mut Task) -> SysResult {
    // The sandbox's own figures, as /proc/uptime, /proc/loadavg and /proc/meminfo show them:
    // its uptime, no load, its threads; memory and swap are the host's.
    let host = nix::sys::sysinfo::sysinfo().map_err(|e| Errno(e as i32))?;
    let threads = crate::kernel::lock(&t.k.tree).threads.len();
    let info = Sysinfo {
        // Rounded up, as Linux's do_sysinfo does.
        uptime: {
            // In a time namespace, moved by its CLOCK_BOOTTIME offset.
            let up = t.k.boot.elapsed().as_nanos() as i128
                + crate::kernel::lock(&t.shared.time)
                    .ns
                    .offset(CLOCK_BOOTTIME);
            (up.div_euclid(1_000_000_000) + i128::from(up.rem_euclid(1_000_000_000) != 0)) as i64
        },
        loads: [0; 3],
        totalram: host.ram_total(),
        freeram: host.ram_unused(),
        totalswap: host.swap_total(),
        freeswap: host.swap_free(),
        procs: u16::try_from(threads).unwrap_or(u16::MAX),
        mem_unit: 1,
        ..Default::default()
    };
    t.write_val(t.arg(0), &info).map(|_| 0)
}

/// Implements sched_yield(2).
pub fn sys_sched_yield(_t: &mut Task) -> SysResult {
    std::thread::yield_now();
    Ok(0)
}

/// Implements prctl(2).
pub fn sys_prctl(t: &mut Task) -> SysResult {
    let (opt, a2, a3) = (t.arg(0), t.arg(1), t.arg(2));
    match opt {
        PR_SET_NAME => {
            let mut name = [0u8; 16];
            let s = t.mm().read_cstr(a2, 4096)?;
            let n = s.len().min(15);
            name[..n].copy_from_slice(&s[..n]);
            t.comm = name;
            t.publish();
            Ok(0)
        }
        PR_GET_NAME => {
            let comm = t.comm;
            t.copy_out(a2, &comm).map(|_| 0)
        }
        PR_GET_DUMPABLE => Ok(u64::from(
            t.shared
                .tg
                .dumpable
                .load(std::sync::atomic::Ordering::Relaxed),
        )),
        PR_SET_DUMPABLE if a2 <= 1 => {
            t.shared
                .tg
                .dumpable
                .store(a2 as u8, std::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        PR_SET_DUMPABLE => Err(Errno::EINVAL),
        PR_SET_NO_NEW_PRIVS if a2 == 1 && a3 == 0 => {
            t.no_new_privs = true;
            t.publish();
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => Err(Errno::EINVAL),
        PR_GET_NO_NEW_PRIVS if a2 == 0 && a3 == 0 && t.arg(3) == 0 && t.arg(4) == 0 => {
            Ok(u64::from(t.no_new_privs))
        }
        PR_GET_NO_NEW_PRIVS => Err(Errno::EINVAL),
        PR_SET_PDEATHSIG => {
            if a2 > 64 {
                return Err(Errno::EINVAL);
            }
            t.pdeath_signal = a2 as i32;
            *lock(&t.shared.pdeath) = a2 as i32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            let v = t.pdeath_signal;
            t.write_val(a2, &v).map(|_| 0)
        }
        PR_SET_CHILD_SUBREAPER => {
            if let Some(p) = lock(&t.k.tree).procs.get_mut(&t.tgid()) {
                p.subreaper = a2 != 0;
            }
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let v = lock(&t.k.tree)
                .procs
                .get(&t.tgid())
                .map(|p| i32::from(p.subreaper))
                .unwrap_or(0);
            t.write_val(a2, &v).map(|_| 0)
        }
        PR_GET_KEEPCAPS => Ok(u64::from(t.creds.securebits & SECBIT_KEEP_CAPS != 0)),
        PR_SET_KEEPCAPS if a2 > 1 => Err(Errno::EINVAL),
        PR_SET_KEEPCAPS if t.creds.securebits & (SECBIT_KEEP_CAPS << 1) != 0 => Err(Errno::EPERM),
        PR_SET_KEEPCAPS => {
            if a2 == 1 {
                t.creds.securebits |= SECBIT_KEEP_CAPS;
            } else {
                t.creds.securebits &= !SECBIT_KEEP_CAPS;
            }
            t.publish();
            Ok(0)
        }
        PR_CAPBSET_READ => {
            if a2 > u64::from(CAP_LAST_CAP) {
                return Err(Errno::EINVAL);
            }
            Ok((t.creds.caps_bounding >> a2) & 1)
        }
        PR_CAPBSET_DROP => {
            if a2 > u64::from(CAP_LAST_CAP) {
                return Err(Errno::EINVAL);
            }
            if t.creds.caps & (1 << 8) == 0 {
                return Err(Errno::EPERM); // CAP_SETPCAP
            }
            t.creds.caps_bounding &= !(1u64 << a2);
            t.publish();
            Ok(0)
        }
        PR_GET_SECCOMP => super::sys_seccomp::prctl_get_seccomp(t),
        PR_SET_SECCOMP => super::sys_seccomp::prctl_set_seccomp(t, a2, a3),
        PR_GET_TIMING => Ok(0),
        PR_GET_TIMERSLACK => Ok(t.timer_slack.0),
        PR_SET_TIMERSLACK => {
            // 0 restores the default.
            t.timer_slack.0 = if a2 == 0 { t.timer_slack.1 } else { a2 };
            Ok(0)
        }
        PR_GET_TID_ADDRESS => {
            let v = t.clear_child_tid;
            t.write_val(a2, &v).map(|_| 0)
        }
        PR_SET_THP_DISABLE if a3 == 0 && t.arg(3) == 0 && t.arg(4) == 0 => Ok(0),
        PR_GET_THP_DISABLE if a2 == 0 && a3 == 0 && t.arg(3) == 0 && t.arg(4) == 0 => Ok(0),
        PR_SET_THP_DISABLE | PR_GET_THP_DISABLE => Err(Errno::EINVAL),
        PR_GET_SECUREBITS => Ok(t.creds.securebits),
        PR_SET_SECUREBITS => {
            // Linux's cap_task_prctl: no locked bit changed, no lock undone, no unknown bit,
            // and CAP_SETPCAP; every refusal is EPERM.
            let old = t.creds.securebits;
            let locked = (old & SECURE_ALL_LOCKS) >> 1;
            if locked & (old ^ a2) != 0
                || old & SECURE_ALL_LOCKS & !a2 != 0
                || a2 & !(SECURE_ALL_LOCKS | SECURE_ALL_BITS) != 0
                || t.creds.caps & (1 << 8) == 0
            {
                return Err(Errno::EPERM);
            }
            t.creds.securebits = a2;
            t.publish();
            Ok(0)
        }
        PR_CAP_AMBIENT => {
            let (a3, a4, a5) = (t.arg(2), t.arg(3), t.arg(4));
            if a2 == PR_CAP_AMBIENT_CLEAR_ALL {
                if a3 != 0 || a4 != 0 || a5 != 0 {
                    return Err(Errno::EINVAL);
                }
                t.creds.caps_ambient = 0;
                t.publish();
                return Ok(0);
            }
            if a3 > u64::from(CAP_LAST_CAP) || a4 != 0 || a5 != 0 {
                return Err(Errno::EINVAL);
            }
            let bit = 1u64 << a3;
            match a2 {
                PR_CAP_AMBIENT_IS_SET => Ok(u64::from(t.creds.caps_ambient & bit != 0)),
                PR_CAP_AMBIENT_RAISE => {
                    // Only what is both permitted and inheritable, and not under
                    // SECBIT_NO_CAP_AMBIENT_RAISE.
                    if t.creds.caps_permitted & bit == 0
                        || t.creds.caps_inheritable & bit == 0
                        || t.creds.securebits & SECBIT_NO_CAP_AMBIENT_RAISE != 0
                    {
                        return Err(Errno::EPERM);
                    }
                    t.creds.caps_ambient |= bit;
                    t.publish();
                    Ok(0)
                }
                PR_CAP_AMBIENT_LOWER => {
                    t.creds.caps_ambient &= !bit;
                    t.publish();
                    Ok(0)
                }
                _ => Err(Errno::EINVAL),
            }
        }
        PR_SET_VMA => Err(Errno::EINVAL),
        _ => Err(Errno::EINVAL),
    }
}
