//! Why a configuration value cannot be used: each variant names the input, where it came
//! from, and the fix.

use crate::conninfo::PgConnInfo;
use std::path::PathBuf;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that is not one of the accepted ones.
    #[error("{key} = {value:?} is not valid: expected {expected}. Fix: correct {key}")]
    Invalid {
        /// The env var or file key.
        key: String,
        /// What was given, with anything that looks like a credential redacted (a value in
        /// the wrong variable may be a password).
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// `temporal-harness.toml` could not be read.
    #[error("cannot read {path}: {source}")]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `temporal-harness.toml` is not valid TOML, or has a key or value the harness does
    /// not know.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Where and what is wrong: line and column, never the line itself or a quoted value
        /// (so the parser's own error, which quotes them, is not kept).
        reason: String,
    },
    /// A PostgreSQL connection string that cannot be parsed (the message never quotes it).
    #[error("{from}: {source}")]
    ConnString {
        /// Where it came from: the variable, or the file key naming the variable.
        from: String,
        /// What is wrong, and the fix.
        #[source]
        source: crate::conninfo::ConnInfoError,
    },
    /// An environment variable whose value is not UTF-8 text.
    #[error(
        "{key} is set to a value that is not UTF-8 text, so no setting can be read from it. Fix: \
         set {key} to text, or unset it"
    )]
    NotUnicode {
        /// The variable.
        key: String,
    },
    /// The external backend was chosen without an address.
    #[error(
        "backend `external` needs an address: set TEMPORAL_HARNESS_ADDRESS=host:port \
         (or [external] address in temporal-harness.toml)"
    )]
    ExternalWithoutAddress,
    /// A combination of settings the harness cannot run; the text names the fix.
    #[error("{0}")]
    Unsupported(String),
}

/// A PostgreSQL connection string from `from` (named in the error).
pub(crate) fn parse_conn_string(from: &str, text: &str) -> Result<PgConnInfo, ConfigError> {
    PgConnInfo::parse(text).map_err(|source| ConfigError::ConnString {
        from: from.into(),
        source,
    })
}

impl ConfigError {
    pub(super) fn invalid(key: &str, value: &str, expected: &str) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            value: crate::secret::redact_url(value),
            expected: expected.into(),
        }
    }
}
