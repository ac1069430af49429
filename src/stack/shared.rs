//! One stack per run, shared across threads, test binaries and the processes of
//! `cargo nextest run`.
//!
//! A stack is keyed by its configuration and lives in `<state_dir>/<key>/`. Processes find or
//! create it under an exclusive file lock (`<key>.lock`) and take a *lease*: a file named by
//! their pid. A detached keeper (`keeper.sh watch`) tears the stack down once no lease has
//! had a live process for the linger time. Leases are never released explicitly: a dead pid
//! is a free lease, so a panic, a SIGKILL or Ctrl-C frees it like a normal exit does. What a
//! killed keeper left is reaped by the next run (`reap_stale`).

use super::process::{detach, euid, process_alive, reap_in_background};
use super::{Endpoints, StackError};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const KEEPER_SCRIPT: &str = include_str!("keeper.sh");
const ENDPOINTS_FILE: &str = "stack.json";
/// File in the state folder with one line per stack boot (key, pid, duration): what the
/// sharing benchmark counts.
pub const BOOT_LOG: &str = "boots.log";

/// Size past which the boot log starts again: a line a boot, so a state folder used for years
/// does not grow without bound (a benchmark's fresh state folder never reaches it).
const BOOT_LOG_LIMIT: u64 = 1 << 20;

