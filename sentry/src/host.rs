// SPDX-License-Identifier: Apache-2.0
//! Small facts about the host the sentry runs on.
#![allow(unsafe_code)]

/// getauxval(3) of the sentry itself: the host's AT_HWCAP and AT_HWCAP2, which describe the CPU
/// the application runs on too.
pub fn hwcap(key: u64) -> u64 {
    // SAFETY: getauxval takes an integer and reads the process's own auxiliary vector.
    unsafe { libc::getauxval(key) }
}

/// The CPU the calling thread runs on (its stub thread is pinned to the same one).
pub fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu takes no arguments.
    let c = unsafe { libc::sched_getcpu() };
    c.max(0) as u32
}
