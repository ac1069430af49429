//! `temporal-harness validate` as users run it: against the embedded stack, a dev server
//! without PostgreSQL, a PostgreSQL with a wrong password, a stopped Temporal, and with bad
//! arguments. Each runs the real binary.

use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use temporal_harness::{Stack, StackConfig};

fn validate(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .arg("validate")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run temporal-harness")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn checks_with(report: &Value, prefix: &str) -> Vec<Value> {
    report["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with(prefix))
        .cloned()
        .collect()
}

#[test]
fn the_embedded_stack_passes_every_check() {
    let out = validate(&["--format", "json", "--retry-interval", "20ms"], &[]);
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    // What a harness stack cannot show: a standby, a TLS frontend; a server that just booted
    // may not have flushed its counters yet. Each says so; nothing else skips.
    for check in report["checks"].as_array().unwrap() {
        if check["status"] == "skipped" {
            let allowed = match check["id"].as_str().unwrap() {
                "postgres.replication" => "no standby",
                "temporal.tls_certificate" => "plaintext",
                "metrics.persistence_errors" => "yet",
                // 1.32 exports no backlog gauge by default: nothing measured, said so.
                "metrics.backlog" => "no approximate_backlog_count",
                // The harness's own workers are unversioned (no Worker Deployment to check).
                "temporal.worker_deployments" => "unversioned",
                other => panic!("{other} skipped: {check}"),
            };
            assert!(
                check["message"].as_str().unwrap().contains(allowed),
                "{check}"
            );
        }
    }
    assert!(report["summary"]["passed"].as_u64().unwrap() >= 40);
    // Dashboards read values, not messages.
    let measured = |id: &str, name: &str| {
        let check = checks_with(&report, id).pop().expect(id);
        assert!(check["measurements"][name].is_number(), "{check}");
    };
    measured("postgres.connection_budget", "pool_connections_needed");
    measured("temporal.shards", "owned_shards");
    measured("canary.timer", "timer_lateness_ms");
    measured("canary.schedule", "schedule_fire_ms");
    measured("metrics.persistence_latency", "persistence_p95_ms");
    assert!(report["target"]["temporal_db_url"]
        .as_str()
        .unwrap()
        .contains(":***@"));
    for check in report["checks"].as_array().unwrap() {
        assert!(check["duration_ms"].is_u64(), "{check}");
        assert!(!check["message"].as_str().unwrap().is_empty(), "{check}");
    }
}

#[test]
fn a_dev_server_skips_the_postgres_checks_with_the_reason() {
    let out = validate(
        &["--format", "json", "--retry-interval", "20ms"],
        &[("TEMPORAL_HARNESS_FLAVOR", "dev")],
    );
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let postgres = checks_with(&report, "postgres.");
    assert!(postgres.len() >= 8);
    for check in postgres
        .iter()
        .chain(&checks_with(&report, "integration."))
        .chain(&checks_with(&report, "stage.state_persistence"))
    {
        assert_eq!(check["status"], "skipped", "{check}");
        assert!(
            check["message"]
                .as_str()
                .unwrap()
                .contains("without PostgreSQL"),
            "{check}"
        );
    }
    for check in checks_with(&report, "temporal.") {
        let expected = match check["id"].as_str().unwrap() {
            // Plaintext; unversioned workers (no Worker Deployment to check).
            "temporal.tls_certificate" | "temporal.worker_deployments" => "skipped",
            _ => "passed",
        };
        assert_eq!(check["status"], expected, "{check}");
    }
}

#[test]
fn a_wrong_postgres_password_fails_clearly_and_is_never_shown() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = StackConfig::load().unwrap();
    let stack = runtime.block_on(Stack::acquire(&config)).expect("stack");
    let endpoints = stack.endpoints().clone();
    let stored = endpoints.temporal_db_url.as_ref().unwrap().exposed_url();
    let mut url = url::Url::parse(stored.expose()).unwrap();
    url.set_password(Some("Wr0ng-Pa55word")).unwrap();
    for format in ["human", "json", "junit"] {
        let out = validate(
            &[
                "--temporal-address",
                &endpoints.temporal.address,
                "--only",
                "postgres.*",
                "--format",
                format,
            ],
            &[("TEMPORAL_HARNESS_POSTGRES_URL", url.as_str())],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            !stdout.contains("Wr0ng-Pa55word") && !stderr.contains("Wr0ng-Pa55word"),
            "the password leaked:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("password") && stdout.contains("temporal:***@"),
            "{stdout}"
        );
        if format == "json" {
            let report = json(&out);
            for check in checks_with(&report, "postgres.") {
                assert_eq!(check["status"], "failed", "{check}");
            }
        }
    }
    runtime
        .block_on(stack.shutdown(Duration::from_secs(60)))
        .unwrap();
}