/// The on-disk state of one keyed stack.
#[derive(Debug, Clone)]
pub(crate) struct StackDir {
    root: PathBuf,
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
        let untrusted = |path: &Path, reason: String| StackError::UntrustedPath {
            path: path.to_path_buf(),
            reason,
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
        let me = super::process::euid();
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
        let (processes, folders) = (lines("pids"), lines("dirs"));
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

    fn lock_path(&self) -> PathBuf {
        self.root.join(format!("{}.lock", self.key))
    }

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
                    return Err(StackError::LockTimeout {
                        timeout,
                        lock: path,
                    })
                }
                Err(TryLockError::Error(e)) => return Err(StackError::state(&path, e)),
            }
        }
    }

    fn try_lock(&self) -> Option<StackLock> {
        let file = OpenOptions::new().write(true).open(self.lock_path()).ok()?;
        file.try_lock().ok()?;
        Some(StackLock { _file: file })
    }

    /// The file the endpoints are published in.
    pub(crate) fn endpoints_file(&self) -> PathBuf {
        self.path().join(ENDPOINTS_FILE)
    }

    /// Endpoints of a booted stack, if its folder has them.
    pub(crate) fn endpoints(&self) -> Option<Endpoints> {
        let text = fs::read_to_string(self.path().join(ENDPOINTS_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// True when a keeper watches the stack, or it was kept on purpose.
    pub(crate) fn is_tended(&self) -> bool {
        let dir = self.path();
        if dir.join("keep").exists() {
            return true;
        }
        fs::read_to_string(dir.join("keeper.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .is_some_and(process_alive)
    }

    pub(crate) fn is_kept(&self) -> bool {
        self.path().join("keep").exists()
    }

    /// Starts a fresh folder for a boot (the caller holds the lock).
    pub(crate) fn create(&self) -> Result<(), StackError> {
        let dir = self.path();
        fs::create_dir_all(dir.join("leases")).map_err(|e| StackError::state(&dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| StackError::state(&dir, e))?;
        let label = format!(
            "{}-{}",
            self.key,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        // Written whole, never appended: teardown filters containers by exactly this value.
        let path = dir.join("label");
        fs::write(&path, format!("{label}\n")).map_err(|e| StackError::state(&path, e))
    }

    /// The value of [`ROOT_LABEL`] on this stack's containers: which state folder owns them.
    pub(crate) fn root_label(&self) -> String {
        root_label(&self.root)
    }

    /// The label value of this boot's containers and networks, and the stem of their names:
    /// the key plus an instance id, so stacks of one key in two state folders never collide.
    pub(crate) fn label(&self) -> Result<String, StackError> {
        let path = self.path().join("label");
        fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| StackError::state(&path, e))
    }

    /// The processes recorded to stop at teardown.
    pub(crate) fn recorded_pids(&self) -> Vec<i32> {
        fs::read_to_string(self.path().join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    /// Records a process to stop at teardown, with the signal that stops it cleanly.
    pub(crate) fn register_pid(&self, pid: u32, signal: &str) -> Result<(), StackError> {
        self.append("pids", &format!("{pid} {signal}"))
    }

    /// Records a folder to remove at teardown.
    pub(crate) fn register_dir(&self, dir: &Path) -> Result<(), StackError> {
        self.append("dirs", &dir.display().to_string())
    }

    fn append(&self, file: &str, line: &str) -> Result<(), StackError> {
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
        self.write_private_json(ENDPOINTS_FILE, endpoints)
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
            .join("leases")
            .join(std::process::id().to_string())
    }

    /// True when a process other than this one holds a live lease.
    pub(crate) fn has_other_users(&self) -> bool {
        let me = std::process::id() as i32;
        fs::read_dir(self.path().join("leases"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .any(|pid| pid != me && process_alive(pid))
    }

    /// Marks the stack as kept: no keeper tears it down; `temporal-harness down` does.
    pub(crate) fn mark_kept(&self) -> Result<(), StackError> {
        self.append("keep", "kept")
    }

    /// Starts the detached keeper that tears the stack down after its last user.
    pub(crate) fn spawn_keeper(&self, linger: Duration) -> Result<(), StackError> {
        let dir = self.path();
        let log = File::create(dir.join("keeper.log")).map_err(|e| StackError::state(&dir, e))?;
        self.check_real()?;
        let mut cmd = keeper_command()?;
        cmd.arg("watch")
            .arg(&dir)
            .arg(self.lock_path())
            .arg(linger.as_millis().max(200).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // Ctrl-C on the test run must not reach it, and no test runner should wait on it
        // (it holds none of their pipes).
        detach(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| StackError::state(&dir, format!("cannot start keeper: {e}")))?;
        // Written before the lock is released, so no process ever sees an untended stack.
        let pid_file = dir.join("keeper.pid");
        let written = fs::write(&pid_file, child.id().to_string());
        reap_in_background(child);
        written.map_err(|e| StackError::state(&pid_file, e))
    }

    /// Removes the lock file of a key no other process will ever use (per-test servers).
    pub(crate) fn remove_lock_file(&self) {
        let _ = fs::remove_file(self.lock_path());
    }

    /// Tears the stack down now (the caller holds the lock or knows it is unused).
    pub(crate) fn teardown(&self) -> Result<(), StackError> {
        self.check_real()?;
        let status = keeper_command()?
            .arg("teardown")
            .arg(self.path())
            .stdin(Stdio::null())
            .status()
            .map_err(|e| StackError::state(self.path(), e))?;
        if status.success() {
            Ok(())
        } else {
            Err(StackError::state(
                self.path(),
                format!("teardown exited with {status}"),
            ))
        }
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

/// Tears down every stack in `root` that nobody tends (its keeper was killed, e.g. by a
/// SIGKILL of the whole run) and that is not kept. Returns how many were reaped.
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
        if !stack.is_tended() && stack.teardown().is_ok() {
            reaped += 1;
        }
    }
    reaped
}

/// Docker label naming the state folder whose stack a container belongs to.
pub(crate) const ROOT_LABEL: &str = "io.temporal-harness.root";

/// Label every harness container and network carries; its value is the stack's label (key
/// plus instance). The keeper gets it as `TEMPORAL_HARNESS_STACK_LABEL`.
pub(crate) const STACK_LABEL: &str = "io.temporal-harness.stack";

pub(crate) fn root_label(root: &Path) -> String {
    format!("{:016x}", super::fnv1a(root.to_string_lossy().as_bytes()))
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

/// `sh -c <keeper script> keeper.sh ARGS...`: the script comes from this binary, never from a
/// file (a file in the state folder is one more thing another user could try to replace). It
/// re-invokes itself under `flock` through the same environment variable. `sh` is run by
/// absolute path and everything the script runs is looked up in the trusted part of `PATH`
/// only (see [`super::tools::trusted_search_path`]).
fn keeper_command() -> Result<Command, StackError> {
    let sh = super::tools::system_program("sh")?;
    // Checked here so a missing flock is an error now, not a keeper that never tears down.
    super::tools::system_program("flock")?;
    let mut cmd = Command::new(sh);
    cmd.env("PATH", super::tools::trusted_search_path())
        .env(KEEPER_ENV, KEEPER_SCRIPT)
        .env("TEMPORAL_HARNESS_STACK_LABEL", STACK_LABEL)
        .arg("-c")
        .arg(KEEPER_SCRIPT)
        .arg("keeper.sh");
    Ok(cmd)
}

/// What a stack folder records, which teardown reads and acts on.
const RECORDS: [&str; 8] = [
    "pids",
    "dirs",
    "label",
    "keep",
    "leases",
    "keeper.pid",
    "keeper.log",
    ENDPOINTS_FILE,
];

/// The variable that carries the keeper script to its own re-invocations.
const KEEPER_ENV: &str = "TEMPORAL_HARNESS_KEEPER_SCRIPT";

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
    let untrusted = |reason: String| StackError::UntrustedPath {
        path: root.to_path_buf(),
        reason,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("th-shared-test-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_boot_log_gains_a_line_a_boot_and_starts_again_past_its_limit() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k0");
        let log = root.join(BOOT_LOG);
        stack.record_boot(Duration::from_millis(1500));
        stack.record_boot(Duration::from_millis(20));
        let text = fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.contains("k0 pid=") && text.contains("took=1.500s"),
            "{text}"
        );
        fs::write(&log, vec![b'x'; BOOT_LOG_LIMIT as usize + 1]).unwrap();
        stack.record_boot(Duration::from_millis(1));
        let text = fs::read_to_string(&log).unwrap();
        assert!(text.len() < 200, "not started again: {} bytes", text.len());
        assert!(text.starts_with(char::is_numeric) && text.contains("took=0.001s"));
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn lock_is_exclusive_and_times_out_with_the_lock_named() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k1");
        let _held = stack.lock(Duration::from_secs(1)).await.unwrap();
        // flock is per open file description, so a second open in this process contends.
        let err = stack.lock(Duration::from_millis(100)).await.err().unwrap();
        assert!(matches!(err, StackError::LockTimeout { .. }), "{err}");
        assert!(err.to_string().contains("k1.lock"));
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn leases_of_dead_processes_do_not_count() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k2");
        stack.create().unwrap();
        stack.lease().unwrap();
        assert!(!stack.has_other_users(), "own lease is not another user");
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        File::create(stack.path().join("leases").join(dead.to_string())).unwrap();
        assert!(!stack.has_other_users(), "a dead pid holds no lease");
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn teardown_stops_registered_processes_and_removes_dirs() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k3");
        stack.create().unwrap();
        let scratch = root.join("scratch");
        fs::create_dir_all(&scratch).unwrap();
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        let pid = child.id();
        reap_in_background(child);
        stack.register_pid(pid, "TERM").unwrap();
        stack.register_dir(&scratch).unwrap();
        stack.teardown().unwrap();
        assert!(!scratch.exists());
        assert!(!stack.path().exists());
        // The reaper thread collects it; poll its state rather than sleeping blind.
        let deadline = Instant::now() + Duration::from_secs(5);
        while process_alive(pid as i32) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(!process_alive(pid as i32));
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn a_symlinked_stack_folder_or_record_is_never_followed() {
        let root = temp_root();
        // A folder elsewhere that looks like a stack: a live process to kill, a folder to
        // remove. Linked into the root as a stack folder, then as a stack's record.
        let elsewhere = temp_root();
        let victim = elsewhere.join("victim");
        fs::create_dir_all(&victim).unwrap();
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        let pid = child.id();
        reap_in_background(child);
        fs::write(elsewhere.join("pids"), format!("{pid} KILL\n")).unwrap();
        fs::write(elsewhere.join("dirs"), format!("{}\n", victim.display())).unwrap();
        fs::create_dir_all(elsewhere.join("leases")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("planted")).unwrap();
        let planted = StackDir::new(&root, "planted");
        let err = planted.teardown().unwrap_err();
        assert!(matches!(err, StackError::UntrustedPath { .. }), "{err}");
        assert!(planted.lock(Duration::from_secs(1)).await.is_err());
        assert!(stacks(&root).is_empty(), "a link is not a stack");
        assert_eq!(reap_stale(&root), 0);

        let real = StackDir::new(&root, "real");
        real.create().unwrap();
        std::os::unix::fs::symlink(elsewhere.join("pids"), real.path().join("pids")).unwrap();
        let err = real.teardown().unwrap_err().to_string();
        assert!(
            err.contains("pids") && err.contains("symbolic link"),
            "{err}"
        );
        assert!(stacks(&root).is_empty(), "{:?}", stacks(&root).len());

        assert!(process_alive(pid as i32), "a planted pid was signalled");
        assert!(victim.exists(), "a planted folder was removed");
        // SAFETY: kill(2) on the child this test started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        fs::remove_dir_all(root).unwrap();
        fs::remove_dir_all(elsewhere).unwrap();
    }

    #[tokio::test]
    async fn untended_stacks_are_reaped_and_kept_ones_are_not() {
        let root = temp_root();
        let orphan = StackDir::new(&root, "orphan");
        orphan.create().unwrap();
        orphan.lock(Duration::from_secs(1)).await.map(drop).unwrap();
        let kept = StackDir::new(&root, "kept");
        kept.create().unwrap();
        kept.mark_kept().unwrap();
        kept.lock(Duration::from_secs(1)).await.map(drop).unwrap();
        assert_eq!(reap_stale(&root), 1);
        assert!(!orphan.path().exists());
        assert!(kept.path().exists());
        assert_eq!(kept_stacks(&root).len(), 1);
        fs::remove_dir_all(root).unwrap();
    }
}
