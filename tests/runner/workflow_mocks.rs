//! Child workflow mocks (`runner.mock_workflow(..)`) on the real stack: the mock answers in
//! place of the child's code while the parent's history still shows a real child; `.after(d)`
//! is the child's own workflow time (skipped under time skipping); failures reach the parent
//! as a child failure; an unmet or unexpected run fails the test saying what was expected.

use std::time::Duration;
use temporal_harness::__private::TestOptions;
use temporal_harness::prelude::*;
use temporal_harness::runner::{Definitions, MockCall, MockFailure};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, ChildWorkflowOptions, WorkflowContext, WorkflowResult};

const DAY: Duration = Duration::from_secs(24 * 3600);

pub struct Grading;

#[activities]
impl Grading {
    /// The real child's work: the mocked child must never get here.
    #[activity]
    pub async fn grade(_ctx: ActivityContext, days: u32) -> Result<String, ActivityError> {
        Ok(format!("graded after {days} days"))
    }
}

/// The child: waits `days`, then grades the trial in an activity.
#[workflow]
#[derive(Default)]
pub struct GradedTrialWorkflow;

#[workflow_methods]
impl GradedTrialWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, days: u32) -> WorkflowResult<String> {
        ctx.timer(DAY * days).await;
        Ok(ctx
            .execute_activity(
                Grading::grade,
                days,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(5)),
            )
            .await?)
    }
}

/// The parent: one child per entry of `trials` (its length in days), then their results.
#[workflow]
#[derive(Default)]
pub struct EnrolmentWorkflow;

#[workflow_methods]
impl EnrolmentWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, trials: Vec<u32>) -> WorkflowResult<String> {
        let mut outcomes = Vec::new();
        for (i, days) in trials.into_iter().enumerate() {
            let child = ctx
                .start_child_workflow(
                    GradedTrialWorkflow::run,
                    days,
                    ChildWorkflowOptions::workflow_id(format!("{}-trial-{i}", ctx.workflow_id())),
                )
                .await?;
            outcomes.push(child.result().await?);
        }
        Ok(outcomes.join("; "))
    }
}

#[temporal_test(workflows(EnrolmentWorkflow, GradedTrialWorkflow), activities(Grading))]
async fn a_mocked_child_answers_in_place_of_its_code_and_the_parent_sees_a_real_child(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let trial = runner
        .mock_workflow(GradedTrialWorkflow::run)
        .returns_with(|days| format!("mocked {days}-day trial"));
    let outcome = runner.execute(EnrolmentWorkflow::run, vec![30, 7]).await?;
    assert_eq!(outcome, "mocked 30-day trial; mocked 7-day trial");
    let parent = runner.started_workflows()[0].clone();
    assert_eq!(
        trial.calls(),
        [
            MockCall {
                input: 30,
                attempt: 1,
                workflow_id: Some(format!("{parent}-trial-0"))
            },
            MockCall {
                input: 7,
                attempt: 1,
                workflow_id: Some(format!("{parent}-trial-1"))
            },
        ]
    );
    // The parent's history is the one a real child gives: started, then completed.
    runner.history(&parent).await?.assert_steps(&[
        Step::child(GradedTrialWorkflow::run),
        Step::child(GradedTrialWorkflow::run),
        Step::Completed,
    ]);
    let parent_history = runner.history(&parent).await?;
    assert_eq!(
        parent_history.count(EventType::ChildWorkflowExecutionCompleted),
        2
    );
    // The child ran as a workflow of its own, but none of its code: no timer, no activity.
    let child = runner.history(&format!("{parent}-trial-0")).await?;
    child.assert_steps(&[Step::Completed]);
    assert_eq!(
        runner.mocked_call_order(),
        ["GradedTrialWorkflow", "GradedTrialWorkflow"]
    );
    Ok(())
}

