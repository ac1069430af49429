//! Why a history file of a corpus does not pass the replay gate.

use crate::proto_json::HistoryJsonError;
use std::path::PathBuf;

/// A history file that does not replay, or a corpus with nothing to replay. The message names
/// the file, the cause and the fix; match on the variants, never on the text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The corpus holds no history file: a gate that checked nothing must not read as green.
    #[error(
        "no history files (*.json) under {}. Fix: record some (`#[temporal_test(record = \
         \"...\")]` or TEMPORAL_HARNESS_RECORD_HISTORIES), pull them (`temporal-harness \
         histories pull`), or point the suite at the folder that has them",
        root.display()
    )]
    EmptyCorpus {
        /// The corpus folder, as resolved.
        root: PathBuf,
    },

    /// The file could not be read.
    #[error("cannot read {}: {source}. Fix: make the file readable, or remove it from the corpus", file.display())]
    Unreadable {
        /// The history file.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not a history in Temporal's JSON format.
    #[error("{}: {source}", file.display())]
    NotAHistory {
        /// The history file.
        file: PathBuf,
        /// Why it does not parse (with its own fix).
        #[source]
        source: HistoryJsonError,
    },

    /// The code no longer issues the commands the history recorded.
    #[error(
        "{} no longer replays against this code (a deploy would break running workflows like \
         it): {}the replayer says: {replayer}. Fix: put the change behind `patched()` so old \
         histories keep their path, or, if no such workflow runs anywhere, remove the file",
        file.display(),
        location.as_ref().map(|at| format!("{at}; ")).unwrap_or_default()
    )]
    Diverged {
        /// The history file.
        file: PathBuf,
        /// Where the code and the history part: the workflow task and the command, when the
        /// locator could tell.
        location: Option<String>,
        /// What the SDK's replayer reported.
        replayer: String,
    },
}
