//! Finding the binaries provisioning installs (`temporal`, `temporal-server`,
//! `temporal-sql-tool`, `temporal-test-server`).

use super::StackError;
use crate::StackConfig;
use std::path::{Path, PathBuf};

/// `name` from the configured tools folder, this checkout's `.tools/bin`, or `PATH`.
pub(crate) fn find_tool(config: &StackConfig, name: &str) -> Result<PathBuf, StackError> {
    let dirs = tool_dirs(config);
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| StackError::MissingBinary {
            name: name.into(),
            looked: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn tool_dirs(config: &StackConfig) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = &config.tools_dir {
        dirs.push(d.clone());
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_where_it_looked() {
        let config = StackConfig {
            tools_dir: Some("/nonexistent/tools".into()),
            ..StackConfig::default()
        };
        let msg = find_tool(&config, "no-such-tool").unwrap_err().to_string();
        assert!(
            msg.contains("no-such-tool not found") && msg.contains("/nonexistent/tools"),
            "{msg}"
        );
        assert!(msg.contains("scripts/provision.sh"), "{msg}");
    }
}
