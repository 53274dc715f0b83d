// SPDX-License-Identifier: Apache-2.0
//! What the sentry keeps of read-only host trees (issue 11, item 5; `sentry/src/fsimpl/gofer.rs`):
//! under `--file-access exclusive` (the default) a directory's listing comes from the gofer in
//! one request with every entry's stat and symlink target, absent names are remembered, and
//! read-only opens of a file share one descriptor; under `--file-access shared` each look-up
//! and stat asks again. Differential: the same commands natively and sandboxed must print the
//! same, for a directory whose listing spans several gofer replies, for symlinks (dangling
//! ones too), absent names and files read back; and a change the host makes while the sandbox
//! runs is seen under `shared` as natively, and not under `exclusive` (its documented
//! assumption).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A scratch tree on the host that the sandbox can be shown (`-v`).
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Tree {
        let base = tests::host_visible_tmp(Path::new(env!("CARGO_TARGET_TMPDIR")));
        let d = base.join(format!("sandbox-file-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        Tree(d)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills `d` with a listing far larger than one gofer reply (128 KiB): 2,500 files with long
/// names and varied sizes and modes, symlinks (to files, to directories, dangling, absolute),
/// and nested directories.
fn populate(d: &Path) {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let long = "x".repeat(120);
    for i in 0..2500 {
        let p = d.join(format!("f{i:05}-{long}"));
        std::fs::write(&p, "y".repeat(i % 97)).expect("write");
        let mode = [0o644, 0o600, 0o755, 0o444][i % 4];
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    std::fs::create_dir_all(d.join("sub/deeper/deepest")).expect("mkdir");
    std::fs::write(d.join("sub/deeper/deepest/leaf"), "leaf\n").expect("write");
    symlink("f00007-".to_string() + &long, d.join("link-to-file")).expect("symlink");
    symlink("sub/deeper", d.join("link-to-dir")).expect("symlink");
    symlink("no-such-target", d.join("dangling")).expect("symlink");
    symlink("/etc/hostname-none", d.join("absolute-dangling")).expect("symlink");
    symlink("../../../..", d.join("sub/deeper/up")).expect("symlink");
    // A wide and deep tree, for the listings a tree walk reads ahead (several requests, each
    // a directory's subtree then its later siblings'): empty directories, a directory too
    // large to come with its siblings', symlinks to directories (never followed), odd names.
    for a in 0..24 {
        for b in 0..5 {
            for c in 0..3 {
                let leaf = d.join(format!("wide/a{a:02}/b {b}/c-{c}"));
                std::fs::create_dir_all(&leaf).expect("mkdir");
                if (a + b + c) % 4 != 0 {
                    std::fs::write(leaf.join("one"), format!("{a}{b}{c}")).expect("write");
                    std::fs::write(leaf.join("two\ttab"), "2").expect("write");
                }
            }
            symlink("..", d.join(format!("wide/a{a:02}/b {b}/parent"))).expect("symlink");
        }
    }
    for i in 0..900 {
        std::fs::write(d.join(format!("wide/a07/big-{i:04}-{long}")), "").expect("write");
    }
}

/// The commands both sides run in the tree (as `/vol`, or natively at its path).
const SCRIPT: &str = r#"
cd "$1" || exit 9
find . -printf '%y %s %m %n %p -> %l\n' | LC_ALL=C sort | md5sum
find . | wc -l
ls -la --time-style=+%s . | wc -l
for n in nope sub/nope sub/deeper/deepest/nope dangling link-to-dir/deepest/leaf; do
    if [ -e "$n" ]; then echo "$n exists"; else echo "$n absent"; fi
done
cat link-to-dir/deepest/leaf
cat link-to-file | wc -c
readlink dangling absolute-dangling link-to-dir sub/deeper/up
stat -c '%F %s %a' f00042-* link-to-file sub/deeper
# The same files read again through the shared descriptors, and at offsets.
for i in 1 2 3; do cat f00096-* f00095-* | wc -c; done
tail -c 5 f00096-* | od -c | head -1
test -e nope || echo "still absent"
ls sub/deeper/deepest
find wide -printf '%y %s %m %n %p -> %l\n' | md5sum
find wide -type f | wc -l
ls -R wide | md5sum
find wide/a12 wide/a03 -name one | wc -l
"#;

fn native(tree: &Path) -> tests::Outcome {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", SCRIPT, "sh"]).arg(tree);
    tests::execute(cmd)
}

fn sandboxed(tree: &Path, opts: &[&str]) -> tests::Outcome {
    let vol = format!("{}:/vol:ro", tree.display());
    let mut args = vec!["run", "--cwd", "/", "-v", &vol];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["/bin/sh", "-c", SCRIPT, "sh", "/vol"]);
    tests::sandbox_command(args)
}

#[test]
fn a_large_read_only_tree_reads_as_natively() {
    let t = Tree::new("large");
    populate(&t.0);
    let n = native(&t.0);
    assert_eq!(n.status, 0, "{n}");
    assert!(n.stdout.contains("\n4575\n"), "native: {n}");
    for opts in [&[][..], &["--file-access", "shared"][..]] {
        let s = sandboxed(&t.0, opts);
        tests::assert_same(&n, &s);
    }
}

#[test]
fn the_working_directory_tree_reads_as_natively() {
    // The working directory is shown through the overlay (a read-only lower layer), whose
    // directories the sentry keeps: the same commands from there.
    let t = Tree::new("cwd");
    populate(&t.0);
    let n = native(&t.0);
    let mut cmd = Command::new(tests::sandbox_bin());
    cmd.arg("run")
        .args(tests::tmp_volumes())
        .args(["/bin/sh", "-c", SCRIPT, "sh"])
        .arg(&t.0)
        .current_dir(&t.0);
    let s = tests::execute(cmd);
    tests::assert_same(&n, &s);
}

#[test]
fn shared_file_access_sees_the_hosts_changes_as_natively() {
    let t = Tree::new("shared");
    let fresh = |t: &Tree| {
        let _ = std::fs::remove_file(t.0.join("new"));
        std::fs::write(t.0.join("old"), "stale\n").expect("write");
    };
    fresh(&t);
    let mut c = Command::new("/bin/sh");
    c.arg("-c");
    let native = change_while_running(c, &t.0, &t.0.to_string_lossy());
    assert_eq!(native, "old\nstale\nREADY\nnew\nfresh\nno-old\n");
    fresh(&t);
    let vol = format!("{}:/vol:ro", t.0.display());
    let mut c = Command::new(tests::sandbox_bin());
    c.args([
        "run",
        "--cwd",
        "/",
        "--file-access",
        "shared",
        "-v",
        &vol,
        "/bin/sh",
        "-c",
    ]);
    let shared = change_while_running(c, &t.0, "/vol");
    assert_eq!(shared, native);
    fresh(&t);
    let mut c = Command::new(tests::sandbox_bin());
    c.args(["run", "--cwd", "/", "-v", &vol, "/bin/sh", "-c"]);
    let exclusive = change_while_running(c, &t.0, "/vol");
    // Exclusive access: the listing and the absent name "new" were kept, so the sandbox still
    // shows the tree as it first saw it (its open "old" was a shared descriptor of the file,
    // which the host's unlink leaves readable).
    assert_eq!(
        exclusive, "old\nstale\nREADY\nold\nno-new\nstale\n",
        "exclusive: {exclusive}"
    );
}

/// Runs the command (a shell and `-c`, given) on a script that lists `dir`, waits for a line on
/// stdin while the host adds a file to `tree` and removes one, and lists it again; returns
/// everything printed.
fn change_while_running(mut cmd: Command, tree: &Path, dir: &str) -> String {
    let script = r#"ls "$1"; cat "$1/old"; echo READY; read x; ls "$1"; cat "$1/new" 2>/dev/null || echo no-new; cat "$1/old" 2>/dev/null || echo no-old"#;
    cmd.args([script, "sh", dir])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn");
    let mut out = String::new();
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut stdin = child.stdin.take();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            break;
        }
        out.push_str(&line);
        if line == "READY\n" {
            std::fs::write(tree.join("new"), "fresh\n").expect("write");
            std::fs::remove_file(tree.join("old")).expect("rm");
            if let Some(mut s) = stdin.take() {
                s.write_all(b"go\n").expect("write");
            }
        }
    }
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}: {out}");
    out
}

#[test]
fn a_tar_of_a_system_tree_is_byte_identical() {
    // Names, order, modes, owners, sizes, times and contents of a whole tree read through
    // listings (and subdirectory listings fetched ahead, as a walk goes) and shared
    // descriptors: the archive must be the same bytes.
    tests::require_tool("/usr/include/stdio.h");
    let script =
        "tar cf - -C /usr include | md5sum; find /usr/include -newer /usr/include/stdio.h | md5sum";
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", script]);
    let n = tests::execute(cmd);
    assert_eq!(n.status, 0, "{n}");
    for opts in [&[][..], &["--file-access", "shared"][..]] {
        let mut args = vec!["run", "--cwd", "/"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["/bin/sh", "-c", script]);
        let s = tests::sandbox_command(args);
        tests::assert_same(&n, &s);
    }
}
