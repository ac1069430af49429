//! A streaming-replication standby beside a local stack's PostgreSQL, and failing over to it:
//! the primary is killed, the standby promoted and moved to the primary's address (the port
//! the server knows), as a virtual IP moves in production. Commits wait for the standby
//! (`synchronous_standby_names = '*'`), so what the server was told is committed survives.

use super::super::state::StackDir;
use super::super::{postgres, StackError};
use super::database::{
    as_owner, fresh_private_dir, pg_data_root, postgres_owner, run_postgres, PgMode,
};
use crate::config::StackConfig;
use crate::conninfo::PgConnInfo;
use crate::poll::{retry, Attempt};
use crate::secret::Secret;
use crate::stack::{BootError, ControlError};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where the pair is recorded in the stack's folder (0600).
const NODES_FILE: &str = "postgres-nodes.json";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(in crate::stack) struct Node {
    pub(in crate::stack) pid: i32,
    pub(in crate::stack) port: u16,
    pub(in crate::stack) data: PathBuf,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(in crate::stack) struct Pair {
    pub(in crate::stack) pg_bin: PathBuf,
    pub(in crate::stack) primary: Node,
    pub(in crate::stack) standby: Option<Node>,
}

pub(in crate::stack) fn failed(action: &str, why: impl Into<crate::error::BoxError>) -> StackError {
    StackError::Control(ControlError::Failed {
        action: action.into(),
        source: why.into(),
        fix: format!(
            "PostgreSQL's primary or standby did not do as asked: each one's log is \
             postgres.log in its data folder ({}/temporal-harness-pg-*)",
            pg_data_root().display()
        ),
    })
}

/// Starts a standby of the primary at `admin` (its data in `primary_data`, its pid
/// `primary_pid`), waits until it streams synchronously, and records the pair.
pub(super) async fn start_standby(
    config: &StackConfig,
    dir: &StackDir,
    pg_bin: &Path,
    admin: &PgConnInfo,
    password: &Secret,
    primary: (i32, PathBuf),
) -> Result<(), StackError> {
    let owner = postgres_owner()?;
    let data = pg_data_root().join(format!("temporal-harness-pg-{}-standby", dir.label()?));
    let pgdata = fresh_private_dir(dir, &data, owner)?;
    let mut backup = Command::new(pg_bin.join("pg_basebackup"));
    backup
        .args(["-h", "127.0.0.1", "-p", &admin.port().to_string()])
        .args(["-U", super::super::setup_steps::DB_USER, "-D"])
        .arg(&pgdata)
        .args(["-X", "stream", "-R", "--no-sync", "-w"])
        // The password through the environment, never the arguments.
        .env("PGPASSWORD", password.expose())
        .stdin(Stdio::null());
    as_owner(&mut backup, owner);
    let out = backup
        .output()
        .map_err(|e| failed("run pg_basebackup", e))?;
    if !out.status.success() {
        return Err(StackError::Boot(BootError::ServiceFailed {
            service: "PostgreSQL standby (pg_basebackup)".into(),
            source: crate::secret::scrub(&String::from_utf8_lossy(&out.stderr), password).into(),
        }));
    }
    let (standby_url, standby_pid) = run_postgres(
        config,
        dir,
        pg_bin,
        &data,
        password,
        owner,
        (PgMode::Replicated, None),
    )
    .await?;
    // From now on a commit returns once the standby has it.
    let mut conn = postgres::connect_once(admin, Duration::from_secs(10)).await?;
    for statement in [
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
        "SELECT pg_reload_conf()",
    ] {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .map_err(|e| failed("make replication synchronous", e))?;
    }
    drop(conn);
    let synchronous = retry(
        config.startup_timeout,
        Duration::from_millis(20),
        |_| async move {
            let state: Option<String> = match postgres::connect_once(admin, Duration::from_secs(5))
                .await
            {
                Ok(mut conn) => sqlx::query_scalar(
                    "SELECT sync_state::text FROM pg_stat_replication WHERE state = 'streaming'",
                )
                .fetch_optional(&mut conn)
                .await
                .ok()
                .flatten(),
                Err(_) => None,
            };
            match state.as_deref() {
                Some("sync") => Attempt::Done(()),
                other => Attempt::Again(failed(
                    "wait for the standby",
                    format!("replication state {other:?}, not sync"),
                )),
            }
        },
    )
    .await;
    synchronous?;
    write_pair(
        dir,
        &Pair {
            pg_bin: pg_bin.into(),
            primary: Node {
                pid: primary.0,
                port: admin.port(),
                data: primary.1,
            },
            standby: Some(Node {
                pid: standby_pid,
                port: standby_url.port(),
                data,
            }),
        },
    )
}

pub(in crate::stack) fn write_pair(dir: &StackDir, pair: &Pair) -> Result<(), StackError> {
    dir.write_private_json(NODES_FILE, pair)
}

pub(in crate::stack) fn read_pair(dir: &StackDir) -> Result<Pair, StackError> {
    let path = dir.path().join(NODES_FILE);
    let bytes = fs::read(&path).map_err(|e| StackError::state(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| StackError::state(&path, e))
}
