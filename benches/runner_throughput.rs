//! The runner against the Rust SDK's own `testing` environment (a dev server per environment,
//! the same CLI binary as the harness's dev flavour) and against hand-written SDK code (a worker
//! and a client) on the harness's stack, in the same run: time from test start to the first
//! workflow started, sequential latency, throughput of N concurrent workflows with one
//! activity each, and peak RSS; the runner also with its activity mocked in the body. Each
//! mode runs in a child process of its own so peak RSS is its own. Run:
//! `cargo bench --bench runner_throughput [-- N] [--rounds R] [--settle S]` (defaults 300, 5
//! and 3 s): every round runs every mode once, in a rotated order, S seconds apart, and the
//! ratios are paired per round.

use futures::future::join_all;
use std::process::Command;
use std::time::{Duration, Instant};
use temporal_harness::__private::{run_test, TestOptions};
use temporal_harness::runner::Definitions;
use temporal_harness::{Stack, StackConfig};
use temporalio_client::{Client, ClientOptions, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::testing::{EphemeralExe, LocalWorkflowEnvironmentOptions, WorkflowEnvironment};
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
    sequential_ms: f64,
    /// The slowest of the sequential workflows (the server's dispatch stalls show here).
    sequential_slowest_ms: f64,
    total_s: f64,
}

/// Sequential workflows measured for the latency figure.
const SEQUENTIAL: u32 = 20;

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

/// The measured part, the same for every mode: the first workflow (its start time from
/// `t0`), `SEQUENTIAL` workflows one after another, then `n` concurrent ones.
async fn workload(client: &Client, task_queue: &str, n: u32, t0: Instant) -> Figures {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let run = |i: u32| {
        let options = WorkflowStartOptions::new(task_queue, format!("bench-{id}-{i}")).build();
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
    let options = WorkflowStartOptions::new(task_queue, format!("bench-{id}-first")).build();
    let first = client
        .start_workflow(BenchWorkflow::run, 0, options)
        .await
        .unwrap();
    let first_start_s = t0.elapsed().as_secs_f64();
    first
        .get_result(WorkflowGetResultOptions::default())
        .await
        .unwrap();
    let t = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..SEQUENTIAL {
        let one = Instant::now();
        run(1_000_000 + i).await;
        slowest = slowest.max(one.elapsed());
    }
    let sequential_ms = t.elapsed().as_secs_f64() * 1000.0 / SEQUENTIAL as f64;
    let sequential_slowest_ms = slowest.as_secs_f64() * 1000.0;
    let t = Instant::now();
    join_all((1..=n).map(run)).await;
    Figures {
        first_start_s,
        sequential_ms,
        sequential_slowest_ms,
        total_s: t.elapsed().as_secs_f64(),
    }
}

/// `#[temporal_test]`'s runner on the harness's stack; `mocked`: with the activity answered
/// by a mock set up in the body (what the mock's interceptor costs per call).
fn runner_mode(n: u32, mocked: bool) -> Figures {
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
                if mocked {
                    runner.mock(BenchActivities::double).returns_with(|n| n * 2);
                }
                let f = workload(runner.client(), runner.task_queue(), n, t0).await;
                *out.lock().unwrap() = Some(f);
            })
        },
    );
    let figures = figures.lock().unwrap().take().expect("figures");
    figures
}

