//! The test runner behind `#[temporal_test]`: a real worker for the test's workflows and
//! activities on the run's shared stack, and a [`TestRunner`] handle for the test body.
//!
//! `run_test` (what the attribute expands to call) owns the test's lifecycle: it acquires the stack, drives the worker next to the
//! body on one thread (the SDK's `Worker::run` is `!Send`), enforces the timeout, replays every
//! workflow the test ran, and on failure prints the captured tracing output and writes the
//! histories of the test's workflows to files whose paths it prints.

mod callbacks;
mod definitions;
mod deployment;
pub(crate) mod divergence;
pub(crate) mod entry;
mod error;
mod failure;
mod history;
mod history_properties;
mod mocks;
pub(crate) mod options;
mod payload;
pub mod record;
mod setup;
pub(crate) mod snapshot;
mod steps;
mod time;
mod upgrade;
mod waits;
mod worker;
mod workflow_failure;

pub use crate::proto_json::HistoryJsonError;
pub use crate::worker_thread::WorkerError;
pub use definitions::Definitions;
pub use deployment::Deployment;
pub use error::RunnerError;
pub use history::History;
pub use history_properties::Fields;
pub use mocks::{ActivityMock, MockCall, MockFailure, WorkflowMock};
pub use options::Patches;
pub(crate) use options::TestOptions;
pub use payload::PayloadError;
pub use record::RECORD_ENV;
pub use steps::Step;
pub use temporalio_common::protos::temporal::api::enums::v1::PendingActivityState;
pub use time::{TimeSkippingMode, DEFAULT_MAX_SKIPS};
pub use upgrade::{Boundary, UpgradeMatrix, UpgradeOutcome};
pub use waits::{PendingActivity, WAIT_LIMIT};
pub use workflow_failure::{Cause, CauseKind, Outcome, WorkflowFailure};

use crate::stack::{Endpoints, Stack};
#[cfg(feature = "faults")]
pub(crate) use failure::histories_dir;
use failure::CapturedLogs;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use temporalio_client::{
    Client, UntypedWorkflow, WorkflowExecutionStatus, WorkflowGetResultOptions, WorkflowHandle,
    WorkflowStartOptions,
};
use temporalio_common::HasWorkflowDefinition;
use worker::WorkerControl;

/// The test body's handle on its worker, client, workflows and databases.
#[derive(Clone)]
pub struct TestRunner {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    endpoints: Endpoints,
    namespace: String,
    task_queue: String,
    prefix: String,
    started: Mutex<Vec<String>>,
    next_id: AtomicUsize,
    worker: WorkerControl,
    /// The test's timeout: waits inside the test are bounded by it too.
    timeout: Duration,
    /// What the test's `tracing` subscriber captured so far.
    logs: CapturedLogs,
    pool: tokio::sync::OnceCell<sqlx::PgPool>,
    /// The time-skipping test server, for tests that skip time.
    time: Option<time::TimeSkipping>,
    /// The test's activity mocks, which its workers' interceptor consults.
    mocks: Arc<mocks::Mocks>,
    /// The test's callbacks at a point in a workflow's time.
    callbacks: callbacks::Callbacks,
    /// The versions of the test's Worker Deployment it started.
    versions: deployment::Versions,
    /// Held for the test's duration: the process's lease on the shared stack.
    _stack: Option<Stack>,
}

impl TestRunner {
    /// The client, bound to the test's namespace.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The test's namespace (shared, or its own with `namespace = "isolated"`).
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The task queue the test's worker polls (unique to the test).
    pub fn task_queue(&self) -> &str {
        &self.inner.task_queue
    }

    /// Where the stack answers.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The random stem of the test's workflow IDs and task queue.
    pub(super) fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// A workflow ID unique to this test: `<test>-<random>-<name>`.
    pub fn workflow_id(&self, name: &str) -> String {
        format!("{}-{name}", self.inner.prefix)
    }

    /// Starts `workflow` on the test's task queue with a fresh unique ID.
    pub async fn start<W>(
        &self,
        workflow: W,
        input: W::Input,
    ) -> Result<WorkflowHandle<Client, W>, RunnerError>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
    {
        // Atomic, so concurrent starts never share an ID.
        let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.start_with_id(workflow, input, &self.workflow_id(&n.to_string()))
            .await
    }

