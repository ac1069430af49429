//! The validation workflow's activities. They run in the validation worker and reach the
//! deployment themselves, as a user's activities would.
// The SDK macros generate undocumented public items (activity, run and query markers);
// everything written here is documented.
#![allow(missing_docs)]

use super::target::{Databases, NoDatabases};
use super::Status;
use crate::error::BoxError;
use crate::stack::{connect, StackError, TemporalTarget};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::Connection;
use std::sync::Arc;
use std::time::Duration;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// What an activity of a stage reports back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityReport {
    /// Passed, failed or skipped.
    pub status: Status,
    /// What it found.
    pub detail: String,
}

const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// What the activities reach.
pub struct ValidationActivities {
    temporal: TemporalTarget,
    databases: Result<Databases, NoDatabases>,
}

impl ValidationActivities {
    /// Activities that reach `temporal` and, where given, the `databases` (`Err` says why
    /// there are none; the persistence stage is then skipped with that reason).
    pub fn new(temporal: TemporalTarget, databases: Result<Databases, NoDatabases>) -> Self {
        ValidationActivities {
            temporal,
            databases,
        }
    }
}

fn passed(detail: String) -> ActivityReport {
    ActivityReport {
        status: Status::Passed,
        detail,
    }
}

fn failed(detail: impl ToString) -> ActivityReport {
    ActivityReport {
        status: Status::Failed,
        detail: detail.to_string(),
    }
}

async fn open(url: &crate::conninfo::PgConnInfo) -> Result<PgConnection, StackError> {
    crate::stack::connect_postgres(url, DB_TIMEOUT).await
}

#[activities]
impl ValidationActivities {
    /// Reaches Temporal (health) and PostgreSQL (`SELECT version()`) from inside a worker.
    #[activity]
    pub async fn connect(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: (),
    ) -> Result<ActivityReport, ActivityError> {
        if let Err(e) = connect(&self.temporal, DB_TIMEOUT).await {
            return Ok(failed(e));
        }
        let postgres = match &self.databases {
            Ok(db) => match open(&db.temporal).await {
                Ok(mut conn) => {
                    let version: Result<String, _> = sqlx::query_scalar("SHOW server_version")
                        .fetch_one(&mut conn)
                        .await;
                    let _ = conn.close().await;
                    match version {
                        Ok(v) => format!("PostgreSQL {v} answered"),
                        Err(e) => return Ok(failed(format!("PostgreSQL query failed: {e}"))),
                    }
                }
                Err(e) => return Ok(failed(e)),
            },
            Err(why) => format!("PostgreSQL not checked: {why}"),
        };
        Ok(passed(format!(
            "Temporal at {} answered; {postgres}",
            self.temporal.address
        )))
    }

    /// Returns its input reversed: proves a payload goes out and comes back.
    #[activity]
    pub async fn echo(_ctx: ActivityContext, payload: String) -> Result<String, ActivityError> {
        Ok(payload.chars().rev().collect())
    }

    /// Writes a marker, reads it back on another connection, removes it; then finds the
    /// calling workflow's execution row in Temporal's database.
    #[activity]
    pub async fn persist(
        self: Arc<Self>,
        ctx: ActivityContext,
        _input: (),
    ) -> Result<ActivityReport, ActivityError> {
        let db = match &self.databases {
            Ok(db) => db,
            Err(why) => {
                return Ok(ActivityReport {
                    status: Status::Skipped,
                    detail: why.to_string(),
                })
            }
        };
        let info = ctx.info();
        let workflow_id = info.workflow_id.clone().unwrap_or_default();
        let marker = format!("{workflow_id}/{}", info.activity_id);
        if let Err(e) = marker_round_trip(&db.marker, &marker).await {
            return Ok(failed(format!(
                "marker round trip in {} failed: {e}",
                db.marker.redacted()
            )));
        }
        let row = async {
            let mut conn = open(&db.temporal).await?;
            let state: Option<i32> =
                sqlx::query_scalar("SELECT state FROM current_executions WHERE workflow_id = $1")
                    .bind(&workflow_id)
                    .fetch_optional(&mut conn)
                    .await?;
            let _ = conn.close().await;
            Ok::<_, BoxError>(state)
        };
        Ok(match row.await {
            // 2 = running: the workflow is, as it asks.
            Ok(Some(2)) => passed(
                "marker written and read back; workflow's row in current_executions \
                 shows it running"
                    .into(),
            ),
            Ok(Some(state)) => failed(format!(
                "the workflow's current_executions row has state {state}, expected 2 (running)"
            )),
            Ok(None) => failed(format!(
                "no current_executions row for workflow {workflow_id} in {}: is this the \
                 database the server writes to?",
                db.temporal.redacted()
            )),
            Err(e) => failed(e),
        })
    }

    /// Fails on every attempt before `last_attempt`, then returns the attempt number.
    #[activity]
    pub async fn fail_until_last(
        ctx: ActivityContext,
        last_attempt: u32,
    ) -> Result<u32, ActivityError> {
        let attempt = ctx.info().attempt;
        if attempt < last_attempt {
            return Err(
                anyhow::anyhow!("planned failure on attempt {attempt} of {last_attempt}").into(),
            );
        }
        Ok(attempt)
    }
}

async fn marker_round_trip(
    url: &crate::conninfo::PgConnInfo,
    marker: &str,
) -> Result<(), BoxError> {
    let mut writer = open(url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS temporal_harness_validation \
         (marker TEXT PRIMARY KEY, written_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut writer)
    .await?;
    sqlx::query("INSERT INTO temporal_harness_validation (marker) VALUES ($1)")
        .bind(marker)
        .execute(&mut writer)
        .await?;
    let _ = writer.close().await;
    // Another connection: the marker must come from the database, not a session.
    let mut reader = open(url).await?;
    let found: Option<String> = sqlx::query_scalar(
        "DELETE FROM temporal_harness_validation WHERE marker = $1 RETURNING marker",
    )
    .bind(marker)
    .fetch_optional(&mut reader)
    .await?;
    let _ = reader.close().await;
    match found {
        Some(m) if m == marker => Ok(()),
        _ => Err("the marker written was not found by a second connection".into()),
    }
}
