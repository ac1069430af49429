//! How a workflow ended when it did not succeed, as data a test can match on: the outcome and
//! the failure's cause chain (application error type, the activity or child workflow involved,
//! timeouts), instead of one flattened string.

use std::fmt;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_common::protos::temporal::api::failure::v1::{failure::FailureInfo, Failure};

/// How a workflow run ended, when not with a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It failed: see the cause chain.
    Failed,
    /// It was cancelled.
    Cancelled,
    /// It was terminated.
    Terminated,
    /// It hit its execution or run timeout.
    TimedOut,
    /// It continued as new (the result belongs to a later run).
    ContinuedAsNew,
    /// No such workflow.
    NotFound,
    /// The result could not be read or decoded (see the message).
    Other,
}

/// One link of a failure's cause chain, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cause {
    /// The failure's message.
    pub message: String,
    /// What kind of failure this link is.
    pub kind: CauseKind,
}

/// What kind of failure a [`Cause`] is, with the details that identify it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CauseKind {
    /// An error raised by workflow or activity code.
    Application {
        /// The error's type name (e.g. the Rust error type, or one the code chose).
        error_type: String,
        /// Whether the code marked it as not to be retried.
        non_retryable: bool,
    },
    /// An activity failed (its cause says why).
    Activity {
        /// The activity type, e.g. `Payments::charge`.
        activity_type: String,
        /// The activity ID within the workflow.
        activity_id: String,
    },
    /// A child workflow failed (its cause says why).
    ChildWorkflow {
        /// The child's workflow type.
        workflow_type: String,
        /// The child's workflow ID.
        workflow_id: String,
    },
    /// A timeout (start-to-close, heartbeat, schedule-to-close...).
    Timeout {
        /// The timeout's type as the server names it, e.g. `Heartbeat`.
        timeout_type: String,
    },
    /// A cancellation.
    Cancelled,
    /// A termination.
    Terminated,
    /// A failure raised by the server.
    Server,
    /// Anything else (nexus, reset...).
    Other,
}

/// A workflow that did not succeed: how it ended, and its failure's cause chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowFailure {
    /// How it ended.
    pub outcome: Outcome,
    /// The failure, outermost first (empty unless [`Outcome::Failed`]).
    pub causes: Vec<Cause>,
    /// The client's own description, for outcomes without a failure.
    pub message: String,
}

impl WorkflowFailure {
    /// The innermost cause: usually the error the code raised.
    pub fn root_cause(&self) -> Option<&Cause> {
        self.causes.last()
    }

    /// The first activity in the chain that failed, as `(activity_type, activity_id)`.
    pub fn activity(&self) -> Option<(&str, &str)> {
        self.causes.iter().find_map(|c| match &c.kind {
            CauseKind::Activity {
                activity_type,
                activity_id,
            } => Some((activity_type.as_str(), activity_id.as_str())),
            _ => None,
        })
    }

    /// The first child workflow in the chain that failed, as `(workflow_type, workflow_id)`.
    pub fn child_workflow(&self) -> Option<(&str, &str)> {
        self.causes.iter().find_map(|c| match &c.kind {
            CauseKind::ChildWorkflow {
                workflow_type,
                workflow_id,
            } => Some((workflow_type.as_str(), workflow_id.as_str())),
            _ => None,
        })
    }

    /// The application error type of the root cause, if the code raised one.
    pub fn error_type(&self) -> Option<&str> {
        self.causes.iter().rev().find_map(|c| match &c.kind {
            CauseKind::Application { error_type, .. } => Some(error_type.as_str()),
            _ => None,
        })
    }
}

impl From<&WorkflowGetResultError> for WorkflowFailure {
    fn from(e: &WorkflowGetResultError) -> Self {
        let outcome = match e {
            WorkflowGetResultError::Failed(_) => Outcome::Failed,
            WorkflowGetResultError::Cancelled { .. } => Outcome::Cancelled,
            WorkflowGetResultError::Terminated { .. } => Outcome::Terminated,
            WorkflowGetResultError::TimedOut => Outcome::TimedOut,
            WorkflowGetResultError::ContinuedAsNew => Outcome::ContinuedAsNew,
            WorkflowGetResultError::NotFound(_) => Outcome::NotFound,
            _ => Outcome::Other,
        };
        let causes = match e {
            WorkflowGetResultError::Failed(incoming) => chain(incoming.failure()),
            _ => Vec::new(),
        };
        WorkflowFailure {
            outcome,
            causes,
            message: e.to_string(),
        }
    }
}

