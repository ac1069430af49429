//! Stack configuration: defaults, then `temporal-harness.toml`, then environment variables
//! (env wins). Every key is listed in `docs/configuration.md`.

mod address;
mod choices;
mod duration;
mod env;
mod error;
mod file;

pub use address::parse_frontend_address;
pub use choices::{
    BackendKind, Flavor, ImageRole, ImageSource, OfficialImages, RunIsolation, Topology,
};
pub use duration::{parse_duration, parse_duration_text, Bounds, DurationError};
pub use env::{Env, ProcessEnv};
pub(crate) use error::parse_conn_string;
pub use error::ConfigError;

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

/// An existing deployment to run against. Made with [`ExternalTarget::new`], then its
/// public fields set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// How a run keeps apart from the other runs on the deployment, and cleans up after
    /// itself.
    pub isolation: RunIsolation,
    /// How old a run's namespace, or a workflow of a run, must be before another run's sweep
    /// takes it for a leftover of a killed run and removes it. Longer than your longest run.
    pub run_ttl: Duration,
}

impl ExternalTarget {
    /// The deployment at `address` (`host:port`), plaintext, with no run isolation.
    pub fn new(address: impl Into<String>) -> Self {
        ExternalTarget {
            address: address.into(),
            tls: TlsFiles::default(),
            api_key: None,
            postgres_url: None,
            ui_url: None,
            isolation: RunIsolation::None,
            run_ttl: DEFAULT_RUN_TTL,
        }
    }
}

/// What [`ExternalTarget::run_ttl`] is unless set: longer than a CI job usually runs.
pub const DEFAULT_RUN_TTL: Duration = Duration::from_secs(3 * 3600);

impl Default for ExternalTarget {
    fn default() -> Self {
        ExternalTarget::new("")
    }
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
        let isolation = env.var("TEMPORAL_HARNESS_ISOLATION")?;
        let run_ttl = env.var("TEMPORAL_HARNESS_RUN_TTL")?;
        if isolation.is_some() && self.backend != BackendKind::External {
            // A fleet's setting left on a run against a stack of its own must not read as
            // isolation that took effect.
            return Err(ConfigError::Unsupported(format!(
                "TEMPORAL_HARNESS_ISOLATION is set, but the backend is {}: run isolation is for \
                 an external deployment that other runs share. Fix: set \
                 TEMPORAL_HARNESS_BACKEND=external (with TEMPORAL_HARNESS_ADDRESS), or unset \
                 TEMPORAL_HARNESS_ISOLATION",
                self.backend
            )));
        }
        if address.is_none() && isolation.is_none() && run_ttl.is_none() && self.external.is_none()
        {
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
        if let Some(v) = isolation {
            ext.isolation = parse_enum("TEMPORAL_HARNESS_ISOLATION", &v)?;
        }
        if let Some(v) = run_ttl {
            ext.run_ttl = parse_duration_key("TEMPORAL_HARNESS_RUN_TTL", &v, &Bounds::RUN_TTL)?;
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

pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::invalid(key, value, "true or false")),
    }
}

#[cfg(test)]
mod tests;
