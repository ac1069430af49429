//! PostgreSQL for the local backend: a data folder copied from a template that already has
//! Temporal's databases and schema (made once per PostgreSQL binary and schema version, with
//! initdb and the schema step, which are also the fallback), the stack's own password set in
//! single-user mode, then `postgres` on a free port.

use super::super::ports::free_ports;
use super::super::process::{euid, exited_early, spawn_service, tail, user_ids};
use super::super::setup_steps::{schema_steps, sql_tool_env, DB_USER};
use super::super::state::StackDir;
use super::super::StackError;
use super::super::{fnv1a, postgres};
use crate::config::StackConfig;
use crate::conninfo::PgConnInfo;
use crate::poll::{retry, Attempt};
use crate::secret::{scrub, Secret};
use crate::stack::{BootError, PostgresError};
use crate::versions::Versions;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// PostgreSQL for one stack, from the data-folder template (made once per PostgreSQL binary
/// and schema version: initdb, Temporal's databases and their schema, cleanly stopped) copied
/// into a fresh folder, then `postgres` on a free port with the stack's own password; returns
/// the admin URL. Without a usable template (none can be made here) it falls back to initdb
/// and the schema step, and says so through the second value: `true` when the schema is
/// already in place.
pub(super) async fn start_postgres(
    config: &StackConfig,
    dir: &StackDir,
    pg_bin: &Path,
    sql_tool: &Path,
    password: &Secret,
) -> Result<(PgConnInfo, bool, (i32, PathBuf)), StackError> {
    // PostgreSQL refuses to run as root: run it as the `postgres` user then.
    let owner = postgres_owner()?;
    let template = template_path(pg_bin);
    let mut from_template = usable_template(&template, owner);
    if !from_template {
        // Checked again after the build: what is at the template's path when this build
        // could not move its own there (another boot's, or something planted) must pass too.
        let built = build_template(config, dir, pg_bin, sql_tool, owner, &template).await;
        from_template = built.is_ok() && usable_template(&template, owner);
        if !from_template {
            let why = built.err().map_or_else(
                || format!("{} is not a usable template", template.display()),
                |e| e.to_string(),
            );
            eprintln!(
                "temporal-harness: no PostgreSQL template ({why}); booting with initdb and the \
                 schema step instead"
            );
        }
    }
    let data = pg_data_root().join(format!("temporal-harness-pg-{}", dir.label()?));
    let pgdata = fresh_private_dir(dir, &data, owner)?;
    if from_template {
        copy_tree(&template.join("pgdata"), &pgdata, owner)?;
        set_password(pg_bin, &pgdata, password, owner)?;
    } else {
        init_cluster(pg_bin, &data, password, owner)?;
    }
    let mode = match config.postgres_standby {
        true => PgMode::Replicated,
        false => PgMode::Throwaway,
    };
    let (admin, pid) =
        run_postgres(config, dir, pg_bin, &data, password, owner, (mode, None)).await?;
    if !from_template {
        postgres::create_databases(&admin).await?;
    }
    Ok((admin, from_template, (pid, data)))
}

/// `<temp>/temporal-harness-pg-template-<uid>-<key>`, the key naming the PostgreSQL binaries,
/// the server and its schema versions: another version gets a template of its own.
fn template_path(pg_bin: &Path) -> PathBuf {
    let v = Versions::pinned();
    let identity = format!(
        "{}|{}|{}|{}",
        pg_bin.display(),
        v.temporal_server,
        v.schema_version,
        v.visibility_schema_version
    );
    let key = fnv1a(identity.as_bytes());
    pg_data_root().join(format!(
        "temporal-harness-pg-template-{}-{key:016x}",
        euid()
    ))
}

/// Where PostgreSQL data folders go: `/dev/shm` (memory) when it is there, else the temp
/// folder. Test data is throwaway, and on this project's machines copying the template into a
/// disk-backed /tmp took 2.2 s against 0.15 s into /dev/shm.
pub(super) fn pg_data_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    // SAFETY: access(2) on a NUL-terminated path literal.
    let writable = shm.is_dir() && unsafe { libc::access(c"/dev/shm".as_ptr(), libc::W_OK) } == 0;
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Marker written last, once the template is complete.
const TEMPLATE_READY: &str = "READY";

