//! The names of what a stack folder holds: one list for the harness, the reaper and the
//! keeper (`keeper.sh` spells the same names; a test checks they agree).

/// Processes to stop at teardown, `PID SIGNAL` a line.
pub(crate) const PIDS: &str = "pids";
/// Folders to remove at teardown, one a line.
pub(crate) const DIRS: &str = "dirs";
/// The Docker label value of the stack's containers and networks.
pub(crate) const LABEL: &str = "label";
/// Present: the stack is kept (never torn down on idle).
pub(crate) const KEEP: &str = "keep";
/// A file per process using the stack, named by its pid.
pub(crate) const LEASES: &str = "leases";
/// The keeper's pid.
pub(crate) const KEEPER_PID: &str = "keeper.pid";
/// The keeper's stderr.
pub(crate) const KEEPER_LOG: &str = "keeper.log";
/// The published endpoints (0600: they hold the generated password).
pub(crate) const ENDPOINTS: &str = "stack.json";
/// A run on a shared external deployment (its ID, namespace and isolation): the folder is
/// a run's, ended on the deployment by the run's last process, never by the keeper.
pub(crate) const RUN: &str = "run.json";
/// File in the state folder (beside the stack folders) with one line per stack boot (key,
/// pid, duration): what the sharing benchmark counts.
pub const BOOT_LOG: &str = "boots.log";

/// What a stack folder records, which teardown reads and acts on.
pub(crate) const RECORDS: [&str; 9] = [
    PIDS, DIRS, LABEL, KEEP, LEASES, KEEPER_PID, KEEPER_LOG, ENDPOINTS, RUN,
];
