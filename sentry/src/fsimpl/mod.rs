// SPDX-License-Identifier: Apache-2.0
//! File system implementations: tmpfs, overlay, the gofer-backed host file system, devices,
//! pipes and synthetic directories.

pub mod dev;
pub mod gofer;
pub mod host;
pub(crate) mod host_unsafe;
pub mod loopdev;
pub mod mqueue;
pub mod overlay;
pub mod pipe;
pub mod proc;
pub mod setup;
pub mod synthetic;
pub mod sys;
pub mod tmpfs;
pub mod tty;
pub mod vfat;
mod vfat_unsafe;
pub mod view;
