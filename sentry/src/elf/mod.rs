// SPDX-License-Identifier: Apache-2.0
//! Loading an executable into a fresh address space: ELF (static, static-pie, dynamic with
//! PT_INTERP looked up in the sandbox's root view) and `#!` scripts, then the initial stack.
//!
//! vDSO: the host's vDSO stays mapped (read-only, where the host kernel put it) and is offered
//! through AT_SYSINFO_EHDR, so clock_gettime, gettimeofday, time and getcpu run without a trap.
//! It reads only the host's clock pages; the sandbox's own view of wall time (settimeofday in
//! the sandbox) will need the sentry's vDSO instead, as gVisor has.

pub mod fuzz;
pub mod stack;

use std::sync::Arc;

use goblin::elf::header::{Header, EM_X86_64, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{ProgramHeader, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD};
use syscalls::abi::*;
use syscalls::Errno;

use crate::kernel::Task;
use crate::mm::{page_down, page_up, MemoryManager, PIE_BASE, STACK_TOP};
use crate::platform::Context;
use crate::vfs::File;

/// Longest `#!` line Linux reads.
const BINPRM_BUF_SIZE: usize = 256;
/// Deepest chain of interpreters.
const MAX_INTERP_DEPTH: u32 = 4;

/// An executable, opened and checked, before it is mapped.
struct Image {
    file: Arc<File>,
    header: Header,
    phdrs: Vec<ProgramHeader>,
}

/// Where the program starts.
pub struct Loaded {
    /// Entry point (the interpreter's, for a dynamic executable).
    pub entry: u64,
    /// Initial stack pointer.
    pub sp: u64,
    /// The credentials the new image runs with, for the caller to take at the point of no
    /// return (None when the opener keeps none: fuzzing).
    pub transition: Option<crate::kernel::exec_creds::Transition>,
}

/// The ids the new image's auxiliary vector shows, and the credentials behind them.
pub struct ExecIds {
    /// (AT_UID, AT_EUID).
    pub uid: (u32, u32),
    /// (AT_GID, AT_EGID).
    pub gid: (u32, u32),
    /// AT_SECURE.
    pub secure: bool,
    /// The whole new credentials.
    pub transition: Option<crate::kernel::exec_creds::Transition>,
}

/// Reads up to `buf.len()` bytes at `off`: fewer at the end of the file (or of the offsets).
fn read_exact_at(f: &File, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
    let mut done = 0;
    while done < buf.len() {
        let Some(at) = off
            .checked_add(done as u64)
            .filter(|a| *a <= i64::MAX as u64)
        else {
            break;
        };
        let n = f.ops.read_at(&mut buf[done..], at)?;
        if n == 0 {
            break;
        }
        done += n.min(buf.len() - done);
    }
    Ok(done)
}

/// Where the loader finds executables by path: the task's view for exec, bytes for fuzzing
/// ([`fuzz`]).
pub trait Opener {
    /// Opens `path` for exec (a regular file with execute permission), as [`open_exec`] does.
    fn open_exec(&self, path: &[u8]) -> Result<Arc<File>, Errno>;

    /// The ids the image in `main` runs with (set-id bits, file capabilities): by default the
    /// caller's, unchanged.
    fn exec_ids(&self, _main: &File, p: &Params) -> Result<ExecIds, Errno> {
        Ok(ExecIds {
            uid: p.uid,
            gid: p.gid,
            secure: false,
            transition: None,
        })
    }
}

/// The task's own view.
struct TaskFiles<'a>(&'a Task);

