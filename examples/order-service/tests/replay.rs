//! The replay gate: every history in `fixtures/histories` (recorded by `tests/orders.rs` with
//! TEMPORAL_HARNESS_RECORD_HISTORIES=fixtures/histories) must replay against this build's
//! workflow code, or a deploy would break workflows like them that are still running.

use order_service::OrderWorkflow;
use temporal_harness::runner::Definitions;

fn main() {
    temporal_harness::replay::main("fixtures/histories", || {
        Definitions::new().workflow::<OrderWorkflow>()
    });
}
