//! The canary workflow and one run of it: what users of the deployment feel, measured. A
//! durable timer against its due time, an update's round trip while the workflow waits, and
//! how long a started workflow takes to show in visibility.
// The SDK macros generate undocumented public items (run and update markers).
#![allow(missing_docs)]

use super::session::{within, Session, WORKFLOW_TIMEOUT};
use super::Verdict;
use crate::runner::History;
use std::time::{Duration, Instant};
use temporalio_client::tonic::Request;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowResult};

/// The timer the canary runs: long enough that its lateness is not noise, short enough for
/// the full profile.
pub const CANARY_TIMER: Duration = Duration::from_millis(500);
/// How often visibility is asked for the canary while waiting for it to show.
const VISIBILITY_POLL: Duration = Duration::from_millis(20);

/// The canary workflow (type name `TemporalHarnessCanary`): a timer of the given length,
/// then it waits for its `ping` update.
#[workflow]
#[derive(Default)]
pub struct CanaryWorkflow {
    pinged: bool,
}

#[workflow_methods]
impl CanaryWorkflow {
    #[run(name = "TemporalHarnessCanary")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, timer_ms: u64) -> WorkflowResult<()> {
        ctx.timer(Duration::from_millis(timer_ms)).await;
        ctx.wait_condition(|s| s.pinged).await?;
        Ok(())
    }

    /// Answers with its input.
    #[update]
    pub fn ping(&mut self, _ctx: &mut SyncWorkflowContext<Self>, value: String) -> String {
        self.pinged = true;
        value
    }
}

/// What one canary run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRun {
    /// From the start call's return until list queries find the workflow.
    pub visible_after: Duration,
    /// From sending the update to its answer.
    pub update_round_trip: Duration,
    /// TimerFired's time minus TimerStarted's time plus the timer (negative: fired early).
    pub timer_lateness_ms: i64,
}

/// Runs the canary once: start, wait to see it in visibility, update it, read its timer.
pub(super) async fn run(session: &Session) -> Result<CanaryRun, Verdict> {
    let failed = |what: &str, e: &dyn std::fmt::Display| Verdict::Failed(format!("{what}: {e}"));
    let client = session.client().await?;
    let workflow_id = format!("{}-canary", session.task_queue());
    let options = WorkflowStartOptions::new(session.task_queue(), &workflow_id).build();
    let handle = client
        .start_workflow(
            CanaryWorkflow::run,
            CANARY_TIMER.as_millis() as u64,
            options,
        )
        .await
        .map_err(|e| failed("cannot start the canary workflow", &e))?;
    let started = Instant::now();
    let run_id = handle.info().run_id.clone().unwrap_or_default();
    session.note_started(&workflow_id, &run_id);

    let visible_after = within(WORKFLOW_TIMEOUT, async {
        let query = format!("WorkflowId = '{workflow_id}'");
        loop {
            let listed = session
                .connection()
                .await?
                .workflow_service()
                .list_workflow_executions(Request::new(ListWorkflowExecutionsRequest {
                    namespace: session.target().namespace.clone(),
                    page_size: 1,
                    query: query.clone(),
                    ..Default::default()
                }))
                .await
                .map_err(|s| failed("ListWorkflowExecutions", &s.message()))?;
            if !listed.into_inner().executions.is_empty() {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(VISIBILITY_POLL).await;
        }
    })
    .await
    .map_err(|_| {
        Verdict::Failed(format!(
            "the canary workflow did not show in visibility within {WORKFLOW_TIMEOUT:?}: \
             visibility writes are stuck; see the history service's log"
        ))
    })??;

    let sent = Instant::now();
    let echoed = within(
        WORKFLOW_TIMEOUT,
        handle.execute_update(
            CanaryWorkflow::ping,
            "canary".to_string(),
            WorkflowExecuteUpdateOptions::default(),
        ),
    )
    .await?
    .map_err(|e| failed("the canary's update failed", &e))?;
    let update_round_trip = sent.elapsed();
    if echoed != "canary" {
        return Err(Verdict::Failed(format!(
            "the canary's update answered {echoed:?}, not its input"
        )));
    }
    within(
        WORKFLOW_TIMEOUT,
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await?
    .map_err(|e| failed("the canary workflow failed", &e))?;

    let timer_lateness_ms = timer_lateness(session, &workflow_id, &run_id).await?;
    Ok(CanaryRun {
        visible_after,
        update_round_trip,
        timer_lateness_ms,
    })
}

/// TimerFired minus (TimerStarted + the timer), from the run's history, in milliseconds.
async fn timer_lateness(
    session: &Session,
    workflow_id: &str,
    run_id: &str,
) -> Result<i64, Verdict> {
    let history = History::fetch_run(&session.client().await?, workflow_id, Some(run_id.into()))
        .await
        .map_err(|e| Verdict::Failed(format!("reading the canary's history: {e}")))?;
    history
        .timer_lateness_ms()
        .first()
        .map(|(_, late)| *late)
        .ok_or_else(|| {
            Verdict::Failed("the canary's history has no TimerStarted/TimerFired pair".into())
        })
}
