//! The runner layer: `#[temporal_test]` and its typed runner on the real stack (the macro's
//! choices, time skipping, skipping and real-time tests on one shared clock), and the CI
//! template users copy to run such tests in nextest shards.
//!
//! One binary of modules (see `tests/stack/main.rs` for why): `cargo test --test runner --
//! time_skipping::`.

mod activity_alone;
mod assertions;
mod callbacks;
mod ci_template;
mod macro_choices;
mod mocks;
mod replay_pressure;
mod shared_clock;
mod time_skipping;
mod workflow_mocks;
