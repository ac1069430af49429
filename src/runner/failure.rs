//! What a failed test shows: the cause, the tracing output it captured, and the histories of
//! its workflows (written to files whose paths are printed).

use super::{untyped, RunnerError, TestRunner, WorkerError};
use std::any::Any;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use temporalio_client::WorkflowExecutionStatus;
use tracing_subscriber::EnvFilter;

/// Why a test failed.
pub(super) struct Failure {
    message: String,
    /// A panic of the body is re-raised as is, so `#[should_panic]` and messages still work.
    panic: Option<Box<dyn Any + Send>>,
    histories: Vec<(String, PathBuf, String)>,
}

impl Failure {
    fn new(message: String) -> Self {
        Failure {
            message,
            panic: None,
            histories: Vec::new(),
        }
    }

    pub(super) fn setup(e: RunnerError) -> Self {
        Self::new(format!("temporal test setup failed: {e}"))
    }

    pub(super) fn panic(payload: Box<dyn Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the test panicked".into());
        Failure {
            panic: Some(payload),
            ..Self::new(message)
        }
    }

    pub(super) async fn timeout(limit: Duration, runner: &TestRunner) -> Self {
        let mut open = Vec::new();
        for id in runner.started_workflows() {
            let running = untyped(runner, &id)
                .describe(Default::default())
                .await
                .map(|d| d.status() == WorkflowExecutionStatus::Running)
                .unwrap_or(true);
            if running {
                open.push(id);
            }
        }
        let open = if open.is_empty() {
            "none".to_string()
        } else {
            open.join(", ")
        };
        Self::new(format!(
            "test timed out after {limit:?}; workflows still open: {open}"
        ))
    }

    pub(super) fn returned(message: String) -> Self {
        Self::new(format!("test returned an error: {message}"))
    }

    pub(super) fn worker(e: WorkerError) -> Self {
        Self::new(format!("worker failed: {e}"))
    }

    /// A step after the body (replay, recording) failed.
    pub(super) fn at_end(e: RunnerError) -> Self {
        Self::new(e.to_string())
    }

    /// Writes the histories of the test's workflows to files.
    pub(super) async fn with_histories(mut self, runner: &TestRunner) -> Self {
        let ids = runner.started_workflows();
        if ids.is_empty() {
            return self;
        }
        let dir = std::env::temp_dir()
            .join("temporal-harness-histories")
            .join(runner.workflow_id("failed"));
        if std::fs::create_dir_all(&dir).is_err() {
            return self;
        }
        for id in ids {
            if let Ok(history) = runner.history(&id).await {
                let path = dir.join(format!("{id}.json"));
                if std::fs::write(&path, history.to_json()).is_ok() {
                    self.histories.push((id, path, history.render()));
                }
            }
        }
        self
    }

    /// Prints what the test captured and fails it (re-raising a panic of the body).
    pub(super) fn report(self, test: &str, capture: &TracingCapture) -> ! {
        let logs = capture.take();
        if !logs.is_empty() {
            eprintln!("---- tracing output of {test} ----\n{logs}");
        }
        for (id, path, rendered) in &self.histories {
            eprintln!(
                "---- history of workflow {id} (JSON: {}) ----\n{rendered}",
                path.display()
            );
        }
        match self.panic {
            Some(payload) => std::panic::resume_unwind(payload),
            None => panic!("{}", self.message),
        }
    }
}

/// Captures the test's `tracing` output, shown if it fails: the test's thread, and the worker's
/// thread (which inherits this subscriber), so workflow and activity events are in it too.
pub(super) struct TracingCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl TracingCapture {
    /// Routes this thread's `tracing` events (filtered by `RUST_LOG`, default `info`) into a
    /// buffer until dropped.
    pub(super) fn install() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = CaptureWriter(buffer.clone());
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        TracingCapture {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.buffer.lock().unwrap_or_else(|p| p.into_inner()));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A reader of what has been captured so far, for the test body.
    pub(super) fn logs(&self) -> CapturedLogs {
        CapturedLogs(self.buffer.clone())
    }
}

/// The test's captured `tracing` output (its own, its workflows' and its activities').
#[derive(Clone)]
pub(super) struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub(super) fn snapshot(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}
