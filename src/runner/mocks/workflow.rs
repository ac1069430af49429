//! Child workflow mocks: the typed handle, [`WorkflowMock`], and the workflow interceptor that
//! answers a mocked workflow's run in place of its code.
//!
//! Why the mocked workflow still runs as a workflow: the parent starts a real child (the
//! server records its start, its result and, with `.after(d)`, a real timer), so the parent's
//! history is what it would be with the real child, and the parent's replay stays honest. Only
//! the child's body is replaced, by a workflow interceptor around its run on every worker of
//! the test (and in the end-of-test replay, where a run executed again gets the answer it got
//! the first time).

use super::activity_interceptor::UNEXPECTED_CALL;
use super::expectations::{AnyValue, MockTable, Serve};
use super::{MockCall, MockFailure, Mocks, Slot};
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::WorkflowDefinition;
use temporalio_sdk::workflow_interceptors::{
    ExecuteWorkflowInput, ExecuteWorkflowResult, WorkflowInterceptor,
    WorkflowInterceptorConstructor, WorkflowInterceptorContext, WorkflowInterceptorFuture,
    WorkflowNext, WorkflowOutputValue,
};
use temporalio_sdk::{TimerResult, WorkflowTermination};

/// The workflow mocks of a test.
pub(super) type Table = MockTable<ExecuteWorkflowInput, Answer>;

/// What a served workflow run does.
pub(super) enum Answer {
    /// Completes with this result (of the workflow's type).
    Output(Box<dyn WorkflowOutputValue>),
    /// Fails with this failure.
    Fail(MockFailure),
}

/// One expectation of a mocked workflow, from [`crate::TestRunner::mock_workflow`]: the same
/// chain as [`ActivityMock`](super::ActivityMock), for a child workflow (or any workflow the
/// test's worker runs).
///
/// ```rust,no_run
/// # use temporal_harness::prelude::*;
/// # use temporalio_macros::{workflow, workflow_methods};
/// # use temporalio_sdk::{WorkflowContext, WorkflowResult};
/// # #[workflow]
/// # #[derive(Default)]
/// # pub struct TrialWorkflow;
/// # #[workflow_methods]
/// # impl TrialWorkflow {
/// #     #[run]
/// #     pub async fn run(_ctx: &mut WorkflowContext<Self>, days: u32) -> WorkflowResult<String> {
/// #         Ok(String::new())
/// #     }
/// # }
/// # async fn body(runner: TestRunner) -> Result<(), RunnerError> {
/// // The 7-day trial child answers after a day of workflow time, without its code running.
/// let trial = runner
///     .mock_workflow(TrialWorkflow::run)
///     .after(std::time::Duration::from_secs(24 * 3600))
///     .returns("trial skipped".to_string());
/// // ... run the parent ...
/// assert_eq!(trial.calls()[0].input, 7);
/// # Ok(())
/// # }
/// ```
///
/// A mocked run is a real child on the server: the parent's history shows it started and
/// completed (or failed), and `.after(d)` is a timer in the child's own workflow time
/// (skipped, under time skipping). Each run is one call; a run the worker executes again
/// (after its cache evicted it, or in the end-of-test replay) gets the same answer and is not
/// counted twice. The workflow must be registered (in `workflows(..)`) and run on the test's
/// task queue (a child's default).
pub struct WorkflowMock<WD: WorkflowDefinition>(Slot<WD, ExecuteWorkflowInput, Answer>);

impl<WD: WorkflowDefinition> Clone for WorkflowMock<WD> {
    fn clone(&self) -> Self {
        WorkflowMock(self.0.clone())
    }
}

