//! A CI fleet on one shared deployment: runs of a suite (shards) on one cluster, each kept
//! apart by a namespace of its own or by a prefix, each leaving nothing once its last
//! process exits, and what a killed run left swept by a later run only past the run TTL.
//!
//! The run's shared stack plays the shared cluster; each shard is this binary run again as a
//! child process (the ignored `shard` test) with the external backend pointed at it and a
//! state folder of its own, as a CI job on another machine would be.

use crate::gateway;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use temporal_harness::config::RunIsolation;
use temporal_harness::stack::{connect, RunScope};
use temporal_harness::{temporal_test, Stack, StackConfig, TestRunner};
use temporalio_client::{tonic, Connection};
use temporalio_common::protos::temporal::api::namespace::v1::NamespaceFilter;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    ListNamespacesRequest, ListWorkflowExecutionsRequest,
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};
use test_support::{private_state_dir, GreetWorkflow};

/// A workflow that stays open (a day-long timer): what a test leaves running.
#[workflow]
#[derive(Default)]
pub struct StaysOpen;

#[workflow_methods]
impl StaysOpen {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        ctx.timer(Duration::from_secs(24 * 3600)).await;
        Ok(())
    }
}

/// Set in a shard: a file whose appearance lets the shard end (until then it holds its run).
const HOLD_ENV: &str = "FLEET_TEST_HOLD";
/// Set in a shard: `<folder>:<n>`, a barrier the shard's processes meet at before ending.
const BARRIER_ENV: &str = "FLEET_TEST_BARRIER";

