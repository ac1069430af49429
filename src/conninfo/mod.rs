//! PostgreSQL connection strings, parsed once into [`PgConnInfo`]: both forms libpq accepts
//! (`postgres://user:password@host:port/db?param=value` and `host=h user=u password='p w'`),
//! with libpq's quoting and percent-encoding rules. From that one value come the connection
//! ([`PgConnInfo::connect_options`]), the text shown to people ([`PgConnInfo::redacted`]:
//! the very host, port, user and database that are connected to, the password as `***`) and
//! the other databases on the same server ([`PgConnInfo::with_database`]).
//!
//! Hand-written rather than a crate's: sqlx parses only URLs, with the WHATWG rules of the
//! `url` crate (not libpq's), and tokio-postgres' parser refuses libpq's TLS file keywords. A
//! raw `@`, `/`, `#` or `?` in a URL's password is refused, not guessed at: parsers disagree
//! about where such a password ends, and a guess sends the credentials to another host.

use crate::secret::Secret;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// libpq's `sslmode`: whether and how the connection uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::EnumString, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plaintext first, TLS if the server insists.
    Allow,
    /// TLS if the server offers it (libpq's default).
    #[default]
    Prefer,
    /// TLS always; the certificate is not verified.
    Require,
    /// TLS always; the certificate must chain to a trusted root.
    VerifyCa,
    /// TLS always; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

/// A parsed PostgreSQL connection string. `Debug` and `Display` show [`PgConnInfo::redacted`].
#[derive(Clone, PartialEq, Eq)]
pub struct PgConnInfo {
    /// A host name, an IP address, or (starting with `/`) a Unix-socket folder.
    host: String,
    port: u16,
    user: String,
    password: Option<Secret>,
    dbname: String,
    sslmode: SslMode,
    sslrootcert: Option<PathBuf>,
    sslcert: Option<PathBuf>,
    sslkey: Option<PathBuf>,
    application_name: Option<String>,
    connect_timeout: Option<u32>,
}

/// Why a connection string could not be used. The message never quotes the string: whatever
/// part of it is wrong may be a piece of the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a usable PostgreSQL connection string: {kind}. Fix: {fix}", fix = kind.fix())]
pub struct ConnInfoError {
    /// What is wrong.
    pub kind: ConnInfoErrorKind,
}

/// What is wrong with a connection string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnInfoErrorKind {
    /// Neither a `postgres://` URL nor `key=value` pairs.
    #[error("it is neither a postgres:// (or postgresql://) URL nor libpq key=value pairs")]
    UnknownForm,
    /// A URL's `user:password@` part holds a character that must be percent-encoded.
    #[error(
        "the URL holds an unencoded {} where only a percent-encoded one can be (in the user \
         name or password)",
        char_name(*.0)
    )]
    RawInUrl(char),
    /// A `%` not followed by two hex digits, or an encoding that is not UTF-8.
    #[error("the URL holds a `%` that is not followed by two hex digits, or what it encodes is not UTF-8")]
    BadPercentEncoding,
    /// More than one host (`h1,h2`): libpq's failover lists are not supported.
    #[error("it names more than one host")]
    SeveralHosts,
    /// No host at all.
    #[error("it names no host")]
    NoHost,
    /// No user at all.
    #[error("it names no user")]
    NoUser,
    /// The port is not 1-65535.
    #[error("its port is not a number from 1 to 65535")]
    BadPort,
    /// `connect_timeout` is not a number of seconds.
    #[error("its connect_timeout is not a whole number of seconds")]
    BadConnectTimeout,
    /// `sslmode` is not one of libpq's six.
    #[error("its sslmode is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    BadSslMode,
    /// One of `sslcert` and `sslkey` without the other.
    #[error("it names only one of sslcert and sslkey")]
    HalfAClientCertificate,
    /// A libpq keyword the harness does not support (named: it is libpq's, not the user's).
    #[error("libpq's keyword `{0}` is not supported here")]
    UnsupportedKeyword(&'static str),
    /// A word that is no keyword at all (not quoted: it may be part of a password).
    #[error("its keyword number {0} is not a libpq keyword")]
    UnknownKeyword(usize),
    /// A `key=value` pair without `=`, or with an empty key.
    #[error("pair number {0} is not keyword=value")]
    NotAPair(usize),
    /// A quoted value whose closing `'` is missing.
    #[error("a quoted value has no closing `'`")]
    UnclosedQuote,
    /// A file it names (`sslrootcert`, `sslcert`, `sslkey`) cannot be read.
    #[error("its {keyword} file {path} cannot be read ({reason})")]
    UnreadableFile {
        /// The keyword naming the file.
        keyword: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

impl ConnInfoErrorKind {
    fn fix(&self) -> &'static str {
        use ConnInfoErrorKind::*;
        match self {
            UnknownForm | NoHost | NoUser | NotAPair(_) => {
                "write it as postgres://user:password@host:5432/database, or as \
                 host=H port=5432 user=U password=P dbname=D"
            }
            RawInUrl(_) | BadPercentEncoding => {
                // No `@` or quote here: messages pass through redaction of free text.
                "percent-encode special characters in the password (at-sign as %40, slash as \
                 %2F, hash as %23, question mark as %3F, percent as %25, space as %20), or use \
                 the key=value form with the password in single quotes"
            }
            SeveralHosts => "name the one host to connect to",
            BadPort => "give a port from 1 to 65535 (PostgreSQL's default is 5432)",
            BadConnectTimeout => "give connect_timeout as whole seconds, e.g. connect_timeout=10",
            BadSslMode => "use one of libpq's sslmode values, e.g. sslmode=verify-full",
            HalfAClientCertificate => {
                "name both the client certificate (sslcert) and its key (sslkey), or neither"
            }
            UnsupportedKeyword(_) | UnknownKeyword(_) => {
                "leave it out; supported: host, port, user, password, dbname, sslmode, \
                 sslrootcert, sslcert, sslkey, application_name, connect_timeout (a value with \
                 spaces goes in single quotes)"
            }
            UnclosedQuote => "close the quote; a `'` inside a quoted value is written \\'",
            UnreadableFile { .. } => "name a file that exists and that this user can read",
        }
    }
}

/// A delimiter's name (the character itself would be read as part of a URL by redaction).
fn char_name(c: char) -> &'static str {
    match c {
        '@' => "at-sign",
        '/' => "slash",
        '#' => "hash",
        '?' => "question mark",
        _ => "space",
    }
}

