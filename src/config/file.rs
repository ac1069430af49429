//! `temporal-harness.toml`: the same settings as the environment variables, for a repository
//! to commit. Secrets are never read from it: it names the env vars that hold them.

use super::{
    parse_duration_key, parse_enum, Bounds, ConfigError, Env, ExternalTarget, ImageRole,
    StackConfig, TlsFiles,
};
use crate::secret::{DbUrl, Secret};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// File name looked up from the crate under test (or the current directory) upwards.
pub const CONFIG_FILE: &str = "temporal-harness.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    backend: Option<String>,
    flavor: Option<String>,
    images: Option<String>,
    namespace: Option<String>,
    port: Option<u16>,
    startup_timeout: Option<String>,
    linger: Option<String>,
    keep: Option<bool>,
    tools_dir: Option<PathBuf>,
    #[serde(default)]
    image: ImageOverrides,
    external: Option<ExternalFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageOverrides {
    postgres: Option<String>,
    server: Option<String>,
    admin_tools: Option<String>,
    dev: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalFile {
    address: Option<String>,
    tls_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_server_name: Option<String>,
    /// Name of the env var that holds the API key.
    api_key_env: Option<String>,
    /// Name of the env var that holds the PostgreSQL URL (it carries a password).
    postgres_url_env: Option<String>,
}

/// The nearest `temporal-harness.toml`, from `CARGO_MANIFEST_DIR` (set by cargo for tests)
/// or the current directory, upwards.
pub(super) fn find_config_file() -> Option<PathBuf> {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())?;
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|p| p.is_file())
}

pub(super) fn apply_file(
    config: &mut StackConfig,
    path: &Path,
    env: &dyn Env,
) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.into(),
        reason: e.to_string(),
    })?;
    apply_text(config, path, &text, env)
}

fn apply_text(
    config: &mut StackConfig,
    path: &Path,
    text: &str,
    env: &dyn Env,
) -> Result<(), ConfigError> {
    let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::File {
        path: path.into(),
        reason: e.to_string(),
    })?;
    if let Some(v) = file.backend {
        config.backend = parse_enum("backend", &v)?;
    }
    if let Some(v) = file.flavor {
        config.flavor = parse_enum("flavor", &v)?;
    }
    if let Some(v) = file.images {
        config.images = parse_enum("images", &v)?;
    }
    if let Some(v) = file.namespace {
        config.namespace = v;
    }
    if let Some(v) = file.port {
        config.frontend_port = Some(v);
    }
    if let Some(v) = file.startup_timeout {
        config.startup_timeout = parse_duration_key("startup_timeout", &v, &Bounds::STARTUP)?;
    }
    if let Some(v) = file.linger {
        config.linger = parse_duration_key("linger", &v, &Bounds::LINGER)?;
    }
    if let Some(v) = file.keep {
        config.keep = v;
    }
    if let Some(dir) = file.tools_dir {
        // Relative to the file, so the setting means the same from every crate of a workspace.
        config.tools_dir = path.parent().unwrap_or(Path::new(".")).join(dir);
    }
    for (value, role) in [
        (file.image.postgres, ImageRole::Postgres),
        (file.image.server, ImageRole::Server),
        (file.image.admin_tools, ImageRole::AdminTools),
        (file.image.dev, ImageRole::Dev),
    ] {
        if let Some(v) = value {
            config.official_images.name(role, v);
        }
    }
    if let Some(ext) = file.external {
        config.external = Some(ExternalTarget {
            address: ext.address.unwrap_or_default(),
            tls: TlsFiles {
                ca: ext.tls_ca,
                cert: ext.tls_cert,
                key: ext.tls_key,
                server_name: ext.tls_server_name,
            },
            api_key: ext.api_key_env.and_then(|k| env.var(&k)).map(Secret::new),
            postgres_url: ext
                .postgres_url_env
                .and_then(|k| env.var(&k))
                .map(DbUrl::new),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendKind, Flavor};
    use std::time::Duration;

    #[test]
    fn file_settings_apply_and_secrets_come_from_named_env_vars() {
        let mut c = StackConfig::default();
        let text = r#"
            backend = "external"
            flavor = "dev"
            startup_timeout = "90s"
            [image]
            postgres = "postgres:16"
            [external]
            address = "t.example:7233"
            api_key_env = "MY_KEY"
        "#;
        apply_text(
            &mut c,
            Path::new("/repo/temporal-harness.toml"),
            text,
            &[("MY_KEY", "k")],
        )
        .unwrap();
        assert_eq!(c.backend, BackendKind::External);
        assert_eq!(c.flavor, Flavor::Dev);
        assert_eq!(c.startup_timeout, Duration::from_secs(90));
        assert_eq!(c.official_images.postgres, "postgres:16");
        let ext = c.external.unwrap();
        assert_eq!(ext.address, "t.example:7233");
        assert_eq!(ext.api_key.unwrap().expose(), "k");
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_file_named() {
        let mut c = StackConfig::default();
        let err = apply_text(
            &mut c,
            Path::new("/r/temporal-harness.toml"),
            "backnd = 1",
            &[],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/r/temporal-harness.toml") && msg.contains("backnd"),
            "{msg}"
        );
    }

    #[test]
    fn env_wins_over_the_file() {
        let mut c = StackConfig::default();
        apply_text(&mut c, Path::new("/t.toml"), "flavor = \"dev\"", &[]).unwrap();
        c.apply_env(&[("TEMPORAL_HARNESS_FLAVOR", "postgres")])
            .unwrap();
        assert_eq!(c.flavor, Flavor::Postgres);
    }
}
