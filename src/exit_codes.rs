//! Exit codes of the `temporal-harness` binary, in one place (scripts rely on them). The rule:
//! 1 is a verdict about the target (checked, found unhealthy); 2 means no verdict exists (the
//! input or the environment kept the command from checking or doing its work). See
//! docs/configuration.md, "Exit codes".

/// Did what was asked; every check that ran passed (skipped checks allowed, each with a
/// reason). Never returned for a run that checked nothing.
pub const SUCCESS: i32 = 0;
/// Checked, and found unhealthy: a check failed (an unreachable deployment included).
pub const CHECK_FAILED: i32 = 1;
/// Could not check or could not do it: bad flags or values, a flag that would be ignored, a
/// filter that selects nothing, Docker missing, a boot that failed or timed out.
pub const CONFIG_ERROR: i32 = 2;
/// Interrupted by SIGINT/SIGTERM (after removing what a boot had started).
pub const INTERRUPTED: i32 = 130;
