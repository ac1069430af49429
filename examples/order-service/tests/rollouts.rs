//! Worker versioning on the real server: the order service's next version rolled out with
//! a Worker Deployment. Pinned orders in flight finish on the version they started on while
//! new ones start on the next; AutoUpgrade orders move at their next workflow task (unless a
//! versioning override pins them); a ramp sends new orders to both versions.

mod versions;

use order_service::{Order, OrderWorkflow};
use temporal_harness::prelude::*;
use temporal_harness::runner::{Definitions, History};
use temporalio_common::worker::VersioningBehavior;
use versions::{activities, compatible, incompatible, Audit};

fn order(id: &str, approval_timeout_secs: u64) -> Order {
    Order {
        id: id.into(),
        cents: 100,
        approval_timeout_secs,
    }
}

fn v1() -> Definitions {
    Definitions::new()
        .workflow::<OrderWorkflow>()
        .activities(activities())
}

/// The version that ran each workflow task of `history`.
fn ran(history: &History) -> Vec<String> {
    history
        .versions()
        .into_iter()
        .map(|v| v.unwrap_or_else(|| "unversioned".into()))
        .collect()
}

#[temporal_test(namespace = "isolated")]
async fn pinned_orders_in_flight_finish_on_v1_while_new_ones_start_on_an_incompatible_v2(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let deployment = runner.deployment();
    deployment
        .start_version("v1", v1(), VersioningBehavior::Pinned)
        .await?;
    deployment.set_current("v1").await?;
    let in_flight = runner.start(OrderWorkflow::run, order("o-1", 3600)).await?;
    runner
        .wait_for_event(&in_flight.info().workflow_id, EventType::TimerStarted)
        .await?;
    // The incompatible v2 (an audit before the reservation) becomes current.
    let v2 = Definitions::new()
        .workflow::<incompatible::OrderWorkflow>()
        .activities(activities())
        .activities(Audit);
    deployment
        .start_version("v2", v2, VersioningBehavior::Pinned)
        .await?;
    deployment.set_current("v2").await?;
    in_flight
        .signal(OrderWorkflow::approve, (), Default::default())
        .await
        .expect("approve");
    assert_eq!(runner.result(&in_flight).await?, "receipt-o-1");
    let old = runner.history(&in_flight.info().workflow_id).await?;
    // Reserve, timer, charge, complete: four workflow tasks, every one on v1.
    assert_eq!(ran(&old), ["v1"; 4], "pinned to v1");
    // A new order starts (and finishes) on v2, audit first.
    let fresh = runner.start(OrderWorkflow::run, order("o-2", 3600)).await?;
    fresh
        .signal(OrderWorkflow::approve, (), Default::default())
        .await
        .expect("approve");
    assert_eq!(runner.result(&fresh).await?, "receipt-o-2");
    let new = runner.history(&fresh.info().workflow_id).await?;
    // Every workflow task on v2 (how many depends on when the approval arrives).
    let on = ran(&new);
    assert!(
        !on.is_empty() && on.iter().all(|v| v == "v2"),
        "new orders on v2: {on:?}"
    );
    assert_eq!(new.scheduled_activities()[0], "Audit::record");
    Ok(())
}

#[temporal_test(namespace = "isolated")]
async fn auto_upgrade_orders_move_to_v2_at_their_next_task_unless_an_override_pins_them(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let deployment = runner.deployment();
    deployment
        .start_version("v1", v1(), VersioningBehavior::AutoUpgrade)
        .await?;
    deployment.set_current("v1").await?;
    let moving = runner.start(OrderWorkflow::run, order("o-3", 3600)).await?;
    let pinned = runner.start(OrderWorkflow::run, order("o-4", 3600)).await?;
    for handle in [&moving, &pinned] {
        runner
            .wait_for_event(&handle.info().workflow_id, EventType::TimerStarted)
            .await?;
    }
    deployment
        .override_versioning(&pinned.info().workflow_id, Some("v1"))
        .await?;
    // The compatible v2 (a new query) becomes current.
    let v2 = Definitions::new()
        .workflow::<compatible::OrderWorkflow>()
        .activities(activities());
    deployment
        .start_version("v2", v2, VersioningBehavior::AutoUpgrade)
        .await?;
    deployment.set_current("v2").await?;
    for handle in [&moving, &pinned] {
        handle
            .signal(OrderWorkflow::approve, (), Default::default())
            .await
            .expect("approve");
        runner.result(handle).await?;
    }
    // Reserve and timer on v1, then the approval and the charge on v2.
    let moved = ran(&runner.history(&moving.info().workflow_id).await?);
    assert_eq!(moved, ["v1", "v1", "v2", "v2"]);
    let stayed = ran(&runner.history(&pinned.info().workflow_id).await?);
    assert_eq!(stayed, ["v1"; 4], "the override pinned it to v1");
    Ok(())
}

