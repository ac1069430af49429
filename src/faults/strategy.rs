//! proptest strategies over fault schedules. Shrinking removes faults and simplifies the
//! rest, so a failing schedule ends as the fewest, simplest faults that still fail.

use super::model::{
    ActivityFailure, ClusterNode, Fault, NetworkFault, Schedule, TimedFault, Trigger,
};
use crate::stack::{Outage, PersistenceError, PersistenceFault, Store};
use proptest::prelude::*;

/// Which kinds of fault a generated schedule may hold. Read its fields; build one from the
/// constants with [`FaultKinds::with`] and [`FaultKinds::without`] (`#[non_exhaustive]`: a new
/// kind is not a breaking change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultKinds {
    /// Activity errors, timeouts and panics.
    pub activity: bool,
    /// Worker crashes.
    pub worker_crash: bool,
    /// Network latency, drops and resets.
    pub network: bool,
    /// Temporal server restarts (needs an exclusive stack).
    pub server_restart: bool,
    /// PostgreSQL outages (needs an exclusive stack on PostgreSQL).
    pub postgres: bool,
    /// Cluster nodes killed or frozen (needs a cluster of its own:
    /// [`super::FaultHarness::cluster`]).
    pub cluster: bool,
}

/// One kind of fault, for [`FaultKinds::with`] and [`FaultKinds::without`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Activity errors, timeouts and panics.
    Activity,
    /// Worker crashes.
    WorkerCrash,
    /// Network latency, drops and resets.
    Network,
    /// Temporal server restarts.
    ServerRestart,
    /// PostgreSQL outages.
    Postgres,
    /// Cluster nodes killed or frozen.
    Cluster,
}

impl FaultKinds {
    /// No kind: a space of these holds only what is added with [`FaultKinds::with`].
    pub const NONE: FaultKinds = FaultKinds {
        activity: false,
        worker_crash: false,
        network: false,
        server_restart: false,
        postgres: false,
        cluster: false,
    };

    /// Faults that touch only the test's own worker and connections: safe on a shared stack,
    /// in parallel with other tests.
    pub const SHARED: FaultKinds = FaultKinds::NONE
        .with(FaultKind::Activity)
        .with(FaultKind::WorkerCrash)
        .with(FaultKind::Network);

    /// Every kind of a single-process stack (needs a stack of the test's own:
    /// [`super::FaultHarness::exclusive`]).
    pub const ALL: FaultKinds = FaultKinds::SHARED
        .with(FaultKind::ServerRestart)
        .with(FaultKind::Postgres);

    /// The shared kinds and cluster nodes down or frozen (needs a cluster of the test's own:
    /// [`super::FaultHarness::cluster`]).
    pub const CLUSTER: FaultKinds = FaultKinds::SHARED.with(FaultKind::Cluster);

    /// These kinds and `kind`.
    pub const fn with(self, kind: FaultKind) -> FaultKinds {
        self.set(kind, true)
    }

    /// These kinds but `kind`.
    pub const fn without(self, kind: FaultKind) -> FaultKinds {
        self.set(kind, false)
    }

    const fn set(mut self, kind: FaultKind, on: bool) -> FaultKinds {
        match kind {
            FaultKind::Activity => self.activity = on,
            FaultKind::WorkerCrash => self.worker_crash = on,
            FaultKind::Network => self.network = on,
            FaultKind::ServerRestart => self.server_restart = on,
            FaultKind::Postgres => self.postgres = on,
            FaultKind::Cluster => self.cluster = on,
        }
        self
    }
}

/// The shape of the schedules to generate.
#[derive(Debug, Clone)]
pub struct ScheduleSpace {
    /// Jobs in the workload.
    pub jobs: usize,
    /// Fault points (activities that consult the plan) in each job's workflow.
    pub points: usize,
    /// Most faults in one schedule.
    pub max_faults: usize,
    /// History lengths a [`Trigger::AfterEvent`] waits for; `None`: no such trigger. A catch
    /// that must hit one part of a workflow narrows it to that part's events, measured in a
    /// control run.
    pub events: Option<std::ops::RangeInclusive<u32>>,
    /// Completed activities a [`Trigger::AfterActivities`] waits for; `None`: no such
    /// trigger.
    pub activities: Option<std::ops::RangeInclusive<u32>>,
    /// Latest time trigger, in milliseconds.
    pub max_millis: u64,
    /// Whether triggers at an instant ([`Trigger::AtMillis`]) are generated. Off, every timed
    /// fault waits for a history event: where it falls in a workflow no longer depends on
    /// the machine's speed (what a catch that must hit a running workflow needs).
    pub instants: bool,
    /// How long every generated network fault, outage, node fault and failover lasts, in
    /// milliseconds; `None`: each kind's own range (network 100-1000, outages and nodes
    /// 100-1500, failovers 0-2000 without a primary). A catch sets it from a bound measured in
    /// the same run, so the faults outlast it by a margin the machine's speed cannot erase.
    pub lasting: Option<std::ops::RangeInclusive<u64>>,
    /// Which kinds.
    pub kinds: FaultKinds,
}

