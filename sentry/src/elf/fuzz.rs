// SPDX-License-Identifier: Apache-2.0
//! The ELF loader's fuzz target: [`fuzz_elf_load`] runs the whole loader ([`super::load_from`]:
//! `#!` lines, the ELF header and program headers, PT_INTERP, the segments' mappings through
//! the real [`MemoryManager`], the initial stack) on any bytes, over a platform that only
//! checks what it is asked to do. It must never panic, hang or allocate without bound; an input
//! that loads must leave a sane address space. Driven by `tests/tests/fuzz_targets.rs` on the
//! stable toolchain and by libFuzzer (`tests/fuzz/`); docs/security.md says how to run both.
//!
//! The files: the input is the executable (`/fuzz`); any other path opened (a `#!`
//! interpreter, a PT_INTERP) is the input without its first line when that line is a `#!`
//! line, else the input again, so an ELF input is its own interpreter and a script runs the ELF
//! that follows its first line.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, OnceLock};

use syscalls::abi::*;
use syscalls::Errno;

use crate::mm::{Backing, MemoryManager, APP_TOP, MMAP_MIN_ADDR, STACK_TOP};
use crate::platform::{
    AddressSpace, Context, Detached, HostLayout, Interrupter, MapFile, NewContext, PlatformError,
    Registers, Trap,
};
use crate::vfs::{File, FileOps};

/// The path the input is executed as.
const PATH: &[u8] = b"/fuzz";

/// A descriptor to stand for the input's host file in mappings (never used: the platform
/// below maps nothing). One end of a pipe: no host path is opened.
fn stand_in_fd() -> BorrowedFd<'static> {
    static FD: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();
    FD.get_or_init(|| nix::unistd::pipe().expect("a pipe for the fuzz target"))
        .0
        .as_fd()
}

/// A read-only file of bytes.
struct Bytes(Arc<[u8]>);

impl FileOps for Bytes {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let Ok(off) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(rest) = self.0.get(off..) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat {
            st_mode: S_IFREG | 0o755,
            st_size: self.0.len() as i64,
            ..Default::default()
        })
    }
    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(stand_in_fd())
    }
}

/// The files of the module docs.
struct Files {
    input: Arc<[u8]>,
    after_shebang: Arc<[u8]>,
}

impl super::Opener for Files {
    fn open_exec(&self, path: &[u8]) -> Result<Arc<File>, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() > crate::vfs::path::PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let bytes = if path == PATH {
            self.input.clone()
        } else {
            self.after_shebang.clone()
        };
        Ok(File::new(
            Box::new(Bytes(bytes)),
            O_RDONLY,
            String::from_utf8_lossy(path),
        ))
    }
}

/// Platform regions of the fake address space: the stub's pages above the stack, one in the
/// middle of the address space (where a fixed ELF may try to land), and a vDSO.
const RESERVED: [(u64, u64, &str); 2] = [
    (STACK_TOP, STACK_TOP + 0x10000, "[stub]"),
    (0x4000_0000_0000, 0x4000_0001_0000, "[stub-data]"),
];
const VDSO: (u64, u64) = (STACK_TOP + 0x10000, STACK_TOP + 0x12000);

/// An address space that holds nothing and checks every access is in the application's half.
struct Space(HostLayout);

fn check_range(what: &str, addr: u64, len: u64) {
    let end = addr.checked_add(len);
    assert!(
        addr >= MMAP_MIN_ADDR && end.is_some_and(|e| e <= APP_TOP),
        "the loader asked the platform to {what} [{addr:#x}, +{len:#x}): not application memory"
    );
}

impl AddressSpace for Space {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        check_range("read", addr, buf.len() as u64);
        buf.fill(0);
        Ok(())
    }
    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        check_range("write", addr, buf.len() as u64);
        Ok(())
    }
    fn layout(&self) -> &HostLayout {
        &self.0
    }
}

struct NoInterrupt;

impl Interrupter for NoInterrupt {
    fn interrupt(&self) {}
}

