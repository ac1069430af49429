//! Mocks set up in the test body: of activities ([`ActivityMock`], answered by an activity
//! inbound interceptor) and of child workflows ([`WorkflowMock`], answered by a workflow
//! interceptor), both kept in one [`Mocks`] per test; the bookkeeping without types is in
//! `expectations`.

mod activity;
mod activity_interceptor;
mod expectations;
mod workflow;

pub use activity::ActivityMock;
pub(crate) use activity_interceptor::MockInterceptor;
pub(crate) use workflow::mock_workflows;
pub use workflow::WorkflowMock;

use expectations::{AnyValue, MockTable};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use temporalio_client::{tonic, Connection};
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_common::protos::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatRequest;
use temporalio_sdk::ApplicationFailure;

/// A call a mock received: its typed input, its attempt (1 for the first) and the workflow
/// that made it (the calling workflow of an activity; the child itself for a workflow).
#[derive(Debug, Clone, PartialEq)]
pub struct MockCall<I> {
    /// The input the caller passed.
    pub input: I,
    /// The attempt (1, then 2 for the first retry, ...).
    pub attempt: u32,
    /// The calling workflow's ID (activities), or the mocked workflow's own (workflows).
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
    /// A failure the retry policy retries.
    pub fn retryable(message: impl Into<String>) -> Self {
        MockFailure {
            message: message.into(),
            type_name: None,
            retryable: true,
        }
    }

    /// A failure never retried: the caller sees it at once.
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

    fn application_failure(&self) -> ApplicationFailure {
        ApplicationFailure::builder(self.message.clone())
            .maybe_type_name(self.type_name.clone())
            .non_retryable(!self.retryable)
            .build()
    }
}

/// The mocks of one test: a table per kind, the order calls arrived in across them, the
/// release of stalled activity calls once the body is over, and the connection mocked
/// activities heartbeat through.
pub(crate) struct Mocks {
    activities: Arc<activity::Table>,
    workflows: Arc<workflow::Table>,
    order: Arc<Mutex<Vec<String>>>,
    released: tokio::sync::watch::Sender<bool>,
    connection: Connection,
    namespace: String,
}

impl Mocks {
    /// No mocks yet; heartbeats go to `namespace` through `connection`.
    pub(crate) fn new(connection: Connection, namespace: String) -> Self {
        let order = Arc::<Mutex<Vec<String>>>::default();
        Mocks {
            activities: Arc::new(MockTable::new("activity", order.clone())),
            workflows: Arc::new(MockTable::new("workflow", order.clone())),
            order,
            released: tokio::sync::watch::Sender::new(false),
            connection,
            namespace,
        }
    }

    /// Records `details` as a heartbeat of the activity task `task_token` on the server, as
    /// the activity itself would (the SDK's interceptor input does not hand out the
    /// activity's context, so the mock heartbeats by the task's token).
    async fn heartbeat(&self, task_token: &[u8], details: Payload) -> Result<(), tonic::Status> {
        let request = RecordActivityTaskHeartbeatRequest {
            task_token: task_token.to_vec(),
            details: Some(Payloads {
                payloads: vec![details],
            }),
            identity: "temporal-harness-mock".into(),
            namespace: self.namespace.clone(),
            ..Default::default()
        };
        self.connection
            .workflow_service()
            .record_activity_task_heartbeat(tonic::Request::new(request))
            .await
            .map(drop)
    }

    /// Ends every stalled call (see [`Mocks::stalled`]).
    pub(crate) fn release(&self) {
        self.released.send_replace(true);
    }

    /// Resolves when the test body is over or at `deadline` (the attempt's own, after which
    /// the server has timed it out and ignores its answer), whichever comes first: a stalled
    /// call must not hold the worker's shutdown for ever.
    async fn stalled(&self, deadline: Option<SystemTime>) {
        let mut released = self.released.subscribe();
        let until_deadline = async {
            match deadline.and_then(|d| d.duration_since(SystemTime::now()).ok()) {
                Some(left) => tokio::time::sleep(left).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = released.wait_for(|r| *r) => {}
            () = until_deadline => {}
        }
    }

    /// Mocked activities and workflows in the order their calls arrived (one entry per call).
    pub(crate) fn order(&self) -> Vec<String> {
        self.order.lock().unwrap().clone()
    }

    /// At the end of the test: every expectation met, and no call that none expected; else
    /// what each mock of each unmet type expected and saw.
    pub(crate) fn unmet_report(&self) -> Option<String> {
        let mut report = String::new();
        self.activities.report_unmet(&mut report);
        self.workflows.report_unmet(&mut report);
        Some(report).filter(|r| !r.is_empty())
    }
}

/// One expectation in a table, as a typed handle sees it: the part of [`ActivityMock`] and
/// [`WorkflowMock`] that does not depend on the kind. `D` is the mocked definition.
struct Slot<D, I, A> {
    table: Arc<MockTable<I, A>>,
    name: String,
    index: usize,
    _definition: PhantomData<fn() -> D>,
}

impl<D, I, A> Clone for Slot<D, I, A> {
    fn clone(&self) -> Self {
        Slot {
            table: self.table.clone(),
            name: self.name.clone(),
            index: self.index,
            _definition: PhantomData,
        }
    }
}

impl<D, I, A: 'static> Slot<D, I, A> {
    fn new(table: Arc<MockTable<I, A>>, name: &str, copy: expectations::CopyInput<I>) -> Self {
        let index = table.expect(name, copy);
        Slot {
            table,
            name: name.to_string(),
            index,
            _definition: PhantomData,
        }
    }

    fn change(self, change: impl FnOnce(&mut expectations::Expectation<A>)) -> Self {
        self.table.update(&self.name, self.index, change);
        self
    }

    /// Answers with `answer` of the typed input (`T`); an input of another type (never, when
    /// the name and the definition agree) gets `mismatch`.
    fn answer<T: 'static>(
        self,
        describe: String,
        answer: impl Fn(&T) -> A + Send + Sync + 'static,
        mismatch: fn() -> A,
    ) -> Self {
        self.change(|e| {
            e.describe = describe;
            e.respond = Some(Arc::new(move |input: &AnyValue| {
                match input.downcast_ref::<T>() {
                    Some(input) => answer(input),
                    None => mismatch(),
                }
            }));
        })
    }

    fn heartbeats(self, heartbeats: Vec<Payload>) -> Self {
        self.change(|e| e.heartbeats = heartbeats)
    }

    fn delay(self, delay: Duration) -> Self {
        self.change(|e| e.delay = delay)
    }

    fn times(self, n: u32) -> Self {
        self.change(|e| e.times = expectations::Times::Exactly(n))
    }

    fn never(self) -> Self {
        self.times(0)
            .change(|e| e.describe = "must not be called".into())
    }

    fn calls<T: Clone + 'static>(&self) -> Vec<MockCall<T>> {
        self.table
            .calls(&self.name, |input| input.downcast_ref::<T>().cloned())
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