#[test]
fn an_api_key_for_a_plaintext_server_is_a_usage_error_that_never_shows_the_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = StackConfig::load().unwrap();
    let stack = runtime.block_on(Stack::acquire(&config)).expect("stack");
    let address = stack.endpoints().temporal.address.clone();
    let out = validate(
        &[
            "--temporal-address",
            &address,
            "--api-key-env",
            "TH_TEST_API_KEY",
        ],
        &[("TH_TEST_API_KEY", "sk-Zq8Rw3Tn5Vb7")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("answered in plaintext"), "{stderr}");
    assert!(stderr.contains("an API key is set"), "{stderr}");
    assert!(
        stdout.is_empty(),
        "no check judged the deployment: {stdout}"
    );
    assert!(!format!("{stdout}{stderr}").contains("Zq8Rw"), "{stderr}");
    runtime
        .block_on(stack.shutdown(Duration::from_secs(60)))
        .unwrap();
}

#[test]
fn passwords_that_break_url_parsers_never_reach_any_report_format() {
    // Generated credentials hold URL delimiters; each of these once went out verbatim, and
    // the first was once shown as one host while the driver connected to another.
    let password = "Pw3#x/y@z?:Q";
    let urls = [
        format!("postgres://temporal:{password}@127.0.0.1:1/temporal"),
        format!("postgres://temporal:{password}@127.0.0.1:1"),
        format!("postgres://127.0.0.1:1/temporal?user=temporal&password={password}"),
        format!("temporal:{password}@127.0.0.1:1/temporal"),
    ];
    for url in &urls {
        for format in ["human", "json", "junit"] {
            let out = validate(
                &[
                    "--temporal-address",
                    "127.0.0.1:1",
                    "--only",
                    "postgres.*",
                    "--only",
                    "integration.*",
                    "--format",
                    format,
                ],
                &[("TEMPORAL_HARNESS_POSTGRES_URL", url)],
            );
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // Refused, not guessed at: parsers disagree about where such a password ends.
            assert_eq!(out.status.code(), Some(2), "{url} {format}: {shown}");
            assert!(
                shown.contains("TEMPORAL_HARNESS_POSTGRES_URL") && shown.contains("Fix:"),
                "{shown}"
            );
            for piece in [password, "Pw3#x", "z?:Q"] {
                assert!(
                    !shown.contains(piece),
                    "{url} {format} shows {piece}:\n{shown}"
                );
            }
        }
    }
}

