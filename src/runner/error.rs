//! Why a test's runner could not do what the test asked.

use super::WorkflowFailure;
use crate::config::ConfigError;
use crate::error::BoxError;
use crate::stack::StackError;
use crate::worker_thread::WorkerError;
use std::time::Duration;
use temporalio_client::errors::{
    WorkflowGetResultError, WorkflowInteractionError, WorkflowStartError,
};
use temporalio_sdk::workflow_replayer::WorkflowReplayError;

/// An error of the test runner; each names the workflow or service concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The configuration (`temporal-harness.toml`, `TEMPORAL_HARNESS_*`) cannot be used,
    /// whether found reading it or when the stack was asked for it.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The stack could not be had.
    #[error(transparent)]
    Stack(StackError),
    /// A workflow or activity could not be registered (the SDK's error), or the test's
    /// options contradict each other.
    #[error("registration failed: {0}")]
    Registration(#[source] BoxError),
    /// The worker could not be started, restarted, or stopped on its own.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// A workflow could not be started.
    #[error("starting workflow {workflow_id} failed: {source}")]
    Start {
        /// The workflow ID.
        workflow_id: String,
        /// What the client said.
        #[source]
        source: WorkflowStartError,
    },
    /// A workflow did not complete successfully.
    #[error("workflow {workflow_id} did not succeed: {failure}")]
    Failed {
        /// The workflow ID.
        workflow_id: String,
        /// How it ended, with the failure's cause chain (activity, child, error type).
        failure: Box<WorkflowFailure>,
        /// The client's error.
        #[source]
        source: Box<WorkflowGetResultError>,
    },
    /// A `wait_for_*` helper did not see what it waited for within its bound.
    #[error(
        "waited {waited:?} for {what}; last seen: {last_seen}. Fix: check that the worker \
         registers what the workflow runs, or wait for something that happens"
    )]
    WaitTimedOut {
        /// What the test waited for.
        what: String,
        /// How long it waited.
        waited: Duration,
        /// What it saw last (e.g. the history's last event types).
        last_seen: String,
    },
    /// A history could not be read.
    #[error("reading the history of {workflow_id} failed: {source}")]
    History {
        /// The workflow ID.
        workflow_id: String,
        /// What the client said.
        #[source]
        source: WorkflowInteractionError,
    },
    /// Replaying a history against the registered code failed: nondeterminism.
    #[error(
        "replay of workflow {workflow_id} failed (nondeterminism?): {}{}",
        divergence.as_ref().map(|d| format!("{d}; the replayer says: ")).unwrap_or_default(),
        super::divergence::plain(&source.to_string())
    )]
    Replay {
        /// The workflow ID (empty when the replayer itself could not be built).
        workflow_id: String,
        /// Where its history stops replaying (the workflow task and the commands it recorded),
        /// when that could be found.
        divergence: Option<String>,
        /// The replayer's error, naming the event.
        #[source]
        source: WorkflowReplayError,
    },
    /// The stack has no app database (the `dev` flavour, or external without one).
    #[error("this stack has no app database: use the postgres flavour")]
    NoDatabase,
    /// At the end of the test, mocks were not met: an expectation served fewer (or other)
    /// calls than it expected, or a call came that none had room for.
    #[error(
        "mocks not met:\n{report}Fix: make the workflows call each mocked activity (or start \
         each mocked workflow) as often as its mocks expect (`.times(n)`, `.once()`, \
         `.never()`; without them at least once), or change what they expect"
    )]
    MockExpectations {
        /// Each activity or workflow whose mocks were not met: every expectation, what it
        /// expected and how many calls it served.
        report: String,
    },
    /// At the end of the test, callbacks at a workflow time (`runner.at`) failed or never fired.
    #[error(
        "callbacks at a workflow time did not all run:\n{report}Fix: let each workflow's time \
         reach its callbacks before it ends (or register them earlier), and make each callback \
         succeed"
    )]
    Callbacks {
        /// Each callback that failed or never fired, with why.
        report: String,
    },
    /// The upgrade matrix could not be run (not a verdict: the matrix's rows are).
    #[error("upgrade matrix: {0}")]
    Upgrade(#[source] BoxError),
    /// A worker-versioning call failed (a version unknown to the server, a bad ramp).
    #[error("worker versioning: {0}")]
    Versioning(#[source] BoxError),
    /// A time-skipping call in a test that does not skip time.
    #[error("this test does not skip time: add `time_skipping` to its #[temporal_test]")]
    NoTimeSkipping,
    /// The server refused a time-skipping call.
    #[error("time skipping: {0}")]
    TimeSkipping(#[source] BoxError),
    /// `time_skipping = "server"` on a server that does not skip time per workflow.
    #[error(
        "the server at {address} does not skip time per workflow. Fix: run Temporal 1.32+ with \
         the dynamic config frontend.WorkflowTimeSkippingEnabled=true (the harness's own stacks \
         do), or use `time_skipping` (auto) to fall back to a Java test server"
    )]
    TimeSkippingUnavailable {
        /// The frontend probed.
        address: String,
    },
    /// A workflow stopped skipping time because one wait used up its skips: usually an
    /// activity retried forever under skipped backoff, or a timer loop.
    #[error(
        "workflow {workflow_id} used all {max_skips} time skips of one wait and stopped \
         skipping. Fix: look for an activity retried without end or a timer loop in its history; \
         if it really needs more, raise `max_skips` in #[temporal_test]"
    )]
    SkipBudgetSpent {
        /// The workflow.
        workflow_id: String,
        /// The budget it used up.
        max_skips: u32,
    },
    /// Recording a test's histories (`record`, `TEMPORAL_HARNESS_RECORD_HISTORIES`) failed.
    #[error(
        "cannot record histories to {}: {source}. Fix: point `record` (or \
         TEMPORAL_HARNESS_RECORD_HISTORIES) at a folder you can write",
        path.display()
    )]
    Record {
        /// The folder or file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot file could not be read or written.
    #[error(
        "cannot read or write the history snapshot {}: {source}. Fix: make tests/snapshots of \
         the crate readable and writable",
        path.display()
    )]
    SnapshotFile {
        /// The snapshot file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `assert_history_snapshot` found no snapshot to compare with.
    #[error(
        "no history snapshot at {}. Fix: run the test once with \
         TEMPORAL_HARNESS_UPDATE_SNAPSHOTS=1 to write it, review it, and commit it",
        path.display()
    )]
    SnapshotMissing {
        /// Where it should be.
        path: std::path::PathBuf,
    },
    /// The workflow's events differ from its snapshot.
    #[error(
        "the history differs from its snapshot {}:\n{diff}Fix: if the change is intended, rerun \
         with TEMPORAL_HARNESS_UPDATE_SNAPSHOTS=1 and commit the snapshot",
        path.display()
    )]
    SnapshotMismatch {
        /// The snapshot file.
        path: std::path::PathBuf,
        /// A unified diff, snapshot to this run.
        diff: String,
    },
    /// The app database refused (a test's `?` on a `sqlx` call lands here).
    #[error("app database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<StackError> for RunnerError {
    /// A configuration error stays one, however deep the stack found it.
    fn from(error: StackError) -> Self {
        match error {
            StackError::Config(config) => RunnerError::Config(config),
            other => RunnerError::Stack(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::StateError;

    #[test]
    fn a_configuration_error_found_by_the_stack_stays_one() {
        let found = StackError::Config(ConfigError::Unsupported("topology = \"cluster\"".into()));
        assert!(matches!(RunnerError::from(found), RunnerError::Config(_)));
        let other = StackError::State(StateError::LockTimeout {
            timeout: Duration::from_secs(1),
            lock: "k.lock".into(),
        });
        assert!(matches!(RunnerError::from(other), RunnerError::Stack(_)));
    }
}
