//! Property-based fault injection: proptest generates schedules of real faults (activity
//! failures, worker crashes, server restarts, PostgreSQL outages, network faults through a
//! proxy the harness owns), [`FaultHarness`] runs a workload under each on a real stack and
//! checks the invariants, and proptest shrinks a failing schedule to a minimal one, printed
//! as Rust to paste back as a regression case.
//!
//! ```rust,no_run
//! use proptest::prelude::*;
//! use temporal_harness::faults::*;
//!
//! /// Every schedule of the faults a shared stack allows leaves `workload`'s invariants holding.
//! fn survives_shared_faults(workload: &Workload) {
//!     let runtime = tokio::runtime::Runtime::new().unwrap();
//!     let harness = runtime.block_on(FaultHarness::shared()).unwrap(); // or ::exclusive()
//!     let space = ScheduleSpace::new(workload.jobs(), workload.points(), FaultKinds::SHARED);
//!     proptest!(|(schedule in schedules(&space))| {
//!         runtime.block_on(harness.run(workload, &schedule))
//!             .map_err(|v| TestCaseError::fail(v.to_string()))?;
//!     });
//! }
//! ```
//!
//! Built-in invariants: every workflow completes exactly once with its expected result; none
//! is lost across server and database restarts; each side effect happens at least once, or
//! exactly once where the workload says the activity is idempotent; every history replays.

mod harness;
pub mod invariants;
mod model;
mod proxy;
mod strategy;
mod workload;

pub use harness::{FaultHarness, Passed, Violation};
pub use model::{ActivityFailure, ClusterNode, Fault, NetworkFault, Schedule, TimedFault, Trigger};
pub use proxy::Proxy;
pub use strategy::{
    failover_schedules, faults, persistence_faults, schedules, FaultKind, FaultKinds,
    PersistenceSpace, ScheduleSpace,
};
pub use workload::{effect_key, Delivery, Effects, FaultPoints, Job, Workload};
