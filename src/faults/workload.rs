//! What runs under a schedule: the worker's definitions, the jobs (workflows with their
//! inputs and expected results), the activities' fault points, and the side-effect ledger
//! the delivery invariants read.

use super::model::{ActivityFailure, Fault};
use crate::runner::Definitions;
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use temporalio_client::errors::{WorkflowGetResultError, WorkflowStartError};
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_common::HasWorkflowDefinition;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// How often a side effect must happen per job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// At least once (any activity: retries may repeat it).
    AtLeastOnce,
    /// Exactly once (an idempotent activity: retries must not repeat it).
    ExactlyOnce,
}

/// Counts of side effects by key, shared by the activities and the invariants.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    applied: Arc<Mutex<HashMap<String, u32>>>,
}

impl Effects {
    /// Applies the effect `key` unconditionally (a non-idempotent operation); returns how
    /// many times it has now been applied.
    pub fn apply(&self, key: &str) -> u32 {
        let mut applied = self.applied.lock().expect("effects lock");
        let n = applied.entry(key.to_string()).or_default();
        *n += 1;
        *n
    }

    /// Applies `key` only if it was never applied (an idempotent operation with an
    /// idempotency key); returns whether it applied it now.
    pub fn apply_once(&self, key: &str) -> bool {
        let mut applied = self.applied.lock().expect("effects lock");
        let n = applied.entry(key.to_string()).or_default();
        if *n > 0 {
            return false;
        }
        *n = 1;
        true
    }

    /// How many times `key` was applied.
    pub fn count(&self, key: &str) -> u32 {
        *self
            .applied
            .lock()
            .expect("effects lock")
            .get(key)
            .unwrap_or(&0)
    }
}

/// The key an activity of job `workflow_id` records effect `name` under.
pub fn effect_key(workflow_id: &str, name: &str) -> String {
    format!("{workflow_id}/{name}")
}

/// (workflow ID, fault point index, attempt): one attempt at one fault point.
type Attempt = (String, usize, u32);

/// The activities' view of the schedule: each fault point consults it at the end of its
/// work, so an injected error means "the work happened, its report did not".
#[derive(Debug, Clone, Default)]
pub struct FaultPoints {
    names: Arc<Mutex<Vec<String>>>,
    /// (workflow ID, point index, attempt) -> failure, for the running case.
    armed: Arc<Mutex<HashMap<Attempt, ActivityFailure>>>,
    /// Faults that fired, by kind.
    fired: Arc<Mutex<BTreeMap<&'static str, usize>>>,
}

impl FaultPoints {
    /// Fault points named `names`, in the order `Fault::Activity { point }` indexes them.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        FaultPoints {
            names: Arc::new(Mutex::new(names.into_iter().map(Into::into).collect())),
            armed: Arc::default(),
            fired: Arc::default(),
        }
    }

    /// How many points there are.
    pub fn len(&self) -> usize {
        self.names.lock().expect("points lock").len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Arms the activity faults of a schedule for the case whose job `i` runs as
    /// workflow `ids[i]`.
    pub(crate) fn arm(&self, faults: &[Fault], ids: &[String]) {
        let mut armed = self.armed.lock().expect("points lock");
        for fault in faults {
            if let Fault::Activity {
                job,
                point,
                attempt,
                failure,
            } = *fault
            {
                if let Some(id) = ids.get(job) {
                    armed.insert((id.clone(), point, attempt), failure);
                }
            }
        }
    }

    /// Forgets the faults armed for the workflows `ids`.
    pub(crate) fn disarm(&self, ids: &[String]) {
        self.armed
            .lock()
            .expect("points lock")
            .retain(|(id, _, _), _| !ids.contains(id));
    }

    /// Faults fired since the last call, by kind.
    pub(crate) fn take_fired(&self) -> BTreeMap<&'static str, usize> {
        std::mem::take(&mut *self.fired.lock().expect("points lock"))
    }

    /// Called by an activity at fault point `name`, after its work: fails the attempt as the
    /// schedule says, or returns `Ok(())`.
    pub async fn check(&self, ctx: &ActivityContext, name: &str) -> Result<(), ActivityError> {
        let info = ctx.info();
        let Some(point) = self
            .names
            .lock()
            .expect("points lock")
            .iter()
            .position(|n| n == name)
        else {
            return Ok(());
        };
        let workflow_id = info.workflow_id.clone().unwrap_or_default();
        let failure = self
            .armed
            .lock()
            .expect("points lock")
            .get(&(workflow_id, point, info.attempt))
            .copied();
        if let Some(failure) = failure {
            let kind = failure.kind();
            *self
                .fired
                .lock()
                .expect("points lock")
                .entry(kind)
                .or_default() += 1;
        }
        match failure {
            None => Ok(()),
            Some(ActivityFailure::Error) => {
                Err(anyhow::anyhow!("injected error at {name}, attempt {}", info.attempt).into())
            }
            Some(ActivityFailure::Panic) => {
                // An unwind without the panic hook: a real panic to the SDK, without an
                // expected backtrace in the test output.
                std::panic::resume_unwind(Box::new(format!(
                    "injected panic at {name}, attempt {}",
                    info.attempt
                )))
            }
            Some(ActivityFailure::Timeout) => {
                // Outlive the deadline: the server times the attempt out and retries it.
                let wait = info
                    .deadline
                    .and_then(|d| d.duration_since(SystemTime::now()).ok())
                    .unwrap_or(Duration::from_secs(5));
                tokio::time::sleep(wait + Duration::from_millis(200)).await;
                Err(anyhow::anyhow!("injected timeout at {name} (late result)").into())
            }
        }
    }
}

