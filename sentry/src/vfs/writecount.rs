// SPDX-License-Identifier: Apache-2.0
//! Who may write a file that runs, and who may run a file open for writing: Linux's
//! `i_writecount`. A regular file opened for writing counts as a writer until its description
//! goes ([`WriteAccess`], held by the [`super::File`]); an executable image denies writes for
//! as long as an address space runs it ([`DenyWrite`], held by the memory manager and copied
//! by fork). Either refuses the other with ETXTBSY: an open for writing (or a truncate by path)
//! of a running program, an execve of a file open for writing.
//!
//! Files are told apart by (st_dev, st_ino) as the sandbox shows them; the table holds only
//! files with a count, so it is bounded by the open descriptions and the running images.

use std::collections::BTreeMap;
use std::sync::Mutex;

use syscalls::Errno;

/// (st_dev, st_ino).
pub type Key = (u64, u64);

/// Positive: writers; negative: running images.
fn table() -> std::sync::MutexGuard<'static, BTreeMap<Key, i64>> {
    static T: Mutex<BTreeMap<Key, i64>> = Mutex::new(BTreeMap::new());
    crate::kernel::lock(&T)
}

fn add(key: Key, d: i64) {
    let mut t = table();
    let c = t.entry(key).or_insert(0);
    *c += d;
    if *c == 0 {
        t.remove(&key);
    }
}

/// A writer of a file (Linux's get_write_access); gone with the value.
#[derive(Debug)]
pub struct WriteAccess(Key);

/// Counts a writer of `key`: ETXTBSY while the file runs.
pub fn get_write_access(key: Key) -> Result<WriteAccess, Errno> {
    let mut t = table();
    let c = t.entry(key).or_insert(0);
    if *c < 0 {
        return Err(Errno::ETXTBSY);
    }
    *c += 1;
    Ok(WriteAccess(key))
}

impl Drop for WriteAccess {
    fn drop(&mut self) {
        add(self.0, -1);
    }
}

/// A running image of a file (Linux's deny_write_access); gone with the value.
#[derive(Debug)]
pub struct DenyWrite(Key);

/// Counts a running image of `key`: ETXTBSY while the file is open for writing.
pub fn deny_write_access(key: Key) -> Result<DenyWrite, Errno> {
    let mut t = table();
    let c = t.entry(key).or_insert(0);
    if *c > 0 {
        return Err(Errno::ETXTBSY);
    }
    *c -= 1;
    Ok(DenyWrite(key))
}

impl Clone for DenyWrite {
    /// A forked address space runs the image too.
    fn clone(&self) -> Self {
        add(self.0, -1);
        DenyWrite(self.0)
    }
}

impl Drop for DenyWrite {
    fn drop(&mut self) {
        add(self.0, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_and_images_exclude_each_other() {
        let k = (u64::MAX, 1);
        let w = get_write_access(k);
        assert!(w.is_ok());
        assert_eq!(deny_write_access(k).err(), Some(Errno::ETXTBSY));
        drop(w);
        let Ok(d) = deny_write_access(k) else {
            panic!("no writer left, yet the image is refused");
        };
        let d2 = d.clone();
        assert_eq!(get_write_access(k).err(), Some(Errno::ETXTBSY));
        drop(d);
        assert_eq!(get_write_access(k).err(), Some(Errno::ETXTBSY));
        drop(d2);
        assert!(get_write_access(k).is_ok());
        assert!(table().get(&k).is_none(), "no entry left behind");
    }
}
