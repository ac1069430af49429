//! The workloads the fault tests run: the correct order, and the deliberately broken ones
//! (a non-idempotent charge, the impatient and the stopwatch orders).

use super::workflows::{
    ImpatientOrderWorkflow, OrderWorkflow, Shop, SloppyOrderWorkflow, SloppyShop, StopwatchOrder,
    StopwatchOrderWorkflow, STOPWATCH_STEPS,
};
use std::time::Duration;
use temporal_harness::faults::*;
use temporal_harness::prelude::EventType;
use temporal_harness::runner::{Definitions, History};

pub fn order_workload(jobs: usize) -> Workload {
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

pub fn sloppy_workload(jobs: usize) -> Workload {
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

/// Orders that reserve their item four times, run by the workflow type `register` adds;
/// `job(item, expected)` makes each one's job.
fn reserving_workload(
    jobs: usize,
    register: fn(Definitions) -> Definitions,
    job: impl Fn(String, String) -> Job,
) -> Workload {
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
        let expected = vec![format!("reserved {item}"); STOPWATCH_STEPS].join(", ");
        workload = workload.job(job(item, expected));
    }
    workload
}

/// Orders whose activities may wait 300 ms for a worker and are never retried: broken by any
/// stall of the server longer than that while an activity waits in its queue.
pub fn impatient_workload(jobs: usize) -> Workload {
    reserving_workload(
        jobs,
        |d| d.workflow::<ImpatientOrderWorkflow>(),
        |item, expected| Job::new(|| ImpatientOrderWorkflow::run, item, expected),
    )
}

/// Orders that give each step `limit` of workflow time: broken by any stall longer than that
/// while they run.
pub fn stopwatch_workload(jobs: usize, limit: Duration) -> Workload {
    let step_limit_ms = limit.as_millis() as u64;
    reserving_workload(
        jobs,
        |d| d.workflow::<StopwatchOrderWorkflow>(),
        move |item, expected| {
            let order = StopwatchOrder {
                item,
                step_limit_ms,
            };
            Job::new(|| StopwatchOrderWorkflow::run, order, expected)
        },
    )
}

/// The stopwatch's limit in a control run: one no step reaches, so the control measures the
/// steps instead of judging them.
pub const UNLIMITED: Duration = Duration::from_secs(3600);

/// How many times its slowest step in the control run a step may take in the catches: a
/// machine four times slower than during the control changes no verdict.
pub const STEP_MARGIN: u32 = 4;

/// The least limit, for a control run on an idle machine whose steps take 110-150 ms.
pub const STEP_FLOOR: Duration = Duration::from_millis(500);

/// The limit each step of the catches' stopwatch orders gets: [`STEP_MARGIN`] times the
/// slowest step of the control run `passed` (with [`UNLIMITED`]), at least [`STEP_FLOOR`].
pub fn step_limit(passed: &Passed) -> Duration {
    let slowest = passed
        .histories
        .iter()
        .flat_map(step_times)
        .max()
        .expect("the control run's histories have steps");
    (slowest * STEP_MARGIN).max(STEP_FLOOR)
}

/// How long each step of a stopwatch order took, in workflow time, read from its history as
/// the workflow measures it: from the workflow task that scheduled a step's reservation to the
/// one that scheduled the next (or completed the order).
pub fn step_times(history: &History) -> Vec<Duration> {
    let mut task_started = None;
    let mut boundaries = Vec::new();
    for event in history.events() {
        let at = event
            .event_time
            .as_ref()
            .map(|t| Duration::new(t.seconds as u64, t.nanos as u32));
        match EventType::try_from(event.event_type) {
            Ok(EventType::WorkflowTaskStarted) => task_started = at,
            Ok(EventType::ActivityTaskScheduled | EventType::WorkflowExecutionCompleted) => {
                boundaries.extend(task_started)
            }
            _ => {}
        }
    }
    boundaries
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .collect()
}
