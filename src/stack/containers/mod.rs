//! The containers backend (testcontainers): PostgreSQL, the schema step and the Temporal
//! server on a private network, or the CLI dev server alone.
//!
//! Containers are labelled `io.temporal-harness.stack=<key>` and outlive the process that
//! started them: the stack's keeper removes them (see `shared`). Their testcontainers
//! handles are parked in [`PARKED`] so that dropping them never removes a shared container.

mod template;

use super::endpoints::metrics_url;
use super::labels::STACK_LABEL;
use super::ports::ensure_free;
use super::progress::Progress;
use super::setup_steps::{
    dev_server_ui_args, schema_script, server_env, sql_tool_env, DB_USER,
    DEV_SERVER_DYNAMIC_CONFIG, DYNAMIC_CONFIG,
};
use super::state::StackDir;
use super::{postgres, ui, Endpoints, StackError};
use crate::config::{BackendKind, Flavor, ImageRole, ImageSource, StackConfig};
use crate::conninfo::PgConnInfo;
use crate::error::BoxError;
use crate::secret::Secret;
use crate::versions::Versions;
use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use template::Template;
use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::Docker;
use testcontainers::core::wait::ExitWaitStrategy;
use testcontainers::core::{ContainerPort, IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, Image, ImageExt};
use testcontainers_modules::postgres::Postgres;

/// PostgreSQL's port inside its container (the server and the schema job reach it there).
const PG_PORT: u16 = 5432;

const FRONTEND_PORT: u16 = 7233;
const HTTP_PORT: u16 = 7243;
/// The server's Prometheus endpoint inside the container (the metrics checks read it).
const METRICS_PORT: u16 = 9090;
/// The dev server's own UI (the CLI's default, frontend port + 1000).
const DEV_UI_PORT: u16 = 8233;
const DYNAMIC_CONFIG_PATH: &str = "/etc/temporal/harness-dynamicconfig.yaml";

/// Handles of started containers; never dropped, so testcontainers never removes them.
static PARKED: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());

