//! The stack: a ready Temporal server (and, on the PostgreSQL flavour, its PostgreSQL),
//! wherever it runs. [`Stack::acquire`] finds or boots the run's shared stack.

mod connect;
mod containers;
mod control;
mod endpoints;
mod error;
mod external;
mod kept;
mod local;
pub mod persistence_faults;
mod ports;
mod postgres;
mod private_dir;
mod process;
mod progress;
mod readiness;
mod reaper;
mod setup_steps;
pub(crate) mod shared;
mod test_server;
mod tools;
pub(crate) mod ui;

pub use shared::BOOT_LOG;

pub use connect::{connect, TemporalTarget, TlsPems};
pub use control::{Outage, StackControl};
pub use endpoints::Endpoints;
pub use error::StackError;
pub use local::{ClusterControl, FailoverControl, CLUSTER_NODES};
pub use persistence_faults::{PersistenceError, PersistenceFault, Store};
#[cfg(feature = "validation")]
pub(crate) use postgres::connect_once as connect_postgres;
pub use postgres::{check_schema, SchemaStatus};
pub use private_dir::PrivateStateDir;
pub(crate) use process::euid;
pub use test_server::TestServer;
pub use tools::default_tools_dir;

use crate::config::{BackendKind, Flavor, StackConfig, Topology};
use progress::Progress;
use shared::StackDir;
use std::time::Duration;

/// What [`Stack::shutdown`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shutdown {
    /// Its containers, network, processes and folders were removed.
    TornDown,
    /// It is kept for later runs (`keep`); `temporal-harness down` removes it.
    Kept,
    /// Other users still hold it; the last to leave (or the keeper, after the linger time)
    /// tears it down.
    StillInUse,
    /// An external deployment: nothing was started, so nothing was stopped.
    External,
}

impl Shutdown {
    /// One line for people, saying what happened to the stack.
    pub fn describe(self) -> &'static str {
        match self {
            Shutdown::TornDown => "stack torn down",
            Shutdown::Kept => "stack kept; `temporal-harness down` removes it",
            Shutdown::StillInUse => {
                "stack left running: other processes still use it (it stops once the last one \
                 leaves)"
            }
            Shutdown::External => "external deployment left as it was (nothing was started)",
        }
    }
}

/// A ready stack, held by this process through a lease.
#[derive(Debug)]
pub struct Stack {
    endpoints: Endpoints,
    /// `None` for external deployments, which the harness neither owns nor tears down.
    dir: Option<StackDir>,
}

impl Stack {
    /// Finds the run's stack for `config`, or boots it, and waits until it is ready (gRPC
    /// health SERVING for the WorkflowService and the namespace describable).
    pub async fn acquire(config: &StackConfig) -> Result<Stack, StackError> {
        let backend = resolve_backend(config).await?;
        if backend == BackendKind::External {
            let endpoints = external::connect(config).await?;
            return Ok(Stack {
                endpoints,
                dir: None,
            });
        }
        shared::ensure_private_root(&config.state_dir)?;
        let reaped = shared::reap_stale(&config.state_dir);
        if reaped > 0 {
            eprintln!("temporal-harness: reaped {reaped} stack(s) left by an earlier run");
        }
        let dir = StackDir::new(&config.state_dir, &stack_key(config, backend));
        let lock = dir.lock(config.startup_timeout).await?;
        match reusable(&dir, config).await {
            Reuse::Ready(endpoints) => {
                if config.ui_enabled() && endpoints.ui_url.is_none() {
                    // Asked for and missing must not pass unnoticed; the stack is still usable.
                    eprintln!(
                        "temporal-harness: warning: this run reuses a stack booted without the \
                         Web UI, so it has none. Fix: `temporal-harness down` (or wait for it to \
                         stop) and run again to boot one with it"
                    );
                }
                if config.keep && !dir.is_kept() {
                    dir.mark_kept()?;
                }
                dir.lease()?;
                drop(lock);
                return Ok(Stack {
                    endpoints: *endpoints,
                    dir: Some(dir),
                });
            }
            // Someone asked to keep it: its data is theirs, never removed implicitly.
            Reuse::KeptButUnusable(why) => return Err(why),
            // Nothing usable (a boot that died, a stack whose keeper is gone): start clean.
            Reuse::Unusable => {}
        }
        dir.teardown()?;
        dir.create()?;
        let orphans = reaper::reap_orphan_containers(&config.state_dir);
        if orphans > 0 {
            eprintln!("temporal-harness: removed {orphans} container(s) no stack owned");
        }
        // Only when booting: finding a running stack (every test process) reads no temp folder.
        let abandoned = private_dir::reap_abandoned();
        if abandoned > 0 {
            eprintln!(
                "temporal-harness: reaped {abandoned} private state folder(s) of killed runs"
            );
        }
        let started = std::time::Instant::now();
        // The keeper owns the stack from before its first container or process: it tears
        // down what the boot started once this process's lease is dead, however the process
        // ended (SIGKILL and a closed terminal included).
        dir.lease()?;
        dir.spawn_keeper(config.linger)?;
        // A boot that fails or is cancelled (the future dropped, e.g. by Ctrl-C in `up`)
        // removes what it started at once, without waiting for the keeper.
        let guard = BootGuard(Some(&dir));
        let booted = boot(config, backend, &dir).await;
        let endpoints = match booted {
            Ok(e) => e,
            Err(err) => {
                drop(guard);
                return Err(err);
            }
        };
        dir.write_endpoints(&endpoints)?;
        dir.record_boot(started.elapsed());
        if config.keep {
            // The keeper sees the mark and leaves the stack to `temporal-harness down`.
            dir.mark_kept()?;
        }
        guard.disarm();
        drop(lock);
        Ok(Stack {
            endpoints,
            dir: Some(dir),
        })
    }

