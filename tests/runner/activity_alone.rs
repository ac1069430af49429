//! Activities tested alone, without a server (`activity_test`): heartbeats recorded typed,
//! cancellation at a chosen heartbeat, the attempt, deadline and previous heartbeat an
//! activity sees, and the errors for a missing instance or a heartbeat of another type.

use std::time::Duration;
use temporal_harness::activity_test::{ActivityTest, ActivityTestError};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Imports rows from where the last attempt's heartbeat left off, heartbeating each row.
pub struct Importer {
    source: &'static str,
}

#[activities]
impl Importer {
    #[activity]
    pub async fn import(
        self: std::sync::Arc<Self>,
        ctx: ActivityContext,
        rows: u32,
    ) -> Result<String, ActivityError> {
        let from = ctx
            .heartbeat_details()
            .deserialize::<u32>()
            .ok()
            .flatten()
            .map_or(0, |r| r + 1);
        for row in from..rows {
            ctx.record_heartbeat(row).await?;
            if ctx.is_cancelled() {
                return Err(ActivityError::cancelled());
            }
        }
        let info = ctx.info();
        Ok(format!(
            "{} rows {from}..{rows} on attempt {} with a deadline: {}",
            self.source,
            info.attempt,
            info.deadline.is_some()
        ))
    }

    #[activity]
    pub async fn labelled(ctx: ActivityContext, label: String) -> Result<(), ActivityError> {
        ctx.record_heartbeat(label).await?;
        Ok(())
    }
}

#[tokio::test]
async fn heartbeats_are_recorded_and_the_attempt_resumes_from_the_previous_one() {
    let run = ActivityTest::<u32>::new()
        .register(Importer {
            source: "orders.csv",
        })
        .attempt(3)
        .previous_heartbeat(6u32)
        .deadline_in(Duration::from_secs(30))
        .run(Importer::import, 10)
        .await
        .expect("the run happens");
    assert_eq!(run.heartbeats, [7, 8, 9]);
    assert!(!run.cancel_requested);
    assert_eq!(
        run.result.expect("the import completes"),
        "orders.csv rows 7..10 on attempt 3 with a deadline: true"
    );
}

#[tokio::test]
async fn cancellation_at_a_chosen_heartbeat_reaches_the_activity() {
    let run = ActivityTest::<u32>::new()
        .register(Importer {
            source: "orders.csv",
        })
        .cancel_at_heartbeat(2)
        .run(Importer::import, 100)
        .await
        .expect("the run happens");
    assert_eq!(
        run.heartbeats,
        [0, 1],
        "it stopped at the heartbeat that saw the cancel"
    );
    assert!(run.cancel_requested);
    assert!(
        matches!(run.result, Err(ActivityError::Cancelled { .. })),
        "{:?}",
        run.result
    );
}

#[tokio::test]
async fn a_missing_instance_and_a_heartbeat_of_another_type_are_named() {
    let missing = ActivityTest::<u32>::new()
        .run(Importer::import, 1)
        .await
        .expect_err("no instance registered");
    assert!(
        matches!(&missing, ActivityTestError::MissingImplementer { activity } if activity == "Importer::import"),
        "{missing}"
    );
    assert!(
        missing.to_string().contains("Fix: `.register(instance)`"),
        "{missing}"
    );

    let wrong = ActivityTest::<u32>::new()
        .run(Importer::labelled, "a".to_string())
        .await
        .expect_err("a String heartbeat is not a u32");
    assert!(
        wrong
            .to_string()
            .starts_with("activity Importer::labelled recorded a heartbeat that is not a u32"),
        "{wrong}"
    );
}
