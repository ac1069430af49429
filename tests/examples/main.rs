//! Example tests: each shows one thing a Temporal test needs, on the real stack. Read them as
//! documentation; `workflows.rs` holds the (ordinary SDK) code under test.

// FakeGreeter's activity is reached by the name it shares with Greeter::greet, so its
// generated marker constant is never used by name.
#[allow(dead_code)]
mod workflows;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use temporal_harness::runner::{Definitions, Outcome, RunnerError};
use temporal_harness::{temporal_test, TestRunner};
use temporalio_client::{
    WorkflowCancelOptions, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    WorkflowQueryOptions, WorkflowSignalOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use workflows::*;

#[temporal_test(workflows(GreetWorkflow), activities(Greeter))]
async fn workflow_with_an_activity(runner: TestRunner) -> Result<(), RunnerError> {
    let greeting = runner
        .execute(GreetWorkflow::run, "Temporal".to_string())
        .await?;
    assert_eq!(greeting, "Hello, Temporal!");

    let history = runner.history(&runner.started_workflows()[0]).await?;
    history.assert_activity_completed("Greeter::greet", 1);
    history.assert_event_types_in_order(&[
        EventType::WorkflowExecutionStarted,
        EventType::ActivityTaskScheduled,
        EventType::ActivityTaskCompleted,
        EventType::WorkflowExecutionCompleted,
    ]);
    Ok(())
}

#[temporal_test(workflows(GreetWorkflow), activities(Greeter))]
async fn activity_logs_are_captured_for_the_test(runner: TestRunner) -> Result<(), RunnerError> {
    runner
        .execute(GreetWorkflow::run, "logs".to_string())
        .await?;
    // The activity ran on the worker's own thread; its events are the test's all the same.
    runner.assert_logs_contain("greeting name=logs");
    Ok(())
}

#[temporal_test(workflows(GreetWorkflow), activities(Greeter, FakeGreeter))]
async fn one_activity_swapped_for_a_fake(runner: TestRunner) -> Result<(), RunnerError> {
    let greeting = runner
        .execute(GreetWorkflow::run, "Temporal".to_string())
        .await?;
    assert_eq!(greeting, "Fake hello, Temporal!");
    Ok(())
}

#[temporal_test(workflows(CollectorWorkflow))]
async fn signal_and_query(runner: TestRunner) -> Result<(), Box<dyn std::error::Error>> {
    let handle = runner.start(CollectorWorkflow::run, 3).await?;
    for value in [1, 2] {
        handle
            .signal(
                CollectorWorkflow::add,
                value,
                WorkflowSignalOptions::default(),
            )
            .await?;
    }
    let seen = handle
        .query(
            CollectorWorkflow::values,
            (),
            WorkflowQueryOptions::default(),
        )
        .await?;
    assert_eq!(seen, vec![1, 2]);
    handle
        .signal(CollectorWorkflow::add, 3, WorkflowSignalOptions::default())
        .await?;
    assert_eq!(
        handle
            .get_result(WorkflowGetResultOptions::default())
            .await?,
        vec![1, 2, 3]
    );
    Ok(())
}

#[temporal_test(workflows(CollectorWorkflow))]
async fn update(runner: TestRunner) -> Result<(), Box<dyn std::error::Error>> {
    let handle = runner.start(CollectorWorkflow::run, 2).await?;
    let sum = handle
        .execute_update(
            CollectorWorkflow::add_and_sum,
            40,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await?;
    assert_eq!(sum, 40);
    let sum = handle
        .execute_update(
            CollectorWorkflow::add_and_sum,
            2,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await?;
    assert_eq!(sum, 42);
    assert_eq!(
        handle
            .get_result(WorkflowGetResultOptions::default())
            .await?,
        vec![40, 2]
    );
    Ok(())
}

#[temporal_test(workflows(ParentWorkflow, GreetWorkflow), activities(Greeter))]
async fn child_workflows(runner: TestRunner) -> Result<(), RunnerError> {
    let names = vec!["Ada".to_string(), "Grace".to_string()];
    let greetings = runner.execute(ParentWorkflow::run, names).await?;
    assert_eq!(greetings, vec!["Hello, Ada!", "Hello, Grace!"]);
    let history = runner.history(&runner.started_workflows()[0]).await?;
    assert_eq!(history.count(EventType::ChildWorkflowExecutionCompleted), 2);
    Ok(())
}

#[temporal_test(workflows(TimerWorkflow))]
async fn durable_timer(runner: TestRunner) -> Result<(), RunnerError> {
    assert_eq!(runner.execute(TimerWorkflow::run, 50).await?, "fired");
    let history = runner.history(&runner.started_workflows()[0]).await?;
    assert_eq!(history.timers_fired(), 1);
    Ok(())
}

#[temporal_test(workflows(TimerWorkflow), timeout = "4s")]
async fn wait_until_the_timer_is_started(
    runner: TestRunner,
) -> Result<(), Box<dyn std::error::Error>> {
    let handle = runner.start(TimerWorkflow::run, 60_000).await?;
    let id = handle.info().workflow_id.clone();
    // No polling loop in the test: the runner waits (bounded) for the event.
    let history = runner.wait_for_event(&id, EventType::TimerStarted).await?;
    assert!(!history.has(EventType::TimerFired));
    // What it says when the event never comes.
    let err = runner
        .wait_for_event(&id, EventType::WorkflowExecutionCompleted)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RunnerError::WaitTimedOut { last_seen, .. } if last_seen.contains("TimerStarted")),
        "{err}"
    );
    handle.terminate(Default::default()).await?;
    Ok(())
}

#[temporal_test(workflows(RetryWorkflow), activities(Flaky { attempts: Arc::new(AtomicU32::new(0)) }))]
async fn activity_retried_with_backoff(runner: TestRunner) -> Result<(), RunnerError> {
    // Fails on attempts 1 and 2, succeeds on the 3rd; the server schedules the retries.
    assert_eq!(runner.execute(RetryWorkflow::run, 3).await?, 3);
    let history = runner.history(&runner.started_workflows()[0]).await?;
    history.assert_activity_completed("Flaky::charge", 1);
    // Retries are not separate events: one scheduled, one started (the last attempt).
    assert_eq!(history.count(EventType::ActivityTaskScheduled), 1);
    assert_eq!(history.scheduled_activities(), ["Flaky::charge"]);
    assert_eq!(history.activity_attempts("Flaky::charge"), [3]);
    Ok(())
}

#[temporal_test(workflows(RetryWorkflow), activities(Flaky { attempts: Arc::new(AtomicU32::new(0)) }))]
async fn a_failed_workflow_names_the_activity_and_its_error(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    // Succeeds only on attempt 9; the policy allows 5.
    let err = runner.execute(RetryWorkflow::run, 9).await.unwrap_err();
    let RunnerError::Failed { failure, .. } = &err else {
        panic!("expected a failed workflow, got {err}");
    };
    assert_eq!(failure.outcome, Outcome::Failed);
    assert_eq!(failure.activity().map(|(ty, _)| ty), Some("Flaky::charge"));
    assert!(
        failure
            .root_cause()
            .is_some_and(|c| c.message.contains("transient failure on attempt 5")),
        "{failure:?}"
    );
    assert!(err.to_string().contains("activity Flaky::charge"), "{err}");
    Ok(())
}

#[temporal_test(workflows(CountdownWorkflow))]
async fn continue_as_new(runner: TestRunner) -> Result<(), RunnerError> {
    assert_eq!(runner.execute(CountdownWorkflow::run, 3).await?, "liftoff");
    // Every run of the chain, first first (the end-of-test replay replays them all).
    let runs = runner.histories(&runner.started_workflows()[0]).await?;
    assert_eq!(runs.len(), 4);
    assert!(runs[0].continued_from().is_none());
    assert!(runs[..3]
        .iter()
        .all(|r| r.has(EventType::WorkflowExecutionContinuedAsNew)));
    assert!(runs[3].has(EventType::WorkflowExecutionCompleted));
    Ok(())
}

#[temporal_test(workflows(LongWaitWorkflow))]
async fn cancellation(runner: TestRunner) -> Result<(), Box<dyn std::error::Error>> {
    let handle = runner.start(LongWaitWorkflow::run, ()).await?;
    handle.cancel(WorkflowCancelOptions::default()).await?;
    let outcome = handle.get_result(WorkflowGetResultOptions::default()).await;
    assert!(
        outcome
            .as_ref()
            .is_err_and(|e| e.to_string().contains("cancelled")),
        "{outcome:?}"
    );
    Ok(())
}

#[temporal_test(workflows(OrderV1), activities(Greeter))]
async fn nondeterminism_is_caught_by_replay(runner: TestRunner) -> Result<(), RunnerError> {
    runner.execute(OrderV1::run, "v1".to_string()).await?;
    let id = runner.started_workflows()[0].clone();
    // The same code replays cleanly (the harness also does this for every test at its end)...
    runner
        .replay_against(&id, Definitions::new().workflow::<OrderV1>())
        .await?;
    // ...a reordered version of the workflow does not, and the error names the workflow.
    let err = runner
        .replay_against(&id, Definitions::new().workflow::<OrderV2>())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RunnerError::Replay { workflow_id, .. } if *workflow_id == id),
        "{err}"
    );
    // ...and where its history stops replaying.
    let RunnerError::Replay { divergence, .. } = &err else {
        unreachable!()
    };
    let divergence = divergence.as_deref().unwrap_or_default();
    assert!(
        divergence.contains("diverges at the workflow task completed in event"),
        "{err}"
    );
    eprintln!("{err}");
    Ok(())
}

