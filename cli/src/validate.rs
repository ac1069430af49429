//! `temporal-harness validate`: the deployment-validation checks against a deployment (or,
//! without an address, the embedded default stack), reported as a table, JSON or JUnit.

use crate::frontend::FrontendAuth;
use std::path::PathBuf;
use std::time::Duration;
use temporal_harness::config::{is_http_url, parse_duration, parse_ui_url, Bounds};
use temporal_harness::conninfo::PgConnInfo;
use temporal_harness::exit_codes;
use temporal_harness::stack::{StackError, TemporalError};
use temporal_harness::validation::{
    self, ConnectionBudget, Databases, Filter, Format, Profile, Status, Target,
};
use temporal_harness::StackConfig;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Frontend `host:port` of the deployment; without it the embedded default stack boots.
    #[arg(long)]
    temporal_address: Option<String>,
    /// Namespace the workflow checks run in (default: `default`). Only with
    /// --temporal-address: the embedded stack uses its configured namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// Temporal's database, as a URL (`postgres://user:password@host:5432/temporal`) or libpq
    /// key=value pairs (`host=h user=u password='p w' dbname=temporal sslmode=verify-full`);
    /// the visibility database is `temporal_visibility` on the same server. Prefer the env
    /// var: command lines are visible to other users.
    #[arg(long, env = "TEMPORAL_HARNESS_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
    #[command(flatten)]
    auth: FrontendAuth,
    /// The frontend's HTTP API (`http://host:7243`), for `temporal.http`.
    #[arg(long)]
    http_url: Option<String>,
    /// The deployment's Web UI (`https://temporal.example.com`): the report links each
    /// workflow the run started to its page.
    #[arg(long, value_parser = |v: &str| parse_ui_url("--ui-url", v).map_err(|e| e.to_string()))]
    ui_url: Option<String>,
    /// History shard count the deployment was created with.
    #[arg(long)]
    expect_shards: Option<i32>,
    /// quick (reads of state, no workflow: seconds) or full (adds the workflow checks,
    /// stages and canaries).
    #[arg(long, default_value = "full", value_parser = super::choice::<Profile>())]
    profile: Profile,
    /// The server's Prometheus endpoint (`http://host:9090/metrics`) for the metrics checks.
    #[arg(long)]
    metrics_url: Option<String>,
    /// A custom search attribute the workflows need, `NAME` or `NAME=TYPE` (repeatable).
    #[arg(long = "search-attribute", value_name = "NAME[=TYPE]")]
    search_attributes: Vec<String>,
    /// The server's `persistence.datastores.<default>.sql.maxConns` (per service host).
    #[arg(long, requires_all = ["sql_vis_max_conns", "hosts"])]
    sql_max_conns: Option<u32>,
    /// The server's `persistence.datastores.<visibility>.sql.maxConns` (per service host).
    #[arg(long, requires_all = ["sql_max_conns", "hosts"])]
    sql_vis_max_conns: Option<u32>,
    /// Hosts per service: `frontend=2,history=3,matching=2,worker=1` (a single binary is
    /// one of each): `temporal.membership` expects them, the connection budget counts them.
    #[arg(long)]
    hosts: Option<String>,
    /// Temporal's database connections must use TLS (also implied by `sslmode=require`).
    #[arg(long)]
    require_db_tls: bool,
    /// First retry interval of the error-handling stage (doubles per attempt).
    #[arg(long, default_value = "100ms")]
    retry_interval: String,
    /// human (a table), json, or junit.
    #[arg(long, default_value = "human", value_parser = super::choice::<Format>())]
    format: Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Run only checks whose id matches (glob, repeatable): `--only 'postgres.*'`.
    #[arg(long)]
    only: Vec<String>,
    /// Leave out checks whose id matches (glob, repeatable).
    #[arg(long)]
    skip: Vec<String>,
    /// List the checks (after --only/--skip) and exit; connects to nothing.
    #[arg(long)]
    list: bool,
}

/// A configuration error: printed, exit 2.
pub(crate) fn usage(message: impl std::fmt::Display) -> i32 {
    // Messages quote what the user typed; a credential typed in the wrong place stays hidden.
    let args = crate::args_lossy();
    let message = crate::scrub::scrub_inputs(&message.to_string(), args.iter().map(String::as_str));
    errln!("error: {message}");
    exit_codes::CONFIG_ERROR
}

