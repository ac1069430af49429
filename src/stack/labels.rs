//! The Docker labels on every container and network the harness starts: which stack (and
//! boot) it belongs to, and which state folder owns that stack. The reaper and the keeper
//! find what to remove by them.

use std::path::Path;

/// Docker label naming the state folder whose stack a container belongs to.
pub(crate) const ROOT_LABEL: &str = "io.temporal-harness.root";

/// Label every harness container and network carries; its value is the stack's label (key
/// plus instance). The keeper gets it as `TEMPORAL_HARNESS_STACK_LABEL`.
pub(crate) const STACK_LABEL: &str = "io.temporal-harness.stack";

pub(crate) fn root_label(root: &Path) -> String {
    format!(
        "{:016x}",
        super::identity::fnv1a(root.to_string_lossy().as_bytes())
    )
}
