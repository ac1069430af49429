//! Activity mocks set up in the test body (`runner.mock(..)`), on the real stack: answers,
//! failures and retries, stalls ended by the activity's timeout, spies, call records, the
//! order across mocks, and the end-of-test check that fails a test whose mocks were not met.

use std::time::Duration;
use temporal_harness::__private::TestOptions;
use temporal_harness::prelude::*;
use temporal_harness::runner::{Definitions, MockCall, MockFailure};
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, LocalActivityOptions, WorkflowContext, WorkflowResult};

pub struct Payments;

#[activities]
impl Payments {
    #[activity]
    pub async fn charge(_ctx: ActivityContext, cents: u32) -> Result<String, ActivityError> {
        Ok(format!("real-receipt-{cents}"))
    }
}

pub struct Shipping;

#[activities]
impl Shipping {
    #[activity]
    pub async fn ship(_ctx: ActivityContext, receipt: String) -> Result<String, ActivityError> {
        Ok(format!("shipped against {receipt}"))
    }
}

/// Charges, then ships: three attempts per activity, 100 ms apart, at most 2 s each.
#[workflow]
#[derive(Default)]
pub struct CheckoutWorkflow;

#[workflow_methods]
impl CheckoutWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, cents: u32) -> WorkflowResult<String> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(2));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .backoff_coefficient(1.0)
                .maximum_attempts(3)
                .build(),
        );
        let receipt = ctx
            .execute_activity(Payments::charge, cents, options.clone())
            .await?;
        Ok(ctx
            .execute_activity(Shipping::ship, receipt, options)
            .await?)
    }
}

#[temporal_test(workflows(CheckoutWorkflow), activities(Payments, Shipping))]
async fn a_mock_answers_in_place_of_the_activity_and_records_its_calls(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let charge = runner
        .mock(Payments::charge)
        .returns("mock-receipt".to_string());
    let shipped = runner.execute(CheckoutWorkflow::run, 1999).await?;
    // The mock answered; `ship`, not mocked, ran its real implementation.
    assert_eq!(shipped, "shipped against mock-receipt");
    let id = runner.started_workflows()[0].clone();
    assert_eq!(
        charge.calls(),
        [MockCall {
            input: 1999,
            attempt: 1,
            workflow_id: Some(id)
        }]
    );
    assert_eq!(runner.mocked_call_order(), ["Payments::charge"]);
    Ok(())
}

#[temporal_test(workflows(CheckoutWorkflow), activities(Payments, Shipping))]
async fn a_sequence_fails_the_first_attempt_and_answers_the_retry(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let charge = runner
        .mock(Payments::charge)
        .once()
        .fails(MockFailure::retryable("card declined"));
    runner
        .mock(Payments::charge)
        .once()
        .returns_with(|cents| format!("receipt-{cents}"));
    let shipped = runner.execute(CheckoutWorkflow::run, 42).await?;
    assert_eq!(shipped, "shipped against receipt-42");
    let attempts: Vec<u32> = charge.calls().iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, [1, 2], "the server retried the failed attempt");
    let history = runner.history(&runner.started_workflows()[0]).await?;
    assert_eq!(history.activity_attempts("Payments::charge"), [2]);
    Ok(())
}

#[temporal_test(workflows(CheckoutWorkflow), activities(Payments, Shipping))]
async fn a_non_retryable_failure_reaches_the_workflow_with_its_type(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let charge = runner
        .mock(Payments::charge)
        .once()
        .fails(MockFailure::non_retryable("card stolen").with_type("CardStolen"));
    let err = runner
        .execute(CheckoutWorkflow::run, 7)
        .await
        .expect_err("a non-retryable failure fails the workflow");
    let RunnerError::Failed { failure, .. } = &err else {
        panic!("not a workflow failure: {err}");
    };
    assert_eq!(failure.error_type(), Some("CardStolen"), "{err}");
    assert_eq!(charge.calls().len(), 1, "never retried");
    Ok(())
}

#[temporal_test(workflows(CheckoutWorkflow), activities(Payments, Shipping))]
async fn a_stalled_attempt_ends_by_its_timeout_and_a_spy_counts_the_real_calls(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    // Attempt 1 hangs until its 2 s start-to-close timeout; attempt 2 runs the real charge.
    runner.mock(Payments::charge).once().stalls();
    let spy = runner.mock(Payments::charge).once();
    let ship = runner.mock(Shipping::ship).once();
    let shipped = runner.execute(CheckoutWorkflow::run, 5).await?;
    assert_eq!(shipped, "shipped against real-receipt-5");
    assert_eq!(
        spy.calls().iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(ship.calls()[0].input, "real-receipt-5");
    assert_eq!(
        runner.mocked_call_order(),
        ["Payments::charge", "Payments::charge", "Shipping::ship"]
    );
    Ok(())
}

/// Charges as a local activity: three attempts, 100 ms apart.
#[workflow]
#[derive(Default)]
pub struct LocalChargeWorkflow;

#[workflow_methods]
impl LocalChargeWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, cents: u32) -> WorkflowResult<String> {
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(2))
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_millis(100))
                    .backoff_coefficient(1.0)
                    .maximum_attempts(3)
                    .build(),
            )
            .build();
        Ok(ctx
            .execute_local_activity(Payments::charge, cents, options)
            .await?)
    }
}

