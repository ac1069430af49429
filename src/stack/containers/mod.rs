//! The containers backend (testcontainers): PostgreSQL, the schema step and the Temporal
//! server on a private network, or the CLI dev server alone.
//!
//! Containers are labelled `io.temporal-harness.stack=<key>` and outlive the process that
//! started them: the stack's keeper removes them (see `state`). Their testcontainers
//! handles are parked (`docker::park`) so that dropping them never removes a shared container.
//!
//! `images` picks the images, `database` runs PostgreSQL and the schema step, `docker` holds
//! what every container shares, `template` the PostgreSQL template image; here the boot.

mod database;
mod docker;
mod images;
mod template;

use super::endpoints::metrics_url;
use super::labels::STACK_LABEL;
use super::progress::Progress;
use super::setup_steps::{
    dev_server_ui_args, server_env, DEV_SERVER_DYNAMIC_CONFIG, DYNAMIC_CONFIG,
};
use super::state::StackDir;
use super::{ui, Endpoints, StackError};
use crate::config::{BackendKind, Flavor, StackConfig};
use crate::secret::Secret;
use crate::stack::BootError;
use database::{start_postgres, start_postgres_from, PG_PORT};
pub(crate) use docker::{docker, postgres_container, temporal_container, ui_container};
use docker::{
    frontend_address, host_port, park, request, split_image, start_error, FRONTEND_PORT, HTTP_PORT,
};
use images::{plan, Plan};
use std::collections::HashMap;
use template::Template;
use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::Docker;
use testcontainers::core::IntoContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

/// The server's Prometheus endpoint inside the container (the metrics checks read it).
const METRICS_PORT: u16 = 9090;

/// The dev server's own UI (the CLI's default, frontend port + 1000).
const DEV_UI_PORT: u16 = 8233;

const DYNAMIC_CONFIG_PATH: &str = "/etc/temporal/harness-dynamicconfig.yaml";

/// Boots the configured flavour in containers.
pub(crate) async fn boot(
    config: &StackConfig,
    dir: &StackDir,
    progress: &Progress,
) -> Result<Endpoints, StackError> {
    let docker = docker().await?;
    let plan = plan(config, &docker).await?;
    let label = dir.label()?;
    let labels = HashMap::from([
        (STACK_LABEL.to_string(), label.clone()),
        (super::labels::ROOT_LABEL.to_string(), dir.root_label()),
    ]);
    match config.flavor {
        Flavor::Dev => {
            let step = progress.start(&format!("Temporal dev server (container {})", plan.dev));
            let args = [
                "server",
                "start-dev",
                "--ip",
                "0.0.0.0",
                "--port",
                "7233",
                "--http-port",
                "7243",
                "--metrics-port",
                "9090",
            ]
            .into_iter()
            .chain(DEV_SERVER_DYNAMIC_CONFIG)
            .map(String::from)
            .chain(dev_server_ui_args(config.ui_enabled(), DEV_UI_PORT));
            let extra_ports: &[u16] = if config.ui_enabled() {
                &[METRICS_PORT, DEV_UI_PORT]
            } else {
                &[METRICS_PORT]
            };
            let server = request(&plan.dev, &labels, config, extra_ports)?
                .with_cmd(args)
                .start()
                .await
                .map_err(|e| {
                    start_error("Temporal dev server", &plan.dev, config.startup_timeout, e)
                })?;
            let address = frontend_address(&docker, &server, config).await?;
            let http = host_port(&server, HTTP_PORT).await?;
            let metrics = host_port(&server, METRICS_PORT).await?;
            let ui_url = match config.ui_enabled() {
                true => Some(format!(
                    "http://127.0.0.1:{}",
                    host_port(&server, DEV_UI_PORT).await?
                )),
                false => None,
            };
            park(server);
            step.done();
            Ok(Endpoints {
                ui_url,
                metrics_url: Some(metrics_url(metrics)),
                ..Endpoints::without_postgres(
                    BackendKind::Containers,
                    Some(Flavor::Dev),
                    address,
                    &config.namespace,
                    Some(http),
                    format!("containers: {}", plan.dev),
                )
            })
        }
        Flavor::Postgres => {
            boot_postgres_flavor(config, &label, progress, &docker, &plan, &labels).await
        }
    }
}

