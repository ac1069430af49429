use temporal_harness_macros::temporal_test;

#[temporal_test]
async fn test_with_wrong_parameter(runner: String) {
    let _ = runner;
}

fn main() {}
