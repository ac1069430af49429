//! A validation run's report, rendered for people (a table), scripts (JSON) or CI (JUnit).

use super::{CheckResult, ProbeRun, Status, Target};
use crate::exit_codes;
use std::time::Duration;

/// Output formats of `temporal-harness validate`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::Display, strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum Format {
    /// A table with a summary line.
    Human,
    /// One JSON document: `{"target", "summary", "checks"}`.
    Json,
    /// JUnit XML, one test case per check.
    Junit,
}

/// The results of one run, with its target (passwords redacted).
#[derive(Debug, Clone)]
pub struct Report {
    target: serde_json::Value,
    /// Every check's result, in the order they ran.
    pub checks: Vec<CheckResult>,
    /// Wall time of the whole run.
    pub duration: Duration,
    /// The workflows the run started, with their Web UI pages where the target has a UI.
    pub workflows: Vec<StartedWorkflow>,
    /// The checks named by their exact id with `--only` (not through a glob): each of them
    /// must run, or the run has no verdict.
    pub named_checks: Vec<String>,
}

/// What a run establishes, from its checks' statuses (docs/configuration.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum RunVerdict {
    /// At least one check passed, none failed, and every skip was allowed: exit 0.
    Passed,
    /// A check failed: exit 1.
    Failed,
    /// No check ran (every one was skipped, or none was selected): no verdict, exit 2.
    NothingChecked,
    /// A check named by its id with `--only` was skipped: what was asked for was not
    /// checked, exit 2. (A glob selects a group; its skips are allowed like any run's.)
    NamedCheckSkipped,
}

impl RunVerdict {
    /// The process exit code of a run with this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            RunVerdict::Passed => exit_codes::SUCCESS,
            RunVerdict::Failed => exit_codes::CHECK_FAILED,
            RunVerdict::NothingChecked | RunVerdict::NamedCheckSkipped => exit_codes::CONFIG_ERROR,
        }
    }
}

/// A workflow a validation run started, for people to look at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StartedWorkflow {
    /// Its workflow and run ID.
    #[serde(flatten)]
    pub run: ProbeRun,
    /// Its page in the Web UI, where the target has one.
    pub ui_url: Option<String>,
}

impl Report {
    /// A report of `checks` run against `target`.
    pub fn new(target: &Target, checks: Vec<CheckResult>, duration: Duration) -> Self {
        Report {
            target: target.summary(),
            checks,
            duration,
            workflows: Vec::new(),
            named_checks: Vec::new(),
        }
    }

    /// Adds the workflows the run started, linked to `target`'s Web UI.
    pub fn with_workflows(mut self, target: &Target, runs: Vec<ProbeRun>) -> Self {
        self.workflows = runs
            .into_iter()
            .map(|run| StartedWorkflow {
                ui_url: target.workflow_url(&run.workflow_id, &run.run_id),
                run,
            })
            .collect();
        self
    }

    /// How many checks ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// What the run establishes. A failure outweighs everything; a run that passed nothing
    /// has no verdict, nor one that skipped a check asked for by its id; other skips are
    /// allowed, each with its reason.
    pub fn verdict(&self) -> RunVerdict {
        if self.count(Status::Failed) > 0 {
            RunVerdict::Failed
        } else if self.count(Status::Passed) == 0 {
            RunVerdict::NothingChecked
        } else if self
            .checks
            .iter()
            .any(|c| c.status == Status::Skipped && self.named_checks.contains(&c.id))
        {
            RunVerdict::NamedCheckSkipped
        } else {
            RunVerdict::Passed
        }
    }

