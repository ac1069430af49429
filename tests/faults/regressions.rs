//! Schedules found worth keeping, pasted from their printed form, replayed on every run.

use super::workloads::*;
use super::{on_a_failover_stack, runtime};
use temporal_harness::faults::*;
use temporal_harness::stack::Outage;

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
