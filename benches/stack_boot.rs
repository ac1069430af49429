//! Boot time of each backend and flavour, without and with the Web UI, cold (nothing running: a fresh state folder) and
//! warm (the stack runs: what every later test process pays to find it), next to the Rust
//! SDK's own `WorkflowEnvironment::start_local` on the same CLI binary. Prints a table and
//! one JSON line. Every round boots every mode once, in a rotated order. Run: `cargo bench
//! --bench stack_boot` (add `-- ROUNDS` for more rounds than 3).

use std::time::{Duration, Instant};
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::{Stack, StackConfig};
use temporalio_sdk::testing::{EphemeralExe, LocalWorkflowEnvironmentOptions, WorkflowEnvironment};

struct Row {
    name: String,
    cold: Vec<f64>,
    warm: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One cold boot and one warm acquire of `backend`/`flavor` (with the Web UI or without),
/// from a fresh state folder: (cold s, warm s).
async fn boot_once(backend: BackendKind, flavor: Flavor, ui: bool) -> (f64, f64) {
    let mut config = StackConfig::load().expect("config");
    config.backend = backend;
    config.flavor = flavor;
    config.ui = Some(ui);
    config.state_dir =
        std::env::temp_dir().join(format!("th-bench-{}", uuid::Uuid::new_v4().simple()));
    let t = Instant::now();
    let stack = Stack::acquire(&config).await.expect("cold boot");
    let cold = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = Stack::acquire(&config).await.expect("warm acquire");
    let warm = t.elapsed().as_secs_f64();
    drop(again);
    stack
        .shutdown(Duration::from_secs(60))
        .await
        .expect("teardown");
    let _ = std::fs::remove_dir_all(&config.state_dir);
    (cold, warm)
}

/// The SDK's own `WorkflowEnvironment::start_local` on the same CLI binary: its cold start.
async fn sdk_start_local() -> f64 {
    let cli = temporal_harness::StackConfig::load()
        .expect("configuration")
        .tools_dir
        .join("temporal");
    let t = Instant::now();
    let options = LocalWorkflowEnvironmentOptions::builder()
        .server_executable(EphemeralExe::ExistingPath(cli.display().to_string()))
        .build();
    let env = WorkflowEnvironment::start_local(options)
        .await
        .expect("sdk dev server");
    let cold = t.elapsed().as_secs_f64();
    env.shutdown().await.expect("sdk shutdown");
    cold
}

/// A figure over the rounds: `median [min - max]`.
fn spread(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match (v.first(), v.last()) {
        (Some(min), Some(max)) => format!("{:.3} [{min:.3} - {max:.3}]", median(&v)),
        _ => "-".into(),
    }
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let stacks = [
        (BackendKind::Containers, Flavor::Dev),
        (BackendKind::Containers, Flavor::Postgres),
        (BackendKind::Local, Flavor::Dev),
        (BackendKind::Local, Flavor::Postgres),
    ];
    // Every mode: the SDK's baseline, then each stack without and with the Web UI.
    let mut rows: Vec<Row> = std::iter::once("sdk start_local (baseline)".to_string())
        .chain(stacks.iter().flat_map(|(b, f)| {
            let name = format!("{b:?}/{f:?}").to_lowercase();
            [name.clone(), format!("{name} +ui")]
        }))
        .map(|name| Row {
            name,
            cold: vec![],
            warm: vec![],
        })
        .collect();
    // Every round boots every mode once, in an order rotated by one place a round, so a slow
    // minute of the machine (or a warm page cache) falls on every mode alike.
    for round in 0..rounds {
        for k in 0..rows.len() {
            let i = (round + k) % rows.len();
            if i == 0 {
                rows[0].cold.push(sdk_start_local().await);
                continue;
            }
            let (backend, flavor) = stacks[(i - 1) / 2];
            let (cold, warm) = boot_once(backend, flavor, (i - 1) % 2 == 1).await;
            rows[i].cold.push(cold);
            rows[i].warm.push(warm);
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }
    println!("\nstack boot, {rounds} interleaved rounds, median [min - max] (seconds)");
    println!("{:<28} {:>26} {:>26}", "backend/flavour", "cold", "warm");
    for r in &rows {
        let warm = if r.warm.is_empty() {
            "-".to_string()
        } else {
            spread(&r.warm)
        };
        println!("{:<28} {:>26} {:>26}", r.name, spread(&r.cold), warm);
    }
    let json: Vec<_> = rows
        .iter()
        .map(|r| serde_json::json!({"name": r.name, "cold_s": r.cold, "warm_s": r.warm}))
        .collect();
    println!(
        "{}",
        serde_json::json!({"bench": "stack_boot", "rounds": rounds, "rows": json})
    );
}