    /// Starts `workflow` with the given ID (use [`TestRunner::workflow_id`] to keep it unique).
    pub async fn start_with_id<W>(
        &self,
        workflow: W,
        input: W::Input,
        workflow_id: &str,
    ) -> Result<WorkflowHandle<Client, W>, RunnerError>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
    {
        let options = WorkflowStartOptions::new(self.task_queue(), workflow_id).build();
        let handle = self
            .inner
            .client
            .start_workflow(workflow, input, options)
            .await
            .map_err(|source| RunnerError::Start {
                workflow_id: workflow_id.to_string(),
                source,
            })?;
        self.inner
            .started
            .lock()
            .expect("runner lock")
            .push(workflow_id.to_string());
        Ok(handle)
    }

    /// Starts `workflow` and waits for its result.
    pub async fn execute<W>(&self, workflow: W, input: W::Input) -> Result<W::Output, RunnerError>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
        W::Output: 'static,
    {
        let handle = self.start(workflow, input).await?;
        self.result(&handle).await
    }

    /// Waits for a workflow's result; in a time-skipping test the workflow's time skips
    /// meanwhile (unless held off with [`TestRunner::without_time_skipping`]).
    pub async fn result<W>(
        &self,
        handle: &WorkflowHandle<Client, W>,
    ) -> Result<W::Output, RunnerError>
    where
        W: HasWorkflowDefinition,
        W::Output: 'static,
    {
        let waiting = handle.get_result(WorkflowGetResultOptions::default());
        let workflow_id = &handle.info().workflow_id;
        let outcome = match &self.inner.time {
            Some(time) => {
                self.run_callbacks(std::slice::from_ref(workflow_id), None)
                    .await?;
                time.skipping_while(workflow_id, waiting, true).await?
            }
            None => waiting.await,
        };
        outcome.map_err(|e| RunnerError::Failed {
            workflow_id: handle.info().workflow_id.clone(),
            failure: Box::new(WorkflowFailure::from(&e)),
            source: Box::new(e),
        })
    }

    /// Awaits `waiting` with `workflow_id`'s time skipping on (time-skipping tests; elsewhere
    /// it just awaits): e.g. an update whose handler waits on a timer, awaited while the
    /// workflow's clock jumps to it. Fails with [`RunnerError::SkipBudgetSpent`] if the
    /// workflow keeps skipping past the test's `max_skips`.
    pub async fn with_time_skipping<T>(
        &self,
        workflow_id: &str,
        waiting: impl Future<Output = T>,
    ) -> Result<T, RunnerError> {
        match &self.inner.time {
            Some(time) => {
                self.run_callbacks(&[workflow_id.to_string()], None).await?;
                time.skipping_while(workflow_id, waiting, false).await
            }
            None => Ok(waiting.await),
        }
    }

    /// Lets `duration` pass at once (time-skipping tests only): for every workflow of the
    /// test still running, timers due meanwhile fire in order; returns once each got there.
    /// On the Java test server it moves that server's one clock.
    pub async fn sleep(&self, duration: Duration) -> Result<(), RunnerError> {
        let time = self.time()?;
        let running = self.running_workflows().await?;
        if !self.callbacks_waiting(&running) {
            return time.sleep(duration, &running).await;
        }
        if time.per_workflow() {
            let each = running.iter().map(|id| self.fast_forward(id, duration));
            return futures::future::try_join_all(each).await.map(drop);
        }
        // One clock for every workflow: fire the callbacks due meanwhile in order, then
        // sleep the rest.
        let until = time.now(None).await? + duration;
        self.run_callbacks(&running, Some(until)).await?;
        let rest = until
            .duration_since(time.now(None).await?)
            .unwrap_or_default();
        time.sleep(rest, &running).await
    }

