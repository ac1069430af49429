//! Golden-history assertions: a workflow's event sequence, reduced to what its code decides
//! (event types with activity, timer, signal, update, child and marker names; no IDs, times,
//! workflow tasks or the harness's own time-skipping events), compared with a file under the
//! crate's `tests/snapshots/`. `TEMPORAL_HARNESS_UPDATE_SNAPSHOTS=1` writes the files instead.

use super::{History, RunnerError};
use std::path::PathBuf;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;

/// Set to `1` to write snapshots instead of comparing with them.
pub const UPDATE_ENV: &str = "TEMPORAL_HARNESS_UPDATE_SNAPSHOTS";

/// Compares `history`'s reduced event sequence with the snapshot `name`.
pub(super) fn check(history: &History, name: &str) -> Result<(), RunnerError> {
    let path = snapshot_path(name);
    let actual = reduce(history);
    let updating = std::env::var(UPDATE_ENV).is_ok_and(|v| v == "1");
    let unwritable = |source| RunnerError::SnapshotFile {
        path: path.clone(),
        source,
    };
    if updating {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(unwritable)?;
        }
        return std::fs::write(&path, &actual).map_err(unwritable);
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RunnerError::SnapshotMissing { path })
        }
        Err(e) => return Err(unwritable(e)),
    };
    if expected == actual {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .header("snapshot", "this run")
        .to_string();
    Err(RunnerError::SnapshotMismatch { path, diff })
}

/// `<crate>/tests/snapshots/<name>.history` (the crate whose tests run, from cargo's
/// `CARGO_MANIFEST_DIR`).
fn snapshot_path(name: &str) -> PathBuf {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    root.join("tests")
        .join("snapshots")
        .join(format!("{name}.history"))
}

/// One line per event the workflow's code decides; see the module docs.
pub(crate) fn reduce(history: &History) -> String {
    let mut out = String::new();
    for event in history.events() {
        let ty = EventType::try_from(event.event_type).unwrap_or(EventType::Unspecified);
        let skipped = matches!(
            ty,
            EventType::WorkflowTaskScheduled
                | EventType::WorkflowTaskStarted
                | EventType::WorkflowTaskCompleted
                | EventType::WorkflowTaskTimedOut
                | EventType::WorkflowTaskFailed
                | EventType::WorkflowExecutionOptionsUpdated
                | EventType::WorkflowExecutionTimeSkippingTransitioned
        );
        if !skipped {
            out.push_str(&summary(event));
            out.push('\n');
        }
    }
    out
}

/// An event as its type and what the code named in it: `ActivityTaskScheduled
/// OrderActivities::reserve`, `TimerStarted 3600s`, `WorkflowExecutionSignaled approve`.
pub(crate) fn summary(event: &HistoryEvent) -> String {
    let ty = EventType::try_from(event.event_type).unwrap_or(EventType::Unspecified);
    let detail = match &event.attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
            a.workflow_type.as_ref().map(|t| t.name.clone())
        }
        Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
            a.activity_type.as_ref().map(|t| t.name.clone())
        }
        // Whole seconds as `3600s`; a timer with a fraction in milliseconds (`100ms`), not
        // rounded down to `0s`.
        Some(Attributes::TimerStartedEventAttributes(a)) => {
            a.start_to_fire_timeout.as_ref().map(|d| match d.nanos {
                0 => format!("{}s", d.seconds),
                nanos => format!("{}ms", d.seconds * 1000 + i64::from(nanos) / 1_000_000),
            })
        }
        Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
            Some(a.signal_name.clone())
        }
        Some(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a)) => {
            a.workflow_type.as_ref().map(|t| t.name.clone())
        }
        Some(Attributes::MarkerRecordedEventAttributes(a)) => Some(a.marker_name.clone()),
        Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) => a
            .accepted_request
            .as_ref()
            .and_then(|r| r.input.as_ref())
            .map(|i| i.name.clone()),
        _ => None,
    };
    match detail {
        Some(detail) => format!("{ty:?} {detail}"),
        None => format!("{ty:?}"),
    }
}
