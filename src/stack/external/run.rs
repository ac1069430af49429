//! A run's life across the processes of one test command (`cargo test`'s binaries, or the
//! processes of `cargo nextest run`), on one machine: the first process makes the run and
//! records it in a state folder keyed by the deployment, every process takes a lease (a file
//! named by its pid, as stacks do), and the last process to exit ends it on the deployment
//! (see `exit`). A run whose processes all died without ending it (SIGKILL) is ended by the
//! next process that finds its record; one whose record is gone too (another machine, a
//! wiped CI runner) is swept from the deployment once older than the run TTL.

use super::{cluster, exit, RunScope};
use crate::config::{ExternalTarget, RunIsolation, StackConfig};
use crate::stack::state::{self, StackDir};
use crate::stack::{connect, readiness, StackError, TemporalError, TemporalTarget};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// What a state folder records about its run: enough to end it from another process.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Record {
    scope: RunScope,
    /// The namespace the tests use: the run's own, or the configured one (prefix).
    namespace: String,
    /// The configured namespace (where prefix isolation's workflows run).
    shared_namespace: String,
}

/// A run this process takes part in.
#[derive(Debug, Clone)]
pub(super) struct Joined {
    pub(super) scope: RunScope,
    pub(super) namespace: String,
    dir: StackDir,
    target: TemporalTarget,
    /// How long the run's last process waits at exit for another to join (see `leave_all`).
    linger: Duration,
}

/// The runs this process joined (one per deployment and setting; usually one).
static JOINED: Mutex<Vec<Joined>> = Mutex::new(Vec::new());

/// The most a run's last process waits at exit for the next one to join: `cargo test` starts
/// the next test binary, and nextest the next test process, right after one exits, and each
/// joins within a fraction of a second; without the wait a shard of 100 tests under nextest
/// made and ended 18 runs (a namespace each), one per gap between its processes.
const EXIT_LINGER: Duration = Duration::from_secs(1);

/// How long ending or sweeping may take before the run reports it and goes on.
const CLUSTER_BUDGET: Duration = Duration::from_secs(60);

/// Joins this process to the run on `ext`: the one its other processes share, or a new one.
pub(super) async fn join(
    config: &StackConfig,
    ext: &ExternalTarget,
    target: &TemporalTarget,
) -> Result<Joined, StackError> {
    let key = key(config, ext);
    if let Some(joined) = joined().iter().find(|j| j.dir.key() == key) {
        return Ok(joined.clone());
    }
    state::ensure_private_root(&config.state_dir)?;
    let dir = StackDir::new(&config.state_dir, &key);
    let _lock = dir.lock(config.startup_timeout).await?;
    // Another test of this process may have joined while this one waited for the lock.
    if let Some(joined) = joined().iter().find(|j| j.dir.key() == key) {
        return Ok(joined.clone());
    }
    let record = match dir.run_record::<Record>() {
        Some(record) if dir.in_use() => record,
        found => {
            if let Some(stale) = found {
                // Every process of that run is gone and none ended it: it is over.
                end(&stale, target, "left by a run whose processes all died").await;
            }
            start(config, ext, target, &dir).await?
        }
    };
    dir.lease()?;
    let joined = Joined {
        scope: record.scope,
        namespace: record.namespace,
        dir,
        target: target.clone(),
        linger: config.linger.min(EXIT_LINGER),
    };
    self::joined().push(joined.clone());
    exit::end_runs_at_exit();
    Ok(joined)
}

fn joined() -> std::sync::MutexGuard<'static, Vec<Joined>> {
    JOINED.lock().unwrap_or_else(|p| p.into_inner())
}

/// The state folder's key: one run per deployment, namespace and isolation on this machine.
fn key(config: &StackConfig, ext: &ExternalTarget) -> String {
    let identity = format!("{}\n{}\n{}", ext.address, config.namespace, ext.isolation);
    format!(
        "external-run-{:016x}",
        crate::stack::fnv1a(identity.as_bytes())
    )
}

