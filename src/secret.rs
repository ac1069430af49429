//! Secrets (passwords, API keys) that must never reach output, logs, reports or `Debug`.

use std::fmt;

/// A secret string. `Debug` and `Display` print `***`; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it (a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A PostgreSQL URL that may hold a password. `Debug`/`Display` redact the password
/// (`postgres://user:***@host:5432/db`); [`DbUrl::expose`] gives the usable URL.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct DbUrl(String);

impl DbUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        DbUrl(url.into())
    }

    /// Builds `postgres://user:password@host:port/database`.
    pub fn from_parts(user: &str, password: &Secret, host: &str, port: u16, db: &str) -> Self {
        let mut url = url::Url::parse("postgres://localhost/").expect("static URL");
        url.set_host(Some(host)).expect("host is valid");
        url.set_port(Some(port)).expect("postgres URL has a port");
        url.set_username(user).expect("postgres URL has a user");
        url.set_password(Some(password.expose()))
            .expect("postgres URL has a password");
        url.set_path(db);
        DbUrl(url.to_string())
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, db: &str) -> DbUrl {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                url.set_path(db);
                DbUrl(url.to_string())
            }
            Err(_) => self.clone(),
        }
    }

    /// The database named in the URL, if any.
    pub fn database(&self) -> Option<String> {
        let url = url::Url::parse(&self.0).ok()?;
        let db = url.path().trim_start_matches('/');
        (!db.is_empty()).then(|| db.to_string())
    }

    /// The URL with its password, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.redacted())
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of any URL in `text`-form (`scheme://user:pw@host`) by `***`.
/// Text that does not parse as a URL is returned unchanged.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_string(),
    }
}

/// Removes every occurrence of `secret` from `text` (for messages from other tools that may
/// echo a password back).
pub fn scrub(text: &str, secret: &Secret) -> String {
    if secret.expose().is_empty() {
        return text.to_string();
    }
    text.replace(secret.expose(), "***")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_password() {
        let pw = Secret::new("hunter2");
        let url = DbUrl::from_parts("temporal", &pw, "127.0.0.1", 5432, "temporal");
        for shown in [
            format!("{url}"),
            format!("{url:?}"),
            format!("{pw:?}"),
            format!("{pw}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert_eq!(
            url.redacted(),
            "postgres://temporal:***@127.0.0.1:5432/temporal"
        );
        assert!(url.expose().contains("hunter2"));
    }

    #[test]
    fn with_database_keeps_credentials() {
        let url = DbUrl::new("postgres://u:p@h:1/a");
        assert_eq!(url.with_database("b").expose(), "postgres://u:p@h:1/b");
        assert_eq!(url.with_database("b").database().as_deref(), Some("b"));
    }

    #[test]
    fn scrub_removes_echoed_secrets() {
        let pw = Secret::new("s3cr3t");
        assert_eq!(scrub("auth failed for s3cr3t", &pw), "auth failed for ***");
    }
}