impl From<ConnInfoErrorKind> for ConnInfoError {
    fn from(kind: ConnInfoErrorKind) -> Self {
        ConnInfoError { kind }
    }
}

/// libpq keywords the harness knows but does not support: named in the error (they are
/// libpq's words, never a piece of a password).
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "hostaddr",
    "passfile",
    "require_auth",
    "channel_binding",
    "options",
    "client_encoding",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslnegotiation",
    "sslcompression",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

/// Whether `text` starts like a URL of another scheme (`mysql://...`): refused as an
/// unknown form instead of being read as key=value pairs.
fn starts_with_other_scheme(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// What percent-encoding leaves alone in the text it writes: RFC 3986's unreserved characters.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl PgConnInfo {
    /// Parses a connection string in either of libpq's forms.
    pub fn parse(text: &str) -> Result<Self, ConnInfoError> {
        let mut fields = Fields::default();
        let trimmed = text.trim();
        if let Some(rest) = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|scheme| strip_prefix_ignore_case(trimmed, scheme))
        {
            parse_url(rest, &mut fields)?;
        } else if trimmed.contains('=') && !starts_with_other_scheme(trimmed) {
            // libpq's rule: anything not starting with its URL schemes is key=value pairs,
            // even with `://` inside (`password=a://b`).
            parse_pairs(trimmed, &mut fields)?;
        } else {
            return Err(ConnInfoErrorKind::UnknownForm.into());
        }
        fields.finish()
    }

    /// `postgres://user:password@host:port/database`, from its parts.
    pub fn from_parts(user: &str, password: &Secret, host: &str, port: u16, db: &str) -> Self {
        PgConnInfo {
            host: host.into(),
            port,
            user: user.into(),
            password: Some(password.clone()),
            dbname: db.into(),
            sslmode: SslMode::default(),
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            application_name: None,
            connect_timeout: None,
        }
    }

    /// The same server, credentials and settings; another database.
    pub fn with_database(&self, db: &str) -> PgConnInfo {
        PgConnInfo {
            dbname: db.into(),
            ..self.clone()
        }
    }

    /// The database connected to (libpq's default: the user's name).
    pub fn database(&self) -> &str {
        &self.dbname
    }

    /// The host (a name, an address, or a Unix-socket folder).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password, if the string holds one.
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// `sslmode`.
    pub fn ssl_mode(&self) -> SslMode {
        self.sslmode
    }

    /// Whether TLS is demanded (`sslmode` `require`, `verify-ca` or `verify-full`).
    pub fn requires_tls(&self) -> bool {
        matches!(
            self.sslmode,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }

    /// `host:port` of the server (`[addr]:port` for IPv6), as connected to.
    pub fn server(&self) -> String {
        format!("{}:{}", display_host(&self.host), self.port)
    }

    /// Checks that the files it names can be read, so that a wrong path is the user's input
    /// error, not an unreachable database.
    pub fn check_files(&self) -> Result<(), ConnInfoError> {
        for (keyword, path) in [
            ("sslrootcert", &self.sslrootcert),
            ("sslcert", &self.sslcert),
            ("sslkey", &self.sslkey),
        ] {
            if let Some(path) = path {
                std::fs::File::open(path).map_err(|e| ConnInfoErrorKind::UnreadableFile {
                    keyword,
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        Ok(())
    }

    /// The options sqlx connects with: exactly these fields, nothing from `~/.pgpass`.
    pub fn connect_options(&self) -> PgConnectOptions {
        let mut options = PgConnectOptions::new_without_pgpass()
            .username(&self.user)
            .database(&self.dbname)
            .port(self.port)
            .ssl_mode(match self.sslmode {
                SslMode::Disable => PgSslMode::Disable,
                SslMode::Allow => PgSslMode::Allow,
                SslMode::Prefer => PgSslMode::Prefer,
                SslMode::Require => PgSslMode::Require,
                SslMode::VerifyCa => PgSslMode::VerifyCa,
                SslMode::VerifyFull => PgSslMode::VerifyFull,
            });
        options = if self.host.starts_with('/') {
            options.socket(&self.host)
        } else {
            options.host(&self.host)
        };
        if let Some(password) = &self.password {
            options = options.password(password.expose());
        }
        if let Some(path) = &self.sslrootcert {
            options = options.ssl_root_cert(path);
        }
        if let (Some(cert), Some(key)) = (&self.sslcert, &self.sslkey) {
            options = options.ssl_client_cert(cert).ssl_client_key(key);
        }
        if let Some(name) = &self.application_name {
            options = options.application_name(name);
        }
        options
    }

    /// `connect_timeout`, if given.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
            .map(|s| Duration::from_secs(u64::from(s)))
    }

    /// The string as a URL with the password as `***`: what is shown is what is connected to.
    pub fn redacted(&self) -> String {
        self.to_url(|_| "***".into())
    }

    /// The string as a URL with its password, for the one place that must store it (a kept
    /// stack's state file, readable by its owner only).
    pub fn exposed_url(&self) -> Secret {
        Secret::new(self.to_url(|p| encode(p.expose())))
    }

    fn to_url(&self, password: impl Fn(&Secret) -> String) -> String {
        let mut url = format!("postgres://{}", encode(&self.user));
        if let Some(p) = &self.password {
            url.push(':');
            url.push_str(&password(p));
        }
        let host = if self.host.starts_with('/') {
            encode(&self.host)
        } else {
            display_host(&self.host)
        };
        url.push_str(&format!("@{host}:{}/{}", self.port, encode(&self.dbname)));
        let mut params = Vec::new();
        if self.sslmode != SslMode::default() {
            params.push(("sslmode", self.sslmode.to_string()));
        }
        for (key, path) in [
            ("sslrootcert", &self.sslrootcert),
            ("sslcert", &self.sslcert),
            ("sslkey", &self.sslkey),
        ] {
            if let Some(path) = path {
                params.push((key, path.display().to_string()));
            }
        }
        if let Some(name) = &self.application_name {
            params.push(("application_name", name.clone()));
        }
        if let Some(s) = self.connect_timeout {
            params.push(("connect_timeout", s.to_string()));
        }
        for (i, (key, value)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{key}={}", encode(value)));
        }
        url
    }

    /// `text` (e.g. a driver's error message) with this string's password, in every form it
    /// may be echoed in (as is, percent-encoded), replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let Some(password) = self.password.as_ref().map(Secret::expose) else {
            return text.to_string();
        };
        if password.is_empty() {
            return text.to_string();
        }
        let mut forms = [password.to_string(), encode(password)];
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms
            .iter()
            .fold(text.to_string(), |text, form| text.replace(form, "***"))
    }
}

impl fmt::Debug for PgConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgConnInfo({})", self.redacted())
    }
}

impl fmt::Display for PgConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::str::FromStr for PgConnInfo {
    type Err = ConnInfoError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        PgConnInfo::parse(text)
    }
}

/// Stored as its URL with the password (see [`PgConnInfo::exposed_url`]).
impl serde::Serialize for PgConnInfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.exposed_url().expose())
    }
}

impl<'de> serde::Deserialize<'de> for PgConnInfo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PgConnInfo::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODED).to_string()
}

fn display_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

mod parse;
use parse::{parse_pairs, parse_url, Fields};

#[cfg(test)]
mod tests;
