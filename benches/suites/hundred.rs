//! 100 `#[temporal_test]` tests, each running a workflow with an activity: the benchmark of
//! a real test suite's wall time and stack boots under `cargo test` (one process) and
//! `cargo nextest run` (a process per test). Built and run only when named (`--test
//! hundred`; the test suites cover the behaviour): `scripts/bench-sharing.sh hundred` runs
//! them from a fresh state folder and counts the boots.

use temporal_harness::{temporal_test, TestRunner};
use test_support::GreetWorkflow;

macro_rules! hundred {
    ($($name:ident),* $(,)?) => {$(
        #[temporal_test(workflows(GreetWorkflow), activities(test_support::Greeter))]
        async fn $name(runner: TestRunner) {
            let name = stringify!($name).to_string();
            let greeting = runner.execute(GreetWorkflow::run, name.clone()).await.unwrap();
            assert_eq!(greeting, format!("Hello, {name}!"));
        }
    )*};
}

hundred!(
    t001, t002, t003, t004, t005, t006, t007, t008, t009, t010, t011, t012, t013, t014, t015, t016,
    t017, t018, t019, t020, t021, t022, t023, t024, t025, t026, t027, t028, t029, t030, t031, t032,
    t033, t034, t035, t036, t037, t038, t039, t040, t041, t042, t043, t044, t045, t046, t047, t048,
    t049, t050, t051, t052, t053, t054, t055, t056, t057, t058, t059, t060, t061, t062, t063, t064,
    t065, t066, t067, t068, t069, t070, t071, t072, t073, t074, t075, t076, t077, t078, t079, t080,
    t081, t082, t083, t084, t085, t086, t087, t088, t089, t090, t091, t092, t093, t094, t095, t096,
    t097, t098, t099, t100,
);
