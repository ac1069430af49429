//! Where a history stops replaying against the code, in words: the SDK's replayer says what
//! differs but not at which event, and wraps its reason in a debug dump.

use super::snapshot::summary;
use super::Definitions;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::{
    History as ProtoHistory, HistoryEvent,
};

/// The replayer's reason without the SDK's debug dump around it: core reports a
/// nondeterminism as a `Failure { failure: Some(Failure { message: "..", .. }) .. }`; people
/// need the quoted message (e.g. `[TMPRL1100] Nondeterminism error: Activity type of scheduled
/// event 'X' does not match activity type of activity command 'Y'`). Anything else as it is.
pub(crate) fn plain(reason: &str) -> &str {
    reason
        .split_once("message: \"")
        .and_then(|(_, rest)| rest.split_once("\", "))
        .map_or(reason, |(message, _)| message)
}

/// Where a history stops replaying: the first workflow task whose commands the code no longer
/// issues, found by replaying ever longer prefixes (each through one more workflow task and the
/// command events it recorded; a prefix that fails stays failing, so a binary search over the
/// tasks needs a handful of replays). `None` when every prefix replays (the difference is in
/// the last task's completion) or the history has no workflow task.
pub(crate) async fn locate(events: &[HistoryEvent], definitions: &Definitions) -> Option<String> {
    let is = |e: &HistoryEvent, ty: EventType| e.event_type == ty as i32;
    let completed: Vec<usize> = (0..events.len())
        .filter(|&i| is(&events[i], EventType::WorkflowTaskCompleted))
        .collect();
    // The events through task `k` and the commands it recorded (up to the next task).
    let end = |k: usize| {
        let from = completed[k] + 1;
        events[from..]
            .iter()
            .position(|e| is(e, EventType::WorkflowTaskScheduled))
            .map_or(events.len(), |p| from + p)
    };
    let (mut lo, mut hi) = (0, completed.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let prefix = ProtoHistory {
            events: events[..end(mid)].to_vec(),
        };
        if definitions.replay_one(prefix.into()).await.is_err() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let k = (lo < completed.len()).then_some(lo)?;
    let recorded: Vec<String> = events[completed[k] + 1..end(k)]
        .iter()
        .map(|e| format!("event {} {}", e.event_id, summary(e)))
        .collect();
    let recorded = if recorded.is_empty() {
        "no command".to_string()
    } else {
        recorded.join(", ")
    };
    Some(format!(
        "it diverges at the workflow task completed in event {}, after which the history \
         recorded {recorded}",
        events[completed[k]].event_id
    ))
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn the_replayers_message_is_taken_out_of_its_debug_dump() {
        let dumped = r#"workflow replay was nondeterministic: Workflow activation completion failed: Failure { failure: Some(Failure { message: "[TMPRL1100] Nondeterminism error: Activity type of scheduled event 'A' does not match activity type of activity command 'B'", source: "", stack_trace: "" }) }"#;
        assert_eq!(
            plain(dumped),
            "[TMPRL1100] Nondeterminism error: Activity type of scheduled event 'A' does not \
             match activity type of activity command 'B'"
        );
        assert_eq!(plain("something else"), "something else");
    }
}
