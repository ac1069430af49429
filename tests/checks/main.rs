//! The validation checks' verdicts on broken and odd deployments (each check fails, skips or
//! warns for the right reason, naming the fix) and the validation workflow's stages. The
//! suite itself, a trial per check, is `tests/validation.rs` (libtest-mimic).
//!
//! One binary of modules (see `tests/stack/main.rs` for why): `cargo test --test checks --
//! failures::`.

mod failures;
mod versioning;
mod workflow;