    /// Where the stack answers.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Whether the stack outlives this run: kept (`TEMPORAL_HARNESS_KEEP`, `up --keep`) or an
    /// external deployment the harness never stops.
    pub fn outlives_run(&self) -> bool {
        self.dir.as_ref().is_none_or(StackDir::is_kept)
    }

    /// Restart and outage control, for a stack the harness runs in containers on PostgreSQL.
    /// Use it on a stack of your own (a private `state_dir`): other tests on a shared stack
    /// would see the faults too.
    pub async fn control(&self) -> Result<StackControl, StackError> {
        let unsupported = |reason: String| StackError::NotControllable {
            action: "control the stack".into(),
            source: reason.into(),
            needs: "server restarts and database outages need a stack the harness runs in \
                    containers on PostgreSQL (FaultHarness::exclusive(), or \
                    TEMPORAL_HARNESS_BACKEND=containers with TEMPORAL_HARNESS_FLAVOR=postgres)",
        };
        let containers_on_postgres = self.endpoints.backend == BackendKind::Containers
            && self.endpoints.flavor == Some(Flavor::Postgres);
        match &self.dir {
            Some(dir) if containers_on_postgres => {
                StackControl::new(&dir.label()?, &self.endpoints.namespace).await
            }
            _ => Err(unsupported(format!(
                "this stack is {}",
                self.endpoints.description
            ))),
        }
    }

    /// Kill, pause and restart control over the nodes of a local cluster stack
    /// (`topology = "cluster"`). Use it on a stack of your own (a private `state_dir`).
    pub fn cluster(&self) -> Result<ClusterControl, StackError> {
        let unsupported = |reason: String| StackError::NotControllable {
            action: "control the cluster's nodes".into(),
            source: reason.into(),
            needs: "node faults need a cluster of local processes (FaultHarness::cluster(), or \
                    TEMPORAL_HARNESS_BACKEND=local with TEMPORAL_HARNESS_TOPOLOGY=cluster)",
        };
        match &self.dir {
            Some(dir) if self.endpoints.backend == BackendKind::Local => {
                ClusterControl::new(dir.clone()).map_err(|_| {
                    unsupported("this stack is not a cluster (topology single)".into())
                })
            }
            _ => Err(unsupported(format!(
                "this stack is {}: the cluster topology runs on the local backend",
                self.endpoints.description
            ))),
        }
    }

