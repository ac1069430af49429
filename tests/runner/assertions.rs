//! The assertions users otherwise write by hand, on the real stack: a run's steps against a
//! readable expectation (and the diff when they differ), its memo and search attributes at
//! start and as upserted, and a pending activity's state between attempts.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;
use temporal_harness::prelude::*;
use temporal_harness::runner::MockFailure;
use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_common::protos::temporal::api::operatorservice::v1::AddSearchAttributesRequest;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_common::{MemoValue, RetryPolicy};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowResult};

/// A custom search attribute of the test's namespace (registered by the test).
const STAGE: SearchAttributeKey<String> = SearchAttributeKey::keyword("HarnessOrderStage");

pub struct Billing;

#[activities]
impl Billing {
    #[activity]
    pub async fn charge(_ctx: ActivityContext, cents: u32) -> Result<String, ActivityError> {
        Ok(format!("receipt-{cents}"))
    }
}

/// Notes its stage in the memo and a search attribute, charges (up to three attempts of at
/// most 2 s), waits 100 ms, then waits for approval.
#[workflow]
#[derive(Default)]
pub struct BillingWorkflow {
    approved: bool,
}

#[workflow_methods]
impl BillingWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, cents: u32) -> WorkflowResult<String> {
        ctx.upsert_memo([("stage", Some(MemoValue::new("charging".to_string())))])?;
        ctx.upsert_search_attributes([STAGE.value_set("charging".into())]);
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(2));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .backoff_coefficient(1.0)
                .maximum_attempts(3)
                .build(),
        );
        let receipt = ctx
            .execute_activity(Billing::charge, cents, options)
            .await?;
        ctx.timer(Duration::from_millis(100)).await;
        ctx.wait_condition(|s| s.approved).await?;
        ctx.upsert_memo([("stage", Some(MemoValue::new("approved".to_string())))])?;
        Ok(receipt)
    }

    #[signal]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        self.approved = true;
    }
}

#[temporal_test(
    workflows(BillingWorkflow),
    activities(Billing),
    namespace = "isolated"
)]
async fn steps_memo_search_attributes_and_a_pending_activity_read_as_they_happened(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    runner
        .client()
        .connection()
        .operator_service()
        .add_search_attributes(tonic::Request::new(AddSearchAttributesRequest {
            search_attributes: HashMap::from([(
                STAGE.name().to_string(),
                IndexedValueType::Keyword as i32,
            )]),
            namespace: runner.namespace().to_string(),
        }))
        .await
        .expect("the test's own namespace takes a custom search attribute");
    // Attempt 1 fails, attempt 2 stalls (ended by its 2 s timeout), attempt 3 answers.
    runner
        .mock(Billing::charge)
        .once()
        .fails(MockFailure::retryable("card declined"));
    runner.mock(Billing::charge).once().stalls();
    runner
        .mock(Billing::charge)
        .once()
        .returns("receipt-7".into());
    let handle = runner.start(BillingWorkflow::run, 7).await?;
    let id = handle.info().workflow_id.clone();

    let pending = runner
        .wait_for_pending_activity(&id, "Billing::charge", |a| a.attempt() == 2)
        .await?;
    assert_eq!(pending.last_failure(), Some("card declined"));
    assert!(
        matches!(
            pending.state(),
            PendingActivityState::Scheduled | PendingActivityState::Started
        ),
        "{:?}",
        pending.state()
    );

    // The signal arrives after the timer started, so the steps' order is fixed.
    runner.wait_for_event(&id, EventType::TimerStarted).await?;
    handle
        .signal(
            BillingWorkflow::approve,
            (),
            WorkflowSignalOptions::default(),
        )
        .await
        .expect("signal");
    assert_eq!(runner.result(&handle).await?, "receipt-7");

    let history = runner.history(&id).await?;
    history.assert_steps(&[
        Step::MemoUpserted(vec!["stage".into()]),
        Step::SearchAttributesUpserted(vec![STAGE.name().into()]),
        Step::activity(Billing::charge),
        Step::timer(Duration::from_millis(100)),
        Step::signal("approve"),
        Step::MemoUpserted(vec!["stage".into()]),
        Step::Completed,
    ]);
    assert!(history.memo_at_start().is_empty());
    assert_eq!(
        history.memo().get::<String>("stage").unwrap().as_deref(),
        Some("approved")
    );
    assert_eq!(
        history
            .search_attributes()
            .get::<String>(STAGE.name())
            .unwrap()
            .as_deref(),
        Some("charging")
    );
    assert!(history
        .search_attributes_at_start()
        .get::<String>(STAGE.name())
        .unwrap()
        .is_none());

    // An expectation that does not hold shows what differs, step by step.
    let wrong = catch_unwind(AssertUnwindSafe(|| {
        history.assert_steps(&[
            Step::activity(Billing::charge),
            Step::timer(Duration::from_secs(3600)),
            Step::Completed,
        ])
    }))
    .expect_err("a wrong expectation fails");
    let message = wrong.downcast_ref::<String>().expect("a formatted message");
    eprintln!("{message}");
    assert!(message.contains("-timer 1h\n+timer 100ms\n"), "{message}");
    assert!(message.contains("+signal approve\n"), "{message}");
    Ok(())
}
