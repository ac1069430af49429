use temporal_harness_macros::temporal_test;

#[temporal_test(timeout = "soon")]
async fn test_with_bad_timeout() {}

fn main() {}
