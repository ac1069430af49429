//! Fault injection on the real stack: proptest-generated schedules of real faults over a
//! workload, the invariants checked after each, failing schedules shrunk.
//!
//! `PROPTEST_CASES=64 cargo test --test faults` for a long run; the default is a few cases
//! per property. Worker, network and activity faults run on the shared stack in parallel;
//! server restarts and PostgreSQL outages run serially on a stack of their own.
//!
//! `survive`: correct workloads pass every generated schedule; `catches`: each fault kind
//! breaks a deliberately broken workload and shrinks to one fault; `regressions`: schedules
//! kept; `workloads` and `workflows`: what they run.

mod catches;
mod regressions;
mod survive;
mod workflows;
mod workloads;

use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use temporal_harness::faults::*;
use temporal_harness::stack::StackError;

/// Cases per property: `PROPTEST_CASES`, else a few (CI).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The properties' runner. It lives here, not in `survive`: `file!()` below names the
/// regression file, `main.regressions`.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // Each case boots nothing but runs real workflows: keep shrinking bounded.
        max_shrink_iters: 64,
        // Seeds of failing cases go to tests/faults/main.regressions (kept in git) and are
        // replayed first on every later run.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        source_file: Some(file!()),
        ..Config::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("tokio runtime")
}

/// A catch's runs, for its report: which run failed first (a generated case; the runs after
/// it shrink it).
#[derive(Default)]
struct Runs {
    done: std::sync::atomic::AtomicUsize,
    first_failure: std::sync::OnceLock<usize>,
}

impl Runs {
    fn record<T>(&self, result: Result<T, TestCaseError>) -> Result<T, TestCaseError> {
        let run = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if result.is_err() {
            let _ = self.first_failure.set(run);
        }
        result
    }
}

impl std::fmt::Display for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let done = self.done.load(std::sync::atomic::Ordering::SeqCst);
        match self.first_failure.get() {
            Some(first) => write!(f, "first failure in run {first} of {done}"),
            None => write!(f, "no failure in {done} runs"),
        }
    }
}

/// The control of a catch: `workload` passes with no fault on the harness `boot` makes, so
/// what breaks it afterwards is the fault.
fn passes_without_faults(
    rt: &tokio::runtime::Runtime,
    boot: impl std::future::Future<Output = Result<FaultHarness, StackError>>,
    workload: &Workload,
) {
    let harness = rt.block_on(boot).expect("a harness for the control run");
    let control = rt.block_on(harness.run(workload, &Schedule::default()));
    rt.block_on(harness.shutdown()).unwrap();
    if let Err(v) = control {
        panic!("the workload fails without any fault: {v}");
    }
}

/// Runs `schedule` on a primary and standby of its own (a failover uses the standby up);
/// returns the faults it exercised.
fn on_a_failover_stack(
    rt: &tokio::runtime::Runtime,
    workload: &Workload,
    schedule: &Schedule,
) -> Result<std::collections::BTreeMap<&'static str, usize>, TestCaseError> {
    let harness = rt
        .block_on(FaultHarness::failover())
        .map_err(|e| TestCaseError::fail(format!("no stack: {e}")))?;
    let result = rt.block_on(harness.run(workload, schedule));
    let exercised = harness.exercised();
    rt.block_on(harness.shutdown())
        .map_err(|e| TestCaseError::fail(format!("teardown: {e}")))?;
    result.map_err(|v| TestCaseError::fail(v.to_string()))?;
    Ok(exercised)
}
