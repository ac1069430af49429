//! Reaping: removing Docker containers and networks no live stack owns, through the Docker API
//! client (bollard, as testcontainers uses it), never by running the `docker` CLI.
//!
//! Two callers: a boot (and `down`) removes what earlier runs left behind; a boot abandoned
//! mid-way (Ctrl-C dropped its future) sweeps what it was creating. Both may run where no
//! async runtime can be entered (a `Drop` inside a runtime), so each runs on a thread and
//! runtime of its own and is bounded in time. The keeper (`keeper.sh`) outlives the test
//! process and so cannot link a Docker client; when its `docker` call fails or finds no CLI,
//! what it left is reaped here by the next run.

use super::containers::docker;
use super::labels::{root_label, ROOT_LABEL, STACK_LABEL};
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};
use testcontainers::bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, RemoveContainerOptions,
};
use testcontainers::bollard::Docker;

/// Removes the containers of the state folder `root` whose stack folder no longer names them
/// (a teardown that removed the folder but not the container, for whatever reason): nothing
/// may outlive its stack. A stack being booted has its folder and label written first.
/// Returns how many were removed; without Docker there is nothing to reap.
pub(crate) fn reap_orphan_containers(root: &Path) -> usize {
    let live_labels = live_stack_labels(root);
    let filter = label_filter(ROOT_LABEL, &root_label(root));
    on_own_runtime(async move {
        let Ok(docker) = docker().await else { return 0 };
        let orphans: Vec<String> = containers(&docker, &filter)
            .await
            .into_iter()
            .filter(|(_, stack)| !live_labels.iter().any(|l| Some(l) == stack.as_ref()))
            .map(|(id, _)| id)
            .collect();
        let mut removed = 0;
        for id in orphans {
            if remove_container(&docker, &id).await {
                removed += 1;
            }
        }
        removed
    })
    .unwrap_or(0)
}

/// After a boot was abandoned mid-way (its future dropped on Ctrl-C), a container or network
/// create request it had sent may still be landing in the daemon after the teardown looked.
/// Removes everything with the boot's `label` until the daemon has been quiet for 0.5 s (at
/// most 3 s): a request already sent completes within milliseconds.
pub(crate) fn sweep_abandoned_boot(label: &str) {
    let filter = label_filter(STACK_LABEL, label);
    on_own_runtime(async move {
        let Ok(docker) = docker().await else { return };
        let started = Instant::now();
        let mut quiet_since = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            let containers = containers(&docker, &filter).await;
            let networks = networks(&docker, &filter).await;
            if containers.is_empty() && networks.is_empty() {
                if quiet_since.elapsed() >= Duration::from_millis(500) {
                    return;
                }
            } else {
                quiet_since = Instant::now();
                for (id, _) in &containers {
                    remove_container(&docker, id).await;
                }
                for id in &networks {
                    let _ = docker.remove_network(id).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// The labels the stack folders under `root` give their containers.
fn live_stack_labels(root: &Path) -> Vec<String> {
    super::state::stacks(root)
        .iter()
        .filter_map(|stack| stack.label().ok())
        .collect()
}

fn label_filter(key: &str, value: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{key}={value}")])])
}

/// IDs of the containers (running or not) matching `filter`, with their stack label.
async fn containers(
    docker: &Docker,
    filter: &HashMap<String, Vec<String>>,
) -> Vec<(String, Option<String>)> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(filter.clone()),
        ..Default::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let stack = c.labels.as_ref().and_then(|l| l.get(STACK_LABEL)).cloned();
            c.id.map(|id| (id, stack))
        })
        .collect()
}

async fn networks(docker: &Docker, filter: &HashMap<String, Vec<String>>) -> Vec<String> {
    let options = ListNetworksOptions {
        filters: Some(filter.clone()),
    };
    docker
        .list_networks(Some(options))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| n.id)
        .collect()
}

/// Force-removes a container with its anonymous volumes (`docker rm -f -v`).
async fn remove_container(docker: &Docker, id: &str) -> bool {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    docker.remove_container(id, Some(options)).await.is_ok()
}

/// Runs `work` to completion on a new thread with a runtime of its own: callable from sync
/// code, from `Drop`, and from inside another runtime alike. `None` if no thread or runtime
/// could be had (nothing is reaped then; the next run tries again).
fn on_own_runtime<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Option<T> {
    std::thread::Builder::new()
        .name("temporal-harness-reaper".into())
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
                .map(|runtime| runtime.block_on(work))
        })
        .ok()?
        .join()
        .ok()
        .flatten()
}

/// The state Docker reports (`running`, `paused`, `exited`, ...) of each container carrying
/// the stack `label`, by name; `None` when Docker cannot be asked.
pub(crate) fn container_states(label: &str) -> Option<Vec<(String, String)>> {
    let filter = label_filter(STACK_LABEL, label);
    on_own_runtime(async move {
        let docker = docker().await.ok()?;
        let options = ListContainersOptions {
            all: true,
            filters: Some(filter),
            ..Default::default()
        };
        let listed = docker.list_containers(Some(options)).await.ok()?;
        Some(
            listed
                .into_iter()
                .map(|c| {
                    let name = c
                        .names
                        .and_then(|n| n.first().cloned())
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string();
                    let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                    (name, state)
                })
                .collect(),
        )
    })
    .flatten()
}
