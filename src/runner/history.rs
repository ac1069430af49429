//! A workflow's history with the assertions tests reach for: event types in order, activity
//! completions and attempts, timers fired; and whole continue-as-new chains.

use super::RunnerError;
use temporalio_client::UntypedWorkflow;
use temporalio_client::{Client, WorkflowExecutionInfo, WorkflowHandle};
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
    /// The latest run of `workflow_id`.
    pub(crate) async fn fetch(client: &Client, workflow_id: &str) -> Result<History, RunnerError> {
        Self::fetch_run(client, workflow_id, None).await
    }

    /// One run of `workflow_id` (`None`: the latest).
    pub(crate) async fn fetch_run(
        client: &Client,
        workflow_id: &str,
        run_id: Option<String>,
    ) -> Result<History, RunnerError> {
        let info = WorkflowExecutionInfo::builder()
            .namespace(client.options().namespace.clone())
            .workflow_id(workflow_id)
            .maybe_run_id(run_id)
            .build();
        let handle = WorkflowHandle::<Client, UntypedWorkflow>::new(client.clone(), info);
        let events = handle
            .fetch_history(Default::default())
            .into_events()
            .await
            .map_err(|source| RunnerError::History {
                workflow_id: workflow_id.to_string(),
                source,
            })?;
        Ok(History {
            workflow_id: workflow_id.to_string(),
            events,
        })
    }

    /// Every run of `workflow_id`'s continue-as-new chain, first run first (one element for a
    /// workflow that never continued as new).
    pub(crate) async fn fetch_chain(
        client: &Client,
        workflow_id: &str,
    ) -> Result<Vec<History>, RunnerError> {
        let mut runs = vec![Self::fetch(client, workflow_id).await?];
        while let Some(previous) = runs.last().and_then(History::continued_from) {
            let previous = previous.to_string();
            runs.push(Self::fetch_run(client, workflow_id, Some(previous)).await?);
        }
        runs.reverse();
        Ok(runs)
    }

    /// The workflow this history belongs to.
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The workflow's type, from its first event.
    pub fn workflow_type(&self) -> Option<&str> {
        match self.events.first().and_then(|e| e.attributes.as_ref()) {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                a.workflow_type.as_ref().map(|t| t.name.as_str())
            }
            _ => None,
        }
    }

    /// The run this one continued from (continue-as-new, retry or cron), if any.
    pub fn continued_from(&self) -> Option<&str> {
        match self.events.first().and_then(|e| e.attributes.as_ref()) {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a))
                if !a.continued_execution_run_id.is_empty() =>
            {
                Some(&a.continued_execution_run_id)
            }
            _ => None,
        }
    }

    /// Whether an event of type `ty` is in the history.
    pub fn has(&self, ty: EventType) -> bool {
        self.events.iter().any(|e| e.event_type == ty as i32)
    }

    /// The type names of the activities the workflow scheduled, in order (one entry per
    /// scheduling; retries of one scheduling are attempts, not entries).
    pub fn scheduled_activities(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                    a.activity_type.as_ref().map(|t| t.name.as_str())
                }
                _ => None,
            })
            .collect()
    }

    /// For each scheduling of the activity `activity_type`, in order: the attempt that ended
    /// it (the server records an activity's start once, with the attempt number, when its last
    /// attempt ends). 0 for one that has not ended yet.
    pub fn activity_attempts(&self, activity_type: &str) -> Vec<u32> {
        self.events
            .iter()
            .filter(|e| {
                matches!(&e.attributes,
                    Some(Attributes::ActivityTaskScheduledEventAttributes(a))
                        if a.activity_type.as_ref().is_some_and(|t| t.name == activity_type))
            })
            .map(|scheduled| {
                self.events
                    .iter()
                    .find_map(|e| match &e.attributes {
                        Some(Attributes::ActivityTaskStartedEventAttributes(s))
                            if s.scheduled_event_id == scheduled.event_id =>
                        {
                            Some(s.attempt.max(0) as u32)
                        }
                        _ => None,
                    })
                    .unwrap_or(0)
            })
            .collect()
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

    /// Which deployment version ran each workflow task, in order: its build ID (`None`: an
    /// unversioned worker), from each `WorkflowTaskCompleted`. With worker versioning
    /// ([`TestRunner::deployment`](super::TestRunner::deployment)) this shows a Pinned
    /// workflow staying on its version and an AutoUpgrade one moving.
    pub fn versions(&self) -> Vec<Option<String>> {
        self.events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => Some(
                    a.deployment_version
                        .as_ref()
                        .map(|v| v.build_id.clone())
                        .filter(|b| !b.is_empty()),
                ),
                _ => None,
            })
            .collect()
    }

    /// The timers started and not yet fired or cancelled, by timer ID, with when each fires
    /// (its `TimerStarted` time plus its duration, in the workflow's clock).
    pub fn pending_timers(&self) -> Vec<(String, std::time::SystemTime)> {
        use std::time::{Duration, SystemTime};
        let mut pending: Vec<(String, SystemTime)> = Vec::new();
        for e in &self.events {
            match &e.attributes {
                Some(Attributes::TimerStartedEventAttributes(a)) => {
                    let started = e.event_time.and_then(|t| SystemTime::try_from(t).ok());
                    let wait = a
                        .start_to_fire_timeout
                        .and_then(|d| Duration::try_from(d).ok());
                    if let (Some(started), Some(wait)) = (started, wait) {
                        pending.push((a.timer_id.clone(), started + wait));
                    }
                }
                Some(Attributes::TimerFiredEventAttributes(a)) => {
                    pending.retain(|(id, _)| *id != a.timer_id)
                }
                Some(Attributes::TimerCanceledEventAttributes(a)) => {
                    pending.retain(|(id, _)| *id != a.timer_id)
                }
                _ => {}
            }
        }
        pending
    }

    /// Timers that fired.
    pub fn timers_fired(&self) -> usize {
        self.count(EventType::TimerFired)
    }

    /// Each fired timer's lateness in milliseconds: its `TimerFired` time minus its
    /// `TimerStarted` time plus its duration (negative: it fired early), by timer ID.
    pub fn timer_lateness_ms(&self) -> Vec<(String, i64)> {
        let millis = |seconds: i64, nanos: i32| seconds * 1000 + i64::from(nanos) / 1_000_000;
        let at = |e: &HistoryEvent| e.event_time.as_ref().map(|t| millis(t.seconds, t.nanos));
        let mut due = std::collections::HashMap::new();
        let mut lateness = Vec::new();
        for event in &self.events {
            match &event.attributes {
                Some(Attributes::TimerStartedEventAttributes(a)) => {
                    let length = a
                        .start_to_fire_timeout
                        .as_ref()
                        .map_or(0, |d| millis(d.seconds, d.nanos));
                    if let Some(t) = at(event) {
                        due.insert(a.timer_id.clone(), t + length);
                    }
                }
                Some(Attributes::TimerFiredEventAttributes(a)) => {
                    if let (Some(fired), Some(due)) = (at(event), due.get(&a.timer_id)) {
                        lateness.push((a.timer_id.clone(), fired - due));
                    }
                }
                _ => {}
            }
        }
        lateness
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

    /// One line per event, with what the code named in it:
    /// `   5 ActivityTaskScheduled OrderActivities::reserve`.
    pub fn render(&self) -> String {
        self.events
            .iter()
            .map(|e| format!("{:>4} {}", e.event_id, super::snapshot::summary(e)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `workflow_id`'s history made of `history`'s events (as a test builds one).
    pub fn from_proto(workflow_id: &str, history: ProtoHistory) -> History {
        History {
            workflow_id: workflow_id.into(),
            events: history.events,
        }
    }

    /// A history from a file's bytes in Temporal's JSON format (or the SDK types' JSON); the
    /// workflow ID is read from its first event.
    pub fn from_json(bytes: &[u8]) -> Result<History, crate::proto_json::HistoryJsonError> {
        let events = crate::proto_json::from_json(bytes)?.events;
        let workflow_id = match events.first().and_then(|e| e.attributes.as_ref()) {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a.workflow_id.clone(),
            _ => String::new(),
        };
        Ok(History {
            workflow_id,
            events,
        })
    }

    /// The history as the SDK's replayer takes it.
    pub(crate) fn to_replayable(&self) -> temporalio_client::WorkflowHistory {
        ProtoHistory {
            events: self.events.clone(),
        }
        .into()
    }

    /// The history in Temporal's JSON format: what `temporal workflow show --output json`
    /// prints and the Web UI imports; [`History::from_json`] reads it back (e.g. for
    /// a replay regression test).
    pub fn to_json(&self) -> String {
        crate::proto_json::to_json(&ProtoHistory {
            events: self.events.clone(),
        })
    }
}
