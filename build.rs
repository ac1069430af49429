//! Copies the protobuf descriptors of the SDK's protos (temporalio-protos publishes their path
//! through its `links` metadata) to OUT_DIR, so `proto_json` can convert histories to and from
//! Temporal's JSON format without a descriptor set of our own that could drift from the SDK.

fn main() {
    let Some(source) = std::env::var_os("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH") else {
        panic!(
            "temporalio-protos did not publish its descriptors (DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH \
             is unset). Fix: keep temporalio-protos a direct dependency at the SDK's version"
        );
    };
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(&source, out.join("temporal-descriptors.bin"))
        .unwrap_or_else(|e| panic!("cannot copy {}: {e}", source.to_string_lossy()));
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
}