pub async fn run(config: StackConfig, args: ValidateArgs) -> i32 {
    // Every check is decided before anything boots: a flag that would be ignored, or a filter
    // that selects nothing, is a usage error, never a green report of nothing.
    let filter = match Filter::new(&args.only, &args.skip, args.profile) {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    if args.temporal_address.is_none() {
        if let Some(e) = deployment_flags_without_address(&args, &config) {
            return usage(e);
        }
    }
    if args.list {
        for check in validation::registry().iter().filter(|c| filter.selects(c)) {
            outln!(
                "{:<34} {:<5} {}",
                check.id,
                check.profile,
                check.description
            );
        }
        return exit_codes::SUCCESS;
    }
    let format = args.format;
    let retry = match parse_duration(&args.retry_interval, &Bounds::RETRY_INTERVAL) {
        Ok(d) => d,
        Err(expected) => {
            return usage(format!(
                "--retry-interval `{}` is not valid: expected {expected}",
                args.retry_interval
            ))
        }
    };
    // From here on Ctrl-C and SIGTERM end the run cleanly: a boot removes what it started,
    // a validation run stops its worker and gives up its stack.
    let mut signals = match super::Signals::install() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (mut target, stack) = match &args.temporal_address {
        Some(address) => match external_target(address, &args) {
            Ok(t) => (t, None),
            Err(e) => return usage(e),
        },
        None => match super::acquire_interruptibly(&config, &mut signals).await {
            Ok(stack) => (Target::from_endpoints(stack.endpoints()), Some(stack)),
            Err(code) => return code,
        },
    };
    if stack.is_none() && target.temporal.uses_tls() {
        // TLS to a plaintext server is the client's settings, not the deployment's health:
        // found by one connection before any check judges the deployment.
        let probe = temporal_harness::stack::connect(&target.temporal, Duration::from_secs(5));
        if let Err(e @ StackError::Temporal(TemporalError::TlsToPlaintext { .. })) = probe.await {
            return usage(e);
        }
    }
    target.retry_initial_interval_ms = retry.as_millis() as u64;
    if args.expect_shards.is_some() {
        target.expected_shards = args.expect_shards;
    }
    if args.ui_url.is_some() {
        target.ui_url = args.ui_url.clone();
    }
    if let Err(e) = apply_deployment_facts(&mut target, &args) {
        return usage(e);
    }
    // The table on stdout is the progress; other formats show progress on stderr.
    let live = format == Format::Human && args.output.is_none();
    if !live {
        errln!("temporal-harness: validating {}", target.description);
    }
    let validating = validation::validate(target, &filter, |r| {
        if !live {
            errln!("  {} {} ({} ms)", r.label(), r.id, r.duration_ms);
        }
    });
    let report = tokio::select! {
        report = validating => Some(report),
        name = signals.recv() => {
            errln!("temporal-harness: {name}: validation stopped, no report");
            None
        }
    };
    if let Some(stack) = stack {
        let _ = stack.shutdown(config.startup_timeout).await;
    }
    let Some(report) = report else {
        return exit_codes::INTERRUPTED;
    };
    let rendered = report.render(format);
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &rendered) {
                return usage(format!("cannot write {}: {e}", path.display()));
            }
            errln!(
                "temporal-harness: report written to {} ({} passed, {} failed, {} skipped)",
                path.display(),
                report.count(Status::Passed),
                report.count(Status::Failed),
                report.count(Status::Skipped)
            );
        }
        None => out!("{rendered}"),
    }
    use temporal_harness::validation::RunVerdict;
    match report.verdict() {
        RunVerdict::NothingChecked => errln!(
            "error: no verdict: every selected check was skipped (each says why). Fix: give what \
             the checks need (e.g. --postgres-url for postgres.*), or select checks that can run"
        ),
        RunVerdict::NamedCheckSkipped => errln!(
            "error: no verdict: a check named with --only was skipped (the report says why). \
             Fix: give what it needs, or leave it out of --only"
        ),
        RunVerdict::Passed | RunVerdict::Failed => {}
    }
    report.exit_code()
}

/// What the operator states about the deployment: metrics endpoint, search attributes, pool
/// sizes, TLS requirement. Each is checked here, so a typo is a usage error, not a check that
/// silently judged something else.
fn apply_deployment_facts(target: &mut Target, args: &ValidateArgs) -> Result<(), String> {
    if let Some(url) = &args.http_url {
        if !is_http_url(url) {
            return Err(format!(
                "--http-url `{url}` must be the frontend's HTTP API address, \
                 http(s)://host:port (e.g. http://temporal.example.com:7243)"
            ));
        }
        target.http_url = Some(url.clone());
    }
    if let Some(url) = &args.metrics_url {
        let parsed = url::Url::parse(url)
            .map_err(|e| format!("--metrics-url `{url}` is not a URL ({e})"))?;
        if parsed.scheme() != "http" || parsed.host_str().is_none() {
            return Err(format!(
                "--metrics-url `{url}` must be http://host:port/metrics (the server's \
                 Prometheus listener serves plain HTTP)"
            ));
        }
        target.metrics_url = Some(url.clone());
    }
    for spec in &args.search_attributes {
        target
            .search_attributes
            .push(validation::parse_search_attribute(spec)?);
    }
    if let Some(hosts) = &args.hosts {
        let hosts = parse_hosts(hosts)?;
        target.expected_hosts = Some(hosts.clone());
        if let (Some(max_conns), Some(visibility_max_conns)) =
            (args.sql_max_conns, args.sql_vis_max_conns)
        {
            target.connection_budget = Some(ConnectionBudget {
                max_conns,
                visibility_max_conns,
                hosts,
            });
        }
    }
    target.require_db_tls |= args.require_db_tls;
    Ok(())
}

