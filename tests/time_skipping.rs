//! Time skipping: workflows that wait days, tested in milliseconds, each on a test server of
//! its own (so tests stay parallel and never move each other's clocks).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporal_harness::runner::RunnerError;
use temporal_harness::{temporal_test, TestRunner};
use temporalio_client::WorkflowSignalOptions;
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowResult};

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

#[temporal_test(workflows(TrialWorkflow), time_skipping)]
async fn a_thirty_day_trial_completes(runner: TestRunner) -> Result<(), RunnerError> {
    let server_start = runner.now().await?;
    let wall = Instant::now();
    let outcome = runner.execute(TrialWorkflow::run, 30).await?;
    let wall = wall.elapsed();
    let skipped = runner.now().await?.duration_since(server_start).unwrap();
    eprintln!(
        "30-day workflow: {wall:?} of wall time, {:.1} days of server time",
        skipped.as_secs_f64() / 86400.0
    );
    assert_eq!(outcome, "trial over after 30 days");
    assert!(skipped >= DAY * 30, "server time moved {skipped:?}");
    Ok(())
}

#[temporal_test(workflows(ApprovalWorkflow), time_skipping)]
async fn a_signal_beats_the_timer_when_sent_in_time(
    runner: TestRunner,
) -> Result<(), Box<dyn std::error::Error>> {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    // Time stands still while the test talks to the workflow...
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

#[temporal_test(workflows(ApprovalWorkflow), time_skipping)]
async fn the_timer_wins_without_a_signal(runner: TestRunner) -> Result<(), RunnerError> {
    // ...and skips ahead a whole day while the test awaits the result.
    assert_eq!(runner.execute(ApprovalWorkflow::run, ()).await?, "expired");
    Ok(())
}

#[temporal_test(workflows(ApprovalWorkflow), time_skipping)]
async fn skipping_can_be_held_off(runner: TestRunner) -> Result<(), Box<dyn std::error::Error>> {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    let before = runner.now().await?;
    // With skipping held, the timer cannot fire early: waiting briefly for the result
    // times out in real time while the server clock barely moves.
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

#[temporal_test(workflows(BillingWorkflow), activities(Billing { attempts: Arc::new(AtomicU32::new(0)) }), time_skipping)]
async fn an_hourly_retry_succeeds_on_the_third_attempt(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let start = runner.now().await?;
    assert_eq!(runner.execute(BillingWorkflow::run, ()).await?, 3);
    let skipped = runner.now().await?.duration_since(start).unwrap();
    assert!(
        skipped >= Duration::from_secs(2 * 3600),
        "two hourly retries skipped: {skipped:?}"
    );
    Ok(())
}

#[temporal_test]
async fn sleeping_needs_time_skipping(runner: TestRunner) {
    let err = runner.sleep(Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(err, RunnerError::NoTimeSkipping), "{err}");
}
