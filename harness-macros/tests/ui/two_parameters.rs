use temporal_harness_macros::temporal_test;

struct TestRunner;

#[temporal_test]
async fn test_with_two_parameters(runner: TestRunner, extra: u32) {
    let _ = (runner, extra);
}

fn main() {}
