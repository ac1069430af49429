//! What a run does on the shared deployment itself: the marker its namespaces carry, ending
//! the run (deleting its namespaces, terminating its open workflows) and sweeping what killed
//! runs left there once it is older than the run TTL. Everything is found through the
//! deployment's own APIs (namespace data, visibility), so a run on one machine sweeps what a
//! run on another machine left.

use super::RunScope;
use crate::config::RunIsolation;
use crate::error::Grpc;
use crate::stack::readiness::NamespaceData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use temporalio_client::{tonic, Connection};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::namespace::v1::NamespaceFilter;
use temporalio_common::protos::temporal::api::operatorservice::v1::DeleteNamespaceRequest;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    ListNamespacesRequest, ListWorkflowExecutionsRequest, TerminateWorkflowExecutionRequest,
};

/// Namespace data keys of the marker: which run made it, when (Unix seconds) and who.
const MARK_RUN: &str = "temporal-harness.run";
const MARK_CREATED: &str = "temporal-harness.created";
const MARK_BY: &str = "temporal-harness.by";

/// How long ending a run keeps terminating what visibility still lists as open (a workflow
/// started a moment before the end may be listed a moment later).
const TERMINATE_BUDGET: Duration = Duration::from_secs(30);
/// Terminations in flight at once.
const TERMINATE_CONCURRENCY: usize = 16;

/// The data a namespace of `run` is registered with.
pub(super) fn marker(run: &RunScope, created: SystemTime) -> NamespaceData {
    let user = std::env::var("USER").unwrap_or_else(|_| format!("uid {}", crate::stack::euid()));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown host".into());
    NamespaceData::from([
        (MARK_RUN.to_string(), run.id.clone()),
        (MARK_CREATED.to_string(), unix_seconds(created).to_string()),
        (
            MARK_BY.to_string(),
            format!("{user}@{host} pid {}", std::process::id()),
        ),
    ])
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A namespace that carries a run's marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Marked {
    pub(super) name: String,
    pub(super) run: String,
    /// Unix seconds; `None` when the marker's time is unreadable (never swept by age).
    pub(super) created: Option<u64>,
}

impl Marked {
    fn of(name: &str, data: &NamespaceData) -> Option<Marked> {
        Some(Marked {
            name: name.to_string(),
            run: data.get(MARK_RUN)?.clone(),
            created: data.get(MARK_CREATED).and_then(|t| t.parse().ok()),
        })
    }

    /// Older than `ttl` at `now`: a leftover of a run that did not end it.
    pub(super) fn expired(&self, now: SystemTime, ttl: Duration) -> bool {
        self.created
            .is_some_and(|created| unix_seconds(now).saturating_sub(created) > ttl.as_secs())
    }
}

/// Every registered (not deleted) namespace that carries a run's marker.
pub(super) async fn marked_namespaces(connection: &Connection) -> Result<Vec<Marked>, Grpc> {
    let mut marked = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = connection
            .workflow_service()
            .list_namespaces(tonic::Request::new(ListNamespacesRequest {
                page_size: 100,
                next_page_token: token,
                namespace_filter: Some(NamespaceFilter {
                    include_deleted: false,
                }),
            }))
            .await?
            .into_inner();
        marked.extend(
            page.namespaces
                .iter()
                .filter_map(|n| n.namespace_info.as_ref())
                .filter_map(|info| Marked::of(&info.name, &info.data)),
        );
        if page.next_page_token.is_empty() {
            return Ok(marked);
        }
        token = page.next_page_token;
    }
}

/// Deletes `namespace` and, through the server's own deletion workflow, every workflow in it.
pub(super) async fn delete_namespace(connection: &Connection, namespace: &str) -> Result<(), Grpc> {
    let deleted = connection
        .operator_service()
        .delete_namespace(tonic::Request::new(DeleteNamespaceRequest {
            namespace: namespace.into(),
            ..Default::default()
        }))
        .await;
    match deleted {
        // Another run's sweep got there first.
        Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
        other => other.map(drop).map_err(Grpc),
    }
}

/// Terminates every workflow in `namespace` that `query` lists as running, until the listing
/// is empty or [`TERMINATE_BUDGET`] has passed. Returns how many it terminated.
pub(super) async fn terminate_open(
    connection: &Connection,
    namespace: &str,
    query: &str,
    reason: &str,
) -> Result<usize, Grpc> {
    use futures::StreamExt;
    let query = format!("ExecutionStatus = 'Running' AND ({query})");
    let deadline = tokio::time::Instant::now() + TERMINATE_BUDGET;
    let mut terminated = 0;
    loop {
        let open = list(connection, namespace, &query).await?;
        if open.is_empty() || tokio::time::Instant::now() > deadline {
            return Ok(terminated);
        }
        let results: Vec<Result<bool, Grpc>> = futures::stream::iter(open)
            .map(|execution| terminate(connection, namespace, execution, reason))
            .buffer_unordered(TERMINATE_CONCURRENCY)
            .collect()
            .await;
        for result in results {
            terminated += usize::from(result?);
        }
        // What was just terminated may still be listed as running for a moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every execution `query` lists in `namespace`.
pub(super) async fn list(
    connection: &Connection,
    namespace: &str,
    query: &str,
) -> Result<Vec<WorkflowExecution>, Grpc> {
    let mut found = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = connection
            .workflow_service()
            .list_workflow_executions(tonic::Request::new(ListWorkflowExecutionsRequest {
                namespace: namespace.into(),
                page_size: 1000,
                next_page_token: token,
                query: query.into(),
            }))
            .await?
            .into_inner();
        found.extend(page.executions.into_iter().filter_map(|e| e.execution));
        if page.next_page_token.is_empty() {
            return Ok(found);
        }
        token = page.next_page_token;
    }
}

/// Terminates one run of a workflow; false when it had already closed.
async fn terminate(
    connection: &Connection,
    namespace: &str,
    execution: WorkflowExecution,
    reason: &str,
) -> Result<bool, Grpc> {
    let terminated = connection
        .workflow_service()
        .terminate_workflow_execution(tonic::Request::new(TerminateWorkflowExecutionRequest {
            namespace: namespace.into(),
            workflow_execution: Some(execution),
            reason: reason.into(),
            identity: "temporal-harness".into(),
            ..Default::default()
        }))
        .await;
    match terminated {
        Ok(_) => Ok(true),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(false),
        Err(s) => Err(Grpc(s)),
    }
}

/// What ending a run or a sweep removed, for the line the harness prints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Removed {
    pub(crate) namespaces: Vec<String>,
    pub(crate) workflows: usize,
}

