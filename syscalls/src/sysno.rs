// SPDX-License-Identifier: Apache-2.0
//! System call numbers of Linux x86_64 (generated from <asm/unistd_64.h>, plus the
//! numbers added since the 6.1 headers up to Linux 6.18).

/// A Linux x86_64 system call number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Sysno(pub u32);

#[allow(missing_docs, non_upper_case_globals)]
impl Sysno {
    pub const read: Sysno = Sysno(0);
    pub const write: Sysno = Sysno(1);
    pub const open: Sysno = Sysno(2);
    pub const close: Sysno = Sysno(3);
    pub const stat: Sysno = Sysno(4);
    pub const fstat: Sysno = Sysno(5);
    pub const lstat: Sysno = Sysno(6);
    pub const poll: Sysno = Sysno(7);
    pub const lseek: Sysno = Sysno(8);
    pub const mmap: Sysno = Sysno(9);
    pub const mprotect: Sysno = Sysno(10);
    pub const munmap: Sysno = Sysno(11);
    pub const brk: Sysno = Sysno(12);
    pub const rt_sigaction: Sysno = Sysno(13);
    pub const rt_sigprocmask: Sysno = Sysno(14);
    pub const rt_sigreturn: Sysno = Sysno(15);
    pub const ioctl: Sysno = Sysno(16);
    pub const pread64: Sysno = Sysno(17);
    pub const pwrite64: Sysno = Sysno(18);
    pub const readv: Sysno = Sysno(19);
    pub const writev: Sysno = Sysno(20);
    pub const access: Sysno = Sysno(21);
    pub const pipe: Sysno = Sysno(22);
    pub const select: Sysno = Sysno(23);
    pub const sched_yield: Sysno = Sysno(24);
    pub const mremap: Sysno = Sysno(25);
    pub const msync: Sysno = Sysno(26);
    pub const mincore: Sysno = Sysno(27);
    pub const madvise: Sysno = Sysno(28);
    pub const shmget: Sysno = Sysno(29);
    pub const shmat: Sysno = Sysno(30);
    pub const shmctl: Sysno = Sysno(31);
    pub const dup: Sysno = Sysno(32);
    pub const dup2: Sysno = Sysno(33);
    pub const pause: Sysno = Sysno(34);
    pub const nanosleep: Sysno = Sysno(35);
    pub const getitimer: Sysno = Sysno(36);
    pub const alarm: Sysno = Sysno(37);
    pub const setitimer: Sysno = Sysno(38);
    pub const getpid: Sysno = Sysno(39);
    pub const sendfile: Sysno = Sysno(40);
    pub const socket: Sysno = Sysno(41);
    pub const connect: Sysno = Sysno(42);
    pub const accept: Sysno = Sysno(43);
    pub const sendto: Sysno = Sysno(44);
    pub const recvfrom: Sysno = Sysno(45);
    pub const sendmsg: Sysno = Sysno(46);
    pub const recvmsg: Sysno = Sysno(47);
    pub const shutdown: Sysno = Sysno(48);
    pub const bind: Sysno = Sysno(49);
    pub const listen: Sysno = Sysno(50);
    pub const getsockname: Sysno = Sysno(51);
    pub const getpeername: Sysno = Sysno(52);
    pub const socketpair: Sysno = Sysno(53);
    pub const setsockopt: Sysno = Sysno(54);
    pub const getsockopt: Sysno = Sysno(55);
    pub const clone: Sysno = Sysno(56);
    pub const fork: Sysno = Sysno(57);
    pub const vfork: Sysno = Sysno(58);
    pub const execve: Sysno = Sysno(59);
    pub const exit: Sysno = Sysno(60);
    pub const wait4: Sysno = Sysno(61);
    pub const kill: Sysno = Sysno(62);
    pub const uname: Sysno = Sysno(63);
    pub const semget: Sysno = Sysno(64);
    pub const semop: Sysno = Sysno(65);
    pub const semctl: Sysno = Sysno(66);
    pub const shmdt: Sysno = Sysno(67);
    pub const msgget: Sysno = Sysno(68);
    pub const msgsnd: Sysno = Sysno(69);
    pub const msgrcv: Sysno = Sysno(70);
    pub const msgctl: Sysno = Sysno(71);
    pub const fcntl: Sysno = Sysno(72);
    pub const flock: Sysno = Sysno(73);
    pub const fsync: Sysno = Sysno(74);
    pub const fdatasync: Sysno = Sysno(75);
    pub const truncate: Sysno = Sysno(76);
    pub const ftruncate: Sysno = Sysno(77);
    pub const getdents: Sysno = Sysno(78);
    pub const getcwd: Sysno = Sysno(79);
    pub const chdir: Sysno = Sysno(80);
    pub const fchdir: Sysno = Sysno(81);
    pub const rename: Sysno = Sysno(82);
    pub const mkdir: Sysno = Sysno(83);
    pub const rmdir: Sysno = Sysno(84);
    pub const creat: Sysno = Sysno(85);
    pub const link: Sysno = Sysno(86);
    pub const unlink: Sysno = Sysno(87);
    pub const symlink: Sysno = Sysno(88);
    pub const readlink: Sysno = Sysno(89);
    pub const chmod: Sysno = Sysno(90);
    pub const fchmod: Sysno = Sysno(91);
    pub const chown: Sysno = Sysno(92);
    pub const fchown: Sysno = Sysno(93);
    pub const lchown: Sysno = Sysno(94);
    pub const umask: Sysno = Sysno(95);
    pub const gettimeofday: Sysno = Sysno(96);
    pub const getrlimit: Sysno = Sysno(97);
    pub const getrusage: Sysno = Sysno(98);
    pub const sysinfo: Sysno = Sysno(99);
    pub const times: Sysno = Sysno(100);
    pub const ptrace: Sysno = Sysno(101);
    pub const getuid: Sysno = Sysno(102);
    pub const syslog: Sysno = Sysno(103);
    pub const getgid: Sysno = Sysno(104);
    pub const setuid: Sysno = Sysno(105);
    pub const setgid: Sysno = Sysno(106);
    pub const geteuid: Sysno = Sysno(107);
    pub const getegid: Sysno = Sysno(108);
    pub const setpgid: Sysno = Sysno(109);
    pub const getppid: Sysno = Sysno(110);
    pub const getpgrp: Sysno = Sysno(111);
    pub const setsid: Sysno = Sysno(112);
    pub const setreuid: Sysno = Sysno(113);
    pub const setregid: Sysno = Sysno(114);
    pub const getgroups: Sysno = Sysno(115);
    pub const setgroups: Sysno = Sysno(116);
    pub const setresuid: Sysno = Sysno(117);
    pub const getresuid: Sysno = Sysno(118);
    pub const setresgid: Sysno = Sysno(119);
    pub const getresgid: Sysno = Sysno(120);
    pub const getpgid: Sysno = Sysno(121);
    pub const setfsuid: Sysno = Sysno(122);
    pub const setfsgid: Sysno = Sysno(123);
    pub const getsid: Sysno = Sysno(124);
    pub const capget: Sysno = Sysno(125);
    pub const capset: Sysno = Sysno(126);
    pub const rt_sigpending: Sysno = Sysno(127);
    pub const rt_sigtimedwait: Sysno = Sysno(128);
    pub const rt_sigqueueinfo: Sysno = Sysno(129);
    pub const rt_sigsuspend: Sysno = Sysno(130);
    pub const sigaltstack: Sysno = Sysno(131);
    pub const utime: Sysno = Sysno(132);
    pub const mknod: Sysno = Sysno(133);
    pub const uselib: Sysno = Sysno(134);
    pub const personality: Sysno = Sysno(135);
    pub const ustat: Sysno = Sysno(136);
    pub const statfs: Sysno = Sysno(137);
    pub const fstatfs: Sysno = Sysno(138);
    pub const sysfs: Sysno = Sysno(139);
    pub const getpriority: Sysno = Sysno(140);
    pub const setpriority: Sysno = Sysno(141);
    pub const sched_setparam: Sysno = Sysno(142);
    pub const sched_getparam: Sysno = Sysno(143);
    pub const sched_setscheduler: Sysno = Sysno(144);
    pub const sched_getscheduler: Sysno = Sysno(145);
    pub const sched_get_priority_max: Sysno = Sysno(146);
    pub const sched_get_priority_min: Sysno = Sysno(147);
    pub const sched_rr_get_interval: Sysno = Sysno(148);
    pub const mlock: Sysno = Sysno(149);
    pub const munlock: Sysno = Sysno(150);
    pub const mlockall: Sysno = Sysno(151);
    pub const munlockall: Sysno = Sysno(152);
    pub const vhangup: Sysno = Sysno(153);
    pub const modify_ldt: Sysno = Sysno(154);
    pub const pivot_root: Sysno = Sysno(155);
    pub const _sysctl: Sysno = Sysno(156);
    pub const prctl: Sysno = Sysno(157);
    pub const arch_prctl: Sysno = Sysno(158);
    pub const adjtimex: Sysno = Sysno(159);
    pub const setrlimit: Sysno = Sysno(160);
    pub const chroot: Sysno = Sysno(161);
    pub const sync: Sysno = Sysno(162);
    pub const acct: Sysno = Sysno(163);
    pub const settimeofday: Sysno = Sysno(164);
    pub const mount: Sysno = Sysno(165);
    pub const umount2: Sysno = Sysno(166);
    pub const swapon: Sysno = Sysno(167);
    pub const swapoff: Sysno = Sysno(168);
    pub const reboot: Sysno = Sysno(169);
    pub const sethostname: Sysno = Sysno(170);
    pub const setdomainname: Sysno = Sysno(171);
    pub const iopl: Sysno = Sysno(172);
    pub const ioperm: Sysno = Sysno(173);
    pub const create_module: Sysno = Sysno(174);
    pub const init_module: Sysno = Sysno(175);
    pub const delete_module: Sysno = Sysno(176);
    pub const get_kernel_syms: Sysno = Sysno(177);
    pub const query_module: Sysno = Sysno(178);
    pub const quotactl: Sysno = Sysno(179);
    pub const nfsservctl: Sysno = Sysno(180);
    pub const getpmsg: Sysno = Sysno(181);
    pub const putpmsg: Sysno = Sysno(182);
    pub const afs_syscall: Sysno = Sysno(183);
    pub const tuxcall: Sysno = Sysno(184);
    pub const security: Sysno = Sysno(185);
    pub const gettid: Sysno = Sysno(186);
    pub const readahead: Sysno = Sysno(187);
    pub const setxattr: Sysno = Sysno(188);
    pub const lsetxattr: Sysno = Sysno(189);
    pub const fsetxattr: Sysno = Sysno(190);
    pub const getxattr: Sysno = Sysno(191);
    pub const lgetxattr: Sysno = Sysno(192);
    pub const fgetxattr: Sysno = Sysno(193);
    pub const listxattr: Sysno = Sysno(194);
    pub const llistxattr: Sysno = Sysno(195);
    pub const flistxattr: Sysno = Sysno(196);
    pub const removexattr: Sysno = Sysno(197);
    pub const lremovexattr: Sysno = Sysno(198);
    pub const fremovexattr: Sysno = Sysno(199);
    pub const tkill: Sysno = Sysno(200);
    pub const time: Sysno = Sysno(201);
    pub const futex: Sysno = Sysno(202);
    pub const sched_setaffinity: Sysno = Sysno(203);
    pub const sched_getaffinity: Sysno = Sysno(204);
    pub const set_thread_area: Sysno = Sysno(205);
    pub const io_setup: Sysno = Sysno(206);
    pub const io_destroy: Sysno = Sysno(207);
    pub const io_getevents: Sysno = Sysno(208);
    pub const io_submit: Sysno = Sysno(209);
    pub const io_cancel: Sysno = Sysno(210);
    pub const get_thread_area: Sysno = Sysno(211);
    pub const lookup_dcookie: Sysno = Sysno(212);
    pub const epoll_create: Sysno = Sysno(213);
    pub const epoll_ctl_old: Sysno = Sysno(214);
    pub const epoll_wait_old: Sysno = Sysno(215);
    pub const remap_file_pages: Sysno = Sysno(216);
    pub const getdents64: Sysno = Sysno(217);
    pub const set_tid_address: Sysno = Sysno(218);
    pub const restart_syscall: Sysno = Sysno(219);
    pub const semtimedop: Sysno = Sysno(220);
    pub const fadvise64: Sysno = Sysno(221);
    pub const timer_create: Sysno = Sysno(222);
    pub const timer_settime: Sysno = Sysno(223);
    pub const timer_gettime: Sysno = Sysno(224);
    pub const timer_getoverrun: Sysno = Sysno(225);
    pub const timer_delete: Sysno = Sysno(226);
    pub const clock_settime: Sysno = Sysno(227);
    pub const clock_gettime: Sysno = Sysno(228);
    pub const clock_getres: Sysno = Sysno(229);
    pub const clock_nanosleep: Sysno = Sysno(230);
    pub const exit_group: Sysno = Sysno(231);
    pub const epoll_wait: Sysno = Sysno(232);
    pub const epoll_ctl: Sysno = Sysno(233);
    pub const tgkill: Sysno = Sysno(234);
    pub const utimes: Sysno = Sysno(235);
    pub const vserver: Sysno = Sysno(236);
    pub const mbind: Sysno = Sysno(237);
    pub const set_mempolicy: Sysno = Sysno(238);
    pub const get_mempolicy: Sysno = Sysno(239);
    pub const mq_open: Sysno = Sysno(240);
    pub const mq_unlink: Sysno = Sysno(241);
    pub const mq_timedsend: Sysno = Sysno(242);
    pub const mq_timedreceive: Sysno = Sysno(243);
    pub const mq_notify: Sysno = Sysno(244);
    pub const mq_getsetattr: Sysno = Sysno(245);
    pub const kexec_load: Sysno = Sysno(246);
    pub const waitid: Sysno = Sysno(247);
    pub const add_key: Sysno = Sysno(248);
    pub const request_key: Sysno = Sysno(249);
    pub const keyctl: Sysno = Sysno(250);
    pub const ioprio_set: Sysno = Sysno(251);
    pub const ioprio_get: Sysno = Sysno(252);
    pub const inotify_init: Sysno = Sysno(253);
    pub const inotify_add_watch: Sysno = Sysno(254);
    pub const inotify_rm_watch: Sysno = Sysno(255);
    pub const migrate_pages: Sysno = Sysno(256);
    pub const openat: Sysno = Sysno(257);
    pub const mkdirat: Sysno = Sysno(258);
    pub const mknodat: Sysno = Sysno(259);
    pub const fchownat: Sysno = Sysno(260);
    pub const futimesat: Sysno = Sysno(261);
    pub const newfstatat: Sysno = Sysno(262);
    pub const unlinkat: Sysno = Sysno(263);
    pub const renameat: Sysno = Sysno(264);
    pub const linkat: Sysno = Sysno(265);
    pub const symlinkat: Sysno = Sysno(266);
    pub const readlinkat: Sysno = Sysno(267);
    pub const fchmodat: Sysno = Sysno(268);
    pub const faccessat: Sysno = Sysno(269);
    pub const pselect6: Sysno = Sysno(270);
    pub const ppoll: Sysno = Sysno(271);
    pub const unshare: Sysno = Sysno(272);
    pub const set_robust_list: Sysno = Sysno(273);
    pub const get_robust_list: Sysno = Sysno(274);
    pub const splice: Sysno = Sysno(275);
    pub const tee: Sysno = Sysno(276);
    pub const sync_file_range: Sysno = Sysno(277);
    pub const vmsplice: Sysno = Sysno(278);
    pub const move_pages: Sysno = Sysno(279);
    pub const utimensat: Sysno = Sysno(280);
    pub const epoll_pwait: Sysno = Sysno(281);
    pub const signalfd: Sysno = Sysno(282);
    pub const timerfd_create: Sysno = Sysno(283);
    pub const eventfd: Sysno = Sysno(284);
    pub const fallocate: Sysno = Sysno(285);
    pub const timerfd_settime: Sysno = Sysno(286);
    pub const timerfd_gettime: Sysno = Sysno(287);
    pub const accept4: Sysno = Sysno(288);
    pub const signalfd4: Sysno = Sysno(289);
    pub const eventfd2: Sysno = Sysno(290);
    pub const epoll_create1: Sysno = Sysno(291);
    pub const dup3: Sysno = Sysno(292);
    pub const pipe2: Sysno = Sysno(293);
    pub const inotify_init1: Sysno = Sysno(294);
    pub const preadv: Sysno = Sysno(295);
    pub const pwritev: Sysno = Sysno(296);
    pub const rt_tgsigqueueinfo: Sysno = Sysno(297);
    pub const perf_event_open: Sysno = Sysno(298);
    pub const recvmmsg: Sysno = Sysno(299);
    pub const fanotify_init: Sysno = Sysno(300);
    pub const fanotify_mark: Sysno = Sysno(301);
    pub const prlimit64: Sysno = Sysno(302);
    pub const name_to_handle_at: Sysno = Sysno(303);
    pub const open_by_handle_at: Sysno = Sysno(304);
    pub const clock_adjtime: Sysno = Sysno(305);
    pub const syncfs: Sysno = Sysno(306);
    pub const sendmmsg: Sysno = Sysno(307);
    pub const setns: Sysno = Sysno(308);
    pub const getcpu: Sysno = Sysno(309);
    pub const process_vm_readv: Sysno = Sysno(310);
    pub const process_vm_writev: Sysno = Sysno(311);
    pub const kcmp: Sysno = Sysno(312);
    pub const finit_module: Sysno = Sysno(313);
    pub const sched_setattr: Sysno = Sysno(314);
    pub const sched_getattr: Sysno = Sysno(315);
    pub const renameat2: Sysno = Sysno(316);
    pub const seccomp: Sysno = Sysno(317);
    pub const getrandom: Sysno = Sysno(318);
    pub const memfd_create: Sysno = Sysno(319);
    pub const kexec_file_load: Sysno = Sysno(320);
    pub const bpf: Sysno = Sysno(321);
    pub const execveat: Sysno = Sysno(322);
    pub const userfaultfd: Sysno = Sysno(323);
    pub const membarrier: Sysno = Sysno(324);
    pub const mlock2: Sysno = Sysno(325);
    pub const copy_file_range: Sysno = Sysno(326);
    pub const preadv2: Sysno = Sysno(327);
    pub const pwritev2: Sysno = Sysno(328);
    pub const pkey_mprotect: Sysno = Sysno(329);
    pub const pkey_alloc: Sysno = Sysno(330);
    pub const pkey_free: Sysno = Sysno(331);
    pub const statx: Sysno = Sysno(332);
    pub const io_pgetevents: Sysno = Sysno(333);
    pub const rseq: Sysno = Sysno(334);
    pub const pidfd_send_signal: Sysno = Sysno(424);
    pub const io_uring_setup: Sysno = Sysno(425);
    pub const io_uring_enter: Sysno = Sysno(426);
    pub const io_uring_register: Sysno = Sysno(427);
    pub const open_tree: Sysno = Sysno(428);
    pub const move_mount: Sysno = Sysno(429);
    pub const fsopen: Sysno = Sysno(430);
    pub const fsconfig: Sysno = Sysno(431);
    pub const fsmount: Sysno = Sysno(432);
    pub const fspick: Sysno = Sysno(433);
    pub const pidfd_open: Sysno = Sysno(434);
    pub const clone3: Sysno = Sysno(435);
    pub const close_range: Sysno = Sysno(436);
    pub const openat2: Sysno = Sysno(437);
    pub const pidfd_getfd: Sysno = Sysno(438);
    pub const faccessat2: Sysno = Sysno(439);
    pub const process_madvise: Sysno = Sysno(440);
    pub const epoll_pwait2: Sysno = Sysno(441);
    pub const mount_setattr: Sysno = Sysno(442);
    pub const quotactl_fd: Sysno = Sysno(443);
    pub const landlock_create_ruleset: Sysno = Sysno(444);
    pub const landlock_add_rule: Sysno = Sysno(445);
    pub const landlock_restrict_self: Sysno = Sysno(446);
    pub const memfd_secret: Sysno = Sysno(447);
    pub const process_mrelease: Sysno = Sysno(448);
    pub const futex_waitv: Sysno = Sysno(449);
    pub const set_mempolicy_home_node: Sysno = Sysno(450);
    pub const fchmodat2: Sysno = Sysno(452);
    pub const map_shadow_stack: Sysno = Sysno(453);
    pub const futex_wake: Sysno = Sysno(454);
    pub const futex_wait: Sysno = Sysno(455);
    pub const futex_requeue: Sysno = Sysno(456);
    pub const statmount: Sysno = Sysno(457);
    pub const listmount: Sysno = Sysno(458);
    pub const lsm_get_self_attr: Sysno = Sysno(459);
    pub const lsm_set_self_attr: Sysno = Sysno(460);
    pub const lsm_list_modules: Sysno = Sysno(461);
    pub const mseal: Sysno = Sysno(462);
    pub const setxattrat: Sysno = Sysno(463);
    pub const getxattrat: Sysno = Sysno(464);
    pub const listxattrat: Sysno = Sysno(465);
    pub const removexattrat: Sysno = Sysno(466);
    pub const open_tree_attr: Sysno = Sysno(467);
    pub const file_getattr: Sysno = Sysno(468);
    pub const file_setattr: Sysno = Sysno(469);
}

