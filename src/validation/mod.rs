//! Deployment validation: checks of a Temporal + PostgreSQL deployment, each with a stable id,
//! run by `temporal-harness validate` and, one libtest-mimic trial per check, by
//! `tests/validation.rs`.
//!
//! A check reports [`Status::Passed`], [`Status::Failed`] or [`Status::Skipped`] (the target
//! lacks what it needs, such as PostgreSQL; never passed instead). Checks share one
//! [`Session`] per run: one connection, one validation worker, one run of each workflow.

mod activities;
mod admin;
mod canary;
mod checks;
mod context;
pub mod releases;
mod report;
mod session;
mod target;
mod workflow;

pub use activities::{ActivityReport, ValidationActivities};
pub use canary::{CanaryRun, CanaryWorkflow};
pub use report::{Format, Report, RunVerdict, StartedWorkflow};
pub use session::{Db, ProbeRun, Session};
pub use target::{
    parse_search_attribute, ConnectionBudget, Databases, NoDatabases, Target,
    SEARCH_ATTRIBUTE_TYPES,
};
pub use workflow::{
    CurrentStage, ProbeWorkflow, Stage, StageResult, ValidationInput, ValidationWorkflow,
    RETRY_ATTEMPTS,
};

use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Category {
    /// PostgreSQL on its own.
    Postgres,
    /// The Temporal server on its own.
    Temporal,
    /// Temporal and PostgreSQL together.
    Integration,
    /// A stage of the validation workflow.
    Workflow,
    /// The server's own metrics against thresholds.
    Metrics,
    /// A canary workflow measuring what users feel (timer accuracy, update and schedule
    /// round trips, visibility delay).
    Canary,
}

impl Category {
    /// Its name, as JSON and JUnit reports spell it.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// How a check (or a stage of the validation workflow) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It found what it checks for.
    Passed,
    /// It did not; the message says why and what to do.
    Failed,
    /// The target lacks what it needs (such as PostgreSQL); the message says what.
    Skipped,
}

impl Status {
    /// The word the human report and the progress lines show (failures stand out).
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "pass",
            Status::Failed => "FAIL",
            Status::Skipped => "skip",
        }
    }
}

/// Which suites a check is part of: `--profile quick` runs the [`Profile::Quick`] checks
/// (reads of state, no workflow: under 2 s on a warm stack), `--profile full` every check.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum Profile {
    /// Reads of the deployment's state; in both profiles.
    Quick,
    /// Runs workflows or waits on the server; only in the full profile (the default).
    #[default]
    Full,
}

/// A check that did not pass: failed, or skipped, with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Failed, with the cause and the fix.
    Failed(String),
    /// Skipped, with the reason.
    Skipped(String),
}

impl Verdict {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Verdict::Failed(m) | Verdict::Skipped(m) => m,
        }
    }
}

/// What a check function returns: `Ok(message)` passed.
pub type Checked = Result<String, Verdict>;

/// A failed verdict from anything printable.
pub(crate) fn fail(message: impl std::fmt::Display) -> Verdict {
    Verdict::Failed(message.to_string())
}

type CheckFn = fn(Arc<Session>) -> BoxFuture<'static, Checked>;

/// One check of the registry.
#[derive(Clone)]
pub struct Check {
    /// Stable id, `<category>.<name>` (e.g. `postgres.version`).
    pub id: &'static str,
    /// What it looks at.
    pub category: Category,
    /// The cheapest profile that runs it.
    pub profile: Profile,
    /// What it checks, in one sentence.
    pub description: &'static str,
    run: CheckFn,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("id", &self.id).finish()
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckResult {
    /// The check's id.
    pub id: String,
    /// Its category.
    pub category: Category,
    /// How it ended.
    pub status: Status,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// What it found, or why it failed or was skipped.
    pub message: String,
    /// Values it measured, by name (unit in the name: `lag_ms`), for dashboards.
    pub measurements: std::collections::BTreeMap<String, f64>,
    /// Warning thresholds it crossed while passing.
    pub warnings: Vec<String>,
}

impl CheckResult {
    /// The word the report shows: `warn` for a pass with warnings, else the status's.
    pub fn label(&self) -> &'static str {
        if self.status == Status::Passed && !self.warnings.is_empty() {
            "warn"
        } else {
            self.status.label()
        }
    }
}

/// Longest a single check may take before it fails as timed out.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

impl Check {
    pub(crate) fn new(
        id: &'static str,
        category: Category,
        profile: Profile,
        description: &'static str,
        run: CheckFn,
    ) -> Check {
        Check {
            id,
            category,
            profile,
            description,
            run,
        }
    }