impl<WD> WorkflowMock<WD>
where
    WD: WorkflowDefinition,
    WD::Input: Clone + Send + Sync,
{
    pub(crate) fn new(mocks: &Mocks, definition: &WD) -> Self {
        WorkflowMock(Slot::new(
            mocks.workflows.clone(),
            definition.name(),
            copy_input::<WD::Input>,
        ))
    }

    fn answer(
        self,
        describe: String,
        answer: impl Fn(&WD::Input) -> Answer + Send + Sync + 'static,
    ) -> Self {
        WorkflowMock(self.0.answer(describe, answer, || {
            Answer::Fail(MockFailure::non_retryable("mock input of another type"))
        }))
    }

    /// Completes every run it serves with `output`.
    pub fn returns(self, output: WD::Output) -> Self
    where
        WD::Output: Clone + Send + Sync,
    {
        self.answer("returns a value".into(), move |_| {
            Answer::Output(Box::new(output.clone()))
        })
    }

    /// Completes each run it serves with what `answer` makes of the run's input.
    pub fn returns_with(
        self,
        answer: impl Fn(&WD::Input) -> WD::Output + Send + Sync + 'static,
    ) -> Self {
        self.answer("returns_with".into(), move |input| {
            Answer::Output(Box::new(answer(input)))
        })
    }

    /// Fails every run it serves with `failure` (the parent sees a child workflow failure
    /// with it as the cause).
    pub fn fails(self, failure: MockFailure) -> Self {
        let describe = format!("fails: {}", failure.message);
        self.answer(describe, move |_| Answer::Fail(failure.clone()))
    }

    /// Answers `delay` after the run starts, in the workflow's time: a durable timer in the
    /// mocked run, so under time skipping the delay is skipped, not waited.
    pub fn after(self, delay: Duration) -> Self {
        WorkflowMock(self.0.delay(delay))
    }

    /// Serves exactly `n` runs; the next run goes to the next expectation.
    pub fn times(self, n: u32) -> Self {
        WorkflowMock(self.0.times(n))
    }

    /// Serves exactly one run.
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Serves no run: the workflow must not be started (while this expectation is the first
    /// with room, a run fails the test).
    pub fn never(self) -> Self {
        WorkflowMock(self.0.never())
    }

    /// Every run of the workflow since it was first mocked in this test, in order: its input,
    /// its attempt and its own workflow ID.
    pub fn calls(&self) -> Vec<MockCall<WD::Input>> {
        self.0.calls()
    }
}

fn copy_input<I: Clone + Send + Sync + 'static>(
    input: &ExecuteWorkflowInput,
) -> Option<Arc<AnyValue>> {
    input
        .input_ref::<I>()
        .map(|input| Arc::new(input.clone()) as Arc<AnyValue>)
}

/// The workflow interceptor of the test's mocks, for a worker's (or the replayer's) options.
pub(crate) fn mock_workflows(mocks: Arc<Mocks>) -> WorkflowInterceptorConstructor {
    WorkflowInterceptorConstructor::new(move |view| MockWorkflowInterceptor {
        mocks: mocks.clone(),
        attempt: view.attempt(),
    })
}

struct MockWorkflowInterceptor {
    mocks: Arc<Mocks>,
    /// The run's attempt (a workflow retry policy's), recorded with the call.
    attempt: u32,
}

impl WorkflowInterceptor for MockWorkflowInterceptor {
    fn execute<'a>(
        &'a self,
        ctx: WorkflowInterceptorContext,
        input: ExecuteWorkflowInput,
        next: WorkflowNext<
            'a,
            ExecuteWorkflowInput,
            WorkflowInterceptorFuture<'a, ExecuteWorkflowResult>,
        >,
    ) -> WorkflowInterceptorFuture<'a, ExecuteWorkflowResult> {
        let table = &self.mocks.workflows;
        let name = ctx.workflow_type().to_string();
        let Some(copy) = table.copier(&name) else {
            return next.run(input);
        };
        let Some(args) = copy(&input) else {
            return failed(
                MockFailure::non_retryable(format!(
                    "the mocked workflow {name} received an input of another type than its \
                     mock was set up for. Fix: mock it with the definition the parent starts"
                ))
                .with_type("TemporalHarnessMockTypeMismatch"),
            );
        };
        let served = table.serve(
            &name,
            args.clone(),
            self.attempt,
            Some(ctx.workflow_id().to_string()),
            Some(ctx.run_id()),
        );
        match served {
            Serve::Real => next.run(input),
            Serve::Unexpected(why) => failed(
                MockFailure::non_retryable(format!(
                    "{why}. Fix: add a mock for this run (e.g. `.times(n)` one more), or expect \
                     fewer runs"
                ))
                .with_type(UNEXPECTED_CALL),
            ),
            Serve::Mock(served) => WorkflowInterceptorFuture::new(async move {
                if !served.delay.is_zero() {
                    if let TimerResult::Cancelled = ctx.timer(served.delay).await {
                        return Err(WorkflowTermination::cancelled());
                    }
                }
                match (served.respond)(&*args) {
                    Answer::Output(output) => Ok(output),
                    Answer::Fail(failure) => Err(termination(&failure)),
                }
            }),
        }
    }
}

fn termination(failure: &MockFailure) -> WorkflowTermination {
    WorkflowTermination::failed_application(failure.application_failure())
}

fn failed<'a>(failure: MockFailure) -> WorkflowInterceptorFuture<'a, ExecuteWorkflowResult> {
    WorkflowInterceptorFuture::new(async move { Err(termination(&failure)) })
}
