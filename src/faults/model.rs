//! The fault model: what can go wrong, and when. A [`Schedule`] is what proptest generates
//! and shrinks; its `Display` is Rust code that rebuilds it, to paste as a regression case.

use crate::stack::Outage;
use std::fmt;

/// How an activity attempt fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityFailure {
    /// It returns a (retryable) error after doing its work: the work happened, the report of
    /// it did not.
    Error,
    /// It outlives its start-to-close timeout; the server times it out and retries.
    Timeout,
    /// It panics (the SDK turns the panic into a failed attempt).
    Panic,
}

impl ActivityFailure {
    /// A short name of its kind, for statistics.
    pub fn kind(self) -> &'static str {
        match self {
            ActivityFailure::Error => "activity error",
            ActivityFailure::Timeout => "activity timeout",
            ActivityFailure::Panic => "activity panic",
        }
    }
}

/// A fault in the network between the worker and Temporal (at the harness's proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkFault {
    /// Every chunk forwarded waits this many milliseconds, for the fault's duration.
    Latency {
        /// Added per chunk, each way.
        millis: u64,
    },
    /// Open connections are reset and new ones refused, for the fault's duration.
    Drop,
    /// Open connections are reset once; reconnecting works at once.
    Reset,
}

/// A node of the cluster topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum ClusterNode {
    /// The frontend.
    Frontend,
    /// The first history host.
    #[strum(serialize = "history-1")]
    History1,
    /// The second history host.
    #[strum(serialize = "history-2")]
    History2,
    /// Matching.
    Matching,
    /// The worker service (system workflows).
    Worker,
}

impl ClusterNode {
    /// The node's name, as [`crate::stack::ClusterControl`] knows it.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A fault applied at a moment ([`Trigger`]) rather than on an activity attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimedFault {
    /// The worker dies mid-work (dropped, no graceful shutdown) and a new one starts.
    WorkerCrash,
    /// The Temporal server is killed and started again.
    ServerRestart,
    /// PostgreSQL goes away for `millis`, then comes back (PostgreSQL flavour only).
    PostgresOutage {
        /// Paused or stopped.
        outage: Outage,
        /// How long it stays away.
        millis: u64,
    },
    /// The network between the worker and Temporal misbehaves for `millis`.
    Network {
        /// What goes wrong.
        fault: NetworkFault,
        /// For how long (ignored by [`NetworkFault::Reset`]).
        millis: u64,
    },
    /// PostgreSQL's primary is killed and, `millis` later, its synchronous standby promoted
    /// onto the primary's address (once per stack: the standby is used up). `millis` is the
    /// time an HA manager takes to notice the loss (Patroni's TTL, a cloud's health checks):
    /// seconds in production, 0 for the promotion alone.
    PostgresFailover {
        /// How long the stack runs without a primary before the standby is promoted.
        millis: u64,
    },
    /// A node of the cluster topology is killed (a crash), and started again after
    /// `millis` (a history host's shards move to the other and back).
    NodeDown {
        /// Which node.
        node: ClusterNode,
        /// How long it stays down.
        millis: u64,
    },
    /// A node of the cluster topology is frozen (SIGSTOP: its connections stay open and
    /// nothing answers) for `millis`, then thawed.
    NodeFreeze {
        /// Which node.
        node: ClusterNode,
        /// How long it stays frozen.
        millis: u64,
    },
}

impl TimedFault {
    /// Whether applying it disturbs the whole stack (so it needs a stack of its own).
    pub fn needs_exclusive_stack(&self) -> bool {
        matches!(
            self,
            TimedFault::ServerRestart | TimedFault::PostgresOutage { .. }
        )
    }

    /// Whether it acts on a node of the cluster topology (so it needs a cluster of its own).
    pub fn needs_cluster(&self) -> bool {
        matches!(
            self,
            TimedFault::NodeDown { .. } | TimedFault::NodeFreeze { .. }
        )
    }

