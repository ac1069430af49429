//! Recording the histories of a passing test's workflows, for the replay suite
//! ([`crate::replay`]): one JSON file per run, in Temporal's JSON format (what `temporal
//! workflow show --output json` prints; read back by [`super::History::from_json`]), under
//! `<folder>/<test path>/<WorkflowType>-<n>.json` (`-run<k>` added for each run of a
//! continue-as-new chain).
//!
//! Files are stable across reruns so that a corpus in git does not churn when nothing changed:
//! what varies from run to run is replaced — the test's random ID prefix, UUIDs (run and
//! request IDs), timestamps (by their order: the k-th distinct instant becomes
//! 2000-01-01T00:00:00Z plus k seconds), task IDs, history sizes, worker identities and sticky
//! queues — and the SDK's flag sets are sorted. Replay does not read
//! most of these; the two it does read (the first run ID seeds the workflow's random numbers,
//! event times are its clock) are checked: every normalized file is replayed against the test's
//! code before it is written, and a workflow that branches on them is recorded as it ran, with
//! a warning.

use super::{Definitions, History, RunnerError, TestRunner};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The environment variable that turns recording on for every test: the folder to record to.
pub const RECORD_ENV: &str = "TEMPORAL_HARNESS_RECORD_HISTORIES";

/// Writes the histories of every workflow `runner`'s test started under `folder`; returns the
/// files written. A recording that was asked for and could not be made fails the test.
pub(super) async fn record(
    runner: &TestRunner,
    definitions: &Definitions,
    folder: &Path,
    test: &str,
) -> Result<Vec<PathBuf>, RunnerError> {
    let dir = folder.join(test.replace("::", "/"));
    let unwritable = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunnerError::Record { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(unwritable(&dir))?;
    let stem = short_name(test);
    let mut written = Vec::new();
    for (n, id) in runner.started_workflows().iter().enumerate() {
        let runs = runner.histories(id).await?;
        let count = runs.len();
        for (k, run) in runs.iter().enumerate() {
            let kind = run.workflow_type().unwrap_or("Workflow").to_string();
            let name = if count == 1 {
                format!("{kind}-{}.json", n + 1)
            } else {
                format!("{kind}-{}-run{}.json", n + 1, k + 1)
            };
            // A run of a deployment version the test started is checked against that version.
            let versioned = run
                .versions()
                .into_iter()
                .flatten()
                .next_back()
                .and_then(|build_id| runner.version_definitions(&build_id));
            let definitions = versioned.as_deref().unwrap_or(definitions);
            let text = stable_text(run, runner.prefix(), &stem, definitions).await;
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(unwritable(&path))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The normalized JSON of `run`, if it replays the same; else the JSON as it ran.
async fn stable_text(run: &History, prefix: &str, stem: &str, definitions: &Definitions) -> String {
    let raw = run.to_json();
    let normalized = normalize(&raw, prefix, stem);
    let replays = match crate::proto_json::from_json(normalized.as_bytes()) {
        Ok(history) => definitions.replay_one(history.into()).await.is_ok(),
        Err(_) => false,
    };
    if replays {
        normalized
    } else {
        eprintln!(
            "temporal-harness: the history of {} is recorded as it ran (it does not replay once \
             IDs and times are normalized: the workflow reads its clock or random numbers), so \
             it will differ on every recording",
            run.workflow_id()
        );
        raw
    }
}

/// The last segment of a test path: `orders::an_order_ships` → `an_order_ships`.
fn short_name(test: &str) -> String {
    test.rsplit("::").next().unwrap_or(test).to_string()
}

/// Replaces what varies from run to run in a history's JSON; see the module docs.
pub(crate) fn normalize(json: &str, prefix: &str, stem: &str) -> String {
    let text = if prefix.is_empty() {
        json.to_string()
    } else {
        json.replace(prefix, stem)
    };
    let Ok(mut value) = serde_json::from_str::<Value>(&text) else {
        return text;
    };
    let mut instants = BTreeSet::new();
    collect_instants(&value, &mut instants);
    let times: HashMap<String, String> = instants
        .into_iter()
        .enumerate()
        .map(|(k, (_, original))| (original, synthetic_instant(k)))
        .collect();
    let mut uuids = HashMap::new();
    rewrite(&mut value, None, &times, &mut uuids);
    serde_json::to_string_pretty(&value).unwrap_or(text)
}

fn collect_instants(value: &Value, into: &mut BTreeSet<((String, String), String)>) {
    match value {
        Value::String(s) => {
            if let Some(key) = instant_key(s) {
                into.insert((key, s.clone()));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_instants(v, into)),
        Value::Object(map) => map.values().for_each(|v| collect_instants(v, into)),
        _ => {}
    }
}

fn rewrite(
    value: &mut Value,
    key: Option<&str>,
    times: &HashMap<String, String>,
    uuids: &mut HashMap<String, String>,
) {
    match value {
        // Server bookkeeping that replay does not read, and that differs on every run.
        // (64-bit integers are strings in Temporal's JSON.)
        Value::String(s) if matches!(key, Some("taskId" | "historySizeBytes")) => *s = "0".into(),
        // The SDK's flags are a set; it writes them in hash order.
        Value::Array(items) if key.is_some_and(|k| k.ends_with("UsedFlags")) => {
            items.sort_by_key(|v| v.as_u64());
        }
        Value::String(s) => {
            let replaced = match key {
                Some("identity") if !s.is_empty() => Some("temporal-harness".to_string()),
                // The worker's sticky queue: `<identity>-<random>`.
                _ if s.starts_with("temporal-harness@") => Some("temporal-harness@worker".into()),
                _ if is_uuid(s) => {
                    let next = uuids.len();
                    Some(
                        uuids
                            .entry(s.clone())
                            .or_insert_with(|| synthetic_uuid(next))
                            .clone(),
                    )
                }
                _ => times.get(s.as_str()).cloned(),
            };
            if let Some(r) = replaced {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, key, times, uuids)),
        Value::Object(map) => map
            .iter_mut()
            .for_each(|(k, v)| rewrite(v, Some(k.as_str()), times, uuids)),
        _ => {}
    }
}

/// A sortable key of an RFC 3339 UTC instant (`2026-11-27T06:52:29.769454Z`): the fixed-width
/// part to the second, then the fraction padded to nanoseconds.
fn instant_key(s: &str) -> Option<(String, String)> {
    let bytes = s.as_bytes();
    let shaped = s.len() >= 20
        && s.ends_with('Z')
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !shaped {
        return None;
    }
    let fraction = s[19..s.len() - 1].trim_start_matches('.');
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((s[..19].to_string(), format!("{fraction:0<9}")))
}

fn synthetic_instant(k: usize) -> String {
    let (h, m, s) = (k / 3600, (k / 60) % 60, k % 60);
    format!("2000-01-01T{h:02}:{m:02}:{s:02}Z")
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn synthetic_uuid(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_varies_between_runs_is_replaced_and_order_kept() {
        let a = r#"{"events":[
            {"eventId":"1","eventTime":"2026-11-27T06:52:29.7Z","taskId":"1048599",
             "attributes":{"taskQueue":{"name":"tq-order-ab12cd34"},
              "originalExecutionRunId":"0193a7e2-7c1d-7a35-9a8b-1f2e3d4c5b6a",
              "identity":"123@host","sdkMetadata":{"coreUsedFlags":[3,1,2]}}},
            {"eventId":"2","eventTime":"2026-11-27T06:52:29.69Z","taskId":"1048600",
             "sticky":{"name":"temporal-harness@26730-c36460b5502b4e5eae82c579d656ef58"}}]}"#;
        let b = a
            .replace("ab12cd34", "ffee0011")
            .replace(
                "0193a7e2-7c1d-7a35-9a8b-1f2e3d4c5b6a",
                "11111111-2222-4333-8444-555555555555",
            )
            .replace("06:52:29.7Z", "09:00:01.5Z")
            .replace("06:52:29.69Z", "09:00:01.25Z")
            .replace("1048599", "77")
            .replace("[3,1,2]", "[2,3,1]")
            .replace("26730-c364", "9-ffff");
        let (na, nb) = (
            normalize(a, "order-ab12cd34", "order"),
            normalize(&b, "order-ffee0011", "order"),
        );
        assert_eq!(na, nb, "two runs record the same file");
        assert!(na.contains("tq-order") && !na.contains("ab12cd34"), "{na}");
        assert!(na.contains("00000000-0000-4000-8000-000000000000"), "{na}");
        // .69 is before .7: order by instant, not by text.
        let first = na.find("2000-01-01T00:00:01Z").unwrap();
        let second = na.find("2000-01-01T00:00:00Z").unwrap();
        assert!(first < second, "event 1 is the later instant: {na}");
        assert!(na.contains("\"identity\": \"temporal-harness\""), "{na}");
    }
}
