//! A worker on a thread and tokio runtime of its own (the SDK's `Worker::run` is `!Send`), with
//! its own connection: the test runner, the validation suite and the fault harness all drive
//! their workers through it.
//!
//! Stopping is graceful (in-flight tasks finish and report) or a crash: the worker's runtime is
//! shut down in the background, which drops every task on it at its next await point, the
//! activities and the gRPC calls that would report them included. Nothing is reported to the
//! server, exactly as when a worker process is killed: the server retries the abandoned
//! activities and workflow tasks once their timeouts expire.

use crate::error::BoxError;
use crate::stack::{connect, StackError, TemporalTarget};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use temporalio_client::{Client, ClientOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::sync::{oneshot, watch};

/// How long connecting the worker may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A worker that could not start, or stopped without being asked to. Cloneable (causes are
/// shared), because one failure reaches both the test and the worker's driver.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The worker's connection failed.
    #[error("the worker cannot connect: {0}")]
    Connect(#[source] Arc<StackError>),
    /// The SDK refused to create the worker (or its client or runtime).
    #[error("cannot create the worker: {0}")]
    Create(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The operating system refused a thread.
    #[error("cannot start the worker thread: {0}")]
    Thread(#[source] Arc<std::io::Error>),
    /// The worker's loop returned without being asked to (with the SDK's error, if any).
    #[error("the worker stopped on its own{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    StoppedOnItsOwn(#[source] Option<Arc<temporalio_sdk::WorkerRunError>>),
    /// The worker was asked for something after it had stopped.
    #[error("the worker has already stopped")]
    AlreadyStopped,
    /// A restart was asked of a test that registers nothing, so has no worker.
    #[error("this test registers no workflows or activities, so it has no worker to restart")]
    NoWorker,
}

/// How a worker is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// In-flight tasks finish first.
    Graceful,
    /// In-flight tasks are abandoned unreported.
    Crash,
}

/// A running worker; stopped gracefully on drop.
pub(crate) struct WorkerThread {
    stop: Mutex<Option<oneshot::Sender<Stop>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Becomes `Some(why)` if the worker stops without being asked to.
    ended: watch::Receiver<Option<WorkerError>>,
}

impl WorkerThread {
    /// Connects to `target`, creates the worker from `options`, and returns once it runs.
    /// The worker's `tracing` events go to the caller's current subscriber (so a test's
    /// captured logs include its workflows' and activities' events).
    pub(crate) async fn start(
        target: TemporalTarget,
        namespace: String,
        options: WorkerOptions,
    ) -> Result<WorkerThread, WorkerError> {
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (ended_tx, ended_rx) = watch::channel(None);
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let thread = std::thread::Builder::new()
            .name(format!("worker-{}", options.task_queue))
            .spawn(move || {
                let _logs = tracing::dispatcher::set_default(&dispatch);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                let how = runtime.block_on(run(target, namespace, options, ready_tx, stop_rx));
                match how {
                    Ended::Asked(Stop::Crash) => runtime.shutdown_background(),
                    Ended::Asked(Stop::Graceful) => drop(runtime),
                    Ended::OnItsOwn(why) => {
                        drop(runtime);
                        let _ = ended_tx.send(Some(why));
                    }
                }
            })
            .map_err(|e| WorkerError::Thread(Arc::new(e)))?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(WorkerThread {
                stop: Mutex::new(Some(stop_tx)),
                thread: Mutex::new(Some(thread)),
                ended: ended_rx,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(WorkerError::StoppedOnItsOwn(None)),
        }
    }

    /// Resolves with why once the worker stops without being asked to (an error of its own);
    /// never resolves for a worker that is stopped through [`WorkerThread::stop`].
    /// Cancellation-safe: it can be raced in a `select!` loop.
    pub(crate) async fn ended_on_its_own(&self) -> WorkerError {
        let mut ended = self.ended.clone();
        let why = match ended.wait_for(Option::is_some).await {
            Ok(why) => why.clone(),
            // The thread is gone without a reason: it was asked to stop.
            Err(_) => return std::future::pending().await,
        };
        why.unwrap_or(WorkerError::StoppedOnItsOwn(None))
    }

    /// Stops the worker: `graceful` lets in-flight tasks finish; otherwise they are abandoned
    /// as a killed process abandons them. Blocks until the thread is gone (a crash returns at
    /// once; a graceful stop waits for in-flight tasks).
    pub(crate) fn stop(&self, graceful: bool) {
        let how = if graceful {
            Stop::Graceful
        } else {
            Stop::Crash
        };
        if let Some(stop) = self.stop.lock().expect("worker lock").take() {
            let _ = stop.send(how);
        }
        if let Some(thread) = self.thread.lock().expect("worker lock").take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WorkerThread {
    fn drop(&mut self) {
        self.stop(true);
    }
}

/// Why the worker's loop returned.
enum Ended {
    Asked(Stop),
    OnItsOwn(WorkerError),
}

async fn run(
    target: TemporalTarget,
    namespace: String,
    options: WorkerOptions,
    ready: oneshot::Sender<Result<(), WorkerError>>,
    stop: oneshot::Receiver<Stop>,
) -> Ended {
    let made = async {
        let create = |e: BoxError| WorkerError::Create(Arc::from(e));
        let connection = connect(&target, CONNECT_TIMEOUT)
            .await
            .map_err(|e| WorkerError::Connect(Arc::new(e)))?;
        let client = Client::new(connection, ClientOptions::new(namespace).build())
            .map_err(|e| create(e.into()))?;
        let runtime =
            Runtime::from_current_tokio(Default::default()).map_err(|e| create(e.into()))?;
        let worker = Worker::new(&runtime, client, options).map_err(|e| create(e.into()))?;
        Ok::<_, WorkerError>((runtime, worker))
    };
    let (_runtime, mut worker) = match made.await {
        Ok(parts) => parts,
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Ended::OnItsOwn(e);
        }
    };
    let _ = ready.send(Ok(()));
    let shutdown = worker.shutdown_handle();
    let run = worker.run();
    tokio::pin!(run);
    tokio::select! {
        ended = &mut run => Ended::OnItsOwn(WorkerError::StoppedOnItsOwn(ended.err().map(Arc::new))),
        how = stop => {
            // A dropped sender (the owner gone) counts as graceful.
            let how = how.unwrap_or(Stop::Graceful);
            if how == Stop::Graceful {
                shutdown();
                let _ = run.await;
            }
            // A crash: the caller shuts this runtime down without waiting, dropping every
            // task on it mid-flight.
            Ended::Asked(how)
        }
    }
}
