//! The full Temporal server as local processes: one process running every service, or (the
//! cluster topology) one process per service as production deploys them, with two history
//! hosts, all sharing the stack's PostgreSQL and finding each other through the membership
//! table there. A cluster's nodes are recorded in the stack's private folder, so
//! `ClusterControl` (`stack::control`) can kill, pause and restart them for fault tests.

use super::super::ports::free_low_ports;
use super::super::process::{exited_early, spawn_service, Watched};
use super::super::setup_steps::{server_env, DYNAMIC_CONFIG};
use super::super::state::StackDir;
use super::super::tools::find_tool;
use super::super::{persistence_faults, postgres, StackError};
use super::frontend_port;
use crate::config::{StackConfig, Topology};
use crate::conninfo::PgConnInfo;
use crate::poll::{retry, Attempt};
use crate::secret::Secret;
use crate::stack::{BootError, ToolsError};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The port variables of the server's config template, in the order of the port list.
const PORT_VARS: [&str; 9] = [
    "FRONTEND_GRPC_PORT",
    "FRONTEND_HTTP_PORT",
    "FRONTEND_MEMBERSHIP_PORT",
    "HISTORY_GRPC_PORT",
    "HISTORY_MEMBERSHIP_PORT",
    "MATCHING_GRPC_PORT",
    "MATCHING_MEMBERSHIP_PORT",
    "WORKER_GRPC_PORT",
    "WORKER_MEMBERSHIP_PORT",
];
/// Index of the metrics port, then of the second history host's two ports.
const METRICS: usize = 9;
const HISTORY_2: usize = 10;

/// The nodes of the cluster topology: name and the service it runs.
pub const CLUSTER_NODES: [(&str, &str); 5] = [
    ("frontend", "frontend"),
    ("history-1", "history"),
    ("history-2", "history"),
    ("matching", "matching"),
    ("worker", "worker"),
];

/// Where a cluster's node specs are kept (0600: their environment holds the database
/// password, like the endpoints file).
const NODES_FILE: &str = "cluster-nodes.json";

/// How to start one node again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(in crate::stack) struct NodeSpec {
    pub(in crate::stack) name: String,
    pub(in crate::stack) program: PathBuf,
    pub(in crate::stack) args: Vec<String>,
    pub(in crate::stack) env: Vec<(String, String)>,
    pub(in crate::stack) pid: i32,
}

/// Starts the server (one process, or the cluster); returns the frontend to watch, the HTTP
/// port and the metrics port (the frontend's, on a cluster).
pub(super) async fn start(
    config: &StackConfig,
    dir: &StackDir,
    server: &Path,
    admin: &PgConnInfo,
    password: &Secret,
) -> Result<(Watched, u16, u16), StackError> {
    let pg_port = admin.port();
    let mut ports = free_low_ports(12)?;
    ports[0] = frontend_port(config, ports[0])?;
    let dynamic_config = dir.path().join("dynamicconfig.yaml");
    fs::write(&dynamic_config, DYNAMIC_CONFIG)
        .map_err(|e| StackError::state(&dynamic_config, e))?;
    let mut env: Vec<(String, String)> = PORT_VARS
        .iter()
        .zip(&ports)
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect();
    env.extend(
        [
            ("BIND_ON_IP", "127.0.0.1".to_string()),
            ("LOG_LEVEL", "warn".into()),
        ]
        .into_iter()
        .chain(server_env(
            "127.0.0.1",
            pg_port,
            password,
            &dynamic_config.display().to_string(),
        ))
        .map(|(k, v)| (k.to_string(), v)),
    );
    if std::env::var_os("USER").is_none() {
        // Go's os/user needs it without cgo.
        env.push(("USER".into(), "temporal".into()));
    }
    let metrics = (
        "PROMETHEUS_ENDPOINT".to_string(),
        format!("127.0.0.1:{}", ports[METRICS]),
    );
    // With persistence faults, the server starts from its template with them added.
    let mut start: Vec<String> = Vec::new();
    if !config.persistence_faults.is_empty() {
        let file = faulty_config(config, dir)?;
        start.extend(["--config-file".into(), file.display().to_string()]);
    }
    start.push("start".into());
    let frontend = match config.topology {
        Topology::Single => {
            let mut env = env;
            env.push(metrics);
            spawn(dir, server, "server", start, env)?
        }
        Topology::Cluster => {
            let mut nodes = Vec::new();
            let mut frontend = None;
            for (name, service) in CLUSTER_NODES {
                let mut node_env = env.clone();
                match name {
                    // Only the frontend serves metrics: one listener per port.
                    "frontend" => node_env.push(metrics.clone()),
                    "history-2" => node_env.extend([
                        ("HISTORY_GRPC_PORT".into(), ports[HISTORY_2].to_string()),
                        (
                            "HISTORY_MEMBERSHIP_PORT".into(),
                            ports[HISTORY_2 + 1].to_string(),
                        ),
                    ]),
                    _ => {}
                }
                let mut args = start.clone();
                args.extend(["--service".into(), service.into()]);
                let spec = spawn(dir, server, name, args, node_env)?;
                if name == "frontend" {
                    // The first node records the cluster's metadata; the others start once it
                    // is there. Started together on a fresh database they race to insert it,
                    // and the losers exit ("duplicate key ... cluster_metadata_info").
                    cluster_metadata_written(admin, &spec, dir, config.startup_timeout).await?;
                    frontend = Some(spec.clone());
                }
                nodes.push(spec);
            }
            write_nodes(dir, &nodes)?;
            members_joined(admin, &nodes, dir, config.startup_timeout).await?;
            frontend.expect("the cluster has a frontend")
        }
    };
    let watched = Watched::new(
        service_name(&frontend.name),
        frontend.pid,
        log_file(dir, &frontend.name),
        ports[0],
    );
    Ok((watched, ports[1], ports[METRICS]))
}

