//! Temporal checks: the server on its own, through its public APIs.

use super::check;
use crate::poll::{retry, Attempt};
use crate::validation::{fail, Check, Checked, Session, Verdict};
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::tonic::{self, Request};
use temporalio_common::protos::grpc::health::v1::{
    health_check_response::ServingStatus, HealthCheckRequest,
};
use temporalio_common::protos::temporal::api::enums::v1::{NamespaceState, TaskQueueType};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, DescribeNamespaceRequest, DescribeTaskQueueRequest,
    GetClusterInfoRequest, GetSystemInfoRequest, ListWorkflowExecutionsRequest,
};

/// How long a check waits for the server to catch up with something it was just told
/// (a new poller, a visibility record).
const CATCH_UP: Duration = Duration::from_secs(10);
const POLL_PAUSE: Duration = Duration::from_millis(25);

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "temporal.health",
            Temporal,
            Quick,
            "gRPC health reports the WorkflowService SERVING",
            health
        ),
        check!(
            "temporal.system_info",
            Temporal,
            Quick,
            "The server reports its version and capabilities",
            system_info
        ),
        check!(
            "temporal.cluster_info",
            Temporal,
            Quick,
            "Persistence is PostgreSQL (where given) with the configured shard count",
            cluster_info
        ),
        check!(
            "temporal.namespace",
            Temporal,
            Quick,
            "The namespace is registered",
            namespace
        ),
        check!(
            "temporal.pollers",
            Temporal,
            Full,
            "A running worker shows as a poller on its task queue",
            pollers
        ),
        check!(
            "temporal.visibility",
            Temporal,
            Full,
            "A finished workflow is found by list and count queries",
            visibility
        ),
        check!(
            "temporal.http",
            Temporal,
            Quick,
            "The frontend's HTTP API answers for the namespace",
            http
        ),
    ]
}

fn rpc(what: &'static str) -> impl Fn(tonic::Status) -> Verdict {
    move |s| fail(format!("{what} failed: {} ({:?})", s.message(), s.code()))
}

async fn health(session: Arc<Session>) -> Checked {
    let connection = session.connection().await?;
    let response = connection
        .health_service()
        .check(Request::new(HealthCheckRequest {
            service: "temporal.api.workflowservice.v1.WorkflowService".into(),
        }))
        .await
        .map_err(rpc("health check"))?
        .into_inner();
    match ServingStatus::try_from(response.status) {
        Ok(ServingStatus::Serving) => Ok("WorkflowService SERVING".into()),
        other => Err(fail(format!(
            "WorkflowService health is {}: the frontend is up but not ready (membership or \
             persistence); see the server log",
            other.map(|s| s.as_str_name()).unwrap_or("UNKNOWN")
        ))),
    }
}

async fn system_info(session: Arc<Session>) -> Checked {
    let connection = session.connection().await?;
    let info = connection
        .workflow_service()
        .get_system_info(Request::new(GetSystemInfoRequest {}))
        .await
        .map_err(rpc("GetSystemInfo"))?
        .into_inner();
    let caps = info.capabilities.unwrap_or_default();
    let named = [
        ("signal_and_query_header", caps.signal_and_query_header),
        ("schedules", caps.supports_schedules),
        ("eager_workflow_start", caps.eager_workflow_start),
        ("upsert_memo", caps.upsert_memo),
        ("sdk_metadata", caps.sdk_metadata),
        (
            "count_group_by_status",
            caps.count_group_by_execution_status,
        ),
        ("nexus", caps.nexus),
    ];
    let on: Vec<_> = named
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    if info.server_version.is_empty() {
        return Err(fail("the server reported no version"));
    }
    Ok(format!(
        "server {}; capabilities: {}",
        info.server_version,
        on.join(", ")
    ))
}

async fn cluster_info(session: Arc<Session>) -> Checked {
    let connection = session.connection().await?;
    let info = connection
        .workflow_service()
        .get_cluster_info(Request::new(GetClusterInfoRequest {}))
        .await
        .map_err(rpc("GetClusterInfo"))?
        .into_inner();
    let summary = format!(
        "cluster {}, persistence {}, visibility {}, {} history shards",
        info.cluster_name, info.persistence_store, info.visibility_store, info.history_shard_count
    );
    let target = session.target();
    if target.databases.is_ok() && !info.persistence_store.starts_with("postgres") {
        return Err(fail(format!(
            "{summary}: a PostgreSQL URL was given but the server persists elsewhere; \
             set the server's persistence plugin to postgres12"
        )));
    }
    match target.expected_shards {
        Some(expected) if expected != info.history_shard_count => Err(fail(format!(
            "{summary}: expected {expected} shards; the shard count is fixed when the \
             database is created, so the server's numHistoryShards must match it"
        ))),
        _ => Ok(summary),
    }
}