impl Opener for TaskFiles<'_> {
    fn open_exec(&self, path: &[u8]) -> Result<Arc<File>, Errno> {
        open_exec(self.0, path)
    }

    fn exec_ids(&self, main: &File, _p: &Params) -> Result<ExecIds, Errno> {
        use crate::kernel::exec_creds::{parse_file_caps, transition, FileFacts};
        let t = self.0;
        let inode = main.inode.as_ref().ok_or(Errno::ENOENT)?;
        let st = inode.stat()?;
        let caps = inode
            .getxattr(b"security.capability")
            .ok()
            .and_then(|v| parse_file_caps(&v));
        let facts = FileFacts {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            nosuid: main.mount.as_ref().is_some_and(|m| m.no_suid()),
            readable: t.creds.may_file(inode.as_ref(), &st, R_OK),
            caps,
        };
        let tr = transition(
            &t.creds,
            &facts,
            t.no_new_privs,
            crate::kernel::ptrace::traced_unprivileged(t),
        )?;
        Ok(ExecIds {
            uid: (tr.creds.uid.0, tr.creds.uid.1),
            gid: (tr.creds.gid.0, tr.creds.gid.1),
            secure: tr.secure,
            transition: Some(tr),
        })
    }
}

/// What the loader needs of the task besides its files.
pub struct Params {
    /// RLIMIT_STACK.
    pub stack_limit: u64,
    /// Real and effective user ids (AT_UID, AT_EUID).
    pub uid: (u32, u32),
    /// Real and effective group ids (AT_GID, AT_EGID).
    pub gid: (u32, u32),
    /// AT_RANDOM's bytes.
    pub random: [u8; 16],
}

/// Opens an executable for exec: it must be a regular file with execute permission.
pub fn open_exec(t: &Task, path: &[u8]) -> Result<Arc<File>, Errno> {
    let r = resolve_exec(t, path)?;
    let inode = r.inode.clone().ok_or(Errno::ENOENT)?;
    let ops = inode.open(O_RDONLY)?;
    let file = File::open_inode(ops, O_RDONLY, r.path, inode, r.mount);
    if !r.is_mount_root {
        file.set_parent(r.parent.clone(), &r.name);
    }
    crate::vfs::fanotify::exec_opened(&file)?;
    Ok(file)
}

/// Whether `path` names something exec may open ([`open_exec`]'s checks, without opening
/// it): lets execve fail before it makes a new address space for a file it cannot run (a
/// shell or execvp tries each directory of PATH in turn).
pub fn check_exec(t: &Task, path: &[u8]) -> Result<(), Errno> {
    resolve_exec(t, path).map(drop)
}

fn resolve_exec(t: &Task, path: &[u8]) -> Result<crate::vfs::path::Resolved, Errno> {
    let r = t.resolve_at(AT_FDCWD, path, true)?;
    let st = r.stat.ok_or(Errno::ENOENT)?;
    if st.st_mode & S_IFMT == S_IFDIR {
        return Err(Errno::EACCES);
    }
    let exec_ok = r
        .inode
        .as_ref()
        .is_some_and(|i| t.creds.may_file(i.as_ref(), &st, X_OK));
    if st.st_mode & S_IFMT != S_IFREG || !exec_ok {
        return Err(Errno::EACCES);
    }
    if r.mount.no_exec() {
        return Err(Errno::EACCES);
    }
    if r.inode.is_none() {
        return Err(Errno::ENOENT);
    }
    // Opened for exec: Landlock asks READ_FILE and EXECUTE.
    crate::kernel::landlock::check_path(
        t,
        &r.path,
        LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE,
    )?;
    Ok(r)
}

fn parse(file: Arc<File>) -> Result<Image, Errno> {
    let mut head = [0u8; 64];
    if read_exact_at(&file, &mut head, 0)? < 64 || &head[..4] != b"\x7fELF" {
        return Err(Errno::ENOEXEC);
    }
    let header = goblin::elf::Elf::parse_header(&head).map_err(|_| Errno::ENOEXEC)?;
    if header.e_ident[4] != 2 || header.e_ident[5] != 1 || header.e_machine != EM_X86_64 {
        return Err(Errno::ENOEXEC);
    }
    if header.e_type != ET_EXEC && header.e_type != ET_DYN {
        return Err(Errno::ENOEXEC);
    }
    if header.e_phentsize as usize != 56 || header.e_phnum == 0 || header.e_phnum > 128 {
        return Err(Errno::ENOEXEC);
    }
    let size = header.e_phnum as usize * 56;
    let mut buf = vec![0u8; size];
    if read_exact_at(&file, &mut buf, header.e_phoff)? != size {
        return Err(Errno::ENOEXEC);
    }
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let phdrs =
        ProgramHeader::parse(&buf, 0, header.e_phnum as usize, ctx).map_err(|_| Errno::ENOEXEC)?;
    Ok(Image {
        file,
        header,
        phdrs,
    })
}

