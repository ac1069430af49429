//! Failing a local stack's PostgreSQL over to its standby (the standby itself is started
//! with the stack: `local/replication.rs`).

use crate::config::StackConfig;
use crate::conninfo::PgConnInfo;
use crate::poll::{retry, Attempt};
use crate::secret::Secret;
use crate::stack::local::database::{as_owner, postgres_owner, run_postgres, PgMode};
use crate::stack::local::replication::{failed, read_pair, write_pair, Node};
use crate::stack::process::process_alive;
use crate::stack::progress::Progress;
use crate::stack::state::StackDir;
use crate::stack::StackError;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Fails a local stack's PostgreSQL over to its standby. Use it on a stack of your own
/// (`postgres_standby` and a private `state_dir`): every test on the stack sees the outage.
#[derive(Debug, Clone)]
pub struct FailoverControl {
    dir: StackDir,
}

impl FailoverControl {
    /// Control over the pair in `dir`; fails when the stack there has no standby record.
    pub(crate) fn new(dir: StackDir) -> Result<Self, StackError> {
        read_pair(&dir)?;
        Ok(FailoverControl { dir })
    }

    /// Whether a standby still waits to take over.
    pub fn has_standby(&self) -> bool {
        read_pair(&self.dir).is_ok_and(|p| p.standby.is_some())
    }

    /// Kills the primary (SIGKILL, as a crash), waits `without_primary` (the time an HA
    /// manager takes to notice), promotes the standby and starts it on the primary's port;
    /// returns once it accepts logins there. Each of the kill, the promotion and the start
    /// waits at most `timeout`.
    pub async fn fail_over(
        &self,
        without_primary: Duration,
        timeout: Duration,
    ) -> Result<(), StackError> {
        let action = "fail PostgreSQL over";
        let mut pair = read_pair(&self.dir)?;
        let standby = pair
            .standby
            .take()
            .ok_or_else(|| failed(action, "there is no standby left: it took over already"))?;
        let endpoints = self
            .dir
            .endpoints()
            .ok_or_else(|| failed(action, "the stack's endpoints file is gone"))?;
        let admin = endpoints
            .postgres_url
            .ok_or_else(|| failed(action, "the stack has no PostgreSQL"))?;
        let owner = postgres_owner()?;
        let step = Progress::new().start("PostgreSQL failover (primary killed, standby promoted)");
        kill_and_wait(pair.primary.pid, libc::SIGKILL, timeout).await?;
        tokio::time::sleep(without_primary).await;
        let mut promote = Command::new(pair.pg_bin.join("pg_ctl"));
        promote
            .args(["promote", "-w", "-t"])
            .arg(timeout.as_secs().max(1).to_string())
            .arg("-D")
            .arg(standby.data.join("pgdata"))
            .stdin(Stdio::null());
        as_owner(&mut promote, owner);
        let out = promote
            .output()
            .map_err(|e| failed("run pg_ctl promote", e))?;
        if !out.status.success() {
            return Err(failed(
                "promote the standby",
                String::from_utf8_lossy(&out.stderr).to_string(),
            ));
        }
        // Moved to the primary's port: the server reconnects to the address it knows.
        kill_and_wait(standby.pid, libc::SIGINT, timeout).await?;
        let password = password_of(&admin)?;
        let config = StackConfig {
            startup_timeout: timeout,
            ..StackConfig::default()
        };
        let (_, pid) = run_postgres(
            &config,
            &self.dir,
            &pair.pg_bin,
            &standby.data,
            &password,
            owner,
            (PgMode::Replicated, Some(pair.primary.port)),
        )
        .await?;
        pair.primary = Node {
            pid,
            port: pair.primary.port,
            data: standby.data,
        };
        write_pair(&self.dir, &pair)?;
        step.done();
        Ok(())
    }
}

fn password_of(url: &PgConnInfo) -> Result<Secret, StackError> {
    url.password()
        .cloned()
        .ok_or_else(|| failed("read the stack's password", "its URL holds none"))
}

async fn kill_and_wait(pid: i32, signal: i32, timeout: Duration) -> Result<(), StackError> {
    // SAFETY: kill(2) on a pid this stack started.
    unsafe { libc::kill(pid, signal) };
    retry(timeout, Duration::from_millis(10), |_| async move {
        match process_alive(pid) {
            false => Attempt::Done(()),
            true => Attempt::Again(failed(
                "stop PostgreSQL",
                format!("pid {pid} still runs after signal {signal}"),
            )),
        }
    })
    .await
}