/// How one job's result is awaited.
pub(crate) enum Awaited {
    /// The expected result.
    Matched,
    /// A result, not the expected one.
    Mismatch(String),
    /// No result (yet): a transport error or a workflow failure.
    Error(WorkflowGetResultError),
}

type StartFn = Box<
    dyn Fn(Client, String, String) -> BoxFuture<'static, Result<(), WorkflowStartError>>
        + Send
        + Sync,
>;
type AwaitFn = Box<dyn Fn(Client, String) -> BoxFuture<'static, Awaited> + Send + Sync>;

/// One workflow of the workload, with its input and expected result.
pub struct Job {
    pub(crate) start: StartFn,
    pub(crate) awaited: AwaitFn,
}

impl Job {
    /// Runs the workflow `workflow()` names (`|| OrderWorkflow::run`: a closure, because the
    /// SDK's workflow markers cannot be copied) with `input`; its result must equal
    /// `expected`.
    pub fn new<W>(
        workflow: impl Fn() -> W + Send + Sync + 'static,
        input: W::Input,
        expected: W::Output,
    ) -> Job
    where
        W: HasWorkflowDefinition + Send + Sync + 'static,
        W::Input: Clone + Send + Sync + 'static,
        W::Output: PartialEq + std::fmt::Debug + Send + Sync + 'static,
    {
        let expected = Arc::new(expected);
        Job {
            start: Box::new(move |client, task_queue, id| {
                let (workflow, input) = (workflow(), input.clone());
                Box::pin(async move {
                    // Never a second run of one ID: a retried start that already got through
                    // must not start the workflow again after it completed.
                    let options = WorkflowStartOptions::new(task_queue, id)
                        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
                        .build();
                    client
                        .start_workflow(workflow, input, options)
                        .await
                        .map(drop)
                })
            }),
            awaited: Box::new(move |client, id| {
                let expected = expected.clone();
                Box::pin(async move {
                    let handle = client.get_workflow_handle::<W>(id);
                    match handle.get_result(WorkflowGetResultOptions::default()).await {
                        Ok(output) if output == *expected => Awaited::Matched,
                        Ok(output) => {
                            Awaited::Mismatch(format!("returned {output:?}, expected {expected:?}"))
                        }
                        Err(e) => Awaited::Error(e),
                    }
                })
            }),
        }
    }
}

/// Workflows to run under a schedule, and what must hold of them.
pub struct Workload {
    pub(crate) definitions: Definitions,
    pub(crate) jobs: Vec<Job>,
    pub(crate) points: FaultPoints,
    pub(crate) effects: Effects,
    pub(crate) deliveries: Vec<(String, Delivery)>,
}

impl Workload {
    /// A workload whose worker registers `definitions`; its activities consult `points`
    /// and record side effects in `effects`.
    pub fn new(definitions: Definitions, points: FaultPoints, effects: Effects) -> Self {
        Workload {
            definitions,
            jobs: Vec::new(),
            points,
            effects,
            deliveries: Vec::new(),
        }
    }

    /// Adds a job.
    pub fn job(mut self, job: Job) -> Self {
        self.jobs.push(job);
        self
    }

    /// Every job must record effect `name` (under [`effect_key`]) as `delivery` says.
    pub fn effect(mut self, name: &str, delivery: Delivery) -> Self {
        self.deliveries.push((name.to_string(), delivery));
        self
    }

    /// How many jobs.
    pub fn jobs(&self) -> usize {
        self.jobs.len()
    }

    /// How many fault points.
    pub fn points(&self) -> usize {
        self.points.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_effects_apply_once_and_others_every_time() {
        let effects = Effects::default();
        assert!(effects.apply_once("a"));
        assert!(!effects.apply_once("a"));
        assert_eq!(effects.count("a"), 1);
        assert_eq!(effects.apply("b"), 1);
        assert_eq!(effects.apply("b"), 2);
        assert_eq!(effects.count("b"), 2);
        assert_eq!(effects.count("c"), 0);
    }
}
