//! PostgreSQL checks: the database Temporal persists to, on its own.

use super::check;
use crate::validation::context::warn;
use crate::validation::releases::{self, Known};
use crate::validation::{fail, Check, Checked, Db, Session, Verdict};
use std::sync::Arc;

/// PostgreSQL major versions Temporal's releases are tested against.
const TESTED_MAJORS: std::ops::RangeInclusive<i32> = 12..=16;

/// Tables the server needs in `temporal` (a subset that every schema since 1.0 has).
const TEMPORAL_TABLES: [&str; 10] = [
    "schema_version",
    "namespaces",
    "shards",
    "executions",
    "current_executions",
    "history_node",
    "history_tree",
    "task_queues",
    "tasks",
    "cluster_metadata_info",
];

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "postgres.connection",
            Postgres,
            Quick,
            "Temporal's databases accept a login with the given credentials",
            connection
        ),
        check!(
            "postgres.version",
            Postgres,
            Quick,
            "The server runs PostgreSQL 12 or newer (warns outside the versions Temporal tests)",
            version
        ),
        check!(
            "postgres.databases",
            Postgres,
            Quick,
            "The temporal and temporal_visibility databases exist",
            databases
        ),
        check!(
            "postgres.schema_version",
            Postgres,
            Quick,
            "The temporal schema is the version the server's release expects",
            schema_version
        ),
        check!(
            "postgres.visibility_schema_version",
            Postgres,
            Quick,
            "The visibility schema is the version the server's release expects",
            visibility_schema_version
        ),
        check!(
            "postgres.tables",
            Postgres,
            Quick,
            "The tables the server needs exist in both databases",
            tables
        ),
        check!(
            "postgres.btree_gin",
            Postgres,
            Quick,
            "The btree_gin extension is installed in the visibility database",
            btree_gin
        ),
        check!(
            "postgres.connections",
            Postgres,
            Quick,
            "Connections in use are well below max_connections",
            connections
        ),
        check!(
            "postgres.long_sessions",
            Postgres,
            Quick,
            "No session idles in a transaction or runs one query for long",
            long_sessions
        ),
        check!(
            "postgres.blocking_locks",
            Postgres,
            Quick,
            "No session has waited long on another's lock",
            blocking_locks
        ),
        check!(
            "postgres.writable",
            Postgres,
            Quick,
            "The server is a writable primary (not in recovery, not read-only)",
            writable
        ),
    ]
}

fn sql(context: &str) -> impl Fn(sqlx::Error) -> Verdict + '_ {
    move |e| fail(format!("{context}: {e}"))
}

async fn connection(session: Arc<Session>) -> Checked {
    let mut found = Vec::new();
    for db in [Db::Temporal, Db::Visibility] {
        let pool = session.pool(db).await?;
        let (user, database): (String, String) =
            sqlx::query_as("SELECT current_user::text, current_database()::text")
                .fetch_one(pool)
                .await
                .map_err(sql("query after login"))?;
        found.push(format!("{database} as {user}"));
    }
    Ok(format!("logged in to {}", found.join(" and ")))
}

async fn version(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let (num, text): (String, String) = sqlx::query_as(
        "SELECT current_setting('server_version_num'), current_setting('server_version')",
    )
    .fetch_one(pool)
    .await
    .map_err(sql("reading the version"))?;
    let major = num.parse::<i32>().unwrap_or(0) / 10000;
    if major < 12 {
        return Err(fail(format!(
            "PostgreSQL {text} is older than Temporal supports: upgrade to 12 or newer"
        )));
    }
    if !TESTED_MAJORS.contains(&major) {
        warn(format!(
            "Temporal is tested on {}-{}; run the suite after every upgrade",
            TESTED_MAJORS.start(),
            TESTED_MAJORS.end()
        ));
    }
    Ok(format!("PostgreSQL {text}"))
}