#[temporal_test(workflows(GateWorkflow), activities(Greeter))]
async fn worker_crash_mid_workflow(runner: TestRunner) -> Result<(), Box<dyn std::error::Error>> {
    let handle = runner
        .start(GateWorkflow::run, "survivor".to_string())
        .await?;
    // The workflow is waiting for its signal when the worker dies; a new one takes over.
    runner.crash_worker().await?;
    handle
        .signal(GateWorkflow::open, (), WorkflowSignalOptions::default())
        .await?;
    runner.restart_worker().await?;
    let greeting = handle
        .get_result(WorkflowGetResultOptions::default())
        .await?;
    assert_eq!(greeting, "Hello, survivor!");
    Ok(())
}

static IMPORT_STALL: tokio::sync::Notify = tokio::sync::Notify::const_new();

#[temporal_test(workflows(ImportWorkflow), activities(Importer { stall: &IMPORT_STALL }))]
async fn a_crash_abandons_the_running_activity_and_the_retry_resumes_from_its_heartbeat(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let handle = runner.start(ImportWorkflow::run, 10).await?;
    let id = runner.started_workflows()[0].clone();
    // Attempt 1 has imported items 0..=5 and stalls; wait until the server holds heartbeat 5.
    runner
        .wait_for_pending_activity(&id, "Importer::import", |a| {
            matches!(a.heartbeat_details::<u32>(), Ok(Some(5)))
        })
        .await?;
    runner.crash_worker().await?;
    // Were attempt 1 still running (a crash that is not one), this would let it finish.
    IMPORT_STALL.notify_one();
    let (attempt, first) = runner.result(&handle).await?;
    assert_eq!(
        (attempt, first),
        (2, 6),
        "attempt 2 resumes after the last heartbeat"
    );
    assert_eq!(
        runner
            .history(&id)
            .await?
            .activity_attempts("Importer::import"),
        [2]
    );
    Ok(())
}

