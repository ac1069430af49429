//! The workloads the fault tests run: the correct order, and the deliberately broken ones
//! (a non-idempotent charge, the impatient and the stopwatch orders).

use super::workflows::{
    ImpatientOrderWorkflow, OrderWorkflow, Shop, SloppyOrderWorkflow, SloppyShop, StopwatchOrder,
    StopwatchOrderWorkflow, FIRST_JUDGED_STEP, IMPATIENT_STEPS, STOPWATCH_STEPS,
};
use std::ops::RangeInclusive;
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

/// Orders that reserve their item `steps` times, run by the workflow type `register` adds;
/// `job(item, expected)` makes each one's job.
fn reserving_workload(
    jobs: usize,
    steps: usize,
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
        let expected = vec![format!("reserved {item}"); steps].join(", ");
        workload = workload.job(job(item, expected));
    }
    workload
}

/// Orders whose activities may wait 300 ms for a worker and are never retried: broken by any
/// stall of the server longer than that while an activity waits in its queue.
pub fn impatient_workload(jobs: usize) -> Workload {
    reserving_workload(
        jobs,
        IMPATIENT_STEPS,
        |d| d.workflow::<ImpatientOrderWorkflow>(),
        |item, expected| Job::new(|| ImpatientOrderWorkflow::run, item, expected),
    )
}

/// Orders that give each judged step `limit` of workflow time: broken by any stall longer
/// than that while one runs.
pub fn stopwatch_workload(jobs: usize, limit: Duration) -> Workload {
    let step_limit_ms = limit.as_millis() as u64;
    reserving_workload(
        jobs,
        STOPWATCH_STEPS,
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

/// The limit each judged step of the catches' stopwatch orders gets: [`STEP_MARGIN`] times
/// the slowest judged step of the control run `passed` (with [`UNLIMITED`]), at least
/// [`STEP_FLOOR`]. The first step, which warms up, is neither judged nor measured.
pub fn step_limit(passed: &Passed) -> Duration {
    let slowest = passed
        .histories
        .iter()
        .flat_map(|h| step_times(h).into_iter().skip(FIRST_JUDGED_STEP))
        .max()
        .expect("the control run's histories have judged steps");
    (slowest * STEP_MARGIN).max(STEP_FLOOR)
}

/// How long each step of a stopwatch order took, in workflow time, read from its history as
/// the workflow measures it: from the workflow task that scheduled a step's reservation to the
/// one that scheduled the next (or completed the order).
pub fn step_times(history: &History) -> Vec<Duration> {
    boundaries(history)
        .windows(2)
        .map(|w| w[1].1.saturating_sub(w[0].1))
        .collect()
}

/// Where a fault must begin to stall a judged step of a stopwatch order, as triggers of a
/// [`ScheduleSpace`]: `(events, activities)`. Events: from the one that begins the first
/// judged step to the last before the one that begins the last-but-one step; activities:
/// after the first judged step's reservation up to the last-but-one step's. The last two
/// steps are the slack for noticing the trigger and applying the fault: one that came after
/// the order ended would stall nothing, and one during the first step nothing judged. Read
/// from a history of the control run: every order has the same shape without faults.
pub fn judged_steps(control: &Passed) -> (RangeInclusive<u32>, RangeInclusive<u32>) {
    let history = control
        .histories
        .first()
        .expect("the control run has a history");
    let starts = boundaries(history);
    assert_eq!(
        starts.len(),
        STOPWATCH_STEPS + 1,
        "not the history of a stopwatch order without faults"
    );
    let events = starts[FIRST_JUDGED_STEP].0..=starts[STOPWATCH_STEPS - 2].0 - 1;
    let activities = FIRST_JUDGED_STEP as u32 + 1..=STOPWATCH_STEPS as u32 - 2;
    (events, activities)
}

/// Where each step of a stopwatch order begins, and where the order ends: the workflow task
/// that scheduled the step's reservation (or completed the order), as its position in the
/// history (a history length a trigger can wait for) and its workflow time.
fn boundaries(history: &History) -> Vec<(u32, Duration)> {
    let mut task_started = None;
    let mut boundaries = Vec::new();
    for (position, event) in (1..).zip(history.events()) {
        let at = event
            .event_time
            .as_ref()
            .map(|t| Duration::new(t.seconds as u64, t.nanos as u32));
        match EventType::try_from(event.event_type) {
            Ok(EventType::WorkflowTaskStarted) => task_started = at.map(|at| (position, at)),
            Ok(EventType::ActivityTaskScheduled | EventType::WorkflowExecutionCompleted) => {
                boundaries.extend(task_started)
            }
            _ => {}
        }
    }
    boundaries
}
