//! Boot time of each backend and flavour, without and with the Web UI, cold (nothing running: a fresh state folder) and
//! warm (the stack runs: what every later test process pays to find it), next to the Rust
//! SDK's own `WorkflowEnvironment::start_local` on the same CLI binary. Prints a table and
//! one JSON line. Run: `cargo bench --bench stack_boot` (add `-- ROUNDS` for more rounds).

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

/// Cold and warm boots of one backend and flavour, without and with the Web UI: the two
/// alternate within each round, so machine noise falls on both alike.
async fn measure(backend: BackendKind, flavor: Flavor, rounds: usize) -> [Row; 2] {
    let name = format!("{backend:?}/{flavor:?}").to_lowercase();
    let mut rows = [false, true].map(|ui| Row {
        name: if ui {
            format!("{name} +ui")
        } else {
            name.clone()
        },
        cold: vec![],
        warm: vec![],
    });
    for _ in 0..rounds {
        for (ui, row) in [false, true].into_iter().zip(rows.iter_mut()) {
            let mut config = StackConfig::load().expect("config");
            config.backend = backend;
            config.flavor = flavor;
            config.ui = Some(ui);
            config.state_dir =
                std::env::temp_dir().join(format!("th-bench-{}", uuid::Uuid::new_v4().simple()));
            let t = Instant::now();
            let stack = Stack::acquire(&config).await.expect("cold boot");
            row.cold.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let again = Stack::acquire(&config).await.expect("warm acquire");
            row.warm.push(t.elapsed().as_secs_f64());
            drop(again);
            stack
                .shutdown(Duration::from_secs(60))
                .await
                .expect("teardown");
            let _ = std::fs::remove_dir_all(&config.state_dir);
        }
    }
    rows
}

async fn sdk_baseline(rounds: usize) -> Row {
    let cli = temporal_harness::StackConfig::load()
        .expect("configuration")
        .tools_dir
        .join("temporal");
    let mut row = Row {
        name: "sdk start_local (baseline)".into(),
        cold: vec![],
        warm: vec![],
    };
    for _ in 0..rounds {
        let t = Instant::now();
        let options = LocalWorkflowEnvironmentOptions::builder()
            .server_executable(EphemeralExe::ExistingPath(cli.display().to_string()))
            .build();
        let env = WorkflowEnvironment::start_local(options)
            .await
            .expect("sdk dev server");
        row.cold.push(t.elapsed().as_secs_f64());
        env.shutdown().await.expect("sdk shutdown");
    }
    row
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let mut rows = vec![sdk_baseline(rounds).await];
    for (backend, flavor) in [
        (BackendKind::Containers, Flavor::Dev),
        (BackendKind::Containers, Flavor::Postgres),
        (BackendKind::Local, Flavor::Dev),
        (BackendKind::Local, Flavor::Postgres),
    ] {
        rows.extend(measure(backend, flavor, rounds).await);
    }
    println!("\nstack boot, median of {rounds} rounds (seconds)");
    println!("{:<28} {:>8} {:>8}", "backend/flavour", "cold", "warm");
    for r in &rows {
        let warm = if r.warm.is_empty() {
            "-".to_string()
        } else {
            format!("{:.3}", median(&r.warm))
        };
        println!("{:<28} {:>8.3} {:>8}", r.name, median(&r.cold), warm);
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