async fn databases(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let databases = session
        .target()
        .databases
        .as_ref()
        .map_err(|why| Verdict::Skipped(why.to_string()))?;
    // The names the connection strings give, not the defaults: a deployment's databases
    // may be called anything.
    let wanted = [&databases.temporal, &databases.visibility].map(|url| url.database().to_string());
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname = ANY($1) ORDER BY datname",
    )
    .bind(wanted.to_vec())
    .fetch_all(pool)
    .await
    .map_err(sql("listing databases"))?;
    let missing: Vec<_> = wanted.iter().filter(|w| !found.contains(w)).collect();
    if !missing.is_empty() {
        return Err(fail(format!(
            "missing database(s) {missing:?}: create them and load the schemas with \
             temporal-sql-tool (see docs/deployment.md)"
        )));
    }
    Ok(format!("{} and {} exist", wanted[0], wanted[1]))
}

async fn schema_version(session: Arc<Session>) -> Checked {
    schema_of(&session, Db::Temporal).await
}

async fn visibility_schema_version(session: Arc<Session>) -> Checked {
    schema_of(&session, Db::Visibility).await
}

/// The schema versions the deployment's server expects, and what that is based on: the
/// server's own release (from `GetSystemInfo`) when it answers, else the pinned server.
async fn expected_schemas(session: &Session) -> (&'static str, &'static str, String) {
    let pinned = crate::versions::Versions::pinned();
    let pinned_release = match releases::lookup(&pinned.temporal_server) {
        Some(Known::Release(r)) => *r,
        _ => *releases::RELEASES.last().expect("a release"),
    };
    let Ok(info) = session.system_info().await else {
        return (
            pinned_release.schema,
            pinned_release.visibility,
            format!(
                "server {} (the pinned one: the frontend did not answer)",
                pinned.temporal_server
            ),
        );
    };
    let version = &info.server_version;
    match releases::lookup(version) {
        Some(Known::Release(r)) => (r.schema, r.visibility, format!("server {version}")),
        Some(Known::Newer(r)) => (
            r.schema,
            r.visibility,
            format!(
                "server {version} (newer than this harness knows: as for {})",
                r.read_from
            ),
        ),
        Some(Known::TooOld) | None => (
            releases::RELEASES[0].schema,
            releases::RELEASES[0].visibility,
            format!("server {version} (unsupported: as for the oldest supported release)"),
        ),
    }
}

async fn schema_of(session: &Session, db: Db) -> Checked {
    let pool = session.pool(db).await?;
    let (schema, visibility, basis) = expected_schemas(session).await;
    let (kind, expected, folder) = match db {
        Db::Temporal => ("temporal", schema, "temporal"),
        Db::Visibility => ("visibility", visibility, "visibility"),
    };
    let found: Option<String> = sqlx::query_scalar(
        "SELECT curr_version FROM schema_version \
         WHERE version_partition = 0 AND db_name = current_database()",
    )
    .fetch_optional(pool)
    .await
    .map_err(sql("reading schema_version"))?;
    let Some(found) = found else {
        return Err(fail(format!(
            "the {kind} database has no schema_version row: load the schema with \
             temporal-sql-tool setup-schema and update-schema (docs/deployment.md)"
        )));
    };
    let (have, want) = (
        releases::schema_pair(&found),
        releases::schema_pair(expected),
    );
    if have < want {
        return Err(fail(format!(
            "{kind} schema {found} is behind {expected}, which {basis} expects: run \
             `temporal-sql-tool --plugin postgres12 --db <db> update-schema --schema-dir \
             schema/postgresql/v12/{folder}/versioned` from that release"
        )));
    }
    if have > want {
        warn(format!(
            "newer than {expected}: expected while upgrading (schema first, then the \
             server), not after a server rollback"
        ));
    }
    Ok(format!(
        "{kind} schema {found} ({basis} expects {expected})"
    ))
}

async fn tables(session: Arc<Session>) -> Checked {
    let mut missing = Vec::new();
    for (db, wanted) in [
        (Db::Temporal, &TEMPORAL_TABLES[..]),
        (
            Db::Visibility,
            &["schema_version", "executions_visibility"][..],
        ),
    ] {
        let pool = session.pool(db).await?;
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema()",
        )
        .fetch_all(pool)
        .await
        .map_err(sql("listing tables"))?;
        missing.extend(
            wanted
                .iter()
                .filter(|t| !found.iter().any(|f| f == *t))
                .map(|t| format!("{db:?}:{t}")),
        );
    }
    if !missing.is_empty() {
        return Err(fail(format!(
            "missing tables {missing:?}: load the schema with temporal-sql-tool setup-schema \
             and update-schema"
        )));
    }
    Ok(format!(
        "{} tables in temporal and executions_visibility in visibility",
        TEMPORAL_TABLES.len()
    ))
}

