//! Who uses a stack: its lock (one process at a time boots or tears it down) and the
//! leases (a file per process using it; a dead pid is a free lease, so nothing needs to be
//! released on a panic, a SIGKILL or Ctrl-C).

use super::files::LEASES;
use super::StackDir;
use crate::stack::process::process_alive;
use crate::stack::{StackError, StateError};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

impl StackDir {
    /// Takes the stack's lock, waiting at most `timeout` for another process to release it.
    pub(crate) async fn lock(&self, timeout: Duration) -> Result<StackLock, StackError> {
        fs::create_dir_all(&self.root).map_err(|e| StackError::state(&self.root, e))?;
        // Every use of a stack folder starts here: one planted in the root is refused.
        self.check_real()?;
        let path = self.lock_path();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StackError::state(&path, e))?;
        let deadline = Instant::now() + timeout;
        // Polling keeps the wait cancellable and bounded. It starts short: most holders are
        // other processes finding the running stack (a few ms each), not boots (seconds).
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StackLock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StackError::State(StateError::LockTimeout {
                        timeout,
                        lock: path,
                    }))
                }
                Err(TryLockError::Error(e)) => return Err(StackError::state(&path, e)),
            }
        }
    }

    pub(super) fn try_lock(&self) -> Option<StackLock> {
        let file = OpenOptions::new().write(true).open(self.lock_path()).ok()?;
        file.try_lock().ok()?;
        Some(StackLock { _file: file })
    }

    /// Takes a lease for this process; counts the handles this process holds.
    pub(crate) fn lease(&self) -> Result<(), StackError> {
        let path = self.lease_path();
        File::create(&path).map_err(|e| StackError::state(&path, e))?;
        *handles().entry(self.path()).or_insert(0) += 1;
        Ok(())
    }

    /// Drops one handle; gives up the process's lease with the last one and returns true then.
    pub(crate) fn release(&self) -> bool {
        let mut handles = handles();
        let count = handles.entry(self.path()).or_insert(1);
        *count = count.saturating_sub(1);
        if *count > 0 {
            return false;
        }
        handles.remove(&self.path());
        let _ = fs::remove_file(self.lease_path());
        true
    }

    fn lease_path(&self) -> PathBuf {
        self.path()
            .join(LEASES)
            .join(std::process::id().to_string())
    }

    /// True when a handle of this process holds the stack, or another process holds a live
    /// lease. Asked under the lock before a teardown: another handle of this process may have
    /// taken the stack again between giving it up and the lock (tests of one binary acquire
    /// and shut down the shared stack concurrently).
    pub(crate) fn in_use(&self) -> bool {
        handles().get(&self.path()).is_some_and(|count| *count > 0) || self.held_by_others()
    }

    /// True when another live process holds a lease.
    pub(crate) fn held_by_others(&self) -> bool {
        let me = std::process::id() as i32;
        fs::read_dir(self.path().join(LEASES))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .any(|pid| pid != me && process_alive(pid))
    }

    /// Removes the lock file of a key no other process will ever use (per-test servers).
    pub(crate) fn remove_lock_file(&self) {
        let _ = fs::remove_file(self.lock_path());
    }
}

/// Stack handles held by this process, per stack folder: tests of one binary share a stack,
/// and only the last of them gives up the process's lease.
fn handles() -> MutexGuard<'static, HashMap<PathBuf, usize>> {
    static HANDLES: OnceLock<Mutex<HashMap<PathBuf, usize>>> = OnceLock::new();
    HANDLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Holds a stack's lock until dropped.
pub(crate) struct StackLock {
    _file: File,
}
