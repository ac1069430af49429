//! Many tests, one stack: each test acquires the run's default stack and uses it. Under
//! `cargo test` they share it through one process; under `cargo nextest run` (a process per
//! test) through the state folder, lock and leases. `scripts/bench-sharing.sh` counts the
//! boots of a nextest run of this file.

use std::time::Duration;
use temporal_harness::{Stack, StackConfig};
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

async fn use_shared_stack() {
    let config = StackConfig::load().expect("configuration");
    let stack = Stack::acquire(&config).await.expect("shared stack");
    let connection =
        temporal_harness::stack::connect(&stack.endpoints().temporal, Duration::from_secs(10))
            .await
            .expect("connect");
    let info = connection
        .workflow_service()
        .get_system_info(tonic::Request::new(GetSystemInfoRequest::default()))
        .await
        .expect("system info")
        .into_inner();
    assert!(!info.server_version.is_empty());
    // Dropping the handle releases it; the stack stays for the next test (and process).
    drop(stack);
}

macro_rules! sharing_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            use_shared_stack().await;
        }
    )*};
}

sharing_tests!(
    shared_01, shared_02, shared_03, shared_04, shared_05, shared_06, shared_07, shared_08,
    shared_09, shared_10, shared_11, shared_12, shared_13, shared_14, shared_15, shared_16,
    shared_17, shared_18, shared_19, shared_20, shared_21, shared_22, shared_23, shared_24,
);
