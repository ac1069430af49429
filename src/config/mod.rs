//! Stack configuration: defaults, then `temporal-harness.toml`, then environment variables
//! (env wins). Every key is listed in `docs/configuration.md`.

mod address;
mod choices;
mod duration;
mod file;

pub use address::parse_frontend_address;
pub use choices::{BackendKind, Flavor, ImageRole, ImageSource, OfficialImages, Topology};
pub use duration::{parse_duration, parse_duration_text, Bounds, DurationError};

use crate::conninfo::PgConnInfo;
use crate::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// TLS material for an external deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsFiles {
    /// CA certificate (PEM) that signed the server's certificate.
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mTLS.
    pub cert: Option<PathBuf>,
    /// Client key (PEM) for mTLS.
    pub key: Option<PathBuf>,
    /// Server name to verify instead of the address's host.
    pub server_name: Option<String>,
}

impl TlsFiles {
    /// True when any TLS setting is present.
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some() || self.server_name.is_some()
    }
}

/// An existing deployment to run against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalTarget {
    /// Frontend address, `host:port`.
    pub address: String,
    /// TLS settings; none means plaintext (unless an API key is set).
    pub tls: TlsFiles,
    /// API key (Temporal Cloud or an authorizer that takes bearer tokens).
    pub api_key: Option<Secret>,
    /// PostgreSQL URL of Temporal's database, when the checks may reach it.
    pub postgres_url: Option<PgConnInfo>,
    /// The deployment's Web UI (`https://temporal.example.com`), for links to workflows.
    pub ui_url: Option<String>,
}

/// Everything that decides which stack a test gets. Made by [`StackConfig::load`] (or
/// `Default`), then changed field by field; `#[non_exhaustive]`, so a new setting is not a
/// breaking change.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StackConfig {
    /// Where the stack runs.
    pub backend: BackendKind,
    /// What Temporal server runs.
    pub flavor: Flavor,
    /// One server process, or a cluster of one per service.
    pub topology: Topology,
    /// Faults the server's persistence layer injects (local backend, PostgreSQL flavour).
    /// Set by code only (the fault harness), never from the environment: the shared stack of
    /// a run never gets faults. Part of the stack's identity.
    pub persistence_faults: Vec<crate::stack::PersistenceFault>,
    /// A streaming-replication standby beside PostgreSQL, for failover
    /// ([`crate::stack::Stack::failover`]; local backend, PostgreSQL flavour). Part of the
    /// stack's identity.
    pub postgres_standby: bool,
    /// Which images the containers backend uses.
    pub images: ImageSource,
    /// Official image references.
    pub official_images: OfficialImages,
    /// Namespace the tests share (created when missing on stacks the harness owns).
    pub namespace: String,
    /// Host port of the Temporal frontend; `None` picks a free one (what tests want; `up`
    /// users may want the usual 7233).
    pub frontend_port: Option<u16>,
    /// Upper bound on booting (and on waiting for another process that boots).
    pub startup_timeout: Duration,
    /// Keep the stack after the run, for the next run to reuse (`temporal-harness down` ends it).
    pub keep: bool,
    /// How long a stack outlives its last user before it is torn down (covers the gaps
    /// between the processes of one `cargo nextest run` or the binaries of one `cargo test`).
    pub linger: Duration,
    /// Start the Temporal Web UI with a stack the harness boots (`ui_url` of its endpoints).
    /// `None`: the command's default (off for test runs, on for `temporal-harness up`). Not
    /// part of the stack's identity: a run reuses a stack booted with or without one.
    pub ui: Option<bool>,
    /// Where shared-stack state (locks, leases, endpoints) lives.
    pub state_dir: PathBuf,
    /// Where the Temporal binaries are (then `PATH`); default: the per-user folder that
    /// `temporal-harness setup` installs into (`~/.cache/temporal-harness/bin`, under
    /// `$XDG_CACHE_HOME` when set).
    pub tools_dir: PathBuf,
    /// The deployment to use with [`BackendKind::External`].
    pub external: Option<ExternalTarget>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            backend: BackendKind::Auto,
            flavor: Flavor::Postgres,
            topology: Topology::Single,
            persistence_faults: Vec::new(),
            postgres_standby: false,
            images: ImageSource::Auto,
            official_images: OfficialImages::default(),
            namespace: "default".into(),
            frontend_port: None,
            startup_timeout: Duration::from_secs(180),
            keep: false,
            linger: Duration::from_secs(5),
            ui: None,
            state_dir: default_state_dir(),
            tools_dir: crate::stack::default_tools_dir(),
            external: None,
        }
    }
}

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
    fn invalid(key: &str, value: &str, expected: &str) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            value: crate::secret::redact_url(value),
            expected: expected.into(),
        }
    }
}

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

