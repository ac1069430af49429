//! One case: a worker and every job of the workload under a schedule, awaited through the
//! faults, then the invariants checked; a case that hangs names its open jobs and the
//! server's errors.

use super::{FaultHarness, Passed, Violation, CASE_TIMEOUT, POLL};
use crate::faults::model::Schedule;
use crate::faults::workload::{Awaited, Workload};
use crate::poll::{retry, Attempt};
use crate::runner::History;
use crate::worker_thread::{WorkerError, WorkerThread};
use std::time::{Duration, Instant};
use temporalio_client::errors::WorkflowStartError;
use temporalio_common::protos::temporal::api::enums::v1::EventType;

impl FaultHarness {
    /// Runs `workload` under `schedule`: starts a worker and every job, applies the faults,
    /// awaits every result, then checks the invariants (results, exactly-once completion,
    /// nothing lost, side-effect delivery, clean replay). `Err` lists what failed.
    pub async fn run(&self, workload: &Workload, schedule: &Schedule) -> Result<Passed, Violation> {
        let violation = |failures: Vec<String>| Violation {
            schedule: schedule.clone(),
            persistence: self.persistence.clone(),
            histories: Vec::new(),
            failures,
        };
        self.count(
            self.persistence
                .iter()
                .map(|f| (f.error.kind(), 1))
                .collect(),
        );
        if schedule.needs_standby() && self.failover.is_none() {
            return Err(violation(vec![
                "the schedule fails PostgreSQL over: run it on FaultHarness::failover()".into(),
            ]));
        }
        if schedule.needs_cluster() && self.cluster.is_none() {
            return Err(violation(vec![
                "the schedule kills or freezes cluster nodes: run it on FaultHarness::cluster()"
                    .into(),
            ]));
        }
        if schedule.needs_exclusive_stack() && self.control.is_none() {
            return Err(violation(vec![
                "the schedule restarts the server or PostgreSQL: run it on \
                 FaultHarness::exclusive()"
                    .into(),
            ]));
        }
        let prefix = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let task_queue = format!("faults-{prefix}");
        let ids: Vec<String> = (0..workload.jobs.len())
            .map(|i| format!("faults-{prefix}-job-{i}"))
            .collect();
        workload.points.arm(&schedule.faults, &ids);
        let outcome = tokio::time::timeout(
            CASE_TIMEOUT,
            self.run_case(workload, schedule, &task_queue, &ids),
        )
        .await
        .unwrap_or_else(|_| Err(self.hung(&ids)));
        workload.points.disarm(&ids);
        self.count(workload.points.take_fired());
        match outcome {
            Ok(histories) => Ok(Passed { histories }),
            Err(failures) => {
                let named: Vec<&String> = ids
                    .iter()
                    .filter(|id| failures.iter().any(|f| f.contains(id.as_str())))
                    .collect();
                let histories = self.write_histories(prefix, &named).await;
                Err(Violation {
                    histories,
                    ..violation(failures)
                })
            }
        }
    }

    /// What a case that did not finish shows: which jobs were still open, and the errors
    /// the server logged (what a hang after a fault is usually waiting for).
    pub(super) fn hung(&self, ids: &[String]) -> Vec<String> {
        let mut failures = vec![format!(
            "the case did not finish within {CASE_TIMEOUT:?}: jobs {} (their histories below)",
            ids.join(", ")
        )];
        failures.extend(self.server_errors());
        failures
    }

