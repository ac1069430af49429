//! PostgreSQL-for-Temporal checks: what a database operator watches on a Temporal database
//! (the check_postgres and postgres_exporter set), judged for Temporal's load. None needs
//! more than a monitoring role (`pg_monitor`); where one is needed and missing, the message
//! says so.

use super::check;
use crate::validation::context::{measure, warn};
use crate::validation::{fail, Check, Checked, Db, Session, Verdict};
use std::sync::Arc;

/// check_postgres's `txn_wraparound` thresholds: warning at 1.3 billion transactions since
/// the oldest unfrozen one, critical at 1.4 billion (PostgreSQL stops writes near 2^31).
const WRAPAROUND_WARN: i64 = 1_300_000_000;
const WRAPAROUND_FAIL: i64 = 1_400_000_000;
/// The tables Temporal's write load bloats first.
const HOT_TABLES: [&str; 4] = ["history_node", "executions", "current_executions", "tasks"];
/// Standby lag (seconds) that warns and that fails.
const LAG_WARN_S: f64 = 10.0;
const LAG_FAIL_S: f64 = 60.0;

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "postgres.connection_budget",
            Postgres,
            Quick,
            "The server's pools (maxConns x services x hosts) fit in max_connections",
            connection_budget
        ),
        check!(
            "postgres.wraparound",
            Postgres,
            Quick,
            "Transaction-ID wraparound is far off in every database",
            wraparound
        ),
        check!(
            "postgres.replication",
            Postgres,
            Quick,
            "Standbys (where any) replay within seconds of the primary",
            replication
        ),
        check!(
            "postgres.dead_tuples",
            Postgres,
            Quick,
            "Temporal's hot tables are not bloated with dead rows",
            dead_tuples
        ),
        check!(
            "postgres.settings",
            Postgres,
            Quick,
            "UTF8 encoding, and no statement_timeout short enough to cut Temporal's queries",
            settings
        ),
        check!(
            "postgres.tls",
            Postgres,
            Quick,
            "Temporal's database connections use TLS where required",
            tls
        ),
    ]
}

fn sql(context: &'static str) -> impl Fn(sqlx::Error) -> Verdict {
    move |e| {
        let text = e.to_string();
        if text.contains("permission denied") {
            return Verdict::Skipped(format!(
                "{context}: {text}: grant the checking role pg_monitor (`GRANT pg_monitor TO \
                 <role>`)"
            ));
        }
        fail(format!("{context}: {e}"))
    }
}

async fn connection_budget(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let Some(budget) = session.target().connection_budget.clone() else {
        return Err(Verdict::Skipped(
            "the server's pool sizes are not known: give --sql-max-conns and \
             --sql-vis-max-conns (persistence.datastores.*.sql.maxConns of the server config) \
             and --hosts frontend=N,history=N,matching=N,worker=N"
                .into(),
        ));
    };
    let (max, reserved, used): (String, String, i64) = sqlx::query_as(
        "SELECT current_setting('max_connections'), \
         current_setting('superuser_reserved_connections'), \
         (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
    )
    .fetch_one(pool)
    .await
    .map_err(sql("reading max_connections"))?;
    let available =
        max.parse::<i64>().unwrap_or_default() - reserved.parse::<i64>().unwrap_or_default();
    let needed = budget.needed(session.target().databases_share_a_server());
    measure("max_connections_available", available as f64);
    measure("pool_connections_needed", needed as f64);
    measure("connections_in_use", used as f64);
    let sum = budget.describe();
    if needed > available {
        return Err(fail(format!(
            "the server may open {needed} connections ({sum}) but PostgreSQL accepts \
             {available} (max_connections {max} - {reserved} reserved): under load new \
             connections fail and workflows stall; raise max_connections to at least {} or \
             lower maxConns",
            needed + reserved.parse::<i64>().unwrap_or_default() + 10
        )));
    }
    if needed * 100 > available * 80 {
        warn(format!(
            "{needed} of {available} connections would be the server's alone: little room for \
             other clients and maintenance"
        ));
    }
    Ok(format!(
        "server pools need at most {needed} ({sum}) of {available} available; {used} in use"
    ))
}

