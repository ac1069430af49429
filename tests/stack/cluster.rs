//! The cluster topology: frontend, two history hosts, matching and worker as separate local
//! processes on one PostgreSQL. It runs workflows and validates whole; a killed history host
//! fails `temporal.membership` while its shards move to the other one; restarted nodes
//! (history, matching, the frontend) rejoin and workflows keep running; nothing is left.

use std::time::{Duration, Instant};
use temporal_harness::config::{BackendKind, Flavor, Topology};
use temporal_harness::stack::PrivateStateDir;
use temporal_harness::validation::{registry, CheckResult, Session, Status, Target};
use temporal_harness::{Stack, StackConfig};

const BOUND: Duration = Duration::from_secs(90);

async fn cluster(name: &str) -> (Stack, StackConfig, PrivateStateDir) {
    let private = test_support::private_state_dir(name);
    let mut config = test_support::config(BackendKind::Local, Flavor::Postgres);
    config.topology = Topology::Cluster;
    config.ui = Some(false);
    config.state_dir = private.path().to_path_buf();
    let stack = Stack::acquire(&config).await.expect("cluster stack");
    (stack, config, private)
}

async fn check(stack: &Stack, id: &str) -> CheckResult {
    let check = registry().into_iter().find(|c| c.id == id).expect(id);
    let session = Session::new(Target::from_endpoints(stack.endpoints()));
    let result = check.run(&session).await;
    session.close();
    result
}

/// Runs check `id` until `done` accepts its result, at most [`BOUND`]; the server notices a
/// dead host in seconds (its membership gossip), not at once.
async fn until(stack: &Stack, id: &str, done: impl Fn(&CheckResult) -> bool) -> CheckResult {
    let started = Instant::now();
    loop {
        let result = check(stack, id).await;
        if done(&result) {
            println!("{id}: {:?} after {:.2?}", result.status, started.elapsed());
            return result;
        }
        assert!(
            started.elapsed() < BOUND,
            "{id} after {BOUND:?}: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_cluster_runs_workflows_and_validates_whole() {
    let (stack, config, _private) = cluster("whole").await;
    assert!(
        stack.endpoints().description.contains("as a cluster"),
        "{}",
        stack.endpoints().description
    );
    let (_, greeting) = test_support::run_greeting(stack.endpoints()).await;
    assert_eq!(greeting, "Hello, stack!");
    let membership = check(&stack, "temporal.membership").await;
    assert_eq!(membership.status, Status::Passed, "{membership:?}");
    assert_eq!(membership.measurements["history_hosts"], 2.0);
    // The second history host takes its shards over from the first after it joins: on a
    // loaded machine a shard was still between them after the first workflow (`1 of 4 shards
    // have no owner`). A deployment's shards settle; the check must then pass.
    let all_owned = "all 4 shards owned (2 history host(s)";
    let shards = until(&stack, "temporal.shards", |r| r.message.contains(all_owned)).await;
    assert!(shards.message.contains(all_owned), "{shards:?}");
    let budget = check(&stack, "postgres.connection_budget").await;
    assert_eq!(budget.measurements["pool_connections_needed"], 150.0);
    let pids = test_support::registered_pids(&config.state_dir);
    assert!(pids.len() >= 6, "{pids:?}");
    stack.shutdown(Duration::from_secs(60)).await.expect("down");
    test_support::no_process_left(&pids);
}

#[tokio::test]
async fn killed_and_restarted_nodes_fail_then_pass_and_workflows_keep_running() {
    let (stack, config, _private) = cluster("faults").await;
    let nodes = stack.cluster().expect("cluster control");

    nodes.kill("history-2").await.expect("kill history-2");
    let down = until(&stack, "temporal.membership", |r| {
        r.message.contains("history has 1 of 2 hosts")
    })
    .await;
    assert_eq!(down.status, Status::Failed, "{down:?}");
    assert!(
        down.message.contains("history has 1 of 2 hosts"),
        "{down:?}"
    );
    // The survivor takes over every shard; workflows run on it.
    let moved = until(&stack, "temporal.shards", |r| r.status == Status::Passed).await;
    assert!(
        moved
            .message
            .contains("all 4 shards owned (1 history host(s)"),
        "{moved:?}"
    );
    test_support::run_greeting(stack.endpoints()).await;

    nodes
        .restart("history-2", BOUND)
        .await
        .expect("restart history-2");
    until(&stack, "temporal.membership", |r| {
        r.status == Status::Passed
    })
    .await;
    until(&stack, "temporal.shards", |r| {
        r.message.contains("(2 history host(s)")
    })
    .await;

    for node in ["matching", "frontend"] {
        nodes.restart(node, BOUND).await.expect(node);
        let (_, greeting) = test_support::run_greeting(stack.endpoints()).await;
        assert_eq!(greeting, "Hello, stack!", "after restarting {node}");
    }
    let error = nodes.kill("history-3").await.unwrap_err().to_string();
    assert!(error.contains("history-1, history-2"), "{error}");

    let pids = test_support::registered_pids(&config.state_dir);
    assert!(pids.len() >= 6, "{pids:?}");
    stack.shutdown(Duration::from_secs(60)).await.expect("down");
    test_support::no_process_left(&pids);
}

#[tokio::test]
async fn the_cluster_topology_refuses_what_it_cannot_run() {
    for (backend, flavor, says) in [
        (
            BackendKind::Local,
            Flavor::Dev,
            "needs the PostgreSQL flavour",
        ),
        (
            BackendKind::Containers,
            Flavor::Postgres,
            "runs on the local backend",
        ),
    ] {
        let mut config = test_support::config(backend, flavor);
        config.topology = Topology::Cluster;
        let private = test_support::private_state_dir("refused");
        config.state_dir = private.path().to_path_buf();
        let error = Stack::acquire(&config).await.unwrap_err().to_string();
        assert!(error.contains(says), "{error}");
        assert!(
            error.contains("Fix: TEMPORAL_HARNESS_BACKEND=local"),
            "{error}"
        );
    }
}
