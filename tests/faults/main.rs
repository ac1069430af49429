//! Fault injection on the real stack: proptest-generated schedules of real faults over a
//! workload, the invariants checked after each, failing schedules shrunk.
//!
//! `PROPTEST_CASES=64 cargo test --test faults` for a long run; the default is a few cases
//! per property. Worker, network and activity faults run on the shared stack in parallel;
//! server restarts and PostgreSQL outages run serially on a stack of their own.

mod workflows;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use std::time::Instant;
use temporal_harness::faults::*;
use temporal_harness::runner::Definitions;
use temporal_harness::stack::{Outage, StackError};
use temporalio_common::HasWorkflowDefinition;
use workflows::{
    ImpatientOrderWorkflow, OrderWorkflow, Shop, SloppyOrderWorkflow, SloppyShop,
    StopwatchOrderWorkflow,
};

/// Cases per property: `PROPTEST_CASES`, else a few (CI).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

fn order_workload(jobs: usize) -> Workload {
    let effects = Effects::default();
    let points = FaultPoints::new(["reserve", "charge", "ship"]);
    let shop = Shop {
        effects: effects.clone(),
        points: points.clone(),
    };
    let definitions = Definitions::new()
        .workflow::<OrderWorkflow>()
        .activities(shop);
    let mut workload = Workload::new(definitions, points, effects)
        .effect("reserve", Delivery::ExactlyOnce)
        .effect("charge", Delivery::ExactlyOnce)
        .effect("ship", Delivery::AtLeastOnce);
    for i in 0..jobs {
        let item = format!("item-{i}");
        let expected = format!("reserved {item}, charged 1999, shipped {item}");
        workload = workload.job(Job::new(|| OrderWorkflow::run, item, expected));
    }
    workload
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

/// Runs `cases` generated schedules; panics with the shrunk schedule on a violation.
fn check_property(harness: &FaultHarness, workload: &Workload, kinds: FaultKinds, n: u32) {
    let rt = runtime();
    let space = ScheduleSpace::new(workload.jobs(), workload.points(), kinds);
    let started = Instant::now();
    let outcome = runner(n).run(&schedules(&space), |schedule| {
        rt.block_on(harness.run(workload, &schedule))
            .map_err(|v| TestCaseError::fail(v.to_string()))
    });
    eprintln!(
        "{n} cases in {:.1} s; faults exercised: {:?}",
        started.elapsed().as_secs_f64(),
        harness.exercised()
    );
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

#[test]
fn workflows_survive_worker_network_and_activity_faults() {
    let rt = runtime();
    let harness = rt.block_on(FaultHarness::shared()).expect("harness");
    check_property(&harness, &order_workload(2), FaultKinds::SHARED, cases(6));
    rt.block_on(harness.shutdown()).unwrap();
}

#[test]
#[serial_test::serial(exclusive_stack)]
fn workflows_survive_server_restarts_and_database_outages() {
    let rt = runtime();
    let harness = rt.block_on(FaultHarness::exclusive()).expect("harness");
    let containers = harness
        .containers()
        .expect("an exclusive stack has containers");
    check_property(&harness, &order_workload(2), FaultKinds::ALL, cases(4));
    rt.block_on(harness.shutdown()).unwrap();
    for name in containers {
        let inspected = std::process::Command::new("docker")
            .args(["inspect", "--format", "{{.State.Status}}", &name])
            .output()
            .expect("docker");
        assert!(
            !inspected.status.success(),
            "container {name} outlived the fault suite: {}",
            String::from_utf8_lossy(&inspected.stdout)
        );
    }
}

#[test]
fn workflows_survive_cluster_node_faults() {
    let rt = runtime();
    let harness = rt
        .block_on(FaultHarness::cluster())
        .expect("cluster harness");
    check_property(&harness, &order_workload(2), FaultKinds::CLUSTER, cases(3));
    // A history host down while the first order waits, then matching frozen.
    let schedule = Schedule::new(vec![
        Fault::Timed {
            trigger: Trigger::AfterEvent { job: 0, event: 5 },
            fault: TimedFault::NodeDown {
                node: ClusterNode::History2,
                millis: 800,
            },
        },
        Fault::Timed {
            trigger: Trigger::AfterActivities {
                job: 1,
                completed: 1,
            },
            fault: TimedFault::NodeFreeze {
                node: ClusterNode::Matching,
                millis: 500,
            },
        },
    ]);
    if let Err(v) = rt.block_on(harness.run(&order_workload(2), &schedule)) {
        panic!("{v}");
    }
    eprintln!("faults exercised: {:?}", harness.exercised());
    rt.block_on(harness.shutdown()).unwrap();
}

fn sloppy_workload(jobs: usize) -> Workload {
    let effects = Effects::default();
    let points = FaultPoints::new(["charge"]);
    let shop = SloppyShop {
        effects: effects.clone(),
        points: points.clone(),
    };
    let definitions = Definitions::new()
        .workflow::<SloppyOrderWorkflow>()
        .activities(shop);
    let mut workload =
        Workload::new(definitions, points, effects).effect("charge", Delivery::ExactlyOnce);
    for _ in 0..jobs {
        workload = workload.job(Job::new(
            || SloppyOrderWorkflow::run,
            1999,
            "charged 1999".to_string(),
        ));
    }
    workload
}

#[test]
fn workflows_survive_a_postgres_failover() {
    let rt = runtime();
    let workload = order_workload(2);
    let space = ScheduleSpace::new(workload.jobs(), workload.points(), FaultKinds::SHARED);
    let started = Instant::now();
    let exercised = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let n = cases(3);
    let outcome = runner(n).run(&failover_schedules(&space), |schedule| {
        for (kind, count) in on_a_failover_stack(&rt, &workload, &schedule)? {
            *exercised.lock().unwrap().entry(kind).or_insert(0) += count;
        }
        Ok(())
    });
    eprintln!(
        "{n} cases in {:.1} s (a primary and standby each); faults exercised: {:?}",
        started.elapsed().as_secs_f64(),
        exercised.lock().unwrap()
    );
    if let Err(e) = outcome {
        panic!("{e}");
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

/// Orders that reserve their item four times, run by `workflow` (`|| W::run`) of the workflow
/// type `register` adds: the impatient or the stopwatch order.
fn reserving_workload<W>(
    jobs: usize,
    register: fn(Definitions) -> Definitions,
    workflow: fn() -> W,
) -> Workload
where
    W: HasWorkflowDefinition<Input = String, Output = String> + Send + Sync + 'static,
{
    let effects = Effects::default();
    let points = FaultPoints::new(["reserve"]);
    let shop = Shop {
        effects: effects.clone(),
        points: points.clone(),
    };
    let definitions = register(Definitions::new()).activities(shop);
    let mut workload = Workload::new(definitions, points, effects);
    for i in 0..jobs {
        let item = format!("item-{i}");
        let expected = vec![format!("reserved {item}"); 4].join(", ");
        workload = workload.job(Job::new(workflow, item, expected));
    }
    workload
}

/// Orders whose activities may wait 300 ms for a worker and are never retried: broken by any
/// stall of the server longer than that while an activity waits in its queue.
fn impatient_workload(jobs: usize) -> Workload {
    reserving_workload(
        jobs,
        |d| d.workflow::<ImpatientOrderWorkflow>(),
        || ImpatientOrderWorkflow::run,
    )
}

/// Orders that give each step [`workflows::STEP_LIMIT`]: broken by any stall longer than that
/// while they run.
fn stopwatch_workload(jobs: usize) -> Workload {
    reserving_workload(
        jobs,
        |d| d.workflow::<StopwatchOrderWorkflow>(),
        || StopwatchOrderWorkflow::run,
    )
}

#[test]
fn a_stopwatch_order_is_caught_by_a_postgres_failover_and_shrunk() {
    let rt = runtime();
    let workload = stopwatch_workload(2);
    // The failover alone: no other kind of fault is generated around it.
    let none = FaultKinds {
        activity: false,
        worker_crash: false,
        network: false,
        ..FaultKinds::SHARED
    };
    let space = ScheduleSpace::new(workload.jobs(), workload.points(), none);
    passes_without_faults(&rt, FaultHarness::failover(), &workload);
    // Failovers that fall while the orders run (they take about 0.6 s) and leave them without
    // a primary for longer than a step may take: each such case breaks the order.
    let while_running = failover_schedules(&space).prop_filter(
        "a failover of 1 s or more while the orders run",
        |schedule| {
            schedule.faults.iter().any(|fault| match fault {
                Fault::Timed {
                    trigger,
                    fault: TimedFault::PostgresFailover { millis },
                } => *millis >= 1000 && !matches!(trigger, Trigger::AtMillis(ms) if *ms > 200),
                _ => false,
            })
        },
    );
    let mut runner = TestRunner::new(Config {
        cases: 4,
        max_shrink_iters: 6,
        failure_persistence: None,
        ..Config::default()
    });
    let runs = Runs::default();
    let outcome = runner.run(&while_running, |schedule| {
        runs.record(on_a_failover_stack(&rt, &workload, &schedule).map(drop))
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the stopwatch order passed every failover: {outcome:?}");
    };
    eprintln!("caught ({runs}): {reason}\nminimal schedule:\n{minimal}");
    let late = over_the_step_limit();
    assert!(
        reason.message().contains(&late),
        "not the stopwatch: {reason}"
    );
    assert_eq!(minimal.faults.len(), 1, "not minimal:\n{minimal}");
}

/// How the stopwatch order says it gave up.
fn over_the_step_limit() -> String {
    format!("over its {:?}", workflows::STEP_LIMIT)
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

#[test]
fn a_stopwatch_order_is_caught_by_a_cluster_node_fault_and_shrunk() {
    let rt = runtime();
    let harness = rt
        .block_on(FaultHarness::cluster())
        .expect("cluster harness");
    let workload = stopwatch_workload(2);
    let only_nodes = FaultKinds {
        activity: false,
        worker_crash: false,
        network: false,
        ..FaultKinds::CLUSTER
    };
    // One node fault per schedule: whether a case fails depends on timing, so shrinking a
    // bigger schedule may stop before one fault; a single fault that fails is minimal.
    let space = ScheduleSpace {
        max_faults: 1,
        ..ScheduleSpace::new(workload.jobs(), workload.points(), only_nodes)
    };
    let mut runner = TestRunner::new(Config {
        cases: 32,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..Config::default()
    });
    // The control: without a node fault the workload passes on the cluster.
    if let Err(v) = rt.block_on(harness.run(&workload, &Schedule::default())) {
        panic!("the workload fails without any fault: {v}");
    }
    let one_fault = schedules(&space).prop_filter("one fault", |s| !s.faults.is_empty());
    let runs = Runs::default();
    let outcome = runner.run(&one_fault, |schedule| {
        runs.record(
            rt.block_on(harness.run(&workload, &schedule))
                .map_err(|v| TestCaseError::fail(v.to_string())),
        )
    });
    eprintln!("faults exercised: {:?}", harness.exercised());
    rt.block_on(harness.shutdown()).unwrap();
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the stopwatch order passed every schedule: {outcome:?}");
    };
    eprintln!("caught ({runs}): {reason}\nminimal schedule:\n{minimal}");
    assert!(
        reason.message().contains(&over_the_step_limit()),
        "{reason}"
    );
    assert_eq!(minimal.faults.len(), 1, "not minimal:\n{minimal}");
    assert!(minimal.needs_cluster(), "{minimal}");
}

/// Failover schedules found worth keeping (a harness each: a failover uses the standby up).
#[test]
fn regression_failover_cases() {
    let rt = runtime();
    let cases = [
        // A failover right at the start, a worker crash later.
        Schedule::new(vec![
            Fault::Timed {
                trigger: Trigger::AtMillis(35),
                fault: TimedFault::PostgresFailover { millis: 0 },
            },
            Fault::Timed {
                trigger: Trigger::AtMillis(1471),
                fault: TimedFault::WorkerCrash,
            },
        ]),
        // A failover as the first order starts, worker crashes after stages of both orders:
        // once left the workflow queue's backlog at 2 (stale tasks) when checked without a
        // polling worker.
        Schedule::new(vec![
            Fault::Timed {
                trigger: Trigger::AfterEvent { job: 0, event: 2 },
                fault: TimedFault::PostgresFailover { millis: 0 },
            },
            Fault::Timed {
                trigger: Trigger::AfterActivities {
                    job: 0,
                    completed: 1,
                },
                fault: TimedFault::WorkerCrash,
            },
            Fault::Timed {
                trigger: Trigger::AfterActivities {
                    job: 1,
                    completed: 3,
                },
                fault: TimedFault::WorkerCrash,
            },
            Fault::Activity {
                job: 1,
                point: 0,
                attempt: 1,
                failure: ActivityFailure::Error,
            },
        ]),
    ];
    for schedule in &cases {
        if let Err(e) = on_a_failover_stack(&rt, &order_workload(2), schedule) {
            panic!("{e}");
        }
    }
}

/// Schedules found worth keeping, pasted from the printed form.
#[test]
#[serial_test::serial(exclusive_stack)]
fn regression_cases() {
    let rt = runtime();
    let harness = rt.block_on(FaultHarness::exclusive()).expect("harness");
    let workload = order_workload(2);
    let cases = [
        // A server restart while the first order waits on its timer, then PostgreSQL frozen.
        Schedule::new(vec![
            Fault::Timed {
                trigger: Trigger::AfterEvent { job: 0, event: 8 },
                fault: TimedFault::ServerRestart,
            },
            Fault::Timed {
                trigger: Trigger::AfterEvent { job: 1, event: 5 },
                fault: TimedFault::PostgresOutage {
                    outage: Outage::Pause,
                    millis: 800,
                },
            },
        ]),
        // PostgreSQL stopped and started under a worker crash and a failing charge.
        Schedule::new(vec![
            Fault::Activity {
                job: 1,
                point: 1,
                attempt: 1,
                failure: ActivityFailure::Panic,
            },
            Fault::Timed {
                trigger: Trigger::AtMillis(50),
                fault: TimedFault::PostgresOutage {
                    outage: Outage::Stop,
                    millis: 500,
                },
            },
            // A crash once the first order has reserved: after its first stage.
            Fault::Timed {
                trigger: Trigger::AfterActivities {
                    job: 0,
                    completed: 1,
                },
                fault: TimedFault::WorkerCrash,
            },
        ]),
        // The network dropped, then slow, around an activity timeout.
        Schedule::new(vec![
            Fault::Activity {
                job: 0,
                point: 0,
                attempt: 1,
                failure: ActivityFailure::Timeout,
            },
            Fault::Timed {
                trigger: Trigger::AtMillis(0),
                fault: TimedFault::Network {
                    fault: NetworkFault::Drop,
                    millis: 400,
                },
            },
            Fault::Timed {
                trigger: Trigger::AfterEvent { job: 1, event: 10 },
                fault: TimedFault::Network {
                    fault: NetworkFault::Latency { millis: 30 },
                    millis: 600,
                },
            },
        ]),
    ];
    for schedule in &cases {
        if let Err(v) = rt.block_on(harness.run(&workload, schedule)) {
            panic!("{v}");
        }
    }
    eprintln!("faults exercised: {:?}", harness.exercised());
    rt.block_on(harness.shutdown()).unwrap();
}

#[test]
fn a_non_idempotent_charge_is_caught_and_shrunk_to_one_fault() {
    let rt = runtime();
    let harness = rt.block_on(FaultHarness::shared()).expect("harness");
    let workload = sloppy_workload(1);
    let space = ScheduleSpace::new(1, 1, FaultKinds::SHARED);
    let mut runner = TestRunner::new(Config {
        cases: 32,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let runs = Runs::default();
    let outcome = runner.run(&schedules(&space), |schedule| {
        runs.record(
            rt.block_on(harness.run(&workload, &schedule))
                .map_err(|v| TestCaseError::fail(v.to_string())),
        )
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the broken workflow passed every schedule: {outcome:?}");
    };
    eprintln!("caught ({runs}): {reason}\nminimal schedule:\n{minimal}");
    assert!(
        reason
            .message()
            .contains("side effect `charge` happened 2 times"),
        "{reason}"
    );
    // The histories involved, written where the Web UI and `histories show` open them, and
    // rendered in the message.
    assert!(
        reason.message().contains("temporal-harness-histories-"),
        "{reason}"
    );
    assert!(
        reason.message().contains("ActivityTaskScheduled"),
        "{reason}"
    );
    assert_eq!(minimal.faults.len(), 1, "not minimal:\n{minimal}");
    assert!(
        matches!(
            minimal.faults[0],
            Fault::Activity {
                job: 0,
                point: 0,
                attempt: 1,
                ..
            }
        ),
        "{minimal}"
    );
    rt.block_on(harness.shutdown()).unwrap();
}

/// Runs `cases` generated sets of persistence faults, each on a stack of its own, with a
/// generated schedule of worker, network and activity faults on top; panics with the shrunk
/// case on a violation.
fn check_persistence_property(
    workload: &Workload,
    space: &PersistenceSpace,
    n: u32,
) -> Result<(), TestError<(Vec<PersistenceFault>, Schedule)>> {
    let rt = runtime();
    let schedules_space =
        ScheduleSpace::new(workload.jobs(), workload.points(), FaultKinds::SHARED);
    let started = Instant::now();
    let exercised = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let strategy = (persistence_faults(space), schedules(&schedules_space));
    let outcome = runner(n).run(&strategy, |(faults, schedule)| {
        let harness = rt
            .block_on(FaultHarness::with_persistence_faults(faults))
            .map_err(|e| TestCaseError::fail(format!("no stack: {e}")))?;
        let result = rt.block_on(harness.run(workload, &schedule));
        for (kind, count) in harness.exercised() {
            *exercised.lock().unwrap().entry(kind).or_insert(0) += count;
        }
        rt.block_on(harness.shutdown())
            .map_err(|e| TestCaseError::fail(format!("teardown: {e}")))?;
        result.map_err(|v| TestCaseError::fail(v.to_string()))
    });
    eprintln!(
        "{n} cases in {:.1} s (a stack each); faults exercised: {:?}",
        started.elapsed().as_secs_f64(),
        exercised.lock().unwrap()
    );
    outcome.map(drop)
}

#[test]
fn workflows_survive_persistence_faults() {
    // Rates up to 10%: the server retries its persistence calls; higher rates make cases
    // slow (ambiguous writes at 30% take 30 s for three orders) without finding more.
    let space = PersistenceSpace::workload(10);
    if let Err(e) = check_persistence_property(&order_workload(2), &space, cases(3)) {
        panic!("{e}");
    }
}

/// Runs `workload` on sets of one persistence fault from `space` (no other faults) until one
/// breaks it; returns why and the shrunk fault. Panics when every set passes.
fn caught_by_persistence_faults(
    workload: &Workload,
    space: &PersistenceSpace,
) -> (String, Vec<PersistenceFault>) {
    let rt = runtime();
    passes_without_faults(
        &rt,
        FaultHarness::with_persistence_faults(Vec::new()),
        workload,
    );
    let mut runner = TestRunner::new(Config {
        // The first failing case is a single fault already (max_faults 1); shrinking only
        // lowers its rate, and each step is a stack and a workload run.
        cases: 10,
        max_shrink_iters: 4,
        failure_persistence: None,
        ..Config::default()
    });
    let runs = Runs::default();
    let outcome = runner.run(&persistence_faults(space), |faults| {
        let harness = rt
            .block_on(FaultHarness::with_persistence_faults(faults))
            .map_err(|e| TestCaseError::fail(format!("no stack: {e}")))?;
        let result = rt.block_on(harness.run(workload, &Schedule::default()));
        rt.block_on(harness.shutdown()).unwrap();
        runs.record(result.map_err(|v| TestCaseError::fail(v.to_string())))
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the broken workflow passed every set of persistence faults: {outcome:?}");
    };
    eprintln!("caught ({runs}): {reason}\nminimal persistence faults: {minimal:?}");
    assert!(!reason.message().starts_with("no stack"), "{reason}");
    assert!(reason.message().contains("persistence faults"), "{reason}");
    assert_eq!(minimal.len(), 1, "{minimal:?}");
    (reason.message().to_string(), minimal)
}

#[test]
fn a_non_idempotent_charge_is_caught_by_persistence_timeouts_and_shrunk() {
    // Writes of a workflow's state that time out without happening: among them, the one
    // recording an activity's completion, so the activity runs again. (Ambiguous writes,
    // which did happen, do not lose it.)
    let space = PersistenceSpace {
        max_faults: 1,
        errors: vec![PersistenceError::Timeout],
        ..PersistenceSpace::method(Store::ExecutionStore, "UpdateWorkflowExecution", 40)
    };
    let (reason, _) = caught_by_persistence_faults(&sloppy_workload(3), &space);
    assert!(reason.contains("side effect `charge` happened"), "{reason}");
}

/// Each persistence error kind, alone on the writes of workflow state at up to `max_percent`,
/// stalls an order past its stopwatch (a failed write of a workflow task's completion waits
/// for the task to be retried). The impatient workflow, which only notices a stall while an
/// activity waits to start, needed far higher rates (`Unavailable`: 71%; never up to 40%).
fn stopwatch_order_caught_by(error: PersistenceError, max_percent: u8) {
    let space = PersistenceSpace {
        max_faults: 1,
        errors: vec![error],
        ..PersistenceSpace::method(
            Store::ExecutionStore,
            "UpdateWorkflowExecution",
            max_percent,
        )
    };
    let (reason, minimal) = caught_by_persistence_faults(&stopwatch_workload(2), &space);
    assert_eq!(minimal[0].error, error, "{minimal:?}");
    assert!(
        reason.contains(&over_the_step_limit()),
        "not the stopwatch: {reason}"
    );
}

#[test]
fn a_stopwatch_order_is_caught_by_ambiguous_writes() {
    stopwatch_order_caught_by(PersistenceError::ExecuteAndTimeout, 40);
}

#[test]
fn a_stopwatch_order_is_caught_by_exhausted_persistence() {
    stopwatch_order_caught_by(PersistenceError::ResourceExhausted, 40);
}

/// A lost shard on writes of workflow state never broke it (up to 90%); on the history
/// queues' task reads it did (44% of `GetHistoryTasks`), found by this search over every
/// method in 445 s: too long for every run, so it is a long-run test (`-- --ignored`). (The
/// stopwatch order passed 10 generated sets over every method at up to 90%: the server
/// reloads a shard without a stall it notices.)
#[test]
#[ignore = "long run: about 7 minutes (cargo test --test faults -- --ignored lost_shard)"]
fn an_impatient_workflow_is_caught_by_lost_shard_ownership() {
    let space = PersistenceSpace {
        max_faults: 1,
        errors: vec![PersistenceError::ShardOwnershipLost],
        ..PersistenceSpace::workload(90)
    };
    let (_, minimal) = caught_by_persistence_faults(&impatient_workload(2), &space);
    assert_eq!(
        minimal[0].error,
        PersistenceError::ShardOwnershipLost,
        "{minimal:?}"
    );
}

#[test]
fn a_stopwatch_order_is_caught_by_unavailable_persistence() {
    stopwatch_order_caught_by(PersistenceError::Unavailable, 60);
}
