//! What the integration tests of the workspace share (the root crate's `tests/` and the CLI's
//! `cli/tests/`): a small workflow with an activity, run end to end with plain SDK code
//! (worker + client) against a stack's endpoints, private state folders, and probes for what
//! a stack left behind. Never published (`publish = false`).

use std::time::Duration;
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::{Endpoints, StackConfig};
use temporalio_client::{Client, ClientOptions, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

#[workflow]
#[derive(Default)]
pub struct GreetWorkflow;

#[workflow_methods]
impl GreetWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let greeting = ctx
            .execute_activity(
                Greeter::greet,
                name,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        Ok(greeting)
    }
}

pub struct Greeter;

#[activities]
impl Greeter {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }
}

/// A config for one backend and flavour, with a state folder of its own when `isolated`.
pub fn config(backend: BackendKind, flavor: Flavor) -> StackConfig {
    let mut config = StackConfig::load().expect("valid test configuration");
    config.backend = backend;
    config.flavor = flavor;
    config
}

/// A state folder no other test uses: stacks in it are this test's alone, torn down with the
/// folder when it is dropped (a failing test's too).
pub fn private_state_dir(name: &str) -> temporal_harness::stack::PrivateStateDir {
    temporal_harness::stack::PrivateStateDir::new(&format!("test-{name}"))
        .expect("private state folder")
}

/// Every process the stacks under `state_dir` registered for teardown (and each restart's
/// new process), read before shutdown.
pub fn registered_pids(state_dir: &std::path::Path) -> Vec<i32> {
    let stacks = std::fs::read_dir(state_dir).expect("state folder");
    let mut pids = Vec::new();
    for stack in stacks.flatten().filter(|e| e.path().is_dir()) {
        let text = std::fs::read_to_string(stack.path().join("pids")).unwrap_or_default();
        pids.extend(
            text.lines()
                .filter_map(|l| l.split(' ').next()?.parse::<i32>().ok()),
        );
    }
    pids
}

/// Fails naming the processes of `pids` still running (a zombie counts as gone).
pub fn no_process_left(pids: &[i32]) {
    let alive: Vec<_> = pids
        .iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        })
        .collect();
    assert!(alive.is_empty(), "processes of the stack left: {alive:?}");
}

async fn client(endpoints: &Endpoints) -> Client {
    let connection = temporal_harness::stack::connect(&endpoints.temporal, Duration::from_secs(10))
        .await
        .expect("connect");
    Client::new(
        connection,
        ClientOptions::new(endpoints.namespace.clone()).build(),
    )
    .expect("client")
}

/// Starts `GreetWorkflow` with no worker polling yet; returns (workflow id, task queue).
pub async fn start_greeting(endpoints: &Endpoints) -> (String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (task_queue, workflow_id) = (format!("tq-{id}"), format!("greet-{id}"));
    client(endpoints)
        .await
        .start_workflow(
            GreetWorkflow::run,
            "stack".to_string(),
            WorkflowStartOptions::new(task_queue.clone(), workflow_id.clone()).build(),
        )
        .await
        .expect("start workflow");
    (workflow_id, task_queue)
}

/// Runs a worker on `task_queue` until `workflow_id` (a `GreetWorkflow`) completes; returns
/// its result.
pub async fn finish_greeting(endpoints: &Endpoints, workflow_id: &str, task_queue: &str) -> String {
    let client = client(endpoints).await;
    let runtime = Runtime::from_current_tokio(Default::default()).expect("runtime");
    let options = WorkerOptions::new(task_queue.to_string())
        .register_workflow::<GreetWorkflow>()
        .expect("register workflow")
        .register_activities(Greeter)
        .build();
    let mut worker = Worker::new(&runtime, client.clone(), options).expect("worker");
    let stop = worker.shutdown_handle();
    let handle = client.get_workflow_handle::<GreetWorkflow>(workflow_id);
    // Worker::run is !Send: drive it in this task, next to the client side.
    let (ran, result) = tokio::join!(worker.run(), async {
        let result = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .expect("workflow result");
        stop();
        result
    });
    ran.expect("worker ran");
    result
}

/// Runs `GreetWorkflow` through a real worker on `endpoints`; returns (workflow id, result).
pub async fn run_greeting(endpoints: &Endpoints) -> (String, String) {
    let (workflow_id, task_queue) = start_greeting(endpoints).await;
    let result = finish_greeting(endpoints, &workflow_id, &task_queue).await;
    (workflow_id, result)
}

/// Labelled containers of a stack key prefix still present (running or not).
pub fn containers_labelled(key_prefix: &str) -> usize {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            "{{.Label \"io.temporal-harness.stack\"}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(key_prefix))
        .count()
}
