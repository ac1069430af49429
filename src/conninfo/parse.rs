//! libpq's two forms read into [`Fields`], then checked and given libpq's defaults.

use super::{ConnInfoError, ConnInfoErrorKind, PgConnInfo, SslMode, UNSUPPORTED_KEYWORDS};
use crate::secret::Secret;
use percent_encoding::percent_decode_str;
use std::path::PathBuf;

/// Percent-decoding as libpq does it: a `%` must start two hex digits, and the result must
/// be text.
fn decode(text: &str) -> Result<String, ConnInfoErrorKind> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        {
            return Err(ConnInfoErrorKind::BadPercentEncoding);
        }
    }
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ConnInfoErrorKind::BadPercentEncoding)
}

/// The fields as they are being read; [`Fields::finish`] applies libpq's defaults.
#[derive(Default)]
pub(super) struct Fields {
    host: Option<String>,
    port: Option<String>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    sslcert: Option<String>,
    sslkey: Option<String>,
    application_name: Option<String>,
    connect_timeout: Option<String>,
}

impl Fields {
    /// Sets a keyword's value; `position` (1-based) names an unknown keyword without quoting it.
    fn set(
        &mut self,
        keyword: &str,
        value: String,
        position: usize,
    ) -> Result<(), ConnInfoErrorKind> {
        let slot = match keyword {
            "host" => &mut self.host,
            "port" => &mut self.port,
            "user" => &mut self.user,
            "password" => &mut self.password,
            "dbname" => &mut self.dbname,
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "sslcert" => &mut self.sslcert,
            "sslkey" => &mut self.sslkey,
            "application_name" => &mut self.application_name,
            "connect_timeout" => &mut self.connect_timeout,
            other => {
                return Err(match UNSUPPORTED_KEYWORDS.iter().find(|k| **k == other) {
                    Some(known) => ConnInfoErrorKind::UnsupportedKeyword(known),
                    None => ConnInfoErrorKind::UnknownKeyword(position),
                })
            }
        };
        // libpq: the last setting of a keyword wins.
        *slot = Some(value);
        Ok(())
    }

    pub(super) fn finish(self) -> Result<PgConnInfo, ConnInfoError> {
        let host = self
            .host
            .filter(|h| !h.is_empty())
            .ok_or(ConnInfoErrorKind::NoHost)?;
        if host.contains(',') {
            return Err(ConnInfoErrorKind::SeveralHosts.into());
        }
        let user = self
            .user
            .filter(|u| !u.is_empty())
            .ok_or(ConnInfoErrorKind::NoUser)?;
        let port = match self.port.as_deref() {
            None | Some("") => 5432,
            Some(text) => text
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(ConnInfoErrorKind::BadPort)?,
        };
        let sslmode = match self.sslmode.as_deref() {
            None | Some("") => SslMode::default(),
            Some(text) => text.parse().map_err(|_| ConnInfoErrorKind::BadSslMode)?,
        };
        let connect_timeout = match self.connect_timeout.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                text.parse()
                    .map_err(|_| ConnInfoErrorKind::BadConnectTimeout)?,
            ),
        };
        let path = |p: Option<String>| p.filter(|p| !p.is_empty()).map(PathBuf::from);
        let (sslcert, sslkey) = (path(self.sslcert), path(self.sslkey));
        if sslcert.is_some() != sslkey.is_some() {
            return Err(ConnInfoErrorKind::HalfAClientCertificate.into());
        }
        Ok(PgConnInfo {
            dbname: self
                .dbname
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| user.clone()),
            host,
            port,
            user,
            password: self.password.map(Secret::new),
            sslmode,
            sslrootcert: path(self.sslrootcert),
            sslcert,
            sslkey,
            application_name: self.application_name,
            connect_timeout,
        })
    }
}

/// `user:password@host:port/dbname?key=value&...` (after the scheme), libpq's URI form.
pub(super) fn parse_url(rest: &str, fields: &mut Fields) -> Result<(), ConnInfoErrorKind> {
    if rest.contains('#') {
        return Err(ConnInfoErrorKind::RawInUrl('#'));
    }
    if rest.chars().any(char::is_whitespace) {
        return Err(ConnInfoErrorKind::RawInUrl(' '));
    }
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = location.split_once('/').unwrap_or((location, ""));
    // libpq reads the user part up to the first `@`; a second `@`, or one after the first
    // `/`, means a password with a raw `@` or `/`, whose end parsers disagree about.
    let (userinfo, hostspec) = match authority.split_once('@') {
        Some((userinfo, hostspec)) => (Some(userinfo), hostspec),
        None => (None, authority),
    };
    if hostspec.contains('@') {
        return Err(ConnInfoErrorKind::RawInUrl('@'));
    }
    if path.contains('@') {
        return Err(ConnInfoErrorKind::RawInUrl('/'));
    }
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        fields.user = Some(decode(user)?);
        fields.password = password.map(decode).transpose()?;
    }
    let (host, port) = if let Some(v6) = hostspec.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(ConnInfoErrorKind::NoHost)?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or(ConnInfoErrorKind::BadPort)?),
            ),
        }
    } else {
        match hostspec.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostspec, None),
        }
    };
    fields.host = Some(decode(host)?);
    fields.port = port.map(decode).transpose()?;
    if !path.is_empty() {
        fields.dbname = Some(decode(path)?);
    }
    for (i, pair) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or(ConnInfoErrorKind::NotAPair(i + 1))?;
        fields.set(&decode(key)?, decode(value)?, i + 1)?;
    }
    Ok(())
}

/// `keyword = value ...`, libpq's key=value form: whitespace around `=` allowed; a value is
/// single-quoted when it is empty or holds spaces, `\'` and `\\` escape in either kind.
pub(super) fn parse_pairs(text: &str, fields: &mut Fields) -> Result<(), ConnInfoErrorKind> {
    let mut chars = text.chars().peekable();
    let mut position = 0;
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(());
        }
        position += 1;
        let mut keyword = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            keyword.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if keyword.is_empty() || chars.next() != Some('=') {
            return Err(ConnInfoErrorKind::NotAPair(position));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(ConnInfoErrorKind::UnclosedQuote),
                    Some('\'') => break,
                    Some('\\') => value.push(chars.next().ok_or(ConnInfoErrorKind::UnclosedQuote)?),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        fields.set(&keyword, value, position)?;
    }
}