/// Waits until the cluster's metadata is in Temporal's database, failing at once (with its
/// log) when `node`, which writes it, exits.
async fn cluster_metadata_written(
    admin: &PgConnInfo,
    node: &NodeSpec,
    dir: &StackDir,
    timeout: Duration,
) -> Result<(), StackError> {
    let temporal = admin.with_database("temporal");
    let log = log_file(dir, &node.name);
    let service = service_name(&node.name);
    let (temporal, log) = (&temporal, &log);
    retry(timeout, Duration::from_millis(20), |_| async move {
        if let Err(exited) = exited_early(service, node.pid, log, 0) {
            return Attempt::Fail(exited);
        }
        let written = match postgres::connect_once(temporal, Duration::from_secs(3)).await {
            Ok(mut conn) => {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM cluster_metadata_info")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or(0)
            }
            Err(_) => 0,
        };
        match written {
            0 => Attempt::Again(StackError::Boot(BootError::StartupTimeout {
                service: format!("{service} (writing the cluster's metadata)"),
                timeout,
                last: "cluster_metadata_info is still empty".into(),
                log: log.display().to_string(),
            })),
            _ => Attempt::Done(()),
        }
    })
    .await
}

/// Waits until every node heartbeats in the cluster's membership table (frontend, two
/// history hosts, matching, worker), so a cluster stack is whole when it is ready; fails at
/// once, with its log, when a node exits.
async fn members_joined(
    admin: &PgConnInfo,
    nodes: &[NodeSpec],
    dir: &StackDir,
    timeout: Duration,
) -> Result<(), StackError> {
    // Roles as the server numbers them (ClusterMemberRole): frontend 1, history 2, matching
    // 3, worker 4; the cluster runs two history hosts.
    const WANTED: [(i16, i64); 4] = [(1, 1), (2, 2), (3, 1), (4, 1)];
    let temporal = admin.with_database("temporal");
    let temporal = &temporal;
    retry(timeout, Duration::from_millis(20), |_| async move {
        for node in nodes {
            let log = log_file(dir, &node.name);
            if let Err(exited) = exited_early(service_name(&node.name), node.pid, &log, 0) {
                return Attempt::Fail(exited);
            }
        }
        let joined: Vec<(i16, i64)> =
            match postgres::connect_once(temporal, Duration::from_secs(3)).await {
                Ok(mut conn) => sqlx::query_as(
                    "SELECT role, count(*) FROM cluster_membership \
                 WHERE record_expiry > now() AT TIME ZONE 'UTC' GROUP BY role ORDER BY role",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
        if WANTED
            .iter()
            .all(|(role, n)| joined.iter().any(|(r, c)| r == role && c >= n))
        {
            return Attempt::Done(());
        }
        Attempt::Again(StackError::Boot(BootError::StartupTimeout {
            service: "Temporal cluster (every node in the membership)".into(),
            timeout,
            last: format!("members by role: {joined:?}").into(),
            log: dir.path().display().to_string(),
        }))
    })
    .await
}

/// Writes the server's config template with the configured persistence faults to the stack's
/// folder; returns its path.
fn faulty_config(config: &StackConfig, dir: &StackDir) -> Result<PathBuf, StackError> {
    let template_path = find_tool(config, TEMPLATE)?;
    let template =
        fs::read_to_string(&template_path).map_err(|e| StackError::state(&template_path, e))?;
    let rendered =
        persistence_faults::render(&template, &config.persistence_faults).ok_or_else(|| {
            ToolsError::UnexpectedFile {
                path: template_path.clone(),
                expected: persistence_faults::TEMPLATE_SHAPE,
            }
        })?;
    let path = dir.path().join("server-config.yaml");
    fs::write(&path, rendered).map_err(|e| StackError::state(&path, e))?;
    Ok(path)
}

/// The server's config template, installed next to `temporal-server` by provisioning.
const TEMPLATE: &str = "temporal-server-config-template.yaml";

pub(in crate::stack) fn spawn(
    dir: &StackDir,
    server: &Path,
    name: &str,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> Result<NodeSpec, StackError> {
    let mut cmd = Command::new(server);
    cmd.args(&args)
        .current_dir(dir.path())
        .envs(env.iter().map(|(k, v)| (k, v)));
    let log = log_file(dir, name);
    let service = service_name(name);
    // Test data is throwaway: a graceful drain would only slow teardown by seconds.
    let pid = spawn_service(dir, service, cmd, &log, "KILL", None)?;
    Ok(NodeSpec {
        name: name.into(),
        program: server.into(),
        args,
        env,
        pid,
    })
}

pub(in crate::stack) fn log_file(dir: &StackDir, name: &str) -> PathBuf {
    match name {
        "server" => dir.path().join("temporal-server.log"),
        node => dir.path().join(format!("temporal-{node}.log")),
    }
}

fn service_name(name: &str) -> &'static str {
    match name {
        "server" => "Temporal server",
        "frontend" => "Temporal frontend",
        "history-1" => "Temporal history-1",
        "history-2" => "Temporal history-2",
        "matching" => "Temporal matching",
        _ => "Temporal worker service",
    }
}

pub(in crate::stack) fn write_nodes(dir: &StackDir, nodes: &[NodeSpec]) -> Result<(), StackError> {
    dir.write_private_json(NODES_FILE, &nodes)
}

pub(in crate::stack) fn read_nodes(dir: &StackDir) -> Result<Vec<NodeSpec>, StackError> {
    let path = dir.path().join(NODES_FILE);
    let bytes = fs::read(&path).map_err(|e| StackError::state(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| StackError::state(&path, e))
}