/// One shard's tests in one: runs a workflow, leaves one open, and sees through visibility
/// its own run's workflows only. Prints `FLEET-RUN <id> <namespace>` once its run is known
/// and `FLEET-READY` once both workflows are visible.
#[temporal_test(workflows(GreetWorkflow, StaysOpen), activities(test_support::Greeter))]
#[ignore = "a shard: run by the fleet tests in a child process against a shared deployment"]
async fn shard(runner: TestRunner) {
    let run = runner
        .endpoints()
        .run
        .clone()
        .expect("the shard runs in a run");
    println!("FLEET-RUN {} {}", run.id, runner.namespace());
    let greeting = runner.execute(GreetWorkflow::run, "fleet".into()).await;
    assert_eq!(greeting.unwrap(), "Hello, fleet!");
    let open = runner.start(StaysOpen::run, ()).await.unwrap();
    let mine: HashSet<String> = runner.started_workflows().into_iter().collect();
    assert!(mine.contains(open.info().workflow_id.as_str()));
    let connection = connect(&runner.endpoints().temporal, Duration::from_secs(10))
        .await
        .unwrap();
    // What the shard can see: under namespace isolation, its whole namespace; under prefix
    // isolation, the shared namespace scoped by the run's query.
    let scope = match run.isolation {
        RunIsolation::Namespace => String::new(),
        _ => run.visibility_query(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let seen = workflow_ids(&connection, runner.namespace(), &scope).await;
        if mine.is_subset(&seen) || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(mine.is_subset(&seen), "visibility lacks {mine:?}: {seen:?}");
    // Besides the run's own workflows, its namespace holds the probe the harness started
    // (and terminated at once) to learn that the new namespace was usable.
    let others: Vec<_> = seen
        .iter()
        .filter(|id| !id.starts_with(&run.id) && !id.starts_with("temporal-harness-readiness-"))
        .collect();
    assert!(others.is_empty(), "run {} sees {others:?}", run.id);
    println!("FLEET-READY");
    if let Ok(barrier) = std::env::var(BARRIER_ENV) {
        let (folder, n) = barrier.rsplit_once(':').unwrap();
        std::fs::write(Path::new(folder).join(std::process::id().to_string()), "").unwrap();
        wait_for(|| std::fs::read_dir(folder).unwrap().count() >= n.parse().unwrap()).await;
    }
    if let Ok(release) = std::env::var(HOLD_ENV) {
        wait_for(|| Path::new(&release).exists()).await;
    }
}

/// Waits (bounded) for a condition another process makes true.
async fn wait_for(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "the fleet test never released the shard"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn workflow_ids(connection: &Connection, namespace: &str, query: &str) -> HashSet<String> {
    let listed = connection
        .workflow_service()
        .list_workflow_executions(tonic::Request::new(ListWorkflowExecutionsRequest {
            namespace: namespace.into(),
            page_size: 1000,
            query: query.into(),
            ..Default::default()
        }))
        .await
        .expect("visibility lists workflows")
        .into_inner();
    listed
        .executions
        .into_iter()
        .filter_map(|e| e.execution.map(|x| x.workflow_id))
        .collect()
}

/// The registered namespaces of the deployment.
async fn namespaces(connection: &Connection) -> HashSet<String> {
    let listed = connection
        .workflow_service()
        .list_namespaces(tonic::Request::new(ListNamespacesRequest {
            page_size: 1000,
            namespace_filter: Some(NamespaceFilter {
                include_deleted: false,
            }),
            ..Default::default()
        }))
        .await
        .expect("namespaces listed")
        .into_inner();
    listed
        .namespaces
        .into_iter()
        .filter_map(|n| n.namespace_info.map(|i| i.name))
        .collect()
}

/// The open workflows of the run `id` in `namespace`.
async fn open_workflows(connection: &Connection, namespace: &str, run: &str) -> HashSet<String> {
    let query = format!(
        "ExecutionStatus = 'Running' AND ({})",
        scope_of(run).visibility_query()
    );
    workflow_ids(connection, namespace, &query).await
}

/// The run with ID `id`, as a CI script that knows only the ID would rebuild it.
fn scope_of(id: &str) -> RunScope {
    serde_json::from_value(serde_json::json!({ "id": id, "isolation": "prefix" })).unwrap()
}

/// The shared deployment: the run's stack, and a namespace of this test's own on it (the
/// one its shards are configured with).
struct Deployment {
    _stack: Stack,
    address: String,
    namespace: String,
    connection: Connection,
}

async fn deployment(name: &str) -> Deployment {
    let stack = Stack::acquire(&StackConfig::load().unwrap()).await.unwrap();
    let target = stack.endpoints().temporal.clone();
    let namespace = format!(
        "fleet-{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let connection = connect(&target, Duration::from_secs(10)).await.unwrap();
    register(&connection, &namespace).await;
    Deployment {
        address: target.address.clone(),
        namespace,
        connection,
        _stack: stack,
    }
}

async fn register(connection: &Connection, namespace: &str) {
    use temporalio_common::protos::temporal::api::workflowservice::v1::{
        DescribeNamespaceRequest, RegisterNamespaceRequest,
    };
    connection
        .workflow_service()
        .register_namespace(tonic::Request::new(RegisterNamespaceRequest {
            namespace: namespace.into(),
            workflow_execution_retention_period: Duration::from_secs(86400).try_into().ok(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while connection
        .workflow_service()
        .describe_namespace(tonic::Request::new(DescribeNamespaceRequest {
            namespace: namespace.into(),
            ..Default::default()
        }))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "{namespace} never became visible"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A shard: this binary's `shard` test in a child process, on `deployment` with `isolation`,
/// its state in `state_dir`.
fn shard_process(
    deployment: &Deployment,
    isolation: RunIsolation,
    state_dir: &Path,
    ttl: &str,
    extra: &[(&str, String)],
) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "fleet::shard", "--ignored", "--nocapture"])
        .env("TEMPORAL_HARNESS_BACKEND", "external")
        .env("TEMPORAL_HARNESS_ADDRESS", &deployment.address)
        .env("TEMPORAL_HARNESS_NAMESPACE", &deployment.namespace)
        .env("TEMPORAL_HARNESS_ISOLATION", isolation.to_string())
        .env("TEMPORAL_HARNESS_RUN_TTL", ttl)
        .env("TEMPORAL_HARNESS_STATE_DIR", state_dir)
        .env_remove(HOLD_ENV)
        .env_remove(BARRIER_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("shard process")
}

/// Reads a shard's stdout until `FLEET-READY`; returns its run ID and namespace.
fn until_ready(child: &mut Child) -> (String, String) {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped");
    let mut run = None;
    let mut lines = std::io::BufReader::new(stdout);
    let mut line = String::new();
    while lines.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.trim_end().strip_prefix("FLEET-RUN ") {
            let (id, ns) = rest.split_once(' ').unwrap();
            run = Some((id.to_string(), ns.to_string()));
        }
        if line.trim_end() == "FLEET-READY" {
            // The rest is read to its end, so the shard never writes to a closed pipe.
            std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
            return run.expect("FLEET-RUN before FLEET-READY");
        }
        line.clear();
    }
    panic!("the shard ended before it was ready: {}", finish(child));
}

/// Waits for a shard to end and returns its stderr; fails the test if the shard failed.
fn finish(child: &mut Child) -> String {
    use std::io::Read;
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).unwrap();
    }
    assert!(status.success(), "the shard failed ({status}):\n{stderr}");
    stderr
}

/// What a run left on the deployment: its namespaces, and its open workflows in `namespace`.
async fn left_by(d: &Deployment, run: &str) -> (Vec<String>, HashSet<String>) {
    let namespaces = namespaces(&d.connection)
        .await
        .into_iter()
        .filter(|n| n.contains(run))
        .collect();
    (
        namespaces,
        open_workflows(&d.connection, &d.namespace, run).await,
    )
}

async fn shards_keep_apart_and_leave_nothing(isolation: RunIsolation) {
    let d = deployment(&isolation.to_string()).await;
    let (a, b) = (private_state_dir("fleet-a"), private_state_dir("fleet-b"));
    let barrier = tempfile::tempdir().unwrap();
    let meet = [(BARRIER_ENV, format!("{}:3", barrier.path().display()))];
    // Shard A is two processes of one run (as nextest runs a shard); shard B is one.
    let mut shards = [
        shard_process(&d, isolation, a.path(), "3h", &meet),
        shard_process(&d, isolation, a.path(), "3h", &meet),
        shard_process(&d, isolation, b.path(), "3h", &meet),
    ];
    let runs: Vec<_> = shards.iter_mut().map(until_ready).collect();
    let ends: Vec<_> = shards.iter_mut().map(finish).collect();
    assert_eq!(runs[0], runs[1], "the processes of one shard share one run");
    assert_ne!(runs[0].0, runs[2].0, "two shards, two runs");
    for (run, namespace) in &runs {
        match isolation {
            RunIsolation::Namespace => assert_eq!(namespace, run),
            _ => assert_eq!(namespace, &d.namespace),
        }
        let (namespaces, open) = left_by(&d, run).await;
        assert!(namespaces.is_empty(), "run {run} left {namespaces:?}");
        assert!(open.is_empty(), "run {run} left {open:?} open");
    }
    let ended = ends
        .iter()
        .filter(|e| e.contains("its last process exited"))
        .count();
    assert_eq!(
        ended, 2,
        "each run is ended once, by its last process:\n{ends:#?}"
    );
}

#[tokio::test]
async fn shards_with_namespaces_of_their_own_keep_apart_and_leave_nothing() {
    shards_keep_apart_and_leave_nothing(RunIsolation::Namespace).await;
}

#[tokio::test]
async fn shards_with_prefixes_keep_apart_and_leave_nothing() {
    shards_keep_apart_and_leave_nothing(RunIsolation::Prefix).await;
}

async fn a_killed_shard_is_swept_after_its_ttl_only(isolation: RunIsolation) {
    let d = deployment(&format!("killed-{isolation}")).await;
    let states = ["k", "s1", "l", "s2"].map(|s| private_state_dir(&format!("fleet-{s}")));
    let release = tempfile::tempdir().unwrap();
    let hold = [(HOLD_ENV, release.path().join("go").display().to_string())];
    // The killed shard: it holds its run (a namespace or an open workflow) until SIGKILLed.
    let spawned = Instant::now();
    let mut killed = shard_process(&d, isolation, states[0].path(), "3h", &hold);
    let (k_run, _) = until_ready(&mut killed);
    let ready_in = spawned.elapsed();
    let k_seen = SystemTime::now();
    killed.kill().unwrap();
    killed.wait().unwrap();
    let left = left_by(&d, &k_run).await;
    assert!(
        !left.0.is_empty() || !left.1.is_empty(),
        "a SIGKILLed shard ends nothing"
    );
    // A later run with a TTL longer than the leftovers' age leaves them alone.
    let mut early = shard_process(&d, isolation, states[1].path(), "1h", &[]);
    until_ready(&mut early);
    finish(&mut early);
    assert_eq!(left_by(&d, &k_run).await, left, "swept before its TTL");
    // The TTL from this machine's own pace: a shard that got ready in `ready_in` sweeps long
    // before a concurrent run started after the killed one's TTL is that old.
    let ttl = (ready_in * 6).max(Duration::from_secs(5));
    while SystemTime::now() < k_seen + ttl + Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut live = shard_process(&d, isolation, states[2].path(), "3h", &hold);
    let (l_run, _) = until_ready(&mut live);
    let l_left = left_by(&d, &l_run).await;
    let ttl_text = format!("{}s", ttl.as_secs());
    let mut sweeper = shard_process(&d, isolation, states[3].path(), &ttl_text, &[]);
    until_ready(&mut sweeper);
    let said = finish(&mut sweeper);
    assert_eq!(
        left_by(&d, &k_run).await,
        (Vec::new(), HashSet::new()),
        "the killed run's leftovers outlived their TTL ({ttl:?}):\n{said}"
    );
    // (Under namespace isolation another test's sweeper may have got there first: a sweep
    // reaps every expired run's namespace on the deployment, by design.)
    if isolation == RunIsolation::Prefix {
        assert!(said.contains("swept leftovers"), "{said}");
    }
    assert_eq!(
        left_by(&d, &l_run).await,
        l_left,
        "a live run was touched:\n{said}"
    );
    std::fs::write(release.path().join("go"), "").unwrap();
    finish(&mut live);
    assert_eq!(left_by(&d, &l_run).await, (Vec::new(), HashSet::new()));
}

#[tokio::test]
async fn a_killed_shards_namespace_is_swept_after_its_ttl_only() {
    a_killed_shard_is_swept_after_its_ttl_only(RunIsolation::Namespace).await;
}

#[tokio::test]
async fn a_killed_shards_open_workflows_are_swept_after_their_ttl_only() {
    a_killed_shard_is_swept_after_its_ttl_only(RunIsolation::Prefix).await;
}

/// A run through a TLS gateway that wants an API key, as Temporal Cloud's does: every call of
/// the run (its set-up and its clean-up too) goes over TLS with the key, the run leaves
/// nothing, and a run without the key is refused with words that name the cause.
async fn a_run_over_tls_with_an_api_key_leaves_nothing(isolation: RunIsolation) {
    let d = deployment(&format!("tls-{isolation}")).await;
    let key = format!("key-{}", uuid::Uuid::new_v4().simple());
    let gateway = gateway::start(&d.address, &key);
    let tls = [
        ("TEMPORAL_HARNESS_ADDRESS", gateway.address.clone()),
        (
            "TEMPORAL_HARNESS_TLS_CA",
            gateway.ca_file.display().to_string(),
        ),
        (
            "TEMPORAL_HARNESS_TLS_SERVER_NAME",
            gateway::SERVER_NAME.to_string(),
        ),
    ];
    let mut with_key = tls.to_vec();
    with_key.push(("TEMPORAL_HARNESS_API_KEY", key.clone()));
    let state = private_state_dir("fleet-tls");
    let mut shard = shard_process(&d, isolation, state.path(), "3h", &with_key);
    let (run, _) = until_ready(&mut shard);
    let said = finish(&mut shard);
    assert_eq!(left_by(&d, &run).await, (Vec::new(), HashSet::new()));
    assert_eq!(gateway.refused(), 0, "a call went without the key");
    let passed = gateway.passed();
    let clean_up: &[&str] = match isolation {
        RunIsolation::Namespace => &["RegisterNamespace", "DeleteNamespace"],
        _ => &["TerminateWorkflowExecution"],
    };
    for method in ["StartWorkflowExecution", "PollWorkflowTaskQueue"]
        .iter()
        .chain(clean_up)
    {
        assert!(
            passed.iter().any(|p| p.ends_with(&format!("/{method}"))),
            "{method} did not go through the gateway: {passed:?}\n{said}"
        );
    }
    assert!(!said.contains(&key), "the key was shown:\n{said}");

    let keyless_state = private_state_dir("fleet-keyless");
    let keyless = shard_process(&d, isolation, keyless_state.path(), "3h", &tls);
    let output = keyless.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a run without the key passed");
    assert!(gateway.refused() > 0, "the gateway refused nothing");
    // Refused at once: credentials are not a thing to wait for.
    assert!(
        stderr.contains("refused the credentials (neither an API key nor a client certificate)")
            && !stderr.contains("still so after"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_run_with_a_namespace_of_its_own_over_tls_with_an_api_key_leaves_nothing() {
    a_run_over_tls_with_an_api_key_leaves_nothing(RunIsolation::Namespace).await;
}

#[tokio::test]
async fn a_run_with_a_prefix_over_tls_with_an_api_key_leaves_nothing() {
    a_run_over_tls_with_an_api_key_leaves_nothing(RunIsolation::Prefix).await;
}
