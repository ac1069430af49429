//! Time skipping: workflows that wait days, tested in milliseconds. Every case runs twice:
//! per workflow on the shared stack's real server (`server::`), and on a Java test server of
//! the test's own (`test_server::`), the fallback for servers without the feature. Cases only
//! the real server can run say why.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporal_harness::runner::RunnerError;
use temporal_harness::{temporal_test, TestRunner};
use temporalio_client::WorkflowExecuteUpdateOptions;
use temporalio_client::WorkflowSignalOptions;
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, ChildWorkflowOptions, ContinueAsNewOptions, SyncWorkflowContext,
    WorkflowContext, WorkflowResult,
};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[workflow]
#[derive(Default)]
pub struct TrialWorkflow;

#[workflow_methods]
impl TrialWorkflow {
    /// A 30-day trial: sleep `days`, then end it.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, days: u32) -> WorkflowResult<String> {
        ctx.timer(DAY * days).await;
        Ok(format!("trial over after {days} days"))
    }
}

/// Waits for an approval signal, or gives up after a day: whichever comes first.
#[workflow]
#[derive(Default)]
pub struct ApprovalWorkflow {
    approved: bool,
}

#[workflow_methods]
impl ApprovalWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
        let outcome = temporalio_sdk::workflows::select! {
            _ = ctx.timer(DAY) => "expired",
            _ = ctx.wait_condition(|s: &Self| s.approved) => "approved",
        };
        Ok(outcome.to_string())
    }

    #[signal]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        self.approved = true;
    }
}

pub struct Billing {
    attempts: Arc<AtomicU32>,
}

#[activities]
impl Billing {
    /// Fails until the third attempt.
    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _unit: (),
    ) -> Result<u32, ActivityError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if attempt < 3 {
            return Err(anyhow::anyhow!("card declined on attempt {attempt}").into());
        }
        Ok(attempt)
    }
}

/// Never succeeds.
pub struct Outage;

#[activities]
impl Outage {
    #[activity]
    pub async fn call(_ctx: ActivityContext, _unit: ()) -> Result<(), ActivityError> {
        Err(anyhow::anyhow!("the service is down").into())
    }
}

/// Retries a call that never succeeds, hourly, without end: what a skip budget is for.
#[workflow]
#[derive(Default)]
pub struct EndlessRetryWorkflow;

#[workflow_methods]
impl EndlessRetryWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(3600))
                .backoff_coefficient(1.0)
                .build(),
        );
        Ok(ctx.execute_activity(Outage::call, (), options).await?)
    }
}

/// Starts a child that waits a week, and returns what the child returns.
#[workflow]
#[derive(Default)]
pub struct RenewalWorkflow;

#[workflow_methods]
impl RenewalWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
        let child = ctx
            .start_child_workflow(
                TrialWorkflow::run,
                7u32,
                ChildWorkflowOptions::workflow_id(format!("{}-week", ctx.workflow_id())),
            )
            .await?;
        Ok(child.result().await?)
    }
}

/// Waits a day per run, continuing as new until `days` runs are done.
#[workflow]
#[derive(Default)]
pub struct DailyChainWorkflow;

#[workflow_methods]
impl DailyChainWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, days: u32) -> WorkflowResult<String> {
        ctx.timer(DAY).await;
        if days > 1 {
            ctx.continue_as_new(days - 1, ContinueAsNewOptions::default())?;
        }
        Ok("chain done".into())
    }
}

/// An update that answers after a day of (workflow) time.
#[workflow]
#[derive(Default)]
pub struct QuoteWorkflow {
    done: bool,
}

#[workflow_methods]
impl QuoteWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        let _ = ctx.wait_condition(|s: &Self| s.done).await;
        Ok(())
    }

    /// Answers `price` a day after being asked.
    #[update]
    pub async fn quote(ctx: &mut WorkflowContext<Self>, price: u32) -> u32 {
        ctx.timer(DAY).await;
        price
    }

    #[signal]
    pub fn finish(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        self.done = true;
    }
}

/// Retries the charge hourly.
#[workflow]
#[derive(Default)]
pub struct BillingWorkflow;

