#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod config;
pub mod exit_codes;
pub mod runner;
pub mod secret;
pub mod stack;
pub mod versions;

pub use config::StackConfig;
pub use runner::TestRunner;
pub use stack::{Endpoints, Stack, StackError};
/// Turns an `async fn` into a test on the run's shared Temporal stack; see the README.
pub use temporal_harness_macros::temporal_test;
