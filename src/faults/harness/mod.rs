//! Runs a workload under a fault schedule on a real stack and checks the invariants.
//!
//! The worker reaches Temporal through a proxy the harness owns (network faults happen
//! there); the harness's own client goes through a second, never-faulted proxy, so both
//! follow the server to its new address after a restart.

mod apply;
mod boot;
mod case;
mod checks;

use super::model::Schedule;
use super::proxy::Proxy;
use crate::runner::History;
use crate::stack::{
    ClusterControl, FailoverControl, PersistenceFault, PrivateStateDir, Stack, StackControl,
    TemporalTarget,
};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;
use temporalio_client::Client;

/// Longest one case may take before it fails as hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between polls of a workflow's progress.
const POLL: Duration = Duration::from_millis(20);

/// A schedule under which an invariant did not hold.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The schedule.
    pub schedule: Schedule,
    /// The server's persistence faults, when the harness has any.
    pub persistence: Vec<PersistenceFault>,
    /// The histories of the jobs a failure names, written to files (Temporal's JSON: the
    /// Web UI and `temporal-harness histories show` open them), with each one rendered.
    pub histories: Vec<(std::path::PathBuf, String)>,
    /// Every invariant that failed, with what was seen.
    pub failures: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invariants violated:")?;
        for failure in &self.failures {
            writeln!(f, "  - {failure}")?;
        }
        if !self.persistence.is_empty() {
            writeln!(
                f,
                "persistence faults (FaultHarness::with_persistence_faults):\nvec!["
            )?;
            for fault in &self.persistence {
                writeln!(f, "    {fault},")?;
            }
            writeln!(f, "]")?;
        }
        for (path, rendered) in &self.histories {
            writeln!(f, "history {}:\n{rendered}", path.display())?;
        }
        write!(
            f,
            "schedule (paste as a regression case):\n{}",
            self.schedule
        )
    }
}

impl std::error::Error for Violation {}

/// A case in which every invariant held: what it ran, for a test that derives bounds from a
/// run without faults (a control) instead of guessing them.
#[derive(Debug, Clone)]
pub struct Passed {
    /// Each job's history, in the workload's order of jobs.
    pub histories: Vec<History>,
}

/// Runs workloads under schedules; see the module docs.
pub struct FaultHarness {
    stack: Option<Stack>,
    control: Option<StackControl>,
    namespace: String,
    worker_target: TemporalTarget,
    worker_proxy: Proxy,
    client_proxy: Proxy,
    client: Client,
    applied: Mutex<BTreeMap<&'static str, usize>>,
    private_state: Option<PrivateStateDir>,
    persistence: Vec<PersistenceFault>,
    cluster: Option<ClusterControl>,
    failover: Option<FailoverControl>,
}

impl FaultHarness {
    /// The containers a server restart or outage acts on (exclusive harnesses only): to
    /// check that none outlives the suite.
    pub fn containers(&self) -> Option<[String; 2]> {
        self.control.as_ref().map(StackControl::containers)
    }

    /// How many times each fault kind was applied (or, for activity faults, fired) so far.
    pub fn exercised(&self) -> BTreeMap<&'static str, usize> {
        self.applied.lock().expect("stats lock").clone()
    }

    fn count(&self, kinds: BTreeMap<&'static str, usize>) {
        let mut applied = self.applied.lock().expect("stats lock");
        for (kind, n) in kinds {
            *applied.entry(kind).or_default() += n;
        }
    }
}
