//! Time-skipping and real-time tests on one stack at the same time: 20 of each. Each
//! skipping test moves its own workflow a month ahead; each real-time test's timer must fire
//! after its real duration, not skipped along with the others (there is no global clock).

use std::time::{Duration, Instant};
use temporal_harness::{temporal_test, TestRunner};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Waits `millis` on a durable timer.
#[workflow]
#[derive(Default)]
pub struct WaitWorkflow;

#[workflow_methods]
impl WaitWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, millis: u64) -> WorkflowResult<u64> {
        ctx.timer(Duration::from_millis(millis)).await;
        Ok(millis)
    }
}

const MONTH_MS: u64 = 30 * 24 * 3600 * 1000;
const REAL_MS: u64 = 500;

async fn a_month_skipped(runner: TestRunner) -> TestResult {
    let start = runner.now().await?;
    assert_eq!(runner.execute(WaitWorkflow::run, MONTH_MS).await?, MONTH_MS);
    let moved = runner.now().await?.duration_since(start)?;
    assert!(moved >= Duration::from_millis(MONTH_MS), "moved {moved:?}");
    Ok(())
}

async fn a_timer_in_real_time(runner: TestRunner) -> TestResult {
    let wall = Instant::now();
    assert_eq!(runner.execute(WaitWorkflow::run, REAL_MS).await?, REAL_MS);
    assert!(wall.elapsed() >= Duration::from_millis(REAL_MS));
    // Its history's own clock: the timer fired after its real duration, not a month later.
    let history = runner.history(&runner.started_workflows()[0]).await?;
    let at = |ty: EventType| {
        let e = history.events().iter().find(|e| e.event_type() == ty);
        let t = e.and_then(|e| e.event_time.as_ref()).expect("event time");
        Duration::new(t.seconds as u64, t.nanos as u32)
    };
    let waited = at(EventType::TimerFired) - at(EventType::TimerStarted);
    assert!(
        waited >= Duration::from_millis(REAL_MS) && waited < Duration::from_secs(60),
        "the real-time timer took {waited:?} of workflow time"
    );
    Ok(())
}

macro_rules! pairs {
    ($($case:ident),*) => {$(
        mod $case {
            use super::*;

            #[temporal_test(workflows(WaitWorkflow), time_skipping = "server")]
            async fn skipping(runner: TestRunner) -> TestResult {
                a_month_skipped(runner).await
            }

            #[temporal_test(workflows(WaitWorkflow))]
            async fn real_time(runner: TestRunner) -> TestResult {
                a_timer_in_real_time(runner).await
            }
        }
    )*};
}

pairs!(
    p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16, p17, p18, p19,
    p20
);