impl ScheduleSpace {
    /// Up to 3 faults of `kinds` over `jobs` jobs with `points` fault points each.
    pub fn new(jobs: usize, points: usize, kinds: FaultKinds) -> Self {
        ScheduleSpace {
            jobs,
            points,
            max_faults: 3,
            events: Some(1..=16),
            activities: Some(1..=points.max(1) as u32),
            max_millis: 1500,
            instants: true,
            lasting: None,
            kinds,
        }
    }

    /// How long a fault of a kind whose own range is `own` lasts.
    fn lasting(&self, own: std::ops::RangeInclusive<u64>) -> std::ops::RangeInclusive<u64> {
        self.lasting.clone().unwrap_or(own)
    }
}

fn trigger(space: &ScheduleSpace) -> BoxedStrategy<Trigger> {
    let jobs = space.jobs.max(1);
    let mut options: Vec<(u32, BoxedStrategy<Trigger>)> = Vec::new();
    if let Some(events) = space.events.clone() {
        let after_event =
            (0..jobs, events).prop_map(|(job, event)| Trigger::AfterEvent { job, event });
        options.push((3, after_event.boxed()));
    }
    if let Some(activities) = space.activities.clone() {
        let after_activities = (0..jobs, activities)
            .prop_map(|(job, completed)| Trigger::AfterActivities { job, completed });
        options.push((2, after_activities.boxed()));
    }
    if space.instants {
        options.push((
            1,
            (0..=space.max_millis).prop_map(Trigger::AtMillis).boxed(),
        ));
    }
    assert!(
        !options.is_empty(),
        "ScheduleSpace allows no trigger for a timed fault: `events` and `activities` are \
         `None` and `instants` is off; give one of them a range or turn instants on"
    );
    proptest::strategy::Union::new_weighted(options).boxed()
}

