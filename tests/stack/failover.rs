//! PostgreSQL failover on a local stack of the test's own: a primary with a synchronous
//! streaming standby, validated as such; the primary killed mid-workload, the standby promoted
//! onto the primary's address; workflows started before complete, new ones run, and the
//! validation suite passes against the stack after the failover.

use std::time::Duration;
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::validation::{registry, validate, Filter, Profile, Status, Target};
use temporal_harness::Stack;

#[tokio::test]
async fn a_failover_keeps_workflows_and_the_deployment_validates_after() {
    let mut config = test_support::config(BackendKind::Local, Flavor::Postgres);
    config.postgres_standby = true;
    config.ui = Some(false);
    let private = test_support::private_state_dir("failover");
    config.state_dir = private.path().to_path_buf();
    let stack = Stack::acquire(&config).await.expect("stack with a standby");
    let target = || Target::from_endpoints(stack.endpoints());

    // The pair validates: the standby streams, synchronously, within seconds.
    let check = registry()
        .into_iter()
        .find(|c| c.id == "postgres.replication")
        .unwrap();
    let session = temporal_harness::validation::Session::new(target());
    let replication = check.run(&session).await;
    session.close();
    assert_eq!(replication.status, Status::Passed, "{replication:?}");
    assert_eq!(replication.measurements["standbys"], 1.0, "{replication:?}");

    // A workflow started (acknowledged, persisted) before the failover, no worker yet.
    let (workflow_id, task_queue) = test_support::start_greeting(stack.endpoints()).await;

    let control = stack.failover().expect("failover control");
    assert!(control.has_standby());
    let started = std::time::Instant::now();
    control
        .fail_over(Duration::ZERO, Duration::from_secs(60))
        .await
        .expect("fail over");
    println!("failover took {:.2?}", started.elapsed());
    assert!(!control.has_standby());

    // The workflow started before completes (a worker polls only now), new ones run.
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        test_support::finish_greeting(stack.endpoints(), &workflow_id, &task_queue),
    )
    .await
    .expect("completes within a minute");
    assert_eq!(result, "Hello, stack!");
    let (_, greeting) = test_support::run_greeting(stack.endpoints()).await;
    assert_eq!(greeting, "Hello, stack!");

    // The whole suite against the stack after the failover; replication skips (no standby
    // left), nothing fails.
    let report = validate(
        target(),
        &Filter::new(&[], &[], Profile::Full).unwrap(),
        |_| {},
    )
    .await;
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let replication = report
        .checks
        .iter()
        .find(|c| c.id == "postgres.replication")
        .unwrap();
    assert_eq!(replication.status, Status::Skipped, "{replication:?}");

    stack.shutdown(Duration::from_secs(60)).await.unwrap();
    drop(private);
}
