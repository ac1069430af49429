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
use workflows::{ImpatientOrderWorkflow, OrderWorkflow, Shop, SloppyOrderWorkflow, SloppyShop};

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
        // A standby per case: a failover uses it up.
        let harness = rt
            .block_on(FaultHarness::failover())
            .map_err(|e| TestCaseError::fail(format!("no stack: {e}")))?;
        let result = rt.block_on(harness.run(&workload, &schedule));
        for (kind, count) in harness.exercised() {
            *exercised.lock().unwrap().entry(kind).or_insert(0) += count;
        }
        rt.block_on(harness.shutdown())
            .map_err(|e| TestCaseError::fail(format!("teardown: {e}")))?;
        result.map_err(|v| TestCaseError::fail(v.to_string()))
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

/// Orders whose activities may wait 300 ms for a worker and are never retried: broken by any
/// stall of the server longer than that.
fn impatient_workload(jobs: usize) -> Workload {
    let effects = Effects::default();
    let points = FaultPoints::new(["reserve"]);
    let shop = Shop {
        effects: effects.clone(),
        points: points.clone(),
    };
    let definitions = Definitions::new()
        .workflow::<ImpatientOrderWorkflow>()
        .activities(shop);
    let mut workload = Workload::new(definitions, points, effects);
    for i in 0..jobs {
        let item = format!("item-{i}");
        let expected = vec![format!("reserved {item}"); 4].join(", ");
        workload = workload.job(Job::new(|| ImpatientOrderWorkflow::run, item, expected));
    }
    workload
}

#[test]
fn an_impatient_workflow_is_caught_by_a_postgres_failover_and_shrunk() {
    let rt = runtime();
    let workload = impatient_workload(2);
    // The failover alone: no other kind of fault is generated around it.
    let none = FaultKinds {
        activity: false,
        worker_crash: false,
        network: false,
        ..FaultKinds::SHARED
    };
    let space = ScheduleSpace::new(workload.jobs(), workload.points(), none);
    passes_without_faults(&rt, FaultHarness::failover(), &workload);
    // Whether a failover breaks it depends on when it falls (between an activity's scheduling
    // and its start); one caught in the first case, one run needed more than 8.
    let mut runner = TestRunner::new(Config {
        cases: 24,
        max_shrink_iters: 2,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&failover_schedules(&space), |schedule| {
        // A standby per case: a failover uses it up.
        let harness = rt
            .block_on(FaultHarness::failover())
            .map_err(|e| TestCaseError::fail(format!("no stack: {e}")))?;
        let result = rt.block_on(harness.run(&workload, &schedule));
        rt.block_on(harness.shutdown())
            .map_err(|e| TestCaseError::fail(format!("teardown: {e}")))?;
        result.map_err(|v| TestCaseError::fail(v.to_string()))
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the impatient workflow passed every failover: {outcome:?}");
    };
    eprintln!("caught: {reason}\nminimal schedule:\n{minimal}");
    assert!(!reason.message().starts_with("no stack"), "{reason}");
    assert_eq!(minimal.faults.len(), 1, "not minimal:\n{minimal}");
}

#[test]
fn an_impatient_workflow_is_caught_by_a_cluster_node_fault_and_shrunk() {
    let rt = runtime();
    let harness = rt
        .block_on(FaultHarness::cluster())
        .expect("cluster harness");
    let workload = impatient_workload(2);
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
    let outcome = runner.run(&one_fault, |schedule| {
        rt.block_on(harness.run(&workload, &schedule))
            .map_err(|v| TestCaseError::fail(v.to_string()))
    });
    eprintln!("faults exercised: {:?}", harness.exercised());
    rt.block_on(harness.shutdown()).unwrap();
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the impatient workflow passed every schedule: {outcome:?}");
    };
    eprintln!("caught: {reason}\nminimal schedule:\n{minimal}");
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
                fault: TimedFault::PostgresFailover,
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
                fault: TimedFault::PostgresFailover,
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
        let harness = rt.block_on(FaultHarness::failover()).expect("harness");
        let outcome = rt.block_on(harness.run(&order_workload(2), schedule));
        rt.block_on(harness.shutdown()).unwrap();
        if let Err(v) = outcome {
            panic!("{v}");
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
    let outcome = runner.run(&schedules(&space), |schedule| {
        rt.block_on(harness.run(&workload, &schedule))
            .map_err(|v| TestCaseError::fail(v.to_string()))
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the broken workflow passed every schedule: {outcome:?}");
    };
    eprintln!("caught: {reason}\nminimal schedule:\n{minimal}");
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
    let outcome = runner.run(&persistence_faults(space), |faults| {
        let harness = rt
            .block_on(FaultHarness::with_persistence_faults(faults))
            .map_err(|e| TestCaseError::fail(format!("no stack: {e}")))?;
        let result = rt.block_on(harness.run(workload, &Schedule::default()));
        rt.block_on(harness.shutdown()).unwrap();
        result.map_err(|v| TestCaseError::fail(v.to_string()))
    });
    let Err(TestError::Fail(reason, minimal)) = outcome else {
        panic!("the broken workflow passed every set of persistence faults: {outcome:?}");
    };
    eprintln!("caught: {reason}\nminimal persistence faults: {minimal:?}");
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
/// stalls the server past what the impatient workflow allows (300 ms for an activity to
/// start). The server absorbs some kinds well: `Unavailable` broke it only at 71% (never up
/// to 40%).
fn impatient_workflow_caught_by(error: PersistenceError, max_percent: u8) {
    let space = PersistenceSpace {
        max_faults: 1,
        errors: vec![error],
        ..PersistenceSpace::method(
            Store::ExecutionStore,
            "UpdateWorkflowExecution",
            max_percent,
        )
    };
    let (_, minimal) = caught_by_persistence_faults(&impatient_workload(2), &space);
    assert_eq!(minimal[0].error, error, "{minimal:?}");
}

#[test]
fn an_impatient_workflow_is_caught_by_ambiguous_writes() {
    impatient_workflow_caught_by(PersistenceError::ExecuteAndTimeout, 40);
}

#[test]
fn an_impatient_workflow_is_caught_by_exhausted_persistence() {
    impatient_workflow_caught_by(PersistenceError::ResourceExhausted, 40);
}

/// A lost shard on writes of workflow state never broke it (up to 90%); on the history
/// queues' task reads it did (44% of `GetHistoryTasks`), found by this search over every
/// method in 445 s: too long for every run, so it is a long-run test (`-- --ignored`).
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
fn an_impatient_workflow_is_caught_by_unavailable_persistence() {
    impatient_workflow_caught_by(PersistenceError::Unavailable, 90);
}
