//! Worker versioning on the real server ([`TestRunner::deployment`]): workers of named
//! versions of one Worker Deployment side by side on the test's task queue, the deployment's
//! current and ramping versions, Pinned or AutoUpgrade workflows, versioning overrides, and
//! which version ran each workflow task ([`History::versions`](super::History::versions)).
//!
//! The deployment is the test's own (named after it), so tests never move each other's
//! versions. Its workers stop when the test body ends; the end-of-test replay replays each
//! workflow against the definitions of the version that ran its last workflow task.

use super::{Definitions, RunnerError, TestRunner};
use crate::poll::{self, Attempt};
use crate::worker_thread::WorkerThread;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::deployment::v1::WorkerDeploymentVersion as ProtoVersion;
use temporalio_common::protos::temporal::api::enums::v1::RoutingConfigUpdateState;
use temporalio_common::protos::temporal::api::workflow::v1::{
    versioning_override, VersioningOverride, WorkflowExecutionOptions,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkerDeploymentRequest, SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest, UpdateWorkflowExecutionOptionsRequest,
};
use temporalio_common::worker::{
    VersioningBehavior, WorkerDeploymentOptions, WorkerDeploymentVersion,
};

/// The pause between a deployment call's attempts while the server catches up.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// The versions a test started: their workers, and their definitions for the replay.
#[derive(Default)]
pub(super) struct Versions {
    workers: Mutex<Vec<WorkerThread>>,
    definitions: Mutex<BTreeMap<String, Arc<Definitions>>>,
}

impl Versions {
    /// Stops every version's worker (the body is over).
    pub(super) async fn stop(&self) {
        let workers: Vec<WorkerThread> = self.workers.lock().unwrap().drain(..).collect();
        for worker in workers {
            super::worker::stop(worker, true).await;
        }
    }

    /// The definitions of version `build_id`, if the test started it.
    pub(super) fn definitions(&self, build_id: &str) -> Option<Arc<Definitions>> {
        self.definitions.lock().unwrap().get(build_id).cloned()
    }
}

/// The test's Worker Deployment, from [`TestRunner::deployment`].
pub struct Deployment<'r> {
    runner: &'r TestRunner,
    name: String,
}

impl TestRunner {
    /// The test's own Worker Deployment (named after the test): start workers of named
    /// versions on the test's task queue, choose the current and ramping versions, pin
    /// workflows. Workflows started on the task queue go where the deployment routes them.
    ///
    /// ```rust,no_run
    /// # use temporal_harness::prelude::*;
    /// # use temporal_harness::runner::Definitions;
    /// # use temporalio_common::worker::VersioningBehavior;
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
    /// let deployment = runner.deployment();
    /// let v1 = Definitions::new().workflow::<v1::Order>();
    /// deployment.start_version("v1", v1, VersioningBehavior::Pinned).await?;
    /// deployment.set_current("v1").await?;
    /// let running = runner.start(v1::Order::run, ()).await?;
    /// let v2 = Definitions::new().workflow::<v2::Order>();
    /// deployment.start_version("v2", v2, VersioningBehavior::Pinned).await?;
    /// deployment.set_current("v2").await?;
    /// // Pinned: the running order finishes on v1; new ones start on v2.
    /// # Ok(())
    /// # }
    /// ```
    pub fn deployment(&self) -> Deployment<'_> {
        Deployment {
            runner: self,
            name: format!("deployment-{}", self.prefix()),
        }
    }
}