#[workflow_methods]
impl BillingWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<u32> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(3600))
                .backoff_coefficient(1.0)
                .maximum_attempts(5)
                .build(),
        );
        Ok(ctx.execute_activity(Billing::charge, (), options).await?)
    }
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Each case once per server: `case::server` on the shared stack's real server, and
/// `case::test_server` on a Java test server of the test's own.
macro_rules! on_both_servers {
    ($case:ident, $($args:tt)*) => {
        mod $case {
            use super::*;

            #[temporal_test($($args)*, time_skipping = "server")]
            async fn server(runner: TestRunner) -> TestResult {
                super::$case(runner).await
            }

            #[temporal_test($($args)*, time_skipping = "test-server")]
            async fn test_server(runner: TestRunner) -> TestResult {
                super::$case(runner).await
            }
        }
    };
}

on_both_servers!(a_thirty_day_trial_completes, workflows(TrialWorkflow));
async fn a_thirty_day_trial_completes(runner: TestRunner) -> TestResult {
    let server_start = runner.now().await?;
    let wall = Instant::now();
    let outcome = runner.execute(TrialWorkflow::run, 30).await?;
    let wall = wall.elapsed();
    let skipped = runner.now().await?.duration_since(server_start)?;
    eprintln!(
        "30-day workflow: {wall:?} of wall time, {:.1} days of workflow time",
        skipped.as_secs_f64() / 86400.0
    );
    assert_eq!(outcome, "trial over after 30 days");
    assert!(skipped >= DAY * 30, "workflow time moved {skipped:?}");
    Ok(())
}

on_both_servers!(
    a_signal_beats_the_timer_when_sent_in_time,
    workflows(ApprovalWorkflow)
);
async fn a_signal_beats_the_timer_when_sent_in_time(runner: TestRunner) -> TestResult {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    // Time stands still while the test talks to the workflow, and moves when asked...
    runner.sleep(Duration::from_secs(3600)).await?;
    handle
        .signal(
            ApprovalWorkflow::approve,
            (),
            WorkflowSignalOptions::default(),
        )
        .await?;
    assert_eq!(runner.result(&handle).await?, "approved");
    Ok(())
}

on_both_servers!(the_timer_wins_without_a_signal, workflows(ApprovalWorkflow));
async fn the_timer_wins_without_a_signal(runner: TestRunner) -> TestResult {
    // ...and skips ahead a whole day while the test awaits the result.
    assert_eq!(runner.execute(ApprovalWorkflow::run, ()).await?, "expired");
    Ok(())
}

on_both_servers!(skipping_can_be_held_off, workflows(ApprovalWorkflow));
async fn skipping_can_be_held_off(runner: TestRunner) -> TestResult {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    let before = runner.now().await?;
    // With skipping held, the timer cannot fire early: waiting briefly for the result
    // times out in real time while the clock barely moves.
    let waited = runner
        .without_time_skipping(tokio::time::timeout(
            Duration::from_millis(300),
            runner.result(&handle),
        ))
        .await;
    assert!(waited.is_err(), "no result while time is held");
    assert!(runner.now().await?.duration_since(before)? < Duration::from_secs(60));
    handle
        .signal(
            ApprovalWorkflow::approve,
            (),
            WorkflowSignalOptions::default(),
        )
        .await?;
    assert_eq!(runner.result(&handle).await?, "approved");
    Ok(())
}

on_both_servers!(
    an_hourly_retry_succeeds_on_the_third_attempt,
    workflows(BillingWorkflow),
    activities(Billing {
        attempts: Arc::new(AtomicU32::new(0))
    })
);
async fn an_hourly_retry_succeeds_on_the_third_attempt(runner: TestRunner) -> TestResult {
    let start = runner.now().await?;
    assert_eq!(runner.execute(BillingWorkflow::run, ()).await?, 3);
    let skipped = runner.now().await?.duration_since(start)?;
    assert!(
        skipped >= Duration::from_secs(2 * 3600),
        "two hourly retries skipped: {skipped:?}"
    );
    Ok(())
}

/// Only the real server: on the Java test server (1.40) the child is never started (the
/// parent's history stops at StartChildWorkflowExecutionInitiated and the test times out),
/// while the same workflows run on the real server.
#[temporal_test(workflows(RenewalWorkflow, TrialWorkflow), time_skipping = "server")]
async fn a_child_waits_a_week_under_a_skipping_parent(runner: TestRunner) -> TestResult {
    let wall = Instant::now();
    let outcome = runner.execute(RenewalWorkflow::run, ()).await?;
    assert_eq!(outcome, "trial over after 7 days");
    let parent = &runner.started_workflows()[0];
    let child = runner.history(&format!("{parent}-week")).await?;
    let (started, fired) = (child.events().first(), child.events().last());
    let days = |e: Option<&temporalio_common::protos::temporal::api::history::v1::HistoryEvent>| {
        e.and_then(|e| e.event_time.as_ref())
            .map_or(0, |t| t.seconds)
    };
    assert!(
        days(fired) - days(started) >= 7 * 86_400,
        "the child's own history spans a week of its time"
    );
    eprintln!("child's week: {:?} of wall time", wall.elapsed());
    Ok(())
}

