//! What the replay gate catches, on the recorded corpus: the next version of `OrderWorkflow`
//! three ways. A compatible change (a new query) passes; an incompatible one (an audit activity
//! before the reservation) fails naming the event; the same change behind `patched()` passes
//! the old histories, and both of its sides run on the real stack (`patches = "on"`/`"off"`).

mod versions;

use order_service::Order;
use temporal_harness::replay;
use temporal_harness::runner::{Definitions, RunnerError};
use temporal_harness::{temporal_test, TestRunner};
use versions::{activities, compatible, incompatible, patched, Audit};

const CORPUS: &str = "fixtures/histories";

/// The replay gate over the corpus with `definitions`: `(passed, failed)`.
fn gate(definitions: fn() -> Definitions) -> (usize, usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let checked = runtime.block_on(replay::check(CORPUS, &definitions()));
    let failed = checked.iter().filter(|c| c.failure.is_some()).count();
    (checked.len() - failed, failed)
}

#[test]
fn the_corpus_replays_against_a_compatible_change() {
    let (passed, failed) = gate(|| Definitions::new().workflow::<compatible::OrderWorkflow>());
    assert!(passed > 0, "the corpus has histories");
    assert_eq!(failed, 0);
}

#[test]
fn an_incompatible_change_fails_the_gate_naming_the_event() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let checked = runtime.block_on(replay::check(
        format!("{CORPUS}/orders/an_approved_order_is_charged_once"),
        &Definitions::new().workflow::<incompatible::OrderWorkflow>(),
    ));
    let message = checked[0]
        .failure
        .as_ref()
        .expect("the gate fails it")
        .to_string();
    eprintln!("the gate says: {message}");
    // Where: the first workflow task, which recorded the reservation...
    assert!(
        message.contains(
            "diverges at the workflow task completed in event 5, after which the \
             history recorded event 6 ActivityTaskScheduled OrderActivities::reserve"
        ),
        "{message}"
    );
    // ...and what the code did instead.
    assert!(
        message.contains("activity command 'Audit::record'"),
        "{message}"
    );
    let (passed, failed) = gate(|| Definitions::new().workflow::<incompatible::OrderWorkflow>());
    assert_eq!(passed, 0, "every history has the old first step");
    assert!(failed > 0);
}

#[test]
fn the_same_change_behind_a_patch_passes_the_old_histories() {
    let (passed, failed) = gate(|| Definitions::new().workflow::<patched::OrderWorkflow>());
    assert!(passed > 0);
    assert_eq!(failed, 0);
}

/// Runs an unapproved order (cancelled after a second) through the patched version; returns
/// the activities its history scheduled.
async fn scheduled_by_a_fresh_order(
    runner: &TestRunner,
    id: &str,
) -> Result<Vec<String>, RunnerError> {
    let order = Order {
        id: id.into(),
        cents: 100,
        approval_timeout_secs: 1,
    };
    assert_eq!(
        runner.execute(patched::OrderWorkflow::run, order).await?,
        "cancelled"
    );
    let history = runner.history(&runner.started_workflows()[0]).await?;
    Ok(history
        .scheduled_activities()
        .into_iter()
        .map(String::from)
        .collect())
}

/// The patch's new side: a fresh workflow takes the audit step, on the real stack.
#[temporal_test(
    workflows(patched::OrderWorkflow),
    activities(activities(), Audit),
    patches = "on"
)]
async fn a_new_workflow_takes_the_patched_path(runner: TestRunner) -> Result<(), RunnerError> {
    assert_eq!(
        scheduled_by_a_fresh_order(&runner, "p-1").await?,
        ["Audit::record", "OrderActivities::reserve"]
    );
    Ok(())
}

/// The patch's old side, live: with every patch off, a fresh workflow runs the code path the
/// old histories have (and the end-of-test replay checks it against the new code).
#[temporal_test(
    workflows(patched::OrderWorkflow),
    activities(activities(), Audit),
    patches = "off"
)]
async fn with_patches_off_a_new_workflow_takes_the_old_path(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    assert_eq!(
        scheduled_by_a_fresh_order(&runner, "p-2").await?,
        ["OrderActivities::reserve"]
    );
    Ok(())
}