fn timed(space: &ScheduleSpace) -> BoxedStrategy<TimedFault> {
    let kinds = space.kinds;
    let mut options: Vec<BoxedStrategy<TimedFault>> = Vec::new();
    if kinds.worker_crash {
        options.push(Just(TimedFault::WorkerCrash).boxed());
    }
    if kinds.network {
        options.push(
            prop_oneof![
                Just(NetworkFault::Reset),
                Just(NetworkFault::Drop),
                (1u64..=50).prop_map(|millis| NetworkFault::Latency { millis }),
            ]
            .prop_flat_map({
                let lasting = space.lasting(100..=1000);
                move |fault| {
                    lasting
                        .clone()
                        .prop_map(move |millis| TimedFault::Network { fault, millis })
                }
            })
            .boxed(),
        );
    }
    if kinds.server_restart {
        options.push(Just(TimedFault::ServerRestart).boxed());
    }
    if kinds.postgres {
        options.push(
            (
                prop_oneof![Just(Outage::Pause), Just(Outage::Stop)],
                space.lasting(100..=1500),
            )
                .prop_map(|(outage, millis)| TimedFault::PostgresOutage { outage, millis })
                .boxed(),
        );
    }
    if kinds.cluster {
        let node = prop_oneof![
            3 => Just(ClusterNode::History2),
            1 => Just(ClusterNode::History1),
            2 => Just(ClusterNode::Matching),
            1 => Just(ClusterNode::Frontend),
            1 => Just(ClusterNode::Worker),
        ];
        options.push(
            (node, any::<bool>(), space.lasting(100..=1500))
                .prop_map(|(node, down, millis)| match down {
                    true => TimedFault::NodeDown { node, millis },
                    false => TimedFault::NodeFreeze { node, millis },
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(options).boxed()
}

fn activity(space: &ScheduleSpace) -> BoxedStrategy<Fault> {
    (
        0..space.jobs.max(1),
        0..space.points.max(1),
        prop_oneof![3 => Just(1u32), 1 => Just(2u32)],
        prop_oneof![
            4 => Just(ActivityFailure::Error),
            1 => Just(ActivityFailure::Timeout),
            2 => Just(ActivityFailure::Panic),
        ],
    )
        .prop_map(|(job, point, attempt, failure)| Fault::Activity {
            job,
            point,
            attempt,
            failure,
        })
        .boxed()
}

/// One fault of the space's kinds.
pub fn faults(space: &ScheduleSpace) -> BoxedStrategy<Fault> {
    let k = space.kinds;
    let any_timed = k.worker_crash || k.network || k.server_restart || k.postgres || k.cluster;
    let timed_fault = (trigger(space), timed(space))
        .prop_map(|(trigger, fault)| Fault::Timed { trigger, fault })
        .boxed();
    match (k.activity && space.points > 0, any_timed) {
        (true, true) => prop_oneof![activity(space), timed_fault].boxed(),
        (true, false) => activity(space),
        (false, true) => timed_fault,
        (false, false) => {
            panic!("ScheduleSpace enables no fault kinds: enable at least one in FaultKinds")
        }
    }
}

/// Schedules of 0 to `space.max_faults` faults (only empty ones when no kind is enabled).
pub fn schedules(space: &ScheduleSpace) -> BoxedStrategy<Schedule> {
    let k = space.kinds;
    if !(k.activity || k.worker_crash || k.network || k.server_restart || k.postgres || k.cluster) {
        return Just(Schedule::default()).boxed();
    }
    proptest::collection::vec(faults(space), 0..=space.max_faults)
        .prop_map(Schedule::new)
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn generated_schedules_stay_in_their_space() {
        let space = ScheduleSpace::new(2, 3, FaultKinds::SHARED);
        let strategy = schedules(&space);
        let mut runner = TestRunner::deterministic();
        for _ in 0..200 {
            let schedule = strategy.new_tree(&mut runner).unwrap().current();
            assert!(schedule.faults.len() <= 3);
            assert!(!schedule.needs_exclusive_stack(), "{schedule}");
            for fault in &schedule.faults {
                match fault {
                    Fault::Activity {
                        job,
                        point,
                        attempt,
                        ..
                    } => {
                        assert!(*job < 2 && *point < 3 && (1..=2).contains(attempt));
                    }
                    Fault::Timed {
                        trigger: Trigger::AfterEvent { job, event },
                        ..
                    } => {
                        assert!(*job < 2 && (1..=16).contains(event));
                    }
                    Fault::Timed {
                        trigger: Trigger::AfterActivities { job, completed },
                        ..
                    } => {
                        assert!(*job < 2 && (1..=3).contains(completed));
                    }
                    Fault::Timed { .. } => {}
                }
            }
        }
    }

    #[test]
    fn without_instants_timed_faults_wait_for_events_and_last_as_asked() {
        let space = ScheduleSpace {
            instants: false,
            lasting: Some(3000..=4500),
            ..ScheduleSpace::new(2, 1, FaultKinds::CLUSTER)
        };
        let mut runner = TestRunner::deterministic();
        let mut timed = 0;
        for strategy in [schedules(&space), failover_schedules(&space)] {
            for _ in 0..200 {
                for fault in strategy.new_tree(&mut runner).unwrap().current().faults {
                    let Fault::Timed { trigger, fault } = fault else {
                        continue;
                    };
                    timed += 1;
                    assert!(!matches!(trigger, Trigger::AtMillis(_)), "{trigger:?}");
                    let millis = match fault {
                        TimedFault::Network {
                            fault: NetworkFault::Reset,
                            ..
                        }
                        | TimedFault::WorkerCrash => continue,
                        TimedFault::Network { millis, .. }
                        | TimedFault::NodeDown { millis, .. }
                        | TimedFault::NodeFreeze { millis, .. }
                        | TimedFault::PostgresFailover { millis } => millis,
                        other => panic!("not in the space: {other:?}"),
                    };
                    assert!((3000..=4500).contains(&millis), "{fault:?}");
                }
            }
        }
        assert!(timed > 200, "{timed} timed faults generated");
    }

    /// A catch that must hit one part of a workflow narrows the triggers to it: generated
    /// and shrunk schedules stay inside (integers shrink towards the start of their range).
    #[test]
    fn narrowed_triggers_stay_in_their_windows_when_shrunk() {
        let space = ScheduleSpace {
            instants: false,
            events: Some(16..=37),
            activities: Some(2..=3),
            ..ScheduleSpace::new(2, 1, FaultKinds::CLUSTER)
        };
        let in_window = |schedule: &Schedule| {
            schedule.faults.iter().all(|fault| match fault {
                Fault::Timed {
                    trigger: Trigger::AfterEvent { event, .. },
                    ..
                } => (16..=37).contains(event),
                Fault::Timed {
                    trigger: Trigger::AfterActivities { completed, .. },
                    ..
                } => (2..=3).contains(completed),
                Fault::Timed { .. } => false,
                Fault::Activity { .. } => true,
            })
        };
        let mut runner = TestRunner::deterministic();
        let (mut events, mut activities) = (0, 0);
        for strategy in [schedules(&space), failover_schedules(&space)] {
            for _ in 0..100 {
                let mut tree = strategy.new_tree(&mut runner).unwrap();
                for fault in &tree.current().faults {
                    match fault {
                        Fault::Timed {
                            trigger: Trigger::AfterEvent { .. },
                            ..
                        } => events += 1,
                        Fault::Timed { .. } => activities += 1,
                        Fault::Activity { .. } => {}
                    }
                }
                assert!(in_window(&tree.current()), "{}", tree.current());
                while tree.simplify() {
                    assert!(in_window(&tree.current()), "{}", tree.current());
                }
            }
        }
        assert!(events > 50 && activities > 30, "{events} / {activities}");
    }

    #[test]
    #[should_panic(expected = "allows no trigger for a timed fault")]
    fn a_space_without_triggers_is_refused() {
        let space = ScheduleSpace {
            instants: false,
            events: None,
            activities: None,
            ..ScheduleSpace::new(1, 1, FaultKinds::CLUSTER)
        };
        let _ = schedules(&space);
    }

    #[test]
    fn shrinking_removes_faults() {
        let space = ScheduleSpace::new(1, 1, FaultKinds::ALL);
        let strategy = schedules(&space);
        let mut runner = TestRunner::deterministic();
        let mut tree = loop {
            let tree = strategy.new_tree(&mut runner).unwrap();
            if tree.current().faults.len() == 3 {
                break tree;
            }
        };
        while tree.simplify() {}
        assert!(tree.current().faults.is_empty(), "{}", tree.current());
    }
}

/// Longest time without a primary a generated failover has: an HA manager's detection time
/// is seconds in production; longer only slows a case without reaching new states.
const MAX_FAILOVER_MILLIS: u64 = 2000;

/// Schedules of `space`'s kinds with one PostgreSQL failover added at a generated trigger and
/// place (for [`super::FaultHarness::failover`]: a harness per schedule, since a failover
/// uses the standby up).
pub fn failover_schedules(space: &ScheduleSpace) -> BoxedStrategy<Schedule> {
    (
        schedules(space),
        trigger(space),
        space.lasting(0..=MAX_FAILOVER_MILLIS),
        any::<proptest::sample::Index>(),
    )
        .prop_map(|(mut schedule, trigger, millis, at)| {
            let place = at.index(schedule.faults.len() + 1);
            schedule.faults.insert(
                place,
                Fault::Timed {
                    trigger,
                    fault: TimedFault::PostgresFailover { millis },
                },
            );
            schedule
        })
        .boxed()
}

/// The persistence faults to generate: which methods of which stores, which errors, how
/// many faults and how high a rate.
#[derive(Debug, Clone)]
pub struct PersistenceSpace {
    /// `(store, method)` pairs a fault may target.
    pub targets: Vec<(Store, &'static str)>,
    /// Errors a fault may inject.
    pub errors: Vec<PersistenceError>,
    /// Most faults in one set.
    pub max_faults: usize,
    /// Highest rate, in percent.
    pub max_percent: u8,
    /// Lowest rate, in percent (shrinking lowers rates toward it): a catch whose fault only
    /// stalls a workload past its bound at high rates sets it.
    pub min_percent: u8,
}

impl PersistenceSpace {
    /// Every method a workload exercises of the execution, shard and task stores, every
    /// error kind, up to 2 faults at up to `max_percent`%. The namespace store is left out:
    /// its failures are fatal while a server starts (a server that cannot list namespaces
    /// exits), which says nothing of the workload.
    pub fn workload(max_percent: u8) -> Self {
        let targets = [Store::ExecutionStore, Store::ShardStore, Store::TaskStore]
            .into_iter()
            .flat_map(|store| store.methods().iter().map(move |m| (store, *m)))
            .collect();
        PersistenceSpace {
            targets,
            errors: PersistenceError::ALL.to_vec(),
            max_faults: 2,
            max_percent,
            min_percent: 1,
        }
    }

    /// Only `method` of `store`, with every error kind.
    pub fn method(store: Store, method: &'static str, max_percent: u8) -> Self {
        PersistenceSpace {
            targets: vec![(store, method)],
            ..Self::workload(max_percent)
        }
    }
}

/// Sets of persistence faults from `space`. Shrinks toward fewer faults, lower rates, the
/// first target and the first error kind.
pub fn persistence_faults(
    space: &PersistenceSpace,
) -> impl Strategy<Value = Vec<PersistenceFault>> {
    let one = (
        proptest::sample::select(space.targets.clone()),
        proptest::sample::select(space.errors.clone()),
        space.min_percent.clamp(1, space.max_percent.max(1))..=space.max_percent.max(1),
        1u32..1000,
    )
        .prop_map(|((store, method), error, percent, seed)| PersistenceFault {
            store,
            method,
            error,
            percent,
            seed,
        });
    proptest::collection::vec(one, 1..=space.max_faults.max(1)).prop_map(|mut faults| {
        // One fault per method and error: the server's config holds one rate for each.
        let mut seen = Vec::new();
        faults.retain(|f| {
            let key = (f.store, f.method, f.error);
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });
        faults
    })
}
