// SPDX-License-Identifier: Apache-2.0
//! The one `unsafe` of the vfat file system: a `fatfs` volume may move between threads.
#![allow(unsafe_code)]

/// A `fatfs` volume, movable between threads (see the SAFETY note).
pub(crate) struct Volume<D: fatfs::ReadWriteSeek>(pub fatfs::FileSystem<D>);

// SAFETY: `FileSystem<D>` is not `Send` only because its options hold `&'static dyn
// TimeProvider` and `&'static dyn OemCpConverter` without a `Sync` bound. The vfat module gives
// it its `UTC` provider, a unit struct, and keeps fatfs's `LOSSY_OEM_CP_CONVERTER`, a stateless
// static: neither has state another thread could race on. Everything else in it (RefCells,
// Cells, the disk `D`, itself `Send`) is owned data, and the volume is only ever used under the
// mount's lock, by one thread at a time.
unsafe impl<D: fatfs::ReadWriteSeek + Send> Send for Volume<D> {}
