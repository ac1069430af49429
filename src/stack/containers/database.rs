//! PostgreSQL in a container (from the template image when there is one) and the schema
//! step that creates and migrates Temporal's databases.

use super::docker::{host_port, park, split_image, start_error};
use super::images::Plan;
use super::template::Template;
use crate::conninfo::PgConnInfo;
use crate::secret::Secret;
use crate::stack::progress::Progress;
use crate::stack::setup_steps::{schema_script, sql_tool_env, DB_USER};
use crate::stack::{postgres, BootError, StackError};
use std::collections::HashMap;
use std::time::Duration;
use testcontainers::bollard::Docker;
use testcontainers::core::wait::ExitWaitStrategy;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, Image, ImageExt};
use testcontainers_modules::postgres::Postgres;

/// PostgreSQL's port inside its container (the server and the schema job reach it there).
pub(super) const PG_PORT: u16 = 5432;

/// PostgreSQL from the base image: initdb at container start, then the schema step.
pub(super) async fn start_postgres(
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
        .with_env_var("PGDATA", super::template::PGDATA)
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
pub(super) async fn start_postgres_from(
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
pub(super) fn postgres_args() -> [&'static str; 4] {
    ["-c", "fsync=off", "-c", postgres::MAX_CONNECTIONS]
}

/// Parks the PostgreSQL container, waits until the stack's user can log in and the stack's
/// databases exist; returns the server-level URL.
pub(super) async fn postgres_ready<I: Image + Send + 'static>(
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
pub(super) async fn postgres_ready_at(
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

/// Runs `temporal-sql-tool` in a one-shot container on the stack's network: the job the
/// official `temporalio/admin-tools` image does (the local server image can do it too).
pub(super) async fn run_schema_step(
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
    job.rm().await.map_err(|e| {
        StackError::Boot(BootError::ServiceFailed {
            service: "Temporal schema step (removing its finished container)".into(),
            source: e.into(),
        })
    })
}
