//! Time skipping on the real server (Temporal 1.32+, `frontend.WorkflowTimeSkippingEnabled`):
//! every workflow has a virtual clock of its own, so time-skipping tests share the one stack
//! with every other test and never move another test's timers.
//!
//! The runner keeps the test-server semantics tests are written for: a workflow's time moves
//! only while the test awaits it (its result, or a section run with skipping on). It turns a
//! workflow's skipping on with `UpdateWorkflowExecutionOptions` for the wait and off after it;
//! while on, the server jumps the workflow's clock to its next timer, retry backoff or timeout
//! whenever it is idle (no workflow task, activity, child or external call in flight), up to
//! the session's skip budget (`max_session_skip_count`). A fast-forward moves one workflow's
//! clock by a duration and ends with skipping off again; `PollWorkflowExecutionTimeSkipping`
//! says when it is done.

use crate::error::Grpc;
use crate::runner::RunnerError;
use futures::FutureExt;
use std::future::Future;
use std::time::{Duration, SystemTime};
use temporalio_client::{tonic, Connection};
use temporalio_common::protos::temporal::api::common::v1::{
    FastForwardConfig, TimeSkippingConfig, WorkflowExecution,
};
use temporalio_common::protos::temporal::api::enums::v1::{
    FastForwardPollingResult, WorkflowExecutionStatus,
};
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionOptions;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse as Described,
    PollWorkflowExecutionTimeSkippingRequest, UpdateWorkflowExecutionOptionsRequest,
};

/// How often a skipping wait checks that the workflow still skips (its budget not spent).
const BUDGET_CHECK: Duration = Duration::from_millis(250);

/// The skips one wait may use unless the test sets `max_skips`: enough for long timer chains,
/// small enough that an activity retried forever under skipped backoff is stopped in seconds.
pub const DEFAULT_MAX_SKIPS: u32 = 1000;

/// Whether `connection`'s server skips time per workflow in `namespace`. Asks in a way that
/// touches no workflow: a time-skipping poll without a fast-forward ID is refused as an
/// invalid argument by a server with the feature on, and as unimplemented by one without it
/// (an older release, or the dynamic config off).
pub(super) async fn supported(connection: &Connection, namespace: &str) -> Result<bool, Grpc> {
    let probe = PollWorkflowExecutionTimeSkippingRequest {
        namespace: namespace.into(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: "temporal-harness-time-skipping-probe".into(),
            run_id: String::new(),
        }),
        fast_forward_id: String::new(),
    };
    match connection
        .workflow_service()
        .poll_workflow_execution_time_skipping(tonic::Request::new(probe))
        .await
    {
        Err(s) if s.code() == tonic::Code::InvalidArgument => Ok(true),
        Err(s) if s.code() == tonic::Code::Unimplemented => Ok(false),
        Err(s) => Err(Grpc(s)),
        Ok(_) => Ok(true),
    }
}

/// Per-workflow time skipping for one test.
pub(super) struct ServerTime {
    connection: Connection,
    namespace: String,
    max_skips: u32,
}

impl ServerTime {
    pub(super) fn new(connection: Connection, namespace: String, max_skips: u32) -> Self {
        ServerTime {
            connection,
            namespace,
            max_skips,
        }
    }

    /// Awaits `waiting` with `workflow_id`'s time skipping on; off again afterwards, unless
    /// `waiting` ends only once the workflow closed (a closed workflow needs no switch).
    pub(super) async fn skipping_while<T>(
        &self,
        workflow_id: &str,
        waiting: impl Future<Output = T>,
        closes: bool,
    ) -> Result<T, RunnerError> {
        self.switch(workflow_id, self.config(true, None)).await?;
        let waiting = waiting.fuse();
        let budget = self.budget_spent(workflow_id).fuse();
        futures::pin_mut!(waiting, budget);
        let out = futures::select_biased! {
            out = waiting => out,
            spent = budget => return Err(spent),
        };
        if !closes {
            self.switch(workflow_id, self.config(false, None)).await?;
        }
        Ok(out)
    }

    /// Moves `workflow_id`'s clock `by` ahead (timers due meanwhile fire, in order) and returns
    /// once it got there, or once the workflow closed.
    pub(super) async fn fast_forward(
        &self,
        workflow_id: &str,
        by: Duration,
    ) -> Result<(), RunnerError> {
        let duration = by
            .try_into()
            .map_err(|_| RunnerError::TimeSkipping(format!("{by:?} is out of range").into()))?;
        let id = uuid::Uuid::new_v4().to_string();
        let forward = FastForwardConfig {
            id: id.clone(),
            duration: Some(duration),
        };
        self.switch(workflow_id, self.config(true, Some(forward)))
            .await?;
        loop {
            let polled = self
                .connection
                .workflow_service()
                .poll_workflow_execution_time_skipping(tonic::Request::new(
                    PollWorkflowExecutionTimeSkippingRequest {
                        namespace: self.namespace.clone(),
                        workflow_execution: Some(execution(workflow_id)),
                        fast_forward_id: id.clone(),
                    },
                ))
                .await
                .map_err(status)?
                .into_inner();
            match polled.fast_forward_polling_result() {
                FastForwardPollingResult::FastForwardCompleted => return Ok(()),
                FastForwardPollingResult::FastForwardFailed => {
                    // A workflow that closed on the way has no time left to move.
                    if !self.running(workflow_id).await? {
                        return Ok(());
                    }
                    return Err(RunnerError::TimeSkipping(
                        format!(
                            "fast-forward of {workflow_id} by {by:?} failed: {}",
                            polled.failed_reason
                        )
                        .into(),
                    ));
                }
                _ => {}
            }
        }
    }

