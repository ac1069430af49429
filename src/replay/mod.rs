//! The replay suite: every history file of a corpus replayed against the workflow code of this
//! build, one libtest-mimic trial per file, so a change that would break running workflows
//! fails in CI instead of after the deploy.
//!
//! A corpus is a folder of histories in Temporal's JSON format: recorded by the harness's own
//! tests (`#[temporal_test(record = "fixtures/histories")]` or
//! `TEMPORAL_HARNESS_RECORD_HISTORIES`), pulled from a deployment (`temporal-harness histories
//! pull`), or saved with `temporal workflow show --output json`. The replay test is a file of
//! three lines with `harness = false` in `Cargo.toml`:
//!
//! ```rust,no_run
//! use temporal_harness::runner::Definitions;
//! # use temporalio_macros::{workflow, workflow_methods};
//! # use temporalio_sdk::{WorkflowContext, WorkflowResult};
//! # #[workflow]
//! # #[derive(Default)]
//! # pub struct OrderWorkflow;
//! # #[workflow_methods]
//! # impl OrderWorkflow {
//! #     #[run]
//! #     pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
//! #         Ok(())
//! #     }
//! # }
//!
//! fn main() {
//!     temporal_harness::replay::main("fixtures/histories", || {
//!         Definitions::new().workflow::<OrderWorkflow>()
//!     });
//! }
//! ```
//!
//! Trials are named `<folder>/<workflow type>/<file name>` and run under `cargo test` and
//! nextest with the usual filters; a history a versioned worker (Worker Deployments) ran is
//! `<folder>/<workflow type>@<build ID>/<file name>`, so `cargo test --test replay -- @v1`
//! replays one version's histories, and the report groups them by version. A failing trial names the file, the workflow and what the
//! replayer reported: the event whose command the code no longer issues, or issues
//! differently. An empty corpus fails: a gate that checked nothing must not read as green.

mod pull;

mod error;

pub use error::ReplayError;
pub use pull::{pull, pull_from, redact_payloads, PullError, PullOptions};

use crate::runner::divergence::{locate, plain};
use crate::runner::Definitions;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::history::v1::History as ProtoHistory;

/// Runs the replay suite over `corpus` (relative to the crate's root) as this test binary's
/// `main`, with the workflows `definitions` registers, and exits with libtest's status.
pub fn main(
    corpus: impl AsRef<Path>,
    definitions: impl Fn() -> Definitions + Send + Sync + 'static,
) -> ! {
    let args = Arguments::from_args();
    let trials = trials(corpus, definitions);
    libtest_mimic::run(&args, trials).exit()
}

/// The trials of the suite, one per history file under `corpus` (for a `main` of your own).
/// An empty or missing corpus is one failing trial that says so.
pub fn trials(
    corpus: impl AsRef<Path>,
    definitions: impl Fn() -> Definitions + Send + Sync + 'static,
) -> Vec<Trial> {
    let root = resolve(corpus.as_ref());
    let files = history_files(&root);
    if files.is_empty() {
        let message = ReplayError::EmptyCorpus { root }.to_string();
        return vec![Trial::test("corpus/empty", move || Err(message.into()))];
    }
    let definitions = Arc::new(definitions);
    files
        .into_iter()
        .map(|file| {
            let name = trial_name(&root, &file);
            let definitions = definitions.clone();
            Trial::test(name, move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime: {e}"))?;
                runtime
                    .block_on(replay_file(&file, &definitions()))
                    .map_err(|e| Failed::from(e.to_string()))
            })
        })
        .collect()
}

/// One history file of a corpus, replayed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// Its trial name: `<folder>/<workflow type>/<file stem>`, or
    /// `<folder>/<workflow type>@<build ID>/<file stem>` for a history a versioned worker ran.
    pub trial: String,
    /// The file.
    pub file: PathBuf,
    /// The Worker Deployment version (build ID) that ran the history's last workflow task,
    /// when a versioned worker ran it: for selecting and reporting per version.
    pub version: Option<String>,
    /// Why it does not replay (what the replayer saw, and the fix), or `None`.
    pub failure: Option<ReplayError>,
}

