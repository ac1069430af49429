//! Callbacks at a point in a workflow's time ([`TestRunner::at`]): signal, update, cancel or
//! terminate a workflow when its clock reaches an offset from its start.
//!
//! In a time-skipping test time moves only while the test awaits a workflow, so a callback is
//! fired by those waits: before the workflow's clock may pass the callback's instant, the wait
//! fast-forwards it exactly there (timers due before it fire first, in order), runs the
//! callback, and goes on. Elsewhere a task waits in real time from the workflow's start.
//! Either way a callback that could not fire (the workflow closed first, or the test ended
//! first) or failed fails the test at its end: it is never silently skipped.

use super::{untyped, RunnerError, TestRunner};
use crate::error::BoxError;
use futures::future::BoxFuture;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use temporalio_client::WorkflowExecutionStatus;
use temporalio_client::{Client, WorkflowHandle};

/// What a callback does, once.
type Fire = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), BoxError>> + Send>;

/// The callbacks of one test.
#[derive(Default)]
pub(super) struct Callbacks {
    entries: Arc<Mutex<Vec<Entry>>>,
    /// The real-time callbacks' tasks, aborted when the body ends.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

struct Entry {
    workflow_id: String,
    offset: Duration,
    state: State,
}

enum State {
    /// Not yet fired (`None`: a real-time task holds it).
    Waiting(Option<Fire>),
    Fired,
    Failed(String),
}

impl Callbacks {
    fn add(&self, workflow_id: String, offset: Duration, fire: Option<Fire>) -> usize {
        let mut entries = self.entries.lock().unwrap();
        entries.push(Entry {
            workflow_id,
            offset,
            state: State::Waiting(fire),
        });
        entries.len() - 1
    }

    /// The earliest waiting callback of `workflow_id` that the runner fires: `(index, offset)`.
    fn next_waiting(&self, workflow_id: &str) -> Option<(usize, Duration)> {
        let entries = self.entries.lock().unwrap();
        entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.workflow_id == workflow_id && matches!(e.state, State::Waiting(Some(_)))
            })
            .min_by_key(|(_, e)| e.offset)
            .map(|(i, e)| (i, e.offset))
    }

    fn take(&self, index: usize) -> Option<Fire> {
        match &mut self.entries.lock().unwrap()[index].state {
            State::Waiting(fire) => fire.take(),
            _ => None,
        }
    }

    fn settle(entries: &Mutex<Vec<Entry>>, index: usize, outcome: Result<(), String>) {
        entries.lock().unwrap()[index].state = match outcome {
            Ok(()) => State::Fired,
            Err(why) => State::Failed(why),
        };
    }

    /// Stops the real-time callbacks still waiting (the body is over).
    pub(super) fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// At the end of the test: each callback that did not fire, or failed, and why.
    pub(super) fn report(&self) -> Option<String> {
        let mut report = String::new();
        for e in self.entries.lock().unwrap().iter() {
            let why = match &e.state {
                State::Fired => continue,
                State::Failed(why) => why.clone(),
                State::Waiting(_) => "it never fired: the test did not let the workflow's time \
                                      reach it (await the workflow's result, `sleep` or \
                                      `fast_forward` in a time-skipping test; in real time, the \
                                      body ended first)"
                    .into(),
            };
            let _ = writeln!(report, "  at {:?} into {}: {why}", e.offset, e.workflow_id);
        }
        Some(report).filter(|r| !r.is_empty())
    }
}

