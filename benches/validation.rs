//! The validation suite on a warm stack: the quick profile (reads of state, no workflow) and
//! the full one (every check, as `temporal-harness validate` runs them, a new session each
//! round: connections and worker included), alternating, and the 5-stage workflow alone (start to result, default 100 ms retry interval, worker already
//! polling). Prints a table and one JSON line.
//! Run: `cargo bench --bench validation` (add `-- ROUNDS`, default 5).

use std::time::{Duration, Instant};
use temporal_harness::validation::{validate, Filter, Profile, Session, Status, Target};
use temporal_harness::{Stack, StackConfig};

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let config = StackConfig::load().expect("config");
    let t = Instant::now();
    let stack = Stack::acquire(&config).await.expect("stack");
    let acquire = t.elapsed().as_secs_f64();
    let target = Target::from_endpoints(stack.endpoints());
    let (mut quick, mut suite, mut workflow) = (Vec::new(), Vec::new(), Vec::new());
    let (mut quick_checks, mut checks) = (0, 0);
    let quick_filter = Filter::new(&[], &[], Profile::Quick).expect("quick profile");
    for _ in 0..rounds {
        for (filter, times, count) in [
            (&quick_filter, &mut quick, &mut quick_checks),
            (&Filter::default(), &mut suite, &mut checks),
        ] {
            let report = validate(target.clone(), filter, |_| {}).await;
            assert_eq!(
                report.count(Status::Failed),
                0,
                "{}",
                report.render(temporal_harness::validation::Format::Human)
            );
            *count = report.checks.len();
            times.push(report.duration.as_secs_f64());
        }

        let session = Session::new(target.clone());
        session.worker().await.expect("worker");
        let t = Instant::now();
        session.stages().await.expect("validation workflow");
        workflow.push(t.elapsed().as_secs_f64());
        session.close();
    }
    println!(
        "\nvalidation on a warm stack ({}), median of {rounds} rounds",
        target.description
    );
    println!("{:<44} {:>8}", "what", "seconds");
    println!("{:<44} {:>8.3}", "stack acquire (first: may boot)", acquire);
    println!(
        "{:<44} {:>8.3}",
        format!("--profile quick ({quick_checks} checks)"),
        median(&quick)
    );
    println!(
        "{:<44} {:>8.3}",
        format!("--profile full ({checks} checks)"),
        median(&suite)
    );
    println!(
        "{:<44} {:>8.3}",
        "5-stage workflow (retry stage included)",
        median(&workflow)
    );
    println!(
        "{}",
        serde_json::json!({"bench": "validation", "rounds": rounds, "checks": checks,
            "quick_checks": quick_checks, "acquire_s": acquire, "quick_s": quick,
            "suite_s": suite, "workflow_s": workflow})
    );
    stack
        .shutdown(Duration::from_secs(60))
        .await
        .expect("teardown");
}
