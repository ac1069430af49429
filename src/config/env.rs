//! Where environment settings are read from: the process, or a fixed map in tests.

use super::ConfigError;

/// A source of environment variables (the process environment, or a map in tests).
pub trait Env {
    /// The value of `key` if set and not empty; a value that is not UTF-8 is an error naming
    /// the variable (never a setting silently left out).
    fn var(&self, key: &str) -> Result<Option<String>, ConfigError>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match std::env::var(key) {
            Ok(v) => Ok(Some(v).filter(|v| !v.is_empty())),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(ConfigError::NotUnicode { key: key.into() })
            }
        }
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string()))
    }
}
