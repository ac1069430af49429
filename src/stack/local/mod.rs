//! The local backend: PostgreSQL on a free port (its data folder in `database`), and the CLI
//! dev server or the full Temporal server, with the Web UI server, as local processes.
//!
//! Processes run in their own session with output to log files, so they outlive the test
//! process that started them and Ctrl-C of a test run does not reach them: the stack's
//! keeper stops them (see `state`).

pub(super) mod database;
pub(super) mod replication;
pub(super) mod server;

pub use server::CLUSTER_NODES;

use super::endpoints::metrics_url;
use super::ports::{ensure_free, free_ports};
use super::process::{spawn_service, Watched};
use super::progress::Progress;
use super::setup_steps::{dev_server_ui_args, DEV_SERVER_DYNAMIC_CONFIG};
use super::state::StackDir;
use super::tools::find_tool;
use super::{postgres, ui, Endpoints, StackError};
use crate::config::{BackendKind, Flavor, StackConfig, Topology};
use crate::secret::Secret;
use crate::stack::ToolsError;
use database::{setup_schema, start_postgres};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// The binaries the local backend runs.
struct Binaries {
    temporal_cli: PathBuf,
    server: PathBuf,
    sql_tool: PathBuf,
    pg_bin: PathBuf,
    /// The Web UI server, when the stack gets a UI (the dev server carries its own).
    ui_server: Option<PathBuf>,
}

/// Why the local backend cannot run `config`'s flavour, or `None` when it can.
pub(crate) fn missing_binaries(config: &StackConfig) -> Option<StackError> {
    binaries(config).err()
}

fn binaries(config: &StackConfig) -> Result<Binaries, StackError> {
    let temporal_cli = find_tool(config, "temporal")?;
    if config.flavor == Flavor::Dev {
        return Ok(Binaries {
            temporal_cli,
            server: PathBuf::new(),
            sql_tool: PathBuf::new(),
            pg_bin: PathBuf::new(),
            ui_server: None,
        });
    }
    Ok(Binaries {
        temporal_cli,
        server: find_tool(config, "temporal-server")?,
        sql_tool: find_tool(config, "temporal-sql-tool")?,
        pg_bin: pg_bin_dir()?,
        ui_server: match config.ui_enabled() {
            true => Some(find_tool(config, "temporal-ui-server")?),
            false => None,
        },
    })
}

/// PostgreSQL's server binaries: `TEMPORAL_HARNESS_PG_BIN`, Debian's newest
/// `/usr/lib/postgresql/<pinned major>/bin` (else the newest major there, with a warning), or `initdb` on the trusted part of `PATH`; wherever
/// found, only from a folder that nobody but its owner can write to.
fn pg_bin_dir() -> Result<PathBuf, StackError> {
    let found = if let Some(dir) = std::env::var_os("TEMPORAL_HARNESS_PG_BIN") {
        PathBuf::from(dir)
    } else {
        let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
            .collect();
        debian.sort();
        // The pinned major (what the containers backend's image runs); another one only when
        // it is missing, said aloud (a schema or behaviour difference is then the reason).
        let pinned = &crate::versions::Versions::pinned().postgres_major;
        let chosen = match debian
            .iter()
            .position(|(major, _)| &major.to_string() == pinned)
        {
            Some(i) => Some(debian.swap_remove(i)),
            None => debian.pop().inspect(|(major, bin)| {
                eprintln!(
                    "temporal-harness: warning: PostgreSQL {pinned} (fixtures/versions.env) is \
                     not installed; the local backend runs PostgreSQL {major} from {}. Fix: \
                     ./scripts/provision.sh installs {pinned}, or set TEMPORAL_HARNESS_PG_BIN",
                    bin.display()
                )
            }),
        };
        match chosen {
            Some((_, bin)) => bin,
            None => std::env::split_paths(&super::tools::trusted_search_path())
                .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
                .ok_or_else(|| {
                    StackError::Tools(ToolsError::MissingBinary {
                        name: "initdb/postgres (PostgreSQL server)".into(),
                        looked: "TEMPORAL_HARNESS_PG_BIN, /usr/lib/postgresql/*/bin, PATH".into(),
                    })
                })?,
        }
    };
    for program in ["initdb", "postgres", "pg_ctl", "pg_basebackup"] {
        let path = found.join(program);
        if path.exists() {
            super::tools::trusted(&path)?;
        }
    }
    Ok(found)
}

