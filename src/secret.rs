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

/// Where the values of `password=...` (any case, also `sslpassword=`) are: a single-quoted
/// value to its closing quote (libpq's key=value form), otherwise up to whitespace or the end.
/// In a URL query a value ends at `&`, but in the key=value form `&` is part of it: going on
/// to the whitespace over-redacts a URL's next parameters, never shows a password.
fn password_values(text: &str) -> Vec<std::ops::Range<usize>> {
    // ASCII lowercasing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut values = Vec::new();
    let mut i = 0;
    while let Some(found) = lower[i..].find("password") {
        let mut start = i + found + "password".len();
        start += text[start..].len() - text[start..].trim_start().len();
        if !text[start..].starts_with('=') {
            i = start;
            continue;
        }
        start += 1;
        start += text[start..].len() - text[start..].trim_start().len();
        let end = if text[start..].starts_with('\'') {
            quoted_end(&text[start..]).map_or(text.len(), |e| start + e)
        } else {
            text[start..]
                .find(char::is_whitespace)
                .map_or(text.len(), |e| start + e)
        };
        values.push(start..end);
        // Past an empty value by one whole character (it may be multi-byte whitespace).
        i = if end > start {
            end
        } else {
            start + text[start..].chars().next().map_or(0, char::len_utf8)
        };
    }
    values
}

/// The end of a libpq single-quoted value at the start of `text` (after its closing quote).
fn quoted_end(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => return Some(i + 1),
            _ => {}
        }
    }
    None
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
    fn debug_and_display_never_show_the_secret() {
        let pw = Secret::new("hunter2");
        assert_eq!(format!("{pw:?} {pw}"), "*** ***");
        assert_eq!(pw.expose(), "hunter2");
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
                // Over-redacted to the end of the word: in the key=value form `&` is part of it.
                "postgres://h/db?user=u&password=***",
            ),
            (
                "host=h user=u password=s3cr3t",
                "host=h user=u password=***",
            ),
            // libpq's key=value form: `&` is part of a value, a quoted value holds spaces.
            (
                "host=h password=Kx7&Yw2Bq9Vr dbname=t",
                "host=h password=*** dbname=t",
            ),
            (
                r"host=h password = 'Kx7 Yw\'2 Bq9' dbname=t",
                "host=h password = *** dbname=t",
            ),
            ("not a url at all:s3cr3t@h", "***@h"),
            (
                "password=\u{3000}x password=",
                "password=\u{3000}*** password=***",
            ),
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
            "see u:***@h and password=***"
        );
        assert_eq!(redact_text("no secrets here"), "no secrets here");
    }

    #[test]
    fn scrub_removes_echoed_secrets() {
        let pw = Secret::new("s3cr3t");
        assert_eq!(scrub("auth failed for s3cr3t", &pw), "auth failed for ***");
    }
}
