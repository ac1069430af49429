//! Canaries: what users feel, measured on the deployment with a canary workflow (one run
//! shared by the timer, update and visibility checks) and a one-shot schedule.

use super::check;
use crate::poll::{retry, Attempt};
use crate::validation::context::{measure, warn};
use crate::validation::{fail, Check, Checked, Session};
use std::sync::Arc;
use std::time::{Duration, Instant};
use temporalio_client::tonic::Request;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads, WorkflowType};
use temporalio_common::protos::temporal::api::schedule::v1::{
    schedule_action, IntervalSpec, Schedule, ScheduleAction, ScheduleSpec, ScheduleState,
};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflow::v1::NewWorkflowExecutionInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, CreateScheduleRequest, DeleteScheduleRequest,
    DescribeScheduleRequest,
};

/// Timer lateness (ms): warn, fail.
pub const TIMER_LATE_MS: (i64, i64) = (1_000, 5_000);
/// Update round trip (ms): warn, fail.
pub const UPDATE_MS: (u128, u128) = (1_000, 5_000);
/// Start-to-visible (ms): warn, fail.
pub const VISIBLE_MS: (u128, u128) = (2_000, 10_000);
/// The schedule's interval: it fires at the next whole second.
const SCHEDULE_INTERVAL: Duration = Duration::from_secs(1);
/// How long the schedule may take to fire, and its workflow to show.
const SCHEDULE_WAIT: Duration = Duration::from_secs(20);

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "canary.timer",
            Canary,
            Full,
            "A 500 ms durable timer fires no earlier than due and within 1 s (warn) / 5 s",
            timer
        ),
        check!(
            "canary.update",
            Canary,
            Full,
            "An update to a running workflow round-trips within 1 s (warn) / 5 s",
            update
        ),
        check!(
            "canary.schedule",
            Canary,
            Full,
            "A schedule limited to one action fires exactly once",
            schedule
        ),
        check!(
            "canary.visibility_latency",
            Canary,
            Full,
            "A started workflow shows in list queries within 2 s (warn) / 10 s",
            visibility_latency
        ),
    ]
}

async fn timer(session: Arc<Session>) -> Checked {
    let late = session.canary().await?.timer_lateness_ms;
    measure("timer_lateness_ms", late as f64);
    if late < 0 {
        return Err(fail(format!(
            "the timer fired {} ms before it was due: timers must never fire early; check the \
             clocks of the history hosts (NTP)",
            -late
        )));
    }
    if late > TIMER_LATE_MS.1 {
        return Err(fail(format!(
            "the timer fired {late} ms late: timer processing lags; check the history hosts' \
             load and the timer queue (task_latency metrics)"
        )));
    }
    if late > TIMER_LATE_MS.0 {
        warn(format!("fired {late} ms late"));
    }
    Ok(format!(
        "a {} ms timer fired {late} ms after its due time",
        crate::validation::canary::CANARY_TIMER.as_millis()
    ))
}

async fn update(session: Arc<Session>) -> Checked {
    let took = session.canary().await?.update_round_trip.as_millis();
    measure("update_round_trip_ms", took as f64);
    if took > UPDATE_MS.1 {
        return Err(fail(format!(
            "the update took {took} ms: workflow tasks reach the worker slowly; see \
             metrics.schedule_to_start"
        )));
    }
    if took > UPDATE_MS.0 {
        warn(format!("{took} ms"));
    }
    Ok(format!("update answered in {took} ms"))
}

async fn visibility_latency(session: Arc<Session>) -> Checked {
    let took = session.canary().await?.visible_after.as_millis();
    measure("start_to_visible_ms", took as f64);
    if took > VISIBLE_MS.1 {
        return Err(fail(format!(
            "the workflow showed in list queries {took} ms after it started: visibility lags; \
             check the visibility database and the history service's visibility queue"
        )));
    }
    if took > VISIBLE_MS.0 {
        warn(format!("{took} ms"));
    }
    Ok(format!(
        "visible in list queries {took} ms after the start returned"
    ))
}

