//! PostgreSQL helpers shared by the backends: waiting for a server, creating Temporal's and
//! the tests' databases, and checking the schema version the server expects.

use super::{PostgresError, StackError};
use crate::conninfo::PgConnInfo;
use crate::poll::{retry, Attempt};
use crate::versions::Versions;
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection};
use std::time::Duration;

/// Databases a stack provides: Temporal's two and one for the tests' own tables.
pub(crate) const DATABASES: [&str; 3] = ["temporal", "temporal_visibility", "app"];

/// `max_connections` of the stacks' PostgreSQL: the server's four services may each open
/// their pools (20 + 10 connections, the server image's defaults), 120 in all, beyond
/// PostgreSQL's default of 100; `postgres.connection_budget` checks exactly this.
pub(crate) const MAX_CONNECTIONS: &str = "max_connections=200";

/// Opens one connection, mapping failures to errors that name the cause.
pub(crate) async fn connect_once(
    url: &PgConnInfo,
    timeout: Duration,
) -> Result<PgConnection, StackError> {
    let options = url.connect_options();
    let user = url.user().to_string();
    let timeout = url.connect_timeout().map_or(timeout, |t| t.min(timeout));
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(sqlx::Error::Database(db))) if db.code().as_deref() == Some("28P01") => {
            Err(StackError::Postgres(PostgresError::WrongPassword {
                url: url.redacted(),
                user,
            }))
        }
        Ok(Err(e)) => Err(StackError::Postgres(PostgresError::Unreachable {
            url: url.redacted(),
            source: url.scrub(&e.to_string()).into(),
        })),
        Err(_) => Err(StackError::Postgres(PostgresError::Unreachable {
            url: url.redacted(),
            source: format!("no answer within {timeout:?}").into(),
        })),
    }
}

/// Waits until the server at `url` accepts a login, at most `timeout`. A wrong password
/// fails at once: waiting does not fix it.
pub(crate) async fn wait_ready(url: &PgConnInfo, timeout: Duration) -> Result<(), StackError> {
    retry(timeout, LOGIN_PAUSE, |left| async move {
        match try_login(url, left).await {
            Ok(()) => Attempt::Done(()),
            Err(e @ StackError::Postgres(PostgresError::WrongPassword { .. })) => Attempt::Fail(e),
            Err(e) => Attempt::Again(e),
        }
    })
    .await
}

/// The pause between login attempts while a server starts.
pub(crate) const LOGIN_PAUSE: Duration = Duration::from_millis(50);

/// One login (at most 3 s, or `left` if less), closed again at once.
pub(crate) async fn try_login(url: &PgConnInfo, left: Duration) -> Result<(), StackError> {
    let conn = connect_once(url, left.min(Duration::from_secs(3))).await?;
    let _ = conn.close().await;
    Ok(())
}

/// Creates the stack's databases that do not exist yet (`admin` is a server-level URL).
pub(crate) async fn create_databases(admin: &PgConnInfo) -> Result<(), StackError> {
    let mut conn = connect_once(admin, Duration::from_secs(10)).await?;
    for db in DATABASES {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(db)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| sql_error(admin, e))?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE \"{db}\""))
                .execute(&mut conn)
                .await
                .map_err(|e| sql_error(admin, e))?;
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// Schema versions found in Temporal's databases.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    /// `schema_version.curr_version` of the `temporal` database.
    pub temporal: String,
    /// `schema_version.curr_version` of the `temporal_visibility` database.
    pub visibility: String,
}

/// Reads both schema versions and fails with [`PostgresError::SchemaTooOld`] when one is older
/// than the pinned server expects.
pub async fn check_schema(
    temporal: &PgConnInfo,
    visibility: &PgConnInfo,
) -> Result<SchemaStatus, StackError> {
    let pinned = Versions::pinned();
    let found_temporal = schema_version(temporal).await?;
    let found_visibility = schema_version(visibility).await?;
    for (db, kind, found, expected) in [
        (
            temporal,
            "temporal",
            &found_temporal,
            &pinned.schema_version,
        ),
        (
            visibility,
            "visibility",
            &found_visibility,
            &pinned.visibility_schema_version,
        ),
    ] {
        if version_key(found) < version_key(expected) {
            return Err(StackError::Postgres(PostgresError::SchemaTooOld {
                database: db.database().to_string(),
                kind,
                found: found.clone(),
                expected: expected.clone(),
            }));
        }
    }
    Ok(SchemaStatus {
        temporal: found_temporal,
        visibility: found_visibility,
    })
}

async fn schema_version(url: &PgConnInfo) -> Result<String, StackError> {
    let mut conn = connect_once(url, Duration::from_secs(10)).await?;
    let version: Option<String> = sqlx::query_scalar(
        "SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = $1",
    )
    .bind(url.database())
    .fetch_optional(&mut conn)
    .await
    .map_err(|e| sql_error(url, e))?;
    let _ = conn.close().await;
    Ok(version.unwrap_or_else(|| "0.0".into()))
}

/// `1.19` > `1.9`: compare numerically, part by part.
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn sql_error(url: &PgConnInfo, e: sqlx::Error) -> StackError {
    StackError::Postgres(PostgresError::Unreachable {
        url: url.redacted(),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_key("1.19") > version_key("1.9"));
        assert!(version_key("1.9") < version_key("1.14"));
        assert_eq!(version_key("1.14"), version_key("1.14"));
    }
}
