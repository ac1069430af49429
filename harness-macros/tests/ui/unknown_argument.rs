use temporal_harness_macros::temporal_test;

#[temporal_test(workflows(), retries = 3)]
async fn test_with_unknown_argument() {}

fn main() {}
