//! What a workflow's code did, step by step, as its history records it: the commands it
//! issued and the messages it took in, in order, with a readable expectation and a diff.

use super::History;
use std::fmt;
use std::time::Duration;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::{ActivityDefinition, WorkflowDefinition};

/// One step of a run: a command its code issued or a message it took in. Workflow tasks,
/// activity attempts and their results are the server's and the worker's, not steps; an
/// activity retried three times is one `Activity` step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// An activity scheduled, by activity type.
    Activity(String),
    /// A timer started, by its duration.
    Timer(Duration),
    /// A child workflow started, by workflow type.
    Child(String),
    /// A signal received, by name.
    SignalReceived(String),
    /// An update accepted, by name.
    UpdateAccepted(String),
    /// A signal sent to another workflow, by name.
    SignalSent(String),
    /// A marker recorded (patches, local activities, side effects), by marker name.
    Marker(String),
    /// Search attributes upserted, by their names (sorted).
    SearchAttributesUpserted(Vec<String>),
    /// Memo fields upserted, by their names (sorted).
    MemoUpserted(Vec<String>),
    /// Cancellation of the run requested.
    CancelRequested,
    /// The run completed.
    Completed,
    /// The run failed.
    Failed,
    /// The run was canceled.
    Canceled,
    /// The run timed out.
    TimedOut,
    /// The run was terminated.
    Terminated,
    /// The run continued as new.
    ContinuedAsNew,
}

impl Step {
    /// The activity `definition` scheduled: `Step::activity(Payments::charge)`.
    pub fn activity(definition: impl ActivityDefinition) -> Step {
        Step::Activity(definition.name().to_string())
    }

    /// A timer of `duration` started.
    pub fn timer(duration: Duration) -> Step {
        Step::Timer(duration)
    }

    /// The child workflow `definition` started: `Step::child(ShipmentWorkflow::run)`.
    pub fn child(definition: impl WorkflowDefinition) -> Step {
        Step::Child(definition.name().to_string())
    }

    /// The signal `name` received.
    pub fn signal(name: impl Into<String>) -> Step {
        Step::SignalReceived(name.into())
    }

    /// The step an event records, if it records one.
    fn of(attributes: &Attributes) -> Option<Step> {
        let keys = |fields: Option<Vec<&String>>| {
            let mut keys: Vec<String> = fields.unwrap_or_default().into_iter().cloned().collect();
            keys.sort();
            keys
        };
        Some(match attributes {
            Attributes::ActivityTaskScheduledEventAttributes(a) => Step::Activity(
                a.activity_type
                    .as_ref()
                    .map_or_else(String::new, |t| t.name.clone()),
            ),
            Attributes::TimerStartedEventAttributes(a) => Step::Timer(
                a.start_to_fire_timeout
                    .as_ref()
                    .map_or(Duration::ZERO, |d| {
                        Duration::new(d.seconds.max(0) as u64, d.nanos.max(0) as u32)
                    }),
            ),
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => Step::Child(
                a.workflow_type
                    .as_ref()
                    .map_or_else(String::new, |t| t.name.clone()),
            ),
            Attributes::WorkflowExecutionSignaledEventAttributes(a) => {
                Step::SignalReceived(a.signal_name.clone())
            }
            Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a) => Step::UpdateAccepted(
                a.accepted_request
                    .as_ref()
                    .and_then(|r| r.input.as_ref())
                    .map_or_else(String::new, |i| i.name.clone()),
            ),
            Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(a) => {
                Step::SignalSent(a.signal_name.clone())
            }
            Attributes::MarkerRecordedEventAttributes(a) => Step::Marker(a.marker_name.clone()),
            Attributes::UpsertWorkflowSearchAttributesEventAttributes(a) => {
                Step::SearchAttributesUpserted(keys(
                    a.search_attributes
                        .as_ref()
                        .map(|s| s.indexed_fields.keys().collect()),
                ))
            }
            Attributes::WorkflowPropertiesModifiedEventAttributes(a) => Step::MemoUpserted(keys(
                a.upserted_memo.as_ref().map(|m| m.fields.keys().collect()),
            )),
            Attributes::WorkflowExecutionCancelRequestedEventAttributes(_) => Step::CancelRequested,
            Attributes::WorkflowExecutionCompletedEventAttributes(_) => Step::Completed,
            Attributes::WorkflowExecutionFailedEventAttributes(_) => Step::Failed,
            Attributes::WorkflowExecutionCanceledEventAttributes(_) => Step::Canceled,
            Attributes::WorkflowExecutionTimedOutEventAttributes(_) => Step::TimedOut,
            Attributes::WorkflowExecutionTerminatedEventAttributes(_) => Step::Terminated,
            Attributes::WorkflowExecutionContinuedAsNewEventAttributes(_) => Step::ContinuedAsNew,
            _ => return None,
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Activity(name) => write!(f, "activity {name}"),
            Step::Timer(d) => write!(f, "timer {}", short(*d)),
            Step::Child(name) => write!(f, "child {name}"),
            Step::SignalReceived(name) => write!(f, "signal {name}"),
            Step::UpdateAccepted(name) => write!(f, "update {name}"),
            Step::SignalSent(name) => write!(f, "signal sent {name}"),
            Step::Marker(name) => write!(f, "marker {name}"),
            Step::SearchAttributesUpserted(keys) => {
                write!(f, "upsert search attributes {}", keys.join(", "))
            }
            Step::MemoUpserted(keys) => write!(f, "upsert memo {}", keys.join(", ")),
            Step::CancelRequested => f.write_str("cancel requested"),
            Step::Completed => f.write_str("completed"),
            Step::Failed => f.write_str("failed"),
            Step::Canceled => f.write_str("canceled"),
            Step::TimedOut => f.write_str("timed out"),
            Step::Terminated => f.write_str("terminated"),
            Step::ContinuedAsNew => f.write_str("continued as new"),
        }
    }
}

