//! `temporal-harness.toml`: the same settings as the environment variables, for a repository
//! to commit. Secrets are never read from it: it names the env vars that hold them.

use super::{
    parse_duration_key, parse_enum, parse_ui_url, Bounds, ConfigError, Env, ExternalTarget,
    ImageRole, StackConfig, TlsFiles,
};
use crate::secret::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// File name looked up from the crate under test (or the current directory) upwards.
pub const CONFIG_FILE: &str = "temporal-harness.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    backend: Option<String>,
    flavor: Option<String>,
    topology: Option<String>,
    images: Option<String>,
    namespace: Option<String>,
    port: Option<u16>,
    startup_timeout: Option<String>,
    linger: Option<String>,
    keep: Option<bool>,
    ui: Option<bool>,
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
    ui: Option<String>,
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
    ui_url: Option<String>,
    /// `none`, `namespace` or `prefix`.
    isolation: Option<String>,
    /// How old leftovers of killed runs must be to be swept.
    run_ttl: Option<String>,
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

/// `line 3, column 1: unknown field `api_key`, ...`: where and what, never the offending
/// line itself (toml's own message quotes it, and that line may hold a password) and never a
/// quoted value (serde's "invalid type: string \"...\"" would).
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let location = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {column}: ")
    });
    format!(
        "{}{}",
        location.unwrap_or_default(),
        mask_quoted(e.message().trim())
    )
}

/// Replaces the contents of every `"..."` in `text` by `…`, and of every `` `...` `` that is
/// not a plain key name (a quoted TOML key may hold anything, a URL with a password too).
fn mask_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<(char, String)> = None;
    for c in text.chars() {
        match &mut quote {
            None if c == '"' || c == '`' => {
                quote = Some((c, String::new()));
                out.push(c);
            }
            None => out.push(c),
            Some((open, inner)) if c == *open => {
                let plain_key = *open == '`'
                    && inner.len() <= 40
                    && inner
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                out.push_str(if plain_key { inner } else { "…" });
                out.push(c);
                quote = None;
            }
            Some((_, inner)) => inner.push(c),
        }
    }
    if quote.is_some() {
        out.push('…');
    }
    out
}

pub(super) fn apply_file(
    config: &mut StackConfig,
    path: &Path,
    env: &dyn Env,
) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::FileUnreadable {
        path: path.into(),
        source,
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
        reason: describe_toml_error(text, &e),
    })?;
    if let Some(v) = file.backend {
        config.backend = parse_enum("backend", &v)?;
    }
    if let Some(v) = file.flavor {
        config.flavor = parse_enum("flavor", &v)?;
    }
    if let Some(v) = file.topology {
        config.topology = parse_enum("topology", &v)?;
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
    if let Some(v) = file.ui {
        config.ui = Some(v);
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
        (file.image.ui, ImageRole::Ui),
    ] {
        if let Some(v) = value {
            config.official_images.name(role, v);
        }
    }
    if let Some(ext) = file.external {
        let ui_url = match ext.ui_url {
            Some(v) => Some(parse_ui_url("[external] ui_url", &v)?),
            None => None,
        };
        let address = match ext.address {
            Some(v) => super::parse_frontend_address("[external] address", &v)?,
            None => String::new(),
        };
        let mut target = ExternalTarget::new(address);
        target.ui_url = ui_url;
        target.tls = TlsFiles {
            ca: ext.tls_ca,
            cert: ext.tls_cert,
            key: ext.tls_key,
            server_name: ext.tls_server_name,
        };
        target.api_key = named_var(env, path, "api_key_env", ext.api_key_env.as_deref())?
            .map(|(_, v)| Secret::new(v));
        target.postgres_url = match named_var(
            env,
            path,
            "postgres_url_env",
            ext.postgres_url_env.as_deref(),
        )? {
            Some((key, text)) => Some(super::parse_conn_string(
                &format!("{key} (named by [external] postgres_url_env)"),
                &text,
            )?),
            None => None,
        };
        if let Some(v) = ext.isolation {
            target.isolation = parse_enum("[external] isolation", &v)?;
        }
        if let Some(v) = ext.run_ttl {
            target.run_ttl = parse_duration_key("[external] run_ttl", &v, &Bounds::RUN_TTL)?;
        }
        config.external = Some(target);
    }
    Ok(())
}

