//! Invariants read from a workflow's history, beyond completing once with the right result:
//! what Temporal's pre-production guidance says must hold under faults. Pure functions of
//! the history, each returning what it found wrong.

use crate::runner::History;
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// Every activity's result reaches the workflow once: no scheduled activity has two
/// terminal events (completed, failed, timed out, canceled) in the history.
pub fn activity_results_once(history: &History) -> Vec<String> {
    let mut results: HashMap<i64, Vec<&'static str>> = HashMap::new();
    for event in history.events() {
        let (scheduled, what) = match &event.attributes {
            Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
                (a.scheduled_event_id, "completed")
            }
            Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
                (a.scheduled_event_id, "failed")
            }
            Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => {
                (a.scheduled_event_id, "timed out")
            }
            Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
                (a.scheduled_event_id, "canceled")
            }
            _ => continue,
        };
        results.entry(scheduled).or_default().push(what);
    }
    let mut found: Vec<String> = results
        .into_iter()
        .filter(|(_, r)| r.len() > 1)
        .map(|(scheduled, r)| {
            format!(
                "activity scheduled at event {scheduled} delivered {} results to the workflow \
                 ({})",
                r.len(),
                r.join(", ")
            )
        })
        .collect();
    found.sort();
    found
}

/// No timer fires before it is due (`TimerFired` no earlier than `TimerStarted` plus its
/// duration; the server stamps both, so no clock skew between hosts enters).
pub fn timers_not_early(history: &History) -> Vec<String> {
    history
        .timer_lateness_ms()
        .into_iter()
        .filter(|(_, late)| *late < 0)
        .map(|(timer, late)| format!("timer {timer} fired {} ms before it was due", -late))
        .collect()
}

/// The workflow's last workflow task did not fail: a workflow whose tasks keep failing is
/// stuck until someone fixes it (a failed task that a later one replaced is fine: faults
/// make tasks fail and retry).
pub fn no_failing_workflow_task(history: &History) -> Vec<String> {
    let last = history.events().iter().rev().find_map(|e| {
        let ty = EventType::try_from(e.event_type).ok()?;
        matches!(
            ty,
            EventType::WorkflowTaskScheduled
                | EventType::WorkflowTaskStarted
                | EventType::WorkflowTaskCompleted
                | EventType::WorkflowTaskFailed
                | EventType::WorkflowTaskTimedOut
        )
        .then_some((ty, e))
    });
    match last {
        Some((EventType::WorkflowTaskFailed, event)) => {
            let cause = match &event.attributes {
                Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => {
                    let message = a
                        .failure
                        .as_ref()
                        .map(|f| f.message.as_str())
                        .unwrap_or_default();
                    format!("cause {} {message}", a.cause)
                }
                _ => String::new(),
            };
            vec![format!(
                "its last workflow task failed ({cause}) and none replaced it: the workflow is \
                 stuck"
            )]
        }
        _ => Vec::new(),
    }
}

/// All of the above.
pub fn history_invariants(history: &History) -> Vec<String> {
    let mut found = activity_results_once(history);
    found.extend(timers_not_early(history));
    found.extend(no_failing_workflow_task(history));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::history::v1::{
        ActivityTaskCompletedEventAttributes, History as ProtoHistory, HistoryEvent,
        TimerFiredEventAttributes, TimerStartedEventAttributes, WorkflowTaskFailedEventAttributes,
    };

    fn event(id: i64, ty: EventType, millis: i64, attributes: Attributes) -> HistoryEvent {
        HistoryEvent {
            event_id: id,
            event_type: ty as i32,
            event_time: Some(prost_wkt_types::Timestamp {
                seconds: millis / 1000,
                nanos: (millis % 1000) as i32 * 1_000_000,
            }),
            attributes: Some(attributes),
            ..Default::default()
        }
    }

    fn history(events: Vec<HistoryEvent>) -> History {
        History::from_proto("wf", ProtoHistory { events })
    }

    fn timer(started_at: i64, length_ms: i64, fired_at: i64) -> History {
        history(vec![
            event(
                5,
                EventType::TimerStarted,
                started_at,
                Attributes::TimerStartedEventAttributes(TimerStartedEventAttributes {
                    timer_id: "1".into(),
                    start_to_fire_timeout: Some(prost_wkt_types::Duration {
                        seconds: length_ms / 1000,
                        nanos: (length_ms % 1000) as i32 * 1_000_000,
                    }),
                    ..Default::default()
                }),
            ),
            event(
                6,
                EventType::TimerFired,
                fired_at,
                Attributes::TimerFiredEventAttributes(TimerFiredEventAttributes {
                    timer_id: "1".into(),
                    started_event_id: 5,
                }),
            ),
        ])
    }

    #[test]
    fn a_timer_that_fires_early_is_named() {
        assert!(timers_not_early(&timer(1_000, 500, 1_500)).is_empty());
        assert!(timers_not_early(&timer(1_000, 500, 1_900)).is_empty());
        assert_eq!(
            timers_not_early(&timer(1_000, 500, 1_400)),
            ["timer 1 fired 100 ms before it was due"]
        );
    }

    #[test]
    fn two_results_for_one_activity_are_named() {
        let completed = |id| {
            event(
                id,
                EventType::ActivityTaskCompleted,
                0,
                Attributes::ActivityTaskCompletedEventAttributes(
                    ActivityTaskCompletedEventAttributes {
                        scheduled_event_id: 5,
                        ..Default::default()
                    },
                ),
            )
        };
        assert!(activity_results_once(&history(vec![completed(7)])).is_empty());
        let twice = activity_results_once(&history(vec![completed(7), completed(9)]));
        assert_eq!(
            twice,
            [
                "activity scheduled at event 5 delivered 2 results to the workflow (completed, \
              completed)"
            ]
        );
    }

    #[test]
    fn only_a_last_failed_workflow_task_is_stuck() {
        let failed = |id| {
            event(
                id,
                EventType::WorkflowTaskFailed,
                0,
                Attributes::WorkflowTaskFailedEventAttributes(WorkflowTaskFailedEventAttributes {
                    cause: 3,
                    ..Default::default()
                }),
            )
        };
        let completed = event(
            9,
            EventType::WorkflowTaskCompleted,
            0,
            Attributes::WorkflowTaskCompletedEventAttributes(Default::default()),
        );
        assert!(no_failing_workflow_task(&history(vec![failed(4), completed])).is_empty());
        let stuck = no_failing_workflow_task(&history(vec![failed(4)]));
        assert!(stuck[0].contains("none replaced it"), "{stuck:?}");
    }
}
