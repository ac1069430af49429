//! What a failed test shows: the cause, the tracing output it captured, and the histories of
//! its workflows (written to files whose paths are printed).

use super::{untyped, RunnerError, TestRunner, WorkerError};
use crate::config::BackendKind;
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
    histories: Vec<WrittenHistory>,
    /// Where to look at the workflows in the Web UI, or how to get a UI to look in.
    ui_note: Option<String>,
}

/// One workflow's history as a failing test shows it.
struct WrittenHistory {
    workflow_id: String,
    /// The file in Temporal's JSON format.
    path: PathBuf,
    /// One line per event.
    rendered: String,
    /// The run's page in the Web UI, when the stack has one.
    link: Option<String>,
}

impl Failure {
    fn new(message: String) -> Self {
        Failure {
            message,
            panic: None,
            histories: Vec::new(),
            ui_note: None,
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

    /// Writes the histories of the test's workflows to files, with each run's Web UI link.
    pub(super) async fn with_histories(mut self, runner: &TestRunner) -> Self {
        let ids = runner.started_workflows();
        if ids.is_empty() {
            return self;
        }
        let dir = match histories_dir(&runner.workflow_id("failed")) {
            Ok(dir) => dir,
            Err(e) => {
                eprintln!("temporal-harness: histories not written: {e}");
                return self;
            }
        };
        let endpoints = &runner.inner.endpoints;
        for id in ids {
            let Ok(history) = runner.history(&id).await else {
                continue;
            };
            let path = dir.join(format!("{id}.json"));
            if std::fs::write(&path, history.to_json()).is_err() {
                continue;
            }
            let link = match endpoints.ui_url {
                Some(_) => untyped(runner, &id)
                    .describe(Default::default())
                    .await
                    .ok()
                    .and_then(|d| endpoints.workflow_url(runner.namespace(), &id, d.run_id())),
                None => None,
            };
            self.histories.push(WrittenHistory {
                workflow_id: id,
                path,
                rendered: history.render(),
                link,
            });
        }
        self.ui_note = Some(ui_note(runner));
        self
    }

    /// Prints what the test captured and fails it (re-raising a panic of the body).
    pub(super) fn report(self, test: &str, capture: &TracingCapture) -> ! {
        let logs = capture.take();
        if !logs.is_empty() {
            eprintln!("---- tracing output of {test} ----\n{logs}");
        }
        for h in &self.histories {
            eprintln!(
                "---- history of workflow {} (JSON: {}) ----\n{}",
                h.workflow_id,
                h.path.display(),
                h.rendered
            );
        }
        if !self.histories.is_empty() {
            eprintln!("---- in the Temporal Web UI ----");
            for h in &self.histories {
                if let Some(link) = &h.link {
                    eprintln!("{}: {link}", h.workflow_id);
                }
            }
            if let Some(note) = &self.ui_note {
                eprintln!("{note}");
            }
        }
        match self.panic {
            Some(payload) => std::panic::resume_unwind(payload),
            None => panic!("{}", self.message),
        }
    }
}

/// `<temp>/temporal-harness-histories-<uid>/<name>`, created: where failures write the
/// histories of their workflows. Per user and private: histories carry payloads, and a shared
/// folder someone else created first would let them read (or replace) what is written.
pub(crate) fn histories_dir(name: &str) -> Result<std::path::PathBuf, crate::stack::StackError> {
    let root = std::env::temp_dir().join(format!(
        "temporal-harness-histories-{}",
        crate::stack::euid()
    ));
    crate::stack::state::ensure_private_root(&root)?;
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| crate::stack::StackError::state(&dir, e))?;
    Ok(dir)
}

/// How long the UI links live, or how to get a UI; and how to open the JSON files in one.
fn ui_note(runner: &TestRunner) -> String {
    let import = "A JSON file above opens in any Temporal Web UI (its /import/events page) and \
                  in `temporal-harness histories show <file>`.";
    let endpoints = &runner.inner.endpoints;
    let stack = runner.inner._stack.as_ref();
    let lifetime = match (&endpoints.ui_url, stack) {
        (Some(_), Some(stack)) if stack.outlives_run() => {
            "The pages stay: the stack outlives this run (`temporal-harness down` ends a kept one)."
        }
        (Some(_), _) => {
            "The pages go when this run's stack stops. To look afterwards: run again with \
             TEMPORAL_HARNESS_KEEP=1 (or start `temporal-harness up --keep` first); \
             `temporal-harness down` ends the stack."
        }
        (None, None) => "The time-skipping test server has no Web UI.",
        (None, Some(_)) if endpoints.backend == BackendKind::External => {
            "Fix: set TEMPORAL_HARNESS_UI_URL to the deployment's Web UI for a link to each \
             workflow's page."
        }
        (None, Some(_)) => {
            "This stack has no Web UI. Fix: run again with TEMPORAL_HARNESS_UI=1 \
             TEMPORAL_HARNESS_KEEP=1 for a link to each workflow's page that outlives the run \
             (or start `temporal-harness up --keep`, which has one, and run the tests against it)."
        }
    };
    format!("{lifetime}\n{import}")
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
