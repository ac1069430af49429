//! `temporal.worker_deployments` on a namespace of the test's own: skipped while its workers
//! are unversioned, failed for a Worker Deployment without a current version (naming it and
//! the command that sets one), passed once it has one.

use temporal_harness::prelude::*;
use temporal_harness::runner::Definitions;
use temporal_harness::validation::{registry, CheckResult, Session, Status, Target};
use temporalio_common::worker::VersioningBehavior;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

#[workflow]
#[derive(Default)]
pub struct Noop;

#[workflow_methods]
impl Noop {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        Ok(())
    }
}

async fn check(runner: &TestRunner) -> CheckResult {
    let mut target = Target::from_endpoints(runner.endpoints());
    target.namespace = runner.namespace().to_string();
    let check = registry()
        .into_iter()
        .find(|c| c.id == "temporal.worker_deployments")
        .expect("the check is registered");
    let session = Session::new(target);
    let result = check.run(&session).await;
    session.close();
    eprintln!("{:?}: {}", result.status, result.message);
    result
}

/// Runs the check until `done` accepts its result, at most 30 s: the server lists Worker
/// Deployments from its visibility store, which shows a new deployment, or a new current
/// version, a moment after the change.
async fn check_until(runner: &TestRunner, done: impl Fn(&CheckResult) -> bool) -> CheckResult {
    let started = std::time::Instant::now();
    loop {
        let result = check(runner).await;
        if done(&result) || started.elapsed() > std::time::Duration::from_secs(30) {
            return result;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[temporal_test(namespace = "isolated")]
async fn a_deployment_without_a_current_version_fails_and_passes_once_it_has_one(
    runner: TestRunner,
) -> Result<(), RunnerError> {
    let unversioned = check(&runner).await;
    assert_eq!(unversioned.status, Status::Skipped, "{unversioned:?}");
    assert!(
        unversioned.message.contains("unversioned"),
        "{unversioned:?}"
    );

    let deployment = runner.deployment();
    deployment
        .start_version(
            "v1",
            Definitions::new().workflow::<Noop>(),
            VersioningBehavior::Pinned,
        )
        .await?;
    // Known to the server (its first poll), ramped at 0 %: a version, but no current one.
    deployment.set_ramping("v1", 0.0).await?;
    let stranded = check_until(&runner, |r| r.status != Status::Skipped).await;
    assert_eq!(stranded.status, Status::Failed, "{stranded:?}");
    assert!(
        stranded.message.contains(deployment.name())
            && stranded
                .message
                .contains("Fix: `temporal worker deployment set-current-version"),
        "{stranded:?}"
    );

    deployment.set_current("v1").await?;
    let routed = check_until(&runner, |r| r.status == Status::Passed).await;
    assert_eq!(routed.status, Status::Passed, "{routed:?}");
    assert!(
        routed
            .message
            .contains(&format!("{} -> v1", deployment.name())),
        "{routed:?}"
    );
    assert_eq!(routed.measurements["worker_deployments"], 1.0);
    Ok(())
}
