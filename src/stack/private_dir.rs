//! State folders of one's own: for a stack no other test may share (a fault case's stack, a
//! test's cluster). Such a folder is torn down whole when its handle is dropped, a panic's
//! unwinding included, and what a killed process left is reaped by the next one.
//!
//! Shared stacks need none of this: their keeper tears them down and their folder is the
//! run's. A private folder has no keeper of its own beyond its stacks', so without a handle
//! that removes it, every panicking test would leave one in the temp folder.

use super::process::process_alive;
use super::state::{ensure_private_root, stacks};
use super::{reaper, StackError};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What every private folder's name starts with, in the temp folder: what the reaper looks for.
const PREFIX: &str = "temporal-harness-private-";
/// The file naming the process that owns a private folder.
const OWNER_FILE: &str = "owner";
/// A folder without an owner file is being created; one older than this never will be.
const CREATION_GRACE: Duration = Duration::from_secs(60);

/// A private state folder (`StackConfig::state_dir`) in the temp folder, 0700. Dropping it
/// tears down every stack booted in it and removes it; a process killed before that leaves it
/// to the next [`PrivateStateDir::new`] or stack boot, which reaps it.
#[derive(Debug)]
pub struct PrivateStateDir {
    path: PathBuf,
}

impl PrivateStateDir {
    /// Creates a private folder; `purpose` (letters, digits, `-`) goes into its name to say
    /// whose it is. Reaps what killed processes left first.
    pub fn new(purpose: &str) -> Result<Self, StackError> {
        reap_abandoned();
        let purpose: String = purpose
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = std::env::temp_dir().join(format!(
            "{PREFIX}{purpose}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        ensure_private_root(&path)?;
        let owner = path.join(OWNER_FILE);
        fs::write(&owner, std::process::id().to_string())
            .map_err(|e| StackError::state(&owner, e))?;
        Ok(PrivateStateDir { path })
    }

    /// The folder, for `StackConfig::state_dir`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateStateDir {
    fn drop(&mut self) {
        purge(&self.path);
    }
}

/// Tears down every stack in `root`, removes containers still labelled with it, then the folder.
fn purge(root: &Path) {
    for stack in stacks(root) {
        let _ = stack.teardown();
    }
    reaper::reap_orphan_containers(root);
    let _ = fs::remove_dir_all(root);
}

/// Purges the private folders of this user whose owner process is gone; returns how many.
pub(crate) fn reap_abandoned() -> usize {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    let abandoned: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .filter(|p| is_abandoned(p))
        .collect();
    for root in &abandoned {
        purge(root);
    }
    abandoned.len()
}

fn is_abandoned(root: &Path) -> bool {
    // Another user's folder (or one another user could have prepared) is never touched.
    if ensure_private_root(root).is_err() {
        return false;
    }
    match fs::read_to_string(root.join(OWNER_FILE)) {
        Ok(pid) => pid
            .trim()
            .parse::<i32>()
            .is_ok_and(|pid| !process_alive(pid)),
        Err(_) => fs::metadata(root)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > CREATION_GRACE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_folder_is_removed_and_a_dead_owners_folder_is_reaped() {
        let dir = PrivateStateDir::new("unit test/1").unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("temporal-harness-private-unit-test-1-"));
        drop(dir);
        assert!(!path.exists());

        // A folder whose owner died (a pid that cannot exist) goes; a live owner's stays.
        let dead = PrivateStateDir::new("dead-owner").unwrap();
        let dead_path = dead.path().to_path_buf();
        fs::write(dead_path.join(OWNER_FILE), i32::MAX.to_string()).unwrap();
        std::mem::forget(dead);
        let live = PrivateStateDir::new("live-owner").unwrap();
        reap_abandoned();
        assert!(!dead_path.exists());
        assert!(live.path().is_dir());
    }
}
