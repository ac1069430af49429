//! The order service's workflow, tested as a service repository would: real Temporal on real
//! PostgreSQL, a fake payment provider, time skipping for the approval timeout.

use order_service::{Order, OrderActivities, OrderWorkflow, Payments, Status};
use std::sync::{Arc, Mutex};
use temporal_harness::runner::RunnerError;
use temporal_harness::{temporal_test, TestRunner};
use temporalio_client::{WorkflowQueryOptions, WorkflowSignalOptions};

/// Records charges; refuses them when `refuse` is set.
#[derive(Default)]
struct FakePayments {
    charged: Mutex<Vec<(String, u32)>>,
    refuse: bool,
}

impl Payments for FakePayments {
    fn charge(&self, order: &str, cents: u32) -> Result<String, String> {
        if self.refuse {
            return Err("card declined".into());
        }
        self.charged.lock().unwrap().push((order.into(), cents));
        Ok(format!("receipt-{order}"))
    }
}

fn activities(payments: Arc<FakePayments>) -> OrderActivities {
    OrderActivities { payments }
}

fn order(id: &str, approval_timeout_secs: u64) -> Order {
    Order {
        id: id.into(),
        cents: 4200,
        approval_timeout_secs,
    }
}

static APPROVED: std::sync::LazyLock<Arc<FakePayments>> =
    std::sync::LazyLock::new(Default::default);

#[temporal_test(workflows(OrderWorkflow), activities(activities(APPROVED.clone())))]
async fn an_approved_order_is_charged_once(runner: TestRunner) -> Result<(), RunnerError> {
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
    assert_eq!(
        *APPROVED.charged.lock().unwrap(),
        [("o-1".to_string(), 4200)]
    );
    runner
        .history(&runner.started_workflows()[0])
        .await?
        .assert_activity_completed("OrderActivities::charge", 1);
    Ok(())
}

#[temporal_test(
    workflows(OrderWorkflow),
    activities(activities(Arc::default())),
    time_skipping
)]
async fn an_order_nobody_approves_is_cancelled_after_three_days(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    // Three days of server time, skipped in well under a second.
    let outcome = runner
        .execute(OrderWorkflow::run, order("o-2", 3 * 24 * 3600))
        .await?;
    assert_eq!(outcome, "cancelled");
    Ok(())
}

#[temporal_test(
    workflows(OrderWorkflow),
    activities(activities(Arc::new(FakePayments { refuse: true, ..Default::default() })))
)]
async fn a_declined_payment_fails_the_order_after_three_attempts(runner: TestRunner) {
    let handle = runner
        .start(OrderWorkflow::run, order("o-3", 3600))
        .await
        .unwrap();
    handle
        .signal(OrderWorkflow::approve, (), WorkflowSignalOptions::default())
        .await
        .unwrap();
    let err = runner.result(&handle).await.unwrap_err();
    assert!(matches!(err, RunnerError::Failed { .. }), "{err}");
    let history = runner
        .history(&runner.started_workflows()[0])
        .await
        .unwrap();
    assert_eq!(history.activity_completions("OrderActivities::charge"), 0);
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

/// A fake of one activity defined in another crate (the service's library). The SDK keeps
/// the marker that `#[activity(definition = order_service::...)]` needs in a private module,
/// so across crates a fake names the activity by its type name instead; listed after the real
/// implementer, it replaces that one activity and leaves the others real.
// The macro's marker constant for `reserve` is unused: the fake is found by its name.
#[allow(dead_code)]
mod fakes {
    use temporalio_sdk::activities::{ActivityContext, ActivityError};

    pub struct FailingReservations;

    #[temporalio_macros::activities]
    impl FailingReservations {
        #[activity(name = "OrderActivities::reserve")]
        async fn reserve(_ctx: ActivityContext, order_id: String) -> Result<String, ActivityError> {
            Err(anyhow::anyhow!("out of stock for {order_id}").into())
        }
    }
}
use fakes::FailingReservations;

#[temporal_test(
    workflows(OrderWorkflow),
    activities(activities(APPROVED.clone()), FailingReservations)
)]
async fn an_activity_from_another_crate_can_be_faked_by_name(runner: TestRunner) {
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
