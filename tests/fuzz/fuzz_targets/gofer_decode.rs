// SPDX-License-Identifier: Apache-2.0
//! The gofer protocol's decoders (`gofer::fuzz::fuzz_gofer_decode`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gofer::fuzz::fuzz_gofer_decode(data));
