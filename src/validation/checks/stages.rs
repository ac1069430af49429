//! One check per stage of the validation workflow, all read from a single run of it.

use super::check;
use crate::validation::{fail, Check, Checked, Session, Stage, Status, Verdict};
use std::sync::Arc;

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "stage.connection",
            Workflow,
            Full,
            "Stage 1: an activity reaches Temporal and PostgreSQL",
            connection
        ),
        check!(
            "stage.workflow_execution",
            Workflow,
            Full,
            "Stage 2: the workflow runs a durable timer",
            workflow_execution
        ),
        check!(
            "stage.activity_execution",
            Workflow,
            Full,
            "Stage 3: an activity's payload goes out and comes back",
            activity_execution
        ),
        check!(
            "stage.state_persistence",
            Workflow,
            Full,
            "Stage 4: a marker persists in PostgreSQL; the workflow's row is found",
            state_persistence
        ),
        check!(
            "stage.error_handling",
            Workflow,
            Full,
            "Stage 5: an activity succeeds on its last attempt under exponential retry",
            error_handling
        ),
    ]
}

async fn stage(session: Arc<Session>, stage: Stage) -> Checked {
    let results = session.stages().await?;
    let Some(result) = results.iter().find(|r| r.stage == stage) else {
        let failed = results
            .iter()
            .find(|r| r.status == Status::Failed)
            .map(|r| r.stage.name())
            .unwrap_or("an earlier stage");
        return Err(fail(format!("not reached: stage {failed} failed first")));
    };
    let message = format!("{} ({} ms)", result.detail, result.duration_ms);
    match result.status {
        Status::Passed => Ok(message),
        Status::Failed => Err(fail(message)),
        Status::Skipped => Err(Verdict::Skipped(result.detail.clone())),
    }
}

async fn connection(session: Arc<Session>) -> Checked {
    stage(session, Stage::Connection).await
}

async fn workflow_execution(session: Arc<Session>) -> Checked {
    stage(session, Stage::WorkflowExecution).await
}

async fn activity_execution(session: Arc<Session>) -> Checked {
    stage(session, Stage::ActivityExecution).await
}

async fn state_persistence(session: Arc<Session>) -> Checked {
    stage(session, Stage::StatePersistence).await
}

async fn error_handling(session: Arc<Session>) -> Checked {
    stage(session, Stage::ErrorHandling).await
}