fn prot_of(ph: &ProgramHeader) -> u32 {
    let mut p = 0;
    if ph.p_flags & PF_R != 0 {
        p |= PROT_READ;
    }
    if ph.p_flags & PF_W != 0 {
        p |= PROT_WRITE;
    }
    if ph.p_flags & PF_X != 0 {
        p |= PROT_EXEC;
    }
    p
}

/// Maps an image's PT_LOAD segments; returns (load bias, end of the highest segment).
fn map_image(
    mm: &mut MemoryManager,
    ctx: &mut dyn Context,
    img: &Image,
    base: Option<u64>,
) -> Result<(u64, u64), Errno> {
    let loads: Vec<&ProgramHeader> = img.phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    if loads.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    let lo = loads
        .iter()
        .map(|p| page_down(p.p_vaddr))
        .min()
        .unwrap_or(0);
    let hi = loads
        .iter()
        .map(|p| p.p_vaddr.saturating_add(p.p_memsz))
        .max()
        .unwrap_or(0);
    let span = page_up(hi.checked_sub(lo).ok_or(Errno::ENOEXEC)?).ok_or(Errno::ENOEXEC)?;
    // The bias is an offset modulo 2^64 (Linux's load_bias): a position-independent image
    // linked at a high address moves down. Every address below is `bias + p_vaddr`, checked
    // to land in the reservation.
    let bias = if img.header.e_type == ET_DYN {
        // Reserve the whole span first so the segments land together.
        let want = base.unwrap_or(0);
        let at = mm.mmap(
            ctx,
            want,
            span,
            PROT_NONE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            None,
        )?;
        at.wrapping_sub(lo)
    } else {
        0
    };
    let mut end = 0;
    for ph in loads {
        if ph.p_filesz > ph.p_memsz || ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
            return Err(Errno::ENOEXEC);
        }
        let prot = prot_of(ph);
        let vaddr = bias.wrapping_add(ph.p_vaddr);
        let start = page_down(vaddr);
        let mem_end = vaddr.checked_add(ph.p_memsz).ok_or(Errno::ENOEXEC)?;
        // p_filesz <= p_memsz (checked above).
        let file_end = vaddr + ph.p_filesz;
        if ph.p_filesz > 0 {
            // p_offset and vaddr are congruent modulo the page (checked above; the bias is a
            // multiple of the page), so this is p_offset's page.
            let off = ph.p_offset - (vaddr - start);
            let len = page_up(file_end - start).ok_or(Errno::ENOEXEC)?;
            mm.mmap(
                ctx,
                start,
                len,
                prot,
                MAP_PRIVATE | MAP_FIXED,
                Some((img.file.clone(), off)),
            )?;
        }
        if ph.p_memsz > ph.p_filesz {
            let file_page_end = if ph.p_filesz > 0 {
                page_up(file_end).ok_or(Errno::ENOEXEC)?
            } else {
                start
            };
            if ph.p_filesz > 0 && file_page_end > file_end {
                // The tail of the last file page is .bss: zero it (Linux's padzero).
                mm.write_force(
                    ctx,
                    file_end,
                    &vec![0u8; (file_page_end - file_end) as usize],
                )?;
            }
            let anon_end = page_up(mem_end).ok_or(Errno::ENOEXEC)?;
            if anon_end > file_page_end {
                mm.mmap(
                    ctx,
                    file_page_end,
                    anon_end - file_page_end,
                    prot,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                    None,
                )?;
            }
        }
        end = end.max(mem_end);
    }
    Ok((bias, end))
}

/// Address of the program headers in memory (addresses wrap as the bias does: a bad one is
/// the program's to fault on).
fn phdr_addr(img: &Image, bias: u64) -> u64 {
    for ph in &img.phdrs {
        if ph.p_type == goblin::elf::program_header::PT_PHDR {
            return bias.wrapping_add(ph.p_vaddr);
        }
    }
    let phoff = img.header.e_phoff;
    for ph in img.phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        if ph.p_offset <= phoff && phoff - ph.p_offset < ph.p_filesz {
            return bias
                .wrapping_add(ph.p_vaddr)
                .wrapping_add(phoff - ph.p_offset);
        }
    }
    0
}

