//! A Temporal frontend's address, `host:port`: one parser for the flag, the variable and the
//! file key, so a URL or a typo is refused where it was typed instead of being resolved as a
//! host called `http`.

use super::ConfigError;

/// What a frontend address looks like, for the errors.
const EXPECTED: &str = "the frontend's host:port (e.g. temporal.example.com:7233 or \
                        [::1]:7233), without a scheme: TLS comes from the TLS settings or an \
                        API key, not from https://";

/// Checks that `value` (from `key`: a flag, variable or file key) is `host:port` and returns
/// it trimmed. A scheme, a path, user info, a missing or out-of-range port are refused.
pub fn parse_frontend_address(key: &str, value: &str) -> Result<String, ConfigError> {
    let text = value.trim();
    let invalid = |why: &str| ConfigError::invalid(key, value, &format!("{EXPECTED} ({why})"));
    if let Some((scheme, _)) = text.split_once("://") {
        return Err(invalid(&format!("it starts with the scheme {scheme}://")));
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '?' | '#'))
    {
        return Err(invalid(&format!("it holds {}", describe(c))));
    }
    let (host, port) = match text.strip_prefix('[') {
        // [IPv6]:port
        Some(rest) => match rest.split_once("]:") {
            Some((ip, port)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => (ip, port),
            _ => {
                return Err(invalid(
                    "a bracketed host must be an IPv6 address, then :port",
                ))
            }
        },
        None => match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(invalid("an IPv6 address needs brackets: [addr]:port"))
            }
            Some(pair) => pair,
            None => return Err(invalid("it has no :port")),
        },
    };
    if host.is_empty() {
        return Err(invalid("the host is empty"));
    }
    let bracketed = text.starts_with('[');
    if !bracketed
        && !host
            .chars()
            .all(|c| c.is_alphanumeric() || "-._".contains(c))
    {
        return Err(invalid("the host is not a name or an IP address"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(text.to_string()),
        _ => Err(invalid("the port is not a number from 1 to 65535")),
    }
}

/// A character named in words: free-text redaction of error messages may rewrite the
/// delimiters themselves.
fn describe(c: char) -> String {
    match c {
        '/' => "a slash".into(),
        '@' => "an at-sign".into(),
        '?' => "a question mark".into(),
        '#' => "a hash".into(),
        c if c.is_whitespace() => "whitespace".into(),
        c => format!("the control character U+{:04X}", c as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_frontend_address;

    #[test]
    fn host_port_forms_are_accepted() {
        for ok in [
            "127.0.0.1:7233",
            "temporal.example.com:7233",
            " localhost:7233 ",
            "[::1]:7233",
            "ns.tmprl.cloud:7233",
        ] {
            assert_eq!(
                parse_frontend_address("--temporal-address", ok).unwrap(),
                ok.trim()
            );
        }
    }

    #[test]
    fn urls_and_typos_are_refused_naming_the_input_and_the_cause() {
        for (bad, says) in [
            ("http://127.0.0.1:7233", "scheme http://"),
            ("https://ns.tmprl.cloud:7233", "scheme https://"),
            ("127.0.0.1", "no :port"),
            ("127.0.0.1:0", "from 1 to 65535"),
            ("127.0.0.1:70000", "from 1 to 65535"),
            ("127.0.0.1:port", "from 1 to 65535"),
            (":7233", "host is empty"),
            ("host:7233/path", "a slash"),
            ("user@host:7233", "an at-sign"),
            ("my host:7233", "whitespace"),
            ("::1:7233", "needs brackets"),
            ("[not-v6]:7233", "IPv6 address"),
            ("h\u{1b}st:7233", "control character U+001B"),
            ("", "no :port"),
        ] {
            let err = parse_frontend_address("--temporal-address", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("--temporal-address"), "{bad}: {err}");
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
