//! The worker's side of the mocks: an activity inbound interceptor (the SDK's hook around
//! every activity call, with the input already decoded to its type) that lets the test's
//! [`Mocks`] answer a mocked activity, and the real implementation everything else.
//!
//! Why an interceptor and not a replacement registration: the worker is running before the
//! test body sets its mocks up, and restarts keep its registrations; the interceptor is
//! registered once per worker and consults the table at each call, so a mock set at any
//! point takes effect at the next call, on every worker of the test.

use super::activity::Answer;
use super::expectations::Serve;
use super::Mocks;
use futures::FutureExt;
use std::sync::Arc;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
};
use temporalio_sdk::ApplicationFailure;

/// Error type of the failure an unexpected call of a mocked activity gets.
pub(crate) const UNEXPECTED_CALL: &str = "TemporalHarnessUnexpectedMockCall";

pub(crate) struct MockInterceptor(pub(crate) Arc<Mocks>);

impl ActivityInboundInterceptor for MockInterceptor {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let info = input.activity_info();
        let name = info.activity_type.clone();
        let table = &self.0.activities;
        let Some(copy) = table.copier(&name) else {
            return next.run(input);
        };
        let Some(args) = copy(&input) else {
            let why = format!(
                "the mocked activity {name} received an input of another type than its mock \
                 was set up for. Fix: mock it with the definition the workflow calls"
            );
            return fail(why, "TemporalHarnessMockTypeMismatch");
        };
        let (attempt, workflow_id) = (info.attempt, info.workflow_id.clone());
        let (deadline, task_token) = (info.deadline, info.task_token.clone());
        match table.serve(&name, args.clone(), attempt, workflow_id, None) {
            Serve::Real => next.run(input),
            Serve::Unexpected(why) => fail(
                format!(
                    "{why}. Fix: add a mock for this call (e.g. `.times(n)` one more), or \
                     expect fewer calls"
                ),
                UNEXPECTED_CALL,
            ),
            Serve::Mock(served) => async move {
                for details in served.heartbeats {
                    if let Err(e) = self.0.heartbeat(&task_token, details).await {
                        return Err(ActivityError::application(
                            ApplicationFailure::builder(format!(
                                "the mocked {name} could not record its heartbeat: {e}"
                            ))
                            .type_name("TemporalHarnessMockHeartbeat".to_string())
                            .build(),
                        ));
                    }
                }
                if !served.delay.is_zero() {
                    tokio::time::sleep(served.delay).await;
                }
                match (served.respond)(&*args) {
                    Answer::Output(output) => Ok(output),
                    Answer::Fail(error) => Err(error),
                    Answer::Stall => {
                        self.0.stalled(deadline).await;
                        Err(ActivityError::application(
                            ApplicationFailure::builder(format!(
                                "the mocked {name} stalled, as its mock said (this attempt is \
                                 past its deadline or the test is over)"
                            ))
                            .type_name("TemporalHarnessStalledMock".to_string())
                            .build(),
                        ))
                    }
                }
            }
            .boxed(),
        }
    }
}

/// A non-retryable failure of the call: retrying an unexpected call would only repeat it.
fn fail<'a>(message: String, type_name: &str) -> ExecuteActivityOutput<'a> {
    let failure = ApplicationFailure::builder(message)
        .type_name(type_name.to_string())
        .non_retryable(true)
        .build();
    futures::future::ready(Err(ActivityError::application(failure))).boxed()
}
