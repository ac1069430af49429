//! Each bad input or fault the library meets gets its own error naming the cause and the fix,
//! in bounded time, and never shows a password. (What the binary does with bad input, and
//! process-wide settings such as DOCKER_HOST, are tested in `cli/tests/cli/errors.rs`.)

use std::net::TcpListener;
use std::time::Duration;
use temporal_harness::config::{BackendKind, ExternalTarget, Flavor, TlsFiles};
use temporal_harness::conninfo::PgConnInfo;
use temporal_harness::stack::{check_schema, ControlError, PostgresError, TemporalError};
use temporal_harness::{Stack, StackConfig, StackError};
use test_support::config;

fn external(address: &str) -> StackConfig {
    let mut c = config(BackendKind::External, Flavor::Postgres);
    c.external = Some(ExternalTarget::new(address));
    c
}

#[tokio::test]
async fn wrong_postgres_password_is_named_and_never_shown() {
    let own = Stack::acquire(&config(BackendKind::Local, Flavor::Postgres))
        .await
        .unwrap();
    let real = own.endpoints().temporal_db_url.clone().unwrap();
    let mut url = url::Url::parse(real.exposed_url().expose()).unwrap();
    let real_password = url.password().unwrap().to_string();
    url.set_password(Some("not-the-password-42")).unwrap();
    let mut c = external(&own.endpoints().temporal.address);
    c.external.as_mut().unwrap().postgres_url = Some(PgConnInfo::parse(url.as_str()).unwrap());
    let err = Stack::acquire(&c).await.unwrap_err();
    assert!(
        matches!(
            err,
            StackError::Postgres(PostgresError::WrongPassword { .. })
        ),
        "{err}"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("rejected the password of user temporal"),
        "{shown}"
    );
    assert!(
        !shown.contains("not-the-password-42") && !shown.contains(&real_password),
        "{shown}"
    );
    drop(own);
}

#[tokio::test]
async fn unreachable_external_address_fails_fast() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = external(&closed.to_string());
    // The harness bounds this itself; the outer timeout only keeps a regression from hanging.
    let err = tokio::time::timeout(Duration::from_secs(60), Stack::acquire(&c))
        .await
        .expect("bounded")
        .unwrap_err();
    assert!(
        matches!(err, StackError::Temporal(TemporalError::Unreachable { .. })),
        "{err}"
    );
    assert!(err.to_string().contains(&closed.to_string()), "{err}");
}

#[tokio::test]
async fn unreadable_tls_file_is_named_before_any_connection() {
    let mut c = external("127.0.0.1:1");
    c.external.as_mut().unwrap().tls = TlsFiles {
        ca: Some("/nonexistent/ca.pem".into()),
        ..Default::default()
    };
    let err = Stack::acquire(&c).await.unwrap_err();
    assert!(
        matches!(err, StackError::Temporal(TemporalError::TlsFile { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn unknown_namespace_on_an_external_deployment() {
    let own = Stack::acquire(&config(BackendKind::Local, Flavor::Dev))
        .await
        .unwrap();
    let mut c = external(&own.endpoints().temporal.address);
    c.namespace = "no-such-namespace".into();
    let err = Stack::acquire(&c).await.unwrap_err();
    assert!(
        matches!(
            err,
            StackError::Temporal(TemporalError::UnknownNamespace { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("namespace no-such-namespace does not exist"),
        "{err}"
    );
    drop(own);
}

#[tokio::test]
async fn schema_older_than_the_server_needs() {
    let own = Stack::acquire(&config(BackendKind::Local, Flavor::Postgres))
        .await
        .unwrap();
    let admin = own.endpoints().postgres_url.clone().unwrap();
    let db = format!("old_schema_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin.exposed_url().expose())
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&pool)
        .await
        .unwrap();
    let old = admin.with_database(&db);
    let old_pool = sqlx::PgPool::connect(old.exposed_url().expose())
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE schema_version (version_partition INT, db_name VARCHAR(255), \
         creation_time TIMESTAMP, curr_version VARCHAR(64), min_compatible_version VARCHAR(64))",
    )
    .execute(&old_pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO schema_version VALUES (0, $1, now(), '1.0', '1.0')")
        .bind(&db)
        .execute(&old_pool)
        .await
        .unwrap();
    old_pool.close().await;

    let err = check_schema(&old, &old).await.unwrap_err();
    assert!(
        matches!(
            err,
            StackError::Postgres(PostgresError::SchemaTooOld { .. })
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("schema is at version 1.0") && msg.contains("update-schema"),
        "{msg}"
    );
    // The stack's own databases are at the expected versions.
    let ok = check_schema(
        own.endpoints().temporal_db_url.as_ref().unwrap(),
        own.endpoints().visibility_db_url.as_ref().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        ok.temporal,
        temporal_harness::versions::Versions::pinned().schema_version
    );

    // FORCE: the sessions check_schema closed may still be ending server-side (a closed
    // connection's backend exits after the client has moved on; on a loaded machine later).
    sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .execute(&pool)
        .await
        .unwrap();
    drop(own);
}

/// Control a stack cannot give names the stack that can; control that fails on a stack that
/// supports it names the backend's own cause (here Docker: the container is gone), at once.
#[tokio::test]
async fn control_errors_fit_the_backend_they_happen_on() {
    let local = Stack::acquire(&config(BackendKind::Local, Flavor::Postgres))
        .await
        .unwrap();
    let err = local.control().await.unwrap_err();
    assert!(
        matches!(
            err,
            StackError::Control(ControlError::NotControllable { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("FaultHarness::exclusive()"),
        "{err}"
    );
    let err = local.failover().unwrap_err();
    assert!(
        err.to_string().contains("FaultHarness::failover()"),
        "{err}"
    );
    drop(local);

    let private = test_support::private_state_dir("control-errors");
    let mut c = config(BackendKind::Containers, Flavor::Postgres);
    c.state_dir = private.path().to_path_buf();
    let own = Stack::acquire(&c).await.unwrap();
    let control = own.control().await.unwrap();
    let [_, postgres] = control.containers();
    let removed = std::process::Command::new("docker")
        .args(["rm", "-f", &postgres])
        .output()
        .expect("docker CLI");
    assert!(removed.status.success(), "{removed:?}");
    let err = control
        .postgres_down(temporal_harness::stack::Outage::Pause)
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(
        matches!(err, StackError::Control(ControlError::Failed { .. })),
        "{shown}"
    );
    assert!(
        shown.contains(&postgres) && shown.contains("Docker daemon"),
        "{shown}"
    );
    // A missing container (404) is final: only the daemon's own failures are tried again.
    assert!(!shown.contains("tried"), "{shown}");
    drop(own);
    drop(private);
}
