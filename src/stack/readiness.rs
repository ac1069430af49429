//! Readiness: gRPC health SERVING for the WorkflowService, then the namespace usable.
//! An open port is not readiness: the frontend answers NOT_SERVING until membership is up,
//! and a freshly registered namespace is unknown to the services' namespace caches until
//! their next refresh. Nor is a serving frontend a started server: see
//! [`wait_system_workers`].

use super::{connect, StackError, TemporalError, TemporalTarget};
use crate::error::{context, BoxError, Grpc};
use crate::poll::{retry, Attempt};
use std::cell::Cell;
use std::time::Duration;
use temporalio_client::{tonic, Connection};
use temporalio_common::protos::grpc::health::v1::{
    health_check_response::ServingStatus, HealthCheckRequest,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowType;
use temporalio_common::protos::temporal::api::enums::v1::TaskQueueType;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, DescribeTaskQueueRequest, RegisterNamespaceRequest,
    StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
};

const WORKFLOW_SERVICE: &str = "temporal.api.workflowservice.v1.WorkflowService";
/// Bound on one attempt, so a black-holed address cannot eat the whole budget at once.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between attempts while a server the harness started boots. A boot passes four
/// stages one after another (listening, serving, the namespace visible, the system workers
/// polling), each found by a new attempt: 100 ms between attempts made a containers boot's
/// readiness 0.59-1.02 s, 20 ms makes it 0.51-0.56 s. An attempt against a server still
/// booting costs it a refused connection or an `Unavailable`.
const BOOT_PAUSE: Duration = Duration::from_millis(20);
/// Pause between attempts against a deployment someone else runs: each attempt is a new
/// connection (a TLS handshake, often), and a fleet of CI shards may be asking at once.
const REMOTE_PAUSE: Duration = Duration::from_millis(100);

/// Waits until `target` serves the WorkflowService and `namespace` is usable, registering the
/// namespace when `create_namespace` (stacks the harness owns). Fails with the last error
/// once `timeout` has passed; configuration errors fail at once.
pub(crate) async fn wait_ready(
    target: &TemporalTarget,
    namespace: &str,
    create_namespace: bool,
    timeout: Duration,
) -> Result<Connection, StackError> {
    let empty = NamespaceData::new();
    let create = create_namespace.then_some(&empty);
    wait(target, Some(namespace), create, timeout, BOOT_PAUSE).await
}

/// Like [`wait_ready`] for a deployment someone else runs (never registers the namespace),
/// asking gently.
pub(crate) async fn wait_remote(
    target: &TemporalTarget,
    namespace: &str,
    timeout: Duration,
) -> Result<Connection, StackError> {
    wait(target, Some(namespace), None, timeout, REMOTE_PAUSE).await
}

/// Like [`wait_remote`] registering a missing namespace with `data` (what made it, and when):
/// a test's namespace of its own, on the harness's stack or on a shared deployment (so at the
/// gentle pace).
pub(crate) async fn wait_registered(
    target: &TemporalTarget,
    namespace: &str,
    data: &NamespaceData,
    timeout: Duration,
) -> Result<Connection, StackError> {
    wait(target, Some(namespace), Some(data), timeout, REMOTE_PAUSE).await
}

/// The key-value data a namespace is registered with.
pub(crate) type NamespaceData = std::collections::HashMap<String, String>;

/// Waits for health SERVING only (the time-skipping test server has no namespace API).
pub(crate) async fn wait_serving(
    target: &TemporalTarget,
    timeout: Duration,
) -> Result<Connection, StackError> {
    wait(target, None, None, timeout, BOOT_PAUSE).await
}

/// The system namespace, where the worker service's own workers poll.
const SYSTEM_NAMESPACE: &str = "temporal-system";
/// The task queue of the worker service's last system worker to start (the parent close
/// policy processor, `service/worker/parentclosepolicy` in the server).
const LAST_SYSTEM_QUEUE: &str = "temporal-sys-processor-parent-close-policy";

