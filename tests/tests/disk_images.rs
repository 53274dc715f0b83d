// SPDX-License-Identifier: Apache-2.0
//! Disk images inside the sandbox (issue 15): a program makes an image, attaches it to one of
//! the sentry's loop devices, formats it with the host's own mkfs run inside, mounts it, and
//! the sentry alone parses it. Sandbox-only: the host kernel here has no vfat, and nothing of
//! this may reach the host (its mount table, its /dev, its loop devices are checked unchanged).

use tests::sandbox_command;

fn sh(script: &str) -> tests::Outcome {
    sandbox_command(["run", "/bin/sh", "-c", script])
}

fn host_state() -> (String, Vec<String>, String) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mut dev: Vec<String> = std::fs::read_dir("/dev")
        .expect("/dev")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dev.sort();
    let losetup = std::process::Command::new("losetup")
        .arg("-a")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    (mountinfo, dev, losetup)
}

/// The "done when": a vfat image made, filled with a header tree, unmounted, checked
/// clean by fsck.vfat, and shown again read-only, all inside; the host sees none of it.
#[test]
fn vfat_image_round_trip() {
    tests::require_tool("/usr/sbin/mkfs.vfat");
    tests::require_tool("/usr/sbin/losetup");
    let before = host_state();
    // /usr/include/linux has names that differ only by case (xt_MARK.h, xt_mark.h), which one
    // FAT directory cannot hold: the copy leaves out the upper-case ones.
    let out = sh(
        "set -e; cd /tmp; truncate -s 64M img; mkfs.vfat img >/dev/null; mkdir m src; \
         cp -r /usr/include/linux src/; \
         rm -f src/linux/netfilter/xt_[A-Z]*.h src/linux/netfilter_ipv4/ipt_[A-Z]*.h \
               src/linux/netfilter_ipv6/ip6t_[A-Z]*.h; \
         mount -o loop img m; grep ' /tmp/m ' /proc/mounts | cut -d' ' -f1,3; \
         stat -f -c %t m; cp -r src/linux m/; umount m; losetup -a; \
         fsck.vfat -n img >/dev/null && echo fsck clean; \
         mount -o loop,ro img m; diff -r src/linux m/linux && echo same tree; \
         touch m/new 2>/dev/null || echo read-only; umount m; losetup -a; echo end",
    );
    assert_eq!(
        out.stdout, "/dev/loop0 vfat\n4d44\nfsck clean\nsame tree\nread-only\nend\n",
        "{out:?}"
    );
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(
        host_state(),
        before,
        "the host's mounts, /dev or loop devices changed"
    );
}

/// Files and directories on a mounted image: create, write, read, rename (also to another
/// directory), truncate, unlink, rmdir, a full volume's ENOSPC, statfs, and fsck afterwards.
#[test]
fn vfat_file_operations() {
    tests::require_tool("/usr/sbin/mkfs.vfat");
    let out = sh(
        "cd /tmp; truncate -s 2M img; mkfs.vfat img >/dev/null; mkdir m; \
         losetup -f --show img; mount /dev/loop0 m || exit 1; \
         echo hello > m/a.txt; cat m/a.txt; mkdir m/d m/e; mv m/a.txt m/d/b.txt; \
         ls m/d; mv m/d m/e/; ls m/e/d; truncate -s 3 m/e/d/b.txt; cat m/e/d/b.txt; echo; \
         rmdir m/e 2>&1 | grep -c 'not empty'; rm m/e/d/b.txt; rmdir m/e/d m/e; ls -A m | wc -l; \
         dd if=/dev/zero of=m/big bs=64k count=100 2>&1 | grep -c 'No space left'; \
         df -k m | awk 'NR==2 {print $4}'; rm m/big; \
         mkdir -p m/x/y/z; echo deep > m/x/y/z/f; sync; umount m; losetup -d /dev/loop0; \
         fsck.vfat -n img >/dev/null && echo fsck clean",
    );
    assert_eq!(
        out.stdout, "/dev/loop0\nhello\nb.txt\nb.txt\nhel\n1\n0\n1\n0\nfsck clean\n",
        "{out:?}"
    );
}

