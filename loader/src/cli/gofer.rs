// SPDX-License-Identifier: Apache-2.0
//! `sandbox gofer` (hidden): the gofer process, as the loader starts it. Not for people.

use clap::Args;

/// Serve host directories to a sentry over the socket at descriptor FD.
#[derive(Args, Debug)]
pub struct GoferArgs {
    /// The descriptor of the SOCK_SEQPACKET socket to serve.
    #[arg(long)]
    pub fd: i32,

    /// A directory to serve, `ro:PATH` or `rw:PATH`; export N is the Nth (repeatable).
    #[arg(long = "export", value_name = "ro|rw:PATH")]
    pub exports: Vec<String>,

    /// A path of export N the gofer must not serve, `N:PATH` (repeatable).
    #[arg(long = "mask", value_name = "N:PATH")]
    pub masks: Vec<String>,

    /// Serve even without a mount namespace of its own (`sandbox run --allow-weak-gofer`).
    #[arg(long)]
    pub allow_weak: bool,

    /// Connect host unix sockets for the sentry (`sandbox run --host-uds open`).
    #[arg(long)]
    pub host_uds: bool,
}

/// Runs the gofer; returns its exit status.
pub fn run(args: &GoferArgs) -> i32 {
    let exports: Result<Vec<_>, _> = args
        .exports
        .iter()
        .map(|e| gofer::spawn::parse_export(e))
        .collect();
    let exports = exports.and_then(|mut e| {
        for m in &args.masks {
            let (i, path) = m
                .split_once(':')
                .and_then(|(i, p)| Some((i.parse::<usize>().ok()?, p)))
                .filter(|(_, p)| p.starts_with('/') && !p.split('/').any(|c| c == ".."))
                .ok_or_else(|| format!("--mask {m}: expected N:/PATH"))?;
            e.get_mut(i)
                .ok_or_else(|| format!("--mask {m}: no export {i}"))?
                .masked
                .push(path.to_string());
        }
        Ok(e)
    });
    match exports {
        Ok(e) => gofer::main(args.fd, &e, args.allow_weak, args.host_uds),
        Err(e) => {
            eprintln!("sandbox gofer: {e}");
            gofer::EXIT_GOFER_FAILED
        }
    }
}
