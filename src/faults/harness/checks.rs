//! What the harness checks once a case has run: the invariants read from each job's history,
//! what the server says (visibility, backlog), and the histories a violation names.

use super::case::closing_event;
use super::{FaultHarness, POLL};
use crate::faults::workload::{effect_key, Delivery, Workload};
use crate::poll::{retry, Attempt};
use crate::runner::History;
use std::time::Duration;
use temporalio_client::tonic::Request;
use temporalio_common::protos::temporal::api::enums::v1::{
    EventType, TaskQueueType, WorkflowExecutionStatus,
};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeTaskQueueRequest, ListWorkflowExecutionsRequest,
};

/// How long visibility may lag history once the workflows closed.
const VISIBILITY_BOUND: Duration = Duration::from_secs(10);
/// How long the task queue's backlog may take to drain once the workflows closed.
const BACKLOG_BOUND: Duration = Duration::from_secs(30);
/// Between list queries while waiting for visibility to agree.
const VISIBILITY_POLL: Duration = Duration::from_millis(200);

impl FaultHarness {
    /// The invariants of each job's history and side effects, and replay; returns what
    /// failed and the histories read.
    pub(super) async fn check_invariants(
        &self,
        workload: &Workload,
        ids: &[String],
    ) -> (Vec<String>, Vec<History>) {
        let mut failures = Vec::new();
        let mut histories = Vec::new();
        for id in ids {
            match History::fetch(&self.client, id).await {
                Err(e) => failures.push(format!("{id}: lost: {e}")),
                Ok(history) => {
                    let completions = history.count(EventType::WorkflowExecutionCompleted);
                    if completions != 1 {
                        failures.push(format!("{id}: completed {completions} times, not once"));
                    }
                    failures.extend(
                        crate::faults::invariants::history_invariants(&history)
                            .into_iter()
                            .map(|found| format!("{id}: {found}")),
                    );
                    histories.push(history);
                }
            }
            for (name, delivery) in &workload.deliveries {
                let n = workload.effects.count(&effect_key(id, name));
                let ok = match delivery {
                    Delivery::AtLeastOnce => n >= 1,
                    Delivery::ExactlyOnce => n == 1,
                };
                if !ok {
                    failures.push(format!(
                        "{id}: side effect `{name}` happened {n} times, expected {delivery:?}"
                    ));
                }
            }
        }
        if let Err(e) = workload
            .definitions
            .replay(&self.client, ids, None, &|_| None)
            .await
        {
            failures.push(format!("replay: {e}"));
        }
        (failures, histories)
    }

    /// Visibility agrees with history after the run: one record per workflow, with the status
    /// its history ends in, within [`VISIBILITY_BOUND`].
    pub(super) async fn check_visibility(&self, ids: &[String]) -> Vec<String> {
        let mut failures = Vec::new();
        let service = self.client.connection().workflow_service();
        for id in ids {
            let Ok(history) = History::fetch(&self.client, id).await else {
                continue; // reported as lost by the history invariants
            };
            let expected = status_of(closing_event(&history)) as i32;
            let query = format!("WorkflowId = '{id}'");
            // Slower than the other polls: list queries count against the namespace's
            // visibility rate limit.
            let agreed = retry(VISIBILITY_BOUND, VISIBILITY_POLL, |_| {
                let mut service = service.clone();
                let query = query.clone();
                async move {
                    let listed = service
                        .list_workflow_executions(Request::new(ListWorkflowExecutionsRequest {
                            namespace: self.namespace.clone(),
                            page_size: 10,
                            query,
                            ..Default::default()
                        }))
                        .await;
                    let statuses: Vec<i32> = match listed {
                        Ok(l) => l.into_inner().executions.iter().map(|e| e.status).collect(),
                        Err(e) => return Attempt::Again(format!("list failed: {}", e.message())),
                    };
                    if statuses == [expected] {
                        Attempt::Done(())
                    } else {
                        Attempt::Again(format!(
                            "visibility shows {} record(s) with status {statuses:?}, history one \
                             run with status {expected}",
                            statuses.len()
                        ))
                    }
                }
            })
            .await;
            if let Err(why) = agreed {
                failures.push(format!("{id}: after {VISIBILITY_BOUND:?} {why}"));
            }
        }
        failures
    }

