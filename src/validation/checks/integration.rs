//! Integration checks: what Temporal says about a workflow agrees with what it wrote to
//! PostgreSQL.

use super::check;
use crate::validation::{fail, Check, Checked, Db, Session};
use std::sync::Arc;
use temporalio_client::tonic::Request;
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;

/// `run_id` is stored as the UUID's 16 bytes.
const RUN_ID: &str = "decode(replace($2, '-', ''), 'hex')";

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "integration.current_executions",
            Integration,
            Full,
            "A workflow run through Temporal shows in current_executions as completed",
            current_executions
        ),
        check!(
            "integration.history_length",
            Integration,
            Full,
            "The workflow's history length equals executions.next_event_id - 1",
            history_length
        ),
    ]
}

async fn current_executions(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let probe = session.probe().await?;
    let row: Option<(i32, i32)> = sqlx::query_as(&format!(
        "SELECT state, status FROM current_executions WHERE workflow_id = $1 AND run_id = {RUN_ID}"
    ))
    .bind(&probe.workflow_id)
    .bind(&probe.run_id)
    .fetch_optional(pool)
    .await
    .map_err(|e| fail(format!("reading current_executions: {e}")))?;
    match row {
        // Temporal's enums: state 3 = completed, status 2 = completed.
        Some((3, 2)) => Ok(format!(
            "{} is in current_executions with state completed, status completed",
            probe.workflow_id
        )),
        Some((state, status)) => Err(fail(format!(
            "{} has state {state}, status {status}; expected 3 (completed), 2 (completed)",
            probe.workflow_id
        ))),
        None => Err(fail(format!(
            "{} completed but has no current_executions row: the server writes to another \
             database than the one given",
            probe.workflow_id
        ))),
    }
}

async fn history_length(session: Arc<Session>) -> Checked {
    let pool = session.pool(Db::Temporal).await?;
    let probe = session.probe().await?.clone();
    let connection = session.connection().await?;
    let mut events = 0usize;
    let mut token = Vec::new();
    loop {
        let page = connection
            .workflow_service()
            .get_workflow_execution_history(Request::new(GetWorkflowExecutionHistoryRequest {
                namespace: session.target().namespace.clone(),
                execution: Some(WorkflowExecution {
                    workflow_id: probe.workflow_id.clone(),
                    run_id: probe.run_id.clone(),
                }),
                next_page_token: token,
                ..Default::default()
            }))
            .await
            .map_err(|s| {
                fail(format!(
                    "GetWorkflowExecutionHistory failed: {}",
                    s.message()
                ))
            })?
            .into_inner();
        events += page.history.map(|h| h.events.len()).unwrap_or(0);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let next_event_id: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT next_event_id FROM executions WHERE workflow_id = $1 AND run_id = {RUN_ID}"
    ))
    .bind(&probe.workflow_id)
    .bind(&probe.run_id)
    .fetch_optional(pool)
    .await
    .map_err(|e| fail(format!("reading executions: {e}")))?;
    match next_event_id {
        Some(next) if next - 1 == events as i64 => Ok(format!(
            "{events} events in history = next_event_id {next} - 1"
        )),
        Some(next) => Err(fail(format!(
            "history has {events} events but executions.next_event_id is {next}: the \
             database and the server disagree"
        ))),
        None => Err(fail(format!(
            "no executions row for {}: the server writes to another database",
            probe.workflow_id
        ))),
    }
}