/// Whether `path` is a complete template that only its owner (PostgreSQL's user) can write:
/// the harness copies it into every stack it boots.
fn usable_template(path: &Path, owner: Option<(u32, u32)>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let expected = owner.map_or_else(euid, |(uid, _)| uid);
    match fs::symlink_metadata(path) {
        Ok(meta) => {
            meta.is_dir()
                && meta.uid() == expected
                && meta.mode() & 0o077 == 0
                && path.join(TEMPLATE_READY).is_file()
        }
        Err(_) => false,
    }
}

/// Makes the template: a cluster with Temporal's databases and schema, stopped cleanly, moved
/// into place at once (a concurrent boot that finishes first wins; this one's copy goes).
async fn build_template(
    config: &StackConfig,
    dir: &StackDir,
    pg_bin: &Path,
    sql_tool: &Path,
    owner: Option<(u32, u32)>,
    template: &Path,
) -> Result<(), StackError> {
    let building = template.with_extension(format!("building-{}", std::process::id()));
    let pgdata = fresh_private_dir(dir, &building, owner)?;
    // A password nobody learns: every stack sets its own before PostgreSQL listens.
    let throwaway = Secret::new(uuid::Uuid::new_v4().simple().to_string());
    init_cluster(pg_bin, &building, &throwaway, owner)?;
    let (admin, _) = run_postgres(
        config,
        dir,
        pg_bin,
        &building,
        &throwaway,
        owner,
        (PgMode::Throwaway, None),
    )
    .await?;
    let made = async {
        postgres::create_databases(&admin).await?;
        setup_schema(sql_tool, &admin, &throwaway, config.startup_timeout).await
    }
    .await;
    stop_postgres(&pgdata, config.startup_timeout).await?;
    made?;
    let ready = building.join(TEMPLATE_READY);
    fs::write(&ready, b"").map_err(|e| StackError::state(&ready, e))?;
    if let Some((uid, gid)) = owner {
        chown_tree(&ready, uid, gid)?;
    }
    if fs::rename(&building, template).is_err() {
        let _ = fs::remove_dir_all(&building);
    }
    Ok(())
}

/// `data` afresh, private to PostgreSQL's user and removed at teardown; returns its `pgdata`.
pub(super) fn fresh_private_dir(
    dir: &StackDir,
    data: &Path,
    owner: Option<(u32, u32)>,
) -> Result<PathBuf, StackError> {
    let _ = fs::remove_dir_all(data);
    fs::create_dir_all(data).map_err(|e| StackError::state(data, e))?;
    dir.register_dir(data)?;
    if let Some((uid, gid)) = owner {
        chown_tree(data, uid, gid)?;
    }
    fs::set_permissions(data, fs::Permissions::from_mode(0o700))
        .map_err(|e| StackError::state(data, e))?;
    Ok(data.join("pgdata"))
}