/// A `#!` line: the interpreter and its optional argument.
type Shebang = (Vec<u8>, Option<Vec<u8>>);

/// Reads the `#!` line of a script.
fn parse_shebang(file: &File) -> Result<Option<Shebang>, Errno> {
    let mut buf = [0u8; BINPRM_BUF_SIZE];
    let n = read_exact_at(file, &mut buf, 0)?;
    if n < 2 || &buf[..2] != b"#!" {
        return Ok(None);
    }
    let line = &buf[2..n];
    let line = match line.iter().position(|b| *b == b'\n') {
        Some(i) => &line[..i],
        None if n == BINPRM_BUF_SIZE => return Err(Errno::ENOEXEC),
        None => line,
    };
    let trimmed: &[u8] = {
        let s = line
            .iter()
            .position(|b| *b != b' ' && *b != b'\t')
            .unwrap_or(line.len());
        let e = line
            .iter()
            .rposition(|b| *b != b' ' && *b != b'\t')
            .map(|i| i + 1)
            .unwrap_or(s);
        &line[s..e.max(s)]
    };
    if trimmed.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    let split = trimmed.iter().position(|b| *b == b' ' || *b == b'\t');
    Ok(Some(match split {
        None => (trimmed.to_vec(), None),
        Some(i) => {
            let arg = &trimmed[i..];
            let s = arg
                .iter()
                .position(|b| *b != b' ' && *b != b'\t')
                .unwrap_or(arg.len());
            (trimmed[..i].to_vec(), Some(arg[s..].to_vec()))
        }
    }))
}