#[temporal_test(workflows(GreetWorkflow), activities(Greeter), namespace = "isolated")]
async fn namespace_of_its_own(runner: TestRunner) -> Result<(), RunnerError> {
    assert!(runner.namespace().starts_with("th-"));
    assert_ne!(runner.namespace(), runner.endpoints().namespace);
    assert_eq!(
        runner.execute(GreetWorkflow::run, "ns".to_string()).await?,
        "Hello, ns!"
    );
    Ok(())
}

#[temporal_test]
async fn app_database(runner: TestRunner) -> Result<(), RunnerError> {
    let db = runner.db().await?;
    let table = format!("t_{}", uuid::Uuid::new_v4().simple());
    let ddl = format!("CREATE TABLE {table} (n INT)");
    sqlx::query(&ddl).execute(db).await?;
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(db)
        .await?;
    assert_eq!(n, 0);
    Ok(())
}

#[temporal_test(workflows(LongWaitWorkflow), timeout = "2s")]
#[should_panic(expected = "workflows still open")]
async fn timeout_names_the_open_workflows(runner: TestRunner) {
    let handle = runner.start(LongWaitWorkflow::run, ()).await.unwrap();
    let _ = handle.get_result(WorkflowGetResultOptions::default()).await;
}

#[temporal_test(workflows(GreetWorkflow), activities(Greeter))]
#[should_panic(expected = "a failing assertion")]
async fn a_panicking_body_fails_the_test(runner: TestRunner) {
    runner
        .execute(GreetWorkflow::run, "x".to_string())
        .await
        .unwrap();
    panic!("a failing assertion");
}