    /// Whether it fails PostgreSQL over (so it needs a stack with a standby of its own).
    pub fn needs_standby(&self) -> bool {
        matches!(self, TimedFault::PostgresFailover { .. })
    }

    /// A short name of its kind, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            TimedFault::WorkerCrash => "worker crash",
            TimedFault::ServerRestart => "server restart",
            TimedFault::PostgresOutage {
                outage: Outage::Pause,
                ..
            } => "postgres pause",
            TimedFault::PostgresOutage {
                outage: Outage::Stop,
                ..
            } => "postgres stop",
            TimedFault::Network {
                fault: NetworkFault::Latency { .. },
                ..
            } => "network latency",
            TimedFault::Network {
                fault: NetworkFault::Drop,
                ..
            } => "network drop",
            TimedFault::Network {
                fault: NetworkFault::Reset,
                ..
            } => "network reset",
            TimedFault::PostgresFailover { .. } => "postgres failover",
            TimedFault::NodeDown { node, .. } => match node {
                ClusterNode::Frontend => "frontend down",
                ClusterNode::History1 | ClusterNode::History2 => "history host down",
                ClusterNode::Matching => "matching down",
                ClusterNode::Worker => "worker service down",
            },
            TimedFault::NodeFreeze { node, .. } => match node {
                ClusterNode::Frontend => "frontend frozen",
                ClusterNode::History1 | ClusterNode::History2 => "history host frozen",
                ClusterNode::Matching => "matching frozen",
                ClusterNode::Worker => "worker service frozen",
            },
        }
    }
}

/// When a timed fault is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Once job `job`'s workflow has at least `event` history events (or has closed first).
    AfterEvent {
        /// Index of the job in the workload.
        job: usize,
        /// History length to wait for.
        event: u32,
    },
    /// Once job `job`'s workflow has completed `completed` activities (a stage of its
    /// progress), or has closed first.
    AfterActivities {
        /// Index of the job in the workload.
        job: usize,
        /// Activities completed to wait for.
        completed: u32,
    },
    /// This many milliseconds after the workload started.
    AtMillis(u64),
}

/// One fault of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Attempt `attempt` of fault point `point` in job `job` fails as `failure`.
    Activity {
        /// Index of the job in the workload.
        job: usize,
        /// Index of the fault point (the workload's list of activity names).
        point: usize,
        /// Which attempt fails (1 is the first).
        attempt: u32,
        /// How it fails.
        failure: ActivityFailure,
    },
    /// `fault` is applied when `trigger` fires.
    Timed {
        /// When.
        trigger: Trigger,
        /// What.
        fault: TimedFault,
    },
}

impl Fault {
    /// A short name of its kind, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Activity { failure, .. } => failure.kind(),
            Fault::Timed { fault, .. } => fault.kind(),
        }
    }
}

/// Faults to apply over one run of a workload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Schedule {
    /// In the order they are applied (timed faults wait for their triggers one by one).
    pub faults: Vec<Fault>,
}

impl Schedule {
    /// A schedule of `faults`.
    pub fn new(faults: Vec<Fault>) -> Self {
        Schedule { faults }
    }

    /// Whether any fault needs a stack of its own.
    pub fn needs_exclusive_stack(&self) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f, Fault::Timed { fault, .. } if fault.needs_exclusive_stack()))
    }

    /// Whether any fault fails PostgreSQL over.
    pub fn needs_standby(&self) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f, Fault::Timed { fault, .. } if fault.needs_standby()))
    }

    /// Whether any fault acts on a cluster node.
    pub fn needs_cluster(&self) -> bool {
        self.faults
            .iter()
            .any(|f| matches!(f, Fault::Timed { fault, .. } if fault.needs_cluster()))
    }
}

