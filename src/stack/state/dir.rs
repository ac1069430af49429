//! One stack's folder: what it records (processes and folders to remove, its label, its
//! endpoints, the boot log) and the checks that it holds only what the harness wrote.

use super::files::{
    BOOT_LOG, DIRS, ENDPOINTS, KEEP, KEEPER_PID, LABEL, LEASES, PIDS, RECORDS, RUN,
};
use crate::stack::labels::{root_label, STACK_LABEL};
use crate::stack::process::process_alive;
use crate::stack::{Endpoints, StackError, ToolsError};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Size past which the boot log starts again: a line a boot, so a state folder used for years
/// does not grow without bound (a benchmark's fresh state folder never reaches it).
pub(super) const BOOT_LOG_LIMIT: u64 = 1 << 20;

/// The on-disk state of one keyed stack.
#[derive(Debug, Clone)]
pub(crate) struct StackDir {
    pub(super) root: PathBuf,
    key: String,
}

impl StackDir {
    pub(crate) fn new(root: &Path, key: &str) -> Self {
        StackDir {
            root: root.to_path_buf(),
            key: key.to_string(),
        }
    }

    /// The folder of this stack.
    pub(crate) fn path(&self) -> PathBuf {
        self.root.join(&self.key)
    }

    /// Refuses a stack folder that is a symbolic link, is not ours or is writable by others,
    /// or whose records (pids, dirs, label, leases, ...) are symbolic links: teardown kills
    /// the pids and removes the dirs it reads there, so it must read only what we wrote.
    pub(crate) fn check_real(&self) -> Result<(), StackError> {
        use std::os::unix::fs::MetadataExt;
        let dir = self.path();
        let untrusted = |path: &Path, reason: String| {
            StackError::Tools(ToolsError::UntrustedPath {
                path: path.to_path_buf(),
                reason,
            })
        };
        let meta = match fs::symlink_metadata(&dir) {
            Ok(meta) => meta,
            // Nothing there yet (or any more): nothing to trust.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StackError::state(&dir, e)),
        };
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(untrusted(
                &dir,
                "is not a folder (a symbolic link is never followed)".into(),
            ));
        }
        let me = crate::stack::process::euid();
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(untrusted(
                &dir,
                format!(
                    "is owned by uid {} with mode {:o}: only you (uid {me}) may write to it",
                    meta.uid(),
                    meta.mode() & 0o7777
                ),
            ));
        }
        for record in RECORDS {
            let path = dir.join(record);
            if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(untrusted(&path, "is a symbolic link".into()));
            }
        }
        Ok(())
    }

    /// What teardown removes, in words: the stack's description, its processes, folders
    /// and Docker resources.
    pub(crate) fn inventory(&self) -> String {
        let dir = self.path();
        let lines = |file: &str| {
            fs::read_to_string(dir.join(file))
                .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
                .unwrap_or(0)
        };
        let mut parts = vec![self.endpoints().map_or_else(
            || "a stack that never finished booting".into(),
            |e| e.description,
        )];
        let (processes, folders) = (lines(PIDS), lines(DIRS));
        if processes > 0 {
            parts.push(format!("{processes} process(es)"));
        }
        if folders > 0 {
            parts.push(format!("{folders} data folder(s)"));
        }
        if let Ok(label) = self.label() {
            parts.push(format!(
                "containers and networks labelled {STACK_LABEL}={label}"
            ));
        }
        parts.join(", ")
    }

    /// The key: the same configuration, the same key.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(super) fn lock_path(&self) -> PathBuf {
        self.root.join(format!("{}.lock", self.key))
    }

    /// The file the endpoints are published in.
    pub(crate) fn endpoints_file(&self) -> PathBuf {
        self.path().join(ENDPOINTS)
    }

    /// Endpoints of a booted stack, if its folder has them.
    pub(crate) fn endpoints(&self) -> Option<Endpoints> {
        let text = fs::read_to_string(self.path().join(ENDPOINTS)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// True when this folder records a run on an external deployment.
    pub(crate) fn is_run(&self) -> bool {
        self.path().join(RUN).exists()
    }

    /// The record of a run on an external deployment, if this folder is one's.
    pub(crate) fn run_record<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        let text = fs::read_to_string(self.path().join(RUN)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records the run on an external deployment this folder is for (0600).
    pub(crate) fn write_run_record(&self, run: &impl serde::Serialize) -> Result<(), StackError> {
        self.write_private_json(RUN, run)
    }

    /// Forgets the run this folder recorded (it was ended).
    pub(crate) fn remove_run_record(&self) -> Result<(), StackError> {
        let path = self.path().join(RUN);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StackError::state(&path, e)),
            _ => Ok(()),
        }
    }

    /// True when a keeper watches the stack, or it was kept on purpose.
    pub(crate) fn is_tended(&self) -> bool {
        let dir = self.path();
        if dir.join(KEEP).exists() {
            return true;
        }
        fs::read_to_string(dir.join(KEEPER_PID))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .is_some_and(process_alive)
    }

    pub(crate) fn is_kept(&self) -> bool {
        self.path().join(KEEP).exists()
    }

    /// Starts a fresh folder for a boot (the caller holds the lock).
    pub(crate) fn create(&self) -> Result<(), StackError> {
        let dir = self.path();
        fs::create_dir_all(dir.join(LEASES)).map_err(|e| StackError::state(&dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| StackError::state(&dir, e))?;
        let label = format!(
            "{}-{}",
            self.key,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        // Written whole, never appended: teardown filters containers by exactly this value.
        let path = dir.join(LABEL);
        fs::write(&path, format!("{label}\n")).map_err(|e| StackError::state(&path, e))
    }

    /// The value of [`ROOT_LABEL`] on this stack's containers: which state folder owns them.
    pub(crate) fn root_label(&self) -> String {
        root_label(&self.root)
    }

    /// The label value of this boot's containers and networks, and the stem of their names:
    /// the key plus an instance id, so stacks of one key in two state folders never collide.
    pub(crate) fn label(&self) -> Result<String, StackError> {
        let path = self.path().join(LABEL);
        fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| StackError::state(&path, e))
    }

    /// The processes recorded to stop at teardown.
    pub(crate) fn recorded_pids(&self) -> Vec<i32> {
        fs::read_to_string(self.path().join(PIDS))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    /// Records a process to stop at teardown, with the signal that stops it cleanly.
    pub(crate) fn register_pid(&self, pid: u32, signal: &str) -> Result<(), StackError> {
        self.append(PIDS, &format!("{pid} {signal}"))
    }

    /// Records a folder to remove at teardown.
    pub(crate) fn register_dir(&self, dir: &Path) -> Result<(), StackError> {
        self.append(DIRS, &dir.display().to_string())
    }

    pub(super) fn append(&self, file: &str, line: &str) -> Result<(), StackError> {
        let path = self.path().join(file);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StackError::state(&path, e))?;
        writeln!(f, "{line}").map_err(|e| StackError::state(&path, e))
    }

    /// Publishes the endpoints (0600: they hold the generated password).
    pub(crate) fn write_endpoints(&self, endpoints: &Endpoints) -> Result<(), StackError> {
        self.write_private_json(ENDPOINTS, endpoints)
    }

    /// Writes `value` as `<stack folder>/<file>`, readable by this user only (what the stack
    /// records may hold its password), replacing the old one in one step.
    pub(crate) fn write_private_json(
        &self,
        file: &str,
        value: &impl serde::Serialize,
    ) -> Result<(), StackError> {
        let path = self.path().join(file);
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(value).map_err(|e| StackError::state(&path, e))?;
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| StackError::state(&tmp, e))?;
        f.write_all(&json).map_err(|e| StackError::state(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| StackError::state(&path, e))
    }

    /// Appends a line to `<state_dir>/boots.log`: what benchmarks count to show how many
    /// boots a run needed. A log past [`BOOT_LOG_LIMIT`] starts again.
    pub(crate) fn record_boot(&self, took: Duration) {
        let line = format!(
            "{} {} pid={} took={:.3}s\n",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            self.key,
            std::process::id(),
            took.as_secs_f64()
        );
        let path = self.root.join(BOOT_LOG);
        let full = fs::metadata(&path).is_ok_and(|m| m.len() > BOOT_LOG_LIMIT);
        let _ = OpenOptions::new()
            .create(true)
            .append(!full)
            .write(true)
            .truncate(full)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }

    /// Marks the stack as kept: no keeper tears it down; `temporal-harness down` does.
    pub(crate) fn mark_kept(&self) -> Result<(), StackError> {
        self.append(KEEP, "kept")
    }
}