/// Replays every history file under `corpus` against `definitions` and returns each outcome,
/// for gates of your own (the suite's trials do the same, one per file). An empty corpus is
/// one failed entry that says so.
pub async fn check(corpus: impl AsRef<Path>, definitions: &Definitions) -> Vec<Checked> {
    let root = resolve(corpus.as_ref());
    let files = history_files(&root);
    if files.is_empty() {
        return vec![Checked {
            trial: "corpus/empty".into(),
            file: root.clone(),
            version: None,
            failure: Some(ReplayError::EmptyCorpus { root }),
        }];
    }
    let mut checked = Vec::with_capacity(files.len());
    for file in files {
        checked.push(Checked {
            trial: trial_name(&root, &file),
            version: read_history(&file).and_then(|h| version(&h)),
            failure: replay_file(&file, definitions).await.err(),
            file,
        });
    }
    checked
}

/// Replays one file: `Ok` when the code issues the commands its history recorded.
async fn replay_file(file: &Path, definitions: &Definitions) -> Result<(), ReplayError> {
    let bytes = std::fs::read(file).map_err(|source| ReplayError::Unreadable {
        file: file.to_path_buf(),
        source,
    })?;
    // Parsed once: the replayer takes it, and the divergence locator reads its events.
    let events =
        crate::proto_json::from_json(&bytes).map_err(|source| ReplayError::NotAHistory {
            file: file.to_path_buf(),
            source,
        })?;
    let Err(e) = definitions.replay_one(events.clone().into()).await else {
        return Ok(());
    };
    Err(ReplayError::Diverged {
        file: file.to_path_buf(),
        location: locate(&events.events, definitions).await,
        replayer: plain(&e.to_string()).to_string(),
    })
}

/// A relative corpus is the crate's (cargo sets `CARGO_MANIFEST_DIR` for tests).
fn resolve(corpus: &Path) -> PathBuf {
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(root) if corpus.is_relative() => PathBuf::from(root).join(corpus),
        _ => corpus.to_path_buf(),
    }
}

/// Every `*.json` under `root`, sorted (trial order is stable).
fn history_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `<folder>/<workflow type>/<file stem>`, the folder relative to the corpus root.
fn trial_name(root: &Path, file: &Path) -> String {
    let folder = file
        .parent()
        .and_then(|p| p.strip_prefix(root).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ".".into());
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let history = read_history(file);
    let kind = history
        .as_ref()
        .and_then(workflow_type)
        .unwrap_or_else(|| "unknown".into());
    match history.as_ref().and_then(version) {
        Some(build_id) => format!("{folder}/{kind}@{build_id}/{stem}"),
        None => format!("{folder}/{kind}/{stem}"),
    }
}

/// A history file, parsed (cheap enough for listing: a file is read once more when its trial
/// runs); `None` when it cannot be read (its trial then says why).
fn read_history(file: &Path) -> Option<ProtoHistory> {
    let bytes = std::fs::read(file).ok()?;
    crate::proto_json::from_json(&bytes).ok()
}

/// The build ID of the Worker Deployment version that ran the history's last workflow task.
fn version(history: &ProtoHistory) -> Option<String> {
    crate::runner::History::from_proto("", history.clone())
        .versions()
        .into_iter()
        .flatten()
        .next_back()
}

/// The workflow type in a history's first event.
fn workflow_type(history: &ProtoHistory) -> Option<String> {
    match history.events.first()?.attributes.as_ref()? {
        Attributes::WorkflowExecutionStartedEventAttributes(a) => {
            a.workflow_type.as_ref().map(|t| t.name.clone())
        }
        _ => None,
    }
}