/// Loads `path` with `argv` and `envp` into the task's (fresh) address space and returns where
/// it starts. Follows `#!` scripts.
pub fn load(
    t: &Task,
    mm: &mut MemoryManager,
    ctx: &mut dyn Context,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<Loaded, Errno> {
    let mut random = [0u8; 16];
    crate::fsimpl::dev::fill_random(&mut random)?;
    let p = Params {
        stack_limit: t.rlimit(RLIMIT_STACK),
        uid: (t.creds.uid.0, t.creds.uid.1),
        gid: (t.creds.gid.0, t.creds.gid.1),
        random,
    };
    load_from(&TaskFiles(t), &p, mm, ctx, path, argv, envp)
}

/// [`load`] with the files found by `files`: everything the loader decides, whatever the
/// files hold (bad input is an errno: ENOEXEC, ELOOP, ENOMEM, E2BIG, never a panic).
pub fn load_from(
    files: &dyn Opener,
    p: &Params,
    mm: &mut MemoryManager,
    ctx: &mut dyn Context,
    path: &[u8],
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<Loaded, Errno> {
    let execfn = path.to_vec();
    let mut path = path.to_vec();
    let mut depth = 0;
    let file = loop {
        let file = files.open_exec(&path)?;
        match parse_shebang(&file)? {
            None => break file,
            Some((interp, arg)) => {
                depth += 1;
                if depth > MAX_INTERP_DEPTH {
                    return Err(Errno::ELOOP);
                }
                let mut new_argv = vec![interp.clone()];
                new_argv.extend(arg);
                new_argv.push(path.clone());
                new_argv.extend(argv.into_iter().skip(1));
                argv = new_argv;
                path = interp;
            }
        }
    };
    // The image denies writes to its file while it runs; a file open for writing cannot
    // run (ETXTBSY, do_open_execat's deny_write_access).
    if let Some(inode) = &file.inode {
        let st = inode.stat()?;
        mm.exe_deny = Some(crate::vfs::writecount::deny_write_access((
            st.st_dev, st.st_ino,
        ))?);
    }
    let ids = files.exec_ids(&file, p)?;
    let main = parse(file)?;
    let interp = match main.phdrs.iter().find(|p| p.p_type == PT_INTERP) {
        Some(ph) => {
            if ph.p_filesz < 2 || ph.p_filesz > 4096 {
                return Err(Errno::ENOEXEC);
            }
            let mut name = vec![0u8; ph.p_filesz as usize];
            let got = read_exact_at(&main.file, &mut name, ph.p_offset)?;
            // As Linux: the whole string must be there (else EIO), NUL-terminated.
            if got != name.len() {
                return Err(Errno::EIO);
            }
            if name.last() != Some(&0) {
                return Err(Errno::ENOEXEC);
            }
            let name: Vec<u8> = name.into_iter().take_while(|b| *b != 0).collect();
            let img = parse(files.open_exec(&name)?)?;
            if img.header.e_type != ET_DYN && img.header.e_type != ET_EXEC {
                return Err(Errno::ELIBBAD);
            }
            Some(img)
        }
        None => None,
    };

    // The stack reserves RLIMIT_STACK (at most 1 GiB) below STACK_TOP, but never over the
    // platform's regions (the host vDSO and vvar may sit there): a larger limit is cut short.
    let room = STACK_TOP - mm.platform_floor_below(STACK_TOP);
    let stack_size = p
        .stack_limit
        .clamp(128 << 10, 1 << 30)
        .min(room & !(PAGE_SIZE - 1));
    if stack_size < 128 << 10 {
        return Err(Errno::ENOMEM);
    }
    mm.set_stack_size(stack_size);
    let (bias, end) = map_image(mm, ctx, &main, Some(PIE_BASE))?;
    let brk = page_up(end).ok_or(Errno::ENOEXEC)?;
    mm.brk_start = brk;
    mm.brk = brk;
    // An entry point outside the image is the program's to fault on, as on Linux.
    let main_entry = bias.wrapping_add(main.header.e_entry);
    let mut entry = main_entry;
    let mut base = 0;
    if let Some(img) = &interp {
        let (ibias, _) = map_image(mm, ctx, img, None)?;
        base = ibias;
        entry = ibias.wrapping_add(img.header.e_entry);
    }

    // The stack.
    let stack_start = STACK_TOP - stack_size;
    mm.mmap(
        ctx,
        stack_start,
        stack_size,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
        None,
    )?;
    mm.set_name(stack_start, "[stack]");
    let (uid, gid) = (ids.uid, ids.gid);
    let mut auxv = Vec::new();
    if let Some(vdso) = mm.vdso() {
        auxv.push((AT_SYSINFO_EHDR, vdso));
    }
    auxv.extend_from_slice(&[
        (AT_MINSIGSTKSZ, 2048),
        (AT_HWCAP, crate::host::hwcap(AT_HWCAP)),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_CLKTCK, 100),
        (AT_PHDR, phdr_addr(&main, bias)),
        (AT_PHENT, 56),
        (AT_PHNUM, u64::from(main.header.e_phnum)),
        (AT_BASE, base),
        (AT_FLAGS, 0),
        (AT_ENTRY, main_entry),
        (AT_UID, u64::from(uid.0)),
        (AT_EUID, u64::from(uid.1)),
        (AT_GID, u64::from(gid.0)),
        (AT_EGID, u64::from(gid.1)),
        (AT_SECURE, u64::from(ids.secure)),
        (AT_HWCAP2, crate::host::hwcap(AT_HWCAP2)),
    ]);
    let img = stack::build(
        STACK_TOP,
        &stack::StackSpec {
            argv: &argv,
            envp: &envp,
            execfn: &execfn,
            random: p.random,
            auxv: &auxv,
        },
    );
    if img.bytes.len() as u64 > stack_size / 4 {
        return Err(Errno::E2BIG);
    }
    mm.copy_out(img.sp, &img.bytes)?;
    mm.args = img.args;
    mm.env = img.env;
    mm.auxv = img.auxv.clone();
    mm.exe = String::from_utf8_lossy(&main.file.path.clone().into_bytes()).into_owned();
    mm.exe_inode = main.file.inode.clone();
    Ok(Loaded {
        entry,
        sp: img.sp,
        transition: ids.transition,
    })
}