/// Starts a run: sweeps what expired runs left, registers the run's namespace (namespace
/// isolation) and records the run.
async fn start(
    config: &StackConfig,
    ext: &ExternalTarget,
    target: &TemporalTarget,
    dir: &StackDir,
) -> Result<Record, StackError> {
    let began = SystemTime::now();
    let scope = RunScope::new(ext.isolation, began);
    let connection = connect(target, Duration::from_secs(10)).await?;
    let refused = |what: String| {
        move |e: crate::error::Grpc| {
            StackError::Temporal(TemporalError::Unreachable {
                address: target.address.clone(),
                source: crate::error::context(what, e),
            })
        }
    };
    let swept = tokio::time::timeout(
        CLUSTER_BUDGET,
        cluster::sweep(&connection, ext.isolation, &config.namespace, ext.run_ttl),
    )
    .await
    .unwrap_or_else(|_| Err(tonic_timeout()))
    .map_err(refused(format!(
        "sweeping what runs older than the run TTL ({:?}) left (needs {})",
        ext.run_ttl,
        permissions(ext.isolation)
    )))?;
    if !swept.is_empty() {
        eprintln!(
            "temporal-harness: swept leftovers of runs older than {:?} from {}: {swept}",
            ext.run_ttl, target.address
        );
    }
    let namespace = match ext.isolation {
        RunIsolation::Namespace => {
            let data = cluster::marker(&scope, began);
            readiness::wait_registered(target, &scope.id, &data, config.startup_timeout).await?;
            scope.id.clone()
        }
        _ => config.namespace.clone(),
    };
    let record = Record {
        scope,
        namespace,
        shared_namespace: config.namespace.clone(),
    };
    dir.create()?;
    dir.write_run_record(&record)?;
    eprintln!(
        "temporal-harness: run {} on {} ({} isolation, namespace {})",
        record.scope.id, target.address, record.scope.isolation, record.namespace
    );
    Ok(record)
}

fn tonic_timeout() -> crate::error::Grpc {
    crate::error::Grpc(temporalio_client::tonic::Status::deadline_exceeded(
        format!("no answer within {CLUSTER_BUDGET:?}"),
    ))
}

/// The permissions each isolation needs, for errors (the guide lists them too).
pub(super) fn permissions(isolation: RunIsolation) -> &'static str {
    match isolation {
        RunIsolation::Namespace => {
            "RegisterNamespace, ListNamespaces and the operator API's DeleteNamespace"
        }
        _ => {
            "ListNamespaces, and ListWorkflowExecutions and TerminateWorkflowExecution in the \
             namespace"
        }
    }
}

/// Ends `record`'s run on the deployment, saying what it removed; a failure is reported
/// (what is left is swept by a later run once older than the TTL), never fatal.
async fn end(record: &Record, target: &TemporalTarget, why: &str) -> bool {
    let ended = async {
        let connection = connect(target, Duration::from_secs(10))
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(
            CLUSTER_BUDGET,
            cluster::end_run(&connection, &record.scope, &record.shared_namespace),
        )
        .await
        .unwrap_or_else(|_| Err(tonic_timeout()))
        .map_err(|e| e.to_string())
    }
    .await;
    let line = match &ended {
        Ok(removed) => format!("ended run {} ({why}): {removed}", record.scope.id),
        Err(e) => format!(
            "could not end run {} ({why}): {e}. What it left is swept by a later run once older \
             than the run TTL. Fix: check that the deployment answers and that the run may \
             use {}",
            record.scope.id,
            permissions(record.scope.isolation)
        ),
    };
    // Never a panic here (this may run as the process exits, with stderr closed).
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("temporal-harness: {line}\n").as_bytes(),
    );
    ended.is_ok()
}

/// At this process's exit: gives up its leases and ends each run no other live process
/// holds, once none has joined within the linger time.
pub(super) async fn leave_all() {
    let runs = std::mem::take(&mut *joined());
    for run in runs {
        // Still holding the lease, so a process that comes now joins this run.
        let deadline = tokio::time::Instant::now() + run.linger;
        while !run.dir.held_by_others() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        run.dir.release();
        let Ok(_lock) = run.dir.lock(Duration::from_secs(10)).await else {
            continue;
        };
        if run.dir.in_use() {
            continue;
        }
        let Some(record) = run.dir.run_record::<Record>() else {
            continue;
        };
        if end(&record, &run.target, "its last process exited").await {
            // Nothing of the run is left: neither its record nor its folder.
            let _ = run.dir.remove_run_record();
            let _ = run.dir.teardown();
        }
    }
}
