//! What `#[temporal_test]` expands to calls: [`run_test`] owns the test's lifecycle (see the
//! runner's module docs). Plumbing, reached only through `temporal_harness::__private`.

use super::failure::{CapturedLogs, Failure, TracingCapture};
use super::{record, setup, Definitions, TestOptions, TestRunner, WorkerError};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

/// What a test body may return: `()` or a `Result` whose error fails the test.
pub trait TestOutcome {
    /// The failure to report (the error as `Debug` shows it, as `cargo test` does for a
    /// `Result`-returning test), or `None` when the test passed.
    fn failure(self) -> Option<String>;
}

impl TestOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: std::fmt::Debug> TestOutcome for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| format!("{e:?}"))
    }
}

/// Runs one `#[temporal_test]`: see the module docs. Panics (fails the test) on any failure.
pub fn run_test<R, F>(options: TestOptions, definitions: Definitions, body: F)
where
    R: TestOutcome + 'static,
    F: FnOnce(TestRunner) -> Pin<Box<dyn Future<Output = R>>>,
{
    let capture = TracingCapture::install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let failure = runtime.block_on(run(options.clone(), definitions, capture.logs(), body));
    drop(runtime);
    if let Some(failure) = failure {
        failure.report(&options.name, &capture);
    }
}

async fn run<R, F>(
    options: TestOptions,
    definitions: Definitions,
    logs: CapturedLogs,
    body: F,
) -> Option<Failure>
where
    R: TestOutcome + 'static,
    F: FnOnce(TestRunner) -> Pin<Box<dyn Future<Output = R>>>,
{
    let (runner, driver) = match setup::setup(&options, &definitions, logs).await {
        Ok(parts) => parts,
        Err(e) => return Some(Failure::setup(e)),
    };
    let control = runner.inner.worker.clone();
    let ended = runner.clone();
    let body = body(runner.clone());
    let body = async {
        use futures::FutureExt;
        let outcome = AssertUnwindSafe(tokio::time::timeout(options.timeout, body))
            .catch_unwind()
            .await;
        // Stalled mocks end with the body, so the worker's shutdown need not wait for them.
        ended.release_mocks();
        ended.stop_versions().await;
        control.finish();
        outcome
    };
    let driver = driver.run();
    tokio::pin!(body, driver);
    // Both run on this thread; a worker that fails on its own ends the test at once instead
    // of leaving the body to wait for its timeout.
    let (outcome, driven) = tokio::select! {
        outcome = &mut body => (Some(outcome), driver.await),
        driven = &mut driver => match driven {
            Err(e) => (None, Err(e)),
            Ok(()) => (Some(body.await), Ok(())),
        },
    };
    let failure = match (outcome, driven) {
        (Some(Err(panic)), _) => Some(Failure::panic(panic)),
        (_, Err(worker)) => Some(Failure::worker(worker)),
        (Some(Ok(Err(_elapsed))), Ok(())) => Some(Failure::timeout(options.timeout, &runner).await),
        (Some(Ok(Ok(result))), Ok(())) => result.failure().map(Failure::returned),
        (None, Ok(())) => Some(Failure::worker(WorkerError::StoppedOnItsOwn(None))),
    };
    let failure = match failure {
        None => runner
            .verify_mocks()
            .and_then(|()| runner.verify_callbacks())
            .err()
            .map(Failure::at_end),
        other => other,
    };
    let failure = match failure {
        None if options.replay => {
            let ids = runner.started_workflows();
            definitions
                .replay(
                    runner.client(),
                    &ids,
                    Some(runner.workflow_mocks()),
                    &|build_id| runner.version_definitions(build_id),
                )
                .await
                .err()
                .map(Failure::at_end)
        }
        other => other,
    };
    let failure = match (failure, options.record_folder()) {
        (None, Some(folder)) => {
            match record::record(&runner, &definitions, &folder, &options.name).await {
                Ok(files) => {
                    eprintln!(
                        "temporal-harness: recorded {} history file(s) under {}",
                        files.len(),
                        folder.display()
                    );
                    None
                }
                Err(e) => Some(Failure::at_end(e)),
            }
        }
        (failure, _) => failure,
    };
    match failure {
        Some(f) => Some(f.with_histories(&runner).await),
        None => None,
    }
}
