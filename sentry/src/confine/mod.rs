// SPDX-License-Identifier: Apache-2.0
//! The sentry's own seccomp confinement (DESIGN.md invariant 2): this module owns the policy
//! ([`policy`]: every host system call the sentry may make, per thread role, each with its
//! reason), compiles it with seccompiler, and installs it.
//!
//! Two steps, as Firecracker installs a filter per thread and gVisor one per process:
//! - [`install`]: the loader calls it once, on the one thread that exists when start-up is over
//!   (no thread has been started, no program instruction run, nothing read from the program).
//!   It installs the union of every role's rules; every thread started afterwards inherits it.
//! - [`enter`]: each thread then narrows itself to its role's rules (a second filter on top:
//!   the kernel allows a call only if every filter does). A no-op when [`install`] was never
//!   called (unit tests, library use).
//!
//! A call outside the policy kills the whole sentry with SIGSYS (SECCOMP_RET_KILL_PROCESS).
//! `clone3` is answered ENOSYS by a filter of its own, so that glibc falls back to `clone`,
//! whose flags a filter can see.

pub mod policy;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

pub use self::policy::Roles;

/// What the confinement allows beyond the fixed policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// The sentry carries the program's network flows on host sockets (`--network host` or
    /// `sandbox`): the socket calls of [`policy::NETWORK_RULES`] are allowed. Under
    /// `--network none` no host socket can be created.
    pub host_network: bool,
    /// Host unix sockets reached through volumes may be connected (`--host-uds open`): the
    /// calls of [`policy::HOST_UDS_RULES`] on the connections the gofer donates are allowed.
    pub host_uds: bool,
    /// An OCI container's control socket is served (`exec`): the calls of
    /// [`policy::CONTROL_RULES`] are allowed.
    pub control: bool,
}

/// The compiled filters: the allow-list of every role, the clone3 filter, and each role's own.
pub struct Prepared {
    base: BpfProgram,
    clone3: BpfProgram,
    roles: Vec<(Roles, BpfProgram)>,
}

/// The role filters, once [`install`] has run.
struct Installed {
    roles: Vec<(Roles, BpfProgram)>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The roles [`enter`] knows.
const ROLES: [Roles; 5] = [
    policy::TASK,
    policy::TIMERS,
    policy::WATCH,
    policy::SIGNALS,
    policy::MAIN,
];

/// The rules of `roles` under `opts`.
fn rules(roles: Roles, opts: Options) -> impl Iterator<Item = &'static policy::Rule> {
    let net: &'static [policy::Rule] = if opts.host_network {
        policy::NETWORK_RULES
    } else {
        &[]
    };
    let uds: &'static [policy::Rule] = if opts.host_uds {
        policy::HOST_UDS_RULES
    } else {
        &[]
    };
    let control: &'static [policy::Rule] = if opts.control {
        policy::CONTROL_RULES
    } else {
        &[]
    };
    policy::RULES
        .iter()
        .chain(net)
        .chain(uds)
        .chain(control)
        .filter(move |r| r.roles & roles != 0)
}

