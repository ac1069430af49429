//! The stack layer against real Docker, PostgreSQL and Temporal: backends, one stack shared
//! by many tests and processes, private stacks, boot errors, the cluster topology, failover,
//! persistence faults, the PostgreSQL template image and TLS to PostgreSQL.
//!
//! One binary of modules, as `tests/faults/` and cargo-nextest's own suite are: every test
//! binary links the SDK (a link and ~100 MB each). Run one module with a filter:
//! `cargo test --test stack -- cluster::`.

mod backends;
mod cluster;
mod errors;
mod failover;
mod fleet;
mod gateway;
mod persistence_faults;
mod postgres_template;
mod postgres_tls;
mod private_stacks;
mod sharing;
