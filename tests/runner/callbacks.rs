//! Callbacks at a point in a workflow's time (`runner.at(..)`, `runner.on_event(..)`) on the
//! real stack: fired exactly at their instant, or right after their event, in skipped time
//! (real server and Java test server), in real time without time skipping, in the order of
//! their instants; one that cannot fire (its workflow closed first) fails the test saying so.

use crate::time_skipping::{ApprovalWorkflow, TrialWorkflow};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use temporal_harness::__private::TestOptions;
use temporal_harness::prelude::*;
use temporal_harness::runner::{Definitions, TimeSkippingMode};
use temporalio_client::{WorkflowSignalOptions, WorkflowTerminateOptions};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowResult};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Seconds from the history's first event to the first event of type `ty`, in the
/// workflow's own (skipped) time.
fn seconds_to(history: &History, ty: EventType) -> i64 {
    let time = |e: &HistoryEvent| e.event_time.as_ref().map_or(0, |t| t.seconds);
    let start = history.events().first().map_or(0, time);
    let event = history
        .events()
        .iter()
        .find(|e| e.event_type() == ty)
        .unwrap_or_else(|| panic!("no {ty:?} in\n{}", history.render()));
    time(event) - start
}

/// The approval comes an hour into the workflow's skipped time: before its one-day timer, so
/// the workflow is approved, and the signal's event is an hour (not a day) after the start.
async fn approval_an_hour_in(runner: TestRunner) -> Result<(), RunnerError> {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    runner.at(&handle, HOUR, |handle| async move {
        handle
            .signal(
                ApprovalWorkflow::approve,
                (),
                WorkflowSignalOptions::default(),
            )
            .await
    });
    assert_eq!(runner.result(&handle).await?, "approved");
    let history = runner.history(&handle.info().workflow_id).await?;
    let at = seconds_to(&history, EventType::WorkflowExecutionSignaled);
    assert!(
        (3600..DAY.as_secs() as i64).contains(&at),
        "signalled {at} s into the workflow's time, not at its hour"
    );
    Ok(())
}

#[temporal_test(workflows(ApprovalWorkflow), time_skipping = "server")]
async fn a_signal_fires_an_hour_into_skipped_time(runner: TestRunner) -> Result<(), RunnerError> {
    approval_an_hour_in(runner).await
}

#[temporal_test(workflows(ApprovalWorkflow), time_skipping = "test-server")]
async fn a_signal_fires_an_hour_into_the_test_servers_time(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    approval_an_hour_in(runner).await
}

#[temporal_test(workflows(TrialWorkflow), time_skipping = "server")]
async fn callbacks_fire_in_the_order_of_their_instants_and_may_terminate(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let handle = runner.start(TrialWorkflow::run, 30).await?;
    let id = handle.info().workflow_id.clone();
    let fired = Arc::new(Mutex::new(Vec::new()));
    // Registered out of order: day 1 must still come first, and the termination at day 2
    // ends the 30-day trial long before its timer.
    let log = fired.clone();
    runner.at(&handle, DAY * 2, move |handle| async move {
        log.lock().unwrap().push("day 2");
        handle.terminate(WorkflowTerminateOptions::default()).await
    });
    let log = fired.clone();
    runner.at(&handle, DAY, move |_| async move {
        log.lock().unwrap().push("day 1");
        Ok::<_, RunnerError>(())
    });
    let err = runner.result(&handle).await.expect_err("terminated");
    assert!(
        format!("{err:?}").to_lowercase().contains("terminat"),
        "{err:?}"
    );
    let at = seconds_to(
        &runner.history(&id).await?,
        EventType::WorkflowExecutionTerminated,
    );
    assert!(
        (2 * 86_400..30 * 86_400).contains(&at),
        "terminated {at} s into the trial"
    );
    assert_eq!(*fired.lock().unwrap(), ["day 1", "day 2"]);
    Ok(())
}

