//! Each backend and flavour boots, runs a workflow end to end, and (PostgreSQL flavours)
//! shows the workflow's row in Temporal's own `current_executions` table.

mod common;

use common::{config, run_greeting};
use std::time::Duration;
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::{Endpoints, Stack};

async fn assert_current_execution(endpoints: &Endpoints, workflow_id: &str) {
    let url = endpoints
        .temporal_db_url
        .as_ref()
        .expect("PostgreSQL flavour has a temporal db");
    let pool = sqlx::PgPool::connect(url.expose())
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
    external.external = Some(temporal_harness::config::ExternalTarget {
        address: own.endpoints().temporal.address.clone(),
        postgres_url: own.endpoints().temporal_db_url.clone(),
        ..Default::default()
    });
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
