//! Deployment validation: checks of a Temporal + PostgreSQL deployment, each with a stable id,
//! run by `temporal-harness validate` and, one libtest-mimic trial per check, by
//! `tests/validation.rs`.
//!
//! A check reports [`Status::Passed`], [`Status::Failed`] or [`Status::Skipped`] (the target
//! lacks what it needs, such as PostgreSQL; never passed instead). Checks share one
//! [`Session`] per run: one connection, one validation worker, one run of each workflow.

mod activities;
mod checks;
mod report;
mod session;
mod target;
mod workflow;

pub use activities::{ActivityReport, ValidationActivities};
pub use report::{Format, Report, StartedWorkflow};
pub use session::{Db, ProbeRun, Session};
pub use target::{Databases, NoDatabases, Target};
pub use workflow::{
    CurrentStage, ProbeWorkflow, Stage, StageResult, ValidationInput, ValidationWorkflow,
    RETRY_ATTEMPTS,
};

use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// PostgreSQL on its own.
    Postgres,
    /// The Temporal server on its own.
    Temporal,
    /// Temporal and PostgreSQL together.
    Integration,
    /// A stage of the validation workflow.
    Workflow,
}

impl Category {
    /// Its name, as JSON and JUnit reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Category::Postgres => "postgres",
            Category::Temporal => "temporal",
            Category::Integration => "integration",
            Category::Workflow => "workflow",
        }
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
}

/// Longest a single check may take before it fails as timed out.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

impl Check {
    pub(crate) fn new(
        id: &'static str,
        category: Category,
        description: &'static str,
        run: CheckFn,
    ) -> Check {
        Check {
            id,
            category,
            description,
            run,
        }
    }

    /// Runs the check against the session's target, bounded by [`CHECK_TIMEOUT`].
    pub async fn run(&self, session: &Arc<Session>) -> CheckResult {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, (self.run)(session.clone())).await {
            Ok(outcome) => outcome,
            Err(_) => Err(fail(format!("no answer within {CHECK_TIMEOUT:?}"))),
        };
        let (status, message) = match outcome {
            Ok(m) => (Status::Passed, m),
            Err(Verdict::Failed(m)) => (Status::Failed, m),
            Err(Verdict::Skipped(m)) => (Status::Skipped, m),
        };
        CheckResult {
            id: self.id.to_string(),
            category: self.category,
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            message,
        }
    }
}

/// Every check, in the order they run.
pub fn registry() -> Vec<Check> {
    let mut all = checks::postgres::checks();
    all.extend(checks::temporal::checks());
    all.extend(checks::integration::checks());
    all.extend(checks::stages::checks());
    all
}

/// `--only` / `--skip` globs over check ids (`postgres.*`, `*.version`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    only: Vec<glob::Pattern>,
    skip: Vec<glob::Pattern>,
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
        "--only/--skip leave no check to run (of {total}). Fix: loosen the filters; \
         `temporal-harness validate --list` shows the check ids"
    )]
    NothingLeft {
        /// How many checks there are.
        total: usize,
    },
}

impl Filter {
    /// From `--only` and `--skip` globs; a bad glob is an error naming it.
    pub fn new(only: &[String], skip: &[String]) -> Result<Filter, FilterError> {
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
        };
        let ids: Vec<&str> = registry().iter().map(|c| c.id).collect();
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
        if !ids.iter().any(|id| filter.selects(id)) {
            return Err(FilterError::NothingLeft { total: ids.len() });
        }
        Ok(filter)
    }

    /// Whether the check `id` runs.
    pub fn selects(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|p| p.matches(id)))
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
    let mut results = Vec::new();
    for check in registry().iter().filter(|c| filter.selects(c.id)) {
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
    Report::new(session.target(), results, started.elapsed())
        .with_workflows(session.target(), session.started_workflows())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_has_the_checks_the_suite_promises() {
        let all = registry();
        let count = |c| all.iter().filter(|k| k.category == c).count();
        assert!(count(Category::Postgres) >= 8, "{all:?}");
        assert!(count(Category::Temporal) >= 6, "{all:?}");
        assert!(count(Category::Integration) >= 2, "{all:?}");
        assert_eq!(count(Category::Workflow), 5);
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
            };
            assert!(check.id.starts_with(prefix), "{}", check.id);
        }
    }

    #[test]
    fn filters_select_by_glob() {
        let f = Filter::new(&["postgres.*".into()], &["*.version".into()]).unwrap();
        assert!(f.selects("postgres.tables"));
        assert!(!f.selects("postgres.version"));
        assert!(!f.selects("temporal.health"));
        assert!(Filter::default().selects("anything"));
        let err = Filter::new(&["[".into()], &[]).unwrap_err();
        assert!(matches!(&err, FilterError::BadGlob { glob, .. } if glob == "["));
        assert!(err.to_string().contains("bad glob `[`"), "{err}");
    }

    #[test]
    fn a_filter_that_selects_nothing_is_refused() {
        let err = Filter::new(&["nomatch*".into()], &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("--only `nomatch*` matches no check"),
            "{err}"
        );
        let err = Filter::new(&[], &["*".into()]).unwrap_err();
        assert!(matches!(err, FilterError::NothingLeft { .. }), "{err}");
        let err = Filter::new(&["postgres.*".into()], &["postgres.*".into()]).unwrap_err();
        assert!(err.to_string().contains("leave no check to run"), "{err}");
        let err = Filter::new(&[], &["postgre.*".into()]).unwrap_err();
        assert!(
            matches!(&err, FilterError::MatchesNothing { flag: "--skip", pattern } if pattern == "postgre.*"),
            "{err}"
        );
    }
}