/// The value of the variable a `*_env` key of the file at `path` names. A named variable that
/// is unset is an error, not a setting silently left out (the flag that sets the same refuses
/// it too); so is a name no environment variable can have (empty, or with `=`, a NUL byte or
/// whitespace).
fn named_var<'a>(
    env: &dyn Env,
    path: &Path,
    file_key: &str,
    var: Option<&'a str>,
) -> Result<Option<(&'a str, String)>, ConfigError> {
    let Some(var) = var else { return Ok(None) };
    let key = format!("[external] {file_key} in {}", path.display());
    if var.is_empty() || var.contains(['=', '\0']) || var.contains(char::is_whitespace) {
        return Err(ConfigError::invalid(
            &key,
            var,
            "the name of an environment variable (such as TEMPORAL_API_KEY)",
        ));
    }
    match env.var(var)? {
        Some(value) => Ok(Some((var, value))),
        None => Err(ConfigError::Unsupported(format!(
            "{key} names the environment variable {var}, which is not set. Fix: set {var}, \
             or remove {file_key} from the file"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendKind, Flavor};
    use std::time::Duration;

    #[test]
    fn a_named_variable_that_cannot_exist_is_refused_naming_the_file() {
        for name in ["", "A B", "A=B"] {
            let mut c = StackConfig::default();
            let text = format!("[external]\napi_key_env = {name:?}\n");
            let err = apply_text(&mut c, Path::new("/t.toml"), &text, &[])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("[external] api_key_env in /t.toml")
                    && err.contains("expected the name of an environment variable")
                    && err.contains("Fix:"),
                "{name:?}: {err}"
            );
        }
    }

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
            isolation = "prefix"
            run_ttl = "2h"
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
        assert_eq!(ext.isolation, crate::config::RunIsolation::Prefix);
        assert_eq!(ext.run_ttl, Duration::from_secs(7200));
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

    #[test]
    fn errors_say_where_and_never_quote_a_secret() {
        for (text, place) in [
            (
                "flavor = \"dev\"\napi_key = \"sk-SECRET1\"",
                "line 2, column 1",
            ),
            (
                "[external]\npostgres_url = \"postgres://u:SECRET1@h/db\"",
                "line 2",
            ),
            ("port = \"SECRET1\"", "line 1"),
            ("namespace = \"SECRET1", "line 1"),
            ("backend = \"postgres://u:SECRET1@h\"", "backend"),
        ] {
            let err = apply_text(&mut StackConfig::default(), Path::new("/t.toml"), text, &[])
                .unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains("SECRET1"), "{text:?} -> {shown}");
                assert!(shown.contains(place), "{text:?} -> {shown}");
            }
        }
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        /// Lines as people (and editors, and merges) write them: known and unknown keys,
        /// sections, values of every type, broken quoting. The marked secret only ever comes
        /// in as a secret: the value of a key that would hold one (secrets are read from env
        /// vars, so such keys are unknown in the file), a quoted key, or a URL's password.
        /// (The value of a plain setting such as `startup_timeout` is shown on purpose.)
        fn line() -> impl Strategy<Value = String> {
            let key = prop_oneof![
                Just("backend"),
                Just("flavor"),
                Just("images"),
                Just("namespace"),
                Just("port"),
                Just("startup_timeout"),
                Just("linger"),
                Just("keep"),
                Just("tools_dir"),
                Just("address"),
                Just("api_key_env"),
                Just("postgres_url_env"),
                Just("server"),
                Just("unknown_key"),
            ];
            let value = prop_oneof![
                Just("\"postgres://u:PWSECRET@h/db\"".to_string()),
                Just("\"u:PW/SECRET@h\"".to_string()),
                "[0-9]{1,25}",
                "\"[a-z0-9 :/@.]{0,12}\"",
                "\"[a-z0-9 :/.]{0,12}".prop_map(|v| v.to_string()),
                Just("true".to_string()),
                Just("[1, 2]".to_string()),
            ];
            let secret_key = prop_oneof![Just("api_key"), Just("postgres_url"), Just("password")];
            let secret = prop_oneof![
                Just("\"PWSECRET\""),
                Just("\"PWSECRET"),
                Just("\"postgres://u:PWSECRET@h/db\""),
                Just("[\"PWSECRET\"]"),
            ];
            prop_oneof![
                (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
                (secret_key, secret).prop_map(|(k, v)| format!("{k} = {v}")),
                Just("[external]".to_string()),
                Just("[image]".to_string()),
                Just("\"postgres://u:PWSECRET@h\" = 1".to_string()),
                Just("[\"PW SECRET\"]".to_string()),
                "\\PC{0,16}",
            ]
        }

        proptest! {
            #[test]
            fn any_file_applies_or_errs_without_showing_the_secret(
                lines in proptest::collection::vec(line(), 0..6)
            ) {
                let text = lines.join("\n");
                let mut config = StackConfig::default();
                if let Err(e) = apply_text(&mut config, Path::new("/t.toml"), &text, &[]) {
                    let shown = e.to_string();
                    prop_assert!(shown.contains("/t.toml") || shown.contains(" = "), "{shown}");
                    for shown in [shown, format!("{e:?}")] {
                        prop_assert!(!shown.contains("PWSECRET"), "{text:?} -> {shown}");
                    }
                }
            }
        }
    }
}
