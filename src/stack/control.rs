//! Control over a stack the harness runs in containers: restart the Temporal server, take
//! PostgreSQL away and bring it back. The fault harness uses it on a stack of its own; on a
//! shared stack it would disturb every other test.

use super::containers::{docker, postgres_container, temporal_container};
use super::{readiness, StackError, TemporalTarget};
use crate::error::BoxError;
use crate::poll::{retry, Attempt};
use std::time::{Duration, Instant};
use testcontainers::bollard::query_parameters::{
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;

/// The container port of the Temporal frontend.
const FRONTEND: &str = "7233/tcp";

/// How PostgreSQL is taken away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Outage {
    /// Frozen (`docker pause`): connections stay open and hang.
    Pause,
    /// Stopped (`docker stop`): connections are refused, then the server starts again.
    Stop,
}

/// Restart and outage operations on one containers stack.
#[derive(Debug, Clone)]
pub struct StackControl {
    docker: Docker,
    temporal: String,
    postgres: String,
    namespace: String,
}

impl StackControl {
    pub(crate) async fn new(label: &str, namespace: &str) -> Result<Self, StackError> {
        Ok(StackControl {
            docker: docker().await?,
            temporal: temporal_container(label),
            postgres: postgres_container(label),
            namespace: namespace.into(),
        })
    }

    /// Names of the server and PostgreSQL containers.
    pub fn containers(&self) -> [String; 2] {
        [self.temporal.clone(), self.postgres.clone()]
    }

    fn failed(&self, action: &str, e: impl Into<BoxError>) -> StackError {
        StackError::NotControllable {
            action: action.into(),
            source: e.into(),
        }
    }

    /// Kills (or, `graceful`, stops) the Temporal server and starts it again; returns its
    /// frontend address (the host port may change) once it serves the namespace again.
    pub async fn restart_temporal(
        &self,
        graceful: bool,
        timeout: Duration,
    ) -> Result<String, StackError> {
        let action = "restart the Temporal server";
        let grace = if graceful { 10 } else { 0 };
        self.docker
            .restart_container(
                &self.temporal,
                Some(RestartContainerOptionsBuilder::default().t(grace).build()),
            )
            .await
            .map_err(|e| self.failed(action, e))?;
        let started = Instant::now();
        let address = retry(timeout, Duration::from_millis(20), |_| async {
            match self.frontend_port().await {
                Ok(Some(port)) => Attempt::Done(format!("127.0.0.1:{port}")),
                Ok(None) => {
                    Attempt::Again(self.failed(action, "the restarted container publishes no port"))
                }
                Err(e) => Attempt::Fail(e),
            }
        })
        .await?;
        let remaining = timeout.saturating_sub(started.elapsed());
        readiness::wait_ready(
            &TemporalTarget::plain(address.clone()),
            &self.namespace,
            false,
            remaining,
        )
        .await?;
        Ok(address)
    }

    async fn frontend_port(&self) -> Result<Option<u16>, StackError> {
        let inspected = self
            .docker
            .inspect_container(&self.temporal, None)
            .await
            .map_err(|e| self.failed("inspect the Temporal server", e))?;
        Ok(inspected
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|ports| ports.get(FRONTEND).cloned().flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .and_then(|p| p.parse().ok()))
    }

    /// Takes PostgreSQL away.
    pub async fn postgres_down(&self, outage: Outage) -> Result<(), StackError> {
        let result = match outage {
            Outage::Pause => self.docker.pause_container(&self.postgres).await,
            Outage::Stop => {
                let options = StopContainerOptionsBuilder::default().t(0).build();
                self.docker
                    .stop_container(&self.postgres, Some(options))
                    .await
            }
        };
        result.map_err(|e| self.failed("take PostgreSQL down", e))
    }

    /// Brings PostgreSQL back after [`StackControl::postgres_down`].
    pub async fn postgres_up(&self, outage: Outage) -> Result<(), StackError> {
        let result = match outage {
            Outage::Pause => self.docker.unpause_container(&self.postgres).await,
            Outage::Stop => self.docker.start_container(&self.postgres, None).await,
        };
        result.map_err(|e| self.failed("bring PostgreSQL back", e))
    }
}
