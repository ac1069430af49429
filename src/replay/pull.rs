//! Pulling histories from a deployment into a corpus: the workflows a visibility query finds,
//! one file per run, `<out>/<WorkflowType>/<workflow id>__<run id>.json`.
//!
//! Redaction (for payloads that hold personal data) replaces every string inside JSON payloads
//! with `"redacted"` and empties payloads in other encodings. Its cost: a workflow whose
//! commands depend on a redacted value (it branches on a name, or an activity input is compared
//! on replay) will not replay the same, and a payload another converter wrote no longer decodes.

use crate::runner::History;
use crate::stack::{connect, StackError, TemporalError, TemporalTarget};
use base64::Engine;
use futures::StreamExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use temporalio_client::errors::ClientError;
use temporalio_client::{Client, ClientOptions, WorkflowListOptions};

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// A visibility query, e.g. `WorkflowType='OrderWorkflow' AND ExecutionStatus='Running'`.
    pub query: String,
    /// At most this many workflows.
    pub limit: usize,
    /// The corpus folder.
    pub out: PathBuf,
    /// Redact payloads (see the module docs).
    pub redact_payloads: bool,
}

/// Why a pull stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// The deployment could not be reached.
    #[error(transparent)]
    Connect(#[from] StackError),
    /// The visibility query was refused or listing failed.
    #[error(
        "listing workflows failed: {0}. Fix: check the query (e.g. \"WorkflowType='X' AND \
         ExecutionStatus='Running'\") and that the namespace has visibility"
    )]
    List(#[source] ClientError),
    /// A history could not be read.
    #[error(transparent)]
    History(#[from] crate::runner::RunnerError),
    /// A file could not be written.
    #[error("cannot write {}: {source}. Fix: point --out at a folder you can write", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Connects to `target` and pulls from `namespace`; see [`pull`].
pub async fn pull_from(
    target: &TemporalTarget,
    namespace: &str,
    options: &PullOptions,
    progress: impl FnMut(usize, &Path),
) -> Result<Vec<PathBuf>, PullError> {
    let connection = connect(target, Duration::from_secs(10)).await?;
    let client = Client::new(connection, ClientOptions::new(namespace).build()).map_err(|e| {
        StackError::Temporal(TemporalError::Unreachable {
            address: target.address.clone(),
            source: e.into(),
        })
    })?;
    pull(&client, options, progress).await
}

/// Pulls the histories `options` names through `client`; `progress(n, file)` after each
/// file. Returns the files written.
pub async fn pull(
    client: &Client,
    options: &PullOptions,
    mut progress: impl FnMut(usize, &Path),
) -> Result<Vec<PathBuf>, PullError> {
    let list_options = WorkflowListOptions::builder().limit(options.limit).build();
    let mut listed = client.list_workflows(options.query.clone(), list_options);
    let mut written = Vec::new();
    while let Some(execution) = listed.next().await {
        let execution = execution.map_err(PullError::List)?;
        let history =
            History::fetch_run(client, execution.id(), Some(execution.run_id().to_string()))
                .await?;
        let mut json = history.to_json();
        if options.redact_payloads {
            json = redact_payloads(&json);
        }
        let dir = options.out.join(file_safe(execution.workflow_type()));
        let path = dir.join(format!(
            "{}__{}.json",
            file_safe(execution.id()),
            file_safe(execution.run_id())
        ));
        let unwritable = |source| PullError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(unwritable)?;
        std::fs::write(&path, json).map_err(unwritable)?;
        written.push(path);
        progress(written.len(), written.last().expect("just pushed"));
    }
    Ok(written)
}

/// Letters, digits, `.`, `-` and `_` as they are; anything else (a `/` in an ID) as `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every payload of a history's JSON redacted; see the module docs.
pub fn redact_payloads(json: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(json) else {
        return json.to_string();
    };
    redact(&mut value);
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| json.to_string())
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) if map.contains_key("data") && map.contains_key("metadata") => {
            let json_encoded = map
                .get("metadata")
                .and_then(|m| m.get("encoding"))
                .and_then(Value::as_str)
                .and_then(|e| base64::engine::general_purpose::STANDARD.decode(e).ok())
                .is_some_and(|e| e == b"json/plain");
            let engine = base64::engine::general_purpose::STANDARD;
            let redacted = match map.get("data").and_then(Value::as_str) {
                Some(data) if json_encoded => engine
                    .decode(data)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                    .map(|mut payload| {
                        redact_strings(&mut payload);
                        engine.encode(payload.to_string())
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            map.insert("data".into(), Value::String(redacted));
        }
        Value::Object(map) => map.values_mut().for_each(redact),
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn redact_strings(value: &mut Value) {
    match value {
        Value::String(s) => *s = "redacted".into(),
        Value::Object(map) => map.values_mut().for_each(redact_strings),
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payloads_keep_their_shape_and_lose_their_strings() {
        let engine = base64::engine::general_purpose::STANDARD;
        let input = engine.encode(r#"{"name":"Ada Lovelace","cents":4200}"#);
        let json = format!(
            r#"{{"events":[{{"input":{{"payloads":[{{"metadata":{{"encoding":"{}"}},"data":"{input}"}},
               {{"metadata":{{"encoding":"{}"}},"data":"AAEC"}}]}}}}]}}"#,
            engine.encode("json/plain"),
            engine.encode("binary/protobuf")
        );
        let out = redact_payloads(&json);
        assert!(!out.contains(&input), "{out}");
        let value: Value = serde_json::from_str(&out).unwrap();
        let payloads = &value["events"][0]["input"]["payloads"];
        let decoded = engine
            .decode(payloads[0]["data"].as_str().unwrap())
            .unwrap();
        let decoded: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(
            decoded,
            serde_json::json!({"name": "redacted", "cents": 4200})
        );
        assert_eq!(payloads[1]["data"], "");
    }

    #[test]
    fn ids_become_file_names() {
        assert_eq!(file_safe("orders/o-1:retry"), "orders_o-1_retry");
    }
}
