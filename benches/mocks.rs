//! The per-test cost of mocks: the same test (a workflow calling three activities) with its
//! activities real, and with all three mocked in the test body, on the harness's shared stack
//! in one run. Each round runs both, their order swapping every round so neither always goes
//! first; every test is a whole `#[temporal_test]` (setup, worker, body, end-of-test mock
//! check and replay, teardown). Prints each mode's median and spread (10th-90th percentile)
//! and the median of the paired differences. Run: `cargo bench --bench mocks [-- ROUNDS]`
//! (default 30).

use std::time::{Duration, Instant};
use temporal_harness::__private::{run_test, TestOptions};
use temporal_harness::runner::Definitions;
use temporal_harness::{Stack, StackConfig};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};

pub struct Order;

#[activities]
impl Order {
    #[activity]
    pub async fn reserve(_ctx: ActivityContext, item: u32) -> Result<u32, ActivityError> {
        Ok(item + 1)
    }

    #[activity]
    pub async fn charge(_ctx: ActivityContext, cents: u32) -> Result<String, ActivityError> {
        Ok(format!("receipt-{cents}"))
    }

    #[activity]
    pub async fn ship(_ctx: ActivityContext, receipt: String) -> Result<String, ActivityError> {
        Ok(format!("shipped {receipt}"))
    }
}

/// Reserve, charge, ship.
#[workflow]
#[derive(Default)]
pub struct OrderWorkflow;

#[workflow_methods]
impl OrderWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, item: u32) -> WorkflowResult<String> {
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        let reserved = ctx
            .execute_activity(Order::reserve, item, options.clone())
            .await?;
        let receipt = ctx
            .execute_activity(Order::charge, reserved, options.clone())
            .await?;
        Ok(ctx.execute_activity(Order::ship, receipt, options).await?)
    }
}

/// One whole test; returns its wall time.
fn one_test(mocked: bool) -> Duration {
    let t = Instant::now();
    run_test(
        TestOptions::new(if mocked {
            "bench::mocked"
        } else {
            "bench::real"
        }),
        Definitions::new()
            .workflow::<OrderWorkflow>()
            .activities(Order),
        move |runner| {
            Box::pin(async move {
                if mocked {
                    runner.mock(Order::reserve).returns(2);
                    runner
                        .mock(Order::charge)
                        .returns_with(|cents| format!("mock-{cents}"));
                    runner.mock(Order::ship).returns("mock shipped".to_string());
                }
                let out = runner.execute(OrderWorkflow::run, 1).await.unwrap();
                assert!(out.contains("shipped"), "{out}");
            })
        },
    );
    t.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `p`-th percentile (0-100) of sorted `v`.
fn percentile(v: &[f64], p: usize) -> f64 {
    v[(v.len() - 1) * p / 100]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    // The stack (and a first test of each mode) warm before measuring: neither mode pays
    // for a boot or a cold connection.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stack = runtime
        .block_on(Stack::acquire(&StackConfig::load().unwrap()))
        .expect("stack");
    one_test(false);
    one_test(true);
    let (mut real, mut mocked, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (r, m) = if round % 2 == 0 {
            let r = one_test(false);
            (r, one_test(true))
        } else {
            let m = one_test(true);
            (one_test(false), m)
        };
        real.push(ms(r));
        mocked.push(ms(m));
        diff.push(ms(m) - ms(r));
    }
    drop(stack);
    for v in [&mut real, &mut mocked, &mut diff] {
        v.sort_by(f64::total_cmp);
    }
    println!("\n{rounds} rounds, a whole test each (3 activities), shared stack, release build");
    println!(
        "{:<22} {:>10} {:>10} {:>10}",
        "mode", "median ms", "p10 ms", "p90 ms"
    );
    for (name, v) in [
        ("real activities", &real),
        ("3 mocked activities", &mocked),
        ("mocked - real (pair)", &diff),
    ] {
        println!(
            "{name:<22} {:>10.1} {:>10.1} {:>10.1}",
            percentile(v, 50),
            percentile(v, 10),
            percentile(v, 90)
        );
    }
    println!(
        "{}",
        serde_json::json!({"bench": "mocks", "rounds": rounds,
            "real_median_ms": percentile(&real, 50), "mocked_median_ms": percentile(&mocked, 50),
            "paired_diff_median_ms": percentile(&diff, 50),
            "paired_diff_p10_ms": percentile(&diff, 10), "paired_diff_p90_ms": percentile(&diff, 90)})
    );
}
