// SPDX-License-Identifier: Apache-2.0
//! System V IPC: msgget, msgsnd, msgrcv, msgctl, semget, semop, semtimedop, semctl, shmget,
//! shmat, shmdt, shmctl. The objects and their rules are in [`crate::ipc`].

use super::SysResult;
use crate::ipc::{msg, sem, shm};
use crate::kernel::Task;

/// Implements msgget(2).
pub fn sys_msgget(t: &mut Task) -> SysResult {
    msg::msgget(t, t.arg(0) as i32, t.arg(1) as u32).map(|id| id as u64)
}

/// Implements msgsnd(2).
pub fn sys_msgsnd(t: &mut Task) -> SysResult {
    let a = t.args();
    msg::msgsnd(t, a[0] as i32, a[1], a[2], a[3] as u32)
}

/// Implements msgrcv(2).
pub fn sys_msgrcv(t: &mut Task) -> SysResult {
    let a = t.args();
    msg::msgrcv(t, a[0] as i32, a[1], a[2], a[3] as i64, a[4] as u32)
}

/// Implements msgctl(2).
pub fn sys_msgctl(t: &mut Task) -> SysResult {
    let a = t.args();
    msg::msgctl(t, a[0] as i32, a[1] as i32, a[2])
}

/// Implements semget(2).
pub fn sys_semget(t: &mut Task) -> SysResult {
    let a = t.args();
    sem::semget(t, a[0] as i32, a[1] as i32, a[2] as u32).map(|id| id as u64)
}

/// Implements semop(2).
pub fn sys_semop(t: &mut Task) -> SysResult {
    let a = t.args();
    sem::semtimedop(t, a[0] as i32, a[1], a[2], 0)
}

/// Implements semtimedop(2).
pub fn sys_semtimedop(t: &mut Task) -> SysResult {
    let a = t.args();
    sem::semtimedop(t, a[0] as i32, a[1], a[2], a[3])
}

/// Implements semctl(2).
pub fn sys_semctl(t: &mut Task) -> SysResult {
    let a = t.args();
    sem::semctl(t, a[0] as i32, a[1] as i32, a[2] as i32, a[3])
}

/// Implements shmget(2).
pub fn sys_shmget(t: &mut Task) -> SysResult {
    let a = t.args();
    shm::shmget(t, a[0] as i32, a[1], a[2] as u32).map(|id| id as u64)
}

/// Implements shmat(2).
pub fn sys_shmat(t: &mut Task) -> SysResult {
    let a = t.args();
    shm::shmat(t, a[0] as i32, a[1], a[2] as u32)
}

/// Implements shmdt(2).
pub fn sys_shmdt(t: &mut Task) -> SysResult {
    let a = t.arg(0);
    shm::shmdt(t, a)
}

/// Implements shmctl(2).
pub fn sys_shmctl(t: &mut Task) -> SysResult {
    let a = t.args();
    shm::shmctl(t, a[0] as i32, a[1] as i32, a[2])
}
