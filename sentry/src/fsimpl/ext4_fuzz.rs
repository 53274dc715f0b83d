// SPDX-License-Identifier: Apache-2.0
//! The ext2/3/4 driver's fuzz target: [`run_image`] mounts any bytes as an ext image (in
//! memory, through the same super-block check and request budget as a mount in the sandbox,
//! see [`super::ext4`]) and does what a program would: walks the tree, stats, reads files and
//! symlinks, lists xattrs, creates, writes, renames, truncates and removes files, syncs and
//! unmounts. It must never panic, hang or allocate without bound. Driven by
//! `tests/tests/fuzz_targets.rs` (`ext4-image`), from images mkfs.ext4/ext3/ext2 make.

use rsext4::{
    BlockIo, DeviceCapabilities, DeviceGeometry, DirectoryCursor, Ext4, Ext4Error, Ext4ErrorKind,
    Ext4Result, Ext4Timestamp, FileName, FilePermissions, InodeNumber, MountOptions, MountServices,
    MountedServices, MutationContext, NoopObserver, RenameOptions, SectorId,
};

/// An image in memory, with a request budget.
struct Mem {
    data: Vec<u8>,
    budget: u64,
}

impl Mem {
    fn range(&mut self, sector: SectorId, len: usize) -> Ext4Result<std::ops::Range<usize>> {
        if self.budget == 0 {
            return Err(Ext4Error::new(Ext4ErrorKind::Io));
        }
        self.budget -= 1;
        let start = usize::try_from(sector.raw())
            .ok()
            .and_then(|s| s.checked_mul(512))
            .ok_or_else(|| Ext4Error::new(Ext4ErrorKind::Io))?;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| Ext4Error::new(Ext4ErrorKind::Io))?;
        Ok(start..end)
    }
}

impl BlockIo for Mem {
    fn write(&mut self, buffer: &[u8], sector: SectorId, _count: u32) -> Ext4Result<()> {
        let r = self.range(sector, buffer.len())?;
        self.data[r].copy_from_slice(buffer);
        Ok(())
    }

    fn read(&mut self, buffer: &mut [u8], sector: SectorId, _count: u32) -> Ext4Result<()> {
        let r = self.range(sector, buffer.len())?;
        buffer.copy_from_slice(&self.data[r]);
        Ok(())
    }

    fn geometry(&self) -> DeviceGeometry {
        DeviceGeometry::new(512, self.data.len() as u64 / 512)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities {
            flush: true,
            ..DeviceCapabilities::default()
        }
    }

    fn flush(&mut self) -> Ext4Result<()> {
        Ok(())
    }
}

struct Clock;

impl rsext4::Clock for Clock {
    fn now(&self) -> Ext4Result<Ext4Timestamp> {
        Ok(Ext4Timestamp::new(1_700_000_000, 0))
    }
}

struct Entropy;

impl rsext4::EntropySource for Entropy {
    fn fill_bytes(&mut self, output: &mut [u8]) -> Ext4Result<()> {
        output.fill(0x5a);
        Ok(())
    }
}

type Fs = Ext4<Mem, MountedServices<Entropy, NoopObserver, ()>>;

/// What happened, step by step: each step's error kind (or success) folded in.
struct Outcome(u64);

impl Outcome {
    fn step<T>(&mut self, r: &Ext4Result<T>) {
        let k = match r {
            Ok(_) => 0,
            Err(e) => e.kind() as u64 + 1,
        };
        self.0 = self.0.wrapping_mul(31).wrapping_add(k);
    }
}

/// Walks the tree below `dir`: at most `left` inodes in all, 6 levels deep.
fn walk(fs: &mut Fs, dir: InodeNumber, depth: usize, left: &mut usize, o: &mut Outcome) {
    if depth > 6 || *left == 0 {
        return;
    }
    let r = fs.read_directory(dir, DirectoryCursor::Start, 512);
    o.step(&r);
    let Ok(entries) = r else { return };
    for e in entries {
        if *left == 0 {
            return;
        }
        *left -= 1;
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let Ok(name) = FileName::new(&e.name) else {
            continue;
        };
        let r = fs.lookup_child(dir, name);
        o.step(&r);
        let Ok(Some(info)) = r else { continue };
        let r = fs.list_xattrs(info.number);
        o.step(&r);
        if info.is_directory() {
            walk(fs, info.number, depth + 1, left, o);
        } else {
            let mut buf = vec![0u8; 8192];
            let r = fs.read_inode(info.number, 0, &mut buf);
            o.step(&r);
            let r = fs.read_inode(info.number, 100_000, &mut buf);
            o.step(&r);
        }
    }
}

/// Runs the driver on `image`; returns the outcome (for the engine's corpus).
pub fn run_image(image: &[u8]) -> u64 {
    let mut o = Outcome(0);
    if image.len() < 2048 || image.len() > 64 << 20 {
        return 1;
    }
    let mut sb = [0u8; 1024];
    sb.copy_from_slice(&image[1024..2048]);
    let Ok(geo) = super::ext4::Geometry::parse(&sb, image.len() as u64) else {
        return 2;
    };
    let budget = 4 * super::ext4::budget_for(&geo, 0);
    let mem = Mem {
        data: image.to_vec(),
        budget,
    };
    let services = MountServices::new(Clock, Entropy, NoopObserver);
    let r = Ext4::mount(mem, services, MountOptions::read_write());
    o.step(&r);
    let Ok(mut fs) = r else { return o.0 };
    let root = fs.root_inode();
    let mut left = 2000;
    walk(&mut fs, root, 0, &mut left, &mut o);
    let ctx = MutationContext::new(0, 0, 0, 0);
    let (Ok(a), Ok(b), Ok(d)) = (
        FileName::new(b"fuzz-a"),
        FileName::new(b"fuzz-b"),
        FileName::new(b"fuzz-d"),
    ) else {
        return o.0;
    };
    let Ok(perm) = FilePermissions::new(0o644) else {
        return o.0;
    };
    let r = fs.create_directory(ctx, root, d, perm);
    o.step(&r);
    let r = fs.create_regular_file(ctx, root, a, perm);
    o.step(&r);
    if let Ok(info) = r {
        let n = info.number;
        let r = fs.write_inode(n, 0, &[7u8; 5000]);
        o.step(&r);
        let r = fs.write_inode(n, 70_000, b"tail");
        o.step(&r);
        let r = fs.truncate_inode(n, 3000);
        o.step(&r);
        if let Ok(dir) = fs.lookup_child(root, d) {
            let target = dir.map(|i| i.number).unwrap_or(root);
            let r = fs.rename(root, a, target, b, RenameOptions::REPLACE);
            o.step(&r);
            let r = fs.unlink(target, b);
            o.step(&r);
            if let Ok(out) = r {
                if out.requires_reap() {
                    let r = fs.reap_unlinked_inode(out.inode);
                    o.step(&r);
                }
            }
        }
    }
    let r = fs.remove_empty_directory(root, d);
    o.step(&r);
    if let Ok(out) = r {
        if out.requires_reap() {
            let r = fs.reap_unlinked_inode(out.inode);
            o.step(&r);
        }
    }
    let r = fs.sync();
    o.step(&r);
    let r = fs.unmount();
    o.step(&r);
    o.0
}
