//! The workloads the fault suite runs: an order workflow whose activities are idempotent
//! where they must be, and deliberately broken ones: a charge that is not idempotent, orders
//! that assume Temporal never pauses.

use std::time::Duration;
use temporal_harness::faults::{effect_key, Effects, FaultPoints};
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, ApplicationFailure, WorkflowContext, WorkflowResult};

pub fn activity_options() -> ActivityOptions {
    let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(2));
    options.retry_policy = Some(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(50))
            .backoff_coefficient(2.0)
            .maximum_attempts(10)
            .build(),
    );
    options
}

fn key(ctx: &ActivityContext, name: &str) -> String {
    effect_key(ctx.info().workflow_id.as_deref().unwrap_or_default(), name)
}

/// Reserve, charge and ship: each records its side effect, then passes its fault point.
pub struct Shop {
    pub effects: Effects,
    pub points: FaultPoints,
}

#[activities]
impl Shop {
    /// Idempotent: reserving twice under one key reserves once.
    #[activity]
    pub async fn reserve(
        self: std::sync::Arc<Self>,
        ctx: ActivityContext,
        item: String,
    ) -> Result<String, ActivityError> {
        self.effects.apply_once(&key(&ctx, "reserve"));
        self.points.check(&ctx, "reserve").await?;
        Ok(format!("reserved {item}"))
    }

    /// Idempotent through an idempotency key, as a payment API would be.
    #[activity]
    pub async fn charge(
        self: std::sync::Arc<Self>,
        ctx: ActivityContext,
        cents: u32,
    ) -> Result<String, ActivityError> {
        self.effects.apply_once(&key(&ctx, "charge"));
        self.points.check(&ctx, "charge").await?;
        Ok(format!("charged {cents}"))
    }

    /// Not idempotent (a notification): at least once is the promise.
    #[activity]
    pub async fn ship(
        self: std::sync::Arc<Self>,
        ctx: ActivityContext,
        item: String,
    ) -> Result<String, ActivityError> {
        self.effects.apply(&key(&ctx, "ship"));
        self.points.check(&ctx, "ship").await?;
        Ok(format!("shipped {item}"))
    }
}

#[workflow]
#[derive(Default)]
pub struct OrderWorkflow;

#[workflow_methods]
impl OrderWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, item: String) -> WorkflowResult<String> {
        let reserved = ctx
            .execute_activity(Shop::reserve, item.clone(), activity_options())
            .await?;
        ctx.timer(Duration::from_millis(50)).await;
        let charged = ctx
            .execute_activity(Shop::charge, 1999u32, activity_options())
            .await?;
        let shipped = ctx
            .execute_activity(Shop::ship, item, activity_options())
            .await?;
        Ok(format!("{reserved}, {charged}, {shipped}"))
    }
}

/// The broken shop: its charge applies the payment on every attempt.
pub struct SloppyShop {
    pub effects: Effects,
    pub points: FaultPoints,
}

#[activities]
impl SloppyShop {
    #[activity]
    pub async fn charge_without_key(
        self: std::sync::Arc<Self>,
        ctx: ActivityContext,
        cents: u32,
    ) -> Result<String, ActivityError> {
        self.effects.apply(&key(&ctx, "charge"));
        self.points.check(&ctx, "charge").await?;
        Ok(format!("charged {cents}"))
    }
}

#[workflow]
#[derive(Default)]
pub struct SloppyOrderWorkflow;

#[workflow_methods]
impl SloppyOrderWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, cents: u32) -> WorkflowResult<String> {
        Ok(ctx
            .execute_activity(SloppyShop::charge_without_key, cents, activity_options())
            .await?)
    }
}

/// The impatient order: it gives each step 300 ms to be picked up by a worker and never
/// retries, as if the service behind it were always there. Any outage of the task path
/// (matching, a history host, PostgreSQL) longer than that fails the order.
#[workflow]
#[derive(Default)]
pub struct ImpatientOrderWorkflow;

#[workflow_methods]
impl ImpatientOrderWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, item: String) -> WorkflowResult<String> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(2));
        options.schedule_to_start_timeout = Some(Duration::from_millis(300));
        options.retry_policy = Some(RetryPolicy::builder().maximum_attempts(1).build());
        // Through matching, like an activity on another worker: an eagerly executed one
        // would never wait in a queue.
        options.do_not_eagerly_execute = true;
        let mut steps = Vec::new();
        for _ in 0..IMPATIENT_STEPS {
            steps.push(
                ctx.execute_activity(Shop::reserve, item.clone(), options.clone())
                    .await?,
            );
            ctx.timer(Duration::from_millis(100)).await;
        }
        Ok(steps.join(", "))
    }
}

/// What a stopwatch order gets: its item and the longest a step may take, in milliseconds
/// of workflow time. The test derives the limit from a control run on the same machine in the
/// same run ([`super::workloads::step_limit`]): a constant would be a wall-clock bound, and a
/// loaded CI machine's first step on a fresh stack already took 1.1 s (over a fixed 800 ms).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StopwatchOrder {
    pub item: String,
    pub step_limit_ms: u64,
}

/// The order on a stopwatch: each step (a reservation, then a 100 ms pause) after the first
/// must be done within its limit of workflow time, or the order is given up, as if Temporal
/// and its database never paused. Any stall longer than that while a judged step runs fails
/// it, wherever in the step it falls: the impatient order only notices one that catches an
/// activity waiting for a worker. The first step is not judged: it meets a worker and a
/// server still warming up (on a loaded machine 2.9 s where the others took 0.3 s), so a
/// limit that holds for it would be too loose for the rest.
#[workflow]
#[derive(Default)]
pub struct StopwatchOrderWorkflow;

#[workflow_methods]
impl StopwatchOrderWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        order: StopwatchOrder,
    ) -> WorkflowResult<String> {
        let limit = Duration::from_millis(order.step_limit_ms);
        let mut steps = Vec::new();
        for step in 0..STOPWATCH_STEPS {
            let began = ctx.workflow_time();
            steps.push(
                ctx.execute_activity(Shop::reserve, order.item.clone(), activity_options())
                    .await?,
            );
            ctx.timer(Duration::from_millis(100)).await;
            let took = began
                .zip(ctx.workflow_time())
                .and_then(|(began, now)| now.duration_since(began).ok())
                .unwrap_or_default();
            if step >= FIRST_JUDGED_STEP && took > limit {
                let late = format!("step {step} took {took:?}, {OVER_THE_LIMIT} {limit:?}");
                return Err(ApplicationFailure::non_retryable(late).into());
            }
        }
        Ok(steps.join(", "))
    }
}

/// Reservations of an impatient order.
pub const IMPATIENT_STEPS: usize = 4;

/// Steps of a stopwatch order (each a reservation and a 100 ms timer): the first warms up,
/// the next two are where the catches' faults begin, the last two are slack for applying
/// them ([`super::workloads::judged_steps`]).
pub const STOPWATCH_STEPS: usize = 5;

/// The first step the stopwatch judges (the one before warms up).
pub const FIRST_JUDGED_STEP: usize = 1;

/// How a stopwatch order says it gave up.
pub const OVER_THE_LIMIT: &str = "over its limit of";
