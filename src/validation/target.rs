//! What a validation run checks: a Temporal frontend and, where reachable, its PostgreSQL.

use crate::config::{BackendKind, Flavor, Topology};
use crate::conninfo::PgConnInfo;
use crate::stack::{Endpoints, TemporalTarget};

/// Temporal's databases, and the one the state-persistence stage writes its marker to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Databases {
    /// Temporal's own database (`temporal`).
    pub temporal: PgConnInfo,
    /// Temporal's visibility database (`temporal_visibility`).
    pub visibility: PgConnInfo,
    /// Where the marker table `temporal_harness_validation` lives.
    pub marker: PgConnInfo,
}

impl Databases {
    /// From a URL of Temporal's database: visibility is `temporal_visibility` on the same
    /// server, and the marker goes to that server's `postgres` database.
    pub fn from_temporal_url(temporal: PgConnInfo) -> Self {
        Databases {
            visibility: temporal.with_database("temporal_visibility"),
            marker: temporal.with_database("postgres"),
            temporal,
        }
    }

    /// `text` without anything that may be a password of these URLs.
    pub fn scrub(&self, text: &str) -> String {
        [&self.temporal, &self.visibility, &self.marker]
            .iter()
            .fold(text.to_string(), |text, url| url.scrub(&text))
    }
}

/// How many connections the server's pools may open: `maxConns` of each data store, times
/// the services that open pools, times their hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionBudget {
    /// `persistence.datastores.<default>.sql.maxConns` (per service host).
    pub max_conns: u32,
    /// `persistence.datastores.<visibility>.sql.maxConns` (per service host).
    pub visibility_max_conns: u32,
    /// Hosts per service role (`frontend`, `history`, `matching`, `worker`).
    pub hosts: Vec<(String, u32)>,
}

impl ConnectionBudget {
    /// The harness's own stacks: one host per service (two history hosts on the cluster
    /// topology), each with the server image's default pools (`SQL_MAX_CONNS` 20,
    /// `SQL_VIS_MAX_CONNS` 10).
    pub fn harness_stack(topology: Topology) -> Self {
        let history = match topology {
            Topology::Single => 1,
            Topology::Cluster => 2,
        };
        ConnectionBudget {
            max_conns: 20,
            visibility_max_conns: 10,
            hosts: [
                ("frontend", 1),
                ("history", history),
                ("matching", 1),
                ("worker", 1),
            ]
            .map(|(r, n)| (r.to_string(), n))
            .to_vec(),
        }
    }

    fn hosts(&self) -> i64 {
        self.hosts.iter().map(|(_, n)| i64::from(*n)).sum()
    }

    /// The most connections the server may open to one PostgreSQL server: both stores' pools
    /// when the databases share it, else the larger one's.
    pub fn needed(&self, shared_server: bool) -> i64 {
        let per_host = if shared_server {
            i64::from(self.max_conns) + i64::from(self.visibility_max_conns)
        } else {
            i64::from(self.max_conns.max(self.visibility_max_conns))
        };
        per_host * self.hosts()
    }

    /// `20+10 per host x 4 hosts (frontend 1, history 1, ...)`.
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self.hosts.iter().map(|(r, n)| format!("{r} {n}")).collect();
        format!(
            "maxConns {}+{} per service host x {} hosts ({})",
            self.max_conns,
            self.visibility_max_conns,
            self.hosts(),
            hosts.join(", ")
        )
    }
}

/// Why a target has no PostgreSQL to check: the persistence checks are skipped with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoDatabases(pub String);

/// A deployment to validate.
#[derive(Debug, Clone)]
pub struct Target {
    /// The Temporal frontend.
    pub temporal: TemporalTarget,
    /// The namespace the workflow checks run in.
    pub namespace: String,
    /// PostgreSQL, or why the PostgreSQL checks are skipped.
    pub databases: Result<Databases, NoDatabases>,
    /// The frontend's HTTP API, where one is exposed.
    pub http_url: Option<String>,
    /// The deployment's Web UI, for links to the workflows a run starts.
    pub ui_url: Option<String>,
    /// The history shard count the deployment is configured with, when known.
    pub expected_shards: Option<i32>,
    /// First retry interval of the error-handling stage, in milliseconds.
    pub retry_initial_interval_ms: u64,
    /// Custom search attributes the deployment's workflows need, with their types where
    /// given (`Keyword`, `Int`, ...).
    pub search_attributes: Vec<(String, Option<String>)>,
    /// The server's Prometheus endpoint (`http://host:9090/metrics`), for the metrics checks.
    pub metrics_url: Option<String>,
    /// The server's pool sizes and host counts, for the connection budget.
    pub connection_budget: Option<ConnectionBudget>,
    /// Hosts per service role the deployment should have in membership.
    pub expected_hosts: Option<Vec<(String, u32)>>,
    /// Whether Temporal's database connections must use TLS.
    pub require_db_tls: bool,
    /// What it is, for people.
    pub description: String,
}

/// The shard count the harness's own PostgreSQL stacks run with (the server's default).
const HARNESS_SHARDS: i32 = 4;

impl Target {
    /// A target at `address` with nothing else known.
    pub fn new(temporal: TemporalTarget, namespace: &str) -> Self {
        Target {
            description: format!("Temporal at {}", temporal.address),
            temporal,
            namespace: namespace.into(),
            databases: Err(NoDatabases(
                "no PostgreSQL URL given (--postgres-url, or TEMPORAL_HARNESS_POSTGRES_URL for \
                 tests)"
                    .into(),
            )),
            http_url: None,
            ui_url: None,
            expected_shards: None,
            retry_initial_interval_ms: 100,
            search_attributes: Vec::new(),
            metrics_url: None,
            connection_budget: None,
            expected_hosts: None,
            require_db_tls: false,
        }
    }