impl StackConfig {
    /// Whether a stack the harness boots gets the Web UI (off unless asked for).
    pub fn ui_enabled(&self) -> bool {
        self.ui.unwrap_or(false)
    }

    /// Defaults, then the nearest `temporal-harness.toml`, then the process environment.
    pub fn load() -> Result<StackConfig, ConfigError> {
        let mut config = StackConfig::default();
        if let Some(path) = file::find_config_file() {
            file::apply_file(&mut config, &path, &ProcessEnv)?;
        }
        config.apply_env(&ProcessEnv)?;
        Ok(config)
    }

    /// Applies `TEMPORAL_HARNESS_*` variables over the current values.
    pub fn apply_env(&mut self, env: &dyn Env) -> Result<(), ConfigError> {
        let get = |k: &str| env.var(k);
        if let Some(v) = get("TEMPORAL_HARNESS_BACKEND")? {
            self.backend = parse_enum("TEMPORAL_HARNESS_BACKEND", &v)?;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_FLAVOR")? {
            self.flavor = parse_enum("TEMPORAL_HARNESS_FLAVOR", &v)?;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_TOPOLOGY")? {
            self.topology = parse_enum("TEMPORAL_HARNESS_TOPOLOGY", &v)?;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_POSTGRES_STANDBY")? {
            self.postgres_standby = parse_bool("TEMPORAL_HARNESS_POSTGRES_STANDBY", &v)?;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_IMAGES")? {
            self.images = parse_enum("TEMPORAL_HARNESS_IMAGES", &v)?;
        }
        for (key, role) in [
            ("TEMPORAL_HARNESS_POSTGRES_IMAGE", ImageRole::Postgres),
            ("TEMPORAL_HARNESS_SERVER_IMAGE", ImageRole::Server),
            ("TEMPORAL_HARNESS_ADMIN_TOOLS_IMAGE", ImageRole::AdminTools),
            ("TEMPORAL_HARNESS_DEV_IMAGE", ImageRole::Dev),
            ("TEMPORAL_HARNESS_UI_IMAGE", ImageRole::Ui),
        ] {
            if let Some(v) = get(key)? {
                self.official_images.name(role, v);
            }
        }
        if let Some(v) = get("TEMPORAL_HARNESS_NAMESPACE")? {
            self.namespace = v;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_PORT")? {
            self.frontend_port = Some(parse_port("TEMPORAL_HARNESS_PORT", &v)?);
        }
        if let Some(v) = get("TEMPORAL_HARNESS_STARTUP_TIMEOUT")? {
            self.startup_timeout =
                parse_duration_key("TEMPORAL_HARNESS_STARTUP_TIMEOUT", &v, &Bounds::STARTUP)?;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_LINGER")? {
            self.linger = parse_duration_key("TEMPORAL_HARNESS_LINGER", &v, &Bounds::LINGER)?;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_KEEP")? {
            self.keep = parse_bool("TEMPORAL_HARNESS_KEEP", &v)?;
        }
        if let Some(v) = get("TEMPORAL_HARNESS_UI")? {
            self.ui = Some(parse_bool("TEMPORAL_HARNESS_UI", &v)?);
        }
        if let Some(v) = get("TEMPORAL_HARNESS_STATE_DIR")? {
            self.state_dir = PathBuf::from(v);
        }
        if let Some(v) = get("TEMPORAL_HARNESS_TOOLS_DIR")? {
            self.tools_dir = PathBuf::from(v);
        }
        self.apply_external_env(env)?;
        if self.backend == BackendKind::External
            && self.external.as_ref().is_none_or(|e| e.address.is_empty())
        {
            return Err(ConfigError::ExternalWithoutAddress);
        }
        Ok(())
    }

