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
    devices,
    // Processes, time, resources, signals.
    ids,
    clocks,
    resources,
    signals,
    // Memory.
    memory,
    // Bad arguments everywhere.
    bad_pointers,
    // What a program sees at start-up: argv, environment, cwd, auxv, descriptors.
    startup => |run: tests::Run| run.args(["one", "two words", "", "ünï"]).cwd("/usr"),
}
