//! Each fault kind matters on its own: a deliberately broken workload is broken by generated
//! cases of that kind (after a control run without faults), shrunk to one fault.
//!
//! No verdict here depends on the machine's speed: the stopwatch orders' limit comes from a
//! control run on the same machine in the same run (from the steps it judges: not the first,
//! which warms up), every fault that must stall them lasts two to three times that limit and
//! waits for a history event that begins a judged step (never an instant), and a case counts
//! as failing only if it fails [`super::RUNS_TO_FAIL`] runs in a row.

use super::workloads::*;
use super::{control_run, on_a_failover_stack, runtime, workflows, Runs};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::future::Future;
use std::ops::RangeInclusive;
use std::time::Duration;
use temporal_harness::faults::*;
use temporal_harness::stack::{PersistenceError, PersistenceFault, StackError, Store};

/// What a control run of stopwatch orders (without a limit or a fault) measured on the
/// machine and stack of the catch: each judged step's limit, and the triggers that begin a
/// fault while a judged step runs.
struct Stopwatch {
    limit: Duration,
    events: RangeInclusive<u32>,
    activities: RangeInclusive<u32>,
}

impl Stopwatch {
    fn measured(control: &Passed) -> Stopwatch {
        let limit = step_limit(control);
        let (events, activities) = judged_steps(control);
        let steps: Vec<Vec<Duration>> = control.histories.iter().map(step_times).collect();
        eprintln!(
            "control run: steps {steps:?}; each judged step's limit {limit:?}; faults begin \
             after event {events:?} or activity {activities:?}"
        );
        Stopwatch {
            limit,
            events,
            activities,
        }
    }

    /// A control run of `jobs` orders on a harness like the one `boot` makes.
    fn control(
        rt: &tokio::runtime::Runtime,
        boot: impl Future<Output = Result<FaultHarness, StackError>>,
        jobs: usize,
    ) -> Stopwatch {
        Stopwatch::measured(&control_run(rt, boot, &stopwatch_workload(jobs, UNLIMITED)))
    }

    /// Faults of `kinds` for `workload`, each beginning in a judged step (after a history
    /// event, never at an instant) and lasting two to three times its limit: whatever step
    /// it falls in takes longer than its limit.
    fn space(&self, workload: &Workload, kinds: FaultKinds) -> ScheduleSpace {
        let limit = self.limit.as_millis() as u64;
        ScheduleSpace {
            instants: false,
            events: Some(self.events.clone()),
            activities: Some(self.activities.clone()),
            lasting: Some(2 * limit..=3 * limit),
            ..ScheduleSpace::new(workload.jobs(), workload.points(), kinds)
        }
    }
}

/// Asserts that `reason` is the stopwatch giving up, not another violation.
fn assert_stopwatch(reason: &proptest::test_runner::Reason) {
    assert!(
        reason.message().contains(workflows::OVER_THE_LIMIT),
        "not the stopwatch: {reason}"
    );
}