/// Waits until the worker service of a server the harness started has started: until its
/// last system worker polls. The frontend serves (and workflows run) before that, but the
/// worker service's start is fatal on any error: a database outage while it is still
/// starting makes the whole server exit ("error starting scanner ... context deadline
/// exceeded", seen under a fault 3 s after a boot on a loaded machine). A fault, a test or a
/// check begins only on a started server.
pub(crate) async fn wait_system_workers(
    target: &TemporalTarget,
    connection: &Connection,
    timeout: Duration,
) -> Result<(), StackError> {
    let unreachable = |source: BoxError| {
        StackError::Temporal(TemporalError::Unreachable {
            address: target.address.clone(),
            source,
        })
    };
    let request = DescribeTaskQueueRequest {
        namespace: SYSTEM_NAMESPACE.into(),
        task_queue: Some(TaskQueue {
            name: LAST_SYSTEM_QUEUE.into(),
            ..Default::default()
        }),
        task_queue_type: TaskQueueType::Workflow as i32,
        ..Default::default()
    };
    retry(timeout, BOOT_PAUSE, |left| {
        let request = request.clone();
        async move {
            let mut service = connection.workflow_service();
            let described = service.describe_task_queue(tonic::Request::new(request));
            match tokio::time::timeout(left.min(ATTEMPT_TIMEOUT), described).await {
                Ok(Ok(queue)) if !queue.get_ref().pollers.is_empty() => Attempt::Done(()),
                Ok(Ok(_)) => Attempt::Again(unreachable(
                    format!(
                        "the worker service has not started: no system worker polls \
                         {LAST_SYSTEM_QUEUE} in {SYSTEM_NAMESPACE} after {timeout:?}"
                    )
                    .into(),
                )),
                Ok(Err(s)) => Attempt::Again(unreachable(context(
                    format!("describe task queue {LAST_SYSTEM_QUEUE} in {SYSTEM_NAMESPACE}"),
                    Grpc(s),
                ))),
                Err(_) => Attempt::Again(unreachable(
                    format!("describe task queue {LAST_SYSTEM_QUEUE}: no answer").into(),
                )),
            }
        }
    })
    .await
}

async fn wait(
    target: &TemporalTarget,
    namespace: Option<&str>,
    create_namespace: Option<&NamespaceData>,
    timeout: Duration,
    pause: Duration,
) -> Result<Connection, StackError> {
    // Set once this call registers the namespace: from then on, usable means a workflow
    // can start in it (the history service's cache is the last to learn of it).
    let registered = Cell::new(false);
    let ready = retry(timeout, pause, |left| {
        let registered = &registered;
        async move {
            let budget = left.min(ATTEMPT_TIMEOUT);
            match attempt(target, namespace, create_namespace, registered, budget).await {
                Ok(connection) => Attempt::Done(connection),
                Err(
                    e @ StackError::Temporal(
                        TemporalError::TlsFile { .. }
                        | TemporalError::UnknownNamespace { .. }
                        | TemporalError::Refused { .. },
                    ),
                ) => Attempt::Fail(e),
                Err(e) => Attempt::Again(e),
            }
        }
    })
    .await;
    ready.map_err(|last| match last {
        StackError::Temporal(TemporalError::Unreachable { address, source }) => {
            StackError::Temporal(TemporalError::Unreachable {
                address,
                source: context(format!("still so after {timeout:?}, last"), source),
            })
        }
        other => other,
    })
}

