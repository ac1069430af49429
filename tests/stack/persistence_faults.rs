//! Faults at the persistence layer, injected by the Temporal server's own fault injector on a
//! stack of the test's own: the server boots and serves with them, its metrics show them
//! (and `metrics.persistence_errors` fails for that real reason), and bad fault
//! configurations are refused with the fix.

use std::time::{Duration, Instant};
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::stack::{PersistenceError, PersistenceFault, PrivateStateDir, Store};
use temporal_harness::validation::{registry, Session, Status, Target};
use temporal_harness::Stack;

/// A stack of the test's own with `faults`, and its state folder (removed when dropped).
async fn stack_with(name: &str, faults: Vec<PersistenceFault>) -> (Stack, PrivateStateDir) {
    let private = test_support::private_state_dir(name);
    let mut config = test_support::config(BackendKind::Local, Flavor::Postgres);
    config.ui = Some(false);
    config.state_dir = private.path().to_path_buf();
    config.persistence_faults = faults;
    let stack = Stack::acquire(&config)
        .await
        .expect("stack with persistence faults");
    (stack, private)
}

#[tokio::test]
async fn injected_persistence_errors_show_in_the_metrics_and_fail_the_check() {
    // The history service's queue processors read their tasks all the time: a steady stream
    // of calls, most of them failing, which they survive (they read again).
    let (stack, _private) = stack_with(
        "metrics",
        vec![PersistenceFault {
            store: Store::ExecutionStore,
            method: "GetHistoryTasks",
            error: PersistenceError::Unavailable,
            percent: 80,
            seed: 11,
        }],
    )
    .await;
    // The server still runs workflows.
    let (_, greeting) = test_support::run_greeting(stack.endpoints()).await;
    assert_eq!(greeting, "Hello, stack!");
    let check = registry()
        .into_iter()
        .find(|c| c.id == "metrics.persistence_errors")
        .unwrap();
    // Counters are flushed about once a second: wait for them (bounded), not for a time.
    let started = Instant::now();
    let result = loop {
        let session = Session::new(Target::from_endpoints(stack.endpoints()));
        let result = check.run(&session).await;
        session.close();
        if result.status != Status::Skipped {
            break result;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{result:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("{}: {}", result.id, result.message);
    assert_eq!(result.status, Status::Failed, "{result:?}");
    assert!(
        result.measurements["persistence_error_rate"] > 0.05,
        "{result:?}"
    );
    stack.shutdown(Duration::from_secs(60)).await.unwrap();
}

#[tokio::test]
async fn bad_persistence_faults_and_backends_are_refused_with_the_fix() {
    let mut config = test_support::config(BackendKind::Local, Flavor::Postgres);
    let private = test_support::private_state_dir("refused");
    config.state_dir = private.path().to_path_buf();
    config.persistence_faults = vec![PersistenceFault {
        store: Store::ShardStore,
        method: "GetWorkflowExecution",
        error: PersistenceError::Timeout,
        percent: 10,
        seed: 1,
    }];
    let error = Stack::acquire(&config).await.unwrap_err().to_string();
    assert!(
        error.contains("ShardStore has no method GetWorkflowExecution"),
        "{error}"
    );
    assert!(
        error.contains("Fix: use one of Store::methods()"),
        "{error}"
    );

    config.persistence_faults[0].method = "UpdateShard";
    config.backend = BackendKind::Containers;
    let error = Stack::acquire(&config).await.unwrap_err().to_string();
    assert!(
        error.contains("a stack with persistence faults runs on the local backend"),
        "{error}"
    );
    assert!(
        error.contains("Fix: TEMPORAL_HARNESS_BACKEND=local"),
        "{error}"
    );
}