#[test]
fn a_stopwatch_order_is_caught_by_a_postgres_failover_and_shrunk() {
    let rt = runtime();
    let stopwatch = Stopwatch::control(&rt, FaultHarness::failover(), 2);
    let workload = stopwatch_workload(2, stopwatch.limit);
    // The failover alone, without a primary for 2-3 times a step's limit.
    let space = stopwatch.space(&workload, FaultKinds::NONE);
    let mut runner = TestRunner::new(Config {
        cases: 4,
        // One fault by construction: shrinking only simplifies it, each step a stack.
        max_shrink_iters: 2,
        failure_persistence: None,
        ..Config::default()
    });
    let runs = Runs::default();
    let outcome = runner.run(&failover_schedules(&space), |schedule| {
        runs.judge(&schedule, || on_a_failover_stack(&rt, &workload, &schedule))
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the stopwatch order passed every failover ({runs}): {outcome:?}");
    };
    eprintln!("caught ({runs}): {reason}\nminimal schedule:\n{minimal}");
    assert_stopwatch(&reason);
    assert_eq!(minimal.faults.len(), 1, "not minimal:\n{minimal}");
}

#[test]
fn a_stopwatch_order_is_caught_by_a_cluster_node_fault_and_shrunk() {
    let rt = runtime();
    let harness = rt
        .block_on(FaultHarness::cluster())
        .expect("cluster harness");
    // The control on this cluster: without a node fault the orders pass, and their slowest
    // step sets the limit.
    let control = rt
        .block_on(harness.run(&stopwatch_workload(2, UNLIMITED), &Schedule::default()))
        .unwrap_or_else(|v| panic!("the workload fails without any fault: {v}"));
    let stopwatch = Stopwatch::measured(&control);
    let workload = stopwatch_workload(2, stopwatch.limit);
    let only_nodes = FaultKinds::NONE.with(FaultKind::Cluster);
    // One node fault per schedule, so a failing one is minimal. Not every node stalls an
    // order (the worker service runs none of it; a history host may own neither order's
    // shard): the search finds one that does.
    let space = ScheduleSpace {
        max_faults: 1,
        ..stopwatch.space(&workload, only_nodes)
    };
    let mut runner = TestRunner::new(Config {
        cases: 32,
        max_shrink_iters: 4,
        failure_persistence: None,
        ..Config::default()
    });
    let one_fault = schedules(&space).prop_filter("one fault", |s| !s.faults.is_empty());
    let runs = Runs::default();
    let outcome = runner.run(&one_fault, |schedule| {
        runs.judge(&schedule, || {
            rt.block_on(harness.run(&workload, &schedule))
                .map_err(|v| TestCaseError::fail(v.to_string()))
        })
    });
    eprintln!("faults exercised: {:?}", harness.exercised());
    rt.block_on(harness.shutdown()).unwrap();
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the stopwatch order passed every schedule ({runs}): {outcome:?}");
    };
    eprintln!("caught ({runs}): {reason}\nminimal schedule:\n{minimal}");
    assert_stopwatch(&reason);
    assert_eq!(minimal.faults.len(), 1, "not minimal:\n{minimal}");
    assert!(minimal.needs_cluster(), "{minimal}");
}