/// Hand-written worker + client on `client`.
async fn with_worker(client: Client, n: u32, t0: Instant) -> Figures {
    let sdk_runtime = Runtime::from_current_tokio(Default::default()).unwrap();
    let task_queue = format!("bench-sdk-{}", uuid::Uuid::new_v4().simple());
    let options = WorkerOptions::new(task_queue.clone())
        .register_workflow::<BenchWorkflow>()
        .unwrap()
        .register_activities(BenchActivities)
        .build();
    let mut worker = Worker::new(&sdk_runtime, client.clone(), options).unwrap();
    let stop = worker.shutdown_handle();
    let (_, figures) = tokio::join!(worker.run(), async {
        let f = workload(&client, &task_queue, n, t0).await;
        stop();
        f
    });
    figures
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Hand-written SDK code on the harness's (already running) stack.
fn sdk_mode(n: u32) -> Figures {
    current_thread().block_on(async move {
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
        let figures = with_worker(client, n, t0).await;
        drop(stack);
        figures
    })
}

/// The Rust SDK's own `testing` environment: a dev server of its own (the same CLI binary
/// the harness's dev flavour runs), booted per environment, as the SDK's tests do.
fn sdk_testing_mode(n: u32) -> Figures {
    current_thread().block_on(async move {
        let t0 = Instant::now();
        let cli = temporal_harness::StackConfig::load()
            .expect("configuration")
            .tools_dir
            .join("temporal");
        let options = LocalWorkflowEnvironmentOptions::builder()
            .server_executable(EphemeralExe::ExistingPath(cli.display().to_string()))
            .build();
        let env = WorkflowEnvironment::start_local(options)
            .await
            .expect("sdk dev server");
        let figures = with_worker(env.client().clone(), n, t0).await;
        env.shutdown().await.expect("sdk shutdown");
        figures
    })
}

/// The flags that take a value; anything else that parses as a number is N.
const FLAGS: [&str; 3] = ["--rounds", "--mode", "--settle"];

/// The value after `name` on the command line, parsed (`None`: absent or not a `T`).
fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| !FLAGS.contains(&args[i - 1].as_str()))
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(300);
    if let Some(mode) = flag::<String>(&args, "--mode") {
        let f = match mode.as_str() {
            "runner" => runner_mode(n, false),
            "runner-mocked" => runner_mode(n, true),
            "sdk" => sdk_mode(n),
            _ => sdk_testing_mode(n),
        };
        println!(
            "{}",
            serde_json::json!({"mode": mode, "n": n, "first_start_s": f.first_start_s,
                "sequential_ms": f.sequential_ms,
                "sequential_slowest_ms": f.sequential_slowest_ms, "total_s": f.total_s,
                "wf_per_s": n as f64 / f.total_s, "peak_rss_mb": peak_rss_mb()})
        );
        return;
    }
    let rounds: usize = flag(&args, "--rounds").unwrap_or(5);
    let settle = Duration::from_secs_f64(flag(&args, "--settle").unwrap_or(3.0));
    // Warm the shared stack first so no mode pays for the boot.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stack = runtime
        .block_on(Stack::acquire(&StackConfig::load().unwrap()))
        .expect("stack");
    // Every round runs every mode once, in an order rotated by one place a round, so each
    // mode takes each place equally often: a worker process that starts right after another
    // one exits from the same dev server sees workflow tasks dispatched about 38 ms late for
    // a second or two (measured: 100 ms per sequential workflow instead of 73), so a fixed
    // order would always penalise the same mode. Ratios are taken within a round (paired),
    // so a slow minute of the machine moves both sides of each ratio.
    let modes = ["sdk-testing", "sdk", "runner", "runner-mocked"];
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for round in 0..rounds {
        for k in 0..modes.len() {
            let mode = modes[(round + k) % modes.len()];
            // The server dispatches workflow tasks about 40 ms late for a second or two after
            // a worker process exits (history: WorkflowTaskScheduled -> Started 38-45 ms
            // instead of 4-7 ms); a mode started inside that window measures the previous
            // mode's exit, not itself. The settle time keeps every mode out of it.
            if round + k > 0 {
                std::thread::sleep(settle);
            }
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--mode", mode, &n.to_string()])
                .output()
                .expect("run mode");
            let line = String::from_utf8_lossy(&out.stdout);
            let mut row: serde_json::Value =
                serde_json::from_str(line.lines().last().unwrap_or("{}")).unwrap_or_else(|_| {
                    panic!(
                        "mode {mode} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            row["round"] = round.into();
            eprintln!("round {}/{rounds}: {row}", round + 1);
            rows.push(row);
        }
    }
    drop(stack);
    let values = |mode: &str, key: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r["mode"] == mode)
            .filter_map(|r| r[key].as_f64())
            .collect()
    };
    println!(
        "\n{n} concurrent workflows (one activity each), {rounds} interleaved rounds, same stack: {}",
        stack_name()
    );
    println!("median [min - max] over the rounds, modes {settle:?} apart");
    println!(
        "{:<14} {:>22} {:>22} {:>22} {:>22} {:>8}",
        "mode", "first start s", "sequential ms", "slowest sequential ms", "wf/s", "RSS MB"
    );
    for mode in modes {
        println!(
            "{:<14} {:>22} {:>22} {:>22} {:>22} {:>8.1}",
            mode,
            Spread::of(&values(mode, "first_start_s")).show(3),
            Spread::of(&values(mode, "sequential_ms")).show(1),
            Spread::of(&values(mode, "sequential_slowest_ms")).show(1),
            Spread::of(&values(mode, "wf_per_s")).show(1),
            Spread::of(&values(mode, "peak_rss_mb")).median,
        );
    }
    // Paired per round: throughput ratio (higher: the runner is faster) and sequential speed
    // ratio (the other mode's latency over the runner's: higher is the runner faster).
    let paired = |other: &str, key: &str, runner_over_other: bool| -> Spread {
        let ours = values("runner", key);
        let theirs = values(other, key);
        let ratios: Vec<f64> = ours
            .iter()
            .zip(&theirs)
            .map(|(o, t)| if runner_over_other { o / t } else { t / o })
            .collect();
        Spread::of(&ratios)
    };
    let ratios = [
        (
            "throughput runner/sdk-testing",
            paired("sdk-testing", "wf_per_s", true),
        ),
        ("throughput runner/sdk", paired("sdk", "wf_per_s", true)),
        (
            "sequential speed runner vs sdk-testing",
            paired("sdk-testing", "sequential_ms", false),
        ),
        (
            "sequential speed runner vs sdk",
            paired("sdk", "sequential_ms", false),
        ),
        (
            "first start runner vs sdk-testing",
            paired("sdk-testing", "first_start_s", false),
        ),
    ];
    for (name, spread) in &ratios {
        println!("{name:<40} {}", spread.show(3));
    }
    println!(
        "{}",
        serde_json::json!({"bench": "runner_throughput", "n": n, "rounds": rounds,
            "ratios": ratios.iter().map(|(name, s)| serde_json::json!({"ratio": name,
                "median": s.median, "min": s.min, "max": s.max})).collect::<Vec<_>>(),
            "rows": rows})
    );
}

/// A figure over the rounds: its median and range.
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Spread {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let median = match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Spread {
            median,
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }

    fn show(&self, decimals: usize) -> String {
        format!(
            "{:.d$} [{:.d$} - {:.d$}]",
            self.median,
            self.min,
            self.max,
            d = decimals
        )
    }
}

fn stack_name() -> String {
    let c = StackConfig::load().unwrap();
    format!("{:?}/{:?}", c.backend, c.flavor).to_lowercase()
}