async fn namespace(session: Arc<Session>) -> Checked {
    let connection = session.connection().await?;
    let name = &session.target().namespace;
    let described = connection
        .workflow_service()
        .describe_namespace(Request::new(DescribeNamespaceRequest {
            namespace: name.clone(),
            ..Default::default()
        }))
        .await;
    let response = match described {
        Ok(r) => r.into_inner(),
        Err(s) if s.code() == tonic::Code::NotFound => {
            return Err(fail(format!(
                "namespace `{name}` does not exist: create it with `temporal operator \
                 namespace create --namespace {name}`, or pass --namespace"
            )))
        }
        Err(s) => return Err(rpc("DescribeNamespace")(s)),
    };
    let info = response.namespace_info.unwrap_or_default();
    if info.state != NamespaceState::Registered as i32 {
        return Err(fail(format!(
            "namespace `{name}` is {}, not registered",
            NamespaceState::try_from(info.state)
                .map(|s| s.as_str_name())
                .unwrap_or("UNKNOWN")
        )));
    }
    let retention = response
        .config
        .and_then(|c| c.workflow_execution_retention_ttl)
        .map(|d| format!("{} h", d.seconds / 3600))
        .unwrap_or_else(|| "unset".into());
    Ok(format!("`{name}` registered, retention {retention}"))
}

async fn pollers(session: Arc<Session>) -> Checked {
    session.worker().await?;
    let connection = session.connection().await?;
    retry(CATCH_UP, POLL_PAUSE, |_| async {
        let mut found = [0; 2];
        for (i, kind) in [TaskQueueType::Workflow, TaskQueueType::Activity]
            .into_iter()
            .enumerate()
        {
            let described = connection
                .workflow_service()
                .describe_task_queue(Request::new(DescribeTaskQueueRequest {
                    namespace: session.target().namespace.clone(),
                    task_queue: Some(TaskQueue {
                        name: session.task_queue().into(),
                        ..Default::default()
                    }),
                    task_queue_type: kind as i32,
                    ..Default::default()
                }))
                .await;
            match described {
                Ok(d) => found[i] = d.into_inner().pollers.len(),
                Err(e) => return Attempt::Fail(rpc("DescribeTaskQueue")(e)),
            }
        }
        if found.iter().all(|n| *n > 0) {
            return Attempt::Done(format!(
                "{} workflow and {} activity poller(s) on {}",
                found[0],
                found[1],
                session.task_queue()
            ));
        }
        Attempt::Again(fail(format!(
            "a worker polls {} but the server lists {} workflow and {} activity pollers after \
             {CATCH_UP:?}: matching may be unhealthy; see the server log",
            session.task_queue(),
            found[0],
            found[1]
        )))
    })
    .await
}

async fn visibility(session: Arc<Session>) -> Checked {
    let probe = session.probe().await?.clone();
    let connection = session.connection().await?;
    let namespace = session.target().namespace.clone();
    let query = format!("WorkflowId = '{}'", probe.workflow_id);
    retry(CATCH_UP, POLL_PAUSE, |_| async {
        let count = connection
            .workflow_service()
            .count_workflow_executions(Request::new(CountWorkflowExecutionsRequest {
                namespace: namespace.clone(),
                query: query.clone(),
            }))
            .await;
        let count = match count {
            Ok(c) => c.into_inner().count,
            Err(e) => return Attempt::Fail(rpc("CountWorkflowExecutions")(e)),
        };
        let listed = connection
            .workflow_service()
            .list_workflow_executions(Request::new(ListWorkflowExecutionsRequest {
                namespace: namespace.clone(),
                page_size: 10,
                query: query.clone(),
                ..Default::default()
            }))
            .await;
        let listed = match listed {
            Ok(l) => l.into_inner().executions,
            Err(e) => return Attempt::Fail(rpc("ListWorkflowExecutions")(e)),
        };
        let completed = listed.iter().any(|e| {
            e.execution.as_ref().map(|x| x.run_id.as_str()) == Some(probe.run_id.as_str())
                && e.close_time.is_some()
        });
        if count == 1 && completed {
            return Attempt::Done(format!(
                "list and count find the closed probe workflow ({query})"
            ));
        }
        Attempt::Again(fail(format!(
            "after {CATCH_UP:?} count says {count} and list shows {} run(s) closed={completed} \
             for {query}: visibility lags or is not written; check the visibility store",
            listed.len()
        )))
    })
    .await
}

async fn http(session: Arc<Session>) -> Checked {
    let Some(base) = session.target().http_url.clone() else {
        return Err(Verdict::Skipped(
            "no HTTP API address configured (--http-url)".into(),
        ));
    };
    let url = format!(
        "{}/api/v1/namespaces/{}",
        base.trim_end_matches('/'),
        session.target().namespace
    );
    let (status, body) = super::http_get(&url, "is the frontend's HTTP port exposed?").await?;
    if !status.is_success() || !body.contains("namespaceInfo") {
        return Err(fail(format!(
            "GET {url} answered {status}: {}",
            body.chars().take(200).collect::<String>()
        )));
    }
    Ok(format!("GET {url} answered {status}"))
}
