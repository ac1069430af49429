//! TLS to PostgreSQL, against a real PostgreSQL that accepts only TLS connections
//! (`hostssl` alone in its pg_hba.conf), with certificates made here: each `sslmode` does what
//! libpq's does, and the connection string's TLS settings carry over to the other databases.

use sqlx::{ConnectOptions, Connection};
use temporal_harness::conninfo::PgConnInfo;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

const PASSWORD: &str = "tls-only pass&word";

/// The CA that signed the server's certificate (for 127.0.0.1), and one that did not.
struct Certificates {
    ca: String,
    other_ca: String,
    server_cert: String,
    server_key: String,
}

fn certificates() -> Certificates {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let ca = |name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    };
    let (ca, other) = (ca("test CA"), ca("another CA"));
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Certificates {
        ca: ca.pem(),
        other_ca: other.pem(),
        server_cert: leaf.pem(),
        server_key: key.serialize_pem(),
    }
}

/// PostgreSQL (the harness's local image) that takes TLS connections only. The key is
/// written by the container itself: PostgreSQL refuses a key file others can read.
async fn tls_only_postgres(certs: &Certificates) -> (ContainerAsync<GenericImage>, u16) {
    let image = temporal_harness::versions::Versions::pinned()
        .local_postgres_image
        .clone();
    let (name, tag) = image.rsplit_once(':').unwrap();
    let script = r#"set -eu
mkdir -p /tls
printf '%s' "$SERVER_CERT" > /tls/server.crt
printf '%s' "$SERVER_KEY" > /tls/server.key
printf 'local all all trust\nhostssl all all all scram-sha-256\n' > /tls/pg_hba.conf
chown -R postgres /tls
chmod 600 /tls/server.key
exec docker-entrypoint.sh postgres -c ssl=on -c ssl_cert_file=/tls/server.crt \
  -c ssl_key_file=/tls/server.key -c hba_file=/tls/pg_hba.conf"#;
    let container = GenericImage::new(name, tag)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_stdout("ready for start up"))
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_entrypoint("sh")
        .with_cmd(["-c", script])
        .with_env_var("POSTGRES_PASSWORD", PASSWORD)
        .with_env_var("SERVER_CERT", &certs.server_cert)
        .with_env_var("SERVER_KEY", &certs.server_key)
        .start()
        .await
        .expect("start a TLS-only PostgreSQL");
    let port = container.get_host_port_ipv4(5432.tcp()).await.unwrap();
    (container, port)
}

fn conn_string(port: u16, settings: &str) -> PgConnInfo {
    let text = format!(
        "host=127.0.0.1 port={port} user=postgres password='{PASSWORD}' dbname=postgres {settings}"
    );
    PgConnInfo::parse(&text).unwrap()
}

async fn encrypted(info: &PgConnInfo) -> Result<bool, sqlx::Error> {
    let mut conn = info.connect_options().connect().await?;
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(ssl)
}

#[tokio::test]
async fn every_sslmode_does_what_libpq_does_against_a_tls_only_server() {
    let certs = certificates();
    let (_pg, port) = tls_only_postgres(&certs).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, &certs.ca).unwrap();
    std::fs::write(&other_ca, &certs.other_ca).unwrap();

    // Verified against the CA that signed the server's certificate, by name.
    let full = conn_string(
        port,
        &format!("sslmode=verify-full sslrootcert='{}'", ca.display()),
    );
    full.check_files().unwrap();
    assert!(encrypted(&full).await.unwrap(), "verify-full is encrypted");
    // The visibility database's string keeps the TLS settings (the connection shows it).
    let other_db = full.with_database("template1");
    assert!(
        other_db.redacted().contains("sslmode=verify-full"),
        "{other_db}"
    );
    assert!(encrypted(&other_db).await.unwrap());
    // require and prefer encrypt without verifying.
    for mode in ["require", "prefer"] {
        let info = conn_string(port, &format!("sslmode={mode}"));
        assert!(encrypted(&info).await.unwrap(), "{mode}");
    }
    // The server takes no plaintext: disable is refused by pg_hba.conf.
    let plain = conn_string(port, "sslmode=disable");
    let refused = encrypted(&plain).await.unwrap_err().to_string();
    assert!(
        refused.contains("no encryption") || refused.contains("pg_hba"),
        "{refused}"
    );
    // A CA that did not sign the certificate fails verification, in both verifying modes.
    for mode in ["verify-ca", "verify-full"] {
        let info = conn_string(
            port,
            &format!("sslmode={mode} sslrootcert='{}'", other_ca.display()),
        );
        assert!(
            encrypted(&info).await.is_err(),
            "{mode} with another CA must fail"
        );
    }
    // A root certificate that cannot be read is an input error before any connection.
    let missing = conn_string(port, "sslmode=verify-full sslrootcert=/nonexistent/ca.pem");
    let e = missing.check_files().unwrap_err().to_string();
    assert!(e.contains("sslrootcert") && e.contains("Fix:"), "{e}");
    assert!(!e.contains("pass&word"), "{e}");
}