/// Hostile images: garbage is refused at mount (EINVAL), and a root directory whose cluster
/// chain loops on itself (every entry used) gives an error for the looping walk (EUCLEAN, or
/// EIO once the request budget runs out), never a hang or a dead sentry.
#[test]
fn vfat_hostile_images() {
    tests::require_tool("/usr/sbin/mkfs.vfat");
    let out = sh("cd /tmp; mkdir m; head -c 4M /dev/urandom > junk; \
         mount -o loop junk m 2>/dev/null; echo junk=$?; losetup -a | wc -l; \
         truncate -s 40M img; mkfs.vfat -F 32 -s 1 img >/dev/null; \
         python3 -c \"
import struct
f = open('img', 'r+b')
b = f.read(512)
bps, res, nfats = struct.unpack_from('<H', b, 11)[0], struct.unpack_from('<H', b, 14)[0], b[16]
spf, root = struct.unpack_from('<I', b, 36)[0], struct.unpack_from('<I', b, 44)[0]
for k in range(nfats):
    f.seek((res + k * spf) * bps + 4 * root)
    f.write(struct.pack('<I', root))
f.seek((res + nfats * spf + (root - 2)) * bps)
f.write(b''.join(b'F%07d   ' % i + bytes([0x20]) + bytes(20) for i in range(bps // 32)))
\"; mount -o loop img m; echo mount=$?; \
         ls m 2>&1 | grep -c -E 'Input/output error|Structure needs cleaning'; \
         ls m 2>&1 | grep -c -E 'Input/output error|Structure needs cleaning'; \
         cat m/nothere 2>&1 | grep -c -E 'Input/output error|Structure needs cleaning'; \
         umount m; echo alive");
    assert_eq!(
        out.stdout, "junk=32\n0\nmount=0\n1\n1\n1\nalive\n",
        "{out:?}"
    );
}

/// The "done when" for ext4: an image made by mkfs.ext4 inside, filled with a header
/// tree through the sentry's ext4, unmounted, checked clean by fsck.ext4, and shown again
/// read-only; the host sees none of it.
#[test]
fn ext4_image_round_trip() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    tests::require_tool("/usr/sbin/losetup");
    let before = host_state();
    let out = sh(
        "set -e; cd /tmp; truncate -s 64M img && mkfs.ext4 -q img && mkdir m && \
         mount -o loop img m && grep ' /tmp/m ' /proc/mounts | cut -d' ' -f1,3; \
         stat -f -c '%t %S %b' m; grep -w ext4 /proc/filesystems; \
         cp -r /usr/include/linux m/ && umount m && losetup -a; \
         fsck.ext4 -fn img >/dev/null 2>&1 && echo fsck clean; \
         mount -o loop,ro img m; diff -r /usr/include/linux m/linux && echo same tree; \
         touch m/new 2>/dev/null || echo read-only; umount m; losetup -a; echo end",
    );
    assert_eq!(
        out.stdout,
        "/dev/loop0 ext4\nef53 1024 56037\n\text4\nfsck clean\nsame tree\nread-only\nend\n",
        "{out:?}"
    );
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(
        host_state(),
        before,
        "the host's mounts, /dev or loop devices changed"
    );
}

/// A remount changes an ext4 volume between read-only and read-write (the sentry mounts its
/// volume again writable, replaying the journal), statfs reports the mount's flags, and
/// what was written through the remounted volume is there and checked clean. A read-only
/// loop device refuses the read-write remount (EACCES: util-linux's "write-protected").
/// The same script natively gives the same lines (checked by hand on this machine's ext4).
#[test]
fn ext4_remounts() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    tests::require_tool("/usr/sbin/losetup");
    let out = sh(
        "set -e; cd /tmp; truncate -s 16M img && mkfs.ext4 -q img && mkdir m; \
         dev=$(losetup -f --show img); mount -o ro $dev m; \
         touch m/f 2>/dev/null || echo ro; stat -f -c %t m; \
         python3 -c 'import os; print(hex(os.statvfs(\"m\").f_flag))'; \
         mount -o remount,rw,nosuid m; grep ' /tmp/m ' /proc/mounts | cut -d' ' -f4; \
         python3 -c 'import os; print(hex(os.statvfs(\"m\").f_flag))'; \
         echo hello > m/f; mkdir m/d; cp /etc/hostname m/d/h; \
         mount -o remount,ro m; touch m/g 2>/dev/null || echo ro again; cat m/f; \
         mount -o remount,rw m; echo again > m/g; umount m; \
         fsck.ext4 -fn $dev >/dev/null 2>&1 && echo fsck clean; \
         mount $dev m; cat m/f m/g; ls m/d; umount m; losetup -d $dev; \
         mount -o loop,ro img m; mount -o remount,rw m 2>/dev/null || echo write-protected; \
         umount m; echo end",
    );
    assert_eq!(
        out.stdout,
        "ro\nef53\n0x1001\nrw,nosuid,relatime\n0x1002\nro again\nhello\nfsck clean\n\
         hello\nagain\nh\nwrite-protected\nend\n",
        "{out:?}"
    );
    assert_eq!(out.status, 0, "{out:?}");
}

/// The same remounts on a vfat volume (sandbox only: the host kernel here has no vfat).
#[test]
fn vfat_remounts() {
    tests::require_tool("/usr/sbin/mkfs.vfat");
    tests::require_tool("/usr/sbin/losetup");
    let out = sh(
        "set -e; cd /tmp; truncate -s 16M img; mkfs.vfat img >/dev/null; mkdir m; \
         dev=$(losetup -f --show img); mount -o ro $dev m; touch m/f 2>/dev/null || echo ro; \
         mount -o remount,rw m; echo hello > m/f; mkdir m/d; \
         mount -o remount,ro m; touch m/g 2>/dev/null || echo ro again; cat m/f; \
         mount -o remount,rw m; echo again > m/g; umount m; \
         fsck.vfat -n $dev >/dev/null && echo fsck clean; \
         mount $dev m; cat m/f m/g; ls m; umount m; losetup -d $dev; echo end",
    );
    assert_eq!(
        out.stdout, "ro\nro again\nhello\nfsck clean\nhello\nagain\nd\nf\ng\nend\n",
        "{out:?}"
    );
    assert_eq!(out.status, 0, "{out:?}");
}

/// The same for ext2 (block maps, no journal) and ext3 (block maps and a journal), mounted
/// under their own type names.
#[test]
fn ext2_ext3_image_round_trip() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    for t in ["ext2", "ext3"] {
        let out = sh(&format!(
            "set -e; cd /tmp; truncate -s 32M img && mkfs.{t} -q img && mkdir m && \
             mount -t {t} -o loop img m && grep ' /tmp/m ' /proc/mounts | cut -d' ' -f3; \
             cp -r /usr/include/linux m/ && umount m && \
             fsck.{t} -fn img >/dev/null 2>&1 && echo fsck clean; \
             mount -o loop,ro img m; diff -r /usr/include/linux m/linux && echo same tree; \
             umount m; echo end"
        ));
        assert_eq!(
            out.stdout,
            format!("{t}\nfsck clean\nsame tree\nend\n"),
            "{t}: {out:?}"
        );
    }
}

