//! The external backend: an existing deployment, reached by address (TLS and API key
//! optional). Nothing is started or stopped; the namespace must exist.
//!
//! On a deployment other runs share (a CI fleet on one cluster), a run can keep to itself
//! ([`RunIsolation`]): `run` is the run's life across the processes of one test command (made
//! by the first, ended by the last), `cluster` what it does on the deployment (its marked
//! namespaces, ending it, sweeping what killed runs left), `exit` the hook that ends it when
//! the last process exits.

mod cluster;
mod exit;
mod run;

use super::{postgres, readiness, Endpoints, StackError, TemporalTarget};
use crate::config::{BackendKind, RunIsolation, StackConfig};
use std::time::{Duration, SystemTime};

/// A run on a shared external deployment: what keeps it apart from the other runs there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RunScope {
    /// `thr-<Unix seconds at its start>-<8 hex digits>`: the first part of every workflow ID
    /// and (after `tq-`) task queue of the run; under namespace isolation also the name of
    /// the run's namespace.
    pub id: String,
    /// How the run keeps apart.
    pub isolation: RunIsolation,
}

/// The marker a namespace registered now for `run` carries.
pub(crate) fn marker(run: &RunScope) -> super::NamespaceData {
    cluster::marker(run, SystemTime::now())
}

/// What every run ID starts with.
const RUN_ID_PREFIX: &str = "thr-";

impl RunScope {
    pub(crate) fn new(isolation: RunIsolation, started: SystemTime) -> RunScope {
        let seconds = started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let random = uuid::Uuid::new_v4().simple().to_string();
        RunScope {
            id: format!("{RUN_ID_PREFIX}{seconds}-{}", &random[..8]),
            isolation,
        }
    }

    /// The visibility query that lists this run's workflows: those it started (their IDs
    /// start with the run's ID) and their children (on the run's task queues). Scopes a
    /// `ListWorkflowExecutions` query to the run in a namespace other runs share:
    /// `format!("ExecutionStatus = 'Running' AND ({})", run.visibility_query())`.
    pub fn visibility_query(&self) -> String {
        Self::query_for(&format!("{}-", self.id))
    }

    /// The visibility query that lists any run's workflows.
    pub(crate) fn any_run_query() -> String {
        Self::query_for(RUN_ID_PREFIX)
    }

    fn query_for(prefix: &str) -> String {
        format!("WorkflowId STARTS_WITH '{prefix}' OR TaskQueue STARTS_WITH 'tq-{prefix}'")
    }
}

/// Checks the deployment answers and returns its endpoints.
pub(crate) async fn connect(config: &StackConfig) -> Result<Endpoints, StackError> {
    let ext = config
        .external
        .as_ref()
        .filter(|e| !e.address.is_empty())
        .ok_or(crate::config::ConfigError::ExternalWithoutAddress)?;
    let target = TemporalTarget {
        address: ext.address.clone(),
        tls: Some(ext.tls.clone()).filter(|t| t.is_set()),
        api_key: ext.api_key.clone(),
    };
    // Fail on unreadable TLS files before any network I/O.
    target.tls_options()?;
    if let Some(url) = &ext.postgres_url {
        url.check_files()
            .map_err(|source| crate::config::ConfigError::ConnString {
                from: "the external deployment's PostgreSQL connection string".into(),
                source,
            })?;
    }
    // An external deployment is up or not: no boot to wait for, so fail fast.
    let timeout = config.startup_timeout.min(Duration::from_secs(10));
    readiness::wait_remote(&target, &config.namespace, timeout).await?;
    let (run, namespace) = match ext.isolation {
        RunIsolation::None => (None, config.namespace.clone()),
        _ => {
            let joined = run::join(config, ext, &target).await?;
            (Some(joined.scope), joined.namespace)
        }
    };
    if let Some(url) = &ext.postgres_url {
        postgres::connect_once(url, Duration::from_secs(10)).await?;
    }
    let (temporal_db_url, visibility_db_url) = match &ext.postgres_url {
        Some(url) => (
            Some(url.clone()),
            Some(url.with_database("temporal_visibility")),
        ),
        None => (None, None),
    };
    let description = match &run {
        Some(run) => format!(
            "external: {} (run {}, {} isolation)",
            ext.address, run.id, run.isolation
        ),
        None => format!("external: {}", ext.address),
    };
    Ok(Endpoints {
        backend: BackendKind::External,
        flavor: None,
        temporal: target,
        namespace,
        run,
        postgres_url: ext.postgres_url.clone(),
        temporal_db_url,
        visibility_db_url,
        app_db_url: None,
        http_url: None,
        ui_url: ext.ui_url.clone(),
        metrics_url: None,
        topology: Default::default(),
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_says_when_it_started_and_scopes_its_queries() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_796_623_400);
        let run = RunScope::new(RunIsolation::Prefix, at);
        let (start, random) = run
            .id
            .strip_prefix("thr-1796623400-")
            .map_or(("", ""), |r| ("ok", r));
        assert_eq!(start, "ok", "{}", run.id);
        assert!(random.len() == 8 && random.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(RunScope::new(RunIsolation::Prefix, at).id, run.id);
        // The run's own workflows and children on its queues; the trailing dash keeps run
        // `thr-1-a` from matching run `thr-1-ab`.
        assert_eq!(
            run.visibility_query(),
            format!(
                "WorkflowId STARTS_WITH '{0}-' OR TaskQueue STARTS_WITH 'tq-{0}-'",
                run.id
            )
        );
        assert_eq!(
            RunScope::any_run_query(),
            "WorkflowId STARTS_WITH 'thr-' OR TaskQueue STARTS_WITH 'tq-thr-'"
        );
    }
}