async fn wraparound(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT datname::text, age(datfrozenxid)::int8 FROM pg_database \
         WHERE datallowconn ORDER BY 2 DESC",
    )
    .fetch_all(pool)
    .await
    .map_err(sql("reading pg_database"))?;
    let Some((oldest_db, age)) = rows.first().cloned() else {
        return Err(fail("pg_database lists no database"));
    };
    measure("max_xid_age", age as f64);
    let headroom = 100.0 - age as f64 * 100.0 / 2_147_483_648.0;
    measure("xid_headroom_percent", headroom);
    let summary = format!(
        "oldest unfrozen transaction in `{oldest_db}` is {age} transactions old \
         ({headroom:.1}% of the ID space left)"
    );
    if age >= WRAPAROUND_FAIL {
        return Err(fail(format!(
            "{summary}: PostgreSQL stops accepting writes near 2.1 billion; run VACUUM FREEZE \
             on `{oldest_db}` now and check why autovacuum falls behind"
        )));
    }
    if age >= WRAPAROUND_WARN {
        warn("past 1.3 billion: schedule VACUUM FREEZE");
    }
    Ok(summary)
}

async fn replication(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(pool)
        .await
        .map_err(sql("reading recovery state"))?;
    if in_recovery {
        // The target is itself a standby (temporal.writable fails on it); report its delay.
        let delay: Option<f64> = sqlx::query_scalar(
            "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8",
        )
        .fetch_one(pool)
        .await
        .map_err(sql("reading replay delay"))?;
        let delay = delay.unwrap_or_default();
        measure("standby_delay_s", delay);
        return judge_lag(&[("this standby".into(), delay)]);
    }
    let rows: Vec<(String, String, Option<f64>)> = sqlx::query_as(
        "SELECT coalesce(application_name, client_addr::text, 'standby'), state, \
         EXTRACT(EPOCH FROM coalesce(replay_lag, interval '0'))::float8 \
         FROM pg_stat_replication",
    )
    .fetch_all(pool)
    .await
    .map_err(sql("reading pg_stat_replication"))?;
    measure("standbys", rows.len() as f64);
    if rows.is_empty() {
        return Err(Verdict::Skipped(
            "no standby streams from this server (pg_stat_replication is empty; a monitoring \
             role without pg_monitor sees no rows either)"
                .into(),
        ));
    }
    if let Some((name, state, _)) = rows.iter().find(|(_, state, _)| state != "streaming") {
        return Err(fail(format!(
            "standby `{name}` is {state}, not streaming: it is not keeping up; see its log"
        )));
    }
    let lags: Vec<(String, f64)> = rows
        .into_iter()
        .map(|(name, _, lag)| (name, lag.unwrap_or_default()))
        .collect();
    let worst = lags.iter().map(|(_, l)| *l).fold(0.0, f64::max);
    measure("max_replay_lag_s", worst);
    judge_lag(&lags)
}

fn judge_lag(lags: &[(String, f64)]) -> Checked {
    let listed = lags
        .iter()
        .map(|(name, lag)| format!("{name} {lag:.1} s behind"))
        .collect::<Vec<_>>()
        .join(", ");
    let worst = lags.iter().map(|(_, l)| *l).fold(0.0, f64::max);
    if worst > LAG_FAIL_S {
        return Err(fail(format!(
            "{listed}: a failover now would lose over {LAG_FAIL_S} s of acknowledged \
             workflow progress; find what slows the standby (I/O, network, long queries on it)"
        )));
    }
    if worst > LAG_WARN_S {
        warn(format!("replay lag over {LAG_WARN_S} s"));
    }
    Ok(listed)
}

async fn dead_tuples(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let rows: Vec<(String, i64, i64, Option<f64>)> = sqlx::query_as(
        "SELECT relname::text, n_live_tup, n_dead_tup, \
         EXTRACT(EPOCH FROM now() - greatest(last_autovacuum, last_vacuum))::float8 \
         FROM pg_stat_user_tables WHERE relname = ANY($1) ORDER BY relname",
    )
    .bind(&HOT_TABLES[..])
    .fetch_all(pool)
    .await
    .map_err(sql("reading pg_stat_user_tables"))?;
    if rows.is_empty() {
        return Err(fail(format!(
            "none of {HOT_TABLES:?} is in pg_stat_user_tables: is this Temporal's database?"
        )));
    }
    let mut bloated = Vec::new();
    let mut parts = Vec::new();
    for (table, live, dead, since_vacuum) in &rows {
        let ratio = *dead as f64 / (*live + *dead).max(1) as f64;
        measure(format!("{table}_dead_ratio"), ratio);
        measure(format!("{table}_dead_rows"), *dead as f64);
        parts.push(format!("{table} {dead} dead of {}", live + dead));
        // Small tables churn freely; only a large share of many rows is bloat.
        if *dead > 100_000 && ratio > 0.5 {
            bloated.push(format!(
                "{table} is {:.0}% dead rows ({dead}), last vacuumed {}",
                ratio * 100.0,
                since_vacuum.map_or("never".into(), |s| format!("{:.0} min ago", s / 60.0))
            ));
        } else if *dead > 10_000 && ratio > 0.2 {
            warn(format!("{table} is {:.0}% dead rows", ratio * 100.0));
        }
    }
    if !bloated.is_empty() {
        return Err(fail(format!(
            "{}: scans slow down and the table grows; check autovacuum (its settings and \
             pg_stat_progress_vacuum) and long transactions holding old rows",
            bloated.join("; ")
        )));
    }
    Ok(parts.join(", "))
}