#[temporal_test(workflows(LocalChargeWorkflow), activities(Payments))]
async fn a_local_activity_is_mocked_with_its_retries(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let charge = runner
        .mock(Payments::charge)
        .once()
        .fails(MockFailure::retryable("card declined"));
    runner
        .mock(Payments::charge)
        .once()
        .returns_with(|cents| format!("local-receipt-{cents}"));
    assert_eq!(
        runner.execute(LocalChargeWorkflow::run, 12).await?,
        "local-receipt-12"
    );
    let attempts: Vec<u32> = charge.calls().iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, [1, 2], "the worker retried the local attempt");
    // A local activity leaves a marker in the history, not a scheduled activity.
    let history = runner.history(&runner.started_workflows()[0]).await?;
    assert!(history.scheduled_activities().is_empty());
    assert!(history.has(EventType::MarkerRecorded));
    Ok(())
}

pub struct Resumable;

#[activities]
impl Resumable {
    /// Returns the last heartbeat details the attempt resumes from (`None` on a fresh start).
    #[activity]
    pub async fn resume(ctx: ActivityContext, _unit: ()) -> Result<Option<u64>, ActivityError> {
        Ok(ctx
            .heartbeat_details()
            .deserialize()
            .map_err(|e| anyhow::anyhow!("bad heartbeat details: {e}"))?)
    }
}

/// Runs `resume` with a 1 s heartbeat timeout, retried 100 ms after a failed attempt.
#[workflow]
#[derive(Default)]
pub struct ResumeWorkflow;

#[workflow_methods]
impl ResumeWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<Option<u64>> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(30));
        options.heartbeat_timeout = Some(Duration::from_secs(1));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .maximum_attempts(3)
                .build(),
        );
        Ok(ctx.execute_activity(Resumable::resume, (), options).await?)
    }
}

#[temporal_test(workflows(ResumeWorkflow), activities(Resumable))]
async fn a_heartbeating_mock_that_stalls_is_retried_from_its_last_heartbeat(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    // Attempt 1 heartbeats three times, then hangs until its heartbeat timeout; attempt 2 is
    // the real implementation, which resumes from what the server kept.
    runner
        .mock(Resumable::resume)
        .once()
        .heartbeats([10u64, 20, 30])
        .stalls();
    let resume = runner.mock(Resumable::resume).once();
    assert_eq!(runner.execute(ResumeWorkflow::run, ()).await?, Some(30));
    let attempts: Vec<u32> = resume.calls().iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    Ok(())
}

/// Runs a test body the way `#[temporal_test]` does and returns its failure message.
fn failure_of<F>(name: &str, body: F) -> String
where
    F: FnOnce(TestRunner) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
{
    let definitions = Definitions::new()
        .workflow::<CheckoutWorkflow>()
        .activities(Payments)
        .activities(Shipping);
    crate::failure_message(TestOptions::new(name), definitions, body)
}

#[test]
fn a_test_whose_mocks_were_not_met_fails_saying_what_each_expected() {
    let message = failure_of("mocks::unmet", |runner| {
        Box::pin(async move {
            runner
                .mock(Payments::charge)
                .times(2)
                .returns("r".to_string());
            runner.mock(Shipping::ship).never();
            // Charged once; shipped once although `ship` must not be called.
            let err = runner.execute(CheckoutWorkflow::run, 1).await.unwrap_err();
            assert!(
                err.to_string()
                    .contains("TemporalHarnessUnexpectedMockCall")
                    || format!("{err:?}").contains("was not expected"),
                "{err:?}"
            );
        })
    });
    eprintln!("{message}");
    assert!(message.contains("mocks not met"), "{message}");
    assert!(
        message.contains("activity Payments::charge: 1 call(s) seen")
            && message.contains("expected exactly 2 calls, served 1 [NOT MET]"),
        "{message}"
    );
    assert!(
        message.contains("Shipping::ship: 1 call(s) seen, 1 of them unexpected"),
        "{message}"
    );
    assert!(message.contains("Fix:"), "{message}");
}
