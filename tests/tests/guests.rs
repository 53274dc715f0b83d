// SPDX-License-Identifier: Apache-2.0
//! The C guests of `tests/guests/`, each run natively (it must pass on Linux) and under the
//! sandbox (it must print the same transcript and exit the same way), static and dynamic.
//!
//! `cargo test -p tests native` validates the guests alone; `cargo test -p tests sandbox`
//! compares the sandbox against them.

tests::guest_tests! {
    // Files and descriptors.
    file_io,
    file_stat,
    dirs,
    fd_ops,
    pipes,
    fifos,
    seals,
    splice,
    xattrat,
    locks,
    devices,
    // Loop devices served by the sentry (issue 15).
    loop_dev,
    inotify,
    fanotify,
    // Processes, time, resources, signals.
    ids,
    // execve's credentials: set-id files, file capabilities, ambient ones (issue 14).
    exec_ids,
    // What writes, truncation and chown take away: set-id bits, file capabilities (issue 14).
    kill_privs,
    // ABI edges LTP found: CLONE_PIDFD, close_range UNSHARE, O_PATH refusals (issue 14).
    abi_edges,
    clocks,
    // Time namespaces: offsets, children, setns, clone3 (issue 14).
    timens,
    resources,
    signals,
    sched,
    // CPU affinity is the task's own and the platform follows it (issue 11).
    affinity,
    // Processes: signal delivery, faults, threads, fork/wait, exec, timers (issue 4).
    sig_delivery,
    sig_faults,
    threads,
    fork_wait,
    execve => |run: tests::Run| run.args([
        tests::guest("execve", tests::Linkage::Static),
        tests::guest("execve", tests::Linkage::Dynamic),
    ]),
    timers,
    // timerfd and POSIX message queues (issue 14).
    timerfd,
    mqueue,
    // preadv2/pwritev2 flags, epoll_pwait2, the old getdents (issue 14).
    rw_flags,
    // seccomp inside the sandbox: the program's own filters, run by the sentry (issue 14).
    seccomp_filter,
    // Memory.
    memory,
    // Memory locks, timer overruns, pidfd_send_signal on /proc dirs (issue 14).
    mlock,
    // System V IPC: message queues, semaphores, shared memory, /proc/sysvipc.
    sysv_ipc,
    // Keyrings: add_key, request_key, keyctl (issue 14).
    keys,
    // ptrace inside the sandbox: the sentry's own tracer/tracee emulation (issue 14).
    ptrace,
    // Linux AIO: io_setup, io_submit, io_getevents, io_pgetevents, io_cancel, io_destroy.
    aio,
    // sysfs, ustat, syslog and reboot (issue 14).
    machine,
    // Protection keys on a machine without them.
    pkeys,
    // futex_waitv, futex_wake, futex_wait, futex_requeue and their meeting with futex()
    // (issue 14).
    futex2,
    // The NUMA policy calls on one node, map_shadow_stack without shadow stacks, the LSM calls
    // (issue 14).
    numa,
    // mseal: sealed mappings.
    mseal,
    // Landlock: rulesets, domains and what they deny (issue 14).
    landlock,
    // setns by namespace file and by pidfd; mount namespaces joined and left (issue 14).
    setns,
    // Large reads and writes, in the sandbox straight between host files and memory.
    big_io => |run: tests::Run| {
        let dir = tests::workspace_root().join("target").join("big_io-volume");
        std::fs::create_dir_all(&dir).expect("making the volume directory");
        let d = dir.display().to_string();
        run.arg(&d).sandbox_option("-v").sandbox_option(format!("{d}:{d}"))
    },
    // Bad arguments everywhere.
    bad_pointers,
    // Mounts, chroot, pivot_root and file handles (issue 5).
    mounts,
    // The new mount API: fsopen/fsconfig/fsmount, move_mount, open_tree, mount_setattr, fspick,
    // statmount and listmount (issue 14).
    mount_api,
    // /proc/self/fd/N reopens the open file itself.
    magic_links,
    // Signal-driven I/O (O_ASYNC, F_SETOWN, F_SETSIG) on pipes.
    sigio,
    // Pseudo-terminals: O_ASYNC, flow control (IXON, IXANY, TCXONC), packet mode, drains,
    // TIOCNOTTY by a member and by the leader.
    ptys,
    // Opening files up to RLIMIT_NOFILE.
    fd_limit,
    // The network a program sees: loopback only (natively: new namespaces with lo up).
    net_config,
    // AF_UNIX sockets (issue 9): streams, datagrams and seqpackets, names, connections,
    // SCM_RIGHTS and credentials, readiness, buffer limits.
    unix_stream,
    unix_dgram,
    unix_names,
    unix_conn,
    unix_rights,
    unix_poll,
    unix_bufs,
    // Inet sockets on the sandbox's own network (issue 9): TCP, binding rules, UDP.
    inet_tcp,
    inet_bind,
    inet_udp,
    inet_opts,
    inet_poll,
    inet_ping,
    // Raw ICMPv6 sockets as ping -6 uses them (root natively; --net-raw in the sandbox).
    inet_raw6 => |run: tests::Run| run.sandbox_option("--net-raw"),
    // epoll beyond level-triggering: edges, one-shot, fairness, nesting.
    epoll_edge,
    // What a program sees at start-up: argv, environment, cwd, auxv, descriptors.
    startup => |run: tests::Run| run.args(["one", "two words", "", "ünï"]).cwd("/usr"),
}