    /// Runs the check against the session's target, bounded by [`CHECK_TIMEOUT`].
    pub async fn run(&self, session: &Arc<Session>) -> CheckResult {
        let started = Instant::now();
        let bounded = tokio::time::timeout(CHECK_TIMEOUT, (self.run)(session.clone()));
        let (outcome, record) = context::recorded(bounded).await;
        let outcome =
            outcome.unwrap_or_else(|_| Err(fail(format!("no answer within {CHECK_TIMEOUT:?}"))));
        let (status, mut message) = match outcome {
            Ok(m) => (Status::Passed, m),
            Err(Verdict::Failed(m)) => (Status::Failed, m),
            Err(Verdict::Skipped(m)) => (Status::Skipped, m),
        };
        if status == Status::Passed {
            for warning in &record.warnings {
                message.push_str(&format!("; warning: {warning}"));
            }
        }
        CheckResult {
            id: self.id.to_string(),
            category: self.category,
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            message,
            measurements: record.measurements,
            warnings: record.warnings,
        }
    }
}

/// Every check, in the order they run.
pub fn registry() -> Vec<Check> {
    let mut all = checks::postgres::checks();
    all.extend(checks::postgres_health::checks());
    all.extend(checks::temporal::checks());
    all.extend(checks::cluster::checks());
    all.extend(checks::namespace::checks());
    all.extend(checks::versioning::checks());
    all.extend(checks::tls::checks());
    all.extend(checks::integration::checks());
    all.extend(checks::stages::checks());
    all.extend(checks::canary::checks());
    // Last: in the full profile they read the server's metrics after the run's own traffic.
    all.extend(checks::metrics::checks());
    all
}

/// `--only` / `--skip` globs over check ids (`postgres.*`, `*.version`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    only: Vec<glob::Pattern>,
    skip: Vec<glob::Pattern>,
    profile: Profile,
}

/// `--only`/`--skip` globs that would select nothing, or the wrong thing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// Not a glob.
    #[error("bad glob `{glob}`: {source}")]
    BadGlob {
        /// The glob given.
        glob: String,
        /// What the glob parser said.
        #[source]
        source: glob::PatternError,
    },
    /// A glob that matches no check: a typo, not a request for fewer checks.
    #[error(
        "{flag} `{pattern}` matches no check. Fix: `temporal-harness validate --list` shows the \
         check ids"
    )]
    MatchesNothing {
        /// `--only` or `--skip`.
        flag: &'static str,
        /// The glob.
        pattern: String,
    },
    /// The filters together leave nothing to run.
    #[error(
        "--only/--skip leave no check to run in profile {profile} (of {total}). Fix: loosen \
         the filters or use --profile full; `temporal-harness validate --list` shows the \
         check ids"
    )]
    NothingLeft {
        /// How many checks there are.
        total: usize,
        /// The profile the filters applied to.
        profile: Profile,
    },
}

