//! The workflows and activities a test registers: one template for the test's workers (cloned
//! for every restart) and one for the replayer that checks the test's histories.

use super::{History, RunnerError};
use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;
use temporalio_client::Client;
use temporalio_common::worker::WorkerDeploymentOptions;
use temporalio_common::WorkflowDefinition;
use temporalio_sdk::activities::ActivityImplementer;
use temporalio_sdk::workflow_interceptors::WorkflowInterceptorConstructor;
use temporalio_sdk::workflow_replayer::{
    WorkflowReplayError, WorkflowReplayer, WorkflowReplayerOptions,
};
use temporalio_sdk::{WorkerOptions, WorkflowRegistrationError};
use temporalio_workflow::workflows::WorkflowImplementation;

/// How long a workflow task waits for a (possibly crashed) worker's sticky queue.
const STICKY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Workflows and activities of one test, as `#[temporal_test(workflows(..), activities(..))]`
/// names them.
pub struct Definitions {
    worker: WorkerOptions,
    replayer: WorkflowReplayerOptions,
    workflow_count: usize,
    activity_sets: usize,
    /// The first registration error, reported when the test starts (shared: the options are
    /// cloned for every worker).
    error: Option<Arc<WorkflowRegistrationError>>,
}

impl Default for Definitions {
    fn default() -> Self {
        Self::new()
    }
}

impl Definitions {
    /// Nothing registered yet.
    pub fn new() -> Self {
        Definitions {
            // The task queue is set per test in `worker_options`. An explicit build ID: the
            // SDK's default hashes the whole executable, which costs about 1.5 s per test
            // process on a debug test binary.
            worker: WorkerOptions::new("unset")
                .deployment_options(WorkerDeploymentOptions::from_build_id(format!(
                    "temporal-harness-{}",
                    env!("CARGO_PKG_VERSION")
                )))
                // After `crash_worker()` the server still routes workflow tasks to the dead
                // worker's sticky queue until this passes (the SDK's default is 10 s); the
                // next worker then picks them up from the normal queue.
                .sticky_queue_schedule_to_start_timeout(STICKY_TIMEOUT)
                .build(),
            replayer: WorkflowReplayerOptions::new().build(),
            workflow_count: 0,
            activity_sets: 0,
            error: None,
        }
    }

    /// Registers the workflow type `W` (a `#[workflow]` struct) with the worker and replayer.
    pub fn workflow<W>(mut self) -> Self
    where
        W: WorkflowImplementation,
        <W::Run as WorkflowDefinition>::Input: Send,
    {
        let registered = self
            .worker
            .register_workflow::<W>()
            .map(drop)
            .and_then(|()| self.replayer.register_workflow::<W>().map(drop));
        if let Err(e) = registered {
            self.error.get_or_insert(Arc::new(e));
        }
        self.workflow_count += 1;
        self
    }

    /// Registers every activity of an `#[activities]` implementer. A later implementer
    /// replaces activities of the same name: list a fake (its methods marked
    /// `#[activity(definition = Real::method)]`) after the real one to swap one activity.
    pub fn activities<A: ActivityImplementer>(mut self, implementer: A) -> Self {
        self.worker.register_activities(implementer);
        self.activity_sets += 1;
        self
    }

    /// The worker's options, or `None` when nothing is registered (no worker is needed).
    pub(crate) fn worker_options(
        &self,
        task_queue: &str,
    ) -> Result<Option<WorkerOptions>, RunnerError> {
        if let Some(e) = &self.error {
            return Err(RunnerError::Registration(Box::new(e.clone())));
        }
        if self.workflow_count == 0 && self.activity_sets == 0 {
            return Ok(None);
        }
        let mut options = self.worker.clone();
        options.task_queue = task_queue.to_string();
        Ok(Some(options))
    }

    /// Replays every run (the whole continue-as-new chain) of every workflow the test started
    /// against the registered definitions, or against those of the deployment version that
    /// ran the run's last workflow task (`version(build_id)`, when the test started that
    /// version); nondeterminism fails naming the workflow and the event. `mocks`: the test's
    /// workflow mocks, so a mocked run replays as it ran.
    pub(crate) async fn replay(
        &self,
        client: &Client,
        ids: &[String],
        mocks: Option<WorkflowInterceptorConstructor>,
        version: &dyn Fn(&str) -> Option<Arc<Definitions>>,
    ) -> Result<(), RunnerError> {
        let mut replayers: HashMap<Option<String>, WorkflowReplayer> = HashMap::new();
        for id in ids {
            for run in History::fetch_chain(client, id).await? {
                let build_id = run.versions().into_iter().flatten().next_back();
                let versioned = build_id.as_deref().and_then(version);
                let definitions = versioned.as_deref().unwrap_or(self);
                // Nothing registered (a test of activities alone): nothing to replay against.
                if definitions.workflow_count == 0 {
                    continue;
                }
                let key = versioned.is_some().then_some(build_id).flatten();
                let replayer = match replayers.entry(key) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(definitions.replayer(mocks.clone())?),
                };
                if let Err(source) = replayer.replay_workflow(run.to_replayable()).await {
                    return Err(RunnerError::Replay {
                        workflow_id: id.clone(),
                        divergence: super::divergence::locate(run.events(), definitions).await,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    fn replayer(
        &self,
        mocks: Option<WorkflowInterceptorConstructor>,
    ) -> Result<WorkflowReplayer, RunnerError> {
        let mut options = self.replayer.clone();
        if let Some(mocks) = mocks {
            options.workflow_interceptor(mocks);
        }
        WorkflowReplayer::new(options).map_err(|source| RunnerError::Replay {
            workflow_id: String::new(),
            divergence: None,
            source,
        })
    }

    /// Replays one history (a file of a corpus, say) against the registered workflows.
    pub async fn replay_one(
        &self,
        history: temporalio_client::WorkflowHistory,
    ) -> Result<(), WorkflowReplayError> {
        WorkflowReplayer::new(self.replayer.clone())?
            .replay_workflow(history)
            .await
    }
}