    /// Failover control over a local stack's PostgreSQL and its standby
    /// (`postgres_standby`). Use it on a stack of your own (a private `state_dir`).
    pub fn failover(&self) -> Result<FailoverControl, StackError> {
        let unsupported = |reason: String| StackError::NotControllable {
            action: "fail PostgreSQL over".into(),
            source: reason.into(),
            needs: "failovers need a local stack whose PostgreSQL has a standby \
                    (FaultHarness::failover(), or TEMPORAL_HARNESS_POSTGRES_STANDBY=true with \
                    TEMPORAL_HARNESS_BACKEND=local)",
        };
        match &self.dir {
            Some(dir) if self.endpoints.backend == BackendKind::Local => {
                FailoverControl::new(dir.clone()).map_err(|_| {
                    unsupported("this stack has no standby (postgres_standby is off)".into())
                })
            }
            _ => Err(unsupported(format!(
                "this stack is {}: a standby runs on the local backend",
                self.endpoints.description
            ))),
        }
    }

    /// The 0600 file with the endpoints including passwords (none for external stacks).
    pub fn endpoints_file(&self) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(StackDir::endpoints_file)
    }

    /// Ends this process's use of the stack and tears it down now if no other process uses
    /// it and it is not kept (otherwise the keeper does, after the linger time). Says which
    /// of these happened.
    pub async fn shutdown(mut self, timeout: Duration) -> Result<Shutdown, StackError> {
        let Some(dir) = self.dir.take() else {
            return Ok(Shutdown::External);
        };
        let released = dir.release();
        if dir.is_kept() {
            return Ok(Shutdown::Kept);
        }
        if !released {
            // Another handle of this process still holds the lease.
            return Ok(Shutdown::StillInUse);
        }
        let _lock = dir.lock(timeout).await?;
        if dir.has_other_users() {
            return Ok(Shutdown::StillInUse);
        }
        dir.teardown()?;
        Ok(Shutdown::TornDown)
    }
}

impl Drop for Stack {
    /// A handle dropped without [`Stack::shutdown`] gives up its lease; the keeper tears the
    /// stack down after the linger time if no one else uses it.
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            dir.release();
        }
    }
}

/// Makes `namespace` usable on `target` (registering it when missing) within `timeout`:
/// how tests get a namespace of their own.
pub async fn prepare_namespace(
    target: &TemporalTarget,
    namespace: &str,
    timeout: Duration,
) -> Result<(), StackError> {
    readiness::wait_ready(target, namespace, true, timeout)
        .await
        .map(drop)
}

/// Removes every stack kept with `keep` under `config.state_dir`, and what runs that ended
/// without teardown left there; returns one line per thing removed (empty: nothing was).
pub fn down(config: &StackConfig) -> Result<Vec<String>, StackError> {
    if !config.state_dir.exists() {
        return Ok(Vec::new());
    }
    shared::ensure_private_root(&config.state_dir)?;
    let mut removed = Vec::new();
    for dir in shared::kept_stacks(&config.state_dir) {
        let inventory = dir.inventory();
        dir.teardown()?;
        removed.push(format!("kept stack {}: {inventory}", dir.key()));
    }
    let stale = shared::reap_stale(&config.state_dir);
    if stale > 0 {
        removed.push(format!(
            "{stale} stack(s) left by runs that ended without teardown"
        ));
    }
    let orphans = reaper::reap_orphan_containers(&config.state_dir);
    if orphans > 0 {
        removed.push(format!("{orphans} container(s) that no stack owned"));
    }
    Ok(removed)
}

/// Tears a stack down when dropped armed: a boot that failed, or whose future was dropped
/// mid-way. Disarmed once the stack is handed over (leased, and kept or tended by a keeper).
struct BootGuard<'a>(Option<&'a StackDir>);

impl BootGuard<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for BootGuard<'_> {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            // Synchronous on purpose: this may run while the process is being interrupted,
            // and must finish before it exits.
            let label = dir.label().ok();
            dir.release();
            let _ = dir.teardown();
            if let Some(label) = label {
                reaper::sweep_abandoned_boot(&label);
            }
        }
    }
}

/// What an existing stack folder offers.
enum Reuse {
    /// A stack that answers: use it.
    Ready(Box<Endpoints>),
    /// A kept stack that is not running or did not answer within the startup timeout.
    KeptButUnusable(StackError),
    /// Nothing there, or leftovers of a run that is gone: boot afresh.
    Unusable,
}

