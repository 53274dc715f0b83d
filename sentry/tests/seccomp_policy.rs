// SPDX-License-Identifier: Apache-2.0
//! The sentry's seccomp policy, rule by rule, as Firecracker tests its filters
//! (`test_seccomp_validate.py`): a child process installs the compiled filter of a role and
//! makes one system call. Every allowed form must not be killed (its arguments are chosen so
//! that the kernel then refuses it harmlessly: a bad descriptor, a bad pointer); every
//! forbidden one must kill the child with SIGSYS.

use sentry::confine::policy::{self, Roles, Rule};
use sentry::confine::{allow_list, clone3_enosys, Options};
use syscalls::Sysno;

/// How a child that made one call under a filter ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// It returned from the call (the value, or -errno) and exited normally.
    Returned(i64),
    /// The filter killed it.
    Sigsys,
    /// Something else (the call itself exited or crashed the child: exit, rt_sigreturn).
    Other(i32),
}

/// Forks a child that installs `filters` and makes `nr(args)`; the child reports the call's
/// raw result through a pipe.
fn call_under(filters: &[seccompiler::BpfProgram], nr: Sysno, args: [u64; 6]) -> End {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child makes only raw system calls (no allocation, no locks) and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        for f in filters {
            if seccompiler::apply_filter(f).is_err() {
                // SAFETY: exiting the child.
                unsafe { libc::_exit(100) };
            }
        }
        // SAFETY: the call under test; its arguments make the kernel refuse it harmlessly.
        let r = unsafe {
            libc::syscall(
                i64::from(nr.0),
                args[0],
                args[1],
                args[2],
                args[3],
                args[4],
                args[5],
            )
        };
        let r = if r < 0 {
            // SAFETY: reading errno of this thread.
            -i64::from(unsafe { *libc::__errno_location() })
        } else {
            r
        };
        let bytes = r.to_le_bytes();
        // SAFETY: writing 8 bytes from a live array to the pipe, then exiting.
        unsafe {
            libc::write(fds[1], bytes.as_ptr().cast(), 8);
            libc::_exit(0);
        }
    }
    // SAFETY: closing the parent's copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let mut buf = [0u8; 8];
    // SAFETY: reading up to 8 bytes into a live buffer.
    let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 8) };
    // SAFETY: closing the read end.
    unsafe { libc::close(fds[0]) };
    if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS {
        End::Sigsys
    } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 && n == 8 {
        End::Returned(i64::from_le_bytes(buf))
    } else {
        End::Other(status)
    }
}

fn filters(role: Roles, host_network: bool) -> Vec<seccompiler::BpfProgram> {
    filters_with(
        role,
        Options {
            host_network,
            host_uds: false,
            control: false,
        },
    )
}

fn filters_with(role: Roles, opts: Options) -> Vec<seccompiler::BpfProgram> {
    vec![
        allow_list(policy::ALL, opts).expect("the base filter"),
        clone3_enosys().expect("the clone3 filter"),
        allow_list(role, opts).expect("the role's filter"),
    ]
}

/// Arguments that satisfy `rule`'s conditions and make the call fail harmlessly: descriptors
/// and pointers are -1 unless a condition fixes them.
fn harmless_args(rule: &Rule) -> [u64; 6] {
    let mut a = [u64::MAX; 6];
    match rule.sysno {
        // A live process must not be signalled: a pid no process has.
        Sysno::kill => a = [0x3fff_fff0, 0, 0, 0, 0, 0],
        Sysno::tgkill => a = [0x3fff_fff0, 0x3fff_fff0, 0, 0, 0, 0],
        // exit and exit_group end the child: status 0 is then "returned".
        Sysno::exit | Sysno::exit_group => a = [0; 6],
        // The only flags the thread rule allows that the kernel refuses: CLONE_VM|CLONE_THREAD
        // without CLONE_SIGHAND; the process rule: CLONE_SIGHAND without CLONE_VM.
        Sysno::clone => {}
        // Blocking calls with a zero timeout or a bad pointer.
        Sysno::clock_nanosleep | Sysno::nanosleep => {}
        _ => {}
    }
    for c in rule.conds {
        // An inequality holds for the default -1 (the rules compare ints below 2^31 - 1).
        if c.not {
            assert_ne!(a[usize::from(c.arg)] as u32, c.value as u32);
            continue;
        }
        let i = usize::from(c.arg);
        a[i] = (a[i] & !c.mask) | c.value;
    }
    if rule.sysno == Sysno::clone {
        let thread = rule.conds.iter().any(|c| c.value & 0x10000 != 0);
        a[0] = if thread { 0x10100 } else { 0x800 };
    }
    if rule.sysno == Sysno::prctl && rule.conds.first().is_some_and(|c| c.value == 38) {
        // PR_SET_NO_NEW_PRIVS, 1: it succeeds (and is harmless).
        a[2..].fill(0);
    }
    a
}