    fn apply_external_env(&mut self, env: &dyn Env) -> Result<(), ConfigError> {
        let address = env.var("TEMPORAL_HARNESS_ADDRESS")?;
        if address.is_none() && self.external.is_none() {
            return Ok(());
        }
        let ext = self.external.get_or_insert_with(ExternalTarget::default);
        if let Some(a) = address {
            ext.address = parse_frontend_address("TEMPORAL_HARNESS_ADDRESS", &a)?;
        }
        for (key, slot) in [
            ("TEMPORAL_HARNESS_TLS_CA", &mut ext.tls.ca),
            ("TEMPORAL_HARNESS_TLS_CERT", &mut ext.tls.cert),
            ("TEMPORAL_HARNESS_TLS_KEY", &mut ext.tls.key),
        ] {
            if let Some(v) = env.var(key)? {
                *slot = Some(PathBuf::from(v));
            }
        }
        if let Some(v) = env.var("TEMPORAL_HARNESS_TLS_SERVER_NAME")? {
            ext.tls.server_name = Some(v);
        }
        if let Some(v) = env.var("TEMPORAL_HARNESS_API_KEY")? {
            ext.api_key = Some(Secret::new(v));
        }
        if let Some(v) = env.var("TEMPORAL_HARNESS_POSTGRES_URL")? {
            ext.postgres_url = Some(parse_conn_string("TEMPORAL_HARNESS_POSTGRES_URL", &v)?);
        }
        if let Some(v) = env.var("TEMPORAL_HARNESS_UI_URL")? {
            ext.ui_url = Some(parse_ui_url("TEMPORAL_HARNESS_UI_URL", &v)?);
        }
        Ok(())
    }
}

/// A Web UI address: http(s), with a host (`key` names where it came from in the error).
pub fn parse_ui_url(key: &str, value: &str) -> Result<String, ConfigError> {
    if is_http_url(value) {
        return Ok(value.to_string());
    }
    Err(ConfigError::invalid(
        key,
        value,
        "the Web UI's http(s) address, e.g. https://temporal.example.com",
    ))
}

/// An `http://` or `https://` URL with a host (a Web UI, the frontend's HTTP API).
pub fn is_http_url(value: &str) -> bool {
    url::Url::parse(value)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

/// Per user and private: `$XDG_RUNTIME_DIR/temporal-harness` (a 0700 folder the login
/// session owns), else `temporal-harness-<uid>` in the temp folder, created 0700 and refused
/// when someone else got there first (see `stack::state::ensure_private_root`).
fn default_state_dir() -> PathBuf {
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        let runtime = PathBuf::from(runtime);
        if runtime.is_absolute() && runtime.is_dir() {
            return runtime.join("temporal-harness");
        }
    }
    let uid = crate::stack::euid();
    std::env::temp_dir().join(format!("temporal-harness-{uid}"))
}

/// Parses one of a choice enum's names (any case); the error lists every name, from the enum.
fn parse_enum<T>(key: &str, value: &str) -> Result<T, ConfigError>
where
    T: std::str::FromStr + strum::VariantNames,
{
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::invalid(key, value, &one_of(T::VARIANTS)))
}

/// `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn parse_duration_key(key: &str, value: &str, bounds: &Bounds) -> Result<Duration, ConfigError> {
    parse_duration(value, bounds).map_err(|e| ConfigError::invalid(key, value, &e.expected))
}