#[test]
fn a_non_idempotent_charge_is_caught_and_shrunk_to_one_fault() {
    let rt = runtime();
    let harness = rt.block_on(FaultHarness::shared()).expect("harness");
    let workload = sloppy_workload(1);
    // Every shared kind, timed ones after history events. An attempt of the charge that fails
    // after its work breaks it every time; a crash or a network fault only when it happens to
    // fall between the work and its report, which the rule of three runs leaves out.
    let space = ScheduleSpace {
        instants: false,
        ..ScheduleSpace::new(1, 1, FaultKinds::SHARED)
    };
    let mut runner = TestRunner::new(Config {
        cases: 32,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let runs = Runs::default();
    let outcome = runner.run(&schedules(&space), |schedule| {
        runs.judge(&schedule, || {
            rt.block_on(harness.run(&workload, &schedule))
                .map_err(|v| TestCaseError::fail(v.to_string()))
        })
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the broken workflow passed every schedule ({runs}): {outcome:?}");
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

/// Runs `workload` on sets of one persistence fault from `space` (no other faults), each on
/// a stack of its own, until one breaks it; returns why and the shrunk fault. Panics when
/// every set passes.
fn caught_by_persistence_faults(
    rt: &tokio::runtime::Runtime,
    workload: &Workload,
    space: &PersistenceSpace,
) -> (String, Vec<PersistenceFault>) {
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
        let label = format!("{faults:?}");
        runs.judge(&label, || {
            let harness = rt
                .block_on(FaultHarness::with_persistence_faults(faults.clone()))
                .map_err(|e| TestCaseError::fail(format!("no stack: {e}")))?;
            let result = rt.block_on(harness.run(workload, &Schedule::default()));
            rt.block_on(harness.shutdown()).unwrap();
            result.map_err(|v| TestCaseError::fail(v.to_string()))
        })
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the broken workflow passed every set of persistence faults ({runs}): {outcome:?}");
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
    // 25-40%: at 18-20% a set broke it only on some runs (a lost completion needs the write
    // that records it to be among the failed ones).
    let space = PersistenceSpace {
        max_faults: 1,
        errors: vec![PersistenceError::Timeout],
        min_percent: 25,
        ..PersistenceSpace::method(Store::ExecutionStore, "UpdateWorkflowExecution", 40)
    };
    let rt = runtime();
    let workload = sloppy_workload(3);
    control_run(
        &rt,
        FaultHarness::with_persistence_faults(Vec::new()),
        &workload,
    );
    let (reason, _) = caught_by_persistence_faults(&rt, &workload, &space);
    assert!(reason.contains("side effect `charge` happened"), "{reason}");
}

/// Each persistence error kind, alone on the writes of workflow state at a rate in `percent`,
/// stalls an order past its stopwatch (a failed write of a workflow task's completion waits
/// for the task to be retried). The impatient workflow, which only notices a stall while an
/// activity waits to start, needed far higher rates (`Unavailable`: 71%; never up to 40%).
fn stopwatch_order_caught_by(error: PersistenceError, percent: std::ops::RangeInclusive<u8>) {
    let space = PersistenceSpace {
        max_faults: 1,
        errors: vec![error],
        min_percent: *percent.start(),
        ..PersistenceSpace::method(
            Store::ExecutionStore,
            "UpdateWorkflowExecution",
            *percent.end(),
        )
    };
    let rt = runtime();
    let stopwatch = Stopwatch::control(&rt, FaultHarness::with_persistence_faults(Vec::new()), 2);
    let workload = stopwatch_workload(2, stopwatch.limit);
    let (reason, minimal) = caught_by_persistence_faults(&rt, &workload, &space);
    assert_eq!(minimal[0].error, error, "{minimal:?}");
    assert!(
        reason.contains(workflows::OVER_THE_LIMIT),
        "not the stopwatch: {reason}"
    );
}

#[test]
fn a_stopwatch_order_is_caught_by_ambiguous_writes() {
    stopwatch_order_caught_by(PersistenceError::ExecuteAndTimeout, 1..=40);
}

/// A long run (`-- --ignored exhausted`), and a verdict that depends on the machine's speed:
/// the stall an exhausted store causes is the client's retry backoff, about a second per
/// refused write (a step took 2.7 s at 60-90%), the same order as a step on a loaded machine
/// (1.1 s seen), so no limit measured in the control run separates the two by a safe margin.
/// It took 10 minutes here.
#[test]
#[ignore = "long run, verdict depends on the machine's speed (cargo test --test faults -- --ignored exhausted)"]
fn a_stopwatch_order_is_caught_by_exhausted_persistence() {
    stopwatch_order_caught_by(PersistenceError::ResourceExhausted, 60..=90);
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
    let rt = runtime();
    let workload = impatient_workload(2);
    control_run(
        &rt,
        FaultHarness::with_persistence_faults(Vec::new()),
        &workload,
    );
    let (_, minimal) = caught_by_persistence_faults(&rt, &workload, &space);
    assert_eq!(
        minimal[0].error,
        PersistenceError::ShardOwnershipLost,
        "{minimal:?}"
    );
}

/// A long run (`-- --ignored unavailable`), for the reason the exhausted store's is: at up to
/// 60% a set stalled an order only on some runs (the server and the client retry an
/// unavailable store); at 60-90% reliably, with steps of 5-27 s, but each case took about
/// 25 s.
#[test]
#[ignore = "long run (cargo test --test faults -- --ignored unavailable)"]
fn a_stopwatch_order_is_caught_by_unavailable_persistence() {
    stopwatch_order_caught_by(PersistenceError::Unavailable, 60..=90);
}
