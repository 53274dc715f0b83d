// SPDX-License-Identifier: Apache-2.0
//! The sentry: the sandbox's kernel.
//!
//! Every system call an application makes is caught by a [`platform`] and serviced here, by
//! the [`syscalls`] table acting on the sentry's own objects: tasks ([`kernel`]), address
//! spaces ([`mm`]), files ([`vfs`], [`fsimpl`]). See DESIGN.md for the map and the invariants.
#![deny(unsafe_code)]

pub mod confine;
pub mod elf;
pub mod fsimpl;
pub mod host;
pub mod ipc;
pub mod kernel;
pub mod limits;
pub mod mm;
pub mod net;
pub mod platform;
pub mod syscalls;
pub mod vfs;