/// One past the highest system call number this table knows.
pub const SYSNO_COUNT: usize = 470;

/// Names by number; `""` where x86_64 has no system call of that number.
pub static NAMES: [&str; SYSNO_COUNT] = [
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "select",
    "sched_yield",
    "mremap",
    "msync",
    "mincore",
    "madvise",
    "shmget",
    "shmat",
    "shmctl",
    "dup",
    "dup2",
    "pause",
    "nanosleep",
    "getitimer",
    "alarm",
    "setitimer",
    "getpid",
    "sendfile",
    "socket",
    "connect",
    "accept",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "shutdown",
    "bind",
    "listen",
    "getsockname",
    "getpeername",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "uname",
    "semget",
    "semop",
    "semctl",
    "shmdt",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "truncate",
    "ftruncate",
    "getdents",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "mkdir",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "lchown",
    "umask",
    "gettimeofday",
    "getrlimit",
    "getrusage",
    "sysinfo",
    "times",
    "ptrace",
    "getuid",
    "syslog",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setpgid",
    "getppid",
    "getpgrp",
    "setsid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "getpgid",
    "setfsuid",
    "setfsgid",
    "getsid",
    "capget",
    "capset",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_sigsuspend",
    "sigaltstack",
    "utime",
    "mknod",
    "uselib",
    "personality",
    "ustat",
    "statfs",
    "fstatfs",
    "sysfs",
    "getpriority",
    "setpriority",
    "sched_setparam",
    "sched_getparam",
    "sched_setscheduler",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "vhangup",
    "modify_ldt",
    "pivot_root",
    "_sysctl",
    "prctl",
    "arch_prctl",
    "adjtimex",
    "setrlimit",
    "chroot",
    "sync",
    "acct",
    "settimeofday",
    "mount",
    "umount2",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "create_module",
    "init_module",
    "delete_module",
    "get_kernel_syms",
    "query_module",
    "quotactl",
    "nfsservctl",
    "getpmsg",
    "putpmsg",
    "afs_syscall",
    "tuxcall",
    "security",
    "gettid",
    "readahead",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "tkill",
    "time",
    "futex",
    "sched_setaffinity",
    "sched_getaffinity",
    "set_thread_area",
    "io_setup",
    "io_destroy",
    "io_getevents",
    "io_submit",
    "io_cancel",
    "get_thread_area",
    "lookup_dcookie",
    "epoll_create",
    "epoll_ctl_old",
    "epoll_wait_old",
    "remap_file_pages",
    "getdents64",
    "set_tid_address",
    "restart_syscall",
    "semtimedop",
    "fadvise64",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "clock_settime",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "exit_group",
    "epoll_wait",
    "epoll_ctl",
    "tgkill",
    "utimes",
    "vserver",
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "kexec_load",
    "waitid",
    "add_key",
    "request_key",
    "keyctl",
    "ioprio_set",
    "ioprio_get",
    "inotify_init",
    "inotify_add_watch",
    "inotify_rm_watch",
    "migrate_pages",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "unshare",
    "set_robust_list",
    "get_robust_list",
    "splice",
    "tee",
    "sync_file_range",
    "vmsplice",
    "move_pages",
    "utimensat",
    "epoll_pwait",
    "signalfd",
    "timerfd_create",
    "eventfd",
    "fallocate",
    "timerfd_settime",
    "timerfd_gettime",
    "accept4",
    "signalfd4",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "inotify_init1",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "perf_event_open",
    "recvmmsg",
    "fanotify_init",
    "fanotify_mark",
    "prlimit64",
    "name_to_handle_at",
    "open_by_handle_at",
    "clock_adjtime",
    "syncfs",
    "sendmmsg",
    "setns",
    "getcpu",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "finit_module",
    "sched_setattr",
    "sched_getattr",
    "renameat2",
    "seccomp",
    "getrandom",
    "memfd_create",
    "kexec_file_load",
    "bpf",
    "execveat",
    "userfaultfd",
    "membarrier",
    "mlock2",
    "copy_file_range",
    "preadv2",
    "pwritev2",
    "pkey_mprotect",
    "pkey_alloc",
    "pkey_free",
    "statx",
    "io_pgetevents",
    "rseq",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "pidfd_send_signal",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pidfd_open",
    "clone3",
    "close_range",
    "openat2",
    "pidfd_getfd",
    "faccessat2",
    "process_madvise",
    "epoll_pwait2",
    "mount_setattr",
    "quotactl_fd",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "memfd_secret",
    "process_mrelease",
    "futex_waitv",
    "set_mempolicy_home_node",
    "",
    "fchmodat2",
    "map_shadow_stack",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "statmount",
    "listmount",
    "lsm_get_self_attr",
    "lsm_set_self_attr",
    "lsm_list_modules",
    "mseal",
    "setxattrat",
    "getxattrat",
    "listxattrat",
    "removexattrat",
    "open_tree_attr",
    "file_getattr",
    "file_setattr",
];