on_both_servers!(
    a_continue_as_new_chain_waits_a_day_per_run,
    workflows(DailyChainWorkflow)
);
async fn a_continue_as_new_chain_waits_a_day_per_run(runner: TestRunner) -> TestResult {
    let start = runner.now().await?;
    assert_eq!(
        runner.execute(DailyChainWorkflow::run, 3).await?,
        "chain done"
    );
    let id = runner.started_workflows()[0].clone();
    assert_eq!(runner.histories(&id).await?.len(), 3, "three runs");
    let skipped = runner.now().await?.duration_since(start)?;
    assert!(
        skipped >= DAY * 3,
        "three days across the chain: {skipped:?}"
    );
    Ok(())
}

/// Only the real server: the Java test server does not implement workflow updates.
#[temporal_test(workflows(QuoteWorkflow), time_skipping = "server")]
async fn an_update_is_awaited_while_time_skips(runner: TestRunner) -> TestResult {
    let handle = runner.start(QuoteWorkflow::run, ()).await?;
    let id = handle.info().workflow_id.clone();
    let wall = Instant::now();
    let quoted = runner
        .with_time_skipping(
            &id,
            handle.execute_update(
                QuoteWorkflow::quote,
                42,
                WorkflowExecuteUpdateOptions::default(),
            ),
        )
        .await??;
    assert_eq!(quoted, 42);
    assert!(
        runner
            .virtual_time(&id)
            .await?
            .duration_since(std::time::SystemTime::now())?
            > DAY - Duration::from_secs(60)
    );
    eprintln!("a day-long update: {:?} of wall time", wall.elapsed());
    handle
        .signal(QuoteWorkflow::finish, (), WorkflowSignalOptions::default())
        .await?;
    runner.result(&handle).await?;
    Ok(())
}

/// Only the real server: a skip budget is the real server's (the Java test server would retry
/// for ever, and the test would end at its timeout instead).
#[temporal_test(
    workflows(EndlessRetryWorkflow),
    activities(Outage),
    time_skipping = "server",
    max_skips = 5
)]
async fn an_endless_retry_spends_the_skip_budget_and_fails_clearly(runner: TestRunner) {
    let err = runner
        .execute(EndlessRetryWorkflow::run, ())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RunnerError::SkipBudgetSpent { max_skips: 5, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Fix:"), "{err}");
    let id = runner.started_workflows()[0].clone();
    runner
        .client()
        .get_workflow_handle::<EndlessRetryWorkflow>(id)
        .terminate(Default::default())
        .await
        .expect("terminate");
}

/// A fast-forward moves one workflow's clock and no other's.
#[temporal_test(workflows(TrialWorkflow), time_skipping = "server")]
async fn a_fast_forward_moves_one_workflow_only(runner: TestRunner) -> TestResult {
    let moved = runner.start(TrialWorkflow::run, 10).await?;
    let still = runner.start(TrialWorkflow::run, 10).await?;
    let (moved, still) = (
        moved.info().workflow_id.clone(),
        still.info().workflow_id.clone(),
    );
    // Nothing to move is not an error.
    runner.fast_forward(&moved, Duration::ZERO).await?;
    runner.sleep(Duration::ZERO).await?;
    runner.fast_forward(&moved, DAY * 3).await?;
    let now = std::time::SystemTime::now();
    let ahead = runner.virtual_time(&moved).await?.duration_since(now)?;
    assert!(
        ahead >= DAY * 3 - Duration::from_secs(60),
        "moved {ahead:?}"
    );
    let other = runner.virtual_time(&still).await?;
    assert!(
        other <= std::time::SystemTime::now() + Duration::from_secs(60),
        "the other workflow's clock stayed"
    );
    for id in [moved, still] {
        runner
            .client()
            .get_workflow_handle::<TrialWorkflow>(id)
            .terminate(Default::default())
            .await?;
    }
    Ok(())
}

#[temporal_test]
async fn sleeping_needs_time_skipping(runner: TestRunner) {
    let err = runner.sleep(Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(err, RunnerError::NoTimeSkipping), "{err}");
}
