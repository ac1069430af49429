//! Callbacks at a point in a workflow's time: signal, update, cancel or terminate a workflow
//! when its clock reaches an offset from its start ([`TestRunner::at`]) or after the next
//! event of a type ([`TestRunner::on_event`]).
//!
//! In a time-skipping test time moves only while the test awaits a workflow, so callbacks are
//! fired by those waits, which move the workflow's clock in steps instead of letting it jump:
//! to each callback's instant, and, while a callback waits for an event, to the workflow's
//! next wake-up (its next timer or activity retry) once it is idle, looking for the event
//! after each step. So a callback fires exactly at its instant, or right after its event,
//! before any more time passes. Elsewhere a task waits in real time. Either way a callback
//! that could not fire (the workflow closed first, or the test ended first) or failed fails
//! the test at its end: it is never silently skipped.

use super::{untyped, RunnerError, TestRunner};
use crate::error::BoxError;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use temporalio_client::WorkflowExecutionStatus;
use temporalio_client::{Client, WorkflowHandle};
use temporalio_common::protos::temporal::api::enums::v1::EventType;

/// How often a real-time event callback, or one waiting for a busy workflow, looks again.
const EVENT_POLL: Duration = Duration::from_millis(20);

/// When a workflow next wakes up on its own.
enum WakeUp {
    /// A workflow task, an activity attempt or a child is under way.
    Busy,
    /// Idle until this instant of its clock (a timer, an activity retry).
    At(SystemTime),
    /// Idle with nothing due (it waits for a signal, or it closed).
    Never,
}

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
    when: When,
    state: State,
}

/// When a callback fires.
#[derive(Debug, Clone, Copy)]
enum When {
    /// When the workflow's clock reaches this offset from its start.
    At(Duration),
    /// Once the history has `nth` events of this type (the next one after registration).
    Event(EventType, usize),
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            When::At(offset) => write!(f, "at {offset:?} into"),
            When::Event(ty, nth) => write!(f, "after {ty:?} #{nth} of"),
        }
    }
}

enum State {
    /// Not yet fired (`None`: a real-time task holds it).
    Waiting(Option<Fire>),
    Fired,
    Failed(String),
}

impl Callbacks {
    fn add(&self, workflow_id: String, when: When, fire: Option<Fire>) -> usize {
        let mut entries = self.entries.lock().unwrap();
        entries.push(Entry {
            workflow_id,
            when,
            state: State::Waiting(fire),
        });
        entries.len() - 1
    }

