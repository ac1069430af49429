#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
// docs.rs builds with every feature and `--cfg docsrs`: each feature-gated item says which
// feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "activity-test")]
#[cfg_attr(docsrs, doc(cfg(feature = "activity-test")))]
pub mod activity_test;
pub mod config;
pub mod conninfo;
pub mod error;
pub mod exit_codes;
#[cfg(feature = "faults")]
#[cfg_attr(docsrs, doc(cfg(feature = "faults")))]
pub mod faults;
mod poll;
pub mod prelude;
pub(crate) mod proto_json;
mod provisioning;
#[cfg(feature = "replay")]
#[cfg_attr(docsrs, doc(cfg(feature = "replay")))]
pub mod replay;
pub mod runner;
pub mod secret;
pub mod stack;
#[cfg(feature = "validation")]
#[cfg_attr(docsrs, doc(cfg(feature = "validation")))]
pub mod validation;
pub mod versions;
mod worker_thread;

pub use config::StackConfig;

/// Plumbing for the `#[temporal_test]` expansion and the `temporal-harness` CLI: public only
/// so that they can reach it, not API (no semver promise; as `sqlx` keeps its macros'
/// plumbing).
#[doc(hidden)]
pub mod __private {
    pub use crate::runner::entry::{run_test, TestOutcome};
    pub use crate::runner::options::TestOptions;
    /// The provisioning files `temporal-harness setup` runs.
    pub mod provisioning {
        pub use crate::provisioning::FILES;
    }
}
pub use runner::TestRunner;
pub use stack::{Endpoints, Stack, StackError};
#[doc = include_str!("../docs/temporal_test.md")]
pub use temporal_harness_macros::temporal_test;
