// SPDX-License-Identifier: Apache-2.0
//! The kernel key retention service (keyrings(7)): the keys and keyrings add_key(2),
//! request_key(2) and keyctl(2) work on, kept by the sentry for the whole sandbox (one key
//! namespace, as one user namespace), after Linux's security/keys.
//!
//! - Keys have a random positive serial, a type, a description, an owner, a group and a
//!   permission mask of four 6-bit groups (possessor, user, group, other). A key is
//!   *possessed* by a task when it can be reached from the task's thread, process or session
//!   keyring through keyrings the task may search; possession adds the top group's rights.
//! - Types: `keyring`, `user`, `logon` (not readable) and `big_key` (up to 1 MiB, kept in the
//!   sentry's memory rather than in a shmem file). Other types (asymmetric, encrypted,
//!   trusted, dns_resolver, ...) are ENODEV as on a kernel built without them, and
//!   /proc/config.gz says so.
//! - The thread, process and session keyrings live in the task's credentials, with Linux's
//!   rules: a new thread has no thread keyring and shares its creator's process keyring, a new
//!   process has neither, execve drops both, the session keyring is inherited and survives
//!   exec. Each uid has a user keyring and a user session keyring, made on first use; a task
//!   without a session keyring falls back to its user session keyring.
//! - Quotas as Linux: per owner a number of keys and of bytes (description + 1 + payload),
//!   /proc/sys/kernel/keys/{maxkeys,maxbytes,root_maxkeys,root_maxbytes}, shown in
//!   /proc/key-users; EDQUOT past them. Each key is also charged to the sandbox's memory
//!   budget, so raising root's quota cannot make the sentry allocate without bound.
//! - A key nothing refers to (no keyring links it, no credentials hold it) is destroyed at
//!   once; Linux's garbage collector does the same a moment later. Revoked and expired keys
//!   stay linked until unlinked (Linux unlinks them after gc_delay seconds).
//! - request_key(2) finds a key in the caller's keyrings; when there is none and callout
//!   information is given, Linux runs /sbin/request-key to make one. The sandbox has no
//!   upcall: the new key is negated at once (ENOKEY for key_negative_timeout, 60 s), which
//!   is what Linux does when request-key is missing or declines. Instantiation keys
//!   (KEYCTL_INSTANTIATE, NEGATE, REJECT, ASSUME_AUTHORITY) therefore never exist: EPERM.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use syscalls::Errno;

use super::{lock, Credentials};

/// Special keyring ids (KEY_SPEC_*).
pub const KEY_SPEC_THREAD_KEYRING: i32 = -1;
/// The process keyring.
pub const KEY_SPEC_PROCESS_KEYRING: i32 = -2;
/// The session keyring.
pub const KEY_SPEC_SESSION_KEYRING: i32 = -3;
/// The user keyring.
pub const KEY_SPEC_USER_KEYRING: i32 = -4;
/// The user session keyring.
pub const KEY_SPEC_USER_SESSION_KEYRING: i32 = -5;
/// The group keyring (never implemented by Linux).
pub const KEY_SPEC_GROUP_KEYRING: i32 = -6;
/// The instantiation authorisation key.
pub const KEY_SPEC_REQKEY_AUTH_KEY: i32 = -7;
/// The requestor's keyring.
pub const KEY_SPEC_REQUESTOR_KEYRING: i32 = -8;

/// Permission bits (one group).
pub const KEY_VIEW: u32 = 0x01;
/// Read.
pub const KEY_READ: u32 = 0x02;
/// Write (update, link into a keyring).
pub const KEY_WRITE: u32 = 0x04;
/// Search.
pub const KEY_SEARCH: u32 = 0x08;
/// Link.
pub const KEY_LINK: u32 = 0x10;
/// Set attributes.
pub const KEY_SETATTR: u32 = 0x20;
const KEY_ALL: u32 = 0x3f;
const POS_ALL: u32 = KEY_ALL << 24;
const USR_VIEW: u32 = KEY_VIEW << 16;
/// Every valid permission bit.
pub const PERM_MASK: u32 = 0x3f3f_3f3f;

/// The longest description (KEY_MAX_DESC_SIZE).
pub const MAX_DESC: usize = 4096;
/// How long a negated key lasts (key_negative_timeout).
const NEGATIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How deep a search goes through nested keyrings (KEYRING_SEARCH_MAX_DEPTH).
const MAX_DEPTH: usize = 6;
/// What a key costs the sentry beyond its description and payload (for the memory budget).
const OVERHEAD: u64 = 192;

/// /proc/sys/kernel/keys/maxkeys.
pub static MAXKEYS: AtomicU64 = AtomicU64::new(200);
/// /proc/sys/kernel/keys/maxbytes.
pub static MAXBYTES: AtomicU64 = AtomicU64::new(20000);
/// /proc/sys/kernel/keys/root_maxkeys.
pub static ROOT_MAXKEYS: AtomicU64 = AtomicU64::new(1_000_000);
/// /proc/sys/kernel/keys/root_maxbytes.
pub static ROOT_MAXBYTES: AtomicU64 = AtomicU64::new(25_000_000);
/// /proc/sys/kernel/keys/gc_delay.
pub static GC_DELAY: AtomicU64 = AtomicU64::new(300);
/// /proc/sys/kernel/keys/persistent_keyring_expiry.
pub static PERSISTENT_EXPIRY: AtomicU64 = AtomicU64::new(259_200);

/// A key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A keyring: a list of links to keys.
    Keyring,
    /// Up to 32,767 bytes of data.
    User,
    /// As `user`, never readable from user space; descriptions are "service:name".
    Logon,
    /// Up to 1 MiB - 1 of data.
    BigKey,
}

impl KeyType {
    /// The type named `name`; ENODEV for a type this kernel does not have.
    pub fn lookup(name: &[u8]) -> Option<KeyType> {
        match name {
            b"keyring" => Some(KeyType::Keyring),
            b"user" => Some(KeyType::User),
            b"logon" => Some(KeyType::Logon),
            b"big_key" => Some(KeyType::BigKey),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Keyring => "keyring",
            KeyType::User => "user",
            KeyType::Logon => "logon",
            KeyType::BigKey => "big_key",
        }
    }

    fn readable(self) -> bool {
        self != KeyType::Logon
    }

    fn updatable(self) -> bool {
        self != KeyType::Keyring
    }

