//! Differential test harness.
