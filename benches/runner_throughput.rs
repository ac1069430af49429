//! The runner against hand-written SDK code (worker + client) on the same server in the same
//! run: throughput of N concurrent workflows with one activity each, time from test start to
//! the first workflow started, and peak RSS. Each mode runs in a child process of its own so
//! peak RSS is its own. Run: `cargo bench --bench runner_throughput [-- N]` (default 300).

use futures::future::join_all;
use std::process::Command;
use std::time::{Duration, Instant};
use temporal_harness::runner::{run_test, Definitions, TestOptions};
use temporal_harness::{Stack, StackConfig};
use temporalio_client::{Client, ClientOptions, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

#[workflow]
#[derive(Default)]
pub struct BenchWorkflow;

#[workflow_methods]
impl BenchWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u32) -> WorkflowResult<u32> {
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(30));
        Ok(ctx
            .execute_activity(BenchActivities::double, n, options)
            .await?)
    }
}

pub struct BenchActivities;

#[activities]
impl BenchActivities {
    #[activity]
    pub async fn double(_ctx: ActivityContext, n: u32) -> Result<u32, ActivityError> {
        Ok(n * 2)
    }
}

struct Figures {
    first_start_s: f64,
    total_s: f64,
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn runner_mode(n: u32) -> Figures {
    let t0 = Instant::now();
    let figures = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = figures.clone();
    run_test(
        TestOptions::new("bench::runner")
            .replay(false)
            .timeout(Duration::from_secs(600)),
        Definitions::new()
            .workflow::<BenchWorkflow>()
            .activities(BenchActivities),
        move |runner| {
            Box::pin(async move {
                let first = runner.start(BenchWorkflow::run, 0).await.unwrap();
                let first_start_s = t0.elapsed().as_secs_f64();
                first
                    .get_result(WorkflowGetResultOptions::default())
                    .await
                    .unwrap();
                let t = Instant::now();
                let results =
                    join_all((1..=n).map(|i| runner.execute(BenchWorkflow::run, i))).await;
                assert!(results.iter().all(|r| r.is_ok()), "all workflows succeed");
                *out.lock().unwrap() = Some(Figures {
                    first_start_s,
                    total_s: t.elapsed().as_secs_f64(),
                });
            })
        },
    );
    let figures = figures.lock().unwrap().take().expect("figures");
    figures
}

fn sdk_mode(n: u32) -> Figures {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let t0 = Instant::now();
        let stack = Stack::acquire(&StackConfig::load().unwrap()).await.unwrap();
        let endpoints = stack.endpoints().clone();
        let connection =
            temporal_harness::stack::connect(&endpoints.temporal, Duration::from_secs(10))
                .await
                .unwrap();
        let client = Client::new(
            connection,
            ClientOptions::new(endpoints.namespace.clone()).build(),
        )
        .unwrap();
        let sdk_runtime = Runtime::from_current_tokio(Default::default()).unwrap();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let task_queue = format!("bench-sdk-{id}");
        let options = WorkerOptions::new(task_queue.clone())
            .register_workflow::<BenchWorkflow>()
            .unwrap()
            .register_activities(BenchActivities)
            .build();
        let mut worker = Worker::new(&sdk_runtime, client.clone(), options).unwrap();
        let stop = worker.shutdown_handle();
        let (_, figures) = tokio::join!(worker.run(), async {
            let start = |i: u32| {
                let client = client.clone();
                let options =
                    WorkflowStartOptions::new(task_queue.clone(), format!("bench-sdk-{id}-{i}"))
                        .build();
                async move {
                    let handle = client
                        .start_workflow(BenchWorkflow::run, i, options)
                        .await
                        .unwrap();
                    handle
                        .get_result(WorkflowGetResultOptions::default())
                        .await
                        .unwrap()
                }
            };
            let first = client
                .start_workflow(
                    BenchWorkflow::run,
                    0,
                    WorkflowStartOptions::new(task_queue.clone(), format!("bench-sdk-{id}-first"))
                        .build(),
                )
                .await
                .unwrap();
            let first_start_s = t0.elapsed().as_secs_f64();
            first
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
            let t = Instant::now();
            join_all((1..=n).map(start)).await;
            let total_s = t.elapsed().as_secs_f64();
            stop();
            Figures {
                first_start_s,
                total_s,
            }
        });
        drop(stack);
        figures
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    if let Some(mode) = args
        .iter()
        .position(|a| a == "--mode")
        .map(|i| args[i + 1].clone())
    {
        let f = if mode == "runner" {
            runner_mode(n)
        } else {
            sdk_mode(n)
        };
        println!(
            "{}",
            serde_json::json!({"mode": mode, "n": n, "first_start_s": f.first_start_s,
                "total_s": f.total_s, "wf_per_s": n as f64 / f.total_s, "peak_rss_mb": peak_rss_mb()})
        );
        return;
    }
    // Warm the shared stack first so neither mode pays for the boot.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stack = runtime
        .block_on(Stack::acquire(&StackConfig::load().unwrap()))
        .expect("stack");
    let mut rows = Vec::new();
    for mode in ["sdk", "runner", "sdk", "runner"] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--mode", mode, &n.to_string()])
            .output()
            .expect("run mode");
        let line = String::from_utf8_lossy(&out.stdout);
        let row: serde_json::Value = serde_json::from_str(line.lines().last().unwrap_or("{}"))
            .unwrap_or_else(|_| {
                panic!(
                    "mode {mode} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        rows.push(row);
    }
    drop(stack);
    println!(
        "\n{n} concurrent workflows (one activity each), same stack: {}",
        stack_name()
    );
    println!(
        "{:<8} {:>14} {:>10} {:>10} {:>12}",
        "mode", "first start s", "total s", "wf/s", "peak RSS MB"
    );
    for r in &rows {
        println!(
            "{:<8} {:>14.3} {:>10.2} {:>10.1} {:>12.1}",
            r["mode"].as_str().unwrap_or("?"),
            r["first_start_s"].as_f64().unwrap_or(f64::NAN),
            r["total_s"].as_f64().unwrap_or(f64::NAN),
            r["wf_per_s"].as_f64().unwrap_or(f64::NAN),
            r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let best = |m: &str| {
        rows.iter()
            .filter(|r| r["mode"] == m)
            .filter_map(|r| r["wf_per_s"].as_f64())
            .fold(0.0, f64::max)
    };
    println!(
        "throughput ratio runner/sdk (best of 2 each): {:.3}",
        best("runner") / best("sdk")
    );
    println!(
        "{}",
        serde_json::json!({"bench": "runner_throughput", "n": n, "rows": rows})
    );
}

fn stack_name() -> String {
    let c = StackConfig::load().unwrap();
    format!("{:?}/{:?}", c.backend, c.flavor).to_lowercase()
}
