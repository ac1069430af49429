//! Cold containers stacks start PostgreSQL from a template image (Temporal's schema already
//! applied), made once by the first boot: each stack's PostgreSQL still takes its own password
//! only, and the image holds no password.

use sqlx::Connection;
use std::process::Command;
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::stack::PrivateStateDir;
use temporal_harness::{Endpoints, Stack};

async fn boot(private: &PrivateStateDir) -> (Stack, Endpoints) {
    let mut config = test_support::config(BackendKind::Containers, Flavor::Postgres);
    config.ui = Some(false);
    config.state_dir = private.path().to_path_buf();
    let stack = Stack::acquire(&config).await.expect("containers stack");
    let endpoints = stack.endpoints().clone();
    (stack, endpoints)
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The image of the container that publishes PostgreSQL on `port`.
fn image_on_port(port: u16) -> String {
    docker(&["ps", "--format", "{{.Image}}\t{{.Ports}}"])
        .lines()
        .find(|l| l.contains(&format!(":{port}->5432/tcp")))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no container publishes port {port}"))
        .to_string()
}

fn port_of(url: &str) -> u16 {
    let after_host = url.rsplit_once('@').unwrap().1;
    let port = after_host
        .split(['/', '?'])
        .next()
        .unwrap()
        .rsplit_once(':');
    port.unwrap().1.parse().unwrap()
}

#[tokio::test]
async fn stacks_boot_from_the_template_each_with_its_own_password() {
    let (first_dir, second_dir) = (
        test_support::private_state_dir("template-1"),
        test_support::private_state_dir("template-2"),
    );
    let (first, first_endpoints) = boot(&first_dir).await;
    let (second, second_endpoints) = boot(&second_dir).await;
    let first_url = &first_endpoints
        .postgres_url
        .as_ref()
        .unwrap()
        .exposed_url()
        .expose()
        .to_string();
    let second_url = &second_endpoints
        .postgres_url
        .as_ref()
        .unwrap()
        .exposed_url()
        .expose()
        .to_string();

    // However the first one booted, the template exists now and the second used it.
    let image = image_on_port(port_of(second_url));
    assert!(
        image.starts_with("temporal-harness/postgres-template:"),
        "{image}"
    );

    // The second's PostgreSQL takes its own password (the schema is there), not the first's.
    let temporal_db = &second_endpoints
        .temporal_db_url
        .as_ref()
        .unwrap()
        .exposed_url()
        .expose()
        .to_string();
    let mut own = sqlx::PgConnection::connect(temporal_db)
        .await
        .expect("own password");
    let version: String = sqlx::query_scalar(
        "SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = 'temporal'",
    )
    .fetch_one(&mut own)
    .await
    .expect("Temporal's schema");
    assert!(
        second_endpoints
            .description
            .contains(&format!("schema {version}/")),
        "{version}"
    );
    drop(own);
    let first_password_on_second = first_url.replace(
        &format!(":{}/", port_of(first_url)),
        &format!(":{}/", port_of(second_url)),
    );
    let refused = sqlx::PgConnection::connect(&first_password_on_second)
        .await
        .expect_err("another stack's password is refused");
    assert!(
        refused
            .to_string()
            .contains("password authentication failed"),
        "{refused}"
    );

    // Neither password is in the image.
    let inspected = docker(&["image", "inspect", &image]);
    for url in [first_url, second_url] {
        let password = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .and_then(|(user, _)| user.split_once(':'))
            .unwrap()
            .1;
        assert!(!inspected.contains(password), "a password is in {image}");
    }
    drop((first, second, first_dir, second_dir));
}
