//! What nearly every test file needs, in one `use temporal_harness::prelude::*;`: the
//! attribute, the runner and its error, history event types, and the option types the SDK's
//! workflow handles take (so a test needs no `temporalio_common::protos::...` paths).

pub use crate::runner::{History, PendingActivityState, RunnerError, Step, WorkflowFailure};
pub use crate::{temporal_test, TestRunner};
pub use temporalio_client::{
    WorkflowCancelOptions, WorkflowDescribeOptions, WorkflowExecuteUpdateOptions,
    WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
    WorkflowStartUpdateOptions, WorkflowTerminateOptions,
};
pub use temporalio_common::protos::temporal::api::enums::v1::EventType;