/// `1h`, `90s`, `250ms`: the largest whole unit.
fn short(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

impl History {
    /// The run's steps in order: see [`Step`].
    pub fn steps(&self) -> Vec<Step> {
        self.events()
            .iter()
            .filter_map(|e| e.attributes.as_ref().and_then(Step::of))
            .collect()
    }

    /// Panics unless the run's steps are exactly `expected`, with a diff of the two (one
    /// step a line) and the whole history.
    #[track_caller]
    pub fn assert_steps(&self, expected: &[Step]) {
        let actual = self.steps();
        if actual == expected {
            return;
        }
        let lines = |steps: &[Step]| steps.iter().map(|s| format!("{s}\n")).collect::<String>();
        let (expected, actual) = (lines(expected), lines(&actual));
        let diff = similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .header("expected", "this run")
            .to_string();
        panic!(
            "the steps of {} differ from the expected ones:\n{diff}history:\n{}",
            self.workflow_id(),
            self.render()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::common::v1::ActivityType;
    use temporalio_common::protos::temporal::api::history::v1::{
        ActivityTaskScheduledEventAttributes, History as ProtoHistory, HistoryEvent,
        TimerStartedEventAttributes,
    };

    fn history() -> History {
        let events = [
            Attributes::ActivityTaskScheduledEventAttributes(
                ActivityTaskScheduledEventAttributes {
                    activity_type: Some(ActivityType {
                        name: "Payments::charge".into(),
                    }),
                    ..Default::default()
                },
            ),
            Attributes::TimerStartedEventAttributes(TimerStartedEventAttributes {
                start_to_fire_timeout: Some(prost_wkt_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            Attributes::WorkflowExecutionCompletedEventAttributes(Default::default()),
        ];
        let events = events
            .into_iter()
            .enumerate()
            .map(|(i, a)| HistoryEvent {
                event_id: i as i64 + 1,
                attributes: Some(a),
                ..Default::default()
            })
            .collect();
        History::from_proto("wf-1", ProtoHistory { events })
    }

    #[test]
    fn steps_are_the_codes_commands_in_order() {
        let expected = [
            Step::Activity("Payments::charge".into()),
            Step::timer(Duration::from_secs(3600)),
            Step::Completed,
        ];
        history().assert_steps(&expected);
        let shown: Vec<String> = expected.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["activity Payments::charge", "timer 1h", "completed"]
        );
        assert_eq!(short(Duration::from_millis(1500)), "1500ms");
        assert_eq!(short(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn a_mismatch_shows_a_diff() {
        let caught = std::panic::catch_unwind(|| {
            history().assert_steps(&[
                Step::Activity("Payments::charge".into()),
                Step::timer(Duration::from_secs(60)),
                Step::Completed,
            ])
        })
        .expect_err("a different timer fails");
        let message = caught.downcast_ref::<String>().expect("a formatted panic");
        assert!(message.contains("-timer 1m\n+timer 1h\n"), "{message}");
        assert!(message.starts_with("the steps of wf-1 differ"), "{message}");
    }
}