    /// The task queue's backlog drains to nothing within [`BACKLOG_BOUND`] after the last
    /// workflow closed.
    pub(super) async fn check_backlog(&self, task_queue: &str) -> Vec<String> {
        let mut failures = Vec::new();
        let service = self.client.connection().workflow_service();
        for kind in [TaskQueueType::Workflow, TaskQueueType::Activity] {
            let drained = retry(BACKLOG_BOUND, POLL, |_| {
                let mut service = service.clone();
                async move {
                    let described = service
                        .describe_task_queue(Request::new(DescribeTaskQueueRequest {
                            namespace: self.namespace.clone(),
                            task_queue: Some(TaskQueue {
                                name: task_queue.into(),
                                ..Default::default()
                            }),
                            task_queue_type: kind as i32,
                            report_stats: true,
                            ..Default::default()
                        }))
                        .await;
                    match described.map(|d| d.into_inner().stats) {
                        Ok(Some(stats)) if stats.approximate_backlog_count == 0 => {
                            Attempt::Done(())
                        }
                        // After a PostgreSQL failover the server's count can stay above zero
                        // with no task waiting (it resets only when the queue's ack level
                        // catches up): the oldest waiting task's age, zero, is the truth.
                        Ok(Some(stats))
                            if stats
                                .approximate_backlog_age
                                .is_some_and(|age| age.seconds == 0 && age.nanos == 0) =>
                        {
                            Attempt::Done(())
                        }
                        Ok(Some(stats)) => Attempt::Again(format!(
                            "{} task(s) still waiting (oldest {:?} old)",
                            stats.approximate_backlog_count, stats.approximate_backlog_age
                        )),
                        Ok(None) => Attempt::Fail("the server reports no backlog".to_string()),
                        Err(e) => Attempt::Again(format!("describe failed: {}", e.message())),
                    }
                }
            })
            .await;
            if let Err(why) = drained {
                failures.push(format!(
                    "{kind:?} task queue {task_queue}: backlog not drained within \
                     {BACKLOG_BOUND:?}: {why}"
                ));
            }
        }
        failures
    }

    /// Writes the histories of `ids` to the private failure folder; returns each path with
    /// the history rendered (what could not be fetched or written is left out).
    pub(super) async fn write_histories(
        &self,
        prefix: &str,
        ids: &[&String],
    ) -> Vec<(std::path::PathBuf, String)> {
        let Ok(dir) = crate::runner::histories_dir(&format!("faults-{prefix}")) else {
            return Vec::new();
        };
        let mut written = Vec::new();
        for id in ids {
            if let Ok(history) = History::fetch(&self.client, id).await {
                let path = dir.join(format!("{id}.json"));
                if std::fs::write(&path, history.to_json()).is_ok() {
                    written.push((path, history.render()));
                }
            }
        }
        written
    }
}

/// The execution status a history that ends with `closing` has.
fn status_of(closing: Option<EventType>) -> WorkflowExecutionStatus {
    match closing {
        Some(EventType::WorkflowExecutionCompleted) => WorkflowExecutionStatus::Completed,
        Some(EventType::WorkflowExecutionFailed) => WorkflowExecutionStatus::Failed,
        Some(EventType::WorkflowExecutionTimedOut) => WorkflowExecutionStatus::TimedOut,
        Some(EventType::WorkflowExecutionCanceled) => WorkflowExecutionStatus::Canceled,
        Some(EventType::WorkflowExecutionTerminated) => WorkflowExecutionStatus::Terminated,
        Some(EventType::WorkflowExecutionContinuedAsNew) => WorkflowExecutionStatus::ContinuedAsNew,
        _ => WorkflowExecutionStatus::Running,
    }
}