async fn btree_gin(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Visibility).await?;
    let version: Option<String> =
        sqlx::query_scalar("SELECT extversion::text FROM pg_extension WHERE extname = 'btree_gin'")
            .fetch_optional(pool)
            .await
            .map_err(sql("reading extensions"))?;
    match version {
        Some(v) => Ok(format!("btree_gin {v}")),
        None => Err(fail(
            "btree_gin is not installed in the visibility database: run \
             `CREATE EXTENSION btree_gin;` there as a superuser (advanced visibility needs it)",
        )),
    }
}

async fn connections(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let (used, max, reserved): (i64, String, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_stat_activity), current_setting('max_connections'), \
         current_setting('superuser_reserved_connections')",
    )
    .fetch_one(pool)
    .await
    .map_err(sql("counting connections"))?;
    let available = max.parse::<i64>().unwrap_or(100) - reserved.parse::<i64>().unwrap_or(0);
    let percent = used * 100 / available.max(1);
    let summary = format!("{used} of {available} connections in use ({percent}%)");
    match percent {
        90.. => Err(fail(format!(
            "{summary}: new connections will soon be refused; raise max_connections or lower \
             the server's maxConns"
        ))),
        75..=89 => {
            warn("above 75%");
            Ok(summary)
        }
        _ => Ok(summary),
    }
}

async fn long_sessions(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let rows: Vec<(i32, String, f64)> = sqlx::query_as(
        "SELECT pid, state, EXTRACT(EPOCH FROM now() - \
           CASE WHEN state = 'active' THEN query_start ELSE state_change END)::float8 \
         FROM pg_stat_activity \
         WHERE pid <> pg_backend_pid() AND ( \
           (state LIKE 'idle in transaction%' AND now() - state_change > interval '1 minute') \
           OR (state = 'active' AND backend_type = 'client backend' \
               AND now() - query_start > interval '5 minutes'))",
    )
    .fetch_all(pool)
    .await
    .map_err(sql("reading pg_stat_activity"))?;
    let describe = |rows: &[&(i32, String, f64)]| {
        rows.iter()
            .map(|(pid, state, secs)| format!("pid {pid} {state} for {secs:.0} s"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (idle, active): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.1 != "active");
    if !idle.is_empty() {
        return Err(fail(format!(
            "{}: such sessions hold locks and stop vacuum; end them \
             (pg_terminate_backend) and set idle_in_transaction_session_timeout",
            describe(&idle)
        )));
    }
    if !active.is_empty() {
        warn(format!("long-running queries: {}", describe(&active)));
        return Ok("no session idle in a transaction over 1 min".into());
    }
    Ok("no session idle in a transaction over 1 min, no query running over 5 min".into())
}

async fn blocking_locks(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let rows: Vec<(i32, String)> = sqlx::query_as(
        "SELECT pid, array_to_string(pg_blocking_pids(pid), ',') FROM pg_stat_activity \
         WHERE cardinality(pg_blocking_pids(pid)) > 0 \
           AND now() - query_start > interval '10 seconds'",
    )
    .fetch_all(pool)
    .await
    .map_err(sql("reading locks"))?;
    if rows.is_empty() {
        return Ok("no session waiting over 10 s on a lock".into());
    }
    let waits: Vec<_> = rows
        .iter()
        .map(|(pid, by)| format!("pid {pid} blocked by {by}"))
        .collect();
    Err(fail(format!(
        "{}: find the blockers in pg_stat_activity and end them or their transactions",
        waits.join(", ")
    )))
}

async fn writable(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let (recovery, read_only): (bool, String) = sqlx::query_as(
        "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')",
    )
    .fetch_one(pool)
    .await
    .map_err(sql("reading recovery state"))?;
    if recovery {
        return Err(fail(
            "the server is a standby in recovery: point Temporal at the primary",
        ));
    }
    if read_only == "on" {
        return Err(fail(
            "default_transaction_read_only is on: Temporal cannot write; turn it off",
        ));
    }
    Ok("primary, read-write".into())
}
