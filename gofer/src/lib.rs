// SPDX-License-Identifier: Apache-2.0
//! The gofer: a separate, confined host process through which the sentry reaches host files.
//!
//! Not built yet: until the files issue lands, the sentry's host file system
//! (`sentry::fsimpl::host`) opens host files itself behind the VFS trait, so that the gofer
//! client can replace it without touching any caller. See DESIGN.md "Files".
#![deny(unsafe_code)]