#[temporal_test(workflows(ApprovalWorkflow))]
async fn without_time_skipping_a_callback_fires_in_real_time(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    runner.at(&handle, Duration::from_millis(200), |handle| async move {
        handle
            .signal(
                ApprovalWorkflow::approve,
                (),
                WorkflowSignalOptions::default(),
            )
            .await
    });
    assert_eq!(runner.result(&handle).await?, "approved");
    let history = runner.history(&handle.info().workflow_id).await?;
    assert!(history.has(EventType::WorkflowExecutionSignaled));
    Ok(())
}

#[test]
fn a_callback_whose_workflow_closed_first_fails_the_test() {
    let message = crate::failure_message(
        TestOptions::new("callbacks::closed_first").time_skipping_mode(TimeSkippingMode::Server),
        Definitions::new().workflow::<TrialWorkflow>(),
        |runner: TestRunner| {
            Box::pin(async move {
                let handle = runner.start(TrialWorkflow::run, 1).await.unwrap();
                // The trial is over after a day; a callback two days in comes too late.
                runner.at(&handle, DAY * 2, |handle| async move {
                    handle.terminate(WorkflowTerminateOptions::default()).await
                });
                runner.result(&handle).await.unwrap();
            })
        },
    );
    eprintln!("{message}");
    assert!(
        message.contains("callbacks at a workflow time did not all run"),
        "{message}"
    );
    assert!(
        message.contains("at 172800s into")
            && message.contains("Completed before the callback could fire"),
        "{message}"
    );
    assert!(message.contains("Fix:"), "{message}");
}

#[temporal_test(workflows(ApprovalWorkflow), time_skipping = "server")]
async fn a_sleep_past_the_instant_fires_the_callback_on_the_way(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    runner.at(&handle, HOUR, |handle| async move {
        handle
            .signal(
                ApprovalWorkflow::approve,
                (),
                WorkflowSignalOptions::default(),
            )
            .await
    });
    runner.sleep(HOUR * 2).await?;
    let history = runner.history(&handle.info().workflow_id).await?;
    let at = seconds_to(&history, EventType::WorkflowExecutionSignaled);
    assert!((3600..7200).contains(&at), "signalled {at} s in");
    assert_eq!(runner.result(&handle).await?, "approved");
    Ok(())
}

/// An hour's cooling-off, then an approval within a day, or it expires.
#[workflow]
#[derive(Default)]
pub struct CoolingOffWorkflow {
    approved: bool,
}

#[workflow_methods]
impl CoolingOffWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
        ctx.timer(HOUR).await;
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

/// The cooling-off timer fires an hour in; the approval must come right after it, before the
/// day-long expiry: skipping that jumped ahead would find the workflow expired.
#[temporal_test(workflows(CoolingOffWorkflow), time_skipping = "server")]
async fn an_event_callback_fires_right_after_its_event_in_skipped_time(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let handle = runner.start(CoolingOffWorkflow::run, ()).await?;
    runner
        .on_event(&handle, EventType::TimerFired, |handle| async move {
            handle
                .signal(
                    CoolingOffWorkflow::approve,
                    (),
                    WorkflowSignalOptions::default(),
                )
                .await
        })
        .await?;
    assert_eq!(runner.result(&handle).await?, "approved");
    let history = runner.history(&handle.info().workflow_id).await?;
    let fired = seconds_to(&history, EventType::TimerFired);
    let signalled = seconds_to(&history, EventType::WorkflowExecutionSignaled);
    assert!(fired >= 3600, "the cooling-off hour: {fired} s");
    assert!(
        (fired..fired + 60).contains(&signalled),
        "signalled {signalled} s in, right after the timer fired at {fired} s"
    );
    Ok(())
}

#[temporal_test(workflows(ApprovalWorkflow))]
async fn without_time_skipping_an_event_callback_fires_in_real_time(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let handle = runner.start(ApprovalWorkflow::run, ()).await?;
    runner
        .on_event(&handle, EventType::TimerStarted, |handle| async move {
            handle
                .signal(
                    ApprovalWorkflow::approve,
                    (),
                    WorkflowSignalOptions::default(),
                )
                .await
        })
        .await?;
    assert_eq!(runner.result(&handle).await?, "approved");
    Ok(())
}
