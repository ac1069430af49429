//! Cluster checks: is the deployment whole? Every service role in the membership ring, every
//! history shard owned by a live history host, the persisted shards matching the configured
//! count, and a server release this harness (and its SDK) supports.

use super::check;
use crate::validation::context::{measure, warn};
use crate::validation::releases::{self, Known};
use crate::validation::session::admin_refused;
use crate::validation::{fail, Check, Checked, Db, Session, Verdict};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The roles a Temporal cluster cannot work without.
const ROLES: [&str; 4] = ["frontend", "history", "matching", "worker"];

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "temporal.membership",
            Temporal,
            Quick,
            "Every service role (frontend, history, matching, worker) has a host in membership",
            membership
        ),
        check!(
            "temporal.shards",
            Temporal,
            Quick,
            "Every history shard is owned by a history host, and the persisted shards match",
            shards
        ),
        check!(
            "temporal.server_version",
            Temporal,
            Quick,
            "The server is a release this harness supports, with what the Rust SDK relies on",
            server_version
        ),
    ]
}

async fn membership(session: Arc<Session>) -> Checked {
    let (_, cluster) = session.cluster().await?;
    let rings = cluster
        .membership_info
        .as_ref()
        .map(|m| m.rings.as_slice())
        .unwrap_or_default();
    let expected = session.target().expected_hosts.clone().unwrap_or_default();
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let mut short = Vec::new();
    for role in ROLES {
        let members = rings
            .iter()
            .find(|r| r.role == role)
            .map_or(0, |r| r.members.len().max(r.member_count as usize));
        measure(format!("{role}_hosts"), members as f64);
        let wanted = expected
            .iter()
            .find(|(r, _)| r == role)
            .map_or(1, |(_, n)| *n as usize);
        if members == 0 {
            missing.push(role);
        } else if members < wanted {
            short.push(format!("{role} has {members} of {wanted} hosts"));
        }
        found.push(format!("{role} {members}"));
    }
    let summary = found.join(", ");
    if !missing.is_empty() {
        return Err(fail(format!(
            "no {} host in the membership ring ({summary}): start that service (or find why \
             it left: its log, and `tdbg membership list-hosts`); until it is back the \
             cluster cannot {}",
            missing.join(", "),
            missing
                .iter()
                .map(|r| role_duty(r))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !short.is_empty() {
        return Err(fail(format!(
            "{} in the membership ring ({summary}): the others are down or cannot reach the \
             ring (their logs; `tdbg membership list-hosts`); the cluster runs with less \
             capacity and a history host's shards moved to the rest",
            short.join(", ")
        )));
    }
    Ok(format!("hosts per role: {summary}"))
}

fn role_duty(role: &str) -> &'static str {
    match role {
        "frontend" => "accept API calls",
        "history" => "advance any workflow",
        "matching" => "hand tasks to workers",
        _ => "run its system workflows (schedules, batch, deletion)",
    }
}

async fn shards(session: Arc<Session>) -> Checked {
    let (admin, cluster) = session.cluster().await?;
    let count = cluster.history_shard_count;
    measure("shards", count as f64);
    let hosts: Vec<String> = cluster
        .membership_info
        .as_ref()
        .and_then(|m| m.rings.iter().find(|r| r.role == "history"))
        .map(|r| r.members.iter().map(|h| h.identity.clone()).collect())
        .unwrap_or_default();
    if hosts.is_empty() {
        return Err(fail(
            "no history host in membership, so no shard has an owner: start the history \
             service (see temporal.membership)",
        ));
    }
    let mut owned = BTreeSet::new();
    let mut per_host = Vec::new();
    for host in &hosts {
        let described = admin
            .describe_history_host(host)
            .await
            .map_err(admin_refused)
            .map_err(|v| match v {
                Verdict::Failed(m) => fail(format!("history host {host}: {m}")),
                skipped => skipped,
            })?;
        per_host.push(format!("{host} {}", described.shard_ids.len()));
        owned.extend(described.shard_ids);
    }
    measure("owned_shards", owned.len() as f64);
    let unowned: Vec<i32> = (1..=count).filter(|s| !owned.contains(s)).collect();
    if !unowned.is_empty() {
        let shown: Vec<String> = unowned.iter().take(10).map(i32::to_string).collect();
        return Err(fail(format!(
            "{} of {count} shards have no owner (shard {}{}): workflows on them are stuck \
             until a history host acquires them; look for shard ownership errors in the \
             history hosts' logs ({})",
            unowned.len(),
            shown.join(", "),
            if unowned.len() > shown.len() {
                ", ..."
            } else {
                ""
            },
            per_host.join(", ")
        )));
    }
    let mut summary = format!(
        "all {count} shards owned ({} history host(s): {})",
        hosts.len(),
        per_host.join(", ")
    );
    match session.pool(Db::Temporal).await {
        Ok(pool) => {
            let persisted: i64 = sqlx::query_scalar("SELECT count(*) FROM shards")
                .fetch_one(pool)
                .await
                .map_err(|e| fail(format!("counting rows of `shards`: {e}")))?;
            measure("persisted_shards", persisted as f64);
            if persisted != i64::from(count) {
                return Err(fail(format!(
                    "{summary}, but the database has {persisted} shard rows: the server's \
                     numHistoryShards ({count}) differs from the count the database was \
                     created with; set it back (it can never change after creation)"
                )));
            }
            summary.push_str(&format!("; {persisted} shard rows in the database"));
        }
        Err(Verdict::Skipped(why)) => {
            summary.push_str(&format!("; persisted count not read: {why}"))
        }
        Err(failed) => return Err(failed),
    }
    Ok(summary)
}

/// Capabilities the Rust SDK's core relies on (it asks `GetSystemInfo` at connect and
/// behaves differently without them).
const SDK_CAPABILITIES: [&str; 3] = [
    "sdk_metadata",
    "signal_and_query_header",
    "internal_error_differentiation",
];

async fn server_version(session: Arc<Session>) -> Checked {
    let info = session.system_info().await?;
    let version = info.server_version.as_str();
    let caps = info.capabilities.unwrap_or_default();
    let missing: Vec<&str> = SDK_CAPABILITIES
        .iter()
        .zip([
            caps.sdk_metadata,
            caps.signal_and_query_header,
            caps.internal_error_differentiation,
        ])
        .filter(|(_, on)| !on)
        .map(|(name, _)| *name)
        .collect();
    let (oldest, newest) = (
        releases::RELEASES[0],
        releases::RELEASES[releases::RELEASES.len() - 1],
    );
    let range = format!(
        "{}.{}-{}.{}",
        oldest.minor.0, oldest.minor.1, newest.minor.0, newest.minor.1
    );
    let known = releases::lookup(version).ok_or_else(|| {
        fail(format!(
            "the server reports version `{version}`, which is not a version: is this a \
             Temporal server?"
        ))
    })?;
    if known == Known::TooOld {
        return Err(fail(format!(
            "server {version} is older than the releases supported ({range}): upgrade the \
             server one minor release at a time, schema first (docs/deployment.md)"
        )));
    }
    if !missing.is_empty() {
        return Err(fail(format!(
            "server {version} lacks capabilities the Rust SDK relies on ({}): upgrade it",
            missing.join(", ")
        )));
    }
    if let Known::Newer(_) = known {
        warn(format!(
            "newer than the releases this harness knows ({range}): schema expectations are \
             those of {}.{}; upgrade temporal-harness",
            newest.minor.0, newest.minor.1
        ));
    }
    Ok(format!(
        "server {version} (supported: {range}); SDK capabilities present: {}",
        SDK_CAPABILITIES.join(", ")
    ))
}
