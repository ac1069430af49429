//! What a running check records besides its verdict: measured values (the JSON report's
//! `measurements`, so dashboards chart them without parsing messages) and warnings (a check
//! that passed but crossed a warning threshold).
//!
//! Checks call [`measure`] and [`warn`] from anywhere in their future; [`Check::run`] scopes
//! a fresh record around each check (a tokio task-local), so the check functions keep their
//! one-argument shape.
//!
//! [`Check::run`]: super::Check::run

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One check's measurements and warnings.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Record {
    pub measurements: BTreeMap<String, f64>,
    pub warnings: Vec<String>,
}

tokio::task_local! {
    static RECORD: Arc<Mutex<Record>>;
}

/// Runs `check` with a fresh record and returns the record with its output.
pub(crate) async fn recorded<F: std::future::Future>(check: F) -> (F::Output, Record) {
    let record = Arc::new(Mutex::new(Record::default()));
    let output = RECORD.scope(record.clone(), check).await;
    let record = record.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (output, record)
}

fn with_record(f: impl FnOnce(&mut Record)) {
    // Outside a check (a unit test of a helper) there is nothing to record into.
    let _ = RECORD.try_with(|r| f(&mut r.lock().unwrap_or_else(|p| p.into_inner())));
}

/// Records a measured value under `name` (snake case, unit in the name: `lag_ms`).
pub(crate) fn measure(name: impl Into<String>, value: f64) {
    with_record(|r| {
        r.measurements.insert(name.into(), value);
    });
}

/// Records that the check crossed a warning threshold; it still passes, and the report shows
/// it as a warning with `text`.
pub(crate) fn warn(text: impl Into<String>) {
    with_record(|r| r.warnings.push(text.into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_scope_gets_its_own_record() {
        let (out, record) = recorded(async {
            measure("lag_ms", 12.5);
            warn("slow");
            7
        })
        .await;
        assert_eq!(out, 7);
        assert_eq!(record.measurements["lag_ms"], 12.5);
        assert_eq!(record.warnings, ["slow"]);
        let (_, empty) = recorded(async {}).await;
        assert_eq!(empty, Record::default());
        measure("outside", 1.0); // no scope: ignored, no panic
    }
}