async fn attempt(
    target: &TemporalTarget,
    namespace: Option<&str>,
    create_namespace: Option<&NamespaceData>,
    registered: &Cell<bool>,
    timeout: Duration,
) -> Result<Connection, StackError> {
    let unreachable = |source: BoxError| {
        StackError::Temporal(TemporalError::Unreachable {
            address: target.address.clone(),
            source,
        })
    };
    let connection = connect(target, timeout.max(Duration::from_millis(200))).await?;
    let health = connection
        .health_service()
        .check(tonic::Request::new(HealthCheckRequest {
            service: WORKFLOW_SERVICE.into(),
        }))
        .await
        .map_err(|s| {
            target
                .refused(&s)
                .unwrap_or_else(|| unreachable(context("health check failed", Grpc(s))))
        })?
        .into_inner();
    if health.status != ServingStatus::Serving as i32 {
        let status = ServingStatus::try_from(health.status)
            .map(|s| s.as_str_name())
            .unwrap_or("UNKNOWN");
        return Err(unreachable(
            format!("WorkflowService health is {status}").into(),
        ));
    }
    let Some(namespace) = namespace else {
        return Ok(connection);
    };
    let described = connection
        .workflow_service()
        .describe_namespace(tonic::Request::new(DescribeNamespaceRequest {
            namespace: namespace.into(),
            ..Default::default()
        }))
        .await;
    match described {
        Ok(_) if registered.get() => {
            probe_workflow_start(&connection, namespace)
                .await
                .map_err(|s| {
                    unreachable(context(format!("namespace {namespace} not yet usable"), s))
                })?
        }
        Ok(_) => {}
        Err(s) if s.code() == tonic::Code::NotFound && create_namespace.is_some() => {
            let data = create_namespace.cloned().unwrap_or_default();
            register(&connection, namespace, data).await.map_err(|s| {
                unreachable(context(
                    format!("cannot register namespace {namespace}"),
                    Grpc(s),
                ))
            })?;
            registered.set(true);
            return Err(unreachable(
                format!("namespace {namespace} registered, not yet visible").into(),
            ));
        }
        Err(s) if s.code() == tonic::Code::NotFound => {
            return Err(StackError::Temporal(TemporalError::UnknownNamespace {
                namespace: namespace.into(),
                address: target.address.clone(),
            }))
        }
        Err(s) => {
            return Err(unreachable(context(
                format!("describe namespace {namespace}"),
                Grpc(s),
            )))
        }
    }
    Ok(connection)
}

async fn register(
    connection: &Connection,
    namespace: &str,
    data: NamespaceData,
) -> Result<(), tonic::Status> {
    let request = RegisterNamespaceRequest {
        namespace: namespace.into(),
        data,
        description: "created by temporal-harness".into(),
        workflow_execution_retention_period: Duration::from_secs(24 * 3600).try_into().ok(),
        ..Default::default()
    };
    match connection
        .workflow_service()
        .register_namespace(tonic::Request::new(request))
        .await
    {
        Ok(_) => Ok(()),
        Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
        Err(s) => Err(s),
    }
}

/// Starts and at once terminates a workflow that no worker polls for: it succeeds only once
/// every service involved in a start knows the namespace.
async fn probe_workflow_start(connection: &Connection, namespace: &str) -> Result<(), Grpc> {
    let workflow_id = format!(
        "temporal-harness-readiness-{}",
        uuid::Uuid::new_v4().simple()
    );
    let start = StartWorkflowExecutionRequest {
        namespace: namespace.into(),
        workflow_id: workflow_id.clone(),
        workflow_type: Some(WorkflowType {
            name: "temporal-harness-readiness".into(),
        }),
        task_queue: Some(TaskQueue {
            name: "temporal-harness-readiness".into(),
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
        identity: "temporal-harness".into(),
        ..Default::default()
    };
    connection
        .workflow_service()
        .start_workflow_execution(tonic::Request::new(start))
        .await?;
    connection
        .workflow_service()
        .terminate_workflow_execution(tonic::Request::new(TerminateWorkflowExecutionRequest {
            namespace: namespace.into(),
            workflow_execution: Some(
                temporalio_common::protos::temporal::api::common::v1::WorkflowExecution {
                    workflow_id,
                    run_id: String::new(),
                },
            ),
            reason: "readiness probe".into(),
            identity: "temporal-harness".into(),
            ..Default::default()
        }))
        .await
        .map(drop)
        .map_err(Grpc)
}