    /// The stack a harness run acquired.
    pub fn from_endpoints(endpoints: &Endpoints) -> Self {
        let mut target = Target::new(endpoints.temporal.clone(), &endpoints.namespace);
        target.description = endpoints.description.clone();
        target.http_url = endpoints.http_url.clone();
        target.ui_url = endpoints.ui_url.clone();
        match (&endpoints.temporal_db_url, &endpoints.visibility_db_url) {
            (Some(temporal), Some(visibility)) => {
                target.databases = Ok(Databases {
                    temporal: temporal.clone(),
                    visibility: visibility.clone(),
                    marker: endpoints
                        .app_db_url
                        .clone()
                        .unwrap_or_else(|| temporal.with_database("postgres")),
                });
            }
            _ if endpoints.flavor == Some(Flavor::Dev) => {
                target.databases = Err(NoDatabases(
                    "the dev flavour runs without PostgreSQL".into(),
                ));
            }
            _ => {}
        }
        if endpoints.backend != BackendKind::External && endpoints.flavor == Some(Flavor::Postgres)
        {
            target.expected_shards = Some(HARNESS_SHARDS);
            let budget = ConnectionBudget::harness_stack(endpoints.topology);
            target.expected_hosts = Some(budget.hosts.clone());
            target.connection_budget = Some(budget);
        }
        target.metrics_url = endpoints.metrics_url.clone();
        target
    }

    /// Whether Temporal's two databases are on one PostgreSQL server (their connections then
    /// share one `max_connections`).
    pub fn databases_share_a_server(&self) -> bool {
        self.databases
            .as_ref()
            .is_ok_and(|d| d.temporal.server() == d.visibility.server())
    }

    /// The Web UI page of a workflow run in the target's namespace, when there is a UI.
    pub fn workflow_url(&self, workflow_id: &str, run_id: &str) -> Option<String> {
        crate::stack::ui::workflow_url(
            self.ui_url.as_deref()?,
            &self.namespace,
            workflow_id,
            run_id,
        )
    }

    /// One JSON object for reports, passwords redacted.
    pub fn summary(&self) -> serde_json::Value {
        let db = self.databases.as_ref().ok();
        serde_json::json!({
            "temporal_address": self.temporal.address,
            "namespace": self.namespace,
            "tls": self.temporal.tls.as_ref().is_some_and(|t| t.is_set()),
            "api_key": self.temporal.api_key.is_some(),
            "temporal_db_url": db.map(|d| d.temporal.redacted()),
            "visibility_db_url": db.map(|d| d.visibility.redacted()),
            "http_url": self.http_url,
            "ui_url": self.ui_url,
            "description": self.description,
        })
    }
}

/// The search attribute types the server knows, as `temporal operator search-attribute
/// create --type` spells them.
pub const SEARCH_ATTRIBUTE_TYPES: [&str; 7] = [
    "Text",
    "Keyword",
    "Int",
    "Double",
    "Bool",
    "Datetime",
    "KeywordList",
];

/// A `--search-attribute` value, `NAME` or `NAME=TYPE` (type in any case), as a name and the
/// type's canonical spelling. A name with whitespace, control characters or a backtick (which
/// no visibility query could name) and a type the server does not have are refused here, so
/// a typo is a usage error, not a check that judged something else.
pub fn parse_search_attribute(spec: &str) -> Result<(String, Option<String>), String> {
    let expected = "expected NAME or NAME=TYPE (e.g. CustomerId=Keyword)";
    let (name, kind) = match spec.split_once('=') {
        Some((name, kind)) => (name.trim(), Some(kind.trim())),
        None => (spec.trim(), None),
    };
    if name.is_empty() {
        return Err(format!(
            "--search-attribute `{spec}`: the name is empty; {expected}"
        ));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '`')
    {
        return Err(format!(
            "--search-attribute `{spec}`: a name holds no whitespace, control characters or \
             backticks; {expected}"
        ));
    }
    let kind = match kind {
        None => None,
        Some(kind) => Some(
            SEARCH_ATTRIBUTE_TYPES
                .iter()
                .find(|t| t.eq_ignore_ascii_case(kind))
                .map(|t| t.to_string())
                .ok_or_else(|| {
                    format!(
                        "--search-attribute `{spec}`: `{kind}` is not a search attribute type. \
                         Fix: one of {}",
                        SEARCH_ATTRIBUTE_TYPES.join(", ")
                    )
                })?,
        ),
    };
    Ok((name.to_string(), kind))
}

#[cfg(test)]
mod search_attribute_tests {
    use super::parse_search_attribute;

    #[test]
    fn names_and_types_are_checked_and_types_spelled_as_the_server_does() {
        assert_eq!(
            parse_search_attribute("CustomerId=keyword").unwrap(),
            ("CustomerId".into(), Some("Keyword".into()))
        );
        assert_eq!(
            parse_search_attribute("Tags=KEYWORDLIST").unwrap(),
            ("Tags".into(), Some("KeywordList".into()))
        );
        assert_eq!(
            parse_search_attribute("Region").unwrap(),
            ("Region".into(), None)
        );
        for (bad, says) in [
            ("bad name=NOTATYPE", "no whitespace"),
            ("Name=NOTATYPE", "`NOTATYPE` is not a search attribute type"),
            ("=Keyword", "the name is empty"),
            ("Name=", "`` is not a search attribute type"),
            ("a`b", "backticks"),
        ] {
            let err = parse_search_attribute(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
