use temporal_harness_macros::temporal_test;

#[temporal_test]
fn test_that_is_not_async() {}

fn main() {}
