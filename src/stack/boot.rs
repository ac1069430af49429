//! Find-or-boot: the run's stack for a configuration, found running (another test, binary
//! or process booted it) or booted under the stack's lock, with a guard that removes a
//! failed or cancelled boot at once.

use super::identity::StackIdentity;
use super::progress::Progress;
use super::state::{self, StackDir};
use super::{
    backend, containers, external, kept, local, private_dir, readiness, reaper, ui, Endpoints,
    Stack, StackError,
};
use crate::config::{BackendKind, Flavor, StackConfig};
use crate::stack::BootError;
use std::time::Duration;

/// Finds the run's stack for `config`, or boots it, and waits until it is ready (gRPC
/// health SERVING for the WorkflowService and the namespace describable).
pub(super) async fn find_or_boot(config: &StackConfig) -> Result<Stack, StackError> {
    let backend = backend::resolve(config).await?;
    if backend == BackendKind::External {
        let endpoints = external::connect(config).await?;
        return Ok(Stack {
            endpoints,
            dir: None,
        });
    }
    state::ensure_private_root(&config.state_dir)?;
    let reaped = state::reap_stale(&config.state_dir);
    if reaped > 0 {
        eprintln!("temporal-harness: reaped {reaped} stack(s) left by an earlier run");
    }
    let dir = StackDir::new(&config.state_dir, &StackIdentity::of(config, backend).key());
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
        eprintln!("temporal-harness: reaped {abandoned} private state folder(s) of killed runs");
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
        Err(_) => Err(StackError::Boot(BootError::StartupTimeout {
            service: format!("the stack (still at: {})", progress.current()),
            timeout: config.startup_timeout,
            last: "the boot as a whole ran out of its budget".into(),
            log: match backend {
                BackendKind::Containers => "`docker logs` of its containers".to_string(),
                _ => format!("the logs in {}", dir.path().display()),
            },
        })),
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
    let ready = async {
        let target = &endpoints.temporal;
        let timeout = config.startup_timeout;
        let connection = readiness::wait_ready(target, &config.namespace, true, timeout).await?;
        readiness::wait_system_workers(target, &connection, timeout).await
    };
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
            ready = ready => ready.map_err(deadline)?,
            exited = server.exited() => return Err(exited),
        },
        None => ready.await.map_err(deadline)?,
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