/// A connected Docker client, or why there is none (bounded: a few seconds at most).
pub(crate) async fn docker() -> Result<Docker, StackError> {
    let unreachable = |source: BoxError| StackError::DockerUnreachable { source };
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

/// The images one boot uses.
struct Plan {
    postgres: String,
    server: String,
    schema: String,
    dev: String,
    ui: String,
}

async fn plan(config: &StackConfig, docker: &Docker) -> Result<Plan, StackError> {
    let official = &config.official_images;
    let v = Versions::pinned();
    let local = Plan {
        postgres: v.local_postgres_image.clone(),
        server: v.local_temporal_server_image.clone(),
        // The local server image carries temporal-sql-tool and a shell for the schema step.
        schema: v.local_temporal_server_image.clone(),
        dev: v.local_temporal_dev_image.clone(),
        ui: v.local_temporal_ui_image.clone(),
    };
    let official = Plan {
        postgres: official.postgres.clone(),
        server: official.server.clone(),
        schema: official.admin_tools.clone(),
        dev: official.dev.clone(),
        ui: official.ui.clone(),
    };
    let needed = |p: &Plan| -> Vec<String> {
        match config.flavor {
            Flavor::Dev => vec![p.dev.clone()],
            Flavor::Postgres if config.ui_enabled() => vec![
                p.postgres.clone(),
                p.server.clone(),
                p.schema.clone(),
                p.ui.clone(),
            ],
            Flavor::Postgres => vec![p.postgres.clone(), p.server.clone(), p.schema.clone()],
        }
    };
    let mut chosen = match config.images {
        ImageSource::Official => official,
        ImageSource::Local => local,
        ImageSource::Auto => {
            let official_present = all_present(docker, &needed(&official)).await;
            if !official_present && all_present(docker, &needed(&local)).await {
                eprintln!(
                    "temporal-harness: using the locally built images (official images absent; \
                     set TEMPORAL_HARNESS_IMAGES=official to pull them)"
                );
                local
            } else {
                official
            }
        }
    };
    // An image the user named is used whatever the source: pulled if absent, or the boot
    // fails naming it. Never swapped for a default.
    let images = &config.official_images;
    for (role, slot) in [
        (ImageRole::Postgres, &mut chosen.postgres),
        (ImageRole::Server, &mut chosen.server),
        (ImageRole::AdminTools, &mut chosen.schema),
        (ImageRole::Dev, &mut chosen.dev),
        (ImageRole::Ui, &mut chosen.ui),
    ] {
        if images.is_named(role) {
            *slot = images.get(role).to_string();
        }
    }
    Ok(chosen)
}

async fn all_present(docker: &Docker, images: &[String]) -> bool {
    for image in images {
        if docker.inspect_image(image).await.is_err() {
            return false;
        }
    }
    true
}

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
        .map_err(|e| StackError::ServiceFailed {
            service: format!("Docker network {network}"),
            source: e.into(),
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

/// PostgreSQL from the base image: initdb at container start, then the schema step.
async fn start_postgres(
    plan: &Plan,
    progress: &Progress,
    network: &str,
    pg_name: &str,
    labels: &HashMap<String, String>,
    password: &Secret,
    timeout: Duration,
) -> Result<(PgConnInfo, postgres::SchemaStatus), StackError> {
    let step = progress.start(&format!("PostgreSQL (container {})", plan.postgres));
    let (pg_image, pg_tag) = split_image(&plan.postgres);
    let pg = Postgres::default()
        .with_user(DB_USER)
        .with_password(password.expose())
        .with_db_name("postgres")
        .with_name(pg_image)
        .with_tag(pg_tag)
        .with_network(network)
        .with_container_name(pg_name)
        .with_labels(labels.clone())
        .with_env_var("PGDATA", template::PGDATA)
        .with_startup_timeout(timeout)
        .with_cmd(postgres_args())
        .start()
        .await
        .map_err(|e| start_error("PostgreSQL", &plan.postgres, timeout, e))?;
    let admin = postgres_ready(pg, pg_name, password, timeout).await?;
    step.done();

    let step = progress.start(&format!("Temporal schema (container {})", plan.schema));
    run_schema_step(plan, network, pg_name, password, labels, timeout).await?;
    let schema = postgres::check_schema(
        &admin.with_database("temporal"),
        &admin.with_database("temporal_visibility"),
    )
    .await?;
    step.done();
    Ok((admin, schema))
}

/// PostgreSQL from its template image: data and schema are there; the stack's password is set
/// and the schema's version checked.
#[allow(clippy::too_many_arguments)]
async fn start_postgres_from(
    template: &Template,
    progress: &Progress,
    docker: &Docker,
    network: &str,
    pg_name: &str,
    labels: &HashMap<String, String>,
    password: &Secret,
    timeout: Duration,
) -> Result<(PgConnInfo, postgres::SchemaStatus), StackError> {
    let step = progress.start(&format!(
        "PostgreSQL with Temporal's schema (container {})",
        template.image
    ));
    let (name, tag) = template.name_and_tag();
    let pg = GenericImage::new(name, tag)
        .with_exposed_port(PG_PORT.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_network(network)
        .with_container_name(pg_name)
        .with_labels(labels.clone())
        .with_startup_timeout(timeout)
        .with_cmd(postgres_args())
        .start()
        .await
        .map_err(|e| template.unusable(e.to_string()))?;
    // Parked first: if setting the password fails, the container is still the stack's.
    let pg_port = host_port(&pg, PG_PORT).await?;
    park(pg);
    template.set_password(docker, pg_name, password).await?;
    let admin = postgres_ready_at(pg_port, pg_name, password, timeout).await?;
    let schema = postgres::check_schema(
        &admin.with_database("temporal"),
        &admin.with_database("temporal_visibility"),
    )
    .await
    .map_err(|e| template.unusable(e.to_string()))?;
    step.done();
    Ok((admin, schema))
}

/// PostgreSQL's arguments: the testcontainers module's own (`fsync=off`) plus the stacks'
/// connection limit.
fn postgres_args() -> [&'static str; 4] {
    ["-c", "fsync=off", "-c", postgres::MAX_CONNECTIONS]
}

/// Parks the PostgreSQL container, waits until the stack's user can log in and the stack's
/// databases exist; returns the server-level URL.
async fn postgres_ready<I: Image + Send + 'static>(
    pg: ContainerAsync<I>,
    pg_name: &str,
    password: &Secret,
    timeout: Duration,
) -> Result<PgConnInfo, StackError> {
    let pg_port = host_port(&pg, PG_PORT).await?;
    park(pg);
    postgres_ready_at(pg_port, pg_name, password, timeout).await
}

/// Waits until the stack's user can log in to PostgreSQL on `pg_port` and the stack's
/// databases exist; returns the server-level URL.
async fn postgres_ready_at(
    pg_port: u16,
    pg_name: &str,
    password: &Secret,
    timeout: Duration,
) -> Result<PgConnInfo, StackError> {
    let admin = PgConnInfo::from_parts(DB_USER, password, "127.0.0.1", pg_port, "postgres");
    postgres::wait_ready(&admin, timeout).await.map_err(|e| {
        e.at_startup_deadline("PostgreSQL", timeout, &format!("docker logs {pg_name}"))
    })?;
    postgres::create_databases(&admin).await?;
    Ok(admin)
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

/// Runs `temporal-sql-tool` in a one-shot container on the stack's network: the job the
/// official `temporalio/admin-tools` image does (the local server image can do it too).
async fn run_schema_step(
    plan: &Plan,
    network: &str,
    pg_host: &str,
    password: &Secret,
    labels: &HashMap<String, String>,
    timeout: Duration,
) -> Result<(), StackError> {
    let (name, tag) = split_image(&plan.schema);
    let job = GenericImage::new(name, tag)
        .with_entrypoint("sh")
        .with_wait_for(WaitFor::exit(ExitWaitStrategy::new().with_exit_code(0)))
        .with_cmd(["-c".to_string(), schema_script()]);
    let job = sql_tool_env(pg_host, PG_PORT, password)
        .into_iter()
        .fold(job.with_network(network), |job, (key, value)| {
            job.with_env_var(key, value)
        })
        .with_labels(labels.clone())
        .with_startup_timeout(timeout)
        .start()
        .await
        .map_err(|e| start_error("Temporal schema step", &plan.schema, timeout, e))?;
    job.rm().await.map_err(|e| StackError::ServiceFailed {
        service: "Temporal schema step (removing its finished container)".into(),
        source: e.into(),
    })
}

/// A Temporal server container: frontend, HTTP and `extra` ports published (the frontend on
/// the configured host port, if any).
fn request(
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
async fn frontend_address<I: Image>(
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

async fn host_port<I: Image>(container: &ContainerAsync<I>, port: u16) -> Result<u16, StackError> {
    container
        .get_host_port_ipv4(ContainerPort::Tcp(port))
        .await
        .map_err(|e| StackError::ServiceFailed {
            service: format!("container {} (port {port} is not mapped)", container.id()),
            source: e.into(),
        })
}

fn park<I: Image + 'static>(container: ContainerAsync<I>) {
    PARKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Box::new(container));
}

/// `name:tag` (a registry host with a port is not a tag).
fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (image.to_string(), "latest".to_string()),
    }
}

fn start_error(
    service: &str,
    image: &str,
    timeout: Duration,
    e: testcontainers::TestcontainersError,
) -> StackError {
    use testcontainers::core::{client::ClientError, error::WaitContainerError};
    use testcontainers::TestcontainersError;
    match e {
        TestcontainersError::WaitContainer(WaitContainerError::StartupTimeout) => {
            StackError::StartupTimeout {
                service: format!("{service} ({image})"),
                timeout,
                last: e.into(),
                log: "`docker logs` of its container".into(),
            }
        }
        TestcontainersError::Client(ClientError::PullImage { .. }) => StackError::ImageMissing {
            image: image.to_string(),
            source: e.into(),
        },
        e => StackError::ServiceFailed {
            service: format!("{service} ({image})"),
            source: e.into(),
        },
    }
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
