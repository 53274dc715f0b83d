// SPDX-License-Identifier: Apache-2.0
//! `--strace`: every system call with decoded arguments and its result, strace-style, on the
//! sentry's stderr.
//!
//! Argument kinds (one character per argument, from the table): `d` int, `D` long, `u`
//! unsigned, `x` hex, `f` fd, `F` dirfd, `s` path string, `b` buffer in (length in the next
//! argument), `B` buffer out (shown on return), `p` pointer, `o` octal mode, `O` open flags,
//! `P` mmap protection, `M` mmap flags, `S` signal.

use std::fmt::Write;

use syscalls::abi::*;
use syscalls::{Errno, Sysno};

use super::table::Entry;
use super::SysResult;
use crate::kernel::Task;

const SHOWN: usize = 32;

fn quote(bytes: &[u8], truncated: bool) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(SHOWN) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    if truncated || bytes.len() > SHOWN {
        s.push_str("...");
    }
    s
}

fn flags(v: u64, names: &[(u64, &str)], zero: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = v;
    for (bit, name) in names {
        if *bit != 0 && rest & bit == *bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 || parts.is_empty() {
        if parts.is_empty() && rest == 0 {
            return zero.to_string();
        }
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

fn open_flags(v: u64) -> String {
    let acc = match v as u32 & O_ACCMODE {
        O_RDONLY => "O_RDONLY",
        O_WRONLY => "O_WRONLY",
        O_RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = flags(
        v & !u64::from(O_ACCMODE),
        &[
            (O_CREAT.into(), "O_CREAT"),
            (O_EXCL.into(), "O_EXCL"),
            (O_NOCTTY.into(), "O_NOCTTY"),
            (O_TRUNC.into(), "O_TRUNC"),
            (O_APPEND.into(), "O_APPEND"),
            (O_NONBLOCK.into(), "O_NONBLOCK"),
            (O_DIRECTORY.into(), "O_DIRECTORY"),
            (O_NOFOLLOW.into(), "O_NOFOLLOW"),
            (O_CLOEXEC.into(), "O_CLOEXEC"),
            (O_PATH.into(), "O_PATH"),
            (O_LARGEFILE.into(), "O_LARGEFILE"),
            (O_NOATIME.into(), "O_NOATIME"),
        ],
        "",
    );
    if rest.is_empty() {
        acc.to_string()
    } else {
        format!("{acc}|{rest}")
    }
}

fn arg(t: &Task, kind: u8, v: u64, next: u64) -> String {
    match kind {
        b'd' => (v as i32).to_string(),
        b'D' => (v as i64).to_string(),
        b'u' => v.to_string(),
        b'f' => (v as i32).to_string(),
        b'F' if v as i32 == AT_FDCWD => "AT_FDCWD".into(),
        b'F' => (v as i32).to_string(),
        b's' => match t.mm().read_cstr(v, 4096) {
            Ok(s) => quote(&s, false),
            Err(_) => format!("{v:#x}"),
        },
        b'b' => {
            let n = (next as usize).min(SHOWN);
            let mut buf = vec![0u8; n];
            match t.copy_in(v, &mut buf) {
                Ok(()) => quote(&buf, next as usize > SHOWN),
                Err(_) => format!("{v:#x}"),
            }
        }
        b'p' | b'B' if v == 0 => "NULL".into(),
        b'o' => format!("{v:#o}"),
        b'O' => open_flags(v),
        b'P' => flags(
            v,
            &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")],
            "PROT_NONE",
        ),
        b'M' => flags(
            v,
            &[
                (1, "MAP_SHARED"),
                (2, "MAP_PRIVATE"),
                (0x10, "MAP_FIXED"),
                (0x20, "MAP_ANONYMOUS"),
                (0x100, "MAP_GROWSDOWN"),
                (0x800, "MAP_DENYWRITE"),
                (0x4000, "MAP_NORESERVE"),
                (0x8000, "MAP_POPULATE"),
                (0x20000, "MAP_STACK"),
                (0x100000, "MAP_FIXED_NOREPLACE"),
            ],
            "0",
        ),
        b'S' => crate::kernel::signal_name(v as i32).to_string(),
        _ => format!("{v:#x}"),
    }
}

fn call(t: &Task, nr: u64, entry: Option<&Entry>, deferred_out: bool) -> String {
    let name = entry
        .map(|e| e.name.to_string())
        .unwrap_or_else(|| Sysno(nr as u32).to_string());
    let kinds = entry.map(|e| e.args.as_bytes()).unwrap_or(b"xxxxxx");
    let args: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            if *k == b'B' && deferred_out {
                "...".to_string()
            } else {
                arg(t, *k, t.arg(i), t.arg(i + 1))
            }
        })
        .collect();
    format!("{name}({})", args.join(", "))
}

/// Logs system call entry. Calls that may block are printed at once, unfinished, as strace
/// does; the rest are printed whole on return.
pub fn enter(t: &Task, nr: u64, entry: Option<&Entry>) {
    let blocking = matches!(
        entry.map(|e| e.name),
        Some("read" | "readv" | "nanosleep" | "clock_nanosleep" | "exit" | "exit_group")
    );
    if blocking {
        eprintln!("[{}] {} ...", t.tid, call(t, nr, entry, true));
    }
}

/// Logs system call return.
pub fn exit(t: &Task, nr: u64, entry: Option<&Entry>, result: SysResult) {
    let ret = match result {
        Ok(v) => {
            if matches!(entry.map(|e| e.name), Some("mmap" | "brk" | "mremap")) {
                format!("{v:#x}")
            } else {
                (v as i64).to_string()
            }
        }
        Err(e) => format!(
            "-1 {} ({})",
            Errno::name(e).unwrap_or("E?"),
            e.description()
        ),
    };
    // Output buffers are decoded with the length the call returned.
    let kinds = entry.map(|e| e.args.as_bytes()).unwrap_or(b"");
    let mut text = call(t, nr, entry, false);
    if let (Some(i), Ok(n)) = (kinds.iter().position(|k| *k == b'B'), result) {
        let addr = t.arg(i);
        let shown = (n as usize).min(SHOWN);
        let mut buf = vec![0u8; shown];
        let decoded = if t.copy_in(addr, &mut buf).is_ok() {
            quote(&buf, n as usize > SHOWN)
        } else {
            format!("{addr:#x}")
        };
        let e = entry.map(|e| e.name).unwrap_or("?");
        let args: Vec<String> = kinds
            .iter()
            .enumerate()
            .map(|(j, k)| {
                if j == i {
                    decoded.clone()
                } else {
                    arg(t, *k, t.arg(j), t.arg(j + 1))
                }
            })
            .collect();
        text = format!("{e}({})", args.join(", "));
    }
    eprintln!("[{}] {} = {}", t.tid, text, ret);
}
