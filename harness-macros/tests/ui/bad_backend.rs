use temporal_harness_macros::temporal_test;

#[temporal_test(backend = "kubernetes")]
async fn test_with_unknown_backend() {}

fn main() {}