/// Rust code that rebuilds the schedule (with `use temporal_harness::faults::*;` and
/// `use temporal_harness::stack::Outage;`), to paste into a regression test.
impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            return f.write_str("Schedule::new(vec![])");
        }
        writeln!(f, "Schedule::new(vec![")?;
        for fault in &self.faults {
            let code = match fault {
                Fault::Activity {
                    job,
                    point,
                    attempt,
                    failure,
                } => format!(
                    "Fault::Activity {{ job: {job}, point: {point}, attempt: {attempt}, \
                     failure: ActivityFailure::{failure:?} }}"
                ),
                Fault::Timed { trigger, fault } => {
                    let trigger = match trigger {
                        Trigger::AfterEvent { job, event } => {
                            format!("Trigger::AfterEvent {{ job: {job}, event: {event} }}")
                        }
                        Trigger::AfterActivities { job, completed } => format!(
                            "Trigger::AfterActivities {{ job: {job}, completed: {completed} }}"
                        ),
                        Trigger::AtMillis(ms) => format!("Trigger::AtMillis({ms})"),
                    };
                    let fault = match fault {
                        TimedFault::WorkerCrash => "TimedFault::WorkerCrash".to_string(),
                        TimedFault::ServerRestart => "TimedFault::ServerRestart".to_string(),
                        TimedFault::PostgresOutage { outage, millis } => format!(
                            "TimedFault::PostgresOutage {{ outage: Outage::{outage:?}, millis: {millis} }}"
                        ),
                        TimedFault::Network { fault, millis } => {
                            let net = match fault {
                                NetworkFault::Latency { millis } => {
                                    format!("NetworkFault::Latency {{ millis: {millis} }}")
                                }
                                other => format!("NetworkFault::{other:?}"),
                            };
                            format!("TimedFault::Network {{ fault: {net}, millis: {millis} }}")
                        }
                        TimedFault::PostgresFailover { millis } => {
                            format!("TimedFault::PostgresFailover {{ millis: {millis} }}")
                        }
                        TimedFault::NodeDown { node, millis } => format!(
                            "TimedFault::NodeDown {{ node: ClusterNode::{node:?}, millis: {millis} }}"
                        ),
                        TimedFault::NodeFreeze { node, millis } => format!(
                            "TimedFault::NodeFreeze {{ node: ClusterNode::{node:?}, millis: {millis} }}"
                        ),
                    };
                    format!("Fault::Timed {{ trigger: {trigger}, fault: {fault} }}")
                }
            };
            writeln!(f, "    {code},")?;
        }
        f.write_str("])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a schedule from the code it prints: `$code` is compiled here, and printing
    /// its result must give `$code` back, line for line.
    macro_rules! round_trip {
        ($($code:tt)*) => {{
            let schedule = $($code)*;
            let printed: String = schedule.to_string().split_whitespace().collect();
            let written: String = stringify!($($code)*).split_whitespace().collect();
            (schedule, printed, written)
        }};
    }

    #[test]
    fn display_is_rust_that_rebuilds_the_schedule() {
        let (schedule, printed, written) = round_trip!(Schedule::new(vec![
            Fault::Activity {
                job: 0,
                point: 1,
                attempt: 1,
                failure: ActivityFailure::Error
            },
            Fault::Timed {
                trigger: Trigger::AfterEvent { job: 1, event: 5 },
                fault: TimedFault::PostgresOutage {
                    outage: Outage::Pause,
                    millis: 300
                }
            },
            Fault::Timed {
                trigger: Trigger::AtMillis(40),
                fault: TimedFault::Network {
                    fault: NetworkFault::Latency { millis: 20 },
                    millis: 500
                }
            },
            Fault::Timed {
                trigger: Trigger::AtMillis(90),
                fault: TimedFault::NodeDown {
                    node: ClusterNode::History2,
                    millis: 300
                }
            },
        ]));
        // Whitespace aside, the printed code is the code that built it.
        assert_eq!(printed, written);
        assert!(schedule.needs_exclusive_stack());
    }
}