/// Files on a mounted ext4: create, write, read, rename (also to another directory),
/// truncate, unlink, rmdir, symlinks, hard links, FIFOs and devices, chmod/chown/utimes,
/// xattrs, a file read after its last name went, a full volume's ENOSPC, fsync, mount options,
/// and fsck afterwards (also after the full file is removed: its blocks all come back).
#[test]
fn ext4_file_operations() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    let out = sh("cd /tmp; truncate -s 8M img; mkfs.ext4 -q img; mkdir m; \
         losetup -f --show img; \
         mount -o errors=remount-ro,data=ordered,sync /dev/loop0 m || exit 1; \
         echo hello > m/a.txt; cat m/a.txt; mkdir m/d m/e; mv m/a.txt m/d/b.txt; \
         ls m/d; mv m/d m/e/; ls m/e/d; truncate -s 3 m/e/d/b.txt; cat m/e/d/b.txt; echo; \
         rmdir m/e 2>&1 | grep -c 'not empty'; rm m/e/d/b.txt; rmdir m/e/d m/e; ls -A m; \
         ln -s target m/sl; readlink m/sl; echo x > m/h1; ln m/h1 m/h2; \
         stat -c '%h %s' m/h1; mkfifo m/fifo; stat -c %F m/fifo; \
         mknod m/cdev c 1 3; stat -c '%F %t %T' m/cdev; \
         chmod 600 m/h1; chown 12:34 m/h1; stat -c '%a %u %g' m/h1; \
         touch -d @1000000000 m/h2; stat -c %Y m/h2; \
         python3 -c \"
import os
os.setxattr('m/h1', 'user.k', b'val'); print(os.getxattr('m/h1', 'user.k'), os.listxattr('m/h1'))
os.removexattr('m/h1', 'user.k')
try: os.getxattr('m/h1', 'user.k')
except OSError as e: print(e.errno)
\"; \
         exec 3<m/h1; rm m/h1 m/h2; cat <&3; exec 3<&-; \
         dd if=/dev/zero of=m/big bs=64k count=200 2>&1 | grep -c 'No space left'; \
         df -k m | awk 'NR==2 {print $4}'; umount m; \
         fsck.ext4 -fn img >/dev/null 2>&1 && echo fsck clean; \
         mount /dev/loop0 m; rm m/big; \
         dd if=/dev/urandom of=m/r bs=1k count=300 2>/dev/null; sync m/r; \
         sha1sum < m/r > sum; mkdir -p m/x/y/z; echo deep > m/x/y/z/f; sync; umount m; \
         fsck.ext4 -fn img >/dev/null 2>&1 && echo fsck clean; \
         mount -o ro,noload /dev/loop0 m; sha1sum < m/r | cmp - sum && echo same data; \
         cat m/x/y/z/f; umount m; losetup -d /dev/loop0; \
         mount -o loop,bogus img m 2>/dev/null; echo bogus=$?; \
         mount -o loop,usrquota img m 2>/dev/null; echo quota=$?");
    assert_eq!(
        out.stdout,
        "/dev/loop0\nhello\nb.txt\nb.txt\nhel\n1\nlost+found\ntarget\n2 2\nfifo\n\
         character special file 1 3\n600 12 34\n1000000000\nb'val' ['user.k']\n61\nx\n1\n0\n\
         fsck clean\nfsck clean\nsame data\ndeep\nbogus=32\nquota=32\n",
        "{out:?}"
    );
}

