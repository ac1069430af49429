//! One validation run's shared state: the connections, the validation worker, and the
//! workflow runs several checks read. Each is made once, on first use, so a check that needs
//! nothing of it costs nothing, and a listing boots nothing.

use super::activities::ValidationActivities;
use super::admin::{AdminClient, DescribeClusterResponse};
use super::canary::{CanaryRun, CanaryWorkflow};
use super::target::Target;
use super::workflow::{ProbeWorkflow, StageResult, ValidationInput, ValidationWorkflow};
use super::Verdict;
use crate::runner::Definitions;
use crate::stack::{connect, connect_postgres};
use crate::worker_thread::WorkerThread;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::tonic::{self, Request};
use temporalio_client::{
    Client, ClientOptions, Connection, WorkflowGetResultOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    GetSystemInfoRequest, GetSystemInfoResponse,
};
use tokio::sync::OnceCell;

/// How long connecting may take before a check fails (a stopped server fails at once; a
/// black-holed address takes this long).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a workflow a check runs may take.
pub(super) const WORKFLOW_TIMEOUT: Duration = Duration::from_secs(30);

/// Which of Temporal's databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// `temporal`.
    Temporal,
    /// `temporal_visibility`.
    Visibility,
}

/// A workflow run the integration and visibility checks inspect; also each workflow a run
/// started, for the report's links.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeRun {
    /// Its workflow ID.
    pub workflow_id: String,
    /// Its run ID.
    pub run_id: String,
}

/// Shared state of one validation run; see the module docs. What could not be had is kept as
/// the verdict every check that needs it reports.
pub struct Session {
    target: Target,
    task_queue: String,
    connection: OnceCell<Result<Connection, Verdict>>,
    system_info: OnceCell<Result<GetSystemInfoResponse, Verdict>>,
    cluster: OnceCell<Result<(AdminClient, DescribeClusterResponse), Verdict>>,
    pools: [OnceCell<Result<PgPool, Verdict>>; 2],
    worker: OnceCell<Result<WorkerThread, Verdict>>,
    probe: OnceCell<Result<ProbeRun, Verdict>>,
    stages: OnceCell<Result<Vec<StageResult>, Verdict>>,
    canary: OnceCell<Result<CanaryRun, Verdict>>,
    metrics: OnceCell<Result<Vec<prometheus_parse::Sample>, Verdict>>,
    /// The server's metrics as the run began, when taken: counters then give rates over the
    /// run instead of over the server's lifetime.
    metrics_baseline: OnceCell<Vec<prometheus_parse::Sample>>,
    /// Every workflow this run started, in order.
    started: std::sync::Mutex<Vec<ProbeRun>>,
}

impl Session {
    /// A session for `target`; nothing is connected yet.
    pub fn new(target: Target) -> Arc<Session> {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        Arc::new(Session {
            target,
            task_queue: format!("temporal-harness-validation-{suffix}"),
            connection: OnceCell::new(),
            system_info: OnceCell::new(),
            cluster: OnceCell::new(),
            pools: [OnceCell::new(), OnceCell::new()],
            worker: OnceCell::new(),
            probe: OnceCell::new(),
            stages: OnceCell::new(),
            canary: OnceCell::new(),
            metrics: OnceCell::new(),
            metrics_baseline: OnceCell::new(),
            started: Default::default(),
        })
    }