/// initdb into `<data>/pgdata` with `password` for the `temporal` superuser.
fn init_cluster(
    pg_bin: &Path,
    data: &Path,
    password: &Secret,
    owner: Option<(u32, u32)>,
) -> Result<(), StackError> {
    let pwfile = data.join("pwfile");
    fs::write(&pwfile, password.expose()).map_err(|e| StackError::state(&pwfile, e))?;
    if let Some((uid, gid)) = owner {
        chown_tree(&pwfile, uid, gid)?;
    }
    let mut initdb = Command::new(pg_bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(data.join("pgdata"))
        .args([
            "-U",
            DB_USER,
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
            // 1 MB WAL segments instead of 16: the template (copied for every boot) keeps a
            // few segments, not 32 MB of them.
            "--wal-segsize=1",
        ])
        .arg(format!("--pwfile={}", pwfile.display()));
    as_owner(&mut initdb, owner);
    let out = initdb.stdin(Stdio::null()).output().map_err(|e| {
        StackError::Boot(BootError::ServiceFailed {
            service: "initdb".into(),
            source: e.into(),
        })
    })?;
    let _ = fs::remove_file(&pwfile);
    if !out.status.success() {
        return Err(StackError::Boot(BootError::ServiceFailed {
            service: "initdb".into(),
            source: scrub(&String::from_utf8_lossy(&out.stderr), password).into(),
        }));
    }
    Ok(())
}

/// Gives the copied template this stack's password, in single-user mode (no network, no
/// authentication; the password travels on stdin, never in arguments).
fn set_password(
    pg_bin: &Path,
    pgdata: &Path,
    password: &Secret,
    owner: Option<(u32, u32)>,
) -> Result<(), StackError> {
    use std::io::Write;
    let failed = |reason: String| {
        StackError::Boot(BootError::ServiceFailed {
            service: "PostgreSQL (setting the stack's password)".into(),
            source: scrub(&reason, password).into(),
        })
    };
    let mut single = Command::new(pg_bin.join("postgres"));
    // fsync off as for the server itself: the shutdown checkpoint would otherwise flush every
    // file of the copy.
    single
        .args(["--single", "-c", "fsync=off", "-D"])
        .arg(pgdata)
        .arg("postgres");
    as_owner(&mut single, owner);
    let mut child = single
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let statement = format!("ALTER USER {DB_USER} PASSWORD '{}';\n", password.expose());
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(statement.as_bytes())
        .map_err(|e| failed(e.to_string()))?;
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || stderr.contains("ERROR") {
        return Err(failed(tail(&stderr, 10)));
    }
    Ok(())
}

/// How a PostgreSQL of a stack runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::stack) enum PgMode {
    /// Throwaway test data: durability costs time and buys nothing.
    Throwaway,
    /// Part of a primary/standby pair: commits wait for the standby (once it is named), and
    /// full-page writes stay on (base backups need them). `fsync` stays off: the faults the
    /// harness injects kill processes, and the operating system keeps what they wrote.
    Replicated,
}

/// `postgres` on `<data>/pgdata`, on `port` or a free one (registered for teardown); returns
/// the admin URL once it accepts `password`, and its pid.
pub(in crate::stack) async fn run_postgres(
    config: &StackConfig,
    dir: &StackDir,
    pg_bin: &Path,
    data: &Path,
    password: &Secret,
    owner: Option<(u32, u32)>,
    (mode, port): (PgMode, Option<u16>),
) -> Result<(PgConnInfo, i32), StackError> {
    let port = match port {
        Some(port) => port,
        None => free_ports(1)?[0],
    };
    let mut cmd = Command::new(pg_bin.join("postgres"));
    cmd.arg("-D")
        .arg(data.join("pgdata"))
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-k")
        .arg(data)
        .args(["-c", "fsync=off", "-c", postgres::MAX_CONNECTIONS])
        // Dynamic shared memory as files in the data folder (on tmpfs already), not POSIX
        // segments in /dev/shm: a PostgreSQL killed by a fault (failover kills the primary)
        // cannot remove its segments, and the data folder goes at teardown anyway.
        .args(["-c", "dynamic_shared_memory_type=mmap"]);
    if mode == PgMode::Throwaway {
        cmd.args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
    }
    as_owner(&mut cmd, owner);
    let log = data.join("postgres.log");
    let pid = spawn_service(dir, "PostgreSQL", cmd, &log, "INT", owner)?;
    let admin = PgConnInfo::from_parts(DB_USER, password, "127.0.0.1", port, "postgres");
    // Between attempts, a PostgreSQL that exited while starting fails the boot at once.
    let (admin_ref, log_ref) = (&admin, &log);
    let ready = retry(
        config.startup_timeout,
        postgres::LOGIN_PAUSE,
        |left| async move {
            match postgres::try_login(admin_ref, left).await {
                Ok(()) => Attempt::Done(()),
                Err(e @ StackError::Postgres(PostgresError::WrongPassword { .. })) => {
                    Attempt::Fail(e)
                }
                Err(e) => match exited_early("PostgreSQL", pid, log_ref, port) {
                    Err(exited) => Attempt::Fail(exited),
                    Ok(()) => Attempt::Again(e),
                },
            }
        },
    )
    .await;
    ready.map(|()| (admin, pid)).map_err(|e| {
        e.at_startup_deadline(
            "PostgreSQL",
            config.startup_timeout,
            &log.display().to_string(),
        )
    })
}