impl Filter {
    /// From `--only` and `--skip` globs within `profile`; a bad glob is an error naming it.
    pub fn new(only: &[String], skip: &[String], profile: Profile) -> Result<Filter, FilterError> {
        let parse = |globs: &[String]| {
            globs
                .iter()
                .map(|g| {
                    glob::Pattern::new(g).map_err(|source| FilterError::BadGlob {
                        glob: g.clone(),
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let filter = Filter {
            only: parse(only)?,
            skip: parse(skip)?,
            profile,
        };
        let all = registry();
        let ids: Vec<&str> = all.iter().map(|c| c.id).collect();
        // A glob that matches no check is a typo, not a request for fewer checks.
        for (flag, patterns) in [("--only", &filter.only), ("--skip", &filter.skip)] {
            if let Some(p) = patterns
                .iter()
                .find(|p| !ids.iter().any(|id| p.matches(id)))
            {
                return Err(FilterError::MatchesNothing {
                    flag,
                    pattern: p.to_string(),
                });
            }
        }
        if !all.iter().any(|c| filter.selects(c)) {
            return Err(FilterError::NothingLeft {
                total: ids.len(),
                profile,
            });
        }
        Ok(filter)
    }

    /// Whether `--only` names check `id` exactly (not through a glob): it must then run.
    pub fn names(&self, id: &str) -> bool {
        self.only.iter().any(|p| p.as_str() == id)
    }

    /// Whether `check` runs.
    pub fn selects(&self, check: &Check) -> bool {
        let id = check.id;
        (self.profile == Profile::Full || check.profile == Profile::Quick)
            && (self.only.is_empty() || self.only.iter().any(|p| p.matches(id)))
            && !self.skip.iter().any(|p| p.matches(id))
    }
}

/// Runs the selected checks in order against `target`, telling `progress` of each result,
/// and stops the validation worker.
pub async fn validate(
    target: Target,
    filter: &Filter,
    mut progress: impl FnMut(&CheckResult),
) -> Report {
    let started = Instant::now();
    let session = Session::new(target);
    let selected: Vec<Check> = registry()
        .into_iter()
        .filter(|c| filter.selects(c))
        .collect();
    // With workflow checks before them, the metrics checks judge this run's traffic: take
    // the counters' starting point now.
    let runs_workflows = selected
        .iter()
        .any(|c| matches!(c.category, Category::Workflow | Category::Canary));
    let reads_metrics = selected.iter().any(|c| c.category == Category::Metrics);
    if runs_workflows && reads_metrics && session.target().metrics_url.is_some() {
        checks::metrics::take_baseline(&session).await;
    }
    let mut results = Vec::new();
    for check in &selected {
        let result = check.run(&session).await;
        progress(&result);
        results.push(result);
    }
    session.close();
    // One boundary for every message of every check: whatever a driver or server echoed of
    // the database URLs (or of a password in them) leaves as `***`, whatever its shape.
    if let Ok(databases) = &session.target().databases {
        for result in &mut results {
            result.message = databases.scrub(&result.message);
        }
    }
    let mut report = Report::new(session.target(), results, started.elapsed())
        .with_workflows(session.target(), session.started_workflows());
    report.named_checks = selected
        .iter()
        .filter(|c| filter.names(c.id))
        .map(|c| c.id.to_string())
        .collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_id(id: &str) -> Check {
        registry().into_iter().find(|c| c.id == id).expect(id)
    }

    #[test]
    fn the_registry_has_the_checks_the_suite_promises() {
        let all = registry();
        let count = |c| all.iter().filter(|k| k.category == c).count();
        assert!(count(Category::Postgres) >= 16, "{all:?}");
        assert!(count(Category::Temporal) >= 13, "{all:?}");
        assert!(count(Category::Integration) >= 2, "{all:?}");
        assert_eq!(count(Category::Workflow), 5);
        assert_eq!(count(Category::Metrics), 4);
        assert_eq!(count(Category::Canary), 4);
        let mut ids: Vec<_> = all.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len(), "ids are unique");
        for check in &all {
            let prefix = match check.category {
                Category::Postgres => "postgres.",
                Category::Temporal => "temporal.",
                Category::Integration => "integration.",
                Category::Workflow => "stage.",
                Category::Metrics => "metrics.",
                Category::Canary => "canary.",
            };
            assert!(check.id.starts_with(prefix), "{}", check.id);
            // Whatever runs a workflow is too slow for the quick profile.
            if matches!(check.category, Category::Workflow | Category::Canary) {
                assert_eq!(check.profile, Profile::Full, "{}", check.id);
            }
        }
    }

    #[test]
    fn filters_select_by_glob_and_profile() {
        let f = Filter::new(&["postgres.*".into()], &["*.version".into()], Profile::Full).unwrap();
        assert!(f.selects(&by_id("postgres.tables")));
        assert!(!f.selects(&by_id("postgres.version")));
        assert!(!f.selects(&by_id("temporal.health")));
        assert!(Filter::default().selects(&by_id("stage.connection")));
        let quick = Filter::new(&[], &[], Profile::Quick).unwrap();
        assert!(quick.selects(&by_id("temporal.health")));
        assert!(!quick.selects(&by_id("stage.connection")));
        assert!(!quick.selects(&by_id("canary.timer")));
        let err = Filter::new(&["[".into()], &[], Profile::Full).unwrap_err();
        assert!(matches!(&err, FilterError::BadGlob { glob, .. } if glob == "["));
        assert!(err.to_string().contains("bad glob `[`"), "{err}");
        assert_eq!("quick".parse::<Profile>(), Ok(Profile::Quick));
        assert!("fast".parse::<Profile>().is_err());
    }

    #[test]
    fn a_filter_that_selects_nothing_is_refused() {
        let full = Profile::Full;
        let err = Filter::new(&["nomatch*".into()], &[], full).unwrap_err();
        assert!(
            err.to_string()
                .contains("--only `nomatch*` matches no check"),
            "{err}"
        );
        let err = Filter::new(&[], &["*".into()], full).unwrap_err();
        assert!(matches!(err, FilterError::NothingLeft { .. }), "{err}");
        let err = Filter::new(&["postgres.*".into()], &["postgres.*".into()], full).unwrap_err();
        assert!(err.to_string().contains("leave no check to run"), "{err}");
        let err = Filter::new(&[], &["postgre.*".into()], full).unwrap_err();
        assert!(
            matches!(&err, FilterError::MatchesNothing { flag: "--skip", pattern } if pattern == "postgre.*"),
            "{err}"
        );
        // The canaries exist, but not in the quick profile: nothing left, and it says why.
        let err = Filter::new(&["canary.*".into()], &[], Profile::Quick).unwrap_err();
        assert!(err.to_string().contains("profile quick"), "{err}");
    }
}