#[test]
fn a_stopped_temporal_fails_fast_and_clearly() {
    // A port nothing listens on: bound, its number taken, closed again.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let out = validate(&["--temporal-address", &address, "--format", "json"], &[]);
    let elapsed = started.elapsed();
    let report = json(&out);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let health = &checks_with(&report, "temporal.health")[0];
    assert_eq!(health["status"], "failed");
    let message = health["message"].as_str().unwrap();
    assert!(message.contains(&address), "{message}");
    for check in checks_with(&report, "stage.") {
        assert_eq!(check["status"], "failed", "{check}");
    }
    for check in checks_with(&report, "postgres.") {
        assert_eq!(check["status"], "skipped", "{check}");
    }
    // Not a timing target: a bound that only a hang would break.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

#[test]
fn bad_arguments_exit_2_naming_the_cause() {
    let cases: [(&[&str], &str); 4] = [
        (&["--format", "xml"], "possible values: human, json, junit"),
        (&["--only", "["], "bad glob"),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--tls-ca",
                "/nonexistent/ca.pem",
            ],
            "/nonexistent/ca.pem",
        ),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--api-key-env",
                "TEMPORAL_HARNESS_TEST_UNSET_KEY",
            ],
            "TEMPORAL_HARNESS_TEST_UNSET_KEY",
        ),
    ];
    for (args, expected) in cases {
        let out = validate(args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn flags_that_would_be_ignored_and_filters_that_select_nothing_are_usage_errors() {
    // Each would have validated the embedded stack (or nothing) and exited 0. Now each exits
    // 2 naming the cause, before anything boots.
    // (arguments, environment, what the error names)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 6] = [
        (
            &["--namespace", "does-not-exist"],
            &[],
            "--namespace only applies to a deployment",
        ),
        (
            &[],
            &[(
                "TEMPORAL_HARNESS_POSTGRES_URL",
                "postgres://u:PWsecret@h/db",
            )],
            "TEMPORAL_HARNESS_POSTGRES_URL",
        ),
        (
            &["--tls-ca", "/ca.pem", "--api-key-env", "K"],
            &[],
            "--tls-ca, --api-key-env",
        ),
        (&["--only", "nomatch*"], &[], "`nomatch*` matches no check"),
        (&["--skip", "*"], &[], "leave no check to run"),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--only",
                "postgres.*",
                "--skip",
                "postgres.*",
            ],
            &[],
            "leave no check to run",
        ),
    ];
    for (args, env, expected) in cases {
        let out = validate(args, env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("starting"),
            "{args:?} booted something: {stderr}"
        );
        assert!(!stderr.contains("PWsecret"), "{stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} reported: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn list_and_filters_select_checks_without_connecting() {
    let out = validate(&["--list"], &[]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(listed.lines().count() >= 21, "{listed}");
    let out = validate(
        &["--list", "--only", "stage.*", "--skip", "stage.error_*"],
        &[],
    );
    let listed: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "stage.connection",
            "stage.workflow_execution",
            "stage.activity_execution",
            "stage.state_persistence"
        ]
    );
}

#[test]
fn junit_goes_to_the_output_file() {
    let dir = std::env::temp_dir().join(format!("th-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("validation.xml");
    let out = validate(
        &[
            "--only",
            "temporal.*",
            "--format",
            "junit",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    let xml = std::fs::read_to_string(&file).unwrap();
    let temporal = temporal_harness::validation::registry()
        .iter()
        .filter(|c| c.id.starts_with("temporal."))
        .count();
    assert_eq!(xml.matches("<testcase ").count(), temporal, "{xml}");
    assert!(xml.contains("name=\"temporal.health\""), "{xml}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_quick_profile_runs_no_workflow_and_stated_facts_are_checked() {
    let out = validate(
        &[
            "--profile",
            "quick",
            "--format",
            "json",
            "--search-attribute",
            "WorkflowTypeNotRegistered=Keyword",
        ],
        &[],
    );
    let report = json(&out);
    // The missing search attribute fails the run: a stated fact is checked, never ignored.
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["temporal.search_attributes"], "{report:#}");
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"temporal.membership"), "{ids:?}");
    assert!(
        !ids.iter()
            .any(|id| id.starts_with("stage.") || id.starts_with("canary.")),
        "{ids:?}"
    );
    assert!(report["workflows"].as_array().unwrap().is_empty());
}

#[test]
fn deployment_facts_that_do_not_parse_are_usage_errors() {
    for (args, says) in [
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--metrics-url",
                "ftp://x",
            ][..],
            "must be http://host:port/metrics",
        ),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--search-attribute",
                "=Keyword",
            ][..],
            "expected NAME or NAME=TYPE",
        ),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--sql-max-conns",
                "20",
                "--sql-vis-max-conns",
                "10",
                "--hosts",
                "history=2",
            ][..],
            "leaves out frontend",
        ),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--search-attribute",
                "bad name=NOTATYPE",
            ][..],
            "no whitespace",
        ),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--search-attribute",
                "Name=NOTATYPE",
            ][..],
            "`NOTATYPE` is not a search attribute type",
        ),
        // A URL where host:port belongs is the user's typo, not an unreachable deployment.
        (
            &["--temporal-address", "http://127.0.0.1:7233"][..],
            "--temporal-address",
        ),
        (&["--temporal-address", "127.0.0.1"][..], "no :port"),
        (
            &[
                "--temporal-address",
                "127.0.0.1:1",
                "--http-url",
                "127.0.0.1:7243",
            ][..],
            "--http-url `127.0.0.1:7243` must be",
        ),
        (&["--profile", "fast"][..], "fast"),
        (&["--sql-max-conns", "20"][..], "--sql-vis-max-conns"),
    ] {
        let out = validate(args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
