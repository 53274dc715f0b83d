//! A runner for the Linux Test Project under the sandbox, with native results beside and a
//! list of expected results that only ever gets shorter. See `ltp/README.md`.

pub mod classify;
pub mod expected;
pub mod leftovers;
pub mod policy;
pub mod procs;
pub mod report;
pub mod runner;
pub mod runtest;