/// The cause chain of a failure proto, outermost first.
fn chain(failure: &Failure) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut next = Some(failure);
    while let Some(f) = next {
        causes.push(Cause {
            message: f.message.clone(),
            kind: kind(f.failure_info.as_ref()),
        });
        next = f.cause.as_deref();
    }
    causes
}

fn kind(info: Option<&FailureInfo>) -> CauseKind {
    match info {
        Some(FailureInfo::ApplicationFailureInfo(a)) => CauseKind::Application {
            error_type: a.r#type.clone(),
            non_retryable: a.non_retryable,
        },
        Some(FailureInfo::ActivityFailureInfo(a)) => CauseKind::Activity {
            activity_type: a
                .activity_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            activity_id: a.activity_id.clone(),
        },
        Some(FailureInfo::ChildWorkflowExecutionFailureInfo(c)) => CauseKind::ChildWorkflow {
            workflow_type: c
                .workflow_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            workflow_id: c
                .workflow_execution
                .as_ref()
                .map(|e| e.workflow_id.clone())
                .unwrap_or_default(),
        },
        Some(FailureInfo::TimeoutFailureInfo(t)) => CauseKind::Timeout {
            timeout_type: t
                .timeout_type()
                .as_str_name()
                .trim_start_matches("TIMEOUT_TYPE_")
                .into(),
        },
        Some(FailureInfo::CanceledFailureInfo(_)) => CauseKind::Cancelled,
        Some(FailureInfo::TerminatedFailureInfo(_)) => CauseKind::Terminated,
        Some(FailureInfo::ServerFailureInfo(_)) => CauseKind::Server,
        _ => CauseKind::Other,
    }
}

impl fmt::Display for WorkflowFailure {
    /// `activity Payments::charge (id 1) failed: card declined [CardDeclined]`, one link per
    /// `: `; the client's message when there is no chain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.causes.is_empty() {
            return f.write_str(&self.message);
        }
        for (i, cause) in self.causes.iter().enumerate() {
            if i > 0 {
                f.write_str(" <- ")?;
            }
            match &cause.kind {
                CauseKind::Activity {
                    activity_type,
                    activity_id,
                } => write!(f, "activity {activity_type} (id {activity_id})")?,
                CauseKind::ChildWorkflow {
                    workflow_type,
                    workflow_id,
                } => write!(f, "child workflow {workflow_type} ({workflow_id})")?,
                CauseKind::Application { error_type, .. } if !error_type.is_empty() => {
                    write!(f, "{} [{error_type}]", cause.message)?
                }
                CauseKind::Timeout { timeout_type } => {
                    write!(f, "{} timeout", timeout_type.to_lowercase())?
                }
                _ => f.write_str(&cause.message)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::common::v1::ActivityType;
    use temporalio_common::protos::temporal::api::failure::v1::{
        ActivityFailureInfo, ApplicationFailureInfo,
    };

    #[test]
    fn the_chain_names_the_activity_and_the_error_type() {
        let failure = Failure {
            message: "activity failed".into(),
            failure_info: Some(FailureInfo::ActivityFailureInfo(ActivityFailureInfo {
                activity_type: Some(ActivityType {
                    name: "Payments::charge".into(),
                }),
                activity_id: "1".into(),
                ..Default::default()
            })),
            cause: Some(Box::new(Failure {
                message: "card declined".into(),
                failure_info: Some(FailureInfo::ApplicationFailureInfo(
                    ApplicationFailureInfo {
                        r#type: "CardDeclined".into(),
                        non_retryable: true,
                        ..Default::default()
                    },
                )),
                ..Default::default()
            })),
            ..Default::default()
        };
        let failure = WorkflowFailure {
            outcome: Outcome::Failed,
            causes: chain(&failure),
            message: String::new(),
        };
        assert_eq!(failure.activity(), Some(("Payments::charge", "1")));
        assert_eq!(failure.error_type(), Some("CardDeclined"));
        assert_eq!(failure.root_cause().unwrap().message, "card declined");
        assert_eq!(
            failure.to_string(),
            "activity Payments::charge (id 1) <- card declined [CardDeclined]"
        );
    }
}
