#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod config;
pub mod conninfo;
pub mod error;
pub mod exit_codes;
#[cfg(feature = "faults")]
pub mod faults;
mod poll;
pub mod prelude;
pub mod proto_json;
#[cfg(feature = "replay")]
pub mod replay;
pub mod runner;
pub mod secret;
pub mod stack;
#[cfg(feature = "validation")]
pub mod validation;
pub mod versions;
mod worker_thread;

pub use config::StackConfig;
pub use runner::TestRunner;
pub use stack::{Endpoints, Stack, StackError};
#[doc = include_str!("../docs/temporal_test.md")]
pub use temporal_harness_macros::temporal_test;