async fn settings(session: Arc<Session>) -> Checked {
    let mut parts = Vec::new();
    for db in [Db::Temporal, Db::Visibility] {
        let pool = session.pool(db).await?;
        let (name, encoding, collation, timeout_ms): (String, String, String, i64) =
            sqlx::query_as(
                "SELECT d.datname::text, pg_encoding_to_char(d.encoding)::text, \
                 d.datcollate::text, \
                 (SELECT setting::int8 FROM pg_settings WHERE name = 'statement_timeout') \
                 FROM pg_database d WHERE d.datname = current_database()",
            )
            .fetch_one(pool)
            .await
            .map_err(sql("reading database settings"))?;
        if encoding != "UTF8" {
            return Err(fail(format!(
                "database `{name}` is encoded {encoding}: Temporal stores UTF-8 text; \
                 recreate it with ENCODING 'UTF8' and restore"
            )));
        }
        measure(format!("{name}_statement_timeout_ms"), timeout_ms as f64);
        if timeout_ms > 0 && timeout_ms < 5_000 {
            return Err(fail(format!(
                "statement_timeout is {timeout_ms} ms for `{name}`: it cancels Temporal's \
                 longer statements (range deletes, visibility scans); set it to 0 or at least \
                 30 s for Temporal's role (`ALTER ROLE ... SET statement_timeout`)"
            )));
        }
        if timeout_ms > 0 && timeout_ms < 30_000 {
            warn(format!("statement_timeout {timeout_ms} ms on `{name}`"));
        }
        parts.push(format!(
            "{name}: {encoding}, collation {collation}, statement_timeout {}",
            if timeout_ms == 0 {
                "off".to_string()
            } else {
                format!("{timeout_ms} ms")
            }
        ));
    }
    Ok(parts.join("; "))
}

async fn tls(session: Arc<Session>) -> Checked {
    let target = session.target();
    let required = target.require_db_tls
        || target
            .databases
            .as_ref()
            .is_ok_and(|d| d.temporal.requires_tls());
    // Temporal's two databases by the names the connection strings give.
    let databases: Vec<String> = target
        .databases
        .as_ref()
        .map(|d| {
            vec![
                d.temporal.database().to_string(),
                d.visibility.database().to_string(),
            ]
        })
        .unwrap_or_default();
    let pool = session.pool(Db::Temporal).await?;
    // Every other client session on Temporal's databases is the server's (or another tool's
    // with the same role): their TLS state says how the server connects.
    let (mine, with_tls, total): (bool, i64, i64) = sqlx::query_as(
        "SELECT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), \
         count(*) FILTER (WHERE s.ssl), count(*) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() \
           AND a.datname = ANY($1)",
    )
    .bind(databases)
    .fetch_one(pool)
    .await
    .map_err(sql("reading pg_stat_ssl"))?;
    measure("server_connections", total as f64);
    measure("server_connections_tls", with_tls as f64);
    let summary = format!(
        "{with_tls} of {total} server connection(s) use TLS; this check's own: {}",
        if mine { "TLS" } else { "plaintext" }
    );
    if total == 0 {
        // Nothing of the server's was judged: say so rather than pass on "0 of 0".
        warn(
            "no server connection is visible to this role (another database, or a role \
             without pg_read_all_stats): only this check's own connection was judged",
        );
    }
    if required && (with_tls < total || !mine) {
        return Err(fail(format!(
            "{summary}, but TLS is required: set the server's \
             persistence.datastores.*.sql.tls.enabled (and PostgreSQL's hostssl lines in \
             pg_hba.conf, so plaintext logins are refused)"
        )));
    }
    if required {
        return Ok(format!("{summary} (required)"));
    }
    Ok(format!(
        "{summary} (not required: --require-db-tls, or sslmode=require in the URL, makes it \
         a requirement)"
    ))
}
