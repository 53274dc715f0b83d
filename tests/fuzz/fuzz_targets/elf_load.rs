// SPDX-License-Identifier: Apache-2.0
//! The ELF loader (`sentry::elf::fuzz::fuzz_elf_load`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sentry::elf::fuzz::fuzz_elf_load(data));