#[test]
fn every_allowed_form_passes_its_roles_filter() {
    let mut failures = Vec::new();
    for (net, uds, control) in [
        (false, false, false),
        (true, false, false),
        (false, true, false),
        (false, false, true),
    ] {
        let opts = Options {
            host_network: net,
            host_uds: uds,
            control,
        };
        let extra: &[Rule] = if net { policy::NETWORK_RULES } else { &[] };
        let uds_rules: &[Rule] = if uds { policy::HOST_UDS_RULES } else { &[] };
        let control_rules: &[Rule] = if control { policy::CONTROL_RULES } else { &[] };
        for rule in policy::RULES
            .iter()
            .chain(extra)
            .chain(uds_rules)
            .chain(control_rules)
        {
            // TRACEME would make this test process the child's tracer: its filter decision
            // is checked on its own below.
            if rule.sysno == Sysno::ptrace && rule.conds.first().is_some_and(|c| c.value == 0) {
                continue;
            }
            for bit in 0..6 {
                let role: Roles = 1 << bit;
                if rule.roles & role == 0 {
                    continue;
                }
                let args = harmless_args(rule);
                let end = call_under(&filters_with(role, opts), rule.sysno, args);
                if end == End::Sigsys {
                    failures.push(format!(
                        "{} (role {role:#x}, network {net}, host uds {uds}): {} -> killed",
                        rule.sysno, rule.why
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn raw_headers_and_icmp_filters_cannot_be_set_on_the_network() {
    // The ICMP channel may be a raw socket: its IP header stays the host's (IP_HDRINCL,
    // IPV6_HDRINCL) and its receive filter stays as start-up set it (SOL_RAW, SOL_ICMPV6),
    // whatever the upper half of the `int` arguments says.
    let task = filters(policy::TASK, true);
    let bad = u64::MAX;
    for (level, name, what) in [
        (0u64, 3u64, "IP_HDRINCL"),
        (
            0x1_0000_0000,
            3,
            "IP_HDRINCL with the level's upper half set",
        ),
        (
            0,
            0x7_0000_0003,
            "IP_HDRINCL with the name's upper half set",
        ),
        (41, 36, "IPV6_HDRINCL"),
        (255, 1, "ICMP_FILTER"),
        (0xffff_ffff_0000_00ff, 1, "SOL_RAW with the upper half set"),
        (58, 1, "ICMPV6_FILTER"),
    ] {
        let end = call_under(&task, Sysno::setsockopt, [bad, level, name, 0, 0, 0]);
        assert_eq!(end, End::Sigsys, "setsockopt {what}");
    }
    // Other options at those levels, and other levels, pass.
    for (level, name) in [(0u64, 1u64), (41, 26), (1, 2), (6, 1)] {
        let end = call_under(&task, Sysno::setsockopt, [bad, level, name, 0, 0, 0]);
        assert_ne!(end, End::Sigsys, "setsockopt level {level} name {name}");
    }
}

#[test]
fn forbidden_calls_kill_with_sigsys() {
    let task = filters(policy::TASK, false);
    let path = c"/".as_ptr() as u64;
    // Each case is harmless even if it were allowed: no live pid, no real descriptor, invalid
    // flag combinations, a bad pointer.
    let nobody = 0x3fff_fff0u64;
    let bad = u64::MAX;
    let cases: &[(Sysno, [u64; 6], &str)] = &[
        (
            Sysno::openat,
            [(-100i64) as u64, path, 0, 0, 0, 0],
            "opening a host path",
        ),
        (Sysno::open, [path, 0, 0, 0, 0, 0], "opening a host path"),
        (
            Sysno::openat2,
            [(-100i64) as u64, path, bad, 0, 0, 0],
            "opening a host path",
        ),
        (
            Sysno::execve,
            [path, 0, 0, 0, 0, 0],
            "executing a host file",
        ),
        (Sysno::execveat, [3, path, 0, 0, 0, 0], "executing by path"),
        (
            Sysno::socket,
            [2, 1, 0, 0, 0, 0],
            "a socket without a network",
        ),
        (
            Sysno::connect,
            [bad, 0, 0, 0, 0, 0],
            "a connection without a network",
        ),
        (Sysno::mount, [bad, bad, bad, 0, bad, 0], "mounting"),
        (Sysno::unshare, [0x2_0000, 0, 0, 0, 0, 0], "a new namespace"),
        (Sysno::setns, [bad, 0, 0, 0, 0, 0], "another namespace"),
        (Sysno::ptrace, [16, nobody, 0, 0, 0, 0], "PTRACE_ATTACH"),
        (
            Sysno::ptrace,
            [0x4206 + 100, nobody, 0, 0, 0, 0],
            "an unknown ptrace request",
        ),
        (
            Sysno::clone,
            [0x1000_0800, 0, 0, 0, 0, 0],
            "clone into a new user namespace",
        ),
        (
            Sysno::clone,
            [0x2000 | 0x800, 0, 0, 0, 0, 0],
            "CLONE_PTRACE",
        ),
        (Sysno::seccomp, [1, 1, 0, 0, 0, 0], "seccomp with TSYNC"),
        (Sysno::prctl, [4, 1, 0, 0, 0, 0], "PR_SET_DUMPABLE"),
        (Sysno::ioctl, [bad, 0x5412, 0, 0, 0, 0], "TIOCSTI"),
        (Sysno::fcntl, [bad, 8, 0, 0, 0, 0], "F_SETOWN"),
        (Sysno::statx, [bad, path, 0, 0, bad, 0], "statx of a path"),
        (
            Sysno::newfstatat,
            [bad, path, bad, 0, 0, 0],
            "stat of a path",
        ),
        (
            Sysno::socketpair,
            [2, 1, 0, bad, 0, 0],
            "an inet socket pair",
        ),
        (Sysno::setuid, [bad, 0, 0, 0, 0, 0], "changing host ids"),
        (Sysno::bpf, [bad, 0, 0, 0, 0, 0], "bpf"),
        (Sysno::userfaultfd, [bad, 0, 0, 0, 0, 0], "userfaultfd"),
        (Sysno::io_uring_setup, [0, bad, 0, 0, 0, 0], "io_uring"),
        (
            Sysno::unlinkat,
            [bad, bad, 0, 0, 0, 0],
            "changing host files",
        ),
        (Sysno::kexec_load, [0, 0, 0, bad, 0, 0], "kexec"),
        // The systrap platform's calls, in the forms it never makes.
        (
            Sysno::kcmp,
            [nobody, nobody, 1, 0, 0, 0],
            "kcmp of anything but files (KCMP_VM)",
        ),
        (
            Sysno::pidfd_send_signal,
            [bad, 15, 0, 0, 0, 0],
            "a pidfd signal other than SIGKILL",
        ),
        (
            Sysno::pidfd_send_signal,
            [bad, 9, bad, 0, 0, 0],
            "a pidfd signal with a forged siginfo",
        ),
        (
            Sysno::waitid,
            [0, 0, bad, 4, 0, 0],
            "waitid for any child (P_ALL)",
        ),
        (
            Sysno::waitid,
            [1, nobody, bad, 4, 0, 0],
            "waitid by pid (P_PID)",
        ),
        (
            Sysno::pidfd_open,
            [nobody, 1, 0, 0, 0, 0],
            "a pidfd with flags (PIDFD_THREAD)",
        ),
        (
            Sysno::pidfd_getfd,
            [bad, bad, 1, 0, 0, 0],
            "pidfd_getfd with flags",
        ),
    ];
    for (nr, args, what) in cases {
        assert_eq!(
            call_under(&task, *nr, *args),
            End::Sigsys,
            "{nr} ({what}) was not killed"
        );
    }
}

#[test]
fn clone3_is_refused_with_enosys() {
    let end = call_under(&filters(policy::TASK, false), Sysno::clone3, [0; 6]);
    assert_eq!(end, End::Returned(-i64::from(libc::ENOSYS)));
}

#[test]
fn network_rules_only_with_a_host_network() {
    let with = filters(policy::TASK, true);
    assert_eq!(
        call_under(&with, Sysno::socket, [u64::MAX, 0, 0, 0, 0, 0]),
        End::Returned(-i64::from(libc::EAFNOSUPPORT))
    );
    let without = filters(policy::TASK, false);
    assert_eq!(
        call_under(&without, Sysno::socket, [u64::MAX, 0, 0, 0, 0, 0]),
        End::Sigsys
    );
}

#[test]
fn host_uds_rules_only_with_host_uds() {
    let uds = filters_with(
        policy::TASK,
        Options {
            host_network: false,
            host_uds: true,
            control: false,
        },
    );
    assert_eq!(
        call_under(&uds, Sysno::shutdown, [u64::MAX, 1, 0, 0, 0, 0]),
        End::Returned(-i64::from(libc::EBADF))
    );
    assert_eq!(
        call_under(&uds, Sysno::epoll_ctl, [u64::MAX, 2, u64::MAX, 0, 0, 0]),
        End::Returned(-i64::from(libc::EBADF))
    );
    // The gofer connects host unix sockets: the sentry still makes and connects none.
    for (nr, args) in [
        (Sysno::socket, [1u64, 1, 0, 0, 0, 0]),
        (Sysno::connect, [u64::MAX, 0, 0, 0, 0, 0]),
        (Sysno::bind, [u64::MAX, 0, 0, 0, 0, 0]),
        (Sysno::accept4, [u64::MAX, 0, 0, 0, 0, 0]),
        (Sysno::getsockopt, [u64::MAX, 1, 4, 0, 0, 0]),
    ] {
        assert_eq!(
            call_under(&uds, nr, args),
            End::Sigsys,
            "{nr} with --host-uds"
        );
    }
    // Without it, no shutdown or epoll.
    let none = filters(policy::TASK, false);
    for (nr, args) in [
        (Sysno::shutdown, [u64::MAX, 1, 0, 0, 0, 0]),
        (Sysno::epoll_create1, [0u64, 0, 0, 0, 0, 0]),
    ] {
        assert_eq!(call_under(&none, nr, args), End::Sigsys, "{nr} without");
    }
    // Another role may not use them.
    let timers = filters_with(
        policy::TIMERS,
        Options {
            host_network: false,
            host_uds: true,
            control: false,
        },
    );
    assert_eq!(
        call_under(&timers, Sysno::shutdown, [u64::MAX, 1, 0, 0, 0, 0]),
        End::Sigsys
    );
}

#[test]
fn a_role_keeps_to_its_own_rules() {
    // The timer thread may not drive stubs, the watcher may not read application memory, the
    // main thread may not fork: each is killed for a call the task threads may make.
    let cases = [
        (policy::TIMERS, Sysno::ptrace, [7u64, u64::MAX, 0, 0, 0, 0]),
        (
            policy::WATCH,
            Sysno::process_vm_readv,
            [u64::MAX, 0, 0, 0, 0, 0],
        ),
        (
            policy::SIGNALS,
            Sysno::memfd_create,
            [u64::MAX, 0, 0, 0, 0, 0],
        ),
        (policy::MAIN, Sysno::clone, [0x800, 0, 0, 0, 0, 0]),
        (policy::MAIN, Sysno::sendmsg, [u64::MAX, 0, 0, 0, 0, 0]),
        // The systrap keeper thread (main role) may not reach into stubs.
        (
            policy::MAIN,
            Sysno::pidfd_getfd,
            [u64::MAX, u64::MAX, 0, 0, 0, 0],
        ),
        (
            policy::MAIN,
            Sysno::kcmp,
            [0x3fff_fff0, 0x3fff_fff0, 0, 0, 0, 0],
        ),
        (
            policy::TIMERS,
            Sysno::pidfd_send_signal,
            [u64::MAX, 9, 0, 0, 0, 0],
        ),
    ];
    for (role, nr, args) in cases {
        assert_eq!(
            call_under(&filters(role, false), nr, args),
            End::Sigsys,
            "{nr} in role {role:#x}"
        );
        assert_ne!(
            call_under(&filters(policy::TASK, false), nr, args),
            End::Sigsys,
            "{nr} for a task thread"
        );
    }
}

#[test]
fn traceme_is_allowed_for_a_new_stub() {
    // The child asks to be traced by this thread, then exits: the exit is reported as usual.
    let end = call_under(&filters(policy::TASK, false), Sysno::ptrace, [0; 6]);
    assert_eq!(end, End::Returned(0));
}

/// An OCI container's control thread may accept the runtime's connections; nothing else may,
/// and no sandbox without a control socket has accept4 at all (under `--network none`).
#[test]
fn only_the_control_socket_brings_accept4() {
    let with = |control| Options {
        host_network: false,
        host_uds: false,
        control,
    };
    let accept = [u64::MAX, 0, 0, 0, 0, 0];
    assert_eq!(
        call_under(
            &filters_with(policy::CONTROL, with(true)),
            Sysno::accept4,
            accept
        ),
        End::Returned(-i64::from(libc::EBADF))
    );
    for role in [policy::TASK, policy::MAIN, policy::SIGNALS] {
        assert_eq!(
            call_under(&filters_with(role, with(true)), Sysno::accept4, accept),
            End::Sigsys,
            "role {role:#x}"
        );
    }
    assert_eq!(
        call_under(
            &filters_with(policy::ALL, with(false)),
            Sysno::accept4,
            accept
        ),
        End::Sigsys
    );
}
