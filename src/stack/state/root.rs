//! The state folder: where every stack's folder lives, kept private to its user, and the
//! sweeps over it (stacks nobody tends, kept stacks for `down`).

use super::StackDir;
use crate::stack::process::euid;
use crate::stack::{StackError, ToolsError};
use std::fs;
use std::path::Path;

/// Tears down every stack in `root` that nobody tends (its keeper was killed, e.g. by a
/// SIGKILL of the whole run) and that is not kept. Returns how many were reaped. A run on an
/// external deployment has no keeper and is left alone: what it made lives on the deployment,
/// and only its record says what to remove there (the next process of its kind ends it).
pub(crate) fn reap_stale(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    let mut reaped = 0;
    for entry in entries.flatten() {
        // Not following symbolic links: see `stacks`.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Some(key) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let stack = StackDir::new(root, &key);
        // A held lock means a process is booting or tearing it down right now.
        let Some(_lock) = stack.try_lock() else {
            continue;
        };
        if !stack.is_tended() && !stack.is_run() && stack.teardown().is_ok() {
            reaped += 1;
        }
    }
    reaped
}

/// Every stack folder in `root`.
pub(crate) fn stacks(root: &Path) -> Vec<StackDir> {
    fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        // A symbolic link is never taken for a stack (its target could be anything).
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(|k| StackDir::new(root, k)))
        .filter(|s| s.check_real().is_ok())
        .collect()
}

/// Every kept stack in `root` (for `temporal-harness down`).
pub(crate) fn kept_stacks(root: &Path) -> Vec<StackDir> {
    stacks(root).into_iter().filter(StackDir::is_kept).collect()
}

/// Creates the state folder (0700) if missing and refuses one that another user could
/// tamper with: not a real folder (a symbolic link is never followed), owned by someone else,
/// or writable by group or others. The harness trusts what it reads there (endpoints, the
/// processes to stop), so a folder another local user prepared must never be used.
pub(crate) fn ensure_private_root(root: &Path) -> Result<(), StackError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Some(parent) = root.parent() {
        fs::create_dir_all(parent).map_err(|e| StackError::state(parent, e))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(StackError::state(root, e)),
    }
    let untrusted = |reason: String| {
        StackError::Tools(ToolsError::UntrustedPath {
            path: root.to_path_buf(),
            reason,
        })
    };
    let meta = fs::symlink_metadata(root).map_err(|e| StackError::state(root, e))?;
    if meta.file_type().is_symlink() {
        return Err(untrusted("is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(untrusted("is not a folder".into()));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(untrusted(format!(
            "is owned by uid {}, not by you (uid {me})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "is writable by others (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}
