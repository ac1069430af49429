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
        let (credentials, host) = self.split();
        let (location, query) = match host.split_once('?') {
            Some((location, query)) => (location, Some(query)),
            None => (host, None),
        };
        let authority = location.split('/').next().unwrap_or_default();
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        DbUrl(format!("{credentials}{authority}/{db}{query}"))
    }

    /// The database named in the URL, if any.
    pub fn database(&self) -> Option<String> {
        let (_, host) = self.split();
        let location = host.split('?').next().unwrap_or_default();
        let db = location.split_once('/').map(|(_, db)| db)?;
        (!db.is_empty()).then(|| db.to_string())
    }

    /// Whether the URL demands TLS (`sslmode=require`, `verify-ca` or `verify-full`).
    pub fn requires_tls(&self) -> bool {
        let (_, host) = self.split();
        host.split_once('?').is_some_and(|(_, query)| {
            query.split('&').any(|pair| {
                matches!(
                    pair.split_once('='),
                    Some(("sslmode", "require" | "verify-ca" | "verify-full"))
                )
            })
        })
    }

    /// `host:port` of the server (port 5432 when the URL names none).
    pub fn server(&self) -> String {
        let (_, host) = self.split();
        let authority = host.split(['/', '?']).next().unwrap_or_default();
        if authority.contains(':') && !authority.ends_with(']') {
            authority.to_string()
        } else {
            format!("{authority}:5432")
        }
    }

    /// `(scheme and credentials, host and the rest)`, split where [`redact_url`] splits: the
    /// last `@` (a password may hold `@` and `/` unencoded, and a URL parser would take what
    /// follows them for the host), or after the scheme when there is no `@`. In the form
    /// that passes credentials as parameters (`?user=..&password=..`), the split is before
    /// the parameters, whose values may hold `@` too.
    fn split(&self) -> (&str, &str) {
        let raw = self.0.as_str();
        let after_scheme = split_scheme(raw).0.len();
        let searched = if password_values(raw).is_empty() {
            raw
        } else {
            &raw[..raw.find('?').unwrap_or(raw.len())]
        };
        match searched[after_scheme..].rfind('@') {
            Some(at) => raw.split_at(after_scheme + at + 1),
            None => raw.split_at(after_scheme),
        }
    }

    /// The URL with its password, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***` (see [`redact_url`]: no URL parser is
    /// trusted to find it).
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }

    /// `text` (e.g. a driver's error message) with anything that may be this URL's password,
    /// or the URL itself, replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(&self.0, &self.redacted());
        for piece in password_pieces(&self.0) {
            text = text.replace(&piece, "***");
        }
        text
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

/// Redacts the credentials of a URL-ish string without trusting a URL parser (hostile or
/// generated passwords hold `@`, `/`, `:`, `#`, `?`, which make parsers disagree about where
/// the password ends): everything between `://` and the *last* `@` except a user name before
/// the first `:` becomes `***`, and so does the value of every `password=` parameter (URL
/// query or libpq keyword form). Over-redacting is fine; showing a password is not.
pub fn redact_url(raw: &str) -> String {
    // Parameters first: a password value may itself hold an `@`.
    let params_redacted = redact_password_params(raw);
    let raw = params_redacted.as_str();
    let (scheme, rest) = split_scheme(raw);
    let rest = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            // A user name is shown only when it is plainly one (no password may hide in it).
            let user = if userinfo.contains(':') && is_plain(user) {
                format!("{user}:***")
            } else {
                "***".to_string()
            };
            format!("{user}@{}", &rest[at + 1..])
        }
        None => rest.to_string(),
    };
    format!("{scheme}{rest}")
}

