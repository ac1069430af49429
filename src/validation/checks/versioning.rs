//! Worker versioning: where a namespace's workers are versioned (Worker Deployments), every
//! deployment routes new workflows to a current version. A deployment with versions but no
//! current one sends its task queues' new workflows to unversioned workers, which a versioned
//! fleet does not have: they wait.

use super::check;
use crate::validation::context::measure;
use crate::validation::{fail, Check, Checked, Session, Verdict};
use std::sync::Arc;
use temporalio_client::tonic::{self, Request};
use temporalio_common::protos::temporal::api::deployment::v1::RoutingConfig;
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkerDeploymentsRequest;

pub(crate) fn checks() -> Vec<Check> {
    vec![check!(
        "temporal.worker_deployments",
        Temporal,
        Quick,
        "Every Worker Deployment of the namespace has a current version (skipped when its workers are unversioned)",
        worker_deployments
    )]
}

async fn worker_deployments(session: Arc<Session>) -> Checked {
    let connection = session.connection().await?;
    let namespace = session.target().namespace.clone();
    let mut deployments = Vec::new();
    let mut next_page_token = Vec::new();
    loop {
        let page = connection
            .workflow_service()
            .list_worker_deployments(Request::new(ListWorkerDeploymentsRequest {
                namespace: namespace.clone(),
                page_size: 100,
                next_page_token,
            }))
            .await
            .map_err(|s| match s.code() {
                tonic::Code::Unimplemented => Verdict::Skipped(format!(
                    "the server does not offer Worker Deployments ({}): its workers are \
                     unversioned",
                    s.message()
                )),
                _ => fail(format!("ListWorkerDeployments failed: {}", s.message())),
            })?
            .into_inner();
        deployments.extend(page.worker_deployments);
        if page.next_page_token.is_empty() {
            break;
        }
        next_page_token = page.next_page_token;
    }
    measure("worker_deployments", deployments.len() as f64);
    if deployments.is_empty() {
        return Err(Verdict::Skipped(format!(
            "no Worker Deployments in `{namespace}`: its workers are unversioned"
        )));
    }
    let mut routes = Vec::new();
    let mut without_current = Vec::new();
    for d in &deployments {
        match d.routing_config.as_ref().and_then(route) {
            Some(route) => routes.push(format!("{} -> {route}", d.name)),
            None => without_current.push(d.name.clone()),
        }
    }
    measure(
        "deployments_without_current_version",
        without_current.len() as f64,
    );
    if let Some(first) = without_current.first() {
        return Err(fail(format!(
            "{} of {} Worker Deployment(s) in `{namespace}` have no current version ({}): new \
             workflows on their task queues wait for an unversioned worker. Fix: `temporal \
             worker deployment set-current-version --deployment-name {first} --build-id <id>`",
            without_current.len(),
            deployments.len(),
            without_current.join(", ")
        )));
    }
    Ok(format!(
        "{} Worker Deployment(s), each with a current version: {}",
        deployments.len(),
        routes.join("; ")
    ))
}

/// `current` or `current (ramping X at N %)`; `None` without a current version.
fn route(routing: &RoutingConfig) -> Option<String> {
    let current = routing
        .current_deployment_version
        .as_ref()
        .map(|v| v.build_id.clone())
        .filter(|b| !b.is_empty())?;
    Some(match routing.ramping_deployment_version.as_ref() {
        Some(ramping) if !ramping.build_id.is_empty() => format!(
            "{current} (ramping {} at {} %)",
            ramping.build_id, routing.ramping_version_percentage
        ),
        _ => current,
    })
}
