// SPDX-License-Identifier: Apache-2.0
//! File system implementations: the host view, devices, pipes and synthetic directories.

pub mod dev;
pub mod host;
pub(crate) mod host_unsafe;
pub mod pipe;
pub mod synthetic;
pub mod tmpfs;
