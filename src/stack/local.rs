//! The local backend: PostgreSQL from initdb in a temp dir on a free port, and the CLI dev
//! server or the full Temporal server (schema by temporal-sql-tool) as local processes.
//!
//! Processes run in their own session with output to log files, so they outlive the test
//! process that started them and Ctrl-C of a test run does not reach them: the stack's
//! keeper stops them (see `shared`).

use super::ports::{ensure_free, free_low_ports, free_ports};
use super::process::{euid, exited_early, spawn_service, tail, user_ids, Watched};
use super::progress::Progress;
use super::setup_steps::{
    dev_server_ui_args, schema_steps, DB_USER, DEV_SERVER_DYNAMIC_CONFIG, DYNAMIC_CONFIG,
};
use super::shared::StackDir;
use super::tools::find_tool;
use super::{postgres, ui, Endpoints, StackError};
use crate::config::{BackendKind, Flavor, StackConfig};
use crate::poll::{retry, Attempt};
use crate::secret::{scrub, DbUrl, Secret};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

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
/// `/usr/lib/postgresql/<major>/bin`, or `initdb` on `PATH`.
fn pg_bin_dir() -> Result<PathBuf, StackError> {
    if let Some(dir) = std::env::var_os("TEMPORAL_HARNESS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
        .ok_or_else(|| StackError::MissingBinary {
            name: "initdb/postgres (PostgreSQL server)".into(),
            looked: "TEMPORAL_HARNESS_PG_BIN, /usr/lib/postgresql/*/bin, PATH".into(),
        })
}

/// Boots the configured flavour as local processes; returns the Temporal process to watch.
pub(crate) async fn boot(
    config: &StackConfig,
    dir: &StackDir,
    progress: &Progress,
) -> Result<(Endpoints, Watched), StackError> {
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
            Ok((endpoints, watched))
        }
        Flavor::Postgres => {
            let password = Secret::new(uuid::Uuid::new_v4().simple().to_string());
            let step = progress.start("PostgreSQL (local initdb)");
            let admin = start_postgres(config, dir, &bins.pg_bin, &password).await?;
            postgres::create_databases(&admin).await?;
            step.done();

            let step = progress.start("Temporal schema (temporal-sql-tool)");
            setup_schema(&bins.sql_tool, &admin, &password, config.startup_timeout).await?;
            let schema = postgres::check_schema(
                &admin.with_database("temporal"),
                &admin.with_database("temporal_visibility"),
            )
            .await?;
            step.done();

            let step = progress.start("Temporal server (local process)");
            let (watched, http) = start_server(config, dir, &bins.server, &admin, &password)?;
            step.done();
            let ui_url = match &bins.ui_server {
                Some(ui_server) => Some(start_ui(config, dir, ui_server, watched.port())?),
                None => None,
            };
            let mut endpoints = Endpoints::on_postgres(
                BackendKind::Local,
                format!("127.0.0.1:{}", watched.port()),
                &config.namespace,
                admin,
                http,
                format!(
                    "local: {} on PostgreSQL {} (schema {}/{})",
                    bins.server.display(),
                    bins.pg_bin.display(),
                    schema.temporal,
                    schema.visibility
                ),
            );
            endpoints.ui_url = ui_url;
            Ok((endpoints, watched))
        }
    }
}