impl TestRunner {
    /// Runs `callback` with the workflow's handle when the workflow's clock reaches `offset`
    /// after its start: to signal, update, cancel or terminate it at that instant. In a
    /// time-skipping test it fires exactly there in the workflow's skipped time, during the
    /// test's next wait that moves that workflow's time (its result, [`TestRunner::sleep`],
    /// [`TestRunner::fast_forward`]); elsewhere in real time. A callback that fails, or never
    /// fires (the workflow closed first, or the test ended first), fails the test at its end.
    /// (After an event rather than an instant: `wait_for_event` in the body, then the call;
    /// in a time-skipping test no time passes meanwhile.)
    ///
    /// ```rust,no_run
    /// # use temporal_harness::prelude::*;
    /// # use std::time::Duration;
    /// # use temporalio_macros::{workflow, workflow_methods};
    /// # use temporalio_sdk::{WorkflowContext, WorkflowResult};
    /// # #[workflow]
    /// # #[derive(Default)]
    /// # pub struct ApprovalWorkflow;
    /// # #[workflow_methods]
    /// # impl ApprovalWorkflow {
    /// #     #[run]
    /// #     pub async fn run(_ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
    /// #         Ok(String::new())
    /// #     }
    /// #     #[signal]
    /// #     pub fn approve(&mut self, _ctx: &mut temporalio_sdk::SyncWorkflowContext<Self>) {}
    /// # }
    /// # async fn body(runner: TestRunner) -> Result<(), RunnerError> {
    /// let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    /// // Approve an hour into the workflow's (skipped) time.
    /// runner.at(&handle, Duration::from_secs(3600), |handle| async move {
    ///     handle.signal(ApprovalWorkflow::approve, (), Default::default()).await
    /// });
    /// runner.result(&handle).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn at<W, F, Fut, E>(
        &self,
        handle: &WorkflowHandle<Client, W>,
        offset: Duration,
        callback: F,
    ) where
        W: temporalio_common::HasWorkflowDefinition,
        WorkflowHandle<Client, W>: Send + 'static,
        F: FnOnce(WorkflowHandle<Client, W>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let workflow_id = handle.info().workflow_id.clone();
        // A handle of its own (the SDK's handles clone only for `Clone` workflow types).
        let handle = self.client().get_workflow_handle::<W>(&workflow_id);
        let fire: Fire =
            Box::new(move || Box::pin(async move { callback(handle).await.map_err(Into::into) }));
        let callbacks = &self.inner.callbacks;
        if self.inner.time.is_some() {
            callbacks.add(workflow_id, offset, Some(fire));
            return;
        }
        let index = callbacks.add(workflow_id.clone(), offset, None);
        let (entries, runner) = (callbacks.entries.clone(), self.clone());
        let task = tokio::spawn(async move {
            let outcome: Result<(), BoxError> = async {
                let due = runner.started_at(&workflow_id).await? + offset;
                if let Ok(left) = due.duration_since(SystemTime::now()) {
                    tokio::time::sleep(left).await;
                }
                runner.fire(&workflow_id, offset, fire).await
            }
            .await;
            Callbacks::settle(&entries, index, outcome.map_err(|e| e.to_string()));
        });
        callbacks.tasks.lock().unwrap().push(task);
    }

    /// Fires the waiting callbacks of `workflows` (time-skipping tests) in the order of their
    /// instants, up to `until` (all of them without it): fast-forwards each callback's
    /// workflow to its instant, then runs it.
    pub(super) async fn run_callbacks(
        &self,
        workflows: &[String],
        until: Option<SystemTime>,
    ) -> Result<(), RunnerError> {
        let Some(time) = &self.inner.time else {
            return Ok(());
        };
        let callbacks = &self.inner.callbacks;
        loop {
            let mut earliest: Option<(usize, &str, Duration, SystemTime)> = None;
            for id in workflows {
                if let Some((index, offset)) = callbacks.next_waiting(id) {
                    let due = self.started_at(id).await? + offset;
                    if until.is_none_or(|until| due <= until)
                        && earliest.is_none_or(|(.., d)| due < d)
                    {
                        earliest = Some((index, id, offset, due));
                    }
                }
            }
            let Some((index, id, offset, due)) = earliest else {
                return Ok(());
            };
            let now = time.now(Some(id)).await?;
            if let Ok(gap) = due.duration_since(now) {
                time.fast_forward(id, gap).await?;
            }
            if let Some(fire) = callbacks.take(index) {
                let outcome = self.fire(id, offset, fire).await;
                Callbacks::settle(
                    &callbacks.entries,
                    index,
                    outcome.map_err(|e| e.to_string()),
                );
            }
        }
    }

    /// Whether any of `workflows` has a callback waiting for the runner to fire it.
    pub(super) fn callbacks_waiting(&self, workflows: &[String]) -> bool {
        workflows
            .iter()
            .any(|id| self.inner.callbacks.next_waiting(id).is_some())
    }

    /// Runs one callback, if its workflow is still running.
    async fn fire(&self, workflow_id: &str, offset: Duration, fire: Fire) -> Result<(), BoxError> {
        let described = untyped(self, workflow_id)
            .describe(Default::default())
            .await?;
        if described.status() != WorkflowExecutionStatus::Running {
            return Err(format!(
                "the workflow was {:?} before the callback's instant. Fix: register it for an \
                 instant before the workflow ends",
                described.status()
            )
            .into());
        }
        fire()
            .await
            .map_err(|e| format!("the callback at {offset:?} failed: {e}").into())
    }

    /// When `workflow_id` started, in its own clock.
    async fn started_at(&self, workflow_id: &str) -> Result<SystemTime, RunnerError> {
        untyped(self, workflow_id)
            .describe(Default::default())
            .await
            .map_err(|source| RunnerError::History {
                workflow_id: workflow_id.to_string(),
                source,
            })?
            .start_time()
            .ok_or_else(|| {
                RunnerError::TimeSkipping(format!("{workflow_id} has no start time").into())
            })
    }

    /// The end-of-test check of the callbacks (each fired, and succeeded).
    pub(crate) fn verify_callbacks(&self) -> Result<(), RunnerError> {
        self.inner.callbacks.stop();
        match self.inner.callbacks.report() {
            None => Ok(()),
            Some(report) => Err(RunnerError::Callbacks { report }),
        }
    }
}