async fn reusable(dir: &StackDir, config: &StackConfig) -> Reuse {
    let Some(endpoints) = dir.endpoints() else {
        return Reuse::Unusable;
    };
    let kept = dir.is_kept();
    if !kept && !dir.is_tended() {
        return Reuse::Unusable;
    }
    // A stack another process booted is trusted only once it answers again. A kept one gets
    // the whole startup timeout (it may be starting after a reboot); a shared one is usually
    // warm, so a short probe decides.
    let ready = if kept {
        kept::wait_for_kept(dir, &endpoints, config)
            .await
            .map_err(Reuse::KeptButUnusable)
    } else {
        let check = Duration::from_secs(10).min(config.startup_timeout);
        readiness::wait_ready(&endpoints.temporal, &config.namespace, true, check)
            .await
            .map(drop)
            .map_err(|_| Reuse::Unusable)
    };
    match ready {
        Ok(()) => Reuse::Ready(Box::new(Endpoints {
            namespace: config.namespace.clone(),
            ..endpoints
        })),
        Err(reuse) => reuse,
    }
}

/// Boots the stack within the startup budget: every step waits at most the budget, and the
/// whole boot too (dropping the boot's future on timeout; the caller's guard removes what it
/// had started).
async fn boot(
    config: &StackConfig,
    backend: BackendKind,
    dir: &StackDir,
) -> Result<Endpoints, StackError> {
    let progress = Progress::new();
    let steps = boot_steps(config, backend, dir, &progress);
    match tokio::time::timeout(config.startup_timeout, steps).await {
        Ok(booted) => booted,
        Err(_) => Err(StackError::StartupTimeout {
            service: format!("the stack (still at: {})", progress.current()),
            timeout: config.startup_timeout,
            last: "the boot as a whole ran out of its budget".into(),
            log: match backend {
                BackendKind::Containers => "`docker logs` of its containers".to_string(),
                _ => format!("the logs in {}", dir.path().display()),
            },
        }),
    }
}

async fn boot_steps(
    config: &StackConfig,
    backend: BackendKind,
    dir: &StackDir,
    progress: &Progress,
) -> Result<Endpoints, StackError> {
    let (mut endpoints, watched, pending_ui) = match backend {
        BackendKind::Containers => (containers::boot(config, dir, progress).await?, None, None),
        BackendKind::Local => {
            let (endpoints, watched, ui) = local::boot(config, dir, progress).await?;
            (endpoints, Some(watched), ui)
        }
        BackendKind::Auto | BackendKind::External => unreachable!("resolved before boot"),
    };
    let address = &endpoints.temporal.address;
    let step = progress.start(&format!("Temporal readiness at {address}"));
    let ready = readiness::wait_ready(
        &endpoints.temporal,
        &config.namespace,
        true,
        config.startup_timeout,
    );
    let deadline = |e: StackError| {
        e.at_startup_deadline(
            &format!("Temporal at {address}"),
            config.startup_timeout,
            &format!("the server's log ({})", dir.path().display()),
        )
    };
    match watched {
        // A local server that dies while booting fails the boot at once, with its log.
        Some(server) => tokio::select! {
            ready = ready => ready.map(drop).map_err(deadline)?,
            exited = server.exited() => return Err(exited),
        },
        None => ready.await.map(drop).map_err(deadline)?,
    }
    step.done();
    if let Some(ui) = pending_ui {
        endpoints.ui_url = Some(ui.start(config, dir)?);
    }
    if let Some(url) = &endpoints.ui_url {
        let step = progress.start(&format!("Temporal Web UI at {url}"));
        let log = match (backend, config.flavor) {
            (BackendKind::Containers, Flavor::Postgres) => {
                format!("`docker logs {}`", containers::ui_container(&dir.label()?))
            }
            (BackendKind::Containers, Flavor::Dev) => "`docker logs` of the dev server".into(),
            (_, Flavor::Postgres) => dir.path().join("temporal-ui.log").display().to_string(),
            (_, Flavor::Dev) => dir.path().join("temporal-dev.log").display().to_string(),
        };
        ui::wait_ready(url, &config.namespace, config.startup_timeout, &log).await?;
        step.done();
    }
    progress.total(&endpoints.description);
    Ok(endpoints)
}

