//! Activity mocks set up in the test body: the typed handle ([`ActivityMock`]), the
//! bookkeeping (`expectations`) and the worker's interceptor (`interceptor`).

mod expectations;
mod interceptor;

pub(crate) use expectations::MockTable;
pub(crate) use interceptor::MockInterceptor;

use expectations::{Answer, AnyValue, Times};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::ActivityDefinition;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::interceptors::ExecuteActivityInput;
use temporalio_sdk::ApplicationFailure;

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
pub struct ActivityMock<AD: ActivityDefinition> {
    table: Arc<MockTable>,
    name: String,
    index: usize,
    _definition: PhantomData<fn() -> AD>,
}

impl<AD: ActivityDefinition> Clone for ActivityMock<AD> {
    fn clone(&self) -> Self {
        ActivityMock {
            table: self.table.clone(),
            name: self.name.clone(),
            index: self.index,
            _definition: PhantomData,
        }
    }
}

/// A call a mocked activity received: its typed input, its attempt (1 for the first) and
/// the workflow that called it.
#[derive(Debug, Clone, PartialEq)]
pub struct MockCall<I> {
    /// The input the workflow passed.
    pub input: I,
    /// The attempt (1, then 2 for the first retry, ...).
    pub attempt: u32,
    /// The calling workflow's ID.
    pub workflow_id: Option<String>,
}

/// How a mock fails a call: an application failure with a message, retryable or not, with an
/// error type a workflow (or a retry policy's `non_retryable_error_types`) can match.
#[derive(Debug, Clone)]
pub struct MockFailure {
    message: String,
    type_name: Option<String>,
    retryable: bool,
}

impl MockFailure {
    /// A failure the activity's retry policy retries.
    pub fn retryable(message: impl Into<String>) -> Self {
        MockFailure {
            message: message.into(),
            type_name: None,
            retryable: true,
        }
    }

    /// A failure never retried: the workflow sees it at once.
    pub fn non_retryable(message: impl Into<String>) -> Self {
        MockFailure {
            retryable: false,
            ..MockFailure::retryable(message)
        }
    }

    /// The failure's error type (`ApplicationFailure` type name).
    pub fn with_type(mut self, type_name: impl Into<String>) -> Self {
        self.type_name = Some(type_name.into());
        self
    }

    fn error(&self) -> ActivityError {
        let failure = ApplicationFailure::builder(self.message.clone())
            .maybe_type_name(self.type_name.clone())
            .non_retryable(!self.retryable)
            .build();
        ActivityError::application(failure)
    }
}

impl<AD> ActivityMock<AD>
where
    AD: ActivityDefinition,
    AD::Input: Clone + Send + Sync,
    AD::Output: Send + Sync,
{
    pub(crate) fn new(table: Arc<MockTable>, definition: &AD) -> Self {
        let name = definition.name().to_string();
        let index = table.expect(&name, copy_input::<AD::Input>);
        ActivityMock {
            table,
            name,
            index,
            _definition: PhantomData,
        }
    }

    fn change(self, change: impl FnOnce(&mut expectations::Expectation)) -> Self {
        self.table.update(&self.name, self.index, change);
        self
    }

    fn answer(
        self,
        describe: String,
        answer: impl Fn(&AD::Input) -> Answer + Send + Sync + 'static,
    ) -> Self {
        self.change(|e| {
            e.describe = describe;
            e.respond = Some(Arc::new(move |input: &AnyValue| {
                match input.downcast_ref::<AD::Input>() {
                    Some(input) => answer(input),
                    None => Answer::Fail(
                        MockFailure::non_retryable("mock input of another type").error(),
                    ),
                }
            }));
        })
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
        self.answer(describe, move |_| Answer::Fail(failure.error()))
    }

    /// Never answers the calls it serves: each attempt ends by its timeout (start-to-close,
    /// or heartbeat: a stalled mock never heartbeats), as a hung activity would. The worker
    /// stops waiting for it at the attempt's deadline or when the test body ends, whichever
    /// is first, so a stalled call never holds the test's end.
    pub fn stalls(self) -> Self {
        self.answer("stalls".into(), |_| Answer::Stall)
    }

    /// Answers (or stalls) `delay` after the call arrives, in real time.
    pub fn after(self, delay: Duration) -> Self {
        self.change(|e| e.delay = delay)
    }

    /// Serves exactly `n` calls; the next call goes to the next expectation.
    pub fn times(self, n: u32) -> Self {
        self.change(|e| e.times = Times::Exactly(n))
    }

    /// Serves exactly one call.
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Serves no call: the activity must not be called (while this expectation is the first
    /// with room, a call fails the test).
    pub fn never(self) -> Self {
        self.times(0)
            .change(|e| e.describe = "must not be called".into())
    }

    /// Every call the activity received since it was first mocked in this test, in order
    /// (whichever expectation served it).
    pub fn calls(&self) -> Vec<MockCall<AD::Input>> {
        self.table
            .calls(&self.name, |input| {
                input.downcast_ref::<AD::Input>().cloned()
            })
            .into_iter()
            .filter_map(|(input, attempt, workflow_id)| {
                Some(MockCall {
                    input: input?,
                    attempt,
                    workflow_id,
                })
            })
            .collect()
    }
}

fn copy_input<I: Clone + Send + Sync + 'static>(
    input: &ExecuteActivityInput,
) -> Option<Arc<AnyValue>> {
    input
        .args_ref::<I>()
        .map(|input| Arc::new(input.clone()) as Arc<AnyValue>)
}
