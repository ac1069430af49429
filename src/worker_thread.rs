//! A worker on a thread of its own (the SDK's `Worker::run` is `!Send`), for code that drives
//! a worker from a multi-threaded runtime: the validation suite and the fault harness.
//! Stopping is graceful (in-flight tasks finish) or a crash (the worker is dropped mid-task).

use crate::stack::{connect, TemporalTarget};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;
use temporalio_client::{Client, ClientOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::sync::oneshot;

/// How long connecting the worker may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running worker; stopped gracefully on drop.
pub(crate) struct WorkerThread {
    stop: Mutex<Option<oneshot::Sender<bool>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WorkerThread {
    /// Connects to `target`, creates the worker from `options`, and returns once it runs.
    pub(crate) async fn start(
        target: TemporalTarget,
        namespace: String,
        options: WorkerOptions,
    ) -> Result<WorkerThread, String> {
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("worker-{}", options.task_queue))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(run(target, namespace, options, ready_tx, stop_rx));
            })
            .map_err(|e| format!("cannot start the worker thread: {e}"))?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(WorkerThread {
                stop: Mutex::new(Some(stop_tx)),
                thread: Mutex::new(Some(thread)),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the worker stopped while starting".into()),
        }
    }

    /// Stops the worker: `graceful` lets in-flight tasks finish; otherwise it is dropped as a
    /// crash would drop it. Returns once the thread is gone.
    pub(crate) fn stop(&self, graceful: bool) {
        if let Some(stop) = self.stop.lock().expect("worker lock").take() {
            let _ = stop.send(graceful);
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

async fn run(
    target: TemporalTarget,
    namespace: String,
    options: WorkerOptions,
    ready: oneshot::Sender<Result<(), String>>,
    stop: oneshot::Receiver<bool>,
) {
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
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let shutdown = worker.shutdown_handle();
    let run = worker.run();
    tokio::pin!(run);
    tokio::select! {
        _ = &mut run => {}
        graceful = stop => {
            // A dropped sender (the owner gone) counts as graceful.
            if graceful.unwrap_or(true) {
                shutdown();
                let _ = run.await;
            }
            // A crash: `run` and the worker are dropped here, mid-task, with this runtime.
        }
    }
}
