//! The workloads the fault tests run: the correct order, and the deliberately broken ones
//! (a non-idempotent charge, the impatient and the stopwatch orders).

use super::workflows::{
    ImpatientOrderWorkflow, OrderWorkflow, Shop, SloppyOrderWorkflow, SloppyShop,
    StopwatchOrderWorkflow,
};
use temporal_harness::faults::*;
use temporal_harness::runner::Definitions;
use temporalio_common::HasWorkflowDefinition;

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

/// Orders that reserve their item four times, run by `workflow` (`|| W::run`) of the workflow
/// type `register` adds: the impatient or the stopwatch order.
pub fn reserving_workload<W>(
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
pub fn impatient_workload(jobs: usize) -> Workload {
    reserving_workload(
        jobs,
        |d| d.workflow::<ImpatientOrderWorkflow>(),
        || ImpatientOrderWorkflow::run,
    )
}

/// Orders that give each step [`workflows::STEP_LIMIT`]: broken by any stall longer than that
/// while they run.
pub fn stopwatch_workload(jobs: usize) -> Workload {
    reserving_workload(
        jobs,
        |d| d.workflow::<StopwatchOrderWorkflow>(),
        || StopwatchOrderWorkflow::run,
    )
}