/// `(scheme://, rest)`, the scheme empty when there is none. A scheme only when what precedes
/// `://` is one (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`): a password may
/// hold `://` itself (`user:pass://@host` has no scheme).
fn split_scheme(raw: &str) -> (&str, &str) {
    let is_scheme = |text: &str| {
        let mut chars = text.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    match raw.find("://") {
        Some(i) if is_scheme(&raw[..i]) => raw.split_at(i + 3),
        _ => ("", raw),
    }
}

fn is_plain(user: &str) -> bool {
    !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Where the values of `password=...` (any case, also `sslpassword=`) are: up to `&`,
/// whitespace or the end.
fn password_values(text: &str) -> Vec<std::ops::Range<usize>> {
    // ASCII lowercasing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut values = Vec::new();
    let mut i = 0;
    while let Some(found) = lower[i..].find("password=") {
        let start = i + found + "password=".len();
        let end = text[start..]
            .find(|c: char| c == '&' || c.is_whitespace())
            .map_or(text.len(), |e| start + e);
        values.push(start..end);
        i = end;
    }
    values
}

/// Every `password=` value replaced by `***`.
fn redact_password_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    for value in password_values(text) {
        out.push_str(&text[i..value.start]);
        out.push_str("***");
        i = value.end;
    }
    out.push_str(&text[i..]);
    out
}

/// Free text (an argument parser's error, a message quoting user input) with every word that
/// may carry a credential redacted by [`redact_url`]: words with a userinfo `@` or a
/// `password=`. A quoted stretch ('...', "...", `...`) is one word whatever it holds (a
/// password may contain spaces); elsewhere words end at whitespace.
pub fn redact_text(text: &str) -> String {
    fn word(w: &str) -> String {
        if w.contains('@') || w.to_ascii_lowercase().contains("password=") {
            redact_url(w)
        } else {
            w.to_string()
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = c.len_utf8();
        if matches!(c, '\'' | '"' | '`') {
            if let Some(end) = rest[len..].find(c) {
                out.push(c);
                out.push_str(&word(&rest[len..len + end]));
                out.push(c);
                rest = &rest[len + end + len..];
                continue;
            }
            // An unclosed quote: the rest is one word.
            out.push(c);
            out.push_str(&word(&rest[len..]));
            break;
        }
        if c.is_whitespace() {
            out.push(c);
            rest = &rest[len..];
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`'))
            .unwrap_or(rest.len());
        out.push_str(&word(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

/// `text` with every credential that `inputs` (e.g. the command line) carry replaced by
/// `***`: exact, whatever the shape, because the raw input is known. Then [`redact_text`] for
/// anything else that looks like one.
pub fn scrub_inputs<'a>(text: &str, inputs: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = text.to_string();
    for input in inputs {
        if input.contains('@') || input.to_ascii_lowercase().contains("password=") {
            text = DbUrl::new(input).scrub(&text);
        }
    }
    redact_text(&text)
}

/// The pieces of `raw` that may be a password, by the same rules as [`redact_url`]: the part
/// of the userinfo after the first `:`, its percent-decoded form, and `password=` values.
fn password_pieces(raw: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let (_, rest) = split_scheme(raw);
    if let Some(at) = rest.rfind('@') {
        let userinfo = &rest[..at];
        if let Some((_, password)) = userinfo.split_once(':') {
            pieces.push(password.to_string());
            if let Ok(decoded) = percent_decode(password) {
                pieces.push(decoded);
            }
        }
    }
    pieces.extend(password_values(raw).into_iter().map(|v| raw[v].to_string()));
    pieces.retain(|p| !p.is_empty());
    // Longest first: replacing a short piece inside a longer one would hide the longer one.
    pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
    pieces
}

fn percent_decode(text: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
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
    fn passwords_that_break_url_parsers_are_still_redacted() {
        for (raw, shown) in [
            // Parses as host `u`, port 12: a parser would show the "password" in the path.
            ("postgres://u:12/34@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgres://u:a@b#c@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p w?x@h/db", "postgres://u:***@h/db"),
            (
                "postgres://h/db?user=u&password=s3cr3t&x=1",
                "postgres://h/db?user=u&password=***&x=1",
            ),
            (
                "host=h user=u password=s3cr3t",
                "host=h user=u password=***",
            ),
            ("not a url at all:s3cr3t@h", "***@h"),
        ] {
            assert_eq!(redact_url(raw), shown, "{raw}");
        }
    }

    #[test]
    fn free_text_is_redacted_word_by_word() {
        assert_eq!(
            redact_text("bad value 'postgres://u:p w@h/db' for --port"),
            "bad value 'postgres://u:***@h/db' for --port"
        );
        assert_eq!(
            redact_text("see u:pw@h and password=x&y"),
            "see u:***@h and password=***&y"
        );
        assert_eq!(redact_text("no secrets here"), "no secrets here");
    }

    #[test]
    fn scrub_removes_what_may_be_the_password_from_messages() {
        let url = DbUrl::new("postgres://u:p%40ss@h/db");
        assert_eq!(
            url.scrub("login as u with p@ss (p%40ss) failed"),
            "login as u with *** (***) failed"
        );
    }

    #[test]
    fn scrub_removes_echoed_secrets() {
        let pw = Secret::new("s3cr3t");
        assert_eq!(scrub("auth failed for s3cr3t", &pw), "auth failed for ***");
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        /// Passwords as generated credentials and hostile users write them: every URL
        /// delimiter included. The `PW` mark makes an accidental match elsewhere impossible.
        fn password() -> impl Strategy<Value = String> {
            "[A-Za-z0-9@/:#?%&= !$'()*+,;\\[\\]~._-]{1,24}".prop_map(|p| format!("PW{p}"))
        }

        /// The shapes a secret-bearing database URL arrives in.
        fn shaped(user: &str, password: &str, host: &str, shape: u8) -> String {
            match shape % 4 {
                0 => format!("postgres://{user}:{password}@{host}:5432/temporal"),
                1 => format!("postgresql://{user}:{password}@{host}/db?sslmode=disable"),
                2 => format!("{user}:{password}@{host}"),
                _ => format!("postgres://{host}/db?user={user}&password={password}"),
            }
        }

        proptest! {
            #[test]
            fn no_output_path_shows_the_password(
                user in "[a-z]{1,8}",
                password in password(),
                host in "[a-z]{1,8}(\\.[a-z]{2,3})?",
                shape in any::<u8>(),
            ) {
                // The query form cannot carry `&` or spaces unencoded: those would end the
                // value, so they are not passwords in that shape.
                prop_assume!(shape % 4 != 3 || !password.contains(['&', ' ', '#']));
                let raw = shaped(&user, &password, &host, shape);
                let url = DbUrl::new(raw.clone());
                let echoed = format!("connect to {raw} failed: bad password {password}");
                for shown in [
                    redact_url(&raw),
                    scrub_inputs(&format!("error: unexpected argument '{raw}' found"), [raw.as_str()]),
                    url.to_string(),
                    format!("{url:?}"),
                    url.redacted(),
                    url.scrub(&echoed),
                    url.with_database("other").to_string(),
                ] {
                    prop_assert!(!shown.contains(&password), "{shown} shows {password}");
                    // Nor a tail of it (a parser that split the password at a delimiter
                    // would show what follows), unless that text is elsewhere in the input.
                    let tail: String = password.chars().rev().take(5).collect::<Vec<_>>()
                        .into_iter().rev().collect();
                    if password.len() >= 8 && !raw.replace(&password, "").contains(&tail)
                        && !echoed.replace(&password, "").contains(&tail)
                    {
                        prop_assert!(!shown.contains(&tail), "{shown} shows {tail} of {password}");
                    }
                }
            }
        }
    }
}
