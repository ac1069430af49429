//! The `temporal-harness` command, run as a user runs it (the built binary, real stacks):
//! usage errors, `histories`, robustness against hostile input, cleanup on every way a run
//! ends, and `validate`.
//!
//! One binary of modules (see the root crate's `tests/stack/main.rs` for why):
//! `cargo test --workspace --test cli -- cleanup::`.

mod cleanup;
mod errors;
mod histories;
mod robustness;
mod validate;
