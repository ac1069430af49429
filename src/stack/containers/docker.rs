//! The Docker side every container shares: the client, container names, the server
//! container's request and ports, where clients reach it, and the parked handles that keep
//! testcontainers from removing shared containers.

use crate::config::StackConfig;
use crate::error::BoxError;
use crate::stack::ports::ensure_free;
use crate::stack::{BootError, DockerError, StackError};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use testcontainers::bollard::Docker;
use testcontainers::core::{ContainerPort, IntoContainerPort};
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, Image, ImageExt};

/// The Temporal frontend's port inside its container.
pub(super) const FRONTEND_PORT: u16 = 7233;
/// The frontend's HTTP API port inside its container.
pub(super) const HTTP_PORT: u16 = 7243;

/// Handles of started containers; never dropped, so testcontainers never removes them.
static PARKED: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());

/// A connected Docker client, or why there is none (bounded: a few seconds at most).
pub(crate) async fn docker() -> Result<Docker, StackError> {
    let unreachable = |source: BoxError| StackError::Docker(DockerError::Unreachable { source });
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(e.into()))?;
    let ping = async {
        let docker = docker.negotiate_version().await?;
        docker.ping().await.map(|_| docker)
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(e)) => Err(unreachable(e.into())),
        Err(_) => Err(unreachable("no answer from the daemon within 5s".into())),
    }
}

/// Name of the Temporal server container of the PostgreSQL flavour.
pub(crate) fn temporal_container(label: &str) -> String {
    format!("th-{label}-temporal")
}

/// Name of the PostgreSQL container of the PostgreSQL flavour.
pub(crate) fn postgres_container(label: &str) -> String {
    format!("th-{label}-postgres")
}

/// Name of the Web UI container of the PostgreSQL flavour.
pub(crate) fn ui_container(label: &str) -> String {
    format!("th-{label}-ui")
}

/// A Temporal server container: frontend, HTTP and `extra` ports published (the frontend on
/// the configured host port, if any).
pub(super) fn request(
    image: &str,
    labels: &HashMap<String, String>,
    config: &StackConfig,
    extra: &[u16],
) -> Result<ContainerRequest<GenericImage>, StackError> {
    let (name, tag) = split_image(image);
    let request = [FRONTEND_PORT, HTTP_PORT]
        .iter()
        .chain(extra)
        .fold(GenericImage::new(name, tag), |image, port| {
            image.with_exposed_port(port.tcp())
        })
        .with_labels(labels.clone())
        .with_startup_timeout(config.startup_timeout);
    Ok(match config.frontend_port {
        Some(port) => {
            ensure_free(port, "the Temporal frontend")?;
            request.with_mapped_port(port, FRONTEND_PORT.tcp())
        }
        None => request,
    })
}

/// The frontend's address for clients on this host: the container's own address where the
/// host routes to it (Linux), so that no byte goes through Docker's user-space port proxy
/// (300 workflows: 59.5 -> 65.5 wf/s, 0.85 -> 0.98 of the SDK's dev server); else, as on
/// Docker Desktop or rootless Docker, the published port; and always where a host port was
/// asked for (`TEMPORAL_HARNESS_PORT`). A refused connection counts as routed: the frontend
/// is not listening yet, but the host reached the container.
pub(super) async fn frontend_address<I: Image>(
    docker: &Docker,
    container: &ContainerAsync<I>,
    config: &StackConfig,
) -> Result<String, StackError> {
    let published = format!("127.0.0.1:{}", host_port(container, FRONTEND_PORT).await?);
    if config.frontend_port.is_some() {
        return Ok(published);
    }
    let ip = docker
        .inspect_container(container.id(), None)
        .await
        .ok()
        .and_then(|c| c.network_settings?.networks)
        .and_then(|nets| {
            nets.into_values()
                .find_map(|n| n.ip_address.filter(|ip| !ip.is_empty()))
        });
    let Some(ip) = ip else { return Ok(published) };
    let direct = format!("{ip}:{FRONTEND_PORT}");
    let probe = tokio::net::TcpStream::connect(&direct);
    match tokio::time::timeout(Duration::from_millis(300), probe).await {
        Ok(Ok(_)) => Ok(direct),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(direct),
        _ => Ok(published),
    }
}

pub(super) async fn host_port<I: Image>(
    container: &ContainerAsync<I>,
    port: u16,
) -> Result<u16, StackError> {
    container
        .get_host_port_ipv4(ContainerPort::Tcp(port))
        .await
        .map_err(|e| {
            StackError::Boot(BootError::ServiceFailed {
                service: format!("container {} (port {port} is not mapped)", container.id()),
                source: e.into(),
            })
        })
}

pub(super) fn park<I: Image + 'static>(container: ContainerAsync<I>) {
    PARKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Box::new(container));
}

/// `name:tag` (a registry host with a port is not a tag).
pub(super) fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

pub(super) fn start_error(
    service: &str,
    image: &str,
    timeout: Duration,
    e: testcontainers::TestcontainersError,
) -> StackError {
    use testcontainers::core::{client::ClientError, error::WaitContainerError};
    use testcontainers::TestcontainersError;
    match e {
        TestcontainersError::WaitContainer(WaitContainerError::StartupTimeout) => {
            StackError::Boot(BootError::StartupTimeout {
                service: format!("{service} ({image})"),
                timeout,
                last: e.into(),
                log: "`docker logs` of its container".into(),
            })
        }
        TestcontainersError::Client(ClientError::PullImage { .. }) => {
            StackError::Docker(DockerError::ImageMissing {
                image: image.to_string(),
                source: e.into(),
            })
        }
        e => StackError::Boot(BootError::ServiceFailed {
            service: format!("{service} ({image})"),
            source: e.into(),
        }),
    }
}