    /// Moves one workflow's clock `duration` ahead and returns once it got there (or closed);
    /// its skipping is off again afterwards (time-skipping tests only).
    pub async fn fast_forward(
        &self,
        workflow_id: &str,
        duration: Duration,
    ) -> Result<(), RunnerError> {
        let time = self.time()?;
        let ids = [workflow_id.to_string()];
        if !self.callbacks_waiting(&ids) {
            return time.fast_forward(workflow_id, duration).await;
        }
        let until = time.now(Some(workflow_id)).await? + duration;
        self.run_callbacks(&ids, Some(until)).await?;
        let now = time.now(Some(workflow_id)).await?;
        let rest = until.duration_since(now).unwrap_or_default();
        time.fast_forward(workflow_id, rest).await
    }

    /// The current time of the test's latest workflow (time-skipping tests only): its virtual
    /// clock, ahead of the wall clock by whatever it skipped (on the Java test server, that
    /// server's one clock). Before any workflow started, the wall clock.
    pub async fn now(&self) -> Result<std::time::SystemTime, RunnerError> {
        let latest = self.started_workflows().last().cloned();
        self.time()?.now(latest.as_deref()).await
    }

    /// The current virtual time of `workflow_id` (time-skipping tests only).
    pub async fn virtual_time(
        &self,
        workflow_id: &str,
    ) -> Result<std::time::SystemTime, RunnerError> {
        self.time()?.now(Some(workflow_id)).await
    }

    /// The test's workflows that are still running.
    async fn running_workflows(&self) -> Result<Vec<String>, RunnerError> {
        let mut running = Vec::new();
        for id in self.started_workflows() {
            let described = untyped(self, &id)
                .describe(Default::default())
                .await
                .map_err(|source| RunnerError::History {
                    workflow_id: id.clone(),
                    source,
                })?;
            if described.status() == WorkflowExecutionStatus::Running {
                running.push(id);
            }
        }
        Ok(running)
    }

    /// Runs `section` with automatic time skipping held off: result waits inside it take
    /// real time. Outside time-skipping tests it just runs `section`.
    pub async fn without_time_skipping<F: Future>(&self, section: F) -> F::Output {
        match &self.inner.time {
            Some(time) => time.held(section).await,
            None => section.await,
        }
    }

    fn time(&self) -> Result<&time::TimeSkipping, RunnerError> {
        self.inner.time.as_ref().ok_or(RunnerError::NoTimeSkipping)
    }

    /// The history of a workflow (its latest run), with assertion helpers.
    pub async fn history(&self, workflow_id: &str) -> Result<History, RunnerError> {
        History::fetch(&self.inner.client, workflow_id).await
    }

    /// Compares the latest run of `workflow_id` with the stored snapshot `name`: its event
    /// sequence reduced to what the code decides (types, activity/timer/signal/update/child
    /// names; no IDs or times), in `tests/snapshots/<name>.history` of the crate. A difference
    /// is an error with a unified diff; `TEMPORAL_HARNESS_UPDATE_SNAPSHOTS=1` writes the
    /// snapshot instead.
    pub async fn assert_history_snapshot(
        &self,
        workflow_id: &str,
        name: &str,
    ) -> Result<(), RunnerError> {
        snapshot::check(&self.history(workflow_id).await?, name)
    }

    /// The histories of every run of a workflow's continue-as-new chain, first run first.
    pub async fn histories(&self, workflow_id: &str) -> Result<Vec<History>, RunnerError> {
        History::fetch_chain(&self.inner.client, workflow_id).await
    }

    /// The `tracing` output captured so far: the test's own events and its workflows' and
    /// activities' (filtered by `RUST_LOG`, default `info`). A failing test prints it too.
    pub fn logs(&self) -> String {
        self.inner.logs.snapshot()
    }

    /// Panics, showing the captured output, unless it contains `needle` (e.g. a line an
    /// activity logged).
    #[track_caller]
    pub fn assert_logs_contain(&self, needle: &str) {
        let logs = self.logs();
        assert!(
            logs.contains(needle),
            "the captured tracing output lacks {needle:?}; it is:\n{logs}"
        );
    }

    /// IDs of the workflows this test started, in order.
    pub fn started_workflows(&self) -> Vec<String> {
        self.inner.started.lock().expect("runner lock").clone()
    }

    /// A pool on the stack's app database (for the test's own tables).
    pub async fn db(&self) -> Result<&sqlx::PgPool, RunnerError> {
        let url = self
            .inner
            .endpoints
            .app_db_url
            .clone()
            .ok_or(RunnerError::NoDatabase)?;
        self.inner
            .pool
            .get_or_try_init(|| async move {
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .connect_with(url.connect_options())
                    .await
                    .map_err(RunnerError::Database)
            })
            .await
    }

