//! Time skipping, side by side in one run: a workflow that sleeps 30 days, per workflow on the
//! shared stack's real server and on a Java test server of the test's own (the fallback).
//! Per test: the whole test (boot included: the test server's boot, or finding the running
//! stack) and the workflow alone (boot excluded). The first server round also shows a cold
//! stack boot when no stack runs. Run: `cargo bench --bench time_skipping [-- ROUNDS]`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use temporal_harness::__private::{run_test, TestOptions};
use temporal_harness::runner::{Definitions, TimeSkippingMode};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

#[workflow]
#[derive(Default)]
pub struct MonthWorkflow;

#[workflow_methods]
impl MonthWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, days: u64) -> WorkflowResult<u64> {
        ctx.timer(Duration::from_secs(days * 86_400)).await;
        Ok(days)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `(whole test, workflow alone)` in seconds, per round.
fn rounds(mode: TimeSkippingMode, rounds: usize) -> (Vec<f64>, Vec<f64>) {
    let (tests, workflows) = (
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
    );
    for _ in 0..rounds {
        let out = workflows.clone();
        let t = Instant::now();
        run_test(
            TestOptions::new(&format!("bench::month_{mode}")).time_skipping_mode(mode),
            Definitions::new().workflow::<MonthWorkflow>(),
            move |runner| {
                Box::pin(async move {
                    let t = Instant::now();
                    assert_eq!(runner.execute(MonthWorkflow::run, 30).await.unwrap(), 30);
                    out.lock().unwrap().push(t.elapsed().as_secs_f64());
                })
            },
        );
        tests.lock().unwrap().push(t.elapsed().as_secs_f64());
    }
    let tests = tests.lock().unwrap().clone();
    let workflows = workflows.lock().unwrap().clone();
    (tests, workflows)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let (server_tests, server_workflows) = rounds(TimeSkippingMode::Server, n);
    let (java_tests, java_workflows) = rounds(TimeSkippingMode::TestServer, n);
    println!("\ntime skipping, 30-day workflow, median of {n} rounds (seconds)");
    println!("{:<40} {:>12} {:>12}", "", "real server", "test server");
    println!(
        "{:<40} {:>12.3} {:>12.3}",
        "whole test (boot included)",
        median(server_tests.clone()),
        median(java_tests.clone())
    );
    println!(
        "{:<40} {:>12.3} {:>12.3}",
        "workflow alone (boot excluded)",
        median(server_workflows.clone()),
        median(java_workflows.clone())
    );
    println!(
        "{:<40} {:>12.3} {:>12}",
        "first test (a cold stack if none ran)", server_tests[0], "-"
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "time_skipping",
            "server": {"test_s": server_tests, "workflow_s": server_workflows},
            "test_server": {"test_s": java_tests, "workflow_s": java_workflows},
        })
    );
}
