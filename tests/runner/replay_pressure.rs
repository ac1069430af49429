//! Replay pressure (`#[temporal_test(replay_pressure)]`): without a workflow cache every
//! workflow task replays the workflow from its start, as after a cache eviction. A workflow
//! deterministic only while it stays cached passes a normal test (its live run and the
//! end-of-test replay) and fails under replay pressure, naming the nondeterminism.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use temporal_harness::__private::{run_test, TestOptions};
use temporal_harness::prelude::*;
use temporal_harness::runner::Definitions;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};

/// Workflows this process has "set up": a process-local memo, the bug under test.
static SET_UP: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

pub struct Setup;

#[activities]
impl Setup {
    #[activity]
    pub async fn prepare(_ctx: ActivityContext, _unit: ()) -> Result<(), ActivityError> {
        Ok(())
    }
}

/// Sets up once per workflow, remembering in process memory that it did; forgets at the end.
/// Cached, its code runs once and is consistent; replayed from the start mid-run (after an
/// eviction), it finds itself "set up" and skips the activity its history has.
#[workflow]
#[derive(Default)]
pub struct MemoizedSetupWorkflow;

#[workflow_methods]
impl MemoizedSetupWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
        let id = ctx.workflow_id().to_string();
        let fresh = SET_UP.lock().unwrap().insert(id.clone());
        if fresh {
            ctx.execute_activity(
                Setup::prepare,
                (),
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        }
        ctx.timer(Duration::from_millis(100)).await;
        SET_UP.lock().unwrap().remove(&id);
        Ok("set up".into())
    }
}

/// Never under replay pressure (not even when the environment asks for it for the suite):
/// this test shows what a normal test does not catch.
#[temporal_test(
    workflows(MemoizedSetupWorkflow),
    activities(Setup),
    replay_pressure = false
)]
async fn a_workflow_deterministic_only_while_cached_passes_a_normal_test(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    assert_eq!(
        runner.execute(MemoizedSetupWorkflow::run, ()).await?,
        "set up"
    );
    Ok(())
}

#[test]
fn under_replay_pressure_the_same_workflow_fails_naming_the_nondeterminism() {
    let failure = std::sync::Arc::new(Mutex::new(None));
    let seen = failure.clone();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run_test(
            // No end-of-test replay: the broken run's memo was never cleared, so a replay
            // would fail too and hide what this test checks (the live run's failure).
            TestOptions::new("replay_pressure::caught")
                .replay_pressure(true)
                .replay(false),
            Definitions::new()
                .workflow::<MemoizedSetupWorkflow>()
                .activities(Setup),
            move |runner: TestRunner| {
                Box::pin(async move {
                    let err = runner
                        .execute(MemoizedSetupWorkflow::run, ())
                        .await
                        .expect_err("a nondeterministic replay fails the workflow");
                    *seen.lock().unwrap() = Some(format!("{err}\n{err:?}"));
                })
            },
        )
    }));
    assert!(outcome.is_ok(), "the test body itself failed");
    let failure = failure.lock().unwrap().take().expect("the body ran");
    eprintln!("{failure}");
    assert!(failure.contains("Nondeterminism"), "{failure}");
}
