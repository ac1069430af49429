//! A worker on a thread and tokio runtime of its own (the SDK's `Worker::run` is `!Send`), with
//! its own connection: the test runner, the validation suite and the fault harness all drive
//! their workers through it.
//!
//! Stopping is graceful (in-flight tasks finish and report) or a crash: the worker's runtime is
//! shut down in the background, which drops every task on it at its next await point, the
//! activities and the gRPC calls that would report them included. Nothing is reported to the
//! server, exactly as when a worker process is killed: the server retries the abandoned
//! activities and workflow tasks once their timeouts expire.

use crate::stack::{connect, TemporalTarget};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;
use temporalio_client::{Client, ClientOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::sync::{oneshot, watch};

/// How long connecting the worker may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Becomes `Some(reason)` if the worker stops without being asked to.
    ended: watch::Receiver<Option<String>>,
}

impl WorkerThread {
    /// Connects to `target`, creates the worker from `options`, and returns once it runs.
    /// The worker's `tracing` events go to the caller's current subscriber (so a test's
    /// captured logs include its workflows' and activities' events).
    pub(crate) async fn start(
        target: TemporalTarget,
        namespace: String,
        options: WorkerOptions,
    ) -> Result<WorkerThread, String> {
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
                    Ended::OnItsOwn(reason) => {
                        drop(runtime);
                        let _ = ended_tx.send(Some(reason));
                    }
                }
            })
            .map_err(|e| format!("cannot start the worker thread: {e}"))?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(WorkerThread {
                stop: Mutex::new(Some(stop_tx)),
                thread: Mutex::new(Some(thread)),
                ended: ended_rx,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the worker stopped while starting".into()),
        }
    }

    /// Resolves with the reason once the worker stops without being asked to (an error of its
    /// own); never resolves for a worker that is stopped through [`WorkerThread::stop`].
    /// Cancellation-safe: it can be raced in a `select!` loop.
    pub(crate) async fn ended_on_its_own(&self) -> String {
        let mut ended = self.ended.clone();
        let reason = match ended.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The thread is gone without a reason: it was asked to stop.
            Err(_) => return std::future::pending().await,
        };
        reason
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
    OnItsOwn(String),
}

async fn run(
    target: TemporalTarget,
    namespace: String,
    options: WorkerOptions,
    ready: oneshot::Sender<Result<(), String>>,
    stop: oneshot::Receiver<Stop>,
) -> Ended {
    let made = async {
        let connection = connect(&target, CONNECT_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let client = Client::new(connection, ClientOptions::new(namespace).build())
            .map_err(|e| e.to_string())?;
        let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| e.to_string())?;
        let worker = Worker::new(&runtime, client, options)
            .map_err(|e| format!("cannot create the worker: {e}"))?;
        Ok::<_, String>((runtime, worker))
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
        ended = &mut run => Ended::OnItsOwn(match ended {
            Ok(()) => "the worker stopped on its own".into(),
            Err(e) => format!("the worker stopped on its own: {e}"),
        }),
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