    /// The callbacks of `workflows` the runner fires (not a real-time task's), still waiting:
    /// `(index, workflow ID, when)`.
    fn waiting(&self, workflows: &[String]) -> Vec<(usize, String, When)> {
        let entries = self.entries.lock().unwrap();
        entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                workflows.contains(&e.workflow_id) && matches!(e.state, State::Waiting(Some(_)))
            })
            .map(|(i, e)| (i, e.workflow_id.clone(), e.when))
            .collect()
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
                State::Waiting(_) => "it never fired: the test did not let the workflow get \
                                      there (await the workflow's result, `sleep` or \
                                      `fast_forward` in a time-skipping test; in real time, the \
                                      body ended first)"
                    .into(),
            };
            let _ = writeln!(report, "  {} {}: {why}", e.when, e.workflow_id);
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
        self.add_callback(handle, When::At(offset), callback);
    }

    /// Runs `callback` with the workflow's handle right after the workflow's history gets its
    /// next event of type `ty` (the first one after this call): e.g. signal it once its
    /// approval timer started, or cancel it once an activity failed. In a time-skipping test
    /// no time passes between the event and the callback: the waits that move the workflow's
    /// time step it from one wake-up (timer, activity retry) to the next and look for the
    /// event after each. Elsewhere it fires in real time. As with [`TestRunner::at`], one that
    /// fails or never fires fails the test at its end.
    pub async fn on_event<W, F, Fut, E>(
        &self,
        handle: &WorkflowHandle<Client, W>,
        ty: EventType,
        callback: F,
    ) -> Result<(), RunnerError>
    where
        W: temporalio_common::HasWorkflowDefinition,
        WorkflowHandle<Client, W>: Send + 'static,
        F: FnOnce(WorkflowHandle<Client, W>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let seen = self.history(&handle.info().workflow_id).await?.count(ty);
        self.add_callback(handle, When::Event(ty, seen + 1), callback);
        Ok(())
    }

    fn add_callback<W, F, Fut, E>(
        &self,
        handle: &WorkflowHandle<Client, W>,
        when: When,
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
            callbacks.add(workflow_id, when, Some(fire));
            return;
        }
        let index = callbacks.add(workflow_id.clone(), when, None);
        let (entries, runner) = (callbacks.entries.clone(), self.clone());
        let task = tokio::spawn(async move {
            let outcome: Result<(), BoxError> = async {
                match when {
                    When::At(offset) => {
                        let due = runner.started_at(&workflow_id).await? + offset;
                        if let Ok(left) = due.duration_since(SystemTime::now()) {
                            tokio::time::sleep(left).await;
                        }
                    }
                    When::Event(ty, nth) => loop {
                        if runner.history(&workflow_id).await?.count(ty) >= nth {
                            break;
                        }
                        tokio::time::sleep(EVENT_POLL).await;
                    },
                }
                runner.fire(&workflow_id, when, fire).await
            }
            .await;
            Callbacks::settle(&entries, index, outcome.map_err(|e| e.to_string()));
        });
        callbacks.tasks.lock().unwrap().push(task);
    }

    /// Fires the waiting callbacks of `workflows` (time-skipping tests), moving their clocks
    /// in steps no further than `until` (without it: until no callback can fire by moving
    /// time): an event callback whose event is in the history fires at once; otherwise the
    /// clock goes to the earliest of the callbacks' instants and, for a workflow with an event
    /// callback that is idle, its next wake-up. A callback whose workflow is busy (a workflow
    /// task or an activity running) waits for it, in real time.
    pub(super) async fn run_callbacks(
        &self,
        workflows: &[String],
        until: Option<SystemTime>,
    ) -> Result<(), RunnerError> {
        let Some(time) = &self.inner.time else {
            return Ok(());
        };
        let callbacks = &self.inner.callbacks;
        let mut busy_since: Option<tokio::time::Instant> = None;
        // A workflow's start never changes: asked once per workflow, not at every step.
        let mut starts: HashMap<String, SystemTime> = HashMap::new();
        loop {
            let waiting = callbacks.waiting(workflows);
            if waiting.is_empty() {
                return Ok(());
            }
            // Events already in the history: fire now, before any time passes.
            let mut fired = false;
            for (index, id, when) in &waiting {
                if let When::Event(ty, nth) = when {
                    if self.history(id).await?.count(*ty) >= *nth {
                        self.fire_waiting(*index, id, *when).await;
                        fired = true;
                    }
                }
            }
            if fired {
                continue;
            }
            // The next instant: a callback's own, or the wake-up of an idle workflow whose
            // event callback waits.
            let mut next: Option<(SystemTime, Option<usize>, &str, When)> = None;
            let mut busy = false;
            for (index, id, when) in &waiting {
                let candidate = match when {
                    When::At(offset) => {
                        let start = match starts.get(id) {
                            Some(start) => *start,
                            None => *starts
                                .entry(id.clone())
                                .or_insert(self.started_at(id).await?),
                        };
                        Some((start + *offset, Some(*index)))
                    }
                    When::Event(..) => match self.wake_up(id).await? {
                        WakeUp::Busy => {
                            busy = true;
                            None
                        }
                        WakeUp::At(due) => Some((due, None)),
                        WakeUp::Never => None,
                    },
                };
                if let Some((due, fires)) = candidate {
                    if until.is_none_or(|until| due <= until) && next.is_none_or(|(d, ..)| due < d)
                    {
                        next = Some((due, fires, id, *when));
                    }
                }
            }
            if busy {
                // Real work under way (a workflow task, an activity): it needs no time to
                // pass, so wait for it, bounded like every wait.
                let since = *busy_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() < self.wait_limit() {
                    tokio::time::sleep(EVENT_POLL).await;
                    continue;
                }
            }
            busy_since = None;
            let Some((due, fires, id, when)) = next else {
                // Nothing moving time would bring: the regular wait goes on.
                return Ok(());
            };
            let now = time.now(Some(id)).await?;
            if let Ok(gap) = due.duration_since(now) {
                time.fast_forward(id, gap).await?;
            }
            if let Some(index) = fires {
                self.fire_waiting(index, id, when).await;
            }
        }
    }

    /// Fires waiting callback `index` (of `workflow_id`) and records how it went.
    async fn fire_waiting(&self, index: usize, workflow_id: &str, when: When) {
        let callbacks = &self.inner.callbacks;
        if let Some(fire) = callbacks.take(index) {
            let outcome = self.fire(workflow_id, when, fire).await;
            Callbacks::settle(
                &callbacks.entries,
                index,
                outcome.map_err(|e| e.to_string()),
            );
        }
    }

    /// Whether any of `workflows` has a callback waiting for the runner to fire it.
    pub(super) fn callbacks_waiting(&self, workflows: &[String]) -> bool {
        !self.inner.callbacks.waiting(workflows).is_empty()
    }

    /// When `workflow_id` next wakes up on its own in its own clock: its earliest pending
    /// timer or activity retry; busy while a workflow task, an activity attempt or a child
    /// runs.
    async fn wake_up(&self, workflow_id: &str) -> Result<WakeUp, RunnerError> {
        let described = untyped(self, workflow_id)
            .describe(Default::default())
            .await
            .map_err(|source| RunnerError::History {
                workflow_id: workflow_id.to_string(),
                source,
            })?;
        if described.status() != WorkflowExecutionStatus::Running {
            return Ok(WakeUp::Never);
        }
        let raw = &described.raw_description;
        let mut due: Vec<SystemTime> = Vec::new();
        for activity in &raw.pending_activities {
            match activity.next_attempt_schedule_time {
                Some(t) => due.extend(SystemTime::try_from(t).ok()),
                None => return Ok(WakeUp::Busy),
            }
        }
        if raw.pending_workflow_task.is_some() || !raw.pending_children.is_empty() {
            return Ok(WakeUp::Busy);
        }
        let history = self.history(workflow_id).await?;
        due.extend(history.pending_timers().into_iter().map(|(_, fires)| fires));
        Ok(due.into_iter().min().map_or(WakeUp::Never, WakeUp::At))
    }

    /// Runs one callback, if its workflow is still running.
    async fn fire(&self, workflow_id: &str, when: When, fire: Fire) -> Result<(), BoxError> {
        let described = untyped(self, workflow_id)
            .describe(Default::default())
            .await?;
        if described.status() != WorkflowExecutionStatus::Running {
            return Err(format!(
                "the workflow was {:?} before the callback could fire. Fix: register it for \
                 an instant or event before the workflow ends",
                described.status()
            )
            .into());
        }
        fire()
            .await
            .map_err(|e| format!("the callback {when} {workflow_id} failed: {e}").into())
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
