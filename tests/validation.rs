//! The deployment-validation suite as tests: one libtest-mimic trial per check, named by its
//! id. Runs against the harness's stack for the configuration in the environment
//! (`TEMPORAL_HARNESS_*`; `TEMPORAL_HARNESS_BACKEND=external` + `TEMPORAL_HARNESS_ADDRESS`
//! [+ `TEMPORAL_HARNESS_POSTGRES_URL`] validates a deployment). `--list` boots nothing:
//! the stack is acquired by the first trial that runs.
//!
//! ```text
//! cargo test --test validation                      # every check
//! cargo test --test validation -- postgres.         # a category
//! cargo test --test validation -- --exact stage.error_handling
//! ```

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::sync::{Arc, Mutex, OnceLock};
use temporal_harness::validation::{registry, Check, Session, Status, Target};
use temporal_harness::{Stack, StackConfig};

/// What the trials share: one runtime, one stack lease, one validation session.
struct Suite {
    runtime: tokio::runtime::Runtime,
    session: Arc<Session>,
    stack: Mutex<Option<Stack>>,
}

static SUITE: OnceLock<Result<Suite, String>> = OnceLock::new();

fn suite() -> Result<&'static Suite, Failed> {
    SUITE
        .get_or_init(|| {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            let config = StackConfig::load().map_err(|e| e.to_string())?;
            let stack = runtime
                .block_on(Stack::acquire(&config))
                .map_err(|e| format!("no stack to validate: {e}"))?;
            let mut target = Target::from_endpoints(stack.endpoints());
            // Fast retries: the error-handling stage still fails twice and backs off x2.
            target.retry_initial_interval_ms = 20;
            Ok(Suite {
                runtime,
                session: Session::new(target),
                stack: Mutex::new(Some(stack)),
            })
        })
        .as_ref()
        .map_err(|e| Failed::from(e.as_str()))
}

fn run(check: &Check) -> Result<Completion, Failed> {
    let suite = suite()?;
    let result = suite.runtime.block_on(check.run(&suite.session));
    match result.status {
        Status::Passed => {
            println!(
                "{}: {} ({} ms)",
                result.id, result.message, result.duration_ms
            );
            Ok(Completion::Completed)
        }
        Status::Skipped => Ok(Completion::ignored_with(result.message)),
        Status::Failed => Err(result.message.into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let trials = registry()
        .into_iter()
        // Named by the bare id, so `--exact postgres.version` and nextest filters match it.
        .map(|check| Trial::ignorable_test(check.id, move || run(&check)))
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // Statics are never dropped: stop the worker and give up the stack lease here.
    if let Some(Ok(suite)) = SUITE.get() {
        suite.session.close();
        if let Some(stack) = suite.stack.lock().expect("stack lock").take() {
            let _ = suite
                .runtime
                .block_on(stack.shutdown(std::time::Duration::from_secs(60)));
        }
    }
    conclusion.exit();
}