async fn schedule(session: Arc<Session>) -> Checked {
    session.worker().await?;
    let connection = session.connection().await?;
    let namespace = session.target().namespace.clone();
    let schedule_id = format!("{}-schedule", session.task_queue());
    let action = NewWorkflowExecutionInfo {
        workflow_id: format!("{schedule_id}-run"),
        workflow_type: Some(WorkflowType {
            name: "TemporalHarnessProbe".into(),
        }),
        task_queue: Some(TaskQueue {
            name: session.task_queue().into(),
            ..Default::default()
        }),
        input: Some(Payloads {
            payloads: vec![json_payload("schedule")],
        }),
        ..Default::default()
    };
    let created = Instant::now();
    connection
        .workflow_service()
        .create_schedule(Request::new(CreateScheduleRequest {
            namespace: namespace.clone(),
            schedule_id: schedule_id.clone(),
            schedule: Some(Schedule {
                spec: Some(ScheduleSpec {
                    interval: vec![IntervalSpec {
                        interval: Some(prost_duration(SCHEDULE_INTERVAL)),
                        phase: None,
                    }],
                    ..Default::default()
                }),
                action: Some(ScheduleAction {
                    action: Some(schedule_action::Action::StartWorkflow(action)),
                }),
                state: Some(ScheduleState {
                    limited_actions: true,
                    remaining_actions: 1,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            identity: "temporal-harness validate".into(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }))
        .await
        .map_err(|s| {
            fail(format!(
                "CreateSchedule failed: {} (schedules need the worker service and the \
                 namespace's scheduler; see temporal.membership)",
                s.message()
            ))
        })?;
    let outcome = watch_schedule(&session, &schedule_id, created).await;
    // The schedule is done either way; leave nothing behind.
    let _ = connection
        .workflow_service()
        .delete_schedule(Request::new(DeleteScheduleRequest {
            namespace,
            schedule_id,
            identity: "temporal-harness validate".into(),
        }))
        .await;
    outcome
}

/// Waits until the schedule has fired and its workflow shows, then checks it fired once.
async fn watch_schedule(session: &Session, schedule_id: &str, created: Instant) -> Checked {
    let connection = session.connection().await?;
    let namespace = session.target().namespace.clone();
    let fired_after = retry(SCHEDULE_WAIT, Duration::from_millis(50), |_| async {
        let described = connection
            .workflow_service()
            .describe_schedule(Request::new(DescribeScheduleRequest {
                namespace: namespace.clone(),
                schedule_id: schedule_id.into(),
            }))
            .await;
        let described = match described {
            Ok(d) => d.into_inner(),
            Err(s) => return Attempt::Fail(fail(format!("DescribeSchedule: {}", s.message()))),
        };
        let info = described.info.unwrap_or_default();
        let remaining = described
            .schedule
            .and_then(|s| s.state)
            .map_or(-1, |s| s.remaining_actions);
        if info.action_count >= 1 && remaining == 0 && info.future_action_times.is_empty() {
            return Attempt::Done((created.elapsed(), info.action_count));
        }
        Attempt::Again(fail(format!(
            "the schedule has not fired within {SCHEDULE_WAIT:?} (actions {}, remaining \
             {remaining}): the scheduler is not running; check the worker service",
            info.action_count
        )))
    })
    .await?;
    let (after, actions) = fired_after;
    measure("schedule_fire_ms", after.as_millis() as f64);
    if actions != 1 {
        return Err(fail(format!(
            "a schedule limited to one action took {actions}: remaining_actions is not honoured"
        )));
    }
    let query = format!("TemporalScheduledById = '{schedule_id}'");
    let started = retry(SCHEDULE_WAIT, Duration::from_millis(50), |_| async {
        let counted = connection
            .workflow_service()
            .count_workflow_executions(Request::new(CountWorkflowExecutionsRequest {
                namespace: namespace.clone(),
                query: query.clone(),
            }))
            .await;
        match counted.map(|c| c.into_inner().count) {
            Ok(0) => Attempt::Again(fail(format!(
                "the schedule reports its action but no workflow matches {query} within \
                 {SCHEDULE_WAIT:?}: visibility lags (see canary.visibility_latency)"
            ))),
            Ok(n) => Attempt::Done(n),
            Err(s) => Attempt::Fail(fail(format!("CountWorkflowExecutions: {}", s.message()))),
        }
    })
    .await?;
    measure("scheduled_workflows", started as f64);
    if started != 1 {
        return Err(fail(format!(
            "{started} workflows match {query}: a one-shot schedule started more than one"
        )));
    }
    Ok(format!(
        "fired once, {} ms after it was created (interval {SCHEDULE_INTERVAL:?}); one workflow \
         started",
        after.as_millis()
    ))
}

fn json_payload(value: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(value).expect("a string is JSON"),
        ..Default::default()
    }
}

fn prost_duration(d: Duration) -> prost_wkt_types::Duration {
    prost_wkt_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}
