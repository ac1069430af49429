//! The keeper: a detached `sh` process per stack that tears the stack down once no lease has
//! had a live process for the linger time, and teardown itself (the same script, run now).

use super::files::{KEEPER_LOG, KEEPER_PID};
use super::StackDir;
use crate::stack::labels::STACK_LABEL;
use crate::stack::process::{detach, reap_in_background};
use crate::stack::{tools, StackError};
use std::fs::{self, File};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The script, compiled into the binary.
pub(super) const KEEPER_SCRIPT: &str = include_str!("keeper.sh");

impl StackDir {
    /// Starts the detached keeper that tears the stack down after its last user.
    pub(crate) fn spawn_keeper(&self, linger: Duration) -> Result<(), StackError> {
        let dir = self.path();
        let log = File::create(dir.join(KEEPER_LOG)).map_err(|e| StackError::state(&dir, e))?;
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
        let child = cmd.spawn().map_err(|e| {
            StackError::state(&dir, crate::error::context("cannot start the keeper", e))
        })?;
        // Written before the lock is released, so no process ever sees an untended stack.
        let pid_file = dir.join(KEEPER_PID);
        let written = fs::write(&pid_file, child.id().to_string());
        reap_in_background(child);
        written.map_err(|e| StackError::state(&pid_file, e))
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

/// `sh -c <keeper script> keeper.sh ARGS...`: the script comes from this binary, never from a
/// file (a file in the state folder is one more thing another user could try to replace). It
/// re-invokes itself under `flock` through the same environment variable. `sh` is run by
/// absolute path and everything the script runs is looked up in the trusted part of `PATH`
/// only (see [`tools::trusted_search_path`]).
fn keeper_command() -> Result<Command, StackError> {
    let sh = tools::system_program("sh")?;
    // Checked here so a missing flock is an error now, not a keeper that never tears down.
    tools::system_program("flock")?;
    let mut cmd = Command::new(sh);
    cmd.env("PATH", tools::trusted_search_path())
        .env(KEEPER_ENV, KEEPER_SCRIPT)
        .env("TEMPORAL_HARNESS_STACK_LABEL", STACK_LABEL)
        .arg("-c")
        .arg(KEEPER_SCRIPT)
        .arg("keeper.sh");
    Ok(cmd)
}

/// The variable that carries the keeper script to its own re-invocations.
const KEEPER_ENV: &str = "TEMPORAL_HARNESS_KEEPER_SCRIPT";
