//! Each backend and flavour boots, runs a workflow end to end, and (PostgreSQL flavours)
//! shows the workflow's row in Temporal's own `current_executions` table.

use std::time::Duration;
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::{Endpoints, Stack};
use test_support::{config, run_greeting};

async fn assert_current_execution(endpoints: &Endpoints, workflow_id: &str) {
    let url = endpoints
        .temporal_db_url
        .as_ref()
        .expect("PostgreSQL flavour has a temporal db");
    let pool = sqlx::PgPool::connect(url.exposed_url().expose())
        .await
        .expect("connect to temporal db");
    // state 3 = completed, status 2 = completed (Temporal's enums).
    let row: (i32, i32) =
        sqlx::query_as("SELECT state, status FROM current_executions WHERE workflow_id = $1")
            .bind(workflow_id)
            .fetch_one(&pool)
            .await
            .expect("the workflow has a current_executions row");
    assert_eq!(row, (3, 2), "completed state and status");
}

async fn end_to_end(backend: BackendKind, flavor: Flavor) {
    let config = config(backend, flavor);
    let stack = Stack::acquire(&config).await.expect("stack boots");
    let endpoints = stack.endpoints().clone();
    assert_eq!(endpoints.backend, backend);
    assert_eq!(endpoints.flavor, Some(flavor));
    let (workflow_id, result) = run_greeting(&endpoints).await;
    assert_eq!(result, "Hello, stack!");
    if flavor == Flavor::Postgres {
        assert_current_execution(&endpoints, &workflow_id).await;
        assert!(endpoints.app_db_url.is_some());
    }
    drop(stack);
}

#[tokio::test]
async fn containers_postgres_runs_a_workflow_and_persists_it() {
    end_to_end(BackendKind::Containers, Flavor::Postgres).await;
}

#[tokio::test]
async fn containers_dev_runs_a_workflow() {
    end_to_end(BackendKind::Containers, Flavor::Dev).await;
}

#[tokio::test]
async fn local_postgres_runs_a_workflow_and_persists_it() {
    end_to_end(BackendKind::Local, Flavor::Postgres).await;
}

#[tokio::test]
async fn local_dev_runs_a_workflow() {
    end_to_end(BackendKind::Local, Flavor::Dev).await;
}

#[tokio::test]
async fn external_runs_a_workflow_on_a_stack_the_test_started() {
    let own = Stack::acquire(&config(BackendKind::Local, Flavor::Postgres))
        .await
        .expect("stack to point at");
    let mut external = config(BackendKind::External, Flavor::Postgres);
    let mut target =
        temporal_harness::config::ExternalTarget::new(&own.endpoints().temporal.address);
    target.postgres_url = own.endpoints().temporal_db_url.clone();
    external.external = Some(target);
    let stack = Stack::acquire(&external).await.expect("external stack");
    assert_eq!(stack.endpoints().backend, BackendKind::External);
    assert!(stack.endpoints_file().is_none(), "nothing owned");
    let (workflow_id, result) = run_greeting(stack.endpoints()).await;
    assert_eq!(result, "Hello, stack!");
    assert_current_execution(stack.endpoints(), &workflow_id).await;
    // Shutting down an external stack stops nothing: the deployment still answers.
    stack.shutdown(Duration::from_secs(5)).await.unwrap();
    let again = Stack::acquire(&external).await.expect("still up");
    again.shutdown(Duration::from_secs(5)).await.unwrap();
    drop(own);
}

/// The Web UI of a stack booted with it serves the history of a workflow run on that stack
/// (through the UI server's own API, what its pages read), on every backend and flavour.
async fn ui_shows_a_workflow(backend: BackendKind, flavor: Flavor) {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let mut config = config(backend, flavor);
    // A stack of its own: the run's shared one may have been booted without the UI.
    let private = test_support::private_state_dir("ui");
    config.state_dir = private.path().to_path_buf();
    config.ui = Some(true);
    let stack = Stack::acquire(&config).await.expect("stack boots");
    let endpoints = stack.endpoints().clone();
    let ui = endpoints
        .ui_url
        .clone()
        .expect("a stack booted with the UI has ui_url");
    let (workflow_id, _) = run_greeting(&endpoints).await;
    let url = format!(
        "{ui}/api/v1/namespaces/{}/workflows/{workflow_id}/history",
        endpoints.namespace
    );
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(url.parse().unwrap())
        .await
        .expect("the UI answers");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("Greeter::greet"),
        "{url} lacks the activity: {body}"
    );
    stack
        .shutdown(Duration::from_secs(30))
        .await
        .expect("teardown");
}

#[tokio::test]
async fn the_web_ui_shows_workflows_on_every_backend_and_flavour() {
    for (backend, flavor) in [
        (BackendKind::Containers, Flavor::Postgres),
        (BackendKind::Containers, Flavor::Dev),
        (BackendKind::Local, Flavor::Postgres),
        (BackendKind::Local, Flavor::Dev),
    ] {
        ui_shows_a_workflow(backend, flavor).await;
    }
}
