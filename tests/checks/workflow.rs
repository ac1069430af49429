//! The 5-stage validation workflow on the real stack: its queries while it runs and after,
//! its recorded durations and retries, and how a failed stage stops the rest.

use std::time::Duration;
use temporal_harness::validation::{
    registry, CurrentStage, Session, Stage, Status, Target, ValidationInput, ValidationWorkflow,
};
use temporal_harness::{Stack, StackConfig};
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowStartOptions};

async fn stack() -> Stack {
    Stack::acquire(&StackConfig::load().unwrap())
        .await
        .expect("stack")
}

#[tokio::test]
async fn queries_report_the_stage_while_it_runs_and_the_results_after() {
    let stack = stack().await;
    let session = Session::new(Target::from_endpoints(stack.endpoints()));
    session.worker().await.expect("validation worker");
    let client = session.client().await.expect("client");
    let id = format!("{}-queried", session.task_queue());
    // Long retry backoff: the workflow sits in the error-handling stage long enough to be
    // seen there; the query loop below waits for that state, not for a time.
    let input = ValidationInput {
        retry_initial_interval_ms: 1500,
    };
    let handle = client
        .start_workflow(
            ValidationWorkflow::run,
            input,
            WorkflowStartOptions::new(session.task_queue(), &id).build(),
        )
        .await
        .expect("start");
    let query = WorkflowQueryOptions::default;
    let mut seen = Vec::new();
    // Bounded: a workflow that never reaches the stage fails the test instead of hanging it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let running = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "stages seen: {seen:?}"
        );
        let current = handle
            .query(ValidationWorkflow::get_current_stage, (), query())
            .await
            .expect("get_current_stage");
        if seen.last() != Some(&current) {
            seen.push(current);
        }
        if current == CurrentStage::Running(Stage::ErrorHandling)
            || current == CurrentStage::Finished
        {
            break current;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        running,
        CurrentStage::Running(Stage::ErrorHandling),
        "{seen:?}"
    );
    let partial = handle
        .query(ValidationWorkflow::get_stage_results, (), query())
        .await
        .expect("get_stage_results");
    assert_eq!(
        partial.iter().map(|r| r.stage).collect::<Vec<_>>(),
        Stage::ALL[..4],
        "results of the stages before the running one"
    );
    let results = handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .expect("result");
    assert_eq!(results.len(), 5);
    for r in &results {
        assert_eq!(r.status, Status::Passed, "{r:?}");
    }
    let retry = &results[4];
    assert!(retry.detail.contains("succeeded on attempt 3"), "{retry:?}");
    // Backoff 1.5 s then 3 s: the recorded duration proves the policy was applied.
    assert!(retry.duration_ms >= 4500, "{retry:?}");
    assert_eq!(
        handle
            .query(ValidationWorkflow::get_current_stage, (), query())
            .await
            .unwrap(),
        CurrentStage::Finished
    );
    assert_eq!(
        handle
            .query(ValidationWorkflow::get_stage_results, (), query())
            .await
            .unwrap(),
        results
    );
    session.close();
    stack.shutdown(Duration::from_secs(60)).await.unwrap();
}

#[tokio::test]
async fn a_failed_stage_fails_its_check_and_the_later_ones_as_not_reached() {
    let stack = stack().await;
    let mut target = Target::from_endpoints(stack.endpoints());
    let mut databases = target.databases.clone().expect("PostgreSQL flavour");
    let mut url = url::Url::parse(databases.temporal.exposed_url().expose()).unwrap();
    url.set_password(Some("not-the-password")).unwrap();
    databases.temporal = temporal_harness::conninfo::PgConnInfo::parse(url.as_str()).unwrap();
    target.databases = Ok(databases);
    target.retry_initial_interval_ms = 10;
    let session = Session::new(target);
    let mut stage_results = Vec::new();
    for check in registry().iter().filter(|c| c.id.starts_with("stage.")) {
        stage_results.push(check.run(&session).await);
    }
    session.close();
    assert_eq!(stage_results[0].status, Status::Failed, "{stage_results:?}");
    assert!(
        stage_results[0].message.contains("password"),
        "{stage_results:?}"
    );
    assert!(!stage_results[0].message.contains("not-the-password"));
    for later in &stage_results[1..] {
        assert_eq!(later.status, Status::Failed);
        assert_eq!(later.message, "not reached: stage connection failed first");
    }
    stack.shutdown(Duration::from_secs(60)).await.unwrap();
}
