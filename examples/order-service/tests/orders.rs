//! The order service's workflow, tested as a service repository would: real Temporal on real
//! PostgreSQL, the payment provider's activity mocked in each test body, time skipping for the
//! approval timeout.

use order_service::{Order, OrderActivities, OrderWorkflow, Payments, Status};
use std::sync::Arc;
use temporal_harness::prelude::*;
use temporal_harness::runner::MockFailure;

/// The workers need a provider to register the activities with; every test that charges
/// mocks `OrderActivities::charge`, so this one is never reached.
struct NoProvider;

impl Payments for NoProvider {
    fn charge(&self, _order: &str, _cents: u32) -> Result<String, String> {
        Err("no payment provider in tests: mock OrderActivities::charge".into())
    }
}

fn activities() -> OrderActivities {
    OrderActivities {
        payments: Arc::new(NoProvider),
    }
}

fn order(id: &str, approval_timeout_secs: u64) -> Order {
    Order {
        id: id.into(),
        cents: 4200,
        approval_timeout_secs,
    }
}

#[temporal_test(workflows(OrderWorkflow), activities(activities()))]
async fn an_approved_order_is_charged_once(runner: TestRunner) -> Result<(), RunnerError> {
    let charge = runner
        .mock(OrderActivities::charge)
        .once()
        .returns("receipt-o-1".to_string());
    let handle = runner.start(OrderWorkflow::run, order("o-1", 3600)).await?;
    handle
        .signal(OrderWorkflow::approve, (), WorkflowSignalOptions::default())
        .await
        .expect("signal");
    assert_eq!(runner.result(&handle).await?, "receipt-o-1");
    let status = handle
        .query(OrderWorkflow::status, (), WorkflowQueryOptions::default())
        .await
        .expect("query");
    assert_eq!(status, Some(Status::Completed));
    assert_eq!(charge.calls()[0].input, order("o-1", 3600));
    Ok(())
}

#[temporal_test(workflows(OrderWorkflow), activities(activities()), time_skipping)]
async fn an_order_nobody_approves_is_cancelled_after_three_days(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    runner.mock(OrderActivities::charge).never();
    // Three days of server time, skipped in well under a second.
    let outcome = runner
        .execute(OrderWorkflow::run, order("o-2", 3 * 24 * 3600))
        .await?;
    assert_eq!(outcome, "cancelled");
    Ok(())
}

#[temporal_test(workflows(OrderWorkflow), activities(activities()))]
async fn a_declined_payment_fails_the_order_after_three_attempts(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let charge = runner
        .mock(OrderActivities::charge)
        .times(3)
        .fails(MockFailure::retryable("card declined"));
    let handle = runner.start(OrderWorkflow::run, order("o-3", 3600)).await?;
    handle
        .signal(OrderWorkflow::approve, (), WorkflowSignalOptions::default())
        .await
        .expect("signal");
    let err = runner.result(&handle).await.unwrap_err();
    assert!(matches!(err, RunnerError::Failed { .. }), "{err}");
    let attempts: Vec<u32> = charge.calls().iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    Ok(())
}

#[temporal_test]
async fn orders_can_be_kept_in_the_app_database(runner: TestRunner) -> Result<(), RunnerError> {
    let db = runner.db().await?;
    let table = format!("orders_{}", std::process::id());
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY)"
    ))
    .execute(db)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO {table} VALUES ('o-4') ON CONFLICT DO NOTHING"
    ))
    .execute(db)
    .await?;
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(db)
        .await?;
    assert_eq!(n, 1);
    Ok(())
}

/// An activity of another crate (the service's library) is mocked by its marker like any
/// other; the rest stay real.
#[temporal_test(workflows(OrderWorkflow), activities(activities()))]
async fn an_activity_from_another_crate_can_be_mocked(runner: TestRunner) {
    runner
        .mock(OrderActivities::reserve)
        .fails(MockFailure::non_retryable("out of stock for o-fake"));
    let err = runner
        .execute(OrderWorkflow::run, order("o-fake", 3600))
        .await
        .unwrap_err();
    let RunnerError::Failed { failure, .. } = &err else {
        panic!("expected the order to fail, got {err}");
    };
    assert_eq!(
        failure.activity().map(|(ty, _)| ty),
        Some("OrderActivities::reserve")
    );
    assert!(err.to_string().contains("out of stock for o-fake"), "{err}");
}
