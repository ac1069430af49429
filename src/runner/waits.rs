//! Waiting, bounded, until a workflow reaches a point the test cares about: an event in its
//! history, an activity pending (with heartbeat details). Replaces the polling loops tests
//! would otherwise write; every wait ends with [`RunnerError::WaitTimedOut`] naming what it
//! waited for and what it saw last.

use super::payload::{decode_json, PayloadError};
use super::{untyped, History, RunnerError, TestRunner};
use crate::poll;
use std::cell::RefCell;
use std::time::Duration;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, PendingActivityState};
use temporalio_common::protos::temporal::api::workflow::v1::PendingActivityInfo;

/// How long a `wait_for_*` helper waits at most; at most half the test's own timeout, so
/// the wait's error (which says what it last saw) comes before the test times out.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// How often a wait looks again: well below a workflow task's round trip, so a wait adds
/// little latency, and far above what would load the server.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// An activity the server has scheduled and not yet seen end.
#[derive(Debug, Clone)]
pub struct PendingActivity {
    info: PendingActivityInfo,
}

impl PendingActivity {
    /// The activity's type name, e.g. `Importer::import`.
    pub fn activity_type(&self) -> &str {
        self.info
            .activity_type
            .as_ref()
            .map(|t| t.name.as_str())
            .unwrap_or_default()
    }

    /// The activity ID within its workflow.
    pub fn activity_id(&self) -> &str {
        &self.info.activity_id
    }

    /// The current attempt (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.info.attempt.max(0) as u32
    }

    /// The details of the last heartbeat the server recorded, decoded from JSON (the SDK's
    /// default converter); `Ok(None)` before any heartbeat.
    pub fn heartbeat_details<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<Option<T>, PayloadError> {
        match self
            .info
            .heartbeat_details
            .as_ref()
            .and_then(|p| p.payloads.first())
        {
            None => Ok(None),
            Some(payload) => decode_json(payload, || "heartbeat details".into()).map(Some),
        }
    }

    /// Where it is: scheduled (no worker has it), started, or cancel requested.
    pub fn state(&self) -> PendingActivityState {
        PendingActivityState::try_from(self.info.state).unwrap_or(PendingActivityState::Unspecified)
    }

    /// The message of the last failed attempt's failure, if an attempt failed.
    pub fn last_failure(&self) -> Option<&str> {
        self.info.last_failure.as_ref().map(|f| f.message.as_str())
    }

    /// The server's record, for anything not covered above.
    pub fn raw(&self) -> &PendingActivityInfo {
        &self.info
    }
}

impl TestRunner {
    /// Waits until the history of `workflow_id` (its latest run) has an event of type `ty`,
    /// and returns that history. Bounded by [`WAIT_LIMIT`].
    pub async fn wait_for_event(
        &self,
        workflow_id: &str,
        ty: EventType,
    ) -> Result<History, RunnerError> {
        let last = RefCell::new(String::from("no history yet"));
        let found = poll::until(self.wait_limit(), POLL_INTERVAL, || async {
            match self.history(workflow_id).await {
                Ok(history) if history.has(ty) => Some(history),
                Ok(history) => {
                    *last.borrow_mut() = format!("events {:?}", history.event_types());
                    None
                }
                Err(e) => {
                    *last.borrow_mut() = e.to_string();
                    None
                }
            }
        })
        .await;
        found.ok_or_else(|| {
            self.wait_timed_out(format!("{ty:?} in {workflow_id}"), last.into_inner())
        })
    }

    /// Waits until `workflow_id` has a pending activity of type `activity_type` for which
    /// `ready` holds (e.g. `|a| a.attempt() == 2`, or a heartbeat's details), and returns it.
    /// Bounded by [`WAIT_LIMIT`].
    pub async fn wait_for_pending_activity(
        &self,
        workflow_id: &str,
        activity_type: &str,
        ready: impl Fn(&PendingActivity) -> bool,
    ) -> Result<PendingActivity, RunnerError> {
        let last = RefCell::new(String::from("no description yet"));
        let handle = untyped(self, workflow_id);
        let found = poll::until(self.wait_limit(), POLL_INTERVAL, || async {
            let description = match handle.describe(Default::default()).await {
                Ok(d) => d,
                Err(e) => {
                    *last.borrow_mut() = e.to_string();
                    return None;
                }
            };
            let pending: Vec<PendingActivity> = description
                .raw_description
                .pending_activities
                .into_iter()
                .map(|info| PendingActivity { info })
                .collect();
            *last.borrow_mut() = format!(
                "pending activities {:?}",
                pending
                    .iter()
                    .map(|a| format!("{} (attempt {})", a.activity_type(), a.attempt()))
                    .collect::<Vec<_>>()
            );
            pending
                .into_iter()
                .find(|a| a.activity_type() == activity_type && ready(a))
        })
        .await;
        found.ok_or_else(|| {
            self.wait_timed_out(
                format!("a pending {activity_type} activity in {workflow_id} matching the test's condition"),
                last.into_inner(),
            )
        })
    }

    pub(super) fn wait_limit(&self) -> Duration {
        WAIT_LIMIT.min(self.inner.timeout / 2)
    }

    fn wait_timed_out(&self, what: String, last_seen: String) -> RunnerError {
        RunnerError::WaitTimedOut {
            what,
            waited: self.wait_limit(),
            last_seen,
        }
    }
}
