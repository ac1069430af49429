//! Correct workloads pass every generated schedule of every topology's faults, the
//! invariants checked after each case.

use super::workloads::*;
use super::{cases, on_a_failover_stack, runner, runtime};
use proptest::test_runner::{TestCaseError, TestError};
use std::time::Instant;
use temporal_harness::faults::*;
use temporal_harness::stack::PersistenceFault;

/// Runs `cases` generated schedules; panics with the shrunk schedule on a violation.
fn check_property(harness: &FaultHarness, workload: &Workload, kinds: FaultKinds, n: u32) {
    let rt = runtime();
    let space = ScheduleSpace::new(workload.jobs(), workload.points(), kinds);
    let started = Instant::now();
    let outcome = runner(n).run(&schedules(&space), |schedule| {
        rt.block_on(harness.run(workload, &schedule))
            .map(drop)
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
        result
            .map(drop)
            .map_err(|v| TestCaseError::fail(v.to_string()))
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