    /// The workflow's virtual time: the wall clock plus everything it skipped.
    pub(super) async fn virtual_time(&self, workflow_id: &str) -> Result<SystemTime, RunnerError> {
        let described = self.describe(workflow_id).await?;
        let current = described
            .workflow_extended_info
            .and_then(|info| info.time_skipping_info)
            .and_then(|info| info.current_time);
        // Never skipped: its time is the wall clock.
        Ok(current
            .and_then(|t| SystemTime::try_from(t).ok())
            .unwrap_or_else(SystemTime::now))
    }

    fn config(&self, enabled: bool, fast_forward: Option<FastForwardConfig>) -> TimeSkippingConfig {
        TimeSkippingConfig {
            enabled,
            fast_forward_config: fast_forward,
            disable_propagation: false,
            max_session_skip_count: i32::try_from(self.max_skips).unwrap_or(i32::MAX),
        }
    }

    /// Sets the workflow's time-skipping config. A workflow that already closed needs no
    /// clock: that is not an error (its result is what the caller awaits next).
    async fn switch(
        &self,
        workflow_id: &str,
        config: TimeSkippingConfig,
    ) -> Result<(), RunnerError> {
        let request = UpdateWorkflowExecutionOptionsRequest {
            namespace: self.namespace.clone(),
            workflow_execution: Some(execution(workflow_id)),
            workflow_execution_options: Some(WorkflowExecutionOptions {
                time_skipping_config: Some(config),
                ..Default::default()
            }),
            update_mask: Some(prost_wkt_types::FieldMask {
                paths: vec!["time_skipping_config".into()],
            }),
            identity: "temporal-harness".into(),
        };
        match self
            .connection
            .workflow_service()
            .update_workflow_execution_options(tonic::Request::new(request))
            .await
        {
            Ok(_) => Ok(()),
            Err(s) => {
                if self.running(workflow_id).await? {
                    Err(status(s))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Resolves once the workflow stopped skipping on its own while still running: its skip
    /// budget is spent (a retry loop under skipped backoff, or more timers than `max_skips`).
    async fn budget_spent(&self, workflow_id: &str) -> RunnerError {
        loop {
            tokio::time::sleep(BUDGET_CHECK).await;
            let described = match self.describe(workflow_id).await {
                Ok(d) => d,
                Err(e) => return e,
            };
            let running = described
                .workflow_execution_info
                .as_ref()
                .is_some_and(|i| i.status() == WorkflowExecutionStatus::Running);
            let skipping = described
                .workflow_extended_info
                .and_then(|info| info.time_skipping_info)
                .and_then(|info| info.effective_config)
                .is_none_or(|config| config.enabled);
            if running && !skipping {
                return RunnerError::SkipBudgetSpent {
                    workflow_id: workflow_id.to_string(),
                    max_skips: self.max_skips,
                };
            }
        }
    }

    async fn running(&self, workflow_id: &str) -> Result<bool, RunnerError> {
        let described = self.describe(workflow_id).await?;
        Ok(described
            .workflow_execution_info
            .is_some_and(|i| i.status() == WorkflowExecutionStatus::Running))
    }

    async fn describe(&self, workflow_id: &str) -> Result<Described, RunnerError> {
        self.connection
            .workflow_service()
            .describe_workflow_execution(tonic::Request::new(DescribeWorkflowExecutionRequest {
                namespace: self.namespace.clone(),
                execution: Some(execution(workflow_id)),
            }))
            .await
            .map(tonic::Response::into_inner)
            .map_err(status)
    }
}

/// The latest run of `workflow_id`.
fn execution(workflow_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: String::new(),
    }
}

fn status(s: tonic::Status) -> RunnerError {
    RunnerError::TimeSkipping(Box::new(Grpc(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StackConfig;
    use crate::stack::TestServer;

    /// A server without per-workflow time skipping (here the Java test server, which lacks
    /// the RPC as an older release does) is told apart from one that has it.
    #[tokio::test]
    async fn a_server_without_the_feature_is_detected() {
        let config = StackConfig::load().expect("config");
        let server = TestServer::start(&config)
            .await
            .expect("a Java test server");
        let supported = supported(server.connection(), "default")
            .await
            .expect("the probe gets an answer");
        assert!(
            !supported,
            "the Java test server does not skip per workflow"
        );
    }
}
