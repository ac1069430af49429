//! Each fault kind matters on its own: a deliberately broken workload is broken by generated
//! cases of that kind (after a control run without faults), shrunk to one fault.

use super::workloads::*;
use super::{on_a_failover_stack, passes_without_faults, runtime, workflows, Runs};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use temporal_harness::faults::*;

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
