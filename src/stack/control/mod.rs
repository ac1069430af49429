//! Control over a running stack, for fault tests: one file per kind of stack. Each is for a
//! stack of the test's own (a private `state_dir`): every test on a shared stack would see
//! the faults.

mod cluster;
mod containers;
mod failover;

pub use cluster::ClusterControl;
pub use containers::{Outage, StackControl};
pub use failover::FailoverControl;