fn parse_port(key: &str, value: &str) -> Result<u16, ConfigError> {
    value
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ConfigError::invalid(key, value, "a port number from 1 to 65535"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::invalid(key, value, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults() {
        let mut c = StackConfig::default();
        c.apply_env(&[
            ("TEMPORAL_HARNESS_BACKEND", "Local"),
            ("TEMPORAL_HARNESS_FLAVOR", "dev"),
            ("TEMPORAL_HARNESS_STARTUP_TIMEOUT", "45s"),
            ("TEMPORAL_HARNESS_KEEP", "yes"),
        ])
        .unwrap();
        assert_eq!(c.backend, BackendKind::Local);
        assert_eq!(c.flavor, Flavor::Dev);
        assert_eq!(c.startup_timeout, Duration::from_secs(45));
        assert!(c.keep);
    }

    #[test]
    fn the_ui_is_off_for_tests_unless_asked_and_an_external_ui_must_be_http() {
        let mut c = StackConfig::default();
        assert_eq!(c.ui, None);
        assert!(!c.ui_enabled());
        c.apply_env(&[("TEMPORAL_HARNESS_UI", "1")]).unwrap();
        assert!(c.ui_enabled());
        c.apply_env(&[("TEMPORAL_HARNESS_UI", "off")]).unwrap();
        assert_eq!(c.ui, Some(false));
        let mut ext = StackConfig::default();
        ext.apply_env(&[
            ("TEMPORAL_HARNESS_ADDRESS", "t:7233"),
            ("TEMPORAL_HARNESS_UI_URL", "https://ui.example.com"),
        ])
        .unwrap();
        let ui = ext.external.as_ref().and_then(|e| e.ui_url.as_deref());
        assert_eq!(ui, Some("https://ui.example.com"));
        let err = StackConfig::default()
            .apply_env(&[
                ("TEMPORAL_HARNESS_ADDRESS", "t:7233"),
                ("TEMPORAL_HARNESS_UI_URL", "ui.example.com"),
            ])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TEMPORAL_HARNESS_UI_URL") && err.contains("Fix:"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_key_and_the_choices() {
        let err = StackConfig::default()
            .apply_env(&[("TEMPORAL_HARNESS_BACKEND", "kubernetes")])
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("TEMPORAL_HARNESS_BACKEND") && msg.contains("containers"),
            "{msg}"
        );
    }

    #[test]
    fn external_needs_an_address() {
        let err = StackConfig::default()
            .apply_env(&[("TEMPORAL_HARNESS_BACKEND", "external")])
            .unwrap_err();
        assert!(matches!(err, ConfigError::ExternalWithoutAddress), "{err}");
    }

    #[test]
    fn external_settings_come_from_env_and_the_key_stays_secret() {
        let mut c = StackConfig::default();
        c.apply_env(&[
            ("TEMPORAL_HARNESS_BACKEND", "external"),
            ("TEMPORAL_HARNESS_ADDRESS", "temporal.example:7233"),
            ("TEMPORAL_HARNESS_API_KEY", "key-123"),
            ("TEMPORAL_HARNESS_TLS_CA", "/ca.pem"),
        ])
        .unwrap();
        let ext = c.external.as_ref().unwrap();
        assert_eq!(ext.address, "temporal.example:7233");
        assert_eq!(ext.tls.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert!(!format!("{c:?}").contains("key-123"));
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        /// Every variable the harness reads.
        const KEYS: [&str; 19] = [
            "TEMPORAL_HARNESS_BACKEND",
            "TEMPORAL_HARNESS_FLAVOR",
            "TEMPORAL_HARNESS_IMAGES",
            "TEMPORAL_HARNESS_POSTGRES_IMAGE",
            "TEMPORAL_HARNESS_SERVER_IMAGE",
            "TEMPORAL_HARNESS_ADMIN_TOOLS_IMAGE",
            "TEMPORAL_HARNESS_DEV_IMAGE",
            "TEMPORAL_HARNESS_NAMESPACE",
            "TEMPORAL_HARNESS_PORT",
            "TEMPORAL_HARNESS_STARTUP_TIMEOUT",
            "TEMPORAL_HARNESS_LINGER",
            "TEMPORAL_HARNESS_KEEP",
            "TEMPORAL_HARNESS_STATE_DIR",
            "TEMPORAL_HARNESS_TOOLS_DIR",
            "TEMPORAL_HARNESS_ADDRESS",
            "TEMPORAL_HARNESS_TLS_CA",
            "TEMPORAL_HARNESS_API_KEY",
            "TEMPORAL_HARNESS_POSTGRES_URL",
            "TEMPORAL_HARNESS_TLS_SERVER_NAME",
        ];

        struct MapEnv(Vec<(String, String)>);

        impl Env for MapEnv {
            fn var(&self, key: &str) -> Result<Option<String>, ConfigError> {
                Ok(self
                    .0
                    .iter()
                    .rev()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone()))
            }
        }

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("auto".to_string()),
                Just("local".to_string()),
                Just("dev".to_string()),
                Just("99999999999999999999h".to_string()),
                Just("0s".to_string()),
                Just("-1".to_string()),
                Just("65536".to_string()),
                Just("yes".to_string()),
                "[0-9]{1,22}(ms|s|m|h)?",
                "\\PC{0,20}",
            ]
        }

        proptest! {
            #[test]
            fn any_environment_applies_or_errs_naming_the_key(
                vars in proptest::collection::vec((0..KEYS.len(), value()), 0..8),
                secret in "PW[A-Za-z0-9@/:#?%]{4,16}",
            ) {
                let mut vars: Vec<(String, String)> =
                    vars.into_iter().map(|(k, v)| (KEYS[k].to_string(), v)).collect();
                // Secrets arrive in their own variables, in any shape.
                vars.push(("TEMPORAL_HARNESS_API_KEY".into(), secret.clone()));
                vars.push((
                    "TEMPORAL_HARNESS_POSTGRES_URL".into(),
                    format!("postgres://temporal:{secret}@db:5432/temporal"),
                ));
                let mut config = StackConfig::default();
                match config.apply_env(&MapEnv(vars)) {
                    Ok(()) => {}
                    Err(e) => {
                        let shown = e.to_string();
                        prop_assert!(
                            shown.contains("TEMPORAL_HARNESS_") && shown.contains("Fix:")
                                || matches!(e, ConfigError::ExternalWithoutAddress),
                            "{shown}"
                        );
                        let debug = format!("{:?}", e);
                        prop_assert!(!shown.contains(&secret) && !debug.contains(&secret));
                    }
                }
                let debug = format!("{:?}", config);
                prop_assert!(!debug.contains(&secret), "{}", debug);
            }
        }
    }
}
