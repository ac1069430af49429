//! Processes the harness starts and watches: detaching them from the caller's terminal, the
//! current user, liveness (a zombie is not alive), reaping. One place for the few `libc`
//! calls std does not cover.

use super::state::StackDir;
use super::{BootError, StackError};
use crate::error::context;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `cmd` in a process group of its own: Ctrl-C on the terminal (which signals the
/// foreground group) does not reach it, so it can outlive an interrupted run and clean up.
pub(crate) fn detach(cmd: &mut Command) {
    cmd.process_group(0);
}

/// The effective user id.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `(uid, gid)` of the user `name`, if it exists.
pub(crate) fn user_ids(name: &str) -> Option<(u32, u32)> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam reads a NUL-terminated name and returns NULL or a pointer to a static
    // record, read at once (no other thread of the harness calls getpw*).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: not NULL, so it points to a valid passwd record.
    Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// Starts a detached service, records it for teardown, and returns its pid.
pub(crate) fn spawn_service(
    dir: &StackDir,
    service: &str,
    mut cmd: Command,
    log: &Path,
    stop_signal: &str,
    owner: Option<(u32, u32)>,
) -> Result<i32, StackError> {
    let file = fs::File::create(log).map_err(|e| StackError::state(log, e))?;
    if let Some((uid, gid)) = owner {
        let _ = std::os::unix::fs::chown(log, Some(uid), Some(gid));
    }
    let err_file = file.try_clone().map_err(|e| StackError::state(log, e))?;
    cmd.stdin(Stdio::null()).stdout(file).stderr(err_file);
    detach(&mut cmd);
    let child = cmd.spawn().map_err(|e| {
        StackError::Boot(BootError::ServiceFailed {
            service: service.into(),
            source: context(
                format!("cannot run {}", cmd.get_program().to_string_lossy()),
                e,
            ),
        })
    })?;
    let pid = child.id();
    dir.register_pid(pid, stop_signal)?;
    reap_in_background(child);
    Ok(pid as i32)
}

/// Fails when `pid` is gone, with the cause read from its log.
pub(crate) fn exited_early(
    service: &str,
    pid: i32,
    log: &Path,
    port: u16,
) -> Result<(), StackError> {
    if process_alive(pid) {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    if text.contains("Address already in use") {
        return Err(StackError::Boot(BootError::PortInUse {
            port,
            service: service.into(),
        }));
    }
    Err(StackError::Boot(BootError::ServiceFailed {
        service: service.into(),
        source: format!(
            "exited; end of its log {}:\n{}",
            log.display(),
            tail(&text, 6)
        )
        .into(),
    }))
}

/// The last `lines` lines, each cut to a readable length (server logs carry stack traces).
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| match l.char_indices().nth(400) {
            Some((i, _)) => format!("{}...", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A local service process whose early death should fail the boot.
pub(crate) struct Watched {
    service: &'static str,
    pid: i32,
    log: PathBuf,
    port: u16,
}

impl Watched {
    pub(crate) fn new(service: &'static str, pid: i32, log: PathBuf, port: u16) -> Self {
        Watched {
            service,
            pid,
            log,
            port,
        }
    }

    /// The port it serves on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Resolves (to the reason) only if the process exits.
    pub(crate) async fn exited(&self) -> StackError {
        loop {
            if let Err(e) = exited_early(self.service, self.pid, &self.log, self.port) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Does the process exist and run? A zombie does not count: a killed keeper whose parent
/// died too is reparented to PID 1, and in a container PID 1 may never reap it.
pub(crate) fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists; no memory is touched.
    let exists = pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM));
    exists && !is_zombie(pid)
}

/// `/proc/<pid>/stat`'s state field (after the parenthesised command name) is `Z` or `X`.
fn is_zombie(pid: i32) -> bool {
    process_state(pid).is_some_and(|state| state == 'Z' || state == 'X')
}

/// `/proc/<pid>/stat`'s state field: `R`, `S`, `T` (stopped), `Z`, ...; `None` when gone.
pub(crate) fn process_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Waits for a detached child on a thread so it never lingers as a zombie.
pub(crate) fn reap_in_background(mut child: std::process::Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zombies_are_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Exited but not yet waited for: a zombie until `wait`.
        while !is_zombie(pid) {
            std::thread::yield_now();
        }
        assert!(!process_alive(pid));
        child.wait().unwrap();
        assert!(process_alive(std::process::id() as i32));
    }
}
