//! The workflows and activities the examples test. Each is ordinary SDK code: the harness
//! needs nothing special from the code under test.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, ChildWorkflowOptions, ContinueAsNewOptions, SyncWorkflowContext, TimerResult,
    WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
};
use tokio::sync::Notify;

pub struct Greeter;

#[activities]
impl Greeter {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        tracing::info!(%name, "greeting");
        Ok(format!("Hello, {name}!"))
    }
}

/// A fake of `Greeter::greet` for one test: same activity, other behaviour.
pub struct FakeGreeter;

#[activities]
impl FakeGreeter {
    #[activity(definition = greeter::Greet)]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Fake hello, {name}!"))
    }
}

fn greet_options() -> ActivityOptions {
    ActivityOptions::start_to_close_timeout(Duration::from_secs(10))
}

#[workflow]
#[derive(Default)]
pub struct GreetWorkflow;

#[workflow_methods]
impl GreetWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        Ok(ctx
            .execute_activity(Greeter::greet, name, greet_options())
            .await?)
    }
}

/// Collects values by signal until it has `target` of them; query and update read and write.
#[workflow]
#[derive(Default)]
pub struct CollectorWorkflow {
    values: Vec<u32>,
}

#[workflow_methods]
impl CollectorWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, target: usize) -> WorkflowResult<Vec<u32>> {
        ctx.wait_condition(|s| s.values.len() >= target).await?;
        Ok(ctx.state(|s| s.values.clone()))
    }

    #[signal]
    pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, value: u32) {
        self.values.push(value);
    }

    #[query]
    pub fn values(&self, _ctx: &WorkflowContextView) -> Vec<u32> {
        self.values.clone()
    }

    #[update]
    pub fn add_and_sum(&mut self, _ctx: &mut SyncWorkflowContext<Self>, value: u32) -> u32 {
        self.values.push(value);
        self.values.iter().sum()
    }
}

/// Greets each name through a child workflow.
#[workflow]
#[derive(Default)]
pub struct ParentWorkflow;

#[workflow_methods]
impl ParentWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        names: Vec<String>,
    ) -> WorkflowResult<Vec<String>> {
        let mut greetings = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            let child_id = format!("{}-child-{i}", ctx.workflow_id());
            let child = ctx
                .start_child_workflow(
                    GreetWorkflow::run,
                    name,
                    ChildWorkflowOptions::workflow_id(child_id),
                )
                .await?;
            greetings.push(child.result().await?);
        }
        Ok(greetings)
    }
}

/// Waits on a durable timer.
#[workflow]
#[derive(Default)]
pub struct TimerWorkflow;

#[workflow_methods]
impl TimerWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, millis: u64) -> WorkflowResult<String> {
        ctx.timer(Duration::from_millis(millis)).await;
        Ok("fired".into())
    }
}

/// Fails until its `succeed_on`-th attempt, counting attempts in the implementer.
pub struct Flaky {
    pub attempts: Arc<AtomicU32>,
}

#[activities]
impl Flaky {
    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        succeed_on: u32,
    ) -> Result<u32, ActivityError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if attempt < succeed_on {
            return Err(anyhow::anyhow!("transient failure on attempt {attempt}").into());
        }
        Ok(attempt)
    }
}

/// Calls the flaky activity under a retry policy with exponential backoff.
#[workflow]
#[derive(Default)]
pub struct RetryWorkflow;

#[workflow_methods]
impl RetryWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, succeed_on: u32) -> WorkflowResult<u32> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(5));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(50))
                .backoff_coefficient(2.0)
                .maximum_attempts(5)
                .build(),
        );
        Ok(ctx
            .execute_activity(Flaky::charge, succeed_on, options)
            .await?)
    }
}

/// Counts down through continue-as-new.
#[workflow]
#[derive(Default)]
pub struct CountdownWorkflow;

#[workflow_methods]
impl CountdownWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, remaining: u32) -> WorkflowResult<String> {
        if remaining > 0 {
            ctx.continue_as_new(remaining - 1, ContinueAsNewOptions::default())?;
        }
        Ok("liftoff".into())
    }
}

/// Waits a long time; tests cancel it.
#[workflow]
#[derive(Default)]
pub struct LongWaitWorkflow;

#[workflow_methods]
impl LongWaitWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
        match ctx.timer(Duration::from_secs(3600)).await {
            TimerResult::Cancelled => Err(WorkflowTermination::cancelled()),
            TimerResult::Fired => Ok("woke".into()),
        }
    }
}

/// Waits for a signal, then greets through an activity: the shape of a workflow that must
/// survive its worker being replaced in between.
#[workflow]
#[derive(Default)]
pub struct GateWorkflow {
    open: bool,
}

#[workflow_methods]
impl GateWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        ctx.wait_condition(|s| s.open).await?;
        Ok(ctx
            .execute_activity(Greeter::greet, name, greet_options())
            .await?)
    }

    #[signal]
    pub fn open(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        self.open = true;
    }
}

/// Version 1 of a workflow: a timer, then an activity.
#[workflow]
#[derive(Default)]
pub struct OrderV1;

#[workflow_methods]
impl OrderV1 {
    #[run(name = "Order")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        ctx.timer(Duration::from_millis(10)).await;
        Ok(ctx
            .execute_activity(Greeter::greet, name, greet_options())
            .await?)
    }
}

/// Version 2 of the same workflow type with the steps swapped: not replay-compatible.
#[workflow]
#[derive(Default)]
pub struct OrderV2;

#[workflow_methods]
impl OrderV2 {
    #[run(name = "Order")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let greeting = ctx
            .execute_activity(Greeter::greet, name, greet_options())
            .await?;
        ctx.timer(Duration::from_millis(10)).await;
        Ok(greeting)
    }
}

/// Imports items `0..count`, heartbeating the index of each; a retry resumes after the last
/// heartbeat. The first attempt stalls halfway on `stall`, so a test can crash the worker
/// under it.
pub struct Importer {
    pub stall: &'static Notify,
}

#[activities]
impl Importer {
    /// Returns `(attempt, first index this attempt imported)`.
    #[activity]
    pub async fn import(
        self: Arc<Self>,
        ctx: ActivityContext,
        count: u32,
    ) -> Result<(u32, u32), ActivityError> {
        let resumed: Option<u32> = ctx
            .heartbeat_details()
            .deserialize()
            .map_err(|e| anyhow::anyhow!("bad heartbeat details: {e}"))?;
        let first = resumed.map_or(0, |last| last + 1);
        let attempt = ctx.info().attempt;
        for i in first..count {
            ctx.record_heartbeat(i)
                .await
                .map_err(|e| anyhow::anyhow!("heartbeat: {e}"))?;
            if attempt == 1 && i == count / 2 {
                self.stall.notified().await;
            }
        }
        Ok((attempt, first))
    }
}

/// Runs the importer with a short heartbeat timeout, so an abandoned attempt is retried soon.
#[workflow]
#[derive(Default)]
pub struct ImportWorkflow;

#[workflow_methods]
impl ImportWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, count: u32) -> WorkflowResult<(u32, u32)> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(60));
        options.heartbeat_timeout = Some(Duration::from_secs(1));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(10))
                .maximum_attempts(3)
                .build(),
        );
        Ok(ctx
            .execute_activity(Importer::import, count, options)
            .await?)
    }
}
