//! A kept stack that stops answering: what can be seen at once (containers removed, paused or
//! stopped; processes gone or stopped) is reported at once; otherwise the wait shows progress.
//! Either way it is reported, never replaced: its data is the user's.

use super::endpoints::Endpoints;
use super::error::cause_only;
use super::process::{process_alive, process_state};
use super::readiness::wait_ready;
use super::state::StackDir;
use super::{reaper, StackError, StateError};
use crate::config::{BackendKind, StackConfig};
use std::time::{Duration, Instant};

/// How often a wait for a kept stack says it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Waits for the kept stack in `dir` to answer; `Err` says why it cannot be used.
pub(crate) async fn wait_for_kept(
    dir: &StackDir,
    endpoints: &Endpoints,
    config: &StackConfig,
) -> Result<(), StackError> {
    if let Some((cause, fix)) = visible_problem(dir, endpoints) {
        return Err(StackError::State(StateError::KeptStackDown {
            path: dir.path(),
            cause,
            fix,
        }));
    }
    let started = Instant::now();
    loop {
        let left = config.startup_timeout.saturating_sub(started.elapsed());
        let slice = left.min(PROGRESS_EVERY);
        match wait_ready(&endpoints.temporal, &config.namespace, true, slice).await {
            Ok(_) => return Ok(()),
            Err(e) if slice == left => {
                return Err(StackError::State(StateError::KeptStackUnhealthy {
                    path: dir.path(),
                    waited: config.startup_timeout,
                    source: e.into(),
                }))
            }
            Err(e) => eprintln!(
                "temporal-harness: the kept stack in {} does not answer yet ({}s of {}s): {}",
                dir.path().display(),
                started.elapsed().as_secs(),
                config.startup_timeout.as_secs(),
                cause_only(&e)
            ),
        }
    }
}

/// What makes the stack unusable that can be seen without waiting: `(cause, fix)`.
fn visible_problem(dir: &StackDir, endpoints: &Endpoints) -> Option<(String, String)> {
    match endpoints.backend {
        BackendKind::Containers => {
            let states = reaper::container_states(&dir.label().ok()?)?;
            if states.is_empty() {
                return Some((
                    "its containers are gone (removed outside the harness)".into(),
                    "remove what is left of it and boot a new one".into(),
                ));
            }
            let named = |wanted: &[&str]| -> Vec<String> {
                states
                    .iter()
                    .filter(|(_, state)| wanted.contains(&state.as_str()))
                    .map(|(name, _)| name.clone())
                    .collect()
            };
            let paused = named(&["paused"]);
            if !paused.is_empty() {
                return Some((
                    format!("its containers are paused: {}", paused.join(", ")),
                    format!("`docker unpause {}`", paused.join(" ")),
                ));
            }
            let stopped = named(&["exited", "dead", "created"]);
            (!stopped.is_empty()).then(|| {
                (
                    format!("its containers are stopped: {}", stopped.join(", ")),
                    format!("`docker start {}`", stopped.join(" ")),
                )
            })
        }
        BackendKind::Local => {
            let pids = dir.recorded_pids();
            let gone: Vec<String> = pids
                .iter()
                .filter(|p| !process_alive(**p))
                .map(ToString::to_string)
                .collect();
            if !gone.is_empty() {
                return Some((
                    format!("its processes ended (pid {})", gone.join(", ")),
                    "they cannot be restarted in place: remove the stack and boot a new one".into(),
                ));
            }
            let stopped: Vec<String> = pids
                .iter()
                .filter(|p| process_state(**p) == Some('T'))
                .map(ToString::to_string)
                .collect();
            (!stopped.is_empty()).then(|| {
                (
                    format!("its processes are stopped (pid {})", stopped.join(", ")),
                    format!("`kill -CONT {}`", stopped.join(" ")),
                )
            })
        }
        _ => None,
    }
}
