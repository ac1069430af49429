//! Finding the binaries `temporal-harness setup` (and `scripts/provision.sh`, the same script)
//! installs: `temporal`, `temporal-server`, `temporal-sql-tool`, `temporal-test-server`.
//!
//! They live in a per-user cache found at run time (never a path fixed at compile time, which a
//! git or registry dependency would not have), then on `PATH`. A binary is only run from a
//! folder that nobody but its owner (the current user or root) can write to: otherwise another
//! local user could swap it for their own program and have it run as us.

use super::process::euid;
use super::{StackError, ToolsError};
use crate::config::StackConfig;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The per-user tools folder: `$XDG_CACHE_HOME/temporal-harness/bin`, else
/// `~/.cache/temporal-harness/bin` (`TEMPORAL_HARNESS_TOOLS_DIR` overrides it).
pub fn default_tools_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join(format!("temporal-harness-cache-{}", euid())));
    cache.join("temporal-harness").join("bin")
}

/// `name` from the configured tools folder, or `PATH`; only from a folder that is safe to run
/// from (see the module docs).
pub(crate) fn find_tool(config: &StackConfig, name: &str) -> Result<PathBuf, StackError> {
    let dirs = tool_dirs(config);
    let path = dirs
        .iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            StackError::Tools(ToolsError::MissingBinary {
                name: name.into(),
                looked: dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        })?;
    trusted(&path)?;
    Ok(path)
}

fn tool_dirs(config: &StackConfig) -> Vec<PathBuf> {
    let mut dirs = vec![config.tools_dir.clone()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// `PATH` without the folders another user could write to: what the programs the harness
/// starts (the keeper and what it runs: `flock`, `docker`, `sed`, ...) look programs up in,
/// so a planted `sh` or `docker` in a shared folder on `PATH` is never run.
pub(crate) fn trusted_search_path() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| d.is_absolute() && d.is_dir() && owned_and_private(d).is_ok())
        .collect();
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A system program (`sh`, `flock`) by absolute path, found in [`trusted_search_path`] and
/// itself safe to run.
pub(crate) fn system_program(name: &'static str) -> Result<PathBuf, StackError> {
    let path = std::env::split_paths(&trusted_search_path())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            StackError::Tools(ToolsError::MissingSystemProgram {
                name: name.into(),
                package: match name {
                    "flock" => "util-linux",
                    "sh" => "dash",
                    _ => name,
                },
            })
        })?;
    trusted(&path)?;
    Ok(path)
}

/// The binary and its folder are owned by us or root and writable by no one else.
pub(crate) fn trusted(binary: &Path) -> Result<(), StackError> {
    owned_and_private(binary)?;
    owned_and_private(binary.parent().unwrap_or(Path::new("/")))
}

/// Owned by us or root, and writable by no one else.
fn owned_and_private(path: &Path) -> Result<(), StackError> {
    let me = euid();
    let untrusted = |reason: String| {
        StackError::Tools(ToolsError::UntrustedPath {
            path: path.to_path_buf(),
            reason,
        })
    };
    let meta =
        std::fs::metadata(path).map_err(|e| untrusted(format!("cannot be inspected: {e}")))?;
    let owner = meta.uid();
    if owner != me && owner != 0 {
        return Err(untrusted(format!(
            "is owned by uid {owner}, not by you (uid {me}) or root"
        )));
    }
    // Group- or world-writable; a sticky folder (like /tmp) still lets others add files.
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "is writable by others (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn config_with(dir: &Path) -> StackConfig {
        StackConfig {
            tools_dir: dir.to_path_buf(),
            ..StackConfig::default()
        }
    }

    #[test]
    fn a_missing_tool_names_where_it_looked_and_the_fix() {
        let config = config_with(Path::new("/nonexistent/tools"));
        let msg = find_tool(&config, "no-such-tool").unwrap_err().to_string();
        assert!(
            msg.contains("no-such-tool not found") && msg.contains("/nonexistent/tools"),
            "{msg}"
        );
        assert!(msg.contains("temporal-harness setup"), "{msg}");
    }

    #[test]
    fn a_tool_in_a_folder_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("temporal");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            find_tool(&config_with(dir.path()), "temporal").unwrap(),
            tool
        );

        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let msg = find_tool(&config_with(dir.path()), "temporal")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&dir.path().display().to_string()) && msg.contains("writable by others"),
            "{msg}"
        );
    }

    #[test]
    fn the_default_folder_is_per_user_and_found_at_run_time() {
        let dir = default_tools_dir();
        assert!(dir.ends_with("temporal-harness/bin"), "{}", dir.display());
        assert!(!dir.starts_with(env!("CARGO_MANIFEST_DIR")));
    }
}
