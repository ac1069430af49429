//! The mid-flight upgrade matrix ([`TestRunner::upgrade_matrix`]): a workflow run on one
//! version of the code, then continued from each of its workflow-task boundaries on the next.
//!
//! How a run continues on the next version: a reset of the finished run to the boundary, with
//! only the next version's worker polling. The reset run keeps the history before the
//! boundary (the next version replays it, as a worker deployed mid-flight does) and the
//! signals and updates after it (reapplied: the server's default), and the next version writes everything after. The other way,
//! stopping the first version's worker at each boundary of a live run, would need the run
//! paused at the boundary: a reset of a finished run gets there exactly, for every boundary,
//! from one run of the first version.

use super::worker::stop;
use super::{RunnerError, TestRunner, WorkflowFailure};
use crate::worker_thread::WorkerThread;
use std::fmt;
use std::time::{Duration, Instant};
use temporalio_client::{
    tonic, Client, UntypedWorkflow, WorkflowExecutionInfo, WorkflowGetResultOptions,
    WorkflowHandle, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;
use temporalio_common::HasWorkflowDefinition;

use super::Definitions;

/// How a run continued on the next version from one boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpgradeOutcome {
    /// It completed.
    Completed,
    /// The next version could not replay the history before the boundary: the replayer's
    /// message says which event and what the code did instead.
    Nondeterminism {
        /// The nondeterminism error, as the worker reported it.
        message: String,
    },
    /// It ended otherwise (failed, timed out, ...): how.
    Failed {
        /// The failure's message.
        message: String,
    },
}

/// One boundary of the matrix: the run continued on the next version after `task` workflow
/// tasks of the first version.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Boundary {
    /// How many workflow tasks of the first version the continued run kept (1: only the
    /// first task's start; the next version did everything).
    pub task: usize,
    /// The history event the run was reset to (that task's `WorkflowTaskCompleted`).
    pub event_id: i64,
    /// How the continued run ended.
    pub outcome: UpgradeOutcome,
}

/// Every boundary of a run, in order, and how long the matrix took.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpgradeMatrix {
    /// The workflow ID of the first version's run (the continued runs are its later runs).
    pub workflow_id: String,
    /// One row per workflow-task boundary.
    pub boundaries: Vec<Boundary>,
    /// Wall time of the continued runs (the first version's run not included).
    pub elapsed: Duration,
}

impl UpgradeMatrix {
    /// The first boundary where the upgrade breaks the run, if any.
    pub fn first_break(&self) -> Option<&Boundary> {
        self.boundaries
            .iter()
            .find(|b| b.outcome != UpgradeOutcome::Completed)
    }

    /// Boundaries checked per second of wall time.
    pub fn boundaries_per_second(&self) -> f64 {
        self.boundaries.len() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Panics, naming the first boundary that breaks and printing the whole table, unless the
    /// run completes on the next version from every boundary.
    #[track_caller]
    pub fn assert_safe(&self) {
        if let Some(b) = self.first_break() {
            panic!(
                "upgrading {} mid-flight breaks it after workflow task {} (event {}):\n{self}\
                 Fix: put the change behind `ctx.patched(..)`, or pin running workflows to \
                 the old version",
                self.workflow_id, b.task, b.event_id
            );
        }
    }
}

impl fmt::Display for UpgradeMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {:>4} {:>6}  outcome on the next version",
            "task", "event"
        )?;
        for b in &self.boundaries {
            let outcome = match &b.outcome {
                UpgradeOutcome::Completed => "completed".to_string(),
                UpgradeOutcome::Nondeterminism { message } => format!("NONDETERMINISM: {message}"),
                UpgradeOutcome::Failed { message } => format!("FAILED: {message}"),
            };
            writeln!(f, "  {:>4} {:>6}  {outcome}", b.task, b.event_id)?;
        }
        writeln!(
            f,
            "  {} boundaries in {:.2} s ({:.1}/s)",
            self.boundaries.len(),
            self.elapsed.as_secs_f64(),
            self.boundaries_per_second()
        )
    }
}