/// Stops the PostgreSQL of `pgdata` cleanly (fast shutdown: a checkpoint, then exit) and
/// waits until it is gone, for at most `timeout`.
async fn stop_postgres(pgdata: &Path, timeout: Duration) -> Result<(), StackError> {
    let pidfile = pgdata.join("postmaster.pid");
    let failed = |reason: String| {
        StackError::Boot(BootError::ServiceFailed {
            service: "PostgreSQL (stopping the template's)".into(),
            source: reason.into(),
        })
    };
    let pid: i32 = fs::read_to_string(&pidfile)
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse().ok())
        .ok_or_else(|| failed(format!("no pid in {}", pidfile.display())))?;
    // SAFETY: a plain signal to the postmaster this boot started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let gone = crate::poll::until(timeout, Duration::from_millis(10), || async {
        (!pidfile.exists()).then_some(())
    })
    .await;
    gone.ok_or_else(|| failed(format!("still running after {timeout:?}")))
}

/// Copies the folder tree `from` to `to`, keeping modes, owned by PostgreSQL's user.
fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> Result<(), StackError> {
    let meta = fs::metadata(from).map_err(|e| StackError::state(from, e))?;
    if meta.is_dir() {
        fs::create_dir_all(to).map_err(|e| StackError::state(to, e))?;
        for entry in fs::read_dir(from).map_err(|e| StackError::state(from, e))? {
            let entry = entry.map_err(|e| StackError::state(from, e))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), owner)?;
        }
    } else {
        fs::copy(from, to).map_err(|e| StackError::state(to, e))?;
    }
    fs::set_permissions(to, meta.permissions()).map_err(|e| StackError::state(to, e))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(to, Some(uid), Some(gid)).map_err(|e| StackError::state(to, e))?;
    }
    Ok(())
}

pub(super) async fn setup_schema(
    sql_tool: &Path,
    admin: &PgConnInfo,
    password: &Secret,
    timeout: Duration,
) -> Result<(), StackError> {
    let port = admin.port();
    for (db, args) in schema_steps() {
        let mut cmd = tokio::process::Command::new(sql_tool);
        cmd.args(["--db", db])
            .args(&args)
            .envs(sql_tool_env("127.0.0.1", port, password))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // Messages only: the tool's output may quote the password, so it is scrubbed first.
        let failed = |reason: String| {
            StackError::Boot(BootError::ServiceFailed {
                service: format!("temporal-sql-tool {} ({db})", args[0]),
                source: scrub(&reason, password).into(),
            })
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

/// `Some((uid, gid))` of the `postgres` user when running as root, else `None`.
pub(in crate::stack) fn postgres_owner() -> Result<Option<(u32, u32)>, StackError> {
    if euid() != 0 {
        return Ok(None);
    }
    let Some(ids) = user_ids("postgres") else {
        return Err(StackError::Boot(BootError::ServiceFailed {
            service: "PostgreSQL".into(),
            source: "running as root, and PostgreSQL refuses root; no `postgres` user to run it \
                     as. Fix: install Debian's postgresql package (it creates the user) or run \
                     the tests as a normal user"
                .into(),
        }));
    };
    Ok(Some(ids))
}

pub(in crate::stack) fn as_owner(cmd: &mut Command, owner: Option<(u32, u32)>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_template_that_only_its_owner_can_write_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("template");
        fs::create_dir(&template).unwrap();
        fs::set_permissions(&template, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!usable_template(&template, None), "no READY marker yet");
        fs::write(template.join(TEMPLATE_READY), b"").unwrap();
        assert!(usable_template(&template, None));
        fs::set_permissions(&template, fs::Permissions::from_mode(0o770)).unwrap();
        assert!(!usable_template(&template, None), "others may write");
        fs::set_permissions(&template, fs::Permissions::from_mode(0o700)).unwrap();
        let someone_else = Some((euid() + 1, 0));
        assert!(
            !usable_template(&template, someone_else),
            "owned by another user"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&template, &link).unwrap();
        assert!(!usable_template(&link, None), "a symbolic link");
    }

    #[test]
    fn templates_differ_by_postgresql_binaries() {
        let a = template_path(Path::new("/usr/lib/postgresql/15/bin"));
        let b = template_path(Path::new("/usr/lib/postgresql/16/bin"));
        assert_ne!(a, b);
        assert_eq!(a, template_path(Path::new("/usr/lib/postgresql/15/bin")));
    }
}