/// SEEK_HOLE and SEEK_DATA on an ext4 image see a punched hole, a hole made by seeking past
/// the end before writing, and a preallocated (unwritten) range as holes, as Linux's ext4
/// reports them (the same answers abi_edges checks on tmpfs natively); FS_IOC_FIEMAP lists
/// a file's extents as ext4 does (unknown flags: EBADR with them written back; a count of 0
/// counts; the last extent marked FIEMAP_EXTENT_LAST; a short array holds the first ones).
#[test]
fn ext4_holes_and_extents_are_seen() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    let out = sh("cd /tmp; truncate -s 8M img; mkfs.ext4 -q -b 4096 img; mkdir m;          mount -o loop img m || exit 1; python3 -c \"
import os
fd = os.open('m/f', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'x' * 16384)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
assert libc.fallocate(fd, 3, ctypes.c_long(4096), ctypes.c_long(8192)) == 0
print(os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 4096, os.SEEK_DATA), os.lseek(fd, 12288, os.SEEK_HOLE))
os.pwrite(fd, b'y', 65536)
print(os.lseek(fd, 16384, os.SEEK_DATA), os.lseek(fd, 20000, os.SEEK_HOLE))
assert libc.fallocate(fd, 1, ctypes.c_long(131072), ctypes.c_long(8192)) == 0
try: os.lseek(fd, 65537, os.SEEK_DATA)
except OSError as e: print('ENXIO' if e.errno == 6 else e.errno)
import fcntl, struct
g = os.open('m/g', os.O_RDWR | os.O_CREAT, 0o644)
for b in (0, 2, 4): os.pwrite(g, b'z' * 4096, b * 4096)
def fiemap(flags, count):
    buf = bytearray(struct.pack('QQIIII', 0, 2**64 - 1, flags, 0, count, 0) + bytes(56 * count))
    try: fcntl.ioctl(g, 0xc020660b, buf)
    except OSError as e: return e.errno, struct.unpack_from('I', buf, 16)[0], []
    n = struct.unpack_from('I', buf, 20)[0]
    return 0, n, [struct.unpack_from('QQQ', buf, 32 + 56 * i)[0::2] + (struct.unpack_from('I', buf, 32 + 56 * i + 40)[0],) for i in range(min(n, count))]