/// initdb into a fresh folder, then `postgres` on a free port; returns the admin URL.
async fn start_postgres(
    config: &StackConfig,
    dir: &StackDir,
    pg_bin: &Path,
    password: &Secret,
) -> Result<DbUrl, StackError> {
    // PostgreSQL refuses to run as root: run it as the `postgres` user then.
    let owner = postgres_owner()?;
    let data = std::env::temp_dir().join(format!("temporal-harness-pg-{}", dir.label()?));
    let _ = fs::remove_dir_all(&data);
    fs::create_dir_all(&data).map_err(|e| StackError::state(&data, e))?;
    dir.register_dir(&data)?;
    let pwfile = data.join("pwfile");
    fs::write(&pwfile, password.expose()).map_err(|e| StackError::state(&pwfile, e))?;
    let pgdata = data.join("pgdata");
    if let Some((uid, gid)) = owner {
        chown_tree(&data, uid, gid)?;
    }
    fs::set_permissions(&data, fs::Permissions::from_mode(0o700))
        .map_err(|e| StackError::state(&data, e))?;

    let mut initdb = Command::new(pg_bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&pgdata)
        .args([
            "-U",
            DB_USER,
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", pwfile.display()));
    as_owner(&mut initdb, owner);
    let out = initdb
        .stdin(Stdio::null())
        .output()
        .map_err(|e| StackError::ServiceFailed {
            service: "initdb".into(),
            source: e.into(),
        })?;
    let _ = fs::remove_file(&pwfile);
    if !out.status.success() {
        return Err(StackError::ServiceFailed {
            service: "initdb".into(),
            source: scrub(&String::from_utf8_lossy(&out.stderr), password).into(),
        });
    }

    let port = free_ports(1)?[0];
    let mut cmd = Command::new(pg_bin.join("postgres"));
    cmd.arg("-D")
        .arg(&pgdata)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-k")
        .arg(&data)
        // Throwaway test data: durability costs time and buys nothing.
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    as_owner(&mut cmd, owner);
    let log = data.join("postgres.log");
    let pid = spawn_service(dir, "PostgreSQL", cmd, &log, "INT", owner)?;
    let admin = DbUrl::from_parts(DB_USER, password, "127.0.0.1", port, "postgres");
    // Between attempts, a PostgreSQL that exited while starting fails the boot at once.
    let (admin_ref, log_ref) = (&admin, &log);
    let ready = retry(
        config.startup_timeout,
        postgres::LOGIN_PAUSE,
        |left| async move {
            match postgres::try_login(admin_ref, left).await {
                Ok(()) => Attempt::Done(()),
                Err(e @ StackError::WrongPassword { .. }) => Attempt::Fail(e),
                Err(e) => match exited_early("PostgreSQL", pid, log_ref, port) {
                    Err(exited) => Attempt::Fail(exited),
                    Ok(()) => Attempt::Again(e),
                },
            }
        },
    )
    .await;
    ready.map(|()| admin).map_err(|e| {
        e.at_startup_deadline(
            "PostgreSQL",
            config.startup_timeout,
            &log.display().to_string(),
        )
    })
}

async fn setup_schema(
    sql_tool: &Path,
    admin: &DbUrl,
    password: &Secret,
    timeout: Duration,
) -> Result<(), StackError> {
    let port = url::Url::parse(admin.expose())
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(5432);
    for (db, args) in schema_steps() {
        let mut cmd = tokio::process::Command::new(sql_tool);
        cmd.args(["--db", db])
            .args(&args)
            .env("SQL_PLUGIN", "postgres12")
            .env("SQL_HOST", "127.0.0.1")
            .env("SQL_PORT", port.to_string())
            .env("SQL_USER", DB_USER)
            .env("SQL_PASSWORD", password.expose())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // Messages only: the tool's output may quote the password, so it is scrubbed first.
        let failed = |reason: String| StackError::ServiceFailed {
            service: format!("temporal-sql-tool {} ({db})", args[0]),
            source: scrub(&reason, password).into(),
        };
        let out = tokio::time::timeout(timeout, cmd.output())
            .await
            .map_err(|_| failed(format!("no result within {timeout:?}")))?
            .map_err(|e| failed(e.to_string()))?;
        if !out.status.success() {
            return Err(failed(tail(&String::from_utf8_lossy(&out.stderr), 15)));
        }
    }
    Ok(())
}

/// Starts the full server on the local PostgreSQL; returns it (its frontend port) and the
/// HTTP port.
fn start_server(
    config: &StackConfig,
    dir: &StackDir,
    server: &Path,
    admin: &DbUrl,
    password: &Secret,
) -> Result<(Watched, u16), StackError> {
    let pg_port = url::Url::parse(admin.expose())
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(5432);
    let mut ports = free_low_ports(9)?;
    ports[0] = frontend_port(config, ports[0])?;
    let names = [
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
    let dynamic_config = dir.path().join("dynamicconfig.yaml");
    fs::write(&dynamic_config, DYNAMIC_CONFIG)
        .map_err(|e| StackError::state(&dynamic_config, e))?;
    let mut cmd = Command::new(server);
    cmd.arg("start")
        .current_dir(dir.path())
        .envs(names.iter().zip(&ports).map(|(k, p)| (*k, p.to_string())))
        .env("BIND_ON_IP", "127.0.0.1")
        .env("DB", "postgres12")
        .env("DB_PORT", pg_port.to_string())
        .env("POSTGRES_SEEDS", "127.0.0.1")
        .env("POSTGRES_USER", DB_USER)
        .env("POSTGRES_PWD", password.expose())
        .env("DYNAMIC_CONFIG_FILE_PATH", &dynamic_config)
        .env("LOG_LEVEL", "warn");
    if std::env::var_os("USER").is_none() {
        // Go's os/user needs it without cgo.
        cmd.env("USER", "temporal");
    }
    let log = dir.path().join("temporal-server.log");
    // Test data is throwaway: a graceful drain would only slow teardown by seconds.
    let pid = spawn_service(dir, "Temporal server", cmd, &log, "KILL", None)?;
    let watched = Watched::new("Temporal server", pid, log, ports[0]);
    Ok((watched, ports[1]))
}

/// Starts the Web UI server for the frontend on `frontend_port` (it connects once a browser
/// asks, so it may start before the frontend answers); returns its URL.
fn start_ui(
    config: &StackConfig,
    dir: &StackDir,
    ui_server: &Path,
    frontend_port: u16,
) -> Result<String, StackError> {
    let port = free_ports(1)?[0];
    // The UI server reads `<root>/<config dir>/<env>.yaml`: the stack's private folder.
    let config_file = dir.path().join("ui.yaml");
    let yaml = ui::local_config(
        &format!("127.0.0.1:{frontend_port}"),
        port,
        &config.namespace,
    );
    fs::write(&config_file, yaml).map_err(|e| StackError::state(&config_file, e))?;
    let mut cmd = Command::new(ui_server);
    cmd.arg("--root")
        .arg(dir.path())
        .args(["--config", ".", "--env", "ui", "start"]);
    let log = dir.path().join("temporal-ui.log");
    spawn_service(dir, "Temporal Web UI", cmd, &log, "TERM", None)?;
    Ok(format!("http://127.0.0.1:{port}"))
}

/// The configured frontend port (checked free), else `free`.
fn frontend_port(config: &StackConfig, free: u16) -> Result<u16, StackError> {
    match config.frontend_port {
        Some(port) => ensure_free(port, "the Temporal frontend").map(|()| port),
        None => Ok(free),
    }
}

/// `Some((uid, gid))` of the `postgres` user when running as root, else `None`.
fn postgres_owner() -> Result<Option<(u32, u32)>, StackError> {
    if euid() != 0 {
        return Ok(None);
    }
    let Some(ids) = user_ids("postgres") else {
        return Err(StackError::ServiceFailed {
            service: "PostgreSQL".into(),
            source: "running as root, and PostgreSQL refuses root; no `postgres` user to run it \
                     as. Fix: install Debian's postgresql package (it creates the user) or run \
                     the tests as a normal user"
                .into(),
        });
    };
    Ok(Some(ids))
}

fn as_owner(cmd: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid).env("HOME", std::env::temp_dir());
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), StackError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| StackError::state(path, e))?;
    if path.is_dir() {
        for entry in fs::read_dir(path)
            .map_err(|e| StackError::state(path, e))?
            .flatten()
        {
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}