    /// The last errors of each server log in this harness's private state folder.
    pub(super) fn server_errors(&self) -> Vec<String> {
        let Some(private) = &self.private_state else {
            return Vec::new();
        };
        let logs = std::fs::read_dir(private.path())
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|stack| {
                std::fs::read_dir(stack.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("temporal-") && n.ends_with(".log"))
            });
        logs.filter_map(|log| {
            let text = std::fs::read_to_string(&log).ok()?;
            let errors: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("\"level\":\"error\"") || l.contains("\"level\":\"fatal\""))
                .collect();
            let tail: Vec<String> = errors[errors.len().saturating_sub(8)..]
                .iter()
                .map(|l| l.chars().take(400).collect())
                .collect();
            (!tail.is_empty()).then(|| {
                format!(
                    "{} logged {} error(s); the last:\n      {}",
                    log.display(),
                    errors.len(),
                    tail.join("\n      ")
                )
            })
        })
        .collect()
    }

    pub(super) async fn run_case(
        &self,
        workload: &Workload,
        schedule: &Schedule,
        task_queue: &str,
        ids: &[String],
    ) -> Result<Vec<History>, Vec<String>> {
        let mut options = workload
            .definitions
            .worker_options(task_queue)
            .map_err(|e| vec![e.to_string()])?
            .ok_or_else(|| vec!["the workload registers no workflows".to_string()])?;
        // A crashed worker's sticky tasks move to the normal queue after this long.
        options.sticky_queue_schedule_to_start_timeout = Duration::from_secs(1);
        let worker = self
            .start_worker(&options)
            .await
            .map_err(|e| vec![e.to_string()])?;
        let worker = tokio::sync::Mutex::new(Some(worker));
        let started = Instant::now();
        for (job, id) in workload.jobs.iter().zip(ids) {
            self.start_job(job, task_queue, id)
                .await
                .map_err(|e| vec![format!("{id}: could not be started: {e}")])?;
        }
        let faults = self.apply_faults(schedule, ids, started, &worker, &options);
        let results = futures::future::join_all(
            workload
                .jobs
                .iter()
                .zip(ids)
                .map(|(job, id)| self.await_job(job, id)),
        );
        let (applied, results) = futures::join!(faults, results);
        // With the worker still polling: tasks a fault left behind (dispatched, but their
        // removal lost) are offered to it and dropped as stale; without pollers they would
        // stay counted.
        let backlog = self.check_backlog(task_queue).await;
        if let Some(worker) = worker.lock().await.take() {
            stop(worker, true).await;
        }
        let mut failures: Vec<String> = applied.err().iter().map(ToString::to_string).collect();
        failures.extend(results.into_iter().flatten());
        let (broken, histories) = self.check_invariants(workload, ids).await;
        failures.extend(broken);
        failures.extend(self.check_visibility(ids).await);
        failures.extend(backlog);
        if failures.is_empty() {
            Ok(histories)
        } else {
            Err(failures)
        }
    }

    pub(super) async fn start_worker(
        &self,
        options: &temporalio_sdk::WorkerOptions,
    ) -> Result<WorkerThread, WorkerError> {
        WorkerThread::start(
            self.worker_target.clone(),
            self.namespace.clone(),
            options.clone(),
        )
        .await
    }

    /// Starts a job, retrying while the server is away; "already started" means an earlier
    /// attempt got through (IDs are never reused).
    pub(super) async fn start_job(
        &self,
        job: &crate::faults::workload::Job,
        task_queue: &str,
        id: &str,
    ) -> Result<(), WorkflowStartError> {
        retry(Duration::from_secs(30), POLL, |_| async {
            match (job.start)(self.client.clone(), task_queue.into(), id.into()).await {
                Ok(()) | Err(WorkflowStartError::AlreadyStarted { .. }) => Attempt::Done(()),
                Err(e) => Attempt::Again(e),
            }
        })
        .await
    }

    /// Awaits a job's result through restarts; `Some(failure)` if it is wrong or never comes.
    pub(super) async fn await_job(
        &self,
        job: &crate::faults::workload::Job,
        id: &str,
    ) -> Option<String> {
        loop {
            match (job.awaited)(self.client.clone(), id.into()).await {
                Awaited::Matched => return None,
                Awaited::Mismatch(m) => return Some(format!("{id}: {m}")),
                Awaited::Error(e) => {
                    // A closed-but-not-completed workflow is final; anything else is the
                    // stack being away, and waiting is right (the case timeout bounds it).
                    if let Ok(history) = History::fetch(&self.client, id).await {
                        if let Some(end) = closing_event(&history) {
                            if end != EventType::WorkflowExecutionCompleted {
                                return Some(format!("{id}: ended with {end:?}: {e}"));
                            }
                        }
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }
}

/// The event that closed the run, if it is closed.
pub(super) fn closing_event(history: &History) -> Option<EventType> {
    let last = history.events().last()?;
    let ty = EventType::try_from(last.event_type).ok()?;
    matches!(
        ty,
        EventType::WorkflowExecutionCompleted
            | EventType::WorkflowExecutionFailed
            | EventType::WorkflowExecutionTimedOut
            | EventType::WorkflowExecutionCanceled
            | EventType::WorkflowExecutionTerminated
            | EventType::WorkflowExecutionContinuedAsNew
    )
    .then_some(ty)
}

/// Stops a worker off the async threads (stopping joins its thread).
pub(super) async fn stop(worker: WorkerThread, graceful: bool) {
    let _ = tokio::task::spawn_blocking(move || worker.stop(graceful)).await;
}
