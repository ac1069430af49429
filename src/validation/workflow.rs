//! The 5-stage validation workflow: a real workflow that proves a deployment runs workflows,
//! activities, persistence and retries end to end. Queries report its progress while it runs.
// The SDK macros generate undocumented public items (activity, run and query markers);
// everything written here is documented.
#![allow(missing_docs)]

use super::activities::{ActivityReport, ValidationActivities};
use super::Status;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

/// The stages, in the order the workflow runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Stage {
    /// An activity reaches Temporal and PostgreSQL.
    Connection,
    /// The workflow itself runs: a durable timer round trip and its own info.
    WorkflowExecution,
    /// An activity runs and its payload comes back intact.
    ActivityExecution,
    /// A marker written through PostgreSQL reads back; the workflow's own execution row is
    /// found in Temporal's database.
    StatePersistence,
    /// An activity that fails until its last allowed attempt succeeds under an exponential
    /// retry policy.
    ErrorHandling,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Connection,
        Stage::WorkflowExecution,
        Stage::ActivityExecution,
        Stage::StatePersistence,
        Stage::ErrorHandling,
    ];

    /// The stage's name as its check id uses it (`stage.<name>`).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One stage's result, as `get_stage_results` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageResult {
    /// Which stage.
    pub stage: Stage,
    /// How it ended.
    pub status: Status,
    /// Workflow time the stage took, in milliseconds.
    pub duration_ms: u64,
    /// What it found, or why it failed or was skipped.
    pub detail: String,
}

/// What `get_current_stage` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "stage")]
pub enum CurrentStage {
    /// Not started yet.
    Pending,
    /// Running this stage.
    Running(Stage),
    /// Every stage ran (or one failed and the rest were not reached).
    Finished,
}

/// The workflow's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationInput {
    /// First retry interval of the error-handling stage, in milliseconds (the policy doubles
    /// it: coefficient 2, 3 attempts).
    pub retry_initial_interval_ms: u64,
}

impl Default for ValidationInput {
    fn default() -> Self {
        ValidationInput {
            retry_initial_interval_ms: 100,
        }
    }
}

/// Attempts the error-handling stage allows; the activity fails on every earlier one.
pub const RETRY_ATTEMPTS: u32 = 3;

/// The validation workflow (type name `TemporalHarnessValidation`).
#[workflow]
#[derive(Default)]
pub struct ValidationWorkflow {
    current: Option<Stage>,
    finished: bool,
    results: Vec<StageResult>,
}

fn activity_options() -> ActivityOptions {
    ActivityOptions::start_to_close_timeout(Duration::from_secs(10))
}

fn millis_between(from: Option<SystemTime>, to: Option<SystemTime>) -> u64 {
    match (from, to) {
        (Some(from), Some(to)) => to.duration_since(from).unwrap_or_default().as_millis() as u64,
        _ => 0,
    }
}

#[workflow_methods]
impl ValidationWorkflow {
    #[run(name = "TemporalHarnessValidation")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: ValidationInput,
    ) -> WorkflowResult<Vec<StageResult>> {
        for stage in Stage::ALL {
            ctx.state_mut(|s| s.current = Some(stage));
            let started = ctx.workflow_time();
            let report = run_stage(ctx, stage, &input).await;
            let result = StageResult {
                stage,
                status: report.status,
                duration_ms: millis_between(started, ctx.workflow_time()),
                detail: report.detail,
            };
            let failed = result.status == Status::Failed;
            ctx.state_mut(|s| s.results.push(result));
            if failed {
                break;
            }
        }
        ctx.state_mut(|s| {
            s.current = None;
            s.finished = true;
        });
        Ok(ctx.state(|s| s.results.clone()))
    }

    /// The stage running now.
    #[query]
    pub fn get_current_stage(&self, _ctx: &WorkflowContextView) -> CurrentStage {
        match (self.current, self.finished) {
            (_, true) => CurrentStage::Finished,
            (Some(stage), false) => CurrentStage::Running(stage),
            (None, false) => CurrentStage::Pending,
        }
    }

    /// Results of the stages finished so far, in order.
    #[query]
    pub fn get_stage_results(&self, _ctx: &WorkflowContextView) -> Vec<StageResult> {
        self.results.clone()
    }
}

async fn run_stage(
    ctx: &mut WorkflowContext<ValidationWorkflow>,
    stage: Stage,
    input: &ValidationInput,
) -> ActivityReport {
    let failed = |e: &dyn std::fmt::Display| ActivityReport {
        status: Status::Failed,
        detail: e.to_string(),
    };
    match stage {
        Stage::Connection => ctx
            .execute_activity(ValidationActivities::connect, (), activity_options())
            .await
            .unwrap_or_else(|e| failed(&e)),
        Stage::WorkflowExecution => {
            let before = ctx.workflow_time();
            ctx.timer(Duration::from_millis(1)).await;
            let after = ctx.workflow_time();
            if after < before {
                return failed(&"workflow time went backwards across a timer");
            }
            ActivityReport {
                status: Status::Passed,
                detail: format!(
                    "workflow {} (attempt {}) ran a durable timer",
                    ctx.workflow_id(),
                    ctx.info().attempt()
                ),
            }
        }
        Stage::ActivityExecution => {
            let payload = format!("payload of {}", ctx.workflow_id());
            match ctx
                .execute_activity(
                    ValidationActivities::echo,
                    payload.clone(),
                    activity_options(),
                )
                .await
            {
                Ok(echoed) if echoed == payload.chars().rev().collect::<String>() => {
                    ActivityReport {
                        status: Status::Passed,
                        detail: format!("activity returned its {}-byte payload", payload.len()),
                    }
                }
                Ok(other) => failed(&format!("activity returned {other:?}, not the payload")),
                Err(e) => failed(&e),
            }
        }
        Stage::StatePersistence => ctx
            .execute_activity(ValidationActivities::persist, (), activity_options())
            .await
            .unwrap_or_else(|e| failed(&e)),
        Stage::ErrorHandling => {
            let mut options = activity_options();
            options.retry_policy = Some(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_millis(input.retry_initial_interval_ms))
                    .backoff_coefficient(2.0)
                    .maximum_attempts(RETRY_ATTEMPTS)
                    .build(),
            );
            match ctx
                .execute_activity(
                    ValidationActivities::fail_until_last,
                    RETRY_ATTEMPTS,
                    options,
                )
                .await
            {
                Ok(attempt) if attempt == RETRY_ATTEMPTS => ActivityReport {
                    status: Status::Passed,
                    detail: format!(
                        "failed {} times, succeeded on attempt {attempt} (backoff x2 from {} ms)",
                        attempt - 1,
                        input.retry_initial_interval_ms
                    ),
                },
                Ok(attempt) => failed(&format!(
                    "succeeded on attempt {attempt}, expected {RETRY_ATTEMPTS}"
                )),
                Err(e) => failed(&e),
            }
        }
    }
}

/// The probe workflow (type name `TemporalHarnessProbe`): one activity, for the checks that
/// inspect a finished workflow in Temporal's database and visibility.
#[workflow]
#[derive(Default)]
pub struct ProbeWorkflow;

#[workflow_methods]
impl ProbeWorkflow {
    #[run(name = "TemporalHarnessProbe")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<String> {
        Ok(ctx
            .execute_activity(ValidationActivities::echo, input, activity_options())
            .await?)
    }
}
