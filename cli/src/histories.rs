//! `temporal-harness histories pull`: workflow histories from a deployment into a corpus for
//! the replay suite (`temporal_harness::replay`); `histories show`: a history file as one line
//! per event (the files failing tests write, a corpus's, `temporal workflow show --output json`).

use crate::frontend::FrontendAuth;
use std::path::PathBuf;
use std::time::Instant;
use temporal_harness::exit_codes;
use temporal_harness::replay::{pull_from, PullOptions};
use temporal_harness::runner::History;

/// `histories` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum HistoriesCommand {
    /// Download the histories a visibility query finds, one JSON file per run under
    /// `<out>/<WorkflowType>/`, for the replay suite.
    Pull(Box<PullArgs>),
    /// Print history files (Temporal's JSON format) as one line per event, with the
    /// activity, timer, signal and child names the code chose.
    Show(ShowArgs),
}

/// Arguments of `histories show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The history files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Arguments of `histories pull`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Frontend `host:port` of the deployment.
    #[arg(long)]
    temporal_address: String,
    /// Namespace to read.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Visibility query: `"WorkflowType='OrderWorkflow' AND ExecutionStatus='Running'"`.
    #[arg(long)]
    query: String,
    /// At most this many workflows.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// The corpus folder to write into.
    #[arg(long)]
    out: PathBuf,
    /// Replace the strings in JSON payloads with "redacted" and empty other payloads (for
    /// personal data; a workflow that branches on a redacted value will not replay the same).
    #[arg(long)]
    redact_payloads: bool,
    #[command(flatten)]
    auth: FrontendAuth,
}

/// Runs a `histories` subcommand; returns the exit code.
pub async fn run(command: HistoriesCommand) -> i32 {
    match command {
        HistoriesCommand::Pull(args) => pull_histories(*args).await,
        HistoriesCommand::Show(args) => show(&args),
    }
}

fn show(args: &ShowArgs) -> i32 {
    for file in &args.files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                return crate::validate::usage(format!(
                    "cannot read {}: {e}. Fix: name an existing history file",
                    file.display()
                ))
            }
        };
        let history = match History::from_json(&bytes) {
            Ok(h) => h,
            Err(e) => return crate::validate::usage(format!("{}: {e}", file.display())),
        };
        outln!(
            "{}: workflow {} ({}, {} events)",
            file.display(),
            history.workflow_id(),
            history.workflow_type().unwrap_or("unknown type"),
            history.events().len()
        );
        outln!("{}", history.render());
    }
    exit_codes::SUCCESS
}

async fn pull_histories(args: PullArgs) -> i32 {
    if args.limit == 0 {
        return crate::validate::usage("--limit 0 pulls nothing. Fix: --limit 1 or more");
    }
    let target = match args.auth.target(&args.temporal_address) {
        Ok(t) => t,
        Err(e) => return crate::validate::usage(e),
    };
    let options = PullOptions {
        query: args.query.clone(),
        limit: args.limit,
        out: args.out.clone(),
        redact_payloads: args.redact_payloads,
    };
    let started = Instant::now();
    errln!(
        "temporal-harness: pulling up to {} histories from {} (namespace {})",
        args.limit,
        args.temporal_address,
        args.namespace
    );
    let pulled = pull_from(&target, &args.namespace, &options, |n, file| {
        if n % 10 == 0 {
            errln!("temporal-harness: {n} pulled (latest {})", file.display());
        }
    })
    .await;
    match pulled {
        Ok(files) if files.is_empty() => {
            errln!(
                "error: the query found no workflows in namespace {}: nothing was written. \
                 Fix: check the query and the namespace",
                args.namespace
            );
            exit_codes::CONFIG_ERROR
        }
        Ok(files) => {
            errln!(
                "temporal-harness: {} history file(s) under {} in {:.1?}",
                files.len(),
                args.out.display(),
                started.elapsed()
            );
            exit_codes::SUCCESS
        }
        Err(e) => {
            errln!("error: {e}");
            exit_codes::CONFIG_ERROR
        }
    }
}
