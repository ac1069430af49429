//! Readiness: gRPC health SERVING for the WorkflowService, then the namespace describable.
//! An open port is not readiness: the frontend answers NOT_SERVING until membership is up.

use super::{connect, StackError, TemporalTarget};
use std::time::{Duration, Instant};
use temporalio_client::{tonic, Connection};
use temporalio_common::protos::grpc::health::v1::{
    health_check_response::ServingStatus, HealthCheckRequest,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, RegisterNamespaceRequest,
};

const WORKFLOW_SERVICE: &str = "temporal.api.workflowservice.v1.WorkflowService";
/// Bound on one attempt, so a black-holed address cannot eat the whole budget at once.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between attempts while a server boots.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Waits until `target` serves the WorkflowService and `namespace` can be described,
/// registering the namespace when `create_namespace` (stacks the harness owns). Fails with
/// the last error once `timeout` has passed.
pub(crate) async fn wait_ready(
    target: &TemporalTarget,
    namespace: &str,
    create_namespace: bool,
    timeout: Duration,
) -> Result<Connection, StackError> {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match attempt(
            target,
            namespace,
            create_namespace,
            remaining.min(ATTEMPT_TIMEOUT),
        )
        .await
        {
            Ok(connection) => return Ok(connection),
            // Configuration errors do not heal by waiting.
            Err(e @ (StackError::TlsFile { .. } | StackError::UnknownNamespace { .. })) => {
                return Err(e)
            }
            Err(e) => last = e,
        }
        if Instant::now() + RETRY_PAUSE >= deadline {
            return Err(match last {
                StackError::TemporalUnreachable { address, reason } => {
                    StackError::TemporalUnreachable {
                        address,
                        reason: format!("{reason} (still so after {timeout:?})"),
                    }
                }
                other => other,
            });
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

async fn attempt(
    target: &TemporalTarget,
    namespace: &str,
    create_namespace: bool,
    timeout: Duration,
) -> Result<Connection, StackError> {
    let unreachable = |reason: String| StackError::TemporalUnreachable {
        address: target.address.clone(),
        reason,
    };
    let connection = connect(target, timeout.max(Duration::from_millis(200))).await?;
    let health = connection
        .health_service()
        .check(tonic::Request::new(HealthCheckRequest {
            service: WORKFLOW_SERVICE.into(),
        }))
        .await
        .map_err(|s| unreachable(format!("health check failed: {}", s.message())))?
        .into_inner();
    if health.status != ServingStatus::Serving as i32 {
        let status = ServingStatus::try_from(health.status)
            .map(|s| s.as_str_name())
            .unwrap_or("UNKNOWN");
        return Err(unreachable(format!("WorkflowService health is {status}")));
    }
    ensure_namespace(&connection, target, namespace, create_namespace).await?;
    Ok(connection)
}

/// Describes `namespace`, registering it first when allowed and missing.
pub(crate) async fn ensure_namespace(
    connection: &Connection,
    target: &TemporalTarget,
    namespace: &str,
    create: bool,
) -> Result<(), StackError> {
    let describe = || async {
        connection
            .workflow_service()
            .describe_namespace(tonic::Request::new(DescribeNamespaceRequest {
                namespace: namespace.into(),
                ..Default::default()
            }))
            .await
    };
    match describe().await {
        Ok(_) => Ok(()),
        Err(s) if s.code() == tonic::Code::NotFound && create => {
            let registered = connection
                .workflow_service()
                .register_namespace(tonic::Request::new(RegisterNamespaceRequest {
                    namespace: namespace.into(),
                    description: "created by temporal-harness".into(),
                    workflow_execution_retention_period: Duration::from_secs(24 * 3600)
                        .try_into()
                        .ok(),
                    ..Default::default()
                }))
                .await;
            match registered {
                Ok(_) => {}
                Err(s) if s.code() == tonic::Code::AlreadyExists => {}
                Err(s) => {
                    return Err(StackError::TemporalUnreachable {
                        address: target.address.clone(),
                        reason: format!("cannot register namespace {namespace}: {}", s.message()),
                    })
                }
            }
            // Registration is visible to describe only once the namespace cache refreshes.
            describe()
                .await
                .map(drop)
                .map_err(|s| StackError::TemporalUnreachable {
                    address: target.address.clone(),
                    reason: format!(
                        "namespace {namespace} registered, not yet visible: {}",
                        s.message()
                    ),
                })
        }
        Err(s) if s.code() == tonic::Code::NotFound => Err(StackError::UnknownNamespace {
            namespace: namespace.into(),
            address: target.address.clone(),
        }),
        Err(s) => Err(StackError::TemporalUnreachable {
            address: target.address.clone(),
            reason: format!("describe namespace {namespace}: {}", s.message()),
        }),
    }
}