impl Removed {
    pub(crate) fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.workflows == 0
    }
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.namespaces.as_slice(), self.workflows) {
            ([], 0) => f.write_str("nothing"),
            ([], n) => write!(f, "{n} open workflow(s) terminated"),
            (names, 0) => write!(f, "namespace(s) {} deleted", names.join(", ")),
            (names, n) => write!(
                f,
                "namespace(s) {} deleted, {n} open workflow(s) terminated",
                names.join(", ")
            ),
        }
    }
}

/// Ends `run`: deletes the namespaces it registered (its own, and those of its tests with
/// `namespace = "isolated"`) and, under prefix isolation, terminates its open workflows in the
/// shared `namespace`.
pub(super) async fn end_run(
    connection: &Connection,
    run: &RunScope,
    namespace: &str,
) -> Result<Removed, Grpc> {
    let mut removed = Removed::default();
    if run.isolation == RunIsolation::Prefix {
        removed.workflows = terminate_open(
            connection,
            namespace,
            &run.visibility_query(),
            &format!("temporal-harness: run {} ended", run.id),
        )
        .await?;
    }
    for marked in marked_namespaces(connection).await? {
        if marked.run == run.id {
            delete_namespace(connection, &marked.name).await?;
            removed.namespaces.push(marked.name);
        }
    }
    Ok(removed)
}

/// Removes what runs that never ended left, once older than `ttl`: namespaces with a run's
/// marker (created longer ago), and, under prefix isolation, running workflows of a run in
/// the shared `namespace` (started longer ago). A live run younger than `ttl` is never
/// touched.
pub(super) async fn sweep(
    connection: &Connection,
    isolation: RunIsolation,
    namespace: &str,
    ttl: Duration,
) -> Result<Removed, Grpc> {
    let now = SystemTime::now();
    let mut removed = Removed::default();
    let marked = match marked_namespaces(connection).await {
        // A prefix run needs no namespace API: where it may not list namespaces it sweeps
        // workflows only (a namespace isolated tests registered waits for a run that may).
        Err(e)
            if isolation == RunIsolation::Prefix && e.0.code() == tonic::Code::PermissionDenied =>
        {
            Vec::new()
        }
        other => other?,
    };
    for marked in marked {
        if marked.expired(now, ttl) {
            delete_namespace(connection, &marked.name).await?;
            removed.namespaces.push(marked.name);
        }
    }
    if isolation != RunIsolation::Prefix {
        return Ok(removed);
    }
    let cutoff = prost_wkt_types::Timestamp::from(now - ttl);
    removed.workflows = terminate_open(
        connection,
        namespace,
        &format!("StartTime < '{cutoff}' AND ({})", RunScope::any_run_query()),
        "temporal-harness: left by a run that never ended (older than the run TTL)",
    )
    .await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(created: Option<u64>) -> Marked {
        Marked {
            name: "thr-1-a".into(),
            run: "thr-1-a".into(),
            created,
        }
    }

    #[test]
    fn a_marker_is_expired_only_past_its_ttl() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        let ttl = Duration::from_secs(60);
        assert!(!marked(Some(1000)).expired(at(1000), ttl));
        assert!(
            !marked(Some(1000)).expired(at(1060), ttl),
            "at the TTL, not past"
        );
        assert!(marked(Some(1000)).expired(at(1061), ttl));
        // A marker from the future (another machine's clock) is not expired.
        assert!(!marked(Some(2000)).expired(at(1000), ttl));
        // Unreadable: never swept by age.
        assert!(!marked(None).expired(at(u32::MAX as u64), ttl));
    }

    #[test]
    fn a_marker_is_read_back_from_the_data_it_wrote() {
        let run = RunScope::new(
            RunIsolation::Namespace,
            UNIX_EPOCH + Duration::from_secs(77),
        );
        let data = marker(&run, UNIX_EPOCH + Duration::from_secs(77));
        let read = Marked::of("ns", &data).unwrap();
        assert_eq!(
            (read.run.as_str(), read.created),
            (run.id.as_str(), Some(77))
        );
        assert!(data[MARK_BY].contains(&format!("pid {}", std::process::id())));
        // A namespace without the marker is never taken for a run's.
        assert_eq!(Marked::of("prod", &NamespaceData::new()), None);
    }

    #[test]
    fn what_was_removed_reads_as_a_sentence() {
        let mut r = Removed::default();
        assert_eq!(r.to_string(), "nothing");
        r.workflows = 3;
        assert_eq!(r.to_string(), "3 open workflow(s) terminated");
        r.namespaces.push("thr-1-a".into());
        assert_eq!(
            r.to_string(),
            "namespace(s) thr-1-a deleted, 3 open workflow(s) terminated"
        );
    }
}
