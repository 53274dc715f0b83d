// SPDX-License-Identifier: Apache-2.0
//! Parsing the file options of `sandbox run` (`--rootfs`, `-v/--volume`, `--overlay`,
//! `--tmpfs`) into a [`MountSpec`]. Errors are one line naming the option.

use std::path::Path;

use sentry::fsimpl::setup::{MountSpec, Volume};
use sentry::fsimpl::view::Plan as View;

use crate::cli::run::RunArgs;

fn absolute_host(p: &Path, what: &str) -> Result<String, String> {
    let abs = std::path::absolute(p).map_err(|e| format!("{what} {}: {e}", p.display()))?;
    if !abs.exists() {
        return Err(format!("{what} {}: no such directory", p.display()));
    }
    if !abs.is_dir() {
        return Err(format!("{what} {}: not a directory", p.display()));
    }
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} {}: not UTF-8", p.display()))
}

/// A GUEST path: absolute, normalised (no `.`, `..` or empty components), not `/`.
fn guest_path(g: &str, what: &str) -> Result<String, String> {
    if !g.starts_with('/') {
        return Err(format!(
            "{what} {g}: the path in the sandbox must be absolute"
        ));
    }
    let parts: Vec<&str> = g
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!(
            "{what} {g}: the path in the sandbox must not contain '..'"
        ));
    }
    if parts.is_empty() {
        return Err(format!(
            "{what} {g}: cannot mount over the root (use --rootfs)"
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}

fn volume(v: &str) -> Result<Volume, String> {
    let what = "--volume";
    let (rest, read_only) = if let Some(r) = v.strip_suffix(":ro") {
        (r, true)
    } else if let Some(r) = v.strip_suffix(":rw") {
        (r, false)
    } else {
        (v, false)
    };
    let (host, guest) = rest
        .split_once(':')
        .ok_or_else(|| format!("{what} {v}: expected HOST:GUEST[:ro|:rw]"))?;
    if host.is_empty() || guest.is_empty() {
        return Err(format!("{what} {v}: expected HOST:GUEST[:ro|:rw]"));
    }
    Ok(Volume {
        host: absolute_host(Path::new(host), what)?,
        guest: guest_path(guest, what)?,
        read_only,
    })
}

fn tmpfs(t: &str) -> Result<(String, Option<u64>), String> {
    let what = "--tmpfs";
    let (guest, opts) = match t.split_once(':') {
        Some((g, o)) => (g, Some(o)),
        None => (t, None),
    };
    let size = match opts {
        None => None,
        Some(o) => {
            let n = o
                .strip_prefix("size=")
                .ok_or_else(|| format!("{what} {t}: the only option is size=N"))?;
            Some(crate::limits::parse_size(n).ok_or_else(|| format!("{what} {t}: bad size {n}"))?)
        }
    };
    Ok((guest_path(guest, what)?, size))
}

/// Whether the default view leaves `dir` out: not the root, and not inside a system tree
/// shown whole (a directory under something hidden or emptied is shown).
fn needs_showing(dir: &str, view: &View) -> bool {
    let under = |p: &str| dir == p || dir.starts_with(&format!("{p}/"));
    let top = dir.trim_start_matches('/').split('/').next().unwrap_or("");
    if top.is_empty() {
        return false;
    }
    let system = sentry::fsimpl::view::SYSTEM_TREES.contains(&top);
    !system || view.hidden.iter().chain(&view.emptied).any(|p| under(p))
}

/// The mount specification the options ask for.
pub fn spec(args: &RunArgs) -> Result<MountSpec, String> {
    let overlay = match args.overlay.as_str() {
        "memory" => true,
        "none" => false,
        o => return Err(format!("--overlay {o}: expected memory or none")),
    };
    let rootfs = match &args.rootfs {
        Some(r) => Some(absolute_host(r, "--rootfs")?),
        None => None,
    };
    // The default view of the host's root, with the caller's working directory shown at its
    // own path (read-only, writes in memory).
    let (view, shown) = if rootfs.is_some() || args.host_root {
        (View::default(), None)
    } else {
        let view = sentry::fsimpl::view::plan(Path::new("/"));
        let shown = std::env::current_dir()
            .ok()
            .and_then(|d| d.to_str().map(str::to_string))
            .filter(|d| needs_showing(d, &view));
        (view, shown)
    };
    let overlay_size = match &args.overlay_size {
        Some(o) => Some(
            crate::limits::parse_size(o)
                .ok_or_else(|| format!("--overlay-size {o}: expected BYTES[K|M|G]"))?,
        ),
        None => Some(crate::limits::host_memory() / 4),
    };
    let mut files = Vec::new();
    let mut volumes: Vec<Volume> = args
        .volumes
        .iter()
        .map(|v| volume(v))
        .collect::<Result<_, _>>()?;
    let oci = if args.oci_layout {
        let mut l = crate::oci::mounts::layout(
            &args.oci_mount,
            &args.oci_device,
            &mut volumes,
            &mut files,
        )?;
        l.writable_root = args.oci_writable_root;
        Some(l)
    } else {
        None
    };
    Ok(MountSpec {
        oci,
        files,
        exclusive: args.file_access == crate::cli::run::FileAccess::Exclusive,
        overlay_size,
        view,
        shown,
        rootfs,
        overlay,
        volumes,
        tmpfs: args
            .tmpfs
            .iter()
            .map(|t| tmpfs(t))
            .collect::<Result<_, _>>()?,
    })
}