/// Picks the backend for `auto`: containers when Docker answers, else local when the
/// binaries exist; one line says which and why.
async fn resolve_backend(config: &StackConfig) -> Result<BackendKind, StackError> {
    if config.topology == Topology::Cluster
        || !config.persistence_faults.is_empty()
        || config.postgres_standby
    {
        return local_only_backend(config);
    }
    if config.backend != BackendKind::Auto {
        return Ok(config.backend);
    }
    if config
        .external
        .as_ref()
        .is_some_and(|e| !e.address.is_empty())
    {
        eprintln!("temporal-harness: backend external (TEMPORAL_HARNESS_ADDRESS is set)");
        return Ok(BackendKind::External);
    }
    let docker = match containers::docker().await {
        Ok(_) => {
            eprintln!("temporal-harness: backend containers (Docker answers)");
            return Ok(BackendKind::Containers);
        }
        Err(e) => e,
    };
    match local::missing_binaries(config) {
        None => {
            eprintln!("temporal-harness: backend local (Docker unreachable, local binaries found)");
            Ok(BackendKind::Local)
        }
        Some(local) => Err(StackError::NoBackend {
            docker: Box::new(docker),
            local: Box::new(local),
        }),
    }
}

/// The cluster topology and persistence faults run the full server as local processes on
/// PostgreSQL; any other combination is refused, naming the fix.
fn local_only_backend(config: &StackConfig) -> Result<BackendKind, StackError> {
    let what = if config.topology == Topology::Cluster {
        "topology = \"cluster\""
    } else if config.postgres_standby {
        "a PostgreSQL standby"
    } else {
        "a stack with persistence faults"
    };
    let unsupported = |text: String| {
        Err(StackError::Config(crate::config::ConfigError::Unsupported(
            text,
        )))
    };
    if let Err(e) = persistence_faults::validate(&config.persistence_faults) {
        return unsupported(e.to_string());
    }
    let refuse = |why: &str| {
        unsupported(format!(
            "{what} {why}. Fix: TEMPORAL_HARNESS_BACKEND=local TEMPORAL_HARNESS_FLAVOR=postgres{}",
            if config.topology == Topology::Cluster {
                ", or TEMPORAL_HARNESS_TOPOLOGY=single"
            } else {
                ""
            }
        ))
    };
    if config.flavor != Flavor::Postgres {
        return refuse("needs the PostgreSQL flavour (the dev server is one process)");
    }
    match config.backend {
        BackendKind::Local => Ok(BackendKind::Local),
        BackendKind::Auto => {
            eprintln!("temporal-harness: backend local ({what} runs as local processes)");
            Ok(BackendKind::Local)
        }
        BackendKind::Containers => refuse("runs on the local backend (containers: not yet)"),
        BackendKind::External => refuse("describes stacks the harness boots, not a deployment"),
    }
}

/// Stable key of a configuration: the same settings share one stack.
fn stack_key(config: &StackConfig, backend: BackendKind) -> String {
    let backend_name = match backend {
        BackendKind::Containers => "containers",
        BackendKind::Local => "local",
        BackendKind::Auto | BackendKind::External => "other",
    };
    let flavor = match config.flavor {
        Flavor::Postgres => "postgres",
        Flavor::Dev => "dev",
    };
    let identity = format!(
        "{backend_name}|{flavor}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        config.topology,
        config.persistence_faults,
        config.postgres_standby,
        config.frontend_port,
        config.images,
        config.official_images,
        crate::versions::Versions::pinned(),
        config.tools_dir
    );
    format!(
        "{backend_name}-{flavor}-{:016x}",
        fnv1a(identity.as_bytes())
    )
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_differ_by_what_matters() {
        let base = StackConfig::default();
        let same = StackConfig::default();
        let dev = StackConfig {
            flavor: Flavor::Dev,
            ..StackConfig::default()
        };
        let k = stack_key(&base, BackendKind::Containers);
        assert_eq!(k, stack_key(&same, BackendKind::Containers));
        assert_ne!(k, stack_key(&dev, BackendKind::Containers));
        assert_ne!(k, stack_key(&base, BackendKind::Local));
        assert!(k.starts_with("containers-postgres-"));
    }
}
