// SPDX-License-Identifier: Apache-2.0
//! The gofer: a separate, confined host process through which the sentry reaches host files
//! (DESIGN.md "Files", invariants 2 and 3; gVisor `runsc/fsgofer` and `pkg/lisafs`).
//!
//! The loader starts it ([`spawn`]) before the sentry starts its threads, as the `sandbox`
//! binary re-executed with the hidden `gofer` command; it confines itself ([`confine`],
//! [`filter`]) and then serves its exports over a unix SOCK_SEQPACKET socket with the protocol
//! of [`protocol`], which the sentry's client (`sentry::fsimpl::gofer`) shares.
#![deny(unsafe_code)]

pub mod confine;
pub mod filter;
pub mod fuzz;
pub(crate) mod host_unsafe;
pub mod protocol;
pub mod server;
pub mod spawn;

pub use confine::ExportSpec;

/// Gives back the resident pages an idle process does not need: the read-only segments of
/// the executable and its libraries (they stay in the page cache and fault back in when
/// used) and the allocator's free memory. The gofer calls it once it serves; the sandbox's
/// main thread once the program has run a second (both are the same binary, whose start-up
/// code and command line parser are most of what start-up leaves resident).
pub fn trim_resident() {
    host_unsafe::trim_resident();
}

/// Exit status of a gofer that could not start (its one-line reason is on stderr).
pub const EXIT_GOFER_FAILED: i32 = 125;

/// The gofer process's main: confine (`allow_weak`: see [`confine::confine`]), then serve the
/// socket at descriptor `fd` until the sentry closes it. `host_uds` (`--host-uds open`): also
/// connect host unix sockets for the sentry ([`protocol::Request::Connect`]). Returns the exit
/// status.
pub fn main(fd: i32, exports: &[ExportSpec], allow_weak: bool, host_uds: bool) -> i32 {
    let sock = match nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD) {
        Ok(_) => host_unsafe::own_fd(fd),
        Err(_) => {
            eprintln!("sandbox gofer: --fd {fd}: not an open descriptor");
            return EXIT_GOFER_FAILED;
        }
    };
    let _ = nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let confined = match confine::confine(exports, allow_weak) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sandbox gofer: {e}");
            return EXIT_GOFER_FAILED;
        }
    };
    // A weaker confinement is always said; the other notes only when asked.
    if allow_weak || std::env::var_os("SANDBOX_GOFER_DEBUG").is_some() {
        for n in &confined.notes {
            eprintln!("sandbox gofer: {n}");
        }
    }
    // Host sockets are connected by the name of a held descriptor relative to the working
    // directory, /proc/self/fd (connect(2) takes no directory descriptor): set once, here,
    // while the gofer has one thread; nothing else it does resolves a relative path.
    let host_uds = host_uds
        && match &confined.proc_fds {
            Some(p) => match nix::unistd::fchdir(std::os::fd::AsRawFd::as_raw_fd(p)) {
                Ok(()) => true,
                Err(e) => {
                    eprintln!("sandbox gofer: --host-uds open: no /proc/self/fd ({e}): refused");
                    false
                }
            },
            None => {
                eprintln!("sandbox gofer: --host-uds open: no /proc/self/fd: refused");
                false
            }
        };
    let server = server::Server::new(confined.exports, confined.proc_fds, host_uds);
    if let Err(e) = filter::install(host_uds) {
        eprintln!("sandbox gofer: {e}");
        return EXIT_GOFER_FAILED;
    }
    trim_resident();
    server.serve(sock);
    0
}

#[cfg(test)]
mod tests {
    /// Only pages the process can fault in again go: the relocated data (RELRO), the heap
    /// and the stack stay, so everything still runs and reads the same afterwards.
    #[test]
    fn trimming_keeps_the_process_whole() {
        static TABLE: &[&str] = &["relocated", "pointers", "in", "read-only", "data"];
        let heap: Vec<u64> = (0..100_000).collect();
        super::trim_resident();
        assert_eq!(TABLE.join(" "), "relocated pointers in read-only data");
        assert_eq!(heap.iter().sum::<u64>(), 4_999_950_000);
        let f: fn(u64) -> u64 = |x| x * 3;
        assert_eq!(f(14), 42);
        assert!(format!("{:?}", std::thread::current().id()).starts_with("ThreadId"));
    }
}
