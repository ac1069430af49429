//! The runner layer: `#[temporal_test]` and its typed runner on the real stack (the macro's
//! choices, time skipping, skipping and real-time tests on one shared clock), and the CI
//! template users copy to run such tests in nextest shards.
//!
//! One binary of modules (see `tests/stack/main.rs` for why): `cargo test --test runner --
//! time_skipping::`.

mod activity_alone;
mod assertions;
mod callbacks;
mod ci_template;
mod macro_choices;
mod mocks;
mod replay_pressure;
mod shared_clock;
mod time_skipping;
mod workflow_mocks;

use std::future::Future;
use std::pin::Pin;
use temporal_harness::__private::{run_test, TestOptions};
use temporal_harness::runner::Definitions;
use temporal_harness::TestRunner;

/// Runs `body` as `#[temporal_test]` runs a test and returns the message the test failed
/// with; panics if it passed. For tests of what the harness says when a test fails.
pub(crate) fn failure_message<F>(options: TestOptions, definitions: Definitions, body: F) -> String
where
    F: FnOnce(TestRunner) -> Pin<Box<dyn Future<Output = ()>>>,
{
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_test(options, definitions, body)
    }));
    let panic = outcome.expect_err("the test passed, but it was to fail");
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