    /// What is validated.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The task queue of this run's validation worker.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// The connection to the frontend; every Temporal check fails with the same cause when
    /// it cannot be had.
    pub async fn connection(&self) -> Result<&Connection, Verdict> {
        self.connection
            .get_or_init(|| async {
                connect(&self.target.temporal, CONNECT_TIMEOUT)
                    .await
                    .map_err(failed)
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The server's `GetSystemInfo` answer (version, capabilities), asked once.
    pub async fn system_info(&self) -> Result<&GetSystemInfoResponse, Verdict> {
        let connection = self.connection().await?;
        self.system_info
            .get_or_init(|| async {
                connection
                    .workflow_service()
                    .get_system_info(Request::new(GetSystemInfoRequest {}))
                    .await
                    .map(|r| r.into_inner())
                    .map_err(|s| failed(format!("GetSystemInfo failed: {}", s.message())))
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The AdminService and its `DescribeCluster` answer, asked once. A deployment that keeps
    /// the AdminService from this caller makes the checks that need it skip, saying so.
    pub async fn cluster(&self) -> Result<(&AdminClient, &DescribeClusterResponse), Verdict> {
        self.connection().await?;
        self.cluster
            .get_or_init(|| async {
                let admin =
                    AdminClient::new(&self.target.temporal, CONNECT_TIMEOUT).map_err(failed)?;
                let described = admin.describe_cluster().await.map_err(admin_refused)?;
                Ok((admin, described))
            })
            .await
            .as_ref()
            .map(|(a, d)| (a, d))
            .map_err(Clone::clone)
    }

    /// A client bound to the target's namespace.
    pub async fn client(&self) -> Result<Client, Verdict> {
        let connection = self.connection().await?.clone();
        Client::new(
            connection,
            ClientOptions::new(self.target.namespace.clone()).build(),
        )
        .map_err(|e| Verdict::Failed(format!("cannot create a client: {e}")))
    }

    /// A pool on one of Temporal's databases; skipped when the target has no PostgreSQL.
    pub async fn pool(&self, db: Db) -> Result<&PgPool, Verdict> {
        let databases = self
            .target
            .databases
            .as_ref()
            .map_err(|why| Verdict::Skipped(why.to_string()))?;
        let (cell, url) = match db {
            Db::Temporal => (&self.pools[0], &databases.temporal),
            Db::Visibility => (&self.pools[1], &databases.visibility),
        };
        cell.get_or_init(|| async {
            // One plain connection first: its errors name the cause (wrong password,
            // unreachable host) without the password.
            let conn = connect_postgres(url, CONNECT_TIMEOUT)
                .await
                .map_err(failed)?;
            drop(conn);
            Ok(sqlx::postgres::PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_lazy_with(url.connect_options()))
        })
        .await
        .as_ref()
        .map_err(Clone::clone)
    }

    /// Starts this run's validation worker (once) and returns when it polls.
    pub async fn worker(&self) -> Result<(), Verdict> {
        self.connection().await?;
        self.worker
            .get_or_init(|| async {
                let activities = ValidationActivities::new(
                    self.target.temporal.clone(),
                    self.target.databases.clone(),
                );
                let options = Definitions::new()
                    .workflow::<ValidationWorkflow>()
                    .workflow::<ProbeWorkflow>()
                    .workflow::<CanaryWorkflow>()
                    .activities(activities)
                    .worker_options(&self.task_queue)
                    .map_err(failed)?
                    .expect("workflows are registered");
                WorkerThread::start(
                    self.target.temporal.clone(),
                    self.target.namespace.clone(),
                    options,
                )
                .await
                .map_err(failed)
            })
            .await
            .as_ref()
            .map(drop)
            .map_err(Clone::clone)
    }

    /// A small workflow (one activity), run once to completion for the checks that inspect a
    /// finished workflow.
    pub async fn probe(&self) -> Result<&ProbeRun, Verdict> {
        self.worker().await?;
        let run = self.probe.get_or_init(|| async {
            let client = self.client().await?;
            let workflow_id = format!("{}-probe", self.task_queue);
            let options = WorkflowStartOptions::new(self.task_queue.as_str(), &workflow_id).build();
            let handle = client
                .start_workflow(ProbeWorkflow::run, "probe".to_string(), options)
                .await
                .map_err(|e| Verdict::Failed(format!("cannot start the probe workflow: {e}")))?;
            let run_id = handle.info().run_id.clone().unwrap_or_default();
            self.note_started(&workflow_id, &run_id);
            within(
                WORKFLOW_TIMEOUT,
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await?
            .map_err(|e| Verdict::Failed(format!("the probe workflow failed: {e}")))?;
            Ok(ProbeRun {
                workflow_id,
                run_id,
            })
        });
        run.await.as_ref().map_err(Clone::clone)
    }

    /// The validation workflow, run once; each stage check reads its stage's result.
    pub async fn stages(&self) -> Result<&[StageResult], Verdict> {
        self.worker().await?;
        let run = self.stages.get_or_init(|| async {
            let client = self.client().await?;
            let workflow_id = format!("{}-stages", self.task_queue);
            let options = WorkflowStartOptions::new(self.task_queue.as_str(), &workflow_id).build();
            let input = ValidationInput {
                retry_initial_interval_ms: self.target.retry_initial_interval_ms,
            };
            let handle = client
                .start_workflow(ValidationWorkflow::run, input, options)
                .await
                .map_err(|e| {
                    Verdict::Failed(format!("cannot start the validation workflow: {e}"))
                })?;
            self.note_started(&workflow_id, handle.info().run_id.as_deref().unwrap_or(""));
            within(
                WORKFLOW_TIMEOUT,
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await?
            .map_err(|e| Verdict::Failed(format!("the validation workflow failed: {e}")))
        });
        run.await.as_ref().map(Vec::as_slice).map_err(Clone::clone)
    }

    /// The canary workflow, run once; the canary checks read what it measured.
    pub async fn canary(&self) -> Result<&CanaryRun, Verdict> {
        self.worker().await?;
        self.canary
            .get_or_init(|| super::canary::run(self))
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The server's metrics, scraped by `fetch` on first use.
    pub(crate) async fn metrics(
        &self,
        fetch: impl std::future::Future<Output = Result<Vec<prometheus_parse::Sample>, Verdict>>,
    ) -> Result<&[prometheus_parse::Sample], Verdict> {
        self.metrics
            .get_or_init(|| fetch)
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// Keeps `samples` as the run's starting point (once).
    pub(crate) fn set_metrics_baseline(&self, samples: Vec<prometheus_parse::Sample>) {
        let _ = self.metrics_baseline.set(samples);
    }

    /// The server's metrics as the run began, when taken.
    pub(crate) fn metrics_baseline(&self) -> Option<&[prometheus_parse::Sample]> {
        self.metrics_baseline.get().map(Vec::as_slice)
    }

    pub(super) fn note_started(&self, workflow_id: &str, run_id: &str) {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ProbeRun {
                workflow_id: workflow_id.into(),
                run_id: run_id.into(),
            });
    }

    /// The workflows this run started (the probe, the validation workflow), in order.
    pub fn started_workflows(&self) -> Vec<ProbeRun> {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops the validation worker, if one runs (also done on drop).
    pub fn close(&self) {
        if let Some(Ok(worker)) = self.worker.get() {
            worker.stop(true);
        }
    }
}

pub(super) async fn within<F: std::future::Future>(
    timeout: Duration,
    f: F,
) -> Result<F::Output, Verdict> {
    tokio::time::timeout(timeout, f)
        .await
        .map_err(|_| Verdict::Failed(format!("no result within {timeout:?}")))
}

/// Why an AdminService call did not answer: refused access skips (the check needs more
/// than the caller may do), anything else fails.
pub(crate) fn admin_refused(status: tonic::Status) -> Verdict {
    match status.code() {
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => Verdict::Skipped(format!(
            "the AdminService refused this caller ({}): this check needs a role that may call \
             temporal.server.api.adminservice (the `admin` role of the default authorizer, or \
             a claim mapper granting it); run it with such credentials",
            status.message()
        )),
        tonic::Code::Unimplemented => Verdict::Skipped(
            "the frontend does not serve the AdminService (not a Temporal server, or a proxy \
             in front of it passes only the WorkflowService)"
                .into(),
        ),
        _ => Verdict::Failed(format!(
            "AdminService call failed: {} ({:?})",
            status.message(),
            status.code()
        )),
    }
}

/// A failed check, worded by the error (each of the harness's errors names cause and fix).
fn failed(e: impl std::fmt::Display) -> Verdict {
    Verdict::Failed(e.to_string())
}
