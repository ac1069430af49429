//! Control over a stack the harness runs in containers: restart the Temporal server, take
//! PostgreSQL away and bring it back. The fault harness uses it on a stack of its own; on a
//! shared stack it would disturb every other test.

use crate::error::BoxError;
use crate::poll::{retry, Attempt};
use crate::stack::containers::{docker, postgres_container, temporal_container};
use crate::stack::{readiness, ControlError, StackError, TemporalTarget};
use std::future::Future;
use std::time::{Duration, Instant};
use testcontainers::bollard::errors::Error as DockerError;
use testcontainers::bollard::query_parameters::{
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;

/// The container port of the Temporal frontend.
const FRONTEND: &str = "7233/tcp";

/// How long an operation the daemon failed on its side (a 5xx answer) is tried again: under
/// load `docker pause` has answered `OCI runtime pause failed: unable to freeze: unknown`
/// once and worked on the next try. Refusals (no such container, a conflict) are final.
const DAEMON_RETRY: Duration = Duration::from_secs(15);
/// Pause between those tries.
const DAEMON_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Whether Docker's answer is a failure on the daemon's side that a later try may not meet.
fn transient(e: &DockerError) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code, .. } if *status_code >= 500)
}

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

    fn failed(
        &self,
        action: &str,
        container: &str,
        tries: u32,
        e: impl Into<BoxError>,
    ) -> StackError {
        let tried = match tries {
            0 | 1 => String::new(),
            n => {
                format!(" (tried {n} times over {DAEMON_RETRY:?}: a failure on the daemon's side)")
            }
        };
        StackError::Control(ControlError::Failed {
            action: format!("{action} (container {container}){tried}"),
            source: e.into(),
            fix: format!(
                "the Docker daemon could not do it: check that it answers (`docker info`), \
                 that the container still exists (`docker ps -a --filter name={container}`), \
                 and the daemon's log (`journalctl -u docker`, or the file dockerd logs to)"
            ),
        })
    }

    /// Runs a Docker operation on `container`, trying again while the daemon fails on its
    /// side, for at most [`DAEMON_RETRY`].
    async fn on_daemon<T, F, Fut>(
        &self,
        action: &str,
        container: &str,
        mut op: F,
    ) -> Result<T, StackError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DockerError>>,
    {
        let mut tries = 0;
        let outcome = retry(DAEMON_RETRY, DAEMON_RETRY_PAUSE, |_| {
            tries += 1;
            let attempt = op();
            async move {
                match attempt.await {
                    Ok(value) => Attempt::Done(value),
                    Err(e) if transient(&e) => Attempt::Again(e),
                    Err(e) => Attempt::Fail(e),
                }
            }
        })
        .await;
        outcome.map_err(|e| self.failed(action, container, tries, e))
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
        self.on_daemon(action, &self.temporal, || {
            self.docker.restart_container(
                &self.temporal,
                Some(RestartContainerOptionsBuilder::default().t(grace).build()),
            )
        })
        .await?;
        let started = Instant::now();
        let address = retry(timeout, Duration::from_millis(20), |_| async {
            match self.frontend_port().await {
                Ok(Some(port)) => Attempt::Done(format!("127.0.0.1:{port}")),
                Ok(None) => Attempt::Again(self.failed(
                    action,
                    &self.temporal,
                    1,
                    "the restarted container publishes no port",
                )),
                Err(e) => Attempt::Fail(e),
            }
        })
        .await?;
        let remaining = timeout.saturating_sub(started.elapsed());
        let target = TemporalTarget::plain(address.clone());
        let connection = readiness::wait_ready(&target, &self.namespace, false, remaining).await?;
        let remaining = timeout.saturating_sub(started.elapsed());
        readiness::wait_system_workers(&target, &connection, remaining).await?;
        Ok(address)
    }

    async fn frontend_port(&self) -> Result<Option<u16>, StackError> {
        let inspected = self
            .on_daemon("inspect the Temporal server", &self.temporal, || {
                self.docker.inspect_container(&self.temporal, None)
            })
            .await?;
        Ok(inspected
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|ports| ports.get(FRONTEND).cloned().flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .and_then(|p| p.parse().ok()))
    }

    /// Takes PostgreSQL away.
    pub async fn postgres_down(&self, outage: Outage) -> Result<(), StackError> {
        let postgres = &self.postgres;
        match outage {
            Outage::Pause => {
                self.on_daemon("pause PostgreSQL", postgres, || {
                    self.docker.pause_container(postgres)
                })
                .await
            }
            Outage::Stop => {
                self.on_daemon("stop PostgreSQL", postgres, || {
                    let options = StopContainerOptionsBuilder::default().t(0).build();
                    self.docker.stop_container(postgres, Some(options))
                })
                .await
            }
        }
    }

    /// Brings PostgreSQL back after [`StackControl::postgres_down`].
    pub async fn postgres_up(&self, outage: Outage) -> Result<(), StackError> {
        let postgres = &self.postgres;
        match outage {
            Outage::Pause => {
                self.on_daemon("unpause PostgreSQL", postgres, || {
                    self.docker.unpause_container(postgres)
                })
                .await
            }
            Outage::Stop => {
                self.on_daemon("start PostgreSQL", postgres, || {
                    self.docker.start_container(postgres, None)
                })
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_code: u16) -> DockerError {
        DockerError::DockerResponseServerError {
            status_code,
            message: "OCI runtime pause failed: unable to freeze: unknown".into(),
        }
    }

    #[test]
    fn only_failures_on_the_daemons_side_are_tried_again() {
        assert!(transient(&answer(500)));
        assert!(!transient(&answer(404)), "no such container is final");
        assert!(!transient(&answer(409)), "a conflict is final");
    }
}
