//! Where a ready stack answers, as every backend reports it and the state folder stores it.

use super::TemporalTarget;
use crate::config::{BackendKind, Flavor, Topology};
use crate::conninfo::PgConnInfo;

/// Where a ready stack answers. Serialised (with passwords) only to the stack's 0600 state
/// file; everything printed goes through [`Endpoints::summary`], which redacts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Endpoints {
    /// The backend that runs it.
    pub backend: BackendKind,
    /// The flavour it runs (`None` for external deployments: unknown).
    pub flavor: Option<Flavor>,
    /// How to reach the Temporal frontend.
    pub temporal: TemporalTarget,
    /// The namespace tests share (under namespace isolation on a shared deployment, the
    /// run's own).
    pub namespace: String,
    /// The run on a shared external deployment that the tests belong to, when the
    /// configuration isolates runs (`[external] isolation`).
    #[serde(default)]
    pub run: Option<super::RunScope>,
    /// Server-level PostgreSQL URL (database `postgres`), where there is a PostgreSQL.
    pub postgres_url: Option<PgConnInfo>,
    /// Temporal's own database (`temporal`).
    pub temporal_db_url: Option<PgConnInfo>,
    /// Temporal's visibility database (`temporal_visibility`).
    pub visibility_db_url: Option<PgConnInfo>,
    /// A database for the tests' own tables (`app`).
    pub app_db_url: Option<PgConnInfo>,
    /// The frontend's HTTP API, where exposed.
    pub http_url: Option<String>,
    /// The web UI, where there is one.
    pub ui_url: Option<String>,
    /// The server's Prometheus metrics endpoint, where exposed.
    #[serde(default)]
    pub metrics_url: Option<String>,
    /// How the server is laid out (one process, or a process per service).
    #[serde(default)]
    pub topology: Topology,
    /// What runs it, for people (`containers: temporal-harness/temporal-server:1.32.2 ...`).
    pub description: String,
}

impl Endpoints {
    /// A stack without PostgreSQL: the dev flavour, or the time-skipping test server.
    pub(crate) fn without_postgres(
        backend: BackendKind,
        flavor: Option<Flavor>,
        address: String,
        namespace: &str,
        http_port: Option<u16>,
        description: String,
    ) -> Self {
        Endpoints {
            backend,
            flavor,
            temporal: TemporalTarget::plain(address),
            namespace: namespace.into(),
            run: None,
            postgres_url: None,
            temporal_db_url: None,
            visibility_db_url: None,
            app_db_url: None,
            http_url: http_port.map(|p| format!("http://127.0.0.1:{p}")),
            ui_url: None,
            metrics_url: None,
            topology: Topology::Single,
            description,
        }
    }

    /// The PostgreSQL flavour: Temporal's databases and the app database live on the server
    /// that `admin` (a server-level URL) reaches.
    pub(crate) fn on_postgres(
        backend: BackendKind,
        address: String,
        namespace: &str,
        admin: PgConnInfo,
        http_port: u16,
        description: String,
    ) -> Self {
        Endpoints {
            temporal_db_url: Some(admin.with_database("temporal")),
            visibility_db_url: Some(admin.with_database("temporal_visibility")),
            app_db_url: Some(admin.with_database("app")),
            postgres_url: Some(admin),
            ..Self::without_postgres(
                backend,
                Some(Flavor::Postgres),
                address,
                namespace,
                Some(http_port),
                description,
            )
        }
    }

    /// The Web UI page of a workflow run's event history in `namespace`, when the stack has
    /// a UI.
    pub fn workflow_url(&self, namespace: &str, workflow_id: &str, run_id: &str) -> Option<String> {
        super::ui::workflow_url(self.ui_url.as_deref()?, namespace, workflow_id, run_id)
    }

    /// One JSON object for people and scripts, passwords redacted.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "backend": self.backend,
            "flavor": self.flavor,
            "temporal_address": self.temporal.address,
            "namespace": self.namespace,
            "postgres_url": self.postgres_url.as_ref().map(PgConnInfo::redacted),
            "temporal_db_url": self.temporal_db_url.as_ref().map(PgConnInfo::redacted),
            "visibility_db_url": self.visibility_db_url.as_ref().map(PgConnInfo::redacted),
            "app_db_url": self.app_db_url.as_ref().map(PgConnInfo::redacted),
            "http_url": self.http_url,
            "ui_url": self.ui_url,
            "metrics_url": self.metrics_url,
            "topology": self.topology,
            "description": self.description,
        })
    }
}

/// The Prometheus endpoint of a server whose metrics listen on `port` of the loopback.
pub(crate) fn metrics_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/metrics")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_redacts_passwords() {
        let url = PgConnInfo::parse("postgres://temporal:pw-123@127.0.0.1:5432/postgres").unwrap();
        let endpoints = Endpoints {
            backend: BackendKind::Local,
            flavor: Some(Flavor::Postgres),
            temporal: TemporalTarget::plain("127.0.0.1:7233"),
            namespace: "default".into(),
            run: None,
            postgres_url: Some(url.clone()),
            temporal_db_url: Some(url.with_database("temporal")),
            visibility_db_url: None,
            app_db_url: None,
            http_url: None,
            ui_url: None,
            metrics_url: None,
            topology: Topology::Single,
            description: "test".into(),
        };
        let shown = endpoints.summary().to_string();
        assert!(!shown.contains("pw-123"), "{shown}");
        assert!(shown.contains("temporal:***@127.0.0.1"), "{shown}");
    }
}
