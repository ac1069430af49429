//! Time skipping for a test: per workflow on the real server the other tests use
//! ([`server`]), or, where that server lacks the feature, on a Java test server of the test's
//! own ([`test_server`]). Either way time moves only while the test awaits a workflow (its
//! result, [`TestRunner::sleep`](super::TestRunner::sleep), a fast-forward), never while the
//! body runs client code, unless held off.

mod server;
mod test_server;

use super::RunnerError;
use crate::config::StackConfig;
use crate::stack::{connect, Endpoints};
use server::ServerTime;
pub use server::DEFAULT_MAX_SKIPS;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use test_server::TestServerTime;

/// Where a time-skipping test's time skips.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[strum(serialize_all = "kebab-case")]
pub enum TimeSkippingMode {
    /// The real server when it supports per-workflow time skipping (Temporal 1.32+ with
    /// `frontend.WorkflowTimeSkippingEnabled`, as the harness's own stacks run it), else a
    /// Java test server; one line on stderr says which and why.
    #[default]
    Auto,
    /// The real server, or fail the test saying why it cannot.
    Server,
    /// A Java test server of the test's own (in memory, one global clock), whatever the
    /// server supports.
    TestServer,
}

/// A test's time skipping, whichever server it runs on.
pub(super) struct TimeSkipping {
    clock: Clock,
    /// Nesting depth of `held` sections: while above zero, waits do not skip.
    held: AtomicUsize,
}

enum Clock {
    Server(ServerTime),
    TestServer(TestServerTime),
}

/// What a time-skipping test runs on, decided before the worker starts.
pub(super) enum Choice {
    /// The shared stack: skip per workflow there.
    Server,
    /// A test server of the test's own, with the reason it was chosen (if not asked for).
    TestServer(Option<String>),
}

impl TimeSkipping {
    /// Decides where a test in `mode` (`Auto` or `Server`) skips time, given the stack it
    /// would otherwise use. The probe is asked once per process and stack.
    pub(super) async fn choose(
        mode: TimeSkippingMode,
        stack: &Endpoints,
    ) -> Result<Choice, RunnerError> {
        if mode == TimeSkippingMode::TestServer {
            return Ok(Choice::TestServer(None));
        }
        match (probe(stack).await?, mode) {
            (true, _) => Ok(Choice::Server),
            (false, TimeSkippingMode::Server) => Err(RunnerError::TimeSkippingUnavailable {
                address: stack.temporal.address.clone(),
            }),
            (false, _) => Ok(Choice::TestServer(Some(format!(
                "the server at {} does not skip time per workflow (it needs Temporal 1.32+ \
                 with frontend.WorkflowTimeSkippingEnabled=true)",
                stack.temporal.address
            )))),
        }
    }

    /// Skipping on the shared stack, through `connection`'s server.
    pub(super) fn on_server(
        connection: temporalio_client::Connection,
        namespace: String,
        max_skips: u32,
    ) -> Self {
        Self::with(Clock::Server(ServerTime::new(
            connection, namespace, max_skips,
        )))
    }

    /// Skipping on a Java test server of the test's own; returns it and where it answers.
    pub(super) async fn on_test_server(
        config: &StackConfig,
    ) -> Result<(Self, Endpoints), RunnerError> {
        let server = TestServerTime::start(config).await?;
        let endpoints = server.endpoints();
        Ok((Self::with(Clock::TestServer(server)), endpoints))
    }

    fn with(clock: Clock) -> Self {
        TimeSkipping {
            clock,
            held: AtomicUsize::new(0),
        }
    }

    /// Awaits `waiting` (which waits on `workflow_id`) with time skipping on, unless held off.
    /// `closes`: `waiting` ends only once the workflow closed (its result), so skipping needs
    /// no switching off after it.
    pub(super) async fn skipping_while<T>(
        &self,
        workflow_id: &str,
        waiting: impl Future<Output = T>,
        closes: bool,
    ) -> Result<T, RunnerError> {
        if self.held.load(Ordering::SeqCst) > 0 {
            return Ok(waiting.await);
        }
        match &self.clock {
            Clock::Server(server) => server.skipping_while(workflow_id, waiting, closes).await,
            Clock::TestServer(test_server) => test_server.skipping_while(waiting).await,
        }
    }

    /// Runs `section` with skipping held off.
    pub(super) async fn held<F: Future>(&self, section: F) -> F::Output {
        self.held.fetch_add(1, Ordering::SeqCst);
        let out = section.await;
        self.held.fetch_sub(1, Ordering::SeqCst);
        out
    }

    /// Whether each workflow has a clock of its own (the real server), not one for all (the
    /// test server).
    pub(super) fn per_workflow(&self) -> bool {
        matches!(self.clock, Clock::Server(_))
    }

    /// Lets `by` pass: on the test server, its one clock; on the real server, the clock of
    /// each of `running` (concurrently).
    pub(super) async fn sleep(&self, by: Duration, running: &[String]) -> Result<(), RunnerError> {
        // No time to pass (the server refuses a zero fast-forward).
        if by.is_zero() {
            return Ok(());
        }
        match &self.clock {
            Clock::TestServer(test_server) => test_server.sleep(by).await,
            Clock::Server(server) => {
                let forwards = running.iter().map(|id| server.fast_forward(id, by));
                futures::future::try_join_all(forwards).await.map(drop)
            }
        }
    }

    /// Moves one workflow's clock `by` ahead and returns once it got there.
    pub(super) async fn fast_forward(
        &self,
        workflow_id: &str,
        by: Duration,
    ) -> Result<(), RunnerError> {
        if by.is_zero() {
            return Ok(());
        }
        match &self.clock {
            Clock::Server(server) => server.fast_forward(workflow_id, by).await,
            Clock::TestServer(test_server) => test_server.sleep(by).await,
        }
    }

    /// A workflow's current time: its virtual clock on the real server, the one clock on the
    /// test server.
    pub(super) async fn now(&self, workflow_id: Option<&str>) -> Result<SystemTime, RunnerError> {
        match (&self.clock, workflow_id) {
            (Clock::TestServer(test_server), _) => test_server.now().await,
            (Clock::Server(server), Some(id)) => server.virtual_time(id).await,
            (Clock::Server(_), None) => Ok(SystemTime::now()),
        }
    }
}

/// Whether the stack at `endpoints` skips time per workflow; asked once per process and stack.
async fn probe(endpoints: &Endpoints) -> Result<bool, RunnerError> {
    static PROBED: Mutex<Option<HashMap<String, bool>>> = Mutex::new(None);
    let key = format!("{}/{}", endpoints.temporal.address, endpoints.namespace);
    if let Some(known) = PROBED
        .lock()
        .expect("probe cache")
        .as_ref()
        .and_then(|m| m.get(&key).copied())
    {
        return Ok(known);
    }
    let connection = connect(&endpoints.temporal, Duration::from_secs(10)).await?;
    let supported = server::supported(&connection, &endpoints.namespace)
        .await
        .map_err(|e| RunnerError::TimeSkipping(Box::new(e)))?;
    PROBED
        .lock()
        .expect("probe cache")
        .get_or_insert_with(HashMap::new)
        .insert(key, supported);
    Ok(supported)
}
