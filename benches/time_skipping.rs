//! Time skipping: boot time of a test server, and wall time of a workflow that sleeps 30
//! days (boot excluded). Run: `cargo bench --bench time_skipping [-- ROUNDS]`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use temporal_harness::runner::{run_test, Definitions, TestOptions};
use temporal_harness::stack::TestServer;
use temporal_harness::StackConfig;
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

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = StackConfig::load().unwrap();
    let mut boots = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let server = runtime
            .block_on(TestServer::start(&config))
            .expect("test server");
        boots.push(t.elapsed().as_secs_f64());
        drop(server);
    }
    drop(runtime);
    let walls = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..rounds {
        let out = walls.clone();
        run_test(
            TestOptions::new("bench::month").time_skipping(),
            Definitions::new().workflow::<MonthWorkflow>(),
            move |runner| {
                Box::pin(async move {
                    let t = Instant::now();
                    assert_eq!(runner.execute(MonthWorkflow::run, 30).await.unwrap(), 30);
                    out.lock().unwrap().push(t.elapsed().as_secs_f64());
                })
            },
        );
    }
    let walls = walls.lock().unwrap().clone();
    println!("\ntime skipping, median of {rounds} rounds");
    println!(
        "test server boot            {:>8.3} s",
        median(boots.clone())
    );
    println!(
        "30-day workflow (wall time) {:>8.3} s",
        median(walls.clone())
    );
    println!(
        "{}",
        serde_json::json!({"bench": "time_skipping", "server_boot_s": boots, "thirty_day_workflow_s": walls})
    );
}
