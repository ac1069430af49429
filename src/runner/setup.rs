//! Setting a test up: where it runs (the shared stack, or a Java test server of its own for a
//! time-skipping test whose server cannot skip per workflow), its namespace, client and worker.

use super::failure::CapturedLogs;
use super::mocks::{mock_workflows, MockInterceptor, Mocks};
use super::options::with_patches;
use super::time::{self, TimeSkippingMode};
use super::worker::WorkerDriver;
use super::{Definitions, Inner, RunnerError, TestOptions, TestRunner};
use crate::config::StackConfig;
use crate::stack::{connect, Endpoints, Stack, StackError, TemporalError};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use temporalio_client::{Client, ClientOptions};

/// Where a test runs.
enum Place {
    /// The run's shared stack (also for time skipping, when its server skips per workflow).
    Shared(Stack),
    /// A Java test server of the test's own: a time-skipping test on a server without
    /// per-workflow time skipping, or one that asked for it.
    TestServer(time::TimeSkipping, Endpoints),
}

async fn place(options: &TestOptions, config: &StackConfig) -> Result<Place, RunnerError> {
    let why = match options.time_skipping {
        Some(TimeSkippingMode::TestServer) => None,
        mode => {
            let stack = Stack::acquire(config).await?;
            let Some(mode) = mode else {
                return Ok(Place::Shared(stack));
            };
            match time::TimeSkipping::choose(mode, stack.endpoints()).await? {
                time::Choice::Server => {
                    eprintln!(
                        "temporal-harness: {}: time skips per workflow on the server at {}",
                        options.name,
                        stack.endpoints().temporal.address
                    );
                    return Ok(Place::Shared(stack));
                }
                // The shared stack is not used: the test's claim on it is given up (dropped).
                time::Choice::TestServer(why) => why,
            }
        }
    };
    if options.isolated_namespace {
        return Err(RunnerError::Registration(
            "this time-skipping test runs on a Java test server of its own, which needs no \
             isolated namespace. Fix: drop `namespace = \"isolated\"`, or run on a server that \
             skips time per workflow"
                .into(),
        ));
    }
    let (time, endpoints) = time::TimeSkipping::on_test_server(config).await?;
    eprintln!(
        "temporal-harness: {}: time skips on a Java test server of its own{}",
        options.name,
        why.map(|why| format!(": {why}")).unwrap_or_default()
    );
    Ok(Place::TestServer(time, endpoints))
}

pub(super) async fn setup(
    options: &TestOptions,
    definitions: &Definitions,
    logs: CapturedLogs,
) -> Result<(TestRunner, WorkerDriver), RunnerError> {
    let mut config = StackConfig::load()?;
    if let Some(b) = options.backend {
        config.backend = b;
    }
    if let Some(f) = options.flavor {
        config.flavor = f;
    }
    let (stack, time, endpoints) = match place(options, &config).await? {
        Place::Shared(stack) => {
            let endpoints = stack.endpoints().clone();
            (Some(stack), None, endpoints)
        }
        Place::TestServer(time, endpoints) => (None, Some(time), endpoints),
    };
    // In a run on a shared deployment, the run's ID comes first: what ends the run (or
    // sweeps it) finds the run's workflows and task queues by it.
    let prefix = match &endpoints.run {
        Some(run) => format!("{}-{}", run.id, options.id_prefix()),
        None => options.id_prefix(),
    };
    let namespace = if options.isolated_namespace {
        let ns = format!("th-{prefix}");
        crate::stack::prepare_namespace(
            &endpoints.temporal,
            &ns,
            endpoints.run.as_ref(),
            config.startup_timeout,
        )
        .await?;
        ns
    } else {
        endpoints.namespace.clone()
    };
    let connection = connect(&endpoints.temporal, Duration::from_secs(10)).await?;
    let mocks = Arc::new(Mocks::new(connection.clone(), namespace.clone()));
    let time = match time {
        None if options.time_skipping.is_some() => Some(time::TimeSkipping::on_server(
            connection.clone(),
            namespace.clone(),
            options.max_skips,
        )),
        time => time,
    };
    let client =
        Client::new(connection, ClientOptions::new(namespace.clone()).build()).map_err(|e| {
            StackError::Temporal(TemporalError::Unreachable {
                address: endpoints.temporal.address.clone(),
                source: e.into(),
            })
        })?;
    let task_queue = format!("tq-{prefix}");
    let pressure = options.replay_pressure_on(&crate::config::ProcessEnv)?;
    if pressure {
        eprintln!(
            "temporal-harness: {}: replay pressure: no workflow cache and no sticky queue, so \
             every workflow task replays from the start",
            options.name
        );
    }
    // A test that registers nothing needs no worker (the SDK refuses an empty one).
    let worker_options = definitions
        .worker_options(&task_queue)?
        .map(|o| with_patches(o, options.patches))
        .transpose()?
        .map(|mut o| {
            o.activity_inbound_interceptor(MockInterceptor(mocks.clone()))
                .workflow_interceptor(mock_workflows(mocks.clone()));
            harness_worker_options(o, pressure)
        });
    let (control, driver) = WorkerDriver::new(
        endpoints.temporal.clone(),
        namespace.clone(),
        worker_options,
    );
    let runner = TestRunner {
        inner: Arc::new(Inner {
            client,
            endpoints,
            namespace,
            task_queue,
            prefix,
            started: Mutex::new(Vec::new()),
            next_id: AtomicUsize::new(0),
            worker: control,
            timeout: options.timeout,
            logs,
            pool: tokio::sync::OnceCell::new(),
            time,
            mocks,
            callbacks: Default::default(),
            versions: Default::default(),
            _stack: stack,
        }),
    };
    Ok((runner, driver))
}

/// What every worker the harness runs for a test does differently from the SDK's defaults. A
/// nondeterministic workflow task fails the workflow, naming the divergence, instead of being
/// retried until the test times out (production's default, which lets a fixed deploy
/// recover). Under replay `pressure`, no workflow cache (and so no sticky queue: the SDK's
/// rule), so every workflow task replays from the start.
pub(super) fn harness_worker_options(
    mut options: temporalio_sdk::WorkerOptions,
    pressure: bool,
) -> temporalio_sdk::WorkerOptions {
    options
        .workflow_failure_errors
        .insert(temporalio_sdk::runtime::WorkflowErrorType::Nondeterminism);
    if pressure {
        options.max_cached_workflows = 0;
    }
    options
}
