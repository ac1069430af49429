//! The test's worker, on a thread and connection of its own ([`WorkerThread`]), replaced on
//! request: gracefully, or as a crash (in-flight activities and workflow tasks abandoned
//! unreported, as a killed worker process leaves them).

use super::RunnerError;
use crate::stack::TemporalTarget;
use crate::worker_thread::{WorkerError, WorkerThread};
use temporalio_sdk::WorkerOptions;
use tokio::sync::{mpsc, oneshot};

enum Command {
    Restart {
        graceful: bool,
        done: oneshot::Sender<Result<(), WorkerError>>,
    },
    Finish,
}

/// The body's side: ask for restarts, or for the end.
#[derive(Clone)]
pub(super) struct WorkerControl {
    tx: mpsc::UnboundedSender<Command>,
}

impl WorkerControl {
    /// Replaces the worker; resolves once the new one is polling.
    pub(super) async fn restart(&self, graceful: bool) -> Result<(), RunnerError> {
        let (done, acked) = oneshot::channel();
        self.tx
            .send(Command::Restart { graceful, done })
            .map_err(|_| WorkerError::AlreadyStopped)?;
        // A dropped acknowledgement: the driver ended during the restart.
        acked.await.map_err(|_| WorkerError::AlreadyStopped)??;
        Ok(())
    }

    /// Asks for a graceful shutdown once the body is done.
    pub(super) fn finish(&self) {
        let _ = self.tx.send(Command::Finish);
    }
}

/// The runner's side, polled next to the body: owns the current worker.
pub(super) struct WorkerDriver {
    target: TemporalTarget,
    namespace: String,
    /// `None`: the test registered nothing, so there is no worker to run.
    options: Option<WorkerOptions>,
    rx: mpsc::UnboundedReceiver<Command>,
}

impl WorkerDriver {
    pub(super) fn new(
        target: TemporalTarget,
        namespace: String,
        options: Option<WorkerOptions>,
    ) -> (WorkerControl, WorkerDriver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let driver = WorkerDriver {
            target,
            namespace,
            options,
            rx,
        };
        (WorkerControl { tx }, driver)
    }

    async fn start(&self, options: &WorkerOptions) -> Result<WorkerThread, WorkerError> {
        WorkerThread::start(self.target.clone(), self.namespace.clone(), options.clone()).await
    }

    /// Runs workers until told to finish; `Err` if a worker failed on its own.
    pub(super) async fn run(mut self) -> Result<(), WorkerError> {
        let Some(options) = self.options.take() else {
            return self.idle().await;
        };
        let mut worker = self.start(&options).await?;
        loop {
            let command = tokio::select! {
                why = worker.ended_on_its_own() => return Err(why),
                command = self.rx.recv() => command.unwrap_or(Command::Finish),
            };
            match command {
                Command::Finish => {
                    stop(worker, true).await;
                    return Ok(());
                }
                Command::Restart { graceful, done } => {
                    stop(worker, graceful).await;
                    match self.start(&options).await {
                        Ok(next) => {
                            worker = next;
                            let _ = done.send(Ok(()));
                        }
                        Err(e) => {
                            let _ = done.send(Err(e.clone()));
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    /// Without a worker: answers restarts with an error until told to finish.
    async fn idle(mut self) -> Result<(), WorkerError> {
        while let Some(command) = self.rx.recv().await {
            match command {
                Command::Finish => break,
                Command::Restart { done, .. } => {
                    let _ = done.send(Err(WorkerError::NoWorker));
                }
            }
        }
        Ok(())
    }
}

/// Stops `worker` off the async thread (a graceful stop waits for in-flight tasks).
pub(super) async fn stop(worker: WorkerThread, graceful: bool) {
    let _ = tokio::task::spawn_blocking(move || worker.stop(graceful)).await;
}