print(fiemap(0xffffffff, 1)[:2] == (53, 0xfffffff8), fiemap(1, 0)[:2], fiemap(1, 8)[2], fiemap(0, 2)[2])
\"; umount m; fsck.ext4 -fn img >/dev/null 2>&1 && echo fsck clean");
    assert_eq!(
        out.stdout,
        "4096 12288 16384\n65536 20000\nENXIO\nTrue (0, 3) [(0, 4096, 0), (8192, 4096, 0), \
         (16384, 4096, 1)] [(0, 4096, 0), (8192, 4096, 0)]\nfsck clean\n",
        "{out:?}"
    );
}

/// Hostile ext images: garbage is refused at mount (EINVAL); an image whose metadata lies
/// (checksums recomputed, so only the structure is wrong: a directory's extent pointing past
/// the volume, a file's extent pointing into the inode table) gives EUCLEAN or EIO for what
/// touches it, never a hang or a dead sentry; random damage to a filled image is survived.
/// (Reads are bounded: damage may give a file a size of terabytes, all hole, which reads as
/// zeroes as on Linux.)
#[test]
fn ext4_hostile_images() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    tests::require_tool("/usr/sbin/debugfs");
    let out = sh("cd /tmp; mkdir m; head -c 4M /dev/urandom > junk; \
         mount -t ext4 -o loop junk m 2>/dev/null; echo junk=$?; losetup -a | wc -l; \
         truncate -s 8M img; mkfs.ext4 -q img; mount -o loop img m; mkdir m/d; \
         for i in $(seq 1 200); do echo $i > m/d/f$i; done; echo data > m/f; umount m; \
         debugfs -w -R 'sif d block[5] 0x7fffff' img 2>/dev/null; \
         debugfs -w -R 'sif f block[5] 5' img 2>/dev/null; \
         mount -o loop img m; echo mount=$?; \
         ls m/d 2>&1 | grep -c -E 'Input/output error|Structure needs cleaning'; \
         cat m/f 2>&1 | grep -c -E 'Input/output error|Structure needs cleaning'; \
         umount m; \
         python3 -c \"
import random
random.seed(7)
b = bytearray(open('img', 'rb').read())
for i in range(30):
    f = open('bad%d' % i, 'wb')
    c = bytearray(b)
    for _ in range(40):
        c[random.randrange(0, 1 << 20)] = random.randrange(256)
    f.write(c)
\"; \
         for i in $(seq 0 29); do \
           if mount -o loop bad$i m 2>/dev/null; then \
             ls -R m >/dev/null 2>&1; \
             for f in m/d/* m/f; do head -c 65536 $f; done >/dev/null 2>&1; \
             echo x > m/new 2>/dev/null; rm -rf m/d 2>/dev/null; umount m; fi; \
         done; echo alive");
    assert_eq!(out.stdout, "junk=32\n0\nmount=0\n1\n1\nalive\n", "{out:?}");
}