/// Boots the configured flavour as local processes; returns the Temporal process to watch and
/// the Web UI to start once Temporal answers (PostgreSQL flavour with the UI on).
pub(crate) async fn boot(
    config: &StackConfig,
    dir: &StackDir,
    progress: &Progress,
) -> Result<(Endpoints, Watched, Option<PendingUi>), StackError> {
    let bins = binaries(config)?;
    let work = dir.path();
    match config.flavor {
        Flavor::Dev => {
            let step = progress.start("Temporal dev server (local process)");
            let [free, http, metrics, ui]: [u16; 4] = free_ports(4)?.try_into().expect("4 ports");
            let port = frontend_port(config, free)?;
            let mut cmd = Command::new(&bins.temporal_cli);
            cmd.args(["server", "start-dev", "--ip", "127.0.0.1"])
                .args(dev_server_ui_args(config.ui_enabled(), ui))
                .args(DEV_SERVER_DYNAMIC_CONFIG)
                .args([
                    "--port",
                    &port.to_string(),
                    "--http-port",
                    &http.to_string(),
                ])
                .args([
                    "--metrics-port",
                    &metrics.to_string(),
                    "--log-level",
                    "warn",
                ]);
            let log = work.join("temporal-dev.log");
            let pid = spawn_service(dir, "Temporal dev server", cmd, &log, "TERM", None)?;
            step.done();
            let watched = Watched::new("Temporal dev server", pid, log, port);
            let mut endpoints = Endpoints::without_postgres(
                BackendKind::Local,
                Some(Flavor::Dev),
                format!("127.0.0.1:{port}"),
                &config.namespace,
                Some(http),
                format!("local: {}", bins.temporal_cli.display()),
            );
            endpoints.ui_url = config
                .ui_enabled()
                .then(|| format!("http://127.0.0.1:{ui}"));
            endpoints.metrics_url = Some(metrics_url(metrics));
            Ok((endpoints, watched, None))
        }
        Flavor::Postgres => {
            let password = Secret::new(uuid::Uuid::new_v4().simple().to_string());
            let step = progress.start("PostgreSQL (local process)");
            let (admin, schema_ready, primary) =
                start_postgres(config, dir, &bins.pg_bin, &bins.sql_tool, &password).await?;
            step.done();

            let step = progress.start(if schema_ready {
                "Temporal schema (from the template, version check)"
            } else {
                "Temporal schema (temporal-sql-tool)"
            });
            if !schema_ready {
                setup_schema(&bins.sql_tool, &admin, &password, config.startup_timeout).await?;
            }
            let schema = postgres::check_schema(
                &admin.with_database("temporal"),
                &admin.with_database("temporal_visibility"),
            )
            .await?;
            step.done();

            if config.postgres_standby {
                let step = progress.start("PostgreSQL standby (streaming replication)");
                replication::start_standby(config, dir, &bins.pg_bin, &admin, &password, primary)
                    .await?;
                step.done();
            }

            let (what, layout) = match config.topology {
                Topology::Single => ("Temporal server (local process)".to_string(), String::new()),
                Topology::Cluster => {
                    let nodes: Vec<&str> = CLUSTER_NODES.iter().map(|(n, _)| *n).collect();
                    let nodes = nodes.join(", ");
                    (
                        format!("Temporal cluster (local processes: {nodes})"),
                        format!(" as a cluster ({nodes})"),
                    )
                }
            };
            let step = progress.start(&what);
            let (watched, http, metrics) =
                server::start(config, dir, &bins.server, &admin, &password).await?;
            step.done();
            let ui = bins.ui_server.map(|binary| PendingUi {
                binary,
                frontend_port: watched.port(),
            });
            let mut endpoints = Endpoints::on_postgres(
                BackendKind::Local,
                format!("127.0.0.1:{}", watched.port()),
                &config.namespace,
                admin,
                http,
                format!(
                    "local: {}{layout} on PostgreSQL {} (schema {}/{})",
                    bins.server.display(),
                    bins.pg_bin.display(),
                    schema.temporal,
                    schema.visibility
                ),
            );
            endpoints.metrics_url = Some(metrics_url(metrics));
            endpoints.topology = config.topology;
            Ok((endpoints, watched, ui))
        }
    }
}

/// The Web UI server of a PostgreSQL stack, started once the frontend answers: started
/// before, its first connection attempt fails and gRPC's reconnect backoff holds it back about
/// 0.6 s more than the whole rest of the boot.
pub(crate) struct PendingUi {
    binary: PathBuf,
    frontend_port: u16,
}

impl PendingUi {
    /// Starts it; returns its URL.
    pub(crate) fn start(self, config: &StackConfig, dir: &StackDir) -> Result<String, StackError> {
        let port = free_ports(1)?[0];
        // The UI server reads `<root>/<config dir>/<env>.yaml`: the stack's private folder.
        let config_file = dir.path().join("ui.yaml");
        let frontend = format!("127.0.0.1:{}", self.frontend_port);
        let yaml = ui::local_config(&frontend, port, &config.namespace);
        fs::write(&config_file, yaml).map_err(|e| StackError::state(&config_file, e))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root")
            .arg(dir.path())
            .args(["--config", ".", "--env", "ui", "start"]);
        let log = dir.path().join("temporal-ui.log");
        spawn_service(dir, "Temporal Web UI", cmd, &log, "TERM", None)?;
        Ok(format!("http://127.0.0.1:{port}"))
    }
}

/// The configured frontend port (checked free), else `free`.
fn frontend_port(config: &StackConfig, free: u16) -> Result<u16, StackError> {
    match config.frontend_port {
        Some(port) => ensure_free(port, "the Temporal frontend").map(|()| port),
        None => Ok(free),
    }
}
