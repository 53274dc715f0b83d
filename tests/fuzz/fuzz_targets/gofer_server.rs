// SPDX-License-Identifier: Apache-2.0
//! A hostile sentry's messages to a real gofer server (`gofer::fuzz::fuzz_gofer_server`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gofer::fuzz::fuzz_gofer_server(data));