impl Deployment<'_> {
    /// The deployment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts a worker of version `build_id` with `definitions` on the test's task queue,
    /// opted in to worker versioning, its workflows `behavior` unless they say otherwise;
    /// returns once it polls (so the server knows the version). It runs until the test body
    /// ends.
    pub async fn start_version(
        &self,
        build_id: &str,
        definitions: Definitions,
        behavior: VersioningBehavior,
    ) -> Result<(), RunnerError> {
        let runner = self.runner;
        let mut options = definitions
            .worker_options(runner.task_queue())?
            .ok_or_else(|| {
                RunnerError::Versioning(
                    format!("version {build_id} registers nothing. Fix: register its workflows")
                        .into(),
                )
            })?;
        options.deployment_options = WorkerDeploymentOptions::new(
            WorkerDeploymentVersion::builder()
                .deployment_name(self.name.clone())
                .build_id(build_id.to_string())
                .build(),
        )
        .use_worker_versioning(true)
        .default_versioning_behavior(behavior)
        .build();
        let options = super::setup::harness_worker_options(options, false);
        let worker = WorkerThread::start(
            runner.inner.endpoints.temporal.clone(),
            runner.inner.namespace.clone(),
            options,
        )
        .await?;
        let versions = &runner.inner.versions;
        versions.workers.lock().unwrap().push(worker);
        versions
            .definitions
            .lock()
            .unwrap()
            .insert(build_id.to_string(), Arc::new(definitions));
        Ok(())
    }

    /// Makes `build_id` the deployment's current version: new workflows (and AutoUpgrade
    /// ones at their next task) run on it. Returns once the server has propagated the
    /// routing to the task queues (until then a task may still go to the old version).
    pub async fn set_current(&self, build_id: &str) -> Result<(), RunnerError> {
        let request = SetWorkerDeploymentCurrentVersionRequest {
            namespace: self.runner.inner.namespace.clone(),
            deployment_name: self.name.clone(),
            build_id: build_id.to_string(),
            identity: "temporal-harness".into(),
            ..Default::default()
        };
        self.route(build_id, |mut service| {
            let request = tonic::Request::new(request.clone());
            async move {
                service
                    .set_worker_deployment_current_version(request)
                    .await
                    .map(drop)
            }
        })
        .await
    }

    /// Ramps `percentage` (0-100) of new workflows to `build_id`; the rest go to the current
    /// version. Returns once the routing has propagated, as [`Deployment::set_current`].
    pub async fn set_ramping(&self, build_id: &str, percentage: f32) -> Result<(), RunnerError> {
        if !(0.0..=100.0).contains(&percentage) {
            return Err(RunnerError::Versioning(
                format!(
                    "ramp of {percentage}%: expected 0 to 100. Fix: give the share of new \
                     workflows in percent"
                )
                .into(),
            ));
        }
        let request = SetWorkerDeploymentRampingVersionRequest {
            namespace: self.runner.inner.namespace.clone(),
            deployment_name: self.name.clone(),
            build_id: build_id.to_string(),
            percentage,
            identity: "temporal-harness".into(),
            ..Default::default()
        };
        self.route(build_id, |mut service| {
            let request = tonic::Request::new(request.clone());
            async move {
                service
                    .set_worker_deployment_ramping_version(request)
                    .await
                    .map(drop)
            }
        })
        .await
    }

    /// Resolves once the deployment's routing has reached all its task queues
    /// (`routing_config_update_state` completed), within the test's wait limit.
    async fn routing_propagated(&self) -> Result<(), RunnerError> {
        let service = self.runner.client().connection().workflow_service();
        let request = DescribeWorkerDeploymentRequest {
            namespace: self.runner.inner.namespace.clone(),
            deployment_name: self.name.clone(),
        };
        let limit = self.runner.wait_limit();
        poll::retry(limit, PAUSE, |_| {
            let (mut service, request) = (service.clone(), request.clone());
            async move {
                let described = match service
                    .describe_worker_deployment(tonic::Request::new(request))
                    .await
                {
                    Ok(d) => d.into_inner(),
                    Err(s) => return Attempt::Fail(s.message().to_string()),
                };
                let state = described
                    .worker_deployment_info
                    .map(|i| i.routing_config_update_state())
                    .unwrap_or_default();
                match state {
                    RoutingConfigUpdateState::Completed => Attempt::Done(()),
                    other => Attempt::Again(format!(
                        "its routing did not reach its task queues within {limit:?} (state \
                         {other:?}). Fix: check the server's matching service"
                    )),
                }
            }
        })
        .await
        .map_err(|why| RunnerError::Versioning(format!("{}: {why}", self.name).into()))
    }

    /// Overrides the versioning of `workflow_id`: pinned to `build_id` (`Some`), or
    /// AutoUpgrade (`None`), whatever its code or worker said.
    pub async fn override_versioning(
        &self,
        workflow_id: &str,
        pinned_to: Option<&str>,
    ) -> Result<(), RunnerError> {
        let versioning = match pinned_to {
            Some(build_id) => {
                versioning_override::Override::Pinned(versioning_override::PinnedOverride {
                    behavior: versioning_override::PinnedOverrideBehavior::Pinned as i32,
                    version: Some(ProtoVersion {
                        deployment_name: self.name.clone(),
                        build_id: build_id.to_string(),
                    }),
                })
            }
            None => versioning_override::Override::AutoUpgrade(true),
        };
        let request = UpdateWorkflowExecutionOptionsRequest {
            namespace: self.runner.inner.namespace.clone(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: String::new(),
            }),
            workflow_execution_options: Some(WorkflowExecutionOptions {
                versioning_override: Some(VersioningOverride {
                    r#override: Some(versioning),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_wkt_types::FieldMask {
                paths: vec!["versioning_override".into()],
            }),
            identity: "temporal-harness".into(),
        };
        self.runner
            .client()
            .connection()
            .workflow_service()
            .update_workflow_execution_options(tonic::Request::new(request))
            .await
            .map(drop)
            .map_err(|s| {
                RunnerError::Versioning(
                    format!(
                        "overriding the versioning of {workflow_id}: {}",
                        s.message()
                    )
                    .into(),
                )
            })
    }

    /// Changes the deployment's routing with `call` (retried until the server knows
    /// `build_id`: a version becomes known when its worker's first poll reaches the
    /// deployment, asynchronously), then waits for the routing to reach the task queues; both
    /// within the test's wait limit.
    async fn route<F, Fut>(&self, build_id: &str, call: F) -> Result<(), RunnerError>
    where
        F: Fn(Box<dyn WorkflowService>) -> Fut,
        Fut: std::future::Future<Output = Result<(), tonic::Status>>,
    {
        let service = self.runner.client().connection().workflow_service();
        poll::retry(self.runner.wait_limit(), PAUSE, |_| {
            let called = call(service.clone());
            async move {
                match called.await {
                    Ok(()) => Attempt::Done(()),
                    // Not yet registered: its poll is on the way.
                    Err(s)
                        if matches!(
                            s.code(),
                            tonic::Code::NotFound | tonic::Code::FailedPrecondition
                        ) =>
                    {
                        Attempt::Again(s)
                    }
                    Err(s) => Attempt::Fail(s),
                }
            }
        })
        .await
        .map_err(|s| {
            RunnerError::Versioning(
                format!(
                    "the server refused version {build_id} of {}: {}. Fix: start the version \
                     first (`start_version`)",
                    self.name,
                    s.message()
                )
                .into(),
            )
        })?;
        self.routing_propagated().await
    }
}