#[temporal_test(
    workflows(EnrolmentWorkflow, GradedTrialWorkflow),
    activities(Grading),
    time_skipping = "server"
)]
async fn a_mocked_child_answers_after_a_delay_in_its_own_skipped_time(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    // The second trial runs its real code (a 2-day timer and the activity).
    runner
        .mock_workflow(GradedTrialWorkflow::run)
        .once()
        .after(DAY * 90)
        .returns("mocked after a quarter".to_string());
    runner.mock_workflow(GradedTrialWorkflow::run).once();
    let outcome = runner.execute(EnrolmentWorkflow::run, vec![1, 2]).await?;
    assert_eq!(outcome, "mocked after a quarter; graded after 2 days");
    let parent = runner.started_workflows()[0].clone();
    let mocked = runner.history(&format!("{parent}-trial-0")).await?;
    mocked.assert_steps(&[Step::timer(DAY * 90), Step::Completed]);
    let real = runner.history(&format!("{parent}-trial-1")).await?;
    real.assert_steps(&[
        Step::timer(DAY * 2),
        Step::activity(Grading::grade),
        Step::Completed,
    ]);
    Ok(())
}

#[temporal_test(workflows(EnrolmentWorkflow, GradedTrialWorkflow), activities(Grading))]
async fn a_failing_mocked_child_fails_the_parent_with_its_error_type(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    runner
        .mock_workflow(GradedTrialWorkflow::run)
        .fails(MockFailure::non_retryable("no seats").with_type("NoSeats"));
    let err = runner
        .execute(EnrolmentWorkflow::run, vec![3])
        .await
        .expect_err("the child failed");
    let RunnerError::Failed { failure, .. } = &err else {
        panic!("not a workflow failure: {err:?}");
    };
    let parent = runner.started_workflows()[0].clone();
    assert_eq!(
        failure.child_workflow(),
        Some(("GradedTrialWorkflow", format!("{parent}-trial-0").as_str()))
    );
    assert_eq!(failure.error_type(), Some("NoSeats"));
    Ok(())
}

/// Runs `body` as a whole harness test of these workflows; returns its failure message.
fn failure_of<F>(name: &'static str, body: F) -> String
where
    F: FnOnce(TestRunner) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
{
    let definitions = Definitions::new()
        .workflow::<EnrolmentWorkflow>()
        .workflow::<GradedTrialWorkflow>()
        .activities(Grading);
    crate::failure_message(TestOptions::new(name), definitions, body)
}

#[test]
fn a_child_started_more_often_than_its_mocks_expect_fails_the_test() {
    let message = failure_of("workflow_mocks::unexpected", |runner| {
        Box::pin(async move {
            runner
                .mock_workflow(GradedTrialWorkflow::run)
                .once()
                .returns("only one".to_string());
            let err = runner
                .execute(EnrolmentWorkflow::run, vec![1, 2])
                .await
                .expect_err("the second child had no mock with room");
            assert!(
                format!("{err:?}").contains("TemporalHarnessUnexpectedMockCall"),
                "{err:?}"
            );
        })
    });
    eprintln!("{message}");
    assert!(message.contains("mocks not met"), "{message}");
    assert!(
        message.contains("workflow GradedTrialWorkflow: 2 call(s) seen, 1 of them unexpected"),
        "{message}"
    );
    assert!(message.contains("Fix:"), "{message}");
}

#[test]
fn a_mocked_child_never_started_fails_the_test() {
    let message = failure_of("workflow_mocks::unmet", |runner| {
        Box::pin(async move {
            runner
                .mock_workflow(GradedTrialWorkflow::run)
                .times(2)
                .returns("x".to_string());
            // No trials: no child at all.
            runner
                .execute(EnrolmentWorkflow::run, vec![])
                .await
                .unwrap();
        })
    });
    eprintln!("{message}");
    assert!(
        message.contains("workflow GradedTrialWorkflow: 0 call(s) seen")
            && message
                .contains("mock 1 (returns a value): expected exactly 2 calls, served 0 [NOT MET]"),
        "{message}"
    );
}
