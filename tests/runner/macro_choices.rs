//! The `#[temporal_test]` macro checks `backend = ".."`, `flavor = ".."`,
//! `time_skipping = ".."` and `patches = ".."` at the token (a proc-macro cannot read the library's enums), so its
//! lists could drift from them. Every name the library accepts is used here once: a name the
//! macro lacks fails to compile, and a name added to an enum without a case here fails
//! `every_name_has_a_case`. The cases compile only
//! (each ignored, with its reason: running them would boot a stack per backend for nothing).

use strum::VariantNames;
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::runner::{Patches, TimeSkippingMode};
use temporal_harness::temporal_test;

const BACKENDS: [&str; 4] = ["auto", "containers", "local", "external"];
const FLAVORS: [&str; 2] = ["postgres", "dev"];
const TIME_SKIPPING: [&str; 3] = ["auto", "server", "test-server"];
const PATCHES: [&str; 2] = ["on", "off"];

#[temporal_test(backend = "auto")]
#[ignore = "compile-time check of the macro's names"]
async fn backend_auto() {}

#[temporal_test(backend = "containers")]
#[ignore = "compile-time check of the macro's names"]
async fn backend_containers() {}

#[temporal_test(backend = "local")]
#[ignore = "compile-time check of the macro's names"]
async fn backend_local() {}

#[temporal_test(backend = "external")]
#[ignore = "compile-time check of the macro's names"]
async fn backend_external() {}

#[temporal_test(flavor = "postgres")]
#[ignore = "compile-time check of the macro's names"]
async fn flavor_postgres() {}

#[temporal_test(flavor = "dev")]
#[ignore = "compile-time check of the macro's names"]
async fn flavor_dev() {}

#[temporal_test(time_skipping = "auto")]
#[ignore = "compile-time check of the macro's names"]
async fn time_skipping_auto() {}

#[temporal_test(time_skipping = "server")]
#[ignore = "compile-time check of the macro's names"]
async fn time_skipping_server() {}

#[temporal_test(time_skipping = "test-server")]
#[ignore = "compile-time check of the macro's names"]
async fn time_skipping_test_server() {}

#[temporal_test(patches = "on")]
#[ignore = "compile-time check of the macro's names"]
async fn patches_on() {}

#[temporal_test(patches = "off")]
#[ignore = "compile-time check of the macro's names"]
async fn patches_off() {}

#[test]
fn every_name_has_a_case() {
    assert_eq!(BackendKind::VARIANTS, BACKENDS);
    assert_eq!(Flavor::VARIANTS, FLAVORS);
    assert_eq!(TimeSkippingMode::VARIANTS, TIME_SKIPPING);
    assert_eq!(Patches::VARIANTS, PATCHES);
}