#[temporal_test]
async fn no_runner_parameter_needed() {
    // The stack, worker and namespace are still set up; the test just does not use them.
}

static COUNTED: AtomicU32 = AtomicU32::new(0);

#[temporal_test(workflows(GreetWorkflow), activities(Greeter), replay = false)]
async fn replay_can_be_turned_off(runner: TestRunner) -> Result<(), RunnerError> {
    COUNTED.fetch_add(1, Ordering::SeqCst);
    runner
        .execute(GreetWorkflow::run, "no replay".to_string())
        .await?;
    Ok(())
}

#[temporal_test(workflows(GreetWorkflow), activities(Greeter))]
async fn many_workflows_at_once(runner: TestRunner) -> Result<(), RunnerError> {
    // Concurrent starts get distinct IDs; every result comes back.
    let names: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
    let runs = names
        .iter()
        .map(|n| runner.execute(GreetWorkflow::run, n.clone()));
    let greetings = futures::future::join_all(runs).await;
    for (name, greeting) in names.iter().zip(greetings) {
        assert_eq!(greeting?, format!("Hello, {name}!"));
    }
    let mut ids = runner.started_workflows();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    Ok(())
}

/// A golden history: the events the workflow's code decides, compared with
/// `tests/snapshots/greet_workflow.history` (rerun with TEMPORAL_HARNESS_UPDATE_SNAPSHOTS=1 to
/// accept an intended change).
#[temporal_test(workflows(GreetWorkflow), activities(Greeter))]
async fn a_history_matches_its_snapshot(runner: TestRunner) -> Result<(), RunnerError> {
    runner
        .execute(GreetWorkflow::run, "Temporal".to_string())
        .await?;
    let id = runner.started_workflows()[0].clone();
    runner
        .assert_history_snapshot(&id, "greet_workflow")
        .await?;
    // Against a snapshot of other code: the error is a readable diff.
    let err = runner
        .assert_history_snapshot(&id, "greet_workflow_twice")
        .await
        .unwrap_err();
    let RunnerError::SnapshotMismatch { diff, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        diff.contains("-ActivityTaskScheduled Greeter::greet"),
        "{diff}"
    );
    let err = runner
        .assert_history_snapshot(&id, "no_such_snapshot")
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::SnapshotMissing { .. }), "{err}");
    Ok(())
}

/// `record = ".."` writes the test's histories for the replay suite when it passes.
#[temporal_test(
    workflows(GreetWorkflow),
    activities(Greeter),
    record = "target/recorded-histories"
)]
async fn a_passing_test_records_its_histories(runner: TestRunner) -> Result<(), RunnerError> {
    runner
        .execute(GreetWorkflow::run, "recorded".to_string())
        .await?;
    Ok(())
}

#[test]
fn recorded_histories_replay() {
    // The recording test may run in parallel (or not at all, with a filter): record here too.
    temporal_harness::__private::run_test(
        temporal_harness::__private::TestOptions::new("examples::recorded_histories_replay")
            .record("target/recorded-histories"),
        Definitions::new()
            .workflow::<GreetWorkflow>()
            .activities(Greeter),
        |runner| {
            Box::pin(async move {
                runner
                    .execute(GreetWorkflow::run, "again".to_string())
                    .await
                    .expect("workflow");
            })
        },
    );
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/recorded-histories/examples/recorded_histories_replay");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let checked = runtime.block_on(temporal_harness::replay::check(
        &folder,
        &Definitions::new().workflow::<GreetWorkflow>(),
    ));
    assert_eq!(checked.len(), 1);
    assert!(checked[0].failure.is_none(), "{:?}", checked[0].failure);
}