impl TestRunner {
    /// Runs `workflow(input)` on the `current` version of the code, then continues that run
    /// on the `next` version from each of its workflow-task boundaries, and says how each
    /// continued run ended: what a deploy of `next` does to workflows in flight, boundary by
    /// boundary. Both versions register the workflow under the same name (two `#[workflow]`
    /// types named alike, in two modules). Each version gets a worker and task queue of its
    /// own for the matrix (not the test's); in a time-skipping test every run's time skips.
    /// The workflow must complete on `current` without the test's help (no signal it waits
    /// for). Only the first run of a continue-as-new chain is continued.
    ///
    /// ```rust,no_run
    /// # use temporal_harness::prelude::*;
    /// # use temporal_harness::runner::Definitions;
    /// # use temporalio_macros::{workflow, workflow_methods};
    /// # use temporalio_sdk::{WorkflowContext, WorkflowResult};
    /// # mod v1 { use super::*;
    /// # #[workflow] #[derive(Default)] pub struct Order;
    /// # #[workflow_methods] impl Order {
    /// #     #[run] pub async fn run(_ctx: &mut WorkflowContext<Self>, _i: ()) -> WorkflowResult<()> { Ok(()) }
    /// # } }
    /// # mod v2 { pub use super::v1::Order; }
    /// # fn main() {}
    /// # async fn body(runner: TestRunner) -> Result<(), RunnerError> {
    /// let matrix = runner
    ///     .upgrade_matrix(
    ///         v1::Order::run,
    ///         (),
    ///         Definitions::new().workflow::<v1::Order>(),
    ///         Definitions::new().workflow::<v2::Order>(),
    ///     )
    ///     .await?;
    /// matrix.assert_safe();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn upgrade_matrix<W>(
        &self,
        workflow: W,
        input: W::Input,
        current: Definitions,
        next: Definitions,
    ) -> Result<UpgradeMatrix, RunnerError>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
    {
        let n = self
            .inner
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let workflow_id = self.workflow_id(&format!("upgrade-{n}"));
        let task_queue = format!("{}-upgrade-{n}", self.task_queue());
        // The first version's run, on a worker of its own.
        let worker = self.version_worker(&current, &task_queue).await?;
        let options = WorkflowStartOptions::new(&task_queue, &workflow_id).build();
        let handle = self
            .client()
            .start_workflow(workflow, input, options)
            .await
            .map_err(|source| RunnerError::Start {
                workflow_id: workflow_id.clone(),
                source,
            })?;
        let first_run = handle.info().run_id.clone().unwrap_or_default();
        let ended = self.run_ended(&workflow_id, &first_run).await?;
        stop(worker, true).await;
        if let Some(failure) = ended {
            return Err(RunnerError::Upgrade(
                format!(
                    "{workflow_id} did not complete on the current version ({failure}), so \
                     there is no run to continue. Fix: give it an input it completes with"
                )
                .into(),
            ));
        }
        let history =
            super::History::fetch_run(self.client(), &workflow_id, Some(first_run.clone())).await?;
        let tasks: Vec<i64> = history
            .events()
            .iter()
            .filter(|e| e.event_type() == EventType::WorkflowTaskCompleted)
            .map(|e| e.event_id)
            .collect();
        // The next version, alone on the queue, continues the run from each boundary.
        let worker = self.version_worker(&next, &task_queue).await?;
        let started = Instant::now();
        let mut boundaries = Vec::new();
        for (i, event_id) in tasks.into_iter().enumerate() {
            let outcome = match self.reset(&workflow_id, &first_run, event_id).await {
                Ok(run) => match self.run_ended(&workflow_id, &run).await {
                    Ok(None) => UpgradeOutcome::Completed,
                    Ok(Some(message)) if message.contains("Nondeterminism") => {
                        UpgradeOutcome::Nondeterminism { message }
                    }
                    Ok(Some(message)) => UpgradeOutcome::Failed { message },
                    Err(e) => UpgradeOutcome::Failed {
                        message: e.to_string(),
                    },
                },
                Err(e) => {
                    stop(worker, true).await;
                    return Err(e);
                }
            };
            boundaries.push(Boundary {
                task: i + 1,
                event_id,
                outcome,
            });
        }
        let elapsed = started.elapsed();
        stop(worker, true).await;
        Ok(UpgradeMatrix {
            workflow_id,
            boundaries,
            elapsed,
        })
    }

    /// A worker of `definitions` on `task_queue`, polling when this returns.
    async fn version_worker(
        &self,
        definitions: &Definitions,
        task_queue: &str,
    ) -> Result<WorkerThread, RunnerError> {
        let options = definitions.worker_options(task_queue)?.ok_or_else(|| {
            RunnerError::Upgrade("a version registers no workflow. Fix: register it".into())
        })?;
        let options = super::setup::harness_worker_options(options, false);
        Ok(WorkerThread::start(
            self.inner.endpoints.temporal.clone(),
            self.inner.namespace.clone(),
            options,
        )
        .await?)
    }

    /// Resets run `run_id` of `workflow_id` to the workflow task completed at `event_id`;
    /// returns the new run's ID.
    async fn reset(
        &self,
        workflow_id: &str,
        run_id: &str,
        event_id: i64,
    ) -> Result<String, RunnerError> {
        let request = ResetWorkflowExecutionRequest {
            namespace: self.inner.namespace.clone(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: run_id.into(),
            }),
            reason: format!("temporal-harness upgrade matrix: continue from event {event_id}"),
            workflow_task_finish_event_id: event_id,
            request_id: uuid::Uuid::new_v4().to_string(),
            identity: "temporal-harness".into(),
            ..Default::default()
        };
        let response = self
            .client()
            .connection()
            .workflow_service()
            .reset_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|s| {
                RunnerError::Upgrade(
                    format!(
                        "resetting {workflow_id} to event {event_id} failed: {}",
                        s.message()
                    )
                    .into(),
                )
            })?;
        Ok(response.into_inner().run_id)
    }

    /// Waits for run `run_id` of `workflow_id` to close (its time skipping, in a
    /// time-skipping test): `None` when it completed, else how it ended.
    async fn run_ended(
        &self,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<Option<String>, RunnerError> {
        let info = WorkflowExecutionInfo::builder()
            .namespace(self.inner.namespace.clone())
            .workflow_id(workflow_id)
            .run_id(run_id.to_string())
            .build();
        let handle = WorkflowHandle::<Client, UntypedWorkflow>::new(self.client().clone(), info);
        let waiting = handle.get_result(
            WorkflowGetResultOptions::builder()
                .follow_runs(false)
                .build(),
        );
        let result = match &self.inner.time {
            Some(time) => time.skipping_while(workflow_id, waiting, true).await?,
            None => waiting.await,
        };
        Ok(result.err().map(|e| WorkflowFailure::from(&e).to_string()))
    }
}