/// A stopped thread whose host effects are only checked: mappings page-aligned, non-empty,
/// inside the application's range.
struct Ctx {
    space: Arc<Space>,
    /// Whether `write_force` is left to the memory manager (ENOSYS), as on a platform that
    /// cannot write through protections.
    no_force: bool,
}

fn check_map(what: &str, addr: u64, len: u64) {
    assert!(
        addr.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE) && len > 0,
        "the loader asked the platform to {what} [{addr:#x}, +{len:#x}): not whole pages"
    );
    check_range(what, addr, len);
}

impl Context for Ctx {
    fn switch(&mut self, regs: &mut Registers) -> Result<Trap, PlatformError> {
        Detached.switch(regs)
    }
    fn initial_registers(&self) -> Registers {
        Detached.initial_registers()
    }
    fn address_space(&self) -> Arc<dyn AddressSpace> {
        self.space.clone()
    }
    fn interrupter(&self) -> Arc<dyn Interrupter> {
        Arc::new(NoInterrupt)
    }
    fn map(
        &mut self,
        addr: u64,
        len: u64,
        _prot: u32,
        _flags: u32,
        _file: Option<MapFile<'_>>,
    ) -> Result<(), Errno> {
        check_map("map", addr, len);
        Ok(())
    }
    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        check_map("unmap", addr, len);
        Ok(())
    }
    fn protect(&mut self, addr: u64, len: u64, _prot: u32) -> Result<(), Errno> {
        check_map("protect", addr, len);
        Ok(())
    }
    fn map_grow(&mut self, addr: u64, _old: u64, new_len: u64) -> Result<(), Errno> {
        check_map("grow", addr, new_len);
        Ok(())
    }
    fn remap(&mut self, _old: u64, _old_len: u64, new: u64, new_len: u64) -> Result<(), Errno> {
        check_map("remap", new, new_len);
        Ok(())
    }
    fn advise(&mut self, addr: u64, len: u64, _advice: u32) -> Result<(), Errno> {
        check_map("advise", addr, len);
        Ok(())
    }
    fn sync(&mut self, addr: u64, len: u64, _flags: u32) -> Result<(), Errno> {
        check_map("sync", addr, len);
        Ok(())
    }
    fn write_force(&mut self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        if self.no_force {
            return Err(Errno::ENOSYS);
        }
        check_range("write", addr, buf.len() as u64);
        Ok(())
    }
    fn fpu_state(&mut self) -> Result<Vec<u8>, PlatformError> {
        Err(PlatformError::Stub("no FPU state while fuzzing".into()))
    }
    fn set_fpu_state(&mut self, _state: &[u8]) -> Result<(), PlatformError> {
        Err(PlatformError::Stub("no FPU state while fuzzing".into()))
    }
    fn new_thread(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        Err(PlatformError::Stub("no threads while fuzzing".into()))
    }
    fn fork(&mut self) -> Result<Box<dyn NewContext>, PlatformError> {
        Err(PlatformError::Stub("no fork while fuzzing".into()))
    }
    fn exit_thread(&mut self) {}
    fn kill_process(&mut self) {}
}

/// The input without its first line, when that is a `#!` line.
fn after_shebang(data: &[u8]) -> &[u8] {
    if !data.starts_with(b"#!") {
        return data;
    }
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => &data[i + 1..],
        None => &[],
    }
}

/// Loads `data` as an executable (see the module docs). Panics on a loader bug: a panic inside
/// the loader, a host effect outside the application's range, or an address space that breaks
/// the memory manager's invariants after a successful load.
pub fn fuzz_elf_load(data: &[u8]) {
    let _ = load_bytes(data);
}

