//! Exit codes of the `temporal-harness` binary, in one place (scripts rely on them).

/// Everything passed (skipped checks allowed).
pub const SUCCESS: i32 = 0;
/// A check failed (the deployment is not healthy).
pub const CHECK_FAILED: i32 = 1;
/// Usage or configuration error: bad flags, unreachable target, missing Docker or image...
pub const CONFIG_ERROR: i32 = 2;
/// Interrupted by SIGINT/SIGTERM (after cleaning up).
pub const INTERRUPTED: i32 = 130;