async fn boot_postgres_flavor(
    config: &StackConfig,
    label: &str,
    progress: &Progress,
    docker: &Docker,
    plan: &Plan,
    labels: &HashMap<String, String>,
) -> Result<Endpoints, StackError> {
    let timeout = config.startup_timeout;
    let network = format!("temporal-harness-{label}");
    docker
        .create_network(NetworkCreateRequest {
            name: network.clone(),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await
        .map_err(|e| {
            StackError::Boot(BootError::ServiceFailed {
                service: format!("Docker network {network}"),
                source: e.into(),
            })
        })?;
    let password = Secret::new(uuid::Uuid::new_v4().simple().to_string());
    let pg_name = postgres_container(label);

    let template = Template::for_plan(docker, plan).await;
    let from_template = match &template {
        Some(t) => t.exists(docker).await.then_some(t),
        None => None,
    };
    let (admin, schema) = match from_template {
        Some(template) => {
            start_postgres_from(
                template, progress, docker, &network, &pg_name, labels, &password, timeout,
            )
            .await?
        }
        None => {
            let (admin, schema) = start_postgres(
                plan, progress, &network, &pg_name, labels, &password, timeout,
            )
            .await?;
            if let Some(template) = template {
                let step = progress.start(&format!(
                    "PostgreSQL template image {} (once)",
                    template.image
                ));
                match template.save(docker, &pg_name, &admin).await {
                    Ok(()) => step.done(),
                    Err(why) => eprintln!(
                        "temporal-harness: warning: no PostgreSQL template image made ({why}); \
                         every cold boot runs initdb and the schema step. Fix: none needed, \
                         the next boot tries again"
                    ),
                }
            }
            (admin, schema)
        }
    };

    let step = progress.start(&format!("Temporal server (container {})", plan.server));
    let server_name = temporal_container(label);
    let server = server_env(&pg_name, PG_PORT, &password, DYNAMIC_CONFIG_PATH)
        .into_iter()
        .fold(
            request(&plan.server, labels, config, &[METRICS_PORT])?,
            |request, (key, value)| request.with_env_var(key, value),
        )
        .with_network(&network)
        .with_container_name(&server_name)
        .with_env_var("PROMETHEUS_ENDPOINT", format!("0.0.0.0:{METRICS_PORT}"))
        .with_copy_to(DYNAMIC_CONFIG_PATH, DYNAMIC_CONFIG.as_bytes().to_vec())
        .start();
    // The UI container starts alongside the server: its first connection fails while the
    // frontend boots, and gRPC's reconnect backoff makes it ready about 0.6 s after the
    // frontend (the local backend starts its UI process afterwards instead, see PendingUi).
    let ui = async {
        match config.ui_enabled() {
            true => start_ui(config, label, plan, &network, &server_name, labels)
                .await
                .map(Some),
            false => Ok(None),
        }
    };
    let (server, ui_url) = tokio::join!(server, ui);
    let server = server
        .map_err(|e| start_error("Temporal server", &plan.server, config.startup_timeout, e))?;
    let address = frontend_address(docker, &server, config).await?;
    let http = host_port(&server, HTTP_PORT).await?;
    let metrics = host_port(&server, METRICS_PORT).await?;
    park(server);
    let ui_url = ui_url?;
    step.done();

    Ok(Endpoints {
        ui_url,
        metrics_url: Some(metrics_url(metrics)),
        ..Endpoints::on_postgres(
            BackendKind::Containers,
            address,
            &config.namespace,
            admin,
            http,
            format!(
                "containers: {} on {} (schema {}/{})",
                plan.server, plan.postgres, schema.temporal, schema.visibility
            ),
        )
    })
}

/// Starts the Web UI container for the frontend `server` on the stack's network; returns
/// the UI's URL on the host.
async fn start_ui(
    config: &StackConfig,
    label: &str,
    plan: &Plan,
    network: &str,
    server: &str,
    labels: &HashMap<String, String>,
) -> Result<String, StackError> {
    let (name, tag) = split_image(&plan.ui);
    let env = ui::container_env(&format!("{server}:{FRONTEND_PORT}"), &config.namespace);
    let container = env
        .into_iter()
        .fold(
            GenericImage::new(name, tag)
                .with_exposed_port(ui::CONTAINER_PORT.tcp())
                .with_network(network)
                .with_container_name(ui_container(label))
                .with_labels(labels.clone())
                .with_startup_timeout(config.startup_timeout),
            |request, (key, value)| request.with_env_var(key, value),
        )
        .start()
        .await
        .map_err(|e| start_error("Temporal Web UI", &plan.ui, config.startup_timeout, e))?;
    let port = host_port(&container, ui::CONTAINER_PORT).await?;
    park(container);
    Ok(format!("http://127.0.0.1:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_into_name_and_tag() {
        assert_eq!(split_image("postgres:15"), ("postgres".into(), "15".into()));
        assert_eq!(
            split_image("registry:5000/temporalio/server"),
            ("registry:5000/temporalio/server".into(), "latest".into())
        );
        assert_eq!(
            split_image("temporal-harness/temporal-server:1.32.2"),
            ("temporal-harness/temporal-server".into(), "1.32.2".into())
        );
    }
}