#[temporal_test(namespace = "isolated")]
async fn a_half_ramp_sends_new_orders_to_both_versions(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let deployment = runner.deployment();
    deployment
        .start_version("v1", v1(), VersioningBehavior::Pinned)
        .await?;
    let v2 = Definitions::new()
        .workflow::<compatible::OrderWorkflow>()
        .activities(activities());
    deployment
        .start_version("v2", v2, VersioningBehavior::Pinned)
        .await?;
    deployment.set_current("v1").await?;
    deployment.set_ramping("v2", 50.0).await?;
    // 40 orders nobody approves, cancelled at once (a zero timeout): which version each
    // starts on is a hash of its ID, so both get some (all on one: odds of 2 in 2^40).
    let mut first_tasks = Vec::new();
    for i in 0..40 {
        let handle = runner
            .start(OrderWorkflow::run, order(&format!("r-{i}"), 0))
            .await?;
        assert_eq!(runner.result(&handle).await?, "cancelled");
        let history = runner.history(&handle.info().workflow_id).await?;
        first_tasks.push(ran(&history)[0].clone());
    }
    let on_v2 = first_tasks.iter().filter(|v| *v == "v2").count();
    let on_v1 = first_tasks.iter().filter(|v| *v == "v1").count();
    eprintln!("40 new orders under a 50 % ramp: {on_v1} on v1, {on_v2} on v2");
    assert_eq!(on_v1 + on_v2, 40, "{first_tasks:?}");
    assert!(on_v1 > 0 && on_v2 > 0, "{first_tasks:?}");
    Ok(())
}

/// The server learns a version from its worker's first poll; one never started is refused
/// once the test's wait limit (half its timeout here) has passed.
#[temporal_test(timeout = "10s", namespace = "isolated")]
async fn a_version_never_started_and_a_ramp_above_100_are_refused(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let deployment = runner.deployment();
    let err = deployment
        .set_current("v9")
        .await
        .expect_err("v9 never polled");
    eprintln!("{err}");
    assert!(
        err.to_string().contains("version v9 of") && err.to_string().contains("Fix:"),
        "{err}"
    );
    let err = deployment
        .set_ramping("v1", 150.0)
        .await
        .expect_err("a ramp above 100 %");
    assert!(err.to_string().contains("expected 0 to 100"), "{err}");
    Ok(())
}

/// A history recorded from a versioned worker keeps its version: the replay gate reports it
/// per version (`OrderWorkflow@v1` in the trial name) and replays it against that version.
#[test]
fn a_recorded_history_keeps_the_version_that_ran_it() {
    use temporal_harness::__private::{run_test, TestOptions};
    let corpus = std::env::temp_dir().join(format!("order-versions-{}", std::process::id()));
    run_test(
        TestOptions::new("rollouts::recorded")
            .record(&corpus)
            .isolated_namespace(),
        Definitions::new(),
        |runner: TestRunner| {
            Box::pin(async move {
                let deployment = runner.deployment();
                deployment
                    .start_version("v1", v1(), VersioningBehavior::Pinned)
                    .await
                    .unwrap();
                deployment.set_current("v1").await.unwrap();
                let outcome = runner.execute(OrderWorkflow::run, order("o-rec", 0)).await;
                assert_eq!(outcome.unwrap(), "cancelled");
            })
        },
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let checked = runtime.block_on(temporal_harness::replay::check(&corpus, &v1()));
    std::fs::remove_dir_all(&corpus).ok();
    assert_eq!(checked.len(), 1, "{checked:?}");
    assert_eq!(checked[0].version.as_deref(), Some("v1"));
    assert!(
        checked[0].trial.contains("/OrderWorkflow@v1/"),
        "{}",
        checked[0].trial
    );
    assert!(checked[0].failure.is_none(), "{:?}", checked[0].failure);
}