    /// Checks a description and payload (the type's vet_description and preparse).
    fn preparse(self, desc: &[u8], data: Option<&[u8]>) -> Result<(), Errno> {
        let len = data.map_or(0, |d| d.len());
        match self {
            KeyType::Keyring => {
                if len != 0 {
                    return Err(Errno::EINVAL);
                }
            }
            KeyType::User | KeyType::Logon => {
                if data.is_none() || len == 0 || len > 32767 {
                    return Err(Errno::EINVAL);
                }
                if self == KeyType::Logon {
                    match desc.iter().position(|&b| b == b':') {
                        Some(0) | None => return Err(Errno::EINVAL),
                        Some(_) => {}
                    }
                }
            }
            KeyType::BigKey => {
                if data.is_none() || len == 0 || len > (1 << 20) - 1 {
                    return Err(Errno::EINVAL);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Payload {
    Data(Vec<u8>),
    Ring(Vec<i32>),
}

#[derive(Debug)]
struct Key {
    serial: i32,
    ktype: KeyType,
    desc: Vec<u8>,
    uid: u32,
    gid: u32,
    perm: u32,
    payload: Payload,
    /// 0 when instantiated, the rejection errno (negative) when negated.
    state: i32,
    revoked: bool,
    invalidated: bool,
    expiry: Option<Instant>,
    /// Charged to the owner: description + 1 + payload.
    quotalen: usize,
    /// Whose quota it counts against (the owner when made; chown moves it).
    quota_uid: u32,
    /// References from credentials (and the per-uid keyrings).
    refs: usize,
    /// Links from keyrings.
    links: usize,
    /// KEYCTL_RESTRICT_KEYRING without a type: no more links.
    locked: bool,
}

impl Key {
    fn ring(&self) -> Option<&Vec<i32>> {
        match &self.payload {
            Payload::Ring(r) => Some(r),
            Payload::Data(_) => None,
        }
    }

    fn data_len(&self) -> usize {
        match &self.payload {
            Payload::Data(d) => d.len(),
            Payload::Ring(r) => r.len() * 4,
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.expiry.is_some_and(|e| now >= e)
    }

    /// key_validate: usable at all.
    fn validate(&self, now: Instant) -> Result<(), Errno> {
        if self.invalidated {
            return Err(Errno::ENOKEY);
        }
        if self.revoked {
            return Err(Errno::EKEYREVOKED);
        }
        if self.expired(now) {
            return Err(Errno::EKEYEXPIRED);
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct KeyUser {
    nkeys: u64,
    nikeys: u64,
    nbytes: u64,
    user_keyring: Option<i32>,
    session_keyring: Option<i32>,
}

#[derive(Default)]
struct Registry {
    keys: BTreeMap<i32, Key>,
    users: HashMap<u32, KeyUser>,
    seed: u64,
}

fn registry() -> MutexGuard<'static, Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    lock(R.get_or_init(|| {
        let seed = std::collections::hash_map::RandomState::new();
        let seed = std::hash::BuildHasher::hash_one(&seed, 0x6b65_7973u64) | 1;
        Mutex::new(Registry {
            seed,
            ..Default::default()
        })
    }))
}

/// A counted reference to a key, held by credentials: the key lives while one exists.
#[derive(Debug, Clone)]
pub struct KeyRef(Arc<Hold>);

#[derive(Debug)]
struct Hold(i32);

impl Drop for Hold {
    fn drop(&mut self) {
        registry().put(self.0);
    }
}

impl KeyRef {
    /// The key's serial.
    pub fn serial(&self) -> i32 {
        self.0 .0
    }
}

/// The keyrings a task's credentials carry.
#[derive(Debug, Clone, Default)]
pub struct TaskKeys {
    /// The thread keyring.
    pub thread: Option<KeyRef>,
    /// The process keyring.
    pub process: Option<KeyRef>,
    /// The session keyring.
    pub session: Option<KeyRef>,
    /// The request-key default keyring (KEY_REQKEY_DEFL_*).
    pub reqkey: i32,
}

impl TaskKeys {
    /// What a new thread (`thread`) or process inherits: the session keyring, and for a
    /// thread the process keyring and a thread keyring of its own if its creator has one.
    pub fn for_clone(creds: &Credentials, thread: bool) -> TaskKeys {
        let me = &creds.keys;
        TaskKeys {
            thread: if thread && me.thread.is_some() {
                new_keyring_ref(creds, "_tid").ok()
            } else {
                None
            },
            process: if thread { me.process.clone() } else { None },
            session: me.session.clone(),
            reqkey: me.reqkey,
        }
    }

    /// What survives execve.
    pub fn for_exec(&mut self) {
        self.thread = None;
        self.process = None;
    }
}

/// A session keyring waiting to be installed in another task (KEYCTL_SESSION_TO_PARENT): one
/// atomic load per trip into the program when empty.
#[derive(Debug, Default)]
pub struct Handoff {
    set: std::sync::atomic::AtomicBool,
    key: Mutex<Option<KeyRef>>,
}

impl Handoff {
    /// Leaves `key` for the task (replacing one not yet taken).
    pub fn give(&self, key: KeyRef) {
        let old = lock(&self.key).replace(key);
        self.set.store(true, Ordering::Release);
        drop(old);
    }

    /// The keyring left for the task, if any.
    pub fn take(&self) -> Option<KeyRef> {
        if !self.set.load(Ordering::Acquire) {
            return None;
        }
        self.set.store(false, Ordering::Release);
        lock(&self.key).take()
    }
}

/// Gives a new process its first session keyring, as a container runtime does (runc makes one
/// per container): keys a program adds to @s then outlive the program, for its siblings.
pub fn new_session(c: &mut Credentials) -> Result<(), Errno> {
    c.keys.session = Some(new_session_ref(c)?);
    Ok(())
}

/// An anonymous session keyring (join_session_keyring(NULL)): its owner may also read it.
fn new_session_ref(c: &Credentials) -> Result<KeyRef, Errno> {
    let mut r = registry();
    let s = r.alloc(
        KeyType::Keyring,
        b"_ses",
        c.fsuid,
        c.fsgid,
        POS_ALL | USR_VIEW | (KEY_READ << 16),
        Payload::Ring(Vec::new()),
        0,
        true,
    )?;
    Ok(r.hold(s))
}

/// KEYCTL_SESSION_TO_PARENT's checks between the caller's credentials `me` and its parent's
/// `parent`: Ok(None) when they already share the session keyring, Ok(Some) with the keyring
/// to give, EPERM otherwise.
pub fn session_for_parent(
    me: &mut Credentials,
    parent: &Credentials,
) -> Result<Option<KeyRef>, Errno> {
    lookup(me, KEY_SPEC_SESSION_KEYRING, PLAIN, KEY_LINK)?;
    let mine = me.keys.session.clone().ok_or(Errno::EPERM)?;
    if parent.keys.session.as_ref().map(KeyRef::serial) == Some(mine.serial()) {
        return Ok(None);
    }
    let euid = me.uid.1;
    let egid = me.gid.1;
    if parent.uid.0 != euid
        || parent.uid.1 != euid
        || parent.uid.2 != euid
        || parent.fsuid != euid
        || parent.gid.0 != egid
        || parent.gid.1 != egid
        || parent.gid.2 != egid
        || parent.fsgid != egid
    {
        return Err(Errno::EPERM);
    }
    let r = registry();
    let owner = |k: &KeyRef| r.keys.get(&k.serial()).map(|k| k.uid);
    if parent
        .keys
        .session
        .as_ref()
        .is_some_and(|k| owner(k) != Some(euid))
        || owner(&mine) != Some(euid)
    {
        return Err(Errno::EPERM);
    }
    drop(r);
    Ok(Some(mine))
}

/// Who is asking: the credentials a permission check uses.
struct Who<'a> {
    uid: u32,
    gid: u32,
    groups: &'a [u32],
    keys: &'a TaskKeys,
}

impl<'a> Who<'a> {
    fn of(c: &'a Credentials) -> Who<'a> {
        Who {
            uid: c.fsuid,
            gid: c.fsgid,
            groups: &c.groups,
            keys: &c.keys,
        }
    }
}

fn admin(c: &Credentials) -> bool {
    c.caps & (1 << syscalls::abi::CAP_SYS_ADMIN) != 0
}

impl Registry {
    fn next_serial(&mut self) -> i32 {
        loop {
            // xorshift64*
            let mut x = self.seed;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.seed = x;
            let s = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as i32;
            if s >= 3 && !self.keys.contains_key(&s) {
                return s;
            }
        }
    }

    fn limits(uid: u32) -> (u64, u64) {
        if uid == 0 {
            (
                ROOT_MAXKEYS.load(Ordering::Relaxed),
                ROOT_MAXBYTES.load(Ordering::Relaxed),
            )
        } else {
            (
                MAXKEYS.load(Ordering::Relaxed),
                MAXBYTES.load(Ordering::Relaxed),
            )
        }
    }

    /// Makes a key (key_alloc + instantiate), charged to `uid`'s quota.
    #[allow(clippy::too_many_arguments)]
    fn alloc(
        &mut self,
        ktype: KeyType,
        desc: &[u8],
        uid: u32,
        gid: u32,
        perm: u32,
        payload: Payload,
        state: i32,
        quota: bool,
    ) -> Result<i32, Errno> {
        let datalen = match &payload {
            Payload::Data(d) => d.len(),
            Payload::Ring(_) => 0,
        };
        let quotalen = desc.len() + 1 + datalen;
        let user = self.users.entry(uid).or_default();
        if quota {
            let (maxkeys, maxbytes) = Self::limits(uid);
            if user.nkeys + 1 > maxkeys || user.nbytes + quotalen as u64 > maxbytes {
                return Err(Errno::EDQUOT);
            }
        }
        crate::limits::memory().charge(OVERHEAD + quotalen as u64, Errno::ENOMEM)?;
        user.nkeys += 1;
        if state == 0 {
            user.nikeys += 1;
        }
        user.nbytes += quotalen as u64;
        let serial = self.next_serial();
        self.keys.insert(
            serial,
            Key {
                serial,
                ktype,
                desc: desc.to_vec(),
                uid,
                gid,
                perm,
                payload,
                state,
                revoked: false,
                invalidated: false,
                expiry: None,
                quotalen,
                quota_uid: uid,
                refs: 0,
                links: 0,
                locked: false,
            },
        );
        Ok(serial)
    }

    /// Drops a credentials reference.
    fn put(&mut self, serial: i32) {
        if let Some(k) = self.keys.get_mut(&serial) {
            k.refs = k.refs.saturating_sub(1);
        }
        self.collect(serial);
    }

    /// Destroys `serial` if nothing refers to it, and then whatever only it linked.
    fn collect(&mut self, serial: i32) {
        let mut todo = vec![serial];
        while let Some(s) = todo.pop() {
            let dead = self
                .keys
                .get(&s)
                .is_some_and(|k| k.refs == 0 && k.links == 0);
            if !dead {
                continue;
            }
            let Some(k) = self.keys.remove(&s) else {
                continue;
            };
            if let Some(u) = self.users.get_mut(&k.quota_uid) {
                u.nkeys = u.nkeys.saturating_sub(1);
                if k.state == 0 {
                    u.nikeys = u.nikeys.saturating_sub(1);
                }
                u.nbytes = u.nbytes.saturating_sub(k.quotalen as u64);
            }
            crate::limits::memory().release(OVERHEAD + k.quotalen as u64);
            if let Payload::Ring(r) = k.payload {
                for c in r {
                    if let Some(ck) = self.keys.get_mut(&c) {
                        ck.links = ck.links.saturating_sub(1);
                        todo.push(c);
                    }
                }
            }
        }
    }

    /// A new credentials reference to `serial`.
    fn hold(&mut self, serial: i32) -> KeyRef {
        if let Some(k) = self.keys.get_mut(&serial) {
            k.refs += 1;
        }
        KeyRef(Arc::new(Hold(serial)))
    }

    /// Whether `target` can be reached from the task's own keyrings (is possessed).
    fn possessed(&self, who: &Who, target: i32, now: Instant) -> bool {
        let roots = self.roots(who);
        roots
            .iter()
            .any(|&r| r == target || self.reaches(who, r, target, now, 0))
    }

    fn roots(&self, who: &Who) -> Vec<i32> {
        let mut roots = Vec::with_capacity(3);
        for r in [&who.keys.thread, &who.keys.process, &who.keys.session]
            .into_iter()
            .flatten()
        {
            roots.push(r.serial());
        }
        if who.keys.session.is_none() {
            if let Some(s) = self.users.get(&who.uid).and_then(|u| u.session_keyring) {
                roots.push(s);
            }
        }
        roots
    }

    fn reaches(&self, who: &Who, ring: i32, target: i32, now: Instant, depth: usize) -> bool {
        if depth >= MAX_DEPTH {
            return false;
        }
        let Some(k) = self.keys.get(&ring) else {
            return false;
        };
        let Some(links) = k.ring() else {
            return false;
        };
        if k.validate(now).is_err() || self.perm_of(who, k, true) & KEY_SEARCH == 0 {
            return false;
        }
        links
            .iter()
            .any(|&c| c == target || self.reaches(who, c, target, now, depth + 1))
    }

    /// The rights `who` has on `k` (one 6-bit group), possession added when `possessed`.
    fn perm_of(&self, who: &Who, k: &Key, possessed: bool) -> u32 {
        let mut kperm = if k.uid == who.uid {
            k.perm >> 16
        } else if k.perm & (KEY_ALL << 8) != 0 && (k.gid == who.gid || who.groups.contains(&k.gid))
        {
            k.perm >> 8
        } else {
            k.perm
        };
        if possessed {
            kperm |= k.perm >> 24;
        }
        kperm & KEY_ALL
    }

    /// key_task_permission.
    fn check(&self, who: &Who, serial: i32, need: u32, now: Instant) -> Result<(), Errno> {
        let k = self.keys.get(&serial).ok_or(Errno::ENOKEY)?;
        if need == 0 {
            return Ok(());
        }
        let possessed = self.possessed(who, serial, now);
        if self.perm_of(who, k, possessed) & need == need {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    fn user_keyrings(&mut self, uid: u32, gid: u32) -> Result<(i32, i32), Errno> {
        let u = self.users.entry(uid).or_default();
        if let (Some(a), Some(b)) = (u.user_keyring, u.session_keyring) {
            if self.keys.contains_key(&a) && self.keys.contains_key(&b) {
                return Ok((a, b));
            }
        }
        let perm = POS_ALL | (KEY_ALL << 16);
        let user = self.alloc(
            KeyType::Keyring,
            format!("_uid.{uid}").as_bytes(),
            uid,
            gid,
            perm,
            Payload::Ring(Vec::new()),
            0,
            true,
        )?;
        let ses = match self.alloc(
            KeyType::Keyring,
            format!("_uid_ses.{uid}").as_bytes(),
            uid,
            gid,
            perm,
            Payload::Ring(Vec::new()),
            0,
            true,
        ) {
            Ok(s) => s,
            Err(e) => {
                self.collect(user);
                return Err(e);
            }
        };
        for s in [user, ses] {
            if let Some(k) = self.keys.get_mut(&s) {
                k.refs += 1;
            }
        }
        self.link_raw(ses, user);
        let u = self.users.entry(uid).or_default();
        u.user_keyring = Some(user);
        u.session_keyring = Some(ses);
        Ok((user, ses))
    }

    /// Links `key` into `ring`, replacing a key of the same type and description.
    fn link_raw(&mut self, ring: i32, key: i32) {
        let (ktype, desc) = match self.keys.get(&key) {
            Some(k) => (k.ktype, k.desc.clone()),
            None => return,
        };
        let mut replaced = None;
        let mut members: Vec<i32> = match self.keys.get(&ring).and_then(|k| k.ring()) {
            Some(r) => r.clone(),
            None => return,
        };
        if members.contains(&key) {
            return;
        }
        if let Some(pos) = members.iter().position(|m| {
            self.keys
                .get(m)
                .is_some_and(|o| o.ktype == ktype && o.desc == desc)
        }) {
            replaced = Some(members[pos]);
            members[pos] = key;
        } else {
            members.push(key);
        }
        if let Some(Key {
            payload: Payload::Ring(r),
            ..
        }) = self.keys.get_mut(&ring)
        {
            *r = members;
        }
        if let Some(k) = self.keys.get_mut(&key) {
            k.links += 1;
        }
        if let Some(old) = replaced {
            if let Some(o) = self.keys.get_mut(&old) {
                o.links = o.links.saturating_sub(1);
            }
            self.collect(old);
        }
    }

    /// key_link: checks, then links.
    fn link(&mut self, ring: i32, key: i32, now: Instant) -> Result<(), Errno> {
        let r = self.keys.get(&ring).ok_or(Errno::ENOKEY)?;
        if r.ktype != KeyType::Keyring {
            return Err(Errno::ENOTDIR);
        }
        r.validate(now)?;
        if r.locked {
            return Err(Errno::EPERM);
        }
        if key == ring || self.contains_deep(key, ring, 0) {
            return Err(Errno::EDEADLK);
        }
        if !self.keys.contains_key(&key) {
            return Err(Errno::ENOKEY);
        }
        self.link_raw(ring, key);
        Ok(())
    }

    /// Whether keyring `from` links `target` at any depth.
    fn contains_deep(&self, from: i32, target: i32, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        match self.keys.get(&from).and_then(|k| k.ring()) {
            Some(r) => r
                .iter()
                .any(|&c| c == target || self.contains_deep(c, target, depth + 1)),
            None => false,
        }
    }

    fn unlink(&mut self, ring: i32, key: i32) -> Result<(), Errno> {
        let r = self.keys.get_mut(&ring).ok_or(Errno::ENOKEY)?;
        let Payload::Ring(members) = &mut r.payload else {
            return Err(Errno::ENOTDIR);
        };
        let pos = members
            .iter()
            .position(|&m| m == key)
            .ok_or(Errno::ENOENT)?;
        members.remove(pos);
        if let Some(k) = self.keys.get_mut(&key) {
            k.links = k.links.saturating_sub(1);
        }
        self.collect(key);
        Ok(())
    }

    /// Searches keyring `ring` (and the keyrings it links, when searchable) for a key of
    /// `ktype` described `desc`: the key, or the error of the best candidate passed over.
    fn search_ring(
        &self,
        q: &Query,
        ring: i32,
        depth: usize,
        err: &mut Option<Errno>,
    ) -> Option<i32> {
        let Query {
            who,
            ktype,
            desc,
            possessed,
            now,
            skip_expired,
        } = *q;
        let members = self.keys.get(&ring)?.ring()?.clone();
        for &m in &members {
            let Some(k) = self.keys.get(&m) else {
                continue;
            };
            if k.ktype != ktype || k.desc != desc {
                continue;
            }
            if k.invalidated || k.revoked {
                err.get_or_insert(Errno::EKEYREVOKED);
                continue;
            }
            if k.expired(now) {
                if !skip_expired {
                    err.get_or_insert(Errno::EKEYEXPIRED);
                }
                continue;
            }
            if self.perm_of(who, k, possessed) & KEY_SEARCH == 0 {
                err.get_or_insert(Errno::EACCES);
                continue;
            }
            if k.state < 0 {
                *err = Some(Errno(-k.state));
                continue;
            }
            return Some(m);
        }
        if depth + 1 >= MAX_DEPTH {
            return None;
        }
        for &m in &members {
            let Some(k) = self.keys.get(&m) else {
                continue;
            };
            if k.ktype != KeyType::Keyring
                || k.validate(now).is_err()
                || self.perm_of(who, k, possessed) & KEY_SEARCH == 0
            {
                continue;
            }
            if let Some(found) = self.search_ring(q, m, depth + 1, err) {
                return Some(found);
            }
        }
        None
    }

    /// search_process_keyrings: the task's thread, process and session keyrings in turn.
    fn search_own(
        &self,
        who: &Who,
        ktype: KeyType,
        desc: &[u8],
        now: Instant,
    ) -> Result<i32, Errno> {
        let mut err = None;
        for r in self.roots(who) {
            let Some(k) = self.keys.get(&r) else {
                continue;
            };
            if k.validate(now).is_err() || self.perm_of(who, k, true) & KEY_SEARCH == 0 {
                continue;
            }
            // request_key passes over expired keys (KEYRING_SEARCH_SKIP_EXPIRED).
            let q = Query {
                who,
                ktype,
                desc,
                possessed: true,
                now,
                skip_expired: true,
            };
            if let Some(found) = self.search_ring(&q, r, 0, &mut err) {
                return Ok(found);
            }
        }
        Err(err.unwrap_or(Errno::ENOKEY))
    }
}

/// A search: for a key of `ktype` described `desc`, by `who` (possessing the keyrings searched
/// when `possessed`), passing over expired keys silently when `skip_expired` (request_key).
#[derive(Clone, Copy)]
struct Query<'a> {
    who: &'a Who<'a>,
    ktype: KeyType,
    desc: &'a [u8],
    possessed: bool,
    now: Instant,
    skip_expired: bool,
}

/// What lookup_user_key may do.
#[derive(Clone, Copy, Default)]
struct Lookup {
    /// Make a missing special keyring.
    create: bool,
    /// Accept keys that are negative, revoked or expired.
    partial: bool,
}

const CREATE: Lookup = Lookup {
    create: true,
    partial: false,
};
const PLAIN: Lookup = Lookup {
    create: false,
    partial: false,
};
const PARTIAL: Lookup = Lookup {
    create: false,
    partial: true,
};
const CREATE_PARTIAL: Lookup = Lookup {
    create: true,
    partial: true,
};

fn new_keyring_ref(c: &Credentials, desc: &str) -> Result<KeyRef, Errno> {
    let mut r = registry();
    let s = r.alloc(
        KeyType::Keyring,
        desc.as_bytes(),
        c.fsuid,
        c.fsgid,
        POS_ALL | USR_VIEW,
        Payload::Ring(Vec::new()),
        0,
        true,
    )?;
    let h = r.hold(s);
    Ok(h)
}

/// lookup_user_key: the serial an id names, made when asked for and checked for `need`.
fn lookup(c: &mut Credentials, id: i32, how: Lookup, need: u32) -> Result<i32, Errno> {
    let serial = match id {
        KEY_SPEC_THREAD_KEYRING => {
            if c.keys.thread.is_none() {
                if !how.create {
                    return Err(Errno::ENOKEY);
                }
                c.keys.thread = Some(new_keyring_ref(c, "_tid")?);
            }
            c.keys.thread.as_ref().map(KeyRef::serial)
        }
        KEY_SPEC_PROCESS_KEYRING => {
            if c.keys.process.is_none() {
                if !how.create {
                    return Err(Errno::ENOKEY);
                }
                c.keys.process = Some(new_keyring_ref(c, "_pid")?);
            }
            c.keys.process.as_ref().map(KeyRef::serial)
        }
        KEY_SPEC_SESSION_KEYRING => {
            if c.keys.session.is_none() {
                let (_, ses) = registry().user_keyrings(c.uid.0, c.gid.0)?;
                let r = if how.create {
                    new_session_ref(c)?
                } else {
                    registry().hold(ses)
                };
                c.keys.session = Some(r);
            }
            c.keys.session.as_ref().map(KeyRef::serial)
        }
        KEY_SPEC_USER_KEYRING => Some(registry().user_keyrings(c.uid.0, c.gid.0)?.0),
        KEY_SPEC_USER_SESSION_KEYRING => Some(registry().user_keyrings(c.uid.0, c.gid.0)?.1),
        KEY_SPEC_REQKEY_AUTH_KEY | KEY_SPEC_REQUESTOR_KEYRING => return Err(Errno::ENOKEY),
        id if id > 0 => Some(id),
        _ => return Err(Errno::EINVAL),
    };
    let serial = serial.ok_or(Errno::ENOKEY)?;
    let r = registry();
    let now = Instant::now();
    let k = r.keys.get(&serial).ok_or(Errno::ENOKEY)?;
    if !how.partial {
        if k.state < 0 {
            return Err(Errno(-k.state));
        }
        k.validate(now)?;
    } else if need != 0 {
        k.validate(now)?;
    } else if k.invalidated {
        return Err(Errno::ENOKEY);
    }
    r.check(&Who::of(c), serial, need, now)?;
    Ok(serial)
}

/// add_key(2) after the arguments are copied in.
pub fn add_key(
    c: &mut Credentials,
    ktype: Option<KeyType>,
    desc: &[u8],
    payload: Option<&[u8]>,
    ringid: i32,
) -> Result<i32, Errno> {
    let ring = lookup(c, ringid, CREATE, KEY_WRITE)?;
    let ktype = ktype.ok_or(Errno::ENODEV)?;
    let now = Instant::now();
    {
        let r = registry();
        if r.keys.get(&ring).map(|k| k.ktype) != Some(KeyType::Keyring) {
            return Err(Errno::ENOTDIR);
        }
    }
    ktype.preparse(desc, payload)?;
    if desc.is_empty() {
        return Err(Errno::EINVAL);
    }
    let who = Who::of(c);
    let mut r = registry();
    // An updatable key of the same type and description in the keyring is updated.
    if ktype.updatable() {
        let existing = r.keys.get(&ring).and_then(|k| k.ring()).and_then(|m| {
            m.iter().copied().find(|s| {
                r.keys.get(s).is_some_and(|k| {
                    k.ktype == ktype && k.desc == desc && !k.revoked && !k.invalidated
                })
            })
        });
        if let Some(s) = existing {
            let possessed = r.possessed(&who, ring, now);
            let k = &r.keys[&s];
            if r.perm_of(&who, k, possessed) & KEY_WRITE == 0 {
                return Err(Errno::EACCES);
            }
            update_locked(&mut r, s, payload.unwrap_or_default())?;
            return Ok(s);
        }
    }
    let perm = default_perm(ktype);
    let data = match ktype {
        KeyType::Keyring => Payload::Ring(Vec::new()),
        _ => Payload::Data(payload.unwrap_or_default().to_vec()),
    };
    let s = r.alloc(ktype, desc, c.fsuid, c.fsgid, perm, data, 0, true)?;
    if let Err(e) = r.link(ring, s, now) {
        r.collect(s);
        return Err(e);
    }
    Ok(s)
}

/// The rights of a key made by add_key or request_key (KEY_PERM_UNDEF).
fn default_perm(ktype: KeyType) -> u32 {
    let mut perm = ((KEY_VIEW | KEY_SEARCH | KEY_LINK | KEY_SETATTR) << 24) | USR_VIEW;
    if ktype.readable() {
        perm |= KEY_READ << 24;
    }
    // Every type here is a keyring or can be updated.
    perm | (KEY_WRITE << 24)
}

fn update_locked(r: &mut Registry, s: i32, data: &[u8]) -> Result<(), Errno> {
    let (uid, old, ktype, desc_len) = {
        let k = r.keys.get(&s).ok_or(Errno::ENOKEY)?;
        (k.quota_uid, k.quotalen, k.ktype, k.desc.len())
    };
    if !ktype.updatable() {
        return Err(Errno::EOPNOTSUPP);
    }
    ktype.preparse(b"x:x", Some(data))?;
    let new = desc_len + 1 + data.len();
    if new > old {
        let (_, maxbytes) = Registry::limits(uid);
        let u = r.users.entry(uid).or_default();
        if u.nbytes + (new - old) as u64 > maxbytes {
            return Err(Errno::EDQUOT);
        }
        crate::limits::memory().charge((new - old) as u64, Errno::ENOMEM)?;
        u.nbytes += (new - old) as u64;
    } else {
        crate::limits::memory().release((old - new) as u64);
        let u = r.users.entry(uid).or_default();
        u.nbytes = u.nbytes.saturating_sub((old - new) as u64);
    }
    let k = r.keys.get_mut(&s).ok_or(Errno::ENOKEY)?;
    k.quotalen = new;
    k.payload = Payload::Data(data.to_vec());
    if k.state < 0 {
        k.state = 0;
        if let Some(u) = r.users.get_mut(&uid) {
            u.nikeys += 1;
        }
    }
    Ok(())
}

/// request_key(2) after the arguments are copied in.
pub fn request_key(
    c: &mut Credentials,
    ktype: Option<KeyType>,
    desc: &[u8],
    callout: Option<&[u8]>,
    destid: i32,
) -> Result<i32, Errno> {
    let dest = if destid != 0 {
        Some(lookup(c, destid, CREATE, KEY_WRITE)?)
    } else {
        None
    };
    let ktype = ktype.ok_or(Errno::ENOKEY)?;
    let now = Instant::now();
    let who = Who::of(c);
    let found = registry().search_own(&who, ktype, desc, now);
    match found {
        Ok(s) => {
            if let Some(d) = dest {
                let mut r = registry();
                r.check(&who, s, KEY_LINK, now)?;
                r.link(d, s, now)?;
            }
            Ok(s)
        }
        // Keyrings are never constructed on request.
        Err(Errno::ENOKEY) if callout.is_some() && ktype == KeyType::Keyring => Err(Errno::EPERM),
        Err(Errno::ENOKEY) if callout.is_some() => {
            // Construction: a new key in the destination keyring, negated at once (no
            // request-key upcall in the sandbox).
            let dest = match dest {
                Some(d) => d,
                None => default_dest(c)?,
            };
            let mut r = registry();
            {
                let k = r.keys.get(&dest).ok_or(Errno::ENOKEY)?;
                if k.ktype != KeyType::Keyring {
                    return Err(Errno::ENOTDIR);
                }
            }
            let perm = default_perm(ktype);
            let data = match ktype {
                KeyType::Keyring => Payload::Ring(Vec::new()),
                _ => Payload::Data(Vec::new()),
            };
            let s = r.alloc(
                ktype,
                desc,
                c.fsuid,
                c.fsgid,
                perm,
                data,
                -Errno::ENOKEY.0,
                true,
            )?;
            if let Some(k) = r.keys.get_mut(&s) {
                k.expiry = Some(now + NEGATIVE_TIMEOUT);
            }
            if let Err(e) = r.link(dest, s, now) {
                r.collect(s);
                return Err(e);
            }
            Err(Errno::ENOKEY)
        }
        Err(e) => Err(e),
    }
}

/// construct_get_dest_keyring for a request without a destination: the default request-key
/// keyring, which the caller must be able to write.
fn default_dest(c: &mut Credentials) -> Result<i32, Errno> {
    // KEY_REQKEY_DEFL_*: default and requestor start at the thread keyring, then each
    // falls through to the next as Linux's switch does.
    let order: &[i32] = match c.keys.reqkey {
        2 => &[2, 3, 4],
        3 => &[3, 4],
        4 => &[4],
        5 => &[5],
        _ => &[1, 2, 3, 4],
    };
    let mut dest = None;
    for step in order {
        dest = match step {
            1 => c.keys.thread.as_ref().map(KeyRef::serial),
            2 => c.keys.process.as_ref().map(KeyRef::serial),
            3 => c.keys.session.as_ref().map(KeyRef::serial),
            4 => Some(registry().user_keyrings(c.uid.0, c.gid.0)?.1),
            _ => Some(registry().user_keyrings(c.uid.0, c.gid.0)?.0),
        };
        if dest.is_some() {
            break;
        }
    }
    let dest = dest.ok_or(Errno::ENOKEY)?;
    let now = Instant::now();
    registry().check(&Who::of(c), dest, KEY_WRITE, now)?;
    Ok(dest)
}

/// KEYCTL_GET_KEYRING_ID.
pub fn get_keyring_id(c: &mut Credentials, id: i32, create: bool) -> Result<i32, Errno> {
    lookup(
        c,
        id,
        Lookup {
            create,
            partial: false,
        },
        KEY_SEARCH,
    )
}

/// KEYCTL_JOIN_SESSION_KEYRING.
pub fn join_session(c: &mut Credentials, name: Option<&[u8]>) -> Result<i32, Errno> {
    let Some(name) = name else {
        let r = new_session_ref(c)?;
        let s = r.serial();
        c.keys.session = Some(r);
        return Ok(s);
    };
    let now = Instant::now();
    let found = {
        let r = registry();
        let who = Who::of(c);
        r.keys
            .values()
            .find(|k| {
                k.ktype == KeyType::Keyring
                    && k.desc == name
                    && k.validate(now).is_ok()
                    && r.perm_of(&who, k, false) & KEY_SEARCH != 0
            })
            .map(|k| k.serial)
    };
    let held = match found {
        Some(s) => {
            if c.keys.session.as_ref().map(KeyRef::serial) == Some(s) {
                return Ok(s);
            }
            registry().hold(s)
        }
        None => {
            let mut r = registry();
            let s = r.alloc(
                KeyType::Keyring,
                name,
                c.fsuid,
                c.fsgid,
                POS_ALL | USR_VIEW | (KEY_READ | KEY_LINK) << 16,
                Payload::Ring(Vec::new()),
                0,
                true,
            )?;
            r.hold(s)
        }
    };
    let s = held.serial();
    c.keys.session = Some(held);
    Ok(s)
}

/// KEYCTL_UPDATE.
pub fn update(c: &mut Credentials, id: i32, data: &[u8]) -> Result<(), Errno> {
    let s = lookup(c, id, PLAIN, KEY_WRITE)?;
    let mut r = registry();
    update_locked(&mut r, s, data)
}

/// KEYCTL_REVOKE.
pub fn revoke(c: &mut Credentials, id: i32) -> Result<(), Errno> {
    let s = match lookup(c, id, PLAIN, KEY_WRITE) {
        Err(Errno::EACCES) => lookup(c, id, PLAIN, KEY_SETATTR)?,
        r => r?,
    };
    if let Some(k) = registry().keys.get_mut(&s) {
        k.revoked = true;
    }
    Ok(())
}

/// KEYCTL_INVALIDATE: the key goes from every keyring at once.
pub fn invalidate(c: &mut Credentials, id: i32) -> Result<(), Errno> {
    let s = lookup(c, id, PLAIN, KEY_SEARCH)?;
    let mut r = registry();
    if let Some(k) = r.keys.get_mut(&s) {
        k.invalidated = true;
    }
    let rings: Vec<i32> = r
        .keys
        .values()
        .filter(|k| k.ring().is_some_and(|m| m.contains(&s)))
        .map(|k| k.serial)
        .collect();
    for ring in rings {
        let _ = r.unlink(ring, s);
    }
    Ok(())
}

/// KEYCTL_CHOWN.
pub fn chown(c: &mut Credentials, id: i32, uid: u32, gid: u32) -> Result<(), Errno> {
    let s = lookup(c, id, CREATE_PARTIAL, KEY_SETATTR)?;
    let is_admin = admin(c);
    let mut r = registry();
    let k = r.keys.get(&s).ok_or(Errno::ENOKEY)?;
    if !is_admin {
        if uid != u32::MAX && uid != k.uid {
            return Err(Errno::EACCES);
        }
        if gid != u32::MAX
            && gid != k.gid
            && !(k.uid == c.fsuid && (c.fsgid == gid || c.groups.contains(&gid)))
        {
            return Err(Errno::EACCES);
        }
    }
    let (old_uid, quotalen, instantiated) = (k.quota_uid, k.quotalen as u64, k.state == 0);
    if uid != u32::MAX && uid != old_uid {
        let (maxkeys, maxbytes) = Registry::limits(uid);
        let nu = r.users.entry(uid).or_default();
        if nu.nkeys + 1 > maxkeys || nu.nbytes + quotalen > maxbytes {
            return Err(Errno::EDQUOT);
        }
        nu.nkeys += 1;
        nu.nbytes += quotalen;
        if instantiated {
            nu.nikeys += 1;
        }
        if let Some(ou) = r.users.get_mut(&old_uid) {
            ou.nkeys = ou.nkeys.saturating_sub(1);
            ou.nbytes = ou.nbytes.saturating_sub(quotalen);
            if instantiated {
                ou.nikeys = ou.nikeys.saturating_sub(1);
            }
        }
    }
    let k = r.keys.get_mut(&s).ok_or(Errno::ENOKEY)?;
    if uid != u32::MAX {
        k.uid = uid;
        k.quota_uid = uid;
    }
    if gid != u32::MAX {
        k.gid = gid;
    }
    Ok(())
}

/// KEYCTL_SETPERM.
pub fn setperm(c: &mut Credentials, id: i32, perm: u32) -> Result<(), Errno> {
    let s = lookup(c, id, CREATE_PARTIAL, KEY_SETATTR)?;
    if perm & !PERM_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    let is_admin = admin(c);
    let mut r = registry();
    let k = r.keys.get_mut(&s).ok_or(Errno::ENOKEY)?;
    if !is_admin && k.uid != c.fsuid {
        return Err(Errno::EACCES);
    }
    k.perm = perm;
    Ok(())
}

/// KEYCTL_DESCRIBE: "type;uid;gid;perm;description".
pub fn describe(c: &mut Credentials, id: i32) -> Result<Vec<u8>, Errno> {
    let s = lookup(c, id, CREATE_PARTIAL, KEY_VIEW)?;
    let r = registry();
    let k = r.keys.get(&s).ok_or(Errno::ENOKEY)?;
    let mut out = format!(
        "{};{};{};{:08x};",
        k.ktype.name(),
        k.uid as i32,
        k.gid as i32,
        k.perm
    )
    .into_bytes();
    out.extend_from_slice(&k.desc);
    out.push(0);
    Ok(out)
}

/// KEYCTL_CLEAR.
pub fn clear(c: &mut Credentials, id: i32) -> Result<(), Errno> {
    let s = lookup(c, id, CREATE, KEY_WRITE)?;
    let mut r = registry();
    let members = match r.keys.get_mut(&s).map(|k| &mut k.payload) {
        Some(Payload::Ring(m)) => std::mem::take(m),
        _ => return Err(Errno::ENOTDIR),
    };
    for m in members {
        if let Some(k) = r.keys.get_mut(&m) {
            k.links = k.links.saturating_sub(1);
        }
        r.collect(m);
    }
    Ok(())
}

/// KEYCTL_LINK.
pub fn link(c: &mut Credentials, id: i32, ringid: i32) -> Result<(), Errno> {
    let ring = lookup(c, ringid, CREATE, KEY_WRITE)?;
    let key = lookup(c, id, CREATE, KEY_LINK)?;
    registry().link(ring, key, Instant::now())
}

/// KEYCTL_UNLINK.
pub fn unlink(c: &mut Credentials, id: i32, ringid: i32) -> Result<(), Errno> {
    let ring = lookup(c, ringid, PLAIN, KEY_WRITE)?;
    let key = lookup(c, id, PARTIAL, 0)?;
    registry().unlink(ring, key)
}

/// KEYCTL_MOVE.
pub fn move_key(c: &mut Credentials, id: i32, from: i32, to: i32, excl: bool) -> Result<(), Errno> {
    let key = lookup(c, id, CREATE, KEY_LINK)?;
    let from = lookup(c, from, PLAIN, KEY_WRITE)?;
    let to = lookup(c, to, CREATE, KEY_WRITE)?;
    let now = Instant::now();
    let mut r = registry();
    let is_member = r
        .keys
        .get(&from)
        .and_then(|k| k.ring())
        .ok_or(Errno::ENOTDIR)?
        .contains(&key);
    if !is_member {
        return Err(Errno::ENOENT);
    }
    if excl {
        let k = r.keys.get(&key).ok_or(Errno::ENOKEY)?;
        let clash = r
            .keys
            .get(&to)
            .and_then(|t| t.ring())
            .ok_or(Errno::ENOTDIR)?
            .iter()
            .any(|m| {
                r.keys
                    .get(m)
                    .is_some_and(|o| o.ktype == k.ktype && o.desc == k.desc)
            });
        if clash {
            return Err(Errno::EEXIST);
        }
    }
    // Hold it across the move so the unlink cannot destroy it.
    if let Some(k) = r.keys.get_mut(&key) {
        k.refs += 1;
    }
    let res = r.link(to, key, now).and_then(|_| r.unlink(from, key));
    if let Some(k) = r.keys.get_mut(&key) {
        k.refs -= 1;
    }
    r.collect(key);
    res
}

/// KEYCTL_SEARCH.
pub fn search(
    c: &mut Credentials,
    ringid: i32,
    ktype: Option<KeyType>,
    desc: &[u8],
    destid: i32,
) -> Result<i32, Errno> {
    let ring = lookup(c, ringid, PLAIN, KEY_SEARCH)?;
    let dest = if destid != 0 {
        Some(lookup(c, destid, CREATE, KEY_WRITE)?)
    } else {
        None
    };
    let ktype = ktype.ok_or(Errno::ENOKEY)?;
    let now = Instant::now();
    let who = Who::of(c);
    let mut r = registry();
    if r.keys.get(&ring).map(|k| k.ktype) != Some(KeyType::Keyring) {
        return Err(Errno::ENOTDIR);
    }
    let possessed = r.possessed(&who, ring, now);
    let mut err = None;
    let found = r
        .search_ring(
            &Query {
                who: &who,
                ktype,
                desc,
                possessed,
                now,
                skip_expired: false,
            },
            ring,
            0,
            &mut err,
        )
        .ok_or(err.unwrap_or(Errno::ENOKEY))?;
    if let Some(d) = dest {
        r.check(&who, found, KEY_LINK, now)?;
        r.link(d, found, now)?;
    }
    Ok(found)
}

/// KEYCTL_READ: the payload (for a keyring, the serials it links).
pub fn read(c: &mut Credentials, id: i32) -> Result<Vec<u8>, Errno> {
    let s = lookup(c, id, PLAIN, 0)?;
    let now = Instant::now();
    let r = registry();
    let who = Who::of(c);
    let k = r.keys.get(&s).ok_or(Errno::ENOKEY)?;
    if k.state < 0 {
        return Err(Errno(-k.state));
    }
    // Linux lets a possessor read even without the read right (a possessed key was found
    // by a search, which needed the search right).
    let possessed = r.possessed(&who, s, now);
    if r.perm_of(&who, k, possessed) & KEY_READ == 0 && !possessed {
        return Err(Errno::EACCES);
    }
    if !k.ktype.readable() {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(match &k.payload {
        Payload::Data(d) => d.clone(),
        Payload::Ring(m) => m
            .iter()
            .filter(|s| r.keys.contains_key(s))
            .flat_map(|s| s.to_ne_bytes())
            .collect(),
    })
}

/// KEYCTL_SET_REQKEY_KEYRING: the previous setting.
pub fn set_reqkey(c: &mut Credentials, which: i32) -> Result<i32, Errno> {
    let old = c.keys.reqkey;
    match which {
        -1 => return Ok(old),
        1 => {
            if c.keys.thread.is_none() {
                c.keys.thread = Some(new_keyring_ref(c, "_tid")?);
            }
        }
        2 => {
            if c.keys.process.is_none() {
                c.keys.process = Some(new_keyring_ref(c, "_pid")?);
            }
        }
        0 | 3 | 4 | 5 | 7 => {}
        _ => return Err(Errno::EINVAL),
    }
    c.keys.reqkey = which;
    Ok(old)
}

/// KEYCTL_SET_TIMEOUT.
pub fn set_timeout(c: &mut Credentials, id: i32, secs: u32) -> Result<(), Errno> {
    let s = lookup(c, id, CREATE_PARTIAL, KEY_SETATTR)?;
    let mut r = registry();
    let k = r.keys.get_mut(&s).ok_or(Errno::ENOKEY)?;
    if k.revoked {
        return Err(Errno::EKEYREVOKED);
    }
    k.expiry = (secs != 0).then(|| Instant::now() + Duration::from_secs(secs.into()));
    Ok(())
}

/// KEYCTL_GET_SECURITY: no LSM labels keys here, so the empty string.
pub fn get_security(c: &mut Credentials, id: i32) -> Result<(), Errno> {
    lookup(c, id, CREATE_PARTIAL, KEY_VIEW).map(|_| ())
}

/// KEYCTL_RESTRICT_KEYRING without a type: the keyring takes no more links.
pub fn lock_keyring(c: &mut Credentials, id: i32) -> Result<(), Errno> {
    let s = lookup(c, id, PLAIN, KEY_SETATTR)?;
    let mut r = registry();
    let k = r.keys.get_mut(&s).ok_or(Errno::ENOKEY)?;
    if k.ktype != KeyType::Keyring {
        return Err(Errno::ENOTDIR);
    }
    if k.locked {
        return Err(Errno::EEXIST);
    }
    k.locked = true;
    Ok(())
}

/// The checks of a key-id argument that every op makes (KEYCTL_ASSUME_AUTHORITY's target).
pub fn exists(id: i32) -> bool {
    registry().keys.contains_key(&id)
}

/// /proc/key-users.
pub fn proc_key_users() -> String {
    let r = registry();
    let mut uids: Vec<_> = r.users.iter().filter(|(_, u)| u.nkeys > 0).collect();
    uids.sort_by_key(|(uid, _)| **uid);
    let mut out = String::new();
    for (uid, u) in uids {
        let (maxkeys, maxbytes) = Registry::limits(*uid);
        out.push_str(&format!(
            "{:5}: {:5} {}/{} {}/{} {}/{}\n",
            uid, u.nkeys, u.nkeys, u.nikeys, u.nkeys, maxkeys, u.nbytes, maxbytes
        ));
    }
    out
}

/// /proc/keys: the keys `c` may view.
pub fn proc_keys(c: &Credentials) -> String {
    let r = registry();
    let now = Instant::now();
    let who = Who::of(c);
    let mut out = String::new();
    for k in r.keys.values() {
        let possessed = r.possessed(&who, k.serial, now);
        if r.perm_of(&who, k, possessed) & KEY_VIEW == 0 {
            continue;
        }
        let timeout = match k.expiry {
            None => "perm".to_string(),
            Some(e) if e <= now => "expd".to_string(),
            Some(e) => {
                let s = (e - now).as_secs();
                if s < 60 {
                    format!("{s}s")
                } else if s < 3600 {
                    format!("{}m", s / 60)
                } else if s < 86400 {
                    format!("{}h", s / 3600)
                } else {
                    format!("{}d", s / 86400)
                }
            }
        };
        let flags = [
            if k.state == 0 { 'I' } else { '-' },
            if k.revoked { 'R' } else { '-' },
            '-',
            'Q',
            '-',
            if k.state < 0 { 'N' } else { '-' },
            if k.invalidated { 'i' } else { '-' },
        ];
        let desc = String::from_utf8_lossy(&k.desc);
        let info = match (&k.payload, k.state) {
            (_, s) if s < 0 => "negative".to_string(),
            (Payload::Ring(m), _) if m.is_empty() => "empty".to_string(),
            (Payload::Ring(m), _) => format!("{}", m.len()),
            (Payload::Data(_), _) => format!("{}", k.data_len()),
        };
        out.push_str(&format!(
            "{:08x} {} {:5} {:>4} {:08x} {:5} {:5} {:<9.9} {}: {}\n",
            k.serial,
            flags.iter().collect::<String>(),
            k.refs + k.links,
            timeout,
            k.perm,
            k.uid as i32,
            k.gid as i32,
            k.ktype.name(),
            desc,
            info
        ));
    }
    out
}
