//! What a deploy of the next version does to orders in flight: each version continues an
//! order that the current version started, from every workflow-task boundary of its run
//! (`runner.upgrade_matrix`). The compatible change and the patched one continue everywhere;
//! the incompatible one breaks every order that already reserved its item.

mod versions;

use order_service::{Order, OrderWorkflow};
use temporal_harness::prelude::*;
use temporal_harness::runner::{Definitions, UpgradeMatrix, UpgradeOutcome};
use versions::{activities, compatible, incompatible, patched, Audit};

/// An order nobody approves: reserved, then cancelled after a day (skipped).
fn unapproved() -> Order {
    Order {
        id: "o-upgrade".into(),
        cents: 100,
        approval_timeout_secs: 24 * 3600,
    }
}

async fn matrix(runner: &TestRunner, next: Definitions) -> Result<UpgradeMatrix, RunnerError> {
    let current = Definitions::new()
        .workflow::<OrderWorkflow>()
        .activities(activities());
    let matrix = runner
        .upgrade_matrix(
            OrderWorkflow::run,
            unapproved(),
            current,
            next.activities(activities()),
        )
        .await?;
    eprintln!("{matrix}");
    Ok(matrix)
}

#[temporal_test(time_skipping)]
async fn a_new_query_upgrades_orders_in_flight_at_every_boundary(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let matrix = matrix(
        &runner,
        Definitions::new().workflow::<compatible::OrderWorkflow>(),
    )
    .await?;
    assert!(matrix.boundaries.len() >= 3, "{matrix}");
    matrix.assert_safe();
    Ok(())
}

#[temporal_test(time_skipping)]
async fn an_activity_inserted_before_the_reservation_breaks_orders_that_reserved(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let next = Definitions::new()
        .workflow::<incompatible::OrderWorkflow>()
        .activities(Audit);
    let matrix = matrix(&runner, next).await?;
    // From the start the new code runs whole; once the reservation is in the history, the new
    // code's audit comes first and cannot replay it.
    assert_eq!(
        matrix.boundaries[0].outcome,
        UpgradeOutcome::Completed,
        "{matrix}"
    );
    let broken = matrix
        .first_break()
        .expect("the change breaks orders in flight");
    assert_eq!(broken.task, 2, "{matrix}");
    let UpgradeOutcome::Nondeterminism { message } = &broken.outcome else {
        panic!("not a nondeterminism: {matrix}");
    };
    assert!(
        message.contains("OrderActivities::reserve") && message.contains("Audit::record"),
        "the message names the event and what the code did instead: {message}"
    );
    let unsafe_ = std::panic::catch_unwind(|| matrix.assert_safe()).expect_err("not safe");
    let said = unsafe_
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        said.contains("breaks it after workflow task 2") && said.contains("Fix:"),
        "{said}"
    );
    Ok(())
}

#[temporal_test(time_skipping)]
async fn the_same_change_behind_a_patch_upgrades_orders_in_flight(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let next = Definitions::new()
        .workflow::<patched::OrderWorkflow>()
        .activities(Audit);
    matrix(&runner, next).await?.assert_safe();
    Ok(())
}
