//! Runs a workload under a fault schedule on a real stack and checks the invariants.
//!
//! The worker reaches Temporal through a proxy the harness owns (network faults happen
//! there); the harness's own client goes through a second, never-faulted proxy, so both
//! follow the server to its new address after a restart.

mod checks;

use super::model::{ClusterNode, Fault, NetworkFault, Schedule, TimedFault, Trigger};
use super::proxy::Proxy;
use super::workload::{Awaited, Workload};
use crate::config::StackConfig;
use crate::config::{BackendKind, Flavor, TlsFiles, Topology};
use crate::error::{context, BoxError};
use crate::poll::{retry, Attempt};
use crate::runner::History;
use crate::stack::BootError;
use crate::stack::{connect, StackControl, StackError, TemporalTarget};
use crate::stack::{ClusterControl, FailoverControl, PersistenceFault, PrivateStateDir, Stack};
use crate::worker_thread::{WorkerError, WorkerThread};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{Client, ClientOptions};
use temporalio_common::protos::temporal::api::enums::v1::EventType;

/// Longest one case may take before it fails as hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between polls of a workflow's progress.
const POLL: Duration = Duration::from_millis(20);

/// A schedule under which an invariant did not hold.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The schedule.
    pub schedule: Schedule,
    /// The server's persistence faults, when the harness has any.
    pub persistence: Vec<PersistenceFault>,
    /// The histories of the jobs a failure names, written to files (Temporal's JSON: the
    /// Web UI and `temporal-harness histories show` open them), with each one rendered.
    pub histories: Vec<(std::path::PathBuf, String)>,
    /// Every invariant that failed, with what was seen.
    pub failures: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invariants violated:")?;
        for failure in &self.failures {
            writeln!(f, "  - {failure}")?;
        }
        if !self.persistence.is_empty() {
            writeln!(
                f,
                "persistence faults (FaultHarness::with_persistence_faults):\nvec!["
            )?;
            for fault in &self.persistence {
                writeln!(f, "    {fault},")?;
            }
            writeln!(f, "]")?;
        }
        for (path, rendered) in &self.histories {
            writeln!(f, "history {}:\n{rendered}", path.display())?;
        }
        write!(
            f,
            "schedule (paste as a regression case):\n{}",
            self.schedule
        )
    }
}

impl std::error::Error for Violation {}

/// A case in which every invariant held: what it ran, for a test that derives bounds from a
/// run without faults (a control) instead of guessing them.
#[derive(Debug, Clone)]
pub struct Passed {
    /// Each job's history, in the workload's order of jobs.
    pub histories: Vec<History>,
}

/// Runs workloads under schedules; see the module docs.
pub struct FaultHarness {
    stack: Option<Stack>,
    control: Option<StackControl>,
    namespace: String,
    worker_target: TemporalTarget,
    worker_proxy: Proxy,
    client_proxy: Proxy,
    client: Client,
    applied: Mutex<BTreeMap<&'static str, usize>>,
    private_state: Option<PrivateStateDir>,
    persistence: Vec<PersistenceFault>,
    cluster: Option<ClusterControl>,
    failover: Option<FailoverControl>,
}

impl FaultHarness {
    /// On the run's shared stack: worker crashes, network and activity faults only (they
    /// touch nothing but this harness's worker), so tests using it can run in parallel.
    pub async fn shared() -> Result<FaultHarness, StackError> {
        let config = StackConfig::load()?;
        let stack = Stack::acquire(&config).await?;
        Self::over(stack, None, None).await
    }