    /// Replays the latest run of `workflow_id` against other workflow code (e.g. the next
    /// version of a workflow): `Err(RunnerError::Replay { .. })` names the nondeterminism.
    pub async fn replay_against(
        &self,
        workflow_id: &str,
        definitions: Definitions,
    ) -> Result<(), RunnerError> {
        definitions
            .replay(self.client(), &[workflow_id.to_string()], None, &|_| None)
            .await
    }

    /// Stops the worker gracefully and starts a new one (in-flight tasks finish first).
    pub async fn restart_worker(&self) -> Result<(), RunnerError> {
        self.inner.worker.restart(true).await
    }

    /// Kills the worker as a crashed process dies and starts a new one: in-flight activities
    /// and workflow tasks are abandoned without a word to the server (no completion, failure
    /// or heartbeat), so the server retries them once their timeouts expire (an activity's
    /// heartbeat or start-to-close timeout; its next attempt sees the last heartbeat's
    /// details). Resolves once the new worker is polling.
    pub async fn crash_worker(&self) -> Result<(), RunnerError> {
        self.inner.worker.restart(false).await
    }

    /// Adds an expectation for `activity` (a marker such as `Payments::charge`, as workflows
    /// call it): chain how many calls it serves and how it answers; see [`ActivityMock`].
    /// Calls of the activity from then on are served by its expectations in the order they
    /// were added; at the end of the test every one must be met.
    pub fn mock<AD>(&self, activity: AD) -> ActivityMock<AD>
    where
        AD: temporalio_common::ActivityDefinition,
        AD::Input: Clone + Send + Sync,
        AD::Output: Send + Sync,
    {
        ActivityMock::new(&self.inner.mocks, &activity)
    }

    /// Adds an expectation for the workflow `workflow` (a run marker such as
    /// `TrialWorkflow::run`), typically a child the test's workflows start: the same chain as
    /// [`TestRunner::mock`]; see [`WorkflowMock`]. The mocked run is still a real workflow on
    /// the server (the parent's history shows the child), answering in place of its code.
    pub fn mock_workflow<WD>(&self, workflow: WD) -> WorkflowMock<WD>
    where
        WD: temporalio_common::WorkflowDefinition,
        WD::Input: Clone + Send + Sync,
    {
        WorkflowMock::new(&self.inner.mocks, &workflow)
    }

    /// The mocked activities and workflows in the order their calls arrived, one entry per
    /// call (attempts included): for asserting an order across mocks.
    pub fn mocked_call_order(&self) -> Vec<String> {
        self.inner.mocks.order()
    }

    /// The definitions of deployment version `build_id`, if the test started it.
    pub(crate) fn version_definitions(&self, build_id: &str) -> Option<Arc<Definitions>> {
        self.inner.versions.definitions(build_id)
    }

    /// Stops the workers of the test's deployment versions (the body is over).
    pub(crate) async fn stop_versions(&self) {
        self.inner.versions.stop().await;
    }

    /// The test's workflow mocks, for the end-of-test replay.
    pub(crate) fn workflow_mocks(
        &self,
    ) -> temporalio_sdk::workflow_interceptors::WorkflowInterceptorConstructor {
        mocks::mock_workflows(self.inner.mocks.clone())
    }

    /// Ends the calls stalled mocks hold (the test body is over).
    pub(crate) fn release_mocks(&self) {
        self.inner.mocks.release();
    }

    /// The end-of-test check of the mocks (every expectation met, no unexpected call).
    pub(crate) fn verify_mocks(&self) -> Result<(), RunnerError> {
        match self.inner.mocks.unmet_report() {
            None => Ok(()),
            Some(report) => Err(RunnerError::MockExpectations { report }),
        }
    }
}

/// Handles of the test's workflows, untyped (for replay, dumps and timeouts).
fn untyped(runner: &TestRunner, workflow_id: &str) -> WorkflowHandle<Client, UntypedWorkflow> {
    runner
        .client()
        .get_workflow_handle::<UntypedWorkflow>(workflow_id)
}
