//! The external backend: an existing deployment, reached by address (TLS and API key
//! optional). Nothing is started or stopped; the namespace must exist.

use super::{postgres, readiness, Endpoints, StackError, TemporalTarget};
use crate::config::{BackendKind, StackConfig};
use std::time::Duration;

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
    readiness::wait_ready(&target, &config.namespace, false, timeout).await?;
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
    Ok(Endpoints {
        backend: BackendKind::External,
        flavor: None,
        temporal: target,
        namespace: config.namespace.clone(),
        postgres_url: ext.postgres_url.clone(),
        temporal_db_url,
        visibility_db_url,
        app_db_url: None,
        http_url: None,
        ui_url: ext.ui_url.clone(),
        metrics_url: None,
        topology: Default::default(),
        description: format!("external: {}", ext.address),
    })
}
