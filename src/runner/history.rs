//! A workflow's history with the assertions tests reach for: event types in order, activity
//! completions, timers fired.

use super::RunnerError;
use temporalio_client::Client;
use temporalio_client::UntypedWorkflow;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::history::v1::{
    History as ProtoHistory, HistoryEvent,
};

/// The events of one workflow run.
#[derive(Debug, Clone)]
pub struct History {
    workflow_id: String,
    events: Vec<HistoryEvent>,
}

impl History {
    pub(crate) async fn fetch(client: &Client, workflow_id: &str) -> Result<History, RunnerError> {
        let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id);
        let events = handle
            .fetch_history(Default::default())
            .into_events()
            .await
            .map_err(|e| RunnerError::History {
                workflow_id: workflow_id.to_string(),
                reason: e.to_string(),
            })?;
        Ok(History {
            workflow_id: workflow_id.to_string(),
            events,
        })
    }

    /// The workflow this history belongs to.
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// All events, in order.
    pub fn events(&self) -> &[HistoryEvent] {
        &self.events
    }

    /// The event types, in order.
    pub fn event_types(&self) -> Vec<EventType> {
        self.events
            .iter()
            .map(|e| EventType::try_from(e.event_type).unwrap_or(EventType::Unspecified))
            .collect()
    }

    /// How many events of type `ty`.
    pub fn count(&self, ty: EventType) -> usize {
        self.event_types().iter().filter(|t| **t == ty).count()
    }

    /// Completions of the activity whose type name is `activity_type` (e.g. `Greeter::greet`).
    pub fn activity_completions(&self, activity_type: &str) -> usize {
        self.events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
                    Some(a.scheduled_event_id)
                }
                _ => None,
            })
            .filter(|scheduled| self.scheduled_activity_type(*scheduled) == Some(activity_type))
            .count()
    }

    /// Timers that fired.
    pub fn timers_fired(&self) -> usize {
        self.count(EventType::TimerFired)
    }

    fn scheduled_activity_type(&self, event_id: i64) -> Option<&str> {
        self.events
            .iter()
            .find(|e| e.event_id == event_id)
            .and_then(|e| match &e.attributes {
                Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                    a.activity_type.as_ref().map(|t| t.name.as_str())
                }
                _ => None,
            })
    }

    /// Panics unless `expected` occurs in the history in this order (other events may come
    /// between), showing the whole history when it does not.
    #[track_caller]
    pub fn assert_event_types_in_order(&self, expected: &[EventType]) {
        let actual = self.event_types();
        let mut rest = actual.iter();
        for (i, want) in expected.iter().enumerate() {
            if !rest.any(|t| t == want) {
                panic!(
                    "history of {} lacks {:?} (expected #{i} of {:?}) in order; it has:\n{}",
                    self.workflow_id,
                    want,
                    expected,
                    self.render()
                );
            }
        }
    }

    /// Panics unless the activity `activity_type` completed exactly `n` times.
    #[track_caller]
    pub fn assert_activity_completed(&self, activity_type: &str, n: usize) {
        let got = self.activity_completions(activity_type);
        assert_eq!(
            got,
            n,
            "activity {activity_type} completed {got} times in {}, expected {n}; history:\n{}",
            self.workflow_id,
            self.render()
        );
    }

    /// One line per event: `  5 ActivityTaskScheduled`.
    pub fn render(&self) -> String {
        self.events
            .iter()
            .map(|e| {
                let ty = EventType::try_from(e.event_type).unwrap_or(EventType::Unspecified);
                format!("{:>4} {ty:?}", e.event_id)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The history as Temporal's JSON (what `temporal workflow show --output json` prints and
    /// `WorkflowHistory::from_json` reads back, e.g. for a replay regression test).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&ProtoHistory {
            events: self.events.clone(),
        })
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