    /// The exit code of [`Report::verdict`].
    pub fn exit_code(&self) -> i32 {
        self.verdict().exit_code()
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Human => self.human(),
            Format::Json => serde_json::to_string_pretty(&self.json()).expect("report is JSON"),
            Format::Junit => self.junit(),
        }
    }

    fn summary_line(&self) -> String {
        let verdict = match self.verdict() {
            RunVerdict::Passed => "passed",
            RunVerdict::Failed => "FAILED",
            RunVerdict::NothingChecked => {
                "NO VERDICT: nothing was checked (every check was skipped)"
            }
            RunVerdict::NamedCheckSkipped => {
                "NO VERDICT: a check named with --only was skipped (see its reason)"
            }
        };
        format!(
            "{} checks: {} passed, {} failed, {} skipped in {:.2} s: {verdict}",
            self.checks.len(),
            self.count(Status::Passed),
            self.count(Status::Failed),
            self.count(Status::Skipped),
            self.duration.as_secs_f64()
        )
    }

    fn human(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.id.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut out = format!(
            "Validating {} (namespace {})\n{:<6}  {:<width$}  {:>7}  MESSAGE\n",
            self.target["temporal_address"].as_str().unwrap_or("?"),
            self.target["namespace"].as_str().unwrap_or("?"),
            "STATUS",
            "CHECK",
            "TIME",
        );
        for c in &self.checks {
            let status = c.label();
            out.push_str(&format!(
                "{status:<6}  {:<width$}  {:>4} ms  {}\n",
                c.id, c.duration_ms, c.message
            ));
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        if !self.workflows.is_empty() {
            out.push_str("Workflows this run started:\n");
            for w in &self.workflows {
                let at = w
                    .ui_url
                    .clone()
                    .unwrap_or_else(|| format!("run {}", w.run.run_id));
                out.push_str(&format!("  {}  {at}\n", w.run.workflow_id));
            }
            if self.workflows.iter().all(|w| w.ui_url.is_none()) {
                out.push_str(
                    "  (no Web UI known: --ui-url with --temporal-address links each to its page)\n",
                );
            }
        }
        out
    }

    /// The JSON document `--format json` prints.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target,
            "summary": {
                "passed": self.count(Status::Passed),
                "failed": self.count(Status::Failed),
                "skipped": self.count(Status::Skipped),
                "verdict": self.verdict().to_string(),
                "exit_code": self.exit_code(),
                "duration_ms": self.duration.as_millis() as u64,
            },
            "checks": self.checks,
            "workflows": self.workflows,
        })
    }

    fn junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut suites: Vec<TestSuite> = Vec::new();
        for c in &self.checks {
            let category = c.category.name();
            if suites.last().is_none_or(|s| s.name.as_str() != category) {
                suites.push(TestSuite::new(category));
            }
            let mut status = match c.status {
                Status::Passed => TestCaseStatus::success(),
                Status::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
                Status::Skipped => TestCaseStatus::skipped(),
            };
            if c.status != Status::Passed {
                status.set_message(c.message.clone());
            }
            let mut case = TestCase::new(c.id.clone(), status);
            case.set_classname(format!("temporal-harness.validate.{category}"));
            case.set_time(Duration::from_millis(c.duration_ms));
            case.set_system_out(c.message.clone());
            suites.last_mut().expect("pushed above").add_test_case(case);
        }
        // CI systems read a suite of skipped cases as green: a run without a verdict says so
        // as a failing case of its own.
        if matches!(
            self.verdict(),
            RunVerdict::NothingChecked | RunVerdict::NamedCheckSkipped
        ) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(format!("no verdict: {}", self.verdict()));
            let mut case = TestCase::new("verdict", status);
            case.set_classname("temporal-harness.validate");
            let mut suite = TestSuite::new("verdict");
            suite.add_test_case(case);
            suites.push(suite);
        }
        let mut report = Junit::new("temporal-harness validate");
        report.set_time(self.duration);
        report.add_test_suites(suites);
        report.to_string().expect("JUnit XML serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conninfo::PgConnInfo;
    use crate::stack::TemporalTarget;
    use crate::validation::{Category, Databases};

    fn report() -> Report {
        let mut target = Target::new(TemporalTarget::plain("127.0.0.1:7233"), "default");
        target.databases = Ok(Databases::from_temporal_url(
            PgConnInfo::parse("postgres://temporal:hunter2@db:5432/temporal").unwrap(),
        ));
        let result = |id: &str, status, message: &str| CheckResult {
            id: id.into(),
            category: Category::Postgres,
            status,
            duration_ms: 3,
            message: message.into(),
            measurements: Default::default(),
            warnings: Vec::new(),
        };
        Report::new(
            &target,
            vec![
                result("postgres.connection", Status::Passed, "ok"),
                result("postgres.version", Status::Failed, "too <old> & odd"),
                result("postgres.tables", Status::Skipped, "no PostgreSQL"),
            ],
            Duration::from_millis(42),
        )
    }

    #[test]
    fn started_workflows_link_to_the_ui_or_say_how_to() {
        let run = ProbeRun {
            workflow_id: "v-probe".into(),
            run_id: "r-1".into(),
        };
        let mut target = Target::new(TemporalTarget::plain("127.0.0.1:7233"), "default");
        let without = report().with_workflows(&target, vec![run.clone()]);
        let human = without.render(Format::Human);
        assert!(human.contains("v-probe  run r-1"), "{human}");
        assert!(human.contains("--ui-url"), "{human}");
        target.ui_url = Some("https://ui.example.com/".into());
        let with = report().with_workflows(&target, vec![run]);
        let link = "https://ui.example.com/namespaces/default/workflows/v-probe/r-1/history";
        assert!(with.render(Format::Human).contains(link));
        assert_eq!(with.json()["workflows"][0]["ui_url"], link);
        assert_eq!(with.json()["workflows"][0]["workflow_id"], "v-probe");
    }

    #[test]
    fn a_run_that_checked_nothing_or_skipped_a_named_check_has_no_verdict() {
        let with = |statuses: &[Status], named: bool| {
            let mut r = report();
            r.checks.truncate(statuses.len());
            for (c, s) in r.checks.iter_mut().zip(statuses) {
                c.status = *s;
            }
            if named {
                r.named_checks = r.checks.iter().map(|c| c.id.clone()).collect();
            }
            r
        };
        use Status::*;
        for (statuses, named, verdict, code) in [
            (
                &[Passed, Skipped][..],
                false,
                RunVerdict::Passed,
                exit_codes::SUCCESS,
            ),
            (
                &[Passed, Skipped][..],
                true,
                RunVerdict::NamedCheckSkipped,
                exit_codes::CONFIG_ERROR,
            ),
            (
                &[Skipped, Skipped][..],
                false,
                RunVerdict::NothingChecked,
                exit_codes::CONFIG_ERROR,
            ),
            (
                &[][..],
                false,
                RunVerdict::NothingChecked,
                exit_codes::CONFIG_ERROR,
            ),
            (
                &[Failed, Skipped][..],
                true,
                RunVerdict::Failed,
                exit_codes::CHECK_FAILED,
            ),
            (
                &[Passed, Passed][..],
                true,
                RunVerdict::Passed,
                exit_codes::SUCCESS,
            ),
        ] {
            let r = with(statuses, named);
            assert_eq!(
                (r.verdict(), r.exit_code()),
                (verdict, code),
                "{statuses:?} {named}"
            );
            assert_eq!(r.json()["summary"]["exit_code"], code);
            let junit = r.render(Format::Junit);
            let human = r.render(Format::Human);
            let verdictless = code == exit_codes::CONFIG_ERROR;
            assert_eq!(junit.contains("no verdict"), verdictless, "{junit}");
            assert_eq!(human.contains("NO VERDICT"), verdictless, "{human}");
        }
    }

    #[test]
    fn every_format_carries_the_results_and_no_password() {
        let r = report();
        assert_eq!(r.exit_code(), exit_codes::CHECK_FAILED);
        let json = r.json();
        assert_eq!(json["summary"]["passed"], 1);
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!(json["summary"]["skipped"], 1);
        assert_eq!(json["summary"]["duration_ms"], 42);
        assert_eq!(json["checks"][1]["status"], "failed");
        assert_eq!(json["checks"][1]["category"], "postgres");
        let human = r.render(Format::Human);
        assert!(human.contains("FAIL    postgres.version"), "{human}");
        assert!(
            human.contains("3 checks: 1 passed, 1 failed, 1 skipped"),
            "{human}"
        );
        let junit = r.render(Format::Junit);
        assert!(
            junit.contains("<failure message=\"too &lt;old&gt; &amp; odd\""),
            "{junit}"
        );
        assert!(junit.contains("<skipped"), "{junit}");
        for out in [human, junit, r.render(Format::Json)] {
            assert!(!out.contains("hunter2"), "{out}");
        }
        assert!(r.render(Format::Json).contains("temporal:***@db"));
    }

    #[test]
    fn formats_are_named_once() {
        use strum::VariantNames;
        assert_eq!("junit".parse::<Format>(), Ok(Format::Junit));
        assert!("xml".parse::<Format>().is_err());
        assert_eq!(Format::VARIANTS, ["human", "json", "junit"]);
        assert_eq!(Format::Junit.to_string(), "junit");
    }
}
