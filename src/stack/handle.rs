//! The handle a process holds on a ready stack, and what it can do with it.

use super::state::{self, StackDir};
use super::{
    boot, readiness, reaper, ClusterControl, Endpoints, FailoverControl, StackControl, StackError,
    TemporalTarget,
};
use crate::config::{BackendKind, Flavor, StackConfig};
use crate::stack::ControlError;
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
    pub(super) endpoints: Endpoints,
    /// `None` for external deployments, which the harness neither owns nor tears down.
    pub(super) dir: Option<StackDir>,
}

impl Stack {
    /// Finds the run's stack for `config`, or boots it, and waits until it is ready (gRPC
    /// health SERVING for the WorkflowService and the namespace describable).
    pub async fn acquire(config: &StackConfig) -> Result<Stack, StackError> {
        boot::find_or_boot(config).await
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
        let unsupported = |reason: String| {
            StackError::Control(ControlError::NotControllable {
                action: "control the stack".into(),
                source: reason.into(),
                needs: "server restarts and database outages need a stack the harness runs in \
                    containers on PostgreSQL (FaultHarness::exclusive(), or \
                    TEMPORAL_HARNESS_BACKEND=containers with TEMPORAL_HARNESS_FLAVOR=postgres)",
            })
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
        let unsupported = |reason: String| {
            StackError::Control(ControlError::NotControllable {
                action: "control the cluster's nodes".into(),
                source: reason.into(),
                needs:
                    "node faults need a cluster of local processes (FaultHarness::cluster(), or \
                    TEMPORAL_HARNESS_BACKEND=local with TEMPORAL_HARNESS_TOPOLOGY=cluster)",
            })
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
        let unsupported = |reason: String| {
            StackError::Control(ControlError::NotControllable {
                action: "fail PostgreSQL over".into(),
                source: reason.into(),
                needs: "failovers need a local stack whose PostgreSQL has a standby \
                    (FaultHarness::failover(), or TEMPORAL_HARNESS_POSTGRES_STANDBY=true with \
                    TEMPORAL_HARNESS_BACKEND=local)",
            })
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
        if dir.in_use() {
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
/// how tests get a namespace of their own. In a `run` on a shared deployment the namespace
/// carries the run's marker, so the run's end (or a later sweep) deletes it.
pub async fn prepare_namespace(
    target: &TemporalTarget,
    namespace: &str,
    run: Option<&super::RunScope>,
    timeout: Duration,
) -> Result<(), StackError> {
    let data = run.map(super::external::marker).unwrap_or_default();
    readiness::wait_registered(target, namespace, &data, timeout)
        .await
        .map(drop)
}

/// Removes every stack kept with `keep` under `config.state_dir`, and what runs that ended
/// without teardown left there; returns one line per thing removed (empty: nothing was).
pub fn down(config: &StackConfig) -> Result<Vec<String>, StackError> {
    if !config.state_dir.exists() {
        return Ok(Vec::new());
    }
    state::ensure_private_root(&config.state_dir)?;
    let mut removed = Vec::new();
    for dir in state::kept_stacks(&config.state_dir) {
        let inventory = dir.inventory();
        dir.teardown()?;
        removed.push(format!("kept stack {}: {inventory}", dir.key()));
    }
    let stale = state::reap_stale(&config.state_dir);
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