/// Programs stored on an image run (issue 15): their segments are mapped privately, from a
/// copy of the file (the sentry serves the image itself, so there is no host descriptor to
/// map); a private mapping of a file there reads its bytes, and a shared one is refused
/// (ENODEV) rather than silently incoherent.
#[test]
fn programs_on_ext4_and_vfat_images_run() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    tests::require_tool("/usr/sbin/mkfs.vfat");
    let out = sh(
        "set -e; cd /tmp; for fs in ext4 vfat; do \
           truncate -s 16M $fs.img; mkfs.$fs $fs.img >/dev/null 2>&1; mkdir $fs; \
           mount -o loop $fs.img $fs; cp /bin/busybox $fs/busybox; echo 'hello from the image' > $fs/t; \
           $fs/busybox echo \"$fs: busybox runs\"; \
           $fs/busybox head -c 5 $fs/t; echo; \
           python3 -c \"import mmap,sys; f=open('$fs/t','rb'); \
m=mmap.mmap(f.fileno(),0,flags=mmap.MAP_PRIVATE,prot=mmap.PROT_READ); print(m[:10].decode())\"; \
           python3 -c \"import mmap; f=open('$fs/t','r+b'); \
m=mmap.mmap(f.fileno(),0,flags=mmap.MAP_SHARED)\" 2>&1 | tail -1 | grep -o 'No such device' || true; \
           umount $fs; done",
    );
    assert_eq!(
        out.stdout,
        "ext4: busybox runs\nhello\nhello from\nNo such device\n\
         vfat: busybox runs\nhello\nhello from\nNo such device\n",
        "{out:?}"
    );
    assert_eq!(out.status, 0, "{out:?}");
}

/// Inode flags on the sentry's ext4 (chattr, lsattr; unlink09, file_attr01): kept on disk,
/// shown with ext4's own (EXTENTS_FL, `e`), and enforced: an immutable file is neither
/// removed nor written, nothing leaves an append-only directory; the image stays clean. The
/// transcript is Linux 6.18's own for the same script on its ext4 (run by hand as root:
/// natively it would mount on the host).
#[test]
fn ext4_inode_flags() {
    tests::require_tool("/usr/sbin/mkfs.ext4");
    tests::require_tool("/usr/bin/chattr");
    let out = sh(
        "cd /tmp; truncate -s 16M img; mkfs.ext4 -q img; mkdir m; mount -o loop img m; \
         echo hi > m/f; mkdir m/d; chattr +i m/f; chattr +a m/d; lsattr -d m/f m/d; \
         rm m/f 2>&1; (echo more >> m/f) 2>&1 | sed 's/.*: //'; touch m/d/new; \
         rm m/d/new 2>&1; chattr -i m/f; chattr -a m/d; rm m/f m/d/new; lsattr -d m/d; \
         umount m; fsck.ext4 -fn img >/dev/null && echo fsck clean",
    );
    assert_eq!(
        out.stdout,
        "----i---------e------- m/f\n-----a--------e------- m/d\n\
         rm: cannot remove 'm/f': Operation not permitted\nOperation not permitted\n\
         rm: cannot remove 'm/d/new': Operation not permitted\n\
         --------------e------- m/d\nfsck clean\n",
        "{out:?}"
    );
}
