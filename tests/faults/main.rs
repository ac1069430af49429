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
/// regression file, `main.regressions`, whose kept seeds it prints (they run first).
fn runner(cases: u32) -> TestRunner {
    print_kept_seeds();
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

/// Prints the seeds `main.regressions` keeps, so a run's log says which cases ran first.
fn print_kept_seeds() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/faults/main.regressions");
    let kept = std::fs::read_to_string(path).unwrap_or_default();
    let seeds: Vec<&str> = kept.lines().filter(|l| l.starts_with("cc ")).collect();
    eprintln!("{} kept seed(s) from {path}, run first:", seeds.len());
    for seed in seeds {
        let (seed, shrunk) = seed.split_once(" # ").unwrap_or((seed, ""));
        let shrunk: String = shrunk.chars().take(100).collect();
        eprintln!("  {seed} ({shrunk}...)");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("tokio runtime")
}

/// How many runs in a row a case of a catch must fail to count as failing. Whether a
/// timing-dependent schedule breaks a workload can change from one run to the next: counted
/// as failing on one run, shrinking kept whichever candidate happened to fail (it stopped at
/// three faults where one breaks the workload every time) and the minimal schedule was luck.
/// Three runs: a schedule that fails one run in three still passes as failing 4% of the time,
/// one in ten 0.1%; a schedule that fails every time costs two runs more, only when it fails.
const RUNS_TO_FAIL: usize = 3;

/// A catch's cases, judged by [`RUNS_TO_FAIL`], for its report: which case failed first,
/// and which failed only sometimes.
#[derive(Default)]
struct Runs {
    done: std::sync::atomic::AtomicUsize,
    first_failure: std::sync::OnceLock<usize>,
    flaky: std::sync::Mutex<Vec<String>>,
}

impl Runs {
    /// Runs `case` (the schedule `what`); it fails only if it fails [`RUNS_TO_FAIL`] times in
    /// a row, with the first run's reason. One that passes on a later run is counted as
    /// passing and listed as flaky.
    fn judge<T>(
        &self,
        what: &dyn std::fmt::Display,
        mut case: impl FnMut() -> Result<T, TestCaseError>,
    ) -> Result<(), TestCaseError> {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let Err(first) = case() else {
            return Ok(());
        };
        for run in 2..=RUNS_TO_FAIL {
            if case().is_ok() {
                let one_line: String = what.to_string().split_whitespace().collect();
                let mut flaky = self.flaky.lock().expect("flaky lock");
                flaky.push(format!(
                    "case {n} failed, then passed on run {run}: {one_line}"
                ));
                return Ok(());
            }
        }
        let _ = self.first_failure.set(n);
        Err(first)
    }
}

impl std::fmt::Display for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let done = self.done.load(std::sync::atomic::Ordering::SeqCst);
        match self.first_failure.get() {
            Some(first) => write!(
                f,
                "first failing {RUNS_TO_FAIL} runs of {RUNS_TO_FAIL}: case {first} of {done}"
            )?,
            None => write!(f, "no case failed {RUNS_TO_FAIL} runs in a row in {done}")?,
        }
        let flaky = self.flaky.lock().expect("flaky lock");
        write!(f, "; {} flaky", flaky.len())?;
        for line in flaky.iter() {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

/// The control of a catch: `workload` passes with no fault on the harness `boot` makes, so
/// what breaks it afterwards is the fault; returns what it ran (to derive the catch's bounds).
fn control_run(
    rt: &tokio::runtime::Runtime,
    boot: impl std::future::Future<Output = Result<FaultHarness, StackError>>,
    workload: &Workload,
) -> Passed {
    let harness = rt.block_on(boot).expect("a harness for the control run");
    let control = rt.block_on(harness.run(workload, &Schedule::default()));
    rt.block_on(harness.shutdown()).unwrap();
    control.unwrap_or_else(|v| panic!("the workload fails without any fault: {v}"))
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