/// [`fuzz_elf_load`], returning the loader's verdict and how many mappings the address space
/// had at the end (the stable driver keeps inputs with an outcome it has not seen: how far the
/// loader got).
pub fn load_bytes(data: &[u8]) -> (Result<(), Errno>, usize) {
    let space = Arc::new(Space(HostLayout {
        reserved: RESERVED.to_vec(),
        vdso: Some(VDSO),
    }));
    let mut ctx = Ctx {
        space: space.clone(),
        // Both ways of zeroing a segment's tail, one input in two.
        no_force: data.len() % 2 == 1,
    };
    let mut mm = MemoryManager::new(space);
    let files = Files {
        input: Arc::from(data),
        after_shebang: Arc::from(after_shebang(data)),
    };
    let params = super::Params {
        stack_limit: 8 << 20,
        uid: (1000, 1000),
        gid: (1000, 1000),
        random: [7; 16],
    };
    let argv = vec![PATH.to_vec(), b"arg".to_vec()];
    let envp = vec![b"HOME=/".to_vec()];
    let r = super::load_from(&files, &params, &mut mm, &mut ctx, PATH, argv, envp);
    let mappings = mm.vmas().count();
    let loaded = match r {
        Ok(l) => l,
        Err(e) => return (Err(e), mappings),
    };

    // The stack pointer is in the stack, 16-byte aligned.
    assert!(
        loaded.sp % 16 == 0 && loaded.sp < STACK_TOP,
        "sp {:#x}",
        loaded.sp
    );
    let stack = mm
        .vmas()
        .find(|v| v.name == Some("[stack]"))
        .expect("a loaded image has a stack");
    assert!(stack.start <= loaded.sp && loaded.sp < stack.end);
    // Mappings are ordered and disjoint; the application's are in its range; the platform's
    // regions are all still there, untouched.
    let mut last_end = 0;
    let mut platform = 0;
    for v in mm.vmas() {
        assert!(
            v.start < v.end && v.start >= last_end,
            "overlapping mappings"
        );
        last_end = v.end;
        match v.backing {
            Backing::Reserved(_) | Backing::Vdso => platform += 1,
            _ => {
                assert!(v.start >= MMAP_MIN_ADDR && v.end <= APP_TOP);
                assert!(v.start % PAGE_SIZE == 0 && v.end % PAGE_SIZE == 0);
            }
        }
    }
    assert_eq!(
        platform,
        RESERVED.len() + 1,
        "a platform region was replaced"
    );
    assert!(mm.brk_start.is_multiple_of(PAGE_SIZE) && mm.brk == mm.brk_start);
    (Ok(()), mappings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF of type `e_type` with one PT_LOAD: (offset, vaddr, filesz, memsz).
    fn elf(e_type: u16, load: (u64, u64, u64, u64)) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        b[16..18].copy_from_slice(&e_type.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[24..32].copy_from_slice(&load.1.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = [
            (PT_LOAD_TYPE as u64) | (5 << 32),
            load.0,
            load.1,
            load.1,
            load.2,
            load.3,
            PAGE_SIZE,
        ];
        for (i, v) in ph.iter().enumerate() {
            b[64 + 8 * i..72 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
    const PT_LOAD_TYPE: u32 = 1;

    #[test]
    fn a_segment_at_a_file_offset_near_the_end_is_refused() {
        // Found by this target: the mapping's offset overflowed when it was split.
        let bad = elf(2, (0xffff_ffff_ffff_f000, 0x40_0000, 0x1000, 0x3000));
        assert_eq!(load_bytes(&bad).0, Err(Errno::EOVERFLOW));
        let good = elf(2, (0, 0x40_0000, 0x78, 0x3000));
        assert_eq!(load_bytes(&good).0, Ok(()));
    }

    #[test]
    fn a_position_independent_image_linked_high_moves_down() {
        // load_bias = base - vaddr wraps modulo 2^64, as Linux's does.
        let high = elf(3, (0, 0x7000_0000_0000, 0x78, 0x1000));
        assert_eq!(load_bytes(&high).0, Ok(()));
    }

    #[test]
    fn garbage_and_truncated_headers_are_refused() {
        fuzz_elf_load(b"");
        fuzz_elf_load(b"\x7fELF");
        fuzz_elf_load(&[0u8; 64]);
        fuzz_elf_load(b"#!");
        fuzz_elf_load(b"#!/fuzz\n");
        fuzz_elf_load(b"#!/a\n#!/b\n#!/c\n");
    }
}
