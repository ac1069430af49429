//! The operator checks fail for real reasons on deployments broken on purpose: a schema one
//! version behind, pools that outgrow max_connections, a statement_timeout that cuts
//! queries, a namespace keeping histories under a day, missing search attributes, and
//! frontend certificates that expire in 5 days, have expired, or name another host. Each
//! breakage is real (a database, a namespace, a TLS server); the server itself stays healthy
//! so other tests sharing the stack are not disturbed.

use std::sync::Arc;
use std::time::Duration;
use temporal_harness::config::TlsFiles;
use temporal_harness::secret::DbUrl;
use temporal_harness::stack::TemporalTarget;
use temporal_harness::validation::{
    registry, CheckResult, ConnectionBudget, Session, Status, Target,
};
use temporal_harness::{Stack, StackConfig};
use temporalio_client::tonic::Request;
use temporalio_common::protos::temporal::api::workflowservice::v1::RegisterNamespaceRequest;

async fn stack() -> Stack {
    Stack::acquire(&StackConfig::load().unwrap())
        .await
        .expect("stack")
}

async fn run(target: Target, id: &str) -> CheckResult {
    let check = registry()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"));
    let session = Session::new(target);
    let result = check.run(&session).await;
    session.close();
    result
}

/// A fresh database on the stack's PostgreSQL, set up by `sql`, dropped on drop.
struct ScratchDb {
    admin: DbUrl,
    name: String,
}

