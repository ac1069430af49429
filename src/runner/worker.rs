//! Drives the test's worker next to the test body, on the body's thread (`Worker::run` is
//! `!Send`), and restarts it on request: gracefully, or as a crash.

use super::RunnerError;
use temporalio_client::Client;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::sync::{mpsc, oneshot};

enum Command {
    Restart {
        graceful: bool,
        done: oneshot::Sender<Result<(), String>>,
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
            .map_err(|_| RunnerError::Worker("the worker has already stopped".into()))?;
        acked
            .await
            .map_err(|_| RunnerError::Worker("the worker stopped during the restart".into()))?
            .map_err(RunnerError::Worker)
    }

    /// Asks for a graceful shutdown once the body is done.
    pub(super) fn finish(&self) {
        let _ = self.tx.send(Command::Finish);
    }
}

/// The worker's side, polled with the body in one `join!`.
pub(super) struct WorkerDriver {
    runtime: Runtime,
    client: Client,
    /// `None`: the test registered nothing, so there is no worker to run.
    options: Option<WorkerOptions>,
    rx: mpsc::UnboundedReceiver<Command>,
}

impl WorkerDriver {
    pub(super) fn new(
        client: Client,
        options: Option<WorkerOptions>,
    ) -> Result<(WorkerControl, WorkerDriver), RunnerError> {
        let runtime = Runtime::from_current_tokio(Default::default())
            .map_err(|e| RunnerError::Worker(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let driver = WorkerDriver {
            runtime,
            client,
            options,
            rx,
        };
        Ok((WorkerControl { tx }, driver))
    }

    fn new_worker(&self, options: &WorkerOptions) -> Result<Worker, String> {
        Worker::new(&self.runtime, self.client.clone(), options.clone())
            .map_err(|e| format!("cannot create the worker: {e}"))
    }

    /// Runs workers until told to finish; `Err` if a worker failed on its own.
    pub(super) async fn run(mut self) -> Result<(), String> {
        let Some(options) = self.options.take() else {
            return self.idle().await;
        };
        let mut worker = self.new_worker(&options)?;
        loop {
            let stop = worker.shutdown_handle();
            let command = {
                let run = worker.run();
                tokio::pin!(run);
                tokio::select! {
                    ended = &mut run => {
                        return ended.map_err(|e| format!("the worker stopped on its own: {e}"));
                    }
                    command = self.rx.recv() => {
                        stop();
                        match command {
                            // A crash: in-flight tasks are abandoned, not finished.
                            Some(Command::Restart { graceful: false, done }) => {
                                Command::Restart { graceful: false, done }
                            }
                            other => {
                                run.await.map_err(|e| format!("worker shutdown failed: {e}"))?;
                                other.unwrap_or(Command::Finish)
                            }
                        }
                    }
                }
            };
            match command {
                Command::Finish => return Ok(()),
                Command::Restart { done, .. } => {
                    drop(worker);
                    match self.new_worker(&options) {
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
    async fn idle(mut self) -> Result<(), String> {
        while let Some(command) = self.rx.recv().await {
            match command {
                Command::Finish => break,
                Command::Restart { done, .. } => {
                    let _ = done.send(Err("this test registers no workflows or activities".into()));
                }
            }
        }
        Ok(())
    }
}