    /// On a containers stack on PostgreSQL of its own: every fault kind, including server
    /// restarts and PostgreSQL outages. Boots a stack (about 8 s); run such tests serially.
    pub async fn exclusive() -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| config.backend = BackendKind::Containers).await?;
        let control = stack.control().await?;
        Self::over(stack, Some(control), Some(private)).await
    }

    /// On a local stack of its own whose server injects `faults` at its persistence layer
    /// (ambiguous writes, timeouts, lost shard ownership, overload, unavailability): each
    /// set of persistence faults is a server configuration, so each gets its own stack
    /// (about 1 s to boot locally); worker, network and activity faults apply on top.
    pub async fn with_persistence_faults(
        faults: Vec<PersistenceFault>,
    ) -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| {
            config.backend = BackendKind::Local;
            config.persistence_faults = faults.clone();
        })
        .await?;
        let mut harness = Self::over(stack, None, Some(private)).await?;
        harness.persistence = faults;
        Ok(harness)
    }

    /// On a cluster of its own (frontend, two history hosts, matching and worker as local
    /// processes on PostgreSQL): cluster nodes killed or frozen, on top of the shared kinds.
    /// Boots in about 1 s; tear it down with [`FaultHarness::shutdown`].
    pub async fn cluster() -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| {
            config.backend = BackendKind::Local;
            config.topology = Topology::Cluster;
        })
        .await?;
        let nodes = stack.cluster()?;
        let mut harness = Self::over(stack, None, Some(private)).await?;
        harness.cluster = Some(nodes);
        Ok(harness)
    }

    /// On a local stack of its own whose PostgreSQL has a synchronous streaming standby: one
    /// [`TimedFault::PostgresFailover`] per harness (the standby is used up), on top of the
    /// shared kinds. Boots in about 3 s (the base backup).
    pub async fn failover() -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| {
            config.backend = BackendKind::Local;
            config.postgres_standby = true;
        })
        .await?;
        let control = stack.failover()?;
        let mut harness = Self::over(stack, None, Some(private)).await?;
        harness.failover = Some(control);
        Ok(harness)
    }

    async fn over(
        stack: Stack,
        control: Option<StackControl>,
        private_state: Option<PrivateStateDir>,
    ) -> Result<FaultHarness, StackError> {
        let endpoints = stack.endpoints().clone();
        let upstream = &endpoints.temporal.address;
        let proxy = |e: std::io::Error| {
            StackError::Boot(BootError::ServiceFailed {
                service: "fault proxy".into(),
                source: e.into(),
            })
        };
        let worker_proxy = Proxy::start(upstream).await.map_err(proxy)?;
        let client_proxy = Proxy::start(upstream).await.map_err(proxy)?;
        let client_target = through(&endpoints.temporal, &client_proxy);
        let connection = connect(&client_target, Duration::from_secs(10)).await?;
        let client = Client::new(
            connection,
            ClientOptions::new(endpoints.namespace.clone()).build(),
        )
        .map_err(|e| {
            StackError::Boot(BootError::ServiceFailed {
                service: "client".into(),
                source: e.into(),
            })
        })?;
        Ok(FaultHarness {
            worker_target: through(&endpoints.temporal, &worker_proxy),
            namespace: endpoints.namespace,
            stack: Some(stack),
            control,
            worker_proxy,
            client_proxy,
            client,
            applied: Mutex::default(),
            private_state,
            persistence: Vec::new(),
            cluster: None,
            failover: None,
        })
    }

    /// The containers a server restart or outage acts on (exclusive harnesses only): to
    /// check that none outlives the suite.
    pub fn containers(&self) -> Option<[String; 2]> {
        self.control.as_ref().map(StackControl::containers)
    }

    /// How many times each fault kind was applied (or, for activity faults, fired) so far.
    pub fn exercised(&self) -> BTreeMap<&'static str, usize> {
        self.applied.lock().expect("stats lock").clone()
    }

    fn count(&self, kinds: BTreeMap<&'static str, usize>) {
        let mut applied = self.applied.lock().expect("stats lock");
        for (kind, n) in kinds {
            *applied.entry(kind).or_default() += n;
        }
    }

    /// Runs `workload` under `schedule`: starts a worker and every job, applies the faults,
    /// awaits every result, then checks the invariants (results, exactly-once completion,
    /// nothing lost, side-effect delivery, clean replay). `Err` lists what failed.
    pub async fn run(&self, workload: &Workload, schedule: &Schedule) -> Result<Passed, Violation> {
        let violation = |failures: Vec<String>| Violation {
            schedule: schedule.clone(),
            persistence: self.persistence.clone(),
            histories: Vec::new(),
            failures,
        };
        self.count(
            self.persistence
                .iter()
                .map(|f| (f.error.kind(), 1))
                .collect(),
        );
        if schedule.needs_standby() && self.failover.is_none() {
            return Err(violation(vec![
                "the schedule fails PostgreSQL over: run it on FaultHarness::failover()".into(),
            ]));
        }
        if schedule.needs_cluster() && self.cluster.is_none() {
            return Err(violation(vec![
                "the schedule kills or freezes cluster nodes: run it on FaultHarness::cluster()"
                    .into(),
            ]));
        }
        if schedule.needs_exclusive_stack() && self.control.is_none() {
            return Err(violation(vec![
                "the schedule restarts the server or PostgreSQL: run it on \
                 FaultHarness::exclusive()"
                    .into(),
            ]));
        }
        let prefix = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let task_queue = format!("faults-{prefix}");
        let ids: Vec<String> = (0..workload.jobs.len())
            .map(|i| format!("faults-{prefix}-job-{i}"))
            .collect();
        workload.points.arm(&schedule.faults, &ids);
        let outcome = tokio::time::timeout(
            CASE_TIMEOUT,
            self.run_case(workload, schedule, &task_queue, &ids),
        )
        .await
        .unwrap_or_else(|_| Err(self.hung(&ids)));
        workload.points.disarm(&ids);
        self.count(workload.points.take_fired());
        match outcome {
            Ok(histories) => Ok(Passed { histories }),
            Err(failures) => {
                let named: Vec<&String> = ids
                    .iter()
                    .filter(|id| failures.iter().any(|f| f.contains(id.as_str())))
                    .collect();
                let histories = self.write_histories(prefix, &named).await;
                Err(Violation {
                    histories,
                    ..violation(failures)
                })
            }
        }
    }

    /// What a case that did not finish shows: which jobs were still open, and the errors
    /// the server logged (what a hang after a fault is usually waiting for).
    fn hung(&self, ids: &[String]) -> Vec<String> {
        let mut failures = vec![format!(
            "the case did not finish within {CASE_TIMEOUT:?}: jobs {} (their histories below)",
            ids.join(", ")
        )];
        failures.extend(self.server_errors());
        failures
    }

    /// The last errors of each server log in this harness's private state folder.
    fn server_errors(&self) -> Vec<String> {
        let Some(private) = &self.private_state else {
            return Vec::new();
        };
        let logs = std::fs::read_dir(private.path())
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|stack| {
                std::fs::read_dir(stack.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("temporal-") && n.ends_with(".log"))
            });
        logs.filter_map(|log| {
            let text = std::fs::read_to_string(&log).ok()?;
            let errors: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("\"level\":\"error\"") || l.contains("\"level\":\"fatal\""))
                .collect();
            let tail: Vec<String> = errors[errors.len().saturating_sub(8)..]
                .iter()
                .map(|l| l.chars().take(400).collect())
                .collect();
            (!tail.is_empty()).then(|| {
                format!(
                    "{} logged {} error(s); the last:\n      {}",
                    log.display(),
                    errors.len(),
                    tail.join("\n      ")
                )
            })
        })
        .collect()
    }

    async fn run_case(
        &self,
        workload: &Workload,
        schedule: &Schedule,
        task_queue: &str,
        ids: &[String],
    ) -> Result<Vec<History>, Vec<String>> {
        let mut options = workload
            .definitions
            .worker_options(task_queue)
            .map_err(|e| vec![e.to_string()])?
            .ok_or_else(|| vec!["the workload registers no workflows".to_string()])?;
        // A crashed worker's sticky tasks move to the normal queue after this long.
        options.sticky_queue_schedule_to_start_timeout = Duration::from_secs(1);
        let worker = self
            .start_worker(&options)
            .await
            .map_err(|e| vec![e.to_string()])?;
        let worker = tokio::sync::Mutex::new(Some(worker));
        let started = Instant::now();
        for (job, id) in workload.jobs.iter().zip(ids) {
            self.start_job(job, task_queue, id)
                .await
                .map_err(|e| vec![format!("{id}: could not be started: {e}")])?;
        }
        let faults = self.apply_faults(schedule, ids, started, &worker, &options);
        let results = futures::future::join_all(
            workload
                .jobs
                .iter()
                .zip(ids)
                .map(|(job, id)| self.await_job(job, id)),
        );
        let (applied, results) = futures::join!(faults, results);
        // With the worker still polling: tasks a fault left behind (dispatched, but their
        // removal lost) are offered to it and dropped as stale; without pollers they would
        // stay counted.
        let backlog = self.check_backlog(task_queue).await;
        if let Some(worker) = worker.lock().await.take() {
            stop(worker, true).await;
        }
        let mut failures: Vec<String> = applied.err().iter().map(ToString::to_string).collect();
        failures.extend(results.into_iter().flatten());
        let (broken, histories) = self.check_invariants(workload, ids).await;
        failures.extend(broken);
        failures.extend(self.check_visibility(ids).await);
        failures.extend(backlog);
        if failures.is_empty() {
            Ok(histories)
        } else {
            Err(failures)
        }
    }

    async fn start_worker(
        &self,
        options: &temporalio_sdk::WorkerOptions,
    ) -> Result<WorkerThread, WorkerError> {
        WorkerThread::start(
            self.worker_target.clone(),
            self.namespace.clone(),
            options.clone(),
        )
        .await
    }

    /// Starts a job, retrying while the server is away; "already started" means an earlier
    /// attempt got through (IDs are never reused).
    async fn start_job(
        &self,
        job: &super::workload::Job,
        task_queue: &str,
        id: &str,
    ) -> Result<(), WorkflowStartError> {
        retry(Duration::from_secs(30), POLL, |_| async {
            match (job.start)(self.client.clone(), task_queue.into(), id.into()).await {
                Ok(()) | Err(WorkflowStartError::AlreadyStarted { .. }) => Attempt::Done(()),
                Err(e) => Attempt::Again(e),
            }
        })
        .await
    }

    /// Awaits a job's result through restarts; `Some(failure)` if it is wrong or never comes.
    async fn await_job(&self, job: &super::workload::Job, id: &str) -> Option<String> {
        loop {
            match (job.awaited)(self.client.clone(), id.into()).await {
                Awaited::Matched => return None,
                Awaited::Mismatch(m) => return Some(format!("{id}: {m}")),
                Awaited::Error(e) => {
                    // A closed-but-not-completed workflow is final; anything else is the
                    // stack being away, and waiting is right (the case timeout bounds it).
                    if let Ok(history) = History::fetch(&self.client, id).await {
                        if let Some(end) = closing_event(&history) {
                            if end != EventType::WorkflowExecutionCompleted {
                                return Some(format!("{id}: ended with {end:?}: {e}"));
                            }
                        }
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    async fn apply_faults(
        &self,
        schedule: &Schedule,
        ids: &[String],
        started: Instant,
        worker: &tokio::sync::Mutex<Option<WorkerThread>>,
        options: &temporalio_sdk::WorkerOptions,
    ) -> Result<(), BoxError> {
        for fault in &schedule.faults {
            let Fault::Timed { trigger, fault } = fault else {
                continue;
            };
            self.wait_for(trigger, ids, started).await;
            self.apply(fault, worker, options)
                .await
                .map_err(|e| context(format!("applying {fault:?}"), e))?;
            self.count(BTreeMap::from([(fault.kind(), 1)]));
        }
        Ok(())
    }

    async fn wait_for(&self, trigger: &Trigger, ids: &[String], started: Instant) {
        match *trigger {
            Trigger::AtMillis(ms) => {
                let at = started + Duration::from_millis(ms);
                tokio::time::sleep_until(at.into()).await;
            }
            Trigger::AfterEvent { job, event } => {
                self.wait_for_history(ids.get(job), |h| h.events().len() >= event as usize)
                    .await
            }
            Trigger::AfterActivities { job, completed } => {
                self.wait_for_history(ids.get(job), |h| {
                    h.count(EventType::ActivityTaskCompleted) >= completed as usize
                })
                .await
            }
        }
    }

    /// Polls the workflow `id`'s history until `reached` holds or the workflow closed.
    async fn wait_for_history(&self, id: Option<&String>, reached: impl Fn(&History) -> bool) {
        let Some(id) = id else { return };
        loop {
            if let Ok(history) = History::fetch(&self.client, id).await {
                if reached(&history) || closing_event(&history).is_some() {
                    return;
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn apply(
        &self,
        fault: &TimedFault,
        worker: &tokio::sync::Mutex<Option<WorkerThread>>,
        options: &temporalio_sdk::WorkerOptions,
    ) -> Result<(), BoxError> {
        let control = || {
            self.control
                .as_ref()
                .ok_or("this fault needs a stack of its own: FaultHarness::exclusive()")
        };
        let cluster = || {
            self.cluster
                .as_ref()
                .ok_or("this fault needs a cluster of its own: FaultHarness::cluster()")
        };
        match *fault {
            TimedFault::WorkerCrash => {
                let mut slot = worker.lock().await;
                if let Some(old) = slot.take() {
                    stop(old, false).await;
                }
                *slot = Some(self.start_worker(options).await?);
            }
            TimedFault::ServerRestart => {
                let address = control()?
                    .restart_temporal(false, Duration::from_secs(90))
                    .await?;
                for proxy in [&self.worker_proxy, &self.client_proxy] {
                    proxy.set_upstream(&address);
                    proxy.reset_connections();
                }
            }
            TimedFault::PostgresOutage { outage, millis } => {
                let control = control()?;
                control.postgres_down(outage).await?;
                tokio::time::sleep(Duration::from_millis(millis)).await;
                control.postgres_up(outage).await?;
            }
            TimedFault::Network { fault, millis } => {
                let proxy = &self.worker_proxy;
                let lasting = Duration::from_millis(millis);
                match fault {
                    NetworkFault::Latency { millis } => {
                        proxy.set_latency(Duration::from_millis(millis));
                        tokio::time::sleep(lasting).await;
                        proxy.set_latency(Duration::ZERO);
                    }
                    NetworkFault::Drop => {
                        proxy.set_refusing(true);
                        tokio::time::sleep(lasting).await;
                        proxy.set_refusing(false);
                    }
                    NetworkFault::Reset => proxy.reset_connections(),
                }
            }
            TimedFault::PostgresFailover { millis } => {
                self.failover
                    .as_ref()
                    .ok_or("this fault needs a standby of its own: FaultHarness::failover()")?
                    .fail_over(Duration::from_millis(millis), Duration::from_secs(90))
                    .await?;
            }
            TimedFault::NodeDown { node, millis } => {
                let nodes = cluster()?;
                nodes.kill(node.name()).await?;
                tokio::time::sleep(Duration::from_millis(millis)).await;
                nodes.restart(node.name(), Duration::from_secs(90)).await?;
                if node == ClusterNode::Frontend {
                    // Connections through the proxies went to the process that died.
                    for proxy in [&self.worker_proxy, &self.client_proxy] {
                        proxy.reset_connections();
                    }
                }
            }
            TimedFault::NodeFreeze { node, millis } => {
                let nodes = cluster()?;
                nodes.pause(node.name())?;
                tokio::time::sleep(Duration::from_millis(millis)).await;
                nodes.resume(node.name())?;
            }
        }
        Ok(())
    }

    /// Stops the proxies and gives up the stack (an exclusive one is torn down now).
    pub async fn shutdown(mut self) -> Result<(), StackError> {
        if let Some(stack) = self.stack.take() {
            stack.shutdown(Duration::from_secs(60)).await?;
        }
        // Tears down what is left in the private folder and removes it.
        drop(self.private_state.take());
        Ok(())
    }
}

/// A target like `original`, reached through `proxy`: TLS still verifies the original host.
fn through(original: &TemporalTarget, proxy: &Proxy) -> TemporalTarget {
    let mut target = TemporalTarget {
        address: proxy.address(),
        ..original.clone()
    };
    let tls_on = original.tls.as_ref().is_some_and(TlsFiles::is_set) || original.api_key.is_some();
    if tls_on {
        let host = original
            .address
            .rsplit_once(':')
            .map_or(original.address.as_str(), |(h, _)| h);
        let mut tls = original.tls.clone().unwrap_or_default();
        tls.server_name.get_or_insert_with(|| host.to_string());
        target.tls = Some(tls);
    }
    target
}

/// The event that closed the run, if it is closed.
fn closing_event(history: &History) -> Option<EventType> {
    let last = history.events().last()?;
    let ty = EventType::try_from(last.event_type).ok()?;
    matches!(
        ty,
        EventType::WorkflowExecutionCompleted
            | EventType::WorkflowExecutionFailed
            | EventType::WorkflowExecutionTimedOut
            | EventType::WorkflowExecutionCanceled
            | EventType::WorkflowExecutionTerminated
            | EventType::WorkflowExecutionContinuedAsNew
    )
    .then_some(ty)
}

/// A PostgreSQL stack of the harness's own, configured by `shape`, in a private state folder
/// (never inside the shared one: a run sweeping that folder for stale stacks would take this
/// one for one); returns the stack and the folder, which removes what is in it when dropped.
async fn own_stack(
    shape: impl FnOnce(&mut StackConfig),
) -> Result<(Stack, PrivateStateDir), StackError> {
    let mut config = StackConfig::load()?;
    config.flavor = Flavor::Postgres;
    config.ui = Some(false);
    shape(&mut config);
    let private = PrivateStateDir::new("faults")?;
    config.state_dir = private.path().to_path_buf();
    Ok((Stack::acquire(&config).await?, private))
}

/// Stops a worker off the async threads (stopping joins its thread).
async fn stop(worker: WorkerThread, graceful: bool) {
    let _ = tokio::task::spawn_blocking(move || worker.stop(graceful)).await;
}