impl ScratchDb {
    async fn new(stack: &Stack, sql: &[&str]) -> (ScratchDb, DbUrl) {
        let admin = stack
            .endpoints()
            .postgres_url
            .clone()
            .expect("these tests need the PostgreSQL flavour");
        let name = format!(
            "th_broken_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut conn = connect(&admin).await;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap();
        for statement in sql {
            let statement = statement.replace("{db}", &name);
            // Database-level settings are set from the admin connection.
            if statement.starts_with("ALTER DATABASE") {
                sqlx::query(&statement).execute(&mut conn).await.unwrap();
            }
        }
        let url = admin.with_database(&name);
        let mut scratch = connect(&url).await;
        for statement in sql.iter().filter(|s| !s.starts_with("ALTER DATABASE")) {
            sqlx::query(statement).execute(&mut scratch).await.unwrap();
        }
        (ScratchDb { admin, name }, url)
    }

    async fn drop_now(self) {
        let mut conn = connect(&self.admin).await;
        sqlx::query(&format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

async fn connect(url: &DbUrl) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url.expose()).await.unwrap()
}

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE schema_version (version_partition INT NOT \
     NULL, db_name VARCHAR(255) NOT NULL, creation_time TIMESTAMP, curr_version VARCHAR(64), \
     min_compatible_version VARCHAR(64), PRIMARY KEY (version_partition, db_name))";

#[tokio::test]
async fn a_schema_one_version_behind_fails_and_names_the_update() {
    let stack = stack().await;
    // 1.19 / 1.14 is what server 1.32 expects; these are one version behind each.
    for (id, behind, expected) in [
        ("postgres.schema_version", "1.18", "1.19"),
        ("postgres.visibility_schema_version", "1.13", "1.14"),
    ] {
        let insert = format!(
            "INSERT INTO schema_version VALUES (0, current_database(), now(), '{behind}', '1.0')"
        );
        let (db, url) = ScratchDb::new(&stack, &[SCHEMA_VERSION_TABLE, &insert]).await;
        let mut target = Target::from_endpoints(stack.endpoints());
        let databases = target.databases.as_mut().unwrap();
        match id {
            "postgres.schema_version" => databases.temporal = url,
            _ => databases.visibility = url,
        }
        let result = run(target, id).await;
        db.drop_now().await;
        assert_eq!(result.status, Status::Failed, "{result:?}");
        assert!(
            result
                .message
                .contains(&format!("{behind} is behind {expected}, which server 1.32")),
            "{result:?}"
        );
        assert!(result.message.contains("update-schema"), "{result:?}");
    }
    // The stack's own schemas pass.
    let healthy = run(
        Target::from_endpoints(stack.endpoints()),
        "postgres.schema_version",
    )
    .await;
    assert_eq!(healthy.status, Status::Passed, "{healthy:?}");
}

#[tokio::test]
async fn pools_that_outgrow_max_connections_fail_with_the_numbers() {
    let stack = stack().await;
    let mut target = Target::from_endpoints(stack.endpoints());
    // A production-shaped deployment on this PostgreSQL: 3 history, 2 frontend, 2 matching,
    // 1 worker host, each with the default pools.
    target.connection_budget = Some(ConnectionBudget {
        max_conns: 20,
        visibility_max_conns: 10,
        hosts: [
            ("frontend", 2),
            ("history", 3),
            ("matching", 2),
            ("worker", 1),
        ]
        .map(|(r, n)| (r.to_string(), n))
        .to_vec(),
    });
    let result = run(target, "postgres.connection_budget").await;
    assert_eq!(result.status, Status::Failed, "{result:?}");
    assert!(
        result.message.contains("may open 240 connections"),
        "{result:?}"
    );
    assert!(
        result.message.contains("raise max_connections"),
        "{result:?}"
    );
    assert_eq!(result.measurements["pool_connections_needed"], 240.0);
    assert!(result.measurements["max_connections_available"] < 240.0);
    // The stack as it is (one host per service) fits.
    let fits = run(
        Target::from_endpoints(stack.endpoints()),
        "postgres.connection_budget",
    )
    .await;
    assert_eq!(fits.status, Status::Passed, "{fits:?}");
    assert_eq!(fits.measurements["pool_connections_needed"], 120.0);
}

#[tokio::test]
async fn a_statement_timeout_that_cuts_queries_fails() {
    let stack = stack().await;
    let (db, url) = ScratchDb::new(
        &stack,
        &["ALTER DATABASE \"{db}\" SET statement_timeout = '1s'"],
    )
    .await;
    let mut target = Target::from_endpoints(stack.endpoints());
    target.databases.as_mut().unwrap().visibility = url;
    let result = run(target, "postgres.settings").await;
    db.drop_now().await;
    assert_eq!(result.status, Status::Failed, "{result:?}");
    assert!(
        result.message.contains("statement_timeout is 1000 ms"),
        "{result:?}"
    );
}

#[tokio::test]
async fn retention_under_a_day_warns_and_missing_search_attributes_fail() {
    let stack = stack().await;
    let connection =
        temporal_harness::stack::connect(&stack.endpoints().temporal, Duration::from_secs(10))
            .await
            .unwrap();
    // The server refuses a zero retention (its minimum is an hour), so "kept too briefly"
    // is the broken state a 1.32 namespace can be in.
    let namespace = format!(
        "th-short-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    connection
        .workflow_service()
        .register_namespace(Request::new(RegisterNamespaceRequest {
            namespace: namespace.clone(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
            ..Default::default()
        }))
        .await
        .unwrap();
    let mut target = Target::from_endpoints(stack.endpoints());
    target.namespace = namespace;
    let result = run(target.clone(), "temporal.retention").await;
    assert_eq!(result.status, Status::Passed, "{result:?}");
    assert_eq!(result.label(), "warn", "{result:?}");
    assert!(result.warnings[0].contains("under a day"), "{result:?}");
    assert_eq!(result.measurements["retention_hours"], 1.0);

    target.search_attributes = vec![
        ("CustomerId".into(), Some("Keyword".into())),
        ("WorkflowType".into(), None),
    ];
    let result = run(target, "temporal.search_attributes").await;
    assert_eq!(result.status, Status::Failed, "{result:?}");
    assert!(
        result.message.contains("`CustomerId` is not registered"),
        "{result:?}"
    );
}

/// A TLS server on the loopback presenting `chain`, until the test ends.
async fn tls_server(chain: Vec<rcgen::Certificate>, key: &rcgen::KeyPair) -> String {
    use tokio_rustls::rustls;
    let certs = chain.iter().map(|c| c.der().clone()).collect();
    let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // The check hangs up after the handshake; the outcome does not matter here.
            let _ = acceptor.accept(tcp).await;
        }
    });
    address
}

/// A CA, and a leaf for `name` valid from `from_days` to `to_days` around now, served over
/// TLS; returns the target that trusts the CA.
async fn frontend_with_certificate(name: &str, from_days: i64, to_days: i64) -> Target {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let now = time::OffsetDateTime::now_utc();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut leaf_params = CertificateParams::new(vec![name.to_string()]).unwrap();
    leaf_params.not_before = now + time::Duration::days(from_days);
    leaf_params.not_after = now + time::Duration::days(to_days);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let address = tls_server(vec![leaf], &leaf_key).await;
    let dir = tempfile::tempdir().unwrap().keep();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let temporal = TemporalTarget {
        tls: Some(TlsFiles {
            ca: Some(ca_file),
            server_name: Some("temporal.example.internal".into()),
            ..TlsFiles::default()
        }),
        ..TemporalTarget::plain(address)
    };
    Target::new(temporal, "default")
}

#[tokio::test]
async fn frontend_certificates_are_judged_by_name_and_expiry() {
    let check = "temporal.tls_certificate";
    let soon = run(
        frontend_with_certificate("temporal.example.internal", -1, 5).await,
        check,
    )
    .await;
    assert_eq!(soon.status, Status::Passed, "{soon:?}");
    assert_eq!(soon.label(), "warn", "{soon:?}");
    assert!(
        soon.warnings[0].contains("the certificate expires in"),
        "{soon:?}"
    );
    // Five days from now (the certificate's dates are whole seconds).
    let days = soon.measurements["days_to_expiry"];
    assert!((4.99..=5.01).contains(&days), "{days}");

    let healthy = run(
        frontend_with_certificate("temporal.example.internal", -1, 90).await,
        check,
    )
    .await;
    assert_eq!(healthy.label(), "pass", "{healthy:?}");
    assert!(healthy.message.contains("verifies"), "{healthy:?}");

    let expired = run(
        frontend_with_certificate("temporal.example.internal", -30, -2).await,
        check,
    )
    .await;
    assert_eq!(expired.status, Status::Failed, "{expired:?}");
    assert!(expired.message.contains("does not verify"), "{expired:?}");
    assert!(
        expired.message.contains("renew the certificate"),
        "{expired:?}"
    );

    let misnamed = run(
        frontend_with_certificate("other.example.internal", -1, 90).await,
        check,
    )
    .await;
    assert_eq!(misnamed.status, Status::Failed, "{misnamed:?}");
    assert!(
        misnamed.message.contains("issue it for the name"),
        "{misnamed:?}"
    );
}
