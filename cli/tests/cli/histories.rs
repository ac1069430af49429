//! `temporal-harness histories pull` as users run it: against the harness's own stack, with
//! the replay suite over what it pulled, with payload redaction, and with a query that finds
//! nothing. Each runs the real binary.

use std::process::{Command, Output};
use std::time::{Duration, Instant};
use temporal_harness::replay;
use temporal_harness::runner::{Definitions, RunnerError};
use temporal_harness::{temporal_test, TestRunner};
use temporalio_client::WorkflowCountOptions;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

/// Greets a customer by name (the payload redaction hides).
#[workflow]
#[derive(Default)]
pub struct GreetingWorkflow;

#[workflow_methods]
impl GreetingWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        Ok(format!("hello {name}"))
    }
}

const WORKFLOWS: usize = 12;

fn pull(runner: &TestRunner, query: &str, out: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["histories", "pull", "--temporal-address"])
        .arg(&runner.endpoints().temporal.address)
        .args(["--namespace", runner.namespace(), "--query", query, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run temporal-harness")
}

/// Visibility is updated after a workflow closes: wait (bounded) until the query sees all.
async fn visible(runner: &TestRunner, query: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let counted = runner
            .client()
            .count_workflows(query, WorkflowCountOptions::default())
            .await
            .map(|c| c.count())
            .unwrap_or(0);
        if counted as usize >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only {counted} of {n} visible");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[temporal_test(workflows(GreetingWorkflow))]
async fn pulled_histories_replay_and_redaction_hides_payloads(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    for i in 0..WORKFLOWS {
        runner
            .execute(GreetingWorkflow::run, format!("Ada Lovelace {i}"))
            .await?;
    }
    let query = format!("TaskQueue='{}'", runner.task_queue());
    visible(&runner, &query, WORKFLOWS).await;

    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let pulled = pull(&runner, &query, out.path(), &[]);
    let took = started.elapsed();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let replayed = Instant::now();
    let definitions = Definitions::new().workflow::<GreetingWorkflow>();
    let checked = replay::check(out.path(), &definitions).await;
    assert_eq!(checked.len(), WORKFLOWS, "one file per workflow");
    assert!(
        checked.iter().all(|c| c.failure.is_none()),
        "every pulled history replays"
    );
    eprintln!(
        "pulled {WORKFLOWS} histories in {took:?}; replayed them in {:?}",
        replayed.elapsed()
    );

    let redacted = tempfile::tempdir().unwrap();
    let pulled = pull(&runner, &query, redacted.path(), &["--redact-payloads"]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    for file in walk(redacted.path()) {
        let text = std::fs::read_to_string(&file).unwrap();
        // "Ada Lovelace" as JSON, base64-encoded as payloads are: `IkFkYSBMb3ZlbGFjZS`.
        assert!(
            !text.contains("IkFkYSBMb3ZlbGFjZS"),
            "{} keeps the name",
            file.display()
        );
    }
    Ok(())
}

#[temporal_test]
async fn a_query_that_finds_nothing_is_an_error_not_an_empty_corpus(runner: TestRunner) {
    let out = tempfile::tempdir().unwrap();
    let pulled = pull(&runner, "WorkflowType='NoSuchWorkflow'", out.path(), &[]);
    let stderr = String::from_utf8_lossy(&pulled.stderr);
    assert_eq!(pulled.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("found no workflows") && stderr.contains("Fix:"),
        "{stderr}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The figures of docs/benchmarks.md: 100 workflows pulled and replayed. A benchmark, so
/// ignored by default: `cargo test --workspace --test cli -- histories:: --ignored
/// --nocapture`.
#[temporal_test(workflows(GreetingWorkflow), timeout = "120s")]
#[ignore = "benchmark: prints figures"]
async fn pull_and_replay_a_hundred(runner: TestRunner) -> Result<(), RunnerError> {
    let handles = futures::future::try_join_all(
        (0..100).map(|i| runner.start(GreetingWorkflow::run, format!("customer {i}"))),
    )
    .await?;
    for handle in &handles {
        runner.result(handle).await?;
    }
    let query = format!("TaskQueue='{}'", runner.task_queue());
    visible(&runner, &query, 100).await;
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let pulled = pull(&runner, &query, out.path(), &["--limit", "100"]);
    let pull_time = started.elapsed();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let files = walk(out.path()).len();
    let replayed = Instant::now();
    let definitions = Definitions::new().workflow::<GreetingWorkflow>();
    let checked = replay::check(out.path(), &definitions).await;
    let replay_time = replayed.elapsed();
    assert!(checked.iter().all(|c| c.failure.is_none()));
    eprintln!(
        "histories pull: {files} files in {pull_time:.2?}; replay: {} histories in \
         {replay_time:.2?} ({:.0} histories/s)",
        checked.len(),
        checked.len() as f64 / replay_time.as_secs_f64()
    );
    Ok(())
}
