//! The typed handle of an activity mock, [`ActivityMock`], and what its answers are.

use super::expectations::{AnyValue, MockTable};
use super::{MockCall, MockFailure, Slot};
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::ActivityDefinition;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::interceptors::{ActivityExecutionValue, ExecuteActivityInput};

/// The activity mocks of a test.
pub(super) type Table = MockTable<ExecuteActivityInput, Answer>;

/// What a served activity call does.
pub(super) enum Answer {
    /// Completes with this output (of the activity's type).
    Output(Box<dyn ActivityExecutionValue>),
    /// Fails with this error.
    Fail(ActivityError),
    /// Never answers: the attempt ends by its timeout (or the worker's shutdown).
    Stall,
}

impl MockFailure {
    fn activity_error(&self) -> ActivityError {
        ActivityError::application(self.application_failure())
    }
}

/// One expectation of a mocked activity, from [`crate::TestRunner::mock`]: set how many calls
/// it serves and how it answers by chaining, read the activity's calls with
/// [`ActivityMock::calls`]. Cloning gives another handle on the same expectation.
///
/// Mocks are set up in the test body, per test, on the real server:
///
/// ```rust,no_run
/// # use temporal_harness::prelude::*;
/// # use temporal_harness::runner::MockFailure;
/// # async fn body(runner: TestRunner) -> Result<(), RunnerError> {
/// # pub struct Payments;
/// # #[temporalio_macros::activities]
/// # impl Payments {
/// #     #[activity]
/// #     pub async fn charge(
/// #         _ctx: temporalio_sdk::activities::ActivityContext,
/// #         cents: u32,
/// #     ) -> Result<String, temporalio_sdk::activities::ActivityError> {
/// #         Ok(String::new())
/// #     }
/// # }
/// // The first attempt fails (retryably), the second returns a receipt.
/// let charge = runner.mock(Payments::charge).once().fails(MockFailure::retryable("declined"));
/// runner.mock(Payments::charge).once().returns("receipt-1".to_string());
/// // ... run the workflow ...
/// let attempts: Vec<u32> = charge.calls().iter().map(|c| c.attempt).collect();
/// assert_eq!(attempts, [1, 2]);
/// # Ok(())
/// # }
/// ```
///
/// Each `runner.mock(activity)` adds one expectation; a call is served by the first one, in
/// the order they were set up, that still has room (`.times(n)`, `.once()`, `.never()`;
/// without them: every call from there on, and at least one). An expectation answers with
/// `.returns(..)`, `.returns_with(..)`, `.fails(..)` or `.stalls()` (after `.after(d)`), or,
/// with none of them, lets the real implementation answer while counting and recording the
/// call (a spy). A call no expectation has room for fails, non-retryably. Activities never
/// mocked run their real implementation. At the end of the test every expectation must be
/// met, or the test fails listing what each expected and what it saw.
///
/// The activity must be registered (its implementer in `activities(..)`): the mock answers
/// calls the worker receives.
pub struct ActivityMock<AD: ActivityDefinition>(Slot<AD, ExecuteActivityInput, Answer>);

impl<AD: ActivityDefinition> Clone for ActivityMock<AD> {
    fn clone(&self) -> Self {
        ActivityMock(self.0.clone())
    }
}

impl<AD> ActivityMock<AD>
where
    AD: ActivityDefinition,
    AD::Input: Clone + Send + Sync,
    AD::Output: Send + Sync,
{
    pub(crate) fn new(mocks: &super::Mocks, definition: &AD) -> Self {
        ActivityMock(Slot::new(
            mocks.activities.clone(),
            definition.name(),
            copy_input::<AD::Input>,
        ))
    }

    fn answer(
        self,
        describe: String,
        answer: impl Fn(&AD::Input) -> Answer + Send + Sync + 'static,
    ) -> Self {
        ActivityMock(self.0.answer(describe, answer, || {
            Answer::Fail(MockFailure::non_retryable("mock input of another type").activity_error())
        }))
    }

    /// Answers every call it serves with `output`.
    pub fn returns(self, output: AD::Output) -> Self
    where
        AD::Output: Clone,
    {
        self.answer("returns a value".into(), move |_| {
            Answer::Output(Box::new(output.clone()))
        })
    }

    /// Answers each call it serves with what `answer` makes of the call's input.
    pub fn returns_with(
        self,
        answer: impl Fn(&AD::Input) -> AD::Output + Send + Sync + 'static,
    ) -> Self {
        self.answer("returns_with".into(), move |input| {
            Answer::Output(Box::new(answer(input)))
        })
    }

    /// Fails every call it serves with `failure`.
    pub fn fails(self, failure: MockFailure) -> Self {
        let describe = format!("fails: {}", failure.message);
        self.answer(describe, move |_| Answer::Fail(failure.activity_error()))
    }

    /// Never answers the calls it serves: each attempt ends by its timeout (start-to-close,
    /// or heartbeat: a stalled mock never heartbeats), as a hung activity would. The worker
    /// stops waiting for it at the attempt's deadline or when the test body ends, whichever
    /// is first, so a stalled call never holds the test's end.
    pub fn stalls(self) -> Self {
        self.answer("stalls".into(), |_| Answer::Stall)
    }

    /// Before answering (or stalling), records each of `details` in order as a heartbeat of
    /// the call on the server, as an activity calling `record_heartbeat` would: the server
    /// resets the attempt's heartbeat timeout, and the next attempt (after a stall, a
    /// failure or `crash_worker()`) sees the last details. So heartbeat-timeout and
    /// resume-from-heartbeat tests need no hand-written activity:
    /// `.heartbeats([1u64, 2, 3]).stalls()`.
    ///
    /// # Panics
    /// If a detail cannot be written as JSON (a map with non-string keys, say): a mistake in
    /// the test, shown where it is set up.
    pub fn heartbeats<T: serde::Serialize>(self, details: impl IntoIterator<Item = T>) -> Self {
        let payloads = details
            .into_iter()
            .map(|d| {
                crate::runner::payload::encode_json(&d).unwrap_or_else(|e| {
                    panic!(
                        "a heartbeat detail of the mock of {} is not JSON: {e}",
                        self.0.name
                    )
                })
            })
            .collect();
        ActivityMock(self.0.heartbeats(payloads))
    }

    /// Answers (or stalls) `delay` after the call arrives (after its heartbeats), in real
    /// time.
    pub fn after(self, delay: Duration) -> Self {
        ActivityMock(self.0.delay(delay))
    }

    /// Serves exactly `n` calls; the next call goes to the next expectation.
    pub fn times(self, n: u32) -> Self {
        ActivityMock(self.0.times(n))
    }

    /// Serves exactly one call.
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Serves no call: the activity must not be called (while this expectation is the first
    /// with room, a call fails the test).
    pub fn never(self) -> Self {
        ActivityMock(self.0.never())
    }

    /// Every call the activity received since it was first mocked in this test, in order
    /// (whichever expectation served it).
    pub fn calls(&self) -> Vec<MockCall<AD::Input>> {
        self.0.calls()
    }
}

fn copy_input<I: Clone + Send + Sync + 'static>(
    input: &ExecuteActivityInput,
) -> Option<Arc<AnyValue>> {
    input
        .args_ref::<I>()
        .map(|input| Arc::new(input.clone()) as Arc<AnyValue>)
}