fn compile(
    map: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, String> {
    let filter = SeccompFilter::new(map, mismatch, matched, TargetArch::x86_64)
        .map_err(|e| format!("seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e| format!("seccomp filter: {e}"))
}

/// The allow-list filter of `roles` (the union of their rules), killing the process on any
/// other call.
pub fn allow_list(roles: Roles, opts: Options) -> Result<BpfProgram, String> {
    let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // A call with an unconditional rule is allowed whatever other rules say.
    let mut unconditional = std::collections::BTreeSet::new();
    for r in rules(roles, opts) {
        let nr = i64::from(r.sysno.0);
        if r.conds.is_empty() {
            unconditional.insert(nr);
            continue;
        }
        let conds = r
            .conds
            .iter()
            .map(|c| {
                let op = if c.not {
                    SeccompCmpOp::Ne
                } else if c.mask == u64::MAX {
                    SeccompCmpOp::Eq
                } else {
                    SeccompCmpOp::MaskedEq(c.mask)
                };
                // An inequality is of an `int` argument, whose upper half the kernel ignores:
                // compared on the lower half, so that set upper bits cannot pass for another
                // value.
                let len = if c.not {
                    SeccompCmpArgLen::Dword
                } else {
                    SeccompCmpArgLen::Qword
                };
                SeccompCondition::new(c.arg, len, op, c.value)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("seccomp rule for {}: {e}", r.sysno))?;
        let rule = SeccompRule::new(conds).map_err(|e| format!("seccomp rule: {e}"))?;
        map.entry(nr).or_default().push(rule);
    }
    for nr in unconditional {
        map.insert(nr, Vec::new());
    }
    compile(map, mismatch_action(), SeccompAction::Allow)
}

/// What a call outside the policy does: kill the sentry. The `seccomp-log` feature (for
/// finding what a change to the sentry needs; never in a shipped build) logs it to the
/// kernel's log instead (`dmesg | grep type=1326`).
fn mismatch_action() -> SeccompAction {
    if cfg!(feature = "seccomp-log") {
        SeccompAction::Log
    } else {
        SeccompAction::KillProcess
    }
}

/// The filter that answers clone3 with ENOSYS (and allows everything else: the allow-list
/// decides).
pub fn clone3_enosys() -> Result<BpfProgram, String> {
    let mut map = BTreeMap::new();
    map.insert(i64::from(syscalls::Sysno::clone3.0), Vec::new());
    compile(
        map,
        SeccompAction::Allow,
        SeccompAction::Errno(syscalls::Errno::ENOSYS.0 as u32),
    )
}

fn apply(prog: &BpfProgram) -> Result<(), String> {
    seccompiler::apply_filter(prog).map_err(|e| format!("installing the seccomp filter: {e}"))
}

/// Compiles every filter for `opts` (a fraction of a millisecond: the loader does it while it
/// waits for the gofer).
pub fn prepare(opts: Options) -> Result<Prepared, String> {
    Ok(Prepared {
        base: allow_list(policy::ALL, opts)?,
        clone3: clone3_enosys()?,
        roles: ROLES
            .iter()
            .map(|&r| Ok((r, allow_list(r, opts)?)))
            .collect::<Result<Vec<_>, String>>()?,
    })
}

/// Confines every thread of the process, and every thread started from now on, to the
/// sentry's policy (all roles), with no-new-privileges (TSYNC: the threads that already exist
/// are synchronised to the caller's filters). Call it before any thread has run untrusted
/// input.
pub fn install(prepared: Prepared) -> Result<(), String> {
    let Prepared {
        base,
        clone3,
        roles,
    } = prepared;
    // The clone3 filter first: once the allow-list is in, it refuses TSYNC.
    for prog in [&clone3, &base] {
        seccompiler::apply_filter_all_threads(prog)
            .map_err(|e| format!("installing the seccomp filter: {e}"))?;
    }
    let _ = INSTALLED.set(Installed { roles });
    let (done, cond) = &CONFINED;
    *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
    cond.notify_all();
    Ok(())
}

/// Set (and notified) once [`install`] has run.
static CONFINED: (std::sync::Mutex<bool>, std::sync::Condvar) =
    (std::sync::Mutex::new(false), std::sync::Condvar::new());

/// Blocks the calling thread until [`install`] has run (forever if it never does), then
/// narrows it to `role`. For a thread started before the confinement that has nothing more to
/// do until then (the systrap platform's keeper thread).
pub fn enter_when_installed(role: Roles) {
    let (done, cond) = &CONFINED;
    let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
    while !*d {
        d = cond.wait(d).unwrap_or_else(|e| e.into_inner());
    }
    drop(d);
    enter(role);
}

/// Narrows the calling thread to `role`'s rules, if the sentry is confined. A failure to
/// narrow is fatal: a thread of the sentry that could not confine itself must not run.
pub fn enter(role: Roles) {
    let Some(installed) = INSTALLED.get() else {
        return;
    };
    let prog = installed
        .roles
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, p)| p);
    let r = match prog {
        Some(p) => apply(p),
        None => Err(format!("no filter for role {role:#x}")),
    };
    if let Err(e) = r {
        eprintln!("sandbox: a sentry thread could not confine itself: {e}");
        std::process::abort();
    }
}

/// Debug builds only (the hook does not exist in a release build): when the environment has
/// `SANDBOX_DEBUG_FORBIDDEN_CALL=1`, the confined sentry opens a host path, which its policy
/// forbids, so a test can see the real process die of SIGSYS (tests/tests/confinement.rs).
#[cfg(debug_assertions)]
pub fn debug_forbidden_call_hook() {
    if installed() && std::env::var_os("SANDBOX_DEBUG_FORBIDDEN_CALL").is_some_and(|v| v == "1") {
        crate::host::debug_open_root();
    }
}

/// Whether [`install`] has run.
pub fn installed() -> bool {
    INSTALLED.get().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_compiles() {
        for (net, uds, control) in [
            (false, false, false),
            (true, false, false),
            (false, true, false),
            (true, true, true),
            (false, false, true),
        ] {
            let opts = Options {
                host_network: net,
                host_uds: uds,
                control,
            };
            for role in [
                policy::TASK,
                policy::TIMERS,
                policy::WATCH,
                policy::SIGNALS,
                policy::MAIN,
                policy::ALL,
            ] {
                assert!(allow_list(role, opts).is_ok_and(|p| !p.is_empty()));
            }
        }
        assert!(clone3_enosys().is_ok());
    }

    #[test]
    fn every_rule_says_why_and_has_sane_conditions() {
        for r in policy::RULES
            .iter()
            .chain(policy::NETWORK_RULES)
            .chain(policy::HOST_UDS_RULES)
            .chain(policy::CONTROL_RULES)
        {
            assert!(!r.why.is_empty(), "{} has no reason", r.sysno);
            assert!(r.roles != 0, "{} is for nobody", r.sysno);
            assert!(
                r.sysno.name().is_some(),
                "{:?} is not a system call",
                r.sysno
            );
            for c in r.conds {
                assert!(c.arg < 6, "{}: argument {}", r.sysno, c.arg);
                assert_eq!(c.value & !c.mask, 0, "{}: value outside its mask", r.sysno);
            }
        }
    }

    #[test]
    fn no_path_opening_exec_or_socket_call_is_allowed_without_a_network() {
        let forbidden = [
            syscalls::Sysno::open,
            syscalls::Sysno::openat,
            syscalls::Sysno::openat2,
            syscalls::Sysno::creat,
            syscalls::Sysno::execve,
            syscalls::Sysno::socket,
            syscalls::Sysno::connect,
            syscalls::Sysno::mount,
            syscalls::Sysno::umount2,
            syscalls::Sysno::pivot_root,
            syscalls::Sysno::unshare,
            syscalls::Sysno::setns,
            syscalls::Sysno::chroot,
            syscalls::Sysno::setuid,
            syscalls::Sysno::bpf,
            syscalls::Sysno::perf_event_open,
            syscalls::Sysno::userfaultfd,
            syscalls::Sysno::io_uring_setup,
            syscalls::Sysno::mknodat,
            syscalls::Sysno::unlinkat,
            syscalls::Sysno::renameat2,
            syscalls::Sysno::symlinkat,
            syscalls::Sysno::linkat,
            syscalls::Sysno::mkdirat,
        ];
        for s in forbidden {
            assert!(
                !policy::RULES.iter().any(|r| r.sysno == s),
                "{s} is in the sentry's policy"
            );
        }
    }
}