/// `frontend=2,history=3,...`: every role once, counts of at least 1.
fn parse_hosts(text: &str) -> Result<Vec<(String, u32)>, String> {
    const ROLES: [&str; 4] = ["frontend", "history", "matching", "worker"];
    let mut hosts = Vec::new();
    for part in text.split(',') {
        let parsed = part
            .split_once('=')
            .and_then(|(role, n)| Some((role.trim(), n.trim().parse::<u32>().ok()?)));
        match parsed {
            Some((role, n)) if ROLES.contains(&role) && n > 0 => {
                if hosts.iter().any(|(r, _): &(String, u32)| r == role) {
                    return Err(format!("--hosts names {role} twice"));
                }
                hosts.push((role.to_string(), n));
            }
            _ => {
                return Err(format!(
                    "--hosts `{text}`: `{part}` is not ROLE=COUNT with a role of {} and a \
                     count of at least 1",
                    ROLES.join(", ")
                ))
            }
        }
    }
    if let Some(missing) = ROLES.iter().find(|r| !hosts.iter().any(|(h, _)| h == *r)) {
        return Err(format!(
            "--hosts `{text}` leaves out {missing}: name every role (a single binary is \
             frontend=1,history=1,matching=1,worker=1)"
        ));
    }
    Ok(hosts)
}

fn external_target(address: &str, args: &ValidateArgs) -> Result<Target, String> {
    let temporal = args.auth.target(address)?;
    let mut target = Target::new(temporal, args.namespace.as_deref().unwrap_or("default"));
    if let Some(text) = &args.postgres_url {
        // clap takes the value from the flag or, without it, from the variable.
        let from = if crate::args_lossy()
            .into_iter()
            .any(|a| a == "--postgres-url" || a.starts_with("--postgres-url="))
        {
            "--postgres-url"
        } else {
            "TEMPORAL_HARNESS_POSTGRES_URL"
        };
        let info = PgConnInfo::parse(text)
            .and_then(|info| info.check_files().map(|()| info))
            .map_err(|e| format!("{from}: {e}"))?;
        target.databases = Ok(Databases::from_temporal_url(info));
    }
    target.description = format!("deployment at {address}");
    Ok(target)
}

/// The flags that describe a deployment, when no deployment is named: they would be ignored
/// (the embedded or configured stack is validated instead), so they are refused.
fn deployment_flags_without_address(args: &ValidateArgs, config: &StackConfig) -> Option<String> {
    // TEMPORAL_HARNESS_POSTGRES_URL does take effect without --temporal-address when the
    // configuration itself names an external deployment (TEMPORAL_HARNESS_ADDRESS).
    let configured_url = config
        .external
        .as_ref()
        .is_some_and(|e| e.postgres_url.is_some());
    let mut flags: Vec<&str> = [
        (args.namespace.is_some(), "--namespace"),
        (
            args.postgres_url.is_some() && !configured_url,
            "--postgres-url (or TEMPORAL_HARNESS_POSTGRES_URL)",
        ),
    ]
    .into_iter()
    .filter_map(|(set, flag)| set.then_some(flag))
    .collect();
    flags.extend(args.auth.given());
    (!flags.is_empty()).then(|| {
        format!(
            "{} only appl{} to a deployment named with --temporal-address; without it, validate \
             checks the stack the harness configuration describes. Fix: add \
             --temporal-address host:port, or leave out {}",
            flags.join(", "),
            if flags.len() == 1 { "ies" } else { "y" },
            flags.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::parse_hosts;

    #[test]
    fn hosts_name_every_role_once_with_a_count() {
        let hosts = parse_hosts("frontend=2,history=3,matching=2,worker=1").unwrap();
        assert_eq!(hosts.iter().map(|(_, n)| n).sum::<u32>(), 8);
        for (bad, says) in [
            ("frontend=2,history=3,matching=2", "leaves out worker"),
            (
                "frontend=0,history=1,matching=1,worker=1",
                "`frontend=0` is not ROLE=COUNT",
            ),
            (
                "frontend=1,frontend=1,matching=1,worker=1",
                "names frontend twice",
            ),
            ("web=1", "`web=1` is not ROLE=COUNT"),
            ("history", "`history` is not ROLE=COUNT"),
        ] {
            let err = parse_hosts(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
