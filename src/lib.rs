#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod config;
pub mod exit_codes;
pub mod secret;
pub mod stack;
pub mod versions;

pub use config::StackConfig;
pub use stack::{Endpoints, Stack, StackError};
