use temporal_harness_macros::temporal_test;

#[temporal_test(time_skipping = "java")]
async fn test_with_unknown_time_skipping() {}

#[temporal_test(time_skipping, max_skips = 0)]
async fn test_with_no_skips() {}

fn main() {}
